"""interpolate: resizing signals (N, C, L), images (N, C, H, W) and volumes (N, C, D, H, W),
as PyTorch's torch.nn.functional.interpolate, by nearest neighbours, (bi/tri)linearly,
bicubically, by area averages, or with antialiasing filters (bilinear, bicubic, lanczos) that
average over each output cell when shrinking. No rule of its own: nearest picks rows and
columns (getitem, whose rule scatter-adds the gradient back); the other modes multiply each
axis by a constant matrix (matmul), so every gradient comes from those ops' rules, to every
order."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.ops.pool import bin_matrix
from tinygrad_cnn.value import Value, data_of

MODES = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "linear": (3,), "bilinear": (4,),
         "bicubic": (4,), "trilinear": (5,), "area": (3, 4, 5), "lanczos": (4,)}  # -> input ranks
LAYOUTS = {3: "signals (N, C, L)", 4: "images (N, C, H, W)", 5: "volumes (N, C, D, H, W)"}
CORNERED = ("linear", "bilinear", "bicubic", "trilinear")      # the modes with align_corners
CUBIC_A = -0.75           # the cubic convolution's parameter, PyTorch's (and OpenCV's) choice
ANTIALIASED = ("bilinear", "bicubic", "lanczos")   # the modes with antialias=True


def interpolate(x, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Value:
    """x (N, C, L), (N, C, H, W) or (N, C, D, H, W) resized to `size` (an int or one per
    spatial axis) or by `scale_factor` (a number or one per axis; each output size is
    floor(input size * factor)), as torch.nn.functional.interpolate. Along each axis, with
    s = in / out, or 1 / scale_factor when that was given:

    - "nearest": output position i takes input position floor(i * s); "nearest-exact" takes
      floor((i + 0.5) * s), the position whose cell holds the output cell's centre. Both are
      rounded as PyTorch's kernels round them (nearest_sources);
    - "linear" (N, C, L), "bilinear" (N, C, H, W), "trilinear" (N, C, D, H, W): each output
      position blends its two nearest input positions, at source position (i + 0.5) * s - 0.5
      (clamped at 0), or i * (in - 1) / (out - 1) with align_corners=True (the corners'
      centres aligned);
    - "bicubic" (N, C, H, W): the same source position, unclamped, blends four input positions
      with the cubic convolution weights (cubic_weights);
    - "area": each output position is the mean of its bin of input positions, as
      adaptive_avg_pool2d's bins;
    - antialias=True ("bilinear", "bicubic", and "lanczos", which needs it): the filter of the
      mode, widened by s when shrinking, so that each output position averages its whole cell
      of input positions instead of sampling two or four of them (antialiased_weights).

    recompute_scale_factor=True uses scale_factor only for the output's size: s is then
    in / out, as if that size had been given.

    Each output element depends on the input linearly, with constant weights: nearest is x at
    the chosen positions, the others multiply each axis by a matrix A (out, in), e.g.
    A_h x A_w^T for an image. Their gradients are getitem's scatter-add and matmul's rule.
    """
    check_settings("interpolate", size, scale_factor, mode, align_corners, antialias)
    if recompute_scale_factor not in (None, False, True):
        raise TypeError(f"interpolate: recompute_scale_factor={recompute_scale_factor!r}; "
                        f"expected None, False or True")
    if recompute_scale_factor and size is not None:
        raise ValueError("interpolate: recompute_scale_factor=True with size given; expected it "
                         "only with scale_factor, whose output size it recomputes the scale "
                         "from; drop it when passing size")
    data = data_of(x)
    shape = np.shape(data)
    if len(shape) not in MODES[mode]:
        layouts = " or ".join(LAYOUTS[r].split(" ", 1)[1] for r in MODES[mode])
        others = [repr(m) for m, ranks in MODES.items() if ranks == (len(shape),)]
        listed = " and ".join([", ".join(others[:-1]), others[-1]] if len(others) > 1 else others)
        other = (f"; mode{'s' * (len(others) > 1)} {listed} "
                 f"resize{'s' * (len(others) == 1)} {LAYOUTS[len(shape)]}" if others else "")
        raise ValueError(f"interpolate: input of shape {shape} for mode {mode!r}; expected "
                         f"{layouts}{other}")
    spatial = shape[2:]
    if 0 in spatial:
        raise ValueError(f"interpolate: input of shape {shape} has no elements along a spatial "
                         f"axis; expected spatial sizes >= 1 (there is nothing to resize)")
    if not mode.startswith("nearest") and np.asarray(data).dtype.kind != "f":
        raise TypeError(f"interpolate: input has dtype {np.asarray(data).dtype}; mode {mode!r} "
                        f"blends neighbours with fractional weights, so it expects a float "
                        f"input; convert it first, e.g. x.astype(np.float32)")
    sizes, scales = _output_sizes(spatial, size, scale_factor)
    if recompute_scale_factor:
        scales = (None,) * len(sizes)        # s = in / out, from the sizes alone
    out = x if isinstance(x, Value) else Value(data, requires_grad=False)
    images = len(shape) == 4       # PyTorch's image kernel rounds nearest positions its own way
    precision = np.float64 if not images and out.dtype == np.float64 else np.float32
    for axis, (n_in, n_out, scale) in enumerate(zip(spatial, sizes, scales, strict=True), 2):
        if mode.startswith("nearest"):
            sources = nearest_sources(n_in, n_out, scale, mode == "nearest-exact", images,
                                      precision)
            out = out[(slice(None),) * axis + (sources,)]
        elif mode == "area":
            out = _along_axis(out, bin_matrix(n_in, n_out, out.dtype), axis)
        elif antialias:
            weights = antialiased_weights(n_in, n_out, scale, bool(align_corners), mode,
                                          out.dtype)
            out = _along_axis(out, weights, axis)
        else:
            weights = (cubic_weights if mode == "bicubic" else linear_weights)(
                n_in, n_out, scale, bool(align_corners), out.dtype)
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


def nearest_sources(n_in: int, n_out: int, scale: float | None, exact: bool, images: bool,
                    precision) -> np.ndarray:
    """For each output position i, the input position floor(i * s), or floor((i + 0.5) * s)
    when `exact` (at most n_in - 1), with s = 1 / scale_factor when one was given, else
    n_in / n_out, rounded as PyTorch's kernels round it, so that the two pick the same
    positions where the product lands near an integer (14 / 46 * 23 is 7 in float64 but
    6.9999995 in float32). Its kernels differ: for images, the product in float32, and plain
    nearest copies an output of the input's size and repeats each position twice for one of
    twice its size, whatever scale_factor gave those sizes; for signals and volumes, the
    product in `precision` (the input's float dtype, at least float32), rounded to float32."""
    if images and not exact and n_out in (n_in, 2 * n_in):
        return np.arange(n_out) * n_in // n_out
    s = precision(1.0 / scale) if scale is not None else precision(n_in) / precision(n_out)
    positions = np.arange(n_out, dtype=precision) + precision(0.5 if exact else 0.0)
    return np.minimum(np.floor((positions * s).astype(np.float32)).astype(np.int64), n_in - 1)


def input_step(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> float:
    """s, the distance in input positions between two neighbouring output positions:
    (n_in - 1) / (n_out - 1) with align_corners (0 for one output), else 1 / scale_factor when
    one was given (as PyTorch), else n_in / n_out."""
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale is not None else n_in / n_out


def linear_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                   dtype) -> np.ndarray:
    """(n_out, n_in): row i holds the two weights with which output position i blends input
    positions i0 = floor(p) and i0 + 1 (i0 alone at the last one), p its source position:
    p = i (n_in - 1) / (n_out - 1) with align_corners (0 for one output), else
    (i + 0.5) s - 0.5 clamped at 0, s = 1 / scale_factor when one was given, else n_in / n_out."""
    i = np.arange(n_out, dtype=np.float64)
    s = input_step(n_in, n_out, scale, align_corners)
    source = i * s if align_corners else np.maximum((i + 0.5) * s - 0.5, 0.0)
    low = np.minimum(np.floor(source).astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    frac = source - low
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), low), 1.0 - frac)
    np.add.at(weights, (np.arange(n_out), high), frac)   # the same place as low at the end
    return weights.astype(dtype)


def cubic_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                  dtype) -> np.ndarray:
    """(n_out, n_in): row i holds the four weights with which output position i blends input
    positions i0 - 1 .. i0 + 2, i0 = floor(p), p its source position as in linear_weights but
    not clamped; positions outside [0, n_in - 1] read the nearest edge, so their weights add
    up there. With t = p - i0, the weights are the cubic convolution kernel W at distances
    t + 1, t, 1 - t, 2 - t:
        W(d) = (a + 2) d^3 - (a + 3) d^2 + 1          for d <= 1
        W(d) = a d^3 - 5a d^2 + 8a d - 4a             for 1 < d < 2,   a = -0.75,
    which sum to 1 for every t and reproduce the samples where t = 0."""
    i = np.arange(n_out, dtype=np.float64)
    s = input_step(n_in, n_out, scale, align_corners)
    source = i * s if align_corners else (i + 0.5) * s - 0.5
    low = np.floor(source)
    t = (source - low)[:, None]                                  # (n_out, 1)
    d = np.abs(t - np.arange(-1, 3))                             # distances to the four taps
    taps = np.clip(low.astype(np.int64)[:, None] + np.arange(-1, 3), 0, n_in - 1)
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out)[:, None], taps), cubic(d, CUBIC_A))
    return weights.astype(dtype)


def cubic(d: np.ndarray, a: float) -> np.ndarray:
    """The cubic convolution kernel W at distances d >= 0 (zero from 2 on)."""
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


# mode -> (the filter's half-width at s <= 1, the filter at distances d >= 0); PIL's filters,
# which PyTorch's antialiased kernels use: the triangle, the cubic kernel with a = -0.5, and
# Lanczos-3, sinc(d) sinc(d / 3) (np.sinc(d) is sin(pi d) / (pi d))
FILTERS = {"bilinear": (1.0, lambda d: np.maximum(1.0 - d, 0.0)),
           "bicubic": (2.0, lambda d: cubic(d, -0.5)),
           "lanczos": (3.0, lambda d: np.where(d < 3, np.sinc(d) * np.sinc(d / 3), 0.0))}


def antialiased_weights(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                        mode: str, dtype) -> np.ndarray:
    """(n_out, n_in) for antialias=True: row i holds the mode's filter F centred on output
    cell i, at input coordinate c_i = (i + 0.5) s (s as in linear_weights, or
    (n_in - 1) / (n_out - 1) with align_corners), and widened by w = max(s, 1):
        A[i, j] = F((j + 0.5 - c_i) / w) / (sum over j' of the same),
    over the input positions j within the filter's reach, half-width r w around c_i
    (rounded as PyTorch rounds it). Shrinking (s > 1) widens the filter to cover the whole
    output cell, so every input position contributes, which plain sampling misses (aliasing);
    each row sums to 1, so a constant stays constant."""
    s = input_step(n_in, n_out, scale, align_corners)
    half_width, kernel = FILTERS[mode]
    widen = max(s, 1.0)
    reach = half_width * widen
    centre = s * (np.arange(n_out) + 0.5)[:, None]                      # (n_out, 1)
    first = np.maximum((centre - reach + 0.5).astype(np.int64), 0)      # truncated, as C's int()
    stop = np.minimum((centre + reach + 0.5).astype(np.int64), n_in)
    j = np.arange(n_in)
    weights = np.where((j >= first) & (j < stop), kernel(np.abs(j + 0.5 - centre) / widen), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return (weights / np.where(total == 0, 1.0, total)).astype(dtype)


def check_settings(owner: str, size, scale_factor, mode: str, align_corners,
                   antialias: bool = False) -> None:
    """Raise unless the mode is known, align_corners and antialias fit it, and exactly one of
    size (ints >= 1) and scale_factor (numbers > 0) is given, each one number or a tuple of
    them."""
    if mode not in MODES:
        raise ValueError(f"{owner}: mode {mode!r}; expected one of "
                         f"{', '.join(map(repr, MODES))}")
    if antialias not in (False, True):
        raise TypeError(f"{owner}: antialias={antialias!r}; expected False or True")
    if antialias and mode not in ANTIALIASED:
        raise ValueError(f"{owner}: antialias=True for mode {mode!r}; expected one of the modes "
                         f"{', '.join(map(repr, ANTIALIASED))} (on images (N, C, H, W)), or "
                         f"antialias=False")
    if mode == "lanczos" and not antialias:
        raise ValueError(f"{owner}: mode 'lanczos' without antialias; its Lanczos-3 filter "
                         f"runs only as an antialiasing filter; expected "
                         f"ops.interpolate(x, ..., mode='lanczos', antialias=True)")
    if mode == "lanczos" and align_corners:
        raise ValueError(f"{owner}: align_corners=True for mode 'lanczos'; expected "
                         f"align_corners None or False (PyTorch's lanczos has no aligned form)")
    if align_corners is not None and mode not in (*CORNERED, "lanczos"):
        raise ValueError(f"{owner}: align_corners is set for mode {mode!r}, which has no "
                         f"corners to align; expected align_corners=None (its default) with "
                         f"{mode!r}, or one of the modes {', '.join(map(repr, CORNERED))}")
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
