"""Matrix products: matmul (1-D, 2-D and batched, numpy's rules) and linear (x @ w.T + b)."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.shape import unbroadcast
from tinygrad_cnn.value import Value, data_of


class MatMul(Function):
    """a @ b with numpy's rules: 1-D operands are promoted to matrices and the added axis is
    dropped from the result; leading (batch) axes broadcast."""

    def forward(self, a, b):
        return a @ b

    # C = A B  =>  dA = dC B^T, dB = A^T dC; broadcast batch axes are summed back
    def backward(self, grad):
        a, b, _ = self.saved()
        a_shape, b_shape = a.shape, b.shape
        if len(a_shape) == 1:
            a = a.reshape((1,) + a_shape)                       # (K,) -> (1, K)
        if len(b_shape) == 1:
            b = b.reshape(b_shape + (1,))                       # (K,) -> (K, 1)
        grad = grad.reshape(_matrix_shape(a, b))               # put back the dropped axes
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(grad @ _swap_last(b), a.shape).reshape(a_shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(_swap_last(a) @ grad, b.shape).reshape(b_shape)
        return da, db


def _matrix_shape(a, b) -> tuple[int, ...]:
    """The shape of a @ b for matrices a (..., N, K) and b (..., K, M): (..., N, M)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return batch + (a.shape[-2], b.shape[-1])


def _swap_last(x):
    """x with its last two axes swapped (an array or a Value)."""
    n = len(x.shape)
    return x.transpose(tuple(range(n - 2)) + (n - 1, n - 2))


class Linear(Function):
    """x @ w.T + b: x (..., in), w (out, in), b (out,) -> (..., out)."""

    def forward(self, x, w, b):
        out = x @ w.T
        return out if b is None else out + b

    # y = x W^T + b  =>  dx = dy W, dW = dy^T x (summed over the batch), db = sum of dy
    def backward(self, grad):
        x, w, _, _ = self.saved()
        m = math.prod(x.shape[:-1])                             # M rows; no -1, so 0 works
        rows = grad.reshape((m, grad.shape[-1]))                # (..., out) -> (M, out)
        dx = grad @ w if self.needs_input_grad[0] else None
        dw = rows.T @ x.reshape((m, x.shape[-1])) if self.needs_input_grad[1] else None
        db = rows.sum(axis=0) if self.needs_input_grad[2] else None
        return dx, dw, db


def matmul(a, b) -> Value:
    """a @ b: (..., N, K) @ (..., K, M) -> (..., N, M); 1-D operands as in numpy."""
    a_shape, b_shape = np.shape(data_of(a)), np.shape(data_of(b))
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{a_shape} and {b_shape}; use * to multiply by a scalar")
    inner = b_shape[-2 if len(b_shape) > 1 else 0]
    if a_shape[-1] != inner:
        raise ValueError(f"matmul: cannot multiply shapes {a_shape} and {b_shape}: inner "
                         f"dimensions {a_shape[-1]} and {inner} differ; expected a's last "
                         f"dimension to equal b's second-to-last")
    try:
        np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a_shape} and {b_shape} do not "
                         f"broadcast; expected equal or 1") from None
    return MatMul.apply(a, b)


def linear(x, w, b=None) -> Value:
    """x @ w.T + b with w of shape (out_features, in_features), as in PyTorch.

    The layer computes in the weight's dtype: a constant float64 batch (what `images / 255.0`
    gives) meets float32 weights as float32, not silently in float64 at half the speed; an
    input that requires grad must already have the weight's dtype.
    """
    x_data, w_data = np.asarray(data_of(x)), np.asarray(data_of(w))
    if w_data.ndim != 2 or x_data.ndim == 0 or x_data.shape[-1] != w_data.shape[1]:
        raise ValueError(
            f"linear: input of shape {x_data.shape} does not fit weight of shape "
            f"{w_data.shape}; expected weight (out_features, in_features) with in_features = "
            f"the input's last dimension{_one_example_hint(x_data.shape, w_data.shape)}")
    if b is not None and np.shape(data_of(b)) != (w_data.shape[0],):
        raise ValueError(f"linear: bias has shape {np.shape(data_of(b))}; expected "
                         f"({w_data.shape[0]},), one per output feature of weight "
                         f"{w_data.shape}")
    if x_data.dtype != w_data.dtype and x_data.dtype.kind == "f" and w_data.dtype.kind == "f":
        x = in_weight_dtype("linear", x, w_data.dtype)
    return Linear.apply(x, w, b)


def _one_example_hint(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> str:
    """For an input of 2 or more axes that holds exactly in_features values: it is most likely one
    example whose first axis went on as the batch (one image (C, H, W) through the convolutions,
    which take it unbatched as PyTorch's do, and Flatten(), which keeps axis 0: the channels);
    '; ...' saying to give the model a batch of one, else ''."""
    if len(w_shape) != 2 or len(x_shape) < 2 or math.prod(x_shape) != w_shape[1]:
        return ""
    return (f"; the input's {w_shape[1]} values are exactly in_features: it looks like one "
            f"example whose first axis was read as the batch (e.g. one image (C, H, W) through "
            f"Flatten(), which kept its channels as the batch axis); give the model a batch: "
            f"x[None] for one example, or images[:1] rather than images[0]")


def in_weight_dtype(op: str, x, dtype: np.dtype):
    """A constant float input converted to the layer weight's dtype; an input that requires
    grad and has another dtype is an error naming both (converting it would need a cast op)."""
    if isinstance(x, Value) and x.requires_grad:
        raise TypeError(f"{op}: input has dtype {x.dtype} but the weight has dtype {dtype}; "
                        f"expected the same dtype for an input that requires grad; make the "
                        f"input {dtype} where it is created, e.g. tc.Value(data, dtype=np.{dtype})"
                        f"{gradcheck_hint(op)}")
    return np.asarray(data_of(x), dtype=dtype)


def gradcheck_hint(op: str) -> str:
    """The fix for a layer checked with tc.gradcheck, which makes float64 copies of its inputs
    but leaves a layer's float32 weights as they are."""
    return (f"; to check a layer with tc.gradcheck (float64 copies of its inputs), pass its "
            f"weights as inputs too: tc.gradcheck(lambda x, w, b: tc.ops.{op}(x, w, b), "
            f"[x, layer.weight.data, layer.bias.data])")
