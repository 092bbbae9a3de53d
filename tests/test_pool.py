"""max_pool2d: forward against the nested-loop oracle, gradients by finite differences on inputs
without ties, the first-maximum tie rule with exact gradients, dtypes, and every user error."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc


def test_reference_max_pool2d_by_hand():
    x = np.array([[[[1.0, 2.0, 0.0], [4.0, 3.0, 9.0], [5.0, 8.0, 7.0]]]])
    np.testing.assert_array_equal(reference.max_pool2d(x, 2), [[[[4.0]]]])
    np.testing.assert_array_equal(reference.max_pool2d(x, 2, 1), [[[[4.0, 9.0], [8.0, 9.0]]]])


# x (N, C, H, W), kernel_size, stride
CONFIGS = [
    ((1, 1, 4, 4), 2, None),            # batch 1, tiling windows
    ((2, 3, 6, 8), 2, None),            # batch > 1, C > 1, non-square image
    ((2, 2, 7, 9), 2, None),            # odd sizes: the last row and column are left out
    ((2, 2, 6, 9), (2, 3), None),       # non-square kernel
    ((1, 2, 9, 10), 3, 3),              # stride 3
    ((2, 1, 7, 7), 3, 2),               # overlapping windows, stride 2
    ((1, 2, 5, 6), 2, 1),               # overlapping windows, stride 1
    ((2, 2, 5, 4), (5, 4), None),       # kernel as large as the image
    ((1, 2, 8, 9), (3, 2), (2, 3)),     # stride and kernel as (h, w) pairs
    ((2, 16, 10, 10), 2, None),         # the seed's pooling layer, 10 -> 5
]


@pytest.mark.parametrize("x_shape, kernel_size, stride", CONFIGS)
def test_forward_matches_nested_loops(rng, x_shape, kernel_size, stride):
    x = rng.standard_normal(x_shape)
    out = tc.ops.max_pool2d(tc.Value(x), kernel_size, stride)
    expected = reference.max_pool2d(x, kernel_size, stride)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


def distinct(rng, shape):
    """Values at least 0.01 apart, so no window has a tie within gradcheck's eps."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.01 - 1.0


@pytest.mark.parametrize("x_shape, kernel_size, stride", [
    ((1, 1, 4, 4), 2, None),
    ((2, 3, 5, 7), (2, 3), None),
    ((2, 2, 7, 7), 3, 2),
    ((1, 2, 5, 6), 2, 1),
])
def test_gradcheck(rng, x_shape, kernel_size, stride):
    x = distinct(rng, x_shape)
    assert tc.gradcheck(lambda x: tc.ops.max_pool2d(x, kernel_size, stride), [x])


def test_ties_send_the_gradient_to_the_first_maximum_row_major():
    x = tc.Value(np.array([[[[1.0, 5.0, 2.0, 2.0],
                             [5.0, 3.0, 2.0, 2.0],
                             [0.0, 7.0, 4.0, 1.0],
                             [7.0, 7.0, 1.0, 4.0]]]]))
    out = tc.ops.max_pool2d(x, 2)
    out.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(out.data, [[[[5.0, 2.0], [7.0, 4.0]]]])
    np.testing.assert_array_equal(x.grad, [[[[0.0, 10.0, 20.0, 0.0],
                                             [0.0, 0.0, 0.0, 0.0],
                                             [0.0, 30.0, 40.0, 0.0],
                                             [0.0, 0.0, 0.0, 0.0]]]])


def test_ties_in_overlapping_windows_accumulate_at_each_first_maximum():
    # 2x2 windows with stride 1 over a 3x3 image of one value: every window's first element
    x = tc.Value(np.ones((1, 1, 3, 3)))
    tc.ops.max_pool2d(x, 2, 1).backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[1.0, 2.0, 0.0],
                                             [3.0, 4.0, 0.0],
                                             [0.0, 0.0, 0.0]]]])
    # the centre is the maximum of all four windows, so it collects all their gradients
    x = tc.Value(np.array([[[[1.0, 1.0, 1.0], [1.0, 9.0, 1.0], [1.0, 1.0, 1.0]]]]))
    tc.ops.max_pool2d(x, 2, 1).backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[0.0, 0.0, 0.0],
                                             [0.0, 10.0, 0.0],
                                             [0.0, 0.0, 0.0]]]])
    # corners tie with the centre: windows (0, 0) and (0, 1) meet a corner 9 first, windows
    # (1, 0) and (1, 1) meet the centre first (row-major within each window)
    x = tc.Value(np.array([[[[9.0, 1.0, 9.0], [1.0, 9.0, 1.0], [9.0, 1.0, 9.0]]]]))
    tc.ops.max_pool2d(x, 2, 1).backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(x.grad, [[[[1.0, 0.0, 2.0],
                                             [0.0, 7.0, 0.0],
                                             [0.0, 0.0, 0.0]]]])


def test_float32_stays_float32(rng):
    x = tc.Value(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    out = tc.ops.max_pool2d(x, 3, 2)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == x.grad.dtype == np.float32


def test_stride_defaults_to_the_kernel_and_is_kept_as_a_param(rng):
    x = tc.Value(rng.standard_normal((1, 1, 6, 6)))
    out = tc.ops.max_pool2d(x, 3)
    assert out.shape == (1, 1, 2, 2)
    assert out.fn.params == {"kernel_size": 3, "stride": None}


@pytest.mark.parametrize("x_shape, kwargs, match", [
    ((4, 4), {}, r"4-D input \(N, C, H, W\), got shape \(4, 4\)"),
    ((1, 2, 3, 4, 4), {}, r"4-D input .* got shape \(1, 2, 3, 4, 4\)"),
    ((1, 1, 4, 4), {"kernel_size": 5}, r"kernel 5x5 is larger than the input 4x4"),
    ((1, 1, 4, 6), {"kernel_size": (2, 7)}, r"kernel 2x7 is larger than the input 4x6"),
    ((1, 1, 4, 4), {"kernel_size": 0}, r"kernel_size must be a positive int .* got 0"),
    ((1, 1, 4, 4), {"kernel_size": (2, -1)}, r"kernel_size must be a positive int"),
    ((1, 1, 4, 4), {"stride": 0}, r"stride must be a positive int .* got 0"),
    ((1, 1, 4, 4), {"stride": 1.5}, r"stride must be a positive int .* got 1.5"),
])
def test_bad_input_raises(x_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.max_pool2d(tc.Value(np.ones(x_shape)), **kwargs)
