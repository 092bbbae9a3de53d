"""Optimizers `SGD`, `Adam`, `AdamW`, `RMSprop` and `Adagrad` with PyTorch's options and update
rules, and PyTorch's learning-rate schedules `StepLR`, `MultiStepLR`, `ExponentialLR`,
`LambdaLR`, `LinearLR`, `CosineAnnealingLR`, `OneCycleLR`, `ReduceLROnPlateau` and
`SequentialLR`. An optimizer's `step()` updates the parameters' data in place from their
gradients; a scheduler's `step()` sets the next epoch's (OneCycleLR: batch's) learning rate."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable

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
    training, sets `optimizer.lr` for the next epoch (OneCycleLR steps once per batch instead).

    The schedule starts at epoch 0 from `base_lr`, the optimizer's lr before any scheduler
    changed it: the first scheduler made on an optimizer records it as `optimizer.initial_lr`
    (PyTorch's `param_group["initial_lr"]`), so a second one on the same optimizer, such as the
    parts of a SequentialLR, starts from the same lr. Subclasses name their settings in
    `setting_names`, check them in `_checked_settings`, may set the lr of epoch 0 in
    `_initial_lr()` (base_lr unless overridden) and define `_next_lr(epoch)`, the lr of epoch
    `epoch` >= 1 (they may read `base_lr` and `last_lr`, the lr of epoch - 1). A schedule that
    keeps more than its position (ReduceLROnPlateau's best metric) names it in `state_names`
    and checks it on loading in `_checked_run_state`.
    The scheduler owns the lr: a value set by hand on the optimizer is replaced at the next
    step().
    """

    setting_names: tuple[str, ...] = ()
    state_names: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, **settings):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: optimizer is a {type(optimizer).__name__}; expected a "
                f"tinygrad_cnn optimizer, e.g. {type(self).__name__}(optim.SGD(model."
                f"parameters(), lr=0.1), ...); pass the optimizer, not the model or its "
                f"parameters")
        self.optimizer = optimizer
        self.__dict__.update(self._checked_settings(**settings))
        if getattr(optimizer, "initial_lr", None) is None:
            optimizer.initial_lr = float(optimizer.lr)
        self.base_lr = optimizer.initial_lr
        self._start()

    def _checked_settings(self, **settings) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_settings")

    def _initial_lr(self) -> float:
        return self.base_lr

    def _next_lr(self, epoch: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must define _next_lr")

    def _start(self) -> None:
        """Go to epoch 0 (when made, or when a SequentialLR reaches this part's milestone)."""
        self.last_epoch = 0              # the epoch whose lr the optimizer holds now
        self.last_lr = float(self._initial_lr())
        self._apply()

    def _apply(self) -> None:
        """Give the optimizer the schedule's current lr."""
        self.optimizer.lr = self.last_lr

    def step(self) -> None:
        """End an epoch: the optimizer's lr becomes that of the next epoch."""
        self.last_epoch += 1
        self.last_lr = float(self._next_lr(self.last_epoch))
        self._apply()

    def get_last_lr(self) -> list[float]:
        """[the lr the optimizer holds now], a list as in PyTorch (one lr per parameter group;
        tinygrad_cnn optimizers have one)."""
        return [self.last_lr]

    def state_dict(self) -> dict:
        """{"type", "settings", "base_lr", "last_epoch", "last_lr"}, and "state" for a schedule
        with `state_names`: plain numbers, strings and lists, enough for `load_state_dict` to
        continue the schedule exactly where it stopped."""
        saved = {"type": type(self).__name__,
                 "settings": {name: getattr(self, name) for name in self.setting_names},
                 "base_lr": self.base_lr, "last_epoch": self.last_epoch, "last_lr": self.last_lr}
        if self.state_names:
            saved["state"] = self._run_state()
        return saved

    def _run_state(self) -> dict:
        return {name: getattr(self, name) for name in self.state_names}

    def _checked_run_state(self, name: str, state: dict) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _checked_run_state")

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue the schedule saved by `state_dict()` (of the same type): restores its
        position and settings and sets the optimizer's lr to the saved current lr; nothing is
        restored if anything is wrong."""
        self._restore(self._checked_state_dict(state_dict))

    def _checked_state_dict(self, state_dict: dict) -> dict:
        """The attributes that state_dict restores, every one checked."""
        name = f"{type(self).__name__}.load_state_dict"
        expected = ["type", "settings", "base_lr", "last_epoch", "last_lr"]
        expected += ["state"] if self.state_names else []
        if not isinstance(state_dict, dict) or set(state_dict) != set(expected):
            keys = ", ".join(f"'{key}'" for key in expected[:-1]) + f" and '{expected[-1]}'"
            raise ValueError(f"{name}: expected a dict with keys {keys} as made by "
                             f"scheduler.state_dict(), got {state_dict!r:.100}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"{name}: the state dict is from a {state_dict['type']}; expected "
                             f"one from a {type(self).__name__}")
        settings = state_dict["settings"]
        if not isinstance(settings, dict) or set(settings) != set(self.setting_names):
            raise ValueError(f"{name}: settings {settings!r:.100}; expected a dict with keys "
                             f"{', '.join(self.setting_names) or '(none)'}")
        restored = self._checked_settings(**settings)
        restored["last_epoch"] = _checked_count(name, "last_epoch", state_dict["last_epoch"])
        restored["base_lr"] = _checked_number(name, "base_lr", state_dict["base_lr"], low=0.0)
        restored["last_lr"] = _checked_number(name, "last_lr", state_dict["last_lr"], low=0.0)
        if self.state_names:
            state = state_dict["state"]
            if not isinstance(state, dict) or set(state) != set(self.state_names):
                raise ValueError(f"{name}: state {state!r:.100}; expected a dict with keys "
                                 f"{', '.join(self.state_names)}")
            restored.update(self._checked_run_state(name, state))
        return restored

    def _restore(self, attributes: dict) -> None:
        self.__dict__.update(attributes)
        self._apply()


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


class MultiStepLR(LRScheduler):
    """lr of epoch e = base_lr * gamma ** (number of milestones <= e): multiplied by gamma at
    each milestone epoch, as PyTorch's MultiStepLR (by the same repeated multiplication, so the
    same floats).

    >>> scheduler = MultiStepLR(optimizer, milestones=[30, 80], gamma=0.1)   # 30 and 80 epochs
    """

    setting_names = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: list[int], gamma: float = 0.1):
        super().__init__(optimizer, milestones=milestones, gamma=gamma)

    def _checked_settings(self, milestones, gamma) -> dict:
        return {"milestones": _checked_milestones("MultiStepLR", milestones),
                "gamma": _checked_number("MultiStepLR", "gamma", gamma, low=0.0,
                                         low_open=True)}

    def _next_lr(self, epoch: int) -> float:
        return self.last_lr * self.gamma if epoch in self.milestones else self.last_lr


class ExponentialLR(LRScheduler):
    """lr of epoch e = base_lr * gamma ** e: multiplied by gamma every epoch, as PyTorch's
    ExponentialLR (by the same repeated multiplication, so the same floats)."""

    setting_names = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer, gamma=gamma)

    def _checked_settings(self, gamma) -> dict:
        return {"gamma": _checked_number("ExponentialLR", "gamma", gamma, low=0.0,
                                         low_open=True)}

    def _next_lr(self, epoch: int) -> float:
        return self.last_lr * self.gamma


class LambdaLR(LRScheduler):
    """lr of epoch e = base_lr * lr_lambda(e), epoch 0 included, as PyTorch's LambdaLR; e.g.
    a warm-up, LambdaLR(optimizer, lambda e: min(1.0, (e + 1) / 5)).

    A state dict cannot hold a function, so `state_dict()` leaves lr_lambda out (as PyTorch
    does for a plain function): to resume, make the LambdaLR with the same lr_lambda, then
    `load_state_dict`.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]):
        if not callable(lr_lambda):
            raise TypeError(f"LambdaLR: lr_lambda is {type(lr_lambda).__name__} {lr_lambda!r}; "
                            f"expected a function of the epoch giving the lr's factor, e.g. "
                            f"lr_lambda=lambda epoch: 0.95 ** epoch")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def _checked_settings(self) -> dict:
        return {}

    def _initial_lr(self) -> float:
        return self._next_lr(0)

    def _next_lr(self, epoch: int) -> float:
        factor = _checked_number("LambdaLR", f"lr_lambda({epoch})", self.lr_lambda(epoch),
                                 low=0.0)
        return self.base_lr * factor


class LinearLR(LRScheduler):
    """lr of epoch e = base_lr * (start_factor + (end_factor - start_factor)
    * min(e, total_iters) / total_iters): a straight line from base_lr * start_factor to
    base_lr * end_factor over total_iters epochs, then constant; the usual warm-up.

    This is the closed form, as PyTorch's LinearLR computes it when given an epoch; its step()
    uses a recursion that agrees with it to about 1e-16 relative in float64.
    """

    setting_names = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5):
        super().__init__(optimizer, start_factor=start_factor, end_factor=end_factor,
                         total_iters=total_iters)

    def _checked_settings(self, start_factor, end_factor, total_iters) -> dict:
        return {"start_factor": _checked_number("LinearLR", "start_factor", start_factor,
                                                low=0.0, low_open=True, high=1.0,
                                                high_closed=True),
                "end_factor": _checked_number("LinearLR", "end_factor", end_factor, low=0.0,
                                              high=1.0, high_closed=True),
                "total_iters": _checked_count("LinearLR", "total_iters", total_iters, low=1)}

    def _initial_lr(self) -> float:
        return self._next_lr(0)

    def _next_lr(self, epoch: int) -> float:
        done = min(epoch, self.total_iters) / self.total_iters       # 0 -> 1, then 1
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * done)


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


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped once per batch: lr rises from max_lr / div_factor to max_lr
    over the first pct_start of total_steps, then falls to max_lr / div_factor /
    final_div_factor by step total_steps - 1; with three_phase, it falls back to max_lr /
    div_factor as it rose, then to the minimum. Each phase anneals from a to b as p goes 0 -> 1:
    "cos": b + (a - b) (1 + cos(pi p)) / 2; "linear": a + (b - a) p.

    p = (step - phase start) / (phase end - phase start); the phases end at steps
    pct_start * total_steps - 1, (three_phase: 2 pct_start * total_steps - 2,) total_steps - 1,
    as in PyTorch's OneCycleLR. The optimizer's own lr is not used. With cycle_momentum (True by
    default, as in PyTorch) the momentum moves the other way, from max_momentum down to
    base_momentum while the lr rises and back up while it falls: SGD's and RMSprop's
    `momentum`, Adam's and AdamW's beta1. total_steps is given, or epochs * steps_per_epoch.

    >>> scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    >>> for epoch in range(10):
    ...     for x, y in loader:
    ...         ...; optimizer.step()
    ...         scheduler.step()          # after every batch
    """

    setting_names = ("max_lr", "total_steps", "pct_start", "anneal_strategy", "cycle_momentum",
                     "base_momentum", "max_momentum", "div_factor", "final_div_factor",
                     "three_phase")

    def __init__(self, optimizer: Optimizer, max_lr: float, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float = 0.85,
                 max_momentum: float = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(
                    f"OneCycleLR: total_steps is None with epochs={epochs!r} and "
                    f"steps_per_epoch={steps_per_epoch!r}; expected total_steps, or both epochs "
                    f"and steps_per_epoch (the schedule must know where the cycle ends); pass "
                    f"e.g. epochs=10, steps_per_epoch=len(train_loader)")
            total_steps = (_checked_count("OneCycleLR", "epochs", epochs, low=1)
                           * _checked_count("OneCycleLR", "steps_per_epoch", steps_per_epoch,
                                            low=1))
        super().__init__(optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start,
                         anneal_strategy=anneal_strategy, cycle_momentum=cycle_momentum,
                         base_momentum=base_momentum, max_momentum=max_momentum,
                         div_factor=div_factor, final_div_factor=final_div_factor,
                         three_phase=three_phase)

    def _checked_settings(self, max_lr, total_steps, pct_start, anneal_strategy, cycle_momentum,
                          base_momentum, max_momentum, div_factor, final_div_factor,
                          three_phase) -> dict:
        name = "OneCycleLR"
        checked = {
            "max_lr": _checked_number(name, "max_lr", max_lr, low=0.0, low_open=True),
            "total_steps": _checked_count(name, "total_steps", total_steps, low=1),
            "pct_start": _checked_number(name, "pct_start", pct_start, low=0.0, high=1.0,
                                         high_closed=True),
            "anneal_strategy": _checked_choice(name, "anneal_strategy", anneal_strategy,
                                               ("cos", "linear")),
            "cycle_momentum": _checked_flag(name, "cycle_momentum", cycle_momentum),
            "base_momentum": _checked_number(name, "base_momentum", base_momentum, low=0.0,
                                             high=1.0),
            "max_momentum": _checked_number(name, "max_momentum", max_momentum, low=0.0,
                                            high=1.0),
            "div_factor": _checked_number(name, "div_factor", div_factor, low=0.0,
                                          low_open=True),
            "final_div_factor": _checked_number(name, "final_div_factor", final_div_factor,
                                                low=0.0, low_open=True),
            "three_phase": _checked_flag(name, "three_phase", three_phase)}
        if checked["three_phase"] and checked["pct_start"] > 0.5:
            raise ValueError(f"OneCycleLR: pct_start is {checked['pct_start']} with "
                             f"three_phase=True, so the rise and the fall that mirrors it take "
                             f"more than the whole cycle; expected pct_start <= 0.5; pass a "
                             f"smaller pct_start, e.g. 0.3")
        ends = self._phase_ends(checked["total_steps"], checked["pct_start"],
                                checked["three_phase"])
        if any(end == start for start, end in zip([0.0, *ends[:-1]], ends, strict=True)):
            raise ValueError(f"OneCycleLR: pct_start={checked['pct_start']} with total_steps="
                             f"{checked['total_steps']} gives a phase of no steps (the phases "
                             f"end at steps {ends}), whose p divides by zero; expected "
                             f"pct_start * total_steps != 1 and pct_start < 1; change pct_start "
                             f"or total_steps")
        if checked["cycle_momentum"] and not hasattr(self.optimizer, "betas") and not hasattr(
                self.optimizer, "momentum"):
            raise ValueError(f"OneCycleLR: cycle_momentum=True but "
                             f"{type(self.optimizer).__name__} has no momentum and no betas; "
                             f"expected SGD, RMSprop (momentum), Adam or AdamW (beta1); pass "
                             f"cycle_momentum=False")
        return checked

    @staticmethod
    def _phase_ends(total_steps: int, pct_start: float, three_phase: bool) -> list[float]:
        rise = pct_start * total_steps - 1
        if three_phase:
            return [rise, 2 * pct_start * total_steps - 2, total_steps - 1]
        return [rise, total_steps - 1]

    def _phase_and_progress(self, step: int) -> tuple[int, float]:
        """The phase that step falls in and p, its progress through it (0 -> 1)."""
        ends = self._phase_ends(self.total_steps, self.pct_start, self.three_phase)
        start = 0.0
        for phase, end in enumerate(ends):
            if step <= end or phase == len(ends) - 1:   # past the last end: p > 1, as PyTorch
                return phase, (step - start) / (end - start)
            start = end
        raise AssertionError(f"unreachable: step {step}, phase ends {ends}")

    def _anneal(self, a: float, b: float, p: float) -> float:
        if self.anneal_strategy == "cos":
            return b + (a - b) / 2 * (math.cos(math.pi * p) + 1)
        return (b - a) * p + a

    def _initial_lr(self) -> float:
        return self._next_lr(0)

    def _next_lr(self, epoch: int) -> float:
        start = self.max_lr / self.div_factor
        end = start / self.final_div_factor
        if self.three_phase:
            phases = [(start, self.max_lr), (self.max_lr, start), (start, end)]
        else:
            phases = [(start, self.max_lr), (self.max_lr, end)]
        phase, p = self._phase_and_progress(epoch)
        return self._anneal(*phases[phase], p)

    def _apply(self) -> None:
        """Give the optimizer the lr and, with cycle_momentum, the momentum of the step."""
        super()._apply()
        if self.cycle_momentum:
            top, bottom = self.max_momentum, self.base_momentum
            phase, p = self._phase_and_progress(self.last_epoch)
            momentum = self._anneal(*[(top, bottom), (bottom, top), (top, top)][phase], p)
            if hasattr(self.optimizer, "betas"):
                self.optimizer.betas = (momentum, self.optimizer.betas[1])
            else:
                self.optimizer.momentum = momentum

    def step(self) -> None:
        """End a batch: the optimizer's lr (and momentum) become those of the next step."""
        if self.last_epoch >= self.total_steps:
            raise ValueError(f"OneCycleLR.step: this would be step {self.last_epoch + 1} of a "
                             f"cycle of total_steps={self.total_steps}; expected at most "
                             f"total_steps calls of step(), one per batch; make total_steps the "
                             f"number of batches of the whole run, e.g. epochs=E, "
                             f"steps_per_epoch=len(train_loader)")
        super().step()


class ReduceLROnPlateau(LRScheduler):
    """lr *= factor (but not below min_lr) when the metric passed to `step(metric)` has not
    improved for more than `patience` epochs, as PyTorch's ReduceLROnPlateau.

    mode "min": the metric improves when it falls below best * (1 - threshold) ("rel") or
    best - threshold ("abs"); mode "max": above best * (1 + threshold) or best + threshold.
    After a reduction, `cooldown` epochs pass in which bad epochs are not counted. A reduction
    smaller than eps is skipped. best starts at +inf ("min") or -inf ("max").

    >>> scheduler = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
    >>> for epoch in range(epochs):
    ...     train_epoch(...)
    ...     scheduler.step(evaluate(...))      # the validation loss
    """

    setting_names = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                     "min_lr", "eps")
    state_names = ("best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        super().__init__(optimizer, mode=mode, factor=factor, patience=patience,
                         threshold=threshold, threshold_mode=threshold_mode, cooldown=cooldown,
                         min_lr=min_lr, eps=eps)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0          # epochs since best, not counting those in cooldown
        self.cooldown_counter = 0        # epochs of cooldown still to come

    def _checked_settings(self, mode, factor, patience, threshold, threshold_mode, cooldown,
                          min_lr, eps) -> dict:
        name = "ReduceLROnPlateau"
        return {"mode": _checked_choice(name, "mode", mode, ("min", "max")),
                "factor": _checked_number(name, "factor", factor, low=0.0, high=1.0),
                "patience": _checked_count(name, "patience", patience),
                "threshold": _checked_number(name, "threshold", threshold, low=0.0),
                "threshold_mode": _checked_choice(name, "threshold_mode", threshold_mode,
                                                  ("rel", "abs")),
                "cooldown": _checked_count(name, "cooldown", cooldown),
                "min_lr": _checked_number(name, "min_lr", min_lr, low=0.0),
                "eps": _checked_number(name, "eps", eps, low=0.0)}

    def _checked_run_state(self, name: str, state: dict) -> dict:
        best = state["best"]
        if (isinstance(best, bool) or not isinstance(best, (int, float, np.integer, np.floating))
                or math.isnan(best)):
            raise ValueError(f"{name}: best is {best!r}; expected a number (or +-inf)")
        return {"best": float(best),
                "num_bad_epochs": _checked_count(name, "num_bad_epochs", state["num_bad_epochs"]),
                "cooldown_counter": _checked_count(name, "cooldown_counter",
                                                   state["cooldown_counter"])}

    def _improves(self, metric: float) -> bool:
        if self.threshold_mode == "rel":
            scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
            bar = self.best * scale
        else:
            bar = self.best - self.threshold if self.mode == "min" else self.best + self.threshold
        return metric < bar if self.mode == "min" else metric > bar

    def step(self, metrics: float | None = None) -> None:
        """End an epoch with its metric (e.g. the validation loss): count it as an improvement
        or a bad epoch, and reduce the lr after more than `patience` bad ones in a row."""
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step: got no metric; expected the number it "
                            "watches, e.g. the validation loss; call scheduler.step(val_loss) "
                            "after evaluating")
        value = metrics.data if isinstance(metrics, Value) else metrics
        if (isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0
                or np.asarray(value).dtype.kind not in "iuf"):
            raise TypeError(f"ReduceLROnPlateau.step: metrics is {type(metrics).__name__} "
                            f"{metrics!r:.60}; expected one number, e.g. "
                            f"scheduler.step(val_loss.item())")
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
            reduced = max(self.last_lr * self.factor, self.min_lr)
            if self.last_lr - reduced > self.eps:
                self.last_lr = reduced
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._apply()


class SequentialLR(LRScheduler):
    """Schedules one after another: schedulers[i] runs from epoch milestones[i - 1] (from 0 for
    the first), restarted there at its own epoch 0, as PyTorch's SequentialLR; e.g. a linear
    warm-up then a cosine:

    >>> warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    >>> cosine = CosineAnnealingLR(optimizer, T_max=epochs - 5)
    >>> scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[5])

    Its state dict holds those of its schedulers; to resume, make the same schedulers and
    SequentialLR, then `load_state_dict`.
    """

    setting_names = ("milestones",)
    state_names = ("schedulers",)

    def __init__(self, optimizer: Optimizer, schedulers: list[LRScheduler],
                 milestones: list[int]):
        if not isinstance(schedulers, (list, tuple)) or not schedulers:
            raise ValueError(f"SequentialLR: schedulers is {schedulers!r:.80}; expected a "
                             f"non-empty list of schedulers on the optimizer, e.g. [warmup, "
                             f"cosine]")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"SequentialLR: schedulers[{i}] is a "
                                f"{type(scheduler).__name__}; expected a scheduler, e.g. "
                                f"LinearLR(optimizer)")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR: schedulers[{i}] is a ReduceLROnPlateau, whose "
                                 f"step needs a metric; expected schedules of the epoch alone, "
                                 f"as in PyTorch; step the ReduceLROnPlateau yourself")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] ({type(scheduler).__name__}) "
                                 f"sets the lr of another optimizer; expected every scheduler "
                                 f"made on the optimizer passed to SequentialLR")
        self.schedulers = list(schedulers)
        super().__init__(optimizer, milestones=milestones)

    def _checked_settings(self, milestones) -> dict:
        milestones = _checked_milestones("SequentialLR", milestones)
        if len(milestones) != len(self.schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(milestones)} milestones {milestones} for "
                             f"{len(self.schedulers)} schedulers; expected one milestone fewer "
                             f"than schedulers (the epoch where each one after the first "
                             f"starts), e.g. milestones=[5] for [warmup, cosine]")
        return {"milestones": milestones}

    def _initial_lr(self) -> float:
        self.schedulers[0]._start()
        return self.schedulers[0].last_lr

    def _next_lr(self, epoch: int) -> float:
        index = bisect.bisect_right(self.milestones, epoch)   # the part whose epochs hold it
        scheduler = self.schedulers[index]
        if index > 0 and self.milestones[index - 1] == epoch:
            scheduler._start()
        else:
            scheduler.step()
        return scheduler.last_lr

    def _run_state(self) -> dict:
        return {"schedulers": [scheduler.state_dict() for scheduler in self.schedulers]}

    def _checked_run_state(self, name: str, state: dict) -> dict:
        saved = state["schedulers"]
        if not isinstance(saved, list) or len(saved) != len(self.schedulers):
            raise ValueError(f"{name}: the state holds {saved!r:.80} for "
                             f"{len(self.schedulers)} schedulers; expected a list of their "
                             f"{len(self.schedulers)} state dicts")
        return {"schedulers": [scheduler._checked_state_dict(entry)
                               for scheduler, entry in zip(self.schedulers, saved,
                                                           strict=True)]}

    def _restore(self, attributes: dict) -> None:
        attributes = dict(attributes)
        for scheduler, restored in zip(self.schedulers, attributes.pop("schedulers"),
                                       strict=True):
            scheduler._restore(restored)
        super()._restore(attributes)


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


def _checked_count(owner: str, name: str, value, low: int = 0) -> int:
    """value as a Python int, checked to be an int (not a bool or a float) >= low."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{owner}: {name} is {value!r}; expected an int >= {low}")
    return int(value)


def _checked_choice(owner: str, name: str, value, choices: tuple[str, ...]) -> str:
    """value, checked to be one of the strings in choices."""
    if value not in choices or not isinstance(value, str):
        options = " or ".join(repr(choice) for choice in choices)
        raise ValueError(f"{owner}: {name} is {value!r}; expected {options}, e.g. "
                         f"{name}={choices[0]!r}")
    return value


def _checked_milestones(owner: str, milestones) -> list[int]:
    """milestones as a list of ints, checked to be epochs >= 1 in increasing order."""
    if not isinstance(milestones, (list, tuple)) or not all(
            isinstance(m, (int, np.integer)) and not isinstance(m, bool) for m in milestones):
        raise TypeError(f"{owner}: milestones is {milestones!r:.80}; expected a list of epochs "
                        f"(ints), e.g. milestones=[30, 80]")
    milestones = [int(m) for m in milestones]
    if any(m < 1 for m in milestones) or any(
            a >= b for a, b in zip(milestones[:-1], milestones[1:], strict=True)):
        raise ValueError(f"{owner}: milestones is {milestones}; expected epochs >= 1 in "
                         f"increasing order, each once; sort them, e.g. "
                         f"milestones={sorted(set(m for m in milestones if m >= 1))}")
    return milestones
