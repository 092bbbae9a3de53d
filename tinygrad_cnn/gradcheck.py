"""Finite-difference gradient checking: the analytic gradients of backward() (gradcheck) and of
tc.grad(..., create_graph=True) (gradgradcheck) against central differences in float64."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_cnn.function import grad, no_grad
from tinygrad_cnn.value import Value


class GradcheckError(AssertionError):
    """Raised by gradcheck and gradgradcheck when an analytic derivative disagrees with the
    numeric one, or either is not finite."""


def gradcheck(fn: Callable[..., Value], inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, fast: bool = False, directions: int = 8, seed: int = 0) -> bool:
    """Check `fn`'s gradients with central differences: returns True or raises GradcheckError.

    `inputs` is a list or tuple of fn's arguments (a lone array, Value or number is one
    argument). The output is projected onto a random upstream gradient u, f(inputs) =
    sum(u * fn(inputs)), so a backward that drops, flips or mis-shapes `grad` cannot pass by
    luck. Every floating
    input (array, Python float, list of floats, or Value with requires_grad=True) is checked,
    as a fresh float64 copy; floating Values with requires_grad=False become float64
    constants; anything else (integer arrays, Python ints, None) reaches fn unchanged.

    df/dx[i] is estimated as (f(x + eps e_i) - f(x - eps e_i)) / (2 eps) and must satisfy
    |analytic - numeric| <= atol + rtol |numeric|; a NaN or infinity on either side fails.
    With fast=True, `directions` random unit directions v are checked instead of every
    element: grad . v against (f(x+eps v) - f(x-eps v)) / (2 eps) — one pair of evaluations
    per direction instead of per element.
    """
    _check_settings("gradcheck", eps, atol, rtol, directions)
    values, checked = _checked_inputs("gradcheck", inputs)
    out = _call("gradcheck", fn, values)
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
        what = f"gradient of {_label(i, value)}"
        _compare("gradcheck", what, projected, value.data, analytic, eps, atol, rtol,
                 directions if fast else None, rng)
    return True


def gradgradcheck(fn: Callable[..., Value], inputs: Sequence, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, fast: bool = False,
                  directions: int = 8, seed: int = 0) -> bool:
    """Check `fn`'s second derivatives with central differences of its first derivatives:
    returns True or raises GradcheckError.

    As PyTorch's gradgradcheck, the first-order function checked is
    g(inputs, u) = grad(fn(inputs), inputs, grad_output=u), with a random upstream gradient u
    that is itself checked: its derivatives are those w.r.t. the inputs (Hessian-vector
    products) and w.r.t. u (Jacobian-vector products of the backward). g's outputs are
    projected onto random v, s = sum_i sum(v_i * g_i); the analytic ds/dinputs and ds/du come
    from tc.grad of tc.grad(..., create_graph=True), the numeric ones from central differences
    of s, whose first derivatives come from ordinary tc.grad. Inputs are treated as in
    gradcheck; a NaN or infinity on either side fails. An op whose backward cannot be
    differentiated raises the engine's error, naming the op.

    First check the first derivatives with gradcheck: this compares the second-order graph
    with the first-order rule it was built from.
    """
    _check_settings("gradgradcheck", eps, atol, rtol, directions)
    values, checked = _checked_inputs("gradgradcheck", inputs)
    out = _call("gradgradcheck", fn, values)
    rng = np.random.default_rng(seed)
    upstream = Value(rng.standard_normal(out.shape), requires_grad=True, name="upstream")
    wrt = [values[i] for i in checked]
    projections = [rng.standard_normal(v.shape) for v in wrt]

    def first_derivatives(create_graph: bool):
        """s = sum_i sum(v_i * d sum(u * fn) / d input_i): a Value, or 0.0 when fn is constant."""
        out = fn(*values)
        if not out.requires_grad:
            return 0.0
        grads = grad(out, wrt, grad_output=upstream if create_graph else upstream.data,
                     create_graph=create_graph)
        return sum((g * v).sum() for g, v in zip(grads, projections, strict=True))

    def projected() -> float:
        s = first_derivatives(create_graph=False)
        return float(s.data if isinstance(s, Value) else s)

    s = first_derivatives(create_graph=True)
    targets = [*wrt, upstream]
    if isinstance(s, Value) and s.requires_grad:
        second = [np.asarray(g.data, dtype=np.float64) for g in grad(s, targets)]
    else:                                # s does not depend on anything checked: all zero
        second = [np.zeros(t.shape) for t in targets]
    labels = [_label(i, values[i]) for i in checked]
    labels.append(f"the upstream gradient u {out.shape}")
    for target, analytic, label in zip(targets, second, labels, strict=True):
        what = f"second derivative (d/d {label} of the projected first derivatives)"
        _compare("gradgradcheck", what, projected, target.data, analytic, eps, atol, rtol,
                 directions if fast else None, rng)
    return True


def _compare(caller, what, projected, data, analytic, eps, atol, rtol, directions, rng) -> None:
    """Perturb `data` in place, element by element (directions None) or along `directions`
    random unit vectors, and compare the central differences of projected() with `analytic`."""
    _require_finite(caller, what, analytic, "analytic", None)
    if directions is None:
        _compare_elements(caller, what, projected, data, analytic, eps, atol, rtol)
    else:
        _compare_directions(caller, what, projected, data, analytic, eps, atol, rtol,
                            directions, rng)


def _compare_elements(caller, what, projected, data, analytic, eps, atol, rtol) -> None:
    numeric = np.zeros(data.shape)
    flat = data.flat     # row-major positions that write through to the input, in any memory
    for k in range(data.size):       # order (a reshape of a transposed array would be a copy)
        original = flat[k]
        flat[k] = original + eps
        above = projected()
        flat[k] = original - eps
        below = projected()
        flat[k] = original
        numeric.flat[k] = (above - below) / (2 * eps)
    _require_finite(caller, what, numeric, "numeric", analytic)
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if excess.max(initial=-np.inf) > 0:
        worst = np.unravel_index(np.argmax(excess), data.shape)
        raise GradcheckError(
            f"{caller}: {what} is wrong at index {tuple(map(int, worst))}: "
            f"analytic {analytic[worst]:.8g}, numeric {numeric[worst]:.8g} "
            f"(|difference| {abs(analytic[worst] - numeric[worst]):.3g} > atol + rtol*|numeric| "
            f"= {atol + rtol * abs(numeric[worst]):.3g}); {int((excess > 0).sum())} of "
            f"{data.size} elements disagree")


def _compare_directions(caller, what, projected, data, analytic, eps, atol, rtol, count,
                        rng) -> None:
    original = data.copy()
    for d in range(count):
        direction = rng.standard_normal(data.shape)
        direction /= np.linalg.norm(direction) or 1.0
        data[...] = original + eps * direction
        above = projected()
        data[...] = original - eps * direction
        below = projected()
        data[...] = original
        numeric = (above - below) / (2 * eps)
        expected = float((analytic * direction).sum())
        if not math.isfinite(numeric):
            raise GradcheckError(
                f"{caller} (fast): {what} is not finite along random direction {d}: analytic "
                f"{expected:.8g}, numeric {numeric:.8g}; expected finite values; fn is not "
                f"finite within eps={eps:g} of the input: move the inputs away from where fn "
                f"is undefined, or rerun with fast=False to find the element")
        if abs(expected - numeric) > atol + rtol * abs(numeric):
            raise GradcheckError(
                f"{caller} (fast): {what} is wrong along random direction {d}: "
                f"analytic {expected:.8g}, numeric {numeric:.8g} (|difference| "
                f"{abs(expected - numeric):.3g} > atol + rtol*|numeric| = "
                f"{atol + rtol * abs(numeric):.3g}); rerun with fast=False to find the element")


def _require_finite(caller, what, array, kind, analytic) -> None:
    """GradcheckError naming the first element of `array` that is NaN or infinite. `kind` is
    'analytic' or 'numeric'; for 'numeric', `analytic` is printed beside it."""
    bad = ~np.isfinite(array)
    if not bad.any():
        return
    index = np.unravel_index(np.argmax(bad), array.shape)
    where = tuple(map(int, index))
    if kind == "analytic":
        raise GradcheckError(
            f"{caller}: {what} is not finite at index {where}: analytic {array[index]:.8g}; "
            f"{int(bad.sum())} of {array.size} elements are NaN or infinite; expected finite "
            f"values; look for a division by zero, log(0) or overflow in the backward rule")
    raise GradcheckError(
        f"{caller}: {what} is not finite at index {where}: analytic {analytic[index]:.8g}, "
        f"numeric {array[index]:.8g}; {int(bad.sum())} of {array.size} elements are NaN or "
        f"infinite; expected finite values; fn is not finite within eps of the input: move the "
        f"inputs away from where fn is undefined (e.g. log near 0) or use a smaller eps")


def _check_settings(caller, eps, atol, rtol, directions) -> None:
    """ValueError/TypeError unless eps > 0, atol >= 0 and rtol >= 0 are finite real numbers and
    directions is a positive int."""
    for name, number, low in (("eps", eps, "> 0"), ("atol", atol, ">= 0"), ("rtol", rtol, ">= 0")):
        if isinstance(number, bool) or not isinstance(number, numbers.Real):
            raise TypeError(f"{caller}: {name}={number!r} is a {type(number).__name__}; expected "
                            f"a finite real number {low}")
        if not math.isfinite(number) or number < 0 or (name == "eps" and number == 0):
            raise ValueError(f"{caller}: {name}={number!r}; expected a finite number {low} "
                             f"(the defaults are eps=1e-6, atol=1e-5, rtol=1e-3)")
    if isinstance(directions, bool) or not isinstance(directions, numbers.Integral) \
            or directions < 1:
        raise ValueError(f"{caller}: directions={directions!r}; expected a positive int "
                         f"(the number of random directions fast=True checks)")


def _checked_inputs(caller, inputs) -> tuple[list, list[int]]:
    """The inputs as gradcheck passes them to fn, and the indices of those that are checked; a
    lone array, Value or number is one input, as PyTorch takes a lone tensor (not its rows)."""
    if isinstance(inputs, (np.ndarray, Value, float, int)):
        inputs = [inputs]
    values = [_as_float64_input(x) for x in inputs]
    checked = [i for i, v in enumerate(values) if isinstance(v, Value) and v.requires_grad]
    if not checked:
        raise ValueError(f"{caller}: no input requires grad among {len(values)} inputs; "
                         f"expected at least one floating array, Python float or Value with "
                         f"requires_grad=True")
    return values, checked


def _call(caller, fn, values) -> Value:
    out = fn(*values)
    if not isinstance(out, Value):
        raise TypeError(f"{caller}: fn returned {type(out).__name__}; expected a Value")
    return out


def _label(i: int, value: Value) -> str:
    """How an error names input i, e.g. "input 1 ('bias') (3,)"."""
    return f"input {i}" + (f" ({value.name!r})" if value.name else "") + f" {value.shape}"


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
