"""instance_norm and nn.InstanceNorm1d/2d, adaptive_max_pool1d/2d and nn.AdaptiveMaxPool1d/2d,
adaptive_avg_pool1d and nn.AdaptiveAvgPool1d, dropout1d/dropout2d and nn.Dropout1d/2d,
conv_transpose1d and nn.ConvTranspose1d: forwards against numpy formulas and the loops of
tests/reference.py, the adaptive max pool's kernels (bins, ties, NaNs, the scatter and gather)
against loops, gradcheck and gradgradcheck in float64 through random upstream gradients over
several shapes and settings, the tie and NaN rules by hand, running statistics, masks, unbatched
inputs, reprs and state dicts, and every error with its message."""

import warnings

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.ops import pool_kernels as kernels


def instance_norm_reference(x, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the spatial axes of each (n, c)."""
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    out = (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    if weight is None:
        return out
    per_channel = (-1,) + (1,) * (x.ndim - 2)
    return out * weight.reshape(per_channel) + bias.reshape(per_channel)


# ---------------------------------------------------------------- instance norm

INSTANCE_SHAPES = [(1, 1, 5), (2, 3, 7), (3, 2, 4, 5), (2, 4, 1, 3)]


@pytest.mark.parametrize("shape", INSTANCE_SHAPES)
def test_instance_norm_forward_matches_the_formula(rng, shape):
    x = rng.standard_normal(shape) * 3 + 1
    w, b = rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])
    out = ops.instance_norm(tc.Value(x), weight=tc.Value(w), bias=tc.Value(b), eps=1e-3)
    np.testing.assert_allclose(out.data, instance_norm_reference(x, w, b, 1e-3), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(ops.instance_norm(x).data, instance_norm_reference(x),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", INSTANCE_SHAPES)
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_gradcheck_and_gradgradcheck(rng, shape, affine):
    x = rng.standard_normal(shape) * 2
    if affine:
        w, b = rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])
        assert tc.gradcheck(lambda x, w, b: ops.instance_norm(x, weight=w, bias=b), [x, w, b])
        assert tc.gradgradcheck(lambda x, w, b: ops.instance_norm(x, weight=w, bias=b),
                                [x, w, b])
    else:
        assert tc.gradcheck(ops.instance_norm, [x])
        assert tc.gradgradcheck(ops.instance_norm, [x])


def test_instance_norm_with_running_statistics_gradcheck(rng):
    x = rng.standard_normal((2, 3, 4))
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    w, b = rng.uniform(0.5, 2, 3), rng.standard_normal(3)

    def fn(x, w, b):
        return ops.instance_norm(x, mean.copy(), var.copy(), w, b, use_input_stats=False)

    expected = (x - mean.reshape(3, 1)) / np.sqrt(var.reshape(3, 1) + 1e-5) * w.reshape(3, 1)
    np.testing.assert_allclose(fn(x, w, b).data, expected + b.reshape(3, 1), rtol=1e-12)
    assert tc.gradcheck(fn, [x, w, b]) and tc.gradgradcheck(fn, [x, w, b])


def test_instance_norm_updates_the_running_statistics_as_pytorch(rng):
    x = rng.standard_normal((4, 3, 6)) * 2 + 1
    mean, var = np.zeros(3, np.float32), np.ones(3, np.float32)
    ops.instance_norm(x, mean, var, momentum=0.3)
    np.testing.assert_allclose(mean, 0.3 * x.mean(axis=2).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(var, 0.7 + 0.3 * x.var(axis=2, ddof=1).mean(axis=0), rtol=1e-6)
    assert mean.dtype == var.dtype == np.float32
    before = mean.copy()
    ops.instance_norm(x, mean, var, use_input_stats=False)
    np.testing.assert_array_equal(mean, before)                # evaluation leaves them


@pytest.mark.parametrize("layer, shape", [(nn.InstanceNorm1d, (2, 3, 5)),
                                          (nn.InstanceNorm1d, (3, 5)),
                                          (nn.InstanceNorm2d, (2, 3, 4, 4)),
                                          (nn.InstanceNorm2d, (3, 2, 5))])
def test_instance_norm_layers_train_and_evaluate(rng, layer, shape):
    norm = layer(3, momentum=0.5, affine=True, track_running_stats=True)
    assert list(norm.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                       "num_batches_tracked"]
    assert [name for name, _ in norm.named_parameters()] == ["weight", "bias"]
    x = rng.standard_normal(shape) * 2 + 1
    batch = x if len(shape) == layer.spatial + 2 else x[None]
    np.testing.assert_allclose(norm(x).data, instance_norm_reference(batch).reshape(shape),
                               rtol=1e-5, atol=1e-5)
    axes = tuple(range(2, batch.ndim))
    np.testing.assert_allclose(norm.running_mean.data, 0.5 * batch.mean(axis=axes).mean(axis=0),
                               rtol=1e-5)
    assert norm.num_batches_tracked.data == 0                  # as PyTorch's instance norm
    norm.eval()
    stats = (-1,) + (1,) * (len(shape) - 2 if len(shape) == layer.spatial + 2 else
                            len(shape) - 1)
    expected = ((x - norm.running_mean.data.reshape(stats))
                / np.sqrt(norm.running_var.data.reshape(stats) + 1e-5))
    np.testing.assert_allclose(norm(x).data, expected, rtol=1e-5, atol=1e-6)


def test_instance_norm_layer_defaults_repr_and_state_dict():
    norm = nn.InstanceNorm2d(4)
    assert repr(norm) == ("InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, "
                          "track_running_stats=False)")
    assert norm.weight is None and norm.running_mean is None and norm.state_dict() == {}
    no_bias = nn.InstanceNorm1d(3, affine=True, bias=False)
    assert list(no_bias.state_dict()) == ["weight"] and "bias=False" in repr(no_bias)


def test_instance_norm_layer_without_affine_warns_for_other_channels_and_runs(rng):
    x = rng.standard_normal((2, 5, 6))
    with pytest.warns(UserWarning, match=r"InstanceNorm1d: input has 5 channels .* "
                                         r"num_features=3, which is unused"):
        out = nn.InstanceNorm1d(3)(x)
    np.testing.assert_allclose(out.data, instance_norm_reference(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.instance_norm(np.ones(4)), ValueError,
     r"instance_norm: input has shape \(4,\); expected \(N, C, \.\.\.\)"),
    (lambda: ops.instance_norm(np.ones((2, 3, 1))), ValueError,
     r"input \(2, 3, 1\) has 1 value per channel of each sample; expected more than 1"),
    (lambda: ops.instance_norm(np.ones((2, 3))), ValueError, r"1 value per channel"),
    (lambda: ops.instance_norm(np.ones((2, 3, 4)), weight=np.ones(4)), ValueError,
     r"weight has shape \(4,\) but the input \(2, 3, 4\) has 3 channels .* expected weight "
     r"of shape \(3,\)"),
    (lambda: ops.instance_norm(np.ones((2, 3, 4)), use_input_stats=False), ValueError,
     r"use_input_stats=False needs running_mean and running_var"),
    (lambda: ops.instance_norm(np.ones((2, 3, 4)), [0.0] * 3), TypeError,
     r"running_mean is list ; expected a floating-point numpy array"),
    (lambda: ops.instance_norm(np.ones((2, 3, 4)), use_input_stats=1), TypeError,
     r"use_input_stats is int 1; expected True"),
    (lambda: ops.instance_norm(np.ones((2, 3, 4)), momentum=2.0), ValueError,
     r"momentum is 2.0; expected a number in \[0, 1\]"),
    (lambda: ops.instance_norm(np.ones((2, 3, 4)), eps=0), ValueError,
     r"eps is 0; expected a number in \(0, inf\)"),
    (lambda: nn.InstanceNorm2d(3)(np.ones((2, 3, 4, 4, 4))), ValueError,
     r"InstanceNorm2d: input has shape \(2, 3, 4, 4, 4\); expected a 4-D input \(N, C, H, W\) "
     r"or a 3-D one \(C, H, W\) with C = 3"),
    (lambda: nn.InstanceNorm1d(3, affine=True)(np.ones((2, 4, 5))), ValueError,
     r"InstanceNorm1d: input has 4 channels \(shape \(2, 4, 5\)\) but the layer has "
     r"num_features=3; expected .* make num_features equal"),
    (lambda: nn.InstanceNorm1d(0), ValueError, r"num_features is 0; expected an integer >= 1"),
    (lambda: nn.InstanceNorm1d(3, eps=-1.0), ValueError, r"eps is -1.0; expected a small"),
    (lambda: nn.InstanceNorm1d(3, momentum=-0.1), ValueError, r"momentum is -0.1"),
    (lambda: nn.InstanceNorm1d(3, affine="yes"), TypeError, r"affine is str 'yes'"),
])
def test_instance_norm_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- adaptive max pooling

# x (N, C, H, W), (OH, OW)
ADAPTIVE = [((1, 1, 4, 4), (2, 2)),        # equal bins that tile the image
            ((2, 3, 7, 5), (3, 2)),        # bins of different sizes, overlapping
            ((2, 2, 10, 9), (4, 4)),       # 10 rows into [0, 3), [2, 5), [5, 8), [7, 10)
            ((1, 2, 2, 3), (3, 5)),        # more bins than rows and columns: repeats
            ((2, 1, 6, 7), (1, 1)),        # global max pooling
            ((1, 2, 5, 6), (5, 6))]        # one element a bin


def distinct(rng, shape):
    """Values at least 0.01 apart, so no bin has a tie within gradcheck's eps."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 - 1.0


def with_ties(rng, shape):
    """Small integers through a relu: most bins have ties, many are all zero."""
    return np.maximum(rng.integers(-3, 3, shape), 0).astype(np.float64)


@pytest.mark.parametrize("shape, size", ADAPTIVE)
@pytest.mark.parametrize("values", ["distinct", "ties", "nan", "-inf"])
def test_adaptive_max_pool_kernel_matches_the_loops(rng, shape, size, values):
    x = distinct(rng, shape) if values == "distinct" else with_ties(rng, shape)
    if values == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    if values == "-inf":
        x[..., :2, :] = -np.inf
    out, places = kernels.adaptive_max_pool(x, size)
    expected, indices = reference.adaptive_max_pool2d(x, *size)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(places, indices)


@pytest.mark.parametrize("shape, size", ADAPTIVE)
def test_plane_scatter_and_gather_match_the_loops_and_are_transposes(rng, shape, size):
    _, places = kernels.adaptive_max_pool(with_ties(rng, shape), size)
    g, u = rng.standard_normal(places.shape), rng.standard_normal(shape)
    dx = kernels.plane_scatter(g, places, shape)
    loops = np.zeros(shape)
    for n, c, i, j in np.ndindex(places.shape):
        h, w = divmod(places[n, c, i, j], shape[3])
        loops[n, c, h, w] += g[n, c, i, j]
    np.testing.assert_allclose(dx, loops, rtol=1e-12, atol=1e-12)
    gathered = kernels.plane_gather(u, places)
    np.testing.assert_allclose((gathered * g).sum(), (dx * u).sum(), rtol=1e-12)
    assert kernels.plane_scatter(g.astype(np.float32), places, shape).dtype == np.float32


def test_adaptive_bins_are_pytorchs():
    start, end = kernels.adaptive_bins(10, 4)
    assert list(zip(start, end, strict=True)) == [(0, 3), (2, 5), (5, 8), (7, 10)]
    assert list(zip(*kernels.adaptive_bins(2, 3), strict=True)) == [(0, 1), (0, 2), (1, 2)]


@pytest.mark.parametrize("shape, size", ADAPTIVE)
def test_adaptive_max_pool2d_forward_indices_and_gradients(rng, shape, size):
    x = distinct(rng, shape)
    out, indices = ops.adaptive_max_pool2d(tc.Value(x), size, return_indices=True)
    expected, places = reference.adaptive_max_pool2d(x, *size)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(indices.data, places)
    assert indices.dtype == np.int64 and not indices.requires_grad

    def pool(x):
        return ops.adaptive_max_pool2d(x, size)

    assert tc.gradcheck(pool, [x])
    assert tc.gradgradcheck(pool, [x])


@pytest.mark.parametrize("shape, size", [((2, 3, 7), 3), ((1, 2, 5), (8,)), ((3, 9), 4),
                                         ((2, 1, 6), 1)])
def test_adaptive_max_pool1d_as_one_row_images(rng, shape, size):
    x = distinct(rng, shape)
    out, indices = ops.adaptive_max_pool1d(tc.Value(x), size, return_indices=True)
    ol = size if isinstance(size, int) else size[0]
    batch = x if x.ndim == 3 else x[None]
    expected, places = reference.adaptive_max_pool2d(batch[:, :, None, :], 1, ol)
    np.testing.assert_array_equal(out.data, expected[:, :, 0].reshape(out.shape))
    np.testing.assert_array_equal(indices.data, places[:, :, 0].reshape(out.shape))
    assert tc.gradcheck(lambda x: ops.adaptive_max_pool1d(x, size), [x])
    assert tc.gradgradcheck(lambda x: ops.adaptive_max_pool1d(x, size), [x])


def test_adaptive_max_pool2d_sends_the_gradient_to_the_first_maximum_and_sums_overlaps():
    # 3x3 into 2x2 bins [0, 2) and [1, 3) both ways: four bins sharing the middle element
    x = tc.Value(np.array([[[[1.0, 3.0, 3.0],
                             [3.0, 2.0, 1.0],
                             [0.0, 3.0, 3.0]]]]))
    out, indices = ops.adaptive_max_pool2d(x, 2, return_indices=True)
    out.backward(np.array([[[[1.0, 2.0], [4.0, 8.0]]]]))
    np.testing.assert_array_equal(indices.data, [[[[1, 1], [3, 7]]]])     # PyTorch's
    np.testing.assert_array_equal(x.grad, [[[[0.0, 3.0, 0.0],
                                             [4.0, 0.0, 0.0],
                                             [0.0, 8.0, 0.0]]]])


def test_a_nan_is_the_maximum_of_its_bin_and_the_last_nan_gets_the_gradient():
    x = tc.Value(np.array([[[[1.0, np.nan, 3.0], [np.nan, 2.0, 1.0], [0.0, 3.0, 3.0]]]]))
    out, indices = ops.adaptive_max_pool2d(x, 1, return_indices=True)
    out.backward(np.full(out.shape, 2.0))
    assert np.isnan(out.data).all() and indices.data.item() == 3             # PyTorch's 3
    assert x.grad.reshape(-1)[3] == 2.0 and x.grad.sum() == 2.0


def test_adaptive_max_pool_unbatched_and_the_layers(rng):
    image = distinct(rng, (3, 7, 6))
    batch = ops.adaptive_max_pool2d(image[None], (3, None)).data[0]
    np.testing.assert_array_equal(nn.AdaptiveMaxPool2d((3, None))(image).data, batch)
    assert batch.shape == (3, 3, 6)
    layer = nn.AdaptiveMaxPool1d(4, return_indices=True)
    out, indices = layer(image[0])                                   # one signal (C, L)
    assert out.shape == indices.shape == (7, 4)
    assert repr(layer) == "AdaptiveMaxPool1d(output_size=4)"
    assert repr(nn.AdaptiveMaxPool2d((3, None))) == "AdaptiveMaxPool2d(output_size=(3, None))"


def test_adaptive_max_pool_indices_unpool_and_float32(rng):
    x = distinct(rng, (2, 3, 8, 6)).astype(np.float32)
    out, indices = ops.adaptive_max_pool2d(x, (4, 3), return_indices=True)   # 2x2 bins
    assert out.dtype == np.float32
    back = ops.max_unpool2d(out, indices, 2).data
    expected = np.where(back != 0, x, 0)
    np.testing.assert_array_equal(back, expected)
    np.testing.assert_array_equal(out.data, ops.max_pool2d(x, 2).data)
    with tc.no_grad():                                                  # indices found again
        again = ops.adaptive_max_pool2d(tc.Value(x), (4, 3), return_indices=True)[1]
    np.testing.assert_array_equal(again.data, indices.data)


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.adaptive_max_pool2d(np.ones((2, 3, 4, 4)), 0), ValueError,
     r"adaptive_max_pool2d: output_size 0 has a size below 1; expected an int or a pair"),
    (lambda: ops.adaptive_max_pool2d(np.ones((2, 3, 4, 4)), 2.5), TypeError,
     r"output_size 2.5 is not an int or a pair of ints; .* pass e.g. output_size=2"),
    (lambda: ops.adaptive_max_pool2d(np.ones((4, 4)), 2), ValueError,
     r"adaptive_max_pool2d: input has shape \(4, 4\); expected a 4-D input \(N, C, H, W\) or "
     r"a 3-D one \(C, H, W\); for one 4x4 image use x.reshape\(1, 1, 4, 4\)"),
    (lambda: ops.adaptive_max_pool2d(np.ones((2, 3, 0, 4)), 2), ValueError,
     r"input has shape \(2, 3, 0, 4\), an empty image; expected H >= 1 and W >= 1"),
    (lambda: ops.adaptive_max_pool2d(np.ones((2, 3, 4, 4)), 2, return_indices=1), TypeError,
     r"return_indices is int 1; expected True or False"),
    (lambda: ops.adaptive_max_pool1d(np.ones((2, 3, 4)), (2, 2)), ValueError,
     r"adaptive_max_pool1d: output_size is \(2, 2\); expected an int >= 1 \(or a tuple of "
     r"one\); pass e.g. output_size=2"),
    (lambda: ops.adaptive_max_pool1d(np.ones(5), 2), ValueError,
     r"adaptive_max_pool1d: input has shape \(5,\); expected a 3-D input \(N, C, L\) or a 2-D "
     r"one \(C, L\); for one signal of length 5 use x.reshape\(1, 5\)"),
    (lambda: ops.adaptive_max_pool1d(np.ones((2, 0)), 2), ValueError,
     r"an empty signal; expected L >= 1"),
    (lambda: nn.AdaptiveMaxPool2d((2, 0)), ValueError, r"AdaptiveMaxPool2d: output_size"),
    (lambda: nn.AdaptiveMaxPool1d(0), ValueError, r"AdaptiveMaxPool1d: output_size is 0"),
])
def test_adaptive_max_pool_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- adaptive average pooling 1-D

@pytest.mark.parametrize("shape, size", [((2, 3, 10), 4), ((1, 2, 3), 5), ((3, 7), (2,)),
                                         ((2, 2, 8), 1)])
def test_adaptive_avg_pool1d(rng, shape, size):
    x = rng.standard_normal(shape)
    ol = size if isinstance(size, int) else size[0]
    batch = x if x.ndim == 3 else x[None]
    expected = reference.adaptive_avg_pool2d(batch[:, :, None, :], 1, ol)[:, :, 0]
    out = ops.adaptive_avg_pool1d(tc.Value(x), size)
    np.testing.assert_allclose(out.data, expected.reshape(out.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(nn.AdaptiveAvgPool1d(size)(x).data, out.data, rtol=0)
    assert tc.gradcheck(lambda x: ops.adaptive_avg_pool1d(x, size), [x])
    assert tc.gradgradcheck(lambda x: ops.adaptive_avg_pool1d(x, size), [x])


def test_adaptive_avg_pool1d_errors_and_repr():
    assert repr(nn.AdaptiveAvgPool1d(3)) == "AdaptiveAvgPool1d(output_size=3)"
    with pytest.raises(TypeError, match=r"adaptive_avg_pool1d: input has dtype int64; expected "
                                        r"a float array"):
        ops.adaptive_avg_pool1d(np.ones((2, 3, 4), dtype=np.int64), 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool1d: input has shape \(2, 3, 4, 5\); "
                                         r"expected a 3-D input \(N, C, L\)"):
        ops.adaptive_avg_pool1d(np.ones((2, 3, 4, 5)), 2)
    with pytest.raises(TypeError, match=r"AdaptiveAvgPool1d: output_size is NoneType None"):
        nn.AdaptiveAvgPool1d(None)


# ---------------------------------------------------------------- channel dropout

@pytest.mark.parametrize("fn, shape, channels", [(ops.dropout1d, (6, 5, 7), 2),
                                                 (ops.dropout1d, (9, 4), 1),
                                                 (ops.dropout2d, (5, 6, 3, 4), 2)])
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(rng, fn, shape, channels):
    x = rng.uniform(1, 2, shape)
    tc.manual_seed(3)
    xv = tc.Value(x)
    out = fn(xv, 0.4)
    ratio = out.data / x                                     # 0 or 1 / 0.6 everywhere
    per_channel = ratio.reshape(*shape[:channels], -1)
    np.testing.assert_allclose(per_channel, per_channel[..., :1] * np.ones_like(per_channel),
                               rtol=1e-12)                 # one value per channel
    assert set(np.round(np.unique(ratio), 12)) <= {0.0, round(1 / 0.6, 12)}
    assert 0 < (per_channel[..., 0] == 0).sum() < per_channel[..., 0].size
    g = rng.standard_normal(shape)
    out.backward(g)
    np.testing.assert_allclose(xv.grad, g * ratio, rtol=1e-12)
    tc.manual_seed(3)
    np.testing.assert_array_equal(fn(x, 0.4).data, out.data)        # the seed repeats it


@pytest.mark.parametrize("fn, shape", [(ops.dropout1d, (2, 3, 4)), (ops.dropout1d, (3, 5)),
                                       (ops.dropout2d, (2, 3, 2, 3))])
def test_channel_dropout_gradcheck_and_gradgradcheck_with_a_fixed_mask(rng, fn, shape):
    def dropped(x):
        tc.manual_seed(1)                                    # the same mask at every call
        return fn(x, 0.3)

    x = rng.standard_normal(shape)
    assert tc.gradcheck(dropped, [x]) and tc.gradgradcheck(dropped, [x])


def test_channel_dropout_in_evaluation_or_with_p_0_is_the_identity(rng):
    x = tc.Value(rng.standard_normal((2, 3, 4)))
    assert ops.dropout1d(x, 0.5, training=False) is x and ops.dropout1d(x, 0.0) is x
    layer = nn.Dropout2d(0.5).eval()
    y = tc.Value(rng.standard_normal((2, 3, 4, 4)))
    assert layer(y) is y
    assert repr(nn.Dropout1d(0.25)) == "Dropout1d(p=0.25, inplace=False)"
    assert repr(layer) == "Dropout2d(p=0.5, inplace=False)"


def test_dropout2d_reads_a_3d_input_as_signals_and_other_ranks_as_n_c_with_a_warning(rng):
    x = rng.uniform(1, 2, (4, 6, 5))
    with pytest.warns(UserWarning, match=r"dropout2d: the 3-D input \(4, 6, 5\) is read as "
                                         r"\(N, C, L\)"):
        tc.manual_seed(0)
        out = ops.dropout2d(x, 0.5).data
    per_row = (out / x).reshape(24, 5)
    np.testing.assert_allclose(per_row, per_row[:, :1] * np.ones((1, 5)), rtol=1e-12)
    with pytest.warns(UserWarning, match=r"the 2-D input \(4, 6\) is read as \(N, C, \.\.\.\)"):
        ops.dropout2d(x[:, :, 0], 0.5)
    with pytest.warns(UserWarning, match=r"the 5-D input"):
        ops.dropout2d(np.ones((2, 2, 2, 2, 2)), 0.5, training=False)    # warned in eval too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.dropout2d(np.ones((2, 2, 3, 3)), 0.5)                         # 4-D: silent


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.dropout1d(np.ones((2, 3, 4, 5))), ValueError,
     r"dropout1d: input has shape \(2, 3, 4, 5\); expected a 3-D input \(N, C, L\) or a 2-D "
     r"one \(C, L\), as PyTorch's; for images \(N, C, H, W\) use dropout2d"),
    (lambda: ops.dropout1d(np.ones(5)), ValueError, r"use x.reshape\(1, 5\)"),
    (lambda: ops.dropout2d(np.ones(5)), ValueError,
     r"dropout2d: input has shape \(5,\); expected a 4-D input .* use dropout for a 1-D array"),
    (lambda: ops.dropout1d(np.ones((2, 3)), p=-0.5), ValueError,
     r"dropout1d: p is -0.5; expected a probability in \[0, 1\] \(the chance that a channel"),
    (lambda: ops.dropout2d(np.ones((2, 3, 2, 2)), p="0.5"), TypeError, r"dropout2d: p is str"),
    (lambda: ops.dropout2d(np.ones((2, 3, 2, 2)), training=None), TypeError,
     r"dropout2d: training is NoneType None; expected True or False"),
    (lambda: nn.Dropout1d(1.5), ValueError, r"Dropout1d: p is 1.5; expected a probability"),
    (lambda: nn.Dropout2d(0.5, inplace=True), ValueError,
     r"Dropout2d: inplace=True is not supported; expected inplace=False"),
])
def test_channel_dropout_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- conv_transpose1d

# x (N, C_in, L), w (C_in, C_out / groups, K), settings
TRANSPOSED = [((1, 1, 5), (1, 1, 3), {}),
              ((2, 3, 6), (3, 2, 4), {"stride": 2, "padding": 1}),
              ((2, 2, 5), (2, 3, 3), {"stride": 3, "padding": 2, "output_padding": 2}),
              ((1, 4, 4), (4, 1, 3), {"groups": 2, "dilation": 2, "output_padding": 1}),
              ((3, 4), (3, 2, 2), {"stride": (2,), "dilation": (3,)})]      # unbatched


@pytest.mark.parametrize("x_shape, w_shape, settings", TRANSPOSED)
def test_conv_transpose1d_matches_the_loops_and_gradchecks(rng, x_shape, w_shape, settings):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    groups = settings.get("groups", 1)
    b = rng.standard_normal(w_shape[1] * groups)
    out = ops.conv_transpose1d(tc.Value(x), tc.Value(w), tc.Value(b), **settings)
    batch = x if x.ndim == 3 else x[None]
    flat = {k: (v if isinstance(v, int) else v[0]) for k, v in settings.items() if k != "groups"}
    images = {k: (0 if k in ("padding", "output_padding") else 1, v) for k, v in flat.items()}
    parts = []
    for g in range(groups):                                 # one transposed conv per group
        rows, cols = slice(g * x_shape[-2] // groups, (g + 1) * x_shape[-2] // groups), slice(
            g * w_shape[1], (g + 1) * w_shape[1])
        parts.append(reference.conv_transpose2d(batch[:, rows, None, :], w[rows, :, None, :],
                                                b[cols], **images))
    expected = np.concatenate(parts, axis=1)[:, :, 0]
    np.testing.assert_allclose(out.data, expected.reshape(out.shape), rtol=1e-12, atol=1e-12)

    def conv(x, w, b):
        return ops.conv_transpose1d(x, w, b, **settings)

    assert tc.gradcheck(conv, [x, w, b])
    assert tc.gradgradcheck(conv, [x, w, b])


def test_conv_transpose1d_is_conv1ds_input_gradient(rng):
    x, w = tc.Value(rng.standard_normal((2, 3, 9))), rng.standard_normal((4, 3, 3))
    out = ops.conv1d(x, w, stride=2, padding=1, dilation=2)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    back = ops.conv_transpose1d(g, w, stride=2, padding=1, dilation=2)
    np.testing.assert_allclose(back.data, x.grad, rtol=1e-12, atol=1e-12)


def test_conv_transpose1d_layer(rng):
    layer = nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                               rng=rng)
    assert layer.weight.shape == (4, 3, 3) and layer.bias.shape == (6,)
    assert layer.weight.dtype == np.float32
    bound = 1 / np.sqrt(3 * 3)                              # fan_in = C_out/groups * K
    assert np.abs(layer.weight.data).max() <= bound
    assert repr(layer) == ("ConvTranspose1d(4, 6, kernel_size=(3,), stride=(2,), padding=(1,), "
                           "output_padding=(1,), groups=2)")
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    assert layer(x).shape == (2, 6, 10) and layer(x[0]).shape == (6, 10)
    assert layer(x, output_size=(9,)).shape == (2, 6, 9)
    assert layer(x, output_size=(2, 6, 10)).shape == (2, 6, 10)
    with pytest.raises(ValueError, match=r"ConvTranspose1d: output_size \(11,\) asks for 11, "
                                         r"but the input of shape \(2, 4, 5\) gives at stride 2 "
                                         r"from 9 .* expected sizes in \[9, 10\]"):
        layer(x, output_size=(11,))


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.conv_transpose1d(np.ones((2, 3, 5)), np.ones((3, 2, 2, 2))), ValueError,
     r"conv_transpose1d: weight has shape \(3, 2, 2, 2\); expected a 3-D weight \(C_in, "
     r"C_out / groups, K\)"),
    (lambda: ops.conv_transpose1d(np.ones((2, 3, 5, 5)), np.ones((3, 2, 2))), ValueError,
     r"conv_transpose1d: input has shape \(2, 3, 5, 5\); expected a 3-D input \(N, C_in, L\) "
     r"or a 2-D one \(C_in, L\) with C_in = 3 for weight \(3, 2, 2\)"),
    (lambda: ops.conv_transpose1d(np.ones((2, 4, 5)), np.ones((3, 2, 2))), ValueError,
     r"conv_transpose1d: input has 4 channels but weight expects 3 \(input \(2, 4, 5\), weight "
     r"\(3, 2, 2\)\); expected equal C_in in input \(N, C_in, L\) and weight"),
    (lambda: ops.conv_transpose1d(np.ones((2, 3, 5)), np.ones((3, 2, 2)), stride=2,
                                  output_padding=2), ValueError,
     r"output_padding 2 is not smaller than stride 2 or dilation 1; expected output_padding < "
     r"max\(stride, dilation\)"),
    (lambda: ops.conv_transpose1d(np.ones((2, 3, 1)), np.ones((3, 2, 1)), padding=1), ValueError,
     r"the output would have length -1 .* expected at least 1; use less padding"),
    (lambda: ops.conv_transpose1d(np.ones((2, 3, 5)), np.ones((3, 2, 2)), stride=(1, 1)),
     ValueError, r"conv_transpose1d: stride is \(1, 1\); expected an int >= 1 \(or a tuple of "
                 r"one\)"),
    (lambda: ops.conv_transpose1d(np.ones((2, 3, 5)), np.ones((3, 2, 2)), np.ones(3)),
     ValueError, r"bias has shape \(3,\); expected \(2,\), one per output channel"),
    (lambda: ops.conv_transpose1d(np.ones((2, 4, 5)), np.ones((4, 2, 2)), groups=3), ValueError,
     r"groups=3 does not divide the 4 input channels"),
    (lambda: nn.ConvTranspose1d(4, 6, 3, 2, 0, 0, 2), TypeError,
     r"ConvTranspose1d: bias is int 2; expected True or False; pass groups .* by keyword"),
    (lambda: nn.ConvTranspose1d(4, 6, 3, stride=2, output_padding=2), ValueError,
     r"ConvTranspose1d: output_padding=2 is not smaller than stride=2 or dilation=1"),
    (lambda: nn.ConvTranspose1d(4, 6, 3, groups=4), ValueError, r"groups=4 does not divide"),
])
def test_conv_transpose1d_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
