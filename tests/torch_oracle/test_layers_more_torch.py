"""instance_norm, adaptive_max_pool1d/2d, adaptive_avg_pool1d, dropout1d/2d and conv_transpose1d
against PyTorch float64, with their modules: forwards, indices, first and second derivatives
(by every input and by the upstream gradient, compare_with_torch), the modules' outputs and
every parameter's gradient with PyTorch's weights loaded through state dicts, running statistics
over several steps and evaluation mode, reprs, ties and NaNs in the max pools, and the channel
dropouts' masks and their handling of each input rank (warnings and errors) beside PyTorch's."""

import warnings

import numpy as np
import pytest
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# ---------------------------------------------------------------- instance norm

INSTANCE = [((2, 3, 5), False), ((3, 2, 4, 5), True), ((1, 4, 6), True), ((2, 2, 1, 3), False)]


@pytest.mark.parametrize("shape, affine", INSTANCE)
def test_instance_norm_op(torch, rng, shape, affine):
    arrays = [rng.standard_normal(shape) * 2 + 1]
    if affine:
        arrays += [rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])]
    compare_with_torch(torch, lambda *a: ops.instance_norm(a[0], None, None, *a[1:], eps=1e-3),
                       lambda *a: torch.nn.functional.instance_norm(a[0], None, None, *a[1:],
                                                                    eps=1e-3), arrays, rng)


def test_instance_norm_op_with_running_statistics(torch, rng):
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    arrays = [rng.standard_normal((2, 3, 4)), rng.uniform(0.5, 2, 3), rng.standard_normal(3)]
    compare_with_torch(torch, lambda x, w, b: ops.instance_norm(
        x, mean.copy(), var.copy(), w, b, use_input_stats=False),
        lambda x, w, b: torch.nn.functional.instance_norm(
            x, torch.tensor(mean), torch.tensor(var), w, b, use_input_stats=False), arrays, rng)
    ours_mean, ours_var = np.zeros(3), np.ones(3)
    theirs_mean, theirs_var = torch.zeros(3), torch.ones(3)
    x = rng.standard_normal((4, 3, 5))
    ops.instance_norm(x, ours_mean, ours_var, momentum=0.2)
    torch.nn.functional.instance_norm(torch.tensor(x), theirs_mean, theirs_var, momentum=0.2)
    np.testing.assert_allclose(ours_mean, theirs_mean.numpy(), **TIGHT)
    np.testing.assert_allclose(ours_var, theirs_var.numpy(), **TIGHT)


@pytest.mark.parametrize("layer, shape", [("InstanceNorm1d", (4, 3, 6)),
                                          ("InstanceNorm1d", (3, 7)),
                                          ("InstanceNorm2d", (2, 3, 4, 5)),
                                          ("InstanceNorm2d", (3, 5, 4))])
@pytest.mark.parametrize("settings", [{}, {"affine": True},
                                      {"affine": True, "track_running_stats": True,
                                       "momentum": 0.3},
                                      {"track_running_stats": True, "eps": 1e-3},
                                      {"affine": True, "bias": False}])
def test_instance_norm_layers(torch, rng, layer, shape, settings):
    theirs = getattr(torch.nn, layer)(3, **settings)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2.0)
            if theirs.bias is not None:
                theirs.bias.normal_()
    ours = with_their_weights(getattr(nn, layer)(3, **settings), theirs)
    assert repr(ours) == repr(theirs)
    for _ in range(3):                                   # training steps
        x = rng.standard_normal(shape) * 2 + 1
        ours.zero_grad(), theirs.zero_grad()
        xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
        compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)],
                                      [theirs(xt)])
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), err_msg=name, **TIGHT)
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    x = rng.standard_normal(shape)
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)],
                                  [theirs(xt)])


def test_instance_norm_state_dicts_load_both_ways(torch, rng):
    theirs = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True).float()
    theirs(torch.from_numpy(rng.standard_normal((3, 4, 5, 5)).astype(np.float32)))
    theirs.eval()
    ours = nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    ours.eval()
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    ours.train()
    ours(rng.standard_normal((3, 4, 5, 5)).astype(np.float32))
    again = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in ours.state_dict().items()})
    np.testing.assert_array_equal(again.running_var.numpy(), ours.running_var.data)


def test_instance_norm_warns_where_pytorch_does(torch, rng):
    x = rng.standard_normal((2, 5, 6))
    with pytest.warns(UserWarning):
        theirs = torch.nn.InstanceNorm1d(3)(torch.tensor(x))
    with pytest.warns(UserWarning, match="InstanceNorm1d: input has 5 channels"):
        ours = nn.InstanceNorm1d(3)(x)
    np.testing.assert_allclose(ours.data, theirs.numpy(), **TIGHT)
    with pytest.raises(ValueError):
        torch.nn.InstanceNorm1d(3, affine=True)(torch.tensor(x))
    with pytest.raises(ValueError, match="InstanceNorm1d: input has 5 channels"):
        nn.InstanceNorm1d(3, affine=True)(x)


# ---------------------------------------------------------------- adaptive pools

ADAPTIVE_2D = [((2, 3, 7, 5), (3, 2)), ((1, 2, 10, 9), 4), ((2, 1, 2, 3), (3, 5)),
               ((2, 2, 6, 6), (3, None)), ((3, 7, 6), 1), ((1, 2, 8, 6), (4, 3))]


def distinct(rng, shape):
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 - 1.0


@pytest.mark.parametrize("shape, size", ADAPTIVE_2D)
def test_adaptive_max_pool2d(torch, rng, shape, size):
    x = distinct(rng, shape)
    compare_with_torch(torch, lambda x: ops.adaptive_max_pool2d(x, size),
                       lambda x: torch.nn.functional.adaptive_max_pool2d(x, size), [x], rng)
    _, indices = ops.adaptive_max_pool2d(x, size, return_indices=True)
    _, theirs = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), size,
                                                        return_indices=True)
    np.testing.assert_array_equal(indices.data, theirs.numpy())


@pytest.mark.parametrize("values", ["ties", "nan", "-inf"])
def test_adaptive_max_pool2d_ties_nans_and_minus_infinity_as_pytorch(torch, rng, values):
    x = np.maximum(rng.integers(-3, 3, (2, 3, 7, 6)), 0).astype(np.float64)
    if values == "nan":
        x[rng.random(x.shape) < 0.2] = np.nan
    if values == "-inf":
        x[:, :, :3] = -np.inf
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, indices = ops.adaptive_max_pool2d(xv, (3, 4), return_indices=True)
    their_out, their_indices = torch.nn.functional.adaptive_max_pool2d(xt, (3, 4),
                                                                       return_indices=True)
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    np.testing.assert_array_equal(indices.data, their_indices.numpy())
    g = rng.standard_normal(out.shape)
    out.backward(g)
    their_out.backward(torch.tensor(g))
    np.testing.assert_allclose(xv.grad, xt.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("shape, size", [((2, 3, 7), 3), ((1, 2, 4), 6), ((3, 9), (4,))])
def test_adaptive_pools_1d(torch, rng, shape, size):
    x = distinct(rng, shape)
    compare_with_torch(torch, lambda x: ops.adaptive_max_pool1d(x, size),
                       lambda x: torch.nn.functional.adaptive_max_pool1d(x, size), [x], rng)
    compare_with_torch(torch, lambda x: ops.adaptive_avg_pool1d(x, size),
                       lambda x: torch.nn.functional.adaptive_avg_pool1d(x, size), [x], rng)
    _, indices = ops.adaptive_max_pool1d(x, size, return_indices=True)
    _, theirs = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), size,
                                                        return_indices=True)
    np.testing.assert_array_equal(indices.data, theirs.numpy())


@pytest.mark.parametrize("ours, theirs, shape", [
    (lambda: nn.AdaptiveMaxPool2d((3, None)), lambda t: t.nn.AdaptiveMaxPool2d((3, None)),
     (2, 3, 7, 5)),
    (lambda: nn.AdaptiveMaxPool2d(2, return_indices=True),
     lambda t: t.nn.AdaptiveMaxPool2d(2, return_indices=True), (3, 5, 4)),
    (lambda: nn.AdaptiveMaxPool1d(4), lambda t: t.nn.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (lambda: nn.AdaptiveMaxPool1d((3,), True), lambda t: t.nn.AdaptiveMaxPool1d((3,), True),
     (3, 8)),
    (lambda: nn.AdaptiveAvgPool1d(5), lambda t: t.nn.AdaptiveAvgPool1d(5), (2, 3, 7)),
])
def test_adaptive_pool_layers(torch, rng, ours, theirs, shape):
    ours, theirs = ours(), theirs(torch)
    assert repr(ours) == repr(theirs)
    x = distinct(rng, shape)
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, their_out = ours(xv), theirs(xt)
    if isinstance(out, tuple):
        np.testing.assert_array_equal(out[1].data, their_out[1].numpy())
        out, their_out = out[0], their_out[0]
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [out], [their_out])


# ---------------------------------------------------------------- channel dropout

def mask_axes(values: np.ndarray, ndim_kept: int) -> bool:
    """Whether values (an output of ones dropped) are constant along every axis after the first
    ndim_kept: one draw per entry of those axes."""
    lead = values.reshape(*values.shape[:ndim_kept], -1)
    return bool((lead == lead[..., :1]).all())


@pytest.mark.filterwarnings("ignore:dropout2d:UserWarning")
@pytest.mark.parametrize("name, shape, kept", [("dropout1d", (4, 5, 6), 2),
                                               ("dropout1d", (6, 7), 1),
                                               ("dropout2d", (4, 5, 3, 3), 2),
                                               ("dropout2d", (4, 5, 6), 2),
                                               ("dropout2d", (4, 5), 2),
                                               ("dropout2d", (3, 4, 2, 2, 2), 2)])
def test_channel_dropout_drops_what_pytorchs_drops_and_warns_alike(torch, rng, name, shape,
                                                                   kept):
    x = np.ones(shape)
    with warnings.catch_warnings(record=True) as their_warnings:
        warnings.simplefilter("always")
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x), 0.4).numpy()
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        ours = getattr(ops, name)(x, 0.4).data
    assert len(our_warnings) == len(their_warnings)
    assert mask_axes(theirs, kept) and mask_axes(ours, kept)
    assert set(np.unique(theirs)) <= {0.0, 1 / 0.6}
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-12)
    theirs_eval = getattr(torch.nn.functional, name)(torch.tensor(x), 0.4, training=False)
    np.testing.assert_array_equal(getattr(ops, name)(x, 0.4, training=False).data,
                                  theirs_eval.numpy())


@pytest.mark.filterwarnings("ignore:dropout2d:UserWarning")
@pytest.mark.parametrize("name, shape", [("dropout1d", (5,)), ("dropout1d", (2, 3, 4, 5)),
                                         ("dropout2d", (5,))])
def test_channel_dropout_refuses_the_ranks_pytorch_refuses(torch, name, shape):
    with pytest.raises(RuntimeError):
        getattr(torch.nn.functional, name)(torch.ones(shape), 0.5)
    with pytest.raises(ValueError, match=f"{name}: input has shape"):
        getattr(ops, name)(np.ones(shape), 0.5)


@pytest.mark.parametrize("layer", ["Dropout1d", "Dropout2d"])
def test_channel_dropout_layers(torch, rng, layer):
    ours, theirs = getattr(nn, layer)(0.3), getattr(torch.nn, layer)(0.3)
    assert repr(ours) == repr(theirs)
    shape = (4, 3, 5) if layer == "Dropout1d" else (4, 3, 2, 5)
    x = rng.standard_normal(shape)
    ours.eval(), theirs.eval()
    np.testing.assert_array_equal(ours(x).data, theirs(torch.tensor(x)).numpy())


# ---------------------------------------------------------------- conv_transpose1d

# x (N, C_in, L), w (C_in, C_out / groups, K), settings
TRANSPOSED = [((1, 1, 5), (1, 1, 3), {}),
              ((2, 3, 6), (3, 2, 4), {"stride": 2, "padding": 1}),
              ((2, 2, 5), (2, 3, 3), {"stride": 3, "padding": 2, "output_padding": 2}),
              ((2, 4, 4), (4, 1, 3), {"groups": 2, "dilation": 2, "output_padding": 1}),
              ((2, 6, 5), (6, 2, 2), {"groups": 3, "stride": 2}),
              ((3, 4), (3, 2, 2), {"stride": 2, "dilation": 3}),
              ((2, 2, 4), (2, 2, 3), {"dilation": 3, "output_padding": 2})]   # op >= stride


@pytest.mark.parametrize("x_shape, w_shape, settings", TRANSPOSED)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose1d(torch, rng, x_shape, w_shape, settings, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[1] * settings.get("groups", 1)))
    compare_with_torch(torch, lambda *a: ops.conv_transpose1d(*a, **settings),
                       lambda *a: torch.nn.functional.conv_transpose1d(*a, **settings), arrays,
                       rng)


@pytest.mark.parametrize("args, settings, shape", [
    ((4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, (2, 4, 5)),
    ((3, 2, 4), {"dilation": 2, "bias": False}, (3, 7)),
    ((2, 5, 1), {"stride": 3}, (1, 2, 4)),
])
def test_conv_transpose1d_layer(torch, rng, args, settings, shape):
    theirs = torch.nn.ConvTranspose1d(*args, **settings)
    ours = with_their_weights(nn.ConvTranspose1d(*args, **settings), theirs)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal(shape)
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)],
                                  [theirs(xt)])
    if len(shape) == 3:
        stride, extra = settings.get("stride", 1), settings.get("output_padding", 0)
        size = theirs(torch.tensor(x)).shape[-1] - extra + stride - 1     # the largest
        np.testing.assert_allclose(ours(x, output_size=(size,)).data,
                                   theirs(torch.tensor(x), output_size=(size,)).detach().numpy(),
                                   **TIGHT)


def test_conv_transpose1d_initial_range(torch):
    ours, theirs = nn.ConvTranspose1d(8, 12, 5, groups=4), torch.nn.ConvTranspose1d(8, 12, 5,
                                                                                   groups=4)
    bound = 1 / np.sqrt(12 // 4 * 5)                      # PyTorch's fan_in: weight.size(1)*K
    for name in ("weight", "bias"):
        our, their = getattr(ours, name).data, getattr(theirs, name).detach().numpy()
        assert our.shape == their.shape and our.dtype == np.float32
        assert np.abs(our).max() <= bound and np.abs(their).max() <= bound
