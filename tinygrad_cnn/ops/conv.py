"""2-D convolution (cross-correlation, as in PyTorch) over a batch of multi-channel images:
window views of the input and one matrix product, with a backward for input, weight and bias."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_cnn.function import Function
from tinygrad_cnn.value import Value


class Conv2d(Function):
    """out[n,f,i,j] = b[f] + sum_{c,p,q} x[n, c, i*SH + p - PH, j*SW + q - PW] w[f,c,p,q]:
    x (N, C_in, H, W), w (C_out, C_in, KH, KW), b (C_out,) -> (N, C_out, OH, OW),
    OH = (H + 2 PH - KH) // SH + 1 and likewise OW; x is zero outside the image.

    Forward, im2col by tiles: the padded input is copied channels-last (N, H, W, C), so a
    window row is one contiguous run. Output columns are grouped in tiles of J; the J windows
    of a tile cover KH rows x span = (J-1)*SW + KW input columns. A strided view shows that
    patch for every (image, output row, tile), one copy makes it the matrix `cols`
    (N*OH*tiles, KH*span*C), and one product with the banded weight (KH*span*C, J*C_out),
    whose block j is w shifted by j*SW columns, gives every output. J = 1 is classic im2col.

    Backward, with g = dL/dout:
      db[f] = sum_{n,i,j} g[n,f,i,j];
      dw[f,c,p,q] = sum_{n,i,j} g[n,f,i,j] x[n, c, i*SH + p, j*SW + q]: the product
        g^T @ cols, whose band block j is then shifted back by j*SW and the blocks summed;
      dx[n,c,h,v] = sum of g[n,f,i,j] w[f,c,p,q] over i*SH + p = h, j*SW + q = v: every
        output hands its gradient back to the window it read. With tiles, g @ band^T is the
        gradient of each patch, added back in place. For J = 1 that would be KH*KW strided
        additions (col2im); instead, since x[h, v] meets w[p, q] through out[h-p, v-q], dx is
        the correlation of g with the kernel flipped both ways: done along the width inside
        one product (g dilated by SW, padded by KW-1), along the height by KH additions.

    Speed: tiles of J = ceil(KW / SW) outputs copy far less when windows overlap a lot (for
    the seed's 10x10 kernels, 19 columns per 10 windows instead of 100) but multiply the
    band's zeros, so they are used for kernels of 6 or more columns per stride (measured:
    ~25% faster for 7x7 and 10x10, slower for 3x3 and 5x5). Measured once for the seed's
    second layer, dx this way took 5.4 ms; col2im 29 ms; the full correlation as one product,
    mostly zeros, 57 ms.
    """

    def forward(self, x, w, b, stride=1, padding=0):
        sh, sw = _pair("stride", stride, minimum=1)
        ph, pw = _pair("padding", padding, minimum=0)
        _check_shapes(x, w, b, ph, pw)
        n, c, h, width = x.shape
        f, _, kh, kw = w.shape
        oh, ow = (h + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1
        tile = min(ow, -(-kw // sw)) if kw >= 6 * sw else 1    # outputs per tile, J
        tiles = -(-ow // tile)                                    # ceil(OW / J)
        span = (tile - 1) * sw + kw                               # input columns of a tile
        dtype = np.result_type(x.dtype, w.dtype)
        # zero-padded and channels-last, wide enough for the last tile's spare outputs
        xp = np.zeros((n, h + 2 * ph, max(width + 2 * pw, (tiles - 1) * tile * sw + span), c),
                      dtype=dtype)
        xp[:, ph:ph + h, pw:pw + width, :] = x.transpose(0, 2, 3, 1)   # (N, C, H, W) -> NHWC
        s_n, s_h, s_w, s_c = xp.strides
        # tile t of output row i reads rows i*SH.. and columns t*J*SW..: (KH, span*C), a view
        patches = as_strided(xp, (n, oh, tiles, kh, span * c),
                             (s_n, s_h * sh, s_w * tile * sw, s_h, s_c), writeable=False)
        # w_band[(p, v, c), (j, f)] = w[f, c, p, v - j*SW], zero off the band
        w_band = np.zeros((kh, span, c, tile, f), dtype=dtype)
        for j in range(tile):
            w_band[:, j * sw:j * sw + kw, :, j] = w.transpose(2, 3, 1, 0)   # -> (KH, KW, C, F)
        w_band = w_band.reshape(kh * span * c, tile * f)
        cols = patches.reshape(n * oh * tiles, kh * span * c)     # the copy
        out = (cols @ w_band).reshape(n, oh, tiles * tile, f)[:, :, :ow]   # NHWC
        if b is not None:
            out += b
        # backward copies cols again from the view rather than keeping it: the copy costs less
        # than the fresh pages that a larger peak memory needs from the OS every step
        self.patches = patches if self.needs_input_grad[1] else None
        self.w, self.w_band = (w, w_band) if self.needs_input_grad[0] else (None, None)
        self.geometry = (x.shape, w.shape, (sh, sw), (ph, pw), (tile, tiles, span))
        # (N, OH, OW, F) -> NCHW, copied contiguous: the next elementwise op and its backward
        # then run over matching layouts instead of gathering across strides
        return np.ascontiguousarray(out.transpose(0, 3, 1, 2))

    # db = sum of g; dw = g^T @ cols, folded along the band; dx = g @ band^T added back to
    # each tile's patch, or for J = 1 the correlation of g with the kernel flipped both ways
    def backward(self, grad):
        n, f, oh, ow = grad.shape
        tile, tiles, span = self.geometry[4]
        g_nhwc = grad.transpose(0, 2, 3, 1)                       # (N, OH, OW, F)
        if tiles * tile > ow:                     # zero gradient for the spare outputs
            g_nhwc = np.concatenate(
                [g_nhwc, np.zeros((n, oh, tiles * tile - ow, f), dtype=grad.dtype)], axis=2)
        g_tiles = g_nhwc.reshape(n * oh * tiles, tile * f)       # (N*OH*tiles, J*F)
        dx = dw = db = None
        if self.needs_input_grad[1]:
            dw = self._weight_grad(g_tiles)
        if self.needs_input_grad[0]:
            dx = self._input_grad(grad, g_tiles)
        if self.needs_input_grad[2]:
            db = g_tiles.reshape(-1, f).sum(axis=0)
        return dx, dw, db

    def _weight_grad(self, g_tiles):
        """dL/dw: g_tiles (N*OH*tiles, J*F) -> (F, C, KH, KW)."""
        _, (f, c, kh, kw), (_, sw), _, (tile, _, span) = self.geometry
        cols = self.patches.reshape(-1, kh * span * c)    # the copy again: (N*OH*tiles, KH*span*C)
        g_cols = (g_tiles.T @ cols).reshape(tile, f, kh, span, c)
        # dw[f, c, p, q] = sum_j g_cols[j, f, p, j*SW + q, c]: undo each block's shift
        dw = np.zeros((f, kh, kw, c), dtype=g_cols.dtype)
        for j in range(tile):
            dw += g_cols[j, :, :, j * sw:j * sw + kw]
        return dw.transpose(0, 3, 1, 2)                           # (F, KH, KW, C) -> (F, C, KH, KW)

    def _input_grad(self, grad, g_tiles):
        """dL/dx: (N, F, OH, OW) -> (N, C, H, W)."""
        (n, c, h, width), (f, _, kh, kw), (sh, sw), (ph, pw), (tile, tiles, span) = self.geometry
        if tile == 1:
            return self._input_grad_by_rows(grad)
        oh = grad.shape[2]
        w_rows = self.w_band.reshape(kh, span * c, tile * f)    # one band per kernel row p
        step = tile * sw                     # columns between neighbouring tiles
        groups = -(-span // step)            # tiles t, t + groups, ... never overlap
        dxp = np.zeros((n, h + 2 * ph, max(width + 2 * pw, (tiles + groups) * step), c),
                       dtype=np.result_type(g_tiles.dtype, w_rows.dtype))
        for p in range(kh):
            # row p of every tile's patch gradient: (N*OH*tiles, J*F) @ (J*F, span*C), one
            # kernel row at a time so that only a KH-th of all patch gradients is ever held
            patch_grads = (g_tiles @ w_rows[p].T).reshape(n, oh, tiles, span, c)
            rows = dxp[:, p:p + (oh - 1) * sh + 1:sh]          # input rows i*SH + p
            for first in range(min(groups, tiles)):
                part = patch_grads[:, :, first::groups]        # (N, OH, m, span, C)
                m, start = part.shape[2], first * step
                # these tiles start every groups*step columns: cut the rows into such blocks
                blocks = rows[:, :, start:start + m * groups * step].reshape(
                    n, oh, m, groups * step, c)
                blocks[:, :, :, :span] += part
        # NHWC -> NCHW, contiguous like the input the gradient belongs to
        return np.ascontiguousarray(dxp[:, ph:ph + h, pw:pw + width].transpose(0, 3, 1, 2))

    def _input_grad_by_rows(self, grad):
        """dL/dx for J = 1: one product along the width, KH additions along the height."""
        (n, c, h, width), (f, _, kh, kw), (sh, sw), (ph, pw), _ = self.geometry
        oh, ow = grad.shape[2:]
        reach = (ow - 1) * sw + kw          # padded-input columns that some window read
        # g dilated by SW along the width, with KW-1 zero columns on both sides
        g_wide = np.zeros((n, oh, reach + kw - 1, f), dtype=grad.dtype)
        g_wide[:, :, kw - 1:kw - 1 + (ow - 1) * sw + 1:sw, :] = grad.transpose(0, 2, 3, 1)
        s_n, s_h, s_w, s_c = g_wide.strides
        # (N, OH, reach, KW, F): for input column v, the KW gradient columns that can reach it
        g_windows = as_strided(g_wide, (n, oh, reach, kw, f), (s_n, s_h, s_w, s_w, s_c),
                               writeable=False)
        g_cols = g_windows.reshape(n * oh * reach, kw * f)      # the copy: (N*OH*reach, KW*F)
        # window column q' meets kernel column KW-1-q': w flipped along its width
        w_flip = self.w[:, :, :, ::-1].transpose(3, 0, 2, 1).reshape(kw * f, kh * c)
        # (KH*C, KW*F) @ (KW*F, N*OH*reach) -> (KH, C, N, OH, reach): kernel row p's share
        rows = (w_flip.T @ g_cols.T).reshape(kh, c, n, oh, reach)
        # (C, N, H, W) layout, so that each addition moves whole image rows
        dxp = np.zeros((c, n, h + 2 * ph, width + 2 * pw), dtype=rows.dtype)
        for p in range(kh):
            dxp[:, :, p:p + (oh - 1) * sh + 1:sh, :reach] += rows[p]
        # (C, N, H, W) -> (N, C, H, W), contiguous like the input the gradient belongs to
        return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + width].transpose(1, 0, 2, 3))


def _pair(name: str, value, minimum: int) -> tuple[int, int]:
    """An int or an (h, w) pair of ints as a pair, each at least `minimum`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)):
        raise ValueError(f"conv2d: {name} must be an int or a pair of ints (h, w), got {value!r}; "
                         f"pass e.g. {name}=1 or {name}=(1, 2)")
    if min(pair) < minimum:
        bound = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"conv2d: {name} must be {bound}, got {value!r}; expected each value "
                         f">= {minimum}")
    return int(pair[0]), int(pair[1])


def _check_shapes(x, w, b, ph, pw) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-D input (N, C_in, H, W) and a 4-D weight "
                         f"(C_out, C_in, KH, KW), got input {x.shape} and weight {w.shape}; "
                         f"add a batch axis with x.reshape(1, *x.shape) for a single image")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but weight expects "
                         f"{w.shape[1]} (input {x.shape}, weight {w.shape}); expected equal "
                         f"C_in in input (N, C_in, H, W) and weight (C_out, C_in, KH, KW)")
    hp, wp = x.shape[2] + 2 * ph, x.shape[3] + 2 * pw
    if w.shape[2] > hp or w.shape[3] > wp or min(w.shape[2:]) < 1:
        raise ValueError(f"conv2d: kernel {w.shape[2]}x{w.shape[3]} does not fit the padded "
                         f"input {hp}x{wp} (input {x.shape}, padding ({ph}, {pw})); expected "
                         f"1 <= KH <= H + 2*padding and 1 <= KW <= W + 2*padding")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"conv2d: bias has shape {b.shape}; expected ({w.shape[0]},), one per "
                         f"output channel of weight {w.shape}")


def conv2d(x, w, b=None, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> Value:
    """2-D convolution: x (N, C_in, H, W), w (C_out, C_in, KH, KW), b (C_out,) or None
    -> (N, C_out, OH, OW) with OH = (H + 2*padding - KH) // stride + 1 (likewise OW).

    stride and padding are ints or (h, w) pairs. Cross-correlation, as in PyTorch: the kernel
    is not flipped. float32 stays float32.
    """
    return Conv2d.apply(x, w, b, stride=stride, padding=padding)
