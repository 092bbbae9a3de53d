"""floor, ceil, trunc, rint, round, sign and floor_divide (gradient 0); log2, log10, exp2,
reciprocal, cbrt, sinc and logit; hypot, fmod, remainder and xlogy: forward equal to numpy's
function, gradcheck and gradgradcheck in float64 through a random upstream gradient, float32
kept, integer inputs typed as numpy types them, broadcasting, the values at the kinks and
special points, the operators %, // and divmod, x.round(decimals), and the errors."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def away_from_integers(rng, shape, scale=3):
    """k + f with k an integer in [-scale, scale) and f in [0.1, 0.4] or [0.6, 0.9]: away from
    the integers and the halves, where the rounding ops jump."""
    whole = rng.integers(-scale, scale, shape)
    part = rng.uniform(0.1, 0.4, shape) + 0.5 * rng.integers(0, 2, shape)
    return whole + part


def logit_of(x, eps=None):
    z = x if eps is None else np.clip(x, eps, 1 - eps)
    return np.log(z / (1 - z))


# (op, numpy's function, inputs in the op's domain from rng and a shape)
ZERO_GRADIENT = {
    "floor": (ops.floor, np.floor, away_from_integers),
    "ceil": (ops.ceil, np.ceil, away_from_integers),
    "trunc": (ops.trunc, np.trunc, away_from_integers),
    "rint": (ops.rint, np.rint, away_from_integers),
    "round": (ops.round, np.round, away_from_integers),
    "round-2": (lambda x: ops.round(x, 2), lambda x: np.round(x, 2),
                lambda rng, s: away_from_integers(rng, s, 300) / 100),
    "round--1": (lambda x: x.round(-1), lambda x: np.round(x, -1),
                 lambda rng, s: away_from_integers(rng, s) * 10),
    "sign": (ops.sign, np.sign, lambda rng, s: rng.uniform(0.1, 2, s) * rng.choice([-1, 1], s)),
}
SMOOTH = {
    "log2": (ops.log2, np.log2, lambda rng, s: rng.uniform(0.2, 5, s)),
    "log10": (ops.log10, np.log10, lambda rng, s: rng.uniform(0.2, 5, s)),
    "exp2": (ops.exp2, np.exp2, lambda rng, s: rng.uniform(-3, 3, s)),
    "reciprocal": (ops.reciprocal, np.reciprocal,
                   lambda rng, s: rng.uniform(0.3, 2, s) * rng.choice([-1, 1], s)),
    "cbrt": (ops.cbrt, np.cbrt, lambda rng, s: rng.uniform(0.2, 8, s) * rng.choice([-1, 1], s)),
    "sinc": (ops.sinc, np.sinc, lambda rng, s: rng.uniform(-2.5, 2.5, s)),
    "sinc-near-0": (ops.sinc, np.sinc, lambda rng, s: rng.uniform(-0.15, 0.15, s)),
    "logit": (ops.logit, logit_of, lambda rng, s: rng.uniform(0.05, 0.95, s)),
    "logit-eps": (lambda x: ops.logit(x, eps=0.2), lambda x: logit_of(x, 0.2),
                  lambda rng, s: rng.uniform(0.25, 0.75, s)),
}
UNARY = {**ZERO_GRADIENT, **SMOOTH}


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 2)])
@pytest.mark.parametrize("name", UNARY)
def test_unary_forward_gradcheck_and_gradgradcheck(rng, name, shape):
    op, oracle, make = UNARY[name]
    x = make(rng, shape)
    out = op(tc.Value(x))
    assert out.shape == shape and out.dtype == np.float64
    np.testing.assert_array_equal(out.data, oracle(x))
    assert tc.gradcheck(op, [x])
    assert tc.gradgradcheck(op, [x])


@pytest.mark.parametrize("name", UNARY)
def test_unary_float32_stays_float32(rng, name):
    op, oracle, make = UNARY[name]
    x = make(rng, (3, 4)).astype(np.float32)
    value = tc.Value(x)
    out = op(value)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, oracle(x), rtol=1e-6)
    (out * 2.0).sum().backward()
    assert value.grad.dtype == np.float32


def test_smooth_derivatives_are_the_textbook_ones(rng):
    x = rng.uniform(0.2, 0.8, 7)
    expected = {"log2": 1 / (x * np.log(2)), "log10": 1 / (x * np.log(10)),
                "exp2": np.exp2(x) * np.log(2), "reciprocal": -1 / x ** 2,
                "cbrt": 1 / (3 * np.cbrt(x) ** 2), "logit": 1 / (x * (1 - x)),
                "sinc": (np.pi * x * np.cos(np.pi * x) - np.sin(np.pi * x)) / (np.pi * x * x)}
    for name, derivative in expected.items():
        value = tc.Value(x)
        SMOOTH[name][0](value).backward(np.ones(7))
        np.testing.assert_allclose(value.grad, derivative, rtol=1e-13, err_msg=name)
    value = tc.Value(-x)                           # the real cube root of a negative number
    ops.cbrt(value).backward(np.ones(7))
    np.testing.assert_allclose(value.grad, 1 / (3 * np.cbrt(x) ** 2), rtol=1e-14)


@pytest.mark.parametrize("name", ZERO_GRADIENT)
def test_zero_gradient_is_a_defined_zero_at_the_jumps_and_for_infinite_upstreams(name):
    op = ZERO_GRADIENT[name][0]
    jumps = np.array([-2.0, -1.5, -0.5, 0.0, 0.005, 0.5, 1.0, 2.5, 10.0], dtype=np.float32)
    value = tc.Value(jumps)
    op(value).backward(np.array([1, np.inf, -np.inf, 1, 1, 1, np.inf, 1, 1], dtype=np.float32))
    assert value.grad.dtype == np.float32
    np.testing.assert_array_equal(value.grad, np.zeros(9))   # 0, not NaN, not None
    value = tc.Value(jumps.astype(np.float64))
    (first,) = tc.grad(op(value), [value], grad_output=np.ones(9), create_graph=True)
    np.testing.assert_array_equal(first.data, 0.0)
    (second,) = tc.grad((first * value).sum(), [value])
    np.testing.assert_array_equal(second.data, 0.0)


def test_rounding_forward_at_the_halves_and_jumps_is_numpys():
    x = np.array([-2.5, -1.5, -0.5, -0.0, 0.5, 1.5, 2.5, 0.125, 1.005, 2.675, np.nan, np.inf])
    for op, oracle in [(ops.floor, np.floor), (ops.ceil, np.ceil), (ops.trunc, np.trunc),
                       (ops.rint, np.rint), (ops.sign, np.sign), (ops.round, np.round)]:
        np.testing.assert_array_equal(op(tc.Value(x)).data, oracle(x))
    np.testing.assert_array_equal(ops.rint(tc.Value(x[:7])).data, [-2, -2, -0, 0, 0, 2, 2])
    np.testing.assert_array_equal(ops.round(tc.Value(x[7:10]), 2).data, [0.12, 1.0, 2.68])
    np.testing.assert_array_equal(ops.round(tc.Value(np.array([1250.0, 1350.0])), -2).data,
                                  [1200.0, 1400.0])
    assert np.signbit(ops.trunc(tc.Value(np.array(-0.5))).data)   # -0.0, as numpy's


def test_integer_inputs_are_typed_as_numpy_types_them():
    i = np.array([-3, 0, 2, 7])
    for op, oracle in [(ops.floor, np.floor), (ops.ceil, np.ceil), (ops.trunc, np.trunc),
                       (ops.rint, np.rint), (ops.sign, np.sign), (ops.log2, np.log2),
                       (ops.exp2, np.exp2), (ops.cbrt, np.cbrt), (ops.sinc, np.sinc),
                       (ops.round, np.round), (lambda v: ops.round(v, -1),
                                               lambda a: np.round(a, -1))]:
        with np.errstate(divide="ignore", invalid="ignore"):
            out, expected = op(tc.Value(i)), oracle(i)
        assert out.dtype == expected.dtype and not out.requires_grad
        np.testing.assert_array_equal(out.data, expected)
    assert ops.reciprocal(tc.Value(np.array([1, 2, -1]))).data.tolist() == [1, 0, -1]  # numpy's
    assert ops.rint(tc.Value(i)).dtype == np.float64
    pairs = [(ops.hypot, np.hypot), (ops.fmod, np.fmod), (ops.remainder, np.remainder),
             (ops.floor_divide, np.floor_divide)]
    for op, oracle in pairs:
        out = op(tc.Value(i), tc.Value(np.array([2, -3, 5, 4])))
        expected = oracle(i, np.array([2, -3, 5, 4]))
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out.data, expected)
    assert ops.xlogy(tc.Value(i), tc.Value(np.array([1, 0, 4, 1]))).data.tolist() == \
        [0.0, 0.0, 2 * np.log(4), 0.0]
    assert ops.logit(tc.Value(np.array([0, 1])), eps=0.25).dtype == np.float64


def fmod_operands(rng, a_shape, b_shape):
    """a = +-(k + f), k in 0..4, f in [0.3, 0.7], and b = +-[1, 1.04]: every quotient a / b of
    the broadcast lies at least 0.1 from an integer, where fmod, remainder and floor_divide
    jump (|a| (1 - 1/b) < 0.2)."""
    a = (rng.integers(0, 5, a_shape) + rng.uniform(0.3, 0.7, a_shape)) * rng.choice([-1, 1],
                                                                                     a_shape)
    b = rng.uniform(1.0, 1.04, b_shape) * rng.choice([-1.0, 1.0], b_shape)
    assert np.abs(a / b - np.rint(a / b)).min() > 0.1
    return a, b


# (op, numpy's function, inputs from rng and two shapes)
BINARY = {
    "hypot": (ops.hypot, np.hypot,
              lambda rng, sa, sb: (rng.standard_normal(sa), rng.standard_normal(sb))),
    "fmod": (ops.fmod, np.fmod, fmod_operands),
    "remainder": (ops.remainder, np.remainder, fmod_operands),
    "floor_divide": (ops.floor_divide, np.floor_divide, fmod_operands),
    "xlogy": (ops.xlogy, lambda x, y: x * np.log(y),
              lambda rng, sa, sb: (rng.standard_normal(sa), rng.uniform(0.2, 3.0, sb))),
}


@pytest.mark.parametrize("a_shape, b_shape", [((), ()), ((2, 3), (2, 3)), ((4, 1, 3), (2, 1)),
                                              ((3,), (2, 3))])
@pytest.mark.parametrize("name", BINARY)
def test_binary_forward_gradcheck_and_gradgradcheck(rng, name, a_shape, b_shape):
    op, oracle, make = BINARY[name]
    a, b = make(rng, a_shape, b_shape)
    out = op(tc.Value(a), tc.Value(b))
    assert out.shape == np.broadcast_shapes(a_shape, b_shape) and out.dtype == np.float64
    np.testing.assert_array_equal(out.data, oracle(a, b))
    assert tc.gradcheck(op, [a, b])
    assert tc.gradgradcheck(op, [a, b])


@pytest.mark.parametrize("name", BINARY)
def test_binary_float32_with_a_number_stays_float32(rng, name):
    op, oracle, make = BINARY[name]
    a, b = make(rng, (2, 3), (2, 3))
    value = tc.Value(a.astype(np.float32))
    for out in (op(value, 1.5), op(1.5, value), op(value, tc.Value(b.astype(np.float32)))):
        assert out.dtype == np.float32
        (out * 2.0).sum().backward()
        assert value.grad.dtype == np.float32


def test_hypot_does_not_overflow_or_underflow_and_is_0_with_gradient_0_at_the_origin():
    a, b = tc.Value(np.array([3e200, 3e-200, 0.0, -3.0])), tc.Value(np.array([4e200, 4e-200,
                                                                             0.0, 4.0]))
    out = ops.hypot(a, b)
    np.testing.assert_allclose(out.data, [5e200, 5e-200, 0.0, 5.0], rtol=1e-15)
    out.backward(np.ones(4))
    np.testing.assert_allclose(a.grad, [0.6, 0.6, 0.0, -0.6], rtol=1e-15)
    np.testing.assert_allclose(b.grad, [0.8, 0.8, 0.0, 0.8], rtol=1e-15)
    # second derivatives: d/da (a / h) = b^2 / h^3 and d/db (a / h) = -a b / h^3; 0 at the origin
    a, b = tc.Value(np.array([0.0, -3.0])), tc.Value(np.array([0.0, 4.0]))
    first = tc.grad(ops.hypot(a, b), [a, b], grad_output=np.ones(2), create_graph=True)
    second = tc.grad(first[0].sum(), [a, b])
    np.testing.assert_allclose(second[0].data, [0.0, 16 / 125], rtol=1e-15)
    np.testing.assert_allclose(second[1].data, [0.0, 12 / 125], rtol=1e-15)


def test_sinc_at_0_and_its_series_agree_with_the_formula():
    x = np.array([0.0, 1e-8, 1e-3, 0.05, 0.0999999, 0.1, 0.1000001, 0.5, 1.5, -3.0])
    value = tc.Value(x)
    out = ops.sinc(value)
    np.testing.assert_array_equal(out.data, np.sinc(x))
    assert out.data[0] == 1.0
    (first,) = tc.grad(out, [value], grad_output=np.ones(10), create_graph=True)
    (second,) = tc.grad(first.sum(), [value])
    # the formula in long double where it does not cancel too much, the series' first terms
    # below: sinc'(x) = -pi^2 x / 3 + pi^4 x^3 / 30, sinc''(0) = -pi^2 / 3
    xl = x[3:].astype(np.longdouble)
    pi = np.longdouble(np.pi)
    formula = (np.cos(pi * xl) - np.sin(pi * xl) / (pi * xl)) / xl
    np.testing.assert_allclose(first.data[3:], formula.astype(np.float64), rtol=1e-13)
    series = -np.pi ** 2 * x[:3] / 3 + np.pi ** 4 * x[:3] ** 3 / 30
    np.testing.assert_allclose(first.data[:3], series, rtol=1e-12, atol=0)
    assert first.data[0] == 0.0
    np.testing.assert_allclose(second.data[0], -np.pi ** 2 / 3, rtol=1e-15)
    series = -np.pi ** 2 / 3 + np.pi ** 4 * x[1:3] ** 2 / 10 - np.pi ** 6 * x[1:3] ** 4 / 168
    np.testing.assert_allclose(second.data[1:3], series, rtol=1e-14)


def test_fmod_and_remainder_take_the_sign_of_a_and_of_b_and_keep_their_gradient_at_jumps():
    a = tc.Value(np.array([5.5, -5.5, 5.5, -5.5, 4.0, -4.0]))
    b = tc.Value(np.array([2.0, 2.0, -2.0, -2.0, 2.0, 2.0]))
    np.testing.assert_array_equal(ops.fmod(a, b).data, [1.5, -1.5, 1.5, -1.5, 0.0, -0.0])
    np.testing.assert_array_equal(ops.remainder(a, b).data, [1.5, 0.5, -0.5, -1.5, 0.0, 0.0])
    np.testing.assert_array_equal((a % b).data, a.data % b.data)   # numpy's (and Python's) %
    ops.fmod(a, b).backward(np.ones(6))
    np.testing.assert_array_equal(a.grad, np.ones(6))
    np.testing.assert_array_equal(b.grad, [-2.0, 2.0, 2.0, -2.0, -2.0, 2.0])    # -trunc(a / b)
    a.grad = b.grad = None
    ops.remainder(a, b).backward(np.ones(6))
    np.testing.assert_array_equal(a.grad, np.ones(6))
    np.testing.assert_array_equal(b.grad, [-2.0, 3.0, 3.0, -2.0, -2.0, 2.0])    # -(a // b)


def test_floor_divide_is_numpys_exact_floor_division():
    a, b = np.array([1.0, -1.0, 7.0, -7.0, 0.3]), np.array([0.1, 0.1, 2.0, 2.0, 0.1])
    out = ops.floor_divide(tc.Value(a), tc.Value(b))
    np.testing.assert_array_equal(out.data, np.floor_divide(a, b))
    assert out.data[0] == 9.0 and np.floor(1.0 / 0.1) == 10.0     # 0.1 is a little above 1/10


def test_xlogy_at_x_0_is_0_and_its_gradients_follow_pytorch():
    x = tc.Value(np.array([0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 3.0]))
    y = tc.Value(np.array([0.0, -1.0, 2.0, np.inf, 0.0, np.nan, np.e]))
    with np.errstate(divide="ignore", invalid="ignore"):    # 2 / 0 in the y-gradient
        out = ops.xlogy(x, y)
        np.testing.assert_array_equal(out.data, [0.0, 0.0, 0.0, 0.0, -np.inf, np.nan, 3.0])
        first = tc.grad(out, [x, y], grad_output=np.ones(7), create_graph=True)
    np.testing.assert_array_equal(first[0].data, [0.0, 0.0, np.log(2), np.inf, -np.inf, np.nan,
                                                  1.0])
    np.testing.assert_array_equal(first[1].data[[0, 1, 2, 3, 5]], [0.0, -0.0, 0.0, 0.0, np.nan])
    np.testing.assert_allclose(first[1].data[6], 3 / np.e, rtol=1e-15)
    # the mixed second derivative d/dx (x / y) = 1 / y holds at x = 0 too; 0 at x = y = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        second = tc.grad(first[1].sum(), [x, y])
    np.testing.assert_array_equal(second[0].data[:3], [0.0, -1.0, 0.5])
    np.testing.assert_array_equal(second[1].data[:3], [0.0, 0.0, 0.0])
    # p ln p with 0 ln 0 = 0: the entropy term, finite at p = 0
    p = tc.Value(np.array([0.0, 0.5, 1.0]))
    np.testing.assert_array_equal(ops.xlogy(p, p).data, [0.0, 0.5 * np.log(0.5), 0.0])


def test_logit_clips_with_eps_and_its_gradient_is_0_outside_but_not_at_the_bounds():
    x = tc.Value(np.array([0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0]))
    out = ops.logit(x, eps=0.1)
    np.testing.assert_allclose(out.data, np.log(np.array([1, 1, 1, 1, 9, 9, 9]) /
                                                np.array([9, 9, 9, 1, 1, 1, 1])), rtol=1e-15)
    (first,) = tc.grad(out, [x], grad_output=np.ones(7), create_graph=True)
    np.testing.assert_allclose(first.data, [0, 0, 1 / 0.09, 4, 1 / 0.09, 0, 0], rtol=1e-14)
    (second,) = tc.grad(first.sum(), [x])
    np.testing.assert_allclose(second.data, [0, 0, -0.8 / 0.09 ** 2, 0, 0.8 / 0.09 ** 2, 0, 0],
                               rtol=1e-13, atol=1e-12)
    with np.errstate(divide="ignore"):
        ends = ops.logit(tc.Value(np.array([0.0, 1.0])))
        np.testing.assert_array_equal(ends.data, [-np.inf, np.inf])
    np.testing.assert_array_equal(ops.logit(tc.Value(np.array([0.0, 1.0])), eps=0.0).data,
                                  [-np.inf, np.inf])
    assert ops.logit(tc.Value(np.array([0.2, 0.9])), eps=0.5).data.tolist() == [0.0, 0.0]


def test_the_operators_and_the_round_method_are_numpys():
    a, b = np.array([[5.5, -5.5, 3.0]]), np.array([[2.0], [-1.5]])
    x, y = tc.Value(a), tc.Value(b)
    for ours, theirs in [(x % y, a % b), (x % 2, a % 2), (7 % x, 7 % a), (b % x, b % a),
                         (x // y, a // b), (x // 2, a // 2), (7 // x, 7 // a), (b // x, b // a),
                         (x.round(), a.round()), (x.round(1), a.round(1))]:
        assert ours.shape == theirs.shape
        np.testing.assert_array_equal(ours.data, theirs)
    quotient, rest = divmod(x, y)
    np.testing.assert_array_equal(quotient.data, np.divmod(a, b)[0])
    np.testing.assert_array_equal(rest.data, np.divmod(a, b)[1])
    quotient, rest = divmod(7.0, x)
    np.testing.assert_array_equal(rest.data, np.divmod(7.0, a)[1])
    (x // y + x % y).sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0, 2.0]])      # // gives 0, % gives 1
    np.testing.assert_array_equal(y.grad, -(a // b).sum(axis=1, keepdims=True))
    with pytest.raises(TypeError):                # numpy's arrays have no __round__ either
        round(x)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: ops.round(x, 1.5), TypeError,
     r"round: decimals is float 1.5; expected an int, the number of decimal places"),
    (lambda x: x.round(True), TypeError, r"round: decimals is bool True; expected an int"),
    (lambda x: ops.logit(x, eps=0.7), ValueError,
     r"logit: eps is 0.7; expected None or a number in \[0, 0.5\], x being clipped to "
     r"\[eps, 1 - eps\]"),
    (lambda x: ops.logit(x, eps=-1e-6), ValueError, r"logit: eps is -1e-06; expected None"),
    (lambda x: ops.logit(x, eps="small"), TypeError,
     r"logit: eps is str 'small'; expected a real number such as 1e-6 \(or None\)"),
    (lambda x: ops.hypot(x, np.ones(4)), ValueError,
     r"hypot: cannot broadcast shapes \(2, 3\) and \(4,\)"),
    (lambda x: ops.fmod(x, np.ones(4)), ValueError, r"fmod: cannot broadcast shapes"),
    (lambda x: x % np.ones(4), ValueError, r"remainder: cannot broadcast shapes"),
    (lambda x: np.ones(4) // x, ValueError,
     r"floor_divide: cannot broadcast shapes \(4,\) and \(2, 3\)"),
    (lambda x: ops.xlogy(x, np.ones((3, 2))), ValueError, r"xlogy: cannot broadcast shapes"),
])
def test_errors_name_the_mistake(call, error, match):
    with pytest.raises(error, match=match):
        call(tc.Value(np.full((2, 3), 0.5)))


def test_constants_keep_their_float_values():
    """The series coefficients of sinc's rule: pi * sum_k (-1)^k 2k u^(2k-1) / (2k+1)!."""
    from tinygrad_cnn.ops.elementwise import SINC_SERIES
    assert SINC_SERIES[:2] == [-1 / 3, 4 / 120]
    assert math.isclose(SINC_SERIES[-1], -14 / math.factorial(15))
