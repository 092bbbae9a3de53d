"""The layers: Linear, Conv2d, MaxPool2d, Flatten, ReLU. Each holds its parameters and
settings; its forward calls the op of the same name in tinygrad_cnn.ops."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.init import fan_in_uniform
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.value import Value


class Linear(Module):
    """y = x @ weight.T + bias: x (..., in_features) -> (..., out_features).

    weight (out_features, in_features) and bias (out_features,) are float32, drawn from
    U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's default) using `rng`, else the
    default generator that `tc.manual_seed` sets.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: np.random.Generator | None = None):
        _check_positive_int("Linear", "in_features", in_features)
        _check_positive_int("Linear", "out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Value(fan_in_uniform((out_features, in_features), in_features, rng))
        self.bias = Value(fan_in_uniform((out_features,), in_features, rng)) if bias else None

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Conv2d(Module):
    """2-D convolution: x (N, C_in, H, W) -> (N, C_out, OH, OW), OH = (H + 2*padding - KH) //
    stride + 1 (likewise OW).

    weight (C_out, C_in, KH, KW) and bias (C_out,) are float32, drawn from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*KH*KW (PyTorch's default) using
    `rng`, else the default generator that `tc.manual_seed` sets. kernel_size, stride and
    padding are ints or (h, w) pairs.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True, rng: np.random.Generator | None = None):
        _check_positive_int("Conv2d", "in_channels", in_channels)
        _check_positive_int("Conv2d", "out_channels", out_channels)
        kh, kw = _as_pair("Conv2d", "kernel_size", kernel_size)
        _as_pair("Conv2d", "stride", stride)
        _as_pair("Conv2d", "padding", padding, allow_zero=True)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        fan_in = in_channels * kh * kw
        self.weight = Value(fan_in_uniform((out_channels, in_channels, kh, kw), fan_in, rng))
        self.bias = Value(fan_in_uniform((out_channels,), fan_in, rng)) if bias else None

    def forward(self, x):
        return ops.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in (0, (0, 0), [0, 0]):
            text += f", padding={self.padding}"
        if self.bias is None:
            text += ", bias=False"
        return text


class MaxPool2d(Module):
    """Max over each (KH, KW) window: (N, C, H, W) -> (N, C, OH, OW), OH = (H - KH) // stride
    + 1; kernel_size and stride are ints or (h, w) pairs; stride defaults to kernel_size."""

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None):
        _as_pair("MaxPool2d", "kernel_size", kernel_size)
        if stride is not None:
            _as_pair("MaxPool2d", "stride", stride)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        return ops.max_pool2d(x, kernel_size=self.kernel_size, stride=self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class Flatten(Module):
    """Merge the dimensions from start_dim on: (N, C, H, W) -> (N, C*H*W) for start_dim=1."""

    def __init__(self, start_dim: int = 1):
        if isinstance(start_dim, bool) or not isinstance(start_dim, int):
            raise TypeError(f"Flatten: start_dim is {type(start_dim).__name__} {start_dim!r}; "
                            f"expected an int")
        self.start_dim = start_dim

    def forward(self, x):
        return ops.flatten(x, self.start_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class ReLU(Module):
    """max(x, 0) elementwise, any shape."""

    def forward(self, x):
        return ops.relu(x)


def _check_positive_int(layer: str, name: str, value, allow_zero: bool = False) -> None:
    """Raise unless value is an int > 0 (>= 0 with allow_zero)."""
    smallest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: {name} is {type(value).__name__} {value!r}; expected an "
                        f"integer >= {smallest}")
    if value < smallest:
        raise ValueError(f"{layer}: {name} is {value}; expected an integer >= {smallest}")


def _as_pair(layer: str, name: str, value, allow_zero: bool = False) -> tuple[int, int]:
    """An int k as (k, k); a pair of ints as it is; checked to be > 0 (>= 0 with allow_zero)."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{layer}: {name} is {value!r}; expected an int or a pair of ints "
                         f"(h, w)")
    for item in pair:
        _check_positive_int(layer, name, item, allow_zero)
    return pair
