"""pixel_shuffle, pixel_unshuffle, channel_shuffle, unfold, fold and bilinear, and their layers;
Unflatten; the padding layers; ParameterList and ParameterDict. Forwards against numpy written
from the definitions (unfold and fold against the loops of tests/reference.py), gradcheck and
gradgradcheck in float64 through a random upstream gradient, fold as unfold's adjoint, state
dicts and optimizers of the parameter containers, and every error."""

from collections import OrderedDict

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops, optim
from tinygrad_cnn.gradcheck import gradgradcheck

# ------------------------------------------------------------ pixel_shuffle and channel_shuffle


def numpy_pixel_shuffle(x, r):
    """out[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w], element by element."""
    *lead, channels, height, width = x.shape
    out = np.empty((*lead, channels // (r * r), height * r, width * r))
    for c in range(channels // (r * r)):
        for i in range(r):
            for j in range(r):
                out[..., c, i::r, j::r] = x[..., c * r * r + i * r + j, :, :]
    return out


@pytest.mark.parametrize("shape, r", [((1, 4, 2, 3), 2), ((2, 18, 3, 1), 3), ((8, 2, 2), 2),
                                      ((2, 3, 4, 1, 1), 2), ((1, 5, 2, 2), 1)])
def test_pixel_shuffle_and_unshuffle(rng, shape, r):
    x = rng.standard_normal(shape)
    out = ops.pixel_shuffle(tc.Value(x), r)
    np.testing.assert_array_equal(out.data, numpy_pixel_shuffle(x, r))
    np.testing.assert_array_equal(ops.pixel_unshuffle(out, r).data, x)    # the inverse
    assert tc.gradcheck(lambda v: ops.pixel_shuffle(v, r), [x])
    assert gradgradcheck(lambda v: ops.pixel_shuffle(v * v, r), [x])
    assert tc.gradcheck(lambda v: ops.pixel_unshuffle(v, r), [out.data])
    assert gradgradcheck(lambda v: ops.pixel_unshuffle(v * v, r), [out.data])
    layer = nn.PixelShuffle(r)
    np.testing.assert_array_equal(layer(x).data, out.data)
    np.testing.assert_array_equal(nn.PixelUnshuffle(r)(out).data, x)
    assert repr(layer) == f"PixelShuffle(upscale_factor={r})"
    assert repr(nn.PixelUnshuffle(r)) == f"PixelUnshuffle(downscale_factor={r})"


def test_pixel_shuffle_of_an_empty_batch_keeps_its_shape():
    assert ops.pixel_shuffle(np.zeros((0, 8, 2, 3)), 2).shape == (0, 2, 4, 6)


@pytest.mark.parametrize("shape, groups", [((1, 6, 1), 2), ((2, 6, 2, 3), 3), ((2, 4, 1, 2, 2), 4),
                                           ((3, 5, 2), 1)])
def test_channel_shuffle(rng, shape, groups):
    x = rng.standard_normal(shape)
    k = shape[1] // groups
    # out channel i*groups + j is in channel j*k + i
    order = [j * k + i for i in range(k) for j in range(groups)]
    out = nn.ChannelShuffle(groups)(tc.Value(x))
    np.testing.assert_array_equal(out.data, x[:, order])
    assert tc.gradcheck(lambda v: ops.channel_shuffle(v, groups), [x])
    assert gradgradcheck(lambda v: ops.channel_shuffle(v * v, groups), [x])
    assert repr(nn.ChannelShuffle(groups)) == f"ChannelShuffle(groups={groups})"


def test_channel_shuffle_of_six_channels_in_two_groups():
    x = np.arange(6.0).reshape(1, 6, 1)
    assert ops.channel_shuffle(x, 2).data.ravel().tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize("call, error, message", [
    (lambda: ops.pixel_shuffle(np.ones((2, 3)), 2), ValueError,
     r"pixel_shuffle: input of shape \(2, 3\) with upscale_factor=2; expected \(\*, C\*r\*r, H, "
     r"W\), at least 3 axes with channels \(axis -3\) divisible by r\*r = 4"),
    (lambda: ops.pixel_shuffle(np.ones((1, 6, 2, 3)), 2), ValueError,
     r"input of shape \(1, 6, 2, 3\) with upscale_factor=2; expected .* divisible by r\*r = 4; "
     r"pass the output of a layer with a multiple of 4 channels"),
    (lambda: ops.pixel_unshuffle(np.ones((2, 4, 5)), 2), ValueError,
     r"pixel_unshuffle: input of shape \(2, 4, 5\) with downscale_factor=2; expected \(\*, C, "
     r"H\*r, W\*r\), at least 3 axes with height and width divisible by 2; crop or pad"),
    (lambda: ops.pixel_shuffle(np.ones((1, 4, 2, 2)), 0), ValueError,
     r"pixel_shuffle: upscale_factor is 0; expected an int >= 1"),
    (lambda: ops.pixel_unshuffle(np.ones((1, 4, 2, 2)), 2.0), TypeError,
     r"pixel_unshuffle: downscale_factor is float 2.0; expected an int >= 1"),
    (lambda: ops.channel_shuffle(np.ones((2, 4)), 2), ValueError,
     r"channel_shuffle: input of shape \(2, 4\) with groups=2; expected \(N, C, \*\), at least "
     r"3 axes with C \(axis 1\) divisible by groups"),
    (lambda: nn.ChannelShuffle(3)(np.ones((2, 4, 1))), ValueError,
     r"channel_shuffle: input of shape \(2, 4, 1\) with groups=3; expected"),
    (lambda: nn.PixelShuffle(0), ValueError, r"PixelShuffle: upscale_factor is 0; expected an "
                                             r"integer >= 1"),
    (lambda: nn.ChannelShuffle(True), TypeError, r"ChannelShuffle: groups is bool True"),
])
def test_shuffle_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------------------------ Unflatten


@pytest.mark.parametrize("shape, dim, sizes, expected", [
    ((3, 6), 1, (2, 3), (3, 2, 3)),
    ((3, 6), -1, (2, -1), (3, 2, 3)),
    ((4, 24, 5), 1, [2, 3, 4], (4, 2, 3, 4, 5)),
    ((6,), 0, (3, 2), (3, 2)),
])
def test_unflatten(rng, shape, dim, sizes, expected):
    x = rng.standard_normal(shape)
    layer = nn.Unflatten(dim, sizes)
    out = layer(tc.Value(x))
    np.testing.assert_array_equal(out.data, x.reshape(expected))
    assert tc.gradcheck(layer, [x])
    assert repr(layer) == f"Unflatten(dim={dim}, unflattened_size={sizes!r})"


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.Unflatten(1, (4, 3))(np.ones((3, 6))), ValueError,
     r"Unflatten: unflattened_size \(4, 3\) does not multiply to 6, the size of axis 1 of the "
     r"input of shape \(3, 6\); expected sizes whose product is 6"),
    (lambda: nn.Unflatten(2, (2, 3))(np.ones((3, 6))), ValueError,
     r"Unflatten: dim=2 is out of range for an input of shape \(3, 6\); expected -2 <= dim < 2"),
    (lambda: nn.Unflatten("a", (2, 3)), TypeError, r"Unflatten: dim is str 'a'; expected an int"),
    (lambda: nn.Unflatten(1, (-1, -1)), TypeError,
     r"Unflatten: unflattened_size is \(-1, -1\); expected a non-empty tuple or list of ints "
     r">= 0 \(one may be -1\)"),
    (lambda: nn.Unflatten(1, 6), TypeError, r"Unflatten: unflattened_size is 6; expected"),
])
def test_unflatten_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------------------- padding layers


PADS = [   # layer, input shape, numpy's pad_width (mode from the layer)
    (nn.ZeroPad1d(2), (2, 3, 4), ((0, 0), (0, 0), (2, 2))),
    (nn.ZeroPad2d((1, 0, 2, 3)), (1, 2, 3, 4), ((0, 0), (0, 0), (2, 3), (1, 0))),
    (nn.ConstantPad1d((0, 3), 1.5), (5,), ((0, 3),)),      # no batch, no channels
    (nn.ConstantPad2d((2, 1, 0, 1), -2.0), (2, 3, 4, 5, 2), ((0, 0),) * 3 + ((0, 1), (2, 1))),
    (nn.ReflectionPad1d((3, 1)), (2, 4), ((0, 0), (3, 1))),
    (nn.ReflectionPad2d((1, 2, 3, 0)), (2, 3, 4, 5), ((0, 0), (0, 0), (3, 0), (1, 2))),
    (nn.ReplicationPad1d((4, 0)), (1, 2, 3), ((0, 0), (0, 0), (4, 0))),
    (nn.ReplicationPad2d(2), (3, 2, 4), ((0, 0), (2, 2), (2, 2))),
    (nn.CircularPad1d((1, 3)), (2, 2, 3), ((0, 0), (0, 0), (1, 3))),
    (nn.CircularPad2d((0, 2, 3, 1)), (2, 3, 4), ((0, 0), (3, 1), (0, 2))),
]
NUMPY_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("layer, shape, pad_width", PADS, ids=[repr(p[0]) for p in PADS])
def test_padding_layers_are_numpy_pad_in_pytorchs_order(rng, layer, shape, pad_width):
    x = rng.standard_normal(shape)
    out = layer(tc.Value(x))
    if layer.mode == "constant":
        expected = np.pad(x, pad_width, constant_values=layer.value)
    else:
        expected = np.pad(x, pad_width, mode=NUMPY_MODES[layer.mode])
    np.testing.assert_array_equal(out.data, expected)
    assert tc.gradcheck(layer, [x])
    assert gradgradcheck(lambda v: layer(v * v), [x])


def test_negative_padding_crops_in_the_constant_modes(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out = nn.ZeroPad2d((-1, 2, 1, -2))(tc.Value(x))
    # columns: 1 cut on the left, 2 zeros on the right; rows: 1 zero on top, 2 cut at the bottom
    expected = np.pad(x[:, :, :-2, 1:], ((0, 0), (0, 0), (1, 0), (0, 2)))
    np.testing.assert_array_equal(out.data, expected)
    assert tc.gradcheck(nn.ConstantPad1d((-2, -1), 3.0), [x])
    assert nn.ConstantPad1d((-3, -2), 1.0)(x).shape == (2, 3, 4, 0)     # all cut: empty
    assert gradgradcheck(lambda v: nn.ZeroPad2d((-1, 2, 1, -2))(v * v), [x])


def test_padding_layer_reprs():
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ZeroPad1d((1, 2))) == "ZeroPad1d((1, 2))"
    assert repr(nn.ConstantPad2d((1, 2, 3, 4), 3.5)) == ("ConstantPad2d(padding=(1, 2, 3, 4), "
                                                         "value=3.5)")
    assert repr(nn.ConstantPad1d(2, 0)) == "ConstantPad1d(padding=(2, 2), value=0)"
    assert repr(nn.ReflectionPad2d([1, 2, 0, 1])) == "ReflectionPad2d((1, 2, 0, 1))"
    assert repr(nn.CircularPad1d(3)) == "CircularPad1d((3, 3))"


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.ReflectionPad2d((1, 2)), TypeError,
     r"ReflectionPad2d: padding is \(1, 2\); expected an int or a tuple of 4 ints \(left, "
     r"right, top, bottom\), as PyTorch's"),
    (lambda: nn.ZeroPad1d(1.5), TypeError,
     r"ZeroPad1d: padding is 1.5; expected an int or a tuple of 2 ints \(left, right\)"),
    (lambda: nn.ReplicationPad1d((-1, 2)), ValueError,
     r"ReplicationPad1d: padding \(-1, 2\) has a negative amount; expected amounts >= 0: only "
     r"the constant modes \(ZeroPad, ConstantPad\) crop"),
    (lambda: nn.ConstantPad2d(1, "zero"), TypeError,
     r"ConstantPad2d: value is str 'zero'; expected a real number"),
    (lambda: nn.ReflectionPad1d(1)(np.ones(3)), ValueError,
     r"ReflectionPad1d: input of shape \(3,\); expected 3 axes \(N, C, W\) or 2 \(one example\)"),
    (lambda: nn.CircularPad2d(1)(np.ones((1, 1, 1, 2, 3))), ValueError,
     r"CircularPad2d: input of shape \(1, 1, 1, 2, 3\); expected 4 axes \(N, C, H, W\) or 3"),
    (lambda: nn.ZeroPad2d(1)(np.ones(3)), ValueError,
     r"ZeroPad2d: input of shape \(3,\); expected at least 2 axes"),
    (lambda: nn.ReflectionPad1d(3)(np.ones((2, 3))), ValueError,
     r"ReflectionPad1d: padding \(3, 3\) does not fit the input of shape \(2, 3\) \(pad: "
     r"mode='reflect' .*\); expected an input larger along the padded axes"),
    (lambda: nn.ConstantPad1d((-2, -2), 0.0)(np.ones((2, 3))), ValueError,
     r"ConstantPad1d: padding \(-2, -2\) crops 4 elements off axis 1 of the input of shape "
     r"\(2, 3\), which has 3"),
])
def test_padding_layer_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -------------------------------------------------------------------------------- unfold, fold


UNFOLD = [   # x shape, kernel_size, dilation, padding, stride
    ((1, 1, 4, 4), 2, 1, 0, 1),
    ((2, 3, 5, 6), (2, 3), 1, 1, (2, 1)),
    ((2, 2, 7, 6), 3, (2, 1), (1, 2), 2),
    ((1, 2, 3, 4), (3, 4), 1, 0, 1),              # one block: the kernel as large as the image
    ((3, 1, 5, 5), 1, 1, 0, 3),                   # 1x1 blocks, stride past them
]


@pytest.mark.parametrize("shape, kernel_size, dilation, padding, stride", UNFOLD)
def test_unfold_and_fold_against_the_loops(rng, shape, kernel_size, dilation, padding, stride):
    settings = {"dilation": dilation, "padding": padding, "stride": stride}
    x = rng.standard_normal(shape)
    cols = ops.unfold(tc.Value(x), kernel_size, **settings)
    np.testing.assert_array_equal(cols.data, reference.unfold(x, kernel_size, **settings))
    c = rng.standard_normal(cols.shape)
    out = ops.fold(tc.Value(c), shape[2:], kernel_size, **settings)
    np.testing.assert_allclose(out.data, reference.fold(c, shape[2:], kernel_size, **settings),
                               rtol=1e-12, atol=1e-12)
    # the adjoint: <unfold(x), c> = <x, fold(c)>
    np.testing.assert_allclose((cols.data * c).sum(), (x * out.data).sum(), rtol=1e-12)


@pytest.mark.parametrize("shape, kernel_size, dilation, padding, stride", UNFOLD)
def test_unfold_and_fold_gradcheck_and_gradgradcheck(rng, shape, kernel_size, dilation, padding,
                                                     stride):
    settings = {"dilation": dilation, "padding": padding, "stride": stride}
    x = rng.standard_normal(shape)
    c = ops.unfold(x, kernel_size, **settings).data + rng.standard_normal(1)

    def unfold(v):
        return ops.unfold(v, kernel_size, **settings)

    def fold(v):
        return ops.fold(v, shape[2:], kernel_size, **settings)

    assert tc.gradcheck(unfold, [x]) and tc.gradcheck(fold, [c])
    assert gradgradcheck(lambda v: unfold(v * v), [x])
    assert gradgradcheck(lambda v: fold(v * v), [c])


def test_unfold_and_folds_backward_is_the_other_op(rng):
    x = tc.Value(rng.standard_normal((2, 3, 5, 6)))
    cols = ops.unfold(x, 3, padding=1, stride=2)
    (g,) = tc.grad(cols, [x], grad_output=tc.Value(rng.standard_normal(cols.shape)),
                  create_graph=True)
    assert g.fn.name == "Fold" and g.fn.params["output_size"] == (5, 6)
    out = ops.fold(cols, (5, 6), 3, padding=1, stride=2)
    (g,) = tc.grad(out, [cols], grad_output=tc.Value(rng.standard_normal(out.shape)),
                  create_graph=True)
    assert g.fn.name == "Unfold"


def test_conv2d_is_a_weight_matrix_times_unfold(rng):
    x, w, b = (rng.standard_normal(s) for s in [(2, 3, 6, 7), (4, 3, 3, 2), (4,)])
    cols = ops.unfold(x, (3, 2), padding=1, stride=2)                   # (N, C*KH*KW, L)
    out = (w.reshape(4, -1) @ cols).reshape((2, 4, 3, 4)) + b.reshape(4, 1, 1)
    np.testing.assert_allclose(out.data, ops.conv2d(x, w, b, stride=2, padding=1).data,
                               rtol=1e-12, atol=1e-12)


def test_fold_of_unfold_counts_each_pixel_once_per_block():
    counts = ops.fold(ops.unfold(np.ones((1, 1, 3, 4)), 2), (3, 4), 2).data[0, 0]
    assert counts.tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [1, 2, 2, 1]]


def test_unbatched_unfold_and_fold_and_their_layers(rng):
    x = rng.standard_normal((2, 5, 4))
    cols = nn.Unfold((2, 3), padding=1)(x)
    np.testing.assert_array_equal(cols.data, ops.unfold(x[None], (2, 3), padding=1).data[0])
    folded = nn.Fold((5, 4), (2, 3), padding=1)(cols)
    np.testing.assert_array_equal(folded.data, ops.fold(cols.data[None], (5, 4), (2, 3),
                                                        padding=1).data[0])
    assert tc.gradcheck(lambda v: ops.unfold(v, 2, stride=2), [x])
    assert gradgradcheck(lambda v: ops.fold(v * v, (5, 4), (2, 3), padding=1), [cols.data])
    assert repr(nn.Unfold(3)) == "Unfold(kernel_size=3, dilation=1, padding=0, stride=1)"
    assert repr(nn.Fold((4, 5), 2, stride=(1, 2))) == (
        "Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=0, stride=(1, 2))")


def test_unfold_keeps_float32():
    assert ops.unfold(np.ones((1, 2, 3, 3), dtype=np.float32), 2).dtype == np.float32
    assert ops.fold(np.ones((1, 8, 4), dtype=np.float32), 3, 2).dtype == np.float32


@pytest.mark.parametrize("call, error, message", [
    (lambda: ops.unfold(np.ones((5, 6)), 3), ValueError,
     r"unfold: input of shape \(5, 6\); expected a batch of images \(N, C, H, W\) or one image "
     r"\(C, H, W\)"),
    (lambda: ops.unfold(np.ones((2, 3, 2, 6)), 3), ValueError,
     r"unfold: input of shape \(2, 3, 2, 6\) has room for 0 x 4 blocks of kernel_size=\(3, 3\) "
     r"\(dilation=\(1, 1\), padding=\(0, 0\)\); expected at least one block along each axis"),
    (lambda: ops.unfold(np.ones((1, 1, 4, 4)), 0), ValueError,
     r"unfold: kernel_size is 0; expected an int >= 1 or an \(h, w\) pair of such ints"),
    (lambda: ops.unfold(np.ones((1, 1, 4, 4)), 2, padding=-1), ValueError,
     r"unfold: padding is -1; expected an int >= 0"),
    (lambda: ops.fold(np.ones((2, 26, 12)), (5, 6), 3), ValueError,
     r"fold: input of shape \(2, 26, 12\) has 26 rows \(axis -2\) for kernel_size=\(3, 3\); "
     r"expected a multiple of KH\*KW = 9"),
    (lambda: ops.fold(np.ones((2, 27, 13)), (5, 6), 3), ValueError,
     r"fold: input of shape \(2, 27, 13\) has 13 columns \(axis -1\), but output_size=\(5, 6\) "
     r"with kernel_size=\(3, 3\), dilation=\(1, 1\), padding=\(0, 0\) and stride=\(1, 1\) has "
     r"3 x 4 = 12 blocks; expected one column per block"),
    (lambda: ops.fold(np.ones((2, 27, 12, 1)), (5, 6), 3), ValueError,
     r"fold: input of shape \(2, 27, 12, 1\); expected columns \(N, C\*KH\*KW, L\) or "
     r"\(C\*KH\*KW, L\)"),
    (lambda: nn.Fold((5, 0), 3), ValueError, r"Fold: output_size is \(5, 0\); expected"),
    (lambda: nn.Unfold(3, stride=0), ValueError, r"Unfold: stride is 0; expected an int >= 1"),
])
def test_unfold_and_fold_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------------------------ bilinear


@pytest.mark.parametrize("lead", [(4,), (), (2, 3)])
def test_bilinear(rng, lead):
    x1, x2 = rng.standard_normal((*lead, 3)), rng.standard_normal((*lead, 2))
    w, b = rng.standard_normal((5, 3, 2)), rng.standard_normal(5)
    out = ops.bilinear(x1, x2, w, b)
    expected = np.zeros((*lead, 5))
    for o in range(5):          # x1^T A_o x2 + b_o, written out
        for i in range(3):
            for j in range(2):
                expected[..., o] += x1[..., i] * w[o, i, j] * x2[..., j]
        expected[..., o] += b[o]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(ops.bilinear, [x1, x2, w, b])
    assert gradgradcheck(ops.bilinear, [x1, x2, w, b])
    assert gradgradcheck(lambda a, c, v: ops.bilinear(a, c, v), [x1, x2, w])


def test_bilinear_layer_init_shapes_and_dtype(rng):
    layer = nn.Bilinear(3, 4, 5, rng=rng)
    assert layer.weight.shape == (5, 3, 4) and layer.bias.shape == (5,)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= 1 / np.sqrt(3)     # PyTorch's 1/sqrt(in1)
    assert np.abs(layer.weight.data).max() > 0.9 / np.sqrt(3)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    out = layer(rng.standard_normal((2, 3)), rng.standard_normal((2, 4)))   # float64 constants
    assert out.shape == (2, 5) and out.dtype == np.float32
    assert nn.Bilinear(3, 4, 5, bias=False).bias is None
    assert repr(layer) == "Bilinear(in1_features=3, in2_features=4, out_features=5, bias=True)"


@pytest.mark.parametrize("call, error, message", [
    (lambda: ops.bilinear(np.ones((2, 3)), np.ones((2, 5)), np.ones((5, 3, 4))), ValueError,
     r"bilinear: inputs of shapes \(2, 3\) and \(2, 5\) do not fit weight of shape \(5, 3, 4\); "
     r"expected x1 \(..., in1_features\), x2 \(..., in2_features\) with the same leading axes"),
    (lambda: ops.bilinear(np.ones((2, 7, 3)), np.ones((7, 4)), np.ones((5, 3, 4))), ValueError,
     r"bilinear: inputs of shapes \(2, 7, 3\) and \(7, 4\) do not fit"),
    (lambda: ops.bilinear(np.ones(3), np.ones(4), np.ones((5, 3, 4)), np.ones(6)), ValueError,
     r"bilinear: bias has shape \(6,\); expected \(5,\), one per output feature"),
    (lambda: nn.Bilinear(3, 0, 2), ValueError, r"Bilinear: in2_features is 0; expected an "
                                               r"integer >= 1"),
    (lambda: nn.Bilinear(3, 4, 5)(tc.Value(np.ones((2, 3))), np.ones((2, 4))), TypeError,
     r"bilinear: input has dtype float64 but the weight has dtype float32"),
])
def test_bilinear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ----------------------------------------------------------------- ParameterList, ParameterDict


class Mixture(nn.Module):
    """A weighted sum of scaled inputs: weights in a ParameterList, scales in a ParameterDict."""

    def __init__(self):
        self.weights = nn.ParameterList([np.full(3, 0.5), tc.Value(np.ones(3))])
        self.scales = nn.ParameterDict({"a": np.array(2.0), "b": np.array(-1.0)})

    def forward(self, x):
        return sum(w * x * s for w, s in zip(self.weights, self.scales.values(), strict=True))


def test_parameter_containers_register_their_parameters(rng):
    model = Mixture()
    assert [name for name, _ in model.named_parameters()] == ["weights.0", "weights.1",
                                                              "scales.a", "scales.b"]
    assert list(model.state_dict()) == ["weights.0", "weights.1", "scales.a", "scales.b"]
    x = rng.standard_normal(3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(x).sum().backward()
    np.testing.assert_allclose(model.weights[0].grad, 2.0 * x)
    np.testing.assert_allclose(model.scales["b"].grad, (x * 1.0).sum())
    opt.step()
    np.testing.assert_allclose(model.weights[0].data, 0.5 - 0.1 * 2.0 * x)
    np.testing.assert_allclose(model.scales["a"].data, 2.0 - 0.1 * (0.5 * x).sum())
    copy = Mixture()
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy.weights[0].data, model.weights[0].data)


def test_parameter_list_operations():
    a, b, c = (tc.Value(np.full(2, float(i))) for i in range(3))
    params = nn.ParameterList([a])
    params.append(b).extend([c])
    assert len(params) == 3 and list(params) == [a, b, c] and params[-1] is c
    sliced = params[1:]
    assert isinstance(sliced, nn.ParameterList) and list(sliced.state_dict()) == ["0", "1"]
    params[0] = np.zeros(4, dtype=np.float32)
    assert params[0].shape == (4,) and params[0].dtype == np.float32
    assert list(params.state_dict()) == ["0", "1", "2"]
    params += [np.ones(1)]
    assert len(params) == 4
    assert repr(nn.ParameterList([np.ones((3, 4), dtype=np.float32), np.ones(2)])) == (
        "ParameterList(\n    (0): Parameter containing: [float32 of size 3x4]\n"
        "    (1): Parameter containing: [float64 of size 2]\n)")
    assert repr(nn.ParameterList()) == "ParameterList()"


def test_parameter_dict_operations():
    params = nn.ParameterDict({"x": np.ones(2)})
    params["y"] = tc.Value(np.zeros(3))
    params.update([("z", np.ones(1)), ("x", np.full(2, 5.0))])    # x replaced, keeps its place
    assert list(params) == ["x", "y", "z"] and params["x"].data.tolist() == [5.0, 5.0]
    assert "y" in params and "w" not in params and len(params) == 3
    assert params.get("w") is None and params.get("y") is params["y"]
    y = params.pop("y")
    del params["z"]
    assert list(params.keys()) == ["x"] and y.shape == (3,)
    assert [k for k, _ in params.items()] == ["x"] and len(list(params.values())) == 1
    params.clear()
    assert len(params) == 0 and list(params.state_dict()) == []
    assert repr(nn.ParameterDict({"w": np.ones(2)})) == (
        "ParameterDict(  (w): Parameter containing: [float64 of size 2])")


def test_parameter_dict_setdefault_popitem_copy_fromkeys_reversed_and_or():
    w = tc.Value(np.ones(2, dtype=np.float32))
    params = nn.ParameterDict([("w", w)])
    assert params.setdefault("w", np.zeros(3)) is w                  # present: default unused
    b = params.setdefault("b", np.zeros(3))
    assert list(params) == ["w", "b"] and b is params["b"] and b.data.tolist() == [0, 0, 0]
    assert list(reversed(params)) == ["b", "w"]
    same = params.copy()
    assert isinstance(same, nn.ParameterDict) and list(same) == ["w", "b"]
    assert same["w"] is w and same["b"] is b                         # the same parameters
    del same["b"]
    assert list(params) == ["w", "b"]                                # a dict of its own
    assert params.popitem() == ("b", b) and list(params) == ["w"]
    start = np.arange(3, dtype=np.float32)
    fresh = params.fromkeys(["p", "q"], start)
    assert list(fresh) == ["p", "q"] and list(params) == ["w"]
    assert fresh["p"] is not fresh["q"] and fresh["p"].dtype == np.float32
    assert not np.shares_memory(fresh["p"].data, fresh["q"].data)
    assert not np.shares_memory(fresh["p"].data, start)
    fresh["p"].data += 1                                             # a step on one moves one
    assert fresh["q"].data.tolist() == [0, 1, 2]
    assert params.fromkeys(["r"], w)["r"] is not w                   # a Value's values, copied
    assert params.fromkeys(["s"], 2.5)["s"].data.tolist() == 2.5
    joined = params | nn.ParameterDict([("z", np.ones(1)), ("w", np.zeros(2))])
    assert list(joined) == ["w", "z"] and joined["w"].data.tolist() == [0, 0]
    assert params["w"] is w                                          # | makes a new dict
    plain = {"k": np.ones(1), "a": np.ones(1)} | params
    assert type(plain) is dict and list(plain) == ["k", "a", "w"] and plain["w"] is w
    params |= [("y", np.ones(1))]
    assert list(params) == ["w", "y"]
    with pytest.raises(KeyError, match=r"ParameterDict.popitem\(\): the dict is empty"):
        nn.ParameterDict().popitem()
    with pytest.raises(TypeError, match=r"ParameterDict: the value for 'n' is a NoneType; "
                                        r"expected a Value or a numeric numpy array"):
        params.setdefault("n")
    with pytest.raises(TypeError, match=r"ParameterDict.fromkeys: default is a str"):
        params.fromkeys(["a"], "zero")
    assert list(params) == ["w", "y"]


def test_parameter_dict_sorts_a_plain_dicts_keys_and_keeps_other_orders():
    """As PyTorch's update: a plain dict is added in sorted key order; an OrderedDict, a
    ParameterDict and a list of pairs keep their own; a key already present keeps its place."""
    ones = np.ones(1)
    assert list(nn.ParameterDict({"b": ones, "c": ones, "a": ones})) == ["a", "b", "c"]
    ordered = nn.ParameterDict(OrderedDict([("b", ones), ("c", ones), ("a", ones)]))
    assert list(ordered) == ["b", "c", "a"]
    assert list(nn.ParameterDict(ordered)) == ["b", "c", "a"]
    assert list(nn.ParameterDict([("b", ones), ("a", ones)])) == ["b", "a"]
    params = nn.ParameterDict([("x", ones)])
    params.update({"z": ones, "c": ones, "x": np.full(1, 5.0)})
    assert list(params) == ["x", "c", "z"] and params["x"].data.tolist() == [5.0]
    assert list(params.state_dict()) == ["x", "c", "z"]


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.ParameterList([tc.Value(np.ones(2)) * 2]), TypeError,
     r"ParameterList: value 0 is a Value computed by an op; expected a parameter \(a leaf Value "
     r"that requires grad\) or an array; pass tc.Value\(v.data\)"),
    (lambda: nn.ParameterList(["w"]), TypeError,
     r"ParameterList: value 0 is a str; expected a Value or a numeric numpy array"),
    (lambda: nn.ParameterList(tc.Value(np.ones(2))), TypeError,
     r"ParameterList: values is a Value; expected an iterable of Values or arrays"),
    (lambda: nn.ParameterList([np.ones(1)])[1], IndexError,
     r"ParameterList: index 1 is out of range for 1 parameters; expected -1 <= index < 1"),
    (lambda: nn.ParameterList([np.ones(1)])["0"], TypeError,
     r"ParameterList: index must be an int or a slice, got str '0'"),
    (lambda: nn.ParameterList()(np.ones(1)), NotImplementedError, r"ParameterList has no forward"),
    (lambda: nn.ParameterDict({"a.b": np.ones(1)}), KeyError,
     r"ParameterDict: key 'a.b'; expected a non-empty str without dots"),
    (lambda: nn.ParameterDict({"training": np.ones(1)}), KeyError,
     r"ParameterDict: key 'training'; expected .* not a Module attribute or method"),
    (lambda: nn.ParameterDict()["w"], KeyError,
     r"ParameterDict: no parameter under 'w'; the keys are \[\]"),
    (lambda: nn.ParameterDict({"w": tc.Value(np.ones(1), requires_grad=False)}), TypeError,
     r"ParameterDict: the value for 'w' is a Value made with requires_grad=False"),
])
def test_parameter_container_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_plain_list_of_parameters_points_to_parameter_list():
    class Listed(nn.Module):
        def __init__(self):
            self.ws = [tc.Value(np.ones(2))]

    with pytest.raises(TypeError, match=r"write self.ws = nn.ParameterList\(\[...\]\)"):
        Listed().state_dict()
