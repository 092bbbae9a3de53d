"""interpolate and nn.Upsample: nearest, nearest-exact, (bi/tri)linear, bicubic and area
resizing and the antialiasing filters (bilinear, bicubic, lanczos) by hand, gradcheck and
second derivatives over sizes, scale factors and align_corners,
dtypes, errors."""

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


def test_nearest_exact_takes_the_cell_holding_each_centre():
    x = np.arange(5.0)[None, None]                                       # (1, 1, 5)
    # centres (i + 0.5) * 5/3 = 0.83, 2.5, 4.17 lie in cells 0, 2, 4; plain nearest takes
    # floor(i * 5/3) = 0, 1, 3
    assert ops.interpolate(x, size=3, mode="nearest-exact").data[0, 0].tolist() == [0, 2, 4]
    assert ops.interpolate(x, size=3).data[0, 0].tolist() == [0, 1, 3]


def test_bicubic_weights_by_hand():
    # t = 0 reproduces the samples: W(1) = 0, W(0) = 1, W(1) = 0, W(2) = 0
    np.testing.assert_allclose(ops.resample.cubic_weights(4, 4, None, True, np.float64),
                               np.eye(4), atol=1e-15)
    # t = 1/2 (doubling with aligned corners of 2 -> 3): W(1.5), W(0.5), W(0.5), W(1.5) with
    # a = -0.75: W(0.5) = (1.25/8) - (2.25/4) + 1 = 0.59375, W(1.5) = -0.09375; the taps
    # outside [0, 1] read the edges, so the row is [W(1.5) + W(0.5), W(0.5) + W(1.5)]
    w = ops.resample.cubic_weights(2, 3, None, True, np.float64)
    np.testing.assert_allclose(w, [[1, 0], [0.5, 0.5], [0, 1]], atol=1e-15)
    w = ops.resample.cubic_weights(8, 15, None, True, np.float64)
    np.testing.assert_allclose(w[3, 0:4], [-0.09375, 0.59375, 0.59375, -0.09375])
    np.testing.assert_allclose(w.sum(axis=1), 1.0)                      # each row sums to 1


def test_antialiased_bilinear_by_hand():
    # 4 -> 2: s = 2, so the triangle widens to half-width 2 around the centres c = 1 and 3;
    # output 0 weighs inputs 0, 1, 2 (at distances 0.5, 0.5, 1.5) by 1 - d/2 = 3/4, 3/4, 1/4,
    # divided by their sum 7/4; output 1 likewise inputs 1, 2, 3 (input 4 does not exist)
    w = ops.resample.antialiased_weights(4, 2, None, False, "bilinear", np.float64)
    np.testing.assert_allclose(w, [[3 / 7, 3 / 7, 1 / 7, 0], [0, 1 / 7, 3 / 7, 3 / 7]])
    x = tc.Value(np.array([[[[0.0, 7.0, 14.0, 21.0]]]]))                # (1, 1, 1, 4)
    out = ops.interpolate(x, size=(1, 2), mode="bilinear", antialias=True)
    np.testing.assert_allclose(out.data[0, 0, 0], [5.0, 16.0])         # 0*3/7 + 7*3/7 + 14/7
    # plain bilinear samples 2 inputs per output, missing inputs 0 and 3 half the time
    plain = ops.interpolate(x, size=(1, 2), mode="bilinear")
    np.testing.assert_allclose(plain.data[0, 0, 0], [3.5, 17.5])
    out.backward(np.ones((1, 1, 1, 2)))
    np.testing.assert_allclose(x.grad[0, 0, 0], [3 / 7, 4 / 7, 4 / 7, 3 / 7])   # column sums


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
def test_antialiased_filters_keep_sizes_and_constants(mode):
    # at the same size each filter is 1 at distance 0 and 0 at every other integer distance
    same = ops.resample.antialiased_weights(6, 6, None, False, mode, np.float64)
    np.testing.assert_allclose(same, np.eye(6), atol=1e-15)
    for n_in, n_out in [(28, 14), (10, 3), (5, 11)]:               # rows sum to 1
        w = ops.resample.antialiased_weights(n_in, n_out, None, False, mode, np.float64)
        np.testing.assert_allclose(w.sum(axis=1), 1.0)
        # shrinking, every input contributes to some output (no input is skipped)
        assert n_out > n_in or (np.abs(w).sum(axis=0) > 0).all()
    # Lanczos-3 at distance 1/2: sinc(1/2) sinc(1/6) = (2/pi) (sin(pi/6) / (pi/6))
    assert ops.resample.FILTERS["lanczos"][1](np.array(0.5)) == pytest.approx(
        (2 / np.pi) * (0.5 / (np.pi / 6)))


def test_recompute_scale_factor_resamples_as_the_size():
    x = np.random.default_rng(0).standard_normal((1, 2, 10, 10))
    # 10 * 0.37 -> 3: with recompute_scale_factor the step is 10/3, else 1/0.37
    recomputed = ops.interpolate(x, scale_factor=0.37, mode="bilinear",
                                 recompute_scale_factor=True)
    np.testing.assert_array_equal(recomputed.data,
                                  ops.interpolate(x, size=3, mode="bilinear").data)
    assert not np.allclose(recomputed.data,
                           ops.interpolate(x, scale_factor=0.37, mode="bilinear").data)


def test_area_averages_each_bin():
    x = tc.Value(np.arange(10.0)[None, None])                          # (1, 1, 10)
    out = ops.interpolate(x, size=4, mode="area")     # bins [0, 3), [2, 5), [5, 8), [7, 10)
    np.testing.assert_allclose(out.data[0, 0], [1.0, 3.0, 6.0, 8.0])
    out.backward(np.ones((1, 1, 4)))
    np.testing.assert_allclose(x.grad[0, 0], np.array([1, 1, 2, 1, 1, 1, 1, 2, 1, 1]) / 3)


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
    ((1, 2, 4, 5), "nearest-exact", (7, 3), None, None),
    ((2, 3, 5), "nearest-exact", None, 1.7, None),
    ((2, 2, 3, 4), "bicubic", (5, 7), None, False),
    ((1, 2, 4, 3), "bicubic", (6, 2), None, True),
    ((1, 1, 5, 4), "bicubic", None, (0.6, 1.5), False),
    ((1, 2, 2, 3, 4), "trilinear", (3, 4, 2), None, False),
    ((1, 1, 3, 2, 2), "trilinear", None, 1.5, True),
    ((1, 2, 2, 3, 2), "nearest", (3, 2, 5), None, None),
    ((2, 2, 7), "area", 3, None, None),
    ((1, 2, 5, 4), "area", (2, 6), None, None),
    ((1, 1, 3, 4, 5), "area", None, 0.5, None),
]


@pytest.mark.parametrize("shape, mode, size, scale_factor, align_corners", SETTINGS)
def test_interpolate_gradcheck_and_second_derivatives(rng, shape, mode, size, scale_factor,
                                                      align_corners):
    def resize(v):
        return ops.interpolate(v * v, size, scale_factor, mode, align_corners)  # v*v: curved
    x = rng.standard_normal(shape)
    assert tc.gradcheck(resize, [x])
    assert tc.gradgradcheck(resize, [x])


ANTIALIASED = [                    # (input shape, mode, size, scale_factor, align_corners)
    ((2, 2, 7, 5), "bilinear", (3, 2), None, False),
    ((1, 2, 6, 6), "bilinear", (3, 9), None, True),
    ((1, 1, 8, 5), "bicubic", None, 0.45, False),
    ((1, 2, 5, 7), "bicubic", (3, 3), None, True),
    ((2, 1, 9, 8), "lanczos", (4, 3), None, None),
    ((1, 1, 4, 5), "lanczos", None, (1.5, 0.6), False),
]


@pytest.mark.parametrize("shape, mode, size, scale_factor, align_corners", ANTIALIASED)
def test_antialiased_gradcheck_and_second_derivatives(rng, shape, mode, size, scale_factor,
                                                      align_corners):
    def resize(v):
        return ops.interpolate(v * v, size, scale_factor, mode, align_corners, antialias=True)
    x = rng.standard_normal(shape)
    assert tc.gradcheck(resize, [x])
    assert tc.gradgradcheck(resize, [x])


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area", "nearest-exact"])
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
    ({"size": 4, "mode": "cubic"}, r"mode 'cubic'; expected one of 'nearest', 'nearest-exact', "
                                   r"'linear', 'bilinear', 'bicubic', 'trilinear', 'area', "
                                   r"'lanczos'$"),
    ({"size": 4, "mode": "linear"}, r"input of shape \(2, 1, 3, 5\) for mode 'linear'; expected "
                                    r"\(N, C, L\); modes 'bilinear', 'bicubic' and 'lanczos' "
                                    r"resize images \(N, C, H, W\)$"),
    ({"size": 4, "mode": "trilinear"}, r"for mode 'trilinear'; expected \(N, C, D, H, W\); "
                                       r"modes 'bilinear', 'bicubic' and 'lanczos' resize images"),
    ({"size": 4, "antialias": True}, r"antialias=True for mode 'nearest'; expected one of the "
                                     r"modes 'bilinear', 'bicubic', 'lanczos' \(on images "
                                     r"\(N, C, H, W\)\), or antialias=False$"),
    ({"size": 4, "mode": "lanczos"}, r"mode 'lanczos' without antialias; .* expected "
                                     r"ops.interpolate\(x, ..., mode='lanczos', antialias=True\)"),
    ({"size": 4, "mode": "lanczos", "antialias": True, "align_corners": True},
     r"align_corners=True for mode 'lanczos'; expected align_corners None or False"),
    ({"size": 4, "mode": "bilinear", "recompute_scale_factor": True},
     r"recompute_scale_factor=True with size given; expected it only with scale_factor"),
    ({"size": 4, "align_corners": True}, r"align_corners is set for mode 'nearest'"),
    ({"size": 4, "mode": "area", "align_corners": False},
     r"align_corners is set for mode 'area', which has no corners to align; expected "
     r"align_corners=None \(its default\) with 'area', or one of the modes 'linear', "
     r"'bilinear', 'bicubic', 'trilinear'$"),
])
def test_interpolate_errors_say_what_was_expected(kwargs, message):
    with pytest.raises(ValueError, match=rf"^{message}" if message.startswith("interp")
                       else message):
        ops.interpolate(np.ones((2, 1, 3, 5)), **kwargs)


def test_other_layouts_are_refused_with_the_layouts_each_mode_takes():
    with pytest.raises(ValueError, match=r"input of shape \(3, 5\) for mode 'nearest'; expected "
                                         r"\(N, C, L\) or \(N, C, H, W\) or "
                                         r"\(N, C, D, H, W\)$"):
        ops.interpolate(np.ones((3, 5)), size=4)
    with pytest.raises(ValueError, match=r"input of shape \(1, 1, 1, 1, 1, 3\) for mode "
                                         r"'bicubic'; expected \(N, C, H, W\)$"):
        ops.interpolate(np.ones((1, 1, 1, 1, 1, 3)), size=4, mode="bicubic")
    with pytest.raises(ValueError, match=r"input of shape \(1, 2, 0, 3\) has no elements along "
                                         r"a spatial axis"):
        ops.interpolate(np.ones((1, 2, 0, 3)), size=4)
    with pytest.raises(ValueError, match=r"^Upsample: expected exactly one of size and "
                                         r"scale_factor, got neither"):
        nn.Upsample()


def test_lanczos_needs_interpolate_with_antialias_and_bad_flags_are_refused():
    with pytest.raises(ValueError, match=r"^Upsample: mode 'lanczos' without antialias; .* "
                                         r"expected ops.interpolate\(x, ..., mode='lanczos', "
                                         r"antialias=True\)$"):
        nn.Upsample(size=4, mode="lanczos")
    x = np.ones((1, 1, 6, 6))
    assert ops.interpolate(x, size=4, mode="lanczos", antialias=True).shape == (1, 1, 4, 4)
    with pytest.raises(TypeError, match=r"antialias='yes'; expected False or True"):
        ops.interpolate(x, size=4, mode="bilinear", antialias="yes")
    with pytest.raises(TypeError, match=r"recompute_scale_factor=2; expected None, False or True"):
        ops.interpolate(x, scale_factor=0.5, mode="bilinear", recompute_scale_factor=2)
