"""selu, celu, mish, hardswish, hardsigmoid, softsign, tanhshrink, softshrink, hardshrink,
threshold, softmin and glu: forward against numpy definitions, gradcheck and gradgradcheck in
float64 over several shapes and settings (through gradcheck's random upstream gradient), the
gradients at the kinks by hand (PyTorch's values; tests/torch_oracle/test_activations.py
compares them with torch), the tails in float32 and float64, float32 kept, the nn modules and
their reprs, and the errors."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.ops.elementwise import SELU_ALPHA, SELU_SCALE


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _elu(alpha, scale=1.0, input_scale=1.0):
    return lambda x: scale * np.where(x > 0, x, alpha * (np.exp(x * input_scale) - 1))


def _shrink(lambd, soft):
    return lambda x: np.where(np.abs(x) > lambd, x - (np.sign(x) * lambd if soft else 0), 0.0)


# id: (op, its definition in numpy, float64, the kinks (where finite differences straddle two
# pieces), the spread of x)
ELEMENTWISE = {
    "selu": (ops.selu, _elu(SELU_ALPHA, SELU_SCALE), [0.0], 3),
    "celu": (ops.celu, _elu(1.0), [0.0], 3),
    "celu-alpha-0.5": (lambda x: ops.celu(x, 0.5), _elu(0.5, 1.0, 2.0), [0.0], 3),
    "celu-alpha-2.5": (lambda x: ops.celu(x, alpha=2.5), _elu(2.5, 1.0, 0.4), [0.0], 3),
    "celu-alpha-negative": (lambda x: ops.celu(x, -1.5), _elu(-1.5, 1.0, -1 / 1.5), [0.0], 3),
    "mish": (ops.mish, lambda x: x * np.tanh(np.log(1 + np.exp(x))), [], 4),
    "hardswish": (ops.hardswish, lambda x: x * np.minimum(np.maximum(x + 3, 0), 6) / 6,
                  [-3.0, 3.0], 4),
    "hardsigmoid": (ops.hardsigmoid, lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
                    [-3.0, 3.0], 4),
    "softsign": (ops.softsign, lambda x: x / (1 + np.abs(x)), [0.0], 3),
    "tanhshrink": (ops.tanhshrink, lambda x: x - np.tanh(x), [], 2),
    "softshrink": (ops.softshrink, _shrink(0.5, soft=True), [-0.5, 0.5], 2),
    "softshrink-lambd-0": (lambda x: ops.softshrink(x, 0.0), _shrink(0.0, soft=True), [0.0], 2),
    "softshrink-lambd-1.5": (lambda x: ops.softshrink(x, lambd=1.5), _shrink(1.5, soft=True),
                             [-1.5, 1.5], 2),
    "hardshrink": (ops.hardshrink, _shrink(0.5, soft=False), [-0.5, 0.5], 2),
    "hardshrink-lambd-2": (lambda x: ops.hardshrink(x, 2.0), _shrink(2.0, soft=False),
                           [-2.0, 2.0], 2),
    "hardshrink-lambd-negative": (lambda x: ops.hardshrink(x, -0.5), lambda x: x, [], 2),
    "threshold": (lambda x: ops.threshold(x, 0.5, -2.0), lambda x: np.where(x > 0.5, x, -2.0),
                  [0.5], 2),
    "threshold-negative": (lambda x: ops.threshold(x, -1.0, 3.0),
                           lambda x: np.where(x > -1.0, x, 3.0), [-1.0], 2),
}


def derivatives(op, value):
    """op(value), d op / d value (of the sum) and the derivative of that sum again, as arrays: a
    first derivative that does not depend on x (piecewise linear ops) has no graph, and a
    second derivative of 0."""
    out = op(value)
    (first,) = tc.grad(out.sum(), [value], create_graph=True)
    if not first.requires_grad:
        return out.data, first.data, np.zeros_like(first.data)
    (second,) = tc.grad(first.sum(), [value])
    assert second.dtype == value.dtype
    return out.data, first.data, second.data


def away_from_kinks(rng, shape, kinks, spread):
    """Normal values times `spread`, none within 0.05 of a kink."""
    x = rng.standard_normal(shape) * spread
    for kink in kinks:
        x = np.where(np.abs(x - kink) < 0.05, kink + 0.1, x)
    return x


@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4), (1, 5, 1)])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_gradcheck_and_gradgradcheck(rng, name, shape):
    op, definition, kinks, spread = ELEMENTWISE[name]
    x = away_from_kinks(rng, shape, kinks, spread)
    out = op(tc.Value(x))
    assert out.shape == shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, definition(x), rtol=1e-13, atol=1e-15)
    assert tc.gradcheck(op, [x])
    assert tc.gradgradcheck(op, [x])


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_float32_stays_float32(rng, name):
    op, definition, kinks, spread = ELEMENTWISE[name]
    x = away_from_kinks(rng, (3, 4), kinks, spread).astype(np.float32)
    value = tc.Value(x)
    out = op(value)
    out.backward(np.ones_like(x))
    assert out.dtype == value.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, definition(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert derivatives(op, value)[1].dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8, np.bool_])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_integers_give_the_float_dtype_tanh_gives(name, dtype):
    op, definition = ELEMENTWISE[name][:2]
    data = np.array([0, 1, 1, 2] if dtype != np.bool_ else [0, 1, 1, 0]).astype(dtype)
    out = op(tc.Value(data))
    assert out.dtype == ops.tanh(tc.Value(data)).dtype and not out.requires_grad
    np.testing.assert_allclose(out.data, definition(data.astype(np.float64)), rtol=1e-3)


# (id, op, x on and beside the kinks, PyTorch's output, PyTorch's derivative)
KINKS = [
    ("selu", ops.selu, [-1.0, 0.0, 1.0],
     [SELU_SCALE * SELU_ALPHA * math.expm1(-1), 0.0, SELU_SCALE],
     [SELU_SCALE * SELU_ALPHA * math.exp(-1), SELU_SCALE * SELU_ALPHA, SELU_SCALE]),
    ("celu-alpha-0.5", lambda x: ops.celu(x, 0.5), [-1.0, 0.0, 1.0],
     [0.5 * math.expm1(-2), 0.0, 1.0], [math.exp(-2), 1.0, 1.0]),
    ("hardswish", ops.hardswish, [-4.0, -3.0, 0.0, 3.0, 4.0],
     [0.0, 0.0, 0.0, 3.0, 4.0], [0.0, 0.0, 0.5, 1.0, 1.0]),
    ("hardsigmoid", ops.hardsigmoid, [-4.0, -3.0, 0.0, 3.0, 4.0],
     [0.0, 0.0, 0.5, 1.0, 1.0], [0.0, 0.0, 1 / 6, 0.0, 0.0]),
    ("softsign", ops.softsign, [-1.0, 0.0, 1.0], [-0.5, 0.0, 0.5], [0.25, 1.0, 0.25]),
    ("softshrink", ops.softshrink, [-1.0, -0.5, 0.0, 0.5, 1.0],
     [-0.5, 0.0, 0.0, 0.0, 0.5], [1.0, 0.0, 0.0, 0.0, 1.0]),
    ("softshrink-lambd-0", lambda x: ops.softshrink(x, 0.0), [-1.0, 0.0, 1.0],
     [-1.0, 0.0, 1.0], [1.0, 0.0, 1.0]),
    ("hardshrink", ops.hardshrink, [-1.0, -0.5, 0.0, 0.5, 1.0],
     [-1.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0, 1.0]),
    ("threshold", lambda x: ops.threshold(x, 0.5, -2.0), [0.0, 0.5, 1.0],
     [-2.0, -2.0, 1.0], [0.0, 0.0, 1.0]),
]


@pytest.mark.parametrize("op, x, values, slopes", [case[1:] for case in KINKS],
                         ids=[case[0] for case in KINKS])
def test_values_and_gradients_at_the_kinks_are_pytorchs(op, x, values, slopes):
    """At a kink PyTorch takes one side's derivative (hardswish: 0 at -3 and 1 at 3, the outer
    pieces'; the shrinks and threshold: 0 on the boundary), and its second derivative there is
    0 (test_second_derivatives_at_the_kinks_are_zero)."""
    out, first, _ = derivatives(op, tc.Value(x))
    np.testing.assert_allclose(out, values, rtol=1e-15, atol=0)
    np.testing.assert_allclose(first, slopes, rtol=1e-15, atol=0)


def test_second_derivatives_at_the_kinks_are_zero():
    """selu's, celu's and softsign's second derivative at 0, hardswish's at -3 and 3 (1/3
    between), and the piecewise linear ones' everywhere, as PyTorch's."""
    cases = [(ops.selu, [0.0], [0.0]), (lambda x: ops.celu(x, 0.5), [0.0], [0.0]),
             (ops.softsign, [0.0, 1.0], [0.0, -0.25]),
             (ops.hardswish, [-3.0, 0.0, 3.0], [0.0, 1 / 3, 0.0]),
             (ops.hardsigmoid, [-3.0, 0.0, 3.0], [0.0, 0.0, 0.0]),
             (ops.softshrink, [-0.5, 0.5, 1.0], [0.0, 0.0, 0.0]),
             (ops.hardshrink, [-0.5, 0.5, 1.0], [0.0, 0.0, 0.0]),
             (lambda x: ops.threshold(x, 0.5, 1.0), [0.5, 1.0], [0.0, 0.0])]
    for op, x, expected in cases:
        np.testing.assert_allclose(derivatives(op, tc.Value(x))[2], expected, rtol=1e-15, atol=0)


TAILS = [-1000.0, -100.0, -30.0, -10.0, 10.0, 30.0, 100.0, 1000.0]
SMOOTH_TAILS = ["selu", "celu", "celu-alpha-0.5", "mish", "softsign", "tanhshrink", "hardswish"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SMOOTH_TAILS)
def test_tails_are_finite_to_second_order_and_float32_equals_float64(name, dtype):
    """No overflow (e^1000 is never computed), no inf * 0: finite forward, first and second
    derivatives; float32 within a few ulps of float64."""
    op = ELEMENTWISE[name][0]
    x = np.array(TAILS, dtype=dtype)
    value = tc.Value(x)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow to 0 is fine
        out = op(value)
        (first,) = tc.grad(out.sum(), [value], create_graph=True)
        (second,) = tc.grad(first.sum(), [value])
    wide = tc.Value(x.astype(np.float64))
    (wide_first,) = tc.grad(op(wide).sum(), [wide], create_graph=True)
    (wide_second,) = tc.grad(wide_first.sum(), [wide])
    # atol: the second derivatives of mish and tanhshrink hold a 1 - tanh^2, which rounds to 0
    # in float32 from |x| = 9 on (PyTorch's too): 1.5e-7 where float64 has mish''(10)
    for what, ours, theirs, atol in [("forward", out, op(wide), 1e-30),
                                     ("first", first, wide_first, 1e-30),
                                     ("second", second, wide_second, 2e-7)]:
        assert ours.dtype == dtype and np.isfinite(ours.data).all(), what
        np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-6, atol=atol, err_msg=what)


def test_tails_by_hand():
    """mish(x) -> x above and x e^x below (e^x -> 0); selu -> -scale alpha below; softsign -> +-1;
    each derivative -> its limit."""
    for dtype in (np.float32, np.float64):
        x = tc.Value(np.array([-1000.0, -30.0, 30.0, 1000.0], dtype=dtype))
        mish = ops.mish(x)
        mish.backward(np.ones(4, dtype=dtype))
        expected = [-1000.0 * np.exp(-1000.0), -30.0 * np.exp(-30.0), 30.0, 1000.0]
        np.testing.assert_allclose(mish.data, expected, rtol=1e-6, atol=1e-40)
        np.testing.assert_allclose(x.grad, [0.0, -29 * np.exp(-30.0), 1.0, 1.0], rtol=1e-5,
                                   atol=1e-40)
    selu = ops.selu(np.array([-1000.0, 1000.0]))
    np.testing.assert_allclose(selu.data, [-SELU_SCALE * SELU_ALPHA, SELU_SCALE * 1000],
                               rtol=1e-15)
    np.testing.assert_array_equal(ops.softsign(np.array([-1e300, 1e300])).data, [-1.0, 1.0])


def test_hardshrink_with_a_negative_lambd_keeps_every_x_as_pytorchs():
    x = tc.Value([-1.0, -0.2, 0.0, 0.3])
    out = ops.hardshrink(x, -0.5)
    out.sum().backward()
    assert out.data.tolist() == [-1.0, -0.2, 0.0, 0.3] and x.grad.tolist() == [1.0] * 4


def test_threshold_value_gets_no_gradient_and_nan_passes_as_in_pytorch():
    x = tc.Value([np.nan, 0.1, 2.0])
    out = ops.threshold(x, 0.5, 7.0)
    out.sum().backward()
    assert np.isnan(out.data[0]) and out.data[1:].tolist() == [7.0, 2.0]
    assert np.isnan(ops.hardshrink(np.array([np.nan])).data[0])
    assert x.grad[1:].tolist() == [0.0, 1.0]


# ---------------------------------------------------------------- softmin


@pytest.mark.parametrize("shape, axis", [((5,), -1), ((2, 3, 4), 1), ((2, 3, 4), 0),
                                         ((3, 1), -1), ((4, 6), -2)])
def test_softmin_forward_gradcheck_and_gradgradcheck(rng, shape, axis):
    x = rng.standard_normal(shape) * 3
    out = ops.softmin(tc.Value(x), axis=axis)
    expected = np.exp(-x) / np.exp(-x).sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(out.data.sum(axis=axis), 1.0, rtol=1e-14)
    np.testing.assert_allclose(out.data, ops.softmax(-x, axis=axis).data, rtol=1e-14)
    assert tc.gradcheck(lambda v: ops.softmin(v, axis), [x])
    assert tc.gradgradcheck(lambda v: ops.softmin(v, axis), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmin_of_huge_values_does_not_overflow(dtype):
    x = tc.Value(np.array([[-1e4, -1e4 + 1, 1e4], [1e4, 1e4 + 2, 3e4]], dtype=dtype))
    with np.errstate(over="raise", invalid="raise"):
        out = ops.softmin(x)
        out.backward(np.array([[1, 2, 3], [0, 1, 0]], dtype=dtype))
    assert out.dtype == x.grad.dtype == dtype
    s = 1 / (1 + np.exp(-1.0))                      # e^0 / (e^0 + e^-1)
    np.testing.assert_allclose(out.data, [[s, 1 - s, 0.0], [1 / (1 + np.exp(-2.0)),
                                           1 - 1 / (1 + np.exp(-2.0)), 0.0]], rtol=1e-6)
    assert np.isfinite(x.grad).all()


# ---------------------------------------------------------------- glu


@pytest.mark.parametrize("shape, axis", [((4,), -1), ((2, 6), 1), ((2, 6), -1), ((4, 3), 0),
                                         ((2, 4, 3), 1), ((1, 2, 2, 2), -2)])
def test_glu_forward_gradcheck_and_gradgradcheck(rng, shape, axis):
    x = rng.standard_normal(shape) * 2
    a, b = np.split(x, 2, axis=axis)
    out = ops.glu(tc.Value(x), axis)
    np.testing.assert_allclose(out.data, a * _sigmoid(b), rtol=1e-14)
    assert out.shape == a.shape
    assert tc.gradcheck(lambda v: ops.glu(v, axis), [x])
    assert tc.gradgradcheck(lambda v: ops.glu(v, axis), [x])


def test_glu_gradient_by_hand_and_float32():
    """d/da a s(b) = s(b), d/db a s(b) = a s(b) s(-b)."""
    x = tc.Value(np.array([[2.0, -1.0, 0.5, 3.0]], dtype=np.float32))
    ops.glu(x).backward(np.array([[1.0, 2.0]], dtype=np.float32))
    s = _sigmoid(np.array([0.5, 3.0]))
    expected = np.concatenate([[1, 2] * s, [1, 2] * np.array([2.0, -1.0]) * s * (1 - s)])
    np.testing.assert_allclose(x.grad[0], expected, rtol=1e-6)
    assert x.grad.dtype == np.float32
    assert ops.glu(np.ones((2, 4), dtype=np.float32)).dtype == np.float32


# ---------------------------------------------------------------- the modules


# (module, its repr (PyTorch's), the op it runs)
MODULES = [
    (nn.SELU(), "SELU()", ops.selu),
    (nn.CELU(), "CELU(alpha=1.0)", ops.celu),
    (nn.CELU(0.5), "CELU(alpha=0.5)", lambda x: ops.celu(x, 0.5)),
    (nn.Mish(), "Mish()", ops.mish),
    (nn.Hardswish(), "Hardswish()", ops.hardswish),
    (nn.Hardsigmoid(), "Hardsigmoid()", ops.hardsigmoid),
    (nn.Softsign(), "Softsign()", ops.softsign),
    (nn.Tanhshrink(), "Tanhshrink()", ops.tanhshrink),
    (nn.Softshrink(), "Softshrink(0.5)", ops.softshrink),
    (nn.Softshrink(lambd=1.25), "Softshrink(1.25)", lambda x: ops.softshrink(x, 1.25)),
    (nn.Hardshrink(), "Hardshrink(0.5)", ops.hardshrink),
    (nn.Hardshrink(0.25), "Hardshrink(0.25)", lambda x: ops.hardshrink(x, 0.25)),
    (nn.Threshold(0.1, 20.0), "Threshold(threshold=0.1, value=20.0)",
     lambda x: ops.threshold(x, 0.1, 20.0)),
    (nn.GLU(), "GLU(dim=-1)", ops.glu),
    (nn.GLU(dim=1), "GLU(dim=1)", lambda x: ops.glu(x, axis=1)),
    (nn.Softmin(dim=1), "Softmin(dim=1)", lambda x: ops.softmin(x, axis=1)),
    (nn.LogSigmoid(), "LogSigmoid()", ops.log_sigmoid),
]


@pytest.mark.parametrize("layer, text, op", MODULES, ids=[case[1] for case in MODULES])
def test_modules_run_their_op_hold_nothing_and_print_as_pytorchs(rng, layer, text, op):
    assert repr(layer) == text
    x = (rng.standard_normal((3, 4, 2)) * 3).astype(np.float32)
    out = layer(tc.Value(x))
    np.testing.assert_array_equal(out.data, op(tc.Value(x)).data)
    assert out.dtype == np.float32
    assert list(layer.parameters()) == [] and layer.state_dict() == {}


def test_modules_in_a_sequential_train(rng):
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Mish(), nn.Linear(8, 8), nn.Hardswish(),
                          nn.Linear(8, 6), nn.GLU(), nn.Linear(3, 3), nn.Softmin(dim=1))
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out = model(tc.Value(x))
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out.data.sum(axis=1), 1.0, rtol=1e-6)
    (out * np.arange(3, dtype=np.float32)).sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad).all() for p in model.parameters())


# ---------------------------------------------------------------- errors


def test_shrink_and_celu_errors():
    x = tc.Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"softshrink: lambd is -0\.5; expected a number >= 0, "
                                         r"the half-width of the interval \[-lambd, lambd\] "
                                         r"that is set to 0, e\.g\. lambd=0\.5"):
        ops.softshrink(x, -0.5)
    with pytest.raises(ValueError, match=r"softshrink: lambd is nan; expected a number >= 0"):
        ops.softshrink(x, float("nan"))
    with pytest.raises(ValueError, match=r"Softshrink: lambd is -1; expected a number >= 0"):
        nn.Softshrink(-1)
    with pytest.raises(TypeError, match=r"hardshrink: lambd is str '0\.5'; expected a real "
                                        r"number such as 0\.5"):
        ops.hardshrink(x, "0.5")
    with pytest.raises(TypeError, match=r"Hardshrink: lambd is NoneType None; expected a real "
                                        r"number"):
        nn.Hardshrink(None)
    with pytest.raises(ValueError, match=r"celu: alpha is 0, which the formula "
                                         r"alpha \(e\^\(x / alpha\) - 1\) divides by; expected "
                                         r"a non-zero number such as 1\.0"):
        ops.celu(x, 0)
    with pytest.raises(ValueError, match=r"CELU: alpha is 0, which"):
        nn.CELU(0.0)
    with pytest.raises(TypeError, match=r"threshold: value is NoneType None; expected a real "
                                        r"number such as 0\.0"):
        ops.threshold(x, 0.5, None)
    with pytest.raises(TypeError, match=r"Threshold: threshold is bool True; expected a real "
                                        r"number"):
        nn.Threshold(True, 0.0)


def test_glu_and_softmin_errors():
    with pytest.raises(ValueError, match=r"glu: axis 1 of the input of shape \(2, 3\) has odd "
                                         r"size 3; expected an even size, split into halves a "
                                         r"and b for a \* sigmoid\(b\); pick another axis or "
                                         r"pad x to an even size"):
        ops.glu(tc.Value(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"glu: axis 0 of the input of shape \(3, 4\) has odd "
                                         r"size 3"):
        nn.GLU(0)(tc.Value(np.ones((3, 4))))
    # no hint to reshape a 0-d x to (1,): that axis has odd size, so glu would still refuse it
    with pytest.raises(ValueError, match=r"glu: axis -1 is out of range; expected an axis of the "
                                         r"input, but one of shape \(\) has none$"):
        ops.glu(tc.Value(1.0))
    with pytest.raises(ValueError, match=r"glu: axis 0 of the input of shape \(1,\) has odd"):
        ops.glu(tc.Value(1.0).reshape(1))
    with pytest.raises(ValueError, match=r"glu: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 4\)$"):
        ops.glu(np.ones((2, 4)), axis=2)
    with pytest.raises(TypeError, match=r"glu: axis 1\.0 is a float; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 4\)$"):
        ops.glu(np.ones((2, 4)), axis=1.0)
    with pytest.raises(TypeError, match=r"GLU: dim is str '1'; expected an int, the axis to "
                                        r"split in halves"):
        nn.GLU("1")
    with pytest.raises(ValueError, match=r"softmin: axis -3 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 4\)$"):
        ops.softmin(np.ones((2, 4)), axis=-3)
    with pytest.raises(TypeError, match=r"Softmin: dim is None; expected the axis to normalise "
                                        r"over"):
        nn.Softmin()


def test_no_warnings_in_ordinary_use(rng):
    x = tc.Value(rng.standard_normal((4, 6)) * 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for op in [ops.selu, ops.celu, ops.mish, ops.hardswish, ops.hardsigmoid, ops.softsign,
                   ops.tanhshrink, ops.softshrink, ops.hardshrink, ops.softmin, ops.glu,
                   lambda v: ops.threshold(v, 0.0, -1.0)]:
            op(x).sum().backward()
