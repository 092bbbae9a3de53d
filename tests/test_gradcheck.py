"""gradcheck itself: it passes correct ops and catches wrong backward rules, naming the input,
the worst element, and the analytic and numeric values."""

import re

import numpy as np
import pytest

import tinygrad_cnn as tc


class ForgetsGrad(tc.Function):
    """a * b whose backward returns the local derivatives without multiplying by grad."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    # wrong on purpose: d(ab)/da = b, but the chain rule needs grad * b
    def backward(self, grad):
        return self.b.copy(), self.a.copy()


class FlipsSign(tc.Function):
    """a - b whose backward gives b the gradient +grad."""

    def forward(self, a, b):
        return a - b

    # wrong on purpose: d(a-b)/db = -1
    def backward(self, grad):
        return grad, grad


class WrongAxis(tc.Function):
    """x + b for x (N, N) and a row b (N,), whose backward sums b's gradient over the wrong axis
    (the result has b's shape, so only the values are wrong)."""

    def forward(self, x, b):
        return x + b

    # wrong on purpose: b is copied down the rows (axis 0), so db = grad.sum(axis=0)
    def backward(self, grad):
        return grad, grad.sum(axis=1)


class RightAxis(WrongAxis):
    """The correct version of WrongAxis."""

    # b is copied down the rows (axis 0): db = grad.sum(axis=0)
    def backward(self, grad):
        return grad, grad.sum(axis=0)


def wrong_case(rng, name):
    """(op, inputs, index of the wrong input, its wrong analytic and true gradient as functions
    of the upstream gradient u)."""
    if name == "forgets_grad":
        a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
        return ForgetsGrad.apply, [a, b], 0, lambda u: b, lambda u: u * b
    if name == "flips_sign":
        a, b = rng.standard_normal(4), rng.standard_normal(4)
        return FlipsSign.apply, [a, b], 1, lambda u: u, lambda u: -u
    x, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    return WrongAxis.apply, [x, b], 1, lambda u: u.sum(axis=1), lambda u: u.sum(axis=0)


WRONG = ["forgets_grad", "flips_sign", "wrong_axis"]


@pytest.mark.parametrize("name", WRONG)
def test_gradcheck_catches_a_wrong_rule_and_names_the_worst_element(rng, name):
    op, inputs, wrong, analytic_of, numeric_of = wrong_case(rng, name)
    out_shape = op(*inputs).shape
    upstream = np.random.default_rng(0).standard_normal(out_shape)    # gradcheck's seed=0
    analytic, numeric = analytic_of(upstream), numeric_of(upstream)
    excess = np.abs(analytic - numeric) - (1e-5 + 1e-3 * np.abs(numeric))
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(excess), analytic.shape))
    shape = str(inputs[wrong].shape).replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(tc.GradcheckError, match=rf"gradient of input {wrong} {shape} is wrong "
                                                rf"at index {re.escape(str(worst))}: analytic "
                                                r"(\S+), numeric (\S+)") as caught:
        tc.gradcheck(op, inputs)
    printed = re.search(r"analytic (\S+), numeric (\S+) ", str(caught.value)).groups()
    assert float(printed[0]) == pytest.approx(analytic[worst], rel=1e-7)
    assert float(printed[1]) == pytest.approx(numeric[worst], rel=1e-6)
    assert f"{int((excess > 0).sum())} of {analytic.size} elements disagree" in str(caught.value)


@pytest.mark.parametrize("name", WRONG)
def test_fast_gradcheck_catches_a_wrong_rule(rng, name):
    op, inputs, wrong, _, _ = wrong_case(rng, name)
    with pytest.raises(tc.GradcheckError, match=rf"gradcheck \(fast\): gradient of input {wrong} "
                                                r".* is wrong along random direction \d+: "
                                                r"analytic \S+, numeric \S+"):
        tc.gradcheck(op, inputs, fast=True)


@pytest.mark.parametrize("fast", [False, True])
def test_gradcheck_returns_true_on_correct_ops(rng, fast):
    x, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    assert tc.gradcheck(RightAxis.apply, [x, b], fast=fast) is True
    assert tc.gradcheck(lambda u, v: (u * v).tanh().sum(axis=0), [x, b], fast=fast) is True
    assert tc.gradcheck(lambda u: u.exp().log(), [2.0], fast=fast) is True       # a Python float


def test_gradcheck_names_a_named_input(rng):
    x = tc.Value(rng.standard_normal((3, 3)))
    b = tc.Value(rng.standard_normal(3), name="bias")
    with pytest.raises(tc.GradcheckError, match=r"gradient of input 1 \('bias'\) \(3,\) is wrong"):
        tc.gradcheck(WrongAxis.apply, [x, b])


def test_integer_inputs_and_frozen_values_are_held_constant(rng):
    x = rng.standard_normal((2, 3))
    counts = np.array([1, 2, 3])
    seen = []

    def scaled(v, k, p):
        seen.append((type(v), k, p))
        return (v * k) ** p

    assert tc.gradcheck(scaled, [x, counts, 3])
    assert all(t is tc.Value and k is counts and p == 3 and type(p) is int for t, k, p in seen)
    np.testing.assert_array_equal(counts, [1, 2, 3])
    a, b = rng.standard_normal(4), tc.Value(rng.standard_normal(4), requires_grad=False)
    assert tc.gradcheck(FlipsSign.apply, [a, b])       # b's (wrong) gradient is never checked


def test_gradcheck_works_in_float64_and_leaves_the_callers_arrays_alone(rng):
    x32 = rng.standard_normal((2, 2)).astype(np.float32)
    before = x32.copy()
    dtypes = []

    def square(v):
        dtypes.append(v.dtype)
        return v * v

    assert tc.gradcheck(square, [x32])
    assert set(dtypes) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x32, before)


def test_gradcheck_counts_an_unused_input_as_zero_gradient(rng):
    assert tc.gradcheck(lambda u, v: u * 2.0, [rng.standard_normal(3), rng.standard_normal(3)])
    assert tc.gradcheck(lambda u: tc.Value(np.ones(2), requires_grad=False), [np.ones(2)])


def test_gradcheck_bad_usage_raises():
    with pytest.raises(ValueError, match=r"gradcheck: no input requires grad among 1 inputs; "
                                         r"expected at least one floating array"):
        tc.gradcheck(lambda k: k * 2, [np.array([1, 2])])
    with pytest.raises(TypeError, match=r"gradcheck: fn returned ndarray; expected a Value"):
        tc.gradcheck(lambda v: v.data * 2, [np.ones(2)])


class PoisonedBackward(tc.Function):
    """2x whose backward puts `poison` (NaN or an infinity) at element 1 of the gradient."""

    poison = np.nan

    def forward(self, x):
        return 2 * x

    # wrong on purpose: d(2x)/dx = 2 everywhere
    def backward(self, grad):
        dx = 2 * grad
        dx[1] = self.poison
        return dx


class InfiniteBackward(PoisonedBackward):
    poison = -np.inf


@pytest.mark.parametrize("op, printed", [(PoisonedBackward, "nan"), (InfiniteBackward, "-inf")])
@pytest.mark.parametrize("fast", [False, True])
def test_a_non_finite_analytic_gradient_fails(rng, op, printed, fast):
    with pytest.raises(tc.GradcheckError, match=rf"gradcheck: gradient of input 0 \(4,\) is not "
                                                rf"finite at index \(1,\): analytic {printed}; 1 "
                                                r"of 4 elements are NaN or infinite; expected "
                                                r"finite values; look for a division by zero"):
        tc.gradcheck(op.apply, [rng.standard_normal(4)], fast=fast)


def test_a_nan_forward_fails_and_does_not_pass():
    with pytest.raises(tc.GradcheckError, match=r"gradient of input 0 \(3,\) is not finite at "
                                                r"index \(0,\): analytic nan; 3 of 3 elements"):
        tc.gradcheck(lambda x: x * np.nan, [np.ones(3)])


def test_a_non_finite_numeric_gradient_fails():
    x = np.array([1.0, 5e-7, 2.0])           # log(5e-7 - 1e-6) is NaN: log is undefined there
    analytic = np.random.default_rng(0).standard_normal(3)[1] / 5e-7   # u / x, gradcheck's u
    with np.errstate(invalid="ignore"), \
            pytest.raises(tc.GradcheckError, match=r"gradcheck: gradient of input 0 \(3,\) is not "
                                                   rf"finite at index \(1,\): analytic "
                                                   rf"{analytic:.8g}, "
                                                   r"numeric nan; 1 of 3 elements are NaN or "
                                                   r"infinite; .*move the inputs away from where "
                                                   r"fn is undefined"):
        tc.gradcheck(lambda v: v.log(), [x])
    with np.errstate(invalid="ignore"), \
            pytest.raises(tc.GradcheckError, match=r"gradcheck \(fast\): gradient of input 0 "
                                                   r"\(3,\) is not finite along random direction "
                                                   r"0: analytic \S+, numeric nan; expected "
                                                   r"finite values"):
        tc.gradcheck(lambda v: v.log(), [x], fast=True)
    assert tc.gradcheck(lambda v: v.log(), [x + 1e-3])     # away from 0 it passes


@pytest.mark.parametrize("name, value", [("eps", np.nan), ("eps", 0.0), ("eps", -1e-6),
                                         ("eps", np.inf), ("atol", np.nan), ("atol", -1.0),
                                         ("atol", np.inf), ("rtol", np.nan), ("rtol", -np.inf)])
def test_bad_tolerances_are_value_errors(rng, name, value):
    low = "> 0" if name == "eps" else ">= 0"
    with pytest.raises(ValueError, match=rf"gradcheck: {name}={re.escape(repr(value))}; expected "
                                         rf"a finite number {low} \(the defaults are eps=1e-6"):
        tc.gradcheck(RightAxis.apply, [rng.standard_normal((2, 2)), np.ones(2)], **{name: value})


def test_bad_setting_types():
    with pytest.raises(TypeError, match=r"gradcheck: eps='1e-6' is a str; expected a finite real "
                                        r"number > 0"):
        tc.gradcheck(lambda v: v * 2, [np.ones(2)], eps="1e-6")
    with pytest.raises(TypeError, match=r"gradcheck: atol=True is a bool; expected a finite real "
                                        r"number >= 0"):
        tc.gradcheck(lambda v: v * 2, [np.ones(2)], atol=True)
    with pytest.raises(ValueError, match=r"gradcheck: directions=0; expected a positive int"):
        tc.gradcheck(lambda v: v * 2, [np.ones(2)], fast=True, directions=0)
    assert tc.gradcheck(lambda v: v * 2, [np.ones(2)], eps=np.float32(1e-3), atol=1e-6, rtol=0)
