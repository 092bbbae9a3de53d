"""interpolate and nn.Upsample: nearest and (bi)linear resizing by hand, gradcheck and second
derivatives over sizes, scale factors and align_corners, dtypes, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def test_nearest_doubling_repeats_and_its_gradient_sums_the_copies():
    x = tc.Value(np.array([[[1.0, 2.0], [3.0, 4.0]]])[None])            # (1, 1, 2, 2)
    out = ops.interpolate(x, scale_factor=2)
    assert out.data[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    out.backward(np.arange(16.0).reshape(1, 1, 4, 4))
    # each input element gets the sum of its 2 x 2 block of the upstream gradient
    assert x.grad[0, 0].tolist() == [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13,
                                                                       10 + 11 + 14 + 15]]


def test_linear_by_hand_with_and_without_aligned_corners():
    x = tc.Value(np.array([[[0.0, 10.0, 20.0]]]))                        # (1, 1, 3)
    # source positions (i + 0.5) * 3/5 - 0.5 = -0.2 (clamped to 0), 0.4, 1.0, 1.6, 2.2 (-> 2)
    np.testing.assert_allclose(ops.interpolate(x, size=5, mode="linear").data[0, 0],
                               [0.0, 4.0, 10.0, 16.0, 20.0])
    # aligned: i * 2/4 = 0, 0.5, 1, 1.5, 2
    aligned = ops.interpolate(x, size=5, mode="linear", align_corners=True)
    np.testing.assert_allclose(aligned.data[0, 0], [0.0, 5.0, 10.0, 15.0, 20.0])
    aligned.backward(np.ones((1, 1, 5)))
    np.testing.assert_allclose(x.grad[0, 0], [1.5, 2.0, 1.5])           # the weights' column sums


SETTINGS = [                       # (input shape, mode, size, scale_factor, align_corners)
    ((2, 3, 4, 5), "nearest", (7, 3), None, None),
    ((1, 2, 3, 3), "nearest", None, 1.5, None),
    ((1, 1, 5, 4), "nearest", None, (0.5, 2.5), None),
    ((2, 2, 3, 4), "bilinear", (5, 7), None, False),
    ((2, 2, 3, 4), "bilinear", (5, 7), None, True),
    ((1, 2, 4, 4), "bilinear", None, 0.75, False),
    ((1, 1, 2, 3), "bilinear", (1, 1), None, True),                     # one output: the corner
    ((2, 3, 5), "nearest", 8, None, None),
    ((2, 3, 5), "linear", None, 1.7, False),
    ((2, 3, 5), "linear", 3, None, True),
]


@pytest.mark.parametrize("shape, mode, size, scale_factor, align_corners", SETTINGS)
def test_interpolate_gradcheck_and_second_derivatives(rng, shape, mode, size, scale_factor,
                                                      align_corners):
    def resize(v):
        return ops.interpolate(v * v, size, scale_factor, mode, align_corners)  # v*v: curved
    x = rng.standard_normal(shape)
    assert tc.gradcheck(resize, [x])
    assert tc.gradgradcheck(resize, [x])


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_float32_stays_float32_and_upsample_is_interpolate(rng, mode):
    x = tc.Value(rng.standard_normal((2, 3, 4, 4)), dtype=np.float32)
    layer = nn.Upsample(scale_factor=2, mode=mode)
    out = layer(x)
    assert out.shape == (2, 3, 8, 8) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, ops.interpolate(x, scale_factor=2.0, mode=mode).data)
    out.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.sum(), 2 * 3 * 8 * 8, rtol=1e-6)   # weight rows sum to 1


def test_nearest_resizes_integers_and_linear_refuses_them():
    ids = np.arange(6).reshape(1, 1, 2, 3)
    assert ops.interpolate(ids, size=(2, 6)).data[0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(TypeError, match=r"interpolate: input has dtype int64; mode 'bilinear' "
                                        r"blends neighbours .* x.astype\(np.float32\)"):
        ops.interpolate(ids, size=(3, 3), mode="bilinear")
    assert ops.interpolate(ids.astype(np.float32), size=(3, 3), mode="bilinear").shape == \
        (1, 1, 3, 3)                                                    # the fix works


@pytest.mark.parametrize("kwargs, message", [
    ({}, r"interpolate: expected exactly one of size and scale_factor, got neither"),
    ({"size": 4, "scale_factor": 2}, r"expected exactly one of size and scale_factor, got both"),
    ({"size": 0}, r"size=0; expected ints >= 1, one for every spatial axis or a tuple"),
    ({"size": 2.5}, r"size=2.5; expected ints >= 1"),
    ({"scale_factor": -1}, r"scale_factor=-1; expected finite numbers > 0"),
    ({"size": (4, 4, 4)}, r"size=\(4, 4, 4\) has 3 entries for an input with 2 spatial axes "
                          r"\(3, 5\); expected one number, or 2"),
    ({"scale_factor": 0.2}, r"scale_factor=0.2 turns the spatial sizes \(3, 5\) into \(0, 1\); "
                            r"expected every output size >= 1"),
    ({"size": 4, "mode": "bicubic"}, r"mode 'bicubic'; expected one of 'nearest', 'linear', "
                                     r"'bilinear'"),
    ({"size": 4, "mode": "linear"}, r"input of shape \(2, 1, 3, 5\) for mode 'linear'; expected "
                                    r"\(N, C, L\); mode 'bilinear' resizes images"),
    ({"size": 4, "align_corners": True}, r"align_corners is set for mode 'nearest'"),
])
def test_interpolate_errors_say_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=rf"^{message}" if message.startswith("interp")
                       else message):
        ops.interpolate(np.ones((2, 1, 3, 5)), **kwargs)


def test_other_layouts_are_refused_with_the_layouts_each_mode_takes():
    with pytest.raises(ValueError, match=r"input of shape \(3, 5\) for mode 'nearest'; expected "
                                         r"\(N, C, L\) or \(N, C, H, W\)$"):
        ops.interpolate(np.ones((3, 5)), size=4)
    with pytest.raises(ValueError, match=r"input of shape \(1, 2, 0, 3\) has no elements along "
                                         r"a spatial axis"):
        ops.interpolate(np.ones((1, 2, 0, 3)), size=4)
    with pytest.raises(ValueError, match=r"^Upsample: expected exactly one of size and "
                                         r"scale_factor, got neither"):
        nn.Upsample()
