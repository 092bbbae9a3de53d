"""The max pools' dilation and return_indices, and max_unpool1d/2d: the kernels against the loops
of tests/reference.py (dilated windows, padded and ceil_mode's, the indices, the unpool scatter
and its gather), gradients and second derivatives by finite differences through a random
upstream gradient, the tie rule and the duplicate-index rule with exact gradients, the layers,
and every user error with a fix shown to work."""

import ast
import re

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.ops import pool_kernels as kernels


def distinct(rng, shape):
    """Values 0.01 apart in a random order: no ties for the maximum, no kinks within eps."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


def with_ties(rng, shape):
    """Small integers through a relu: most windows have ties, many are all zero."""
    return np.maximum(rng.integers(-3, 3, shape), 0).astype(np.float64)


def scatter_loops(g, places, x_shape):
    """dx[n, c].flat[places[n, c, i, j]] += g[n, c, i, j]: max_pool's input gradient."""
    dx = np.zeros(x_shape)
    for n, c, i, j in np.ndindex(g.shape):
        k = places[n, c, i, j]
        dx[n, c, k // x_shape[3], k % x_shape[3]] += g[n, c, i, j]
    return dx


# x (N, C, H, W), kernel, stride, padding, dilation, ceil_mode
DILATED = [
    ((2, 3, 7, 8), (2, 2), (2, 2), (0, 0), (2, 2), False),    # 2x2 at stride 2, not the slabs
    ((1, 2, 9, 9), (3, 3), (1, 1), (1, 1), (2, 2), False),    # overlapping, padded
    ((2, 1, 8, 7), (2, 3), (3, 2), (1, 1), (3, 2), True),     # pairs, ceil_mode's hanging windows
    ((1, 2, 6, 11), (3, 2), (5, 5), (0, 1), (2, 3), False),   # windows apart: the flat scatter
    ((2, 2, 5, 5), (1, 2), (2, 1), (0, 1), (1, 4), True),     # dilation along W only
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, dilation, ceil_mode", DILATED)
@pytest.mark.parametrize("values", ["distinct", "ties"])
def test_dilated_kernels_match_the_loops(rng, x_shape, kernel, stride, padding, dilation,
                                         ceil_mode, values):
    x = distinct(rng, x_shape) if values == "distinct" else with_ties(rng, x_shape)
    out, argmax = kernels.max_pool(x, kernel, stride, padding, ceil_mode, dilation)
    expected, places = reference.max_pool2d(x, kernel, stride, padding, ceil_mode, dilation,
                                            return_indices=True)
    np.testing.assert_array_equal(out, expected)
    positions = kernels.plane_positions(argmax, x_shape[2:], kernel, stride, padding, dilation)
    np.testing.assert_array_equal(positions, places)          # the first maximum, row-major
    g = rng.standard_normal(out.shape)
    dx = kernels.max_pool_scatter(g, argmax, x_shape, kernel, stride, padding, dilation)
    np.testing.assert_allclose(dx, scatter_loops(g, places, x_shape), rtol=1e-12, atol=1e-12)
    u = rng.standard_normal(x_shape)
    gathered = kernels.max_pool_gather(u, argmax, kernel, stride, padding, dilation)
    np.testing.assert_allclose((g * gathered).sum(), (dx * u).sum(), rtol=1e-12)   # transposes


def test_the_2x2_slabs_serve_only_undilated_pools(rng, monkeypatch):
    x = rng.standard_normal((2, 3, 8, 8))
    fast = kernels.max_pool(x, (2, 2), (2, 2))
    monkeypatch.setattr(kernels, "max_pool_2x2", lambda x: pytest.fail("slabs for dilation 2"))
    out, _ = kernels.max_pool(x, (2, 2), (2, 2), dilation=(2, 2))
    np.testing.assert_array_equal(out, reference.max_pool2d(x, 2, 2, dilation=2))
    assert fast[0].shape == (2, 3, 4, 4) and out.shape == (2, 3, 3, 3)


def test_reference_dilated_max_pool_and_unpool_by_hand():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    # 2x2 windows, dilation 2, stride 3: window (0, 0) reads rows and columns 0 and 2
    out, places = reference.max_pool2d(x, 2, 3, 0, False, 2, return_indices=True)
    assert out.tolist() == [[[[12.0]]]] and places.tolist() == [[[[12]]]]
    up = reference.max_unpool2d(np.array([[[[1.0, 2.0]]]]), np.array([[[[3, 3]]]]), (2, 2))
    assert up.tolist() == [[[[0.0, 0.0], [0.0, 2.0]]]]                 # the last one wins


# x (N, C, H, W) or (C, H, W), kernel_size, stride, padding, dilation, ceil_mode
GRAD_2D = [
    ((1, 1, 5, 5), 2, 1, 0, 2, False),                # batch 1, overlapping
    ((2, 3, 7, 6), 3, 2, 1, 2, False),                # batch and channels, padded
    ((2, 2, 6, 7), (2, 3), (2, 1), (1, 0), (2, 2), True),   # pairs, ceil_mode
    ((3, 7, 7), 3, 3, 0, (2, 1), True),               # one unbatched image, windows apart
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, dilation, ceil_mode", GRAD_2D)
def test_dilated_max_pool2d_gradcheck_and_gradgradcheck(rng, x_shape, kernel_size, stride,
                                                        padding, dilation, ceil_mode):
    x = distinct(rng, x_shape)

    def max_pool(x):
        return ops.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode)

    batched = x if x.ndim == 4 else x[None]
    np.testing.assert_array_equal(
        max_pool(tc.Value(x)).data.reshape(-1),
        reference.max_pool2d(batched, kernel_size, stride, padding, ceil_mode,
                             dilation).reshape(-1))
    assert tc.gradcheck(max_pool, [x])
    assert tc.gradgradcheck(max_pool, [x])


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, dilation, ceil_mode", [
    ((2, 3, 9), 3, 1, 1, 2, False), ((1, 2, 10), 2, 3, 1, 3, True), ((3, 8), 2, 2, 0, 3, False)])
def test_dilated_max_pool1d_gradcheck_and_gradgradcheck(rng, x_shape, kernel_size, stride,
                                                        padding, dilation, ceil_mode):
    x = distinct(rng, x_shape)

    def max_pool(x):
        return ops.max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode)

    assert tc.gradcheck(max_pool, [x])
    assert tc.gradgradcheck(max_pool, [x])


def test_dilation_is_a_param_only_where_it_is_not_one(rng):
    x = tc.Value(rng.standard_normal((1, 1, 6, 6)))
    assert ops.max_pool2d(x, 2, dilation=1).fn.params == {"kernel_size": 2, "stride": None}
    assert ops.max_pool2d(x, 2, dilation=(1, 2)).fn.params == {
        "kernel_size": 2, "stride": None, "dilation": (1, 2)}
    # the gradient ops of an undilated pool keep the params they had
    for dilation, shown in [(1, None), (2, (2, 2))]:
        out = ops.max_pool2d(x, 2, 1, 0, dilation)
        u = tc.Value(np.ones(out.shape))               # requires grad: the rule is recorded
        (dx,) = tc.grad(out, [x], grad_output=u, create_graph=True)
        assert dx.fn.params.get("dilation") == shown


def test_return_indices_are_pytorchs_and_constant(rng):
    x = distinct(rng, (2, 3, 7, 8))
    for value in (tc.Value(x), x):                       # recorded, and not
        out, indices = ops.max_pool2d(value, 3, 2, 1, 2, True, True)
        expected, places = reference.max_pool2d(x, 3, 2, 1, True, 2, return_indices=True)
        np.testing.assert_array_equal(out.data, expected)
        np.testing.assert_array_equal(indices.data, places)
        assert indices.dtype == np.int64 and not indices.requires_grad and indices.fn is None
    with tc.no_grad():
        _, unrecorded = ops.max_pool2d(tc.Value(x), 3, 2, 1, 2, True, True)
    np.testing.assert_array_equal(unrecorded.data, places)
    # 1-D: each maximum's position in L; unbatched: the layout of the output
    signal = distinct(rng, (4, 11))
    out, indices = ops.max_pool1d(signal, 3, 2, 1, 2, return_indices=True)
    np.testing.assert_array_equal(np.take_along_axis(signal, indices.data, axis=1), out.data)
    assert indices.shape == out.shape == (4, 5)


def test_max_unpool2d_puts_each_element_at_its_index_and_gathers_the_gradient(rng):
    out, indices = ops.max_pool2d(distinct(rng, (2, 3, 8, 6)), 2, return_indices=True)
    up = ops.max_unpool2d(out, indices, 2)
    assert up.shape == (2, 3, 8, 6)                      # (4 - 1)*2 + 2 and (3 - 1)*2 + 2
    np.testing.assert_array_equal(up.data, reference.max_unpool2d(out.data, indices.data,
                                                                  (8, 6)))
    # a 7th column that the windows leave out: its indices need output_size, the input's size
    x = distinct(rng, (2, 3, 8, 7))
    out, indices = ops.max_pool2d(x, 2, return_indices=True)
    full = ops.max_unpool2d(out, indices, 2, output_size=(8, 7))
    kept = full.data != 0                                # each window's maximum, where it was
    np.testing.assert_array_equal(full.data[kept], x[kept])
    assert kept.sum() == out.size


# x (N, C, H, W) pooled by kernel_size, stride, padding; the unpool's output_size
UNPOOL_2D = [
    ((1, 1, 4, 4), 2, None, 0, None),
    ((2, 3, 7, 6), 3, 2, 1, (7, 6)),                     # padded; output_size the pool's input
    ((2, 2, 5, 7), (2, 3), (1, 2), (1, 0), None),        # overlapping rows: duplicates
    ((3, 6, 5), 2, 1, 0, (1, 3, 6, 5)),                  # one unbatched image; N and C given
]


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, output_size", UNPOOL_2D)
def test_max_unpool2d_gradcheck_and_gradgradcheck(rng, x_shape, kernel_size, stride, padding,
                                                  output_size):
    _, indices = ops.max_pool2d(distinct(rng, x_shape), kernel_size, stride, padding,
                                return_indices=True)
    y = rng.standard_normal(indices.shape)

    def unpool(y):
        return ops.max_unpool2d(y, indices, kernel_size, stride, padding, output_size)

    # unpool is linear: squared, so the second derivative by y is not zero
    assert tc.gradcheck(unpool, [y])
    assert tc.gradgradcheck(lambda y: unpool(y) ** 2, [y])
    assert tc.gradgradcheck(unpool, [y])


@pytest.mark.parametrize("x_shape, kernel_size, stride, padding, output_size", [
    ((2, 3, 9), 3, 2, 1, None), ((1, 2, 8), 2, 1, 0, (8,)), ((3, 7), 2, None, 0, (1, 3, 7))])
def test_max_unpool1d_matches_the_2d_loops_and_gradchecks(rng, x_shape, kernel_size, stride,
                                                          padding, output_size):
    out, indices = ops.max_pool1d(distinct(rng, x_shape), kernel_size, stride, padding,
                                  return_indices=True)
    up = ops.max_unpool1d(out, indices, kernel_size, stride, padding, output_size)
    length = up.shape[-1]

    def batched(a):                                      # (N, C, L) or (C, L) -> (N, C, 1, L)
        return a.reshape(-1, x_shape[-2], 1, a.shape[-1])

    np.testing.assert_array_equal(
        up.data.reshape(-1), reference.max_unpool2d(batched(out.data), batched(indices.data),
                                                    (1, length)).reshape(-1))
    y = rng.standard_normal(out.shape)
    assert tc.gradcheck(lambda y: ops.max_unpool1d(y, indices, kernel_size, stride, padding,
                                                   output_size) ** 2, [y])


def test_duplicate_indices_the_last_is_written_and_only_it_gets_the_gradient():
    # three elements of one plane name place 1: the last (3.0) is written, as PyTorch's loop
    x = tc.Value(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    indices = np.array([[[1, 1, 0, 1]]])
    out = ops.max_unpool1d(x, indices, 2, 1, 1)          # (4 - 1)*1 - 2*1 + 2 = 3
    assert out.data.tolist() == [[[3.0, 4.0, 0.0]]]
    out.backward(np.array([[[10.0, 20.0, 30.0]]]))
    assert x.grad.tolist() == [[[0.0, 0.0, 10.0, 20.0]]]   # the overwritten get none
    # the gradient is the forward's: finite differences agree (PyTorch's gives 20 to all three)
    assert tc.gradcheck(lambda x: ops.max_unpool1d(x, indices, 2, 1, 1), [x.data])
    assert tc.gradgradcheck(lambda x: ops.max_unpool1d(x, indices, 2, 1, 1) ** 2, [x.data])


def test_overlapping_pool_then_unpool_has_the_composites_gradient(rng):
    # a maximum shared by two windows is written once, so d(unpool(pool(x)))/dx is 1 there
    x = distinct(rng, (1, 2, 6, 6))

    def round_trip(x):
        out, indices = ops.max_pool2d(x, 3, 1, return_indices=True)
        return ops.max_unpool2d(out, indices, 3, 1)

    assert tc.gradcheck(round_trip, [x])
    y = round_trip(tc.Value(x)).data
    np.testing.assert_array_equal(y[y != 0], x[y != 0])


def test_layers_pass_the_settings_and_show_those_not_default(rng):
    x = distinct(rng, (2, 3, 9, 8))
    pool = nn.MaxPool2d(3, 2, 1, 2, True, True)          # PyTorch's order
    assert repr(pool) == ("MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=2, "
                          "ceil_mode=True, return_indices=True)")
    assert repr(nn.MaxPool2d(2, dilation=1)) == "MaxPool2d(kernel_size=2, stride=2)"
    out, indices = pool(x)
    expected = ops.max_pool2d(x, 3, 2, 1, 2, True, True)
    np.testing.assert_array_equal(out.data, expected[0].data)
    np.testing.assert_array_equal(indices.data, expected[1].data)
    unpool = nn.MaxUnpool2d(2)
    assert repr(unpool) == "MaxUnpool2d(kernel_size=2, stride=2, padding=0)"
    small, small_indices = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(unpool(small, small_indices, (9, 8)).data,
                                  ops.max_unpool2d(small, small_indices, 2,
                                                   output_size=(9, 8)).data)
    signal, places = nn.MaxPool1d(2, return_indices=True)(x[0])       # (3, 9, 4)
    assert nn.MaxUnpool1d(2)(signal, places).shape == (3, 9, 8)


FLAG = "{}: {} is {}; expected True or False; pass {}=True or {}=False$"


@pytest.mark.parametrize("make, error, match", [
    (lambda: ops.max_pool2d(np.ones((1, 1, 4, 4)), 2, dilation=0), ValueError,
     r"^max_pool2d: dilation is 0; expected an int >= 1 or an \(h, w\) pair of such ints; "
     r"pass e\.g\. dilation=1$"),
    (lambda: ops.max_pool1d(np.ones((1, 4)), 2, dilation=1.5), TypeError,
     r"^max_pool1d: dilation is float 1\.5; .* pass e\.g\. dilation=1$"),
    (lambda: nn.MaxPool2d(2, dilation=(1, 0)), ValueError, r"^MaxPool2d: dilation is \(1, 0\)"),
    (lambda: ops.max_pool2d(np.ones((1, 1, 4, 4)), 2, return_indices=1), TypeError,
     "^" + FLAG.format("max_pool2d", "return_indices", "int 1", "return_indices",
                       "return_indices")),
    (lambda: nn.MaxPool1d(2, return_indices="yes"), TypeError,
     r"^MaxPool1d: return_indices is str 'yes'"),
])
def test_dilation_and_return_indices_settings_are_checked(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_dilated_kernel_larger_than_the_input_names_its_span():
    with pytest.raises(ValueError, match=r"^max_pool2d: kernel 3x3 with dilation 3, spanning "
                                         r"7x7, is larger than the input 5x5 \(input \(1, 1, 5, "
                                         r"5\)\); expected dilation\*\(kernel_size - 1\) \+ 1 "
                                         r"<= the image size$"):
        ops.max_pool2d(np.ones((1, 1, 5, 5)), 3, dilation=3)
    assert ops.max_pool2d(np.ones((1, 1, 5, 5)), 3, dilation=2).shape == (1, 1, 1, 1)


@pytest.mark.parametrize("op, x_shape, kwargs, fix", [
    ("max_pool1d", (1, 2), {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 3},
     "dilation=1"),
    ("max_pool2d", (1, 1, 2, 6), {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 3},
     "dilation=1"),
    ("max_pool2d", (1, 1, 6, 3), {"kernel_size": (1, 2), "stride": 1, "padding": (0, 1),
                                  "dilation": (1, 4)}, "dilation=1"),
])
def test_a_window_that_reads_only_padding_is_refused_with_a_fix_that_works(op, x_shape, kwargs,
                                                                            fix):
    # PyTorch returns -inf there, with an index outside the input
    with pytest.raises(ValueError, match=rf"^{op}: with dilation .* reads only the padding "
                                         rf"\(positions .*\); expected every window to hold an "
                                         rf"element of the input .*; pass {fix}, or a larger "
                                         rf"input$"):
        getattr(ops, op)(np.ones(x_shape), **kwargs)
    name, value = fix.split("=")
    out = getattr(ops, op)(np.ones(x_shape), **{**kwargs, name: int(value)})
    assert np.isfinite(out.data).all()


def fix_of(error) -> dict:
    """The keyword argument that an error message's "pass e.g. name=value" names."""
    name, value = re.search(r"pass e\.g\. (\w+)=(.+)$", str(error)).groups()
    return {name: ast.literal_eval(value)}


@pytest.mark.parametrize("change, error, match", [
    ({"output_size": (5, 5)}, ValueError,
     r"^max_unpool2d: output_size \(5, 5\) asks for 5x5, but PyTorch takes sizes within "
     r"stride - 1 of the default 6x8 \(\(size - 1\)\*stride - 2\*padding \+ kernel_size\); "
     r"expected sizes in \[5, 7\] and \[7, 9\]; pass e\.g\. output_size=\(6, 8\)$"),
    ({"output_size": (1, 6, 8)}, ValueError,
     r"^max_unpool2d: output_size \(1, 6, 8\) has 3 entries; expected a tuple of 2 ints \(or 4, "
     r"with N, C first\), as PyTorch's; pass e\.g\. output_size=\(6, 8\)$"),
    ({"output_size": 6}, TypeError,
     r"^max_unpool2d: output_size is int 6; expected a tuple of 2 ints \(or 4, with N, C "
     r"first\), as PyTorch's; pass e\.g\. output_size=\(6, 8\)$"),
    ({"padding": -1}, ValueError, r"^max_unpool2d: padding is -1; .* padding=0$"),
])
def test_unpool_settings_errors_and_their_fixes(rng, change, error, match):
    out, indices = ops.max_pool2d(distinct(rng, (1, 2, 6, 8)), 2, return_indices=True)
    settings = {"kernel_size": 2, "output_size": None, **change}
    with pytest.raises(error, match=match) as raised:
        ops.max_unpool2d(out, indices, **settings)
    settings |= fix_of(raised.value)
    assert ops.max_unpool2d(out, indices, **settings).ndim == 4


def test_unpool_indices_errors_and_their_fixes(rng):
    out, indices = ops.max_pool2d(distinct(rng, (1, 2, 7, 9)), 2, return_indices=True)
    with pytest.raises(TypeError, match=r"^max_unpool2d: indices have dtype float64; expected "
                                        r"integers \(int64, as max_pool2d\(\.\.\., "
                                        r"return_indices=True\) returns them\); pass the "
                                        r"indices that max_pool2d returned, or "
                                        r"indices\.astype\(np\.int64\)$"):
        ops.max_unpool2d(out, indices.data.astype(float), 2)
    assert ops.max_unpool2d(out, indices.data.astype(float).astype(np.int64), 2,
                            output_size=(7, 9)).ndim == 4
    with pytest.raises(ValueError, match=r"^max_unpool2d: indices have shape \(1, 2, 3, 4\) but "
                                         r"the input has shape \(1, 2, 3, 3\); expected equal "
                                         r"shapes .*; pass the indices that max_pool2d\(\.\.\., "
                                         r"return_indices=True\) returned with this input$"):
        ops.max_unpool2d(out[:, :, :, :3], indices, 2, output_size=(7, 9))
    # indices of the 7x9 input's planes do not fit the default 6x8 ones: its size does
    with pytest.raises(ValueError, match=r"^max_unpool2d: indices hold values in \[\d+, \d+\], "
                                         r"but the output's planes have 6x8 = 48 places; "
                                         r"expected indices in \[0, 48\); indices of a pool "
                                         r"whose windows left rows or columns of its input out "
                                         r"index planes of that input's size: pass it, "
                                         r"output_size=x\.shape\[-2:\] for the pool's input x "
                                         r"\(sizes in \[5, 7\] and \[7, 9\]\)$"):
        ops.max_unpool2d(out, indices, 2)
    x = np.zeros((1, 2, 7, 9))
    assert ops.max_unpool2d(out, indices, 2, output_size=x.shape[-2:]).shape == x.shape
    with pytest.raises(ValueError, match=r"indices hold values in \[-1, .* pass the indices"):
        ops.max_unpool2d(out, indices.data - 1, 2, output_size=(7, 9))
    with pytest.raises(ValueError, match=r"^max_unpool1d: input has shape \(4,\); expected a "
                                         r"3-D input \(N, C, L\) or a 2-D one \(C, L\)"):
        ops.max_unpool1d(np.ones(4), np.zeros(4, dtype=np.int64), 2)
