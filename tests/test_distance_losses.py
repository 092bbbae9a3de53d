"""norm, the distances (normalize, cosine_similarity, pairwise_distance) and the margin,
embedding and likelihood losses: values against plain numpy formulas, gradients and second
derivatives by finite differences through a random upstream gradient (float64, several shapes
and settings, away from kinks), the kinks and zeros by hand, float32 kept, the modules' reprs
and state dicts, and every user error."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

REDUCTIONS = ["mean", "sum", "none"]


def away_from_zero(rng, shape):
    return rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def reduce(losses, reduction):
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


# x's shape, ord, axis, keepdims
NORMS = [((5,), 2, None, False), ((3, 4), 1, 1, True), ((2, 3, 4), 3, (0, 2), False),
         ((2, 3, 4), 1.5, -1, False), ((3, 4), 0.5, 0, True), ((3, 4), -2, 1, False),
         ((2, 5), math.inf, 1, False), ((2, 5), -math.inf, None, True), ((1, 1), 2, 1, False)]


@pytest.mark.parametrize("shape, order, axis, keepdims", NORMS)
def test_norm_values_and_gradients(rng, shape, order, axis, keepdims):
    x = away_from_zero(rng, shape)
    out = ops.norm(tc.Value(x), order, axis, keepdims)
    axes = tuple(range(len(shape))) if axis is None else axis
    a = np.abs(x)
    if math.isinf(order):
        expected = (a.max if order > 0 else a.min)(axis=axes, keepdims=keepdims)
    else:
        expected = (a ** order).sum(axis=axes, keepdims=keepdims) ** (1 / order)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    def fn(x):
        return ops.norm(x, order, axis, keepdims)

    assert tc.gradcheck(fn, [x])
    assert tc.gradgradcheck(fn, [x])


def test_norm_agrees_with_numpy_for_vectors_and_counts_nonzeros(rng):
    x = rng.standard_normal((4, 6))
    for order in (1, 2, 3, math.inf, -math.inf, 0.5):
        np.testing.assert_allclose(ops.norm(x, order, axis=1).data,
                                   np.linalg.norm(x, order, axis=1), rtol=1e-12)
    np.testing.assert_allclose(tc.Value(x).norm().item(), np.linalg.norm(x), rtol=1e-12)
    x[0, :3] = 0.0
    counted = ops.norm(tc.Value(x), 0, axis=1)
    np.testing.assert_array_equal(counted.data, [3, 6, 6, 6])
    (g,) = tc.grad(counted.sum(), [counted.fn.inputs[0]])
    np.testing.assert_array_equal(g.data, np.zeros((4, 6)))      # a count: no gradient


def test_norm_inf_shares_the_gradient_between_ties_with_their_signs():
    x = tc.Value(np.array([-2.0, 1.0, 2.0, 2.0]))
    ops.norm(x, math.inf).backward()
    np.testing.assert_allclose(x.grad, [-1 / 3, 0.0, 1 / 3, 1 / 3])


@pytest.mark.parametrize("order", [0.5, 1, 1.5, 2, 3, math.inf, -math.inf, -1])
def test_norm_gradient_at_zero_is_zero_not_nan(order):
    x = tc.Value(np.array([[0.0, 0.0, 0.0], [0.0, 3.0, -4.0]]))
    ops.norm(x, order, axis=1).sum().backward()
    assert not np.isnan(x.grad).any()
    np.testing.assert_array_equal(x.grad[0], 0.0)
    assert x.grad[1, 0] == 0.0
    if order == 2:
        np.testing.assert_allclose(x.grad[1], [0.0, 0.6, -0.8])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_keeps_the_dtype_and_takes_integers(dtype):
    x = tc.Value(np.array([[3, -4], [1, 0]], dtype=dtype))
    for order in (2, 1, 3, math.inf, 0, 0.5):
        out = ops.norm(x, order, axis=1)
        assert out.dtype == dtype
        out.sum().backward()
        assert x.grad is None or x.grad.dtype == dtype
    assert ops.norm(np.array([3, 4]), 2).data.dtype == np.float64
    assert ops.norm(np.array([3, 4]), 2).item() == 5.0


# the op's error, the call, what the message says
NORM_ERRORS = [
    (TypeError, lambda: ops.norm(np.ones(3), "fro"), r"norm: ord is 'fro'; expected a real "
     r"number \(a vector norm\); matrix norms \('fro', 'nuc', \.\.\.\) are "
     r"tc\.ops\.matrix_norm's"),
    (TypeError, lambda: ops.norm(np.ones(3), True), r"norm: ord is True; expected a real"),
    (ValueError, lambda: ops.norm(np.ones((2, 3)), 2, axis=2),
     r"norm: axis 2 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (ValueError, lambda: ops.norm(np.ones((2, 0)), math.inf, axis=1),
     r"norm: input of shape \(2, 0\) has no elements along axis 1"),
]


@pytest.mark.parametrize("error, call, match", NORM_ERRORS)
def test_norm_errors(error, call, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("shape, p, axis", [((3, 4), 2.0, 1), ((2, 3, 4), 1.0, -1),
                                            ((4, 3), 3.0, 0), ((2, 3, 2), 2.0, (1, 2))])
def test_normalize(rng, shape, p, axis):
    x = rng.standard_normal(shape)
    out = ops.normalize(tc.Value(x), p, axis)
    lengths = (np.abs(x) ** p).sum(axis=axis, keepdims=True) ** (1 / p)
    np.testing.assert_allclose(out.data, x / lengths, rtol=1e-12)
    assert tc.gradcheck(lambda x: ops.normalize(x, p, axis), [x])
    assert tc.gradgradcheck(lambda x: ops.normalize(x, p, axis), [x])


def test_normalize_divides_a_zero_vector_by_eps():
    x = tc.Value(np.zeros((1, 3)))
    out = ops.normalize(x, eps=1e-2)
    (out * np.array([[1.0, 2.0, 3.0]])).sum().backward()
    np.testing.assert_array_equal(out.data, 0.0)
    np.testing.assert_allclose(x.grad, [[100.0, 200.0, 300.0]])


@pytest.mark.parametrize("shape1, shape2, axis", [((3, 4), (3, 4), 1), ((3, 4), (4,), 1),
                                                  ((2, 3, 4), (3, 1), 1), ((5,), (5,), 0)])
def test_cosine_similarity(rng, shape1, shape2, axis):
    x1, x2 = rng.standard_normal(shape1), rng.standard_normal(shape2)
    a, b = np.broadcast_arrays(x1, x2)
    expected = (a * b).sum(axis) / (np.linalg.norm(a, axis=axis) * np.linalg.norm(b, axis=axis))
    np.testing.assert_allclose(ops.cosine_similarity(x1, x2, axis).data, expected, rtol=1e-12)
    def fn(a, b):
        return ops.cosine_similarity(a, b, axis)

    assert tc.gradcheck(fn, [x1, x2])
    assert tc.gradgradcheck(fn, [x1, x2])


@pytest.mark.parametrize("shape1, shape2, p, keepdim", [((3, 4), (3, 4), 2.0, False),
                                                        ((3, 4), (4,), 1.0, True),
                                                        ((5,), (5,), 3.0, False)])
def test_pairwise_distance(rng, shape1, shape2, p, keepdim):
    x1, x2 = rng.standard_normal(shape1), rng.standard_normal(shape2)
    expected = (np.abs(x1 - x2 + 1e-6) ** p).sum(-1, keepdims=keepdim) ** (1 / p)
    out = ops.pairwise_distance(x1, x2, p, keepdim=keepdim)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    def fn(a, b):
        return ops.pairwise_distance(a, b, p, keepdim=keepdim)

    assert tc.gradcheck(fn, [x1, x2])
    assert tc.gradgradcheck(fn, [x1, x2])


DISTANCE_ERRORS = [
    (lambda: ops.cosine_similarity(np.ones((3, 4)), np.ones((2, 4))),
     r"cosine_similarity: x1 has shape \(3, 4\) and x2 has shape \(2, 4\), which do not "
     r"broadcast together; expected"),
    (lambda: ops.cosine_similarity(np.ones(3), np.ones(3), axis=1),
     r"cosine_similarity: axis 1 is out of range; expected an int in \[-1, 1\) for an input "
     r"of shape \(3,\)$"),
    (lambda: ops.pairwise_distance(np.ones((3, 4)), np.ones((3, 5))),
     r"pairwise_distance: x1 has shape \(3, 4\) and x2 has shape \(3, 5\), which do not "
     r"broadcast"),
    (lambda: ops.pairwise_distance(np.ones(3), np.ones(3), eps=-1.0),
     r"pairwise_distance: eps is -1.0; expected a number >= 0"),
    (lambda: ops.normalize(np.ones(3), p="fro", axis=0), r"normalize: p is 'fro'; expected a "
     r"real number"),
]


@pytest.mark.parametrize("call, match", DISTANCE_ERRORS)
def test_distance_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def signs(rng, shape):
    return rng.choice([-1.0, 1.0], shape)


def hinge(z):
    return np.maximum(z, 0.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, margin", [((6,), 0.0), ((2, 3), 0.5)])
def test_margin_ranking_loss(rng, shape, margin, reduction):
    x1, x2, t = away_from_zero(rng, shape), away_from_zero(rng, shape), signs(rng, shape)
    x2 = np.where(np.abs(-t * (x1 - x2) + margin) < 1e-3, x2 + 0.1, x2)   # away from the kink
    out = ops.margin_ranking_loss(x1, x2, t, margin, reduction)
    np.testing.assert_allclose(out.data, reduce(hinge(-t * (x1 - x2) + margin), reduction))
    def fn(a, b, t):
        return ops.margin_ranking_loss(a, b, t, margin, reduction)

    assert tc.gradcheck(fn, [x1, x2, t])
    assert tc.gradgradcheck(fn, [x1, x2, t])


def test_margin_ranking_loss_counts_a_met_margin_as_active():
    x1, x2, t = tc.Value(np.array([1.5])), tc.Value(np.array([1.0])), tc.Value(np.array([1.0]))
    ops.margin_ranking_loss(x1, x2, t, margin=0.5).backward()
    assert (x1.grad, x2.grad, t.grad) == (-1.0, 1.0, -0.5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_embedding_loss(rng, margin, reduction):
    x = rng.uniform(0.0, 2.0, 8)
    x = np.where(np.abs(x - margin) < 1e-2, x + 0.1, x)
    t = np.array([1.0, -1.0, 1, -1, 0, 1, -1, 0])
    expected = np.where(t != 1, hinge(margin - x), 0) + np.where(t != -1, x, 0)
    np.testing.assert_allclose(ops.hinge_embedding_loss(x, t, margin, reduction).data,
                               reduce(expected, reduction))
    def fn(x):
        return ops.hinge_embedding_loss(x, t, margin, reduction)

    assert tc.gradcheck(fn, [x])
    assert tc.gradgradcheck(fn, [x])
    x = tc.Value(np.array([margin]))                       # the margin met: active
    ops.hinge_embedding_loss(x, np.array([-1]), margin).backward()
    assert x.grad == -1.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 2)])
def test_soft_margin_loss(rng, shape, reduction):
    x, t = rng.standard_normal(shape) * 2, signs(rng, shape)
    np.testing.assert_allclose(ops.soft_margin_loss(x, t, reduction).data,
                               reduce(np.log1p(np.exp(-t * x)), reduction), rtol=1e-12)
    def fn(x, t):
        return ops.soft_margin_loss(x, t, reduction)

    assert tc.gradcheck(fn, [x, t])
    assert tc.gradgradcheck(fn, [x, t])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_margin_loss_is_finite_for_any_input(dtype):
    x = tc.Value(np.array([-1e4, 1e4, -800.0], dtype=dtype))
    loss = ops.soft_margin_loss(x, np.ones(3, dtype=dtype), "sum")
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1e4 + 800.0, rtol=1e-6)
    np.testing.assert_allclose(x.grad, [-1.0, 0.0, -1.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, margin", [((4, 5), 0.0), ((5,), 0.3), ((3, 2), -0.2)])
def test_cosine_embedding_loss(rng, shape, margin, reduction):
    x1, x2 = rng.standard_normal(shape), rng.standard_normal(shape)
    t = signs(rng, shape[:-1])
    axis = len(shape) - 1
    cos = (x1 * x2).sum(axis) / np.sqrt(((x1 ** 2).sum(axis) + 1e-12)
                                        * ((x2 ** 2).sum(axis) + 1e-12))
    expected = np.where(t == 1, 1 - cos, hinge(cos - margin))
    def fn(a, b):
        return ops.cosine_embedding_loss(a, b, t, margin, reduction)

    np.testing.assert_allclose(fn(x1, x2).data, reduce(expected, reduction), rtol=1e-12)
    assert tc.gradcheck(fn, [x1, x2])
    assert tc.gradgradcheck(fn, [x1, x2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("settings", [{}, {"p": 1.0, "margin": 0.5}, {"swap": True},
                                      {"p": 3.0, "eps": 1e-3, "swap": True}], ids=str)
def test_triplet_margin_loss(rng, settings, reduction):
    a, p, n = (rng.standard_normal((4, 3)) for _ in range(3))
    order, eps = settings.get("p", 2.0), settings.get("eps", 1e-6)

    def d(x, y):
        return (np.abs(x - y + eps) ** order).sum(-1) ** (1 / order)

    d_neg = np.minimum(d(a, n), d(p, n)) if settings.get("swap") else d(a, n)
    expected = hinge(settings.get("margin", 1.0) + d(a, p) - d_neg)
    def fn(a, p, n):
        return ops.triplet_margin_loss(a, p, n, reduction=reduction, **settings)

    np.testing.assert_allclose(fn(a, p, n).data, reduce(expected, reduction), rtol=1e-12)
    assert tc.gradcheck(fn, [a, p, n])
    assert tc.gradgradcheck(fn, [a, p, n])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape, weighted", [((4, 3), False), ((4, 3), True), ((5,), True)])
def test_multilabel_soft_margin_loss(rng, shape, weighted, reduction):
    x, t = rng.standard_normal(shape) * 2, rng.random(shape)
    w = rng.uniform(0.5, 2.0, shape[-1]) if weighted else None
    s = 1 / (1 + np.exp(-x))
    terms = -(t * np.log(s) + (1 - t) * np.log(1 - s)) * (1 if w is None else w)
    def fn(x, t):
        return ops.multilabel_soft_margin_loss(x, t, w, reduction)

    np.testing.assert_allclose(fn(x, t).data, reduce(terms.mean(-1), reduction), rtol=1e-12)
    assert tc.gradcheck(fn, [x, t])
    assert tc.gradgradcheck(fn, [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p, margin, weighted", [(1, 1.0, False), (2, 1.0, True),
                                                 (1, 0.5, True), (2, 2.0, False)])
@pytest.mark.parametrize("shape", [(5, 4), (4,)])
def test_multi_margin_loss(rng, shape, p, margin, weighted, reduction):
    x = rng.standard_normal(shape)
    y = rng.integers(0, shape[-1], shape[:-1])
    w = rng.uniform(0.5, 2.0, shape[-1]) if weighted else None
    rows, ids = x.reshape(-1, shape[-1]), y.reshape(-1)
    z = margin - rows[np.arange(len(ids)), ids][:, None] + rows
    terms = np.where(np.arange(shape[-1]) == ids[:, None], 0, hinge(z) ** p)
    per = terms.sum(1) / shape[-1] * (1 if w is None else w[ids])
    def fn(x):
        return ops.multi_margin_loss(x, y, p, margin, w, reduction)

    np.testing.assert_allclose(fn(x).data, reduce(per.reshape(shape[:-1]), reduction),
                               rtol=1e-12)
    assert tc.gradcheck(fn, [x])
    assert tc.gradgradcheck(fn, [x])


def test_multi_margin_loss_sends_nothing_from_a_met_margin():
    x = tc.Value(np.array([[1.0, 0.0, 2.0]]))
    ops.multi_margin_loss(x, np.array([0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad, [[-1 / 3, 0.0, 1 / 3]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input, full", [(True, False), (False, False), (True, True),
                                             (False, True)])
def test_poisson_nll_loss(rng, log_input, full, reduction):
    x = rng.standard_normal((3, 4)) if log_input else rng.uniform(0.1, 3.0, (3, 4))
    t = rng.uniform(1.2, 5.0, (3, 4))
    t[0, :2] = [1.0, 0.5]
    expected = np.exp(x) - t * x if log_input else x - t * np.log(x + 1e-8)
    if full:
        expected = expected + np.where(t > 1, t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t), 0)
    def fn(x, t):
        return ops.poisson_nll_loss(x, t, log_input, full, reduction=reduction)

    np.testing.assert_allclose(fn(x, t).data, reduce(expected, reduction), rtol=1e-12)
    t[0, :2] = [1.1, 0.5]                         # away from the join at t = 1
    assert tc.gradcheck(fn, [x, t])
    assert tc.gradgradcheck(fn, [x, t])


def test_poisson_nll_loss_full_gives_a_target_of_0_a_nan_gradient_as_pytorch():
    x, t = tc.Value(np.zeros(2)), tc.Value(np.array([0.0, 3.0]))
    loss = ops.poisson_nll_loss(x, t, full=True, reduction="sum")
    np.testing.assert_allclose(loss.item(), 2 + 3 * np.log(3) - 3 + 0.5 * np.log(6 * np.pi))
    with np.errstate(invalid="ignore"):
        loss.backward()
    np.testing.assert_allclose(x.grad, [1.0, -2.0])
    assert np.isnan(t.grad[0]) and np.isfinite(t.grad[1])


# input's shape, var's shape (None: the number 0.7), target's shape
GAUSSIAN = [((4, 3), (4, 3), (4, 3)), ((4, 3), (4,), (4, 3)), ((2, 3, 4), (2, 1, 4), (2, 3, 4)),
            ((4, 3), None, (1, 3)), ((5,), (5,), (5,))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("shape, var_shape, t_shape", GAUSSIAN)
def test_gaussian_nll_loss(rng, shape, var_shape, t_shape, full, reduction):
    x, t = rng.standard_normal(shape), rng.standard_normal(t_shape)
    var = 0.7 if var_shape is None else rng.uniform(0.2, 2.0, var_shape)
    v = np.broadcast_to(0.7, shape) if var_shape is None else \
        var.reshape(*var_shape, 1) if var_shape == shape[:-1] else var
    expected = 0.5 * (np.log(v) + (x - t) ** 2 / v) + (0.5 * np.log(2 * np.pi) if full else 0)
    np.testing.assert_allclose(ops.gaussian_nll_loss(x, t, var, full, reduction=reduction).data,
                               reduce(expected, reduction), rtol=1e-12)
    def fn(x, t, v=var):
        return ops.gaussian_nll_loss(x, t, v, full, reduction=reduction)

    inputs = [x, t] if var_shape is None else [x, t, var]     # a number var: not an input
    assert tc.gradcheck(fn, inputs)
    assert tc.gradgradcheck(fn, inputs)


def test_gaussian_nll_loss_floors_the_variance_but_keeps_its_gradient():
    x, var = tc.Value(np.array([1.0])), tc.Value(np.array([1e-8]))
    loss = ops.gaussian_nll_loss(x, np.zeros(1), var, eps=1e-6)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 0.5 * (np.log(1e-6) + 1e6))
    np.testing.assert_allclose(var.grad, [0.5 * (1e6 - 1e12)])    # d/dv at v = eps, as PyTorch


def ones(x):
    return np.ones(x.shape, np.float32)


LOSS_CALLS = [
    ("margin_ranking_loss", lambda x: ops.margin_ranking_loss(x, x * 2, ones(x))),
    ("hinge_embedding_loss", lambda x: ops.hinge_embedding_loss(x, -ones(x))),
    ("soft_margin_loss", lambda x: ops.soft_margin_loss(x, ones(x))),
    ("cosine_embedding_loss", lambda x: ops.cosine_embedding_loss(x, x * 2, -np.ones(2))),
    ("triplet_margin_loss", lambda x: ops.triplet_margin_loss(x, x * 2, x * 3, swap=True)),
    ("multilabel_soft_margin_loss",
     lambda x: ops.multilabel_soft_margin_loss(x, ones(x), [1, 2, 3])),
    ("multi_margin_loss",
     lambda x: ops.multi_margin_loss(x, np.array([0, 2]), 2, weight=[1, 2, 3])),
    ("poisson_nll_loss", lambda x: ops.poisson_nll_loss(x, np.full(x.shape, 2), full=True)),
    ("gaussian_nll_loss", lambda x: ops.gaussian_nll_loss(x, 0 * ones(x), 0.5, True)),
    ("normalize", lambda x: ops.normalize(x).sum()),
    ("cosine_similarity", lambda x: ops.cosine_similarity(x, x * x).sum()),
]


@pytest.mark.parametrize("name, call", LOSS_CALLS, ids=[n for n, _ in LOSS_CALLS])
def test_float32_stays_float32(rng, name, call):
    x = tc.Value(rng.uniform(0.5, 1.5, (2, 3)).astype(np.float32))
    loss = call(x)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32, name


# the error, the call, what the message says
LOSS_ERRORS = [
    (ValueError, lambda: ops.margin_ranking_loss(np.ones(3), np.ones(3), np.ones(2)),
     r"margin_ranking_loss: input1 has shape \(3,\), input2 \(3,\) and target \(2,\); expected "
     r"three equal shapes \(no broadcasting, as PyTorch\)"),
    (TypeError, lambda: ops.margin_ranking_loss(np.ones(3), np.ones(3), np.ones(3), "sum"),
     r"margin_ranking_loss: margin is 'sum'; expected a real number"),
    (ValueError, lambda: ops.hinge_embedding_loss(np.ones(3), np.ones(4)),
     r"hinge_embedding_loss: input has shape \(3,\) but target has shape \(4,\); expected equal"),
    (ValueError, lambda: ops.soft_margin_loss(np.ones(3), np.ones(3), "avg"),
     r"soft_margin_loss: reduction 'avg' is not one of 'mean', 'sum', 'none'"),
    (ValueError, lambda: ops.cosine_embedding_loss(np.ones((3, 4)), np.ones((3, 4)), np.ones(4)),
     r"cosine_embedding_loss: input1 has shape \(3, 4\), input2 \(3, 4\) and target \(4,\); "
     r"expected \(N, D\) inputs with a target \(N,\)"),
    (ValueError, lambda: ops.cosine_embedding_loss(np.ones((3, 4)), np.ones((3, 5)), np.ones(3)),
     r"input1 has shape \(3, 4\), input2 \(3, 5\)"),
    (ValueError, lambda: ops.triplet_margin_loss(np.ones(3), np.ones(3), np.ones(3), margin=0),
     r"triplet_margin_loss: margin is 0; expected a margin > 0"),
    (ValueError, lambda: ops.triplet_margin_loss(np.ones((2, 3)), np.ones(3), np.ones(3)),
     r"triplet_margin_loss: anchor has shape \(2, 3\), positive \(3,\) and negative \(3,\); "
     r"expected the same number of axes"),
    (ValueError, lambda: ops.multilabel_soft_margin_loss(np.ones((2, 3)), np.ones((2, 3)),
                                                         np.ones(4)),
     r"multilabel_soft_margin_loss: weight has shape \(4,\), which does not broadcast to the "
     r"input's shape \(2, 3\)"),
    (TypeError, lambda: ops.multilabel_soft_margin_loss(np.ones((2, 3)), np.ones((2, 3)), "sum"),
     r"multilabel_soft_margin_loss: weight is 'sum', a string; expected weights or None; pass "
     r"the reduction by keyword"),
    (ValueError, lambda: ops.multi_margin_loss(np.ones((2, 3)), np.array([0, 1]), p=3),
     r"multi_margin_loss: p is 3; expected 1 or 2"),
    (ValueError, lambda: ops.multi_margin_loss(np.ones((2, 3)), np.array([0, 3])),
     r"multi_margin_loss: target values lie in \[0, 3\]; expected class ids in \[0, 3\) for 3 "
     r"classes"),
    (ValueError, lambda: ops.multi_margin_loss(np.ones((2, 3)), np.ones((2, 3), dtype=int)),
     r"multi_margin_loss: target has shape \(2, 3\) and dtype int64; expected integer class ids "
     r"of shape \(2,\), one per sample; convert one-hot rows with labels.argmax\(axis=1\)"),
    (ValueError, lambda: ops.multi_margin_loss(np.ones((2, 3, 4)), np.zeros((2, 4), int)),
     r"multi_margin_loss: input has shape \(2, 3, 4\); expected \(N, C\)"),
    (ValueError, lambda: ops.multi_margin_loss(np.ones((2, 3)), np.array([0, 1]),
                                               weight=np.ones(2)),
     r"multi_margin_loss: weight has shape \(2,\) and dtype float64; expected one number per "
     r"class, shape \(3,\)"),
    (ValueError, lambda: ops.poisson_nll_loss(np.ones(3), np.ones(3), eps=-1.0),
     r"poisson_nll_loss: eps is -1.0; expected a number >= 0"),
    (ValueError, lambda: ops.gaussian_nll_loss(np.ones((4, 3)), np.ones((4, 3)), np.ones((3, 3))),
     r"gaussian_nll_loss: var has shape \(3, 3\) but input has shape \(4, 3\); expected "
     r"\(4, 3\), \(4,\) or \(4, 3\) with one axis of size 1"),
    (ValueError, lambda: ops.gaussian_nll_loss(np.ones(3), np.ones(3), -np.ones(3)),
     r"gaussian_nll_loss: var has 3 negative entries, e.g. -1.0; expected variances >= 0"),
    (ValueError, lambda: ops.gaussian_nll_loss(np.ones(3), np.ones(3), -1.0),
     r"gaussian_nll_loss: var is -1.0; expected a variance >= 0"),
    (ValueError, lambda: ops.gaussian_nll_loss(np.ones((4, 3)), np.ones((2, 3)), 1.0),
     r"gaussian_nll_loss: input has shape \(4, 3\) but target has shape \(2, 3\); expected the "
     r"input's shape, or one that broadcasts to it"),
]


@pytest.mark.parametrize("error, call, match", LOSS_ERRORS)
def test_loss_errors(error, call, match):
    with pytest.raises(error, match=match):
        call()


# module, its settings, the repr, the op it runs with those settings, inputs
MODULES = [
    (nn.MarginRankingLoss, {}, "MarginRankingLoss()", ops.margin_ranking_loss, 3),
    (nn.MarginRankingLoss, {"margin": 0.5, "reduction": "sum"},
     "MarginRankingLoss(reduction='sum', margin=0.5)", ops.margin_ranking_loss, 3),
    (nn.HingeEmbeddingLoss, {"margin": 2.0}, "HingeEmbeddingLoss(margin=2.0)",
     ops.hinge_embedding_loss, 2),
    (nn.SoftMarginLoss, {"reduction": "none"}, "SoftMarginLoss(reduction='none')",
     ops.soft_margin_loss, 2),
    (nn.CosineEmbeddingLoss, {"margin": 0.1}, "CosineEmbeddingLoss(margin=0.1)",
     ops.cosine_embedding_loss, 3),
    (nn.TripletMarginLoss, {"p": 1.0, "swap": True}, "TripletMarginLoss(p=1.0, swap=True)",
     ops.triplet_margin_loss, 3),
    (nn.MultiLabelSoftMarginLoss, {}, "MultiLabelSoftMarginLoss()",
     ops.multilabel_soft_margin_loss, 2),
    (nn.MultiMarginLoss, {"p": 2, "margin": 0.5}, "MultiMarginLoss(p=2, margin=0.5)",
     ops.multi_margin_loss, 2),
    (nn.PoissonNLLLoss, {"log_input": False, "full": True},
     "PoissonNLLLoss(log_input=False, full=True)", ops.poisson_nll_loss, 2),
    (nn.GaussianNLLLoss, {"eps": 1e-3}, "GaussianNLLLoss(eps=0.001)", ops.gaussian_nll_loss, 3),
]


@pytest.mark.parametrize("module, settings, shown, op, n_inputs", MODULES,
                         ids=[m[2] for m in MODULES])
def test_loss_modules_show_their_settings_and_run_their_op(rng, module, settings, shown, op,
                                                           n_inputs):
    criterion = module(**settings)
    assert repr(criterion) == shown
    assert list(criterion.parameters()) == [] and dict(criterion.state_dict()) == {}
    if module is nn.MultiMarginLoss:
        inputs = [rng.standard_normal((4, 3)), rng.integers(0, 3, 4)]
    elif module in (nn.CosineEmbeddingLoss,):
        inputs = [rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), signs(rng, 4)]
    else:
        inputs = [rng.uniform(0.5, 1.5, (4, 3)) for _ in range(n_inputs)]
    reduction = settings.get("reduction", "mean")
    rest = {k: v for k, v in settings.items() if k != "reduction"}
    np.testing.assert_array_equal(criterion(*inputs).data,
                                  op(*inputs, reduction=reduction, **rest).data)


@pytest.mark.parametrize("module", [nn.MultiLabelSoftMarginLoss, nn.MultiMarginLoss])
def test_weighted_loss_modules_keep_their_weight_as_a_buffer(rng, module):
    criterion = module(weight=[1, 2, 3])
    assert list(criterion.parameters()) == []
    np.testing.assert_array_equal(criterion.state_dict()["weight"], np.float32([1, 2, 3]))
    assert criterion.state_dict()["weight"].dtype == np.float32
    x = rng.standard_normal((4, 3))
    target = rng.integers(0, 3, 4) if module is nn.MultiMarginLoss else rng.random((4, 3))
    op = ops.multi_margin_loss if module is nn.MultiMarginLoss else \
        ops.multilabel_soft_margin_loss
    weight = np.float32([1, 2, 3])
    expected = (op(x, target, weight=weight) if module is nn.MultiMarginLoss
                else op(x, target, weight))
    np.testing.assert_allclose(criterion(x, target).data, expected.data, rtol=1e-7)
    fresh = module(weight=[0, 0, 0])
    fresh.load_state_dict(criterion.state_dict())
    np.testing.assert_array_equal(fresh.weight.data, np.float32([1, 2, 3]))


MODULE_ERRORS = [
    (lambda: nn.TripletMarginLoss(margin=-1.0), ValueError,
     r"TripletMarginLoss: margin is -1.0; expected a margin > 0"),
    (lambda: nn.MultiMarginLoss(p=3), ValueError, r"MultiMarginLoss: p is 3; expected 1 or 2"),
    (lambda: nn.MarginRankingLoss(reduction="avg"), ValueError,
     r"MarginRankingLoss: reduction 'avg' is not one of"),
    (lambda: nn.GaussianNLLLoss(eps=-1.0), ValueError,
     r"GaussianNLLLoss: eps is -1.0; expected a number >= 0"),
    (lambda: nn.MultiLabelSoftMarginLoss(weight="sum"), TypeError,
     r"MultiLabelSoftMarginLoss: weight is 'sum', a string"),
    (lambda: nn.GaussianNLLLoss(True), TypeError, r"positional"),
]


@pytest.mark.parametrize("make, error, match", MODULE_ERRORS)
def test_loss_module_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
