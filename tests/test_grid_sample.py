"""affine_grid and grid_sample: by hand (the blend, the padding modes, the rounding of nearest,
the base grid), gradcheck and second derivatives for every mode x padding_mode x align_corners
on grids with points inside, on the border and outside the input, the spatial transformer's
gradient with respect to theta, volumes, dtypes, errors."""

import itertools

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops

MODES, PADDINGS = ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection")


def normalised(p: np.ndarray, length: int, align_corners: bool) -> np.ndarray:
    """The grid coordinates whose pixel coordinates along an axis of `length` are p."""
    if align_corners:
        return 2 * p / (length - 1) - 1 if length > 1 else np.zeros_like(p)
    return (2 * p + 1) / length - 1


def grid_away_from_kinks(rng, spatial, out, align_corners) -> np.ndarray:
    """A grid (N, *out, dims) for an input of `spatial` sizes whose pixel coordinates lie
    inside, across the border (between -1 and 0, or L - 1 and L) and outside (up to 3 pixels
    beyond), each a whole number plus a fraction in [0.2, 0.4] or [0.6, 0.8]: away from the
    kinks (whole numbers: the blend's corners, the clip's ends, the reflections' mirrors with
    aligned corners; halves: nearest's jumps, the mirrors without), where central differences
    would straddle two slopes."""
    n, dims = out[0], len(spatial)
    coordinates = []
    for length in reversed(spatial):                     # x (along the last axis) first
        whole = rng.integers(-3, length + 3, size=(n, *out[1:]))
        fraction = rng.uniform(0.2, 0.4, whole.shape) + 0.4 * rng.integers(0, 2, whole.shape)
        coordinates.append(normalised(whole + fraction, length, align_corners))
    grid = np.stack(coordinates, axis=-1)
    assert grid.shape == (n, *out[1:], dims), (grid.shape, out)
    return grid


def test_bilinear_by_hand():
    x = tc.Value(np.array([[[[0.0, 10.0, 20.0, 30.0]]]]))          # (1, 1, 1, 4)
    # x at pixel coordinates 0.25 and 2.5 (y = 0): g = (2p + 1) / 4 - 1
    grid = tc.Value(np.array([[[[-0.625, 0.0], [0.5, 0.0]]]]))      # (1, 1, 2, 2)
    out = ops.grid_sample(x, grid)
    np.testing.assert_allclose(out.data, [[[[2.5, 25.0]]]])
    out.backward(np.array([[[[1.0, 2.0]]]]))
    # each pixel gets the upstream gradient times its weight: 0.75, 0.25 and 2 * (0.5, 0.5)
    np.testing.assert_allclose(x.grad, [[[[0.75, 0.25, 1.0, 1.0]]]])
    # d out / d g_x = (right - left) * dp/dg = 10 * L/2 = 20, times the upstream gradient;
    # along y (one pixel) the other corner is outside and reads 0: d out/d g_y = -value * 1/2
    np.testing.assert_allclose(grid.grad, [[[[20.0, -1.25], [40.0, -25.0]]]])


def test_padding_modes_by_hand():
    x = np.array([[[[1.0, 2.0, 3.0, 4.0]]]])                      # (1, 1, 1, 4)
    p = np.array([-0.75, 4.2, 1.5])                                # pixel coordinates along x
    expected = {  # (padding_mode, align_corners): the three outputs
        # zeros: -0.75 blends pixel -1 (reads 0) by 0.75 and pixel 0 by 0.25; 4.2 is outside
        ("zeros", False): [0.25, 0.0, 2.5],
        # border: clipped to [0, 3]
        ("border", False): [1.0, 4.0, 2.5],
        # reflection at -0.5 and 3.5: -0.75 -> -0.25 (clipped to 0), 4.2 -> 2.8
        ("reflection", False): [1.0, 3.8, 2.5],
        # reflection at the centres 0 and 3: -0.75 -> 0.75, 4.2 -> 1.8
        ("reflection", True): [1.75, 2.8, 2.5],
    }
    for (padding_mode, align_corners), values in expected.items():
        gx = normalised(p, 4, align_corners)
        grid = np.stack([gx, np.zeros(3)], axis=-1)[None, None]   # (1, 1, 3, 2)
        out = ops.grid_sample(x, grid, padding_mode=padding_mode, align_corners=align_corners)
        np.testing.assert_allclose(out.data[0, 0, 0], values,
                                   err_msg=f"{padding_mode}, align_corners={align_corners}")


def test_nearest_rounds_halves_to_even_and_gives_the_grid_a_zero_gradient():
    x = tc.Value(np.arange(5.0).reshape(1, 1, 1, 5))
    p = np.array([0.5, 1.5, 2.5, 3.49, 3.51])
    grid = tc.Value(np.stack([normalised(p, 5, True), np.zeros(5)], axis=-1)[None, None])
    out = ops.grid_sample(x, grid, mode="nearest", align_corners=True)
    assert out.data[0, 0, 0].tolist() == [0.0, 2.0, 2.0, 3.0, 4.0]    # as numpy.rint
    out.backward(np.ones(out.shape))
    assert x.grad[0, 0, 0].tolist() == [1.0, 0.0, 2.0, 1.0, 1.0]
    assert grid.grad is not None and not grid.grad.any()             # zeros, as PyTorch's


def test_affine_grid_by_hand():
    identity = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    grid = ops.affine_grid(identity, (1, 1, 2, 3))
    # the pixels' centres: x = -1 + (2j + 1) / 3, y = -1 + (2i + 1) / 2
    np.testing.assert_allclose(grid.data[0, ..., 0], [[-2 / 3, 0, 2 / 3]] * 2, atol=1e-15)
    np.testing.assert_allclose(grid.data[0, ..., 1], [[-0.5] * 3, [0.5] * 3])
    aligned = ops.affine_grid(identity, (1, 1, 2, 3), align_corners=True)
    np.testing.assert_allclose(aligned.data[0, ..., 0], [[-1, 0, 1]] * 2)
    np.testing.assert_allclose(aligned.data[0, ..., 1], [[-1] * 3, [1] * 3])
    # a translation by theta's last column, a scaling by its diagonal
    moved = ops.affine_grid(np.array([[[2.0, 0.0, 0.5], [0.0, 1.0, -0.25]]]), (1, 1, 2, 3),
                            align_corners=True)
    np.testing.assert_allclose(moved.data[0, 0, :, 0], [-1.5, 0.5, 2.5])
    np.testing.assert_allclose(moved.data[0, :, 0, 1], [-1.25, 0.75])
    # one pixel along an axis sits at 0
    assert ops.affine_grid(identity, (1, 1, 1, 1)).data.tolist() == [[[[0.0, 0.0]]]]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("align_corners", [False, True])
def test_the_identity_transform_returns_the_input(rng, mode, align_corners):
    x = rng.standard_normal((2, 3, 4, 5))
    theta = np.tile(np.eye(2, 3), (2, 1, 1))
    grid = ops.affine_grid(theta, x.shape, align_corners)
    out = ops.grid_sample(x, grid, mode=mode, align_corners=align_corners)
    np.testing.assert_allclose(out.data, x, atol=1e-12)


# (input shape, grid's (N, H_out, W_out)): batch 1 and > 1, C > 1, non-square, an output
# larger than the input, a single row (with aligned corners: one pixel's span is 0)
SHAPES = [((1, 1, 3, 3), (1, 2, 3)), ((2, 3, 4, 5), (2, 3, 2)), ((1, 2, 1, 4), (1, 2, 2))]
SETTINGS = list(itertools.product(MODES, PADDINGS, [False, True]))


@pytest.mark.parametrize("mode, padding_mode, align_corners", SETTINGS)
def test_gradcheck_and_second_derivatives(rng, mode, padding_mode, align_corners):
    # each setting on one of the shapes, in turn, so that every shape meets every mode
    k = SETTINGS.index((mode, padding_mode, align_corners))
    shape, out = SHAPES[k % len(SHAPES)]
    x = rng.standard_normal(shape)
    grid = grid_away_from_kinks(rng, shape[2:], out, align_corners)

    def sample(x, grid):
        return ops.grid_sample(x, grid, mode, padding_mode, align_corners)
    # element by element on the small shapes; along random directions on the large one and
    # for bicubic's 16 taps (fewer for its second derivatives, which PyTorch's also check)
    fast = x.size > 20 or mode == "bicubic"
    assert tc.gradcheck(sample, [x, grid], fast=fast)
    assert tc.gradgradcheck(sample, [x, grid], fast=fast, directions=3 if mode == "bicubic" else 8)


@pytest.mark.parametrize("mode, padding_mode, align_corners", [
    ("bilinear", "reflection", True), ("nearest", "border", False),
])
def test_volumes_gradcheck_and_second_derivatives(rng, mode, padding_mode, align_corners):
    x = rng.standard_normal((2, 2, 2, 3, 2))
    grid = grid_away_from_kinks(rng, x.shape[2:], (2, 1, 2, 2), align_corners)

    def sample(x, grid):
        return ops.grid_sample(x, grid, mode, padding_mode, align_corners)
    assert tc.gradcheck(sample, [x, grid], fast=True)
    assert tc.gradgradcheck(sample, [x, grid], fast=True)


def test_a_spatial_transformer_learns_through_theta(rng):
    """theta -> affine_grid -> grid_sample, differentiated w.r.t. theta and the image."""
    x = rng.standard_normal((2, 2, 5, 6))
    theta = np.eye(2, 3) + 0.3 * rng.standard_normal((2, 2, 3))

    def transform(theta, x, padding_mode="reflection"):
        grid = ops.affine_grid(theta, (2, 2, 4, 3))
        return ops.grid_sample(x, grid, padding_mode=padding_mode)
    assert tc.gradcheck(transform, [theta, x], fast=True)
    assert tc.gradgradcheck(transform, [theta, x], fast=True)
    # a step of gradient descent on theta brings the output closer to the untransformed one
    identity = np.tile(np.eye(2, 3), (2, 1, 1))
    for padding_mode in PADDINGS:
        target = transform(identity, x, padding_mode).data
        t = tc.Value(theta)
        loss = ((transform(t, x, padding_mode) - target) ** 2).mean()
        loss.backward()
        stepped = ((transform(theta - 0.01 * t.grad, x, padding_mode).data - target) ** 2).mean()
        assert stepped < loss.item(), padding_mode


def test_float32_stays_float32_and_a_constant_input_gets_no_gradient(rng):
    x = rng.standard_normal((1, 2, 3, 4)).astype(np.float32)
    theta = tc.Value(np.eye(2, 3, dtype=np.float32)[None])
    out = ops.grid_sample(x, ops.affine_grid(theta, (1, 2, 5, 5)))
    assert out.dtype == np.float32
    out.sum().backward()
    assert theta.grad.dtype == np.float32 and theta.grad.shape == (1, 2, 3)


def test_gather_pixels_reads_whole_positions_and_zero_outside():
    x = tc.Value(np.arange(6.0).reshape(1, 1, 2, 3))
    rows, columns = np.array([[0.0, 1.0, 1.0, -1.0, 2.0]]), np.array([[2.0, 0.0, 0.0, 1.0, 0.0]])
    out = ops.sampling.gather_pixels(x, rows, columns)
    assert out.data.tolist() == [[[2.0, 3.0, 3.0, 0.0, 0.0]]]
    out.backward(np.ones((1, 1, 5)))
    assert x.grad.tolist() == [[[[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]]]]     # repeats add up
    with pytest.raises(ValueError, match=r"input of shape \(1, 1, 2, 3\) with positions of "
                                         r"shapes \(1, 5\); expected one position array per"):
        ops.sampling.gather_pixels(x, rows)
    with pytest.raises(ValueError, match=r"shapes \(1, 5\), \(2, 5\); expected"):
        ops.sampling.gather_pixels(x, rows, np.zeros((2, 5)))


def test_errors():
    x, grid = np.zeros((2, 3, 4, 5)), np.zeros((2, 6, 7, 2))
    with pytest.raises(ValueError, match="mode 'cubic'; expected one of 'bilinear', 'nearest'"):
        ops.grid_sample(x, grid, mode="cubic")
    with pytest.raises(ValueError, match="padding_mode 'wrap'; expected one of 'zeros'"):
        ops.grid_sample(x, grid, padding_mode="wrap")
    with pytest.raises(TypeError, match="align_corners='yes'; expected False or True"):
        ops.grid_sample(x, grid, align_corners="yes")
    with pytest.raises(ValueError, match=r"input of shape \(3, 4, 5\); expected images "
                                         r"\(N, C, H, W\).*add a batch axis"):
        ops.grid_sample(x[0], grid[0])
    with pytest.raises(ValueError, match=r"input of shape \(1, 2, 3, 4, 5, 6\); expected"):
        ops.grid_sample(np.zeros((1, 2, 3, 4, 5, 6)), grid)
    for bad in [np.zeros((2, 6, 7, 3)), np.zeros((3, 6, 7, 2)), np.zeros((2, 6, 2))]:
        with pytest.raises(ValueError, match=rf"grid of shape \({', '.join(map(str, bad.shape))}"
                                             rf"\) does not fit input of shape \(2, 3, 4, 5\); "
                                             rf"expected a grid \(N, H_out, W_out, 2\) with N = 2"):
            ops.grid_sample(x, bad)
    with pytest.raises(ValueError, match=r"expected a grid \(N, D_out, H_out, W_out, 3\)"):
        ops.grid_sample(np.zeros((1, 1, 2, 2, 2)), np.zeros((1, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="'bicubic' on a volume input of shape"):
        ops.grid_sample(np.zeros((1, 1, 2, 2, 2)), np.zeros((1, 2, 2, 2, 3)), mode="bicubic")
    with pytest.raises(ValueError, match="no pixels along a spatial axis"):
        ops.grid_sample(np.zeros((2, 3, 0, 5)), grid)
    with pytest.raises(TypeError, match="input has dtype int64; expected a float dtype"):
        ops.grid_sample(np.zeros((2, 3, 4, 5), dtype=np.int64), grid)
    with pytest.raises(TypeError, match="input has dtype float32 but grid has float64.*"
                                        r"grid.astype\(np.float32\)"):
        ops.grid_sample(x.astype(np.float32), grid)

    theta = np.zeros((2, 2, 3))
    with pytest.raises(ValueError, match=r"theta of shape \(2, 2, 3\) does not fit size "
                                         r"\(2, 1, 3, 4, 5\); expected theta \(2, 3, 4\)"):
        ops.affine_grid(theta, (2, 1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"theta of shape \(2, 2, 3\) does not fit size "
                                         r"\(3, 1, 4, 5\); expected theta \(3, 2, 3\)"):
        ops.affine_grid(theta, (3, 1, 4, 5))
    with pytest.raises(ValueError, match=r"theta of shape \(2, 3\) .* element; for one matrix, "
                                         r"add the batch axis: theta\[None\]$"):
        ops.affine_grid(theta[0], (1, 1, 4, 5))
    assert ops.affine_grid(theta[0][None], (1, 1, 4, 5)).shape == (1, 4, 5, 2)
    homogeneous = np.tile(np.eye(3), (2, 1, 1))
    with pytest.raises(ValueError, match=r"theta of shape \(2, 3, 3\) .* drop their last row: "
                                         r"theta\[:, :2\]$"):
        ops.affine_grid(homogeneous, (2, 1, 4, 5))
    assert ops.affine_grid(homogeneous[:, :2], (2, 1, 4, 5)).shape == (2, 4, 5, 2)
    for size in [(2, 1, 4), (2, 1, 0, 5), (2, 1, 4.0, 5), 5]:
        with pytest.raises(ValueError, match="size=.*expected the output's shape"):
            ops.affine_grid(theta, size)
    with pytest.raises(TypeError, match="theta has dtype int64; expected a float dtype"):
        ops.affine_grid(theta.astype(np.int64), (2, 1, 4, 5))
    with pytest.raises(TypeError, match="align_corners=1.0; expected False or True"):
        ops.affine_grid(theta, (2, 1, 4, 5), align_corners=1.0)
