"""Tests of tc.ops.dropout and nn.Dropout: the zeroed fraction and the 1/(1-p) scaling, the
identity in evaluation, p=1 (everything zeroed, no division by zero), masks from the generator
that tc.manual_seed sets, gradients of first and second order, errors. (PyTorch comparisons:
tests/torch_oracle/test_layers.py and tests/torch_oracle/test_dropout_p_one_torch.py.)"""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.gradcheck import gradgradcheck


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_zeroed_fraction_and_scaling(p):
    tc.manual_seed(0)
    x = np.random.default_rng(1).uniform(1, 2, (100, 1000))      # never 0 itself
    out = ops.dropout(tc.Value(x), p).data
    zeroed = out == 0
    # 100,000 Bernoulli(p) draws: the fraction is within 4 standard deviations of p
    assert abs(zeroed.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    np.testing.assert_allclose(out[~zeroed], x[~zeroed] / (1 - p), rtol=1e-15)
    assert abs(out.mean() - x.mean()) < 4 * out.std() / np.sqrt(x.size)   # E[out] = x


def test_mask_comes_from_the_default_generator():
    """kept where a uniform float32 draw of the seeded default generator is >= p."""
    x = np.ones((3, 4, 5), dtype=np.float32)
    tc.manual_seed(7)
    out = ops.dropout(x, 0.25).data
    keep = np.random.default_rng(7).random(x.shape, dtype=np.float32) >= 0.25
    np.testing.assert_array_equal(out, np.where(keep, np.float32(1 / 0.75), 0))
    assert out.dtype == np.float32


def test_reproducible_with_manual_seed_and_fresh_per_call(rng):
    x = rng.standard_normal((8, 16))
    tc.manual_seed(3)
    first, second = ops.dropout(x, 0.5).data, ops.dropout(x, 0.5).data
    assert not np.array_equal(first == 0, second == 0)            # a new mask every call
    tc.manual_seed(3)
    np.testing.assert_array_equal(ops.dropout(x, 0.5).data, first)
    np.testing.assert_array_equal(ops.dropout(x, 0.5).data, second)


def test_identity_in_evaluation_and_for_p_zero(rng):
    x = tc.Value(rng.standard_normal((4, 5)))
    assert ops.dropout(x, 0.5, training=False) is x
    assert ops.dropout(x, 0.0) is x
    array = rng.standard_normal(3)
    out = ops.dropout(array, 0.9, training=False)
    assert isinstance(out, tc.Value) and out.data is array and not out.requires_grad


def test_backward_is_the_same_mask_scaled(rng):
    x = tc.Value(rng.standard_normal((6, 7)))
    tc.manual_seed(0)
    out = ops.dropout(x, 0.4)
    grad = rng.standard_normal((6, 7))
    out.backward(grad)
    kept = out.data != 0
    np.testing.assert_allclose(x.grad, np.where(kept, grad / 0.6, 0), rtol=1e-15)


def seeded_dropout(p):
    """dropout with the same mask at every call, so finite differences see one function."""
    def fn(x):
        tc.manual_seed(0)
        return ops.dropout(x, p)
    return fn


@pytest.mark.parametrize("shape, p", [((5,), 0.5), ((3, 4), 0.2), ((2, 3, 4, 5), 0.7)])
def test_gradcheck_and_gradgradcheck(rng, shape, p):
    x = rng.standard_normal(shape)
    assert tc.gradcheck(seeded_dropout(p), [x])
    assert gradgradcheck(seeded_dropout(p), [x])


def test_module_follows_train_and_eval(rng):
    model = nn.Sequential(nn.Linear(4, 50), nn.Dropout(0.5))
    x = rng.standard_normal((10, 4)).astype(np.float32)
    hidden = model[0](x).data
    tc.manual_seed(0)
    out = model(x).data
    keep = np.random.default_rng(0).random(hidden.shape, dtype=np.float32) >= 0.5
    np.testing.assert_allclose(out, np.where(keep, hidden * 2, 0), rtol=1e-6)
    model.eval()
    np.testing.assert_array_equal(model(x).data, hidden)
    assert repr(model[1]) == "Dropout(p=0.5)" and list(model[1].parameters()) == []


def test_errors():
    x = np.ones(3)
    with pytest.raises(ValueError, match=r"dropout: p is 1.01; expected a probability in "
                                         r"\[0, 1\] \(the chance that an element is zeroed\), "
                                         r"as PyTorch's; pass e.g. p=0.5"):
        ops.dropout(x, 1.01)
    with pytest.raises(ValueError, match=r"dropout: p is -0.1; expected a probability in "
                                         r"\[0, 1\]"):
        ops.dropout(x, -0.1)
    with pytest.raises(ValueError, match=r"dropout: p is 1.5"):
        ops.dropout(x, 1.5, training=False)                       # checked in eval too
    with pytest.raises(TypeError, match=r"dropout: p is str '0.5'; expected a probability"):
        ops.dropout(x, "0.5")
    with pytest.raises(TypeError, match=r"dropout: training is str 'yes'; expected True or "
                                        r"False"):
        ops.dropout(x, 0.5, training="yes")
    with pytest.raises(ValueError, match=r"Dropout: p is 1.5; expected a probability in "
                                         r"\[0, 1\] \(the chance that an element is zeroed\)"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"Dropout: p is True; expected a probability"):
        nn.Dropout(True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_p_one_zeroes_everything_as_x_times_zero(dtype):
    """As PyTorch's: out = x * 0, so -0.0 for a negative element and NaN for an infinite one;
    the gradient is 0; no mask is drawn from the generator."""
    x = tc.Value(np.array([[1.5, -2.0, np.inf], [0.0, -0.5, 3.0]], dtype=dtype))
    tc.manual_seed(4)
    with np.errstate(invalid="ignore"):                   # inf * 0
        out = nn.Dropout(p=1.0)(x)
    expected = np.array([[0.0, -0.0, np.nan], [0.0, -0.0, 0.0]], dtype=dtype)
    np.testing.assert_array_equal(out.data, expected)
    finite = np.isfinite(expected)                         # a NaN's sign is the CPU's
    np.testing.assert_array_equal(np.signbit(out.data[finite]), np.signbit(expected[finite]))
    assert out.dtype == dtype
    out.backward(np.random.default_rng(0).standard_normal((2, 3)))
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))
    untouched = np.random.default_rng(4).random(3, dtype=np.float32)
    np.testing.assert_array_equal(tc.random.default_generator().random(3, dtype=np.float32),
                                  untouched)
    assert repr(nn.Dropout(1.0)) == "Dropout(p=1.0)"


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 4, 2)])
def test_p_one_gradcheck_and_gradgradcheck(rng, shape):
    x = rng.standard_normal(shape)
    assert tc.gradcheck(lambda x: ops.dropout(x, 1.0) + x, [x])
    assert gradgradcheck(lambda x: ops.dropout(x, 1.0) * x, [x])
