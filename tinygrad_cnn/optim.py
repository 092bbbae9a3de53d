"""Optimizers `SGD`, `Adam`, `AdamW`, `RMSprop`, `Adagrad`, `Adamax`, `NAdam`, `RAdam`,
`Adadelta`, `Rprop`, `ASGD` and `LBFGS` (with its strong Wolfe line search) with PyTorch's
options, param groups, update rules and state names, and PyTorch's learning-rate schedules
`StepLR`, `CosineAnnealingLR`, `ExponentialLR`, `MultiStepLR`, `LambdaLR`, `MultiplicativeLR`,
`LinearLR`, `ConstantLR`, `PolynomialLR`, `CosineAnnealingWarmRestarts`, `OneCycleLR`,
`CyclicLR`, `ReduceLROnPlateau`, `SequentialLR` (one schedule after another) and
`ChainedScheduler` (several at once). An optimizer's `step()` updates the parameters' data in
place from their gradients (LBFGS's `step(closure)` evaluates the loss itself, as often as it
needs); a scheduler's `step()` sets the next epoch's (OneCycleLR, CyclicLR: batch's) learning
rate."""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

from tinygrad_cnn.value import Value

# What an optimizer takes: Values (one param group), or dicts, one per group, each with "params"
Params = Iterable[Value] | Iterable[dict]


class Optimizer:
    """Base class: holds the parameters in groups, their per-parameter state and the
    hyperparameters of every group.

    `params` is an iterable of Values (one group), or of dicts, one per group, each with
    "params" (its Values) and any hyperparameters of its own, e.g. {"params":
    model.classifier.parameters(), "lr": 1e-3}; the rest come from the constructor's, as in
    PyTorch. `param_groups` is the list of groups: dicts holding "params" (a list of Values) and
    every hyperparameter; `defaults`, the constructor's hyperparameters. Reading a hyperparameter
    as an attribute (`optimizer.lr`) gives its value when every group holds the same one, and is
    an error when they differ; setting one (`optimizer.lr = 1e-4`) sets it in every group, for
    the next step.

    Subclasses name their hyperparameters in `hyperparameter_names` and check them in
    `_checked_hyperparameters`, name every entry a parameter's state may hold in `state_names`,
    and define `_update(param, grad, state, group)`, which changes `param.data` in place by the
    hyperparameters of the parameter's group. A state holds nothing before the parameter's first
    update, then at least `required_state_names`; the other buffers belong to options (SGD's
    momentum, Adam's amsgrad) and `_update` makes each when it first needs it, so an option
    switched on or off between steps leaves states that still save and load. Buffers are arrays
    of the parameter's shape and dtype, updated in place; counts are ints. States are keyed by
    the parameter's index over all the groups in order (PyTorch's numbering).
    """

    hyperparameter_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()
    required_state_names: tuple[str, ...] = ()
    # hyperparameters added since state dicts were first saved, with the values older ones meant
    added_hyperparameters: dict = {}

    def __init__(self, params: Params, **defaults):
        self.defaults = self._checked_hyperparameters(**defaults)
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}     # parameter index -> its buffers, made on first use
        for group in _param_groups(type(self).__name__, params):
            self.add_param_group(group)

    def _checked_hyperparameters(self, **hyperparameters) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_hyperparameters")

    def _update(self, param: Value, grad: np.ndarray, state: dict, group: dict) -> None:
        """One step of the rule for `param`, given its gradient (already negated when the
        group has maximize), its state and its group's hyperparameters."""
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group: a dict with "params" (a Value or an iterable of Values, none of them in
        another group) and any hyperparameters of its own; the others are `defaults`. The
        group's hyperparameters are checked as the constructor's are."""
        owner = f"{type(self).__name__}: param group {len(self.param_groups)}"
        names = ", ".join(self.hyperparameter_names)
        example = '{"params": model.classifier.parameters(), "lr": 1e-3}'
        if not isinstance(param_group, dict):
            raise TypeError(f"{owner} is a {type(param_group).__name__}; expected a dict with "
                            f"'params' and any of {names}, e.g. {example}")
        if "params" not in param_group:
            raise ValueError(f"{owner} has keys {sorted(param_group)} but no 'params'; expected "
                             f"a dict with 'params', the group's Values, and any of {names} "
                             f"to override, e.g. {example}")
        unknown = sorted(set(param_group) - {"params", *self.hyperparameter_names})
        if unknown:
            raise ValueError(f"{owner} has unknown key(s) {unknown}; expected 'params' and any "
                             f"of the {type(self).__name__} hyperparameters {names}")
        params = param_group["params"]
        params = _checked_params(owner, [params] if isinstance(params, Value) else params)
        for i, param in enumerate(params):
            for k, group in enumerate(self.param_groups):
                if any(param is other for other in group["params"]):
                    raise ValueError(f"{owner}: parameter {i} (shape {param.shape}) is in param "
                                     f"group {k} already; expected each parameter in one group "
                                     f"only, as in PyTorch; leave it out of one of them")
        overrides = {key: value for key, value in param_group.items() if key != "params"}
        hyperparameters = self._checked_hyperparameters(**{**self.defaults, **overrides})
        self.param_groups.append({"params": params, **hyperparameters})

    @property
    def params(self) -> list[Value]:
        """Every group's parameters, group after group: parameter i of the state is params[i]."""
        return [param for group in self.param_groups for param in group["params"]]

    def _indexed_params(self) -> Iterable[tuple[int, Value, dict]]:
        """(index over all groups, parameter, its group) for every parameter, in order."""
        params_and_groups = ((param, group) for group in self.param_groups
                             for param in group["params"])
        for i, (param, group) in enumerate(params_and_groups):
            yield i, param, group

    # The hyperparameters live in the groups; `optimizer.lr` reads or sets them all at once.
    def __getattr__(self, name: str):
        groups = self.__dict__.get("param_groups")
        if groups is None or name not in type(self).hyperparameter_names:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        values = [group[name] for group in groups]
        if any(value != values[0] for value in values):
            raise ValueError(f"{type(self).__name__}.{name}: the {len(groups)} param groups hold "
                             f"different values {values}; expected one value to read as "
                             f"optimizer.{name}; read a group's, optimizer.param_groups[i]"
                             f"[{name!r}]")
        return values[0]

    def __setattr__(self, name: str, value) -> None:
        if name in type(self).hyperparameter_names:
            for group in self.param_groups:
                group[name] = value
        else:
            super().__setattr__(name, value)

    def step(self) -> None:
        """Update every parameter that has a gradient; those whose grad is None (frozen with
        requires_grad=False, or unused by the loss) are skipped, as PyTorch skips them."""
        for i, param, group in self._indexed_params():
            if param.grad is None:
                continue
            grad = np.asarray(param.grad, dtype=param.dtype)
            if grad.shape != param.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {i} has shape {param.shape} but its "
                    f"grad has shape {grad.shape}; expected equal shapes")
            if group.get("maximize"):   # PyTorch's maximize: ascend f by descending -f
                grad = -grad
            self._update(param, grad, self.state.setdefault(i, {}), group)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (grad = None) before the next backward."""
        for param in self.params:
            param.grad = None

    def state_dict(self) -> dict:
        """{"type", "param_groups": [{hyperparameters..., "params": [parameter indices]}],
        "state": {"<param index>": {name: array or int}}}, PyTorch's layout, with copies of the
        buffers: enough for `load_state_dict` to resume bit-identically."""
        groups, start = [], 0
        for group in self.param_groups:
            count = len(group["params"])
            groups.append({**{name: group[name] for name in self.hyperparameter_names},
                           "params": list(range(start, start + count))})
            start += count
        return {
            "type": type(self).__name__,
            "param_groups": groups,
            "state": {str(i): {name: value.copy() if isinstance(value, np.ndarray) else value
                               for name, value in state.items()}
                      for i, state in sorted(self.state.items()) if state},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore every group's hyperparameters and the buffers saved by `state_dict()` (of the
        same optimizer type, with as many groups of as many parameters of the same shapes);
        nothing is restored if anything is wrong. A state dict of earlier versions, with one
        "hyperparameters" dict instead of "param_groups", loads as one group."""
        name = f"{type(self).__name__}.load_state_dict"
        if (not isinstance(state_dict, dict)
                or set(state_dict) not in ({"type", "param_groups", "state"},
                                           {"type", "hyperparameters", "state"})
                or not isinstance(state_dict["state"], dict)):
            raise ValueError(f"{name}: expected a dict with keys 'type', 'param_groups' and "
                             f"'state' as made by optimizer.state_dict(), got "
                             f"{state_dict!r:.100}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"{name}: the state dict is from a {state_dict['type']} optimizer; "
                             f"expected one from a {type(self).__name__}")
        saved_groups = self._saved_groups(name, state_dict)
        groups, index_of = [], {}      # index_of: saved parameter index -> ours
        ours = iter(range(len(self.params)))
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            hyperparameters = {key: value for key, value in saved.items() if key != "params"}
            hyperparameters = {**self.added_hyperparameters, **hyperparameters}
            if set(hyperparameters) != set(self.hyperparameter_names):
                raise ValueError(f"{name}: param group {k} has hyperparameters "
                                 f"{hyperparameters!r:.100}; expected the keys "
                                 f"{', '.join(self.hyperparameter_names)}")
            groups.append(self._checked_hyperparameters(**hyperparameters))
            indices = saved["params"]
            if not isinstance(indices, (list, tuple)) or len(indices) != len(group["params"]):
                count = len(indices) if isinstance(indices, (list, tuple)) else indices
                raise ValueError(f"{name}: param group {k} holds {count!r:.60} parameters but "
                                 f"this optimizer's group {k} holds {len(group['params'])}; "
                                 f"expected the state dict of the same optimizer over the same "
                                 f"parameters, in the same groups")
            index_of.update((str(index), next(ours)) for index in indices)
        problems, state = self._restored_states(state_dict["state"], index_of)
        if problems:
            listing = "\n  ".join(problems)
            raise ValueError(f"{name}: {len(problems)} problem(s), nothing was restored:\n  "
                             f"{listing}\nexpected the state dict of the same optimizer over "
                             f"the same parameters, in the same order")
        for group, hyperparameters in zip(self.param_groups, groups, strict=True):
            group.update(hyperparameters)
        self.state = state

    def _saved_groups(self, name: str, state_dict: dict) -> list[dict]:
        """The saved groups, as many as this optimizer has, each a dict with "params"; the one
        "hyperparameters" dict of earlier versions' state dicts is one group of all parameters."""
        if "hyperparameters" in state_dict:
            if len(self.param_groups) != 1:
                raise ValueError(f"{name}: the state dict holds one set of 'hyperparameters' "
                                 f"(one group, the format of earlier versions) but this "
                                 f"optimizer has {len(self.param_groups)} param groups; expected "
                                 f"a state dict with 'param_groups', or an optimizer of one "
                                 f"group")
            saved = state_dict["hyperparameters"]
            if not isinstance(saved, dict):
                raise ValueError(f"{name}: hyperparameters {saved!r:.100}; expected a dict with "
                                 f"keys {', '.join(self.hyperparameter_names)}")
            return [{**saved, "params": list(range(len(self.params)))}]
        saved = state_dict["param_groups"]
        if (not isinstance(saved, (list, tuple)) or len(saved) != len(self.param_groups)
                or not all(isinstance(group, dict) and "params" in group for group in saved)):
            count = f"{len(saved)} groups" if isinstance(saved, (list, tuple)) else repr(saved)
            raise ValueError(f"{name}: param_groups is {count:.100}; expected a list of "
                             f"{len(self.param_groups)} dicts, each with 'params', as this "
                             f"optimizer has {len(self.param_groups)} param groups")
        return list(saved)

    def _restored_states(self, saved: dict, index_of: dict) -> tuple[list[str], dict]:
        """(problems, states by our parameter index) from the saved states, whose keys are the
        saved groups' parameter indices (`index_of` maps them to ours)."""
        required = set(self.required_state_names)
        optional = [n for n in self.state_names if n not in required]
        problems, state, params = [], {}, self.params
        for key, entry in saved.items():
            index = index_of.get(str(key), -1)
            if index < 0:
                problems.append(f"state for parameter {key!r}: this optimizer has parameters "
                                f"0..{len(params) - 1}")
            elif not isinstance(entry, dict) or (
                    entry and not required <= set(entry) <= set(self.state_names)):
                found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                options = f" (and, for its options, any of {optional})" if optional else ""
                problems.append(f"state for parameter {key}: found {found} but "
                                f"{type(self).__name__} keeps "
                                f"{list(self.required_state_names)}{options}")
            else:
                state[index] = self._restored_state(params[index], key, entry, problems)
        return problems, state

    @staticmethod
    def _restored_state(param: Value, key: str, entry: dict, problems: list[str]) -> dict:
        """A copy of one parameter's saved state; arrays must match the parameter's shape."""
        restored = {}
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                if value.shape != param.shape:
                    problems.append(f"state for parameter {key}: {name} has shape {value.shape} "
                                    f"but the parameter has shape {param.shape}")
                restored[name] = value.astype(param.dtype, copy=True)
            elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                restored[name] = int(value)
            else:
                problems.append(f"state for parameter {key}: {name} is "
                                f"{type(value).__name__}; expected an array or an int")
        return restored


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule: g = -g with maximize;
    d = g + weight_decay * p; buf = momentum * buf + (1 - dampening) * d (buf = d on the first
    step); p -= lr * (d + momentum * buf) with nesterov, else p -= lr * buf (lr * d if momentum
    is 0).

    PyTorch's positional order is (params, lr, momentum, dampening, weight_decay, nesterov);
    here weight_decay stays fourth, as it was before dampening and nesterov came, and those two
    are keyword-only: pass them by name, e.g. SGD(params, lr=0.1, momentum=0.9, nesterov=True).
    PyTorch's maximize (ascend the loss) is keyword-only, as there.
    """

    hyperparameter_names = ("lr", "momentum", "weight_decay", "dampening", "nesterov",
                            "maximize")
    state_names = ("momentum_buffer",)     # kept only when momentum is not 0
    added_hyperparameters = {"dampening": 0.0, "nesterov": False, "maximize": False}

    def __init__(self, params: Params, lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, *, dampening: float = 0.0, nesterov: bool = False,
                 maximize: bool = False):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         dampening=dampening, nesterov=nesterov, maximize=maximize)

    def _checked_hyperparameters(self, lr, momentum, weight_decay, dampening, nesterov,
                                 maximize) -> dict:
        checked = {"lr": _checked_number("SGD", "lr", lr, low=0.0),
                   "momentum": _checked_number("SGD", "momentum", momentum, low=0.0),
                   "weight_decay": _checked_number("SGD", "weight_decay", weight_decay, low=0.0),
                   "dampening": _checked_number("SGD", "dampening", dampening, low=0.0,
                                                high=1.0, high_closed=True),
                   "nesterov": _checked_flag("SGD", "nesterov", nesterov),
                   "maximize": _checked_flag("SGD", "maximize", maximize)}
        if checked["nesterov"] and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True with momentum={checked['momentum']} and dampening="
                f"{checked['dampening']}; expected momentum > 0 and dampening 0 (Nesterov "
                f"momentum looks ahead along the momentum buffer), as in PyTorch; pass a "
                f"momentum and no dampening, e.g. SGD(params, lr=0.1, momentum=0.9, "
                f"nesterov=True), or leave nesterov=False")
        return checked


    def _update(self, param, grad, state, group):
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        d = grad + weight_decay * param.data if weight_decay else grad
        if momentum:
            if "momentum_buffer" not in state:
                # a copy, as d may be param.grad itself; np.array, as d of a 0-d parameter
                # may be a numpy scalar, which `buf *= ...` below would not change in place
                state["momentum_buffer"] = np.array(d)
            else:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += (1 - group["dampening"]) * d
            buf = state["momentum_buffer"]
            d = d + momentum * buf if group["nesterov"] else buf
        param.data -= group["lr"] * d


class Adam(Optimizer):
    """Adam, PyTorch's rule: g = -g with maximize; g += weight_decay * p, or with
    decoupled_weight_decay p *= 1 - lr * weight_decay (AdamW's); m = b1*m + (1-b1)*g;
    v = b2*v + (1-b2)*g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
    t = this parameter's step count; with amsgrad, v_max = max(v_max, v) stands for v in the
    step.

    PyTorch's maximize (ascend the loss) and decoupled_weight_decay are keyword-only, as there.
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                            "decoupled_weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    required_state_names = ("step", "exp_avg", "exp_avg_sq")     # max_exp_avg_sq: amsgrad's
    added_hyperparameters = {"amsgrad": False, "maximize": False, "decoupled_weight_decay": False}

    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay)

    def _checked_hyperparameters(self, lr, betas, eps, weight_decay, amsgrad, maximize,
                                 decoupled_weight_decay) -> dict:
        name = type(self).__name__
        return {"lr": _checked_number(name, "lr", lr, low=0.0),
                "betas": _checked_betas(name, betas),
                "eps": _checked_number(name, "eps", eps, low=0.0),
                "weight_decay": _checked_number(name, "weight_decay", weight_decay, low=0.0),
                "amsgrad": _checked_flag(name, "amsgrad", amsgrad),
                "maximize": _checked_flag(name, "maximize", maximize),
                "decoupled_weight_decay": _checked_flag(name, "decoupled_weight_decay",
                                                        decoupled_weight_decay)}

    def _update(self, param, grad, state, group):
        if group["weight_decay"]:
            if group["decoupled_weight_decay"]:     # the decay kept out of m and v
                param.data *= 1 - group["lr"] * group["weight_decay"]
            else:                                   # the decay divided by sqrt(v) with g
                grad = grad + group["weight_decay"] * param.data
        self._adam_step(param, grad, state, group)

    def _adam_step(self, param, grad, state, group):
        """m and v one step on, then p -= the bias-corrected step (maximize and weight decay
        done already)."""
        beta1, beta2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        if group["amsgrad"]:       # the largest v so far: a step never grows as v shrinks
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
            v_max = state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = group["lr"] / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + group["eps"]
        param.data -= step_size * (m / denom)


class AdamW(Adam):
    """AdamW, PyTorch's rule: Adam with decoupled_weight_decay=True: g = -g with maximize;
    weight decay decoupled from the gradient, p *= 1 - lr * weight_decay, then Adam's step on
    the plain gradient (Adam adds weight_decay * p to g instead, so there the decay is divided
    by sqrt(v) like the rest of g). PyTorch's default weight_decay, 0.01.

    PyTorch's maximize is keyword-only, as there; it turns the gradient only: the decay still
    shrinks p towards 0.
    """

    added_hyperparameters = {**Adam.added_hyperparameters, "decoupled_weight_decay": True}

    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


class RMSprop(Optimizer):
    """RMSprop, PyTorch's rule: g = -g with maximize; g += weight_decay * p;
    v = alpha*v + (1-alpha)*g^2; with centered, a = alpha*a + (1-alpha)*g and
    s = sqrt(v - a^2) + eps, else s = sqrt(v) + eps; buf = momentum * buf + g / s,
    p -= lr * buf (p -= lr * g / s if momentum is 0).

    PyTorch's positional order is (params, lr, alpha, eps, weight_decay, momentum, centered,
    capturable, foreach, maximize); maximize is keyword-only here, as there is no capturable
    or foreach.
    """

    hyperparameter_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered",
                            "maximize")
    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")
    required_state_names = ("step", "square_avg")     # the others: momentum's and centered's
    added_hyperparameters = {"maximize": False}

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered, maximize=maximize)

    def _checked_hyperparameters(self, lr, alpha, eps, weight_decay, momentum, centered,
                                 maximize) -> dict:
        return {"lr": _checked_number("RMSprop", "lr", lr, low=0.0),
                "alpha": _checked_number("RMSprop", "alpha", alpha, low=0.0, high=1.0,
                                         high_closed=True),
                "eps": _checked_number("RMSprop", "eps", eps, low=0.0),
                "weight_decay": _checked_number("RMSprop", "weight_decay", weight_decay,
                                                low=0.0),
                "momentum": _checked_number("RMSprop", "momentum", momentum, low=0.0),
                "centered": _checked_flag("RMSprop", "centered", centered),
                "maximize": _checked_flag("RMSprop", "maximize", maximize)}


    def _update(self, param, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param.data))
        state["step"] += 1                     # counted as PyTorch counts it; the rule needs none
        v = state["square_avg"]
        alpha = group["alpha"]
        v *= alpha
        v += (1 - alpha) * grad * grad
        if group["centered"]:   # divide by the gradient's running standard deviation, not its RMS
            if "grad_avg" not in state:
                state["grad_avg"] = np.zeros_like(param.data)
            a = state["grad_avg"]
            a *= alpha
            a += (1 - alpha) * grad
            s = np.sqrt(v - a * a) + group["eps"]
        else:
            s = np.sqrt(v) + group["eps"]
        if group["momentum"]:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros_like(param.data)
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / s
            param.data -= group["lr"] * buf
        else:
            param.data -= group["lr"] * (grad / s)


class Adagrad(Optimizer):
    """Adagrad, PyTorch's rule: g = -g with maximize; g += weight_decay * p; sum += g^2 (sum
    starts at initial_accumulator_value); p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) +
    eps), t = this parameter's step count.

    A param group's own initial_accumulator_value starts the sums of its parameters; PyTorch's
    Adagrad starts every group's at the constructor's (it fills them in its constructor).
    PyTorch's maximize (ascend the loss) is keyword-only, as there.
    """

    hyperparameter_names = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps",
                            "maximize")
    state_names = ("step", "sum")
    required_state_names = ("step", "sum")
    added_hyperparameters = {"maximize": False}

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps,
                         maximize=maximize)

    def _checked_hyperparameters(self, lr, lr_decay, weight_decay, initial_accumulator_value,
                                 eps, maximize) -> dict:
        return {"lr": _checked_number("Adagrad", "lr", lr, low=0.0),
                "lr_decay": _checked_number("Adagrad", "lr_decay", lr_decay, low=0.0),
                "weight_decay": _checked_number("Adagrad", "weight_decay", weight_decay,
                                                low=0.0),
                "initial_accumulator_value": _checked_number(
                    "Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0),
                "eps": _checked_number("Adagrad", "eps", eps, low=0.0),
                "maximize": _checked_flag("Adagrad", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        if not state:          # the accumulator starts when the parameter's first update does
            state.update(step=0,
                         sum=np.full_like(param.data, group["initial_accumulator_value"]))
        state["step"] += 1
        total = state["sum"]
        total += grad * grad
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        param.data -= lr_t * (grad / (np.sqrt(total) + group["eps"]))


class _OptimizerWithFloatState(Optimizer):
    """An optimizer whose per-parameter state also holds floats, named in `float_state_names`:
    the numbers PyTorch keeps as 0-d tensors beside the step (NAdam's mu_product, ASGD's eta and
    mu). They save as floats and load from any real number or one-element array."""

    float_state_names: tuple[str, ...] = ()

    def _restored_state(self, param, key, entry, problems):
        arrays_and_counts = {n: v for n, v in entry.items() if n not in self.float_state_names}
        restored = Optimizer._restored_state(param, key, arrays_and_counts, problems)
        for name in self.float_state_names:
            if name not in entry:
                continue
            value = entry[name]
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.item()
            if (isinstance(value, (bool, np.bool_))
                    or not isinstance(value, (int, float, np.integer, np.floating))
                    or not math.isfinite(value)):
                problems.append(f"state for parameter {key}: {name} is {value!r:.60}; expected "
                                f"a finite number (a float)")
            else:
                restored[name] = float(value)
        return restored


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start += weight * (end - start) in place, by PyTorch's lerp_ formula (which of the two
    forms depends on the weight, for accuracy near weight 1)."""
    weight = start.dtype.type(weight)         # PyTorch's lerp weighs in the tensor's dtype
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def _checked_betas(name: str, betas) -> tuple[float, float]:
    """betas as a pair of floats, each in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas is {betas!r}; expected a pair (beta1, beta2) such "
                         f"as (0.9, 0.999)")
    return tuple(_checked_number(name, f"betas[{i}]", beta, low=0.0, high=1.0)
                 for i, beta in enumerate(betas))


def _checked_pair(name: str, key: str, value, example: str) -> tuple:
    """value as a tuple of two (unchecked) items, else an error naming `key` and an example."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name}: {key} is {value!r}; expected a pair, e.g. {key}={example}")
    return tuple(value)


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), PyTorch's rule: g = -g with maximize;
    g += weight_decay * p; m = lerp(m, g, 1 - b1); u = max(b2 * u, |g| + eps);
    p -= lr / (1 - b1^t) * m / u, t = this parameter's step count.

    PyTorch's maximize (ascend the loss) is keyword-only here, after the positional
    (params, lr, betas, eps, weight_decay).
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay", "maximize")
    state_names = ("step", "exp_avg", "exp_inf")
    required_state_names = state_names

    def __init__(self, params: Params, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         maximize=maximize)

    def _checked_hyperparameters(self, lr, betas, eps, weight_decay, maximize) -> dict:
        return {"lr": _checked_number("Adamax", "lr", lr, low=0.0),
                "betas": _checked_betas("Adamax", betas),
                "eps": _checked_number("Adamax", "eps", eps, low=0.0),
                "weight_decay": _checked_number("Adamax", "weight_decay", weight_decay, low=0.0),
                "maximize": _checked_flag("Adamax", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data),
                         exp_inf=np.zeros_like(param.data))
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        m, u = state["exp_avg"], state["exp_inf"]
        _lerp_(m, grad, 1 - beta1)
        u *= beta2                 # the largest |g| so far, each older one decayed by b2 a step
        np.maximum(u, np.abs(grad) + group["eps"], out=u)
        clr = group["lr"] / (1 - beta1 ** state["step"])
        param.data += (-clr * m) / u


class NAdam(_OptimizerWithFloatState):
    """NAdam (Adam with Nesterov momentum), PyTorch's rule: g = -g with maximize;
    p *= 1 - lr * weight_decay with decoupled_weight_decay, else g += weight_decay * p;
    mu_t = b1 (1 - 0.96^(t momentum_decay) / 2), mu_product *= mu_t; m = lerp(m, g, 1 - b1);
    v = b2 v + (1-b2) g^2; d = sqrt(v / (1 - b2^t)) + eps;
    p -= lr (1 - mu_t) / (1 - mu_product) g / d + lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / d,
    t = this parameter's step count.

    PyTorch's maximize is keyword-only, as there.
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay", "momentum_decay",
                            "decoupled_weight_decay", "maximize")
    state_names = ("step", "mu_product", "exp_avg", "exp_avg_sq")
    required_state_names = state_names
    float_state_names = ("mu_product",)

    def __init__(self, params: Params, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def _checked_hyperparameters(self, lr, betas, eps, weight_decay, momentum_decay,
                                 decoupled_weight_decay, maximize) -> dict:
        return {"lr": _checked_number("NAdam", "lr", lr, low=0.0),
                "betas": _checked_betas("NAdam", betas),
                "eps": _checked_number("NAdam", "eps", eps, low=0.0),
                "weight_decay": _checked_number("NAdam", "weight_decay", weight_decay, low=0.0),
                "momentum_decay": _checked_number("NAdam", "momentum_decay", momentum_decay,
                                                  low=0.0),
                "decoupled_weight_decay": _checked_flag("NAdam", "decoupled_weight_decay",
                                                        decoupled_weight_decay),
                "maximize": _checked_flag("NAdam", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state.update(step=0, mu_product=1.0, exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        t = state["step"]
        bias_correction2 = 1 - beta2 ** t
        if group["weight_decay"]:
            if group["decoupled_weight_decay"]:
                param.data *= 1 - group["lr"] * group["weight_decay"]
            else:
                grad = grad + group["weight_decay"] * param.data
        # the momentum schedule: mu_t rises towards b1 as t grows
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * group["momentum_decay"])))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * group["momentum_decay"])))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        denom = np.sqrt(v / bias_correction2)
        denom += group["eps"]
        param.data += (-group["lr"] * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
        param.data += (-group["lr"] * mu_next / (1.0 - mu_product * mu_next)) * m / denom


class RAdam(Optimizer):
    """RAdam (rectified Adam), PyTorch's rule: g = -g with maximize; p *= 1 - lr * weight_decay
    with decoupled_weight_decay, else g += weight_decay * p; m = lerp(m, g, 1 - b1);
    v = b2 v + (1-b2) g^2; rho_inf = 2 / (1 - b2) - 1, rho_t = rho_inf - 2 t b2^t / (1 - b2^t);
    while rho_t <= 5 (the first steps), p -= lr m / (1 - b1^t), momentum SGD; after,
    p -= lr m / (1 - b1^t) sqrt(1 - b2^t) / (sqrt(v) + eps) r_t with the rectification
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)),
    t = this parameter's step count.

    PyTorch's maximize is keyword-only, as there.
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay", "decoupled_weight_decay",
                            "maximize")
    state_names = ("step", "exp_avg", "exp_avg_sq")
    required_state_names = state_names

    def __init__(self, params: Params, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def _checked_hyperparameters(self, lr, betas, eps, weight_decay, decoupled_weight_decay,
                                 maximize) -> dict:
        return {"lr": _checked_number("RAdam", "lr", lr, low=0.0),
                "betas": _checked_betas("RAdam", betas),
                "eps": _checked_number("RAdam", "eps", eps, low=0.0),
                "weight_decay": _checked_number("RAdam", "weight_decay", weight_decay, low=0.0),
                "decoupled_weight_decay": _checked_flag("RAdam", "decoupled_weight_decay",
                                                        decoupled_weight_decay),
                "maximize": _checked_flag("RAdam", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        beta1, beta2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        t = state["step"]
        if group["weight_decay"]:
            if group["decoupled_weight_decay"]:
                param.data *= 1 - group["lr"] * group["weight_decay"]
            else:
                grad = grad + group["weight_decay"] * param.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(m, grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        m_hat = m / bias_correction1
        # rho: the length of the moving average that estimates v; below 5 v is too noisy to use
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive_lr = 1 / (np.sqrt(v) + group["eps"]) * bias_correction2 ** 0.5
            param.data -= m_hat * group["lr"] * adaptive_lr * rect
        else:
            param.data -= m_hat * group["lr"]


class Adadelta(Optimizer):
    """Adadelta, PyTorch's rule: g = -g with maximize; g += weight_decay * p;
    v = rho v + (1-rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) * g; u = rho u + (1-rho) d^2;
    p -= lr * d. Its step is in the units of p (u averages the squared steps), so lr is 1.0.

    PyTorch's maximize is keyword-only, as there.
    """

    hyperparameter_names = ("lr", "rho", "eps", "weight_decay", "maximize")
    state_names = ("step", "square_avg", "acc_delta")
    required_state_names = state_names

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                         maximize=maximize)

    def _checked_hyperparameters(self, lr, rho, eps, weight_decay, maximize) -> dict:
        return {"lr": _checked_number("Adadelta", "lr", lr, low=0.0),
                "rho": _checked_number("Adadelta", "rho", rho, low=0.0, high=1.0,
                                       high_closed=True),
                "eps": _checked_number("Adadelta", "eps", eps, low=0.0),
                "weight_decay": _checked_number("Adadelta", "weight_decay", weight_decay,
                                                low=0.0),
                "maximize": _checked_flag("Adadelta", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param.data),
                         acc_delta=np.zeros_like(param.data))
        state["step"] += 1                     # counted as PyTorch counts it; the rule needs none
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        v, u = state["square_avg"], state["acc_delta"]
        rho, eps = group["rho"], group["eps"]
        v *= rho
        v += (1 - rho) * grad * grad
        std = np.sqrt(v + eps)
        delta = np.sqrt(u + eps)
        delta /= std
        delta *= grad
        u *= rho
        u += (1 - rho) * delta * delta
        param.data += -group["lr"] * delta


class Rprop(Optimizer):
    """Rprop (resilient backpropagation), PyTorch's rule, elementwise: g = -g with maximize;
    where g has the sign of the previous step's gradient, step_size *= etas[1] (eta_plus); where
    the sign flipped, step_size *= etas[0] (eta_minus) and g = 0 (that element rests this step);
    step_size is kept in [step_sizes[0], step_sizes[1]]; p -= sign(g) * step_size; prev = g.
    Each step_size starts at lr, at the parameter's first step; only the gradients' signs count.

    PyTorch's maximize is keyword-only, as there.
    """

    hyperparameter_names = ("lr", "etas", "step_sizes", "maximize")
    state_names = ("step", "prev", "step_size")
    required_state_names = state_names

    def __init__(self, params: Params, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50.0), *, maximize: bool = False):
        super().__init__(params, lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)

    def _checked_hyperparameters(self, lr, etas, step_sizes, maximize) -> dict:
        etaminus, etaplus = (
            _checked_number("Rprop", f"etas[{i}]", eta, low=0.0)
            for i, eta in enumerate(_checked_pair("Rprop", "etas", etas, "(0.5, 1.2)")))
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Rprop: etas is ({etaminus}, {etaplus}); expected (eta_minus, "
                             f"eta_plus) with 0 < eta_minus < 1 < eta_plus, the factors that "
                             f"shrink and grow a step, e.g. etas=(0.5, 1.2)")
        low, high = (_checked_number("Rprop", f"step_sizes[{i}]", size, low=0.0)
                     for i, size in enumerate(_checked_pair("Rprop", "step_sizes", step_sizes,
                                                            "(1e-06, 50.0)")))
        if low > high:
            raise ValueError(f"Rprop: step_sizes is ({low}, {high}); expected (smallest, "
                             f"largest) step with smallest <= largest, e.g. "
                             f"step_sizes=(1e-06, 50.0)")
        return {"lr": _checked_number("Rprop", "lr", lr, low=0.0),
                "etas": (etaminus, etaplus), "step_sizes": (low, high),
                "maximize": _checked_flag("Rprop", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        etaminus, etaplus = group["etas"]
        if not state:
            state.update(step=0, prev=np.zeros_like(param.data),
                         step_size=np.full_like(param.data, group["lr"]))
        state["step"] += 1                     # counted as PyTorch counts it; the rule needs none
        prev, step_size = state["prev"], state["step_size"]
        factor = np.array(np.sign(grad * prev))        # 0-d stays an array, to index below
        factor[factor > 0] = etaplus           # same sign as last step: a longer step
        factor[factor < 0] = etaminus          # the sign flipped: we jumped over a minimum
        factor[factor == 0] = 1
        step_size *= factor
        np.clip(step_size, *group["step_sizes"], out=step_size)
        grad = np.array(grad)                  # a copy: param.grad stays as it was
        grad[factor == etaminus] = 0           # after a flip, rest; the next step starts afresh
        param.data -= np.sign(grad) * step_size
        prev[...] = grad


class ASGD(_OptimizerWithFloatState):
    """ASGD (averaged SGD), PyTorch's rule: g = -g with maximize; g += weight_decay * p;
    p *= 1 - lambd * eta; p -= eta * g; ax += mu (p - ax) (ax = p while mu is 1); then
    eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0), t = this parameter's step
    count. ax, the average of p over the steps since step t0, is in state; the model keeps p.

    PyTorch's positional order is (params, lr, lambd, alpha, t0, weight_decay, foreach,
    maximize); maximize is keyword-only here, as there is no foreach.
    """

    hyperparameter_names = ("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")
    state_names = ("step", "eta", "mu", "ax")
    required_state_names = state_names
    float_state_names = ("eta", "mu")

    def __init__(self, params: Params, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                         weight_decay=weight_decay, maximize=maximize)

    def _checked_hyperparameters(self, lr, lambd, alpha, t0, weight_decay, maximize) -> dict:
        return {"lr": _checked_number("ASGD", "lr", lr, low=0.0),
                "lambd": _checked_number("ASGD", "lambd", lambd, low=0.0),
                "alpha": _checked_number("ASGD", "alpha", alpha, low=0.0),
                "t0": _checked_number("ASGD", "t0", t0, low=0.0),
                "weight_decay": _checked_number("ASGD", "weight_decay", weight_decay, low=0.0),
                "maximize": _checked_flag("ASGD", "maximize", maximize)}

    def _update(self, param, grad, state, group):
        if not state:
            state.update(step=0, eta=group["lr"], mu=1.0, ax=np.zeros_like(param.data))
        state["step"] += 1
        t = state["step"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        eta = state["eta"]
        param.data *= 1 - group["lambd"] * eta     # decay towards 0
        param.data += -eta * grad
        ax = state["ax"]
        if state["mu"] != 1:
            ax += (param.data - ax) * state["mu"]
        else:                                  # before t0 (and at it) the average is p itself
            ax[...] = param.data
        lr, lambd = group["lr"], group["lambd"]
        state["eta"] = lr / ((1 + lambd * lr * t) ** group["alpha"])
        state["mu"] = 1 / max(1, t - group["t0"])


class LBFGS(Optimizer):
    """L-BFGS, PyTorch's algorithm, on all the parameters as one flat vector x with gradient g:
    each iteration steps x += t d along d = -H g, where H, the inverse Hessian estimate, is
    H_diag I updated by the last history_size pairs s = x_{k+1} - x_k, y = g_{k+1} - g_k
    (the two-loop recursion; a pair is kept only if y.s > 1e-10, so that H stays positive
    definite; H_diag = y.s / y.y of the newest pair). The step t is lr (min(1, 1 / |g|_1) lr on
    the very first iteration, d = -g then), or from a strong Wolfe line search with
    line_search_fn="strong_wolfe". One step(closure) runs up to max_iter iterations and max_eval
    closure calls, and stops early when max|g| <= tolerance_grad, or when the step, the
    directional derivative g.d or the loss change falls below tolerance_change.

    step(closure) needs a closure that zeroes the grads, computes the loss, calls backward and
    returns the loss, and returns its first loss:

    >>> def closure():
    ...     optimizer.zero_grad()
    ...     loss = ops.mse_loss(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> optimizer.step(closure)

    The state is one for all parameters, kept (as PyTorch keeps it) under parameter 0:
    func_evals and n_iter count across step() calls; d, prev_flat_grad and the history lists
    old_dirs (y), old_stps (s) hold flat arrays of all the parameters' elements; t, H_diag,
    prev_loss and the lists ro (1 / y.s) and al hold floats (al: None where unused). A parameter
    whose grad is None counts as a zero gradient, as PyTorch's; one with requires_grad=False is
    never moved (its part of every direction is 0).

    LBFGS takes one param group, as PyTorch's (a second is refused): step() reads the
    hyperparameters as attributes, `self.lr`, which are that group's.
    """

    hyperparameter_names = ("lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change",
                            "history_size", "line_search_fn")
    state_names = ("func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                   "prev_flat_grad", "prev_loss", "al")
    required_state_names = ("func_evals", "n_iter")     # the rest come with the first iteration

    def __init__(self, params: Params, lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None):
        super().__init__(params, lr=lr, max_iter=max_iter, max_eval=max_eval,
                         tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                         history_size=history_size, line_search_fn=line_search_fn)
        self._dtype = np.result_type(*(param.dtype for param in self.params))
        self._size = sum(param.data.size for param in self.params)

    def add_param_group(self, param_group: dict) -> None:
        """Refused once there is a group: LBFGS keeps one group, as PyTorch's."""
        if self.param_groups:
            raise ValueError("LBFGS: got a second param group; LBFGS doesn't support "
                             "per-parameter options (parameter groups), as PyTorch's: it keeps "
                             "one flat history of all the parameters' elements and one step "
                             "for them all; expected one group; pass all the parameters in one "
                             "list, e.g. LBFGS(model.parameters())")
        super().add_param_group(param_group)

    def _checked_hyperparameters(self, lr, max_iter, max_eval, tolerance_grad, tolerance_change,
                                 history_size, line_search_fn) -> dict:
        max_iter = _checked_int("LBFGS", "max_iter", max_iter, 1,
                                "iterations per step(), e.g. max_iter=20")
        if max_eval is None:                     # PyTorch's default
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn is {line_search_fn!r}; expected None (a "
                             f"fixed step of lr) or 'strong_wolfe', as in PyTorch")
        return {"lr": _checked_number("LBFGS", "lr", lr, low=0.0),
                "max_iter": max_iter,
                "max_eval": _checked_int("LBFGS", "max_eval", max_eval, 1,
                                         "closure calls per step(); None for max_iter * 5 // 4"),
                "tolerance_grad": _checked_number("LBFGS", "tolerance_grad", tolerance_grad,
                                                  low=0.0),
                "tolerance_change": _checked_number("LBFGS", "tolerance_change",
                                                    tolerance_change, low=0.0),
                "history_size": _checked_int("LBFGS", "history_size", history_size, 1,
                                             "the (s, y) pairs kept, e.g. history_size=100"),
                "line_search_fn": line_search_fn}

    def step(self, closure: Callable[[], Value | float] | None = None) -> Value | float:
        """Up to max_iter L-BFGS iterations (see the class docstring); returns the loss that
        the first closure() call returned."""
        if closure is None or not callable(closure):
            raise TypeError(
                f"LBFGS.step: got {'no closure' if closure is None else repr(closure)[:60]}; "
                f"expected a function that zeroes the grads, computes the loss, calls "
                f"loss.backward() and returns the loss (L-BFGS evaluates the loss several "
                f"times a step); pass it: optimizer.step(closure)")
        state = self.state.setdefault(0, {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss, loss = self._evaluate(closure)
        flat_grad = self._flat_grad()
        current_evals = 1
        state["func_evals"] += 1
        if np.abs(flat_grad).max() <= self.tolerance_grad:     # already at a minimum
            return orig_loss

        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:        # no history yet: steepest descent, a short step
                state.update(d=-flat_grad, old_dirs=[], old_stps=[], ro=[], H_diag=1.0)
            else:
                self._remember(state, flat_grad)
                state["d"] = self._two_loop(state, flat_grad)
            d = state["d"]
            state["prev_flat_grad"], state["prev_loss"] = flat_grad, loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * self.lr
            else:
                t = self.lr
            gtd = float(flat_grad @ d)            # the slope of the loss along d
            if gtd > -self.tolerance_change:      # d is no longer a descent direction
                state["t"] = t
                break

            evals = 0
            if self.line_search_fn == "strong_wolfe":
                start = [param.data.copy() for param in self.params]
                # PyTorch's LBFGS leaves the line search its own tolerance_change (1e-9)
                loss, flat_grad, t, evals = _strong_wolfe(
                    functools.partial(self._evaluate_along, closure, start, d=d), t, d, loss,
                    flat_grad, gtd, max_ls=self.max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = np.abs(flat_grad).max() <= self.tolerance_grad
            else:
                self._add_to_params(t, d)
                # no new loss after the last iteration (PyTorch's choice: with mini-batches
                # it would be a wasted evaluation); the next step() starts with one
                opt_cond = False
                if n_iter != self.max_iter:
                    loss = self._evaluate(closure)[1]
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= self.tolerance_grad
                    evals = 1
            state["t"] = t
            current_evals += evals
            state["func_evals"] += evals
            if (n_iter == self.max_iter or current_evals >= self.max_eval or opt_cond
                    or np.abs(d * t).max() <= self.tolerance_change       # a tiny step
                    or abs(loss - state["prev_loss"]) < self.tolerance_change):
                break
        return orig_loss

    def _remember(self, state: dict, flat_grad: np.ndarray) -> None:
        """Add the last iteration's pair s = t d, y = g - g_prev to the history (the oldest
        pair goes when it is full), if y.s > 1e-10: the curvature condition, without which H
        would not stay positive definite; then H_diag = y.s / y.y, the newest pair's scale."""
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = float(y @ s)
        if ys > 1e-10:
            while len(state["old_dirs"]) >= self.history_size:
                for name in ("old_dirs", "old_stps", "ro"):
                    state[name].pop(0)
            state["old_dirs"].append(y)
            state["old_stps"].append(s)
            state["ro"].append(1.0 / ys)
            state["H_diag"] = ys / float(y @ y)

    # The two-loop recursion computes d = -H g without forming H: with rho_i = 1 / y_i.s_i,
    # H_{i+1} = (I - rho_i s_i y_i^T) H_i (I - rho_i y_i s_i^T) + rho_i s_i s_i^T, so the first
    # loop applies the right factors (newest pair first), the middle H_0 = H_diag I, and the
    # second loop the left factors and the s s^T terms (oldest first).
    def _two_loop(self, state: dict, flat_grad: np.ndarray) -> np.ndarray:
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        al = state.setdefault("al", [None] * self.history_size)
        al.extend([None] * (len(old_dirs) - len(al)))     # history_size raised between steps
        q = -flat_grad
        for i in reversed(range(len(old_dirs))):
            al[i] = float(old_stps[i] @ q) * ro[i]
            q -= al[i] * old_dirs[i]
        r = q * state["H_diag"]
        for i in range(len(old_dirs)):
            be_i = float(old_dirs[i] @ r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

    def _evaluate(self, closure: Callable) -> tuple[Value | float, float]:
        """closure()'s result and the loss as a float, checked to be a loss."""
        loss = closure()
        if isinstance(loss, (bool, np.bool_)) or not isinstance(
                loss, (Value, int, float, np.integer, np.floating)):
            raise TypeError(f"LBFGS.step: closure() returned {type(loss).__name__} "
                            f"{loss!r:.60}; expected the loss, a Value (or a number); end the "
                            f"closure with loss.backward() and `return loss`")
        return loss, float(loss)

    def _flat_grad(self) -> np.ndarray:
        """Every parameter's gradient, flattened and joined in parameter order; a parameter
        whose grad is None contributes zeros, as in PyTorch's _gather_flat_grad."""
        parts = []
        for i, param in enumerate(self.params):
            if param.grad is None:
                parts.append(np.zeros(param.data.size, dtype=self._dtype))
                continue
            grad = np.asarray(param.grad)
            if grad.shape != param.shape:
                raise ValueError(f"LBFGS.step: parameter {i} has shape {param.shape} but its "
                                 f"grad has shape {grad.shape}; expected equal shapes")
            parts.append(grad.astype(self._dtype, copy=False).ravel())
        return np.concatenate(parts)

    def _add_to_params(self, t: float, d: np.ndarray) -> None:
        """x += t d, d a flat vector of all the parameters' elements."""
        offset = 0
        for param in self.params:
            n = param.data.size
            if param.requires_grad:          # a frozen parameter's part of d is 0
                param.data += t * d[offset:offset + n].reshape(param.shape)
            offset += n

    def _evaluate_along(self, closure: Callable, start: list[np.ndarray], t: float,
                        d: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and flat gradient at x + t d (x = start); the parameters are back at x after."""
        self._add_to_params(t, d)
        loss = self._evaluate(closure)[1]
        flat_grad = self._flat_grad()
        for param, data in zip(self.params, start, strict=True):
            param.data[...] = data
        return loss, flat_grad

    def state_dict(self) -> dict:
        """As Optimizer.state_dict, with the history lists copied too."""
        saved = super().state_dict()
        for entry in saved["state"].values():
            for name in ("old_dirs", "old_stps", "ro", "al"):
                if name in entry:
                    entry[name] = [v.copy() if isinstance(v, np.ndarray) else v
                                   for v in entry[name]]
        return saved

    def _restored_state(self, param, key, entry, problems):
        """A copy of the one saved state (under parameter 0): counts as ints, vectors as flat
        arrays of all the parameters' elements, scalars as floats (a one-element array, as in
        a converted PyTorch state, is taken too)."""
        if str(key) != "0":
            problems.append(f"state for parameter {key}: LBFGS keeps one state for all "
                            f"parameters, under parameter 0 (as PyTorch)")
            return {}
        restored = {}
        for name, value in entry.items():
            if name in ("func_evals", "n_iter"):
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int,
                                                                                  np.integer)):
                    problems.append(f"state for parameter {key}: {name} is {value!r:.60}; "
                                    f"expected an int (a count)")
                restored[name] = value
            elif name in ("d", "prev_flat_grad"):
                restored[name] = self._restored_vector(key, name, value, problems)
            elif name in ("t", "H_diag", "prev_loss"):
                restored[name] = _restored_float(key, name, value, problems)
            elif not isinstance(value, (list, tuple)):
                problems.append(f"state for parameter {key}: {name} is "
                                f"{type(value).__name__}; expected a list")
            elif name in ("old_dirs", "old_stps"):
                restored[name] = [self._restored_vector(key, f"{name}[{i}]", v, problems)
                                  for i, v in enumerate(value)]
            else:                                # ro, al (al: None where unused)
                restored[name] = [None if v is None and name == "al"
                                  else _restored_float(key, f"{name}[{i}]", v, problems)
                                  for i, v in enumerate(value)]
        lengths = {n: len(restored[n]) for n in ("old_dirs", "old_stps", "ro") if n in restored}
        if len(set(lengths.values())) > 1:
            problems.append(f"state for parameter {key}: the history lists have lengths "
                            f"{lengths}; expected one (s, y, 1 / y.s) triple per entry")
        return restored

    def _restored_vector(self, key: str, name: str, value, problems: list[str]) -> np.ndarray:
        """A copy of a saved flat vector, checked to hold one element per parameter element."""
        if not isinstance(value, np.ndarray) or value.shape != (self._size,):
            shape = value.shape if isinstance(value, np.ndarray) else type(value).__name__
            problems.append(f"state for parameter {key}: {name} is {shape}; expected a flat "
                            f"array of shape ({self._size},), all the parameters' elements")
            return value
        return value.astype(self._dtype, copy=True)


def _restored_float(key: str, name: str, value, problems: list[str]) -> float | None:
    """value as a float: a real number or a one-element array (PyTorch's 0-d tensors)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        problems.append(f"state for parameter {key}: {name} is {value!r:.60}; expected a "
                        f"number (a float)")
        return None
    return float(value)


class _Point(NamedTuple):
    """A point of the line search: step t along d, loss f, flat gradient g, slope gtd = g.d."""

    t: float
    f: float
    g: np.ndarray
    gtd: float


# The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2 (More and
# Thuente): d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2), d2 = sqrt(d1^2 - g1 g2), and then
# x_min = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2), clipped to the bounds (by default
# [x1, x2]); the bounds' midpoint when the cubic has no minimum (d1^2 < g1 g2).
def _cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                       bounds: tuple[float, float] | None = None) -> float:
    """The step where the cubic fit of two line-search points is least (PyTorch's port of
    torch/optim's polyinterp.lua)."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    with np.errstate(all="ignore"):      # inf and nan as PyTorch's tensors give them
        x1, f1, g1, x2, f2, g2 = (np.float64(v) for v in (x1, f1, g1, x2, f2, g2))
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        if not d2_square >= 0:
            return (low + high) / 2.0
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return float(min(max(min_pos, low), high))


# A step t satisfies the strong Wolfe conditions when the loss fell enough (Armijo,
# f(t) <= f(0) + c1 t f'(0)) and the slope flattened (|f'(t)| <= c2 |f'(0)|). The search first
# grows t until a bracket [t_prev, t] must hold such a point (the loss rose, or the slope turned
# positive), then shrinks the bracket by cubic interpolation (zoom), as PyTorch's port of
# torch/optim's lswolfe.lua.
def _strong_wolfe(evaluate: Callable[[float], tuple[float, np.ndarray]], t: float,
                  d: np.ndarray, f: float, g: np.ndarray, gtd: float, c1: float = 1e-4,
                  c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, np.ndarray, float, int]:
    """(loss, flat gradient, t, closure calls) at a step t along d that satisfies the strong
    Wolfe conditions, or the best one found in max_ls calls; evaluate(t) gives loss and flat
    gradient at x + t d; f, g, gtd are the loss, gradient and slope at t = 0."""
    start = _Point(0, f, g, gtd)
    bracket, done, calls = _wolfe_bracket(evaluate, start, t, d, c1, c2, max_ls)
    best, zoom_calls = _wolfe_zoom(evaluate, start, bracket, done, calls, d, c1, c2,
                                   tolerance_change, max_ls)
    return best.f, best.g, best.t, calls + zoom_calls


def _wolfe_bracket(evaluate, start: _Point, t: float, d: np.ndarray, c1: float, c2: float,
                   max_ls: int) -> tuple[list[_Point], bool, int]:
    """Grow t by cubic extrapolation (to between 1.01 and 10 times the last step) until the
    step satisfies the conditions ([point], done) or a bracket of two holds one; returns the
    bracket, done, and the closure calls (max_ls reached: the bracket [start, last point])."""
    prev, calls = start, 0
    new = _Point(t, *_loss_and_slope(evaluate, t, d))
    calls += 1
    while calls <= max_ls:
        if new.f > start.f + c1 * new.t * start.gtd or (calls > 2 and new.f >= prev.f):
            return [prev, new], False, calls        # the loss rose: a minimum lies between
        if abs(new.gtd) <= -c2 * start.gtd:
            return [new], True, calls               # both conditions hold
        if new.gtd >= 0:
            return [prev, new], False, calls        # the slope turned: a minimum lies between
        t = _cubic_interpolate(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd,
                               bounds=(new.t + 0.01 * (new.t - prev.t), new.t * 10))
        prev, new = new, _Point(t, *_loss_and_slope(evaluate, t, d))
        calls += 1
    return [start, new], False, calls


def _wolfe_zoom(evaluate, start: _Point, bracket: list[_Point], done: bool, calls: int,
                d: np.ndarray, c1: float, c2: float, tolerance_change: float,
                max_ls: int) -> tuple[_Point, int]:
    """Shrink the bracket around a point that satisfies the conditions: the cubic minimiser of
    its ends (moved to 10% of the bracket from an end where it crowds one twice running) replaces
    the high end if the loss there rose, else the low end (the high end becoming the old low end
    if the slope there points away from it). Returns the lowest point and the closure calls."""
    zoom_calls, insufficient_progress = 0, False
    low, high = (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)
    while not done and calls + zoom_calls <= max_ls:
        if abs(bracket[1].t - bracket[0].t) * np.abs(d).max() < tolerance_change:
            break                                     # the bracket is too small to split
        t = _cubic_interpolate(bracket[0].t, bracket[0].f, bracket[0].gtd,
                               bracket[1].t, bracket[1].f, bracket[1].gtd)
        t_min, t_max = min(bracket[0].t, bracket[1].t), max(bracket[0].t, bracket[1].t)
        eps = 0.1 * (t_max - t_min)
        if min(t_max - t, t - t_min) < eps:          # t crowds an end of the bracket
            if insufficient_progress or t >= t_max or t <= t_min:
                t = t_max - eps if abs(t - t_max) < abs(t - t_min) else t_min + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        new = _Point(t, *_loss_and_slope(evaluate, t, d))
        zoom_calls += 1
        if new.f > start.f + c1 * t * start.gtd or new.f >= bracket[low].f:
            bracket[high] = new                       # too high: the new high end
            low, high = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if abs(new.gtd) <= -c2 * start.gtd:
                done = True                           # both conditions hold
            elif new.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]          # the minimum lies on low's other side
            bracket[low] = new
    return bracket[low], zoom_calls


def _loss_and_slope(evaluate, t: float, d: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Loss, flat gradient and slope g.d at step t along d."""
    f, g = evaluate(t)
    return f, g, float(g @ d)


class LRScheduler:
    """Base class of the learning-rate schedules: `step()` once per epoch, after that epoch's
    training, sets the lr of every param group of the optimizer for the next epoch.

    The schedule starts at epoch 0 with each group's lr as that group's base lr, `base_lrs[i]`,
    and schedules every group from its own, as PyTorch's. Subclasses name their settings in
    `setting_names`, check them in `_checked_settings` and define `_next_lr(epoch, group)`, the
    lr of group `group` (its index) at epoch `epoch` >= 1 (they may read `base_lrs[group]` and
    `last_lrs[group]`, its lr of epoch - 1), and `_start_lr(group)` if the lr of epoch 0 is not
    the base lr. A setting that PyTorch takes one per group is one value for all the groups or
    a list of one per group, and is kept as a tuple of one per group.
    The scheduler owns the lr: a value set by hand on the optimizer is replaced at the next
    step().
    Every schedule whose PyTorch counterpart takes `last_epoch` takes it in PyTorch's place, and
    it must be PyTorch's default -1, a fresh schedule: PyTorch resumes from last_epoch and the
    'initial_lr' it keeps in the optimizer; here a state dict resumes a schedule (make it with
    last_epoch=-1, then `load_state_dict`).
    """

    setting_names: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1, **settings):
        _checked_fresh(type(self).__name__, last_epoch)
        self.optimizer = _checked_optimizer(type(self).__name__, optimizer)
        self.__dict__.update(self._checked_settings(**settings))
        self._start([float(group["lr"]) for group in optimizer.param_groups])

    def _checked_settings(self, **settings) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_settings")

    def _next_lr(self, epoch: int, group: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define _next_lr")

    def _start_lr(self, group: int) -> float:
        """The lr of epoch 0."""
        return self.base_lrs[group]

    def _groups(self) -> range:
        """The indices of the optimizer's param groups."""
        return range(len(self.optimizer.param_groups))

    def _one_per_group(self, name: str, value, example) -> tuple:
        """A setting that PyTorch takes one per param group (e.g. max_lr) as a tuple of one per
        group: value, a list of one per group, or one value for every group."""
        return _one_per_group(type(self).__name__, name, value, example,
                              len(self.optimizer.param_groups))

    def _checked_momenta(self, base_momentum, max_momentum, defaults: tuple) -> dict:
        """A cycling schedule's base_momentum and max_momentum, each a number in [0, 1] or a
        list of one per param group, as tuples of one per group (`defaults`, PyTorch's, are the
        examples the errors suggest)."""
        return {key: _checked_numbers(type(self).__name__, key,
                                      self._one_per_group(key, value, example),
                                      low=0.0, high=1.0)
                for key, value, example in (("base_momentum", base_momentum, defaults[0]),
                                            ("max_momentum", max_momentum, defaults[1]))}

    def _start(self, base_lrs: list[float]) -> None:
        """Go to epoch 0 of the schedule from base_lrs (one per group): the optimizer's lrs become
        those of epoch 0. Called when the schedule is made, and by SequentialLR at the schedule's
        milestone."""
        self.base_lrs = list(base_lrs)
        self.last_epoch = 0              # the epoch whose lrs the optimizer holds now
        self._set_lrs([float(self._start_lr(group)) for group in self._groups()])

    def _set_lrs(self, lrs: list[float]) -> None:
        """last_lrs = lrs, and every param group of the optimizer gets its own."""
        self.last_lrs = list(lrs)
        for group, lr in zip(self.optimizer.param_groups, self.last_lrs, strict=True):
            group["lr"] = lr

    def _restart(self, base_lrs: list[float], lrs: list[float]) -> None:
        """Go to epoch 0 at a SequentialLR milestone, taking over from `lrs`, the sequence's lrs of
        the epoch before: PyTorch's step(0), which for most schedules starts again from the base
        lrs."""
        self._start(base_lrs)

    def _next_lr_from(self, epoch: int, group: int, lr: float) -> float:
        """The lr of a group at epoch `epoch` >= 1 when its lr of the epoch before is `lr`, not
        last_lrs[group]: in a ChainedScheduler each schedule steps from the lr that the ones
        before it have just set, as PyTorch's step from the optimizer's lr. Here `lr` stands in
        for last_lrs[group] in _next_lr, so a schedule that multiplies its last lr multiplies
        `lr`."""
        own, self.last_lrs[group] = self.last_lrs[group], lr
        try:
            return self._next_lr(epoch, group)
        finally:
            self.last_lrs[group] = own

    def step(self) -> None:
        """End an epoch: every group's lr becomes that of the next epoch."""
        # all first, so that an error changes nothing
        lrs = [float(self._next_lr(self.last_epoch + 1, group)) for group in self._groups()]
        self.last_epoch += 1
        self._set_lrs(lrs)

    def get_last_lr(self) -> list[float]:
        """The lrs the optimizer's param groups hold now, one per group, as in PyTorch."""
        return list(self.last_lrs)

    def state_dict(self) -> dict:
        """{"type", "settings", "base_lrs", "last_epoch", "last_lrs"}: plain numbers (lists of
        one per group), enough for `load_state_dict` to continue the schedule exactly where it
        stopped."""
        return {"type": type(self).__name__,
                "settings": {name: getattr(self, name) for name in self.setting_names},
                "base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch,
                "last_lrs": list(self.last_lrs)}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue the schedule saved by `state_dict()` (of the same type): restores its
        position and settings and sets every group's lr to the saved current one. A state dict
        of earlier versions, with one "base_lr" and "last_lr", loads on an optimizer of one
        group."""
        self.__dict__.update(self._checked_state(state_dict))
        self._set_lrs(self.last_lrs)

    def _checked_state(self, state_dict: dict) -> dict:
        """The attributes that `load_state_dict` restores from state_dict, all checked first, so
        that nothing is restored if anything is wrong."""
        name = f"{type(self).__name__}.load_state_dict"
        expected = {"type", "settings", "base_lrs", "last_epoch", "last_lrs"}
        earlier = {"type", "settings", "base_lr", "last_epoch", "last_lr"}   # one group's
        if not isinstance(state_dict, dict) or set(state_dict) not in (expected, earlier):
            raise ValueError(f"{name}: expected a dict with keys 'type', 'settings', "
                             f"'base_lrs', 'last_epoch' and 'last_lrs' as made by "
                             f"scheduler.state_dict(), got {state_dict!r:.100}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"{name}: the state dict is from a {state_dict['type']}; expected "
                             f"one from a {type(self).__name__}")
        settings = state_dict["settings"]
        if not isinstance(settings, dict) or set(settings) != set(self.setting_names):
            raise ValueError(f"{name}: settings {settings!r:.100}; expected a dict with keys "
                             f"{', '.join(self.setting_names)}")
        checked = self._checked_settings(**settings)
        epoch = state_dict["last_epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"{name}: last_epoch is {epoch!r}; expected an int >= 0")
        count = len(self.optimizer.param_groups)
        if "base_lr" in state_dict:
            if count != 1:
                raise ValueError(f"{name}: the state dict holds one base_lr and last_lr (one "
                                 f"group, the format of earlier versions) but the optimizer has "
                                 f"{count} param groups; expected a state dict with 'base_lrs' "
                                 f"and 'last_lrs', one per group")
            lrs = {"base_lrs": [state_dict["base_lr"]], "last_lrs": [state_dict["last_lr"]]}
        else:
            lrs = {key: state_dict[key] for key in ("base_lrs", "last_lrs")}
        for key, values in lrs.items():
            if not isinstance(values, (list, tuple)) or len(values) != count:
                raise ValueError(f"{name}: {key} is {values!r:.100}; expected a list of {count} "
                                 f"lrs, one per param group of the optimizer")
            lrs[key] = [_checked_number(name, f"{key}[{i}]", value, low=0.0)
                        for i, value in enumerate(values)]
        return {**checked, **lrs, "last_epoch": int(epoch)}


class StepLR(LRScheduler):
    """lr of epoch e = base_lr * gamma ** (e // step_size): multiplied by gamma every
    `step_size` epochs, as PyTorch's StepLR (by the same repeated multiplication, so the same
    floats).

    >>> scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    >>> for epoch in range(1, epochs + 1):
    ...     train_epoch(...)          # at lr = scheduler.get_last_lr()[0]
    ...     scheduler.step()
    """

    setting_names = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, step_size=step_size, gamma=gamma)

    def _checked_settings(self, step_size, gamma) -> dict:
        if (isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer))
                or step_size < 1):
            raise ValueError(f"StepLR: step_size is {step_size!r}; expected an int >= 1 (the "
                             f"number of epochs between decays), e.g. step_size=1")
        return {"step_size": int(step_size),
                "gamma": _checked_number("StepLR", "gamma", gamma, low=0.0, low_open=True)}

    # PyTorch multiplies the current lr, rather than computing base_lr * gamma**k
    def _next_lr(self, epoch: int, group: int) -> float:
        lr = self.last_lrs[group]
        return lr * self.gamma if epoch % self.step_size == 0 else lr


class CosineAnnealingLR(LRScheduler):
    """lr of epoch e = eta_min + (base_lr - eta_min) (1 + cos(pi e / T_max)) / 2: from base_lr
    down to eta_min at epoch T_max along half a cosine (and back up after it, as PyTorch).

    This is the closed form of the schedule; PyTorch's CosineAnnealingLR computes it by a
    recursion that agrees with it to about 1e-15 in float64. In a ChainedScheduler it steps by
    that recursion, float for float, so that it scales the lr the other schedules set.
    """

    setting_names = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, T_max=T_max, eta_min=eta_min)

    def _checked_settings(self, T_max, eta_min) -> dict:
        if isinstance(T_max, bool) or not isinstance(T_max, (int, np.integer)) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max is {T_max!r}; expected an int >= 1 "
                             f"(the number of epochs from base_lr down to eta_min), e.g. the "
                             f"number of epochs")
        return {"T_max": int(T_max),
                "eta_min": _checked_number("CosineAnnealingLR", "eta_min", eta_min, low=0.0)}

    def _next_lr(self, epoch: int, group: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2    # 1 at e = 0, 0 at T_max
        return self.eta_min + (self.base_lrs[group] - self.eta_min) * cosine

    # In a ChainedScheduler, PyTorch's recursion, which scales the lr it is given by the ratio of
    # successive cosines (the closed form would replace it); the epoch after each minimum, where
    # that ratio divides by 1 + cos(pi) = 0, steps up by a fixed amount instead. Never below 0
    # (PyTorch's can be, when the other schedules hold the lr below eta_min).
    def _next_lr_from(self, epoch: int, group: int, lr: float) -> float:
        if (epoch - 1 - self.T_max) % (2 * self.T_max) == 0:
            lr = lr + ((self.base_lrs[group] - self.eta_min)
                       * (1 - math.cos(math.pi / self.T_max)) / 2)
        else:
            lr = ((1 + math.cos(math.pi * epoch / self.T_max))
                  / (1 + math.cos(math.pi * (epoch - 1) / self.T_max))
                  * (lr - self.eta_min) + self.eta_min)
        return max(0.0, lr)


class ExponentialLR(LRScheduler):
    """lr of epoch e = base_lr * gamma ** e: multiplied by gamma after every epoch, as PyTorch's
    ExponentialLR (by the same repeated multiplication, so the same floats).
    """

    setting_names = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, gamma=gamma)

    def _checked_settings(self, gamma) -> dict:
        return {"gamma": _checked_number("ExponentialLR", "gamma", gamma, low=0.0,
                                         low_open=True)}

    # PyTorch multiplies the current lr, rather than computing base_lr * gamma**e
    def _next_lr(self, epoch: int, group: int) -> float:
        return self.last_lrs[group] * self.gamma


class MultiStepLR(LRScheduler):
    """lr of epoch e = base_lr * gamma ** (the number of milestones <= e): multiplied by gamma at
    each milestone epoch, as PyTorch's MultiStepLR (by the same repeated multiplication, so the
    same floats).

    As in PyTorch, the milestones may come in any order, and an epoch listed n times multiplies
    the lr by gamma ** n there. They are epochs >= 1: the lr of epoch 0 is always base_lr.

    >>> scheduler = MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)
    """

    setting_names = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, milestones=milestones, gamma=gamma)

    def _checked_settings(self, milestones, gamma) -> dict:
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(f"MultiStepLR: milestones is {type(milestones).__name__} "
                            f"{milestones!r:.80}; expected a list of epochs, e.g. "
                            f"milestones=[30, 80]")
        milestones = list(milestones)
        bad = [m for m in milestones
               if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1]
        if bad:
            raise ValueError(f"MultiStepLR: milestones {milestones!r:.80} hold {bad!r:.80}; "
                             f"expected epochs, ints >= 1 (the lr of a milestone epoch is the "
                             f"first one multiplied by gamma), e.g. milestones=[30, 80]")
        # a tuple: the state dict may hand it out without a copy
        return {"milestones": tuple(sorted(int(m) for m in milestones)),
                "gamma": _checked_number("MultiStepLR", "gamma", gamma, low=0.0, low_open=True)}

    def _next_lr(self, epoch: int, group: int) -> float:
        count = self.milestones.count(epoch)
        lr = self.last_lrs[group]
        return lr * self.gamma ** count if count else lr


class LambdaLR(LRScheduler):
    """lr of epoch e = base_lr * lr_lambda(e), epoch 0 included, as PyTorch's LambdaLR: any
    schedule written as a function of the epoch, e.g. a warm-up, LambdaLR(optimizer,
    lambda epoch: min(1.0, (epoch + 1) / 5)).

    lr_lambda is a function of the epoch, or a list of one per param group, as in PyTorch (one
    function serves every group); each group's lr is its own base lr times its function's
    factor. It must return a finite number >= 0 for every epoch; anything else is an error that
    names the epoch. The state dict holds the schedule's
    position, not lr_lambda (a function is code, not data; PyTorch keeps only a callable
    object's attributes): to resume, make the LambdaLR again with the same lr_lambda, then
    `load_state_dict`, which keeps this scheduler's own lr_lambda.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1):
        self.lr_lambdas = _checked_lr_lambdas("LambdaLR", optimizer, lr_lambda,
                                              "the factor of base_lr",
                                              "lambda epoch: 0.95 ** epoch")
        super().__init__(optimizer, last_epoch)

    def _checked_settings(self) -> dict:
        return {}

    def _start_lr(self, group: int) -> float:
        return self._next_lr(0, group)        # epoch 0 is base_lr * lr_lambda(0) too

    def _next_lr(self, epoch: int, group: int) -> float:
        return self.base_lrs[group] * _checked_factor("LambdaLR", f"lr_lambda({epoch})",
                                                      self.lr_lambdas[group](epoch),
                                                      f"the factor of base_lr at epoch {epoch}",
                                                      "make lr_lambda return {} for every epoch")


class MultiplicativeLR(LRScheduler):
    """lr of epoch e = (lr of epoch e - 1) * lr_lambda(e), from the optimizer's lr at epoch 0:
    multiplied after every epoch by a factor that may depend on the epoch, as PyTorch's
    MultiplicativeLR; e.g. lr_lambda=lambda epoch: 0.95 is ExponentialLR with gamma=0.95.

    lr_lambda is a function of the epoch, or a list of one per param group, as in PyTorch (one
    function serves every group). It is first called at epoch 1, and must return a finite
    number >= 0 for every epoch; anything else is an error that names the epoch. The
    state dict holds the schedule's position and lr, not lr_lambda: to resume, make the
    MultiplicativeLR again with the same lr_lambda, then `load_state_dict`. At a SequentialLR
    milestone it multiplies the lr it takes over by lr_lambda(0), as PyTorch's step(0) does.

    >>> scheduler = MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 0.95)
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
                 last_epoch: int = -1):
        self.lr_lambdas = _checked_lr_lambdas("MultiplicativeLR", optimizer, lr_lambda,
                                              "the factor of the epoch before's lr",
                                              "lambda epoch: 0.95")
        super().__init__(optimizer, last_epoch)

    def _checked_settings(self) -> dict:
        return {}

    def _factor(self, epoch: int, group: int) -> float:
        return _checked_factor("MultiplicativeLR", f"lr_lambda({epoch})",
                               self.lr_lambdas[group](epoch),
                               f"the factor of the last lr at epoch {epoch}",
                               "make lr_lambda return {} for every epoch")

    # PyTorch multiplies the current lr, as here
    def _next_lr(self, epoch: int, group: int) -> float:
        return self.last_lrs[group] * self._factor(epoch, group)

    # PyTorch's step(0) has no closed form to go back to: it multiplies the lr it takes over
    def _restart(self, base_lrs: list[float], lrs: list[float]) -> None:
        # first, so that an error changes nothing
        lrs = [lr * self._factor(0, group) for group, lr in enumerate(lrs)]
        self.base_lrs, self.last_epoch = list(base_lrs), 0
        self._set_lrs(lrs)


class LinearLR(LRScheduler):
    """lr of epoch e = base_lr * (start_factor + (end_factor - start_factor) * min(e, total_iters)
    / total_iters): a straight line from base_lr * start_factor to base_lr * end_factor over
    total_iters epochs, then constant, as PyTorch's LinearLR; the usual warm-up.

    Computed as PyTorch's step() computes it, by multiplying the last lr by the ratio of
    successive factors, 1 + (end_factor - start_factor) / (total_iters * start_factor +
    (e - 1) * (end_factor - start_factor)): so the floats are PyTorch's, which differ from the
    closed form above by rounding, up to about 2e-14 * base_lr over lines of 1000 epochs. With
    end_factor 0 that rounding can end PyTorch's line a hair below zero (about -1e-16 * base_lr);
    here that lr is 0, as no optimizer or scheduler state dict would load a negative one.
    """

    setting_names = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, start_factor=start_factor, end_factor=end_factor,
                         total_iters=total_iters)

    def _checked_settings(self, start_factor, end_factor, total_iters) -> dict:
        return {"start_factor": _checked_number("LinearLR", "start_factor", start_factor,
                                                low=0.0, low_open=True, high=1.0,
                                                high_closed=True),
                "end_factor": _checked_number("LinearLR", "end_factor", end_factor, low=0.0,
                                              high=1.0, high_closed=True),
                "total_iters": _checked_int("LinearLR", "total_iters", total_iters, low=1,
                                            meaning="the number of epochs the line takes, "
                                                    "e.g. total_iters=5")}

    def _start_lr(self, group: int) -> float:
        return self.base_lrs[group] * self.start_factor      # epoch 0 starts the line

    # factor(e) / factor(e - 1), with factor(e) = start + (end - start) e / total_iters
    def _next_lr(self, epoch: int, group: int) -> float:
        if epoch > self.total_iters:
            return self.last_lrs[group]
        change = self.end_factor - self.start_factor
        lr = self.last_lrs[group] * (1.0 + change / (self.total_iters * self.start_factor
                                                     + (epoch - 1) * change))
        return max(0.0, lr)     # rounding may take a line that ends at 0 just below it


class ConstantLR(LRScheduler):
    """lr of epoch e = base_lr * factor for e < total_iters, then base_lr: a lowered lr for the
    first total_iters epochs, as PyTorch's ConstantLR; a warm-up in one step.

    Computed as PyTorch's step() computes it: at epoch total_iters the last lr is multiplied by
    1 / factor, so the floats are PyTorch's (base_lr * factor * (1 / factor) may differ from
    base_lr in the last bit). factor must be > 0 and total_iters >= 1: PyTorch takes factor 0
    but then divides by it at epoch total_iters, and total_iters 0 but then keeps base_lr *
    factor for ever.

    >>> scheduler = ConstantLR(optimizer, factor=0.5, total_iters=4)    # 4 epochs at lr / 2
    """

    setting_names = ("factor", "total_iters")

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, factor=factor, total_iters=total_iters)

    def _checked_settings(self, factor, total_iters) -> dict:
        return {"factor": _checked_number("ConstantLR", "factor", factor, low=0.0,
                                          low_open=True, high=1.0, high_closed=True),
                "total_iters": _checked_int("ConstantLR", "total_iters", total_iters, low=1,
                                            meaning="the number of epochs at base_lr * factor, "
                                                    "e.g. total_iters=5")}

    def _start_lr(self, group: int) -> float:
        return self.base_lrs[group] * self.factor

    # PyTorch undoes the factor by multiplying the current lr, rather than returning base_lr
    def _next_lr(self, epoch: int, group: int) -> float:
        lr = self.last_lrs[group]
        return lr * (1.0 / self.factor) if epoch == self.total_iters else lr


class PolynomialLR(LRScheduler):
    """lr of epoch e = base_lr * (1 - min(e, total_iters) / total_iters) ** power: from base_lr
    down to 0 at epoch total_iters along a polynomial (a straight line with power 1), then 0, as
    PyTorch's PolynomialLR.

    Computed as PyTorch's step() computes it, by multiplying the last lr by the ratio of
    successive factors, ((1 - e / total_iters) / (1 - (e - 1) / total_iters)) ** power: so the
    floats are PyTorch's, which differ from the closed form above by rounding.
    """

    setting_names = ("total_iters", "power")

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, total_iters=total_iters, power=power)

    def _checked_settings(self, total_iters, power) -> dict:
        return {"total_iters": _checked_int("PolynomialLR", "total_iters", total_iters, low=1,
                                            meaning="the number of epochs from base_lr down to "
                                                    "0, e.g. total_iters=5"),
                "power": _checked_number("PolynomialLR", "power", power, low=0.0)}

    # factor(e) / factor(e - 1), with factor(e) = (1 - e / total_iters) ** power
    def _next_lr(self, epoch: int, group: int) -> float:
        if epoch > self.total_iters:
            return self.last_lrs[group]
        ratio = (1.0 - epoch / self.total_iters) / (1.0 - (epoch - 1) / self.total_iters)
        return self.last_lrs[group] * ratio ** self.power


class CosineAnnealingWarmRestarts(LRScheduler):
    """lr of epoch e = eta_min + (base_lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2, T_cur the
    epochs since the last restart and T_i the length of the current cycle: from base_lr down
    towards eta_min along half a cosine, back to base_lr every cycle, the first cycle T_0
    epochs and each next one T_mult times longer, as PyTorch's CosineAnnealingWarmRestarts
    (SGDR).

    Computed by PyTorch's formula, in its order, from the same integer T_cur and T_i, so the
    floats are PyTorch's (epoch 0 included: eta_min + (base_lr - eta_min) * 2 / 2). Stepped once
    per epoch only: PyTorch's step(epoch) with a fractional epoch, for restarts within an epoch,
    is left out. The cycle position follows from the epoch, so a state dict needs no more.

    >>> scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=10, T_mult=2)   # 10, 20, 40...
    """

    setting_names = ("T_0", "T_mult", "eta_min")

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        super().__init__(optimizer, last_epoch, T_0=T_0, T_mult=T_mult, eta_min=eta_min)

    def _checked_settings(self, T_0, T_mult, eta_min) -> dict:
        name = "CosineAnnealingWarmRestarts"
        return {"T_0": _checked_int(name, "T_0", T_0, low=1,
                                    meaning="the number of epochs of the first cycle, e.g. "
                                            "T_0=10"),
                "T_mult": _checked_int(name, "T_mult", T_mult, low=1,
                                       meaning="how many times longer each cycle is than the "
                                               "one before, e.g. T_mult=2"),
                "eta_min": _checked_number(name, "eta_min", eta_min, low=0.0)}

    def _cycle(self, epoch: int) -> tuple[int, int]:
        """(T_cur, T_i) at epoch: the epochs since the last restart and the current cycle's
        length."""
        if self.T_mult == 1:
            return epoch % self.T_0, self.T_0
        since, length = epoch, self.T_0
        while since >= length:            # the cycles grow geometrically: few turns
            since, length = since - length, length * self.T_mult
        return since, length

    def _start_lr(self, group: int) -> float:
        return self._next_lr(0, group)     # PyTorch's formula at T_cur = 0, not base_lr itself

    def _next_lr(self, epoch: int, group: int) -> float:
        since, length = self._cycle(epoch)
        return (self.eta_min + (self.base_lrs[group] - self.eta_min)
                * (1 + math.cos(math.pi * since / length)) / 2)


class _BatchScheduler(LRScheduler):
    """A schedule stepped after every batch whose lr and, with cycle_momentum, momentum are
    those of `_lr_and_momentum(batch, group)`, for each param group: OneCycleLR and CyclicLR."""

    def _lr_and_momentum(self, batch: int, group: int) -> tuple[float, float]:
        raise NotImplementedError(f"{type(self).__name__} must define _lr_and_momentum")

    def _next_lr(self, epoch: int, group: int) -> float:
        return self._lr_and_momentum(epoch, group)[0]

    def _set_momentum(self) -> None:
        """With cycle_momentum, give every param group the momentum of the current batch:
        Adam's and AdamW's betas[0], else (SGD, RMSprop) momentum; PyTorch's rule, betas
        first."""
        if not self.cycle_momentum:
            return
        for i, group in enumerate(self.optimizer.param_groups):
            momentum = self._lr_and_momentum(self.last_epoch, i)[1]
            if "betas" in self.optimizer.hyperparameter_names:
                group["betas"] = (momentum, group["betas"][1])
            else:
                group["momentum"] = momentum

    def step(self) -> None:
        """End a batch: the optimizer's lr (and momentum) become those of the next one."""
        super().step()
        self._set_momentum()

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue from the state saved by `state_dict()`: restores the position and settings
        and sets the optimizer's lr and (with cycle_momentum) momentum to those of the saved
        batch."""
        super().load_state_dict(state_dict)
        self._set_momentum()


class OneCycleLR(_BatchScheduler):
    """The 1cycle policy, stepped once per batch (not per epoch): the lr rises from max_lr /
    div_factor to max_lr over the first pct_start of total_steps, then falls to max_lr /
    div_factor / final_div_factor, while the momentum moves the other way, as PyTorch's
    OneCycleLR.

    Each phase anneals from a to b as its progress p goes from 0 to 1: "cos": b + (a - b)
    (1 + cos(pi p)) / 2, "linear": a + (b - a) p, with p = (step - start) / (end - start) and the
    phases ending at steps pct_start * total_steps - 1 and total_steps - 1. With three_phase
    they end at pct_start * total_steps - 1, 2 * pct_start * total_steps - 2 and total_steps - 1:
    the lr falls back to max_lr / div_factor as it rose, then to the minimum. total_steps is
    given, or else epochs * steps_per_epoch.

    The optimizer's own lr is not used: construction sets it to the lr of step 0, max_lr /
    div_factor (through the annealing formula, as PyTorch computes it, so perhaps off in the last
    bit; if pct_start * total_steps < 1 the rise is skipped, as in PyTorch). step() may be called
    total_steps times, once after each batch, and one more call raises ValueError, as in
    PyTorch. The last call, after the last batch, keeps the lr and momentum of step
    total_steps - 1, where PyTorch carries the last phase on past its end: to a negative lr with
    "linear" (which no optimizer or scheduler state dict would load) and back up from the
    minimum with "cos".

    With cycle_momentum (the default, as in PyTorch) the momentum falls from max_momentum to
    base_momentum while the lr rises and rises back while it falls (three_phase: it stays at
    max_momentum in the third phase): Adam's and AdamW's betas[0], SGD's and RMSprop's momentum.
    As PyTorch, this needs 'betas' or 'momentum' among the optimizer's hyperparameters, so
    Adagrad is refused. load_state_dict sets both the lr and the momentum of the saved step.
    max_lr, base_momentum and max_momentum are numbers (one for every param group), or lists of
    one per group, as in PyTorch: each group cycles between its own.

    Refused where PyTorch would divide by zero or never reach the minimum: pct_start = 1,
    pct_start * total_steps = 1, and with three_phase a fall that ends at the cycle's last step
    or later (2 * pct_start * total_steps - 2 >= total_steps - 1). Refused too: a momentum
    cycle through 0 for SGD with nesterov=True, which needs momentum > 0; lists of another
    length than the number of param groups, even of base_momentum and max_momentum with
    cycle_momentum=False (where PyTorch does not look at them).

    >>> scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    >>> for epoch in range(10):
    ...     for x, y in loader:
    ...         ...; optimizer.step()
    ...         scheduler.step()          # after every batch
    """

    setting_names = ("max_lr", "total_steps", "pct_start", "anneal_strategy", "div_factor",
                     "final_div_factor", "three_phase", "cycle_momentum", "base_momentum",
                     "max_momentum")

    def __init__(self, optimizer: Optimizer, max_lr: float | list[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1):
        if total_steps is None:        # as PyTorch: total_steps wins when both are given
            if epochs is None or steps_per_epoch is None:
                raise ValueError(f"OneCycleLR: total_steps is None, epochs is {epochs!r} and "
                                 f"steps_per_epoch is {steps_per_epoch!r}; expected total_steps, "
                                 f"or both epochs and steps_per_epoch (the cycle's length in "
                                 f"batches); pass e.g. epochs=10, "
                                 f"steps_per_epoch=len(train_loader)")
            batches = "the number of batches in an epoch, e.g. len(train_loader)"
            total_steps = (_checked_int("OneCycleLR", "epochs", epochs, low=1,
                                        meaning="the number of epochs of the cycle")
                           * _checked_int("OneCycleLR", "steps_per_epoch", steps_per_epoch,
                                          low=1, meaning=batches))
        super().__init__(optimizer, last_epoch, max_lr=max_lr, total_steps=total_steps,
                         pct_start=pct_start, anneal_strategy=anneal_strategy,
                         div_factor=div_factor, final_div_factor=final_div_factor,
                         three_phase=three_phase, cycle_momentum=cycle_momentum,
                         base_momentum=base_momentum, max_momentum=max_momentum)
        self.base_lrs = [max_lr / self.div_factor for max_lr in self.max_lr]   # initial_lr
        self._set_lrs([self._next_lr(0, group) for group in self._groups()])
        self._set_momentum()

    def _checked_settings(self, max_lr, total_steps, pct_start, anneal_strategy, div_factor,
                          final_div_factor, three_phase, cycle_momentum, base_momentum,
                          max_momentum) -> dict:
        name = "OneCycleLR"
        checked = {
            "max_lr": _checked_numbers(name, "max_lr", self._one_per_group("max_lr", max_lr, 0.1),
                                       low=0.0, low_open=True),
            "total_steps": _checked_int(name, "total_steps", total_steps, low=1,
                                        meaning="the number of batches of the whole cycle, "
                                                "i.e. of scheduler.step() calls"),
            "pct_start": _checked_number(name, "pct_start", pct_start, low=0.0, high=1.0),
            "anneal_strategy": _checked_choice(name, "anneal_strategy", anneal_strategy,
                                               ("cos", "linear")),
            "div_factor": _checked_number(name, "div_factor", div_factor, low=0.0,
                                          low_open=True),
            "final_div_factor": _checked_number(name, "final_div_factor", final_div_factor,
                                                low=0.0, low_open=True),
            "three_phase": _checked_flag(name, "three_phase", three_phase),
            "cycle_momentum": _checked_flag(name, "cycle_momentum", cycle_momentum),
            **self._checked_momenta(base_momentum, max_momentum, (0.85, 0.95))}
        rise = checked["pct_start"] * checked["total_steps"]
        if rise == 1:
            raise ValueError(f"OneCycleLR: pct_start={checked['pct_start']} of total_steps="
                             f"{checked['total_steps']} makes a rise of exactly 1 step, a phase "
                             f"from step 0 to step 0 whose progress divides by zero (PyTorch "
                             f"raises ZeroDivisionError); expected pct_start * total_steps != 1; "
                             f"change pct_start or total_steps")
        fall_end = float(2 * checked["pct_start"] * checked["total_steps"]) - 2
        if checked["three_phase"] and fall_end >= checked["total_steps"] - 1:
            raise ValueError(f"OneCycleLR: pct_start is {checked['pct_start']} with "
                             f"three_phase=True and total_steps={checked['total_steps']}, so the "
                             f"rise and the fall that mirrors it end at step {fall_end:g}, past "
                             f"the cycle's last step {checked['total_steps'] - 1}: the third "
                             f"phase, down to the minimum lr, would be empty (PyTorch divides by "
                             f"zero or never reaches the minimum); expected 2 * pct_start * "
                             f"total_steps - 2 < total_steps - 1; pass e.g. pct_start=0.3")
        if checked["cycle_momentum"]:
            _check_momentum_to_cycle(name, self.optimizer, checked["base_momentum"],
                                     checked["max_momentum"], example=0.85)
        return checked

    def _lr_and_momentum(self, step: int, group: int) -> tuple[float, float]:
        """A group's lr and momentum at a step, PyTorch's phases and annealing, float for float;
        step total_steps, past the cycle, keeps those of the cycle's last step."""
        step = min(step, self.total_steps - 1)
        max_lr = self.max_lr[group]
        initial = max_lr / self.div_factor
        lowest = initial / self.final_div_factor
        top, bottom = self.max_momentum[group], self.base_momentum[group]
        rise_end = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:    # (end step, lr from, lr to, momentum from, momentum to)
            phases = [(rise_end, initial, max_lr, top, bottom),
                      (float(2 * self.pct_start * self.total_steps) - 2, max_lr, initial,
                       bottom, top),
                      (self.total_steps - 1, initial, lowest, top, top)]
        else:
            phases = [(rise_end, initial, max_lr, top, bottom),
                      (self.total_steps - 1, max_lr, lowest, bottom, top)]
        start = 0.0
        for end, lr_from, lr_to, momentum_from, momentum_to in phases:
            if step <= end:
                p = (step - start) / (end - start)
                return (self._anneal(lr_from, lr_to, p),
                        self._anneal(momentum_from, momentum_to, p))
            start = end
        raise AssertionError(f"unreachable: step {step} is in no phase of {phases}")

    def _anneal(self, a: float, b: float, p: float) -> float:
        if self.anneal_strategy == "cos":
            return b + (a - b) / 2.0 * (math.cos(math.pi * p) + 1)
        return (b - a) * p + a

    def step(self) -> None:
        """End a batch: the optimizer's lr (and momentum) become those of the next one; at most
        total_steps calls."""
        if self.last_epoch >= self.total_steps:
            raise ValueError(f"OneCycleLR.step: called {self.last_epoch + 1} times for a cycle "
                             f"of total_steps={self.total_steps}; expected at most total_steps "
                             f"calls, one after each batch; make total_steps the number of "
                             f"batches of the whole run, e.g. epochs=E, "
                             f"steps_per_epoch=len(train_loader)")
        super().step()


class CyclicLR(_BatchScheduler):
    """The cyclical learning-rate policy, stepped once per batch (not per epoch): the lr climbs
    from base_lr to max_lr over step_size_up batches and falls back over step_size_down, cycle
    after cycle, with the amplitude kept ("triangular"), halved every cycle ("triangular2") or
    multiplied by gamma every batch ("exp_range"), while the momentum moves the other way between
    max_momentum and base_momentum, as PyTorch's CyclicLR.

    At batch t, with cycle c = floor(1 + t / (up + down)), position x = 1 + t / (up + down) - c
    in [0, 1) and r = up / (up + down), the fraction f of the amplitude is x / r while x <= r,
    else (x - 1) / (r - 1): 0 -> 1 -> 0 over a cycle. Then lr = base_lr + (max_lr - base_lr) * f
    * s and momentum = max_momentum - (max_momentum - base_momentum) * f * s, where the scale s is
    1 ("triangular"), 1 / 2 ** (c - 1) ("triangular2"), gamma ** t ("exp_range"), or, when
    scale_fn is given (mode is then ignored, as in PyTorch), scale_fn(c) with scale_mode "cycle"
    and scale_fn(t) with "iterations". The formulas are PyTorch's, in its order, so the floats
    are PyTorch's.

    The optimizer's own lr is not used: construction sets it to base_lr and, with cycle_momentum
    (the default, as in PyTorch), the momentum to max_momentum: SGD's and RMSprop's momentum (so
    SGD without momentum gets one, as in PyTorch), Adam's and AdamW's betas[0]. As PyTorch, this
    needs 'betas' or 'momentum' among the optimizer's hyperparameters, so Adagrad is refused
    unless cycle_momentum=False. base_lr, max_lr, base_momentum and max_momentum are numbers
    (one for every param group), or lists of one per group, as in PyTorch: each group cycles
    between its own. max_lr may be below base_lr (the cycle then dips), as in PyTorch. scale_fn
    must return a number in [0, 1] (PyTorch's documented range), so the lr stays between base_lr
    and max_lr; load_state_dict sets the lr and (with cycle_momentum) the momentum of the saved
    batch, and keeps this scheduler's own scale_fn (a function is code, not data, so the state
    dict holds none).

    Refused where PyTorch takes them: a mode other than the three even when scale_fn makes it
    unused, with mode "exp_range" and no scale_fn a gamma outside (0, 1] (above 1 the amplitude
    would grow without end, past max_lr; at 0 or below it would vanish or flip sign),
    step_size_up < 1 (PyTorch divides by zero) and non-integer step sizes; a momentum cycle
    through 0 for SGD with nesterov=True; as for every schedule, a last_epoch other than -1
    (see LRScheduler). Where gamma is unused (the other modes, or a scale_fn) any finite number
    is taken, as in PyTorch.

    >>> scheduler = CyclicLR(optimizer, base_lr=0.01, max_lr=0.1, step_size_up=2 * len(loader))
    >>> for epoch in range(epochs):
    ...     for x, y in loader:
    ...         ...; optimizer.step()
    ...         scheduler.step()          # after every batch
    """

    setting_names = ("max_lr", "step_size_up", "step_size_down", "mode", "gamma", "scale_mode",
                     "cycle_momentum", "base_momentum", "max_momentum")

    def __init__(self, optimizer: Optimizer, base_lr: float | list[float],
                 max_lr: float | list[float], step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[int], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9, last_epoch: int = -1):
        # not LRScheduler.__init__, whose base lr is the optimizer's lr: here it is base_lr
        _checked_fresh("CyclicLR", last_epoch)
        self.optimizer = _checked_optimizer("CyclicLR", optimizer)
        base_lrs = _checked_numbers("CyclicLR", "base_lr",
                                    self._one_per_group("base_lr", base_lr, 0.01), low=0.0)
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"CyclicLR: scale_fn is {type(scale_fn).__name__} "
                            f"{scale_fn!r:.80}; expected None or a function that returns the "
                            f"scale of the amplitude, in [0, 1], e.g. scale_fn=lambda cycle: "
                            f"0.5 ** cycle")
        self.scale_fn = scale_fn
        if step_size_down is None:             # as PyTorch: a symmetric cycle
            step_size_down = step_size_up
        self.__dict__.update(self._checked_settings(
            max_lr=max_lr, step_size_up=step_size_up, step_size_down=step_size_down, mode=mode,
            gamma=gamma, scale_mode=scale_mode, cycle_momentum=cycle_momentum,
            base_momentum=base_momentum, max_momentum=max_momentum))
        self._start(base_lrs)
        self._set_momentum()

    def _checked_settings(self, max_lr, step_size_up, step_size_down, mode, gamma, scale_mode,
                          cycle_momentum, base_momentum, max_momentum) -> dict:
        name = "CyclicLR"
        checked = {
            "max_lr": _checked_numbers(name, "max_lr", self._one_per_group("max_lr", max_lr, 0.1),
                                       low=0.0),
            "step_size_up": _checked_int(name, "step_size_up", step_size_up, low=1,
                                         meaning="the number of batches in which the lr climbs "
                                                 "from base_lr to max_lr, e.g. 2 to 10 epochs' "
                                                 "worth, step_size_up=4 * len(train_loader)"),
            "step_size_down": _checked_int(name, "step_size_down", step_size_down, low=0,
                                           meaning="the number of batches in which the lr "
                                                   "falls back, or None for step_size_up"),
            "mode": _checked_choice(name, "mode", mode,
                                    ("triangular", "triangular2", "exp_range")),
            "gamma": _checked_number(name, "gamma", gamma, low=-math.inf),
            "scale_mode": _checked_choice(name, "scale_mode", scale_mode,
                                          ("cycle", "iterations")),
            "cycle_momentum": _checked_flag(name, "cycle_momentum", cycle_momentum),
            **self._checked_momenta(base_momentum, max_momentum, (0.8, 0.9))}
        gamma = checked["gamma"]          # used by mode "exp_range" only, and not with scale_fn
        if checked["mode"] == "exp_range" and self.scale_fn is None and not 0 < gamma <= 1:
            raise ValueError(f"CyclicLR: gamma is {gamma} with mode='exp_range'; expected a "
                             f"number in (0, 1], the factor of the amplitude after every batch "
                             f"(above 1 the amplitude would grow without end, past max_lr; at 0 "
                             f"or below it would vanish or flip sign); pass e.g. gamma=0.99")
        if checked["cycle_momentum"]:
            _check_momentum_to_cycle(name, self.optimizer, checked["base_momentum"],
                                     checked["max_momentum"], example=0.8)
        return checked

    def _scale(self, cycle: int, batch: int) -> float:
        """The scale of the amplitude at a batch of a cycle: the mode's, or scale_fn's."""
        if self.scale_fn is not None:
            x = cycle if self.scale_mode == "cycle" else batch
            return _checked_factor("CyclicLR", f"scale_fn({x})", self.scale_fn(x),
                                   f"the scale of the amplitude at "
                                   f"{'cycle' if self.scale_mode == 'cycle' else 'batch'} {x}",
                                   "make scale_fn return {} for every x >= 0", high=1.0)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (cycle - 1))
        return self.gamma ** batch

    def _lr_and_momentum(self, batch: int, group: int) -> tuple[float, float]:
        """A group's lr and momentum at a batch, PyTorch's formulas in its order, float for
        float."""
        total = float(self.step_size_up) + float(self.step_size_down)
        rise = self.step_size_up / total                   # the part of a cycle the lr climbs
        cycle = math.floor(1 + batch / total)
        x = 1.0 + batch / total - cycle                    # where in the cycle, in [0, 1)
        fraction = x / rise if x <= rise else (x - 1) / (rise - 1)
        scale = self._scale(cycle, batch)
        base_lr, max_lr = self.base_lrs[group], self.max_lr[group]
        base_momentum, max_momentum = self.base_momentum[group], self.max_momentum[group]
        lr = base_lr + (max_lr - base_lr) * fraction * scale
        momentum = max_momentum - (max_momentum - base_momentum) * fraction * scale
        return lr, momentum


class ReduceLROnPlateau(LRScheduler):
    """lr = max(lr * factor, min_lr) once the metric passed to `step()` has not improved for
    more than `patience` epochs in a row, as PyTorch's ReduceLROnPlateau; call
    `scheduler.step(val_loss)` after each epoch's validation.

    The metric improves on best (mode "min") when metric < best * (1 - threshold) with
    threshold_mode "rel", metric < best - threshold with "abs"; (mode "max") when metric >
    best * (1 + threshold), metric > best + threshold. best starts at +inf ("min") or -inf
    ("max"), so the first metric improves on it; a NaN never does. After a reduction, the next
    `cooldown` epochs count no bad epochs. A reduction of eps or less (old lr - new lr <= eps) is
    skipped, so the lr rests at min_lr. Every param group's lr is reduced so, each down to its
    own min_lr: min_lr is a number (one for every group) or a list of one per group, as in
    PyTorch.

    As the other schedules, this one owns the lr: it reduces its own last lrs and each step()
    sets the optimizer's lrs to them (PyTorch reduces whatever lrs the optimizer holds; the same
    unless an lr is changed by hand). state_dict() also holds best, num_bad_epochs and
    cooldown_counter.

    >>> scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
    >>> for epoch in range(epochs):
    ...     train_epoch(...)
    ...     scheduler.step(evaluate(...))      # the validation loss
    """

    setting_names = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                     "min_lr", "eps")
    counter_names = ("best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | list[float] = 0.0, eps: float = 1e-8):
        super().__init__(optimizer, mode=mode, factor=factor, patience=patience,
                         threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown,
                         min_lr=min_lr, eps=eps)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0       # epochs in a row without improvement, outside cooldown
        self.cooldown_counter = 0     # epochs of cooldown still to come

    def _checked_settings(self, mode, factor, patience, threshold, threshold_mode, cooldown,
                          min_lr, eps) -> dict:
        name = "ReduceLROnPlateau"
        return {"mode": _checked_choice(name, "mode", mode, ("min", "max")),
                "factor": _checked_number(name, "factor", factor, low=0.0, high=1.0),
                "patience": _checked_int(name, "patience", patience, low=0,
                                         meaning="the bad epochs tolerated before the lr is "
                                                 "reduced, e.g. patience=10"),
                "threshold": _checked_number(name, "threshold", threshold, low=0.0),
                "threshold_mode": _checked_choice(name, "threshold_mode", threshold_mode,
                                                  ("rel", "abs")),
                "cooldown": _checked_int(name, "cooldown", cooldown, low=0,
                                         meaning="the epochs after a reduction whose bad epochs "
                                                 "are not counted, e.g. cooldown=0"),
                "min_lr": _checked_numbers(name, "min_lr",
                                           self._one_per_group("min_lr", min_lr, 1e-5), low=0.0),
                "eps": _checked_number(name, "eps", eps, low=0.0)}

    def _improves(self, metric: float) -> bool:
        """PyTorch's comparisons, float for float."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < self.best * (1.0 - self.threshold)
            return metric < self.best - self.threshold
        if self.threshold_mode == "rel":
            return metric > self.best * (self.threshold + 1.0)
        return metric > self.best + self.threshold

    def step(self, metrics: float) -> None:
        """End an epoch with its metric (e.g. the validation loss): count it as an improvement
        or a bad epoch, and reduce the lr after more than `patience` bad epochs in a row."""
        value = metrics.data if isinstance(metrics, Value) else metrics
        if isinstance(value, (bool, np.bool_)) or not (
                type(value) in (int, float)
                or (np.ndim(value) == 0 and np.asarray(value).dtype.kind in "iuf")):
            raise TypeError(f"ReduceLROnPlateau.step: metrics is {type(metrics).__name__} "
                            f"{metrics!r:.80}; expected one number, the metric of this epoch; "
                            f"pass e.g. scheduler.step(val_loss.item())")
        metric = float(value)
        self.last_epoch += 1
        if self._improves(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, lr in enumerate(self.last_lrs):
                reduced = max(lr * self.factor, self.min_lr[group])
                if lr - reduced > self.eps:
                    self.last_lrs[group] = reduced
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._set_lrs(self.last_lrs)

    def state_dict(self) -> dict:
        """{"type", "settings", "base_lrs", "last_epoch", "last_lrs", "best", "num_bad_epochs",
        "cooldown_counter"}: plain numbers, enough for `load_state_dict` to continue exactly
        where it stopped."""
        return {**super().state_dict(),
                **{name: getattr(self, name) for name in self.counter_names}}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue from a state saved by `state_dict()`: settings, position, lr, best metric and
        counters; nothing is restored if anything is wrong."""
        name = "ReduceLROnPlateau.load_state_dict"
        expected = set(self.state_dict())
        earlier = expected - {"base_lrs", "last_lrs"} | {"base_lr", "last_lr"}   # one group's
        if not isinstance(state_dict, dict) or set(state_dict) not in (expected, earlier):
            raise ValueError(f"{name}: expected a dict with keys 'type', 'settings', 'base_lrs', "
                             f"'last_epoch', 'last_lrs', 'best', 'num_bad_epochs' and "
                             f"'cooldown_counter' as made by scheduler.state_dict(), got "
                             f"{state_dict!r:.100}")
        best = state_dict["best"]
        if (isinstance(best, bool) or not isinstance(best, (int, float, np.integer, np.floating))
                or math.isnan(best)):
            raise ValueError(f"{name}: best is {best!r}; expected a number (+-inf before the "
                             f"first step)")
        counters = {"best": float(best)}
        for counter in ("num_bad_epochs", "cooldown_counter"):
            counters[counter] = _checked_int(name, counter, state_dict[counter], low=0,
                                             meaning="a count of epochs")
        super().load_state_dict({key: value for key, value in state_dict.items()
                                 if key not in self.counter_names})
        self.__dict__.update(counters)


class _ScheduleList(LRScheduler):
    """What SequentialLR and ChainedScheduler share: the list of schedules they run
    (self.schedulers), saved and restored with their own state."""

    def state_dict(self) -> dict:
        """{"type", "settings", "base_lrs", "last_epoch", "last_lrs", "schedulers"}, the last a
        list of the schedules' state dicts: enough for `load_state_dict` to continue exactly
        where it stopped."""
        return {**super().state_dict(),
                "schedulers": [scheduler.state_dict() for scheduler in self.schedulers]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue the sequence or chain saved by `state_dict()`: its position, every
        schedule's, and the optimizer's lr; nothing is restored if anything is wrong."""
        name = f"{type(self).__name__}.load_state_dict"
        own = ({key: value for key, value in state_dict.items() if key != "schedulers"}
               if isinstance(state_dict, dict) else state_dict)
        checked = self._checked_state(own)
        saved = state_dict.get("schedulers")
        kinds = ", ".join(type(scheduler).__name__ for scheduler in self.schedulers)
        if not isinstance(saved, list) or len(saved) != len(self.schedulers):
            raise ValueError(f"{name}: schedulers is {saved!r:.100}; expected a list of "
                             f"{len(self.schedulers)} state dicts, those of this "
                             f"{type(self).__name__}'s schedules ({kinds}), as made by "
                             f"scheduler.state_dict()")
        restored = []
        for i, (scheduler, state) in enumerate(zip(self.schedulers, saved, strict=True)):
            try:
                restored.append(scheduler._checked_state(state))
            except (TypeError, ValueError) as error:
                raise type(error)(f"{name}: schedulers[{i}]: {error}") from error
        for scheduler, attributes in zip(self.schedulers, restored, strict=True):
            scheduler.__dict__.update(attributes)
        self.__dict__.update(checked)
        self._set_lrs(self.last_lrs)


class SequentialLR(_ScheduleList):
    """Several schedules one after another, as PyTorch's SequentialLR: schedulers[0] sets the lr
    until epoch milestones[0], where schedulers[1] starts at its own epoch 0, and so on; the usual
    use is a warm-up, then a decay.

    Every schedule of the list runs from one base lr per param group, the first one's,
    schedulers[0].base_lrs:
    PyTorch's initial_lr, the optimizer's lr when its first scheduler was made, whenever (as
    usual) the schedules were made in their list's order on a fresh optimizer. Each schedule took
    its own base_lr from the optimizer's lr when it was made, which the ones made before it may
    have changed (a LinearLR warm-up lowers it at once), so SequentialLR gives them all the
    first one's, puts each at its epoch 0, and sets the optimizer's lr back to the first one's
    lr of epoch 0. At a milestone the next schedule starts again at its epoch 0 from that base
    lr, as PyTorch's step(0) would (base_lr for StepLR, ExponentialLR, MultiStepLR,
    CosineAnnealingLR, PolynomialLR and CosineAnnealingWarmRestarts, base_lr * start_factor for
    LinearLR, base_lr * factor for ConstantLR, base_lr * lr_lambda(0) for LambdaLR, and for
    MultiplicativeLR the lr it takes over times lr_lambda(0)), then goes on with its own step().
    state_dict() holds the schedules' state dicts too.

    >>> warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    >>> cosine = CosineAnnealingLR(optimizer, T_max=95)     # runs from warmup's base_lr
    >>> scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[5])
    >>> for epoch in range(100):
    ...     train_epoch(...)
    ...     scheduler.step()

    Refused: ReduceLROnPlateau, whose step() needs the epoch's metric (PyTorch refuses it too);
    OneCycleLR, stepped after every batch and a warm-up and decay of its own (PyTorch takes it,
    but its max_lr / div_factor then replaces the optimizer's initial_lr, so the warm-up before
    it starts from that lr instead); CyclicLR, stepped after every batch too; a SequentialLR in
    the list (PyTorch's then runs one epoch off, or fails at its milestone) or a
    ChainedScheduler (PyTorch's fails at its milestone), neither supported: one SequentialLR of
    single schedules, with milestones counted from its epoch 0, runs them one after another, and
    a LinearLR warm-up chained with a decay in one ChainedScheduler warms up during the decay.
    """

    setting_names = ("milestones",)

    def __init__(self, optimizer: Optimizer, schedulers: Iterable[LRScheduler],
                 milestones: Iterable[int], last_epoch: int = -1):
        # not LRScheduler.__init__, whose base lr is the optimizer's lr: here it is the first
        # schedule's
        _checked_fresh("SequentialLR", last_epoch)
        self.optimizer = _checked_optimizer("SequentialLR", optimizer)
        self.schedulers = self._checked_schedulers(schedulers)
        self.__dict__.update(self._checked_settings(milestones=milestones))
        base_lrs = self.schedulers[0].base_lrs
        for scheduler in self.schedulers:
            scheduler._start(base_lrs)
        self._start(base_lrs)

    def _checked_schedulers(self, schedulers) -> tuple[LRScheduler, ...]:
        """The schedules as a tuple: at least one, each a schedule stepped once per epoch without
        a metric, made on this optimizer, and listed once."""
        return _checked_schedules(
            "SequentialLR", schedulers, self.optimizer, self._refusal,
            kinds="StepLR, CosineAnnealingLR, ExponentialLR, MultiStepLR, LambdaLR, "
                  "MultiplicativeLR, LinearLR, ConstantLR, PolynomialLR or "
                  "CosineAnnealingWarmRestarts",
            examples=("[warmup, cosine]", "SequentialLR(optimizer, [warmup, cosine], "
                                          "milestones=[5])"),
            once="each restarts at its milestone, which would reset the other use")

    @staticmethod
    def _refusal(i: int, scheduler: LRScheduler) -> Exception | None:
        """The error for a schedule that a SequentialLR cannot run, else None."""
        if isinstance(scheduler, OneCycleLR):
            return ValueError(f"SequentialLR: schedulers[{i}] is a OneCycleLR, which is "
                              f"stepped after every batch, not every epoch, and is a warm-up "
                              f"and a decay of its own; expected epoch schedules; use "
                              f"OneCycleLR on its own (pct_start sets its warm-up)")
        if isinstance(scheduler, CyclicLR):
            return ValueError(f"SequentialLR: schedulers[{i}] is a CyclicLR, which is stepped "
                              f"after every batch, not every epoch; expected epoch schedules; "
                              f"use CyclicLR on its own")
        return _refusal_in_any_list("SequentialLR", i, scheduler)

    def _checked_settings(self, milestones) -> dict:
        count = len(self.schedulers) - 1
        expected = (f"expected {count} increasing epochs (ints >= 1) for {count + 1} schedules, "
                    f"the epoch at which each schedule after the first starts, e.g. "
                    f"milestones={list(range(5, 5 * count + 1, 5))}")
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise TypeError(f"SequentialLR: milestones is {type(milestones).__name__} "
                            f"{milestones!r:.80}; {expected}")
        milestones = list(milestones)
        if (len(milestones) != count
                or any(isinstance(m, bool) or not isinstance(m, (int, np.integer))
                       for m in milestones)
                or any(m < 1 for m in milestones)
                or any(milestones[k] >= milestones[k + 1] for k in range(count - 1))):
            raise ValueError(f"SequentialLR: milestones is {milestones!r:.80}; {expected}")
        return {"milestones": tuple(int(m) for m in milestones)}

    def _start_lr(self, group: int) -> float:
        return self.schedulers[0].last_lrs[group]   # the sequence's epoch 0 is its first's

    def step(self) -> None:
        """End an epoch: the schedule of the next epoch sets the optimizer's lr, starting at its
        own epoch 0 if the next epoch is its milestone."""
        epoch = self.last_epoch + 1
        index = bisect.bisect_right(self.milestones, epoch)     # milestones <= epoch
        scheduler = self.schedulers[index]
        if index > 0 and self.milestones[index - 1] == epoch:
            scheduler._restart(self.base_lrs, self.last_lrs)
        else:
            scheduler.step()           # first, so that an error changes nothing
        self.last_epoch, self.last_lrs = epoch, list(scheduler.last_lrs)


class ChainedScheduler(_ScheduleList):
    """Several schedules at once, as PyTorch's ChainedScheduler: each step() steps every schedule
    of the list in turn, each from the lr that the one before it has just set, so their changes
    multiply; e.g. ConstantLR(factor=0.1, total_iters=20) chained with ExponentialLR(gamma=0.9)
    gives lr * 0.1 * 0.9 ** e for the first 20 epochs, then lr * 0.9 ** e.

    The schedules are those that change the lr they are given: StepLR, MultiStepLR,
    ExponentialLR, MultiplicativeLR, ConstantLR, LinearLR, PolynomialLR and CosineAnnealingLR
    (stepped here by PyTorch's recursion, which scales the lr it is given), all made on one
    optimizer, `optimizer` when it is given; as usual, make them in the list's order on the
    fresh optimizer, each from the lr the ones before it left (a ConstantLR or LinearLR lowers it
    at once), as PyTorch's do. Every schedule's base lrs become the first one's (PyTorch's
    initial_lr of each param group). The lrs of epoch 0 are the optimizer's lrs when the chain is
    made; state_dict() holds the schedules' state dicts too.

    >>> warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    >>> decay = ExponentialLR(optimizer, gamma=0.95)
    >>> scheduler = ChainedScheduler([warmup, decay])      # the warm-up and the decay at once
    >>> for epoch in range(100):
    ...     train_epoch(...)
    ...     scheduler.step()

    Refused: ReduceLROnPlateau, whose step() needs the epoch's metric (PyTorch refuses it too);
    and, where PyTorch takes them, LambdaLR, CosineAnnealingWarmRestarts, OneCycleLR and
    CyclicLR, whose lr is a formula of base_lr and the epoch or batch: it replaces the lr the
    other schedules set, so that their changes would last one step (and OneCycleLR and CyclicLR
    are stepped after every batch: use them on their own); a SequentialLR or ChainedScheduler in
    the list, not supported (for a warm-up during a decay, chain a LinearLR warm-up with the
    decay: LinearLR stops changing the lr after total_iters); the same schedule twice (it would
    step twice in each step).
    """

    def __init__(self, schedulers: Iterable[LRScheduler], optimizer: Optimizer | None = None):
        # not LRScheduler.__init__: the schedules have set the optimizer's lr already
        example = "ChainedScheduler([warmup, decay], optimizer=optimizer)"
        if isinstance(schedulers, Optimizer):      # SequentialLR's order, the optimizer first
            raise TypeError(f"ChainedScheduler: schedulers is a {type(schedulers).__name__}, an "
                            f"optimizer; expected the list of schedules first and the "
                            f"optimizer, which may be left out, after it (PyTorch's order; "
                            f"SequentialLR takes the optimizer first); pass e.g. {example}")
        if optimizer is not None:
            optimizer = _checked_optimizer("ChainedScheduler", optimizer, example)
        self.schedulers = _checked_schedules(
            "ChainedScheduler", schedulers, optimizer, self._refusal,
            kinds="StepLR, MultiStepLR, ExponentialLR, MultiplicativeLR, ConstantLR, LinearLR, "
                  "PolynomialLR or CosineAnnealingLR",
            examples=("[warmup, decay]", "ChainedScheduler([warmup, decay])"),
            once="it would step twice in each step")
        self.optimizer = self.schedulers[0].optimizer
        base_lrs = self.schedulers[0].base_lrs
        for scheduler in self.schedulers:
            scheduler.base_lrs = list(base_lrs)
        self.base_lrs, self.last_epoch = list(base_lrs), 0
        self.last_lrs = [float(group["lr"]) for group in self.optimizer.param_groups]

    @staticmethod
    def _refusal(i: int, scheduler: LRScheduler) -> Exception | None:
        """The error for a schedule that a ChainedScheduler cannot run, else None."""
        kind = type(scheduler).__name__
        if isinstance(scheduler, (LambdaLR, CosineAnnealingWarmRestarts)):
            return ValueError(f"ChainedScheduler: schedulers[{i}] is a {kind}, whose lr is a "
                              f"formula of base_lr and the epoch: it replaces the lr the other "
                              f"schedules set, so that their changes would last one step; "
                              f"expected schedules that change the lr they are given; use the "
                              f"{kind} on its own or in a SequentialLR, or MultiplicativeLR with "
                              f"the factor from one epoch to the next")
        if isinstance(scheduler, (OneCycleLR, CyclicLR)):
            return ValueError(f"ChainedScheduler: schedulers[{i}] is a {kind}, which is stepped "
                              f"after every batch, not every epoch, and whose lr is a formula of "
                              f"base_lr and the batch: it replaces the lr the other schedules "
                              f"set; expected epoch schedules that change the lr they are given; "
                              f"use the {kind} on its own")
        return _refusal_in_any_list("ChainedScheduler", i, scheduler)

    def _checked_settings(self) -> dict:
        return {}

    def step(self) -> None:
        """End an epoch: every schedule steps in turn, from the lr the ones before it have just
        set; the last one's lr is the optimizer's."""
        lrs, steps = self.last_lrs, []     # all first, so that an error changes nothing
        for scheduler in self.schedulers:
            lrs = [float(scheduler._next_lr_from(scheduler.last_epoch + 1, group, lr))
                   for group, lr in enumerate(lrs)]
            steps.append(lrs)
        for scheduler, scheduler_lrs in zip(self.schedulers, steps, strict=True):
            scheduler.last_epoch += 1
            scheduler.last_lrs = scheduler_lrs
        self.last_epoch += 1
        self._set_lrs(lrs)


def _checked_schedules(owner: str, schedulers, optimizer: Optimizer | None,
                       refusal: Callable[[int, LRScheduler], Exception | None], kinds: str,
                       examples: tuple[str, str], once: str) -> tuple[LRScheduler, ...]:
    """The schedules that `owner` (SequentialLR, ChainedScheduler) runs, as a tuple: at least
    one, each a schedule in which refusal(i, scheduler) finds no error to raise, all made on
    `optimizer` (on schedulers[0]'s when None), each listed once (`once` says why). `kinds` names
    the schedules it takes; `examples` are a list of them and a call."""
    if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, Iterable):
        raise TypeError(f"{owner}: schedulers is a {type(schedulers).__name__}; expected a list "
                        f"of schedules, e.g. {examples[0]}")
    schedulers = tuple(schedulers)
    if not schedulers:
        raise ValueError(f"{owner}: schedulers is empty; expected a list of at least one "
                         f"schedule made on the optimizer, e.g. {examples[1]}")
    source = f"given to {owner}" if optimizer is not None else "of schedulers[0]"
    for i, scheduler in enumerate(schedulers):
        kind = type(scheduler).__name__
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{owner}: schedulers[{i}] is a {kind}; expected a schedule of "
                            f"tinygrad_cnn.optim ({kinds}) made on the optimizer")
        error = refusal(i, scheduler)
        if error is not None:
            raise error
        if optimizer is None:
            optimizer = scheduler.optimizer
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{owner}: schedulers[{i}] ({kind}) was made on another "
                             f"{type(scheduler.optimizer).__name__} than the "
                             f"{type(optimizer).__name__} {source}; expected every schedule on "
                             f"the same optimizer; make them all from the optimizer {source}")
        first = next(j for j, other in enumerate(schedulers) if other is scheduler)
        if first < i:
            raise ValueError(f"{owner}: schedulers[{i}] is the same {kind} as "
                             f"schedulers[{first}]; expected each schedule once ({once}); make "
                             f"a second {kind} for the second use")
    return schedulers


def _refusal_in_any_list(owner: str, i: int, scheduler: LRScheduler) -> Exception | None:
    """The error for schedulers[i] of a SequentialLR or ChainedScheduler (`owner`) when it is a
    schedule that neither can run, a ReduceLROnPlateau or a nested SequentialLR or
    ChainedScheduler; else None."""
    kind = type(scheduler).__name__
    if isinstance(scheduler, ReduceLROnPlateau):
        return ValueError(f"{owner}: schedulers[{i}] is a ReduceLROnPlateau, whose step() needs "
                          f"the epoch's metric (PyTorch refuses it too); expected schedules "
                          f"stepped without one; use ReduceLROnPlateau on its own, "
                          f"scheduler.step(val_loss)")
    if isinstance(scheduler, _ScheduleList):
        return ValueError(f"{owner}: schedulers[{i}] is a {kind}; a SequentialLR or "
                          f"ChainedScheduler inside a {owner} is not supported; expected single "
                          f"schedules; run single schedules one after another in one "
                          f"SequentialLR (its milestones count from its epoch 0), or at once in "
                          f"one ChainedScheduler: for a warm-up during a decay, chain a LinearLR "
                          f"warm-up with the decay, e.g. ChainedScheduler([LinearLR(optimizer, "
                          f"start_factor=0.1, total_iters=5), ExponentialLR(optimizer, "
                          f"gamma=0.95)]), as LinearLR stops changing the lr after total_iters")
    return None


def _checked_optimizer(owner: str, optimizer, example: str | None = None) -> Optimizer:
    """optimizer, checked to be a tinygrad_cnn optimizer (not the model or its parameters);
    `example`, a call of `owner` that passes one, is by default `owner`(optim.SGD(...), ...)."""
    if not isinstance(optimizer, Optimizer):
        example = example or f"{owner}(optim.SGD(model.parameters(), lr=0.1), ...)"
        raise TypeError(f"{owner}: optimizer is a {type(optimizer).__name__}; expected a "
                        f"tinygrad_cnn optimizer, e.g. {example}; pass the optimizer, not the "
                        f"model or its parameters")
    return optimizer


def _check_momentum_to_cycle(owner: str, optimizer: Optimizer, base_momentum: tuple,
                             max_momentum: tuple, example: float) -> None:
    """Check that a schedule with cycle_momentum=True can cycle the momentum of every param
    group between its base_momentum and max_momentum (one per group): PyTorch requires 'betas'
    or 'momentum' among the optimizer's hyperparameters, and SGD with nesterov=True needs
    momentum > 0 all the way."""
    names = optimizer.hyperparameter_names
    if "betas" not in names and "momentum" not in names:
        raise ValueError(f"{owner}: cycle_momentum=True but {type(optimizer).__name__} has "
                         f"neither 'betas' nor 'momentum' among its hyperparameters "
                         f"({', '.join(names)}); expected an optimizer with a momentum to "
                         f"cycle (SGD, RMSprop: momentum; Adam, AdamW: betas[0]), as PyTorch "
                         f"requires; pass cycle_momentum=False")
    for i, group in enumerate(optimizer.param_groups):
        lowest = min(base_momentum[i], max_momentum[i])
        if group.get("nesterov", False) and not lowest:
            where = f" (param group {i})" if len(optimizer.param_groups) > 1 else ""
            raise ValueError(f"{owner}: cycle_momentum=True would set the momentum of SGD with "
                             f"nesterov=True{where} to {lowest} (base_momentum="
                             f"{base_momentum[i]}, max_momentum={max_momentum[i]}), and "
                             f"Nesterov momentum needs momentum > 0 (SGD refuses to load such a "
                             f"state); expected base_momentum and max_momentum > 0; pass e.g. "
                             f"base_momentum={example}, or cycle_momentum=False")


def _param_groups(optimizer: str, params) -> list[dict]:
    """The groups that `params` gives: one {"params": [...]} for an iterable of Values, else
    its dicts, one per group (checked by add_param_group)."""
    if isinstance(params, (Value, dict)) or not isinstance(params, Iterable):
        raise TypeError(f"{optimizer}: params is a {type(params).__name__}; expected an iterable "
                        f"of Values, e.g. model.parameters(), or of dicts, one per param group, "
                        f"e.g. [{{'params': model.features.parameters()}}, "
                        f"{{'params': model.classifier.parameters(), 'lr': 1e-3}}]")
    params = list(params)
    if params and all(isinstance(group, dict) for group in params):
        return params
    if any(isinstance(group, dict) for group in params):
        raise TypeError(f"{optimizer}: params mixes dicts and other items; expected either "
                        f"Values (one group) or dicts, one per param group, each with 'params'")
    return [{"params": _checked_params(optimizer, params)}]


def _checked_params(optimizer: str, params) -> list[Value]:
    """The parameters as a list: floating-point Values, each once, with writable data where they
    require grad. A frozen one (requires_grad=False) is welcome: it never gets a gradient, so
    step() leaves it alone."""
    if isinstance(params, Value) or not isinstance(params, Iterable):
        raise TypeError(f"{optimizer}: params is a {type(params).__name__}; expected an iterable "
                        f"of Values, e.g. model.parameters()")
    params = list(params)
    if not params:
        raise ValueError(f"{optimizer}: got an empty list of parameters; expected at least one "
                         f"Value, e.g. model.parameters() of a model with layers")
    seen = set()
    for i, param in enumerate(params):
        if not isinstance(param, Value):
            raise TypeError(f"{optimizer}: parameter {i} is a {type(param).__name__}; expected "
                            f"a Value, e.g. from model.parameters()")
        if param.dtype.kind != "f":
            raise TypeError(f"{optimizer}: parameter {i} (shape {param.shape}) has dtype "
                            f"{param.dtype}; expected floating-point parameters (an integer "
                            f"Value has no gradient); leave it out of the list")
        if param.requires_grad and not param.data.flags.writeable:   # step() writes in place
            raise ValueError(f"{optimizer}: parameter {i} (shape {param.shape}) has read-only "
                             f"data, e.g. a np.broadcast_to view; expected a writable array "
                             f"that step() can update in place; make the parameter from a "
                             f"copy, e.g. tc.Value(np.array(data))")
        if id(param) in seen:
            raise ValueError(f"{optimizer}: parameter {i} (shape {param.shape}) appears more "
                             f"than once; expected each parameter once")
        seen.add(id(param))
    return params


def _checked_number(optimizer: str, name: str, value, low: float, low_open: bool = False,
                    high: float = math.inf, high_closed: bool = False) -> float:
    """value as a Python float, checked to lie in [low, high) (open at low with low_open,
    closed at high with high_closed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{optimizer}: {name} is {type(value).__name__} {value!r}; expected a "
                        f"number")
    value = float(value)
    too_low = value <= low if low_open else value < low
    too_high = value > high if high_closed else not value < high
    if too_low or too_high or math.isnan(value):
        interval = f"{'(' if low_open else '['}{low}, {high}{']' if high_closed else ')'}"
        raise ValueError(f"{optimizer}: {name} is {value}; expected a number in {interval}")
    return value


def _checked_flag(optimizer: str, name: str, value) -> bool:
    """value as a Python bool, checked to be True or False (not 0, 1 or "False")."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{optimizer}: {name} is {type(value).__name__} {value!r}; expected "
                        f"True or False, e.g. {name}=True")
    return bool(value)


def _checked_int(owner: str, name: str, value, low: int, meaning: str) -> int:
    """value as a Python int, checked to be an int (not a bool or a float) >= low; `meaning`
    says in the message what it counts."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{owner}: {name} is {value!r}; expected an int >= {low} ({meaning})")
    return int(value)


def _checked_factor(owner: str, call: str, value, meaning: str, fix: str,
                    high: float = math.inf) -> float:
    """value, what a user's function returned (`call`, e.g. "lr_lambda(3)"), as a float, checked
    to be a number in [0, high] (finite); `meaning` says what it stands for and `fix`, a
    template for "{}" = what to return, what to do."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {call} returned {type(value).__name__} {value!r:.80}; "
                        f"expected a number, {meaning}; {fix.format('a float')}")
    if not 0 <= value <= high or value == math.inf:
        expected = "a finite number >= 0" if high == math.inf else f"a number in [0, {high:g}]"
        raise ValueError(f"{owner}: {call} returned {value}; expected {expected}, {meaning}; "
                         f"{fix.format('one')}")
    return float(value)


def _checked_numbers(owner: str, name: str, values: tuple, **bounds) -> tuple[float, ...]:
    """Each of values (one per param group) as a float, checked by _checked_number."""
    return tuple(_checked_number(owner, name, value, **bounds) for value in values)


def _one_per_group(owner: str, name: str, value, example, count: int) -> tuple:
    """value as a tuple of one per param group (`count` of them): a list or tuple of count
    values, one per group as PyTorch takes them, or one value for every group."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            groups = "one param group" if count == 1 else f"{count} param groups"
            raise ValueError(f"{owner}: {name} is a {type(value).__name__} of {len(value)} "
                             f"values but the optimizer has {groups}; expected one value for "
                             f"every group, or a list of one per group (as PyTorch takes it); "
                             f"pass e.g. {name}={example}")
        return tuple(value)
    return (value,) * count


def _checked_lr_lambdas(owner: str, optimizer: Optimizer, lr_lambda, returns: str,
                        example: str) -> tuple[Callable, ...]:
    """lr_lambda, a function of the epoch or a list of one per param group (PyTorch's), as a
    tuple of one per group, each checked to be callable; `returns` says what its result
    means."""
    count = len(_checked_optimizer(owner, optimizer).param_groups)
    lr_lambdas = _one_per_group(owner, "lr_lambda", lr_lambda, example, count)
    for function in lr_lambdas:
        if not callable(function):
            raise TypeError(f"{owner}: lr_lambda is {type(function).__name__} "
                            f"{function!r:.80}; expected a function of the epoch that returns "
                            f"{returns}, e.g. lr_lambda={example}")
    return lr_lambdas


def _checked_fresh(owner: str, last_epoch) -> None:
    """Refuse a last_epoch other than PyTorch's default -1: PyTorch resumes a schedule from
    last_epoch and the 'initial_lr' it keeps in the optimizer; here a state dict resumes it."""
    if isinstance(last_epoch, bool) or last_epoch != -1:
        raise ValueError(f"{owner}: last_epoch is {last_epoch!r}; expected -1, a fresh schedule "
                         f"(PyTorch resumes from last_epoch with the 'initial_lr' it keeps in "
                         f"the optimizer, which tinygrad_cnn optimizers do not have); to "
                         f"resume, make the schedule with last_epoch=-1, then call "
                         f"scheduler.load_state_dict(saved_state_dict)")


def _checked_choice(owner: str, name: str, value, choices: tuple[str, ...]) -> str:
    """value, checked to be one of the strings in choices."""
    if not isinstance(value, str) or value not in choices:
        options = " or ".join(repr(choice) for choice in choices)
        raise ValueError(f"{owner}: {name} is {value!r}; expected {options}")
    return value
