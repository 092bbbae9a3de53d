"""The 3-D ops and layers against PyTorch float64: conv3d (strided, padded, "same", dilated,
grouped, unbatched), max_pool3d (padding, dilation, ceil_mode, ties, indices), avg_pool3d
(count_include_pad, ceil_mode, divisor_override) and adaptive_avg_pool3d, each to second order;
nn.Conv3d (padding modes too), MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d and
BatchNorm3d with PyTorch's weights and buffers, their state dicts and reprs."""

import numpy as np
import pytest
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import (
    as_float64,
    check_initial_range,
    check_state_dicts_then_gradients,
    compare_forward_and_gradients,
    copy_parameters,
    with_their_weights,
)

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# x (N, C_in, D, H, W), w (C_out, C_in / groups, KD, KH, KW), settings, bias
CONV = [
    ((1, 1, 3, 4, 4), (1, 1, 2, 2, 2), {}, True),
    ((2, 3, 5, 4, 6), (4, 3, 3, 2, 3), {"stride": (2, 1, 2), "padding": (1, 0, 1)}, True),
    ((2, 2, 4, 5, 5), (3, 2, 2, 3, 2), {"padding": "same", "dilation": (2, 1, 2)}, False),
    ((2, 4, 5, 4, 4), (6, 2, 3, 2, 2), {"stride": 2, "padding": 1, "groups": 2}, True),
    ((1, 3, 4, 4, 4), (3, 1, 3, 3, 3), {"padding": "valid", "groups": 3}, True),  # depthwise
    ((3, 4, 5, 4), (2, 3, 2, 3, 2), {"dilation": 2}, True),                       # unbatched
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("x_shape, w_shape, settings, bias", CONV)
def test_conv3d(torch, rng, x_shape, w_shape, settings, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[0])] if bias else []
    compare_with_torch(torch, lambda *a: ops.conv3d(*a, **settings),
                       lambda *a: torch.nn.functional.conv3d(*a, **settings), arrays, rng)


# x (N, C, D, H, W), kernel, settings
MAX_POOLS = [
    ((1, 1, 4, 4, 4), 2, {}),
    ((2, 3, 5, 6, 7), (3, 2, 3), {"stride": (2, 1, 2), "padding": (1, 1, 1)}),
    ((2, 2, 5, 5, 6), (2, 3, 2), {"stride": (2, 2, 3), "padding": (1, 1, 0), "ceil_mode": True}),
    ((1, 2, 6, 5, 5), 2, {"stride": (1, 2, 1), "padding": 1, "dilation": (2, 1, 2)}),
    ((2, 5, 6, 4), 2, {"stride": 1}),                                            # unbatched
]


@pytest.mark.parametrize("x_shape, kernel, settings", MAX_POOLS)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool3d_values_indices_and_gradients(torch, rng, x_shape, kernel, settings, ties):
    """With ties too (small integers): the gradient goes where PyTorch's goes, the first
    maximum of each window in row-major order, and overlapping windows add up alike."""
    x = (rng.integers(0, 3, x_shape) if ties else rng.standard_normal(x_shape)).astype(float)
    compare_with_torch(torch, lambda v: ops.max_pool3d(v, kernel, **settings),
                       lambda t: torch.nn.functional.max_pool3d(t, kernel, **settings), [x],
                       rng)
    _, indices = ops.max_pool3d(x, kernel, return_indices=True, **settings)
    _, theirs = torch.nn.functional.max_pool3d(torch.from_numpy(x), kernel, return_indices=True,
                                               **settings)
    np.testing.assert_array_equal(indices.data, theirs.numpy())
    assert indices.dtype == np.int64


def test_max_pool3d_minus_infinity_and_nan_as_pytorch(torch):
    x = np.full((1, 1, 3, 3, 3), -np.inf)
    x[0, 0, 2, 2, 2] = np.nan
    x[0, 0, 0, 1, 1] = np.nan
    ours, our_indices = ops.max_pool3d(x, 2, stride=1, padding=1, return_indices=True)
    theirs, indices = torch.nn.functional.max_pool3d(torch.from_numpy(x), 2, stride=1, padding=1,
                                                     return_indices=True)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(our_indices.data, indices.numpy())


AVG_POOLS = [
    ((1, 1, 4, 4, 4), 2, {}),
    ((2, 3, 5, 6, 7), (3, 2, 3), {"stride": (2, 1, 2), "padding": (1, 1, 1),
                                  "count_include_pad": False}),
    ((2, 2, 5, 5, 6), (2, 3, 2), {"stride": (2, 2, 3), "padding": (1, 1, 0), "ceil_mode": True}),
    ((1, 2, 5, 4, 5), 3, {"stride": 2, "padding": 1, "ceil_mode": True,
                          "count_include_pad": False}),
    ((2, 2, 4, 4, 5), (2, 1, 2), {"stride": 1, "padding": (1, 0, 1), "divisor_override": 3}),
    ((2, 5, 6, 4), 2, {"stride": 1}),                                            # unbatched
]


@pytest.mark.parametrize("x_shape, kernel, settings", AVG_POOLS)
def test_avg_pool3d(torch, rng, x_shape, kernel, settings):
    compare_with_torch(torch, lambda v: ops.avg_pool3d(v, kernel, **settings),
                       lambda t: torch.nn.functional.avg_pool3d(t, kernel, **settings),
                       [rng.standard_normal(x_shape)], rng)


@pytest.mark.parametrize("x_shape, output_size", [
    ((2, 3, 5, 6, 7), (2, 4, 3)),
    ((1, 2, 4, 6, 3), (2, 3, 1)),
    ((2, 1, 3, 2, 4), (4, None, 5)),
    ((2, 2, 3, 4, 5), 1),
    ((3, 5, 4, 6), (2, 3, 4)),                                                   # unbatched
])
def test_adaptive_avg_pool3d(torch, rng, x_shape, output_size):
    compare_with_torch(torch, lambda v: ops.adaptive_avg_pool3d(v, output_size),
                       lambda t: torch.nn.functional.adaptive_avg_pool3d(t, output_size),
                       [rng.standard_normal(x_shape)], rng)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("args, settings", [
    ((2, 3, (2, 3, 2)), {}),
    ((2, 3, 3), {"stride": 2, "padding": 1}),
    ((4, 6, (3, 2, 3)), {"stride": (2, 1, 2), "padding": (1, 1, 0), "groups": 2}),
    ((2, 4, (3, 3, 3)), {"padding": "same", "dilation": (2, 1, 1), "bias": False}),
])
def test_conv3d_layer_state_dicts_reprs_and_gradients(torch, rng, args, settings):
    ours = nn.Conv3d(*args, **settings)

    def make_theirs():
        return torch.nn.Conv3d(*args, **settings).float()

    assert repr(ours) == repr(make_theirs())
    check_state_dicts_then_gradients(torch, rng, ours, make_theirs, (2, args[0], 5, 6, 5))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv3d_layer_padding_modes(torch, rng, mode):
    ours = as_float64(nn.Conv3d(2, 3, (3, 2, 3), padding=(1, 1, 2), padding_mode=mode))
    theirs = torch.nn.Conv3d(2, 3, (3, 2, 3), padding=(1, 1, 2), padding_mode=mode)
    assert repr(ours) == repr(theirs)
    copy_parameters(torch, ours, theirs)
    x = rng.standard_normal((2, 2, 4, 5, 5))
    shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))


def test_conv3d_layer_initial_range(torch):
    tc.manual_seed(0)
    torch.manual_seed(0)
    ours = nn.Conv3d(4, 8, (3, 3, 3), groups=2)
    theirs = torch.nn.Conv3d(4, 8, (3, 3, 3), groups=2).float()
    check_initial_range(ours, theirs, 1 / np.sqrt(4 // 2 * 27))   # PyTorch's: 1/sqrt(fan_in)


@pytest.mark.parametrize("make, x_shape", [
    (lambda m: m.MaxPool3d(2), (2, 3, 4, 5, 6)),
    (lambda m: m.MaxPool3d((3, 2, 3), (2, 1, 2), 1, (1, 2, 1), ceil_mode=True), (2, 2, 5, 6, 5)),
    (lambda m: m.AvgPool3d(2), (2, 3, 4, 5, 6)),
    (lambda m: m.AvgPool3d(3, 2, 1, True, False), (2, 2, 5, 6, 5)),
    (lambda m: m.AvgPool3d((2, 1, 2), 1, (1, 0, 1), divisor_override=3), (2, 2, 4, 3, 4)),
    (lambda m: m.AdaptiveAvgPool3d((2, None, 3)), (2, 3, 5, 4, 7)),
    (lambda m: m.AdaptiveAvgPool3d(1), (3, 4, 5, 6)),
    (lambda m: m.AdaptiveMaxPool3d((2, None, 3)), (2, 3, 5, 4, 7)),
    (lambda m: m.AdaptiveMaxPool3d(1), (3, 4, 5, 6)),
])
def test_pool_layers_reprs_and_gradients(torch, rng, make, x_shape):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal(x_shape)
    shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))


def test_max_pool3d_layer_indices(torch, rng):
    x = rng.integers(0, 3, (2, 2, 4, 4, 5)).astype(float)
    out, indices = nn.MaxPool3d(2, stride=1, return_indices=True)(x)
    theirs, their_indices = torch.nn.MaxPool3d(2, stride=1, return_indices=True)(
        torch.from_numpy(x))
    np.testing.assert_array_equal(out.data, theirs.numpy())
    np.testing.assert_array_equal(indices.data, their_indices.numpy())


def test_batch_norm3d_training_steps_evaluation_and_state_dicts(torch, rng):
    theirs = torch.nn.BatchNorm3d(3, momentum=0.3, eps=1e-4)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2, 3)))
        theirs.bias.copy_(torch.from_numpy(rng.standard_normal(3)))
    ours = with_their_weights(nn.BatchNorm3d(3, momentum=0.3, eps=1e-4), theirs)
    shape = (2, 3, 3, 4, 2)
    for _ in range(3):
        ours.zero_grad(), theirs.zero_grad()
        compare_forward_and_gradients(torch, ours, theirs, rng.standard_normal(shape) * 2 + 1,
                                      rng.standard_normal(shape))
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), err_msg=name,
                                   rtol=1e-12, atol=1e-14)
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    compare_forward_and_gradients(torch, ours, theirs, rng.standard_normal(shape),
                                  rng.standard_normal(shape))
    # and ours into a fresh PyTorch layer, strictly
    fresh = torch.nn.BatchNorm3d(3, momentum=0.3, eps=1e-4).double()
    fresh.load_state_dict({k: torch.from_numpy(np.asarray(v))
                           for k, v in ours.state_dict().items()}, strict=True)
    fresh.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(tc.Value(x)).data, fresh(torch.from_numpy(x)).detach(),
                               **TIGHT)
