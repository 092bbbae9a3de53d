"""Shape ops: reshape, flatten, transpose, broadcast_to. They move elements without changing
them, so each backward moves the gradient back the same way; and `unbroadcast`, the sum that
undoes numpy broadcasting in every broadcasting op's backward. pixel_shuffle, pixel_unshuffle
and channel_shuffle are compositions of reshape and transpose, with no rule of their own."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.value import Value


def unbroadcast(grad, shape: tuple[int, ...]):
    """Sum `grad` (an array or a Value) down to `shape`, undoing numpy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of size 1; each copy
    receives its own gradient, so the input's gradient is their sum over those axes.
    """
    if grad.shape == shape:
        return grad
    lead = len(grad.shape) - len(shape)            # axes that broadcasting prepended
    stretched = tuple(lead + i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=tuple(range(lead)) + stretched).reshape(shape)   # keep the 1s


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether an array of `shape` broadcasts to `target` itself (not to a larger shape)."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


class Reshape(Function):
    """x viewed with a new shape (one dimension may be -1)."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    # reshaping moves no values: the gradient is reshaped back
    def backward(self, grad):
        return grad.reshape(self.in_shape)


class Flatten(Reshape):
    """x (d0, ..., d_{n-1}) -> (d0, ..., d_{s-1}, d_s*...*d_{n-1}) for s = start_dim: a reshape
    whose node records start_dim, so drawings show `Flatten start_dim=1`; backward is Reshape's."""

    def forward(self, x, start_dim):
        self.in_shape = x.shape
        # (d0, ..., d_{s-1}, d_s, ..., d_{n-1}) -> (d0, ..., d_{s-1}, d_s*...*d_{n-1})
        kept = x.shape[:int(start_dim) % max(x.ndim, 1)]
        return x.reshape(kept + (math.prod(x.shape[len(kept):]),))    # no -1: size 0 works


class Transpose(Function):
    """x with its axes permuted: output axis i is input axis axes[i]."""

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    # the inverse permutation puts the gradient's axes back
    def backward(self, grad):
        return grad.transpose(tuple(int(a) for a in np.argsort(self.axes)))


class BroadcastTo(Function):
    """x repeated along new leading axes and axes of size 1, as numpy.broadcast_to."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    # every copy of an element passes its gradient back to it: sum over the copies
    def backward(self, grad):
        return unbroadcast(grad, self.in_shape)


def reshape(x, *shape) -> Value:
    """x with a new shape: reshape(x, 2, 3) or reshape(x, (2, 3)); one dimension may be -1."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    data = x.data if isinstance(x, Value) else np.asarray(x)
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
        raise TypeError(f"reshape: shape {shape} has a non-integer entry; expected ints (one "
                        f"may be -1), e.g. reshape(2, 3)")
    shape = tuple(int(n) for n in shape)
    known = int(np.prod([n for n in shape if n != -1]))
    fits = (shape.count(-1) <= 1 and min(shape, default=0) >= -1
            and (known == data.size if -1 not in shape else known > 0 and data.size % known == 0))
    if not fits:
        raise ValueError(f"reshape: cannot reshape an array of shape {data.shape} ({data.size} "
                         f"elements) into {shape}; expected the same number of elements (at "
                         f"most one -1)")
    return Reshape.apply(x, shape=shape)


def flatten(x, start_dim: int = 0) -> Value:
    """Merge the dimensions from `start_dim` on, as torch.flatten: (N, C, H, W) -> (N*C*H*W,)
    by default, (N, C*H*W) for start_dim=1."""
    shape = x.shape if isinstance(x, Value) else np.shape(x)
    ndim = max(len(shape), 1)                   # a 0-d input flattens to (1,), as in numpy
    is_int = isinstance(start_dim, (int, np.integer)) and not isinstance(start_dim, bool)
    if not is_int or not -ndim <= start_dim < ndim:
        raise ValueError(f"flatten: start_dim {start_dim!r} is out of range for an input of "
                         f"shape {shape}; expected an int with -{ndim} <= start_dim < {ndim}")
    return Flatten.apply(x, start_dim=start_dim)


def transpose(x, *axes) -> Value:
    """x with permuted axes: transpose(x, 0, 2, 1) or transpose(x, (0, 2, 1)); none: reversed."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    shape = x.shape if isinstance(x, Value) else np.shape(x)
    ndim = len(shape)
    if not axes:
        axes = tuple(reversed(range(ndim)))
    ok = all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) and -ndim <= a < ndim
             for a in axes)
    if not ok or sorted(int(a) % ndim for a in axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the {ndim} axes "
                         f"of an array of shape {shape}; expected each of 0..{ndim - 1} once "
                         f"(negative axes count from the end)")
    return Transpose.apply(x, axes=tuple(int(a) % ndim for a in axes))


def broadcast_to(x, shape) -> Value:
    """x repeated to `shape` by numpy's broadcasting rules (new leading axes, 1 -> n)."""
    from_shape = x.shape if isinstance(x, Value) else np.shape(x)
    shape = tuple(shape)
    if not broadcasts_to(from_shape, shape):
        raise ValueError(f"broadcast_to: cannot broadcast shape {from_shape} to {shape}; "
                         f"expected each trailing dimension to be equal or 1")
    return BroadcastTo.apply(x, shape=shape)


def pixel_shuffle(x, upscale_factor: int) -> Value:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) for r = upscale_factor, as torch's pixel_shuffle:
    out[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w]. A reshape, a transpose and a
    reshape, so the gradient goes back through theirs; any leading axes (none: one image)."""
    shape = _shape_of(x)
    r = _checked_factor("pixel_shuffle", "upscale_factor", upscale_factor)
    if len(shape) < 3 or shape[-3] % (r * r):
        raise ValueError(
            f"pixel_shuffle: input of shape {shape} with upscale_factor={r}; expected (*, C*r*r, "
            f"H, W), at least 3 axes with channels (axis -3) divisible by r*r = {r * r}; pass "
            f"the output of a layer with a multiple of {r * r} channels")
    *lead, c, h, w = shape
    k = len(lead)
    x = reshape(x, (*lead, c // (r * r), r, r, h, w))      # (*, C*r*r, H, W) -> (*, C, r, r, H, W)
    x = transpose(x, (*range(k), k, k + 3, k + 1, k + 4, k + 2))   # -> (*, C, H, r, W, r)
    return reshape(x, (*lead, c // (r * r), h * r, w * r))     # -> (*, C, H*r, W*r)


def pixel_unshuffle(x, downscale_factor: int) -> Value:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) for r = downscale_factor, the inverse of
    pixel_shuffle, as torch's pixel_unshuffle: a reshape, a transpose and a reshape."""
    shape = _shape_of(x)
    r = _checked_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if len(shape) < 3 or shape[-2] % r or shape[-1] % r:
        raise ValueError(
            f"pixel_unshuffle: input of shape {shape} with downscale_factor={r}; expected "
            f"(*, C, H*r, W*r), at least 3 axes with height and width divisible by {r}; crop or "
            f"pad the image to a multiple of {r} first (ops.pad, or x[..., :H, :W])")
    *lead, c, h, w = shape
    k = len(lead)
    x = reshape(x, (*lead, c, h // r, r, w // r, r))       # (*, C, H*r, W*r) -> (*, C, H, r, W, r)
    x = transpose(x, (*range(k), k, k + 2, k + 4, k + 1, k + 3))   # -> (*, C, r, r, H, W)
    return reshape(x, (*lead, c * r * r, h // r, w // r))      # -> (*, C*r*r, H, W)


def channel_shuffle(x, groups: int) -> Value:
    """(N, C, *) with the channels regrouped, as torch's channel_shuffle: the C = g*k channels
    read as g groups of k, transposed to k groups of g, so out channel i*g + j is in channel
    j*k + i (ShuffleNet's mixing of grouped convolutions). A reshape, a transpose and a
    reshape."""
    shape = _shape_of(x)
    g = _checked_factor("channel_shuffle", "groups", groups)
    if len(shape) < 3 or shape[1] % g:
        raise ValueError(
            f"channel_shuffle: input of shape {shape} with groups={g}; expected (N, C, *), at "
            f"least 3 axes with C (axis 1) divisible by groups; pass groups dividing the "
            f"channels, as the grouped convolution before it does")
    n, c, *rest = shape
    x = reshape(x, (n, g, c // g, *rest))               # (N, C, *) -> (N, g, C/g, *)
    x = transpose(x, (0, 2, 1, *range(3, len(shape) + 1)))   # -> (N, C/g, g, *)
    return reshape(x, shape)                            # -> (N, C, *)


def _shape_of(x) -> tuple[int, ...]:
    return x.shape if isinstance(x, Value) else np.shape(x)


def _checked_factor(op: str, name: str, value) -> int:
    """value as an int >= 1, or a TypeError/ValueError naming the op and the setting."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} is {type(value).__name__} {value!r}; expected an int >= 1")
    if value < 1:
        raise ValueError(f"{op}: {name} is {value}; expected an int >= 1")
    return int(value)
