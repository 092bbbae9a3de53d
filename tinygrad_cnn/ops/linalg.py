"""Matrix products: matmul (1-D, 2-D and batched, numpy's rules) and linear (x @ w.T + b)."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import unbroadcast


class MatMul(Function):
    """a @ b with numpy's rules: 1-D operands are promoted to matrices and the added axis is
    dropped from the result; leading (batch) axes broadcast."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                             f"{a.shape} and {b.shape}; use * to multiply by a scalar")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: cannot multiply shapes {a.shape} and {b.shape}: inner dimensions "
                f"{a.shape[-1]} and {b.shape[-2 if b.ndim > 1 else 0]} differ; expected "
                f"a's last dimension to equal b's second-to-last")
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not "
                             f"broadcast; expected equal or 1") from None
        self.a, self.b = a, b
        return a @ b

    # C = A B  =>  dA = dC B^T, dB = A^T dC; broadcast batch axes are summed back
    def backward(self, grad):
        a = self.a[None, :] if self.a.ndim == 1 else self.a    # (K,) -> (1, K)
        b = self.b[:, None] if self.b.ndim == 1 else self.b    # (K,) -> (K, 1)
        grad = _as_matrix_grad(grad, self.a.ndim, self.b.ndim)
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(grad @ np.swapaxes(b, -1, -2), a.shape).reshape(self.a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(np.swapaxes(a, -1, -2) @ grad, b.shape).reshape(self.b.shape)
        return da, db


def _as_matrix_grad(grad, a_ndim, b_ndim):
    """Put back the axes that 1-D operands dropped from the output gradient."""
    if a_ndim == 1:
        grad = np.expand_dims(grad, -2 if b_ndim > 1 else 0)    # (..., N) -> (..., 1, N)
    if b_ndim == 1:
        grad = np.expand_dims(grad, -1)                         # (..., M) -> (..., M, 1)
    return grad


class Linear(Function):
    """x @ w.T + b: x (..., in), w (out, in), b (out,) -> (..., out)."""

    def forward(self, x, w, b):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape {w.shape}; "
                f"expected weight (out_features, in_features) with in_features = the input's "
                f"last dimension")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias has shape {b.shape}; expected ({w.shape[0]},), one "
                             f"per output feature of weight {w.shape}")
        self.x, self.w = x, w
        out = x @ w.T
        return out if b is None else out + b

    # y = x W^T + b  =>  dx = dy W, dW = dy^T x (summed over the batch), db = sum of dy
    def backward(self, grad):
        dx = grad @ self.w if self.needs_input_grad[0] else None
        dw = db = None
        if self.needs_input_grad[1]:
            dw = grad.reshape(-1, grad.shape[-1]).T @ self.x.reshape(-1, self.x.shape[-1])
        if self.needs_input_grad[2]:
            db = grad.reshape(-1, grad.shape[-1]).sum(axis=0)   # (..., out) -> (out,)
        return dx, dw, db


def matmul(a, b):
    """a @ b: (..., N, K) @ (..., K, M) -> (..., N, M); 1-D operands as in numpy."""
    return MatMul.apply(a, b)


def linear(x, w, b=None):
    """x @ w.T + b with w of shape (out_features, in_features), as in PyTorch."""
    return Linear.apply(x, w, b)
