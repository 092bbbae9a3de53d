"""Initialisers: PyTorch's `nn.init` functions, which fill a parameter in place, and the two array
makers the layers use (`uniform`, `fan_in_uniform`).

The functions ending in `_` have PyTorch 2.13's names, signatures, defaults and formulas, and
raise where it raises, so that
`nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")` ports as it is.
Each takes a `tc.Value` (a parameter) or an `nn.Buffer` and writes into its `.data` in place:
the same array object, dtype and shape, so an optimizer built earlier sees the new values. It
leaves `.grad` alone, records no graph and returns what it was given.

Randomness comes from `generator`, a `np.random.Generator`, else the default generator that
`tc.manual_seed` sets. The distributions are PyTorch's but the numbers drawn are not (another
random number generator): uniform ones are `generator.uniform(low, high)` and normal ones
`generator.normal(mean, std)`, drawn in float64 and then stored in the data's dtype.

fan_in and fan_out are PyTorch's: for a weight of shape (out, in, *kernel), as Linear and
Conv2d store theirs, fan_in = in * prod(kernel) and fan_out = out * prod(kernel). Like
PyTorch, they take the second axis for fan_in whatever the layer, so for ConvTranspose2d's
weight (C_in, C_out / groups, KH, KW) "fan_in" counts output channels. PyTorch's helper
`_calculate_fan_in_and_fan_out(weight)` has the same name here, so ported `reset_parameters`
code runs. Beware: `uniform(low, high, shape)` below makes a new array; it is not PyTorch's
deprecated `nn.init.uniform(tensor)`, which is `uniform_` here.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from tinygrad_cnn import random as tc_random
from tinygrad_cnn.nn.module import Buffer
from tinygrad_cnn.ops.elementwise import real_number
from tinygrad_cnn.value import Value

# nn.functional names whose gain is 1: the linear layers, as PyTorch's calculate_gain
LINEAR_NAMES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d")
NONLINEARITIES = LINEAR_NAMES + ("sigmoid", "tanh", "relu", "leaky_relu", "selu")
FAN_MODES = ("fan_in", "fan_out")


def uniform(low: float, high: float, shape: tuple[int, ...],
            rng: np.random.Generator | None = None) -> np.ndarray:
    """U(low, high) samples of the given shape, float32; from `rng`, else the default generator."""
    if not low < high:
        raise ValueError(f"uniform: low={low} is not below high={high}; expected low < high")
    rng = tc_random.generator(rng)
    return rng.uniform(low, high, size=shape).astype(np.float32)


def fan_in_uniform(shape: tuple[int, ...], fan_in: int,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) samples of the given shape, float32.

    This is PyTorch's default range for both the weights and the biases of Linear and Conv2d:
    weights use kaiming_uniform with a=sqrt(5), whose bound is
    sqrt(3) * sqrt(2 / (1 + a**2)) / sqrt(fan_in) = 1/sqrt(fan_in), and biases use the same bound.
    fan_in is in_features for Linear, in_channels / groups * KH * KW for Conv2d and
    out_channels / groups * KH * KW for ConvTranspose2d (PyTorch takes it from the weight's
    second axis).
    """
    bound = 1.0 / math.sqrt(fan_in)
    return uniform(-bound, bound, shape, rng)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance through `nonlinearity`: 1 for linear, conv*,
    conv_transpose* and sigmoid; 5/3 for tanh; sqrt(2) for relu; sqrt(2 / (1 + slope**2)) for
    leaky_relu, slope = param (default 0.01); 3/4 for selu.

    `param` is read for leaky_relu only, as in PyTorch. For self-normalising networks PyTorch
    recommends nonlinearity="linear" rather than "selu" (weights of variance 1 / fan_in).
    """
    return _gain("calculate_gain", nonlinearity, "param", param)


def uniform_(tensor: Value | Buffer, a: float = 0.0, b: float = 1.0,
             generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with U(a, b) samples (a == b gives all a); returns tensor."""
    data = _float_data("uniform_", tensor)
    a, b = _finite("uniform_", "a", a), _finite("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: a={a} is above b={b}; expected a <= b (the range [a, b))")
    data[...] = _generator("uniform_", generator).uniform(a, b, size=data.shape)
    return tensor


def normal_(tensor: Value | Buffer, mean: float = 0.0, std: float = 1.0,
            generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with N(mean, std^2) samples; returns tensor."""
    data = _float_data("normal_", tensor)
    mean, std = _finite("normal_", "mean", mean), _finite("normal_", "std", std)
    if std < 0:
        raise ValueError(f"normal_: std={std} is negative; expected std >= 0 (a standard "
                         f"deviation, not a variance)")
    data[...] = _generator("normal_", generator).normal(mean, std, size=data.shape)
    return tensor


def trunc_normal_(tensor: Value | Buffer, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with N(mean, std^2) samples conditioned on [a, b]; returns tensor.

    a and b are values, not multiples of std: trunc_normal_(w, std=0.02) keeps [-2, 2], which
    truncates nothing (write a=-2 * std, b=2 * std for +-2 std). The samples are exact, by
    rejection: normal proposals when [a, b] holds more than 30% of the distribution, else
    uniform proposals on [a, b] (then a and b must be finite), as PyTorch. As PyTorch, it warns
    when mean is more than 2 std outside [a, b]; the draws stay exact but may be slow.
    """
    data = _float_data("trunc_normal_", tensor)
    mean, std = _finite("trunc_normal_", "mean", mean), _finite("trunc_normal_", "std", std)
    a, b = (real_number("trunc_normal_", "a", a, "0.5"),
            real_number("trunc_normal_", "b", b, "0.5"))
    if std <= 0:
        raise ValueError(f"trunc_normal_: std={std} is not positive; expected std > 0")
    if math.isnan(a) or math.isnan(b) or not a < b:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is empty; expected a < b, e.g. "
                         f"a=mean - 2 * std, b=mean + 2 * std")
    rng = _generator("trunc_normal_", generator)
    mass = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)
    if mass <= 0.3 and not (math.isfinite(a) and math.isfinite(b)):
        share = f"only {mass:.3g}" if mass > 0 else "a share that rounds to 0"
        # a finite bound 10 std beyond the finite one (or the mean): no draw would fall past it
        fix = (f"b={max(a, mean) + 10 * std:g}" if math.isinf(b) else
               f"a={min(b, mean) - 10 * std:g}")
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds {share} of "
                         f"N({mean}, {std}^2) and is unbounded; expected a finite [a, b] when it "
                         f"holds less than 30% of the distribution; pass a finite bound instead, "
                         f"e.g. {fix}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(f"trunc_normal_: mean={mean} is more than 2 std={std} outside [a, b] = "
                      f"[{a}, {b}]; the samples are exact but drawing them may be slow; expected "
                      f"a mean inside [a - 2 std, b + 2 std]", stacklevel=2)
    data[...] = _truncated_normal(rng, mean, std, a, b, mass, data.shape)
    return tensor


def constant_(tensor: Value | Buffer, val: float) -> Value | Buffer:
    """Fill tensor in place with val (cast to its dtype, as PyTorch); returns tensor."""
    return _fill("constant_", tensor, val)


def ones_(tensor: Value | Buffer) -> Value | Buffer:
    """Fill tensor in place with 1; returns tensor."""
    return _fill("ones_", tensor, 1)


def zeros_(tensor: Value | Buffer) -> Value | Buffer:
    """Fill tensor in place with 0; returns tensor."""
    return _fill("zeros_", tensor, 0)


def eye_(tensor: Value | Buffer) -> Value | Buffer:
    """Fill a 2-D tensor (out, in) in place with the identity matrix: 1 where row == column,
    else 0; a Linear layer with this weight passes min(out, in) inputs through. Returns tensor."""
    data = _writable_data("eye_", tensor)
    if data.ndim != 2:
        raise ValueError(f"eye_: tensor has shape {data.shape} ({data.ndim} dimensions); "
                         f"expected 2 dimensions, such as a Linear weight; for a convolution's "
                         f"weight use dirac_")
    data[...] = np.eye(*data.shape)
    return tensor


def dirac_(tensor: Value | Buffer, groups: int = 1) -> Value | Buffer:
    """Fill a 3-, 4- or 5-D tensor (C_out, C_in / groups, *kernel) in place with Dirac deltas:
    in each of `groups` blocks of C_out / groups output channels, channel d of the block gets a
    1 at input channel d and the kernel's centre (index K // 2 on each axis), for d below
    min(C_out / groups, C_in / groups); all else is 0. A convolution with this weight (stride 1,
    padding that keeps the size) copies those input channels. Returns tensor."""
    data = _writable_data("dirac_", tensor)
    if data.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: tensor has shape {data.shape} ({data.ndim} dimensions); "
                         f"expected 3, 4 or 5 dimensions (C_out, C_in / groups, *kernel), a "
                         f"convolution's weight; for a Linear weight use eye_")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"dirac_: groups is {type(groups).__name__} {groups!r:.40}; expected "
                         f"a positive int, the convolution's groups")
    if data.shape[0] % groups:
        raise ValueError(f"dirac_: dimension 0 of shape {data.shape} ({data.shape[0]} output "
                         f"channels) is not divisible by groups={groups}; expected groups to "
                         f"divide C_out, as in the convolution that uses this weight")
    per_group = data.shape[0] // groups
    channels = np.arange(min(per_group, data.shape[1]))   # d, one 1 each per group
    centre = tuple(size // 2 for size in data.shape[2:])
    data[...] = 0
    for g in range(groups):
        data[(g * per_group + channels, channels, *centre)] = 1
    return tensor


def xavier_uniform_(tensor: Value | Buffer, gain: float = 1.0,
                    generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))
    (Glorot & Bengio 2010: the variance gain^2 * 2 / (fan_in + fan_out)); returns tensor."""
    data = _float_data("xavier_uniform_", tensor)
    bound = math.sqrt(3.0) * _xavier_std("xavier_uniform_", data.shape, gain)
    rng = _generator("xavier_uniform_", generator)
    if data.size:    # PyTorch divides by zero for a weight whose fans are both 0
        data[...] = rng.uniform(-bound, bound, size=data.shape)
    return tensor


def xavier_normal_(tensor: Value | Buffer, gain: float = 1.0,
                   generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))
    (Glorot & Bengio 2010); returns tensor."""
    data = _float_data("xavier_normal_", tensor)
    std = _xavier_std("xavier_normal_", data.shape, gain)
    rng = _generator("xavier_normal_", generator)
    if data.size:
        data[...] = rng.normal(0.0, std, size=data.shape)
    return tensor


def kaiming_uniform_(tensor: Value | Buffer, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al. 2015:
    the variance gain^2 / fan); returns tensor.

    gain = calculate_gain(nonlinearity, a), where a is the negative slope of a leaky_relu (read
    for "leaky_relu" only; the default a=0 gives relu's sqrt(2)); fan is fan_in (mode="fan_in",
    keeps the variance of the forward pass) or fan_out ("fan_out", that of the backward pass).
    A tensor with no elements is left as it is, with a warning, as in PyTorch.
    """
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    rng = _generator("kaiming_uniform_", generator)
    if std is not None:
        bound = math.sqrt(3.0) * std
        tensor.data[...] = rng.uniform(-bound, bound, size=tensor.shape)
    return tensor


def kaiming_normal_(tensor: Value | Buffer, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with N(0, std^2), std = gain / sqrt(fan) (He et al. 2015); gain,
    a, mode and nonlinearity as in kaiming_uniform_. Returns tensor."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    rng = _generator("kaiming_normal_", generator)
    if std is not None:
        tensor.data[...] = rng.normal(0.0, std, size=tensor.shape)
    return tensor


def orthogonal_(tensor: Value | Buffer, gain: float = 1,
                generator: np.random.Generator | None = None) -> Value | Buffer:
    """Fill tensor in place with gain times a random (semi-)orthogonal matrix W (rows, cols),
    rows = shape[0] and the other axes flattened: W W^T = gain^2 I if rows <= cols, else
    W^T W = gain^2 I (Saxe et al. 2013). Returns tensor.

    W is Q of the QR decomposition of a standard normal matrix, its columns' signs fixed by
    R's diagonal so that W is uniformly distributed (Mezzadri 2007), as PyTorch.
    """
    data = _float_data("orthogonal_", tensor)
    if data.ndim < 2:
        raise ValueError(f"orthogonal_: tensor has shape {data.shape} ({data.ndim} "
                         f"dimensions); expected at least 2 dimensions (the axes after the "
                         f"first are flattened into columns); a bias cannot be orthogonal: "
                         f"use zeros_ or uniform_")
    gain = _finite("orthogonal_", "gain", gain)
    rng = _generator("orthogonal_", generator)
    if data.size == 0:
        return tensor
    rows = data.shape[0]
    cols = data.size // rows
    tall = rng.standard_normal((max(rows, cols), min(rows, cols)))   # QR needs rows >= columns
    q, r = np.linalg.qr(tall)                       # q (max, min) with orthonormal columns
    q *= np.sign(np.diag(r))                        # column signs from R: uniform over matrices
    w = q if rows >= cols else q.T                  # (rows, cols)
    data[...] = (gain * w).reshape(data.shape)      # (rows, cols) -> shape
    return tensor


def _fill(caller: str, tensor, val) -> Value | Buffer:
    """constant_, its errors naming `caller`."""
    data = _writable_data(caller, tensor)
    if not isinstance(val, numbers.Real):       # bools and ints too, for integer buffers
        raise TypeError(f"{caller}: val is {type(val).__name__} {val!r:.40}; expected a real "
                        f"number such as 0.5")
    data[...] = val
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Value | Buffer) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): (in * prod(kernel), out * prod(kernel)),
    as PyTorch's helper of this name, which ported reset_parameters code calls."""
    caller = "_calculate_fan_in_and_fan_out"
    return _fans(caller, _checked_tensor(caller, tensor).shape)


def _fans(caller: str, shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape, or a ValueError naming `caller`."""
    if len(shape) < 2:
        raise ValueError(f"{caller}: fan_in and fan_out are not defined for a tensor with fewer "
                         f"than 2 dimensions (shape {shape}); expected a weight such as "
                         f"(out_features, in_features) or (C_out, C_in, KH, KW); initialise a "
                         f"bias with zeros_, or uniform_ with a bound of your own")
    receptive_field = math.prod(shape[2:])           # KH * KW for a Conv2d weight
    return shape[1] * receptive_field, shape[0] * receptive_field


def _xavier_std(caller: str, shape: tuple[int, ...], gain: float) -> float:
    """gain * sqrt(2 / (fan_in + fan_out)), the standard deviation of Glorot's initialisers."""
    fan_in, fan_out = _fans(caller, shape)
    gain = _finite(caller, "gain", gain)
    if gain < 0:
        raise ValueError(f"{caller}: gain={gain} is negative; expected gain >= 0, e.g. "
                         f"calculate_gain('relu')")
    return gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0


def _kaiming_std(caller: str, tensor, a, mode, nonlinearity) -> float | None:
    """gain / sqrt(fan), the standard deviation of He's initialisers; None (with PyTorch's
    warning) for a tensor without elements, which is then left as it is."""
    data = _float_data(caller, tensor)
    if data.size == 0:
        warnings.warn(f"{caller}: the tensor has no elements (shape {data.shape}); nothing to "
                      f"initialise, so it is left as it is", stacklevel=3)
        return None
    if not isinstance(mode, str) or mode.lower() not in FAN_MODES:
        raise ValueError(f"{caller}: mode {mode!r:.40} is not supported; expected 'fan_in' "
                         f"(keeps the variance of the forward pass; the default) or 'fan_out' "
                         f"(keeps that of the backward pass)")
    fan_in, fan_out = _fans(caller, data.shape)
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    return _gain(caller, nonlinearity, "a", a) / math.sqrt(fan)


def _gain(caller: str, nonlinearity, param_name: str, param) -> float:
    """calculate_gain's value, its errors naming `caller` and the slope argument `param_name`."""
    if nonlinearity in LINEAR_NAMES or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "selu":
        return 3.0 / 4       # found empirically by PyTorch (pytorch/pytorch#50664)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if (isinstance(slope, bool) or not isinstance(slope, numbers.Real)
                or not math.isfinite(slope)):
            raise ValueError(f"{caller}: {param_name} (the negative slope of leaky_relu) is "
                             f"{type(param).__name__} {param!r:.40}; expected a finite number "
                             f"such as 0.01, or None for 0.01; a setting meant for another "
                             f"argument may have landed on {param_name} by position: pass it "
                             f"by keyword (e.g. mode='fan_out')")
        return math.sqrt(2.0 / (1 + slope**2))
    choices = ", ".join(repr(name) for name in NONLINEARITIES)
    raise ValueError(f"{caller}: nonlinearity {nonlinearity!r:.40} is not supported; expected "
                     f"one of {choices} (nn.functional names); for another function, pick the "
                     f"closest of these or compute a gain yourself and pass it to xavier_*_ or "
                     f"orthogonal_")


def _truncated_normal(rng: np.random.Generator, mean: float, std: float, a: float, b: float,
                      mass: float, shape: tuple[int, ...]) -> np.ndarray:
    """float64 samples of N(mean, std^2) conditioned on [a, b], which holds `mass` of it, by
    rejection sampling: every element is redrawn until one of its proposals is accepted."""
    out = np.empty(shape)
    flat = out.reshape(-1)                               # a view: writing it fills out
    pending = np.arange(flat.size)                       # flat indices still without a sample
    # uniform proposals x on [a, b] are accepted with probability pdf(x) / pdf(peak), where
    # the peak is the point of [a, b] closest to the mean
    peak = min(max(mean, a), b)
    while pending.size:
        if mass > 0.3:                                   # normal proposals: accept if in [a, b]
            x = rng.normal(mean, std, size=pending.size)
            accept = (a <= x) & (x <= b)
        else:
            x = rng.uniform(a, b, size=pending.size)
            ratio = np.exp(0.5 * ((peak - mean) / std) ** 2 - 0.5 * ((x - mean) / std) ** 2)
            accept = rng.random(pending.size) < ratio
        flat[pending[accept]] = x[accept]
        pending = pending[~accept]
    return out


def _normal_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z; erfc keeps it accurate in the lower tail."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _checked_tensor(caller: str, tensor) -> Value | Buffer:
    """tensor itself if it is a Value or a Buffer, else a TypeError naming `caller`."""
    if not isinstance(tensor, (Value, Buffer)):
        raise TypeError(f"{caller}: tensor is {type(tensor).__name__} {tensor!r:.40}; expected "
                        f"a tc.Value (a parameter, such as layer.weight) or an nn.Buffer; to "
                        f"fill a numpy array, wrap it: tc.Value(array) uses the array itself")
    return tensor


def _writable_data(caller: str, tensor) -> np.ndarray:
    """tensor's data array, checked to be writable in place."""
    data = _checked_tensor(caller, tensor).data
    if not data.flags.writeable:
        raise ValueError(f"{caller}: the tensor's data (shape {data.shape}) is a read-only "
                         f"array, such as a np.broadcast_to view, so it cannot be filled in "
                         f"place; expected a writable array; give the tensor a copy first: "
                         f"tensor.data = tensor.data.copy()")
    return data


def _float_data(caller: str, tensor) -> np.ndarray:
    """tensor's data array, checked to be writable and floating-point (for random values)."""
    data = _writable_data(caller, tensor)
    if data.dtype.kind != "f":
        raise TypeError(f"{caller}: the tensor has dtype {data.dtype}; expected floating-point "
                        f"data for random values, such as a layer's float32 weight; make it "
                        f"from a float array, e.g. tc.Value(np.zeros(shape, dtype=np.float32))")
    return data


def _generator(caller: str, generator) -> np.random.Generator:
    """`generator` itself, or the default generator when it is None; else a TypeError."""
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{caller}: generator is {type(generator).__name__} {generator!r:.40}; "
                        f"expected a np.random.Generator, e.g. np.random.default_rng(0), or "
                        f"None for the default generator (set by tc.manual_seed); a "
                        f"torch.Generator does not work here")
    return tc_random.generator(generator, caller)


def _finite(caller: str, name: str, x) -> float:
    """x as a float if it is a finite real number, else a TypeError or ValueError."""
    x = real_number(caller, name, x, "0.5")
    if not math.isfinite(x):
        raise ValueError(f"{caller}: {name}={x} is not finite; expected a finite number")
    return x
