"""unfold (im2col) and fold (col2im), as PyTorch's: unfold copies every sliding block of an image
batch into a column, fold adds columns back into an image. Each is the other's adjoint, so each
one's backward is the other, and both differentiate to every order."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.layout import check_sizes
from tinygrad_cnn.ops.shape import reshape
from tinygrad_cnn.value import Value, data_of

Pair = tuple[int, int]


def blocks(size: Pair, kernel_size: Pair, dilation: Pair, padding: Pair,
           stride: Pair) -> Pair:
    """(OH, OW): the sliding blocks along each axis, (H + 2 PH - DH (KH - 1) - 1) // SH + 1."""
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, d, p, s
                 in zip(size, kernel_size, dilation, padding, stride, strict=True))


def offset_slices(p: int, q: int, dilation: Pair, stride: Pair, count: Pair) -> tuple:
    """The positions of the padded image that kernel tap (p, q) reads in the OH x OW blocks:
    rows p*DH, p*DH + SH, ... (OH of them), columns likewise."""
    (dh, dw), (sh, sw), (oh, ow) = dilation, stride, count
    return (..., slice(p * dh, p * dh + sh * (oh - 1) + 1, sh),
            slice(q * dw, q * dw + sw * (ow - 1) + 1, sw))


class Unfold(Function):
    """im2col: x (N, C, H, W) -> (N, C*KH*KW, L), L = OH*OW blocks; column l holds the block at
    output position l (row-major), its entries channel by channel, each channel's KH x KW taps
    row-major, zeros where the block lies in the padding."""

    def forward(self, x, kernel_size, dilation, padding, stride):
        n, c, h, w = x.shape
        (kh, kw), (ph, pw) = kernel_size, padding
        self.size = (h, w)
        count = blocks(self.size, kernel_size, dilation, padding, stride)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        cols = np.empty((n, c, kh, kw, *count), dtype=x.dtype)
        for p in range(kh):             # one slice of the image per kernel tap
            for q in range(kw):
                cols[:, :, p, q] = xp[offset_slices(p, q, dilation, stride, count)]
        # (N, C, KH, KW, OH, OW) -> (N, C*KH*KW, L)
        return cols.reshape(n, c * kh * kw, math.prod(count))

    # out copies elements of x (an element in several blocks several times): dx[i] is the sum of
    # grad over every place x[i] was copied to, which is fold's sum of columns into an image
    def backward(self, grad):
        return Fold.run(grad, output_size=self.size, **self.params)


class Fold(Function):
    """col2im: cols (N, C*KH*KW, L) -> (N, C, H, W) for output_size (H, W): each column is a
    block, added into the image at its place; overlapping blocks add up, and what falls into
    the padding is dropped."""

    def forward(self, cols, output_size, kernel_size, dilation, padding, stride):
        (kh, kw), (ph, pw), (h, w) = kernel_size, padding, output_size
        n, c = cols.shape[0], cols.shape[1] // (kh * kw)
        count = blocks(output_size, kernel_size, dilation, padding, stride)
        cols = cols.reshape(n, c, kh, kw, *count)    # (N, C*KH*KW, L) -> (N, C, KH, KW, OH, OW)
        xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        for p in range(kh):             # unfold's slices, added to instead of read
            for q in range(kw):
                xp[offset_slices(p, q, dilation, stride, count)] += cols[:, :, p, q]
        return np.ascontiguousarray(xp[:, :, ph:ph + h, pw:pw + w])

    # out is linear in cols, and cols[n, c k, l] lands at the place unfold reads it from:
    # dcols = unfold(grad), with the same settings
    def backward(self, grad):
        settings = {key: value for key, value in self.params.items() if key != "output_size"}
        return Unfold.run(grad, **settings)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1) -> Value:
    """Every sliding KH x KW block of x as a column, as torch.nn.functional.unfold (im2col):
    x (N, C, H, W) -> (N, C*KH*KW, L), or one image (C, H, W) -> (C*KH*KW, L), where
    L = OH*OW and OH = (H + 2 PH - DH (KH - 1) - 1) // SH + 1 (likewise OW). Row c*KH*KW +
    p*KW + q of column l holds x[c, i*SH + p*DH - PH, j*SW + q*DW - PW] for block l = i*OW + j
    (0 in the padding). kernel_size, dilation, padding and stride are ints or (h, w) pairs.
    conv2d(x, w) is w.reshape(F, -1) @ unfold(x) reshaped to (N, F, OH, OW). The gradient is
    fold of the upstream gradient, with the same settings.
    """
    shape = np.shape(data_of(x))
    settings = _checked_settings("unfold", kernel_size, dilation, padding, stride)
    if len(shape) not in (3, 4):
        raise ValueError(f"unfold: input of shape {shape}; expected a batch of images "
                         f"(N, C, H, W) or one image (C, H, W); reshape it, e.g. "
                         f"x.reshape(N, C, H, W)")
    count = blocks(shape[-2:], *settings.values())
    if min(count) < 1:
        raise ValueError(f"unfold: input of shape {shape} has room for {count[0]} x {count[1]} "
                         f"blocks of kernel_size={settings['kernel_size']} (dilation="
                         f"{settings['dilation']}, padding={settings['padding']}); expected at "
                         f"least one block along each axis; pass a smaller kernel or dilation, "
                         f"or more padding")
    if len(shape) == 3:                 # one image: a batch of one, and the batch axis dropped
        out = Unfold.apply(reshape(x, (1, *shape)), **settings)
        return reshape(out, out.shape[1:])
    return Unfold.apply(x, **settings)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Value:
    """The columns of x added into an image, as torch.nn.functional.fold (col2im): x (N, C*KH*KW,
    L) -> (N, C, H, W) for output_size (H, W), or (C*KH*KW, L) -> (C, H, W); the adjoint of
    unfold with the same settings (L must be unfold's number of blocks for that image), so
    fold(unfold(x)) counts each pixel once per block that covers it. The gradient is unfold of
    the upstream gradient.
    """
    shape = np.shape(data_of(x))
    size = check_sizes("fold", "output_size", output_size, 1)
    settings = _checked_settings("fold", kernel_size, dilation, padding, stride)
    taps = math.prod(settings["kernel_size"])
    count = blocks(size, *settings.values())
    if len(shape) not in (2, 3):
        raise ValueError(f"fold: input of shape {shape}; expected columns (N, C*KH*KW, L) or "
                         f"(C*KH*KW, L), as unfold gives; reshape it, e.g. x.reshape(N, -1, L)")
    if shape[-2] % taps or shape[-2] == 0:
        raise ValueError(f"fold: input of shape {shape} has {shape[-2]} rows (axis -2) for "
                         f"kernel_size={settings['kernel_size']}; expected a multiple of "
                         f"KH*KW = {taps} (C*KH*KW, one row per channel and kernel tap); pass "
                         f"the kernel_size that unfold used")
    if min(count) < 1 or shape[-1] != math.prod(count):
        raise ValueError(f"fold: input of shape {shape} has {shape[-1]} columns (axis -1), but "
                         f"output_size={tuple(size)} with kernel_size="
                         f"{settings['kernel_size']}, dilation={settings['dilation']}, padding="
                         f"{settings['padding']} and stride={settings['stride']} has "
                         f"{count[0]} x {count[1]} = {max(count[0], 0) * max(count[1], 0)} "
                         f"blocks; expected one column per block; pass the image size and "
                         f"settings that unfold used")
    if len(shape) == 2:
        out = Fold.apply(reshape(x, (1, *shape)), output_size=size, **settings)
        return reshape(out, out.shape[1:])
    return Fold.apply(x, output_size=size, **settings)


def _checked_settings(op: str, kernel_size, dilation, padding, stride) -> dict[str, Pair]:
    """The four settings as (h, w) pairs, checked: kernel_size, dilation and stride >= 1,
    padding >= 0."""
    return {"kernel_size": check_sizes(op, "kernel_size", kernel_size, 1),
            "dilation": check_sizes(op, "dilation", dilation, 1),
            "padding": check_sizes(op, "padding", padding, 0),
            "stride": check_sizes(op, "stride", stride, 1)}
