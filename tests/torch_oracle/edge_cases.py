"""What the two edge-input sweeps (test_edge_inputs.py, first derivatives, and
test_edge_second_order.py, second) share: makers of float64 inputs from a generator, constant
patterns, the non-contiguous layouts every case also runs on, numpy's reductions as PyTorch
computes them, and the cases (ops, embeddings, layers) that both run."""

import numpy as np

from tinygrad_cnn import nn, ops


def normal(*shapes):
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def positive(*shapes):
    return lambda rng: [rng.uniform(0.5, 2.0, s) for s in shapes]


def above_minus_one(*shapes):
    """Values in [-0.9, 2]: inside log1p's domain x > -1, on both sides of 0."""
    return lambda rng: [rng.uniform(-0.9, 2.0, s) for s in shapes]


def inside_unit(*shapes):
    """Values in [-0.9, 0.9]: inside arcsin's and arccos's domain [-1, 1], off its ends."""
    return lambda rng: [rng.uniform(-0.9, 0.9, s) for s in shapes]


def away(*shapes):
    """Values with |x| in [0.1, 2]: away from the kinks of relu, abs and friends."""
    return lambda rng: [rng.uniform(0.1, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes]


def distinct(*shapes):
    """Values 0.1 apart in a random order: no ties for max, min, minimum, maximum, pooling."""
    def make(rng):
        counts = [int(np.prod(s)) for s in shapes]
        pool = rng.permutation(sum(counts)) * 0.1 - 1.0
        parts = np.split(pool, np.cumsum(counts)[:-1])
        return [p.reshape(s) for p, s in zip(parts, shapes, strict=True)]
    return make


def alternate(shape):
    """A fixed bool pattern of `shape` (True, False, True, ...)."""
    return np.arange(int(np.prod(shape))).reshape(tuple(shape)) % 2 == 0


def labels(n, k):
    return np.arange(n) % k


def t(torch, array):
    """A constant numpy array (a condition, an index, labels) as a torch tensor."""
    return torch.from_numpy(np.array(array))


def functional(th):
    """torch.nn.functional, for a case's PyTorch side (which receives the torch module)."""
    return th.nn.functional


IDX = np.array([0, 2, 2, 0, 2])


def embedding_torch(th, ids, w, padding_idx=None):
    return functional(th).embedding(t(th, ids), w, padding_idx)


# (name, input maker, ours, PyTorch's): the table's rows picked by fixed integer ids
EMBEDDINGS = [
    ("embedding[repeated]", normal((3, 2)), lambda w: ops.embedding(IDX, w),
     lambda th, w: embedding_torch(th, IDX, w)),
    ("embedding-padding", normal((3, 2)), lambda w: ops.embedding(IDX, w, padding_idx=2),
     lambda th, w: embedding_torch(th, IDX, w, 2)),
    ("embedding-0d-id-1-row", normal((1, 2)), lambda w: ops.embedding(np.array(0), w, 0),
     lambda th, w: embedding_torch(th, 0, w, 0)),
    ("embedding-dim-0", normal((3, 0)), lambda w: ops.embedding(IDX, w, padding_idx=-1),
     lambda th, w: embedding_torch(th, IDX, w, -1)),
]
# first derivatives only: PyTorch's double backward of embedding fails on empty ids (it
# reshapes 0 elements to (2, 0, -1)); tests/test_indexing.py checks ours with gradgradcheck
EMBEDDING_EMPTY_IDS = (
    "embedding-empty-ids", normal((3, 2)), lambda w: ops.embedding(np.zeros((2, 0), int), w),
    lambda th, w: embedding_torch(th, np.zeros((2, 0), int), w))


def reduce_torch(th, op, x, axis, keepdims):
    """numpy's reduction `op` over `axis` (None: all) as PyTorch computes it."""
    dim = tuple(range(x.ndim)) if axis is None else axis
    if op in ("var", "std"):
        return getattr(th, op)(x, dim=dim, correction=0, keepdim=keepdims)
    if x.ndim == 0:                  # torch reduces a 0-d tensor over dim=() only for sum/mean
        return x
    if op == "prod":                 # torch.prod takes one dim at a time: the last first
        for d in sorted((a % x.ndim for a in np.atleast_1d(dim)), reverse=True):
            x = th.prod(x, dim=d, keepdim=keepdims)
        return x
    name = {"max": "amax", "min": "amin"}.get(op, op)
    return getattr(th, name)(x, dim=dim, keepdim=keepdims)


def transposed(a):
    return a.T.copy().T


def negative_strides(a):
    return np.flip(np.flip(a).copy())


def broadcast(a):
    """A read-only broadcast view: a's first row repeated (the whole of a if it has no rows)."""
    return np.broadcast_to(a[:1] if a.ndim and len(a) else a, a.shape)


LAYOUTS = {"transposed": transposed, "fortran": lambda a: np.array(a, order="F"),
           "negative-strides": negative_strides, "broadcast": broadcast}

# (id, our layer, PyTorch's layer, input shape); our layers are float32, PyTorch's float64
LAYERS = [
    ("Linear-vector", lambda: nn.Linear(3, 2), lambda th: th.nn.Linear(3, 2), (3,)),
    ("Linear-empty-batch", lambda: nn.Linear(3, 2), lambda th: th.nn.Linear(3, 2), (0, 3)),
    ("Linear-no-bias-batch", lambda: nn.Linear(3, 1, bias=False),
     lambda th: th.nn.Linear(3, 1, bias=False), (2, 1, 3)),
    ("Conv2d-1x1", lambda: nn.Conv2d(1, 2, 1), lambda th: th.nn.Conv2d(1, 2, 1), (1, 1, 1, 1)),
    ("Conv2d-kernel-as-image", lambda: nn.Conv2d(2, 1, 3, padding=(1, 0)),
     lambda th: th.nn.Conv2d(2, 1, 3, padding=(1, 0)), (2, 2, 3, 3)),
    ("Conv2d-dilated-kernel-as-image", lambda: nn.Conv2d(2, 2, 2, padding=(1, 0), dilation=(2, 3)),
     lambda th: th.nn.Conv2d(2, 2, 2, padding=(1, 0), dilation=(2, 3)), (1, 2, 1, 4)),
    ("ConvTranspose2d-dilated-output-padding",
     lambda: nn.ConvTranspose2d(2, 1, 2, output_padding=1, dilation=2),
     lambda th: th.nn.ConvTranspose2d(2, 1, 2, output_padding=1, dilation=2), (1, 2, 2, 1)),
    ("Conv1d-same-one-signal", lambda: nn.Conv1d(2, 3, 3, padding="same", dilation=2),
     lambda th: th.nn.Conv1d(2, 3, 3, padding="same", dilation=2), (2, 1)),
    ("Conv1d-kernel-as-signal", lambda: nn.Conv1d(2, 1, 3, padding=1),
     lambda th: th.nn.Conv1d(2, 1, 3, padding=1), (2, 2, 1)),
    ("Conv2d-one-image-depthwise", lambda: nn.Conv2d(2, 2, 2, groups=2),
     lambda th: th.nn.Conv2d(2, 2, 2, groups=2), (2, 2, 3)),
    ("MaxPool1d-whole-one-signal", lambda: nn.MaxPool1d(3), lambda th: th.nn.MaxPool1d(3),
     (2, 3)),
    ("AvgPool1d-padded", lambda: nn.AvgPool1d(3, 1, 1), lambda th: th.nn.AvgPool1d(3, 1, 1),
     (1, 2, 2)),
    ("MaxPool2d-whole", lambda: nn.MaxPool2d(2), lambda th: th.nn.MaxPool2d(2), (1, 1, 2, 2)),
    ("MaxPool2d-one-image-padded", lambda: nn.MaxPool2d(2, 1, 1),
     lambda th: th.nn.MaxPool2d(2, 1, 1), (2, 1, 2)),
    ("AvgPool2d-padded", lambda: nn.AvgPool2d(3, 1, 1), lambda th: th.nn.AvgPool2d(3, 1, 1),
     (1, 2, 2, 2)),
    ("AdaptiveAvgPool2d-larger-than-input", lambda: nn.AdaptiveAvgPool2d((3, None)),
     lambda th: th.nn.AdaptiveAvgPool2d((3, None)), (1, 2, 2, 1)),
    ("AdaptiveAvgPool2d-global-one-image", lambda: nn.AdaptiveAvgPool2d(1),
     lambda th: th.nn.AdaptiveAvgPool2d(1), (2, 3, 3)),
    ("Softmax-empty-batch", lambda: nn.Softmax(dim=1), lambda th: th.nn.Softmax(dim=1), (0, 3)),
    ("LogSoftmax-size1-axis", lambda: nn.LogSoftmax(dim=1), lambda th: th.nn.LogSoftmax(dim=1),
     (2, 1, 3)),
    ("Flatten-empty", lambda: nn.Flatten(), lambda th: th.nn.Flatten(), (2, 0, 3)),
    ("ReLU-0d", lambda: nn.ReLU(), lambda th: th.nn.ReLU(), ()),
    ("LeakyReLU-size1", lambda: nn.LeakyReLU(0.1), lambda th: th.nn.LeakyReLU(0.1), (1,)),
    ("Tanh-0d", lambda: nn.Tanh(), lambda th: th.nn.Tanh(), ()),
    ("Sigmoid-empty", lambda: nn.Sigmoid(), lambda th: th.nn.Sigmoid(), (0, 2)),
    ("GELU-0d", lambda: nn.GELU(), lambda th: th.nn.GELU(), ()),
    ("GELU-tanh-empty", lambda: nn.GELU("tanh"), lambda th: th.nn.GELU("tanh"), (0, 3)),
    ("SiLU-size1", lambda: nn.SiLU(), lambda th: th.nn.SiLU(), (1,)),
    ("ELU-0d", lambda: nn.ELU(0.5), lambda th: th.nn.ELU(0.5), ()),
    ("Hardtanh-empty", lambda: nn.Hardtanh(-0.5, 0.7), lambda th: th.nn.Hardtanh(-0.5, 0.7),
     (0, 3)),
    ("ReLU6-size1", lambda: nn.ReLU6(), lambda th: th.nn.ReLU6(), (1,)),
    ("Softplus-beta-threshold", lambda: nn.Softplus(2.0, 1.0), lambda th: th.nn.Softplus(2.0, 1.0),
     (2, 3)),
    ("PReLU-channels", lambda: nn.PReLU(3), lambda th: th.nn.PReLU(3), (2, 3, 2)),
    ("PReLU-one-slope-0d", lambda: nn.PReLU(), lambda th: th.nn.PReLU(), ()),
    ("GroupNorm-column-images", lambda: nn.GroupNorm(2, 4), lambda th: th.nn.GroupNorm(2, 4),
     (2, 4, 3, 1)),
    ("GroupNorm-empty-batch", lambda: nn.GroupNorm(3, 3), lambda th: th.nn.GroupNorm(3, 3),
     (0, 3, 2)),
    ("Identity-0d", lambda: nn.Identity(), lambda th: th.nn.Identity(), ()),
    ("Dropout-eval", lambda: nn.Dropout(0.5).eval(), lambda th: th.nn.Dropout(0.5).eval(),
     (2, 3)),
    ("BatchNorm1d-two-rows", lambda: nn.BatchNorm1d(3), lambda th: th.nn.BatchNorm1d(3), (2, 3)),
    ("BatchNorm1d-length-1", lambda: nn.BatchNorm1d(2), lambda th: th.nn.BatchNorm1d(2),
     (3, 2, 1)),
    ("BatchNorm2d-1x1-images", lambda: nn.BatchNorm2d(2), lambda th: th.nn.BatchNorm2d(2),
     (2, 2, 1, 1)),
    ("BatchNorm2d-eval", lambda: nn.BatchNorm2d(2).eval(), lambda th: th.nn.BatchNorm2d(2).eval(),
     (1, 2, 2, 3)),
]

# (name, input maker of a shape, ours, PyTorch's): the unary ops both sweeps run at every shape
UNARY_OPS = [
    ("neg", normal, ops.neg, lambda th, x: -x),
    ("exp", normal, ops.exp, lambda th, x: th.exp(x)),
    ("log", positive, ops.log, lambda th, x: th.log(x)),
    ("relu", away, ops.relu, lambda th, x: th.relu(x)),
    ("tanh", normal, ops.tanh, lambda th, x: th.tanh(x)),
    ("sigmoid", normal, ops.sigmoid, lambda th, x: th.sigmoid(x)),
    ("abs", away, ops.abs, lambda th, x: th.abs(x)),
    ("sqrt", positive, ops.sqrt, lambda th, x: th.sqrt(x)),
    ("square", normal, ops.square, lambda th, x: th.square(x)),
    ("leaky_relu", away, lambda x: ops.leaky_relu(x, 0.2),
     lambda th, x: functional(th).leaky_relu(x, 0.2)),
    ("softplus", normal, ops.softplus, lambda th, x: functional(th).softplus(x)),
    ("log_sigmoid", normal, ops.log_sigmoid, lambda th, x: functional(th).logsigmoid(x)),
    ("erf", normal, ops.erf, lambda th, x: th.erf(x)),
    ("gelu", normal, ops.gelu, lambda th, x: functional(th).gelu(x)),
    ("gelu-tanh", normal, lambda x: ops.gelu(x, approximate="tanh"),
     lambda th, x: functional(th).gelu(x, approximate="tanh")),
    ("silu", normal, ops.silu, lambda th, x: functional(th).silu(x)),
    ("elu", normal, ops.elu, lambda th, x: functional(th).elu(x)),
    ("elu-alpha", normal, lambda x: ops.elu(x, alpha=-0.7),
     lambda th, x: functional(th).elu(x, alpha=-0.7)),
    ("hardtanh", normal, ops.hardtanh, lambda th, x: functional(th).hardtanh(x)),
    ("hardtanh-bounds", normal, lambda x: ops.hardtanh(x, 0.0, 0.5),
     lambda th, x: functional(th).hardtanh(x, 0.0, 0.5)),
    ("softplus-beta-threshold", normal, lambda x: ops.softplus(x, beta=2.0, threshold=1.0),
     lambda th, x: functional(th).softplus(x, beta=2.0, threshold=1.0)),
    ("softplus-negative-beta", normal, lambda x: ops.softplus(x, beta=-1.5, threshold=0.5),
     lambda th, x: functional(th).softplus(x, beta=-1.5, threshold=0.5)),
    ("sin", normal, ops.sin, lambda th, x: th.sin(x)),
    ("cos", normal, ops.cos, lambda th, x: th.cos(x)),
    ("arcsin", inside_unit, ops.arcsin, lambda th, x: th.asin(x)),
    ("arccos", inside_unit, ops.arccos, lambda th, x: th.acos(x)),
    ("arctan", normal, ops.arctan, lambda th, x: th.atan(x)),
    ("log1p", above_minus_one, ops.log1p, lambda th, x: th.log1p(x)),
    ("expm1", normal, ops.expm1, lambda th, x: th.expm1(x)),
    ("clip", away, lambda x: ops.clip(x, -0.5, 0.7), lambda th, x: th.clamp(x, -0.5, 0.7)),
    ("pow3", normal, lambda x: x ** 3, lambda th, x: x ** 3),
    ("pow-1.5", positive, lambda x: x ** -1.5, lambda th, x: x ** -1.5),
    ("rpow", normal, lambda x: 2 ** x, lambda th, x: 2 ** x),
    ("astype-roundtrip", normal, lambda x: (x * x).astype(np.float64).astype(x.dtype),
     lambda th, x: x * x),
]

# (name, input maker, ours, PyTorch's): the cases both sweeps run, for first and for second
# derivatives alike
SHARED_CASES = [
    ("x*x", normal((2, 3)), lambda x: x * x, lambda th, x: x * x),
    ("x/x", away((2, 3)), lambda x: x / x, lambda th, x: x / x),
    ("x@x.T", normal((2, 3)), lambda x: x @ x.T, lambda th, x: x @ x.T),
    ("stack([x,x])", normal(()), lambda x: ops.stack([x, x]), lambda th, x: th.stack([x, x])),
    ("reshape-to-0d", normal((1, 1)), lambda x: x.reshape(()), lambda th, x: x.reshape(())),
    ("reshape-empty", normal((0, 3)), lambda x: x.reshape(3, -1), lambda th, x: x.reshape(3, -1)),
    ("flatten-0d", normal(()), ops.flatten, lambda th, x: th.flatten(x)),
    ("flatten-empty", normal((2, 0, 3)), lambda x: ops.flatten(x, 1),
     lambda th, x: th.flatten(x, 1)),
    ("transpose-0d", normal(()), lambda x: x.transpose(), lambda th, x: x.permute(())),
    ("T-empty", normal((0, 3)), lambda x: x.T, lambda th, x: x.T),
    # cumsum: numpy's axis None (and a 0-d x) sums the flattened x; torch.cumsum needs a dim
    ("cumsum-0d", normal(()), ops.cumsum, lambda th, x: th.cumsum(x.flatten(), 0)),
    ("cumsum-0d-axis", normal(()), lambda x: ops.cumsum(x, axis=-1),
     lambda th, x: th.cumsum(x.flatten(), 0)),
    ("cumsum-size1-axis", normal((3, 1)), lambda x: ops.cumsum(x, axis=-1),
     lambda th, x: th.cumsum(x, -1)),
    ("cumsum-empty-axis", normal((2, 0, 3)), lambda x: ops.cumsum(x, axis=1),
     lambda th, x: th.cumsum(x, 1)),
    ("cumsum-flattened-empty", normal((0, 3)), ops.cumsum,
     lambda th, x: th.cumsum(x.flatten(), 0)),
    ("cumsum-negative-axis", normal((2, 3, 4)), lambda x: ops.cumsum(x * x, axis=-2),
     lambda th, x: th.cumsum(x * x, -2)),
    ("broadcast_to-empty", normal((1, 3)), lambda x: ops.broadcast_to(x, (0, 3)),
     lambda th, x: x.expand(0, 3)),
    ("matmul-vec-vec", normal((3,), (3,)), ops.matmul, lambda th, a, b: a @ b),
    ("matmul-empty-inner", normal((2, 0), (0, 3)), ops.matmul, lambda th, a, b: a @ b),
    ("matmul-empty-rows", normal((0, 2), (2, 3)), ops.matmul, lambda th, a, b: a @ b),
    ("matmul-mat-vec", normal((1, 3), (3,)), ops.matmul, lambda th, a, b: a @ b),
    ("matmul-vec-batch", normal((3,), (2, 3, 4)), ops.matmul, lambda th, a, b: a @ b),
    ("matmul-batch-broadcast", normal((2, 1, 3, 4), (5, 4, 2)), ops.matmul,
     lambda th, a, b: a @ b),
    ("einsum-empty-inner", normal((2, 0), (0, 3)), lambda a, b: ops.einsum("ij,jk->ik", a, b),
     lambda th, a, b: th.einsum("ij,jk->ik", a, b)),
    ("einsum-size-1-broadcast", normal((2, 1), (1, 3)), lambda a, b: ops.einsum("ij,ij->i", a, b),
     lambda th, a, b: th.einsum("ij,ij->i", a, b)),
    ("einsum-0d", normal((), (2, 3)), lambda a, b: ops.einsum(",ij->j", a, b),
     lambda th, a, b: th.einsum(",ij->j", a, b)),
    ("linear-vec", normal((3,), (2, 3), (2,)), ops.linear,
     lambda th, x, w, b: functional(th).linear(x, w, b)),
    ("linear-empty-batch", normal((0, 3), (2, 3), (2,)), ops.linear,
     lambda th, x, w, b: functional(th).linear(x, w, b)),
    ("linear-no-in", normal((2, 0), (3, 0), (3,)), ops.linear,
     lambda th, x, w, b: functional(th).linear(x, w, b)),
    ("linear-batch-no-bias", normal((2, 1, 3), (4, 3)), ops.linear,
     lambda th, x, w: functional(th).linear(x, w)),
    ("softmax-single", normal((1,)), lambda x: ops.softmax(x, axis=0),
     lambda th, x: th.softmax(x, 0)),
    ("softmax-axis0", normal((2, 3)), lambda x: ops.softmax(x, axis=0),
     lambda th, x: th.softmax(x, 0)),
    ("softmax-empty-batch", normal((0, 3)), lambda x: ops.softmax(x, axis=-1),
     lambda th, x: th.softmax(x, -1)),
    ("softmax-empty-axis", normal((2, 0)), lambda x: ops.softmax(x, axis=-1),
     lambda th, x: th.softmax(x, -1)),
    ("log_softmax-middle", normal((2, 1, 4)), lambda x: ops.log_softmax(x, axis=-2),
     lambda th, x: th.log_softmax(x, -2)),
    ("mse_loss-int-target", normal((3,)), lambda x: ops.mse_loss(x, np.array([0, 1, 2])),
     lambda th, x: functional(th).mse_loss(x, th.tensor([0.0, 1.0, 2.0]))),
    ("bce-bool-target", normal((3,)),
     lambda x: ops.binary_cross_entropy_with_logits(x, np.array([True, False, True])),
     lambda th, x: functional(th).binary_cross_entropy_with_logits(x, th.tensor([1.0, 0.0, 1.0]))),
    ("getitem-0d-none", normal(()), lambda x: x[None, ...], lambda th, x: x[None, ...]),
    ("getitem-empty-rows", normal((0, 3)), lambda x: x[:, 1], lambda th, x: x[:, 1]),
    ("getitem-empty-index", normal((3, 2)), lambda x: x[np.array([], dtype=np.int64)],
     lambda th, x: x[th.tensor([], dtype=th.int64)]),
    ("getitem-negative-step", normal((4, 3)), lambda x: x[::-2, None, -1],
     lambda th, x: th.flip(x, (0,))[::2, None, -1]),
    ("cat-one", normal((1,)), lambda a: ops.cat([a], axis=-1), lambda th, a: th.cat([a], -1)),
    ("stack-empty", normal((0, 3), (0, 3)), lambda a, b: ops.stack([a, b], axis=1),
     lambda th, a, b: th.stack([a, b], 1)),
    ("split-empty-pieces", normal((4,)), lambda x: ops.cat(ops.split(x, [0, 0, 4, 4])[::-1]),
     lambda th, x: th.cat(th.tensor_split(x, [0, 0, 4, 4])[::-1])),
    ("pad-empty", normal((0, 3)), lambda x: ops.pad(x, 1, value=0.5),
     lambda th, x: functional(th).pad(x, (1, 1, 1, 1), value=0.5)),
    ("conv2d-1x1", normal((1, 1, 1, 1), (1, 1, 1, 1), (1,)), ops.conv2d,
     lambda th, x, w, b: functional(th).conv2d(x, w, b)),
    ("conv2d-empty-batch", normal((0, 2, 4, 4), (3, 2, 3, 3), (3,)), ops.conv2d,
     lambda th, x, w, b: functional(th).conv2d(x, w, b)),
    ("conv1d-empty-batch", normal((0, 2, 4), (3, 2, 3), (3,)), ops.conv1d,
     lambda th, x, w, b: functional(th).conv1d(x, w, b)),
    ("conv2d-unbatched-1x1", normal((1, 1, 1), (2, 1, 1, 1), (2,)), ops.conv2d,
     lambda th, x, w, b: functional(th).conv2d(x, w, b)),
    ("conv_transpose2d-1x1", normal((1, 1, 1, 1), (1, 2, 1, 1)), ops.conv_transpose2d,
     lambda th, x, w: functional(th).conv_transpose2d(x, w)),
    ("max_pool2d-empty-batch", normal((0, 1, 4, 4)), ops.max_pool2d,
     lambda th, x: functional(th).max_pool2d(x, 2)),
    ("avg_pool2d-empty-batch", normal((0, 1, 4, 4)), lambda x: ops.avg_pool2d(x, 2),
     lambda th, x: functional(th).avg_pool2d(x, 2)),
    ("max_pool1d-empty-batch", normal((0, 2, 4)), lambda x: ops.max_pool1d(x, 2),
     lambda th, x: functional(th).max_pool1d(x, 2)),
    ("avg_pool1d-unbatched-padded", normal((2, 3)), lambda x: ops.avg_pool1d(x, 2, 1, 1),
     lambda th, x: functional(th).avg_pool1d(x, 2, 1, 1)),
    ("adaptive_avg_pool2d-empty-batch", normal((0, 1, 4, 5)),
     lambda x: ops.adaptive_avg_pool2d(x, (3, 2)),
     lambda th, x: functional(th).adaptive_avg_pool2d(x, (3, 2))),
    ("prelu-channels", normal((2, 3, 2), (3,)), ops.prelu,
     lambda th, x, w: functional(th).prelu(x, w)),
    ("prelu-one-slope-images", normal((2, 3, 2, 2), (1,)), ops.prelu,
     lambda th, x, w: functional(th).prelu(x, w)),
    ("prelu-0d-slope-vector", normal((4,), ()), ops.prelu,
     lambda th, x, w: functional(th).prelu(x, w)),
    ("prelu-empty-batch", normal((0, 3), (3,)), ops.prelu,
     lambda th, x, w: functional(th).prelu(x, w)),
    ("group_norm", normal((2, 6, 3), (6,), (6,)),
     lambda x, w, b: ops.group_norm(x, 3, w, b, eps=1e-3),
     lambda th, x, w, b: functional(th).group_norm(x, 3, w, b, eps=1e-3)),
    ("group_norm-rows", normal((3, 4)), lambda x: ops.group_norm(x, 2),
     lambda th, x: functional(th).group_norm(x, 2)),
    ("group_norm-one-group-images", normal((2, 2, 2, 3), (2,)),
     lambda x, w: ops.group_norm(x, 1, w),
     lambda th, x, w: functional(th).group_norm(x, 1, w)),
    ("batch_norm-train-1d", normal((2, 3), (3,), (3,)),
     lambda x, w, b: ops.batch_norm(x, weight=w, bias=b, training=True),
     lambda th, x, w, b: functional(th).batch_norm(x, None, None, w, b, training=True)),
    ("batch_norm-train-1x1-images", normal((3, 2, 1, 1)),
     lambda x: ops.batch_norm(x, training=True),
     lambda th, x: functional(th).batch_norm(x, None, None, training=True)),
    ("batch_norm-train-no-channels", normal((4, 0)), lambda x: ops.batch_norm(x, training=True),
     lambda th, x: functional(th).batch_norm(x, None, None, training=True)),
    ("batch_norm-eval-empty-batch", normal((0, 3), (3,), (3,)),
     lambda x, w, b: ops.batch_norm(x, np.full(3, 0.5, x.dtype), np.full(3, 2.0, x.dtype), w, b),
     lambda th, x, w, b: functional(th).batch_norm(x, th.full((3,), 0.5), th.full((3,), 2.0),
                                                   w, b)),
    # the losses that both sweeps run: class-id targets, then elementwise targets
    *[(f"{name}-{shape}-{reduction}", normal(shape),
       lambda x, op=name, r=reduction: getattr(ops, op)(x, labels(*x.shape), reduction=r),
       lambda th, x, op=name, r=reduction: getattr(functional(th), op)(
           x, t(th, labels(*x.shape)), reduction=r))
      for name in ["cross_entropy", "nll_loss"]
      for shape, reduction in [((1, 1), "mean"), ((1, 3), "none"), ((4, 3), "sum"),
                               ((4, 3), "mean")]],
    *[(f"{name}-{shape}-{reduction}", normal(shape, shape),
       lambda x, y, op=name, r=reduction: getattr(ops, op)(x, ops.sigmoid(y), reduction=r),
       lambda th, x, y, op=name, r=reduction: getattr(functional(th), op)(x, th.sigmoid(y),
                                                                           reduction=r))
      for name in ["mse_loss", "binary_cross_entropy_with_logits", "l1_loss", "smooth_l1_loss",
                   "huber_loss"]
      for shape, reduction in [((), "mean"), ((), "none"), ((0, 3), "sum"), ((0, 3), "none"),
                               ((1,), "mean"), ((2, 3), "none")]],
    # kl_div without "mean", for which PyTorch warns (tests/torch_oracle/test_loss_modules.py)
    *[(f"kl_div-{shape}-{reduction}", normal(shape, shape),
       lambda x, y, r=reduction: ops.kl_div(x, ops.sigmoid(y), reduction=r),
       lambda th, x, y, r=reduction: functional(th).kl_div(x, th.sigmoid(y), reduction=r))
      for shape, reduction in [((), "batchmean"), ((), "none"), ((0, 3), "sum"), ((0, 3), "none"),
                               ((1,), "batchmean"), ((2, 3), "sum")]],
]
