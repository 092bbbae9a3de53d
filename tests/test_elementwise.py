"""Elementwise ops: forward against numpy, gradcheck with every kind of broadcasting, second
derivatives, the tie and kink rules, the logistic tails to a few ulps, erf/gelu/silu against
high-precision values and in their tails, log1p/expm1 near 0, errors."""

import math
import warnings
from decimal import Decimal, localcontext

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
    "abs": (tc.ops.abs, np.abs, away_from_zero),
    "sqrt": (tc.ops.sqrt, np.sqrt, lambda rng, shape: rng.uniform(0.2, 3.0, shape)),
    "square": (tc.ops.square, np.square, lambda rng, shape: rng.standard_normal(shape)),
    "leaky_relu": (tc.ops.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), away_from_zero),
    "softplus": (tc.ops.softplus, lambda x: np.log1p(np.exp(x)),
                 lambda rng, shape: 3 * rng.standard_normal(shape)),
    "log_sigmoid": (tc.ops.log_sigmoid, lambda x: -np.log1p(np.exp(-x)),
                    lambda rng, shape: 3 * rng.standard_normal(shape)),
    "erf": (tc.ops.erf, np.vectorize(math.erf), lambda rng, shape: 2 * rng.standard_normal(shape)),
    "gelu": (tc.ops.gelu, lambda x: x * np.vectorize(math.erfc)(-x / math.sqrt(2)) / 2,
             lambda rng, shape: 2 * rng.standard_normal(shape)),
    "gelu_tanh": (lambda x: tc.ops.gelu(x, approximate="tanh"),
                  lambda x: x / 2 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
                  lambda rng, shape: 2 * rng.standard_normal(shape)),
    "silu": (tc.ops.silu, lambda x: x / (1 + np.exp(-x)),
             lambda rng, shape: 3 * rng.standard_normal(shape)),
    "sin": (tc.ops.sin, np.sin, lambda rng, shape: 3 * rng.standard_normal(shape)),
    "cos": (tc.ops.cos, np.cos, lambda rng, shape: 3 * rng.standard_normal(shape)),
    "arcsin": (tc.ops.arcsin, np.arcsin, lambda rng, shape: rng.uniform(-0.95, 0.95, shape)),
    "arccos": (tc.ops.arccos, np.arccos, lambda rng, shape: rng.uniform(-0.95, 0.95, shape)),
    "arctan": (tc.ops.arctan, np.arctan, lambda rng, shape: 3 * rng.standard_normal(shape)),
    "log1p": (tc.ops.log1p, np.log1p, lambda rng, shape: rng.uniform(-0.8, 3.0, shape)),
    "expm1": (tc.ops.expm1, np.expm1, lambda rng, shape: 2 * rng.standard_normal(shape)),
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


@pytest.mark.parametrize("a_shape, b_shape", [((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), ()),
                                              ((), (2, 2))])
def test_a_value_to_the_power_of_a_value(rng, a_shape, b_shape):
    a, b = rng.uniform(0.2, 2.0, a_shape), rng.standard_normal(b_shape)
    np.testing.assert_allclose((tc.Value(a) ** tc.Value(b)).data, a ** b, rtol=1e-15)
    assert tc.gradcheck(lambda x, p: x ** p, [a, b])
    assert tc.gradgradcheck(lambda x, p: x ** p, [a, b])


def test_a_negative_base_to_an_array_of_integer_exponents(rng):
    a, exponents = rng.uniform(-2.0, -0.5, (2, 3)), np.array([0.0, 1.0, 3.0])
    np.testing.assert_array_equal((tc.Value(a) ** exponents).data, a ** exponents)
    assert tc.gradcheck(lambda x: x ** exponents, [a])
    assert tc.gradgradcheck(lambda x: x ** exponents, [a])


def test_power_at_a_zero_exponent_differentiates_twice_in_both_inputs():
    # a^0 = 1 for every a, but d/db of d(a^b)/da = a^(b-1) (1 + b ln a) is 1/a at b = 0
    a, b = np.array([2.0, 0.5, 3.0]), np.array([0.0, 0.0, 0.0])
    assert tc.gradgradcheck(lambda x, p: x ** p, [a, b])
    x, p = tc.Value(a), tc.Value(b)
    da, db = tc.grad((x ** p).sum(), [x, p], create_graph=True)
    np.testing.assert_array_equal(da.data, 0.0)
    np.testing.assert_allclose(db.data, np.log(a), rtol=1e-15)
    np.testing.assert_allclose(tc.grad(da.sum(), [p])[0].data, 1 / a, rtol=1e-15)


@pytest.mark.filterwarnings("ignore:divide by zero encountered in power")   # 0^-0.5: inf
def test_power_at_a_zero_base_takes_pytorchs_gradients():
    # 0^b: 0 for b > 0 and 1 at b = 0, so d/db is 0 there (not 0 * ln 0); d/da of 0^0 is 0
    x, p = tc.Value([0.0, 0.0, 0.0, 0.0]), tc.Value([2.0, 1.0, 0.5, 0.0])
    out = x ** p
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 0.0, 1.0])
    out.backward(np.ones(4))
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, np.inf, 0.0])
    np.testing.assert_array_equal(p.grad, 0.0)


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")    # ln of a negative
@pytest.mark.parametrize("base", [-2.0, 0.0, np.array([1.0, 2.0, -3.0])])
def test_a_negative_zero_or_array_base_to_the_power_of_a_value(base):
    x = tc.Value([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((base ** x).data, base ** x.data)
    (base ** x).backward(np.ones(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(base == 0, 0.0, base ** x.data * np.log(base))
    np.testing.assert_array_equal(x.grad, expected)     # NaN where the base is negative


def test_pow_rejects_a_bool_or_none_exponent():
    x = tc.Value([1.0, 2.0])
    with pytest.raises(TypeError, match=r"pow: exponent is True; expected a number, e.g. "
                                        r"x \*\* 2, or an array or a Value of exponents"):
        x ** True
    with pytest.raises(TypeError, match="pow: exponent is None; expected a number"):
        tc.ops.pow(x, None)
    with pytest.raises(TypeError, match="non-numeric dtype"):
        x ** "2"


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


@pytest.mark.parametrize("name", UNARY)
def test_unary_keeps_float32(rng, name):
    op, _, sample = UNARY[name]
    x = tc.Value(sample(rng, (2, 3)).astype(np.float32))
    out = op(x)
    out.backward(np.ones((2, 3), dtype=np.float32))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("name", UNARY)
def test_unary_second_derivatives(rng, name):
    op, _, sample = UNARY[name]
    assert tc.gradgradcheck(op, [sample(rng, (2, 3))])


@pytest.mark.parametrize("a_shape, b_shape", BROADCAST_SHAPES[1:6])
@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "minimum", "maximum"])
def test_binary_second_derivatives(rng, name, a_shape, b_shape):
    op = getattr(tc.ops, name)
    assert tc.gradgradcheck(op, [rng.standard_normal(a_shape), away_from_zero(rng, b_shape)])


def test_the_zeroth_power_has_a_zero_gradient_at_zero_too():
    # p x^(p-1) at p = 0 is 0, not 0 * 0^-1 = NaN; so x ** 1 differentiates twice at 0 too
    x = tc.Value([0.0, 2.0, -3.0])
    (x ** 0).backward(np.array([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    (g,) = tc.grad((x ** 1).sum(), [x], create_graph=True)
    assert g.data.tolist() == [1.0, 1.0, 1.0]
    assert tc.grad(g.sum(), [x])[0].data.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_astype_casts_forward_and_casts_the_gradient_back(rng, shape):
    x = tc.Value(rng.standard_normal(shape).astype(np.float32))
    y = x.astype(np.float64)
    assert y.dtype == np.float64 and np.array_equal(y.data, x.data.astype(np.float64))
    upstream = rng.standard_normal(shape)
    y.backward(upstream)
    assert x.grad.dtype == np.float32 and np.array_equal(x.grad, upstream.astype(np.float32))
    assert tc.gradcheck(lambda v: v.astype(np.float64) * v, [rng.standard_normal(shape)])
    assert tc.gradgradcheck(lambda v: tc.ops.astype(v * v, np.float64),
                            [rng.standard_normal(shape)])


def test_astype_refuses_a_dtype_without_gradients():
    x = tc.Value([1.5, -2.0])
    with pytest.raises(TypeError, match=r"astype: dtype int64 is not a float dtype; expected e.g. "
                                        r"np.float32 or np.float64; for an integer or bool array "
                                        r"without a gradient use x.data.astype\(np.int64\)"):
        x.astype(np.int64)
    assert x.data.astype(np.int64).tolist() == [1, -2]                          # the fix works


def test_pow_second_derivatives(rng):
    assert tc.gradgradcheck(lambda v: v ** 3, [rng.standard_normal((2, 3))])
    assert tc.gradgradcheck(lambda v: v ** -0.5, [rng.uniform(0.5, 2.0, (2, 3))])


def test_abs_leaky_relu_and_clip_at_their_kinks():
    x = tc.Value([-2.0, 0.0, 3.0])
    x.abs().backward(np.array([1.0, 1.0, 1.0]))
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]          # sign(0) = 0, as PyTorch
    y = tc.Value([-2.0, 0.0, 3.0])
    tc.ops.leaky_relu(y, negative_slope=0.2).sum().backward()
    assert y.grad.tolist() == [0.2, 0.2, 1.0]           # the slope at 0, as PyTorch
    z = tc.Value([-1.0, -0.5, 0.0, 0.5, 1.0])
    tc.ops.clip(z, -0.5, 0.5).sum().backward()
    assert z.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # bounds included, as PyTorch's clamp


CLIP_CASES = [(-0.5, 0.5), (None, 0.3), (-0.2, None), (0.0, 0.0)]


@pytest.mark.parametrize("low, high", CLIP_CASES)
@pytest.mark.parametrize("shape", [(), (7,), (3, 4)])
def test_clip_forward_and_gradcheck(rng, shape, low, high):
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x - (low or 0.0)) < 1e-3, 0.7, x)       # away from the kinks
    x = np.where(np.abs(x - (high or 0.0)) < 1e-3, -0.7, x)
    out = tc.ops.clip(tc.Value(x), low, high)
    np.testing.assert_array_equal(out.data, np.clip(x, low, high))
    np.testing.assert_array_equal(tc.Value(x).clip(min=low, max=high).data, out.data)
    assert tc.gradcheck(lambda v: tc.ops.clip(v, min=low, max=high), [x])


def test_clip_keeps_float32_and_rejects_bad_bounds():
    x = tc.Value(np.array([-2.0, 0.5, 2.0], dtype=np.float32))
    assert tc.ops.clip(x, np.float64(-1), 1.0).dtype == np.float32
    with pytest.raises(ValueError, match=r"clip: min and max are both None; expected at least "
                                         r"one bound, e.g. clip\(x, min=0.0\)"):
        tc.ops.clip(x)
    with pytest.raises(TypeError, match=r"clip: max=array\(\[1., 2., 3.\]\) is a ndarray; "
                                        r"expected a real number or None; for elementwise "
                                        r"bounds use ops.minimum/ops.maximum"):
        tc.ops.clip(x, max=np.array([1.0, 2.0, 3.0]))
    assert tc.ops.minimum(x, np.array([1.0, 2.0, 3.0], dtype=np.float32)).shape == (3,)


@pytest.mark.parametrize("a_shape, b_shape", BROADCAST_SHAPES)
@pytest.mark.parametrize("name", ["minimum", "maximum"])
def test_minimum_maximum_forward_and_gradcheck(rng, name, a_shape, b_shape):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)   # no ties
    out = getattr(tc.ops, name)(tc.Value(a), tc.Value(b))
    np.testing.assert_array_equal(out.data, getattr(np, name)(a, b))
    assert tc.gradcheck(getattr(tc.ops, name), [a, b])


@pytest.mark.parametrize("name", ["minimum", "maximum"])
def test_minimum_maximum_ties_split_the_gradient(name):
    a = tc.Value([[1.0, 2.0, 3.0], [2.0, 0.0, 2.0]])
    b = tc.Value(2.0)                                   # broadcast against every element
    out = getattr(tc.ops, name)(a, b)
    out.backward(np.array([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]))
    # a == b at (0, 1), (1, 0), (1, 2): half of the gradient each; b sums its shares
    a_wins = np.array([[1, 0, 0], [0, 1, 0]]) if name == "minimum" else [[0, 0, 1], [0, 0, 0]]
    tie = np.array([[0, 1, 0], [1, 0, 1]])
    g = np.array([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]])
    np.testing.assert_array_equal(a.grad, g * (a_wins + 0.5 * tie))
    assert b.grad == (g * (1 - np.asarray(a_wins) - 0.5 * tie)).sum()
    assert b.grad == {"minimum": 4.0 + 21.0, "maximum": 1.0 + 16.0 + 21.0}[name]


WHERE_SHAPES = [                                        # condition, a, b
    ((2, 3), (2, 3), (2, 3)),
    ((2, 3), (3,), ()),                                 # a and b broadcast
    ((3, 1), (1, 4), (3, 4)),                           # the condition broadcasts too
    ((), (2,), (2,)),                                   # a single condition for all
    ((4, 1, 2), (3, 1), (1,)),                          # every operand broadcast
]


@pytest.mark.parametrize("c_shape, a_shape, b_shape", WHERE_SHAPES)
def test_where_forward_and_gradcheck(rng, c_shape, a_shape, b_shape):
    condition = rng.standard_normal(c_shape) > 0
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = tc.ops.where(condition, tc.Value(a), tc.Value(b))
    np.testing.assert_array_equal(out.data, np.where(condition, a, b))
    assert tc.gradcheck(lambda u, v: tc.ops.where(condition, u, v), [a, b])
    assert tc.gradgradcheck(lambda u, v: tc.ops.where(condition, u * u, v * u.sum()), [a, b])


def test_where_sends_the_gradient_to_the_chosen_operand():
    x = tc.Value([-1.0, 2.0, -3.0, 4.0])
    y = tc.ops.where(x > 0, x, 0.1 * x)                 # a Value's comparison is the condition
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_allclose(y.data, [-0.1, 2.0, -0.3, 4.0])
    np.testing.assert_allclose(x.grad, [0.1, 2.0, 0.3, 4.0])
    z = tc.Value([1.0, np.inf, 3.0])                    # the unchosen inf gives no NaN
    w = tc.ops.where(tc.Value(np.array([True, False, True])), z, 0.0)
    w.sum().backward()
    assert w.data.tolist() == [1.0, 0.0, 3.0] and z.grad.tolist() == [1.0, 0.0, 1.0]


def test_where_errors():
    x = tc.Value(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"where: condition has dtype float64; expected a bool "
                                        r"array, e.g. x > 0; convert a 0/1 array with "
                                        r"np.asarray\(condition\).astype\(bool\)"):
        tc.ops.where(np.ones((2, 3)), x, 0.0)
    condition = tc.Value(np.array([1, 0, 1]))
    with pytest.raises(TypeError, match=r"condition has dtype int64; .* convert a 0/1 array with "
                                        r"condition.data.astype\(bool\)"):
        tc.ops.where(condition, x[0], x[1])
    assert tc.ops.where(condition.data.astype(bool), x[0], 0.0).shape == (3,)   # the fix works
    with pytest.raises(ValueError, match=r"where: cannot broadcast shapes \(4,\) and \(2, 3\) "
                                         r"and \(\); expected each trailing dimension"):
        tc.ops.where(np.ones(4, dtype=bool), x, 0.0)
    with pytest.raises(ValueError, match=r"where: cannot broadcast shapes \(3,\) and \(2, 3\) "
                                         r"and \(2,\)"):
        tc.ops.where(np.ones(3, dtype=bool), x, np.zeros(2))


def test_leaky_relu_slope_and_errors(rng):
    x = away_from_zero(rng, (3, 4))
    out = tc.ops.leaky_relu(tc.Value(x), negative_slope=0.3)
    np.testing.assert_allclose(out.data, np.where(x > 0, x, 0.3 * x), rtol=1e-15)
    assert tc.gradcheck(lambda v: tc.ops.leaky_relu(v, 0.3), [x])
    with pytest.raises(TypeError, match=r"leaky_relu: negative_slope is str '0.1'; expected a "
                                        r"real number such as 0.01"):
        tc.ops.leaky_relu(tc.Value(x), "0.1")


# The logistic functions against a 40-digit reference (decimal): s(x) = 1 / (1 + e^-x),
# softplus(x) = ln(1 + e^x) with derivative s(x), log_sigmoid(x) = -ln(1 + e^-x) with s(-x).
def _s(x: Decimal) -> Decimal:
    return 1 / (1 + (-x).exp())


LOGISTIC = {
    "sigmoid": (lambda x: _s(x), lambda x: _s(x) * _s(-x)),
    "softplus": (lambda x: (1 + x.exp()).ln(), _s),
    "log_sigmoid": (lambda x: -(1 + (-x).exp()).ln(), lambda x: _s(-x)),
}
TAILS = [-100.0, -50.0, -29.7, -20.0, 20.0, 50.0, 100.0]


def _reference(fn, x: np.ndarray) -> np.ndarray:
    values = []
    for t in x.tolist():
        with localcontext() as context:
            context.prec = 40 + int(abs(t) / 2.3)     # 1 + e^-|t| keeps 40 digits of e^-|t|
            values.append(float(fn(Decimal(t))))
    return np.array(values).astype(x.dtype)


def _assert_ulps(got: np.ndarray, expected: np.ndarray, ulps: int, what: str) -> None:
    error = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    allowed = ulps * np.spacing(np.abs(expected)).astype(np.float64)
    worst = np.argmax(error - allowed)
    assert (error <= allowed).all(), (f"{what}: {got[worst]!r} vs {expected[worst]!r}, "
                                      f"{error[worst] / allowed[worst] * ulps:.1f} ulps")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOGISTIC)
def test_logistic_tails_to_a_few_ulps(name, dtype):
    x = np.array(TAILS, dtype=dtype)
    v = tc.Value(x)
    out = getattr(tc.ops, name)(v)
    out.backward(np.ones_like(x))
    assert out.dtype == dtype and v.grad.dtype == dtype
    f, df = LOGISTIC[name]
    _assert_ulps(out.data, _reference(f, x), 4, f"{name} at {x.dtype}")
    _assert_ulps(v.grad, _reference(df, x), 4, f"d {name} at {x.dtype}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOGISTIC)
def test_logistic_to_a_few_ulps_everywhere(name, dtype):
    x = np.concatenate([np.linspace(-120, 120, 241), np.geomspace(1e-6, 1, 13),
                        -np.geomspace(1e-6, 1, 13), [-745.0, -700.0, 700.0, 745.0]]).astype(dtype)
    v = tc.Value(x)
    out = getattr(tc.ops, name)(v)
    out.backward(np.ones_like(x))
    f, df = LOGISTIC[name]
    _assert_ulps(out.data, _reference(f, x), 4, f"{name} at {x.dtype}")
    _assert_ulps(v.grad, _reference(df, x), 4, f"d {name} at {x.dtype}")


def test_log_of_sigmoid_in_the_float32_tail_is_finite():
    x = tc.Value(np.array([-20.0], dtype=np.float32))
    y = x.sigmoid().log()          # the old tanh form gave -inf and a NaN gradient here
    y.backward(np.ones(1, dtype=np.float32))
    np.testing.assert_allclose(y.data, [-20.0], rtol=1e-6)
    np.testing.assert_allclose(x.grad, [1.0], rtol=1e-6)
    z = tc.Value(np.array([-20.0], dtype=np.float32))
    tc.ops.log_sigmoid(z).backward(np.ones(1, dtype=np.float32))
    np.testing.assert_allclose(z.grad, [1.0], rtol=1e-6)


# erf, gelu and silu: NEW_ACTIVATIONS also run through the UNARY table above
NEW_ACTIVATIONS = {name: UNARY[name][0] for name in ["erf", "gelu", "gelu_tanh", "silu"]}


@pytest.mark.parametrize("shape", [(), (0,), (2, 0, 3), (1,), (3, 4)])
@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
def test_erf_gelu_silu_first_and_second_derivatives_on_edge_shapes(rng, name, shape):
    op = NEW_ACTIVATIONS[name]
    x = 2 * rng.standard_normal(shape)
    assert op(tc.Value(x)).shape == shape
    assert tc.gradcheck(op, [x])
    assert tc.gradgradcheck(op, [x])


# (x, f(x), f'(x)) to 20 digits, from mpmath at 40 digits: an oracle sharing no code with ours
EXACT = {
    "erf": [(-3.0, "-0.99997790950300141456", None), (-0.5, "-0.52049987781304653768", None),
            (1e-3, "0.0011283787909692363799", None), (2.0, "0.99532226501895273416", None),
            (4.5, "0.99999999980338395585", None)],
    "gelu": [(-20.0, "-5.5072482372124673902e-88", None),
             (-10.0, "-7.619853024160526066e-23", "-7.6184000964648140857e-22"),
             (-7.5, "-2.3931687546831721708e-13", None),
             (-6.0, "-5.9195258702261888442e-9", "-3.5468709453902014781e-8"),
             (-1.0, "-0.15865525393145705141", "-0.083315470587686298383"),
             (0.5, "0.34573123063700655182", "0.86749512465616284253"),
             (3.0, "2.9959503059051097164", "1.011945647204183927")],
}


@pytest.mark.parametrize("name", EXACT)
def test_erf_and_gelu_equal_high_precision_values(name):
    x = np.array([row[0] for row in EXACT[name]])
    v = tc.Value(x)
    out = getattr(tc.ops, name)(v)
    out.backward(np.ones_like(x))
    expected = np.array([float(row[1]) for row in EXACT[name]])
    if name == "erf":
        _assert_ulps(out.data, expected, 2, name)
        return
    # Phi(x) = erfc(-x / sqrt 2) / 2 never cancels, where x/2 (1 + erf(x / sqrt 2)), as PyTorch
    # computes it, is 0 below x = -8.3; rounding x / sqrt 2 costs ~x^2 ulps in the tail
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=0)
    naive = x / 2 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    assert naive[0] == naive[1] == 0.0
    rows = [i for i, row in enumerate(EXACT[name]) if row[2] is not None]
    np.testing.assert_allclose(v.grad[rows], [float(EXACT[name][i][2]) for i in rows],
                               rtol=1e-13, atol=0)


def _v(x: Decimal) -> Decimal:
    """2u of gelu's tanh form, with our float constant sqrt(2/pi) (PyTorch's too)."""
    return 2 * Decimal(math.sqrt(2 / math.pi)) * (x + Decimal("0.044715") * x ** 3)


def _dv(x: Decimal) -> Decimal:
    return 2 * Decimal(math.sqrt(2 / math.pi)) * (1 + 3 * Decimal("0.044715") * x ** 2)


# silu(x) = x s(x), gelu's tanh form x/2 (1 + tanh(u)) = x s(2u), their derivatives, and how
# many ulps a rounding of their argument costs: none for silu (x is exact), |v| for v = 2u
X_SIGMOID = {
    "silu": (tc.ops.silu, lambda x: x * _s(x), lambda x: _s(x) * (1 + x * _s(-x)),
             lambda x: 0 * x),
    "gelu_tanh": (NEW_ACTIVATIONS["gelu_tanh"], lambda x: x * _s(_v(x)),
                  lambda x: _s(_v(x)) + x * _s(_v(x)) * _s(-_v(x)) * _dv(x),
                  lambda x: 2 * np.sqrt(2 / np.pi) * np.abs(x + 0.044715 * x ** 3)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", X_SIGMOID)
def test_silu_and_tanh_gelu_in_their_tails(name, dtype):
    op, f, df, conditioning = X_SIGMOID[name]
    x = np.array(TAILS + [-5.0, -3.0, 0.5, 3.0], dtype=dtype)
    v = tc.Value(x)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = op(v)
        out.backward(np.ones_like(x))
    assert out.dtype == dtype and v.grad.dtype == dtype
    rtol = 8 * np.finfo(dtype).eps * (1 + conditioning(x.astype(np.float64)))
    tiny = np.finfo(dtype).tiny                 # below it, subnormals keep fewer digits
    for what, got, expected in [("forward", out.data, _reference(f, x)),
                                ("derivative", v.grad, _reference(df, x))]:
        error = np.abs(got.astype(np.float64) - expected)
        assert (error <= rtol * np.abs(expected) + tiny).all(), (what, x, got, expected)


def test_erf_gelu_silu_saturate_without_overflow():
    x = tc.Value([-1000.0, 0.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # underflow is fine
        for name, op in NEW_ACTIVATIONS.items():
            x.grad = None
            out = op(x)
            out.sum().backward()
            expected = [-1.0, 0.0, 1.0] if name == "erf" else [0.0, 0.0, 1000.0]
            slope = [0.0, 2 / math.sqrt(math.pi), 0.0] if name == "erf" else [0.0, 0.5, 1.0]
            assert out.data.tolist() == expected and x.grad.tolist() == slope, name


LOGISTIC_OPS = {"sigmoid": tc.ops.sigmoid, "softplus": tc.ops.softplus,
                "log_sigmoid": tc.ops.log_sigmoid}


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.uint8, np.bool_])
def test_activations_of_integers_give_the_dtype_tanh_gives(dtype):
    """Computed on floats: -|x| of an unsigned x would wrap (sigmoid(uint8 1) was 0) and -x of
    a bool raises."""
    data = np.array([0, 1, 2]).astype(dtype)
    expected_dtype = tc.ops.tanh(tc.Value(data)).dtype      # numpy's: int8 -> float16, ...
    for name, op in {**NEW_ACTIVATIONS, **LOGISTIC_OPS}.items():
        out = op(tc.Value(data))
        assert out.dtype == expected_dtype and not out.requires_grad, name
        np.testing.assert_allclose(out.data, op(data.astype(np.float64)).data, rtol=1e-3,
                                   err_msg=name)
    assert tc.ops.erf(tc.Value([0, 1])).dtype == np.float64      # Python numbers: float64


def test_erf_method_and_gelu_errors():
    x = tc.Value([0.5, -1.0])
    np.testing.assert_array_equal(x.erf().data, tc.ops.erf(x).data)
    with pytest.raises(ValueError, match=r"gelu: approximate='exact' is not one of its two "
                                         r"forms; expected 'none' \(x Phi\(x\), with erf\) or "
                                         r"'tanh' \(PyTorch's tanh approximation\); pass e.g. "
                                         r"gelu\(x, approximate='tanh'\)"):
        tc.ops.gelu(x, approximate="exact")
    with pytest.raises(ValueError, match=r"gelu: approximate=None is not one of its two forms"):
        tc.ops.gelu(x, None)
    assert tc.ops.gelu(x, approximate="tanh").shape == (2,)                  # the fix works


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_tanh_gelu_derivatives_stay_finite_where_it_saturates(dtype):
    """x^3 and x v' overflow float16 beyond |x| = 40; the rule clips x there, where s(v) is
    exactly 0 or 1 anyway, so no inf meets a 0 (PyTorch: 1 and 0, then 0)."""
    x = tc.Value(np.array([300.0, -300.0, 60000.0, -60000.0, 41.0, -41.0], dtype=dtype))
    out = tc.ops.gelu(x, approximate="tanh")
    first, = tc.grad(out.sum(), [x], create_graph=True)
    second, = tc.grad(first.sum(), [x])
    np.testing.assert_array_equal(out.data, np.where(x.data > 0, x.data, 0))
    np.testing.assert_array_equal(first.data, [1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(second.data, np.zeros(6))


# ln(1 + x) and e^x - 1 against 40-digit values (decimal), near 0 and away from it
NEAR_ZERO = {"log1p": lambda x: (1 + x).ln(), "expm1": lambda x: x.exp() - 1}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NEAR_ZERO)
def test_log1p_and_expm1_keep_the_digits_near_zero(name, dtype):
    x = np.array([1e-12, -3e-9, 1e-5, -0.25, 2.0], dtype=dtype)
    v = tc.Value(x)
    out = getattr(tc.ops, name)(v)
    out.backward(np.ones_like(x))
    expected = _reference(NEAR_ZERO[name], x)
    _assert_ulps(out.data, expected, 2, f"{name} at {x.dtype}")
    derivative = _reference(lambda d: 1 / (1 + d) if name == "log1p" else d.exp(), x)
    _assert_ulps(v.grad, derivative, 2, f"d {name} at {x.dtype}")
    naive = np.log(1 + x) if name == "log1p" else np.exp(x) - 1     # 1 + x or e^x rounds first
    assert abs(naive[0] - expected[0]) > 1e-5 * abs(expected[0])


def test_sin_and_cos_by_hand():
    x = tc.Value([0.0, np.pi / 2, np.pi])
    (dx,) = tc.grad(x.sin().sum(), [x], create_graph=True)
    np.testing.assert_allclose(dx.data, [1.0, 0.0, -1.0], atol=1e-15)           # cos x
    (ddx,) = tc.grad(dx.sum(), [x])
    np.testing.assert_allclose(ddx.data, [0.0, -1.0, 0.0], atol=1e-15)          # -sin x
    y = tc.Value([0.0, np.pi / 2])
    y.cos().backward(np.array([2.0, 3.0]))
    np.testing.assert_allclose(y.grad, [0.0, -3.0], atol=1e-15)                 # -g sin y


def test_inverse_trig_by_hand():
    x = tc.Value([-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(x.arcsin().data, [-np.pi / 2, -np.pi / 6, 0, np.pi / 6, np.pi / 2])
    np.testing.assert_allclose(x.arccos().data, [np.pi, 2 * np.pi / 3, np.pi / 2, np.pi / 3, 0],
                               atol=1e-15)
    with np.errstate(divide="ignore"):          # 1 / sqrt(1 - x^2) at x = +-1: 1/0
        (d_arcsin,) = tc.grad(x.arcsin().sum(), [x])
        (d_arccos,) = tc.grad(x.arccos().sum(), [x])
    root = 1 / np.sqrt(0.75)
    np.testing.assert_allclose(d_arcsin.data, [np.inf, root, 1.0, root, np.inf])
    np.testing.assert_allclose(d_arccos.data, [-np.inf, -root, -1.0, -root, -np.inf])
    t = tc.Value([-1.0, 0.0, 3.0])
    np.testing.assert_allclose(t.arctan().data, [-np.pi / 4, 0.0, np.arctan(3.0)])
    (dt,) = tc.grad(t.arctan().sum(), [t], create_graph=True)
    np.testing.assert_allclose(dt.data, [0.5, 1.0, 0.1])                      # 1 / (1 + t^2)
    (ddt,) = tc.grad(dt.sum(), [t])
    np.testing.assert_allclose(ddt.data, [0.5, 0.0, -0.06])                   # -2t / (1 + t^2)^2


def test_arctan2_tells_the_quadrants_apart_and_is_flat_at_the_origin():
    y = tc.Value([1.0, 1.0, -1.0, -1.0, 0.0, 0.0])
    x = tc.Value([1.0, -1.0, -1.0, 1.0, -2.0, 0.0])
    angle = tc.ops.arctan2(y, x)
    np.testing.assert_allclose(angle.data, [np.pi / 4, 3 * np.pi / 4, -3 * np.pi / 4,
                                            -np.pi / 4, np.pi, 0.0])
    angle.backward(np.arange(1.0, 7.0))
    # d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2), times the upstream 1..6; 0 at the origin
    np.testing.assert_allclose(y.grad, [0.5, -1.0, -1.5, 2.0, -2.5, 0.0])
    np.testing.assert_allclose(x.grad, [-0.5, -1.0, 1.5, 2.0, 0.0, 0.0])


@pytest.mark.parametrize("a_shape, b_shape", BROADCAST_SHAPES)
def test_arctan2_forward_gradcheck_and_second_derivatives(rng, a_shape, b_shape):
    y, x = rng.standard_normal(a_shape), away_from_zero(rng, b_shape)
    np.testing.assert_array_equal(tc.ops.arctan2(tc.Value(y), x).data, np.arctan2(y, x))
    assert tc.gradcheck(tc.ops.arctan2, [y, x])
    assert tc.gradgradcheck(tc.ops.arctan2, [y, x])


def test_arctan2_names_both_shapes_when_they_do_not_broadcast():
    with pytest.raises(ValueError, match=r"arctan2: cannot broadcast shapes \(2, 3\) and \(4,\)"):
        tc.ops.arctan2(tc.Value(np.ones((2, 3))), np.ones(4))


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8, np.bool_])
def test_trig_log1p_expm1_of_integers_give_the_dtype_tanh_gives(dtype):
    data = np.array([0, 1, 1]).astype(dtype)
    expected_dtype = tc.ops.tanh(tc.Value(data)).dtype      # numpy's: int8 -> float16, ...
    for name in ["sin", "cos", "arcsin", "arccos", "arctan", "log1p", "expm1"]:
        out = getattr(tc.ops, name)(tc.Value(data))
        assert out.dtype == expected_dtype and not out.requires_grad, name
        np.testing.assert_allclose(out.data, getattr(np, name)(data.astype(np.float64)),
                                   rtol=1e-3, err_msg=name)


# elu, hardtanh, softplus's beta and threshold, prelu: (op, the definition in numpy, the kinks)
def _elu(alpha):
    return lambda x: np.where(x > 0, x, alpha * (np.exp(x) - 1))


def _softplus(beta, threshold):
    return lambda x: np.where(beta * x > threshold, x, np.log(1 + np.exp(beta * x)) / beta)


PIECEWISE = {
    "elu": (tc.ops.elu, _elu(1.0), [0.0]),
    "elu-alpha-0.3": (lambda x: tc.ops.elu(x, alpha=0.3), _elu(0.3), [0.0]),
    "elu-alpha-negative": (lambda x: tc.ops.elu(x, -1.5), _elu(-1.5), [0.0]),
    "hardtanh": (tc.ops.hardtanh, lambda x: np.minimum(np.maximum(x, -1), 1), [-1.0, 1.0]),
    "hardtanh-relu6": (lambda x: tc.ops.hardtanh(x, 0.0, 6.0),
                       lambda x: np.minimum(np.maximum(x, 0), 6), [0.0, 6.0]),
    "hardtanh-asymmetric": (lambda x: tc.ops.hardtanh(x, min_val=-0.5, max_val=2.0),
                            lambda x: np.minimum(np.maximum(x, -0.5), 2), [-0.5, 2.0]),
    "softplus-threshold-20": (lambda x: tc.ops.softplus(x, threshold=20.0), _softplus(1, 20),
                              [20.0]),
    "softplus-beta-2-threshold-3": (lambda x: tc.ops.softplus(x, 2.0, 3.0), _softplus(2, 3),
                                    [1.5]),
    "softplus-beta-negative": (lambda x: tc.ops.softplus(x, beta=-0.7, threshold=1.0),
                               _softplus(-0.7, 1), [-1 / 0.7]),
}


def away_from_kinks(rng, shape, kinks):
    """Values spread over [-24, 24] (past softplus's threshold 20 and relu6's 6), none within
    0.05 of a kink, where finite differences straddle two pieces."""
    x = rng.standard_normal(shape) * 8
    for kink in kinks:
        x = np.where(np.abs(x - kink) < 0.05, kink + 0.1, x)
    return x


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
@pytest.mark.parametrize("name", PIECEWISE)
def test_elu_hardtanh_softplus_settings_forward_gradcheck_and_gradgradcheck(rng, name, shape):
    op, definition, kinks = PIECEWISE[name]
    x = away_from_kinks(rng, shape, kinks)
    out = op(tc.Value(x))
    assert out.shape == shape
    np.testing.assert_allclose(out.data, definition(x), rtol=1e-13, atol=1e-15)
    assert tc.gradcheck(op, [x])
    assert tc.gradgradcheck(op, [x])
    x32 = tc.Value(x.astype(np.float32))
    out32 = op(x32)
    out32.backward(np.ones(shape, dtype=np.float32))
    assert out32.dtype == x32.grad.dtype == np.float32


def test_elu_hardtanh_softplus_prelu_at_their_kinks_as_pytorch():
    """The values PyTorch gives at the kinks (tests/torch_oracle/test_activations.py checks them
    against torch, to second order)."""
    x = tc.Value([-1.0, 0.0, 1.0])
    tc.ops.elu(x, alpha=0.5).sum().backward()
    np.testing.assert_allclose(x.grad, [0.5 * np.exp(-1), 0.5, 1.0], rtol=1e-15)  # alpha at 0
    y = tc.Value([-1.5, -1.0, 0.0, 1.0, 1.5])
    tc.ops.hardtanh(y).sum().backward()
    assert y.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]           # 0 at the bounds, unlike clip
    z = tc.Value([-1.0, 0.0, 3.0, 6.0, 7.0])
    tc.ops.hardtanh(z, 0.0, 6.0).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    s = tc.Value([0.5, 0.75])                                     # beta x = threshold, then above
    tc.ops.softplus(s, beta=2.0, threshold=1.0).sum().backward()
    np.testing.assert_allclose(s.grad, [1 / (1 + np.exp(-1.0)), 1.0], rtol=1e-15)
    p, w = tc.Value([[-2.0, 0.0, 3.0]]), tc.Value([0.25])
    tc.ops.prelu(p, w).sum().backward()
    assert p.grad.tolist() == [[0.25, 0.25, 1.0]] and w.grad.tolist() == [-2.0]  # slope at 0


def test_softplus_keeps_every_digit_by_default_and_pytorchs_threshold_on_request():
    """threshold=inf by default: above 20, x + log1p(e^-x), not PyTorch's x; threshold=20.0
    gives PyTorch's x and derivative 1 there."""
    x = tc.Value([19.0, 25.0, 40.0])
    exact = tc.ops.softplus(x)
    np.testing.assert_array_equal(exact.data, x.data + np.log1p(np.exp(-x.data)))
    assert exact.data[1] > 25.0
    switched = tc.ops.softplus(x, threshold=20.0)
    np.testing.assert_array_equal(switched.data[1:], [25.0, 40.0])
    assert switched.data[0] == exact.data[0]
    switched.sum().backward()
    np.testing.assert_allclose(x.grad, [1 / (1 + np.exp(-19.0)), 1.0, 1.0], rtol=1e-15)
    with np.errstate(over="raise"):                                 # no e^500 either way
        big = tc.ops.softplus(tc.Value([1000.0, -1000.0]), beta=0.5)
    np.testing.assert_allclose(big.data, [1000.0, 2 * np.exp(-500.0)], rtol=1e-14)


# (x shape, weight shape): one slope per channel of images, of rows, of sequences; one slope
# for everything; a 0-d weight; a 1-D and a 0-d x (one channel)
PRELU_SHAPES = [((2, 3, 4, 5), (3,)), ((4, 3), (3,)), ((2, 3, 5), (3,)), ((2, 3, 4), (1,)),
                ((3, 2), ()), ((5,), (1,)), ((), (1,))]


@pytest.mark.parametrize("x_shape, w_shape", PRELU_SHAPES)
def test_prelu_forward_gradcheck_and_gradgradcheck(rng, x_shape, w_shape):
    x = away_from_zero(rng, x_shape, low=0.05)
    weight = rng.uniform(-0.5, 1.5, w_shape)
    out = tc.ops.prelu(tc.Value(x), tc.Value(weight))
    # one slope per channel (axis 1): the weight as a column for every position of a channel
    slopes = weight if weight.size == 1 else weight.reshape((-1,) + (1,) * (len(x_shape) - 2))
    np.testing.assert_array_equal(out.data, np.where(x > 0, x, slopes * x))
    assert out.shape == x_shape
    assert tc.gradcheck(tc.ops.prelu, [x, weight])
    assert tc.gradgradcheck(tc.ops.prelu, [x, weight])


def test_prelu_weight_gradient_sums_each_channel_where_x_is_negative(rng):
    x = tc.Value(away_from_zero(rng, (2, 3, 4)))
    weight = tc.Value(np.array([0.1, 0.2, 0.3]))
    upstream = rng.standard_normal((2, 3, 4))
    tc.ops.prelu(x, weight).backward(upstream)
    np.testing.assert_allclose(weight.grad, (upstream * np.minimum(x.data, 0)).sum(axis=(0, 2)),
                               rtol=1e-14)
    np.testing.assert_allclose(x.grad, upstream * np.where(x.data > 0, 1, [[0.1], [0.2], [0.3]]),
                               rtol=1e-15)


def test_elu_hardtanh_softplus_prelu_errors():
    x = tc.Value(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"elu: alpha is str '1'; expected a real number such "
                                        r"as 1\.0"):
        tc.ops.elu(x, "1")
    with pytest.raises(ValueError, match=r"hardtanh: min_val=2\.0 is greater than max_val=1\.0; "
                                         r"expected min_val <= max_val"):
        tc.ops.hardtanh(x, 2.0, 1.0)
    np.testing.assert_array_equal(tc.ops.hardtanh(x, 0.5, 0.5).data, np.full((2, 3), 0.5))
    with pytest.raises(TypeError, match=r"hardtanh: max_val is NoneType None; expected a real "
                                        r"number such as 1\.0"):
        tc.ops.hardtanh(x, 0.0, None)
    with pytest.raises(ValueError, match=r"softplus: beta is 0, which the formula "
                                         r"log\(1 \+ e\^\(beta x\)\) / beta divides by; expected "
                                         r"a non-zero number such as 1\.0"):
        tc.ops.softplus(x, beta=0)
    with pytest.raises(TypeError, match=r"softplus: threshold is bool True; expected a real "
                                        r"number such as 20\.0"):
        tc.ops.softplus(x, threshold=True)
    with pytest.raises(ValueError, match=r"prelu: weight has shape \(2,\) but the input \(2, 3\) "
                                         r"has 3 channels \(axis 1; a 0-d or 1-D input has 1\); "
                                         r"expected a weight of shape \(1,\) \(one slope for "
                                         r"every channel\) or \(3,\) \(one per channel\); e\.g\. "
                                         r"nn\.PReLU\(num_parameters=3\)"):
        tc.ops.prelu(x, np.ones(2))
    with pytest.raises(ValueError, match=r"prelu: weight has shape \(3,\) but the input \(3,\) "
                                         r"has 1 channel .*\(one slope for every channel\); "
                                         r"e\.g\. nn\.PReLU\(num_parameters=1\)$"):
        tc.ops.prelu(np.ones(3), np.ones(3))                      # as PyTorch: 1-D x, 1 channel
    with pytest.raises(ValueError, match=r"prelu: weight has shape \(1, 3\)"):
        tc.ops.prelu(x, np.ones((1, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elu_gradient_keeps_its_digits_in_the_negative_tail(dtype):
    """alpha e^x, from x itself: the output + alpha would cancel, to 0 in float32 from about
    -17 on and in float64 from about -37 on."""
    x = np.array([-5.0, -20.0, -40.0, -100.0], dtype)
    v = tc.Value(x)
    tc.ops.elu(v, 1.5).backward(np.ones_like(x))
    expected = 1.5 * np.exp(x.astype(np.float64))
    # float32's e^-100 is subnormal (5.6e-44), held to a few of its last bits only
    np.testing.assert_allclose(v.grad, expected, rtol=1e-6 if dtype == np.float32 else 1e-14,
                               atol=1e-44 if dtype == np.float32 else 0)
    assert v.grad.dtype == dtype


def test_softplus_of_a_beta_x_too_large_for_the_dtype_is_x():
    """beta x overflows to inf (1e37 * 50 in float32): the output is still x, with no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tc.ops.softplus(np.array([1e37], np.float32), 50.0).data.tolist() == [
            np.float32(1e37)]
        assert tc.ops.softplus(np.array([1e307]), 100.0).data.tolist() == [1e307]
        assert tc.ops.softplus(np.array([-1e307]), 100.0).data.tolist() == [0.0]


def test_relu_passes_the_gradient_at_a_nan_input_and_none_at_zero():
    x = tc.Value(np.array([np.nan, -1.0, 2.0, 0.0, -0.0]))
    tc.ops.relu(x).backward(np.array([0.5, 1.5, -2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [0.5, 0.0, -2.0, 0.0, 0.0])
