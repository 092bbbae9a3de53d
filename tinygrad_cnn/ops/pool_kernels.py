"""The numpy kernels behind the pooling ops in pool.py: plain arrays in and out, no graph. Each
window's maximum with the offset of its first maximum, by one strided view per offset in the
window (for 2x2 windows that tile the image, by four contiguous slabs instead); the gradient
scattered to that offset, and its transpose the gather, by flat indices of the argmax (the
scatter by views where windows overlap or have at most 4 elements); the argmax as PyTorch's
per-plane indices; max_unpool's scatter to such indices and its transpose, the gather; the
adaptive max pools' bin maxima (axis by axis, of images and volumes) with their places, and the
scatter-add to such places and its transpose. tests/test_pool_kernels.py and
tests/test_layers_more.py check them against the loops of tests/reference.py.

The offset of (p, q) in a (KH, KW) window is p*KW + q, its row-major position; `argmax` holds
one per window, as int8 when KH*KW <= 128 (less memory to stream through), else intp. With
padding (PH, PW), the windows are those of the image with PH rows and PW columns added on each
side, and the offsets count within them; they never point into the padding. With ceil_mode, a
last window may hang past the bottom (right) padding: as many more rows (columns) are added
there (end_padding), so it is a window of the padded image like any other. With dilation
(DH, DW), the window's element (p, q) is p*DH rows and q*DW columns from its origin, so a
window spans DH*(KH - 1) + 1 rows (its "effective" height); the offset is still p*KW + q.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

Pair = tuple[int, int]


def window_views(x: np.ndarray, kernel: Pair, stride: Pair,
                 dilation: Pair = (1, 1)) -> Iterator[tuple]:
    """(p, q, view) for each offset (p, q) of a window, row-major: view[n, c, i, j] is
    x[n, c, i*SH + p*DH, j*SW + q*DW] for every window (i, j), (N, C, OH, OW), sharing x's
    memory."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1, (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    for p in range(kh):
        for q in range(kw):
            yield p, q, x[:, :, p * dh:p * dh + (oh - 1) * sh + 1:sh,
                          q * dw:q * dw + (ow - 1) * sw + 1:sw]


def pooled_size(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool,
                dilation: int = 1) -> int:
    """The number of windows along an axis of `size` elements, as PyTorch's pools count them:
    (size + 2 padding - dilation*(kernel - 1) - 1) // stride + 1, or with ceil_mode the ceiling
    of that division instead, less one where the last window would then start in the end
    padding (at or past size + padding): every window starts on the input or the padding
    before it."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    count = -(-span // stride) + 1
    return count - 1 if (count - 1) * stride >= size + padding else count


def end_padding(size: int, count: int, kernel: int, stride: int, padding: int,
                dilation: int = 1) -> int:
    """The padding after the last element that `count` windows need along an axis: `padding`,
    or more where the last one (ceil_mode) hangs past it, to end at (count - 1)*stride +
    dilation*(kernel - 1) + 1 of the padded axis. Windows that fit leave the end of the padding
    unused, as before."""
    return max(padding, (count - 1) * stride + dilation * (kernel - 1) + 1 - size - padding)


def end_paddings(shape: tuple[int, ...], counts: tuple[int, ...], kernel: Pair, stride: Pair,
                 padding: Pair, dilation: Pair = (1, 1)) -> Pair:
    """end_padding along H and W: shape (H, W), counts (OH, OW)."""
    return tuple(end_padding(*axis) for axis in zip(shape, counts, kernel, stride, padding,
                                                     dilation, strict=True))


def windows_without_image(size: int, count: int, kernel: int, stride: int, padding: int,
                          dilation: int) -> np.ndarray:
    """The windows along an axis none of whose elements is on the input (all on the padding),
    as an index array: with dilation, a window that starts in the front padding may step over
    a short input (size 2, kernel 2, dilation 3, padding 1: rows -1 and 2). Empty without."""
    start = np.arange(count) * stride - padding                    # each window's first element
    first = np.maximum((dilation - 1 - start) // dilation, 0)      # ceil(-start / D), or 0
    hits = (first < kernel) & (start + first * dilation < size)
    return np.flatnonzero(~hits)


def max_pool(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair = (0, 0),
             ceil_mode: bool = False,
             dilation: Pair = (1, 1)) -> tuple[np.ndarray, np.ndarray]:
    """(out, argmax): each window's maximum and the offset of its first maximum (row-major, as
    PyTorch): x (N, C, H, W) -> two (N, C, OH, OW) arrays, OH = (H + 2 PH - DH*(KH - 1) - 1)
    // SH + 1, or with ceil_mode pooled_size's count.

    The running maximum over the views x[:, :, p*DH::SH, q*DW::SW] in row-major order; a view
    replaces it only where strictly larger, so an equal later value leaves the first maximum.
    Undilated 2x2 windows at stride 2 go by max_pool_2x2, padded windows (ceil_mode's hanging
    ones too) by max_pool_padded.
    """
    counts = tuple(pooled_size(n, k, s, p, ceil_mode, d) for n, k, s, p, d in zip(
        x.shape[2:], kernel, stride, padding, dilation, strict=True))
    end = end_paddings(x.shape[2:], counts, kernel, stride, padding, dilation)
    if tuple(padding) != (0, 0) or end != (0, 0):
        return max_pool_padded(x, kernel, stride, padding, end, dilation)
    if tuple(kernel) == tuple(stride) == (2, 2) and tuple(dilation) == (1, 1):
        return max_pool_2x2(x)
    return max_pool_by_views(x, kernel, stride, dilation)


def max_pool_by_views(x: np.ndarray, kernel: Pair, stride: Pair,
                      dilation: Pair = (1, 1)) -> tuple[np.ndarray, np.ndarray]:
    """max_pool for any windows, by the running maximum over their views."""
    kw, out = kernel[1], None
    offset = np.int8 if kernel[0] * kernel[1] <= 128 else np.intp
    for p, q, view in window_views(x, kernel, stride, dilation):
        if out is None:
            out, argmax = view.copy(), np.zeros(view.shape, dtype=offset)
        else:
            argmax = np.where(wins(view, out), p * kw + q, argmax)
            np.maximum(out, view, out=out)
    return out, argmax


def wins(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """Where a later element of a window takes the maximum from an earlier one, as PyTorch's
    max pools decide: where it is strictly larger (so ties keep the first), or a NaN (so the
    last NaN of a window is its maximum and gets its gradient and index)."""
    larger = later > earlier
    return larger | np.isnan(later) if later.dtype.kind == "f" else larger


def max_pool_padded(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair,
                    end: Pair | None = None,
                    dilation: Pair = (1, 1)) -> tuple[np.ndarray, np.ndarray]:
    """max_pool over the windows of x with PH rows and PW columns of padding on each side (EH
    rows and EW columns after the image where `end` says, for ceil_mode), which never wins
    (PyTorch's implicit -inf padding): the padding holds the dtype's lowest value, so no image
    element is below it (and a NaN wins, as everywhere: wins); where a window's maximum is
    still in the padding (its image elements all that lowest value), it moves to the window's
    first image element, which is then that maximum. Every window holds an image element
    (pool.py refuses settings where one does not)."""
    kw, (sh, sw), (ph, pw), (h, w) = kernel[1], stride, padding, x.shape[2:]
    (dh, dw), (eh, ew) = dilation, padding if end is None else end
    xp = np.pad(x, ((0, 0), (0, 0), (ph, eh), (pw, ew)), constant_values=lowest(x.dtype))
    out, argmax = max_pool_by_views(xp, kernel, stride, dilation)   # offsets in padded windows
    top, left = np.arange(out.shape[2]) * sh, np.arange(out.shape[3]) * sw   # window origins in xp
    p, q = np.divmod(argmax, kw)
    row, col = top.reshape(-1, 1) + p * dh, left + q * dw          # (N, C, OH, OW), places in xp
    on_padding = (row < ph) | (row >= ph + h) | (col < pw) | (col >= pw + w)
    # the image part of a window is a grid of its elements: its first one is at offset
    # ceil((PH - top) / DH) along the rows, or 0 where the window starts on the image, and
    # likewise along the columns, (OH, OW)
    first_row, first_col = (np.maximum(-((top - ph) // dh), 0),
                            np.maximum(-((left - pw) // dw), 0))
    first_image = first_row.reshape(-1, 1) * kw + first_col
    return out, np.where(on_padding, first_image.astype(argmax.dtype), argmax)


def lowest(dtype: np.dtype):
    """The value no element of this dtype is below: -inf for floats, else the dtype's minimum."""
    if dtype.kind == "f":
        return -np.inf
    return False if dtype.kind == "b" else np.iinfo(dtype).min


def max_pool_2x2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """max_pool for 2x2 windows at stride 2: the four offsets of every window copied once into
    contiguous slabs a, b (top row), c, d (bottom row); the maximum of the two rows' maxima.
    As in max_pool_by_views (wins): b over a, d over c, the bottom over the top only where
    larger or NaN."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    # (N, C, 2 OH, 2 OW) -> (N, C, OH, 2, OW, 2) -> (2, 2, N, C, OH, OW): slab [p, q] holds offset
    # (p, q) of every window; the last row and column of an odd-sized image are left out
    slabs = np.ascontiguousarray(
        x[:, :, :2 * oh, :2 * ow].reshape(n, c, oh, 2, ow, 2).transpose(3, 5, 0, 1, 2, 4))
    (a, b), (c_, d) = slabs
    top_right, bottom_right = wins(b, a), wins(d, c_)
    top, bottom = np.maximum(a, b), np.maximum(c_, d)
    below = wins(bottom, top)
    # offsets 0 (a), 1 (b), 2 (c), 3 (d)
    argmax = np.where(below, bottom_right.view(np.int8) + np.int8(2), top_right.view(np.int8))
    return np.maximum(top, bottom), argmax


def max_pool_scatter(g: np.ndarray, argmax: np.ndarray, x_shape: tuple[int, ...], kernel: Pair,
                     stride: Pair, padding: Pair = (0, 0),
                     dilation: Pair = (1, 1)) -> np.ndarray:
    """dx: g (N, C, OH, OW) added to x_shape (N, C, H, W) at each window's argmax; overlapping
    windows add up. Windows apart (stride >= the window's span DH*(KH - 1) + 1, likewise along
    W) put g straight at the argmax's place in dx, as each element there receives at most one
    gradient: windows of up to 4 elements through the view of dx at each offset, which gets g
    times whether that offset is the argmax (for 2x2 windows, twice as fast as flat indices; an
    infinite g gives nan at the window's other offsets, 0 * inf); larger windows at flat
    indices. With padding, into the padded shape (with ceil_mode's rows and columns after the
    image, which argmax's OH x OW windows tell), then the padding (which no argmax points into)
    cut off."""
    (n, c, h, w), (ph, pw) = x_shape, padding
    eh, ew = end_paddings((h, w), argmax.shape[2:], kernel, stride, padding, dilation)
    if ph or pw or eh or ew:
        dxp = max_pool_scatter(g, argmax, (n, c, ph + h + eh, pw + w + ew), kernel, stride,
                               dilation=dilation)
        return dxp[:, :, ph:ph + h, pw:pw + w]
    dx = np.zeros(x_shape, dtype=g.dtype)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    if stride[0] >= spans[0] and stride[1] >= spans[1]:
        if kernel[0] * kernel[1] > 4:
            np.put(dx, argmax_positions(argmax, x_shape, kernel, stride, dilation=dilation), g)
            return dx
        for p, q, view in window_views(dx, kernel, stride, dilation):
            np.multiply(g, argmax == p * kernel[1] + q, out=view)
        return dx
    for p, q, view in window_views(dx, kernel, stride, dilation):
        view += np.where(argmax == p * kernel[1] + q, g, 0)
    return dx


def plane_positions(argmax: np.ndarray, size: Pair, kernel: Pair, stride: Pair,
                    padding: Pair = (0, 0), dilation: Pair = (1, 1)) -> np.ndarray:
    """The index h*W + w in its (H, W) image (size) of each window's argmax, (N, C, OH, OW),
    intp: the window's origin (i*SH - PH, j*SW - PW) plus its element (p*DH, q*DW), with
    (p, q) = divmod(argmax, KW). These are PyTorch's return_indices (an origin in the padding
    is outside the image, but the argmax never is)."""
    w, (kh, kw), (sh, sw), (ph, pw), (dh, dw) = size[1], kernel, stride, padding, dilation
    oh, ow = argmax.shape[2:]
    origins = (np.arange(oh).reshape(oh, 1) * sh - ph) * w + np.arange(ow) * sw - pw  # (OH, OW)
    offsets = (np.arange(kh).reshape(kh, 1) * dh * w + np.arange(kw) * dw).reshape(-1)  # by p*KW+q
    return origins + offsets[argmax]


def argmax_positions(argmax: np.ndarray, x_shape: tuple[int, ...], kernel: Pair,
                     stride: Pair, padding: Pair = (0, 0),
                     dilation: Pair = (1, 1)) -> np.ndarray:
    """The index in the flattened x_shape (N, C, H, W) of each window's argmax: its plane's
    first index (n*C + c)*H*W plus its place in the plane (plane_positions)."""
    n, c, h, w = x_shape
    planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)              # (N, C, 1, 1)
    return planes + plane_positions(argmax, (h, w), kernel, stride, padding, dilation)


def max_pool_gather(u: np.ndarray, argmax: np.ndarray, kernel: Pair, stride: Pair,
                    padding: Pair = (0, 0), dilation: Pair = (1, 1)) -> np.ndarray:
    """u (N, C, H, W) at each window's argmax -> argmax's shape (N, C, OH, OW)."""
    return np.take(u, argmax_positions(argmax, u.shape, kernel, stride, padding, dilation))


def unpool_targets(indices: np.ndarray, size: Pair) -> tuple[np.ndarray, np.ndarray | None]:
    """(targets, winners) for max_unpool of x (N, C, H, W) with `indices` (x's shape) into
    planes of `size` (OH, OW): targets, the index of each element's place in the flattened
    (N, C, OH, OW) output, (n*C + c)*OH*OW + indices; winners, None when no two elements of a
    plane share an index, else a bool mask (x's shape) of the elements that are written: of
    those sharing an index, the last in x's row-major order (its plane's last, as PyTorch's
    loop over x leaves it)."""
    n, c = indices.shape[:2]
    planes = np.arange(n * c).reshape(n, c, 1, 1) * (size[0] * size[1])   # (N, C, 1, 1)
    targets = (planes + indices).reshape(-1)                               # (N*C*H*W,)
    if np.bincount(targets, minlength=1).max(initial=0) <= 1:
        return targets, None
    # np.unique gives each target's first place in the reversed order: its last in x's order
    last = targets.size - 1 - np.unique(targets[::-1], return_index=True)[1]
    winners = np.zeros(targets.size, dtype=bool)
    winners[last] = True
    return targets, winners.reshape(indices.shape)


def max_unpool(x: np.ndarray, indices: np.ndarray, size: Pair) -> np.ndarray:
    """out (N, C, OH, OW), zeros but for out[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j]:
    x, indices (N, C, H, W), size (OH, OW); where elements of a plane share an index, the last
    one (row-major) is written (unpool_targets)."""
    targets, winners = unpool_targets(indices, size)
    out = np.zeros((*x.shape[:2], *size), dtype=x.dtype)
    if winners is None:
        out.reshape(-1)[targets] = x.reshape(-1)
    else:
        out.reshape(-1)[targets[winners.reshape(-1)]] = x[winners]
    return out


def max_unpool_gather(g: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """max_unpool's transpose: dx[n, c, i, j] = g[n, c].flat[indices[n, c, i, j]] for each
    element written, 0 for one whose place a later element of its plane took: g (N, C, OH, OW)
    -> indices' shape (N, C, H, W)."""
    targets, winners = unpool_targets(indices, g.shape[2:])
    dx = np.take(g, targets).reshape(indices.shape)
    return dx if winners is None else np.where(winners, dx, 0).astype(g.dtype, copy=False)


def adaptive_bins(size: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of PyTorch's adaptive bins along an axis of `size` elements, each (bins,):
    bin i is [floor(i*size/bins), ceil((i+1)*size/bins))."""
    i = np.arange(bins)
    return i * size // bins, -(-(i + 1) * size // bins)


def bin_max(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(out, place): the maximum of x (..., L) over each of `bins` adaptive bins of its last axis
    and the position in L of the first maximum (or the last NaN: wins), (..., bins) each.

    A running maximum over the offsets k of the bins, all bins at once: offset k of bin i is
    x[..., start_i + k], which counts only where k < its length (bins may differ by one)."""
    start, end = adaptive_bins(x.shape[-1], bins)
    out, place = x[..., start], np.broadcast_to(start, x.shape[:-1] + (bins,))
    for k in range(1, int((end - start).max())):
        inside = k < end - start                                  # (bins,)
        later = x[..., np.minimum(start + k, end - 1)]            # (..., bins)
        taken = wins(later, out) & inside
        out, place = np.where(taken, later, out), np.where(taken, start + k, place)
    return out, place


def adaptive_max_pool(x: np.ndarray, size: Pair) -> tuple[np.ndarray, np.ndarray]:
    """(out, places): the maximum of each adaptive bin rows(i) x cols(j) of x (N, C, H, W), and
    the place h*W + w in its (H, W) plane of its first maximum in row-major order (a NaN wins,
    the last one of a bin: wins), as PyTorch's adaptive_max_pool2d: two (N, C, OH, OW) arrays,
    size = (OH, OW).

    By axes: each row's maximum over each column bin (its first, or its last NaN), then the
    first of those row maxima over each row bin that wins (wins). That is the row-major scan of
    the whole bin: the first maximum lies in the first row holding the bin's maximum, at that
    row's first maximum; the last NaN in the last row holding a NaN, at its last NaN."""
    (oh, ow), w = size, x.shape[3]
    by_row, cols = bin_max(x, ow)                                    # (N, C, H, OW)
    out, rows = bin_max(by_row.swapaxes(2, 3), oh)                   # (N, C, OW, OH)
    out, rows = out.swapaxes(2, 3), rows.swapaxes(2, 3)              # (N, C, OH, OW)
    return np.ascontiguousarray(out), rows * w + np.take_along_axis(cols, rows, axis=2)


def adaptive_max_pool3d(x: np.ndarray, size: tuple[int, int, int]) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """(out, places): the maximum of each adaptive bin depths(s) x rows(i) x cols(j) of
    x (N, C, D, H, W), and the place d*H*W + h*W + w in its volume of its first maximum in
    row-major order (a NaN wins, the last one of a bin: wins), as PyTorch's adaptive_max_pool3d:
    two (N, C, OD, OH, OW) arrays, size = (OD, OH, OW).

    By axes, as adaptive_max_pool: each depth slice's maximum over each (rows, cols) bin
    (adaptive_max_pool on the slices), then the first of those slice maxima over each depth bin
    that wins. The first maximum of the whole bin lies in the first slice holding its maximum, at
    that slice's first maximum; the last NaN in the last slice holding one, at its last NaN."""
    (od, oh, ow), (n, c, d, h, w) = size, x.shape
    by_slice, at = adaptive_max_pool(x.reshape(n, c * d, h, w), (oh, ow))   # (N, C*D, OH, OW)
    by_slice, at = by_slice.reshape(n, c, d, oh * ow), at.reshape(n, c, d, oh * ow)
    out, depths = bin_max(by_slice.swapaxes(2, 3), od)             # (N, C, OH*OW, OD)
    out, depths = out.swapaxes(2, 3), depths.swapaxes(2, 3)        # (N, C, OD, OH*OW)
    places = depths * (h * w) + np.take_along_axis(at, depths, axis=2)
    return (np.ascontiguousarray(out).reshape(n, c, od, oh, ow),
            places.reshape(n, c, od, oh, ow))


def plane_scatter(g: np.ndarray, places: np.ndarray, x_shape: tuple[int, ...]) -> np.ndarray:
    """dx (x_shape (N, C, H, W)): each g[n, c, i, j] added at place places[n, c, i, j] = h*W + w
    of its own plane; places named several times (overlapping bins) get the sum."""
    n, c, h, w = x_shape
    planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)              # (N, C, 1, 1)
    dx = np.bincount((planes + places).reshape(-1), weights=g.reshape(-1).astype(np.float64),
                     minlength=n * c * h * w)
    return dx.reshape(x_shape).astype(g.dtype, copy=False)


def plane_gather(u: np.ndarray, places: np.ndarray) -> np.ndarray:
    """u (N, C, H, W) read at each place h*W + w of its plane -> places' shape (N, C, OH, OW)."""
    n, c = u.shape[:2]
    flat = np.take_along_axis(u.reshape(n, c, -1), places.reshape(n, c, -1), axis=2)
    return flat.reshape(places.shape)


def volume_views(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                 dilation: tuple[int, ...] = (1, 1, 1)) -> Iterator[tuple]:
    """(t, view) for each offset (r, p, q) of a (KD, KH, KW) window, row-major, t = (r*KH + p)*KW
    + q: view[n, c, s, i, j] is x[n, c, s*SD + r*DD, i*SH + p*DH, j*SW + q*DW] for every window
    (s, i, j), (N, C, OD, OH, OW), sharing x's memory."""
    counts = [(n - d * (k - 1) - 1) // s + 1
              for n, k, s, d in zip(x.shape[2:], kernel, stride, dilation, strict=True)]
    for t, taps in enumerate(itertools.product(*map(range, kernel))):
        yield t, x[(slice(None), slice(None),
                    *(slice(p * d, p * d + (o - 1) * s + 1, s)
                      for p, d, o, s in zip(taps, dilation, counts, stride, strict=True)))]


def max_pool3d(x: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
               padding: tuple[int, ...], ceil_mode: bool,
               dilation: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(out, places): each window's maximum and the place d*H*W + h*W + w in its (D, H, W) volume
    of its first maximum in row-major order (a NaN wins, the last of a window: wins), as
    PyTorch's max_pool3d and its indices: x (N, C, D, H, W) -> two (N, C, OD, OH, OW) arrays.

    The running maximum over the volume_views of x padded with the dtype's lowest value (the
    padding never wins, and ceil_mode's hanging windows get padding after the end, as in
    max_pool_padded); where a window's maximum is still on the padding (its input elements all
    that lowest value) it moves to the window's first input element, as PyTorch's."""
    axes = list(zip(x.shape[2:], kernel, stride, padding, dilation, strict=True))
    counts = [pooled_size(n, k, s, p, ceil_mode, d) for n, k, s, p, d in axes]
    ends = [end_padding(*axis[:1], count, *axis[1:]) for axis, count in zip(axes, counts,
                                                                          strict=True)]
    xp = np.pad(x, ((0, 0), (0, 0), *zip(padding, ends, strict=True)),
                constant_values=lowest(x.dtype))
    out = argmax = None
    for t, view in volume_views(xp, kernel, stride, dilation):
        if out is None:
            out, argmax = view.copy(), np.zeros(view.shape, dtype=np.intp)
        else:
            argmax = np.where(wins(view, out), t, argmax)
            np.maximum(out, view, out=out)
    taps = np.unravel_index(argmax, kernel)            # (r, p, q), each (N, C, OD, OH, OW)
    places, on_padding, firsts = 0, False, []
    for axis, ((n, _, s, p, d), count, tap) in enumerate(zip(axes, counts, taps, strict=True)):
        shape = [count if a == axis else 1 for a in range(3)]
        origin = (np.arange(count) * s - p).reshape(shape)   # each window's start, in x
        at = origin + tap * d
        on_padding = on_padding | (at < 0) | (at >= n)
        firsts.append(origin + np.maximum(-(origin // d), 0) * d)   # its first tap on x
        places = places * n + at
    first = (firsts[0] * x.shape[3] + firsts[1]) * x.shape[4] + firsts[2]
    return out, np.where(on_padding, first, places)
