"""conv2d, conv_transpose2d and conv2d_weight: forward against the nested-loop oracles, gradients
and second derivatives by finite differences, the three ops as each other's derivatives, dtypes,
the input gradient that is skipped when the input needs none, and every user error; grouped and
depthwise conv2d and conv_transpose2d against the ordinary ones with a block-diagonal weight,
and groups=1 recording the same single op; dilated conv2d, conv_transpose2d (output_padding up
to the dilation) and conv2d_weight against the dilated loops, by finite differences to second
order (at stride 1, by phases too, conv1d as well), dilation recorded only when not 1, and its
errors; conv1d (stride, padding with "same"
and "valid", dilation, groups; batched and unbatched) against 1-D loops and by finite
differences, the conv2d graph it records, and its errors in its own 1-D terms; unbatched
conv2d as a batch of one, and padding "same"/"valid" taken by the op."""

import ast
import re

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn.ops import conv_kernels


def test_reference_conv2d_by_hand():
    # the oracle itself: a 3x3 image, a 2x2 kernel, bias 1, stride 1, then padding 1 stride 2
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    np.testing.assert_array_equal(reference.conv2d(x, w, np.array([1.0])),
                                  [[[[1 + 0 - 4, 1 + 1 - 5], [1 + 3 - 7, 1 + 4 - 8]]]])
    np.testing.assert_array_equal(reference.conv2d(x, w, stride=2, padding=1),
                                  [[[[0.0, -2.0], [-6.0, 4.0 - 8.0]]]])


def test_reference_conv_transpose2d_by_hand():
    # each input element stamps the kernel, scaled, at (i*stride, j*stride); overlaps add
    x = np.array([[[[1.0, 2.0]]]])
    w = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    np.testing.assert_array_equal(reference.conv_transpose2d(x, w),
                                  [[[[1.0, 10.0 + 2.0, 20.0], [100.0, 1000.0 + 200.0, 2000.0]]]])
    np.testing.assert_array_equal(reference.conv_transpose2d(x, w, stride=2, output_padding=1),
                                  [[[[1, 10, 2, 20, 0], [100, 1000, 200, 2000, 0],
                                     [0, 0, 0, 0, 0]]]])


# x (N, C_in, H, W), w (C_out, C_in, KH, KW), stride, padding
CONFIGS = [
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0),              # batch 1, one channel
    ((2, 3, 6, 7), (4, 3, 2, 3), 1, 0),              # batch > 1, C > 1, non-square image/kernel
    ((2, 2, 7, 9), (3, 2, 3, 2), 2, 1),              # stride 2, padding 1
    ((1, 2, 8, 7), (2, 2, 3, 3), 3, 2),              # stride 3, padding 2
    ((2, 3, 5, 6), (2, 3, 4, 3), (2, 3), (1, 0)),    # stride and padding as (h, w) pairs
    ((3, 2, 4, 4), (2, 2, 4, 4), 1, 0),              # kernel as large as the image
    ((2, 2, 5, 6), (3, 2, 7, 8), 1, 1),              # kernel as large as the padded image
    ((2, 1, 6, 5), (3, 1, 1, 1), 1, 0),              # 1x1 kernel
    ((1, 1, 28, 28), (8, 1, 10, 10), 1, 0),          # the seed's first layer, 28 -> 19
    ((2, 8, 12, 11), (3, 8, 10, 10), 1, 0),          # many channels, 10x10 kernel
    ((1, 2, 7, 16), (2, 2, 3, 6), 1, 0),             # wide kernel: tiles of 6 outputs, 1 spare
    ((1, 1, 5, 30), (2, 1, 2, 12), 2, 1),            # wide kernel, stride 2: tiles of 6
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_matches_nested_loops(rng, x_shape, w_shape, stride, padding, bias):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    out = tc.ops.conv2d(tc.Value(x), tc.Value(w), None if b is None else tc.Value(b),
                        stride=stride, padding=padding)
    expected = reference.conv2d(x, w, b, stride=stride, padding=padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


GRAD_CONFIGS = [
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0),
    ((2, 3, 6, 7), (4, 3, 2, 3), 1, 0),
    ((2, 2, 7, 6), (3, 2, 3, 2), 2, 1),
    ((1, 2, 8, 7), (2, 2, 3, 3), 3, 2),
    ((2, 2, 5, 6), (2, 2, 4, 3), (2, 3), (1, 2)),
    ((2, 2, 4, 5), (2, 2, 6, 7), 1, 1),              # kernel as large as the padded image
    ((1, 2, 7, 16), (2, 2, 3, 6), 1, 0),             # wide kernels: several tiles of outputs
    ((1, 1, 5, 30), (2, 1, 2, 12), 2, 1),
    ((2, 2, 8, 9), (2, 2, 6, 7), 1, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GRAD_CONFIGS)
def test_gradcheck(rng, x_shape, w_shape, stride, padding):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])

    def conv(x, w, b):
        return tc.ops.conv2d(x, w, b, stride=stride, padding=padding)

    assert tc.gradcheck(conv, [x, w, b])


# small cases: gradgradcheck differentiates every element of every input and of the upstream
GRADGRAD_CONFIGS = [
    ((1, 1, 4, 4), (1, 1, 2, 2), 1, 0),              # batch 1
    ((2, 2, 5, 4), (3, 2, 3, 2), 2, 1),              # batch and channels, stride 2, padding 1
    ((1, 2, 4, 5), (2, 2, 3, 3), (2, 1), (1, 2)),    # (h, w) pairs, rows no window reads
    ((2, 1, 3, 3), (2, 1, 3, 3), 1, 0),              # kernel as large as the image
    ((1, 1, 3, 13), (2, 1, 2, 7), 1, 0),             # a wide kernel: the tiled algorithms
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GRADGRAD_CONFIGS)
def test_conv2d_gradgradcheck(rng, x_shape, w_shape, stride, padding):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    assert tc.gradgradcheck(lambda x, w, b: tc.ops.conv2d(x, w, b, stride=stride, padding=padding),
                         [x, w, b])


def test_gradcheck_through_two_convolutions(rng):
    # the second convolution reads the first one's channels-last output, and hands a
    # channels-first-per-channel gradient back: the layouts of a real network
    x = rng.standard_normal((2, 2, 9, 8))
    w1, w2 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal((2, 3, 4, 2))

    def net(x, w1, w2):
        return tc.ops.conv2d(tc.ops.conv2d(x, w1, padding=1), w2, stride=(2, 1))

    assert tc.gradcheck(net, [x, w1, w2])


def test_gradients_with_a_frozen_weight_and_no_bias(rng):
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    assert tc.gradcheck(lambda x: tc.ops.conv2d(x, w, stride=2, padding=1), [x])


# x (N, C_in, H, W), w (C_in, C_out, KH, KW), stride, padding, output_padding
TRANSPOSED = [
    ((1, 1, 3, 3), (1, 1, 2, 2), 1, 0, 0),           # batch 1, one channel
    ((2, 3, 4, 5), (3, 2, 3, 2), 2, 1, 1),           # batch, channels, stride, padding, extra
    ((2, 2, 3, 4), (2, 3, 4, 3), (2, 3), (1, 0), (1, 2)),   # (h, w) pairs
    ((1, 2, 2, 3), (2, 2, 10, 10), 1, 0, 0),         # a 10x10 kernel: the tiled algorithm
    ((2, 1, 1, 1), (1, 2, 3, 3), 1, 1, 0),           # one pixel in, padding eats the border
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra", TRANSPOSED)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_matches_nested_loops(rng, x_shape, w_shape, stride, padding, extra,
                                               bias):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1]) if bias else None
    out = tc.ops.conv_transpose2d(x, tc.Value(w), b, stride=stride, padding=padding,
                                  output_padding=extra)
    expected = reference.conv_transpose2d(x, w, b, stride, padding, extra)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra", TRANSPOSED)
def test_conv_transpose2d_gradcheck_and_gradgradcheck(rng, x_shape, w_shape, stride, padding,
                                                      extra):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1])

    def transposed(x, w, b):
        return tc.ops.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                       output_padding=extra)

    assert tc.gradcheck(transposed, [x, w, b])
    if w_shape[2] < 10:           # the 10x10 case is slow by finite differences of gradients
        assert tc.gradgradcheck(transposed, [x, w, b])


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GRAD_CONFIGS[:5])
def test_the_three_ops_are_each_others_derivatives(rng, x_shape, w_shape, stride, padding):
    x, w = tc.Value(rng.standard_normal(x_shape)), tc.Value(rng.standard_normal(w_shape))
    out = tc.ops.conv2d(x, w, stride=stride, padding=padding)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    # dx is the transposed convolution of g with the very same w; output_padding recovers the
    # rows and columns of x that no window reads
    leftover = tuple((x.shape[2 + a] + 2 * p - w.shape[2 + a]) % s
                     for a, s, p in zip((0, 1), np.broadcast_to(stride, 2),
                                        np.broadcast_to(padding, 2), strict=True))
    dx = tc.ops.conv_transpose2d(g, w.data, stride=stride, padding=padding,
                                 output_padding=leftover)
    np.testing.assert_allclose(x.grad, dx.data, rtol=1e-12, atol=1e-12)
    dw = tc.ops.conv2d_weight(x.data, g, w.shape, stride=stride, padding=padding)
    np.testing.assert_allclose(w.grad, dw.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw.data, reference.conv2d_weight(x.data, g, w.shape[2:], stride,
                                                                padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GRADGRAD_CONFIGS[:4])
def test_conv2d_weight_gradcheck_and_gradgradcheck(rng, x_shape, w_shape, stride, padding):
    x = rng.standard_normal(x_shape)
    g = rng.standard_normal(reference.conv2d(x, np.zeros(w_shape), None, stride, padding).shape)

    def weight_grad(x, g):
        return tc.ops.conv2d_weight(x, g, w_shape, stride=stride, padding=padding)

    assert tc.gradcheck(weight_grad, [x, g])
    assert tc.gradgradcheck(weight_grad, [x, g])


def test_hessian_vector_product_of_a_conv_loss_by_finite_differences(rng):
    # L = sum(conv2d(x, w)^2 * c): d/dw of (dL/dw . v) against a central difference of dL/dw
    x, c = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((2, 3, 6, 3))
    w0, v = rng.standard_normal((3, 2, 3, 2)), rng.standard_normal((3, 2, 3, 2))

    def grad_w(w_data, create_graph=False):
        w = tc.Value(w_data)
        out = tc.ops.conv2d(x, w, stride=(1, 2), padding=1)
        (dw,) = tc.grad((out * out * c).sum(), [w], create_graph=create_graph)
        return w, dw

    w, dw = grad_w(w0, create_graph=True)
    (hv,) = tc.grad((dw * v).sum(), [w])
    eps = 1e-6
    numeric = (grad_w(w0 + eps * v)[1].data - grad_w(w0 - eps * v)[1].data) / (2 * eps)
    np.testing.assert_allclose(hv.data, numeric, rtol=1e-6, atol=1e-6)


def test_float32_stays_float32(rng):
    x = tc.Value(rng.standard_normal((2, 3, 8, 7)).astype(np.float32))
    w = tc.Value(rng.standard_normal((4, 3, 3, 2)).astype(np.float32))
    b = tc.Value(rng.standard_normal(4).astype(np.float32))
    out = tc.ops.conv2d(x, w, b, stride=2, padding=1)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert out.dtype == np.float32
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    expected = reference.conv2d(x.data.astype(np.float64), w.data.astype(np.float64),
                                b.data.astype(np.float64), stride=2, padding=1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    transposed = tc.ops.conv_transpose2d(out, w, stride=2, padding=1)
    assert transposed.dtype == np.float32


def test_uint8_images_with_float32_weights_give_float32(rng):
    images = rng.integers(0, 256, (2, 1, 6, 6)).astype(np.uint8)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    out = tc.ops.conv2d(images, tc.Value(w))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, reference.conv2d(images.astype(np.float64),
                                                          w.astype(np.float64)), rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_any_integer_images_with_float32_weights_give_float32(rng, dtype):
    images = rng.integers(0, 2, (2, 1, 6, 6)).astype(dtype)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    for out in (tc.ops.conv2d(images, tc.Value(w)),
                tc.ops.conv_transpose2d(images, tc.Value(w.transpose(1, 0, 2, 3)))):
        assert out.dtype == np.float32


@pytest.mark.parametrize("w_shape", [(4, 3, 3, 3), (4, 4, 4, 4), (16, 8, 10, 10)])
def test_an_empty_batch_gives_empty_outputs_and_zero_weight_gradients(rng, w_shape):
    # (4, 4, 4, 4) and (16, 8, 10, 10) run on spectra for a non-empty batch
    x = tc.Value(np.zeros((0, w_shape[1], 12, 12)))
    w, b = tc.Value(rng.standard_normal(w_shape)), tc.Value(rng.standard_normal(w_shape[0]))
    out = tc.ops.conv2d(x, w, b, padding=1)
    size = 12 + 2 - w_shape[2] + 1
    assert out.shape == (0, w_shape[0], size, size)
    out.backward(np.zeros(out.shape))
    assert x.grad.shape == x.shape and w.grad.tolist() == np.zeros(w_shape).tolist()
    assert b.grad.tolist() == [0.0] * w_shape[0]
    assert tc.ops.conv_transpose2d(out, w, padding=1).shape == x.shape


def test_image_without_requires_grad_gets_no_input_gradient_work(rng, monkeypatch):
    def fail(*args):
        raise AssertionError("the input gradient was computed for an input that needs none")

    monkeypatch.setattr(conv_kernels, "conv2d_input_grad", fail)
    x = tc.Value(rng.standard_normal((2, 1, 8, 8)), requires_grad=False)
    w, b = tc.Value(rng.standard_normal((3, 1, 3, 3))), tc.Value(rng.standard_normal(3))
    out = tc.ops.conv2d(x, w, b)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    assert x.grad is None
    # dw = sum over batch and positions of g times the window; db = sum of g
    expected_dw = np.zeros(w.shape)
    for i in range(3):
        for j in range(3):
            expected_dw[:, 0, i, j] = np.einsum("nfhw,nhw->f", upstream,
                                                x.data[:, 0, i:i + 6, j:j + 6])
    np.testing.assert_allclose(w.grad, expected_dw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, upstream.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_frozen_weight_gets_no_gradient(rng):
    x = tc.Value(rng.standard_normal((1, 2, 5, 5)))
    w = tc.Value(rng.standard_normal((2, 2, 3, 3)), requires_grad=False)
    tc.ops.conv2d(x, w).sum().backward()
    assert w.grad is None and x.grad is not None


def test_forward_keeps_no_float_arrays(rng):
    # the op contract: what backward needs from forward comes from self.saved()
    x, w = tc.Value(rng.standard_normal((1, 2, 5, 5))), tc.Value(rng.standard_normal((2, 2, 3, 3)))
    for out in (tc.ops.conv2d(x, w, stride=2), tc.ops.conv_transpose2d(x, w),
                tc.ops.conv2d_weight(x, tc.ops.conv2d(x, w), w.shape)):
        kept = [k for k, v in vars(out.fn).items() if isinstance(v, np.ndarray)]
        assert kept == [], f"{out.fn.name} keeps {kept}"


def test_retained_graph_gives_the_same_gradients_twice(rng):
    x = tc.Value(rng.standard_normal((2, 2, 6, 6)))
    w, b = tc.Value(rng.standard_normal((3, 2, 3, 3))), tc.Value(rng.standard_normal(3))
    out = tc.ops.conv2d(x, w, b, stride=2, padding=1)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream, retain_graph=True)
    first = [v.grad.copy() for v in (x, w, b)]
    out.backward(upstream)
    for v, g in zip((x, w, b), first, strict=True):
        np.testing.assert_allclose(v.grad, 2 * g, rtol=1e-12, atol=1e-12)


def test_stride_and_padding_are_kept_as_params_for_drawing(rng):
    x, w = tc.Value(rng.standard_normal((1, 1, 5, 5))), tc.Value(rng.standard_normal((1, 1, 3, 3)))
    out = tc.ops.conv2d(x, w, stride=2, padding=(1, 0))
    assert out.fn.name == "Conv2d"
    assert out.fn.params == {"stride": 2, "padding": (1, 0)}


@pytest.mark.parametrize("x_shape, w_shape, kwargs, match", [
    ((1, 3, 5, 5), (3, 3, 3), {}, r"weight has shape \(3, 3, 3\); expected a 4-D weight"),
    ((1, 3, 5, 5), (4, 2, 3, 3), {},
     r"input has 3 channels but weight expects 2 \(input \(1, 3, 5, 5\), weight \(4, 2, 3, 3\)\)"),
    ((1, 1, 5, 5), (1, 1, 6, 3), {}, r"kernel 6x3 does not fit the padded input 5x5"),
    ((1, 1, 5, 5), (1, 1, 8, 3), {"padding": 1}, r"kernel 8x3 does not fit the padded input 7x7"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 0}, r"^conv2d: stride is 0; expected an int >= 1 "
                                                r"or an \(h, w\) pair of such ints; pass e\.g\. "
                                                r"stride=1$"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": (1, -2)}, r"^conv2d: stride is \(1, -2\); expected "),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": -1}, r"^conv2d: padding is -1; expected an int >= 0, "
                                                  r"an \(h, w\) pair of such ints, 'same' or "
                                                  r"'valid'; pass e\.g\. padding=0$"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": (1, 1, 1)}, r"^conv2d: padding is \(1, 1, 1\); "
                                                         r"expected an int >= 0, an \(h, w\) "
                                                         r"pair"),
    ((5,), (1, 1, 3, 3), {}, r"input has shape \(5,\); expected a 4-D input \(N, C_in, H, W\) "
                             r"or a 3-D one \(C_in, H, W\) with C_in = 1 for weight "
                             r"\(1, 1, 3, 3\)$"),
    ((1, 1, 1, 5, 5), (1, 1, 3, 3), {}, r"input has shape \(1, 1, 1, 5, 5\); expected a 4-D "
                                        r"input \(N, C_in, H, W\) or a 3-D one"),
])
def test_bad_input_raises(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.conv2d(np.ones(x_shape), tc.Value(np.ones(w_shape)), **kwargs)


def test_bad_bias_shape_raises():
    with pytest.raises(ValueError, match=r"bias has shape \(3,\); expected \(2,\)"):
        tc.ops.conv2d(np.ones((1, 1, 4, 4)), tc.Value(np.ones((2, 1, 3, 3))),
                      tc.Value(np.ones(3)))


# a batch with an axis missing or misplaced, the weight's C_in, what the message must say; a
# 3-D input is one unbatched image (C, H, W), so (5, 28, 28) has 5 channels, not 1
SHAPE_HINTS = [
    ((28, 28), 1, r"for one 28x28 image use x\.reshape\(1, 1, 28, 28\)"),
    ((5, 28, 28), 1, r"the channel axis is missing from the batch \(N, H, W\): use "
                     r"x\.reshape\(5, 1, 28, 28\)"),
    ((5, 784), 1, r"it looks like 5 flattened 28x28 images: use x\.reshape\(5, 1, 28, 28\)"),
    ((12, 10, 3), 3, r"for one channels-last image \(H, W, C\) use "
                     r"x\.transpose\(2, 0, 1\)\.reshape\(1, 3, 12, 10\)"),
    ((2, 12, 12, 3), 3, r"for channels-last images \(N, H, W, C\) use "
                        r"x\.transpose\(0, 3, 1, 2\)"),
]


def hinted_fix(message):
    """The expression after 'use ' in an error message, applied to x."""
    return re.search(r"use (x\.[\w.(), ]+\))", message)[1]


@pytest.mark.parametrize("x_shape, channels, match", SHAPE_HINTS)
def test_shape_hints_name_the_reshape_that_works(rng, x_shape, channels, match):
    w = tc.Value(rng.standard_normal((4, channels, 3, 3)))
    x = rng.standard_normal(x_shape)
    with pytest.raises(ValueError, match=match) as error:
        tc.ops.conv2d(x, w)
    fixed = eval(hinted_fix(str(error.value)), {"x": x})        # the fix, as a user would type it
    assert tc.ops.conv2d(fixed, w).ndim == 4
    fixed_value = eval(hinted_fix(str(error.value)), {"x": tc.Value(x)})   # works on a Value too
    assert tc.ops.conv2d(fixed_value, w).ndim == 4


def test_a_constant_float64_batch_is_computed_in_the_weights_float32(rng):
    x = rng.standard_normal((2, 1, 8, 8))                    # what images / 255.0 gives
    w = tc.Value(rng.standard_normal((3, 1, 3, 3)).astype(np.float32))
    b = rng.standard_normal(3)                               # a constant float64 bias too
    for out in (tc.ops.conv2d(x, w, b), tc.ops.conv2d(tc.Value(x, requires_grad=False), w, b)):
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, reference.conv2d(x, w.data.astype(np.float64), b),
                                   rtol=1e-5, atol=1e-5)
        out.sum().backward()
        assert w.grad.dtype == np.float32
    g = rng.standard_normal((2, 3, 6, 6))
    assert tc.ops.conv_transpose2d(g, w).dtype == np.float32


def test_an_input_that_requires_grad_in_another_dtype_is_a_type_error_with_the_fix(rng):
    w = tc.Value(rng.standard_normal((3, 1, 3, 3)).astype(np.float32))
    data = rng.standard_normal((2, 1, 8, 8))
    with pytest.raises(TypeError, match=r"conv2d: input has dtype float64 but the weight has "
                                        r"dtype float32; expected the same dtype for an input "
                                        r"that requires grad; .* "
                                        r"tc\.Value\(data, dtype=np\.float32\)"):
        tc.ops.conv2d(tc.Value(data), w)
    assert tc.ops.conv2d(tc.Value(data, dtype=np.float32), w).dtype == np.float32   # the fix
    with pytest.raises(TypeError, match=r"conv2d: bias has dtype float64 but the weight has "
                                        r"dtype float32; expected the same dtype for a bias"):
        tc.ops.conv2d(data, w, tc.Value(np.zeros(3)))
    with pytest.raises(TypeError, match=r"conv_transpose2d: input has dtype float64 but the "
                                        r"weight has dtype float32"):
        tc.ops.conv_transpose2d(tc.Value(rng.standard_normal((2, 3, 4, 4))), w)
    with pytest.raises(TypeError, match=r"pass its weights as inputs too: tc.gradcheck\(lambda "
                                        r"x, w, b: tc.ops.conv2d\(x, w, b\), \[x, "
                                        r"layer.weight.data, layer.bias.data\]\)"):
        tc.gradcheck(tc.nn.Conv2d(1, 3, 3), [data])              # float64 copies of data only
    layer = tc.nn.Conv2d(1, 3, 3)
    assert tc.gradcheck(lambda x, w, b: tc.ops.conv2d(x, w, b),    # the fix it gives
                        [data[:1, :, :5, :5], layer.weight.data, layer.bias.data])


@pytest.mark.parametrize("x_shape, w_shape, kwargs, match", [
    ((1, 2, 4, 4), (3, 2, 3, 3), {}, r"conv_transpose2d: input has 2 channels but weight "
                                     r"expects 3 .* weight \(C_in, C_out, KH, KW\)"),
    ((1, 2, 4, 4), (2, 3, 3, 3), {"stride": 2, "output_padding": 2},
     r"conv_transpose2d: output_padding 2 is not smaller than stride 2"),
    ((1, 2, 4, 4), (2, 3, 3, 3), {"output_padding": (0, 1)},
     r"output_padding \(0, 1\) is not smaller than stride 1"),
    ((1, 2, 4, 4), (2, 3, 3, 3), {"output_padding": -1},
     r"^conv_transpose2d: output_padding is -1; expected an int >= 0 or an \(h, w\) pair of such "
     r"ints; pass e\.g\. output_padding=0$"),
    ((1, 2, 1, 1), (2, 3, 1, 1), {"padding": 1},
     r"conv_transpose2d: the output would be -1x-1 .*; expected at least 1x1"),
    ((1, 2, 4, 4), (2, 3, 3, 3), {"stride": 0}, r"^conv_transpose2d: stride is 0; expected an "
                                                r"int >= 1 or an \(h, w\) pair of such ints; "
                                                r"pass e\.g\. stride=1$"),
    ((4, 4), (1, 3, 3, 3), {}, r"conv_transpose2d: input has shape \(4, 4\); expected a 4-D "
                               r"input \(N, C_in, H, W\) or a 3-D one \(C_in, H, W\) .* use "
                               r"x\.reshape\(1, 1, 4, 4\)"),     # one image (C_in, H, W) is fine
])
def test_conv_transpose2d_bad_input_raises(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.conv_transpose2d(np.ones(x_shape), np.ones(w_shape), **kwargs)


def test_conv_transpose2d_bad_bias_raises():
    with pytest.raises(ValueError, match=r"conv_transpose2d: bias has shape \(2,\); expected "
                                         r"\(3,\), one per output channel"):
        tc.ops.conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 3, 3, 3)), np.ones(2))


@pytest.mark.parametrize("x_shape, g_shape, weight_shape, match", [
    ((1, 2, 5, 5), (1, 3, 3, 3), (3, 2, 3), r"conv2d_weight: expected a 4-D input .* and a "
                                            r"weight shape of 4 positive sizes"),
    ((2, 5, 5), (1, 3, 3, 3), (3, 2, 3, 3), r"conv2d_weight: expected a 4-D input"),
    ((1, 2, 5, 5), (1, 3, 4, 4), (3, 2, 3, 3), r"conv2d_weight: g has shape \(1, 3, 4, 4\) .*; "
                                               r"expected g of conv2d's output shape "
                                               r"\(1, 3, 3, 3\)"),
    ((1, 2, 5, 5), (1, 3, 3, 3), (3, 1, 3, 3), r"expected g of conv2d's output shape .* and "
                                               r"C_in = 2"),
])
def test_conv2d_weight_bad_input_raises(x_shape, g_shape, weight_shape, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.conv2d_weight(np.ones(x_shape), np.ones(g_shape), weight_shape)


def block_diagonal(w, groups):
    """The ordinary (C_out, C_in, KH, KW) weight that a grouped w (C_out, C_in / groups, KH, KW)
    stands for: zero wherever output channel f and input channel c are in different groups."""
    f, c = w.shape[0] // groups, w.shape[1]
    dense = np.zeros((w.shape[0], c * groups) + w.shape[2:])
    for g in range(groups):
        dense[g * f:(g + 1) * f, g * c:(g + 1) * c] = w[g * f:(g + 1) * f]
    return dense


# x (N, C_in, H, W), w (C_out, C_in / groups, KH, KW), stride, padding, groups
GROUPED = [
    ((2, 4, 6, 7), (6, 2, 3, 2), 1, 0, 2),           # two groups, non-square image and kernel
    ((1, 6, 7, 6), (3, 2, 3, 3), 2, 1, 3),           # one output channel per group, stride 2
    ((2, 3, 5, 6), (3, 1, 3, 3), 1, 1, 3),           # depthwise: groups = C_in = C_out
    ((2, 2, 6, 5), (4, 1, 2, 3), (2, 1), (1, 0), 2),  # depthwise with a channel multiplier 2
    ((1, 4, 4, 4), (4, 1, 4, 4), 1, 0, 4),           # depthwise, kernel as large as the image
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups", GROUPED)
@pytest.mark.parametrize("bias", [True, False])
def test_grouped_forward_is_the_block_diagonal_convolution(rng, x_shape, w_shape, stride,
                                                           padding, groups, bias):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    out = tc.ops.conv2d(tc.Value(x), tc.Value(w), None if b is None else tc.Value(b),
                        stride=stride, padding=padding, groups=groups)
    expected = reference.conv2d(x, block_diagonal(w, groups), b, stride=stride, padding=padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


def test_block_diagonal_by_hand():
    # the oracle's own helper: 2 groups of 1 input and 1 output channel each
    w = np.array([[[[1.0]]], [[[2.0]]]])
    assert block_diagonal(w, 2)[:, :, 0, 0].tolist() == [[1.0, 0.0], [0.0, 2.0]]


def test_depthwise_convolves_each_channel_with_its_own_kernel(rng):
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 1, 3, 2))
    out = tc.ops.conv2d(x, tc.Value(w), stride=(1, 2), padding=1, groups=3)
    for c in range(3):
        alone = reference.conv2d(x[:, c:c + 1], w[c:c + 1], stride=(1, 2), padding=1)
        np.testing.assert_allclose(out.data[:, c:c + 1], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups", GROUPED)
def test_grouped_gradcheck_and_gradgradcheck(rng, x_shape, w_shape, stride, padding, groups):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])

    def conv(x, w, b):
        return tc.ops.conv2d(x, w, b, stride=stride, padding=padding, groups=groups)

    assert tc.gradcheck(conv, [x, w, b])
    assert tc.gradgradcheck(conv, [x, w, b])


def test_grouped_gradients_are_the_block_diagonal_convolutions(rng):
    # the gradients of the dense block-diagonal weight, read back on the grouped entries
    x = tc.Value(rng.standard_normal((2, 6, 7, 6)))
    w, b = tc.Value(rng.standard_normal((4, 3, 3, 2))), tc.Value(rng.standard_normal(4))
    out = tc.ops.conv2d(x, w, b, stride=2, padding=(1, 2), groups=2)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    dense_x, dense_w = tc.Value(x.data), tc.Value(block_diagonal(w.data, 2))
    dense_b = tc.Value(b.data)
    tc.ops.conv2d(dense_x, dense_w, dense_b, stride=2, padding=(1, 2)).backward(upstream)
    np.testing.assert_allclose(x.grad, dense_x.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, dense_b.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad[:2], dense_w.grad[:2, :3], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad[2:], dense_w.grad[2:, 3:], rtol=1e-12, atol=1e-12)


def test_groups_one_records_the_same_single_op_as_before(rng):
    x, w = tc.Value(rng.standard_normal((2, 3, 6, 6))), tc.Value(rng.standard_normal((4, 3, 3, 3)))
    b = tc.Value(rng.standard_normal(4))
    for out in (tc.ops.conv2d(x, w, b, stride=2, padding=(1, 0)),
                tc.ops.conv2d(x, w, b, stride=2, padding=(1, 0), groups=1),
                tc.ops.conv2d(x, w, b, stride=2, padding=(1, 0), groups=np.int64(1))):
        assert type(out.fn) is tc.ops.conv.Conv2d
        assert out.parents == (x, w, b)                  # no slices, no cat: the inputs themselves
        assert out.fn.params == {"stride": 2, "padding": (1, 0)}
    layer = tc.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    out = layer(tc.Value(rng.standard_normal((2, 3, 6, 6)).astype(np.float32)))
    assert type(out.fn) is tc.ops.conv.Conv2d and out.parents[1:] == (layer.weight, layer.bias)
    assert out.fn.params == {"stride": 2, "padding": 1}


def test_grouped_graph_is_one_conv2d_per_group_joined_by_cat(rng):
    x, w = tc.Value(rng.standard_normal((1, 6, 5, 5))), tc.Value(rng.standard_normal((3, 2, 3, 3)))
    b = tc.Value(rng.standard_normal(3))
    out = tc.ops.conv2d(x, w, b, padding=1, groups=3)
    assert out.fn.name == "Cat" and out.fn.params == {"axis": 1}
    convs = out.parents
    assert [c.fn.name for c in convs] == ["Conv2d"] * 3
    for g, conv in enumerate(convs):
        assert conv.fn.params == {"stride": 1, "padding": 1}
        xg, wg, bg = conv.parents
        assert [v.fn.name for v in (xg, wg, bg)] == ["GetItem"] * 3
        assert (xg.parents, wg.parents, bg.parents) == ((x,), (w,), (b,))
        assert xg.fn.params["index"] == (slice(None), slice(2 * g, 2 * g + 2))
        assert wg.fn.params["index"] == bg.fn.params["index"] == (slice(g, g + 1),)


def test_grouped_float32_stays_float32(rng):
    x = tc.Value(rng.standard_normal((2, 4, 7, 6)).astype(np.float32))
    w = tc.Value(rng.standard_normal((4, 1, 3, 3)).astype(np.float32))
    b = tc.Value(rng.standard_normal(4).astype(np.float32))
    out = tc.ops.conv2d(x, w, b, stride=2, padding=1, groups=4)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert out.dtype == np.float32
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    expected = reference.conv2d(x.data.astype(np.float64), block_diagonal(w.data, 4),
                                b.data.astype(np.float64), stride=2, padding=1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    images = rng.integers(0, 256, (2, 4, 6, 6)).astype(np.uint8)     # constant images too
    assert tc.ops.conv2d(images, w, groups=4).dtype == np.float32


def test_grouped_image_without_requires_grad_gets_no_input_gradient(rng):
    x = tc.Value(rng.standard_normal((2, 4, 6, 6)), requires_grad=False)
    w = tc.Value(rng.standard_normal((6, 2, 3, 3)))
    tc.ops.conv2d(x, w, groups=2).sum().backward()
    assert x.grad is None and w.grad.shape == w.shape


def test_grouped_empty_batch(rng):
    x = tc.Value(np.zeros((0, 4, 5, 5)))
    w, b = tc.Value(rng.standard_normal((2, 2, 3, 3))), tc.Value(rng.standard_normal(2))
    out = tc.ops.conv2d(x, w, b, groups=2)
    assert out.shape == (0, 2, 3, 3)
    out.backward(np.zeros(out.shape))
    assert x.grad.shape == x.shape and w.grad.tolist() == np.zeros(w.shape).tolist()


@pytest.mark.parametrize("x_shape, w_shape, groups, error, match", [
    ((1, 4, 5, 5), (4, 2, 3, 3), 0, ValueError, r"conv2d: groups must be positive, got 0"),
    ((1, 4, 5, 5), (4, 2, 3, 3), -2, ValueError, r"conv2d: groups must be positive, got -2"),
    ((1, 4, 5, 5), (4, 2, 3, 3), 2.0, TypeError, r"conv2d: groups must be an int, got float "
                                                 r"2\.0; pass e\.g\. groups=1"),
    ((1, 4, 5, 5), (4, 4, 3, 3), True, TypeError, r"conv2d: groups must be an int, got bool"),
    ((1, 4, 5, 5), (4, 2, 3, 3), 3, ValueError,
     r"conv2d: groups=3 does not divide the 4 input channels C_in \(input \(1, 4, 5, 5\), "
     r"weight \(4, 2, 3, 3\)\); expected C_in and C_out both divisible by groups; weight "
     r"\(4, 2, 3, 3\) holds 2 input channels per group, so pass groups=2$"),
    ((1, 4, 5, 5), (6, 1, 3, 3), 4, ValueError,
     r"conv2d: groups=4 does not divide the 6 output channels C_out .*: 1, 2, with a weight "
     r"\(C_out, C_in / groups, KH, KW\)$"),
    ((1, 4, 5, 5), (6, 4, 3, 3), 2, ValueError,
     r"conv2d: weight has 4 input channels per group but the input's 4 channels in groups=2 "
     r"are 2 per group \(input \(1, 4, 5, 5\), weight \(6, 4, 3, 3\)\); expected weight "
     r"\(C_out, C_in / groups, KH, KW\) = \(6, 2, 3, 3\)"),
    ((1, 4, 5, 5), (4, 1, 6, 3), 4, ValueError, r"conv2d: kernel 6x3 does not fit the padded "
                                                r"input 5x5"),
    ((4, 5), (4, 1, 3, 3), 4, ValueError, r"conv2d: input has shape \(4, 5\); expected a 4-D "
                                          r"input \(N, C_in, H, W\) or a 3-D one \(C_in, H, W\) "
                                          r"with C_in = 4 for weight \(4, 1, 3, 3\)$"),
    ((6, 5, 5), (4, 1, 3, 3), 4, ValueError,
     r"conv2d: groups=4 does not divide the 6 input channels C_in \(input \(6, 5, 5\), weight "
     r"\(4, 1, 3, 3\)\); .* pick groups from the common divisors of C_in = 6 and C_out = 4: 1, 2, "
     r"with a weight \(C_out, C_in / groups, KH, KW\)$"),
])
def test_bad_groups_raise(x_shape, w_shape, groups, error, match):
    with pytest.raises(error, match=match):
        tc.ops.conv2d(np.ones(x_shape), tc.Value(np.ones(w_shape)), groups=groups)


@pytest.mark.parametrize("x_shape, w_shape, groups", [
    ((1, 4, 5, 5), (4, 2, 3, 3), 3),       # the weight is made for groups=2
    ((1, 6, 5, 5), (4, 3, 3, 3), 4),
    ((1, 6, 5, 5), (6, 1, 3, 3), 4),       # for groups=6, which C_out = 6 allows
])
def test_groups_error_names_the_groups_the_weight_takes(x_shape, w_shape, groups):
    with pytest.raises(ValueError, match=r"does not divide") as error:
        tc.ops.conv2d(np.ones(x_shape), tc.Value(np.ones(w_shape)), groups=groups)
    suggested = [int(g) for g in re.findall(r"groups=(\d+)$", str(error.value))]
    assert suggested == [x_shape[1] // w_shape[1]]
    out = tc.ops.conv2d(np.ones(x_shape), tc.Value(np.ones(w_shape)), groups=suggested[0])
    assert out.shape == (1, w_shape[0], 3, 3)


def test_grouped_bad_bias_raises():
    with pytest.raises(ValueError, match=r"conv2d: bias has shape \(2,\); expected \(4,\)"):
        tc.ops.conv2d(np.ones((1, 4, 4, 4)), tc.Value(np.ones((4, 2, 3, 3))),
                      tc.Value(np.ones(2)), groups=2)


# x (N, C_in, H, W), w (C_in, C_out / groups, KH, KW), stride, padding, output_padding, groups
GROUPED_TRANSPOSED = [
    ((2, 4, 4, 5), (4, 3, 3, 2), 1, 0, 0, 2),        # two groups, non-square image and kernel
    ((1, 6, 3, 4), (6, 1, 3, 3), 2, 1, 1, 3),        # one output channel per group, stride 2
    ((2, 3, 4, 3), (3, 1, 3, 3), 1, 1, 0, 3),        # depthwise: groups = C_in = C_out
    ((2, 2, 3, 4), (2, 2, 4, 3), (2, 3), (1, 0), (1, 2), 2),   # depthwise, multiplier 2, pairs
    ((1, 4, 1, 1), (4, 2, 3, 3), 1, 0, 0, 4),        # one pixel in: each group stamps its kernel
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra, groups", GROUPED_TRANSPOSED)
@pytest.mark.parametrize("bias", [True, False])
def test_grouped_conv_transpose2d_is_the_block_diagonal_one(rng, x_shape, w_shape, stride,
                                                            padding, extra, groups, bias):
    # w (C_in, C_out / groups, KH, KW) is a grouped conv2d's weight, so block_diagonal gives
    # the dense (C_in, C_out, KH, KW) weight of the ordinary transposed convolution
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * groups) if bias else None
    out = tc.ops.conv_transpose2d(tc.Value(x), tc.Value(w), None if b is None else tc.Value(b),
                                  stride=stride, padding=padding, output_padding=extra,
                                  groups=groups)
    expected = reference.conv_transpose2d(x, block_diagonal(w, groups), b, stride, padding,
                                          extra)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra, groups", GROUPED_TRANSPOSED)
def test_grouped_conv_transpose2d_gradcheck_and_gradgradcheck(rng, x_shape, w_shape, stride,
                                                              padding, extra, groups):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * groups)

    def transposed(x, w, b):
        return tc.ops.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                       output_padding=extra, groups=groups)

    assert tc.gradcheck(transposed, [x, w, b])
    assert tc.gradgradcheck(transposed, [x, w, b])


def test_grouped_conv_transpose2d_is_the_transpose_of_grouped_conv2d(rng):
    # <conv_transpose2d(x, w, groups=G), u> = <x, conv2d(u, w, groups=G)> for every u
    x, w = rng.standard_normal((2, 6, 4, 3)), rng.standard_normal((6, 2, 3, 2))
    out = tc.ops.conv_transpose2d(x, w, stride=2, padding=1, output_padding=(1, 0), groups=3)
    u = rng.standard_normal(out.shape)
    back = tc.ops.conv2d(u, w, stride=2, padding=1, groups=3)
    assert back.shape == x.shape
    np.testing.assert_allclose((out.data * u).sum(), (x * back.data).sum(), rtol=1e-12)


def test_conv_transpose2d_groups_one_records_the_same_single_op_as_before(rng):
    x = tc.Value(rng.standard_normal((2, 3, 4, 4)))
    w, b = tc.Value(rng.standard_normal((3, 2, 3, 3))), tc.Value(rng.standard_normal(2))
    for out in (tc.ops.conv_transpose2d(x, w, b, stride=2, padding=(1, 0), output_padding=1),
                tc.ops.conv_transpose2d(x, w, b, stride=2, padding=(1, 0), output_padding=1,
                                        groups=1),
                tc.ops.conv_transpose2d(x, w, b, stride=2, padding=(1, 0), output_padding=1,
                                        groups=np.int64(1))):
        assert type(out.fn) is tc.ops.conv.ConvTranspose2d
        assert out.parents == (x, w, b)                  # no slices, no cat: the inputs themselves
        assert out.fn.params == {"stride": 2, "padding": (1, 0), "output_padding": 1}
    layer = tc.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    out = layer(tc.Value(rng.standard_normal((2, 3, 4, 4)).astype(np.float32)))
    assert type(out.fn) is tc.ops.conv.ConvTranspose2d
    assert out.parents[1:] == (layer.weight, layer.bias)


def test_grouped_conv_transpose2d_graph_is_one_op_per_group_joined_by_cat(rng):
    x, w = tc.Value(rng.standard_normal((1, 4, 3, 3))), tc.Value(rng.standard_normal((4, 3, 2, 2)))
    b = tc.Value(rng.standard_normal(6))
    out = tc.ops.conv_transpose2d(x, w, b, stride=2, groups=2)
    assert out.shape == (1, 6, 6, 6)
    assert out.fn.name == "Cat" and out.fn.params == {"axis": 1}
    convs = out.parents
    assert [c.fn.name for c in convs] == ["ConvTranspose2d"] * 2
    for g, conv in enumerate(convs):
        assert conv.fn.params == {"stride": 2, "padding": 0, "output_padding": 0}
        xg, wg, bg = conv.parents
        assert [v.fn.name for v in (xg, wg, bg)] == ["GetItem"] * 3
        assert (xg.parents, wg.parents, bg.parents) == ((x,), (w,), (b,))
        assert xg.fn.params["index"] == (slice(None), slice(2 * g, 2 * g + 2))
        assert wg.fn.params["index"] == (slice(2 * g, 2 * g + 2),)
        assert bg.fn.params["index"] == (slice(3 * g, 3 * g + 3),)


def test_grouped_conv_transpose2d_float32_and_constant_images(rng):
    x = tc.Value(rng.standard_normal((2, 4, 3, 3)).astype(np.float32))
    w = tc.Value(rng.standard_normal((4, 2, 3, 3)).astype(np.float32))
    b = tc.Value(rng.standard_normal(4).astype(np.float32))
    out = tc.ops.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert out.dtype == x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    expected = reference.conv_transpose2d(x.data.astype(np.float64),
                                          block_diagonal(w.data.astype(np.float64), 2),
                                          b.data.astype(np.float64), stride=2, padding=1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    images = rng.integers(0, 256, (2, 4, 3, 3)).astype(np.uint8)
    constant = tc.ops.conv_transpose2d(images, w, groups=2)
    assert constant.dtype == np.float32 and constant.shape == (2, 4, 5, 5)
    frozen = tc.Value(images.astype(np.float32), requires_grad=False)
    tc.ops.conv_transpose2d(frozen, w, groups=2).sum().backward()
    assert frozen.grad is None


@pytest.mark.parametrize("x_shape, w_shape, groups, error, match", [
    ((1, 4, 3, 3), (4, 2, 3, 3), 0, ValueError,
     r"conv_transpose2d: groups must be positive, got 0"),
    ((1, 4, 3, 3), (4, 2, 3, 3), 2.0, TypeError,
     r"conv_transpose2d: groups must be an int, got float 2\.0; pass e\.g\. groups=1"),
    ((1, 4, 3, 3), (4, 2, 3, 3), True, TypeError,
     r"conv_transpose2d: groups must be an int, got bool"),
    ((1, 4, 3, 3), (4, 2, 3, 3), 3, ValueError,
     r"conv_transpose2d: groups=3 does not divide the 4 input channels C_in \(input "
     r"\(1, 4, 3, 3\), weight \(4, 2, 3, 3\)\); expected C_in divisible by groups; pick groups "
     r"from the divisors of C_in = 4: 1, 2, 4$"),
    ((1, 4, 3, 3), (2, 2, 3, 3), 2, ValueError,
     r"conv_transpose2d: input has 4 channels but weight expects 2 \(input \(1, 4, 3, 3\), "
     r"weight \(2, 2, 3, 3\)\); expected equal C_in in input \(N, C_in, H, W\) and weight "
     r"\(C_in, C_out / groups, KH, KW\)"),
])
def test_conv_transpose2d_bad_groups_raise(x_shape, w_shape, groups, error, match):
    with pytest.raises(error, match=match):
        tc.ops.conv_transpose2d(np.ones(x_shape), tc.Value(np.ones(w_shape)), groups=groups)


@pytest.mark.parametrize("w_shape", [(4, 2, 0, 3), (4, 2, 3, 0)])
def test_conv_transpose2d_empty_kernel_raises(w_shape):
    with pytest.raises(ValueError, match=r"^conv_transpose2d: weight \(4, 2, \d, \d\) has a "
                                         r"\dx\d kernel; expected KH >= 1 and KW >= 1$"):
        tc.ops.conv_transpose2d(np.ones((1, 4, 3, 3)), tc.Value(np.ones(w_shape)))


def test_grouped_conv_transpose2d_bad_bias_raises():
    # C_out = 2 output channels per group times 2 groups
    with pytest.raises(ValueError, match=r"conv_transpose2d: bias has shape \(2,\); expected "
                                         r"\(4,\), one per output channel of weight "
                                         r"\(4, 2, 3, 3\) in groups=2"):
        tc.ops.conv_transpose2d(np.ones((1, 4, 3, 3)), tc.Value(np.ones((4, 2, 3, 3))),
                                tc.Value(np.ones(2)), groups=2)


def test_reference_dilated_loops_by_hand():
    # the oracles themselves: taps two apart read the corners of a 3x3 image, and stamp the
    # kernel's four values two apart
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    np.testing.assert_array_equal(reference.conv2d(x, w, dilation=2), [[[[0.0 - 8.0]]]])
    np.testing.assert_array_equal(reference.conv2d(x, w, dilation=(2, 1)),
                                  [[[[0.0 - 7.0, 1.0 - 8.0]]]])
    w = np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])
    np.testing.assert_array_equal(reference.conv_transpose2d(np.ones((1, 1, 1, 1)), w,
                                                             dilation=2),
                                  [[[[1, 0, 10], [0, 0, 0], [100, 0, 1000]]]])


# x (N, C_in, H, W), w (C_out, C_in, KH, KW), stride, padding, dilation
DILATED = [
    ((2, 3, 9, 8), (4, 3, 3, 2), 1, 0, 2),
    ((2, 2, 11, 10), (3, 2, 3, 3), 2, 1, (2, 3)),       # stride, padding, (h, w) dilation
    ((1, 2, 7, 9), (2, 2, 2, 3), (2, 3), (1, 0), (3, 2)),
    ((2, 1, 5, 5), (2, 1, 3, 3), 1, 0, 2),              # the spread kernel as large as the image
    ((2, 4, 8, 8), (4, 4, 3, 3), 1, 1, 2),              # spectra: a spread 5x5 kernel
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", DILATED)
def test_dilated_conv2d_matches_the_loops_and_gradchecks(rng, x_shape, w_shape, stride, padding,
                                                         dilation):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])

    def conv(x, w, b):
        return tc.ops.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)

    out = conv(tc.Value(x), tc.Value(w), tc.Value(b))
    expected = reference.conv2d(x, w, b, stride, padding, dilation)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(conv, [x, w, b])


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((1, 1, 5, 5), (1, 1, 2, 2), 1, 0, 2),
    ((2, 2, 6, 5), (2, 2, 2, 2), 2, 1, (2, 3)),
])
def test_dilated_conv2d_and_conv2d_weight_gradgradcheck(rng, x_shape, w_shape, stride, padding,
                                                        dilation):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    assert tc.gradgradcheck(lambda x, w, b: tc.ops.conv2d(x, w, b, stride=stride,
                                                          padding=padding, dilation=dilation),
                            [x, w, b])
    g = rng.standard_normal(reference.conv2d(x, w, None, stride, padding, dilation).shape)

    def weight_grad(x, g):
        return tc.ops.conv2d_weight(x, g, w_shape, stride=stride, padding=padding,
                                    dilation=dilation)

    np.testing.assert_allclose(weight_grad(x, g).data, reference.conv2d_weight(
        x, g, w_shape[2:], stride, padding, dilation), rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(weight_grad, [x, g])
    assert tc.gradgradcheck(weight_grad, [x, g])


# x (N, C_in, H, W), w (C_in, C_out, KH, KW), stride, padding, output_padding, dilation
DILATED_TRANSPOSED = [
    ((2, 2, 3, 4), (2, 3, 3, 2), 2, 1, (1, 0), (2, 3)),
    ((1, 1, 3, 3), (1, 2, 2, 2), 1, 0, 1, 2),           # output_padding >= stride, < dilation
    ((1, 2, 3, 3), (2, 2, 2, 3), (1, 2), (2, 1), (2, 1), (3, 2)),   # the same, with padding
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra, dilation",
                         DILATED_TRANSPOSED)
def test_dilated_conv_transpose2d_matches_the_loops_and_gradchecks(rng, x_shape, w_shape, stride,
                                                                   padding, extra, dilation):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1])

    def transposed(x, w, b):
        return tc.ops.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                       output_padding=extra, dilation=dilation)

    out = transposed(tc.Value(x), tc.Value(w), tc.Value(b))
    expected = reference.conv_transpose2d(x, w, b, stride, padding, extra, dilation)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(transposed, [x, w, b])
    assert tc.gradgradcheck(transposed, [x, w, b])


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", DILATED[:3])
def test_dilated_ops_are_each_others_derivatives(rng, x_shape, w_shape, stride, padding,
                                                 dilation):
    x, w = tc.Value(rng.standard_normal(x_shape)), tc.Value(rng.standard_normal(w_shape))
    out = tc.ops.conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    steps, pads, dils = (np.broadcast_to(v, 2) for v in (stride, padding, dilation))
    leftover = tuple(int((x.shape[2 + a] + 2 * pads[a] - dils[a] * (w.shape[2 + a] - 1) - 1)
                         % steps[a]) for a in (0, 1))
    dx = tc.ops.conv_transpose2d(g, w.data, stride=stride, padding=padding,
                                 output_padding=leftover, dilation=dilation)
    np.testing.assert_allclose(x.grad, dx.data, rtol=1e-12, atol=1e-12)
    dw = tc.ops.conv2d_weight(x.data, g, w.shape, stride=stride, padding=padding,
                              dilation=dilation)
    np.testing.assert_allclose(w.grad, dw.data, rtol=1e-12, atol=1e-12)


def test_dilated_grouped_convolutions_are_the_block_diagonal_ones(rng):
    x, w = rng.standard_normal((2, 4, 8, 7)), rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)

    def grouped(x, w, b):
        return tc.ops.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(2, 3), groups=2)

    np.testing.assert_allclose(grouped(x, w, b).data, reference.conv2d(
        x, block_diagonal(w, 2), b, (2, 1), 1, (2, 3)), rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(grouped, [x, w, b])
    xt, wt = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 3, 2, 3))

    def grouped_transposed(x, w, b):
        return tc.ops.conv_transpose2d(x, w, b, stride=1, padding=(1, 0), output_padding=1,
                                       groups=2, dilation=2)

    np.testing.assert_allclose(grouped_transposed(xt, wt, b).data, reference.conv_transpose2d(
        xt, block_diagonal(wt, 2), b, 1, (1, 0), 1, 2), rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(grouped_transposed, [xt, wt, b])


@pytest.mark.parametrize("spatial, x_shape, w_shape, padding, dilation, groups", [
    (2, (2, 2, 7, 6), (3, 2, 3, 2), 1, (2, 3), 1),
    (2, (1, 4, 6, 6), (4, 2, 3, 3), (2, 0), (3, 2), 2),     # grouped
    (2, (2, 4, 9, 9), (4, 4, 3, 3), 2, 2, 1),               # spectral phases
    (2, (1, 1, 3, 4), (2, 1, 2, 2), (2, 1), (5, 3), 1),     # dilation past the image: empty phases
    (1, (2, 3, 17), (2, 3, 2), 0, 4, 1),                    # conv1d, WaveNet-like
    (1, (1, 4, 9), (4, 2, 3), 3, 4, 2),                     # conv1d, grouped, padded
])
def test_dilated_convolutions_by_phases_gradcheck(rng, monkeypatch, spatial, x_shape, w_shape,
                                                  padding, dilation, groups):
    """At stride 1 a dilated conv2d or conv1d runs by phases (kernels.to_phases): forward
    against the loops, gradients and second derivatives by finite differences in float64."""
    phase_calls = []
    to_phases = conv_kernels.to_phases
    monkeypatch.setattr(conv_kernels, "to_phases",
                        lambda *a: phase_calls.append(1) or to_phases(*a))
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    op = tc.ops.conv2d if spatial == 2 else tc.ops.conv1d

    def conv(x, w, b):
        return op(x, w, b, padding=padding, dilation=dilation, groups=groups)

    if spatial == 2:
        expected = reference.conv2d(x, block_diagonal(w, groups), b, 1, padding, dilation)
    else:
        expected = conv1d_loops(x, w, b, 1, padding, dilation, groups)
    np.testing.assert_allclose(conv(x, w, b).data, expected, rtol=1e-12, atol=1e-12)
    assert phase_calls
    assert tc.gradcheck(conv, [x, w, b])
    assert tc.gradgradcheck(conv, [x, w, b])

def test_dilation_is_a_param_only_when_not_one(rng):
    x, w = tc.Value(rng.standard_normal((1, 4, 7, 7))), tc.Value(rng.standard_normal((4, 4, 3, 3)))
    for dilation in (1, (1, 1), [1, 1]):                     # the node recorded before dilation
        assert tc.ops.conv2d(x, w, dilation=dilation).fn.params == {"stride": 1, "padding": 0}
        assert tc.ops.conv_transpose2d(x, w, dilation=dilation).fn.params == {
            "stride": 1, "padding": 0, "output_padding": 0}
    assert tc.ops.conv2d(x, w, padding=1, dilation=2).fn.params == {
        "stride": 1, "padding": 1, "dilation": 2}
    assert tc.ops.conv_transpose2d(x, w, dilation=(2, 1)).fn.params == {
        "stride": 1, "padding": 0, "output_padding": 0, "dilation": (2, 1)}
    grouped = tc.ops.conv2d(x, w[:, :2], dilation=3, groups=2)
    assert [c.fn.params["dilation"] for c in grouped.parents] == [3, 3]
    assert grouped.shape == (1, 4, 1, 1)                     # 7 - 3*(3 - 1) = 1


@pytest.mark.parametrize("dilation, error, match", [
    (0, ValueError, r"dilation is 0; expected an int >= 1 or an \(h, w\) pair of such ints; "
                    r"pass e\.g\. dilation=1$"),
    (-1, ValueError, r"dilation is -1; expected an int >= 1 or an \(h, w\) pair of such ints; "
                     r"pass e\.g\. dilation=1$"),
    ((2, 0), ValueError, r"dilation is \(2, 0\); expected an int >= 1 or an \(h, w\) pair of such "
                         r"ints; pass e\.g\. dilation=\(2, 1\)$"),
    (1.5, TypeError, r"dilation is float 1\.5; expected an int >= 1 or an \(h, w\) pair of such "
                     r"ints; pass e\.g\. dilation=1$"),
    ((1, 2, 3), ValueError, r"dilation is \(1, 2, 3\); expected an int >= 1 or an \(h, w\) pair "
                            r"of such ints; pass e\.g\. dilation=\(1, 2\)$"),
    (True, TypeError, r"dilation is bool True; expected an int >= 1 or an \(h, w\) pair of such "
                      r"ints; pass e\.g\. dilation=1$"),
])
def test_bad_dilation_raises(dilation, error, match):
    x, w = np.ones((1, 2, 9, 9)), tc.Value(np.ones((2, 2, 3, 3)))
    with pytest.raises(error, match=r"conv2d: " + match):
        tc.ops.conv2d(x, w, dilation=dilation)
    with pytest.raises(error, match=r"conv_transpose2d: " + match):
        tc.ops.conv_transpose2d(x, w, dilation=dilation)
    with pytest.raises(error, match=r"conv2d_weight: " + match):
        tc.ops.conv2d_weight(x, np.ones((1, 2, 7, 7)), w.shape, dilation=dilation)


@pytest.mark.parametrize("fn, call", [
    ("conv2d", lambda x, w_shape: tc.ops.conv2d(x, np.ones(w_shape), dilation=(3, 4))),
    ("conv2d_weight", lambda x, w_shape: tc.ops.conv2d_weight(x, np.ones((1, 1, 1, 5)), w_shape,
                                                              dilation=(3, 4))),
])
def test_a_dilated_kernel_that_does_not_fit_is_named_with_fixes_that_work(fn, call):
    x, w_shape = np.ones((1, 1, 6, 9)), (1, 1, 3, 2)
    with pytest.raises(ValueError, match=rf"{fn}: kernel 3x2 with dilation \(3, 4\) spans 7x5, "
                                         r"which does not fit the padded input 6x9 \(input "
                                         r"\(1, 1, 6, 9\), padding \(0, 0\)\); expected "
                                         r"dilation\*\(K - 1\) \+ 1 <= size \+ 2\*padding on "
                                         r"both axes; use padding=\(1, 0\) or "
                                         r"dilation=\(2, 4\)$") as error:
        call(x, w_shape)
    pads, dils = re.findall(r"=(\(\d+, \d+\))", str(error.value))
    assert tc.ops.conv2d(x, np.ones(w_shape), padding=eval(pads), dilation=(3, 4)).shape == \
        (1, 1, 2, 5)
    assert tc.ops.conv2d(x, np.ones(w_shape), dilation=eval(dils)).shape == (1, 1, 2, 5)
    x, w = np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"kernel 3x3 with dilation 2 spans 5x5, .*; use "
                                         r"padding=\(2, 2\)$"):     # no dilation > 0 fits 2x2
        tc.ops.conv2d(x, w, dilation=2)
    assert tc.ops.conv2d(x, w, dilation=2, padding=2).shape == (1, 1, 2, 2)


def test_conv_transpose2d_output_padding_must_be_below_stride_or_dilation():
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding \(2, 1\) is not "
                                         r"smaller than stride 1 or dilation \(2, 3\); expected "
                                         r"each output_padding < max\(its stride, its "
                                         r"dilation\), as PyTorch"):
        tc.ops.conv_transpose2d(x, w, output_padding=(2, 1), dilation=(2, 3))
    assert tc.ops.conv_transpose2d(x, w, output_padding=(1, 2), dilation=(2, 3)).shape == \
        (1, 1, 6, 8)                   # (3 - 1) + 2*(2 - 1) + 1 + 1, (3 - 1) + 3*(2 - 1) + 1 + 2
    with pytest.raises(ValueError, match=r"the output would be -1x-1 \(input \(1, 1, 1, 1\), "
                                         r"kernel 2x2 with dilation 2, stride 1, padding 2\)"):
        tc.ops.conv_transpose2d(np.ones((1, 1, 1, 1)), w, padding=2, dilation=2)


def conv1d_loops(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """The 1-D oracle, one output at a time from the definition: out[n, f, i] = b[f] + sum over
    c, p of x[n, g*C + c, i*stride + p*dilation - padding] w[f, c, p] (zero outside x), g the
    group of output channel f and C = C_in / groups; padding "same" as (total // 2, the rest),
    "valid" as 0."""
    n_batch, _, length = x.shape
    filters, per_group, k = w.shape
    before = after = 0 if padding == "valid" else padding
    if padding == "same":
        total = dilation * (k - 1)
        before, after = total // 2, total - total // 2
    out_len = (length + before + after - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n_batch, filters, out_len))
    for n in range(n_batch):
        for f in range(filters):
            first = f // (filters // groups) * per_group
            for i in range(out_len):
                total = 0.0 if b is None else b[f]
                for c in range(per_group):
                    for p in range(k):
                        at = i * stride + p * dilation - before
                        if 0 <= at < length:
                            total += x[n, first + c, at] * w[f, c, p]
                out[n, f, i] = total
    return out


def test_conv1d_loops_by_hand():
    x = np.arange(5.0).reshape(1, 1, 5)                 # [0, 1, 2, 3, 4]
    w = np.array([[[1.0, -1.0]]])
    np.testing.assert_array_equal(conv1d_loops(x, w), [[[-1.0, -1.0, -1.0, -1.0]]])
    np.testing.assert_array_equal(conv1d_loops(x, w, dilation=2), [[[-2.0, -2.0, -2.0]]])
    np.testing.assert_array_equal(conv1d_loops(x, w, np.array([10.0]), stride=2, padding=1),
                                  [[[10.0, 9.0, 9.0]]])            # reads [_, 0], [1, 2], [3, 4]
    np.testing.assert_array_equal(conv1d_loops(x, w, padding="same"),   # one zero after the end
                                  [[[-1.0, -1.0, -1.0, -1.0, 4.0]]])


# x (N, C_in, L), w (C_out, C_in / groups, K), stride, padding, dilation, groups
CONV1D = [
    ((1, 1, 7), (1, 1, 3), 1, 0, 1, 1),                 # batch 1, one channel
    ((2, 3, 10), (4, 3, 2), 2, 1, 1, 1),                # batch, channels, stride, padding
    ((2, 2, 9), (3, 2, 3), (1,), (2,), (2,), 1),        # dilation; settings as 1-tuples
    ((2, 4, 8), (6, 2, 3), 3, 1, 1, 2),                 # two groups, stride 3
    ((1, 3, 9), (3, 1, 3), 2, 1, 2, 3),                 # depthwise, strided and dilated
    ((2, 2, 5), (3, 2, 5), 1, 0, 1, 1),                 # kernel as long as the signal
    ((2, 2, 7), (3, 2, 3), 1, "same", 1, 1),            # "same", odd kernel: 1 zero each end
    ((2, 2, 7), (3, 2, 4), 1, "same", 1, 1),            # "same", even kernel: 1 before, 2 after
    ((1, 2, 6), (2, 2, 2), 1, "same", 3, 1),            # "same", dilated: 3 zeros, 1 before
    ((2, 4, 5), (4, 2, 4), 1, "same", 1, 2),            # "same", even kernel, grouped
    ((1, 2, 6), (2, 2, 3), 1, "valid", 1, 1),           # "valid": no padding
    ((2, 2, 1), (3, 2, 2), 1, "same", 1, 1),            # "same" on a single sample
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV1D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv1d_matches_the_loops_batched_and_unbatched(rng, x_shape, w_shape, stride, padding,
                                                        dilation, groups, bias):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    settings = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    out = tc.ops.conv1d(tc.Value(x), tc.Value(w), b, **settings)

    def plain(setting):                     # the loops take ints: (2,) -> 2
        return setting[0] if isinstance(setting, tuple) else setting

    expected = conv1d_loops(x, w, b, plain(stride), plain(padding), plain(dilation), groups)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    one = tc.ops.conv1d(tc.Value(x[-1]), tc.Value(w), b, **settings)    # (C_in, L) -> (C_out, OL)
    assert one.shape == expected.shape[1:]
    np.testing.assert_allclose(one.data, expected[-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CONV1D)
def test_conv1d_gradcheck_batched_and_unbatched(rng, x_shape, w_shape, stride, padding, dilation,
                                                groups):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])

    def conv(x, w, b):
        return tc.ops.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                             groups=groups)

    assert tc.gradcheck(conv, [x, w, b])
    assert tc.gradcheck(conv, [x[0], w, b])


def test_conv1d_gradgradcheck(rng):
    x, w, b = rng.standard_normal((2, 2, 6)), rng.standard_normal((4, 1, 3)), rng.standard_normal(4)
    for padding in (1, "same"):
        assert tc.gradgradcheck(lambda x, w, b, p=padding: tc.ops.conv1d(
            x, w, b, padding=p, dilation=2, groups=2), [x, w, b])


def test_conv1d_is_conv2d_on_one_row_images_in_the_graph(rng):
    x, w = tc.Value(rng.standard_normal((2, 3, 9))), tc.Value(rng.standard_normal((4, 3, 2)))
    b = tc.Value(rng.standard_normal(4))
    out = tc.ops.conv1d(x, w, b, stride=2, padding=1, dilation=3)
    assert out.shape == (2, 4, 4) and out.fn.name == "Reshape"         # (N, C_out, 1, OL) -> 3-D
    (conv,) = out.parents
    assert conv.fn.name == "Conv2d" and conv.shape == (2, 4, 1, 4)
    assert conv.fn.params == {"stride": (1, 2), "padding": (0, 1), "dilation": (1, 3)}
    image, kernel, bias = conv.parents
    assert (image.fn.name, image.shape, image.parents) == ("Reshape", (2, 3, 1, 9), (x,))
    assert (kernel.fn.name, kernel.shape, kernel.parents) == ("Reshape", (4, 3, 1, 2), (w,))
    assert bias is b
    undilated = tc.ops.conv1d(x, w).parents[0]
    assert undilated.fn.params == {"stride": (1, 1), "padding": (0, 0)}   # no dilation param


def test_conv1d_same_padding_pads_the_end_once_for_an_odd_total(rng):
    x, w = tc.Value(rng.standard_normal((2, 2, 7))), tc.Value(rng.standard_normal((3, 2, 4)))
    out = tc.ops.conv1d(x, w, padding="same")                 # 3 zeros: 1 before, 2 after
    image = out.parents[0].parents[0]
    assert image.fn.name == "Reshape" and image.parents[0].fn.name == "Pad"
    assert image.parents[0].fn.params["pad_width"] == ((0, 0), (0, 0), (0, 1))
    assert out.parents[0].fn.params["padding"] == (0, 1)
    odd = tc.ops.conv1d(x, w[:, :, :3], padding="same")        # 2 zeros: no pad op
    assert odd.parents[0].parents[0].parents == (x,) and odd.shape == (2, 3, 7)


def test_conv1d_float32_stays_float32_and_constant_signals_take_the_weights_dtype(rng):
    x = tc.Value(rng.standard_normal((2, 3, 8)).astype(np.float32))
    w = tc.Value(rng.standard_normal((4, 3, 3)).astype(np.float32))
    b = tc.Value(rng.standard_normal(4).astype(np.float32))
    out = tc.ops.conv1d(x, w, b, padding="same")
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert out.dtype == x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, conv1d_loops(x.data.astype(np.float64),
                                                      w.data.astype(np.float64),
                                                      b.data.astype(np.float64),
                                                      padding="same"), rtol=1e-5, atol=1e-5)
    counts = rng.integers(0, 256, (3, 8)).astype(np.uint8)     # one unbatched uint8 signal
    assert tc.ops.conv1d(counts, w).dtype == np.float32
    with pytest.raises(TypeError, match=r"conv1d: input has dtype float64 but the weight has "
                                        r"dtype float32; expected the same dtype for an input "
                                        r"that requires grad"):
        tc.ops.conv1d(tc.Value(rng.standard_normal((2, 3, 8))), w)


@pytest.mark.parametrize("x_shape, w_shape, kwargs, error, match", [
    ((8, 3), (4, 3, 2), {}, ValueError,
     r"^conv1d: input has 8 channels but weight expects 3 \(input \(8, 3\), weight \(4, 3, 2\)\); "
     r"expected equal C_in in the unbatched input \(C_in, L\) and weight \(C_out, C_in, K\); for "
     r"one channels-last signal \(L, C\) use x\.transpose\(1, 0\)$"),
    ((2, 3, 4, 5), (4, 3, 2), {}, ValueError,
     r"^conv1d: input has shape \(2, 3, 4, 5\); expected a 3-D input \(N, C_in, L\) or a 2-D one "
     r"\(C_in, L\) with C_in = 3 for weight \(4, 3, 2\)$"),
    ((7,), (4, 1, 2), {}, ValueError,
     r"^conv1d: input has shape \(7,\); expected a 3-D input \(N, C_in, L\) or a 2-D one "
     r"\(C_in, L\) with C_in = 1 for weight \(4, 1, 2\); for one signal of length 7 use "
     r"x\.reshape\(1, 7\)$"),
    ((2, 5, 3), (4, 3, 2), {}, ValueError,
     r"^conv1d: input has 5 channels but weight expects 3 \(input \(2, 5, 3\), weight "
     r"\(4, 3, 2\)\); expected equal C_in in input \(N, C_in, L\) and weight \(C_out, C_in, K\); "
     r"for channels-last signals \(N, L, C\) use x\.transpose\(0, 2, 1\)$"),
    ((6, 10), (4, 1, 3), {}, ValueError,
     r"the unbatched input \(C_in, L\) .*; the channel axis is missing from the batch \(N, L\): "
     r"use x\.reshape\(6, 1, 10\)$"),
    ((2, 3, 8), (4, 3, 2, 2), {}, ValueError,
     r"^conv1d: weight has shape \(4, 3, 2, 2\); expected a 3-D weight \(C_out, C_in, K\)$"),
    ((2, 3, 4), (4, 3, 5), {}, ValueError,
     r"^conv1d: kernel 5 does not fit the padded input 4 \(input \(2, 3, 4\), padding 0\); "
     r"expected 1 <= K <= L \+ 2\*padding$"),
    ((3, 4), (4, 3, 3), {"dilation": 2}, ValueError,
     r"^conv1d: kernel 3 with dilation 2 spans 5, which does not fit the padded input 4 \(input "
     r"\(3, 4\), padding 0\); expected dilation\*\(K - 1\) \+ 1 <= L \+ 2\*padding; use "
     r"padding=1 or dilation=1$"),
    ((2, 3, 8), (4, 3, 2), {"stride": (1, 2)}, ValueError,
     r"^conv1d: stride is \(1, 2\); expected an int >= 1 \(or a tuple of one\); pass e\.g\. "
     r"stride=1$"),
    ((2, 3, 8), (4, 3, 2), {"padding": -1}, ValueError,
     r"^conv1d: padding is -1; expected an int >= 0 \(or a tuple of one\), 'same' or 'valid'; "
     r"pass e\.g\. padding=0$"),
    ((2, 3, 8), (4, 3, 2), {"padding": 1.5}, TypeError,
     r"^conv1d: padding is float 1\.5; expected an int >= 0 \(or a tuple of one\), 'same' or "
     r"'valid'; pass e\.g\. padding=1$"),
    ((2, 3, 8), (4, 3, 2), {"dilation": 0}, ValueError, r"^conv1d: dilation is 0; expected an "
                                                        r"int >= 1 \(or a tuple of one\)"),
    ((2, 3, 8), (4, 3, 2), {"padding": "full"}, ValueError,
     r"^conv1d: padding is 'full'; expected an int >= 0 \(or a tuple of one\), 'same' or "
     r"'valid'$"),
    ((2, 3, 8), (4, 3, 3), {"padding": "same", "stride": 2}, ValueError,
     r"^conv1d: padding='same' needs stride 1, got stride=2; expected stride=1 \(as PyTorch: "
     r"with a larger stride no padding keeps the size\); for a strided convolution pass an "
     r"int, e\.g\. padding=1 \(dilation\*\(K - 1\) // 2\), which gives OL = ceil\(L / 2\)$"),
    ((2, 3, 9), (4, 3, 0), {"padding": "same"}, ValueError,
     r"^conv1d: weight \(4, 3, 0\) has a kernel of 0 taps; expected K >= 1$"),
    ((2, 3, 9), (4, 3, 0), {"padding": "same", "stride": 2}, ValueError,
     r"^conv1d: weight \(4, 3, 0\) has a kernel of 0 taps; expected K >= 1$"),
    ((2, 3, 0), (4, 3, 4), {"padding": "same"}, ValueError,
     r"^conv1d: kernel 4 does not fit the padded input 3 \(input \(2, 3, 0\), padding 'same'\); "
     r"expected 1 <= K <= L \+ 2\*padding$"),
    ((2, 4, 8), (6, 2, 3), {"groups": 3}, ValueError,
     r"^conv1d: groups=3 does not divide the 4 input channels C_in \(input \(2, 4, 8\), weight "
     r"\(6, 2, 3\)\); expected C_in and C_out both divisible by groups; weight \(6, 2, 3\) "
     r"holds 2 input channels per group, so pass groups=2$"),
    ((2, 4, 8), (6, 4, 3), {"groups": 2}, ValueError,
     r"^conv1d: weight has 4 input channels per group .*; expected weight "
     r"\(C_out, C_in / groups, K\) = \(6, 2, 3\)$"),
    ((2, 4, 8), (6, 2, 3), {"groups": 2.0}, TypeError, r"^conv1d: groups must be an int"),
])
def test_conv1d_errors_speak_of_the_1d_call(x_shape, w_shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        tc.ops.conv1d(np.ones(x_shape), tc.Value(np.ones(w_shape)), **kwargs)


SIZE_SETTINGS = [
    # (call with the setting, the setting, error, message after "<fn>: ")
    (lambda v: tc.ops.conv1d(np.ones((2, 3, 8)), np.ones((4, 3, 3)), padding=v), 1.5, TypeError,
     "padding is float 1.5; expected an int >= 0 (or a tuple of one), 'same' or 'valid'; pass "
     "e.g. padding=1"),
    (lambda v: tc.ops.conv1d(np.ones((2, 3, 8)), np.ones((4, 3, 3)), padding=v), (1, 2),
     ValueError, "padding is (1, 2); expected an int >= 0 (or a tuple of one), 'same' or "
                 "'valid'; pass e.g. padding=1"),
    (lambda v: tc.ops.conv1d(np.ones((3, 8)), np.ones((4, 3, 3)), dilation=v), [2.0], TypeError,
     "dilation is list [2.0]; expected an int >= 1 (or a tuple of one); pass e.g. dilation=2"),
    (lambda v: tc.ops.conv2d(np.ones((1, 2, 6, 6)), np.ones((3, 2, 3, 3)), padding=v), "full",
     ValueError, "padding is 'full'; expected an int >= 0, an (h, w) pair of such ints, 'same' "
                 "or 'valid'"),
    (lambda v: tc.ops.conv2d(np.ones((1, 2, 6, 6)), np.ones((3, 2, 3, 3)), stride=v), (1, -2),
     ValueError, "stride is (1, -2); expected an int >= 1 or an (h, w) pair of such ints; pass "
                 "e.g. stride=1"),
    (lambda v: tc.ops.conv2d(np.ones((1, 2, 6, 6)), np.ones((3, 2, 3, 3)), stride=v), np.nan,
     TypeError, "stride is float nan; expected an int >= 1 or an (h, w) pair of such ints; pass "
                "e.g. stride=1"),
    (lambda v: tc.ops.conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 3, 3, 3)),
                                       output_padding=v), (0, -1), ValueError,
     "output_padding is (0, -1); expected an int >= 0 or an (h, w) pair of such ints; pass "
     "e.g. output_padding=0"),
    (lambda v: tc.ops.conv2d_weight(np.ones((1, 2, 6, 6)), np.ones((1, 3, 4, 4)), (3, 2, 3, 3),
                                    padding=v), (0,), ValueError,
     "padding is (0,); expected an int >= 0 or an (h, w) pair of such ints; pass e.g. "
     "padding=0"),
    (lambda v: tc.nn.Conv1d(3, 4, v), (3, 3), ValueError,
     "kernel_size is (3, 3); expected an int >= 1 (or a tuple of one); pass e.g. kernel_size=3"),
    (lambda v: tc.nn.Conv1d(3, 4, 3, padding=v), -1, ValueError,
     "padding is -1; expected an int >= 0 (or a tuple of one), 'same' or 'valid'; pass e.g. "
     "padding=0"),
    (lambda v: tc.nn.Conv2d(3, 4, 3, padding=v), 1.0, TypeError,
     "padding is float 1.0; expected an int >= 0, an (h, w) pair of such ints, 'same' or "
     "'valid'; pass e.g. padding=1"),
    (lambda v: tc.nn.ConvTranspose2d(3, 4, 3, dilation=v), (2, 0), ValueError,
     "dilation is (2, 0); expected an int >= 1 or an (h, w) pair of such ints; pass e.g. "
     "dilation=(2, 1)"),
    (lambda v: tc.nn.MaxPool1d(v), True, TypeError,
     "kernel_size is bool True; expected an int >= 1 (or a tuple of one); pass e.g. "
     "kernel_size=1"),
    (lambda v: tc.nn.AvgPool2d(2, stride=v), "2", TypeError,
     "stride is str '2'; expected an int >= 1 or an (h, w) pair of such ints; pass e.g. stride=1"),
]


@pytest.mark.parametrize("call, value, error, message", SIZE_SETTINGS)
def test_size_settings_are_checked_alike_everywhere_with_fixes_that_run(call, value, error,
                                                                       message):
    """The ops and the layers check kernel_size, stride, padding, dilation and output_padding
    with one validator (ops.layout.check_sizes): one wording, TypeError for what is not an int
    or a tuple of ints, ValueError for the wrong number of them or a value too small; the
    setting that the message suggests runs."""
    with pytest.raises(error, match=r"^\w+: " + re.escape(message) + "$") as raised:
        call(value)
    fix = re.search(r"pass e\.g\. \w+=(.+)$", str(raised.value))
    if fix:
        call(ast.literal_eval(fix[1]))


def test_conv1d_bad_bias_raises():
    with pytest.raises(ValueError, match=r"^conv1d: bias has shape \(3,\); expected \(4,\), one "
                                         r"per output channel of weight \(4, 2, 3\)$"):
        tc.ops.conv1d(np.ones((2, 2, 6)), np.ones((4, 2, 3)), np.ones(3))


# x (C_in, H, W), w (C_out, C_in / groups, KH, KW), the other settings
UNBATCHED = [
    ((3, 6, 7), (4, 3, 3, 2), {}),
    ((2, 7, 6), (3, 2, 3, 3), {"stride": 2, "padding": (1, 2)}),
    ((4, 8, 7), (4, 2, 2, 3), {"padding": 2, "dilation": (2, 1), "groups": 2}),
    ((3, 5, 6), (3, 1, 3, 3), {"padding": 1, "groups": 3}),          # depthwise
    ((2, 5, 6), (3, 2, 2, 3), {"padding": "same"}),                  # even KH: pad at the bottom
    ((2, 5, 6), (3, 2, 3, 2), {"padding": "same", "dilation": (2, 3)}),
]


@pytest.mark.parametrize("x_shape, w_shape, settings", UNBATCHED)
def test_unbatched_conv2d_is_a_batch_of_one(rng, x_shape, w_shape, settings):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out = tc.ops.conv2d(tc.Value(x), tc.Value(w), tc.Value(b), **settings)
    batched = tc.ops.conv2d(x[None], w, b, **settings)
    assert out.shape == batched.shape[1:]
    np.testing.assert_allclose(out.data, batched.data[0], rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(lambda x, w, b: tc.ops.conv2d(x, w, b, **settings), [x, w, b])


def test_unbatched_conv2d_against_the_loops_and_its_graph(rng):
    x, w = tc.Value(rng.standard_normal((2, 7, 6))), tc.Value(rng.standard_normal((3, 2, 3, 2)))
    out = tc.ops.conv2d(x, w, stride=(2, 1), padding=1)
    np.testing.assert_allclose(out.data, reference.conv2d(x.data[None], w.data, stride=(2, 1),
                                                          padding=1)[0], rtol=1e-12, atol=1e-12)
    # a batch of one through the one Conv2d node: a reshape before it and one after
    assert out.fn.name == "Reshape" and out.shape == (3, 4, 7)
    (conv,) = out.parents
    assert conv.fn.name == "Conv2d" and conv.fn.params == {"stride": (2, 1), "padding": 1}
    assert conv.parents[0].fn.name == "Reshape" and conv.parents[0].parents == (x,)
    assert conv.parents[0].shape == (1, 2, 7, 6) and conv.parents[1] is w


def test_conv2d_same_and_valid_padding_as_the_op_takes_them(rng):
    x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 2, 3))
    b = rng.standard_normal(4)
    padded = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 1)))     # KH - 1 = 1 at the bottom
    np.testing.assert_allclose(tc.ops.conv2d(x, w, b, padding="same").data,
                               reference.conv2d(padded, w, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(tc.ops.conv2d(x, w, b, padding="valid").data,
                                  tc.ops.conv2d(x, w, b).data)
    with pytest.raises(ValueError, match=r"^conv2d: padding='same' needs stride 1, got "
                                         r"stride=\(1, 2\); .* pass a pair, e\.g\. "
                                         r"padding=\(0, 1\) \(dilation\*\(K - 1\) // 2\), which "
                                         r"gives OH = H - 1 "
                                         r"and OW = ceil\(W / 2\): the total dilation\*\(K - 1\) = "
                                         r"1 along H is odd: 'same' would add one zero more at the "
                                         r"end than at the start, and a number padding adds as "
                                         r"many at both$"):
        tc.ops.conv2d(x, w, padding="same", stride=(1, 2))
    # the suggestion runs, with the sizes it promises: OH = 6 - 1, OW = ceil(7 / 2)
    assert tc.ops.conv2d(x, w, padding=(0, 1), stride=(1, 2)).shape == (2, 4, 5, 4)
    with pytest.raises(ValueError, match=r"^conv2d: padding is 'full'; expected an int >= 0, an "
                                         r"\(h, w\) pair of such ints, 'same' or 'valid'$"):
        tc.ops.conv2d(x, w, padding="full")
    with pytest.raises(TypeError, match=r"^conv_transpose2d: padding is str 'same'; expected an "
                                        r"int >= 0 or an \(h, w\) pair of such ints; pass e\.g\. "
                                        r"padding=0$"):
        tc.ops.conv_transpose2d(x, w.transpose(1, 0, 2, 3), padding="same")


def test_unbatched_conv2d_channel_errors_name_the_unbatched_layout():
    with pytest.raises(ValueError, match=r"^conv2d: input has 5 channels but weight expects 3 "
                                         r"\(input \(5, 6, 6\), weight \(4, 3, 3, 3\)\); expected "
                                         r"equal C_in in the unbatched input \(C_in, H, W\) and "
                                         r"weight \(C_out, C_in, KH, KW\)$"):
        tc.ops.conv2d(np.ones((5, 6, 6)), np.ones((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"^conv2d: kernel 7x3 does not fit the padded input 6x6 "
                                         r"\(input \(3, 6, 6\), padding \(0, 0\)\)"):
        tc.ops.conv2d(np.ones((3, 6, 6)), np.ones((4, 3, 7, 3)))
