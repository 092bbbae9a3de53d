"""Tests of tinygrad_cnn.optim: SGD, Adam, AdamW, RMSprop and Adagrad updates, every option,
against numpy formulas written out here, frozen parameters, state dicts that resume
bit-identically, the learning-rate schedules, argument errors. The same updates against PyTorch
are in tests/torch_oracle/test_optimizers.py, the schedules' sequences in
tests/torch_oracle/test_layers.py."""

import math

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


def sgd_by_hand(w0, grads, lr, momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False):
    """SGD's update written out: d = g + wd w; the buffer starts at d, then b = m b + (1 - damp) d;
    the step is d + m b with Nesterov momentum, else b (d without momentum)."""
    w, buf = w0.copy(), None
    for g in grads:
        d = g + weight_decay * w
        if momentum:
            buf = d if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
    return w


SGD_SETTINGS = [dict(momentum=0.8, weight_decay=0.01),
                dict(momentum=0.8, dampening=0.3),
                dict(momentum=0.9, nesterov=True),
                dict(momentum=0.5, weight_decay=0.1, nesterov=True)]


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
                 amsgrad=False):
    """Adam's update written out: weight decay added to g (Adam), or taken off w before the
    step with g left alone (AdamW, decoupled); with amsgrad the largest v so far replaces v."""
    w, m, v, v_max = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for t, g in enumerate(grads, start=1):
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


def rmsprop_by_hand(w0, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                    centered=False):
    """RMSprop's update written out: v = alpha v + (1 - alpha) g^2, divided into g as sqrt(v),
    or sqrt(v - a^2) with a the running mean of g (centered); momentum sums the steps."""
    w, v, a, buf = w0.copy(), np.zeros_like(w0), np.zeros_like(w0), np.zeros_like(w0)
    for g in grads:
        g = g + weight_decay * w
        v = alpha * v + (1 - alpha) * g ** 2
        a = alpha * a + (1 - alpha) * g
        step = g / (np.sqrt(v - a ** 2 if centered else v) + eps)
        buf = momentum * buf + step
        w = w - lr * buf
    return w


RMSPROP_SETTINGS = [dict(), dict(alpha=0.9, eps=1e-6), dict(momentum=0.9),
                    dict(centered=True), dict(centered=True, momentum=0.5, weight_decay=0.1)]


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
                    eps=1e-10):
    """Adagrad's update written out: the sum of all squared gradients so far (from
    initial_accumulator_value) divided into g as sqrt(sum), at lr / (1 + (t - 1) lr_decay)."""
    w, total = w0.copy(), np.full_like(w0, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * w
        total = total + g ** 2
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(total) + eps)
    return w


ADAGRAD_SETTINGS = [dict(), dict(lr_decay=0.5), dict(initial_accumulator_value=0.3, eps=1e-6),
                    dict(lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=1.0)]


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
    ("SGD", dict(momentum=0.0, weight_decay=0.0, dampening=0.0, nesterov=False)),
    ("Adam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)),
    ("AdamW", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)),
    ("RMSprop", dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                     centered=False)),
    ("Adagrad", dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                     eps=1e-10)),
])
def test_defaults_are_pytorchs(name, defaults):
    settings = {"lr": 0.1} if name == "SGD" else {}
    hyperparameters = getattr(optim, name)([tc.Value(np.zeros(2))], **settings).state_dict()[
        "hyperparameters"]
    assert hyperparameters == {**settings, **defaults}


def test_adamw_default_weight_decay_is_pytorchs():
    assert optim.AdamW([tc.Value(np.zeros(2))]).weight_decay == 0.01


def test_adam_first_step_moves_each_weight_by_lr(problem):
    w0, (g1, _, _) = problem
    # after one step m_hat = g, v_hat = g^2: the update is lr * g / (|g| + eps) ~ lr * sign(g)
    result = run(optim.Adam, w0, [g1], lr=0.01, eps=0.0)
    np.testing.assert_allclose(result, w0 - 0.01 * np.sign(g1), rtol=1e-14, atol=1e-15)


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
            lambda ps: optim.Adagrad(ps, weight_decay=0.01, initial_accumulator_value=0.1)]


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
           lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2)]


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
    assert state["hyperparameters"] == {"lr": 0.1, "betas": (0.5, 0.9), "eps": 1e-6,
                                        "weight_decay": 0.0, "amsgrad": False}
    assert list(state["state"]) == ["0"] and state["state"]["0"]["step"] == 1
    np.testing.assert_allclose(state["state"]["0"]["exp_avg"], [0.5, -1.0, 2.0])
    np.testing.assert_allclose(state["state"]["0"]["exp_avg_sq"], [0.1, 0.4, 1.6])
    optimizer.step()
    np.testing.assert_allclose(state["state"]["0"]["exp_avg"], [0.5, -1.0, 2.0])
    assert optim.SGD([p], lr=0.1).state_dict() == {
        "type": "SGD", "hyperparameters": {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0,
                                           "dampening": 0.0, "nesterov": False},
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
    with pytest.raises(ValueError, match=r"expected a dict with keys 'type', 'hyperparameters' "
                                         r"and 'state'"):
        optim.Adam([p, q]).load_state_dict({"state": {}})
    state = source.state_dict()
    del state["hyperparameters"]["momentum"]
    with pytest.raises(ValueError, match=r"hyperparameters .*; expected a dict with keys lr, "
                                         r"momentum, weight_decay"):
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
    assert state["hyperparameters"][option] == off and buffer in state["state"]["0"]
    resumed = make([part], lr=0.5)
    resumed.load_state_dict(state)
    steps(resumed, part, 3, 6)
    np.testing.assert_array_equal(part.data, whole.data)


def test_state_dicts_saved_before_the_new_options_still_load():
    """A checkpoint from before dampening, nesterov and amsgrad existed meant them off."""
    p = tc.Value(np.zeros(2))
    p.grad = np.ones(2)
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    sgd.step()
    old = sgd.state_dict()
    del old["hyperparameters"]["dampening"], old["hyperparameters"]["nesterov"]
    resumed = optim.SGD([p], lr=0.5, momentum=0.9, nesterov=True)
    resumed.load_state_dict(old)
    assert (resumed.lr, resumed.dampening, resumed.nesterov) == (0.1, 0.0, False)
    np.testing.assert_array_equal(resumed.state[0]["momentum_buffer"],
                                  sgd.state[0]["momentum_buffer"])
    adam = optim.Adam([p], lr=0.1)
    adam.step()
    old = adam.state_dict()
    del old["hyperparameters"]["amsgrad"]
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
             optim.Adagrad([p], lr_decay=0.0, initial_accumulator_value=0.0, eps=1.0)]
    for optimizer in fixed:
        before = p.data.copy()
        p.grad = np.ones(2)
        optimizer.step()
        assert np.all(p.data < before)
    assert fixed[4].amsgrad is True


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
