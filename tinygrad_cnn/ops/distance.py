"""Distances and similarities built on `norm`: normalize, cosine_similarity and
pairwise_distance, as PyTorch's; and ClampedValue, the clamp that PyTorch applies to a norm or a
variance without recording it (a floor on the value that leaves the gradient alone)."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.axes import checked_axis
from tinygrad_cnn.ops.elementwise import clip
from tinygrad_cnn.ops.reduce import norm
from tinygrad_cnn.ops.shape import broadcast_to, reshape
from tinygrad_cnn.value import Value, as_value, data_of


class ClampedValue(Function):
    """max(x, low) as the value, with x's gradient passed through unchanged: what PyTorch's
    cosine_similarity and gaussian_nll_loss compute by clamping a tensor in place under no_grad
    (the clamp is not recorded, so the gradient is that of the unclamped x)."""

    def forward(self, x, low):
        return np.maximum(x, low)

    # the clamp is not differentiated: d/dx = 1 everywhere, also where x < low
    def backward(self, grad):
        return grad


def normalize(x, p: float = 2.0, axis=1, eps: float = 1e-12) -> Value:
    """x / max(||x||_p, eps), the p-norm taken over `axis` (an int or a tuple of ints): each
    vector along `axis` scaled to norm 1, as PyTorch's F.normalize (numpy's name axis for its
    dim). A vector shorter than eps is divided by eps, not by its norm: a zero vector stays
    zero, with the gradient 1 / eps."""
    _check_eps("normalize", eps)
    check_p("normalize", p)
    return x / clip(norm(x, p, axis=axis, keepdims=True), min=eps)


def cosine_similarity(x1, x2, axis: int = 1, eps: float = 1e-8) -> Value:
    """cos(x1, x2) = sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along `axis`, as
    PyTorch's F.cosine_similarity: x1 and x2 broadcast against each other first (numpy's
    rules), the result has their broadcast shape without `axis`.

    As PyTorch's since 2.0, each input is divided by its own clamped norm (so |cos| <= 1 and no
    product of two norms overflows), and the clamp at eps is not differentiated: a vector shorter
    than eps gets the gradient of x1 / eps . x2 / ||x2|| with ||x1||'s gradient passed on as if
    unclamped."""
    _check_eps("cosine_similarity", eps)
    a, b = np.shape(data_of(x1)), np.shape(data_of(x2))
    try:
        shape = np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(f"cosine_similarity: x1 has shape {a} and x2 has shape {b}, which do not "
                         f"broadcast together; expected shapes that numpy can broadcast, e.g. "
                         f"(N, D) with (N, D), (1, D) or (D,)") from None
    if not shape:
        raise ValueError(f"cosine_similarity: x1 {a} and x2 {b} broadcast to a scalar; expected "
                         f"vectors, at least one axis to take the cosine along")
    ax = checked_axis("cosine_similarity", axis, shape)
    x1, x2 = _broadcast(x1, shape), _broadcast(x2, shape)
    n1 = ClampedValue.apply(norm(x1, 2, axis=ax, keepdims=True), low=float(eps))
    n2 = ClampedValue.apply(norm(x2, 2, axis=ax, keepdims=True), low=float(eps))
    return ((x1 / n1) * (x2 / n2)).sum(axis=ax)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Value:
    """||x1 - x2 + eps||_p over the last axis of x1 - x2, as PyTorch's F.pairwise_distance: x1 and
    x2 broadcast, (N, D) with (N, D) or (D,) -> (N,) ((N, 1) with keepdim). eps is added to every
    difference, so equal inputs are eps * D^(1/p) apart and the 2-norm's gradient stays
    finite."""
    _check_eps("pairwise_distance", eps)
    check_p("pairwise_distance", p)
    a, b = np.shape(data_of(x1)), np.shape(data_of(x2))
    try:
        ndim = len(np.broadcast_shapes(a, b))
    except ValueError:
        raise ValueError(f"pairwise_distance: x1 has shape {a} and x2 has shape {b}, which do not "
                         f"broadcast together; expected vectors along the last axis, e.g. (N, D) "
                         f"with (N, D) or (D,)") from None
    if ndim == 0:
        raise ValueError(f"pairwise_distance: x1 {a} and x2 {b} are scalars; expected vectors "
                         f"along the last axis, e.g. (N, D)")
    return norm(as_value(x1) - x2 + eps, p, axis=ndim - 1, keepdims=keepdim)


def cdist(x1, x2, p: float = 2.0) -> Value:
    """The p-norm distance between each row of x1 and each row of x2, as torch.cdist: x1
    (..., P, M) and x2 (..., R, M), leading axes broadcast, -> (..., P, R), out[..., i, j] =
    ||x1[..., i, :] - x2[..., j, :]||_p. The norm of the broadcast differences, so it holds
    P * R * M numbers at once, and the gradient at a zero distance is 0, as PyTorch's.

    Raises
    ------
    ValueError
        For inputs that are not stacks of rows of one length, leading axes that do not
        broadcast, or a p that is not a number >= 0.
    """
    check_p("cdist", p)
    if p < 0:
        raise ValueError(f"cdist: p is {p!r}; expected a number >= 0")
    a, b = np.shape(data_of(x1)), np.shape(data_of(x2))
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-1]:
        raise ValueError(f"cdist: x1 has shape {a} and x2 has shape {b}; expected rows of one "
                         f"length, x1 (..., P, M) and x2 (..., R, M)")
    try:
        np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        raise ValueError(f"cdist: the leading axes of x1 {a} and x2 {b} do not broadcast; "
                         f"expected equal sizes or 1") from None
    rows = reshape(x1, a[:-1] + (1, a[-1]))              # (..., P, 1, M)
    columns = reshape(x2, b[:-2] + (1,) + b[-2:])        # (..., 1, R, M)
    return norm(rows - columns, p, axis=-1)


def _broadcast(x, shape: tuple[int, ...]) -> Value:
    """x broadcast to `shape` (itself when it has that shape already)."""
    x = as_value(x)
    return x if x.shape == shape else broadcast_to(x, shape)


def _check_eps(fn: str, eps) -> None:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{fn}: eps is {eps!r}; expected a number >= 0 (a small floor such as "
                         f"the default)")


def check_p(fn: str, p) -> None:
    """The order p of a norm is a real number (not a bool, not nan), else an error naming `fn`
    (an op or a loss module)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or np.isnan(p):
        raise ValueError(f"{fn}: p is {p!r:.60}; expected a real number, the order of the norm "
                         f"(e.g. 1.0 or 2.0)")
