"""Dropout with p=1 against PyTorch float64: dropout, dropout1d/2d/3d and their layers zero
everything as PyTorch's do (x * 0: signed zeros, NaN where x is infinite), with zero gradients
to second order, and are the identity in evaluation; so do the recurrent layers' dropout
between layers and MultiheadAttention's dropout of attention weights."""

import numpy as np
import pytest
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


@pytest.mark.filterwarnings("ignore:dropout2d:UserWarning")
@pytest.mark.parametrize("name, shape", [("dropout", (3, 4)), ("dropout", ()),
                                         ("dropout1d", (2, 3, 4)), ("dropout1d", (3, 4)),
                                         ("dropout2d", (2, 3, 2, 2)), ("dropout2d", (2, 3, 4)),
                                         ("dropout3d", (2, 3, 2, 1, 2)),
                                         ("dropout3d", (3, 2, 2, 2))])
def test_dropout_p_one_as_pytorchs(torch, rng, name, shape):
    """p=1 zeroes everything as PyTorch's: x * 0 (signed zeros, NaN where x is infinite), and
    the gradient is 0, to second order."""
    x = rng.standard_normal(shape)
    if x.ndim:
        x.flat[0], x.flat[-1] = np.inf, -np.inf
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        out = getattr(ops, name)(xv, 1.0)
    expected = getattr(torch.nn.functional, name)(xt, 1.0, training=True)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    finite = np.isfinite(x)
    np.testing.assert_array_equal(np.signbit(out.data[finite]),
                                  np.signbit(expected.detach().numpy()[finite]))
    finite_x = rng.standard_normal(shape)                      # gradients at finite points
    xv, xt = tc.Value(finite_x), torch.tensor(finite_x, requires_grad=True)
    upstream = rng.standard_normal(shape)
    (grad,) = tc.grad(getattr(ops, name)(xv, 1.0) * xv, [xv], grad_output=upstream,
                      create_graph=True)
    (their_grad,) = torch.autograd.grad(
        getattr(torch.nn.functional, name)(xt, 1.0, training=True) * xt, xt,
        torch.tensor(upstream), create_graph=True)
    np.testing.assert_array_equal(grad.data, their_grad.detach().numpy())
    (second,) = tc.grad((grad * grad).sum(), [xv])
    (their_second,) = torch.autograd.grad((their_grad * their_grad).sum(), xt)
    np.testing.assert_array_equal(second.data, their_second.numpy())


@pytest.mark.parametrize("layer", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"])
def test_dropout_layers_take_p_one(torch, layer):
    ours, theirs = getattr(nn, layer)(p=1.0), getattr(torch.nn, layer)(p=1.0)
    shape = {"Dropout2d": (2, 3, 2, 2), "Dropout3d": (2, 3, 2, 2, 2)}.get(layer, (2, 3, 4))
    x = np.linspace(-1, 1, np.prod(shape)).reshape(shape)
    np.testing.assert_array_equal(ours(tc.Value(x)).data, theirs(torch.tensor(x)).numpy())
    ours.eval(), theirs.eval()
    np.testing.assert_array_equal(ours(tc.Value(x)).data, theirs(torch.tensor(x)).numpy())
    if layer != "Dropout":                          # our Dropout's repr has no inplace
        assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("layer", ["RNN", "GRU", "LSTM"])
def test_recurrent_dropout_one_as_pytorchs(torch, rng, layer):
    """dropout=1 zeroes what each layer but the last hands on in training, as PyTorch's: the
    result, and every gradient, are those of a last layer that reads zeros (the first layer's
    weights get gradient 0); in evaluation dropout does nothing."""
    theirs = getattr(torch.nn, layer)(3, 4, num_layers=2, dropout=1.0)
    ours = with_their_weights(getattr(nn, layer)(3, 4, num_layers=2, dropout=1.0), theirs)
    x = rng.standard_normal((5, 2, 3))
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)[0]],
                                  [theirs(xt)[0]])
    np.testing.assert_array_equal(xv.grad, np.zeros_like(x))
    np.testing.assert_array_equal(ours.weight_ih_l0.grad, 0)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(x)[0].data, theirs(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-12, atol=1e-14)


def test_multihead_attention_dropout_one_as_pytorchs(torch, rng):
    """dropout=1 zeroes every attention weight in training, as PyTorch's: the output is the
    output projection's bias, the weights returned are 0, and so are the inputs' gradients; in
    evaluation dropout does nothing."""
    theirs = torch.nn.MultiheadAttention(4, 2, dropout=1.0)
    ours = with_their_weights(nn.MultiheadAttention(4, 2, dropout=1.0), theirs)
    q, k = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    qv, kv = tc.Value(q), tc.Value(k)
    qt, kt = torch.tensor(q, requires_grad=True), torch.tensor(k, requires_grad=True)
    out, weights = ours(qv, kv, kv)
    their_out, their_weights = theirs(qt, kt, kt)
    np.testing.assert_array_equal(weights.data, their_weights.detach().numpy())
    compare_results_and_gradients(torch, rng, ours, theirs, [qv, kv], [qt, kt], [out],
                                  [their_out])
    np.testing.assert_array_equal(out.data, np.broadcast_to(ours.out_proj.bias.data, out.shape))
    np.testing.assert_array_equal(qv.grad, 0)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(q, k, k)[0].data,
                               theirs(torch.tensor(q), torch.tensor(k), torch.tensor(k))[0]
                               .detach().numpy(), rtol=1e-12, atol=1e-14)
