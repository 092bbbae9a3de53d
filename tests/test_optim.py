"""Tests of tinygrad_cnn.optim: SGD, Adam, AdamW, RMSprop and Adagrad updates, every option
(maximize too), against numpy formulas written out here, frozen parameters, state dicts that resume
bit-identically, the learning-rate schedules, argument errors. The same updates against PyTorch
are in tests/torch_oracle/test_optimizers.py, the schedules' sequences in
tests/torch_oracle/test_layers.py (StepLR, CosineAnnealingLR) and
tests/torch_oracle/test_schedulers_torch.py (the others), their last_epoch argument in
tests/test_scheduler_last_epoch.py."""

import math
import re

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim


def run(optimizer_class, w0, grads, **hyperparameters):
    """Parameter data after one step per gradient in grads (grads set by hand, float64)."""
    param = tc.Value(w0.copy())
    optimizer = optimizer_class([param], **hyperparameters)
    for grad in grads:
        param.grad = grad.copy()
        optimizer.step()
    return param.data


def check_by_hand(rng, optimizer_class, by_hand, shape, steps, lr, settings, tolerance):
    """The optimizer's parameter after `steps` random gradients equals by_hand's formula."""
    w0, grads = rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(steps)]
    np.testing.assert_allclose(run(optimizer_class, w0, grads, lr=lr, **settings),
                               by_hand(w0, grads, lr, **settings), rtol=tolerance,
                               atol=tolerance)


@pytest.fixture
def problem(rng):
    """A starting point and three gradients, float64."""
    return rng.standard_normal((3, 4)), [rng.standard_normal((3, 4)) for _ in range(3)]


def test_sgd_plain_steps(problem):
    w0, (g1, g2, g3) = problem
    np.testing.assert_allclose(run(optim.SGD, w0, [g1, g2, g3], lr=0.1),
                               w0 - 0.1 * (g1 + g2 + g3), rtol=1e-14, atol=1e-14)


def test_sgd_momentum_steps_unrolled(problem):
    w0, (g1, g2, g3) = problem
    lr, m = 0.1, 0.9
    # buffers: b1 = g1, b2 = m g1 + g2, b3 = m^2 g1 + m g2 + g3; w3 = w0 - lr (b1 + b2 + b3)
    expected = w0 - lr * (g1 + (m * g1 + g2) + (m * m * g1 + m * g2 + g3))
    np.testing.assert_allclose(run(optim.SGD, w0, [g1, g2, g3], lr=lr, momentum=m), expected,
                               rtol=1e-14, atol=1e-14)


def sgd_by_hand(w0, grads, lr, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False,
                maximize=False):
    """SGD's update written out: d = g + wd w (g = -g first with maximize); the buffer starts at
    d, then b = m b + (1 - damp) d; the step is d + m b with Nesterov momentum, else b (d without
    momentum)."""
    w, buf = w0.copy(), None
    for g in grads:
        d = (-g if maximize else g) + weight_decay * w
        if momentum:
            buf = d if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
    return w


SGD_SETTINGS = [dict(momentum=0.8, weight_decay=0.01),
                dict(momentum=0.8, dampening=0.3),
                dict(momentum=0.9, nesterov=True),
                dict(momentum=0.5, weight_decay=0.1, nesterov=True),
                dict(weight_decay=0.1, maximize=True),
                dict(momentum=0.8, dampening=0.3, weight_decay=0.1, maximize=True),
                dict(momentum=0.5, weight_decay=0.1, nesterov=True, maximize=True)]


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=str)
def test_sgd_momentum_dampening_nesterov_and_weight_decay_steps(rng, shape, settings):
    check_by_hand(rng, optim.SGD, sgd_by_hand, shape, 3, 0.05, settings, 1e-14)


def test_sgd_nesterov_first_step_looks_ahead(problem):
    w0, (g1, _, _) = problem
    # buf = g on the first step, so the step is g + m g: (1 + m) times plain SGD's
    result = run(optim.SGD, w0, [g1], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(result, w0 - 0.1 * 1.9 * g1, rtol=1e-14, atol=1e-14)


def adam_by_hand(w0, grads, lr, weight_decay, decoupled, b1=0.9, b2=0.999, eps=1e-8,
                 amsgrad=False, maximize=False):
    """Adam's update written out: weight decay added to g (Adam), or taken off w before the
    step with g left alone (AdamW, decoupled); with amsgrad the largest v so far replaces v;
    with maximize, g = -g before all that."""
    w, m, v, v_max = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat, v_hat = m / (1 - b1 ** t), (v_max if amsgrad else v) / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_steps(problem, weight_decay):
    w0, grads = problem
    result = run(optim.Adam, w0, grads, lr=0.01, weight_decay=weight_decay)
    np.testing.assert_allclose(result, adam_by_hand(w0, grads, 0.01, weight_decay, False),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adamw_steps_decay_the_weights_apart_from_the_gradient(rng, shape, weight_decay):
    w0, grads = rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(3)]
    lr = 0.01
    w = adam_by_hand(w0, grads, lr, weight_decay, True)
    result = run(optim.AdamW, w0, grads, lr=lr, weight_decay=weight_decay)
    np.testing.assert_allclose(result, w, rtol=1e-12, atol=1e-12)
    if weight_decay:    # unlike Adam's weight decay, which adds weight_decay * w to g
        assert not np.allclose(result, run(optim.Adam, w0, grads, lr=lr,
                                           weight_decay=weight_decay), rtol=1e-6, atol=0)
    else:
        np.testing.assert_array_equal(result, run(optim.Adam, w0, grads, lr=lr))


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("name, weight_decay", [("Adam", 0.0), ("Adam", 0.1), ("AdamW", 0.1)])
def test_amsgrad_steps(rng, shape, name, weight_decay):
    w0 = rng.standard_normal(shape)
    # large gradients, then small ones: v shrinks, so v_max and v part ways
    grads = [s * rng.standard_normal(shape) for s in (3.0, 3.0, 0.1, 0.1, 0.1)]
    result = run(getattr(optim, name), w0, grads, lr=0.01, betas=(0.5, 0.6),
                 weight_decay=weight_decay, amsgrad=True)
    expected = adam_by_hand(w0, grads, 0.01, weight_decay, name == "AdamW", b1=0.5, b2=0.6,
                            amsgrad=True)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    plain = adam_by_hand(w0, grads, 0.01, weight_decay, name == "AdamW", b1=0.5, b2=0.6)
    assert not np.allclose(result, plain, rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("name, settings", [("Adam", dict(weight_decay=0.1)),
                                            ("Adam", dict(weight_decay=0.1, amsgrad=True)),
                                            ("AdamW", dict(weight_decay=0.1)),
                                            ("AdamW", dict(weight_decay=0.1, amsgrad=True))],
                         ids=str)
def test_adam_and_adamw_maximize_steps(rng, shape, name, settings):
    w0, grads = rng.standard_normal(shape), [rng.standard_normal(shape) for _ in range(4)]
    result = run(getattr(optim, name), w0, grads, lr=0.01, betas=(0.5, 0.6), maximize=True,
                 **settings)
    expected = adam_by_hand(w0, grads, 0.01, settings["weight_decay"], name == "AdamW", b1=0.5,
                            b2=0.6, amsgrad=settings.get("amsgrad", False), maximize=True)
    np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-12)


def rmsprop_by_hand(w0, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False, maximize=False):
    """RMSprop's update written out: v = alpha v + (1 - alpha) g^2, divided into g as sqrt(v),
    or sqrt(v - a^2) with a the running mean of g (centered); momentum sums the steps; with
    maximize, g = -g first."""
    w, v, a, buf = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * w
        v = alpha * v + (1 - alpha) * g ** 2
        a = alpha * a + (1 - alpha) * g
        step = g / (np.sqrt(v - a ** 2 if centered else v) + eps)
        buf = momentum * buf + step
        w = w - lr * buf
    return w


RMSPROP_SETTINGS = [dict(), dict(alpha=0.9, eps=1e-6), dict(momentum=0.9),
                    dict(centered=True), dict(centered=True, momentum=0.5, weight_decay=0.1),
                    dict(weight_decay=0.1, maximize=True),
                    dict(centered=True, momentum=0.5, weight_decay=0.1, maximize=True)]


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("settings", RMSPROP_SETTINGS, ids=str)
def test_rmsprop_steps(rng, shape, settings):
    check_by_hand(rng, optim.RMSprop, rmsprop_by_hand, shape, 4, 0.01, settings, 1e-12)


def test_rmsprop_keeps_the_buffers_of_its_options(problem):
    w0, (g1, _, _) = problem
    for settings, names in [(dict(), {"step", "square_avg"}),
                            (dict(momentum=0.9), {"step", "square_avg", "momentum_buffer"}),
                            (dict(centered=True), {"step", "square_avg", "grad_avg"})]:
        p = tc.Value(w0.copy())
        optimizer = optim.RMSprop([p], **settings)
        p.grad = g1
        optimizer.step()
        assert set(optimizer.state[0]) == names
    # first step, defaults: v = 0.01 g^2, so the step is lr g / (0.1 |g| + eps) ~ 0.1 sign(g)
    np.testing.assert_allclose(run(optim.RMSprop, w0, [g1], eps=0.0), w0 - 0.1 * np.sign(g1),
                               rtol=1e-14, atol=1e-15)


def adagrad_by_hand(w0, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                    eps=1e-10, maximize=False):
    """Adagrad's update written out: the sum of all squared gradients so far (from
    initial_accumulator_value) divided into g as sqrt(sum), at lr / (1 + (t - 1) lr_decay);
    with maximize, g = -g first."""
    w, total = w0.copy(), np.full_like(w0, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * w
        total = total + g ** 2
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
    return w


ADAGRAD_SETTINGS = [dict(), dict(lr_decay=0.5), dict(initial_accumulator_value=0.3, eps=1e-6),
                    dict(lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=1.0),
                    dict(lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=1.0,
                         maximize=True)]


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("settings", ADAGRAD_SETTINGS, ids=str)
def test_adagrad_steps(rng, shape, settings):
    check_by_hand(rng, optim.Adagrad, adagrad_by_hand, shape, 4, 0.1, settings, 1e-12)


def test_adagrad_first_step_moves_each_weight_by_lr(problem):
    w0, (g1, _, _) = problem
    # sum = g^2 after one step: the update is lr * g / |g| = lr * sign(g)
    np.testing.assert_allclose(run(optim.Adagrad, w0, [g1], lr=0.1, eps=0.0),
                               w0 - 0.1 * np.sign(g1), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name, defaults", [
    ("SGD", dict(momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False,
                 maximize=False)),
    ("Adam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                  maximize=False, decoupled_weight_decay=False)),
    ("AdamW", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                   maximize=False, decoupled_weight_decay=True)),
    ("RMSprop", dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                     centered=False, maximize=False)),
    ("Adagrad", dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                     eps=1e-10, maximize=False)),
])
def test_defaults_are_pytorchs(name, defaults):
    settings = {"lr": 0.1} if name == "SGD" else {}
    optimizer = getattr(optim, name)([tc.Value(np.zeros(2))], **settings)
    assert optimizer.defaults == {**settings, **defaults}
    (group,) = optimizer.state_dict()["param_groups"]
    assert group == {**settings, **defaults, "params": [0]}


def test_adamw_default_weight_decay_is_pytorchs():
    assert optim.AdamW([tc.Value(np.zeros(2))]).weight_decay == 0.01


def test_adam_first_step_moves_each_weight_by_lr(problem):
    w0, (g1, _, _) = problem
    # after one step m_hat = g, v_hat = g^2: the update is lr * g / (|g| + eps) ~ lr * sign(g)
    result = run(optim.Adam, w0, [g1], lr=0.01, eps=0.0)
    np.testing.assert_allclose(result, w0 - 0.01 * np.sign(g1), rtol=1e-14, atol=1e-15)


MAXIMIZED = [("SGD", dict(lr=0.05)),
             ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=0.1)),
             ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1, nesterov=True)),
             ("Adam", dict(lr=0.05, weight_decay=0.1)),
             ("Adam", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1, amsgrad=True)),
             ("AdamW", dict(lr=0.05, weight_decay=0.1)),
             ("AdamW", dict(lr=0.05, betas=(0.5, 0.6), weight_decay=0.1, amsgrad=True)),
             ("RMSprop", dict(weight_decay=0.1)),
             ("RMSprop", dict(alpha=0.9, weight_decay=0.1, momentum=0.5, centered=True)),
             ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1,
                              initial_accumulator_value=0.5))]
MAXIMIZED_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in s.items())}" for n, s in MAXIMIZED]


@pytest.mark.parametrize("name, settings", MAXIMIZED, ids=MAXIMIZED_IDS)
def test_maximize_on_f_is_minimize_on_minus_f_step_by_step(rng, name, settings):
    """maximize=True with the gradients g of f takes, to the last bit, the steps that
    minimizing -f takes with the gradients -g: parameters and every buffer alike. Weight decay
    included, as it is added after the gradient is turned (it still pulls the weights to 0)."""
    w0 = rng.standard_normal((3, 4))
    up_param, down_param = tc.Value(w0.copy()), tc.Value(w0.copy())
    up = getattr(optim, name)([up_param], maximize=True, **settings)
    down = getattr(optim, name)([down_param], **settings)
    for step in range(5):
        g = rng.standard_normal((3, 4))
        up_param.grad, down_param.grad = g.copy(), -g
        up.step()
        down.step()
        np.testing.assert_array_equal(up_param.data, down_param.data, err_msg=f"step {step}")
    assert up.state[0].keys() == down.state[0].keys()
    for key, value in up.state[0].items():
        np.testing.assert_array_equal(value, down.state[0][key], err_msg=key)
    assert not np.allclose(up_param.data, w0)
    assert up.maximize is True and down.maximize is False


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, maximize=True),
                                  lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                                       maximize=True),
                                  lambda ps: optim.Adam(ps, lr=0.05, maximize=True),
                                  lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.0,
                                                         amsgrad=True, maximize=True),
                                  lambda ps: optim.RMSprop(ps, lr=0.01, maximize=True),
                                  lambda ps: optim.Adagrad(ps, lr=0.5, maximize=True)])
def test_maximize_climbs_to_the_top_of_a_hill(make):
    """Through backward, as in training: f(w) = -|w - top|^2 is highest at `top`, and each
    optimizer with maximize=True climbs there from 0 (minimizing f would run away from it)."""
    top = np.array([1.5, -0.5, 2.0])
    w = tc.Value(np.zeros(3))
    optimizer = make([w])
    heights = []
    for _ in range(400):
        optimizer.zero_grad()
        height = -((w - top) ** 2).sum()
        height.backward()
        optimizer.step()
        heights.append(height.item())
    np.testing.assert_allclose(w.data, top, atol=1e-2)
    assert heights[-1] > heights[0] == -float(top @ top)


@pytest.mark.parametrize("name, settings", MAXIMIZED[2::2], ids=MAXIMIZED_IDS[2::2])
def test_param_groups_mix_maximize_on_and_off(rng, name, settings):
    """A group that ascends beside one that descends: each steps as an optimizer of its own
    group alone, and the state dict carries each group's maximize and resumes both."""
    start = [rng.standard_normal(3), rng.standard_normal(2)]
    grads = [[rng.standard_normal(3), rng.standard_normal(2)] for _ in range(6)]
    make = getattr(optim, name)

    def steps(params, optimizers, which):
        for k in which:
            for param, g in zip(params, grads[k], strict=True):
                param.grad = g.copy()
            for optimizer in optimizers:
                optimizer.step()

    params = [tc.Value(w.copy()) for w in start]
    grouped = make([{"params": [params[0]], "maximize": True}, {"params": [params[1]]}],
                   **settings)
    assert [group["maximize"] for group in grouped.param_groups] == [True, False]
    steps(params, [grouped], range(3))
    alone = [tc.Value(w.copy()) for w in start]
    steps(alone, [make([alone[0]], maximize=True, **settings), make([alone[1]], **settings)],
          range(6))

    saved = grouped.state_dict()
    assert [group["maximize"] for group in saved["param_groups"]] == [True, False]
    resumed_params = [tc.Value(p.data.copy()) for p in params]
    resumed = make([{"params": [resumed_params[0]]}, {"params": [resumed_params[1]]}],
                   **{**settings, "maximize": False})
    resumed.load_state_dict(saved)
    assert [group["maximize"] for group in resumed.param_groups] == [True, False]
    steps(resumed_params, [resumed], range(3, 6))
    for a, b in zip(resumed_params, alone, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match=rf"{name}.maximize: the 2 param groups hold different "
                                         rf"values \[True, False\]"):
        _ = resumed.maximize
    resumed.maximize = False                         # every group's
    assert resumed.maximize is False


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_state_dicts_without_maximize_load_with_it_off_and_bad_ones_restore_nothing(name):
    p = tc.Value(np.zeros(2))
    settings = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {}
    optimizer = getattr(optim, name)([p], **settings)
    p.grad = np.ones(2)
    optimizer.step()
    saved = optimizer.state_dict()
    del saved["param_groups"][0]["maximize"]              # saved before maximize existed
    resumed = getattr(optim, name)([p], maximize=True, **settings)
    resumed.load_state_dict(saved)
    assert resumed.maximize is False and resumed.state[0].keys() == optimizer.state[0].keys()
    saved["param_groups"][0]["maximize"] = "no"
    target = getattr(optim, name)([p], maximize=True, **settings)
    with pytest.raises(TypeError, match=rf"{name}: maximize is str 'no'; expected True or "
                                        rf"False"):
        target.load_state_dict(saved)
    assert target.maximize is True and target.state == {}


def test_sgd_on_a_model_through_backward(rng):
    model = nn.Linear(4, 2, rng=rng)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    w, b = model.weight.data.copy(), model.bias.data.copy()
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    optimizer.zero_grad()
    model(x).sum().backward()
    optimizer.step()
    # loss = sum(x W^T + b)  =>  dW[j, :] = sum over rows of x, db[j] = number of rows
    np.testing.assert_allclose(model.weight.data, w - 0.5 * x.sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.bias.data, b - 0.5 * 5, rtol=1e-6)


IN_PLACE = [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
            lambda ps: optim.Adam(ps, weight_decay=0.01),
            lambda ps: optim.AdamW(ps, amsgrad=True),
            lambda ps: optim.RMSprop(ps, weight_decay=0.01, momentum=0.9, centered=True),
            lambda ps: optim.Adagrad(ps, weight_decay=0.01, initial_accumulator_value=0.1),
            lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, maximize=True),
            lambda ps: optim.Adam(ps, weight_decay=0.01, maximize=True),
            lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True, maximize=True),
            lambda ps: optim.Adagrad(ps, weight_decay=0.01, maximize=True)]


@pytest.mark.parametrize("make", IN_PLACE)
def test_updates_in_place_keep_float32_and_leave_grads_alone(rng, make):
    params = [tc.Value(rng.standard_normal((3, 2)).astype(np.float32)) for _ in range(2)]
    shared_grad = rng.standard_normal((3, 2)).astype(np.float32)
    grad_copy = shared_grad.copy()
    optimizer = make(params)
    arrays = [p.data for p in params]
    for _ in range(2):
        params[0].grad = params[1].grad = shared_grad
        optimizer.step()
    assert [p.data for p in params] == arrays and params[0].data is arrays[0]
    np.testing.assert_array_equal(shared_grad, grad_copy)
    assert all(p.dtype == np.float32 for p in params)
    for state in optimizer.state.values():
        assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


def test_params_without_grad_are_skipped(rng):
    a, b = tc.Value(rng.standard_normal(3)), tc.Value(rng.standard_normal(3))
    b_before = b.data.copy()
    optimizer = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(3)
    optimizer.step()
    optimizer.step()
    np.testing.assert_array_equal(b.data, b_before)
    assert set(optimizer.state) == {0} and optimizer.state[0]["step"] == 2
    b.grad = np.ones(3)
    optimizer.step()
    assert optimizer.state[1]["step"] == 1    # b's bias correction starts at its first step
    np.testing.assert_allclose(b.data, b_before - 0.1 / (1 + 1e-8), rtol=1e-12)


class FrozenFirst(nn.Module):
    """Linear 3 -> 4 (frozen: requires_grad=False), ReLU, Linear 4 -> 2 (trained)."""

    def __init__(self):
        self.frozen = nn.Linear(3, 4, rng=np.random.default_rng(1))
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2, rng=np.random.default_rng(2))
        for param in self.frozen.parameters():
            param.requires_grad = False

    def forward(self, x):
        return self.head(self.act(self.frozen(x)))


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9,
                                                       weight_decay=0.1),
                                  lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.1),
                                  lambda ps: optim.RMSprop(ps, weight_decay=0.1, momentum=0.5),
                                  lambda ps: optim.Adagrad(ps, weight_decay=0.1)])
def test_a_frozen_layer_keeps_its_values(rng, make):
    """A layer frozen with requires_grad=False is accepted with model.parameters() and never
    changes (weight decay included), while the rest trains, as in PyTorch."""
    model = FrozenFirst()
    frozen = [p.data.copy() for p in model.frozen.parameters()]
    head = [p.data.copy() for p in model.head.parameters()]
    optimizer = make(model.parameters())
    train_steps(model, optimizer, [rng.standard_normal((5, 3)).astype(np.float32)
                                   for _ in range(3)])
    for param, before in zip(model.frozen.parameters(), frozen, strict=True):
        assert param.grad is None
        np.testing.assert_array_equal(param.data, before)
    for param, before in zip(model.head.parameters(), head, strict=True):
        assert not np.array_equal(param.data, before)
    assert set(optimizer.state) <= {2, 3}          # no state for the frozen parameters 0, 1


def test_lr_zero_is_allowed_and_round_trips(rng):
    """As PyTorch: lr may be 0 (a cosine schedule with eta_min=0 reaches it)."""
    p = tc.Value(np.ones(2))
    optimizer = optim.Adam([p], lr=0.0)
    p.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_array_equal(p.data, [1.0, 1.0])
    other = optim.Adam([p], lr=0.5)
    other.load_state_dict(optimizer.state_dict())
    assert other.lr == 0.0


def test_zero_grad_and_lr_change(rng):
    p = tc.Value(np.zeros(2))
    optimizer = optim.SGD([p], lr=1.0)
    p.grad = np.ones(2)
    optimizer.lr = 0.25
    optimizer.step()
    np.testing.assert_array_equal(p.data, [-0.25, -0.25])
    optimizer.zero_grad()
    assert p.grad is None
    optimizer.step()
    np.testing.assert_array_equal(p.data, [-0.25, -0.25])


def train_steps(model, optimizer, batches):
    for x in batches:
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()


RESUMED = [lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
           lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
           lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1),
           lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.99)),
           lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
           lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
           lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1, amsgrad=True),
           lambda ps: optim.RMSprop(ps, lr=0.01),
           lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
           lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2),
           lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, maximize=True),
           lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True),
           lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True, maximize=True),
           lambda ps: optim.Adagrad(ps, lr=0.1, weight_decay=0.1, maximize=True)]


@pytest.mark.parametrize("make", RESUMED)
def test_state_dict_resumes_bit_identically(rng, tmp_path, make):
    batches = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
    whole = nn.Linear(3, 2, rng=np.random.default_rng(1))
    whole_optimizer = make(whole.parameters())
    train_steps(whole, whole_optimizer, batches)

    part = nn.Linear(3, 2, rng=np.random.default_rng(1))
    part_optimizer = make(part.parameters())
    train_steps(part, part_optimizer, batches[:2])
    tc.save({"model": part.state_dict(), "optimizer": part_optimizer.state_dict()},
            tmp_path / "checkpoint.npz")
    checkpoint = tc.load(tmp_path / "checkpoint.npz")
    resumed = nn.Linear(3, 2, rng=np.random.default_rng(2))
    resumed_optimizer = make(resumed.parameters())
    resumed_optimizer.lr = 123.0                       # restored from the checkpoint
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.lr == part_optimizer.lr
    train_steps(resumed, resumed_optimizer, batches[2:])

    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_contents_are_copies(rng):
    p = tc.Value(np.zeros(3))
    optimizer = optim.Adam([p], lr=0.1, betas=(0.5, 0.9), eps=1e-6)
    p.grad = np.array([1.0, -2.0, 4.0])
    optimizer.step()
    state = optimizer.state_dict()
    assert state["type"] == "Adam"
    assert state["param_groups"] == [{"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-6,
                                      "weight_decay": 0.0, "amsgrad": False, "maximize": False,
                                      "decoupled_weight_decay": False, "params": [0]}]
    assert list(state["state"]) == ["0"] and state["state"]["0"]["step"] == 1
    np.testing.assert_allclose(state["state"]["0"]["exp_avg"], [0.5, -1.0, 2.0])
    np.testing.assert_allclose(state["state"]["0"]["exp_avg_sq"], [0.1, 0.4, 1.6])
    optimizer.step()
    np.testing.assert_allclose(state["state"]["0"]["exp_avg"], [0.5, -1.0, 2.0])
    assert optim.SGD([p], lr=0.1).state_dict() == {
        "type": "SGD", "param_groups": [{"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
                                         "dampening": 0.0, "nesterov": False,
                                         "maximize": False, "params": [0]}],
        "state": {}}


def test_load_state_dict_errors_restore_nothing(rng):
    p, q = tc.Value(np.zeros(3)), tc.Value(np.zeros(2))
    source = optim.SGD([p, q], lr=0.1, momentum=0.9)
    p.grad, q.grad = np.ones(3), np.ones(2)
    source.step()
    target = optim.SGD([tc.Value(np.zeros(3)), tc.Value(np.zeros(3))], lr=0.5)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: 1 problem\(s\), nothing was "
                                         r"restored:\n  state for parameter 1: momentum_buffer "
                                         r"has shape \(2,\) but the parameter has shape \(3,\)"):
        target.load_state_dict(source.state_dict())
    assert target.lr == 0.5 and target.momentum == 0.0 and target.state == {}

    state = source.state_dict()
    state["state"]["7"] = state["state"]["0"]
    with pytest.raises(ValueError, match=r"state for parameter '7': this optimizer has "
                                         r"parameters 0..1"):
        optim.SGD([p, q], lr=0.1).load_state_dict(state)
    state = source.state_dict()
    state["state"]["0"] = {"exp_avg": np.zeros(3)}
    with pytest.raises(ValueError, match=r"state for parameter 0: found \['exp_avg'\] but SGD "
                                         r"keeps \[\] \(and, for its options, any of "
                                         r"\['momentum_buffer'\]\)"):
        optim.SGD([p, q], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: the state dict is from a SGD "
                                         r"optimizer; expected one from a Adam"):
        optim.Adam([p, q]).load_state_dict(source.state_dict())
    with pytest.raises(ValueError, match=r"expected a dict with keys 'type', 'param_groups' "
                                         r"and 'state'"):
        optim.Adam([p, q]).load_state_dict({"state": {}})
    state = source.state_dict()
    del state["param_groups"][0]["momentum"]
    with pytest.raises(ValueError, match=r"param group 0 has hyperparameters .*; expected the "
                                         r"keys lr, momentum, weight_decay"):
        optim.SGD([p, q], lr=0.1).load_state_dict(state)


def test_amsgrad_buffer_is_kept_only_with_amsgrad_and_checked_on_load():
    p = tc.Value(np.zeros(3))
    plain, ams = optim.Adam([p]), optim.Adam([p], amsgrad=True)
    p.grad = np.array([1.0, -2.0, 4.0])
    plain.step()
    ams.step()
    assert set(plain.state[0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert set(ams.state[0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    np.testing.assert_array_equal(ams.state[0]["max_exp_avg_sq"], ams.state[0]["exp_avg_sq"])
    state = plain.state_dict()
    state["state"]["0"]["momentum_buffer"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"found \['exp_avg', 'exp_avg_sq', 'momentum_buffer', "
                                         r"'step'\] but Adam keeps \['step', 'exp_avg', "
                                         r"'exp_avg_sq'\] \(and, for its options, any of "
                                         r"\['max_exp_avg_sq'\]\)"):
        optim.Adam([p]).load_state_dict(state)
    state = plain.state_dict()
    del state["state"]["0"]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"found \['exp_avg', 'step'\] but Adam keeps"):
        optim.Adam([p]).load_state_dict(state)


@pytest.mark.parametrize("make, option, on", [(optim.Adam, "amsgrad", True),
                                              (optim.AdamW, "amsgrad", True),
                                              (optim.RMSprop, "momentum", 0.9),
                                              (optim.RMSprop, "centered", True)])
def test_an_option_turned_on_mid_run_saves_and_resumes(rng, make, option, on):
    """Switched on through its attribute, an option's buffer is made at the parameter's next
    update; a state saved before that (here: parameter 1, frozen since the switch) still loads,
    and the run goes on bit-identically."""
    start = [rng.standard_normal(3), rng.standard_normal(2)]
    grads = [[rng.standard_normal(3), rng.standard_normal(2)] for _ in range(5)]

    def steps(optimizer, params, which):
        for k in which:
            for i, param in enumerate(params):
                param.grad = None if (k >= 2 and i == 1) else grads[k][i].copy()
            if k == 2:
                setattr(optimizer, option, on)
            optimizer.step()

    whole_params = [tc.Value(w.copy()) for w in start]
    steps(make(whole_params, lr=0.01), whole_params, range(5))
    part_params = [tc.Value(w.copy()) for w in start]
    part = make(part_params, lr=0.01)
    steps(part, part_params, range(3))
    resumed_params = [tc.Value(p.data.copy()) for p in part_params]
    resumed = make(resumed_params, lr=0.01)
    resumed.load_state_dict(part.state_dict())
    assert getattr(resumed, option) == on
    steps(resumed, resumed_params, range(3, 5))
    for a, b in zip(whole_params, resumed_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("option, on, off, buffer", [("amsgrad", True, False, "max_exp_avg_sq"),
                                                     ("centered", True, False, "grad_avg"),
                                                     ("momentum", 0.9, 0.0, "momentum_buffer")])
def test_an_option_turned_off_mid_run_saves_and_resumes(rng, option, on, off, buffer):
    """The buffer of an option turned off stays in the state (as in PyTorch, it is used again
    when the option comes back on) and round-trips through the state dict."""
    make = optim.Adam if option == "amsgrad" else optim.RMSprop
    w0, grads = rng.standard_normal(3), [rng.standard_normal(3) for _ in range(6)]

    def steps(optimizer, param, first, last):
        for i in range(first, last):
            setattr(optimizer, option, off if i in (2, 3) else on)    # off for steps 2 and 3
            param.grad = grads[i].copy()
            optimizer.step()

    whole = tc.Value(w0.copy())
    steps(make([whole], **{option: on}), whole, 0, 6)
    part = tc.Value(w0.copy())
    part_optimizer = make([part], **{option: on})
    steps(part_optimizer, part, 0, 3)
    state = part_optimizer.state_dict()
    assert state["param_groups"][0][option] == off and buffer in state["state"]["0"]
    resumed = make([part], lr=0.5)
    resumed.load_state_dict(state)
    steps(resumed, part, 3, 6)
    np.testing.assert_array_equal(part.data, whole.data)


def earlier_format(state_dict):
    """A one-group state dict in the format of earlier versions: one "hyperparameters" dict."""
    (group,) = state_dict["param_groups"]
    return {"type": state_dict["type"], "state": state_dict["state"],
            "hyperparameters": {key: value for key, value in group.items() if key != "params"}}


def test_state_dicts_saved_before_the_new_options_still_load():
    """A checkpoint from before dampening, nesterov, amsgrad and maximize existed meant them
    off."""
    p = tc.Value(np.zeros(2))
    p.grad = np.ones(2)
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    sgd.step()
    old = earlier_format(sgd.state_dict())
    for name in ("dampening", "nesterov", "maximize"):
        del old["hyperparameters"][name]
    resumed = optim.SGD([p], lr=0.5, momentum=0.9, nesterov=True)
    resumed.load_state_dict(old)
    assert (resumed.lr, resumed.dampening, resumed.nesterov) == (0.1, 0.0, False)
    np.testing.assert_array_equal(resumed.state[0]["momentum_buffer"],
                                  sgd.state[0]["momentum_buffer"])
    adam = optim.Adam([p], lr=0.1)
    adam.step()
    old = earlier_format(adam.state_dict())
    del old["hyperparameters"]["amsgrad"], old["hyperparameters"]["maximize"]
    resumed = optim.Adam([p], amsgrad=True)
    resumed.load_state_dict(old)
    assert resumed.amsgrad is False and resumed.lr == 0.1 and resumed.state[0]["step"] == 1


@pytest.mark.parametrize("make, error, message", [
    (lambda p: optim.SGD(p, lr=-0.1), ValueError, r"SGD: lr is -0.1; expected a number in \[0.0, "
                                                  r"inf\)"),
    (lambda p: optim.Adam(p, lr=-1), ValueError, r"Adam: lr is -1.0; expected a number in \[0.0, "
                                                 r"inf\)"),
    (lambda p: optim.SGD(p, lr=math.nan), ValueError, r"SGD: lr is nan; expected a number"),
    (lambda p: optim.SGD(p, lr="0.1"), TypeError, r"SGD: lr is str '0.1'; expected a number"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError,
     r"SGD: momentum is -0.5; expected a number in \[0.0, inf\)"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), ValueError,
     r"SGD: weight_decay is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError,
     r"Adam: betas\[1\] is 1.0; expected a number in \[0.0, 1.0\)"),
    (lambda p: optim.Adam(p, betas=0.9), ValueError, r"Adam: betas is 0.9; expected a pair"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, r"Adam: eps is -1e-08; expected a number"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), ValueError,
     r"AdamW: weight_decay is -0.01; expected a number in \[0.0, inf\)"),
    (lambda p: optim.AdamW(p, betas=(1.5, 0.9)), ValueError,
     r"AdamW: betas\[0\] is 1.5; expected a number in \[0.0, 1.0\)"),
 (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError,
     r"SGD: nesterov=True with momentum=0.0 and dampening=0.0; expected momentum > 0 and "
     r"dampening 0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"SGD: nesterov=True with momentum=0.9 and dampening=0.1; expected momentum > 0 and "
     r"dampening 0 .*; pass a momentum and no dampening, e.g. SGD\(params, lr=0.1, "
     r"momentum=0.9, nesterov=True\), or leave nesterov=False"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=-0.5), ValueError,
     r"SGD: dampening is -0.5; expected a number in \[0.0, 1.0\]"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=1.5), ValueError,
     r"SGD: dampening is 1.5; expected a number in \[0.0, 1.0\]"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov="yes"), TypeError,
     r"SGD: nesterov is str 'yes'; expected True or False, e.g. nesterov=True"),
    (lambda p: optim.SGD(p, 0.1, 0.9, 0.0, 0.0), TypeError, r"positional argument"),
    (lambda p: optim.Adam(p, amsgrad=1), TypeError,
     r"Adam: amsgrad is int 1; expected True or False, e.g. amsgrad=True"),
    (lambda p: optim.AdamW(p, amsgrad=None), TypeError,
     r"AdamW: amsgrad is NoneType None; expected True or False"),
    (lambda p: optim.RMSprop(p, lr=-0.01), ValueError,
     r"RMSprop: lr is -0.01; expected a number in \[0.0, inf\)"),
    (lambda p: optim.RMSprop(p, alpha=-0.1), ValueError,
     r"RMSprop: alpha is -0.1; expected a number in \[0.0, 1.0\]"),
    (lambda p: optim.RMSprop(p, alpha=1.5), ValueError,
     r"RMSprop: alpha is 1.5; expected a number in \[0.0, 1.0\]"),
    (lambda p: optim.RMSprop(p, eps=-1e-8), ValueError,
     r"RMSprop: eps is -1e-08; expected a number in \[0.0, inf\)"),
    (lambda p: optim.RMSprop(p, weight_decay=-1), ValueError,
     r"RMSprop: weight_decay is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.RMSprop(p, momentum=-0.9), ValueError,
     r"RMSprop: momentum is -0.9; expected a number in \[0.0, inf\)"),
    (lambda p: optim.RMSprop(p, centered="True"), TypeError,
     r"RMSprop: centered is str 'True'; expected True or False, e.g. centered=True"),
    (lambda p: optim.Adagrad(p, lr=-1), ValueError,
     r"Adagrad: lr is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), ValueError,
     r"Adagrad: lr_decay is -0.1; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adagrad(p, weight_decay=-0.1), ValueError,
     r"Adagrad: weight_decay is -0.1; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), ValueError,
     r"Adagrad: initial_accumulator_value is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adagrad(p, eps=-1e-10), ValueError,
     r"Adagrad: eps is -1e-10; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adagrad(p, lr_decay="0.1"), TypeError,
     r"Adagrad: lr_decay is str '0.1'; expected a number"),
    (lambda p: optim.SGD(p, lr=0.1, maximize=1), TypeError,
     r"SGD: maximize is int 1; expected True or False, e.g. maximize=True"),
    (lambda p: optim.Adam(p, maximize="True"), TypeError,
     r"Adam: maximize is str 'True'; expected True or False, e.g. maximize=True"),
    (lambda p: optim.AdamW(p, maximize=None), TypeError,
     r"AdamW: maximize is NoneType None; expected True or False, e.g. maximize=True"),
    (lambda p: optim.RMSprop(p, maximize=0), TypeError,
     r"RMSprop: maximize is int 0; expected True or False, e.g. maximize=True"),
    (lambda p: optim.Adagrad(p, maximize=-1.0), TypeError,
     r"Adagrad: maximize is float -1.0; expected True or False, e.g. maximize=True"),
    # maximize is keyword-only (PyTorch's RMSprop takes it after capturable and foreach)
    (lambda p: optim.Adam(p, 1e-3, (0.9, 0.999), 1e-8, 0.0, False, True), TypeError,
     r"positional argument"),
    (lambda p: optim.AdamW(p, 1e-3, (0.9, 0.999), 1e-8, 0.0, False, True), TypeError,
     r"positional argument"),
    (lambda p: optim.RMSprop(p, 1e-2, 0.99, 1e-8, 0.0, 0.0, False, True), TypeError,
     r"positional argument"),
    (lambda p: optim.Adagrad(p, 1e-2, 0.0, 0.0, 0.0, 1e-10, True), TypeError,
     r"positional argument"),
])
def test_hyperparameter_errors(make, error, message):
    with pytest.raises(error, match=message):
        make([tc.Value(np.zeros(2))])


def test_the_fixes_the_errors_suggest_work():
    """What the messages ask for is accepted: Nesterov with a momentum or no Nesterov, a flag
    given as True or False, numbers at the ends of the closed intervals."""
    p = tc.Value(np.ones(2))
    fixed = [optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
             optim.SGD([p], lr=0.1, nesterov=False),
             optim.SGD([p], lr=0.1, momentum=0.9, dampening=1.0),
             optim.Adam([p], amsgrad=True), optim.AdamW([p], amsgrad=np.True_),
             optim.RMSprop([p], centered=True), optim.RMSprop([p], alpha=0.0),
             optim.RMSprop([p], alpha=1.0, eps=1.0),
             optim.Adagrad([p], lr_decay=0.0, initial_accumulator_value=0.0, eps=1.0),
             optim.Adagrad([p], maximize=np.False_)]
    for optimizer in fixed:
        before = p.data.copy()
        p.grad = np.ones(2)
        optimizer.step()
        assert np.all(p.data < before)
    assert fixed[4].amsgrad is True and fixed[-1].maximize is False


def test_params_errors():
    p = tc.Value(np.zeros(2))
    with pytest.raises(ValueError, match=r"SGD: got an empty list of parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"Adam: params is a Linear; expected an iterable of "
                                        r"Values, e.g. model.parameters\(\)"):
        optim.Adam(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"Adam: params is a Value; expected an iterable"):
        optim.Adam(p)
    with pytest.raises(TypeError, match=r"SGD: parameter 1 is a ndarray; expected a Value"):
        optim.SGD([p, np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: parameter 0 \(shape \(2,\)\) has dtype int64; "
                                        r"expected floating-point parameters"):
        optim.SGD([tc.Value(np.zeros(2, dtype=np.int64))], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: parameter 1 \(shape \(2,\)\) appears more than "
                                         r"once"):
        optim.Adam([p, p])
    p.grad = np.zeros(3)
    with pytest.raises(ValueError, match=r"SGD.step: parameter 0 has shape \(2,\) but its grad "
                                         r"has shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


# ------------------------------------------------------------------------- learning-rate schedules

def lrs(scheduler, epochs: int) -> list[float]:
    """The lr of epochs 0..epochs, read from the optimizer after each scheduler.step()."""
    seen = [scheduler.optimizer.lr]
    for _ in range(epochs):
        scheduler.optimizer.step()
        scheduler.step()
        assert scheduler.get_last_lr() == [scheduler.optimizer.lr]
        seen.append(scheduler.optimizer.lr)
    return seen


def test_step_lr_multiplies_every_step_size_epochs():
    optimizer = optim.SGD([tc.Value(np.zeros(2))], lr=2.0)
    scheduler = optim.StepLR(optimizer, step_size=3, gamma=0.5)
    assert scheduler.get_last_lr() == [2.0]
    assert lrs(scheduler, 7) == [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    every_epoch = optim.StepLR(optim.Adam([tc.Value(np.zeros(2))], lr=2e-3), step_size=1,
                               gamma=0.5)
    # the MNIST example's former hand-written decay, lr * 0.5 ** (epoch - 1), bit for bit
    assert lrs(every_epoch, 5) == [2e-3 * 0.5 ** e for e in range(6)]


def test_cosine_annealing_follows_half_a_cosine():
    optimizer = optim.SGD([tc.Value(np.zeros(2))], lr=1.0)
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=4, eta_min=0.2)
    expected = [0.2 + 0.8 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(9)]
    np.testing.assert_allclose(lrs(scheduler, 8), expected, rtol=0, atol=1e-15)
    assert optimizer.lr == pytest.approx(1.0)                 # back up after T_max
    scheduler = optim.CosineAnnealingLR(optim.SGD([tc.Value(np.zeros(2))], lr=0.1), T_max=2)
    assert lrs(scheduler, 2) == [0.1, 0.05, 0.0]               # eta_min defaults to 0


@pytest.mark.parametrize("make", [lambda opt: optim.StepLR(opt, step_size=2, gamma=0.3),
                                  lambda opt: optim.CosineAnnealingLR(opt, T_max=5,
                                                                      eta_min=1e-4)])
def test_scheduler_resumes_from_its_state_dict(tmp_path, make):
    whole = make(optim.SGD([tc.Value(np.zeros(2))], lr=0.1))
    expected = lrs(whole, 9)
    part = make(optim.SGD([tc.Value(np.zeros(2))], lr=0.1))
    first = lrs(part, 4)
    tc.save({"scheduler": part.state_dict()}, tmp_path / "checkpoint.npz")
    saved = tc.load(tmp_path / "checkpoint.npz")["scheduler"]
    optimizer = optim.SGD([tc.Value(np.zeros(2))], lr=0.1)    # fresh: lr back at the start
    resumed = make(optimizer)
    resumed.load_state_dict(saved)
    assert optimizer.lr == first[-1] and resumed.get_last_lr() == [first[-1]]
    assert first + lrs(resumed, 5)[1:] == expected


def test_scheduler_errors():
    optimizer = optim.SGD([tc.Value(np.zeros(2))], lr=0.1)
    with pytest.raises(TypeError, match=r"StepLR: optimizer is a Linear; expected a "
                                        r"tinygrad_cnn optimizer.*pass the optimizer, not the "
                                        r"model"):
        optim.StepLR(nn.Linear(2, 2), step_size=1)
    with pytest.raises(TypeError, match=r"CosineAnnealingLR: optimizer is a generator; expected "
                                        r"a tinygrad_cnn optimizer"):
        optim.CosineAnnealingLR(nn.Linear(2, 2).parameters(), T_max=3)
    with pytest.raises(ValueError, match=r"StepLR: step_size is 0; expected an int >= 1"):
        optim.StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match=r"StepLR: gamma is 0.0; expected a number in \(0.0, "
                                         r"inf\)"):
        optim.StepLR(optimizer, step_size=1, gamma=0)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR: T_max is 2.5; expected an int >= "
                                         r"1"):
        optim.CosineAnnealingLR(optimizer, T_max=2.5)
    with pytest.raises(ValueError, match=r"CosineAnnealingLR: eta_min is -1.0; expected a "
                                         r"number in \[0.0, inf\)"):
        optim.CosineAnnealingLR(optimizer, T_max=2, eta_min=-1)
    step = optim.StepLR(optimizer, step_size=1)
    cosine = optim.CosineAnnealingLR(optimizer, T_max=3)
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: the state dict is from a "
                                         r"CosineAnnealingLR; expected one from a StepLR"):
        step.load_state_dict(cosine.state_dict())
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: expected a dict with keys "
                                         r"'type', 'settings'"):
        step.load_state_dict(optimizer.state_dict())
    state = step.state_dict()
    state["last_epoch"] = -1
    with pytest.raises(ValueError, match=r"last_epoch is -1; expected an int >= 0"):
        step.load_state_dict(state)
    assert step.last_epoch == 0                   # nothing restored


def sgd(lr: float = 1.0, **settings) -> optim.SGD:
    """An SGD over one small parameter, for the schedules."""
    return optim.SGD([tc.Value(np.zeros(2))], lr=lr, **settings)


def raises_exactly(error: type[Exception], message: str):
    """pytest.raises that checks the whole message, word for word."""
    return pytest.raises(error, match=f"^{re.escape(message)}$")


def nesting_refused(owner: str, i: int, kind: str) -> str:
    """The whole message of a SequentialLR or ChainedScheduler (owner) whose schedulers[i] is a
    SequentialLR or ChainedScheduler (kind)."""
    return (f"{owner}: schedulers[{i}] is a {kind}; a SequentialLR or ChainedScheduler inside a "
            f"{owner} is not supported; expected single schedules; run single schedules one "
            f"after another in one SequentialLR (its milestones count from its epoch 0), or at "
            f"once in one ChainedScheduler: for a warm-up during a decay, chain a LinearLR "
            f"warm-up with the decay, e.g. ChainedScheduler([LinearLR(optimizer, "
            f"start_factor=0.1, total_iters=5), ExponentialLR(optimizer, gamma=0.95)]), as "
            f"LinearLR stops changing the lr after total_iters")


def plateau_refused(owner: str) -> str:
    """The whole message of a SequentialLR or ChainedScheduler (owner) whose schedulers[0] is a
    ReduceLROnPlateau."""
    return (f"{owner}: schedulers[0] is a ReduceLROnPlateau, whose step() needs the epoch's "
            f"metric (PyTorch refuses it too); expected schedules stepped without one; use "
            f"ReduceLROnPlateau on its own, scheduler.step(val_loss)")


def test_exponential_lr_multiplies_every_epoch():
    scheduler = optim.ExponentialLR(sgd(2.0), gamma=0.5)
    assert lrs(scheduler, 4) == [2.0, 1.0, 0.5, 0.25, 0.125]
    expected = [0.1]
    for _ in range(20):
        expected.append(expected[-1] * 0.9)        # repeated multiplication, as PyTorch
    assert lrs(optim.ExponentialLR(sgd(0.1), 0.9), 20) == expected


def test_multistep_lr_multiplies_at_each_milestone_repeats_included():
    expected = [1.0, 1.0, 0.5, 0.5, 0.5, 0.125, 0.125]     # 5 twice: gamma ** 2 there
    assert lrs(optim.MultiStepLR(sgd(), milestones=[2, 5, 5], gamma=0.5), 6) == expected
    unsorted = optim.MultiStepLR(sgd(), milestones=(5, 2, 5), gamma=0.5)
    assert unsorted.milestones == (2, 5, 5) and lrs(unsorted, 6) == expected
    unsorted.state_dict()["settings"]["milestones"] += (1,)    # a copy, not the schedule's own
    assert unsorted.milestones == (2, 5, 5)
    assert lrs(optim.MultiStepLR(sgd(0.3), milestones=np.array([1])), 2) == [0.3, 0.3 * 0.1,
                                                                             0.3 * 0.1]
    assert lrs(optim.MultiStepLR(sgd(0.3), milestones=[]), 3) == [0.3] * 4


def test_lambda_lr_scales_base_lr_from_epoch_0():
    optimizer = sgd(0.5)
    scheduler = optim.LambdaLR(optimizer, lambda epoch: min(1.0, (epoch + 1) / 4))
    assert optimizer.lr == 0.125 and scheduler.get_last_lr() == [0.125]   # set when made
    assert lrs(scheduler, 5) == [0.125, 0.25, 0.375, 0.5, 0.5, 0.5]
    assert lrs(optim.LambdaLR(sgd(2.0), lambda epoch: epoch), 2) == [0.0, 2.0, 4.0]


def test_lambda_lr_state_dict_holds_the_position_not_the_function(tmp_path):
    part = optim.LambdaLR(sgd(0.5), lambda epoch: 0.5 ** epoch)
    lrs(part, 3)
    state = part.state_dict()
    assert state == {"type": "LambdaLR", "settings": {}, "base_lrs": [0.5], "last_epoch": 3,
                     "last_lrs": [0.0625]}
    tc.save({"scheduler": state}, tmp_path / "checkpoint.npz")
    optimizer = sgd(0.5)
    resumed = optim.LambdaLR(optimizer, lambda epoch: 0.5 ** epoch)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert optimizer.lr == 0.0625 and lrs(resumed, 2) == [0.0625, 0.03125, 0.015625]
    own = optim.LambdaLR(sgd(0.5), lambda epoch: 1.0)     # keeps its own lr_lambda
    own.load_state_dict(state)
    assert lrs(own, 1) == [0.0625, 0.5]


def test_lambda_lr_errors_name_the_epoch_and_the_value():
    with pytest.raises(TypeError, match=r"LambdaLR: lr_lambda is float 0.5; expected a function "
                                        r"of the epoch"):
        optim.LambdaLR(sgd(), 0.5)
    with pytest.raises(ValueError, match=r"LambdaLR: lr_lambda\(0\) returned nan; expected a "
                                         r"finite number >= 0, the factor of base_lr at epoch "
                                         r"0"):
        optim.LambdaLR(sgd(), lambda epoch: math.nan)
    scheduler = optim.LambdaLR(sgd(), lambda epoch: 1.0 - epoch / 2)
    scheduler.step()
    scheduler.step()                                        # factor 0 is fine
    with pytest.raises(ValueError, match=r"LambdaLR: lr_lambda\(3\) returned -0.5; expected a "
                                         r"finite number >= 0"):
        scheduler.step()
    assert (scheduler.last_epoch, scheduler.get_last_lr()) == (2, [0.0])   # the error changed
    assert scheduler.optimizer.lr == 0.0                                    # nothing
    with pytest.raises(ValueError, match=r"lr_lambda\(1\) returned inf"):
        optim.LambdaLR(sgd(), lambda epoch: math.inf if epoch else 1.0).step()
    with pytest.raises(TypeError, match=r"LambdaLR: lr_lambda\(1\) returned NoneType None; "
                                        r"expected a number, the factor of base_lr at epoch 1"):
        optim.LambdaLR(sgd(), lambda epoch: None if epoch else 1.0).step()
    with pytest.raises(TypeError, match=r"lr_lambda\(0\) returned bool True"):
        optim.LambdaLR(sgd(), lambda epoch: epoch < 5)


def test_linear_lr_goes_along_a_line_then_stays():
    scheduler = optim.LinearLR(sgd(), start_factor=0.25, total_iters=3)
    assert scheduler.optimizer.lr == 0.25                   # set when made
    assert lrs(scheduler, 5) == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert lrs(optim.LinearLR(sgd(), 1.0, 0.5, total_iters=2), 4) == [1.0, 0.75, 0.5, 0.5, 0.5]
    defaults = optim.LinearLR(sgd(0.3))                     # PyTorch's: 1/3 -> 1 in 5 epochs
    expected = [0.3 * (1 / 3 + (2 / 3) * min(e, 5) / 5) for e in range(8)]
    np.testing.assert_allclose(lrs(defaults, 7), expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("start_factor, end_factor, total_iters", [
    (0.01, 1.0, 20), (0.9, 0.05, 1000), (1 / 3, 1.0, 300), (1.0, 0.0, 1000)])
def test_linear_lr_is_within_the_documented_rounding_of_the_closed_form(start_factor,
                                                                         end_factor,
                                                                         total_iters):
    got = lrs(optim.LinearLR(sgd(0.1), start_factor, end_factor, total_iters), total_iters + 2)
    change = end_factor - start_factor
    closed = [0.1 * (start_factor + change * min(e, total_iters) / total_iters)
              for e in range(total_iters + 3)]
    np.testing.assert_allclose(got, closed, rtol=0, atol=2e-14 * 0.1)


def test_linear_lr_down_to_0_ends_at_0_not_below():
    """PyTorch's recursion ends this line at -8.6e-17; ours at 0, which a state dict loads."""
    scheduler = optim.LinearLR(sgd(), start_factor=0.9, end_factor=0.0, total_iters=100)
    seen = lrs(scheduler, 102)
    assert seen[99] > 0 and seen[100:] == [0.0, 0.0, 0.0]
    optim.LinearLR(sgd(), start_factor=0.9, end_factor=0.0).load_state_dict(
        scheduler.state_dict())
    sgd().load_state_dict(scheduler.optimizer.state_dict())


def test_constant_lr_lowers_the_lr_for_total_iters_epochs():
    scheduler = optim.ConstantLR(sgd(2.0), factor=0.25, total_iters=3)
    assert scheduler.optimizer.lr == 0.5                    # set when made
    assert lrs(scheduler, 5) == [0.5, 0.5, 0.5, 2.0, 2.0, 2.0]
    assert lrs(optim.ConstantLR(sgd()), 7) == [1 / 3] * 5 + [1.0] * 3    # 1/3 for 5 epochs
    assert lrs(optim.ConstantLR(sgd(0.1), factor=1.0, total_iters=1), 2) == [0.1] * 3


def test_polynomial_lr_falls_to_0_at_total_iters_then_stays():
    seen = lrs(optim.PolynomialLR(sgd(), total_iters=4), 6)     # power 1: a straight line
    np.testing.assert_allclose(seen, [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0], rtol=1e-15, atol=0)
    assert seen[4:] == [0.0, 0.0, 0.0]
    assert lrs(optim.PolynomialLR(sgd(2.0), total_iters=2, power=2), 3) == [2.0, 0.5, 0.0, 0.0]
    assert lrs(optim.PolynomialLR(sgd(0.3), total_iters=3, power=0), 4) == [0.3] * 5
    closed = [0.1 * (1 - min(e, 9) / 9) ** 0.5 for e in range(12)]
    np.testing.assert_allclose(lrs(optim.PolynomialLR(sgd(0.1), 9, power=0.5), 11), closed,
                               rtol=1e-14, atol=0)


def test_cosine_annealing_warm_restarts_restarts_every_cycle():
    scheduler = optim.CosineAnnealingWarmRestarts(sgd(), T_0=3, eta_min=0.1)
    third = [1.0, 0.1 + 0.9 * 0.75, 0.1 + 0.9 * 0.25]      # cos(pi / 3) = 1/2, cos(2 pi / 3)
    seen = lrs(scheduler, 8)
    np.testing.assert_allclose(seen, third * 3, rtol=0, atol=1e-15)
    assert seen[0] == seen[3] == seen[6] == 1.0            # the restarts
    # T_mult 2: cycles of 2, 4 and 8 epochs, restarts at epochs 2 and 6
    longer = lrs(optim.CosineAnnealingWarmRestarts(sgd(), T_0=2, T_mult=2), 7)
    quarter, eighth = (1 + math.cos(math.pi / 4)) / 2, (1 + math.cos(math.pi / 8)) / 2
    np.testing.assert_allclose(longer, [1.0, 0.5, 1.0, quarter, 0.5, 1 - quarter, 1.0, eighth],
                               rtol=0, atol=1e-15)
    assert longer[2] == longer[6] == 1.0
    assert optim.CosineAnnealingWarmRestarts(sgd(), 2, 2)._cycle(13) == (7, 8)
    assert optim.CosineAnnealingWarmRestarts(sgd(), 2, 2)._cycle(14) == (0, 16)


def test_cosine_annealing_warm_restarts_takes_its_cycle_position_from_the_epoch():
    """The state dict holds only the epoch; even a late one resumes at once (T_mult 1 needs no
    walk over the cycles)."""
    scheduler = optim.CosineAnnealingWarmRestarts(sgd(), T_0=7)
    state = scheduler.state_dict()
    assert state["settings"] == {"T_0": 7, "T_mult": 1, "eta_min": 0.0}
    scheduler.load_state_dict({**state, "last_epoch": 10 ** 12})
    scheduler.step()                                     # epoch 10**12 + 1, 2 epochs into a cycle
    assert scheduler.optimizer.lr == (1 + math.cos(math.pi * 2 / 7)) / 2


def test_constant_polynomial_and_warm_restarts_errors():
    with pytest.raises(ValueError, match=r"ConstantLR: factor is 0.0; expected a number in "
                                         r"\(0.0, 1.0\]"):
        optim.ConstantLR(sgd(), factor=0)
    with pytest.raises(ValueError, match=r"ConstantLR: factor is 1.5; expected a number in "
                                         r"\(0.0, 1.0\]"):
        optim.ConstantLR(sgd(), factor=1.5)
    with pytest.raises(TypeError, match=r"ConstantLR: factor is str '0.5'; expected a number"):
        optim.ConstantLR(sgd(), factor="0.5")
    with pytest.raises(ValueError, match=r"ConstantLR: total_iters is 0; expected an int >= 1 "
                                         r"\(the number of epochs at base_lr \* factor"):
        optim.ConstantLR(sgd(), total_iters=0)
    with pytest.raises(ValueError, match=r"PolynomialLR: total_iters is 2.0; expected an int >= "
                                         r"1 \(the number of epochs from base_lr down to 0"):
        optim.PolynomialLR(sgd(), total_iters=2.0)
    with pytest.raises(ValueError, match=r"PolynomialLR: power is -1.0; expected a number in "
                                         r"\[0.0, inf\)"):
        optim.PolynomialLR(sgd(), power=-1)
    with pytest.raises(ValueError, match=r"PolynomialLR: power is nan"):
        optim.PolynomialLR(sgd(), power=math.nan)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: T_0 is 0; expected an "
                                         r"int >= 1 \(the number of epochs of the first cycle"):
        optim.CosineAnnealingWarmRestarts(sgd(), T_0=0)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: T_0 is True; expected an "
                                         r"int >= 1"):
        optim.CosineAnnealingWarmRestarts(sgd(), T_0=True)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: T_mult is 1.5; expected "
                                         r"an int >= 1 \(how many times longer each cycle is"):
        optim.CosineAnnealingWarmRestarts(sgd(), T_0=5, T_mult=1.5)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: T_mult is 0; expected "
                                         r"an int >= 1"):
        optim.CosineAnnealingWarmRestarts(sgd(), 5, T_mult=0)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: eta_min is -0.1; "
                                         r"expected a number in \[0.0, inf\)"):
        optim.CosineAnnealingWarmRestarts(sgd(), 5, eta_min=-0.1)
    with pytest.raises(TypeError, match=r"CosineAnnealingWarmRestarts: optimizer is a Linear; "
                                        r"expected a tinygrad_cnn optimizer"):
        optim.CosineAnnealingWarmRestarts(nn.Linear(2, 2), T_0=5)
    restarts = optim.CosineAnnealingWarmRestarts(sgd(), T_0=5, T_mult=2)
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts.load_state_dict: the "
                                         r"state dict is from a PolynomialLR; expected one from "
                                         r"a CosineAnnealingWarmRestarts"):
        restarts.load_state_dict(optim.PolynomialLR(sgd()).state_dict())
    state = restarts.state_dict()
    state["settings"] = {**state["settings"], "T_mult": 0}
    state["last_epoch"] = 3
    with pytest.raises(ValueError, match=r"CosineAnnealingWarmRestarts: T_mult is 0"):
        restarts.load_state_dict(state)
    assert (restarts.T_mult, restarts.last_epoch) == (2, 0)      # nothing restored
    with pytest.raises(ValueError, match=r"ConstantLR.load_state_dict: settings \{'factor': "
                                         r"0.5\}; expected a dict with keys factor, "
                                         r"total_iters"):
        optim.ConstantLR(sgd()).load_state_dict({**optim.ConstantLR(sgd()).state_dict(),
                                                 "settings": {"factor": 0.5}})

def one_cycle_run(scheduler, momentum) -> list[tuple[float, float]]:
    """(lr, momentum) of steps 0..total_steps, momentum read by momentum(optimizer)."""
    optimizer = scheduler.optimizer
    seen = [(optimizer.lr, momentum(optimizer))]
    for _ in range(scheduler.total_steps):
        scheduler.step()
        seen.append((optimizer.lr, momentum(optimizer)))
    return seen


def test_one_cycle_lr_and_sgd_momentum_by_hand():
    """Linear phases: up from 1/4 to 1 over steps 0..1, down to 0.1 over steps 1..7; momentum
    0.95 -> 0.85 -> 0.95; step 8, past the cycle, keeps step 7's values."""
    scheduler = optim.OneCycleLR(sgd(0.5, momentum=0.9), max_lr=1.0, total_steps=8,
                                 pct_start=0.25, anneal_strategy="linear", div_factor=4,
                                 final_div_factor=2.5)
    lr, momentum = zip(*one_cycle_run(scheduler, lambda opt: opt.momentum), strict=True)
    np.testing.assert_allclose(lr, [0.25, 1.0, 0.85, 0.7, 0.55, 0.4, 0.25, 0.1, 0.1],
                               rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose(momentum, [0.95, 0.85] + [0.85 + 0.1 * k / 6 for k in range(1, 7)]
                               + [0.95], rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match=r"OneCycleLR.step: called 9 times for a cycle of "
                                         r"total_steps=8; expected at most total_steps calls, "
                                         r"one after each batch"):
        scheduler.step()
    assert scheduler.last_epoch == 8 and scheduler.optimizer.lr == lr[-1]    # nothing changed


def test_one_cycle_three_phases_by_hand():
    scheduler = optim.OneCycleLR(sgd(momentum=0.9), 1.0, total_steps=9, pct_start=1 / 3,
                                 anneal_strategy="linear", div_factor=4, final_div_factor=2.5,
                                 three_phase=True)
    lr, momentum = zip(*one_cycle_run(scheduler, lambda opt: opt.momentum), strict=True)
    np.testing.assert_allclose(lr, [0.25, 0.625, 1.0, 0.625, 0.25, 0.2125, 0.175, 0.1375, 0.1,
                                    0.1], rtol=1e-15, atol=0)
    np.testing.assert_allclose(momentum, [0.95, 0.9, 0.85, 0.9] + [0.95] * 6, rtol=1e-15)


def test_one_cycle_cos_starts_at_max_lr_over_div_factor_and_peaks_at_max_lr():
    optimizer = sgd(123.0, momentum=0.9)
    scheduler = optim.OneCycleLR(optimizer, max_lr=0.1, epochs=2, steps_per_epoch=5)
    assert scheduler.total_steps == 10 and scheduler.base_lrs == [0.1 / 25]
    assert optimizer.lr == pytest.approx(0.004, rel=1e-15) and optimizer.momentum == 0.95
    seen = one_cycle_run(scheduler, lambda opt: opt.momentum)
    peak = max(range(11), key=lambda step: seen[step][0])
    assert peak == 2 and seen[peak] == pytest.approx((0.1, 0.85), rel=1e-15)   # step 0.3*10-1
    assert seen[9] == pytest.approx((0.004 / 1e4, 0.95), rel=1e-12) and seen[10] == seen[9]


def test_one_cycle_cycles_adam_and_adamw_beta1_and_rmsprop_momentum():
    for optimizer in (optim.Adam([tc.Value(np.zeros(2))], betas=(0.9, 0.99)),
                      optim.AdamW([tc.Value(np.zeros(2))], betas=(0.9, 0.99))):
        scheduler = optim.OneCycleLR(optimizer, 0.01, total_steps=10, base_momentum=0.8,
                                     max_momentum=0.9)
        run = one_cycle_run(scheduler, lambda opt: opt.betas)
        assert run[0][1] == pytest.approx((0.9, 0.99)) and run[2][1] == pytest.approx((0.8, 0.99))
        assert all(betas[1] == 0.99 for _, betas in run)             # beta2 left alone
    rmsprop = optim.RMSprop([tc.Value(np.zeros(2))])
    run = one_cycle_run(optim.OneCycleLR(rmsprop, 0.01, total_steps=10),
                        lambda opt: opt.momentum)
    assert run[0][1] == pytest.approx(0.95) and run[2][1] == pytest.approx(0.85)
    plain = sgd(0.1, momentum=0.5)                  # cycle_momentum=False: momentum untouched
    run = one_cycle_run(optim.OneCycleLR(plain, 0.01, total_steps=10, cycle_momentum=False),
                        lambda opt: opt.momentum)
    assert {momentum for _, momentum in run} == {0.5}


def test_one_cycle_resumes_lr_and_momentum_from_its_state_dict(tmp_path):
    make = lambda opt: optim.OneCycleLR(opt, 0.5, total_steps=12, three_phase=True)  # noqa: E731
    whole = one_cycle_run(make(sgd(momentum=0.9)), lambda opt: opt.momentum)
    part = make(sgd(momentum=0.9))
    for _ in range(5):
        part.step()
    tc.save({"scheduler": part.state_dict()}, tmp_path / "checkpoint.npz")
    optimizer = sgd(momentum=0.9)
    resumed = make(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert (optimizer.lr, optimizer.momentum) == whole[5]
    rest = [(optimizer.lr, optimizer.momentum)]
    for _ in range(7):
        resumed.step()
        rest.append((optimizer.lr, optimizer.momentum))
    assert rest == whole[5:]


def test_one_cycle_errors():
    with pytest.raises(ValueError, match=r"OneCycleLR: total_steps is None, epochs is None and "
                                         r"steps_per_epoch is 5; expected total_steps, or both "
                                         r"epochs and steps_per_epoch"):
        optim.OneCycleLR(sgd(), 0.1, steps_per_epoch=5)
    with pytest.raises(ValueError, match=r"OneCycleLR: steps_per_epoch is 0; expected an int >= "
                                         r"1 \(the number of batches in an epoch"):
        optim.OneCycleLR(sgd(), 0.1, epochs=3, steps_per_epoch=0)
    with pytest.raises(ValueError, match=r"OneCycleLR: total_steps is 10.0; expected an int >= "
                                         r"1"):
        optim.OneCycleLR(sgd(), 0.1, total_steps=10.0)
    with pytest.raises(ValueError, match=r"OneCycleLR: max_lr is 0.0; expected a number in "
                                         r"\(0.0, inf\)"):
        optim.OneCycleLR(sgd(), 0, total_steps=10)
    with pytest.raises(ValueError, match=r"OneCycleLR: pct_start is 1.0; expected a number in "
                                         r"\[0.0, 1.0\)"):
        optim.OneCycleLR(sgd(), 0.1, total_steps=10, pct_start=1.0)
    with pytest.raises(ValueError, match=r"OneCycleLR: pct_start=0.1 of total_steps=10 makes a "
                                         r"rise of exactly 1 step.*expected pct_start \* "
                                         r"total_steps != 1"):
        optim.OneCycleLR(sgd(), 0.1, total_steps=10, pct_start=0.1)
    with pytest.raises(ValueError, match=r"OneCycleLR: pct_start is 0.6 with three_phase=True and "
                                         r"total_steps=10, so the rise and the fall that mirrors "
                                         r"it end at step 10, past the cycle's last step 9.*"
                                         r"expected 2 \* pct_start \* total_steps - 2 < "
                                         r"total_steps - 1; pass e.g. pct_start=0.3"):
        optim.OneCycleLR(sgd(), 0.1, total_steps=10, pct_start=0.6, three_phase=True)
    optim.OneCycleLR(sgd(), 0.1, total_steps=10, pct_start=0.3, three_phase=True)   # the fix
    # past one half, but the third phase still has steps: as PyTorch, accepted
    late = optim.OneCycleLR(sgd(), 1.0, total_steps=100, pct_start=0.502, three_phase=True)
    assert lrs(late, 99)[-1] == pytest.approx(1.0 / 25 / 1e4, rel=1e-12)
    nesterov = optim.SGD([tc.Value(np.zeros(2))], lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match=r"OneCycleLR: cycle_momentum=True would set the momentum "
                                         r"of SGD with nesterov=True to 0.0 \(base_momentum=0.0, "
                                         r"max_momentum=0.95\).*pass e.g. base_momentum=0.85, or "
                                         r"cycle_momentum=False"):
        optim.OneCycleLR(nesterov, 1.0, total_steps=10, base_momentum=0.0)
    optim.OneCycleLR(nesterov, 1.0, total_steps=10, base_momentum=0.85)     # either fix works
    optim.OneCycleLR(nesterov, 1.0, total_steps=10, base_momentum=0.0, cycle_momentum=False)
    with pytest.raises(ValueError, match=r"OneCycleLR: anneal_strategy is 'cosine'; expected "
                                         r"'cos' or 'linear'"):
        optim.OneCycleLR(sgd(), 0.1, total_steps=10, anneal_strategy="cosine")
    with pytest.raises(ValueError, match=r"OneCycleLR: max_momentum is 1.0; expected a number in "
                                         r"\[0.0, 1.0\)"):
        optim.OneCycleLR(sgd(), 0.1, total_steps=10, max_momentum=1.0)
    adagrad = optim.Adagrad([tc.Value(np.zeros(2))])
    with pytest.raises(ValueError, match=r"OneCycleLR: cycle_momentum=True but Adagrad has "
                                         r"neither 'betas' nor 'momentum' among its "
                                         r"hyperparameters \(lr, lr_decay.*pass "
                                         r"cycle_momentum=False"):
        optim.OneCycleLR(adagrad, 0.1, total_steps=10)
    optim.OneCycleLR(adagrad, 0.1, total_steps=10, cycle_momentum=False)


def plateau_lrs(scheduler, metrics) -> list[float]:
    """The optimizer's lr after each scheduler.step(metric)."""
    seen = []
    for metric in metrics:
        scheduler.step(metric)
        assert scheduler.get_last_lr() == [scheduler.optimizer.lr]
        seen.append(scheduler.optimizer.lr)
    return seen


def test_reduce_lr_on_plateau_after_more_than_patience_bad_epochs():
    scheduler = optim.ReduceLROnPlateau(sgd(), factor=0.5, patience=1)
    assert scheduler.best == math.inf
    # 0.99995 is no improvement on 1 (threshold 1e-4, relative); 0.5 is; 0.6 and 0.7 are not
    metrics = [1.0, 0.99995, 1.0, 0.5, 0.6, 0.7, 0.7, 0.4999]
    assert plateau_lrs(scheduler, metrics) == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    assert (scheduler.best, scheduler.num_bad_epochs, scheduler.last_epoch) == (0.4999, 0, 8)
    nan = optim.ReduceLROnPlateau(sgd(), patience=0)            # NaN is never an improvement
    assert plateau_lrs(nan, [1.0, math.nan, 0.5]) == [1.0, 0.1, 0.1] and nan.best == 0.5


def test_reduce_lr_on_plateau_mode_max_and_abs_threshold():
    scheduler = optim.ReduceLROnPlateau(sgd(), mode="max", factor=0.5, patience=1,
                                        threshold=0.1, threshold_mode="abs")
    assert scheduler.best == -math.inf
    # above best + 0.1 improves: 1.05 does not, 1.2 does, 1.25 and 1.29 not, 1.31 does
    assert plateau_lrs(scheduler, [1.0, 1.05, 1.2, 1.25, 1.29, 1.31]) == [1.0] * 4 + [0.5] * 2
    assert scheduler.best == 1.31
    relative = optim.ReduceLROnPlateau(sgd(), mode="max", factor=0.5, patience=0, threshold=0.1)
    # above best * 1.1 improves: 2.1 does not, 2.3 does
    assert plateau_lrs(relative, [2.0, 2.1, 2.3, 2.3]) == [1.0, 0.5, 0.5, 0.25]


def test_reduce_lr_on_plateau_cooldown_min_lr_and_eps():
    cooldown = optim.ReduceLROnPlateau(sgd(), factor=0.5, patience=0, cooldown=2)
    assert plateau_lrs(cooldown, [1.0] * 8) == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]
    floor = optim.ReduceLROnPlateau(sgd(), factor=0.1, patience=0, min_lr=0.05)
    assert plateau_lrs(floor, [1.0] * 5) == [1.0, 0.1, 0.05, 0.05, 0.05]
    eps = optim.ReduceLROnPlateau(sgd(), factor=0.5, patience=0, eps=0.3)
    assert plateau_lrs(eps, [1.0] * 4) == [1.0, 0.5, 0.5, 0.5]    # a cut of 0.25 <= eps: none


def test_reduce_lr_on_plateau_takes_numbers_numpy_scalars_and_one_element_values():
    scheduler = optim.ReduceLROnPlateau(sgd(), patience=0)
    plateau_lrs(scheduler, [np.float32(2.0), tc.Value(1.5), np.array(1.0), 3, 10**30])
    assert scheduler.best == 1.0 and isinstance(scheduler.best, float)
    for bad in ("0.5", None, True, np.array([1.0, 2.0]), tc.Value(np.zeros(2))):
        with pytest.raises(TypeError, match=r"ReduceLROnPlateau.step: metrics is .*; expected "
                                            r"one number, the metric of this epoch"):
            scheduler.step(bad)
    assert scheduler.last_epoch == 5                     # the refused steps changed nothing


def test_reduce_lr_on_plateau_resumes_from_its_state_dict(tmp_path):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85]
    make = lambda opt: optim.ReduceLROnPlateau(opt, factor=0.5, patience=1,  # noqa: E731
                                               cooldown=1)
    expected = plateau_lrs(make(sgd()), metrics)
    part = make(sgd())
    first = plateau_lrs(part, metrics[:4])
    state = part.state_dict()
    assert (state["best"], state["num_bad_epochs"], state["cooldown_counter"]) == (0.9, 0, 1)
    tc.save({"scheduler": state}, tmp_path / "checkpoint.npz")
    optimizer = sgd()
    resumed = make(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert optimizer.lr == first[-1]
    assert first + plateau_lrs(resumed, metrics[4:]) == expected


def test_reduce_lr_on_plateau_errors():
    for settings, message in [
            ({"mode": "minimum"}, r"mode is 'minimum'; expected 'min' or 'max'"),
            ({"threshold_mode": "relative"}, r"threshold_mode is 'relative'; expected 'rel' or "
                                             r"'abs'"),
            ({"factor": 1.0}, r"factor is 1.0; expected a number in \[0.0, 1.0\)"),
            ({"patience": -1}, r"patience is -1; expected an int >= 0 \(the bad epochs "
                               r"tolerated"),
            ({"cooldown": 1.5}, r"cooldown is 1.5; expected an int >= 0"),
            ({"min_lr": -0.1}, r"min_lr is -0.1; expected a number in \[0.0, inf\)")]:
        with pytest.raises(ValueError, match=r"ReduceLROnPlateau: " + message):
            optim.ReduceLROnPlateau(sgd(), **settings)
    scheduler = optim.ReduceLROnPlateau(sgd(), patience=0)
    plateau_lrs(scheduler, [1.0, 2.0])
    state = optim.StepLR(sgd(), step_size=1).state_dict()
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: expected a dict "
                                         r"with keys .*'best', 'num_bad_epochs' and "
                                         r"'cooldown_counter'"):
        scheduler.load_state_dict(state)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: the state dict is "
                                         r"from a StepLR"):
        scheduler.load_state_dict({**state, "best": 1.0, "num_bad_epochs": 0,
                                   "cooldown_counter": 0})
    fresh = optim.ReduceLROnPlateau(sgd()).state_dict()
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau.load_state_dict: expected a dict "
                                         r"with keys .*'best', 'num_bad_epochs' and "
                                         r"'cooldown_counter'"):
        scheduler.load_state_dict({**fresh, "extra": 1})
    with pytest.raises(ValueError, match=r"best is nan; expected a number"):
        scheduler.load_state_dict({**fresh, "best": math.nan})
    with pytest.raises(ValueError, match=r"num_bad_epochs is -2; expected an int >= 0"):
        scheduler.load_state_dict({**fresh, "num_bad_epochs": -2})
    assert (scheduler.best, scheduler.last_epoch, scheduler.optimizer.lr) == (1.0, 2, 0.1)


def test_new_schedule_errors():
    with pytest.raises(ValueError, match=r"ExponentialLR: gamma is 0.0; expected a number in "
                                         r"\(0.0, inf\)"):
        optim.ExponentialLR(sgd(), gamma=0)
    with pytest.raises(TypeError, match=r"MultiStepLR: milestones is int 30; expected a list of "
                                        r"epochs, e.g. milestones=\[30, 80\]"):
        optim.MultiStepLR(sgd(), milestones=30)
    with pytest.raises(ValueError, match=r"MultiStepLR: milestones \[0, 3, 2.5\] hold \[0, "
                                         r"2.5\]; expected epochs, ints >= 1"):
        optim.MultiStepLR(sgd(), milestones=[0, 3, 2.5])
    with pytest.raises(ValueError, match=r"MultiStepLR: gamma is -0.5"):
        optim.MultiStepLR(sgd(), milestones=[3], gamma=-0.5)
    with pytest.raises(ValueError, match=r"LinearLR: start_factor is 0.0; expected a number in "
                                         r"\(0.0, 1.0\]"):
        optim.LinearLR(sgd(), start_factor=0)
    with pytest.raises(ValueError, match=r"LinearLR: end_factor is 1.5; expected a number in "
                                         r"\[0.0, 1.0\]"):
        optim.LinearLR(sgd(), end_factor=1.5)
    with pytest.raises(ValueError, match=r"LinearLR: total_iters is 0; expected an int >= 1 "
                                         r"\(the number of epochs the line takes"):
        optim.LinearLR(sgd(), total_iters=0)
    with pytest.raises(TypeError, match=r"ExponentialLR: optimizer is a list; expected a "
                                        r"tinygrad_cnn optimizer"):
        optim.ExponentialLR([tc.Value(np.zeros(2))], gamma=0.9)
    linear = optim.LinearLR(sgd())
    with pytest.raises(ValueError, match=r"LinearLR.load_state_dict: the state dict is from a "
                                         r"ExponentialLR; expected one from a LinearLR"):
        linear.load_state_dict(optim.ExponentialLR(sgd(), 0.9).state_dict())


@pytest.mark.parametrize("make", [
    lambda opt: optim.ExponentialLR(opt, gamma=0.8),
    lambda opt: optim.MultiStepLR(opt, milestones=[2, 4, 4, 7], gamma=0.3),
    lambda opt: optim.LinearLR(opt, start_factor=0.1, end_factor=0.9, total_iters=6),
    lambda opt: optim.OneCycleLR(opt, max_lr=0.4, total_steps=9, anneal_strategy="linear"),
    lambda opt: optim.ConstantLR(opt, factor=0.4, total_iters=6),
    lambda opt: optim.PolynomialLR(opt, total_iters=7, power=1.5),
    lambda opt: optim.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01),
], ids=["ExponentialLR", "MultiStepLR", "LinearLR", "OneCycleLR", "ConstantLR", "PolynomialLR",
       "CosineAnnealingWarmRestarts"])
def test_new_schedules_resume_from_their_state_dicts(tmp_path, make):
    whole = make(sgd(0.1, momentum=0.9))
    expected = lrs(whole, 9)
    part = make(sgd(0.1, momentum=0.9))
    first = lrs(part, 4)
    tc.save({"scheduler": part.state_dict()}, tmp_path / "checkpoint.npz")
    optimizer = sgd(0.1, momentum=0.9)
    resumed = make(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert optimizer.lr == first[-1] and resumed.get_last_lr() == [first[-1]]
    assert first + lrs(resumed, 5)[1:] == expected


def test_sequential_lr_warm_up_then_step_lr_by_hand():
    optimizer = sgd(1.0)
    warmup = optim.LinearLR(optimizer, start_factor=0.25, total_iters=3)
    decay = optim.StepLR(optimizer, step_size=2, gamma=0.5)     # made at lr 0.25
    scheduler = optim.SequentialLR(optimizer, [warmup, decay], milestones=[3])
    assert scheduler.get_last_lr() == [0.25] and optimizer.lr == 0.25
    # epochs 0-2 the line, 3 StepLR's epoch 0 from the base lr 1.0 (not 0.25), halved every 2
    assert lrs(scheduler, 7) == [0.25, 0.5, 0.75, 1.0, 1.0, 0.5, 0.5, 0.25]
    assert (scheduler.last_epoch, warmup.last_epoch, decay.last_epoch) == (7, 2, 4)


def test_sequential_lr_two_milestones_by_hand():
    optimizer = sgd(2.0)
    constant = optim.LambdaLR(optimizer, lambda epoch: 0.5)      # PyTorch's ConstantLR, as it were
    exponential = optim.ExponentialLR(optimizer, gamma=0.5)
    line = optim.LinearLR(optimizer, start_factor=0.25, total_iters=2)
    scheduler = optim.SequentialLR(optimizer, [constant, exponential, line], milestones=[2, 5])
    # 0-1: 2.0 * 0.5; 2-4: 2.0 * 0.5 ** (e - 2); 5-: 2.0 * (0.25, 0.625, 1, 1, ...)
    assert lrs(scheduler, 8) == [1.0, 1.0, 2.0, 1.0, 0.5, 0.5, 1.25, 2.0, 2.0]


def test_sequential_lr_warm_up_then_cosine_as_in_its_docstring():
    optimizer = sgd(0.1)
    warmup = optim.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    cosine = optim.CosineAnnealingLR(optimizer, T_max=95)
    scheduler = optim.SequentialLR(optimizer, [warmup, cosine], milestones=[5])
    expected = ([0.1 * (0.1 + 0.9 * e / 5) for e in range(5)]
                + [0.1 * (1 + math.cos(math.pi * k / 95)) / 2 for k in range(96)])
    np.testing.assert_allclose(lrs(scheduler, 100), expected, rtol=1e-12, atol=1e-15)
    assert optimizer.lr == 0.0                     # cos(pi) is -1, exactly


def test_sequential_lr_runs_every_schedule_from_the_first_ones_base_lr():
    optimizer = sgd(0.1)
    warmup = optim.LinearLR(optimizer, start_factor=0.1, total_iters=5)   # lr 0.1 -> 0.01
    cosine = optim.CosineAnnealingLR(optimizer, T_max=10)
    constant = optim.LambdaLR(optimizer, lambda epoch: 3.0)              # lr 0.01 -> 0.03
    assert [s.base_lrs[0] for s in (warmup, cosine, constant)] == pytest.approx([0.1, 0.01,
                                                                                 0.01])
    assert optimizer.lr == pytest.approx(0.03)
    scheduler = optim.SequentialLR(optimizer, [warmup, cosine, constant], milestones=[5, 10])
    assert [s.base_lrs for s in (scheduler, warmup, cosine, constant)] == [[0.1]] * 4
    assert [optimizer.lr] == warmup.last_lrs == pytest.approx([0.01])   # the first one's epoch 0
    assert [s.last_epoch for s in (scheduler, warmup, cosine, constant)] == [0] * 4
    assert lrs(scheduler, 10)[5:] == pytest.approx([0.1, 0.1 * (1 + math.cos(math.pi / 10)) / 2,
                                                    0.1 * (1 + math.cos(math.pi / 5)) / 2,
                                                    0.1 * (1 + math.cos(3 * math.pi / 10)) / 2,
                                                    0.1 * (1 + math.cos(2 * math.pi / 5)) / 2,
                                                    0.3], rel=1e-15)
    # the rule is the first one's base lr, whatever the order the schedules were made in
    optimizer = sgd(0.1)
    warmup = optim.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = optim.StepLR(optimizer, step_size=2)                   # base_lr 0.01
    optim.SequentialLR(optimizer, [decay, warmup], milestones=[3])
    assert warmup.base_lrs == decay.base_lrs == [optimizer.lr] == pytest.approx([0.01])


def warmup_then_step(optimizer: optim.Optimizer) -> optim.SequentialLR:
    """A warm-up over 3 epochs, then StepLR, then ExponentialLR from epoch 6."""
    return optim.SequentialLR(optimizer, [optim.LinearLR(optimizer, 0.25, total_iters=3),
                                          optim.StepLR(optimizer, step_size=2, gamma=0.5),
                                          optim.ExponentialLR(optimizer, gamma=0.9)],
                              milestones=[3, 6])


@pytest.mark.parametrize("saved_at", [2, 3, 4, 6, 8])
def test_sequential_lr_resumes_from_its_state_dict(tmp_path, saved_at):
    expected = lrs(warmup_then_step(sgd(0.1)), 10)
    part = warmup_then_step(sgd(0.1))
    first = lrs(part, saved_at)
    tc.save({"scheduler": part.state_dict()}, tmp_path / "checkpoint.npz")
    optimizer = sgd(0.1)
    resumed = warmup_then_step(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert optimizer.lr == first[-1] and resumed.get_last_lr() == [first[-1]]
    assert resumed.state_dict() == part.state_dict()          # every schedule's state too
    assert first + lrs(resumed, 10 - saved_at)[1:] == expected


def test_sequential_lr_errors_and_their_fixes():
    optimizer = sgd(0.1)
    warmup = optim.LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = optim.StepLR(optimizer, step_size=2)
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers is empty; expected a list of "
                                         r"at least one schedule"):
        optim.SequentialLR(optimizer, [], milestones=[])
    with pytest.raises(TypeError, match=r"SequentialLR: schedulers is a LinearLR; expected a list "
                                        r"of schedules"):
        optim.SequentialLR(optimizer, warmup, milestones=[])
    with pytest.raises(TypeError, match=r"SequentialLR: schedulers\[1\] is a SGD; expected a "
                                        r"schedule of tinygrad_cnn.optim"):
        optim.SequentialLR(optimizer, [warmup, optimizer], milestones=[5])
    with pytest.raises(TypeError, match=r"SequentialLR: optimizer is a LinearLR; expected a "
                                        r"tinygrad_cnn optimizer"):
        optim.SequentialLR(warmup, [warmup, decay], milestones=[5])
    other = optim.StepLR(sgd(0.1), step_size=2)
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] \(StepLR\) was made on "
                                         r"another SGD than the SGD given to SequentialLR; "
                                         r"expected every schedule on the same optimizer"):
        optim.SequentialLR(optimizer, [warmup, other], milestones=[5])
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[1\] is the same LinearLR as "
                                         r"schedulers\[0\]; expected each schedule once.*make a "
                                         r"second LinearLR"):
        optim.SequentialLR(optimizer, [warmup, warmup], milestones=[5])
    plateau = optim.ReduceLROnPlateau(sgd(0.1))
    with raises_exactly(ValueError, plateau_refused("SequentialLR")):
        optim.SequentialLR(plateau.optimizer, [plateau], milestones=[])
    one_cycle = optim.OneCycleLR(sgd(0.1, momentum=0.9), max_lr=1.0, total_steps=10)
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[0\] is a OneCycleLR, which "
                                         r"is stepped after every batch.*use OneCycleLR on its "
                                         r"own"):
        optim.SequentialLR(one_cycle.optimizer, [one_cycle], milestones=[])
    inner = optim.SequentialLR(optimizer, [warmup], milestones=[])
    with raises_exactly(ValueError, nesting_refused("SequentialLR", 0, "SequentialLR")):
        optim.SequentialLR(optimizer, [inner, decay], milestones=[5])
    with pytest.raises(TypeError, match=r"SequentialLR: milestones is int 5; expected 1 "
                                        r"increasing epochs \(ints >= 1\) for 2 schedules.*e.g. "
                                        r"milestones=\[5\]"):
        optim.SequentialLR(optimizer, [warmup, decay], milestones=5)
    for milestones in ([], [5, 8], [0], [2.5], [True]):
        with pytest.raises(ValueError, match=rf"SequentialLR: milestones is "
                                             rf"{re.escape(repr(milestones))}; expected 1 "
                                             rf"increasing epochs"):
            optim.SequentialLR(optimizer, [warmup, decay], milestones=milestones)
    with pytest.raises(ValueError, match=r"milestones is \[4, 4\]; expected 2 increasing epochs "
                                         r"\(ints >= 1\) for 3 schedules.*milestones=\[5, 10\]"):
        optim.SequentialLR(optimizer, [warmup, decay, optim.ExponentialLR(optimizer, 0.9)],
                           milestones=[4, 4])
    # the errors changed nothing
    assert decay.base_lrs == [optimizer.lr] == pytest.approx([0.01])
    assert warmup.base_lrs == [0.1]
    # the fixes the messages suggest
    optim.SequentialLR(optimizer, [decay], milestones=[])
    optim.SequentialLR(optimizer, [warmup, optim.StepLR(optimizer, step_size=2)], milestones=[5])
    optim.SequentialLR(optimizer, [warmup, optim.LinearLR(optimizer, 0.1)], milestones=[5])
    optim.SequentialLR(optimizer, [warmup, decay, optim.ExponentialLR(optimizer, 0.9)],
                       milestones=[5, 10])
    plateau.step(1.0)
    one_cycle.step()


def test_sequential_lr_load_state_dict_errors_restore_nothing():
    optimizer = sgd(0.1)
    scheduler = warmup_then_step(optimizer)
    lrs(scheduler, 4)
    before, lr = scheduler.state_dict(), optimizer.lr
    with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: the state dict is from a "
                                         r"StepLR; expected one from a SequentialLR"):
        scheduler.load_state_dict(scheduler.schedulers[1].state_dict())
    with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: expected a dict with "
                                         r"keys 'type', 'settings'"):
        scheduler.load_state_dict({**before, "last_lrs": None, "extra": 1})
    with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: schedulers is None; "
                                         r"expected a list of 3 state dicts, those of this "
                                         r"SequentialLR's schedules \(LinearLR, StepLR, "
                                         r"ExponentialLR\)"):
        scheduler.load_state_dict({key: value for key, value in before.items()
                                   if key != "schedulers"})
    with pytest.raises(ValueError, match=r"schedulers is \[\{.*expected a list of 3 state dicts"):
        scheduler.load_state_dict({**before, "schedulers": before["schedulers"][:2]})
    swapped = [before["schedulers"][0], before["schedulers"][2], before["schedulers"][1]]
    with pytest.raises(ValueError, match=r"SequentialLR.load_state_dict: schedulers\[1\]: "
                                         r"StepLR.load_state_dict: the state dict is from a "
                                         r"ExponentialLR; expected one from a StepLR"):
        scheduler.load_state_dict({**before, "schedulers": swapped})
    bad_child = {**before["schedulers"][2], "last_epoch": -1}
    with pytest.raises(ValueError, match=r"schedulers\[2\]: ExponentialLR.load_state_dict: "
                                         r"last_epoch is -1; expected an int >= 0"):
        scheduler.load_state_dict({**before, "last_epoch": 9,
                                   "schedulers": [*before["schedulers"][:2], bad_child]})
    with pytest.raises(ValueError, match=r"SequentialLR: milestones is \[3\]; expected 2 "
                                         r"increasing epochs"):
        scheduler.load_state_dict({**before, "settings": {"milestones": [3]}})
    assert scheduler.state_dict() == before and optimizer.lr == lr      # nothing restored


def test_sequential_lr_step_error_changes_nothing():
    optimizer = sgd(1.0)
    falling = optim.LambdaLR(optimizer, lambda epoch: 1.0 - epoch / 2)   # < 0 from epoch 3
    scheduler = optim.SequentialLR(optimizer, [optim.LinearLR(optimizer, 0.5, total_iters=2),
                                               falling], milestones=[2])
    assert lrs(scheduler, 4) == [0.5, 0.75, 1.0, 0.5, 0.0]
    with pytest.raises(ValueError, match=r"LambdaLR: lr_lambda\(3\) returned -0.5"):
        scheduler.step()
    assert (scheduler.last_epoch, falling.last_epoch, optimizer.lr) == (4, 2, 0.0)


def test_multiplicative_lr_multiplies_the_last_lr_from_epoch_1():
    calls = []

    def factor(epoch):
        calls.append(epoch)
        return epoch / (epoch + 1)            # lr of epoch e: 1 / (e + 1)

    scheduler = optim.MultiplicativeLR(sgd(1.0), factor)
    assert scheduler.optimizer.lr == 1.0 and calls == []       # epoch 0: the optimizer's lr
    np.testing.assert_allclose(lrs(scheduler, 5), [1 / (e + 1) for e in range(6)], rtol=1e-15)
    assert calls == [1, 2, 3, 4, 5]
    halving = optim.MultiplicativeLR(sgd(2.0), [lambda epoch: 0.5], last_epoch=-1)   # a list of one
    assert lrs(halving, 4) == [2.0, 1.0, 0.5, 0.25, 0.125]
    assert halving.state_dict() == {"type": "MultiplicativeLR", "settings": {},
                                    "base_lrs": [2.0], "last_epoch": 4, "last_lrs": [0.125]}


def test_multiplicative_lr_resumes_from_its_state_dict(tmp_path):
    make = lambda opt: optim.MultiplicativeLR(opt, lambda e: 0.9 if e % 3 else 0.5)  # noqa: E731
    expected = lrs(make(sgd(0.1)), 9)
    part = make(sgd(0.1))
    first = lrs(part, 4)
    tc.save({"scheduler": part.state_dict()}, tmp_path / "checkpoint.npz")
    optimizer = sgd(0.1)
    resumed = make(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert optimizer.lr == first[-1] and first + lrs(resumed, 5)[1:] == expected


def test_multiplicative_lr_at_a_sequential_lr_milestone_multiplies_the_lr_it_takes_over():
    optimizer = sgd(1.0)
    warmup = optim.LinearLR(optimizer, start_factor=0.25, total_iters=4)
    decay = optim.MultiplicativeLR(optimizer, lambda epoch: 0.5 if epoch else 0.75)
    scheduler = optim.SequentialLR(optimizer, [warmup, decay], milestones=[3])
    # epochs 0-2 the line; epoch 3 (the milestone): the lr it takes over times lr_lambda(0),
    # 0.625 * 0.75 = 0.46875, as PyTorch's step(0)
    assert lrs(scheduler, 5) == [0.25, 0.4375, 0.625, 0.46875, 0.234375, 0.1171875]
    assert (decay.base_lrs, decay.last_epoch) == ([1.0], 2)


def test_multiplicative_lr_errors():
    with pytest.raises(TypeError, match=r"MultiplicativeLR: lr_lambda is float 0.95; expected a "
                                        r"function of the epoch that returns the factor of the "
                                        r"epoch before's lr, e.g. lr_lambda=lambda epoch: 0.95"):
        optim.MultiplicativeLR(sgd(), 0.95)
    with pytest.raises(ValueError, match=r"MultiplicativeLR: last_epoch is 4; expected -1, a "
                                         r"fresh schedule.*to resume, make the schedule with "
                                         r"last_epoch=-1, then call "
                                         r"scheduler.load_state_dict\(saved_state_dict\)"):
        optim.MultiplicativeLR(sgd(), lambda epoch: 0.9, last_epoch=4)
    with pytest.raises(TypeError, match=r"MultiplicativeLR: optimizer is a Linear; expected a "
                                        r"tinygrad_cnn optimizer"):
        optim.MultiplicativeLR(nn.Linear(2, 2), lambda epoch: 0.9)
    scheduler = optim.MultiplicativeLR(sgd(), lambda epoch: 1.0 - epoch / 2)
    scheduler.step()
    scheduler.step()                                        # factor 0 is fine
    with pytest.raises(ValueError, match=r"MultiplicativeLR: lr_lambda\(3\) returned -0.5; "
                                         r"expected a finite number >= 0, the factor of the last "
                                         r"lr at epoch 3; make lr_lambda return one for every "
                                         r"epoch"):
        scheduler.step()
    assert (scheduler.last_epoch, scheduler.optimizer.lr) == (2, 0.0)     # nothing changed
    with pytest.raises(TypeError, match=r"MultiplicativeLR: lr_lambda\(1\) returned NoneType "
                                        r"None; expected a number, the factor of the last lr at "
                                        r"epoch 1; make lr_lambda return a float for every "
                                        r"epoch"):
        optim.MultiplicativeLR(sgd(), lambda epoch: None).step()
    with pytest.raises(ValueError, match=r"lr_lambda\(1\) returned nan"):
        optim.MultiplicativeLR(sgd(), lambda epoch: math.nan).step()
    with pytest.raises(ValueError, match=r"MultiplicativeLR.load_state_dict: the state dict is "
                                         r"from a LambdaLR; expected one from a "
                                         r"MultiplicativeLR"):
        scheduler.load_state_dict(optim.LambdaLR(sgd(), lambda epoch: 1.0).state_dict())


def cyclic_run(scheduler, batches: int, momentum) -> list[tuple[float, float]]:
    """(lr, momentum) of batches 0..batches, momentum read by momentum(optimizer)."""
    optimizer = scheduler.optimizer
    seen = [(optimizer.lr, momentum(optimizer))]
    for _ in range(batches):
        scheduler.step()
        seen.append((optimizer.lr, momentum(optimizer)))
    return seen


def test_cyclic_lr_triangular_by_hand():
    """Up from 0.25 to 1.25 in 2 batches, down in 2, again; the momentum down from 0.75 to 0.5
    and back (numbers exact in binary, so the lrs are exact too)."""
    scheduler = optim.CyclicLR(sgd(7.0, momentum=0.1), base_lr=0.25, max_lr=1.25, step_size_up=2,
                               base_momentum=0.5, max_momentum=0.75)
    lr, momentum = zip(*cyclic_run(scheduler, 8, lambda opt: opt.momentum), strict=True)
    assert lr == (0.25, 0.75, 1.25, 0.75, 0.25, 0.75, 1.25, 0.75, 0.25)
    assert momentum == (0.75, 0.625, 0.5, 0.625, 0.75, 0.625, 0.5, 0.625, 0.75)
    assert scheduler.get_last_lr() == [0.25] and scheduler.base_lrs == [0.25]


def test_cyclic_lr_modes_step_sizes_and_scale_fn_by_hand():
    def lr_run(batches, **settings):
        scheduler = optim.CyclicLR(sgd(), base_lr=0.25, max_lr=1.25, **settings)
        return [lr for lr, _ in cyclic_run(scheduler, batches, lambda opt: opt.momentum)]

    # triangular2: the amplitude halves every cycle (of 2 batches here)
    assert lr_run(6, step_size_up=1, mode="triangular2") == [0.25, 1.25, 0.25, 0.75, 0.25, 0.5,
                                                             0.25]
    # exp_range: the amplitude times gamma ** batch
    assert lr_run(4, step_size_up=1, mode="exp_range", gamma=0.5) == [0.25, 0.75, 0.25, 0.375,
                                                                      0.25]
    # up in 1 batch, down in 3
    np.testing.assert_allclose(lr_run(5, step_size_up=1, step_size_down=3),
                               [0.25, 1.25, 0.25 + 2 / 3, 0.25 + 1 / 3, 0.25, 1.25], rtol=1e-15)
    # step_size_down 0: a sawtooth
    assert lr_run(5, step_size_up=4, step_size_down=0) == [0.25, 0.5, 0.75, 1.0, 0.25, 0.5]
    # scale_fn replaces the mode: by cycle (1, 2, ...) or by batch (0, 1, ...)
    assert lr_run(6, step_size_up=1, mode="exp_range", scale_fn=lambda c: 1 / c) == [
        0.25, 1.25, 0.25, 0.75, 0.25, 0.25 + 1 / 3, 0.25]
    assert lr_run(3, step_size_up=1, scale_fn=lambda t: 0.5 ** t, scale_mode="iterations") == [
        0.25, 0.75, 0.25, 0.375]
    # the lr of the optimizer is not used; max_lr may be below base_lr, as in PyTorch
    assert [lr for lr, _ in cyclic_run(optim.CyclicLR(sgd(9.0), 1.25, [0.25], 2), 4,
                                       lambda opt: opt.momentum)] == [1.25, 0.75, 0.25, 0.75, 1.25]


def test_cyclic_lr_cycles_adam_and_adamw_beta1_and_gives_sgd_a_momentum():
    for optimizer in (optim.Adam([tc.Value(np.zeros(2))], betas=(0.9, 0.99)),
                      optim.AdamW([tc.Value(np.zeros(2))], betas=(0.9, 0.99))):
        scheduler = optim.CyclicLR(optimizer, 0.25, 1.25, step_size_up=2, base_momentum=[0.5],
                                   max_momentum=(0.75,))
        run = cyclic_run(scheduler, 4, lambda opt: opt.betas)
        assert [betas for _, betas in run] == [(0.75, 0.99), (0.625, 0.99), (0.5, 0.99),
                                               (0.625, 0.99), (0.75, 0.99)]
    plain = sgd(0.1)                                  # momentum 0: gets one, as in PyTorch
    optim.CyclicLR(plain, 0.01, 0.1)
    assert (plain.lr, plain.momentum) == (0.01, 0.9)
    kept = sgd(0.1, momentum=0.5)                     # cycle_momentum=False: left alone
    run = cyclic_run(optim.CyclicLR(kept, 0.01, 0.1, 2, cycle_momentum=False), 4,
                     lambda opt: opt.momentum)
    assert {momentum for _, momentum in run} == {0.5}
    rmsprop = optim.RMSprop([tc.Value(np.zeros(2))])
    optim.CyclicLR(rmsprop, 0.01, 0.1, max_momentum=0.95)
    assert rmsprop.momentum == 0.95


def test_cyclic_lr_resumes_lr_and_momentum_from_its_state_dict(tmp_path):
    make = lambda opt: optim.CyclicLR(opt, 0.01, 0.1, step_size_up=3,  # noqa: E731
                                      step_size_down=4, mode="triangular2")
    whole = cyclic_run(make(sgd(momentum=0.9)), 20, lambda opt: opt.momentum)
    part = make(sgd(momentum=0.9))
    cyclic_run(part, 9, lambda opt: opt.momentum)
    state = part.state_dict()
    assert state["settings"] == {"max_lr": (0.1,), "step_size_up": 3, "step_size_down": 4,
                                 "mode": "triangular2", "gamma": 1.0, "scale_mode": "cycle",
                                 "cycle_momentum": True, "base_momentum": (0.8,),
                                 "max_momentum": (0.9,)}       # one per param group
    assert (state["base_lrs"], state["last_epoch"]) == ([0.01], 9)
    tc.save({"scheduler": state}, tmp_path / "checkpoint.npz")
    optimizer = sgd(momentum=0.9)
    resumed = make(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert (optimizer.lr, optimizer.momentum) == whole[9]
    assert cyclic_run(resumed, 11, lambda opt: opt.momentum) == whole[9:]


def test_cyclic_lr_errors():
    for settings, error, message in [
            ({"base_lr": -0.1}, ValueError, r"base_lr is -0.1; expected a number in \[0.0, "
                                            r"inf\)"),
            ({"max_lr": [0.1, 0.2]}, ValueError, r"max_lr is a list of 2 values but the "
                                                 r"optimizer has one param group; expected one "
                                                 r"value for every group.*pass e.g. max_lr=0.1"),
            ({"base_lr": "0.01"}, TypeError, r"base_lr is str '0.01'; expected a number"),
            ({"step_size_up": 0}, ValueError, r"step_size_up is 0; expected an int >= 1 \(the "
                                              r"number of batches in which the lr climbs"),
            ({"step_size_up": 2.5}, ValueError, r"step_size_up is 2.5; expected an int >= 1"),
            ({"step_size_down": -1}, ValueError, r"step_size_down is -1; expected an int >= 0 "
                                                 r"\(the number of batches in which the lr falls "
                                                 r"back, or None for step_size_up\)"),
            ({"mode": "triangle"}, ValueError, r"mode is 'triangle'; expected 'triangular' or "
                                               r"'triangular2' or 'exp_range'"),
            ({"gamma": "0.99"}, TypeError, r"gamma is str '0.99'; expected a number"),
            ({"scale_mode": "batch"}, ValueError, r"scale_mode is 'batch'; expected 'cycle' or "
                                                  r"'iterations'"),
            ({"scale_fn": 0.5}, TypeError, r"scale_fn is float 0.5; expected None or a function "
                                           r"that returns the scale of the amplitude, in \[0, "
                                           r"1\]"),
            ({"base_momentum": 1.0}, ValueError, r"base_momentum is 1.0; expected a number in "
                                                 r"\[0.0, 1.0\)"),
            ({"max_momentum": [0.9, 0.95]}, ValueError, r"max_momentum is a list of 2 values"),
            ({"cycle_momentum": 1}, TypeError, r"cycle_momentum is int 1; expected True or "
                                               r"False"),
            ({"last_epoch": 10}, ValueError, r"last_epoch is 10; expected -1, a fresh schedule "
                                             r"\(PyTorch resumes from last_epoch with the "
                                             r"'initial_lr' it keeps in the optimizer")]:
        arguments = {"base_lr": 0.01, "max_lr": 0.1, **settings}
        with pytest.raises(error, match=r"CyclicLR: " + message):
            optim.CyclicLR(sgd(momentum=0.9), **arguments)
    with pytest.raises(TypeError, match=r"CyclicLR: optimizer is a Linear; expected a "
                                        r"tinygrad_cnn optimizer"):
        optim.CyclicLR(nn.Linear(2, 2), 0.01, 0.1)
    adagrad = optim.Adagrad([tc.Value(np.zeros(2))])
    with pytest.raises(ValueError, match=r"CyclicLR: cycle_momentum=True but Adagrad has neither "
                                         r"'betas' nor 'momentum' among its hyperparameters "
                                         r"\(lr, lr_decay.*expected an optimizer with a momentum "
                                         r"to cycle.*pass cycle_momentum=False"):
        optim.CyclicLR(adagrad, 0.01, 0.1)
    optim.CyclicLR(adagrad, 0.01, 0.1, cycle_momentum=False)              # the fix
    nesterov = optim.SGD([tc.Value(np.zeros(2))], lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match=r"CyclicLR: cycle_momentum=True would set the momentum "
                                         r"of SGD with nesterov=True to 0.0 \(base_momentum=0.0, "
                                         r"max_momentum=0.9\).*pass e.g. base_momentum=0.8, or "
                                         r"cycle_momentum=False"):
        optim.CyclicLR(nesterov, 0.01, 0.1, base_momentum=0.0)
    optim.CyclicLR(nesterov, 0.01, 0.1)                                   # either fix works
    optim.CyclicLR(nesterov, 0.01, 0.1, base_momentum=0.0, cycle_momentum=False)
    scheduler = optim.CyclicLR(sgd(momentum=0.9), 0.01, 0.1, step_size_up=2,
                               scale_fn=lambda cycle: 1.5 if cycle > 1 else 1.0)
    cyclic_run(scheduler, 3, lambda opt: opt.momentum)
    before = (scheduler.last_epoch, scheduler.optimizer.lr, scheduler.optimizer.momentum)
    with pytest.raises(ValueError, match=r"CyclicLR: scale_fn\(2\) returned 1.5; expected a "
                                         r"number in \[0, 1\], the scale of the amplitude at "
                                         r"cycle 2; make scale_fn return one for every x >= 0"):
        scheduler.step()
    assert (scheduler.last_epoch, scheduler.optimizer.lr,
            scheduler.optimizer.momentum) == before                      # nothing changed
    by_batch = optim.CyclicLR(sgd(), 0.01, 0.1, scale_fn=lambda t: None,
                              scale_mode="iterations", cycle_momentum=False)
    with pytest.raises(TypeError, match=r"CyclicLR: scale_fn\(1\) returned NoneType None; "
                                        r"expected a number, the scale of the amplitude at batch "
                                        r"1"):
        by_batch.step()
    with pytest.raises(ValueError, match=r"CyclicLR.load_state_dict: the state dict is from a "
                                         r"OneCycleLR; expected one from a CyclicLR"):
        scheduler.load_state_dict(optim.OneCycleLR(sgd(momentum=0.9), 0.1, 10).state_dict())
    state = scheduler.state_dict()
    with pytest.raises(ValueError, match=r"CyclicLR: step_size_up is 0"):
        scheduler.load_state_dict({**state, "settings": {**state["settings"], "step_size_up": 0},
                                   "last_epoch": 0})
    assert scheduler.state_dict() == state                               # nothing restored


def test_cyclic_lr_checks_gamma_only_where_it_is_used():
    """gamma scales the amplitude in mode "exp_range" without scale_fn only; elsewhere any
    number is taken, as in PyTorch, and changes nothing."""
    def run(**settings):
        scheduler = optim.CyclicLR(sgd(momentum=0.9), 0.01, 0.1, step_size_up=2, **settings)
        return cyclic_run(scheduler, 12, lambda opt: opt.momentum)

    assert run(gamma=1.5) == run()
    assert run(mode="triangular2", gamma=-2) == run(mode="triangular2")
    halving = lambda cycle: 0.5 ** (cycle - 1)                            # noqa: E731
    assert run(mode="exp_range", gamma=2.0, scale_fn=halving) == run(mode="triangular2")
    scheduler = optim.CyclicLR(sgd(momentum=0.9), 0.01, 0.1, gamma=1.5)
    state = scheduler.state_dict()
    scheduler.load_state_dict(state)                                      # a state dict too
    refused = ("CyclicLR: gamma is {} with mode='exp_range'; expected a number in (0, 1], the "
               "factor of the amplitude after every batch (above 1 the amplitude would grow "
               "without end, past max_lr; at 0 or below it would vanish or flip sign); pass e.g. "
               "gamma=0.99")
    for gamma in (1.5, 0.0, -0.5):
        with raises_exactly(ValueError, refused.format(gamma)):
            optim.CyclicLR(sgd(momentum=0.9), 0.01, 0.1, mode="exp_range", gamma=gamma)
    with raises_exactly(ValueError, refused.format(1.5)):
        scheduler.load_state_dict({**state, "settings": {**state["settings"],
                                                         "mode": "exp_range"}})
    assert scheduler.state_dict() == state                                # nothing restored
    # the fix: the peaks, at batches 2, 6, 10, shrink by 0.99 ** 4 a cycle and stay in range
    peaks = [lr for lr, _ in run(mode="exp_range", gamma=0.99)[2::4]]
    np.testing.assert_allclose(peaks, [0.01 + 0.09 * 0.99 ** t for t in (2, 6, 10)], rtol=1e-14)
    assert 0.1 > peaks[0] > peaks[1] > peaks[2] > 0.01


def test_chained_scheduler_multiplies_the_schedules_changes_by_hand():
    optimizer = sgd(1.0)
    constant = optim.ConstantLR(optimizer, factor=0.5, total_iters=2)   # lr 0.5 at once
    exponential = optim.ExponentialLR(optimizer, gamma=0.5)
    scheduler = optim.ChainedScheduler([constant, exponential])
    assert scheduler.get_last_lr() == [0.5] and scheduler.optimizer is optimizer
    # 1 * 0.5 (ConstantLR) * 0.5 ** e, and from epoch 2 without ConstantLR's 0.5
    assert lrs(scheduler, 4) == [0.5, 0.25, 0.25, 0.125, 0.0625]
    assert [s.last_lrs for s in (constant, exponential)] == [[0.125], [0.0625]]
    assert [s.last_epoch for s in (scheduler, constant, exponential)] == [4, 4, 4]
    assert [s.base_lrs for s in (scheduler, constant, exponential)] == [[1.0]] * 3


def test_chained_scheduler_steps_cosine_by_pytorchs_recursion():
    """In a chain the cosine scales the lr it is given by the ratio of successive cosines (a
    warm-up and a cosine at once), where its closed form would replace it."""
    optimizer = sgd(1.0)
    warmup = optim.LinearLR(optimizer, start_factor=0.5, total_iters=2)
    cosine = optim.CosineAnnealingLR(optimizer, T_max=4)
    scheduler = optim.ChainedScheduler([warmup, cosine], optimizer=optimizer)
    line, half_cosine = [0.5, 0.75, 1.0, 1.0, 1.0], [(1 + math.cos(math.pi * e / 4)) / 2
                                                      for e in range(5)]
    np.testing.assert_allclose(lrs(scheduler, 4), np.multiply(line, half_cosine), rtol=1e-15,
                               atol=1e-16)
    # past T_max the cosine climbs again: by a fixed step after the minimum, then by ratios
    np.testing.assert_allclose(lrs(scheduler, 2)[1:], [(1 - math.cos(math.pi / 4)) / 2,
                                                       (1 + math.cos(math.pi * 6 / 4)) / 2],
                               rtol=1e-15)


def test_chained_scheduler_resumes_from_its_state_dict(tmp_path):
    def make(optimizer):
        return optim.ChainedScheduler([optim.LinearLR(optimizer, 0.2, total_iters=4),
                                       optim.MultiplicativeLR(optimizer, lambda e: 0.9),
                                       optim.CosineAnnealingLR(optimizer, T_max=6)])

    expected = lrs(make(sgd(0.1)), 12)
    part = make(sgd(0.1))
    first = lrs(part, 5)
    state = part.state_dict()
    assert [child["type"] for child in state["schedulers"]] == ["LinearLR", "MultiplicativeLR",
                                                                "CosineAnnealingLR"]
    tc.save({"scheduler": state}, tmp_path / "checkpoint.npz")
    optimizer = sgd(0.1)
    resumed = make(optimizer)
    resumed.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["scheduler"])
    assert optimizer.lr == first[-1] and resumed.get_last_lr() == [first[-1]]
    assert resumed.state_dict() == state                      # every schedule's state too
    assert first + lrs(resumed, 7)[1:] == expected


def test_chained_scheduler_errors_and_their_fixes():
    optimizer = sgd(0.1)
    constant = optim.ConstantLR(optimizer, factor=0.5, total_iters=3)
    decay = optim.ExponentialLR(optimizer, gamma=0.9)
    with pytest.raises(ValueError, match=r"ChainedScheduler: schedulers is empty; expected a list "
                                         r"of at least one schedule made on the optimizer, e.g. "
                                         r"ChainedScheduler\(\[warmup, decay\]\)"):
        optim.ChainedScheduler([])
    with pytest.raises(TypeError, match=r"ChainedScheduler: schedulers is a ConstantLR; expected "
                                        r"a list of schedules, e.g. \[warmup, decay\]"):
        optim.ChainedScheduler(constant)
    with pytest.raises(TypeError, match=r"ChainedScheduler: schedulers\[1\] is a SGD; expected a "
                                        r"schedule of tinygrad_cnn.optim \(StepLR, MultiStepLR, "
                                        r"ExponentialLR, MultiplicativeLR, ConstantLR, LinearLR, "
                                        r"PolynomialLR or CosineAnnealingLR\)"):
        optim.ChainedScheduler([constant, optimizer])
    with pytest.raises(TypeError, match=r"ChainedScheduler: optimizer is a ConstantLR; expected "
                                        r"a tinygrad_cnn optimizer"):
        optim.ChainedScheduler([constant, decay], optimizer=constant)
    other = optim.StepLR(sgd(0.1), step_size=2)
    with pytest.raises(ValueError, match=r"ChainedScheduler: schedulers\[1\] \(StepLR\) was made "
                                         r"on another SGD than the SGD of schedulers\[0\]; "
                                         r"expected every schedule on the same optimizer; make "
                                         r"them all from the optimizer of schedulers\[0\]"):
        optim.ChainedScheduler([constant, other])
    with pytest.raises(ValueError, match=r"ChainedScheduler: schedulers\[0\] \(ConstantLR\) was "
                                         r"made on another SGD than the SGD given to "
                                         r"ChainedScheduler"):
        optim.ChainedScheduler([constant], optimizer=other.optimizer)
    with pytest.raises(ValueError, match=r"ChainedScheduler: schedulers\[1\] is the same "
                                         r"ConstantLR as schedulers\[0\]; expected each schedule "
                                         r"once \(it would step twice in each step\); make a "
                                         r"second ConstantLR for the second use"):
        optim.ChainedScheduler([constant, constant])
    plateau = optim.ReduceLROnPlateau(sgd(0.1))
    with raises_exactly(ValueError, plateau_refused("ChainedScheduler")):
        optim.ChainedScheduler([plateau])
    inner = optim.ChainedScheduler([decay])
    for nested in (inner, optim.SequentialLR(optimizer, [optim.StepLR(optimizer, 2)], [])):
        with raises_exactly(ValueError, nesting_refused("ChainedScheduler", 1,
                                                        type(nested).__name__)):
            optim.ChainedScheduler([constant, nested])
    # the fixes the messages suggest (for nesting: test_nesting_refusals_name_what_works)
    optim.ChainedScheduler([constant, optim.ConstantLR(optimizer, 0.5, 3)])
    optim.ChainedScheduler([constant, optim.ExponentialLR(optimizer, 0.9)], optimizer=optimizer)
    plateau.step(1.0)
    assert plateau.optimizer.lr == 0.1


def test_chained_scheduler_takes_the_schedules_first_and_says_so():
    """PyTorch's ChainedScheduler takes (schedulers, optimizer=None), SequentialLR the optimizer
    first: the message for the swapped order, and for a model as optimizer, gives this order."""
    model = nn.Linear(2, 2)
    optimizer = optim.SGD(model.parameters(), lr=1.0)
    warmup = optim.LinearLR(optimizer, start_factor=0.5, total_iters=2)
    decay = optim.ExponentialLR(optimizer, gamma=0.5)
    with raises_exactly(TypeError, "ChainedScheduler: schedulers is a SGD, an optimizer; "
                                   "expected the list of schedules first and the optimizer, "
                                   "which may be left out, after it (PyTorch's order; "
                                   "SequentialLR takes the optimizer first); pass e.g. "
                                   "ChainedScheduler([warmup, decay], optimizer=optimizer)"):
        optim.ChainedScheduler(optimizer, [warmup, decay])
    with raises_exactly(TypeError, "ChainedScheduler: optimizer is a Linear; expected a "
                                   "tinygrad_cnn optimizer, e.g. ChainedScheduler([warmup, "
                                   "decay], optimizer=optimizer); pass the optimizer, not the "
                                   "model or its parameters"):
        optim.ChainedScheduler([warmup, decay], optimizer=model)
    scheduler = optim.ChainedScheduler([warmup, decay], optimizer=optimizer)     # the fix
    assert lrs(scheduler, 3) == [0.5, 0.375, 0.25, 0.125]     # (0.5, 0.75, 1, 1) * 0.5 ** e


def test_chained_scheduler_refuses_formula_schedules_with_fixes_that_work():
    """LambdaLR and CosineAnnealingWarmRestarts, an epoch's formula of base_lr, may go on their
    own, in a SequentialLR, or become a MultiplicativeLR; OneCycleLR and CyclicLR, stepped after
    every batch, go on their own."""
    for kind, make in [("LambdaLR", lambda opt: optim.LambdaLR(opt, lambda epoch: 0.5 ** epoch)),
                       ("CosineAnnealingWarmRestarts",
                        lambda opt: optim.CosineAnnealingWarmRestarts(opt, T_0=3))]:
        optimizer = sgd(1.0)
        formula = make(optimizer)
        with raises_exactly(ValueError, f"ChainedScheduler: schedulers[0] is a {kind}, whose lr "
                                        f"is a formula of base_lr and the epoch: it replaces "
                                        f"the lr the other schedules set, so that their changes "
                                        f"would last one step; expected schedules that change "
                                        f"the lr they are given; use the {kind} on its own or "
                                        f"in a SequentialLR, or MultiplicativeLR with the factor "
                                        f"from one epoch to the next"):
            optim.ChainedScheduler([formula, optim.ExponentialLR(optimizer, gamma=0.5)])
        alone = lrs(make(sgd(1.0)), 6)
        assert lrs(formula, 6) == alone                               # on its own
        optimizer = sgd(1.0)
        sequence = optim.SequentialLR(optimizer, [optim.ConstantLR(optimizer, 0.5, 2),
                                                  make(optimizer)], milestones=[2])
        assert lrs(sequence, 8) == [0.5, 0.5] + alone[:7]            # in a SequentialLR
    # LambdaLR's 0.5 ** epoch is a MultiplicativeLR of factor 0.5 from one epoch to the next
    optimizer = sgd(1.0)
    scheduler = optim.ChainedScheduler([optim.ConstantLR(optimizer, factor=0.5, total_iters=2),
                                        optim.MultiplicativeLR(optimizer, lambda epoch: 0.5)])
    assert lrs(scheduler, 4) == [0.5, 0.25, 0.25, 0.125, 0.0625]   # 0.5 ** e, halved to e = 2
    for kind, make in [("OneCycleLR", lambda: optim.OneCycleLR(sgd(momentum=0.9), 0.1,
                                                                total_steps=10)),
                       ("CyclicLR", lambda: optim.CyclicLR(sgd(momentum=0.9), 0.01, 0.1,
                                                           step_size_up=3))]:
        per_batch = make()
        with raises_exactly(ValueError, f"ChainedScheduler: schedulers[0] is a {kind}, which is "
                                        f"stepped after every batch, not every epoch, and whose "
                                        f"lr is a formula of base_lr and the batch: it replaces "
                                        f"the lr the other schedules set; expected epoch "
                                        f"schedules that change the lr they are given; use the "
                                        f"{kind} on its own"):
            optim.ChainedScheduler([per_batch, optim.ExponentialLR(per_batch.optimizer, 0.5)])
        momentum = lambda opt: opt.momentum                                   # noqa: E731
        assert cyclic_run(per_batch, 10, momentum) == cyclic_run(make(), 10, momentum)


def test_nesting_refusals_name_what_works():
    """A SequentialLR or ChainedScheduler inside either is refused; the message's alternatives
    give what the nesting was meant to: schedules one after another in one SequentialLR, and a
    warm-up during a decay in one ChainedScheduler."""
    optimizer = sgd(1.0)
    warmup = optim.LinearLR(optimizer, start_factor=0.5, total_iters=2)
    step = optim.StepLR(optimizer, step_size=2, gamma=0.5)
    decay = optim.ExponentialLR(optimizer, gamma=0.5)
    # meant: the warm-up for 3 epochs, then StepLR for 5, then ExponentialLR
    with raises_exactly(ValueError, nesting_refused("SequentialLR", 1, "SequentialLR")):
        optim.SequentialLR(optimizer, [warmup, optim.SequentialLR(optimizer, [step, decay],
                                                                  milestones=[5])],
                           milestones=[3])
    scheduler = optim.SequentialLR(optimizer, [warmup, step, decay], milestones=[3, 3 + 5])
    assert lrs(scheduler, 10) == [0.5, 0.75, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 1.0, 0.5, 0.25]
    # meant: a warm-up during the decay; the message's example, float for float
    optimizer = sgd(1.0)
    with raises_exactly(ValueError, nesting_refused("ChainedScheduler", 0, "SequentialLR")):
        optim.ChainedScheduler([optim.SequentialLR(optimizer, [optim.LinearLR(optimizer, 0.1)],
                                                   milestones=[]),
                                optim.ExponentialLR(optimizer, gamma=0.95)])
    optimizer = sgd(1.0)
    scheduler = optim.ChainedScheduler([optim.LinearLR(optimizer, start_factor=0.1,
                                                       total_iters=5),
                                        optim.ExponentialLR(optimizer, gamma=0.95)])
    np.testing.assert_allclose(lrs(scheduler, 9), [(0.1 + 0.9 * min(e, 5) / 5) * 0.95 ** e
                                                   for e in range(10)], rtol=1e-15)


def test_chained_scheduler_step_and_load_errors_change_nothing():
    optimizer = sgd(1.0)
    decay = optim.ExponentialLR(optimizer, gamma=0.5)
    falling = optim.MultiplicativeLR(optimizer, lambda epoch: 1.0 if epoch < 3 else -1.0)
    scheduler = optim.ChainedScheduler([decay, falling])
    assert lrs(scheduler, 2) == [1.0, 0.5, 0.25]
    before = scheduler.state_dict()
    with pytest.raises(ValueError, match=r"MultiplicativeLR: lr_lambda\(3\) returned -1.0"):
        scheduler.step()
    assert scheduler.state_dict() == before and optimizer.lr == 0.25   # decay did not step
    with pytest.raises(ValueError, match=r"ChainedScheduler.load_state_dict: schedulers is None; "
                                         r"expected a list of 2 state dicts, those of this "
                                         r"ChainedScheduler's schedules \(ExponentialLR, "
                                         r"MultiplicativeLR\)"):
        scheduler.load_state_dict({key: value for key, value in before.items()
                                   if key != "schedulers"})
    with pytest.raises(ValueError, match=r"ChainedScheduler.load_state_dict: schedulers\[1\]: "
                                         r"MultiplicativeLR.load_state_dict: the state dict is "
                                         r"from a ExponentialLR; expected one from a "
                                         r"MultiplicativeLR"):
        scheduler.load_state_dict({**before, "last_epoch": 9,
                                   "schedulers": [before["schedulers"][0]] * 2})
    with pytest.raises(ValueError, match=r"ChainedScheduler.load_state_dict: the state dict is "
                                         r"from a SequentialLR; expected one from a "
                                         r"ChainedScheduler"):
        scheduler.load_state_dict({**before, "type": "SequentialLR"})
    assert scheduler.state_dict() == before and optimizer.lr == 0.25   # nothing restored


def test_sequential_lr_refuses_cyclic_lr_and_chained_scheduler():
    optimizer = sgd(0.1, momentum=0.9)
    cyclic = optim.CyclicLR(optimizer, 0.01, 0.1)
    with pytest.raises(ValueError, match=r"SequentialLR: schedulers\[0\] is a CyclicLR, which is "
                                         r"stepped after every batch, not every epoch; expected "
                                         r"epoch schedules; use CyclicLR on its own"):
        optim.SequentialLR(optimizer, [cyclic], milestones=[])
    chained = optim.ChainedScheduler([optim.ExponentialLR(optimizer, 0.9)])
    with raises_exactly(ValueError, nesting_refused("SequentialLR", 1, "ChainedScheduler")):
        optim.SequentialLR(optimizer, [optim.StepLR(optimizer, 2), chained], milestones=[3])


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1), optim.Adam, optim.AdamW,
                                  optim.RMSprop, optim.Adagrad])
def test_read_only_parameters_are_refused_before_any_update(make):
    """step() updates in place: a read-only parameter (a broadcast view) is refused when the
    optimizer is made, not half-way through a step that has changed the parameters before it;
    a frozen one, which step() never touches, is welcome."""
    read_only = tc.Value(np.broadcast_to(np.float32(1.0), (2, 3)))
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(2, 3\)\) has read-only data, "
                                         r"e.g. a np.broadcast_to view; expected a writable "
                                         r"array"):
        make([tc.Value(np.zeros(3)), read_only])
    make([tc.Value(read_only.data, requires_grad=False)])


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_with_decoupled_weight_decay_is_adamw(rng, amsgrad):
    w0, grads = rng.standard_normal(4), [rng.standard_normal(4) for _ in range(4)]
    settings = dict(lr=0.05, weight_decay=0.3, amsgrad=amsgrad)
    decoupled = run(optim.Adam, w0, grads, decoupled_weight_decay=True, **settings)
    np.testing.assert_array_equal(decoupled, run(optim.AdamW, w0, grads, **settings))
    coupled = run(optim.Adam, w0, grads, **settings)
    assert not np.allclose(decoupled, coupled)          # the decay is not divided by sqrt(v)


@pytest.mark.parametrize("name, meant", [("Adam", False), ("AdamW", True)])
def test_state_dicts_saved_before_decoupled_weight_decay_load_with_what_they_meant(name, meant):
    p = tc.Value(np.zeros(2))
    saved = getattr(optim, name)([p], weight_decay=0.1).state_dict()
    del saved["param_groups"][0]["decoupled_weight_decay"]
    resumed = getattr(optim, name)([p])
    resumed.load_state_dict(saved)
    assert resumed.decoupled_weight_decay is meant and resumed.weight_decay == 0.1
