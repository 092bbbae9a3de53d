"""The max pools' dilation and return_indices and max_unpool1d/2d against PyTorch float64: the
forward, the indices, every gradient through a random upstream gradient and the second
derivatives (compare_with_torch), with ceil_mode, padding, unbatched inputs and the layers;
which dilated settings PyTorch and we refuse; and the one kept difference, the gradient of
duplicate unpool indices."""

import numpy as np
import pytest
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import compare_forward_and_gradients

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def distinct(rng, shape):
    """Values 0.01 apart in a random order: no ties for the maximum."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


# x (N, C, H, W) or (C, H, W), kernel_size, stride, padding, dilation, ceil_mode
DILATED_2D = [
    ((2, 3, 8, 8), 2, 2, 0, 2, False),
    ((2, 2, 9, 7), 3, 1, 1, 2, False),                     # overlapping, padded
    ((1, 2, 8, 9), (2, 3), (3, 2), (1, 1), (3, 2), True),  # pairs, ceil_mode
    ((2, 1, 7, 10), 3, 2, 1, (1, 3), True),
    ((3, 9, 8), 2, None, 1, 3, False),                     # one unbatched image
]


# the 1-D pools: x (N, C, L) or (C, L), kernel_size, stride, padding, dilation, ceil_mode
DILATED_1D = [((2, 3, 11), 3, 1, 1, 2, False), ((1, 2, 12), 2, 3, 1, 3, True),
              ((3, 10), 3, 2, 1, 2, True)]


@pytest.mark.parametrize("pool, x_shape, kernel_size, stride, padding, dilation, ceil_mode",
                         [("max_pool2d", *case) for case in DILATED_2D]
                         + [("max_pool1d", *case) for case in DILATED_1D])
def test_dilated_max_pool_and_its_indices(torch, rng, pool, x_shape, kernel_size, stride,
                                          padding, dilation, ceil_mode):
    ours, theirs = getattr(ops, pool), getattr(torch.nn.functional, pool)
    settings = (kernel_size, stride, padding, dilation, ceil_mode)
    x = distinct(rng, x_shape)
    compare_with_torch(torch, lambda x: ours(x, *settings), lambda x: theirs(x, *settings), [x],
                       rng)
    out, indices = ours(x, *settings, True)
    their_out, their_indices = theirs(torch.from_numpy(x), *settings, True)
    np.testing.assert_array_equal(out.data, their_out.numpy())
    np.testing.assert_array_equal(indices.data, their_indices.numpy())
    assert indices.dtype == np.int64


def test_which_dilated_settings_are_refused_is_pytorchs(torch, rng):
    """Over small signals, kernels, strides, paddings and dilations: where PyTorch refuses, so do
    we; where it returns -inf (a window that reads only padding), we refuse; elsewhere the
    outputs and indices agree."""
    f = torch.nn.functional
    for length, kernel, stride, dilation in np.ndindex(7, 4, 3, 4):
        if 0 in (length, kernel, stride, dilation):
            continue
        x = distinct(rng, (1, 2, length))
        for padding in range(kernel // 2 + 1):
            for ceil_mode in (False, True):
                settings = (kernel, stride, padding, dilation, ceil_mode, True)
                try:
                    their_out, their_indices = f.max_pool1d(torch.from_numpy(x), *settings)
                except RuntimeError:
                    with pytest.raises(ValueError, match=r"^max_pool1d: kernel"):
                        ops.max_pool1d(x, *settings)
                    continue
                if np.isinf(their_out.numpy()).any():
                    with pytest.raises(ValueError, match=r"reads only the padding"):
                        ops.max_pool1d(x, *settings)
                    continue
                out, indices = ops.max_pool1d(x, *settings)
                np.testing.assert_array_equal(out.data, their_out.numpy(), err_msg=str(settings))
                np.testing.assert_array_equal(indices.data, their_indices.numpy())


# x (N, C, H, W) or (C, H, W) pooled by kernel_size, stride, padding; unpool's output_size.
# Windows apart, so that no two indices of a plane are equal (the kept difference, below)
UNPOOL_2D = [
    ((2, 3, 8, 6), 2, None, 0, None),
    ((2, 2, 7, 9), 3, 3, 1, (7, 9)),                   # padded; the pool's input size
    ((1, 2, 7, 8), (2, 3), (2, 3), (1, 1), (1, 2, 7, 8)),   # N and C given too
    ((3, 6, 7), 2, None, 0, (6, 7)),                   # one unbatched image
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, output_size", UNPOOL_2D)
def test_max_unpool2d(torch, rng, x_shape, kernel_size, stride, padding, output_size):
    f = torch.nn.functional
    _, indices = ops.max_pool2d(distinct(rng, x_shape), kernel_size, stride, padding,
                                return_indices=True)
    their_indices = torch.from_numpy(indices.data)
    y = rng.standard_normal(indices.shape)
    compare_with_torch(
        torch, lambda y: ops.max_unpool2d(y, indices, kernel_size, stride, padding, output_size),
        lambda y: f.max_unpool2d(y, their_indices, kernel_size, stride, padding, output_size),
        [y], rng)
    # squared, so the second derivative by y is not zero
    compare_with_torch(
        torch,
        lambda y: ops.max_unpool2d(y, indices, kernel_size, stride, padding, output_size) ** 2,
        lambda y: f.max_unpool2d(y, their_indices, kernel_size, stride, padding,
                                 output_size) ** 2, [y], rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, output_size", [
    ((2, 3, 9), 3, 3, 1, (9,)), ((1, 2, 9), 2, None, 0, (9,)), ((3, 8), 2, None, 0, None)])
def test_max_unpool1d(torch, rng, x_shape, kernel_size, stride, padding, output_size):
    f = torch.nn.functional
    _, indices = ops.max_pool1d(distinct(rng, x_shape), kernel_size, stride, padding,
                                return_indices=True)
    their_indices = torch.from_numpy(indices.data)
    compare_with_torch(
        torch,
        lambda y: ops.max_unpool1d(y, indices, kernel_size, stride, padding, output_size) ** 2,
        lambda y: f.max_unpool1d(y, their_indices, kernel_size, stride, padding,
                                 output_size) ** 2, [rng.standard_normal(indices.shape)], rng)


def test_pool_then_unpool_with_overlapping_windows(torch, rng):
    """Overlapping windows that share a maximum name one place twice: the forward agrees
    with PyTorch (equal values), the gradient through pool and unpool is ours where PyTorch's
    counts the shared maximum once per window (its unpool sends the gradient to every
    duplicate); ours is the derivative of the forward, as gradcheck shows."""
    f = torch.nn.functional
    x = distinct(rng, (1, 2, 6, 6))
    value, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, indices = ops.max_pool2d(value, 3, 1, return_indices=True)
    y = ops.max_unpool2d(out, indices, 3, 1)
    their_out, their_indices = f.max_pool2d(xt, 3, 1, return_indices=True)
    their_y = f.max_unpool2d(their_out, their_indices, 3, 1)
    np.testing.assert_array_equal(y.data, their_y.detach().numpy())
    upstream = rng.standard_normal(y.shape)
    y.backward(upstream)
    their_y.backward(torch.from_numpy(upstream))
    shared = np.bincount(indices.data.reshape(2, -1)[0], minlength=36).reshape(6, 6)
    ratio = np.divide(xt.grad.numpy()[0, 0], value.grad[0, 0],
                      out=np.ones((6, 6)), where=value.grad[0, 0] != 0)
    np.testing.assert_allclose(ratio[shared > 0], shared[shared > 0], **TIGHT)
    assert shared.max() > 1
    assert tc.gradcheck(lambda x: ops.max_unpool2d(*ops.max_pool2d(x, 3, 1, return_indices=True),
                                                   3, 1), [x])


@pytest.mark.parametrize("layer, args, kwargs, shape", [
    ("MaxPool2d", (3, 2, 1, 2), {"ceil_mode": True}, (2, 3, 9, 8)),
    ("MaxPool2d", ((2, 3), 1, (1, 1), (2, 1), False, True), {}, (3, 7, 8)),   # PyTorch's order
    ("MaxPool1d", (3, 2, 1, 2), {"ceil_mode": True}, (2, 3, 11)),
])
def test_layers_with_dilation(torch, rng, layer, args, kwargs, shape):
    ours, theirs = getattr(nn, layer)(*args, **kwargs), getattr(torch.nn, layer)(*args, **kwargs)
    x = distinct(rng, shape)
    out_shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(out_shape))


@pytest.mark.parametrize("spatial, shape, kernel_size, stride, padding", [
    (2, (2, 3, 7, 9), 3, 3, 1), (2, (3, 8, 6), 2, None, 0), (1, (2, 3, 9), 3, 3, 1)])
def test_unpool_layers_with_the_pools_indices(torch, rng, spatial, shape, kernel_size, stride,
                                              padding):
    pool, unpool = f"MaxPool{spatial}d", f"MaxUnpool{spatial}d"
    ours_pool = getattr(nn, pool)(kernel_size, stride, padding, return_indices=True)
    theirs_pool = getattr(torch.nn, pool)(kernel_size, stride, padding, return_indices=True)
    ours_unpool = getattr(nn, unpool)(kernel_size, stride, padding)
    theirs_unpool = getattr(torch.nn, unpool)(kernel_size, stride, padding)
    size = shape[-spatial:]
    x = distinct(rng, shape)

    def ours(x):
        return ours_unpool(*ours_pool(x), size)

    def theirs(x):
        return theirs_unpool(*theirs_pool(x), size)

    value, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, their_out = ours(value), theirs(xt)
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    their_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(value.grad, xt.grad.numpy(), **TIGHT)   # windows apart: no dups


@pytest.mark.parametrize("pool, x_shape, settings", [
    ("max_pool2d", (2, 3, 8, 8), (2, None, 0, 1, False)),         # the fast 2x2 windows
    ("max_pool2d", (2, 3, 7, 8), (3, 1, 1, 1, False)),            # overlapping, padded
    ("max_pool2d", (2, 2, 9, 7), (3, 2, 1, 2, True)),             # dilated, ceil_mode
    ("max_pool1d", (2, 3, 11), (3, 2, 1, 1, True)),
])
def test_nans_win_their_windows_as_in_pytorch(torch, rng, pool, x_shape, settings):
    """A NaN is a window's maximum and the last NaN of a window gets its index and gradient,
    on every route of the kernels."""
    x = rng.integers(0, 4, x_shape).astype(np.float64)              # ties too
    x[rng.random(x_shape) < 0.2] = np.nan
    ours, theirs = getattr(ops, pool), getattr(torch.nn.functional, pool)
    value, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, indices = ours(value, *settings, True)
    their_out, their_indices = theirs(xt, *settings, True)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    their_out.backward(torch.from_numpy(upstream))
    assert np.isnan(out.data).any()
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    np.testing.assert_array_equal(indices.data, their_indices.numpy())
    np.testing.assert_allclose(value.grad, xt.grad.numpy(), **TIGHT)   # overlaps: sums
