"""Elementwise ops: forward against numpy, gradcheck with every kind of broadcasting, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn.ops.elementwise import unbroadcast

BROADCAST_SHAPES = [
    ((), ()),                  # scalars
    ((2, 3), (2, 3)),          # equal shapes
    ((2, 3), ()),              # a scalar against a matrix
    ((4, 2, 3), (3,)),         # leading axes added to b
    ((3,), (2, 4, 3)),         # leading axes added to a
    ((2, 1, 4), (2, 3, 1)),    # size-1 axes stretched in both operands
    ((4, 1), (1, 5)),          # both operands broadcast, into a new (4, 5) shape
    ((5, 1, 3), (2, 1)),       # leading axes and size-1 axes at once
]

BINARY = {
    "add": (tc.ops.add, np.add),
    "sub": (tc.ops.sub, np.subtract),
    "mul": (tc.ops.mul, np.multiply),
    "div": (tc.ops.div, np.divide),
}


def away_from_zero(rng, shape, low=0.5, high=2.0):
    """Random values with |x| in [low, high) and random signs."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


@pytest.mark.parametrize("a_shape, b_shape", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_forward_and_gradcheck(rng, name, a_shape, b_shape):
    op, oracle = BINARY[name]
    a, b = rng.standard_normal(a_shape), away_from_zero(rng, b_shape)
    out = op(tc.Value(a), tc.Value(b))
    np.testing.assert_array_equal(out.data, oracle(a, b))
    assert out.shape == np.broadcast_shapes(a_shape, b_shape)
    assert tc.gradcheck(op, [a, b])


@pytest.mark.parametrize("name", BINARY)
def test_binary_operators_and_reversed_forms_with_numbers(rng, name):
    op, oracle = BINARY[name]
    operator = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__"}[name]
    reflected = operator.replace("__", "__r", 1)
    x = away_from_zero(rng, (2, 3))
    np.testing.assert_array_equal(getattr(tc.Value(x), operator)(2.5).data, oracle(x, 2.5))
    np.testing.assert_array_equal(getattr(tc.Value(x), reflected)(2.5).data, oracle(2.5, x))
    assert tc.gradcheck(lambda v: getattr(v, operator)(2.5), [x])
    assert tc.gradcheck(lambda v: getattr(v, reflected)(2.5), [x])


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcast_mismatch_names_both_shapes(name):
    op = BINARY[name][0]
    with pytest.raises(ValueError, match=rf"{name}: cannot broadcast shapes \(2, 3\) and \(4,\); "
                                         r"expected each trailing dimension to be equal or 1"):
        op(tc.Value(np.ones((2, 3))), tc.Value(np.ones(4)))
    with pytest.raises(ValueError, match=r"shapes \(3, 1, 2\) and \(4, 3\)"):
        op(np.ones((3, 1, 2)), tc.Value(np.ones((4, 3))))


UNARY = {
    "neg": (tc.ops.neg, np.negative, away_from_zero),
    "exp": (tc.ops.exp, np.exp, lambda rng, shape: rng.standard_normal(shape)),
    "log": (tc.ops.log, np.log, lambda rng, shape: rng.uniform(0.2, 3.0, shape)),
    "relu": (tc.ops.relu, lambda x: np.where(x > 0, x, 0.0), away_from_zero),
    "tanh": (tc.ops.tanh, np.tanh, lambda rng, shape: 2 * rng.standard_normal(shape)),
    "sigmoid": (tc.ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)),
                lambda rng, shape: 2 * rng.standard_normal(shape)),
}


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 4)])
@pytest.mark.parametrize("name", UNARY)
def test_unary_forward_and_gradcheck(rng, name, shape):
    op, oracle, sample = UNARY[name]
    x = sample(rng, shape)
    np.testing.assert_allclose(op(tc.Value(x)).data, oracle(x), rtol=1e-14, atol=1e-15)
    method = getattr(tc.Value(x), name, None)
    if method is not None:
        np.testing.assert_array_equal(method().data, op(tc.Value(x)).data)
    assert tc.gradcheck(op, [x])


def test_relu_gradient_at_the_kink_is_zero():
    x = tc.Value([-1.0, 0.0, 2.0])
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_sigmoid_and_tanh_saturate_without_overflow():
    x = tc.Value([-1000.0, 0.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # e^-1000 underflows to 0
        s = x.sigmoid()
        s.sum().backward()
    assert s.data.tolist() == [0.0, 0.5, 1.0] and x.grad.tolist() == [0.0, 0.25, 0.0]
    assert x.tanh().data.tolist() == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize("exponent, low", [(2, -2.0), (3, -2.0), (-1, 0.5), (0.5, 0.2),
                                           (-1.5, 0.2), (1, -2.0)])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_pow_forward_and_gradcheck(rng, exponent, low, shape):
    # fractional and negative exponents only on positive inputs
    x = rng.uniform(low, 2.0, shape)
    if low < 0:
        x = np.where(np.abs(x) < 0.2, 0.5, x)
    np.testing.assert_allclose((tc.Value(x) ** exponent).data, x ** exponent, rtol=1e-15)
    assert tc.gradcheck(lambda v: v ** exponent, [x])
    assert tc.gradcheck(lambda v: tc.ops.pow(v, exponent), [x])


@pytest.mark.parametrize("base", [2, 0.5, np.e])
@pytest.mark.parametrize("shape", [(), (3,), (2, 2)])
def test_number_to_the_power_of_a_value(rng, base, shape):
    x = rng.standard_normal(shape)
    np.testing.assert_allclose((base ** tc.Value(x)).data, base ** x, rtol=1e-14)
    assert tc.gradcheck(lambda v: base ** v, [x])


def test_pow_rejects_a_value_exponent_and_bad_bases():
    x = tc.Value([1.0, 2.0])
    with pytest.raises(TypeError, match="pow: exponent must be a real number, got Value; "
                                        r"expected e.g. x \*\* 2"):
        x ** tc.Value(2.0)
    with pytest.raises(TypeError, match="exponent must be a real number, got ndarray"):
        x ** np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="exponent must be a real number, got bool"):
        tc.ops.pow(x, True)
    with pytest.raises(TypeError, match=r"pow: -2 \*\* Value needs a positive real number"):
        (-2) ** x
    with pytest.raises(TypeError, match=r"pow: 0 \*\* Value needs a positive real number"):
        0 ** x


def test_non_numeric_operands_raise_type_error():
    x = tc.Value([1.0, 2.0])
    with pytest.raises(TypeError, match="non-numeric dtype <U3"):
        x + "abc"
    with pytest.raises(TypeError, match="non-numeric dtype object"):
        tc.ops.mul(x, object())


@pytest.mark.parametrize("grad_shape, shape, expected", [
    ((2, 3), (2, 3), [[1, 2, 3], [4, 5, 6]]),
    ((2, 3), (3,), [5, 7, 9]),
    ((2, 3), (2, 1), [[6], [15]]),
    ((2, 3), (), 21),
    ((2, 3), (1, 1), [[21]]),
])
def test_unbroadcast_sums_copies(grad_shape, shape, expected):
    grad = np.arange(1.0, 7.0).reshape(grad_shape)
    result = unbroadcast(grad, shape)
    assert result.shape == shape
    np.testing.assert_array_equal(result, expected)
