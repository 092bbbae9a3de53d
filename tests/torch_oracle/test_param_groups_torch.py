"""Param groups against PyTorch's, float64: every optimizer trains the small model of
test_optimizers_more.py (linear, tanh, linear, cross-entropy) with two groups, the weights with
the constructor's hyperparameters and the biases with their own lr, weight decay, momentum,
betas or maximize (one group climbing the loss while the other descends), a bias without a
gradient for some steps; equal parameters after every step and equal
state dicts (every group's hyperparameters, states numbered over the groups in order) at the
end; PyTorch's two-group state dict loaded mid-training continues PyTorch's trajectory, ours
loaded into PyTorch continues ours. Every schedule on a two-group optimizer gives each group
PyTorch's lr (and OneCycleLR's and CyclicLR's momentum) epoch after epoch, with one setting for
all groups and with a list of one per group, also resumed half-way from a state dict."""

import numpy as np
import pytest
from test_optimizers_more import (
    FROZEN,
    TIGHT,
    Ours,
    Theirs,
    assert_same_state,
    assert_same_values,
    ours_from_torch,
    problem,
    torch_from_ours,
)

import tinygrad_cnn as tc
from tinygrad_cnn import optim

STEPS = 12
WEIGHTS, BIASES = [0, 2], [1, 3]       # W1, W2 and b1, b2 of the model's parameters

# name, the constructor's hyperparameters, the biases' group's own
GROUPED = [
    ("SGD", dict(lr=0.05, momentum=0.9), dict(lr=0.01, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True),
     dict(lr=0.1, momentum=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=0.05), dict(lr=0.2, momentum=0.9, dampening=0.5)),
    ("Adam", dict(lr=0.01), dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01), dict(lr=0.02, betas=(0.5, 0.6), weight_decay=0.2)),
    ("RMSprop", dict(lr=0.01), dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True,
                                    weight_decay=0.1)),
    # not initial_accumulator_value: PyTorch's Adagrad starts every group's sum at the
    # constructor's, ours at the group's own (see Adagrad)
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5), dict(lr=0.05, lr_decay=0.1,
                                                                  weight_decay=0.1)),
    ("Adamax", dict(), dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("NAdam", dict(), dict(lr=0.05, betas=(0.8, 0.9), momentum_decay=0.1, weight_decay=0.1,
                           decoupled_weight_decay=True)),
    ("RAdam", dict(), dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1)),
    ("Adadelta", dict(), dict(lr=0.5, rho=0.5, weight_decay=0.1)),
    ("Rprop", dict(), dict(lr=0.05, etas=(0.4, 1.1), step_sizes=(1e-3, 0.1))),
    ("ASGD", dict(), dict(lr=0.05, lambd=0.01, t0=3, weight_decay=0.1)),
    # maximize on in one group and off in the other, both ways round
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01, maximize=True),
     dict(lr=0.02, momentum=0.5, dampening=0.3, maximize=False)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True),
     dict(lr=0.02, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True),
     dict(lr=0.05, betas=(0.8, 0.9), amsgrad=True, maximize=False)),
    ("AdamW", dict(lr=0.01, amsgrad=True), dict(lr=0.02, weight_decay=0.2, maximize=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, maximize=True),
     dict(lr=0.005, weight_decay=0.1, maximize=False)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1), dict(lr=0.05, lr_decay=0.1, maximize=True)),
    ("Adamax", dict(), dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.05, maximize=True), dict(lr=0.02, t0=3, weight_decay=0.1, maximize=False)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in own.items())}" for name, _, own in GROUPED]


def ours_grouped(name, defaults, own, start):
    ours = Ours.__new__(Ours)                # its parameters, with an optimizer of two groups
    ours.params = [tc.Value(p.copy()) for p in start]
    ours.optimizer = getattr(optim, name)(
        [{"params": [ours.params[i] for i in WEIGHTS]},
         {"params": [ours.params[i] for i in BIASES], **own}], **defaults)
    return ours


def theirs_grouped(torch, name, defaults, own, start):
    return Theirs(torch, name, defaults, start, groups=[(WEIGHTS, {}), (BIASES, own)])


@pytest.mark.parametrize("name, defaults, own", GROUPED, ids=IDS)
def test_two_groups_train_as_pytorchs(torch, rng, name, defaults, own):
    start, batches = problem(rng, np.float64)
    ours = ours_grouped(name, defaults, own, start)
    theirs = theirs_grouped(torch, name, defaults, own, start)
    for step, (x, labels) in enumerate(batches[:STEPS]):
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")
    assert not np.allclose(ours.values()[1], start[1])         # the biases' group moved too
    saved = ours.optimizer.state_dict()
    assert [group["params"] for group in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert_same_state(saved, ours_from_torch(name, theirs.optimizer.state_dict()), TIGHT)
    frozen_steps = sum(1 for step, i in FROZEN if i == 1 and step < STEPS)
    if "step" in getattr(optim, name).state_names:       # b1 is parameter 2 of the groups
        assert ours.optimizer.state[2]["step"] == STEPS - frozen_steps


@pytest.mark.parametrize("name, defaults, own", GROUPED, ids=IDS)
def test_pytorchs_two_group_state_dict_continues_its_trajectory(torch, rng, tmp_path, name,
                                                                defaults, own):
    start, batches = problem(rng, np.float64)
    theirs = theirs_grouped(torch, name, defaults, own, start)
    for step, (x, labels) in enumerate(batches[:6]):
        theirs.step(step, x, labels)
    tc.save({"optimizer": ours_from_torch(name, theirs.optimizer.state_dict())},
            tmp_path / "checkpoint.npz")
    values = theirs.values()
    ours = ours_grouped(name, {"lr": 0.5} if name == "SGD" else {}, {}, values)   # until loaded
    ours.optimizer.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["optimizer"])
    assert ours.optimizer.param_groups[1]["lr"] == own["lr"]
    for step, (x, labels) in enumerate(batches[6:STEPS], start=6):
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")


@pytest.mark.parametrize("name, defaults, own", GROUPED, ids=IDS)
def test_our_two_group_state_dict_loaded_into_pytorch_continues_ours(torch, rng, name,
                                                                     defaults, own):
    start, batches = problem(rng, np.float64)
    ours = ours_grouped(name, defaults, own, start)
    for step, (x, labels) in enumerate(batches[:6]):
        ours.step(step, x, labels)
    theirs = theirs_grouped(torch, name, {"lr": 0.5} if name == "SGD" else {}, {},
                            ours.values())
    theirs.optimizer.load_state_dict(torch_from_ours(torch, ours.optimizer.state_dict(),
                                                     theirs.optimizer))
    for step, (x, labels) in enumerate(batches[6:STEPS], start=6):
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")


# Schedules on an optimizer of two groups, lr 0.1 and 0.02 (SGD momentum 0.9 and 0.5; Adam
# betas[0] 0.9 and 0.8): name, make(module, optimizer), steps, optimizer. OneCycleLR stops a step
# before the end of its cycle, past which PyTorch's lr goes on (see OneCycleLR).
LRS = (0.1, 0.02)
GROUP_SCHEDULES = [
    ("StepLR", lambda m, opt: m.StepLR(opt, step_size=3, gamma=0.5), 40, "SGD"),
    ("CosineAnnealingLR", lambda m, opt: m.CosineAnnealingLR(opt, T_max=10, eta_min=0.001), 40,
     "SGD"),
    ("ExponentialLR", lambda m, opt: m.ExponentialLR(opt, gamma=0.9), 40, "SGD"),
    ("MultiStepLR", lambda m, opt: m.MultiStepLR(opt, [3, 7, 7, 20], gamma=0.5), 40, "SGD"),
    ("LambdaLR one", lambda m, opt: m.LambdaLR(opt, lambda e: 0.95 ** e), 40, "SGD"),
    ("LambdaLR per group", lambda m, opt: m.LambdaLR(
        opt, [lambda e: min(1.0, (e + 1) / 5), lambda e: 1 / (1 + e)]), 40, "SGD"),
    ("MultiplicativeLR one", lambda m, opt: m.MultiplicativeLR(opt, lambda e: 0.9), 40, "SGD"),
    ("MultiplicativeLR per group", lambda m, opt: m.MultiplicativeLR(
        opt, [lambda e: 0.9, lambda e: 0.8 if e % 2 else 1.1]), 40, "SGD"),
    ("LinearLR", lambda m, opt: m.LinearLR(opt, 0.1, 1.0, total_iters=8), 40, "SGD"),
    ("ConstantLR", lambda m, opt: m.ConstantLR(opt, factor=0.3, total_iters=7), 40, "SGD"),
    ("PolynomialLR", lambda m, opt: m.PolynomialLR(opt, total_iters=20, power=2.0), 40, "SGD"),
    ("CosineAnnealingWarmRestarts", lambda m, opt: m.CosineAnnealingWarmRestarts(
        opt, T_0=3, T_mult=2, eta_min=0.001), 40, "SGD"),
    ("OneCycleLR one", lambda m, opt: m.OneCycleLR(opt, max_lr=1.0, total_steps=30), 29, "SGD"),
    ("OneCycleLR per group", lambda m, opt: m.OneCycleLR(
        opt, max_lr=[1.0, 0.3], total_steps=30, base_momentum=[0.85, 0.6],
        max_momentum=[0.95, 0.7], three_phase=True), 29, "SGD"),
    ("OneCycleLR per group, Adam", lambda m, opt: m.OneCycleLR(
        opt, [0.5, 0.05], total_steps=25, anneal_strategy="linear", base_momentum=[0.8, 0.7],
        max_momentum=(0.9, 0.85)), 24, "Adam"),
    ("CyclicLR one", lambda m, opt: m.CyclicLR(opt, 0.01, 0.1, step_size_up=3), 40, "SGD"),
    ("CyclicLR per group", lambda m, opt: m.CyclicLR(
        opt, [0.01, 0.001], [0.1, 0.05], step_size_up=3, step_size_down=5, mode="triangular2",
        base_momentum=[0.8, 0.5], max_momentum=[0.9, 0.6]), 40, "SGD"),
    ("CyclicLR per group, Adam", lambda m, opt: m.CyclicLR(
        opt, [0.01, 0.001], 0.1, step_size_up=4, mode="exp_range", gamma=0.97,
        base_momentum=0.8, max_momentum=[0.9, 0.85]), 40, "Adam"),
    ("SequentialLR", lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, 0.1, total_iters=5), m.CosineAnnealingLR(opt, T_max=10),
              m.ExponentialLR(opt, 0.8)], milestones=[5, 15]), 40, "SGD"),
    ("ChainedScheduler", lambda m, opt: m.ChainedScheduler(
        [m.ConstantLR(opt, 0.5, total_iters=4), m.ExponentialLR(opt, 0.9),
         m.MultiStepLR(opt, [10, 20])]), 40, "SGD"),
]
GROUP_SETTINGS = {"SGD": [dict(lr=LRS[0], momentum=0.9), dict(lr=LRS[1], momentum=0.5)],
                  "Adam": [dict(lr=LRS[0]), dict(lr=LRS[1], betas=(0.8, 0.99))]}


def momenta(groups):
    return [group["betas"] if "betas" in group else group["momentum"] for group in groups]


def torch_lrs(torch, make, steps, optimizer):
    """PyTorch's [(lrs, momenta)] of steps 0..steps, each a list of one per group."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    opt = getattr(torch.optim, optimizer)(
        [{"params": [param], **settings}
         for param, settings in zip(params, GROUP_SETTINGS[optimizer], strict=True)])
    scheduler = make(torch.optim.lr_scheduler, opt)
    seen = [([g["lr"] for g in opt.param_groups], momenta(opt.param_groups))]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        seen.append(([g["lr"] for g in opt.param_groups], momenta(opt.param_groups)))
    return seen


def our_lrs(make, steps, optimizer, state=None):
    """Ours the same way, from `state` (a scheduler state dict) when given; also the scheduler."""
    params = [tc.Value(np.zeros(1)) for _ in LRS]
    first, second = GROUP_SETTINGS[optimizer]
    opt = getattr(optim, optimizer)([{"params": [params[0]]}, {"params": [params[1]], **second}],
                                    **first)
    scheduler = make(optim, opt)
    if state is not None:
        scheduler.load_state_dict(state)
    seen = [([g["lr"] for g in opt.param_groups], momenta(opt.param_groups))]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        assert scheduler.get_last_lr() == [g["lr"] for g in opt.param_groups]
        seen.append(([g["lr"] for g in opt.param_groups], momenta(opt.param_groups)))
    return seen, scheduler


def assert_same_lrs(ours, theirs):
    for step, ((our_lrs_, our_momenta), (their_lrs, their_momenta)) in enumerate(
            zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(our_lrs_, their_lrs, rtol=1e-13, atol=1e-16,
                                   err_msg=f"lrs at step {step}")
        assert np.ravel(our_momenta).tolist() == pytest.approx(
            np.ravel(their_momenta).tolist(), rel=1e-13, abs=1e-16), f"momenta at step {step}"


@pytest.mark.parametrize("name, make, steps, optimizer", GROUP_SCHEDULES,
                         ids=[s[0] for s in GROUP_SCHEDULES])
def test_every_group_follows_pytorchs_schedule(torch, name, make, steps, optimizer):
    theirs = torch_lrs(torch, make, steps, optimizer)
    ours, scheduler = our_lrs(make, steps, optimizer)
    assert_same_lrs(ours, theirs)
    assert len(scheduler.base_lrs) == len(scheduler.get_last_lr()) == 2
    assert ours[0][0][0] != ours[0][0][1] or name.startswith(("OneCycleLR one", "CyclicLR one"))


@pytest.mark.parametrize("name, make, steps, optimizer", GROUP_SCHEDULES,
                         ids=[s[0] for s in GROUP_SCHEDULES])
def test_every_group_resumes_from_a_state_dict(torch, tmp_path, name, make, steps, optimizer):
    half = steps // 2
    first, scheduler = our_lrs(make, half, optimizer)
    tc.save({"scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.npz")
    state = tc.load(tmp_path / "checkpoint.npz")["scheduler"]
    rest, _ = our_lrs(make, steps - half, optimizer, state=state)
    assert_same_lrs(first[:-1] + rest, torch_lrs(torch, make, steps, optimizer))


def test_reduce_lr_on_plateau_reduces_every_group_to_its_min_lr(torch):
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9] * 2

    def lrs(module, opt):
        scheduler = module.ReduceLROnPlateau(opt, factor=0.5, patience=1, min_lr=[0.02, 0.004],
                                             cooldown=1)
        seen = []
        for metric in metrics:
            scheduler.step(metric)
            seen.append([group["lr"] for group in opt.param_groups])
        return seen

    torch_params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    theirs = lrs(torch.optim.lr_scheduler, torch.optim.SGD(
        [{"params": [torch_params[0]]}, {"params": [torch_params[1]], "lr": LRS[1]}],
        lr=LRS[0]))
    params = [tc.Value(np.zeros(1)) for _ in LRS]
    ours = lrs(optim, optim.SGD([{"params": [params[0]]}, {"params": [params[1]], "lr": LRS[1]}],
                                lr=LRS[0]))
    assert ours == theirs
    assert ours[-1] == [0.02, 0.004]                     # each group at its own floor
