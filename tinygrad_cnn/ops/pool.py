"""2-D max and average pooling over (KH, KW) windows of a batch of images, padded or not, with
PyTorch's ceil_mode and count_include_pad (and the max pools' dilation and return_indices),
max_unpool (the max pool's partial inverse), and adaptive average and max pooling to a given
output size. Max-pooling routes the gradient to the first maximum of each window (row-major), as
PyTorch; each backward is an op of its own whose backward is the forward again (or a product
with constant matrices), so gradients of any order exist. The 1-D pools and unbatched inputs
run through the 2-D ops, reshaped (layout.on_image_batch). The 3-D max pools are ops of their
own whose backward is the adaptive max pool's scatter on volumes read as (N, C, D, H*W) images,
and max_unpool3d is max_unpool2d's op on them."""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import pool_kernels as kernels
from tinygrad_cnn.ops.layout import (
    AXES,
    as_given,
    as_sizes,
    batch_hint,
    check_sizes,
    on_image_batch,
    output_size_entries,
    ranks_expected,
    sizes_text,
)
from tinygrad_cnn.ops.shape import reshape
from tinygrad_cnn.value import Value, data_of

WHAT = {1: "signal", 2: "image", 3: "volume"}     # what one example is, in messages


class MaxPool2d(Function):
    """out[n,c,i,j] = max_{p<KH, q<KW} xp[n, c, i*SH + p*DH, j*SW + q*DW]:
    x (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 PH - DH*(KH - 1) - 1) // SH + 1 and likewise
    OW; xp is x with PH, PW rows/columns of -inf on each side, which never win a window
    (PyTorch's padding); the dilation (DH, DW) spaces a window's elements apart. With ceil_mode,
    OH rounds the division up instead, as PyTorch (pool_kernels.pooled_size), and a last window
    hanging past the padding sees -inf there too: the image elements it holds.

    The element at offset (p, q) of every window at once is the strided view
    xp[:, :, p*DH::SH, q*DW::SW] (cut to OH x OW), for tiling and overlapping windows alike; the
    maximum runs over the KH*KW views in row-major order, and a view replaces the running
    maximum only where it is strictly larger (or a NaN: pool_kernels.wins), so `argmax` (the
    offset p*KW + q, an integer constant) keeps the first maximum of each window: PyTorch's tie
    rule. (Undilated 2x2
    windows at stride 2 take a faster route to the same result: pool_kernels.max_pool_2x2; a
    window whose maximum is -inf moves its argmax off the padding:
    pool_kernels.max_pool_padded.) max_pool2d(return_indices=True) hands out the argmax as
    PyTorch's indices (pool_kernels.plane_positions) and keeps that Value on this op as
    `returned_indices`, so that ONNX export gives them from the same MaxPool node.

    Backward: out = x gathered at the argmax, so dx = g scattered back to the argmax
    (MaxPool2dScatter); an element that is the maximum of several overlapping windows
    receives the sum of their gradients, and the padding, never an argmax, receives none.
    """

    def forward(self, x, kernel_size=2, stride=None, padding=0, ceil_mode=False, dilation=1):
        self.kernel, self.stride = as_sizes(kernel_size), as_sizes(stride or kernel_size)
        self.padding, self.dilation = as_sizes(padding), as_sizes(dilation)
        out, self.argmax = kernels.max_pool(x, self.kernel, self.stride, self.padding, ceil_mode,
                                            self.dilation)
        return out

    # out = x at each window's argmax  =>  dx = g scattered to the argmax (overlaps add up)
    def backward(self, grad):
        x, _ = self.saved()
        return MaxPool2dScatter.run(grad, self.argmax, x_shape=x.shape, kernel=self.kernel,
                                    stride=self.stride, padding=self.padding,
                                    **_dilation(self.dilation))


class MaxPool2dScatter(Function):
    """max_pool2d's input gradient: dx[n, c, i*SH - PH + p* DH, j*SW - PW + q* DW] += g[n,c,i,j]
    at each window's argmax offset p*KW + q* (an integer constant, never in the padding):
    g (N, C, OH, OW) -> x_shape (N, C, H, W); OH x OW, ceil_mode's or not, is the argmax's.

    Linear in g, with the gather at the same argmax as its transpose:
    <scatter(g), u> = <g, gather(u)>, so dg = gather(u) for the upstream gradient u.
    """

    def forward(self, g, argmax, *, x_shape, kernel, stride, padding, dilation=(1, 1)):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        return kernels.max_pool_scatter(g, argmax, x_shape, kernel, stride, padding, dilation)

    # dx = g scattered to the argmax  =>  dg = u gathered from the argmax; argmax is constant
    def backward(self, grad):
        _, argmax, _ = self.saved()
        return MaxPool2dGather.run(grad, argmax, kernel=self.kernel, stride=self.stride,
                                   padding=self.padding, **_dilation(self.dilation)), None


class MaxPool2dGather(Function):
    """out[n,c,i,j] = u[n, c, i*SH - PH + p* DH, j*SW - PW + q* DW] at each window's argmax
    offset p*KW + q* (an integer constant): u (N, C, H, W) -> argmax's shape (N, C, OH, OW).
    Its transpose is the scatter: du = scatter(g)."""

    def forward(self, u, argmax, *, kernel, stride, padding, dilation=(1, 1)):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        return kernels.max_pool_gather(u, argmax, kernel, stride, padding, dilation)

    # out = u at the argmax  =>  du = g scattered to the argmax
    def backward(self, grad):
        u, argmax, _ = self.saved()
        return MaxPool2dScatter.run(grad, argmax, x_shape=u.shape, kernel=self.kernel,
                                    stride=self.stride, padding=self.padding,
                                    **_dilation(self.dilation)), None


def _dilation(dilation: tuple[int, int]) -> dict:
    """{"dilation": (DH, DW)} for a dilated pool, else {}: the scatter and gather of an undilated
    pool, as drawn, name the params they had before dilation existed."""
    return {} if tuple(dilation) == (1, 1) else {"dilation": tuple(dilation)}


class MaxUnpool2d(Function):
    """out[n, c].flat[indices[n, c, i, j]] = x[n, c, i, j], zeros elsewhere: x (N, C, H, W) and
    integer indices of x's size -> (N, C, OH, OW), output_size = (OH, OW); as PyTorch's
    max_unpool2d, each index is a place h*OW + w in its own (OH, OW) plane, what max_pool2d's
    return_indices gives. Where several elements of a plane name one place (overlapping pool
    windows that share a maximum), the last of them in x's row-major order is written, as
    PyTorch's loop over x leaves it (pool_kernels.unpool_targets).

    kernel_size, stride and padding, the pool's as pairs, are only kept for drawings and ONNX
    export: output_size already holds what they mean. indices may come in any layout of x's
    size (the caller's (N, C, L) for 1-D), so that the op's input is the very indices Value
    the pool returned (which ONNX export looks for).

    Linear in x: per plane out = P x with P (OH*OW, H*W) holding a 1 at (indices[k], k) for
    each element k that is written, else 0. Backward: dx = P^T g, g gathered at the indices,
    0 for the elements overwritten (MaxUnpool2dGather), whose own transpose is this scatter.
    """

    def forward(self, x, indices, *, output_size, kernel_size=None, stride=None, padding=None):
        return kernels.max_unpool(x, indices.reshape(x.shape), output_size)

    # out = P x, x scattered to the indices  =>  dx = P^T g, g gathered at the indices (0 where
    # a later element took the place); indices are constant
    def backward(self, grad):
        x, indices, _ = self.saved()
        return MaxUnpool2dGather.run(grad, indices, x_shape=x.shape), None


class MaxUnpool2dGather(Function):
    """max_unpool2d's input gradient: dx[n, c, i, j] = g[n, c].flat[indices[n, c, i, j]], 0 for
    an element whose place a later one of its plane took: g (N, C, OH, OW) -> x_shape
    (N, C, H, W). Linear in g, P^T g: its transpose is max_unpool2d's P again."""

    def forward(self, g, indices, *, x_shape):
        return kernels.max_unpool_gather(g, indices.reshape(x_shape))

    # dx = P^T g  =>  dg = P u: u scattered to the indices, max_unpool2d itself
    def backward(self, grad):
        g, indices, _ = self.saved()
        return MaxUnpool2d.run(grad, indices, output_size=tuple(g.shape[2:])), None


class AvgPool2d(Function):
    """out[n,c,i,j] = (1 / d[i,j]) sum_{p<KH, q<KW} xp[n, c, i*SH + p, j*SW + q]:
    x (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 PH - KH) // SH + 1 and likewise OW; xp is x
    with PH, PW rows/columns of zeros on each side. The divisor d is KH*KW, the padded zeros
    counting in the mean (PyTorch's count_include_pad=True), or with count_include_pad=False
    the number of image elements in the window. With ceil_mode, OH rounds the division up
    instead (pool_kernels.pooled_size), and a last window hanging past the padding counts only
    what it covers of the image and the padding: d is PyTorch's (divisors). divisor_override,
    an int, is d for every window instead.

    Linear in x; backward: every window hands g / d to each of its elements (AvgPool2dGrad),
    whose own backward is this average again.
    """

    def forward(self, x, kernel_size=2, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
        self.kernel, self.stride = as_sizes(kernel_size), as_sizes(stride or kernel_size)
        self.padding = as_sizes(padding)
        self.options = _options(ceil_mode, count_include_pad, divisor_override)
        counts = tuple(kernels.pooled_size(*axis, ceil_mode) for axis in zip(
            x.shape[2:], self.kernel, self.stride, self.padding, strict=True))
        # PH, PW zeros on each side, and more after the image where a ceil_mode window hangs out
        (ph, pw), (eh, ew) = self.padding, kernels.end_paddings(x.shape[2:], counts, self.kernel,
                                                                self.stride, self.padding)
        xp = np.pad(x, ((0, 0), (0, 0), (ph, eh), (pw, ew))) if ph or pw or eh or ew else x
        total = sum(view for _, _, view in kernels.window_views(xp, self.kernel, self.stride))
        return total / divisors(x.shape[2:], counts, self.kernel, self.stride, self.padding,
                                count_include_pad, divisor_override).astype(x.dtype)

    # out = sum over each window / d  =>  dx = g / d added to every element of the window
    def backward(self, grad):
        x, _ = self.saved()
        return AvgPool2dGrad.run(grad, x_shape=x.shape, kernel=self.kernel, stride=self.stride,
                                 padding=self.padding, **self.options)


class AvgPool2dGrad(Function):
    """avg_pool2d's input gradient: dx = g / d added to every element of each window, padding
    cut off: g (N, C, OH, OW) -> x_shape (N, C, H, W), with avg_pool2d's divisors d for its
    OH x OW windows (ceil_mode's or not: g's). Linear in g, the transpose of the average:
    dg = avg_pool2d(u)."""

    def forward(self, g, *, x_shape, kernel, stride, padding, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.options = _options(ceil_mode, count_include_pad, divisor_override)
        (n, c, h, w), (ph, pw), counts = x_shape, padding, g.shape[2:]
        eh, ew = kernels.end_paddings((h, w), counts, kernel, stride, padding)
        dxp = np.zeros((n, c, ph + h + eh, pw + w + ew), dtype=g.dtype)
        share = g / divisors((h, w), counts, kernel, stride, padding, count_include_pad,
                             divisor_override).astype(g.dtype)
        for _, _, view in kernels.window_views(dxp, kernel, stride):
            view += share                                        # adds: views may overlap
        return dxp[:, :, ph:ph + h, pw:pw + w]

    # dx = the transpose of the average applied to g  =>  dg = the average of u
    def backward(self, grad):
        return AvgPool2d.run(grad, kernel_size=self.kernel, stride=self.stride,
                             padding=self.padding, **self.options)


def divisors(size: tuple[int, int], counts: tuple[int, int], kernel, stride, padding,
             count_include_pad: bool, divisor_override: int | None = None) -> np.ndarray:
    """d (OH, OW), what avg_pool2d divides each window's sum by, as PyTorch's avg_pool2d: the
    rows times the columns that the window covers, of the image and its padding (rows before
    H + PH: a ceil_mode window hanging past the padding is cut there), or with
    count_include_pad=False of the image alone; divisor_override for every window where it is
    given. size (H, W), counts (OH, OW); ints."""
    if divisor_override is not None:
        return np.full(counts, divisor_override)
    covered = []
    for n, count, k, s, p in zip(size, counts, kernel, stride, padding, strict=True):
        start = np.arange(count) * s - p             # each window's first row, in x's rows
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        covered.append(end - start)
    return functools.reduce(np.multiply.outer, covered)   # (OH,) x (OW,) -> (OH, OW)


def _options(ceil_mode: bool, count_include_pad: bool = True,
             divisor_override: int | None = None) -> dict:
    """The pool flags that differ from PyTorch's defaults, as keyword params: an op's params, as
    drawn, name only those, so a pool with the defaults draws as it did before they existed."""
    options = {}
    if ceil_mode:
        options["ceil_mode"] = True
    if not count_include_pad:
        options["count_include_pad"] = False
    if divisor_override is not None:
        options["divisor_override"] = int(divisor_override)
    return options


class AdaptiveAvgPool2d(Function):
    """out[n,c,i,j] = mean of x[n, c, r, s] over r in rows(i), s in cols(j), with the bins
    rows(i) = [floor(i*H/OH), ceil((i+1)*H/OH)) and likewise cols(j): x (N, C, H, W) ->
    (N, C, OH, OW), output_size = (OH, OW), as PyTorch. Bins may differ in size and overlap
    (10 rows into 4 bins: [0, 3), [2, 5), [5, 8), [7, 10)); OH > H repeats rows.

    Linear in x, image by image: out = A_h x A_w^T with A_h (OH, H) holding 1/len(rows(i)) in
    row i at the columns rows(i), else 0, and likewise A_w (OW, W) (bin_matrix). Backward:
    dx = A_h^T g A_w, linear in g: recorded under create_graph, its matmuls' rules apply
    A_h u A_w^T again, so gradients of every order exist.
    """

    def forward(self, x, output_size):
        (h, w), (oh, ow) = x.shape[2:], output_size
        # (OH, H) @ (N, C, H, W) @ (W, OW) -> (N, C, OH, OW)
        return bin_matrix(h, oh, x.dtype) @ x @ bin_matrix(w, ow, x.dtype).T

    # out = A_h x A_w^T  =>  dx = A_h^T g A_w: each bin hands g / (its size) to its elements
    def backward(self, grad):
        x, _ = self.saved()
        (h, w), (oh, ow) = x.shape[2:], self.params["output_size"]
        # (H, OH) @ (N, C, OH, OW) @ (OW, W) -> (N, C, H, W)
        return bin_matrix(h, oh, grad.dtype).T @ grad @ bin_matrix(w, ow, grad.dtype)


def bin_matrix(size: int, bins: int, dtype) -> np.ndarray:
    """A (bins, size) with A[i, k] = 1/len(bin i) for k in bin i = [floor(i*size/bins),
    ceil((i+1)*size/bins)), else 0: A @ v averages v (size,) over each bin."""
    i = np.arange(bins).reshape(-1, 1)                          # (bins, 1)
    start, end = i * size // bins, -(-(i + 1) * size // bins)   # floor and ceil
    k = np.arange(size)                                          # (size,)
    return (((start <= k) & (k < end)) / (end - start)).astype(dtype)


class AdaptiveMaxPool2d(Function):
    """out[n,c,i,j] = max of x[n, c, r, s] over r in rows(i), s in cols(j), the adaptive bins
    rows(i) = [floor(i*H/OH), ceil((i+1)*H/OH)) and likewise cols(j): x (N, C, H, W) ->
    (N, C, OH, OW), output_size = (OH, OW), as PyTorch's adaptive_max_pool2d. Bins may differ
    in size and overlap, as adaptive_avg_pool2d's.

    `argmax` (an integer constant, kept for backward) holds each bin's first maximum in
    row-major order as its place h*W + w in its (H, W) plane; a NaN is a bin's maximum, the
    last NaN of the bin (pool_kernels.adaptive_max_pool): PyTorch's rule, and its indices.
    adaptive_max_pool2d(return_indices=True) hands them out and keeps that Value on the op as
    `returned_indices`, for ONNX export. Backward: out = x gathered at the argmax, so dx = g
    scattered to it, an element that is the maximum of several overlapping bins getting the
    sum (AdaptiveMaxPool2dScatter).
    """

    def forward(self, x, output_size):
        out, self.argmax = kernels.adaptive_max_pool(x, output_size)
        return out

    # out = x at each bin's argmax  =>  dx = g scattered to the argmax (overlapping bins add up)
    def backward(self, grad):
        x, _ = self.saved()
        return AdaptiveMaxPool2dScatter.run(grad, self.argmax, x_shape=x.shape)


class AdaptiveMaxPool2dScatter(Function):
    """adaptive_max_pool2d's input gradient: dx[n, c].flat[argmax[n, c, i, j]] += g[n, c, i, j]:
    g (N, C, OH, OW) -> x_shape (N, C, H, W), argmax an integer constant (places in the planes).

    Linear in g, with the gather at the same places as its transpose:
    <scatter(g), u> = <g, gather(u)>, so dg = gather(u) for the upstream gradient u."""

    def forward(self, g, argmax, *, x_shape):
        return kernels.plane_scatter(g, argmax, x_shape)

    # dx = g scattered to the argmax  =>  dg = u gathered from the argmax; argmax is constant
    def backward(self, grad):
        _, argmax, _ = self.saved()
        return AdaptiveMaxPool2dGather.run(grad, argmax), None


class AdaptiveMaxPool2dGather(Function):
    """out[n, c, i, j] = u[n, c].flat[argmax[n, c, i, j]]: u (N, C, H, W) -> argmax's shape
    (N, C, OH, OW), argmax an integer constant. Its transpose is the scatter: du = scatter(g)."""

    def forward(self, u, argmax):
        return kernels.plane_gather(u, argmax)

    # out = u at the argmax  =>  du = g scattered to the argmax
    def backward(self, grad):
        u, argmax, _ = self.saved()
        return AdaptiveMaxPool2dScatter.run(grad, argmax, x_shape=u.shape), None


def _pool_settings(fn: str, x, kernel_size, stride, padding, spatial: int) -> tuple:
    """The input's array, and the kernel, stride (the kernel's when None) and padding that the
    pools and unpools share, checked, as tuples of `spatial` ints."""
    xa = np.asarray(x.data if isinstance(x, Value) else x)
    kernel = check_sizes(fn, "kernel_size", kernel_size, 1, spatial)
    steps = kernel if stride is None else check_sizes(fn, "stride", stride, 1, spatial)
    return xa, kernel, steps, check_sizes(fn, "padding", padding, 0, spatial)


def _check_pool(fn: str, x, kernel_size, stride, padding=0, spatial: int = 2,
                ceil_mode=False, dilation=1):
    """The input's array, the kernel, stride, padding and dilation as tuples of `spatial` ints
    (pairs for the 2-D pools), after checking them and ceil_mode against the input (a batch or
    one unbatched example): every axis has a window at least, and (dilated) every window holds
    an element of the input."""
    xa, kernel, steps, pads = _pool_settings(fn, x, kernel_size, stride, padding, spatial)
    dilations = check_sizes(fn, "dilation", dilation, 1, spatial)
    check_flag(fn, "ceil_mode", ceil_mode)
    _check_pool_input(fn, xa.shape, spatial)
    what = WHAT[spatial]
    if any(p > k // 2 for p, k in zip(pads, kernel, strict=True)):
        most = tuple(k // 2 for k in kernel)
        raise ValueError(f"{fn}: padding {padding!r} is more than half the kernel "
                         f"{as_given(kernel)}; expected padding <= kernel_size // 2 (as PyTorch), "
                         f"so that every window holds part of the {what}; pass padding="
                         f"{most[0] if len(set(most)) == 1 else most} or less, or a larger "
                         f"kernel_size")
    padded = tuple(size + 2 * p for size, p in zip(xa.shape[-spatial:], pads, strict=True))
    axes = list(zip(xa.shape[-spatial:], kernel, steps, pads, dilations, strict=True))
    counts = [kernels.pooled_size(n, k, s, p, ceil_mode, d) for n, k, s, p, d in axes]
    if min(counts) >= 1:
        _check_windows_hold_input(fn, xa.shape, axes, counts, dilation)
        return xa, kernel, steps, pads, dilations
    size = "input" if not any(pads) else "padded input"
    # a dilated kernel spans D*(K - 1) + 1 elements: the messages speak of that span
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilations, strict=True))
    what, bound = f"kernel {sizes_text(kernel)}", "kernel_size"
    if set(dilations) != {1}:
        what = (f"kernel {sizes_text(kernel)} with dilation {dilation!r}, spanning "
                f"{sizes_text(spans)},")
        bound = "dilation*(kernel_size - 1) + 1"
    if not ceil_mode:
        length = "the signal length" if spatial == 1 else f"the {WHAT[spatial]} size"
        raise ValueError(f"{fn}: {what} is larger than the {size} {sizes_text(padded)} (input "
                         f"{xa.shape}); expected {bound} <= {length}")
    # as PyTorch: ceil_mode's last window may hang past the end by up to stride - 1 elements
    reach = tuple(n + s - 1 for n, s in zip(padded, steps, strict=True))
    raise ValueError(f"{fn}: {what} leaves no window in the {size} {sizes_text(padded)} (input "
                     f"{xa.shape}), even with ceil_mode=True, which lets the last window hang "
                     f"past the end by at most stride - 1; expected {bound} <= "
                     f"{sizes_text(reach)} (the {size} + stride - 1)")


def _check_windows_hold_input(fn: str, shape: tuple[int, ...], axes: list[tuple], counts: list,
                              dilation) -> None:
    """Every window of a dilated max pool holds an element of the input. With dilation, a window
    starting in the front padding can step over a short input (2 rows, kernel 2, dilation 3,
    padding 1: rows -1 and 2); PyTorch then returns -inf with an index outside the input, and
    we refuse. axes: (size, kernel, stride, padding, dilation) per spatial axis. The fix named
    is dilation=1, which always works (with padding <= kernel_size // 2 every undilated window
    holds an input element, and there are at least as many windows); padding=0 never does
    here: an input that a window steps over is shorter than the dilated kernel's span."""
    for axis, ((n, k, s, p, d), count) in enumerate(zip(axes, counts, strict=True)):
        empty = kernels.windows_without_image(n, count, k, s, p, d)
        if not empty.size:
            continue
        name = "" if len(axes) == 1 else f" along {AXES[len(axes)][axis]}"
        start = int(empty[0]) * s - p
        taps = ", ".join(str(start + j * d) for j in range(k))
        raise ValueError(f"{fn}: with dilation {dilation!r} the window {int(empty[0])}{name} "
                         f"reads only the padding (positions {taps} of an input of size {n}, "
                         f"input {shape}); expected every window to hold an element of the input "
                         f"(PyTorch returns -inf there, with an index outside the input); pass "
                         f"dilation=1, or a larger input")


def check_flag(fn: str, name: str, value) -> None:
    """A pool's ceil_mode, count_include_pad or return_indices is True or False; `fn`, an op or
    a layer, names the caller in the error."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} is {type(value).__name__} {value!r}; expected True or "
                        f"False; pass {name}=True or {name}=False")


def _check_pool_input(fn: str, shape: tuple[int, ...], spatial: int) -> None:
    """The input is a batch (N, C, *size) or one unbatched example (C, *size), as PyTorch's."""
    if len(shape) not in (spatial + 2, spatial + 1):
        raise ValueError(f"{fn}: input has shape {shape}; expected {ranks_expected(spatial)}"
                         f"{_pool_shape_hint(shape, spatial)}")


def _check_float(fn: str, xa: np.ndarray) -> None:
    """An average pool's input is a float array: a window's sum would overflow uint8 images
    (4 * 200 = 32)."""
    if xa.dtype.kind != "f":
        raise TypeError(f"{fn}: input has dtype {xa.dtype}; expected a float array (a mean of "
                        f"integers is not one of them); convert it first, e.g. "
                        f"x.astype(np.float32) for an array")


def max_pool2d(x, kernel_size: int | tuple[int, int] = 2,
               stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
               ceil_mode: bool = False,
               return_indices: bool = False) -> Value | tuple[Value, Value]:
    """Max over (KH, KW) windows of x padded by `padding`: x (N, C, H, W) -> (N, C, OH, OW), or
    one unbatched image (C, H, W) -> (C, OH, OW), OH = (H + 2*padding - DH*(KH - 1) - 1) // SH
    + 1 (likewise OW), in PyTorch's argument order.

    kernel_size, stride, padding and dilation are ints or (h, w) pairs; stride defaults to
    kernel_size (non-overlapping windows). As PyTorch's max_pool2d, the padding is -inf, so it
    never wins a window (nor gets a gradient), and is at most kernel_size // 2. dilation (DH, DW)
    spaces a window's elements apart: element (p, q) of window (i, j) is the padded input's
    (i*SH + p*DH, j*SW + q*DW). A dilated window that reads only padding is an error (PyTorch
    returns -inf there). ceil_mode=True rounds OH up instead, as PyTorch: a last window may hang
    past the edge (by up to SH - 1 rows) and takes the maximum of the image elements it holds,
    but no window starts in the bottom or right padding. The gradient goes to the first maximum
    of each window, row-major. A NaN makes its window's maximum NaN and, as in PyTorch, takes
    its gradient and index (the last NaN of the window, where it holds several). An unbatched
    image is pooled as a batch of one.

    return_indices=True returns (out, indices), as PyTorch: indices (out's shape, int64, a
    constant Value with no gradient) holds each window's (first) maximum as its place h*W + w in
    its (H, W) plane of the unpadded input: what max_unpool2d takes.
    """
    _, kernel, steps, pads, dilations = _check_pool("max_pool2d", x, kernel_size, stride, padding,
                                                    ceil_mode=ceil_mode, dilation=dilation)
    check_flag("max_pool2d", "return_indices", return_indices)
    params = {"kernel_size": kernel_size, "stride": stride}
    if pads != (0, 0):              # the params of an unpadded pool, as drawn, stay as they were
        params["padding"] = padding
    if dilations != (1, 1):         # likewise for an undilated one
        params["dilation"] = dilation
    params |= _options(ceil_mode)   # likewise, only a ceil_mode that is not the default
    if not return_indices:
        return on_image_batch(x, 2, lambda images: MaxPool2d.apply(images, **params))
    return _with_indices(x, 2, params, (kernel, steps, pads, ceil_mode, dilations))


def max_pool1d(x, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, dilation: int | tuple[int] = 1,
               ceil_mode: bool = False,
               return_indices: bool = False) -> Value | tuple[Value, Value]:
    """Max over windows of K elements of x padded by `padding`: x (N, C, L) -> (N, C, OL), or
    one unbatched signal (C, L) -> (C, OL), OL = (L + 2*padding - D*(K - 1) - 1) // stride + 1,
    as PyTorch's max_pool1d, in its argument order.

    kernel_size, stride, padding and dilation are ints (or tuples of one int); stride defaults
    to kernel_size. As max_pool2d: the padding is -inf and at most kernel_size // 2, dilation D
    spaces a window's elements D apart, ceil_mode=True rounds OL up, the gradient goes to the
    first maximum of each window, and return_indices=True returns (out, indices), indices
    (int64, out's shape, no gradient) holding each maximum's position in L. A signal is a
    1 x L image: x runs through max_pool2d's op as (N, C, 1, L) with 1 x K windows, and the
    result is reshaped back, so the gradients are max_pool2d's.
    """
    _, (k,), (s,), (p,), (d,) = _check_pool("max_pool1d", x, kernel_size, stride, padding,
                                            spatial=1, ceil_mode=ceil_mode, dilation=dilation)
    check_flag("max_pool1d", "return_indices", return_indices)
    params = {"kernel_size": (1, k), "stride": (1, s), "padding": (0, p)}
    params |= _dilation((1, d)) | _options(ceil_mode)
    if not return_indices:
        return on_image_batch(x, 1, lambda images: MaxPool2d.apply(images, **params))
    return _with_indices(x, 1, params, ((1, k), (1, s), (0, p), ceil_mode, (1, d)))


def _with_indices(x, spatial: int, params: dict, settings: tuple) -> tuple[Value, Value]:
    """(out, indices) of a max pool with return_indices: out from MaxPool2d's op on x as an image
    batch (params), indices the place of each window's argmax in its plane (settings: kernel,
    stride, padding, ceil_mode and dilation as pairs), int64 in out's layout. The argmax is the
    op's own where it was recorded; under no_grad (or for an input that needs no gradient) the
    kernel finds it again. The recorded op keeps the indices Value (MaxPool2d)."""
    pooled = []

    def run(images):
        pooled.append((images, MaxPool2d.apply(images, **params)))
        return pooled[-1][1]

    out = on_image_batch(x, spatial, run)
    (images, node), (kernel, stride, padding, ceil_mode, dilation) = pooled[0], settings
    fn = node.fn
    argmax = fn.argmax if fn is not None else kernels.max_pool(
        np.asarray(data_of(images)), kernel, stride, padding, ceil_mode, dilation)[1]
    size = np.shape(data_of(images))[2:]
    places = kernels.plane_positions(argmax, size, kernel, stride, padding, dilation)
    indices = Value(places.astype(np.int64).reshape(out.shape), requires_grad=False)
    if fn is not None:
        fn.returned_indices = indices
    return out, indices


def max_unpool2d(x, indices, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0,
                 output_size: tuple[int, ...] | None = None) -> Value:
    """The max pool's partial inverse: zeros of (N, C, OH, OW) with out[n, c].flat[indices[n, c,
    i, j]] = x[n, c, i, j], as PyTorch's max_unpool2d; x (N, C, H, W) or one unbatched image
    (C, H, W), indices the int64 indices of x's shape that max_pool2d(..., return_indices=True)
    returned with x (any integer dtype is taken).

    The size is (H - 1)*SH - 2*PH + KH by default (likewise OW), the size of the input of a pool
    with these settings whose output is x; output_size (OH, OW), or (N, C, OH, OW), picks
    another, as PyTorch's: each within stride - 1 of the default, as a pool's input may have
    that many more rows or columns (those its windows leave out). stride defaults to
    kernel_size. Where several elements of a plane name one place (overlapping windows that
    shared a maximum), the last of them in x's row-major order is written, and only it gets a
    gradient (PyTorch leaves the write order unspecified, and sends the gradient to every one
    of them). Backward: dx = g gathered at the indices.
    """
    size, kernel, steps, pads = _check_unpool("max_unpool2d", x, indices, kernel_size, stride,
                                              padding, output_size, 2)
    return on_image_batch(x, 2, lambda images: MaxUnpool2d.apply(
        images, indices, output_size=size, kernel_size=kernel, stride=steps, padding=pads))


def max_unpool1d(x, indices, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
                 padding: int | tuple[int] = 0,
                 output_size: tuple[int, ...] | None = None) -> Value:
    """max_pool1d's partial inverse: zeros of (N, C, OL) with out[n, c, indices[n, c, l]] =
    x[n, c, l], as PyTorch's max_unpool1d; x (N, C, L) or one unbatched signal (C, L), indices
    as max_pool1d(..., return_indices=True) returned them. OL = (L - 1)*stride - 2*padding +
    kernel_size by default, or output_size (OL,) or (N, C, OL), within stride - 1 of that. As
    max_unpool2d (whose op it runs on 1 x L images): the last of equal indices is written, and
    the gradient is g gathered at the indices.
    """
    (size,), (k,), (s,), (p,) = _check_unpool("max_unpool1d", x, indices, kernel_size, stride,
                                              padding, output_size, 1)
    return on_image_batch(x, 1, lambda images: MaxUnpool2d.apply(
        images, indices, output_size=(1, size), kernel_size=(1, k), stride=(1, s),
        padding=(0, p)))


def _check_unpool(fn: str, x, indices, kernel_size, stride, padding, output_size,
                  spatial: int):
    """The output's spatial size (OH, OW) or (OL,) of max_unpool, and its kernel, stride and
    padding as tuples of `spatial` ints, after checking them, the input, the indices (integers
    of x's shape, within the output's planes) and output_size as PyTorch's max_unpool does.
    Each error names a fix that works."""
    xa, kernel, steps, pads = _pool_settings(fn, x, kernel_size, stride, padding, spatial)
    _check_pool_input(fn, xa.shape, spatial)
    ia = np.asarray(indices.data if isinstance(indices, Value) else indices)
    pool = f"max_pool{spatial}d"
    if ia.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices have dtype {ia.dtype}; expected integers (int64, as "
                        f"{pool}(..., return_indices=True) returns them); pass the indices that "
                        f"{pool} returned, or indices.astype(np.int64)")
    if ia.shape != xa.shape:
        raise ValueError(f"{fn}: indices have shape {ia.shape} but the input has shape "
                         f"{xa.shape}; expected equal shapes (one index per element); pass the "
                         f"indices that {pool}(..., return_indices=True) returned with this input")
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(
        xa.shape[-spatial:], steps, pads, kernel, strict=True))
    size = default if output_size is None else _check_unpool_size(fn, output_size, default,
                                                                  steps)
    if min(size) < 1:
        raise ValueError(f"{fn}: the output size {sizes_text(size)} ((size - 1)*stride - "
                         f"2*padding + kernel_size for the input {xa.shape}) is empty; expected "
                         f"sizes >= 1; pass the padding of the pool that made the input, or "
                         f"padding=0")
    plane = math.prod(size)
    if ia.size and (ia.min() < 0 or ia.max() >= plane):
        # a pool whose windows left the input's last rows or columns out indexes planes of that
        # input's size, which PyTorch allows as output_size within stride - 1 of the default
        largest = math.prod(d + s - 1 for d, s in zip(default, steps, strict=True))
        ranges = " and ".join(f"[{d - s + 1}, {d + s - 1}]" for d, s in zip(default, steps,
                                                                            strict=True))
        planes, left = ("volumes", "slices, rows or columns") if spatial == 3 else (
            "planes", "rows or columns")
        hint = (f"indices of a pool whose windows left {left} of its input out index "
                f"{planes} of that input's size: pass it, output_size=x.shape[-{spatial}:] for "
                f"the pool's input x (sizes in {ranges})"
                if 0 <= ia.min() and ia.max() < largest else
                f"pass the indices that {pool}(..., return_indices=True) returned with this input")
        raise ValueError(f"{fn}: indices hold values in [{ia.min()}, {ia.max()}], but the "
                         f"output's {planes} have {sizes_text(size)} = {plane} places; expected "
                         f"indices in [0, {plane}); {hint}")
    return size, kernel, steps, pads


def _check_unpool_size(fn: str, output_size, default: tuple[int, ...],
                       steps: tuple[int, ...]) -> tuple[int, ...]:
    """output_size, each size within stride - 1 of the default, as PyTorch's
    _unpool_output_size."""
    low = tuple(d - s + 1 for d, s in zip(default, steps, strict=True))
    high = tuple(d + s - 1 for d, s in zip(default, steps, strict=True))
    return output_size_entries(
        fn, output_size, low, high, ("N", "C"), default,
        f"PyTorch takes sizes within stride - 1 of the default {sizes_text(default)} "
        f"((size - 1)*stride - 2*padding + kernel_size)")


def avg_pool2d(x, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
               padding: int | tuple[int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Value:
    """Mean over (KH, KW) windows of x zero-padded by `padding`: x (N, C, H, W) -> (N, C, OH, OW),
    or one unbatched image (C, H, W) -> (C, OH, OW), OH = (H + 2*padding - KH) // SH + 1
    (likewise OW).

    As PyTorch's avg_pool2d: stride defaults to kernel_size, padding
    is at most kernel_size // 2, and the padded zeros count in every mean (count_include_pad=
    True: each window's sum over KH*KW) unless count_include_pad=False (its sum over the number
    of image elements in it). ceil_mode=True rounds OH up instead: a last window may hang past
    the edge (by up to SH - 1 rows), but no window starts in the bottom or right padding, and
    such a window's divisor counts only what it covers of the image (and, with
    count_include_pad, of the padding), as PyTorch's. divisor_override, a nonzero int, divides
    every window's sum instead (count_include_pad then changes nothing), as PyTorch's.
    """
    xa = _check_pool("avg_pool2d", x, kernel_size, stride, padding, ceil_mode=ceil_mode)[0]
    check_flag("avg_pool2d", "count_include_pad", count_include_pad)
    check_divisor_override("avg_pool2d", divisor_override)
    _check_float("avg_pool2d", xa)
    return on_image_batch(x, 2, lambda images: AvgPool2d.apply(
        images, kernel_size=kernel_size, stride=stride, padding=padding,
        **_options(ceil_mode, count_include_pad, divisor_override)))


def check_divisor_override(fn: str, divisor_override) -> None:
    """None, or a nonzero int, as PyTorch's avg_pool2d takes; `fn` names the op or layer."""
    if divisor_override is None:
        return
    if isinstance(divisor_override, (bool, np.bool_)) or not isinstance(
            divisor_override, (int, np.integer)):
        raise TypeError(f"{fn}: divisor_override is {type(divisor_override).__name__} "
                        f"{divisor_override!r:.40}; expected None or a nonzero int, what every "
                        f"window's sum is divided by; pass e.g. divisor_override=4")
    if divisor_override == 0:
        raise ValueError(f"{fn}: divisor_override is 0, and no sum can be divided by it; "
                         f"expected None or a nonzero int, as PyTorch's; pass None for the "
                         f"mean, or e.g. divisor_override=1 for the windows' sums")


def avg_pool1d(x, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Value:
    """Mean over windows of K elements of x zero-padded by `padding`: x (N, C, L) -> (N, C, OL),
    or one unbatched signal (C, L) -> (C, OL), OL = (L + 2*padding - K) // stride + 1, as
    PyTorch's avg_pool1d (without divisor_override).

    stride defaults to kernel_size, padding is at most kernel_size // 2; count_include_pad and
    ceil_mode as avg_pool2d's. A signal is a 1 x L image: x runs through avg_pool2d's op as
    (N, C, 1, L) with 1 x K windows, reshaped back, so the gradients are avg_pool2d's.
    """
    xa, (k,), (s,), (p,), _ = _check_pool("avg_pool1d", x, kernel_size, stride, padding, spatial=1,
                                       ceil_mode=ceil_mode)
    check_flag("avg_pool1d", "count_include_pad", count_include_pad)
    _check_float("avg_pool1d", xa)
    return on_image_batch(x, 1, lambda images: AvgPool2d.apply(
        images, kernel_size=(1, k), stride=(1, s), padding=(0, p),
        **_options(ceil_mode, count_include_pad)))


def adaptive_avg_pool2d(x, output_size: int | None | tuple[int | None, int | None]) -> Value:
    """Mean over each of OH x OW bins of the image: x (N, C, H, W) -> (N, C, OH, OW), or
    (C, H, W) -> (C, OH, OW), as PyTorch's adaptive_avg_pool2d.

    output_size is an int (OH = OW) or a pair (OH, OW), where None keeps the input's size.
    Bin i along H covers rows [floor(i*H/OH), ceil((i+1)*H/OH)), likewise along W: bins may
    differ in size and overlap, and OH > H is allowed (rows are repeated). When H % OH == 0
    and W % OW == 0 the result is avg_pool2d with kernel_size = stride = (H/OH, W/OW);
    output_size=1 is global average pooling. Unlike PyTorch, output_size 0 (an empty result)
    is an error.
    """
    xa = np.asarray(x.data if isinstance(x, Value) else x)
    pair = check_output_size("adaptive_avg_pool2d", output_size)
    _check_pool_input("adaptive_avg_pool2d", xa.shape, 2)
    h, w = xa.shape[-2:]
    if h == 0 or w == 0:
        raise ValueError(f"adaptive_avg_pool2d: input has shape {xa.shape}, an empty image; "
                         f"expected H >= 1 and W >= 1, so that every bin averages at least one "
                         f"element")
    _check_float("adaptive_avg_pool2d", xa)     # as avg_pool2d: a bin's sum would overflow
    size = (h if pair[0] is None else pair[0], w if pair[1] is None else pair[1])
    return on_image_batch(x, 2, lambda images: AdaptiveAvgPool2d.apply(images,
                                                                       output_size=size))


def adaptive_avg_pool1d(x, output_size: int | tuple[int]) -> Value:
    """Mean over each of OL bins of the signal: x (N, C, L) -> (N, C, OL), or one unbatched
    signal (C, L) -> (C, OL), as PyTorch's adaptive_avg_pool1d; output_size is OL, an int (or a
    tuple of one). Bin i covers [floor(i*L/OL), ceil((i+1)*L/OL)), as adaptive_avg_pool2d's
    bins, whose op it runs on 1 x L images (N, C, 1, L) with output_size (1, OL), reshaped
    back: its gradients are adaptive_avg_pool2d's.
    """
    fn = "adaptive_avg_pool1d"
    (ol,) = check_sizes(fn, "output_size", output_size, 1, 1)
    _check_adaptive_input(fn, x, 1)
    _check_float(fn, np.asarray(data_of(x)))
    return on_image_batch(x, 1, lambda images: AdaptiveAvgPool2d.apply(images,
                                                                       output_size=(1, ol)))


def adaptive_max_pool2d(x, output_size: int | None | tuple[int | None, int | None],
                        return_indices: bool = False) -> Value | tuple[Value, Value]:
    """Max over each of OH x OW bins of the image: x (N, C, H, W) -> (N, C, OH, OW), or one
    unbatched image (C, H, W) -> (C, OH, OW), as PyTorch's adaptive_max_pool2d.

    output_size is an int (OH = OW) or a pair (OH, OW), where None keeps the input's size; the
    bins are adaptive_avg_pool2d's, rows(i) = [floor(i*H/OH), ceil((i+1)*H/OH)) and likewise
    cols(j), which may differ in size and overlap. The gradient goes to the first maximum of
    each bin in row-major order, as PyTorch's; a NaN makes its bin's maximum NaN and takes the
    gradient (the last NaN of the bin). An element that is the maximum of several overlapping
    bins gets the sum of their gradients.

    return_indices=True returns (out, indices), as PyTorch: indices (out's shape, int64, a
    constant Value with no gradient) holds each maximum as its place h*W + w in its (H, W)
    plane, what max_unpool2d takes.
    """
    fn = "adaptive_max_pool2d"
    pair = check_output_size(fn, output_size)
    check_flag(fn, "return_indices", return_indices)
    h, w = _check_adaptive_input(fn, x, 2)
    size = (h if pair[0] is None else pair[0], w if pair[1] is None else pair[1])
    return _adaptive_max(x, 2, size, return_indices)


def adaptive_max_pool1d(x, output_size: int | tuple[int],
                        return_indices: bool = False) -> Value | tuple[Value, Value]:
    """Max over each of OL bins of the signal: x (N, C, L) -> (N, C, OL), or one unbatched signal
    (C, L) -> (C, OL), as PyTorch's adaptive_max_pool1d; output_size is OL, an int (or a tuple
    of one). Bin i covers [floor(i*L/OL), ceil((i+1)*L/OL)); the gradient goes to its first
    maximum (a NaN wins, the last of the bin), and return_indices=True returns (out, indices),
    each maximum's position in L (int64, no gradient). It runs adaptive_max_pool2d's op on
    1 x L images (N, C, 1, L) with output_size (1, OL), reshaped back.
    """
    fn = "adaptive_max_pool1d"
    (ol,) = check_sizes(fn, "output_size", output_size, 1, 1)
    check_flag(fn, "return_indices", return_indices)
    _check_adaptive_input(fn, x, 1)
    return _adaptive_max(x, 1, (1, ol), return_indices)


def _adaptive_max(x, spatial: int, size: tuple[int, int],
                  return_indices: bool) -> Value | tuple[Value, Value]:
    """The AdaptiveMaxPool2d op with output_size `size` on x as an image batch; with
    return_indices also the indices, int64 in out's layout: the op's argmax where it was
    recorded, else (no_grad, or an input that needs no gradient) the kernel's again. The
    recorded op keeps the indices Value (AdaptiveMaxPool2d)."""
    pooled = []

    def run(images):
        pooled.append((images, AdaptiveMaxPool2d.apply(images, output_size=size)))
        return pooled[-1][1]

    out = on_image_batch(x, spatial, run)
    if not return_indices:
        return out
    images, node = pooled[0]
    fn = node.fn
    argmax = (fn.argmax if fn is not None else
              kernels.adaptive_max_pool(np.asarray(data_of(images)), size)[1])
    indices = Value(argmax.astype(np.int64).reshape(out.shape), requires_grad=False)
    if fn is not None:
        fn.returned_indices = indices
    return out, indices


def _check_adaptive_input(fn: str, x, spatial: int) -> tuple[int, ...]:
    """The spatial size of x, after checking that x is a batch or one unbatched example with
    no empty spatial axis (every bin must hold an element)."""
    shape = np.shape(data_of(x))
    _check_pool_input(fn, shape, spatial)
    size = shape[-spatial:]
    if min(size) == 0:
        what = f"an empty {WHAT[spatial]}"
        axes = {1: "L >= 1", 2: "H >= 1 and W >= 1", 3: "D, H and W >= 1"}[spatial]
        raise ValueError(f"{fn}: input has shape {shape}, {what}; expected {axes}, so that "
                         f"every bin holds at least one element")
    return size


def check_output_size(fn: str, output_size, spatial: int = 2) -> tuple[int | None, ...]:
    """An adaptive pool's output_size as a pair (OH, OW) of ints >= 1 or None (for spatial = 3 a
    triple (OD, OH, OW)), after checking; an error names `fn` (an op or a layer) and an
    output_size that works."""
    pair = isinstance(output_size, (tuple, list))
    entries = list(output_size) if pair else [output_size] * spatial
    kinds = ["none" if e is None and pair else
             "int" if isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_))
             else "other" for e in entries]
    if "other" in kinds:
        error, what = TypeError, ("is not an int or a pair of ints" if spatial == 2 else
                                  "is not an int or a triple of ints")
    elif len(entries) != spatial:
        error, what = ValueError, f"has {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    elif any(kind == "int" and e < 1 for kind, e in zip(kinds, entries, strict=True)):
        error, what = ValueError, "has a size below 1"
    else:
        return tuple(None if e is None else int(e) for e in entries)
    fix = [_whole(e) for e in (entries[-spatial:] if len(entries) >= spatial else
                               (entries or [1])[:1] * spatial)]
    shown = fix[0] if len(set(fix)) == 1 and fix[0] is not None else tuple(fix)
    form = "a pair (OH, OW)" if spatial == 2 else "a triple (OD, OH, OW)"
    raise error(f"{fn}: output_size {output_size!r} {what}; expected an int or {form} of ints "
                f">= 1, where None keeps the input's size; pass e.g. output_size={shown!r}")


def _whole(entry) -> int | None:
    """An output_size entry made valid, for an error's suggestion: None, the whole part of a
    number from 1 to 2**16, else 1."""
    if entry is None:
        return None
    if isinstance(entry, numbers.Real) and 1 <= entry <= 1 << 16:     # NaN fails both tests
        return int(entry)
    return 1


def _pool_shape_hint(shape: tuple[int, ...], spatial: int) -> str:
    """How to make an input with too few or too many axes into images (2-D pools) or signals
    (1-D pools), where there is a way: '; <what it looks like>: use x.reshape(...)', or ''."""
    if len(shape) > spatial + 2:    # a batch of batches: merge the leading axes
        what = WHAT[spatial]
        return (f"; to pool every {what}, merge the leading axes: use x.reshape(-1, "
                f"{', '.join(map(str, shape[-spatial - 1:]))})")
    if len(shape) == spatial:
        return batch_hint(spatial, shape)
    return ""


class MaxPool3d(Function):
    """out[n,c,s,i,j] = max over r<KD, p<KH, q<KW of xp[n, c, s*SD + r*DD, i*SH + p*DH,
    j*SW + q*DW]: x (N, C, D, H, W) -> (N, C, OD, OH, OW), OD = (D + 2 PD - DD*(KD - 1) - 1) // SD
    + 1 (rounded up with ceil_mode, as max_pool2d's) and likewise OH, OW; xp is x with -inf
    padding, which never wins. `places` (an integer constant) holds each window's first maximum
    in row-major order (a NaN wins) as its place d*H*W + h*W + w in its volume: PyTorch's tie
    rule and its indices (pool_kernels.max_pool3d). max_pool3d(return_indices=True) hands them
    out and keeps that Value on this op as `returned_indices`, for ONNX export.

    Backward: out = x gathered at the places, so dx = g scattered back to them, overlapping
    windows adding up. Read as (N, C, D, H*W) -- its volume flattened into D rows -- x's places
    are those of adaptive_max_pool2d's argmax, so the scatter is its op
    (AdaptiveMaxPool2dScatter), whose backward, the gather, gives the second order.
    """

    def forward(self, x, *, kernel_size, stride, padding, dilation, ceil_mode):
        out, self.places = kernels.max_pool3d(x, kernel_size, stride, padding, ceil_mode,
                                              dilation)
        return out

    # out = x at each window's first maximum  =>  dx = g scattered there (overlaps add up)
    def backward(self, grad):
        x, _ = self.saved()
        return volume_scatter(grad, self.places, x.shape)


class AdaptiveMaxPool3d(Function):
    """out[n,c,s,i,j] = max of x[n, c, t, r, q] over the bins t in depths(s), r in rows(i),
    q in cols(j), each axis's bins adaptive_avg_pool2d's ([floor(i*H/OH), ceil((i+1)*H/OH))):
    x (N, C, D, H, W) -> (N, C, OD, OH, OW), output_size = (OD, OH, OW), as PyTorch's
    adaptive_max_pool3d. Bins may differ in size and overlap.

    `places` (an integer constant) holds each bin's first maximum in row-major order (a NaN
    wins, the last of the bin) as its place d*H*W + h*W + w in its volume: PyTorch's rule and
    its indices (pool_kernels.adaptive_max_pool3d, by axes). adaptive_max_pool3d(return_indices=
    True) hands them out and keeps that Value on the op as `returned_indices`, for ONNX export.
    Backward: max_pool3d's, g scattered to the places (overlapping bins adding up).
    """

    def forward(self, x, output_size):
        out, self.places = kernels.adaptive_max_pool3d(x, output_size)
        return out

    # out = x at each bin's first maximum  =>  dx = g scattered there (overlapping bins add up)
    def backward(self, grad):
        x, _ = self.saved()
        return volume_scatter(grad, self.places, x.shape)


def volume_scatter(grad, places: np.ndarray, x_shape: tuple[int, ...]):
    """The 3-D max pools' input gradient: g (N, C, OD, OH, OW) added at its places
    d*H*W + h*W + w (places of g's shape, an integer constant) of volumes of x_shape
    (N, C, D, H, W). Read as (N, C, D, H*W) -- each volume flattened into D rows -- a volume's
    places are those of a plane, so the scatter is adaptive_max_pool2d's op
    (AdaptiveMaxPool2dScatter), whose backward, the gather, gives the second order."""
    n, c, d, h, w = x_shape
    places = places.reshape(*places.shape[:3], -1)             # (N, C, OD, OH*OW)
    g = grad.reshape(*places.shape)                            # (N, C, OD, OH*OW)
    dx = AdaptiveMaxPool2dScatter.run(g, places, x_shape=(n, c, d, h * w))
    return dx.reshape(n, c, d, h, w)


class AvgPool3d(Function):
    """out[n,c,s,i,j] = (1 / d[s,i,j]) sum over r<KD, p<KH, q<KW of
    xp[n, c, s*SD + r, i*SH + p, j*SW + q]: x (N, C, D, H, W) -> (N, C, OD, OH, OW),
    OD = (D + 2 PD - KD) // SD + 1 (rounded up with ceil_mode) and likewise OH, OW; xp is x
    zero-padded, and the divisor d is avg_pool2d's along three axes (divisors):
    count_include_pad, ceil_mode's cut windows and divisor_override as PyTorch's.

    Linear in x; backward: every window hands g / d to each of its elements (AvgPool3dGrad),
    whose own backward is this average again.
    """

    def forward(self, x, *, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        counts = tuple(kernels.pooled_size(*axis, ceil_mode) for axis in zip(
            x.shape[2:], kernel_size, stride, padding, strict=True))
        ends = kernels.end_paddings(x.shape[2:], counts, kernel_size, stride, padding, (1, 1, 1))
        xp = np.pad(x, ((0, 0), (0, 0), *zip(padding, ends, strict=True)))
        total = sum(view for _, view in kernels.volume_views(xp, kernel_size, stride))
        return total / divisors(x.shape[2:], counts, kernel_size, stride, padding,
                                count_include_pad, divisor_override).astype(x.dtype)

    # out = sum over each window / d  =>  dx = g / d added to every element of the window
    def backward(self, grad):
        x, _ = self.saved()
        return AvgPool3dGrad.run(grad, x_shape=x.shape, **self.params)


class AvgPool3dGrad(Function):
    """avg_pool3d's input gradient: dx = g / d added to every element of each window, padding
    cut off: g (N, C, OD, OH, OW) -> x_shape (N, C, D, H, W). Linear in g, the transpose of the
    average: dg = avg_pool3d(u)."""

    def forward(self, g, *, x_shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        size, counts = x_shape[2:], g.shape[2:]
        ends = kernels.end_paddings(size, counts, kernel_size, stride, padding, (1, 1, 1))
        dxp = np.zeros((*x_shape[:2], *(p + n + e for p, n, e in zip(padding, size, ends,
                                                                      strict=True))),
                       dtype=g.dtype)
        share = g / divisors(size, counts, kernel_size, stride, padding, count_include_pad,
                             divisor_override).astype(g.dtype)
        for _, view in kernels.volume_views(dxp, kernel_size, stride):
            view += share                                        # adds: views may overlap
        return dxp[(slice(None), slice(None),
                    *(slice(p, p + n) for p, n in zip(padding, size, strict=True)))]

    # dx = the transpose of the average applied to g  =>  dg = the average of u
    def backward(self, grad):
        params = {k: v for k, v in self.params.items() if k != "x_shape"}
        return AvgPool3d.run(grad, **params)


class AdaptiveAvgPool3d(Function):
    """out[n,c,s,i,j] = mean of x[n, c, t, r, q] over the bins t in depths(s), r in rows(i),
    q in cols(j), each axis's bins adaptive_avg_pool2d's ([floor(i*H/OH), ceil((i+1)*H/OH))):
    x (N, C, D, H, W) -> (N, C, OD, OH, OW), output_size = (OD, OH, OW), as PyTorch.

    Linear in x: with the bin matrices A_d (OD, D), A_h (OH, H), A_w (OW, W) (bin_matrix), out
    averages over depth with A_d (x read as (N, C, D, H*W)), then over each slice's rows and
    columns, A_h . A_w^T. Backward: the transposes in the reverse order, dx = A_d^T (A_h^T g A_w)
    -- matmuls with constants, so under create_graph their rules give every order.
    """

    def forward(self, x, output_size):
        (n, c, d, h, w), (od, oh, ow) = x.shape, output_size
        # (OD, D) @ (N, C, D, H*W) -> (N, C, OD, H*W) -> (N, C, OD, H, W)
        deep = (bin_matrix(d, od, x.dtype) @ x.reshape(n, c, d, h * w)).reshape(n, c, od, h, w)
        # (OH, H) @ (N, C, OD, H, W) @ (W, OW) -> (N, C, OD, OH, OW)
        return bin_matrix(h, oh, x.dtype) @ deep @ bin_matrix(w, ow, x.dtype).T

    # out = A_d . (A_h x A_w^T)  =>  dx = A_d^T . (A_h^T g A_w): each bin hands g / its size back
    def backward(self, grad):
        x, _ = self.saved()
        (n, c, d, h, w), (od, oh, ow) = x.shape, self.params["output_size"]
        # (H, OH) @ (N, C, OD, OH, OW) @ (OW, W) -> (N, C, OD, H, W) -> (N, C, OD, H*W)
        flat = (bin_matrix(h, oh, grad.dtype).T @ grad @ bin_matrix(w, ow, grad.dtype))
        flat = flat.reshape(n, c, od, h * w)
        # (D, OD) @ (N, C, OD, H*W) -> (N, C, D, H*W) -> (N, C, D, H, W)
        return (bin_matrix(d, od, grad.dtype).T @ flat).reshape(n, c, d, h, w)


def max_pool3d(x, kernel_size: int | tuple[int, int, int],
               stride: int | tuple[int, int, int] | None = None,
               padding: int | tuple[int, int, int] = 0, dilation: int | tuple[int, int, int] = 1,
               ceil_mode: bool = False,
               return_indices: bool = False) -> Value | tuple[Value, Value]:
    """Max over (KD, KH, KW) windows of x padded by `padding`: x (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or one unbatched volume (C, D, H, W) -> (C, OD, OH, OW),
    OD = (D + 2*padding - DD*(KD - 1) - 1) // SD + 1 (likewise OH, OW), as PyTorch's max_pool3d
    in its argument order.

    kernel_size, stride, padding and dilation are ints or (d, h, w) triples; stride defaults to
    kernel_size. As max_pool2d: the padding is -inf and at most kernel_size // 2, ceil_mode=True
    rounds up, the gradient goes to the first maximum of each window in row-major order (a NaN
    wins), overlapping windows add up, and return_indices=True returns (out, indices): int64,
    out's shape, no gradient, each maximum's place d*H*W + h*W + w in its (D, H, W) volume, as
    PyTorch's.
    """
    fn = "max_pool3d"
    _, kernel, steps, pads, dilations = _check_pool(fn, x, kernel_size, stride, padding, 3,
                                                    ceil_mode=ceil_mode, dilation=dilation)
    check_flag(fn, "return_indices", return_indices)
    params = {"kernel_size": kernel, "stride": steps, "padding": pads, "dilation": dilations,
              "ceil_mode": bool(ceil_mode)}
    return _volume_max(x, MaxPool3d, params, return_indices, lambda volumes: kernels.max_pool3d(
        volumes, kernel, steps, pads, ceil_mode, dilations)[1])


def _volume_max(x, op: type[Function], params: dict, return_indices: bool,
                places_of) -> Value | tuple[Value, Value]:
    """op (MaxPool3d or AdaptiveMaxPool3d) with params on x as a batch of volumes; with
    return_indices also the indices, int64 in out's layout: the op's places where it was
    recorded, else (no_grad, or an input that needs no gradient) places_of(the volumes' array),
    the kernel's again. The recorded op keeps the indices Value (for ONNX export)."""
    pooled = []

    def run(volumes):
        pooled.append((volumes, op.apply(volumes, **params)))
        return pooled[-1][1]

    out = on_image_batch(x, 3, run)
    if not return_indices:
        return out
    volumes, node = pooled[0]
    places = (node.fn.places if node.fn is not None else
              places_of(np.asarray(data_of(volumes))))
    indices = Value(places.astype(np.int64).reshape(out.shape), requires_grad=False)
    if node.fn is not None:
        node.fn.returned_indices = indices
    return out, indices


def avg_pool3d(x, kernel_size: int | tuple[int, int, int],
               stride: int | tuple[int, int, int] | None = None,
               padding: int | tuple[int, int, int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Value:
    """Mean over (KD, KH, KW) windows of x zero-padded by `padding`: x (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or one unbatched volume (C, D, H, W) -> (C, OD, OH, OW),
    OD = (D + 2*padding - KD) // SD + 1 (likewise OH, OW), as PyTorch's avg_pool3d.

    kernel_size, stride and padding are ints or (d, h, w) triples; stride defaults to
    kernel_size, padding is at most kernel_size // 2; ceil_mode, count_include_pad and
    divisor_override as avg_pool2d's.
    """
    fn = "avg_pool3d"
    xa, kernel, steps, pads, _ = _check_pool(fn, x, kernel_size, stride, padding, 3,
                                             ceil_mode=ceil_mode)
    check_flag(fn, "count_include_pad", count_include_pad)
    check_divisor_override(fn, divisor_override)
    _check_float(fn, xa)
    return on_image_batch(x, 3, lambda volumes: AvgPool3d.apply(
        volumes, kernel_size=kernel, stride=steps, padding=pads, ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=None if divisor_override is None else int(divisor_override)))


def adaptive_avg_pool3d(x, output_size: int | None | tuple[int | None, ...]) -> Value:
    """Mean over each of OD x OH x OW bins of the volume: x (N, C, D, H, W) ->
    (N, C, OD, OH, OW), or (C, D, H, W) -> (C, OD, OH, OW), as PyTorch's adaptive_avg_pool3d.

    output_size is an int or a triple (OD, OH, OW), where None keeps the input's size; each
    axis's bins are adaptive_avg_pool2d's: they may differ in size and overlap.
    output_size=1 is global average pooling. Unlike PyTorch, output_size 0 is an error.
    """
    fn = "adaptive_avg_pool3d"
    triple = check_output_size(fn, output_size, 3)
    size = _check_adaptive_input(fn, x, 3)
    _check_float(fn, np.asarray(data_of(x)))
    size = tuple(n if o is None else o for n, o in zip(size, triple, strict=True))
    return on_image_batch(x, 3, lambda volumes: AdaptiveAvgPool3d.apply(volumes,
                                                                        output_size=size))


def adaptive_max_pool3d(x, output_size: int | None | tuple[int | None, ...],
                        return_indices: bool = False) -> Value | tuple[Value, Value]:
    """Max over each of OD x OH x OW bins of the volume: x (N, C, D, H, W) -> (N, C, OD, OH, OW),
    or one unbatched volume (C, D, H, W) -> (C, OD, OH, OW), as PyTorch's adaptive_max_pool3d.

    output_size is an int or a triple (OD, OH, OW), where None keeps the input's size; each
    axis's bins are adaptive_avg_pool2d's, which may differ in size and overlap. The gradient
    goes to each bin's first maximum in row-major order, as PyTorch's (a NaN makes its bin's
    maximum NaN and takes the gradient: the last NaN of the bin); an element that is the
    maximum of several overlapping bins gets the sum of their gradients. return_indices=True
    returns (out, indices): int64, out's shape, no gradient, each maximum's place
    d*H*W + h*W + w in its volume, what max_unpool3d takes. Unlike PyTorch, output_size 0 is an
    error.
    """
    fn = "adaptive_max_pool3d"
    triple = check_output_size(fn, output_size, 3)
    check_flag(fn, "return_indices", return_indices)
    size = _check_adaptive_input(fn, x, 3)
    size = tuple(n if o is None else o for n, o in zip(size, triple, strict=True))
    return _volume_max(x, AdaptiveMaxPool3d, {"output_size": size}, return_indices,
                       lambda volumes: kernels.adaptive_max_pool3d(volumes, size)[1])


def max_unpool3d(x, indices, kernel_size: int | tuple[int, int, int],
                 stride: int | tuple[int, int, int] | None = None,
                 padding: int | tuple[int, int, int] = 0,
                 output_size: tuple[int, ...] | None = None) -> Value:
    """max_pool3d's partial inverse: zeros of (N, C, OD, OH, OW) with out[n, c].flat[indices[n,
    c, s, i, j]] = x[n, c, s, i, j], as PyTorch's max_unpool3d; x (N, C, D, H, W) or one
    unbatched volume (C, D, H, W), indices as max_pool3d(..., return_indices=True) returned them
    (each a place d*OH*OW + h*OW + w in its volume).

    OD = (D - 1)*SD - 2*PD + KD by default (likewise OH, OW), or output_size (OD, OH, OW) or
    (N, C, OD, OH, OW), each within stride - 1 of that; stride defaults to kernel_size. As
    max_unpool2d: the last of equal indices (in x's row-major order) is written, and only it
    gets a gradient, g gathered at the indices. A volume (D, H, W) is a D x H*W image whose
    place d*H*W + h*W + w is its own index, so this is max_unpool2d's op on x as (N, C, D, H*W)
    into (OD, OH*OW) planes, reshaped back: its gradients of every order are that op's.
    """
    size, kernel, steps, pads = _check_unpool("max_unpool3d", x, indices, kernel_size, stride,
                                              padding, output_size, 3)

    def run(volumes):                   # (N, C, D, H, W) -> (N, C, OD, OH, OW)
        n, c, d, h, w = volumes.shape
        images = reshape(volumes, (n, c, d, h * w))           # (N, C, D, H*W)
        out = MaxUnpool2d.apply(images, indices, output_size=(size[0], size[1] * size[2]),
                                kernel_size=kernel, stride=steps, padding=pads)
        return reshape(out, (n, c, *size))                    # (N, C, OD, OH*OW) -> volumes

    return on_image_batch(x, 3, run)

