"""affine_grid and grid_sample against PyTorch float64: every mode x padding_mode x
align_corners on images (and bilinear and nearest on volumes), with grid points inside, across
the border and far outside, and on the kinks themselves (pixel centres, the clip's ends, the
mirrors, nearest's halves), where both must take the same one-sided derivative -- the forward,
the gradients of input, grid and upstream gradient, and the second derivatives
(compare_with_torch; PyTorch differentiates its grid_sample backward too); theta through
affine_grid and grid_sample, as a spatial transformer trains it; float32 forwards. The kinks
are taken on axes of 1, 3, 4 and 5 pixels, where PyTorch's AVX2 kernel, which unnormalises
with a fused multiply-add, rounds them as its plain kernel and this library do (docs/ops.md)."""

import itertools

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch

from tinygrad_cnn import ops

SETTINGS = list(itertools.product(["bilinear", "nearest", "bicubic"],
                                  ["zeros", "border", "reflection"], [False, True]))


def kinks(length: int, align_corners: bool) -> np.ndarray:
    """Grid coordinates at the pixel centres, their halves, the ends and the mirrors of an axis
    of `length` pixels, and a few pixels beyond."""
    p = np.arange(-2 * length - 1, 2 * length + 2) / 2             # every half pixel
    if align_corners:
        return 2 * p / (length - 1) - 1 if length > 1 else np.array([-1.0, 0.0, 1.0])
    return (2 * p + 1) / length - 1


def grid_with_kinks(rng, n: int, spatial: tuple[int, int], align_corners: bool) -> np.ndarray:
    """(n, 2, K, 2): row 0 random points inside, across the border and far outside; row 1 the
    kinks of x paired with those of y in turn (each axis's derivative turns at its own)."""
    gx, gy = kinks(spatial[1], align_corners), kinks(spatial[0], align_corners)
    count = max(len(gx), len(gy))
    on_kinks = np.stack([np.resize(gx, count), np.resize(gy, count)], axis=-1)   # (K, 2)
    anywhere = rng.uniform(-2.5, 2.5, (n, 1, count, 2))
    return np.concatenate([anywhere, np.broadcast_to(on_kinks, (n, 1, count, 2))], axis=1)


@pytest.mark.parametrize("mode, padding_mode, align_corners", SETTINGS)
def test_images_equal_pytorch(torch, rng, mode, padding_mode, align_corners):
    # in turn an image and a single row (with aligned corners, one pixel spans nothing)
    k = SETTINGS.index((mode, padding_mode, align_corners))
    spatial = [(4, 5), (1, 3)][k // 2 % 2]
    x = rng.standard_normal((2, 3, *spatial))
    grid = grid_with_kinks(rng, 2, spatial, align_corners)
    compare_with_torch(
        torch, lambda x, g: ops.grid_sample(x, g, mode, padding_mode, align_corners),
        lambda x, g: torch.nn.functional.grid_sample(x, g, mode, padding_mode, align_corners),
        [x, grid], rng)


@pytest.mark.parametrize("mode, padding_mode, align_corners", [
    ("bilinear", "zeros", False), ("bilinear", "reflection", True), ("nearest", "border", False),
])
def test_volumes_equal_pytorch(torch, rng, mode, padding_mode, align_corners):
    x = rng.standard_normal((2, 2, 3, 2, 4))
    grid = rng.uniform(-2.0, 2.0, (2, 2, 3, 2, 3))
    compare_with_torch(
        torch, lambda x, g: ops.grid_sample(x, g, mode, padding_mode, align_corners),
        lambda x, g: torch.nn.functional.grid_sample(x, g, mode, padding_mode, align_corners),
        [x, grid], rng)


@pytest.mark.parametrize("size, align_corners", [
    ((2, 3, 4, 5), False), ((2, 3, 4, 5), True), ((1, 1, 1, 3), False), ((2, 1, 3, 2, 4), True),
])
def test_affine_grid_equals_pytorch(torch, rng, size, align_corners):
    dims = len(size) - 2
    theta = rng.standard_normal((size[0], dims, dims + 1))
    compare_with_torch(torch, lambda t: ops.affine_grid(t, size, align_corners),
                       lambda t: torch.nn.functional.affine_grid(t, size, align_corners),
                       [theta], rng)


@pytest.mark.parametrize("mode, padding_mode", [("bilinear", "border"), ("bicubic", "reflection")])
def test_spatial_transformer_theta_equals_pytorch(torch, rng, mode, padding_mode):
    """The gradients of theta and the image through affine_grid and grid_sample, to second
    order: what a spatial transformer's localisation network learns from."""
    x = rng.standard_normal((2, 3, 6, 5))
    theta = np.eye(2, 3) + 0.4 * rng.standard_normal((2, 2, 3))
    size = (2, 3, 4, 4)
    compare_with_torch(
        torch, lambda t, x: ops.grid_sample(x, ops.affine_grid(t, size), mode, padding_mode),
        lambda t, x: torch.nn.functional.grid_sample(
            x, torch.nn.functional.affine_grid(t, size, align_corners=False), mode,
            padding_mode, align_corners=False),
        [theta, x], rng)


def test_float32_equals_pytorch(torch, rng):
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    theta = (np.eye(2, 3) + 0.3 * rng.standard_normal((2, 2, 3))).astype(np.float32)
    for mode, padding_mode in itertools.product(["bilinear", "nearest", "bicubic"],
                                                ["zeros", "border", "reflection"]):
        grid = ops.affine_grid(theta, (2, 3, 7, 4))
        ours = ops.grid_sample(x, grid, mode, padding_mode).data
        their_grid = torch.nn.functional.affine_grid(torch.tensor(theta), (2, 3, 7, 4),
                                                     align_corners=False)
        theirs = torch.nn.functional.grid_sample(torch.tensor(x), their_grid, mode, padding_mode,
                                                 align_corners=False).numpy()
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5,
                                   err_msg=f"{mode}, {padding_mode}")
