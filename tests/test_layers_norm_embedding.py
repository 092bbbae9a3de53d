"""Tests of nn.LayerNorm, nn.GroupNorm (and ops.group_norm) and nn.Embedding: forwards against
numpy formulas, float32 kept float32, gradients (gradcheck and gradgradcheck in float64 for the
norms; the scatter-add of repeated ids for Embedding, and the padding row that gets none),
initialisation, parameter and state-dict names, reprs and every error."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

# (input shape, normalized_shape): one axis, two and three axes, an int and a tuple, no
# leading axis, a leading axis of 1, an axis of size 1 among the normalised ones
NORM_CASES = [((3, 8), 8), ((2, 3, 4), (3, 4)), ((4,), (4,)), ((1, 5), [5]),
              ((2, 2, 3, 3), (2, 3, 3)), ((3, 2, 1, 4), (1, 4))]


def layer_norm_reference(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing axes, written in numpy."""
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)      # biased: divided by the count
    out = (x - mean) / np.sqrt(var + eps)
    return out if weight is None else out * weight + bias


def with_parameters(layer):
    """fn(x, weight, bias) = layer(x) with the given weight and bias, for gradcheck."""
    def fn(x, weight, bias):
        layer.weight, layer.bias = weight, bias
        return layer(x)
    return fn


@pytest.mark.parametrize("shape, normalized_shape", NORM_CASES)
def test_layer_norm_forward_matches_the_formula(rng, shape, normalized_shape):
    layer = nn.LayerNorm(normalized_shape, eps=1e-3)
    trailing = layer.normalized_shape
    weight, bias = rng.uniform(0.5, 2, trailing), rng.standard_normal(trailing)
    layer.weight, layer.bias = tc.Value(weight), tc.Value(bias)
    x = rng.standard_normal(shape) * 3 + 2
    expected = layer_norm_reference(x, normalized_shape, weight, bias, eps=1e-3)
    np.testing.assert_allclose(layer(tc.Value(x)).data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)   # an array too
    plain = nn.LayerNorm(normalized_shape, elementwise_affine=False)
    np.testing.assert_allclose(plain(x).data, layer_norm_reference(x, normalized_shape),
                               rtol=1e-12, atol=1e-12)


def test_layer_norm_defaults_normalise_each_example_on_its_own(rng):
    layer = nn.LayerNorm(6)
    np.testing.assert_array_equal(layer.weight.data, np.ones(6, np.float32))
    np.testing.assert_array_equal(layer.bias.data, np.zeros(6, np.float32))
    assert layer.eps == 1e-5 and layer.elementwise_affine and layer.normalized_shape == (6,)
    x = rng.standard_normal((4, 6)) * 5 - 3
    out = layer(x).data
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1 / (1 + 1e-5 / x.var(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(layer(x[2:3]).data, out[2:3], rtol=1e-12)    # batch-independent
    layer.eval()                                                          # no running statistics
    np.testing.assert_array_equal(layer(x).data, out)
    constant = layer(np.full((2, 6), 7.0)).data                           # var 0: eps avoids 0/0
    np.testing.assert_array_equal(constant, np.zeros((2, 6)))


def test_layer_norm_float32_stays_float32(rng):
    layer = nn.LayerNorm((3, 4))
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    x = tc.Value(rng.standard_normal((2, 3, 4)).astype(np.float32))
    out = layer(x)
    assert out.dtype == np.float32
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    expected = layer_norm_reference(x.data.astype(np.float64), (3, 4))
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape, normalized_shape", NORM_CASES)
def test_layer_norm_gradcheck_and_gradgradcheck(rng, shape, normalized_shape):
    layer = nn.LayerNorm(normalized_shape)
    trailing = layer.normalized_shape
    x = rng.standard_normal(shape)
    weight, bias = rng.uniform(0.5, 2, trailing), rng.standard_normal(trailing)
    fn = with_parameters(layer)
    assert tc.gradcheck(fn, [x, weight, bias])
    assert tc.gradgradcheck(fn, [x, weight, bias])
    plain = nn.LayerNorm(normalized_shape, elementwise_affine=False)
    assert tc.gradcheck(plain, [x])
    assert tc.gradgradcheck(plain, [x])


def test_layer_norm_gradients_match_the_closed_form(rng):
    """dx = (g - mean(g) - x_hat mean(g x_hat)) / sqrt(var + eps), g = upstream * weight; and
    dweight = sum of upstream * x_hat, dbias = sum of upstream over the leading axes."""
    layer = nn.LayerNorm(5)
    layer.weight = tc.Value(rng.uniform(0.5, 2, 5))
    layer.bias = tc.Value(rng.standard_normal(5))
    x = tc.Value(rng.standard_normal((2, 3, 5)))
    upstream = rng.standard_normal((2, 3, 5))
    layer(x).backward(upstream)
    x_hat = layer_norm_reference(x.data, 5)
    std = np.sqrt(x.data.var(axis=-1, keepdims=True) + 1e-5)
    g = upstream * layer.weight.data
    dx = (g - g.mean(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    np.testing.assert_allclose(x.grad, dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, (upstream * x_hat).sum(axis=(0, 1)), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, upstream.sum(axis=(0, 1)), rtol=1e-12)


def test_layer_norm_parameters_state_dict_and_repr():
    layer = nn.LayerNorm((2, 3))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert {name: array.shape for name, array in layer.state_dict().items()} == {
        "weight": (2, 3), "bias": (2, 3)}
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU())
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    assert repr(nn.LayerNorm(8)) == ("LayerNorm((8,), eps=1e-05, elementwise_affine=True, "
                                     "bias=True)")
    assert repr(nn.LayerNorm([3, 4], eps=1e-6, elementwise_affine=False)) == (
        "LayerNorm((3, 4), eps=1e-06, elementwise_affine=False, bias=False)")
    no_bias = nn.LayerNorm(4, bias=False)
    assert [name for name, _ in no_bias.named_parameters()] == ["weight"]
    x = np.arange(8.0).reshape(2, 4)
    no_bias.weight.data[...] = [1, 2, 3, 4]
    x_hat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(no_bias(x).data, x_hat * [1, 2, 3, 4], rtol=1e-6)
    assert nn.LayerNorm(np.int64(3)).normalized_shape == (3,)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"LayerNorm: input has shape \(2, 5\), which does not "
                                         r"end with normalized_shape \(8,\); expected an input "
                                         r"of shape \(\.\.\., 8\); make normalized_shape the "
                                         r"input's trailing shape, e\.g\. LayerNorm\(\(5,\)\) "
                                         r"for this input"):
        nn.LayerNorm(8)(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"input has shape \(2, 3, 4\), which does not end with "
                                         r"normalized_shape \(4, 3\); expected an input of "
                                         r"shape \(\.\.\., 4, 3\); .* LayerNorm\(\(3, 4\)\)"):
        nn.LayerNorm((4, 3))(tc.Value(np.ones((2, 3, 4))))
    with pytest.raises(ValueError, match=r"input has shape \(3,\), which does not end with "
                                         r"normalized_shape \(2, 3\)"):
        nn.LayerNorm((2, 3))(np.ones(3))                 # fewer axes than normalized_shape
    with pytest.raises(ValueError, match=r"input has shape \(\), .*; pass an array, not a "
                                         r"scalar"):
        nn.LayerNorm(1)(np.float64(2.0))
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape is \(\), which names no "
                                         r"axis; expected an int or a non-empty tuple of ints"):
        nn.LayerNorm(())
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape is 0; expected an "
                                         r"integer >= 1"):
        nn.LayerNorm((3, 0))
    with pytest.raises(TypeError, match=r"LayerNorm: normalized_shape is float 8\.0; expected "
                                        r"an integer >= 1"):
        nn.LayerNorm(8.0)
    for eps in (0, -1e-5, "1e-5", True):
        with pytest.raises(ValueError, match=r"LayerNorm: eps is .*; expected a small positive "
                                             r"number such as 1e-5"):
            nn.LayerNorm(4, eps=eps)


# ---------------------------------------------------------------- GroupNorm

# (input shape, num_groups): images, rows without positions, one group (the whole sample), one
# group per channel (instance norm), a batch of 1, one value per group (variance 0)
GROUP_CASES = [((2, 6, 3, 4), 3), ((3, 4), 2), ((2, 6, 5), 1), ((2, 4, 3, 3), 4),
               ((1, 6, 2, 2), 2), ((2, 3, 1, 1), 3)]


def group_norm_reference(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Loops over the samples and the groups: each group of C / num_groups adjacent channels of
    one sample normalised with its own mean and biased variance; then weight and bias per
    channel."""
    out = np.empty_like(x)
    size = x.shape[1] // num_groups
    for n in range(x.shape[0]):
        for g in range(num_groups):
            block = x[n, g * size:(g + 1) * size]
            out[n, g * size:(g + 1) * size] = (block - block.mean()) / np.sqrt(block.var() + eps)
    column = (-1,) + (1,) * (x.ndim - 2)                  # a channel's entry at its positions
    if weight is not None:
        out = out * weight.reshape(column)
    return out if bias is None else out + bias.reshape(column)


@pytest.mark.parametrize("shape, num_groups", GROUP_CASES)
def test_group_norm_forward_matches_the_loops(rng, shape, num_groups):
    channels = shape[1]
    x = rng.standard_normal(shape) * 3 + 2
    weight, bias = rng.uniform(0.5, 2, channels), rng.standard_normal(channels)
    layer = nn.GroupNorm(num_groups, channels, eps=1e-3)
    layer.weight, layer.bias = tc.Value(weight), tc.Value(bias)
    expected = group_norm_reference(x, num_groups, weight, bias, eps=1e-3)
    np.testing.assert_allclose(layer(tc.Value(x)).data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)    # an array too
    plain = nn.GroupNorm(num_groups, channels, affine=False)
    np.testing.assert_allclose(plain(x).data, group_norm_reference(x, num_groups),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tc.ops.group_norm(x, num_groups, bias=bias).data,
                               group_norm_reference(x, num_groups, np.ones(channels), bias),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, num_groups", GROUP_CASES)
def test_group_norm_gradcheck_and_gradgradcheck(rng, shape, num_groups):
    channels = shape[1]
    x = rng.standard_normal(shape)
    weight, bias = rng.uniform(0.5, 2, channels), rng.standard_normal(channels)

    def fn(x, weight, bias):
        return tc.ops.group_norm(x, num_groups, weight, bias, eps=1e-3)

    assert tc.gradcheck(fn, [x, weight, bias])
    assert tc.gradgradcheck(fn, [x, weight, bias])
    plain = nn.GroupNorm(num_groups, channels, affine=False)
    assert tc.gradcheck(plain, [x])
    assert tc.gradgradcheck(plain, [x])


def test_group_norm_one_group_is_layer_norm_and_one_per_channel_is_instance_norm(rng):
    x = rng.standard_normal((3, 4, 2, 5)) * 2 - 1
    np.testing.assert_allclose(nn.GroupNorm(1, 4, affine=False)(x).data,
                               nn.LayerNorm((4, 2, 5), elementwise_affine=False)(x).data,
                               rtol=1e-12, atol=1e-12)
    instance = nn.GroupNorm(4, 4, affine=False)(x).data
    np.testing.assert_allclose(instance.mean(axis=(2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(instance.var(axis=(2, 3)),
                               1 / (1 + 1e-5 / x.var(axis=(2, 3))), rtol=1e-12)
    layer = nn.GroupNorm(2, 4)
    np.testing.assert_allclose(layer(x[1:2]).data, layer(x).data[1:2], rtol=1e-12)  # per sample
    layer.eval()                                                          # no running statistics
    np.testing.assert_array_equal(layer(x).data, layer.train()(x).data)
    constant = layer(np.full((2, 4, 3), 7.0)).data                        # var 0: eps avoids 0/0
    np.testing.assert_array_equal(constant, np.zeros((2, 4, 3)))
    assert layer(np.zeros((0, 4, 3))).shape == (0, 4, 3)                 # an empty batch


def test_group_norm_float32_stays_float32(rng):
    layer = nn.GroupNorm(2, 6)
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, np.ones(6))
    np.testing.assert_array_equal(layer.bias.data, np.zeros(6))
    x = tc.Value(rng.standard_normal((2, 6, 3, 3)).astype(np.float32))
    out = layer(x)
    assert out.dtype == np.float32
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    expected = group_norm_reference(x.data.astype(np.float64), 2)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)


def test_group_norm_parameters_state_dict_and_repr():
    layer = nn.GroupNorm(2, 6)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert {name: array.shape for name, array in layer.state_dict().items()} == {
        "weight": (6,), "bias": (6,)}
    plain = nn.GroupNorm(3, 6, eps=1e-3, affine=False)
    assert list(plain.parameters()) == [] and list(plain.state_dict()) == []
    assert (layer.num_groups, layer.num_channels, layer.eps, layer.affine) == (2, 6, 1e-5, True)
    assert repr(layer) == "GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)"   # PyTorch's
    assert repr(plain) == "GroupNorm(3, 6, eps=0.001, affine=False, bias=False)"
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.ReLU())
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias"]


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels=6 is not divisible by "
                                         r"num_groups=4; expected num_groups to divide "
                                         r"num_channels; pick num_groups from the divisors of "
                                         r"6: 1, 2, 3, 6"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: num_groups is 0; expected an integer >= 1"):
        nn.GroupNorm(0, 6)
    with pytest.raises(TypeError, match=r"GroupNorm: num_channels is float 6\.0; expected an "
                                        r"integer >= 1"):
        nn.GroupNorm(2, 6.0)
    for eps in (0, -1e-5, "1e-5", True):
        with pytest.raises(ValueError, match=r"GroupNorm: eps is .*; expected a small positive "
                                             r"number such as 1e-5"):
            nn.GroupNorm(2, 6, eps=eps)
    with pytest.raises(ValueError, match=r"GroupNorm: input has shape \(2, 4, 5\); expected "
                                         r"\(N, 6, \.\.\.\), with num_channels=6 channels on "
                                         r"axis 1; make num_channels equal to the channels of "
                                         r"the layer before"):
        nn.GroupNorm(2, 6)(np.ones((2, 4, 5)))
    with pytest.raises(ValueError, match=r"GroupNorm: input has shape \(6,\)"):
        nn.GroupNorm(2, 6)(np.ones(6))
    x = np.ones((2, 6, 3))
    with pytest.raises(ValueError, match=r"group_norm: num_groups=4 does not divide the 6 "
                                         r"channels of the input \(2, 6, 3\) \(axis 1\); "
                                         r"expected a divisor of 6: 1, 2, 3, 6"):
        tc.ops.group_norm(x, 4)
    with pytest.raises(ValueError, match=r"group_norm: num_groups=0 does not divide"):
        tc.ops.group_norm(x, 0)
    with pytest.raises(TypeError, match=r"group_norm: num_groups is float 2\.0; expected an int "
                                        r">= 1 dividing the channels"):
        tc.ops.group_norm(x, 2.0)
    with pytest.raises(ValueError, match=r"group_norm: input has shape \(6,\); expected \(N, C\) "
                                         r"or \(N, C, \.\.\.\) with the channels on axis 1"):
        tc.ops.group_norm(np.ones(6), 2)
    with pytest.raises(ValueError, match=r"group_norm: bias has shape \(3,\) but the input "
                                         r"\(2, 6, 3\) has 6 channels \(axis 1\); expected bias "
                                         r"of shape \(6,\): one entry per channel"):
        tc.ops.group_norm(x, 2, np.ones(6), np.ones(3))
    with pytest.raises(ValueError, match=r"group_norm: input \(2, 6, 0\) has no values in its "
                                         r"groups; expected at least one value per group"):
        tc.ops.group_norm(np.ones((2, 6, 0)), 2)
    with pytest.raises(ValueError, match=r"group_norm: eps is 0; expected a small positive"):
        tc.ops.group_norm(x, 2, eps=0)


# ---------------------------------------------------------------- Embedding


@pytest.mark.parametrize("ids", [np.array([3, 0, 3, 6]), np.array([[1, 2, 1], [6, 0, 1]]),
                                 np.array([[[5]], [[5]]], dtype=np.uint8), np.array(4),
                                 np.zeros((2, 0), dtype=np.int32)],
                         ids=["1d-repeated", "2d-repeated", "3d-uint8", "0d", "empty"])
def test_embedding_forward_is_a_row_lookup_and_repeated_ids_add_up(rng, ids):
    layer = nn.Embedding(7, 4, rng=rng)
    check_lookup_and_gradient(layer, ids, rng)
    assert layer.weight.grad.dtype == np.float32


def check_lookup_and_gradient(layer, ids, rng):
    """layer(ids) is weight[ids]; through a random upstream gradient, each use of an id adds its
    share to that row's gradient, and the padding row (if any) gets none."""
    out = layer(ids)
    assert out.shape == ids.shape + (layer.embedding_dim,) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, layer.weight.data[ids])
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    expected = np.zeros(layer.weight.shape, np.float32)
    np.add.at(expected, ids, upstream)                   # each use of an id adds its gradient
    if layer.padding_idx is not None:
        expected[layer.padding_idx] = 0.0                # ... except the padding id's
    np.testing.assert_allclose(layer.weight.grad, expected, rtol=1e-6)


def test_embedding_forward_is_one_embedding_op_on_the_ids_and_the_weight(rng):
    layer = nn.Embedding(7, 4, padding_idx=-1, rng=rng)
    ids = tc.Value(np.array([[6, 1], [1, 6]]))
    out = layer(ids)
    assert out.fn.name == "Embedding" and out.fn.params == {"padding_idx": 6}
    assert out.parents == (ids, layer.weight)            # no constant copy, no where
    np.testing.assert_array_equal(out.data, tc.ops.embedding(ids, layer.weight, -1).data)


def test_embedding_takes_ints_lists_and_integer_values(rng):
    layer = nn.Embedding(5, 3, rng=rng)
    np.testing.assert_array_equal(layer(2).data, layer.weight.data[2])
    np.testing.assert_array_equal(layer(np.int64(2)).data, layer.weight.data[2])
    np.testing.assert_array_equal(layer([4, 0, 4]).data, layer.weight.data[[4, 0, 4]])
    ids = tc.Value(np.array([[1, 3]]))                   # an integer Value needs no grad
    assert not ids.requires_grad
    np.testing.assert_array_equal(layer(ids).data, layer.weight.data[[[1, 3]]])
    repeated = layer(np.array([1, 1, 1]))
    repeated.sum().backward()
    np.testing.assert_array_equal(layer.weight.grad[1], np.full(3, 3.0, np.float32))
    assert not layer.weight.grad[[0, 2, 3, 4]].any()


@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_gradcheck_and_gradgradcheck(rng, padding_idx):
    """With a padding_idx, ids that avoid it: at its positions the output is the padding row,
    whose gradient is zero by definition, which finite differences cannot agree with
    (tests/test_indexing.py checks those positions with the padding row held constant); its
    analytic gradient is zero whatever the ids."""
    layer = nn.Embedding(6, 3, padding_idx=padding_idx)
    ids = np.array([[0, 5, 2], [5, 5, 1]])              # integer: passed to fn unchanged

    def fn(ids, weight):
        layer.weight = weight
        return layer(ids)

    weight = rng.standard_normal((6, 3))
    assert tc.gradcheck(fn, [ids, weight])
    assert tc.gradgradcheck(fn, [ids, weight])
    if padding_idx is not None:
        weight = tc.Value(weight)
        (grad,) = tc.grad(fn(np.array([4, 0, 4]), weight).sum(), [weight])
        np.testing.assert_array_equal(grad.data[[0, 4]], [[1.0] * 3, [0.0] * 3])


def test_embedding_initialisation_is_standard_normal_from_the_generator():
    layer = nn.Embedding(10, 3, rng=np.random.default_rng(5))
    expected = np.random.default_rng(5).standard_normal((10, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer.weight.data, expected)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    tc.manual_seed(3)
    first = nn.Embedding(10, 3).weight.data
    tc.manual_seed(3)
    np.testing.assert_array_equal(nn.Embedding(10, 3).weight.data, first)
    big = nn.Embedding(1000, 100, rng=np.random.default_rng(0)).weight.data
    assert abs(big.mean()) < 0.01 and abs(big.std() - 1) < 0.01       # N(0, 1), PyTorch's


def test_embedding_parameters_state_dict_and_repr(rng):
    layer = nn.Embedding(10, 3, rng=rng)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert {name: array.shape for name, array in layer.state_dict().items()} == {
        "weight": (10, 3)}
    assert repr(layer) == "Embedding(10, 3)"
    assert (layer.num_embeddings, layer.embedding_dim) == (10, 3)
    other = nn.Embedding(10, 3, rng=np.random.default_rng(9))
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(other([1, 9]).data, layer([1, 9]).data)


def test_embedding_errors(rng):
    layer = nn.Embedding(10, 3, rng=rng)
    with pytest.raises(TypeError, match=r"Embedding: ids has dtype float64 with values in "
                                        r"\[1\.0, 7\.0\]; expected integer ids in \[0, 10\); "
                                        r"convert them with ids\.astype\(np\.int64\)"):
        layer(np.array([1.0, 7.0]))
    with pytest.raises(TypeError, match=r"Embedding: ids is a Value of dtype float32 that "
                                        r"requires grad; expected integer ids, which have no "
                                        r"gradient .*; pass an integer array such as "
                                        r"ids\.data\.astype\(np\.int64\)"):
        layer(tc.Value(np.array([1.0, 2.0], np.float32)))
    with pytest.raises(TypeError, match=r"ids has dtype float64 with values in \[2\.0, 2\.0\]"):
        layer(tc.Value(np.array([2.0]), requires_grad=False))
    with pytest.raises(TypeError, match=r"Embedding: ids has dtype bool; expected integer ids "
                                        r"in \[0, 10\)"):
        layer(np.array([True, False]))
    with pytest.raises(TypeError, match=r"ids has dtype <U1; expected integer ids"):
        layer(["a"])
    with pytest.raises(IndexError, match=r"Embedding: ids hold values in \[3, 10\] but the "
                                         r"table has num_embeddings=10 rows; expected ids in "
                                         r"\[0, 10\); make num_embeddings at least 11"):
        layer(np.array([[3, 10], [4, 5]]))
    with pytest.raises(IndexError, match=r"ids hold values in \[-1, 4\] but the table has "
                                         r"num_embeddings=10 rows; expected ids in \[0, 10\); "
                                         r"map the ids into range first \(negative ids do not "
                                         r"count from the end\)"):
        layer([4, -1])
    with pytest.raises(ValueError, match=r"Embedding: num_embeddings is 0; expected an integer "
                                         r">= 1"):
        nn.Embedding(0, 3)
    with pytest.raises(TypeError, match=r"Embedding: embedding_dim is float 3\.0; expected an "
                                        r"integer >= 1"):
        nn.Embedding(10, 3.0)


def test_embedding_max_norm_shortens_the_picked_rows_in_place_once():
    """Row 0 (norm 5) is picked twice and rescaled once, by 1 / (5 + 1e-7); row 1 (norm 0.5) is
    short enough; row 2 (norm 10) is not picked, so it keeps its length."""
    layer = nn.Embedding(3, 2, max_norm=1.0)
    layer.weight.data[...] = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]], np.float32)
    out = layer(np.array([0, 1, 0]))
    shortened = np.float32([3.0, 4.0]) * np.float32(1.0 / (5.0 + 1e-7))   # scale in float64
    np.testing.assert_array_equal(layer.weight.data, np.array(
        [shortened, [0.3, 0.4], [6.0, 8.0]], np.float32))
    np.testing.assert_array_equal(out.data, layer.weight.data[[0, 1, 0]])
    out.backward(np.ones((3, 2), np.float32))        # the lookup's gradient, rows added up
    np.testing.assert_array_equal(layer.weight.grad, [[2.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    before = layer.weight.data.copy()
    layer(np.array([0, 2]))                           # row 0 is short now: only row 2 changes
    np.testing.assert_array_equal(layer.weight.data[:2], before[:2])
    assert np.linalg.norm(layer.weight.data[2]) == pytest.approx(1.0, rel=1e-6)
    assert repr(layer) == "Embedding(3, 2, max_norm=1.0)"
    inf_norm = nn.Embedding(3, 2, padding_idx=0, max_norm=2, norm_type=np.inf)
    inf_norm.weight.data[...] = [[0.0, 0.0], [-4.0, 1.0], [1.0, 1.0]]
    inf_norm(np.array([1, 2]))                        # the largest |value| of row 1 is 4
    np.testing.assert_allclose(inf_norm.weight.data[1], [-2.0, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(inf_norm.weight.data[2], [1.0, 1.0])
    assert repr(inf_norm) == "Embedding(3, 2, padding_idx=0, max_norm=2.0, norm_type=inf)"


def test_embedding_max_norm_errors_and_their_fixes():
    with pytest.raises(ValueError, match=r"Embedding: max_norm is -1; expected a finite number "
                                         r">= 0 \(the longest a row may be\), e.g. "
                                         r"max_norm=1.0"):
        nn.Embedding(4, 2, max_norm=-1)
    with pytest.raises(ValueError, match=r"Embedding: norm_type is 0.0; expected a number > 0"):
        nn.Embedding(4, 2, max_norm=1.0, norm_type=0.0)
    with pytest.raises(TypeError, match=r"Embedding: max_norm is str '1'; expected a number "
                                        r">= 0"):
        nn.Embedding(4, 2, max_norm="1")
    # PyTorch's fourth argument is max_norm; here it is rng, as before max_norm came
    with pytest.raises(TypeError, match=r"Embedding: rng is float 1.0; expected a numpy "
                                        r"Generator or None; max_norm is keyword-only here: "
                                        r"pass max_norm=1.0"):
        nn.Embedding(4, 2, None, 1.0)
    assert nn.Embedding(4, 2, None, max_norm=1.0).max_norm == 1.0     # the fix
    frozen = np.ones((4, 2))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"embedding: weight is read-only, and max_norm "
                                         r"rescales its rows in place; expected a writable "
                                         r"table; pass a copy, e.g. "
                                         r"tc.Value\(np.array\(weight\)\)"):
        tc.ops.embedding([0, 1], frozen, max_norm=1.0)
    out = tc.ops.embedding([0, 1], tc.Value(np.array(frozen)), max_norm=1.0)    # the fix
    np.testing.assert_allclose(np.linalg.norm(out.data, axis=1), 1.0, rtol=1e-6)
    assert tc.ops.embedding([0, 1], frozen).shape == (2, 2)                     # or no max_norm


# ---------------------------------------------------------------- Embedding(padding_idx=...)


@pytest.mark.parametrize("padding_idx, row", [(2, 2), (0, 0), (-1, 6), (-7, 0)])
def test_embedding_padding_row_starts_at_zero_and_negative_ids_count_from_the_end(padding_idx,
                                                                                 row):
    layer = nn.Embedding(7, 4, padding_idx=padding_idx, rng=np.random.default_rng(5))
    assert layer.padding_idx == row                      # kept non-negative, as PyTorch's
    expected = np.random.default_rng(5).standard_normal((7, 4)).astype(np.float32)
    expected[row] = 0.0                                  # the same draws, that row zeroed
    np.testing.assert_array_equal(layer.weight.data, expected)
    assert layer.weight.dtype == np.float32
    assert repr(layer) == f"Embedding(7, 4, padding_idx={row})"


@pytest.mark.parametrize("ids", [np.array([3, 2, 3, 6, 2, 2]), np.array([[2, 2], [2, 2]]),
                                 np.array([[1, 2, 1], [6, 0, 2]], dtype=np.uint8), np.array(2),
                                 np.array(5), np.zeros((2, 0), dtype=np.int32)],
                         ids=["1d-mixed", "all-padding", "2d-uint8", "0d-padding", "0d-other",
                              "empty"])
def test_embedding_padding_row_gets_no_gradient_and_still_shows_its_values(rng, ids):
    layer = nn.Embedding(7, 4, padding_idx=2, rng=rng)
    layer.weight.data[2] = [1.5, -2.0, 0.25, 3.0]        # whatever the row holds is the output
    check_lookup_and_gradient(layer, ids, rng)
    assert not layer.weight.grad[2].any()


def test_embedding_padding_row_stays_put_under_an_optimizer(rng):
    layer = nn.Embedding(5, 3, padding_idx=-1, rng=rng)
    before = layer.weight.data.copy()
    opt = tc.optim.SGD(layer.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        (layer(np.array([[4, 1, 4], [0, 4, 1]])) ** 2).sum().backward()
        opt.step()
    np.testing.assert_array_equal(layer.weight.data[4], np.zeros(3, np.float32))
    assert not np.array_equal(layer.weight.data[1], before[1])        # the others learn


def test_embedding_with_padding_state_dict_and_repr(rng):
    layer = nn.Embedding(10, 3, padding_idx=0, rng=rng)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"]       # padding_idx is a setting, not state
    layer.weight.data[0] = 7.0
    other = nn.Embedding(10, 3, padding_idx=0, rng=np.random.default_rng(9))
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(other([0, 9]).data, [[7.0] * 3, layer.weight.data[9]])
    assert repr(nn.Embedding(10, 3, None)) == "Embedding(10, 3)"


def test_embedding_padding_idx_errors():
    for bad in (10, -11, 100):
        with pytest.raises(ValueError, match=rf"Embedding: padding_idx is {bad} but the table "
                                             rf"has num_embeddings=10 rows; expected "
                                             rf"padding_idx in \[-10, 10\) \(a negative one "
                                             rf"counts from the end\) or None"):
            nn.Embedding(10, 3, padding_idx=bad)
    for bad, shown in ((1.0, "float 1.0"), (True, "bool True"), ("0", "str '0'")):
        with pytest.raises(TypeError, match=rf"Embedding: padding_idx is {shown}; expected an "
                                            rf"int in \[-10, 10\) or None"):
            nn.Embedding(10, 3, bad)
    # the third place was rng's before padding_idx took PyTorch's position
    with pytest.raises(TypeError, match=r"Embedding: padding_idx is a Generator; expected an "
                                        r"int in \[-10, 10\) or None; pass the generator by "
                                        r"keyword, e\.g\. nn\.Embedding\(10, 3, rng=rng\)"):
        nn.Embedding(10, 3, np.random.default_rng(0))
    assert nn.Embedding(10, 3, np.int64(-1)).padding_idx == 9
