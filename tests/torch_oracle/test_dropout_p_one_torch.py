"""Dropout with p=1 against PyTorch float64: dropout, dropout1d/2d/3d and their layers zero
everything as PyTorch's do (x * 0: signed zeros, NaN where x is infinite), with zero gradients
to second order, and are the identity in evaluation."""

import numpy as np
import pytest

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
