"""Property-based tests: hypothesis draws shapes and settings, and the fast kernels must agree
with the nested-loop oracles, and broadcast gradients with central differences, for all of
them — not only the hand-picked cases of the per-op test files."""

import numpy as np
import reference
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import ops

FEW = settings(max_examples=25, deadline=None)


@st.composite
def conv_cases(draw):
    """x (N, C, H, W), w (F, C, KH, KW), stride, padding; the kernel fits the padded input."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh = draw(st.integers(1, h + 2 * ph))
    kw = draw(st.integers(1, w + 2 * pw))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    seed = draw(st.integers(0, 2**32 - 1))
    return (n, c, h, w), (f, c, kh, kw), stride, (ph, pw), seed


@FEW
@given(conv_cases())
def test_conv2d_matches_the_nested_loops_for_any_shape(case):
    x_shape, w_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out = ops.conv2d(x, tc.Value(w), tc.Value(b), stride=stride, padding=padding)
    expected = reference.conv2d(x, w, b, stride=stride, padding=padding)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@FEW
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2**32 - 1))
def test_max_pool2d_matches_the_nested_loops_for_any_window(kh, kw, sh, sw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, kh + 5, kw + 4))
    out = ops.max_pool2d(x, (kh, kw), (sh, sw))
    np.testing.assert_array_equal(out.data, reference.max_pool2d(x, (kh, kw), (sh, sw)))


@st.composite
def broadcast_pairs(draw):
    """Two shapes that broadcast: a shape, and a copy with some axes set to 1 or dropped."""
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
    other = [1 if draw(st.booleans()) else n for n in shape]
    other = other[draw(st.integers(0, len(other))):]          # drop some leading axes
    return (tuple(shape), tuple(other)) if draw(st.booleans()) else (tuple(other), tuple(shape))


@FEW
@given(broadcast_pairs(), st.sampled_from(["add", "sub", "mul", "div"]),
       st.integers(0, 2**32 - 1))
def test_broadcast_gradients_match_central_differences(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1]) * rng.choice([-1, 1], shapes[1])   # away from 0
    assert tc.gradcheck(getattr(ops, op), [a, b])
