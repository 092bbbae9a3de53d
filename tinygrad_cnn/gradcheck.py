"""Finite-difference gradient checking: the analytic gradients of backward() against central
differences in float64, element by element (or along random directions for large inputs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_cnn.function import no_grad
from tinygrad_cnn.value import Value


class GradcheckError(AssertionError):
    """Raised by gradcheck when an analytic gradient disagrees with the numeric one."""


def gradcheck(fn: Callable[..., Value], inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, fast: bool = False, directions: int = 8, seed: int = 0) -> bool:
    """Check `fn`'s gradients with central differences: returns True or raises GradcheckError.

    The output is projected onto a random upstream gradient u, f(inputs) = sum(u * fn(inputs)),
    so a backward that drops, flips or mis-shapes `grad` cannot pass by luck. Every floating
    input (array, Python float, list of floats, or Value with requires_grad=True) is checked,
    as a fresh float64 copy; floating Values with requires_grad=False become float64
    constants; anything else (integer arrays, Python ints, None) reaches fn unchanged.

    df/dx[i] is estimated as (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) and must satisfy
    |analytic - numeric| <= atol + rtol |numeric|. With fast=True, `directions` random unit
    directions v are checked instead of every element: grad . v against (f(x+eps v) -
    f(x-eps v)) / (2 eps) — one pair of evaluations per direction instead of per element.
    """
    values = [_as_float64_input(x) for x in inputs]
    checked = [i for i, v in enumerate(values) if isinstance(v, Value) and v.requires_grad]
    if not checked:
        raise ValueError(f"gradcheck: no input requires grad among {len(values)} inputs; "
                         f"expected at least one floating array, Python float or Value with "
                         f"requires_grad=True")
    out = fn(*values)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: fn returned {type(out).__name__}; expected a Value")
    rng = np.random.default_rng(seed)
    upstream = rng.standard_normal(out.shape)
    if out.requires_grad:                # else fn ignores its inputs: every gradient is 0
        out.backward(upstream)

    def projected() -> float:
        with no_grad():
            return float((fn(*values).data * upstream).sum())

    for i in checked:
        value = values[i]
        analytic = np.zeros(value.shape) if value.grad is None else value.grad
        label = f"input {i}" + (f" ({value.name!r})" if value.name else "") + f" {value.shape}"
        if fast:
            _check_directions(projected, value, analytic, label, eps, atol, rtol, directions, rng)
        else:
            _check_elements(projected, value, analytic, label, eps, atol, rtol)
    return True


def _check_elements(projected, value, analytic, label, eps, atol, rtol) -> None:
    numeric = np.zeros(value.shape)
    flat = value.data.reshape(-1)          # a view: writing it perturbs the input in place
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        above = projected()
        flat[k] = original - eps
        below = projected()
        flat[k] = original
        numeric.flat[k] = (above - below) / (2 * eps)
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if excess.max(initial=-np.inf) > 0:
        worst = np.unravel_index(np.argmax(excess), value.shape)
        raise GradcheckError(
            f"gradcheck: gradient of {label} is wrong at index {tuple(map(int, worst))}: "
            f"analytic {analytic[worst]:.8g}, numeric {numeric[worst]:.8g} "
            f"(|difference| {abs(analytic[worst] - numeric[worst]):.3g} > atol + rtol*|numeric| "
            f"= {atol + rtol * abs(numeric[worst]):.3g}); {int((excess > 0).sum())} of "
            f"{value.size} elements disagree")


def _check_directions(projected, value, analytic, label, eps, atol, rtol, count, rng) -> None:
    original = value.data.copy()
    for d in range(count):
        direction = rng.standard_normal(value.shape)
        direction /= np.linalg.norm(direction) or 1.0
        value.data[...] = original + eps * direction
        above = projected()
        value.data[...] = original - eps * direction
        below = projected()
        value.data[...] = original
        numeric = (above - below) / (2 * eps)
        expected = float((analytic * direction).sum())
        if abs(expected - numeric) > atol + rtol * abs(numeric):
            raise GradcheckError(
                f"gradcheck (fast): gradient of {label} is wrong along random direction {d}: "
                f"analytic {expected:.8g}, numeric {numeric:.8g} (|difference| "
                f"{abs(expected - numeric):.3g} > atol + rtol*|numeric| = "
                f"{atol + rtol * abs(numeric):.3g}); rerun with fast=False to find the element")


def _as_float64_input(x):
    """A fresh float64 copy of a floating input: a leaf Value that is checked, or a constant
    Value if x is a Value with requires_grad=False. Anything else (integer arrays, Python
    ints, None, ...) is passed to fn unchanged and held constant."""
    if isinstance(x, Value):
        if x.dtype.kind != "f":
            return x
        return Value(np.array(x.data, dtype=np.float64), requires_grad=x.requires_grad,
                     name=x.name)
    if isinstance(x, float) or (isinstance(x, (np.ndarray, np.floating)) and x.dtype.kind == "f"):
        return Value(np.array(x, dtype=np.float64))
    if isinstance(x, (list, tuple)):
        array = np.asarray(x)
        if array.dtype.kind == "f":
            return Value(array.astype(np.float64))
    return x
