"""The numpy kernels behind the pooling ops in pool.py: plain arrays in and out, no graph. Each
window's maximum with the offset of its first maximum, by one strided view per offset in the
window (for 2x2 windows that tile the image, by four contiguous slabs instead); the gradient
scattered to that offset, and its transpose the gather, by flat indices of the argmax (the
scatter by views where windows overlap or have at most 4 elements).
tests/test_pool_kernels.py checks them against the loops of tests/reference.py.

The offset of (p, q) in a (KH, KW) window is p*KW + q, its row-major position; `argmax` holds
one per window, as int8 when KH*KW <= 128 (less memory to stream through), else intp. With
padding (PH, PW), the windows are those of the image with PH rows and PW columns added on each
side, and the offsets count within them; they never point into the padding. With ceil_mode, a
last window may hang past the bottom (right) padding: as many more rows (columns) are added
there (end_padding), so it is a window of the padded image like any other.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

Pair = tuple[int, int]


def window_views(x: np.ndarray, kernel: Pair, stride: Pair) -> Iterator[tuple]:
    """(p, q, view) for each offset (p, q) of a window, row-major: view[n, c, i, j] is
    x[n, c, i*SH + p, j*SW + q] for every window (i, j), (N, C, OH, OW), sharing x's memory."""
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    for p in range(kh):
        for q in range(kw):
            yield p, q, x[:, :, p:p + (oh - 1) * sh + 1:sh, q:q + (ow - 1) * sw + 1:sw]


def pooled_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """The number of windows along an axis of `size` elements, as PyTorch's pools count them:
    (size + 2 padding - kernel) // stride + 1, or with ceil_mode the ceiling of that division
    instead, less one where the last window would then start in the end padding (at or past
    size + padding): every window starts on the input or the padding before it."""
    span = size + 2 * padding - kernel
    if not ceil_mode:
        return span // stride + 1
    count = -(-span // stride) + 1
    return count - 1 if (count - 1) * stride >= size + padding else count


def end_padding(size: int, count: int, kernel: int, stride: int, padding: int) -> int:
    """The padding after the last element that `count` windows need along an axis: `padding`,
    or more where the last one (ceil_mode) hangs past it, to end at (count - 1)*stride + kernel
    of the padded axis. Windows that fit leave the end of the padding unused, as before."""
    return max(padding, (count - 1) * stride + kernel - size - padding)


def end_paddings(shape: tuple[int, ...], counts: tuple[int, ...], kernel: Pair, stride: Pair,
                 padding: Pair) -> Pair:
    """end_padding along H and W: shape (H, W), counts (OH, OW)."""
    return tuple(end_padding(*axis) for axis in zip(shape, counts, kernel, stride, padding,
                                                     strict=True))


def max_pool(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair = (0, 0),
             ceil_mode: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(out, argmax): each window's maximum and the offset of its first maximum (row-major, as
    PyTorch): x (N, C, H, W) -> two (N, C, OH, OW) arrays, OH = (H + 2 PH - KH) // SH + 1, or
    with ceil_mode pooled_size's count.

    The running maximum over the views x[:, :, p::SH, q::SW] in row-major order; a view
    replaces it only where strictly larger, so an equal later value leaves the first maximum.
    2x2 windows at stride 2 go by max_pool_2x2, padded windows (ceil_mode's hanging ones too)
    by max_pool_padded.
    """
    counts = tuple(pooled_size(*axis, ceil_mode) for axis in zip(x.shape[2:], kernel, stride,
                                                                 padding, strict=True))
    end = end_paddings(x.shape[2:], counts, kernel, stride, padding)
    if tuple(padding) != (0, 0) or end != (0, 0):
        return max_pool_padded(x, kernel, stride, padding, end)
    if tuple(kernel) == tuple(stride) == (2, 2):
        return max_pool_2x2(x)
    return max_pool_by_views(x, kernel, stride)


def max_pool_by_views(x: np.ndarray, kernel: Pair, stride: Pair) -> tuple[np.ndarray, np.ndarray]:
    """max_pool for any windows, by the running maximum over their views."""
    kw, out = kernel[1], None
    offset = np.int8 if kernel[0] * kernel[1] <= 128 else np.intp
    for p, q, view in window_views(x, kernel, stride):
        if out is None:
            out, argmax = view.copy(), np.zeros(view.shape, dtype=offset)
        else:
            argmax = np.where(view > out, p * kw + q, argmax)
            np.maximum(out, view, out=out)
    return out, argmax


def max_pool_padded(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair,
                    end: Pair | None = None) -> tuple[np.ndarray, np.ndarray]:
    """max_pool over the windows of x with PH rows and PW columns of padding on each side (EH
    rows and EW columns after the image where `end` says, for ceil_mode), which never wins
    (PyTorch's implicit -inf padding): the padding holds the dtype's lowest value, so no image
    element is below it; where a window's first maximum is still in the padding (its image
    elements all that lowest value, or a NaN first among them), it moves to the window's first
    image element, which is then that maximum (or the NaN, as in an unpadded window)."""
    kw, (sh, sw), (ph, pw), (h, w) = kernel[1], stride, padding, x.shape[2:]
    eh, ew = padding if end is None else end
    xp = np.pad(x, ((0, 0), (0, 0), (ph, eh), (pw, ew)), constant_values=lowest(x.dtype))
    out, argmax = max_pool_by_views(xp, kernel, stride)           # offsets within padded windows
    top, left = np.arange(out.shape[2]) * sh, np.arange(out.shape[3]) * sw   # window origins in xp
    p, q = np.divmod(argmax, kw)
    row, col = top.reshape(-1, 1) + p, left + q                    # (N, C, OH, OW), places in xp
    on_padding = (row < ph) | (row >= ph + h) | (col < pw) | (col >= pw + w)
    # the image part of a window is a rectangle: its first element is at row max(PH - top, 0)
    # and column max(PW - left, 0) of the window, (OH, OW)
    first_image = np.maximum(ph - top, 0).reshape(-1, 1) * kw + np.maximum(pw - left, 0)
    return out, np.where(on_padding, first_image.astype(argmax.dtype), argmax)


def lowest(dtype: np.dtype):
    """The value no element of this dtype is below: -inf for floats, else the dtype's minimum."""
    if dtype.kind == "f":
        return -np.inf
    return False if dtype.kind == "b" else np.iinfo(dtype).min


def max_pool_2x2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max_pool for 2x2 windows at stride 2: the four offsets of every window copied once into
    contiguous slabs a, b (top row), c, d (bottom row); the maximum of the two rows' maxima.
    Strict comparisons keep the first maximum: b over a, d over c, the bottom over the top only
    where larger."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    # (N, C, 2 OH, 2 OW) -> (N, C, OH, 2, OW, 2) -> (2, 2, N, C, OH, OW): slab [p, q] holds offset
    # (p, q) of every window; the last row and column of an odd-sized image are left out
    slabs = np.ascontiguousarray(
        x[:, :, :2 * oh, :2 * ow].reshape(n, c, oh, 2, ow, 2).transpose(3, 5, 0, 1, 2, 4))
    (a, b), (c_, d) = slabs
    top_right, bottom_right = b > a, d > c_
    top, bottom = np.maximum(a, b), np.maximum(c_, d)
    below = bottom > top
    # offsets 0 (a), 1 (b), 2 (c), 3 (d)
    argmax = np.where(below, bottom_right.view(np.int8) + np.int8(2), top_right.view(np.int8))
    return np.maximum(top, bottom), argmax


def max_pool_scatter(g: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...], kernel: Pair,
                     stride: Pair, padding: Pair = (0, 0)) -> np.ndarray:
    """dx: g (N, C, OH, OW) added to x_shape (N, C, H, W) at each window's argmax; overlapping
    windows add up. Windows apart (stride >= kernel) put g straight at the argmax's place in
    dx, as each element there receives at most one gradient: windows of up to 4 elements
    through the view of dx at each offset, which gets g times whether that offset is the
    argmax (for 2x2 windows, twice as fast as flat indices; an infinite g gives nan at the
    window's other offsets, 0 * inf); larger windows at flat indices. With padding, into the
    padded shape (with ceil_mode's rows and columns after the image, which argmax's OH x OW
    windows tell), then the padding (which no argmax points into) cut off."""
    (n, c, h, w), (ph, pw) = x_shape, padding
    eh, ew = end_paddings((h, w), argmax.shape[2:], kernel, stride, padding)
    if ph or pw or eh or ew:
        dxp = max_pool_scatter(g, argmax, (n, c, ph + h + eh, pw + w + ew), kernel, stride)
        return dxp[:, :, ph:ph + h, pw:pw + w]
    dx = np.zeros(x_shape, dtype=g.dtype)
    if stride[0] >= kernel[0] and stride[1] >= kernel[1]:
        if kernel[0] * kernel[1] > 4:
            np.put(dx, argmax_positions(argmax, x_shape, kernel, stride), g)
            return dx
        for p, q, view in window_views(dx, kernel, stride):
            np.multiply(g, argmax == p * kernel[1] + q, out=view)
        return dx
    for p, q, view in window_views(dx, kernel, stride):
        view += np.where(argmax == p * kernel[1] + q, g, 0)
    return dx


def argmax_positions(argmax: np.ndarray, x_shape: tuple[int, ...], kernel: Pair,
                     stride: Pair, padding: Pair = (0, 0)) -> np.ndarray:
    """The index in the flattened x_shape (N, C, H, W) of each window's argmax: the window's
    origin (i*SH - PH, j*SW - PW) in its image plus the offset (p, q) -> p*W + q (an origin
    in the padding is outside the image, but the argmax never is)."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    oh, ow = argmax.shape[2:]
    origins = ((np.arange(n * c).reshape(n, c, 1, 1) * h + np.arange(oh).reshape(oh, 1) * sh - ph)
               * w + np.arange(ow) * sw - pw)                        # (N, C, OH, OW)
    offsets = (np.arange(kh).reshape(kh, 1) * w + np.arange(kw)).reshape(-1)   # by p*KW + q
    return origins + offsets[argmax]


def max_pool_gather(u: np.ndarray, argmax: np.ndarray, kernel: Pair, stride: Pair,
                    padding: Pair = (0, 0)) -> np.ndarray:
    """u (N, C, H, W) at each window's argmax -> argmax's shape (N, C, OH, OW)."""
    return np.take(u, argmax_positions(argmax, u.shape, kernel, stride, padding))
