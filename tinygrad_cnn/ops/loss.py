"""Softmax, log-softmax and the losses: cross_entropy (fused with the softmax), nll_loss,
mse_loss and binary_cross_entropy_with_logits, each with reduction "mean", "sum" or "none".
Everything goes through the log-sum-exp shift or softplus, so logits of any size neither
overflow nor lose the answer."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import Exp, Sigmoid
from tinygrad_cnn.value import Value, data_of

REDUCTIONS = ("mean", "sum", "none")


class Softmax(Function):
    """s_i = exp(x_i) / sum_j exp(x_j) along `axis`; any shape, same shape out.

    Backward: ds_i/dx_k = s_i (delta_ik - s_k), so dx_k = sum_i g_i s_i (delta_ik - s_k)
    = s_k (g_k - sum_i g_i s_i).
    """

    def forward(self, x, axis=-1):
        self.axis = axis
        return np.exp(_log_softmax(x, axis))

    # dx = s * (g - sum(g * s)) along the axis (the Jacobian diag(s) - s s^T applied to g)
    def backward(self, grad):
        _, s = self.saved()
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - log sum_j exp(x_j) along `axis`; any shape, same shape out.

    Backward: dy_i/dx_k = delta_ik - s_k with s = softmax(x) = exp(y), so
    dx_k = g_k - s_k sum_i g_i.
    """

    def forward(self, x, axis=-1):
        self.axis = axis
        return _log_softmax(x, axis)

    # dx = g - softmax(x) * sum(g) along the axis; softmax(x) = exp(y)
    def backward(self, grad):
        _, y = self.saved()
        return grad - Exp.run(y) * grad.sum(axis=self.axis, keepdims=True)


class CrossEntropy(Function):
    """l_n = -log softmax(logits[n])[target[n]], reduced over n by `reduction` ("mean": L =
    (1/N) sum_n l_n): logits (N, K), target (N,) ints -> () or (N,) for "none".

    Fused with the softmax: log p = logits - logsumexp(logits) row by row (shifted by the row
    maximum, so logits of any size give a finite loss).
    Backward: dl_n/dlogits[n,k] = p[n,k] - [k == target[n]], since
    d/dz_k (-z_y + log sum_j exp z_j) = -[k == y] + p_k.
    """

    def forward(self, logits, target, reduction="mean"):
        self.target, self.reduction = target, reduction     # integer class ids: a constant
        log_p = _log_softmax(logits, axis=1)
        return _reduce(-log_p[np.arange(len(target)), target], reduction)

    # l_n = -log p[n, y_n], p = softmax(logits)  =>  dl_n/dlogits[n] = p[n] - onehot(y_n),
    # times l_n's upstream gradient (g / N for the mean)
    def backward(self, grad):
        logits, _, _ = self.saved()
        onehot = np.eye(logits.shape[1], dtype=logits.dtype)[self.target]
        per_row = _per_loss(grad, self.reduction, len(self.target), (len(self.target), 1))
        return (Softmax.run(logits, axis=1) - onehot) * per_row, None


class NLLLoss(Function):
    """l_n = -log_probs[n, target[n]], reduced over n by `reduction`: log_probs (N, K),
    target (N,) ints -> () or (N,) for "none". With log_probs = log_softmax(logits, axis=1)
    it is cross_entropy(logits, target).

    Backward: l_n picks one element of row n with sign -1: dl_n/dlog_probs[n] = -onehot(y_n).
    """

    def forward(self, log_probs, target, reduction="mean"):
        self.target, self.reduction = target, reduction     # integer class ids: a constant
        return _reduce(-log_probs[np.arange(len(target)), target], reduction)

    # l_n = -log_probs[n, y_n]  =>  dl_n/dlog_probs[n] = -onehot(y_n), times l_n's upstream
    def backward(self, grad):
        log_probs, _, _ = self.saved()
        onehot = np.eye(log_probs.shape[1], dtype=log_probs.dtype)[self.target]
        return -onehot * _per_loss(grad, self.reduction, len(self.target),
                                   (len(self.target), 1)), None


class MSELoss(Function):
    """l = (x - t)^2 elementwise, reduced by `reduction` ("mean" over all elements):
    x and t of one shape -> () or that shape for "none".

    Backward: dl/dx = 2 (x - t) and dl/dt = -2 (x - t).
    """

    def forward(self, x, t, reduction="mean"):
        self.reduction = reduction
        return _reduce((x - t) ** 2, reduction)

    # l = (x - t)^2  =>  dl/dx = 2 (x - t) = -dl/dt, times l's upstream (g / size for the mean)
    def backward(self, grad):
        x, t, _ = self.saved()
        dx = 2 * (x - t) * _per_loss(grad, self.reduction, x.size)
        return (dx if self.needs_input_grad[0] else None,
                -dx if self.needs_input_grad[1] else None)


class BCEWithLogits(Function):
    """l = -t log s(z) - (1 - t) log(1 - s(z)) elementwise with s the sigmoid, reduced by
    `reduction`: z and t of one shape -> () or that shape for "none".

    Since log s(z) = -softplus(-z), log(1 - s(z)) = -softplus(z) and softplus(-z) =
    softplus(z) - z: l = softplus(z) - t z, computed as max(z, 0) - t z + log(1 + e^-|z|),
    where no exponent is positive: finite for logits of any size.
    Backward: dl/dz = softplus'(z) - t = s(z) - t; dl/dt = -z.
    """

    def forward(self, z, t, reduction="mean"):
        self.reduction = reduction
        return _reduce(np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z))), reduction)

    # l = softplus(z) - t z  =>  dl/dz = sigmoid(z) - t, dl/dt = -z, times l's upstream gradient
    def backward(self, grad):
        z, t, _ = self.saved()
        g = _per_loss(grad, self.reduction, z.size)
        return (g * (Sigmoid.run(z) - t) if self.needs_input_grad[0] else None,
                g * -z if self.needs_input_grad[1] else None)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """x - logsumexp(x) along axis, with the maximum subtracted first so exp() cannot overflow."""
    if x.shape[axis] == 0:        # nothing to normalise (and no maximum): an empty result
        return x.astype(np.result_type(x, 1.0))
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    """The losses' mean, sum, or the losses themselves ("none")."""
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def _per_loss(grad, reduction: str, count: int, shape=None):
    """Each single loss's upstream gradient: g / count for the mean, g for the sum (both
    broadcast over the losses), and for "none" g itself, reshaped to `shape` if given."""
    if reduction == "mean":
        return grad / count
    return grad.reshape(shape) if reduction == "none" and shape is not None else grad


def _check_axis(fn: str, x, axis) -> None:
    ndim = np.ndim(x.data if isinstance(x, Value) else x)
    if ndim == 0:
        raise ValueError(f"{fn}: input is a scalar; expected at least one axis to normalise over")
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"{fn}: axis {axis!r} is out of range for an input of shape "
                         f"{np.shape(data_of(x))}; expected an int in [-{ndim}, {ndim})")


def check_reduction(fn: str, reduction) -> None:
    """reduction is one of REDUCTIONS, else an error naming `fn` (an op or a loss module)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction {reduction!r} is not one of 'mean', 'sum', 'none'; "
                         f"expected e.g. reduction='sum'")


def _class_ids(fn: str, name: str, scores, target) -> np.ndarray:
    """target as an integer array of N class ids in [0, K) for `name` (N, K), after checking."""
    shape = np.shape(data_of(scores))
    if len(shape) != 2 or 0 in shape:
        raise ValueError(f"{fn}: {name} has shape {shape}; expected 2-D (N, K), a row of K >= 1 "
                         f"class scores for each of N >= 1 samples{_rows_hint(name, shape)}")
    (n, k), ids = shape, np.asarray(data_of(target))   # a list of ints stays integer
    if ids.shape == (n, k):
        raise ValueError(f"{fn}: target has shape {ids.shape}, like one-hot rows; expected {n} "
                         f"integer class ids, shape ({n},); convert with labels.argmax(axis=1)")
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{fn}: target must hold integer class ids, got dtype {ids.dtype}; "
                         f"expected an integer array of shape ({n},); convert with "
                         f"target.astype(np.int64)")
    if ids.shape != (n,):
        raise ValueError(f"{fn}: target has shape {ids.shape} but {name} have shape {shape}; "
                         f"expected one class id per row, shape ({n},)")
    if ids.min() < 0 or ids.max() >= k:
        raise ValueError(f"{fn}: target values lie in [{ids.min()}, {ids.max()}]; expected "
                         f"class ids in [0, {k}) for {k} classes")
    return ids


def _rows_hint(name: str, shape: tuple[int, ...]) -> str:
    """How to make (N, K) rows of scores of the `shape` given, where there is a way."""
    if len(shape) == 1 and shape[0] > 0:
        return (f"; for a single sample, add the batch axis: {name}.reshape(1, -1), with a "
                f"target of shape (1,)")
    if len(shape) > 2 and 0 not in shape:
        class_last = (0, *range(2, len(shape)), 1)
        return (f"; for one class per sample, map the features to K scores first (e.g. "
                f"nn.Flatten() then nn.Linear); for a class per position (K = {shape[1]} on "
                f"axis 1, target of shape {(shape[0], *shape[2:])}), make a row per position: "
                f"{name}.transpose{class_last}.reshape(-1, {shape[1]}) with target.reshape(-1)")
    return ""


def _elementwise_target(fn: str, x, target):
    """target checked against x (same shape, same floating dtype); integer and bool targets
    become constants of x's dtype, so they do not widen the loss."""
    xa, ta = np.asarray(data_of(x)), np.asarray(data_of(target))
    if xa.shape != ta.shape:
        fix = (f"reshape one, e.g. target.reshape({xa.shape})" if xa.size == ta.size else
               f"they hold {xa.size} and {ta.size} elements, so a reshape cannot match them; "
               f"check which target goes with this input")
        raise ValueError(f"{fn}: input has shape {xa.shape} but target has shape {ta.shape}; "
                         f"expected equal shapes (no broadcasting, which would silently compare "
                         f"every pair); {fix}")
    if ta.dtype.kind in "biu" and xa.dtype.kind == "f":
        return ta.astype(xa.dtype)
    if ta.dtype != xa.dtype and ta.dtype.kind == "f" == xa.dtype.kind:
        raise TypeError(f"{fn}: input has dtype {xa.dtype} but target has dtype {ta.dtype}; "
                        f"expected the same dtype; convert the target, e.g. "
                        f"target.astype(np.{xa.dtype}) for an array")
    return target




def softmax(x, axis: int = -1) -> Value:
    """exp(x) / sum(exp(x)) along `axis` (default the last): any shape -> the same shape."""
    _check_axis("softmax", x, axis)
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Value:
    """x - log(sum(exp(x))) along `axis` (default the last), stable: any shape -> same shape."""
    _check_axis("log_softmax", x, axis)
    return LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits, target, reduction: str = "mean") -> Value:
    """Cross-entropy of softmax(logits) against class ids: logits (N, K), target (N,) -> ()
    ("mean" over the batch, or "sum"), or the N losses for reduction="none".

    target holds integer class ids in [0, K): a numpy array, a list or an integer Value.
    """
    check_reduction("cross_entropy", reduction)
    ids = _class_ids("cross_entropy", "logits", logits, target)
    # a Value stays the input, so that drawings show the labels' node
    return CrossEntropy.apply(logits, target if isinstance(target, Value) else ids,
                              reduction=reduction)


def nll_loss(log_probs, target, reduction: str = "mean") -> Value:
    """Negative log-likelihood of class ids: -log_probs[n, target[n]], log_probs (N, K) (e.g.
    from log_softmax(logits, axis=1)), target (N,) -> () ("mean" or "sum") or (N,) ("none")."""
    check_reduction("nll_loss", reduction)
    ids = _class_ids("nll_loss", "log_probs", log_probs, target)
    return NLLLoss.apply(log_probs, target if isinstance(target, Value) else ids,
                         reduction=reduction)


def mse_loss(input, target, reduction: str = "mean") -> Value:
    """Squared error (input - target)^2, averaged ("mean"), summed ("sum") or elementwise
    ("none"): input and target of one shape -> () or that shape. Both get gradients."""
    check_reduction("mse_loss", reduction)
    target = _elementwise_target("mse_loss", input, target)
    return MSELoss.apply(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean") -> Value:
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed stably from
    the logits as softplus(logits) - target * logits: logits and target of one shape -> ()
    ("mean" or "sum") or that shape ("none"). Finite for logits of any size."""
    check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _elementwise_target("binary_cross_entropy_with_logits", logits, target)
    return BCEWithLogits.apply(logits, target, reduction=reduction)
