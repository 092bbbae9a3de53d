"""PyTorch's `last_epoch` argument of every schedule that has one: -1 by keyword or in PyTorch's
position is the same schedule as no last_epoch; any other value is refused with an error whose
fix (a fresh schedule, then load_state_dict) resumes the schedule; LambdaLR takes a list of one
lr_lambda. The signatures against PyTorch's are in tests/torch_oracle/test_schedulers_torch.py."""

import re

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import optim

EPOCHS = 8


def sgd(lr=0.1):
    return optim.SGD([tc.Value(np.zeros(2))], lr=lr, momentum=0.9)


def sequence_args(optimizer):
    return ([optim.LinearLR(optimizer, 0.25, 1.0, 3), optim.ExponentialLR(optimizer, 0.5)],
            [3])


# name, args(optimizer): every argument before last_epoch, positional, so that -1 can follow
CASES = [
    ("StepLR", lambda opt: (2, 0.5)),
    ("CosineAnnealingLR", lambda opt: (6, 0.01)),
    ("ExponentialLR", lambda opt: (0.8,)),
    ("MultiStepLR", lambda opt: ([2, 5], 0.3)),
    ("LambdaLR", lambda opt: (lambda epoch: 1 / (epoch + 1),)),
    ("MultiplicativeLR", lambda opt: (lambda epoch: 0.9 if epoch % 2 else 0.5,)),
    ("LinearLR", lambda opt: (0.25, 1.0, 4)),
    ("ConstantLR", lambda opt: (0.5, 3)),
    ("PolynomialLR", lambda opt: (6, 2.0)),
    ("CosineAnnealingWarmRestarts", lambda opt: (3, 2, 0.01)),
    ("OneCycleLR", lambda opt: (1.0, None, 2, 5, 0.3, "cos", True, 0.85, 0.95, 25.0, 1e4,
                                False)),
    ("CyclicLR", lambda opt: (0.01, 0.1, 2, 3, "triangular2", 1.0, None, "cycle", True, 0.8,
                              0.9)),
    ("SequentialLR", sequence_args),
]
IDS = [name for name, _ in CASES]


def lrs(scheduler, steps):
    """The optimizer's lr now and after each of `steps` scheduler.step()s."""
    seen = [scheduler.optimizer.lr]
    for _ in range(steps):
        scheduler.step()
        seen.append(scheduler.optimizer.lr)
    return seen


def made(name, args, **keywords):
    """The schedule `name` on a fresh SGD, from args(optimizer) and keywords."""
    optimizer = sgd()
    return getattr(optim, name)(optimizer, *args(optimizer), **keywords)


@pytest.mark.parametrize("name, args", CASES, ids=IDS)
def test_last_epoch_minus_1_is_the_schedule_without_it(name, args):
    expected = lrs(made(name, args), EPOCHS)
    assert len(set(expected)) > 1                       # the schedule does change the lr
    by_keyword = lrs(made(name, args, last_epoch=-1), EPOCHS)
    optimizer = sgd()
    positional = lrs(getattr(optim, name)(optimizer, *args(optimizer), -1), EPOCHS)
    assert by_keyword == positional == expected


def test_last_epoch_minus_1_values_by_hand():
    """Two of them against values worked out by hand, not only against each other."""
    step = optim.StepLR(sgd(1.0), 2, 0.5, -1)
    assert lrs(step, 5) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    line = optim.LinearLR(sgd(1.0), 0.25, 1.0, 3, last_epoch=-1)
    np.testing.assert_allclose(lrs(line, 4), [0.25, 0.5, 0.75, 1.0, 1.0], rtol=1e-15)


@pytest.mark.parametrize("last_epoch", [0, 3, -2, True, 2.5, "-1"])
@pytest.mark.parametrize("name, args", CASES, ids=IDS)
def test_last_epoch_other_than_minus_1_is_refused_and_the_fix_resumes(name, args, last_epoch):
    message = (rf"{name}: last_epoch is {re.escape(repr(last_epoch))}; expected -1, a fresh "
               rf"schedule \(PyTorch resumes from last_epoch with the 'initial_lr' it keeps in "
               rf"the optimizer, which tinygrad_cnn optimizers do not have\); to resume, make "
               rf"the schedule with last_epoch=-1, then call "
               rf"scheduler.load_state_dict\(saved_state_dict\)")
    with pytest.raises(ValueError, match=message):
        made(name, args, last_epoch=last_epoch)
    # the fix: a fresh schedule (last_epoch=-1), then the saved state dict
    expected = lrs(made(name, args), EPOCHS)
    first = made(name, args)
    before = lrs(first, 3)
    saved_state_dict = first.state_dict()
    resumed = made(name, args, last_epoch=-1)
    resumed.load_state_dict(saved_state_dict)
    assert resumed.last_epoch == 3
    assert before + lrs(resumed, EPOCHS - 3)[1:] == expected


def test_lambda_lr_takes_a_list_of_one_function():
    factor = lambda epoch: 0.5 ** epoch + 0.1          # noqa: E731
    expected = lrs(optim.LambdaLR(sgd(1.0), factor), EPOCHS)
    assert expected[:3] == [1.1, 0.6, 0.35]
    assert lrs(optim.LambdaLR(sgd(1.0), [factor]), EPOCHS) == expected
    assert lrs(optim.LambdaLR(sgd(1.0), (factor,), -1), EPOCHS) == expected


@pytest.mark.parametrize("name, example", [("LambdaLR", "0.95 \\*\\* epoch"),
                                           ("MultiplicativeLR", "0.95")])
def test_a_list_of_two_functions_is_refused_for_one_group(name, example):
    schedule = getattr(optim, name)
    with pytest.raises(ValueError, match=rf"{name}: lr_lambda is a list of 2 values but the "
                                         rf"optimizer has one param group; expected one value "
                                         rf"for every group, or a list of one per group \(as "
                                         rf"PyTorch takes it\); pass e.g. lr_lambda=lambda "
                                         rf"epoch: {example}$"):
        schedule(sgd(), [lambda epoch: 1.0, lambda epoch: 0.5])


def test_lambda_lr_refuses_lists_that_hold_no_one_function():
    with pytest.raises(ValueError, match=r"LambdaLR: lr_lambda is a list of 0 values"):
        optim.LambdaLR(sgd(), [])
    with pytest.raises(TypeError, match=r"LambdaLR: lr_lambda is float 0.5; expected a function "
                                        r"of the epoch"):
        optim.LambdaLR(sgd(), [0.5])
