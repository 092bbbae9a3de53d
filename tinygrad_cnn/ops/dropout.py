"""Dropout: in training, each element is zeroed with probability p and the kept ones are scaled
by 1 / (1 - p), so the expected output equals the input (p = 1 zeroes everything); in
evaluation, the identity. dropout1d, dropout2d and dropout3d zero whole channels instead (one
draw per channel of each sample)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.value import Value


class Dropout(Function):
    """out = x * keep / (1 - p), for a bool mask `keep` (True: the element is kept), any shape;
    keep may also broadcast against x (dropout1d's and dropout2d's (N, C, 1, ...): one per
    channel), and the gradient, grad * keep / (1 - p), then has grad's shape.

    The mask is drawn by `dropout` and passed in, so forward is a plain function of its inputs
    (the same mask gives the same output); it is a bool constant, kept on self for backward.
    p = 1 keeps nothing, and the scale is then 0, not 1 / 0: out = x * 0, as PyTorch's (so an
    infinite element gives NaN there too), and the gradient is 0.
    """

    def forward(self, x, keep, p):
        self.keep, self.scale = keep, (1.0 / (1.0 - p) if p < 1 else 0.0)
        return x * keep * self.scale

    # out = x * keep * scale is linear in x: d out/dx = keep * scale, the same mask scaled
    def backward(self, grad):
        return grad * self.keep * self.scale


def _check_dropout(p, training, fn: str = "dropout") -> None:
    """p is a probability in [0, 1] and training a bool; `fn` names the caller."""
    what = "an element" if fn == "dropout" else "a channel"
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"{fn}: p is {type(p).__name__} {p!r}; expected a probability, a "
                        f"number in [0, 1], e.g. p=0.5")
    if not 0 <= p <= 1:
        raise ValueError(f"{fn}: p is {p}; expected a probability in [0, 1] (the chance "
                         f"that {what} is zeroed), as PyTorch's; pass e.g. p=0.5")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"{fn}: training is {type(training).__name__} {training!r}; "
                        f"expected True or False, e.g. training=self.training in a module")


def dropout(x, p: float = 0.5, training: bool = True) -> Value:
    """Zero each element of x with probability p and scale the rest by 1/(1-p) (training);
    x itself when training is False or p is 0. Any shape -> the same shape.

    The mask is drawn from the default generator (`tc.manual_seed` makes it repeatable): an
    element is kept where a uniform float32 draw in [0, 1) is >= p. As in PyTorch's dropout,
    the scaling keeps every element's expected value: E[out] = (1 - p) * x / (1 - p) = x.
    p = 1 draws nothing and gives x * 0 (zeros, NaN where x is infinite), as PyTorch's.
    """
    _check_dropout(p, training)
    if not training or p == 0:
        return x if isinstance(x, Value) else Value(x, requires_grad=False)
    shape = np.shape(x.data if isinstance(x, Value) else x)
    return Dropout.apply(x, keep=_keep_mask(shape, p), p=float(p))


def dropout1d(x, p: float = 0.5, training: bool = True) -> Value:
    """Zero each channel of each signal with probability p and scale the rest by 1/(1-p)
    (training), as PyTorch's dropout1d: x (N, C, L), or one unbatched signal (C, L), -> the
    same shape; x itself when training is False or p is 0.

    One uniform float32 draw per channel of each sample, (N, C, 1) (or (C, 1) unbatched), from
    the default generator (`tc.manual_seed` makes it repeatable); the channel is kept where it
    is >= p, and the mask broadcasts along L. The op is dropout's, with that mask.
    """
    _check_dropout(p, training, "dropout1d")
    shape = np.shape(x.data if isinstance(x, Value) else x)
    if len(shape) not in (2, 3):
        hint = (f"; for one signal of length {shape[0]} use x.reshape(1, {shape[0]})"
                if len(shape) == 1 else
                "; for images (N, C, H, W) use dropout2d" if len(shape) == 4 else "")
        raise ValueError(f"dropout1d: input has shape {shape}; expected a 3-D input (N, C, L) "
                         f"or a 2-D one (C, L), as PyTorch's{hint}")
    channels = 2 if len(shape) == 3 else 1           # the leading axes that the mask keeps
    return _channel_dropout(x, shape, channels, p, training)


def dropout2d(x, p: float = 0.5, training: bool = True) -> Value:
    """Zero each channel of each image with probability p and scale the rest by 1/(1-p)
    (training), as PyTorch's dropout2d: x (N, C, H, W) -> the same shape; x itself when
    training is False or p is 0.

    One uniform float32 draw per (sample, channel), (N, C, 1, 1), from the default generator;
    the channel is kept where it is >= p. As PyTorch's (whose warnings it gives, in its own
    words): a 3-D input is read as (N, C, L), not as one image (C, H, W), so each of its rows
    is kept or zeroed whole (dropout1d's behaviour); any other input of 2 axes or more is read
    as (N, C, ...), a 2-D one (N, C) thus dropping single elements; 1 axis is an error.
    """
    _check_dropout(p, training, "dropout2d")
    shape = np.shape(x.data if isinstance(x, Value) else x)
    if len(shape) < 2:
        raise ValueError(f"dropout2d: input has shape {shape}; expected a 4-D input (N, C, H, "
                         f"W) (channel dropout needs at least 2 axes, as PyTorch's); use "
                         f"dropout for a 1-D array")
    if len(shape) == 3:
        warnings.warn(f"dropout2d: the 3-D input {shape} is read as (N, C, L), as PyTorch's "
                      f"dropout2d reads it, and each of its (N, C) rows is zeroed whole; for "
                      f"one image (C, H, W) pass x.reshape(1, *x.shape), for signals use "
                      f"dropout1d", UserWarning, stacklevel=2)
    elif len(shape) != 4:
        warnings.warn(f"dropout2d: the {len(shape)}-D input {shape} is read as (N, C, ...), as "
                      f"PyTorch's dropout2d reads it (a use PyTorch deprecates); expected a 4-D "
                      f"input (N, C, H, W); use dropout for elementwise dropout", UserWarning,
                      stacklevel=2)
    return _channel_dropout(x, shape, 2, p, training)


def dropout3d(x, p: float = 0.5, training: bool = True) -> Value:
    """Zero each channel of each volume with probability p and scale the rest by 1/(1-p)
    (training), as PyTorch's dropout3d: x (N, C, D, H, W), or one unbatched volume (C, D, H, W),
    -> the same shape; x itself when training is False or p is 0.

    One uniform float32 draw per (sample, channel), (N, C, 1, 1, 1) (or (C, 1, 1, 1)
    unbatched), from the default generator; the channel is kept where it is >= p. As PyTorch's
    (whose warning it gives, in its own words), any other input of 1 axis or more is read as
    one unbatched example (C, ...): one draw per entry of its first axis (a 1-D input thus drops
    single elements); a 0-d input is an error.
    """
    _check_dropout(p, training, "dropout3d")
    shape = np.shape(x.data if isinstance(x, Value) else x)
    if not shape:
        raise ValueError("dropout3d: input has shape (), a single number; expected a 5-D input "
                         "(N, C, D, H, W) or a 4-D one (C, D, H, W), as PyTorch's; use dropout "
                         "for elementwise dropout")
    if len(shape) not in (4, 5):
        warnings.warn(f"dropout3d: the {len(shape)}-D input {shape} is read as one unbatched "
                      f"example (C, ...), as PyTorch's dropout3d reads it (a use PyTorch "
                      f"deprecates), each entry of its first axis zeroed whole; expected a 5-D "
                      f"input (N, C, D, H, W) or a 4-D one (C, D, H, W); use dropout for "
                      f"elementwise dropout", UserWarning, stacklevel=2)
    channels = 2 if len(shape) == 5 else 1           # the leading axes that the mask keeps
    return _channel_dropout(x, shape, channels, p, training)


def _channel_dropout(x, shape: tuple[int, ...], channels: int, p: float, training: bool) -> Value:
    """x with whole channels dropped: one draw for each entry of the first `channels` axes of
    shape, broadcast along the others; x itself in evaluation or for p = 0."""
    if not training or p == 0:
        return x if isinstance(x, Value) else Value(x, requires_grad=False)
    mask_shape = shape[:channels] + (1,) * (len(shape) - channels)   # (N, C, 1, ...) or (C, 1)
    return Dropout.apply(x, keep=_keep_mask(mask_shape, p), p=float(p))


def _keep_mask(shape: tuple[int, ...], p: float) -> np.ndarray:
    """A bool mask of `shape`, True with probability 1 - p, from the default generator; for
    p = 1 all False, with no draw (PyTorch's dropout draws none either)."""
    if p == 1:
        return np.zeros(shape, dtype=bool)
    # float32 draws: a third of float64's time, and 2^24 levels are plenty for a probability
    return default_generator().random(shape, dtype=np.float32) >= p   # True with prob. 1 - p
