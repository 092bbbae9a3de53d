"""tinygrad_cnn: a small, readable autograd framework with a CNN that trains on MNIST."""

from tinygrad_cnn.value import Value  # noqa: I001  (Value first: the ops import it)
from tinygrad_cnn.function import Function, grad, no_grad
from tinygrad_cnn.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_cnn.random import manual_seed
from tinygrad_cnn import ops
from tinygrad_cnn import nn, optim
from tinygrad_cnn import onnx
from tinygrad_cnn.serialization import load, save
from tinygrad_cnn.viz import draw_graph
from tinygrad_cnn.profiler import profile

__all__ = ["Value", "Function", "grad", "no_grad", "gradcheck", "gradgradcheck", "GradcheckError",
           "manual_seed", "ops", "nn", "optim", "save", "load", "draw_graph", "profile",
           "onnx"]
