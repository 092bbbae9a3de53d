"""Tests of tc.ops.batch_norm and nn.BatchNorm1d/2d: forward against numpy formulas written out
here, the running statistics (PyTorch's rule, unbiased variance; momentum=None's cumulative
average), evaluation mode, track_running_stats=False and running statistics set to None (the
batch's statistics in evaluation too), gradients of first and second order, buffers in the
state dict, errors. (PyTorch comparisons: tests/torch_oracle/test_layers.py and
tests/torch_oracle/test_batch_norm_settings_torch.py.)"""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.gradcheck import gradgradcheck

SHAPES = [(5, 3), (4, 2, 6), (2, 3, 4, 5), (1, 2, 3, 3)]    # (N, C), (N, C, L), images, N = 1


def oracle(x, mean, var, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias, with per-channel (C,) statistics."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    return out * weight.reshape(shape) + bias.reshape(shape)


def channel_stats(x):
    """Each channel's mean and biased variance over every other axis, by a loop over channels."""
    per_channel = [np.moveaxis(x, 1, 0)[c].ravel() for c in range(x.shape[1])]
    return (np.array([v.sum() / v.size for v in per_channel]),
            np.array([((v - v.sum() / v.size) ** 2).sum() / v.size for v in per_channel]))


@pytest.mark.parametrize("shape", SHAPES)
def test_training_forward_uses_batch_statistics(rng, shape):
    x = rng.standard_normal(shape) * 3 + 1
    c = shape[1]
    weight, bias = rng.standard_normal(c), rng.standard_normal(c)
    out = ops.batch_norm(tc.Value(x), None, None, tc.Value(weight), tc.Value(bias), training=True)
    mean, var = channel_stats(x)
    np.testing.assert_allclose(out.data, oracle(x, mean, var, weight, bias, 1e-5), rtol=1e-12,
                               atol=1e-12)
    plain = ops.batch_norm(x, training=True, eps=0.1).data          # no affine step
    np.testing.assert_allclose(plain, oracle(x, mean, var, np.ones(c), np.zeros(c), 0.1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_running_statistics_follow_pytorchs_rule(rng, shape):
    c = shape[1]
    running_mean, running_var = np.zeros(c), np.ones(c)
    expected_mean, expected_var = np.zeros(c), np.ones(c)
    count = int(np.prod(shape)) // c
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 0.5
        ops.batch_norm(x, running_mean, running_var, training=True, momentum=0.2)
        mean, var = channel_stats(x)
        expected_mean = 0.8 * expected_mean + 0.2 * mean
        expected_var = 0.8 * expected_var + 0.2 * var * count / (count - 1)   # unbiased
    np.testing.assert_allclose(running_mean, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(running_var, expected_var, rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_evaluation_uses_running_statistics_and_leaves_them(rng, shape):
    c = shape[1]
    x = rng.standard_normal(shape)
    running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    kept = running_mean.copy(), running_var.copy()
    weight, bias = rng.standard_normal(c), rng.standard_normal(c)
    out = ops.batch_norm(x, running_mean, running_var, weight, bias)      # training=False
    np.testing.assert_allclose(out.data, oracle(x, running_mean, running_var, weight, bias,
                                                1e-5), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(running_mean, kept[0])
    np.testing.assert_array_equal(running_var, kept[1])


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_gradients_in_training(rng, shape):
    c = shape[1]
    x, weight, bias = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)

    def fn(x, weight, bias):
        return ops.batch_norm(x, None, None, weight, bias, training=True)

    assert tc.gradcheck(fn, [x, weight, bias])
    assert gradgradcheck(fn, [x, weight, bias])
    assert tc.gradcheck(lambda x: ops.batch_norm(x, training=True), [x])
    assert gradgradcheck(lambda x: ops.batch_norm(x, training=True), [x])


@pytest.mark.parametrize("shape", SHAPES[:3])
def test_gradients_in_evaluation(rng, shape):
    c = shape[1]
    x, weight, bias = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)
    running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2, c)

    def fn(x, weight, bias):
        return ops.batch_norm(x, running_mean, running_var, weight, bias)

    assert tc.gradcheck(fn, [x, weight, bias])
    assert gradgradcheck(fn, [x, weight, bias])


def test_training_input_gradient_sums_to_zero_per_channel(rng):
    """The batch mean is subtracted, so shifting a channel changes nothing: dx sums to 0."""
    x = tc.Value(rng.standard_normal((6, 3, 2, 2)))
    ops.batch_norm(x, training=True).backward(rng.standard_normal((6, 3, 2, 2)))
    np.testing.assert_allclose(x.grad.sum(axis=(0, 2, 3)), 0, atol=1e-12)


def test_float32_stays_float32(rng):
    layer = nn.BatchNorm2d(3)
    x = tc.Value(rng.standard_normal((4, 3, 5, 5)).astype(np.float32))
    out = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert layer.weight.grad.dtype == np.float32
    assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32


@pytest.mark.parametrize("make, shape", [(nn.BatchNorm1d, (8, 3)), (nn.BatchNorm1d, (8, 3, 4)),
                                         (nn.BatchNorm2d, (4, 3, 5, 5))])
def test_module_trains_with_batch_stats_and_evaluates_with_running_ones(rng, make, shape):
    layer = make(3, momentum=0.5)
    layer.weight.data[:] = [1.0, 2.0, 3.0]
    layer.bias.data[:] = [0.0, -1.0, 1.0]
    x = (rng.standard_normal(shape) * 2 + 1).astype(np.float32)
    mean, var = channel_stats(x.astype(np.float64))
    np.testing.assert_allclose(layer(x).data, oracle(x, mean, var, layer.weight.data,
                                                     layer.bias.data, 1e-5), rtol=1e-4, atol=1e-5)
    count = x.size // 3
    np.testing.assert_allclose(layer.running_mean.data, 0.5 * mean, rtol=1e-5)
    np.testing.assert_allclose(layer.running_var.data, 0.5 + 0.5 * var * count / (count - 1),
                               rtol=1e-5)
    assert layer.num_batches_tracked.data == 1
    layer.eval()
    running = layer.running_mean.data.copy(), layer.running_var.data.copy()
    np.testing.assert_allclose(layer(x).data, oracle(x, *running, layer.weight.data,
                                                     layer.bias.data, 1e-5), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.running_mean.data, running[0])     # unchanged in eval
    assert layer.num_batches_tracked.data == 1


def test_module_parameters_buffers_and_state_dict():
    layer = nn.BatchNorm2d(4)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var",
                                                           "num_batches_tracked"]
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked"]            # PyTorch's order
    np.testing.assert_array_equal(layer.weight.data, np.ones(4))
    np.testing.assert_array_equal(layer.running_var.data, np.ones(4))
    assert layer.num_batches_tracked.dtype == np.int64 and layer.num_batches_tracked.shape == ()
    plain = nn.BatchNorm1d(4, affine=False)
    assert list(plain.parameters()) == [] and len(list(plain.buffers())) == 3
    assert repr(layer) == ("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                           "track_running_stats=True)")                    # PyTorch's repr
    assert repr(plain) == ("BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, "
                           "track_running_stats=True)")


def test_module_state_dict_round_trips_through_save(rng, tmp_path):
    source = nn.Sequential(nn.Conv2d(1, 2, 3, rng=rng), nn.BatchNorm2d(2))
    for _ in range(2):
        source(rng.standard_normal((3, 1, 5, 5)).astype(np.float32))
    tc.save(source.state_dict(), tmp_path / "model.npz")
    target = nn.Sequential(nn.Conv2d(1, 2, 3, rng=rng), nn.BatchNorm2d(2))
    target.load_state_dict(tc.load(tmp_path / "model.npz"))
    for (name, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert target[1].num_batches_tracked.data == 2
    source.eval(), target.eval()
    x = rng.standard_normal((2, 1, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(source(x).data, target(x).data)


def test_module_errors(rng):
    with pytest.raises(ValueError, match=r"BatchNorm2d: input has 3 channels \(shape \(2, 3, 4, "
                                         r"4\)\) but the layer has num_features=4; expected "
                                         r"\(N, C, H, W\) with C = 4; make num_features equal "
                                         r"to the channels of the layer before"):
        nn.BatchNorm2d(4)(rng.standard_normal((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input has 2 channels \(shape \(5, 2\)\) "
                                         r"but the layer has num_features=3"):
        nn.BatchNorm1d(3)(rng.standard_normal((5, 2)))
    with pytest.raises(ValueError, match=r"BatchNorm2d: input has shape \(2, 3\); expected "
                                         r"\(N, C, H, W\) with C = 3"):
        nn.BatchNorm2d(3)(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input has shape \(2, 3, 4, 4\); "
                                         r"expected \(N, C\) or \(N, C, L\) with C = 3"):
        nn.BatchNorm1d(3)(rng.standard_normal((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"BatchNorm1d: num_features is 0; expected an integer "
                                         r">= 1"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match=r"BatchNorm2d: momentum is 1.5; expected a number in "
                                         r"\[0, 1\]"):
        nn.BatchNorm2d(2, momentum=1.5)
    with pytest.raises(ValueError, match=r"BatchNorm2d: eps is 0; expected a small positive"):
        nn.BatchNorm2d(2, eps=0)
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"batch_norm: input \(1, 3\) has 1 value per channel; "
                                         r"expected more than 1 in training"):
        layer(rng.standard_normal((1, 3)))
    assert layer.num_batches_tracked.data == 0            # a refused batch is not counted
    layer.eval()
    assert layer(rng.standard_normal((1, 3))).shape == (1, 3)     # fine in evaluation


def test_op_errors(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(2,\) but the input "
                                         r"\(4, 3\) has 3 channels \(axis 1\); expected weight "
                                         r"of shape \(3,\)"):
        ops.batch_norm(x, None, None, np.ones(2), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: training=False needs running_mean and "
                                         r"running_var"):
        ops.batch_norm(x)
    with pytest.raises(TypeError, match=r"batch_norm: running_mean is Value float64; expected a "
                                        r"floating-point numpy array"):
        ops.batch_norm(x, tc.Value(np.zeros(3)), np.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: input has shape \(4,\); expected \(N, C\) "
                                         r"or \(N, C, ...\)"):
        ops.batch_norm(np.ones(4), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: momentum is -0.1; expected a number in "
                                         r"\[0, 1\]"):
        ops.batch_norm(x, training=True, momentum=-0.1)


@pytest.mark.parametrize("training", [True, False])
def test_no_channels_give_an_empty_output(rng, training):
    """C = 0: nothing to normalise, an empty output and gradient (not a division by zero)."""
    x = tc.Value(rng.standard_normal((4, 0, 3)))
    out = ops.batch_norm(x, np.zeros(0), np.ones(0), training=training)
    assert out.shape == (4, 0, 3)
    out.backward(np.zeros((4, 0, 3)))
    assert x.grad.shape == (4, 0, 3)


def test_an_empty_batch_in_training_names_its_count(rng):
    with pytest.raises(ValueError, match=r"batch_norm: input \(0, 3\) has 0 values per channel; "
                                         r"expected more than 1 in training"):
        ops.batch_norm(np.zeros((0, 3)), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: input \(1, 3, 1\) has 1 value per "
                                         r"channel; expected more than 1 in training"):
        ops.batch_norm(np.zeros((1, 3, 1)), training=True)


# ---------------------------------------------------------------- PyTorch's settings


@pytest.mark.parametrize("settings, keys", [
    ({}, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
    ({"track_running_stats": False}, ["weight", "bias"]),
    ({"affine": False, "track_running_stats": False}, []),
    ({"bias": False}, ["weight", "running_mean", "running_var", "num_batches_tracked"]),
    ({"affine": False}, ["running_mean", "running_var", "num_batches_tracked"]),
])
def test_state_dict_keys_follow_the_settings(settings, keys):
    """As PyTorch's: parameters before buffers; no running statistics without tracking."""
    layer = nn.BatchNorm2d(3, **settings)
    assert list(layer.state_dict()) == keys
    assert [name for name, _ in layer.named_parameters()] == [k for k in keys
                                                              if k in ("weight", "bias")]


@pytest.mark.parametrize("make, shape", [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 5)),
                                         (nn.BatchNorm2d, (4, 3, 2, 5)),
                                         (nn.BatchNorm3d, (2, 3, 2, 3, 2))])
def test_without_running_stats_both_modes_use_the_batch(rng, make, shape):
    layer = make(3, track_running_stats=False).double()
    assert layer.running_mean is None and layer.running_var is None
    assert layer.num_batches_tracked is None and list(layer.buffers()) == []
    layer.weight.data[:] = rng.uniform(0.5, 2, 3)
    layer.bias.data[:] = rng.standard_normal(3)
    x = rng.standard_normal(shape) * 2 + 1
    expected = oracle(x, *channel_stats(x), layer.weight.data, layer.bias.data, 1e-5)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)
    layer.eval()
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)
    assert layer.num_batches_tracked is None
    assert repr(layer).endswith("affine=True, bias=True, track_running_stats=False)")


def test_evaluation_without_running_stats_is_gradient_checked(rng):
    """In evaluation the batch's statistics are functions of x, as in training."""
    layer = nn.BatchNorm2d(3, track_running_stats=False).double().eval()
    layer.weight.data[:] = rng.uniform(0.5, 2, 3)
    for shape in [(2, 3, 2, 3), (5, 3, 1, 1), (1, 3, 3, 2)]:
        x = rng.standard_normal(shape)
        assert tc.gradcheck(layer, [x])
        assert gradgradcheck(layer, [x])


def test_running_stats_set_to_none_give_batch_statistics_in_evaluation(rng):
    """PyTorch's rule: with both running statistics None, evaluation uses the batch's, and
    training still counts its batches in num_batches_tracked."""
    layer = nn.BatchNorm1d(3).double()
    layer.running_mean = layer.running_var = None
    assert list(layer.state_dict()) == ["weight", "bias", "num_batches_tracked"]
    x = rng.standard_normal((5, 3)) * 3 - 1
    expected = oracle(x, *channel_stats(x), np.ones(3), np.zeros(3), 1e-5)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)
    assert layer.num_batches_tracked.data == 1
    layer.eval()
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)
    assert layer.num_batches_tracked.data == 1


def test_momentum_none_keeps_the_plain_average_of_every_batch(rng):
    """momentum=None: the running statistics are the mean over the batches seen of each
    batch's mean and unbiased variance (PyTorch's cumulative moving average)."""
    layer = nn.BatchNorm2d(3, momentum=None).double()
    means, variances = [], []
    for k in range(1, 5):
        x = rng.standard_normal((4, 3, 2, 2)) * k + k
        layer(x)
        mean, var = channel_stats(x)
        means.append(mean)
        variances.append(var * 16 / 15)                   # unbiased: M = 16 per channel
        np.testing.assert_allclose(layer.running_mean.data, np.mean(means, axis=0), rtol=1e-12)
        np.testing.assert_allclose(layer.running_var.data, np.mean(variances, axis=0),
                                   rtol=1e-12)
        assert layer.num_batches_tracked.data == k
    assert repr(layer).startswith("BatchNorm2d(3, eps=1e-05, momentum=None, affine=True")
    restored = nn.BatchNorm2d(3, momentum=None).double()  # the count comes with the state dict
    restored.load_state_dict(layer.state_dict())
    x = rng.standard_normal((4, 3, 2, 2))
    layer(x), restored(x)
    np.testing.assert_array_equal(restored.running_var.data, layer.running_var.data)


def test_momentum_none_without_a_batch_counter_leaves_the_running_stats(rng):
    """As PyTorch's: with num_batches_tracked set to None there is no count to average by, and
    momentum=None then moves nothing (momentum 0)."""
    layer = nn.BatchNorm1d(2, momentum=None)
    layer.num_batches_tracked = None
    layer(rng.standard_normal((4, 2)) + 5)
    np.testing.assert_array_equal(layer.running_mean.data, np.zeros(2))
    np.testing.assert_array_equal(layer.running_var.data, np.ones(2))


def test_settings_errors(rng):
    with pytest.raises(ValueError, match=r"BatchNorm1d: momentum is -0.5; expected a number in "
                                         r"\[0, 1\] such as 0.1 \(the weight of each batch in "
                                         r"the running statistics\), or None"):
        nn.BatchNorm1d(2, momentum=-0.5)
    with pytest.raises(TypeError, match=r"BatchNorm2d: track_running_stats is str 'no'; "
                                        r"expected True or False"):
        nn.BatchNorm2d(2, track_running_stats="no")
    with pytest.raises(TypeError, match=r"BatchNorm3d: bias is int 0; expected True or False"):
        nn.BatchNorm3d(2, bias=0)
    layer = nn.BatchNorm1d(3)
    layer.running_mean = None
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d: running_mean is None but running_var is "
                                         r"not; expected both running statistics or neither "
                                         r"\(then the layer normalises with the batch's own, in "
                                         r"evaluation too\); set running_var to None as well, "
                                         r"or give running_mean a Buffer of 3 values"):
        layer(x)
    assert layer.num_batches_tracked.data == 0
    with pytest.raises(ValueError, match=r"BatchNorm1d: running_mean is None but running_var"):
        layer.eval()(x)
    layer.running_mean = np.zeros(3)
    with pytest.raises(TypeError, match=r"BatchNorm1d: running_mean is ndarray; expected an "
                                        r"nn.Buffer \(saved in state_dict\(\)\) or None"):
        layer(x)
    with pytest.raises(ValueError, match=r"batch_norm: running_var is None but the other "
                                         r"running statistic is not; expected both \(updated in "
                                         r"training\) or neither, as PyTorch's"):
        ops.batch_norm(x, np.zeros(3), None, training=True)


def test_without_tracking_assigned_buffers_are_read_in_evaluation_only(rng):
    """PyTorch's rule for a layer built with track_running_stats=False that is given buffers
    later: training leaves them alone, evaluation normalises with them."""
    layer = nn.BatchNorm1d(2, track_running_stats=False)
    layer.running_mean = nn.Buffer(np.zeros(2, dtype=np.float32))
    layer.running_var = nn.Buffer(np.full(2, 4.0, dtype=np.float32))
    layer(rng.standard_normal((5, 2)) + 3)
    np.testing.assert_array_equal(layer.running_mean.data, np.zeros(2))
    layer.eval()
    np.testing.assert_allclose(layer(np.ones((2, 2))).data, np.full((2, 2), 0.5), rtol=1e-5)
