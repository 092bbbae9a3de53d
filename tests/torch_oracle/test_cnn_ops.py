"""The CNN ops against PyTorch float64: conv2d and conv_transpose2d (grouped and depthwise too),
max_pool2d, avg_pool2d, adaptive_avg_pool2d (and its float32 forward against PyTorch float32),
softmax, log_softmax and the losses (cross_entropy, nll_loss, mse_loss,
binary_cross_entropy_with_logits) with every reduction. Each case compares the forward, the
gradient of every floating input through a random upstream gradient, and the second derivatives
-- of (gradients . v) by every input and by the upstream gradient -- with
torch.autograd.grad(create_graph=True)."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def compare_with_torch(torch, ours, theirs, arrays, rng):
    """ours(*inputs) and theirs(*tensors) agree to first and second order; floating arrays are
    the differentiated inputs, integer arrays (class ids) constants."""
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    our_inputs = [tc.Value(a) if i in wrt else a for i, a in enumerate(arrays)]
    their_inputs = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out, their_out = ours(*our_inputs), theirs(*their_inputs)
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)

    upstream = rng.standard_normal(out.shape)
    vectors = [rng.standard_normal(arrays[i].shape) for i in wrt]
    u = tc.Value(upstream)                  # differentiated too: the backward is linear in it
    our_wrt = [our_inputs[i] for i in wrt]
    grads = tc.grad(out, our_wrt, grad_output=u, create_graph=True)
    second = tc.grad(sum((g * v).sum() for g, v in zip(grads, vectors, strict=True)),
                     [*our_wrt, u])

    their_u = torch.tensor(upstream, requires_grad=True)
    their_wrt = [their_inputs[i] for i in wrt]
    their_grads = torch.autograd.grad(their_out, their_wrt, their_u, create_graph=True)
    dot = sum((g * torch.from_numpy(v)).sum() for g, v in zip(their_grads, vectors, strict=True))
    their_second = torch.autograd.grad(dot, [*their_wrt, their_u], allow_unused=True)

    for k, (g, their) in enumerate(zip(grads, their_grads, strict=True)):
        np.testing.assert_allclose(g.data, their.detach().numpy(), err_msg=f"d/d input {wrt[k]}",
                                   **TIGHT)
    names = [f"input {i}" for i in wrt] + ["the upstream gradient"]
    for name, h, their, target in zip(names, second, their_second, [*our_wrt, u], strict=True):
        expected = np.zeros(target.shape) if their is None else their.numpy()
        np.testing.assert_allclose(h.data, expected, err_msg=f"second derivative by {name}",
                                   **TIGHT)


# x (N, C_in, H, W), w (C_out, C_in, KH, KW), stride, padding, bias
CONV = [
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0, True),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1, True),
    ((2, 2, 8, 7), (3, 2, 3, 3), (3, 2), (2, 1), False),
    ((2, 2, 4, 5), (2, 2, 6, 7), 1, 1, True),             # kernel as large as the padded image
    ((2, 3, 12, 13), (2, 3, 10, 10), 1, 0, True),         # the seed's 10x10: tiled kernels
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, bias", CONV)
def test_conv2d(torch, rng, x_shape, w_shape, stride, padding, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[0])] if bias else []
    compare_with_torch(torch, lambda *a: ops.conv2d(*a, stride=stride, padding=padding),
                       lambda *a: torch.nn.functional.conv2d(*a, stride=stride, padding=padding),
                       arrays, rng)


# x (N, C_in, H, W), w (C_out, C_in / groups, KH, KW), stride, padding, groups, bias
GROUPED_CONV = [
    ((2, 4, 6, 7), (6, 2, 3, 2), 1, 0, 2, True),
    ((2, 6, 7, 6), (3, 2, 3, 3), 2, 1, 3, False),          # one output channel per group
    ((2, 3, 6, 5), (3, 1, 3, 3), 1, 1, 3, True),           # depthwise
    ((1, 2, 7, 8), (6, 1, 2, 3), (2, 1), (1, 0), 2, True),  # depthwise, channel multiplier 3
    ((2, 4, 12, 13), (8, 1, 10, 10), 1, 0, 4, True),       # depthwise 10x10: tiled kernels
    ((2, 8, 6, 6), (8, 2, 4, 4), 1, 1, 4, True),           # 4 channels a group
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups, bias", GROUPED_CONV)
def test_grouped_conv2d(torch, rng, x_shape, w_shape, stride, padding, groups, bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[0])] if bias else []
    settings = {"stride": stride, "padding": padding, "groups": groups}
    compare_with_torch(torch, lambda *a: ops.conv2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv2d(*a, **settings), arrays, rng)


# x (N, C_in, H, W), w (C_in, C_out, KH, KW), stride, padding, output_padding
TRANSPOSED = [
    ((1, 1, 3, 3), (1, 1, 2, 2), 1, 0, 0),
    ((2, 3, 4, 5), (3, 2, 3, 2), 2, 1, 1),
    ((2, 2, 3, 4), (2, 3, 4, 3), (2, 3), (1, 0), (1, 2)),
    ((1, 2, 3, 3), (2, 2, 10, 10), 1, 2, 0),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra", TRANSPOSED)
def test_conv_transpose2d(torch, rng, x_shape, w_shape, stride, padding, extra):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1])]
    settings = {"stride": stride, "padding": padding, "output_padding": extra}
    compare_with_torch(torch, lambda *a: ops.conv_transpose2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv_transpose2d(*a, **settings),
                       arrays, rng)


# x (N, C_in, H, W), w (C_in, C_out / groups, KH, KW), stride, padding, output_padding, groups,
# bias
GROUPED_TRANSPOSED = [
    ((2, 4, 4, 5), (4, 3, 3, 2), 1, 0, 0, 2, True),
    ((2, 6, 3, 4), (6, 1, 3, 3), 2, 1, 1, 3, False),         # one output channel per group
    ((2, 3, 4, 3), (3, 1, 3, 3), 1, 1, 0, 3, True),          # depthwise
    ((1, 2, 3, 4), (2, 3, 4, 3), (2, 3), (1, 0), (1, 2), 2, True),   # multiplier 3, pairs
    ((1, 4, 3, 3), (4, 2, 10, 10), 1, 2, 0, 2, True),        # 10x10: the tiled algorithm
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, extra, groups, bias",
                         GROUPED_TRANSPOSED)
def test_grouped_conv_transpose2d(torch, rng, x_shape, w_shape, stride, padding, extra, groups,
                                  bias):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    arrays += [rng.standard_normal(w_shape[1] * groups)] if bias else []
    settings = {"stride": stride, "padding": padding, "output_padding": extra, "groups": groups}
    compare_with_torch(torch, lambda *a: ops.conv_transpose2d(*a, **settings),
                       lambda *a: torch.nn.functional.conv_transpose2d(*a, **settings),
                       arrays, rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride", [
    ((1, 1, 4, 4), 2, None),
    ((2, 3, 7, 6), (3, 2), (2, 1)),       # overlapping windows, non-square
    ((2, 2, 5, 5), 3, 1),                 # heavily overlapping
    ((2, 16, 10, 10), 2, None),           # the seed's pooling layer
])
def test_max_pool2d(torch, rng, x_shape, kernel_size, stride):
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01    # no ties
    compare_with_torch(torch, lambda x: ops.max_pool2d(x, kernel_size, stride),
                       lambda x: torch.nn.functional.max_pool2d(x, kernel_size, stride),
                       [x], rng)


@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_max_pool2d_ties_go_where_pytorch_sends_them(torch, rng, kernel_size, stride):
    x = rng.integers(0, 3, (2, 3, 6, 7)).astype(np.float64)          # ties everywhere
    compare_with_torch(torch, lambda x: ops.max_pool2d(x, kernel_size, stride),
                       lambda x: torch.nn.functional.max_pool2d(x, kernel_size, stride),
                       [x], rng)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", [
    ((1, 1, 4, 4), 2, None, 1),           # every edge window half padding
    ((2, 3, 7, 7), 3, 2, 1),              # ResNet's stem pool: MaxPool2d(3, 2, padding=1)
    ((2, 2, 6, 5), (3, 2), (1, 2), (1, 0)),   # padding along the height only, overlapping rows
    ((2, 2, 5, 8), (2, 5), (2, 1), (0, 2)),   # along the width only, overlapping columns
    ((2, 1, 3, 4), (3, 4), None, (1, 2)),     # kernel as large as the image, padding k // 2
    ((2, 16, 10, 10), 2, None, 1),        # the seed's pooling layer, padded: 10 -> 6
])
def test_max_pool2d_padded(torch, rng, x_shape, kernel_size, stride, padding):
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01 - 1.0  # no ties, negative too
    compare_with_torch(torch, lambda x: ops.max_pool2d(x, kernel_size, stride, padding),
                       lambda x: torch.nn.functional.max_pool2d(x, kernel_size, stride, padding),
                       [x], rng)


@pytest.mark.parametrize("kernel_size, stride, padding", [(2, None, 1), (3, 2, 1),
                                                          ((2, 3), (1, 2), (1, 1))])
def test_max_pool2d_padded_ties_and_minus_infinity_go_where_pytorch_sends_them(
        torch, rng, kernel_size, stride, padding):
    x = rng.integers(0, 3, (2, 3, 6, 7)).astype(np.float64)          # ties everywhere
    x[:, :, :3, :3] = -np.inf                  # windows whose image part ties with the padding
    their = torch.nn.functional.max_pool2d
    xt = torch.tensor(x, requires_grad=True)
    their_out = their(xt, kernel_size, stride, padding)
    upstream = rng.standard_normal(tuple(their_out.shape))
    their_out.backward(torch.from_numpy(upstream))
    ours = tc.Value(x, requires_grad=True)
    out = ops.max_pool2d(ours, kernel_size, stride, padding)
    out.backward(upstream)
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    # overlapping windows may add one element's shares in another order: rounding only
    np.testing.assert_allclose(ours.grad, xt.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", [
    ((1, 1, 4, 4), 2, None, 0),
    ((2, 3, 7, 6), 3, 2, 1),              # padded zeros count in the mean
    ((2, 2, 6, 9), (4, 2), (3, 2), (2, 1)),
    ((2, 1, 5, 5), 5, None, 0),           # kernel as large as the image
])
def test_avg_pool2d(torch, rng, x_shape, kernel_size, stride, padding):
    compare_with_torch(
        torch, lambda x: ops.avg_pool2d(x, kernel_size, stride, padding),
        lambda x: torch.nn.functional.avg_pool2d(x, kernel_size, stride, padding),
        [rng.standard_normal(x_shape)], rng)


# x (N, C, H, W) or (C, H, W), output_size
ADAPTIVE = [
    ((2, 3, 6, 8), (3, 4)),               # bins that tile the image
    ((2, 3, 5, 7), (3, 4)),               # bins of different sizes, overlapping
    ((1, 2, 10, 9), (4, 2)),
    ((2, 1, 2, 3), (5, 4)),               # output larger than the input
    ((2, 2, 5, 7), (None, 3)),            # None keeps H
    ((2, 3, 5, 7), 1),                    # global average pooling
    ((1, 2, 1, 1), (2, 3)),               # a 1x1 image spread
    ((3, 5, 7), (2, 3)),                  # one image (C, H, W)
]


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE)
def test_adaptive_avg_pool2d(torch, rng, x_shape, output_size):
    compare_with_torch(
        torch, lambda x: ops.adaptive_avg_pool2d(x, output_size),
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, output_size),
        [rng.standard_normal(x_shape)], rng)
    # squared, so the second derivative by x is not zero: the rule's transpose meets itself
    compare_with_torch(
        torch, lambda x: ops.adaptive_avg_pool2d(x, output_size) ** 2,
        lambda x: torch.nn.functional.adaptive_avg_pool2d(x, output_size) ** 2,
        [rng.standard_normal(x_shape)], rng)


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE)
def test_adaptive_avg_pool2d_float32_forward_equals_pytorch_float32(torch, rng, x_shape,
                                                                   output_size):
    x = rng.standard_normal(x_shape).astype(np.float32)
    out = ops.adaptive_avg_pool2d(x, output_size)
    expected = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), output_size)
    assert out.dtype == np.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((4, 3), 0), ((2, 3, 4), 1)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax(torch, rng, shape, axis, op):
    compare_with_torch(torch, lambda x: getattr(ops, op)(x, axis=axis),
                       lambda x: getattr(torch.nn.functional, op)(x, dim=axis),
                       [rng.standard_normal(shape) * 3], rng)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n, k", [(1, 2), (6, 10)])
def test_cross_entropy_and_nll_loss(torch, rng, n, k, reduction):
    logits, target = rng.standard_normal((n, k)) * 3, rng.integers(0, k, n)
    f = torch.nn.functional
    compare_with_torch(torch, lambda z, y: ops.cross_entropy(z, y, reduction=reduction),
                       lambda z, y: f.cross_entropy(z, y, reduction=reduction),
                       [logits, target], rng)
    compare_with_torch(torch, lambda z, y: ops.nll_loss(z, y, reduction=reduction),
                       lambda z, y: f.nll_loss(z, y, reduction=reduction),
                       [logits, target], rng)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(5,), (4, 3, 2)])
def test_mse_loss(torch, rng, shape, reduction):
    compare_with_torch(torch, lambda x, t: ops.mse_loss(x, t, reduction=reduction),
                       lambda x, t: torch.nn.functional.mse_loss(x, t, reduction=reduction),
                       [rng.standard_normal(shape), rng.standard_normal(shape)], rng)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("scale", [3.0, 300.0])               # moderate and huge logits
def test_binary_cross_entropy_with_logits(torch, rng, scale, reduction):
    logits, target = rng.standard_normal((4, 5)) * scale, rng.uniform(0, 1, (4, 5))
    f = torch.nn.functional
    compare_with_torch(
        torch, lambda z, t: ops.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        lambda z, t: f.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        [logits, target], rng)
