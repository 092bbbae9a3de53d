"""softmax, log_softmax and the losses (cross_entropy, nll_loss, mse_loss,
binary_cross_entropy_with_logits) with every reduction: values against plain numpy formulas,
gradients and second derivatives by finite differences, the exact (softmax - onehot)/N
gradient, huge logits, and every user error; the loss modules (nn.CrossEntropyLoss, ...) give
exactly their op's loss and gradient."""

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
    ((3, 4), np.eye(4, dtype=int)[:3], r"target has shape \(3, 4\), like one-hot rows; expected "
                                       r"3 integer class ids, shape \(3,\); convert with "
                                       r"labels\.argmax\(axis=1\)"),
    ((3, 4), np.eye(4)[:3], r"like one-hot rows; .* labels\.argmax\(axis=1\)"),
    ((3, 4), np.zeros((3, 1), dtype=int), r"target has shape \(3, 1\) but logits have shape"),
    ((3, 4), np.array([0, 4, 1]), r"target values lie in \[0, 4\]; expected class ids in "
                                  r"\[0, 4\)"),
    ((3, 4), np.array([-1, 2, 1]), r"target values lie in \[-1, 2\]"),
    ((12,), np.array([1]), r"logits has shape \(12,\); expected 2-D \(N, K\), a row of K >= 1 "
                           r"class scores for each of N >= 1 samples; for a single sample, add "
                           r"the batch axis: logits\.reshape\(1, -1\), with a target of shape "
                           r"\(1,\)$"),
    ((0, 4), np.array([], dtype=int), r"logits has shape \(0, 4\); expected 2-D \(N, K\), a row "
                                      r"of K >= 1 class scores for each of N >= 1 samples$"),
])
def test_cross_entropy_bad_input_raises(logits_shape, target, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.cross_entropy(tc.Value(np.zeros(logits_shape)), target)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_bad_axis_raises(op):
    with pytest.raises(ValueError, match=rf"{op}: axis 2 is out of range for an input of "
                                         r"shape \(3, 4\)"):
        getattr(tc.ops, op)(tc.Value(np.zeros((3, 4))), axis=2)
    with pytest.raises(ValueError, match=rf"{op}: input is a scalar"):
        getattr(tc.ops, op)(tc.Value(1.0), axis=0)


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


def test_cross_entropy_keeps_only_the_integer_target(rng):
    loss = tc.ops.cross_entropy(tc.Value(rng.standard_normal((3, 4))), [0, 3, 1])
    kept = {k: v for k, v in vars(loss.fn).items() if isinstance(v, np.ndarray)}
    assert list(kept) == ["target"] and kept["target"].dtype.kind == "i"


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


def test_losses_keep_float32(rng):
    x = tc.Value(rng.standard_normal((4, 3)).astype(np.float32))
    target = rng.standard_normal((4, 3)).astype(np.float32)
    for loss in (tc.ops.mse_loss(x, target), tc.ops.nll_loss(x, [0, 1, 2, 0]),
                 tc.ops.mse_loss(x, np.ones((4, 3), dtype=int)),
                 tc.ops.binary_cross_entropy_with_logits(x, target)):
        x.grad = None
        loss.backward()
        assert loss.dtype == x.grad.dtype == np.float32


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_one_hot_labels_hint_argmax_and_the_fix_works(rng, op):
    logits, labels = rng.standard_normal((5, 4)), np.eye(4)[[0, 3, 1, 1, 2]]
    with pytest.raises(ValueError, match=rf"{op}: target has shape \(5, 4\), like one-hot "
                                         r"rows; .* labels\.argmax\(axis=1\)"):
        getattr(tc.ops, op)(logits, labels)
    assert getattr(tc.ops, op)(logits, labels.argmax(axis=1)).shape == ()


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 5)])
def test_scores_per_position_hint_a_reshape_that_works(rng, shape):
    """Logits (N, K, d1, ...) with a class per position: the message's transpose and reshape
    give the mean over every position of -log softmax over the K classes."""
    logits = rng.standard_normal(shape)
    target = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    with pytest.raises(ValueError, match=r"for a class per position \(K = 3 on axis 1, target "
                                         r"of shape .*\), make a row per position: "
                                         r"logits\.transpose\(0, 2, .*1\)\.reshape\(-1, 3\) "
                                         r"with target\.reshape\(-1\)"):
        tc.ops.cross_entropy(tc.Value(logits), target)
    axes = (0, *range(2, len(shape)), 1)
    loss = tc.ops.cross_entropy(tc.Value(logits).transpose(*axes).reshape(-1, 3),
                                target.reshape(-1))
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.take_along_axis(log_p, target[:, None], axis=1).mean()
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)


@pytest.mark.parametrize("op, args", [
    ("cross_entropy", (np.zeros((2, 3)), [0, 1])), ("nll_loss", (np.zeros((2, 3)), [0, 1])),
    ("mse_loss", (np.zeros(3), np.zeros(3))),
    ("binary_cross_entropy_with_logits", (np.zeros(3), np.zeros(3))),
])
def test_unknown_reduction_raises(op, args):
    with pytest.raises(ValueError, match=rf"{op}: reduction 'avg' is not one of 'mean', 'sum', "
                                         r"'none'"):
        getattr(tc.ops, op)(*args, reduction="avg")


@pytest.mark.parametrize("op", ["mse_loss", "binary_cross_entropy_with_logits"])
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
    with pytest.raises(ValueError, match=r"nll_loss: log_probs has shape \(3,\); expected 2-D "
                                         r"\(N, K\)"):
        tc.ops.nll_loss(np.zeros(3), [0])
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


MODULES = [(tc.nn.CrossEntropyLoss, tc.ops.cross_entropy, "ids"),
           (tc.nn.NLLLoss, tc.ops.nll_loss, "ids"), (tc.nn.MSELoss, tc.ops.mse_loss, "reals"),
           (tc.nn.BCEWithLogitsLoss, tc.ops.binary_cross_entropy_with_logits, "probabilities")]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("module, op, targets", MODULES, ids=[m.__name__ for m, _, _ in MODULES])
def test_loss_modules_run_their_op(rng, module, op, targets, reduction):
    scores = rng.standard_normal((4, 3))
    target = {"ids": rng.integers(0, 3, 4), "reals": rng.standard_normal((4, 3)),
              "probabilities": rng.random((4, 3))}[targets]
    x, y = tc.Value(scores), tc.Value(scores)
    loss, expected = module(reduction=reduction)(x, target), op(y, target, reduction)
    np.testing.assert_array_equal(loss.data, expected.data)
    upstream = rng.standard_normal(loss.shape)
    loss.backward(upstream)
    expected.backward(upstream)
    np.testing.assert_array_equal(x.grad, y.grad)
    assert module(reduction=reduction).state_dict() == {}
    shown = "" if reduction == "mean" else f"reduction='{reduction}'"
    assert repr(module(reduction=reduction)) == f"{module.__name__}({shown})"


@pytest.mark.parametrize("module", [m for m, _, _ in MODULES])
def test_loss_module_with_an_unknown_reduction_raises(module):
    with pytest.raises(ValueError, match=rf"{module.__name__}: reduction 'avg' is not one of "
                                         r"'mean', 'sum', 'none'; expected e.g. "
                                         r"reduction='sum'"):
        module(reduction="avg")
