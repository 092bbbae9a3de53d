"""The layers: Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d, MaxPool1d/2d/3d, MaxUnpool1d/2d/3d,
AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d, Flatten, the activations, Softmax
and LogSoftmax, Dropout, Dropout1d/2d/3d, BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, Identity,
LayerNorm, RMSNorm, GroupNorm, LocalResponseNorm, Embedding, the padding layers (1-D to 3-D),
CosineSimilarity and PairwiseDistance. Each holds its parameters, buffers and settings; its
forward calls the op of the same name in tinygrad_cnn.ops, or (LayerNorm) a few existing ops."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.init import fan_in_uniform
from tinygrad_cnn.nn.module import Buffer, Module
from tinygrad_cnn.ops.batchnorm import as_normalized_shape, check_lrn_settings, check_rms_eps
from tinygrad_cnn.ops.conv import groups_dividing, same_padding, transposed_size
from tinygrad_cnn.ops.distance import check_p
from tinygrad_cnn.ops.elementwise import real_number
from tinygrad_cnn.ops.indexing import (
    embedding_flags,
    embedding_ids,
    embedding_padding_idx,
    embedding_renorm,
)
from tinygrad_cnn.ops.layout import (
    as_given,
    as_sizes,
    check_padding_mode,
    check_sizes,
    layout,
    output_size_entries,
    ranks_expected,
)
from tinygrad_cnn.ops.loss import check_eps
from tinygrad_cnn.ops.pool import check_divisor_override, check_flag, check_output_size
from tinygrad_cnn.ops.resample import check_settings
from tinygrad_cnn.random import generator
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
        rng = generator(rng, "Linear")
        self.weight = Value(fan_in_uniform((out_features, in_features), in_features, rng))
        self.bias = Value(fan_in_uniform((out_features,), in_features, rng)) if bias else None

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


# What a convolution layer's border holds, as PyTorch's padding_mode: zeros (the op's own
# padding), or copies of the input's elements (ops.pad's modes of the same names)
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _Conv(Module):
    """What Conv1d and Conv2d share: their settings, checked as the layer is built, PyTorch's
    initial range, a forward through the op `_op` (after ops.pad in a padding_mode but zeros);
    they differ in the spatial axes (`spatial`: 1 for (L,), 2 for (H, W)) of the input, the
    kernel and the settings. Each subclass sets both (no defaults, so a subclass that forgets
    one fails with an AttributeError naming it)."""

    spatial: int
    _op: Callable[..., Value]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] | str = 0,
                 bias: bool = True, rng: np.random.Generator | None = None, groups: int = 1,
                 dilation: int | tuple[int, ...] = 1, padding_mode: str = "zeros"):
        layer, spatial = type(self).__name__, self.spatial
        _check_channel_groups(layer, in_channels, out_channels, groups)
        if not isinstance(bias, (bool, np.bool_)):
            # PyTorch's order is (..., padding, dilation, groups, bias): a dilation given there
            # by position would land on bias and silently mean bias=True
            raise TypeError(f"{layer}: bias is {type(bias).__name__} {bias!r}; expected True or "
                            f"False; pass dilation and groups (the settings after bias) by "
                            f"keyword, e.g. nn.{layer}(4, 6, 3, dilation=2)")
        kernel = check_sizes(layer, "kernel_size", kernel_size, 1, spatial)
        check_sizes(layer, "stride", stride, 1, spatial)
        dilations = check_sizes(layer, "dilation", dilation, 1, spatial)
        if isinstance(padding, str):
            check_padding_mode(layer, padding, stride, kernel, dilations)
        else:
            check_sizes(layer, "padding", padding, 0, spatial, ("same", "valid"))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.groups, self.dilation = int(groups), dilation
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode is {padding_mode!r}; expected one of "
                             f"{', '.join(map(repr, PADDING_MODES))}, as PyTorch")
        self.padding_mode = padding_mode
        rng = generator(rng, layer)
        # the inputs one output reads, as PyTorch's fan_in: C_in/groups*K, C_in/groups*KH*KW
        fan_in = in_channels // groups * int(np.prod(kernel))
        self.weight = Value(fan_in_uniform((out_channels, in_channels // groups, *kernel),
                                           fan_in, rng))
        self.bias = Value(fan_in_uniform((out_channels,), fan_in, rng)) if bias else None

    def forward(self, x):
        padding = self.padding
        if self.padding_mode != "zeros":
            # as PyTorch's _conv_forward: x padded in that mode, then convolved with no padding
            x, padding = self._padded(x), 0
        return self._op(x, self.weight, self.bias, stride=self.stride, padding=padding,
                       dilation=self.dilation, groups=self.groups)

    def _padded(self, x):
        """x padded along its spatial axes in padding_mode, by the amounts the op's zeros would
        take: padding at both ends, or for "same" dilation*(K - 1) in all, half of them (rounded
        down) before; x itself when that is none, or when x has not 1 or 2 axes before the
        spatial ones (the op's error then names the shapes it takes)."""
        layer, spatial = type(self).__name__, self.spatial
        shape = x.shape if isinstance(x, Value) else np.shape(x)
        if self.padding == "same":
            pairs = same_padding(self.weight.shape[2:], as_sizes(self.dilation, spatial))
        else:
            amounts = as_sizes(0 if self.padding == "valid" else self.padding, spatial)
            pairs = tuple((p, p) for p in amounts)
        if len(shape) not in (spatial + 1, spatial + 2) or not any(map(any, pairs)):
            return x
        try:
            return ops.pad(x, ((0, 0),) * (len(shape) - spatial) + pairs, mode=self.padding_mode)
        except ValueError as error:
            raise ValueError(f"{layer}: padding={self.padding!r} with padding_mode="
                             f"{self.padding_mode!r} does not fit the input of shape {shape} "
                             f"({error}); expected an input larger along the padded axes; pass "
                             f"a smaller padding, or padding_mode='replicate' or 'zeros', which "
                             f"fit any non-empty input") from None

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding not in (0, (0,) * self.spatial, [0] * self.spatial):
            text += f", padding={self.padding!r}"
        if self.dilation not in (1, (1,) * self.spatial, [1] * self.spatial):   # as PyTorch's
            text += f", dilation={self.dilation}"
        if self.groups != 1:                            # as PyTorch's, only when not 1
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":                # as PyTorch's, last, only when not zeros
            text += f", padding_mode={self.padding_mode!r}"
        return text


class Conv1d(_Conv):
    """1-D convolution: x (N, C_in, L) -> (N, C_out, OL), or one unbatched signal (C_in, L) ->
    (C_out, OL), OL = (L + 2*padding - dilation*(K - 1) - 1) // stride + 1; padding="same"
    keeps OL = L.

    weight (C_out, C_in / groups, K), PyTorch's Conv1d layout (its state dicts load as they
    are), and bias (C_out,) are float32, drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_in/groups*K (PyTorch's default) using `rng`, else the default generator that
    `tc.manual_seed` sets. kernel_size, stride, padding and dilation are ints (or tuples of one
    int); padding may also be "valid" (0) or "same" (stride 1 only): dilation*(K - 1) zeros in
    all, half of them (rounded down) before and the rest after, as PyTorch. groups and dilation
    are ops.conv1d's, and come after bias and rng here, as in Conv2d: pass them by keyword.
    padding_mode is what the border holds, as PyTorch's: "zeros", or "reflect", "replicate" or
    "circular", where the layer first pads x with ops.pad in that mode by those amounts and then
    convolves with no padding (reflect takes each side's padding < L, circular <= L).
    """

    spatial = 1
    _op = staticmethod(ops.conv1d)


class Conv2d(_Conv):
    """2-D convolution: x (N, C_in, H, W) -> (N, C_out, OH, OW), or one unbatched image
    (C_in, H, W) -> (C_out, OH, OW), OH = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1
    (likewise OW); padding="same" keeps OH = H and OW = W.

    weight (C_out, C_in / groups, KH, KW) and bias (C_out,) are float32, drawn from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in/groups*KH*KW (PyTorch's default)
    using `rng`, else the default generator that `tc.manual_seed` sets. kernel_size, stride,
    padding and dilation are ints or (h, w) pairs; padding may also be "valid" (0) or "same"
    (stride 1 only, as PyTorch): dilation*(K - 1) zeros per axis, half of them (rounded down)
    before and the rest after, so an odd total gets one more row at the bottom and one more
    column on the right. dilation D spaces the kernel's taps D apart, as ops.conv2d. groups
    (dividing C_in and C_out) connects each 1/groups of the output channels to one 1/groups
    of the input channels, as ops.conv2d; groups=C_in is a depthwise convolution. groups and
    dilation come after bias and rng here (PyTorch puts them before bias): pass them by keyword.
    padding_mode is what the border holds, as PyTorch's: "zeros" (the op's own padding), or
    "reflect", "replicate" or "circular", where the layer first pads x with ops.pad in that mode
    by those amounts ("same" too) and then convolves with no padding; reflect needs each padding
    below its axis's size, circular at most that size. Pass it by keyword.
    """

    spatial = 2
    _op = staticmethod(ops.conv2d)


class Conv3d(_Conv):
    """3-D convolution: x (N, C_in, D, H, W) -> (N, C_out, OD, OH, OW), or one unbatched volume
    (C_in, D, H, W) -> (C_out, OD, OH, OW), OD = (D + 2*padding - dilation*(KD - 1) - 1) //
    stride + 1 (likewise OH, OW); padding="same" keeps the size.

    weight (C_out, C_in / groups, KD, KH, KW) and bias (C_out,) are float32, drawn from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in/groups*KD*KH*KW (PyTorch's default)
    using `rng`, else the default generator that `tc.manual_seed` sets. kernel_size, stride,
    padding and dilation are ints or (d, h, w) triples; padding, groups, dilation and
    padding_mode are as in Conv2d (groups and dilation by keyword), through ops.conv3d. Its repr
    is PyTorch's, each setting as a triple.
    """

    spatial = 3
    _op = staticmethod(ops.conv3d)

    def extra_repr(self) -> str:
        kernel, stride, dilation = (as_sizes(v, 3) for v in (self.kernel_size, self.stride,
                                                              self.dilation))
        padding = self.padding if isinstance(self.padding, str) else as_sizes(self.padding, 3)
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={kernel}, stride={stride}"
        if padding != (0, 0, 0):
            text += f", padding={padding}"
        if dilation != (1, 1, 1):
            text += f", dilation={dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _ConvTranspose(Module):
    """What ConvTranspose1d, 2d and 3d share: their settings, checked as the layer is built and
    kept as tuples (as PyTorch's attributes and repr), PyTorch's initial range, a forward through
    the op `_op` with output_padding or the one that gives forward's output_size; they differ in
    the spatial axes (`spatial`: 1 for (L,), 2 for (H, W), 3 for (D, H, W)) of the input, the
    kernel and the settings. Each subclass sets both (no defaults, so a subclass that forgets
    one fails with an AttributeError naming it)."""

    spatial: int
    _op: Callable[..., Value]

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                 output_padding: int | tuple[int, ...] = 0, bias: bool = True,
                 rng: np.random.Generator | None = None, groups: int = 1,
                 dilation: int | tuple[int, ...] = 1):
        layer, spatial = type(self).__name__, self.spatial
        _check_channel_groups(layer, in_channels, out_channels, groups)
        if not isinstance(bias, (bool, np.bool_)):
            # PyTorch's order is (..., output_padding, groups, bias): a groups given there by
            # position would land on bias and silently mean bias=True
            raise TypeError(f"{layer}: bias is {type(bias).__name__} {bias!r}; expected True or "
                            f"False; pass groups (and the settings after bias) by keyword, e.g. "
                            f"nn.{layer}(4, 6, 3, groups=2)")
        self.kernel_size = check_sizes(layer, "kernel_size", kernel_size, 1, spatial)
        self.stride = check_sizes(layer, "stride", stride, 1, spatial)
        self.padding = check_sizes(layer, "padding", padding, 0, spatial)
        self.output_padding = check_sizes(layer, "output_padding", output_padding, 0, spatial)
        self.dilation = check_sizes(layer, "dilation", dilation, 1, spatial)
        # output_padding with each entry past PyTorch's rule lowered to max(its stride, its
        # dilation) - 1: output_padding itself when it keeps the rule
        fits = tuple(min(e, max(s, d) - 1) for e, s, d in zip(self.output_padding, self.stride,
                                                              self.dilation, strict=True))
        if fits != self.output_padding:
            raise ValueError(f"{layer}: output_padding={output_padding!r} is not smaller than "
                             f"stride={stride!r} or dilation={dilation!r}; expected each "
                             f"output_padding < max(its stride, its dilation), as PyTorch (it "
                             f"picks among the sizes a strided conv{spatial}d maps to one); pass "
                             f"e.g. output_padding={fits[0] if len(set(fits)) == 1 else fits}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.groups = int(groups)
        rng = generator(rng, layer)
        # the weight's axes 1 on, as PyTorch's fan_in: C_out/groups*K, *KH*KW or *KD*KH*KW
        fan_in = out_channels // groups * int(np.prod(self.kernel_size))
        self.weight = Value(fan_in_uniform((in_channels, out_channels // groups,
                                            *self.kernel_size), fan_in, rng))
        self.bias = Value(fan_in_uniform((out_channels,), fan_in, rng)) if bias else None

    def forward(self, x, output_size: tuple[int, ...] | None = None):
        extra = self.output_padding if output_size is None else self._output_padding(x,
                                                                                     output_size)
        return self._op(x, self.weight, self.bias, stride=self.stride, padding=self.padding,
                        output_padding=extra, groups=self.groups, dilation=self.dilation)

    def _output_padding(self, x, output_size) -> tuple[int, ...]:
        """The output_padding that gives output_size, as PyTorch's: each size minus the smallest,
        (L - 1)*stride - 2*padding + dilation*(K - 1) + 1 (likewise for each spatial axis), which
        it may pass by up to stride - 1; output_size's leading sizes (the batch, the channels)
        are dropped unread."""
        shape, spatial = np.shape(x.data if isinstance(x, Value) else x), self.spatial
        if len(shape) not in (spatial + 1, spatial + 2):
            return self.output_padding           # the op's error names the shapes it takes
        # the size without output_padding, for one input as for a batch
        smallest = transposed_size((1,) * (spatial + 2 - len(shape)) + shape, self.weight.shape,
                                   self.stride, self.padding, (0,) * spatial, self.dilation)
        largest = tuple(low + s - 1 for low, s in zip(smallest, self.stride, strict=True))
        leading = ("N", "C_out") if len(shape) == spatial + 2 else ("C_out",)
        entries = output_size_entries(
            type(self).__name__, output_size, smallest, largest, leading, smallest,
            f"the input of shape {shape} gives at stride {as_given(self.stride)} from "
            f"{as_given(smallest)} (no output_padding) to stride - 1 more")
        return tuple(e - low for e, low in zip(entries, smallest, strict=True))

    def extra_repr(self) -> str:
        # PyTorch's: the tuples always, padding, dilation, output_padding and groups only when
        # not default
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self.spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.spatial:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self.spatial:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution: x (N, C_in, H, W) -> (N, C_out, OH, OW), or one unbatched image
    (C_in, H, W) -> (C_out, OH, OW), OH = (H - 1)*stride - 2*padding + KH + output_padding
    (likewise OW); it maps a conv2d's output size back to its input size (e.g. doubles H and W
    with kernel_size=4, stride=2, padding=1).

    weight (C_in, C_out / groups, KH, KW) -- the layout of the Conv2d(C_out, C_in) it
    transposes -- and bias (C_out,) are float32, drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = C_out/groups*KH*KW, PyTorch's default, whose fan_in is computed from the
    weight's axes 1, 2, 3 whatever their meaning; `rng`, else the default generator that
    `tc.manual_seed` sets. kernel_size, stride, padding, output_padding and dilation are ints
    or (h, w) pairs, kept as pairs (as PyTorch's attributes and repr); output_padding, each
    below its stride or its dilation (PyTorch's rule), adds rows and columns at the bottom and
    right, to pick among the input sizes that a strided conv2d maps to the same output size.
    groups (dividing C_in and C_out) connects each 1/groups of the input channels to one
    1/groups of the output channels, as ops.conv_transpose2d. dilation D spaces the kernel's
    taps D apart: OH = (H - 1)*stride - 2*padding + dilation*(KH - 1) + 1 + output_padding.
    groups and dilation come after bias and rng here: pass them by keyword.

    forward(x, output_size=None), as PyTorch's: output_size (OH, OW) -- or with the leading
    sizes too, (N, C_out, OH, OW) for a batch and (C_out, OH, OW) for an unbatched image, which
    are not read -- picks the output's size in place of the layer's output_padding, each of OH
    and OW in [the size without output_padding, that size + stride - 1].
    """

    spatial = 2
    _op = staticmethod(ops.conv_transpose2d)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution: x (N, C_in, L) -> (N, C_out, OL), or one unbatched signal
    (C_in, L) -> (C_out, OL), OL = (L - 1)*stride - 2*padding + dilation*(K - 1) + 1 +
    output_padding: conv1d's input gradient, mapping a Conv1d's output length back to its input
    length (ops.conv_transpose1d).

    weight (C_in, C_out / groups, K) -- the layout of PyTorch's ConvTranspose1d, whose state
    dicts load as they are -- and bias (C_out,) are float32, drawn from U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = C_out/groups*K (PyTorch's default, from the weight's axes 1
    and 2) using `rng`, else the default generator that `tc.manual_seed` sets. kernel_size,
    stride, padding, output_padding and dilation are ints or tuples of one int, kept as tuples
    of one (as PyTorch's attributes and repr); output_padding < max(stride, dilation). groups
    and dilation come after bias and rng here, as in ConvTranspose2d: pass them by keyword.

    forward(x, output_size=None), as PyTorch's: output_size (OL,) -- or (N, C_out, OL) for a
    batch and (C_out, OL) for one signal, whose leading sizes are not read -- picks the output's
    length in place of output_padding, within [the length without it, that + stride - 1].
    """

    spatial = 1
    _op = staticmethod(ops.conv_transpose1d)


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution: x (N, C_in, D, H, W) -> (N, C_out, OD, OH, OW), or one
    unbatched volume (C_in, D, H, W) -> (C_out, OD, OH, OW), OD = (D - 1)*stride - 2*padding +
    dilation*(KD - 1) + 1 + output_padding (likewise OH, OW): conv3d's input gradient, mapping a
    Conv3d's output size back to its input size (ops.conv_transpose3d).

    weight (C_in, C_out / groups, KD, KH, KW) -- the layout of PyTorch's ConvTranspose3d, whose
    state dicts load as they are -- and bias (C_out,) are float32, drawn from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_out/groups*KD*KH*KW (PyTorch's default,
    from the weight's axes 1 to 4) using `rng`, else the default generator that `tc.manual_seed`
    sets. kernel_size, stride, padding, output_padding and dilation are ints or (d, h, w)
    triples, kept as triples (as PyTorch's attributes and repr); output_padding < max(stride,
    dilation) on each axis. groups and dilation come after bias and rng here, as in
    ConvTranspose2d: pass them by keyword.

    forward(x, output_size=None), as PyTorch's: output_size (OD, OH, OW) -- or with the leading
    sizes too, (N, C_out, OD, OH, OW) or (C_out, OD, OH, OW), which are not read -- picks the
    output's size in place of output_padding, each within [the size without output_padding,
    that size + stride - 1].
    """

    spatial = 3
    _op = staticmethod(ops.conv_transpose3d)


class _Pool(Module):
    """What the max and average pools share: kernel_size, stride (kernel_size when None),
    padding and ceil_mode (by keyword here: each subclass takes its settings in PyTorch's
    positional order, which differs between the max and the average pools), checked as the
    layer is built (ints, or tuples of one int per spatial axis: `spatial`), and a forward
    through the op `_op`. Each subclass sets both (no defaults, so a subclass that forgets one
    fails with an AttributeError naming it)."""

    spatial: int
    _op: Callable[..., Value]
    shows_zero_padding = False        # the average pools' reprs show padding=0, as PyTorch's

    def __init__(self, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0, *, ceil_mode: bool = False):
        layer, spatial = type(self).__name__, self.spatial
        check_sizes(layer, "kernel_size", kernel_size, 1, spatial)
        if stride is not None:
            check_sizes(layer, "stride", stride, 1, spatial)
        check_sizes(layer, "padding", padding, 0, spatial)
        check_flag(layer, "ceil_mode", ceil_mode)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        return self._op(x, kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                        **self._flags())

    def _flags(self) -> dict:
        """The op's settings past padding, as keyword arguments."""
        return {"ceil_mode": self.ceil_mode}

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if self.shows_zero_padding or self.padding not in (0, (0,) * self.spatial,
                                                           [0] * self.spatial):
            text += f", padding={self.padding!r}"
        # the flags only where they are not PyTorch's defaults, so a default pool reads as before
        defaults = {"dilation": as_sizes(1, self.spatial), "ceil_mode": False,
                    "count_include_pad": True, "return_indices": False, "divisor_override": None}
        return text + "".join(
            f", {name}={value!r}" for name, value in self._flags().items()
            if (as_sizes(value, self.spatial) if name == "dilation" else value) != defaults[name])


class _AvgPool(_Pool):
    """What the average pools add: ceil_mode and count_include_pad, in PyTorch's positional
    order (kernel_size, stride, padding, ceil_mode, count_include_pad), and padding=0 in the
    repr, as PyTorch's."""

    shows_zero_padding = True

    def __init__(self, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)
        check_flag(type(self).__name__, "count_include_pad", count_include_pad)
        self.count_include_pad = bool(count_include_pad)

    def _flags(self) -> dict:
        return super()._flags() | {"count_include_pad": self.count_include_pad}


class _MaxPool(_Pool):
    """What the max pools add: dilation and return_indices, in PyTorch's positional order for
    the layers (kernel_size, stride, padding, dilation, return_indices, ceil_mode; the ops take
    ceil_mode before return_indices, as PyTorch's). With return_indices=True, forward returns
    (out, indices), what MaxUnpool1d/2d take."""

    def __init__(self, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        super().__init__(kernel_size, stride, padding, ceil_mode=ceil_mode)
        check_sizes(type(self).__name__, "dilation", dilation, 1, self.spatial)
        check_flag(type(self).__name__, "return_indices", return_indices)
        self.dilation = dilation
        self.return_indices = bool(return_indices)

    def _flags(self) -> dict:
        return {"dilation": self.dilation, "ceil_mode": self.ceil_mode,
                "return_indices": self.return_indices}


class MaxPool1d(_MaxPool):
    """Max over each window of K elements of x padded by `padding`: (N, C, L) -> (N, C, OL), or
    (C, L) -> (C, OL), OL = (L + 2*padding - dilation*(K - 1) - 1) // stride + 1 (rounded up
    with ceil_mode=True); kernel_size, stride, padding and dilation are ints (or tuples of one
    int); stride defaults to kernel_size; the padding is -inf and never wins, as PyTorch's;
    return_indices=True makes forward return (out, indices)."""

    spatial = 1
    _op = staticmethod(ops.max_pool1d)


class MaxPool2d(_MaxPool):
    """Max over each (KH, KW) window of x padded by `padding`: (N, C, H, W) -> (N, C, OH, OW),
    or (C, H, W) -> (C, OH, OW), OH = (H + 2*padding - DH*(KH - 1) - 1) // stride + 1 (rounded
    up with ceil_mode=True); kernel_size, stride, padding and dilation are ints or (h, w) pairs;
    stride defaults to kernel_size; the padding is -inf and never wins, as PyTorch's;
    return_indices=True makes forward return (out, indices)."""

    spatial = 2
    _op = staticmethod(ops.max_pool2d)


class MaxPool3d(_MaxPool):
    """Max over each (KD, KH, KW) window of x padded by `padding`: (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or (C, D, H, W) -> (C, OD, OH, OW), OD = (D + 2*padding - DD*(KD - 1) -
    1) // stride + 1 (rounded up with ceil_mode=True); kernel_size, stride, padding and dilation
    are ints or (d, h, w) triples; stride defaults to kernel_size; the padding is -inf and never
    wins, as PyTorch's; return_indices=True makes forward return (out, indices), each index a
    place d*H*W + h*W + w in its volume. Its repr is PyTorch's: every setting but
    return_indices."""

    spatial = 3
    _op = staticmethod(ops.max_pool3d)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class _MaxUnpool(Module):
    """What MaxUnpool1d/2d/3d share: kernel_size, stride (kernel_size when None) and padding, those
    of the max pool they invert, checked as the layer is built, and forward(x, indices,
    output_size=None) through the op `_op`, as PyTorch's. Each subclass sets `spatial` and
    `_op`."""

    spatial: int
    _op: Callable[..., Value]

    def __init__(self, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0):
        layer, spatial = type(self).__name__, self.spatial
        check_sizes(layer, "kernel_size", kernel_size, 1, spatial)
        if stride is not None:
            check_sizes(layer, "stride", stride, 1, spatial)
        check_sizes(layer, "padding", padding, 0, spatial)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x, indices, output_size: tuple[int, ...] | None = None):
        return self._op(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding!r}"


class MaxUnpool1d(_MaxUnpool):
    """MaxPool1d's partial inverse: forward(x, indices, output_size=None) puts each element of
    x (N, C, L) at its index in zeros of (N, C, OL), OL = (L - 1)*stride - 2*padding +
    kernel_size unless output_size says otherwise (ops.max_unpool1d)."""

    spatial = 1
    _op = staticmethod(ops.max_unpool1d)


class MaxUnpool2d(_MaxUnpool):
    """MaxPool2d's partial inverse: forward(x, indices, output_size=None) puts each element of
    x (N, C, H, W) at its index h*OW + w in zeros of (N, C, OH, OW), OH = (H - 1)*stride -
    2*padding + KH unless output_size says otherwise (ops.max_unpool2d)."""

    spatial = 2
    _op = staticmethod(ops.max_unpool2d)


class MaxUnpool3d(_MaxUnpool):
    """MaxPool3d's partial inverse: forward(x, indices, output_size=None) puts each element of
    x (N, C, D, H, W) at its index d*OH*OW + h*OW + w in zeros of (N, C, OD, OH, OW),
    OD = (D - 1)*stride - 2*padding + KD (likewise OH, OW) unless output_size says otherwise
    (ops.max_unpool3d). Its repr is PyTorch's, each setting as a triple."""

    spatial = 3
    _op = staticmethod(ops.max_unpool3d)

    def extra_repr(self) -> str:
        kernel, stride, padding = (as_sizes(v, 3) for v in (self.kernel_size, self.stride,
                                                             self.padding))
        return f"kernel_size={kernel}, stride={stride}, padding={padding}"


class AvgPool1d(_AvgPool):
    """Mean over each window of K elements of x zero-padded by `padding`: (N, C, L) ->
    (N, C, OL), or (C, L) -> (C, OL), OL = (L + 2*padding - K) // stride + 1 (rounded up with
    ceil_mode=True); stride defaults to kernel_size; the padded zeros count in the means, as
    PyTorch's default (count_include_pad=True), or not (count_include_pad=False)."""

    spatial = 1
    _op = staticmethod(ops.avg_pool1d)


class AvgPool2d(_AvgPool):
    """Mean over each (KH, KW) window of x zero-padded by `padding`: (N, C, H, W) -> (N, C,
    OH, OW), or (C, H, W) -> (C, OH, OW), OH = (H + 2*padding - KH) // stride + 1 (rounded up
    with ceil_mode=True); stride defaults to kernel_size; the padded zeros count in the means,
    as PyTorch's default (count_include_pad=True), or not (count_include_pad=False); with
    divisor_override (a nonzero int) every window's sum is divided by it instead."""

    spatial = 2
    _op = staticmethod(ops.avg_pool2d)

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        check_divisor_override("AvgPool2d", divisor_override)
        self.divisor_override = divisor_override

    def _flags(self) -> dict:
        return super()._flags() | {"divisor_override": self.divisor_override}


class AvgPool3d(_AvgPool):
    """Mean over each (KD, KH, KW) window of x zero-padded by `padding`: (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or (C, D, H, W) -> (C, OD, OH, OW), OD = (D + 2*padding - KD) // stride
    + 1 (rounded up with ceil_mode=True); kernel_size, stride and padding are ints or (d, h, w)
    triples; count_include_pad and divisor_override as AvgPool2d's. Its repr is PyTorch's:
    kernel_size, stride and padding."""

    spatial = 3
    _op = staticmethod(ops.avg_pool3d)

    def __init__(self, kernel_size: int | tuple[int, int, int],
                 stride: int | tuple[int, int, int] | None = None,
                 padding: int | tuple[int, int, int] = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        check_divisor_override("AvgPool3d", divisor_override)
        self.divisor_override = divisor_override

    def _flags(self) -> dict:
        return super()._flags() | {"divisor_override": self.divisor_override}

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool3d(Module):
    """Mean over each of OD x OH x OW bins of the volume, whatever its size: (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or (C, D, H, W) -> (C, OD, OH, OW), as PyTorch's; output_size is an int
    or a triple (OD, OH, OW) in which None keeps the input's size (ops.adaptive_avg_pool3d)."""

    def __init__(self, output_size: int | None | tuple[int | None, ...]):
        check_output_size("AdaptiveAvgPool3d", output_size, 3)
        self.output_size = output_size

    def forward(self, x):
        return ops.adaptive_avg_pool3d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(Module):
    """Mean over each of OH x OW bins of the image, whatever its size: (N, C, H, W) -> (N, C,
    OH, OW), or (C, H, W) -> (C, OH, OW), as PyTorch's.

    output_size is an int or a pair (OH, OW) in which None keeps the input's size. Bin i along
    H covers rows [floor(i*H/OH), ceil((i+1)*H/OH)), likewise along W, so bins may differ in
    size and overlap; AdaptiveAvgPool2d(1) is global average pooling. Unlike PyTorch, an
    output_size of 0 is an error.
    """

    def __init__(self, output_size: int | None | tuple[int | None, int | None]):
        check_output_size("AdaptiveAvgPool2d", output_size)
        self.output_size = output_size

    def forward(self, x):
        return ops.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(Module):
    """Mean over each of OL bins of the signal, whatever its length: (N, C, L) -> (N, C, OL), or
    (C, L) -> (C, OL), as PyTorch's; output_size is OL, an int (or a tuple of one). Bin i covers
    [floor(i*L/OL), ceil((i+1)*L/OL)) (ops.adaptive_avg_pool1d)."""

    def __init__(self, output_size: int | tuple[int]):
        check_sizes("AdaptiveAvgPool1d", "output_size", output_size, 1, 1)
        self.output_size = output_size

    def forward(self, x):
        return ops.adaptive_avg_pool1d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max over each of OH x OW bins of the image, whatever its size: (N, C, H, W) -> (N, C,
    OH, OW), or (C, H, W) -> (C, OH, OW), as PyTorch's.

    output_size is an int or a pair (OH, OW) in which None keeps the input's size; the bins are
    AdaptiveAvgPool2d's. The gradient goes to each bin's first maximum (row-major), as
    PyTorch's; return_indices=True makes forward return (out, indices), each maximum's place
    h*W + w in its plane (what MaxUnpool2d takes) (ops.adaptive_max_pool2d).
    """

    def __init__(self, output_size: int | None | tuple[int | None, int | None],
                 return_indices: bool = False):
        check_output_size("AdaptiveMaxPool2d", output_size)
        check_flag("AdaptiveMaxPool2d", "return_indices", return_indices)
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def forward(self, x):
        return ops.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:                 # PyTorch's: return_indices is not shown
        return f"output_size={self.output_size}"


class AdaptiveMaxPool3d(Module):
    """Max over each of OD x OH x OW bins of the volume, whatever its size: (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or (C, D, H, W) -> (C, OD, OH, OW), as PyTorch's; output_size is an int
    or a triple (OD, OH, OW) in which None keeps the input's size; the bins are
    AdaptiveAvgPool3d's. The gradient goes to each bin's first maximum (row-major), as
    PyTorch's; return_indices=True makes forward return (out, indices), each maximum's place
    d*H*W + h*W + w in its volume (what MaxUnpool3d takes) (ops.adaptive_max_pool3d)."""

    def __init__(self, output_size: int | None | tuple[int | None, ...],
                 return_indices: bool = False):
        check_output_size("AdaptiveMaxPool3d", output_size, 3)
        check_flag("AdaptiveMaxPool3d", "return_indices", return_indices)
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def forward(self, x):
        return ops.adaptive_max_pool3d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:                 # PyTorch's: return_indices is not shown
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """Max over each of OL bins of the signal, whatever its length: (N, C, L) -> (N, C, OL), or
    (C, L) -> (C, OL), as PyTorch's; output_size is OL, an int (or a tuple of one);
    return_indices=True makes forward return (out, indices), each maximum's position in L
    (ops.adaptive_max_pool1d)."""

    def __init__(self, output_size: int | tuple[int], return_indices: bool = False):
        check_sizes("AdaptiveMaxPool1d", "output_size", output_size, 1, 1)
        check_flag("AdaptiveMaxPool1d", "return_indices", return_indices)
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def forward(self, x):
        return ops.adaptive_max_pool1d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:                 # PyTorch's: return_indices is not shown
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize signals (N, C, L), images (N, C, H, W) or volumes (N, C, D, H, W) to `size` or by
    `scale_factor`, in any of interpolate's modes ("nearest", "nearest-exact", "linear",
    "bilinear", "bicubic", "trilinear", "area"): ops.interpolate with these settings, as
    PyTorch's Upsample (e.g. Upsample(scale_factor=2) doubles each spatial size, repeating
    each element)."""

    def __init__(self, size: int | tuple[int, ...] | None = None,
                 scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None):
        check_settings("Upsample", size, scale_factor, mode, align_corners)
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = (None if scale_factor is None else   # floats, as PyTorch keeps them
                             tuple(map(float, scale_factor))
                             if isinstance(scale_factor, (tuple, list)) else float(scale_factor))

    def forward(self, x):
        return ops.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:           # PyTorch's: align_corners is not shown
        given = (f"size={self.size}" if self.size is not None
                 else f"scale_factor={self.scale_factor}")
        return f"{given}, mode={self.mode!r}"


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


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x, elementwise, any shape."""

    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = real_number("LeakyReLU", "negative_slope", negative_slope, "0.01")

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class PReLU(Module):
    """x where x > 0, else weight * x, elementwise, with a learned slope: x (N, C, ...) (or any
    shape, with one slope) -> the same shape.

    weight (num_parameters,), float32, starts at `init` everywhere (PyTorch's default 0.25):
    num_parameters=1 is one slope shared by every element, num_parameters=C one slope per
    channel (axis 1). forward is ops.prelu(x, weight), whose weight gradient is the sum of
    grad * x over each channel's positions where x < 0.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        _check_positive_int("PReLU", "num_parameters", num_parameters)
        self.num_parameters = int(num_parameters)
        self.weight = Value(np.full(self.num_parameters, real_number("PReLU", "init", init, "0.25"),
                                    dtype=np.float32))

    def forward(self, x):
        return ops.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x where x > 0, else alpha (e^x - 1), elementwise, any shape."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = real_number("ELU", "alpha", alpha, "1.0")

    def forward(self, x):
        return ops.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Hardtanh(Module):
    """x limited to [min_val, max_val], elementwise, any shape; the gradient is 1 strictly
    between the bounds and 0 elsewhere, at the bounds too (PyTorch's rule)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0):
        self.min_val = real_number("Hardtanh", "min_val", min_val, "-1.0")
        self.max_val = real_number("Hardtanh", "max_val", max_val, "1.0")
        if not self.max_val > self.min_val:
            raise ValueError(f"Hardtanh: max_val={max_val!r} is not greater than min_val="
                             f"{min_val!r}; expected min_val < max_val, as PyTorch's Hardtanh")

    def forward(self, x):
        return ops.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6) elementwise, any shape: Hardtanh(0.0, 6.0), as PyTorch's, so the
    gradient is 0 at x = 0 and at x = 6."""

    def __init__(self):
        super().__init__(0.0, 6.0)

    def extra_repr(self) -> str:
        return ""


class Softplus(Module):
    """log(1 + e^(beta x)) / beta elementwise, any shape, and x itself where beta x > threshold,
    as PyTorch's Softplus (threshold 20 by default; ops.softplus's default is no threshold)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta = real_number("Softplus", "beta", beta, "1.0")
        self.threshold = real_number("Softplus", "threshold", threshold, "20.0")
        if self.beta == 0:
            raise ValueError("Softplus: beta is 0, which log(1 + e^(beta x)) / beta divides by; "
                             "expected a non-zero number such as 1.0")

    def forward(self, x):
        return ops.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Tanh(Module):
    """tanh(x) elementwise, any shape."""

    def forward(self, x):
        return ops.tanh(x)


class Sigmoid(Module):
    """1 / (1 + e^-x) elementwise, any shape."""

    def forward(self, x):
        return ops.sigmoid(x)


class GELU(Module):
    """x Phi(x) = x/2 (1 + erf(x / sqrt 2)) elementwise, Phi the standard normal CDF, any shape;
    approximate="tanh": PyTorch's x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    def __init__(self, approximate: str = "none"):
        if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate={approximate!r:.60} is not one of its two "
                             f"forms; expected 'none' (x Phi(x), with erf) or 'tanh' (PyTorch's "
                             f"tanh approximation); pass e.g. GELU(approximate='tanh')")
        self.approximate = approximate

    def forward(self, x):
        return ops.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x) elementwise (also called swish), any shape."""

    def forward(self, x):
        return ops.silu(x)


class Softmax(Module):
    """s_i = exp(x_i) / sum_j exp(x_j) along `dim`: any shape -> the same shape; Softmax(dim=1)
    turns scores (N, C) into probabilities, each row summing to 1.

    dim is required: PyTorch's Softmax() without dim picks an axis from the input's number of
    axes (0 for 0-, 1- and 3-D inputs, else 1) with a deprecation warning; here dim=None is a
    TypeError saying which dim to pass.
    """

    def __init__(self, dim: int | None = None):
        self.dim = _checked_dim("Softmax", dim)

    def forward(self, x):
        return ops.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = x_i - log sum_j exp(x_j) along `dim`, stable for scores of any size: any shape ->
    the same shape; LogSoftmax(dim=1) turns scores (N, C) into the log-probabilities that
    NLLLoss takes.

    dim is required: PyTorch's LogSoftmax() without dim picks an axis from the input's number
    of axes (0 for 0-, 1- and 3-D inputs, else 1) with a deprecation warning; here dim=None is
    a TypeError saying which dim to pass.
    """

    def __init__(self, dim: int | None = None):
        self.dim = _checked_dim("LogSoftmax", dim)

    def forward(self, x):
        return ops.log_softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _checked_dim(layer: str, dim) -> int:
    """The axis of a softmax layer, an int; None (PyTorch's deprecated implicit choice) or
    another type is an error saying which dim to pass."""
    if dim is None:
        raise TypeError(f"{layer}: dim is None; expected the axis to normalise over (PyTorch's "
                        f"implicit choice for dim=None is deprecated, and not followed here); "
                        f"pass dim=1 for scores (N, C), e.g. nn.{layer}(dim=1), or dim=-1 for "
                        f"the last axis")
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{layer}: dim is {type(dim).__name__} {dim!r}; expected an int, the "
                        f"axis to normalise over, e.g. nn.{layer}(dim=1) for scores (N, C)")
    return int(dim)


class SELU(Module):
    """scale * (x where x > 0, else alpha (e^x - 1)) elementwise, any shape, with PyTorch's fixed
    alpha = 1.6733 and scale = 1.0507 (self-normalising)."""

    def forward(self, x):
        return ops.selu(x)


class CELU(Module):
    """x where x > 0, else alpha (e^(x / alpha) - 1), elementwise, any shape."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = real_number("CELU", "alpha", alpha, "1.0")
        if self.alpha == 0:
            raise ValueError("CELU: alpha is 0, which alpha (e^(x / alpha) - 1) divides by; "
                             "expected a non-zero number such as 1.0")

    def forward(self, x):
        return ops.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Mish(Module):
    """x tanh(softplus(x)) elementwise, any shape."""

    def forward(self, x):
        return ops.mish(x)


class Hardswish(Module):
    """x relu6(x + 3) / 6 elementwise, any shape."""

    def forward(self, x):
        return ops.hardswish(x)


class Hardsigmoid(Module):
    """relu6(x + 3) / 6 elementwise, any shape."""

    def forward(self, x):
        return ops.hardsigmoid(x)


class Softsign(Module):
    """x / (1 + |x|) elementwise, any shape."""

    def forward(self, x):
        return ops.softsign(x)


class Tanhshrink(Module):
    """x - tanh(x) elementwise, any shape."""

    def forward(self, x):
        return ops.tanhshrink(x)


class Softshrink(Module):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0, elementwise, any shape;
    lambd >= 0 (checked here, where PyTorch checks at the first call)."""

    def __init__(self, lambd: float = 0.5):
        self.lambd = real_number("Softshrink", "lambd", lambd, "0.5")
        if not self.lambd >= 0:
            raise ValueError(f"Softshrink: lambd is {lambd!r}; expected a number >= 0, the "
                             f"half-width of the interval [-lambd, lambd] set to 0")

    def forward(self, x):
        return ops.softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Module):
    """x where |x| > lambd, else 0, elementwise, any shape."""

    def __init__(self, lambd: float = 0.5):
        self.lambd = real_number("Hardshrink", "lambd", lambd, "0.5")

    def forward(self, x):
        return ops.hardshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Threshold(Module):
    """x where x > threshold, else value, elementwise, any shape."""

    def __init__(self, threshold: float, value: float):
        self.threshold = real_number("Threshold", "threshold", threshold, "0.0")
        self.value = real_number("Threshold", "value", value, "0.0")

    def forward(self, x):
        return ops.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


class GLU(Module):
    """a * sigmoid(b), a and b the halves of x along `dim`: (..., 2H, ...) -> (..., H, ...)."""

    def __init__(self, dim: int = -1):
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"GLU: dim is {type(dim).__name__} {dim!r:.40}; expected an int, the "
                            f"axis to split in halves, e.g. nn.GLU(dim=-1)")
        self.dim = int(dim)

    def forward(self, x):
        return ops.glu(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    """y_i = exp(-x_i) / sum_j exp(-x_j) along `dim`: any shape -> the same shape; the smallest
    x gets the largest weight.

    dim is required, as for Softmax: PyTorch's Softmin() without dim picks an axis from the
    input's number of axes with a deprecation warning; here dim=None is a TypeError.
    """

    def __init__(self, dim: int | None = None):
        self.dim = _checked_dim("Softmin", dim)

    def forward(self, x):
        return ops.softmin(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSigmoid(Module):
    """log(1 / (1 + e^-x)) elementwise, any shape, finite for any x."""

    def forward(self, x):
        return ops.log_sigmoid(x)


class Identity(Module):
    """y = x: a placeholder where a model's structure wants a layer that does nothing (e.g. an
    optional normalisation switched off)."""

    def forward(self, x):
        return x


class Dropout(Module):
    """In training mode, zero each element with probability p and scale the others by
    1 / (1 - p) (p=1 zeroes all, as PyTorch's); in evaluation mode (`eval()`), the identity. Any
    shape.

    The mask is drawn from the default generator that `tc.manual_seed` sets.
    """

    def __init__(self, p: float = 0.5):
        _check_probability("Dropout", "p", p, "(the chance that an element is zeroed), e.g. "
                                              "Dropout(0.5)", allow_one=True)
        self.p = float(p)

    def forward(self, x):
        return ops.dropout(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class _ChannelDropout(Module):
    """What Dropout1d, Dropout2d and Dropout3d share: p, PyTorch's inplace (False only: Values
    are never changed in place here), and a forward through the op `_op` with the module's
    training flag. Each subclass sets `_op`."""

    _op: Callable[..., Value]

    def __init__(self, p: float = 0.5, inplace: bool = False):
        layer = type(self).__name__
        _check_probability(layer, "p", p, f"(the chance that a channel is zeroed), e.g. "
                                          f"{layer}(0.5)", allow_one=True)
        if not isinstance(inplace, (bool, np.bool_)):
            raise TypeError(f"{layer}: inplace is {type(inplace).__name__} {inplace!r:.40}; "
                            f"expected False")
        if inplace:
            raise ValueError(f"{layer}: inplace=True is not supported; expected inplace=False "
                             f"(the default): a Value is never changed in place here; assign "
                             f"the result instead, x = dropout(x)")
        self.p, self.inplace = float(p), False

    def forward(self, x):
        return self._op(x, self.p, training=self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_ChannelDropout):
    """In training mode, zero each channel of each signal with probability p and scale the
    others by 1 / (1 - p); in evaluation mode (`eval()`), the identity: (N, C, L) or one signal
    (C, L) -> the same shape, as PyTorch's (ops.dropout1d). The mask, one draw per channel, comes
    from the default generator that `tc.manual_seed` sets."""

    _op = staticmethod(ops.dropout1d)


class Dropout2d(_ChannelDropout):
    """In training mode, zero each channel of each image with probability p and scale the
    others by 1 / (1 - p); in evaluation mode, the identity: (N, C, H, W) -> the same shape, as
    PyTorch's (ops.dropout2d). As PyTorch's, a 3-D input is read as (N, C, L) (not one image),
    with a warning; the mask comes from the default generator that `tc.manual_seed` sets."""

    _op = staticmethod(ops.dropout2d)


class Dropout3d(_ChannelDropout):
    """In training mode, zero each channel of each volume with probability p and scale the
    others by 1 / (1 - p); in evaluation mode, the identity: (N, C, D, H, W) or one volume
    (C, D, H, W) -> the same shape, as PyTorch's (ops.dropout3d). As PyTorch's, another rank is
    read as one unbatched example (C, ...), with a warning; the mask comes from the default
    generator that `tc.manual_seed` sets."""

    _op = staticmethod(ops.dropout3d)


class _BatchNorm(Module):
    """What BatchNorm1d, BatchNorm2d and BatchNorm3d share; they differ in the input shapes they
    accept. PyTorch's settings, names and rules:

    affine: weight (ones) and bias (zeros), float32 (C,), are parameters (bias only if `bias`,
    keyword-only). track_running_stats: the buffers running_mean, running_var and
    num_batches_tracked are in state_dict(); training mode updates them and evaluation mode
    normalises with them. Without it they are None (not in state_dict()) and both modes
    normalise with the batch's own statistics; as in PyTorch, so does evaluation mode once both
    running statistics are set to None. momentum: the weight of each batch in the running
    statistics, r = (1 - momentum) r + momentum s; None makes them the plain average of every
    batch so far (a cumulative moving average).
    """

    input_shapes = ""                 # set by the subclasses, for the error message
    input_ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, bias: bool = True):
        layer = type(self).__name__
        _check_norm_settings(layer, num_features, eps, momentum, affine=affine,
                             track_running_stats=track_running_stats, bias=bias)
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Value(np.ones(num_features, dtype=np.float32)) if affine else None
        self.bias = Value(np.zeros(num_features, dtype=np.float32)) if affine and bias else None
        if track_running_stats:
            self.running_mean = Buffer(np.zeros(num_features, dtype=np.float32))
            self.running_var = Buffer(np.ones(num_features, dtype=np.float32))
            self.num_batches_tracked = Buffer(np.array(0, dtype=np.int64))
        else:                         # as PyTorch's: no such buffers, none in state_dict()
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        shape = np.shape(x.data if isinstance(x, Value) else x)
        layer = type(self).__name__
        if len(shape) not in self.input_ndims:
            raise ValueError(f"{layer}: input has shape {shape}; expected {self.input_shapes} "
                             f"with C = {self.num_features}")
        if shape[1] != self.num_features:
            raise ValueError(f"{layer}: input has {shape[1]} channels (shape {shape}) but the "
                             f"layer has num_features={self.num_features}; expected "
                             f"{self.input_shapes} with C = {self.num_features}; make "
                             f"num_features equal to the channels of the layer before")
        tracking = self.training and self.track_running_stats   # the running statistics move
        if self.training and not tracking:
            mean = var = None                      # not tracked: not passed, so left as they are
        else:
            mean, var = (_buffer_data(layer, name, getattr(self, name))
                         for name in ("running_mean", "running_var"))
        if (mean is None) != (var is None):
            given, missing = (("running_var", "running_mean") if mean is None
                              else ("running_mean", "running_var"))
            raise ValueError(f"{layer}: {missing} is None but {given} is not; expected both "
                             f"running statistics or neither (then the layer normalises with "
                             f"the batch's own, in evaluation too); set {given} to None as "
                             f"well, or give {missing} a Buffer of {self.num_features} values")
        counter = self.num_batches_tracked if tracking else None
        momentum = 0.0 if self.momentum is None else self.momentum
        if counter is not None and self.momentum is None:
            # the cumulative average: at the k-th batch r_k = r_{k-1} + (s_k - r_{k-1}) / k =
            # (s_1 + ... + s_k) / k, the exponential rule with momentum 1/k
            momentum = 1.0 / (int(counter.data) + 1)
        # the batch's statistics in training, and in evaluation when there are no running ones
        out = ops.batch_norm(x, mean, var, self.weight, self.bias,
                             training=self.training or mean is None, momentum=momentum,
                             eps=self.eps)
        if counter is not None:
            counter.data += 1                    # after the op: a refused batch is not counted
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Normalise each feature over the batch: x (N, C) or (N, C, L) -> the same shape,
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    Training mode uses the batch's mean and biased variance per feature and updates the
    buffers running_mean and running_var (r = (1 - momentum) r + momentum s, with the
    unbiased variance, as PyTorch); evaluation mode normalises with them. weight (ones) and
    bias (zeros), float32 (C,), are parameters when affine. The buffers are in state_dict()
    under PyTorch's names, with num_batches_tracked (the number of training batches seen).
    With track_running_stats=False there are no buffers and evaluation mode uses the batch's
    statistics too; momentum=None averages every batch equally (the settings: _BatchNorm).
    """

    input_shapes = "(N, C) or (N, C, L)"
    input_ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Normalise each channel over the batch and the image: x (N, C, H, W) -> the same shape,
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    Training mode uses the mean and biased variance of each channel over (N, H, W) and
    updates the buffers running_mean and running_var (r = (1 - momentum) r + momentum s, with
    the unbiased variance, as PyTorch); evaluation mode normalises with them. weight (ones)
    and bias (zeros), float32 (C,), are parameters when affine. The buffers are in
    state_dict() under PyTorch's names, with num_batches_tracked. With
    track_running_stats=False there are no buffers and evaluation mode uses the batch's
    statistics too; momentum=None averages every batch equally (the settings: _BatchNorm).
    """

    input_shapes = "(N, C, H, W)"
    input_ndims = (4,)


class BatchNorm3d(_BatchNorm):
    """Normalise each channel over the batch and the volume: x (N, C, D, H, W) -> the same
    shape, y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and biased variance
    of each channel over (N, D, H, W) in training mode; otherwise as BatchNorm2d (ops.batch_norm,
    running statistics with the unbiased variance, PyTorch's buffers and settings).
    """

    input_shapes = "(N, C, D, H, W)"
    input_ndims = (5,)


def _check_channel_groups(layer: str, in_channels, out_channels, groups) -> None:
    """Channel counts and groups as positive ints, groups dividing both channel counts."""
    _check_positive_int(layer, "in_channels", in_channels)
    _check_positive_int(layer, "out_channels", out_channels)
    _check_positive_int(layer, "groups", groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{layer}: groups={groups} does not divide both in_channels="
                         f"{in_channels} and out_channels={out_channels}; expected both "
                         f"divisible by groups; pick groups from their common divisors: "
                         f"{', '.join(map(str, groups_dividing(in_channels, out_channels)))}")


def _check_norm_settings(layer: str, num_features, eps, momentum, **flags) -> None:
    """The settings that batch and instance norms share, PyTorch's: num_features an int >= 1,
    eps > 0, momentum in [0, 1] or None, and each of `flags` True or False."""
    _check_positive_int(layer, "num_features", num_features)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"{layer}: eps is {eps!r}; expected a small positive number such "
                         f"as 1e-5")
    if momentum is not None and (isinstance(momentum, bool)
                                 or not isinstance(momentum, numbers.Real)
                                 or not 0 <= momentum <= 1):
        raise ValueError(f"{layer}: momentum is {momentum!r}; expected a number in [0, 1] "
                         f"such as 0.1 (the weight of each batch in the running statistics), "
                         f"or None")
    for name, flag in flags.items():
        check_flag(layer, name, flag)


def _buffer_data(layer: str, name: str, buffer) -> np.ndarray | None:
    """The array a running statistic holds, or None when the layer has none."""
    if buffer is None:
        return None
    if isinstance(buffer, Buffer):
        return buffer.data
    raise TypeError(f"{layer}: {name} is {type(buffer).__name__}; expected an nn.Buffer (saved "
                    f"in state_dict()) or None (no running statistic); assign "
                    f"nn.Buffer(array) to it")


def _check_probability(layer: str, name: str, p, meaning: str, allow_one: bool = False) -> None:
    """Raise unless p is a real number in [0, 1), or [0, 1] with allow_one; `meaning` follows
    the expectation."""
    interval = "[0, 1]" if allow_one else "[0, 1)"
    if (isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real) or not 0 <= p <= 1
            or (p == 1 and not allow_one)):
        raise ValueError(f"{layer}: {name} is {p!r}; expected a probability in {interval} "
                         f"{meaning}")


def _check_positive_int(layer: str, name: str, value, allow_zero: bool = False) -> None:
    """Raise unless value is an int > 0 (>= 0 with allow_zero)."""
    smallest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer}: {name} is {type(value).__name__} {value!r}; expected an "
                        f"integer >= {smallest}")
    if value < smallest:
        raise ValueError(f"{layer}: {name} is {value}; expected an integer >= {smallest}")


class LayerNorm(Module):
    """Normalise each example over its last axes: x (..., *normalized_shape) -> the same shape,
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    The mean and the biased variance (divided by the number of elements, as PyTorch) are taken
    over the last len(normalized_shape) axes, separately for every position of the leading
    axes, so an example is normalised on its own: no batch statistics, no running buffers, and
    training and evaluation modes compute the same. forward composes mean, var, +, -, * and
    ** (no op of its own), so its gradients of every order come from their rules; the LayerNorm
    that docs/custom-layers.md builds by hand is this layer over one axis.

    Parameters
    ----------
    normalized_shape : int or tuple of ints
        The trailing shape to normalise over, e.g. D for x (N, T, D) or (C, H, W) for
        x (N, C, H, W); an int means the last axis only.
    eps : float
        Added to the variance before the square root, so a constant row gives 0, not 0/0.
    elementwise_affine : bool
        With True (the default), weight (ones) and bias (zeros), float32 of shape
        normalized_shape, are parameters (names as PyTorch's, so state dicts load both
        ways); with False there are none and y is the normalised x.
    bias : bool
        With False, no bias: y = x_hat * weight (as PyTorch's switch; no effect without
        elementwise_affine).
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True):
        shape = (normalized_shape if isinstance(normalized_shape, (tuple, list))
                 else (normalized_shape,))
        if not shape:
            raise ValueError(f"LayerNorm: normalized_shape is {normalized_shape!r}, which names "
                             f"no axis; expected an int or a non-empty tuple of ints, e.g. the "
                             f"feature size D for inputs (N, D)")
        for size in shape:
            _check_positive_int("LayerNorm", "normalized_shape", size)
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
            raise ValueError(f"LayerNorm: eps is {eps!r}; expected a small positive number such "
                             f"as 1e-5")
        self.normalized_shape = tuple(int(size) for size in shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        self.weight = (Value(np.ones(self.normalized_shape, dtype=np.float32))
                       if elementwise_affine else None)
        self.bias = (Value(np.zeros(self.normalized_shape, dtype=np.float32))
                     if elementwise_affine and bias else None)

    def forward(self, x):
        shape = np.shape(x.data if isinstance(x, Value) else x)
        k = len(self.normalized_shape)
        if len(shape) < k or shape[len(shape) - k:] != self.normalized_shape:
            trailing = shape[-k:] if len(shape) >= k else shape
            fix = (f"make normalized_shape the input's trailing shape, e.g. LayerNorm("
                   f"{trailing}) for this input" if trailing else "pass an array, not a scalar")
            raise ValueError(
                f"LayerNorm: input has shape {shape}, which does not end with normalized_shape "
                f"{self.normalized_shape}; expected an input of shape "
                f"(..., {', '.join(map(str, self.normalized_shape))}); {fix}")
        axes = tuple(range(-k, 0))
        mean = ops.mean(x, axis=axes, keepdims=True)          # (..., 1, ..., 1): one per example
        var = ops.var(x, axis=axes, keepdims=True)            # biased (ddof=0), as PyTorch
        x_hat = (x - mean) * (var + self.eps) ** -0.5         # broadcast back to x's shape
        if not self.elementwise_affine:
            return x_hat
        scaled = x_hat * self.weight                          # weight, bias broadcast over "..."
        return scaled if self.bias is None else scaled + self.bias

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Divide each example by its root mean square over its last axes: x (...,
    *normalized_shape) -> the same shape, y = x / sqrt(mean(x^2) + eps) * weight.

    As PyTorch's RMSNorm: the mean of the squares is taken over the last len(normalized_shape)
    axes, separately for every position of the leading axes; no mean is subtracted and there
    is no bias. forward is ops.rms_norm (square, mean, +, ** and *), so its gradients of every
    order come from their rules.

    Parameters
    ----------
    normalized_shape : int or tuple of ints
        The trailing shape to normalise over, e.g. D for x (N, T, D); an int means the last
        axis only.
    eps : float or None
        Added to the mean square before the square root. None (the default, as PyTorch's) means
        the machine epsilon of the input's dtype: numpy's finfo(x.dtype).eps (float32's for
        float16); the repr shows eps=None, as PyTorch's.
    elementwise_affine : bool
        With True (the default), weight (ones), float32 of shape normalized_shape, is a
        parameter (PyTorch's name, so state dicts load both ways); with False there is none.
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float | None = None,
                 elementwise_affine: bool = True):
        self.normalized_shape = as_normalized_shape("RMSNorm", normalized_shape)
        check_rms_eps("RMSNorm", eps)
        check_flag("RMSNorm", "elementwise_affine", elementwise_affine)
        self.eps, self.elementwise_affine = eps, bool(elementwise_affine)   # eps as given
        self.weight = (Value(np.ones(self.normalized_shape, dtype=np.float32))
                       if elementwise_affine else None)

    def forward(self, x):
        shape = np.shape(x.data if isinstance(x, Value) else x)
        k = len(self.normalized_shape)
        if len(shape) < k or shape[len(shape) - k:] != self.normalized_shape:
            trailing = shape[-k:] if len(shape) >= k else shape
            raise ValueError(
                f"RMSNorm: input has shape {shape}, which does not end with normalized_shape "
                f"{self.normalized_shape}; expected an input of shape "
                f"(..., {', '.join(map(str, self.normalized_shape))}); make normalized_shape "
                f"the input's trailing shape, e.g. RMSNorm({trailing}) for this input")
        return ops.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Divide each channel by the energy of its neighbouring channels: x (N, C, ...) (3 axes or
    more) -> the same shape, y[n, c] = x[n, c] / (k + alpha / size * sum x[n, c']^2) ** beta,
    the sum over the `size` channels c' from c - size // 2 to c + (size - 1) // 2 (zeros past
    either end), as PyTorch's LocalResponseNorm (AlexNet's). forward is
    ops.local_response_norm; no parameters. The settings are kept as given, for PyTorch's repr.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        check_lrn_settings("LocalResponseNorm", size, alpha, beta, k)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return ops.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class GroupNorm(Module):
    """Normalise each sample's channels in groups: x (N, C, ...) -> the same shape,
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    The C = num_channels channels are split into num_groups groups of C / num_groups adjacent
    channels; the mean and the biased variance are taken over one group (its channels and all
    their positions) of one sample, so a sample is normalised on its own: no batch statistics,
    no running buffers, the same in training and evaluation. num_groups=1 normalises each
    sample as a whole, num_groups=C each channel on its own. forward is ops.group_norm, itself
    reshape, mean, var, -, +, * and **, so its gradients of every order come from their rules.

    Parameters
    ----------
    num_groups : int
        The number of groups; it must divide num_channels.
    num_channels : int
        C, the channels (axis 1) of the input.
    eps : float
        Added to the variance before the square root, so a constant group gives 0, not 0/0.
    affine : bool
        With True (the default), weight (ones) and bias (zeros), float32 (C,), are parameters,
        one entry per channel (names as PyTorch's, so state dicts load both ways); with False
        there are none.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        _check_positive_int("GroupNorm", "num_groups", num_groups)
        _check_positive_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            divisors = ", ".join(map(str, groups_dividing(num_channels)))
            raise ValueError(f"GroupNorm: num_channels={num_channels} is not divisible by "
                             f"num_groups={num_groups}; expected num_groups to divide "
                             f"num_channels; pick num_groups from the divisors of "
                             f"{num_channels}: {divisors}")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps > 0:
            raise ValueError(f"GroupNorm: eps is {eps!r}; expected a small positive number such "
                             f"as 1e-5")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        self.weight = Value(np.ones(self.num_channels, dtype=np.float32)) if affine else None
        self.bias = Value(np.zeros(self.num_channels, dtype=np.float32)) if affine else None

    def forward(self, x):
        shape = np.shape(x.data if isinstance(x, Value) else x)
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: input has shape {shape}; expected (N, "
                             f"{self.num_channels}, ...), with num_channels={self.num_channels} "
                             f"channels on axis 1; make num_channels equal to the channels of "
                             f"the layer before")
        return ops.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        # PyTorch's, whose bias= tells whether there is a bias (here: exactly when affine)
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(Module):
    """What InstanceNorm1d, InstanceNorm2d and InstanceNorm3d share; they differ in `spatial`,
    the axes after the channels (1: (L,), 2: (H, W), 3: (D, H, W)).

    Each channel of each sample (an instance) is normalised over its spatial axes on its own,
    y = (x - mean) / sqrt(var + eps) * weight + bias (ops.instance_norm). PyTorch's settings and
    names: with affine, weight (ones) and bias (zeros), float32 (C,), are parameters (bias only
    if `bias`, keyword-only); with track_running_stats, the buffers running_mean, running_var
    and num_batches_tracked (left at 0, as PyTorch's instance norm leaves it) are in
    state_dict(): training mode updates the running statistics, evaluation mode normalises with
    them; without it, both modes use each instance's own statistics. momentum=None leaves the
    running statistics as they are (PyTorch's instance norm then passes momentum 0; only its
    batch norm reads None as a cumulative average). An input whose channels differ from
    num_features is an error when affine or track_running_stats (the parameters or buffers do
    not fit), else a warning, as PyTorch's (num_features is then unused).
    """

    spatial: int

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, *, bias: bool = True):
        _check_norm_settings(type(self).__name__, num_features, eps, momentum, affine=affine,
                             track_running_stats=track_running_stats, bias=bias)
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Value(np.ones(num_features, dtype=np.float32)) if affine else None
        self.bias = Value(np.zeros(num_features, dtype=np.float32)) if affine and bias else None
        if track_running_stats:
            self.running_mean = Buffer(np.zeros(num_features, dtype=np.float32))
            self.running_var = Buffer(np.ones(num_features, dtype=np.float32))
            self.num_batches_tracked = Buffer(np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x):
        layer, spatial = type(self).__name__, self.spatial
        shape = np.shape(x.data if isinstance(x, Value) else x)
        if len(shape) not in (spatial + 1, spatial + 2):
            raise ValueError(f"{layer}: input has shape {shape}; expected "
                             f"{ranks_expected(spatial)} with C = {self.num_features}")
        channels = shape[-spatial - 1]
        if channels != self.num_features:
            message = (f"{layer}: input has {channels} channels (shape {shape}) but the layer "
                       f"has num_features={self.num_features}")
            if self.affine or self.track_running_stats:
                raise ValueError(f"{message}; expected {ranks_expected(spatial)} with C = "
                                 f"{self.num_features}; make num_features equal to the "
                                 f"channels of the layer before")
            warnings.warn(f"{message}, which is unused without affine or track_running_stats "
                          f"(as PyTorch's warning says); pass num_features={channels} to "
                          f"silence this", UserWarning, stacklevel=2)
        unbatched = len(shape) == spatial + 1
        if unbatched:
            x = ops.reshape(x, (1, *shape))       # one example: a batch of one, as PyTorch's
        stats = (None, None) if self.running_mean is None else (self.running_mean.data,
                                                                self.running_var.data)
        out = ops.instance_norm(x, *stats, self.weight, self.bias,
                                use_input_stats=self.training or not self.track_running_stats,
                                momentum=0.0 if self.momentum is None else self.momentum,
                                eps=self.eps)
        return ops.reshape(out, shape) if unbatched else out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each signal over its length: x (N, C, L), or one signal (C, L),
    -> the same shape, y = (x - mean) / sqrt(var + eps) * weight + bias, as PyTorch's
    InstanceNorm1d (its settings, parameters and buffers: _InstanceNorm)."""

    spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each image over (H, W): x (N, C, H, W), or one image (C, H, W),
    -> the same shape, y = (x - mean) / sqrt(var + eps) * weight + bias, as PyTorch's
    InstanceNorm2d (its settings, parameters and buffers: _InstanceNorm)."""

    spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Normalise each channel of each volume over (D, H, W): x (N, C, D, H, W), or one volume
    (C, D, H, W), -> the same shape, y = (x - mean) / sqrt(var + eps) * weight + bias, as
    PyTorch's InstanceNorm3d (its settings, parameters and buffers: _InstanceNorm)."""

    spatial = 3


class Embedding(Module):
    """A lookup table of learned vectors: integer ids (any shape) -> weight[ids], of shape
    (*ids.shape, embedding_dim).

    weight (num_embeddings, embedding_dim) is float32, drawn from N(0, 1) (PyTorch's default)
    using `rng`, else the default generator that `tc.manual_seed` sets. forward is the op
    ops.embedding(ids, weight, padding_idx), weight[ids], whose backward scatter-adds: an id used
    k times in a batch gets the sum of its k gradients, and rows no id picked get zero. With
    padding_idx, as PyTorch's, that row starts as zeros and never gets a gradient (the output at
    its positions is still weight[padding_idx], whatever it holds). With max_norm, as PyTorch's,
    each forward first shortens in place the picked rows whose norm_type-norm exceeds max_norm
    (ops.embedding). With scale_grad_by_freq, as PyTorch's, each row's gradient is divided by
    the number of times its id occurs in the ids of that call. An integer Value of ids stays the
    op's input, so drawings show it, and a model whose input is ids exports to ONNX (a Gather;
    scale_grad_by_freq changes only the gradient, so it exports the same). PyTorch's sparse
    gradients are left out (sparse=True is an error).

    Parameters
    ----------
    num_embeddings : int
        The number of rows, so ids lie in [0, num_embeddings) (e.g. a vocabulary's size).
    embedding_dim : int
        The length of each row, the vector an id maps to.
    padding_idx : int or None
        The id of a padding token, in [-num_embeddings, num_embeddings); a negative one counts
        from the end and is kept as padding_idx + num_embeddings. Its row is initialised to
        zeros and receives a zero gradient, so no loss moves it; an optimizer's weight_decay
        still shrinks it when it holds non-zero values (e.g. loaded ones), as in PyTorch.
    rng : numpy Generator or None
        Draws the initial weight.
    max_norm : float or None
        Keyword-only (the positional order keeps rng fourth, as before max_norm came): the
        longest a picked row may be, a number >= 0; None (the default) never rescales.
    norm_type : float
        Keyword-only: the p of the p-norm that max_norm bounds, > 0 (inf: the largest absolute
        value); 2.0 by default.
    scale_grad_by_freq : bool
        Keyword-only: divide the gradient of row i by k_i, the number of times i occurs in the
        ids of the forward call (a mini-batch), so frequent ids do not take larger steps than
        rare ones; False by default.
    sparse : bool
        Keyword-only, False only: gradients here are dense arrays.

    Raises
    ------
    TypeError
        For a padding_idx that is not an int or None, a scale_grad_by_freq or sparse that is
        not a bool. In forward, for ids that are not integers
        (a float or bool array, a Value that requires grad): convert them with
        ids.astype(np.int64) (ids.data.astype(np.int64) for a Value).
    ValueError
        For a padding_idx outside [-num_embeddings, num_embeddings), or sparse=True.
    IndexError
        In forward, for an id outside [0, num_embeddings) (as PyTorch; negative ids do not
        count from the end).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 rng: np.random.Generator | None = None, *, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False):
        _check_positive_int("Embedding", "num_embeddings", num_embeddings)
        _check_positive_int("Embedding", "embedding_dim", embedding_dim)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = self._checked_padding_idx(padding_idx)
        if isinstance(rng, numbers.Real):     # PyTorch's fourth argument is max_norm
            raise TypeError(f"Embedding: rng is {type(rng).__name__} {rng!r}; expected a numpy "
                            f"Generator or None; max_norm is keyword-only here: pass "
                            f"max_norm={rng!r}")
        renorm = {} if max_norm is None else embedding_renorm("Embedding", max_norm, norm_type)
        self.max_norm, self.norm_type = renorm.get("max_norm"), renorm.get("norm_type", 2.0)
        self.scale_grad_by_freq = embedding_flags("Embedding", scale_grad_by_freq, sparse)
        self.sparse = False
        rng = generator(rng, "Embedding")
        draws = rng.standard_normal((self.num_embeddings, self.embedding_dim))   # PyTorch's N(0, 1)
        if self.padding_idx is not None:
            draws[self.padding_idx] = 0.0                       # the padding row starts at zero
        self.weight = Value(draws.astype(np.float32))

    def forward(self, ids):
        embedding_ids("Embedding", ids, self.num_embeddings)   # errors that name this layer
        # (*ids.shape, embedding_dim)
        return ops.embedding(ids, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq)

    def _checked_padding_idx(self, padding_idx) -> int | None:
        """padding_idx as an index in [0, num_embeddings), or None; an error saying what to do."""
        if isinstance(padding_idx, np.random.Generator):
            n = self.num_embeddings
            raise TypeError(f"Embedding: padding_idx is a Generator; expected an int in "
                            f"[{-n}, {n}) or None; pass the generator by keyword, "
                            f"e.g. nn.Embedding({n}, {self.embedding_dim}, rng=rng)")
        return embedding_padding_idx("Embedding", padding_idx, self.num_embeddings)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text


class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r) for r = upscale_factor: ops.pixel_shuffle, as
    PyTorch's (sub-pixel convolution's upsampling)."""

    def __init__(self, upscale_factor: int):
        _check_positive_int("PixelShuffle", "upscale_factor", upscale_factor)
        self.upscale_factor = upscale_factor

    def forward(self, x):
        return ops.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W) for r = downscale_factor: ops.pixel_unshuffle, the
    inverse of PixelShuffle, as PyTorch's."""

    def __init__(self, downscale_factor: int):
        _check_positive_int("PixelUnshuffle", "downscale_factor", downscale_factor)
        self.downscale_factor = downscale_factor

    def forward(self, x):
        return ops.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """(N, C, *) with its C = g*k channels read as g groups of k and transposed to k groups of
    g: ops.channel_shuffle, as PyTorch's (ShuffleNet)."""

    def __init__(self, groups: int):
        _check_positive_int("ChannelShuffle", "groups", groups)
        self.groups = groups

    def forward(self, x):
        return ops.channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Unflatten(Module):
    """Axis `dim` of size d1*d2*... split into unflattened_size (d1, d2, ...), one of which may
    be -1: (N, C*H*W) -> (N, C, H, W) for dim=1, unflattened_size=(C, H, W). A reshape, as
    PyTorch's Unflatten; Flatten's inverse."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...] | list[int]):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Unflatten: dim is {type(dim).__name__} {dim!r}; expected an int "
                            f"(named dimensions are not supported)")
        sizes = unflattened_size
        if (not isinstance(sizes, (tuple, list)) or not sizes
                or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                           and (n >= 0 or n == -1) for n in sizes)
                or list(sizes).count(-1) > 1):
            raise TypeError(f"Unflatten: unflattened_size is {sizes!r}; expected a non-empty "
                            f"tuple or list of ints >= 0 (one may be -1), e.g. (2, 3)")
        self.dim, self.unflattened_size = int(dim), unflattened_size

    def forward(self, x):
        shape = x.shape if isinstance(x, Value) else np.shape(x)
        ndim, sizes = len(shape), tuple(int(n) for n in self.unflattened_size)
        if not -ndim <= self.dim < ndim:
            raise ValueError(f"Unflatten: dim={self.dim} is out of range for an input of shape "
                             f"{shape}; expected -{ndim} <= dim < {ndim}")
        axis = self.dim % ndim
        known = int(np.prod([n for n in sizes if n != -1]))
        size = shape[axis]
        if size != known if -1 not in sizes else (known == 0 or size % known):
            raise ValueError(f"Unflatten: unflattened_size {self.unflattened_size} does not "
                             f"multiply to {size}, the size of axis {self.dim} of the input of "
                             f"shape {shape}; expected sizes whose product is {size} (one may be "
                             f"-1)")
        return ops.reshape(x, (*shape[:axis], *sizes, *shape[axis + 1:]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size!r}"


# The amounts of a padding layer's tuple, as PyTorch's, from the last axis back
PAD_SIDES = {1: "(left, right)", 2: "(left, right, top, bottom)",
             3: "(left, right, top, bottom, front, back)"}


class _Pad(Module):
    """What the padding layers share: padding as PyTorch's, an int for every side or a tuple of
    2*spatial ints from the last axis back, (left, right) for 1-D, (left, right, top, bottom)
    for 2-D and (left, right, top, bottom, front, back) for 3-D; forward runs ops.pad in `mode`
    with numpy's pad_width made from it.
    Negative amounts crop, in the constant modes only (as PyTorch's): those sides are cut off
    before the others are padded."""

    spatial: int
    mode: str

    def __init__(self, padding: int | tuple[int, ...]):
        layer, count = type(self).__name__, 2 * self.spatial
        amounts = (padding,) * count if _is_int(padding) else padding
        if (not isinstance(amounts, (tuple, list)) or len(amounts) != count
                or not all(_is_int(n) for n in amounts)):
            raise TypeError(f"{layer}: padding is {padding!r}; expected an int or a tuple of "
                            f"{count} ints {PAD_SIDES[self.spatial]}, as PyTorch's, e.g. "
                            f"{layer}(1)")
        if self.mode != "constant" and min(amounts) < 0:
            raise ValueError(f"{layer}: padding {tuple(amounts)} has a negative amount; "
                             f"expected amounts >= 0: only the constant modes (ZeroPad, "
                             f"ConstantPad) crop, as PyTorch's; crop with x[..., a:b] first")
        self.padding = tuple(int(n) for n in amounts)

    def forward(self, x):
        return self._padded(x, 0.0)

    def _padded(self, x, value):
        layer, spatial = type(self).__name__, self.spatial
        shape = x.shape if isinstance(x, Value) else np.shape(x)
        ranks = (spatial + 1, spatial + 2)
        if len(shape) not in ranks and (self.mode != "constant" or len(shape) < spatial):
            axes = layout(spatial, "N", "C") if spatial > 1 else "(N, C, W)"
            expected = (f"at least {spatial} axes" if self.mode == "constant" else
                        f"{ranks[1]} axes {axes} or {ranks[0]} (one example)")
            raise ValueError(f"{layer}: input of shape {shape}; expected {expected}, as "
                             f"PyTorch's; reshape it, e.g. add the channel axis with x[None]")
        lead = len(shape) - spatial
        # PyTorch's amounts go from the last axis back: (left, right) for axis -1, then
        # (top, bottom) for axis -2; numpy's pad_width goes from the first axis on
        pairs = [tuple(self.padding[2 * k:2 * k + 2]) for k in reversed(range(spatial))]
        crop = []
        for axis, (size, (before, after)) in enumerate(zip(shape[lead:], pairs, strict=True)):
            cut = max(-before, 0) + max(-after, 0)
            if cut > size:
                raise ValueError(f"{layer}: padding {self.padding} crops {cut} elements off "
                                 f"axis {lead + axis} of the input of shape {shape}, which has "
                                 f"{size}; expected negative amounts that leave at least none; "
                                 f"pass smaller crops")
            crop.append(slice(max(-before, 0), size - max(-after, 0)))
        if any(s != slice(0, n) for s, n in zip(crop, shape[lead:], strict=True)):
            x = ops.getitem(x, (Ellipsis, *crop))
        widths = ((0, 0),) * lead + tuple((max(b, 0), max(a, 0)) for b, a in pairs)
        try:
            if self.mode == "constant":
                return ops.pad(x, widths, value=value)
            return ops.pad(x, widths, mode=self.mode)
        except ValueError as error:
            raise ValueError(f"{layer}: padding {self.padding} does not fit the input of shape "
                             f"{shape} ({error}); expected an input larger along the padded "
                             f"axes; pass smaller padding, or use ReplicationPad, which fits "
                             f"any non-empty input") from None

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPad(_Pad):
    """Padding with a constant value: ConstantPad1d/2d/3d and ZeroPad1d/2d/3d."""

    mode = "constant"

    def __init__(self, padding: int | tuple[int, ...], value: float):
        super().__init__(padding)
        real_number(type(self).__name__, "value", value, "0.0")
        self.value = value                  # as given: the repr shows it as PyTorch's does

    def forward(self, x):
        return self._padded(x, float(self.value))

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPad):
    """The last axis padded with `value`: (*, W) -> (*, left + W + right), as PyTorch's;
    padding an int or (left, right); negative amounts crop."""

    spatial = 1


class ConstantPad2d(_ConstantPad):
    """The last two axes padded with `value`: (*, H, W) -> (*, top + H + bottom, left + W +
    right), as PyTorch's; padding an int or (left, right, top, bottom); negative amounts crop."""

    spatial = 2


class ConstantPad3d(_ConstantPad):
    """The last three axes padded with `value`: (*, D, H, W) -> (*, front + D + back, top + H +
    bottom, left + W + right), as PyTorch's; padding an int or (left, right, top, bottom, front,
    back); negative amounts crop."""

    spatial = 3


class ZeroPad1d(ConstantPad1d):
    """ConstantPad1d with zeros: (*, W) -> (*, left + W + right); padding an int or (left,
    right)."""

    def __init__(self, padding: int | tuple[int, int]):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """ConstantPad2d with zeros: (*, H, W) -> (*, top + H + bottom, left + W + right); padding
    an int or (left, right, top, bottom)."""

    def __init__(self, padding: int | tuple[int, int, int, int]):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """ConstantPad3d with zeros: (*, D, H, W) -> (*, front + D + back, top + H + bottom, left +
    W + right); padding an int or (left, right, top, bottom, front, back)."""

    def __init__(self, padding: int | tuple[int, int, int, int, int, int]):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_Pad):
    """(N, C, W) or (C, W) padded by x mirrored about its end elements (ops.pad mode "reflect"),
    as PyTorch's; padding an int or (left, right), each < W."""

    spatial, mode = 1, "reflect"


class ReflectionPad2d(_Pad):
    """(N, C, H, W) or (C, H, W) padded by x mirrored about its end rows and columns (ops.pad
    mode "reflect"); padding an int or (left, right, top, bottom), each below its axis's size."""

    spatial, mode = 2, "reflect"


class ReflectionPad3d(_Pad):
    """(N, C, D, H, W) or (C, D, H, W) padded by x mirrored about its end planes, rows and
    columns (ops.pad mode "reflect"), as PyTorch's; padding an int or (left, right, top, bottom,
    front, back), each below its axis's size."""

    spatial, mode = 3, "reflect"


class ReplicationPad1d(_Pad):
    """(N, C, W) or (C, W) padded by copies of its end elements (ops.pad mode "replicate");
    padding an int or (left, right)."""

    spatial, mode = 1, "replicate"


class ReplicationPad2d(_Pad):
    """(N, C, H, W) or (C, H, W) padded by copies of its end rows and columns (ops.pad mode
    "replicate"); padding an int or (left, right, top, bottom)."""

    spatial, mode = 2, "replicate"


class ReplicationPad3d(_Pad):
    """(N, C, D, H, W) or (C, D, H, W) padded by copies of its end planes, rows and columns
    (ops.pad mode "replicate"), as PyTorch's; padding an int or (left, right, top, bottom,
    front, back)."""

    spatial, mode = 3, "replicate"


class CircularPad1d(_Pad):
    """(N, C, W) or (C, W) padded by x wrapped around (ops.pad mode "circular"), as PyTorch's;
    padding an int or (left, right), each <= W."""

    spatial, mode = 1, "circular"


class CircularPad2d(_Pad):
    """(N, C, H, W) or (C, H, W) padded by x wrapped around along both axes (ops.pad mode
    "circular"); padding an int or (left, right, top, bottom), each <= its axis's size."""

    spatial, mode = 2, "circular"


class CircularPad3d(_Pad):
    """(N, C, D, H, W) or (C, D, H, W) padded by x wrapped around along its three last axes
    (ops.pad mode "circular"), as PyTorch's; padding an int or (left, right, top, bottom, front,
    back), each <= its axis's size."""

    spatial, mode = 3, "circular"


class CosineSimilarity(Module):
    """cos(x1, x2) along `dim`: ops.cosine_similarity(x1, x2, axis=dim, eps=eps), as PyTorch's
    CosineSimilarity; x1 and x2 broadcast together, (N, D) with (N, D) -> (N,) for dim=1.

    No parameters; eps floors each vector's norm. The repr is PyTorch's, CosineSimilarity()
    whatever the settings.
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"CosineSimilarity: dim is {type(dim).__name__} {dim!r:.40}; "
                            f"expected an int, the axis of the vectors, e.g. dim=1 for (N, D)")
        check_eps("CosineSimilarity", eps)
        self.dim, self.eps = int(dim), eps

    def forward(self, x1, x2):
        return ops.cosine_similarity(x1, x2, axis=self.dim, eps=self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last axis: ops.pairwise_distance, as PyTorch's
    PairwiseDistance; (N, D) with (N, D) or (D,) -> (N,), (N, 1) with keepdim.

    No parameters. As PyTorch's, the order p is kept as the attribute `norm`, and the repr is
    PairwiseDistance() whatever the settings.
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        check_p("PairwiseDistance", p)
        check_eps("PairwiseDistance", eps)
        check_flag("PairwiseDistance", "keepdim", keepdim)
        self.norm, self.eps, self.keepdim = p, eps, bool(keepdim)

    def forward(self, x1, x2):
        return ops.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class Bilinear(Module):
    """y = x1^T A_o x2 + b_o for each output o: x1 (..., in1_features), x2 (..., in2_features)
    -> (..., out_features), ops.bilinear.

    weight (out_features, in1_features, in2_features) and bias (out_features,) are float32,
    drawn from U(-1/sqrt(in1_features), 1/sqrt(in1_features)) (PyTorch's default) using `rng`,
    else the default generator that `tc.manual_seed` sets.
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, rng: np.random.Generator | None = None):
        for name, value in (("in1_features", in1_features), ("in2_features", in2_features),
                            ("out_features", out_features)):
            _check_positive_int("Bilinear", name, value)
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        rng = generator(rng, "Bilinear")
        shape = (out_features, in1_features, in2_features)
        self.weight = Value(fan_in_uniform(shape, in1_features, rng))
        self.bias = Value(fan_in_uniform((out_features,), in1_features, rng)) if bias else None

    def forward(self, x1, x2):
        return ops.bilinear(x1, x2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Unfold(Module):
    """Every sliding block as a column, ops.unfold (im2col): (N, C, H, W) -> (N, C*KH*KW, L), or
    (C, H, W) -> (C*KH*KW, L), as PyTorch's; settings ints or (h, w) pairs."""

    def __init__(self, kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, stride: int | tuple[int, int] = 1):
        check_sizes("Unfold", "kernel_size", kernel_size, 1)
        check_sizes("Unfold", "dilation", dilation, 1)
        check_sizes("Unfold", "padding", padding, 0)
        check_sizes("Unfold", "stride", stride, 1)
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x):
        return ops.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns added back into an image, ops.fold (col2im): (N, C*KH*KW, L) -> (N, C, H, W) for
    output_size (H, W), or (C*KH*KW, L) -> (C, H, W), as PyTorch's; Unfold's adjoint."""

    def __init__(self, output_size: int | tuple[int, int], kernel_size: int | tuple[int, int],
                 dilation: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 stride: int | tuple[int, int] = 1):
        check_sizes("Fold", "output_size", output_size, 1)
        check_sizes("Fold", "kernel_size", kernel_size, 1)
        check_sizes("Fold", "dilation", dilation, 1)
        check_sizes("Fold", "padding", padding, 0)
        check_sizes("Fold", "stride", stride, 1)
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x):
        return ops.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                        self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


def _is_int(value) -> bool:
    """An int or a numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
