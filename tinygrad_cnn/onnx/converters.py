"""One converter per op: how a node of our recorded graph becomes ONNX nodes.

A converter is called as `converter(g, node, *input_names)`: `g` is the graph being built
(exporter.GraphBuilder: `g.op(...)` adds an ONNX node and returns its output's name,
`g.ints(...)` and `g.scalar(...)` add constants), `node` is our output Value (its op is
`node.fn`, the op's keyword arguments `node.fn.params`, its inputs `node.fn.inputs`), and
the names are the ONNX tensors holding those inputs (None for a None input). It returns the
name of the tensor holding `node`. CONVERTERS, at the end, maps each op class to its
converter. Nothing here imports `onnx`: the builder does.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from tinygrad_cnn.ops import (
    batchnorm,
    conv,
    elementwise,
    indexing,
    linalg,
    loss,
    matrices,
    pool,
    pool_kernels,
    rearrange,
    reduce,
    sampling,
    shape,
)
from tinygrad_cnn.ops.axes import checked_axes
from tinygrad_cnn.ops.distance import ClampedValue

# (the module by its path: ops.fold is the function of that name)
from tinygrad_cnn.ops.fold import Fold, Unfold, blocks
from tinygrad_cnn.ops.layout import AXES

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def _pair(value) -> list[int]:
    """An int or an (h, w) pair as [h, w]."""
    return [int(value), int(value)] if np.isscalar(value) else [int(v) for v in value]


def _cast_all(g, node, names):
    """The inputs cast to the output's dtype where numpy promoted them (ONNX ops do not mix)."""
    return [None if name is None else g.as_dtype(name, value, node.dtype)
            for name, value in zip(names, node.fn.inputs, strict=True)]


def _unary(onnx_op):
    def convert(g, node, x):
        return g.op(onnx_op, [x])
    convert.__name__ = onnx_op.lower()
    return convert


def _binary(onnx_op):
    def convert(g, node, a, b):
        return g.op(onnx_op, _cast_all(g, node, [a, b]))
    convert.__name__ = onnx_op.lower()
    return convert


def pow_(g, node, x):
    return g.op("Pow", [x, g.scalar(node.fn.params["exponent"], node.dtype)])


def square(g, node, x):
    return g.op("Mul", [x, x])


def clip(g, node, x):
    params = node.fn.params
    low, high = (None if params[k] is None else g.scalar(params[k], node.dtype)
                 for k in ("low", "high"))
    return g.op("Clip", [x, low or "", high or ""])


def clamped_value(g, node, x):
    # the value max(x, low); the gradient it passes unchanged is no concern of an exported model
    return g.op("Max", [x, g.scalar(node.fn.params["low"], node.dtype)])


def where(g, node, condition, a, b):
    _, a, b = _cast_all(g, node, [None, a, b])
    return g.op("Where", [condition, a, b])


def leaky_relu(g, node, x):
    return g.op("LeakyRelu", [x], alpha=float(node.fn.params["negative_slope"]))


def prelu(g, node, x, weight):
    x, weight = _cast_all(g, node, [x, weight])
    ndim, size = node.fn.inputs[0].ndim, node.fn.inputs[1].data.size
    # (C,) -> (C, 1, ..., 1), or one slope -> (): PRelu broadcasts the slope against x from the
    # right, as numpy does
    shape = elementwise.prelu_slope_shape(ndim, size)
    return g.op("PRelu", [x, g.op("Reshape", [weight, g.ints(shape, "slope_shape")])])


def elu(g, node, x):
    return g.op("Elu", [x], alpha=float(node.fn.params["alpha"]))


def hardtanh(g, node, x):
    params = node.fn.params
    return g.op("Clip", [x, g.scalar(params["min_val"], node.dtype, "min_val"),
                         g.scalar(params["max_val"], node.dtype, "max_val")])


def softplus(g, node, x):
    beta, threshold = node.fn.params["beta"], node.fn.params["threshold"]
    if beta == 1:
        bx = x
        out = g.op("Softplus", [x])
    else:                               # Softplus(beta x) / beta
        scale = g.scalar(beta, node.dtype, "beta")
        bx = g.op("Mul", [x, scale])
        out = g.op("Div", [g.op("Softplus", [bx]), scale])
    if threshold == math.inf:
        return out
    # x itself where beta x > threshold
    above = g.op("Greater", [bx, g.scalar(threshold, node.dtype, "threshold")])
    return g.op("Where", [above, x, out])


def log1p(g, node, x):
    # ln(1 + x): ONNX has no accurate form, so 1 + x rounds first (x's digits below the
    # dtype's epsilon are lost near 0)
    return g.op("Log", [g.op("Add", [x, g.scalar(1, node.dtype, "one")])])


def expm1(g, node, x):
    # e^x - 1: ONNX has no accurate form, so near 0 the subtraction cancels digits
    return g.op("Sub", [g.op("Exp", [x]), g.scalar(1, node.dtype, "one")])


def arctan2(g, node, y, x):
    # ONNX has no Atan2: Atan(y / x) is the angle for x > 0 and for x = +0 (y / 0 = +-inf);
    # where x is negative (or -0, which 1/x < 0 tells from +0) the angle lies pi away: +pi for
    # y >= +0, -pi for y <= -0 (1/y < 0 again), as numpy.arctan2. At the origin (0/0 is NaN)
    # it is y itself for x = +0 (numpy's signed 0; ONNX Runtime's Where turns -0 into +0),
    # else that +-pi. Infinite inputs are not handled (inf / inf is NaN)
    y, x = _cast_all(g, node, [y, x])
    zero, one = g.scalar(0, node.dtype, "zero"), g.scalar(1, node.dtype, "one")
    y_negative = g.op("Less", [g.op("Div", [one, y]), zero])
    pi = g.op("Where", [y_negative, g.scalar(-math.pi, node.dtype, "minus_pi"),
                        g.scalar(math.pi, node.dtype, "pi")])
    x_negative = g.op("Less", [g.op("Div", [one, x]), zero])
    angle = g.op("Atan", [g.op("Div", [y, x])])
    angle = g.op("Where", [x_negative, g.op("Add", [angle, pi]), angle])
    origin = g.op("And", [g.op("Equal", [x, zero]), g.op("Equal", [y, zero])])
    return g.op("Where", [origin, g.op("Where", [x_negative, pi, y]), angle])


def logaddexp(g, node, a, b):
    # ONNX has no LogAddExp: max(a, b) + ln(1 + e^-|a - b|), Softplus of a number <= 0, which
    # cannot overflow; where a = b the gap is 0 (a and b both +inf, or both -inf, give inf -
    # inf = NaN as a - b, and +-inf + ln 2 = +-inf is the answer)
    a, b = _cast_all(g, node, [a, b])
    gap = g.op("Where", [g.op("Equal", [a, b]), g.scalar(0, node.dtype),
                         g.op("Neg", [g.op("Abs", [g.op("Sub", [a, b])])])])
    return g.op("Add", [g.op("Max", [a, b]), g.op("Softplus", [gap])])


def log_sigmoid(g, node, x):
    # log sigmoid(x) = -softplus(-x)
    return g.op("Neg", [g.op("Softplus", [g.op("Neg", [x])])])


def gelu(g, node, x):
    approximate = node.fn.params["approximate"]
    if g.opset >= 20:                   # ONNX has a Gelu op from opset 20 on
        return g.op("Gelu", [x], approximate=approximate)
    if approximate == "tanh":           # tanh(sqrt(2/pi) (x + 0.044715 x^3)), PyTorch's form
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.scalar(elementwise.GELU_TANH_CUBIC,
                                                            node.dtype, "cubic")])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.scalar(math.sqrt(2 / math.pi), node.dtype)])])
    else:                               # erf(x / sqrt 2)
        t = g.op("Erf", [g.op("Mul", [x, g.scalar(math.sqrt(0.5), node.dtype)])])
    # x/2 (1 + t)
    return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5, node.dtype, "half")]),
                        g.op("Add", [t, g.scalar(1.0, node.dtype, "one")])])


def silu(g, node, x):
    return g.op("Mul", [x, g.op("Sigmoid", [x])])


def selu(g, node, x):
    return g.op("Selu", [x], alpha=elementwise.SELU_ALPHA, gamma=elementwise.SELU_SCALE)


def celu(g, node, x):
    alpha = float(node.fn.params["alpha"])
    if node.dtype == np.float32:        # ONNX's Celu takes float32 only
        return g.op("Celu", [x], alpha=alpha)
    # x where x > 0, else alpha (e^(x / alpha) - 1)
    scale = g.scalar(alpha, node.dtype, "alpha")
    below = g.op("Mul", [g.op("Sub", [g.op("Exp", [g.op("Div", [x, scale])]),
                                      g.scalar(1, node.dtype, "one")]), scale])
    positive = g.op("Greater", [x, g.scalar(0, node.dtype, "zero")])
    return g.op("Where", [positive, x, below])


def mish(g, node, x):
    if g.opset >= 18:                   # ONNX has a Mish op from opset 18 on
        return g.op("Mish", [x])
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x])])])


def hardswish(g, node, x):
    if g.opset >= 14:                   # ONNX has a HardSwish op from opset 14 on
        return g.op("HardSwish", [x])
    return g.op("Mul", [x, g.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)])


def hardsigmoid(g, node, x):
    # ONNX's HardSigmoid is max(0, min(1, alpha x + beta)); relu6(x + 3) / 6 = x/6 + 1/2 between
    return g.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)


def tanhshrink(g, node, x):
    return g.op("Sub", [x, g.op("Tanh", [x])])


def softshrink(g, node, x):
    # ONNX's Shrink: x + bias below -lambd, x - bias above lambd, else 0
    lambd = float(node.fn.params["lambd"])
    return g.op("Shrink", [x], lambd=lambd, bias=lambd)


def hardshrink(g, node, x):
    return g.op("Shrink", [x], lambd=float(node.fn.params["lambd"]), bias=0.0)


def threshold(g, node, x):
    params = node.fn.params
    above = g.op("Greater", [x, g.scalar(params["threshold"], node.dtype, "threshold")])
    return g.op("Where", [above, x, g.scalar(params["value"], node.dtype, "value")])


def softmin(g, node, x):
    return g.op("Softmax", [g.op("Neg", [x])], axis=int(node.fn.params["axis"]))


def trunc(g, node, x):
    # ONNX has no Trunc: Ceil below 0, Floor from 0 on
    return g.op("Where", [g.op("Less", [x, g.scalar(0, node.dtype, "zero")]), g.op("Ceil", [x]),
                          g.op("Floor", [x])])


def round_(g, node, x):
    # numpy's round: Round(x * 10^d) / 10^d, or Round(x / 10^-d) * 10^-d for d < 0 (ONNX's
    # Round, as numpy's rint, takes a half to the even integer)
    decimals = node.fn.params["decimals"]
    if decimals == 0:
        return g.op("Round", [x])
    scale = g.scalar(10.0 ** abs(decimals), node.dtype, "ten_to_the_decimals")
    into, back = ("Mul", "Div") if decimals > 0 else ("Div", "Mul")
    return g.op(back, [g.op("Round", [g.op(into, [x, scale])]), scale])


def floor_divide(g, node, a, b):
    # numpy's floor_divide, exact where Floor(a / b) rounds first (1 // 0.1 is 9): the quotient
    # (a - fmod(a, b)) / b, 1 less where the remainder's sign is not b's, then the nearest
    # integer; a / b itself where b = 0
    a, b = _cast_all(g, node, [a, b])
    zero, one = g.scalar(0, node.dtype, "zero"), g.scalar(1, node.dtype, "one")
    mod = g.op("Mod", [a, b], fmod=1)
    quotient = g.op("Div", [g.op("Sub", [a, mod]), b])
    quotient = g.op("Where", [_sign_differs(g, mod, b, zero), g.op("Sub", [quotient, one]),
                              quotient])
    floored = g.op("Floor", [quotient])
    above_half = g.op("Greater", [g.op("Sub", [quotient, floored]),
                                  g.scalar(0.5, node.dtype, "half")])
    floored = g.op("Where", [above_half, g.op("Add", [floored, one]), floored])
    return g.op("Where", [g.op("Equal", [b, zero]), g.op("Div", [a, b]), floored])


def _sign_differs(g, mod, b, zero):
    """Where the remainder mod is not 0 and its sign is not b's: numpy's remainder adds b there."""
    return g.op("And", [g.op("Not", [g.op("Equal", [mod, zero])]),
                        g.op("Xor", [g.op("Less", [mod, zero]), g.op("Less", [b, zero])])])


def remainder(g, node, a, b):
    # ONNX's Mod takes floats only with fmod=1 (the sign of a): numpy's remainder (the sign of
    # b) is that + b where the signs differ
    a, b = _cast_all(g, node, [a, b])
    mod = g.op("Mod", [a, b], fmod=1)
    return g.op("Where", [_sign_differs(g, mod, b, g.scalar(0, node.dtype, "zero")),
                          g.op("Add", [mod, b]), mod])


def fmod(g, node, a, b):
    return g.op("Mod", _cast_all(g, node, [a, b]), fmod=1)


def log2(g, node, x):
    return g.op("Div", [g.op("Log", [x]), g.scalar(math.log(2), node.dtype, "ln2")])


def log10(g, node, x):
    return g.op("Div", [g.op("Log", [x]), g.scalar(math.log(10), node.dtype, "ln10")])


def exp2(g, node, x):
    return g.op("Pow", [g.scalar(2, node.dtype, "two"), x])


def cbrt(g, node, x):
    # ONNX has no cube root, and Pow of a negative base to 1/3 is NaN: sign(x) |x|^(1/3)
    return g.op("Mul", [g.op("Sign", [x]), g.op("Pow", [g.op("Abs", [x]),
                                                        g.scalar(1 / 3, node.dtype, "third")])])


def hypot(g, node, a, b):
    # ONNX has no Hypot, and sqrt(a^2 + b^2) overflows (float32: from 1.8e19 on): m sqrt(1 + r^2)
    # with m = max(|a|, |b|) and r = min(|a|, |b|) / m <= 1; r = 0 at the origin (m = 0); an
    # infinite m is the answer itself (inf / inf would be NaN)
    a, b = (g.op("Abs", [v]) for v in _cast_all(g, node, [a, b]))
    m, n = g.op("Max", [a, b]), g.op("Min", [a, b])
    zero, one = g.scalar(0, node.dtype, "zero"), g.scalar(1, node.dtype, "one")
    r = g.op("Div", [n, g.op("Where", [g.op("Equal", [m, zero]), one, m])])
    h = g.op("Mul", [m, g.op("Sqrt", [g.op("Add", [one, g.op("Mul", [r, r])])])])
    return g.op("Where", [g.op("IsInf", [m]), m, h])


def sinc(g, node, x):
    # ONNX has no Sinc: numpy's own formula, sin(y) / y with y = pi x, and x = 1e-20 for x = 0
    tiny = g.op("Where", [g.op("Equal", [x, g.scalar(0, node.dtype, "zero")]),
                          g.scalar(1e-20, node.dtype, "tiny"), x])
    y = g.op("Mul", [tiny, g.scalar(math.pi, node.dtype, "pi")])
    return g.op("Div", [g.op("Sin", [y]), y])


def xlogy(g, node, x, y):
    # x Log(y), and 0 where x = 0 unless y is NaN
    x, y = _cast_all(g, node, [x, y])
    zero = g.scalar(0, node.dtype, "zero")
    x_zero = g.op("And", [g.op("Equal", [x, zero]), g.op("Not", [g.op("IsNaN", [y])])])
    return g.op("Where", [x_zero, zero, g.op("Mul", [x, g.op("Log", [y])])])


def logit(g, node, x):
    # Log(z / (1 - z)), z = x clipped to [eps, 1 - eps] when eps is given
    eps = node.fn.params["eps"]
    if eps is not None:
        x = g.op("Clip", [x, g.scalar(eps, node.dtype, "eps"),
                          g.scalar(1 - eps, node.dtype, "one_minus_eps")])
    one = g.scalar(1, node.dtype, "one")
    return g.op("Log", [g.op("Div", [x, g.op("Sub", [one, x])])])


def reshape(g, node, x):
    # keep the batch axis dynamic: 0 copies the input's first dimension (the batch, when it
    # stays first); else -1 lets the first dimension take what the batch size makes of it
    in_shape, shape = node.fn.inputs[0].shape, list(node.shape)
    if g.is_batched(node.fn.inputs[0]) and shape == [1, *in_shape]:
        # what the convolutions and pools do with one unbatched example, (C, H, W) -> (1, C, H,
        # W): the axis the file makes the batch axis N would become axis 1, fixed in size
        raise ValueError(
            f"onnx.export: reshape (module {node.module!r}) turns the batched tensor of shape "
            f"{in_shape} into {tuple(shape)}, so the model's batch axis N would become axis 1, "
            f"whose size the file fixes: the example looks like one unbatched input (such as "
            f"one (C, H, W) image given to ops.conv2d); expected example_input with a batch "
            f"axis first; pass example_input[None], a batch of one")
    if shape and in_shape and in_shape[0] == shape[0]:
        shape[0] = 0
    elif shape and min(shape) > 0:
        shape[0] = -1
    return g.op("Reshape", [x, g.ints(shape, "shape")])


def flatten(g, node, x):
    ndim = max(node.fn.inputs[0].ndim, 1)
    start = int(node.fn.params.get("start_dim", 0)) % ndim
    if start == 1:                      # ONNX Flatten gives (d0, d1*...*dn): torch.flatten(x, 1)
        return g.op("Flatten", [x], axis=1)
    # (d0, ..., d_{s-1}, rest): 0 copies a leading dimension, -1 takes the rest
    return g.op("Reshape", [x, g.ints([0] * start + [-1], "shape")])


def transpose(g, node, x):
    return g.op("Transpose", [x], perm=[int(a) for a in node.fn.params["axes"]])


def broadcast_to(g, node, x):
    # Expand broadcasts both ways, so a 1 keeps the input's size on that axis: writing 1 where
    # the input already has the output's size lets the batch axis follow the input at run time
    # instead of fixing the traced batch size
    in_shape, shape = node.fn.inputs[0].shape, list(node.shape)
    lead = len(shape) - len(in_shape)               # new axes come first
    for axis, size in enumerate(in_shape):
        if size == shape[lead + axis]:
            shape[lead + axis] = 1
    return g.op("Expand", [x, g.ints(shape, "shape")])


def matmul(g, node, a, b):
    return g.op("MatMul", _cast_all(g, node, [a, b]))


def topk(g, node, x):
    # ONNX TopK, sorted, the lower position first among equal elements, as ours; sort is the
    # TopK of the whole axis, its length read from x's shape at run time (the batch axis too)
    params = node.fn.params
    axis, k = params["axis"], params["k"]
    n = node.fn.inputs[0].shape[axis]
    if not params["sorted"] and 1 < k < n:
        raise ValueError(
            f"onnx.export: topk with sorted=False (module {node.module!r}) gives numpy."
            f"argpartition's order, which ONNX TopK does not reproduce; expected sorted=True; "
            f"pass sorted=True to ops.topk")
    if k == n:
        count = g.op("Gather", [g.op("Shape", [x]), g.ints([axis], "axis")], axis=0)
    else:
        count = g.ints([k], "k")
    values = g.op("TopK", [x, count], axis=axis, largest=int(params["largest"]), sorted=1)
    positions = g._unique(f"{g.nodes[-1].name}_output_1")
    g.nodes[-1].output.append(positions)
    indices = vars(node.fn).get("returned_indices")     # topk's indices (sort returns none)
    if indices is not None:             # ops indexing with them read the positions
        g.returned_array(indices, positions, g.is_batched(node))
    return values


def einsum(g, node, *operands):
    # the subscripts as the op kept them: explicit, each "..." already letters of its own
    return g.op("Einsum", _cast_all(g, node, list(operands)),
                equation=node.fn.params["subscripts"])


def linear(g, node, x, w, b):
    x, w, b = _cast_all(g, node, [x, w, b])
    if node.fn.inputs[0].ndim == 2:     # y = x W^T + b in one Gemm
        return g.op("Gemm", [x, w] + ([b] if b else []), transB=1)
    out = g.op("MatMul", [x, g.op("Transpose", [w], perm=[1, 0])])    # (..., in) @ (in, out)
    return g.op("Add", [out, b]) if b else out


def conv2d(g, node, x, w, b):
    x, w, b = _cast_all(g, node, [x, w, b])
    params, kernel = node.fn.params, list(node.fn.inputs[1].shape[2:])
    ph, pw = _pair(params.get("padding", 0))
    return g.op("Conv", [x, w] + ([b] if b else []), kernel_shape=kernel,
                strides=_pair(params.get("stride", 1)), pads=[ph, pw, ph, pw],
                dilations=_pair(params.get("dilation", 1)))


def conv_transpose2d(g, node, x, w, b):
    x, w, b = _cast_all(g, node, [x, w, b])
    params, kernel = node.fn.params, list(node.fn.inputs[1].shape[2:])
    pads, strides = _pair(params.get("padding", 0)), _pair(params.get("stride", 1))
    extra, dilations = _pair(params.get("output_padding", 0)), _pair(params.get("dilation", 1))
    if extra[0] < strides[0] and extra[1] < strides[1]:
        return g.op("ConvTranspose", [x, w] + ([b] if b else []), kernel_shape=kernel,
                    strides=strides, pads=pads + pads, output_padding=extra, dilations=dilations)
    # output_padding >= stride, which a dilation allows but ONNX Runtime refuses: its rows and
    # columns come off the end padding instead, and those past the whole result are zeros
    ends = [max(p - e, 0) for p, e in zip(pads, extra, strict=True)]
    beyond = [max(e - p, 0) for p, e in zip(pads, extra, strict=True)]
    out = g.op("ConvTranspose", [x, w], kernel_shape=kernel, strides=strides, pads=pads + ends,
               dilations=dilations)
    if any(beyond):
        out = g.op("Pad", [out, g.ints([0, 0, 0, 0, 0, 0, *beyond], "pads")], mode="constant")
    if b:
        out = g.op("Add", [out, g.op("Reshape", [b, g.ints([-1, 1, 1], "shape")])])
    return out


def _pool_ceil_mode(g, node, kernel, stride, pads) -> dict:
    """{"ceil_mode": 1} for a pool whose ceil_mode adds a window at the end, else {} (where
    rounding down gives the same windows, with ceil_mode=True too). ONNX Runtime counts the
    windows as PyTorch, none starting in the end padding; ONNX's shape inference does so from
    opset 22 on, and before it counts one more wherever that rule removes one."""
    if not node.fn.params.get("ceil_mode", False):
        return {}
    sizes, counts = node.fn.inputs[0].shape[2:], list(node.shape[2:])
    spans = [n + 2 * p - k for n, k, p in zip(sizes, kernel, pads, strict=True)]
    if counts == [span // s + 1 for span, s in zip(spans, stride, strict=True)]:
        return {}
    rounded_up = [-(-span // s) + 1 for span, s in zip(spans, stride, strict=True)]
    if g.opset < 22 and counts != rounded_up:
        raise ValueError(
            f"onnx.export: {node.fn.name} with ceil_mode=True (module {node.module!r}) has "
            f"{_by(counts)} windows on its {_by(sizes)} input, as PyTorch, "
            f"where ONNX's shape inference before opset 22 counts {_by(rounded_up)} "
            f"(it lets a last window start in the end padding), but the export "
            f"asked for opset {g.opset}; expected opset >= 22; pass opset=22 (or later) to "
            f"tc.onnx.export")
    return {"ceil_mode": 1}


def _by(sizes) -> str:
    """Sizes as messages show them: 3x2."""
    return "x".join(map(str, sizes))


def max_pool2d(g, node, x):
    params = node.fn.params
    kernel = _pair(params.get("kernel_size", 2))
    stride = kernel if params.get("stride") is None else _pair(params["stride"])
    ph, pw = _pair(params.get("padding", 0))
    dilation = _pair(params.get("dilation", 1))
    # the window counts of a dilated kernel are those of its span D*(K - 1) + 1
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    extra = {} if dilation == [1, 1] else {"dilations": dilation}
    # ONNX's MaxPool leaves the padding out of every maximum, as our -inf padding never wins,
    # and out of the windows that ceil_mode lets hang past it
    out = g.op("MaxPool", [x], kernel_shape=kernel, strides=stride, pads=[ph, pw, ph, pw],
               **extra, **_pool_ceil_mode(g, node, spans, stride, [ph, pw]))
    indices = vars(node.fn).get("returned_indices")     # max_pool2d(..., return_indices=True)
    if indices is not None:
        _pool_indices(g, node, indices)
    return out


def _pool_indices(g, node, indices) -> None:
    """The indices Value that max_pool2d(return_indices=True) returned with `node`, from the
    MaxPool node just added (its second output, Indices): ONNX's flatten the whole (N, C, H, W)
    input, (n*C + c)*H*W + h*W + w, ours (PyTorch's) each (H, W) plane: the remainder mod H*W,
    reshaped to the indices' layout ((N, C, OL) for a 1-D pool)."""
    pool = g.nodes[-1]
    flat = g._unique(f"{pool.name}_output_1")
    pool.output.append(flat)
    plane = math.prod(node.fn.inputs[0].shape[2:])      # H*W, or D*H*W for a 3-D pool
    name = g.op("Mod", [flat, g.scalar(plane, np.int64, "plane_size")])
    if indices.shape != node.shape:
        name = g.op("Reshape", [name, g.ints([-1, *indices.shape[1:]], "shape")])
    g.names[id(indices)] = name
    g.traced[name] = indices.shape
    if g.is_batched(node):
        g.batched.add(id(indices))


def max_unpool2d(g, node, x, indices):
    value, images = node.fn.inputs[1], node.fn.inputs[0]
    if indices in {tensor.name for tensor in g.initializers}:
        raise ValueError(
            f"onnx.export: max_unpool (module {node.module!r}) takes indices of shape "
            f"{value.shape} that are a constant of the graph, not the Indices of a MaxPool "
            f"exported before it, so the file would replay this example's indices for every "
            f"input; expected indices that max_pool1d/2d/3d or nn.MaxPool1d/2d/3d"
            f"(return_indices=True) returned inside forward, from a pool whose output the "
            f"model uses before the unpool; compute them in forward with return_indices=True")
    # max_unpool3d's volumes come as (N, C, D, H*W) images, into (OD, OH*OW) planes; the
    # indices keep the pool's layout: (N, C, L) -> (N, C, 1, L), (N, C, D, H, W) -> (N, C, D, H*W)
    (n_c, h, w), (oh, ow) = images.shape[1:], node.shape[2:]
    if value.shape != images.shape:
        indices = g.op("Reshape", [indices, g.ints([-1, *images.shape[1:]], "shape")])
    # ONNX Runtime refuses an output_shape below (H - 1)*S + K, the size without padding, which
    # ours may be (padding, output_size): so the node unpools into planes of at least (H, W),
    # with kernel 1 and stride 1, whatever the pool's, at (OH', OW') = the larger of (OH, OW)
    # and (H, W), from which the (OH, OW) corner is cut
    big_h, big_w = max(oh, h), max(ow, w)
    if big_w != ow:                                     # h*OW + w -> h*OW' + w
        plane_width = g.scalar(ow, np.int64, "plane_width")
        rows = g.op("Div", [indices, plane_width])
        indices = g.op("Add", [g.op("Mul", [rows, g.scalar(big_w, np.int64, "width")]),
                               g.op("Mod", [indices, plane_width])])
    # ours index each plane, ONNX's MaxUnpool the whole (N, C, OH', OW') output: add each
    # plane's first index, (n*C + c)*OH'*OW', made for the batch at run time
    lead = g.op("Slice", [g.op("Shape", [x]), g.ints([0], "starts"), g.ints([2], "ends")])
    planes = g.reduce("ReduceProd", lead, [0], keepdims=False)                    # N*C
    first = g.op("Mul", [g.op("Range", [g.scalar(0, np.int64, "start"), planes,
                                        g.scalar(1, np.int64, "delta")]),
                         g.scalar(big_h * big_w, np.int64, "plane_size")])
    first = g.op("Reshape", [first, g.ints([-1, n_c, 1, 1], "shape")])           # (N, C, 1, 1)
    size = g.op("Concat", [lead, g.ints([big_h, big_w], "size")], axis=0)
    out = g.op("MaxUnpool", [x, g.op("Add", [indices, first]), size], kernel_shape=[1, 1],
               strides=[1, 1])
    if (big_h, big_w) != (oh, ow):
        out = g.op("Slice", [out, g.ints([0, 0], "starts"), g.ints([oh, ow], "ends"),
                             g.ints([2, 3], "axes")])
    return out


def avg_pool2d(g, node, x):
    params = node.fn.params
    kernel = _pair(params.get("kernel_size", 2))
    stride = kernel if params.get("stride") is None else _pair(params["stride"])
    ph, pw = _pair(params.get("padding", 0))
    override = params.get("divisor_override")
    # the padded zeros count in each mean, as in PyTorch's default, or not; a window that
    # ceil_mode lets hang past the padding divides by what it covers, in ONNX Runtime as ours
    out = g.op("AveragePool", [x], kernel_shape=kernel, strides=stride, pads=[ph, pw, ph, pw],
               count_include_pad=int(override is not None or params.get("count_include_pad",
                                                                          True)),
               **_pool_ceil_mode(g, node, kernel, stride, [ph, pw]))
    if override is None:
        return out
    # divisor_override: ONNX has none; the sum is that mean times its divisors d (constants of
    # the shapes), so out = mean * d / override
    d = pool.divisors(node.fn.inputs[0].shape[2:], node.shape[2:], kernel, stride, (ph, pw),
                      count_include_pad=True)
    return g.op("Mul", [out, g.constant((d / override).astype(node.dtype), "divisor_ratio")])


def adaptive_avg_pool2d(g, node, x):
    (h, w), (oh, ow) = node.fn.inputs[0].shape[2:], node.fn.params["output_size"]
    if (oh, ow) == (1, 1):
        return g.op("GlobalAveragePool", [x])
    if h % oh == 0 and w % ow == 0:     # equal bins side by side: avg_pool2d's windows
        kernel = [h // oh, w // ow]
        return g.op("AveragePool", [x], kernel_shape=kernel, strides=kernel)
    # bins of different sizes: out = A_h x A_w^T, MatMul broadcasting over (N, C) as numpy's
    a_h = g.constant(pool.bin_matrix(h, oh, node.dtype), "bins_h")             # (OH, H)
    a_w_t = g.constant(pool.bin_matrix(w, ow, node.dtype).T, "bins_w")         # (W, OW)
    return g.op("MatMul", [g.op("MatMul", [a_h, x]), a_w_t])


def adaptive_max_pool2d(g, node, x):
    return _adaptive_max_pool(g, node, x, "adaptive_max_pool2d")


def adaptive_max_pool3d(g, node, x):
    return _adaptive_max_pool(g, node, x, "adaptive_max_pool3d")


def _adaptive_max_pool(g, node, x, fn: str):
    """An adaptive max pool of images or volumes: one MaxPool where the bins tile the input,
    else the bins' maxima by axes, as the kernels take them."""
    sizes, bins = node.fn.inputs[0].shape[2:], tuple(node.fn.params["output_size"])
    indices = vars(node.fn).get("returned_indices")     # adaptive_max_pool2d/3d(return_indices)
    if all(n % o == 0 for n, o in zip(sizes, bins, strict=True)):
        kernel = [n // o for n, o in zip(sizes, bins, strict=True)]   # max_pool's windows
        out = g.op("MaxPool", [x], kernel_shape=kernel, strides=kernel)
        if indices is not None:
            _pool_indices(g, node, indices)
        return out
    if indices is not None:
        axes = AXES[len(sizes)]
        tiling = " and ".join(f"{a} % O{a} == 0" for a in axes)
        raise ValueError(
            f"onnx.export: {fn} with return_indices=True (module {node.module!r}) pools "
            f"{_by(sizes)} into {_by(bins)} bins of different sizes, and ONNX gives a maximum's "
            f"indices only from a MaxPool of equal windows; expected bins that tile the input "
            f"({tiling}); pick an output_size that divides the input's size, or pass "
            f"return_indices=False")
    # bins of different sizes, by axes as the kernels: the maximum of each bin along the last
    # axis (Slice, ReduceMax) for every row, the bins joined (Concat), then the same along the
    # axes before it
    out = x
    for axis, size, count in reversed(list(zip(range(2, 2 + len(sizes)), sizes, bins,
                                               strict=True))):
        if size == count:
            continue                    # one element a bin: nothing to pool along this axis
        starts, ends = pool_kernels.adaptive_bins(size, count)
        parts = [g.reduce("ReduceMax", g.op("Slice", [out, g.ints([start], "starts"),
                                                      g.ints([end], "ends"),
                                                      g.ints([axis], "axes")]), [axis], True)
                 for start, end in zip(starts.tolist(), ends.tolist(), strict=True)]
        out = parts[0] if len(parts) == 1 else g.op("Concat", parts, axis=axis)
    return out


def max_pool3d(g, node, x):
    params = node.fn.params
    kernel, stride = list(params["kernel_size"]), list(params["stride"])
    pads, dilation = list(params["padding"]), list(params["dilation"])
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    extra = {} if dilation == [1, 1, 1] else {"dilations": dilation}
    # as max_pool2d's: ONNX's MaxPool leaves the padding out of every maximum
    out = g.op("MaxPool", [x], kernel_shape=kernel, strides=stride, pads=pads + pads, **extra,
               **_pool_ceil_mode(g, node, spans, stride, pads))
    indices = vars(node.fn).get("returned_indices")     # max_pool3d(..., return_indices=True)
    if indices is not None:
        _pool_indices(g, node, indices)
    return out


def avg_pool3d(g, node, x):
    params = node.fn.params
    kernel, stride, pads = (list(params[k]) for k in ("kernel_size", "stride", "padding"))
    override = params["divisor_override"]
    out = g.op("AveragePool", [x], kernel_shape=kernel, strides=stride, pads=pads + pads,
               count_include_pad=int(override is not None or params["count_include_pad"]),
               **_pool_ceil_mode(g, node, kernel, stride, pads))
    if override is None:
        return out
    # as avg_pool2d's: the sum is the mean (padding counted) times its divisors d
    d = pool.divisors(node.fn.inputs[0].shape[2:], node.shape[2:], kernel, stride, pads,
                      count_include_pad=True)
    return g.op("Mul", [out, g.constant((d / override).astype(node.dtype), "divisor_ratio")])


def adaptive_avg_pool3d(g, node, x):
    (d, h, w), (od, oh, ow) = node.fn.inputs[0].shape[2:], node.fn.params["output_size"]
    if (od, oh, ow) == (1, 1, 1):
        return g.op("GlobalAveragePool", [x])
    if d % od == 0 and h % oh == 0 and w % ow == 0:     # equal bins side by side
        kernel = [d // od, h // oh, w // ow]
        return g.op("AveragePool", [x], kernel_shape=kernel, strides=kernel)
    # bins of different sizes: A_d over depth on (N, C, D, H*W), then A_h x A_w^T, as the op
    a_d = g.constant(pool.bin_matrix(d, od, node.dtype), "bins_d")             # (OD, D)
    a_h = g.constant(pool.bin_matrix(h, oh, node.dtype), "bins_h")             # (OH, H)
    a_w_t = g.constant(pool.bin_matrix(w, ow, node.dtype).T, "bins_w")         # (W, OW)
    flat = g.op("Reshape", [x, g.ints([0, 0, d, h * w], "shape")])
    deep = g.op("Reshape", [g.op("MatMul", [a_d, flat]), g.ints([0, 0, od, h, w], "shape")])
    return g.op("MatMul", [g.op("MatMul", [a_h, deep]), a_w_t])


def _axes(node) -> list[int]:
    x = node.fn.inputs[0]
    return list(checked_axes(node.fn.name.lower(), node.fn.params.get("axis"), x.shape))


def _reduce(onnx_op):
    def convert(g, node, x):
        return g.reduce(onnx_op, x, _axes(node), bool(node.fn.params.get("keepdims", False)))
    convert.__name__ = onnx_op.lower()
    return convert


def var(g, node, x, take_sqrt=False):
    # var = mean((x - mean(x))^2) * count / (count - ddof), over the reduced axes
    axes, params = _axes(node), node.fn.params
    centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, keepdims=True)])
    out = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes,
                   bool(params.get("keepdims", False)))
    ddof = int(params.get("ddof", 0))
    if ddof:
        # count is read from x's shape at run time, not taken as traced: the batch axis may be
        # among the reduced axes, and its size changes from call to call
        sizes = g.op("Gather", [g.op("Shape", [x]), g.ints(axes, "axes")], axis=0)
        count = g.cast(g.reduce("ReduceProd", sizes, [0], keepdims=False), node.dtype)
        dof = g.op("Sub", [count, g.scalar(ddof, node.dtype)])       # count - ddof
        out = g.op("Mul", [out, g.op("Div", [count, dof])])
    return g.op("Sqrt", [out]) if take_sqrt else out


def std(g, node, x):
    return var(g, node, x, take_sqrt=True)


def cumsum(g, node, x):
    axis = node.fn.params["axis"]
    if axis is None or node.fn.inputs[0].ndim == 0:   # numpy's cumsum of the flattened x
        x, axis = g.op("Reshape", [x, g.ints([-1], "shape")]), 0
    if g.opset < 14 and node.dtype == np.float16:      # CumSum takes float16 from opset 14 on
        summed = g.op("CumSum", [g.cast(x, np.float32), g.scalar(axis, np.int64, "axis")])
        return g.cast(summed, np.float16)
    return g.op("CumSum", [x, g.scalar(axis, np.int64, "axis")])   # the axis: a 0-d input


def cumprod(g, node, x):
    # ONNX has no CumProd, and e^(cumsum ln x) fails at zeros and negatives: a Scan along the
    # axis whose body multiplies the running product by the next slice, y_i = y_{i-1} x_i from
    # y_{-1} = 1 (ones of a slice's shape, read at run time), numpy's own order of products.
    # Scan reads the axis's length at run time, so the batch axis may be the one multiplied
    axis = node.fn.params["axis"]
    if axis is None or node.fn.inputs[0].ndim == 0:   # numpy's cumprod of the flattened x
        x, axis = g.op("Reshape", [x, g.ints([-1], "shape")]), 0
    axis %= node.ndim
    if node.shape[axis] == 0:           # no products (and ONNX Runtime's Scan fails on 0 steps)
        return g.op("Identity", [x])
    helper = g.onnx.helper
    slice_shape = g.op("Gather", [g.op("Shape", [x]), g.ints(
        [d for d in range(node.ndim) if d != axis], "other_axes")], axis=0)
    ones = g.op("ConstantOfShape", [slice_shape],
                value=g.onnx.numpy_helper.from_array(np.ones(1, dtype=node.dtype)))
    # the body, once per step: (product so far, x_i) -> (product, y_i), both the new product
    before, x_i, after, y_i = (g._unique(f"{g.scope}/CumProd/{name}")
                               for name in ("product_before", "x_i", "product", "y_i"))
    elem = helper.np_dtype_to_tensor_dtype(node.dtype)
    body = helper.make_graph(
        [helper.make_node("Mul", [before, x_i], [after], name=g._unique(f"{g.scope}/Mul")),
         helper.make_node("Identity", [after], [y_i], name=g._unique(f"{g.scope}/Identity"))],
        "running_product", [helper.make_tensor_value_info(name, elem, None)
                            for name in (before, x_i)],
        [helper.make_tensor_value_info(name, elem, None) for name in (after, y_i)])
    g.op("Scan", [ones, x], body=body, num_scan_inputs=1, scan_input_axes=[axis],
         scan_output_axes=[axis])       # its first output: the last product
    scan = g.nodes[-1]
    products = g._unique(f"{scan.name}_output_1")
    scan.output.append(products)
    return products


def norm(g, node, x):
    # the vector p-norm over the axes: ReduceL1 / ReduceL2, ReduceMax / ReduceMin of |x| for
    # ord +-inf, the count of nonzeros for ord 0, else (ReduceSum |x|^p)^(1/p); over no axes
    # (numpy's axis=()) each norm is |x| (ord 0: x != 0), where ONNX's empty axes would reduce all
    p, axes = node.fn.params["ord"], _axes(node)
    keepdims = bool(node.fn.params.get("keepdims", False))
    x = g.as_dtype(x, node.fn.inputs[0], node.dtype)          # an integer x: its float norm
    if p in (1, 2) and axes:
        return g.reduce("ReduceL1" if p == 1 else "ReduceL2", x, axes, keepdims)
    if p == 0:
        nonzero = g.op("Not", [g.op("Equal", [x, g.scalar(0, node.dtype)])])
        return g.reduce("ReduceSum", g.cast(nonzero, node.dtype), axes, keepdims)
    absolute = g.op("Abs", [x])
    if math.isinf(p) or p in (1, 2):
        return g.reduce("ReduceMax" if p > 0 else "ReduceMin", absolute, axes, keepdims)
    powered = g.reduce("ReduceSum", g.op("Pow", [absolute, g.scalar(p, node.dtype)]), axes,
                       keepdims)
    return g.op("Pow", [powered, g.scalar(1 / p, node.dtype)])


def softmax(g, node, x):
    return g.op("Softmax", [x], axis=int(node.fn.params.get("axis", -1)))


def log_softmax(g, node, x):
    return g.op("LogSoftmax", [x], axis=int(node.fn.params.get("axis", -1)))


def cat(g, node, *xs):
    return g.op("Concat", _cast_all(g, node, list(xs)), axis=int(node.fn.params["axis"]))


def stack(g, node, *xs):
    axis = int(node.fn.params["axis"]) % node.ndim
    axes = g.ints([axis], "axes")
    return g.op("Concat", [g.op("Unsqueeze", [x, axes]) for x in _cast_all(g, node, list(xs))],
                axis=axis)


def pad(g, node, x):
    widths = node.fn.params["pad_width"]                 # ((before, after), ...) per axis
    pads = [int(before) for before, _ in widths] + [int(after) for _, after in widths]
    mode = node.fn.params.get("mode", "constant")
    if mode != "constant":
        # ONNX's names for the copying modes; its "wrap" exists from opset 19 on
        if mode == "circular" and g.opset < 19:
            raise ValueError(
                f"onnx.export: pad with mode='circular' (module {node.module!r}) needs ONNX "
                f"Pad's mode 'wrap', which exists from opset 19 on, but the export asked for "
                f"opset {g.opset}; expected opset >= 19; pass opset=19 (or later) to "
                f"tc.onnx.export, or pad in another mode (a Conv layer's padding_mode)")
        onnx_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
        return g.op("Pad", [x, g.ints(pads, "pads")], mode=onnx_mode)
    value = g.scalar(node.fn.params.get("value", 0.0), node.dtype)
    return g.op("Pad", [x, g.ints(pads, "pads"), value], mode="constant")


def batch_norm(g, node, x, mean, var, weight, bias):
    """BatchNormalization with the running statistics; or, for a batch norm that normalises with
    the batch's own statistics in evaluation mode too (track_running_stats=False), with those
    computed in the graph from its input, as PyTorch's exporter does: ReduceMean over every axis
    but the channels, and the biased variance, the mean of the squared deviations. (The op's
    mean and var inputs then hold the example's statistics: unread_inputs.)"""
    params = node.fn.params
    channels = node.fn.inputs[0].shape[1]
    x, mean, var, weight, bias = _cast_all(g, node, [x, mean, var, weight, bias])
    if params.get("training"):
        axes = [0, *range(2, node.ndim)]                   # every axis but the channels
        mean = g.reduce("ReduceMean", x, axes, keepdims=False)                     # (C,)
        centered = g.op("Sub", [x, g.reduce("ReduceMean", x, axes, keepdims=True)])
        var = g.reduce("ReduceMean", g.op("Mul", [centered, centered]), axes, keepdims=False)
    weight = weight or g.constant(np.ones(channels, dtype=node.dtype), "scale")
    bias = bias or g.constant(np.zeros(channels, dtype=node.dtype), "bias")
    return g.op("BatchNormalization", [x, weight, bias, mean, var],
                epsilon=float(params.get("eps", 1e-5)))


def getitem(g, node, x):
    """x[index] for ints, slices, None and Ellipsis (Slice, Gather, Unsqueeze), for one
    integer array among slices (Gather along its axis), or for take_along_axis's index, one
    integer array per axis (GatherElements)."""
    index, shape = node.fn.params["index"], node.fn.inputs[0].shape
    taken = _taken_along(g, shape, index)
    if taken is not None:
        return _take_along_axis(g, node, x, *taken)
    arrays = [e for e in index if isinstance(e, np.ndarray) and e.ndim > 0]
    takes = [e for e in index if not isinstance(e, slice) and e is not None
             and e is not Ellipsis and np.ndim(e) == 0]
    if (any(getattr(e, "dtype", None) == np.bool_ for e in index) or len(arrays) > 1
            or (arrays and (takes or any(e is None for e in index)))):
        raise ValueError(
            f"onnx.export: GetItem (module {node.module!r}) with index {index!r:.100} has no "
            f"ONNX mapping; expected ints, slices, None and Ellipsis, or one integer array "
            f"among slices, or take_along_axis's index (boolean masks give shapes that depend "
            f"on the data); index with those, or use ops.where for a mask")
    used = sum(1 for e in index if e is not None and e is not Ellipsis)
    entries = []                        # Ellipsis -> the full slices it stands for
    for e in index:
        entries += [slice(None)] * (len(shape) - used) if e is Ellipsis else [e]
    entries += [slice(None)] * (len(shape) - sum(1 for e in entries if e is not None))
    starts, ends, axes, steps, gathers, new_axes = [], [], [], [], [], []
    axis = out_axis = 0                 # the entry's axis in x, and in the output
    for e in entries:
        if e is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(e, slice):
            if e != slice(None):        # a full slice needs no node (and keeps the batch)
                step = 1 if e.step is None else e.step
                first, last = (0, INT64_MAX) if step > 0 else (-1, INT64_MIN)
                starts.append(first if e.start is None else e.start)
                ends.append(last if e.stop is None else e.stop)
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:                           # an int drops the axis; an array puts its shape there
            gathers.append((axis, np.asarray(e, dtype=np.int64)))
            out_axis += np.ndim(e)
        axis += 1
    out = x
    if axes:
        out = g.op("Slice", [out, g.ints(starts, "starts"), g.ints(ends, "ends"),
                             g.ints(axes, "axes"), g.ints(steps, "steps")])
    for axis, indices in reversed(gathers):   # the last axis first: earlier axes keep place
        out = g.op("Gather", [out, g.constant(indices, "indices")], axis=axis)
    if new_axes:
        out = g.op("Unsqueeze", [out, g.ints(new_axes, "axes")])
    return out


def _taken_along(g, shape, index) -> tuple[int, np.ndarray] | None:
    """(axis, positions) when `index` is take_along_axis's (rearrange.open_mesh): one integer
    array per axis of x, each but the one on `axis` an arange(n_d) along its own axis d; None
    for any other index. The single array of a 1-D x counts only when an op returned it (a
    constant one is the plain Gather that getitem writes)."""
    ndim = len(shape)
    if ndim == 0 or len(index) != ndim or not all(
            isinstance(e, np.ndarray) and e.dtype.kind in "iu" and e.ndim == ndim for e in index):
        return None
    if ndim == 1:
        return (0, index[0]) if g.array_tensor(index[0]) is not None else None
    meshes = [e.shape == tuple(n if i == d else 1 for i in range(ndim))
              and np.array_equal(e.reshape(-1), np.arange(n))
              for d, (e, n) in enumerate(zip(index, shape, strict=True))]
    others = [d for d, mesh in enumerate(meshes) if not mesh]
    if len(others) > 1:
        return None
    if not others:                      # x taken as it is: along the op's array, if one is
        others = [next((d for d, e in enumerate(index) if g.array_tensor(e) is not None),
                       ndim - 1)]
    return others[0], index[others[0]]


def _take_along_axis(g, node, x, axis: int, positions: np.ndarray) -> str:
    # out[..., i, ...] = x[..., positions[..., i, ...], ...]: ONNX GatherElements, whose indices
    # have the output's shape (it does not broadcast), so positions are broadcast first
    # (Expand); it counts a negative index from the end (from opset 11 on), as numpy does
    source = node.fn.inputs[0]
    found = g.array_tensor(positions)
    if found is None:                   # a constant of the graph
        _warn_of_batch_sized_positions(g, node, positions)
        indices = g.constant(positions.astype(np.int64), "indices")
    else:                               # an op's output (topk's indices)
        indices = found[0]
    # Expand broadcasts both ways: a 1 keeps the indices' own size (the batch's, at run time,
    # for topk's), the output's size where they have 1; indices of size 1 on x's batch axis
    # (not the one taken along) broadcast over the batch, whatever the example's size
    sizes = [1 if p == n else n for p, n in zip(positions.shape, node.shape, strict=True)]
    over_the_batch = g.is_batched(source) and axis != 0 and positions.shape[0] == 1
    if over_the_batch or any(size != 1 for size in sizes):
        if over_the_batch:              # x's batch size, read at run time
            batch = g.op("Slice", [g.op("Shape", [x]), g.ints([0], "starts"),
                                   g.ints([1], "ends")])
            shape = g.op("Concat", [batch, g.ints(sizes[1:], "sizes")], axis=0)
        else:
            shape = g.ints(sizes, "shape")
        indices = g.op("Expand", [indices, shape])
    return g.op("GatherElements", [x, indices], axis=axis)


def _warn_of_batch_sized_positions(g, node, positions: np.ndarray) -> None:
    """Constant positions whose first axis has the batch size may have been computed from the
    example input (numpy's argsort of x.data): warn, as of any such constant."""
    if (g.guess and g.batch_size > 1 and g.is_batched(node.fn.inputs[0])
            and positions.shape[0] == g.batch_size):
        warnings.warn(
            f"onnx.export: take_along_axis (module {node.module!r}) takes constant indices of "
            f"shape {positions.shape}; their first axis has the batch size, so they may have "
            f"been computed from the example input outside the recorded ops (e.g. by numpy on "
            f"x.data, or indices of ops.topk whose values the model does not use), and the "
            f"exported model would replay them for every input; take them from ops.topk in "
            f"forward (a sorting order is ops.topk with k the axis's length and largest=False) "
            f"and use its values too: the file then computes them with that ONNX TopK",
            UserWarning, stacklevel=6)


def embedding(g, node, ids, weight):
    # weight[ids] is a Gather of rows; padding_idx changes only the gradient. Gather takes
    # int32 or int64 indices: other integer ids are cast
    if node.fn.inputs[0].dtype not in (np.int32, np.int64):
        ids = g.cast(ids, np.int64)
    rows = g.op("Gather", [weight, ids], axis=0)
    max_norm = node.fn.params.get("max_norm")
    if max_norm is None:
        return rows
    # forward rescaled the picked rows of the table in place; the file rescales the rows it
    # picks, the same numbers: rows * (max_norm / (norm + 1e-7) where norm > max_norm, else 1)
    dtype, p = node.dtype, node.fn.params["norm_type"]
    size = g.op("Abs", [rows])
    if p == math.inf:
        norm = g.reduce("ReduceMax", size, [-1], keepdims=True)
    else:
        total = g.reduce("ReduceSum", g.op("Pow", [size, g.scalar(p, dtype, "p")]), [-1],
                         keepdims=True)
        norm = g.op("Pow", [total, g.scalar(1 / p, dtype, "inverse_p")])
    limit = g.scalar(max_norm, dtype, "max_norm")
    shrink = g.op("Div", [limit, g.op("Add", [norm, g.scalar(1e-7, dtype, "epsilon")])])
    scale = g.op("Where", [g.op("Greater", [norm, limit]), shrink, g.scalar(1, dtype, "one")])
    return g.op("Mul", [rows, scale])


def unfold(g, node, x):
    # ONNX has no im2col: unfold is a gather of the padded image's pixels. Along the flattened
    # padded image (N, C, HP*WP), kernel tap k = p*KW + q of block l = i*OW + j reads pixel
    # (i*SH + p*DH)*WP + j*SW + q*DW; one Gather of that (K, L) table gives (N, C, K, L)
    params, (_, c, h, w) = node.fn.params, node.fn.inputs[0].shape
    (kh, kw), (dh, dw) = params["kernel_size"], params["dilation"]
    (ph, pw), (sh, sw) = params["padding"], params["stride"]
    oh, ow = blocks((h, w), *(params[k] for k in ("kernel_size", "dilation", "padding",
                                                       "stride")))
    width = w + 2 * pw
    if ph or pw:
        x = g.op("Pad", [x, g.ints([0, 0, ph, pw, 0, 0, ph, pw], "pads")], mode="constant")
    rows = (np.arange(oh) * sh)[None, None, :, None] + (np.arange(kh) * dh)[:, None, None, None]
    cols = (np.arange(ow) * sw)[None, None, None, :] + (np.arange(kw) * dw)[None, :, None, None]
    table = (rows * width + cols).reshape(kh * kw, oh * ow)       # (KH, KW, OH, OW) -> (K, L)
    flat = g.op("Reshape", [x, g.ints([0, c, -1], "shape")])      # (N, C, HP*WP)
    picked = g.op("Gather", [flat, g.constant(table.astype(np.int64), "blocks")], axis=2)
    return g.op("Reshape", [picked, g.ints([0, c * kh * kw, oh * ow], "shape")])


def fold(g, node, x):
    # col2im is ONNX's Col2Im from opset 18; before it, the adjoint of unfold's gather as a
    # grouped ConvTranspose whose kernels are one-hot: column row c*K + k holds tap k of channel
    # c, so the kernel of input channel c*K + k is 1 at tap k (adding 0 * x elsewhere: exact
    # for finite values)
    params, (_, rows, _) = node.fn.params, node.fn.inputs[0].shape
    (kh, kw), (h, w) = params["kernel_size"], params["output_size"]
    (ph, pw), dilation, stride = params["padding"], params["dilation"], params["stride"]
    if g.opset >= 18:
        return g.op("Col2Im", [x, g.ints([h, w], "image_shape"), g.ints([kh, kw], "block_shape")],
                    dilations=list(dilation), pads=[ph, pw, ph, pw], strides=list(stride))
    taps, channels = kh * kw, rows // (kh * kw)
    oh, ow = blocks((h, w), *(params[k] for k in ("kernel_size", "dilation", "padding",
                                                       "stride")))
    one_hot = np.tile(np.eye(taps, dtype=node.dtype).reshape(taps, 1, kh, kw), (channels, 1, 1, 1))
    images = g.op("Reshape", [x, g.ints([0, rows, oh, ow], "shape")])   # (N, C*K, OH, OW)
    # ConvTranspose's size is (O - 1)*S - 2P + D(K - 1) + 1 + output_padding: add what reaches H
    extra = [n - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for n, o, s, p, d, k
             in zip((h, w), (oh, ow), stride, (ph, pw), dilation, (kh, kw), strict=True)]
    return g.op("ConvTranspose", [images, g.constant(one_hot, "one_hot")], group=channels,
                kernel_shape=[kh, kw], strides=list(stride), dilations=list(dilation),
                pads=[ph, pw, ph, pw], output_padding=extra)


def gather_pixels(g, node, x, *positions):
    # input (N, C, *S) at whole-number positions (N, *OUT), 0 outside: a GatherElements along
    # the flattened S at row-major indices made from the positions (a position outside reads
    # pixel 0, which a Where then zeroes; the positions come from the grid at run time)
    (_, c, *sizes), out = node.fn.inputs[0].shape, node.shape[2:]
    dtype = node.fn.inputs[1].dtype
    zero = g.scalar(0, dtype, "zero")
    inside = None
    for p, size in zip(positions, sizes, strict=True):
        here = g.op("And", [g.op("GreaterOrEqual", [p, zero]),
                            g.op("Less", [p, g.scalar(size, dtype, "size")])])
        inside = here if inside is None else g.op("And", [inside, here])
    flat = None
    for p, size in zip(positions, sizes, strict=True):
        index = g.cast(g.op("Where", [inside, p, zero]), np.int64)
        flat = index if flat is None else g.op(
            "Add", [g.op("Mul", [flat, g.scalar(size, np.int64, "size")]), index])
    flat = g.op("Reshape", [flat, g.ints([0, 1, -1], "shape")])            # (N, 1, P)
    flat = g.op("Expand", [flat, g.ints([1, c, 1], "channels")])          # (N, C, P)
    pixels = g.op("Reshape", [x, g.ints([0, c, -1], "shape")])            # (N, C, prod(S))
    read = g.op("GatherElements", [pixels, flat], axis=2)
    mask = g.op("Reshape", [inside, g.ints([0, 1, -1], "shape")])
    read = g.op("Where", [mask, read, g.scalar(0, node.dtype, "zero")])
    return g.op("Reshape", [read, g.ints([0, c, *out], "shape")])         # (N, C, *OUT)


def identity(g, node, x):
    return g.op("Identity", [x])


# op class -> converter; the ONNX ops are named in each converter.
CONVERTERS = {
    elementwise.Add: _binary("Add"),
    elementwise.Sub: _binary("Sub"),
    elementwise.Mul: _binary("Mul"),
    elementwise.Div: _binary("Div"),
    elementwise.Pow: pow_,
    elementwise.Power: _binary("Pow"),
    elementwise.Neg: _unary("Neg"),
    elementwise.Exp: _unary("Exp"),
    elementwise.Log: _unary("Log"),
    elementwise.Log1p: log1p,
    elementwise.Expm1: expm1,
    elementwise.Sin: _unary("Sin"),
    elementwise.Cos: _unary("Cos"),
    elementwise.Arcsin: _unary("Asin"),
    elementwise.Arccos: _unary("Acos"),
    elementwise.Arctan: _unary("Atan"),
    elementwise.Arctan2: arctan2,
    elementwise.Tan: _unary("Tan"),
    elementwise.Sinh: _unary("Sinh"),
    elementwise.Cosh: _unary("Cosh"),
    elementwise.Arcsinh: _unary("Asinh"),
    elementwise.Arccosh: _unary("Acosh"),
    elementwise.Arctanh: _unary("Atanh"),
    elementwise.LogAddExp: logaddexp,
    elementwise.Floor: _unary("Floor"),
    elementwise.Ceil: _unary("Ceil"),
    elementwise.Trunc: trunc,
    elementwise.Rint: _unary("Round"),
    elementwise.Round: round_,
    elementwise.Sign: _unary("Sign"),
    elementwise.FloorDivide: floor_divide,
    elementwise.Fmod: fmod,
    elementwise.Remainder: remainder,
    elementwise.Log2: log2,
    elementwise.Log10: log10,
    elementwise.Exp2: exp2,
    elementwise.Reciprocal: _unary("Reciprocal"),
    elementwise.Cbrt: cbrt,
    elementwise.Hypot: hypot,
    elementwise.Sinc: sinc,
    elementwise.Xlogy: xlogy,
    elementwise.Logit: logit,
    elementwise.Abs: _unary("Abs"),
    elementwise.Sqrt: _unary("Sqrt"),
    elementwise.Square: square,
    elementwise.Clip: clip,
    ClampedValue: clamped_value,
    elementwise.Maximum: _binary("Max"),
    elementwise.Minimum: _binary("Min"),
    elementwise.Where: where,
    elementwise.ReLU: _unary("Relu"),
    elementwise.LeakyReLU: leaky_relu,
    elementwise.PReLU: prelu,
    elementwise.ELU: elu,
    elementwise.Hardtanh: hardtanh,
    elementwise.Tanh: _unary("Tanh"),
    elementwise.Sigmoid: _unary("Sigmoid"),
    elementwise.Softplus: softplus,
    elementwise.LogSigmoid: log_sigmoid,
    elementwise.Erf: _unary("Erf"),
    elementwise.GELU: gelu,
    elementwise.SiLU: silu,
    elementwise.SELU: selu,
    elementwise.CELU: celu,
    elementwise.Mish: mish,
    elementwise.Hardswish: hardswish,
    elementwise.Hardsigmoid: hardsigmoid,
    elementwise.Softsign: _unary("Softsign"),
    elementwise.Tanhshrink: tanhshrink,
    elementwise.Softshrink: softshrink,
    elementwise.Hardshrink: hardshrink,
    elementwise.Threshold: threshold,
    elementwise.Softmin: softmin,
    shape.Reshape: reshape,
    shape.Flatten: flatten,
    shape.Transpose: transpose,
    shape.BroadcastTo: broadcast_to,
    linalg.MatMul: matmul,
    linalg.Einsum: einsum,
    matrices.Det: _unary("Det"),
    rearrange.TopK: topk,
    linalg.Linear: linear,
    conv.Conv2d: conv2d,
    conv.ConvTranspose2d: conv_transpose2d,
    pool.MaxPool2d: max_pool2d,
    pool.AvgPool2d: avg_pool2d,
    pool.AdaptiveAvgPool2d: adaptive_avg_pool2d,
    pool.MaxPool3d: max_pool3d,
    pool.AvgPool3d: avg_pool3d,
    pool.AdaptiveAvgPool3d: adaptive_avg_pool3d,
    pool.AdaptiveMaxPool2d: adaptive_max_pool2d,
    pool.AdaptiveMaxPool3d: adaptive_max_pool3d,
    pool.MaxUnpool2d: max_unpool2d,
    reduce.Sum: _reduce("ReduceSum"),
    reduce.Mean: _reduce("ReduceMean"),
    reduce.Max: _reduce("ReduceMax"),
    reduce.Min: _reduce("ReduceMin"),
    reduce.Var: var,
    reduce.Std: std,
    # ONNX Runtime's ReduceLogSumExp shifts by the maximum too: finite at 1e4 in float32
    reduce.LogSumExp: _reduce("ReduceLogSumExp"),
    reduce.CumSum: cumsum,
    reduce.CumProd: cumprod,
    reduce.Norm: norm,
    loss.Softmax: softmax,
    loss.LogSoftmax: log_softmax,
    indexing.GetItem: getitem,
    indexing.Embedding: embedding,
    indexing.Cat: cat,
    indexing.Stack: stack,
    indexing.Pad: pad,
    Unfold: unfold,
    Fold: fold,
    sampling.GatherPixels: gather_pixels,
    batchnorm.BatchNorm: batch_norm,
}

# op class -> the position of its input that holds integer ids: the only place an integer
# model input may go (exporter._check_ids_are_looked_up)
IDS_INPUT = {indexing.Embedding: 0}


def unread_inputs(node) -> tuple[int, ...]:
    """The positions of the op's inputs that its converter does not read, which the exporter
    therefore leaves out of the file: a BatchNorm with batch statistics gets them as inputs 1
    and 2, computed from the example batch, and computes them in the graph instead."""
    if type(node.fn) is batchnorm.BatchNorm and node.fn.params.get("training"):
        return (1, 2)
    return ()
