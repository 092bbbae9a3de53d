"""The array ops against PyTorch in float64: the rearranging ops (gather, flip, roll, tile and
repeat_interleave, squeeze, unsqueeze, swapaxes and movedim, diagonal, trace, tril, triu), sort and
topk; the forward, every input's gradient through a random upstream gradient, and the second
derivatives (d/d inputs of g . v, with g the first gradients)."""

import numpy as np
import pytest
from edge_cases import normal, t

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def distinct(shape):
    """Values 0.1 apart in a random order: no ties for sort and topk."""
    return lambda rng: [rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 0.7]


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
]


@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    arrays = make(rng)
    values = [tc.Value(a.copy()) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*values), theirs(torch, *tensors)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert out.shape == tuple(expected.shape)

    upstream = rng.standard_normal(out.shape)
    grads = tc.grad(out, values, grad_output=upstream, create_graph=True)
    torch_grads = torch.autograd.grad(expected, tensors, torch.tensor(upstream),
                                      create_graph=True)
    for i, (g, tg) in enumerate(zip(grads, torch_grads, strict=True)):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-11, atol=1e-13,
                                   err_msg=f"gradient of input {i}")

    vectors = [rng.standard_normal(a.shape) for a in arrays]
    dot = sum((g * v).sum() for g, v in zip(grads, vectors, strict=True))
    torch_dot = sum((g * torch.tensor(v)).sum() for g, v in zip(torch_grads, vectors,
                                                                  strict=True))
    second = (tc.grad(dot, values) if dot.requires_grad
              else [tc.Value(np.zeros(a.shape)) for a in arrays])
    torch_second = (torch.autograd.grad(torch_dot, tensors, allow_unused=True)
                    if torch_dot.requires_grad else [None] * len(arrays))
    for i, (h, th) in enumerate(zip(second, torch_second, strict=True)):
        th = np.zeros(arrays[i].shape) if th is None else th.detach().numpy()
        np.testing.assert_allclose(h.data, th, rtol=1e-10, atol=1e-12,
                                   err_msg=f"second derivative w.r.t. input {i}")


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("axis", [0, -1])
def test_topk_indices_equal_pytorchs(torch, rng, axis, largest):
    x = rng.permutation(42).reshape(6, 7) * 0.5
    values, indices = ops.topk(x, 4, axis=axis, largest=largest)
    expected = torch.topk(torch.tensor(x), 4, dim=axis, largest=largest)
    np.testing.assert_array_equal(indices, expected.indices.numpy())
    np.testing.assert_array_equal(values.data, expected.values.numpy())
    assert indices.dtype == expected.indices.numpy().dtype == np.int64
