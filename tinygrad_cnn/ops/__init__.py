"""The ops: each is a `Function` (forward and backward side by side) and a lowercase function
that users call."""

from tinygrad_cnn.ops.attention import scaled_dot_product_attention
from tinygrad_cnn.ops.batchnorm import batch_norm, group_norm
from tinygrad_cnn.ops.conv import conv1d, conv2d, conv2d_weight, conv_transpose2d
from tinygrad_cnn.ops.dropout import dropout
from tinygrad_cnn.ops.elementwise import (
    abs,
    add,
    arccos,
    arcsin,
    arctan,
    arctan2,
    astype,
    clip,
    cos,
    div,
    elu,
    erf,
    exp,
    expm1,
    gelu,
    hardtanh,
    leaky_relu,
    log,
    log1p,
    log_sigmoid,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    prelu,
    relu,
    sigmoid,
    silu,
    sin,
    softplus,
    sqrt,
    square,
    sub,
    tanh,
    where,
)
from tinygrad_cnn.ops.indexing import cat, embedding, getitem, pad, split, stack
from tinygrad_cnn.ops.linalg import einsum, linear, matmul
from tinygrad_cnn.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    log_softmax,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    softmax,
)
from tinygrad_cnn.ops.pool import (
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from tinygrad_cnn.ops.reduce import (
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from tinygrad_cnn.ops.resample import interpolate
from tinygrad_cnn.ops.shape import broadcast_to, flatten, reshape, transpose

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "relu", "tanh", "sigmoid",
           "sum", "mean", "max", "reshape", "flatten", "transpose", "broadcast_to",
           "matmul", "linear", "conv2d", "max_pool2d", "softmax", "log_softmax", "cross_entropy",
           "conv_transpose2d", "conv2d_weight", "avg_pool2d", "adaptive_avg_pool2d", "nll_loss",
           "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy_with_logits", "binary_cross_entropy", "kl_div",
           "abs", "sqrt", "square", "astype", "clip", "minimum", "maximum", "where", "leaky_relu",
           "prelu", "elu", "hardtanh", "softplus", "log_sigmoid", "erf", "gelu", "silu", "sin",
           "cos", "arcsin", "arccos", "arctan", "arctan2", "log1p", "expm1",
           "min", "var", "std", "prod", "logsumexp", "cumsum", "argmax", "argmin",
           "einsum", "getitem", "embedding", "cat", "stack", "split", "pad",
           "dropout", "batch_norm", "group_norm", "conv1d", "max_pool1d", "avg_pool1d",
           "max_unpool1d", "max_unpool2d", "interpolate", "scaled_dot_product_attention"]
