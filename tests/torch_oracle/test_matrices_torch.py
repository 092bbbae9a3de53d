"""inv, solve, det, slogdet, cholesky, eigh, svd and matrix_norm against torch.linalg in float64:
the forward, every input's gradient through a random upstream gradient and the second
derivatives, on single matrices, stacks and broadcast batches; det also at singular matrices;
the symmetric gradients of cholesky and eigh taken directly at a symmetric matrix, as PyTorch
gives them."""

import numpy as np
import pytest
from oracle_checks import assert_equals_pytorch

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def well_conditioned(*shapes):
    """Random matrices (the last two axes square) with 3 added on the diagonal."""
    return lambda rng: [rng.standard_normal(s) + 3 * np.eye(s[-1]) for s in shapes]


def with_rhs(a_shape, b_shape):
    return lambda rng: [rng.standard_normal(a_shape) + 3 * np.eye(a_shape[-1]),
                        rng.standard_normal(b_shape)]


def spd(*shapes):
    """Symmetric positive-definite matrices a a^T + n I."""
    def make(rng):
        arrays = [rng.standard_normal(s) for s in shapes]
        return [a @ np.swapaxes(a, -1, -2) + s[-1] * np.eye(s[-1])
                for a, s in zip(arrays, shapes, strict=True)]
    return make


def ours_spd(x):
    return x @ ops.swapaxes(x, -1, -2) + x.shape[-1] * np.eye(x.shape[-1])


def theirs_spd(th, x):
    return x @ x.mT + x.shape[-1] * th.eye(x.shape[-1])


# Singular matrices: numpy's det is exactly 0 for some, rounding (2e-16, 3e-15) for others
SINGULAR = {"1x1": [[0.0]], "2x2": [[3.0, -1.0], [-6.0, 2.0]],
            "3x3": [[2.0, 1.0, 3.0], [1.0, 0.0, 1.0], [3.0, 1.0, 4.0]],          # row 2 = 0 + 1
            "4x4": [[1.0, 0.0, 2.0, -1.0], [2.0, 1.0, 0.0, 3.0], [3.0, 1.0, 2.0, 2.0],
                    [0.0, 2.0, -1.0, 1.0]],
            "3x3-rank-1": np.outer([1.0, -2.0, 0.5], [2.0, 1.0, -3.0]),
            "4x4-rank-2": [[1.0, 2.0, 0.0, 1.0], [0.0, 1.0, 1.0, 2.0], [1.0, 3.0, 1.0, 3.0],
                           [2.0, 5.0, 1.0, 4.0]]}


MATRIX_ORDS = ["fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf]


def singular_and_invertible(rng):
    """A stack (2, 2, 4, 4) that mixes singular matrices of rank 3 and 2 with invertible ones."""
    invertible = rng.standard_normal((2, 4, 4)) + 3 * np.eye(4)
    return [np.stack([SINGULAR["4x4"], invertible[0], SINGULAR["4x4-rank-2"],
                      invertible[1]]).reshape(2, 2, 4, 4)]


CASES = [
    ("inv", well_conditioned((3, 3)), ops.inv, lambda th, a: th.linalg.inv(a)),
    ("inv-stack", well_conditioned((2, 3, 4, 4)), ops.inv, lambda th, a: th.linalg.inv(a)),
    ("solve", with_rhs((3, 3), (3, 2)), ops.solve, lambda th, a, b: th.linalg.solve(a, b)),
    ("solve-vector", with_rhs((4, 4), (4,)), ops.solve, lambda th, a, b: th.linalg.solve(a, b)),
    ("solve-broadcast", with_rhs((2, 1, 3, 3), (4, 3, 2)), ops.solve,
     lambda th, a, b: th.linalg.solve(a, b)),
    ("det", well_conditioned((4, 4)), ops.det, lambda th, a: th.linalg.det(a)),
    ("det-stack", well_conditioned((3, 2, 2)), ops.det, lambda th, a: th.linalg.det(a)),
    ("det-1x1", well_conditioned((2, 1, 1)), ops.det, lambda th, a: th.linalg.det(a)),
    *[(f"det-singular-{name}", lambda rng, a=a: [np.array(a)], ops.det,
       lambda th, a: th.linalg.det(a)) for name, a in SINGULAR.items()],
    ("det-singular-and-invertible", singular_and_invertible, ops.det,
     lambda th, a: th.linalg.det(a)),
    ("logabsdet", well_conditioned((2, 3, 3)), lambda a: ops.slogdet(-a)[1],
     lambda th, a: th.linalg.slogdet(-a)[1]),
    ("cholesky", spd((3, 3)), ops.cholesky, lambda th, a: th.linalg.cholesky(a)),
    ("cholesky-of-a-product", well_conditioned((2, 4, 4)), lambda a: ops.cholesky(ours_spd(a)),
     lambda th, a: th.linalg.cholesky(theirs_spd(th, a))),
    ("eigenvalues", spd((2, 4, 4)), lambda a: ops.eigh(a)[0], lambda th, a: th.linalg.eigh(a)[0]),
    ("eigenvectors-squared", spd((3, 3)), lambda a: ops.eigh(a)[1] ** 2,
     lambda th, a: th.linalg.eigh(a)[1] ** 2),
    ("projector-of-a-product", well_conditioned((2, 3, 3)),     # v_0 v_0^T: sign-free
     lambda a: (lambda v: v[..., :, :1] @ ops.swapaxes(v[..., :, :1], -1, -2))(
         ops.eigh(ours_spd(a))[1]),
     lambda th, a: (lambda v: v[..., :, :1] @ v[..., :, :1].mT)(
         th.linalg.eigh(theirs_spd(th, a))[1])),
    ("singular-values", lambda rng: [rng.standard_normal((2, 4, 3))],
     lambda a: ops.svd(a, compute_uv=False), lambda th, a: th.linalg.svdvals(a)),
    ("left-singular-vectors-squared", lambda rng: [rng.standard_normal((4, 3))],
     lambda a: ops.svd(a, full_matrices=False)[0] ** 2,
     lambda th, a: th.linalg.svd(a, full_matrices=False)[0] ** 2),
    ("right-singular-vectors-squared", lambda rng: [rng.standard_normal((3, 5))],
     lambda a: ops.svd(a, full_matrices=False)[2] ** 2,
     lambda th, a: th.linalg.svd(a, full_matrices=False)[2] ** 2),
    ("rank-one-part", lambda rng: [rng.standard_normal((2, 3, 4))],     # s_0 u_0 v_0^T
     lambda a: (lambda u, s, vh: u[..., :, :1] * s[..., None, :1] @ vh[..., :1, :])(
         *ops.svd(a)),
     lambda th, a: (lambda u, s, vh: u[..., :, :1] * s[..., None, :1] @ vh[..., :1, :])(
         *th.linalg.svd(a))),
    *[(f"matrix-norm-{ord}", lambda rng: [rng.standard_normal((2, 3, 4))],
       lambda a, ord=ord: ops.matrix_norm(a, ord),
       lambda th, a, ord=ord: th.linalg.matrix_norm(a, ord)) for ord in MATRIX_ORDS],
    ("matrix-norm-axes-keepdims", lambda rng: [rng.standard_normal((4, 2, 3))],
     lambda a: ops.matrix_norm(a, "nuc", (2, 0), keepdims=True),
     lambda th, a: th.linalg.matrix_norm(a, "nuc", dim=(2, 0), keepdim=True)),
    ("matrix-norm-inf-axes", lambda rng: [rng.standard_normal((3, 2, 4))],
     lambda a: ops.matrix_norm(a, -np.inf, (-1, 0)),
     lambda th, a: th.linalg.matrix_norm(a, -np.inf, dim=(-1, 0))),
]


@pytest.mark.parametrize("make, ours, theirs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    assert_equals_pytorch(torch, rng, make, ours, theirs)


def test_slogdet_sign_equals_pytorchs(torch, rng):
    a = rng.standard_normal((5, 3, 3))
    sign, logabsdet = ops.slogdet(a)
    expected = torch.linalg.slogdet(torch.tensor(a))
    np.testing.assert_array_equal(sign, expected.sign.numpy())
    np.testing.assert_allclose(logabsdet.data, expected.logabsdet.numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", [*SINGULAR, "3x3-zero"])
def test_det_gradient_at_a_singular_matrix_equals_pytorchs_recorded_one(torch, rng, name):
    # Our ordinary backward against PyTorch's create_graph=True gradient (its SVD route): its
    # ordinary backward gives 0 at an exactly singular matrix (2.13; pytorch issue 104675). At
    # the zero matrix its second derivative is NaN (a repeated singular value 0); finite
    # differences check ours there, in tests/test_matrices.py.
    a = np.zeros((3, 3)) if name == "3x3-zero" else np.array(SINGULAR[name])
    upstream = rng.standard_normal()
    x = tc.Value(a.copy())
    ops.det(x).backward(np.array(upstream))
    t = torch.tensor(a, requires_grad=True)
    (expected,) = torch.autograd.grad(torch.linalg.det(t), t, torch.tensor(upstream),
                                      create_graph=True)
    np.testing.assert_allclose(x.grad, expected.detach().numpy(), rtol=1e-11, atol=1e-13)
