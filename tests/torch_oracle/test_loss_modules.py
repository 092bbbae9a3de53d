"""The loss modules against torch.nn's, float64: the loss and the input's gradient for every
reduction, with a random upstream gradient where the result is not a single number."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

REDUCTIONS = ["mean", "sum", "none"]


def class_scores(rng):
    return rng.standard_normal((5, 4)), rng.integers(0, 4, 5)


def log_probabilities(rng):
    scores = rng.standard_normal((5, 4))
    return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True)), rng.integers(0, 4, 5)


def real_pairs(rng):
    return rng.standard_normal((3, 4)), rng.standard_normal((3, 4))


def probability_targets(rng):
    return rng.standard_normal((3, 4)), rng.random((3, 4))


LOSSES = [("CrossEntropyLoss", class_scores), ("NLLLoss", log_probabilities),
          ("MSELoss", real_pairs), ("BCEWithLogitsLoss", probability_targets)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, make", LOSSES, ids=[name for name, _ in LOSSES])
def test_loss_module_matches_pytorch(torch, rng, name, make, reduction):
    scores, target = make(rng)
    x = tc.Value(scores)
    loss = getattr(nn, name)(reduction=reduction)(x, target)
    x_t = torch.tensor(scores, requires_grad=True)
    loss_t = getattr(torch.nn, name)(reduction=reduction)(x_t, torch.tensor(target))
    np.testing.assert_allclose(loss.data, loss_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    upstream = rng.standard_normal(loss.shape)
    loss.backward(upstream)
    loss_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad, x_t.grad.numpy(), rtol=1e-12, atol=1e-14)
