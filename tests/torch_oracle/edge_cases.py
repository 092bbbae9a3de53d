"""What the two edge-input sweeps (test_edge_inputs.py, first derivatives, and
test_edge_second_order.py, second) share: makers of float64 inputs from a generator, constant
patterns, the non-contiguous layouts every case also runs on, numpy's reductions as PyTorch
computes them, the embedding cases and the layers both check."""

import numpy as np

from tinygrad_cnn import nn, ops


def normal(*shapes):
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def positive(*shapes):
    return lambda rng: [rng.uniform(0.5, 2.0, s) for s in shapes]


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


IDX = np.array([0, 2, 2, 0, 2])


def embedding_torch(th, ids, w, padding_idx=None):
    return th.nn.functional.embedding(t(th, ids), w, padding_idx)


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
    ("MaxPool2d-whole", lambda: nn.MaxPool2d(2), lambda th: th.nn.MaxPool2d(2), (1, 1, 2, 2)),
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
