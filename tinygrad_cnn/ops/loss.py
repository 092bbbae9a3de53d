"""Softmax, log-softmax and the fused softmax cross-entropy loss, all computed through the
log-sum-exp shift so that logits in the thousands neither overflow nor lose the answer."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.value import Value


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - logsumexp(x) along axis, with the maximum subtracted first so exp() cannot overflow."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _check_axis(op: str, x: np.ndarray, axis) -> int:
    if not isinstance(axis, (int, np.integer)) or not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(f"{op}: axis {axis!r} is out of range for an input of shape {x.shape}; "
                         f"expected an int in [-{max(x.ndim, 1)}, {max(x.ndim, 1)})")
    if x.ndim == 0:
        raise ValueError(f"{op}: input is a scalar; expected at least one axis to normalise over")
    return int(axis)


class Softmax(Function):
    """s_i = exp(x_i) / sum_j exp(x_j) along `axis`; any shape, same shape out.

    Backward: ds_i/dx_k = s_i (delta_ik - s_k), so dx_k = sum_i g_i s_i (delta_ik - s_k)
    = s_k (g_k - sum_i g_i s_i).
    """

    def forward(self, x, axis=-1):
        self.axis = _check_axis("softmax", x, axis)
        self.s = np.exp(_log_softmax(x, self.axis))
        return self.s

    # dx = s * (g - sum(g * s)) along the axis (the Jacobian diag(s) - s s^T applied to g)
    def backward(self, grad):
        return self.s * (grad - (grad * self.s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - log sum_j exp(x_j) along `axis`; any shape, same shape out.

    Backward: dy_i/dx_k = delta_ik - s_k with s = softmax(x) = exp(y), so
    dx_k = g_k - s_k sum_i g_i.
    """

    def forward(self, x, axis=-1):
        self.axis = _check_axis("log_softmax", x, axis)
        self.y = _log_softmax(x, self.axis)
        return self.y

    # dx = g - softmax(x) * sum(g) along the axis; softmax(x) = exp(y)
    def backward(self, grad):
        return grad - np.exp(self.y) * grad.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Function):
    """L = -(1/N) sum_n log softmax(logits[n])[target[n]]: logits (N, K), target (N,) ints -> ().

    Fused with the softmax: log p = logits - logsumexp(logits) row by row (shifted by the row
    maximum, so logits of any size give a finite loss).
    Backward: dL/dlogits[n,k] = (p[n,k] - [k == target[n]]) / N, since
    d/dz_k (-z_y + log sum_j exp z_j) = -[k == y] + p_k.
    """

    def forward(self, logits, target):
        if logits.ndim != 2 or 0 in logits.shape:
            raise ValueError(f"cross_entropy: logits must be 2-D (N, K) with N, K >= 1, got "
                             f"shape {logits.shape}; flatten the features first")
        n, k = logits.shape
        if target.dtype.kind not in "iu":
            raise ValueError(f"cross_entropy: target must hold integer class ids, got dtype "
                             f"{target.dtype}; expected an integer array of shape ({n},); "
                             f"convert with target.astype(np.int64), not one-hot rows")
        if target.shape != (n,):
            raise ValueError(f"cross_entropy: target has shape {target.shape} but logits have "
                             f"shape {logits.shape}; expected one class id per row, shape ({n},)")
        if (target.min() < 0 or target.max() >= k):
            raise ValueError(f"cross_entropy: target values lie in [{target.min()}, "
                             f"{target.max()}]; expected class ids in [0, {k}) for {k} classes")
        log_p = _log_softmax(logits, axis=1)
        self.p, self.target = np.exp(log_p), target
        return -log_p[np.arange(n), target].mean()

    # L = -mean_n log p[n, y_n], p = softmax(logits)  =>  dL/dlogits = (p - onehot(y)) / N
    def backward(self, grad):
        dlogits = self.p.copy()
        dlogits[np.arange(len(self.target)), self.target] -= 1
        return grad * dlogits / len(self.target), None


def softmax(x, axis: int = -1) -> Value:
    """exp(x) / sum(exp(x)) along `axis` (default the last): any shape -> the same shape."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Value:
    """x - log(sum(exp(x))) along `axis` (default the last), stable: any shape -> same shape."""
    return LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits, target) -> Value:
    """Mean cross-entropy of softmax(logits) against class ids: logits (N, K), target (N,) -> ().

    target holds integer class ids in [0, K): a numpy array, a list or an integer Value.
    """
    if not isinstance(target, Value):
        target = np.asarray(target)    # a list of ints stays integer (Value() would make floats)
    return CrossEntropy.apply(logits, target)
