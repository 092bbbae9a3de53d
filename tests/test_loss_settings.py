"""The settings of cross_entropy, nll_loss and binary_cross_entropy_with_logits: class weights,
ignore_index, label smoothing, probability targets, a class per position and one unbatched
sample, pos_weight -- values against plain numpy formulas, gradcheck and second derivatives,
dtypes, the loss modules, and the errors with their fixes."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

REDUCTIONS = ["mean", "sum", "none"]


def log_softmax(z, axis=1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def plain_cross_entropy(z, ids, weight, ignore_index, smoothing, reduction):
    """PyTorch's documented formula for class ids, written out row by row for (N, K)."""
    n, k = z.shape
    w = np.ones(k) if weight is None else weight
    log_p = log_softmax(z)
    losses, total = np.zeros(n), 0.0
    for i, y in enumerate(ids):
        if y == ignore_index:
            continue
        q = np.full(k, smoothing / k)
        q[y] += 1 - smoothing
        losses[i] = -(w * q * log_p[i]).sum()
        total += w[y]
    return {"mean": losses.sum() / total, "sum": losses.sum(), "none": losses}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted, ignore_index, smoothing", [
    (False, -100, 0.0), (True, -100, 0.0), (False, 2, 0.0), (True, 0, 0.25), (False, 1, 0.1)])
def test_cross_entropy_settings_by_formula_and_gradcheck(rng, weighted, ignore_index, smoothing,
                                                         reduction):
    z, ids = rng.standard_normal((6, 4)), np.array([0, 2, 1, 3, 2, 0])
    weight = rng.uniform(0.5, 2.0, 4) if weighted else None
    kwargs = {"weight": weight, "ignore_index": ignore_index, "label_smoothing": smoothing}
    loss = ops.cross_entropy(tc.Value(z), ids, reduction, **kwargs)
    np.testing.assert_allclose(
        loss.data, plain_cross_entropy(z, ids, weight, ignore_index, smoothing, reduction),
        rtol=1e-12)
    assert tc.gradcheck(lambda v: ops.cross_entropy(v, ids, reduction, **kwargs), [z])
    assert tc.gradgradcheck(lambda v: ops.cross_entropy(v, ids, reduction, **kwargs), [z])


def test_ignored_positions_send_no_gradient_and_the_mean_counts_the_rest(rng):
    z = tc.Value(rng.standard_normal((4, 3)))
    loss = ops.cross_entropy(z, np.array([0, -100, 2, -100]))
    loss.backward()
    np.testing.assert_array_equal(z.grad[[1, 3]], 0.0)
    kept = ops.cross_entropy(z.data[[0, 2]], np.array([0, 2]))     # the mean over the two
    np.testing.assert_allclose(loss.item(), kept.item(), rtol=1e-12)


def test_a_weighted_mean_is_a_weighted_average():
    """Two samples of classes weighted 1 and 3: the mean is (l0 + 3 l1) / 4, not / 2."""
    z = np.array([[2.0, 0.0], [0.0, 1.0]])
    l0, l1 = -log_softmax(z)[[0, 1], [0, 1]]
    loss = ops.cross_entropy(z, np.array([0, 1]), weight=np.array([1.0, 3.0]))
    np.testing.assert_allclose(loss.item(), (l0 + 3 * l1) / 4, rtol=1e-12)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_probability_targets_by_formula_with_both_gradients(rng, smoothing, reduction):
    z, q = rng.standard_normal((3, 4, 2)), rng.dirichlet(np.ones(4), (3, 2)).transpose(0, 2, 1)
    weight = rng.uniform(0.5, 2.0, 4)
    losses = -(weight[:, None] * ((1 - smoothing) * q + smoothing / 4) * log_softmax(z)).sum(1)
    loss = ops.cross_entropy(tc.Value(z), q, reduction, weight=weight, label_smoothing=smoothing)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)

    def fn(v, t):
        return ops.cross_entropy(v, t, reduction, weight=weight, label_smoothing=smoothing)
    assert tc.gradcheck(fn, [z, q])
    assert tc.gradgradcheck(fn, [z, q])


def test_one_sample_unbatched_is_the_batch_of_one(rng):
    z = rng.standard_normal(5)
    for op, args in ((ops.cross_entropy, {"label_smoothing": 0.2}), (ops.nll_loss, {})):
        one = op(tc.Value(z), np.int64(3), "none", **args)
        batch = op(tc.Value(z[None]), np.array([3]), "none", **args)
        assert one.shape == () and batch.shape == (1,)
        np.testing.assert_allclose(one.item(), batch.data[0], rtol=1e-12)
        assert tc.gradgradcheck(lambda v, op=op, args=args: op(v, np.int64(3), **args), [z])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_weight_and_ignore_index(rng, reduction):
    x, ids, weight = rng.standard_normal((5, 3)), np.array([2, 0, 1, 0, 2]), np.array([1.0, 2, 3])
    loss = ops.nll_loss(tc.Value(x), ids, reduction, weight=weight, ignore_index=0)
    kept = ids != 0
    losses = np.where(kept, -weight[ids] * x[np.arange(5), ids], 0.0)
    expected = {"mean": losses.sum() / weight[ids][kept].sum(), "sum": losses.sum(),
                "none": losses}[reduction]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    assert tc.gradgradcheck(lambda v: ops.nll_loss(v, ids, reduction, weight=weight,
                                                   ignore_index=0), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_pos_weight_by_formula(rng, reduction):
    z, t = rng.standard_normal((4, 3)) * 2, rng.random((4, 3))
    weight, pos_weight = rng.uniform(0.5, 2.0, (4, 1)), np.array([0.5, 1.0, 4.0])
    s = 1 / (1 + np.exp(-z))
    losses = -weight * (pos_weight * t * np.log(s) + (1 - t) * np.log(1 - s))
    loss = ops.binary_cross_entropy_with_logits(tc.Value(z), t, reduction, weight=weight,
                                                pos_weight=pos_weight)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)

    def fn(v, u):
        return ops.binary_cross_entropy_with_logits(v, u, reduction, weight=weight,
                                                    pos_weight=pos_weight)
    assert tc.gradcheck(fn, [z, t])
    assert tc.gradgradcheck(fn, [z, t])


def test_float32_settings_stay_float32(rng):
    z = tc.Value(rng.standard_normal((4, 3, 2)).astype(np.float32))
    ids = np.array([[0, 1], [2, -100], [1, 1], [0, 2]])
    weight = np.array([1, 2, 3])                              # integers: converted, as PyTorch
    for loss in (ops.cross_entropy(z, ids, weight=weight, label_smoothing=0.1),
                 ops.cross_entropy(z, np.full((4, 3, 2), 1 / 3, np.float32)),
                 ops.nll_loss(z, ids, weight=weight),
                 ops.binary_cross_entropy_with_logits(z, np.ones((4, 3, 2), np.float32),
                                                      pos_weight=np.array([2.0, 1.0]))):
        z.grad = None
        loss.backward()
        assert loss.dtype == z.grad.dtype == np.float32


def test_modules_hold_their_settings(rng):
    loss = nn.CrossEntropyLoss(np.array([1, 2, 3]), ignore_index=0, label_smoothing=0.1)
    assert repr(loss) == "CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)"
    assert loss.weight.data.dtype == np.float32 and list(loss.state_dict()) == ["weight"]
    assert repr(nn.NLLLoss(ignore_index=3, reduction="sum")) == \
        "NLLLoss(reduction='sum', ignore_index=3)"
    assert nn.CrossEntropyLoss().state_dict() == {} and nn.BCEWithLogitsLoss().weight is None
    z, ids = rng.standard_normal((3, 3)), np.array([0, 1, 2])
    np.testing.assert_allclose(
        loss(tc.Value(z), ids).item(),
        ops.cross_entropy(z, ids, weight=np.array([1.0, 2, 3]), ignore_index=0,
                          label_smoothing=0.1).item(), rtol=1e-6)


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.cross_entropy(np.zeros((2, 3)), [0, 1], np.ones(3)), TypeError,
     r"cross_entropy: reduction is a ndarray; expected one of 'mean', 'sum', 'none'; pass "
     r"weight by keyword, weight=\.\.\.: here the third argument is the reduction$"),
    (lambda: ops.cross_entropy(np.zeros((2, 3)), [0, 1], label_smoothing=1.5), ValueError,
     r"cross_entropy: label_smoothing is 1\.5; expected a number in \[0, 1\]"),
    (lambda: ops.cross_entropy(np.zeros((2, 3)), [0, 1], ignore_index=1.0), TypeError,
     r"cross_entropy: ignore_index is 1\.0; expected an int"),
    (lambda: ops.cross_entropy(np.zeros((2, 3)), np.full((2, 3), 1 / 3), ignore_index=0),
     ValueError, r"cross_entropy: ignore_index=0 with probability targets; expected class ids "
                 r".* \(give ignored positions a target of zeros instead\)$"),
    (lambda: ops.cross_entropy(np.zeros((2, 3)), [0, 1], weight=np.ones(2)), ValueError,
     r"cross_entropy: weight has shape \(2,\) and dtype float64; expected one number per "
     r"class, shape \(3,\)$"),
    (lambda: ops.nll_loss(np.zeros((2, 3)), [0, 1], weight=tc.Value(np.ones(3))), TypeError,
     r"nll_loss: weight requires grad; expected a constant"),
    (lambda: ops.nll_loss(np.zeros((3, 3)), [0, 7, 5], ignore_index=5), ValueError,
     r"nll_loss: target values lie in \[0, 7\] \(ignore_index 5 aside\); expected class ids "
     r"in \[0, 3\) for 3 classes, or ignore_index=5 for positions that count for nothing$"),
    (lambda: ops.binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)),
                                                  pos_weight=np.ones(2)), ValueError,
     r"binary_cross_entropy_with_logits: pos_weight has shape \(2,\), which does not "
     r"broadcast to the input's shape \(2, 3\)"),
    (lambda: nn.CrossEntropyLoss("sum"), TypeError,
     r"CrossEntropyLoss: weight is 'sum', a string; .* reduction='sum'"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=tc.Value(np.ones(3))), TypeError,
     r"BCEWithLogitsLoss: pos_weight requires grad; .* pass pos_weight\.detach\(\)$"),
])
def test_bad_settings_say_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_suggested_fixes_work(rng):
    z = rng.standard_normal((2, 3))
    assert ops.cross_entropy(z, [0, 1], weight=np.ones(3)).shape == ()
    assert nn.CrossEntropyLoss(reduction="sum")(tc.Value(z), [0, 1]).shape == ()
    zeros_target = np.array([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5]])   # row 0 counts for nothing
    loss = ops.cross_entropy(z, zeros_target, "none")
    assert loss.data[0] == 0.0
