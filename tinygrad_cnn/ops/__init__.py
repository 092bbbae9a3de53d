"""The ops: each is a `Function` (forward and backward side by side) and a lowercase function
that users call."""

from tinygrad_cnn.ops.batchnorm import batch_norm
from tinygrad_cnn.ops.conv import conv2d
from tinygrad_cnn.ops.dropout import dropout
from tinygrad_cnn.ops.elementwise import add, div, exp, log, mul, neg, pow, relu, sigmoid, sub, tanh
from tinygrad_cnn.ops.linalg import linear, matmul
from tinygrad_cnn.ops.loss import cross_entropy, log_softmax, softmax
from tinygrad_cnn.ops.pool import max_pool2d
from tinygrad_cnn.ops.reduce import max, mean, sum
from tinygrad_cnn.ops.shape import flatten, reshape, transpose

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "relu", "tanh", "sigmoid",
           "sum", "mean", "max", "reshape", "flatten", "transpose", "matmul", "linear",
           "conv2d", "max_pool2d", "softmax", "log_softmax", "cross_entropy",
           "dropout", "batch_norm"]
