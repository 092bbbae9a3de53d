"""softmax, log_softmax and the losses (cross_entropy, nll_loss, mse_loss, l1_loss,
smooth_l1_loss, huber_loss, binary_cross_entropy_with_logits, binary_cross_entropy, kl_div)
with every reduction: values against plain numpy formulas, gradients and second derivatives by
finite differences, the exact (softmax - onehot)/N gradient, huge logits, the edges (the joins
of smooth_l1, probabilities 0 and 1, a target of 0 in kl_div, empty inputs), and every user
error; the loss modules (nn.CrossEntropyLoss, ...) give exactly their op's loss and gradient."""

import numpy as np
import pytest

import tinygrad_cnn as tc

REDUCTIONS = ["mean", "sum", "none"]


def plain_softmax(x, axis):
    """The textbook formula in float64 (fine for the moderate values these tests use)."""
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((4, 3), 0), ((2, 3, 4), 1), ((6,), 0)])
def test_softmax_and_log_softmax_values(rng, shape, axis):
    x = rng.standard_normal(shape) * 3
    expected = plain_softmax(x, axis)
    s = tc.ops.softmax(tc.Value(x), axis=axis)
    np.testing.assert_allclose(s.data, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.data.sum(axis=axis), 1.0, rtol=1e-12)
    log_s = tc.ops.log_softmax(tc.Value(x), axis=axis)
    np.testing.assert_allclose(log_s.data, np.log(expected), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, axis", [((1, 2), -1), ((3, 5), -1), ((4, 3), 0),
                                         ((2, 3, 4), 1)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_gradcheck(rng, shape, axis, op):
    x = rng.standard_normal(shape)
    fn = getattr(tc.ops, op)
    assert tc.gradcheck(lambda x: fn(x, axis=axis), [x])


@pytest.mark.parametrize("n, k", [(1, 2), (4, 3), (5, 10)])
def test_cross_entropy_value_and_gradcheck(rng, n, k):
    logits, target = rng.standard_normal((n, k)) * 2, rng.integers(0, k, n)
    loss = tc.ops.cross_entropy(tc.Value(logits), target)
    expected = -np.log(plain_softmax(logits, 1)[np.arange(n), target]).mean()
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    assert tc.gradcheck(lambda z: tc.ops.cross_entropy(z, target), [logits])


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(rng):
    n, k = 6, 4
    logits = tc.Value(rng.standard_normal((n, k)))
    target = np.array([0, 3, 1, 1, 2, 3])
    tc.ops.cross_entropy(logits, target).backward()
    onehot = np.eye(k)[target]
    np.testing.assert_allclose(logits.grad, (plain_softmax(logits.data, 1) - onehot) / n,
                               rtol=1e-15, atol=1e-16)


def test_a_class_masked_with_minus_inf_adds_nothing_to_the_loss():
    logits = tc.Value(np.array([[0.0, -np.inf, np.log(3.0)], [-np.inf, 0.0, 0.0]]))
    loss = tc.ops.cross_entropy(logits, np.array([0, -100]), reduction="none")
    np.testing.assert_array_equal(loss.data, [np.log(4.0), 0.0])       # p = 1/4; row ignored
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad, [[-0.75, 0.0, 0.75], [0.0, 0.0, 0.0]], rtol=1e-15)
    log_probs = np.array([[-np.inf, np.log(0.5), np.log(0.5)]])
    assert tc.ops.nll_loss(log_probs, np.array([2])).item() == np.log(2.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_logits_stay_finite(dtype):
    logits = tc.Value(np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4], [5e3, -1e4, 1e4]],
                               dtype=dtype))
    loss = tc.ops.cross_entropy(logits, np.array([0, 0, 1]))
    loss.backward()
    # row 0: p = (1, 0, 0), loss 0; row 1: target 1e4 below a tied pair, loss 2e4 + log 2;
    # row 2: target 2e4 below the maximum, loss 2e4
    np.testing.assert_allclose(loss.item(), (0 + 2e4 + np.log(2) + 2e4) / 3, rtol=1e-6)
    assert loss.dtype == logits.grad.dtype == dtype
    np.testing.assert_allclose(logits.grad, np.array([[0.0, 0.0, 0.0], [-1.0, 0.5, 0.5],
                                                      [0.0, -1.0, 1.0]]) / 3, atol=1e-7)
    for op in (tc.ops.softmax, tc.ops.log_softmax):
        out = op(logits)
        assert np.isfinite(out.data).all()
    np.testing.assert_allclose(tc.ops.softmax(logits).data[1], [0.0, 0.5, 0.5], atol=1e-7)


def test_float32_stays_float32(rng):
    logits = tc.Value(rng.standard_normal((4, 3)).astype(np.float32))
    for out in (tc.ops.softmax(logits), tc.ops.log_softmax(logits),
                tc.ops.cross_entropy(logits, np.array([0, 1, 2, 0]))):
        logits.grad = None
        out.backward(np.ones(out.shape, dtype=np.float32))
        assert out.dtype == logits.grad.dtype == np.float32


@pytest.mark.parametrize("target", [[2, 0, 1], np.array([2, 0, 1], dtype=np.uint8),
                                    tc.Value(np.array([2, 0, 1]))])
def test_targets_as_list_array_or_integer_value(rng, target):
    logits = rng.standard_normal((3, 3))
    loss = tc.ops.cross_entropy(tc.Value(logits), target)
    expected = -np.log(plain_softmax(logits, 1)[[0, 1, 2], [2, 0, 1]]).mean()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)


@pytest.mark.parametrize("logits_shape, target, match", [
    ((3, 4), np.array([0.0, 1.0, 2.0]), r"integer class ids, got dtype float64"),
    ((3, 4), tc.Value(np.array([0.0, 1.0, 2.0])), r"integer class ids, got dtype float64"),
    ((3, 4), np.array([True, False, True]), r"integer class ids, got dtype bool"),
    ((3, 4), np.array([0, 1]), r"target has shape \(2,\) but logits have shape \(3, 4\)"),
    ((3, 4), np.eye(4, dtype=int)[:3], r"target has shape \(3, 4\), like one-hot rows of "
                                       r"integers; expected integer class ids of shape \(3,\); "
                                       r"convert with labels\.argmax\(axis=1\), or probabilities "
                                       r"as floats: labels\.astype\(np\.float32\)$"),
    ((3, 4), np.zeros((3, 1), dtype=int), r"target has shape \(3, 1\) but logits have shape"),
    ((3, 4), np.array([0, 4, 1]), r"target values lie in \[0, 4\]; expected class ids in "
                                  r"\[0, 4\) for 4 classes, or ignore_index=-100 for positions "
                                  r"that count for nothing$"),
    ((3, 4), np.array([-1, 2, 1]), r"target values lie in \[-1, 2\]"),
    ((12,), np.array([1]), r"target has shape \(1,\) but logits have shape \(12,\); expected "
                           r"one class id per sample, shape \(\); for a batch of one sample, "
                           r"logits\.reshape\(1, -1\)$"),
    ((2, 3, 4), np.zeros((2, 3), dtype=int), r"target has shape \(2, 3\) but logits have shape "
                                             r"\(2, 3, 4\); expected one class id per sample and "
                                             r"position, shape \(2, 4\)$"),
    ((0, 4), np.array([], dtype=int), r"logits has shape \(0, 4\); expected \(N, K\), a row of "
                                      r"K >= 1 class scores for each of N >= 1 samples, "
                                      r"\(N, K, d1, \.\.\.\) for a class per position, or "
                                      r"\(K,\) for one sample$"),
])
def test_cross_entropy_bad_input_raises(logits_shape, target, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.cross_entropy(tc.Value(np.zeros(logits_shape)), target)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_bad_axis_raises(op):
    with pytest.raises(ValueError, match=rf"{op}: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(3, 4\)$"):
        getattr(tc.ops, op)(tc.Value(np.zeros((3, 4))), axis=2)
    with pytest.raises(TypeError, match=rf"{op}: axis 1.0 is a float; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(3, 4\)$"):
        getattr(tc.ops, op)(tc.Value(np.zeros((3, 4))), axis=1.0)
    with pytest.raises(ValueError, match=rf"{op}: axis 0 is out of range; expected an axis of "
                                         r"the input, but one of shape \(\) has none; reshape "
                                         r"it to \(1,\) and use axis 0$"):
        getattr(tc.ops, op)(tc.Value(1.0), axis=0)
    assert getattr(tc.ops, op)(tc.Value(1.0).reshape(1), axis=0).shape == (1,)   # the fix


@pytest.mark.parametrize("shape, axis", [((1, 2), -1), ((3, 4), -1), ((4, 3), 0),
                                         ((2, 3, 4), 1)])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_gradgradcheck(rng, shape, axis, op):
    fn = getattr(tc.ops, op)
    assert tc.gradgradcheck(lambda x: fn(x, axis=axis), [rng.standard_normal(shape)])


def per_row_cross_entropy(logits, target):
    return -np.log(plain_softmax(logits, 1)[np.arange(len(target)), target])


def reduce(losses, reduction):
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n, k", [(1, 2), (4, 3), (5, 10)])
def test_cross_entropy_and_nll_loss_every_reduction(rng, n, k, reduction):
    logits, target = rng.standard_normal((n, k)) * 2, rng.integers(0, k, n)
    expected = reduce(per_row_cross_entropy(logits, target), reduction)
    loss = tc.ops.cross_entropy(tc.Value(logits), target, reduction=reduction)
    assert loss.shape == np.shape(expected)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    # nll_loss of log_softmax is cross_entropy
    nll = tc.ops.nll_loss(tc.ops.log_softmax(tc.Value(logits), axis=1), target, reduction)
    np.testing.assert_allclose(nll.data, expected, rtol=1e-12)
    np.testing.assert_allclose(tc.ops.nll_loss(logits, target, reduction).data,
                               reduce(-logits[np.arange(n), target], reduction), rtol=1e-12)
    assert tc.gradcheck(lambda z: tc.ops.cross_entropy(z, target, reduction), [logits])
    assert tc.gradgradcheck(lambda z: tc.ops.cross_entropy(z, target, reduction), [logits])
    assert tc.gradcheck(lambda z: tc.ops.nll_loss(z, target, reduction), [logits])
    assert tc.gradgradcheck(lambda z: tc.ops.nll_loss(z, target, reduction), [logits])


def test_cross_entropy_keeps_no_array_its_ids_are_an_input(rng):
    """The class ids are the op's second input, a constant, so forward keeps no array on the
    op (a rule that reads one could not be differentiated again), and drawings show them."""
    loss = tc.ops.cross_entropy(tc.Value(rng.standard_normal((3, 4))), [0, 3, 1])
    assert not any(isinstance(v, np.ndarray) for v in vars(loss.fn).values())
    target = loss.fn.inputs[1]
    assert not target.requires_grad and target.data.tolist() == [0, 3, 1]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(1,), (4, 3), (2, 3, 2)])
def test_mse_loss(rng, shape, reduction):
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    loss = tc.ops.mse_loss(tc.Value(x), tc.Value(t), reduction=reduction)
    np.testing.assert_allclose(loss.data, reduce((x - t) ** 2, reduction), rtol=1e-12)
    fn = lambda x, t: tc.ops.mse_loss(x, t, reduction)   # noqa: E731
    assert tc.gradcheck(fn, [x, t])                      # both the input and the target
    assert tc.gradgradcheck(fn, [x, t])


def plain_bce_with_logits(z, t):
    """The textbook formula (fine for moderate logits)."""
    s = 1 / (1 + np.exp(-z))
    return -t * np.log(s) - (1 - t) * np.log(1 - s)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(1,), (5, 3), (2, 2, 3)])
def test_binary_cross_entropy_with_logits(rng, shape, reduction):
    z, t = rng.standard_normal(shape) * 3, rng.uniform(0, 1, shape)
    loss = tc.ops.binary_cross_entropy_with_logits(tc.Value(z), t, reduction=reduction)
    np.testing.assert_allclose(loss.data, reduce(plain_bce_with_logits(z, t), reduction),
                               rtol=1e-12)
    fn = lambda z, t: tc.ops.binary_cross_entropy_with_logits(z, t, reduction)   # noqa: E731
    assert tc.gradcheck(fn, [z, t])                      # both the logits and the target
    assert tc.gradgradcheck(fn, [z, t])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_with_logits_is_stable_for_any_logits(dtype):
    z = tc.Value(np.array([-1e4, -100.0, 0.0, 100.0, 1e4, 1e4], dtype=dtype))
    t = np.array([0, 1, 1, 0, 1, 0])                   # integer targets keep float32 float32
    loss = tc.ops.binary_cross_entropy_with_logits(z, t, reduction="none")
    loss.sum().backward()
    # confidently right: 0; confidently wrong by |z|: |z|; z = 0: log 2
    np.testing.assert_allclose(loss.data, [0.0, 100.0, np.log(2), 100.0, 0.0, 1e4], rtol=1e-6)
    np.testing.assert_allclose(z.grad, [0.0, -1.0, -0.5, 1.0, 0.0, 1.0], atol=1e-7)
    assert loss.dtype == z.grad.dtype == dtype


def differences(rng, shape, beta=None):
    """Random d = input - target with |d| in [0.1, 3], and at least 0.05 from |d| = beta: away
    from the kinks, so that central differences see a single piece."""
    d = rng.uniform(0.1, 3.0, shape) * rng.choice([-1.0, 1.0], shape)
    if beta is not None:
        near = np.abs(np.abs(d) - beta) < 0.05
        d[near] += 0.1 * np.sign(d[near])
    return d


def plain_smooth_l1(d, beta):
    """The definition, one element at a time."""
    return np.array([v * v / (2 * beta) if abs(v) < beta else abs(v) - beta / 2
                     for v in d.flat]).reshape(d.shape)


SHAPES = [(1,), (4, 3), (2, 3, 2)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_l1_loss(rng, shape, reduction):
    x = rng.standard_normal(shape)
    t = x - differences(rng, shape)
    loss = tc.ops.l1_loss(tc.Value(x), tc.Value(t), reduction=reduction)
    np.testing.assert_allclose(loss.data, reduce(np.abs(x - t), reduction), rtol=1e-12)
    fn = lambda x, t: tc.ops.l1_loss(x, t, reduction)   # noqa: E731
    assert tc.gradcheck(fn, [x, t])                     # both the input and the target
    assert tc.gradgradcheck(fn, [x, t])


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_smooth_l1_loss_and_huber_loss(rng, shape, reduction, beta):
    x = rng.standard_normal(shape)
    d = differences(rng, shape, beta)
    t = x - d
    smooth = tc.ops.smooth_l1_loss(tc.Value(x), tc.Value(t), reduction=reduction, beta=beta)
    np.testing.assert_allclose(smooth.data, reduce(plain_smooth_l1(d, beta), reduction),
                               rtol=1e-12)
    huber = tc.ops.huber_loss(tc.Value(x), tc.Value(t), reduction=reduction, delta=beta)
    plain_huber = np.where(np.abs(d) < beta, d * d / 2, beta * (np.abs(d) - beta / 2))
    np.testing.assert_allclose(huber.data, reduce(plain_huber, reduction), rtol=1e-12)
    for fn in (lambda x, t: tc.ops.smooth_l1_loss(x, t, reduction, beta),
               lambda x, t: tc.ops.huber_loss(x, t, reduction, beta)):
        assert tc.gradcheck(fn, [x, t])
        assert tc.gradgradcheck(fn, [x, t])


def test_l1_loss_gradient_is_zero_where_input_equals_target():
    x, t = tc.Value(np.array([1.0, 2.0, 3.0])), tc.Value(np.array([1.0, 0.0, 3.5]))
    tc.ops.l1_loss(x, t, reduction="sum").backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, -1.0])
    np.testing.assert_array_equal(t.grad, [0.0, -1.0, 1.0])


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_smooth_l1_loss_and_huber_loss_at_the_joins(beta):
    """At |d| = beta the two pieces meet: the value is beta/2 (Huber: beta^2/2) and the slope
    sign(d) (Huber: beta sign(d)) either way; the second derivative there is 0, the linear
    piece's, as PyTorch's (inside it is 1/beta, Huber 1)."""
    d = np.array([-beta, beta, beta / 2, 0.0, 2 * beta])
    for op, scale in ((tc.ops.smooth_l1_loss, 1.0), (tc.ops.huber_loss, beta)):
        x = tc.Value(d)
        loss = op(x, np.zeros(5), "none", beta)
        np.testing.assert_allclose(loss.data, scale * np.array([beta / 2, beta / 2, beta / 8, 0,
                                                                1.5 * beta]), rtol=1e-15)
        (dx,) = tc.grad(loss.sum(), [x], create_graph=True)
        np.testing.assert_allclose(dx.data, scale * np.array([-1, 1, 0.5, 0, 1]), rtol=1e-15)
        (ddx,) = tc.grad(dx.sum(), [x])
        np.testing.assert_allclose(ddx.data, scale * np.array([0, 0, 1, 1, 0]) / beta,
                                   rtol=1e-15)


def test_smooth_l1_loss_with_beta_0_is_l1_loss(rng):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    x[0, 0] = t[0, 0]                                    # the kink of |d|: gradient 0
    for reduction in REDUCTIONS:
        a, b = tc.Value(x), tc.Value(t)
        smooth = tc.ops.smooth_l1_loss(a, b, reduction, beta=0.0)
        c, d = tc.Value(x), tc.Value(t)
        l1 = tc.ops.l1_loss(c, d, reduction)
        np.testing.assert_array_equal(smooth.data, l1.data)
        upstream = rng.standard_normal(l1.shape)
        for ours, theirs in zip(tc.grad(smooth, [a, b], upstream), tc.grad(l1, [c, d], upstream),
                                strict=True):
            np.testing.assert_array_equal(ours.data, theirs.data)
    assert tc.gradgradcheck(lambda x, t: tc.ops.smooth_l1_loss(x, t, "none", 0.0),
                            [x[1:], x[1:] - differences(rng, (2, 4))])


def plain_binary_cross_entropy(x, t):
    """The textbook formula (fine for probabilities away from 0 and 1)."""
    return -t * np.log(x) - (1 - t) * np.log(1 - x)


@pytest.mark.parametrize("weight_shape", [None, (3,), (2, 3), (1, 3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(rng, reduction, weight_shape):
    x, t = rng.uniform(0.05, 0.95, (2, 3)), rng.uniform(0.05, 0.95, (2, 3))
    w = None if weight_shape is None else rng.uniform(0.5, 2.0, weight_shape)
    loss = tc.ops.binary_cross_entropy(tc.Value(x), t, weight=w, reduction=reduction)
    expected = plain_binary_cross_entropy(x, t) * (1 if w is None else w)
    np.testing.assert_allclose(loss.data, reduce(expected, reduction), rtol=1e-12)
    fn = lambda x, t: tc.ops.binary_cross_entropy(x, t, w, reduction)   # noqa: E731
    assert tc.gradcheck(fn, [x, t])                      # both the input and the target
    assert tc.gradgradcheck(fn, [x, t])


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 2, 2)])
def test_binary_cross_entropy_of_sigmoid_is_bce_with_logits(rng, shape):
    """On sigmoid(z) it is binary_cross_entropy_with_logits(z) (for moderate z)."""
    z, t = rng.standard_normal(shape), rng.uniform(0, 1, shape)
    expected = tc.ops.binary_cross_entropy_with_logits(z, t, reduction="sum")
    loss = tc.ops.binary_cross_entropy(tc.ops.sigmoid(z), t, reduction="sum")
    np.testing.assert_allclose(loss.data, expected.data, rtol=1e-12)
    fn = lambda p, t: tc.ops.binary_cross_entropy(p, t, reduction="mean")   # noqa: E731
    assert tc.gradcheck(fn, [1 / (1 + np.exp(-z)), t])
    assert tc.gradgradcheck(fn, [1 / (1 + np.exp(-z)), t])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_at_0_and_1_is_clamped(dtype):
    """Each log is clamped at -100, as PyTorch's: a confident mistake costs 100, not inf. The
    input's gradient (x - t) / x(1 - x) has x(1 - x) kept >= BCE_EPS (PyTorch's 1e-12 as a
    float32): +-1/BCE_EPS at a confident mistake, 0 when right; the target's, log(1 - x) - log
    x, is infinite there, as PyTorch's."""
    x = tc.Value(np.array([0.0, 0.0, 1.0, 1.0], dtype=dtype))
    t = tc.Value(np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype))
    loss = tc.ops.binary_cross_entropy(x, t, reduction="none")
    loss.backward(np.ones(4, dtype=dtype))
    np.testing.assert_array_equal(loss.data, [0.0, 100.0, 100.0, 0.0])
    eps = tc.ops.loss.BCE_EPS
    assert eps == np.float32(1e-12)
    np.testing.assert_allclose(x.grad, [0.0, -1 / eps, 1 / eps, 0.0], rtol=1e-7)
    np.testing.assert_array_equal(t.grad, [np.inf, np.inf, -np.inf, -np.inf])
    assert loss.dtype == x.grad.dtype == t.grad.dtype == dtype


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["batchmean", *REDUCTIONS])
@pytest.mark.parametrize("shape", [(1,), (4, 3), (2, 3, 2)])
def test_kl_div(rng, shape, reduction, log_target):
    x = rng.standard_normal(shape)
    t = rng.standard_normal(shape) if log_target else rng.uniform(0.05, 1.0, shape)
    p = np.exp(t) if log_target else t                   # the target's probabilities
    terms = p * (np.log(p) - x)
    loss = tc.ops.kl_div(tc.Value(x), t, reduction=reduction, log_target=log_target)
    expected = terms.sum() / shape[0] if reduction == "batchmean" else reduce(terms, reduction)
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    fn = lambda x, t: tc.ops.kl_div(x, t, reduction, log_target)   # noqa: E731
    assert tc.gradcheck(fn, [x, t])                      # both the input and the target
    assert tc.gradgradcheck(fn, [x, t])


def test_kl_div_batchmean_is_the_kl_divergence_per_sample(rng):
    """Rows of log-probabilities q and probabilities p: batchmean gives mean_n KL(p_n || q_n);
    "mean" divides the same sum by N K, as PyTorch's "mean" (which warns; this does not)."""
    q = tc.ops.log_softmax(rng.standard_normal((4, 5)), axis=1).data
    p = tc.ops.softmax(rng.standard_normal((4, 5)), axis=1).data
    per_sample = (p * (np.log(p) - q)).sum(axis=1)
    np.testing.assert_allclose(tc.ops.kl_div(q, p, "batchmean").data, per_sample.mean(),
                               rtol=1e-12)
    np.testing.assert_allclose(tc.ops.kl_div(q, p).data, per_sample.sum() / 20, rtol=1e-12)
    np.testing.assert_allclose(tc.ops.kl_div(q, np.log(p), "batchmean", log_target=True).data,
                               per_sample.mean(), rtol=1e-12)
    assert tc.ops.kl_div(np.array(-1.0), np.array(0.5), "batchmean").item() == pytest.approx(
        0.5 * (np.log(0.5) + 1))                         # a 0-d input is one sample


def test_kl_div_where_the_target_is_0():
    """t log t is 0 at t = 0 (PyTorch's xlogy), so such a term adds nothing and the input gets
    no gradient there; the target's gradient log t + 1 - x is unbounded at t = 0: nan there,
    as PyTorch's, and finite elsewhere."""
    x = tc.Value(np.array([-1.0, -2.0, -0.5]))
    t = tc.Value(np.array([0.0, 0.3, 0.7]))
    loss = tc.ops.kl_div(x, t, reduction="none")
    loss.backward(np.ones(3))
    np.testing.assert_allclose(loss.data, [0.0, 0.3 * (np.log(0.3) + 2), 0.7 * (np.log(0.7) + 0.5)],
                               rtol=1e-15)
    np.testing.assert_array_equal(x.grad, [0.0, -0.3, -0.7])
    assert np.isnan(t.grad[0])
    np.testing.assert_allclose(t.grad[1:], [np.log(0.3) + 3, np.log(0.7) + 1.5], rtol=1e-15)


EMPTY_CASES = [
    ("l1_loss", REDUCTIONS), ("smooth_l1_loss", REDUCTIONS), ("huber_loss", REDUCTIONS),
    ("binary_cross_entropy", REDUCTIONS), ("kl_div", ["batchmean", *REDUCTIONS]),
]


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning",
                            "ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("op, reductions", EMPTY_CASES, ids=[op for op, _ in EMPTY_CASES])
def test_losses_of_empty_inputs(op, reductions):
    """As PyTorch: the mean (and batchmean) of no losses is nan, their sum 0, and "none" gives
    the empty losses; the gradients are empty."""
    for reduction in reductions:
        x, t = tc.Value(np.zeros((0, 3))), tc.Value(np.zeros((0, 3)))
        loss = getattr(tc.ops, op)(x, t, reduction=reduction)
        expected = {"mean": np.nan, "batchmean": np.nan, "sum": 0.0, "none": np.zeros((0, 3))}
        np.testing.assert_array_equal(loss.data, expected[reduction])
        loss.backward(np.ones(loss.shape))
        assert x.grad.shape == t.grad.shape == (0, 3)


@pytest.mark.parametrize("op, beta, match", [
    ("smooth_l1_loss", -1.0, r"smooth_l1_loss: beta is -1\.0; expected a number >= 0, the width "
                             r"of the quadratic piece \(beta=0 gives l1_loss\)"),
    ("smooth_l1_loss", float("nan"), r"smooth_l1_loss: beta is nan; expected a number >= 0"),
    ("smooth_l1_loss", "1", r"smooth_l1_loss: beta is '1'; expected a number >= 0"),
    ("huber_loss", 0.0, r"huber_loss: delta is 0\.0; expected a number > 0, where the quadratic "
                        r"piece turns linear \(for delta -> 0 use l1_loss\)"),
    ("huber_loss", -2, r"huber_loss: delta is -2; expected a number > 0"),
])
def test_smooth_l1_and_huber_bad_beta_or_delta_raises(op, beta, match):
    with pytest.raises(ValueError, match=match):
        getattr(tc.ops, op)(np.zeros(3), np.zeros(3), "mean", beta)
    module = tc.nn.SmoothL1Loss if op == "smooth_l1_loss" else tc.nn.HuberLoss
    with pytest.raises(ValueError, match=module.__name__ + match[match.index(":"):]):
        module("mean", beta)
    assert tc.ops.l1_loss(np.zeros(3), np.ones(3)).item() == 1.0   # the fix the message names


def test_binary_cross_entropy_outside_0_1_raises_and_sigmoid_fixes_it(rng):
    logits, t = rng.standard_normal((2, 3)) * 3, rng.uniform(0, 1, (2, 3))
    logits[0, 0] = 2.5
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input should "
                                         r"be between 0 and 1, got \d outside, e\.g\. 2\.5; "
                                         r"expected probabilities; pass ops\.sigmoid\(logits\), "
                                         r"or the logits to binary_cross_entropy_with_logits"):
        tc.ops.binary_cross_entropy(logits, t)
    loss = tc.ops.binary_cross_entropy(tc.ops.sigmoid(logits), t)
    np.testing.assert_allclose(loss.data, tc.ops.binary_cross_entropy_with_logits(logits, t).data,
                               rtol=1e-12)
    with pytest.raises(ValueError, match=r"all elements of input should be between 0 and 1, got "
                                         r"1 outside, e\.g\. nan"):
        tc.ops.binary_cross_entropy(np.array([0.5, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of target should "
                                         r"be between 0 and 1, got 1 outside, e\.g\. -1\.0; "
                                         r"expected labels 0 or 1, or probabilities"):
        tc.ops.binary_cross_entropy(np.full(3, 0.5), np.array([0.0, -1.0, 1.0]))


def test_binary_cross_entropy_bad_weight_raises_and_the_fixes_work(rng):
    x, t = rng.uniform(0.1, 0.9, (2, 3)), rng.uniform(0, 1, (2, 3))
    bce = tc.ops.binary_cross_entropy
    w = tc.Value(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match=r"binary_cross_entropy: weight requires grad; expected "
                                        r"a constant, .* pass weight\.detach\(\)"):
        bce(x, t, w)
    fixed = bce(x, t, w.detach(), reduction="none").data
    np.testing.assert_allclose(fixed, plain_binary_cross_entropy(x, t) * w.data, rtol=1e-12)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight has shape \(2,\), which "
                                         r"does not broadcast to the input's shape \(2, 3\); "
                                         r"expected a shape that does, e\.g\. \(3,\)"):
        bce(x, t, np.ones(2))
    with pytest.raises(ValueError, match=r"weight has shape \(2, 2, 3\), which does not "
                                         r"broadcast"):                # more axes than input
        bce(x, t, np.ones((2, 2, 3)))
    assert bce(x, t, np.ones(3)).item() == bce(x, t).item()
    # weights of any real dtype, numbers and lists become constants of the input's dtype
    x32, t32 = x.astype(np.float32), t.astype(np.float32)
    for weight in (np.ones(3), 1.0, [1, 1, 1], np.ones(3, np.float32)):
        loss = bce(x32, t32, weight)
        assert loss.dtype == np.float32 and loss.item() == bce(x32, t32).item()
    with pytest.raises(TypeError, match=r"binary_cross_entropy: weight is 'sum', a string; .* "
                                        r"pass the reduction by keyword, reduction='sum'"):
        bce(x, t, "sum")
    assert bce(x, t, reduction="sum").shape == ()
    with pytest.raises(TypeError, match=r"binary_cross_entropy: weight has dtype <U1; expected "
                                        r"numbers"):
        bce(x, t, np.array(["a", "b", "c"]))
    with pytest.raises(TypeError, match=r"binary_cross_entropy: input has dtype uint8; expected "
                                        r"floating-point probabilities \(as PyTorch\); convert "
                                        r"them, e.g. input.astype\(np.float32\)"):
        bce(np.array([1, 0], np.uint8), np.array([0.0, 0.0]))
    assert bce(np.array([1, 0], np.uint8).astype(np.float32),          # the fix
               np.array([0.0, 0.0], np.float32), reduction="none").data.tolist() == [100.0, 0.0]


def test_smooth_l1_and_huber_pass_a_nan_on_and_keep_their_dtype():
    """A NaN difference (nan, or inf - inf) gives a NaN loss and a NaN gradient, as PyTorch's
    (its sign, 0, would have silenced it); a numpy float64 beta or delta keeps a float32 loss
    float32."""
    for loss in (tc.ops.smooth_l1_loss, tc.ops.huber_loss):
        x = tc.Value(np.array([np.nan, np.inf, 2.0]))
        with np.errstate(invalid="ignore"):                  # inf - inf is NaN, on purpose
            loss(x, np.array([0.0, np.inf, 0.0]), "sum").backward()
        assert np.isnan(x.grad[:2]).all() and x.grad[2] == 1.0
        x32 = tc.Value(np.array([0.1, 2.0], np.float32))
        assert loss(x32, np.zeros(2, np.float32), "mean", np.float64(0.5)).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huber_loss_takes_any_delta(dtype):
    """Computed without dividing by delta: a delta of 1e30 (or inf) leaves the quadratic piece
    d^2 / 2 exact, where delta * (d^2 / (2 delta)) underflows (or is inf * 0 = nan)."""
    d = np.array([1e-10, 1.0], dtype)
    for delta in (1e30, np.inf):
        x = tc.Value(d)
        out = tc.ops.huber_loss(x, np.zeros(2, dtype), "none", delta)
        np.testing.assert_allclose(out.data, 0.5 * d * d, rtol=1e-6)
        out.backward(np.ones(2, dtype))
        np.testing.assert_allclose(x.grad, d, rtol=1e-6)
    tiny = tc.ops.huber_loss(np.array([1e-100, 1.0]), np.zeros(2), "none", 1e200)
    assert tiny.data.tolist() == [0.5e-200, 0.5]


def test_bce_loss_module_checks_its_weight_as_the_op_does():
    with pytest.raises(TypeError, match=r"BCELoss: weight is 'sum', a string; .* pass the "
                                        r"reduction by keyword, reduction='sum'"):
        tc.nn.BCELoss("sum")
    assert tc.nn.BCELoss(reduction="sum").reduction == "sum"                 # the fix
    with pytest.raises(TypeError, match=r"BCELoss: weight requires grad; .* pass "
                                        r"weight\.detach\(\)"):
        tc.nn.BCELoss(weight=tc.Value(np.ones(3)))
    assert tc.nn.BCELoss(weight=tc.Value(np.ones(3)).detach()).weight.shape == (3,)
    ints = tc.nn.BCELoss(weight=[1, 2, 3])
    assert ints.weight.data.dtype == np.float32                 # PyTorch's default float dtype
    x32 = np.full((2, 3), 0.5, np.float32)
    assert tc.nn.BCELoss(weight=np.ones(3))(x32, x32).dtype == np.float32   # float64 weights


def test_kl_div_takes_batchmean_and_the_others_do_not():
    with pytest.raises(ValueError, match=r"kl_div: reduction 'avg' is not one of 'batchmean', "
                                         r"'mean', 'sum', 'none'"):
        tc.ops.kl_div(np.zeros(3), np.zeros(3), reduction="avg")
    with pytest.raises(ValueError, match=r"l1_loss: reduction 'batchmean' is not one of 'mean', "
                                         r"'sum', 'none'"):
        tc.ops.l1_loss(np.zeros(3), np.zeros(3), reduction="batchmean")


def test_losses_keep_float32(rng):
    x = tc.Value(rng.standard_normal((4, 3)).astype(np.float32))
    target = rng.standard_normal((4, 3)).astype(np.float32)
    p = tc.Value(rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32))
    for loss in (tc.ops.mse_loss(x, target), tc.ops.nll_loss(x, [0, 1, 2, 0]),
                 tc.ops.mse_loss(x, np.ones((4, 3), dtype=int)),
                 tc.ops.binary_cross_entropy_with_logits(x, target),
                 tc.ops.l1_loss(x, target), tc.ops.smooth_l1_loss(x, target, beta=0.5),
                 tc.ops.huber_loss(x, target, delta=2.0), tc.ops.kl_div(x, target, "batchmean",
                                                                        log_target=True),
                 tc.ops.kl_div(x, np.ones((4, 3), dtype=int), "sum"),
                 tc.ops.binary_cross_entropy(p * x.sigmoid(), np.ones((4, 3), dtype=bool),
                                             weight=np.arange(3))):
        x.grad = None
        loss.backward()
        assert loss.dtype == x.grad.dtype == np.float32


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_one_hot_labels_hint_argmax_and_the_fix_works(rng, op):
    logits, labels = rng.standard_normal((5, 4)), np.eye(4, dtype=int)[[0, 3, 1, 1, 2]]
    with pytest.raises(ValueError, match=rf"{op}: target has shape \(5, 4\), like one-hot "
                                         r"rows of integers; .* labels\.argmax\(axis=1\)"):
        getattr(tc.ops, op)(logits, labels)
    expected = getattr(tc.ops, op)(logits, labels.argmax(axis=1))
    assert expected.shape == ()
    if op == "cross_entropy":        # the other fix: one-hot rows as probabilities
        np.testing.assert_allclose(tc.ops.cross_entropy(logits, labels.astype(float)).data,
                                   expected.data, rtol=1e-12)


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_a_class_per_position_is_a_row_per_position(rng, shape, reduction):
    """Logits (N, K, d1, ...) with a target (N, d1, ...): each position's loss is that of its
    own row of K scores, as if the positions were samples."""
    logits = rng.standard_normal(shape)
    target = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    loss = tc.ops.cross_entropy(tc.Value(logits), target, reduction)
    axes = (0, *range(2, len(shape)), 1)
    rows = tc.ops.cross_entropy(tc.Value(logits).transpose(*axes).reshape(-1, 3),
                                target.reshape(-1), reduction)
    assert loss.shape == (() if reduction != "none" else target.shape)
    np.testing.assert_allclose(loss.data.reshape(-1), rows.data.reshape(-1), rtol=1e-12)
    for op in (tc.ops.cross_entropy, tc.ops.nll_loss):
        assert tc.gradcheck(lambda z, op=op: op(z, target, reduction), [logits])
        assert tc.gradgradcheck(lambda z, op=op: op(z, target, reduction), [logits])


ELEMENTWISE_LOSSES = ["mse_loss", "binary_cross_entropy_with_logits", "l1_loss",
                      "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "kl_div"]


@pytest.mark.parametrize("op, args", [
    ("cross_entropy", (np.zeros((2, 3)), [0, 1])), ("nll_loss", (np.zeros((2, 3)), [0, 1])),
    *[(op, (np.zeros(3), np.zeros(3))) for op in ELEMENTWISE_LOSSES if op != "kl_div"],
])
def test_unknown_reduction_raises(op, args):
    with pytest.raises(ValueError, match=rf"{op}: reduction 'avg' is not one of 'mean', 'sum', "
                                         r"'none'"):
        getattr(tc.ops, op)(*args, reduction="avg")


@pytest.mark.parametrize("op", ELEMENTWISE_LOSSES)
def test_elementwise_losses_bad_target_raises(op):
    fn = getattr(tc.ops, op)
    with pytest.raises(ValueError, match=rf"{op}: input has shape \(4, 1\) but target has shape "
                                         r"\(4,\); expected equal shapes .* "
                                         r"target\.reshape\(\(4, 1\)\)"):
        fn(np.zeros((4, 1)), np.zeros(4))
    with pytest.raises(ValueError, match=rf"{op}: input has shape \(3, 4\) but target has shape "
                                         r"\(3, 1\); .* they hold 12 and 3 elements, so a "
                                         r"reshape cannot match them"):
        fn(np.zeros((3, 4)), np.zeros((3, 1)))
    with pytest.raises(TypeError, match=rf"{op}: input has dtype float32 but target has dtype "
                                        r"float64; .* target\.astype\(np\.float32\)"):
        fn(np.zeros(4, dtype=np.float32), np.zeros(4))


def test_nll_loss_bad_input_raises():
    with pytest.raises(ValueError, match=r"nll_loss: log_probs has shape \(\); expected \(N, K\)"):
        tc.ops.nll_loss(np.zeros(()), 0)
    with pytest.raises(ValueError, match=r"nll_loss: target values lie in \[0, 3\]; expected "
                                         r"class ids in \[0, 3\)"):
        tc.ops.nll_loss(np.zeros((2, 3)), [0, 3])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_is_empty(op):
    """Nothing to normalise: an empty result of the input's shape and dtype, and an empty
    gradient, as PyTorch (numpy's max over an empty axis would be an error)."""
    x = tc.Value(np.zeros((2, 0), dtype=np.float32))
    out = getattr(tc.ops, op)(x, axis=-1)
    assert out.shape == (2, 0) and out.dtype == np.float32
    out.backward(np.zeros((2, 0), dtype=np.float32))
    assert x.grad.shape == (2, 0) and x.grad.dtype == np.float32


# (module, its op, what its input holds, what its target holds)
MODULES = [(tc.nn.CrossEntropyLoss, tc.ops.cross_entropy, "reals", "ids"),
           (tc.nn.NLLLoss, tc.ops.nll_loss, "reals", "ids"),
           (tc.nn.MSELoss, tc.ops.mse_loss, "reals", "reals"),
           (tc.nn.BCEWithLogitsLoss, tc.ops.binary_cross_entropy_with_logits, "reals",
            "probabilities"),
           (tc.nn.L1Loss, tc.ops.l1_loss, "reals", "reals"),
           (tc.nn.SmoothL1Loss, tc.ops.smooth_l1_loss, "reals", "reals"),
           (tc.nn.HuberLoss, tc.ops.huber_loss, "reals", "reals"),
           (tc.nn.BCELoss, tc.ops.binary_cross_entropy, "probabilities", "probabilities"),
           (tc.nn.KLDivLoss, tc.ops.kl_div, "reals", "probabilities")]


def loss_inputs(rng, kind):
    return {"ids": rng.integers(0, 3, 4), "reals": rng.standard_normal((4, 3)),
            "probabilities": rng.random((4, 3))}[kind]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("module, op, inputs, targets", MODULES,
                         ids=[m.__name__ for m, *_ in MODULES])
def test_loss_modules_run_their_op(rng, module, op, inputs, targets, reduction):
    scores, target = loss_inputs(rng, inputs), loss_inputs(rng, targets)
    x, y = tc.Value(scores), tc.Value(scores)
    loss, expected = module(reduction=reduction)(x, target), op(y, target, reduction=reduction)
    np.testing.assert_array_equal(loss.data, expected.data)
    upstream = rng.standard_normal(loss.shape)
    loss.backward(upstream)
    expected.backward(upstream)
    np.testing.assert_array_equal(x.grad, y.grad)
    assert module(reduction=reduction).state_dict() == {}
    shown = "" if reduction == "mean" else f"reduction='{reduction}'"
    assert repr(module(reduction=reduction)) == f"{module.__name__}({shown})"


@pytest.mark.parametrize("module", [m for m, *_ in MODULES])
def test_loss_module_with_an_unknown_reduction_raises(module):
    allowed = "'batchmean', 'mean'" if module is tc.nn.KLDivLoss else "'mean'"
    with pytest.raises(ValueError, match=rf"{module.__name__}: reduction 'avg' is not one of "
                                         rf"{allowed}, 'sum', 'none'; expected e.g. "
                                         r"reduction='sum'"):
        module(reduction="avg")


# (module with settings, its repr, the same loss as an op call)
SETTINGS = [
    (lambda: tc.nn.SmoothL1Loss(beta=0.5), "SmoothL1Loss(beta=0.5)",
     lambda x, t: tc.ops.smooth_l1_loss(x, t, beta=0.5)),
    (lambda: tc.nn.SmoothL1Loss("sum", beta=0.0), "SmoothL1Loss(reduction='sum', beta=0.0)",
     lambda x, t: tc.ops.l1_loss(x, t, "sum")),
    (lambda: tc.nn.HuberLoss("none", delta=2.0), "HuberLoss(reduction='none', delta=2.0)",
     lambda x, t: tc.ops.huber_loss(x, t, "none", 2.0)),
    (lambda: tc.nn.BCELoss(weight=np.array([1.0, 2.0, 0.5])), "BCELoss()",
     lambda x, t: tc.ops.binary_cross_entropy(x, t, np.array([1.0, 2.0, 0.5]))),
    (lambda: tc.nn.KLDivLoss("batchmean", log_target=True),
     "KLDivLoss(reduction='batchmean', log_target=True)",
     lambda x, t: tc.ops.kl_div(x, t, "batchmean", True)),
]


@pytest.mark.parametrize("make, shown, op", SETTINGS, ids=[shown for _, shown, _ in SETTINGS])
def test_loss_modules_with_settings_run_their_op(rng, make, shown, op):
    x, t = rng.uniform(0.1, 0.9, (4, 3)), rng.uniform(0.1, 0.9, (4, 3))
    a, b, c, d = tc.Value(x), tc.Value(t), tc.Value(x), tc.Value(t)
    module = make()
    loss, expected = module(a, b), op(c, d)
    np.testing.assert_array_equal(loss.data, expected.data)
    upstream = rng.standard_normal(loss.shape)
    loss.backward(upstream)
    expected.backward(upstream)
    for ours, theirs in ((a, c), (b, d)):
        np.testing.assert_array_equal(ours.grad, theirs.grad)
    assert repr(module) == shown


def test_bce_loss_keeps_its_weight_as_a_buffer():
    """As PyTorch's: in state_dict and named_buffers, not a parameter; loaded in place."""
    module = tc.nn.BCELoss(weight=[1, 2, 3])
    assert list(module.state_dict()) == ["weight"] and list(module.parameters()) == []
    np.testing.assert_array_equal(module.state_dict()["weight"], [1, 2, 3])
    module.load_state_dict({"weight": np.array([0, 0, 1])})
    x = np.array([[0.5, 0.5, 0.25]])
    np.testing.assert_allclose(module(x, np.ones((1, 3))).item(), np.log(4) / 3, rtol=1e-15)
    assert tc.nn.BCELoss().state_dict() == {}
