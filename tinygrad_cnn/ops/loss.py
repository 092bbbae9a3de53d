"""Softmax, log-softmax and the losses: cross_entropy (fused with the softmax), nll_loss,
mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy_with_logits,
binary_cross_entropy and kl_div, each with reduction "mean", "sum" or "none" (kl_div also
"batchmean"). Logits go through the log-sum-exp shift or softplus, so logits of any size neither
overflow nor lose the answer. Then the margin, embedding and likelihood losses, compositions of
ops whose gradients are PyTorch's, kinks included: margin_ranking_loss, hinge_embedding_loss,
soft_margin_loss, cosine_embedding_loss, triplet_margin_loss, multilabel_soft_margin_loss,
multi_margin_loss, poisson_nll_loss and gaussian_nll_loss."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import elementwise
from tinygrad_cnn.ops.axes import checked_axis
from tinygrad_cnn.ops.distance import ClampedValue, check_p, pairwise_distance
from tinygrad_cnn.ops.elementwise import Clip, Exp, Log, Sigmoid, Softplus, Where
from tinygrad_cnn.ops.shape import broadcasts_to
from tinygrad_cnn.value import Value, as_value, data_of

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
    logits of any size give a finite loss); a -inf logit masks its class out, adding nothing
    to the loss of a target of another class.
    Backward: l = -sum_j a_j (z_j - log sum_i e^(z_i)), so dl/dz_k = -a_k + p_k sum_j a_j,
    which is p - onehot(y) for a plain class id y; and dl/da_k = -log p_k.
    """

    def forward(self, logits, target, axis, reduction="mean", weight=None, ignore_index=-100,
                label_smoothing=0.0):
        self.axis, self.reduction = axis, reduction
        a, self.divisor = target_row(target, logits, self.params)
        return _reduce(-_weighted_sum(a, _log_softmax(logits, axis), axis), reduction,
                       self.divisor)

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
        return _reduce(-_weighted_sum(a, log_probs, axis), reduction, self.divisor)

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


def _weighted_sum(a: np.ndarray, log_p: np.ndarray, axis: int) -> np.ndarray:
    """sum_k a_k log p_k along `axis`, where a class with a_k = 0 adds nothing, also at
    log p_k = -inf (a class masked out with a -inf logit): 0 log 0 = 0, not numpy's nan."""
    return (a * np.where(a == 0, 0, log_p)).sum(axis=axis)


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
    checked_axis("softmax", axis, np.shape(data_of(x)))
    return Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Value:
    """x - log(sum(exp(x))) along `axis` (default the last), stable: any shape -> same shape."""
    checked_axis("log_softmax", axis, np.shape(data_of(x)))
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


def _reduced(losses: Value, reduction: str) -> Value:
    """The losses' mean, sum, or the losses themselves ("none")."""
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def check_margin(fn: str, margin, positive: bool = False) -> None:
    """A loss's margin is a real number (> 0 if `positive`), else an error naming `fn`."""
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or math.isnan(margin):
        raise TypeError(f"{fn}: margin is {margin!r:.60}; expected a real number, e.g. "
                        f"margin=1.0")
    if positive and margin <= 0:
        raise ValueError(f"{fn}: margin is {margin}; expected a margin > 0 (as PyTorch), e.g. "
                         f"margin=1.0")


def check_eps(fn: str, eps) -> None:
    """A loss's eps is a number >= 0, else an error naming `fn`."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
        raise ValueError(f"{fn}: eps is {eps!r:.60}; expected a number >= 0, a small floor such "
                         f"as the default")


def check_multi_margin_p(fn: str, p) -> None:
    """multi_margin_loss's p is 1 or 2, as PyTorch's, else an error naming `fn`."""
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"{fn}: p is {p!r:.60}; expected 1 or 2 (only these are supported, as "
                         f"in PyTorch): the power of each margin violation")


def margin_ranking_loss(input1, input2, target, margin: float = 0.0,
                        reduction: str = "mean") -> Value:
    """max(0, -target (input1 - input2) + margin) elementwise, as PyTorch's: target 1 says
    input1 should rank above input2 by at least margin, -1 below. input1, input2 and target of
    one shape (no broadcasting, as PyTorch) -> () or that shape ("none").

    All three get gradients (-target, target and -(input1 - input2) where the hinge is active);
    where the margin is exactly met the hinge counts as active, as PyTorch's clamp_min does."""
    fn = "margin_ranking_loss"
    check_reduction(fn, reduction)
    check_margin(fn, margin)
    shapes = [np.shape(data_of(v)) for v in (input1, input2, target)]
    if not shapes[0] == shapes[1] == shapes[2]:
        raise ValueError(f"{fn}: input1 has shape {shapes[0]}, input2 {shapes[1]} and target "
                         f"{shapes[2]}; expected three equal shapes (no broadcasting, as "
                         f"PyTorch); give one target (1 or -1) per pair")
    target = _elementwise_target(fn, input1, target)
    x1 = as_value(input1)
    return _reduced(elementwise.clip(-target * (x1 - input2) + float(margin), min=0), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, reduction: str = "mean") -> Value:
    """input where target = 1, max(0, margin - input) where target = -1 (elementwise, as
    PyTorch's: a target other than 1 and -1 gets both terms), for distances input: input and
    target of one shape -> () or that shape ("none"). The target gets no gradient (it only
    selects); at input = margin the hinge counts as active (gradient -1), as PyTorch's."""
    fn = "hinge_embedding_loss"
    check_reduction(fn, reduction)
    check_margin(fn, margin)
    t = np.asarray(data_of(_elementwise_target(fn, input, target)))     # only selects
    x = as_value(input)
    hinge = elementwise.clip(float(margin) - x, min=0)
    return _reduced(elementwise.where(t != 1, hinge, 0) + elementwise.where(t != -1, x, 0),
                    reduction)


def soft_margin_loss(input, target, reduction: str = "mean") -> Value:
    """log(1 + e^(-target input)) elementwise, the logistic loss of targets 1 and -1, as
    PyTorch's: input and target of one shape -> () or that shape ("none"). Computed as
    softplus(-target input), finite for inputs of any size (PyTorch's log1p(exp(...)) overflows
    to inf, its gradient to nan, past |input| ~ 709 in float64)."""
    fn = "soft_margin_loss"
    check_reduction(fn, reduction)
    target = _elementwise_target(fn, input, target)
    return _reduced(elementwise.softplus(-target * as_value(input)), reduction)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0,
                          reduction: str = "mean") -> Value:
    """1 - cos(x1, x2) where target = 1 and max(0, cos(x1, x2) - margin) where target = -1 (0
    for other targets), per pair of rows, as PyTorch's: input1 and input2 (N, D) with target
    (N,), or (D,) with a 0-d target -> () or the N losses ("none").

    cos = <x1, x2> / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12)), PyTorch's formula (its float
    1e-12 added to each squared norm), so a zero row gives cos = 0, never 0/0. The target gets
    no gradient; at cos = margin the hinge counts as active, as PyTorch's clamp_min."""
    fn = "cosine_embedding_loss"
    check_reduction(fn, reduction)
    check_margin(fn, margin)
    s1, s2 = np.shape(data_of(input1)), np.shape(data_of(input2))
    t = np.asarray(data_of(target))
    expected = {0: "(D,) inputs with a 0-d target", 1: "(N, D) inputs with a target (N,)"}
    if t.ndim not in (0, 1) or s1 != s2 or len(s1) != t.ndim + 1 or s1[:t.ndim] != t.shape:
        raise ValueError(f"{fn}: input1 has shape {s1}, input2 {s2} and target {t.shape}; "
                         f"expected {expected[1]} or {expected[0]}, input1 and input2 of one "
                         f"shape; give one target (1 or -1) per pair of rows")
    axis = t.ndim
    x1, x2 = as_value(input1), as_value(input2)
    squared1 = (x1 * x1).sum(axis=axis) + BCE_EPS       # PyTorch's float EPSILON = 1e-12
    squared2 = (x2 * x2).sum(axis=axis) + BCE_EPS
    cos = (x1 * x2).sum(axis=axis) / elementwise.sqrt(squared1 * squared2)
    losses = (elementwise.where(t == 1, 1 - cos, 0)
              + elementwise.where(t == -1, elementwise.clip(cos - float(margin), min=0), 0))
    return _reduced(losses, reduction)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean") -> Value:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) per triplet, with d the
    pairwise_distance ||a - b + eps||_p over the last axis, as PyTorch's: anchor, positive and
    negative (N, D) (or broadcasting, with one number of axes) -> () or the N losses ("none").
    With swap=True, d(anchor, negative) is replaced by d(positive, negative) where that is
    smaller (the distance swap); at a tie the two share the gradient, as PyTorch's minimum."""
    fn = "triplet_margin_loss"
    check_reduction(fn, reduction)
    check_margin(fn, margin, positive=True)
    check_p(fn, p)
    check_eps(fn, eps)
    shapes = [np.shape(data_of(v)) for v in (anchor, positive, negative)]
    if not len(shapes[0]) == len(shapes[1]) == len(shapes[2]):
        raise ValueError(f"{fn}: anchor has shape {shapes[0]}, positive {shapes[1]} and "
                         f"negative {shapes[2]}; expected the same number of axes, e.g. three "
                         f"(N, D) batches of embeddings")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = elementwise.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduced(elementwise.clip(float(margin) + d_pos - d_neg, min=0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, reduction: str = "mean") -> Value:
    """-mean over the C labels of w (t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), one loss
    per sample, as PyTorch's: input and target (N, C) (or (C,)) of one shape -> () or the N
    losses ("none"); weight (C,) (or anything that broadcasts to the input), a constant. The
    log-sigmoids are log_sigmoid's, finite for logits of any size; the target gets a gradient
    too."""
    fn = "multilabel_soft_margin_loss"
    check_reduction(fn, reduction, hint_keyword="weight")
    if np.ndim(data_of(input)) == 0:
        raise ValueError(f"{fn}: input is a scalar; expected (N, C), C label scores per sample, "
                         f"or (C,)")
    target = _elementwise_target(fn, input, target)
    weight = _weight(fn, input, weight)
    x = as_value(input)
    losses = -(target * elementwise.log_sigmoid(x) + (1 - target) * elementwise.log_sigmoid(-x))
    if weight is not None:
        losses = losses * weight
    return _reduced(losses.sum(axis=-1) / x.shape[-1], reduction)


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      reduction: str = "mean") -> Value:
    """The multi-class hinge loss, as PyTorch's: for scores x (N, C) and class ids y (N,),
    each sample's loss is w_y / C sum over i != y of max(0, margin - x_y + x_i)^p, p 1 or 2;
    x (C,) with a 0-d y for one sample; weight (C,) a constant. reduction "mean" (over the
    samples), "sum" or "none" (N losses).

    Where margin - x_y + x_i is exactly 0 the term sends no gradient, as PyTorch's kernel
    (which counts a violation only above 0)."""
    fn = "multi_margin_loss"
    check_reduction(fn, reduction, hint_keyword="weight")
    check_multi_margin_p(fn, p)
    check_margin(fn, margin)
    shape = np.shape(data_of(input))
    ids = np.asarray(data_of(target))
    if len(shape) not in (1, 2) or 0 in shape:
        raise ValueError(f"{fn}: input has shape {shape}; expected (N, C), C >= 1 class scores "
                         f"for each of N >= 1 samples, or (C,) for one sample")
    c = shape[-1]
    if ids.dtype.kind not in "iu" or ids.shape != shape[:-1]:
        raise ValueError(f"{fn}: target has shape {ids.shape} and dtype {ids.dtype}; expected "
                         f"integer class ids of shape {shape[:-1]}, one per sample; convert "
                         f"one-hot rows with labels.argmax(axis=1)")
    if ids.size and (ids.min() < 0 or ids.max() >= c):
        raise ValueError(f"{fn}: target values lie in [{ids.min()}, {ids.max()}]; expected "
                         f"class ids in [0, {c}) for {c} classes")
    dtype = np.asarray(data_of(input)).dtype
    weights = _class_weights(fn, weight, c, dtype)
    ids = ids.reshape(-1)
    rows = as_value(input).reshape(-1, c)                            # (N, C)
    is_target = np.arange(c) == ids[:, None]                          # (N, C), a constant
    x_y = rows[np.arange(len(ids)), ids].reshape(-1, 1)               # (N, 1)
    violation = elementwise.relu(float(margin) - x_y + rows)         # 0 at exactly 0, as PyTorch
    if p == 2:
        violation = violation * violation
    losses = elementwise.where(is_target, 0, violation).sum(axis=1) / c   # (N,)
    if weights is not None:
        losses = losses * weights[ids]
    return _reduced(losses.reshape(shape[:-1]), reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     eps: float = 1e-8, reduction: str = "mean") -> Value:
    """The Poisson negative log-likelihood of counts target under the rate input, as PyTorch's:
    e^x - t x for a log-rate x (log_input=True), else x - t log(x + eps); with full=True plus
    Stirling's approximation of log(t!), t log t - t + log(2 pi t) / 2, where t > 1 (0 for t <= 1,
    as PyTorch). input and target of one shape -> () or that shape ("none").

    Both get gradients; with full=True the target's is nan where t = 0 (0 log 0), as PyTorch's."""
    fn = "poisson_nll_loss"
    check_reduction(fn, reduction)
    check_eps(fn, eps)
    target = _elementwise_target(fn, input, target)
    x = as_value(input)
    with np.errstate(divide="ignore", invalid="ignore"):    # log t at t <= 0: not selected
        if log_input:
            losses = elementwise.exp(x) - target * x
        else:
            losses = x - target * elementwise.log(x + float(eps))
        if full:
            t = as_value(target)
            stirling = (t * elementwise.log(t) - t
                        + 0.5 * elementwise.log(2 * math.pi * t))
            losses = losses + elementwise.where(np.asarray(t.data) <= 1, 0, stirling)
    return _reduced(losses, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Value:
    """The Gaussian negative log-likelihood (log(v) + (input - target)^2 / v) / 2 of target
    under the mean input and the variance var, as PyTorch's: v is var raised to at least eps
    in value, but its gradient is var's own (PyTorch clamps var without recording it); with
    full=True plus log(2 pi) / 2.

    var: the input's shape (one variance each); the input's shape without its last axis, or
    with one axis of size 1 (one variance shared along that axis); or a number. No entry may
    be negative. target: the input's shape, or one that broadcasts to it. -> () or the losses
    ("none"). input, target and var get gradients."""
    fn = "gaussian_nll_loss"
    check_reduction(fn, reduction)
    check_eps(fn, eps)
    shape, dtype = np.shape(data_of(input)), np.asarray(data_of(input)).dtype
    t_shape = np.shape(data_of(target))
    if not broadcasts_to(t_shape, shape):
        raise ValueError(f"{fn}: input has shape {shape} but target has shape {t_shape}; "
                         f"expected the input's shape, or one that broadcasts to it")
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{fn}: var is {var}; expected a variance >= 0")
        var = np.full(shape, var, dtype=dtype)
    v = np.asarray(data_of(var))
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: var has dtype {v.dtype}; expected numbers, variances >= 0")
    if (v < 0).any():
        raise ValueError(f"{fn}: var has {(v < 0).sum()} negative entries, e.g. {v[v < 0][0]}; "
                         f"expected variances >= 0 (e.g. softplus of a network's output)")
    if not isinstance(var, Value) and v.dtype != dtype:
        var = v.astype(dtype)            # a constant in the input's dtype
    if v.shape != shape:
        mismatched = [m for n, m in zip(shape, v.shape, strict=False) if n != m]
        if v.shape == shape[:-1]:           # one variance per row, shared along the last axis
            var = as_value(var).reshape(*v.shape, 1)
        elif not (v.ndim == len(shape) and sum(mismatched) == 1):
            raise ValueError(f"{fn}: var has shape {v.shape} but input has shape {shape}; "
                             f"expected {shape}, {shape[:-1]} or {shape} with one axis of size "
                             f"1 (a variance shared along that axis), as PyTorch")
    clamped = ClampedValue.apply(var, low=float(eps))
    losses = 0.5 * (elementwise.log(clamped) + (as_value(input) - target) ** 2 / clamped)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _reduced(losses, reduction)
