"""inv, solve, det, slogdet, cholesky, eigh, svd and matrix_norm: the identities that define each
result (numpy's values for matrix_norm), gradcheck and gradgradcheck in float64 over single
matrices, stacks and broadcast batches, textbook derivatives, float32 kept, and the errors for
matrices they cannot take."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def spd(a):
    """A symmetric positive-definite matrix a a^T + n I made from any square a: an array from
    an array, a Value from a Value."""
    n = a.shape[-1]
    transpose = ops.swapaxes if isinstance(a, tc.Value) else np.swapaxes
    return a @ transpose(a, -1, -2) + n * np.eye(n)


SHAPES = [(1, 1), (3, 3), (2, 4, 4), (2, 1, 3, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_results_satisfy_their_defining_identities(rng, shape):
    a = rng.normal(size=shape)
    eye = np.broadcast_to(np.eye(shape[-1]), shape)
    np.testing.assert_allclose(a @ ops.inv(a).data, eye, atol=1e-12)
    b = rng.normal(size=shape[:-1] + (2,))
    np.testing.assert_allclose(a @ ops.solve(a, b).data, b, atol=1e-12)
    d = ops.det(a).data
    assert d.shape == shape[:-2]
    np.testing.assert_allclose(d, np.prod(np.linalg.eigvals(a), axis=-1).real, rtol=1e-10)
    sign, logabsdet = ops.slogdet(a)
    np.testing.assert_allclose(sign * np.exp(logabsdet.data), d, rtol=1e-12)
    s = spd(a)
    lower = ops.cholesky(s).data
    np.testing.assert_array_equal(lower, np.tril(lower))
    np.testing.assert_allclose(lower @ np.swapaxes(lower, -1, -2), s, rtol=1e-12)
    w, v = ops.eigh(s)
    assert np.all(np.diff(w.data, axis=-1) >= 0)
    np.testing.assert_allclose((v.data * w.data[..., None, :]) @ np.swapaxes(v.data, -1, -2),
                               s, rtol=1e-10)
    np.testing.assert_allclose(np.swapaxes(v.data, -1, -2) @ v.data, eye, atol=1e-12)


def test_solve_follows_numpy_2s_rule_for_b(rng):
    a = rng.normal(size=(2, 3, 3))
    vector = rng.normal(size=3)                  # 1-D: one vector for every matrix
    x = ops.solve(a, vector)
    assert x.shape == (2, 3)
    np.testing.assert_allclose(np.einsum("bij,bj->bi", a, x.data), np.tile(vector, (2, 1)))
    columns = rng.normal(size=(3, 2))            # 2-D: one matrix, broadcast over the stack
    assert ops.solve(a, columns).shape == (2, 3, 2)
    assert ops.solve(a[0], rng.normal(size=(4, 3, 1))).shape == (4, 3, 1)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck_and_gradgradcheck(rng, shape):
    a = rng.normal(size=shape) + 2 * np.eye(shape[-1])      # well away from singular
    b = rng.normal(size=shape[:-1] + (2,))
    checks = [(ops.inv, [a]), (ops.solve, [a, b]), (ops.det, [a]),
              (lambda m: ops.slogdet(m)[1], [a]),
              (lambda m: ops.cholesky(spd(m)), [a]),
              (lambda m: ops.eigh(spd(m))[0], [a]),
              (lambda m: ops.eigh(spd(m))[1] ** 2, [a])]       # squared: sign-free
    for fn, inputs in checks:
        assert tc.gradcheck(fn, inputs), fn
        assert tc.gradgradcheck(fn, inputs), fn


@pytest.mark.parametrize("a_shape, b_shape", [((3, 3), (2, 3, 2)), ((2, 1, 3, 3), (4, 3, 1)),
                                              ((2, 3, 3), (3,)), ((1, 3, 3), (2, 3, 2))])
def test_solve_gradients_through_broadcast_batches(rng, a_shape, b_shape):
    a = rng.normal(size=a_shape) + 3 * np.eye(3)
    b = rng.normal(size=b_shape)
    assert tc.gradcheck(ops.solve, [a, b])
    assert tc.gradgradcheck(ops.solve, [a, b])


def test_textbook_derivatives(rng):
    a = rng.normal(size=(3, 3)) + 2 * np.eye(3)
    x = tc.Value(a)
    ops.det(x).backward()                       # Jacobi: d det / dA = det(A) A^-T
    np.testing.assert_allclose(x.grad, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-12)
    x = tc.Value(a)
    ops.slogdet(x)[1].backward()                # d log|det| / dA = A^-T
    np.testing.assert_allclose(x.grad, np.linalg.inv(a).T, rtol=1e-12)
    x = tc.Value(a)
    g = rng.normal(size=(3, 3))
    ops.inv(x).backward(g)                      # -A^-T g A^-T
    inv_t = np.linalg.inv(a).T
    np.testing.assert_allclose(x.grad, -inv_t @ g @ inv_t, rtol=1e-12)
    s = spd(a)
    x = tc.Value(s)
    ops.eigh(x)[0].sum().backward()             # sum of eigenvalues = trace: gradient I
    np.testing.assert_allclose(x.grad, np.eye(3), atol=1e-12)


def test_at_a_repeated_eigenvalue_only_a_gradient_reaching_its_eigenvectors_is_refused():
    x = tc.Value(np.diag([2.0, 2.0, 5.0]))
    w, _ = ops.eigh(x)
    (w * np.array([1.0, 1.0, 3.0])).sum().backward()     # the repeated pair treated alike
    np.testing.assert_allclose(x.grad, np.diag([1.0, 1.0, 3.0]), atol=1e-12)
    x = tc.Value(np.diag([2.0, 2.0, 5.0]))
    with pytest.raises(ValueError, match="eigh: the eigenvectors' gradient needs distinct "
                                         "values, but some matrix has a repeated one"):
        (ops.eigh(x)[1][:, 0] ** 2 * np.array([1.0, 2.0, 3.0])).sum().backward()
    # the eigenvector of the distinct eigenvalue 5 has a derivative: along E_02 + E_20,
    # v_2 = e_2 + t / 3 e_0 + ..., so d(v_02 v_22)/dt = 1/3 (finite differences agree)
    a = np.diag([2.0, 2.0, 5.0])
    x = tc.Value(a)
    v = ops.eigh(x)[1]
    (v[0, 2] * v[2, 2]).backward()
    direction = np.zeros((3, 3))
    direction[0, 2] = direction[2, 0] = 1.0
    t = 1e-6
    moved = [np.linalg.eigh(a + s * t * direction)[1] for s in (1, -1)]
    numeric = (moved[0][0, 2] * moved[0][2, 2] - moved[1][0, 2] * moved[1][2, 2]) / (2 * t)
    np.testing.assert_allclose((x.grad * direction).sum(), numeric, rtol=1e-6)
    np.testing.assert_allclose(numeric, 1 / 3, rtol=1e-6)


def test_gradient_of_a_symmetric_input_is_symmetric(rng):
    s = spd(rng.normal(size=(4, 4)))
    for fn in (ops.cholesky, lambda m: ops.eigh(m)[1] ** 2):
        x = tc.Value(s)
        fn(x).backward(rng.normal(size=(4, 4)))
        np.testing.assert_allclose(x.grad, x.grad.T, atol=1e-14)


def test_float32_stays_float32(rng):
    a = (rng.normal(size=(2, 3, 3)) + 2 * np.eye(3)).astype(np.float32)
    s = spd(a).astype(np.float32)
    for fn, m in [(ops.inv, a), (ops.det, a), (lambda m: ops.slogdet(m)[1], a),
                  (lambda m: ops.solve(m, m), a), (ops.cholesky, s),
                  (lambda m: ops.eigh(m)[0], s), (lambda m: ops.eigh(m)[1], s)]:
        x = tc.Value(m)
        out = fn(x)
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


def test_errors_name_the_shape_and_the_matrix(rng):
    for op in (ops.inv, ops.det, ops.cholesky, ops.eigh):
        with pytest.raises(ValueError, match=r"a has shape \(2, 3\); expected a square matrix"):
            op(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"a has shape \(3,\); expected a square matrix"):
        ops.slogdet(np.zeros(3))
    with pytest.raises(TypeError, match="inv: a has dtype bool; expected real numbers"):
        ops.inv(np.eye(2, dtype=bool))
    singular = np.stack([np.eye(2), np.ones((2, 2))])
    with pytest.raises(np.linalg.LinAlgError, match=r"inv: the matrix at index \(1,\) of the "
                                                    r"stack \(2, 2, 2\) is singular"):
        ops.inv(singular)
    with pytest.raises(np.linalg.LinAlgError, match=r"solve: the matrix is singular"):
        ops.solve(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"solve: b of shape \(3, 1\) does not fit a of shape "
                                         r"\(2, 2\); expected b \(2,\) or \(\.\.\., 2, K\)"):
        ops.solve(np.eye(2), np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"solve: the batch axes of a \(2, 2, 2\) and b "
                                         r"\(3, 2, 1\) do not broadcast"):
        ops.solve(np.ones((2, 2, 2)), np.ones((3, 2, 1)))
    not_pd = np.stack([np.eye(2), -np.eye(2), np.eye(2)])
    with pytest.raises(np.linalg.LinAlgError, match=r"cholesky: the matrix at index \(1,\) of "
                                                    r"the stack \(3, 2, 2\) is not positive "
                                                    r"definite .*A A\^T \+ eps I"):
        ops.cholesky(not_pd)


# Matrices whose numpy.linalg.det is exactly 0 (checked below), of rank M - 1 and M - 2
RANK_1_BELOW = {1: [[0.0]], 2: [[1.0, 2.0], [2.0, 4.0]],
                3: [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
                4: [[1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 0.0, 1.0], [3.0, 3.0, 3.0, 5.0],
                    [0.0, 1.0, 2.0, 3.0]]}                 # row 2 = row 0 + row 1 - row 3
RANK_2_BELOW = {2: np.zeros((2, 2)), 3: np.outer([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
                4: np.arange(16.0).reshape(4, 4)}
# singular too, but numpy's det may be rounding rather than 0 (~7e-18 for the 3 x 3; ~9e-16 or
# exactly 0 for the 4 x 4, by the machine's OpenBLAS kernel)
ROUNDED = {3: np.arange(1.0, 10.0).reshape(3, 3) / 10,
           4: [[2.0, 1.0, 0.0, 1.0], [1.0, 3.0, 1.0, 0.0], [3.0, 4.0, 1.0, 1.0],
               [0.0, 1.0, 2.0, 3.0]]}                      # row 2 = row 0 + row 1


def singular_cases(rng) -> dict:
    """Singular matrices by name: one of each rank and size, and stacks that mix them with
    invertible ones."""
    invertible = rng.normal(size=(3, 4, 4)) + 2 * np.eye(4)
    cases = {f"{m}x{m} rank {m - 1}": np.array(a) for m, a in RANK_1_BELOW.items()}
    cases.update({f"{m}x{m} rank {m - 2}": np.array(a) for m, a in RANK_2_BELOW.items()})
    cases["stack (3, 3, 3)"] = np.stack([np.array(RANK_1_BELOW[3]), invertible[0, :3, :3],
                                         RANK_2_BELOW[3]])
    cases["stack (2, 2, 4, 4)"] = np.stack([np.array(RANK_1_BELOW[4]), invertible[1],
                                            invertible[2], RANK_2_BELOW[4]]).reshape(2, 2, 4, 4)
    return cases


def test_singular_test_matrices_have_a_determinant_of_0_or_rounding():
    for m, a in [*RANK_1_BELOW.items(), *RANK_2_BELOW.items()]:
        assert np.linalg.det(np.array(a)) == 0.0 and np.linalg.matrix_rank(a) < m
    for m, a in ROUNDED.items():
        assert abs(np.linalg.det(np.array(a))) < 1e-15 and np.linalg.matrix_rank(a) == m - 1


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix():
    for a, cofactors in [([[0.0]], [[1.0]]),                 # a 1 x 1 matrix's cofactor is 1
                         ([[1.0, 2.0], [2.0, 4.0]], [[4.0, -2.0], [-2.0, 1.0]]),
                         (RANK_1_BELOW[3], [[-3.0, 6.0, -3.0], [6.0, -12.0, 6.0],
                                            [-3.0, 6.0, -3.0]]),
                         (RANK_2_BELOW[3], np.zeros((3, 3)))]:   # all 2 x 2 minors singular
        x = tc.Value(np.array(a))
        ops.det(x).backward()
        np.testing.assert_allclose(x.grad, cofactors, atol=1e-13)


@pytest.mark.parametrize("name", list(singular_cases(np.random.default_rng(0))))
def test_det_gradcheck_and_gradgradcheck_at_singular_matrices(rng, name):
    a = singular_cases(rng)[name]
    assert tc.gradcheck(ops.det, [a])
    assert tc.gradgradcheck(ops.det, [a])


@pytest.mark.parametrize("m", [3, 4])
def test_det_gradgradcheck_at_matrices_singular_up_to_rounding(m):
    # det(A) A^-T's own derivative would be wrong here in the first digit; the minors are not
    assert tc.gradcheck(ops.det, [np.array(ROUNDED[m])])
    assert tc.gradgradcheck(ops.det, [np.array(ROUNDED[m])])


def test_det_derivatives_of_every_order_at_singular_matrices(rng):
    # det(A + t V) is a polynomial of degree M in t, sum_k c_k t^k, so its k-th derivative at
    # t = 0 is k! c_k (0 past M); the c_k come from det at M + 1 points
    for a in [*RANK_1_BELOW.values(), *RANK_2_BELOW.values(), *ROUNDED.values()]:
        a = np.array(a)
        m = a.shape[-1]
        v = rng.normal(size=a.shape)
        ts = np.arange(m + 1.0) - m // 2
        c = np.linalg.solve(np.vander(ts, increasing=True),
                            [np.linalg.det(a + t * v) for t in ts])
        t = tc.Value(np.array(0.0))
        derivative = ops.det(a + t * v)
        for k in range(1, m + 1):
            (derivative,) = tc.grad(derivative, [t], create_graph=True)
            np.testing.assert_allclose(derivative.item(), math.factorial(k) * c[k], rtol=1e-9,
                                       atol=1e-9, err_msg=f"order {k} at {a.tolist()}")
        if derivative.requires_grad:                  # else a constant: order M + 1 is 0
            (derivative,) = tc.grad(derivative, [t])
            np.testing.assert_allclose(derivative.item(), 0.0, atol=1e-9)


def test_logabsdet_gradient_at_a_singular_matrix_is_refused_not_infinite():
    x = tc.Value(np.ones((2, 2)))
    sign, logabsdet = ops.slogdet(x)
    assert sign == 0 and logabsdet.item() == -np.inf          # the values themselves are fine
    with pytest.raises(np.linalg.LinAlgError, match=r"slogdet: the gradient of logabsdet, A\^-T, "
                                                    r"needs A invertible: inv: the matrix is "
                                                    r"singular .* logabsdet is -inf"):
        logabsdet.backward()


@pytest.mark.parametrize("full_matrices", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_svd_is_the_decomposition_and_gradchecks(rng, shape, full_matrices):
    a = rng.normal(size=shape)
    k = min(shape[-2:])
    u, s, vh = ops.svd(a, full_matrices=full_matrices)
    assert np.all(np.diff(s.data, axis=-1) <= 0)
    us = u.data[..., :k] * s.data[..., None, :]
    np.testing.assert_allclose(us @ vh.data[..., :k, :], a, atol=1e-12)
    columns = u.shape[-1]
    np.testing.assert_allclose(np.swapaxes(u.data, -1, -2) @ u.data,
                               np.broadcast_to(np.eye(columns), u.shape[:-2] + (columns,) * 2),
                               atol=1e-12)
    np.testing.assert_allclose(ops.svd(a, compute_uv=False).data, s.data, rtol=1e-14)
    checks = [lambda m: ops.svd(m, compute_uv=False),
              lambda m: ops.svd(m, full_matrices)[0][..., :k] ** 2,          # squares: sign-free
              lambda m: ops.svd(m, full_matrices)[2][..., :k, :] ** 2,
              lambda m: (lambda u, s, vh: u[..., :, :1] @ vh[..., :1, :])(*ops.svd(m))]
    for fn in checks:
        assert tc.gradcheck(fn, [a])
        assert tc.gradgradcheck(fn, [a])


def test_nuclear_norms_gradient_is_u_vh(rng):
    a = rng.normal(size=(4, 3))
    x = tc.Value(a)
    ops.svd(x, compute_uv=False).sum().backward()
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(x.grad, u @ vh, atol=1e-12)


def test_svd_refuses_gradients_it_cannot_give(rng):
    x = tc.Value(rng.normal(size=(4, 3)))
    with pytest.raises(ValueError, match=r"svd: a gradient reaches U's columns past min\(M, N\), "
                                         r"which full_matrices=True adds"):
        (ops.svd(x)[0] ** 2).sum().backward()
    x = tc.Value(np.eye(3))                         # singular values 1, 1, 1
    with pytest.raises(ValueError, match="svd: the left singular vectors' gradient needs "
                                         "distinct values"):
        (ops.svd(x)[0][:, 0] ** 2 * np.array([1.0, 2.0, 3.0])).sum().backward()
    x = tc.Value(np.eye(3))
    ops.svd(x, compute_uv=False).sum().backward()   # the values alone are fine: U V^T = I
    np.testing.assert_allclose(x.grad, np.eye(3), atol=1e-12)
    x = tc.Value(np.array([[3.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))     # rank 1: s = (3, 0)
    with pytest.raises(ValueError, match="svd: the gradient of the left singular vectors of a "
                                         "non-square matrix divides by the singular values"):
        (ops.svd(x, full_matrices=False)[0] ** 2).sum().backward()
    with pytest.raises(ValueError, match=r"svd: a has shape \(3,\); expected a matrix"):
        ops.svd(np.ones(3))
    with pytest.raises(TypeError, match="svd: full_matrices is int 0; expected True or False"):
        ops.svd(np.eye(2), full_matrices=0)


MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf]


@pytest.mark.parametrize("shape, axis", [((3, 4), (-2, -1)), ((4, 3), (1, 0)),
                                         ((2, 3, 4), (2, 0)), ((1, 1), (0, 1))])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm_equals_numpys_and_gradchecks(rng, shape, axis, keepdims):
    a = rng.normal(size=shape)
    for ord in MATRIX_ORDS:
        out = ops.matrix_norm(a, ord, axis, keepdims)
        np.testing.assert_allclose(out.data, np.linalg.norm(a, ord, axis, keepdims), rtol=1e-13)
        assert tc.gradcheck(lambda m, o=ord: ops.matrix_norm(m, o, axis, keepdims), [a]), ord
        assert tc.gradgradcheck(lambda m, o=ord: ops.matrix_norm(m, o, axis, keepdims), [a]), ord


def test_matrix_norm_gradients_by_hand(rng):
    a = np.array([[1.0, -2.0, 0.0], [3.0, 4.0, -5.0]])
    cases = {"fro": a / np.sqrt(55.0),
             1: np.array([[0.0, -1.0, 0.0], [0.0, 1.0, 0.0]]),      # column 1: 2 + 4 = 6
             -1: np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),      # column 0: 1 + 3 = 4
             math.inf: np.array([[0.0, 0.0, 0.0], [1.0, 1.0, -1.0]]),   # row 1: 12
             -math.inf: np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])}  # row 0: 3; d|0| = 0
    for ord, expected in cases.items():
        x = tc.Value(a.copy())
        ops.matrix_norm(x, ord).backward()
        np.testing.assert_allclose(x.grad, expected, rtol=1e-13, err_msg=str(ord))
    x = tc.Value(a.copy())
    ops.matrix_norm(x, 2).backward()                # d s_max = u_1 v_1^T
    u, _, vh = np.linalg.svd(a)
    np.testing.assert_allclose(x.grad, np.outer(u[:, 0], vh[0]), atol=1e-13)


def test_matrix_norm_shares_the_gradient_of_tied_maxima(rng):
    x = tc.Value(np.array([[1.0, -2.0], [-3.0, 2.0]]))    # column sums 4, 4
    ops.matrix_norm(x, 1).backward()
    np.testing.assert_allclose(x.grad, 0.5 * np.sign(x.data))
    x = tc.Value(2 * np.eye(3))                             # singular values 2, 2, 2
    ops.matrix_norm(x, 2).backward()
    np.testing.assert_allclose(x.grad, np.eye(3) / 3, atol=1e-12)


def test_matrix_norm_dtypes(rng):
    x = tc.Value(rng.normal(size=(3, 3)).astype(np.float32))
    for ord in MATRIX_ORDS:
        out = ops.matrix_norm(x, ord)
        assert out.dtype == np.float32
        x.grad = None
        out.backward()
        assert x.grad.dtype == np.float32
    ints = np.array([[1, -2], [3, 4]])
    out = ops.matrix_norm(ints, 1)
    assert out.dtype == np.float64 and out.item() == np.linalg.norm(ints, 1) == 6.0


def test_matrix_norm_errors():
    with pytest.raises(ValueError, match=r"matrix_norm: ord is 3; expected one of 'fro', 'nuc', "
                                         r"2, -2, 1, -1, inf, -inf"):
        ops.matrix_norm(np.eye(2), 3)
    with pytest.raises(ValueError, match=r"matrix_norm: ord is True"):
        ops.matrix_norm(np.eye(2), True)
    with pytest.raises(ValueError, match=r"matrix_norm: axis is 1; expected two axes .* "
                                         r"tc\.ops\.norm's"):
        ops.matrix_norm(np.eye(2), axis=1)
    with pytest.raises(ValueError, match=r"matrix_norm: axis \(1, -1\) names axis 1 twice for a "
                                         r"of shape \(2, 2\)"):
        ops.matrix_norm(np.eye(2), axis=(1, -1))
    with pytest.raises(ValueError, match=r"matrix_norm: axis 2 is out of range; expected an int "
                                         r"in \[-2, 2\) for an input of shape \(2, 2\)"):
        ops.matrix_norm(np.eye(2), axis=(0, 2))
    with pytest.raises(ValueError, match=r"matrix_norm: the matrices of a \(shape \(0, 3\), "
                                         r"axis \(-2, -1\)\) are empty; ord=1 "):
        ops.matrix_norm(np.zeros((0, 3)), 1)
    assert ops.matrix_norm(np.zeros((0, 3))).item() == 0.0
    with pytest.raises(TypeError, match=r"matrix_norm: a has dtype bool; expected real numbers"):
        ops.matrix_norm(np.eye(2, dtype=bool))
