"""Shared fixtures: `rng`, the tests' only source of randomness."""

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
