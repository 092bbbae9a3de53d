"""Every elementwise, reduction (cumsum and prod too), indexing (embedding too) and joining op
against PyTorch in float64: the forward, every input's gradient through a random upstream gradient,
and the second derivatives (d/d inputs of g . v, with g the first gradients) -- kinks and ties
included, where both libraries pick the same convention; logsumexp at infinities, arctan2 at the
origin."""

import numpy as np
import pytest
from edge_cases import away, normal, t
from oracle_checks import assert_equals_pytorch

import tinygrad_cnn as tc
from tinygrad_cnn import ops


def positive(*shapes):
    """Values in [0.3, 2] (the edge sweeps' positive starts at 0.5), for pow, log and sqrt."""
    return lambda rng: [rng.uniform(0.3, 2.0, s) for s in shapes]


def fixed(*arrays):
    return lambda rng: [np.array(a, dtype=np.float64) for a in arrays]


COND = np.array([[True, False, True], [False, False, True]])
MASK = np.array([True, False, True, True])
TIES = [[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [-1.0, 2.0, -1.0, 0.0]]
TAILS = [[-100.0, -30.0, -6.0, -1.3, -0.4, 0.0], [0.2, 0.7, 1.5, 6.0, 30.0, 100.0]]
IDS = np.array([[2, 0, 2], [4, 2, 0]])           # ids for a table of 5 rows, 0 and 2 repeated

# (id, make inputs from rng, ours, theirs(torch, *tensors))
CASES = [
    # elementwise, old
    ("add", normal((2, 3), (3,)), ops.add, lambda th, a, b: a + b),
    ("sub", normal((4, 1), (1, 5)), ops.sub, lambda th, a, b: a - b),
    ("mul", normal((2, 1, 4), (2, 3, 1)), ops.mul, lambda th, a, b: a * b),
    ("div", lambda rng: [rng.standard_normal((2, 3)), rng.uniform(0.5, 2, (2, 1))], ops.div,
     lambda th, a, b: a / b),
    ("pow3", normal((2, 3)), lambda x: x ** 3, lambda th, x: x ** 3),
    ("pow-1.5", positive((2, 3)), lambda x: x ** -1.5, lambda th, x: x ** -1.5),
    ("pow0", fixed([0.0, 1.5, -2.0]), lambda x: x ** 0, lambda th, x: x ** 0),
    ("pow1", fixed([0.0, 1.5, -2.0]), lambda x: x ** 1, lambda th, x: x ** 1),
    ("pow2-at-0", fixed([0.0, 1.5, -2.0]), lambda x: x ** 2, lambda th, x: x ** 2),
    ("astype", normal((2, 3)), lambda x: (x * x).astype(np.float32).astype(np.float64),
     lambda th, x: (x * x).float().double()),
    ("rpow", normal((4,)), lambda x: 2 ** x, lambda th, x: 2 ** x),
    ("neg", normal((3,)), ops.neg, lambda th, x: -x),
    ("exp", normal((2, 3)), ops.exp, lambda th, x: th.exp(x)),
    ("log", positive((2, 3)), ops.log, lambda th, x: th.log(x)),
    ("relu", fixed([-1.0, 0.0, 0.5, 2.0]), ops.relu, lambda th, x: th.relu(x)),
    ("tanh", normal((2, 3)), ops.tanh, lambda th, x: th.tanh(x)),
    ("sigmoid", fixed([-60.0, -29.7, -3.0, 0.0, 0.2, 20.0, 40.0]), ops.sigmoid,
     lambda th, x: th.sigmoid(x)),
    # elementwise, new
    ("abs", fixed([-2.0, 0.0, 0.3, 1.5]), ops.abs, lambda th, x: th.abs(x)),
    ("sqrt", positive((2, 3)), ops.sqrt, lambda th, x: th.sqrt(x)),
    ("square", normal((2, 3)), ops.square, lambda th, x: th.square(x)),
    ("clip", fixed([-1.0, -0.5, 0.0, 0.5, 0.7]), lambda x: ops.clip(x, -0.5, 0.5),
     lambda th, x: th.clamp(x, -0.5, 0.5)),
    ("clip-min", normal((2, 3)), lambda x: ops.clip(x, min=0.1),
     lambda th, x: th.clamp(x, min=0.1)),
    ("clip-max", normal((2, 3)), lambda x: ops.clip(x, max=-0.1),
     lambda th, x: th.clamp(x, max=-0.1)),
    ("minimum", normal((2, 3), (3,)), ops.minimum, lambda th, a, b: th.minimum(a, b)),
    ("maximum", normal((4, 1), (1, 5)), ops.maximum, lambda th, a, b: th.maximum(a, b)),
    ("minimum-ties", fixed([[1.0, 2.0, 3.0], [2.0, 2.0, 0.0]], [2.0, 2.0, 3.0]), ops.minimum,
     lambda th, a, b: th.minimum(a, b)),
    ("maximum-ties", fixed([[1.0, 2.0, 3.0], [2.0, 2.0, 0.0]], 2.0), ops.maximum,
     lambda th, a, b: th.maximum(a, b)),
    ("where", normal((2, 3), (3,)), lambda a, b: ops.where(COND, a, b),
     lambda th, a, b: th.where(t(th, COND), a, b)),
    ("where-broadcast", normal((2, 1), ()), lambda a, b: ops.where(COND, a * a, b * a),
     lambda th, a, b: th.where(t(th, COND), a * a, b * a)),
    ("leaky_relu", fixed([-2.0, 0.0, 0.5, 3.0]), lambda x: ops.leaky_relu(x, 0.2),
     lambda th, x: th.nn.functional.leaky_relu(x, 0.2)),
    ("leaky_relu-default", away((2, 3)), ops.leaky_relu,
     lambda th, x: th.nn.functional.leaky_relu(x)),
    ("softplus", fixed([-60.0, -20.0, -1.0, 0.0, 0.5, 20.0, 60.0]), ops.softplus,
     lambda th, x: th.logaddexp(x, th.zeros_like(x))),           # the exact log(1 + e^x)
    ("log_sigmoid", fixed([-60.0, -20.0, -1.0, 0.0, 0.5, 20.0, 60.0]), ops.log_sigmoid,
     lambda th, x: th.nn.functional.logsigmoid(x)),
    # erf, gelu and silu, tails included (first and second derivatives 0 or 1 there)
    ("erf", fixed(TAILS), ops.erf, lambda th, x: th.erf(x)),
    ("gelu", fixed(TAILS), ops.gelu, lambda th, x: th.nn.functional.gelu(x)),
    ("gelu-tanh", fixed(TAILS), lambda x: ops.gelu(x, approximate="tanh"),
     lambda th, x: th.nn.functional.gelu(x, approximate="tanh")),
    ("silu", fixed(TAILS), ops.silu, lambda th, x: th.nn.functional.silu(x)),
    # sin, cos, and log1p and expm1 near 0 and away from it
    ("sin", normal((2, 3)), ops.sin, lambda th, x: th.sin(x)),
    ("cos", fixed([-40.0, -3.0, 0.0, 1e-9, 1.5, 100.0]), ops.cos, lambda th, x: th.cos(x)),
    ("log1p", fixed([-0.999, -0.5, -1e-9, 0.0, 1e-12, 0.5, 30.0, 1e6]), ops.log1p,
     lambda th, x: th.log1p(x)),
    ("expm1", fixed([-40.0, -0.5, -1e-9, 0.0, 1e-12, 0.5, 30.0]), ops.expm1,
     lambda th, x: th.expm1(x)),
    # the inverse trigonometric functions, arctan2 in all four quadrants and at the origin
    ("arcsin", fixed([-0.99, -0.5, 0.0, 1e-9, 0.3, 0.95]), ops.arcsin, lambda th, x: th.asin(x)),
    ("arccos", fixed([-0.99, -0.5, 0.0, 1e-9, 0.3, 0.95]), ops.arccos, lambda th, x: th.acos(x)),
    ("arctan", fixed([-1e3, -2.0, -1e-9, 0.0, 0.5, 40.0]), ops.arctan, lambda th, x: th.atan(x)),
    ("arctan2", normal((2, 3), (3,)), ops.arctan2, lambda th, y, x: th.atan2(y, x)),
    ("arctan2-quadrants-and-axes", fixed([1.0, 1.0, -1.0, -1.0, 0.0, 0.0, 2.0],
                                         [1.0, -1.0, -1.0, 1.0, -2.0, 3.0, 0.0]),
     ops.arctan2, lambda th, y, x: th.atan2(y, x)),
    # reductions
    ("sum", normal((2, 3, 4)), lambda x: ops.sum(x, axis=(0, 2)),
     lambda th, x: th.sum(x, dim=(0, 2))),
    ("sum-all", normal((2, 3)), ops.sum, lambda th, x: th.sum(x)),
    ("mean", normal((2, 3, 4)), lambda x: ops.mean(x, axis=-1, keepdims=True),
     lambda th, x: th.mean(x, dim=-1, keepdim=True)),
    ("max", normal((2, 3, 4)), lambda x: ops.max(x, axis=1), lambda th, x: th.amax(x, dim=1)),
    ("max-ties", fixed(TIES), lambda x: ops.max(x, axis=1), lambda th, x: th.amax(x, dim=1)),
    ("max-all-ties", fixed(TIES), ops.max, lambda th, x: th.amax(x)),
    ("min", normal((2, 3, 4)), lambda x: ops.min(x, axis=(0, 2), keepdims=True),
     lambda th, x: th.amin(x, dim=(0, 2), keepdim=True)),
    ("min-ties", fixed(TIES), lambda x: ops.min(x, axis=0), lambda th, x: th.amin(x, dim=0)),
    ("var", normal((3, 4)), ops.var, lambda th, x: th.var(x, correction=0)),
    ("var-ddof1", normal((2, 3, 4)), lambda x: ops.var(x, axis=(0, 2), ddof=1),
     lambda th, x: th.var(x, dim=(0, 2), correction=1)),
    ("var-keepdims", normal((3, 4)), lambda x: ops.var(x, axis=0, keepdims=True),
     lambda th, x: th.var(x, dim=0, correction=0, keepdim=True)),
    ("std", normal((3, 4)), lambda x: ops.std(x, axis=1), lambda th, x: th.std(x, 1, correction=0)),
    ("std-ddof1", normal((2, 3, 4)), lambda x: ops.std(x, axis=(1, 2), keepdims=True, ddof=1),
     lambda th, x: th.std(x, dim=(1, 2), correction=1, keepdim=True)),
    ("logsumexp", normal((2, 3, 4)), lambda x: ops.logsumexp(x, axis=(0, 2)),
     lambda th, x: th.logsumexp(x, dim=(0, 2))),
    ("logsumexp-all", normal((2, 3)), ops.logsumexp,              # torch needs a dim: flatten
     lambda th, x: th.logsumexp(x.flatten(), dim=0)),
    ("logsumexp-keepdims", normal((3, 4)), lambda x: x.logsumexp(axis=-1, keepdims=True),
     lambda th, x: th.logsumexp(x, dim=-1, keepdim=True)),
    ("logsumexp-large", fixed([[1e4, 1e4 - 1.0, 0.0], [-1e4, -1e4, -3e4]]),
     lambda x: ops.logsumexp(x, axis=1), lambda th, x: th.logsumexp(x, dim=1)),
    # einsum: products, sums, broadcasting, three operands, an operand twice
    ("einsum-matmul", normal((2, 3), (3, 4)), lambda a, b: ops.einsum("ij,jk->ik", a, b),
     lambda th, a, b: th.einsum("ij,jk->ik", a, b)),
    ("einsum-attention", normal((2, 3, 4), (2, 5, 4)),
     lambda q, k: ops.einsum("bqd,bkd->bqk", q, k),
     lambda th, q, k: th.einsum("bqd,bkd->bqk", q, k)),
    ("einsum-ellipsis", normal((1, 2, 3), (4, 1, 3, 2)),
     lambda a, b: ops.einsum("...ij,...jk->...ik", a, b),
     lambda th, a, b: th.einsum("...ij,...jk->...ik", a, b)),
    ("einsum-implicit-three", normal((2, 3), (3, 4), (4,)),
     lambda a, b, c: ops.einsum("ij,jk,k", a, b, c),
     lambda th, a, b, c: th.einsum("ij,jk,k", a, b, c)),
    ("einsum-same-twice", normal((3, 2)), lambda x: ops.einsum("ij,ik->jk", x, x),
     lambda th, x: th.einsum("ij,ik->jk", x, x)),
    ("einsum-sum-and-outer", normal((2, 3), (4,)), lambda a, b: ops.einsum("ij,k->ki", a, b),
     lambda th, a, b: th.einsum("ij,k->ki", a, b)),
    ("prod", normal((2, 3, 4)), lambda x: ops.prod(x, axis=1), lambda th, x: th.prod(x, dim=1)),
    ("prod-all", normal((3, 5)), ops.prod, lambda th, x: th.prod(x)),
    ("prod-keepdims", normal((3, 7)), lambda x: x.prod(axis=-1, keepdims=True),
     lambda th, x: th.prod(x, dim=-1, keepdim=True)),
    # rows with no zero, one zero and two zeros: torch's rule for zeros, ours from Mul's
    ("prod-zeros", fixed([[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0]]),
     lambda x: ops.prod(x, axis=1), lambda th, x: th.prod(x, dim=1)),
    ("prod-zeros-axis0", fixed([[2.0, 0.0, 0.0], [0.5, 1.5, 0.0], [3.0, 2.0, 0.0]]),
     lambda x: ops.prod(x * x, axis=0), lambda th, x: th.prod(x * x, dim=0)),
    ("cumsum", normal((2, 3, 4)), lambda x: ops.cumsum(x, axis=1),
     lambda th, x: th.cumsum(x, dim=1)),
    ("cumsum-flattened", normal((2, 3)), lambda x: x.cumsum(),        # torch needs a dim
     lambda th, x: th.cumsum(x.flatten(), dim=0)),
    ("cumsum-squares", normal((3, 4)), lambda x: ops.cumsum(x * x, axis=-2),
     lambda th, x: th.cumsum(x * x, dim=-2)),
    # indexing
    ("getitem-int", normal((4, 3)), lambda x: x[-1], lambda th, x: x[-1]),
    ("getitem-slices", normal((4, 3, 5)), lambda x: x[1:3, :, ::2], lambda th, x: x[1:3, :, ::2]),
    ("getitem-negative-step", normal((4, 5)), lambda x: x[::-1, 4:0:-2],
     lambda th, x: th.flip(x, (0,))[:, [4, 2]]),
    ("getitem-none-ellipsis", normal((2, 3, 4)), lambda x: x[None, ..., 1, None],
     lambda th, x: x[None, ..., 1, None]),
    ("getitem-repeated", normal((4, 3)), lambda x: x[np.array([0, 2, 2, 0, 2])],
     lambda th, x: x[t(th, [0, 2, 2, 0, 2])]),
    ("getitem-2d-array", normal((4, 3)), lambda x: x[:, np.array([[0, 1], [1, 1]])],
     lambda th, x: x[:, t(th, [[0, 1], [1, 1]])]),
    ("getitem-mask", normal((4, 3)), lambda x: x[MASK], lambda th, x: x[t(th, MASK)]),
    ("getitem-2d-mask", normal((2, 3)), lambda x: x[COND], lambda th, x: x[t(th, COND)]),
    ("getitem-separated", normal((4, 3, 5)),
     lambda x: x[np.array([0, 3, 0]), :, np.array([4, 0, 4])],
     lambda th, x: x[t(th, [0, 3, 0]), :, t(th, [4, 0, 4])]),
    ("getitem-adjacent", normal((4, 3, 5)),
     lambda x: x[:, np.array([2, 0]), np.array([[1], [3]])],
     lambda th, x: x[:, t(th, [2, 0]), t(th, [[1], [3]])]),
    ("getitem-mask-and-array", normal((4, 3)), lambda x: x[MASK, np.array([0, 2, 2])],
     lambda th, x: x[t(th, MASK), t(th, [0, 2, 2])]),
    ("embedding", normal((5, 3)), lambda w: ops.embedding(IDS, w),
     lambda th, w: th.nn.functional.embedding(t(th, IDS), w)),
    ("embedding-0d-id", normal((5, 3)), lambda w: ops.embedding(np.array(4), w) ** 2,
     lambda th, w: th.nn.functional.embedding(t(th, 4), w) ** 2),
    ("embedding-padding", normal((5, 3)), lambda w: ops.embedding(IDS, w, padding_idx=2) ** 2,
     lambda th, w: th.nn.functional.embedding(t(th, IDS), w, padding_idx=2) ** 2),
    ("embedding-padding-negative", normal((5, 3)),
     lambda w: ops.embedding(IDS, w * w, padding_idx=-5),
     lambda th, w: th.nn.functional.embedding(t(th, IDS), w * w, padding_idx=-5)),
    # joining
    ("cat", normal((2, 3), (2, 1), (2, 4)), lambda a, b, c: ops.cat([a, b, c], axis=1),
     lambda th, a, b, c: th.cat([a, b, c], dim=1)),
    ("cat-axis0", normal((1, 3), (2, 3)), lambda a, b: ops.cat([a, b * a]),
     lambda th, a, b: th.cat([a, b * a])),
    ("stack", normal((2, 3), (2, 3)), lambda a, b: ops.stack([a, b], axis=-1),
     lambda th, a, b: th.stack([a, b], dim=-1)),
    ("split", normal((6, 2)), lambda x: ops.split(x, 3)[1] * ops.split(x, [1, 5])[1][1:3],
     lambda th, x: th.tensor_split(x, 3)[1] * th.tensor_split(x, [1, 5])[1][1:3]),
    ("split-axis1", normal((2, 6)), lambda x: ops.cat(ops.split(x, [4, 1], axis=1)[::-1], axis=1),
     lambda th, x: th.cat(th.tensor_split(x, [4, 1], dim=1)[::-1], dim=1)),
    ("pad", normal((2, 3)), lambda x: ops.pad(x * x, ((1, 0), (2, 1)), value=0.5),
     lambda th, x: th.nn.functional.pad(x * x, (2, 1, 1, 0), value=0.5)),
    ("pad-int", normal((2, 3, 2)), lambda x: ops.pad(x, 1), lambda th, x: th.nn.functional.pad(
        x, (1, 1, 1, 1, 1, 1))),
]


@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_forward_gradients_and_second_derivatives_equal_pytorch(torch, rng, make, ours, theirs):
    assert_equals_pytorch(torch, rng, make, ours, theirs)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_logsumexp_at_infinities_equals_pytorch(torch, rng):
    """A slice of -infs gives -inf and NaN gradients; a slice holding +inf gives +inf, a NaN
    gradient at the inf and 0 elsewhere; the second derivatives are NaN in both slices. The
    rule e^(x - out) is PyTorch's, and so are its NaNs (-inf - -inf, inf - inf)."""
    inf = np.inf
    test_forward_gradients_and_second_derivatives_equal_pytorch(
        torch, rng, fixed([[-inf, -inf, -inf], [inf, 1.0, -inf], [-inf, 0.0, 1.0]]),
        lambda x: ops.logsumexp(x, axis=1), lambda th, x: th.logsumexp(x, dim=1))


def test_arctan2_at_the_origin_has_pytorchs_gradient(torch, rng):
    """At (0, 0) the angle has no derivative; both libraries give 0 there (PyTorch's second
    derivative there is NaN, ours 0: docs/ops.md)."""
    y, x = np.array([0.0, 0.0, 1.0]), np.array([0.0, -0.0, 1.0])
    upstream = rng.standard_normal(3)
    values = [tc.Value(y), tc.Value(x)]
    grads = tc.grad(ops.arctan2(*values), values, grad_output=upstream)
    tensors = [torch.tensor(y, requires_grad=True), torch.tensor(x, requires_grad=True)]
    torch_grads = torch.autograd.grad(torch.atan2(*tensors), tensors, torch.tensor(upstream))
    for g, tg in zip(grads, torch_grads, strict=True):
        np.testing.assert_array_equal(g.data, tg.numpy())


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_equal_pytorch(torch, rng, name, axis):
    x = np.round(rng.standard_normal((4, 5)), 1)        # rounded: ties, the first one wins
    x[1, :] = 0.5
    expected = getattr(torch, name)(torch.tensor(x), dim=axis).numpy()
    np.testing.assert_array_equal(getattr(ops, name)(tc.Value(x), axis=axis), expected)
