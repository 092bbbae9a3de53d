"""tensordot, dot, inner, outer, kron, cross, diff, matrix_power and cdist against PyTorch's
twins in float64: the forward, every input's gradient through a random upstream gradient and
the second derivatives; torch.cdist itself, which has no second derivative, for the forward
and first derivatives, a zero distance included."""

import numpy as np
import pytest
from edge_cases import normal
from oracle_checks import assert_equals_pytorch

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def invertible(shape):
    return lambda rng: [rng.standard_normal(shape) + 3 * np.eye(shape[-1])]


def pairwise_norms(a, b, p):
    return (a[..., :, None, :] - b[..., None, :, :]).norm(p, dim=-1)


def with_duplicate_row(rng):
    """x2's row 1 equals x1's row 2: one distance is exactly 0."""
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    x2[1] = x1[2]
    return [x1, x2]


CASES = [
    ("tensordot", normal((2, 3, 4), (3, 4, 5)), ops.tensordot,
     lambda th, a, b: th.tensordot(a, b)),
    ("tensordot-pairs", normal((2, 3, 4), (4, 5, 2)),
     lambda a, b: ops.tensordot(a, b, axes=([0, 2], [2, 0])),
     lambda th, a, b: th.tensordot(a, b, dims=([0, 2], [2, 0]))),
    ("dot", normal((5,), (5,)), ops.dot, lambda th, a, b: th.dot(a, b)),
    ("inner", normal((2, 3, 4), (5, 4)), ops.inner, lambda th, a, b: th.inner(a, b)),
    ("outer", normal((3,), (4,)), ops.outer, lambda th, a, b: th.outer(a, b)),
    ("kron", normal((2, 3), (3, 1, 2)), ops.kron, lambda th, a, b: th.kron(a, b)),
    ("cross", normal((4, 3), (4, 3)), ops.cross, lambda th, a, b: th.linalg.cross(a, b)),
    ("cross-broadcast-axis0", normal((3, 4), (3, 1)), lambda a, b: ops.cross(a, b, axis=0),
     lambda th, a, b: th.linalg.cross(a, b, dim=0)),
    ("diff", normal((3, 5)), lambda x: ops.diff(x, 2), lambda th, x: th.diff(x, 2)),
    ("diff-prepend-append", normal((3, 4), (1, 4), (2, 4)),
     lambda x, p, a: ops.diff(x, 1, axis=0, prepend=p, append=a),
     lambda th, x, p, a: th.diff(x, 1, dim=0, prepend=p, append=a)),
    ("matrix_power", normal((2, 3, 3)), lambda a: ops.matrix_power(a, 6),
     lambda th, a: th.linalg.matrix_power(a, 6)),
    ("matrix_power-negative", invertible((3, 3)), lambda a: ops.matrix_power(a, -3),
     lambda th, a: th.linalg.matrix_power(a, -3)),
    ("matrix_power-0", normal((3, 3)), lambda a: ops.matrix_power(a, 0),
     lambda th, a: th.linalg.matrix_power(a, 0)),
    # torch.cdist has no second derivative: the twin is the norm of the broadcast differences
    ("cdist", normal((2, 4, 3), (2, 5, 3)), ops.cdist, lambda th, a, b: pairwise_norms(a, b, 2)),
    ("cdist-p1", normal((4, 3), (5, 3)), lambda a, b: ops.cdist(a, b, 1.0),
     lambda th, a, b: pairwise_norms(a, b, 1.0)),
    ("cdist-p3", normal((4, 3), (5, 3)), lambda a, b: ops.cdist(a, b, 3.0),
     lambda th, a, b: pairwise_norms(a, b, 3.0)),
]


@pytest.mark.parametrize("make, ours, theirs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    assert_equals_pytorch(torch, rng, make, ours, theirs)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_cdist_and_its_gradients_equal_torch_cdists(torch, rng, p):
    """torch.cdist itself (first derivatives only), with one distance exactly 0."""
    x1, x2 = with_duplicate_row(rng)
    a, b = (torch.tensor(x, requires_grad=True) for x in (x1, x2))
    ours_a, ours_b = tc.Value(x1), tc.Value(x2)
    out = ops.cdist(ours_a, ours_b, p)
    expected = torch.cdist(a, b, p)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours_a.grad, a.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(ours_b.grad, b.grad.numpy(), rtol=1e-11, atol=1e-13)
