"""`Function`, the base class of every op, and the grad mode (`no_grad`) that decides whether
applying one records a node of the graph."""

from __future__ import annotations

import contextlib
import functools
import types
from collections.abc import Callable, Iterator, Mapping

import numpy as np

from tinygrad_cnn.value import Value

_grad_enabled = True
_module_scope: list[str] = []
_profiler = None          # the active tinygrad_cnn.profiler.profile, set only by it; None: off
_NO_PARAMS: Mapping = types.MappingProxyType({})   # read-only, so every op can share it


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


class no_grad:
    """Build no graph inside the block or the decorated function: results never require grad.

    `with tc.no_grad(): ...` or `@tc.no_grad()` above a function; the previous mode comes
    back on exit, also when the block raises.
    """

    def __init__(self) -> None:
        self._previous: list[bool] = []   # a stack, so one instance may be entered re-entrantly

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = False

    def __exit__(self, *exc_info) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def without_grad(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)
        return without_grad


@contextlib.contextmanager
def module_scope(name: str) -> Iterator[None]:
    """Stamp every Value made inside the block with the dotted module name (for drawing)."""
    _module_scope.append(name)
    try:
        yield
    finally:
        _module_scope.pop()


def current_module() -> str | None:
    """The dotted name of the innermost module being called, or None outside every module."""
    return _module_scope[-1] if _module_scope else None


class Function:
    """One op: `forward` maps numpy arrays to a numpy array, `backward` maps the gradient of the
    output to one gradient per input (None where an input needs none).

    Subclasses keep on `self` only what backward needs. `self.needs_input_grad[i]` tells
    whether input i requires a gradient (all False under no_grad), so forward can skip saving
    and backward can skip work nobody will use. backward must not modify `grad` in place: it
    is also the output's `.grad`. Users call `MyOp.apply(*inputs, **params)`: inputs may be
    Values, numpy arrays, numbers or None; keyword params are passed to forward unchanged
    and kept on `self.params` (drawings show them).
    """

    needs_input_grad: tuple[bool, ...] = ()
    params: Mapping = _NO_PARAMS
    inputs: tuple[Value | None, ...] = ()
    released = False

    def forward(self, *arrays, **params) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, *arrays)")

    def backward(self, grad: np.ndarray):
        raise NotImplementedError(f"{type(self).__name__} must define backward(self, grad)")

    @classmethod
    def apply(cls, *inputs, **params) -> Value:
        """Run forward on the inputs' data; record the node when some input requires grad."""
        values = _as_values(inputs)
        fn = cls()
        fn.needs_input_grad = tuple([_grad_enabled and v is not None and v.requires_grad
                                     for v in values])
        fn.params = params or _NO_PARAMS     # one shared empty mapping: a million ops, no dicts
        arrays = [None if v is None else v.data for v in values]
        if _profiler is None:
            data = fn.forward(*arrays, **params)
        else:
            data = _profiler._timed(fn.name, "forward", fn.forward, *arrays, **params)
        if type(data) is not np.ndarray:      # numpy returns 0-d results as numpy scalars
            data = np.asarray(data)
        module = _module_scope[-1] if _module_scope else None
        if True not in fn.needs_input_grad or data.dtype.kind != "f":
            return Value._make(data, module=module)         # a constant: no node recorded
        fn.inputs = values
        parents = values if None not in values else tuple([v for v in values if v is not None])
        return Value._make(data, fn, parents, module)

    def release(self) -> None:
        """Drop what forward saved, so a finished backward frees its memory."""
        kept = {"needs_input_grad": self.needs_input_grad, "params": self.params,
                "inputs": self.inputs}
        self.__dict__.clear()
        self.__dict__.update(kept, released=True)

    @property
    def name(self) -> str:
        """The op's name as drawn and profiled, e.g. 'Conv2d'."""
        return type(self).__name__


_NUMBERS = (int, float, complex, np.number)    # Python and numpy scalars (bool is an int)


def _as_values(inputs: tuple) -> tuple[Value | None, ...]:
    """Values and None pass through; arrays and numbers become constants (no gradient work)."""
    for x in inputs:
        if x is not None and not isinstance(x, Value):
            break
    else:
        return inputs                   # the common case: nothing to convert
    values = [x if x is None or isinstance(x, (Value, *_NUMBERS)) else
              Value(x, requires_grad=False) for x in inputs]
    dtypes = tuple([v.dtype for v in values if isinstance(v, Value)])
    return tuple([_constant(v, dtypes) if isinstance(v, _NUMBERS) else v for v in values])


def _constant(number, dtypes: tuple[np.dtype, ...]) -> Value:
    """A number as a constant of the dtype numpy gives a Python number next to arrays of
    `dtypes`, so `x32 * 2.0` stays float32: a number never changes a Value's dtype. Numbers
    alone become float64, as Value(number) does."""
    number = number.item() if isinstance(number, np.number) else number
    dtype = _number_dtype(dtypes, type(number))
    if dtype.kind not in "biuf":
        raise TypeError(f"Value: number {number!r} gives dtype {dtype}; expected a real number")
    return Value._make(np.asarray(number, dtype=dtype))


@functools.lru_cache(maxsize=256)
def _number_dtype(dtypes: tuple[np.dtype, ...], number_type: type) -> np.dtype:
    """numpy's result dtype for a Python number of `number_type` next to arrays of `dtypes`."""
    return np.result_type(*dtypes, number_type(0)) if dtypes else np.dtype(np.float64)
