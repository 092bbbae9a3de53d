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


@pytest.mark.parametrize("layout", [lambda a: a.T, np.asfortranarray, lambda a: tc.Value(a.T)])
def test_inputs_in_any_memory_order_are_perturbed(rng, layout):
    # a transposed input: its elements are perturbed in place all the same (a reshape of it
    # would be a copy, leaving every numeric derivative 0)
    x = layout(rng.standard_normal((3, 4)))
    assert tc.gradcheck(lambda a: (a * a).sum(), [x])
    assert tc.gradgradcheck(lambda a: a * a * a, [x])
    with pytest.raises(tc.GradcheckError, match=r"gradient of input 0 \(\d, \d\) is wrong"):
        tc.gradcheck(lambda a: ForgetsGrad.apply(a, np.ones(a.shape)), [x])
    with pytest.raises(tc.GradcheckError, match=r"gradgradcheck: second derivative"):
        tc.gradgradcheck(DetachedCube.apply, [x])


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


# gradgradcheck: second derivatives w.r.t. the inputs and the upstream gradient


class Cube(tc.Function):
    """x ** 3, its rule written once for arrays and Values (so it is twice differentiable)."""

    def forward(self, x):
        return x ** 3

    # d(x^3)/dx = 3 x^2
    def backward(self, grad):
        x, _ = self.saved()
        return grad * 3 * x * x


class DetachedCube(Cube):
    """Right to first order, wrong to second: under create_graph one factor x is detached, so
    the recorded rule is grad * 3 * x * const and d/dx of it is half the truth."""

    # wrong on purpose: d(3 x x)/dx = 6 x, but a detached x contributes nothing
    def backward(self, grad):
        x, _ = self.saved()
        constant = x.detach() if isinstance(x, tc.Value) else x
        return grad * 3 * x * constant


class DetachedGrad(Cube):
    """Right to first order, but under create_graph the rule does not depend on grad, so its
    derivative w.r.t. the upstream gradient is 0 instead of 3 x^2."""

    # wrong on purpose: the rule is linear in grad, with slope 3 x^2
    def backward(self, grad):
        x, _ = self.saved()
        constant = grad.detach() if isinstance(grad, tc.Value) else grad
        return constant * 3 * x * x


class NumpyExp2(tc.Function):
    """2^x whose backward calls np.float_power, which has no op: fine on arrays, impossible on
    Values."""

    def forward(self, x):
        return np.exp2(x)

    # d(2^x)/dx = 2^x ln 2
    def backward(self, grad):
        x, _ = self.saved()
        return grad * np.float_power(2.0, x) * np.log(2.0)


class KeepsExp(tc.Function):
    """exp(x) that keeps its output as a float array on self, which carries no graph."""

    def forward(self, x):
        self.e = np.exp(x)
        return self.e

    # d(e^x)/dx = e^x
    def backward(self, grad):
        return grad * self.e


def projections(shapes):
    """gradgradcheck's random u (the output's shape) and v_i (the inputs' shapes), seed 0."""
    generator = np.random.default_rng(0)
    return [generator.standard_normal(shape) for shape in shapes]


def worst_index(analytic, numeric):
    excess = np.abs(analytic - numeric) - (1e-5 + 1e-3 * np.abs(numeric))
    return tuple(int(i) for i in np.unravel_index(np.argmax(excess), analytic.shape)), excess


def printed_values(error):
    return [float(s) for s in re.search(r"analytic (\S+), numeric (\S+) ", error).groups()]


CORRECT = {
    "cube": (Cube.apply, [(2, 3)]),
    "tanh_times_row": (lambda a, b: (a * b).tanh().sum(axis=0), [(3, 4), (4,)]),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 2)]),
    "exp_log_fan_out": (lambda a: a.exp().log() * a + a * a, [(3, 4)]),
    "linear_in_x": (lambda a: 2 * a.reshape(2, 6).T, [(3, 4)]),       # d2/dx2 = 0, d/du != 0
    "sigmoid_mean": (lambda a: a.sigmoid().mean(axis=1, keepdims=True), [(3, 4)]),
    "conv2d": (lambda x, w, b: tc.ops.conv2d(x, w, b, stride=2, padding=1),
               [(2, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    "log_softmax": (lambda x: tc.ops.log_softmax(x, axis=1), [(3, 4)]),
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("fast", [False, True])
def test_gradgradcheck_passes_correct_ops(rng, name, fast):
    fn, shapes = CORRECT[name]
    assert tc.gradgradcheck(fn, [rng.standard_normal(s) for s in shapes], fast=fast) is True


def test_gradgradcheck_catches_a_wrong_second_derivative_wrt_an_input(rng):
    x = rng.standard_normal((2, 3))
    u, v = projections([(2, 3), (2, 3)])
    analytic, numeric = 3 * x * u * v, 6 * x * u * v      # d/dx sum(v * u * 3 x^2) = 6 x u v
    worst, excess = worst_index(analytic, numeric)
    assert tc.gradcheck(DetachedCube.apply, [x])           # the first derivative is right
    with pytest.raises(tc.GradcheckError, match=rf"gradgradcheck: second derivative \(d/d input "
                                                rf"0 \(2, 3\) of the projected first derivatives\) "
                                                rf"is wrong at index {re.escape(str(worst))}: "
                                                r"analytic \S+, numeric \S+ ") as caught:
        tc.gradgradcheck(DetachedCube.apply, [x])
    printed = printed_values(str(caught.value))
    assert printed[0] == pytest.approx(analytic[worst], rel=1e-7)
    assert printed[1] == pytest.approx(numeric[worst], rel=1e-6)
    assert f"{int((excess > 0).sum())} of 6 elements disagree" in str(caught.value)
    with pytest.raises(tc.GradcheckError, match=r"gradgradcheck \(fast\): second derivative "
                                                r"\(d/d input 0 \(2, 3\) .* is wrong along random "
                                                r"direction \d+"):
        tc.gradgradcheck(DetachedCube.apply, [x], fast=True)


def test_gradgradcheck_catches_a_rule_that_ignores_the_upstream_gradient(rng):
    x = rng.standard_normal(4)
    u, v = projections([(4,), (4,)])
    numeric = 3 * x * x * v                 # d/du sum(v * u * 3 x^2)
    worst, _ = worst_index(np.zeros(4), numeric)
    assert tc.gradcheck(DetachedGrad.apply, [x])
    with pytest.raises(tc.GradcheckError, match=rf"gradgradcheck: second derivative \(d/d the "
                                                rf"upstream gradient u \(4,\) of the projected "
                                                rf"first derivatives\) is wrong at index "
                                                rf"{re.escape(str(worst))}: analytic 0, numeric "
                                                rf"{numeric[worst]:.8g} "):
        tc.gradgradcheck(DetachedGrad.apply, [x])


def test_gradgradcheck_names_a_named_input(rng):
    a = tc.Value(rng.standard_normal(3), name="scale")
    with pytest.raises(tc.GradcheckError, match=r"second derivative \(d/d input 1 \('scale'\) "
                                                r"\(3,\) of the projected first derivatives\)"):
        tc.gradgradcheck(lambda k, s: DetachedCube.apply(s) * k, [np.ones(3), a])


@pytest.mark.parametrize("op, message", [
    (NumpyExp2, r"NumpyExp2.backward failed on Values under create_graph=True: .*a rule that "
                r"is differentiated again must compute with Value operators, self.saved\(\), "
                r"Op.run\(...\) and the numpy functions that have an op"),
    (KeepsExp, r"KeepsExp: its backward cannot be differentiated again \(create_graph=True\): "
               r"forward kept the float value\(s\) self.e"),
])
def test_an_op_without_a_second_derivative_raises_the_engines_error(rng, op, message):
    x = rng.standard_normal(3)
    assert tc.gradcheck(op.apply, [x])
    with pytest.raises(TypeError, match=message):
        tc.gradgradcheck(op.apply, [x])


def test_gradgradcheck_fails_on_non_finite_second_derivatives():
    x = np.array([1.0, 5e-7, 2.0])        # d sqrt(x)/dx = 1 / (2 sqrt(x)) is NaN at x - eps < 0
    with np.errstate(invalid="ignore", divide="ignore"), \
            pytest.raises(tc.GradcheckError, match=r"gradgradcheck: second derivative \(d/d input "
                                                   r"0 \(3,\) .*\) is not finite at index \(1,\): "
                                                   r"analytic \S+, numeric (nan|-?inf); 1 of 3 "
                                                   r"elements are NaN or infinite"):
        tc.gradgradcheck(lambda v: v.sqrt(), [x])
    assert tc.gradgradcheck(lambda v: v.sqrt(), [x + 1e-2])
    with pytest.raises(tc.GradcheckError, match=r"gradgradcheck: second derivative \(d/d input 0 "
                                                r"\(4,\) .*\) is not finite at index \(0,\): "
                                                r"analytic nan"):
        tc.gradgradcheck(lambda v: v * v * np.nan, [np.ones(4)])


def test_gradgradcheck_inputs_are_handled_as_in_gradcheck(rng):
    x32 = rng.standard_normal((2, 2)).astype(np.float32)
    before = x32.copy()
    frozen = tc.Value(rng.standard_normal(2), requires_grad=False)
    assert tc.gradgradcheck(lambda a, k, b: (a * b) ** k, [x32, 3, frozen])
    np.testing.assert_array_equal(x32, before)
    assert tc.gradgradcheck(lambda a, b: a * 2.0, [np.ones(3), np.ones(3)])   # b unused
    assert tc.gradgradcheck(lambda a: tc.Value(np.ones(2), requires_grad=False), [np.ones(2)])
    assert tc.gradgradcheck(lambda a: a.exp(), [0.5])                          # a Python float


def test_gradgradcheck_bad_usage_raises():
    with pytest.raises(ValueError, match=r"gradgradcheck: eps=0; expected a finite number > 0"):
        tc.gradgradcheck(Cube.apply, [np.ones(2)], eps=0)
    with pytest.raises(ValueError, match=r"gradgradcheck: rtol=nan; expected a finite number "
                                         r">= 0"):
        tc.gradgradcheck(Cube.apply, [np.ones(2)], rtol=float("nan"))
    with pytest.raises(TypeError, match=r"gradgradcheck: atol=None is a NoneType; expected a "
                                        r"finite real number >= 0"):
        tc.gradgradcheck(Cube.apply, [np.ones(2)], atol=None)
    with pytest.raises(ValueError, match=r"gradgradcheck: no input requires grad among 1 inputs"):
        tc.gradgradcheck(lambda k: k * 2, [np.array([1, 2])])
    with pytest.raises(TypeError, match=r"gradgradcheck: fn returned ndarray; expected a Value"):
        tc.gradgradcheck(lambda v: v.data * 2, [np.ones(2)])


def test_a_lone_array_value_or_number_is_one_input():
    calls = []

    def traced(x):
        calls.append(x.shape)
        return x.tanh()

    assert tc.gradcheck(traced, np.ones((3, 4)))
    assert set(calls) == {(3, 4)}                   # the whole array, not its rows
    assert tc.gradcheck(lambda x: x * x, tc.Value(np.ones((1, 4))))
    assert tc.gradcheck(lambda x: x * x, 2.0)
    assert tc.gradgradcheck(lambda x: x.tanh(), np.ones((2, 2)))
