"""cross_entropy, nll_loss and binary_cross_entropy_with_logits with PyTorch's settings against
PyTorch float64, to second order (compare_with_torch): class weights, ignore_index, label
smoothing, probability targets (whose gradients are compared too), a class per position
(N, K, d1, ...), one unbatched sample (K,), pos_weight; every reduction; a mean over targets
that are all ignored; the modules' state dicts."""

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(5, 4), (2, 4, 3), (2, 3, 2, 2), (4,)]       # logits; classes on axis 1 (0 for (K,))


def class_ids(rng, shape, ignore_index):
    """Class ids for logits of `shape`, with ignore_index at about a third of the positions."""
    k = shape[1] if len(shape) > 1 else shape[0]
    ids = rng.integers(0, k, (shape[0], *shape[2:]) if len(shape) > 1 else ())
    if ignore_index is not None:
        ids = np.where(rng.random(ids.shape) < 0.35, ignore_index, ids)
        ids.flat[0] = (ignore_index + 1) % k              # one counted target at least
    return np.asarray(ids)


def settings(weight, ignore_index, label_smoothing, k, rng):
    kwargs = {"label_smoothing": label_smoothing}
    if weight:
        kwargs["weight"] = rng.uniform(0.2, 2.0, k)
    if ignore_index is not None:
        kwargs["ignore_index"] = ignore_index
    return kwargs


def theirs_kwargs(torch, kwargs):
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight, ignore_index, label_smoothing", [
    (False, None, 0.0), (True, None, 0.0), (False, 2, 0.0), (True, 0, 0.0), (False, None, 0.3),
    (True, 2, 0.15), (True, -100, 1.0)])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_of_class_ids_equals_pytorch(torch, rng, shape, weight, ignore_index,
                                                   label_smoothing, reduction):
    k = shape[1] if len(shape) > 1 else shape[0]
    logits, ids = rng.standard_normal(shape) * 2, class_ids(rng, shape, ignore_index)
    kwargs = settings(weight, ignore_index, label_smoothing, k, rng)
    compare_with_torch(
        torch, lambda z, t: ops.cross_entropy(z, t, reduction, **kwargs),
        lambda z, t: torch.nn.functional.cross_entropy(z, t, reduction=reduction,
                                                       **theirs_kwargs(torch, kwargs)),
        [logits, ids], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight, label_smoothing", [(False, 0.0), (True, 0.0), (False, 0.2),
                                                     (True, 0.4)])
@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_of_probabilities_equals_pytorch(torch, rng, shape, weight,
                                                       label_smoothing, reduction):
    """Both the logits and the probabilities get gradients, to second order."""
    k = shape[1] if len(shape) > 1 else shape[0]
    logits = rng.standard_normal(shape)
    probabilities = rng.dirichlet(np.ones(k), (shape[0], *shape[2:]) if len(shape) > 1 else ())
    probabilities = np.moveaxis(probabilities, -1, 1 if len(shape) > 1 else 0)
    kwargs = settings(weight, None, label_smoothing, k, rng)
    compare_with_torch(
        torch, lambda z, q: ops.cross_entropy(z, q, reduction, **kwargs),
        lambda z, q: torch.nn.functional.cross_entropy(z, q, reduction=reduction,
                                                       **theirs_kwargs(torch, kwargs)),
        [logits, probabilities], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight, ignore_index", [(False, None), (True, None), (False, 1),
                                                  (True, 3)])
@pytest.mark.parametrize("shape", SHAPES)
def test_nll_loss_equals_pytorch(torch, rng, shape, weight, ignore_index, reduction):
    k = shape[1] if len(shape) > 1 else shape[0]
    log_probs, ids = rng.standard_normal(shape), class_ids(rng, shape, ignore_index)
    kwargs = settings(weight, ignore_index, 0.0, k, rng)
    del kwargs["label_smoothing"]
    compare_with_torch(
        torch, lambda x, t: ops.nll_loss(x, t, reduction, **kwargs),
        lambda x, t: torch.nn.functional.nll_loss(x, t, reduction=reduction,
                                                  **theirs_kwargs(torch, kwargs)),
        [log_probs, ids], rng)


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weight", [False, True])
def test_a_mean_over_ignored_targets_only_is_nan_and_sends_nothing_back(torch, rng, op, weight):
    x = rng.standard_normal((3, 4))
    kwargs = settings(weight, 2, 0.0, 4, rng)
    if op == "nll_loss":
        del kwargs["label_smoothing"]
    ours = tc.Value(x)
    loss = getattr(ops, op)(ours, np.full(3, 2), **kwargs)
    theirs = torch.tensor(x, requires_grad=True)
    their_loss = getattr(torch.nn.functional, op)(theirs, torch.full((3,), 2),
                                                  **theirs_kwargs(torch, kwargs))
    assert np.isnan(loss.item()) and np.isnan(their_loss.item())
    loss.backward()
    their_loss.backward()
    np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())          # zeros, as theirs
    np.testing.assert_array_equal(ours.grad, np.zeros((3, 4)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape, pos_weight_shape", [
    (None, None), ((3,), None), (None, (3,)), ((2, 1), (3,)), ((2, 3), (2, 3)), ((), ())])
def test_bce_with_logits_weights_equal_pytorch(torch, rng, weight_shape, pos_weight_shape,
                                              reduction):
    """The logits and the targets get gradients, to second order; pos_weight above and below 1."""
    z, t = rng.standard_normal((2, 3)) * 3, rng.random((2, 3))
    kwargs = {name: rng.uniform(0.3, 3.0, shape) for name, shape in
              (("weight", weight_shape), ("pos_weight", pos_weight_shape)) if shape is not None}
    compare_with_torch(
        torch, lambda z, t: ops.binary_cross_entropy_with_logits(z, t, reduction, **kwargs),
        lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(
            z, t, reduction=reduction, **theirs_kwargs(torch, kwargs)),
        [z, t], rng)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_pos_weight_stays_finite_for_huge_logits(torch, dtype):
    z = np.array([-1e4, -30.0, 0.0, 30.0, 1e4], dtype=dtype)
    t, c = np.array([1.0, 1.0, 0.5, 0.0, 0.0], dtype=dtype), np.full(5, 4.0, dtype=dtype)
    ours = tc.Value(z)
    loss = ops.binary_cross_entropy_with_logits(ours, t, "none", pos_weight=c)
    loss.sum().backward()
    theirs = torch.tensor(z, requires_grad=True)
    their_loss = torch.nn.functional.binary_cross_entropy_with_logits(
        theirs, torch.tensor(t), reduction="none", pos_weight=torch.tensor(c))
    their_loss.sum().backward()
    assert loss.dtype == ours.grad.dtype == dtype and np.isfinite(loss.data).all()
    np.testing.assert_allclose(loss.data, their_loss.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ours, theirs", [
    (lambda w: nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1),
     lambda torch, w: torch.nn.CrossEntropyLoss(w, ignore_index=1, label_smoothing=0.1)),
    (lambda w: nn.NLLLoss(w, ignore_index=2, reduction="sum"),
     lambda torch, w: torch.nn.NLLLoss(w, ignore_index=2, reduction="sum"))])
def test_weighted_modules_equal_pytorchs_and_share_state_dicts(torch, rng, ours, theirs):
    weight = rng.uniform(0.5, 2.0, 4)
    our_loss, their_loss = ours(weight), theirs(torch, torch.tensor(weight))
    assert list(our_loss.state_dict()) == list(their_loss.state_dict()) == ["weight"]
    fresh = ours(np.ones(4))
    fresh.load_state_dict({k: v.numpy() for k, v in their_loss.state_dict().items()})
    np.testing.assert_array_equal(fresh.weight.data, weight)
    x, t = rng.standard_normal((6, 4)), np.array([0, 1, 2, 3, 2, 1])
    np.testing.assert_allclose(fresh(tc.Value(x), t).item(),
                               their_loss(torch.tensor(x), torch.tensor(t)).item(), rtol=1e-12)


def test_bce_with_logits_module_keeps_both_weights_as_pytorchs(torch, rng):
    weight, pos_weight = rng.uniform(0.5, 2.0, 3), rng.uniform(0.5, 2.0, 3)
    ours = nn.BCEWithLogitsLoss(weight, pos_weight=pos_weight)
    theirs = torch.nn.BCEWithLogitsLoss(torch.tensor(weight), pos_weight=torch.tensor(pos_weight))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    z, t = rng.standard_normal((4, 3)), rng.random((4, 3))
    np.testing.assert_allclose(ours(tc.Value(z), t).item(),
                               theirs(torch.tensor(z), torch.tensor(t)).item(), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [False, True])
def test_classes_masked_with_minus_inf_equal_pytorch(torch, rng, reduction, weight):
    # a -inf logit (or log-probability) of a class that is not the target adds 0 to the loss
    # (0 log 0 = 0), also in an ignored row; numpy's 0 * -inf would make it NaN
    x = rng.standard_normal((4, 5))
    x[0, 1] = x[1, [0, 4]] = x[3, :4] = -np.inf         # row 3 is ignored: its target is -100
    ids = np.array([0, 2, 3, -100])
    kwargs = settings(weight, -100, 0.0, 5, rng) | {"reduction": reduction}
    compare_with_torch(torch, lambda z, t: ops.cross_entropy(z, t, **kwargs),
                       lambda z, t: torch.nn.functional.cross_entropy(
                           z, t, **theirs_kwargs(torch, kwargs)), [x, ids], rng)
    del kwargs["label_smoothing"]
    log_probs = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    compare_with_torch(torch, lambda z, t: ops.nll_loss(z, t, **kwargs),
                       lambda z, t: torch.nn.functional.nll_loss(
                           z, t, **theirs_kwargs(torch, kwargs)), [log_probs, ids], rng)
