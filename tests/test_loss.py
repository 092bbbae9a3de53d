"""softmax, log_softmax and cross_entropy: values against plain numpy formulas, gradients by
finite differences, the exact (softmax - onehot)/N gradient, huge logits, and every user error."""

import numpy as np
import pytest

import tinygrad_cnn as tc


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
    ((3, 4), np.eye(4, dtype=int)[:3], r"target has shape \(3, 4\)"),
    ((3, 4), np.array([0, 4, 1]), r"target values lie in \[0, 4\]; expected class ids in "
                                  r"\[0, 4\)"),
    ((3, 4), np.array([-1, 2, 1]), r"target values lie in \[-1, 2\]"),
    ((12,), np.array([1]), r"logits must be 2-D \(N, K\)"),
    ((0, 4), np.array([], dtype=int), r"logits must be 2-D \(N, K\) with N, K >= 1"),
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
