"""The pools' ceil_mode and count_include_pad against PyTorch float64: max_pool2d, avg_pool2d,
max_pool1d and avg_pool1d, batched and unbatched, padded or not, with stride below, equal to and
above the kernel, and a kernel past the input that ceil_mode allows -- the forward, every
gradient through a random upstream gradient and the second derivatives (compare_with_torch); the
tie rule in windows that hang past the edge; which settings leave no window, as PyTorch's; and
nn.MaxPool1d/2d and nn.AvgPool1d/2d built with the options."""

import numpy as np
import pytest
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import compare_forward_and_gradients

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def distinct(rng, shape):
    """Values 0.01 apart in a random order: no ties for the maximum."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 - 0.5


def both(torch, op: str, kernel_size, stride, padding, **settings):
    """ours and theirs: ops.<op> and torch.nn.functional.<op> with the same settings."""
    def ours(x):
        return getattr(ops, op)(x, kernel_size, stride, padding, **settings)

    def theirs(x):
        return getattr(torch.nn.functional, op)(x, kernel_size, stride, padding, **settings)

    return ours, theirs


# x (N, C, H, W) or (C, H, W), kernel_size, stride, padding
CEIL_2D = [
    ((2, 2, 5, 5), 2, None, 0),               # odd sizes: windows for the last row and column
    ((2, 3, 8, 8), 3, 2, 1),                  # ResNet's stem pool on an even map: 8 -> 5
    ((2, 2, 7, 6), (2, 3), 3, 1),             # no window starts in the padding: 3 rows, not 4
    ((1, 2, 6, 7), (3, 2), (2, 1), (1, 0)),   # stride < kernel
    ((2, 1, 7, 9), 2, 3, 1),                  # stride > kernel: gaps between windows
    ((2, 1, 3, 5), (4, 3), 2, (0, 1)),        # a kernel taller than the image
    ((1, 2, 8, 11), 4, 3, 2),                 # divisors cut at the end of the padding
    ((3, 7, 8), 3, 2, 1),                     # one unbatched image
]
POOLS = [("max_pool2d", {}), ("avg_pool2d", {}), ("avg_pool2d", {"count_include_pad": False})]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CEIL_2D)
@pytest.mark.parametrize("op, settings", POOLS)
def test_ceil_mode_2d(torch, rng, x_shape, kernel_size, stride, padding, op, settings):
    ours, theirs = both(torch, op, kernel_size, stride, padding, ceil_mode=True, **settings)
    compare_with_torch(torch, ours, theirs, [distinct(rng, x_shape)], rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", [
    ((2, 3, 7, 6), 3, 2, 1),
    ((2, 2, 6, 9), (4, 2), (3, 2), (2, 1)),
    ((2, 1, 5, 5), 3, 1, 1),                  # stride 1: every edge window
    ((3, 6, 7), (2, 3), None, (1, 1)),        # one unbatched image
])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_count_include_pad_false_2d(torch, rng, x_shape, kernel_size, stride, padding,
                                    ceil_mode):
    ours, theirs = both(torch, "avg_pool2d", kernel_size, stride, padding, ceil_mode=ceil_mode,
                        count_include_pad=False)
    compare_with_torch(torch, ours, theirs, [rng.standard_normal(x_shape)], rng)
    # squared, so the second derivative by x is not zero: the rule's transpose meets itself
    compare_with_torch(torch, lambda x: ours(x) ** 2, lambda x: theirs(x) ** 2,
                       [rng.standard_normal(x_shape)], rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, settings", [
    ((2, 3, 7, 6), 3, 2, 1, {"divisor_override": 5}),
    ((2, 2, 6, 9), (4, 2), (3, 2), (2, 1), {"divisor_override": -2, "ceil_mode": True}),
    ((3, 6, 7), 2, None, 1, {"divisor_override": 3, "count_include_pad": False}),   # unbatched
])
def test_divisor_override(torch, rng, x_shape, kernel_size, stride, padding, settings):
    ours, theirs = both(torch, "avg_pool2d", kernel_size, stride, padding, **settings)
    compare_with_torch(torch, ours, theirs, [rng.standard_normal(x_shape)], rng)
    compare_with_torch(torch, lambda x: ours(x) ** 2, lambda x: theirs(x) ** 2,
                       [rng.standard_normal(x_shape)], rng)


# x (N, C, L) or (C, L), kernel_size, stride, padding
CEIL_1D = [
    ((2, 3, 8), 3, 2, 1),
    ((2, 2, 7), 2, None, 0),
    ((1, 2, 3), 4, 2, 0),                     # a kernel longer than the signal
    ((2, 2, 11), 4, 3, 2),
    ((2, 2, 9), 3, 1, 1),                     # stride 1: ceil_mode adds nothing
    ((3, 10), 3, 2, 1),                       # one unbatched signal
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CEIL_1D)
@pytest.mark.parametrize("op, settings", [("max_pool1d", {}), ("avg_pool1d", {}),
                                          ("avg_pool1d", {"count_include_pad": False})])
def test_ceil_mode_1d(torch, rng, x_shape, kernel_size, stride, padding, op, settings):
    ours, theirs = both(torch, op, kernel_size, stride, padding, ceil_mode=True, **settings)
    compare_with_torch(torch, ours, theirs, [distinct(rng, x_shape)], rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", [
    ((2, 3, 8), 3, 2, 1), ((2, 2, 11), 4, 3, 2), ((3, 10), 2, 1, 1)])
def test_count_include_pad_false_1d(torch, rng, x_shape, kernel_size, stride, padding):
    ours, theirs = both(torch, "avg_pool1d", kernel_size, stride, padding,
                        count_include_pad=False)
    compare_with_torch(torch, ours, theirs, [rng.standard_normal(x_shape)], rng)


@pytest.mark.parametrize("op, x_shape, kernel_size, stride, padding", [
    ("max_pool2d", (2, 3, 7, 8), 2, None, 0), ("max_pool2d", (2, 3, 6, 7), 3, 2, 1),
    ("max_pool2d", (2, 3, 7, 7), (2, 3), (2, 1), (1, 1)), ("max_pool1d", (2, 3, 9), 2, 2, 1),
    ("max_pool1d", (3, 8), 3, 2, 1)])
def test_ceil_mode_ties_and_minus_infinity_go_where_pytorch_sends_them(
        torch, rng, op, x_shape, kernel_size, stride, padding):
    x = rng.integers(0, 3, x_shape).astype(np.float64)               # ties everywhere
    x[..., -3:] = -np.inf             # hanging windows whose image part ties with the padding
    ours, theirs = both(torch, op, kernel_size, stride, padding, ceil_mode=True)
    xt = torch.tensor(x, requires_grad=True)
    their_out = theirs(xt)
    upstream = rng.standard_normal(tuple(their_out.shape))
    their_out.backward(torch.from_numpy(upstream))
    value = tc.Value(x, requires_grad=True)
    out = ours(value)
    out.backward(upstream)
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    np.testing.assert_allclose(value.grad, xt.grad.numpy(), **TIGHT)


def test_which_settings_leave_no_window_is_pytorchs(torch, rng):
    """Over every small signal, kernel, stride and padding: PyTorch refuses exactly the settings
    we refuse, and elsewhere the results agree (ceil_mode lets a kernel reach past the input)."""
    f = torch.nn.functional
    for length, kernel, stride in np.ndindex(7, 7, 4):
        if kernel == 0 or stride == 0 or length == 0:
            continue
        x = rng.standard_normal((1, 2, length))
        for padding in range(kernel // 2 + 1):
            for ceil_mode in (False, True):
                settings = (kernel, stride, padding, ceil_mode)
                try:
                    expected = f.avg_pool1d(torch.from_numpy(x), *settings, False).numpy()
                except RuntimeError:
                    with pytest.raises(ValueError, match=r"avg_pool1d: kernel"):
                        ops.avg_pool1d(x, *settings, False)
                    continue
                np.testing.assert_allclose(ops.avg_pool1d(x, *settings, False).data, expected,
                                           err_msg=str(settings), **TIGHT)
                their_max = f.max_pool1d(torch.from_numpy(x), kernel, stride, padding,
                                         ceil_mode=ceil_mode).numpy()
                np.testing.assert_array_equal(
                    ops.max_pool1d(x, kernel, stride, padding, ceil_mode=ceil_mode).data,
                    their_max, err_msg=str(settings))


@pytest.mark.parametrize("layer, args, kwargs, shape", [
    ("MaxPool2d", (3, 2, 1), {"ceil_mode": True}, (2, 3, 8, 8)),
    ("MaxPool2d", ((2, 3), 2), {"ceil_mode": True}, (3, 7, 8)),            # one image
    ("MaxPool1d", (3, 2), {"ceil_mode": True}, (2, 3, 8)),
    ("AvgPool2d", (3, 2, 1, True, False), {}, (2, 3, 8, 7)),               # PyTorch's order
    ("AvgPool2d", (2,), {"count_include_pad": False, "padding": 1}, (2, 3, 5, 6)),
    ("AvgPool1d", (4, 3, 2), {"ceil_mode": True}, (2, 3, 11)),
    ("AvgPool1d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (3, 8)),
])
def test_layers_with_the_options(torch, rng, layer, args, kwargs, shape):
    ours, theirs = getattr(nn, layer)(*args, **kwargs), getattr(torch.nn, layer)(*args, **kwargs)
    x = distinct(rng, shape)
    out_shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(out_shape))
