"""The learning-rate schedules of tinygrad_cnn against PyTorch's: MultiStepLR, ExponentialLR,
LambdaLR, LinearLR, OneCycleLR (two and three phases, both anneal strategies, the momentum it
cycles in SGD and Adam), SequentialLR (warm-up then cosine) and ReduceLROnPlateau fed the same
metrics, each in several settings and also resumed half-way from a state dict."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import optim

# The schedules: name, make(module, optimizer), steps, atol (0: the same floats, bit for bit).
SCHEDULES = [
    ("MultiStepLR", lambda m, opt: m.MultiStepLR(opt, milestones=[2, 5, 6]), 12, 0.0),
    ("MultiStepLR gamma 0.5", lambda m, opt: m.MultiStepLR(opt, [1, 9], gamma=0.5), 12, 0.0),
    ("ExponentialLR 0.9", lambda m, opt: m.ExponentialLR(opt, gamma=0.9), 15, 0.0),
    ("ExponentialLR 0.5", lambda m, opt: m.ExponentialLR(opt, 0.5), 15, 0.0),
    ("LambdaLR warm-up", lambda m, opt: m.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 4)), 10,
     0.0),
    ("LambdaLR power", lambda m, opt: m.LambdaLR(opt, lr_lambda=lambda e: 0.97 ** e), 10, 0.0),
    # ours is the closed form; PyTorch's step() a recursion that agrees to about 1e-16
    ("LinearLR defaults", lambda m, opt: m.LinearLR(opt), 10, 1e-16),
    ("LinearLR down", lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.05,
                                                total_iters=7), 10, 1e-16),
    ("LinearLR 0.01 -> 1, 20", lambda m, opt: m.LinearLR(opt, 0.01, total_iters=20), 25, 1e-16),
    # OneCycleLR is a closed form in both, computed the same way
    ("OneCycleLR cos", lambda m, opt: m.OneCycleLR(opt, max_lr=1.0, total_steps=20), 20, 0.0),
    ("OneCycleLR linear", lambda m, opt: m.OneCycleLR(opt, 0.5, total_steps=17,
                                                      anneal_strategy="linear"), 17, 0.0),
    ("OneCycleLR three phase cos", lambda m, opt: m.OneCycleLR(
        opt, 2.0, epochs=3, steps_per_epoch=7, three_phase=True, pct_start=0.25), 21, 0.0),
    ("OneCycleLR three phase linear", lambda m, opt: m.OneCycleLR(
        opt, 0.3, total_steps=30, anneal_strategy="linear", three_phase=True, div_factor=10,
        final_div_factor=100), 30, 0.0),
    ("OneCycleLR short warm-up", lambda m, opt: m.OneCycleLR(
        opt, 0.1, total_steps=10, pct_start=0.05, cycle_momentum=False), 10, 0.0),
    ("OneCycleLR momentum bounds", lambda m, opt: m.OneCycleLR(
        opt, 0.1, total_steps=12, base_momentum=0.5, max_momentum=0.9), 12, 0.0),
]


def sequential(m, opt, parts):
    """SequentialLR over the schedulers that parts(m, opt) makes, one milestone between each."""
    schedulers, milestones = parts(m, opt)
    return m.SequentialLR(opt, schedulers=schedulers, milestones=milestones)


SEQUENTIAL = [
    ("warm-up then cosine", lambda m, opt: sequential(m, opt, lambda m, opt: (
        [m.LinearLR(opt, start_factor=0.1, total_iters=4),
         m.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3)], [4])), 16, 1e-15),
    ("exponential, step, multistep", lambda m, opt: sequential(m, opt, lambda m, opt: (
        [m.ExponentialLR(opt, 0.8), m.StepLR(opt, step_size=2, gamma=0.5),
         m.MultiStepLR(opt, [3], gamma=0.2)], [3, 8])), 14, 0.0),
    ("lambda then linear", lambda m, opt: sequential(m, opt, lambda m, opt: (
        [m.LambdaLR(opt, lambda e: 0.5 + e), m.LinearLR(opt, 0.5, 0.1, total_iters=3)],
        [2])), 8, 1e-16),
]


def torch_run(torch, make, steps, optimizer="SGD"):
    """PyTorch's lr (and momentum) of steps 0..steps, one optimizer and scheduler step each."""
    param = torch.nn.Parameter(torch.zeros(2))
    opt = (torch.optim.SGD([param], lr=0.1, momentum=0.9) if optimizer == "SGD"
           else torch.optim.Adam([param], lr=0.1))
    scheduler = make(torch.optim.lr_scheduler, opt)
    group = opt.param_groups[0]
    momentum = (lambda: group["momentum"]) if optimizer == "SGD" else (lambda: group["betas"][0])
    lrs, momenta = [scheduler.get_last_lr()[0]], [momentum()]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        momenta.append(momentum())
        assert group["lr"] == lrs[-1]
    return lrs, momenta


def our_run(make, steps, optimizer="SGD", state=None):
    """Ours, the same way; from `state` (a scheduler state dict) when given."""
    param = tc.Value(np.zeros(2))
    opt = (optim.SGD([param], lr=0.1, momentum=0.9) if optimizer == "SGD"
           else optim.Adam([param], lr=0.1))
    scheduler = make(optim, opt)
    if state is not None:
        scheduler.load_state_dict(state)
    momentum = (lambda: opt.momentum) if optimizer == "SGD" else (lambda: opt.betas[0])
    lrs, momenta = [scheduler.get_last_lr()[0]], [momentum()]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        momenta.append(momentum())
        assert opt.lr == lrs[-1]
    return lrs, momenta, scheduler


def assert_same(got, expected, atol):
    if atol == 0:
        assert got == expected                  # the same floats, bit for bit
    else:
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


@pytest.mark.parametrize("name, make, steps, atol", SCHEDULES + SEQUENTIAL,
                         ids=[s[0] for s in SCHEDULES + SEQUENTIAL])
def test_learning_rates(torch, name, make, steps, atol):
    expected, expected_momenta = torch_run(torch, make, steps)
    got, momenta, _ = our_run(make, steps)
    assert_same(got, expected, atol)
    assert_same(momenta, expected_momenta, atol)     # OneCycleLR cycles it; the others keep 0.9


@pytest.mark.parametrize("name, make, steps, atol", SCHEDULES + SEQUENTIAL,
                         ids=[s[0] for s in SCHEDULES + SEQUENTIAL])
def test_resumed_from_a_state_dict(torch, tmp_path, name, make, steps, atol):
    """Half the steps, saved with tc.save, loaded into a fresh scheduler, the rest: PyTorch's."""
    expected, expected_momenta = torch_run(torch, make, steps)
    half = steps // 2
    first, first_momenta, scheduler = our_run(make, half)
    tc.save({"scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.npz")
    state = tc.load(tmp_path / "checkpoint.npz")["scheduler"]
    rest, rest_momenta, _ = our_run(make, steps - half, state=state)
    assert_same(first + rest[1:], expected, atol)
    assert_same(first_momenta + rest_momenta[1:], expected_momenta, atol)


@pytest.mark.parametrize("settings", [{}, {"three_phase": True},
                                      {"anneal_strategy": "linear", "pct_start": 0.4}])
def test_one_cycle_cycles_adam_beta1(torch, settings):
    make = lambda m, opt: m.OneCycleLR(opt, max_lr=0.01, total_steps=15, **settings)  # noqa: E731
    expected, expected_momenta = torch_run(torch, make, 15, optimizer="Adam")
    got, momenta, _ = our_run(make, 15, optimizer="Adam")
    assert got == expected and momenta == expected_momenta
    assert momenta[0] == 0.95 and 0.85 <= min(momenta) < 0.86     # down as the lr rises


# Metrics with plateaus, improvements smaller and larger than the threshold (1e-4 relative by
# default: 1.0 -> 0.99995 is no improvement, 1.0 -> 0.9998 is one), a rise, and NaN.
METRICS = [1.0, 0.99995, 0.9998, 0.9998, 0.9998, 0.9998, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95,
           0.8999, 0.8999, 1.2, 0.5, 0.5, 0.5, 0.5, 0.49, 0.49, 0.49, 0.49, 0.49, math.nan,
           0.49, 0.49, 0.49, 0.49, 0.49, 0.49]
PLATEAUS = [
    ("min patience 2", {"mode": "min", "patience": 2}, METRICS),
    ("min patience 0", {"patience": 0, "factor": 0.5}, METRICS),
    ("min cooldown 2", {"patience": 1, "cooldown": 2, "factor": 0.5}, METRICS),
    ("min abs threshold", {"patience": 1, "threshold": 0.01, "threshold_mode": "abs"}, METRICS),
    ("min min_lr", {"patience": 0, "factor": 0.3, "min_lr": 0.002}, METRICS),
    ("min eps skips tiny cuts", {"patience": 0, "factor": 0.9, "min_lr": 0.085, "eps": 0.006},
     METRICS),
    ("max rel", {"mode": "max", "patience": 1, "threshold": 0.05},
     [-x for x in METRICS]),
    ("max abs cooldown", {"mode": "max", "patience": 1, "threshold": 0.02,
                          "threshold_mode": "abs", "cooldown": 1}, [1 - x for x in METRICS]),
    ("negative metrics rel", {"patience": 1}, [x - 1.5 for x in METRICS]),
]


def plateau_lrs(scheduler, metrics, lr):
    seen = [lr()]
    for metric in metrics:
        scheduler.step(metric)
        seen.append(lr())
    return seen


@pytest.mark.parametrize("name, settings, metrics", PLATEAUS, ids=[p[0] for p in PLATEAUS])
def test_reduce_lr_on_plateau(torch, tmp_path, name, settings, metrics):
    param = torch.nn.Parameter(torch.zeros(2))
    torch_opt = torch.optim.SGD([param], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **settings)
    expected = plateau_lrs(theirs, metrics, lambda: torch_opt.param_groups[0]["lr"])
    assert len(set(expected)) > 1                        # the metrics do reduce the lr
    opt = optim.SGD([tc.Value(np.zeros(2))], lr=0.1)
    ours = optim.ReduceLROnPlateau(opt, **settings)
    assert plateau_lrs(ours, metrics, lambda: opt.lr) == expected
    assert ours.get_last_lr() == [expected[-1]]
    # and resumed half-way through a checkpoint file
    opt = optim.SGD([tc.Value(np.zeros(2))], lr=0.1)
    first = optim.ReduceLROnPlateau(opt, **settings)
    half = len(metrics) // 2
    seen = plateau_lrs(first, metrics[:half], lambda: opt.lr)
    tc.save({"scheduler": first.state_dict()}, tmp_path / "checkpoint.npz")
    opt = optim.SGD([tc.Value(np.zeros(2))], lr=0.1)
    resumed = optim.ReduceLROnPlateau(opt, **settings)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert seen + plateau_lrs(resumed, metrics[half:], lambda: opt.lr)[1:] == expected
