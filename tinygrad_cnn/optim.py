"""Optimizers `SGD`, `Adam`, `AdamW`, `RMSprop` and `Adagrad` with PyTorch's options and update
rules, and learning-rate schedules `StepLR` and `CosineAnnealingLR`. An optimizer's `step()`
updates the parameters' data in place from their gradients; a scheduler's `step()` sets the
next epoch's learning rate."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_cnn.value import Value


class Optimizer:
    """Base class: holds the parameters, their per-parameter state and the hyperparameters.

    Subclasses name their hyperparameters in `hyperparameter_names` and check them in
    `_checked_hyperparameters`, name every entry a parameter's state may hold in `state_names`,
    and define `_update(param, grad, state)`, which changes `param.data` in place. A state holds
    nothing before the parameter's first update, then at least `required_state_names`; the
    other buffers belong to options (SGD's momentum, Adam's amsgrad) and `_update` makes each
    when it first needs it, so an option switched on or off between steps (they are plain
    attributes) leaves states that still save and load. Buffers are arrays of the parameter's
    shape and dtype, updated in place; counts are ints.
    Hyperparameters are plain attributes (e.g. `optimizer.lr = 1e-4` changes the next step).
    """

    hyperparameter_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()
    required_state_names: tuple[str, ...] = ()
    # hyperparameters added since state dicts were first saved, with the values older ones meant
    added_hyperparameters: dict = {}

    def __init__(self, params: Iterable[Value], **hyperparameters):
        self.params = _checked_params(type(self).__name__, params)
        self.__dict__.update(self._checked_hyperparameters(**hyperparameters))
        self.state: dict[int, dict] = {}     # parameter index -> its buffers, made on first use

    def _checked_hyperparameters(self, **hyperparameters) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_hyperparameters")

    def _update(self, param: Value, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    def step(self) -> None:
        """Update every parameter that has a gradient; those whose grad is None (frozen with
        requires_grad=False, or unused by the loss) are skipped, as PyTorch skips them."""
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
        if isinstance(saved, dict):
            saved = {**self.added_hyperparameters, **saved}
        if not isinstance(saved, dict) or set(saved) != set(self.hyperparameter_names):
            raise ValueError(f"{name}: hyperparameters {saved!r:.100}; expected a dict with keys "
                             f"{', '.join(self.hyperparameter_names)}")
        hyperparameters = self._checked_hyperparameters(**saved)
        required = set(self.required_state_names)
        optional = [n for n in self.state_names if n not in required]
        problems, state = [], {}
        for key, entry in state_dict["state"].items():
            index = int(key) if str(key).isdigit() else -1
            if not 0 <= index < len(self.params):
                problems.append(f"state for parameter {key!r}: this optimizer has parameters "
                                f"0..{len(self.params) - 1}")
            elif not isinstance(entry, dict) or (
                    entry and not required <= set(entry) <= set(self.state_names)):
                found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
                options = f" (and, for its options, any of {optional})" if optional else ""
                problems.append(f"state for parameter {key}: found {found} but "
                                f"{type(self).__name__} keeps "
                                f"{list(self.required_state_names)}{options}")
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
    buf = momentum * buf + (1 - dampening) * d (buf = d on the first step);
    p -= lr * (d + momentum * buf) with nesterov, else p -= lr * buf (lr * d if momentum is 0).

    PyTorch's positional order is (params, lr, momentum, dampening, weight_decay, nesterov);
    here weight_decay stays fourth, as it was before dampening and nesterov came, and those two
    are keyword-only: pass them by name, e.g. SGD(params, lr=0.1, momentum=0.9, nesterov=True).
    """

    hyperparameter_names = ("lr", "momentum", "weight_decay", "dampening", "nesterov")
    state_names = ("momentum_buffer",)     # kept only when momentum is not 0
    added_hyperparameters = {"dampening": 0.0, "nesterov": False}

    def __init__(self, params: Iterable[Value], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, *, dampening: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         dampening=dampening, nesterov=nesterov)

    def _checked_hyperparameters(self, lr, momentum, weight_decay, dampening, nesterov) -> dict:
        checked = {"lr": _checked_number("SGD", "lr", lr, low=0.0),
                   "momentum": _checked_number("SGD", "momentum", momentum, low=0.0),
                   "weight_decay": _checked_number("SGD", "weight_decay", weight_decay, low=0.0),
                   "dampening": _checked_number("SGD", "dampening", dampening, low=0.0,
                                                high=1.0, high_closed=True),
                   "nesterov": _checked_flag("SGD", "nesterov", nesterov)}
        if checked["nesterov"] and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True with momentum={checked['momentum']} and dampening="
                f"{checked['dampening']}; expected momentum > 0 and dampening 0 (Nesterov "
                f"momentum looks ahead along the momentum buffer), as in PyTorch; pass a "
                f"momentum and no dampening, e.g. SGD(params, lr=0.1, momentum=0.9, "
                f"nesterov=True), or leave nesterov=False")
        return checked


    def _update(self, param, grad, state):
        d = grad + self.weight_decay * param.data if self.weight_decay else grad
        if self.momentum:
            if "momentum_buffer" not in state:
                # a copy, as d may be param.grad itself; np.array, as d of a 0-d parameter
                # may be a numpy scalar, which `buf *= ...` below would not change in place
                state["momentum_buffer"] = np.array(d)
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1 - self.dampening) * d
            buf = state["momentum_buffer"]
            d = d + self.momentum * buf if self.nesterov else buf
        param.data -= self.lr * d


class Adam(Optimizer):
    """Adam, PyTorch's rule: g += weight_decay * p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t = this parameter's step count;
    with amsgrad, v_max = max(v_max, v) stands for v in the step.
    """

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    required_state_names = ("step", "exp_avg", "exp_avg_sq")     # max_exp_avg_sq: amsgrad's
    added_hyperparameters = {"amsgrad": False}

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _checked_hyperparameters(self, lr, betas, eps, weight_decay, amsgrad) -> dict:
        name = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas is {betas!r}; expected a pair (beta1, beta2) such "
                             f"as (0.9, 0.999)")
        return {"lr": _checked_number(name, "lr", lr, low=0.0),
                "betas": tuple(_checked_number(name, f"betas[{i}]", beta, low=0.0, high=1.0)
                               for i, beta in enumerate(betas)),
                "eps": _checked_number(name, "eps", eps, low=0.0),
                "weight_decay": _checked_number(name, "weight_decay", weight_decay, low=0.0),
                "amsgrad": _checked_flag(name, "amsgrad", amsgrad)}


    def _update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        self._adam_step(param, grad, state)

    def _adam_step(self, param, grad, state):
        """m and v one step on, then p -= the bias-corrected step (weight decay done already)."""
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data),
                         exp_avg_sq=np.zeros_like(param.data))
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        if self.amsgrad:       # the largest v so far: a step never grows as v shrinks
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
            v_max = state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + self.eps
        param.data -= step_size * (m / denom)


class AdamW(Adam):
    """AdamW, PyTorch's rule: weight decay decoupled from the gradient, p *= 1 - lr *
    weight_decay, then Adam's step on the plain gradient (Adam adds weight_decay * p to g
    instead, so there the decay is divided by sqrt(v) like the rest of g). PyTorch's default
    weight_decay, 0.01.
    """

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _update(self, param, grad, state):
        if self.weight_decay:
            param.data *= 1 - self.lr * self.weight_decay
        self._adam_step(param, grad, state)


class RMSprop(Optimizer):
    """RMSprop, PyTorch's rule: g += weight_decay * p; v = alpha*v + (1-alpha)*g^2;
    with centered, a = alpha*a + (1-alpha)*g and s = sqrt(v - a^2) + eps, else s = sqrt(v) + eps;
    buf = momentum * buf + g / s, p -= lr * buf (p -= lr * g / s if momentum is 0).
    """

    hyperparameter_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")
    required_state_names = ("step", "square_avg")     # the others: momentum's and centered's

    def __init__(self, params: Iterable[Value], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         momentum=momentum, centered=centered)

    def _checked_hyperparameters(self, lr, alpha, eps, weight_decay, momentum, centered) -> dict:
        return {"lr": _checked_number("RMSprop", "lr", lr, low=0.0),
                "alpha": _checked_number("RMSprop", "alpha", alpha, low=0.0, high=1.0,
                                         high_closed=True),
                "eps": _checked_number("RMSprop", "eps", eps, low=0.0),
                "weight_decay": _checked_number("RMSprop", "weight_decay", weight_decay,
                                                low=0.0),
                "momentum": _checked_number("RMSprop", "momentum", momentum, low=0.0),
                "centered": _checked_flag("RMSprop", "centered", centered)}


    def _update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param.data))
        state["step"] += 1                     # counted as PyTorch counts it; the rule needs none
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * grad * grad
        if self.centered:      # divide by the gradient's running standard deviation, not its RMS
            if "grad_avg" not in state:
                state["grad_avg"] = np.zeros_like(param.data)
            a = state["grad_avg"]
            a *= self.alpha
            a += (1 - self.alpha) * grad
            s = np.sqrt(v - a * a) + self.eps
        else:
            s = np.sqrt(v) + self.eps
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros_like(param.data)
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += grad / s
            param.data -= self.lr * buf
        else:
            param.data -= self.lr * (grad / s)


class Adagrad(Optimizer):
    """Adagrad, PyTorch's rule: g += weight_decay * p; sum += g^2 (sum starts at
    initial_accumulator_value); p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps),
    t = this parameter's step count.
    """

    hyperparameter_names = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    state_names = ("step", "sum")
    required_state_names = ("step", "sum")

    def __init__(self, params: Iterable[Value], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10):
        super().__init__(params, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps)

    def _checked_hyperparameters(self, lr, lr_decay, weight_decay, initial_accumulator_value,
                                 eps) -> dict:
        return {"lr": _checked_number("Adagrad", "lr", lr, low=0.0),
                "lr_decay": _checked_number("Adagrad", "lr_decay", lr_decay, low=0.0),
                "weight_decay": _checked_number("Adagrad", "weight_decay", weight_decay,
                                                low=0.0),
                "initial_accumulator_value": _checked_number(
                    "Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0),
                "eps": _checked_number("Adagrad", "eps", eps, low=0.0)}

    def _update(self, param, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * param.data
        if not state:          # the accumulator starts when the parameter's first update does
            state.update(step=0, sum=np.full_like(param.data, self.initial_accumulator_value))
        state["step"] += 1
        total = state["sum"]
        total += grad * grad
        lr_t = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        param.data -= lr_t * (grad / (np.sqrt(total) + self.eps))


class LRScheduler:
    """Base class of the learning-rate schedules: `step()` once per epoch, after that epoch's
    training, sets `optimizer.lr` for the next epoch.

    The schedule starts at epoch 0 with the optimizer's lr as `base_lr`. Subclasses name their
    settings in `setting_names`, check them in `_checked_settings` and define `_next_lr(epoch)`,
    the lr of epoch `epoch` >= 1 (they may read `base_lr` and `last_lr`, the lr of epoch - 1).
    The scheduler owns the lr: a value set by hand on the optimizer is replaced at the next
    step().
    """

    setting_names: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, **settings):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: optimizer is a {type(optimizer).__name__}; expected a "
                f"tinygrad_cnn optimizer, e.g. {type(self).__name__}(optim.SGD(model."
                f"parameters(), lr=0.1), ...); pass the optimizer, not the model or its "
                f"parameters")
        self.optimizer = optimizer
        self.__dict__.update(self._checked_settings(**settings))
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0              # the epoch whose lr the optimizer holds now
        self.last_lr = self.base_lr

    def _checked_settings(self, **settings) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_settings")

    def _next_lr(self, epoch: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define _next_lr")

    def step(self) -> None:
        """End an epoch: the optimizer's lr becomes that of the next epoch."""
        self.last_epoch += 1
        self.last_lr = float(self._next_lr(self.last_epoch))
        self.optimizer.lr = self.last_lr

    def get_last_lr(self) -> list[float]:
        """[the lr the optimizer holds now], a list as in PyTorch (one lr per parameter group;
        tinygrad_cnn optimizers have one)."""
        return [self.last_lr]

    def state_dict(self) -> dict:
        """{"type", "settings", "base_lr", "last_epoch", "last_lr"}: plain numbers, enough for
        `load_state_dict` to continue the schedule exactly where it stopped."""
        return {"type": type(self).__name__,
                "settings": {name: getattr(self, name) for name in self.setting_names},
                "base_lr": self.base_lr, "last_epoch": self.last_epoch, "last_lr": self.last_lr}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue the schedule saved by `state_dict()` (of the same type): restores its
        position and settings and sets the optimizer's lr to the saved current lr."""
        name = f"{type(self).__name__}.load_state_dict"
        expected = {"type", "settings", "base_lr", "last_epoch", "last_lr"}
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            raise ValueError(f"{name}: expected a dict with keys 'type', 'settings', 'base_lr', "
                             f"'last_epoch' and 'last_lr' as made by scheduler.state_dict(), got "
                             f"{state_dict!r:.100}")
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
        base_lr = _checked_number(name, "base_lr", state_dict["base_lr"], low=0.0)
        last_lr = _checked_number(name, "last_lr", state_dict["last_lr"], low=0.0)
        self.__dict__.update(checked, base_lr=base_lr, last_epoch=int(epoch), last_lr=last_lr)
        self.optimizer.lr = last_lr


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

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer, step_size=step_size, gamma=gamma)

    def _checked_settings(self, step_size, gamma) -> dict:
        if (isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer))
                or step_size < 1):
            raise ValueError(f"StepLR: step_size is {step_size!r}; expected an int >= 1 (the "
                             f"number of epochs between decays), e.g. step_size=1")
        return {"step_size": int(step_size),
                "gamma": _checked_number("StepLR", "gamma", gamma, low=0.0, low_open=True)}

    # PyTorch multiplies the current lr, rather than computing base_lr * gamma**k
    def _next_lr(self, epoch: int) -> float:
        return self.last_lr * self.gamma if epoch % self.step_size == 0 else self.last_lr


class CosineAnnealingLR(LRScheduler):
    """lr of epoch e = eta_min + (base_lr - eta_min) (1 + cos(pi e / T_max)) / 2: from base_lr
    down to eta_min at epoch T_max along half a cosine (and back up after it, as PyTorch).

    This is the closed form of the schedule; PyTorch's CosineAnnealingLR computes it by a
    recursion that agrees with it to about 1e-15 in float64.
    """

    setting_names = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):
        super().__init__(optimizer, T_max=T_max, eta_min=eta_min)

    def _checked_settings(self, T_max, eta_min) -> dict:
        if isinstance(T_max, bool) or not isinstance(T_max, (int, np.integer)) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max is {T_max!r}; expected an int >= 1 "
                             f"(the number of epochs from base_lr down to eta_min), e.g. the "
                             f"number of epochs")
        return {"T_max": int(T_max),
                "eta_min": _checked_number("CosineAnnealingLR", "eta_min", eta_min, low=0.0)}

    def _next_lr(self, epoch: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2    # 1 at e = 0, 0 at T_max
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


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
