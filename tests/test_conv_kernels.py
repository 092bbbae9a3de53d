"""The numpy kernels of ops/conv_kernels.py against the nested loops of tests/reference.py: the
banded forward, the weight gradient, and both input-gradient algorithms (by tiles and by rows),
for tiles of one output and of several, spare outputs, strides and padding, and their dtypes;
the spectral kernels (stride 1) likewise, and gradients of gradients through them; the dilation
helpers (spread, taps, dilated_size) and every kernel run on a spread kernel against the dilated
loops; the dilated kernels of stride 1, by phases (banded and spectral, empty phases, float32 and
float64), against the same loops."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn.ops import conv_kernels as kernels

# x (N, C, H, W), w (F, C, KH, KW), stride, padding
CONFIGS = [
    ((1, 1, 5, 5), (1, 1, 3, 3), (1, 1), (0, 0)),        # classic im2col, J = 1
    ((2, 3, 6, 7), (4, 3, 2, 3), (1, 1), (0, 0)),        # batch and channels, non-square
    ((2, 2, 7, 9), (3, 2, 3, 2), (2, 2), (1, 1)),        # stride 2, padding 1
    ((1, 2, 8, 7), (2, 2, 3, 3), (3, 3), (2, 2)),        # rows and columns no window reads
    ((2, 3, 5, 6), (2, 3, 4, 3), (2, 3), (1, 0)),        # (h, w) pairs
    ((2, 2, 5, 6), (3, 2, 7, 8), (1, 1), (1, 1)),        # kernel as large as the padded image
    ((1, 1, 14, 14), (3, 1, 10, 10), (1, 1), (0, 0)),    # tiles of J = 5: one tile per row
    ((2, 3, 12, 11), (2, 3, 10, 10), (1, 1), (0, 0)),    # tiles of J = 2
    ((1, 2, 7, 22), (2, 2, 3, 6), (1, 1), (0, 0)),       # tiles of 6 outputs, 1 spare
    ((1, 1, 5, 40), (2, 1, 2, 12), (2, 2), (1, 1)),      # tiles of 6, stride 2, 2 spare
    ((1, 2, 7, 16), (2, 2, 3, 6), (1, 1), (0, 0)),       # 11 outputs: one tile, not two of 6
    ((1, 1, 5, 30), (2, 1, 2, 12), (2, 2), (1, 1)),      # the same at stride 2
    ((2, 2, 9, 29), (2, 2, 3, 7), (1, 1), (2, 3)),       # several tiles, padding
    ((2, 4, 9, 8), (5, 4, 4, 4), (1, 1), (0, 0)),        # spectra: 4 channels, 4x4 kernel
    ((2, 4, 12, 11), (4, 4, 10, 10), (1, 1), (0, 0)),    # spectra: odd and even widths
    ((1, 5, 7, 9), (4, 5, 5, 4), (1, 1), (2, 1)),        # spectra with padding
    ((3, 6, 6, 6), (4, 6, 8, 8), (1, 1), (1, 1)),        # spectra: kernel as large as the image
    ((2, 4, 12, 12), (4, 4, 4, 4), (2, 2), (0, 0)),      # stride 2: tiles, not spectra
]
# the configurations of stride 1, which every kernel can take to the spectral algorithm
STRIDE_1 = [config for config in CONFIGS if config[2] == (1, 1)]


def leftover(x_shape, w_shape, stride, padding):
    """Rows and columns that no window reaches: conv_transpose2d's output_padding that gives
    back x's shape."""
    return tuple((x_shape[2 + a] + 2 * padding[a] - w_shape[2 + a]) % stride[a] for a in (0, 1))


def test_tiles_are_used_for_wide_kernels_only():
    assert kernels.tiling(kw=10, sw=1, ow=19) == (19, 1, 28)      # the seed's first layer:
    # two tiles of 10 would cover its 19 outputs, so the whole row is one tile
    assert kernels.tiling(kw=10, sw=1, ow=21) == (10, 3, 19)
    assert kernels.tiling(kw=10, sw=1, ow=10) == (10, 1, 19)      # and its second
    assert kernels.tiling(kw=10, sw=1, ow=3) == (3, 1, 12)        # never more than OW
    assert kernels.tiling(kw=3, sw=1, ow=26) == (1, 26, 3)        # narrow: classic im2col
    assert kernels.tiling(kw=12, sw=2, ow=11) == (11, 1, 32)
    assert kernels.tiling(kw=12, sw=2, ow=13) == (6, 3, 22)


def test_spectra_are_used_for_large_kernels_between_wide_layers():
    assert kernels.spectral((16, 8, 10, 10), (1, 1), 64)      # the seed's second layer
    assert not kernels.spectral((8, 1, 10, 10), (1, 1), 64)   # its first: one input channel
    assert not kernels.spectral((1, 1, 10, 10), (1, 1), 64)   # the (1, 1) network
    assert not kernels.spectral((16, 8, 3, 3), (1, 1), 64)    # small kernels
    assert not kernels.spectral((16, 8, 10, 10), (2, 1), 64)  # strides
    assert not kernels.spectral((16, 8, 10, 10), (1, 1), 0)   # an empty batch


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONFIGS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("algorithm", ["conv2d_forward", "banded_forward"])
def test_forward_matches_the_loops(rng, x_shape, w_shape, stride, padding, bias, algorithm):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    out = getattr(kernels, algorithm)(x, w, b, stride, padding)
    np.testing.assert_allclose(out, reference.conv2d(x, w, b, stride, padding),
                               rtol=1e-12, atol=1e-12)
    assert out.flags.c_contiguous


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONFIGS)
@pytest.mark.parametrize("algorithm", ["conv2d_weight_grad", "banded_weight_grad"])
def test_weight_grad_matches_the_loops(rng, x_shape, w_shape, stride, padding, algorithm):
    x = rng.standard_normal(x_shape)
    g = rng.standard_normal(reference.conv2d(x, np.zeros(w_shape), None, stride, padding).shape)
    dw = getattr(kernels, algorithm)(x, g, w_shape[2:], stride, padding)
    np.testing.assert_allclose(dw, reference.conv2d_weight(x, g, w_shape[2:], stride, padding),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONFIGS)
@pytest.mark.parametrize("algorithm", ["conv2d_input_grad", "banded_input_grad",
                                       "input_grad_by_tiles", "input_grad_by_rows"])
def test_input_grad_is_the_transposed_convolution(rng, x_shape, w_shape, stride, padding,
                                                  algorithm):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    g = rng.standard_normal(reference.conv2d(x, w, None, stride, padding).shape)
    dx = getattr(kernels, algorithm)(g, w, x_shape[2:], stride, padding)
    expected = reference.conv_transpose2d(g, w, None, stride, padding,
                                          leftover(x_shape, w_shape, stride, padding))
    assert expected.shape == x_shape
    np.testing.assert_allclose(dx, expected, rtol=1e-12, atol=1e-12)
    assert dx.flags.c_contiguous


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONFIGS)
def test_input_and_weight_grad_together_match_the_loops(rng, x_shape, w_shape, stride,
                                                        padding):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    g = rng.standard_normal(reference.conv2d(x, w, None, stride, padding).shape)
    dx, dw = kernels.conv2d_input_and_weight_grad(x, g, w, stride, padding)
    expected_dx = reference.conv_transpose2d(g, w, None, stride, padding,
                                             leftover(x_shape, w_shape, stride, padding))
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, reference.conv2d_weight(x, g, w_shape[2:], stride, padding),
                               rtol=1e-12, atol=1e-12)
    assert dx.flags.c_contiguous and dx.shape == x_shape and dw.shape == w_shape


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", STRIDE_1)
@pytest.mark.parametrize("bias", [True, False])
def test_spectral_kernels_match_the_loops(rng, x_shape, w_shape, stride, padding, bias):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    out = kernels.spectral_forward(x, w, b, padding)
    np.testing.assert_allclose(out, reference.conv2d(x, w, b, 1, padding), rtol=1e-12,
                               atol=1e-12)
    g = rng.standard_normal(out.shape)
    dw = kernels.spectral_weight_grad(x, g, w_shape[2:], padding)
    np.testing.assert_allclose(dw, reference.conv2d_weight(x, g, w_shape[2:], 1, padding),
                               rtol=1e-12, atol=1e-12)
    dx = kernels.spectral_input_grad(g, w, x_shape[2:], padding)
    np.testing.assert_allclose(dx, reference.conv_transpose2d(g, w, None, 1, padding),
                               rtol=1e-12, atol=1e-12)
    assert out.flags.c_contiguous and dx.flags.c_contiguous
    dx_together, dw_together = kernels.spectral_backward(x, g, w, padding)
    np.testing.assert_allclose(dx_together, dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw_together, dw, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
def test_spectral_kernels_keep_the_dtype(rng, dtype, rtol):
    x = rng.standard_normal((3, 6, 13, 12)).astype(dtype)
    w = rng.standard_normal((5, 6, 6, 5)).astype(dtype)
    out = kernels.spectral_forward(x, w, None, (1, 2))
    g = rng.standard_normal(out.shape).astype(dtype)
    dw = kernels.spectral_weight_grad(x, g, (6, 5), (1, 2))
    dx = kernels.spectral_input_grad(g, w, (13, 12), (1, 2))
    dx_together, dw_together = kernels.spectral_backward(x, g, w, (1, 2))
    assert out.dtype == dw.dtype == dx.dtype == dx_together.dtype == dw_together.dtype == dtype
    np.testing.assert_allclose(dx_together, dx, rtol=rtol, atol=rtol * np.abs(dx).max())
    np.testing.assert_allclose(dw_together, dw, rtol=rtol, atol=rtol * np.abs(dw).max())
    x64, w64, g64 = (a.astype(np.float64) for a in (x, w, g))
    scale = {"out": np.abs(out).max(), "dw": np.abs(dw).max(), "dx": np.abs(dx).max()}
    np.testing.assert_allclose(out, reference.conv2d(x64, w64, None, 1, (1, 2)),
                               rtol=rtol, atol=rtol * scale["out"])
    np.testing.assert_allclose(dw, reference.conv2d_weight(x64, g64, (6, 5), 1, (1, 2)),
                               rtol=rtol, atol=rtol * scale["dw"])
    np.testing.assert_allclose(dx, reference.conv_transpose2d(g64, w64, None, 1, (1, 2)),
                               rtol=rtol, atol=rtol * scale["dx"])


def test_the_batch_is_cut_into_equal_blocks_of_about_a_megabyte():
    blocks = kernels.batch_blocks(64, (19, 19), 16 + 32)     # 73 KB of spectra per image
    assert [b.stop - b.start for b in blocks] == [12, 13, 13, 13, 13]
    assert blocks[0].start == 0 and blocks[-1].stop == 64
    assert all(blocks[i].stop == blocks[i + 1].start for i in range(len(blocks) - 1))
    assert kernels.batch_blocks(3, (5, 5), 2) == [slice(0, 3)]


def test_blocks_of_the_batch_give_what_one_block_gives(rng, monkeypatch):
    x, w = rng.standard_normal((20, 6, 9, 9)), rng.standard_normal((5, 6, 4, 4))
    g = rng.standard_normal((20, 5, 8, 8))
    def all_of_them():
        return (kernels.spectral_forward(x, w, None, (1, 1)),
                kernels.spectral_weight_grad(x, g, (4, 4), (1, 1)),
                kernels.spectral_input_grad(g, w, (9, 9), (1, 1)),
                *kernels.spectral_backward(x, g, w, (1, 1)))

    monkeypatch.setattr(kernels, "batch_blocks", lambda n, *sizes: [slice(0, n)])
    at_once = all_of_them()
    monkeypatch.setattr(kernels, "batch_blocks",
                        lambda n, *sizes: [slice(0, 7), slice(7, 13), slice(13, n)])
    for by_blocks, expected in zip(all_of_them(), at_once, strict=True):
        np.testing.assert_allclose(by_blocks, expected, rtol=1e-12, atol=1e-12)


def test_gradients_of_gradients_through_the_spectral_kernels(rng):
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((4, 4, 4, 4))
    b = rng.standard_normal(4)
    assert kernels.spectral(w.shape, (1, 1), x.shape[0])
    assert tc.gradcheck(lambda x, w, b: tc.ops.conv2d(x, w, b, padding=1), [x, w, b])
    assert tc.gradgradcheck(lambda x, w, b: tc.ops.conv2d(x, w, b, padding=1), [x, w, b])


def test_input_grad_is_the_adjoint_of_the_forward(rng):
    # <conv(x), g> = <x, dx(g)>: the defining property of the transposed convolution
    x, w = rng.standard_normal((2, 3, 11, 13)), rng.standard_normal((4, 3, 10, 10))
    out = kernels.conv2d_forward(x, w, None, (1, 2), (2, 1))
    g = rng.standard_normal(out.shape)
    dx = kernels.conv2d_input_grad(g, w, x.shape[2:], (1, 2), (2, 1))
    np.testing.assert_allclose((out * g).sum(), (x * dx).sum(), rtol=1e-12)


def test_dtypes_follow_numpy_promotion(rng):
    images = rng.integers(0, 256, (2, 1, 12, 12)).astype(np.uint8)
    w = rng.standard_normal((3, 1, 10, 10)).astype(np.float32)
    out = kernels.conv2d_forward(images, w, None, (1, 1), (0, 0))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, reference.conv2d(images.astype(np.float64),
                                                     w.astype(np.float64)), rtol=1e-5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    assert kernels.conv2d_weight_grad(images, g, (10, 10), (1, 1), (0, 0)).dtype == np.float32
    assert kernels.conv2d_input_grad(g, w, (12, 12), (1, 1), (0, 0)).dtype == np.float32



def test_spread_and_taps_by_hand():
    w = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    w_d = kernels.spread(w, (2, 3))           # taps 2 rows and 3 columns apart, zeros between
    np.testing.assert_array_equal(w_d[0, 0], [[1, 0, 0, 2], [0, 0, 0, 0], [3, 0, 0, 4]])
    assert w_d.shape[2:] == kernels.dilated_size((2, 2), (2, 3)) == (3, 4)
    dw = kernels.taps(w_d, (2, 3))
    np.testing.assert_array_equal(dw, w)
    assert dw.flags.c_contiguous


def test_no_dilation_costs_no_copy(rng):
    w = rng.standard_normal((2, 3, 3, 5))
    assert kernels.spread(w, (1, 1)) is w and kernels.taps(w, (1, 1)) is w
    assert kernels.dilated_size((3, 5), (1, 1)) == (3, 5)


# x (N, C, H, W), w (F, C, KH, KW), stride, padding, dilation
DILATED = [
    ((2, 2, 9, 8), (3, 2, 3, 2), (1, 1), (0, 0), (2, 2)),      # banded, J = 1
    ((1, 2, 11, 12), (2, 2, 3, 3), (2, 1), (1, 2), (2, 3)),    # strides, padding, (h, w) pairs
    ((2, 4, 12, 12), (4, 4, 3, 3), (1, 1), (1, 1), (2, 2)),    # spectra: a spread 5x5 kernel
    ((1, 1, 6, 30), (2, 1, 2, 4), (1, 1), (0, 0), (1, 3)),     # a spread 2x10 kernel: tiles
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", DILATED)
def test_kernels_on_a_spread_kernel_match_the_dilated_loops(rng, x_shape, w_shape, stride,
                                                             padding, dilation):
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
    w_d = kernels.spread(w, dilation)
    out = kernels.conv2d_forward(x, w_d, b, stride, padding)
    np.testing.assert_allclose(out, reference.conv2d(x, w, b, stride, padding, dilation),
                               rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    expected_dw = reference.conv2d_weight(x, g, w_shape[2:], stride, padding, dilation)
    span = kernels.dilated_size(w_shape[2:], dilation)
    dw = kernels.taps(kernels.conv2d_weight_grad(x, g, span, stride, padding), dilation)
    np.testing.assert_allclose(dw, expected_dw, rtol=1e-12, atol=1e-12)
    expected_dx = reference.conv_transpose2d(g, w, None, stride, padding,
                                             leftover(x_shape, w_d.shape, stride, padding),
                                             dilation)
    assert expected_dx.shape == x_shape
    dx = kernels.conv2d_input_grad(g, w_d, x_shape[2:], stride, padding)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12, atol=1e-12)
    dx, dw_d = kernels.conv2d_input_and_weight_grad(x, g, w_d, stride, padding)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kernels.taps(dw_d, dilation), expected_dw, rtol=1e-12,
                               atol=1e-12)


# x (N, C, H, W), w (F, C, KH, KW), padding, dilation: stride 1, which runs by phases
PHASED = [
    ((2, 2, 9, 8), (3, 2, 3, 2), (0, 0), (2, 2)),      # banded phases
    ((1, 2, 3, 6), (2, 2, 2, 2), (2, 0), (5, 2)),      # DH = 5 > H: three phases of no output
    ((2, 1, 4, 4), (3, 1, 2, 3), (2, 2), (3, 1)),      # (h, w) pairs unequal, padding
    ((2, 4, 10, 10), (4, 4, 3, 3), (2, 2), (2, 2)),    # spectral phases: the spread 5x5 would be
    ((2, 4, 12, 12), (4, 4, 4, 4), (3, 3), (2, 3)),    # spectral phases, unequal dilation
    ((1, 3, 1, 20), (2, 3, 1, 2), (0, 0), (1, 4)),     # conv1d's shape: DH = 1
    ((2, 1, 1, 5), (1, 1, 1, 3), (0, 3), (1, 4)),      # DW = 4 > W, the padding read too
    ((0, 2, 6, 6), (2, 2, 3, 3), (1, 1), (2, 2)),      # an empty batch
]


def test_phases_run_at_stride_1_only():
    assert kernels.phased((1, 1), (2, 2)) and kernels.phased((1, 1), (1, 3))
    assert not kernels.phased((1, 1), (1, 1))            # undilated: the kernels themselves
    assert not kernels.phased((2, 1), (2, 2))            # strided: the spread kernel
    assert kernels.spectral_phases((16, 16, 3, 3), (2, 2), 16)   # a spread 5x5 would be
    assert not kernels.spectral_phases((16, 16, 3, 3), (1, 1), 16)
    assert not kernels.spectral_phases((16, 16, 1, 2), (1, 8), 16)   # a spread 1x9 would not


def test_phases_by_hand():
    a = np.arange(1.0, 6.0).reshape(1, 1, 1, 5)
    # a at column 1 of a zero row of 3*2 = 6 columns: [0, 1, 2, 3, 4, 5] cut into 2 phases
    phases = kernels.to_phases(a, (0, 1), (1, 2), (1, 3))
    np.testing.assert_array_equal(phases[:, 0, 0], [[0, 2, 4], [1, 3, 5]])
    np.testing.assert_array_equal(kernels.from_phases(phases, (1, 2), (0, 1), (1, 5)), a)
    np.testing.assert_array_equal(kernels.from_phases(phases, (1, 2), (0, 0), (1, 6))[0, 0, 0],
                                  [0, 1, 2, 3, 4, 5])


@pytest.mark.parametrize("x_shape, w_shape, padding, dilation", PHASED)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_phases_match_the_dilated_loops(rng, x_shape, w_shape, padding, dilation, dtype, tol):
    x, w, b = (rng.standard_normal(shape).astype(dtype)
               for shape in (x_shape, w_shape, w_shape[:1]))
    one = (1, 1)
    out = kernels.dilated_forward(x, w, b, one, padding, dilation)
    expected = reference.conv2d(x, w, b, one, padding, dilation)
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    expected_dw = reference.conv2d_weight(x, g, w_shape[2:], one, padding, dilation)
    dw = kernels.dilated_weight_grad(x, g, w_shape[2:], one, padding, dilation)
    np.testing.assert_allclose(dw, expected_dw, rtol=tol, atol=tol)
    expected_dx = reference.conv_transpose2d(g, w, None, one, padding, 0, dilation)
    assert expected_dx.shape == x_shape
    dx = kernels.dilated_input_grad(g, w, x_shape[2:], one, padding, dilation)
    np.testing.assert_allclose(dx, expected_dx, rtol=tol, atol=tol)
    dx_together, dw_together = kernels.dilated_input_and_weight_grad(x, g, w, one, padding,
                                                                     dilation)
    np.testing.assert_allclose(dx_together, expected_dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(dw_together, expected_dw, rtol=tol, atol=tol)
    for result in (out, dx, dw, dx_together, dw_together):
        assert result.dtype == dtype
    assert out.flags.c_contiguous and dx.flags.c_contiguous and dx_together.flags.c_contiguous


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", DILATED)
def test_dilated_helpers_match_the_dilated_loops_on_either_route(rng, x_shape, w_shape, stride,
                                                                 padding, dilation):
    """The strided configurations take the spread kernel, the others the phases."""
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out = kernels.dilated_forward(x, w, None, stride, padding, dilation)
    np.testing.assert_allclose(out, reference.conv2d(x, w, None, stride, padding, dilation),
                               rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(out.shape)
    dx, dw = kernels.dilated_input_and_weight_grad(x, g, w, stride, padding, dilation)
    np.testing.assert_allclose(dw, reference.conv2d_weight(x, g, w_shape[2:], stride, padding,
                                                           dilation), rtol=1e-12, atol=1e-12)
    span = kernels.dilated_size(w_shape[2:], dilation)
    np.testing.assert_allclose(dx, reference.conv_transpose2d(
        g, w, None, stride, padding, leftover(x_shape, (0, 0, *span), stride, padding), dilation),
        rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kernels.dilated_input_grad(g, w, x_shape[2:], stride, padding,
                                                          dilation), dx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kernels.dilated_weight_grad(x, g, w_shape[2:], stride, padding,
                                                           dilation), dw, rtol=1e-12, atol=1e-12)
