"""Reductions over axes: sum, mean, max (axis int, tuple or None; keepdims)."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """`axis` (None, int or tuple of ints, negatives allowed) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axes = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis {axis!r} is a {type(axis).__name__}; expected None, an int "
                        f"or a tuple of ints")
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a!r} is out of range for an array with {ndim} "
                             f"dimensions; expected an int in [{-ndim}, {ndim})")
    normalized = tuple(sorted(int(a) % ndim for a in axes))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: axis {axis!r} names an axis twice; expected distinct axes")
    return normalized


class Sum(Function):
    """Sum over `axis`."""

    def forward(self, x, axis, keepdims):
        self.shape, self.axes = x.shape, normalize_axes("sum", axis, x.ndim)
        self.keepdims = keepdims
        return x.sum(axis=self.axes, keepdims=keepdims)

    # every summed element gets the gradient of its sum: put the reduced axes back, broadcast
    def backward(self, grad):
        if not self.keepdims:
            grad = np.expand_dims(grad, self.axes)
        return np.broadcast_to(grad, self.shape)


class Mean(Function):
    """Mean over `axis`."""

    def forward(self, x, axis, keepdims):
        self.shape, self.axes = x.shape, normalize_axes("mean", axis, x.ndim)
        self.keepdims = keepdims
        self.count = int(np.prod([x.shape[a] for a in self.axes]))
        return x.mean(axis=self.axes, keepdims=keepdims)

    # mean = sum / count, so each averaged element gets grad / count
    def backward(self, grad):
        if not self.keepdims:
            grad = np.expand_dims(grad, self.axes)
        return np.broadcast_to(grad / self.count, self.shape)


class Max(Function):
    """Maximum over `axis`; tied maxima share the gradient equally."""

    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes("max", axis, x.ndim)
        if any(x.shape[a] == 0 for a in self.axes):
            raise ValueError(f"max: input of shape {x.shape} has no elements along axis "
                             f"{axis!r}; expected at least one element to take the maximum of")
        out = x.max(axis=self.axes, keepdims=True)
        self.is_max = x == out
        self.keepdims = keepdims
        return out if keepdims else out.squeeze(self.axes)

    # d max/dx_i = 1/k for each of the k elements equal to the maximum, 0 elsewhere
    def backward(self, grad):
        if not self.keepdims:
            grad = np.expand_dims(grad, self.axes)
        is_max = self.is_max.astype(grad.dtype)        # so a float32 gradient stays float32
        return grad * is_max / is_max.sum(axis=self.axes, keepdims=True)


def sum(x, axis=None, keepdims=False):
    """Sum of x over `axis` (None: all axes)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean of x over `axis` (None: all axes)."""
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum of x over `axis` (None: all axes); tied maxima share the gradient equally."""
    return Max.apply(x, axis=axis, keepdims=keepdims)
