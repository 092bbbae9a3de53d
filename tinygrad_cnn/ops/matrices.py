"""Functions of matrices, as numpy.linalg's: inv, solve, det, slogdet, cholesky, eigh, svd,
matrix_power and matrix_norm. Each takes a matrix or a stack of them (..., M, N), square but for
svd and matrix_norm. Every rule is written with matmul, transposes, getitem, where and these ops
themselves, so it differentiates to every order."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.axes import checked_axis
from tinygrad_cnn.ops.elementwise import Where, where
from tinygrad_cnn.ops.indexing import GetItem, ScatterAdd
from tinygrad_cnn.ops.linalg import matrix_transpose
from tinygrad_cnn.ops.rearrange import expand_dims, moveaxis
from tinygrad_cnn.ops.shape import reshape, unbroadcast
from tinygrad_cnn.value import Value, as_value, data_of


class Inv(Function):
    """A^{-1} of each matrix."""

    def forward(self, a):
        return _factored("inv", np.linalg.inv, a)

    # B = A^{-1}: A B = I gives dA B + A dB = 0, so dB = -B dA B and
    # <G, dB> = <-B^T G B^T, dA>  =>  dA = -B^T G B^T
    def backward(self, grad):
        _, b = self.saved()
        bt = matrix_transpose(b)
        return -(bt @ grad @ bt)


class Solve(Function):
    """X = A^{-1} B for A (..., M, M) and B (..., M, K); batch axes broadcast."""

    def forward(self, a, b):
        return _factored("solve", np.linalg.solve, a, b)

    # A X = B gives dA X + A dX = dB, so dX = A^{-1} (dB - dA X) and
    # <G, dX> = <A^{-T} G, dB - dA X>  =>  dB = A^{-T} G,  dA = -dB X^T
    def backward(self, grad):
        a, b, x = self.saved()
        db = Solve.run(matrix_transpose(a), grad)
        da = -(db @ matrix_transpose(x)) if self.needs_input_grad[0] else None
        return (None if da is None else unbroadcast(da, a.shape),
                unbroadcast(db, b.shape) if self.needs_input_grad[1] else None)


class Det(Function):
    """det(A) of each matrix: (..., M, M) -> (...)."""

    def forward(self, a):
        return np.linalg.det(a)

    # Expanding det(A) along row i, det(A) = sum_j A_ij cof(A)_ij, and cof(A)_ij does not
    # involve row i: d det(A) / dA_ij = cof(A)_ij  =>  dA = g cof(A), the cofactor matrix, for
    # every A (Jacobi's formula: cof(A) = det(A) A^{-T} where A is invertible)
    def backward(self, grad):
        a, d = self.saved()
        return grad.reshape(grad.shape + (1, 1)) * _cofactors(a, d)


class LogAbsDet(Function):
    """log |det(A)| of each matrix: (..., M, M) -> (...)."""

    def forward(self, a):
        return np.linalg.slogdet(a)[1]

    # d log|det(A)| = tr(A^{-1} dA)  =>  dA = g A^{-T}
    def backward(self, grad):
        a, _ = self.saved()
        return grad.reshape(grad.shape + (1, 1)) * matrix_transpose(_inverse_for_logabsdet(a))


class Cholesky(Function):
    """The lower-triangular L with L L^T = A, for a symmetric positive-definite A; only A's
    lower triangle is read, as numpy's."""

    def forward(self, a):
        return _factored("cholesky", np.linalg.cholesky, a)

    # A = L L^T gives L^{-1} dA L^{-T} = L^{-1} dL + (L^{-1} dL)^T, and L^{-1} dL is lower
    # triangular, so dL = L Phi(L^{-1} dA L^{-T}) with Phi: the lower triangle, diagonal
    # halved. Phi is its own adjoint, so <G, dL> = <L^{-T} Phi(L^T G) L^{-1}, dA>; only
    # symmetric dA are allowed, so the gradient is that matrix's symmetric part.
    def backward(self, grad):
        _, lower = self.saved()
        lt = matrix_transpose(lower)
        phi = (lt @ grad) * _lower_with_half_diagonal(lower.shape[-1], lower.dtype)
        z = Solve.run(lt, matrix_transpose(Solve.run(lt, phi)))    # (L^{-T} Phi L^{-1})^T
        return 0.5 * (z + matrix_transpose(z))


class Eigenvalues(Function):
    """The eigenvalues w of each symmetric A, ascending: (..., M, M) -> (..., M); only A's lower
    triangle is read, as numpy's eigh."""

    def forward(self, a):
        return np.linalg.eigvalsh(a)

    # A = V diag(w) V^T with V orthogonal: dw_i = v_i^T dA v_i  =>  dA = V diag(g) V^T
    def backward(self, grad):
        a, _ = self.saved()
        v = Eigenvectors.run(a)
        return (v * grad.reshape(grad.shape[:-1] + (1, grad.shape[-1]))) @ matrix_transpose(v)


class Eigenvectors(Function):
    """The orthonormal eigenvectors of each symmetric A, as the columns of V (..., M, M), in the
    order of the ascending eigenvalues; each column's sign is numpy's (LAPACK's) choice."""

    def forward(self, a):
        return np.linalg.eigh(a)[1]

    # With W = V^T dA V, dv_j = sum_{i != j} v_i W_ij / (w_j - w_i), i.e. dV = V (F * W) with
    # F_ij = 1 / (w_j - w_i) off the diagonal and 0 on it; F * (.) is its own adjoint, so
    # <G, dV> = <V (F * V^T G) V^T, dA>, and its symmetric part is the gradient.
    def backward(self, grad):
        a, v = self.saved()
        w = Eigenvalues.run(a)
        vt_g = matrix_transpose(v) @ grad
        f = _inverse_gaps(_row(w) - _column(w), vt_g, "eigh: the eigenvectors")
        z = v @ (f * vt_g) @ matrix_transpose(v)
        return 0.5 * (z + matrix_transpose(z))


class SingularValues(Function):
    """The singular values s of each matrix (..., M, N), descending: (..., K), K = min(M, N)."""

    def forward(self, a):
        return np.linalg.svd(a, compute_uv=False)

    # A = U diag(s) V^T with U, V orthonormal columns: ds_i = u_i^T dA v_i
    #   =>  dA = U diag(g) V^T
    def backward(self, grad):
        a, _ = self.saved()
        u, vt = LeftSingularVectors.run(a), RightSingularVectors.run(a)
        return (u * _row(grad)) @ vt


class LeftSingularVectors(Function):
    """U of A = U diag(s) V^T: (..., M, K), or (..., M, M) with full_matrices=True; each
    column's sign is LAPACK's choice (with the matching row of Vh)."""

    def forward(self, a, full_matrices=False):
        return np.linalg.svd(a, full_matrices=full_matrices)[0]

    # With F_ij = 1 / (s_j^2 - s_i^2) off the diagonal (0 on it) and S = diag(s), the part of
    # the SVD's rule that U's gradient G feeds (Townsend, "Differentiating the SVD"):
    #   dA = U (F * (U^T G - G^T U)) S V^T + (I - U U^T) G S^-1 V^T
    # the second term only where M > K. Extra columns of a full U are any basis of the rest
    # of the space: no gradient may reach them.
    def backward(self, grad):
        a, u = self.saved()
        k = min(a.shape[-2:])
        _refuse_extra_vectors(data_of(grad)[..., k:], "U's columns")
        u, g = u[..., :k], grad[..., :k]
        s, vt = SingularValues.run(a), RightSingularVectors.run(a)
        ut_g = matrix_transpose(u) @ g
        f = _inverse_gaps(_row(s * s) - _column(s * s), ut_g, "svd: the left singular vectors")
        da = u @ ((f * (ut_g - matrix_transpose(ut_g))) * _row(s)) @ vt
        if a.shape[-2] > k:
            _refuse_zero_singular_values(data_of(s), "left")
            da = da + ((g - u @ ut_g) * _row(1 / s)) @ vt
        return da


class RightSingularVectors(Function):
    """Vh = V^T of A = U diag(s) V^T: (..., K, N), or (..., N, N) with full_matrices=True;
    row i is the right singular vector of s_i, its sign matching U's column i."""

    def forward(self, a, full_matrices=False):
        return np.linalg.svd(a, full_matrices=full_matrices)[2]

    # With G = the gradient of V (the transposed gradient of Vh), the SVD rule's part:
    #   dA = U S (F * (V^T G - G^T V)) V^T + U S^-1 G^T (I - V V^T)
    # the second term only where N > K; no gradient may reach extra rows of a full Vh.
    def backward(self, grad):
        a, vt = self.saved()
        k = min(a.shape[-2:])
        _refuse_extra_vectors(data_of(grad)[..., k:, :], "Vh's rows")
        vt, gt = vt[..., :k, :], grad[..., :k, :]            # V^T and G^T, (..., K, N)
        s, u = SingularValues.run(a), LeftSingularVectors.run(a)
        vt_g = vt @ matrix_transpose(gt)                      # V^T G
        f = _inverse_gaps(_row(s * s) - _column(s * s), vt_g, "svd: the right singular vectors")
        da = u @ ((f * (vt_g - matrix_transpose(vt_g))) * _column(s)) @ vt
        if a.shape[-1] > k:
            _refuse_zero_singular_values(data_of(s), "right")
            da = da + u @ ((gt - matrix_transpose(vt_g) @ vt) * _column(1 / s))
        return da


def _cofactors(a, d):
    """cof(A) of each matrix of a (..., M, M), given d = det(A) (...): det(A) A^{-T} where A is
    invertible and well conditioned, else the definition by minors (see _needs_minors), taken
    for those matrices of the stack alone."""
    by_minors = _needs_minors(a, d)                     # (...) bool
    if by_minors.all():
        return _cofactors_by_minors(a)
    if not by_minors.any():
        return d.reshape(d.shape + (1, 1)) * matrix_transpose(Inv.run(a))
    which = np.nonzero(by_minors)                       # (..., M, M) -> (K, M, M) and back
    from_minors = ScatterAdd.run(_cofactors_by_minors(GetItem.run(a, index=which)), index=which,
                                 shape=a.shape)
    chosen = by_minors[..., None, None]
    invertible = Where.run(chosen, np.eye(a.shape[-1], dtype=a.dtype), a)  # those never inverted
    # a Where, not a sum: at a matrix replaced by I the term below is det(A) I, and its
    # derivative (I times det's) is not 0 even where det(A) is
    return Where.run(chosen, from_minors,
                     d.reshape(d.shape + (1, 1)) * matrix_transpose(Inv.run(invertible)))


def _needs_minors(a, d) -> np.ndarray:
    """Which matrices of the stack take their cofactors by minors (a bool array (...)): those
    with det(A) = 0, which have no inverse, and, when the rule is recorded to be differentiated
    again (a is then a Value), those whose condition number exceeds 1/sqrt(eps) (about 7e7 in
    float64). There the derivative of det(A) A^{-T}, which multiplies det(A) by two inverses,
    loses up to log10 cond(A) digits: at a matrix singular up to rounding (det ~ 1e-16, not 0)
    it is wrong in the first digit. det(A) A^{-T} itself keeps its digits there, so an ordinary
    backward keeps the cheaper rule."""
    needed = data_of(d) == 0
    if isinstance(a, Value) and a.size > 0:             # numpy's cond refuses 0 x 0 matrices
        needed = needed | (np.linalg.cond(a.data, 1) > 1 / np.sqrt(np.finfo(a.dtype).eps))
    return needed


def _cofactors_by_minors(a):
    """cof(A)_ij = (-1)^(i+j) det(minor_ij(A)), the minor being A without row i and column j:
    (..., M, M) -> (..., M, M). That is M^2 determinants of size M - 1 (M^4 numbers and about
    M^2 times an inverse's work), recorded as ops, so at a singular minor the next derivative
    takes the minor's minors in turn. A 1 x 1 matrix's cofactor is 1 (the empty minor's
    determinant)."""
    m = a.shape[-1]
    if m == 1:
        return np.ones(a.shape, dtype=a.dtype)
    kept = np.array([[k for k in range(m) if k != i] for i in range(m)])  # (M, M-1): i dropped
    minors = GetItem.run(a, index=(Ellipsis, kept[:, None, :, None], kept[None, :, None, :]))
    signs = (-1.0) ** np.add.outer(np.arange(m), np.arange(m))            # (M, M): +-1
    return signs.astype(a.dtype) * Det.run(minors)          # minors (..., M, M, M-1, M-1)


def _row(x):
    """x (..., K) as (..., 1, K): multiplying by it scales a matrix's columns."""
    return x.reshape(x.shape[:-1] + (1, x.shape[-1]))


def _column(x):
    """x (..., K) as (..., K, 1): multiplying by it scales a matrix's rows."""
    return x.reshape(x.shape + (1,))


def _inverse_gaps(gaps, mixing, what: str):
    """F_ij = 1 / gaps_ij off the diagonal and 0 on it, for the gaps between eigenvalues (or
    squared singular values) j and i. A zero gap makes vectors i and j any basis of one
    subspace, with no derivative: allowed only where the gradient G reaches neither, i.e. their
    columns of `mixing` (V^T G, of G's norms, V being orthogonal) are 0; there F_ij = 0, else an
    error."""
    gap_data, mix = data_of(gaps), data_of(mixing)
    off_diagonal = ~np.eye(gap_data.shape[-1], dtype=bool)
    closed = (gap_data == 0) & off_diagonal
    reached = np.abs(mix).max(axis=-2, initial=0.0)            # per vector j: is G_j nonzero?
    tolerance = np.sqrt(np.finfo(mix.dtype).eps) * reached.max(initial=0.0)
    if np.any((reached > tolerance)[closed.any(axis=-2)]):
        raise ValueError(f"{what}' gradient needs distinct values, but some matrix has a "
                         f"repeated one, whose vectors are any basis of a subspace, and the "
                         f"loss uses them; expected a loss that uses only the values, or only "
                         f"the vectors of distinct ones, or matrices with distinct values")
    kept = (off_diagonal & ~closed).astype(mix.dtype)
    return kept / (gaps + (1 - kept))


def _refuse_extra_vectors(grad: np.ndarray, which: str) -> None:
    """A full U's columns (a full Vh's rows) past K span the rest of the space in no particular
    basis: a loss that depends on them has no derivative."""
    if np.any(grad != 0):
        raise ValueError(f"svd: a gradient reaches {which} past min(M, N), which full_matrices="
                         f"True adds: they are any basis of the rest of the space, so they have "
                         f"no derivative (PyTorch ignores their gradient); expected "
                         f"full_matrices=False, or a loss that uses only the first min(M, N)")


def _refuse_zero_singular_values(s: np.ndarray, side: str) -> None:
    if np.any(s == 0):
        raise ValueError(f"svd: the gradient of the {side} singular vectors of a non-square "
                         f"matrix divides by the singular values, but some matrix has a zero "
                         f"singular value; expected matrices of full rank")


def inv(a) -> Value:
    """The inverse of each matrix of a (..., M, M), as numpy.linalg.inv.

    Raises
    ------
    ValueError
        For a that is not a stack of square matrices.
    numpy.linalg.LinAlgError
        For a singular matrix, naming its index in the stack.
    """
    _square("inv", a)
    return Inv.apply(a)


def solve(a, b) -> Value:
    """x with a @ x = b, as numpy.linalg.solve (numpy 2's rule): a (..., M, M); b (M,) is one
    vector, giving x (..., M); any other b is a stack of matrices (..., M, K), giving x
    (..., M, K), with a's and b's batch axes broadcast.

    Raises
    ------
    ValueError
        For a that is not a stack of square matrices, or b that does not fit it.
    numpy.linalg.LinAlgError
        For a singular matrix of a, naming its index in the stack.
    """
    m = _square("solve", a)
    b_shape = np.shape(data_of(b))
    rows = b_shape[0] if len(b_shape) == 1 else b_shape[-2] if len(b_shape) > 1 else None
    if rows != m:
        raise ValueError(f"solve: b of shape {b_shape} does not fit a of shape "
                         f"{np.shape(data_of(a))}; expected b ({m},) or (..., {m}, K)")
    batch_a = np.shape(data_of(a))[:-2]
    try:
        np.broadcast_shapes(batch_a, b_shape[:-2])
    except ValueError:
        raise ValueError(f"solve: the batch axes of a {np.shape(data_of(a))} and b {b_shape} "
                         f"do not broadcast; expected equal sizes or 1") from None
    if len(b_shape) == 1:                   # one vector: a column, then back to a vector
        return Solve.apply(a, reshape(b, (m, 1))).reshape(batch_a + (m,))
    return Solve.apply(a, b)


def det(a) -> Value:
    """The determinant of each matrix of a (..., M, M): shape (...), as numpy.linalg.det. The
    gradient is the cofactor matrix cof(A), which exists for every A: det(A) A^-T where A is
    invertible, and at a singular A its definition, cof(A)_ij = (-1)^(i+j) det(A without row i
    and column j), M^2 determinants of size M - 1. Both differentiate again, to every order.

    Raises
    ------
    ValueError
        For a that is not a stack of square matrices.
    """
    _square("det", a)
    return Det.apply(a)


def slogdet(a) -> tuple[np.ndarray, Value]:
    """(sign, logabsdet) of each matrix of a (..., M, M), as numpy.linalg.slogdet: det(a) =
    sign * exp(logabsdet), without the overflow of det itself. sign is a numpy array (+1, -1,
    or 0 for a singular matrix), a constant; logabsdet a Value whose gradient is A^-T. At a
    singular matrix logabsdet is -inf and backward raises numpy.linalg.LinAlgError (PyTorch's
    gradient is infinite there); det's gradient exists.

    Raises
    ------
    ValueError
        For a that is not a stack of square matrices.
    """
    _square("slogdet", a)
    return np.linalg.slogdet(np.asarray(data_of(a)))[0], LogAbsDet.apply(a)


def cholesky(a) -> Value:
    """The lower-triangular L with L @ L^T = a, for each symmetric positive-definite matrix of
    a (..., M, M), as numpy.linalg.cholesky; only a's lower triangle is read. The gradient is
    symmetric (as PyTorch's): the derivative along the symmetric matrices a lives in.

    Raises
    ------
    ValueError
        For a that is not a stack of square matrices.
    numpy.linalg.LinAlgError
        For a matrix that is not positive definite, naming its index in the stack.
    """
    _square("cholesky", a)
    return Cholesky.apply(a)


def eigh(a) -> tuple[Value, Value]:
    """(eigenvalues, eigenvectors) of each symmetric matrix of a (..., M, M), as
    numpy.linalg.eigh: w (..., M) ascending, and V (..., M, M) whose column j is the unit
    eigenvector of w[j], so a = V diag(w) V^T; only a's lower triangle is read. Each column's
    sign is arbitrary (LAPACK's), so a loss should not depend on it (it may use V * V, or
    v v^T for a column v). Both gradients are symmetric, as PyTorch's. The eigenvectors of a
    repeated eigenvalue are any basis of its eigenspace: a gradient that reaches them raises
    ValueError (PyTorch gives NaN); those of the distinct eigenvalues still get theirs. At a
    repeated eigenvalue the eigenvalues' gradient V diag(g) V^T is that of a loss that treats
    the repeated ones alike (their sum); one of them alone has a kink there.

    Raises
    ------
    ValueError
        For a that is not a stack of square matrices.
    """
    _square("eigh", a)
    return Eigenvalues.apply(a), Eigenvectors.apply(a)


def svd(a, full_matrices: bool = True, compute_uv: bool = True):
    """The singular value decomposition a = U diag(S) Vh of each matrix of a (..., M, N), as
    numpy.linalg.svd: (U, S, Vh) with S (..., K) descending, K = min(M, N), U (..., M, K) and
    Vh (..., K, N), or U (..., M, M) and Vh (..., N, N) with full_matrices=True (numpy's
    default); S alone with compute_uv=False. Each singular vector's sign is LAPACK's choice,
    shared by U's column i and Vh's row i, so a loss should not depend on it (U diag(S) Vh
    does not). A gradient that reaches the singular vectors of a repeated singular value
    (any basis of a subspace) or, for a non-square matrix, of a zero one raises ValueError. A
    full U's or Vh's extra vectors are any basis of the rest of the space: a gradient that
    reaches them raises ValueError (PyTorch ignores it).

    Raises
    ------
    ValueError
        For a with fewer than 2 axes.
    TypeError
        For flags that are not bools.
    """
    data = np.asarray(data_of(a))
    if data.ndim < 2:
        raise ValueError(f"svd: a has shape {data.shape}; expected a matrix (M, N) or a stack "
                         f"of them (..., M, N)")
    if data.dtype.kind not in "iuf":
        raise TypeError(f"svd: a has dtype {data.dtype}; expected real numbers")
    for name, flag in (("full_matrices", full_matrices), ("compute_uv", compute_uv)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"svd: {name} is {type(flag).__name__} {flag!r:.40}; expected True "
                            f"or False")
    s = SingularValues.apply(a)
    if not compute_uv:
        return s
    return (LeftSingularVectors.apply(a, full_matrices=bool(full_matrices)), s,
            RightSingularVectors.apply(a, full_matrices=bool(full_matrices)))


def matrix_power(a, n: int) -> Value:
    """a multiplied by itself n times, for each matrix of a (..., M, M), as
    numpy.linalg.matrix_power: by repeated squaring (about 2 log2 n matmuls); a negative n
    powers the inverse; n = 0 gives identity matrices, whose gradient is 0.

    Raises
    ------
    TypeError
        For an n that is not an int.
    ValueError
        For a that is not a stack of square matrices.
    numpy.linalg.LinAlgError
        For a negative n and a singular matrix.
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"matrix_power: n is {type(n).__name__} {n!r:.40}; expected an int")
    m = _square("matrix_power", a)
    base = inv(a) if n < 0 else as_value(a)
    if n == 0:                  # I, recorded on a's graph so that a's gradient is 0, not None
        return where(np.broadcast_to(np.zeros((m, m), dtype=bool), base.shape), base,
                     np.eye(m, dtype=base.dtype))
    result, n = None, abs(int(n))
    while n:                    # the binary digits of n, lowest first
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


_MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)


def matrix_norm(a, ord="fro", axis=(-2, -1), keepdims: bool = False) -> Value:
    """The norm of each matrix of a whose rows and columns are the axes `axis`, as
    numpy.linalg.norm with a 2-tuple axis (and torch.linalg.matrix_norm): 'fro' sqrt(sum a_ij^2),
    'nuc' the sum of the singular values, 2 / -2 the largest / smallest singular value, 1 / -1
    the largest / smallest sum of |a_ij| down a column, inf / -inf along a row. The two axes go
    (or with keepdims=True stay, as size 1). Integer matrices give float64.

    Built from norm, svd, abs, sum, max and min, so its gradient is theirs, to every order: tied
    largest (or smallest) sums or singular values share it equally, as in PyTorch, and |a_ij|
    has gradient 0 at a_ij = 0.

    Raises
    ------
    ValueError
        For an ord that is not one of these, axes that are not two distinct axes of a, or an
        empty matrix with an ord other than 'fro'.
    TypeError
        For a that is not of real numbers (bools included).
    """
    a = as_value(a)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"matrix_norm: a has dtype {a.dtype}; expected real numbers")
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if not isinstance(axis, (tuple, list)) or len(axis) != 2:
        raise ValueError(f"matrix_norm: axis is {axis!r:.60}; expected two axes (rows, columns), "
                         f"e.g. (-2, -1); a vector norm over one axis is tc.ops.norm's")
    rows, cols = (checked_axis("matrix_norm", d, a.shape) for d in axis)
    if rows == cols:
        raise ValueError(f"matrix_norm: axis {tuple(axis)} names axis {rows} twice for a of "
                         f"shape {a.shape}; expected two distinct axes (rows, columns)")
    if isinstance(ord, (bool, np.bool_)) or ord not in _MATRIX_ORDS:
        raise ValueError(f"matrix_norm: ord is {ord!r:.60}; expected one of 'fro', 'nuc', 2, -2, "
                         f"1, -1, inf, -inf")
    if ord != "fro" and 0 in (a.shape[rows], a.shape[cols]):
        raise ValueError(f"matrix_norm: the matrices of a (shape {a.shape}, axis {tuple(axis)}) "
                         f"are empty; ord={ord!r} of an empty matrix is undefined; expected "
                         f"at least one row and one column ('fro' gives 0)")
    m = moveaxis(a, (rows, cols), (-2, -1))     # (..., M, N)
    if ord == "fro":
        out = m.norm(2, axis=(-2, -1))
    elif ord == "nuc":
        out = svd(m, compute_uv=False).sum(axis=-1)
    elif ord in (2, -2):
        s = svd(m, compute_uv=False)
        out = s.max(axis=-1) if ord == 2 else s.min(axis=-1)
    else:                                       # 1, -1: column sums; inf, -inf: row sums
        sums = m.abs().sum(axis=-2 if abs(ord) == 1 else -1)
        out = sums.max(axis=-1) if ord > 0 else sums.min(axis=-1)
    return expand_dims(out, (min(rows, cols), max(rows, cols))) if keepdims else out


def _square(op: str, a) -> int:
    """M, for a stack of square real matrices a (..., M, M); else an error naming a's shape."""
    data = np.asarray(data_of(a))
    if data.ndim < 2 or data.shape[-1] != data.shape[-2]:
        raise ValueError(f"{op}: a has shape {data.shape}; expected a square matrix (M, M) or "
                         f"a stack of them (..., M, M)")
    if data.dtype.kind not in "iuf":
        raise TypeError(f"{op}: a has dtype {data.dtype}; expected real numbers")
    return data.shape[-1]


def _lower_with_half_diagonal(m: int, dtype: np.dtype) -> np.ndarray:
    """The (m, m) mask of Phi: 1 below the diagonal, 1/2 on it, 0 above."""
    return np.tril(np.ones((m, m), dtype=dtype), -1) + 0.5 * np.eye(m, dtype=dtype)


def _inverse_for_logabsdet(a):
    """A^{-1} inside logabsdet's rule (an array, or a Value under create_graph), or an error: at a
    singular A, log|det(A)| is -inf and its gradient A^{-T} does not exist."""
    try:
        return Inv.run(a)
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(f"slogdet: the gradient of logabsdet, A^-T, needs A "
                                    f"invertible: {error}; at a singular matrix logabsdet is -inf "
                                    f"and has no gradient (PyTorch's is infinite); det's "
                                    f"gradient, the cofactor matrix, exists there") from error


def _factored(op: str, factor, *arrays) -> np.ndarray:
    """numpy.linalg's `factor` of the arrays, or an error naming the first matrix of the stack
    (arrays[0]) that it fails on."""
    try:
        return factor(*arrays)
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(_failure(op, arrays[0], error)) from error


def _failure(op: str, a: np.ndarray, error: np.linalg.LinAlgError) -> str:
    """What was wrong (which matrix, and why) and what is expected."""
    check = np.linalg.cholesky if op == "cholesky" else np.linalg.inv
    index = next(i for i in np.ndindex(a.shape[:-2]) if not _succeeds(check, a[i]))
    where = f"the matrix at index {index} of the stack {a.shape}" if a.ndim > 2 else "the matrix"
    if op == "cholesky":
        return (f"cholesky: {where} is not positive definite ({error}); expected symmetric "
                f"positive-definite matrices (only the lower triangle is read); A A^T + eps I "
                f"is one for any A and eps > 0")
    return f"{op}: {where} is singular ({error}); expected invertible matrices"


def _succeeds(check, matrix: np.ndarray) -> bool:
    try:
        check(matrix)
    except np.linalg.LinAlgError:
        return False
    return True
