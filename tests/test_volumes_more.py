"""The rest of the volumetric set: conv_transpose3d, adaptive_max_pool3d and max_unpool3d, and
nn.ConvTranspose3d, AdaptiveMaxPool3d and MaxUnpool3d. Forward against the nested loops of
tests/reference.py, gradcheck and gradgradcheck in float64 through random upstream gradients,
conv_transpose3d as conv3d's transpose, the tie and duplicate-index rules, and the errors."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def distinct(rng, shape):
    """Values 0.01 apart in a random order: no ties for the maximum, no kinks within eps."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


# x (N, C_in, D, H, W), w (C_in, C_out / groups, KD, KH, KW), settings
TRANSPOSED = [
    ((1, 1, 2, 2, 2), (1, 1, 2, 2, 2), {}),
    ((2, 2, 2, 2, 1), (2, 1, 2, 2, 2), {"stride": (2, 1, 2), "padding": (1, 0, 1),
                                        "output_padding": (1, 0, 1)}),
    ((1, 4, 2, 1, 2), (4, 1, 2, 1, 2), {"groups": 2, "dilation": (2, 1, 1)}),
    # output_padding 2 >= stride 1, which dilation 3 allows: slices past x's last one
    ((1, 1, 2, 2, 1), (1, 2, 2, 1, 2), {"dilation": (3, 1, 1), "output_padding": (2, 0, 0)}),
]


def settings_triples(settings: dict) -> dict:
    """The settings as triples, for the loops."""
    triples = {k: settings.get(k, d) for k, d in
               (("stride", (1, 1, 1)), ("padding", (0, 0, 0)), ("output_padding", (0, 0, 0)),
                ("dilation", (1, 1, 1)))}
    return triples | {"groups": settings.get("groups", 1)}


@pytest.mark.parametrize("x_shape, w_shape, settings", TRANSPOSED)
def test_conv_transpose3d_matches_the_loops_and_gradchecks(rng, x_shape, w_shape, settings):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * settings.get("groups", 1))
    out = ops.conv_transpose3d(tc.Value(x), tc.Value(w), tc.Value(b), **settings)
    expected = reference.conv_transpose3d(x, w, b, **settings_triples(settings))
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)

    def transposed(x, w, b):
        return (ops.conv_transpose3d(x, w, b, **settings) * upstream).sum()

    assert tc.gradcheck(transposed, [x, w, b])
    assert tc.gradgradcheck(lambda x, w, b: ops.conv_transpose3d(x, w, b, **settings),
                            [x, w, b], fast=True)


@pytest.mark.parametrize("settings", [
    {"stride": 2, "padding": 1},
    {"stride": (1, 2, 3), "dilation": (2, 1, 2), "groups": 2},
])
def test_conv_transpose3d_is_conv3ds_input_gradient(rng, settings):
    """<conv_transpose3d(g, w), u> = <g, conv3d(u, w)>: the transpose of conv3d with the same
    weight, read as conv3d's (C_out, C_in / groups, KD, KH, KW); output_padding gives back the
    rows that conv3d's last windows left out."""
    w = rng.standard_normal((4, 2 // settings.get("groups", 1), 2, 3, 2))
    u = tc.Value(rng.standard_normal((2, 2, 5, 6, 5)))
    out = ops.conv3d(u, w, **settings)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    steps, pads, spread = (np.broadcast_to(settings.get(k, d), 3) for k, d in
                           (("stride", 1), ("padding", 0), ("dilation", 1)))
    left_out = tuple(int(n - ((o - 1) * s - 2 * p + d * (k - 1) + 1)) for n, o, s, p, d, k in
                     zip(u.shape[2:], out.shape[2:], steps, pads, spread, w.shape[2:],
                         strict=True))
    assert any(left_out)
    back = ops.conv_transpose3d(g, w, output_padding=left_out, **settings)
    np.testing.assert_allclose(back.data, u.grad, rtol=1e-12, atol=1e-12)


def test_conv_transpose3d_unbatched_volume_is_a_batch_of_one(rng):
    x, w = rng.standard_normal((2, 2, 1, 2)), rng.standard_normal((2, 1, 2, 2, 2))
    out = ops.conv_transpose3d(tc.Value(x), tc.Value(w), stride=2, padding=(1, 0, 0))
    expected = reference.conv_transpose3d(x[None], w, stride=(2, 2, 2), padding=(1, 0, 0))[0]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradgradcheck(lambda x, w: ops.conv_transpose3d(x, w, stride=2, padding=(1, 0, 0)),
                            [x, w], fast=True)


# x (N, C, D, H, W), output_size
ADAPTIVE = [
    ((1, 2, 3, 5, 4), (2, 3, 3)),          # bins of different sizes, overlapping
    ((2, 1, 4, 2, 4), (2, 1, 2)),          # equal bins
    ((1, 1, 2, 3, 2), (3, None, 4)),       # more bins than elements; None keeps H
]


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE)
def test_adaptive_max_pool3d_matches_the_loops_and_gradchecks(rng, x_shape, output_size):
    x = distinct(rng, x_shape)
    out, indices = ops.adaptive_max_pool3d(tc.Value(x), output_size, return_indices=True)
    sizes = [n if o is None else o
             for n, o in zip(x_shape[2:], output_size, strict=True)]
    expected, their_indices = reference.adaptive_max_pool3d(x, sizes)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(indices.data, their_indices)
    assert indices.dtype == np.int64 and not indices.requires_grad
    upstream = rng.standard_normal(out.shape)
    assert tc.gradcheck(lambda x: (ops.adaptive_max_pool3d(x, output_size) * upstream).sum(),
                        [x])
    assert tc.gradgradcheck(lambda x: ops.adaptive_max_pool3d(x, output_size), [x], fast=True)


def test_adaptive_max_pool3d_ties_nans_and_overlapping_bins(rng):
    """Ties go to the bin's first maximum in row-major order, a NaN is its bin's maximum (the
    last NaN), and an element that is the maximum of overlapping bins gets their sum."""
    x = np.maximum(rng.integers(-2, 2, (2, 2, 3, 4, 5)), 0).astype(np.float64)
    x[0, 0, 1, 2, 3] = x[1, 1, 2, 0, 0] = x[1, 1, 0, 3, 4] = np.nan
    out, indices = ops.adaptive_max_pool3d(x, (2, 3, 4), return_indices=True)
    expected, their_indices = reference.adaptive_max_pool3d(x, (2, 3, 4))
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(indices.data, their_indices)
    ones = tc.Value(np.ones((1, 1, 3, 3, 3)))
    out = ops.adaptive_max_pool3d(ones, 2)                 # bins [0, 2), [1, 3) on every axis
    out.backward(np.arange(1.0, 9.0).reshape(out.shape))
    expected = np.zeros((3, 3, 3))
    for s, i, j in np.ndindex(2, 2, 2):                    # each bin's first element
        expected[s, i, j] += 1 + (s * 2 + i) * 2 + j
    np.testing.assert_array_equal(ones.grad[0, 0], expected)


# x (N, C, D, H, W), kernel, stride, padding, output_size
UNPOOLS = [
    ((1, 2, 4, 4, 2), 2, None, 0, None),
    ((2, 1, 3, 5, 4), (2, 3, 2), (1, 2, 2), (1, 1, 0), (3, 5, 4)),    # padded, overlapping
    ((1, 1, 5, 4, 5), 2, None, 0, (5, 4, 5)),     # the pool left a slice and a column out
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, output_size", UNPOOLS)
def test_max_unpool3d_matches_the_loops_and_gradchecks(rng, x_shape, kernel, stride, padding,
                                                       output_size):
    x = distinct(rng, x_shape)
    pooled, indices = ops.max_pool3d(x, kernel, stride, padding, return_indices=True)
    values = rng.standard_normal(pooled.shape)
    out = ops.max_unpool3d(tc.Value(values), indices, kernel, stride, padding, output_size)
    triple = np.broadcast_to
    size = output_size or tuple(int((n - 1) * s - 2 * p + k) for n, s, p, k in zip(
        pooled.shape[2:], triple(stride or kernel, 3), triple(padding, 3), triple(kernel, 3),
        strict=True))
    np.testing.assert_array_equal(out.data, reference.max_unpool3d(values, indices.data, size))
    assert out.shape == (*x_shape[:2], *size)
    upstream = rng.standard_normal(out.shape)

    def unpool(v):
        return ops.max_unpool3d(v, indices, kernel, stride, padding, output_size)

    assert tc.gradcheck(lambda v: (unpool(v) * upstream).sum(), [values])
    assert tc.gradgradcheck(unpool, [values])


def test_max_unpool3d_round_trip_duplicates_and_unbatched(rng):
    """Back at the pool's places; of duplicate indices (overlapping windows sharing a maximum)
    the last in x's row-major order is written and gets the gradient; one volume unpools as a
    batch of one."""
    x = tc.Value(distinct(rng, (2, 2, 4, 4, 4)))
    pooled, indices = ops.max_pool3d(x, 2, return_indices=True)
    back = ops.max_unpool3d(pooled, indices, 2)
    np.testing.assert_array_equal(back.data, np.where(back.data != 0, x.data, 0))
    assert np.count_nonzero(back.data) == pooled.data.size
    back.backward(np.ones(back.shape))
    assert x.grad.sum() == pooled.data.size                 # each maximum's own gradient
    values = tc.Value(np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 1, 3))
    duplicates = np.array([4, 7, 4]).reshape(1, 1, 1, 1, 3)
    out = ops.max_unpool3d(values, duplicates, (2, 2, 1))          # into (2, 2, 3)
    np.testing.assert_array_equal(out.data.ravel(), [0, 0, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0])
    out.backward(np.arange(12.0).reshape(out.shape))
    np.testing.assert_array_equal(values.grad.ravel(), [0, 7, 4])
    volume, places = pooled.data[1], indices.data[1]
    np.testing.assert_array_equal(ops.max_unpool3d(volume, places, 2).data, back.data[1])


def test_layers_run_their_ops_keep_float32_and_pytorchs_range(rng):
    tc.manual_seed(0)
    up = nn.ConvTranspose3d(4, 6, (3, 2, 3), stride=2, padding=1, groups=2)
    assert up.weight.shape == (4, 3, 3, 2, 3) and up.weight.dtype == np.float32
    bound = 1 / np.sqrt(3 * 18)                     # PyTorch's: fan_in = C_out/groups*KD*KH*KW
    assert np.abs(up.weight.data).max() <= bound and np.abs(up.bias.data).max() <= bound
    assert np.abs(up.weight.data).max() > 0.9 * bound
    x = rng.standard_normal((2, 4, 2, 3, 2)).astype(np.float32)
    out = up(tc.Value(x))
    assert out.shape == (2, 6, 3, 4, 3) and out.dtype == np.float32
    assert up(x, output_size=(4, 5, 4)).shape == (2, 6, 4, 5, 4)
    assert up(x[0], output_size=(6, 4, 5, 4)).shape == (6, 4, 5, 4)
    pooled, indices = nn.AdaptiveMaxPool3d((1, 2, 3), return_indices=True)(out)
    back = nn.MaxUnpool3d((3, 2, 1))(pooled, indices, out.shape)
    assert back.shape == out.shape and back.dtype == np.float32
    back.sum().backward()
    assert up.weight.grad.dtype == np.float32 and up.weight.grad.shape == up.weight.shape


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.conv_transpose3d(np.ones((1, 2, 2, 2, 2)), np.ones((2, 3, 2, 2))), ValueError,
     r"conv_transpose3d: weight has shape \(2, 3, 2, 2\); expected a 5-D weight \(C_in, C_out, "
     r"KD, KH, KW\)"),
    (lambda: ops.conv_transpose3d(np.ones((1, 3, 2, 2, 2)), np.ones((2, 3, 2, 2, 2))),
     ValueError, r"conv_transpose3d: input has 3 channels but weight expects 2 \(input \(1, 3, "
                 r"2, 2, 2\), weight \(2, 3, 2, 2, 2\)\); expected equal C_in"),
    (lambda: ops.conv_transpose3d(np.ones((2, 2, 2)), np.ones((2, 3, 2, 2, 2))), ValueError,
     r"conv_transpose3d: input has shape \(2, 2, 2\); expected a 5-D input \(N, C_in, D, H, W\) "
     r"or a 4-D one \(C_in, D, H, W\) with C_in = 2"),
    (lambda: ops.conv_transpose3d(np.ones((1, 2, 2, 2, 2)), np.ones((2, 3, 2, 2, 2)),
                                  stride=(2, 1, 2), output_padding=(1, 1, 0)), ValueError,
     r"conv_transpose3d: output_padding \(1, 1, 0\) is not smaller than stride \(2, 1, 2\) or "
     r"dilation 1; expected each output_padding < max\(its stride, its dilation\), as PyTorch; "
     r"e.g. output_padding=\(1, 0, 1\)"),
    (lambda: ops.conv_transpose3d(np.ones((1, 2, 1, 2, 2)), np.ones((2, 3, 2, 2, 2)),
                                  padding=(1, 0, 0)), ValueError,
     r"conv_transpose3d: the output would be 0x3x3 \(input \(1, 2, 1, 2, 2\), kernel 2x2x2, "
     r"stride 1, padding \(1, 0, 0\)\); expected at least 1x1x1; use less padding"),
    (lambda: ops.conv_transpose3d(np.ones((1, 3, 2, 2, 2)), np.ones((3, 1, 2, 2, 2)), groups=2),
     ValueError, r"conv_transpose3d: groups=2 does not divide the 3 input channels C_in"),
    (lambda: ops.conv_transpose3d(np.ones((1, 2, 2, 2, 2)), np.ones((2, 1, 2, 2, 2)),
                                  np.ones(3)), ValueError,
     r"conv_transpose3d: bias has shape \(3,\); expected \(1,\), one per output channel"),
    (lambda: ops.adaptive_max_pool3d(np.ones((1, 1, 4, 4, 4)), (2, 0, 2)), ValueError,
     r"adaptive_max_pool3d: output_size \(2, 0, 2\) has a size below 1; expected an int or a "
     r"triple \(OD, OH, OW\) of ints >= 1"),
    (lambda: ops.adaptive_max_pool3d(np.ones((1, 1, 4, 0, 4)), 2), ValueError,
     r"adaptive_max_pool3d: input has shape \(1, 1, 4, 0, 4\), an empty volume; expected D, H "
     r"and W >= 1"),
    (lambda: ops.adaptive_max_pool3d(np.ones((4, 4, 4)), 2), ValueError,
     r"adaptive_max_pool3d: input has shape \(4, 4, 4\); expected a 5-D input \(N, C, D, H, W\) "
     r"or a 4-D one \(C, D, H, W\); for one volume \(D, H, W\) use x.reshape\(1, 4, 4, 4\)"),
    (lambda: ops.adaptive_max_pool3d(np.ones((1, 1, 4, 4, 4)), 2, return_indices=1), TypeError,
     r"adaptive_max_pool3d: return_indices is int 1; expected True or False"),
    (lambda: ops.max_unpool3d(np.ones((1, 1, 2, 2, 2)), np.zeros((1, 1, 2, 2, 2)), 2),
     TypeError, r"max_unpool3d: indices have dtype float64; expected integers .* pass the "
                r"indices that max_pool3d returned"),
    (lambda: ops.max_unpool3d(np.ones((1, 1, 2, 2, 2)), np.zeros((1, 1, 2, 2), int), 2),
     ValueError, r"max_unpool3d: indices have shape \(1, 1, 2, 2\) but the input has shape "
                 r"\(1, 1, 2, 2, 2\); expected equal shapes"),
    (lambda: ops.max_unpool3d(np.ones((1, 1, 1, 1, 2)), np.array([[[[[0, 20]]]]]), 2),
     ValueError, r"max_unpool3d: indices hold values in \[0, 20\], but the output's volumes have "
                 r"2x2x4 = 16 places; expected indices in \[0, 16\)"),
    (lambda: ops.max_unpool3d(np.ones((1, 1, 2, 2, 2)), np.zeros((1, 1, 2, 2, 2), int), 2,
                              output_size=(4, 4, 6)), ValueError,
     r"max_unpool3d: output_size \(4, 4, 6\) asks for 4x4x6, but PyTorch takes sizes within "
     r"stride - 1 of the default 4x4x4"),
    (lambda: nn.ConvTranspose3d(2, 4, 3, 2, 0, 1, 2), TypeError,
     r"ConvTranspose3d: bias is int 2; expected True or False; pass groups .* by keyword"),
    (lambda: nn.ConvTranspose3d(2, 4, 3, stride=2, output_padding=2), ValueError,
     r"ConvTranspose3d: output_padding=2 is not smaller than stride=2 or dilation=1"),
    (lambda: nn.ConvTranspose3d(2, 4, (3, 3)), ValueError,
     r"ConvTranspose3d: kernel_size is \(3, 3\); expected an int >= 1 or a \(d, h, w\) triple"),
    (lambda: nn.ConvTranspose3d(2, 4, 2, stride=2)(np.ones((1, 2, 2, 2, 2)),
                                                   output_size=(6, 4, 4)), ValueError,
     r"ConvTranspose3d: output_size \(6, 4, 4\) asks for 6x4x4, but the input of shape "
     r"\(1, 2, 2, 2, 2\) gives at stride \(2, 2, 2\) from \(4, 4, 4\)"),
    (lambda: nn.ConvTranspose3d(3, 4, 2, groups=2), ValueError, r"ConvTranspose3d: groups=2"),
    (lambda: nn.AdaptiveMaxPool3d((1, 2)), ValueError,
     r"AdaptiveMaxPool3d: output_size \(1, 2\) has 2 entries"),
    (lambda: nn.MaxUnpool3d((2, 2)), ValueError,
     r"MaxUnpool3d: kernel_size is \(2, 2\); expected an int >= 1 or a \(d, h, w\) triple"),
])
def test_errors_say_what_was_wrong_and_what_to_do(call, error, match):
    with pytest.raises(error, match=match):
        call()
