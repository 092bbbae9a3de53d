"""SGD, Adam, AdamW, RMSprop and Adagrad against PyTorch's float64 over several steps: the same
gradients handed to both, every setting (momentum, dampening, Nesterov, weight decay, betas, eps,
amsgrad, alpha, centered, lr_decay, initial_accumulator_value, maximize, Adam's
decoupled_weight_decay), a parameter left without
a gradient for a step (both skip it, state included), the learning rate changed between steps, and
a run resumed from a saved state dict. Every optimizer's maximize is PyTorch's argument, with its
default."""

import inspect

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import optim

SHAPES = [(3, 4), (5,), ()]
STEPS = 6
FROZEN = {(2, 1)}            # (step, parameter) pairs whose grad is None at that step

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.02, weight_decay=0.05)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.2)),
    ("AdamW", dict(lr=0.01, weight_decay=0.0)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=1.0, weight_decay=0.01)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.6), weight_decay=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.6), eps=1e-6, weight_decay=0.2, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.02, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.8, weight_decay=0.1, momentum=0.5, centered=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.3)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=1.0)),
    ("SGD", dict(lr=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.6), weight_decay=0.05, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.02, weight_decay=0.2, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.6), weight_decay=0.2, amsgrad=True, maximize=True,
                  decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.2, maximize=True)),
    ("AdamW", dict(lr=0.02, betas=(0.5, 0.6), eps=1e-6, weight_decay=0.2, amsgrad=True,
                   maximize=True)),
    ("RMSprop", dict(lr=0.02, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.8, weight_decay=0.1, momentum=0.5, centered=True,
                     maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=1.0,
                     maximize=True)),
]
MAXIMIZED = {f"{name}-{i}": (name, settings) for i, (name, settings) in enumerate(OPTIMIZERS)
             if settings.get("maximize")}


def gradients(rng):
    """One random gradient per step and parameter (None where the parameter is frozen)."""
    return [[None if (step, i) in FROZEN else rng.standard_normal(shape)
             for i, shape in enumerate(SHAPES)] for step in range(STEPS)]


def run_ours(name, settings, start, grads, lr_at=None, state=None, steps=range(STEPS)):
    params = [tc.Value(p.copy()) for p in start]
    optimizer = getattr(optim, name)(params, **settings)
    if state is not None:
        optimizer.load_state_dict(state)
    for step in steps:
        if lr_at is not None:
            optimizer.lr = lr_at(step)
        for param, g in zip(params, grads[step], strict=True):
            param.grad = None if g is None else g.copy()
        optimizer.step()
    return [p.data for p in params], optimizer


def run_torch(torch, name, settings, start, grads, lr_at=None):
    params = [torch.nn.Parameter(torch.tensor(p)) for p in start]
    optimizer = getattr(torch.optim, name)(params, **settings)
    for step in range(STEPS):
        if lr_at is not None:
            optimizer.param_groups[0]["lr"] = lr_at(step)
        for param, g in zip(params, grads[step], strict=True):
            param.grad = None if g is None else torch.tensor(g)
        optimizer.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("name, settings", OPTIMIZERS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in s.items())}"
                              for n, s in OPTIMIZERS])
def test_steps_match_pytorch(torch, rng, name, settings):
    start = [rng.standard_normal(shape) for shape in SHAPES]
    grads = gradients(rng)
    ours, _ = run_ours(name, settings, start, grads)
    theirs = run_torch(torch, name, settings, start, grads)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"parameter {i}")
    assert not np.array_equal(ours[0], start[0])       # the steps did move the parameters


LR_CHANGED = {"SGD": dict(lr=0.1, momentum=0.9), "SGD-nesterov": dict(lr=0.1, momentum=0.9,
                                                                    nesterov=True),
              "Adam": dict(lr=0.1), "AdamW": dict(lr=0.1, amsgrad=True),
              "RMSprop": dict(lr=0.1, momentum=0.5, centered=True),
              "Adagrad": dict(lr=0.1, lr_decay=0.2),
              "SGD-maximize": dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True),
              "Adam-maximize": dict(lr=0.1, weight_decay=0.1, maximize=True),
              "AdamW-maximize": dict(lr=0.1, amsgrad=True, maximize=True),
              "RMSprop-maximize": dict(lr=0.1, momentum=0.5, centered=True, maximize=True),
              "Adagrad-maximize": dict(lr=0.1, lr_decay=0.2, maximize=True)}


@pytest.mark.parametrize("label", LR_CHANGED)
def test_learning_rate_changed_between_steps(torch, rng, label):
    name, settings = label.split("-")[0], LR_CHANGED[label]
    start = [rng.standard_normal(shape) for shape in SHAPES]
    grads = gradients(rng)

    def lr_at(step):
        return 0.1 * 0.5 ** step

    ours, _ = run_ours(name, settings, start, grads, lr_at)
    theirs = run_torch(torch, name, settings, start, grads, lr_at)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


RESUMED = {"SGD": OPTIMIZERS[2], "Adam": OPTIMIZERS[6], "AdamW": OPTIMIZERS[8],
           "SGD-nesterov": OPTIMIZERS[11], "SGD-dampening": OPTIMIZERS[13],
           "Adam-amsgrad": OPTIMIZERS[15], "AdamW-amsgrad": OPTIMIZERS[17],
           "RMSprop": OPTIMIZERS[19], "RMSprop-centered-momentum": OPTIMIZERS[22],
           "Adagrad": OPTIMIZERS[26],
           **{f"{key}-maximize": value for key, value in MAXIMIZED.items()}}


@pytest.mark.parametrize("name, settings", RESUMED.values(), ids=RESUMED.keys())
def test_resumed_from_a_state_dict_matches_an_unbroken_run(torch, rng, tmp_path, name, settings):
    start = [rng.standard_normal(shape) for shape in SHAPES]
    grads = gradients(rng)
    halfway, optimizer = run_ours(name, settings, start, grads, steps=range(3))
    tc.save({"optimizer": optimizer.state_dict()}, tmp_path / "checkpoint.npz")
    state = tc.load(tmp_path / "checkpoint.npz")["optimizer"]
    ours, _ = run_ours(name, settings, halfway, grads, state=state, steps=range(3, STEPS))
    theirs = run_torch(torch, name, settings, start, grads)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta",
       "Rprop", "ASGD"]


@pytest.mark.parametrize("name", ALL)
def test_maximize_is_pytorchs_argument_keyword_only_here(torch, name):
    """Every optimizer but LBFGS (which PyTorch gives none) takes PyTorch's maximize, default
    False, keyword-only, in its param groups. PyTorch's RMSprop and ASGD take it by position
    too, after foreach (and capturable), which tinygrad_cnn has not."""
    ours = inspect.signature(getattr(optim, name)).parameters["maximize"]
    theirs = inspect.signature(getattr(torch.optim, name)).parameters["maximize"]
    assert ours.default is theirs.default is False
    assert ours.kind is inspect.Parameter.KEYWORD_ONLY
    by_position = theirs.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert by_position == (name in ("RMSprop", "ASGD"))
    assert "maximize" in getattr(optim, name).hyperparameter_names
    assert "maximize" not in inspect.signature(torch.optim.LBFGS).parameters


def test_adams_decoupled_weight_decay_is_pytorchs_argument_and_adamws_default(torch):
    ours = inspect.signature(optim.Adam).parameters["decoupled_weight_decay"]
    theirs = inspect.signature(torch.optim.Adam).parameters["decoupled_weight_decay"]
    assert ours.default is theirs.default is False and ours.kind is theirs.kind
    p = np.zeros(2)
    assert optim.AdamW([tc.Value(p)]).defaults["decoupled_weight_decay"] is True
    assert torch.optim.AdamW([torch.zeros(2)]).defaults["decoupled_weight_decay"] is True
