"""tensordot, dot, inner, outer, kron, cross, diff, matrix_power and cdist: each equal to numpy's
function (torch.cdist's formula for cdist) over the shapes and settings numpy takes,
gradcheck and gradgradcheck in float64 through a random upstream gradient, float32 kept, and
the errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops

# (id, ours, numpy's, input shapes)
CASES = [
    ("tensordot-2", lambda a, b: ops.tensordot(a, b), lambda a, b: np.tensordot(a, b),
     [(2, 3, 4), (3, 4, 5)]),
    ("tensordot-pairs", lambda a, b: ops.tensordot(a, b, axes=([0, 2], [2, -3])),
     lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, -3])), [(2, 3, 4), (4, 5, 2)]),
    ("tensordot-0", lambda a, b: ops.tensordot(a, b, axes=0),
     lambda a, b: np.tensordot(a, b, axes=0), [(2, 3), (3,)]),
    ("dot-vectors", ops.dot, np.dot, [(4,), (4,)]),
    ("dot-matrices", ops.dot, np.dot, [(2, 3), (3, 4)]),
    ("dot-nd", ops.dot, np.dot, [(2, 3, 4), (5, 4, 2)]),
    ("dot-nd-vector", ops.dot, np.dot, [(2, 3, 4), (4,)]),
    ("dot-scalar", ops.dot, np.dot, [(), (2, 3)]),
    ("inner", ops.inner, np.inner, [(2, 3, 4), (5, 4)]),
    ("outer", ops.outer, np.outer, [(2, 3), (4,)]),
    ("kron", ops.kron, np.kron, [(2, 3), (3, 1, 2)]),
    ("cross", ops.cross, np.cross, [(4, 3), (3,)]),
    ("cross-axis0", lambda a, b: ops.cross(a, b, axis=0),
     lambda a, b: np.cross(a, b, axis=0), [(3, 4), (3, 1)]),
    ("diff", ops.diff, np.diff, [(3, 5)]),
    ("diff-twice-axis0", lambda x: ops.diff(x, 2, axis=0), lambda x: np.diff(x, 2, axis=0),
     [(5, 3)]),
    ("diff-prepend-append", lambda x, y: ops.diff(x, 1, axis=1, prepend=0.5, append=y),
     lambda x, y: np.diff(x, 1, axis=1, prepend=0.5, append=y), [(3, 4), (3, 2)]),
    ("matrix_power-5", lambda a: ops.matrix_power(a, 5),
     lambda a: np.linalg.matrix_power(a, 5), [(2, 3, 3)]),
    ("matrix_power-minus-2", lambda a: ops.matrix_power(a + 3 * np.eye(3), -2),
     lambda a: np.linalg.matrix_power(a + 3 * np.eye(3), -2), [(3, 3)]),
    ("matrix_power-0", lambda a: ops.matrix_power(a, 0),
     lambda a: np.linalg.matrix_power(a, 0), [(2, 3, 3)]),
]


@pytest.mark.parametrize("ours, numpys, shapes", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_equals_numpy_and_gradchecks(rng, ours, numpys, shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    out = ours(*arrays)
    expected = numpys(*arrays)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(ours, arrays)
    assert tc.gradgradcheck(ours, arrays)


@pytest.mark.parametrize("p", [1.0, 2.0, 0.7, np.inf])
def test_cdist_is_each_pairs_distance_and_gradchecks(rng, p):
    x1, x2 = rng.standard_normal((2, 4, 3)), rng.standard_normal((5, 3))
    out = ops.cdist(x1, x2, p)
    assert out.shape == (2, 4, 5)
    for b, i, j in [(0, 0, 0), (1, 3, 4), (1, 2, 0)]:
        np.testing.assert_allclose(out.data[b, i, j],
                                   np.linalg.norm(x1[b, i] - x2[j], ord=p), rtol=1e-12)
    assert tc.gradcheck(lambda a, c: ops.cdist(a, c, p), [x1, x2])
    if p != np.inf:
        assert tc.gradgradcheck(lambda a, c: ops.cdist(a, c, p), [x1, x2])


def test_cdist_gradient_at_a_zero_distance_is_zero(rng):
    x = tc.Value(rng.standard_normal((3, 2)))
    d = ops.cdist(x, x)                           # its diagonal is 0
    np.testing.assert_array_equal(np.diag(d.data), 0.0)
    d.backward(np.eye(3))                         # only the zero distances matter
    np.testing.assert_array_equal(x.grad, 0.0)


def test_matrix_power_zero_gives_a_zero_gradient_not_none(rng):
    a = tc.Value(rng.standard_normal((3, 3)))
    ops.matrix_power(a, 0).sum().backward()
    np.testing.assert_array_equal(a.grad, np.zeros((3, 3)))


def test_float32_stays_float32(rng):
    a, b = (rng.standard_normal((3, 3)).astype(np.float32) for _ in range(2))
    for out in (ops.tensordot(a, b, 1), ops.dot(a, b), ops.inner(a, b), ops.outer(a, b),
                ops.kron(a, b), ops.cross(a, b), ops.diff(a), ops.matrix_power(a, 3),
                ops.cdist(a, b)):
        assert out.dtype == np.float32


def test_errors_say_what_fits():
    with pytest.raises(ValueError, match=r"tensordot: axis 1 of a \(2, 3\) has size 3 but axis "
                                         r"0 of b \(4,\) has size 4"):
        ops.tensordot(np.ones((2, 3)), np.ones(4), axes=1)
    with pytest.raises(ValueError, match=r"tensordot: axes=3 for a \(2, 3\) and b \(3,\); "
                                         r"expected 0 to 1 axes"):
        ops.tensordot(np.ones((2, 3)), np.ones(3), axes=3)
    with pytest.raises(TypeError, match="tensordot: axes='ij'; expected an int N"):
        ops.tensordot(np.ones((2, 3)), np.ones(3), axes="ij")
    with pytest.raises(ValueError, match=r"tensordot: 2 axes of a and 1 of b"):
        ops.tensordot(np.ones((2, 3)), np.ones((3, 2)), axes=([0, 1], [0]))
    with pytest.raises(ValueError, match=r"tensordot: axes \[1, -1\] of a \(2, 3\) name an axis "
                                         r"twice"):
        ops.tensordot(np.ones((2, 3)), np.ones((3, 3)), axes=([1, -1], [0, 1]))
    with pytest.raises(ValueError, match=r"cross: b has shape \(2,\); expected size 3 along "
                                         r"axis -1"):
        ops.cross(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="diff: n is float 1.0; expected an int"):
        ops.diff(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="diff: n=-1; expected n >= 0"):
        ops.diff(np.ones(3), -1)
    with pytest.raises(ValueError, match="diff: x is 0-d"):
        ops.diff(np.float64(1.0))
    with pytest.raises(TypeError, match="matrix_power: n is float 2.0; expected an int"):
        ops.matrix_power(np.eye(2), 2.0)
    with pytest.raises(ValueError, match=r"matrix_power: a has shape \(2, 3\); expected a "
                                         r"square matrix"):
        ops.matrix_power(np.ones((2, 3)), 2)
    with pytest.raises(np.linalg.LinAlgError, match="inv: the matrix is singular"):
        ops.matrix_power(np.ones((2, 2)), -1)
    with pytest.raises(ValueError, match=r"cdist: x1 has shape \(3,\) and x2 has shape \(2, 3\); "
                                         r"expected rows of one length"):
        ops.cdist(np.ones(3), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"cdist: the leading axes of x1 \(2, 1, 3\) and x2 "
                                         r"\(3, 1, 3\) do not broadcast"):
        ops.cdist(np.ones((2, 1, 3)), np.ones((3, 1, 3)))
    with pytest.raises(ValueError, match="cdist: p is -1.0; expected a number >= 0"):
        ops.cdist(np.ones((2, 3)), np.ones((2, 3)), -1.0)
