"""numpy functions called on Values: np.exp(x), np.sum(x, axis=0), np.concatenate([x, y]).

numpy hands every call that involves a Value to the Value (the `__array_ufunc__` and
`__array_function__` protocols of NEP 13 and NEP 18), and the Value hands it here. A numpy
function that has an op runs that op, so its result is a Value in the graph: np.exp(x) is
ops.exp(x), and `array + x` is ops.add(array, x). Any other numpy function runs on the data,
as numpy would run on x.data, and returns what numpy returns. When that result holds floats
computed from a Value that requires grad, it would leave the graph without a word, and the
Value would miss that part of its gradient; that is an error instead, which names the function
and what to do.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.function import is_grad_enabled
from tinygrad_cnn.ops.axes import checked_axis
from tinygrad_cnn.value import Value, data_of

# ufuncs with an op of the same name (np.abs is np.absolute, np.pow np.power, np.mod
# np.remainder, np.true_divide np.divide: one table entry each)
_SAME_NAME = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square",
              "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
              "tanh", "arcsinh", "arccosh", "arctanh", "arctan2", "hypot", "logaddexp", "maximum",
              "minimum", "matmul", "floor_divide", "remainder", "fmod", "sign", "floor", "ceil",
              "trunc", "rint")


def _copysign(x1, x2):
    """|x1| with the sign bit of x2 (-0.0 counts as negative, as in numpy): |x1| times a
    constant +-1, so x1 gets sign(x1) * (+-1) as its gradient (0 at x1 = 0, as PyTorch's) and x2,
    which only chooses a sign, none."""
    data1, data2 = data_of(x1), data_of(x2)
    sign = np.where(np.signbit(data2), -1, 1).astype(np.result_type(data1, data2))
    return ops.abs(x1) * sign


def _nan_losing(wins):
    """numpy's fmax (wins = np.greater_equal) or fmin (np.less_equal), where a NaN loses: a where
    wins(a, b) or b is NaN, else b; the gradient goes where the value came from (a tie's to a),
    as PyTorch's fmax and fmin."""
    def choose(a, b):
        data_b = data_of(b)
        return ops.where(wins(data_of(a), data_b) | np.isnan(data_b), a, b)
    return choose


def _deg2rad(x):
    return x * (math.pi / 180)      # numpy's own formula


def _rad2deg(x):
    return x * (180 / math.pi)      # numpy's own formula


def _heaviside(x1, x2):
    """0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0 (numpy's heaviside), as
    where(x1 == 0, x2, (sign(x1) + 1) / 2): x1's gradient is sign's, 0; x2's passes at x1 = 0."""
    return ops.where(data_of(x1) == 0, x2, (ops.sign(x1) + 1) / 2)


_LN2 = math.log(2.0)

UFUNCS = {getattr(np, name): getattr(ops, name) for name in _SAME_NAME} | {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.divide: ops.div,
    np.power: ops.pow, np.negative: ops.neg, np.positive: lambda x: +x,
    np.absolute: ops.abs, np.fabs: ops.abs,
    np.divmod: lambda a, b: (ops.floor_divide(a, b), ops.remainder(a, b)),
    np.deg2rad: _deg2rad, np.radians: _deg2rad, np.rad2deg: _rad2deg, np.degrees: _rad2deg,
    # log2(2^a + 2^b) = logaddexp(a ln 2, b ln 2) / ln 2
    np.logaddexp2: lambda a, b: ops.logaddexp(a * _LN2, b * _LN2) / _LN2,
    np.copysign: _copysign, np.fmax: _nan_losing(np.greater_equal),
    np.fmin: _nan_losing(np.less_equal),
    np.heaviside: _heaviside,
    np.vecdot: lambda x1, x2: ops.sum(x1 * x2, -1),
    np.matvec: lambda x1, x2: ops.squeeze(ops.matmul(x1, ops.expand_dims(x2, -1)), -1),
    np.vecmat: lambda x1, x2: ops.squeeze(ops.matmul(ops.expand_dims(x1, -2), x2), -2),
}


def _linalg_norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm's choice of norm: a matrix norm ('fro' by default) over a 2-tuple axis, or
    over a 2-D x's axes when axis=None and an ord is given; else a vector norm (2 by default),
    over all the entries when both are None."""
    if axis is None and ord is not None:
        shape = np.shape(data_of(x))
        if len(shape) not in (1, 2):
            raise ValueError(f"np.linalg.norm: x has shape {shape}; with ord={ord!r} and "
                             f"axis=None, numpy expects a vector or a matrix; pass axis=-1 for "
                             f"vector norms or axis=(-2, -1) for matrix norms")
        axis = tuple(range(len(shape)))
    if isinstance(axis, tuple) and len(axis) > 2:
        raise ValueError(f"np.linalg.norm: axis {axis} names {len(axis)} axes; numpy expects "
                         f"an int (a vector norm) or two (a matrix norm); "
                         f"np.linalg.vector_norm(x, axis={axis}) is the 2-norm of those entries")
    if isinstance(axis, tuple) and len(axis) == 2:
        return ops.matrix_norm(x, "fro" if ord is None else ord, axis, keepdims)
    return ops.norm(x, ord, axis, keepdims)


_PAD_MODES = {"edge": "replicate", "wrap": "circular"}     # numpy's names for ops.pad's modes


# numpy's joining, splitting, flipping and product functions, as compositions of ops; each
# raises where numpy raises, naming what was expected

def _ndim(x) -> int:
    return np.ndim(data_of(x))


def _at_least(ndim: int):
    """numpy's atleast_1d, atleast_2d or atleast_3d: an input of fewer axes reshaped as numpy
    does (0-d to ones; a vector (n,) to (1, n) and (1, n, 1); a matrix (m, n) to (m, n, 1)), others
    as they are; one input gives one result, several a tuple."""
    def at_least(*arys):
        results = [_with_axes(a, ndim) for a in arys]
        return results[0] if len(results) == 1 else tuple(results)
    return at_least


def _with_axes(x, ndim: int):
    shape = np.shape(data_of(x))
    if len(shape) >= ndim:
        return x
    if ndim == 3 and shape:
        shape = (1, *shape, 1) if len(shape) == 1 else (*shape, 1)
    return ops.reshape(x, (1,) * (ndim - len(shape)) + shape)


def _hstack(tup):
    """Vectors joined end to end, anything else along axis 1 (numpy's hstack)."""
    arrays = [_with_axes(a, 1) for a in tup]
    return ops.cat(arrays, 0 if arrays and _ndim(arrays[0]) == 1 else 1)


def _column_stack(tup):
    """Vectors as columns (n, 1), joined along axis 1 with the matrices (numpy's column_stack)."""
    return ops.cat([ops.reshape(a, (-1, 1)) if _ndim(a) < 2 else a for a in tup], 1)


def _array_split(ary, indices_or_sections, axis=0):
    """np.split that allows unequal pieces: k sections of an axis of n give n % k pieces of
    n // k + 1, then pieces of n // k (numpy's array_split)."""
    if isinstance(indices_or_sections, (int, np.integer)):
        shape = np.shape(data_of(ary))
        size = shape[checked_axis("np.array_split", axis, shape)]
        if indices_or_sections <= 0:
            raise ValueError(f"np.array_split: {indices_or_sections} sections; expected a "
                             f"positive number of sections")
        each, extras = divmod(size, int(indices_or_sections))
        sizes = [each + 1] * extras + [each] * (indices_or_sections - extras)
        indices_or_sections = np.cumsum(sizes)[:-1].tolist()
    return ops.split(ary, indices_or_sections, axis)


def _split_along(name: str, axis: int, least: int):
    """numpy's hsplit (axis 1, or 0 for a vector), vsplit (axis 0) or dsplit (axis 2): np.split
    along that axis of an input of at least `least` axes."""
    def split(ary, indices_or_sections):
        ndim = _ndim(ary)
        if ndim < least:
            raise ValueError(f"np.{name}: input of shape {np.shape(data_of(ary))}; expected at "
                             f"least {least} axes")
        return ops.split(ary, indices_or_sections, 0 if ndim == 1 else axis)
    return split


def _unstack(x, *, axis=0):
    """The slices of x along axis, as a tuple (numpy's unstack)."""
    shape = np.shape(data_of(x))
    axis = checked_axis("np.unstack", axis, shape)
    return tuple(ops.getitem(x, (slice(None),) * axis + (i,)) for i in range(shape[axis]))


def _flip_of_at_least(name: str, axis: int):
    """numpy's flipud (axis 0) and fliplr (axis 1), which need at least axis + 1 axes."""
    def flip(m):
        if _ndim(m) <= axis:
            raise ValueError(f"np.{name}: input of shape {np.shape(data_of(m))}; expected at "
                             f"least {axis + 1} axes")
        return ops.flip(m, axis)
    return flip


def _rot90(m, k=1, axes=(0, 1)):
    """m turned k quarter turns from axes[0] towards axes[1] (numpy's rot90): one turn is a
    flip along axes[1] and then a swap of the two axes; two turns flip both; three, the swap
    and then the flip."""
    shape = np.shape(data_of(m))
    if len(axes) != 2:
        raise ValueError(f"np.rot90: axes {axes}; expected two axes")
    first, second = (checked_axis("np.rot90", axis, shape) for axis in axes)
    if first == second:
        raise ValueError(f"np.rot90: axes {axes} name one axis of shape {shape} twice; expected "
                         f"two different axes")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return ops.flip(m, (first, second))
    if k == 1:
        return ops.swapaxes(ops.flip(m, second), first, second)
    return ops.flip(ops.swapaxes(m, first, second), second)


def _diag(v, k=0):
    """numpy's diag: the k-th diagonal of a matrix, or a vector v set on the k-th diagonal of
    a square matrix of zeros: v times the identity (so the gradient is grad's diagonal),
    padded by |k| rows and columns."""
    shape = np.shape(data_of(v))
    if len(shape) == 2:
        return ops.diagonal(v, k)
    if len(shape) != 1:
        raise ValueError(f"np.diag: input of shape {shape}; expected a vector or a matrix")
    eye = np.eye(shape[0], dtype=np.asarray(data_of(v)).dtype)
    square = ops.reshape(v, (1, -1)) * eye
    return ops.pad(square, ((0, k), (k, 0)) if k >= 0 else ((-k, 0), (0, -k)))


def _vdot(a, b):
    """The dot product of a and b flattened (numpy's vdot, for real numbers)."""
    return ops.dot(ops.reshape(a, -1), ops.reshape(b, -1))


def _multi_dot(arrays):
    """A chain of matrix products, left to right (numpy's linalg.multi_dot, which picks the
    cheapest order: the same value up to rounding); a vector first is a row, last a column,
    and its axis leaves the result."""
    if len(arrays) < 2:
        raise ValueError(f"np.linalg.multi_dot: {len(arrays)} array(s); expected at least two")
    for i, a in enumerate(arrays):
        allowed = (1, 2) if i in (0, len(arrays) - 1) else (2,)
        if _ndim(a) not in allowed:
            raise np.linalg.LinAlgError(
                f"np.linalg.multi_dot: array {i} has shape {np.shape(data_of(a))}; expected "
                f"{'a vector or ' if len(allowed) == 2 else ''}a matrix")
    result = arrays[0]
    for a in arrays[1:]:
        result = ops.matmul(result, a)
    return result


def _linalg_cross(x1, x2, axis=-1):
    """np.cross of two arrays of 3-vectors (numpy's linalg.cross, which takes only those)."""
    sizes = [np.shape(data_of(x))[checked_axis("np.linalg.cross", axis, np.shape(data_of(x)))]
             for x in (x1, x2)]
    if sizes != [3, 3]:
        raise ValueError(f"np.linalg.cross: vectors of {sizes[0]} and {sizes[1]} elements along "
                         f"axis {axis}; expected 3 and 3 (np.cross also takes 2)")
    return ops.cross(x1, x2, axis)


def _linalg_outer(x1, x2):
    """The outer product of two vectors (numpy's linalg.outer, which takes only vectors)."""
    if _ndim(x1) != 1 or _ndim(x2) != 1:
        raise ValueError(f"np.linalg.outer: inputs of shapes {np.shape(data_of(x1))} and "
                         f"{np.shape(data_of(x2))}; expected two vectors (np.outer flattens)")
    return ops.outer(x1, x2)


def _trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoidal rule along axis: sum of d (y[i] + y[i+1]) / 2, with d the spacing dx or
    the differences of the sample points x (a vector along axis, or x of y's shape), as numpy's
    trapezoid computes it."""
    shape = np.shape(data_of(y))
    axis = checked_axis("np.trapezoid", axis, shape)
    if x is None:
        d = dx
    elif _ndim(x) == 1:
        d = ops.reshape(ops.diff(x), [-1 if i == axis else 1 for i in range(len(shape))])
    else:
        d = ops.diff(x, axis=axis)
    lead = (slice(None),) * axis
    return ops.sum(d * (ops.getitem(y, (*lead, slice(1, None)))
                        + ops.getitem(y, (*lead, slice(None, -1)))) / 2.0, axis)


def _sliding_product(name: str, flipped: bool, default_mode: str):
    """numpy's convolve (flipped: out[k] = sum_j a[k - j] v[j]) and correlate
    (out[k] = sum_j a[k + j] v[j]) of two vectors, in mode "full", "same" or "valid": one
    conv1d of a, zero-padded by len(v) - 1 at both ends, with v (reversed for convolve), cut to
    the mode's length at numpy's offset."""
    def product(a, v, mode=default_mode):
        data_a, data_v = np.asarray(data_of(a)), np.asarray(data_of(v))
        if data_a.ndim != 1 or data_v.ndim != 1 or not data_a.size or not data_v.size:
            raise ValueError(f"np.{name}: inputs of shapes {data_a.shape} and {data_v.shape}; "
                             f"expected two non-empty vectors")
        (n,), (m,), dtype = data_a.shape, data_v.shape, np.result_type(data_a, data_v)
        if dtype.kind != "f":           # integers hold no gradient: numpy's own result
            return getattr(np, name)(data_a, data_v, mode)
        # conv1d takes one dtype, where numpy promotes
        a, v = (x if d.dtype == dtype else ops.astype(x, dtype)
                for x, d in ((a, data_a), (v, data_v)))
        kernel = ops.flip(v) if flipped else v
        full = ops.reshape(ops.conv1d(ops.reshape(a, (1, n)), ops.reshape(kernel, (1, 1, m)),
                                      padding=m - 1), -1)     # n + m - 1 sums
        long, short = max(n, m), min(n, m)
        if mode == "full":
            return full
        if mode == "valid":
            return ops.getitem(full, slice(short - 1, long))
        if mode == "same":     # numpy centres the shorter one; correlate shifts when m > n
            start = short // 2 if not flipped and m > n else (short - 1) // 2
            return ops.getitem(full, slice(start, start + long))
        raise ValueError(f"np.{name}: mode {mode!r}; expected 'full', 'same' or 'valid'")
    return product


def _take(a, indices, axis=None, mode="raise"):
    """a[..., indices, ...] along axis (a flattened for None), as numpy's take: one integer
    index array, so the gradient is scatter-added back; mode "wrap" takes indices modulo the
    axis's size and "clip" clips them to it."""
    if axis is None:
        a, axis = ops.reshape(a, -1), 0
    shape = np.shape(data_of(a))
    axis = checked_axis("np.take", axis, shape)
    indices = np.asarray(data_of(indices))
    if mode == "wrap":
        indices = indices % shape[axis]
    elif mode == "clip":
        indices = np.clip(indices, 0, shape[axis] - 1)
    elif mode != "raise":
        raise ValueError(f"np.take: mode {mode!r}; expected 'raise', 'wrap' or 'clip'")
    return ops.getitem(a, (slice(None),) * axis + (indices,))


def _select(condlist, choicelist, default=0):
    """The first choice whose condition holds, else default (numpy's select): where(c_1, x_1,
    where(c_2, x_2, ... default)), built from the last condition up."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"np.select: {len(condlist)} conditions and {len(choicelist)} choices; "
                         f"expected one choice per condition")
    result = default
    for condition, choice in zip(reversed(condlist), reversed(choicelist), strict=True):
        if np.asarray(data_of(condition)).dtype != bool:
            raise TypeError(f"np.select: a condition of dtype "
                            f"{np.asarray(data_of(condition)).dtype}; expected bool arrays")
        result = ops.where(condition, choice, result)
    return result


def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from coordinate vectors (numpy's meshgrid): x_i reshaped along its own
    axis and broadcast to the grid (kept in its one axis when sparse); "xy" indexing swaps the
    first two axes. Always new Values, so copy makes no difference."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"np.meshgrid: indexing {indexing!r}; expected 'xy' or 'ij'")
    sizes = [np.size(data_of(x)) for x in xi]
    axes = list(range(len(xi)))
    if indexing == "xy" and len(xi) > 1:
        axes[0], axes[1] = 1, 0
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for x, axis in zip(xi, axes, strict=True):
        grid = ops.reshape(x, [-1 if d == axis else 1 for d in range(len(xi))])
        grids.append(grid if sparse else ops.broadcast_to(grid, sizes))
    return tuple(grids)


def _cumulative(name: str, running, initial: float):
    """numpy's cumulative_sum and cumulative_prod: cumsum or cumprod along axis (which may be
    None only for a vector), with the empty sum or product first when include_initial."""
    def cumulative(x, *, axis=None, include_initial=False):
        shape = np.shape(data_of(x))
        if axis is None:
            if len(shape) != 1:
                raise ValueError(f"np.{name}: axis=None for an input of shape {shape}; expected "
                                 f"a vector, or an axis")
            axis = 0
        axis = checked_axis(f"np.{name}", axis, shape)
        result = running(x, axis)
        if include_initial:
            widths = [(1, 0) if d == axis else (0, 0) for d in range(len(shape))]
            result = ops.pad(result, widths, initial)
        return result
    return cumulative


def _eigvalsh(a, UPLO="L"):                         # noqa: N803 (numpy's name)
    """The eigenvalues of symmetric matrices read from their lower (UPLO="L") or upper ("U")
    triangle, as numpy's linalg.eigvalsh: eigh's first result; a's upper triangle is the lower
    one of its transpose."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"np.linalg.eigvalsh: UPLO {UPLO!r}; expected 'L' or 'U'")
    return ops.eigh(a if UPLO == "L" else ops.swapaxes(a, -1, -2))[0]


def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """x with NaN and the infinities replaced as numpy's nan_to_num does (a constant there, so
    the gradient is grad where x is finite, 0 elsewhere); into a new Value only."""
    if not copy:
        raise TypeError("np.nan_to_num(x, copy=False) would write into the Value's data, which "
                        "is the graph's record of the forward pass; expected copy=True (the "
                        "default), which returns a new Value")
    data = data_of(x)
    return ops.where(np.isfinite(data), x,
                     np.nan_to_num(data, nan=nan, posinf=posinf, neginf=neginf))


# numpy functions with an op that computes the same thing; each takes numpy's parameters, by
# numpy's names, as far as the op supports them
FUNCTIONS = {
    np.sum: lambda a, axis=None, keepdims=False: ops.sum(a, axis, keepdims),
    np.mean: lambda a, axis=None, keepdims=False: ops.mean(a, axis, keepdims),
    np.prod: lambda a, axis=None, keepdims=False: ops.prod(a, axis, keepdims),
    np.max: lambda a, axis=None, keepdims=False: ops.max(a, axis, keepdims),
    np.amax: lambda a, axis=None, keepdims=False: ops.max(a, axis, keepdims),
    np.min: lambda a, axis=None, keepdims=False: ops.min(a, axis, keepdims),
    np.amin: lambda a, axis=None, keepdims=False: ops.min(a, axis, keepdims),
    np.std: lambda a, axis=None, ddof=0, keepdims=False: ops.std(a, axis, keepdims, ddof),
    np.var: lambda a, axis=None, ddof=0, keepdims=False: ops.var(a, axis, keepdims, ddof),
    np.cumsum: lambda a, axis=None: ops.cumsum(a, axis),
    np.cumprod: lambda a, axis=None: ops.cumprod(a, axis),
    np.diff: lambda a, n=1, axis=-1, prepend=None, append=None: ops.diff(a, n, axis, prepend,
                                                                         append),
    np.trace: lambda a, offset=0, axis1=0, axis2=1: ops.trace(a, offset, axis1, axis2),
    np.reshape: lambda a, shape: ops.reshape(a, shape),
    np.ravel: lambda a: ops.reshape(a, -1),
    np.transpose: lambda a, axes=None: ops.transpose(a, *(() if axes is None else axes)),
    np.squeeze: lambda a, axis=None: ops.squeeze(a, axis),
    np.expand_dims: lambda a, axis: ops.expand_dims(a, axis),
    np.swapaxes: lambda a, axis1, axis2: ops.swapaxes(a, axis1, axis2),
    np.moveaxis: lambda a, source, destination: ops.moveaxis(a, source, destination),
    np.broadcast_to: lambda array, shape: ops.broadcast_to(array, shape),
    np.flip: lambda m, axis=None: ops.flip(m, axis),
    np.roll: lambda a, shift, axis=None: ops.roll(a, shift, axis),
    np.concatenate: lambda arrays, axis=0: ops.cat(arrays, axis),
    np.stack: lambda arrays, axis=0: ops.stack(arrays, axis),
    np.split: lambda ary, indices_or_sections, axis=0: ops.split(ary, indices_or_sections, axis),
    np.tile: lambda A, reps: ops.tile(A, reps),                      # noqa: N803 (numpy's name)
    np.repeat: lambda a, repeats, axis=None: ops.repeat(a, repeats, axis),
    np.pad: lambda array, pad_width, mode="constant", constant_values=0: ops.pad(
        array, pad_width, constant_values, _PAD_MODES.get(mode, mode)),
    np.diagonal: lambda a, offset=0, axis1=0, axis2=1: ops.diagonal(a, offset, axis1, axis2),
    np.tril: lambda m, k=0: ops.tril(m, k),
    np.triu: lambda m, k=0: ops.triu(m, k),
    np.sort: lambda a, axis=-1: ops.sort(a, axis),
    np.take_along_axis: lambda arr, indices, axis=-1: ops.take_along_axis(arr, indices, axis),
    np.where: lambda condition, x, y: ops.where(condition, x, y),
    np.clip: lambda a, a_min=None, a_max=None, *, min=None, max=None: ops.clip(
        a, a_min if min is None else min, a_max if max is None else max),
    np.round: lambda a, decimals=0: ops.round(a, decimals),
    np.around: lambda a, decimals=0: ops.round(a, decimals),
    np.dot: lambda a, b: ops.dot(a, b),
    np.inner: lambda a, b: ops.inner(a, b),
    np.outer: lambda a, b: ops.outer(a, b),
    np.kron: lambda a, b: ops.kron(a, b),
    np.tensordot: lambda a, b, axes=2: ops.tensordot(a, b, axes),
    np.einsum: lambda subscripts, *operands: ops.einsum(subscripts, *operands),
    np.cross: lambda a, b, axis=-1: ops.cross(a, b, axis),
    np.linalg.det: lambda a: ops.det(a),
    np.linalg.slogdet: lambda a: ops.slogdet(a),
    np.linalg.inv: lambda a: ops.inv(a),
    np.linalg.solve: lambda a, b: ops.solve(a, b),
    np.linalg.cholesky: lambda a: ops.cholesky(a),
    np.linalg.eigh: lambda a: ops.eigh(a),
    np.linalg.svd: lambda a, full_matrices=True, compute_uv=True: ops.svd(a, full_matrices,
                                                                         compute_uv),
    np.linalg.matrix_power: lambda a, n: ops.matrix_power(a, n),
    np.linalg.norm: _linalg_norm,
    np.linalg.vector_norm: lambda x, axis=None, keepdims=False, ord=2: ops.norm(x, ord, axis,
                                                                                keepdims),
    np.linalg.matrix_norm: lambda x, keepdims=False, ord="fro": ops.matrix_norm(x, ord,
                                                                                (-2, -1),
                                                                                keepdims),
    np.sinc: lambda x: ops.sinc(x),
    np.astype: lambda x, dtype: ops.astype(x, dtype),
    np.atleast_1d: _at_least(1),
    np.atleast_2d: _at_least(2),
    np.atleast_3d: _at_least(3),
    np.hstack: _hstack,
    np.vstack: lambda tup: ops.cat([_with_axes(a, 2) for a in tup], 0),
    np.dstack: lambda tup: ops.cat([_with_axes(a, 3) for a in tup], 2),
    np.column_stack: _column_stack,
    np.array_split: _array_split,
    np.hsplit: _split_along("hsplit", 1, 1),
    np.vsplit: _split_along("vsplit", 0, 2),
    np.dsplit: _split_along("dsplit", 2, 3),
    np.unstack: _unstack,
    np.flipud: _flip_of_at_least("flipud", 0),
    np.fliplr: _flip_of_at_least("fliplr", 1),
    np.rot90: _rot90,
    np.diag: _diag,
    np.diagflat: lambda v, k=0: _diag(ops.reshape(v, -1), k),
    np.vdot: _vdot,
    np.convolve: _sliding_product("convolve", flipped=True, default_mode="full"),
    np.correlate: _sliding_product("correlate", flipped=False, default_mode="valid"),
    np.trapezoid: _trapezoid,
    np.nan_to_num: _nan_to_num,
    np.linalg.multi_dot: _multi_dot,
    np.linalg.matmul: lambda x1, x2: ops.matmul(x1, x2),
    np.linalg.outer: _linalg_outer,
    np.linalg.cross: _linalg_cross,
    np.linalg.vecdot: lambda x1, x2, *, axis=-1: ops.sum(x1 * x2, axis),
    np.linalg.tensordot: lambda x1, x2, *, axes=2: ops.tensordot(x1, x2, axes),
    np.linalg.trace: lambda x, *, offset=0: ops.trace(x, offset, -2, -1),
    np.linalg.diagonal: lambda x, *, offset=0: ops.diagonal(x, offset, -2, -1),
    np.linalg.matrix_transpose: lambda x: ops.swapaxes(x, -1, -2),
    np.matrix_transpose: lambda x: ops.swapaxes(x, -1, -2),
    np.take: _take,
    # the elements where condition is True, along axis (flattened for None), and of arr
    # flattened, as numpy's compress and extract
    np.compress: lambda condition, a, axis=None: _take(a, np.flatnonzero(data_of(condition)),
                                                       axis),
    np.extract: lambda condition, arr: _take(arr, np.flatnonzero(data_of(condition))),
    np.select: _select,
    np.meshgrid: _meshgrid,
    np.cumulative_sum: _cumulative("cumulative_sum", ops.cumsum, 0.0),
    np.cumulative_prod: _cumulative("cumulative_prod", ops.cumprod, 1.0),
    np.linalg.eigvalsh: _eigvalsh,
    np.linalg.svdvals: lambda x: ops.svd(x, compute_uv=False),
}
_SIGNATURES = {function: inspect.signature(adapter) for function, adapter in FUNCTIONS.items()}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict):
    """np.<ufunc>(...) with a Value among its operands."""
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    op = UFUNCS.get(ufunc)
    if method == "__call__" and op is not None and not kwargs:
        return op(*inputs)
    if method == "__call__" and ufunc in (np.equal, np.not_equal) and not kwargs:
        # `array == x` lands here; == stays Python's identity for a Value, as `x == array` is
        return (inputs[0] is inputs[1]) == (ufunc is np.equal)
    if method == "at" and isinstance(inputs[0], Value) or any(
            isinstance(out, Value) for out in kwargs.get("out", ())):
        _refuse_writing_into_a_value(name)
    if op is None:
        reason = "has no gradient rule here"
    elif method != "__call__":
        reason = "has a gradient rule only when called, not through a ufunc method"
    else:
        reason = f"builds a graph only without keyword arguments (got {', '.join(kwargs)})"
    function = ufunc if method == "__call__" else getattr(ufunc, method)
    return _on_data(name, reason, function, inputs, kwargs)


# numpy functions that write into an argument, by the name of that parameter
WRITERS = {np.put: "a", np.place: "arr", np.putmask: "a", np.copyto: "dst",
           np.put_along_axis: "arr", np.fill_diagonal: "a"}


def array_function(function, args: tuple, kwargs: dict):
    """A numpy function called with a Value among its arguments."""
    name = numpy_name(function)
    written = args[0] if args else kwargs.get(WRITERS.get(function))
    if (function in WRITERS and isinstance(written, Value)
            or _values_in(kwargs.get("out"))):
        _refuse_writing_into_a_value(name)
    adapter = FUNCTIONS.get(function)
    if adapter is None:
        return _on_data(name, "has no gradient rule here", function, args, kwargs)
    parameters = _SIGNATURES[function]
    try:
        bound = parameters.bind(*args, **kwargs)
    except TypeError as error:
        reason = f"builds a graph only when called as {name}{parameters} ({error})"
        return _on_data(name, reason, function, args, kwargs)
    return adapter(*bound.args, **bound.kwargs)


def numpy_name(function) -> str:
    """How numpy's function or ufunc is written in code and messages: "np.sum", "np.linalg.det"."""
    module = "numpy" if isinstance(function, np.ufunc) else function.__module__
    return f"{module.replace('numpy', 'np', 1)}.{function.__name__}"


def _refuse_writing_into_a_value(name: str):
    raise TypeError(f"{name}: cannot write into a Value (its data is the graph's record of the "
                    f"forward pass); compute a new Value instead, e.g. y = x + 1, or "
                    f"tc.ops.where(mask, new, x) for some of its elements")


def _on_data(name: str, reason: str, function, args: tuple, kwargs: dict):
    """function run on the data of every Value in args and kwargs; an error if that would drop
    the gradient of a Value that requires grad."""
    needs_grad = is_grad_enabled() and any(value.requires_grad
                                           for value in _values_in((args, kwargs)))
    if needs_grad and kwargs.get("out") is not None:
        raise TypeError(f"{name}(..., out=array) with a Value that requires grad: an array "
                        f"cannot hold a result that needs a gradient; write a new Value instead "
                        f"(y = y + x, not y += x, when y is an array)")
    if needs_grad and function in WRITERS:
        raise TypeError(f"{name} would write a Value that requires grad into an array, which "
                        f"cannot hold its gradient; build a new Value instead, e.g. "
                        f"tc.ops.where(mask, x, array) or tc.ops.cat")
    result = function(*_data_in(args), **_data_in(kwargs))
    if needs_grad and _holds_floats(result):
        same_name = getattr(ops, function.__name__, None)
        use = f"tc.ops.{function.__name__} (see its parameters)" if inspect.isfunction(
            same_name) else "an op of tc.ops (see docs/api.md) or a Value method"
        raise TypeError(f"{name} {reason}, so on a Value that requires grad its result would "
                        f"leave the graph and that Value would get no gradient from it; use "
                        f"{use}, or pass x.data (or x.detach()) where the result should be a "
                        f"constant")
    return result


def _data_in(item):
    """item with every Value (in lists, tuples and dicts too) replaced by its data."""
    if isinstance(item, Value):
        return item.data
    if isinstance(item, (list, tuple)):
        return type(item)(_data_in(part) for part in item)
    if isinstance(item, dict):
        return {key: _data_in(part) for key, part in item.items()}
    return item


def _values_in(item) -> list[Value]:
    """The Values in item, in lists, tuples and dicts too."""
    if isinstance(item, Value):
        return [item]
    if isinstance(item, dict):
        item = list(item.values())
    if isinstance(item, (list, tuple)):
        return [value for part in item for value in _values_in(part)]
    return []


def _holds_floats(result) -> bool:
    """Whether a numpy result (an array, a scalar, or a tuple or list of them) holds floats."""
    if isinstance(result, (list, tuple)):
        return any(_holds_floats(part) for part in result)
    return np.asarray(result).dtype.kind in "fc"
