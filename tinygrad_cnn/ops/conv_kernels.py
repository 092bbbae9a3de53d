"""The numpy kernels behind the convolution ops in conv.py: plain arrays in and out, no graph.
Each of conv2d, its weight gradient and its input gradient (which is the transposed
convolution) runs on spectra at stride 1 when the kernel is large and the layers wide, else
by banded window matrices (the input gradient by tiles or by rows);
tests/test_conv_kernels.py checks each algorithm against the nested loops of
tests/reference.py, and benchmarks/bench_ops.py --kernels times both at the seed's shapes.

Notation: x (N, C, H, W), w (F, C, KH, KW), g = dL/dout (N, F, OH, OW), stride (SH, SW),
padding (PH, PW); xp is x zero-padded (x itself when there is nothing to pad).

Dilation. conv.py calls dilated_forward, dilated_input_grad, dilated_weight_grad and
dilated_input_and_weight_grad, which at dilation (1, 1) are the kernels above. A kernel dilated
by (DH, DW) is the ordinary kernel `spread` out, w_d[f, c, p*DH, q*DW] = w[f, c, p, q] with
zeros between, of size `dilated_size` (DH (KH-1) + 1, DW (KW-1) + 1); with strides the kernels
run on w_d (or at its size) and read a weight gradient back at the kernel's own taps (`taps`,
dw = dw_d[:, :, ::DH, ::DW]). At stride 1 they multiply the taps only: output phase (r, s),
out[:, :, r::DH, s::DW], is the undilated convolution of the same phase of xp with w, so the
DH*DW phases go through the kernels above as one batch (`to_phases`, `from_phases`), on
spectra when w_d would have been (`spectral_phases`). benchmarks/bench_dilation.py times both.

Tiles. Output columns are grouped in tiles of J; the J windows of a tile cover KH rows and
span = (J-1)*SW + KW input columns of each channel. A strided view of xp shows that patch for
every (image, output row, tile); copying it makes the window matrix `cols`
(N*OH*tiles, C*KH*span), and one product with the banded weight (C*KH*span, J*F), whose block
j is w shifted by j*SW columns, gives every output. J = 1 is classic im2col. Tiles of
J = ceil(KW / SW) copy far less when windows overlap a lot (for 10x10 kernels, 19 columns per
10 windows instead of 100) but multiply the band's zeros, so they pay off only for kernels of
6 or more columns per stride. A row that would take two such tiles is one tile instead: the
band is up to half as wide again, but the patch of a whole row is KH contiguous image rows
(a long run to copy), no spare outputs need a padded copy of x, and there are half the
rows (the seed's first layer: forward 0.6 -> 0.4 ms, weight gradient 0.63 -> 0.45 ms with one
output channel, 1.40 -> 1.25 ms with 8).

Spectra. With stride 1, all three are products at each frequency of the 2-D discrete
Fourier transforms (DFTs) over the padded image's size (L_h, L_w): a (C, F) matrix product
per frequency instead of a sum over the KH*KW kernel offsets per output. The DFTs are matrix
products with the DFT matrices, along the width and then the height, so they cost
O(L_h + L_w) per element but run as a few large products. They pay off for kernels of 16
or more elements between layers of 4 or more channels (the seed's second layer, not its
first, whose one input channel leaves nothing to share). The batch goes through in blocks
whose spectra fill about 1 MB. A backward that needs both dx and dw transforms each block of
g once for the two (conv2d_input_and_weight_grad).

Rounding on spectra. A DFT mixes every pixel of an image into every frequency, so the
rounding error of each output is relative to the image's largest values, not to its own
window's. On activations of one scale the two paths round alike (float32, 4 to 16 channels:
largest error 0.9e-6 to 2.2e-6 against float64, PyTorch's float32 0.5e-6 to 7.2e-6). On an
image whose values span many orders of magnitude they do not: one pixel of 1e4 among values
of 1e-3 leaves outputs far from it, of size 0.017, off by 1.3e-3 in float32 (the banded path:
1e-9). Such inputs want float64, or normalising first.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

Pair = tuple[int, int]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Windows of `kernel` that fit `size` + 2*`padding` at steps of `stride`."""
    return (size + 2 * padding - kernel) // stride + 1


def dilated_size(kernel_size: Pair, dilation: Pair) -> Pair:
    """(DH (KH - 1) + 1, DW (KW - 1) + 1): the rows and columns a dilated kernel spans."""
    if dilation == (1, 1):
        return kernel_size
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation, strict=True))


def spread(w: np.ndarray, dilation: Pair) -> np.ndarray:
    """The dilated kernel as an ordinary one, w_d[a, b, p*DH, q*DW] = w[a, b, p, q] and zero
    between the taps: (A, B, KH, KW) -> (A, B, DH (KH - 1) + 1, DW (KW - 1) + 1); w itself at
    dilation (1, 1)."""
    if dilation == (1, 1):
        return w
    w_d = np.zeros(w.shape[:2] + dilated_size(w.shape[2:], dilation), dtype=w.dtype)
    w_d[:, :, ::dilation[0], ::dilation[1]] = w
    return w_d


def taps(dw_d: np.ndarray, dilation: Pair) -> np.ndarray:
    """The gradient of the spread kernel read at the kernel's own taps, dw[a, b, p, q] =
    dw_d[a, b, p*DH, q*DW]: (A, B, DH (KH - 1) + 1, DW (KW - 1) + 1) -> (A, B, KH, KW),
    contiguous; dw_d itself at dilation (1, 1). (The zeros between the taps are constants, so
    their gradients are dropped.)"""
    if dilation == (1, 1):
        return dw_d
    return np.ascontiguousarray(dw_d[:, :, ::dilation[0], ::dilation[1]])


def phased(stride: Pair, dilation: Pair) -> bool:
    """Whether a dilated convolution runs by phases (dilated_forward and the rest): stride 1
    and a dilation other than (1, 1). Strided ones run on the spread kernel."""
    return tuple(stride) == (1, 1) and tuple(dilation) != (1, 1)


def spectral_phases(w_shape: tuple[int, int, int, int], dilation: Pair, batch: int) -> bool:
    """Whether the phases of a dilated convolution run on spectra: when the spread kernel would
    have (`spectral` at its span). A DFT costs the same for any kernel, and the phases' are D
    times shorter; the taps alone by the banded window matrix are slower than that."""
    return spectral((*w_shape[:2], *dilated_size(w_shape[2:], dilation)), (1, 1), batch)


def phase_size(size: Pair, padding: Pair, dilation: Pair) -> Pair:
    """(ceil((H + 2 PH) / DH), ceil((W + 2 PW) / DW)): the rows and columns of each phase of the
    padded image, once padded with zeros to a multiple of the dilation."""
    return tuple(-(-(s + 2 * p) // d) for s, p, d in zip(size, padding, dilation, strict=True))


def to_phases(a: np.ndarray, offset: Pair, dilation: Pair, size: Pair) -> np.ndarray:
    """a (N, C, H, W) placed at row and column `offset` of a zero image of (L_h DH, L_w DW),
    cut into its DH*DW phases: (DH*DW*N, C, L_h, L_w), phase (r, s) of image n at batch index
    (r DW + s) N + n holding rows r, r + DH, ... and columns s, s + DW, ..., for size
    (L_h, L_w)."""
    n, c = a.shape[:2]
    (dh, dw), (lh, lw) = dilation, size
    phases = np.zeros((dh, dw, n, c, lh, lw), dtype=a.dtype)
    for r, s, rows, cols in phase_slices(a.shape[2:], offset, dilation):
        part = a[:, :, rows, cols]                 # a's rows and columns that fall in (r, s)
        i, j = (rows.start + offset[0]) // dh, (cols.start + offset[1]) // dw
        phases[r, s, :, :, i:i + part.shape[2], j:j + part.shape[3]] = part
    return phases.reshape(dh * dw * n, c, lh, lw)


def from_phases(a: np.ndarray, dilation: Pair, offset: Pair, size: Pair) -> np.ndarray:
    """to_phases undone: a (DH*DW*N, C, L_h, L_w) interleaved back into an image of
    (L_h DH, L_w DW) and read at rows and columns from `offset` for `size` (H, W) ->
    (N, C, H, W), contiguous."""
    (dh, dw), (h, w) = dilation, size
    n, c = a.shape[0] // (dh * dw), a.shape[1]
    phases = a.reshape(dh, dw, n, c, *a.shape[2:])
    out = np.empty((n, c, h, w), dtype=a.dtype)
    for r, s, rows, cols in phase_slices(size, offset, dilation):
        part = out[:, :, rows, cols]              # a view: filled in place
        i, j = (rows.start + offset[0]) // dh, (cols.start + offset[1]) // dw
        part[...] = phases[r, s, :, :, i:i + part.shape[2], j:j + part.shape[3]]
    return out


def phase_slices(size: Pair, offset: Pair, dilation: Pair) -> list[tuple[int, int, slice, slice]]:
    """(r, s, rows, cols) for each phase: an image of `size` placed at `offset` has its rows
    `rows` (every DH-th, from the first whose row plus offset is r mod DH) and columns `cols`
    in phase (r, s); every row and column is in exactly one phase (some phases may have none)."""
    (dh, dw), (oh, ow) = dilation, offset
    return [(r, s, slice((r - oh) % dh, size[0], dh), slice((s - ow) % dw, size[1], dw))
            for r in range(dh) for s in range(dw)]


def dilated_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair,
                    padding: Pair, dilation: Pair) -> np.ndarray:
    """conv2d (+ b) with the kernel's taps (DH, DW) apart: x (N, C, H, W), w (F, C, KH, KW) ->
    (N, F, OH, OW), contiguous. At stride 1, by phases: output phase (r, s) reads input phase
    (r, s) only, out[r + DH i', s + DW j'] = sum_{p,q} xp[r + DH (i' + p), s + DW (j' + q)]
    w[p, q], the undilated convolution of that phase with w, so the KH*KW taps are all that is
    multiplied; the phases run as one batch, on spectra or banded (spectral_phases). Else
    conv2d_forward on the spread kernel."""
    if not phased(stride, dilation):
        return conv2d_forward(x, spread(w, dilation), b, stride, padding)
    size = phase_size(x.shape[2:], padding, dilation)
    phases = to_phases(x, padding, dilation, size)           # (DH*DW*N, C, L_h, L_w)
    if spectral_phases(w.shape, dilation, x.shape[0]):
        out = spectral_forward(phases, w, None, (0, 0))
    else:
        out = banded_forward(phases, w, None, (1, 1), (0, 0))
    span = dilated_size(w.shape[2:], dilation)
    oh, ow = (x.shape[2 + a] + 2 * padding[a] - span[a] + 1 for a in (0, 1))
    out = from_phases(out, dilation, (0, 0), (oh, ow))   # phases past OH, OW read only zeros
    if b is not None:
        out += b.reshape(-1, 1, 1)
    return out


def dilated_input_grad(g: np.ndarray, w: np.ndarray, input_size: Pair, stride: Pair,
                       padding: Pair, dilation: Pair) -> np.ndarray:
    """dx of dilated_forward (the dilated transposed convolution of g with w): g (N, F, OH, OW),
    w (F, C, KH, KW) -> (N, C, H, W) for input_size (H, W), contiguous. At stride 1 each phase
    of g hands its undilated input gradient back to the same phase of xp; else
    conv2d_input_grad on the spread kernel."""
    if not phased(stride, dilation):
        return conv2d_input_grad(g, spread(w, dilation), input_size, stride, padding)
    size = phase_size(input_size, padding, dilation)
    g_size = (size[0] - w.shape[2] + 1, size[1] - w.shape[3] + 1)
    g_phases = to_phases(g, (0, 0), dilation, g_size)      # (DH*DW*N, F, L_h', L_w')
    if spectral_phases(w.shape, dilation, g.shape[0]):
        dxp = spectral_input_grad(g_phases, w, size, (0, 0))
    else:
        dxp = banded_input_grad(g_phases, w, size, (1, 1), (0, 0))
    return from_phases(dxp, dilation, padding, input_size)


def phases_of_both(x: np.ndarray, g: np.ndarray, kernel_size: Pair, padding: Pair,
                   dilation: Pair) -> tuple[Pair, np.ndarray, np.ndarray]:
    """(size, phases of xp, phases of g) for the gradients at stride 1: xp's phases of `size`
    (phase_size), and g's, each kernel_size - 1 rows and columns shorter (the undilated
    convolution of a phase of xp with w has that size)."""
    size = phase_size(x.shape[2:], padding, dilation)
    g_size = (size[0] - kernel_size[0] + 1, size[1] - kernel_size[1] + 1)
    return (size, to_phases(x, padding, dilation, size),
            to_phases(g, (0, 0), dilation, g_size))


def dilated_weight_grad(x: np.ndarray, g: np.ndarray, kernel_size: Pair, stride: Pair,
                        padding: Pair, dilation: Pair) -> np.ndarray:
    """dw of dilated_forward: x (N, C, H, W), g (N, F, OH, OW) -> (F, C, KH, KW),
    dw[f, c, p, q] = sum_{n,i,j} g[n, f, i, j] xp[n, c, i*SH + p*DH, j*SW + q*DW]. At stride 1,
    the sum over the phases of their undilated weight gradients (one batch of them); else the
    spread kernel's gradient read at the taps."""
    if not phased(stride, dilation):
        span = dilated_size(kernel_size, dilation)
        return taps(conv2d_weight_grad(x, g, span, stride, padding), dilation)
    _, phases, g_phases = phases_of_both(x, g, kernel_size, padding, dilation)
    if spectral_phases((g.shape[1], x.shape[1], *kernel_size), dilation, x.shape[0]):
        return spectral_weight_grad(phases, g_phases, kernel_size, (0, 0))
    return banded_weight_grad(phases, g_phases, kernel_size, (1, 1), (0, 0))


def dilated_input_and_weight_grad(x: np.ndarray, g: np.ndarray, w: np.ndarray, stride: Pair,
                                  padding: Pair, dilation: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dw) of dilated_forward, for a backward that needs both: dilated_input_grad's and
    dilated_weight_grad's results (on spectra, from one DFT of each block of g)."""
    if not phased(stride, dilation):
        dx, dw_d = conv2d_input_and_weight_grad(x, g, spread(w, dilation), stride, padding)
        return dx, taps(dw_d, dilation)
    size, phases, g_phases = phases_of_both(x, g, w.shape[2:], padding, dilation)
    if spectral_phases(w.shape, dilation, x.shape[0]):
        dxp, dw = spectral_backward(phases, g_phases, w, (0, 0))
    else:
        dxp = banded_input_grad(g_phases, w, size, (1, 1), (0, 0))
        dw = banded_weight_grad(phases, g_phases, w.shape[2:], (1, 1), (0, 0))
    return from_phases(dxp, dilation, padding, x.shape[2:]), dw


def tiling(kw: int, sw: int, ow: int) -> tuple[int, int, int]:
    """(J, tiles, span): outputs per tile, tiles per output row, input columns one tile reads."""
    tile = min(ow, -(-kw // sw)) if kw >= 6 * sw else 1
    if tile > 1 and ow <= 2 * tile:
        tile = ow                        # two tiles: the whole row as one instead
    tiles = -(-ow // tile)                                    # ceil(OW / J)
    return tile, tiles, (tile - 1) * sw + kw


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair,
                   padding: Pair) -> np.ndarray:
    """conv2d (+ b): x (N, C, H, W), w (F, C, KH, KW) -> (N, F, OH, OW), contiguous; on spectra
    or by the banded window matrix."""
    if spectral(w.shape, stride, x.shape[0]):
        return spectral_forward(x, w, b, padding)
    return banded_forward(x, w, b, stride, padding)


def banded_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Pair,
                   padding: Pair) -> np.ndarray:
    """out = cols @ w_band (+ b): x (N, C, H, W), w (F, C, KH, KW) -> (N, F, OH, OW), contiguous."""
    n, f = x.shape[0], w.shape[0]
    oh = output_size(x.shape[2], w.shape[2], stride[0], padding[0])
    ow = output_size(x.shape[3], w.shape[3], stride[1], padding[1])
    tile, tiles, span = tiling(w.shape[3], stride[1], ow)
    dtype = np.result_type(x.dtype, w.dtype)
    cols = window_matrix(x, w.shape[2:], stride, padding, (tile, tiles, span), oh, dtype)
    out = cols @ banded_weight(w, tile, stride[1], span, dtype)   # (N*OH*tiles, J*F)
    del cols                  # freed before the copy below: a lower peak of memory
    out = out.reshape(n, oh, tiles * tile, f)[:, :, :ow]      # NHWC, spare outputs cut
    # (N, OH, OW, F) -> NCHW, copied contiguous: the next elementwise op and its backward
    # then run over matching layouts instead of gathering across strides
    out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    if b is not None:
        out += b.reshape(-1, 1, 1)       # after the copy: runs of OH*OW, not of F, to add to
    return out


def conv2d_weight_grad(x: np.ndarray, g: np.ndarray, kernel_size: Pair, stride: Pair,
                       padding: Pair) -> np.ndarray:
    """dw: x (N, C, H, W), g (N, F, OH, OW) -> (F, C, KH, KW); on spectra or by the banded window
    matrix. dw[f, c, p, q] = sum_{n,i,j} g[n, f, i, j] xp[n, c, i*SH + p, j*SW + q]."""
    if spectral((g.shape[1], x.shape[1], *kernel_size), stride, x.shape[0]):
        return spectral_weight_grad(x, g, kernel_size, padding)
    return banded_weight_grad(x, g, kernel_size, stride, padding)


def banded_weight_grad(x: np.ndarray, g: np.ndarray, kernel_size: Pair, stride: Pair,
                       padding: Pair) -> np.ndarray:
    """dw = cols^T @ g, folded along the band:
    x (N, C, H, W), g (N, F, OH, OW) -> (F, C, KH, KW)."""
    c, (kh, kw), (_, sw) = x.shape[1], kernel_size, stride
    f, oh, ow = g.shape[1:]
    tile, tiles, span = tiling(kw, sw, ow)
    dtype = np.result_type(x.dtype, g.dtype)
    cols = window_matrix(x, kernel_size, stride, padding, (tile, tiles, span), oh, dtype)
    g_cols = (cols.T @ output_tiles(g, tile, tiles)).reshape(c, kh, span, tile, f)
    del cols                  # freed before dw: a lower peak of memory
    # dw[f, c, p, q] = sum_j g_cols[c, p, j*SW + q, j, f]: undo each band block's shift
    dw = np.zeros((c, kh, kw, f), dtype=dtype)
    for j in range(tile):
        dw += g_cols[:, :, j * sw:j * sw + kw, j]
    return dw.transpose(3, 0, 1, 2)                           # (C, KH, KW, F) -> (F, C, KH, KW)


def conv2d_input_grad(g: np.ndarray, w: np.ndarray, input_size: Pair, stride: Pair,
                      padding: Pair) -> np.ndarray:
    """dx, which is also the transposed convolution of g with w:
    g (N, F, OH, OW), w (F, C, KH, KW) -> (N, C, H, W) for input_size (H, W), contiguous.

    dx[n, c, h, v] = sum of g[n, f, i, j] w[f, c, p, q] over i*SH + p - PH = h and
    j*SW + q - PW = v: every output hands its gradient back to the window it read.
    """
    if spectral(w.shape, stride, g.shape[0]):
        return spectral_input_grad(g, w, input_size, padding)
    return banded_input_grad(g, w, input_size, stride, padding)


def conv2d_input_and_weight_grad(x: np.ndarray, g: np.ndarray, w: np.ndarray, stride: Pair,
                                 padding: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dw) of conv2d(x, w) for the upstream gradient g, for a backward that needs both:
    conv2d_input_grad's and conv2d_weight_grad's results, on spectra from one DFT of g."""
    if spectral(w.shape, stride, x.shape[0]):
        return spectral_backward(x, g, w, padding)
    return (conv2d_input_grad(g, w, x.shape[2:], stride, padding),
            conv2d_weight_grad(x, g, w.shape[2:], stride, padding))


def banded_input_grad(g: np.ndarray, w: np.ndarray, input_size: Pair, stride: Pair,
                      padding: Pair) -> np.ndarray:
    """dx by tiles (J > 1) or by rows (J = 1), as conv2d_input_grad."""
    if tiling(w.shape[3], stride[1], g.shape[3])[0] == 1:
        return input_grad_by_rows(g, w, input_size, stride, padding)
    return input_grad_by_tiles(g, w, input_size, stride, padding)


def window_matrix(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair,
                  tiling: tuple[int, int, int], oh: int, dtype) -> np.ndarray:
    """cols (N*OH*tiles, C*KH*span): row (n, i, t) is the patch that tile t of output row i
    reads, copied from window_patches (any padded copy of x is freed on return)."""
    patches = window_patches(x, kernel_size, stride, padding, tiling, oh, dtype)
    return patches.reshape(-1, math.prod(patches.shape[3:]))  # the copy


def window_patches(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair,
                   tiling: tuple[int, int, int], oh: int, dtype) -> np.ndarray:
    """A view (N, OH, tiles, C, KH, span): [n, i, t] is the patch that tile t of output row i
    reads from xp, the zero-padded x (a copy only when there is padding, a last tile wider than
    the image, or a dtype to convert)."""
    n, c, h, width = x.shape
    (kh, _), (sh, sw), (ph, pw) = kernel_size, stride, padding
    tile, tiles, span = tiling
    wide = max(width + 2 * pw, (tiles - 1) * tile * sw + span)
    xp = x
    if ph or wide > width or x.dtype != dtype:
        xp = np.zeros((n, c, h + 2 * ph, wide), dtype=dtype)
        xp[:, :, ph:ph + h, pw:pw + width] = x
    s_n, s_c, s_h, s_w = xp.strides
    # tile t of output row i reads rows i*SH.. and columns t*J*SW.. of every channel
    return as_strided(xp, (n, oh, tiles, c, kh, span),
                      (s_n, s_h * sh, s_w * tile * sw, s_c, s_h, s_w), writeable=False)


def banded_weight(w: np.ndarray, tile: int, sw: int, span: int, dtype) -> np.ndarray:
    """w_band (C*KH*span, J*F): w_band[(c, p, v), (j, f)] = w[f, c, p, v - j*SW], else zero."""
    f, c, kh, kw = w.shape
    w_band = np.zeros((c, kh, span, tile, f), dtype=dtype)
    v, j, q = band_positions(tile, sw, kw)
    w_band[:, :, v, j] = w.transpose(1, 2, 3, 0)[:, :, q]    # (C, KH, J*KW, F)
    return w_band.reshape(c * kh * span, tile * f)


def band_positions(tile: int, sw: int, kw: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v, j, q), each (J*KW,): block j of the band holds kernel column q at column
    v = j*SW + q, for j < J and q < KW in that order."""
    j, q = np.divmod(np.arange(tile * kw), kw)
    return j * sw + q, j, q


def output_tiles(g: np.ndarray, tile: int, tiles: int) -> np.ndarray:
    """g (N, F, OH, OW) -> (N*OH*tiles, J*F), channels-last, zero for the spare outputs."""
    n, f, oh, ow = g.shape
    g_nhwc = g.transpose(0, 2, 3, 1)                          # (N, OH, OW, F)
    if tiles * tile > ow:
        g_nhwc = np.concatenate(
            [g_nhwc, np.zeros((n, oh, tiles * tile - ow, f), dtype=g.dtype)], axis=2)
    return g_nhwc.reshape(n * oh * tiles, tile * f)


def input_grad_by_tiles(g: np.ndarray, w: np.ndarray, input_size: Pair, stride: Pair,
                        padding: Pair) -> np.ndarray:
    """dx for tiles of J > 1: g_tiles @ w_band^T is the gradient of every tile's patch, added
    back in place, one kernel row p at a time (so that only a KH-th of all patch gradients is
    ever held)."""
    n, f, oh, ow = g.shape
    c, kh, kw = w.shape[1:]
    (h, width), (sh, sw), (ph, pw) = input_size, stride, padding
    tile, tiles, span = tiling(kw, sw, ow)
    dtype = np.result_type(g.dtype, w.dtype)
    g_tiles = output_tiles(g, tile, tiles)                    # (N*OH*tiles, J*F)
    step = tile * sw                     # columns between neighbouring tiles
    groups = -(-span // step)            # tiles t, t + groups, ... never overlap
    # channels-last, so that each patch row added back is one contiguous run
    dxp = np.zeros((n, h + 2 * ph, max(width + 2 * pw, (tiles + groups) * step), c), dtype=dtype)
    # the band, kernel row by kernel row, channels last: w_rows[p, (v, c), (j, f)] =
    # w[f, c, p, v - j*SW]
    w_rows = np.zeros((kh, span, c, tile, f), dtype=dtype)
    v, j, q = band_positions(tile, sw, kw)
    w_rows[:, v, :, j] = w.transpose(3, 2, 1, 0)[q]          # (J*KW, KH, C, F)
    w_rows = w_rows.reshape(kh, span * c, tile * f)
    patch_grads = np.empty((n * oh * tiles, span * c), dtype=dtype)   # reused for every row
    for p in range(kh):
        # row p of every tile's patch gradient: (N*OH*tiles, J*F) @ (J*F, span*C)
        np.matmul(g_tiles, w_rows[p].T, out=patch_grads)
        part_grads = patch_grads.reshape(n, oh, tiles, span, c)
        rows = dxp[:, p:p + (oh - 1) * sh + 1:sh]          # input rows i*SH + p
        for first in range(min(groups, tiles)):
            part = part_grads[:, :, first::groups]         # (N, OH, m, span, C)
            m, start = part.shape[2], first * step
            # these tiles start every groups*step columns: cut the rows into such blocks
            blocks = rows[:, :, start:start + m * groups * step].reshape(
                n, oh, m, groups * step, c)
            blocks[:, :, :, :span] += part
    del g_tiles, w_rows, patch_grads, part_grads, part   # freed before the copy below
    # NHWC -> NCHW, contiguous like the input the gradient belongs to
    return np.ascontiguousarray(dxp[:, ph:ph + h, pw:pw + width].transpose(0, 3, 1, 2))


def input_grad_by_rows(g: np.ndarray, w: np.ndarray, input_size: Pair, stride: Pair,
                       padding: Pair) -> np.ndarray:
    """dx for J = 1, as the correlation of g with the kernel flipped both ways (x[h, v] meets
    w[p, q] through out[h-p, v-q]): along the width inside one product (g dilated by SW and
    padded by KW-1), along the height by KH additions. (col2im would take KH*KW strided
    additions; the full 2-D correlation as one product would multiply mostly zeros.)"""
    n, f, oh, ow = g.shape
    c, kh, kw = w.shape[1:]
    (h, width), (sh, sw), (ph, pw) = input_size, stride, padding
    reach = (ow - 1) * sw + kw          # padded-input columns that some window read
    # g dilated by SW along the width, with KW-1 zero columns on both sides
    g_wide = np.zeros((n, oh, reach + kw - 1, f), dtype=g.dtype)
    g_wide[:, :, kw - 1:kw - 1 + (ow - 1) * sw + 1:sw, :] = g.transpose(0, 2, 3, 1)
    s_n, s_h, s_w, s_c = g_wide.strides
    # (N, OH, reach, KW, F): for input column v, the KW gradient columns that can reach it
    g_windows = as_strided(g_wide, (n, oh, reach, kw, f), (s_n, s_h, s_w, s_w, s_c),
                           writeable=False)
    g_cols = g_windows.reshape(n * oh * reach, kw * f)      # the copy: (N*OH*reach, KW*F)
    # window column q' meets kernel column KW-1-q': w flipped along its width
    w_flip = w[:, :, :, ::-1].transpose(3, 0, 2, 1).reshape(kw * f, kh * c)
    # (KH*C, KW*F) @ (KW*F, N*OH*reach) -> (KH, C, N, OH, reach): kernel row p's share
    rows = (w_flip.T @ g_cols.T).reshape(kh, c, n, oh, reach)
    # (C, N, H, W) layout, so that each addition moves whole image rows
    dxp = np.zeros((c, n, h + 2 * ph, max(width + 2 * pw, reach)), dtype=rows.dtype)
    for p in range(kh):
        dxp[:, :, p:p + (oh - 1) * sh + 1:sh, :reach] += rows[p]
    # (C, N, H, W) -> (N, C, H, W), contiguous like the input the gradient belongs to
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + width].transpose(1, 0, 2, 3))


def spectral(w_shape: tuple[int, int, int, int], stride: Pair, batch: int) -> bool:
    """Whether the convolution with a weight of w_shape (F, C, KH, KW) runs on spectra: stride 1,
    kernels of 16 or more elements, 4 or more channels on both sides, and images to transform
    (an empty batch takes the banded path, which handles it)."""
    f, c, kh, kw = w_shape
    return tuple(stride) == (1, 1) and kh * kw >= 16 and min(c, f) >= 4 and batch > 0


def spectral_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                     padding: Pair) -> np.ndarray:
    """out = IDFT(X(k) conj(W(k))) (+ b) at stride 1: x (N, C, H, W), w (F, C, KH, KW) ->
    (N, F, OH, OW), contiguous.

    Correlation is a product of spectra, X(k) (N, C) @ conj(W(k)) (C, F) at each frequency k,
    over the padded size (L_h, L_w), where no window wraps around the edge.
    """
    n, c = x.shape[:2]
    f, _, kh, kw = w.shape
    size, dtype = padded_size(x.shape, padding), np.result_type(x.dtype, w.dtype)
    oh, ow = size[0] - kh + 1, size[1] - kw + 1
    # the conjugate spectrum of the real w (the same sums with e^{+...}), as (L_h*K_w, C, F)
    w_spectrum = spectrum(w, size, conjugate=True, dtype=dtype).reshape(-1, f, c)
    w_product = real_form(w_spectrum.transpose(0, 2, 1))
    del w_spectrum                               # freed before the blocks' arrays
    out = np.empty((n, f, oh, ow), dtype=dtype)
    for block in batch_blocks(n, size, c + f):
        m = block.stop - block.start
        x_spectrum = spectrum(x[block], size, padding, dtype=dtype).reshape(-1, m, c)
        out_spectrum = times_real_form(x_spectrum, w_product)      # (L_h*K_w, m, F)
        del x_spectrum                                     # freed before the inverse's arrays
        images = inverse_spectrum(out_spectrum.reshape(size[0], -1, m * f), size, (oh, ow))
        out[block] = images.reshape(oh, ow, m, f).transpose(2, 3, 0, 1)
    if b is not None:
        out += b.reshape(-1, 1, 1)
    return out


def spectral_weight_grad(x: np.ndarray, g: np.ndarray, kernel_size: Pair,
                         padding: Pair) -> np.ndarray:
    """dw = IDFT(conj(G(k))^T X(k)) at stride 1: x (N, C, H, W), g (N, F, OH, OW) ->
    (F, C, KH, KW). dw correlates xp with g, a sum over the batch at each frequency."""
    n, c = x.shape[:2]
    f = g.shape[1]
    size, dtype = padded_size(x.shape, padding), np.result_type(x.dtype, g.dtype)
    dw_conj = None                          # conj of dw's spectrum, summed over the blocks
    for block in batch_blocks(n, size, c + f):
        g_spectrum = spectrum(g[block], size, dtype=dtype)     # (L_h, K_w, m*F)
        dw_conj = add_weight_grad_block(dw_conj, x[block], g_spectrum, padding)
    return weight_grad_from_spectrum(dw_conj, size, kernel_size, dtype)


def spectral_input_grad(g: np.ndarray, w: np.ndarray, input_size: Pair,
                        padding: Pair) -> np.ndarray:
    """dx = IDFT(G(k) W(k)), cut to the image, at stride 1: g (N, F, OH, OW),
    w (F, C, KH, KW) -> (N, C, H, W), contiguous. The transposed convolution is a plain
    convolution of g with w, a product of spectra."""
    n, f = g.shape[:2]
    c = w.shape[1]
    (h, width), (ph, pw) = input_size, padding
    size, dtype = (h + 2 * ph, width + 2 * pw), np.result_type(g.dtype, w.dtype)
    w_product = real_form(spectrum(w, size, dtype=dtype).reshape(-1, f, c))
    dx = np.empty((n, c, h, width), dtype=dtype)
    for block in batch_blocks(n, size, c + f):
        g_spectrum = spectrum(g[block], size, dtype=dtype)     # (L_h, K_w, m*F)
        dx[block] = input_grad_block(g_spectrum, w_product, input_size, padding)
    return dx


def spectral_backward(x: np.ndarray, g: np.ndarray, w: np.ndarray,
                      padding: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dw) at stride 1, for a backward that needs both: the numbers of
    spectral_input_grad and spectral_weight_grad, with one DFT of each block of g serving
    both instead of one each."""
    n, c, h, width = x.shape
    f = w.shape[0]
    size, dtype = padded_size(x.shape, padding), np.result_type(x.dtype, g.dtype, w.dtype)
    w_product = real_form(spectrum(w, size, dtype=dtype).reshape(-1, f, c))
    dx, dw_conj = np.empty((n, c, h, width), dtype=dtype), None
    for block in batch_blocks(n, size, c + f):
        g_spectrum = spectrum(g[block], size, dtype=dtype)     # (L_h, K_w, m*F)
        dx[block] = input_grad_block(g_spectrum, w_product, (h, width), padding)
        dw_conj = add_weight_grad_block(dw_conj, x[block], g_spectrum, padding)
    return dx, weight_grad_from_spectrum(dw_conj, size, w.shape[2:], dtype)


def input_grad_block(g_spectrum: np.ndarray, w_product: np.ndarray, input_size: Pair,
                     padding: Pair) -> np.ndarray:
    """dx of one block: IDFT(G(k) W(k)) cut to the image, from G (L_h, K_w, m*F) and W in
    real_form (L_h*K_w, 2F, 2C) -> (m, C, H, W)."""
    lh, kw = g_spectrum.shape[:2]
    f, c = w_product.shape[1] // 2, w_product.shape[2] // 2
    m, (h, width), (ph, pw) = g_spectrum.shape[2] // f, input_size, padding
    dx_spectrum = times_real_form(g_spectrum.reshape(-1, m, f), w_product)   # (L_h*K_w, m, C)
    size = (h + 2 * ph, width + 2 * pw)
    dxp = inverse_spectrum(dx_spectrum.reshape(lh, kw, m * c), size, size)
    return dxp[ph:ph + h, pw:pw + width].reshape(h, width, m, c).transpose(2, 3, 0, 1)


def add_weight_grad_block(dw_conj: np.ndarray | None, x: np.ndarray, g_spectrum: np.ndarray,
                          padding: Pair) -> np.ndarray:
    """dw_conj + G(k)^T conj(X(k)) for one block of images x (m, C, H, W) and their G
    (L_h, K_w, m*F): the conjugate of this block's share of dw's spectrum, conj(G)^T X,
    summed in place (no new array for every block); a new sum when dw_conj is None."""
    lh, kw = g_spectrum.shape[:2]
    m, c = x.shape[:2]
    x_conj = spectrum(x, (lh, x.shape[3] + 2 * padding[1]), padding, conjugate=True,
                      dtype=g_spectrum.real.dtype).reshape(-1, m, c)
    # G(k)^T (F, m), copied contiguous for times_real_form
    g_t = np.ascontiguousarray(g_spectrum.reshape(lh * kw, m, -1).transpose(0, 2, 1))
    product = times_real_form(g_t, real_form(x_conj))            # (L_h*K_w, F, C)
    if dw_conj is None:
        return product
    dw_conj += product
    return dw_conj


def weight_grad_from_spectrum(dw_conj: np.ndarray, size: Pair, kernel_size: Pair,
                              dtype) -> np.ndarray:
    """dw (F, C, KH, KW) from the conjugate of its spectrum, (L_h*K_w, F, C)."""
    f, c = dw_conj.shape[1:]
    dw_spectrum = np.conj(dw_conj, out=dw_conj).reshape(size[0], -1, f * c)
    dw = inverse_spectrum(dw_spectrum, size, kernel_size)
    return dw.reshape(*kernel_size, f, c).transpose(2, 3, 0, 1).astype(dtype)   # (F, C, KH, KW)


def batch_blocks(n: int, size: Pair, channels: int) -> list[slice]:
    """The batch in blocks of images whose spectra (L_h*K_w frequencies times `channels`, in and
    out, complex) fill about 1 MB: each block's products then work in cache, and the memory
    they take and give back each call stays small."""
    per_image = size[0] * (size[1] // 2 + 1) * channels * 8      # bytes, in complex64
    blocks = -(-n * per_image // (1 << 20))                         # ceil
    bounds = [n * i // blocks for i in range(blocks + 1)]          # blocks of equal size
    return [slice(bounds[i], bounds[i + 1]) for i in range(blocks)]


def real_form(b: np.ndarray) -> np.ndarray:
    """The real matrices that multiply like the complex b (K, C, F): (K, 2C, 2F), for
    times_real_form. Row pair (c, re/im) and column pair (f, re/im) hold the 2x2 block
    [[Re b, Im b], [-Im b, Re b]] of b[k, c, f]: (p + iq)(r + is) = (pr - qs) + i(ps + qr)."""
    k, c, f = b.shape
    rows = np.empty((k, c, 2, f), dtype=b.dtype)
    rows[:, :, 0] = b                    # row (c, re): Re b, Im b in each column pair
    np.multiply(b, 1j, out=rows[:, :, 1])   # row (c, im): -Im b, Re b
    return rows.view(b.real.dtype).reshape(k, 2 * c, 2 * f)


def times_real_form(a: np.ndarray, b_real: np.ndarray) -> np.ndarray:
    """a @ b for a contiguous complex a (K, M, C) and b in real_form (K, 2C, 2F) -> complex
    (K, M, F): a seen as real numbers, its real and imaginary parts alternating, times b's real
    matrices, seen as complex again. For the small products at each frequency this runs two to
    three times as fast as numpy's complex matmul."""
    return (a.view(b_real.dtype) @ b_real).view(a.dtype)


def padded_size(x_shape: tuple[int, ...], padding: Pair) -> Pair:
    """(H + 2 PH, W + 2 PW): the DFT size, large enough that no window wraps around."""
    return x_shape[2] + 2 * padding[0], x_shape[3] + 2 * padding[1]


@functools.lru_cache(maxsize=64)
def dft_matrix(length: int, rows: int, columns: int, sign: int, dtype,
               shift: int = 0) -> np.ndarray:
    """(rows, columns): e^{sign 2 pi i k (h + shift) / length} at row k, column h, in complex
    dtype. Read-only and cached: every block and every step of a layer uses the same few."""
    k_h = np.outer(np.arange(rows), np.arange(shift, shift + columns)) % length   # exact
    matrix = np.exp(sign * 2j * np.pi * k_h / length).astype(dtype)
    matrix.flags.writeable = False
    return matrix


def spectrum(a: np.ndarray, size: Pair, offset: Pair = (0, 0), conjugate: bool = False,
             dtype=None) -> np.ndarray:
    """The 2-D DFT of the real images a (B1, B2, h, w), each placed at row and column `offset`
    of a zero image of size (L_h, L_w) -> complex (L_h, K_w, B1*B2), K_w = L_w // 2 + 1:
    S[k, l, b] = sum_{u,v} a[b, u, v] e^{-2 pi i (k(u + PH)/L_h + l(v + PW)/L_w)}, or its
    conjugate (e^{+...}). The bins l > L_w/2 are the conjugates of bins L_w - l (a is real), so
    they are left out; the zeros around a are left out of the sums."""
    h, w = a.shape[2:]
    (lh, lw), (ph, pw), kw = size, offset, size[1] // 2 + 1
    ctype = np.result_type(dtype or a.dtype, np.complex64)     # a hashable np.dtype
    sign = 1 if conjugate else -1
    batch = a.size // (h * w)
    f_w = dft_matrix(lw, kw, w, sign, ctype, pw)              # (K_w, w)
    # the result's memory holds the width step's (real) products first: one array less to
    # take from the heap and give back (pages given back are faulted in again on the next call)
    result = np.empty((lh, kw, batch), dtype=ctype)
    parts = result.reshape(-1).view(f_w.real.dtype)[:batch * h * 2 * kw].reshape(-1, 2 * kw)
    # along the width in real arithmetic: (B*h, w) @ (w, 2 K_w), the cosines then the sines
    np.matmul(a.reshape(-1, w), np.concatenate([f_w.real, f_w.imag]).T, out=parts)
    parts = parts.reshape(batch, h, 2, kw)
    # (B, h, K_w) -> (h, K_w, B): the images last, so the height step is one product
    rows = np.empty((h, kw, batch), dtype=ctype)
    rows.real, rows.imag = parts[:, :, 0].transpose(1, 2, 0), parts[:, :, 1].transpose(1, 2, 0)
    f_h = dft_matrix(lh, lh, h, sign, ctype, ph)              # (L_h, h)
    np.matmul(f_h, rows.reshape(h, -1), out=result.reshape(lh, -1))
    return result


def inverse_spectrum(s: np.ndarray, size: Pair, out_size: Pair) -> np.ndarray:
    """The real images (L_h, L_w, B) whose spectrum (as `spectrum` gives it) is s (L_h, K_w, B),
    at rows < out_size[0] and columns < out_size[1] only: (out_size[0], out_size[1], B).

    a[u, v] = (1/(L_h L_w)) Re sum_{k, l < K_w} c_l S[k, l] e^{2 pi i (ku/L_h + lv/L_w)}, with
    c_l = 2 for the bins that stand for their left-out conjugates too, else 1.
    """
    (lh, lw), (oh, ow), kw = size, out_size, s.shape[1]
    rows = dft_matrix(lh, oh, lh, 1, s.dtype) @ s.reshape(lh, -1)    # (OH, K_w*B)
    i_w = inverse_width_matrix(lh, lw, ow, s.dtype)                  # (OW, K_w)
    return np.matmul(i_w, rows.reshape(oh, kw, -1)).real     # (OH, OW, B)


@functools.lru_cache(maxsize=64)
def inverse_width_matrix(lh: int, lw: int, ow: int, dtype) -> np.ndarray:
    """(OW, K_w): c_l e^{2 pi i lv/L_w} / (L_h L_w) at row v, column l, the width's inverse DFT
    with the left-out conjugates folded in and the whole 1/(L_h L_w); read-only and cached."""
    kw = lw // 2 + 1
    twice = np.where((np.arange(kw) == 0) | (2 * np.arange(kw) == lw), 1, 2)
    matrix = dft_matrix(lw, ow, kw, 1, dtype) * (twice / (lh * lw)).astype(np.finfo(dtype).dtype)
    matrix.flags.writeable = False
    return matrix
