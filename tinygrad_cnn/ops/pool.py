"""2-D max pooling over (KH, KW) windows of a batch of images, with the gradient routed to the
first maximum of each window (row-major), as in PyTorch."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.value import Value


class MaxPool2d(Function):
    """out[n,c,i,j] = max_{p<KH, q<KW} x[n, c, i*SH + p, j*SW + q]:
    x (N, C, H, W) -> (N, C, OH, OW), OH = (H - KH) // SH + 1 and likewise OW.

    The element at offset (p, q) of every window at once is the strided view
    x[:, :, p::SH, q::SW] (cut to OH x OW), for tiling and overlapping windows alike; the
    maximum runs over the KH*KW views in row-major order, and a view replaces the running
    maximum only where it is strictly larger, so `argmax` keeps the first maximum of each
    window: PyTorch's tie rule. (Reshaping tiling windows to (N, C, OH, KH, OW, KW) and
    taking argmax over each flattened window measured 1.1 ms at the seed's shapes, the
    views 0.5 ms.)

    Backward: out[n,c,i,j] = x[n, c, i*SH + p*, j*SW + q*] for the saved offset (p*, q*),
    so its derivative is 1 for that one input element and 0 for the rest of the window:
    dx gets g[n,c,i,j] there only. An element that is the chosen maximum of several
    overlapping windows receives the sum of their gradients.
    """

    def forward(self, x, kernel_size=2, stride=None):
        kh, kw = _pair("kernel_size", kernel_size)
        sh, sw = (kh, kw) if stride is None else _pair("stride", stride)
        if x.ndim != 4:
            raise ValueError(f"max_pool2d: expected a 4-D input (N, C, H, W), got shape "
                             f"{x.shape}; add a batch axis with x.reshape(1, *x.shape)")
        h, w = x.shape[2:]
        if kh > h or kw > w:
            raise ValueError(f"max_pool2d: kernel {kh}x{kw} is larger than the input {h}x{w} "
                             f"(input {x.shape}); expected kernel_size <= the image size")
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        out = argmax = None
        for p in range(kh):
            for q in range(kw):
                view = x[:, :, p:p + (oh - 1) * sh + 1:sh, q:q + (ow - 1) * sw + 1:sw]
                if out is None:
                    out, argmax = view.copy(), np.zeros(view.shape, dtype=np.intp)
                else:
                    # strictly larger: an equal later value leaves the first maximum chosen
                    argmax = np.where(view > out, p * kw + q, argmax)
                    np.maximum(out, view, out=out)
        self.argmax, self.x_shape = argmax, x.shape
        self.geometry = ((kh, kw), (sh, sw))
        return out

    # d out[i,j] / d x = 1 at the window's first maximum, 0 elsewhere; overlapping windows add
    def backward(self, grad):
        (kh, kw), (sh, sw) = self.geometry
        oh, ow = grad.shape[2:]
        dx = np.zeros(self.x_shape, dtype=grad.dtype)
        for p in range(kh):
            for q in range(kw):
                # the outputs whose maximum sits at offset (p, q) of their window
                chosen = np.where(self.argmax == p * kw + q, grad, 0)
                dx[:, :, p:p + (oh - 1) * sh + 1:sh, q:q + (ow - 1) * sw + 1:sw] += chosen
        return dx


def _pair(name: str, value) -> tuple[int, int]:
    """A positive int or an (h, w) pair of positive ints as a pair."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
            or min(pair) < 1):
        raise ValueError(f"max_pool2d: {name} must be a positive int or a pair of positive "
                         f"ints (h, w), got {value!r}; pass e.g. {name}=2 or {name}=(2, 3)")
    return int(pair[0]), int(pair[1])


def max_pool2d(x, kernel_size: int | tuple[int, int] = 2,
               stride: int | tuple[int, int] | None = None) -> Value:
    """Max over (KH, KW) windows: x (N, C, H, W) -> (N, C, OH, OW), OH = (H - KH) // SH + 1.

    kernel_size and stride are ints or (h, w) pairs; stride defaults to kernel_size
    (non-overlapping windows). The gradient goes to the first maximum of each window.
    """
    return MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride)
