"""numpy functions called on Values (tinygrad_cnn/numpy_protocol.py): each one with an op runs
that op, so its result is a Value whose data is numpy's result and whose gradient is the op's;
the others run on the data, and refuse where that would drop a gradient."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.numpy_protocol import FUNCTIONS, UFUNCS


def _uniform(low, high, *shape):
    return lambda rng: rng.uniform(low, high, shape)


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


_UNARY_DOMAINS = {
    np.arcsin: (-0.9, 0.9), np.arccos: (-0.9, 0.9), np.arctanh: (-0.9, 0.9),
    np.arccosh: (1.2, 3.0), np.log: (0.2, 3.0), np.log2: (0.2, 3.0), np.log10: (0.2, 3.0),
    np.log1p: (0.2, 3.0), np.sqrt: (0.2, 3.0), np.reciprocal: (0.2, 3.0), np.cbrt: (0.2, 3.0),
    np.tan: (-1.2, 1.2),
}
_UNARY = [np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p, np.sqrt, np.cbrt,
          np.square, np.reciprocal, np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan,
          np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh, np.sign, np.floor,
          np.ceil, np.trunc, np.rint, np.negative, np.positive, np.absolute, np.fabs]
_BINARY = [np.add, np.subtract, np.multiply, np.divide, np.arctan2, np.hypot, np.logaddexp,
           np.maximum, np.minimum, np.floor_divide, np.remainder, np.fmod]

# (what numpy function it calls, the call, a maker of each float input); the same call runs
# on the inputs' data (numpy's own result) and on Values
CASES = [(u, u, [_uniform(*_UNARY_DOMAINS.get(u, (-2.0, 2.0)), 3, 4)]) for u in _UNARY]
CASES += [(u, u, [_uniform(0.5, 2.0, 3, 4), _uniform(-2.0, -0.5, 4)]) for u in _BINARY]
CASES += [
    (np.power, np.power, [_uniform(0.5, 2.0, 3, 4), _normal(3, 4)]),
    (np.matmul, np.matmul, [_normal(3, 4), _normal(4, 2)]),
    (np.divmod, lambda a, b: np.divmod(a, b)[1], [_uniform(0.5, 2.0, 5), _uniform(0.3, 0.4, 5)]),
    (np.sum, lambda x: np.sum(x, axis=1, keepdims=True), [_normal(3, 4)]),
    (np.mean, lambda x: np.mean(x, axis=0), [_normal(3, 4)]),
    (np.prod, lambda x: np.prod(x, axis=1), [_uniform(0.5, 2.0, 3, 4)]),
    (np.max, lambda x: np.max(x, axis=1), [_normal(3, 4)]),
    (np.amax, np.amax, [_normal(3, 4)]),
    (np.min, lambda x: np.min(x, axis=0, keepdims=True), [_normal(3, 4)]),
    (np.amin, lambda x: np.amin(x, 1), [_normal(3, 4)]),
    (np.std, lambda x: np.std(x, axis=1, ddof=1), [_normal(3, 4)]),
    (np.var, lambda x: np.var(x, ddof=1), [_normal(3, 4)]),
    (np.cumsum, lambda x: np.cumsum(x, axis=1), [_normal(3, 4)]),
    (np.cumprod, lambda x: np.cumprod(x, 0), [_uniform(0.5, 2.0, 3, 4)]),
    (np.diff, lambda x: np.diff(x, n=2, axis=1, prepend=0.5), [_normal(3, 5)]),
    (np.trace, lambda x: np.trace(x, offset=1), [_normal(3, 4)]),
    (np.reshape, lambda x: np.reshape(x, (6, 2)), [_normal(3, 4)]),
    (np.ravel, np.ravel, [_normal(3, 4)]),
    (np.transpose, lambda x: np.transpose(x, (2, 0, 1)), [_normal(2, 3, 4)]),
    (np.squeeze, lambda x: np.squeeze(x, axis=1), [_normal(3, 1, 4)]),
    (np.expand_dims, lambda x: np.expand_dims(x, 1), [_normal(3, 4)]),
    (np.swapaxes, lambda x: np.swapaxes(x, 0, 2), [_normal(2, 3, 4)]),
    (np.moveaxis, lambda x: np.moveaxis(x, 0, -1), [_normal(2, 3, 4)]),
    (np.broadcast_to, lambda x: np.broadcast_to(x, (3, 4)), [_normal(1, 4)]),
    (np.flip, lambda x: np.flip(x, 1), [_normal(3, 4)]),
    (np.roll, lambda x: np.roll(x, 2, axis=1), [_normal(3, 4)]),
    (np.concatenate, lambda a, b: np.concatenate([a, b], axis=1), [_normal(3, 4), _normal(3, 2)]),
    (np.stack, lambda a, b: np.stack((a, b), axis=1), [_normal(3, 4), _normal(3, 4)]),
    (np.split, lambda x: np.split(x, [1, 3], axis=1)[1], [_normal(3, 4)]),
    (np.tile, lambda x: np.tile(x, (2, 1)), [_normal(3, 4)]),
    (np.repeat, lambda x: np.repeat(x, 2, axis=0), [_normal(3, 4)]),
    (np.pad, lambda x: np.pad(x, ((1, 2), (0, 1)), constant_values=3.0), [_normal(3, 4)]),
    (np.pad, lambda x: np.pad(x, 2, mode="reflect"), [_normal(3, 4)]),
    (np.pad, lambda x: np.pad(x, ((0, 0), (2, 1)), "edge"), [_normal(3, 4)]),
    (np.pad, lambda x: np.pad(x, 1, "wrap"), [_normal(3, 4)]),
    (np.diagonal, lambda x: np.diagonal(x, 1, 1, 2), [_normal(2, 3, 4)]),
    (np.tril, lambda x: np.tril(x, -1), [_normal(4, 4)]),
    (np.triu, lambda x: np.triu(x, k=1), [_normal(3, 4)]),
    (np.sort, lambda x: np.sort(x, axis=0), [_normal(3, 4)]),
    (np.take_along_axis,
     lambda x: np.take_along_axis(x, np.array([[3, 0], [1, 1], [2, 0]]), axis=1), [_normal(3, 4)]),
    (np.where, lambda a, b: np.where(a > 0, a, b), [_normal(3, 4), _normal(4)]),
    (np.clip, lambda x: np.clip(x, -0.5, 0.5), [_normal(3, 4)]),
    (np.clip, lambda x: np.clip(x, max=0.3), [_normal(3, 4)]),
    (np.round, lambda x: np.round(x, 2), [_normal(3, 4)]),
    (np.around, np.around, [_normal(3, 4)]),
    (np.dot, np.dot, [_normal(3, 4), _normal(4)]),
    (np.inner, np.inner, [_normal(3, 4), _normal(2, 4)]),
    (np.outer, np.outer, [_normal(3), _normal(4)]),
    (np.kron, np.kron, [_normal(2, 3), _normal(2, 2)]),
    (np.tensordot, lambda a, b: np.tensordot(a, b, axes=([1], [0])), [_normal(3, 4),
                                                                        _normal(4, 2)]),
    (np.einsum, lambda a, b: np.einsum("ij,kj->ik", a, b), [_normal(3, 4), _normal(2, 4)]),
    (np.cross, np.cross, [_normal(4, 3), _normal(4, 3)]),
    (np.linalg.det, np.linalg.det, [_normal(2, 3, 3)]),
    (np.linalg.slogdet, lambda a: np.linalg.slogdet(a)[1], [_normal(3, 3)]),
    (np.linalg.inv, np.linalg.inv, [_normal(3, 3)]),
    (np.linalg.solve, np.linalg.solve, [_normal(3, 3), _normal(3, 2)]),
    (np.linalg.cholesky, lambda a: np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)),
     [_normal(3, 3)]),
    (np.linalg.eigh, lambda a: np.linalg.eigh(a + a.T)[0], [_normal(3, 3)]),
    (np.linalg.svd, lambda a: np.linalg.svd(a, compute_uv=False), [_normal(4, 3)]),
    (np.linalg.matrix_power, lambda a: np.linalg.matrix_power(a, 3), [_normal(3, 3)]),
    (np.linalg.norm, np.linalg.norm, [_normal(3, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x, axis=1, keepdims=True), [_normal(3, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x, 3, axis=0), [_normal(3, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x, 1), [_normal(3, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x, "nuc", axis=(2, 0)), [_normal(3, 2, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x, -np.inf, (0, 1), True), [_normal(3, 4)]),
    (np.linalg.vector_norm, lambda x: np.linalg.vector_norm(x, axis=(0, 1), ord=1.5),
     [_normal(3, 4)]),
    (np.linalg.matrix_norm, lambda x: np.linalg.matrix_norm(x, ord=2), [_normal(2, 3, 4)]),
    (np.sinc, np.sinc, [_normal(3, 4)]),
    (np.deg2rad, np.deg2rad, [_normal(3, 4)]),
    (np.radians, np.radians, [_normal(3, 4)]),
    (np.rad2deg, np.rad2deg, [_normal(3, 4)]),
    (np.degrees, np.degrees, [_normal(3, 4)]),
    (np.logaddexp2, np.logaddexp2, [_normal(3, 4), _normal(4)]),
    (np.copysign, np.copysign, [_normal(3, 4), _uniform(-2.0, 2.0, 4)]),
    (np.fmax, np.fmax, [_normal(3, 4), _normal(4)]),
    (np.fmin, np.fmin, [_normal(3, 4), _normal(4)]),
    (np.astype, lambda x: np.astype(x, np.float64), [_normal(3, 4)]),
    # joining, splitting, flipping and products (compositions of ops)
    (np.atleast_1d, lambda x: np.atleast_1d(np.sum(x)), [_normal(3)]),
    (np.atleast_2d, np.atleast_2d, [_normal(3)]),
    (np.atleast_3d, lambda a, b: np.atleast_3d(a, b)[1], [_normal(3), _normal(2, 3)]),
    (np.atleast_3d, np.atleast_3d, [_normal(4)]),
    (np.hstack, lambda a, b: np.hstack([a, b]), [_normal(3, 4), _normal(3, 2)]),
    (np.hstack, lambda a, b: np.hstack((a, b)), [_normal(3), _normal(2)]),
    (np.vstack, lambda a, b: np.vstack([a, b]), [_normal(4), _normal(2, 4)]),
    (np.dstack, lambda a, b: np.dstack([a, b]), [_normal(3, 4), _normal(3, 4, 2)]),
    (np.column_stack, lambda a, b: np.column_stack([a, b]), [_normal(3), _normal(3, 2)]),
    (np.array_split, lambda x: np.array_split(x, 3, axis=1)[0], [_normal(2, 5)]),
    (np.array_split, lambda x: np.array_split(x, 3, axis=-1)[2], [_normal(2, 5)]),
    (np.array_split, lambda x: np.array_split(x, [1, 4])[1], [_normal(6)]),
    (np.hsplit, lambda x: np.hsplit(x, 2)[1], [_normal(3, 4)]),
    (np.hsplit, lambda x: np.hsplit(x, [2])[0], [_normal(6)]),
    (np.vsplit, lambda x: np.vsplit(x, [1])[1], [_normal(3, 4)]),
    (np.dsplit, lambda x: np.dsplit(x, 2)[0], [_normal(2, 3, 4)]),
    (np.unstack, lambda x: np.unstack(x, axis=1)[2], [_normal(3, 4)]),
    (np.unstack, lambda x: np.unstack(x)[0], [_normal(2, 3)]),
    (np.flipud, np.flipud, [_normal(3, 4)]),
    (np.fliplr, np.fliplr, [_normal(3, 4, 2)]),
    (np.rot90, np.rot90, [_normal(3, 4)]),
    (np.rot90, lambda x: np.rot90(x, 2), [_normal(3, 4)]),
    (np.rot90, lambda x: np.rot90(x, 3, axes=(1, 2)), [_normal(2, 3, 4)]),
    (np.rot90, lambda x: np.rot90(x, -1, (2, 0)), [_normal(2, 3, 4)]),
    (np.diag, np.diag, [_normal(3)]),
    (np.diag, lambda v: np.diag(v, k=1), [_normal(3)]),
    (np.diag, lambda v: np.diag(v, -2), [_normal(3)]),
    (np.diag, lambda m: np.diag(m, -1), [_normal(3, 4)]),
    (np.diagflat, lambda v: np.diagflat(v, -1), [_normal(2, 2)]),
    (np.vdot, np.vdot, [_normal(3, 4), _normal(4, 3)]),
    (np.convolve, np.convolve, [_normal(5), _normal(3)]),
    (np.convolve, lambda a, v: np.convolve(a, v, "same"), [_normal(3), _normal(6)]),
    (np.convolve, lambda a, v: np.convolve(a, v, mode="valid"), [_normal(6), _normal(4)]),
    (np.correlate, np.correlate, [_normal(6), _normal(3)]),
    (np.correlate, lambda a, v: np.correlate(a, v, "same"), [_normal(4), _normal(5)]),
    (np.correlate, lambda a, v: np.correlate(a, v, "full"), [_normal(3), _normal(4)]),
    (np.trapezoid, lambda y: np.trapezoid(y, dx=0.5), [_normal(3, 5)]),
    (np.trapezoid, lambda y, x: np.trapezoid(y, np.cumsum(x * x)), [_normal(3, 5), _normal(5)]),
    (np.trapezoid, lambda y, x: np.trapezoid(y, x, axis=0), [_normal(3, 5), _normal(3, 5)]),
    (np.nan_to_num, np.nan_to_num, [_normal(3, 4)]),
    (np.heaviside, np.heaviside, [_normal(3, 4), _normal(4)]),
    (np.vecdot, np.vecdot, [_normal(3, 4), _normal(4)]),
    (np.matvec, np.matvec, [_normal(2, 3, 4), _normal(4)]),
    (np.vecmat, np.vecmat, [_normal(3), _normal(2, 3, 4)]),
    (np.linalg.multi_dot, lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     [_normal(3), _normal(3, 4), _normal(4, 2)]),
    (np.linalg.multi_dot, lambda a, b, c: np.linalg.multi_dot((a, b, c)),
     [_normal(2, 3), _normal(3, 3), _normal(3)]),
    (np.linalg.matmul, np.linalg.matmul, [_normal(2, 3, 4), _normal(4, 2)]),
    (np.linalg.outer, np.linalg.outer, [_normal(3), _normal(2)]),
    (np.linalg.cross, np.linalg.cross, [_normal(4, 3), _normal(3)]),
    (np.linalg.vecdot, lambda a, b: np.linalg.vecdot(a, b, axis=0), [_normal(4, 3),
                                                                     _normal(4, 1)]),
    (np.linalg.tensordot, lambda a, b: np.linalg.tensordot(a, b, axes=1), [_normal(3, 4),
                                                                           _normal(4, 2)]),
    (np.linalg.trace, lambda x: np.linalg.trace(x, offset=1), [_normal(2, 3, 3)]),
    (np.linalg.diagonal, lambda x: np.linalg.diagonal(x, offset=-1), [_normal(2, 3, 4)]),
    (np.linalg.matrix_transpose, np.linalg.matrix_transpose, [_normal(2, 3, 4)]),
    (np.matrix_transpose, np.matrix_transpose, [_normal(3, 4)]),
    # selecting, grids and running sums (compositions of ops)
    (np.take, lambda x: np.take(x, [4, 0, -1, 4]), [_normal(3, 4)]),
    (np.take, lambda x: np.take(x, np.array([[0, 2], [1, -1]]), axis=1), [_normal(3, 4)]),
    (np.take, lambda x: np.take(x, [5, -7], axis=0, mode="wrap"), [_normal(3, 4)]),
    (np.take, lambda x: np.take(x, [9, -2, 1], axis=-1, mode="clip"), [_normal(3, 4)]),
    (np.compress, lambda x: np.compress([True, False, True], x, axis=0), [_normal(3, 4)]),
    (np.compress, lambda x: np.compress([False, True, True], x), [_normal(3, 4)]),
    (np.extract, lambda x: np.extract(np.arange(12).reshape(3, 4) % 3 == 0, x), [_normal(3, 4)]),
    (np.select, lambda a, b: np.select([np.eye(3, 4, dtype=bool), np.tri(3, 4, dtype=bool)],
                                       [a, b * 2], 0.5), [_normal(3, 4), _normal(4)]),
    (np.meshgrid, lambda x, y: np.meshgrid(x, y)[0] * np.meshgrid(x, y)[1], [_normal(3),
                                                                          _normal(2)]),
    (np.meshgrid, lambda x, y, z: np.meshgrid(x, y, z, indexing="ij", sparse=True)[1],
     [_normal(3), _normal(2), _normal(4)]),
    (np.cumulative_sum, lambda x: np.cumulative_sum(x, axis=1, include_initial=True),
     [_normal(3, 4)]),
    (np.cumulative_prod, lambda x: np.cumulative_prod(x, include_initial=True),
     [_uniform(0.5, 2.0, 5)]),
    (np.cumulative_prod, lambda x: np.cumulative_prod(x, axis=0), [_uniform(0.5, 2.0, 3, 2)]),
    (np.linalg.eigvalsh, lambda a: np.linalg.eigvalsh(a + np.swapaxes(a, -1, -2)),
     [_normal(2, 3, 3)]),
    (np.linalg.eigvalsh, lambda a: np.linalg.eigvalsh(a.T + a, UPLO="U"), [_normal(3, 3)]),
    (np.linalg.svdvals, np.linalg.svdvals, [_normal(2, 4, 3)]),
]


def _label(case) -> str:
    return getattr(case[0], "__name__", str(case[0]))


def test_every_numpy_function_with_an_op_has_a_case():
    assert {case[0] for case in CASES} == set(UFUNCS) | set(FUNCTIONS)


@pytest.mark.parametrize("case", CASES, ids=[_label(case) for case in CASES])
def test_a_numpy_function_on_values_is_its_op(case):
    _, call, makers = case
    rng = np.random.default_rng(7)
    arrays = [make(rng) for make in makers]
    out = call(*[tc.Value(array) for array in arrays])
    assert isinstance(out, tc.Value) and out.requires_grad
    np.testing.assert_allclose(out.data, call(*arrays), rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(call, arrays)


def test_copysign_takes_the_sign_bit_and_gives_x2_no_gradient():
    x = tc.Value(np.array([-1.5, 0.0, 2.0, -0.0, 3.0]))
    y = tc.Value(np.array([1.0, -2.0, -0.0, 3.0, np.nan]))
    out = np.copysign(x, y)
    expected = np.copysign(x.data, y.data)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(np.signbit(out.data), np.signbit(expected))   # -0.0 kept
    gx, gy = tc.grad(out.sum(), [x, y])
    np.testing.assert_array_equal(gx.data, [-1.0, 0.0, -1.0, 0.0, 1.0])    # 0 at x = 0
    np.testing.assert_array_equal(gy.data, np.zeros(5))
    assert np.copysign(tc.Value(np.ones(2, dtype=np.float32)), -2.0).dtype == np.float32


def test_fmax_and_fmin_let_a_nan_lose_and_send_a_ties_gradient_to_the_first():
    a = tc.Value(np.array([1.0, np.nan, 2.0, np.nan, 3.0]))
    b = tc.Value(np.array([1.0, 2.0, np.nan, np.nan, 4.0]))
    for f, to_a in ((np.fmax, [1, 0, 1, 1, 0]), (np.fmin, [1, 0, 1, 1, 1])):
        out = f(a, b)
        np.testing.assert_array_equal(out.data, f(a.data, b.data))
        ga, gb = tc.grad(out.sum(), [a, b])
        np.testing.assert_array_equal(ga.data, to_a)
        np.testing.assert_array_equal(gb.data, 1 - np.array(to_a))


@pytest.mark.parametrize("ufunc", _BINARY + [np.power, np.matmul])
def test_an_array_first_operand_gives_the_same_value(ufunc, rng):
    array, x = rng.uniform(0.5, 2.0, (4, 4)), tc.Value(rng.uniform(0.5, 2.0, (4, 4)))
    for out, expected in [(ufunc(array, x), ufunc(array, x.data)),
                          (ufunc(x, array), ufunc(x.data, array))]:
        assert isinstance(out, tc.Value)
        np.testing.assert_array_equal(out.data, expected)


def test_the_operators_of_an_array_and_a_value_build_the_graph(rng):
    array, x = rng.standard_normal(3), tc.Value(rng.standard_normal(3))
    y = (array * x + array) / (array ** 2 + 1) - x @ array
    y.sum().backward()
    np.testing.assert_allclose(x.grad, array / (array ** 2 + 1) - 3 * array, rtol=1e-13)


def test_a_rule_written_with_numpy_functions_is_differentiated_twice():
    class NumpySoftplus(tc.Function):
        def forward(self, x):
            return np.logaddexp(0, x)

        # d softplus(x)/dx = sigmoid(x) = exp(x - softplus(x))
        def backward(self, grad):
            x, y = self.saved()
            return grad * np.exp(x - y)

    x = np.array([0.3, -1.2, 2.0])
    v = tc.Value(x)
    (g,) = tc.grad(NumpySoftplus.apply(v).sum(), [v])
    np.testing.assert_allclose(g.data, 1 / (1 + np.exp(-x)), rtol=1e-14)
    assert tc.gradgradcheck(NumpySoftplus.apply, [x])


def test_a_function_without_an_op_runs_on_the_data_where_no_gradient_is_lost(rng):
    data = rng.standard_normal((3, 4))
    x = tc.Value(data)
    np.testing.assert_array_equal(np.isnan(x), np.zeros((3, 4), bool))
    assert np.argmax(x) == np.argmax(data) and np.shape(x) == (3, 4)
    assert np.allclose(x, data) and not (np.ones((3, 4)) < x).all()
    constant = tc.Value(data, requires_grad=False)
    assert np.percentile(constant, 30) == np.percentile(data, 30)
    with tc.no_grad():
        assert np.percentile(x, 30) == np.percentile(data, 30)


def test_a_function_without_an_op_refuses_to_drop_a_gradient(rng):
    x = tc.Value(rng.standard_normal(3))
    with pytest.raises(TypeError, match=r"np\.percentile has no gradient rule here, .* use an "
                                        r"op of tc\.ops .*pass x\.data"):
        np.percentile(x, 30)
    with pytest.raises(TypeError, match=r"np\.float_power has no gradient rule here, .* use an "
                                        r"op of tc\.ops"):
        np.float_power(x, 2.0)
    with pytest.raises(TypeError, match=r"np\.add\.reduce has a gradient rule only when called"):
        np.add.reduce(x)
    with pytest.raises(TypeError, match=r"np\.sum builds a graph only when called as "
                                        r"np\.sum\(a, axis=None, keepdims=False\) \(got an "
                                        r"unexpected keyword argument 'dtype'\)"):
        np.sum(x, dtype=np.float32)
    with pytest.raises(TypeError, match=r"np\.exp builds a graph only without keyword arguments "
                                        r"\(got dtype\), .* use tc\.ops\.exp \(see its "
                                        r"parameters\)"):
        np.exp(x, dtype=np.float32)
    assert np.percentile(x.data, 50) == pytest.approx(np.median(x.data))


def test_nothing_is_written_into_a_value_or_into_an_array_that_would_need_a_gradient(rng):
    x = tc.Value(rng.standard_normal(3))
    before = x.data.copy()
    with pytest.raises(TypeError, match=r"np\.add\.at: cannot write into a Value"):
        np.add.at(x, [0], 1.0)
    with pytest.raises(TypeError, match=r"np\.exp: cannot write into a Value"):
        np.exp(before, out=x)
    np.testing.assert_array_equal(x.data, before)
    total = np.zeros(3)
    with pytest.raises(TypeError, match=r"np\.add\(\.\.\., out=array\) with a Value that "
                                        r"requires grad: .*\(y = y \+ x, not y \+= x"):
        total += x
    np.testing.assert_array_equal(total, np.zeros(3))
    total = total + x                     # the fix the message names
    assert isinstance(total, tc.Value) and total.requires_grad


# numpy's functions that write into an argument: the call, and the one that writes the source
# into an array instead
WRITES = [
    (lambda dst, src: np.put(dst, [0, 2], src[:2])),
    (lambda dst, src: np.place(dst, np.array([True, False, True]), src)),
    (lambda dst, src: np.putmask(dst, np.array([True, False, True]), src)),
    (lambda dst, src: np.copyto(dst, src)),
    (lambda dst, src: np.copyto(src=src, dst=dst)),
    (lambda dst, src: np.put_along_axis(dst, np.array([1]), src[:1], axis=0)),
    (lambda dst, src: np.fill_diagonal(dst.reshape(1, 3) if isinstance(dst, np.ndarray)
                                       else dst, src[0])),
]


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("requires_grad", [True, False])
def test_numpys_writing_functions_write_neither_into_a_value_nor_a_gradient_into_an_array(
        rng, write, requires_grad):
    x = tc.Value(rng.standard_normal(3), requires_grad=requires_grad)
    before = x.data.copy()
    with pytest.raises(TypeError, match=r"np\.\w+: cannot write into a Value .*compute a new "
                                        r"Value instead"):
        write(x, rng.standard_normal(3))
    np.testing.assert_array_equal(x.data, before)
    array = np.zeros(3)
    if requires_grad:
        # (np.fill_diagonal dispatches on its array only: there numpy's own request for the
        # Value's array is what refuses)
        with pytest.raises(TypeError, match=r"(would write|array of) a Value that requires "
                                            r"grad"):
            write(array, x)
        np.testing.assert_array_equal(array, 0.0)
    else:                               # a constant's data may go into an array, as numpy's
        write(array, x)
        assert np.isin(before, array).any()


def test_an_out_argument_that_is_a_value_is_refused(rng):
    x = tc.Value(rng.standard_normal((2, 3)), requires_grad=False)
    before = x.data.copy()
    with pytest.raises(TypeError, match=r"np\.cumsum: cannot write into a Value"):
        np.cumsum(np.ones((2, 3)), axis=1, out=x)
    np.testing.assert_array_equal(x.data, before)

def test_equality_with_an_array_stays_identity_from_either_side(rng):
    x = tc.Value(rng.standard_normal(3))
    array = x.data.copy()
    assert (array == x) is False and (x == array) is False
    assert (array != x) is True and (x != array) is True


def test_np_linalg_norm_picks_numpys_norm_and_refuses_what_numpy_refuses(rng):
    x = tc.Value(rng.standard_normal((2, 3, 4)))
    np.testing.assert_allclose(np.linalg.norm(x).data, np.linalg.norm(x.data), rtol=1e-14)
    with pytest.raises(ValueError, match=r"np\.linalg\.norm: x has shape \(2, 3, 4\); with "
                                         r"ord=2 and axis=None, numpy expects a vector or a "
                                         r"matrix; pass axis=-1 .* or axis=\(-2, -1\)"):
        np.linalg.norm(x, 2)
    with pytest.raises(ValueError, match=r"np\.linalg\.norm: axis \(0, 1, 2\) names 3 axes; "
                                         r".*np\.linalg\.vector_norm\(x, axis=\(0, 1, 2\)\)"):
        np.linalg.norm(x, axis=(0, 1, 2))
    np.testing.assert_allclose(np.linalg.vector_norm(x, axis=(0, 1, 2)).data,
                               np.linalg.norm(x.data), rtol=1e-14)     # the suggested fix
    for ord in (2, "fro"):
        with pytest.raises(ValueError):
            np.linalg.norm(x.data, ord)                             # numpy refuses them too


def test_np_astype_keeps_the_graph_and_casts_the_gradient_back(rng):
    x = tc.Value(rng.standard_normal(3))
    y = np.astype(x, np.float32)
    assert isinstance(y, tc.Value) and y.dtype == np.float32
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, np.full(3, 2.0))


def test_np_transpose_takes_its_axes_as_an_array(rng):
    x = tc.Value(rng.standard_normal((2, 3, 4)))
    np.testing.assert_array_equal(np.transpose(x, np.array([2, 0, 1])).data,
                                  np.transpose(x.data, (2, 0, 1)))
    assert np.transpose(x).shape == (4, 3, 2)


def test_heaviside_takes_x2_where_x1_is_0_and_gives_x1_no_gradient():
    x1 = tc.Value([-1.5, 0.0, 2.0, -0.0, np.nan])
    x2 = tc.Value([0.3, 0.5, 0.7, 0.9, 1.1])
    out = np.heaviside(x1, x2)
    np.testing.assert_array_equal(out.data, np.heaviside(x1.data, x2.data))
    out.backward(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x1.grad, 0.0)
    np.testing.assert_array_equal(x2.grad, [0.0, 2.0, 0.0, 4.0, 0.0])
    assert np.heaviside(tc.Value(np.ones(2, np.float32)), 0.5).dtype == np.float32


def test_nan_to_num_replaces_as_numpy_and_passes_the_gradient_only_where_x_is_finite():
    data = np.array([1.5, np.nan, np.inf, -np.inf, -2.0])
    x = tc.Value(data)
    for kwargs in ({}, {"nan": 7.0, "posinf": 1e3, "neginf": -5.0}):
        out = np.nan_to_num(x, **kwargs)
        np.testing.assert_array_equal(out.data, np.nan_to_num(data, **kwargs))
    out.backward(np.arange(1.0, 6.0))
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 0.0, 0.0, 5.0])
    with pytest.raises(TypeError, match=r"copy=False\) would write into the Value's data.*"
                                        r"expected copy=True"):
        np.nan_to_num(x, copy=False)
    np.testing.assert_array_equal(x.data, data)


def test_split_pieces_and_several_atleast_inputs_are_values_with_their_gradients(rng):
    data = rng.standard_normal((2, 7))
    x = tc.Value(data)
    pieces = np.array_split(x, 3, axis=1)
    assert [p.shape for p in pieces] == [p.shape for p in np.array_split(data, 3, axis=1)]
    sum(((k + 1) * p).sum() for k, p in enumerate(pieces)).backward()
    np.testing.assert_array_equal(x.grad, [[1, 1, 1, 2, 2, 3, 3]] * 2)
    a, b = np.atleast_2d(tc.Value(2.0), x)
    assert a.shape == (1, 1) and b is x
    assert [u.shape for u in np.unstack(x, axis=-1)] == [(2,)] * 7


@pytest.mark.parametrize("call, error, match", [
    (lambda x: np.fliplr(x), ValueError, r"np\.fliplr: input of shape \(6,\); expected at least "
                                         r"2 axes"),
    (lambda x: np.vsplit(x, 2), ValueError, r"np\.vsplit: .* expected at least 2 axes"),
    (lambda x: np.dsplit(x.reshape(2, 3), 3), ValueError, r"np\.dsplit: .*at least 3 axes"),
    (lambda x: np.hsplit(x, 4), ValueError, r"split: 4 sections do not divide axis 0 of size 6"),
    (lambda x: np.array_split(x, 0), ValueError, r"np\.array_split: 0 sections; expected a "
                                                 r"positive number"),
    (lambda x: np.rot90(x.reshape(2, 3), 1, (1, -1)), ValueError, r"np\.rot90: axes \(1, -1\) "
                                                                  r"name one axis .* twice"),
    (lambda x: np.rot90(x.reshape(2, 3), 1, (0, 1, 2)), ValueError, r"expected two axes"),
    (lambda x: np.diag(x.reshape(1, 2, 3)), ValueError, r"np\.diag: input of shape \(1, 2, 3\); "
                                                        r"expected a vector or a matrix"),
    (lambda x: np.linalg.multi_dot([x]), ValueError, r"1 array\(s\); expected at least two"),
    (lambda x: np.linalg.multi_dot([x, x, x.reshape(6, 1)]), np.linalg.LinAlgError,
     r"array 1 has shape \(6,\); expected a matrix"),
    (lambda x: np.linalg.cross(x.reshape(3, 2), x.reshape(3, 2)), ValueError,
     r"vectors of 2 and 2 elements along axis -1; expected 3 and 3"),
    (lambda x: np.linalg.outer(x.reshape(2, 3), x), ValueError,
     r"inputs of shapes \(2, 3\) and \(6,\); expected two vectors"),
    (lambda x: np.convolve(x.reshape(2, 3), x), ValueError, r"expected two non-empty vectors"),
    (lambda x: np.convolve(x, x, "middle"), ValueError, r"mode 'middle'; expected 'full', "
                                                        r"'same' or 'valid'"),
])
def test_joining_splitting_and_product_functions_raise_where_numpy_does(call, error, match):
    data = np.arange(6.0)
    with pytest.raises(error):
        call(data)                      # numpy refuses the same call on the data
    with pytest.raises(error, match=match):
        call(tc.Value(data))


def test_convolve_promotes_dtypes_as_numpy_and_leaves_integers_to_numpy():
    signal = tc.Value(np.array([1.0, -2.0, 0.5, 3.0], np.float32))
    out = np.convolve(signal, [1.0, 2.0])
    assert out.dtype == np.convolve(signal.data, [1.0, 2.0]).dtype == np.float64
    np.testing.assert_array_equal(out.data, np.convolve(signal.data, [1.0, 2.0]))
    out.sum().backward()
    assert signal.grad.dtype == np.float32
    np.testing.assert_array_equal(signal.grad, [3.0, 3.0, 3.0, 3.0])
    integers = np.correlate(tc.Value(np.arange(4)), [1, 2], "full")
    np.testing.assert_array_equal(integers, np.correlate(np.arange(4), [1, 2], "full"))
    assert integers.dtype.kind == "i"


def test_eigvalsh_reads_the_triangle_that_uplo_names(rng):
    a = rng.standard_normal((2, 3, 3))            # not symmetric: the triangles differ
    for uplo in ("L", "U"):
        np.testing.assert_allclose(np.linalg.eigvalsh(tc.Value(a), uplo).data,
                                   np.linalg.eigvalsh(a, uplo), rtol=1e-12)
    with pytest.raises(ValueError, match=r"UPLO 'l'; expected 'L' or 'U'"):
        np.linalg.eigvalsh(tc.Value(a), "l")


@pytest.mark.parametrize("call, error, match", [
    (lambda x: np.take(x, [6]), IndexError, r"6"),
    (lambda x: np.take(x, [1], mode="bounce"), ValueError, r"np\.take: mode 'bounce'; expected "
                                                           r"'raise', 'wrap' or 'clip'"),
    (lambda x: np.select([x > 0], [x, x]), ValueError, r"1 conditions and 2 choices"),
    (lambda x: np.select([np.ones(6)], [x]), TypeError, r"a condition of dtype float64; "
                                                        r"expected bool arrays"),
    (lambda x: np.meshgrid(x, indexing="yx"), ValueError, r"indexing 'yx'; expected 'xy' or "
                                                          r"'ij'"),
    (lambda x: np.cumulative_sum(x.reshape(2, 3)), ValueError, r"axis=None for an input of "
                                                               r"shape \(2, 3\); expected a "
                                                               r"vector, or an axis"),
])
def test_selecting_and_running_functions_raise_where_numpy_does(call, error, match):
    data = np.arange(6.0)
    with pytest.raises(error):
        call(data)                      # numpy refuses the same call on the data
    with pytest.raises(error, match=match):
        call(tc.Value(data))
