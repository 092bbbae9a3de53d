"""interpolate: resizing signals (N, C, L) and images (N, C, H, W), as PyTorch's
torch.nn.functional.interpolate, by nearest neighbours or (bi)linearly. No rule of its own:
nearest picks rows and columns (getitem, whose rule scatter-adds the gradient back), linear
multiplies by constant interpolation matrices (matmul), so every gradient comes from those ops'
rules, to every order."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.value import Value, data_of

MODES = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,)}    # mode -> input ranks


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None) -> Value:
    """x (N, C, L) or (N, C, H, W) resized to `size` (an int or one per spatial axis) or by
    `scale_factor` (a number or one per axis; each output size is floor(input size * factor)),
    as torch.nn.functional.interpolate:

    - mode "nearest": output position i takes input position floor(i * s), s = in / out, or
      1 / scale_factor when that was given: PyTorch's rule, with the roundings of its kernels
      (nearest_sources);
    - mode "linear" (N, C, L) and "bilinear" (N, C, H, W): each output position is the blend
      of its two nearest input positions, at source position (i + 0.5) * s - 0.5 (clamped at
      0), or i * (in - 1) / (out - 1) with align_corners=True (the corners' centres aligned).

    Each output element depends on the input linearly, with constant weights: nearest is x at
    the chosen positions, (bi)linear is A_h x A_w^T with the interpolation matrices A. Their
    gradients are getitem's scatter-add and matmul's rule.
    """
    check_settings("interpolate", size, scale_factor, mode, align_corners)
    data = data_of(x)
    shape = np.shape(data)
    if len(shape) not in MODES[mode]:
        layouts = " or ".join({3: "(N, C, L)", 4: "(N, C, H, W)"}[r] for r in MODES[mode])
        other = {3: "; mode 'linear' resizes signals (N, C, L)",
                 4: "; mode 'bilinear' resizes images (N, C, H, W)"}.get(len(shape), "")
        raise ValueError(f"interpolate: input of shape {shape} for mode {mode!r}; expected "
                         f"{layouts}{other}")
    spatial = shape[2:]
    if 0 in spatial:
        raise ValueError(f"interpolate: input of shape {shape} has no elements along a spatial "
                         f"axis; expected spatial sizes >= 1 (there is nothing to resize)")
    if mode != "nearest" and np.asarray(data).dtype.kind != "f":
        raise TypeError(f"interpolate: input has dtype {np.asarray(data).dtype}; mode {mode!r} "
                        f"blends neighbours with fractional weights, so it expects a float "
                        f"input; convert it first, e.g. x.astype(np.float32)")
    sizes, scales = _output_sizes(spatial, size, scale_factor)
    out = x if isinstance(x, Value) else Value(data, requires_grad=False)
    signal = len(shape) == 3
    precision = np.float64 if signal and out.dtype == np.float64 else np.float32
    for axis, (n_in, n_out, scale) in enumerate(zip(spatial, sizes, scales, strict=True), 2):
        if mode == "nearest":
            sources = nearest_sources(n_in, n_out, scale, signal, precision)
            index = (slice(None),) * axis + (sources,)
            out = out[index]
        else:
            weights = linear_weights(n_in, n_out, scale, bool(align_corners), out.dtype)
            out = _along_axis(out, weights, axis)
    return out


def _along_axis(x: Value, weights: np.ndarray, axis: int) -> Value:
    """x with its `axis` (of size n_in) replaced by weights (n_out, n_in) @ that axis."""
    last = x.ndim - 1
    if axis == last:
        return x @ weights.T
    moved = x.transpose(*[a for a in range(x.ndim) if a != axis], axis)   # axis last
    out = moved @ weights.T
    order = list(range(last))
    order.insert(axis, last)
    return out.transpose(*order)


def nearest_sources(n_in: int, n_out: int, scale: float | None, signal: bool,
                    precision) -> np.ndarray:
    """For each output position i, the input position floor(i * s) (at most n_in - 1), with
    s = 1 / scale_factor when one was given, else n_in / n_out, rounded as PyTorch's kernels
    round it, so that the two pick the same positions where i * s lands near an integer
    (14 / 46 * 23 is 7 in float64 but 6.9999995 in float32). Its kernels differ: for images,
    i * s in float32, except that an output of the input's size copies it and one of twice
    its size repeats each position twice, whatever scale_factor gave those sizes; for signals,
    i * s in `precision` (the input's float dtype, at least float32), rounded to float32."""
    if not signal and n_out in (n_in, 2 * n_in):
        return np.arange(n_out) * n_in // n_out
    s = precision(1.0 / scale) if scale is not None else precision(n_in) / precision(n_out)
    positions = (np.arange(n_out, dtype=precision) * s).astype(np.float32)
    return np.minimum(np.floor(positions).astype(np.int64), n_in - 1)


def linear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                   dtype) -> np.ndarray:
    """(n_out, n_in): row i holds the two weights with which output position i blends input
    positions i0 = floor(p) and i0 + 1 (i0 alone at the last one), p its source position:
    p = i (n_in - 1) / (n_out - 1) with align_corners (0 for one output), else
    (i + 0.5) s - 0.5 clamped at 0, s = 1 / scale_factor when one was given, else n_in / n_out."""
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        source = i * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        s = 1.0 / scale if scale is not None else n_in / n_out
        source = np.maximum((i + 0.5) * s - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    frac = source - low
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), low), 1.0 - frac)
    np.add.at(weights, (np.arange(n_out), high), frac)   # the same place as low at the end
    return weights.astype(dtype)


def check_settings(owner: str, size, scale_factor, mode: str, align_corners) -> None:
    """Raise unless the mode is known, align_corners fits it, and exactly one of size (ints >= 1)
    and scale_factor (numbers > 0) is given, each one number or a tuple of them."""
    if mode not in MODES:
        raise ValueError(f"{owner}: mode {mode!r}; expected one of "
                         f"{', '.join(map(repr, MODES))}")
    if align_corners is not None and mode == "nearest":
        raise ValueError(f"{owner}: align_corners is set for mode 'nearest', which has no "
                         f"corners to align; expected align_corners=None (its default) with "
                         f"'nearest', or mode 'linear' or 'bilinear'")
    example = "size=(56, 56) or scale_factor=2"
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{owner}: expected exactly one of size and scale_factor, got "
                         f"{'neither' if size is None else 'both'}; pass e.g. {example}")
    given, name = (size, "size") if size is not None else (scale_factor, "scale_factor")
    values = tuple(given) if isinstance(given, (tuple, list)) else (given,)
    if not values or not all(_valid(v, name) for v in values):
        kind = "ints >= 1" if name == "size" else "finite numbers > 0"
        raise ValueError(f"{owner}: {name}={given!r}; expected {kind}, one for every spatial "
                         f"axis or a tuple with one per axis; pass e.g. {example}")


def _output_sizes(spatial: tuple[int, ...], size, scale_factor
                  ) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    """The output's spatial sizes and the scale factor per axis (None where `size` was given),
    from the checked size or scale_factor: one for every axis, or a tuple with one per axis."""
    n = len(spatial)
    given, name = (size, "size") if size is not None else (scale_factor, "scale_factor")
    values = tuple(given) if isinstance(given, (tuple, list)) else (given,) * n
    if len(values) != n:
        raise ValueError(f"interpolate: {name}={given!r} has {len(values)} entries for an input "
                         f"with {n} spatial ax{'is' if n == 1 else 'es'} {spatial}; expected "
                         f"one number, or {n}")
    if name == "size":
        return tuple(int(v) for v in values), (None,) * n
    sizes = tuple(math.floor(length * float(v)) for length, v in zip(spatial, values,
                                                                       strict=True))
    if min(sizes, default=1) < 1:
        raise ValueError(f"interpolate: scale_factor={given!r} turns the spatial sizes "
                         f"{spatial} into {sizes}; expected every output size >= 1 (each is "
                         f"floor(size * factor)); pass a larger scale_factor or a size")
    return sizes, tuple(float(v) for v in values)


def _valid(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if name == "size":
        return isinstance(value, numbers.Integral) and value >= 1
    return isinstance(value, numbers.Real) and math.isfinite(value) and value > 0
