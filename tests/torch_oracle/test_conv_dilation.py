"""Dilated convolutions against PyTorch float64: conv2d, conv_transpose2d (output_padding up to
the dilation too) and conv2d_weight, grouped too, to first and second order; at stride 1, which
runs by phases, conv2d, conv1d and conv_transpose2d by an ordinary backward as well; nn.Conv2d
(with padding="same" too) and nn.ConvTranspose2d with dilation against torch.nn's layers, state
dicts loaded strictly both ways."""

import numpy as np
import pytest
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import (
    as_float64,
    check_state_dicts_then_gradients,
    compare_forward_and_gradients,
    copy_parameters,
)

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# x (N, C_in, H, W), w (C_out, C_in / groups, KH, KW), stride, padding, dilation, groups
CONV = [
    ((2, 3, 9, 8), (4, 3, 3, 2), 1, 0, 2, 1),
    ((2, 2, 11, 10), (3, 2, 3, 3), 2, 1, (2, 3), 1),
    ((1, 4, 9, 9), (4, 2, 2, 3), (2, 1), (1, 2), (3, 2), 2),     # grouped
    ((2, 4, 8, 8), (4, 4, 3, 3), 1, 1, 2, 1),                    # spectra: a spread 5x5 kernel
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV)
def test_dilated_conv2d(torch, rng, x_shape, w_shape, stride, padding, dilation, groups):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    settings = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    compare_with_torch(torch, lambda *a: ops.conv2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv2d(*a, **settings), arrays, rng)


# op, x, w (as the op takes it), settings, all of stride 1: the phases
PHASED = [
    ("conv2d", (2, 3, 9, 8), (4, 3, 3, 2), {"padding": 1, "dilation": (2, 3)}),
    ("conv2d", (1, 4, 5, 6), (4, 2, 2, 3), {"padding": (3, 1), "dilation": (6, 2), "groups": 2}),
    ("conv2d", (2, 4, 10, 10), (4, 4, 3, 3), {"padding": 2, "dilation": 2}),   # on spectra
    ("conv1d", (2, 4, 40), (4, 4, 2), {"dilation": 8}),                         # WaveNet-like
    ("conv1d", (1, 4, 9), (6, 2, 3), {"padding": 4, "dilation": 5, "groups": 2}),
    ("conv_transpose2d", (2, 3, 5, 4), (3, 2, 3, 2), {"padding": 1, "output_padding": (1, 2),
                                                       "dilation": (2, 3)}),
]


@pytest.mark.parametrize("name, x_shape, w_shape, settings", PHASED)
def test_dilated_convolutions_by_phases(torch, rng, name, x_shape, w_shape, settings):
    """To second order (recorded ops), then by an ordinary backward, which runs the kernels'
    dilated_input_and_weight_grad: the forward and every gradient."""
    channels = w_shape[1] * settings.get("groups", 1) if name == "conv_transpose2d" else w_shape[0]
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(channels)]
    ours = getattr(ops, name)
    theirs = getattr(torch.nn.functional, name)
    compare_with_torch(torch, lambda *a: ours(*a, **settings), lambda *a: theirs(*a, **settings),
                       arrays, rng)
    values = [tc.Value(a) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, their_out = ours(*values, **settings), theirs(*tensors, **settings)
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    their_out.backward(torch.from_numpy(upstream))
    for name_of, value, tensor in zip(("x", "w", "b"), values, tensors, strict=True):
        np.testing.assert_allclose(value.grad, tensor.grad.numpy(), err_msg=f"d/d{name_of}",
                                   **TIGHT)


# x (N, C_in, H, W), w (C_in, C_out / groups, KH, KW), stride, padding, output_padding,
# dilation, groups
TRANSPOSED = [
    ((2, 3, 4, 5), (3, 2, 3, 2), 2, 1, 1, (2, 3), 1),
    ((1, 2, 3, 3), (2, 2, 2, 2), 1, 0, 1, 2, 1),                 # output_padding >= stride
    ((2, 2, 3, 4), (2, 2, 2, 3), (1, 2), (2, 1), (2, 1), (3, 2), 1),   # the same, padded
    ((1, 4, 3, 3), (4, 1, 3, 2), 1, (1, 0), 1, 2, 2),            # grouped
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra, dilation, groups",
                         TRANSPOSED)
def test_dilated_conv_transpose2d(torch, rng, x_shape, w_shape, stride, padding, extra, dilation,
                                  groups):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * groups)]
    settings = {"stride": stride, "padding": padding, "output_padding": extra,
                "groups": groups, "dilation": dilation}
    compare_with_torch(torch, lambda *a: ops.conv_transpose2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv_transpose2d(*a, **settings),
                       arrays, rng)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((2, 3, 9, 8), (4, 3, 3, 2), 1, 0, 2),
    ((2, 2, 11, 10), (3, 2, 3, 3), (2, 1), (1, 2), (2, 3)),
])
def test_dilated_conv2d_weight(torch, rng, x_shape, w_shape, stride, padding, dilation):
    x = rng.standard_normal(x_shape)
    settings = {"stride": stride, "padding": padding, "dilation": dilation}
    g_shape = torch.nn.functional.conv2d(torch.from_numpy(x), torch.zeros(w_shape),
                                         **settings).shape
    arrays = [x, rng.standard_normal(tuple(g_shape))]
    compare_with_torch(torch, lambda x, g: ops.conv2d_weight(x, g, w_shape, **settings),
                       lambda x, g: torch.nn.grad.conv2d_weight(x, w_shape, g, **settings),
                       arrays, rng)


@pytest.mark.parametrize("in_channels, out_channels, kernel_size, settings", [
    (2, 4, 3, {"dilation": 2}),
    (4, 6, (3, 2), {"stride": (2, 1), "padding": 1, "dilation": (2, 3), "groups": 2}),
    (3, 3, 3, {"padding": "same", "dilation": (1, 2), "groups": 3, "bias": False}),
])
def test_dilated_conv2d_layer(torch, rng, in_channels, out_channels, kernel_size, settings):
    """nn.Conv2d(..., dilation=D) against torch.nn.Conv2d(..., dilation=D): state dicts both
    ways, then the forward and every gradient in float64."""
    ours = nn.Conv2d(in_channels, out_channels, kernel_size, **settings)
    check_state_dicts_then_gradients(
        torch, rng, ours,
        lambda: torch.nn.Conv2d(in_channels, out_channels, kernel_size, **settings).float(),
        (2, in_channels, 9, 8))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("kernel_size, dilation", [(3, 2), (2, 3), (4, 1), ((2, 3), (3, 2)),
                                                   ((4, 2), (1, 3))])
def test_dilated_conv2d_same_padding(torch, rng, kernel_size, dilation):
    """An odd total dilation*(K - 1) pads the extra row at the bottom, column on the right."""
    ours = as_float64(nn.Conv2d(2, 3, kernel_size, padding="same", dilation=dilation))
    theirs = torch.nn.Conv2d(2, 3, kernel_size, padding="same", dilation=dilation)
    copy_parameters(torch, ours, theirs)
    x = rng.standard_normal((2, 2, 8, 9))
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal((2, 3, 8, 9)))


@pytest.mark.parametrize("in_channels, out_channels, kernel_size, settings", [
    (2, 3, 3, {"dilation": 2}),
    (4, 6, (3, 2), {"stride": 2, "padding": 1, "output_padding": (2, 1), "dilation": (3, 2),
                    "groups": 2}),
])
def test_dilated_conv_transpose2d_layer(torch, rng, in_channels, out_channels, kernel_size,
                                        settings):
    ours = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, **settings)

    def make_theirs():
        return torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
                                        **settings).float()

    assert repr(ours) == repr(make_theirs())
    check_state_dicts_then_gradients(torch, rng, ours, make_theirs, (2, in_channels, 4, 5))
