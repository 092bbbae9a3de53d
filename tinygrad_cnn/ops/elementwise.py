"""Elementwise ops with numpy broadcasting: add, sub, mul, div, pow, neg, exp, log, relu, tanh,
sigmoid. A broadcast input's gradient is summed back to the input's shape (`unbroadcast`)."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_cnn.function import Function


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing numpy broadcasting.

    Broadcasting copies an input along new leading axes and along axes of size 1; each copy
    receives its own gradient, so the input's gradient is their sum over those axes.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)                  # axes that broadcasting prepended
    stretched = tuple(lead + i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=tuple(range(lead)) + stretched).reshape(shape)   # keep the 1s


def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    """Raise a ValueError naming both shapes unless a and b broadcast together."""
    if a.shape == b.shape:
        return
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: cannot broadcast shapes {a.shape} and {b.shape}; expected each trailing "
            f"dimension to be equal or 1; reshape one operand") from None


class Add(Function):
    """a + b, broadcast."""

    def forward(self, a, b):
        _check_broadcast("add", a, b)
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    # d(a+b)/da = d(a+b)/db = 1
    def backward(self, grad):
        da = unbroadcast(grad, self.a_shape) if self.needs_input_grad[0] else None
        db = unbroadcast(grad, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Sub(Function):
    """a - b, broadcast."""

    def forward(self, a, b):
        _check_broadcast("sub", a, b)
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    # d(a-b)/da = 1, d(a-b)/db = -1
    def backward(self, grad):
        da = unbroadcast(grad, self.a_shape) if self.needs_input_grad[0] else None
        db = -unbroadcast(grad, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Mul(Function):
    """a * b, broadcast."""

    def forward(self, a, b):
        _check_broadcast("mul", a, b)
        self.a, self.b = a, b
        return a * b

    # d(ab)/da = b, d(ab)/db = a
    def backward(self, grad):
        da = unbroadcast(grad * self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(grad * self.a, self.b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """a / b, broadcast."""

    def forward(self, a, b):
        _check_broadcast("div", a, b)
        self.a, self.b = a, b
        return a / b

    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
    def backward(self, grad):
        da = unbroadcast(grad / self.b, self.a.shape) if self.needs_input_grad[0] else None
        db = (unbroadcast(-grad * self.a / (self.b * self.b), self.b.shape)
              if self.needs_input_grad[1] else None)
        return da, db


class Pow(Function):
    """x ** exponent, for a Python number exponent."""

    def forward(self, x, exponent):
        self.x, self.exponent = x, exponent
        return x ** exponent

    # d(x^p)/dx = p x^(p-1)
    def backward(self, grad):
        return grad * self.exponent * self.x ** (self.exponent - 1)


class Neg(Function):
    """-x."""

    def forward(self, x):
        return -x

    # d(-x)/dx = -1
    def backward(self, grad):
        return -grad


class Exp(Function):
    """e^x."""

    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    # d(e^x)/dx = e^x, the output itself
    def backward(self, grad):
        return grad * self.out


class Log(Function):
    """Natural logarithm ln(x)."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    # d(ln x)/dx = 1/x
    def backward(self, grad):
        return grad / self.x


class ReLU(Function):
    """max(x, 0)."""

    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)

    # d relu(x)/dx = 1 where x > 0, else 0 (0 at the kink x = 0, as PyTorch)
    def backward(self, grad):
        return grad * self.positive


class Tanh(Function):
    """tanh(x)."""

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    # d tanh(x)/dx = 1 - tanh(x)^2
    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Sigmoid(Function):
    """1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 so it never overflows."""

    def forward(self, x):
        self.out = 0.5 * (np.tanh(0.5 * x) + 1)
        return self.out

    # d s(x)/dx = s(x) (1 - s(x))
    def backward(self, grad):
        return grad * self.out * (1 - self.out)


def add(a, b):
    """a + b with broadcasting."""
    return Add.apply(a, b)


def sub(a, b):
    """a - b with broadcasting."""
    return Sub.apply(a, b)


def mul(a, b):
    """a * b with broadcasting."""
    return Mul.apply(a, b)


def div(a, b):
    """a / b with broadcasting."""
    return Div.apply(a, b)


def pow(x, exponent):
    """x ** exponent; the exponent must be a number (a constant), e.g. x ** 2 or x ** -0.5."""
    if isinstance(exponent, (bool, np.bool_)) or not isinstance(exponent, numbers.Real):
        raise TypeError(
            f"pow: exponent must be a real number, got {type(exponent).__name__}; expected "
            f"e.g. x ** 2; for a learned exponent p write (p * x.log()).exp()")
    if isinstance(exponent, np.generic):
        exponent = exponent.item()    # a Python number never changes x's dtype
    return Pow.apply(x, exponent=exponent)


def neg(x):
    """-x."""
    return Neg.apply(x)


def exp(x):
    """e^x elementwise."""
    return Exp.apply(x)


def log(x):
    """ln(x) elementwise."""
    return Log.apply(x)


def relu(x):
    """max(x, 0) elementwise."""
    return ReLU.apply(x)


def tanh(x):
    """tanh(x) elementwise."""
    return Tanh.apply(x)


def sigmoid(x):
    """1 / (1 + e^-x) elementwise."""
    return Sigmoid.apply(x)
