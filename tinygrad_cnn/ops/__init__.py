"""The ops: each is a `Function` (forward and backward side by side) and a lowercase function
that users call."""

from tinygrad_cnn.ops.elementwise import (add, div, exp, log, mul, neg, pow, relu, sigmoid, sub,
                                          tanh)
from tinygrad_cnn.ops.linalg import linear, matmul
from tinygrad_cnn.ops.reduce import max, mean, sum
from tinygrad_cnn.ops.shape import flatten, reshape, transpose

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "relu", "tanh", "sigmoid",
           "sum", "mean", "max", "reshape", "flatten", "transpose", "matmul", "linear"]
