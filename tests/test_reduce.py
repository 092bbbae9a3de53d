"""Reductions sum, mean, max: forward against numpy, gradcheck over axes, the tie rule, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc

CASES = [                              # (shape, axis, keepdims)
    ((), None, False),                 # a scalar
    ((5,), None, False),
    ((5,), 0, True),
    ((2, 3), 1, False),
    ((2, 3), -1, True),                # negative axis
    ((2, 3, 4), (0, 2), False),        # axes tuple
    ((2, 3, 4), (-1, 0), True),        # axes tuple with a negative axis, keepdims
    ((2, 3, 4), None, True),
    ((3, 1, 2), 1, False),             # a size-1 axis
]

OPS = {"sum": np.sum, "mean": np.mean, "max": np.max}


def distinct(rng, shape):
    """Values that are all different (no ties for max), at least 0.01 apart."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.01 + rng.uniform(0, 0.001)).reshape(shape) - size * 0.005


@pytest.mark.parametrize("shape, axis, keepdims", CASES)
@pytest.mark.parametrize("name", OPS)
def test_reduce_forward_and_gradcheck(rng, name, shape, axis, keepdims):
    x = distinct(rng, shape)
    op = getattr(tc.ops, name)
    out = op(tc.Value(x), axis=axis, keepdims=keepdims)
    expected = OPS[name](x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)
    assert out.shape == np.shape(expected)
    method = getattr(tc.Value(x), name)(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(method.data, out.data)
    assert tc.gradcheck(lambda v: op(v, axis=axis, keepdims=keepdims), [x])


def test_sum_and_mean_gradients_by_hand(rng):
    x = tc.Value(rng.standard_normal((2, 3)))
    upstream = np.array([1.0, -2.0])
    x.sum(axis=1).backward(upstream)
    np.testing.assert_array_equal(x.grad, [[1.0] * 3, [-2.0] * 3])
    y = tc.Value(rng.standard_normal((2, 3)))
    y.mean(axis=0, keepdims=True).backward(np.array([[3.0, 6.0, 9.0]]))
    np.testing.assert_array_equal(y.grad, [[1.5, 3.0, 4.5]] * 2)


def test_max_sends_the_gradient_to_the_maximum(rng):
    x = tc.Value([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x.max(axis=1).backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [[0, 10, 0], [20, 0, 0]])


def test_max_tied_maxima_share_the_gradient_equally():
    x = tc.Value([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    out = x.max(axis=1)
    assert out.data.tolist() == [3.0, 2.0]
    out.backward(np.array([1.0, 6.0]))
    np.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5], [2.0, 2.0, 2.0]])
    y = tc.Value([4.0, 4.0, 1.0, 4.0])
    y.max().backward()
    np.testing.assert_allclose(y.grad, [1 / 3, 1 / 3, 0.0, 1 / 3], rtol=1e-15)


@pytest.mark.parametrize("name", OPS)
def test_bad_axes_raise(name):
    x = tc.Value(np.ones((2, 3)))
    op = getattr(tc.ops, name)
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range for an array with 2 "
                                         r"dimensions; expected an int in \[-2, 2\)"):
        op(x, axis=2)
    with pytest.raises(ValueError, match=r"axis -3 is out of range"):
        op(x, axis=(0, -3))
    with pytest.raises(ValueError, match=rf"{name}: axis \(1, -1\) names an axis twice"):
        op(x, axis=(1, -1))
    with pytest.raises(TypeError, match=rf"{name}: axis 1.0 is a float; expected None, an int"):
        op(x, axis=1.0)
    with pytest.raises(ValueError, match=r"axis 0.5 is out of range"):
        op(x, axis=(0.5,))


def test_max_of_nothing_raises():
    with pytest.raises(ValueError, match=r"max: input of shape \(2, 0\) has no elements along "
                                         r"axis 1; expected at least one element"):
        tc.Value(np.ones((2, 0))).max(axis=1)
