"""Tests of the optimizers Adamax, NAdam, RAdam, Adadelta, Rprop and ASGD: every rule and option
against a numpy formula written out here (the textbook form, not the library's order of
operations), PyTorch's defaults, frozen parameters, one optimizer per parameter group, state
dicts that resume bit-identically, and argument errors. The same updates against PyTorch are in
tests/torch_oracle/test_optimizers_more.py."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim


def run(optimizer_class, w0, grads, **hyperparameters):
    """Parameter data after one step per gradient in grads (grads set by hand)."""
    param = tc.Value(w0.copy())
    optimizer = optimizer_class([param], **hyperparameters)
    for grad in grads:
        param.grad = grad.copy()
        optimizer.step()
    return param.data


def adamax_by_hand(w0, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   maximize=False):
    """m: the gradients' moving average; u: the largest |g| so far, older ones decayed."""
    (b1, b2), w = betas, w0.copy()
    m, u = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * w
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g) + eps)
        w = w - lr / (1 - b1 ** t) * m / u
    return w


def nadam_by_hand(w0, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    """Dozat's NAdam with PyTorch's momentum schedule mu_t = b1 (1 - 0.96^(t psi) / 2)."""
    (b1, b2), w = betas, w0.copy()
    m, v, mu_product = np.zeros_like(w), np.zeros_like(w), 1.0
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = mu_product * mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        denom = np.sqrt(v / (1 - b2 ** t)) + eps
        w = w - lr * ((1 - mu) / (1 - mu_product) * g
                      + mu_next / (1 - mu_product * mu_next) * m) / denom
    return w


def radam_by_hand(w0, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                  decoupled_weight_decay=False, maximize=False):
    """Liu et al.'s RAdam: momentum SGD while rho_t <= 5, then Adam times the rectification."""
    (b1, b2), w = betas, w0.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        m_hat = m / (1 - b1 ** t)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        if rho_t > 5:
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                          / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            w = w - lr * m_hat * r * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + eps)
        else:
            w = w - lr * m_hat
    return w


def adadelta_by_hand(w0, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    """Zeiler's Adadelta: the step is RMS(past steps) / RMS(gradients) * g."""
    w = w0.copy()
    v, u = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * w
        v = rho * v + (1 - rho) * g ** 2
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta ** 2
        w = w - lr * delta
    return w


def rprop_by_hand(w0, grads, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0),
                  maximize=False):
    """Rprop element by element, in plain Python loops over the flattened arrays."""
    w = w0.astype(float).reshape(-1).copy()
    size, prev = np.full(w.shape, lr), np.zeros(w.shape)
    for g in grads:
        g = (-g if maximize else g).reshape(-1).copy()
        for i in range(len(w)):
            if g[i] * prev[i] > 0:
                size[i] = min(size[i] * etas[1], step_sizes[1])
            elif g[i] * prev[i] < 0:
                size[i] = max(size[i] * etas[0], step_sizes[0])
                g[i] = 0.0
            else:
                size[i] = min(max(size[i], step_sizes[0]), step_sizes[1])
            w[i] -= np.sign(g[i]) * size[i]
        prev = g
    return w.reshape(w0.shape)


def asgd_by_hand(w0, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
                 maximize=False):
    """Returns (w, ax): SGD with the decaying step eta_t = lr / (1 + lambd lr t)^alpha, and ax,
    the average of w with weight mu_t = 1 / max(1, t - t0) (ax = w while mu is 1)."""
    w, ax, eta, mu = w0.copy(), np.zeros_like(w0), lr, 1.0
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * w
        w = w * (1 - lambd * eta) - eta * g
        ax = w if mu == 1 else ax + mu * (w - ax)
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(1, t - t0)
    return w, ax


BY_HAND = {"Adamax": adamax_by_hand, "NAdam": nadam_by_hand, "RAdam": radam_by_hand,
           "Adadelta": adadelta_by_hand, "Rprop": rprop_by_hand,
           "ASGD": lambda w0, grads, **s: asgd_by_hand(w0, grads, **s)[0]}

SETTINGS = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.5, 0.8), eps=1e-3, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, betas=(0.5, 0.8), eps=1e-3, momentum_decay=0.3)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),                                   # rho_t <= 5 for the first 5 steps
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.6), eps=1e-3)),    # rectified from step 3 on
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.6), weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.6), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.6, eps=1e-3, weight_decay=0.1)),
    ("Adadelta", dict(rho=1.0, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.05, 0.2))),
    ("Rprop", dict(lr=0.1, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, lambd=0.1, t0=0, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in s.items())}" for name, s in SETTINGS]


@pytest.mark.parametrize("shape", [(3, 4), ()])
@pytest.mark.parametrize("name, settings", SETTINGS, ids=IDS)
def test_steps_match_the_formula(rng, shape, name, settings):
    w0 = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(7)]
    grads[3] = grads[2].copy()          # a step with the same signs as the one before (Rprop)
    result = run(getattr(optim, name), w0, grads, **settings)
    np.testing.assert_allclose(result, BY_HAND[name](w0, grads, **settings), rtol=1e-12,
                               atol=1e-12)
    assert not np.allclose(result, w0)


@pytest.mark.parametrize("name, defaults", [
    ("Adamax", dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False)),
    ("NAdam", dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                   decoupled_weight_decay=False, maximize=False)),
    ("RAdam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled_weight_decay=False, maximize=False)),
    ("Adadelta", dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False)),
    ("Rprop", dict(lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False)),
    ("ASGD", dict(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False)),
])
def test_defaults_are_pytorchs(name, defaults):
    optimizer = getattr(optim, name)([tc.Value(np.zeros(2))])
    assert optimizer.defaults == defaults
    assert optimizer.state_dict()["param_groups"] == [{**defaults, "params": [0]}]


def test_positional_arguments_are_in_pytorchs_order():
    p = [tc.Value(np.zeros(2))]
    assert optim.NAdam(p, 0.1, (0.8, 0.9), 1e-6, 0.2, 0.01, True).defaults == dict(
        lr=0.1, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.2, momentum_decay=0.01,
        decoupled_weight_decay=True, maximize=False)
    assert optim.ASGD(p, 0.1, 0.01, 0.5, 10, 0.2).t0 == 10.0
    assert optim.Rprop(p, 0.1, (0.4, 1.1), (0.01, 1)).step_sizes == (0.01, 1.0)
    assert optim.Adadelta(p, 0.5, 0.8, 1e-5, 0.1).rho == 0.8
    with pytest.raises(TypeError, match=r"positional argument"):
        optim.Adamax(p, 0.1, (0.9, 0.99), 1e-8, 0.0, True)   # maximize is keyword-only


def test_maximize_ascends_as_minimizing_the_negated_loss(rng):
    w0, grads = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(4)]
    for name in BY_HAND:
        up = run(getattr(optim, name), w0, grads, maximize=True)
        down = run(getattr(optim, name), w0, [-g for g in grads])
        np.testing.assert_array_equal(up, down, err_msg=name)


def test_adamax_first_step_moves_each_weight_by_lr(rng):
    w0, g = rng.standard_normal(4), rng.standard_normal(4)
    # m = (1 - b1) g, u = |g|: the step is lr / (1 - b1) * (1 - b1) g / |g| = lr sign(g)
    np.testing.assert_allclose(run(optim.Adamax, w0, [g], lr=0.1, eps=0.0),
                               w0 - 0.1 * np.sign(g), rtol=1e-14, atol=1e-15)


def test_radam_is_momentum_sgd_until_rho_exceeds_5(rng):
    """With b2 = 0.999, rho_t = 1, 1.999..., ... stays <= 5 for 5 steps: m / (1 - b1^t) steps."""
    w0, grads = rng.standard_normal(3), [rng.standard_normal(3) for _ in range(5)]
    w, m = w0.copy(), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        m = 0.9 * m + 0.1 * g
        w = w - 0.01 * m / (1 - 0.9 ** t)
    np.testing.assert_allclose(run(optim.RAdam, w0, grads, lr=0.01), w, rtol=1e-13)
    sixth = run(optim.RAdam, w0, grads + [grads[0]], lr=0.01)
    np.testing.assert_allclose(sixth, radam_by_hand(w0, grads + [grads[0]], lr=0.01),
                               rtol=1e-13)


def test_nadam_keeps_the_product_of_the_momentum_schedule():
    p = tc.Value(np.zeros(2))
    optimizer = optim.NAdam([p], momentum_decay=0.5)
    for _ in range(3):
        p.grad = np.ones(2)
        optimizer.step()
    mus = [0.9 * (1 - 0.5 * 0.96 ** (t * 0.5)) for t in (1, 2, 3)]
    state = optimizer.state_dict()["state"]["0"]
    assert sorted(state) == ["exp_avg", "exp_avg_sq", "mu_product", "step"]
    assert state["step"] == 3 and type(state["mu_product"]) is float
    assert state["mu_product"] == pytest.approx(math.prod(mus), rel=1e-15)


def test_rprop_rests_after_a_sign_flip_and_keeps_its_steps_in_range():
    p = tc.Value(np.zeros(3))
    optimizer = optim.Rprop([p], lr=0.1, etas=(0.5, 2.0), step_sizes=(0.03, 0.3))
    path = []
    for g in ([1.0, 1.0, 0.0], [1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0]):
        p.grad = np.array(g)
        optimizer.step()
        path.append(p.data.copy())
    # element 0: 0.1, then 0.2, then 0.4 -> 0.3 (the largest step), 0.3
    np.testing.assert_allclose(np.array(path)[:, 0], [-0.1, -0.3, -0.6, -0.9])
    # element 1: 0.1; the sign flips: the step halves to 0.05 and rests; after a rest, a step
    # of 0.05 (no growth: the rest counts as a zero gradient); the sign flips again: 0.025 is
    # below the smallest step, 0.03, and it rests
    np.testing.assert_allclose(np.array(path)[:, 1], [-0.1, -0.1, -0.05, -0.05])
    # element 2: a zero gradient moves nothing; then 0.1 and 0.2
    np.testing.assert_allclose(np.array(path)[:, 2], [0.0, -0.1, -0.3, -0.6])
    np.testing.assert_allclose(optimizer.state[0]["step_size"], [0.3, 0.03, 0.3])


def test_rprop_step_sizes_start_at_the_lr_of_the_first_step(rng):
    """As in PyTorch: lr only seeds each step size; changing it later changes nothing."""
    w0, grads = rng.standard_normal(4), [rng.standard_normal(4) for _ in range(4)]
    param = tc.Value(w0.copy())
    optimizer = optim.Rprop([param], lr=0.1)
    for step, g in enumerate(grads):
        optimizer.lr = 0.1 if step == 0 else 5.0
        param.grad = g
        optimizer.step()
    np.testing.assert_array_equal(param.data, run(optim.Rprop, w0, grads, lr=0.1))


@pytest.mark.parametrize("t0", [0, 2, 5.5, 100])
def test_asgd_averages_the_parameter_from_t0(rng, t0):
    w0, grads = rng.standard_normal((2, 3)), [rng.standard_normal((2, 3)) for _ in range(8)]
    param = tc.Value(w0.copy())
    optimizer = optim.ASGD([param], lr=0.1, lambd=0.01, t0=t0)
    seen = []
    for g in grads:
        param.grad = g
        optimizer.step()
        seen.append(param.data.copy())
    w, ax = asgd_by_hand(w0, grads, lr=0.1, lambd=0.01, t0=t0)
    np.testing.assert_allclose(param.data, w, rtol=1e-13)
    np.testing.assert_allclose(optimizer.state[0]["ax"], ax, rtol=1e-13)
    if t0 == int(t0):
        # mu = 1 / (t - 1 - t0) at step t: with a whole t0, ax is the plain mean of w over the
        # steps from t0 + 2 on (w itself before)
        first = min(int(t0) + 2, len(seen))
        np.testing.assert_allclose(ax, np.mean(seen[first - 1:], axis=0), rtol=1e-13)
    t = len(grads)
    assert optimizer.state[0]["mu"] == 1 / max(1, t - t0)
    assert optimizer.state[0]["eta"] == pytest.approx(0.1 / (1 + 0.01 * 0.1 * t) ** 0.75,
                                                      rel=1e-15)


def test_adadelta_step_is_the_ratio_of_rms_on_the_first_step(rng):
    g = rng.standard_normal(4)
    # v = 0.1 g^2, u = 0: delta = sqrt(eps) / sqrt(0.1 g^2 + eps) * g
    expected = -np.sqrt(1e-6) / np.sqrt(0.1 * g * g + 1e-6) * g
    np.testing.assert_allclose(run(optim.Adadelta, np.zeros(4), [g]), expected, rtol=1e-14)


ALL = [lambda ps: optim.Adamax(ps, lr=0.01, weight_decay=0.1),
       lambda ps: optim.NAdam(ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
       lambda ps: optim.RAdam(ps, lr=0.01, betas=(0.8, 0.6), weight_decay=0.1),
       lambda ps: optim.Adadelta(ps, weight_decay=0.1),
       lambda ps: optim.Rprop(ps, lr=0.01),
       lambda ps: optim.ASGD(ps, lr=0.01, t0=2, weight_decay=0.1)]
NAMES = ["Adamax", "NAdam", "RAdam", "Adadelta", "Rprop", "ASGD"]


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_updates_in_place_keep_float32_and_leave_grads_alone(rng, make):
    params = [tc.Value(rng.standard_normal((3, 2)).astype(np.float32)) for _ in range(2)]
    shared_grad = rng.standard_normal((3, 2)).astype(np.float32)
    grad_copy = shared_grad.copy()
    optimizer = make(params)
    arrays = [p.data for p in params]
    for _ in range(3):
        params[0].grad = params[1].grad = shared_grad
        optimizer.step()
    assert [p.data for p in params] == arrays and params[0].data is arrays[0]
    np.testing.assert_array_equal(shared_grad, grad_copy)
    assert all(p.dtype == np.float32 for p in params)
    for state in optimizer.state.values():
        assert state["step"] == 3
        assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


class FrozenFirst(nn.Module):
    """Linear 3 -> 4 (frozen: requires_grad=False), Tanh, Linear 4 -> 2 (trained)."""

    def __init__(self):
        self.frozen = nn.Linear(3, 4, rng=np.random.default_rng(1))
        self.act = nn.Tanh()
        self.head = nn.Linear(4, 2, rng=np.random.default_rng(2))
        for param in self.frozen.parameters():
            param.requires_grad = False

    def forward(self, x):
        return self.head(self.act(self.frozen(x)))


def train_steps(model, optimizer, batches):
    for x in batches:
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_a_frozen_layer_keeps_its_values_and_gets_no_state(rng, make):
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
    assert set(optimizer.state) == {2, 3}          # no state for the frozen parameters 0, 1


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_a_parameter_without_grad_for_a_step_is_skipped_state_and_all(rng, make):
    a, b = tc.Value(rng.standard_normal(3)), tc.Value(rng.standard_normal(3))
    b_before = b.data.copy()
    optimizer = make([a, b])
    a.grad = np.ones(3)
    optimizer.step()
    optimizer.step()
    np.testing.assert_array_equal(b.data, b_before)
    assert set(optimizer.state) == {0} and optimizer.state[0]["step"] == 2
    b.grad = np.ones(3)
    optimizer.step()
    assert optimizer.state[0]["step"] == 3 and optimizer.state[1]["step"] == 1


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_one_optimizer_per_group_trains_each_group_by_its_own_settings(rng, make):
    """PyTorch's param groups are optimizers over disjoint parameter lists here: each group's
    steps are those of an optimizer over that group alone."""
    w0 = [rng.standard_normal((2, 3)), rng.standard_normal(3)]
    grads = [[rng.standard_normal(w.shape) for w in w0] for _ in range(4)]
    groups = [[tc.Value(w0[0].copy())], [tc.Value(w0[1].copy())]]
    optimizers = [make(groups[0]), make(groups[1])]
    optimizers[1].lr = 0.05                         # the second group's own lr
    for step_grads in grads:
        for group, g in zip(groups, step_grads, strict=True):
            group[0].grad = g
        for optimizer in optimizers:
            optimizer.step()
    for i, lr in enumerate([optimizers[0].lr, 0.05]):
        alone = tc.Value(w0[i].copy())
        optimizer = make([alone])
        optimizer.lr = lr
        for step_grads in grads:
            alone.grad = step_grads[i]
            optimizer.step()
        np.testing.assert_array_equal(groups[i][0].data, alone.data)


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_state_dict_resumes_bit_identically(rng, tmp_path, make):
    batches = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(6)]
    whole = nn.Linear(3, 2, rng=np.random.default_rng(1))
    whole_optimizer = make(whole.parameters())
    train_steps(whole, whole_optimizer, batches)

    part = nn.Linear(3, 2, rng=np.random.default_rng(1))
    part_optimizer = make(part.parameters())
    train_steps(part, part_optimizer, batches[:3])
    tc.save({"model": part.state_dict(), "optimizer": part_optimizer.state_dict()},
            tmp_path / "checkpoint.npz")
    checkpoint = tc.load(tmp_path / "checkpoint.npz")
    resumed = nn.Linear(3, 2, rng=np.random.default_rng(2))
    resumed_optimizer = make(resumed.parameters())
    resumed_optimizer.lr = 123.0                       # restored from the checkpoint
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.lr == part_optimizer.lr
    assert resumed_optimizer.state_dict()["state"].keys() == {"0", "1"}
    train_steps(resumed, resumed_optimizer, batches[3:])
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    for i, state in whole_optimizer.state.items():
        for name, value in state.items():
            np.testing.assert_array_equal(resumed_optimizer.state[i][name], value)
            assert type(resumed_optimizer.state[i][name]) is type(value)


@pytest.mark.parametrize("name, entries", [
    ("NAdam", ["exp_avg", "exp_avg_sq", "mu_product", "step"]),
    ("ASGD", ["ax", "eta", "mu", "step"]),
    ("Rprop", ["prev", "step", "step_size"]),
    ("Adadelta", ["acc_delta", "square_avg", "step"]),
    ("Adamax", ["exp_avg", "exp_inf", "step"]),
    ("RAdam", ["exp_avg", "exp_avg_sq", "step"]),
])
def test_state_has_pytorchs_names_and_floats_load_from_arrays(name, entries):
    p = tc.Value(np.zeros(2))
    optimizer = getattr(optim, name)([p])
    p.grad = np.ones(2)
    optimizer.step()
    saved = optimizer.state_dict()
    assert sorted(saved["state"]["0"]) == entries
    # PyTorch keeps mu_product, eta and mu as 0-d tensors: their .numpy() loads as a float
    for key in ("mu_product", "eta", "mu"):
        if key in saved["state"]["0"]:
            saved["state"]["0"][key] = np.array(saved["state"]["0"][key])
    loaded = getattr(optim, name)([tc.Value(np.zeros(2))])
    loaded.load_state_dict(saved)
    for key, value in optimizer.state[0].items():
        assert type(loaded.state[0][key]) is type(value)
        np.testing.assert_array_equal(loaded.state[0][key], value)


def test_load_state_dict_errors_restore_nothing():
    p = tc.Value(np.zeros(3))
    source = optim.ASGD([p])
    p.grad = np.ones(3)
    source.step()
    state = source.state_dict()
    state["state"]["0"]["eta"] = "0.01"
    state["state"]["0"]["ax"] = np.zeros(2)
    target = optim.ASGD([tc.Value(np.zeros(3))], lr=0.5)
    with pytest.raises(ValueError, match=r"ASGD.load_state_dict: 2 problem\(s\), nothing was "
                                         r"restored:\n  state for parameter 0: ax has shape "
                                         r"\(2,\) but the parameter has shape \(3,\)\n  state "
                                         r"for parameter 0: eta is '0.01'; expected a finite "
                                         r"number \(a float\)"):
        target.load_state_dict(state)
    assert target.lr == 0.5 and target.state == {}
    state = source.state_dict()
    state["state"]["0"]["mu"] = math.nan
    with pytest.raises(ValueError, match=r"state for parameter 0: mu is nan; expected a finite "
                                         r"number"):
        target.load_state_dict(state)
    state = source.state_dict()
    del state["state"]["0"]["ax"]
    with pytest.raises(ValueError, match=r"state for parameter 0: found \['eta', 'mu', 'step'\] "
                                         r"but ASGD keeps \['step', 'eta', 'mu', 'ax'\]"):
        target.load_state_dict(state)
    with pytest.raises(ValueError, match=r"NAdam.load_state_dict: the state dict is from a ASGD "
                                         r"optimizer; expected one from a NAdam"):
        optim.NAdam([p]).load_state_dict(source.state_dict())
    rprop = optim.Rprop([p]).state_dict()
    rprop["param_groups"][0]["etas"] = (1.5, 1.2)
    with pytest.raises(ValueError, match=r"Rprop: etas is \(1.5, 1.2\); expected"):
        optim.Rprop([p]).load_state_dict(rprop)


@pytest.mark.parametrize("make, error, message", [
    (lambda p: optim.Adamax(p, lr=-1), ValueError,
     r"Adamax: lr is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adamax(p, betas=(0.9, 1.0)), ValueError,
     r"Adamax: betas\[1\] is 1.0; expected a number in \[0.0, 1.0\)"),
    (lambda p: optim.Adamax(p, betas=0.9), ValueError,
     r"Adamax: betas is 0.9; expected a pair \(beta1, beta2\) such as \(0.9, 0.999\)"),
    (lambda p: optim.Adamax(p, eps=-1e-8), ValueError, r"Adamax: eps is -1e-08; expected"),
    (lambda p: optim.Adamax(p, weight_decay=-0.1), ValueError,
     r"Adamax: weight_decay is -0.1; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Adamax(p, maximize=1), TypeError,
     r"Adamax: maximize is int 1; expected True or False, e.g. maximize=True"),
    (lambda p: optim.NAdam(p, betas=(-0.1, 0.9)), ValueError,
     r"NAdam: betas\[0\] is -0.1; expected a number in \[0.0, 1.0\)"),
    (lambda p: optim.NAdam(p, momentum_decay=-4e-3), ValueError,
     r"NAdam: momentum_decay is -0.004; expected a number in \[0.0, inf\)"),
    (lambda p: optim.NAdam(p, decoupled_weight_decay="yes"), TypeError,
     r"NAdam: decoupled_weight_decay is str 'yes'; expected True or False"),
    (lambda p: optim.NAdam(p, lr="0.1"), TypeError, r"NAdam: lr is str '0.1'; expected a number"),
    (lambda p: optim.RAdam(p, lr=math.nan), ValueError, r"RAdam: lr is nan; expected a number"),
    (lambda p: optim.RAdam(p, betas=(0.9, 0.999, 0.5)), ValueError,
     r"RAdam: betas is \(0.9, 0.999, 0.5\); expected a pair"),
    (lambda p: optim.RAdam(p, weight_decay=-1, decoupled_weight_decay=True), ValueError,
     r"RAdam: weight_decay is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.RAdam(p, maximize=None), TypeError,
     r"RAdam: maximize is NoneType None; expected True or False"),
    (lambda p: optim.Adadelta(p, rho=1.5), ValueError,
     r"Adadelta: rho is 1.5; expected a number in \[0.0, 1.0\]"),
    (lambda p: optim.Adadelta(p, rho=-0.1), ValueError,
     r"Adadelta: rho is -0.1; expected a number in \[0.0, 1.0\]"),
    (lambda p: optim.Adadelta(p, lr=-1.0), ValueError, r"Adadelta: lr is -1.0; expected"),
    (lambda p: optim.Adadelta(p, eps=-1.0), ValueError, r"Adadelta: eps is -1.0; expected"),
    (lambda p: optim.Rprop(p, etas=(0.5, 0.9)), ValueError,
     r"Rprop: etas is \(0.5, 0.9\); expected \(eta_minus, eta_plus\) with 0 < eta_minus < 1 < "
     r"eta_plus, the factors that shrink and grow a step, e.g. etas=\(0.5, 1.2\)"),
    (lambda p: optim.Rprop(p, etas=(0.0, 1.2)), ValueError, r"Rprop: etas is \(0.0, 1.2\)"),
    (lambda p: optim.Rprop(p, etas=1.2), ValueError,
     r"Rprop: etas is 1.2; expected a pair, e.g. etas=\(0.5, 1.2\)"),
    (lambda p: optim.Rprop(p, etas=(0.5, "1.2")), TypeError,
     r"Rprop: etas\[1\] is str '1.2'; expected a number"),
    (lambda p: optim.Rprop(p, step_sizes=(1.0, 0.1)), ValueError,
     r"Rprop: step_sizes is \(1.0, 0.1\); expected \(smallest, largest\) step with smallest "
     r"<= largest, e.g. step_sizes=\(1e-06, 50.0\)"),
    (lambda p: optim.Rprop(p, step_sizes=(-1.0, 0.1)), ValueError,
     r"Rprop: step_sizes\[0\] is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.Rprop(p, step_sizes=[1e-6]), ValueError,
     r"Rprop: step_sizes is \[1e-06\]; expected a pair"),
    (lambda p: optim.ASGD(p, lambd=-1e-4), ValueError,
     r"ASGD: lambd is -0.0001; expected a number in \[0.0, inf\)"),
    (lambda p: optim.ASGD(p, alpha=-0.75), ValueError,
     r"ASGD: alpha is -0.75; expected a number in \[0.0, inf\)"),
    (lambda p: optim.ASGD(p, t0=-1), ValueError,
     r"ASGD: t0 is -1.0; expected a number in \[0.0, inf\)"),
    (lambda p: optim.ASGD(p, weight_decay=-0.1), ValueError, r"ASGD: weight_decay is -0.1"),
    (lambda p: optim.ASGD(p, 0.01, 1e-4, 0.75, 1e6, 0.0, None), TypeError,
     r"positional argument"),
])
def test_hyperparameter_errors(make, error, message):
    with pytest.raises(error, match=message):
        make([tc.Value(np.zeros(2))])


def test_the_ends_of_the_ranges_are_accepted():
    p = tc.Value(np.ones(2))
    fixed = [optim.Adamax([p], betas=(0.0, 0.0), eps=0.0, lr=0.1),
             optim.NAdam([p], momentum_decay=0.0, lr=0.1),
             optim.RAdam([p], betas=(0.0, 0.0), lr=0.1),
             optim.Adadelta([p], rho=0.0), optim.Adadelta([p], rho=1.0),
             optim.Rprop([p], step_sizes=(0.0, 0.0), lr=0.1),
             optim.Rprop([p], etas=(1e-3, 1.001), step_sizes=(0.1, 0.1)),
             optim.ASGD([p], lambd=0.0, alpha=0.0, t0=0.0)]
    for optimizer in fixed:
        before = p.data.copy()
        p.grad = np.ones(2)
        optimizer.step()
        assert np.all(p.data <= before)


def quadratic(rng, n):
    """f(x) = x.A.x / 2 - b.x with A (n, n) positive definite, and its minimiser A^-1 b."""
    m = rng.standard_normal((n, n))
    a, b = m @ m.T + n * np.eye(n), rng.standard_normal(n)
    return a, b, np.linalg.solve(a, b)


def lbfgs_closure(optimizer, loss_fn):
    """The closure LBFGS.step takes: zero the grads, compute the loss, backward, return it."""
    def closure():
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return closure


def quadratic_loss(x, a, b):
    return 0.5 * (x * (tc.Value(a) @ x)).sum() - (tc.Value(b) * x).sum()


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_a_1d_quadratic_exactly_in_two_iterations(line_search_fn):
    """After one pair (s, y), H_diag = s / y = 1 / a, the exact inverse Hessian: the second
    iteration lands on the minimiser b / a."""
    x = tc.Value(np.array([0.0]))
    optimizer = optim.LBFGS([x], max_iter=2, max_eval=10, line_search_fn=line_search_fn)
    optimizer.step(lbfgs_closure(optimizer, lambda: quadratic_loss(x, np.array([[4.0]]),
                                                                   np.array([3.0]))))
    assert x.data[0] == 0.75
    assert optimizer.state[0]["n_iter"] == 2
    assert optimizer.state[0]["H_diag"] == 0.25


@pytest.mark.parametrize("n", [2, 3, 5, 8])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimises_a_positive_definite_quadratic(rng, n, line_search_fn):
    """Within the history (history_size >= iterations) L-BFGS is BFGS; with PyTorch's inexact
    steps (lr, or a Wolfe step) it does not end in exactly n iterations as with exact line
    searches, but within 4 n it reaches the minimiser to 1e-8."""
    a, b, minimiser = quadratic(rng, n)
    x = tc.Value(np.zeros(n))
    optimizer = optim.LBFGS([x], max_iter=4 * n, max_eval=100, tolerance_grad=1e-12,
                            tolerance_change=0.0, line_search_fn=line_search_fn)
    first = optimizer.step(lbfgs_closure(optimizer, lambda: quadratic_loss(x, a, b)))
    assert first.item() == 0.0                               # the loss at x = 0, before moving
    np.testing.assert_allclose(x.data, minimiser, rtol=0, atol=1e-8)
    assert optimizer.state[0]["n_iter"] <= 4 * n
    assert len(optimizer.state[0]["old_dirs"]) <= 4 * n


def test_lbfgs_first_step_is_steepest_descent_scaled_by_the_l1_norm(rng):
    """d = -g, t = min(1, 1 / |g|_1) lr on the very first iteration."""
    w0, g = rng.standard_normal(5), rng.standard_normal(5) * 3
    w = tc.Value(w0.copy())
    optimizer = optim.LBFGS([w], lr=0.5, max_iter=1)

    def closure():
        w.grad = g.copy()
        return 1.0
    assert optimizer.step(closure) == 1.0
    np.testing.assert_allclose(w.data, w0 - 0.5 / np.abs(g).sum() * g, rtol=1e-15)
    assert optimizer.state[0]["func_evals"] == 1          # no evaluation after the last iteration


def test_lbfgs_minimises_rosenbrock_with_strong_wolfe():
    xy = tc.Value(np.array([-1.5, 2.0]))
    optimizer = optim.LBFGS([xy], line_search_fn="strong_wolfe", max_iter=100,
                            tolerance_grad=1e-12, tolerance_change=1e-15)
    closure = lbfgs_closure(optimizer, lambda: ((1 - xy[0]) ** 2
                                                + 100 * (xy[1] - xy[0] ** 2) ** 2))
    for _ in range(5):
        optimizer.step(closure)
    np.testing.assert_allclose(xy.data, [1.0, 1.0], rtol=0, atol=1e-6)
    assert closure().item() < 1e-12


def test_lbfgs_history_keeps_the_newest_pairs(rng):
    a, b, _ = quadratic(rng, 6)
    x = tc.Value(np.zeros(6))
    optimizer = optim.LBFGS([x], max_iter=9, history_size=3, tolerance_change=0.0)
    optimizer.step(lbfgs_closure(optimizer, lambda: quadratic_loss(x, a, b)))
    state = optimizer.state[0]
    assert state["n_iter"] == 9 and len(state["old_dirs"]) == len(state["ro"]) == 3
    newest_s = state["d"] * state["t"]        # not in the history yet: the next step adds it
    assert not any(np.array_equal(s, newest_s) for s in state["old_stps"])
    for s, y, ro in zip(state["old_stps"], state["old_dirs"], state["ro"], strict=True):
        np.testing.assert_allclose(y, a @ s, rtol=1e-9, atol=1e-12)   # y = A s on a quadratic
        assert ro == 1.0 / float(y @ s)


def test_lbfgs_frozen_and_gradless_parameters(rng):
    """A parameter whose grad is None counts as a zero gradient; a frozen one never moves."""
    a, b, minimiser = quadratic(rng, 3)
    x = tc.Value(np.zeros(3))
    unused = tc.Value(np.ones(2))
    frozen = tc.Value(np.broadcast_to(np.ones(2), (2,)), requires_grad=False)   # read-only
    optimizer = optim.LBFGS([unused, x, frozen], max_iter=12, tolerance_change=0.0)
    optimizer.step(lbfgs_closure(optimizer, lambda: quadratic_loss(x, a, b)))
    np.testing.assert_allclose(x.data, minimiser, atol=1e-8)
    np.testing.assert_array_equal(unused.data, np.ones(2))
    np.testing.assert_array_equal(frozen.data, np.ones(2))
    assert optimizer.state[0]["d"].shape == (7,)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_resumes_the_same_trajectory(rng, tmp_path, line_search_fn):
    x_data, labels = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    settings = dict(max_iter=4, history_size=3, line_search_fn=line_search_fn)

    def make():
        model = nn.Linear(3, 2, rng=np.random.default_rng(1))
        model.weight.data, model.bias.data = (model.weight.data.astype(np.float64),
                                              model.bias.data.astype(np.float64))
        optimizer = optim.LBFGS(model.parameters(), **settings)
        return model, optimizer, lbfgs_closure(
            optimizer, lambda: tc.ops.cross_entropy(model(tc.Value(x_data)), labels))

    whole, whole_optimizer, whole_closure = make()
    whole_losses = [whole_optimizer.step(whole_closure).item() for _ in range(4)]
    part, part_optimizer, part_closure = make()
    for _ in range(2):
        part_optimizer.step(part_closure)
    tc.save({"model": part.state_dict(), "optimizer": part_optimizer.state_dict()},
            tmp_path / "checkpoint.npz")
    checkpoint = tc.load(tmp_path / "checkpoint.npz")
    resumed, resumed_optimizer, resumed_closure = make()
    resumed_optimizer.history_size = 50                    # restored from the checkpoint
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.history_size == 3
    assert [resumed_optimizer.step(resumed_closure).item() for _ in range(2)] == whole_losses[2:]
    for p, q in zip(whole.parameters(), resumed.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    saved, resumed_state = whole_optimizer.state_dict()["state"], resumed_optimizer.state[0]
    assert saved.keys() == {"0"} and saved["0"].keys() == resumed_state.keys()
    for name, value in saved["0"].items():
        if isinstance(value, list):
            assert len(value) == len(resumed_state[name])
            for u, v in zip(value, resumed_state[name], strict=True):
                np.testing.assert_array_equal(u, v, err_msg=name)
        else:
            np.testing.assert_array_equal(value, resumed_state[name], err_msg=name)


def test_lbfgs_state_dict_is_a_copy(rng):
    a, b, _ = quadratic(rng, 3)
    x = tc.Value(np.zeros(3))
    optimizer = optim.LBFGS([x], max_iter=3, tolerance_change=0.0)
    closure = lbfgs_closure(optimizer, lambda: quadratic_loss(x, a, b))
    optimizer.step(closure)
    saved = optimizer.state_dict()
    history = [s.copy() for s in saved["state"]["0"]["old_stps"]]
    optimizer.step(closure)
    assert len(saved["state"]["0"]["old_stps"]) == len(history)
    for s, t in zip(saved["state"]["0"]["old_stps"], history, strict=True):
        np.testing.assert_array_equal(s, t)


def test_lbfgs_closure_errors():
    w = tc.Value(np.ones(2))
    optimizer = optim.LBFGS([w])
    with pytest.raises(TypeError, match=r"LBFGS.step: got no closure; expected a function that "
                                        r"zeroes the grads, computes the loss, calls "
                                        r"loss.backward\(\) and returns the loss .*"
                                        r"optimizer.step\(closure\)"):
        optimizer.step()
    with pytest.raises(TypeError, match=r"LBFGS.step: got 3.0; expected a function"):
        optimizer.step(3.0)

    def forgets_return():
        optimizer.zero_grad()
        (w * w).sum().backward()
    with pytest.raises(TypeError, match=r"LBFGS.step: closure\(\) returned NoneType None; "
                                        r"expected the loss, a Value \(or a number\); end the "
                                        r"closure with loss.backward\(\) and `return loss`"):
        optimizer.step(forgets_return)

    def wrong_grad_shape():
        w.grad = np.ones(3)
        return 1.0
    with pytest.raises(ValueError, match=r"LBFGS.step: parameter 0 has shape \(2,\) but its "
                                         r"grad has shape \(3,\); expected equal shapes"):
        optimizer.step(wrong_grad_shape)


def test_lbfgs_returns_at_once_at_a_minimum():
    """max|g| <= tolerance_grad before any iteration: one evaluation, nothing moves."""
    w = tc.Value(np.array([1e-9, -2e-8]))
    optimizer = optim.LBFGS([w])
    loss = optimizer.step(lbfgs_closure(optimizer, lambda: (w * w).sum()))
    assert loss.item() == pytest.approx(4.01e-16)
    np.testing.assert_array_equal(w.data, [1e-9, -2e-8])
    assert optimizer.state[0] == {"func_evals": 1, "n_iter": 0}


@pytest.mark.parametrize("settings, message", [
    (dict(lr=-1), r"LBFGS: lr is -1.0; expected a number in \[0.0, inf\)"),
    (dict(max_iter=0), r"LBFGS: max_iter is 0; expected an int >= 1 \(iterations per step\(\)"),
    (dict(max_iter=2.5), r"LBFGS: max_iter is 2.5; expected an int >= 1"),
    (dict(max_eval=0), r"LBFGS: max_eval is 0; expected an int >= 1 \(closure calls per "
                       r"step\(\); None for max_iter \* 5 // 4\)"),
    (dict(tolerance_grad=-1e-7), r"LBFGS: tolerance_grad is -1e-07; expected a number"),
    (dict(tolerance_change=math.nan), r"LBFGS: tolerance_change is nan; expected a number"),
    (dict(history_size=0), r"LBFGS: history_size is 0; expected an int >= 1 \(the \(s, y\) "
                           r"pairs kept"),
    (dict(line_search_fn="backtracking"), r"LBFGS: line_search_fn is 'backtracking'; expected "
                                          r"None \(a fixed step of lr\) or 'strong_wolfe'"),
])
def test_lbfgs_hyperparameter_errors(settings, message):
    with pytest.raises(ValueError, match=message):
        optim.LBFGS([tc.Value(np.zeros(2))], **settings)


def test_lbfgs_defaults_are_pytorchs():
    optimizer = optim.LBFGS([tc.Value(np.zeros(2))], max_iter=7)
    assert optimizer.defaults == {
        "lr": 1.0, "max_iter": 7, "max_eval": 8, "tolerance_grad": 1e-7,
        "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}
    assert optim.LBFGS([tc.Value(np.zeros(2))]).max_eval == 25


def test_lbfgs_load_state_dict_errors_restore_nothing(rng):
    a, b, _ = quadratic(rng, 3)
    x = tc.Value(np.zeros(3))
    optimizer = optim.LBFGS([x], max_iter=3, max_eval=10, tolerance_change=0.0)
    optimizer.step(lbfgs_closure(optimizer, lambda: quadratic_loss(x, a, b)))
    good = optimizer.state_dict()
    other = optim.LBFGS([tc.Value(np.zeros(2)), tc.Value(np.zeros(1))])   # 3 elements too
    for state, message in [
            ({"1": good["state"]["0"]}, r"LBFGS keeps one state for all "
                                        r"parameters, under parameter 0"),
            ({"0": {**good["state"]["0"], "d": np.zeros(4)}},
             r"d is \(4,\); expected a flat array of shape \(3,\)"),
            ({"0": {**good["state"]["0"], "ro": [1.0]}},
             r"the history lists have lengths \{'old_dirs': 2, 'old_stps': 2, 'ro': 1\}"),
            ({"0": {**good["state"]["0"], "H_diag": "1"}}, r"H_diag is '1'; expected a number"),
            ({"0": {**good["state"]["0"], "n_iter": 2.0}}, r"n_iter is 2.0; expected an int")]:
        with pytest.raises(ValueError, match=r"LBFGS.load_state_dict: 1 problem\(s\), nothing "
                                             r"was restored:\n  state for parameter \d: "
                                             + message):
            other.load_state_dict({**other.state_dict(), "state": state})
        assert other.state == {}
