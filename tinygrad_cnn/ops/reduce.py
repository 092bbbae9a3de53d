"""Reductions over axes (axis int, tuple or None; keepdims): sum, mean, max, min, var, std,
logsumexp, and prod (a tree of multiplications); cumsum and cumprod, the running sums and
products along one axis; and argmax/argmin, which return integer numpy arrays (positions have
no gradient)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.axes import checked_axes, checked_axis
from tinygrad_cnn.ops.elementwise import Abs, Exp, Where, float_dtype
from tinygrad_cnn.ops.indexing import cat, pad
from tinygrad_cnn.ops.shape import BroadcastTo
from tinygrad_cnn.value import Value, as_value, data_of


class Reduction(Function):
    """Base of the reductions. `keep` turns the `axis` the user gave (checked by the lowercase
    function; kept as given, so drawings show it) into sorted non-negative `axes` and keeps x's
    shape and the output's shape with the reduced axes as 1s: backward reshapes the gradient
    to that shape to broadcast it against x, whether or not keepdims was set."""

    def keep(self, x: np.ndarray, axis) -> tuple[int, ...]:
        self.shape, self.axes = x.shape, checked_axes(self.name.lower(), axis, x.shape)
        self.kept_shape = tuple(1 if i in self.axes else n for i, n in enumerate(x.shape))
        return self.axes


class Sum(Reduction):
    """Sum over `axis`."""

    def forward(self, x, axis, keepdims):
        axes = self.keep(x, axis)
        return x.sum(axis=axes, keepdims=keepdims)

    # every summed element gets the gradient of its sum: put the reduced axes back, broadcast
    def backward(self, grad):
        return BroadcastTo.run(grad.reshape(self.kept_shape), shape=self.shape)


class Mean(Reduction):
    """Mean over `axis`."""

    def forward(self, x, axis, keepdims):
        axes = self.keep(x, axis)
        self.count = int(np.prod([x.shape[a] for a in axes]))
        return x.mean(axis=axes, keepdims=keepdims)

    # mean = sum / count, so each averaged element gets grad / count
    def backward(self, grad):
        return BroadcastTo.run(grad.reshape(self.kept_shape) / self.count, shape=self.shape)


class Max(Reduction):
    """Maximum over `axis`; tied maxima share the gradient equally."""

    def forward(self, x, axis, keepdims):
        axes = self.keep(x, axis)
        out = x.max(axis=axes, keepdims=True)
        self.is_extreme = x == out                      # a bool mask: a constant
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape)
                                                 if i not in axes])

    # d max/dx_i = 1/k for each of the k elements equal to the maximum, 0 elsewhere
    def backward(self, grad):
        share = self.is_extreme / self.is_extreme.sum(axis=self.axes, keepdims=True)
        return grad.reshape(self.kept_shape) * share.astype(grad.dtype, copy=False)


class Min(Max):
    """Minimum over `axis`; tied minima share the gradient equally (backward is Max's)."""

    def forward(self, x, axis, keepdims):
        axes = self.keep(x, axis)
        out = x.min(axis=axes, keepdims=True)
        self.is_extreme = x == out
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape)
                                                 if i not in axes])


class Var(Reduction):
    """Variance over `axis`: sum((x - mean)^2) / (count - ddof)."""

    def forward(self, x, axis, keepdims, ddof):
        axes = self.keep(x, axis)
        self.dof = int(np.prod([x.shape[a] for a in axes])) - ddof
        return x.var(axis=axes, keepdims=keepdims, ddof=ddof)

    # d var/dx_i = 2 (x_i - mean) / (count - ddof); the mean's own dependence on x_i drops
    # out, as sum_j (x_j - mean) = 0
    def backward(self, grad):
        x, _ = self.saved()
        centered = x - x.mean(axis=self.axes, keepdims=True)
        return grad.reshape(self.kept_shape) * (2 / self.dof) * centered


class Std(Reduction):
    """Standard deviation over `axes`: sqrt(var(x, axis, ddof))."""

    def forward(self, x, axis, keepdims, ddof):
        axes = self.keep(x, axis)
        self.dof = int(np.prod([x.shape[a] for a in axes])) - ddof
        return x.std(axis=axes, keepdims=keepdims, ddof=ddof)

    # std = sqrt(var): d std/dx_i = (d var/dx_i) / (2 std) = (x_i - mean) / ((count - ddof) std);
    # where std = 0 (all x_i equal) that is 0/0, and the gradient is 0 there, as in PyTorch
    def backward(self, grad):
        x, out = self.saved()
        centered = x - x.mean(axis=self.axes, keepdims=True)
        out = out.reshape(self.kept_shape)
        zero = data_of(out) == 0                             # a bool mask: a constant
        per_std = grad.reshape(self.kept_shape) / (Where.run(zero, 1, out) * self.dof)
        return Where.run(zero, 0, per_std) * centered


class LogSumExp(Reduction):
    """ln sum e^x over `axis`, as m + ln sum e^(x - m) with m the maximum: no e^x overflows."""

    def forward(self, x, axis, keepdims):
        axes = self.keep(x, axis)
        x = x.astype(float_dtype(x.dtype), copy=False)       # x - m of an unsigned x wraps
        m = x.max(axis=axes, keepdims=True, initial=-np.inf)   # -inf for a slice of nothing
        # shift a slice of -infs (or of nothing) by 0, not -inf (-inf - -inf is NaN): it gives
        # ln 0 = -inf; and one holding +inf, whose e^x may overflow: to inf, its answer
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(over="ignore", divide="ignore"):
            out = m + np.log(np.exp(x - m).sum(axis=axes, keepdims=True))
        return out if keepdims else out.squeeze(axis=axes)

    # d/dx_i ln sum_j e^(x_j) = e^(x_i) / sum_j e^(x_j) = e^(x_i - out): the softmax of the
    # slice, times the slice's gradient
    def backward(self, grad):
        x, out = self.saved()
        return grad.reshape(self.kept_shape) * Exp.run(x - out.reshape(self.kept_shape))


class CumSum(Function):
    """The running sums along `axis`, as numpy.cumsum (axis None: of the flattened x)."""

    def forward(self, x, axis):
        # the axis of the output: 0 when numpy flattens x (axis None, or a 0-d x)
        self.shape, self.axis = x.shape, 0 if axis is None else axis % (x.ndim or 1)
        return np.cumsum(x, axis=axis)

    # y_i = sum_{j <= i} x_j  =>  dx_j = sum_{i >= j} g_i, the running sum of g from the far
    # end: reverse g along the axis, cumsum, reverse back; then x's shape, had it been flattened
    def backward(self, grad):
        reverse = (slice(None),) * self.axis + (slice(None, None, -1),)
        return CumSum.run(grad[reverse], axis=self.axis)[reverse].reshape(self.shape)


class CumProd(Function):
    """The running products along `axis`, as numpy.cumprod (axis None: of the flattened x)."""

    def forward(self, x, axis):
        # the axis of the output: 0 when numpy flattens x (axis None, or a 0-d x)
        self.shape, self.axis = x.shape, 0 if axis is None else axis % (x.ndim or 1)
        return np.cumprod(x, axis=axis)

    # y_i = prod_{j <= i} x_j  =>  dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j. With no
    # x_j = 0 that product is y_i / x_k: dx = (g y summed from the far end) / x. With a zero,
    # _cumprod_grad_first_zero (plain arrays) or _cumprod_grad_with_zeros (recorded Values)
    def backward(self, grad):
        x, out = self.saved()
        x = x.reshape(out.shape)                     # as numpy flattened it, had it
        if not (data_of(x) == 0).any():
            reverse = (slice(None),) * self.axis + (slice(None, None, -1),)
            dx = CumSum.run((grad * out)[reverse], axis=self.axis)[reverse] / x
        elif isinstance(x, Value):
            dx = _cumprod_grad_with_zeros(x, grad, self.axis)
        else:
            dx = _cumprod_grad_first_zero(x, out, grad, self.axis)
        return dx.reshape(self.shape)


def _cumprod_grad_first_zero(x: np.ndarray, out: np.ndarray, grad: np.ndarray,
                             axis: int) -> np.ndarray:
    """cumprod's gradient in O(n), as PyTorch's: with z the first zero of a slice, dx_k for
    k < z is (g y summed from the far end) / x_k (x_k != 0); for k = z it is that sum with y's
    running products taken over x with x_z set to 1; for k > z it is 0 (each product holds
    x_z = 0). Numpy only: its derivative is not exact at zeros, so create_graph uses
    _cumprod_grad_with_zeros."""
    n = x.shape[axis]
    zero = x == 0
    first = np.where(zero.any(axis, keepdims=True), zero.argmax(axis, keepdims=True), n)
    k = np.arange(n).reshape([-1 if d == axis else 1 for d in range(x.ndim)])
    before, at = k < first, k == first               # masks of x's shape (broadcast)
    reverse = (slice(None),) * axis + (slice(None, None, -1),)
    dx = np.where(before, np.cumsum((grad * out)[reverse], axis)[reverse]
                  / np.where(before, x, 1), 0)
    skipped = np.cumprod(np.where(at, 1, x), axis)  # prod_{j <= i, j != z} x_j
    return dx + np.where(at, np.cumsum((grad * skipped)[reverse], axis)[reverse], 0)


def _cumprod_grad_with_zeros(x, grad, axis: int):
    """dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j along `axis`, with no division: row k
    of an (n, n) matrix is x with x_k replaced by 1, and its running products are those
    products. Exact as a polynomial in x, so its derivatives are exact at zeros too; made of
    cumprod and where, so it is differentiated again like any rule. (..., n, n) memory: used
    only under create_graph, for an x holding a zero."""
    perm = [d for d in range(len(x.shape)) if d != axis] + [axis]
    xt, gt = x.transpose(perm), grad.transpose(perm)            # (..., n)
    n = x.shape[axis]
    rows = Where.run(np.eye(n, dtype=bool), 1, xt[..., None, :])   # (..., n, n): [k, i]
    products = CumProd.run(rows, axis=-1)        # [k, i] = prod_{j <= i, j != k} x_j
    later = np.triu(np.ones((n, n), dtype=bool))                  # i >= k
    dx = (Where.run(later, products, 0) * gt[..., None, :]).sum(axis=-1)   # (..., n)
    return dx.transpose([int(d) for d in np.argsort(perm)])


def sum(x, axis=None, keepdims: bool = False) -> Value:
    """Sum of x over `axis` (None: all axes)."""
    checked_axes("sum", axis, _shape(x))
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Value:
    """Mean of x over `axis` (None: all axes)."""
    checked_axes("mean", axis, _shape(x))
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False) -> Value:
    """Maximum of x over `axis` (None: all axes); tied maxima share the gradient equally."""
    _check_nonempty("max", x, axis)
    return Max.apply(x, axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False) -> Value:
    """Minimum of x over `axis` (None: all axes); tied minima share the gradient equally."""
    _check_nonempty("min", x, axis)
    return Min.apply(x, axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Value:
    """Variance of x over `axis`: sum((x - mean)^2) / (N - ddof), N the number of elements
    reduced; ddof=0 (numpy's default) is the population variance, ddof=1 the sample variance."""
    _check_ddof("var", x, axis, ddof)
    return Var.apply(x, axis=axis, keepdims=keepdims, ddof=int(ddof))


def std(x, axis=None, keepdims: bool = False, ddof: int = 0) -> Value:
    """Standard deviation of x over `axis`: sqrt(var(x, axis, ddof=ddof)). Where it is 0 (all
    reduced elements equal), sqrt has no derivative; the gradient there is 0, as in PyTorch."""
    _check_ddof("std", x, axis, ddof)
    return Std.apply(x, axis=axis, keepdims=keepdims, ddof=int(ddof))


def prod(x, axis=None, keepdims: bool = False) -> Value:
    """Product of x over `axis` (None: all axes), as numpy.prod; a slice of no elements gives
    1. d prod/dx_i is the product of the slice's other elements, exact where some are 0.

    Not an op with a rule of its own: the reduced axes are moved last and flattened into one,
    and its two halves are multiplied elementwise (a 1 appended to an odd length) until one
    element is left: ceil(log2 n) rounds of Mul. Each gradient of every order then comes from
    Mul's rule through that tree, so no division by x_i (which a 0 would break) appears.
    Integer and bool x give numpy.prod's result (int64 for small ints) as a constant."""
    data = x.data if isinstance(x, Value) else np.asarray(x)
    axes = checked_axes("prod", axis, data.shape)
    if data.dtype.kind != "f":                     # no gradient, and numpy's own dtype rules
        return Value(np.prod(data, axis=axes, keepdims=keepdims), requires_grad=False)
    kept = [a for a in range(data.ndim) if a not in axes]
    out_shape = [1 if a in axes else n for a, n in enumerate(data.shape)] if keepdims else \
        [data.shape[a] for a in kept]
    x = x if isinstance(x, Value) else Value(data, requires_grad=False)
    n = math.prod(data.shape[a] for a in axes)
    y = x.transpose(*kept, *axes).reshape(*[data.shape[a] for a in kept], n)   # (..., n)
    if n == 0:                                     # the empty product, still on x's graph
        return (y.sum(axis=-1) * 0 + 1).reshape(out_shape)
    while y.shape[-1] > 1:
        if y.shape[-1] % 2:
            y = pad(y, [(0, 0)] * (y.ndim - 1) + [(0, 1)], value=1.0)
        half = y.shape[-1] // 2
        y = y[..., :half] * y[..., half:]
    return y.reshape(out_shape)


def logsumexp(x, axis=None, keepdims: bool = False) -> Value:
    """ln(sum(e^x)) over `axis` (None: all axes), computed stably: shifted by the maximum, so
    large x do not overflow. A slice of only -inf (or of no elements) gives -inf, one holding
    +inf gives +inf, as PyTorch's logsumexp and numpy's log(sum(exp(x))). Its gradient is
    softmax(x) over the reduced axes."""
    checked_axes("logsumexp", axis, _shape(x))
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def cumsum(x, axis=None) -> Value:
    """Running sums along `axis`, as numpy.cumsum: out[..., i, ...] = sum of x[..., :i+1, ...];
    axis=None (and a 0-d x) sums the flattened x, a 1-D result. Its gradient is the running sum
    of the upstream gradient taken from the far end."""
    _check_running_axis("cumsum", x, axis)
    return CumSum.apply(x, axis=axis)


def cumprod(x, axis=None) -> Value:
    """Running products along `axis`, as numpy.cumprod: out[..., i, ...] = the product of
    x[..., :i+1, ...]; axis=None (and a 0-d x) multiplies the flattened x, a 1-D result. Its
    gradient, dx_k = sum_{i >= k} g_i prod_{j <= i, j != k} x_j, is exact where x holds zeros,
    as PyTorch's; so are its higher derivatives (create_graph=True), which for an x holding a
    zero cost (..., n, n) memory for an axis of n elements, as PyTorch's cost O(n^2) time."""
    _check_running_axis("cumprod", x, axis)
    return CumProd.apply(x, axis=axis)


def diff(x, n: int = 1, axis: int = -1, prepend=None, append=None) -> Value:
    """The n-th differences along `axis`, as numpy.diff: out[..., i, ...] = x[..., i + 1, ...] -
    x[..., i, ...], n times, so the axis gets n elements shorter; `prepend` and `append` (a
    number, or an array with x's shape off the axis) are joined to x along the axis first. A
    subtraction of two slices, so each element's gradient is the upstream gradient it entered
    minus the one it left, to every order.

    Raises
    ------
    TypeError
        For an n that is not an int.
    ValueError
        For a negative n, a 0-d x, or an axis out of range.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"diff: n is {type(n).__name__} {n!r:.40}; expected an int, the number "
                        f"of times to take differences")
    if n < 0:
        raise ValueError(f"diff: n={n}; expected n >= 0")
    shape = np.shape(data_of(x))
    if not shape:
        raise ValueError("diff: x is 0-d; expected at least one axis to take differences along")
    axis = checked_axis("diff", axis, shape)
    parts = [_along(extra, shape, axis) for extra in (prepend,) if extra is not None]
    parts += [x] + [_along(extra, shape, axis) for extra in (append,) if extra is not None]
    out = cat(parts, axis=axis) if len(parts) > 1 else as_value(x)
    later, earlier = ((slice(None),) * axis + (part,) for part in (slice(1, None),
                                                                    slice(None, -1)))
    for _ in range(n):
        out = out[later] - out[earlier]
    return out


def _along(extra, shape: tuple[int, ...], axis: int):
    """diff's prepend or append: a number or a 0-d array as one slice of x's shape along axis."""
    if np.ndim(data_of(extra)) == 0:
        return np.broadcast_to(np.asarray(data_of(extra)), shape[:axis] + (1,) + shape[axis + 1:])
    return extra


def _check_running_axis(op: str, x, axis) -> None:
    """Raise unless axis is None or one axis of x; numpy takes a 0-d x as 1-D, so for it the
    axis is one of the 1-D result's (0 or -1)."""
    if axis is not None:
        shape = _shape(x)
        checked_axis(op, axis, shape, ndim=len(shape) or 1)


def argmax(x, axis=None, keepdims: bool = False) -> np.ndarray:
    """Position of the maximum along `axis` (None: in the flattened x), as numpy.argmax: an
    integer numpy array, not a Value (positions have no gradient). Ties: the first position."""
    data = _checked_arg("argmax", x, axis)
    return np.asarray(np.argmax(data, axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims: bool = False) -> np.ndarray:
    """Position of the minimum along `axis` (None: in the flattened x), as numpy.argmin: an
    integer numpy array, not a Value (positions have no gradient). Ties: the first position."""
    data = _checked_arg("argmin", x, axis)
    return np.asarray(np.argmin(data, axis=axis, keepdims=keepdims))


def _shape(x) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Value, np.ndarray)) else np.shape(x)


def _check_nonempty(op: str, x, axis) -> None:
    """Raise unless `axis` is valid and each reduced axis has at least one element."""
    shape = _shape(x)
    axes = checked_axes(op, axis, shape)
    if any(shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: input of shape {shape} has no elements along axis {axis!r}; "
                         f"expected at least one element along every reduced axis")


def _check_ddof(op: str, x, axis, ddof) -> None:
    """Raise unless `axis` is valid and ddof leaves at least one degree of freedom."""
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, numbers.Integral):
        raise TypeError(f"{op}: ddof {ddof!r:.60} is a {type(ddof).__name__}; expected an int "
                        f"(0: population, 1: sample {op})")
    shape = _shape(x)
    axes = checked_axes(op, axis, shape)
    count = int(np.prod([shape[a] for a in axes]))
    if not 0 <= ddof < count:
        raise ValueError(f"{op}: ddof={ddof} with {count} elements per {op} (shape {shape}, "
                         f"axis {axis!r}) leaves {count - ddof} degrees of freedom; expected "
                         f"0 <= ddof < {count}; reduce over more elements or lower ddof")


def _checked_arg(op: str, x, axis) -> np.ndarray:
    """x's data, after checking that `axis` is None or one axis with elements."""
    data = x.data if isinstance(x, Value) else np.asarray(x)
    if axis is not None:
        checked_axis(op, axis, data.shape)
    if data.size == 0 or (axis is not None and data.shape[axis] == 0):
        raise ValueError(f"{op}: input of shape {data.shape} has no elements along axis "
                         f"{axis!r}; expected at least one element")
    return data


class Norm(Reduction):
    """The vector p-norm over `axis`: (sum |x|^ord)^(1/ord); ord inf / -inf: the largest /
    smallest |x|; ord 0: the number of nonzero elements (no gradient)."""

    def forward(self, x, ord, axis, keepdims):
        axes = self.keep(x, axis)
        x = x.astype(float_dtype(x.dtype), copy=False)
        a = np.abs(x)
        if ord == math.inf:
            out = a.max(axis=axes, keepdims=True)
        elif ord == -math.inf:
            out = a.min(axis=axes, keepdims=True)
        elif ord == 0:
            out = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
        elif ord == 1:
            out = a.sum(axis=axes, keepdims=True)
        elif ord == 2:
            out = np.sqrt((x * x).sum(axis=axes, keepdims=True))
        else:
            with np.errstate(divide="ignore"):      # 0^ord = inf for ord < 0: a norm of 0
                out = (a ** ord).sum(axis=axes, keepdims=True) ** (1 / ord)
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape)
                                                 if i not in axes])

    # ||x|| = (sum |x_j|^p)^(1/p)  =>  d||x||/dx_i = sign(x_i) |x_i|^(p-1) / ||x||^(p-1),
    # 0 where ||x|| = 0; p = 1: sign(x_i); p = inf: sign(x_i) / k at the k largest |x|;
    # p < 1: 0 where x_i = 0 (not 0 * inf); p = 0: no gradient (a count)
    def backward(self, grad):
        x, out = self.saved()
        p, data = self.params["ord"], data_of(x)
        if p == 0:
            return (None,)
        g, n = grad.reshape(self.kept_shape), out.reshape(self.kept_shape)
        sign = (data > 0).view(np.int8) - (data < 0).view(np.int8)      # a constant
        if p == 1:
            return g * sign
        if math.isinf(p):           # the extreme |x| share the gradient, as PyTorch's amax
            a = np.abs(data)
            picked = (a == data_of(n)) | np.isnan(a)
            share = sign * picked / picked.sum(axis=self.axes, keepdims=True)
            return g * share.astype(data.dtype, copy=False)
        if p < 1:                   # |x_i|^(p-1) is infinite at x_i = 0: the gradient is 0 there
            at_zero = data == 0
            scaled = sign * Where.run(at_zero, 0, Abs.run(Where.run(at_zero, 1, x)) ** (p - 1))
            return scaled * g * n ** (1 - p)
        zero = data_of(n) == 0                              # ||x|| = 0: the gradient is 0
        per_norm = Where.run(zero, 0, g / Where.run(zero, 1, n) ** (p - 1))
        if p == 2:
            return per_norm * x
        # sign(x) |x|^(p-1), as PyTorch writes it on each side of p = 2
        scaled = sign * Abs.run(x) ** (p - 1) if p < 2 else x * Abs.run(x) ** (p - 2)
        return scaled * per_norm


def norm(x, ord: float = 2, axis=None, keepdims: bool = False) -> Value:
    """The vector p-norm of x over `axis` (None: all elements, as one vector; an int or a tuple
    of ints), as torch.linalg.vector_norm with numpy's names: (sum |x|^ord)^(1/ord) for a real
    ord != 0 (0 < ord < 1 and ord < 0 too), max |x| for ord=inf, min |x| for ord=-inf, and the
    number of nonzero elements for ord=0 (no gradient). Unlike numpy.linalg.norm, a 2-tuple
    axis (or a 2-D x with axis=None and ord=2) still gives the norm of the entries as one
    vector, never a matrix norm (those are matrix_norm's).

    Gradient: sign(x) |x|^(ord-1) / ||x||^(ord-1), 0 where ||x|| = 0 (never nan), and for
    ord=inf/-inf shared equally by the elements of extreme |x|, as PyTorch's."""
    if ord is None:                 # numpy's default for vectors
        ord = 2
    if isinstance(ord, (bool, np.bool_)) or not isinstance(ord, numbers.Real) or math.isnan(ord):
        hint = ("matrix norms ('fro', 'nuc', ...) are tc.ops.matrix_norm's" if isinstance(ord, str)
                else "e.g. ord=1, ord=2 or ord=math.inf")
        raise TypeError(f"norm: ord is {ord!r:.60}; expected a real number (a vector norm); "
                        f"{hint}")
    if math.isinf(ord):             # max / min |x| of no elements is undefined
        _check_nonempty("norm", x, axis)
    else:
        checked_axes("norm", axis, _shape(x))
    return Norm.apply(x, ord=float(ord), axis=axis, keepdims=keepdims)
