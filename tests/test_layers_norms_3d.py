"""rms_norm and nn.RMSNorm, local_response_norm and nn.LocalResponseNorm, nn.CosineSimilarity and
nn.PairwiseDistance, nn.InstanceNorm3d (momentum=None too), nn.BatchNorm3d without running
statistics, dropout3d and nn.Dropout3d (and the channel dropouts with p=1), and the 3-d padding
layers: forwards against numpy formulas written here, gradcheck and gradgradcheck in float64 through
random upstream gradients over several shapes and settings, float32 kept float32, PyTorch's
default eps, reprs, parameters and state-dict names, masks and warnings, and every error with
its message."""

import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

EPS32, EPS64 = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)


def rms_norm_reference(x, k, weight=None, eps=EPS64):
    """x / sqrt(mean(x^2) + eps) * weight over the last k axes, written in numpy."""
    axes = tuple(range(x.ndim - k, x.ndim))
    out = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return out if weight is None else out * weight


def lrn_reference(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """x[:, c] / (k + alpha / size * sum of x[:, c']^2 over c' in [c - size//2, c + (size-1)//2]
    within the channels) ** beta, channel by channel."""
    channels = x.shape[1]
    out = np.empty_like(x)
    for c in range(channels):
        low, high = max(0, c - size // 2), min(channels - 1, c + (size - 1) // 2)
        energy = (x[:, low:high + 1] ** 2).sum(axis=1)
        out[:, c] = x[:, c] / (k + alpha / size * energy) ** beta
    return out


def instance_norm_reference(x, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)


# ---------------------------------------------------------------- rms_norm and RMSNorm

# (input shape, normalized_shape): one axis as an int and as a list, two and three axes, no
# leading axis, an axis of size 1 among the normalised ones
RMS_CASES = [((3, 6), 6), ((2, 3, 4), (3, 4)), ((5,), [5]), ((2, 2, 3, 3), (2, 3, 3)),
             ((3, 2, 1, 4), (1, 4))]


@pytest.mark.parametrize("shape, normalized_shape", RMS_CASES)
@pytest.mark.parametrize("eps", [None, 1e-3])
def test_rms_norm_forward_matches_the_formula(rng, shape, normalized_shape, eps):
    layer = nn.RMSNorm(normalized_shape, eps=eps)
    trailing, k = layer.normalized_shape, len(layer.normalized_shape)
    weight = rng.uniform(0.5, 2, trailing)
    x = rng.standard_normal(shape) * 3 + 1
    used = EPS64 if eps is None else eps                 # float64: PyTorch's default eps
    expected = rms_norm_reference(x, k, weight, used)
    out = ops.rms_norm(tc.Value(x), normalized_shape, tc.Value(weight), eps=eps)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-14)
    layer.weight = tc.Value(weight)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-13, atol=1e-14)   # an array too
    plain = nn.RMSNorm(normalized_shape, eps=eps, elementwise_affine=False)
    np.testing.assert_allclose(plain(x).data, rms_norm_reference(x, k, None, used),
                               rtol=1e-13, atol=1e-14)


def test_rms_norm_default_eps_is_the_machine_epsilon_of_the_inputs_dtype(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(ops.rms_norm(x, 4).data, ops.rms_norm(x, 4, eps=EPS64).data)
    x32 = x.astype(np.float32)
    np.testing.assert_array_equal(ops.rms_norm(x32, 4).data, ops.rms_norm(x32, 4, eps=EPS32).data)
    x16 = x.astype(np.float16)                         # PyTorch computes float16 in float32
    np.testing.assert_array_equal(ops.rms_norm(x16, 4).data, ops.rms_norm(x16, 4, eps=EPS32).data)
    tiny = np.full((1, 4), 1e-4)                       # mean square 1e-8: eps shows
    np.testing.assert_allclose(ops.rms_norm(tiny.astype(np.float32), 4).data,
                               tiny / np.sqrt(1e-8 + EPS32), rtol=1e-6)
    np.testing.assert_array_equal(ops.rms_norm(np.zeros((2, 3)), 3).data, np.zeros((2, 3)))


def test_rms_norm_computes_float16_in_float32_and_rounds_back(rng):
    x16 = (rng.standard_normal((3, 8)) * 3).astype(np.float16)
    w16 = rng.standard_normal(8).astype(np.float16)
    out = ops.rms_norm(x16, 8, w16)
    wide = ops.rms_norm(x16.astype(np.float32), 8, w16.astype(np.float32))
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out.data, wide.data.astype(np.float16))
    v = tc.Value(x16)
    ops.rms_norm(v, 8).sum().backward()
    assert v.grad.dtype == np.float16


@pytest.mark.parametrize("shape, normalized_shape", RMS_CASES)
def test_rms_norm_gradcheck_and_gradgradcheck(rng, shape, normalized_shape):
    trailing = nn.RMSNorm(normalized_shape).normalized_shape
    x, weight = rng.standard_normal(shape), rng.uniform(0.5, 2, trailing)

    def fn(x, weight):
        return ops.rms_norm(x, normalized_shape, weight, eps=1e-3)

    assert tc.gradcheck(fn, [x, weight]) and tc.gradgradcheck(fn, [x, weight])
    plain = nn.RMSNorm(normalized_shape, elementwise_affine=False)    # eps=None: 2.2e-16
    assert tc.gradcheck(plain, [x]) and tc.gradgradcheck(plain, [x])


def test_rms_norm_gradient_matches_the_closed_form(rng):
    """With r = sqrt(mean(x^2) + eps) over D entries and g = upstream * weight:
    dx = g / r - x * mean(g x) / r^3, dweight = sum over the leading axes of upstream * x / r."""
    x, weight = tc.Value(rng.standard_normal((2, 3, 5))), tc.Value(rng.uniform(0.5, 2, 5))
    upstream = rng.standard_normal((2, 3, 5))
    ops.rms_norm(x, 5, weight, eps=1e-4).backward(upstream)
    r = np.sqrt((x.data ** 2).mean(axis=-1, keepdims=True) + 1e-4)
    g = upstream * weight.data
    dx = g / r - x.data * (g * x.data).mean(axis=-1, keepdims=True) / r ** 3
    np.testing.assert_allclose(x.grad, dx, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(weight.grad, (upstream * x.data / r).sum(axis=(0, 1)), rtol=1e-12)


def test_rms_norm_float32_stays_float32(rng):
    layer = nn.RMSNorm((3, 4))
    assert layer.weight.dtype == np.float32
    x = tc.Value(rng.standard_normal((2, 3, 4)).astype(np.float32))
    out = layer(x)
    assert out.dtype == np.float32
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert x.grad.dtype == layer.weight.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, rms_norm_reference(x.data.astype(np.float64), 2,
                                                            eps=EPS32), rtol=1e-5, atol=1e-6)


def test_rms_norm_layer_defaults_parameters_state_dict_and_repr():
    layer = nn.RMSNorm(6)
    np.testing.assert_array_equal(layer.weight.data, np.ones(6, np.float32))
    assert layer.eps is None and layer.elementwise_affine and layer.normalized_shape == (6,)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert {name: a.shape for name, a in nn.RMSNorm([2, 3]).state_dict().items()} == {
        "weight": (2, 3)}
    plain = nn.RMSNorm(4, elementwise_affine=False)
    assert plain.weight is None and plain.state_dict() == {} and list(plain.parameters()) == []
    model = nn.Sequential(nn.Linear(4, 8), nn.RMSNorm(8))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.weight"]
    assert repr(layer) == "RMSNorm((6,), eps=None, elementwise_affine=True)"
    assert repr(nn.RMSNorm([3, 4], eps=1e-6, elementwise_affine=False)) == (
        "RMSNorm((3, 4), eps=1e-06, elementwise_affine=False)")
    x = np.arange(1.0, 9.0).reshape(2, 4)
    layer4 = nn.RMSNorm(4, eps=0.0)
    layer4.weight.data[...] = [1, 2, 3, 4]
    np.testing.assert_allclose(layer4(x).data, x / np.sqrt((x * x).mean(axis=1, keepdims=True))
                               * [1, 2, 3, 4], rtol=1e-6)
    layer.eval()                                   # no running statistics: the same in eval
    np.testing.assert_array_equal(layer(x[:, :3].repeat(2, axis=1)).data,
                                  layer.train()(x[:, :3].repeat(2, axis=1)).data)


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.rms_norm(np.ones((2, 3)), 4), ValueError,
     r"rms_norm: input has shape \(2, 3\), which does not end with normalized_shape \(4,\); "
     r"expected an input of shape \(\.\.\., 4\); pass the input's trailing shape as "
     r"normalized_shape, e.g. \(3,\)"),
    (lambda: ops.rms_norm(np.ones(3), (2, 3)), ValueError,
     r"input has shape \(3,\), which does not end with normalized_shape \(2, 3\)"),
    (lambda: ops.rms_norm(np.ones((2, 3)), 3, weight=np.ones(4)), ValueError,
     r"rms_norm: weight has shape \(4,\) but normalized_shape is \(3,\); expected weight of "
     r"shape \(3,\)"),
    (lambda: ops.rms_norm(np.ones((2, 3)), ()), ValueError,
     r"rms_norm: normalized_shape is \(\); expected an int >= 1 or a non-empty tuple"),
    (lambda: ops.rms_norm(np.ones((2, 3)), 3.0), ValueError,
     r"rms_norm: normalized_shape is 3.0; expected an int >= 1"),
    (lambda: ops.rms_norm(np.ones((2, 3)), 3, eps=-1e-5), ValueError,
     r"rms_norm: eps is -1e-05; expected None \(the machine epsilon of the input's dtype, as "
     r"PyTorch\) or a small number >= 0"),
    (lambda: ops.rms_norm(np.ones((2, 3)), 3, eps="small"), ValueError, r"eps is 'small'"),
    (lambda: ops.rms_norm(np.ones((2, 3), dtype=np.int64), 3), TypeError,
     r"rms_norm: input has dtype int64; expected a floating-point array"),
    (lambda: nn.RMSNorm(0), ValueError, r"RMSNorm: normalized_shape is 0; expected an int >= 1"),
    (lambda: nn.RMSNorm(3, eps=float("nan")), ValueError, r"RMSNorm: eps is nan"),
    (lambda: nn.RMSNorm(3, elementwise_affine="yes"), TypeError,
     r"RMSNorm: elementwise_affine is str 'yes'; expected True or False"),
    (lambda: nn.RMSNorm((3, 4))(np.ones((3, 5))), ValueError,
     r"RMSNorm: input has shape \(3, 5\), which does not end with normalized_shape \(3, 4\); "
     r"expected an input of shape \(\.\.\., 3, 4\); make normalized_shape the input's trailing "
     r"shape, e.g. RMSNorm\(\(3, 5\)\) for this input"),
])
def test_rms_norm_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- local response norm

# (input shape, size, alpha, beta, k): signals, images, volumes and 4 spatial axes; odd and
# even sizes, size 1, a size larger than the channels, PyTorch's defaults and larger alphas
LRN_CASES = [((2, 5, 4), 3, 1e-4, 0.75, 1.0),
             ((2, 4, 3, 3), 2, 0.5, 0.75, 1.0),
             ((1, 6, 2, 3), 5, 1.0, 0.6, 2.0),
             ((2, 3, 2, 2, 2), 4, 0.8, 1.5, 1.0),
             ((1, 2, 5), 7, 2.0, 0.75, 0.5),
             ((2, 3, 4), 1, 0.3, 2.0, 1.0),
             ((1, 3, 2, 1, 2, 2), 3, 0.4, 0.75, 1.0)]


@pytest.mark.parametrize("shape, size, alpha, beta, k", LRN_CASES)
def test_local_response_norm_forward_matches_the_channel_sums(rng, shape, size, alpha, beta, k):
    x = rng.standard_normal(shape) * 2
    expected = lrn_reference(x, size, alpha, beta, k)
    np.testing.assert_allclose(ops.local_response_norm(tc.Value(x), size, alpha, beta, k).data,
                               expected, rtol=1e-13, atol=1e-14)
    layer = nn.LocalResponseNorm(size, alpha, beta, k)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-13, atol=1e-14)
    assert list(layer.parameters()) == [] and layer.state_dict() == {}


@pytest.mark.parametrize("shape, size, alpha, beta, k", LRN_CASES)
def test_local_response_norm_gradcheck_and_gradgradcheck(rng, shape, size, alpha, beta, k):
    x = rng.standard_normal(shape)

    def fn(x):
        return ops.local_response_norm(x, size, alpha, beta, k)

    assert tc.gradcheck(fn, [x]) and tc.gradgradcheck(fn, [x])


def test_local_response_norm_window_by_hand():
    """Channels [1, 2, 3, 4] with size 2: channel c sums c - 1 and c (size // 2 = 1 before,
    (size - 1) // 2 = 0 after), the missing channel before the first counting as 0."""
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 4, 1)
    out = ops.local_response_norm(x, 2, alpha=2.0, beta=1.0, k=0.0).data.ravel()
    energies = np.array([1.0, 1 + 4, 4 + 9, 9 + 16])
    np.testing.assert_allclose(out, [1, 2, 3, 4] / (2.0 / 2 * energies), rtol=1e-15)


def test_local_response_norm_float32_and_empty_inputs(rng):
    x = tc.Value(rng.standard_normal((2, 4, 3, 3)).astype(np.float32))
    out = nn.LocalResponseNorm(3, alpha=0.5)(x)
    assert out.dtype == np.float32
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, lrn_reference(x.data.astype(np.float64), 3, 0.5),
                               rtol=1e-5, atol=1e-6)
    empty = tc.Value(np.zeros((0, 3, 4)))
    assert ops.local_response_norm(empty, 2) is empty            # as PyTorch's: returned as is
    assert ops.local_response_norm(np.zeros((2, 3, 0, 4)), 2).shape == (2, 3, 0, 4)


def test_local_response_norm_layer_repr_keeps_the_settings_as_given():
    assert repr(nn.LocalResponseNorm(3)) == "LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0)"
    assert repr(nn.LocalResponseNorm(2, alpha=1, beta=2, k=3)) == (
        "LocalResponseNorm(2, alpha=1, beta=2, k=3)")


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.local_response_norm(np.ones((2, 3)), 2), ValueError,
     r"local_response_norm: input has shape \(2, 3\); expected 3 axes or more, \(N, C, L\), "
     r"\(N, C, H, W\) or \(N, C, D, H, W\), the channels on axis 1, as PyTorch's; for one "
     r"unbatched example \(C, \.\.\.\) pass x.reshape\(1, \*x.shape\)"),
    (lambda: ops.local_response_norm(np.ones((2, 3, 4)), 0), ValueError,
     r"local_response_norm: size is 0; expected an int >= 1, the number of neighbouring "
     r"channels"),
    (lambda: ops.local_response_norm(np.ones((2, 3, 4)), 2.5), ValueError, r"size is 2.5"),
    (lambda: ops.local_response_norm(np.ones((2, 3, 4)), True), ValueError, r"size is True"),
    (lambda: ops.local_response_norm(np.ones((2, 3, 4)), 2, beta="0.75"), TypeError,
     r"local_response_norm: beta is str '0.75'; expected a real number"),
    (lambda: ops.local_response_norm(np.ones((2, 3, 4), dtype=np.int32), 2), TypeError,
     r"local_response_norm: input has dtype int32; expected a floating-point array"),
    (lambda: nn.LocalResponseNorm(-1), ValueError, r"LocalResponseNorm: size is -1"),
    (lambda: nn.LocalResponseNorm(3, alpha=None), TypeError,
     r"LocalResponseNorm: alpha is NoneType None; expected a real number"),
])
def test_local_response_norm_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------- CosineSimilarity, PairwiseDistance

def test_cosine_similarity_layer(rng):
    x1, x2 = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 5, 3))
    layer = nn.CosineSimilarity()
    assert (layer.dim, layer.eps) == (1, 1e-8) and repr(layer) == "CosineSimilarity()"
    expected = (x1 * x2).sum(axis=1) / (np.linalg.norm(x1, axis=1) * np.linalg.norm(x2, axis=1))
    np.testing.assert_allclose(layer(x1, x2).data, expected, rtol=1e-13)
    last = nn.CosineSimilarity(dim=-1, eps=1e-6)
    expected = (x1 * x2).sum(axis=-1) / (np.linalg.norm(x1, axis=-1)
                                         * np.linalg.norm(x2, axis=-1))
    np.testing.assert_allclose(last(x1, x2[:1]).data[:1], expected[:1], rtol=1e-13)   # broadcast
    assert last(x1, x2[:1]).shape == (4, 5)
    assert tc.gradcheck(layer, [x1, x2]) and tc.gradgradcheck(layer, [x1[:2], x2[:2]])


def test_pairwise_distance_layer(rng):
    x1, x2 = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    layer = nn.PairwiseDistance()
    assert (layer.norm, layer.eps, layer.keepdim) == (2.0, 1e-6, False)   # PyTorch's names
    assert repr(layer) == "PairwiseDistance()"
    np.testing.assert_allclose(layer(x1, x2).data, np.linalg.norm(x1 - x2 + 1e-6, axis=1),
                               rtol=1e-13)
    one = nn.PairwiseDistance(p=1.0, eps=0.0, keepdim=True)
    np.testing.assert_allclose(one(x1, x2[0]).data, np.abs(x1 - x2[0]).sum(axis=1,
                                                                           keepdims=True),
                               rtol=1e-13)
    assert tc.gradcheck(layer, [x1, x2]) and tc.gradgradcheck(layer, [x1, x2])


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.CosineSimilarity(dim=1.0), TypeError,
     r"CosineSimilarity: dim is float 1.0; expected an int, the axis of the vectors"),
    (lambda: nn.CosineSimilarity(eps=-1.0), ValueError,
     r"CosineSimilarity: eps is -1.0; expected a number >= 0"),
    (lambda: nn.CosineSimilarity(dim=2)(np.ones((2, 3)), np.ones((2, 3))), ValueError,
     r"cosine_similarity: axis"),
    (lambda: nn.PairwiseDistance(p="2"), ValueError,
     r"PairwiseDistance: p is '2'; expected a real number"),
    (lambda: nn.PairwiseDistance(eps=None), ValueError, r"PairwiseDistance: eps is None"),
    (lambda: nn.PairwiseDistance(keepdim=1), TypeError,
     r"PairwiseDistance: keepdim is int 1; expected True or False"),
    (lambda: nn.PairwiseDistance()(np.ones((2, 3)), np.ones((2, 4))), ValueError,
     r"pairwise_distance: x1 has shape \(2, 3\) and x2 has shape \(2, 4\), which do not "
     r"broadcast"),
])
def test_distance_layer_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- InstanceNorm3d

@pytest.mark.parametrize("shape", [(2, 3, 2, 3, 2), (3, 2, 2, 3)])
def test_instance_norm3d_forward_running_statistics_and_evaluation(rng, shape):
    norm = nn.InstanceNorm3d(3, momentum=0.5, affine=True, track_running_stats=True)
    assert list(norm.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                       "num_batches_tracked"]
    x = rng.standard_normal(shape) * 2 + 1
    batch = x if len(shape) == 5 else x[None]
    np.testing.assert_allclose(norm(x).data, instance_norm_reference(batch).reshape(shape),
                               rtol=1e-5, atol=1e-5)
    axes = (2, 3, 4)
    np.testing.assert_allclose(norm.running_mean.data, 0.5 * batch.mean(axis=axes).mean(axis=0),
                               rtol=1e-5)
    np.testing.assert_allclose(norm.running_var.data,
                               0.5 + 0.5 * batch.var(axis=axes, ddof=1).mean(axis=0), rtol=1e-5)
    norm.eval()
    stats = (-1, 1, 1, 1)
    expected = ((x - norm.running_mean.data.reshape(stats))
                / np.sqrt(norm.running_var.data.reshape(stats) + 1e-5))
    np.testing.assert_allclose(norm(x).data, expected, rtol=1e-5, atol=1e-6)


def test_instance_norm3d_gradcheck_and_gradgradcheck(rng):
    layer = nn.InstanceNorm3d(2, affine=True)
    x = rng.standard_normal((2, 2, 2, 2, 3))
    w, b = rng.uniform(0.5, 2, 2), rng.standard_normal(2)

    def fn(x, w, b):
        layer.weight, layer.bias = w, b
        return layer(x)

    np.testing.assert_allclose(fn(tc.Value(x), tc.Value(w), tc.Value(b)).data,
                               instance_norm_reference(x) * w.reshape(2, 1, 1, 1)
                               + b.reshape(2, 1, 1, 1), rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(fn, [x, w, b]) and tc.gradgradcheck(fn, [x, w, b])
    unbatched = nn.InstanceNorm3d(2)
    assert tc.gradcheck(unbatched, [x[0]]) and tc.gradgradcheck(unbatched, [x[0]])


def test_instance_norm3d_momentum_none_leaves_the_running_statistics(rng):
    """As PyTorch's instance norm: momentum=None passes momentum 0, so training normalises each
    instance and leaves the running statistics (and num_batches_tracked) as they were."""
    norm = nn.InstanceNorm3d(2, momentum=None, track_running_stats=True)
    x = rng.standard_normal((2, 2, 2, 3, 2)) * 3 + 2
    np.testing.assert_allclose(norm(x).data, instance_norm_reference(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(norm.running_mean.data, np.zeros(2))
    np.testing.assert_array_equal(norm.running_var.data, np.ones(2))
    assert norm.num_batches_tracked.data == 0
    assert repr(norm) == ("InstanceNorm3d(2, eps=1e-05, momentum=None, affine=False, bias=False, "
                          "track_running_stats=True)")


def test_batch_norm3d_without_running_stats_uses_the_batch_in_evaluation(rng):
    norm = nn.BatchNorm3d(3, track_running_stats=False, affine=False).eval()
    assert norm.state_dict() == {} and norm.running_mean is None
    x = rng.standard_normal((2, 3, 2, 2, 3)) * 2 - 1
    mean = x.mean(axis=(0, 2, 3, 4), keepdims=True)
    var = x.var(axis=(0, 2, 3, 4), keepdims=True)
    np.testing.assert_allclose(norm(x).data, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12,
                               atol=1e-12)


def test_instance_norm3d_repr_and_errors():
    assert repr(nn.InstanceNorm3d(4)) == ("InstanceNorm3d(4, eps=1e-05, momentum=0.1, "
                                          "affine=False, bias=False, track_running_stats=False)")
    with pytest.raises(ValueError, match=r"InstanceNorm3d: input has shape \(2, 3, 4\); "
                                         r"expected a 5-D input \(N, C, D, H, W\) or a 4-D one "
                                         r"\(C, D, H, W\) with C = 3"):
        nn.InstanceNorm3d(3)(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"InstanceNorm3d: input has 4 channels \(shape \(2, 4, "
                                         r"2, 2, 2\)\) but the layer has num_features=3"):
        nn.InstanceNorm3d(3, affine=True)(np.ones((2, 4, 2, 2, 2)))
    with pytest.raises(ValueError, match=r"instance_norm: input \(1, 3, 1, 1, 1\) has 1 value "
                                         r"per channel"):
        nn.InstanceNorm3d(3)(np.ones((1, 3, 1, 1, 1)))


# ---------------------------------------------------------------- dropout3d and Dropout3d

@pytest.mark.parametrize("shape, channels", [((4, 5, 2, 2, 3), 2), ((7, 2, 3, 2), 1)])
def test_dropout3d_zeroes_whole_channels_and_scales_the_rest(rng, shape, channels):
    x = rng.uniform(1, 2, shape)
    tc.manual_seed(3)
    xv = tc.Value(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # 4-D and 5-D: no warning
        out = ops.dropout3d(xv, 0.4)
    ratio = out.data / x
    per_channel = ratio.reshape(*shape[:channels], -1)
    np.testing.assert_allclose(per_channel, per_channel[..., :1] * np.ones_like(per_channel),
                               rtol=1e-12)                 # one value per channel
    assert set(np.round(np.unique(ratio), 12)) <= {0.0, round(1 / 0.6, 12)}
    assert 0 < (per_channel[..., 0] == 0).sum() < per_channel[..., 0].size
    assert out.fn.params["keep"].shape == shape[:channels] + (1,) * (len(shape) - channels)
    g = rng.standard_normal(shape)
    out.backward(g)
    np.testing.assert_allclose(xv.grad, g * ratio, rtol=1e-12)
    tc.manual_seed(3)
    np.testing.assert_array_equal(nn.Dropout3d(0.4)(x).data, out.data)   # the seed repeats it


@pytest.mark.parametrize("shape", [(2, 3, 2, 2, 2), (3, 2, 2, 2)])
def test_dropout3d_gradcheck_and_gradgradcheck_with_a_fixed_mask(rng, shape):
    def dropped(x):
        tc.manual_seed(1)                                    # the same mask at every call
        return ops.dropout3d(x, 0.3)

    x = rng.standard_normal(shape)
    assert tc.gradcheck(dropped, [x]) and tc.gradgradcheck(dropped, [x])


def test_dropout3d_reads_other_ranks_as_one_example_with_a_warning(rng):
    x = rng.uniform(1, 2, (6, 4, 5))
    with pytest.warns(UserWarning, match=r"dropout3d: the 3-D input \(6, 4, 5\) is read as one "
                                         r"unbatched example \(C, \.\.\.\)"):
        tc.manual_seed(0)
        out = ops.dropout3d(x, 0.5).data
    per_channel = (out / x).reshape(6, 20)                   # one draw per entry of axis 0
    np.testing.assert_allclose(per_channel, per_channel[:, :1] * np.ones((1, 20)), rtol=1e-12)
    with pytest.warns(UserWarning, match=r"the 6-D input"):
        ops.dropout3d(np.ones((2, 2, 2, 2, 2, 2)), 0.5, training=False)   # warned in eval too
    layer = nn.Dropout3d(0.5).eval()
    y = tc.Value(rng.standard_normal((2, 3, 2, 2, 2)))
    assert layer(y) is y and ops.dropout3d(y, 0.0) is y
    assert repr(nn.Dropout3d(0.25)) == "Dropout3d(p=0.25, inplace=False)"


@pytest.mark.parametrize("layer, shape", [(nn.Dropout1d, (2, 3, 4)), (nn.Dropout1d, (3, 4)),
                                          (nn.Dropout2d, (2, 3, 2, 2)),
                                          (nn.Dropout3d, (2, 3, 2, 2, 2)),
                                          (nn.Dropout3d, (3, 2, 2, 2))])
def test_channel_dropout_with_p_one_zeroes_every_channel(rng, layer, shape):
    """p=1, as PyTorch's: every channel zeroed (x * 0), a zero gradient, and the identity in
    evaluation."""
    x = tc.Value(rng.standard_normal(shape))
    out = layer(1.0)(x)
    np.testing.assert_array_equal(out.data, np.zeros(shape))
    out.backward(rng.standard_normal(shape))
    np.testing.assert_array_equal(x.grad, np.zeros(shape))
    assert layer(p=1.0).eval()(x) is x
    assert repr(layer(1.0)) == f"{layer.__name__}(p=1.0, inplace=False)"
    assert tc.gradcheck(lambda x: layer(1.0)(x) + x, [x.data])


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.dropout3d(np.float64(1.0)), ValueError,
     r"dropout3d: input has shape \(\), a single number; expected a 5-D input \(N, C, D, H, W\) "
     r"or a 4-D one \(C, D, H, W\)"),
    (lambda: ops.dropout3d(np.ones((2, 3, 2, 2)), p=1.25), ValueError,
     r"dropout3d: p is 1.25; expected a probability in \[0, 1\] \(the chance that a channel "
     r"is zeroed\), as PyTorch's"),
    (lambda: ops.dropout3d(np.ones((2, 3, 2, 2)), training="yes"), TypeError,
     r"dropout3d: training is str 'yes'; expected True or False"),
    (lambda: nn.Dropout3d(1.5), ValueError, r"Dropout3d: p is 1.5; expected a probability"),
    (lambda: nn.Dropout3d(0.5, inplace=True), ValueError,
     r"Dropout3d: inplace=True is not supported"),
])
def test_dropout3d_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- 3-d padding layers

PADS_3D = [   # layer, input shape, numpy's pad_width (mode from the layer)
    (nn.ZeroPad3d(1), (1, 2, 2, 3, 2), ((0, 0), (0, 0), (1, 1), (1, 1), (1, 1))),
    (nn.ConstantPad3d((1, 0, 2, 1, 0, 2), 1.5), (2, 2, 3, 2), ((0, 0), (0, 2), (2, 1), (1, 0))),
    (nn.ConstantPad3d(1, -2.0), (2, 3, 2), ((1, 1), (1, 1), (1, 1))),        # no channels
    (nn.ReflectionPad3d((1, 2, 0, 1, 1, 0)), (1, 2, 3, 2, 3),
     ((0, 0), (0, 0), (1, 0), (0, 1), (1, 2))),
    (nn.ReplicationPad3d((2, 0, 1, 1, 0, 3)), (2, 2, 2, 3), ((0, 0), (0, 3), (1, 1), (2, 0))),
    (nn.CircularPad3d((0, 2, 1, 0, 2, 1)), (1, 1, 2, 3, 2),
     ((0, 0), (0, 0), (2, 1), (1, 0), (0, 2))),
]
NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("layer, shape, pad_width", PADS_3D, ids=[repr(p[0]) for p in PADS_3D])
def test_3d_padding_layers_are_numpy_pad_in_pytorchs_order(rng, layer, shape, pad_width):
    x = rng.standard_normal(shape)
    out = layer(tc.Value(x))
    if layer.mode == "constant":
        expected = np.pad(x, pad_width, constant_values=layer.value)
    else:
        expected = np.pad(x, pad_width, mode=NUMPY_MODES[layer.mode])
    np.testing.assert_array_equal(out.data, expected)
    assert tc.gradcheck(layer, [x])
    assert tc.gradgradcheck(lambda v: layer(v * v), [x])


def test_3d_constant_padding_crops_negative_amounts(rng):
    x = rng.standard_normal((1, 2, 3, 4, 5))
    out = nn.ConstantPad3d((-1, 2, 1, -2, -1, 0), 0.5)(tc.Value(x))
    # W: 1 cut on the left, 2 added on the right; H: 1 added on top, 2 cut at the bottom;
    # D: 1 cut at the front
    expected = np.pad(x[:, :, 1:, :-2, 1:], ((0, 0), (0, 0), (0, 0), (1, 0), (0, 2)),
                      constant_values=0.5)
    np.testing.assert_array_equal(out.data, expected)
    assert tc.gradcheck(nn.ZeroPad3d((-1, 0, 0, -1, 1, -1)), [x])


def test_3d_padding_layer_reprs():
    assert repr(nn.ZeroPad3d(1)) == "ZeroPad3d((1, 1, 1, 1, 1, 1))"
    assert repr(nn.ConstantPad3d((1, 2, 3, 4, 5, 6), 2.5)) == (
        "ConstantPad3d(padding=(1, 2, 3, 4, 5, 6), value=2.5)")
    assert repr(nn.ReflectionPad3d([1, 0, 1, 0, 1, 0])) == "ReflectionPad3d((1, 0, 1, 0, 1, 0))"
    assert repr(nn.ReplicationPad3d(2)) == "ReplicationPad3d((2, 2, 2, 2, 2, 2))"
    assert repr(nn.CircularPad3d(1)) == "CircularPad3d((1, 1, 1, 1, 1, 1))"


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.ReflectionPad3d((1, 2, 3, 4)), TypeError,
     r"ReflectionPad3d: padding is \(1, 2, 3, 4\); expected an int or a tuple of 6 ints \(left, "
     r"right, top, bottom, front, back\), as PyTorch's, e.g. ReflectionPad3d\(1\)"),
    (lambda: nn.ZeroPad3d(1.0), TypeError, r"ZeroPad3d: padding is 1.0; expected an int"),
    (lambda: nn.ReplicationPad3d((0, 0, 0, 0, -1, 0)), ValueError,
     r"ReplicationPad3d: padding \(0, 0, 0, 0, -1, 0\) has a negative amount"),
    (lambda: nn.ConstantPad3d(1, None), TypeError, r"ConstantPad3d: value is NoneType None"),
    (lambda: nn.CircularPad3d(1)(np.ones((2, 3, 4))), ValueError,
     r"CircularPad3d: input of shape \(2, 3, 4\); expected 5 axes \(N, C, D, H, W\) or 4 "
     r"\(one example\)"),
    (lambda: nn.ZeroPad3d(1)(np.ones((2, 3))), ValueError,
     r"ZeroPad3d: input of shape \(2, 3\); expected at least 3 axes"),
    (lambda: nn.ReflectionPad3d((0, 0, 0, 0, 2, 0))(np.ones((1, 2, 2, 3, 3))), ValueError,
     r"ReflectionPad3d: padding \(0, 0, 0, 0, 2, 0\) does not fit the input of shape "
     r"\(1, 2, 2, 3, 3\) \(pad: mode='reflect' .*\); expected an input larger"),
    (lambda: nn.ConstantPad3d((0, 0, 0, 0, -2, -2), 0.0)(np.ones((2, 3, 3, 3))), ValueError,
     r"ConstantPad3d: padding \(0, 0, 0, 0, -2, -2\) crops 4 elements off axis 1 of the input "
     r"of shape \(2, 3, 3, 3\), which has 3"),
])
def test_3d_padding_layer_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
