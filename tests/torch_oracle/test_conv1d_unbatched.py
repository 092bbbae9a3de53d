"""conv1d, max_pool1d and avg_pool1d, and unbatched inputs to conv2d and the 2-D pools, against
PyTorch float64: the forward, every gradient through a random upstream gradient and the second
derivatives (compare_with_torch); nn.Conv1d (padding="same" too) with PyTorch's state dicts
loaded strictly both ways and PyTorch's initial range; nn.MaxPool1d and nn.AvgPool1d; the 2-D
layers on one unbatched image."""

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch
from test_layers import (
    as_float64,
    check_initial_range,
    check_state_dicts_then_gradients,
    compare_forward_and_gradients,
    copy_parameters,
)

from tinygrad_cnn import nn, ops

EVEN_SAME = "ignore:Using padding='same' with even kernel:UserWarning"

# x (N, C_in, L) or (C_in, L), w (C_out, C_in / groups, K), stride, padding, dilation, groups
CONV1D = [
    ((2, 3, 10), (4, 3, 3), 1, 0, 1, 1),
    ((2, 3, 11), (4, 3, 2), 2, 1, 1, 1),
    ((2, 2, 12), (3, 2, 3), 3, 2, 2, 1),                # stride, padding and dilation
    ((2, 4, 9), (6, 2, 3), 1, 1, 1, 2),                 # two groups
    ((1, 3, 9), (6, 1, 3), 2, 1, 2, 3),                 # depthwise, multiplier 2
    ((2, 2, 7), (3, 2, 3), 1, "same", 1, 1),            # odd kernel
    ((2, 2, 7), (3, 2, 4), 1, "same", 1, 1),            # even kernel: the extra zero after
    ((2, 2, 8), (3, 2, 2), 1, "same", 3, 1),            # dilated: 3 zeros, 1 before, 2 after
    ((2, 4, 6), (4, 2, 2), 1, "same", 1, 2),            # grouped, even kernel
    ((2, 2, 6), (3, 2, 3), 1, "valid", 1, 1),
    ((3, 10), (4, 3, 3), 2, 1, 1, 1),                   # one unbatched signal (C_in, L)
    ((4, 7), (4, 2, 4), 1, "same", 2, 2),               # unbatched, grouped, "same", dilated
]


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV1D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d(torch, rng, x_shape, w_shape, stride, padding, dilation, groups, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[0])] if bias else []
    settings = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    compare_with_torch(torch, lambda *a: ops.conv1d(*a, **settings),
                       lambda *a: torch.nn.functional.conv1d(*a, **settings), arrays, rng)


# x (N, C, L) or (C, L), kernel_size, stride, padding
POOL1D = [
    ((2, 3, 8), 2, None, 0),
    ((2, 3, 9), 3, 2, 1),                 # overlapping, padded
    ((1, 2, 7), 4, 1, 2),                 # heavily overlapping, padding K // 2
    ((2, 1, 5), 5, None, 0),              # kernel as long as the signal
    ((3, 9), 3, 2, 1),                    # one unbatched signal
]


def compare_pool_without_ties(torch, rng, op: str, x_shape, kernel_size, stride, padding):
    """ops.<op> against torch.nn.functional.<op> on distinct values (no ties for the maximum)."""
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01 - 0.5    # no ties
    compare_with_torch(torch, lambda x: getattr(ops, op)(x, kernel_size, stride, padding),
                       lambda x: getattr(torch.nn.functional, op)(x, kernel_size, stride,
                                                                  padding), [x], rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL1D)
@pytest.mark.parametrize("op", ["max_pool1d", "avg_pool1d"])
def test_pool1d(torch, rng, x_shape, kernel_size, stride, padding, op):
    compare_pool_without_ties(torch, rng, op, x_shape, kernel_size, stride, padding)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding",
                         [((2, 3, 9), 2, 1, 1), ((3, 10), 3, 2, 1)])
def test_max_pool1d_ties_and_minus_infinity_go_where_pytorch_sends_them(torch, rng, x_shape,
                                                                        kernel_size, stride,
                                                                        padding):
    x = rng.integers(0, 3, x_shape).astype(np.float64)               # ties everywhere
    x[..., :3] = -np.inf                       # windows whose signal part ties with the padding
    compare_with_torch(torch, lambda x: ops.max_pool1d(x, kernel_size, stride, padding),
                       lambda x: torch.nn.functional.max_pool1d(x, kernel_size, stride, padding),
                       [x], rng)


# x (C_in, H, W), w (C_out, C_in / groups, KH, KW), settings
UNBATCHED_CONV2D = [
    ((3, 6, 7), (4, 3, 3, 2), {}),
    ((2, 7, 6), (3, 2, 3, 3), {"stride": 2, "padding": (1, 2)}),
    ((4, 8, 7), (4, 2, 2, 3), {"padding": 2, "dilation": (2, 1), "groups": 2}),
    ((3, 5, 6), (3, 1, 3, 3), {"padding": 1, "groups": 3}),              # depthwise
    ((2, 5, 6), (3, 2, 2, 3), {"padding": "same"}),                      # even KH
    ((2, 6, 5), (3, 2, 3, 2), {"padding": "same", "dilation": (2, 3)}),
]


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize("x_shape, w_shape, settings", UNBATCHED_CONV2D)
def test_unbatched_conv2d(torch, rng, x_shape, w_shape, settings):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    compare_with_torch(torch, lambda *a: ops.conv2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv2d(*a, **settings), arrays, rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", [
    ((3, 6, 7), 2, None, 0), ((2, 7, 7), 3, 2, 1), ((1, 5, 6), (3, 2), (1, 2), (1, 0))])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_unbatched_pools(torch, rng, x_shape, kernel_size, stride, padding, op):
    compare_pool_without_ties(torch, rng, op, x_shape, kernel_size, stride, padding)


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize("in_channels, out_channels, kernel_size, settings", [
    (3, 4, 3, {}),
    (4, 6, 3, {"stride": 2, "padding": 1, "groups": 2}),
    (2, 3, 4, {"padding": "same", "dilation": 2}),
    (3, 6, 2, {"padding": "same", "groups": 3, "bias": False}),     # depthwise, even kernel
    (2, 2, (3,), {"stride": (2,), "padding": (1,), "dilation": (2,)}),
])
@pytest.mark.parametrize("batched", [True, False])
def test_conv1d_layer_loads_pytorchs_state_dict(torch, rng, in_channels, out_channels,
                                                kernel_size, settings, batched):
    """nn.Conv1d against torch.nn.Conv1d: the same state-dict names and shapes, (C_out,
    C_in / groups, K) weights loaded strictly both ways, then the forward and every gradient in
    float64, on a batch and on one unbatched signal."""
    ours = nn.Conv1d(in_channels, out_channels, kernel_size, **settings)
    check_state_dicts_then_gradients(
        torch, rng, ours,
        lambda: torch.nn.Conv1d(in_channels, out_channels, kernel_size, **settings).float(),
        (2, in_channels, 9) if batched else (in_channels, 9))


@pytest.mark.parametrize("in_channels, out_channels, kernel_size, groups", [
    (3, 1000, 7, 1), (8, 512, 5, 4), (300, 4, 3, 1)])
def test_conv1d_initial_range_is_pytorchs(torch, in_channels, out_channels, kernel_size, groups):
    """U(-b, b) with b = 1/sqrt(C_in/groups*K) for weight and bias, as torch.nn.Conv1d's."""
    torch.manual_seed(0)
    theirs = torch.nn.Conv1d(in_channels, out_channels, kernel_size, groups=groups)
    ours = nn.Conv1d(in_channels, out_channels, kernel_size, groups=groups,
                     rng=np.random.default_rng(0))
    bound = 1 / np.sqrt(in_channels // groups * kernel_size)
    check_initial_range(ours, theirs, bound)


@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 9)])
@pytest.mark.parametrize("layer, settings", [("MaxPool1d", (3, 2, 1)), ("MaxPool1d", (2,)),
                                             ("AvgPool1d", (3, 2, 1)), ("AvgPool1d", (4, 1, 2))])
def test_pool1d_layers(torch, rng, layer, settings, shape):
    ours, theirs = getattr(nn, layer)(*settings), getattr(torch.nn, layer)(*settings)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    out_shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(out_shape))


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.Conv2d(3, 4, 2, padding="same"), lambda th: th.nn.Conv2d(3, 4, 2, padding="same")),
    (lambda: nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3),
     lambda th: th.nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3)),
    (lambda: nn.MaxPool2d(3, 2, padding=1), lambda th: th.nn.MaxPool2d(3, 2, padding=1)),
    (lambda: nn.AvgPool2d(2, padding=1), lambda th: th.nn.AvgPool2d(2, padding=1)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda th: th.nn.AdaptiveAvgPool2d((2, 3))),
])
def test_2d_layers_on_one_unbatched_image(torch, rng, ours, theirs):
    ours, theirs = as_float64(ours()), theirs(torch)
    copy_parameters(torch, ours, theirs)
    x = rng.permutation(3 * 6 * 7).reshape(3, 6, 7) * 0.01
    out_shape = tuple(theirs(torch.from_numpy(x)).shape)
    assert len(out_shape) == 3
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(out_shape))
