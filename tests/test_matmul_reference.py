"""matmul and linear against the nested-loop matmul of tests/reference.py."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc


@pytest.mark.parametrize("a_shape, b_shape", [((1, 1), (1, 1)), ((3, 4), (4, 2)),
                                              ((5, 7), (7, 6)), ((2, 9), (9, 1))])
def test_matmul_matches_nested_loops(rng, a_shape, b_shape):
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    out = tc.ops.matmul(tc.Value(a), tc.Value(b))
    np.testing.assert_allclose(out.data, reference.matmul(a, b), rtol=1e-12, atol=1e-12)


def test_linear_matches_nested_loops(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((3, 5)), rng.standard_normal(3)
    out = tc.ops.linear(tc.Value(x), tc.Value(w), tc.Value(b))
    np.testing.assert_allclose(out.data, reference.matmul(x, w.T) + b, rtol=1e-12, atol=1e-12)


def test_reference_matmul_by_hand():
    # the oracle itself, on numbers small enough to check by eye
    np.testing.assert_array_equal(reference.matmul(np.array([[1.0, 2.0], [3.0, 4.0]]),
                                                   np.array([[5.0], [6.0]])),
                                  [[17.0], [39.0]])
