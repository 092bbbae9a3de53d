"""max_pool2d, avg_pool2d and adaptive_avg_pool2d: forward against the nested-loop oracles,
gradients and second derivatives by finite differences (max-pool on inputs without ties), the
first-maximum tie rule with exact gradients, max-pool's -inf padding that never wins, the
backward ops as each other's transposes, adaptive pooling's bins (overlapping, larger than the
input, tiling as avg_pool2d), dtypes, and every user error with the fix it names; max_pool1d and
avg_pool1d (batched and unbatched) against 1-D loops, by finite differences, their tie rule, the
2-D ops they record and their errors in 1-D terms; unbatched 2-D pools as a batch of one."""

import ast
import re

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn.ops import pool


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


@pytest.mark.parametrize("x_shape, kernel_size, stride", [
    ((1, 1, 4, 4), 2, None),            # tiling windows
    ((2, 2, 5, 6), (3, 2), (1, 2)),     # overlapping along the height, batch and channels
    ((1, 2, 5, 5), 3, 2),               # overlapping both ways
    ((2, 1, 3, 4), (3, 4), None),       # kernel as large as the image
])
def test_gradgradcheck(rng, x_shape, kernel_size, stride):
    x = distinct(rng, x_shape)
    assert tc.gradgradcheck(lambda x: tc.ops.max_pool2d(x, kernel_size, stride), [x])


# x (N, C, H, W), kernel_size, stride, padding
PADDED = [
    ((1, 1, 4, 4), 2, None, 1),               # batch 1, 2x2 tiling windows, each edge half padding
    ((2, 3, 7, 7), 3, 2, 1),                  # ResNet's stem pool: MaxPool2d(3, 2, padding=1)
    ((2, 2, 5, 6), (3, 2), (1, 2), (1, 0)),   # asymmetric: padding along the height only
    ((1, 2, 6, 5), (2, 5), (2, 1), (0, 2)),   # asymmetric the other way, overlapping columns
    ((2, 1, 3, 4), (3, 4), None, (1, 2)),     # kernel as large as the image, padding k // 2
    ((1, 2, 9, 10), 3, 3, 1),                 # tiling 3x3 windows
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", PADDED)
def test_padded_forward_matches_nested_loops(rng, x_shape, kernel_size, stride, padding):
    x = rng.standard_normal(x_shape)
    out = tc.ops.max_pool2d(tc.Value(x), kernel_size, stride, padding)
    expected = reference.max_pool2d(x, kernel_size, stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)
    assert np.isfinite(out.data).all()                     # the padding never wins a window


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", PADDED)
def test_padded_gradcheck_and_gradgradcheck(rng, x_shape, kernel_size, stride, padding):
    x = distinct(rng, x_shape)

    def max_pool(x):
        return tc.ops.max_pool2d(x, kernel_size, stride, padding)

    assert tc.gradcheck(max_pool, [x])
    assert tc.gradgradcheck(max_pool, [x])


def test_padding_never_wins_even_against_minus_infinity():
    # 3x3 windows at stride 2 with padding 1 over a 3x3 image of -inf: every window's maximum
    # is -inf, and its gradient goes to the window's first image element, as PyTorch
    x = tc.Value(np.full((1, 1, 3, 3), -np.inf))
    out = tc.ops.max_pool2d(x, 3, 2, 1)
    out.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(out.data, np.full((1, 1, 2, 2), -np.inf))
    np.testing.assert_array_equal(x.grad, [[[[1.0, 2.0, 0.0],
                                             [3.0, 4.0, 0.0],
                                             [0.0, 0.0, 0.0]]]])
    # ties among image elements keep the first-maximum rule; a padded window sums its share
    x = tc.Value(np.array([[[[-5.0, 2.0, 2.0],
                             [2.0, -5.0, -5.0],
                             [-5.0, -5.0, -5.0]]]]))
    out = tc.ops.max_pool2d(x, 2, 2, 1)                    # windows hold 1, 2, 2 and 4 elements
    out.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(out.data, [[[[-5.0, 2.0], [2.0, -5.0]]]])
    np.testing.assert_array_equal(x.grad, [[[[1.0, 2.0, 0.0],
                                             [3.0, 4.0, 0.0],
                                             [0.0, 0.0, 0.0]]]])


@pytest.mark.parametrize("padding", [0, 1])
def test_a_nan_is_the_maximum_and_the_last_nan_of_a_window_gets_its_gradient_and_index(padding):
    x = tc.Value(np.array([[[[1.0, 5.0, 3.0], [np.nan, 2.0, 9.0], [0.0, np.nan, 0.0]]]]))
    out, indices = tc.ops.max_pool2d(x, 3, 3, padding, return_indices=True)   # one window
    out.backward(np.full(out.shape, 2.0))
    # unpadded, the window holds both NaNs and the last wins (PyTorch's 7); padded by 1, it
    # holds rows and columns 0-1 only, so the one NaN at (1, 0) (PyTorch's 3)
    place = 7 if padding == 0 else 3
    assert np.isnan(out.data).all() and indices.data.ravel()[0] == place
    expected = np.zeros(9)
    expected[place] = 2.0
    np.testing.assert_array_equal(x.grad[0, 0], expected.reshape(3, 3))


def test_a_nan_wins_the_fast_2x2_windows_too():
    y = tc.Value(np.array([[[[1.0, np.nan, np.nan, 0.0], [2.0, 3.0, 4.0, np.nan]]]]))
    out, indices = tc.ops.max_pool2d(y, 2, return_indices=True)
    out.backward(np.ones(out.shape))
    assert np.isnan(out.data).all()
    np.testing.assert_array_equal(indices.data[0, 0], [[1, 7]])     # the last NaN of each
    np.testing.assert_array_equal(y.grad[0, 0], [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def test_padded_pool_second_order_term_is_u_at_each_windows_maximum(rng):
    # d/dg <dx(g), u> = u read at each window's argmax, which for distinct values is the
    # derivative of the pooled x + t*u at t = 0: a central difference of the nested loops
    x = tc.Value(distinct(rng, (2, 2, 5, 5)), requires_grad=True)
    out = tc.ops.max_pool2d(x, 3, 2, 1)
    g = tc.Value(rng.standard_normal(out.shape), requires_grad=True)
    (dx,) = tc.grad(out, [x], grad_output=g, create_graph=True)
    u = rng.standard_normal(x.shape)
    (dg,) = tc.grad((dx * u).sum(), [g])
    t = 1e-4                                        # values are 0.01 apart: no window changes
    expected = (reference.max_pool2d(x.data + t * u, 3, 2, 1)
                - reference.max_pool2d(x.data - t * u, 3, 2, 1)) / (2 * t)
    np.testing.assert_allclose(dg.data, expected, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("padding", [0, (1, 0)])
def test_scatter_and_gather_are_each_others_transpose(rng, padding):
    # <scatter(g), u> = <g, gather(u)> at the same argmax: why each is the other's backward
    x = rng.standard_normal((2, 3, 7, 8))
    out = tc.ops.max_pool2d(tc.Value(x), 3, (2, 1), padding)
    argmax, kernel, stride, pads = out.fn.argmax, out.fn.kernel, out.fn.stride, out.fn.padding
    g, u = rng.standard_normal(out.shape), rng.standard_normal(x.shape)
    scattered = pool.MaxPool2dScatter.run(g, argmax, x_shape=x.shape, kernel=kernel, stride=stride,
                                          padding=pads)
    gathered = pool.MaxPool2dGather.run(u, argmax, kernel=kernel, stride=stride, padding=pads)
    np.testing.assert_allclose((scattered * u).sum(), (g * gathered).sum(), rtol=1e-12)
    np.testing.assert_array_equal(pool.MaxPool2dGather.run(x, argmax, kernel=kernel,
                                                           stride=stride, padding=pads), out.data)
    assert argmax.dtype.kind == "i" and [k for k, v in vars(out.fn).items()
                                         if isinstance(v, np.ndarray) and v.dtype.kind == "f"] == []


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


@pytest.mark.parametrize("padding", [0, 1, (1, 0)])
def test_float32_stays_float32(rng, padding):
    x = tc.Value(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    out = tc.ops.max_pool2d(x, 3, 2, padding)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == x.grad.dtype == np.float32
    np.testing.assert_array_equal(out.data, reference.max_pool2d(x.data, 3, 2, padding))


def test_stride_defaults_to_the_kernel_and_is_kept_as_a_param(rng):
    x = tc.Value(rng.standard_normal((1, 1, 6, 6)))
    out = tc.ops.max_pool2d(x, 3)
    assert out.shape == (1, 1, 2, 2)
    assert out.fn.params == {"kernel_size": 3, "stride": None}     # no padding: as drawn before
    assert tc.ops.max_pool2d(x, 3, padding=(0, 0)).fn.params == {"kernel_size": 3, "stride": None}
    padded = tc.ops.max_pool2d(x, 3, padding=1)
    assert padded.shape == (1, 1, 2, 2)                             # (6 + 2 - 3) // 3 + 1
    assert padded.fn.params == {"kernel_size": 3, "stride": None, "padding": 1}


@pytest.mark.parametrize("x_shape, kwargs, match", [
    ((4,), {}, r"max_pool2d: input has shape \(4,\); expected a 4-D input \(N, C, H, W\) or a "
               r"3-D one \(C, H, W\)$"),
    ((1, 2, 3, 4, 4), {}, r"input has shape \(1, 2, 3, 4, 4\); expected a 4-D input \(N, C, H, "
                          r"W\) or a 3-D one \(C, H, W\); to pool every image, merge the leading "
                          r"axes: use x\.reshape\(-1, 3, 4, 4\)$"),
    ((1, 1, 4, 4), {"kernel_size": 5}, r"kernel 5x5 is larger than the input 4x4"),
    ((1, 1, 4, 6), {"kernel_size": (2, 7)}, r"kernel 2x7 is larger than the input 4x6"),
    ((1, 1, 4, 4), {"kernel_size": 2, "padding": 2},
     r"max_pool2d: padding 2 is more than half the kernel \(2, 2\); expected padding <= "
     r"kernel_size // 2 \(as PyTorch\), so that every window holds part of the image; pass "
     r"padding=1 or less, or a larger kernel_size$"),
    ((1, 1, 6, 6), {"kernel_size": (3, 4), "padding": (1, 3)},
     r"padding \(1, 3\) is more than half the kernel \(3, 4\); .* pass padding=\(1, 2\) or less"),
    ((1, 1, 2, 2), {"kernel_size": (5, 2), "padding": (1, 0)},
     r"max_pool2d: kernel 5x2 is larger than the padded input 4x2"),
])
def test_bad_input_raises(x_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.max_pool2d(tc.Value(np.ones(x_shape)), **kwargs)


TWO_D = r"an int >= {0} or an \(h, w\) pair of such ints"
ONE_D = r"an int >= {0} \(or a tuple of one\)"


@pytest.mark.parametrize("op, x_shape, kwargs, error, match", [
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 0}, ValueError,
     rf"kernel_size is 0; expected {TWO_D.format(1)}; pass e\.g\. kernel_size=1$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": (2, -1)}, ValueError,
     rf"kernel_size is \(2, -1\); expected {TWO_D.format(1)}; pass e\.g\. kernel_size=\(2, 1\)$"),
    ("max_pool2d", (1, 1, 4, 4), {"stride": 0}, ValueError,
     rf"stride is 0; expected {TWO_D.format(1)}; pass e\.g\. stride=1$"),
    ("max_pool2d", (1, 1, 4, 4), {"stride": 1.5}, TypeError,
     rf"stride is float 1\.5; expected {TWO_D.format(1)}; pass e\.g\. stride=1$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 3, "padding": -1}, ValueError,
     rf"padding is -1; expected {TWO_D.format(0)}; pass e\.g\. padding=0$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 3, "padding": (1, -1)}, ValueError,
     rf"padding is \(1, -1\); expected {TWO_D.format(0)}; pass e\.g\. padding=\(1, 0\)$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 3, "padding": 1.0}, TypeError,
     rf"padding is float 1\.0; expected {TWO_D.format(0)}; pass e\.g\. padding=1$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 3, "padding": "same"}, TypeError,
     rf"padding is str 'same'; expected {TWO_D.format(0)}; pass e\.g\. padding=0$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 3, "padding": (1, 1, 1)}, ValueError,
     rf"padding is \(1, 1, 1\); expected {TWO_D.format(0)}; pass e\.g\. padding=1$"),
    ("max_pool2d", (1, 1, 4, 4), {"kernel_size": 3, "padding": True}, TypeError,
     rf"padding is bool True; expected {TWO_D.format(0)}; pass e\.g\. padding=0$"),
    ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "padding": -1}, ValueError,
     rf"padding is -1; expected {TWO_D.format(0)}; pass e\.g\. padding=0$"),
    ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 0}, ValueError,
     rf"kernel_size is 0; expected {TWO_D.format(1)}; pass e\.g\. kernel_size=1$"),
    ("avg_pool2d", (1, 1, 4, 4), {"kernel_size": 2, "stride": (1, 0)}, ValueError,
     rf"stride is \(1, 0\); expected {TWO_D.format(1)}; pass e\.g\. stride=1$"),
    ("max_pool1d", (1, 2, 6), {"kernel_size": (2, 2)}, ValueError,
     rf"kernel_size is \(2, 2\); expected {ONE_D.format(1)}; pass e\.g\. kernel_size=2$"),
    ("avg_pool1d", (1, 2, 6), {"kernel_size": 0}, ValueError,
     rf"kernel_size is 0; expected {ONE_D.format(1)}; pass e\.g\. kernel_size=1$"),
    ("max_pool1d", (1, 2, 6), {"kernel_size": 2, "stride": 1.5}, TypeError,
     rf"stride is float 1\.5; expected {ONE_D.format(1)}; pass e\.g\. stride=1$"),
    ("avg_pool1d", (1, 2, 6), {"kernel_size": 2, "padding": -1}, ValueError,
     rf"padding is -1; expected {ONE_D.format(0)}; pass e\.g\. padding=0$"),
])
def test_pool_size_settings_errors_and_their_fixes(op, x_shape, kwargs, error, match):
    """The kernel_size, stride and padding of every pool are checked as the convolutions' are
    (layout.check_sizes): the message names the setting, and the setting it suggests runs."""
    kwargs = {"kernel_size": 2, **kwargs}
    x = np.ones(x_shape)
    with pytest.raises(error, match=f"^{op}: {match}") as raised:
        getattr(tc.ops, op)(x, **kwargs)
    name, fix = re.search(r"pass e\.g\. (\w+)=(.+)$", str(raised.value)).groups()
    kwargs[name] = ast.literal_eval(fix)
    assert getattr(tc.ops, op)(x, **kwargs).ndim == len(x_shape)


@pytest.mark.parametrize("x_shape, match", [
    ((28, 28), r"max_pool2d: input has shape \(28, 28\); expected a 4-D input \(N, C, H, W\) "
               r"or a 3-D one \(C, H, W\); for one 28x28 image use x\.reshape\(1, 1, 28, 28\)"),
    ((6, 784), r"it looks like 6 flattened 28x28 images: use x\.reshape\(6, 1, 28, 28\)"),
])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_shape_hints_name_the_reshape_that_works(rng, x_shape, match, op):
    x = rng.standard_normal(x_shape)
    with pytest.raises(ValueError, match=match.replace("max_pool2d", op)) as error:
        getattr(tc.ops, op)(x, 2)
    fix = re.search(r"use (x\.reshape\([\d, ]+\))", str(error.value))[1]
    assert getattr(tc.ops, op)(eval(fix, {"x": x}), 2).shape[2:] == (14, 14)


def test_reference_avg_pool2d_by_hand():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)            # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    np.testing.assert_array_equal(reference.avg_pool2d(x, 2, 1), [[[[3.0, 4.0], [6.0, 7.0]]]])
    # padding 1: the corner window holds 1 and three zeros of padding, which count
    np.testing.assert_array_equal(reference.avg_pool2d(x, 2, 2, 1),
                                  [[[[0.25, 1.25], [2.75, 7.0]]]])


# x (N, C, H, W), kernel_size, stride, padding
AVG_CONFIGS = [
    ((1, 1, 4, 4), 2, None, 0),              # batch 1, tiling windows
    ((2, 3, 6, 7), (2, 3), None, 0),         # batch, channels, non-square, leftover column
    ((2, 2, 7, 7), 3, 2, 1),                 # overlapping, padding 1
    ((1, 2, 5, 6), 2, 1, 1),                 # stride 1, padding on both sides
    ((2, 1, 5, 4), (5, 4), None, 0),         # kernel as large as the image
    ((1, 2, 6, 9), (4, 2), (3, 2), (2, 1)),  # pairs everywhere, padding = kernel // 2
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", AVG_CONFIGS)
def test_avg_pool2d_matches_nested_loops(rng, x_shape, kernel_size, stride, padding):
    x = rng.standard_normal(x_shape)
    out = tc.ops.avg_pool2d(tc.Value(x), kernel_size, stride, padding)
    expected = reference.avg_pool2d(x, kernel_size, stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", AVG_CONFIGS)
def test_avg_pool2d_gradcheck_and_gradgradcheck(rng, x_shape, kernel_size, stride, padding):
    x = rng.standard_normal(x_shape)

    def avg(x):
        return tc.ops.avg_pool2d(x, kernel_size, stride, padding)

    assert tc.gradcheck(avg, [x])
    assert tc.gradgradcheck(avg, [x])


def test_avg_pool2d_float32_and_params(rng):
    x = tc.Value(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    out = tc.ops.avg_pool2d(x, 3, 2, 1)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == x.grad.dtype == np.float32
    assert out.fn.params == {"kernel_size": 3, "stride": 2, "padding": 1}


@pytest.mark.parametrize("x_shape, kwargs, match", [
    ((1, 1, 4, 4), {"kernel_size": 2, "padding": 2},
     r"avg_pool2d: padding 2 is more than half the kernel \(2, 2\); expected padding <= "
     r"kernel_size // 2"),
    ((1, 1, 4, 4), {"kernel_size": (3, 2), "padding": (1, 2)}, r"padding \(1, 2\) is more"),
    ((1, 1, 4, 4), {"kernel_size": 7, "padding": 1},
     r"avg_pool2d: kernel 7x7 is larger than the padded input 6x6"),
])
def test_avg_pool2d_bad_input_raises(x_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.ops.avg_pool2d(np.ones(x_shape), **kwargs)


def test_avg_pool2d_refuses_integer_images_whose_window_sums_would_overflow():
    images = np.full((1, 1, 2, 2), 200, dtype=np.uint8)
    with pytest.raises(TypeError, match=r"avg_pool2d: input has dtype uint8; expected a float "
                                        r"array .* convert it first, e.g. x.astype\(np.float32\)"):
        tc.nn.AvgPool2d(2)(images)
    assert tc.ops.avg_pool2d(images.astype(np.float32), 2).data.item() == 200.0  # the fix works


def test_reference_adaptive_avg_pool2d_by_hand():
    x = np.arange(1.0, 6.0).reshape(1, 1, 1, 5)              # one row: [1, 2, 3, 4, 5]
    # 5 columns into 3 bins: [0, 2), [1, 4), [3, 5), overlapping, of 2, 3 and 2 columns
    np.testing.assert_array_equal(reference.adaptive_avg_pool2d(x, 1, 3), [[[[1.5, 3.0, 4.5]]]])
    # 1 row into 2 bins: both are that row
    np.testing.assert_array_equal(reference.adaptive_avg_pool2d(x, 2, 1), [[[[3.0], [3.0]]]])


def test_bin_matrix_by_hand():
    # 10 rows into 4 bins: [0, 3), [2, 5), [5, 8), [7, 10), each of 3 rows, overlapping
    expected = np.zeros((4, 10))
    for i, (start, end) in enumerate([(0, 3), (2, 5), (5, 8), (7, 10)]):
        expected[i, start:end] = 1 / 3
    np.testing.assert_array_equal(pool.bin_matrix(10, 4, np.float64), expected)
    # 2 rows into 3 bins: [0, 1), [0, 2), [1, 2); more bins than rows repeat them
    np.testing.assert_array_equal(pool.bin_matrix(2, 3, np.float64),
                                  [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    eye = pool.bin_matrix(4, 4, np.float32)
    assert eye.dtype == np.float32
    np.testing.assert_array_equal(eye, np.eye(4))


# x (N, C, H, W), output_size
ADAPTIVE = [
    ((1, 1, 4, 4), 2),                  # bins that tile the image: avg_pool2d's windows
    ((2, 3, 6, 9), (3, 3)),             # tiling, non-square bins, batch and channels
    ((2, 3, 5, 7), (3, 4)),             # bins of different sizes, overlapping
    ((1, 2, 10, 9), (4, 2)),            # 10 rows into 4 overlapping bins, 9 columns into 2
    ((2, 1, 2, 3), (5, 4)),             # output larger than the input: rows repeated
    ((2, 2, 5, 7), (None, 3)),          # None keeps H
    ((1, 2, 6, 7), (4, None)),          # None keeps W
    ((2, 3, 5, 7), 1),                  # global average pooling
    ((1, 1, 1, 1), (1, 1)),             # a 1x1 image stays
    ((1, 2, 1, 1), (2, 3)),             # a 1x1 image spread over 2x3
]


def _output_hw(x_shape, output_size):
    """(OH, OW) for an output_size that may be an int or hold None."""
    pair = (output_size, output_size) if isinstance(output_size, int) else output_size
    return tuple(x_shape[2 + k] if size is None else size for k, size in enumerate(pair))


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE)
def test_adaptive_avg_pool2d_matches_nested_loops(rng, x_shape, output_size):
    x = rng.standard_normal(x_shape)
    out = tc.ops.adaptive_avg_pool2d(tc.Value(x), output_size)
    expected = reference.adaptive_avg_pool2d(x, *_output_hw(x_shape, output_size))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, output_size", ADAPTIVE)
def test_adaptive_avg_pool2d_gradcheck_and_gradgradcheck(rng, x_shape, output_size):
    x = rng.standard_normal(x_shape)

    def pool_x(x):
        return tc.ops.adaptive_avg_pool2d(x, output_size)

    assert tc.gradcheck(pool_x, [x])            # through a random upstream gradient
    assert tc.gradgradcheck(pool_x, [x])


def test_adaptive_avg_pool2d_second_derivative_through_a_nonlinearity(rng):
    """Linear ops have a zero second derivative by x; squared, the pool's rule meets its own
    transpose in the Hessian: d2/dx2 sum(pool(x)^2) = 2 A^T A."""
    x = rng.standard_normal((2, 2, 6, 9))
    assert tc.gradgradcheck(lambda x: tc.ops.adaptive_avg_pool2d(x, (4, 5)) ** 2, [x])  # overlap
    assert tc.gradgradcheck(lambda x: tc.ops.adaptive_avg_pool2d(x, (2, 3)) ** 2, [x])  # tiles


@pytest.mark.parametrize("x_shape, output_size", [((2, 3, 6, 9), (3, 3)), ((1, 2, 8, 4), (2, 4)),
                                                  ((2, 1, 5, 5), 1)])
def test_adaptive_avg_pool2d_with_tiling_bins_is_avg_pool2d(rng, x_shape, output_size):
    x = tc.Value(rng.standard_normal(x_shape))
    oh, ow = _output_hw(x_shape, output_size)
    kernel = (x_shape[2] // oh, x_shape[3] // ow)
    out, expected = tc.ops.adaptive_avg_pool2d(x, output_size), tc.ops.avg_pool2d(x, kernel)
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-13, atol=1e-15)
    u = rng.standard_normal(out.shape)
    (dx,) = tc.grad(out, [x], grad_output=u)
    np.testing.assert_allclose(dx.data, tc.grad(expected, [x], grad_output=u)[0].data,
                               rtol=1e-13, atol=1e-15)


def test_adaptive_avg_pool2d_gradient_by_hand():
    """5 columns into 3 bins [0, 2), [1, 4), [3, 5): column k gets the upstream gradient of every
    bin holding it, divided by that bin's size."""
    x = tc.Value(np.arange(1.0, 6.0).reshape(1, 1, 1, 5))
    out = tc.ops.adaptive_avg_pool2d(x, (1, 3))
    out.backward(np.array([[[[6.0, 12.0, 18.0]]]]))
    np.testing.assert_allclose(x.grad[0, 0, 0], [3.0, 3.0 + 4.0, 4.0, 4.0 + 9.0, 9.0])


def test_adaptive_avg_pool2d_of_one_image_is_a_batch_of_one(rng):
    image = rng.standard_normal((3, 5, 7))                   # (C, H, W), as PyTorch allows
    out = tc.ops.adaptive_avg_pool2d(image, (2, None))
    assert out.shape == (3, 2, 7)
    np.testing.assert_array_equal(out.data,
                                  tc.ops.adaptive_avg_pool2d(image[None], (2, 7)).data[0])
    assert tc.gradcheck(lambda x: tc.ops.adaptive_avg_pool2d(x, (2, None)), [image])
    assert tc.gradgradcheck(lambda x: tc.ops.adaptive_avg_pool2d(x, 3) ** 2, [image])


@pytest.mark.parametrize("output_size", [(3, 4), (2, 7)])     # matrices, and tiling bins
def test_adaptive_avg_pool2d_float32_empty_batch_and_params(rng, output_size):
    x = tc.Value(rng.standard_normal((2, 3, 6, 7)).astype(np.float32))
    out = tc.ops.adaptive_avg_pool2d(x, (output_size[0], None) if output_size[1] == 7
                                     else output_size)
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == x.grad.dtype == np.float32 and out.shape == (2, 3, *output_size)
    assert out.fn.params == {"output_size": output_size}        # None resolved to W = 7
    np.testing.assert_allclose(x.grad.sum(), out.size, rtol=1e-6)   # each bin hands on 1
    empty = tc.Value(np.zeros((0, 3, 6, 7)))
    assert tc.ops.adaptive_avg_pool2d(empty, output_size).shape == (0, 3, *output_size)


@pytest.mark.parametrize("output_size, error, match", [
    (0, ValueError, r"adaptive_avg_pool2d: output_size 0 has a size below 1; expected an int or "
                    r"a pair \(OH, OW\) of ints >= 1, where None keeps the input's size; pass "
                    r"e\.g\. output_size=1$"),
    ((0, 2), ValueError, r"output_size \(0, 2\) has a size below 1; .* output_size=\(1, 2\)$"),
    (-3, ValueError, r"output_size -3 has a size below 1; .* output_size=1$"),
    ((2, 3, 4), ValueError, r"output_size \(2, 3, 4\) has 3 entries; .* output_size=\(3, 4\)$"),
    ((5,), ValueError, r"output_size \(5,\) has 1 entry; .* output_size=5$"),
    (2.5, TypeError, r"output_size 2\.5 is not an int or a pair of ints; .* output_size=2$"),
    ((2.0, None), TypeError, r"output_size \(2\.0, None\) is not .* output_size=\(2, None\)$"),
    (True, TypeError, r"output_size True is not an int .* output_size=1$"),
    (None, TypeError, r"output_size None is not an int .* output_size=\(None, None\)$"),
])
def test_adaptive_avg_pool2d_bad_output_size_names_a_fix_that_works(output_size, error, match):
    x = np.ones((1, 2, 5, 7))
    with pytest.raises(error, match=match) as raised:
        tc.ops.adaptive_avg_pool2d(x, output_size)
    fix = eval(re.search(r"output_size=(.*)$", str(raised.value))[1])
    assert tc.ops.adaptive_avg_pool2d(x, fix).shape[:2] == (1, 2)
    with pytest.raises(error, match=match.replace("adaptive_avg_pool2d", "AdaptiveAvgPool2d")):
        tc.nn.AdaptiveAvgPool2d(output_size)                   # the layer checks it when built


@pytest.mark.parametrize("x_shape, match", [
    ((28, 28), r"adaptive_avg_pool2d: input has shape \(28, 28\); expected a 4-D input "
               r"\(N, C, H, W\) or a 3-D one \(C, H, W\); for one 28x28 image use "
               r"x\.reshape\(1, 1, 28, 28\)"),
    ((6, 784), r"it looks like 6 flattened 28x28 images: use x\.reshape\(6, 1, 28, 28\)"),
    ((2, 3, 4, 28, 28), r"to pool every image, merge the leading axes: use "
                        r"x\.reshape\(-1, 4, 28, 28\)"),
])
def test_adaptive_avg_pool2d_input_shape_hints_name_the_reshape_that_works(rng, x_shape, match):
    x = rng.standard_normal(x_shape)
    with pytest.raises(ValueError, match=match) as raised:
        tc.ops.adaptive_avg_pool2d(x, 7)
    fix = re.search(r"use (x\.reshape\([-\d, ]+\))", str(raised.value))[1]
    assert tc.ops.adaptive_avg_pool2d(eval(fix, {"x": x}), 7).shape[-2:] == (7, 7)


def test_adaptive_avg_pool2d_other_input_errors():
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: input has shape \(784,\); "
                                         r"expected a 4-D input \(N, C, H, W\) or a 3-D one"):
        tc.ops.adaptive_avg_pool2d(np.ones(784), 2)
    with pytest.raises(ValueError, match=r"input has shape \(2, 3, 0, 7\), an empty image; "
                                         r"expected H >= 1 and W >= 1"):
        tc.ops.adaptive_avg_pool2d(np.ones((2, 3, 0, 7)), 2)
    images = np.full((1, 1, 3, 3), 200, dtype=np.uint8)
    with pytest.raises(TypeError, match=r"adaptive_avg_pool2d: input has dtype uint8; expected "
                                        r"a float array .* e\.g\. x\.astype\(np\.float32\)"):
        tc.nn.AdaptiveAvgPool2d(2)(images)
    np.testing.assert_array_equal(tc.ops.adaptive_avg_pool2d(images.astype(np.float32), 2).data,
                                  np.full((1, 1, 2, 2), 200.0))         # the fix works


def pool1d_loops(x, kernel_size, stride=None, padding=0, mode="max", ceil_mode=False,
                 count_include_pad=True):
    """The 1-D oracle from the definition: out[n, c, i] = the max (or mean) of x[n, c, t] over
    the positions t = i*stride - padding + p, p < K, of window i, where positions outside x
    are -inf (max) or 0 (mean). The mean divides by the window's positions before L + padding
    (count_include_pad, as PyTorch: only a ceil_mode window reaches past them), or by those
    inside x. The windows are counted as reference.pool_output_size counts them."""
    stride = kernel_size if stride is None else stride
    length = x.shape[2]
    out_len = reference.pool_output_size(length, kernel_size, stride, padding, ceil_mode)
    out = np.zeros(x.shape[:2] + (out_len,))
    for i in range(out_len):
        positions = range(i * stride - padding, i * stride - padding + kernel_size)
        inside = [t for t in positions if 0 <= t < length]
        if mode == "max":
            out[:, :, i] = x[:, :, inside].max(axis=2)
        else:
            counted = (sum(t < length + padding for t in positions) if count_include_pad
                       else len(inside))
            out[:, :, i] = x[:, :, inside].sum(axis=2) / counted
    return out


def test_pool1d_loops_by_hand():
    x = np.array([[[1.0, 5.0, 2.0, -4.0, 3.0]]])
    np.testing.assert_array_equal(pool1d_loops(x, 2), [[[5.0, 2.0]]])
    np.testing.assert_array_equal(pool1d_loops(x, 3, 2, 1), [[[5.0, 5.0, 3.0]]])
    np.testing.assert_array_equal(pool1d_loops(x, 2, 2, 1, "mean"), [[[0.5, 3.5, -0.5]]])
    # the last window, [4, 6), hangs past the end: 3 alone, over 1 position (1 inside x)
    np.testing.assert_array_equal(pool1d_loops(x, 2, 2, 0, "mean", True), [[[3.0, -1.0, 3.0]]])
    # windows [-2, 2), [1, 5), [4, 8) (PyTorch's numbers): the third, ceil_mode's, counts the
    # positions before 5 + 2, 3 of them, or only 1 inside x; the first 4, or 2 inside x
    np.testing.assert_array_equal(pool1d_loops(x, 4, 3, 2, "mean"), [[[1.5, 1.5]]])
    np.testing.assert_array_equal(pool1d_loops(x, 4, 3, 2, "mean", True), [[[1.5, 1.5, 1.0]]])
    np.testing.assert_array_equal(pool1d_loops(x, 4, 3, 2, "mean", True, False),
                                  [[[3.0, 1.5, 3.0]]])
    np.testing.assert_array_equal(pool1d_loops(x, 4, 3, 2, "max", True), [[[5.0, 5.0, 3.0]]])


# x (N, C, L), kernel_size, stride, padding
POOL1D = [
    ((1, 1, 6), 2, None, 0),                  # batch 1, tiling windows
    ((2, 3, 9), 3, 2, 1),                     # overlapping, padded, batch and channels
    ((2, 2, 7), (2,), (1,), (1,)),            # settings as 1-tuples, stride 1
    ((1, 2, 5), 5, None, 2),                  # kernel as long as the signal, padding K // 2
    ((2, 1, 8), 3, 3, 0),                     # a leftover element at the end
]


def plain(setting):
    """A 1-D setting as the loops take it: (2,) -> 2."""
    return setting[0] if isinstance(setting, tuple) else setting


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL1D)
@pytest.mark.parametrize("op, mode", [("max_pool1d", "max"), ("avg_pool1d", "mean")])
def test_pool1d_matches_the_loops_batched_and_unbatched(rng, x_shape, kernel_size, stride,
                                                       padding, op, mode):
    x = rng.standard_normal(x_shape)
    out = getattr(tc.ops, op)(tc.Value(x), kernel_size, stride, padding)
    expected = pool1d_loops(x, plain(kernel_size), plain(stride), plain(padding), mode)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    one = getattr(tc.ops, op)(tc.Value(x[-1]), kernel_size, stride, padding)   # (C, L)
    assert one.shape == expected.shape[1:]
    np.testing.assert_allclose(one.data, expected[-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL1D)
@pytest.mark.parametrize("op", ["max_pool1d", "avg_pool1d"])
def test_pool1d_gradcheck_batched_and_unbatched(rng, x_shape, kernel_size, stride, padding, op):
    x = distinct(rng, x_shape)                 # no ties within gradcheck's eps

    def pool_x(x):
        return getattr(tc.ops, op)(x, kernel_size, stride, padding)

    assert tc.gradcheck(pool_x, [x])
    assert tc.gradcheck(pool_x, [x[0]])
    assert tc.gradgradcheck(pool_x, [x[0]])


def test_max_pool1d_ties_send_the_gradient_to_the_first_maximum():
    x = tc.Value(np.array([[[1.0, 3.0, 3.0, 2.0, 2.0]]]))
    out = tc.ops.max_pool1d(x, 2, 1)              # windows [1, 3], [3, 3], [3, 2], [2, 2]
    out.backward(np.array([[[1.0, 2.0, 4.0, 8.0]]]))
    np.testing.assert_array_equal(out.data, [[[3.0, 3.0, 3.0, 2.0]]])
    np.testing.assert_array_equal(x.grad, [[[0.0, 1.0 + 2.0, 4.0, 8.0, 0.0]]])
    y = tc.Value(np.full((2, 3), -np.inf))        # one unbatched signal of -inf, padded
    tc.ops.max_pool1d(y, 2, 2, 1).backward(np.ones((2, 2)))
    np.testing.assert_array_equal(y.grad, [[1.0, 1.0, 0.0]] * 2)   # the padding never wins


def test_pool1d_runs_the_2d_op_on_one_row_images(rng):
    x = tc.Value(rng.standard_normal((2, 3, 9)))
    for op, name in [(tc.ops.max_pool1d, "MaxPool2d"), (tc.ops.avg_pool1d, "AvgPool2d")]:
        out = op(x, 3, 2, 1)
        assert out.fn.name == "Reshape" and out.shape == (2, 3, 5)
        (pool_node,) = out.parents
        assert pool_node.fn.name == name and pool_node.shape == (2, 3, 1, 5)
        assert pool_node.fn.params == {"kernel_size": (1, 3), "stride": (1, 2), "padding": (0, 1)}
        assert pool_node.parents[0].fn.name == "Reshape" and pool_node.parents[0].parents == (x,)
    assert tc.ops.max_pool1d(x, 3).parents[0].fn.params["stride"] == (1, 3)   # stride = kernel


def test_pool1d_float32_stays_float32_and_avg_refuses_integers(rng):
    x = tc.Value(rng.standard_normal((2, 3, 8)).astype(np.float32))
    for op in (tc.ops.max_pool1d, tc.ops.avg_pool1d):
        out = op(x, 3, 2, 1)
        out.backward(np.ones(out.shape, dtype=np.float32))
        assert out.dtype == x.grad.dtype == np.float32
    counts = np.full((1, 8), 200, dtype=np.uint8)
    with pytest.raises(TypeError, match=r"^avg_pool1d: input has dtype uint8; expected a float "
                                        r"array \(a mean of integers is not one of them\); "
                                        r"convert it first, e\.g\. x\.astype\(np\.float32\) for "
                                        r"an array$"):
        tc.ops.avg_pool1d(counts, 2)
    np.testing.assert_array_equal(tc.ops.max_pool1d(counts, 2).data, np.full((1, 4), 200))


@pytest.mark.parametrize("x_shape, kwargs, match", [
    ((6,), {}, r"^max_pool1d: input has shape \(6,\); expected a 3-D input \(N, C, L\) or a 2-D "
               r"one \(C, L\); for one signal of length 6 use x\.reshape\(1, 6\)$"),
    ((2, 3, 4, 6), {}, r"^max_pool1d: input has shape \(2, 3, 4, 6\); expected a 3-D input "
                       r"\(N, C, L\) or a 2-D one \(C, L\); to pool every signal, merge the "
                       r"leading axes: use x\.reshape\(-1, 4, 6\)$"),
    ((1, 2, 4), {"kernel_size": 5}, r"^max_pool1d: kernel 5 is larger than the input 4 \(input "
                                    r"\(1, 2, 4\)\); expected kernel_size <= the signal length$"),
    ((1, 2, 2), {"kernel_size": 5, "padding": 1},
     r"^max_pool1d: kernel 5 is larger than the padded input 4 \(input \(1, 2, 2\)\)"),
    ((1, 2, 6), {"kernel_size": 3, "padding": 2},
     r"^max_pool1d: padding 2 is more than half the kernel 3; expected padding <= kernel_size // "
     r"2 \(as PyTorch\), so that every window holds part of the signal; pass padding=1 or less, "
     r"or a larger kernel_size$"),
])
@pytest.mark.parametrize("op", ["max_pool1d", "avg_pool1d"])
def test_pool1d_errors_speak_of_the_1d_call(x_shape, kwargs, match, op):
    kwargs = {"kernel_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match.replace("max_pool1d", op)):
        getattr(tc.ops, op)(np.ones(x_shape), **kwargs)


# x (C, H, W), kernel_size, stride, padding
UNBATCHED = [((3, 6, 7), 2, None, 0), ((2, 7, 7), 3, 2, 1), ((1, 5, 6), (3, 2), (1, 2), (1, 0))]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", UNBATCHED)
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_unbatched_pools_are_a_batch_of_one(rng, x_shape, kernel_size, stride, padding, op):
    x = distinct(rng, x_shape)

    def pool_x(x):
        return getattr(tc.ops, op)(x, kernel_size, stride, padding)

    out = pool_x(tc.Value(x))
    expected = getattr(reference, op)(x[None], kernel_size, stride, padding)[0]
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(pool_x, [x])


def test_unbatched_pool_graph_and_adaptive_pool_share_the_reshapes(rng):
    x = tc.Value(rng.standard_normal((3, 6, 6)))
    for out, name in [(tc.ops.max_pool2d(x, 3), "MaxPool2d"),
                      (tc.ops.avg_pool2d(x, 2), "AvgPool2d"),
                      (tc.ops.adaptive_avg_pool2d(x, 4), "AdaptiveAvgPool2d")]:
        assert out.fn.name == "Reshape" and out.ndim == 3
        (pool_node,) = out.parents
        assert pool_node.fn.name == name and pool_node.shape == (1, *out.shape)
        assert pool_node.parents[0].shape == (1, 3, 6, 6) and pool_node.parents[0].parents == (x,)
    assert tc.ops.max_pool2d(x, 3).parents[0].fn.params == {"kernel_size": 3, "stride": None}


def test_reference_ceil_mode_and_count_include_pad_by_hand():
    # PyTorch's numbers. One row [1, 2, 3, 4, 5], windows of 4 at stride 3 with padding 2:
    # [-2, 2), [1, 5), and with ceil_mode [4, 8), which hangs past the padding: its divisor
    # counts the positions before 5 + 2 (3 of them), or with count_include_pad=False only 5
    x = np.arange(1.0, 6.0).reshape(1, 1, 1, 5)
    np.testing.assert_array_equal(reference.avg_pool2d(x, (1, 4), (1, 3), (0, 2)),
                                  [[[[0.75, 3.5]]]])
    np.testing.assert_allclose(reference.avg_pool2d(x, (1, 4), (1, 3), (0, 2), True),
                               [[[[0.75, 3.5, 5 / 3]]]], rtol=1e-15)
    np.testing.assert_array_equal(reference.avg_pool2d(x, (1, 4), (1, 3), (0, 2), True, False),
                                  [[[[1.5, 3.5, 5.0]]]])
    np.testing.assert_array_equal(reference.max_pool2d(x, (1, 4), (1, 3), (0, 2), True),
                                  [[[[2.0, 5.0, 5.0]]]])
    # 2x2 windows at stride 2 with padding 1 over 5 rows: a 4th window would start at row 5 + 1,
    # in the padding, so ceil_mode keeps 3, as rounding down does
    assert reference.avg_pool2d(np.ones((1, 1, 5, 5)), 2, 2, 1, True).shape == (1, 1, 3, 3)
    assert reference.pool_output_size(5, 2, 2, 1, True) == 3
    assert reference.pool_output_size(5, 2, 2, 0, True) == 3       # a window for the 5th row


def test_divisors_by_hand():
    # the row above: 4, 4, 3 positions (count_include_pad), or 2, 4, 1 inside the image
    np.testing.assert_array_equal(pool.divisors((1, 5), (1, 3), (1, 4), (1, 3), (0, 2), True),
                                  [[4, 4, 3]])
    np.testing.assert_array_equal(pool.divisors((1, 5), (1, 3), (1, 4), (1, 3), (0, 2), False),
                                  [[2, 4, 1]])
    # rows times columns: a 3x3 corner window with padding 1 holds 2x2 image elements
    np.testing.assert_array_equal(pool.divisors((4, 4), (2, 2), (3, 3), (2, 2), (1, 1), False),
                                  [[4, 6], [6, 9]])


# x (N, C, H, W), kernel_size, stride, padding: ceil_mode adds windows along an axis at least
CEIL = [
    ((1, 1, 5, 5), 2, None, 0),               # odd sizes: the last row and column get windows
    ((2, 3, 8, 8), 3, 2, 1),                  # ResNet's stem pool on an even map: 8 -> 5, not 4
    ((2, 2, 7, 6), (2, 3), 3, 1),             # no 4th row of windows: it would start in padding
    ((1, 2, 6, 7), (3, 2), (2, 1), (1, 0)),   # stride < kernel: overlapping rows
    ((2, 1, 3, 5), (4, 3), 2, (0, 1)),        # a kernel taller than the image, as PyTorch allows
    ((1, 2, 8, 11), 4, 3, 2),                 # hanging windows whose divisors the padding cuts
]
# the op, its keyword settings past padding, and the loops' own
POOLS = [("max_pool2d", {}), ("avg_pool2d", {}), ("avg_pool2d", {"count_include_pad": False})]


def run_pool(op, x, kernel_size, stride, padding, settings):
    """ops.<op>(x, ...) with ceil_mode=True and the settings."""
    return getattr(tc.ops, op)(x, kernel_size, stride, padding, ceil_mode=True, **settings)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CEIL)
@pytest.mark.parametrize("op, settings", POOLS)
def test_ceil_mode_matches_nested_loops(rng, x_shape, kernel_size, stride, padding, op,
                                        settings):
    x = rng.standard_normal(x_shape)
    out = run_pool(op, tc.Value(x), kernel_size, stride, padding, settings)
    expected = getattr(reference, op)(x, kernel_size, stride, padding, True, **settings)
    floor = getattr(reference, op)(x, kernel_size, stride, padding, **settings)
    assert out.shape == expected.shape and np.prod(out.shape) > floor.size   # windows added
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", CEIL)
@pytest.mark.parametrize("op, settings", POOLS)
def test_ceil_mode_gradcheck_and_gradgradcheck(rng, x_shape, kernel_size, stride, padding, op,
                                               settings):
    x = distinct(rng, x_shape)

    def pool_x(x):
        return run_pool(op, x, kernel_size, stride, padding, settings)

    assert tc.gradcheck(pool_x, [x])                       # through a random upstream gradient
    assert tc.gradgradcheck(pool_x, [x])


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", [
    c for c in AVG_CONFIGS if c[3] != 0])
def test_count_include_pad_false_matches_nested_loops_and_gradchecks(rng, x_shape, kernel_size,
                                                                     stride, padding):
    x = rng.standard_normal(x_shape)

    def avg(x):
        return tc.ops.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=False)

    expected = reference.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=False)
    np.testing.assert_allclose(avg(tc.Value(x)).data, expected, rtol=1e-12, atol=1e-12)
    assert not np.allclose(expected, reference.avg_pool2d(x, kernel_size, stride, padding))
    assert tc.gradcheck(avg, [x])
    assert tc.gradgradcheck(avg, [x])
    assert tc.gradgradcheck(lambda x: avg(x) ** 2, [x])    # a second derivative by x, not zero


@pytest.mark.parametrize("settings", [{}, {"ceil_mode": True}, {"count_include_pad": False}])
def test_divisor_override_divides_every_windows_sum_and_gradchecks(rng, settings):
    x = rng.standard_normal((2, 3, 7, 6))

    def avg(x):
        return tc.ops.avg_pool2d(x, 3, 2, 1, divisor_override=4, **settings)

    sums = tc.ops.avg_pool2d(tc.Value(x), 3, 2, 1, divisor_override=1, **settings).data
    np.testing.assert_allclose(avg(tc.Value(x)).data, sums / 4, rtol=1e-12)
    if not settings:                    # the sums are the padded means times 3x3
        np.testing.assert_allclose(sums, reference.avg_pool2d(x, 3, 2, 1) * 9, rtol=1e-12,
                                   atol=1e-12)
    assert tc.gradcheck(avg, [x])
    assert tc.gradgradcheck(lambda x: avg(x) ** 2, [x])


def test_divisor_override_errors_name_their_fix():
    x = np.ones((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"^avg_pool2d: divisor_override is 0, .*; pass None for "
                                         r"the mean, or e\.g\. divisor_override=1 for the "
                                         r"windows' sums$"):
        tc.ops.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match=r"^AvgPool2d: divisor_override is float 2\.0; expected "
                                        r"None or a nonzero int, .*; pass e\.g\. "
                                        r"divisor_override=4$"):
        tc.nn.AvgPool2d(2, divisor_override=2.0)
    assert tc.ops.avg_pool2d(x, 2, divisor_override=1).data.ravel().tolist() == [4.0] * 4
    assert tc.ops.avg_pool2d(x, 2, divisor_override=4).data.ravel().tolist() == [1.0] * 4
    layer = tc.nn.AvgPool2d(2, divisor_override=4)
    assert repr(layer) == "AvgPool2d(kernel_size=2, stride=2, padding=0, divisor_override=4)"
    assert layer(x).data.ravel().tolist() == [1.0] * 4
    assert tc.ops.avg_pool2d(tc.Value(x), 2).fn.params == {"kernel_size": 2, "stride": None,
                                                            "padding": 0}   # drawn as before


def test_avg_pool2d_and_its_gradient_are_each_others_transpose_with_the_options(rng):
    # <avg(x), g> = <x, AvgPool2dGrad(g)>, with the divisors of ceil_mode's windows too
    x = rng.standard_normal((2, 3, 8, 11))
    for settings in [{"ceil_mode": True}, {"count_include_pad": False},
                     {"ceil_mode": True, "count_include_pad": False}]:
        out = tc.ops.avg_pool2d(tc.Value(x), 4, 3, 2, **settings)
        g = rng.standard_normal(out.shape)
        dx = pool.AvgPool2dGrad.run(g, x_shape=x.shape, kernel=(4, 4), stride=(3, 3),
                                    padding=(2, 2), **settings)
        np.testing.assert_allclose((out.data * g).sum(), (x * dx).sum(), rtol=1e-12)
        assert [k for k, v in vars(out.fn).items()
                if isinstance(v, np.ndarray) and v.dtype.kind == "f"] == []   # constants only


def test_ceil_mode_hanging_windows_send_the_gradient_to_their_first_image_maximum():
    # 3 columns, 2-windows at stride 2: the hanging window [2, 4) holds only column 2; a row of
    # -inf ties with the padding there, and the gradient still goes to the image element
    x = tc.Value(np.array([[[[1.0, 3.0, 3.0], [-np.inf, -np.inf, -np.inf]]]]))
    out = tc.ops.max_pool2d(x, (1, 2), ceil_mode=True)
    out.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(out.data, [[[[3.0, 3.0], [-np.inf, -np.inf]]]])
    np.testing.assert_array_equal(x.grad, [[[[0.0, 1.0, 2.0], [3.0, 0.0, 4.0]]]])
    # ties within a hanging 3x3 window that holds a 2x2 corner of the image: the first one
    y = tc.Value(np.array([[[[0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 7.0, 7.0],
                             [0.0, 0.0, 7.0, 7.0]]]]))
    out = tc.ops.max_pool2d(y, 3, 2, ceil_mode=True)          # windows at rows/columns 0 and 2
    out.backward(np.ones((1, 1, 2, 2)))
    assert out.shape == (1, 1, 2, 2) and (out.data == 7.0).all()
    np.testing.assert_array_equal(y.grad[0, 0, 2:, 2:], [[4.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("op, settings", POOLS)
def test_ceil_mode_second_order_through_the_upstream_gradient(rng, op, settings):
    """d/dg <dx(g), u>: the pool of u itself for avg (its gradient is linear in g with the pool
    as transpose), u at each window's maximum for max: the pooled x + t u, differentiated by t."""
    x = tc.Value(distinct(rng, (2, 2, 7, 8)), requires_grad=True)
    out = run_pool(op, x, 3, 2, 1, settings)
    g = tc.Value(rng.standard_normal(out.shape), requires_grad=True)
    (dx,) = tc.grad(out, [x], grad_output=g, create_graph=True)
    u = rng.standard_normal(x.shape)
    (dg,) = tc.grad((dx * u).sum(), [g])
    t = 1e-4                                                   # no window's maximum changes
    expected = (getattr(reference, op)(x.data + t * u, 3, 2, 1, True, **settings)
                - getattr(reference, op)(x.data - t * u, 3, 2, 1, True, **settings)) / (2 * t)
    np.testing.assert_allclose(dg.data, expected, rtol=1e-7, atol=1e-8)
    recorded = {"max_pool2d": "MaxPool2dScatter", "avg_pool2d": "AvgPool2dGrad"}[op]
    assert dx.fn.name == recorded


def test_options_are_params_only_where_they_are_not_the_defaults(rng):
    x = tc.Value(rng.standard_normal((1, 2, 7, 7)), requires_grad=True)
    assert tc.ops.max_pool2d(x, 3, ceil_mode=False).fn.params == {"kernel_size": 3,
                                                                  "stride": None}
    assert tc.ops.max_pool2d(x, 3, ceil_mode=True).fn.params == {"kernel_size": 3, "stride": None,
                                                                 "ceil_mode": True}
    assert tc.ops.max_pool2d(x, 3, 2, 1, ceil_mode=True).fn.params == {
        "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}
    assert tc.ops.avg_pool2d(x, 3, 2, 1, False, True).fn.params == {
        "kernel_size": 3, "stride": 2, "padding": 1}
    out = tc.ops.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
    assert out.fn.params == {"kernel_size": 3, "stride": 2, "padding": 1,
                             "count_include_pad": False}
    # the recorded gradient op names them too, so its own backward averages as forward did
    (dx,) = tc.grad(out, [x], grad_output=tc.Value(np.ones(out.shape)), create_graph=True)
    assert dx.fn.name == "AvgPool2dGrad" and dx.fn.params["count_include_pad"] is False
    (dx,) = tc.grad(tc.ops.avg_pool2d(x, 2), [x], grad_output=tc.Value(np.ones((1, 2, 3, 3))),
                    create_graph=True)
    assert "ceil_mode" not in dx.fn.params and "count_include_pad" not in dx.fn.params
    signal = tc.Value(rng.standard_normal((2, 7)))
    for op in (tc.ops.max_pool1d, tc.ops.avg_pool1d):
        (node,) = op(signal, 2, ceil_mode=True).parents
        assert node.fn.params == {"kernel_size": (1, 2), "stride": (1, 2), "padding": (0, 0),
                                  "ceil_mode": True} and node.shape == (1, 2, 1, 4)


def test_float32_stays_float32_with_the_options(rng):
    x = tc.Value(rng.standard_normal((2, 3, 7, 7)).astype(np.float32))
    for out in [tc.ops.avg_pool2d(x, 3, 2, 1, True, False),
                tc.ops.max_pool2d(x, 2, ceil_mode=True)]:
        out.backward(np.ones(out.shape, dtype=np.float32))
        assert out.dtype == x.grad.dtype == np.float32 and out.shape == (2, 3, 4, 4)
        x.grad = None
    np.testing.assert_allclose(tc.ops.avg_pool2d(x, 3, 2, 1, True, False).data,
                               reference.avg_pool2d(x.data.astype(np.float64), 3, 2, 1, True,
                                                    False), rtol=1e-5, atol=1e-6)


# x (N, C, L), kernel_size, stride, padding: ceil_mode adds a window
POOL1D_CEIL = [
    ((2, 3, 8), 3, 2, 1),                     # overlapping, a window past the padding
    ((1, 2, 7), 2, None, 0),                  # tiling, an odd length
    ((2, 1, 3), 4, 2, 0),                     # a kernel longer than the signal
    ((2, 2, 11), (4,), (3,), (2,)),           # settings as 1-tuples, a divisor cut by padding
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding", POOL1D_CEIL)
@pytest.mark.parametrize("op, mode, settings", [
    ("max_pool1d", "max", {}), ("avg_pool1d", "mean", {}),
    ("avg_pool1d", "mean", {"count_include_pad": False})])
def test_pool1d_ceil_mode_matches_the_loops_and_gradchecks(rng, x_shape, kernel_size, stride,
                                                           padding, op, mode, settings):
    x = distinct(rng, x_shape)

    def pool_x(x):
        return getattr(tc.ops, op)(x, kernel_size, stride, padding, ceil_mode=True, **settings)

    expected = pool1d_loops(x, plain(kernel_size), plain(stride), plain(padding), mode, True,
                            **settings)
    np.testing.assert_allclose(pool_x(tc.Value(x)).data, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pool_x(tc.Value(x[0])).data, expected[0], rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(pool_x, [x])
    assert tc.gradgradcheck(pool_x, [x[0]])                # one unbatched signal


@pytest.mark.parametrize("op", ["avg_pool1d", "avg_pool2d"])
def test_count_include_pad_false_on_padded_signals_and_unbatched_images(rng, op):
    x = distinct(rng, (3, 9) if op == "avg_pool1d" else (3, 6, 7))

    def avg(x):
        return getattr(tc.ops, op)(x, 3, 2, 1, count_include_pad=False)

    if op == "avg_pool1d":
        expected = pool1d_loops(x[None], 3, 2, 1, "mean", count_include_pad=False)[0]
    else:
        expected = reference.avg_pool2d(x[None], 3, 2, 1, count_include_pad=False)[0]
    np.testing.assert_allclose(avg(tc.Value(x)).data, expected, rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(avg, [x])


FLAG = r"{0}: {1} is {2}; expected True or False; pass {1}=True or {1}=False$"


@pytest.mark.parametrize("op, kwargs, match", [
    ("max_pool2d", {"ceil_mode": 1}, FLAG.format("max_pool2d", "ceil_mode", "int 1")),
    ("max_pool1d", {"ceil_mode": "yes"}, FLAG.format("max_pool1d", "ceil_mode", "str 'yes'")),
    ("avg_pool2d", {"ceil_mode": None}, FLAG.format("avg_pool2d", "ceil_mode", "NoneType None")),
    ("avg_pool2d", {"count_include_pad": 0},
     FLAG.format("avg_pool2d", "count_include_pad", "int 0")),
    ("avg_pool1d", {"count_include_pad": 1.0},
     FLAG.format("avg_pool1d", "count_include_pad", r"float 1\.0")),
])
def test_options_that_are_not_bools_are_refused_with_the_fix(op, kwargs, match):
    x = np.ones((1, 2, 6, 6) if op.endswith("2d") else (1, 2, 6))
    with pytest.raises(TypeError, match=f"^{match}"):
        getattr(tc.ops, op)(x, 2, **kwargs)
    (name,) = kwargs
    for fix in (True, False, np.bool_(True)):               # the fix works
        assert getattr(tc.ops, op)(x, 2, **{name: fix}).ndim == x.ndim


def test_max_pools_take_pytorchs_positional_order():
    # the ops: (x, kernel_size, stride, padding, dilation, ceil_mode, return_indices); the
    # layers: (kernel_size, stride, padding, dilation, return_indices, ceil_mode), as PyTorch's
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    out, indices = tc.ops.max_pool2d(x, 2, 2, 0, 1, True, True)
    assert out.shape == (1, 1, 3, 3) and indices.dtype == np.int64
    assert tc.ops.max_pool1d(x[0], 2, 2, 0, 2, True).shape == (1, 5, 2)
    layer = tc.nn.MaxPool1d(2, 2, 0, 1, True, True)
    assert layer.return_indices is True and layer.ceil_mode is True
    assert tc.nn.AvgPool1d(2, 2, 0, True, False).count_include_pad is False  # PyTorch's order


@pytest.mark.parametrize("op, x_shape, kwargs, match", [
    ("max_pool2d", (1, 1, 3, 5), {"kernel_size": (5, 2), "stride": 2},
     r"^max_pool2d: kernel 5x2 leaves no window in the input 3x5 \(input \(1, 1, 3, 5\)\), even "
     r"with ceil_mode=True, which lets the last window hang past the end by at most stride - 1; "
     r"expected kernel_size <= 4x6 \(the input \+ stride - 1\)$"),
    ("avg_pool1d", (1, 2, 3), {"kernel_size": 7, "stride": 2, "padding": 1},
     r"^avg_pool1d: kernel 7 leaves no window in the padded input 5 \(input \(1, 2, 3\)\), even "
     r"with ceil_mode=True, .* expected kernel_size <= 6 \(the padded input \+ stride - 1\)$"),
])
def test_ceil_mode_kernel_beyond_its_reach_is_refused(op, x_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(tc.ops, op)(np.ones(x_shape), ceil_mode=True, **kwargs)
    # the largest kernel named works: one window that hangs past the end, as PyTorch's
    kernel = kwargs["kernel_size"]
    kwargs["kernel_size"] = (kernel[0] - 1, kernel[1]) if isinstance(kernel, tuple) else kernel - 1
    assert getattr(tc.ops, op)(np.ones(x_shape), ceil_mode=True, **kwargs).shape[-1] >= 1


@pytest.mark.parametrize("layer, args, kwargs, expected", [
    ("MaxPool2d", (3, 2, 1), {"ceil_mode": True},
     "MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)"),
    ("MaxPool2d", (2,), {"ceil_mode": False}, "MaxPool2d(kernel_size=2, stride=2)"),
    ("MaxPool1d", (2,), {"ceil_mode": True}, "MaxPool1d(kernel_size=2, stride=2, ceil_mode=True)"),
    ("AvgPool2d", (3, 2, 1, True, False), {},
     "AvgPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)"),
    ("AvgPool2d", (2,), {"count_include_pad": False},
     "AvgPool2d(kernel_size=2, stride=2, padding=0, count_include_pad=False)"),
    ("AvgPool1d", (3,), {"ceil_mode": True},
     "AvgPool1d(kernel_size=3, stride=3, padding=0, ceil_mode=True)"),
    ("AvgPool1d", (3,), {"ceil_mode": False, "count_include_pad": True},
     "AvgPool1d(kernel_size=3, stride=3, padding=0)"),
])
def test_pool_layers_pass_the_options_and_show_those_not_default(rng, layer, args, kwargs,
                                                                 expected):
    module = getattr(tc.nn, layer)(*args, **kwargs)
    assert repr(module) == expected
    x = rng.standard_normal((2, 3, 7, 8) if layer.endswith("2d") else (2, 3, 8))
    settings = {"ceil_mode": module.ceil_mode}
    if layer.startswith("Avg"):
        settings["count_include_pad"] = module.count_include_pad
    op = {"MaxPool2d": tc.ops.max_pool2d, "MaxPool1d": tc.ops.max_pool1d,
          "AvgPool2d": tc.ops.avg_pool2d, "AvgPool1d": tc.ops.avg_pool1d}[layer]
    out = module(tc.Value(x))
    expected = op(tc.Value(x), module.kernel_size, module.stride, module.padding, **settings)
    np.testing.assert_array_equal(out.data, expected.data)
    if out.ndim == 3:                           # a 1-D pool: the 2-D op between two reshapes
        out, expected = out.parents[0], expected.parents[0]
    assert out.fn.params == expected.fn.params
    assert out.fn.params.get("ceil_mode", False) == module.ceil_mode


@pytest.mark.parametrize("make, match", [
    (lambda: tc.nn.MaxPool2d(2, ceil_mode=1), FLAG.format("MaxPool2d", "ceil_mode", "int 1")),
    (lambda: tc.nn.MaxPool1d(2, ceil_mode="True"),
     FLAG.format("MaxPool1d", "ceil_mode", "str 'True'")),
    (lambda: tc.nn.AvgPool2d(2, 2, 0, 1), FLAG.format("AvgPool2d", "ceil_mode", "int 1")),
    (lambda: tc.nn.AvgPool1d(2, count_include_pad=None),
     FLAG.format("AvgPool1d", "count_include_pad", "NoneType None")),
])
def test_pool_layers_check_their_options_when_built(make, match):
    with pytest.raises(TypeError, match=f"^{match}"):
        make()
