"""Where PyTorch's schedules take one value per parameter group, ours take a value (for every
group) or a list of one per group: OneCycleLR's max_lr, base_momentum and max_momentum,
CyclicLR's base_lr, max_lr, base_momentum and max_momentum, ReduceLROnPlateau's min_lr. On an
optimizer of one group a list of one is the plain value, step for step; lists of other lengths
are refused with an error whose suggested fix runs (two groups: tests/test_param_groups.py).
LambdaLR's and MultiplicativeLR's lr_lambda are in tests/test_scheduler_last_epoch.py; the
comparisons with PyTorch in tests/torch_oracle/test_schedulers_torch.py."""

import re

import numpy as np
import pytest
from test_optim import cyclic_run

import tinygrad_cnn as tc
from tinygrad_cnn import optim

# OneCycleLR(max_lr=1.0, total_steps=10, pct_start=0.5, "linear", div_factor=4,
# final_div_factor=5), by hand: the lr rises from 1.0 / 4 = 0.25 to 1.0 over steps 0..4 (by
# 0.1875 a step), then falls to 0.25 / 5 = 0.05 over steps 4..9 (by 0.19 a step); the momentum
# falls from 0.95 to 0.85 (by 0.025) and rises back (by 0.02). The step after the last batch
# keeps step 9's lr and momentum.
ONE_CYCLE_LRS = [0.25, 0.4375, 0.625, 0.8125, 1.0, 0.81, 0.62, 0.43, 0.24, 0.05, 0.05]
ONE_CYCLE_MOMENTA = [0.95, 0.925, 0.9, 0.875, 0.85, 0.87, 0.89, 0.91, 0.93, 0.95, 0.95]
ONE_CYCLE_STEPS = 10


def one_cycle(optimizer, max_lr=1.0, base_momentum=0.85, max_momentum=0.95, **keywords):
    return optim.OneCycleLR(optimizer, max_lr, total_steps=ONE_CYCLE_STEPS, pct_start=0.5,
                            anneal_strategy="linear", base_momentum=base_momentum,
                            max_momentum=max_momentum, div_factor=4.0, final_div_factor=5.0,
                            **keywords)


def sgd(lr=0.1):
    return optim.SGD([tc.Value(np.zeros(2))], lr=lr, momentum=0.9)


def adam(lr=0.1):
    return optim.Adam([tc.Value(np.zeros(2))], lr=lr)


def momentum_of(optimizer):
    """The momentum a batch schedule cycles: Adam's betas[0], SGD's momentum."""
    return optimizer.betas[0] if isinstance(optimizer, optim.Adam) else optimizer.momentum


def run(scheduler, steps):
    """(lr, momentum) of the optimizer now and after each of `steps` scheduler.step()s."""
    return cyclic_run(scheduler, steps, momentum_of)


LISTS_OF_ONE = [
    ("max_lr", {"max_lr": [1.0]}),
    ("base_momentum", {"base_momentum": [0.85]}),
    ("max_momentum", {"max_momentum": (0.95,)}),
    ("all three", {"max_lr": (1.0,), "base_momentum": [0.85], "max_momentum": [0.95]}),
]


@pytest.mark.parametrize("make_optimizer", [sgd, adam], ids=["SGD", "Adam"])
@pytest.mark.parametrize("name, lists", LISTS_OF_ONE, ids=[c[0] for c in LISTS_OF_ONE])
def test_one_cycle_lists_of_one_are_the_plain_values(make_optimizer, name, lists):
    plain = run(one_cycle(make_optimizer()), ONE_CYCLE_STEPS)
    np.testing.assert_allclose([lr for lr, _ in plain], ONE_CYCLE_LRS, rtol=1e-14)
    np.testing.assert_allclose([m for _, m in plain], ONE_CYCLE_MOMENTA, rtol=1e-14)
    listed = one_cycle(make_optimizer(), **lists)
    assert run(listed, ONE_CYCLE_STEPS) == plain              # float for float
    settings = listed.state_dict()["settings"]                # plain numbers, as saved
    assert (settings["max_lr"], settings["base_momentum"], settings["max_momentum"]) == (
        (1.0,), (0.85,), (0.95,))                            # one per param group


def test_one_cycle_list_of_one_resumes_from_its_state_dict():
    whole = run(one_cycle(sgd(), max_lr=[1.0]), ONE_CYCLE_STEPS)
    first = one_cycle(sgd(), max_lr=[1.0])
    run(first, 4)
    resumed = one_cycle(sgd(), max_lr=[1.0])
    resumed.load_state_dict(first.state_dict())
    assert run(resumed, ONE_CYCLE_STEPS - 4) == whole[4:]


def test_cyclic_lr_lists_of_one_are_the_plain_values():
    """CyclicLR(base_lr=0.1, max_lr=0.5, step_size_up=2) by hand: 0.1, 0.3, 0.5, 0.3, 0.1, ...;
    the momentum 0.9, 0.85, 0.8, 0.85, 0.9, ..."""
    plain = run(optim.CyclicLR(sgd(), 0.1, 0.5, 2), 8)
    np.testing.assert_allclose([lr for lr, _ in plain], [0.1, 0.3, 0.5, 0.3] * 2 + [0.1],
                               rtol=1e-15)
    np.testing.assert_allclose([m for _, m in plain], [0.9, 0.85, 0.8, 0.85] * 2 + [0.9],
                               rtol=1e-15)
    listed = optim.CyclicLR(sgd(), [0.1], (0.5,), 2, base_momentum=[0.8], max_momentum=[0.9])
    assert run(listed, 8) == plain


def test_reduce_lr_on_plateau_min_lr_list_of_one_is_the_plain_value():
    def lrs(min_lr):
        optimizer = sgd(1.0)
        scheduler = optim.ReduceLROnPlateau(optimizer, factor=0.5, patience=0, min_lr=min_lr)
        seen = [optimizer.lr]
        for _ in range(5):
            scheduler.step(1.0)          # no improvement after the first: halved, down to 0.3
            seen.append(optimizer.lr)
        return seen

    assert lrs(0.3) == [1.0, 1.0, 0.5, 0.3, 0.3, 0.3]
    assert lrs([0.3]) == lrs((0.3,)) == lrs(0.3)


def fresh_one_cycle(**keywords):
    return one_cycle(sgd(), **keywords)


def fresh_cyclic(**keywords):
    return optim.CyclicLR(sgd(), **{"base_lr": 0.01, "max_lr": 0.1, **keywords})


def fresh_plateau(**keywords):
    return optim.ReduceLROnPlateau(sgd(), **keywords)


# owner, make(**keywords) of a fresh schedule, the argument, and a list of two
REFUSED = [
    ("OneCycleLR", fresh_one_cycle, "max_lr", [1.0, 0.5]),
    ("OneCycleLR", fresh_one_cycle, "base_momentum", [0.85, 0.8]),
    ("OneCycleLR", fresh_one_cycle, "max_momentum", (0.95, 0.9)),
    ("CyclicLR", fresh_cyclic, "base_lr", [0.01, 0.02]),
    ("CyclicLR", fresh_cyclic, "max_lr", [0.1, 0.2]),
    ("CyclicLR", fresh_cyclic, "base_momentum", [0.8, 0.7]),
    ("CyclicLR", fresh_cyclic, "max_momentum", [0.9, 0.95]),
    ("ReduceLROnPlateau", fresh_plateau, "min_lr", [0.0, 1e-3]),
]


@pytest.mark.parametrize("length", [0, 2])
@pytest.mark.parametrize("owner, make, name, pair", REFUSED,
                         ids=[f"{c[0]} {c[2]}" for c in REFUSED])
def test_lists_of_other_lengths_are_refused_and_the_fix_runs(owner, make, name, pair, length):
    values = type(pair)(pair[:length])
    message = (rf"{owner}: {name} is a {type(pair).__name__} of {length} values but the "
               rf"optimizer has one param group; expected one value for every group, or a list "
               rf"of one per group \(as PyTorch takes it\); pass e.g. {name}=(\S+)$")
    with pytest.raises(ValueError, match=message) as error:
        make(**{name: values})
    # the fix the message suggests: one value
    suggested = float(re.search(message, str(error.value)).group(1))
    scheduler = make(**{name: suggested})
    if name == "base_lr":
        assert scheduler.base_lrs == [suggested]
    else:
        assert getattr(scheduler, name) == (suggested,)      # one per param group
    if owner == "ReduceLROnPlateau":
        scheduler.step(1.0)
    else:
        run(scheduler, 3)


def test_one_cycle_momentum_lists_are_checked_without_momentum_cycling():
    """PyTorch does not look at base_momentum and max_momentum with cycle_momentum=False; here
    they are checked all the same, so that a mistake does not wait for cycle_momentum=True."""
    with pytest.raises(ValueError, match=r"OneCycleLR: base_momentum is a list of 2 values"):
        fresh_one_cycle(base_momentum=[0.85, 0.8], cycle_momentum=False)
    plain = run(fresh_one_cycle(cycle_momentum=False), ONE_CYCLE_STEPS)
    listed = run(fresh_one_cycle(base_momentum=[0.85], cycle_momentum=False), ONE_CYCLE_STEPS)
    assert listed == plain
    assert {m for _, m in plain} == {0.9}               # SGD's own momentum, left alone
