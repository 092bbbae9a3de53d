"""Softmax, log-softmax and the losses: cross_entropy (fused with the softmax), nll_loss,
mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy_with_logits,
binary_cross_entropy and kl_div, each with reduction "mean", "sum" or "none" (kl_div also
"batchmean"). Logits go through the log-sum-exp shift or softplus, so logits of any size neither
overflow nor lose the answer."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.elementwise import Clip, Exp, Log, Sigmoid, Softplus, Where
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
    """l = -sum_k a_k log p_k along the class axis, with p = softmax(logits): the cross-entropy
    of p against the target row a. For class ids (the target an integer array) a is made by
    target_row: the one-hot row of each id times its class weight, label smoothing spreading
    some of it over every class, 0 for an ignored id; a float target is a itself (cross_entropy
    makes it from probabilities). logits (N, K, d1, ...) with `axis` 1, or (K,) with `axis` 0
    -> () or the losses (N, d1, ...) for "none"; "mean" divides their sum by the counted ids'
    weights (for a float target: by the number of losses).

    Fused with the softmax: log p = logits - logsumexp(logits) (shifted by the maximum, so
    logits of any size give a finite loss).
    Backward: l = -sum_j a_j (z_j - log sum_i e^(z_i)), so dl/dz_k = -a_k + p_k sum_j a_j,
    which is p - onehot(y) for a plain class id y; and dl/da_k = -log p_k.
    """

    def forward(self, logits, target, axis, reduction="mean", weight=None, ignore_index=-100,
                label_smoothing=0.0):
        self.axis, self.reduction = axis, reduction
        a, self.divisor = target_row(target, logits, self.params)
        return _reduce(-(a * _log_softmax(logits, axis)).sum(axis=axis), reduction, self.divisor)

    # l = -sum_k a_k log p_k  =>  dl/dz = p sum_k a_k - a and dl/da = -log p, times l's
    # upstream gradient (g / divisor for the mean)
    def backward(self, grad):
        logits, target, out = self.saved()
        a, _ = target_row(target, logits, self.params)
        per_loss = _per_loss(grad, self.reduction, self.divisor, _with_class_axis(out, self.axis))
        dz = da = None
        if self.needs_input_grad[0]:
            p = Softmax.run(logits, axis=self.axis)
            dz = (p * a.sum(axis=self.axis, keepdims=True) - a) * per_loss
        if self.needs_input_grad[1]:
            da = -LogSoftmax.run(logits, axis=self.axis) * per_loss
        return dz, da


class NLLLoss(Function):
    """l = -sum_k a_k log_probs_k along the class axis, with the target row a of the class ids
    (target_row: the one-hot row of each id times its class weight, 0 for an ignored id), so
    l = -w_y log_probs_y: log_probs (N, K, d1, ...) with `axis` 1, or (K,) with `axis` 0 ->
    () or the losses (N, d1, ...) for "none"; "mean" divides their sum by the counted ids'
    weights. With log_probs = log_softmax(logits, axis=1) it is cross_entropy(logits, target).

    Backward: l is linear in log_probs: dl/dlog_probs = -a.
    """

    def forward(self, log_probs, target, axis, reduction="mean", weight=None,
                ignore_index=-100):
        self.axis, self.reduction = axis, reduction
        a, self.divisor = target_row(target, log_probs, self.params)
        return _reduce(-(a * log_probs).sum(axis=axis), reduction, self.divisor)

    # l = -sum_k a_k x_k  =>  dl/dx = -a, times l's upstream gradient
    def backward(self, grad):
        log_probs, target, out = self.saved()
        a, _ = target_row(target, log_probs, self.params)
        per_loss = _per_loss(grad, self.reduction, self.divisor, _with_class_axis(out, self.axis))
        return -a * per_loss, None


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
    """l = -w (c t log s(z) + (1 - t) log(1 - s(z))) elementwise with s the sigmoid, weights w
    and the positive class's weights c (pos_weight; None: 1, broadcast over z), reduced by
    `reduction`: z and t of one shape -> () or that shape for "none".

    Since log s(z) = -softplus(-z) and log(1 - s(z)) = -softplus(-z) - z:
    l = w ((1 - t) z + (1 + (c - 1) t) softplus(-z)), which for c = 1 is softplus(z) - t z;
    softplus(-z) is computed as max(-z, 0) + log(1 + e^-|z|), where no exponent is positive:
    finite for logits of any size.
    Backward: dl/dz = w ((1 - t) - (1 + (c - 1) t) s(-z)), which for c = 1 is w (s(z) - t);
    dl/dt = w ((c - 1) softplus(-z) - z).
    """

    def forward(self, z, t, reduction="mean", weight=None, pos_weight=None):
        self.reduction, self.weight, self.pos_weight = reduction, weight, pos_weight
        softplus_neg = np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))     # softplus(-z)
        positive = 1 if pos_weight is None else 1 + (pos_weight - 1) * t   # 1 + (c - 1) t
        losses = (1 - t) * z + positive * softplus_neg
        return _reduce(losses if weight is None else losses * weight, reduction)

    # l = (1 - t) z + (1 + (c - 1) t) softplus(-z)  =>  dl/dz = (1 - t) - (1 + (c - 1) t) s(-z)
    # and dl/dt = (c - 1) softplus(-z) - z; both times w and l's upstream gradient
    def backward(self, grad):
        z, t, _ = self.saved()
        g = _per_loss(grad, self.reduction, z.size)
        g = g if self.weight is None else g * self.weight
        c = self.pos_weight
        dz = dt = None
        if self.needs_input_grad[0]:
            dz = g * (Sigmoid.run(z) - t if c is None
                      else (1 - t) - (1 + (c - 1) * t) * Sigmoid.run(-z))
        if self.needs_input_grad[1]:
            dt = g * (-z if c is None else (c - 1) * Softplus.run(-z, beta=1.0,
                                                                   threshold=np.inf) - z)
        return dz, dt


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


def _reduce(losses: np.ndarray, reduction: str, divisor: float | None = None) -> np.ndarray:
    """The losses' mean (their sum over `divisor` when one is given), sum, or the losses
    themselves ("none"). A divisor of 0 (every target ignored) gives nan, as PyTorch."""
    if reduction == "mean":
        if divisor is None:
            return losses.mean()
        with np.errstate(invalid="ignore", divide="ignore"):
            return losses.sum() / divisor
    return losses.sum() if reduction == "sum" else losses


def _per_loss(grad, reduction: str, count: float, shape=None):
    """Each single loss's upstream gradient: g / count for the mean (0 for a count of 0), g for
    the sum (both broadcast over the losses), and for "none" g itself, reshaped to `shape` if
    given."""
    if reduction == "mean":
        # count 0 (every target ignored): the loss is 0 / 0 = nan, and, as in PyTorch, no
        # gradient flows (each loss has weight 0 then)
        return grad / count if count else grad * 0
    return grad.reshape(shape) if reduction == "none" and shape is not None else grad


def _with_class_axis(losses, axis: int) -> tuple[int, ...]:
    """The losses' shape with the class axis put back as 1, so that their upstream gradients
    broadcast over the classes."""
    return (*losses.shape[:axis], 1, *losses.shape[axis:])


def _check_axis(fn: str, x, axis) -> None:
    ndim = np.ndim(x.data if isinstance(x, Value) else x)
    if ndim == 0:
        raise ValueError(f"{fn}: input is a scalar; expected at least one axis to normalise over")
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise ValueError(f"{fn}: axis {axis!r} is out of range for an input of shape "
                         f"{np.shape(data_of(x))}; expected an int in [-{ndim}, {ndim})")


def check_reduction(fn: str, reduction, allowed: tuple[str, ...] = REDUCTIONS,
                    hint_keyword: str | None = None) -> None:
    """reduction is one of `allowed`, else an error naming `fn` (an op or a loss module); for
    an array where the reduction goes, `hint_keyword` names the setting it was probably meant
    for (PyTorch's functions take weight in that place)."""
    if not isinstance(reduction, str) and hint_keyword is not None:
        raise TypeError(f"{fn}: reduction is a {type(reduction).__name__}; expected one of "
                        f"{', '.join(map(repr, allowed))}; pass {hint_keyword} by keyword, "
                        f"{hint_keyword}=...: here the third argument is the reduction")
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


def _class_axis(fn: str, name: str, scores) -> int:
    """The class axis of `name`: 1 for (N, K, d1, ...), 0 for one sample's (K,); an error for
    a scalar or an empty axis."""
    shape = np.shape(data_of(scores))
    if len(shape) == 0 or 0 in shape:
        raise ValueError(f"{fn}: {name} has shape {shape}; expected (N, K), a row of K >= 1 "
                         f"class scores for each of N >= 1 samples, (N, K, d1, ...) for a class "
                         f"per position, or (K,) for one sample")
    return 1 if len(shape) > 1 else 0


def _are_probabilities(scores, target) -> bool:
    """Whether target holds probabilities: floats of the scores' shape (else class ids)."""
    t = np.asarray(data_of(target))
    return t.dtype.kind == "f" and t.shape == np.shape(data_of(scores))


def _class_ids(fn: str, name: str, scores, target, ignore_index: int, axis: int
               ) -> np.ndarray:
    """target as an integer array of class ids in [0, K) (or ignore_index), one per sample
    and position of `name` (N, K, d1, ...) or (K,), after checking."""
    shape = np.shape(data_of(scores))
    expected = (*shape[:axis], *shape[axis + 1:])
    k, ids = shape[axis], np.asarray(data_of(target))      # a list of ints stays integer
    if ids.shape == shape and len(shape) > 1:
        floats = (", or probabilities as floats: labels.astype(np.float32)"
                  if fn == "cross_entropy" else "")
        raise ValueError(f"{fn}: target has shape {ids.shape}, like one-hot rows of integers; "
                         f"expected integer class ids of shape {expected}; convert with "
                         f"labels.argmax(axis=1){floats}")
    if ids.dtype.kind not in "iu":
        raise ValueError(f"{fn}: target must hold integer class ids, got dtype {ids.dtype}; "
                         f"expected an integer array of shape {expected}; convert with "
                         f"target.astype(np.int64)")
    if ids.shape != expected:
        hint = (f"; for a batch of one sample, {name}.reshape(1, -1)"
                if len(shape) == 1 and ids.shape == (1,) else "")
        raise ValueError(f"{fn}: target has shape {ids.shape} but {name} have shape {shape}; "
                         f"expected one class id per sample{' and position' * (len(shape) > 2)}"
                         f", shape {expected}{hint}")
    counted = ids[ids != ignore_index]
    if counted.size and (counted.min() < 0 or counted.max() >= k):
        ignored = f" (ignore_index {ignore_index} aside)" if counted.size < ids.size else ""
        raise ValueError(f"{fn}: target values lie in [{counted.min()}, {counted.max()}]"
                         f"{ignored}; expected class ids in [0, {k}) for {k} classes, or "
                         f"ignore_index={ignore_index} for positions that count for nothing")
    return ids


def target_row(target, scores, params: dict) -> tuple:
    """The target row a of CrossEntropy and NLLLoss and the mean's divisor: for class ids,
    weighted_targets with the op's weight, ignore_index and label_smoothing (a constant, also
    when the ids are a Value); a float target is a itself (an array or, under create_graph, a
    Value), its divisor the number of losses."""
    axis, ids = params["axis"], data_of(target)
    if ids.dtype.kind == "f":
        return target, float(ids.size // ids.shape[axis])
    return weighted_targets(ids, scores.shape[axis], axis, scores.dtype, params.get("weight"),
                            params.get("ignore_index", -100), params.get("label_smoothing", 0.0))


def weighted_targets(ids: np.ndarray, k: int, axis: int, dtype, weights: np.ndarray | None,
                     ignore_index: int, smoothing: float) -> tuple[np.ndarray, float]:
    """The weighted target a of class ids (K along `axis`): w_k ((1 - smoothing) [k = y] +
    smoothing / K) for a counted id y, 0 for an ignored one; and the mean's divisor, the sum of
    the counted ids' weights w_y (their number without weights), as PyTorch divides."""
    counted = (ids != ignore_index)[..., None]                          # (..., 1)
    y = np.where(counted[..., 0], ids, 0)
    a = (np.arange(k) == y[..., None]) & counted                        # (..., K) one-hot
    if smoothing:
        a = a * (1 - smoothing) + counted * (smoothing / k)
    if weights is None:
        divisor = float(counted.sum())
    else:
        a, divisor = a * weights, float(weights[y][counted[..., 0]].sum())
    a = a.astype(dtype, copy=False)                                     # classes last
    return (a if axis == a.ndim - 1 else np.moveaxis(a, -1, axis)), divisor


def _class_weights(fn: str, weight, k: int, dtype) -> np.ndarray | None:
    """A weight per class (K,) as a constant array of the scores' dtype, after checking."""
    if weight is None:
        return None
    check_weight(fn, weight)
    w = np.asarray(data_of(weight))
    if w.dtype.kind not in "biuf" or w.shape != (k,):
        raise ValueError(f"{fn}: weight has shape {w.shape} and dtype {w.dtype}; expected one "
                         f"number per class, shape ({k},)")
    return w.astype(dtype, copy=False)


def check_label_smoothing(fn: str, label_smoothing) -> None:
    """label_smoothing is a number in [0, 1], else an error naming `fn`."""
    if not (isinstance(label_smoothing, numbers.Real) and not isinstance(label_smoothing, bool)
            and 0 <= label_smoothing <= 1):
        raise ValueError(f"{fn}: label_smoothing is {label_smoothing!r}; expected a number in "
                         f"[0, 1], the share of the target spread evenly over the classes "
                         f"(e.g. 0.1)")


def check_ignore_index(fn: str, ignore_index, probabilities: bool = False) -> None:
    """ignore_index is an int; with probability targets only its default -100, as PyTorch."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{fn}: ignore_index is {ignore_index!r}; expected an int, a class id "
                        f"that counts for nothing (e.g. the id of padding)")
    if probabilities and ignore_index != -100:
        raise ValueError(f"{fn}: ignore_index={ignore_index} with probability targets; expected "
                         f"class ids (integers) for ignore_index to pick out, or probabilities "
                         f"without ignore_index (give ignored positions a target of zeros "
                         f"instead)")


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


def check_weight(fn: str, weight, name: str = "weight") -> None:
    """A loss's weight (`name`) is not a string (a reduction passed in its place) and not a
    Value that requires grad, else an error naming `fn` (the op or the loss module)."""
    if isinstance(weight, str):
        raise TypeError(f"{fn}: {name} is {weight!r}, a string; expected weights or None; pass "
                        f"the reduction by keyword, reduction={weight!r}: weight comes first "
                        f"among the settings, as in PyTorch")
    if isinstance(weight, Value) and weight.requires_grad:
        raise TypeError(f"{fn}: {name} requires grad; expected a constant, since the loss is "
                        f"not differentiable with respect to {name} (as in PyTorch); pass "
                        f"{name}.detach()")


def _weight(fn: str, x, weight, name: str = "weight") -> np.ndarray | None:
    """A weight of the binary cross-entropies (`name`: weight or pos_weight) as a constant
    array of x's floating dtype that broadcasts to x's shape (numbers, lists and arrays of any
    real dtype are converted, as PyTorch does), after checking; None stays None."""
    if weight is None:
        return None
    check_weight(fn, weight, name)
    xa, wa = np.asarray(data_of(x)), np.asarray(data_of(weight))
    if wa.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {name} has dtype {wa.dtype}; expected numbers, one weight per "
                        f"element (broadcast to the input's shape)")
    if not broadcasts_to(wa.shape, xa.shape):
        raise ValueError(f"{fn}: {name} has shape {wa.shape}, which does not broadcast to the "
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


def cross_entropy(logits, target, reduction: str = "mean", *, weight=None,
                  ignore_index: int = -100, label_smoothing: float = 0.0) -> Value:
    """Cross-entropy of softmax(logits) over the classes (axis 1) against the target, as
    PyTorch's: logits (N, K), (N, K, d1, ...) for a class per position, or (K,) for one
    sample; target either class ids, integers in [0, K) of shape (N,), (N, d1, ...) or (), or
    probabilities, floats of the logits' shape. The loss of each sample (or position) is
    -sum_k a_k log p_k, with a the one-hot target (or the probabilities) times weight:

    - weight (K,), optional: a constant weight per class; with class ids the mean divides by
      the sum of the targets' weights, so it stays a weighted average;
    - ignore_index: class ids equal to it add nothing and are not counted in the mean;
    - label_smoothing in [0, 1]: the target becomes (1 - label_smoothing) a +
      label_smoothing / K for every class.

    reduction: "mean" (over the samples and positions), "sum", or "none" (one loss each, of
    the target's shape). Probability targets get gradients too.
    """
    fn = "cross_entropy"
    check_reduction(fn, reduction, hint_keyword="weight")
    check_label_smoothing(fn, label_smoothing)
    axis = _class_axis(fn, "logits", logits)
    dtype = np.asarray(data_of(logits)).dtype
    if _are_probabilities(logits, target):
        check_ignore_index(fn, ignore_index, probabilities=True)
        a = _elementwise_target(fn, logits, target)
        k = np.shape(data_of(logits))[axis]
        if label_smoothing:
            a = a * (1 - label_smoothing) + label_smoothing / k
        weights = _class_weights(fn, weight, k, dtype)
        if weights is not None:
            a = a * weights.reshape((k,) + (1,) * (np.ndim(data_of(logits)) - axis - 1))
        return CrossEntropy.apply(logits, a, axis=axis, reduction=reduction)
    check_ignore_index(fn, ignore_index)
    ids = _class_ids(fn, "logits", logits, target, ignore_index, axis)
    weights = _class_weights(fn, weight, np.shape(data_of(logits))[axis], dtype)
    # a Value of ids stays the input, so that drawings show the labels' node
    return CrossEntropy.apply(logits, target if isinstance(target, Value) else ids, axis=axis,
                              reduction=reduction, weight=weights, ignore_index=ignore_index,
                              label_smoothing=float(label_smoothing))


def nll_loss(log_probs, target, reduction: str = "mean", *, weight=None,
             ignore_index: int = -100) -> Value:
    """Negative log-likelihood of class ids, -weight[y] log_probs[y] for each sample (or
    position) with class id y, as PyTorch's: log_probs (N, K) (e.g. log_softmax(logits,
    axis=1)), (N, K, d1, ...) or (K,); target integers in [0, K) of shape (N,), (N, d1, ...)
    or (). weight (K,) and ignore_index as in cross_entropy: "mean" divides by the sum of the
    counted targets' weights. reduction "mean", "sum" or "none" (one loss each)."""
    fn = "nll_loss"
    check_reduction(fn, reduction, hint_keyword="weight")
    check_ignore_index(fn, ignore_index)
    axis = _class_axis(fn, "log_probs", log_probs)
    dtype = np.asarray(data_of(log_probs)).dtype
    k = np.shape(data_of(log_probs))[axis]
    ids = _class_ids(fn, "log_probs", log_probs, target, ignore_index, axis)
    return NLLLoss.apply(log_probs, target if isinstance(target, Value) else ids, axis=axis,
                         reduction=reduction, weight=_class_weights(fn, weight, k, dtype),
                         ignore_index=ignore_index)


def mse_loss(input, target, reduction: str = "mean") -> Value:
    """Squared error (input - target)^2, averaged ("mean"), summed ("sum") or elementwise
    ("none"): input and target of one shape -> () or that shape. Both get gradients."""
    check_reduction("mse_loss", reduction)
    target = _elementwise_target("mse_loss", input, target)
    return MSELoss.apply(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean", *,
                                     weight=None, pos_weight=None) -> Value:
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed stably from
    the logits: logits and target of one shape -> () ("mean" or "sum") or that shape ("none").
    Finite for logits of any size.

    weight (optional, a constant) weighs each element's loss and broadcasts to the logits'
    shape; pos_weight (optional, a constant, e.g. (C,) for C labels on the last axis) weighs
    the positive term t log s(z) alone: above 1 it raises recall, below 1 precision, as
    PyTorch's (for a label with n_neg negatives per n_pos positives, pos_weight = n_neg /
    n_pos balances them). Both logits and target get gradients.
    """
    fn = "binary_cross_entropy_with_logits"
    check_reduction(fn, reduction, hint_keyword="weight")
    target = _elementwise_target(fn, logits, target)
    return BCEWithLogits.apply(logits, target, reduction=reduction,
                               weight=_weight(fn, logits, weight),
                               pos_weight=_weight(fn, logits, pos_weight, "pos_weight"))


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
