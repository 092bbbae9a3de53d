"""conv_transpose3d (strided, padded, output_padding, dilated, grouped, unbatched),
adaptive_max_pool3d (ties, NaN, indices) and max_unpool3d against PyTorch float64, each to
second order; nn.ConvTranspose3d (PyTorch's weights, state dicts both ways, reprs, initial range,
forward's output_size) and MaxUnpool3d with its repr and gradients (AdaptiveMaxPool3d's layer is
with the other 3-D pools' in test_volumes_torch.py)."""

import numpy as np
import pytest
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import check_initial_range, check_state_dicts_then_gradients

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# x (N, C_in, D, H, W), w (C_in, C_out / groups, KD, KH, KW), settings, bias
TRANSPOSED = [
    ((1, 1, 2, 3, 2), (1, 2, 2, 2, 2), {}, True),
    ((2, 2, 3, 2, 3), (2, 3, 3, 2, 2), {"stride": (2, 1, 2), "padding": (1, 0, 1),
                                        "output_padding": (1, 0, 1)}, True),
    ((1, 4, 2, 3, 2), (4, 1, 2, 2, 3), {"stride": 2, "dilation": (2, 1, 2), "groups": 2}, False),
    ((1, 2, 2, 2, 2), (2, 1, 2, 1, 2), {"dilation": (3, 1, 2), "output_padding": (2, 0, 1),
                                        "padding": (1, 0, 1)}, True),   # output_padding >= stride
    ((2, 3, 2, 2), (2, 2, 2, 2, 2), {"stride": 2, "padding": (0, 1, 1)}, True),   # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, settings, bias", TRANSPOSED)
def test_conv_transpose3d(torch, rng, x_shape, w_shape, settings, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[1] * settings.get("groups", 1))] if bias else []
    compare_with_torch(torch, lambda *a: ops.conv_transpose3d(*a, **settings),
                       lambda *a: torch.nn.functional.conv_transpose3d(*a, **settings), arrays,
                       rng)


@pytest.mark.parametrize("x_shape, output_size", [
    ((2, 2, 4, 5, 6), (3, 2, 4)),          # bins of different sizes, overlapping
    ((1, 2, 4, 4, 2), (2, 2, 1)),          # equal bins
    ((1, 1, 2, 3, 2), (3, None, 3)),       # more bins than elements; None keeps H
    ((2, 3, 4, 3), 2),                     # unbatched
])
@pytest.mark.parametrize("ties", [False, True])
def test_adaptive_max_pool3d_values_indices_and_gradients(torch, rng, x_shape, output_size,
                                                          ties):
    """With ties too (small integers): the gradient goes where PyTorch's goes, the first
    maximum of each bin in row-major order, and overlapping bins add up alike."""
    x = (rng.integers(0, 3, x_shape) if ties else rng.standard_normal(x_shape)).astype(float)
    compare_with_torch(torch, lambda v: ops.adaptive_max_pool3d(v, output_size),
                       lambda t: torch.nn.functional.adaptive_max_pool3d(t, output_size), [x],
                       rng)
    _, indices = ops.adaptive_max_pool3d(x, output_size, return_indices=True)
    _, theirs = torch.nn.functional.adaptive_max_pool3d(torch.from_numpy(x), output_size,
                                                        return_indices=True)
    np.testing.assert_array_equal(indices.data, theirs.numpy())
    assert indices.dtype == np.int64


def test_adaptive_max_pool3d_nan_and_minus_infinity_as_pytorch(torch, rng):
    x = rng.standard_normal((1, 2, 4, 4, 5))
    x[0, 0, 1, 2, 3] = x[0, 0, 1, 3, 3] = x[0, 1, 3, 0, 0] = np.nan
    x[0, 1, :2, :2, :3] = -np.inf
    ours, our_indices = ops.adaptive_max_pool3d(x, (3, 3, 2), return_indices=True)
    theirs, indices = torch.nn.functional.adaptive_max_pool3d(torch.from_numpy(x), (3, 3, 2),
                                                              return_indices=True)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal(our_indices.data, indices.numpy())


# x (N, C, D, H, W), kernel, settings of the pool and unpool, unpool output_size
UNPOOLS = [
    ((2, 2, 4, 4, 6), 2, {}, None),
    ((1, 2, 5, 4, 5), (2, 2, 3), {"padding": (1, 0, 1)}, (5, 4, 5)),
    ((2, 5, 5, 4), 2, {}, (5, 5, 4)),                     # unbatched; a slice and a row left out
]


@pytest.mark.parametrize("x_shape, kernel, settings, output_size", UNPOOLS)
def test_max_unpool3d(torch, rng, x_shape, kernel, settings, output_size):
    """Of the indices of max pools whose windows do not overlap, so that no index is named
    twice: for a shared index PyTorch sends the gradient to every element naming it, which is
    not the derivative of its forward, and we send it to the one written
    (tests/test_volumes_more.py)."""
    x = rng.permutation(int(np.prod(x_shape))).reshape(x_shape) / 7.0
    pooled, indices = ops.max_pool3d(x, kernel, return_indices=True, **settings)
    values = rng.standard_normal(pooled.shape)
    compare_with_torch(
        torch, lambda v, i: ops.max_unpool3d(v, i, kernel, output_size=output_size, **settings),
        lambda v, i: torch.nn.functional.max_unpool3d(v, i, kernel, output_size=output_size,
                                                      **settings),
        [values, indices.data], rng)


@pytest.mark.parametrize("args, settings", [
    ((2, 3, (2, 3, 2)), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((4, 6, (3, 2, 3)), {"stride": (2, 1, 2), "padding": (1, 1, 0), "groups": 2,
                         "dilation": (1, 2, 1)}),
    ((2, 4, 2), {"dilation": (3, 1, 1), "output_padding": (2, 0, 0), "bias": False}),
])
def test_conv_transpose3d_layer_state_dicts_reprs_and_gradients(torch, rng, args, settings):
    ours = nn.ConvTranspose3d(*args, **settings)

    def make_theirs():
        return torch.nn.ConvTranspose3d(*args, **settings).float()

    assert repr(ours) == repr(make_theirs())
    check_state_dicts_then_gradients(torch, rng, ours, make_theirs, (2, args[0], 2, 3, 2))


def test_conv_transpose3d_layer_initial_range_and_output_size(torch, rng):
    tc.manual_seed(0)
    torch.manual_seed(0)
    ours = nn.ConvTranspose3d(4, 6, (3, 2, 3), stride=2, groups=2)
    theirs = torch.nn.ConvTranspose3d(4, 6, (3, 2, 3), stride=2, groups=2).float()
    bound = 1 / np.sqrt(6 // 2 * 18)           # PyTorch's default: fan_in = C_out/groups*K
    check_initial_range(ours, theirs, bound)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 4, 2, 3, 2)).astype(np.float32)
    for size in [(6, 6, 6), (2, 6, 5, 6, 5)]:
        expected = theirs(torch.from_numpy(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours(x, output_size=size).data, expected, rtol=1e-5,
                                   atol=1e-6)
    np.testing.assert_allclose(ours(x[0], output_size=(5, 7, 6)).data,
                               theirs(torch.from_numpy(x[0]), output_size=(5, 7, 6)).detach(),
                               rtol=1e-5, atol=1e-6)


def test_max_pool3d_and_max_unpool3d_layers_round_trip_as_pytorch(torch, rng):
    x = rng.standard_normal((2, 2, 5, 4, 6))
    ours_pool, theirs_pool = (m.MaxPool3d(2, return_indices=True) for m in (nn, torch.nn))
    ours_unpool, theirs_unpool = (m.MaxUnpool3d(2) for m in (nn, torch.nn))
    assert repr(ours_unpool) == repr(theirs_unpool)
    ours_x, theirs_x = tc.Value(x), torch.tensor(x, requires_grad=True)
    out = ours_unpool(*ours_pool(ours_x), x.shape[2:])
    their_out = theirs_unpool(*theirs_pool(theirs_x), x.shape[2:])
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    upstream = rng.standard_normal(x.shape)
    out.backward(upstream)
    their_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), **TIGHT)
