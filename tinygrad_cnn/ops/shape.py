"""Shape ops: reshape, flatten, transpose. They move elements without changing them, so each
backward moves the gradient back the same way."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function


class Reshape(Function):
    """x viewed with a new shape (one dimension may be -1)."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape an array of shape {x.shape} ({x.size} "
                             f"elements) into {shape}; expected the same number of "
                             f"elements") from None

    # reshaping moves no values: the gradient is reshaped back
    def backward(self, grad):
        return grad.reshape(self.in_shape)


class Flatten(Reshape):
    """x (d0, ..., d_{n-1}) -> (d0, ..., d_{s-1}, d_s*...*d_{n-1}) for s = start_dim: a reshape
    whose node records start_dim, so drawings show `Flatten start_dim=1`; backward is Reshape's."""

    def forward(self, x, start_dim):
        ndim = max(x.ndim, 1)                   # a 0-d input flattens to (1,), as in numpy
        is_int = isinstance(start_dim, (int, np.integer)) and not isinstance(start_dim, bool)
        if not is_int or not -ndim <= start_dim < ndim:
            raise ValueError(f"flatten: start_dim {start_dim!r} is out of range for an input of "
                             f"shape {x.shape}; expected an int with -{ndim} <= start_dim < "
                             f"{ndim}")
        self.in_shape = x.shape
        # (d0, ..., d_{s-1}, d_s, ..., d_{n-1}) -> (d0, ..., d_{s-1}, d_s*...*d_{n-1})
        return x.reshape(x.shape[:int(start_dim) % ndim] + (-1,))


class Transpose(Function):
    """x with its axes permuted (no axes: reversed)."""

    def forward(self, x, axes):
        if not axes:
            axes = tuple(reversed(range(x.ndim)))
        ok = all(isinstance(a, (int, np.integer)) and -x.ndim <= a < x.ndim for a in axes)
        if not ok or sorted(int(a) % x.ndim for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {x.ndim} axes "
                             f"of an array of shape {x.shape}; expected each of "
                             f"0..{x.ndim - 1} once (negative axes count from the end)")
        self.axes = tuple(int(a) % x.ndim for a in axes)
        return x.transpose(self.axes)

    # output axis i is input axis axes[i]; the inverse permutation puts them back
    def backward(self, grad):
        return grad.transpose(np.argsort(self.axes))


def reshape(x, *shape):
    """x with a new shape: reshape(x, 2, 3) or reshape(x, (2, 3)); one dimension may be -1."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, shape=tuple(shape))


def flatten(x, start_dim=1):
    """Merge the dimensions from `start_dim` on: (N, C, H, W) -> (N, C*H*W) for start_dim=1."""
    return Flatten.apply(x, start_dim=start_dim)


def transpose(x, *axes):
    """x with permuted axes: transpose(x, 0, 2, 1) or transpose(x, (0, 2, 1)); none: reversed."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose.apply(x, axes=tuple(axes))
