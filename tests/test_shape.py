"""Shape ops reshape, flatten, transpose: forward against numpy, gradcheck, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc


@pytest.mark.parametrize("shape, new_shape", [
    ((), (1, 1)),                  # a scalar
    ((6,), (2, 3)),
    ((2, 3, 4), (4, -1)),          # -1 inferred
    ((2, 3, 4), (24,)),
    ((1, 1), ()),                  # one element back to a scalar
])
def test_reshape_forward_and_gradcheck(rng, shape, new_shape):
    x = rng.standard_normal(shape)
    out = tc.ops.reshape(tc.Value(x), new_shape)
    np.testing.assert_array_equal(out.data, x.reshape(new_shape))
    np.testing.assert_array_equal(tc.Value(x).reshape(*new_shape).data, out.data)
    np.testing.assert_array_equal(tc.ops.reshape(tc.Value(x), *new_shape).data, out.data)
    assert tc.gradcheck(lambda v: tc.ops.reshape(v, new_shape), [x])


def test_reshape_moves_the_gradient_back(rng):
    x = tc.Value(rng.standard_normal((2, 3)))
    upstream = np.arange(6.0).reshape(3, 2)
    x.reshape(3, 2).backward(upstream)
    np.testing.assert_array_equal(x.grad, upstream.reshape(2, 3))


def test_reshape_size_mismatch_raises():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an array of shape \(2, 3\) "
                                         r"\(6 elements\) into \(4, 2\); expected the same number"):
        tc.Value(np.ones((2, 3))).reshape(4, 2)


@pytest.mark.parametrize("shape, start_dim, expected", [
    ((2, 3, 4, 5), 1, (2, 60)),
    ((2, 3, 4, 5), 0, (120,)),
    ((2, 3, 4, 5), -2, (2, 3, 20)),
    ((2, 3, 4, 5), 3, (2, 3, 4, 5)),
    ((4,), 0, (4,)),
    ((), 0, (1,)),
])
def test_flatten_forward_and_gradcheck(rng, shape, start_dim, expected):
    x = rng.standard_normal(shape)
    out = tc.ops.flatten(tc.Value(x), start_dim)
    assert out.shape == expected and out.fn.name == "Flatten"
    np.testing.assert_array_equal(out.data, x.reshape(expected))
    assert tc.gradcheck(lambda v: tc.ops.flatten(v, start_dim), [x])


def test_flatten_records_start_dim_not_the_shape():
    x = tc.Value(np.ones((2, 3, 4)))
    out = tc.ops.flatten(x, 1)
    assert dict(out.fn.params) == {"start_dim": 1}
    assert dict(tc.nn.Flatten(start_dim=-2)(x).fn.params) == {"start_dim": -2}
    assert dict(x.flatten().fn.params) == {"start_dim": 0}
    assert "Flatten start_dim=1" in tc.draw_graph(out).source


def test_flatten_accepts_numpy_integers_and_moves_the_gradient_back():
    x = tc.Value(np.zeros((2, 3, 4)))
    out = tc.ops.flatten(x, np.int64(1))
    assert out.shape == (2, 12)
    upstream = np.arange(24.0).reshape(2, 12)
    out.backward(upstream)
    np.testing.assert_array_equal(x.grad, upstream.reshape(2, 3, 4))


def test_flatten_of_an_empty_batch():
    x = tc.Value(np.zeros((0, 2, 3)))
    out = tc.nn.Flatten()(x)
    assert out.shape == (0, 6)
    out.backward(np.zeros((0, 6)))
    assert x.grad.shape == (0, 2, 3)


def test_flatten_defaults():
    x = tc.Value(np.ones((2, 3, 4)))
    assert tc.ops.flatten(x).shape == (24,)        # as torch.flatten: everything
    assert x.flatten().shape == (24,)
    assert tc.nn.Flatten()(x).shape == (2, 12)     # the layer keeps the batch axis
    assert tc.ops.flatten(np.ones((2, 3)), 1).shape == (2, 3)


@pytest.mark.parametrize("start_dim", [3, -4, 1.0, None])
def test_flatten_bad_start_dim_raises(start_dim):
    with pytest.raises(ValueError, match=rf"flatten: start_dim {start_dim!r} is out of range "
                                         r"for an input of shape \(2, 3, 4\); expected an int "
                                         r"with -3 <= start_dim < 3"):
        tc.ops.flatten(tc.Value(np.ones((2, 3, 4))), start_dim)


def test_flatten_bad_start_dim_on_an_array_raises():
    with pytest.raises(ValueError, match=r"flatten: start_dim True is out of range for an input "
                                         r"of shape \(\); expected an int with -1 <= start_dim "
                                         r"< 1"):
        tc.ops.flatten(np.float64(2.0), True)


@pytest.mark.parametrize("shape, axes", [
    ((), ()),
    ((3, 4), ()),                   # no axes: reversed
    ((2, 3, 4), (1, 2, 0)),
    ((2, 3, 4), (0, -1, -2)),       # negative axes
    ((2, 3, 4, 5), (3, 1, 0, 2)),
])
def test_transpose_forward_and_gradcheck(rng, shape, axes):
    x = rng.standard_normal(shape)
    out = tc.ops.transpose(tc.Value(x), *axes)
    np.testing.assert_array_equal(out.data, np.transpose(x, axes or None))
    np.testing.assert_array_equal(tc.Value(x).transpose(axes).data, out.data)
    assert tc.gradcheck(lambda v: v.transpose(*axes), [x])


def test_transpose_moves_the_gradient_back():
    x = tc.Value(np.zeros((2, 3, 4)))
    upstream = np.arange(24.0).reshape(4, 2, 3)
    x.transpose(2, 0, 1).backward(upstream)
    np.testing.assert_array_equal(x.grad, upstream.transpose(1, 2, 0))


@pytest.mark.parametrize("axes", [(0, 1), (0, 0, 1), (0, 1, 3), (0, 1, -4), (0, 1.5, 2)])
def test_transpose_bad_permutation_raises(axes):
    with pytest.raises(ValueError, match=r"transpose: axes .* are not a permutation of the 3 "
                                         r"axes of an array of shape \(2, 3, 4\); expected each "
                                         r"of 0..2 once"):
        tc.Value(np.ones((2, 3, 4))).transpose(*axes)


@pytest.mark.parametrize("fn, shape", [
    (lambda x: x.reshape(3, -1), (2, 3, 2)),
    (lambda x: tc.ops.flatten(x, 1), (2, 3, 2)),
    (lambda x: x.transpose(2, 0, 1), (2, 3, 4)),
    (lambda x: x.T, (3, 5)),
    (lambda x: tc.ops.broadcast_to(x, (4, 2, 3)), (2, 1)),
    (lambda x: tc.ops.broadcast_to(x, (2, 3)), (3,)),
])
def test_shape_ops_are_twice_differentiable(rng, fn, shape):
    # the ops are linear, so the check is that every second derivative (also with respect to
    # the upstream gradient) flows through the rule at all, and correctly
    assert tc.gradgradcheck(lambda x: fn(x) * fn(x), [rng.standard_normal(shape)])
    assert tc.gradgradcheck(fn, [rng.standard_normal(shape)])


def test_broadcast_to_forward_gradient_and_errors(rng):
    x = rng.standard_normal((2, 1))
    out = tc.ops.broadcast_to(tc.Value(x), (3, 2, 4))
    np.testing.assert_array_equal(out.data, np.broadcast_to(x, (3, 2, 4)))
    assert tc.gradcheck(lambda v: tc.ops.broadcast_to(v, (3, 2, 4)), [x])
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 1\) to "
                                         r"\(3, 4\); expected each trailing dimension"):
        tc.ops.broadcast_to(tc.Value(x), (3, 4))
