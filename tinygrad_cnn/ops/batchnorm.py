"""Batch normalisation: each channel of x normalised to mean 0 and variance 1 over the batch
(and the spatial axes), then scaled and shifted; with running statistics for evaluation. Group
normalisation: each sample's channels normalised in groups, built from existing ops; instance
normalisation: each channel of each sample on its own (group_norm with a group per channel),
with PyTorch's optional running statistics. RMS normalisation (each example divided by its root
mean square) and local response normalisation (each channel divided by the energy of its
neighbouring channels), both built from existing ops."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops import elementwise, reduce
from tinygrad_cnn.ops.conv import groups_dividing
from tinygrad_cnn.ops.elementwise import square
from tinygrad_cnn.ops.indexing import pad
from tinygrad_cnn.ops.pool import avg_pool2d
from tinygrad_cnn.ops.shape import reshape
from tinygrad_cnn.value import Value, as_value


class BatchNorm(Function):
    """out = (x - mean) / sqrt(var + eps) * weight + bias per channel: x (N, C, ...) -> same.

    mean and var (C,) are the statistics to normalise with: the batch's own (biased variance)
    in training, computed by `batch_norm`, or the running ones in evaluation. `training`
    tells backward which: batch statistics are functions of x, running ones are constants.
    weight and bias (C,) may be None (no affine step).

    Backward, with sums over the reduced axes (M elements per channel), s = 1 / sqrt(var +
    eps), xhat = (x - mean) s, so out = xhat * weight + bias:
      dbias = sum(grad); dweight = sum(grad * xhat);
      evaluation (mean, var constants): dx = grad * weight * s;
      training: mean and var depend on x too (d mean/dx = 1/M, d var/dx = 2 (x - mean) / M),
        which gives dxhat = grad * weight and dx = s (dxhat - mean(dxhat) - xhat *
        mean(dxhat * xhat)); as mean(dxhat) = weight dbias / M and mean(dxhat * xhat) =
        weight dweight / M, dx = weight * s * (grad - dbias / M - xhat * dweight / M).
    """

    def forward(self, x, mean, var, weight, bias, eps, training):
        self.axes = (0, *range(2, x.ndim))                # every axis but the channels
        self.stat_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)      # (C,) -> (1, C, 1, ...)
        self.count = values_per_channel(x.shape)          # M
        scale = 1 / np.sqrt(var + eps) if weight is None else weight / np.sqrt(var + eps)
        out = x - mean.reshape(self.stat_shape)
        out *= scale.reshape(self.stat_shape)
        if bias is not None:
            out += bias.reshape(self.stat_shape)
        return out

    # xhat = (x - mean) s: dbias = sum(grad), dweight = sum(grad xhat); dx = w s grad (eval) or
    # w s (grad - dbias/M - xhat dweight/M) (training, class docstring); the batch statistics
    # are recomputed from x here, so that under create_graph the rule knows they depend on x
    def backward(self, grad):
        x, mean, var, weight, bias, _ = self.saved()
        axes, shape, eps = self.axes, self.stat_shape, self.params["eps"]
        if self.params["training"]:
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=axes, keepdims=True)
        else:
            mean, var = mean.reshape(shape), var.reshape(shape)
            centered = x - mean
        inv_std = (var + eps) ** -0.5                       # s, (1, C, 1, ...)
        xhat = centered * inv_std
        dbias = grad.sum(axis=axes, keepdims=True)          # (1, C, 1, ...)
        dweight = (grad * xhat).sum(axis=axes, keepdims=True)
        dx = None
        if self.needs_input_grad[0]:
            scale = inv_std if weight is None else inv_std * weight.reshape(shape)
            if self.params["training"]:
                m = self.count
                dx = (grad - dbias / m - xhat * (dweight / m)) * scale
            else:
                dx = grad * scale
        channels = (shape[1],)
        return (dx, None, None, dweight.reshape(channels) if self.needs_input_grad[3] else None,
                dbias.reshape(channels) if self.needs_input_grad[4] else None)


def values_per_channel(shape: tuple[int, ...]) -> int:
    """M, the number of values that share one channel's statistics: the product of every axis
    but the channels (axis 1), so that an input with 0 channels divides nothing by zero."""
    return math.prod(shape[:1] + shape[2:])


def _check_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """Raise a ValueError/TypeError naming the first argument that does not fit x."""
    shape = np.shape(x.data if isinstance(x, Value) else x)
    if len(shape) < 2:
        raise ValueError(f"batch_norm: input has shape {shape}; expected (N, C) or (N, C, ...) "
                         f"with the channels on axis 1")
    _check_per_channel("batch_norm", shape, "training", running_mean, running_var, weight, bias)
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: training=False needs running_mean and running_var (the "
                         "statistics to normalise with); pass them, or training=True to use "
                         "the batch's own")
    if (running_mean is None) != (running_var is None):
        missing = "running_mean" if running_mean is None else "running_var"
        raise ValueError(f"batch_norm: {missing} is None but the other running statistic is "
                         f"not; expected both (updated in training) or neither, as PyTorch's; "
                         f"pass both arrays, or None for both")
    count = values_per_channel(shape)
    if training and count < 2:
        raise ValueError(f"batch_norm: input {shape} has {count} value{'' if count == 1 else 's'} "
                         f"per channel; expected more than 1 in training (the variance of fewer "
                         f"is undefined); use a batch of 2 or more, or evaluation mode")
    _check_momentum_and_eps("batch_norm", momentum, eps)


def _check_per_channel(fn: str, shape: tuple[int, ...], updater: str, running_mean,
                       running_var, weight, bias) -> None:
    """The running statistics are float numpy arrays (which `updater` updates in place) or
    None, and they, weight and bias hold one entry per channel of an input of `shape`; else
    an error naming `fn`."""
    channels = shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is not None and not (isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            raise TypeError(f"{fn}: {name} is {type(value).__name__} "
                            f"{getattr(value, 'dtype', '')}; expected a floating-point numpy "
                            f"array (C,) or None ({updater} updates it in place), e.g. a "
                            f"Buffer's .data")
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        got = None if value is None else np.shape(value.data if isinstance(value, Value)
                                                  else value)
        if got not in (None, (channels,)):
            raise ValueError(f"{fn}: {name} has shape {got} but the input {shape} has "
                             f"{channels} channels (axis 1); expected {name} of shape "
                             f"({channels},): one entry per channel")


def _check_momentum_and_eps(fn: str, momentum, eps) -> None:
    """momentum in [0, 1] and eps > 0, else an error naming `fn`."""
    for name, value, low, high in (("momentum", momentum, 0, 1), ("eps", eps, 0, np.inf)):
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
                or not low <= value <= high or (name == "eps" and value == 0)):
            raise ValueError(f"{fn}: {name} is {value!r}; expected a number in "
                             f"{'[0, 1]' if name == 'momentum' else '(0, inf)'}")


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Value:
    """Normalise each channel: (x - mean) / sqrt(var + eps) * weight + bias, x (N, C, ...) ->
    the same shape; running_mean, running_var, weight, bias (C,) (weight/bias may be None).

    training=True: mean and var are the batch's, over every axis but the channels (axis 1),
    with the biased variance; running_mean and running_var, numpy arrays (or None, both), are
    then updated in place as PyTorch does: r = (1 - momentum) r + momentum s, where s is the
    batch mean, or the unbiased batch variance (times M / (M - 1), M values per channel).
    training=False: normalises with running_mean and running_var, which stay unchanged.
    """
    _check_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    data = x.data if isinstance(x, Value) else np.asarray(x)
    if training:
        axes = (0, *range(2, data.ndim))
        mean = data.mean(axis=axes)                          # (C,)
        centered = data - mean.reshape((1, -1) + (1,) * (data.ndim - 2))
        var = np.square(centered).mean(axis=axes)            # (C,), biased
        count = values_per_channel(data.shape)
        if running_mean is not None:                         # and running_var: both or neither
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (count / (count - 1))
    else:
        mean, var = running_mean.copy(), running_var.copy()   # later updates leave this graph
    return BatchNorm.apply(x, mean, var, weight, bias, eps=eps, training=bool(training))


def _check_group_norm(x, num_groups, weight, bias, eps) -> tuple[int, ...]:
    """x's shape, after raising a ValueError/TypeError naming the first argument that does not
    fit it."""
    shape = np.shape(x.data if isinstance(x, Value) else x)
    if len(shape) < 2:
        raise ValueError(f"group_norm: input has shape {shape}; expected (N, C) or (N, C, ...) "
                         f"with the channels on axis 1")
    if isinstance(num_groups, (bool, np.bool_)) or not isinstance(num_groups, numbers.Integral):
        raise TypeError(f"group_norm: num_groups is {type(num_groups).__name__} "
                        f"{num_groups!r:.60}; expected an int >= 1 dividing the channels")
    channels = shape[1]
    if num_groups < 1 or channels % num_groups:
        raise ValueError(f"group_norm: num_groups={num_groups} does not divide the {channels} "
                         f"channels of the input {shape} (axis 1); expected a divisor of "
                         f"{channels}: {', '.join(map(str, groups_dividing(channels)))}")
    if math.prod(shape[1:]) == 0:
        raise ValueError(f"group_norm: input {shape} has no values in its groups; expected at "
                         f"least one value per group (channels and positions)")
    for name, value in (("weight", weight), ("bias", bias)):
        got = None if value is None else np.shape(value.data if isinstance(value, Value)
                                                  else value)
        if got not in (None, (channels,)):
            raise ValueError(f"group_norm: {name} has shape {got} but the input {shape} has "
                             f"{channels} channels (axis 1); expected {name} of shape "
                             f"({channels},): one entry per channel")
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real) or not eps > 0:
        raise ValueError(f"group_norm: eps is {eps!r}; expected a small positive number such as "
                         f"1e-5")
    return shape


def group_norm(x, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Value:
    """Normalise each sample's channels in num_groups groups, as torch.nn.functional.group_norm:
    x (N, C, ...) -> the same shape, (x - mean) / sqrt(var + eps) * weight + bias, where mean and
    the biased variance are taken over one group of C / num_groups channels (all their
    positions) of one sample; weight and bias (C,) may be None (no affine step).

    It is reshape, mean, var, -, +, * and ** (no op of its own, as nn.LayerNorm), so its
    gradients of every order come from their rules. num_groups=1 normalises each sample as a
    whole, num_groups=C each channel of each sample on its own (instance normalisation).
    """
    shape = _check_group_norm(x, num_groups, weight, bias, eps)
    n, channels = shape[:2]
    # (N, C, ...) -> (N, G, C/G * ...): one row per group of one sample
    groups = reshape(x, (n, num_groups, math.prod(shape[1:]) // num_groups))
    group_mean = reduce.mean(groups, axis=2, keepdims=True)     # (N, G, 1)
    group_var = reduce.var(groups, axis=2, keepdims=True)       # biased (ddof=0), as PyTorch
    x_hat = reshape((groups - group_mean) * (group_var + eps) ** -0.5, shape)   # (N, C, ...)
    per_channel = (channels,) + (1,) * (len(shape) - 2)         # (C,) -> (C, 1, ..., 1)
    if weight is not None:
        x_hat = x_hat * reshape(weight, per_channel)
    return x_hat if bias is None else x_hat + reshape(bias, per_channel)


def _check_instance_norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum,
                         eps) -> tuple[int, ...]:
    """x's shape, after raising a ValueError/TypeError naming the first argument that does not
    fit it."""
    shape = np.shape(x.data if isinstance(x, Value) else x)
    if len(shape) < 2:
        raise ValueError(f"instance_norm: input has shape {shape}; expected (N, C, ...) with "
                         f"the channels on axis 1, e.g. (N, C, L) or (N, C, H, W); for one "
                         f"unbatched example (C, ...) pass x.reshape(1, *x.shape)")
    if not isinstance(use_input_stats, (bool, np.bool_)):
        raise TypeError(f"instance_norm: use_input_stats is {type(use_input_stats).__name__} "
                        f"{use_input_stats!r:.40}; expected True (normalise with each "
                        f"instance's own statistics) or False (with the running ones)")
    _check_per_channel("instance_norm", shape, "use_input_stats=True", running_mean,
                       running_var, weight, bias)
    if not use_input_stats and (running_mean is None or running_var is None):
        raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                         "running_var (the statistics to normalise with); pass them, or "
                         "use_input_stats=True to use each instance's own")
    count = math.prod(shape[2:])
    if use_input_stats and count < 2:
        raise ValueError(f"instance_norm: input {shape} has {count} value"
                         f"{'' if count == 1 else 's'} per channel of each sample; expected more "
                         f"than 1 (the variance of fewer is undefined), as PyTorch; for "
                         f"features (N, C) use batch_norm or layer norm instead")
    _check_momentum_and_eps("instance_norm", momentum, eps)
    return shape


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1,
                  eps: float = 1e-5) -> Value:
    """Normalise each channel of each sample on its own, as torch.nn.functional.instance_norm:
    x (N, C, ...) -> the same shape, (x - mean) / sqrt(var + eps) * weight + bias, where mean
    and the biased variance are taken over the spatial axes of one channel of one sample (an
    instance); running_mean, running_var, weight and bias (C,) may be None.

    use_input_stats=True (PyTorch's default): each instance's own statistics; it is
    group_norm(x, C, weight, bias, eps), a group per channel, itself reshape, mean, var, -, +,
    * and **, so its gradients of every order come from their rules. running_mean and
    running_var, numpy arrays or None, are then updated in place as PyTorch's:
    r = (1 - momentum) r + momentum s, where s is the mean over the batch of the instances'
    means, or of their unbiased variances (times M / (M - 1), M values per instance).
    use_input_stats=False: normalises with running_mean and running_var, unchanged, as
    batch_norm in evaluation (one BatchNorm op).
    """
    shape = _check_instance_norm(x, running_mean, running_var, weight, bias, use_input_stats,
                                 momentum, eps)
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    if running_mean is not None or running_var is not None:
        data = x.data if isinstance(x, Value) else np.asarray(x)
        axes = tuple(range(2, data.ndim))                      # an instance's values
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * data.mean(axis=axes).mean(axis=0)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * data.var(axis=axes, ddof=1).mean(axis=0)
    return group_norm(x, shape[1], weight, bias, eps)


def as_normalized_shape(fn: str, normalized_shape) -> tuple[int, ...]:
    """normalized_shape, an int or a non-empty tuple or list of ints >= 1, as a tuple of ints
    (PyTorch's: an int is the last axis only), else an error naming `fn` (an op or a layer)."""
    sizes = (normalized_shape if isinstance(normalized_shape, (tuple, list))
             else (normalized_shape,))
    if not sizes or not all(isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))
                            and n >= 1 for n in sizes):
        raise ValueError(f"{fn}: normalized_shape is {normalized_shape!r:.60}; expected an int "
                         f">= 1 or a non-empty tuple of them, the trailing shape to normalise "
                         f"over, e.g. D for inputs (N, D)")
    return tuple(int(n) for n in sizes)


def check_rms_eps(fn: str, eps) -> None:
    """eps is None (the dtype's machine epsilon) or a finite real number >= 0, else an error
    naming `fn`."""
    if eps is not None and (isinstance(eps, (bool, np.bool_)) or not isinstance(eps, numbers.Real)
                            or not 0 <= eps < np.inf):
        raise ValueError(f"{fn}: eps is {eps!r:.40}; expected None (the machine epsilon of the "
                         f"input's dtype, as PyTorch) or a small number >= 0 such as 1e-6")


def _check_rms_norm(x, normalized_shape, weight, eps) -> tuple[tuple[int, ...], np.dtype]:
    """normalized_shape as a tuple and x's dtype, after raising a ValueError/TypeError naming
    the first argument that does not fit x."""
    data = x.data if isinstance(x, Value) else np.asarray(x)
    trailing = as_normalized_shape("rms_norm", normalized_shape)
    check_rms_eps("rms_norm", eps)
    if data.dtype.kind != "f":
        raise TypeError(f"rms_norm: input has dtype {data.dtype}; expected a floating-point "
                        f"array (as PyTorch's); convert it first, e.g. x.astype(np.float32)")
    shape, k = data.shape, len(trailing)
    if len(shape) < k or shape[len(shape) - k:] != trailing:
        end = shape[-k:] if len(shape) >= k else shape
        raise ValueError(f"rms_norm: input has shape {shape}, which does not end with "
                         f"normalized_shape {trailing}; expected an input of shape "
                         f"(..., {', '.join(map(str, trailing))}); pass the input's trailing "
                         f"shape as normalized_shape, e.g. {end}")
    got = None if weight is None else np.shape(weight.data if isinstance(weight, Value)
                                                else weight)
    if got not in (None, trailing):
        raise ValueError(f"rms_norm: weight has shape {got} but normalized_shape is {trailing}; "
                         f"expected weight of shape {trailing}: one entry per normalised "
                         f"element")
    return trailing, data.dtype


def rms_norm(x, normalized_shape: int | tuple[int, ...], weight=None,
             eps: float | None = None) -> Value:
    """Divide each example by its root mean square over the last axes, as
    torch.nn.functional.rms_norm: x (..., *normalized_shape) -> the same shape,
    x / sqrt(mean(x^2) + eps) * weight, the mean over the last len(normalized_shape) axes.

    weight, of shape normalized_shape, may be None. eps=None means PyTorch's default, the
    machine epsilon of the type it computes in: numpy's finfo(x.dtype).eps for float32 and
    float64, and float32's for float16, which it computes in float32 and rounds back to float16,
    as PyTorch. Unlike layer norm there is no mean subtracted and no bias. It is square, mean,
    +, ** and * (PyTorch's own composition), so its gradients of every order come from their
    rules.
    """
    trailing, dtype = _check_rms_norm(x, normalized_shape, weight, eps)
    if eps is None:
        eps = float(np.finfo(np.result_type(dtype, np.float32)).eps)   # PyTorch's opmath type
    x = as_value(x)
    # float16 is computed in float32 and the result rounded back, as PyTorch's (its opmath type)
    wide = elementwise.astype(x, np.float32) if x.dtype == np.float16 else x
    axes = tuple(range(-len(trailing), 0))
    mean_square = reduce.mean(square(wide), axis=axes, keepdims=True)  # (..., 1, ..., 1)
    out = wide * (mean_square + float(eps)) ** -0.5                    # broadcast back to x's shape
    out = out if weight is None else out * weight
    return out if wide is x else elementwise.astype(out, x.dtype)


def check_lrn_settings(fn: str, size, alpha, beta, k) -> None:
    """size an int >= 1 and alpha, beta, k real numbers, else an error naming `fn`."""
    if (isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer))
            or size < 1):
        raise ValueError(f"{fn}: size is {size!r:.40}; expected an int >= 1, the number of "
                         f"neighbouring channels summed over, e.g. 5")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{fn}: {name} is {type(value).__name__} {value!r:.40}; expected a "
                            f"real number, e.g. PyTorch's defaults alpha=1e-4, beta=0.75, k=1.0")


def local_response_norm(x, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Value:
    """Divide each channel by the energy of its neighbours, as
    torch.nn.functional.local_response_norm: x (N, C, ...) (3 axes or more) -> the same shape,
    out[n, c] = x[n, c] / (k + alpha / size * sum_{c'} x[n, c']^2) ** beta.

    The sum is over the `size` channels c' from c - size // 2 to c + (size - 1) // 2, channels
    past either end counting as zeros. As PyTorch's, it is the squares reshaped to (N, 1, C, L)
    (L the product of the spatial axes), zero-padded by size // 2 channels before and
    (size - 1) // 2 after (pad), averaged over windows of size x 1 with stride 1 (avg_pool2d,
    which counts the padded zeros, so alpha is divided by size), reshaped back, then *, +, **
    and /; its gradients of every order come from their rules. An input with no elements is
    returned as it is, as PyTorch's.
    """
    check_lrn_settings("local_response_norm", size, alpha, beta, k)
    data = x.data if isinstance(x, Value) else np.asarray(x)
    if data.ndim < 3:
        raise ValueError(f"local_response_norm: input has shape {data.shape}; expected 3 axes "
                         f"or more, (N, C, L), (N, C, H, W) or (N, C, D, H, W), the channels "
                         f"on axis 1, as PyTorch's; for one unbatched example (C, ...) pass "
                         f"x.reshape(1, *x.shape)")
    if data.dtype.kind != "f":
        raise TypeError(f"local_response_norm: input has dtype {data.dtype}; expected a "
                        f"floating-point array (as PyTorch's); convert it first, e.g. "
                        f"x.astype(np.float32)")
    x = as_value(x)
    if data.size == 0:
        return x
    n, channels = data.shape[:2]
    # (N, C, ...) -> (N, 1, C, L): the channels as the rows of one image per sample
    squares = reshape(square(x), (n, 1, channels, math.prod(data.shape[2:])))
    padded = pad(squares, ((0, 0), (0, 0), (size // 2, (size - 1) // 2), (0, 0)))
    energy = reshape(avg_pool2d(padded, (size, 1), stride=1), data.shape)   # (N, C, ...)
    return x / (energy * float(alpha) + float(k)) ** float(beta)
