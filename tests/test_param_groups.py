"""Param groups: an optimizer made from dicts, one per group, each with "params" and its own
hyperparameters (the rest the constructor's); param_groups, defaults and add_param_group as
PyTorch's; the checks of groups and their messages; `optimizer.lr` and the other hyperparameter
attributes over the groups; frozen parameters in a group; state dicts in PyTorch's layout, saved
and resumed, and those of earlier versions ("hyperparameters", "base_lr") loaded as one group;
LBFGS's refusal of a second group; schedules over two groups, each from its own lr. PyTorch's
values for every optimizer and schedule are in tests/torch_oracle/test_param_groups_torch.py."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim


def values(*shapes):
    return [tc.Value(np.ones(shape)) for shape in shapes]


def two_groups(**defaults):
    """SGD over a (2,) and b (3,), b in a group with lr 0.01; a's group has the defaults."""
    a, b = values(2, 3)
    optimizer = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}],
                          **{"lr": 0.1, **defaults})
    return optimizer, a, b


def test_groups_hold_every_hyperparameter_their_own_or_the_constructors():
    optimizer, a, b = two_groups(momentum=0.9)
    assert optimizer.defaults == {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0,
                                  "dampening": 0.0, "nesterov": False, "maximize": False}
    assert [group["params"] for group in optimizer.param_groups] == [[a], [b]]
    assert optimizer.param_groups[0] == {"params": [a], **optimizer.defaults}
    assert optimizer.param_groups[1] == {"params": [b], **optimizer.defaults, "lr": 0.01}
    assert optimizer.params == [a, b]


def test_each_group_steps_with_its_own_hyperparameters():
    optimizer, a, b = two_groups(momentum=0.5)
    for _ in range(2):
        a.grad, b.grad = np.ones(2), np.ones(3)
        optimizer.step()
    # momentum buffers 1 then 1.5: p = 1 - lr * (1 + 1.5)
    np.testing.assert_allclose(a.data, 1 - 0.1 * 2.5, rtol=1e-15)
    np.testing.assert_allclose(b.data, 1 - 0.01 * 2.5, rtol=1e-15)
    assert sorted(optimizer.state) == [0, 1]             # numbered over the groups in order


def test_a_groups_params_may_be_a_generator_or_one_value_as_in_pytorch():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    weight = model[2].weight
    optimizer = optim.Adam([{"params": model[0].parameters(), "weight_decay": 0.1},
                            {"params": weight, "betas": [0.5, 0.6]}], lr=0.01)
    assert [len(group["params"]) for group in optimizer.param_groups] == [2, 1]
    assert optimizer.param_groups[1]["params"] == [weight]
    assert optimizer.param_groups[1]["betas"] == (0.5, 0.6)        # checked, as a tuple
    assert optimizer.param_groups[0]["weight_decay"] == 0.1
    assert optimizer.param_groups[1]["weight_decay"] == 0.0


def test_no_weight_decay_on_biases():
    model = nn.Linear(2, 2)
    model.weight.data[...] = 1.0
    model.bias.data[...] = 1.0
    optimizer = optim.AdamW([{"params": [model.weight]},
                             {"params": [model.bias], "weight_decay": 0.0}], lr=0.1,
                            weight_decay=0.5)
    model.weight.grad, model.bias.grad = np.zeros((2, 2)), np.zeros(2)
    optimizer.step()                      # zero gradients: only the decay moves a parameter
    np.testing.assert_allclose(model.weight.data, 1 - 0.1 * 0.5, rtol=1e-7)    # float32
    np.testing.assert_array_equal(model.bias.data, 1.0)


@pytest.mark.parametrize("params, error, message", [
    ([{"params": values(2), "momentun": 0.9}], ValueError,
     r"SGD: param group 0 has unknown key\(s\) \['momentun'\]; expected 'params' and any of the "
     r"SGD hyperparameters lr, momentum, weight_decay, dampening, nesterov"),
    ([{"lr": 0.1}], ValueError,
     r"SGD: param group 0 has keys \['lr'\] but no 'params'; expected a dict with 'params', the "
     r"group's Values, and any of lr, momentum, .* to override, e.g. \{\"params\": "
     r"model.classifier.parameters\(\), \"lr\": 1e-3\}"),
    ([{"params": values(2)}, {"params": []}], ValueError,
     r"SGD: param group 1: got an empty list of parameters; expected at least one Value"),
    ([{"params": values(2)}, values(3)[0]], TypeError,
     r"SGD: params mixes dicts and other items; expected either Values \(one group\) or dicts"),
    ([{"params": values(2)}, [1, 2]], TypeError, r"SGD: params mixes dicts and other items"),
    ([{"params": values(2), "lr": -1.0}], ValueError,
     r"^SGD: lr is -1.0; expected a number in \[0.0, inf\)$"),       # the constructor's message
    ([{"params": values(2), "nesterov": True}], ValueError,
     r"^SGD: nesterov=True with momentum=0.0 and dampening=0.0; expected momentum > 0"),
    ([{"params": [1.0]}], TypeError,
     r"SGD: param group 0: parameter 0 is a float; expected a Value"),
    ({"params": values(2)}, TypeError,
     r"SGD: params is a dict; expected an iterable of Values, e.g. model.parameters\(\), or of "
     r"dicts, one per param group"),
])
def test_group_errors_say_what_was_wrong_and_what_to_pass(params, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(params, lr=0.1)


def test_a_value_in_two_groups_is_refused():
    a, b = values(2, 3)
    with pytest.raises(ValueError, match=r"SGD: param group 1: parameter 1 \(shape \(2,\)\) is "
                                         r"in param group 0 already; expected each parameter in "
                                         r"one group only, as in PyTorch; leave it out of one"):
        optim.SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)
    optimizer = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match=r"param group 1: parameter 0 .* is in param group 0"):
        optimizer.add_param_group({"params": [a]})
    assert len(optimizer.param_groups) == 1                 # the error changed nothing


def test_add_param_group_takes_the_defaults_and_numbers_on():
    a, b = values(2, 3)
    optimizer = optim.SGD([a], lr=0.1, momentum=0.9)
    a.grad = np.ones(2)
    optimizer.step()
    optimizer.add_param_group({"params": [b], "lr": 0.5})
    assert optimizer.param_groups[1] == {**optimizer.defaults, "params": [b], "lr": 0.5}
    a.grad, b.grad = np.ones(2), np.ones(3)
    optimizer.step()
    np.testing.assert_allclose(b.data, 1 - 0.5, rtol=1e-15)       # its first momentum step
    assert sorted(optimizer.state) == [0, 1]
    with pytest.raises(TypeError, match=r"SGD: param group 2 is a list; expected a dict with "
                                        r"'params' and any of lr, momentum"):
        optimizer.add_param_group([tc.Value(np.ones(1))])


def test_hyperparameter_attributes_read_and_set_every_group():
    optimizer, a, b = two_groups(momentum=0.9)
    assert optimizer.momentum == 0.9                        # the same in every group
    with pytest.raises(ValueError, match=r"SGD.lr: the 2 param groups hold different values "
                                         r"\[0.1, 0.01\]; expected one value to read as "
                                         r"optimizer.lr; read a group's, "
                                         r"optimizer.param_groups\[i\]\['lr'\]"):
        _ = optimizer.lr
    optimizer.lr = 0.2                                      # sets every group's
    assert [group["lr"] for group in optimizer.param_groups] == [0.2, 0.2]
    assert optimizer.lr == 0.2 and optimizer.defaults["lr"] == 0.1
    with pytest.raises(AttributeError, match=r"'SGD' object has no attribute 'betas'"):
        _ = optimizer.betas
    assert not hasattr(optimizer, "betas")


def test_frozen_parameters_in_a_group_are_left_alone():
    a, b, c = values(2, 3, 4)
    b.requires_grad = False
    optimizer = optim.Adam([{"params": [a, b], "lr": 0.5}, {"params": [c]}], lr=0.1)
    a.grad, c.grad = np.ones(2), np.ones(4)
    optimizer.step()
    # Adam's first step is lr * g / (|g| + eps): lr, to eps
    np.testing.assert_allclose(a.data, 1 - 0.5, rtol=1e-7)
    np.testing.assert_array_equal(b.data, 1.0)
    np.testing.assert_allclose(c.data, 1 - 0.1, rtol=1e-7)
    assert sorted(optimizer.state_dict()["state"]) == ["0", "2"]     # b (1) has none


def test_lbfgs_refuses_a_second_group_as_pytorch():
    a, b = values(2, 3)
    message = (r"LBFGS: got a second param group; LBFGS doesn't support per-parameter options "
               r"\(parameter groups\), as PyTorch's: it keeps one flat history")
    with pytest.raises(ValueError, match=message):
        optim.LBFGS([{"params": [a]}, {"params": [b], "lr": 0.5}])
    optimizer = optim.LBFGS([{"params": [a, b], "lr": 0.5}])          # one group is fine
    assert optimizer.lr == 0.5
    with pytest.raises(ValueError, match=message):
        optimizer.add_param_group({"params": [tc.Value(np.ones(1))]})


def run(make, params, grads):
    optimizer = make(params)
    for grad in grads:
        for param, g in zip(params, grad, strict=True):
            param.grad = g.copy()
        optimizer.step()
    return optimizer


def make_adam(params):
    return optim.Adam([{"params": params[:1]},
                       {"params": params[1:], "lr": 0.05, "betas": (0.5, 0.6),
                        "amsgrad": True}], lr=0.01)


def test_state_dict_is_pytorchs_layout_and_resumes_bit_identically(rng, tmp_path):
    grads = [[rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal(4)]
             for _ in range(6)]
    whole = values(2, 3, 4)
    run(make_adam, whole, grads)
    part = values(2, 3, 4)
    saved = run(make_adam, part, grads[:3]).state_dict()
    assert saved["type"] == "Adam" and sorted(saved) == ["param_groups", "state", "type"]
    assert saved["param_groups"] == [
        {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
         "maximize": False, "decoupled_weight_decay": False, "params": [0]},
        {"lr": 0.05, "betas": (0.5, 0.6), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True,
         "maximize": False, "decoupled_weight_decay": False, "params": [1, 2]}]
    assert sorted(saved["state"]) == ["0", "1", "2"] and "max_exp_avg_sq" in saved["state"]["2"]
    tc.save({"optimizer": saved}, tmp_path / "checkpoint.npz")
    resumed = optim.Adam([{"params": part[:1]}, {"params": part[1:]}])       # the defaults
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["optimizer"])
    assert resumed.param_groups[1]["betas"] == (0.5, 0.6) and resumed.param_groups[1]["amsgrad"]
    for grad in grads[3:]:
        for param, g in zip(part, grad, strict=True):
            param.grad = g.copy()
        resumed.step()
    for a, b in zip(part, whole, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_state_dict_checks_the_groups_and_restores_nothing_when_wrong():
    params = values(2, 3, 4)
    saved = make_adam(params).state_dict()
    one_group = optim.Adam(params)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: param_groups is 2 groups; "
                                         r"expected a list of 1 dicts, each with 'params', as "
                                         r"this optimizer has 1 param groups"):
        one_group.load_state_dict(saved)
    other_sizes = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    with pytest.raises(ValueError, match=r"param group 0 holds 1 parameters but this "
                                         r"optimizer's group 0 holds 2; expected the state dict "
                                         r"of the same optimizer over the same parameters, in "
                                         r"the same groups"):
        other_sizes.load_state_dict(saved)
    target = optim.Adam([{"params": params[:1]}, {"params": params[1:]}], lr=0.3)
    bad = {**saved, "param_groups": [saved["param_groups"][0],
                                     {**saved["param_groups"][1], "eps": -1.0}]}
    with pytest.raises(ValueError, match=r"Adam: eps is -1.0; expected a number in \[0.0, inf\)"):
        target.load_state_dict(bad)
    assert target.lr == 0.3                                # nothing restored
    del bad["param_groups"][1]["eps"]
    with pytest.raises(ValueError, match=r"param group 1 has hyperparameters .*; expected the "
                                         r"keys lr, betas, eps, weight_decay, amsgrad"):
        target.load_state_dict(bad)


def earlier_format(state_dict):
    """A one-group optimizer state dict as earlier versions wrote it: one "hyperparameters"."""
    (group,) = state_dict["param_groups"]
    return {"type": state_dict["type"], "state": state_dict["state"],
            "hyperparameters": {key: value for key, value in group.items() if key != "params"}}


def test_checkpoints_of_earlier_versions_still_resume(rng, tmp_path):
    """An earlier version's checkpoint (optimizer "hyperparameters", scheduler "base_lr" and
    "last_lr") resumes training and schedule exactly; on two groups it is refused, saying why."""
    grads = [[rng.standard_normal(2), rng.standard_normal(3)] for _ in range(6)]
    whole = values(2, 3)
    optimizer = optim.SGD(whole, lr=0.1, momentum=0.9)
    scheduler = optim.StepLR(optimizer, step_size=2, gamma=0.5)
    for grad in grads:
        for param, g in zip(whole, grad, strict=True):
            param.grad = g.copy()
        optimizer.step()
        scheduler.step()
    part = values(2, 3)
    optimizer = optim.SGD(part, lr=0.1, momentum=0.9)
    scheduler = optim.StepLR(optimizer, step_size=2, gamma=0.5)
    for grad in grads[:3]:
        for param, g in zip(part, grad, strict=True):
            param.grad = g.copy()
        optimizer.step()
        scheduler.step()
    schedule = scheduler.state_dict()
    old_schedule = {"type": "StepLR", "settings": schedule["settings"],
                    "base_lr": schedule["base_lrs"][0], "last_epoch": schedule["last_epoch"],
                    "last_lr": schedule["last_lrs"][0]}
    tc.save({"optimizer": earlier_format(optimizer.state_dict()), "scheduler": old_schedule},
            tmp_path / "checkpoint.npz")
    checkpoint = tc.load(tmp_path / "checkpoint.npz")
    optimizer = optim.SGD(part, lr=0.1, momentum=0.9)
    scheduler = optim.StepLR(optimizer, step_size=2, gamma=0.5)
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert scheduler.get_last_lr() == [0.05] and optimizer.lr == 0.05
    for grad in grads[3:]:
        for param, g in zip(part, grad, strict=True):
            param.grad = g.copy()
        optimizer.step()
        scheduler.step()
    for a, b in zip(part, whole, strict=True):
        np.testing.assert_array_equal(a.data, b.data)

    two, _, _ = two_groups()
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: the state dict holds one set of "
                                         r"'hyperparameters' \(one group, the format of earlier "
                                         r"versions\) but this optimizer has 2 param groups"):
        two.load_state_dict(checkpoint["optimizer"])
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: the state dict holds one "
                                         r"base_lr and last_lr \(one group, the format of earlier "
                                         r"versions\) but the optimizer has 2 param groups"):
        optim.StepLR(two, step_size=2).load_state_dict(checkpoint["scheduler"])


def test_schedules_run_every_group_from_its_own_lr():
    optimizer, _, _ = two_groups(momentum=0.9)
    scheduler = optim.StepLR(optimizer, step_size=1, gamma=0.5)
    assert scheduler.base_lrs == [0.1, 0.01] and scheduler.get_last_lr() == [0.1, 0.01]
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 0.005]
    assert [group["lr"] for group in optimizer.param_groups] == [0.05, 0.005]
    saved = scheduler.state_dict()
    assert (saved["base_lrs"], saved["last_lrs"]) == ([0.1, 0.01], [0.05, 0.005])
    optimizer, _, _ = two_groups(momentum=0.9)
    resumed = optim.StepLR(optimizer, step_size=1, gamma=0.5)
    resumed.load_state_dict(saved)
    assert [group["lr"] for group in optimizer.param_groups] == [0.05, 0.005]
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: last_lrs is \[0.05\]; "
                                         r"expected a list of 2 lrs, one per param group"):
        resumed.load_state_dict({**saved, "last_lrs": [0.05]})


def test_settings_one_per_group_take_a_list_or_one_value_for_all():
    optimizer, _, _ = two_groups()
    scheduler = optim.LambdaLR(optimizer, [lambda epoch: 0.5 ** epoch, lambda epoch: epoch + 1])
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 0.02]
    optimizer, _, _ = two_groups()
    scheduler = optim.LambdaLR(optimizer, lambda epoch: 0.5 ** epoch)    # one for both
    scheduler.step()
    assert scheduler.get_last_lr() == [0.05, 0.005]
    with pytest.raises(ValueError, match=r"LambdaLR: lr_lambda is a list of 3 values but the "
                                         r"optimizer has 2 param groups; expected one value for "
                                         r"every group, or a list of one per group"):
        optim.LambdaLR(optimizer, [lambda epoch: 1.0] * 3)
    plateau = optim.ReduceLROnPlateau(optimizer, factor=0.1, patience=0, min_lr=[0.01, 0.0])
    assert plateau.min_lr == (0.01, 0.0)
    for metric in (1.0, 2.0, 2.0):
        plateau.step(metric)
    assert plateau.get_last_lr() == pytest.approx([0.01, 0.0005 * 0.1], rel=1e-12)


def test_cycling_schedules_cycle_every_groups_own_momentum():
    optimizer, _, _ = two_groups(momentum=0.9)
    scheduler = optim.CyclicLR(optimizer, base_lr=[0.1, 0.01], max_lr=[0.5, 0.05],
                               step_size_up=2, base_momentum=[0.8, 0.5],
                               max_momentum=[0.9, 0.7])
    assert [group["momentum"] for group in optimizer.param_groups] == [0.9, 0.7]
    scheduler.step()
    assert scheduler.get_last_lr() == pytest.approx([0.3, 0.03], rel=1e-15)
    assert [group["momentum"] for group in optimizer.param_groups] == pytest.approx([0.85, 0.6])
    nesterov = optim.SGD([{"params": values(2)}, {"params": values(2), "nesterov": True}],
                         lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"OneCycleLR: cycle_momentum=True would set the momentum "
                                         r"of SGD with nesterov=True \(param group 1\) to 0.0"):
        optim.OneCycleLR(nesterov, max_lr=0.1, total_steps=10, base_momentum=[0.85, 0.0])
    optim.OneCycleLR(nesterov, max_lr=0.1, total_steps=10, base_momentum=[0.0, 0.85])


def earlier_schedule(state):
    """A one-group schedule's state dict as earlier versions wrote it: one base_lr and last_lr,
    settings taken one per group (max_lr, min_lr, the momenta) as plain numbers."""
    earlier = {key: value for key, value in state.items() if key not in ("base_lrs", "last_lrs")}
    earlier.update(base_lr=state["base_lrs"][0], last_lr=state["last_lrs"][0])
    earlier["settings"] = {key: value[0] if isinstance(value, tuple) and len(value) == 1
                           and key != "milestones" else value
                           for key, value in state["settings"].items()}
    if "schedulers" in state:
        earlier["schedulers"] = [earlier_schedule(inner) for inner in state["schedulers"]]
    return earlier


EARLIER = [
    ("StepLR", lambda opt: optim.StepLR(opt, step_size=2, gamma=0.5), lambda s: s.step()),
    ("ReduceLROnPlateau", lambda opt: optim.ReduceLROnPlateau(opt, patience=0, min_lr=0.01),
     lambda s: s.step(1.0)),
    ("OneCycleLR", lambda opt: optim.OneCycleLR(opt, max_lr=0.5, total_steps=10),
     lambda s: s.step()),
    ("SequentialLR", lambda opt: optim.SequentialLR(
        opt, [optim.LinearLR(opt, 0.1, total_iters=2), optim.ExponentialLR(opt, 0.9)],
        milestones=[2]), lambda s: s.step()),
    ("ChainedScheduler", lambda opt: optim.ChainedScheduler(
        [optim.ConstantLR(opt, 0.5, total_iters=2), optim.ExponentialLR(opt, 0.9)]),
     lambda s: s.step()),
]


@pytest.mark.parametrize("name, make, step", EARLIER, ids=[e[0] for e in EARLIER])
def test_schedule_state_dicts_of_earlier_versions_load_on_one_group(name, make, step):
    def fresh():
        optimizer = optim.SGD(values(2), lr=0.1, momentum=0.9)
        return optimizer, make(optimizer)

    whole_optimizer, whole = fresh()
    lrs = []
    for _ in range(6):
        step(whole)
        lrs.append(whole_optimizer.lr)
    _, first = fresh()
    for _ in range(3):
        step(first)
    optimizer, resumed = fresh()
    resumed.load_state_dict(earlier_schedule(first.state_dict()))
    assert resumed.state_dict() == first.state_dict()
    resumed_lrs = []
    for _ in range(3):
        step(resumed)
        resumed_lrs.append(optimizer.lr)
    assert resumed_lrs == lrs[3:]
