"""interpolate and nn.Upsample against PyTorch float64: nearest, linear and bilinear, by size
and by scale factor (where PyTorch's nearest rule reads 1 / scale_factor, not in / out), with and
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
MODES = [("nearest", None), ("bilinear", False), ("bilinear", True)]


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


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("linear", False),
                                                 ("linear", True)])
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rank", [3, 4])
def test_nearest_picks_pytorchs_positions_over_many_sizes(torch, dtype, rank):
    """floor(i * s) lands near integers for many sizes, where float32 and float64 pick apart
    (PyTorch's 1-D kernel computes s in the input's dtype, its 2-D kernel in float32); the
    positions agree for every input size to 40 and output size to 60, and for scale factors."""
    for n_in in range(1, 41):
        shape = (1, 1, n_in) if rank == 3 else (1, 1, 1, n_in)
        x = torch.arange(float(n_in), dtype=getattr(torch, dtype)).reshape(shape)
        for settings in [*({"size": n} for n in range(1, 61)),
                         *({"scale_factor": f} for f in (0.7, 1.3, 1.5, 2.5, 3.1)
                           if int(n_in * f) >= 1)]:
            if rank == 4:
                settings = {k: (1, v) for k, v in settings.items()}
            theirs = torch.nn.functional.interpolate(x, **settings).numpy()
            ours = ops.interpolate(x.numpy(), **settings).data
            assert np.array_equal(ours, theirs), (n_in, settings)


@pytest.mark.parametrize("settings", [{"scale_factor": 2}, {"size": (3, 4), "mode": "bilinear"},
                                      {"scale_factor": (2, 1.5), "mode": "bilinear",
                                       "align_corners": True}])
def test_upsample_layer_equals_pytorchs(torch, rng, settings):
    ours, theirs = nn.Upsample(**settings), torch.nn.Upsample(**settings)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, 3, 4, 5))
    out = ours(tc.Value(x))
    np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).numpy(), rtol=1e-12)
