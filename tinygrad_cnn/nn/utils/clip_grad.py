"""Gradient clipping, as `torch.nn.utils`: `clip_grad_norm_` and `clip_grad_value_` change the
parameters' `.grad` arrays in place, between `backward()` and the optimizer's `step()`.

Both have PyTorch 2.13's names, defaults and formulas, so `clip_grad_norm_(model.parameters(),
1.0)` ports as it is. Where PyTorch silently does something surprising they raise instead: a
negative max_norm (PyTorch flips every gradient's sign), a norm_type <= 0 (not a norm), a
negative clip_value, a parameter listed twice (PyTorch scales it twice).
"""

from __future__ import annotations

import math
import numbers
import types
import warnings
from collections.abc import Iterable

import numpy as np

from tinygrad_cnn.nn.utils.convert_parameters import parameter_list
from tinygrad_cnn.value import Value

# the addresses [low, high) an array's elements lie in (numpy 2 moved it to np.lib.array_utils)
_byte_bounds = np.lib.array_utils.byte_bounds if hasattr(np.lib, "array_utils") else np.byte_bounds

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def clip_grad_norm_(parameters: Value | Iterable[Value], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale all gradients by min(1, max_norm / (total_norm + 1e-6)) in place; returns total_norm,
    the p-norm of all the gradients as if they were concatenated into one vector.

    Parameters
    ----------
    parameters : Value or iterable of Values
        E.g. model.parameters(). Those whose grad is None (frozen, or unused by the loss) are
        skipped. Each must appear once.
    max_norm : float
        The largest total norm to allow, >= 0 (inf: only compute the norm).
    norm_type : float
        The p of the p-norm, > 0: 2.0 (default), 1.0, any p, or float("inf") for the largest
        absolute value. total_norm = (sum over every gradient element of |g| ** p) ** (1 / p),
        computed as the p-norm of the per-parameter p-norms, as PyTorch does.
    error_if_nonfinite : bool
        Raise a RuntimeError (PyTorch's type) when total_norm is nan or inf, instead of scaling
        by it (which turns every gradient into zeros or nan, as in PyTorch).

    Returns
    -------
    float
        total_norm, before clipping, as a Python float computed in float64 whatever the
        gradients' dtype. Not a 0-d array or a Value: it is a number about the step, to log or
        compare (`if norm > 10:`), as `loss.item()` is; PyTorch returns a 0-d tensor so that it
        can stay on the GPU without waiting for it, which numpy never needs. It is 0.0 when no
        parameter has a gradient.

    Every gradient is multiplied by the same coefficient, PyTorch's
    clip_coef = min(max_norm / (total_norm + 1e-6), 1.0), even when that is 1.0 (so gradients
    under max_norm keep their values): the same array objects, shapes and dtypes afterwards.
    """
    caller = "clip_grad_norm_"
    max_norm = _checked_float(caller, "max_norm", max_norm, "a number >= 0, e.g. 1.0",
                              lambda x: x >= 0)
    norm_type = _checked_float(caller, "norm_type", norm_type,
                               "a number > 0: 2.0, 1.0, any p > 0, or float('inf')",
                               lambda x: x > 0)
    empty_generator = isinstance(parameters, types.GeneratorType)
    params, grads = _params_and_grads(caller, parameters)
    if empty_generator and not params:          # PyTorch warns here too
        warnings.warn(f"{caller}: `parameters` is an empty generator, so no gradient is clipped; "
                      f"expected model.parameters() of a model with layers; call "
                      f"model.parameters() afresh for each use (a generator runs only once)",
                      stacklevel=2)
    if not grads:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):     # inf and nan are reported below
        norms = [_vector_norm(g, norm_type) for g in grads]
        total_norm = float(_vector_norm(np.array(norms), norm_type))
    if error_if_nonfinite and not math.isfinite(total_norm):
        raise RuntimeError(_nonfinite_message(caller, total_norm, norm_type, params))
    clip_coef = max_norm / (total_norm + 1e-6)
    if clip_coef > 1.0:         # not min(clip_coef, 1.0), which would turn a nan into 1.0
        clip_coef = 1.0
    with np.errstate(invalid="ignore"):                     # inf * 0 is nan, as in PyTorch
        for g in grads:
            g *= clip_coef      # a Python float keeps g's dtype
    return total_norm


def clip_grad_value_(parameters: Value | Iterable[Value], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place.

    Parameters
    ----------
    parameters : Value or iterable of Values
        E.g. model.parameters(). Those whose grad is None are skipped. Each must appear once.
    clip_value : float
        The largest absolute value a gradient element keeps, >= 0. A nan element stays nan.

    The same array objects, shapes and dtypes afterwards.
    """
    caller = "clip_grad_value_"
    clip_value = _checked_float(caller, "clip_value", clip_value, "a number >= 0, e.g. 1.0",
                                lambda x: x >= 0)
    _, grads = _params_and_grads(caller, parameters)
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)


def _vector_norm(x: np.ndarray, p: float) -> np.float64:
    """The p-norm of all of x's elements, in float64; 0 for an empty x."""
    if x.size == 0:
        return np.float64(0.0)
    return np.linalg.norm(x.astype(np.float64, copy=False).ravel(), ord=p)


def _checked_float(caller: str, name: str, value, expected: str, ok) -> float:
    """value as a float when it is a real number (or a string such as "inf") for which ok() holds;
    else a TypeError or ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise TypeError(f"{caller}: {name} is a {type(value).__name__}; expected {expected}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{caller}: {name} is {value!r}; expected {expected}") from None
    if not ok(number):          # a nan fails every comparison, so it lands here too
        raise ValueError(f"{caller}: {name} is {value!r}; expected {expected}")
    return number


def _params_and_grads(caller: str, parameters) -> tuple[list[Value], list[np.ndarray]]:
    """The parameters as a list, and the gradients that are not None, after checking that every
    gradient can be changed in place and that none shares memory with another (which would be
    changed twice). Raises before any gradient is touched."""
    params = parameter_list(caller, parameters)
    grads, owner, spans = [], {}, []         # owner: id(param) -> index
    for i, param in enumerate(params):
        if id(param) in owner:
            raise ValueError(f"{caller}: parameter {i} (shape {param.shape}) is parameter "
                             f"{owner[id(param)]} again; expected each parameter once, as "
                             f"model.parameters() lists them; remove the repeat")
        owner[id(param)] = i
        g = param.grad
        if g is None:
            continue
        where = f"{caller}: parameter {i} (shape {param.shape}, dtype {param.dtype})"
        if not isinstance(g, np.ndarray):       # e.g. a Python number or a numpy scalar
            raise TypeError(f"{where} has a grad of type {type(g).__name__}; expected a numpy "
                            f"array, which clipping changes in place; set "
                            f"param.grad = np.array(grad, dtype=param.dtype), or let backward() "
                            f"make it")
        if g.dtype.kind != "f":
            dtype = param.dtype if param.dtype.kind == "f" else np.dtype(np.float64)
            raise TypeError(f"{where} has a grad of dtype {g.dtype}; expected floating point; "
                            f"set param.grad = param.grad.astype(np.{dtype})")
        if not g.flags.writeable:
            raise ValueError(f"{where} has a read-only grad, e.g. a np.broadcast_to view; "
                             f"expected a writable array, which clipping changes in place; give "
                             f"it its own copy: param.grad = param.grad.copy()")
        spans.append((_byte_bounds(g), i, where, g))
        grads.append(g)
    # backward() gives every parameter a gradient array of its own; a user may not have. Two
    # grads can share memory only if their byte ranges overlap: sweep the ranges in order.
    spans.sort(key=lambda span: span[0][0])
    reaching: list = []                      # earlier ranges that reach past this one's start
    for (low, high), i, where, g in spans:
        reaching = [span for span in reaching if span[0][1] > low]
        for _, j, _, other in reaching:
            if np.shares_memory(g, other):
                raise ValueError(f"{where} has a grad that shares memory with parameter {j}'s; "
                                 f"expected a gradient array of its own (clipping changes it in "
                                 f"place, so shared elements would change twice); give it its "
                                 f"own copy: param.grad = param.grad.copy()")
        reaching.append(((low, high), i, where, g))
    return params, grads


def _nonfinite_message(caller: str, total_norm: float, norm_type: float,
                       params: list[Value]) -> str:
    """Why total_norm is nan or inf: the first parameter with a non-finite gradient element, or
    an overflow of the norm itself."""
    culprit = next((i for i, p in enumerate(params)
                    if p.grad is not None and not np.isfinite(p.grad).all()), None)
    if culprit is not None:
        param = params[culprit]
        cause = (f"parameter {culprit} (shape {param.shape}) has "
                 f"{np.count_nonzero(~np.isfinite(param.grad))} nan or inf gradient elements")
    else:
        cause = "every gradient is finite but their norm overflowed float64"
    return (f"{caller}: the total norm of order {norm_type} of the gradients is {total_norm} "
            f"({cause}); expected a finite norm, as a nan or inf one cannot clip anything; skip "
            f"this step (catch the RuntimeError, call optimizer.zero_grad() and go on), or lower "
            f"the learning rate; error_if_nonfinite=False scales by it anyway (every gradient "
            f"becomes 0 or nan)")
