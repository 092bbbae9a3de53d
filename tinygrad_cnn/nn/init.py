"""Initialisers for layer parameters: float32 draws from the default generator (set by
`tc.manual_seed`) or from an explicit `rng`."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.random import generator


def uniform(low: float, high: float, shape: tuple[int, ...],
            rng: np.random.Generator | None = None) -> np.ndarray:
    """U(low, high) samples of the given shape, float32; from `rng`, else the default generator."""
    if not low < high:
        raise ValueError(f"uniform: low={low} is not below high={high}; expected low < high")
    rng = generator(rng)
    return rng.uniform(low, high, size=shape).astype(np.float32)


def fan_in_uniform(shape: tuple[int, ...], fan_in: int,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) samples of the given shape, float32.

    This is PyTorch's default range for both the weights and the biases of Linear and Conv2d:
    weights use kaiming_uniform with a=sqrt(5), whose bound is
    sqrt(3) * sqrt(2 / (1 + a**2)) / sqrt(fan_in) = 1/sqrt(fan_in), and biases use the same bound.
    fan_in is in_features for Linear, in_channels / groups * KH * KW for Conv2d and
    out_channels / groups * KH * KW for ConvTranspose2d (PyTorch takes it from the weight's
    second axis).
    """
    bound = 1.0 / math.sqrt(fan_in)
    return uniform(-bound, bound, shape, rng)
