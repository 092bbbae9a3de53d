"""Softmax, log-softmax and the losses: cross_entropy (fused with the softmax), nll_loss,
mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy_with_logits,
binary_cross_entropy and kl_div, each with reduction "mean", "sum" or "none" (kl_div also
"batchmean"). Logits go through the log-sum-exp shift or softplus, so logits of any size neither
overflow nor lose the answer."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import Clip, Exp, Log, Sigmoid, Where
from tinygrad_cnn.ops.shape import broadcasts_to
from tinygrad_cnn.value import Value, data_of

REDUCTIONS = ("mean", "sum", "none")
KL_REDUCTIONS = ("batchmean", *REDUCTIONS)    # kl_div's: "batchmean" divides the sum by N
# binary_cross_entropy's floor under x (1 - x) in dl/dx: PyTorch's 1e-12, a float32 constant
BCE_EPS = float(np.float32(1e-12))                # 9.99999996e-13, in float64 too


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


class L1Loss(Function):
    """l = |x - t| elementwise, reduced by `reduction` ("mean" over all elements): x and t of
    one shape -> () or that shape for "none".

    Backward: dl/dx = sign(x - t) = -dl/dt, 0 where x = t (as PyTorch's).
    """

    def forward(self, x, t, reduction="mean"):
        d = x - t
        self.reduction, self.sign = reduction, _sign(d)
        return _reduce(np.abs(d), reduction)

    # l = |x - t|  =>  dl/dx = sign(x - t) = -dl/dt (0 at x = t), times l's upstream gradient
    def backward(self, grad):
        x, _, _ = self.saved()
        dx = self.sign * _per_loss(grad, self.reduction, x.size)
        return (dx if self.needs_input_grad[0] else None,
                -dx if self.needs_input_grad[1] else None)


class SmoothL1Loss(Function):
    """l = d^2 / (2 beta) where |d| < beta, else |d| - beta / 2, with d = x - t elementwise,
    reduced by `reduction`: x and t of one shape -> () or that shape for "none". beta > 0
    (beta = 0 is l1_loss); the Huber loss is beta times it.

    The two pieces meet at |d| = beta with equal values (beta / 2) and slopes (sign d).
    Backward: dl/dd = d / beta where |d| < beta, else sign(d); dl/dx = dl/dd = -dl/dt.
    """

    def forward(self, x, t, reduction="mean", beta=1.0):
        d = x - t
        z = np.abs(d)
        self.reduction, self.beta = reduction, beta
        # at |d| = beta: the linear piece; a NaN d takes the quadratic one, so its NaN passes on
        self.inside, self.sign = (z < beta) | np.isnan(d), _sign(d)
        return _reduce(np.where(self.inside, 0.5 * z * z / beta, z - 0.5 * beta), reduction)

    # l = d^2 / (2 beta) inside, |d| - beta / 2 outside  =>  dl/dd = d / beta inside, sign(d)
    # outside; dl/dx = dl/dd = -dl/dt, times l's upstream gradient
    def backward(self, grad):
        x, t, _ = self.saved()
        slope = Where.run(self.inside, (x - t) / self.beta, self.sign)
        dx = slope * _per_loss(grad, self.reduction, x.size)
        return (dx if self.needs_input_grad[0] else None,
                -dx if self.needs_input_grad[1] else None)


class HuberLoss(Function):
    """l = d^2 / 2 where |d| < delta, else delta (|d| - delta / 2), with d = x - t elementwise,
    reduced by `reduction`: x and t of one shape -> () or that shape for "none". It equals delta
    times the smooth L1 loss with beta = delta, but computed without dividing by delta, so no
    delta is too large or too small for it.

    Backward: dl/dd = d where |d| < delta, else delta sign(d); dl/dx = dl/dd = -dl/dt.
    """

    def forward(self, x, t, reduction="mean", delta=1.0):
        d = x - t
        z = np.abs(d)
        self.reduction, self.delta = reduction, delta
        # at |d| = delta: the linear piece; a NaN d takes the quadratic one, so its NaN passes on
        self.inside, self.sign = (z < delta) | np.isnan(d), _sign(d)
        with np.errstate(over="ignore"):     # the piece not taken may overflow for a huge delta
            losses = np.where(self.inside, 0.5 * z * z, delta * (z - 0.5 * delta))
        return _reduce(losses, reduction)

    # l = d^2 / 2 inside, delta (|d| - delta / 2) outside  =>  dl/dd = d inside, delta sign(d)
    # outside; dl/dx = dl/dd = -dl/dt, times l's upstream gradient
    def backward(self, grad):
        x, t, _ = self.saved()
        slope = Where.run(self.inside, x - t, self.delta * self.sign)
        dx = slope * _per_loss(grad, self.reduction, x.size)
        return (dx if self.needs_input_grad[0] else None,
                -dx if self.needs_input_grad[1] else None)


class BinaryCrossEntropy(Function):
    """l = -w (t log x + (1 - t) log(1 - x)) elementwise for probabilities x and targets t in
    [0, 1], each log clamped at -100 as PyTorch's (so x = 0 or 1 gives a finite loss), with
    weights w (None: 1) broadcast over x, reduced by `reduction`: x and t of one shape -> ()
    or that shape for "none".

    Backward: dl/dx = w (x - t) / (x (1 - x)), with x (1 - x) clipped below at BCE_EPS (about
    1e-12) as PyTorch's (a finite gradient at x = 0 or 1); dl/dt = w (log(1 - x) - log x).
    """

    def forward(self, x, t, weight=None, reduction="mean"):
        self.weight, self.reduction = weight, reduction
        with np.errstate(divide="ignore"):                  # log 0 = -inf, clamped to -100
            log_x, log_1mx = np.log(x), np.log1p(-x)
        losses = (t - 1) * np.maximum(log_1mx, -100) - t * np.maximum(log_x, -100)
        return _reduce(losses if weight is None else losses * weight, reduction)

    # l = -t log x - (1 - t) log(1 - x)  =>  dl/dx = -t/x + (1 - t)/(1 - x) = (x - t) / (x (1 - x))
    # and dl/dt = log(1 - x) - log x; both times w and l's upstream gradient
    def backward(self, grad):
        x, t, _ = self.saved()
        g = _per_loss(grad, self.reduction, x.size)
        g = g if self.weight is None else g * self.weight
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = g * (x - t) / Clip.run(x * (1 - x), low=BCE_EPS, high=None)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):              # +-inf at x = 0 or 1, as PyTorch's
                dt = g * (Log.run(1 - x) - Log.run(x))
        return dx, dt


class KLDiv(Function):
    """l = p (log p - x) elementwise with p = t (0 where t = 0), or p = e^t with log_target
    (t holds log-probabilities): the terms of KL(p || e^x) for log-probabilities x, reduced by
    `reduction`: x and t of one shape -> () or that shape for "none".

    Backward: dl/dx = -p and dl/dp = log p + 1 - x (nan at p = 0, as PyTorch's); with
    log_target, dl/dt = dl/dp dp/dt = (t + 1 - x) e^t.
    """

    def forward(self, x, t, reduction="mean", log_target=False):
        self.reduction, self.log_target = reduction, log_target
        if log_target:
            return _reduce(np.exp(t) * (t - x), reduction)
        self.zero = t == 0
        # t log t as PyTorch's xlogy(t, t): 0 at t = 0 (not 0 * log 0 = nan)
        return _reduce(t * np.log(np.where(self.zero, 1, t)) - t * x, reduction)

    # l = p log p - p x  =>  dl/dx = -p, dl/dp = log p + 1 - x, times dp/dt = 1 (p = t) or
    # e^t = p (p = e^t, log p = t); all times l's upstream gradient
    def backward(self, grad):
        x, t, _ = self.saved()
        g = _per_loss(grad, self.reduction, x.size)
        p = Exp.run(t) if self.log_target else t
        dx = dt = None
        if self.needs_input_grad[0]:
            dx = -p * g
        if self.needs_input_grad[1]:
            if self.log_target:
                dt = (t + 1 - x) * p * g
            else:       # log p + 1 is unbounded at p = 0: nan there, as PyTorch's
                dt = (Log.run(Where.run(self.zero, np.nan, t)) + 1 - x) * g
        return dx, dt


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


def check_reduction(fn: str, reduction, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    """reduction is one of `allowed`, else an error naming `fn` (an op or a loss module)."""
    if reduction not in allowed:
        raise ValueError(f"{fn}: reduction {reduction!r} is not one of "
                         f"{', '.join(map(repr, allowed))}; expected e.g. reduction='sum'")


def check_beta(fn: str, beta) -> None:
    """smooth_l1_loss's beta is a number >= 0, else an error naming `fn`."""
    if not (isinstance(beta, numbers.Real) and beta >= 0):
        raise ValueError(f"{fn}: beta is {beta!r}; expected a number >= 0, the width of the "
                         f"quadratic piece (beta=0 gives l1_loss)")


def check_delta(fn: str, delta) -> None:
    """huber_loss's delta is a number > 0, else an error naming `fn`."""
    if not (isinstance(delta, numbers.Real) and delta > 0):
        raise ValueError(f"{fn}: delta is {delta!r}; expected a number > 0, where the quadratic "
                         f"piece turns linear (for delta -> 0 use l1_loss)")


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


def _check_probabilities(fn: str, name: str, x, fix: str) -> None:
    """Every element of x (input or target of binary_cross_entropy) lies in [0, 1]."""
    xa = np.asarray(data_of(x))
    outside = xa[~((xa >= 0) & (xa <= 1))]                 # nan is outside too
    if outside.size:
        raise ValueError(f"{fn}: all elements of {name} should be between 0 and 1, got "
                         f"{outside.size} outside, e.g. {outside[0]}; {fix}")


def check_weight(fn: str, weight) -> None:
    """binary_cross_entropy's weight is not a string (a reduction passed third) and not a Value
    that requires grad, else an error naming `fn` (the op or BCELoss)."""
    if isinstance(weight, str):
        raise TypeError(f"{fn}: weight is {weight!r}, a string; expected weights or None; pass "
                        f"the reduction by keyword, reduction={weight!r}: weight comes first "
                        f"among the settings, as in PyTorch")
    if isinstance(weight, Value) and weight.requires_grad:
        raise TypeError(f"{fn}: weight requires grad; expected a constant, since the loss is "
                        f"not differentiable with respect to weight (as in PyTorch); pass "
                        f"weight.detach()")


def _weight(fn: str, x, weight) -> np.ndarray | None:
    """binary_cross_entropy's weight as a constant array of x's floating dtype that broadcasts
    to x's shape (numbers, lists and arrays of any real dtype are converted, as PyTorch does),
    after checking; None stays None."""
    if weight is None:
        return None
    check_weight(fn, weight)
    xa, wa = np.asarray(data_of(x)), np.asarray(data_of(weight))
    if wa.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: weight has dtype {wa.dtype}; expected numbers, one weight per "
                        f"element (broadcast to the input's shape)")
    if not broadcasts_to(wa.shape, xa.shape):
        raise ValueError(f"{fn}: weight has shape {wa.shape}, which does not broadcast to the "
                         f"input's shape {xa.shape}; expected a shape that does, e.g. "
                         f"{xa.shape[-1:]} for one weight per entry of the last axis")
    return wa.astype(xa.dtype, copy=False)     # a constant in the input's dtype, as PyTorch


def _sign(d: np.ndarray) -> np.ndarray:
    """-1, 0 or 1 for each element of d, as int8: a constant that keeps the gradient's dtype."""
    return (d > 0).view(np.int8) - (d < 0).view(np.int8)


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


def l1_loss(input, target, reduction: str = "mean") -> Value:
    """Absolute error |input - target|, averaged ("mean"), summed ("sum") or elementwise
    ("none"): input and target of one shape -> () or that shape. Both get gradients, sign(input
    - target) and its negative, 0 where they are equal (as PyTorch)."""
    check_reduction("l1_loss", reduction)
    target = _elementwise_target("l1_loss", input, target)
    return L1Loss.apply(input, target, reduction=reduction)


def smooth_l1_loss(input, target, reduction: str = "mean", beta: float = 1.0) -> Value:
    """d^2 / (2 beta) for |d| < beta, else |d| - beta / 2, with d = input - target, averaged,
    summed or elementwise ("none"): input and target of one shape -> () or that shape.

    Quadratic near 0 and linear beyond beta, so one outlier cannot dominate the gradient; beta
    = 0 is l1_loss, as PyTorch. Both input and target get gradients.
    """
    check_reduction("smooth_l1_loss", reduction)
    check_beta("smooth_l1_loss", beta)
    target = _elementwise_target("smooth_l1_loss", input, target)
    if beta == 0:                       # no quadratic piece: l1_loss, as PyTorch's
        return L1Loss.apply(input, target, reduction=reduction)
    # a float: a numpy float64 beta would widen a float32 loss
    return SmoothL1Loss.apply(input, target, reduction=reduction, beta=float(beta))


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0) -> Value:
    """d^2 / 2 for |d| < delta, else delta (|d| - delta / 2), with d = input - target,
    averaged, summed or elementwise ("none"): input and target of one shape -> () or that
    shape. It is delta * smooth_l1_loss(input, target, beta=delta), computed without the division
    by delta (its own op), so that a large or tiny delta neither overflows nor underflows."""
    check_reduction("huber_loss", reduction)
    check_delta("huber_loss", delta)
    target = _elementwise_target("huber_loss", input, target)
    return HuberLoss.apply(input, target, reduction=reduction, delta=float(delta))


def binary_cross_entropy(input, target, weight=None, reduction: str = "mean") -> Value:
    """Binary cross-entropy -w (target log input + (1 - target) log(1 - input)) of
    probabilities input against targets, both in [0, 1] and of one shape -> () ("mean" or
    "sum") or that shape ("none").

    Each log is clamped at -100, as PyTorch's, so an input of exactly 0 or 1 gives a finite
    loss and gradient. weight (optional, a constant) broadcasts to the input's shape. Both
    input and target get gradients. On logits, binary_cross_entropy_with_logits is stabler.
    """
    fn = "binary_cross_entropy"
    check_reduction(fn, reduction)
    dtype = np.asarray(data_of(input)).dtype
    if dtype.kind != "f":
        raise TypeError(f"{fn}: input has dtype {dtype}; expected floating-point probabilities "
                        f"(as PyTorch); convert them, e.g. input.astype(np.float32)")
    target = _elementwise_target(fn, input, target)
    weight = _weight(fn, input, weight)
    _check_probabilities(fn, "input", input, "expected probabilities; pass ops.sigmoid(logits), "
                         "or the logits to binary_cross_entropy_with_logits, which is stabler")
    _check_probabilities(fn, "target", target, "expected labels 0 or 1, or probabilities")
    return BinaryCrossEntropy.apply(input, target, weight=weight, reduction=reduction)


def kl_div(input, target, reduction: str = "mean", log_target: bool = False) -> Value:
    """The terms of KL(target || exp(input)), target (log target - input), for log-probabilities
    input and probabilities target, 0 where target = 0 (with log_target=True target holds
    log-probabilities and the terms are exp(target) (target - input)): input and target of one
    shape -> () or that shape ("none").

    reduction="batchmean" divides the sum by N, the length of the first axis: the KL divergence
    per sample. "mean" divides it by the number of elements, as PyTorch's "mean" (which warns
    that this is not the KL divergence; here no warning); "sum" sums. Both input and target get
    gradients.
    """
    check_reduction("kl_div", reduction, KL_REDUCTIONS)
    target = _elementwise_target("kl_div", input, target)
    if reduction != "batchmean":
        return KLDiv.apply(input, target, reduction=reduction, log_target=log_target)
    total = KLDiv.apply(input, target, reduction="sum", log_target=log_target)
    shape = np.shape(data_of(input))
    return total / shape[0] if shape else total     # a 0-d input is one sample, as PyTorch's
