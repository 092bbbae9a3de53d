"""The default random generator: one seed makes initialisation and shuffling repeatable."""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator used by initialisers and data shuffling; returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator that `manual_seed` last set (fresh OS entropy before any seed)."""
    return _generator
