"""ExponentialLR, MultiStepLR, LambdaLR, MultiplicativeLR, LinearLR, ConstantLR, PolynomialLR,
CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR, ReduceLROnPlateau, SequentialLR and
ChainedScheduler against torch.optim.lr_scheduler: the whole lr sequence (and OneCycleLR's and
CyclicLR's momentum or beta1) of a one-parameter optimizer, float for float, in several settings
each (MultiplicativeLR, CyclicLR and ChainedScheduler also in many random ones; OneCycleLR,
CyclicLR and ReduceLROnPlateau also with lists of one where PyTorch takes one value per parameter
group), also resumed half-way from a state dict saved with tc.save; ReduceLROnPlateau fed the
same metrics as PyTorch's. Every schedule's constructor (StepLR's and CosineAnnealingLR's too)
has PyTorch's parameters, names, defaults and order, so that PyTorch code passing last_epoch=-1
by position runs unchanged."""

import inspect
import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import optim

EPOCHS = 30

# name, make(module, optimizer): the same call on torch.optim.lr_scheduler and on optim
SCHEDULES = [
    ("ExponentialLR 0.9", lambda m, opt: m.ExponentialLR(opt, gamma=0.9)),
    ("ExponentialLR 0.5", lambda m, opt: m.ExponentialLR(opt, 0.5)),
    ("ExponentialLR 1.05", lambda m, opt: m.ExponentialLR(opt, gamma=1.05)),
    ("MultiStepLR", lambda m, opt: m.MultiStepLR(opt, milestones=[5, 10, 20])),
    ("MultiStepLR repeated", lambda m, opt: m.MultiStepLR(opt, [3, 3, 7, 12, 12, 12], 0.5)),
    ("MultiStepLR unsorted", lambda m, opt: m.MultiStepLR(opt, [20, 4, 9], gamma=0.7)),
    ("LambdaLR warm-up", lambda m, opt: m.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 5))),
    ("LambdaLR power", lambda m, opt: m.LambdaLR(opt, lr_lambda=lambda e: 0.95 ** e)),
    ("LambdaLR 1/(1+e)", lambda m, opt: m.LambdaLR(opt, lambda e: 1 / (1 + e))),
    ("LinearLR defaults", lambda m, opt: m.LinearLR(opt)),
    ("LinearLR down", lambda m, opt: m.LinearLR(opt, start_factor=1.0, end_factor=0.05,
                                                total_iters=7)),
    ("LinearLR 0.01 -> 1 in 20", lambda m, opt: m.LinearLR(opt, 0.01, total_iters=20)),
    ("LinearLR flat", lambda m, opt: m.LinearLR(opt, 0.5, 0.5, total_iters=3)),
    ("LinearLR down to 0", lambda m, opt: m.LinearLR(opt, 0.5, 0.0, total_iters=10)),
    ("ConstantLR defaults", lambda m, opt: m.ConstantLR(opt)),
    ("ConstantLR 0.3 for 7", lambda m, opt: m.ConstantLR(opt, factor=0.3, total_iters=7)),
    ("ConstantLR 0.1 for 1", lambda m, opt: m.ConstantLR(opt, 0.1, 1)),
    ("ConstantLR 0.7 past the end", lambda m, opt: m.ConstantLR(opt, 0.7, total_iters=40)),
    ("PolynomialLR defaults", lambda m, opt: m.PolynomialLR(opt)),
    ("PolynomialLR power 2", lambda m, opt: m.PolynomialLR(opt, total_iters=20, power=2.0)),
    ("PolynomialLR power 0.5", lambda m, opt: m.PolynomialLR(opt, 25, 0.5)),
    ("PolynomialLR power 0.9 past the end", lambda m, opt: m.PolynomialLR(opt, 40, power=0.9)),
    ("PolynomialLR power 3", lambda m, opt: m.PolynomialLR(opt, 12, power=3)),
    ("CosineAnnealingWarmRestarts T_0 7", lambda m, opt: m.CosineAnnealingWarmRestarts(opt, 7)),
    ("CosineAnnealingWarmRestarts T_mult 2", lambda m, opt: m.CosineAnnealingWarmRestarts(
        opt, T_0=3, T_mult=2, eta_min=0.01)),
    ("CosineAnnealingWarmRestarts T_mult 3", lambda m, opt: m.CosineAnnealingWarmRestarts(
        opt, 2, 3, 0.03)),
    ("CosineAnnealingWarmRestarts T_0 1, T_mult 2", lambda m, opt:
        m.CosineAnnealingWarmRestarts(opt, T_0=1, T_mult=2, eta_min=0.05)),
    ("CosineAnnealingWarmRestarts T_0 4, eta_min 0.07", lambda m, opt:
        m.CosineAnnealingWarmRestarts(opt, T_0=4, eta_min=0.07)),
]

# name, make(module, optimizer), total_steps: OneCycleLR, stepped total_steps times
ONE_CYCLES = [
    ("cos", lambda m, opt: m.OneCycleLR(opt, max_lr=1.0, total_steps=30), 30),
    ("linear", lambda m, opt: m.OneCycleLR(opt, 0.5, total_steps=27, anneal_strategy="linear"),
     27),
    ("three phase cos", lambda m, opt: m.OneCycleLR(opt, 2.0, epochs=3, steps_per_epoch=10,
                                                    pct_start=0.25, three_phase=True), 30),
    ("three phase linear", lambda m, opt: m.OneCycleLR(
        opt, 0.3, total_steps=31, anneal_strategy="linear", three_phase=True, div_factor=10.0,
        final_div_factor=100.0), 31),
    ("three phase, pct_start past 0.5", lambda m, opt: m.OneCycleLR(
        opt, 1.0, total_steps=100, pct_start=0.502, three_phase=True), 100),
    ("rise under a step", lambda m, opt: m.OneCycleLR(opt, 0.1, total_steps=30, pct_start=0.02),
     30),
    ("pct_start 0.5, momenta 0.5..0.9", lambda m, opt: m.OneCycleLR(
        opt, 0.1, total_steps=20, pct_start=0.5, base_momentum=0.5, max_momentum=0.9), 20),
    ("no momentum cycling", lambda m, opt: m.OneCycleLR(opt, 0.1, total_steps=30,
                                                        cycle_momentum=False), 30),
    ("lists of one", lambda m, opt: m.OneCycleLR(opt, [0.5], total_steps=25, base_momentum=[0.8],
                                                 max_momentum=(0.9,)), 25),
]

# how to read the momentum that OneCycleLR and CyclicLR cycle, for each optimizer: torch's,
# then ours; for AdamW the whole betas tuple, so that betas[1] is compared with PyTorch's too
MOMENTUM = {"SGD": (lambda group: group["momentum"], lambda opt: opt.momentum),
            "Adam": (lambda group: group["betas"][0], lambda opt: opt.betas[0]),
            "AdamW": (lambda group: group["betas"], lambda opt: opt.betas),
            "RMSprop": (lambda group: group["momentum"], lambda opt: opt.momentum),
            "Adagrad": (lambda group: None, lambda opt: None)}
SETTINGS = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.1, betas=(0.9, 0.999)),
            "AdamW": dict(lr=0.1, betas=(0.85, 0.99)), "RMSprop": dict(lr=0.1, momentum=0.5),
            "Adagrad": dict(lr=0.1)}


def torch_run(torch, make, steps, optimizer="SGD"):
    """PyTorch's (lr, momentum) of steps 0..steps: one optimizer and scheduler step each."""
    param = torch.nn.Parameter(torch.zeros(1))
    opt = getattr(torch.optim, optimizer)([param], **SETTINGS[optimizer])
    scheduler = make(torch.optim.lr_scheduler, opt)
    group, momentum = opt.param_groups[0], MOMENTUM[optimizer][0]
    seen = [(group["lr"], momentum(group))]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        assert scheduler.get_last_lr() == [group["lr"]]
        seen.append((group["lr"], momentum(group)))
    return seen


def our_run(make, steps, optimizer="SGD", state=None):
    """Ours the same way, from `state` (a scheduler state dict) when given; also the scheduler."""
    opt = getattr(optim, optimizer)([tc.Value(np.zeros(1))], **SETTINGS[optimizer])
    scheduler = make(optim, opt)
    if state is not None:
        scheduler.load_state_dict(state)
    momentum = MOMENTUM[optimizer][1]
    seen = [(opt.lr, momentum(opt))]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        assert scheduler.get_last_lr() == [opt.lr]
        seen.append((opt.lr, momentum(opt)))
    return seen, scheduler


def resumed_run(tmp_path, make, steps, optimizer="SGD"):
    """Ours for `steps`, saved half-way with tc.save and loaded into a fresh optimizer and
    scheduler for the rest."""
    half = steps // 2
    first, scheduler = our_run(make, half, optimizer)
    tc.save({"scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.npz")
    state = tc.load(tmp_path / "checkpoint.npz")["scheduler"]
    rest, _ = our_run(make, steps - half, optimizer, state=state)
    assert rest[0] == first[-1]                     # the load restores the lr and momentum
    return first + rest[1:]


@pytest.mark.parametrize("name, make", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_learning_rates_over_30_epochs(torch, name, make):
    expected = torch_run(torch, make, EPOCHS)
    assert {lr for lr, _ in expected} != {0.1}       # the schedule does set the lr
    assert our_run(make, EPOCHS)[0] == expected      # the same floats, bit for bit


@pytest.mark.parametrize("name, make", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_resumed_half_way_from_a_state_dict(torch, tmp_path, name, make):
    assert resumed_run(tmp_path, make, EPOCHS) == torch_run(torch, make, EPOCHS)


def test_linear_lr_down_to_0_ends_at_0_where_pytorch_rounds_below(torch):
    """The other deliberate difference: where PyTorch's recursion ends a line to 0 a hair below
    zero, ours is 0; every other lr is PyTorch's, bit for bit."""
    def make(m, opt):
        return m.LinearLR(opt, start_factor=0.9, end_factor=0.0, total_iters=100)

    theirs = [lr for lr, _ in torch_run(torch, make, 105)]
    assert min(theirs) == pytest.approx(-8.6e-18, rel=1e-2)       # base lr 0.1
    assert [lr for lr, _ in our_run(make, 105)[0]] == [max(0.0, lr) for lr in theirs]


def check_one_cycle(ours, theirs):
    """Every step of the cycle equal, float for float; the step past it (after the last
    scheduler.step()) keeps the last step's lr and momentum, where PyTorch carries the last phase
    on (see OneCycleLR's docstring)."""
    assert ours[:-1] == theirs[:-1]
    assert ours[-1] == ours[-2]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "RMSprop"])
@pytest.mark.parametrize("name, make, steps", ONE_CYCLES, ids=[c[0] for c in ONE_CYCLES])
def test_one_cycle_lr_and_momentum_over_the_whole_cycle(torch, name, make, steps, optimizer):
    ours, scheduler = our_run(make, steps, optimizer)
    check_one_cycle(ours, torch_run(torch, make, steps, optimizer))
    with pytest.raises(ValueError, match=rf"OneCycleLR.step: called {steps + 1} times for a "
                                         rf"cycle of total_steps={steps}"):
        scheduler.step()
    with pytest.raises(ValueError, match=rf"Tried to step {steps + 1} times"):   # as PyTorch
        torch_scheduler = make(torch.optim.lr_scheduler, torch.optim.SGD(
            [torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9))
        for _ in range(steps + 1):
            torch_scheduler.optimizer.step()
            torch_scheduler.step()


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name, make, steps", ONE_CYCLES, ids=[c[0] for c in ONE_CYCLES])
def test_one_cycle_resumed_half_way_from_a_state_dict(torch, tmp_path, name, make, steps,
                                                      optimizer):
    check_one_cycle(resumed_run(tmp_path, make, steps, optimizer),
                    torch_run(torch, make, steps, optimizer))


@pytest.mark.parametrize("strategy", ["linear", "cos"])
def test_one_cycle_step_past_the_cycle_is_where_pytorch_differs(torch, strategy):
    """The one deliberate difference: after the last batch PyTorch's lr goes on past the
    minimum, below zero with "linear", and back up with "cos"; ours stays at the minimum."""
    def make(m, opt):
        return m.OneCycleLR(opt, 0.1, total_steps=100, anneal_strategy=strategy)

    theirs, ours = torch_run(torch, make, 100), our_run(make, 100)[0]
    assert ours[99][0] == theirs[99][0] == pytest.approx(0.1 / 25 / 1e4, rel=1e-9)
    assert ours[100] == ours[99]
    if strategy == "linear":
        assert theirs[100][0] < 0
    else:
        assert theirs[100][0] > 100 * ours[99][0]


def test_one_cycle_needs_what_pytorchs_needs_to_cycle_momentum(torch):
    param = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        torch.optim.lr_scheduler.OneCycleLR(torch.optim.Adagrad([param]), 0.1, total_steps=10)
    with pytest.raises(ValueError, match=r"OneCycleLR: cycle_momentum=True but Adagrad has "
                                         r"neither 'betas' nor 'momentum'"):
        optim.OneCycleLR(optim.Adagrad([tc.Value(np.zeros(1))]), 0.1, total_steps=10)


# A run of validation losses: plateaus, improvements smaller and larger than the default
# threshold (1e-4 relative: 1.0 -> 0.99995 is none, 1.0 -> 0.9998 is one), rises, a NaN, and a
# last plateau longer than the default patience.
METRICS = [1.0, 0.99995, 0.9998, 0.9998, 0.9998, 0.9998, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95,
           0.8999, 0.8999, 1.2, 0.5, 0.5, 0.5, 0.5, 0.49, 0.49, 0.49, 0.49, 0.49, math.nan,
           0.49, 0.49, 0.4899, 0.49, 0.49, 0.49] + [0.3] * 14
PLATEAUS = [
    ("defaults", {}, METRICS),
    ("patience 2", {"patience": 2}, METRICS),
    ("patience 0, factor 0.5", {"patience": 0, "factor": 0.5}, METRICS),
    ("cooldown 2", {"patience": 1, "cooldown": 2, "factor": 0.5}, METRICS),
    ("threshold 0.01 abs", {"patience": 1, "threshold": 0.01, "threshold_mode": "abs"},
     METRICS),
    ("threshold 0.05 rel", {"patience": 1, "threshold": 0.05}, METRICS),
    ("min_lr", {"patience": 0, "factor": 0.3, "min_lr": 0.002}, METRICS),
    ("min_lr a list of one", {"patience": 0, "factor": 0.3, "min_lr": [0.002]}, METRICS),
    ("eps skips small cuts", {"patience": 0, "factor": 0.9, "min_lr": 0.085, "eps": 0.006},
     METRICS),
    ("max rel", {"mode": "max", "patience": 1, "threshold": 0.05}, [-x for x in METRICS]),
    ("max abs, cooldown", {"mode": "max", "patience": 1, "threshold": 0.02,
                           "threshold_mode": "abs", "cooldown": 1}, [1 - x for x in METRICS]),
    ("negative metrics, rel", {"patience": 1}, [x - 1.5 for x in METRICS]),
]


def plateau_run(scheduler, metrics, lr):
    """lr() before the first metric and after each scheduler.step(metric)."""
    seen = [lr()]
    for metric in metrics:
        scheduler.step(metric)
        seen.append(lr())
    return seen


@pytest.mark.parametrize("name, settings, metrics", PLATEAUS, ids=[p[0] for p in PLATEAUS])
def test_reduce_lr_on_plateau_same_decisions(torch, tmp_path, name, settings, metrics):
    torch_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **settings)
    expected = plateau_run(theirs, metrics, lambda: torch_opt.param_groups[0]["lr"])
    assert len(set(expected)) > 1                    # the metrics do reduce the lr
    opt = optim.SGD([tc.Value(np.zeros(1))], lr=0.1)
    ours = optim.ReduceLROnPlateau(opt, **settings)
    assert plateau_run(ours, metrics, lambda: opt.lr) == expected
    assert ours.get_last_lr() == theirs.get_last_lr()
    assert ((ours.best, ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch)
            == (theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter, theirs.last_epoch))
    # and resumed half-way from a checkpoint file
    opt = optim.SGD([tc.Value(np.zeros(1))], lr=0.1)
    first = optim.ReduceLROnPlateau(opt, **settings)
    half = len(metrics) // 2
    seen = plateau_run(first, metrics[:half], lambda: opt.lr)
    tc.save({"scheduler": first.state_dict()}, tmp_path / "checkpoint.npz")
    opt = optim.SGD([tc.Value(np.zeros(1))], lr=0.1)
    resumed = optim.ReduceLROnPlateau(opt, **settings)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert seen + plateau_run(resumed, metrics[half:], lambda: opt.lr)[1:] == expected


def sequence(milestones, *makes):
    """make(module, optimizer) of a SequentialLR over the schedules that `makes` make, made in
    the list's order on the fresh optimizer, as usual."""
    return lambda m, opt: m.SequentialLR(opt, [make(m, opt) for make in makes], milestones)


def warmup(m, opt):
    return m.LinearLR(opt, start_factor=0.1, total_iters=5)


# name, make(module, optimizer), rtol: 0 where every lr is PyTorch's float for float; 1e-12 with
# a CosineAnnealingLR, ours the closed form and PyTorch's a recursion
SEQUENCES = [
    ("LinearLR, CosineAnnealingLR", sequence([5], warmup, lambda m, opt: m.CosineAnnealingLR(
        opt, T_max=25)), 1e-12),
    ("LinearLR, StepLR", sequence([4], lambda m, opt: m.LinearLR(opt, 0.25, total_iters=4),
                                  lambda m, opt: m.StepLR(opt, step_size=5, gamma=0.5)), 0),
    ("LinearLR cut short, ExponentialLR", sequence([3], warmup, lambda m, opt: m.ExponentialLR(
        opt, gamma=0.9)), 0),
    ("LambdaLR constant, ExponentialLR", sequence([10], lambda m, opt: m.LambdaLR(
        opt, lambda e: 0.1), lambda m, opt: m.ExponentialLR(opt, gamma=0.9)), 0),
    ("LambdaLR warm-up, MultiStepLR", sequence([5], lambda m, opt: m.LambdaLR(
        opt, lambda e: (e + 1) / 5), lambda m, opt: m.MultiStepLR(opt, [5, 12], gamma=0.3)), 0),
    ("ExponentialLR, LinearLR down", sequence([8], lambda m, opt: m.ExponentialLR(opt, 0.8),
                                              lambda m, opt: m.LinearLR(opt, 0.5, 0.1, 10)), 0),
    ("LinearLR, LambdaLR from 0.5", sequence([1], warmup, lambda m, opt: m.LambdaLR(
        opt, lambda e: 0.5 * 0.9 ** e)), 0),
    ("CosineAnnealingLR, StepLR", sequence([10], lambda m, opt: m.CosineAnnealingLR(
        opt, T_max=10, eta_min=0.01), lambda m, opt: m.StepLR(opt, 3, 0.5)), 1e-12),
    ("LinearLR, CosineAnnealingLR, ExponentialLR", sequence(
        [5, 20], warmup, lambda m, opt: m.CosineAnnealingLR(opt, T_max=15, eta_min=1e-3),
        lambda m, opt: m.ExponentialLR(opt, 0.95)), 1e-12),
    ("LambdaLR constant, StepLR, LambdaLR", sequence(
        [4, 15], lambda m, opt: m.LambdaLR(opt, lambda e: 0.5),
        lambda m, opt: m.StepLR(opt, 4, 0.5), lambda m, opt: m.LambdaLR(opt, lambda e: 0.9 ** e)),
     0),
    ("MultiStepLR, LinearLR, CosineAnnealingLR", sequence(
        [6, 12], lambda m, opt: m.MultiStepLR(opt, [2, 4], 0.5),
        lambda m, opt: m.LinearLR(opt, 0.3, 1.0, 4),
        lambda m, opt: m.CosineAnnealingLR(opt, T_max=12)), 1e-12),
    ("StepLR alone", sequence([], lambda m, opt: m.StepLR(opt, 3, 0.5)), 0),
    ("ConstantLR, PolynomialLR", sequence([4], lambda m, opt: m.ConstantLR(opt, 0.2, 4),
                                          lambda m, opt: m.PolynomialLR(opt, 30, 2.0)), 0),
    ("LinearLR, CosineAnnealingWarmRestarts", sequence(
        [5], warmup, lambda m, opt: m.CosineAnnealingWarmRestarts(opt, 4, 2, 1e-3)), 0),
    ("ConstantLR cut short, CosineAnnealingWarmRestarts, ConstantLR", sequence(
        [3, 18], lambda m, opt: m.ConstantLR(opt, 0.5, total_iters=6),
        lambda m, opt: m.CosineAnnealingWarmRestarts(opt, T_0=5),
        lambda m, opt: m.ConstantLR(opt, 0.25, 10)), 0),
    ("CosineAnnealingWarmRestarts, PolynomialLR", sequence(
        [12], lambda m, opt: m.CosineAnnealingWarmRestarts(opt, 3, 3, 0.02),
        lambda m, opt: m.PolynomialLR(opt, total_iters=20, power=0.5)), 0),
    ("PolynomialLR, ExponentialLR, CosineAnnealingWarmRestarts", sequence(
        [8, 16], lambda m, opt: m.PolynomialLR(opt, 10),
        lambda m, opt: m.ExponentialLR(opt, 0.8),
        lambda m, opt: m.CosineAnnealingWarmRestarts(opt, 6, eta_min=0.01)), 0),
]
SEQUENCE_EPOCHS = 40


def check_sequence(ours, theirs, rtol):
    """The lrs equal, float for float with rtol 0, else within rtol."""
    if rtol == 0:
        assert ours == theirs
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


@pytest.mark.parametrize("name, make, rtol", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequential_lr_over_40_epochs(torch, name, make, rtol):
    expected = [lr for lr, _ in torch_run(torch, make, SEQUENCE_EPOCHS)]
    assert len(set(expected)) > 5                     # the schedules do set the lr
    check_sequence([lr for lr, _ in our_run(make, SEQUENCE_EPOCHS)[0]], expected, rtol)


@pytest.mark.parametrize("name, make, rtol", SEQUENCES, ids=[s[0] for s in SEQUENCES])
def test_sequential_lr_resumed_half_way_from_a_state_dict(torch, tmp_path, name, make, rtol):
    expected = [lr for lr, _ in torch_run(torch, make, SEQUENCE_EPOCHS)]
    check_sequence([lr for lr, _ in resumed_run(tmp_path, make, SEQUENCE_EPOCHS)], expected, rtol)


@pytest.mark.parametrize("saved_at", [4, 5, 6, 19, 20, 21])
def test_sequential_lr_resumed_at_and_around_each_milestone(torch, tmp_path, saved_at):
    """Milestones 5 and 20: saved just before, at and just after each, then resumed, PyTorch's
    uninterrupted run."""
    make = {name: make for name, make, _ in SEQUENCES}["LinearLR, CosineAnnealingLR, ExponentialLR"]
    first, scheduler = our_run(make, saved_at)
    tc.save({"scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.npz")
    rest, _ = our_run(make, SEQUENCE_EPOCHS - saved_at,
                      state=tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    expected = [lr for lr, _ in torch_run(torch, make, SEQUENCE_EPOCHS)]
    check_sequence([lr for lr, _ in first + rest[1:]], expected, 1e-12)


def test_sequential_lr_gives_every_schedule_the_first_ones_base_lr(torch):
    """The warm-up lowers the lr to 0.01 when made, so the cosine made after it takes 0.01 as its
    base lr on its own; PyTorch's takes initial_lr, 0.1, and so does ours in the SequentialLR."""
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param], lr=0.1)
    theirs = [warmup(torch.optim.lr_scheduler, torch_opt),
              torch.optim.lr_scheduler.CosineAnnealingLR(torch_opt, T_max=25)]
    opt = optim.SGD([tc.Value(np.zeros(1))], lr=0.1)
    ours = [warmup(optim, opt), optim.CosineAnnealingLR(opt, T_max=25)]
    assert ours[1].base_lrs == pytest.approx([0.01]) and theirs[1].base_lrs == [0.1]
    torch.optim.lr_scheduler.SequentialLR(torch_opt, theirs, milestones=[5])
    optim.SequentialLR(opt, ours, milestones=[5])
    assert [s.base_lrs for s in ours] == [[0.1], [0.1]] and theirs[1].base_lrs == [0.1]
    assert opt.lr == torch_opt.param_groups[0]["lr"] == pytest.approx(0.01)


def check_runs(torch, tmp_path, make, steps, optimizer, description):
    """Ours equal to PyTorch's, float for float, lr and momentum: straight through, and resumed
    half-way from a state dict saved with tc.save. Returns PyTorch's lrs."""
    expected = torch_run(torch, make, steps, optimizer)
    assert our_run(make, steps, optimizer)[0] == expected, description
    assert resumed_run(tmp_path, make, steps, optimizer) == expected, description
    return [lr for lr, _ in expected]


# MultiplicativeLR: factors that a random run draws from, each made from two numbers a, b drawn
# in [0, 1) (default arguments bind them now, not when called)
FACTORS = [
    ("constant", lambda a, b: lambda e, c=0.5 + 0.6 * a: c),
    ("periodic", lambda a, b: lambda e, c=0.8 + 0.2 * a, k=2 + int(5 * b): c + 0.05 * (e % k)),
    ("every k-th epoch", lambda a, b: lambda e, c=0.3 + 0.6 * a, k=1 + int(6 * b):
        c if e % k == 0 else 1.0),
    ("towards 1", lambda a, b: lambda e, c=0.5 + 0.5 * a: c ** (1 / e) if e else 1.0),
    ("a list of one", lambda a, b: [lambda e, c=0.9 + 0.2 * a: c - 0.001 * e]),
]


def test_multiplicative_lr_in_random_settings(torch, tmp_path, rng):
    for run in range(60):
        name, factor = FACTORS[rng.integers(len(FACTORS))]
        a, b = rng.random(2)
        optimizer = ["SGD", "Adam", "RMSprop"][rng.integers(3)]
        lr_lambda = factor(a, b)

        def make(m, opt, lr_lambda=lr_lambda):
            return m.MultiplicativeLR(opt, lr_lambda)

        description = f"run {run}: {name} factor (a={a}, b={b}), {optimizer}"
        expected = check_runs(torch, tmp_path, make, 50, optimizer, description)
        assert len(set(expected)) > 5, description          # the schedule does set the lr


def random_cyclic(rng) -> tuple[dict, str]:
    """CyclicLR's keyword arguments, drawn at random, and the optimizer to cycle."""
    settings = {"base_lr": float(rng.choice([0.0, rng.uniform(0, 0.1)])),
                "max_lr": rng.uniform(0, 1), "step_size_up": int(rng.integers(1, 9)),
                "step_size_down": [None, int(rng.integers(0, 9))][rng.integers(2)],
                "mode": ["triangular", "triangular2", "exp_range"][rng.integers(3)],
                "gamma": rng.uniform(0.8, 1.0), "base_momentum": rng.uniform(0.5, 0.9),
                "max_momentum": rng.uniform(0.7, 0.99)}
    if rng.random() < 0.3:       # then mode is ignored, as in PyTorch
        settings["scale_fn"] = [lambda x: 1 / (1 + x), lambda x: 0.7 ** x,
                                lambda x: 0.5 * (1 + math.cos(x))][rng.integers(3)]
        settings["scale_mode"] = ["cycle", "iterations"][rng.integers(2)]
    for name in ("base_lr", "max_lr", "base_momentum", "max_momentum"):
        if rng.random() < 0.2:   # PyTorch's one value per parameter group
            settings[name] = [settings[name]]
    optimizer = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"][rng.integers(5)]
    if optimizer == "Adagrad" or rng.random() < 0.2:
        settings["cycle_momentum"] = False
    return settings, optimizer


def test_cyclic_lr_lr_and_momentum_in_random_settings(torch, tmp_path, rng):
    for run in range(120):
        settings, optimizer = random_cyclic(rng)

        def make(m, opt, settings=settings):
            return m.CyclicLR(opt, **settings)

        check_runs(torch, tmp_path, make, 60, optimizer, f"run {run}: {settings}, {optimizer}")


# name, make(module, optimizer): CyclicLR in named settings, each run on every optimizer below
CYCLICS = [
    ("triangular", lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, step_size_up=4)),
    ("triangular2, asymmetric", lambda m, opt: m.CyclicLR(
        opt, base_lr=0.001, max_lr=0.05, step_size_up=3, step_size_down=7, mode="triangular2")),
    ("exp_range", lambda m, opt: m.CyclicLR(opt, 0.02, 0.2, 5, mode="exp_range", gamma=0.95)),
    ("sawtooth, step_size_down 0", lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, 6, 0)),
    ("max_lr below base_lr", lambda m, opt: m.CyclicLR(opt, 0.3, 0.03, step_size_up=2,
                                                        base_momentum=0.6, max_momentum=0.95)),
    ("scale_fn by cycle", lambda m, opt: m.CyclicLR(opt, 0.0, 1.0, 3, scale_fn=lambda c: 1 / c)),
    ("scale_fn by batch", lambda m, opt: m.CyclicLR(
        opt, 0.05, 0.5, 2, 3, scale_fn=lambda t: 0.9 ** t, scale_mode="iterations")),
    ("lists of one", lambda m, opt: m.CyclicLR(opt, [0.01], [0.1], 4, base_momentum=[0.7],
                                               max_momentum=(0.8,))),
    ("unused gamma above 1", lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, 3, mode="triangular2",
                                                       gamma=1.5)),
    ("exp_range gamma unused by scale_fn", lambda m, opt: m.CyclicLR(
        opt, 0.01, 0.1, 3, mode="exp_range", gamma=2.0, scale_fn=lambda c: 1 / c)),
    ("defaults", lambda m, opt: m.CyclicLR(opt, 0.001, 0.006)),
]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("name, make", CYCLICS, ids=[c[0] for c in CYCLICS])
def test_cyclic_lr_lr_and_momentum_over_several_cycles(torch, tmp_path, name, make, optimizer):
    steps = 4100 if name == "defaults" else 40        # the defaults: a cycle of 4000 batches
    check_runs(torch, tmp_path, make, steps, optimizer, name)


def test_cyclic_lr_gives_sgd_without_momentum_one_as_pytorch(torch):
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.SGD([param], lr=0.1)
    torch.optim.lr_scheduler.CyclicLR(torch_opt, 0.01, 0.1)
    opt = optim.SGD([tc.Value(np.zeros(1))], lr=0.1)
    optim.CyclicLR(opt, 0.01, 0.1)
    assert opt.momentum == torch_opt.param_groups[0]["momentum"] == 0.9
    assert opt.lr == torch_opt.param_groups[0]["lr"] == 0.01


def test_cyclic_lr_needs_what_pytorchs_needs_to_cycle_momentum(torch):
    param = torch.nn.Parameter(torch.zeros(1))
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        torch.optim.lr_scheduler.CyclicLR(torch.optim.Adagrad([param]), 0.01, 0.1)
    with pytest.raises(ValueError, match=r"CyclicLR: cycle_momentum=True but Adagrad has "
                                         r"neither 'betas' nor 'momentum'.*pass "
                                         r"cycle_momentum=False"):
        optim.CyclicLR(optim.Adagrad([tc.Value(np.zeros(1))]), 0.01, 0.1)
    torch.optim.lr_scheduler.CyclicLR(torch.optim.Adagrad([param]), 0.01, 0.1,
                                      cycle_momentum=False)
    optim.CyclicLR(optim.Adagrad([tc.Value(np.zeros(1))]), 0.01, 0.1, cycle_momentum=False)


def chain(*makes, given=False):
    """make(module, optimizer) of a ChainedScheduler over the schedules that `makes` make, made in
    the list's order on the fresh optimizer, as usual; `given`: pass the optimizer too."""
    def make(m, opt):
        schedulers = [make(m, opt) for make in makes]
        return m.ChainedScheduler(schedulers, optimizer=opt) if given else m.ChainedScheduler(
            schedulers)
    return make


# name, make(module, optimizer): ChainedScheduler in named settings
CHAINS = [
    ("ConstantLR, ExponentialLR (PyTorch's example)", chain(
        lambda m, opt: m.ConstantLR(opt, factor=0.1, total_iters=20),
        lambda m, opt: m.ExponentialLR(opt, gamma=0.9), given=True)),
    ("LinearLR warm-up, CosineAnnealingLR", chain(
        lambda m, opt: m.LinearLR(opt, start_factor=0.1, total_iters=5),
        lambda m, opt: m.CosineAnnealingLR(opt, T_max=30))),
    ("CosineAnnealingLR past T_max, eta_min", chain(
        lambda m, opt: m.CosineAnnealingLR(opt, T_max=7, eta_min=0.01),
        lambda m, opt: m.LinearLR(opt, 0.5, total_iters=10))),
    ("MultiplicativeLR, StepLR, PolynomialLR", chain(
        lambda m, opt: m.MultiplicativeLR(opt, lambda e: 0.97),
        lambda m, opt: m.StepLR(opt, step_size=4, gamma=0.5),
        lambda m, opt: m.PolynomialLR(opt, total_iters=50, power=1.5))),
    ("MultiStepLR, ConstantLR, ExponentialLR", chain(
        lambda m, opt: m.MultiStepLR(opt, [3, 3, 9], gamma=0.5),
        lambda m, opt: m.ConstantLR(opt, 0.25, total_iters=6),
        lambda m, opt: m.ExponentialLR(opt, 1.02))),
    ("one schedule", chain(lambda m, opt: m.CosineAnnealingLR(opt, T_max=4, eta_min=0.02))),
    ("LinearLR warm-up, ExponentialLR (for nesting, the message's fix)", chain(
        lambda m, opt: m.LinearLR(opt, start_factor=0.1, total_iters=5),
        lambda m, opt: m.ExponentialLR(opt, gamma=0.95))),
    ("two CosineAnnealingLRs", chain(lambda m, opt: m.CosineAnnealingLR(opt, T_max=5),
                                     lambda m, opt: m.CosineAnnealingLR(opt, T_max=13))),
]


@pytest.mark.parametrize("name, make", CHAINS, ids=[c[0] for c in CHAINS])
def test_chained_scheduler_over_40_epochs(torch, tmp_path, name, make):
    expected = check_runs(torch, tmp_path, make, 40, "SGD", name)
    assert len(set(expected)) > 10                      # the schedules do set the lr


def test_chained_scheduler_as_pytorchs_docs_example_runs(torch):
    """PyTorch's docstring example (at lr 0.1 here): a tenth for 20 epochs, decaying by 0.9
    throughout (its comments show lrs ten times larger for epochs 1-19; these are what it
    computes)."""
    make = CHAINS[0][1]
    ours = [lr for lr, _ in our_run(make, 22)[0]]
    assert ours == [lr for lr, _ in torch_run(torch, make, 22)]
    np.testing.assert_allclose(ours, [0.01 * 0.9 ** e for e in range(20)]
                               + [0.1 * 0.9 ** e for e in (20, 21, 22)], rtol=1e-14)


def random_chain(rng) -> tuple[list, str]:
    """1 to 3 schedules that a ChainedScheduler takes, drawn at random: (make, description)s."""
    def pick():
        kind = rng.integers(8)
        a, b = rng.random(2)
        if kind == 0:
            return (lambda m, opt, s=1 + int(6 * a), g=0.3 + 0.7 * b: m.StepLR(opt, s, g),
                    f"StepLR({1 + int(6 * a)}, {0.3 + 0.7 * b})")
        if kind == 1:
            milestones = sorted(int(x) for x in rng.integers(1, 30, size=3))
            return (lambda m, opt, ms=milestones, g=0.2 + 0.7 * a: m.MultiStepLR(opt, ms, g),
                    f"MultiStepLR({milestones}, {0.2 + 0.7 * a})")
        if kind == 2:
            return (lambda m, opt, g=0.85 + 0.2 * a: m.ExponentialLR(opt, g),
                    f"ExponentialLR({0.85 + 0.2 * a})")
        if kind == 3:
            return (lambda m, opt, c=0.8 + 0.25 * a: m.MultiplicativeLR(
                opt, lambda e: c - 0.002 * e), f"MultiplicativeLR({0.8 + 0.25 * a} - 0.002 e)")
        if kind == 4:
            return (lambda m, opt, f=0.05 + 0.95 * a, n=1 + int(15 * b): m.ConstantLR(opt, f, n),
                    f"ConstantLR({0.05 + 0.95 * a}, {1 + int(15 * b)})")
        if kind == 5:
            start, end, n = 0.05 + 0.95 * a, 0.05 + 0.95 * b, int(rng.integers(1, 20))
            return (lambda m, opt, s=start, e=end, n=n: m.LinearLR(opt, s, e, n),
                    f"LinearLR({start}, {end}, {n})")
        if kind == 6:
            n, power = int(rng.integers(1, 60)), 3 * a
            return (lambda m, opt, n=n, p=power: m.PolynomialLR(opt, n, p),
                    f"PolynomialLR({n}, {power})")
        # eta_min 0: with an eta_min, the other schedules may hold the lr below it, where
        # PyTorch's recursion goes below 0 and ours stops at 0 (tested apart)
        return (lambda m, opt, n=1 + int(20 * a): m.CosineAnnealingLR(opt, n),
                f"CosineAnnealingLR({1 + int(20 * a)})")

    return [pick() for _ in range(rng.integers(1, 4))]


def test_chained_scheduler_in_random_combinations(torch, tmp_path, rng):
    for run in range(100):
        picked = random_chain(rng)
        make = chain(*[make for make, _ in picked], given=bool(rng.integers(2)))
        description = f"run {run}: " + ", ".join(text for _, text in picked)
        check_runs(torch, tmp_path, make, 50, "SGD", description)


def test_chained_cosine_stops_at_0_where_pytorchs_goes_below(torch):
    """The one deliberate difference: StepLR after the cosine keeps the lr below eta_min, so
    PyTorch's recursion, climbing back from its minimum, takes it below 0; ours stops at 0. Up to
    there every lr is PyTorch's, bit for bit."""
    make = chain(lambda m, opt: m.CosineAnnealingLR(opt, T_max=4, eta_min=0.05),
                 lambda m, opt: m.StepLR(opt, step_size=1, gamma=0.1))
    theirs = [lr for lr, _ in torch_run(torch, make, 12)]
    ours = [lr for lr, _ in our_run(make, 12)[0]]
    below = next(e for e, lr in enumerate(theirs) if lr < 0)
    assert ours[:below] == theirs[:below] and ours[below] == 0.0 and min(ours) >= 0


# SequentialLR with MultiplicativeLR, which at its milestone multiplies the lr it takes over
MULTIPLICATIVE_SEQUENCES = [
    ("LinearLR, MultiplicativeLR", sequence(
        [5], warmup, lambda m, opt: m.MultiplicativeLR(opt, lambda e: 0.9 - 0.01 * (e % 4)))),
    ("MultiplicativeLR, ExponentialLR, MultiplicativeLR", sequence(
        [4, 9], lambda m, opt: m.MultiplicativeLR(opt, lambda e: 0.8),
        lambda m, opt: m.ExponentialLR(opt, 0.9),
        lambda m, opt: m.MultiplicativeLR(opt, lambda e: 1.05 if e else 0.5))),
]


@pytest.mark.parametrize("name, make", MULTIPLICATIVE_SEQUENCES,
                         ids=[s[0] for s in MULTIPLICATIVE_SEQUENCES])
def test_sequential_lr_with_multiplicative_lr(torch, tmp_path, name, make):
    check_runs(torch, tmp_path, make, SEQUENCE_EPOCHS, "SGD", name)


def parameters(scheduler_class):
    """(name, default, kind) of each parameter of a scheduler's constructor."""
    return [(p.name, p.default, p.kind)
            for p in inspect.signature(scheduler_class).parameters.values()]


def test_every_schedule_has_pytorchs_parameters_in_pytorchs_order(torch):
    """Names, defaults and kinds, so that PyTorch code passing last_epoch=-1, or any other
    argument, by keyword or position, means the same here (annotations are not compared)."""
    ours = {name: value for name, value in vars(optim).items() if not name.startswith("_")
            and isinstance(value, type) and issubclass(value, optim.LRScheduler)}
    ours.pop("LRScheduler")
    assert len(ours) == 15
    with_last_epoch = set()
    for name, scheduler_class in ours.items():
        expected = parameters(getattr(torch.optim.lr_scheduler, name))
        assert parameters(scheduler_class) == expected, name
        if any(p[0] == "last_epoch" for p in expected):
            assert expected[-1] == ("last_epoch", -1, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            with_last_epoch.add(name)
    assert set(ours) - with_last_epoch == {"ReduceLROnPlateau", "ChainedScheduler"}



# name, make(module, optimizer), rtol: every argument positional, last_epoch=-1 included, as
# PyTorch code may pass it; rtol 1e-12 for CosineAnnealingLR, ours the closed form
POSITIONAL = [
    ("StepLR", lambda m, opt: m.StepLR(opt, 3, 0.5, -1), 0),
    ("CosineAnnealingLR", lambda m, opt: m.CosineAnnealingLR(opt, 10, 0.01, -1), 1e-12),
    ("ExponentialLR", lambda m, opt: m.ExponentialLR(opt, 0.9, -1), 0),
    ("MultiStepLR", lambda m, opt: m.MultiStepLR(opt, [5, 10], 0.5, -1), 0),
    ("LambdaLR", lambda m, opt: m.LambdaLR(opt, [lambda e: 0.95 ** e], -1), 0),
    ("MultiplicativeLR", lambda m, opt: m.MultiplicativeLR(opt, [lambda e: 0.9], -1), 0),
    ("LinearLR", lambda m, opt: m.LinearLR(opt, 0.2, 1.0, 4, -1), 0),
    ("ConstantLR", lambda m, opt: m.ConstantLR(opt, 0.5, 4, -1), 0),
    ("PolynomialLR", lambda m, opt: m.PolynomialLR(opt, 10, 2.0, -1), 0),
    ("CosineAnnealingWarmRestarts", lambda m, opt: m.CosineAnnealingWarmRestarts(
        opt, 3, 2, 0.01, -1), 0),
    ("OneCycleLR", lambda m, opt: m.OneCycleLR(opt, 1.0, None, 3, 10, 0.3, "cos", True, 0.85,
                                               0.95, 25.0, 1e4, False, -1), 0),
    ("CyclicLR", lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, 3, None, "triangular2", 1.0, None,
                                           "cycle", True, 0.8, 0.9, -1), 0),
    ("SequentialLR", lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, 0.1, 1.0, 5, -1), m.ExponentialLR(opt, 0.9, -1)], [5], -1), 0),
]


@pytest.mark.parametrize("name, make, rtol", POSITIONAL, ids=[s[0] for s in POSITIONAL])
def test_pytorch_code_passing_last_epoch_minus_1_positionally_runs_unchanged(torch, name, make,
                                                                             rtol):
    expected = torch_run(torch, make, EPOCHS)
    ours = our_run(make, EPOCHS)[0]
    assert len({lr for lr, _ in expected}) > 1          # the schedule does change the lr
    if name == "OneCycleLR":                             # 30 steps: the whole cycle
        check_one_cycle(ours, expected)
    else:
        check_sequence([lr for lr, _ in ours], [lr for lr, _ in expected], rtol)
        assert [m for _, m in ours] == [m for _, m in expected]     # CyclicLR's momentum
