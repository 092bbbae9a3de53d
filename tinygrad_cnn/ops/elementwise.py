"""Elementwise ops with numpy broadcasting: arithmetic, exp/log, log1p/expm1, log2/log10/exp2,
logaddexp, reciprocal/cbrt, sin/cos/tan and their inverses arcsin/arccos/arctan/arctan2,
sinh/cosh/arcsinh/arccosh/arctanh, sinc, hypot, abs/sqrt/square/clip, the rounding ops
floor/ceil/trunc/rint/round/sign and floor_divide (gradient 0), fmod/remainder, xlogy, logit,
minimum/maximum/where and the activations (relu, leaky_relu, prelu, elu,
hardtanh, tanh, the stable logistic family sigmoid, softplus, log_sigmoid, and erf, gelu, silu;
selu, celu, mish, hardswish, hardsigmoid, softsign, tanhshrink, softshrink, hardshrink,
threshold, softmin, and glu as a composition). A broadcast input's gradient is summed back to
the input's shape (`unbroadcast`)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.axes import checked_axis
from tinygrad_cnn.ops.shape import unbroadcast  # noqa: F401  (re-exported: custom ops use it)
from tinygrad_cnn.value import Value, data_of


class Add(Function):
    """a + b, broadcast."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    # d(a+b)/da = d(a+b)/db = 1
    def backward(self, grad):
        da = unbroadcast(grad, self.a_shape) if self.needs_input_grad[0] else None
        db = unbroadcast(grad, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Sub(Function):
    """a - b, broadcast."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    # d(a-b)/da = 1, d(a-b)/db = -1
    def backward(self, grad):
        da = unbroadcast(grad, self.a_shape) if self.needs_input_grad[0] else None
        db = -unbroadcast(grad, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Mul(Function):
    """a * b, broadcast."""

    def forward(self, a, b):
        return a * b

    # d(ab)/da = b, d(ab)/db = a
    def backward(self, grad):
        a, b, _ = self.saved()
        da = unbroadcast(grad * b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(grad * a, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """a / b, broadcast."""

    def forward(self, a, b):
        return a / b

    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b, the output over b
    def backward(self, grad):
        a, b, out = self.saved()
        da = unbroadcast(grad / b, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(-grad * out / b, b.shape) if self.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """x ** exponent, for a Python number exponent."""

    def forward(self, x, exponent):
        self.exponent = exponent
        return x ** exponent

    # d(x^p)/dx = p x^(p-1); for p = 0 that is 0 everywhere, x = 0 included (not 0 * 0^-1)
    def backward(self, grad):
        x, _ = self.saved()
        if self.exponent == 0:
            return grad * 0
        return grad * self.exponent * x ** (self.exponent - 1)


class Power(Function):
    """a ** b, broadcast, for an exponent b that is an array or a Value (numpy.power)."""

    def forward(self, a, b):
        # bool masks, constants: at a = 0 the rules below would make 0 * inf or 0 * ln 0
        a_zero = a == 0
        self.zero_to_the_zero, self.zero_base = a_zero & (b == 0), a_zero & (b >= 0)
        return a ** b

    # d(a^b)/da = b a^(b-1). At a = b = 0 that is 0 * 0^-1, but a^0 = 1 for every a, so the
    # derivative is 0: there the rule takes the exponent 1 in place of b (0 * 0^0 = 0)
    # d(a^b)/db = a^b ln a (from a^b = e^(b ln a)), taken as 0 where a = 0 and b >= 0 (0^b is
    # 0 or 1 there, not 0 * ln 0 = NaN), as PyTorch's: ln 1 in place of ln 0. NaN for a < 0
    def backward(self, grad):
        a, b, out = self.saved()
        da = db = None
        if self.needs_input_grad[0]:
            exponent = Where.run(self.zero_to_the_zero, 1, b)
            da = unbroadcast(grad * b * a ** (exponent - 1), a.shape)
        if self.needs_input_grad[1]:
            db = unbroadcast(grad * out * Log.run(Where.run(self.zero_base, 1, a)), b.shape)
        return da, db


class Neg(Function):
    """-x."""

    def forward(self, x):
        return -x

    # d(-x)/dx = -1
    def backward(self, grad):
        return -grad


class Exp(Function):
    """e^x."""

    def forward(self, x):
        return np.exp(x)

    # d(e^x)/dx = e^x, the output itself
    def backward(self, grad):
        _, out = self.saved()
        return grad * out


class Log(Function):
    """Natural logarithm ln(x)."""

    def forward(self, x):
        return np.log(x)

    # d(ln x)/dx = 1/x
    def backward(self, grad):
        x, _ = self.saved()
        return grad / x


class Log1p(Function):
    """ln(1 + x), accurate near x = 0, where 1 + x would round off the digits of x."""

    def forward(self, x):
        return np.log1p(x)

    # d ln(1 + x)/dx = 1 / (1 + x)
    def backward(self, grad):
        x, _ = self.saved()
        return grad / (x + 1)


class Expm1(Function):
    """e^x - 1, accurate near x = 0, where e^x - 1 would cancel."""

    def forward(self, x):
        return np.expm1(x)

    # d(e^x - 1)/dx = e^x, the output + 1
    def backward(self, grad):
        _, out = self.saved()
        return grad * (out + 1)


class Sin(Function):
    """sin(x), x in radians."""

    def forward(self, x):
        return np.sin(x)

    # d sin(x)/dx = cos(x)
    def backward(self, grad):
        x, _ = self.saved()
        return grad * Cos.run(x)


class Cos(Function):
    """cos(x), x in radians."""

    def forward(self, x):
        return np.cos(x)

    # d cos(x)/dx = -sin(x)
    def backward(self, grad):
        x, _ = self.saved()
        return -grad * Sin.run(x)


class Arcsin(Function):
    """arcsin(x) in [-pi/2, pi/2], for x in [-1, 1] (NaN outside, as numpy)."""

    def forward(self, x):
        return np.arcsin(x)

    # y = arcsin x: sin y = x, so cos y dy = dx, and cos y = sqrt(1 - x^2) (cos y >= 0 on
    # [-pi/2, pi/2]): d arcsin(x)/dx = 1 / sqrt(1 - x^2), infinite at x = +-1
    def backward(self, grad):
        x, _ = self.saved()
        return grad / Sqrt.run(1 - x * x)


class Arccos(Function):
    """arccos(x) in [0, pi], for x in [-1, 1] (NaN outside, as numpy)."""

    def forward(self, x):
        return np.arccos(x)

    # arccos x = pi/2 - arcsin x: d arccos(x)/dx = -1 / sqrt(1 - x^2)
    def backward(self, grad):
        x, _ = self.saved()
        return -grad / Sqrt.run(1 - x * x)


class Arctan(Function):
    """arctan(x) in (-pi/2, pi/2)."""

    def forward(self, x):
        return np.arctan(x)

    # y = arctan x: tan y = x, so (1 + tan^2 y) dy = dx: d arctan(x)/dx = 1 / (1 + x^2)
    def backward(self, grad):
        x, _ = self.saved()
        return grad / (1 + x * x)


class Arctan2(Function):
    """arctan2(y, x), broadcast: the angle in [-pi, pi] of the point (x, y), quadrant included."""

    def forward(self, y, x):
        return np.arctan2(y, x)

    # the angle t of (x, y) changes as arctan(y/x) does, away from x = 0 too:
    # dt/dy = x / (x^2 + y^2), dt/dx = -y / (x^2 + y^2). At the origin, where the angle has no
    # derivative, both are 0, as in PyTorch
    def backward(self, grad):
        y, x, _ = self.saved()
        r2 = x * x + y * y
        origin = data_of(r2) == 0                          # a bool mask: a constant
        per_r2 = Where.run(origin, 0, grad / Where.run(origin, 1, r2))
        dy = unbroadcast(per_r2 * x, y.shape) if self.needs_input_grad[0] else None
        dx = unbroadcast(-per_r2 * y, x.shape) if self.needs_input_grad[1] else None
        return dy, dx


class Tan(Function):
    """tan(x), x in radians."""

    def forward(self, x):
        return np.tan(x)

    # d tan(x)/dx = 1 / cos^2 x = 1 + tan^2 x, in terms of the output
    def backward(self, grad):
        _, out = self.saved()
        return grad * (1 + out * out)


class Sinh(Function):
    """sinh(x) = (e^x - e^-x) / 2."""

    def forward(self, x):
        return np.sinh(x)

    # d sinh(x)/dx = (e^x + e^-x) / 2 = cosh(x)
    def backward(self, grad):
        x, _ = self.saved()
        return grad * Cosh.run(x)


class Cosh(Function):
    """cosh(x) = (e^x + e^-x) / 2."""

    def forward(self, x):
        return np.cosh(x)

    # d cosh(x)/dx = (e^x - e^-x) / 2 = sinh(x)
    def backward(self, grad):
        x, _ = self.saved()
        return grad * Sinh.run(x)


class Arcsinh(Function):
    """arcsinh(x) = ln(x + sqrt(x^2 + 1))."""

    def forward(self, x):
        return np.arcsinh(x)

    # y = arcsinh x: sinh y = x, so cosh y dy = dx, and cosh y = sqrt(1 + sinh^2 y):
    # d arcsinh(x)/dx = 1 / sqrt(x^2 + 1)
    def backward(self, grad):
        x, _ = self.saved()
        return grad / Sqrt.run(x * x + 1)


class Arccosh(Function):
    """arccosh(x) = ln(x + sqrt(x^2 - 1)) >= 0, for x >= 1 (NaN below, as numpy)."""

    def forward(self, x):
        return np.arccosh(x)

    # y = arccosh x: cosh y = x, so sinh y dy = dx, and sinh y = sqrt(cosh^2 y - 1) (y >= 0):
    # d arccosh(x)/dx = 1 / sqrt(x^2 - 1), infinite at x = 1
    def backward(self, grad):
        x, _ = self.saved()
        return grad / Sqrt.run(x * x - 1)


class Arctanh(Function):
    """arctanh(x) = ln((1 + x) / (1 - x)) / 2, for x in (-1, 1) (+-inf at +-1, NaN outside)."""

    def forward(self, x):
        return np.arctanh(x)

    # y = arctanh x: tanh y = x, so (1 - tanh^2 y) dy = dx: d arctanh(x)/dx = 1 / (1 - x^2)
    def backward(self, grad):
        x, _ = self.saved()
        return grad / (1 - x * x)


class LogAddExp(Function):
    """ln(e^a + e^b), broadcast, as numpy.logaddexp: max(a, b) + ln(1 + e^-|a - b|), so no e^x
    overflows."""

    def forward(self, a, b):
        return np.logaddexp(a, b)

    # d/da ln(e^a + e^b) = e^a / (e^a + e^b) = 1 / (1 + e^(b - a)) = s(a - b), and db = s(b - a):
    # sigmoids of the difference, finite for every a and b (s is stable in both tails)
    def backward(self, grad):
        a, b, _ = self.saved()
        da = unbroadcast(grad * Sigmoid.run(a - b), a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(grad * Sigmoid.run(b - a), b.shape) if self.needs_input_grad[1] else None
        return da, db


class Abs(Function):
    """|x|."""

    def forward(self, x):
        self.sign = (x > 0).view(np.int8) - (x < 0).view(np.int8)    # int8: -1, 0 or 1
        return np.abs(x)

    # d|x|/dx = sign(x): 1, -1, and 0 at the kink x = 0 (as PyTorch)
    def backward(self, grad):
        return grad * self.sign


class Sqrt(Function):
    """The square root of x."""

    def forward(self, x):
        return np.sqrt(x)

    # d sqrt(x)/dx = 1 / (2 sqrt(x)), in terms of the output
    def backward(self, grad):
        _, out = self.saved()
        return grad / (out * 2)


class Square(Function):
    """x * x."""

    def forward(self, x):
        return x * x

    # d(x^2)/dx = 2x
    def backward(self, grad):
        x, _ = self.saved()
        return grad * x * 2


class Cast(Function):
    """x converted to another float dtype, e.g. float64 -> float32."""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    # the identity on values: the gradient comes back in the input's dtype
    def backward(self, grad):
        return Cast.run(grad, dtype=self.in_dtype)


class Clip(Function):
    """x limited to [low, high] (either may be None: no limit on that side)."""

    def forward(self, x, low, high):
        self.inside = np.ones(x.shape, dtype=bool)      # where the output follows x
        if low is not None:
            self.inside &= x >= low
        if high is not None:
            self.inside &= x <= high
        return np.clip(x, low, high)

    # d clip(x)/dx = 1 where low <= x <= high (the bounds included, as PyTorch), else 0
    def backward(self, grad):
        return grad * self.inside


class Maximum(Function):
    """The larger of a and b, elementwise, broadcast."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        self.a_wins, self.tie = a > b, a == b          # bool masks of the output's shape
        return np.maximum(a, b)

    # the output is a where a > b and b where b > a; at a tie each gets half, as PyTorch does
    def backward(self, grad):
        return _split_by_winner(self, grad)


class Minimum(Function):
    """The smaller of a and b, elementwise, broadcast."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        self.a_wins, self.tie = a < b, a == b
        return np.minimum(a, b)

    # the output is a where a < b and b where b < a; at a tie each gets half, as PyTorch does
    def backward(self, grad):
        return _split_by_winner(self, grad)


def _split_by_winner(fn: Maximum | Minimum, grad):
    """(da, db) for minimum/maximum: grad goes to the winner, half of it to each side of a tie."""
    share_a = fn.a_wins + 0.5 * fn.tie                  # 1, 0 or 1/2: a constant weight
    share_a = share_a.astype(grad.dtype, copy=False)
    da = unbroadcast(grad * share_a, fn.a_shape) if fn.needs_input_grad[0] else None
    db = unbroadcast(grad * (1 - share_a), fn.b_shape) if fn.needs_input_grad[1] else None
    return da, db


class Where(Function):
    """a where condition is True, else b; condition, a and b broadcast (numpy.where)."""

    def forward(self, condition, a, b):
        self.condition, self.a_shape, self.b_shape = condition, np.shape(a), np.shape(b)
        return np.where(condition, a, b)

    # each output element is a copy of a (condition True) or of b (False): the gradient goes
    # to the one that was copied and is 0 for the other, then is un-broadcast
    def backward(self, grad):
        da = db = None
        if self.needs_input_grad[1]:
            da = unbroadcast(Where.run(self.condition, grad, 0), self.a_shape)
        if self.needs_input_grad[2]:
            db = unbroadcast(Where.run(self.condition, 0, grad), self.b_shape)
        return None, da, db


class ReLU(Function):
    """max(x, 0)."""

    def forward(self, x):
        return np.maximum(x, 0)

    # d relu(x)/dx = 1 where x > 0, else 0 (0 at the kink x = 0, as PyTorch); x > 0 exactly
    # where the output is, so the output (kept anyway) serves as the mask, written as "not
    # out <= 0" so that a NaN input passes its gradient on, as PyTorch's relu does
    def backward(self, grad):
        _, out = self.saved()
        return grad * ~(out <= 0)


class LeakyReLU(Function):
    """x where x > 0, else negative_slope * x."""

    def forward(self, x, negative_slope):
        self.positive, self.slope = x > 0, negative_slope
        return np.where(self.positive, x, x * negative_slope)

    # d/dx = 1 where x > 0, else negative_slope (the slope at the kink x = 0, as PyTorch)
    def backward(self, grad):
        slope = np.where(self.positive, 1, self.slope).astype(grad.dtype, copy=False)
        return grad * slope


class PReLU(Function):
    """x where x > 0, else weight * x: weight (C,) holds one learned slope per channel (axis 1),
    or (1,) one slope for all."""

    def forward(self, x, weight):
        self.positive, self.negative = x > 0, x < 0
        self.slope_shape = prelu_slope_shape(x.ndim, weight.size)    # (C,) -> (C, 1, ..., 1)
        return np.where(self.positive, x, x * weight.reshape(self.slope_shape))

    # d/dx = 1 where x > 0, else the slope (PyTorch's value at the kink x = 0, a constant
    # there); d/dweight_c = the sum over channel c's positions of grad * x where x < 0
    def backward(self, grad):
        x, weight, _ = self.saved()
        dx = dweight = None
        if self.needs_input_grad[0]:
            slope = _constant_outside(self.negative, weight.reshape(self.slope_shape))
            dx = grad * Where.run(self.positive, 1, slope)
        if self.needs_input_grad[1]:
            dweight = unbroadcast(grad * Where.run(self.negative, x, 0), self.slope_shape)
            dweight = dweight.reshape(weight.shape)
        return dx, dweight


class ELU(Function):
    """x where x > 0, else alpha (e^x - 1)."""

    def forward(self, x, alpha):
        x = x.astype(float_dtype(x.dtype), copy=False)      # expm1 of an integer x is a float
        self.positive, self.negative = x > 0, x < 0
        # e^min(x, 0): the branch that is not taken never overflows for a large x
        return np.where(self.positive, x, alpha * np.expm1(np.minimum(x, 0)))

    # d/dx = 1 where x > 0, else alpha e^x (PyTorch's alpha at the kink x = 0, a constant
    # there). e^x from min(x, 0), which never overflows; not the output + alpha, which would
    # cancel to 0 for x << 0
    def backward(self, grad):
        x, _ = self.saved()
        e_x = Exp.run(Where.run(self.positive, 0, x))             # e^min(x, 0)
        slope = _constant_outside(self.negative, self.params["alpha"] * e_x)
        return grad * Where.run(self.positive, 1, slope)


class Hardtanh(Function):
    """x limited to [min_val, max_val]: clip's values, with PyTorch's hardtanh gradient."""

    def forward(self, x, min_val, max_val):
        self.inside = (x > min_val) & (x < max_val)      # where the output follows x
        return np.clip(x, min_val, max_val)

    # d/dx = 1 where min_val < x < max_val, else 0: 0 at the bounds themselves too, as
    # PyTorch's hardtanh (clip, as PyTorch's clamp, counts the bounds as inside)
    def backward(self, grad):
        return grad * self.inside


class Tanh(Function):
    """tanh(x)."""

    def forward(self, x):
        return np.tanh(x)

    # d tanh(x)/dx = 1 - tanh(x)^2
    def backward(self, grad):
        _, out = self.saved()
        return grad * (1 - out * out)


class Sigmoid(Function):
    """s(x) = 1 / (1 + e^-x), accurate in both tails."""

    def forward(self, x):
        return _sigmoid(x.astype(float_dtype(x.dtype), copy=False))    # -|x| of a uint wraps

    # s'(x) = s(x) (1 - s(x)) = s(x) s(-x); s(-x) is computed, not 1 - s(x), which cancels
    # to 0 for large x
    def backward(self, grad):
        x, out = self.saved()
        return grad * out * Sigmoid.run(-x)


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, accurate in both tails; x itself where beta x > threshold."""

    def forward(self, x, beta, threshold):
        x = x.astype(float_dtype(x.dtype), copy=False)      # -|x| of a uint wraps
        with np.errstate(over="ignore"):          # a huge beta x is +-inf: handled below
            bx = x * beta
        self.linear, self.below = bx > threshold, bx < threshold   # the output is x, or not
        # (max(bx, 0) + log(1 + e^-|bx|)) / b, with max(bx, 0) / b written as x or 0, so that
        # an infinite bx (x of 1e37 at beta 50 in float32) still gives x
        softplus = np.where(bx > 0, x, 0) + np.log1p(np.exp(-np.abs(bx))) / beta
        return np.where(self.linear, x, softplus)

    # d/dx log(1 + e^(bx)) / b = e^(bx) / (1 + e^(bx)) = s(bx); 1 where the output is x; at
    # bx = threshold itself s(bx), as PyTorch, a constant there
    def backward(self, grad):
        x, _ = self.saved()
        slope = _constant_outside(self.below, Sigmoid.run(x * self.params["beta"]))
        return grad * Where.run(self.linear, 1, slope)


class LogSigmoid(Function):
    """log s(x) = -log(1 + e^-x), accurate in both tails."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)      # -|x| of a uint wraps
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    # d log s(x)/dx = s'(x) / s(x) = 1 - s(x) = s(-x)
    def backward(self, grad):
        x, _ = self.saved()
        return grad * Sigmoid.run(-x)


class Erf(Function):
    """erf(x) = 2/sqrt(pi) * (the integral of e^(-t^2) from 0 to x), with Python's math.erf."""

    def forward(self, x):
        return _math_map(math.erf, x).astype(float_dtype(x.dtype), copy=False)

    # d erf(x)/dx = 2/sqrt(pi) e^(-x^2), the integrand at x
    def backward(self, grad):
        x, _ = self.saved()
        return grad * Exp.run(x * -x) * (2 / math.sqrt(math.pi))


class NormalCdf(Function):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF (gelu's rule uses it)."""

    def forward(self, x):
        return _normal_cdf(x)

    # Phi'(x) = phi(x) = e^(-x^2/2) / sqrt(2 pi), the standard normal density
    def backward(self, grad):
        x, _ = self.saved()
        return grad * _normal_pdf(x)


class GELU(Function):
    """x Phi(x), Phi the standard normal CDF; approximate="tanh": PyTorch's
    x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), computed as x s(2u), the same value."""

    def forward(self, x, approximate):
        self.approximate = approximate
        x = x.astype(float_dtype(x.dtype), copy=False)    # an integer x^3 could overflow
        if approximate == "tanh":
            x_c = x.clip(-GELU_TANH_SATURATED, GELU_TANH_SATURATED)
            return x * _sigmoid(_gelu_tanh_v(x_c))    # (1 + tanh(u)) / 2 = s(2u): no cancelling
        return x * _normal_cdf(x)

    # none: d/dx x Phi(x) = Phi(x) + x phi(x), phi = Phi' the standard normal density
    # tanh: v = 2u, d/dx x s(v) = s(v) + x s(v) s(-v) v', v' = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2)
    def backward(self, grad):
        x, _ = self.saved()
        if self.approximate == "tanh":
            x_c = x.clip(-GELU_TANH_SATURATED, GELU_TANH_SATURATED)
            v = _gelu_tanh_v(x_c)
            s = Sigmoid.run(v)
            return grad * (s + x_c * s * Sigmoid.run(-v) * _gelu_tanh_dv(x_c))
        return grad * (NormalCdf.run(x) + x * _normal_pdf(x))


class SiLU(Function):
    """x s(x), s the logistic sigmoid (also called swish), accurate in both tails."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)    # -x of a bool or unsigned x is wrong
        return x * _sigmoid(x)

    # d/dx x s(x) = s(x) + x s(x) s(-x) = s(x) (1 + x s(-x)); s(-x) = 1 - s(x), as in Sigmoid
    def backward(self, grad):
        x, _ = self.saved()
        return grad * Sigmoid.run(x) * (1 + x * Sigmoid.run(-x))


GELU_TANH_CUBIC = 0.044715      # the cubic term of PyTorch's (and the GELU paper's) tanh form
# beyond |x| = 40, v > 4600 and s(v) is exactly 0 or 1 in every float dtype (e^-4600 is 0 even
# in float64), so the tanh form computes v, v' and x s(v) s(-v) v' from x clipped to [-40, 40]:
# the same values, but no x^3 or x v' that overflows (float16 does at 65504) into inf * 0 = NaN
GELU_TANH_SATURATED = 40.0


def _math_map(fn, x: np.ndarray) -> np.ndarray:
    """fn, a function of one Python float such as math.erf (numpy has no erf), at every element of
    x: a float64 array of x's shape."""
    return np.fromiter(map(fn, x.ravel().tolist()), dtype=np.float64, count=x.size).reshape(
        x.shape)


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype of np.tanh's result for an array of `dtype`: a float dtype stays, an integer or
    bool dtype becomes the smallest float that holds it (int8 -> float16, int64 -> float64)."""
    return np.result_type(dtype, np.float16)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) as erfc(-x / sqrt 2) / 2, in x's float dtype: 1 + erf(x / sqrt 2) would cancel in
    the negative tail (to 0 below x = -8.3 in float64), erfc does not."""
    cdf = 0.5 * _math_map(math.erfc, x.astype(np.float64) * -math.sqrt(0.5))
    return cdf.astype(float_dtype(x.dtype), copy=False)


def _normal_pdf(x):
    """phi(x) = e^(-x^2/2) / sqrt(2 pi), of an array or of a Value (then recorded in the graph)."""
    return Exp.run(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))


def _gelu_tanh_v(x):
    """v = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3), of an array or of a Value."""
    return (x + x * x * x * GELU_TANH_CUBIC) * (2 * math.sqrt(2 / math.pi))


def _gelu_tanh_dv(x):
    """v' = dv/dx = 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2), of an array or of a Value."""
    return (x * x * (3 * GELU_TANH_CUBIC) + 1) * (2 * math.sqrt(2 / math.pi))


def _constant_outside(mask, slope):
    """slope where mask holds, and elsewhere slope's numbers as a constant: at a kink PyTorch
    takes the first derivative from one side, but its second derivative there is 0, and so is
    this rule's (slope is an array, or a Value under create_graph; data_of gives its data)."""
    return Where.run(mask, slope, data_of(slope))


def prelu_slope_shape(ndim: int, size: int) -> tuple[int, ...]:
    """The shape that broadcasts prelu's weight of `size` entries against an input of `ndim` axes:
    () for one slope, (C, 1, ..., 1) for C slopes, one per channel (axis 1)."""
    return () if size == 1 else (size,) + (1,) * (ndim - 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) split by the sign of x, so e^-|x| <= 1 never overflows and the negative
    tail, e^x / (1 + e^x), never cancels."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _shape(x) -> tuple[int, ...]:
    kind = type(x)        # exact types first: this runs for every operator of a scalar graph
    if kind is Value or kind is np.ndarray:
        return x.shape
    return () if kind is float or kind is int else np.shape(x)


def _check_broadcast(op: str, *operands) -> None:
    """Raise a ValueError naming every shape unless the operands broadcast together."""
    shapes = [_shape(x) for x in operands]
    if shapes.count(shapes[0]) == len(shapes):
        return
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"{op}: cannot broadcast shapes {' and '.join(map(str, shapes))}; expected each "
            f"trailing dimension to be equal or 1; reshape one operand") from None


def add(a, b) -> Value:
    """a + b with broadcasting."""
    if type(a) is not Value or type(b) is not Value or a.data.shape != b.data.shape:
        _check_broadcast("add", a, b)
    return Add.apply(a, b)


def sub(a, b) -> Value:
    """a - b with broadcasting."""
    if type(a) is not Value or type(b) is not Value or a.data.shape != b.data.shape:
        _check_broadcast("sub", a, b)
    return Sub.apply(a, b)


def mul(a, b) -> Value:
    """a * b with broadcasting."""
    if type(a) is not Value or type(b) is not Value or a.data.shape != b.data.shape:
        _check_broadcast("mul", a, b)
    return Mul.apply(a, b)


def div(a, b) -> Value:
    """a / b with broadcasting."""
    if type(a) is not Value or type(b) is not Value or a.data.shape != b.data.shape:
        _check_broadcast("div", a, b)
    return Div.apply(a, b)


def pow(x, exponent) -> Value:
    """x ** exponent, broadcast. A number exponent is a constant (x ** 2, x ** -0.5); an array
    or a Value exponent is an input of its own (numpy.power), and a Value one gets a gradient:
    a learned exponent p in x ** p, or the x of 2 ** x."""
    if exponent is None or isinstance(exponent, (bool, np.bool_)):
        raise TypeError(f"pow: exponent is {exponent!r}; expected a number, e.g. x ** 2, or an "
                        f"array or a Value of exponents")
    if isinstance(exponent, numbers.Real):
        if isinstance(exponent, np.generic):
            exponent = exponent.item()    # a Python number never changes x's dtype
        return Pow.apply(x, exponent=exponent)
    return Power.apply(x, exponent)


def neg(x) -> Value:
    """-x."""
    return Neg.apply(x)


def exp(x) -> Value:
    """e^x elementwise."""
    return Exp.apply(x)


def log(x) -> Value:
    """ln(x) elementwise."""
    return Log.apply(x)


def log1p(x) -> Value:
    """ln(1 + x) elementwise, accurate near x = 0 (where log(1 + x) loses x's digits), as
    numpy.log1p; its derivative is 1 / (1 + x)."""
    return Log1p.apply(x)


def expm1(x) -> Value:
    """e^x - 1 elementwise, accurate near x = 0 (where exp(x) - 1 cancels), as numpy.expm1; its
    derivative is e^x."""
    return Expm1.apply(x)


def sin(x) -> Value:
    """sin(x) elementwise, x in radians."""
    return Sin.apply(x)


def cos(x) -> Value:
    """cos(x) elementwise, x in radians."""
    return Cos.apply(x)


def abs(x) -> Value:
    """|x| elementwise; the gradient at 0 is 0, as in PyTorch."""
    return Abs.apply(x)


def arcsin(x) -> Value:
    """arcsin(x) elementwise, in radians, as numpy.arcsin: NaN outside [-1, 1]; its derivative
    1 / sqrt(1 - x^2) is infinite at x = +-1."""
    return Arcsin.apply(x)


def arccos(x) -> Value:
    """arccos(x) elementwise, in radians, as numpy.arccos: NaN outside [-1, 1]; its derivative
    -1 / sqrt(1 - x^2) is infinite at x = +-1."""
    return Arccos.apply(x)


def arctan(x) -> Value:
    """arctan(x) elementwise, in radians, as numpy.arctan."""
    return Arctan.apply(x)


def arctan2(y, x) -> Value:
    """The angle of the point (x, y) in radians, in [-pi, pi], elementwise and broadcast, as
    numpy.arctan2 (y first): unlike arctan(y / x), it tells the four quadrants apart. Its
    gradient is (x, -y) / (x^2 + y^2) for (y, x), and 0 at the origin, as PyTorch's."""
    _check_broadcast("arctan2", y, x)
    return Arctan2.apply(y, x)


def tan(x) -> Value:
    """tan(x) elementwise, x in radians, as numpy.tan; its derivative is 1 + tan(x)^2."""
    return Tan.apply(x)


def sinh(x) -> Value:
    """sinh(x) elementwise, as numpy.sinh; its derivative is cosh(x)."""
    return Sinh.apply(x)


def cosh(x) -> Value:
    """cosh(x) elementwise, as numpy.cosh; its derivative is sinh(x)."""
    return Cosh.apply(x)


def arcsinh(x) -> Value:
    """arcsinh(x) elementwise, as numpy.arcsinh (PyTorch's asinh); its derivative is
    1 / sqrt(x^2 + 1)."""
    return Arcsinh.apply(x)


def arccosh(x) -> Value:
    """arccosh(x) elementwise, as numpy.arccosh (PyTorch's acosh): NaN below 1; its derivative
    1 / sqrt(x^2 - 1) is infinite at x = 1."""
    return Arccosh.apply(x)


def arctanh(x) -> Value:
    """arctanh(x) elementwise, as numpy.arctanh (PyTorch's atanh): +-inf at +-1, NaN outside
    [-1, 1]; its derivative is 1 / (1 - x^2)."""
    return Arctanh.apply(x)


def logaddexp(a, b) -> Value:
    """ln(e^a + e^b) elementwise and broadcast, as numpy.logaddexp, computed without overflow:
    max(a, b) + ln(1 + e^-|a - b|). Its gradients are s(a - b) for a and s(b - a) for b, s the
    logistic sigmoid: the softmax of the pair."""
    _check_broadcast("logaddexp", a, b)
    return LogAddExp.apply(a, b)


def sqrt(x) -> Value:
    """The square root of x, elementwise."""
    return Sqrt.apply(x)


def square(x) -> Value:
    """x * x elementwise."""
    return Square.apply(x)


def astype(x, dtype) -> Value:
    """x as an array of a float `dtype`, as numpy's astype; the gradient is cast back to x's
    dtype. Other dtypes carry no gradient: take `.data.astype(...)` for integer or bool arrays."""
    target = np.dtype(dtype)
    if target.kind != "f":
        raise TypeError(f"astype: dtype {target} is not a float dtype; expected e.g. np.float32 "
                        f"or np.float64; for an integer or bool array without a gradient use "
                        f"x.data.astype(np.{target.name})")
    return Cast.apply(x, dtype=target)


def clip(x, min=None, max=None) -> Value:
    """x limited to [min, max] elementwise, as numpy.clip; None leaves that side open. The
    gradient is 1 where min <= x <= max (bounds included, as PyTorch's clamp) and 0 elsewhere."""
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and (isinstance(bound, (bool, np.bool_))
                                  or not isinstance(bound, numbers.Real)):
            raise TypeError(f"clip: {name}={bound!r:.60} is a {type(bound).__name__}; expected "
                            f"a real number or None; for elementwise bounds use "
                            f"ops.minimum/ops.maximum")
    if min is None and max is None:
        raise ValueError("clip: min and max are both None; expected at least one bound, e.g. "
                         "clip(x, min=0.0)")
    low, high = (b.item() if isinstance(b, np.generic) else b for b in (min, max))
    return Clip.apply(x, low=low, high=high)


def maximum(a, b) -> Value:
    """The larger of a and b elementwise, broadcast; at a tie each gets half the gradient."""
    _check_broadcast("maximum", a, b)
    return Maximum.apply(a, b)


def minimum(a, b) -> Value:
    """The smaller of a and b elementwise, broadcast; at a tie each gets half the gradient."""
    _check_broadcast("minimum", a, b)
    return Minimum.apply(a, b)


def where(condition, a, b) -> Value:
    """a where `condition` is True, else b, as numpy.where; condition is a bool array (e.g.
    `x > 0`, a numpy mask even for a Value x) or a Value of bools, and gets no gradient; all
    three broadcast together."""
    data = condition.data if isinstance(condition, Value) else np.asarray(condition)
    if data.dtype != np.bool_:
        convert = "condition.data.astype(bool)" if isinstance(condition, Value) else \
            "np.asarray(condition).astype(bool)"
        raise TypeError(f"where: condition has dtype {data.dtype}; expected a bool array, e.g. "
                        f"x > 0; convert a 0/1 array with {convert}")
    _check_broadcast("where", data, a, b)
    return Where.apply(data, a, b)


def relu(x) -> Value:
    """max(x, 0) elementwise."""
    return ReLU.apply(x)


def real_number(owner: str, name: str, value, example: str) -> float:
    """value as a Python float, or a TypeError naming `owner` (an op, a layer or an initialiser)
    and the argument: a bool or a string is no real number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} is {type(value).__name__} {value!r:.40}; expected a "
                        f"real number such as {example}")
    return float(value)


def leaky_relu(x, negative_slope: float = 0.01) -> Value:
    """x where x > 0, else negative_slope * x, elementwise (as torch.nn.functional.leaky_relu)."""
    return LeakyReLU.apply(x, negative_slope=real_number("leaky_relu", "negative_slope",
                                                   negative_slope, "0.01"))


def prelu(x, weight) -> Value:
    """x where x > 0, else weight * x, elementwise, as torch.nn.functional.prelu: a learned slope,
    weight (1,) for every element or (C,) one per channel, C = x.shape[1] (a 0-d or 1-D x has
    one channel). The gradient at x = 0 is the slope; weight's gradient is, for each channel,
    the sum of grad * x over the channel's positions where x < 0."""
    x_shape, w_shape = _shape(x), _shape(weight)
    channels = x_shape[1] if len(x_shape) >= 2 else 1
    if len(w_shape) > 1 or math.prod(w_shape) not in (1, channels):
        per_channel = "" if channels == 1 else f" or ({channels},) (one per channel)"
        raise ValueError(f"prelu: weight has shape {w_shape} but the input {x_shape} has "
                         f"{channels} channel{'' if channels == 1 else 's'} (axis 1; a 0-d or 1-D "
                         f"input has 1); expected a weight of shape (1,) (one slope for every "
                         f"channel){per_channel}; e.g. nn.PReLU(num_parameters={channels})")
    return PReLU.apply(x, weight)


def elu(x, alpha: float = 1.0) -> Value:
    """x where x > 0, else alpha (e^x - 1), elementwise, as torch.nn.functional.elu, with expm1
    (accurate near 0) and no overflow for large x; the gradient at x = 0 is alpha, as PyTorch's."""
    return ELU.apply(x, alpha=real_number("elu", "alpha", alpha, "1.0"))


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Value:
    """x limited to [min_val, max_val] elementwise, as torch.nn.functional.hardtanh: the values
    of clip, but the gradient is 1 only strictly between the bounds (0 at x = min_val or max_val,
    as PyTorch's; clip's is 1 there). hardtanh(x, 0.0, 6.0) is relu6."""
    low = real_number("hardtanh", "min_val", min_val, "-1.0")
    high = real_number("hardtanh", "max_val", max_val, "1.0")
    if low > high:
        raise ValueError(f"hardtanh: min_val={min_val!r} is greater than max_val={max_val!r}; "
                         f"expected min_val <= max_val")
    return Hardtanh.apply(x, min_val=low, max_val=high)


def tanh(x) -> Value:
    """tanh(x) elementwise."""
    return Tanh.apply(x)


def sigmoid(x) -> Value:
    """1 / (1 + e^-x) elementwise, accurate to a few ulps in both tails."""
    return Sigmoid.apply(x)


def softplus(x, beta: float = 1.0, threshold: float = math.inf) -> Value:
    """log(1 + e^(beta x)) / beta elementwise, accurate to a few ulps in both tails; its
    derivative is sigmoid(beta x). Where beta x > threshold the output is x itself (derivative
    1), as torch.nn.functional.softplus. PyTorch's default threshold 20 drops the
    log(1 + e^(-beta x)) / beta that the output has above x (2e-9 at x = 20), which this op
    keeps by default (threshold=inf): pass threshold=20.0, as nn.Softplus does, for PyTorch's
    numbers."""
    beta = real_number("softplus", "beta", beta, "1.0")
    if beta == 0:
        raise ValueError("softplus: beta is 0, which the formula log(1 + e^(beta x)) / beta "
                         "divides by; expected a non-zero number such as 1.0")
    return Softplus.apply(x, beta=beta, threshold=real_number("softplus", "threshold", threshold,
                                                          "20.0"))


def log_sigmoid(x) -> Value:
    """log(sigmoid(x)) = -softplus(-x) elementwise, accurate in both tails: finite for any x,
    with derivative sigmoid(-x)."""
    return LogSigmoid.apply(x)


def erf(x) -> Value:
    """The error function erf(x) = 2/sqrt(pi) * (the integral of e^(-t^2) from 0 to x),
    elementwise, as torch.erf; computed in float64 with math.erf, returned in x's float dtype."""
    return Erf.apply(x)


def gelu(x, approximate: str = "none") -> Value:
    """x Phi(x) = x/2 (1 + erf(x / sqrt 2)) elementwise, Phi the standard normal CDF, as
    torch.nn.functional.gelu; approximate="tanh" gives PyTorch's tanh approximation
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Neither cancels in the negative tail, where
    PyTorch's 1 + erf and 1 + tanh round to 0."""
    if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate={approximate!r:.60} is not one of its two forms; "
                         f"expected 'none' (x Phi(x), with erf) or 'tanh' (PyTorch's tanh "
                         f"approximation); pass e.g. gelu(x, approximate='tanh')")
    return GELU.apply(x, approximate=approximate)


def silu(x) -> Value:
    """x * sigmoid(x) elementwise, as torch.nn.functional.silu (also called swish), accurate in
    both tails; its derivative is s(x) (1 + x (1 - s(x)))."""
    return SiLU.apply(x)


# SELU's fixed constants, PyTorch's digits (Klambauer et al. 2017): with them a layer keeps
# inputs of zero mean and unit variance at zero mean and unit variance
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class SELU(Function):
    """scale * (x where x > 0, else alpha (e^x - 1)), with the fixed SELU_ALPHA, SELU_SCALE."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)      # expm1 of an integer x is a float
        self.positive, self.negative = x > 0, x < 0
        # e^min(x, 0): the branch that is not taken never overflows for a large x
        below = (SELU_SCALE * SELU_ALPHA) * np.expm1(np.minimum(x, 0))
        return np.where(self.positive, SELU_SCALE * x, below)

    # d/dx = scale where x > 0, else scale alpha e^x (PyTorch's scale alpha at the kink x = 0,
    # a constant there); e^x from min(x, 0), which never overflows
    def backward(self, grad):
        x, _ = self.saved()
        e_x = Exp.run(Where.run(self.positive, 0, x))             # e^min(x, 0)
        slope = _constant_outside(self.negative, e_x * (SELU_SCALE * SELU_ALPHA))
        return grad * Where.run(self.positive, SELU_SCALE, slope)


class CELU(Function):
    """x where x > 0, else alpha (e^(x / alpha) - 1): elu with its slope 1 at 0 for any alpha."""

    def forward(self, x, alpha):
        x = x.astype(float_dtype(x.dtype), copy=False)      # expm1 of an integer x is a float
        self.positive, self.negative = x > 0, x < 0
        return np.where(self.positive, x, alpha * np.expm1(np.minimum(x, 0) / alpha))

    # d/dx = 1 where x > 0, else e^(x / alpha) (PyTorch's 1 at the kink x = 0, a constant
    # there); e^(x / alpha) from min(x, 0), which never overflows for alpha > 0
    def backward(self, grad):
        x, _ = self.saved()
        e_x = Exp.run(Where.run(self.positive, 0, x) / self.params["alpha"])
        return grad * Where.run(self.positive, 1, _constant_outside(self.negative, e_x))


class Mish(Function):
    """x tanh(softplus(x)), softplus(x) = log(1 + e^x), accurate in both tails."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)      # -|x| of a uint wraps
        return x * np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))

    # t = tanh(softplus(x)), softplus' = s, tanh' = 1 - tanh^2: d/dx x t = t + x (1 - t^2) s(x)
    def backward(self, grad):
        x, _ = self.saved()
        t = Tanh.run(Softplus.run(x, beta=1.0, threshold=math.inf))
        return grad * (t + x * (1 - t * t) * Sigmoid.run(x))


class Hardswish(Function):
    """x relu6(x + 3) / 6: 0 for x <= -3, x (x + 3) / 6 between, x for x >= 3."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)      # x + 3 of a uint8 could wrap
        self.middle, self.above = (x > -3) & (x < 3), x >= 3
        return x * np.clip(x + 3, 0, 6) / 6

    # d/dx = 0 for x <= -3, x/3 + 1/2 between, 1 for x >= 3: at the kinks the outer pieces'
    # 0 (x = -3) and 1 (x = 3), as PyTorch's, whose second derivative is 1/3 only between
    def backward(self, grad):
        x, _ = self.saved()
        return Where.run(self.middle, grad * (x / 3 + 0.5), Where.run(self.above, grad, 0))


class Hardsigmoid(Function):
    """relu6(x + 3) / 6: 0 for x <= -3, x/6 + 1/2 between, 1 for x >= 3."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)      # x + 3 of a uint8 could wrap
        self.middle = (x > -3) & (x < 3)
        return np.clip(x + 3, 0, 6) / 6

    # d/dx = 1/6 for -3 < x < 3, else 0 (0 at the kinks x = +-3 too, as PyTorch's)
    def backward(self, grad):
        return grad * self.middle / 6


class Softsign(Function):
    """x / (1 + |x|)."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)      # -x of a uint wraps in |x|
        return x / (1 + np.abs(x))

    # d/dx x / (1 + |x|) = (1 + |x| - x sign(x)) / (1 + |x|)^2 = 1 / (1 + |x|)^2, divided by
    # 1 + |x| twice so that no square overflows (1 at x = 0, and so is PyTorch's)
    def backward(self, grad):
        x, _ = self.saved()
        d = 1 + Abs.run(x)
        return grad / d / d


class Tanhshrink(Function):
    """x - tanh(x)."""

    def forward(self, x):
        x = x.astype(float_dtype(x.dtype), copy=False)
        return x - np.tanh(x)

    # d/dx (x - tanh x) = 1 - (1 - tanh^2 x) = tanh^2 x
    def backward(self, grad):
        x, _ = self.saved()
        t = Tanh.run(x)
        return grad * t * t


class Softshrink(Function):
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (lambd >= 0)."""

    def forward(self, x, lambd):
        x = x.astype(float_dtype(x.dtype), copy=False)
        self.outside = ~((x >= -lambd) & (x <= lambd))       # PyTorch's test: NaN is outside
        return np.where(self.outside, x - np.sign(x) * lambd, 0)

    # d/dx = 1 outside [-lambd, lambd], else 0 (0 at x = +-lambd themselves, as PyTorch's)
    def backward(self, grad):
        return grad * self.outside


class Hardshrink(Function):
    """x where |x| > lambd, else 0."""

    def forward(self, x, lambd):
        x = x.astype(float_dtype(x.dtype), copy=False)
        self.outside = ~((x >= -lambd) & (x <= lambd))       # PyTorch's test: NaN is outside
        return np.where(self.outside, x, 0)

    # d/dx = 1 outside [-lambd, lambd], else 0 (0 at x = +-lambd themselves, as PyTorch's)
    def backward(self, grad):
        return grad * self.outside


class Threshold(Function):
    """x where x > threshold, else value."""

    def forward(self, x, threshold, value):
        x = x.astype(float_dtype(x.dtype), copy=False)
        self.passes = ~(x <= threshold)                      # PyTorch's test: NaN passes
        return np.where(self.passes, x, value)

    # d/dx = 1 where x > threshold, else 0 (0 at x = threshold too, as PyTorch's); value is a
    # constant
    def backward(self, grad):
        return grad * self.passes


class Softmin(Function):
    """y_i = e^(-x_i) / sum_j e^(-x_j) along `axis`: softmax(-x), the smallest x the largest y."""

    def forward(self, x, axis):
        x = x.astype(float_dtype(x.dtype), copy=False)      # -x of a uint wraps
        e = np.exp(x.min(axis=axis, keepdims=True) - x)     # e^(-x - max(-x)) <= 1: no overflow
        return e / e.sum(axis=axis, keepdims=True)

    # y = softmax(-x): dy_i/dx_k = -y_i (delta_ik - y_k), so dx = y (sum(grad * y) - grad)
    def backward(self, grad):
        _, y = self.saved()
        return y * ((grad * y).sum(axis=self.params["axis"], keepdims=True) - grad)


def selu(x) -> Value:
    """scale * (x where x > 0, else alpha (e^x - 1)) elementwise, as torch.nn.functional.selu,
    alpha = 1.6732632423543772 and scale = 1.0507009873554805 (SELU_ALPHA, SELU_SCALE); no
    overflow for large x; the gradient at x = 0 is scale * alpha, as PyTorch's."""
    return SELU.apply(x)


def celu(x, alpha: float = 1.0) -> Value:
    """x where x > 0, else alpha (e^(x / alpha) - 1) elementwise, as torch.nn.functional.celu:
    its slope is 1 on both sides of 0, whatever alpha; no overflow for large x (alpha > 0)."""
    alpha = real_number("celu", "alpha", alpha, "1.0")
    if alpha == 0:
        raise ValueError("celu: alpha is 0, which the formula alpha (e^(x / alpha) - 1) divides "
                         "by; expected a non-zero number such as 1.0")
    return CELU.apply(x, alpha=alpha)


def mish(x) -> Value:
    """x tanh(softplus(x)) elementwise, as torch.nn.functional.mish, accurate in both tails."""
    return Mish.apply(x)


def hardswish(x) -> Value:
    """x relu6(x + 3) / 6 elementwise, as torch.nn.functional.hardswish: 0 for x <= -3, x for
    x >= 3. The gradient at x = -3 is 0 and at x = 3 is 1, as PyTorch's."""
    return Hardswish.apply(x)


def hardsigmoid(x) -> Value:
    """relu6(x + 3) / 6 elementwise, as torch.nn.functional.hardsigmoid: 0 for x <= -3, 1 for
    x >= 3; the gradient is 1/6 strictly between and 0 elsewhere, at x = +-3 too (PyTorch's)."""
    return Hardsigmoid.apply(x)


def softsign(x) -> Value:
    """x / (1 + |x|) elementwise, as torch.nn.functional.softsign; its derivative is
    1 / (1 + |x|)^2."""
    return Softsign.apply(x)


def tanhshrink(x) -> Value:
    """x - tanh(x) elementwise, as torch.nn.functional.tanhshrink; its derivative is tanh(x)^2."""
    return Tanhshrink.apply(x)


def _lambd(fn: str, lambd) -> float:
    """A shrink's lambd as a float, >= 0: PyTorch's softshrink refuses a negative one."""
    lambd = real_number(fn, "lambd", lambd, "0.5")
    if not lambd >= 0:
        raise ValueError(f"{fn}: lambd is {lambd!r}; expected a number >= 0, the half-width of "
                         f"the interval [-lambd, lambd] that is set to 0, e.g. lambd=0.5")
    return lambd


def softshrink(x, lambd: float = 0.5) -> Value:
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0, elementwise, as
    torch.nn.functional.softshrink; lambd >= 0. The gradient is 0 at x = +-lambd (PyTorch's)."""
    return Softshrink.apply(x, lambd=_lambd("softshrink", lambd))


def hardshrink(x, lambd: float = 0.5) -> Value:
    """x where |x| > lambd, else 0, elementwise, as torch.nn.functional.hardshrink; the gradient
    is 0 at x = +-lambd (PyTorch's). A negative lambd keeps every x, as PyTorch's does."""
    return Hardshrink.apply(x, lambd=real_number("hardshrink", "lambd", lambd, "0.5"))


def threshold(x, threshold: float, value: float) -> Value:
    """x where x > threshold, else value, elementwise, as torch.nn.functional.threshold; the
    gradient is 1 where x > threshold and 0 elsewhere (at x = threshold too); value gets none."""
    return Threshold.apply(x, threshold=real_number("threshold", "threshold", threshold, "0.0"),
                           value=real_number("threshold", "value", value, "0.0"))


def softmin(x, axis: int = -1) -> Value:
    """e^(-x_i) / sum_j e^(-x_j) along `axis` (default the last), as torch.nn.functional.softmin:
    softmax(-x), any shape -> the same shape, without overflow for any x."""
    return Softmin.apply(x, axis=checked_axis("softmin", axis, _shape(x)))


def glu(x, axis: int = -1) -> Value:
    """a * sigmoid(b), where a and b are the first and second halves of x along `axis`, as
    torch.nn.functional.glu: (..., 2H, ...) -> (..., H, ...). A composition of getitem, sigmoid
    and mul, so its gradient is theirs: grad * s(b) for a, grad * a s(b) s(-b) for b."""
    shape = _shape(x)
    axis = checked_axis("glu", axis, shape, reshape_hint=False)  # (1,) is odd: no such hint
    if shape[axis] % 2:
        raise ValueError(f"glu: axis {axis} of the input of shape {shape} has odd size "
                         f"{shape[axis]}; expected an even size, split into halves a and b for "
                         f"a * sigmoid(b); pick another axis or pad x to an even size")
    x = x if isinstance(x, Value) else Value(x, requires_grad=False)
    half, before = shape[axis] // 2, (slice(None),) * axis       # (..., 2H, ...) -> (..., H, ...)
    return x[(*before, slice(None, half))] * sigmoid(x[(*before, slice(half, None))])


# ---- rounding (zero-gradient) ops, more logarithms and powers, and the two-input functions
# hypot, fmod, remainder, floor_divide and xlogy ----

def _zero_gradient(grad, shape):
    """The gradient of a piecewise-constant op: zeros of `shape` in grad's dtype, made from grad
    (an array in an ordinary backward, a Value under create_graph, whose own derivatives are
    then defined and 0 too). where(False, grad, 0) rather than grad * 0, which is NaN where grad
    is infinite."""
    return unbroadcast(Where.run(np.False_, grad, 0), shape)


class Floor(Function):
    """The largest integer <= x, elementwise (numpy.floor)."""

    def forward(self, x):
        return np.floor(x)

    # piecewise constant: d floor(x)/dx = 0 between the integers; at an integer, where it jumps,
    # 0 too, as PyTorch's
    def backward(self, grad):
        return _zero_gradient(grad, grad.shape)


class Ceil(Function):
    """The smallest integer >= x, elementwise (numpy.ceil)."""

    def forward(self, x):
        return np.ceil(x)

    # piecewise constant: 0, also at the integers where it jumps (PyTorch's)
    def backward(self, grad):
        return _zero_gradient(grad, grad.shape)


class Trunc(Function):
    """x rounded towards 0, elementwise (numpy.trunc)."""

    def forward(self, x):
        return np.trunc(x)

    # piecewise constant: 0, also at the integers where it jumps (PyTorch's)
    def backward(self, grad):
        return _zero_gradient(grad, grad.shape)


class Rint(Function):
    """x rounded to the nearest integer, a half to the even one, elementwise (numpy.rint)."""

    def forward(self, x):
        return np.rint(x)

    # piecewise constant: 0, also at the halves where it jumps (PyTorch's)
    def backward(self, grad):
        return _zero_gradient(grad, grad.shape)


class Round(Function):
    """x rounded to `decimals` decimal places, a half to the even digit, elementwise
    (numpy.round: rint(x * 10^decimals) / 10^decimals)."""

    def forward(self, x, decimals):
        return np.round(x, decimals)

    # piecewise constant: 0, also where it jumps (PyTorch's)
    def backward(self, grad):
        return _zero_gradient(grad, grad.shape)


class Sign(Function):
    """-1, 0 or 1 as x is negative, zero or positive, elementwise (numpy.sign; NaN stays NaN)."""

    def forward(self, x):
        return np.sign(x)

    # piecewise constant: 0, also at the jump x = 0 (PyTorch's)
    def backward(self, grad):
        return _zero_gradient(grad, grad.shape)


class FloorDivide(Function):
    """a // b, broadcast: floor(a / b) as numpy.floor_divide computes it, exactly (from
    fmod(a, b), so 1 // 0.1 is 9: 0.1 is a little more than 1/10)."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return np.floor_divide(a, b)

    # piecewise constant in a and in b: both gradients 0, also where it jumps (a / b an integer)
    def backward(self, grad):
        da = _zero_gradient(grad, self.a_shape) if self.needs_input_grad[0] else None
        db = _zero_gradient(grad, self.b_shape) if self.needs_input_grad[1] else None
        return da, db


class Log2(Function):
    """The base-2 logarithm log2(x) = ln(x) / ln 2."""

    def forward(self, x):
        return np.log2(x)

    # d log2(x)/dx = d(ln x / ln 2)/dx = 1 / (x ln 2)
    def backward(self, grad):
        x, _ = self.saved()
        return grad / (x * math.log(2))


class Log10(Function):
    """The base-10 logarithm log10(x) = ln(x) / ln 10."""

    def forward(self, x):
        return np.log10(x)

    # d log10(x)/dx = 1 / (x ln 10)
    def backward(self, grad):
        x, _ = self.saved()
        return grad / (x * math.log(10))


class Exp2(Function):
    """2^x = e^(x ln 2)."""

    def forward(self, x):
        return np.exp2(x)

    # d 2^x/dx = d e^(x ln 2)/dx = 2^x ln 2, the output times ln 2
    def backward(self, grad):
        _, out = self.saved()
        return grad * out * math.log(2)


class Reciprocal(Function):
    """1 / x (numpy.reciprocal)."""

    def forward(self, x):
        return np.reciprocal(x)

    # d(1/x)/dx = -1/x^2 = -(1/x)^2, the output squared
    def backward(self, grad):
        _, out = self.saved()
        return -grad * out * out


class Cbrt(Function):
    """The real cube root of x, negative for a negative x (numpy.cbrt)."""

    def forward(self, x):
        return np.cbrt(x)

    # y = cbrt(x): y^3 = x, so 3 y^2 dy = dx: d cbrt(x)/dx = 1 / (3 cbrt(x)^2), in terms of the
    # output; infinite at x = 0, where the curve is vertical
    def backward(self, grad):
        _, out = self.saved()
        return grad / (out * out * 3)


class Hypot(Function):
    """sqrt(a^2 + b^2), broadcast, without overflow or underflow (numpy.hypot)."""

    def forward(self, a, b):
        self.origin = (a == 0) & (b == 0)                  # a bool mask: a constant
        return np.hypot(a, b)

    # h = sqrt(a^2 + b^2): dh/da = a / h, dh/db = b / h (no square computed, so nothing
    # overflows). At the origin, the tip of the cone h, both are 0, as abs's at 0 (PyTorch's
    # are NaN there)
    def backward(self, grad):
        a, b, out = self.saved()
        per_h = Where.run(self.origin, 0, grad / Where.run(self.origin, 1, out))
        da = unbroadcast(per_h * a, a.shape) if self.needs_input_grad[0] else None
        db = unbroadcast(per_h * b, b.shape) if self.needs_input_grad[1] else None
        return da, db


# sinc'(x) = pi (u cos u - sin u) / u^2 with u = pi x, whose numerator cancels near 0 (to
# about eps / u^2 of the value): below |x| = SINC_SERIES_BELOW the rule takes the Taylor series
# pi * sum_k (-1)^k 2k u^(2k-1) / (2k+1)! instead, k = 1..7 (the next term is under 1e-16 of the
# sum at u = pi/10); its derivatives at 0 are sinc's own up to the 14th
SINC_SERIES_BELOW = 0.1
SINC_SERIES = [(-1) ** k * 2 * k / math.factorial(2 * k + 1) for k in range(1, 8)]


class Sinc(Function):
    """sin(pi x) / (pi x), 1 at x = 0 (numpy.sinc, the normalized sinc)."""

    def forward(self, x):
        self.small = np.abs(x) < SINC_SERIES_BELOW       # a bool mask: where the series is used
        return np.sinc(x)

    # u = pi x: d sinc/dx = pi d/du (sin u / u) = pi (cos u - sin u / u) / u = (cos(pi x) -
    # sinc(x)) / x; near 0 (where that cancels, and is 0 / 0 at x = 0) its Taylor series, so
    # the derivative at 0 is 0 and the second -pi^2/3
    def backward(self, grad):
        x, out = self.saved()
        u = x * math.pi
        u2 = u * u
        series = SINC_SERIES[-1]
        for c in reversed(SINC_SERIES[:-1]):              # Horner: c1 + u^2 (c2 + u^2 (...))
            series = u2 * series + c
        series = series * u * math.pi
        safe_x = Where.run(self.small, 1, x)             # no 0 / 0 in the branch not taken
        exact = (Cos.run(safe_x * math.pi) - out) / safe_x
        return grad * Where.run(self.small, series, exact)


class Fmod(Function):
    """The remainder of a / b with the sign of a, broadcast (numpy.fmod, C's fmod):
    a - trunc(a / b) b."""

    def forward(self, a, b):
        return np.fmod(a, b)

    # a - trunc(a / b) b, trunc(a / b) a constant between its jumps: d/da = 1,
    # d/db = -trunc(a / b); at a jump (a / b an integer) the same formula, as PyTorch's
    def backward(self, grad):
        a, b, _ = self.saved()
        da = unbroadcast(grad, a.shape) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            db = unbroadcast(-grad * Trunc.run(a / b), b.shape)
        return da, db


class Remainder(Function):
    """The remainder of a / b with the sign of b, broadcast (numpy.remainder, Python's %):
    a - floor(a / b) b."""

    def forward(self, a, b):
        return np.remainder(a, b)

    # a - floor(a / b) b, floor(a / b) = a // b a constant between its jumps: d/da = 1,
    # d/db = -(a // b); at a jump the same formula, as PyTorch's
    def backward(self, grad):
        a, b, _ = self.saved()
        da = unbroadcast(grad, a.shape) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            db = unbroadcast(-grad * FloorDivide.run(a, b), b.shape)
        return da, db


class Xlogy(Function):
    """x ln(y), broadcast, 0 where x = 0 (also where y = 0, whose ln is -inf), NaN where y is
    NaN (torch.xlogy)."""

    def forward(self, x, y):
        x = x.astype(float_dtype(np.result_type(x, y)), copy=False)
        x_zero = np.broadcast_to(x == 0, np.broadcast_shapes(x.shape, y.shape))
        # bool masks, constants: where the rule's x-gradient is 0 (PyTorch's), and where its
        # y-gradient x / y would be 0 / 0
        self.dx_zero, self.dy_zero = x_zero & (y <= 0), x_zero & (y == 0)
        with np.errstate(divide="ignore", invalid="ignore"):   # ln 0 = -inf: x ln 0 is -inf
            product = x * np.log(y)
        return np.where(x_zero & ~np.isnan(y), 0, product)

    # d/dx x ln y = ln y, written xlogy(grad, y) (0 where grad is, even at y = 0), and 0 where
    # x = 0 and y <= 0 (PyTorch's); d/dy x ln y = x / y, and 0 at x = y = 0 (PyTorch's 0 / 0
    # is NaN there). Where a branch is not taken it gets y = 1, so that no 0 / 0 or ln 0
    # poisons the second derivatives
    def backward(self, grad):
        x, y, _ = self.saved()
        dx = dy = None
        if self.needs_input_grad[0]:
            log_y = Xlogy.run(grad, Where.run(self.dx_zero, 1, y))
            dx = unbroadcast(Where.run(self.dx_zero, 0, log_y), x.shape)
        if self.needs_input_grad[1]:
            per_y = grad * x / Where.run(self.dy_zero, 1, y)
            dy = unbroadcast(Where.run(self.dy_zero, 0, per_y), y.shape)
        return dx, dy


class Logit(Function):
    """ln(z / (1 - z)), the inverse of the logistic sigmoid, with z = x, or with eps: x clipped
    to [eps, 1 - eps] (torch.logit)."""

    def forward(self, x, eps):
        x = x.astype(float_dtype(x.dtype), copy=False)   # an integer x gives a float, as ln's
        self.inside = None
        if eps is not None:
            self.inside = (x >= eps) & (x <= 1 - eps)    # where the output follows x
            x = np.clip(x, eps, 1 - eps)
        with np.errstate(divide="ignore"):               # ln(0) = -inf and ln(1 / 0) = inf
            return np.log(x / (1 - x))

    # d/dx (ln x - ln(1 - x)) = 1/x + 1/(1 - x) = 1 / (x (1 - x)); with eps, 0 where x lies
    # outside [eps, 1 - eps] and the output is constant (the bounds are inside, as PyTorch's)
    def backward(self, grad):
        x, _ = self.saved()
        if self.inside is None:
            return grad / (x * (1 - x))
        x = Where.run(self.inside, x, 0.5)               # no 1 / 0 in the branch not taken
        return Where.run(self.inside, grad / (x * (1 - x)), 0)


def floor(x) -> Value:
    """The largest integer <= x, elementwise, as numpy.floor (an integer x gets numpy's dtype).
    Its gradient is 0 everywhere, also at the integers where it jumps, as PyTorch's: a defined 0,
    not None."""
    return Floor.apply(x)


def ceil(x) -> Value:
    """The smallest integer >= x, elementwise, as numpy.ceil (an integer x gets numpy's dtype).
    Its gradient is 0 everywhere, also at the integers where it jumps, as PyTorch's."""
    return Ceil.apply(x)


def trunc(x) -> Value:
    """x rounded towards 0 (its integer part), elementwise, as numpy.trunc (an integer x gets
    numpy's dtype). Its gradient is 0 everywhere, also at the integers where it jumps, as
    PyTorch's."""
    return Trunc.apply(x)


def rint(x) -> Value:
    """x rounded to the nearest integer, a half to the even one (0.5 -> 0, 1.5 -> 2),
    elementwise, as numpy.rint (an integer x gives a float, as numpy's) and torch.round. Its
    gradient is 0 everywhere, also at the halves where it jumps, as PyTorch's."""
    return Rint.apply(x)


def round(x, decimals: int = 0) -> Value:  # noqa: A001  (numpy's name)
    """x rounded to `decimals` decimal places (negative: to tens, hundreds, ...), a half to the
    even digit, elementwise, as numpy.round: rint(x * 10^decimals) / 10^decimals, so
    round(0.125, 2) is 0.12 and round(1.005, 2) is 1.0 (1.005 * 100 rounds below 100.5);
    torch.round(x, decimals=...) agrees. An integer x stays integer. Its gradient is 0
    everywhere, also where it jumps, as PyTorch's."""
    if isinstance(decimals, (bool, np.bool_)) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals is {type(decimals).__name__} {decimals!r:.40}; "
                        f"expected an int, the number of decimal places, e.g. decimals=2 (or -1 "
                        f"to round to tens)")
    return Round.apply(x, decimals=int(decimals))


def sign(x) -> Value:
    """-1, 0 or 1 as x is negative, zero or positive, elementwise, as numpy.sign (NaN stays
    NaN). Its gradient is 0 everywhere, also at the jump x = 0, as PyTorch's."""
    return Sign.apply(x)


def floor_divide(a, b) -> Value:
    """a // b elementwise and broadcast, as numpy.floor_divide: floor(a / b), computed exactly
    from fmod(a, b) (so 1 // 0.1 is 9.0, where floor(1 / 0.1) rounds to 10.0), and a Value's
    `//`. Its gradients are 0 for a and b everywhere, also where it jumps, as the floor's."""
    _check_broadcast("floor_divide", a, b)
    return FloorDivide.apply(a, b)


def log2(x) -> Value:
    """The base-2 logarithm of x elementwise, as numpy.log2; its derivative is 1 / (x ln 2)."""
    return Log2.apply(x)


def log10(x) -> Value:
    """The base-10 logarithm of x elementwise, as numpy.log10; its derivative is
    1 / (x ln 10)."""
    return Log10.apply(x)


def exp2(x) -> Value:
    """2^x elementwise, as numpy.exp2; its derivative is 2^x ln 2."""
    return Exp2.apply(x)


def reciprocal(x) -> Value:
    """1 / x elementwise, as numpy.reciprocal; its derivative is -1 / x^2. An integer x gives
    numpy's integer reciprocal (0 for |x| > 1) and no gradient: divide 1.0 / x for a float."""
    return Reciprocal.apply(x)


def cbrt(x) -> Value:
    """The real cube root of x elementwise, negative for a negative x (cbrt(-8) = -2), as
    numpy.cbrt; its derivative 1 / (3 cbrt(x)^2) is infinite at x = 0. PyTorch has no cbrt
    (its x ** (1/3) is NaN for x < 0)."""
    return Cbrt.apply(x)


def hypot(a, b) -> Value:
    """sqrt(a^2 + b^2) elementwise and broadcast, as numpy.hypot: without overflow or
    underflow (hypot(3e200, 4e200) is 5e200). Its gradients are a / h and b / h, and 0 at the
    origin a = b = 0, the tip of the cone, as abs's at 0 (PyTorch's are NaN there)."""
    _check_broadcast("hypot", a, b)
    return Hypot.apply(a, b)


def sinc(x) -> Value:
    """The normalized sinc, sin(pi x) / (pi x) elementwise, 1 at x = 0, as numpy.sinc and
    torch.sinc. Its derivative (cos(pi x) - sinc(x)) / x is taken from its Taylor series for
    |x| < 0.1, where that formula cancels: 0 at x = 0, with the second derivative -pi^2/3 there
    (PyTorch's is NaN at 0)."""
    return Sinc.apply(x)


def fmod(a, b) -> Value:
    """The remainder of a / b with the sign of a, a - trunc(a / b) b, elementwise and broadcast,
    as numpy.fmod and torch.fmod (fmod(-5.5, 2) = -1.5). Its gradients are 1 for a and
    -trunc(a / b) for b, also at the jumps where a / b is an integer, as PyTorch's."""
    _check_broadcast("fmod", a, b)
    return Fmod.apply(a, b)


def remainder(a, b) -> Value:
    """The remainder of a / b with the sign of b, a - floor(a / b) b, elementwise and
    broadcast, as numpy.remainder, torch.remainder and a Value's `%` (remainder(-5.5, 2) =
    0.5). Its gradients are 1 for a and -(a // b) for b, also at the jumps where a / b is an
    integer, as PyTorch's."""
    _check_broadcast("remainder", a, b)
    return Remainder.apply(a, b)


def xlogy(x, y) -> Value:
    """x ln(y) elementwise and broadcast, as torch.xlogy: 0 where x = 0, even where y = 0 (so
    xlogy(p, p) is p ln p with 0 ln 0 = 0), NaN where y is NaN. Its gradients: ln(y) for x, 0
    where x = 0 and y <= 0 (PyTorch's); x / y for y, and 0 at x = y = 0 (where PyTorch's is
    0 / 0 = NaN)."""
    _check_broadcast("xlogy", x, y)
    return Xlogy.apply(x, y)


def logit(x, eps: float | None = None) -> Value:
    """ln(x / (1 - x)) elementwise, the inverse of sigmoid, as torch.logit: -inf at 0, inf at 1,
    NaN outside [0, 1]. With eps in [0, 0.5], x is first clipped to [eps, 1 - eps], so the
    output is finite (for eps > 0) and the gradient 1 / (x (1 - x)) is 0 outside those bounds
    (at the bounds themselves it is not, as PyTorch's)."""
    if eps is not None:
        eps = real_number("logit", "eps", eps, "1e-6 (or None)")
        if not 0 <= eps <= 0.5:
            raise ValueError(f"logit: eps is {eps!r}; expected None or a number in [0, 0.5], "
                             f"x being clipped to [eps, 1 - eps], e.g. eps=1e-6")
    return Logit.apply(x, eps=eps)
