"""numpy's joining, splitting, flipping, product, selecting and running functions on Values
(tinygrad_cnn/numpy_protocol.py) against PyTorch's same functions in float64: the forward, every
input's gradient through a random upstream gradient, and the second derivatives. PyTorch has no
convolve or correlate: there the oracle is its conv1d, written out as numpy defines the modes;
nor a batched trace: there it is the sum of torch.diagonal. heaviside's forward is compared
alone, as PyTorch gives it no derivative; at a NaN x1 it is NaN, as numpy's, where PyTorch's is
0."""

import numpy as np
import pytest
from edge_cases import normal
from oracle_checks import assert_equals_pytorch

import tinygrad_cnn as tc


def _conv1d(th, a, v, mode, flipped):
    """numpy's convolve (flipped) or correlate of two vectors by torch's conv1d."""
    n, m = len(a), len(v)
    kernel = v.flip(0) if flipped else v
    full = th.nn.functional.conv1d(a[None, None], kernel[None, None], padding=m - 1)[0, 0]
    short, long = min(n, m), max(n, m)
    if mode == "full":
        return full
    if mode == "valid":
        return full[short - 1:long]
    start = short // 2 if not flipped and m > n else (short - 1) // 2
    return full[start:start + long]


MASK = np.arange(12).reshape(3, 4) % 3 == 0
EYE, TRI = np.eye(3, 4, dtype=bool), np.tri(3, 4, dtype=bool)

# (id, make inputs from rng, ours, theirs(torch, *tensors))
CASES = [
    ("hstack", normal((3, 4), (3, 2)), lambda a, b: np.hstack([a, b]),
     lambda th, a, b: th.hstack([a, b])),
    ("hstack-vectors", normal((3,), (2,)), lambda a, b: np.hstack([a, b]),
     lambda th, a, b: th.hstack([a, b])),
    ("vstack", normal((4,), (2, 4)), lambda a, b: np.vstack([a, b]),
     lambda th, a, b: th.vstack([a, b])),
    ("dstack", normal((3, 4), (3, 4, 2)), lambda a, b: np.dstack([a, b]),
     lambda th, a, b: th.dstack([a, b])),
    ("column_stack", normal((3,), (3, 2)), lambda a, b: np.column_stack([a, b]),
     lambda th, a, b: th.column_stack([a, b])),
    ("atleast_3d", normal((4,)), np.atleast_3d, lambda th, x: th.atleast_3d(x)),
    ("array_split", normal((2, 7)), lambda x: np.array_split(x, 3, axis=1)[1] * 2,
     lambda th, x: th.tensor_split(x, 3, dim=1)[1] * 2),
    ("hsplit", normal((3, 4)), lambda x: np.hsplit(x, [1])[1], lambda th, x: th.hsplit(x, [1])[1]),
    ("vsplit", normal((4, 3)), lambda x: np.vsplit(x, 2)[1], lambda th, x: th.vsplit(x, 2)[1]),
    ("dsplit", normal((2, 3, 4)), lambda x: np.dsplit(x, 2)[0], lambda th, x: th.dsplit(x, 2)[0]),
    ("unstack", normal((3, 4)), lambda x: np.unstack(x, axis=1)[2],
     lambda th, x: th.unbind(x, dim=1)[2]),
    ("flipud", normal((3, 4)), np.flipud, lambda th, x: th.flipud(x)),
    ("fliplr", normal((3, 4, 2)), np.fliplr, lambda th, x: th.fliplr(x)),
    ("rot90", normal((3, 4)), np.rot90, lambda th, x: th.rot90(x)),
    ("rot90-k2", normal((3, 4)), lambda x: np.rot90(x, 2), lambda th, x: th.rot90(x, 2)),
    ("rot90-k3-axes", normal((2, 3, 4)), lambda x: np.rot90(x, 3, (1, 2)),
     lambda th, x: th.rot90(x, 3, (1, 2))),
    ("rot90-negative", normal((2, 3, 4)), lambda x: np.rot90(x, -1, (2, 0)),
     lambda th, x: th.rot90(x, -1, (2, 0))),
    ("diag-vector", normal((3,)), lambda v: np.diag(v, 1), lambda th, v: th.diag(v, 1)),
    ("diag-vector-below", normal((3,)), lambda v: np.diag(v * v, -2),
     lambda th, v: th.diag(v * v, -2)),
    ("diag-matrix", normal((3, 4)), lambda m: np.diag(m, -1), lambda th, m: th.diag(m, -1)),
    ("diagflat", normal((2, 2)), lambda v: np.diagflat(v, 1), lambda th, v: th.diagflat(v, 1)),
    ("vdot", normal((3, 4), (4, 3)), lambda a, b: np.vdot(a, b) * np.vdot(a, a),
     lambda th, a, b: th.vdot(a.flatten(), b.flatten()) * th.vdot(a.flatten(), a.flatten())),
    ("convolve-full", normal((5,), (3,)), np.convolve,
     lambda th, a, v: _conv1d(th, a, v, "full", True)),
    ("convolve-same", normal((3,), (6,)), lambda a, v: np.convolve(a, v, "same"),
     lambda th, a, v: _conv1d(th, a, v, "same", True)),
    ("convolve-valid", normal((6,), (4,)), lambda a, v: np.convolve(a, v, "valid"),
     lambda th, a, v: _conv1d(th, a, v, "valid", True)),
    ("correlate-valid", normal((6,), (3,)), np.correlate,
     lambda th, a, v: _conv1d(th, a, v, "valid", False)),
    ("correlate-same", normal((4,), (5,)), lambda a, v: np.correlate(a, v * a[0], "same"),
     lambda th, a, v: _conv1d(th, a, v * a[0], "same", False)),
    ("trapezoid-dx", normal((3, 5)), lambda y: np.trapezoid(y * y, dx=0.5),
     lambda th, y: th.trapezoid(y * y, dx=0.5)),
    ("trapezoid-x", normal((3, 5), (5,)), lambda y, x: np.trapezoid(y, np.cumsum(x * x)),
     lambda th, y, x: th.trapezoid(y, th.cumsum(x * x, 0))),
    ("trapezoid-x-axis", normal((3, 5), (3, 5)), lambda y, x: np.trapezoid(y * x, x, axis=0),
     lambda th, y, x: th.trapezoid(y * x, x, dim=0)),
    ("nan_to_num", normal((3, 4)), lambda x: np.nan_to_num(np.log(x * x)),
     lambda th, x: th.nan_to_num(th.log(x * x))),
    ("vecdot", normal((3, 4), (4,)), np.vecdot, lambda th, a, b: th.linalg.vecdot(a, b)),
    ("matvec", normal((2, 3, 4), (4,)), np.matvec, lambda th, a, v: a @ v),
    ("vecmat", normal((3,), (2, 3, 4)), np.vecmat, lambda th, v, a: v @ a),
    ("multi_dot", normal((3,), (3, 4), (4, 2)), lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     lambda th, a, b, c: th.linalg.multi_dot([a, b, c])),
    ("multi_dot-last-vector", normal((2, 3), (3, 3), (3,)),
     lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     lambda th, a, b, c: th.linalg.multi_dot([a, b, c])),
    ("linalg.matmul", normal((2, 3, 4), (4, 2)), np.linalg.matmul, lambda th, a, b: a @ b),
    ("linalg.outer", normal((3,), (2,)), np.linalg.outer, lambda th, a, b: th.outer(a, b)),
    ("linalg.cross", normal((4, 3), (3,)), np.linalg.cross,
     lambda th, a, b: th.linalg.cross(a, b.expand(4, 3))),
    ("linalg.vecdot-axis", normal((4, 3), (4, 1)), lambda a, b: np.linalg.vecdot(a, b, axis=0),
     lambda th, a, b: th.linalg.vecdot(a, b, dim=0)),
    ("linalg.tensordot", normal((3, 4), (4, 2)), lambda a, b: np.linalg.tensordot(a, b, axes=1),
     lambda th, a, b: th.tensordot(a, b, dims=1)),
    ("linalg.trace", normal((2, 3, 3)), lambda x: np.linalg.trace(x * x, offset=1),
     lambda th, x: th.diagonal(x * x, 1, -2, -1).sum(-1)),
    ("linalg.diagonal", normal((2, 3, 4)), lambda x: np.linalg.diagonal(x, offset=-1),
     lambda th, x: th.diagonal(x, -1, -2, -1)),
    ("matrix_transpose", normal((2, 3, 4)), lambda x: np.linalg.matrix_transpose(x * x),
     lambda th, x: (x * x).mT),
    ("take-flat", normal((3, 4)), lambda x: np.take(x * x, [4, 0, -1, 4]),
     lambda th, x: th.take(x * x, th.tensor([4, 0, 11, 4]))),
    ("take-axis", normal((3, 4)), lambda x: np.take(x, np.array([[0, 2], [1, 3]]), axis=1),
     lambda th, x: th.index_select(x, 1, th.tensor([0, 2, 1, 3])).reshape(3, 2, 2)),
    ("compress", normal((3, 4)), lambda x: np.compress([True, False, True], x, axis=0),
     lambda th, x: x[th.tensor([True, False, True])]),
    ("extract", normal((3, 4)), lambda x: np.extract(MASK, x * x),
     lambda th, x: th.masked_select(x * x, th.from_numpy(MASK))),
    ("select", normal((3, 4), (4,)), lambda a, b: np.select([EYE, TRI], [a, b * a], 0.5),
     lambda th, a, b: th.where(th.from_numpy(EYE), a,
                               th.where(th.from_numpy(TRI), b * a, th.tensor(0.5)))),
    ("meshgrid-xy", normal((3,), (2,)), lambda x, y: np.meshgrid(x, y)[0] * np.meshgrid(x, y)[1],
     lambda th, x, y: th.mul(*th.meshgrid(x, y, indexing="xy"))),
    ("meshgrid-ij", normal((3,), (2,), (4,)), lambda x, y, z: np.meshgrid(x, y, z,
                                                                          indexing="ij")[2],
     lambda th, x, y, z: th.meshgrid(x, y, z, indexing="ij")[2]),
    ("cumulative_sum", normal((3, 4)),
     lambda x: np.cumulative_sum(x * x, axis=1, include_initial=True),
     lambda th, x: th.nn.functional.pad(th.cumsum(x * x, 1), (1, 0))),
    ("cumulative_prod", normal((5,)), lambda x: np.cumulative_prod(x, include_initial=True),
     lambda th, x: th.nn.functional.pad(th.cumprod(x, 0), (1, 0), value=1.0)),
    ("eigvalsh", normal((2, 3, 3)), lambda a: np.linalg.eigvalsh(a),
     lambda th, a: th.linalg.eigvalsh(a)),
    ("eigvalsh-upper", normal((3, 3)), lambda a: np.linalg.eigvalsh(a, "U"),
     lambda th, a: th.linalg.eigvalsh(a, UPLO="U")),
    ("svdvals", normal((2, 4, 3)), np.linalg.svdvals, lambda th, x: th.linalg.svdvals(x)),
]


@pytest.mark.parametrize("make, ours, theirs", [pytest.param(*case[1:], id=case[0])
                                                for case in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    assert_equals_pytorch(torch, rng, make, ours, theirs)


def test_heaviside_forward_equals_pytorchs_but_at_a_nan_x1_where_it_is_numpys_nan(torch):
    x1 = np.array([-1.5, 0.0, 2.0, -0.0, 3.0, np.nan])
    x2 = np.array([0.3, 0.5, 0.7, 0.9, -1.0, 1.1])
    out = np.heaviside(tc.Value(x1), tc.Value(x2))
    expected = torch.heaviside(torch.tensor(x1), torch.tensor(x2)).numpy()
    np.testing.assert_array_equal(out.data[:5], expected[:5])
    assert np.isnan(out.data[5]) and np.isnan(np.heaviside(x1, x2)[5]) and expected[5] == 0.0


def test_nan_to_num_gradient_equals_pytorchs_at_nan_and_the_infinities(torch):
    data = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])
    x, t = tc.Value(data), torch.tensor(data, requires_grad=True)
    upstream = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    out = np.nan_to_num(x, nan=7.0, posinf=1e3, neginf=-5.0)
    expected = torch.nan_to_num(t, nan=7.0, posinf=1e3, neginf=-5.0)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_array_equal(x.grad, t.grad.numpy())
