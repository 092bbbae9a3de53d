"""embedding(..., scale_grad_by_freq=True) and nn.Embedding(scale_grad_by_freq=True) against
PyTorch float64: the forward and the weight gradient through a random upstream gradient, with
repeated ids, padding_idx and max_norm; the repr; the second derivative by the upstream gradient,
equal to PyTorch's where each id occurs once, and PyTorch's divided by the counts where ids
repeat (PyTorch's double backward leaves out the 1 / k, which finite differences in
tests/test_embedding_freq.py show to be part of the derivative)."""

import numpy as np
import pytest
from test_layers import TIGHT, as_float64, compare_lookups, copy_parameters

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


@pytest.mark.parametrize("ids_shape", [(12,), (3, 5), (2, 2, 4)])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("max_norm", [None, 1.0])
def test_layer_forward_and_weight_gradient(torch, rng, ids_shape, padding_idx, max_norm):
    settings = {"padding_idx": padding_idx, "max_norm": max_norm, "scale_grad_by_freq": True}
    theirs = torch.nn.Embedding(7, 4, **settings)
    ours = as_float64(nn.Embedding(7, 4, **settings))
    assert repr(ours) == repr(theirs)
    ours.weight.data[...] = rng.standard_normal((7, 4)) * 2        # the padding row too
    copy_parameters(torch, ours, theirs)
    for _ in range(2):                              # the second call meets rescaled rows
        ids = rng.integers(0, 7, ids_shape)
        ids.flat[:4] = 2                            # the padding id (if 2) at least 4 times
        ids.flat[4:7] = 5                           # and another id 3 times or more
        ours.weight.grad, theirs.weight.grad = None, None
        compare_lookups(torch, rng, ours, theirs, ids)
        np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), **TIGHT)


def first_and_second_order(torch, rng, ids, padding_idx):
    """Ours and PyTorch's weight gradients of embedding(ids, weight, scale_grad_by_freq=True)
    for one upstream gradient u, then the derivatives of <v, dw> by u, as numpy arrays."""
    weight, upstream, v = (rng.standard_normal((6, 3)), rng.standard_normal((*ids.shape, 3)),
                           rng.standard_normal((6, 3)))
    w, u = tc.Value(weight), tc.Value(upstream)
    out = ops.embedding(ids, w, padding_idx, scale_grad_by_freq=True)
    (dw,) = tc.grad(out, [w], grad_output=u, create_graph=True)
    (du,) = tc.grad((dw * v).sum(), [u])

    their_w = torch.tensor(weight, requires_grad=True)
    their_u = torch.tensor(upstream, requires_grad=True)
    their_out = torch.nn.functional.embedding(torch.from_numpy(ids), their_w, padding_idx,
                                              scale_grad_by_freq=True)
    (their_dw,) = torch.autograd.grad(their_out, [their_w], their_u, create_graph=True)
    (their_du,) = torch.autograd.grad((their_dw * torch.from_numpy(v)).sum(), [their_u])
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)
    return dw.data, their_dw.detach().numpy(), du.data, their_du.numpy()


@pytest.mark.parametrize("padding_idx", [None, 4])
def test_second_order_equals_pytorchs_where_each_id_occurs_once(torch, rng, padding_idx):
    ids = np.array([[0, 4, 2], [5, 1, 3]])
    dw, their_dw, du, their_du = first_and_second_order(torch, rng, ids, padding_idx)
    np.testing.assert_allclose(dw, their_dw, **TIGHT)
    np.testing.assert_allclose(du, their_du, **TIGHT)


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_second_order_is_pytorchs_divided_by_the_counts_where_ids_repeat(torch, rng,
                                                                          padding_idx):
    """PyTorch's embedding_dense_double_backward gives v[ids] whatever scale_grad_by_freq; the
    derivative of dw = scatter(u / k) by u is v[ids] / k (ours)."""
    ids = np.array([[3, 1, 3, 3], [1, 0, 5, 1]])
    dw, their_dw, du, their_du = first_and_second_order(torch, rng, ids, padding_idx)
    np.testing.assert_allclose(dw, their_dw, **TIGHT)                 # first order: equal
    counts = np.array([[3, 3, 3, 3], [3, 1, 1, 3]])[..., None]
    np.testing.assert_allclose(du, their_du / counts, **TIGHT)
    assert not np.allclose(du, their_du)                             # the difference is real


def test_functional_with_every_positional_argument(torch, rng):
    """ops.embedding(ids, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq) in
    PyTorch's positions."""
    weight = rng.standard_normal((6, 3)) * 3
    ids = np.array([[1, 1, 4], [4, 1, 0]])
    ours, theirs = tc.Value(weight.copy()), torch.tensor(weight, requires_grad=True)
    out = ops.embedding(ids, ours, 0, 2.0, 1.0, True)
    their_out = torch.nn.functional.embedding(torch.from_numpy(ids), theirs, 0, 2.0, 1.0, True)
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    their_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), **TIGHT)
