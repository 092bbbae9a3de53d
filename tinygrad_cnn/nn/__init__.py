"""Neural-network building blocks: `Module`, `Sequential`, the layers and their initialisers."""

from tinygrad_cnn.nn import init
from tinygrad_cnn.nn.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU
from tinygrad_cnn.nn.module import IncompatibleKeys, Module, Sequential

__all__ = ["Module", "Sequential", "Linear", "Conv2d", "MaxPool2d", "Flatten", "ReLU", "init",
           "IncompatibleKeys"]
