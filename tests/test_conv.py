"""conv2d: forward against the nested-loop oracle, gradients by finite differences, dtypes, the
input gradient that is skipped when the input needs none, and every user error."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn.ops.conv import Conv2d


def test_reference_conv2d_by_hand():
    # the oracle itself: a 3x3 image, a 2x2 kernel, bias 1, stride 1, then padding 1 stride 2
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    np.testing.assert_array_equal(reference.conv2d(x, w, np.array([1.0])),
                                  [[[[1 + 0 - 4, 1 + 1 - 5], [1 + 3 - 7, 1 + 4 - 8]]]])
    np.testing.assert_array_equal(reference.conv2d(x, w, stride=2, padding=1),
                                  [[[[0.0, -2.0], [-6.0, 4.0 - 8.0]]]])


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


def test_uint8_images_with_float32_weights_give_float32(rng):
    images = rng.integers(0, 256, (2, 1, 6, 6)).astype(np.uint8)
    w = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    out = tc.ops.conv2d(images, tc.Value(w))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, reference.conv2d(images.astype(np.float64),
                                                          w.astype(np.float64)), rtol=1e-5)


def test_image_without_requires_grad_gets_no_input_gradient_work(rng, monkeypatch):
    def fail(self, *args):
        raise AssertionError("the input gradient was computed for an input that needs none")

    monkeypatch.setattr(Conv2d, "_input_grad", fail)
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
    ((3, 5, 5), (1, 3, 3, 3), {}, r"4-D input .* got input \(3, 5, 5\)"),
    ((1, 3, 5, 5), (3, 3, 3), {}, r"4-D weight .* weight \(3, 3, 3\)"),
    ((1, 3, 5, 5), (4, 2, 3, 3), {},
     r"input has 3 channels but weight expects 2 \(input \(1, 3, 5, 5\), weight \(4, 2, 3, 3\)\)"),
    ((1, 1, 5, 5), (1, 1, 6, 3), {}, r"kernel 6x3 does not fit the padded input 5x5"),
    ((1, 1, 5, 5), (1, 1, 8, 3), {"padding": 1}, r"kernel 8x3 does not fit the padded input 7x7"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 0}, r"stride must be positive, got 0"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": (1, -2)}, r"stride must be positive, got \(1, -2\)"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": -1}, r"padding must be non-negative, got -1"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"stride": 1.5}, r"stride must be an int or a pair of ints"),
    ((1, 1, 5, 5), (1, 1, 3, 3), {"padding": (1, 1, 1)}, r"padding must be an int or a pair"),
])
def test_bad_input_raises(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.conv2d(np.ones(x_shape), tc.Value(np.ones(w_shape)), **kwargs)


def test_bad_bias_shape_raises():
    with pytest.raises(ValueError, match=r"bias has shape \(3,\); expected \(2,\)"):
        tc.ops.conv2d(np.ones((1, 1, 4, 4)), tc.Value(np.ones((2, 1, 3, 3))),
                      tc.Value(np.ones(3)))
