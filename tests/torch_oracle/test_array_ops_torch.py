"""The array ops against PyTorch in float64: the rearranging ops (gather, flip, roll, tile and
repeat_interleave, squeeze, unsqueeze, swapaxes and movedim, diagonal, trace, tril, triu), sort and
topk, tan, the hyperbolic functions and their inverses, logaddexp and cumprod (zeros included); the
forward, every input's gradient through a random upstream gradient, and the second
derivatives (d/d inputs of g . v, with g the first gradients)."""

import numpy as np
import pytest
from edge_cases import inside_unit, normal, t
from oracle_checks import assert_equals_pytorch

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def distinct(shape):
    """Values 0.1 apart in a random order: no ties for sort and topk."""
    return lambda rng: [rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 0.7]


def fixed(*arrays):
    return lambda rng: [np.array(a, dtype=np.float64) for a in arrays]


def above_one(*shapes):
    return lambda rng: [rng.uniform(1.1, 4.0, s) for s in shapes]


ZEROS = [[2.0, 0.0, 3.0, 1.5], [0.0, -1.5, 0.0, 2.0], [1.2, 2.0, -0.5, 0.7]]   # 1, 2, 0 zeros
GATHER = np.array([[0, 2, 2, 1], [3, 0, 0, 0], [1, 1, 3, 2]])    # (3, 4): repeated positions

# (id, make inputs from rng, ours, theirs(torch, *tensors))
CASES = [
    ("gather", normal((3, 4)), lambda x: ops.take_along_axis(x, GATHER, 1),
     lambda th, x: th.gather(x, 1, t(th, GATHER))),
    ("gather-axis0", normal((4, 4)), lambda x: ops.take_along_axis(x * x, GATHER, 0),
     lambda th, x: th.gather(x * x, 0, t(th, GATHER))),
    ("flip", normal((2, 3, 4)), lambda x: ops.flip(x, (0, 2)), lambda th, x: th.flip(x, (0, 2))),
    ("flip-all", normal((2, 3)), ops.flip, lambda th, x: th.flip(x, (0, 1))),
    ("roll", normal((3, 4)), lambda x: ops.roll(x, (1, -3), axis=(0, 1)),
     lambda th, x: th.roll(x, (1, -3), (0, 1))),
    ("roll-flat", normal((3, 4)), lambda x: ops.roll(x, 5), lambda th, x: th.roll(x, 5)),
    ("tile", normal((2, 3)), lambda x: ops.tile(x, (2, 1, 3)), lambda th, x: th.tile(x, (2, 1, 3))),
    ("repeat", normal((2, 3)), lambda x: ops.repeat(x, 2, axis=1),
     lambda th, x: th.repeat_interleave(x, 2, dim=1)),
    ("repeat-counts", normal((3, 2)), lambda x: ops.repeat(x * x, [1, 0, 3], axis=0),
     lambda th, x: th.repeat_interleave(x * x, t(th, [1, 0, 3]), dim=0)),
    ("repeat-flat", normal((2, 2)), lambda x: x.repeat(3),
     lambda th, x: th.repeat_interleave(x, 3)),
    ("squeeze", normal((1, 3, 1)), ops.squeeze, lambda th, x: th.squeeze(x)),
    ("squeeze-axis", normal((2, 1, 3)), lambda x: x.squeeze(1), lambda th, x: th.squeeze(x, 1)),
    ("unsqueeze", normal((2, 3)), lambda x: ops.expand_dims(x, -1),
     lambda th, x: th.unsqueeze(x, -1)),
    ("swapaxes", normal((2, 3, 4)), lambda x: x.swapaxes(0, 2), lambda th, x: th.swapaxes(x, 0, 2)),
    ("movedim", normal((2, 3, 4)), lambda x: ops.moveaxis(x, (0, 1), (2, 0)),
     lambda th, x: th.movedim(x, (0, 1), (2, 0))),
    ("diagonal", normal((3, 4)), lambda x: ops.diagonal(x, 1), lambda th, x: th.diagonal(x, 1)),
    ("diagonal-axes", normal((2, 4, 3)), lambda x: ops.diagonal(x * x, -1, 2, 1),
     lambda th, x: th.diagonal(x * x, -1, 2, 1)),
    ("trace", normal((4, 4)), ops.trace, lambda th, x: th.trace(x)),
    ("trace-offset", normal((3, 4)), lambda x: (x * x).trace(1),
     lambda th, x: th.diagonal(x * x, 1).sum()),
    ("tril", normal((2, 3, 4)), lambda x: ops.tril(x, -1), lambda th, x: th.tril(x, -1)),
    ("triu", normal((4, 3)), lambda x: ops.triu(x * x, 1), lambda th, x: th.triu(x * x, 1)),
    ("sort", distinct((3, 5)), ops.sort, lambda th, x: th.sort(x).values),
    ("sort-axis0-squares", distinct((4, 3)), lambda x: ops.sort(x * x, 0),
     lambda th, x: th.sort(x * x, 0).values),
    ("topk", distinct((3, 6)), lambda x: ops.topk(x, 3)[0], lambda th, x: th.topk(x, 3).values),
    ("topk-smallest", distinct((5, 2)), lambda x: ops.topk(x * x, 2, axis=0, largest=False)[0],
     lambda th, x: th.topk(x * x, 2, dim=0, largest=False).values),
    ("tan", fixed([-1.4, -0.7, 0.0, 1e-9, 0.5, 1.2]), ops.tan, lambda th, x: th.tan(x)),
    ("sinh", fixed([-20.0, -1.0, 0.0, 1e-9, 0.5, 30.0]), ops.sinh, lambda th, x: th.sinh(x)),
    ("cosh", fixed([-20.0, -1.0, 0.0, 1e-9, 0.5, 30.0]), ops.cosh, lambda th, x: th.cosh(x)),
    ("asinh", fixed([-1e4, -2.0, 0.0, 1e-9, 0.5, 40.0]), ops.arcsinh, lambda th, x: th.asinh(x)),
    ("acosh", above_one((2, 3)), lambda x: x.arccosh(), lambda th, x: th.acosh(x)),
    ("acosh-near-1", fixed([1.0 + 1e-6, 1.01, 1e3]), ops.arccosh, lambda th, x: th.acosh(x)),
    ("atanh", inside_unit((2, 3)), lambda x: x.arctanh(), lambda th, x: th.atanh(x)),
    ("logaddexp", normal((2, 3), (3,)), ops.logaddexp, lambda th, a, b: th.logaddexp(a, b)),
    ("logaddexp-broadcast", fixed([[-20.0], [0.0], [15.0]], [-15.0, 0.0, 20.0]),
     ops.logaddexp, lambda th, a, b: th.logaddexp(a, b)),
    ("logaddexp-ties", fixed([1.0, -2.0, 5.0], [1.0, -2.0, 5.0]), ops.logaddexp,
     lambda th, a, b: th.logaddexp(a, b)),
    ("cumprod", normal((2, 3, 4)), lambda x: ops.cumprod(x, axis=1),
     lambda th, x: th.cumprod(x, dim=1)),
    ("cumprod-flattened", normal((2, 3)), lambda x: x.cumprod(),
     lambda th, x: th.cumprod(x.flatten(), dim=0)),
    ("cumprod-zeros", fixed(ZEROS), lambda x: ops.cumprod(x, axis=1),
     lambda th, x: th.cumprod(x, dim=1)),
    ("cumprod-zeros-axis0", fixed(ZEROS), lambda x: ops.cumprod(x, axis=0),
     lambda th, x: th.cumprod(x, dim=0)),
    ("cumprod-zeros-squared", fixed(ZEROS), lambda x: ops.cumprod(x * x, axis=-1),
     lambda th, x: th.cumprod(x * x, dim=-1)),
]


@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    assert_equals_pytorch(torch, rng, make, ours, theirs)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("axis", [0, -1])
def test_topk_indices_equal_pytorchs(torch, rng, axis, largest):
    x = rng.permutation(42).reshape(6, 7) * 0.5
    values, indices = ops.topk(x, 4, axis=axis, largest=largest)
    expected = torch.topk(torch.tensor(x), 4, dim=axis, largest=largest)
    np.testing.assert_array_equal(indices, expected.indices.numpy())
    np.testing.assert_array_equal(values.data, expected.values.numpy())
    assert indices.dtype == expected.indices.numpy().dtype == np.int64


def test_logaddexp_far_apart_first_derivatives_equal_pytorch_second_stay_finite(torch, rng):
    """|a - b| in the hundreds: forward and first derivatives equal PyTorch's; PyTorch's second
    derivatives are NaN there (its rule's e^(b - a) overflows), ours are finite, the softmax
    of the pair's s(a - b) s(b - a), which rounds to 0."""
    a, b = np.array([[-800.0], [0.0], [30.0]]), np.array([-30.0, 0.0, 800.0])
    values = [tc.Value(a), tc.Value(b)]
    tensors = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    out, expected = ops.logaddexp(*values), torch.logaddexp(*tensors)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-15)
    upstream = rng.standard_normal(out.shape)
    grads = tc.grad(out, values, grad_output=upstream, create_graph=True)
    torch_grads = torch.autograd.grad(expected, tensors, torch.tensor(upstream),
                                      create_graph=True)
    for g, tg in zip(grads, torch_grads, strict=True):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-15, atol=1e-300)
    # d/da of (ga . 1 + gb . 2), ga = u s(a - b), gb = u s(b - a): -(u s(a - b) s(b - a)) summed
    # over b's axis, with s(d) s(-d) = e^-|d| / (1 + e^-|d|)^2
    second = tc.grad(grads[0].sum() + grads[1].sum() * 2, values)
    torch_second = torch.autograd.grad(torch_grads[0].sum() + torch_grads[1].sum() * 2, tensors)
    assert np.isnan(torch_second[0].numpy()).any()
    assert all(np.isfinite(h.data).all() for h in second)
    e = np.exp(-np.abs(a - b))
    np.testing.assert_allclose(second[0].data, -(upstream * e / (1 + e) ** 2).sum(1, keepdims=True),
                               rtol=1e-14, atol=1e-300)
