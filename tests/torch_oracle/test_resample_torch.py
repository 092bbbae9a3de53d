"""interpolate and nn.Upsample against PyTorch float64: every mode (nearest, nearest-exact,
linear, bilinear, bicubic, trilinear, area, and the antialiased bilinear, bicubic and lanczos)
on signals, images and volumes, by size and by scale
factor (where PyTorch's nearest rule reads 1 / scale_factor, not in / out), with and
without align_corners, shrinking and growing -- the forward, every gradient through a random
upstream gradient and the second derivatives (compare_with_torch); the output sizes; Upsample's
repr."""

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

IMAGE_SIZES = [(5, 7), (1, 3), (4, 4), (28, 28)]
IMAGE_SETTINGS = [{"size": (7, 5)}, {"size": (1, 1)}, {"size": (9, 20)}, {"scale_factor": 1.5},
                  {"scale_factor": (0.5, 2.3)}, {"scale_factor": 2}, {"scale_factor": 0.37},
                  {"size": (3, 9)}, {"scale_factor": 1 / 3}]
MODES = [("nearest", None), ("bilinear", False), ("bilinear", True), ("bicubic", False),
         ("bicubic", True), ("nearest-exact", None), ("area", None)]


def resizable(spatial, settings) -> bool:
    """Whether every output size is >= 1 (PyTorch and this library refuse the others)."""
    if "size" in settings:
        return True
    factors = np.broadcast_to(settings["scale_factor"], (len(spatial),))
    return all(int(n * f) >= 1 for n, f in zip(spatial, factors, strict=True))


@pytest.mark.parametrize("mode, align_corners", MODES)
@pytest.mark.parametrize("spatial", IMAGE_SIZES)
def test_images_equal_pytorch(torch, rng, mode, align_corners, spatial):
    x = rng.standard_normal((2, 3, *spatial))
    for settings in IMAGE_SETTINGS:
        if not resizable(spatial, settings):
            continue
        compare_with_torch(
            torch,
            lambda v, s=settings: ops.interpolate(v * v, mode=mode, align_corners=align_corners,
                                                  **s),
            lambda t, s=settings: torch.nn.functional.interpolate(
                t * t, mode=mode, align_corners=align_corners, **s),
            [x], rng)


@pytest.mark.parametrize("mode, align_corners", [("bilinear", False), ("bilinear", True),
                                                 ("bicubic", False), ("bicubic", True),
                                                 ("lanczos", None), ("lanczos", False)])
@pytest.mark.parametrize("spatial", IMAGE_SIZES)
def test_antialiased_images_equal_pytorch(torch, rng, mode, align_corners, spatial):
    x = rng.standard_normal((2, 3, *spatial))
    for settings in [*IMAGE_SETTINGS, {"scale_factor": 0.37, "recompute_scale_factor": True},
                     {"scale_factor": (0.3, 1.7), "recompute_scale_factor": False}]:
        if not resizable(spatial, settings):
            continue
        compare_with_torch(
            torch,
            lambda v, s=settings: ops.interpolate(v * v, mode=mode, align_corners=align_corners,
                                                  antialias=True, **s),
            lambda t, s=settings: torch.nn.functional.interpolate(
                t * t, mode=mode, align_corners=align_corners, antialias=True, **s),
            [x], rng)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_antialiased_weights_equal_pytorchs_over_many_sizes(torch, rng, mode, dtype):
    """The antialiasing filters for every input size to 16 and output size to 24, shrinking
    (where they widen) and growing, in both float dtypes."""
    corners = (None,) if mode == "lanczos" else (False, True)
    for n_in in range(1, 17):
        x = rng.standard_normal((1, 1, 2, n_in)).astype(dtype)
        for n_out in range(1, 25):
            for align_corners in corners:
                settings = {"size": (2, n_out), "mode": mode, "align_corners": align_corners,
                            "antialias": True}
                theirs = torch.nn.functional.interpolate(torch.tensor(x), **settings).numpy()
                ours = ops.interpolate(x, **settings).data
                assert ours.dtype == dtype
                tolerance = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance,
                                           err_msg=str((n_in, n_out, align_corners)))


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("linear", False),
                                                 ("linear", True), ("nearest-exact", None),
                                                 ("area", None)])
@pytest.mark.parametrize("length", [1, 5, 9])
def test_signals_equal_pytorch(torch, rng, mode, align_corners, length):
    x = rng.standard_normal((2, 3, length))
    for settings in [{"size": 7}, {"size": 1}, {"scale_factor": 2.5}, {"scale_factor": 0.6}]:
        if not resizable((length,), settings):
            continue
        compare_with_torch(
            torch,
            lambda v, s=settings: ops.interpolate(v, mode=mode, align_corners=align_corners, **s),
            lambda t, s=settings: torch.nn.functional.interpolate(
                t, mode=mode, align_corners=align_corners, **s),
            [x], rng)


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("trilinear", False),
                                                 ("trilinear", True), ("nearest-exact", None),
                                                 ("area", None)])
def test_volumes_equal_pytorch(torch, rng, mode, align_corners):
    x = rng.standard_normal((1, 2, 3, 4, 5))
    for settings in [{"size": (2, 7, 5)}, {"scale_factor": 1.5}, {"scale_factor": (2, 0.5, 0.8)},
                     {"size": 1}]:
        compare_with_torch(
            torch,
            lambda v, s=settings: ops.interpolate(v * v, mode=mode, align_corners=align_corners,
                                                  **s),
            lambda t, s=settings: torch.nn.functional.interpolate(
                t * t, mode=mode, align_corners=align_corners, **s),
            [x], rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bicubic_equals_pytorch_over_many_sizes(torch, rng, dtype):
    """The cubic weights for every input size to 12 and output size to 30, growing and
    shrinking, with and without aligned corners, in both float dtypes (PyTorch computes the
    weights of a float32 image in float32, so those agree to float32's precision)."""
    for n_in in range(1, 13):
        x = rng.standard_normal((1, 1, 2, n_in)).astype(dtype)
        for n_out in range(1, 31):
            for align_corners in (False, True):
                settings = {"size": (3, n_out), "mode": "bicubic", "align_corners": align_corners}
                theirs = torch.nn.functional.interpolate(torch.tensor(x), **settings).numpy()
                ours = ops.interpolate(x, **settings).data
                assert ours.dtype == dtype
                tolerance = 1e-5 if dtype == np.float32 else 1e-12
                np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance,
                                           err_msg=str((n_in, n_out)))


# Where PyTorch's float32 kernels for signals and volumes pick a position that no rounding of
# (i + 0.5) * s gives: (i + 0.5) * 2 / n_out is exactly 1 there, its float32 product is
# 0.99999994 (and the kernel for images picks 0), yet those kernels pick 1 (docs/ops.md).
NEAREST_EXACT_KNOWN = {(2, 41), (2, 47), (2, 55)}


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rank", [3, 4, 5])
def test_nearest_picks_pytorchs_positions_over_many_sizes(torch, mode, dtype, rank):
    """floor(i * s) and floor((i + 0.5) * s) land near integers for many sizes, where float32
    and float64 pick apart (PyTorch's kernels for signals and volumes compute s in the input's
    dtype, its image kernel in float32); the positions agree for every input size to 40 and
    output size to 60, and for scale factors, but for NEAREST_EXACT_KNOWN."""
    for n_in in range(1, 41):
        shape = (1, 1) + (1,) * (rank - 3) + (n_in,)
        x = torch.arange(float(n_in), dtype=getattr(torch, dtype)).reshape(shape)
        for settings in [*({"size": n} for n in range(1, 61)),
                         *({"scale_factor": f} for f in (0.7, 1.3, 1.5, 2.5, 3.1)
                           if int(n_in * f) >= 1)]:
            if rank > 3:
                settings = {k: (1,) * (rank - 3) + (v,) for k, v in settings.items()}
            theirs = torch.nn.functional.interpolate(x, mode=mode, **settings).numpy()
            ours = ops.interpolate(x.numpy(), mode=mode, **settings).data
            known = (mode == "nearest-exact" and dtype == "float32" and rank != 4
                     and (n_in, theirs.shape[-1]) in NEAREST_EXACT_KNOWN)
            assert np.array_equal(ours, theirs) != known, (n_in, settings)


@pytest.mark.parametrize("settings", [{"scale_factor": 2}, {"size": (3, 4), "mode": "bilinear"},
                                      {"size": (3, 7), "mode": "bicubic"},
                                      {"scale_factor": 0.5, "mode": "area"},
                                      {"scale_factor": (2, 1.5), "mode": "bilinear",
                                       "align_corners": True}])
def test_upsample_layer_equals_pytorchs(torch, rng, settings):
    ours, theirs = nn.Upsample(**settings), torch.nn.Upsample(**settings)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, 3, 4, 5))
    out = ours(tc.Value(x))
    np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).numpy(), rtol=1e-12)
