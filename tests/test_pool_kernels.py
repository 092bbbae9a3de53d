"""The numpy kernels of ops/pool_kernels.py against loops: each window's maximum against
tests/reference.py, its first maximum's offset and the scatter and gather at it against the
loops below, for the 2x2 slabs, the strided views, padded windows and ceil_mode's windows that
hang past the edge alike, with ties, odd sizes and dtypes; the window counts against
reference.pool_output_size."""

import numpy as np
import pytest
import reference

from tinygrad_cnn.ops import pool_kernels as kernels

# x (N, C, H, W), kernel, stride
CONFIGS = [
    ((2, 3, 6, 8), (2, 2), (2, 2)),      # 2x2 slabs
    ((2, 2, 7, 9), (2, 2), (2, 2)),      # 2x2 slabs, odd sizes: last row and column left out
    ((64, 16, 10, 10), (2, 2), (2, 2)),  # the seed's pooling layer
    ((1, 2, 9, 10), (3, 3), (3, 3)),     # tiling 3x3 windows: the scatter at flat indices
    ((1, 2, 7, 9), (2, 1), (3, 2)),      # views: 2x1 windows with gaps between them
    ((2, 1, 7, 7), (3, 3), (2, 2)),      # views: overlapping windows
    ((1, 2, 5, 6), (2, 2), (1, 1)),      # views: 2x2 windows at stride 1
    ((1, 2, 8, 9), (3, 2), (2, 3)),      # views: (h, w) pairs
]


def first_maximum(x, kernel, stride, padding=(0, 0), ceil_mode=False):
    """The offset p*KW + q of each window's first maximum among its elements inside the image,
    row-major, counted within the window padded by (PH, PW): loops, slow on purpose."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n_batch, channels, height, width = x.shape
    oh = reference.pool_output_size(height, kh, sh, ph, ceil_mode)
    ow = reference.pool_output_size(width, kw, sw, pw, ceil_mode)
    offsets = np.zeros((n_batch, channels, oh, ow), dtype=int)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    best = None
                    for k in range(kh * kw):
                        p, q = divmod(k, kw)
                        row, col = i * sh + p - ph, j * sw + q - pw
                        if not (0 <= row < height and 0 <= col < width):
                            continue
                        if best is None:
                            best = k
                        b_p, b_q = divmod(best, kw)
                        if x[n, c, row, col] > x[n, c, i * sh + b_p - ph, j * sw + b_q - pw]:
                            best = k
                    offsets[n, c, i, j] = best
    return offsets


def scatter_loops(g, offsets, x_shape, kernel, stride, padding=(0, 0)):
    """dx[n, c, i*SH - PH + p, j*SW - PW + q] += g[n, c, i, j] at each window's offset (p, q)."""
    dx = np.zeros(x_shape)
    for n, c, i, j in np.ndindex(g.shape):
        p, q = divmod(offsets[n, c, i, j], kernel[1])
        dx[n, c, i * stride[0] - padding[0] + p, j * stride[1] - padding[1] + q] += g[n, c, i, j]
    return dx


def with_ties(rng, shape):
    """Small integers through a relu: most windows have ties, many are all zero."""
    return np.maximum(rng.integers(-3, 3, shape), 0).astype(np.float64)


@pytest.mark.parametrize("x_shape, kernel, stride", CONFIGS)
@pytest.mark.parametrize("values", ["distinct", "ties"])
def test_max_pool_matches_the_loops(rng, x_shape, kernel, stride, values):
    x = rng.standard_normal(x_shape) if values == "distinct" else with_ties(rng, x_shape)
    out, argmax = kernels.max_pool(x, kernel, stride)
    np.testing.assert_array_equal(out, reference.max_pool2d(x, kernel, stride))
    np.testing.assert_array_equal(argmax, first_maximum(x, kernel, stride))
    assert argmax.dtype == np.int8


@pytest.mark.parametrize("x_shape", [(2, 3, 6, 8), (2, 2, 7, 9), (3, 1, 2, 2)])
def test_the_2x2_slabs_match_the_views(rng, x_shape):
    x = with_ties(rng, x_shape)
    fast, by_views = kernels.max_pool_2x2(x), kernels.max_pool_by_views(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(fast[0], by_views[0])
    np.testing.assert_array_equal(fast[1], by_views[1])


def check_scatter_and_gather(rng, argmax, x_shape, kernel, stride, padding) -> None:
    """The scatter of a random g at `argmax` against the loops, losing none of g (not to the
    padding, nor past the edge), and the gather at the same argmax its transpose:
    <scatter(g), u> = <g, gather(u)>."""
    g = rng.standard_normal(argmax.shape)
    dx = kernels.max_pool_scatter(g, argmax, x_shape, kernel, stride, padding)
    assert dx.shape == x_shape
    np.testing.assert_allclose(dx, scatter_loops(g, argmax, x_shape, kernel, stride, padding),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx.sum(), g.sum(), rtol=1e-12)
    u = rng.standard_normal(x_shape)
    gathered = kernels.max_pool_gather(u, argmax, kernel, stride, padding)
    np.testing.assert_allclose((g * gathered).sum(), (dx * u).sum(), rtol=1e-12)


@pytest.mark.parametrize("x_shape, kernel, stride", CONFIGS)
def test_scatter_and_gather_match_the_loops(rng, x_shape, kernel, stride):
    x = with_ties(rng, x_shape)
    _, argmax = kernels.max_pool(x, kernel, stride)
    check_scatter_and_gather(rng, argmax, x_shape, kernel, stride, (0, 0))
    np.testing.assert_array_equal(kernels.max_pool_gather(x, argmax, kernel, stride),
                                  reference.max_pool2d(x, kernel, stride))


@pytest.mark.parametrize("kernel, stride", [((2, 2), (2, 2)), ((3, 3), (2, 2))])
def test_float32_stays_float32(rng, kernel, stride):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    out, argmax = kernels.max_pool(x, kernel, stride)
    dx = kernels.max_pool_scatter(out, argmax, x.shape, kernel, stride)
    assert out.dtype == dx.dtype == np.float32


def test_large_windows_keep_offsets_in_intp(rng):
    x = rng.standard_normal((1, 1, 12, 12))
    out, argmax = kernels.max_pool(x, (12, 12), (12, 12))
    assert argmax.dtype == np.intp and argmax[0, 0, 0, 0] == np.argmax(x)
    assert out[0, 0, 0, 0] == x.max()


# x (N, C, H, W), kernel, stride, padding
PADDED = [
    ((2, 3, 6, 8), (2, 2), (2, 2), (1, 1)),      # 2x2 at stride 2: every edge window half padding
    ((2, 2, 7, 7), (3, 3), (2, 2), (1, 1)),      # overlapping, ResNet's stem pool
    ((1, 2, 5, 6), (3, 2), (1, 2), (1, 0)),      # padding along the height only
    ((1, 2, 9, 10), (3, 3), (3, 3), (1, 1)),     # tiling 3x3 windows: the scatter at flat indices
    ((2, 1, 4, 5), (4, 5), (1, 1), (2, 2)),      # kernel as large as the image, padding k // 2
    ((1, 2, 8, 9), (5, 3), (2, 3), (2, 1)),      # (h, w) pairs everywhere
]


def with_floor(rng, shape):
    """Ties as with_ties, and whole windows of -inf, the padding's own value, to tie with it."""
    x = with_ties(rng, shape) - 1.0
    x[..., :3, :3] = -np.inf
    return x


@pytest.mark.parametrize("x_shape, kernel, stride, padding", PADDED)
@pytest.mark.parametrize("values", ["distinct", "ties", "-inf"])
def test_padded_max_pool_matches_the_loops(rng, x_shape, kernel, stride, padding, values):
    x = {"distinct": rng.standard_normal, "ties": lambda shape: with_ties(rng, shape),
         "-inf": lambda shape: with_floor(rng, shape)}[values](x_shape)
    out, argmax = kernels.max_pool(x, kernel, stride, padding)
    np.testing.assert_array_equal(out, reference.max_pool2d(x, kernel, stride, padding))
    np.testing.assert_array_equal(argmax, first_maximum(x, kernel, stride, padding))
    assert argmax.dtype == np.int8


@pytest.mark.parametrize("x_shape, kernel, stride, padding", PADDED)
def test_padded_scatter_and_gather_match_the_loops(rng, x_shape, kernel, stride, padding):
    x = with_floor(rng, x_shape)
    _, argmax = kernels.max_pool(x, kernel, stride, padding)
    check_scatter_and_gather(rng, argmax, x_shape, kernel, stride, padding)
    np.testing.assert_array_equal(kernels.max_pool_gather(x, argmax, kernel, stride, padding),
                                  reference.max_pool2d(x, kernel, stride, padding))


@pytest.mark.parametrize("dtype, low", [(np.float32, -np.inf), (np.int64, np.iinfo(np.int64).min),
                                        (np.uint8, 0)])
def test_padded_max_pool_keeps_the_dtype_and_pads_with_its_lowest_value(rng, dtype, low):
    x = rng.integers(0, 100, (2, 3, 6, 6)).astype(dtype)
    x[0, 0] = low                         # an all-lowest image ties with the padding everywhere
    out, argmax = kernels.max_pool(x, (3, 3), (2, 2), (1, 1))
    dx = kernels.max_pool_scatter(out.astype(np.float32), argmax, x.shape, (3, 3), (2, 2),
                                  (1, 1))
    assert out.dtype == dtype and dx.dtype == np.float32 and kernels.lowest(x.dtype) == low
    np.testing.assert_array_equal(out, reference.max_pool2d(x, 3, 2, 1))
    np.testing.assert_array_equal(argmax, first_maximum(x, (3, 3), (2, 2), (1, 1)))


def test_pooled_size_is_pytorchs_count():
    """Rounding down; with ceil_mode up, but never a window that starts in the end padding:
    5 elements, 2-windows at stride 2 with padding 1 would give a 4th window starting at 6 =
    5 + 1, in the padding, so ceil_mode keeps 3, as rounding down does."""
    assert kernels.pooled_size(5, 2, 2, 0, False) == 2
    assert kernels.pooled_size(5, 2, 2, 0, True) == 3
    assert kernels.pooled_size(5, 2, 2, 1, True) == 3
    assert kernels.pooled_size(3, 4, 2, 0, True) == 1          # a kernel past the input
    for size, kernel, stride, padding, ceil_mode in np.ndindex(9, 6, 5, 3, 2):
        if 1 <= kernel and 1 <= stride and padding <= kernel // 2:
            expected = reference.pool_output_size(size, kernel, stride, padding, bool(ceil_mode))
            assert kernels.pooled_size(size, kernel, stride, padding, bool(ceil_mode)) == expected


# x (N, C, H, W), kernel, stride, padding: ceil_mode adds a window hanging past the edge
CEIL = [
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0)),      # odd sizes: a last row and column of their own
    ((1, 2, 8, 8), (3, 3), (2, 2), (1, 1)),      # ResNet's stem pool on an even map
    ((2, 1, 6, 7), (3, 2), (2, 3), (1, 0)),      # (h, w) pairs, padding along the height
    ((1, 2, 3, 5), (4, 3), (2, 3), (0, 1)),      # a kernel taller than the image: one window
    ((1, 2, 9, 10), (3, 3), (3, 3), (1, 1)),     # tiling 3x3 windows: the scatter at flat indices
    ((2, 2, 7, 6), (2, 3), (3, 3), (1, 1)),      # a 4th row of windows would start in the padding
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding", CEIL)
@pytest.mark.parametrize("values", ["distinct", "ties", "-inf"])
def test_ceil_mode_max_pool_scatter_and_gather_match_the_loops(rng, x_shape, kernel, stride,
                                                               padding, values):
    x = {"distinct": rng.standard_normal, "ties": lambda shape: with_ties(rng, shape),
         "-inf": lambda shape: with_floor(rng, shape)}[values](x_shape)
    out, argmax = kernels.max_pool(x, kernel, stride, padding, ceil_mode=True)
    np.testing.assert_array_equal(out, reference.max_pool2d(x, kernel, stride, padding, True))
    assert out.shape != reference.max_pool2d(x, kernel, stride, padding).shape   # one more
    np.testing.assert_array_equal(argmax, first_maximum(x, kernel, stride, padding, True))
    check_scatter_and_gather(rng, argmax, x_shape, kernel, stride, padding)
