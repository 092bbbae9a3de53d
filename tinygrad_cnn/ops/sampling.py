"""affine_grid and grid_sample: reading images (N, C, H, W) and volumes (N, C, D, H, W) at
arbitrary positions, as PyTorch's, e.g. in a spatial transformer. grid_sample is a composition:
the positions, their neighbours and the blending weights are ops on the grid, and one op of its
own, GatherPixels, reads the input at the neighbours, so every gradient (input, grid, theta, to
every order) comes from the rules of those ops."""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import operator

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import Where, abs, floor, fmod, hardtanh, minimum, rint, where
from tinygrad_cnn.ops.indexing import ScatterAdd
from tinygrad_cnn.ops.resample import CUBIC_A
from tinygrad_cnn.value import Value, as_value, data_of

MODES = ("bilinear", "nearest", "bicubic")
PADDING_MODES = ("zeros", "border", "reflection")
LAYOUTS = {4: "images (N, C, H, W) with a grid (N, H_out, W_out, 2)",
           5: "volumes (N, C, D, H, W) with a grid (N, D_out, H_out, W_out, 3)"}


class GatherPixels(Function):
    """input (N, C, *S) read at whole-number positions, 0 outside it: one float array of
    positions per spatial axis of S, each (N, *OUT) -> (N, C, *OUT)."""

    def forward(self, input, *positions):
        n, c, *sizes = input.shape
        inside = np.ones(positions[0].shape, dtype=bool)       # (N, *OUT); NaN is outside
        for p, size in zip(positions, sizes, strict=True):
            inside &= (p >= 0) & (p < size)
        flat = np.zeros(positions[0].shape, dtype=np.int64)     # row-major, into prod(S)
        for p, size in zip(positions, sizes, strict=True):
            flat = flat * size + np.where(inside, p, 0).astype(np.int64)
        batch = np.arange(n).reshape(n, *[1] * flat.ndim)      # (N, 1, 1, ...)
        channel = np.arange(c).reshape(1, c, *[1] * (flat.ndim - 1))
        self.index = (batch, channel, flat[:, None])            # -> (N, C, *OUT)
        self.inside, self.shape = inside[:, None], input.shape
        self.flat_shape = (n, c, math.prod(sizes))
        return np.where(self.inside, input.reshape(self.flat_shape)[self.index], 0)

    # each output element copies one input element (or is 0 outside): d input scatter-adds
    # grad back to the elements read; the positions are whole numbers, piecewise constant: 0
    def backward(self, grad):
        dinput = None
        if self.needs_input_grad[0]:
            read = Where.run(self.inside, grad, 0)
            dinput = ScatterAdd.run(read, index=self.index, shape=self.flat_shape)
            dinput = dinput.reshape(self.shape)
        needs = self.needs_input_grad[1:]
        # zeros (N, *OUT) made from grad: under create_graph a Value, whose derivatives are 0 too
        zero = Where.run(np.False_, grad, 0).sum(axis=1) if any(needs) else None
        return (dinput, *[zero if need else None for need in needs])


def gather_pixels(input, *positions) -> Value:
    """input (N, C, *S) at whole-number positions: out[n, c, o] = input[n, c, p_1[n, o], ...,
    p_k[n, o]], and 0 where a position lies outside S; one float array (or Value) of positions
    per spatial axis of S, each (N, *OUT) -> (N, C, *OUT). grid_sample's read of the
    neighbours; the positions get a zero gradient."""
    shape, shapes = np.shape(data_of(input)), [np.shape(data_of(p)) for p in positions]
    if (len(shape) != 2 + len(positions) or len(set(shapes)) != 1
            or shapes[0][:1] != shape[:1]):
        raise ValueError(f"gather_pixels: input of shape {shape} with positions of shapes "
                         f"{', '.join(map(str, shapes)) or 'none'}; expected one position array "
                         f"per spatial axis of the input, all of one shape (N, *OUT) with the "
                         f"input's N")
    return GatherPixels.apply(input, *positions)


def affine_grid(theta, size, align_corners: bool = False) -> Value:
    """The sampling grid of a batch of affine maps, as torch.nn.functional.affine_grid: theta
    (N, 2, 3) and size (N, C, H, W) -> grid (N, H, W, 2); theta (N, 3, 4) and size
    (N, C, D, H, W) -> grid (N, D, H, W, 3).

    grid[n, i, j] = theta[n] @ (x_j, y_i, 1): the output pixel's centre in normalised
    coordinates, x_j = -1 + (2j + 1) / W (the pixels' edges at -1 and 1), or
    x_j = -1 + 2j / (W - 1) with align_corners=True (the corner pixels' centres at -1 and 1);
    0 for a size of 1. That is the constant base grid (H*W, 3) times theta^T, so theta's
    gradient is matmul's. The identity theta [[1, 0, 0], [0, 1, 0]] gives a grid with which
    grid_sample returns its input (for the same align_corners).
    """
    theta = as_value(theta)
    spatial = _checked_affine(theta.shape, theta.dtype, size, align_corners)
    n, dims = theta.shape[0], len(spatial)
    axes = [_base_coordinates(length, bool(align_corners)) for length in spatial]
    # (*S, dims + 1): x first (along the last axis), then y (and z), then the 1
    base = np.stack([*np.meshgrid(*axes, indexing="ij")[::-1], np.ones(spatial)], axis=-1)
    base = base.reshape(1, -1, dims + 1).astype(theta.dtype)   # (1, prod(S), dims + 1)
    grid = base @ theta.transpose(0, 2, 1)                      # (N, prod(S), dims)
    return grid.reshape(n, *spatial, dims)


def _base_coordinates(length: int, align_corners: bool) -> np.ndarray:
    """The normalised coordinates of `length` pixel centres: -1 .. 1 with aligned corners, else
    that times (length - 1) / length; [0] for one pixel. numpy's linspace: PyTorch's rounds
    some of them differently, by a unit in the last place (how, depends on the CPU's vector
    width), which moves no output but can change which side of a pixel centre a sample at the
    identity theta lands on, and so which one-sided slope its gradient takes."""
    if length == 1:
        return np.zeros(1)
    steps = np.linspace(-1.0, 1.0, length)
    return steps if align_corners else steps * (length - 1) / length


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool = False) -> Value:
    """input (N, C, H, W) read at the positions of grid (N, H_out, W_out, 2) -> (N, C, H_out,
    W_out), as torch.nn.functional.grid_sample; volumes (N, C, D, H, W) with a grid
    (N, D_out, H_out, W_out, 3) -> (N, C, D_out, H_out, W_out).

    grid[n, i, j] = (x, y) (x along W first, then y; then z along D for volumes) in normalised
    coordinates: -1 and 1 are the outer edges of the first and last pixels, or their centres
    with align_corners=True. Each axis of size L maps g to the pixel coordinate
    p = ((g + 1) L - 1) / 2, or (g + 1)(L - 1) / 2 with aligned corners; then

    - padding_mode "zeros": pixels outside the input read 0; "border": p is clipped to
      [0, L - 1], so outside reads the edge; "reflection": p is reflected at the edges (or at
      the corner pixels' centres with aligned corners) until it lands inside, then clipped;
    - mode "bilinear": the output blends the 2 (volumes: 2 per axis, 8) pixels around p,
      p_0 = floor(p) with weight 1 - t and p_0 + 1 with t = p - p_0, per axis multiplied;
      "nearest": it takes the pixel at rint(p) (a half rounds to even, as PyTorch);
      "bicubic" (images only): it blends the 4 x 4 pixels around p with the cubic convolution
      weights (a = -0.75, as interpolate's), padding each pixel's position rather than p.

    Gradients: the input's scatter-adds (GatherPixels); the grid's come from the weights, with
    d t / d p = 1, and from the padding: the clip's is 0 outside and on [0, L - 1]'s ends, the
    reflection's +-1, as PyTorch's; "nearest" gives the grid a zero gradient.

    A NaN grid coordinate reads NaN (bilinear, bicubic) or 0 (nearest), and so does an
    infinite one under "reflection"; PyTorch's kernels agree under "zeros" padding, but under
    "border" (NaN) and "reflection" (NaN, infinity) they read the first pixel instead.

    Raises
    ------
    ValueError
        For an unknown mode or padding_mode, an input that is not (N, C, H, W) or
        (N, C, D, H, W), or a grid whose shape does not fit it (both shapes named).
    TypeError
        For an input or grid that is not floating point, or the two of different dtypes.
    """
    _check_settings(mode, padding_mode, align_corners)
    input_shape, grid_shape = np.shape(data_of(input)), np.shape(data_of(grid))
    _check_shapes(input_shape, grid_shape)
    if mode == "bicubic" and len(input_shape) == 5:
        raise ValueError(f"grid_sample: mode 'bicubic' on a volume input of shape {input_shape}; "
                         f"expected images (N, C, H, W) for bicubic, as PyTorch's; sample "
                         f"volumes with 'bilinear' (trilinear there) or 'nearest'")
    _check_dtypes(np.asarray(data_of(input)).dtype, np.asarray(data_of(grid)).dtype)
    x, grid = as_value(input), as_value(grid)
    spatial = input_shape[2:]
    # grid[..., 0] is x, along the last axis: the coordinates come in the axes' reverse order
    coordinates = [_unnormalised(grid[..., k], length, bool(align_corners))
                   for k, length in enumerate(reversed(spatial))][::-1]
    if mode == "bicubic":
        return _bicubic(x, coordinates, padding_mode, bool(align_corners))
    coordinates = [_padded(p, length, padding_mode, bool(align_corners))
                   for p, length in zip(coordinates, spatial, strict=True)]
    if mode == "nearest":
        return gather_pixels(x, *[rint(p) for p in coordinates])
    return _bilinear(x, coordinates)


def _bilinear(x: Value, coordinates: list[Value]) -> Value:
    """Bilinear (trilinear for volumes) sampling at the padded pixel coordinates, one per
    spatial axis: the sum over the corners of the cell around p of x at the corner times the
    product of its weights along the axes, 1 - t for the lower neighbour and t for the upper."""
    neighbours, weights = [], []          # per axis: the 2 pixels around p, their weights
    for p in coordinates:
        low = floor(p)
        t = p - low                          # in [0, 1): the upper neighbour's weight
        neighbours.append((low, low + 1))
        weights.append((1 - t, t))
    out = None
    for corner in itertools.product((0, 1), repeat=len(coordinates)):   # (0, 0), (0, 1), ...
        positions = [pair[k] for pair, k in zip(neighbours, corner, strict=True)]
        factors = [pair[k] for pair, k in zip(weights, corner, strict=True)]
        weight = functools.reduce(operator.mul, factors)        # the product over the axes
        term = gather_pixels(x, *positions) * weight[:, None]    # (N, 1, *OUT): every channel
        out = term if out is None else out + term
    return out


def _bicubic(x: Value, coordinates: list[Value], padding_mode: str,
             align_corners: bool) -> Value:
    """Bicubic sampling of images, as PyTorch's: along each axis the 4 pixels p_0 - 1 .. p_0 + 2
    around p (p_0 = floor(p), t = p - p_0), weighted by the cubic convolution kernel at their
    distances t + 1, t, 1 - t, 2 - t; each pixel position, not p, is padded (so only the
    weights depend on the grid). Rows first: out = sum_i w_y[i] sum_j w_x[j] x[y_i, x_j]."""
    (rows, row_weights), (columns, column_weights) = [
        _cubic_taps(p, length, padding_mode, align_corners)
        for p, length in zip(coordinates, x.shape[2:], strict=True)]
    column_weights = [w[:, None] for w in column_weights]       # (N, 1, *OUT): every channel
    out = None
    for y, w_y in zip(rows, row_weights, strict=True):
        row = None
        for x_position, w_x in zip(columns, column_weights, strict=True):
            term = gather_pixels(x, y, x_position) * w_x
            row = term if row is None else row + term
        out = row * w_y[:, None] if out is None else out + row * w_y[:, None]
    return out


def _cubic_taps(p: Value, length: int, padding_mode: str,
                align_corners: bool) -> tuple[list[Value], list[Value]]:
    """The 4 padded pixel positions around p and their cubic convolution weights (a = -0.75,
    as interpolate's bicubic): W(d) = (a + 2) d^3 - (a + 3) d^2 + 1 for d <= 1 and
    a d^3 - 5a d^2 + 8a d - 4a for 1 < d < 2."""
    low = floor(p)
    t = p - low
    positions = [_padded(low + k, length, padding_mode, align_corners) for k in (-1, 0, 1, 2)]
    a = CUBIC_A
    near = [((a + 2) * d - (a + 3)) * d * d + 1 for d in (t, 1 - t)]
    far = [((a * d - 5 * a) * d + 8 * a) * d - 4 * a for d in (t + 1, 2 - t)]
    return positions, [far[0], near[0], near[1], far[1]]


def _unnormalised(g: Value, length: int, align_corners: bool) -> Value:
    """Normalised coordinates g along an axis of `length` pixels -> pixel coordinates, in
    PyTorch's arithmetic: -1 and 1 are the outer edges of the end pixels, or their centres."""
    if align_corners:
        return (g + 1) * ((length - 1) / 2)
    return (g + 1) * (length / 2) - 0.5


def _padded(p: Value, length: int, padding_mode: str, align_corners: bool) -> Value:
    """Pixel coordinates p brought inside for "border" (clipped to [0, length - 1]) and
    "reflection" (reflected, then clipped); as they are for "zeros"."""
    if padding_mode == "zeros":
        return p
    if padding_mode == "reflection":
        p = _reflect(p, *((0.0, length - 1.0) if align_corners else (-0.5, length - 0.5)))
    # hardtanh: the clip whose gradient is 0 on the ends too, as PyTorch's clip_coordinates
    return hardtanh(p, 0.0, length - 1.0)


def _reflect(p: Value, low: float, high: float) -> Value:
    """p mirrored at low and high until it lies in [low, high]: a triangle wave of period
    2 span (span = high - low) and slope +-1, in PyTorch's arithmetic: the distance from low,
    folded into one period, then mirrored back if it passed high (at the mirror itself the
    minimum splits the gradient, but the clip that follows zeroes it there anyway)."""
    span = high - low
    if span == 0:                   # one pixel with aligned corners: everything is its centre
        return where(np.False_, p, low)
    folded = fmod(abs(p - low), 2 * span)             # in [0, 2 span)
    return minimum(folded, 2 * span - folded) + low


def _check_settings(mode, padding_mode, align_corners) -> None:
    if mode not in MODES:
        raise ValueError(f"grid_sample: mode {mode!r}; expected one of "
                         f"{', '.join(map(repr, MODES))}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"grid_sample: padding_mode {padding_mode!r}; expected one of "
                         f"{', '.join(map(repr, PADDING_MODES))}")
    if not _is_flag(align_corners):
        raise TypeError(f"grid_sample: align_corners={align_corners!r}; expected False or True")


def _check_shapes(input_shape: tuple[int, ...], grid_shape: tuple[int, ...]) -> None:
    rank = len(input_shape)
    if rank not in LAYOUTS:
        raise ValueError(f"grid_sample: input of shape {input_shape}; expected "
                         f"{' or '.join(LAYOUTS.values())}; add a batch axis with x[None] for "
                         f"one image")
    dims = rank - 2
    if len(grid_shape) != rank or grid_shape[0] != input_shape[0] or grid_shape[-1] != dims:
        out_axes = ", ".join(("D_out", "H_out", "W_out")[-dims:])
        raise ValueError(f"grid_sample: grid of shape {grid_shape} does not fit input of shape "
                         f"{input_shape}; expected a grid (N, {out_axes}, {dims}) with "
                         f"N = {input_shape[0]}, the input's batch, and {dims} coordinates "
                         f"(x, y{', z' * (dims == 3)}) per position")
    if 0 in input_shape[2:]:
        raise ValueError(f"grid_sample: input of shape {input_shape} has no pixels along a "
                         f"spatial axis; expected spatial sizes >= 1")


def _check_dtypes(input_dtype: np.dtype, grid_dtype: np.dtype) -> None:
    for name, dtype in (("input", input_dtype), ("grid", grid_dtype)):
        if dtype.kind != "f":
            raise TypeError(f"grid_sample: {name} has dtype {dtype}; expected a float dtype, "
                            f"e.g. {name}.astype(np.float32)")
    if input_dtype != grid_dtype:
        raise TypeError(f"grid_sample: input has dtype {input_dtype} but grid has {grid_dtype}; "
                        f"expected the same dtype (as PyTorch); convert the grid with "
                        f"grid.astype(np.{input_dtype.name})")


def _checked_affine(theta_shape, theta_dtype, size, align_corners) -> tuple[int, ...]:
    """The spatial sizes of `size`, after checking it, theta and align_corners."""
    if not _is_flag(align_corners):
        raise TypeError(f"affine_grid: align_corners={align_corners!r}; expected False or True")
    if (not isinstance(size, (tuple, list)) or len(size) not in (4, 5)
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_))
                       and s >= 1 for s in size)):
        raise ValueError(f"affine_grid: size={size!r}; expected the output's shape (N, C, H, W) "
                         f"or (N, C, D, H, W), ints >= 1, e.g. x.shape")
    dims = len(size) - 2
    expected = (size[0], dims, dims + 1)
    if tuple(theta_shape) != expected:
        fix = ""
        if tuple(theta_shape) == expected[1:]:
            fix = "; for one matrix, add the batch axis: theta[None]"
        elif tuple(theta_shape) == (size[0], dims + 1, dims + 1):
            fix = f"; for homogeneous matrices, drop their last row: theta[:, :{dims}]"
        raise ValueError(f"affine_grid: theta of shape {tuple(theta_shape)} does not fit size "
                         f"{tuple(size)}; expected theta {expected}: one {dims} x {dims + 1} "
                         f"affine matrix per batch element{fix}")
    if np.dtype(theta_dtype).kind != "f":
        raise TypeError(f"affine_grid: theta has dtype {theta_dtype}; expected a float dtype, "
                        f"e.g. theta.astype(np.float32)")
    return tuple(int(s) for s in size[2:])


def _is_flag(value) -> bool:
    """True, False or None (PyTorch's default, meaning False); not 1 or 1.0."""
    return value is None or isinstance(value, (bool, np.bool_))
