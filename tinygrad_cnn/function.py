"""`Function`, the base class of every op, and the grad mode (`no_grad`) that decides whether
applying one records a node of the graph."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from tinygrad_cnn.value import Value

_grad_enabled = True
_module_scope: list[str] = []


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Build no graph inside the block (or the decorated function): results never require grad."""

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc_info) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


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
    whether input i requires a gradient, so backward can skip work nobody will use.
    Users call `MyOp.apply(*inputs, **params)`: inputs may be Values, numpy arrays, Python
    numbers or None; keyword params are passed to forward unchanged.
    """

    needs_input_grad: tuple[bool, ...] = ()
    params: dict = {}

    def forward(self, *arrays, **params) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, *arrays)")

    def backward(self, grad: np.ndarray):
        raise NotImplementedError(f"{type(self).__name__} must define backward(self, grad)")

    @classmethod
    def apply(cls, *inputs, **params) -> Value:
        """Run forward on the inputs' data; record the node when some input requires grad."""
        values = tuple(None if x is None else _as_value(x) for x in inputs)
        fn = cls()
        fn.needs_input_grad = tuple(v is not None and v.requires_grad for v in values)
        fn.params = params
        data = fn.forward(*(None if v is None else v.data for v in values), **params)
        if not isinstance(data, np.ndarray):
            data = np.asarray(data)
        out = Value(data, requires_grad=False)
        out.module = current_module()
        if _grad_enabled and any(fn.needs_input_grad):
            out.requires_grad = True
            out.fn = fn
            out.parents = tuple(v for v in values if v is not None)
            fn.inputs = values
        return out

    def release(self) -> None:
        """Drop what forward saved, so a finished backward frees its memory."""
        kept = {"needs_input_grad": self.needs_input_grad, "params": self.params,
                "inputs": self.inputs}
        self.__dict__.clear()
        self.__dict__.update(kept, released=True)

    released = False

    @property
    def name(self) -> str:
        """The op's name as drawn and profiled, e.g. 'Conv2d'."""
        return type(self).__name__


def _as_value(x) -> Value:
    """Values pass through; arrays and numbers become constants (no gradient is computed)."""
    if isinstance(x, Value):
        return x
    return Value(x, requires_grad=False)
