"""tan, sinh, cosh, arcsinh, arccosh, arctanh, logaddexp and cumprod: forward equal to numpy's
function, gradcheck and gradgradcheck in float64 through a random upstream gradient, float32
kept, logaddexp without overflow and with broadcasting, cumprod's gradients exact at zeros, the
methods and the errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops

# (op, numpy's function, inputs in the op's domain from rng and a shape)
UNARY = {
    "tan": (ops.tan, np.tan, lambda rng, s: rng.uniform(-1.3, 1.3, s)),
    "sinh": (ops.sinh, np.sinh, lambda rng, s: rng.uniform(-3, 3, s)),
    "cosh": (ops.cosh, np.cosh, lambda rng, s: rng.uniform(-3, 3, s)),
    "arcsinh": (ops.arcsinh, np.arcsinh, lambda rng, s: rng.uniform(-4, 4, s)),
    "arccosh": (ops.arccosh, np.arccosh, lambda rng, s: rng.uniform(1.1, 4, s)),
    "arctanh": (ops.arctanh, np.arctanh, lambda rng, s: rng.uniform(-0.9, 0.9, s)),
}


@pytest.mark.parametrize("shape", [(), (5,), (2, 3, 2)])
@pytest.mark.parametrize("name", UNARY)
def test_unary_forward_gradcheck_and_gradgradcheck(rng, name, shape):
    op, oracle, make = UNARY[name]
    x = make(rng, shape)
    out = op(tc.Value(x))
    assert out.shape == shape and out.dtype == np.float64
    np.testing.assert_array_equal(out.data, oracle(x))
    np.testing.assert_array_equal(getattr(tc.Value(x), name)().data, oracle(x))
    assert tc.gradcheck(op, [x])
    assert tc.gradgradcheck(op, [x])


@pytest.mark.parametrize("name", UNARY)
def test_unary_float32_stays_float32(rng, name):
    op, oracle, make = UNARY[name]
    x = make(rng, (3, 4)).astype(np.float32)
    value = tc.Value(x)
    out = op(value)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, oracle(x))
    (out * 2.0).sum().backward()
    assert value.grad.dtype == np.float32


def test_unary_derivatives_are_the_textbook_ones(rng):
    x = rng.uniform(-0.9, 0.9, 7)
    expected = {"tan": 1 / np.cos(x) ** 2, "sinh": np.cosh(x), "cosh": np.sinh(x),
                "arcsinh": 1 / np.sqrt(x * x + 1), "arctanh": 1 / (1 - x * x)}
    for name, derivative in expected.items():
        value = tc.Value(x)
        UNARY[name][0](value).backward(np.ones(7))
        np.testing.assert_allclose(value.grad, derivative, rtol=1e-14, err_msg=name)
    value = tc.Value(x + 2)
    ops.arccosh(value).backward(np.ones(7))
    np.testing.assert_allclose(value.grad, 1 / np.sqrt((x + 2) ** 2 - 1), rtol=1e-14)


@pytest.mark.parametrize("a_shape, b_shape", [((), ()), ((2, 3), (2, 3)), ((4, 1, 3), (2, 1)),
                                              ((3,), (2, 3))])
def test_logaddexp_forward_gradcheck_and_gradgradcheck(rng, a_shape, b_shape):
    a, b = 2 * rng.standard_normal(a_shape), 2 * rng.standard_normal(b_shape)
    out = ops.logaddexp(tc.Value(a), tc.Value(b))
    np.testing.assert_array_equal(out.data, np.logaddexp(a, b))
    assert out.shape == np.broadcast_shapes(a_shape, b_shape)
    assert tc.gradcheck(ops.logaddexp, [a, b])
    assert tc.gradgradcheck(ops.logaddexp, [a, b])


def test_logaddexp_does_not_overflow_and_its_gradient_is_the_pairs_softmax():
    a, b = tc.Value(np.array([1000.0, -1000.0, 0.0, 800.0])), tc.Value(np.array([1000.0, 0.0, 0.0,
                                                                                  -800.0]))
    out = ops.logaddexp(a, b)
    np.testing.assert_allclose(out.data, [1000.0 + np.log(2), 0.0, np.log(2), 800.0],
                               rtol=1e-15)
    out.backward(np.ones(4))
    np.testing.assert_array_equal(a.grad, [0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0, 0.5, 0.0])


def test_logaddexp_float32_with_a_number_stays_float32(rng):
    x = tc.Value(rng.standard_normal((2, 3)).astype(np.float32))
    out = ops.logaddexp(x, 0.5)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32


ZEROS = np.array([[2.0, 0.0, 3.0, 1.5],      # one zero
                  [0.0, -1.5, 0.0, 2.0],     # two zeros
                  [1.2, 2.0, -0.5, 0.7]])    # none


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("zeros", [False, True], ids=["no-zeros", "zeros"])
def test_cumprod_forward_gradcheck_and_gradgradcheck(rng, axis, zeros):
    x = ZEROS if zeros else rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    op = lambda v: ops.cumprod(v, axis)                            # noqa: E731
    out = op(tc.Value(x))
    np.testing.assert_array_equal(out.data, np.cumprod(x, axis))
    assert tc.gradcheck(op, [x])
    assert tc.gradgradcheck(op, [x])


@pytest.mark.parametrize("shape, axis", [((), None), ((), 0), ((5,), -1), ((2, 1, 3), 1)])
def test_cumprod_shapes_as_numpy(rng, shape, axis):
    x = rng.uniform(0.5, 2.0, shape)
    out = tc.Value(x).cumprod(axis)
    np.testing.assert_array_equal(out.data, np.cumprod(x, axis))
    assert tc.gradcheck(lambda v: ops.cumprod(v, axis), [x])


def test_cumprod_gradient_at_zeros_is_the_product_of_the_others():
    # y = (x0, x0 x1, x0 x1 x2): dy/dx1 . g = g1 x0 + g2 x0 x2, which does not vanish at x1 = 0
    x = tc.Value(np.array([2.0, 0.0, 3.0]))
    ops.cumprod(x).backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [1.0, 10 * 2 + 100 * 2 * 3, 0.0])


def test_cumprod_float32_stays_float32_with_and_without_zeros(rng):
    for x in (ZEROS.astype(np.float32), rng.uniform(0.5, 2.0, (3, 4)).astype(np.float32)):
        value = tc.Value(x)
        out = ops.cumprod(value, axis=1)
        assert out.dtype == np.float32
        out.backward(np.ones((3, 4), dtype=np.float32))
        assert value.grad.dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda x: ops.logaddexp(x, np.ones(4)), ValueError,
     r"logaddexp: cannot broadcast shapes \(2, 3\) and \(4,\)"),
    (lambda x: ops.cumprod(x, 2), ValueError,
     r"cumprod: axis 2 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (lambda x: ops.cumprod(x, (0, 1)), TypeError,
     r"cumprod: axis \(0, 1\) is a tuple; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\); cumprod takes a single axis$"),
    (lambda x: ops.cumprod(x[0, 0], 1), ValueError,
     r"cumprod: axis 1 is out of range; expected an int in \[-1, 1\) \(an axis of the 1-D "
     r"result\) for an input of shape \(\)$"),
])
def test_errors_name_the_mistake(call, error, match):
    with pytest.raises(error, match=match):
        call(tc.Value(np.ones((2, 3))))


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_cumprod_plain_and_recorded_gradients_agree_at_zeros(rng, axis):
    """The ordinary backward (PyTorch's O(n) rule of the first zero) and the recorded one
    (create_graph: the (n, n) products) give equal gradients, zeros anywhere in a slice."""
    x = rng.integers(-2, 3, (4, 6)).astype(np.float64)      # many zeros, some slices none
    x[0] = [1.5, -2.0, 0.5, 3.0, 1.0, 2.0]
    upstream = rng.standard_normal(np.cumprod(x, axis).shape)
    plain, recorded = (tc.grad(ops.cumprod(v, axis), [v], grad_output=upstream,
                               create_graph=create)[0].data
                       for v, create in ((tc.Value(x), False), (tc.Value(x), True)))
    np.testing.assert_allclose(plain, recorded, rtol=1e-14, atol=1e-14)
    assert tc.gradcheck(lambda v: ops.cumprod(v, axis), [x])


def test_cumprod_gradient_of_a_long_axis_with_a_zero(rng):
    x = rng.uniform(0.9, 1.1, (3, 20000))
    x[:, 5000] = 0.0
    value = tc.Value(x)
    ops.cumprod(value, axis=1).backward(np.ones(x.shape))
    expected = np.cumprod(x[:, :5000], axis=1)[:, -1] * (1 + np.cumprod(x[:, 5001:], 1).sum(1))
    np.testing.assert_allclose(value.grad[:, 5000], expected, rtol=1e-12)
    np.testing.assert_array_equal(value.grad[:, 5001:], 0.0)
