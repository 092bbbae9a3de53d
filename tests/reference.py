"""Naive nested-loop conv2d (with its weight gradient and its transpose), conv3d and its
transpose, max_pool3d, avg_pool3d, adaptive_max_pool3d, max_unpool3d, max_pool2d (with
dilation and PyTorch's indices), max_unpool2d, avg_pool2d (with PyTorch's ceil_mode and
count_include_pad), adaptive_avg_pool2d, adaptive_max_pool2d (with PyTorch's indices) and
matmul, written straight from their definitions and sharing no code with the library: slow on
purpose, used only as test oracles."""

import math

import numpy as np


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1):
    """out[n,f,i,j] = b[f] + sum_{c,p,q} x[n, c, i*sh + p*dh - ph, j*sw + q*dw - pw] w[f,c,p,q],
    with x taken as zero outside the image: x (N, C, H, W), w (F, C, KH, KW) -> (N, F, OH, OW),
    OH = (H + 2*ph - dh*(KH - 1) - 1) // sh + 1 (likewise OW)."""
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    n_batch, channels, height, width = x.shape
    filters, _, kh, kw = w.shape
    oh = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n_batch, filters, oh, ow), dtype=np.result_type(x, w))
    for n in range(n_batch):
        for f in range(filters):
            for i in range(oh):
                for j in range(ow):
                    total = 0.0 if b is None else b[f]
                    for c in range(channels):
                        for p in range(kh):
                            for q in range(kw):
                                row, col = i * sh + p * dh - ph, j * sw + q * dw - pw
                                if 0 <= row < height and 0 <= col < width:
                                    total += x[n, c, row, col] * w[f, c, p, q]
                    out[n, f, i, j] = total
    return out


def conv2d_weight(x, g, kernel_size, stride=1, padding=0, dilation=1):
    """dw[f,c,p,q] = sum_{n,i,j} g[n,f,i,j] x[n, c, i*sh + p*dil_h - ph, j*sw + q*dil_w - pw] (x
    zero outside the image), the gradient of conv2d's output . g by its weight:
    -> (F, C, KH, KW)."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    dil_h, dil_w = (dilation, dilation) if isinstance(dilation, int) else dilation
    n_batch, channels, height, width = x.shape
    _, filters, oh, ow = g.shape
    dw = np.zeros((filters, channels, kh, kw), dtype=np.result_type(x, g))
    for f in range(filters):
        for c in range(channels):
            for p in range(kh):
                for q in range(kw):
                    total = 0.0
                    for n in range(n_batch):
                        for i in range(oh):
                            for j in range(ow):
                                row, col = i * sh + p * dil_h - ph, j * sw + q * dil_w - pw
                                if 0 <= row < height and 0 <= col < width:
                                    total += g[n, f, i, j] * x[n, c, row, col]
                    dw[f, c, p, q] = total
    return dw


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1):
    """Each input element scatters its kernel: out[n, o, i*sh + p*dh - ph, j*sw + q*dw - pw] +=
    x[n,c,i,j] w[c,o,p,q], dropping what lands outside: x (N, C_in, H, W), w (C_in, C_out, KH, KW)
    -> (N, C_out, OH, OW), OH = (H - 1)*sh - 2*ph + dh*(KH - 1) + 1 + output_padding (likewise
    OW)."""
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    oph, opw = (output_padding,) * 2 if isinstance(output_padding, int) else output_padding
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    n_batch, channels, height, width = x.shape
    _, outs, kh, kw = w.shape
    oh = (height - 1) * sh - 2 * ph + dh * (kh - 1) + 1 + oph
    ow = (width - 1) * sw - 2 * pw + dw * (kw - 1) + 1 + opw
    out = np.zeros((n_batch, outs, oh, ow), dtype=np.result_type(x, w))
    for n in range(n_batch):
        for c in range(channels):
            for i in range(height):
                for j in range(width):
                    for o in range(outs):
                        for p in range(kh):
                            for q in range(kw):
                                row, col = i * sh + p * dh - ph, j * sw + q * dw - pw
                                if 0 <= row < oh and 0 <= col < ow:
                                    out[n, o, row, col] += x[n, c, i, j] * w[c, o, p, q]
    if b is not None:
        for o in range(outs):
            out[:, o] += b[o]
    return out


def pool_output_size(size, kernel, stride, padding, ceil_mode=False, dilation=1):
    """How many windows a pool has along an axis, as PyTorch's pooling_output_shape: the floor
    of (size + 2*padding - dilation*(kernel - 1) - 1) / stride, plus 1; with ceil_mode the
    ceiling instead, then one fewer if the last window would start at or past size + padding
    (in the end padding)."""
    quotient = (size + 2 * padding - dilation * (kernel - 1) - 1) / stride
    count = (math.ceil(quotient) if ceil_mode else math.floor(quotient)) + 1
    if ceil_mode and (count - 1) * stride >= size + padding:
        count -= 1
    return count


def max_pool2d(x, kernel_size=2, stride=None, padding=0, ceil_mode=False, dilation=1,
               return_indices=False):
    """out[n,c,i,j] = max over p < KH, q < KW of x[n, c, i*sh + p*dh - ph, j*sw + q*dw - pw],
    over the elements inside the image only (padding never counts, as PyTorch's -inf padding,
    nor what a ceil_mode window hangs past it): x (N, C, H, W) -> (N, C, OH, OW),
    OH = pool_output_size(H, KH, sh, ph, ceil_mode, dh), stride defaulting to the kernel. With
    return_indices also the place row*W + col of each window's first maximum (row-major)."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if stride is None:
        stride = (kh, kw)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    n_batch, channels, height, width = x.shape
    oh = pool_output_size(height, kh, sh, ph, ceil_mode, dh)
    ow = pool_output_size(width, kw, sw, pw, ceil_mode, dw)
    out = np.zeros((n_batch, channels, oh, ow), dtype=x.dtype)
    indices = np.zeros((n_batch, channels, oh, ow), dtype=np.int64)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    best = None
                    for p in range(kh):
                        for q in range(kw):
                            row, col = i * sh + p * dh - ph, j * sw + q * dw - pw
                            if not (0 <= row < height and 0 <= col < width):
                                continue
                            if best is None or x[n, c, row, col] > best:
                                best = x[n, c, row, col]
                                indices[n, c, i, j] = row * width + col
                    out[n, c, i, j] = best
    return (out, indices) if return_indices else out


def max_unpool2d(x, indices, output_size):
    """out[n, c, k // OW, k % OW] = x[n, c, i, j] for k = indices[n, c, i, j], zeros elsewhere,
    visiting x row-major, so that of the elements naming one place the last is left (as
    PyTorch's loop): x, indices (N, C, H, W) -> (N, C, OH, OW), output_size (OH, OW)."""
    oh, ow = output_size
    out = np.zeros((*x.shape[:2], oh, ow), dtype=x.dtype)
    for n, c, i, j in np.ndindex(x.shape):
        k = indices[n, c, i, j]
        out[n, c, k // ow, k % ow] = x[n, c, i, j]
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """out[n,c,i,j] = sum over p < KH, q < KW of x[n, c, i*sh + p - ph, j*sw + q - pw] / d, x
    taken as zero outside the image: OH = pool_output_size(H, KH, sh, ph, ceil_mode), stride
    defaulting to the kernel. As PyTorch's avg_pool2d, the divisor d counts the window's
    positions before row H + ph and column W + pw (the zeros of the padding counted: the
    default count_include_pad=True; only a ceil_mode window reaches past them), or with
    count_include_pad=False only its positions inside the image."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if stride is None:
        stride = (kh, kw)
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    n_batch, channels, height, width = x.shape
    oh = pool_output_size(height, kh, sh, ph, ceil_mode)
    ow = pool_output_size(width, kw, sw, pw, ceil_mode)
    out = np.zeros((n_batch, channels, oh, ow), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    total, counted = 0.0, 0
                    for p in range(kh):
                        for q in range(kw):
                            row, col = i * sh + p - ph, j * sw + q - pw
                            inside = 0 <= row < height and 0 <= col < width
                            if inside:
                                total += x[n, c, row, col]
                            if inside or (count_include_pad and row < height + ph
                                          and col < width + pw):
                                counted += 1
                    out[n, c, i, j] = total / counted
    return out


def adaptive_avg_pool2d(x, oh, ow):
    """out[n,c,i,j] = the mean of x[n, c, r, s] over the rows r from floor(i*H/oh) up to (not
    including) ceil((i+1)*H/oh) and the columns s likewise: x (N, C, H, W) -> (N, C, oh, ow)."""
    n_batch, channels, height, width = x.shape
    out = np.zeros((n_batch, channels, oh, ow), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    top, bottom = math.floor(i * height / oh), math.ceil((i + 1) * height / oh)
                    left, right = math.floor(j * width / ow), math.ceil((j + 1) * width / ow)
                    total, count = 0.0, 0
                    for row in range(top, bottom):
                        for col in range(left, right):
                            total += x[n, c, row, col]
                            count += 1
                    out[n, c, i, j] = total / count
    return out


def matmul(a, b):
    """c[i,j] = sum_k a[i,k] b[k,j]: a (M, K), b (K, N) -> (M, N)."""
    rows, inner = a.shape
    cols = b.shape[1]
    out = np.zeros((rows, cols), dtype=np.result_type(a, b))
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for k in range(inner):
                total += a[i, k] * b[k, j]
            out[i, j] = total
    return out


def adaptive_max_pool2d(x, oh, ow):
    """out[n,c,i,j] = the maximum of x[n, c, r, s] over the rows r from floor(i*H/oh) up to (not
    including) ceil((i+1)*H/oh) and the columns s likewise, visiting the bin row by row, left to
    right, and taking a value only where it is larger than the maximum so far or a NaN (as
    PyTorch's loop): x (N, C, H, W) -> (out, indices), both (N, C, oh, ow), indices holding the
    place r*W + s of the value taken last (the first maximum, or the last NaN)."""
    n_batch, channels, height, width = x.shape
    out = np.zeros((n_batch, channels, oh, ow), dtype=x.dtype)
    indices = np.zeros((n_batch, channels, oh, ow), dtype=np.int64)
    for n in range(n_batch):
        for c in range(channels):
            for i in range(oh):
                for j in range(ow):
                    top, bottom = math.floor(i * height / oh), math.ceil((i + 1) * height / oh)
                    left, right = math.floor(j * width / ow), math.ceil((j + 1) * width / ow)
                    best, place = x[n, c, top, left], top * width + left
                    for row in range(top, bottom):
                        for col in range(left, right):
                            value = x[n, c, row, col]
                            if value > best or value != value:      # value != value: a NaN
                                best, place = value, row * width + col
                    out[n, c, i, j], indices[n, c, i, j] = best, place
    return out, indices


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """out[n, c*KH*KW + p*KW + q, i*OW + j] = x[n, c, i*sh + p*dh - ph, j*sw + q*dw - pw] (0
    outside the image): x (N, C, H, W) -> (N, C*KH*KW, OH*OW), PyTorch's im2col."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    n_batch, channels, height, width = x.shape
    oh = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n_batch, channels * kh * kw, oh * ow), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for p in range(kh):
                for q in range(kw):
                    for i in range(oh):
                        for j in range(ow):
                            row, col = i * sh + p * dh - ph, j * sw + q * dw - pw
                            if 0 <= row < height and 0 <= col < width:
                                out[n, c * kh * kw + p * kw + q, i * ow + j] = x[n, c, row, col]
    return out


def fold(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """out[n, c, i*sh + p*dh - ph, j*sw + q*dw - pw] += cols[n, c*KH*KW + p*KW + q, i*OW + j]
    for every place inside the image: cols (N, C*KH*KW, OH*OW) -> (N, C, H, W), PyTorch's
    col2im."""
    height, width = (output_size, output_size) if isinstance(output_size, int) else output_size
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    n_batch, rows, _ = cols.shape
    channels = rows // (kh * kw)
    oh = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n_batch, channels, height, width), dtype=cols.dtype)
    for n in range(n_batch):
        for c in range(channels):
            for p in range(kh):
                for q in range(kw):
                    for i in range(oh):
                        for j in range(ow):
                            row, col = i * sh + p * dh - ph, j * sw + q * dw - pw
                            if 0 <= row < height and 0 <= col < width:
                                out[n, c, row, col] += cols[n, c * kh * kw + p * kw + q,
                                                            i * ow + j]
    return out


def conv3d(x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0), dilation=(1, 1, 1), groups=1):
    """out[n,f,s,i,j] = b[f] + sum over c, r, p, q of xp[n, c, s*SD + r*DD, i*SH + p*DH,
    j*SW + q*DW] w[f, c, r, p, q], xp zero-padded, group g's filters reading its channels only.
    Settings are triples."""
    n, c, *size = x.shape
    f, per_group, *kernel = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)))
    out_size = [(s + 2 * p - d * (k - 1) - 1) // st + 1
                for s, p, d, k, st in zip(size, padding, dilation, kernel, stride, strict=True)]
    out = np.zeros((n, f, *out_size))
    for b_ in range(n):
        for o in range(f):
            first = o // (f // groups) * per_group            # the group's first input channel
            for s in range(out_size[0]):
                for i in range(out_size[1]):
                    for j in range(out_size[2]):
                        total = 0.0
                        for ci in range(per_group):
                            for r in range(kernel[0]):
                                for p in range(kernel[1]):
                                    for q in range(kernel[2]):
                                        at = (s * stride[0] + r * dilation[0],
                                              i * stride[1] + p * dilation[1],
                                              j * stride[2] + q * dilation[2])
                                        total += xp[(b_, first + ci, *at)] * w[o, ci, r, p, q]
                        out[b_, o, s, i, j] = total + (0.0 if b is None else b[o])
    return out


def max_pool3d(x, kernel, stride, padding=(0, 0, 0), ceil_mode=False, dilation=(1, 1, 1)):
    """(out, indices): the maximum of each (KD, KH, KW) window over the input elements it holds
    (padding never counts) and the place d*H*W + h*W + w of its first maximum in row-major order,
    the scan PyTorch's loops make (a later element wins only where strictly larger). Settings are
    triples."""
    n, c, *size = x.shape
    counts = [pool_output_size(s, k, st, p, ceil_mode, d)
              for s, k, st, p, d in zip(size, kernel, stride, padding, dilation, strict=True)]
    out, indices = np.zeros((n, c, *counts)), np.zeros((n, c, *counts), dtype=np.int64)
    for b in range(n):
        for ch in range(c):
            for s in range(counts[0]):
                for i in range(counts[1]):
                    for j in range(counts[2]):
                        best, where = -math.inf, None
                        for r in range(kernel[0]):
                            for p in range(kernel[1]):
                                for q in range(kernel[2]):
                                    at = (s * stride[0] - padding[0] + r * dilation[0],
                                          i * stride[1] - padding[1] + p * dilation[1],
                                          j * stride[2] - padding[2] + q * dilation[2])
                                    if not all(0 <= a < m for a, m in zip(at, size, strict=True)):
                                        continue
                                    value = x[b, ch, at[0], at[1], at[2]]
                                    if where is None or value > best:
                                        best, where = value, at
                        out[b, ch, s, i, j] = best
                        d, h, w = where
                        indices[b, ch, s, i, j] = (d * size[1] + h) * size[2] + w
    return out, indices


def avg_pool3d(x, kernel, stride, padding=(0, 0, 0), ceil_mode=False, count_include_pad=True):
    """The mean of each (KD, KH, KW) window of x zero-padded, with PyTorch's divisor: the
    elements the window covers of the input and its padding (only of the input when
    count_include_pad is False), a ceil_mode window cut at the end of the padding."""
    n, c, *size = x.shape
    counts = [pool_output_size(s, k, st, p, ceil_mode)
              for s, k, st, p in zip(size, kernel, stride, padding, strict=True)]
    out = np.zeros((n, c, *counts))
    for s in range(counts[0]):
        for i in range(counts[1]):
            for j in range(counts[2]):
                starts = [o * st - p for o, st, p in zip((s, i, j), stride, padding, strict=True)]
                ends = [min(a + k, m + p)
                        for a, k, m, p in zip(starts, kernel, size, padding, strict=True)]
                divisor = math.prod(e - a for a, e in zip(starts, ends, strict=True))
                lo = [max(a, 0) for a in starts]
                hi = [min(e, m) for e, m in zip(ends, size, strict=True)]
                if not count_include_pad:
                    divisor = math.prod(e - a for a, e in zip(lo, hi, strict=True))
                window = x[:, :, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
                out[:, :, s, i, j] = window.sum(axis=(2, 3, 4)) / divisor
    return out


def conv_transpose3d(x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0),
                     output_padding=(0, 0, 0), dilation=(1, 1, 1), groups=1):
    """Each input element scatters its kernel: out[n, o, s*SD + r*DD - PD, i*SH + p*DH - PH,
    j*SW + q*DW - PW] += x[n, c, s, i, j] w[c, o', r, p, q] for the output channels o of c's
    group (o' = o within the group), dropping what lands outside: x (N, C_in, D, H, W),
    w (C_in, C_out / groups, KD, KH, KW) -> (N, C_out, OD, OH, OW),
    OD = (D - 1)*SD - 2*PD + DD*(KD - 1) + 1 + output_padding (likewise OH, OW). Settings are
    triples."""
    n, channels, *size = x.shape
    _, per_group, *kernel = w.shape
    out_size = [(m - 1) * st - 2 * p + d * (k - 1) + 1 + e for m, st, p, d, k, e in
                zip(size, stride, padding, dilation, kernel, output_padding, strict=True)]
    out = np.zeros((n, per_group * groups, *out_size))
    for b_ in range(n):
        for c in range(channels):
            first = c // (channels // groups) * per_group      # the group's first output channel
            for s in range(size[0]):
                for i in range(size[1]):
                    for j in range(size[2]):
                        for o in range(per_group):
                            for r in range(kernel[0]):
                                for p in range(kernel[1]):
                                    for q in range(kernel[2]):
                                        at = (s * stride[0] + r * dilation[0] - padding[0],
                                              i * stride[1] + p * dilation[1] - padding[1],
                                              j * stride[2] + q * dilation[2] - padding[2])
                                        if all(0 <= a < m for a, m in zip(at, out_size,
                                                                          strict=True)):
                                            out[(b_, first + o, *at)] += (x[b_, c, s, i, j]
                                                                          * w[c, o, r, p, q])
    if b is not None:
        out += np.reshape(b, (-1, 1, 1, 1))
    return out


def adaptive_max_pool3d(x, output_size):
    """out[n,c,s,i,j] = the maximum of x[n, c, t, r, q] over the depths t from floor(s*D/OD) up
    to (not including) ceil((s+1)*D/OD), the rows and the columns likewise, visiting the bin in
    row-major order and taking a value only where it is larger than the maximum so far or a NaN
    (as PyTorch's loop): x (N, C, D, H, W) -> (out, indices), indices holding the place
    t*H*W + r*W + q of the value taken last."""
    n, c, *size = x.shape
    out = np.zeros((n, c, *output_size), dtype=x.dtype)
    indices = np.zeros((n, c, *output_size), dtype=np.int64)
    bins = [[(math.floor(k * m / o), math.ceil((k + 1) * m / o)) for k in range(o)]
            for m, o in zip(size, output_size, strict=True)]
    for b in range(n):
        for ch in range(c):
            for s, (d0, d1) in enumerate(bins[0]):
                for i, (h0, h1) in enumerate(bins[1]):
                    for j, (w0, w1) in enumerate(bins[2]):
                        best, place = x[b, ch, d0, h0, w0], (d0 * size[1] + h0) * size[2] + w0
                        for t in range(d0, d1):
                            for r in range(h0, h1):
                                for q in range(w0, w1):
                                    value = x[b, ch, t, r, q]
                                    if value > best or value != value:     # a NaN
                                        best, place = value, (t * size[1] + r) * size[2] + q
                        out[b, ch, s, i, j], indices[b, ch, s, i, j] = best, place
    return out, indices


def max_unpool3d(x, indices, output_size):
    """out[n, c, t, r, q] = x[n, c, s, i, j] for t*OH*OW + r*OW + q = indices[n, c, s, i, j],
    zeros elsewhere, visiting x row-major (so the last of equal indices is left): x, indices
    (N, C, D, H, W) -> (N, C, OD, OH, OW), output_size (OD, OH, OW)."""
    od, oh, ow = output_size
    out = np.zeros((*x.shape[:2], od, oh, ow), dtype=x.dtype)
    for n, c, s, i, j in np.ndindex(x.shape):
        k = indices[n, c, s, i, j]
        out[n, c, k // (oh * ow), k // ow % oh, k % ow] = x[n, c, s, i, j]
    return out
