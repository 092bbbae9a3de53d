"""Adamax, NAdam, RAdam, Adadelta, Rprop and ASGD against PyTorch's: a small model (linear, tanh,
linear, cross-entropy) trained 24 steps by each, float64 (tight) and float32, every option on and
off, weight decay, maximize, a parameter without a gradient for a step; equal parameters after
every step and equal state dicts at the end; PyTorch's state dict loaded mid-training continues
PyTorch's trajectory, and ours loaded into PyTorch continues ours; param groups as one optimizer
per group; the learning rate changed between steps. LBFGS against PyTorch's over several step()
calls with and without strong_wolfe, a small history, early stops, and PyTorch's state dict
loaded mid-training."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops, optim

SHAPES = [(5, 4), (5,), (3, 5), (3,)]        # W1, b1, W2, b2
STEPS = 24
FROZEN = {(4, 1), (5, 1), (9, 3)}           # (step, parameter) pairs whose grad is None
FLOAT_STATE = {"mu_product", "eta", "mu"}   # 0-d tensors in PyTorch, floats here

OPTIMIZERS = [
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.02, weight_decay=0.1)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, momentum_decay=0.1, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.02, weight_decay=0.1)),
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.6), eps=1e-6, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1))),
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in s.items())}" for name, s in OPTIMIZERS]
DTYPES = {"float64": (np.float64, dict(rtol=1e-11, atol=1e-13)),
          "float32": (np.float32, dict(rtol=2e-4, atol=2e-5))}


def problem(rng, dtype):
    """Starting parameters and one batch (x (8, 4), labels (8,)) per step."""
    start = [(rng.standard_normal(shape) * 0.5).astype(dtype) for shape in SHAPES]
    batches = [(rng.standard_normal((8, 4)).astype(dtype), rng.integers(0, 3, 8))
               for _ in range(STEPS)]
    return start, batches


class Ours:
    """The model's parameters and the optimizer, on tinygrad_cnn."""

    def __init__(self, name, settings, start):
        self.params = [tc.Value(p.copy()) for p in start]
        self.optimizer = getattr(optim, name)(self.params, **settings)

    def step(self, step, x, labels):
        w1, b1, w2, b2 = self.params
        for param in self.params:
            param.grad = None
        hidden = ops.linear(tc.Value(x), w1, b1).tanh()
        ops.cross_entropy(ops.linear(hidden, w2, b2), labels).backward()
        for i, param in enumerate(self.params):
            if (step, i) in FROZEN:
                param.grad = None
        self.optimizer.step()

    def values(self):
        return [p.data for p in self.params]


class Theirs:
    """The same model and optimizer on PyTorch (param_groups: None for one group, else a list
    of lists of parameter indices with settings each)."""

    def __init__(self, torch, name, settings, start, groups=None):
        self.torch = torch
        self.params = [torch.nn.Parameter(torch.tensor(p.copy())) for p in start]
        if groups is None:
            self.optimizer = getattr(torch.optim, name)(self.params, **settings)
        else:
            self.optimizer = getattr(torch.optim, name)(
                [{"params": [self.params[i] for i in indices], **group_settings}
                 for indices, group_settings in groups], **settings)

    def step(self, step, x, labels):
        functional = self.torch.nn.functional
        w1, b1, w2, b2 = self.params
        self.optimizer.zero_grad()
        hidden = functional.linear(self.torch.tensor(x), w1, b1).tanh()
        functional.cross_entropy(functional.linear(hidden, w2, b2),
                                 self.torch.tensor(labels)).backward()
        for i, param in enumerate(self.params):
            if (step, i) in FROZEN:
                param.grad = None
        self.optimizer.step()

    def values(self):
        return [p.detach().numpy() for p in self.params]


def ours_from_torch(name, torch_state_dict):
    """PyTorch's optimizer state dict as tinygrad_cnn's: each param group's hyperparameters
    that tinygrad_cnn has and its parameter indices, step as an int, 0-d tensors as floats, and
    no SGD momentum_buffer that is None (tinygrad_cnn's SGD without momentum keeps none)."""
    names = getattr(optim, name).hyperparameter_names
    return {"type": name,
            "param_groups": [{**{key: tuple(value) if isinstance(value, (tuple, list)) else value
                                 for key, value in group.items() if key in names},
                              "params": list(group["params"])}
                             for group in torch_state_dict["param_groups"]],
            "state": {str(index): {key: int(value.item()) if key == "step"
                                   else float(value.item()) if key in FLOAT_STATE
                                   else value.detach().numpy().copy()
                                   for key, value in entry.items() if value is not None}
                      for index, entry in torch_state_dict["state"].items()
                      if any(value is not None for value in entry.values())}}


def torch_from_ours(torch, state_dict, torch_optimizer):
    """tinygrad_cnn's optimizer state dict in PyTorch's form, on torch_optimizer's own
    param_groups (for their parameter ids and the settings tinygrad_cnn has no use for)."""
    converted = torch_optimizer.state_dict()
    for group, ours in zip(converted["param_groups"], state_dict["param_groups"], strict=True):
        group.update({key: value for key, value in ours.items() if key != "params"})
    converted["state"] = {int(index): {key: torch.tensor(float(value))
                                       if key == "step" or key in FLOAT_STATE
                                       else torch.tensor(value) for key, value in entry.items()}
                          for index, entry in state_dict["state"].items()}
    return converted


def assert_same_state(ours, theirs, tolerance):
    """Our state dict equals PyTorch's: every group's hyperparameters and parameter indices,
    the same entries for the same parameters, equal counts and (within tolerance) equal buffers
    and floats."""
    assert ours["param_groups"] == theirs["param_groups"]
    assert ours["state"].keys() == theirs["state"].keys()
    for index, entry in ours["state"].items():
        assert entry.keys() == theirs["state"][index].keys(), index
        assert entry.get("step") == theirs["state"][index].get("step")     # SGD keeps none
        for key, value in entry.items():
            assert type(value) is type(theirs["state"][index][key]), key
            np.testing.assert_allclose(value, theirs["state"][index][key], **tolerance,
                                       err_msg=f"parameter {index}: {key}")


def assert_same_values(ours, theirs, tolerance, message):
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **tolerance, err_msg=f"{message}, parameter {i}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, settings", OPTIMIZERS, ids=IDS)
def test_training_matches_pytorch_step_by_step(torch, rng, name, settings, dtype):
    dtype, tolerance = DTYPES[dtype]
    start, batches = problem(rng, dtype)
    ours, theirs = Ours(name, settings, start), Theirs(torch, name, settings, start)
    for step, (x, labels) in enumerate(batches):
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), tolerance, f"step {step}")
    assert not np.allclose(ours.values()[0], start[0])
    assert_same_state(ours.optimizer.state_dict(),
                      ours_from_torch(name, theirs.optimizer.state_dict()), tolerance)
    assert ours.optimizer.state[1]["step"] == STEPS - 2        # skipped twice, as PyTorch


RESUMED = {name: (name, settings) for name, settings in reversed(OPTIMIZERS)}   # the first each
RESUMED.update({"NAdam-decoupled": OPTIMIZERS[5], "RAdam-decoupled": OPTIMIZERS[9],
                "ASGD-t0": OPTIMIZERS[18], "Rprop-etas": OPTIMIZERS[15]})
TIGHT = DTYPES["float64"][1]


@pytest.mark.parametrize("name, settings", RESUMED.values(), ids=RESUMED.keys())
def test_pytorchs_state_dict_loaded_mid_training_continues_its_trajectory(torch, rng, tmp_path,
                                                                          name, settings):
    start, batches = problem(rng, np.float64)
    theirs = Theirs(torch, name, settings, start)
    for step, (x, labels) in enumerate(batches[:10]):
        theirs.step(step, x, labels)
    tc.save({"optimizer": ours_from_torch(name, theirs.optimizer.state_dict())},
            tmp_path / "checkpoint.npz")
    ours = Ours(name, {}, theirs.values())                 # the defaults, until loaded
    ours.optimizer.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["optimizer"])
    for step, (x, labels) in enumerate(batches[10:], start=10):
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")
    assert_same_state(ours.optimizer.state_dict(),
                      ours_from_torch(name, theirs.optimizer.state_dict()), TIGHT)


@pytest.mark.parametrize("name, settings", RESUMED.values(), ids=RESUMED.keys())
def test_our_state_dict_loaded_into_pytorch_continues_our_trajectory(torch, rng, name,
                                                                     settings):
    start, batches = problem(rng, np.float64)
    ours = Ours(name, settings, start)
    for step, (x, labels) in enumerate(batches[:10]):
        ours.step(step, x, labels)
    theirs = Theirs(torch, name, {}, ours.values())
    theirs.optimizer.load_state_dict(torch_from_ours(torch, ours.optimizer.state_dict(),
                                                     theirs.optimizer))
    for step, (x, labels) in enumerate(batches[10:], start=10):
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")


GROUPS = {"Adamax": dict(lr=0.05, weight_decay=0.1), "NAdam": dict(lr=0.05, momentum_decay=0.1),
          "RAdam": dict(lr=0.05, betas=(0.5, 0.6)), "Adadelta": dict(lr=0.5, rho=0.5),
          "Rprop": dict(lr=0.05, etas=(0.4, 1.1)), "ASGD": dict(lr=0.05, t0=3)}


@pytest.mark.parametrize("name", GROUPS)
def test_pytorchs_param_groups_are_one_optimizer_per_group(torch, rng, name):
    """A PyTorch optimizer with two param groups (the first layer with the defaults, the second
    with settings of its own) steps as two tinygrad_cnn optimizers, one per group."""
    start, batches = problem(rng, np.float64)
    theirs = Theirs(torch, name, {}, start, groups=[([0, 1], {}), ([2, 3], GROUPS[name])])
    ours = Ours(name, {}, start)
    second = getattr(optim, name)(ours.params[2:], **GROUPS[name])
    ours.optimizer = getattr(optim, name)(ours.params[:2])
    for step, (x, labels) in enumerate(batches):
        theirs.step(step, x, labels)
        ours.step(step, x, labels)       # the first group's step() and, next, the second's
        second.step()
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")


@pytest.mark.parametrize("name, settings", RESUMED.values(), ids=RESUMED.keys())
def test_learning_rate_changed_between_steps(torch, rng, name, settings):
    start, batches = problem(rng, np.float64)
    ours, theirs = Ours(name, settings, start), Theirs(torch, name, settings, start)
    for step, (x, labels) in enumerate(batches):
        lr = 0.05 * 0.9 ** step
        ours.optimizer.lr = theirs.optimizer.param_groups[0]["lr"] = lr
        ours.step(step, x, labels)
        theirs.step(step, x, labels)
        assert_same_values(ours.values(), theirs.values(), TIGHT, f"step {step}")


LBFGS_SETTINGS = [
    dict(max_iter=4),
    dict(max_iter=4, line_search_fn="strong_wolfe"),
    dict(max_iter=6, history_size=2, lr=0.5),                        # the history trimmed
    dict(max_iter=5, history_size=2, line_search_fn="strong_wolfe"),
    dict(max_iter=1, lr=0.3),
    dict(max_iter=20, max_eval=7, line_search_fn="strong_wolfe"),    # max_eval ends each step
    dict(max_iter=20, tolerance_change=1e-3),                        # the loss change stops it
    dict(max_iter=20, tolerance_grad=2e-2, line_search_fn="strong_wolfe"),   # max|g| stops it
]
LBFGS_IDS = ["-".join(f"{k}={v}" for k, v in s.items()) for s in LBFGS_SETTINGS]
LBFGS_CALLS = 4


class LBFGSPair:
    """The model's parameters under our LBFGS and PyTorch's, with each one's closure over the
    whole batch (x, labels); parameter 1 (b1) is left out of the loss, so its grad is None."""

    def __init__(self, torch, settings, start, x, labels):
        self.torch, self.x, self.labels = torch, x, labels
        self.ours = [tc.Value(p.copy()) for p in start]
        self.theirs = [torch.nn.Parameter(torch.tensor(p.copy())) for p in start]
        self.optimizer = optim.LBFGS(self.ours, **settings)
        self.torch_optimizer = torch.optim.LBFGS(self.theirs, **settings)

    def our_closure(self):
        self.optimizer.zero_grad()
        w1, _, w2, b2 = self.ours
        hidden = ops.linear(tc.Value(self.x), w1).tanh()
        loss = ops.cross_entropy(ops.linear(hidden, w2, b2), self.labels)
        loss.backward()
        return loss

    def their_closure(self):
        functional = self.torch.nn.functional
        self.torch_optimizer.zero_grad()
        w1, _, w2, b2 = self.theirs
        hidden = functional.linear(self.torch.tensor(self.x), w1).tanh()
        loss = functional.cross_entropy(functional.linear(hidden, w2, b2),
                                        self.torch.tensor(self.labels))
        loss.backward()
        return loss

    def step(self):
        return (self.optimizer.step(self.our_closure).item(),
                self.torch_optimizer.step(self.their_closure).item())

    def assert_same(self, message):
        ours, theirs = self.optimizer.state[0], self.torch_optimizer.state[self.theirs[0]]
        assert (ours["func_evals"], ours["n_iter"]) == (theirs["func_evals"],
                                                        theirs["n_iter"]), message
        assert len(ours.get("old_dirs", [])) == len(theirs.get("old_dirs", [])), message
        assert_same_values([p.data for p in self.ours],
                           [p.detach().numpy() for p in self.theirs], LBFGS_TOLERANCE, message)


# up to 20 iterations a step on a nearly separable batch (growing weights) compound the last
# bits of the dot products; equal counts of evaluations and iterations show the same branches
LBFGS_TOLERANCE = dict(rtol=1e-7, atol=1e-9)


def lbfgs_problem(rng):
    start, _ = problem(rng, np.float64)
    return start, rng.standard_normal((16, 4)), rng.integers(0, 3, 16)


@pytest.mark.parametrize("settings", LBFGS_SETTINGS, ids=LBFGS_IDS)
def test_lbfgs_matches_pytorch_step_by_step(torch, rng, settings):
    pair = LBFGSPair(torch, settings, *lbfgs_problem(rng))
    losses = []
    for call in range(LBFGS_CALLS):
        ours, theirs = pair.step()
        np.testing.assert_allclose(ours, theirs, **LBFGS_TOLERANCE, err_msg=f"step() {call}")
        pair.assert_same(f"step() {call}")
        losses.append(ours)
    assert losses[-1] < losses[0]
    np.testing.assert_array_equal(pair.ours[1].data, pair.theirs[1].detach().numpy())
    state = pair.torch_optimizer.state[pair.theirs[0]]
    if settings.get("history_size") == 2:
        assert state["n_iter"] > 3 and len(state["old_dirs"]) == 2      # trimmed, as ours


def test_lbfgs_stops_where_pytorch_stops(torch, rng):
    """The early stops: max|g| <= tolerance_grad at once (nothing moves, one evaluation), and
    tolerance_change on the step or the slope."""
    for settings in [dict(tolerance_grad=10.0), dict(tolerance_change=10.0),
                     dict(tolerance_change=1e-2, line_search_fn="strong_wolfe")]:
        start, x, labels = lbfgs_problem(np.random.default_rng(0))
        pair = LBFGSPair(torch, settings, start, x, labels)
        for call in range(3):
            pair.step()
            pair.assert_same(f"{settings}, step() {call}")
        ours = pair.optimizer.state[0]
        assert ours["n_iter"] < 3 * 20, settings
        if settings == dict(tolerance_grad=10.0):
            assert ours == {"func_evals": 3, "n_iter": 0}
            np.testing.assert_array_equal(pair.ours[0].data, start[0])


def lbfgs_from_torch(torch_state_dict):
    """PyTorch's LBFGS state dict as tinygrad_cnn's: the same names under parameter 0, with
    tensors as arrays (flat vectors) or floats (0-d: t, H_diag, ro and al)."""
    (group,) = torch_state_dict["param_groups"]

    def plain(value):
        if isinstance(value, list):
            return [plain(item) for item in value]
        if hasattr(value, "detach"):
            value = value.detach().numpy().copy()
            return value.item() if value.ndim == 0 else value
        return value
    return {"type": "LBFGS",
            "param_groups": [{**{key: group[key] for key in optim.LBFGS.hyperparameter_names},
                              "params": list(group["params"])}],
            "state": {str(index): {key: plain(value) for key, value in entry.items()}
                      for index, entry in torch_state_dict["state"].items()}}


@pytest.mark.parametrize("settings", LBFGS_SETTINGS[:4], ids=LBFGS_IDS[:4])
def test_pytorchs_lbfgs_state_dict_loaded_mid_training_continues_its_trajectory(
        torch, rng, tmp_path, settings):
    start, x, labels = lbfgs_problem(rng)
    pair = LBFGSPair(torch, settings, start, x, labels)
    for _ in range(2):
        pair.torch_optimizer.step(pair.their_closure)
    tc.save({"optimizer": lbfgs_from_torch(pair.torch_optimizer.state_dict())},
            tmp_path / "checkpoint.npz")
    for ours, theirs in zip(pair.ours, pair.theirs, strict=True):
        ours.data = theirs.detach().numpy().copy()
    pair.optimizer = optim.LBFGS(pair.ours)                # the defaults, until loaded
    pair.optimizer.load_state_dict(tc.load(tmp_path / "checkpoint.npz")["optimizer"])
    assert pair.optimizer.max_iter == settings["max_iter"]
    for call in range(2, LBFGS_CALLS):
        ours, theirs = pair.step()
        np.testing.assert_allclose(ours, theirs, **LBFGS_TOLERANCE, err_msg=f"step() {call}")
        pair.assert_same(f"step() {call}")
