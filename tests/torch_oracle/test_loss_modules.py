"""The loss modules against torch.nn's, float64: the loss and the input's gradient for every
reduction, with a random upstream gradient where the result is not a single number. The losses
with settings (L1Loss, SmoothL1Loss and HuberLoss, BCELoss, KLDivLoss) to second order, the
target's gradient included, and at their edges: the joins |d| = beta, beta = 0, probabilities
0 and 1, a target of 0, empty inputs."""

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


def probability_pairs(rng):
    return rng.uniform(0.05, 0.95, (3, 4)), rng.random((3, 4))


def log_probabilities_and_probabilities(rng):
    return rng.standard_normal((3, 4)), rng.random((3, 4))


LOSSES = [("CrossEntropyLoss", class_scores), ("NLLLoss", log_probabilities),
          ("MSELoss", real_pairs), ("BCEWithLogitsLoss", probability_targets),
          ("L1Loss", real_pairs), ("SmoothL1Loss", real_pairs), ("HuberLoss", real_pairs),
          ("BCELoss", probability_pairs), ("KLDivLoss", log_probabilities_and_probabilities)]
# PyTorch's KLDivLoss warns that its "mean" is not the KL divergence (ours does not)
KL_MEAN_WARNING = "ignore:reduction. 'mean' divides the total loss:UserWarning"


@pytest.mark.filterwarnings(KL_MEAN_WARNING)
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


def compare(torch, rng, ours, theirs, arrays, second_order=True, rtol=1e-12, second_rtol=1e-10):
    """ours(*Values) against theirs(*tensors): the loss, the gradient of every input (the target
    too) through a random upstream gradient u, and, with second_order, the derivatives of
    (gradients . v) by every input and by u. NaN must be where PyTorch has NaN."""
    values = [tc.Value(a) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, their_out = ours(*values), theirs(*tensors)
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), rtol=rtol, atol=1e-14)
    u = tc.Value(rng.standard_normal(out.shape))
    their_u = torch.tensor(u.data, requires_grad=True)
    grads = tc.grad(out, values, grad_output=u, create_graph=second_order)
    their_grads = torch.autograd.grad(their_out, tensors, their_u, create_graph=second_order)
    for i, (g, their) in enumerate(zip(grads, their_grads, strict=True)):
        np.testing.assert_allclose(g.data, their.detach().numpy(), rtol=rtol, atol=1e-14,
                                   err_msg=f"gradient of input {i}")
    if not second_order:
        return
    vectors = [rng.standard_normal(a.shape) for a in arrays]
    seconds = tc.grad(sum((g * v).sum() for g, v in zip(grads, vectors, strict=True)),
                      [*values, u])
    dot = sum((g * torch.from_numpy(v)).sum() for g, v in zip(their_grads, vectors, strict=True))
    their_seconds = torch.autograd.grad(dot, [*tensors, their_u], allow_unused=True)
    for i, (h, their) in enumerate(zip(seconds, their_seconds, strict=True)):
        expected = np.zeros(h.shape) if their is None else their.numpy(force=True)
        np.testing.assert_allclose(h.data, expected, rtol=second_rtol, atol=1e-13,
                                   err_msg=f"second derivative by input {i} (the last: u)")


def torch_settings(torch, settings):
    """The settings for torch's module: arrays (a weight) as tensors."""
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v
            for k, v in settings.items()}


WEIGHT_ROW, WEIGHT_FULL = np.array([0.5, 1.0, 2.0, 1.5]), np.linspace(0.1, 2.0, 12).reshape(3, 4)
# (module, its settings, inputs): each with every reduction (KLDivLoss's batchmean too)
SETTINGS = [
    ("L1Loss", {}, real_pairs),
    *[("SmoothL1Loss", {"beta": beta}, real_pairs) for beta in (0.0, 0.5, 1.0, 2.0)],
    *[("HuberLoss", {"delta": delta}, real_pairs) for delta in (0.5, 1.0, 2.0)],
    ("BCELoss", {}, probability_pairs), ("BCELoss", {"weight": WEIGHT_ROW}, probability_pairs),
    ("BCELoss", {"weight": WEIGHT_FULL}, probability_pairs),
    ("KLDivLoss", {}, log_probabilities_and_probabilities),
    ("KLDivLoss", {"log_target": True}, real_pairs),
]
SETTING_CASES = [pytest.param(name, settings, make, reduction,
                              id=f"{name}-{'-'.join(map(str, settings.values()))}-{reduction}")
                 for name, settings, make in SETTINGS
                 for reduction in (["batchmean", *REDUCTIONS] if name == "KLDivLoss"
                                   else REDUCTIONS)]


@pytest.mark.filterwarnings(KL_MEAN_WARNING)
@pytest.mark.parametrize("name, settings, make, reduction", SETTING_CASES)
def test_losses_with_settings_match_pytorch_to_second_order(torch, rng, name, settings, make,
                                                           reduction):
    """BCE's second derivatives to 1e-9 only: PyTorch's double backward divides by
    (x + 1e-12)^2 (1 - x + 1e-12)^2 where ours differentiates its own (x - t) / x(1 - x)."""
    ours = getattr(nn, name)(reduction=reduction, **settings)
    theirs = getattr(torch.nn, name)(reduction=reduction, **torch_settings(torch, settings))
    compare(torch, rng, ours, theirs, list(make(rng)),
            second_rtol=1e-9 if name == "BCELoss" else 1e-10)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("name, setting", [("SmoothL1Loss", "beta"), ("HuberLoss", "delta")])
def test_smooth_l1_and_huber_at_the_joins_match_pytorch(torch, rng, name, setting, beta):
    """|d| = beta exactly: the linear piece's value, slope and second derivative 0."""
    d = np.array([-beta, beta, 0.0, beta / 2, -2 * beta, 3 * beta])
    target = rng.standard_normal(6)
    compare(torch, rng, getattr(nn, name)("none", beta),
            getattr(torch.nn, name)(reduction="none", **{setting: beta}), [target + d, target])


def test_smooth_l1_with_beta_0_at_the_kink_matches_pytorch(torch, rng):
    x = np.array([1.0, -2.0, 0.5, 0.25])
    compare(torch, rng, nn.SmoothL1Loss("sum", beta=0.0),
            torch.nn.SmoothL1Loss(reduction="sum", beta=0.0), [x, np.array([1.0, 0.0, 0.5, 2.0])])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_at_0_and_1_matches_pytorch(torch, rng, reduction):
    """Both clamps, as PyTorch's: each log at -100 (forward) and x(1 - x) at 1e-12 as a float32
    (the input's gradient, +-1.000000004e12 at a confident mistake); the target's gradient is
    +-inf there. First order only: at x = 0 or 1 PyTorch's second derivative by x is
    t / (1e-12)^2 and ours the derivative of its clamped rule (1e12 there)."""
    x = np.array([0.0, 0.0, 1.0, 1.0, 1e-10, 1 - 1e-10])
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.5])
    compare(torch, rng, nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction),
            [x, t], second_order=False)


@pytest.mark.filterwarnings(KL_MEAN_WARNING)
@pytest.mark.parametrize("reduction", ["batchmean", *REDUCTIONS])
def test_kl_div_where_the_target_is_0_matches_pytorch(torch, rng, reduction):
    """A target of 0 adds 0 to the loss and 0 to the input's gradient; the target's gradient is
    nan there, as PyTorch's. First order only: PyTorch's second derivative by the target is nan
    there too, ours 0."""
    x, t = rng.standard_normal((2, 3)), rng.random((2, 3))
    t[0, 1] = t[1, 2] = 0.0
    compare(torch, rng, nn.KLDivLoss(reduction), torch.nn.KLDivLoss(reduction=reduction),
            [x, t], second_order=False)


EMPTY = [(name, reduction) for name in ["L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss"]
         for reduction in REDUCTIONS] + [("KLDivLoss", r) for r in ["batchmean", *REDUCTIONS]]


@pytest.mark.filterwarnings(KL_MEAN_WARNING, "ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning",
                            "ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("name, reduction", EMPTY, ids=[f"{n}-{r}" for n, r in EMPTY])
def test_empty_inputs_match_pytorch(torch, rng, name, reduction):
    """The mean (and batchmean) of no losses is nan, their sum 0; the gradients are empty. The
    second derivative by u of a "mean" of nothing is PyTorch's 0 but ours nan (the sum of no
    terms, 0, divided by 0 elements), as for mse_loss: "mean" is compared to first order."""
    compare(torch, rng, getattr(nn, name)(reduction=reduction),
            getattr(torch.nn, name)(reduction=reduction), [np.zeros((0, 3)), np.zeros((0, 3))],
            second_order=reduction != "mean")
