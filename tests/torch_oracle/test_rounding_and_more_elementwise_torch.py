"""The rounding ops (floor, ceil, trunc, rint as torch.round, round with decimals, sign), log2,
log10, exp2, reciprocal, sinc, hypot, fmod, remainder, xlogy, logit (with and without eps) and
pow with an array exponent, and numpy's deg2rad, rad2deg, logaddexp2, copysign, fmax and fmin
on Values, against PyTorch in float64: the forward, every input's gradient through a random
upstream gradient, and the second derivatives (d/d inputs of g . v, with g the first
gradients); cbrt against sign(x) |x|^(1/3), as PyTorch has no cbrt; floor_divide's
forward (PyTorch's has no derivative); and where the two differ: at sinc's 0, hypot's origin,
xlogy's x = y = 0, logit's 0 and 1 with eps and pow's a = 0, PyTorch's NaN against our finite
derivatives, and pow's b = 0, where PyTorch's second derivative misses a term."""

import numpy as np
import pytest
from edge_cases import normal, positive
from oracle_checks import assert_equals_pytorch

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def fixed(*arrays):
    return lambda rng: [np.array(a, dtype=np.float64) for a in arrays]


HALVES = [-2.5, -1.5, -0.5, -0.0, 0.5, 1.5, 2.5, -1.0, 3.0, 0.7, -2.2]    # jumps and between
DECIMALS = [0.125, 1.005, 2.675, -3.14159, 12.345, 1250.0, 1350.0, 0.0]
QUOTIENTS = ([[5.5], [-5.5], [4.0], [-4.0], [0.3]], [2.0, -2.0, 0.7, 1.5])   # jumps at 4 / 2
FMAX_A = [1.0, np.nan, 2.0, np.nan, 3.0, -1.0]          # ties, NaNs on either side or both
FMAX_B = [1.0, 2.0, np.nan, np.nan, 4.0, -2.0]
XLOGY = ([0.0, 0.0, 0.0, 2.0, -1.5, 0.5], [-1.0, 2.0, 0.5, 3.0, 0.25, np.e])

# (id, make inputs from rng, ours, theirs(torch, *tensors))
CASES = [
    ("floor", fixed(HALVES), ops.floor, lambda th, x: th.floor(x)),
    ("ceil", fixed(HALVES), ops.ceil, lambda th, x: th.ceil(x)),
    ("trunc", fixed(HALVES), ops.trunc, lambda th, x: th.trunc(x)),
    ("rint", fixed(HALVES), ops.rint, lambda th, x: th.round(x)),
    ("round", fixed(HALVES), lambda x: x.round(), lambda th, x: th.round(x)),
    ("round-decimals", fixed(DECIMALS), lambda x: ops.round(x, 2),
     lambda th, x: th.round(x, decimals=2)),
    ("round-negative-decimals", fixed(DECIMALS), lambda x: ops.round(x * x, -2),
     lambda th, x: th.round(x * x, decimals=-2)),
    ("sign", fixed(HALVES), ops.sign, lambda th, x: th.sign(x)),
    ("floor-of-a-product", normal((2, 3), (3,)), lambda a, b: ops.floor(a * b) + a * b,
     lambda th, a, b: th.floor(a * b) + a * b),
    ("log2", positive((2, 3)), ops.log2, lambda th, x: th.log2(x)),
    ("log10", positive((2, 3)), ops.log10, lambda th, x: th.log10(x)),
    ("exp2", normal((2, 3)), ops.exp2, lambda th, x: th.exp2(x)),
    ("reciprocal", fixed([-2.0, -0.5, 0.25, 1.0, 3.0]), ops.reciprocal,
     lambda th, x: th.reciprocal(x)),
    ("cbrt", fixed([-8.0, -0.3, 1e-3, 0.5, 27.0]), ops.cbrt,
     lambda th, x: th.sign(x) * x.abs() ** (1 / 3)),
    ("sinc", fixed([-2.5, -1.0, -0.3, 0.03, 0.0999, 0.1, 0.5, 1.5, 4.0]), ops.sinc,
     lambda th, x: th.sinc(x)),
    ("hypot", normal((2, 3), (3,)), ops.hypot, lambda th, a, b: th.hypot(a, b)),
    ("hypot-axes", fixed([0.0, 3.0, -2.0, 0.0], [2.0, 0.0, 0.0, -1e-3]), ops.hypot,
     lambda th, a, b: th.hypot(a, b)),
    ("fmod", fixed(*QUOTIENTS), ops.fmod, lambda th, a, b: th.fmod(a, b)),
    ("remainder", fixed(*QUOTIENTS), ops.remainder, lambda th, a, b: th.remainder(a, b)),
    ("remainder-operator", fixed(*QUOTIENTS), lambda a, b: a % b, lambda th, a, b: a % b),
    ("fmod-squares", normal((3, 1), (4,)), lambda a, b: ops.fmod(a * a * 4, b),
     lambda th, a, b: th.fmod(a * a * 4, b)),
    ("xlogy", fixed(*XLOGY), ops.xlogy, lambda th, x, y: th.xlogy(x, y)),
    ("xlogy-broadcast", lambda rng: [rng.standard_normal((2, 1)), rng.uniform(0.2, 3, (4,))],
     ops.xlogy, lambda th, x, y: th.xlogy(x, y)),
    ("power", lambda rng: [rng.uniform(0.2, 2, (2, 3)), rng.standard_normal(3)],
     lambda a, b: a ** b, lambda th, a, b: a ** b),
    ("power-of-a-number", normal((2, 3)), lambda x: 0.5 ** x + (x * x + 0.5) ** x,
     lambda th, x: 0.5 ** x + (x * x + 0.5) ** x),
    ("power-negative-base", fixed([-2.0, -0.5, -1.5], [2.0, 3.0, -1.0]), lambda a, b: a ** b,
     lambda th, a, b: a ** b),
    ("logit", fixed([0.01, 0.2, 0.5, 0.7, 0.99]), ops.logit, lambda th, x: th.logit(x)),
    ("logit-eps", fixed([0.01, 0.05, 0.1, 0.3, 0.9, 0.95, 0.99]), lambda x: ops.logit(x, 0.1),
     lambda th, x: th.logit(x, eps=0.1)),
    ("logit-eps-of-a-sigmoid", normal((2, 3)), lambda x: ops.logit(ops.sigmoid(x * 3), 0.05),
     lambda th, x: th.logit(th.sigmoid(x * 3), eps=0.05)),
    # numpy functions that are compositions of ops (tinygrad_cnn/numpy_protocol.py)
    ("np.deg2rad", normal((2, 3)), np.deg2rad, lambda th, x: th.deg2rad(x)),
    ("np.rad2deg", normal((2, 3)), np.rad2deg, lambda th, x: th.rad2deg(x)),
    ("np.logaddexp2", normal((2, 3), (3,)), np.logaddexp2, lambda th, a, b: th.logaddexp2(a, b)),
    ("np.copysign", fixed([-1.5, 0.7, 2.0, -3.0, 0.4], [1.0, -2.0, -0.5, 3.0, -0.0]),
     np.copysign, lambda th, a, b: th.copysign(a, b)),
    ("np.copysign-broadcast", normal((2, 3), (3,)), lambda a, b: np.copysign(a * a, b),
     lambda th, a, b: th.copysign(a * a, b)),
    ("np.fmax", fixed(FMAX_A, FMAX_B), np.fmax, lambda th, a, b: th.fmax(a, b)),
    ("np.fmin", fixed(FMAX_A, FMAX_B), np.fmin, lambda th, a, b: th.fmin(a, b)),
    ("np.fmax-broadcast", normal((2, 3), (3,)), lambda a, b: np.fmax(a * a, b),
     lambda th, a, b: th.fmax(a * a, b)),
]


# ln of a negative base is NaN in both, with numpy's warning
NAN_EXPECTED = pytest.mark.filterwarnings("ignore:invalid value encountered in log")


@pytest.mark.parametrize("make, ours, theirs", [
    pytest.param(*case[1:], id=case[0], marks=NAN_EXPECTED if "negative" in case[0] else ())
    for case in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    assert_equals_pytorch(torch, rng, make, ours, theirs)


def test_floor_divide_forward_equals_pytorchs_and_its_gradient_is_0(torch):
    a = np.array([1.0, -1.0, 7.0, -7.0, 0.3, 5.5, -5.5])
    b = np.array([0.1, 0.1, 2.0, 2.0, 0.1, -2.0, 1.5])
    x, y = tc.Value(a), tc.Value(b)
    out = x // y
    np.testing.assert_array_equal(out.data, torch.floor_divide(torch.tensor(a),
                                                               torch.tensor(b)).numpy())
    out.backward(np.ones(7))
    np.testing.assert_array_equal(x.grad, 0.0)
    np.testing.assert_array_equal(y.grad, 0.0)


def first_and_second(torch, ours, theirs, arrays):
    """(our first gradients, PyTorch's, our second derivatives, PyTorch's) through an upstream of
    ones, the second of the sum of the first gradients."""
    values = [tc.Value(a) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    first = tc.grad(ours(*values), values, grad_output=np.ones(arrays[0].shape),
                    create_graph=True)
    torch_first = torch.autograd.grad(theirs(*tensors).sum(), tensors, create_graph=True)
    second = tc.grad(sum(g.sum() for g in first), values)
    torch_second = torch.autograd.grad(sum(g.sum() for g in torch_first), tensors)
    return ([g.data for g in first], [g.detach().numpy() for g in torch_first],
            [h.data for h in second], [h.numpy() for h in torch_second])


def test_sinc_at_0_first_derivative_equals_pytorchs_second_is_correct_where_pytorchs_is_nan(
        torch):
    first, torch_first, second, torch_second = first_and_second(
        torch, ops.sinc, torch.sinc, [np.array([0.0, 0.5])])
    np.testing.assert_array_equal(first[0], torch_first[0])
    assert first[0][0] == 0.0
    assert np.isnan(torch_second[0][0])
    np.testing.assert_allclose(second[0], [-np.pi ** 2 / 3, torch_second[0][1]], rtol=1e-14)


def test_hypot_at_the_origin_gradient_0_where_pytorchs_is_nan(torch):
    first, torch_first, second, torch_second = first_and_second(
        torch, ops.hypot, torch.hypot, [np.array([0.0, 3.0]), np.array([0.0, 4.0])])
    for ours, theirs in zip(first, torch_first, strict=True):
        assert ours[0] == 0.0 and np.isnan(theirs[0])
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-15)
    for ours, theirs in zip(second, torch_second, strict=True):
        assert ours[0] == 0.0 and np.isnan(theirs[0])
        np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-15)


def test_xlogy_at_x_and_y_0_value_and_x_gradient_equal_pytorchs_y_gradient_0_not_nan(torch):
    x, y = np.array([0.0, 0.0, 1.0]), np.array([0.0, 3.0, 3.0])
    out = ops.xlogy(tc.Value(x), tc.Value(y))
    np.testing.assert_array_equal(out.data, torch.xlogy(torch.tensor(x), torch.tensor(y)))
    first, torch_first, second, torch_second = first_and_second(
        torch, ops.xlogy, torch.xlogy, [x, y])
    np.testing.assert_array_equal(first[0], torch_first[0])          # 0 at x = y = 0
    assert first[1][0] == 0.0 and np.isnan(torch_first[1][0])
    np.testing.assert_allclose(first[1][1:], torch_first[1][1:], rtol=1e-15)
    for ours, theirs in zip(second, torch_second, strict=True):
        assert ours[0] == 0.0 and not np.isfinite(theirs[0])
        np.testing.assert_allclose(ours[1:], theirs[1:], rtol=1e-15)


def test_logit_with_eps_at_0_and_1_second_derivative_0_where_pytorchs_is_nan(torch):
    """Outside [eps, 1 - eps] the gradient is 0, so its derivative is 0; PyTorch's rule
    multiplies that 0 by the infinite 1 / (x (1 - x)) of x = 0 and x = 1."""
    first, torch_first, second, torch_second = first_and_second(
        torch, lambda x: ops.logit(x, 0.1), lambda x: torch.logit(x, eps=0.1),
        [np.array([0.0, 0.5, 1.0])])
    np.testing.assert_array_equal(first[0], torch_first[0])
    np.testing.assert_array_equal(first[0], [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(second[0], [0.0, 0.0, 0.0])
    assert np.isnan(torch_second[0][[0, 2]]).all()


def test_power_at_a_zero_base_and_a_zero_exponent_first_derivatives_equal_pytorchs(torch):
    """At 0^b and a^0, where the rule takes the limits; the second derivatives there differ:
    PyTorch's are NaN at a = 0, and at b = 0 its d/db of da misses 1 / a (tests/test_elementwise
    checks ours against finite differences)."""
    a, b = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 0.5]), np.array([2.0, 1.0, 0.0, 3.5, 0.0, 0.0])
    first, torch_first, second, torch_second = first_and_second(
        torch, lambda x, p: x ** p, lambda x, p: x ** p, [a, b])
    for ours, theirs in zip(first, torch_first, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(torch_second[0][:4]).all() and np.isfinite(second[0]).all()
    np.testing.assert_allclose(second[1][4:], 1 / a[4:] + np.log(a[4:]) ** 2, rtol=1e-15)
    np.testing.assert_allclose(torch_second[1][4:], np.log(a[4:]) ** 2, rtol=1e-15)
