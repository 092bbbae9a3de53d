"""ops.pad's modes against torch.nn.functional.pad, and Conv1d/Conv2d with each padding_mode
against torch.nn.Conv1d/Conv2d with the same weights, in float64: the forward, every gradient
through a random upstream gradient, and the second derivatives (d/d inputs of g . v, with g the
first gradients)."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

TIGHT = {"rtol": 1e-10, "atol": 1e-12}

# (mode, x shape, our numpy-style pad_width, PyTorch's flat pad: last axis first), in the shapes
# PyTorch pads in these modes: the last 1, 2 or 3 axes of a batched or unbatched input
MODES = ["reflect", "replicate", "circular"]
SHAPES = [
    ((2, 5), ((0, 0), (2, 3)), (2, 3)),
    ((2, 4), ((0, 0), (3, 3)), (3, 3)),             # reflect's widest: size - 1
    ((2, 3, 4), ((0, 0), (0, 0), (3, 0)), (3, 0)),
    ((3, 4, 5), ((0, 0), (1, 2), (4, 1)), (4, 1, 1, 2)),           # unbatched 2-D
    ((2, 2, 3, 4), ((0, 0), (0, 0), (2, 0), (0, 3)), (0, 3, 2, 0)),
    ((1, 2, 3, 2, 4), ((0, 0), (0, 0), (1, 2), (1, 1), (3, 2)), (3, 2, 1, 1, 1, 2)),   # 3-D
]
PAD_CASES = [(mode, *shape) for mode in MODES for shape in SHAPES] + [
    ("circular", (2, 3), ((0, 0), (3, 3)), (3, 3)),            # circular's widest: size
    ("replicate", (2, 1, 3), ((0, 0), (4, 2), (5, 0)), (5, 0, 4, 2)),   # wider than the axes
]


def pad_id(case) -> str:
    mode, shape, _, torch_pad = case
    return f"{mode}-{shape}-{torch_pad}".replace(" ", "")


@pytest.mark.parametrize("mode, shape, widths, torch_pad", PAD_CASES, ids=map(pad_id, PAD_CASES))
def test_pad_modes_equal_pytorch_with_second_derivatives(torch, rng, mode, shape, widths,
                                                         torch_pad):
    x = rng.standard_normal(shape)
    ours_x, their_x = tc.Value(x), torch.tensor(x, requires_grad=True)
    out = ops.pad(ours_x * ours_x, widths, mode=mode)
    expected = torch.nn.functional.pad(their_x * their_x, torch_pad, mode=mode)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TIGHT)

    upstream = rng.standard_normal(out.shape)
    (g,) = tc.grad(out, [ours_x], grad_output=upstream, create_graph=True)
    (their_g,) = torch.autograd.grad(expected, [their_x], torch.tensor(upstream),
                                     create_graph=True)
    np.testing.assert_allclose(g.data, their_g.detach().numpy(), **TIGHT)

    v = rng.standard_normal(shape)
    (h,) = tc.grad((g * v).sum(), [ours_x])
    (their_h,) = torch.autograd.grad((their_g * torch.tensor(v)).sum(), [their_x])
    np.testing.assert_allclose(h.data, their_h.numpy(), **TIGHT)


@pytest.mark.parametrize("mode, widths, size", [("reflect", (3, 0), 3), ("reflect", (0, 1), 1),
                                                ("circular", (0, 4), 3)])
def test_pad_modes_refuse_what_pytorch_refuses(torch, mode, widths, size):
    x = np.zeros((1, 2, size))
    with pytest.raises(RuntimeError):
        torch.nn.functional.pad(torch.tensor(x), widths, mode=mode)
    with pytest.raises(ValueError, match=rf"pad: mode='{mode}'"):
        ops.pad(x, ((0, 0), (0, 0), widths), mode=mode)


def same_weights(torch, ours: nn.Module, theirs) -> nn.Module:
    """ours with float64 weights, and PyTorch's module given the same values."""
    ours.weight = tc.Value(ours.weight.data.astype(np.float64))
    if ours.bias is not None:
        ours.bias = tc.Value(ours.bias.data.astype(np.float64))
    with torch.no_grad():
        for name, param in ours.named_parameters():
            theirs.get_parameter(name).copy_(torch.from_numpy(param.data))
    return ours


LAYER_CASES = [   # (kind, in, out, kernel_size, settings, x shape)
    ("Conv2d", 2, 3, 3, {"padding": 1}, (2, 2, 5, 6)),
    ("Conv2d", 2, 4, (2, 3), {"padding": (1, 2), "stride": 2, "groups": 2}, (2, 2, 5, 4)),
    ("Conv2d", 2, 3, 4, {"padding": "same", "bias": False}, (2, 2, 5, 6)),   # one more after
    ("Conv2d", 2, 3, 2, {"padding": "same", "dilation": (3, 2)}, (2, 5, 6)),  # unbatched
    ("Conv2d", 2, 3, 3, {"padding": (3, 5), "dilation": 2}, (1, 2, 4, 5)),   # wide padding
    ("Conv2d", 2, 3, 3, {"padding": "valid"}, (1, 2, 4, 5)),
    ("Conv1d", 2, 3, 3, {"padding": 2}, (2, 2, 6)),
    ("Conv1d", 2, 4, 4, {"padding": "same", "groups": 2}, (2, 2, 7)),
    ("Conv1d", 2, 3, 2, {"padding": 1, "stride": 2}, (2, 5)),               # unbatched
]


def layer_id(case) -> str:
    kind, _, _, kernel_size, settings, shape = case
    return f"{kind}-k{kernel_size}-{settings}-{shape}".replace(" ", "")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("mode", [*MODES, "zeros"])
@pytest.mark.parametrize("case", LAYER_CASES, ids=map(layer_id, LAYER_CASES))
def test_conv_layers_with_each_padding_mode_equal_pytorch(torch, rng, case, mode):
    kind, c_in, c_out, kernel_size, settings, shape = case
    if mode == "reflect" and settings.get("padding") == (3, 5):
        settings = {**settings, "padding": (3, 4)}     # reflect: each side below the size
    ours = getattr(nn, kind)(c_in, c_out, kernel_size, padding_mode=mode, **settings)
    theirs = getattr(torch.nn, kind)(c_in, c_out, kernel_size, padding_mode=mode, **settings)
    ours = same_weights(torch, ours, theirs)
    x = rng.standard_normal(shape)
    ours_x, their_x = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, expected = ours(ours_x), theirs(their_x)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **TIGHT)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(ours_x.grad, their_x.grad.numpy(), **TIGHT)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, theirs.get_parameter(name).grad.numpy(),
                                   err_msg=name, **TIGHT)


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_gradient_penalty_with_padding_mode_equals_pytorch(torch, rng, mode):
    """Second order through the layer: d/d(x, weight, bias) of |d tanh(out).u / dx|^2 (tanh, so
    that x and bias enter the penalty)."""
    ours = nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode=mode)
    theirs = torch.nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode=mode)
    ours = same_weights(torch, ours, theirs)
    x, u = rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((2, 3, 6, 5))
    ours_x, their_x = tc.Value(x), torch.tensor(x, requires_grad=True)
    (g,) = tc.grad(ops.tanh(ours(ours_x)), [ours_x], grad_output=u, create_graph=True)
    (their_g,) = torch.autograd.grad(torch.tanh(theirs(their_x)), [their_x], torch.from_numpy(u),
                                     create_graph=True)
    np.testing.assert_allclose(g.data, their_g.detach().numpy(), **TIGHT)
    params = [ours_x, ours.weight, ours.bias]
    second = tc.grad((g * g).sum(), params)
    their_second = torch.autograd.grad((their_g * their_g).sum(),
                                       [their_x, theirs.weight, theirs.bias])
    for name, h, their_h in zip(["x", "weight", "bias"], second, their_second, strict=True):
        np.testing.assert_allclose(h.data, their_h.numpy(), err_msg=name, **TIGHT)
