"""inv, solve, det, slogdet, cholesky, eigh and svd: the identities that define each result,
gradcheck and gradgradcheck in float64 over single matrices, stacks and broadcast batches, textbook
derivatives, float32 kept, and the errors for matrices they cannot take."""

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


def test_det_gradient_at_a_singular_matrix_is_refused_not_wrong():
    x = tc.Value(np.ones((2, 2)))
    d = ops.det(x)
    assert d.item() == 0.0                      # the value itself is fine
    with pytest.raises(np.linalg.LinAlgError, match="det: the gradient, a multiple of A\\^-T, "
                                                    "needs A invertible: inv: the matrix is "
                                                    "singular"):
        d.backward()


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
