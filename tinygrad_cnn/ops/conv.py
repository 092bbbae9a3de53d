"""2-D convolution (cross-correlation, as in PyTorch), its transpose and its weight gradient:
three ops, each built from the others' rules, so gradients of any order exist. conv1d,
conv_transpose1d and unbatched inputs run through the 2-D ops, reshaped (layout.on_image_batch);
conv3d and conv_transpose3d are the 2-D ops over depth windows, with no rule of their own. The
numpy kernels that make them fast are in conv_kernels.py."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import conv_kernels as kernels
from tinygrad_cnn.ops import indexing
from tinygrad_cnn.ops.fold import fold
from tinygrad_cnn.ops.layout import (
    AXES,
    KERNEL_AXES,
    as_given,
    as_sizes,
    batch_hint,
    channels_hint,
    check_padding_mode,
    check_sizes,
    layout,
    on_image_batch,
    ranks_expected,
    signal_batch_hint,
    sizes_text,
)
from tinygrad_cnn.ops.linalg import gradcheck_hint
from tinygrad_cnn.ops.shape import reshape
from tinygrad_cnn.value import Value, data_of


class Conv2d(Function):
    """out[n,f,i,j] = b[f] + sum_{c,p,q} xp[n, c, i*SH + p*DH, j*SW + q*DW] w[f,c,p,q]:
    x (N, C_in, H, W), w (C_out, C_in, KH, KW), b (C_out,) -> (N, C_out, OH, OW),
    OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1 and likewise OW; xp is x with PH, PW
    rows/columns of zeros. With dilation (DH, DW) it is the convolution with the spread kernel
    w_d (kernels.spread: w's taps DH rows and DW columns apart, zeros between), so everything
    below holds for w_d, and w's gradient is w_d's read at the taps (kernels.taps). The kernels
    run w_d itself only at strides > 1; at stride 1 they convolve each phase of xp (every DH-th
    row, every DW-th column) with w, the taps alone (kernels.dilated_forward and the rest).

    As matrices: out = X W + b, where the window matrix X (N*OH*OW, C_in*KH*KW) holds the
    window that each output reads, one per row, and W is w as a (C_in*KH*KW, C_out) matrix.
    Backward, with G = dL/dout as a (N*OH*OW, C_out) matrix:
      dW = X^T G                                   -> conv2d_weight(x, g)
      dX = G W^T, each row handed back to the window it came from -> conv_transpose2d(g, w)
      db = the column sums of G.
    """

    def forward(self, x, w, b, stride=1, padding=0, dilation=1):
        self.stride, self.padding = as_sizes(stride), as_sizes(padding)
        self.dilation = as_sizes(dilation)
        return kernels.dilated_forward(x, w, b, self.stride, self.padding, self.dilation)

    # out = X W + b  =>  dx = conv_transpose2d(g, w) (G W^T back into the windows),
    # dw = conv2d_weight(x, g) (X^T G), db = g summed over (N, OH, OW); all with the dilation
    def backward(self, grad):
        x, w, b, _ = self.saved()
        dx = dw = db = None
        if self.needs_input_grad[0] and self.needs_input_grad[1] and not isinstance(grad, Value):
            # an ordinary backward that needs both: the two ops' results from one kernel
            # (which, on spectra, transforms g once instead of twice)
            dx, dw = kernels.dilated_input_and_weight_grad(x, grad, w, self.stride,
                                                           self.padding, self.dilation)
        else:
            if self.needs_input_grad[1]:
                dw = Conv2dWeightGrad.run(x, grad, weight_shape=w.shape, stride=self.stride,
                                          padding=self.padding, dilation=self.dilation)
            if self.needs_input_grad[0]:
                dx = ConvTranspose2d.run(grad, w, None, stride=self.stride,
                                         padding=self.padding,
                                         output_padding=_leftover(x.shape, grad.shape, w.shape,
                                                                  self.stride, self.padding,
                                                                  self.dilation),
                                         dilation=self.dilation)
        if self.needs_input_grad[2]:
            db = grad.sum(axis=(0, 2, 3))
        return dx, dw, db


class ConvTranspose2d(Function):
    """conv2d run backwards: each x[n,c,i,j] adds x[n,c,i,j] w[c,:,:,:] to the (KH, KW) block of
    the output at (i*SH - PH, j*SW - PW), as in PyTorch: x (N, C_in, H, W),
    w (C_in, C_out, KH, KW), b (C_out,) -> (N, C_out, OH, OW),
    OH = (H - 1) SH - 2 PH + DH (KH - 1) + 1 + output_padding and likewise OW. With dilation
    (DH, DW) the block is the spread kernel w_d (kernels.spread), as for conv2d (and at
    stride 1 the kernels work on the phases, as for conv2d).

    It is the transpose of conv2d with the same w (read as conv2d's (F, C, KH, KW)): out = the
    windows of G W^T added back in place, with G = x as (N*H*W, C_in) -- conv2d's input
    gradient -- so <conv_transpose2d(x, w), u> = <x, conv2d(u, w)> for every u. Backward:
      dx = conv2d(g, w), dw = conv2d_weight(g, x), db = the sum of g over (N, OH, OW).
    """

    def forward(self, x, w, b, stride=1, padding=0, output_padding=0, dilation=1):
        self.stride, self.padding = as_sizes(stride), as_sizes(padding)
        self.dilation = as_sizes(dilation)
        size = transposed_size(x.shape, w.shape, self.stride, self.padding,
                                as_sizes(output_padding), self.dilation)
        out = kernels.dilated_input_grad(x, w, size, self.stride, self.padding, self.dilation)
        return out if b is None else out + b.reshape(-1, 1, 1)

    # <out, g> = <x, conv2d(g, w)>  =>  dx = conv2d(g, w), dw = conv2d_weight(g, x)
    # (conv2d's weight gradient with g as its input and x as its upstream gradient), db = sum g
    def backward(self, grad):
        x, w, b, _ = self.saved()
        dx = dw = db = None
        if self.needs_input_grad[0]:
            dx = Conv2d.run(grad, w, None, stride=self.stride, padding=self.padding,
                            dilation=self.dilation)
            if dx.shape[2:] != x.shape[2:]:
                # output_padding >= stride (dilation allows it): conv2d has windows past x's
                # last row or column, which no element of x fed
                dx = dx[:, :, :x.shape[2], :x.shape[3]]
        if self.needs_input_grad[1]:
            dw = Conv2dWeightGrad.run(grad, x, weight_shape=w.shape, stride=self.stride,
                                      padding=self.padding, dilation=self.dilation)
        if self.needs_input_grad[2]:
            db = grad.sum(axis=(0, 2, 3))
        return dx, dw, db


class Conv2dWeightGrad(Function):
    """conv2d's weight gradient: dw[f,c,p,q] = sum_{n,i,j} g[n,f,i,j]
    xp[n, c, i*SH + p*DH, j*SW + q*DW], i.e. X^T G: x (N, C, H, W), g (N, F, OH, OW) ->
    (F, C, KH, KW) for weight_shape (F, C, KH, KW), with g of conv2d(x, w)'s shape (or fewer
    rows and columns, as conv_transpose2d's backward gives it when output_padding >= stride).
    With dilation it is the gradient of the spread kernel w_d read at w's taps (at stride 1
    computed as the sum of the phases' undilated weight gradients, kernels.dilated_weight_grad).

    It is linear in x and in g: <dw, u> = <conv2d(x, u), g> for every u of w's shape. Backward:
      dx = conv_transpose2d(g, u), dg = conv2d(x, u), for the upstream gradient u.
    """

    def forward(self, x, g, *, weight_shape, stride=1, padding=0, dilation=1):
        self.stride, self.padding = as_sizes(stride), as_sizes(padding)
        self.dilation = as_sizes(dilation)
        return kernels.dilated_weight_grad(x, g, weight_shape[2:], self.stride, self.padding,
                                           self.dilation)

    # dw = X^T G  =>  dx = conv_transpose2d(g, u) (G U^T back into the windows), dg = conv2d(x, u)
    def backward(self, grad):
        x, g, _ = self.saved()
        dx = dg = None
        if self.needs_input_grad[0]:
            dx = ConvTranspose2d.run(g, grad, None, stride=self.stride, padding=self.padding,
                                     output_padding=_leftover(x.shape, g.shape, grad.shape,
                                                              self.stride, self.padding,
                                                              self.dilation),
                                     dilation=self.dilation)
        if self.needs_input_grad[1]:
            dg = Conv2d.run(x, grad, None, stride=self.stride, padding=self.padding,
                            dilation=self.dilation)
            if dg.shape[2:] != g.shape[2:]:
                dg = dg[:, :, :g.shape[2], :g.shape[3]]     # g was cut short: so is dg
        return dx, dg


def _leftover(x_shape, g_shape, w_shape, stride, padding, dilation) -> tuple[int, int]:
    """The output_padding that makes conv_transpose2d(g) give back x's (H, W): the rows and
    columns of the padded input below/right of the last window that g has, i.e.
    (H + 2 PH - DH (KH - 1) - 1) % SH for conv2d's own g, likewise W."""
    size = transposed_size(g_shape, w_shape, stride, padding, (0, 0), dilation)
    return x_shape[2] - size[0], x_shape[3] - size[1]


def transposed_size(x_shape, w_shape, stride, padding, output_padding,
                    dilation) -> tuple[int, ...]:
    """conv_transpose2d's (OH, OW): (H - 1) SH - 2 PH + DH (KH - 1) + 1 + output_padding,
    likewise OW; conv_transpose3d's (OD, OH, OW) for a batch of volumes and settings triples."""
    return tuple((x_shape[2 + a] - 1) * stride[a] - 2 * padding[a]
                 + dilation[a] * (w_shape[2 + a] - 1) + 1 + output_padding[a]
                 for a in range(len(stride)))


def _check_output_not_empty(fn: str, size, x_shape, kernel_size, stride, padding, dilation,
                            dilations) -> None:
    """A transposed convolution's output size (one per spatial axis) is at least 1 on every
    axis; stride, padding and dilation as the caller gave them, for the message."""
    if min(size) >= 1:
        return
    kernel = f"kernel {sizes_text(kernel_size)}"
    if set(dilations) != {1}:
        kernel += f" with dilation {dilation!r}"
    raise ValueError(f"{fn}: the output would be {sizes_text(size)} (input {x_shape}, {kernel}, "
                     f"stride {stride!r}, padding {padding!r}); expected at least "
                     f"{sizes_text((1,) * len(size))}; use less padding")


def conv2d(x, w, b=None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] | str = 0, dilation: int | tuple[int, int] = 1,
           groups: int = 1) -> Value:
    """2-D convolution: x (N, C_in, H, W), w (C_out, C_in / groups, KH, KW), b (C_out,) or None
    -> (N, C_out, OH, OW), or one unbatched image (C_in, H, W) -> (C_out, OH, OW), with
    OH = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1 (likewise OW), as PyTorch's
    argument order and formula.

    stride, padding and dilation are ints or (h, w) pairs. Cross-correlation, as in PyTorch: the
    kernel is not flipped. The layer computes in w's dtype: a constant input or bias of another
    dtype (a float64 `images / 255.0` batch, uint8 images) is converted to it; one that
    requires grad must already have it. An unbatched image runs as a batch of one (a reshape
    before the op and one after it, so no rule of its own).

    padding may also be "valid" (0) or "same" (stride 1 only, as PyTorch): dilation*(K - 1)
    zeros per axis in all, so that OH = H and OW = W, half of them (rounded down) before and
    the rest after; an odd total puts its extra row at the bottom (column on the right) with
    pad, and the rest is the op's own padding.

    dilation (DH, DW) spaces the kernel's taps apart: out[n, f, i, j] = b[f] + sum over c, p, q
    of xp[n, c, i*SH + p*DH, j*SW + q*DW] w[f, c, p, q], xp being x padded. It is the
    convolution with the kernel spread out to DH*(KH - 1) + 1 by DW*(KW - 1) + 1, zeros between
    its taps, and w's gradient is the spread kernel's read back at the taps.

    groups G (dividing C_in and C_out) splits the channels as in PyTorch: output channels
    [g C_out/G, (g+1) C_out/G) read only input channels [g C_in/G, (g+1) C_in/G), through those
    rows of w; groups = C_in is a depthwise convolution. groups > 1 runs one convolution per
    group (G ops in the graph): x, w and b sliced per group with getitem, the G outputs joined
    with cat along the channels, so its gradients of every order come from those ops' rules.
    """
    return _convolve("conv2d", 2, x, w, b, stride, padding, dilation, groups)


def conv1d(x, w, b=None, stride: int | tuple[int] = 1, padding: int | tuple[int] | str = 0,
           dilation: int | tuple[int] = 1, groups: int = 1) -> Value:
    """1-D convolution: x (N, C_in, L), w (C_out, C_in / groups, K), b (C_out,) or None ->
    (N, C_out, OL), or one unbatched signal (C_in, L) -> (C_out, OL), with
    OL = (L + 2*padding - dilation*(K - 1) - 1) // stride + 1, as PyTorch's conv1d.

    out[n, f, i] = b[f] + sum over c, p of xp[n, c, i*stride + p*dilation] w[f, c, p], xp being x
    with `padding` zeros at each end. stride, padding and dilation are ints (or tuples of one
    int); padding may also be "valid" or "same", and groups splits the channels, all as in
    conv2d. A signal of length L is a 1 x L image: conv1d runs conv2d's op on x as
    (N, C_in, 1, L) and w as (C_out, C_in / groups, 1, K), with each setting s as (1, s) and
    padding p as (0, p), and reshapes the result back, so its gradients of every order are
    conv2d's. Its errors speak of the 1-D shapes.
    """
    return _convolve("conv1d", 1, x, w, b, stride, padding, dilation, groups)


def _convolve(fn: str, spatial: int, x, w, b, stride, padding, dilation, groups) -> Value:
    """conv1d (spatial = 1, the axis L) or conv2d (spatial = 2, the axes H and W): every check, in
    the shapes and settings of fn's own call, then the Conv2d op (one per group when groups > 1)
    on x as an image batch (on_image_batch)."""
    groups = _check_groups(groups, fn)
    x, b, xa, wa = _check_conv(fn, x, w, b, stride, padding, in_axis=1, groups=groups,
                               spatial=spatial)
    dilations = check_sizes(fn, "dilation", dilation, 1, spatial)
    if isinstance(padding, str):
        check_padding_mode(fn, padding, stride, wa.shape[2:], dilations)
    _check_kernel_fits(fn, xa.shape, wa.shape[2:], padding, dilations, dilation)
    x, padding = _padding_for(x, padding, wa.shape[2:], dilations)
    if spatial == 1:
        # a signal is a 1 x L image: (C_out, C_in / groups, K) -> (C_out, C_in / groups, 1, K),
        # each setting s -> (1, s), and the padding p -> (0, p): no rows added
        w = reshape(w, (*wa.shape[:2], 1, wa.shape[2]))
        stride, padding = (1, *as_sizes(stride, 1)), (0, *as_sizes(padding, 1))
        dilation = dilations = (1, *dilations)
    params = _dilated({"stride": stride, "padding": padding}, dilation, dilations)
    c_in, c_out = xa.shape[-spatial - 1], wa.shape[0]

    def run(images):
        if groups > 1:
            return _per_group(Conv2d, images, w, b, c_in, c_out, groups, **params)
        return Conv2d.apply(images, w, b, **params)

    return on_image_batch(x, spatial, run)


def conv3d(x, w, b=None, stride: int | tuple[int, int, int] = 1,
           padding: int | tuple[int, int, int] | str = 0,
           dilation: int | tuple[int, int, int] = 1, groups: int = 1) -> Value:
    """3-D convolution: x (N, C_in, D, H, W), w (C_out, C_in / groups, KD, KH, KW), b (C_out,) or
    None -> (N, C_out, OD, OH, OW), or one unbatched volume (C_in, D, H, W) ->
    (C_out, OD, OH, OW), with OD = (D + 2*padding - dilation*(KD - 1) - 1) // stride + 1
    (likewise OH, OW), as PyTorch's conv3d.

    out[n, f, t, i, j] = b[f] + sum over c, r, p, q of
    xp[n, c, t*SD + r*DD, i*SH + p*DH, j*SW + q*DW] w[f, c, r, p, q], xp being x padded. stride,
    padding and dilation are ints or (d, h, w) triples; padding may also be "valid" or "same"
    (stride 1), and groups splits the channels, all as in conv2d.

    A 3-D convolution is a 2-D one over depth windows: output slice t reads the KD input slices
    t*SD + r*DD, r < KD. Stacked as channels, c*KD + r, they make one image (C_in*KD, H, W) per
    (n, t), and w as (C_out, C_in / groups * KD, KH, KW) -- a reshape, channel c*KD + r being
    tap r of channel c -- is that image's 2-D kernel (each group's channels stay together). So
    conv3d is getitem, stack, transpose and reshape around one conv2d over N*OD images, and its
    gradients of every order are those ops' rules.
    """
    fn = "conv3d"
    groups = _check_groups(groups, fn)
    x, b, xa, wa = _check_conv(fn, x, w, b, stride, padding, in_axis=1, groups=groups, spatial=3)
    dilations = check_sizes(fn, "dilation", dilation, 1, 3)
    if isinstance(padding, str):
        check_padding_mode(fn, padding, stride, wa.shape[2:], dilations)
    _check_kernel_fits(fn, xa.shape, wa.shape[2:], padding, dilations, dilation)
    if padding == "same":
        pairs = same_padding(wa.shape[2:], dilations)
    else:
        pairs = tuple((p, p) for p in as_sizes(0 if padding == "valid" else padding, 3))
    (front, back), (top, bottom), (left, right) = pairs
    if front or back or bottom > top or right > left:
        # the depth's zeros here; along H and W only what "same" adds at the end beyond the
        # start's amount, which conv2d's own padding gives at both ends
        lead = ((0, 0),) * (xa.ndim - 3)
        x = indexing.pad(x, (*lead, (front, back), (0, bottom - top), (0, right - left)))
    strides = as_sizes(stride, 3)
    return on_image_batch(x, 3, lambda volumes: _depth_windows_conv(
        volumes, w, b, strides, (top, left), dilations, groups))


def _depth_windows_conv(x, w, b, stride, padding, dilation, groups: int) -> Value:
    """conv3d of x (N, C_in, D, H, W), already padded along D, as one conv2d over its depth
    windows; padding (PH, PW) is conv2d's."""
    (n, c, depth, h, width), (f, per_group, kd, kh, kw) = x.shape, np.shape(data_of(w))
    sd, dd = stride[0], dilation[0]
    od = (depth - dd * (kd - 1) - 1) // sd + 1
    # tap r of every window: slices r*DD, r*DD + SD, ... -> KD of (N, C_in, OD, H, W)
    taps = [indexing.getitem(x, (slice(None), slice(None), slice(r * dd, r * dd + (od - 1) * sd
                                                                 + 1, sd)))
            for r in range(kd)]
    windows = indexing.stack(taps, axis=3)                    # (N, C_in, OD, KD, H, W)
    windows = windows.transpose(0, 2, 1, 3, 4, 5)             # (N, OD, C_in, KD, H, W)
    images = windows.reshape(n * od, c * kd, h, width)       # (N*OD, C_in*KD, H, W)
    kernels2d = reshape(w, (f, per_group * kd, kh, kw))       # (C_out, C_in/G*KD, KH, KW)
    out = conv2d(images, kernels2d, b, stride=stride[1:], padding=padding,
                 dilation=dilation[1:], groups=groups)        # (N*OD, C_out, OH, OW)
    out = out.reshape(n, od, f, *out.shape[2:])               # (N, OD, C_out, OH, OW)
    return out.transpose(0, 2, 1, 3, 4)                       # (N, C_out, OD, OH, OW)


def _padding_for(x, padding, kernel_size, dilations) -> tuple:
    """(x, padding) to convolve: both as they are for a number; for "valid", 0; for "same" (stride
    1), dilation*(K - 1) zeros per axis in all, as PyTorch: half of them (rounded down) at each
    end as the op's padding, and an odd total's extra one added after the end of x with pad."""
    if not isinstance(padding, str):
        return x, padding
    if padding == "valid":
        return x, 0
    spatial = len(kernel_size)
    pairs = same_padding(kernel_size, dilations)
    if any(after > before for before, after in pairs):
        lead = ((0, 0),) * (np.ndim(data_of(x)) - spatial)       # the batch and channel axes
        x = indexing.pad(x, (*lead, *((0, after - before) for before, after in pairs)))
    half = tuple(before for before, _ in pairs)
    return x, half if spatial == 2 else half[0]


def same_padding(kernel_size, dilations) -> tuple[tuple[int, int], ...]:
    """padding="same"'s (before, after) per spatial axis, as PyTorch: dilation*(K - 1) in all,
    half of them (rounded down) before and the rest after."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel_size, dilations, strict=True))


def _check_kernel_fits(fn: str, x_shape, kernel_size, padding, dilations, dilation) -> None:
    """The (dilated) kernel, already checked to be at least 1 wide, spans no more than the input
    padded by `padding` as the caller gave it (an int or one per axis; "valid": none; "same":
    dilation*(K - 1) per axis), along each of the last len(kernel_size) axes of the input."""
    spatial = len(kernel_size)
    sizes = x_shape[-spatial:]
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilations, strict=True))
    if padding == "same":
        added = tuple(s - 1 for s in span)
    else:
        added = tuple(2 * p for p in as_sizes(0 if padding == "valid" else padding, spatial))
    padded = tuple(size + a for size, a in zip(sizes, added, strict=True))
    if all(s <= p for s, p in zip(span, padded, strict=True)):
        return
    shown = repr(padding) if isinstance(padding, str) else as_given(as_sizes(padding, spatial))
    where = f"(input {x_shape}, padding {shown})"
    if set(dilations) == {1} or padding == "same":
        bounds = " and ".join(f"1 <= {k} <= {a} + 2*padding" for k, a in
                              zip(KERNEL_AXES[spatial], AXES[spatial], strict=True))
        raise ValueError(f"{fn}: kernel {sizes_text(kernel_size)} does not fit the padded input "
                         f"{sizes_text(padded)} {where}; expected {bounds}")
    # the fixes: enough padding on each axis, or the largest dilation that fits
    pads = tuple(max(a // 2, -(-(s - size) // 2))
                 for a, s, size in zip(added, span, sizes, strict=True))
    largest = tuple(d if s <= p else (p - 1) // max(k - 1, 1)
                    for d, s, p, k in zip(dilations, span, padded, kernel_size, strict=True))
    fix = f"use padding={as_given(pads)}"
    if min(largest) >= 1:
        fix += f" or dilation={as_given(largest)}"
    room = {1: "L + 2*padding", 2: "size + 2*padding on both axes",
            3: "size + 2*padding on every axis"}[spatial]
    raise ValueError(f"{fn}: kernel {sizes_text(kernel_size)} with dilation {dilation!r} spans "
                     f"{sizes_text(span)}, which does not fit the padded input "
                     f"{sizes_text(padded)} {where}; expected dilation*(K - 1) + 1 <= {room}; "
                     f"{fix}")


def _dilated(params: dict, dilation, dilations: tuple[int, int]) -> dict:
    """params with dilation added, unless it is (1, 1): an undilated convolution records the
    same node, with the same params, as before dilation existed."""
    if dilations != (1, 1):
        params["dilation"] = dilation
    return params


def conv_transpose2d(x, w, b=None, stride: int | tuple[int, int] = 1,
                     padding: int | tuple[int, int] = 0,
                     output_padding: int | tuple[int, int] = 0, groups: int = 1,
                     dilation: int | tuple[int, int] = 1) -> Value:
    """Transposed convolution, as in PyTorch (and in its argument order): x (N, C_in, H, W),
    w (C_in, C_out / groups, KH, KW), b (C_out,) or None -> (N, C_out, OH, OW), or one
    unbatched image (C_in, H, W) -> (C_out, OH, OW), with
    OH = (H - 1)*stride - 2*padding + dilation*(KH - 1) + 1 + output_padding (likewise OW).

    w is laid out as the weight of the conv2d it transposes (that conv2d maps C_out channels to
    C_in), so conv_transpose2d(g, w, stride=s, padding=p, dilation=d) is conv2d(x, w, stride=s,
    padding=p, dilation=d)'s input gradient for upstream gradient g. output_padding picks among
    the input sizes that give g's size; each must be below its stride or its dilation, as in
    PyTorch. dilation D spaces the kernel's taps D apart, as in conv2d.

    groups G (dividing C_in) splits the channels as in PyTorch: input channels
    [g C_in/G, (g+1) C_in/G) feed only output channels [g C_out/G, (g+1) C_out/G), through
    those rows of w, so it is the transpose of conv2d(..., groups=G) with the same w. groups > 1
    runs one transposed convolution per group (G ops in the graph): x, w and b sliced per group
    with getitem, the G outputs joined with cat along the channels, as conv2d does.

    An unbatched image runs as a batch of one, as conv2d's does (a reshape before the op and one
    after it, so no rule of its own); output_padding means the same for it as for a batch.
    """
    groups = _check_groups(groups, "conv_transpose2d")
    x, b, xa, wa = _check_conv("conv_transpose2d", x, w, b, stride, padding, in_axis=0,
                               groups=groups)
    steps, pads = as_sizes(stride), as_sizes(padding)
    extra = check_sizes("conv_transpose2d", "output_padding", output_padding, 0)
    dilations = check_sizes("conv_transpose2d", "dilation", dilation, 1)
    if any(e >= max(s, d) for e, s, d in zip(extra, steps, dilations, strict=True)):
        if dilations == (1, 1):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding!r} is not "
                             f"smaller than stride {stride!r}; expected each output_padding < "
                             f"its stride")
        raise ValueError(f"conv_transpose2d: output_padding {output_padding!r} is not smaller "
                         f"than stride {stride!r} or dilation {dilation!r}; expected each "
                         f"output_padding < max(its stride, its dilation), as PyTorch")
    batch = xa.shape if xa.ndim == 4 else (1, *xa.shape)      # an unbatched image: a batch of 1
    size = transposed_size(batch, wa.shape, steps, pads, extra, dilations)
    _check_output_not_empty("conv_transpose2d", size, xa.shape, wa.shape[2:], stride, padding,
                            dilation, dilations)
    params = _dilated({"stride": stride, "padding": padding, "output_padding": output_padding},
                      dilation, dilations)

    def run(images):                      # (N, C_in, H, W) -> (N, C_out, OH, OW)
        if groups > 1:
            return _per_group(ConvTranspose2d, images, w, b, wa.shape[0], wa.shape[1] * groups,
                              groups, **params)
        return ConvTranspose2d.apply(images, w, b, **params)

    return on_image_batch(x, 2, run)


def conv_transpose1d(x, w, b=None, stride: int | tuple[int] = 1, padding: int | tuple[int] = 0,
                     output_padding: int | tuple[int] = 0, groups: int = 1,
                     dilation: int | tuple[int] = 1) -> Value:
    """1-D transposed convolution, as PyTorch's conv_transpose1d (and in its argument order):
    x (N, C_in, L), w (C_in, C_out / groups, K), b (C_out,) or None -> (N, C_out, OL), or one
    unbatched signal (C_in, L) -> (C_out, OL), with
    OL = (L - 1)*stride - 2*padding + dilation*(K - 1) + 1 + output_padding.

    It is conv1d's input gradient with the same w, as conv_transpose2d is conv2d's. Settings are
    ints (or tuples of one int); output_padding < max(stride, dilation), as PyTorch; groups
    splits the channels as in conv_transpose2d. A signal is a 1 x L image, as for conv1d: x runs
    through conv_transpose2d's op as (N, C_in, 1, L) with w as (C_in, C_out / groups, 1, K),
    each setting s as (1, s) and the padding p as (0, p), and the result is reshaped back, so
    its gradients of every order are conv_transpose2d's.
    """
    fn = "conv_transpose1d"
    groups = _check_groups(groups, fn)
    xa, wa = np.asarray(data_of(x)), np.asarray(data_of(w))
    if wa.ndim != 3:
        raise ValueError(f"{fn}: weight has shape {wa.shape}; expected a 3-D weight "
                         f"(C_in, C_out / groups, K)")
    if xa.ndim not in (2, 3):
        raise ValueError(f"{fn}: input has shape {xa.shape}; expected {ranks_expected(1, 'C_in')} "
                         f"with C_in = {wa.shape[0]} for weight {wa.shape}"
                         f"{signal_batch_hint(xa.shape, wa.shape[0])}")
    if xa.shape[-2] != wa.shape[0]:
        read_as = "the unbatched input (C_in, L)" if xa.ndim == 2 else "input (N, C_in, L)"
        raise ValueError(f"{fn}: input has {xa.shape[-2]} channels but weight expects "
                         f"{wa.shape[0]} (input {xa.shape}, weight {wa.shape}); expected equal "
                         f"C_in in {read_as} and weight (C_in, C_out / groups, K)"
                         f"{channels_hint(xa.shape, wa.shape[0], 1)}")
    x, b, xa, wa = _check_conv(fn, x, w, b, stride, padding, in_axis=0, groups=groups, spatial=1)
    (step,), (pad,) = as_sizes(stride, 1), as_sizes(padding, 1)
    (extra,) = check_sizes(fn, "output_padding", output_padding, 0, 1)
    (spread,) = check_sizes(fn, "dilation", dilation, 1, 1)
    if extra >= max(step, spread):
        raise ValueError(f"{fn}: output_padding {output_padding!r} is not smaller than stride "
                         f"{stride!r} or dilation {dilation!r}; expected output_padding < "
                         f"max(stride, dilation), as PyTorch; e.g. output_padding="
                         f"{max(step, spread) - 1}")
    size = (xa.shape[-1] - 1) * step - 2 * pad + spread * (wa.shape[2] - 1) + 1 + extra
    if size < 1:
        raise ValueError(f"{fn}: the output would have length {size} (input {xa.shape}, kernel "
                         f"of {wa.shape[2]} taps, stride {stride!r}, padding {padding!r}, "
                         f"dilation {dilation!r}); expected at least 1; use less padding")
    # a signal is a 1 x L image: (C_in, C_out / groups, K) -> (C_in, C_out / groups, 1, K), each
    # setting s -> (1, s), the padding p -> (0, p): no rows added
    w = reshape(w, (*wa.shape[:2], 1, wa.shape[2]))
    params = _dilated({"stride": (1, step), "padding": (0, pad), "output_padding": (0, extra)},
                      (1, spread), (1, spread))

    def run(images):                      # (N, C_in, 1, L) -> (N, C_out, 1, OL)
        if groups > 1:
            return _per_group(ConvTranspose2d, images, w, b, wa.shape[0], wa.shape[1] * groups,
                              groups, **params)
        return ConvTranspose2d.apply(images, w, b, **params)

    return on_image_batch(x, 1, run)


def conv_transpose3d(x, w, b=None, stride: int | tuple[int, int, int] = 1,
                     padding: int | tuple[int, int, int] = 0,
                     output_padding: int | tuple[int, int, int] = 0, groups: int = 1,
                     dilation: int | tuple[int, int, int] = 1) -> Value:
    """3-D transposed convolution, as PyTorch's conv_transpose3d (and in its argument order):
    x (N, C_in, D, H, W), w (C_in, C_out / groups, KD, KH, KW), b (C_out,) or None ->
    (N, C_out, OD, OH, OW), or one unbatched volume (C_in, D, H, W) -> (C_out, OD, OH, OW), with
    OD = (D - 1)*stride - 2*padding + dilation*(KD - 1) + 1 + output_padding (likewise OH, OW).

    It is conv3d's input gradient with the same w, as conv_transpose2d is conv2d's: each
    x[n, c, s, i, j] adds x[n, c, s, i, j] w[c, :, :, :, :] into the output at
    (s*SD - PD, i*SH - PH, j*SW - PW), the taps DD, DH, DW apart. Settings are ints or (d, h, w)
    triples; output_padding < max(stride, dilation) on each axis, as PyTorch; groups splits the
    channels as in conv_transpose2d.

    It is built as conv3d's transpose, from 2-D ops. conv3d stacks each output slice's KD depth
    taps as channels and runs one conv2d; so here conv_transpose2d runs on every input slice
    (N*D images (C_in, H, W)) with w read as (C_in, C_out / groups * KD, KH, KW) -- channel
    c*KD + r of the result is tap r of output channel c -- and tap r of slice s is then added
    into output slice s*SD + r*DD - PD. That scatter-add along the depth is fold (col2im) with a
    KD x 1 kernel over (OD, OH*OW) images. So it is transpose, reshape, conv_transpose2d, fold
    and reshape, and its gradients of every order are those ops' rules.
    """
    fn = "conv_transpose3d"
    groups = _check_groups(groups, fn)
    x, b, xa, wa = _check_conv(fn, x, w, b, stride, padding, in_axis=0, groups=groups, spatial=3)
    steps, pads = as_sizes(stride, 3), as_sizes(padding, 3)
    extra = check_sizes(fn, "output_padding", output_padding, 0, 3)
    dilations = check_sizes(fn, "dilation", dilation, 1, 3)
    if any(e >= max(s, d) for e, s, d in zip(extra, steps, dilations, strict=True)):
        most = tuple(max(s, d) - 1 for s, d in zip(steps, dilations, strict=True))
        raise ValueError(f"{fn}: output_padding {output_padding!r} is not smaller than stride "
                         f"{stride!r} or dilation {dilation!r}; expected each output_padding < "
                         f"max(its stride, its dilation), as PyTorch; e.g. output_padding="
                         f"{most[0] if len(set(most)) == 1 else most}")
    batch = xa.shape if xa.ndim == 5 else (1, *xa.shape)      # an unbatched volume: a batch of 1
    size = transposed_size(batch, wa.shape, steps, pads, extra, dilations)
    _check_output_not_empty(fn, size, xa.shape, wa.shape[2:], stride, padding, dilation,
                            dilations)
    return on_image_batch(x, 3, lambda volumes: _depth_windows_transpose(
        volumes, w, b, steps, pads, extra, dilations, groups, size[0]))


def _depth_windows_transpose(x, w, b, stride, padding, output_padding, dilation, groups: int,
                             depth_out: int) -> Value:
    """conv_transpose3d of x (N, C_in, D, H, W) with settings triples, OD = depth_out: the 2-D
    transposed convolution of every depth slice, each of its KD taps folded into its output
    slice."""
    (n, c_in, depth, h, width), (_, per_group, kd, kh, kw) = x.shape, np.shape(data_of(w))
    c_out = per_group * groups
    slices = x.transpose(0, 2, 1, 3, 4).reshape(n * depth, c_in, h, width)  # (N*D, C_in, H, W)
    kernels2d = reshape(w, (c_in, per_group * kd, kh, kw))    # (C_in, C_out/G*KD, KH, KW)
    taps = conv_transpose2d(slices, kernels2d, stride=stride[1:], padding=padding[1:],
                            output_padding=output_padding[1:], groups=groups,
                            dilation=dilation[1:])             # (N*D, C_out*KD, OH, OW)
    oh, ow = taps.shape[2:]
    cols = taps.reshape(n, depth, c_out * kd, oh * ow).transpose(0, 2, 1, 3)
    cols = cols.reshape(n, c_out * kd, depth * oh * ow)       # (N, C_out*KD, D*OH*OW)
    blocks = output_padding[0] // stride[0]
    if blocks:
        # output_padding >= SD (a dilation allows it) leaves room for more slices than x has,
        # which fold counts as blocks: they add nothing, so they are zeros
        cols = indexing.pad(cols, ((0, 0), (0, 0), (0, blocks * oh * ow)))
    # tap r of slice s -> output slice s*SD + r*DD - PD: (N, C_out*KD, D*OH*OW) -> (N, C_out,
    # OD, OH*OW), a KD x 1 kernel sliding over the depth only
    out = fold(cols, (depth_out, oh * ow), (kd, 1), dilation=(dilation[0], 1),
               padding=(padding[0], 0), stride=(stride[0], 1))
    out = out.reshape(n, c_out, depth_out, oh, ow)            # (N, C_out, OD, OH, OW)
    return out if b is None else out + reshape(b, (c_out, 1, 1, 1))


def _per_group(op: type[Function], x, w, b, c_in: int, c_out: int, groups: int,
               **params) -> Value:
    """op (Conv2d or ConvTranspose2d) on each group's share of the channels, joined along the
    channels: group g gets x's input channels [g C_in/G, (g+1) C_in/G), the same share of w's
    first axis (its output channels for conv2d, its input channels for the transpose) and
    b's output channels [g C_out/G, (g+1) C_out/G). Every step is a recorded op (getitem,
    op, cat), so gradients of every order come from their rules."""
    def share(size: int, g: int) -> slice:
        return slice(g * size // groups, (g + 1) * size // groups)

    w_first = np.shape(data_of(w))[0]
    outs = [op.apply(indexing.getitem(x, (slice(None), share(c_in, g))),
                     indexing.getitem(w, share(w_first, g)),
                     None if b is None else indexing.getitem(b, share(c_out, g)), **params)
            for g in range(groups)]
    return indexing.cat(outs, axis=1)   # G of (N, C_out/G, OH, OW) -> (N, C_out, OH, OW)


def conv2d_weight(x, g, weight_shape: tuple[int, int, int, int],
                  stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                  dilation: int | tuple[int, int] = 1) -> Value:
    """conv2d's weight gradient: x (N, C_in, H, W), g (N, C_out, OH, OW) -> weight_shape
    (C_out, C_in, KH, KW); dw[f,c,p,q] = sum over n, i, j of g[n,f,i,j]
    x[n, c, i*SH + p*DH - PH, j*SW + q*DW - PW] (zero outside x), DH, DW the dilation.

    g must have the shape of conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    for a w of weight_shape, OH = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1, as
    PyTorch's torch.nn.grad.conv2d_weight. Batches only, as PyTorch's: for one unbatched image
    pass x[None] and g[None].
    """
    weight_shape = tuple(int(k) for k in weight_shape)
    xa, ga = np.asarray(data_of(x)), np.asarray(data_of(g))
    sh, sw = check_sizes("conv2d_weight", "stride", stride, 1)
    ph, pw = check_sizes("conv2d_weight", "padding", padding, 0)
    dilations = check_sizes("conv2d_weight", "dilation", dilation, 1)
    if xa.ndim != 4 or len(weight_shape) != 4 or min(weight_shape) < 1:
        # PyTorch's conv2d_weight takes batches only, and so does this one
        fix = ("; for one unbatched image (C_in, H, W) pass a batch of one, x[None] and g[None] "
               "(the same weight gradient)" if xa.ndim == 3 and ga.ndim == 3 else "")
        raise ValueError(f"conv2d_weight: expected a 4-D input (N, C_in, H, W) and a weight "
                         f"shape of 4 positive sizes (C_out, C_in, KH, KW), got input "
                         f"{xa.shape} and weight_shape {weight_shape}{fix}")
    f, c = weight_shape[:2]
    _check_kernel_fits("conv2d_weight", xa.shape, weight_shape[2:], padding, dilations, dilation)
    kh, kw = kernels.dilated_size(weight_shape[2:], dilations)
    expected = (xa.shape[0], f, kernels.output_size(xa.shape[2], kh, sh, ph),
                kernels.output_size(xa.shape[3], kw, sw, pw))
    if c != xa.shape[1] or ga.shape != expected:
        raise ValueError(f"conv2d_weight: g has shape {ga.shape} for input {xa.shape} and "
                         f"weight_shape {weight_shape}; expected g of conv2d's output shape "
                         f"{expected} and C_in = {xa.shape[1]}")
    params = _dilated({"stride": stride, "padding": padding}, dilation, dilations)
    return Conv2dWeightGrad.apply(x, g, weight_shape=weight_shape, **params)


def _check_conv(fn: str, x, w, b, stride, padding, in_axis: int, groups: int = 1,
                spatial: int = 2):
    """The arrays of x, w, b after checking what conv1d, conv2d and conv_transpose2d share:
    stride and padding (for conv1d and conv2d a padding string is checked later, with the
    kernel), a kernel at least 1 wide (before anything is worked out from it), the shapes
    (`spatial` axes of size after the channels, an unbatched input (C_in, *size) as well as a
    batch, as PyTorch's), matching channels (w's axis `in_axis` meets x's channels, times
    `groups` for conv1d and conv2d; for conv_transpose2d groups divides them and multiplies w's
    output channels), the bias's shape;
    then x and b in w's floating dtype (and x's array)."""
    xa, wa = np.asarray(data_of(x)), np.asarray(data_of(w))
    ba = None if b is None else np.asarray(data_of(b))
    forward = in_axis == 1          # conv1d, conv2d: padding strings, as PyTorch
    check_sizes(fn, "stride", stride, 1, spatial)
    if not (forward and isinstance(padding, str)):
        check_sizes(fn, "padding", padding, 0, spatial, ("same", "valid") if forward else ())
    if forward:
        layout_w = layout(spatial, "C_out", "C_in", kernel=True)
    else:
        layout_w = layout(spatial, "C_in", "C_out" if groups == 1 else "C_out / groups",
                          kernel=True)
    if wa.ndim != spatial + 2:
        raise ValueError(f"{fn}: weight has shape {wa.shape}; expected a {spatial + 2}-D weight "
                         f"{layout_w}")
    if min(wa.shape[2:]) < 1:       # before anything (padding="same" too) is worked out from K
        kernel = (f"a {sizes_text(wa.shape[2:])} kernel" if spatial >= 2
                  else f"a kernel of {wa.shape[2]} taps")
        raise ValueError(f"{fn}: weight {wa.shape} has {kernel}; expected "
                         f"{' and '.join(f'{k} >= 1' for k in KERNEL_AXES[spatial])}")
    channels = wa.shape[1] * groups if forward else wa.shape[0]
    if xa.ndim not in (spatial + 2, spatial + 1):
        hint = batch_hint(spatial, xa.shape, channels)
        raise ValueError(f"{fn}: input has shape {xa.shape}; expected "
                         f"{ranks_expected(spatial, 'C_in')} with C_in = {channels} for weight "
                         f"{wa.shape}{hint}")
    c_in = xa.shape[-spatial - 1]                    # axis 1, or 0 when unbatched
    if groups > 1 and forward:
        _check_grouped_channels(fn, xa.shape, c_in, wa.shape, groups)
    elif c_in != channels:
        read_as = ("the unbatched input " + layout(spatial, "C_in") if xa.ndim == spatial + 1
                   else "input " + layout(spatial, "N", "C_in"))
        raise ValueError(f"{fn}: input has {c_in} channels but weight expects {channels} "
                         f"(input {xa.shape}, weight {wa.shape}); expected equal C_in in "
                         f"{read_as} and weight {layout_w}"
                         f"{channels_hint(xa.shape, channels, spatial)}")
    elif groups > 1 and channels % groups:
        raise ValueError(f"{fn}: groups={groups} does not divide the {channels} input channels "
                         f"C_in (input {xa.shape}, weight {wa.shape}); expected C_in divisible "
                         f"by groups; pick groups from the divisors of C_in = {channels}: "
                         f"{', '.join(map(str, groups_dividing(channels)))}")
    outs = wa.shape[0] if forward else wa.shape[1] * groups
    if ba is not None and ba.shape != (outs,):
        of = f" in groups={groups}" if groups > 1 and in_axis == 0 else ""
        raise ValueError(f"{fn}: bias has shape {ba.shape}; expected ({outs},), one per "
                         f"output channel of weight {wa.shape}{of}")
    x = _in_weight_dtype(fn, "input", x, xa, wa.dtype)
    return x, _in_weight_dtype(fn, "bias", b, ba, wa.dtype), xa, wa


def _in_weight_dtype(fn: str, name: str, v, array, dtype: np.dtype):
    """v itself, or a constant v (float, integer or bool, e.g. uint8 images) converted to the
    weight's float dtype (so the layer runs in float32 rather than silently in float64); one
    that requires grad is an error naming both dtypes, since converting it would cut it off
    from the graph."""
    if v is None or array.dtype == dtype or dtype.kind != "f":
        return v
    if isinstance(v, Value) and v.requires_grad and array.dtype.kind == "f":
        article = "an" if name == "input" else "a"
        raise TypeError(f"{fn}: {name} has dtype {array.dtype} but the weight has dtype {dtype}; "
                        f"expected the same dtype for {article} {name} that requires grad; make "
                        f"the {name} {dtype} where it is created, e.g. "
                        f"tc.Value(data, dtype=np.{dtype}){gradcheck_hint(fn)}")
    return array.astype(dtype)


def _check_groups(groups, fn: str = "conv2d") -> int:
    """groups as an int >= 1."""
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{fn}: groups must be an int, got {type(groups).__name__} "
                        f"{groups!r}; pass e.g. groups=1 (an ordinary convolution) or "
                        f"groups=C_in (depthwise)")
    if groups < 1:
        raise ValueError(f"{fn}: groups must be positive, got {groups}; expected an int >= 1 "
                         f"that divides C_in and C_out (1 is an ordinary convolution)")
    return int(groups)


def _check_grouped_channels(fn: str, x_shape, c_in: int, w_shape, groups: int) -> None:
    """With groups G: G divides C_in (x's channels) and C_out (w's first axis), and w holds
    C_in / G input channels per output channel."""
    c_out = w_shape[0]
    shapes = f"input {x_shape}, weight {w_shape}"
    for name, size in (("input channels C_in", c_in), ("output channels C_out", c_out)):
        if size % groups:
            raise ValueError(f"{fn}: groups={groups} does not divide the {size} {name} "
                             f"({shapes}); expected C_in and C_out both divisible by groups; "
                             f"{_groups_fix(c_in, w_shape)}")
    if w_shape[1] * groups != c_in:
        grouped = layout(len(w_shape) - 2, "C_out", "C_in / groups", kernel=True)
        raise ValueError(f"{fn}: weight has {w_shape[1]} input channels per group but the "
                         f"input's {c_in} channels in groups={groups} are {c_in // groups} per "
                         f"group ({shapes}); expected weight {grouped} = "
                         f"{(c_out, c_in // groups, *w_shape[2:])}")


def _groups_fix(c_in: int, w_shape) -> str:
    """The groups that this weight (C_out, C_in / groups, *kernel) is made for, when it divides
    C_out; else the valid groups, each with its own weight shape."""
    c_out, per_group = w_shape[0], w_shape[1]
    made_for = c_in // per_group if per_group and c_in % per_group == 0 else 0
    if made_for and c_out % made_for == 0:
        return (f"weight {w_shape} holds {per_group} input channels per group, so pass "
                f"groups={made_for}")
    return (f"pick groups from the common divisors of C_in = {c_in} and C_out = {c_out}: "
            f"{', '.join(map(str, groups_dividing(c_in, c_out)))}, with a weight "
            f"{layout(len(w_shape) - 2, 'C_out', 'C_in / groups', kernel=True)}")


def groups_dividing(*channels: int) -> list[int]:
    """Every groups value that divides all the channel counts given, smallest first."""
    return [g for g in range(1, min(channels) + 1) if all(c % g == 0 for c in channels)]
