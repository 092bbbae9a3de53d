"""Optimizers: `SGD` (with momentum and weight decay) and `Adam`, with PyTorch's update rules.
Each `step()` updates the parameters' data in place from their gradients."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_cnn.value import Value


class Optimizer:
    """Base class: holds the parameters, their per-parameter state and the hyperparameters.

    Subclasses name their hyperparameters in `hyperparameter_names` and check them in
    `_checked_hyperparameters`, name the entries of a parameter's state in `state_names` (a
    parameter's state holds all of them or, before its first update, none), and define
    `_update(param, grad, state)`, which changes `param.data` in place.
    Hyperparameters are plain attributes (e.g. `optimizer.lr = 1e-4` changes the next step).
    """

    hyperparameter_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Value], **hyperparameters):
        self.params = _checked_params(type(self).__name__, params)
        self.__dict__.update(self._checked_hyperparameters(**hyperparameters))
        self.state: dict[int, dict] = {}     # parameter index -> its buffers, made on first use

    def _checked_hyperparameters(self, **hyperparameters) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_hyperparameters")

    def _update(self, param: Value, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    def step(self) -> None:
        """Update every parameter that has a gradient (those whose grad is None are skipped)."""
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            grad = np.asarray(param.grad, dtype=param.dtype)
            if grad.shape != param.shape:
                raise ValueError(
                    f"{type(self).__name__}.step: parameter {i} has shape {param.shape} but its "
                    f"grad has shape {grad.shape}; expected equal shapes")
            self._update(param, grad, self.state.setdefault(i, {}))

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (grad = None) before the next backward."""
        for param in self.params:
            param.grad = None

    def state_dict(self) -> dict:
        """{"type", "hyperparameters", "state": {"<param index>": {name: array or int}}}, with
        copies of the buffers: enough for `load_state_dict` to resume bit-identically."""
        return {
            "type": type(self).__name__,
            "hyperparameters": {name: getattr(self, name) for name in self.hyperparameter_names},
            "state": {str(i): {name: value.copy() if isinstance(value, np.ndarray) else value
                               for name, value in state.items()}
                      for i, state in sorted(self.state.items()) if state},
        }

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and buffers saved by `state_dict()` (of the same optimizer
        type, over parameters of the same shapes); nothing is restored if anything is wrong."""
        name = f"{type(self).__name__}.load_state_dict"
        expected = {"type", "hyperparameters", "state"}
        if (not isinstance(state_dict, dict) or set(state_dict) != expected
                or not isinstance(state_dict["state"], dict)):
            raise ValueError(f"{name}: expected a dict with keys 'type', 'hyperparameters' and "
                             f"'state' as made by optimizer.state_dict(), got {state_dict!r:.100}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"{name}: the state dict is from a {state_dict['type']} optimizer; "
                             f"expected one from a {type(self).__name__}")
        saved = state_dict["hyperparameters"]
        if not isinstance(saved, dict) or set(saved) != set(self.hyperparameter_names):
            raise ValueError(f"{name}: hyperparameters {saved!r:.100}; expected a dict with keys "
                             f"{', '.join(self.hyperparameter_names)}")
        hyperparameters = self._checked_hyperparameters(**saved)
        problems, state = [], {}
        for key, entry in state_dict["state"].items():
            index = int(key) if str(key).isdigit() else -1
            if not 0 <= index < len(self.params):
                problems.append(f"state for parameter {key!r}: this optimizer has parameters "
                                f"0..{len(self.params) - 1}")
            elif not isinstance(entry, dict) or (entry and set(entry) != set(self.state_names)):
                found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                problems.append(f"state for parameter {key}: found {found} but "
                                f"{type(self).__name__} keeps {list(self.state_names)}")
            else:
                state[index] = self._restored_state(self.params[index], key, entry, problems)
        if problems:
            listing = "\n  ".join(problems)
            raise ValueError(f"{name}: {len(problems)} problem(s), nothing was restored:\n  "
                             f"{listing}\nexpected the state dict of the same optimizer over "
                             f"the same parameters, in the same order")
        self.__dict__.update(hyperparameters)
        self.state = state

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
    """Stochastic gradient descent, PyTorch's rule: d = g + weight_decay * p;
    buf = momentum * buf + d (buf = d on the first step); p -= lr * buf (buf = d if momentum is 0).
    """

    hyperparameter_names = ("lr", "momentum", "weight_decay")
    state_names = ("momentum_buffer",)     # kept only when momentum is not 0

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def _checked_hyperparameters(self, lr, momentum, weight_decay) -> dict:
        return {"lr": _checked_number("SGD", "lr", lr, low=0.0, low_open=True),
                "momentum": _checked_number("SGD", "momentum", momentum, low=0.0),
                "weight_decay": _checked_number("SGD", "weight_decay", weight_decay, low=0.0)}

    def _update(self, param, grad, state):
        d = grad + self.weight_decay * param.data if self.weight_decay else grad
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = d.copy()    # d may be param.grad itself
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += d
            d = state["momentum_buffer"]
        param.data -= self.lr * d


class Adam(Optimizer):
    """Adam, PyTorch's rule: g += weight_decay * p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t = this parameter's step count.
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay")
    state_names = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _checked_hyperparameters(self, lr, betas, eps, weight_decay) -> dict:
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas is {betas!r}; expected a pair (beta1, beta2) such as "
                             f"(0.9, 0.999)")
        return {"lr": _checked_number("Adam", "lr", lr, low=0.0, low_open=True),
                "betas": tuple(_checked_number("Adam", f"betas[{i}]", beta, low=0.0, high=1.0)
                               for i, beta in enumerate(betas)),
                "eps": _checked_number("Adam", "eps", eps, low=0.0),
                "weight_decay": _checked_number("Adam", "weight_decay", weight_decay, low=0.0)}

    def _update(self, param, grad, state):
        beta1, beta2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + self.eps
        param.data -= step_size * (m / denom)


def _checked_params(optimizer: str, params) -> list[Value]:
    """The parameters as a list: Values requiring grad, each once."""
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
        if not param.requires_grad:
            raise ValueError(f"{optimizer}: parameter {i} (shape {param.shape}, dtype "
                             f"{param.dtype}) does not require grad; expected trainable "
                             f"parameters; leave it out of the list")
        if id(param) in seen:
            raise ValueError(f"{optimizer}: parameter {i} (shape {param.shape}) appears more "
                             f"than once; expected each parameter once")
        seen.add(id(param))
    return params


def _checked_number(optimizer: str, name: str, value, low: float, low_open: bool = False,
                    high: float = math.inf) -> float:
    """value as a Python float, checked to lie in [low, high) ((low, high) with low_open)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{optimizer}: {name} is {type(value).__name__} {value!r}; expected a "
                        f"number")
    value = float(value)
    too_low = value <= low if low_open else value < low
    if too_low or not value < high or math.isnan(value):
        interval = f"{'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"{optimizer}: {name} is {value}; expected a number in {interval}")
    return value
