"""Dropout: in training, each element is zeroed with probability p and the kept ones are scaled
by 1 / (1 - p), so the expected output equals the input; in evaluation, the identity."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.random import default_generator
from tinygrad_cnn.value import Value


class Dropout(Function):
    """out = x * keep / (1 - p), for a bool mask `keep` (True: the element is kept), any shape.

    The mask is drawn by `dropout` and passed in, so forward is a plain function of its inputs
    (the same mask gives the same output); it is a bool constant, kept on self for backward.
    """

    def forward(self, x, keep, p):
        self.keep, self.scale = keep, 1.0 / (1.0 - p)
        return x * keep * self.scale

    # out = x * keep * scale is linear in x: d out/dx = keep * scale, the same mask scaled
    def backward(self, grad):
        return grad * self.keep * self.scale


def _check_dropout(p, training) -> None:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout: p is {type(p).__name__} {p!r}; expected a probability, a "
                        f"number in [0, 1), e.g. p=0.5")
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p is {p}; expected a probability in [0, 1) (the chance "
                         f"that an element is zeroed; p=1 would zero everything); pass e.g. "
                         f"p=0.5")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"dropout: training is {type(training).__name__} {training!r}; "
                        f"expected True or False, e.g. training=self.training in a module")


def dropout(x, p: float = 0.5, training: bool = True) -> Value:
    """Zero each element of x with probability p and scale the rest by 1/(1-p) (training);
    x itself when training is False or p is 0. Any shape -> the same shape.

    The mask is drawn from the default generator (`tc.manual_seed` makes it repeatable): an
    element is kept where a uniform float32 draw in [0, 1) is >= p. As in PyTorch's dropout,
    the scaling keeps every element's expected value: E[out] = (1 - p) * x / (1 - p) = x.
    """
    _check_dropout(p, training)
    if not training or p == 0:
        return x if isinstance(x, Value) else Value(x, requires_grad=False)
    shape = np.shape(x.data if isinstance(x, Value) else x)
    # float32 draws: a third of float64's time, and 2^24 levels are plenty for a probability
    keep = default_generator().random(shape, dtype=np.float32) >= p   # True with prob. 1 - p
    return Dropout.apply(x, keep=keep, p=float(p))
