"""norm, the distances (normalize, cosine_similarity, pairwise_distance) and the margin,
embedding and likelihood losses against PyTorch float64: the forward, the gradient of every input
PyTorch differentiates (targets included) through a random upstream gradient, and the second
derivatives -- of (gradients . v) by every input and by the upstream gradient -- with
torch.autograd.grad(create_graph=True). Also the kinks and ties: margins exactly met, tied
extreme elements of the inf-norm, norms of zero vectors, norms below eps."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
REDUCTIONS = ["mean", "sum", "none"]


def compare(torch, ours, theirs, arrays, rng, wrt=None, second_order=True, rtol=1e-10):
    """ours(*inputs) against theirs(*tensors): the forward, the gradients of the inputs at the
    positions `wrt` (default: every floating array) and, with second_order, the derivatives of
    (gradients . v) by those inputs and by the upstream gradient u. Other arrays are constants
    (class ids, targets PyTorch does not differentiate). NaN must be where PyTorch has NaN."""
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else wrt
    our_inputs = [tc.Value(a) if i in wrt else a for i, a in enumerate(arrays)]
    their_inputs = [torch.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out, their_out = ours(*our_inputs), theirs(*their_inputs)
    tight = {"rtol": rtol, "atol": 1e-12}
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **tight)
    u = tc.Value(rng.standard_normal(out.shape))
    their_u = torch.tensor(u.data, requires_grad=True)
    our_wrt, their_wrt = [our_inputs[i] for i in wrt], [their_inputs[i] for i in wrt]
    grads = tc.grad(out, our_wrt, grad_output=u, create_graph=second_order)
    their_grads = torch.autograd.grad(their_out, their_wrt, their_u, create_graph=second_order,
                                      allow_unused=True)
    for i, g, their in zip(wrt, grads, their_grads, strict=True):
        expected = np.zeros(g.shape) if their is None else their.detach().numpy()
        np.testing.assert_allclose(g.data, expected, err_msg=f"gradient of input {i}", **tight)
    if not second_order:
        return
    vectors = [rng.standard_normal(arrays[i].shape) for i in wrt]
    seconds = tc.grad(sum((g * v).sum() for g, v in zip(grads, vectors, strict=True)),
                      [*our_wrt, u])
    dot = sum((g * torch.from_numpy(v)).sum()
              for g, v in zip(their_grads, vectors, strict=True) if g is not None)
    their_seconds = torch.autograd.grad(dot, [*their_wrt, their_u], allow_unused=True)
    names = [f"input {i}" for i in wrt] + ["the upstream gradient"]
    for name, h, their in zip(names, seconds, their_seconds, strict=True):
        expected = np.zeros(h.shape) if their is None else their.numpy(force=True)
        np.testing.assert_allclose(h.data, expected, err_msg=f"second derivative by {name}",
                                   **tight)


# x's shape, ord, axis, keepdims
NORMS = [((5,), 2, None, False), ((3, 4), 2, 1, False), ((3, 4), 1, 0, True),
         ((2, 3, 4), 3, (0, 2), False), ((2, 3, 4), 1.5, -1, True), ((3, 4), 0.5, 1, False),
         ((3, 4), -1, 1, False), ((2, 5), math.inf, 1, False), ((2, 5), -math.inf, None, True),
         ((4, 3), 4, None, False), ((3, 4), 2.5, (0, 1), True), ((2, 3), 0, 1, False)]


@pytest.mark.parametrize("shape, order, axis, keepdims", NORMS)
def test_norm_matches_vector_norm(torch, rng, shape, order, axis, keepdims):
    x = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)   # away from 0
    compare(torch, lambda x: ops.norm(x, order, axis, keepdims),
            lambda x: torch.linalg.vector_norm(x, order, axis, keepdims), [x], rng,
            second_order=order != 0)    # ord 0: a count, no gradient of any order


@pytest.mark.parametrize("order", [math.inf, -math.inf])
def test_norm_inf_splits_the_gradient_between_ties_as_pytorch(torch, rng, order):
    """|x| ties at the extreme, with opposite signs: each gets sign(x) g / k."""
    x = np.array([[-2.0, 2.0, 1.0, 2.0], [0.5, -0.5, 3.0, 1.0]])
    compare(torch, lambda x: ops.norm(x, order, axis=1),
            lambda x: torch.linalg.vector_norm(x, order, dim=1), [x], rng)


@pytest.mark.parametrize("order", [0.5, 1, 1.5, 2, 3, math.inf, -1, 0])
def test_norm_at_zero_has_pytorchs_zero_gradient(torch, rng, order):
    """A zero vector (row 0) and zero elements (row 1): first order only; the second derivative
    at 0 is nan or inf in PyTorch for some orders (|x|^(p-1) and ||x||^(1-p) at 0)."""
    x = np.array([[0.0, 0.0, 0.0], [0.0, -1.5, 2.0]])
    compare(torch, lambda x: ops.norm(x, order, axis=1),
            lambda x: torch.linalg.vector_norm(x, order, dim=1), [x], rng, second_order=False)
    g = tc.grad(ops.norm(tc.Value(x), order, axis=1).sum(), [tc.Value(x)])
    assert not np.isnan(g[0].data).any()


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("order", [1, math.inf, 0.5])
def test_norm_second_derivatives_where_the_norm_is_zero(torch, rng, order):
    """At a zero vector the second derivatives are PyTorch's for these orders: 0 (ord 1 and inf)
    or, by x, nan in both (ord 0.5: |x|^(p-1) and ||x||^(1-p) meet at 0)."""
    x = np.zeros((2, 3))
    compare(torch, lambda x: ops.norm(x, order, axis=1),
            lambda x: torch.linalg.vector_norm(x, order, dim=1), [x], rng)


def second_derivatives(torch, x, order):
    """Ours and PyTorch's second derivatives of norm(x, order, axis=1), by x and by the
    upstream gradient u (both of ones)."""
    ours, u = tc.Value(x), tc.Value(np.ones(len(x)))
    (g,) = tc.grad(ops.norm(ours, order, axis=1), [ours], grad_output=u, create_graph=True)
    mine = [h.data for h in tc.grad(g.sum(), [ours, u])]
    theirs, their_u = torch.tensor(x, requires_grad=True), torch.ones(len(x), requires_grad=True)
    (their_g,) = torch.autograd.grad(torch.linalg.vector_norm(theirs, order, dim=1), [theirs],
                                     their_u, create_graph=True)
    return mine, [h.numpy() for h in torch.autograd.grad(their_g.sum(), [theirs, their_u])]


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning",
                            "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("x, order", [(np.zeros((1, 3)), 2), (np.zeros((1, 3)), 3),
                                      (np.zeros((1, 3)), -1), (np.zeros((1, 3)), 4),
                                      (np.array([[0.0, 1.0, -2.0]]), 0.5),
                                      (np.array([[0.0, 1.0, -2.0]]), -1)])
def test_norm_second_derivatives_at_zero_are_0_where_pytorchs_are_nan(torch, x, order):
    """The difference from PyTorch that docs/ops.md (norm) names: at a zero vector (ord 2, 3,
    4, -1) and at a zero element (ord < 1), PyTorch's second derivatives (by x or by the
    upstream gradient) are nan -- its rule divides by the norm or by |x| before masking -- and
    ours are 0 there, the masked rule differentiated; elsewhere they agree."""
    (by_x, by_u), (their_by_x, their_by_u) = second_derivatives(torch, x, order)
    nan = np.isnan(their_by_x) | np.isnan(their_by_u).reshape(-1, 1)
    assert nan.any()
    np.testing.assert_array_equal(by_x[nan], 0.0)
    np.testing.assert_allclose(by_x[~nan], their_by_x[~nan], rtol=1e-12)
    np.testing.assert_array_equal(by_u[np.isnan(their_by_u)], 0.0)


# x's shape, p, axis
NORMALIZE = [((3, 4), 2.0, 1), ((2, 3, 4), 1.0, -1), ((4, 3), 3.0, 0), ((2, 3, 2), 2.0, (1, 2))]


@pytest.mark.parametrize("shape, p, axis", NORMALIZE)
def test_normalize(torch, rng, shape, p, axis):
    compare(torch, lambda x: ops.normalize(x, p, axis),
            lambda x: torch.nn.functional.normalize(x, p, axis), [rng.standard_normal(shape)],
            rng)


def test_normalize_below_eps_divides_by_eps(torch, rng):
    """A norm below eps (row 0) and a zero vector (row 1, first order: PyTorch's second
    derivatives are nan there, ours 0, as norm's)."""
    x = np.array([[1e-13, -2e-13, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, -2.0]])
    compare(torch, lambda x: ops.normalize(x, eps=1e-12),
            lambda x: torch.nn.functional.normalize(x, eps=1e-12), [x[[0, 2]]], rng)
    compare(torch, lambda x: ops.normalize(x, eps=1e-12),
            lambda x: torch.nn.functional.normalize(x, eps=1e-12), [x], rng, second_order=False)


# x1's shape, x2's shape, axis
COSINE = [((3, 4), (3, 4), 1), ((3, 4), (1, 4), 1), ((3, 4), (4,), 1), ((2, 3, 4), (3, 1), 1),
          ((5,), (5,), 0), ((2, 3, 4), (2, 3, 4), -1)]


@pytest.mark.parametrize("shape1, shape2, axis", COSINE)
def test_cosine_similarity(torch, rng, shape1, shape2, axis):
    compare(torch, lambda a, b: ops.cosine_similarity(a, b, axis),
            lambda a, b: torch.nn.functional.cosine_similarity(a, b, axis),
            [rng.standard_normal(shape1), rng.standard_normal(shape2)], rng)


def test_cosine_similarity_below_eps_passes_the_norms_gradient_on(torch, rng):
    """A vector shorter than eps: divided by eps, with its norm's gradient as if unclamped
    (PyTorch clamps under no_grad); a zero vector: cos 0 and gradient 0 through its norm."""
    x1 = np.array([[1e-9, 2e-9, -1e-9], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    x2 = np.array([[1.0, 0.5, 2.0], [3e-9, 0.0, 1e-9], [1.0, -1.0, 2.0]])
    compare(torch, ops.cosine_similarity, torch.nn.functional.cosine_similarity,
            [x1[:2], x2[:2]], rng, rtol=1e-9)
    # the zero vector: first order (second derivatives nan in PyTorch, 0 here, as norm's)
    compare(torch, ops.cosine_similarity, torch.nn.functional.cosine_similarity, [x1, x2], rng,
            rtol=1e-9, second_order=False)


# x1's shape, x2's shape, p, keepdim
PAIRWISE = [((3, 4), (3, 4), 2.0, False), ((3, 4), (4,), 1.0, True), ((5,), (5,), 3.0, False),
            ((2, 3, 4), (3, 4), 2.0, False), ((3, 4), (3, 4), math.inf, False),
            ((3, 4), (1, 4), 0.5, True)]


@pytest.mark.parametrize("shape1, shape2, p, keepdim", PAIRWISE)
def test_pairwise_distance(torch, rng, shape1, shape2, p, keepdim):
    compare(torch, lambda a, b: ops.pairwise_distance(a, b, p, keepdim=keepdim),
            lambda a, b: torch.nn.functional.pairwise_distance(a, b, p, keepdim=keepdim),
            [rng.standard_normal(shape1), rng.standard_normal(shape2)], rng)


def test_pairwise_distance_of_equal_inputs(torch, rng):
    x = rng.standard_normal((2, 3))
    compare(torch, ops.pairwise_distance, torch.nn.functional.pairwise_distance,
            [x, x.copy()], rng)


def signs(rng, shape):
    return rng.choice([-1.0, 1.0], shape)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss(torch, rng, reduction, margin):
    arrays = [rng.standard_normal((6,)), rng.standard_normal((6,)), signs(rng, (6,))]
    compare(torch, lambda a, b, t: ops.margin_ranking_loss(a, b, t, margin, reduction),
            lambda a, b, t: torch.nn.functional.margin_ranking_loss(a, b, t, margin,
                                                                    reduction=reduction),
            arrays, rng)


def test_margin_ranking_loss_where_the_margin_is_met(torch, rng):
    """-t (x1 - x2) + margin = 0 exactly: the hinge is active, as PyTorch's (all three inputs)."""
    x1, x2, t = np.array([1.5, 2.0, 0.0]), np.array([1.0, 2.5, 0.0]), np.array([1.0, -1.0, 1.0])
    compare(torch, lambda a, b, t: ops.margin_ranking_loss(a, b, t, 0.5, "sum"),
            lambda a, b, t: torch.nn.functional.margin_ranking_loss(a, b, t, 0.5,
                                                                    reduction="sum"),
            [x1, x2, t], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_hinge_embedding_loss(torch, rng, reduction, margin):
    """Targets 1, -1 and 0 (which gets both terms, as PyTorch's); margins met exactly too."""
    x = np.concatenate([rng.standard_normal(6), [margin, margin]])
    t = np.array([1.0, -1.0, -1.0, 1.0, 0.0, -1.0, -1.0, 0.0])
    compare(torch, lambda x, t: ops.hinge_embedding_loss(x, t, margin, reduction),
            lambda x, t: torch.nn.functional.hinge_embedding_loss(x, t, margin,
                                                                  reduction=reduction),
            [x, t], rng, wrt=[0])


@pytest.mark.parametrize("shape", [(6,), (2, 3, 4)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss(torch, rng, shape, reduction):
    """PyTorch's soft_margin_loss refuses to differentiate its target: the input only."""
    compare(torch, lambda x, t: ops.soft_margin_loss(x, t, reduction),
            lambda x, t: torch.nn.functional.soft_margin_loss(x, t, reduction=reduction),
            [rng.standard_normal(shape) * 3, signs(rng, shape)], rng, wrt=[0])


# inputs' shape, target's shape
PAIRS = [((4, 5), (4,)), ((5,), ()), ((1, 3), (1,))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, t_shape", PAIRS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding_loss(torch, rng, shape, t_shape, reduction, margin):
    t = signs(rng, t_shape)
    compare(torch, lambda a, b, t: ops.cosine_embedding_loss(a, b, t, margin, reduction),
            lambda a, b, t: torch.nn.functional.cosine_embedding_loss(a, b, t, margin,
                                                                      reduction=reduction),
            [rng.standard_normal(shape), rng.standard_normal(shape), t], rng, wrt=[0, 1])


def test_cosine_embedding_loss_at_the_margin_zero_rows_and_other_targets(torch, rng):
    """cos = margin exactly (active, as clamp_min), a zero row (cos 0 by PyTorch's 1e-12) and a
    target 0 (no loss)."""
    x1 = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 2.0], [3.0, 1.0]])
    x2 = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 1.0], [1.0, 1.0]])
    t = np.array([-1.0, 1.0, 0.0, -1.0])
    compare(torch, lambda a, b, t: ops.cosine_embedding_loss(a, b, t, 0.0, "sum"),
            lambda a, b, t: torch.nn.functional.cosine_embedding_loss(a, b, t, 0.0,
                                                                      reduction="sum"),
            [x1, x2, t], rng, wrt=[0, 1])


TRIPLET = [{}, {"margin": 0.5, "p": 1.0}, {"p": 3.0, "eps": 1e-3}, {"swap": True},
           {"swap": True, "p": 1.0, "margin": 2.0}]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("settings", TRIPLET, ids=str)
@pytest.mark.parametrize("shape", [(4, 3), (3,)])
def test_triplet_margin_loss(torch, rng, shape, settings, reduction):
    arrays = [rng.standard_normal(shape) for _ in range(3)]
    compare(torch, lambda a, p, n: ops.triplet_margin_loss(a, p, n, reduction=reduction,
                                                           **settings),
            lambda a, p, n: torch.nn.functional.triplet_margin_loss(a, p, n, reduction=reduction,
                                                                    **settings),
            arrays, rng)


def test_triplet_margin_loss_at_the_margin_and_a_swap_tie(torch, rng):
    """Row 0: margin + d+ - d- = 0 exactly (active); row 1: d(a, n) = d(p, n), the swap's tie
    (the gradient split in halves, as PyTorch's minimum)."""
    a = np.array([[0.0, 0.0], [0.0, 0.0]])
    p = np.array([[1.0, 0.0], [2.0, 0.0]])
    n = np.array([[2.0, 0.0], [1.0, 3.0]])
    compare(torch, lambda a, p, n: ops.triplet_margin_loss(a, p, n, eps=0.0, swap=True,
                                                           reduction="none"),
            lambda a, p, n: torch.nn.functional.triplet_margin_loss(a, p, n, eps=0.0, swap=True,
                                                                    reduction="none"),
            [a, p, n], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (5,)])
def test_multilabel_soft_margin_loss(torch, rng, shape, weighted, reduction):
    weight = rng.uniform(0.5, 2.0, shape[-1]) if weighted else None
    their_weight = None if weight is None else torch.from_numpy(weight)
    compare(torch, lambda x, t: ops.multilabel_soft_margin_loss(x, t, weight, reduction),
            lambda x, t: torch.nn.functional.multilabel_soft_margin_loss(
                x, t, their_weight, reduction=reduction),
            [rng.standard_normal(shape) * 2, rng.random(shape)], rng)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, margin, weighted", [(1, 1.0, False), (2, 1.0, False),
                                                 (1, 0.5, True), (2, 2.0, True)])
@pytest.mark.parametrize("shape", [(5, 4), (4,)])
def test_multi_margin_loss(torch, rng, shape, p, margin, weighted, reduction):
    """First order: PyTorch has no double backward for multi_margin_loss (gradgradcheck in
    tests/test_distance_losses.py checks ours)."""
    ids = rng.integers(0, shape[-1], shape[:-1])
    weight = rng.uniform(0.5, 2.0, shape[-1]) if weighted else None
    their_weight = None if weight is None else torch.from_numpy(weight)
    compare(torch, lambda x, y: ops.multi_margin_loss(x, y, p, margin, weight, reduction),
            lambda x, y: torch.nn.functional.multi_margin_loss(x, y, p, margin, their_weight,
                                                               reduction=reduction),
            [rng.standard_normal(shape), ids], rng, second_order=False)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss_where_the_margin_is_met(torch, rng, p):
    """margin - x_y + x_i = 0 exactly: no gradient from that term, as PyTorch's kernel."""
    x = np.array([[1.0, 0.0, 2.0], [0.5, 1.5, 0.25]])
    compare(torch, lambda x, y: ops.multi_margin_loss(x, y, p, reduction="sum"),
            lambda x, y: torch.nn.functional.multi_margin_loss(x, y, p, reduction="sum"),
            [x, np.array([0, 1])], rng, second_order=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full", [(True, False), (False, False), (True, True),
                                             (False, True)])
def test_poisson_nll_loss(torch, rng, log_input, full, reduction):
    x = rng.standard_normal((3, 4)) if log_input else rng.uniform(0.1, 3.0, (3, 4))
    t = rng.uniform(0.2, 5.0, (3, 4))
    t[0, :2] = [1.0, 0.5]                          # t <= 1: no Stirling term
    compare(torch, lambda x, t: ops.poisson_nll_loss(x, t, log_input, full,
                                                     reduction=reduction),
            lambda x, t: torch.nn.functional.poisson_nll_loss(x, t, log_input, full,
                                                              reduction=reduction),
            [x, t], rng)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_poisson_nll_loss_full_with_a_target_of_0(torch, rng):
    """The target's gradient is nan where t = 0 (0 log 0 in the masked Stirling term), as
    PyTorch's; the input's is finite. First order (PyTorch's second derivatives are nan too)."""
    compare(torch, lambda x, t: ops.poisson_nll_loss(x, t, full=True, reduction="sum"),
            lambda x, t: torch.nn.functional.poisson_nll_loss(x, t, full=True, reduction="sum"),
            [rng.standard_normal(4), np.array([0.0, 1.0, 2.0, 0.0])], rng, second_order=False)


# input's shape, var's shape (None: a number), target's shape
GAUSSIAN = [((4, 3), (4, 3), (4, 3)), ((4, 3), (4,), (4, 3)), ((4, 3), (4, 1), (4, 3)),
            ((2, 3, 4), (2, 1, 4), (2, 3, 4)), ((4, 3), None, (4, 3)), ((5,), (5,), (5,)),
            ((4, 3), (4, 3), (1, 3))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("shape, var_shape, t_shape", GAUSSIAN)
def test_gaussian_nll_loss(torch, rng, shape, var_shape, t_shape, full, reduction):
    x, t = rng.standard_normal(shape), rng.standard_normal(t_shape)
    if var_shape is None:
        compare(torch, lambda x, t: ops.gaussian_nll_loss(x, t, 0.7, full, reduction=reduction),
                lambda x, t: torch.nn.functional.gaussian_nll_loss(x, t, 0.7, full,
                                                                   reduction=reduction),
                [x, t], rng)
        return
    var = rng.uniform(0.2, 2.0, var_shape)
    compare(torch, lambda x, t, v: ops.gaussian_nll_loss(x, t, v, full, reduction=reduction),
            lambda x, t, v: torch.nn.functional.gaussian_nll_loss(x, t, v, full,
                                                                  reduction=reduction),
            [x, t, var], rng)


def test_gaussian_nll_loss_below_eps_keeps_the_variances_gradient(torch, rng):
    """var < eps: the loss uses eps, the gradient is var's own, as PyTorch's unrecorded clamp."""
    x, t = rng.standard_normal(4), rng.standard_normal(4)
    var = np.array([1e-8, 0.0, 0.5, 1e-6])
    compare(torch, lambda x, t, v: ops.gaussian_nll_loss(x, t, v, reduction="sum"),
            lambda x, t, v: torch.nn.functional.gaussian_nll_loss(x, t, v, reduction="sum"),
            [x, t, var], rng)


def pairs(rng):
    return [rng.standard_normal(5), rng.standard_normal(5), signs(rng, 5)]


MODULES = [
    ("MarginRankingLoss", {"margin": 0.2}, pairs),
    ("HingeEmbeddingLoss", {"margin": 0.5}, lambda rng: [rng.standard_normal(5), signs(rng, 5)]),
    ("SoftMarginLoss", {}, lambda rng: [rng.standard_normal(5), signs(rng, 5)]),
    ("CosineEmbeddingLoss", {"margin": 0.1},
     lambda rng: [rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), signs(rng, 3)]),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True},
     lambda rng: [rng.standard_normal((3, 4)) for _ in range(3)]),
    ("MultiLabelSoftMarginLoss", {"weight": np.array([0.5, 1.0, 2.0])},
     lambda rng: [rng.standard_normal((4, 3)), rng.random((4, 3))]),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": np.array([0.5, 1.0, 2.0])},
     lambda rng: [rng.standard_normal((4, 3)), rng.integers(0, 3, 4)]),
    ("PoissonNLLLoss", {"log_input": False, "full": True},
     lambda rng: [rng.uniform(0.5, 2.0, 5), rng.uniform(0.0, 4.0, 5)]),
    ("GaussianNLLLoss", {"full": True},
     lambda rng: [rng.standard_normal((3, 2)), rng.standard_normal((3, 2)),
                  rng.uniform(0.5, 2.0, (3, 1))]),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, settings, make", MODULES, ids=[m[0] for m in MODULES])
def test_loss_modules_match_pytorchs(torch, rng, name, settings, make, reduction):
    """The modules with PyTorch's settings: loss and gradients of the floating inputs; their
    state dicts hold the same weight buffers."""
    arrays = make(rng)
    ours = getattr(nn, name)(reduction=reduction, **settings)
    theirs = getattr(torch.nn, name)(reduction=reduction, **{
        k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in settings.items()})
    wrt = {"HingeEmbeddingLoss": [0], "SoftMarginLoss": [0],
           "CosineEmbeddingLoss": [0, 1]}.get(name)
    compare(torch, ours, theirs, arrays, rng, wrt=wrt, second_order=False)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-7)
