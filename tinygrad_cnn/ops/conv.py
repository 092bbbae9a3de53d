"""2-D convolution (cross-correlation, as in PyTorch), its transpose and its weight gradient:
three ops, each built from the others' rules, so gradients of any order exist. The numpy
kernels that make them fast are in conv_kernels.py."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import conv_kernels as kernels
from tinygrad_cnn.ops import indexing
from tinygrad_cnn.ops.linalg import gradcheck_hint
from tinygrad_cnn.value import Value, data_of


class Conv2d(Function):
    """out[n,f,i,j] = b[f] + sum_{c,p,q} xp[n, c, i*SH + p*DH, j*SW + q*DW] w[f,c,p,q]:
    x (N, C_in, H, W), w (C_out, C_in, KH, KW), b (C_out,) -> (N, C_out, OH, OW),
    OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1 and likewise OW; xp is x with PH, PW
    rows/columns of zeros. With dilation (DH, DW) it is the convolution with the spread kernel
    w_d (kernels.spread: w's taps DH rows and DW columns apart, zeros between), so everything
    below holds for w_d, and w's gradient is w_d's read at the taps (kernels.taps).

    As matrices: out = X W + b, where the window matrix X (N*OH*OW, C_in*KH*KW) holds the
    window that each output reads, one per row, and W is w as a (C_in*KH*KW, C_out) matrix.
    Backward, with G = dL/dout as a (N*OH*OW, C_out) matrix:
      dW = X^T G                                   -> conv2d_weight(x, g)
      dX = G W^T, each row handed back to the window it came from -> conv_transpose2d(g, w)
      db = the column sums of G.
    """

    def forward(self, x, w, b, stride=1, padding=0, dilation=1):
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        w_d = kernels.spread(w, self.dilation)           # w itself at dilation (1, 1)
        return kernels.conv2d_forward(x, w_d, b, self.stride, self.padding)

    # out = X W + b  =>  dx = conv_transpose2d(g, w) (G W^T back into the windows),
    # dw = conv2d_weight(x, g) (X^T G), db = g summed over (N, OH, OW); all with the dilation
    def backward(self, grad):
        x, w, b, _ = self.saved()
        dx = dw = db = None
        if self.needs_input_grad[0] and self.needs_input_grad[1] and not isinstance(grad, Value):
            # an ordinary backward that needs both: the two ops' results from one kernel
            # (which, on spectra, transforms g once instead of twice)
            w_d = kernels.spread(w, self.dilation)
            dx, dw_d = kernels.conv2d_input_and_weight_grad(x, grad, w_d, self.stride,
                                                            self.padding)
            dw = kernels.taps(dw_d, self.dilation)       # w_d's gradient at w's taps
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
    (DH, DW) the block is the spread kernel w_d (kernels.spread), as for conv2d.

    It is the transpose of conv2d with the same w (read as conv2d's (F, C, KH, KW)): out = the
    windows of G W^T added back in place, with G = x as (N*H*W, C_in) -- conv2d's input
    gradient -- so <conv_transpose2d(x, w), u> = <x, conv2d(u, w)> for every u. Backward:
      dx = conv2d(g, w), dw = conv2d_weight(g, x), db = the sum of g over (N, OH, OW).
    """

    def forward(self, x, w, b, stride=1, padding=0, output_padding=0, dilation=1):
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        size = _transposed_size(x.shape, w.shape, self.stride, self.padding,
                                _pair(output_padding), self.dilation)
        out = kernels.conv2d_input_grad(x, kernels.spread(w, self.dilation), size, self.stride,
                                        self.padding)
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
    With dilation it is the gradient of the spread kernel w_d read at w's taps.

    It is linear in x and in g: <dw, u> = <conv2d(x, u), g> for every u of w's shape. Backward:
      dx = conv_transpose2d(g, u), dg = conv2d(x, u), for the upstream gradient u.
    """

    def forward(self, x, g, *, weight_shape, stride=1, padding=0, dilation=1):
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        size = kernels.dilated_size(weight_shape[2:], self.dilation)
        dw_d = kernels.conv2d_weight_grad(x, g, size, self.stride, self.padding)
        return kernels.taps(dw_d, self.dilation)      # dw_d itself at dilation (1, 1)

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


def _pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair as a pair (already checked by the public functions)."""
    return (value, value) if isinstance(value, (int, np.integer)) else tuple(value)


def _leftover(x_shape, g_shape, w_shape, stride, padding, dilation) -> tuple[int, int]:
    """The output_padding that makes conv_transpose2d(g) give back x's (H, W): the rows and
    columns of the padded input below/right of the last window that g has, i.e.
    (H + 2 PH - DH (KH - 1) - 1) % SH for conv2d's own g, likewise W."""
    size = _transposed_size(g_shape, w_shape, stride, padding, (0, 0), dilation)
    return x_shape[2] - size[0], x_shape[3] - size[1]


def _transposed_size(x_shape, w_shape, stride, padding, output_padding,
                     dilation) -> tuple[int, int]:
    """conv_transpose2d's (OH, OW): (H - 1) SH - 2 PH + DH (KH - 1) + 1 + output_padding,
    likewise OW."""
    return tuple((x_shape[2 + a] - 1) * stride[a] - 2 * padding[a]
                 + dilation[a] * (w_shape[2 + a] - 1) + 1 + output_padding[a] for a in (0, 1))


def conv2d(x, w, b=None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
           groups: int = 1) -> Value:
    """2-D convolution: x (N, C_in, H, W), w (C_out, C_in / groups, KH, KW), b (C_out,) or None
    -> (N, C_out, OH, OW) with OH = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1
    (likewise OW), as PyTorch's argument order and formula.

    stride, padding and dilation are ints or (h, w) pairs. Cross-correlation, as in PyTorch: the
    kernel is not flipped. The layer computes in w's dtype: a constant input or bias of another
    dtype (a float64 `images / 255.0` batch, uint8 images) is converted to it; one that
    requires grad must already have it.

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
    groups = _check_groups(groups)
    x, b, xa, wa = _check_conv("conv2d", x, w, b, stride, padding, in_axis=1, groups=groups)
    dilations = _check_pair("conv2d", "dilation", dilation, 1)
    _check_kernel_fits("conv2d", xa.shape, wa.shape[2:], _pair(padding), dilations, dilation)
    params = _dilated({"stride": stride, "padding": padding}, dilation, dilations)
    if groups > 1:
        return _per_group(Conv2d, x, w, b, xa.shape[1], wa.shape[0], groups, **params)
    return Conv2d.apply(x, w, b, **params)


def _check_kernel_fits(fn: str, x_shape, kernel_size, padding, dilations, dilation) -> None:
    """The (dilated) kernel is at least 1x1 and spans no more than the padded input."""
    (kh, kw), (ph, pw) = kernel_size, padding
    hp, wp = x_shape[2] + 2 * ph, x_shape[3] + 2 * pw
    span = kernels.dilated_size((kh, kw), dilations)
    if span[0] <= hp and span[1] <= wp and min(kh, kw) >= 1:
        return
    if dilations == (1, 1) or min(kh, kw) < 1:
        raise ValueError(f"{fn}: kernel {kh}x{kw} does not fit the padded input {hp}x{wp} "
                         f"(input {x_shape}, padding ({ph}, {pw})); expected "
                         f"1 <= KH <= H + 2*padding and 1 <= KW <= W + 2*padding")
    # the fixes: enough padding on each axis, or the largest dilation that fits
    pads = tuple(max(p, -(-(s - size) // 2))
                 for p, s, size in zip((ph, pw), span, x_shape[2:], strict=True))
    largest = tuple(d if s <= size + 2 * p else (size + 2 * p - 1) // max(k - 1, 1)
                    for d, s, size, p, k in zip(dilations, span, x_shape[2:], (ph, pw), (kh, kw),
                                                strict=True))
    fix = f"use padding={pads}"
    if min(largest) >= 1:
        fix += f" or dilation={largest}"
    raise ValueError(f"{fn}: kernel {kh}x{kw} with dilation {dilation!r} spans {span[0]}x"
                     f"{span[1]}, which does not fit the padded input {hp}x{wp} (input "
                     f"{x_shape}, padding ({ph}, {pw})); expected dilation*(K - 1) + 1 <= "
                     f"size + 2*padding on both axes; {fix}")


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
    w (C_in, C_out / groups, KH, KW), b (C_out,) or None -> (N, C_out, OH, OW),
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
    """
    groups = _check_groups(groups, "conv_transpose2d")
    x, b, xa, wa = _check_conv("conv_transpose2d", x, w, b, stride, padding, in_axis=0,
                               groups=groups)
    if min(wa.shape[2:]) < 1:
        raise ValueError(f"conv_transpose2d: weight {wa.shape} has a {wa.shape[2]}x{wa.shape[3]} "
                         f"kernel; expected KH >= 1 and KW >= 1, as conv2d")
    steps, pads = _pair(stride), _pair(padding)
    extra = _check_pair("conv_transpose2d", "output_padding", output_padding, 0)
    dilations = _check_pair("conv_transpose2d", "dilation", dilation, 1)
    if any(e >= max(s, d) for e, s, d in zip(extra, steps, dilations, strict=True)):
        if dilations == (1, 1):
            raise ValueError(f"conv_transpose2d: output_padding {output_padding!r} is not "
                             f"smaller than stride {stride!r}; expected each output_padding < "
                             f"its stride")
        raise ValueError(f"conv_transpose2d: output_padding {output_padding!r} is not smaller "
                         f"than stride {stride!r} or dilation {dilation!r}; expected each "
                         f"output_padding < max(its stride, its dilation), as PyTorch")
    size = _transposed_size(xa.shape, wa.shape, steps, pads, extra, dilations)
    if min(size) < 1:
        kernel = f"kernel {wa.shape[2]}x{wa.shape[3]}"
        if dilations != (1, 1):
            kernel += f" with dilation {dilation!r}"
        raise ValueError(f"conv_transpose2d: the output would be {size[0]}x{size[1]} (input "
                         f"{xa.shape}, {kernel}, stride {stride!r}, padding {padding!r}); "
                         f"expected at least 1x1; use less padding")
    params = _dilated({"stride": stride, "padding": padding, "output_padding": output_padding},
                      dilation, dilations)
    if groups > 1:
        return _per_group(ConvTranspose2d, x, w, b, xa.shape[1], wa.shape[1] * groups, groups,
                          **params)
    return ConvTranspose2d.apply(x, w, b, **params)


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
    PyTorch's torch.nn.grad.conv2d_weight.
    """
    weight_shape = tuple(int(k) for k in weight_shape)
    xa, ga = np.asarray(data_of(x)), np.asarray(data_of(g))
    sh, sw = _check_pair("conv2d_weight", "stride", stride, 1)
    ph, pw = _check_pair("conv2d_weight", "padding", padding, 0)
    dilations = _check_pair("conv2d_weight", "dilation", dilation, 1)
    if xa.ndim != 4 or len(weight_shape) != 4 or min(weight_shape) < 1:
        raise ValueError(f"conv2d_weight: expected a 4-D input (N, C_in, H, W) and a weight "
                         f"shape of 4 positive sizes (C_out, C_in, KH, KW), got input "
                         f"{xa.shape} and weight_shape {weight_shape}")
    f, c = weight_shape[:2]
    _check_kernel_fits("conv2d_weight", xa.shape, weight_shape[2:], (ph, pw), dilations,
                       dilation)
    kh, kw = kernels.dilated_size(weight_shape[2:], dilations)
    expected = (xa.shape[0], f, kernels.output_size(xa.shape[2], kh, sh, ph),
                kernels.output_size(xa.shape[3], kw, sw, pw))
    if c != xa.shape[1] or ga.shape != expected:
        raise ValueError(f"conv2d_weight: g has shape {ga.shape} for input {xa.shape} and "
                         f"weight_shape {weight_shape}; expected g of conv2d's output shape "
                         f"{expected} and C_in = {xa.shape[1]}")
    params = _dilated({"stride": stride, "padding": padding}, dilation, dilations)
    return Conv2dWeightGrad.apply(x, g, weight_shape=weight_shape, **params)


def _check_conv(fn: str, x, w, b, stride, padding, in_axis: int, groups: int = 1):
    """The arrays of x, w, b after checking what conv2d and conv_transpose2d share: stride and
    padding, 4-D shapes, matching channels (w's axis `in_axis` meets x's channels, times
    `groups` for conv2d; for conv_transpose2d groups divides them and multiplies w's output
    channels), the bias's shape; then x and b in w's floating dtype (and x's array)."""
    xa, wa = np.asarray(data_of(x)), np.asarray(data_of(w))
    ba = None if b is None else np.asarray(data_of(b))
    _check_pair(fn, "stride", stride, 1)
    _check_pair(fn, "padding", padding, 0)
    if in_axis == 1:
        layout = "(C_out, C_in, KH, KW)"
    else:
        layout = "(C_in, C_out, KH, KW)" if groups == 1 else "(C_in, C_out / groups, KH, KW)"
    if wa.ndim != 4:
        raise ValueError(f"{fn}: weight has shape {wa.shape}; expected a 4-D weight {layout}")
    channels = wa.shape[1] * groups if in_axis == 1 else wa.shape[0]
    if xa.ndim != 4:
        raise ValueError(f"{fn}: input has shape {xa.shape}; expected a 4-D input "
                         f"(N, C_in, H, W) with C_in = {channels} for weight {wa.shape}"
                         f"{image_batch_hint(xa.shape, channels)}")
    if groups > 1 and in_axis == 1:
        _check_grouped_channels(fn, xa.shape, wa.shape, groups)
    elif xa.shape[1] != channels:
        hint = ("; for channels-last images (N, H, W, C) use x.transpose(0, 3, 1, 2)"
                if xa.shape[3] == channels else "")
        raise ValueError(f"{fn}: input has {xa.shape[1]} channels but weight expects "
                         f"{channels} (input {xa.shape}, weight {wa.shape}); expected equal "
                         f"C_in in input (N, C_in, H, W) and weight {layout}{hint}")
    elif groups > 1 and channels % groups:
        raise ValueError(f"{fn}: groups={groups} does not divide the {channels} input channels "
                         f"C_in (input {xa.shape}, weight {wa.shape}); expected C_in divisible "
                         f"by groups; pick groups from the divisors of C_in = {channels}: "
                         f"{', '.join(map(str, groups_dividing(channels)))}")
    outs = wa.shape[0] if in_axis == 1 else wa.shape[1] * groups
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


def _check_grouped_channels(fn: str, x_shape, w_shape, groups: int) -> None:
    """With groups G: G divides C_in (x's channels) and C_out (w's first axis), and w holds
    C_in / G input channels per output channel."""
    c_in, c_out = x_shape[1], w_shape[0]
    shapes = f"input {x_shape}, weight {w_shape}"
    for name, size in (("input channels C_in", c_in), ("output channels C_out", c_out)):
        if size % groups:
            raise ValueError(f"{fn}: groups={groups} does not divide the {size} {name} "
                             f"({shapes}); expected C_in and C_out both divisible by groups; "
                             f"{_groups_fix(c_in, w_shape)}")
    if w_shape[1] * groups != c_in:
        raise ValueError(f"{fn}: weight has {w_shape[1]} input channels per group but the "
                         f"input's {c_in} channels in groups={groups} are {c_in // groups} per "
                         f"group ({shapes}); expected weight (C_out, C_in / groups, KH, KW) = "
                         f"({c_out}, {c_in // groups}, {w_shape[2]}, {w_shape[3]})")


def _groups_fix(c_in: int, w_shape) -> str:
    """The groups that this weight (C_out, C_in / groups, KH, KW) is made for, when it divides
    C_out; else the valid groups, each with its own weight shape."""
    c_out, per_group = w_shape[0], w_shape[1]
    made_for = c_in // per_group if per_group and c_in % per_group == 0 else 0
    if made_for and c_out % made_for == 0:
        return (f"weight {w_shape} holds {per_group} input channels per group, so pass "
                f"groups={made_for}")
    return (f"pick groups from the common divisors of C_in = {c_in} and C_out = {c_out}: "
            f"{', '.join(map(str, groups_dividing(c_in, c_out)))}, with a weight "
            f"(C_out, C_in / groups, KH, KW)")


def groups_dividing(*channels: int) -> list[int]:
    """Every groups value that divides all the channel counts given, smallest first."""
    return [g for g in range(1, min(channels) + 1) if all(c % g == 0 for c in channels)]


def _check_pair(fn: str, name: str, value, minimum: int) -> tuple[int, int]:
    """An int or an (h, w) pair of ints as a pair, each at least `minimum`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
        raise ValueError(f"{fn}: {name} must be an int or a pair of ints (h, w), got {value!r}; "
                         f"pass e.g. {name}=1 or {name}=(1, 2)")
    if min(pair) < minimum:
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{fn}: {name} must be {bound}, got {value!r}; expected each value "
                         f">= {minimum}")
    return int(pair[0]), int(pair[1])


def image_batch_hint(shape: tuple[int, ...], channels: int = 1) -> str:
    """The reshape that turns a batch of images with a missing axis into (N, C, H, W), as
    '; <what it looks like>: use x.reshape(...)', or '' when there is no such reshape."""
    if len(shape) == 2:
        n, k = shape
        side = math.isqrt(k // channels)
        if n != k and side * side * channels == k:
            return (f"; it looks like {n} flattened {side}x{side} images: use "
                    f"x.reshape({n}, {channels}, {side}, {side})")
        if channels == 1:
            return f"; for one {n}x{k} image use x.reshape(1, 1, {n}, {k})"
    if len(shape) == 3:
        if channels > 1 and shape[0] == channels:
            return f"; for one image (C, H, W) use x.reshape(1, {', '.join(map(str, shape))})"
        if channels > 1 and shape[2] == channels:
            return (f"; for one channels-last image (H, W, C) use "
                    f"x.transpose(2, 0, 1).reshape(1, {channels}, {shape[0]}, {shape[1]})")
        if channels == 1:
            return (f"; the channel axis is missing from the batch (N, H, W): use "
                    f"x.reshape({shape[0]}, 1, {shape[1]}, {shape[2]})")
    return ""
