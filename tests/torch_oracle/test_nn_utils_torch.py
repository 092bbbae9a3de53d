"""nn.utils' gradient clipping against torch.nn.utils: for random gradients of several shapes
(a 0-d one, a parameter without grad), several norm types and max_norms, the total norm and the
clipped gradients equal torch's in float64, non-finite gradients included; clip_grad_value_
equals torch's; in float32 both keep the dtype and agree to float32 precision."""

import math

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

SHAPES = [(4, 3), (), (2, 3, 5), (6,), (1, 1, 2, 2)]
NORM_TYPES = [2.0, 1.0, 3.0, 0.5, 1.5, math.inf]


def twins(torch, grads):
    """Our parameters and torch's with these grads (None: no grad), each its own copy."""
    ours, theirs = [], []
    for g in grads:
        shape, dtype = (3,) if g is None else g.shape, np.float64 if g is None else g.dtype
        p = tc.Value(np.zeros(shape, dtype=dtype))
        t = torch.zeros(shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        if g is not None:
            p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def random_grads(rng, scale, dtype=np.float64):
    grads = [np.asarray(scale * rng.standard_normal(shape), dtype=dtype) for shape in SHAPES]
    grads.insert(2, None)
    return grads


def assert_same_grads(ours, theirs, rtol):
    for p, t in zip(ours, theirs, strict=True):
        if t.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == t.grad.numpy().dtype
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.0, 0.1, 1.0, 5.0, 1e6, math.inf])
@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_clip_grad_norm_equals_torch(torch, rng, norm_type, max_norm, scale):
    ours, theirs = twins(torch, random_grads(rng, scale))
    arrays = [p.grad for p in ours]
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total == pytest.approx(their_total.item(), rel=1e-14)
    assert_same_grads(ours, theirs, rtol=1e-14)
    assert all(p.grad is a for p, a in zip(ours, arrays, strict=True))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_grads_equal_torch(torch, rng, norm_type, bad):
    grads = random_grads(rng, 1.0)
    grads[0][1, 2] = bad
    ours, theirs = twins(torch, grads)
    total = nn.utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(total, their_total.item())       # nan == nan here
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, None if t.grad is None else t.grad.numpy())
    ours, theirs = twins(torch, grads)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="total norm of order"):
        nn.utils.clip_grad_norm_(ours, 1.0, norm_type, error_if_nonfinite=True)


@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_float32_grads_stay_float32_and_agree_with_torch(torch, rng, norm_type):
    ours, theirs = twins(torch, random_grads(rng, 10.0, np.float32))
    total = nn.utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    their_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    assert total == pytest.approx(their_total.item(), rel=1e-6)    # torch sums in float32
    assert_same_grads(ours, theirs, rtol=1e-6)


def test_no_grads_gives_zero_as_torch(torch):
    ours, theirs = twins(torch, [None, None])
    assert nn.utils.clip_grad_norm_(ours, 1.0) == torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert nn.utils.clip_grad_norm_([], 1.0) == torch.nn.utils.clip_grad_norm_([], 1.0).item()


@pytest.mark.parametrize("clip_value", [0.0, 0.01, 0.5, 2.0, math.inf])
def test_clip_grad_value_equals_torch(torch, rng, clip_value):
    grads = random_grads(rng, 1.0)
    grads[3][0, 1, 2] = math.nan
    ours, theirs = twins(torch, grads)
    arrays = [p.grad for p in ours]
    nn.utils.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t, a in zip(ours, theirs, arrays, strict=True):
        assert p.grad is a
        np.testing.assert_array_equal(p.grad, None if t.grad is None else t.grad.numpy())
