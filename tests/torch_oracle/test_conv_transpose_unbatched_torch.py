"""conv_transpose2d and nn.ConvTranspose2d on one unbatched image (C_in, H, W) against PyTorch
float64: the forward, every gradient through a random upstream gradient and the second
derivatives (compare_with_torch); the layer's output_size with 2 and 3 entries, and the
output_sizes that both refuse."""

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch
from test_layers import TIGHT, as_float64, copy_parameters

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# x (C_in, H, W), w (C_in, C_out / groups, KH, KW), settings
UNBATCHED = [
    ((2, 4, 5), (2, 3, 3, 2), {}),
    ((2, 4, 5), (2, 3, 3, 3), {"stride": 2, "output_padding": 1}),
    ((3, 3, 4), (3, 2, 2, 3), {"stride": (1, 2), "padding": (1, 0), "output_padding": (0, 1)}),
    ((3, 3, 3), (3, 2, 3, 2), {"stride": 2, "padding": 1, "dilation": 2, "output_padding": 1}),
    ((2, 2, 2), (2, 1, 4, 4), {"stride": 1, "padding": 1, "dilation": 3,
                               "output_padding": 2}),     # output_padding >= stride (dilation)
    ((4, 3, 4), (4, 1, 2, 3), {"stride": 2, "groups": 2}),
    ((3, 3, 3), (3, 2, 3, 3), {"padding": 1, "groups": 3}),                 # depthwise, x2
]


@pytest.mark.parametrize("x_shape, w_shape, settings", UNBATCHED)
@pytest.mark.parametrize("bias", [True, False])
def test_unbatched_conv_transpose2d(torch, rng, x_shape, w_shape, settings, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[1] * settings.get("groups", 1))] if bias else []
    compare_with_torch(torch, lambda *a: ops.conv_transpose2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv_transpose2d(*a, **settings), arrays,
                       rng)


@pytest.mark.parametrize("settings, output_size", [
    ({"stride": 2}, None),
    ({"stride": 2}, (10, 12)),
    ({"stride": 2}, (3, 10, 11)),                    # (C_out, OH, OW): the leading size unread
    ({"stride": 3, "padding": 1, "output_padding": 2}, (11, 14)),  # output_size wins
    ({"stride": (2, 3), "dilation": 2}, (12, 18)),
    ({"stride": 2, "bias": False}, [9, 12]),
])
def test_layer_on_one_image_with_output_size(torch, rng, settings, output_size):
    """The output, the input gradient and every parameter gradient, float64."""
    ours = as_float64(nn.ConvTranspose2d(2, 3, 3, **settings))
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, **settings)
    copy_parameters(torch, ours, theirs)
    x = rng.standard_normal((2, 4, 5))
    x_ours, x_theirs = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, their_out = ours(x_ours, output_size=output_size), theirs(x_theirs,
                                                                   output_size=output_size)
    assert out.shape == tuple(their_out.shape) and out.ndim == 3
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    their_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), **TIGHT)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, theirs.get_parameter(name).grad.numpy(),
                                   err_msg=name, **TIGHT)


@pytest.mark.parametrize("x_shape, output_size", [
    ((2, 4, 5), (1, 3, 10, 12)),        # 4 entries for one image
    ((1, 2, 4, 5), (3, 10, 12)),        # 3 entries for a batch
    ((2, 4, 5), (11,)),
    ((2, 4, 5), (20, 12)),              # too large
    ((2, 4, 5), (8, 11)),               # too small
    ((1, 2, 4, 5), (1, 3, 9, 13)),
])
def test_the_output_sizes_that_pytorch_refuses_are_refused(torch, rng, x_shape, output_size):
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ConvTranspose2d(2, 3, 3,
                                                                                   stride=2)
    x = rng.standard_normal(x_shape)
    with pytest.raises(ValueError):
        theirs(torch.from_numpy(x), output_size=output_size)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_size .*; expected .*; pass "
                                         r"e.g. output_size=\(9, 11\)"):
        ours(x.astype(np.float32), output_size=output_size)
