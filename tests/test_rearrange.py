"""The rearranging ops (take_along_axis, flip, roll, tile, repeat, squeeze, expand_dims, swapaxes,
moveaxis, diagonal, trace, tril, triu) and sort and topk: forward equal to numpy's function,
gradcheck and gradgradcheck in float64 through a random upstream gradient, float32 kept, the
methods, and the errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops

IDX_1 = np.array([[[0, 2, 2, 1]], [[3, 0, 1, 1]]])           # (2, 1, 4): repeats, broadcast
IDX_NEG = np.array([[-1, 0], [2, -3], [1, 1]])               # (3, 2): negative indices

# (id, x's shape, ours, numpy's): each also gradchecked and gradgradchecked
CASES = [
    ("take_along_axis-1", (2, 4, 4), lambda x: ops.take_along_axis(x, IDX_1, 1),
     lambda x: np.take_along_axis(x, IDX_1, 1)),
    ("take_along_axis-negative", (3, 3), lambda x: ops.take_along_axis(x, IDX_NEG, -1),
     lambda x: np.take_along_axis(x, IDX_NEG, -1)),
    ("take_along_axis-None", (2, 3), lambda x: ops.take_along_axis(x, np.array([5, 0, 5]), None),
     lambda x: np.take_along_axis(x, np.array([5, 0, 5]), None)),
    ("flip-all", (2, 3, 2), ops.flip, np.flip),
    ("flip-axis", (2, 3, 2), lambda x: ops.flip(x, -2), lambda x: np.flip(x, -2)),
    ("flip-axes", (2, 3, 2), lambda x: ops.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2))),
    ("roll-flat", (2, 3), lambda x: ops.roll(x, 4), lambda x: np.roll(x, 4)),
    ("roll-axis", (3, 4), lambda x: ops.roll(x, -1, axis=1), lambda x: np.roll(x, -1, axis=1)),
    ("roll-axes", (2, 3, 2), lambda x: ops.roll(x, (1, 5), axis=(0, 1)),
     lambda x: np.roll(x, (1, 5), axis=(0, 1))),
    ("roll-one-shift-two-axes", (3, 2), lambda x: ops.roll(x, 1, axis=(0, 1)),
     lambda x: np.roll(x, 1, axis=(0, 1))),
    ("roll-0d", (), lambda x: ops.roll(x, 3), lambda x: np.roll(x, 3)),
    ("flip-0d", (), ops.flip, np.flip),
    ("squeeze-to-0d", (1, 1), ops.squeeze, np.squeeze),
    ("expand_dims-0d", (), lambda x: ops.expand_dims(x, 0), lambda x: np.expand_dims(x, 0)),
    ("tile-0d", (), lambda x: ops.tile(x, (2, 3)), lambda x: np.tile(x, (2, 3))),
    ("tile-int", (2, 3), lambda x: ops.tile(x, 2), lambda x: np.tile(x, 2)),
    ("tile-more-axes", (3,), lambda x: ops.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2))),
    ("tile-fewer-reps", (2, 1, 3), lambda x: ops.tile(x, (3, 1)), lambda x: np.tile(x, (3, 1))),
    ("repeat-flat", (2, 2), lambda x: ops.repeat(x, 2), lambda x: np.repeat(x, 2)),
    ("repeat-axis", (2, 3), lambda x: ops.repeat(x, 3, axis=0), lambda x: np.repeat(x, 3, 0)),
    ("repeat-counts", (2, 3), lambda x: ops.repeat(x, [2, 0, 3], axis=-1),
     lambda x: np.repeat(x, [2, 0, 3], axis=-1)),
    ("squeeze-all", (1, 3, 1, 2), ops.squeeze, np.squeeze),
    ("squeeze-axis", (1, 3, 1, 2), lambda x: ops.squeeze(x, -2), lambda x: np.squeeze(x, -2)),
    ("squeeze-axes", (1, 3, 1), lambda x: ops.squeeze(x, (0, 2)), lambda x: np.squeeze(x, (0, 2))),
    ("expand_dims", (2, 3), lambda x: ops.expand_dims(x, 1), lambda x: np.expand_dims(x, 1)),
    ("expand_dims-axes", (2, 3), lambda x: ops.expand_dims(x, (0, -1)),
     lambda x: np.expand_dims(x, (0, -1))),
    ("swapaxes", (2, 3, 4), lambda x: ops.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1)),
    ("moveaxis", (2, 3, 4), lambda x: ops.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1)),
    ("moveaxis-several", (2, 3, 4), lambda x: ops.moveaxis(x, (0, 1), (2, 0)),
     lambda x: np.moveaxis(x, (0, 1), (2, 0))),
    ("diagonal", (3, 3), ops.diagonal, np.diagonal),
    ("diagonal-offset", (3, 4), lambda x: ops.diagonal(x, 1), lambda x: np.diagonal(x, 1)),
    ("diagonal-below-axes", (2, 4, 3), lambda x: ops.diagonal(x, -1, 2, 1),
     lambda x: np.diagonal(x, -1, 2, 1)),
    ("trace", (3, 3), ops.trace, np.trace),
    ("trace-offset-axes", (3, 2, 4), lambda x: ops.trace(x, 1, 0, 2),
     lambda x: np.trace(x, 1, 0, 2)),
    ("tril", (3, 4), ops.tril, np.tril),
    ("tril-k", (2, 3, 3), lambda x: ops.tril(x, -1), lambda x: np.tril(x, -1)),
    ("triu", (4, 3), ops.triu, np.triu),
    ("triu-k", (2, 3, 4), lambda x: ops.triu(x, 2), lambda x: np.triu(x, 2)),
    ("sort", (3, 4), ops.sort, np.sort),
    ("sort-axis0", (3, 2, 2), lambda x: ops.sort(x, 0), lambda x: np.sort(x, 0)),
    ("sort-flat", (2, 3), lambda x: ops.sort(x, None), lambda x: np.sort(x, None)),
    ("topk", (3, 5), lambda x: ops.topk(x, 2)[0], lambda x: -np.sort(-x, -1)[:, :2]),
    ("topk-smallest-axis0", (4, 3), lambda x: ops.topk(x, 3, axis=0, largest=False)[0],
     lambda x: np.sort(x, 0)[:3]),
]


@pytest.mark.parametrize("shape, ours, theirs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_forward_equals_numpy_gradcheck_and_gradgradcheck(rng, shape, ours, theirs):
    # distinct values: sort and topk have no ties
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 0.3
    out = ours(tc.Value(x))
    np.testing.assert_array_equal(out.data, theirs(x))
    assert out.dtype == np.float64
    assert tc.gradcheck(ours, [x])
    assert tc.gradgradcheck(ours, [x])


@pytest.mark.parametrize("shape, ours, theirs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_float32_stays_float32(rng, shape, ours, theirs):
    x = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float32)
    value = tc.Value(x)
    out = ours(value)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, theirs(x))
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert value.grad.dtype == np.float32


def test_take_along_axis_scatter_adds_the_gradient_of_a_repeated_index():
    x = tc.Value(np.array([[1.0, 2.0, 3.0]]))
    ops.take_along_axis(x, np.array([[2, 0, 2, 2]]), axis=1).backward(np.array([[1.0, 2, 3, 4]]))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0, 8.0]])


def test_repeat_and_tile_sum_the_gradients_of_the_copies():
    x = tc.Value(np.array([1.0, 2.0]))
    ops.repeat(x, [3, 1]).backward(np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [6.0, 4.0])
    y = tc.Value(np.array([1.0, 2.0]))
    ops.tile(y, 3).backward(np.arange(6.0))
    np.testing.assert_array_equal(y.grad, [0.0 + 2 + 4, 1.0 + 3 + 5])


def test_sort_sends_each_gradient_to_the_position_it_came_from():
    x = tc.Value(np.array([3.0, 1.0, 2.0]))
    out = ops.sort(x)
    out.backward(np.array([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(out.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, [30.0, 10.0, 20.0])


def test_sort_is_stable_and_topk_takes_the_first_of_ties():
    x = np.array([2.0, 1.0, 2.0, 1.0, 3.0])
    values, indices = ops.topk(x, 3)
    np.testing.assert_array_equal(values.data, [3.0, 2.0, 2.0])
    np.testing.assert_array_equal(indices, [4, 0, 2])
    values, indices = ops.topk(x, 2, largest=False)
    np.testing.assert_array_equal(indices, [1, 3])


def test_topk_returns_int64_positions_and_values_of_xs_shape_with_k_on_axis(rng):
    x = rng.permutation(24).reshape(2, 3, 4).astype(np.float64)
    values, indices = ops.topk(tc.Value(x), 2, axis=1)
    assert values.shape == indices.shape == (2, 2, 4) and indices.dtype == np.int64
    np.testing.assert_array_equal(values.data, np.take_along_axis(x, indices, 1))
    np.testing.assert_array_equal(indices, np.argsort(-x, axis=1)[:, :2])


@pytest.mark.parametrize("largest", [True, False])
def test_topk_unsorted_takes_the_same_elements(rng, largest):
    x = rng.permutation(30).reshape(3, 10).astype(np.float64)
    values, indices = ops.topk(x, 4, largest=largest, sorted=False)
    expected = np.sort(x, -1)[:, -4:] if largest else np.sort(x, -1)[:, :4]
    np.testing.assert_array_equal(np.sort(values.data, -1), expected)
    np.testing.assert_array_equal(values.data, np.take_along_axis(x, indices, -1))
    assert tc.gradgradcheck(lambda v: ops.topk(v, 4, largest=largest, sorted=False)[0], [x])


def test_topk_of_zero_and_of_all_elements():
    x = np.array([[1.0, 3.0, 2.0]])
    assert ops.topk(x, 0)[0].shape == (1, 0)
    np.testing.assert_array_equal(ops.topk(x, 3, sorted=False)[0].data, [[3.0, 2.0, 1.0]])


def test_methods_are_the_functions(rng):
    x = rng.standard_normal((3, 3, 2))
    v = tc.Value(x)
    np.testing.assert_array_equal(v.repeat(2, axis=1).data, x.repeat(2, axis=1))
    np.testing.assert_array_equal(v.repeat(2).data, x.repeat(2))
    np.testing.assert_array_equal(v[:1].squeeze().data, x[:1].squeeze())
    np.testing.assert_array_equal(v[..., :1].squeeze(-1).data, x[..., :1].squeeze(-1))
    np.testing.assert_array_equal(v.swapaxes(0, 2).data, x.swapaxes(0, 2))
    np.testing.assert_array_equal(v.diagonal(1, 1, 0).data, x.diagonal(1, 1, 0))
    np.testing.assert_allclose(v.trace(axis1=0, axis2=1).data, x.trace(axis1=0, axis2=1))
    np.testing.assert_allclose(v.trace().data, x.trace())


def test_no_roll_and_no_reps_still_give_a_new_value_of_x(rng):
    x = rng.standard_normal((2, 3))
    for out in (ops.roll(x, 3, axis=1), ops.roll(tc.Value(x), 0), ops.tile(x, 1)):
        assert isinstance(out, tc.Value)
        np.testing.assert_array_equal(out.data, x)


def test_empty_results_have_numpys_shapes():
    x = np.ones((2, 3))
    assert ops.diagonal(x, 5).shape == np.diagonal(x, 5).shape == (0,)
    assert ops.repeat(x, 0, axis=1).shape == (2, 0)
    assert ops.tile(x, (0, 2)).shape == (0, 6)
    np.testing.assert_array_equal(ops.trace(x, -4).data, 0.0)


@pytest.mark.parametrize("call, error, match", [
    (lambda x: ops.take_along_axis(x, np.array([[0.0]]), 1), TypeError,
     r"take_along_axis: indices has dtype float64; expected an integer array; convert it"),
    (lambda x: ops.take_along_axis(x, np.array([0, 1]), 1), ValueError,
     r"take_along_axis: indices of shape \(2,\) and x of shape \(2, 3\) have 1 and 2 axes"),
    (lambda x: ops.take_along_axis(x, np.zeros((3, 1), int), 1), ValueError,
     r"take_along_axis: indices of shape \(3, 1\) do not fit x of shape \(2, 3\) along axis 1"),
    (lambda x: ops.take_along_axis(x, np.array([[3]]), 1), IndexError,
     r"take_along_axis: index 3 is out of range for axis 1 of size 3 .*\[-3, 3\)"),
    (lambda x: ops.take_along_axis(x, np.array([[0]]), 2), ValueError,
     r"take_along_axis: axis 2 is out of range; expected an int in \[-2, 2\) for an input of "
     r"shape \(2, 3\)$"),
    (lambda x: ops.flip(x, (0, -2)), ValueError,
     r"flip: axis \(0, -2\) names axis 0 twice; expected distinct axes, each an int in "
     r"\[-2, 2\) for an input of shape \(2, 3\); list each axis once \(a negative axis -k is "
     r"axis 2 - k\)$"),
    (lambda x: ops.flip(x, 1.0), TypeError,
     r"flip: axis 1.0 is a float; expected None, an int in \[-2, 2\) or a tuple of such ints "
     r"for an input of shape \(2, 3\)$"),
    (lambda x: ops.roll(x, 1.5), TypeError, r"roll: shift 1.5 is not an int or a sequence"),
    (lambda x: ops.roll(x, (1, 2, 3), axis=(0, 1)), ValueError,
     r"roll: shift \(1, 2, 3\) and axis \(0, 1\) have lengths 3 and 2"),
    (lambda x: ops.roll(x, 1, axis=-3), ValueError,
     r"roll: axis -3 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (lambda x: ops.tile(x, (2.0,)), TypeError, r"tile: reps \(2.0,\) is not an int"),
    (lambda x: ops.tile(x, -1), ValueError, r"tile: reps -1 has a negative count"),
    (lambda x: ops.repeat(x, [1, 2], axis=1), ValueError,
     r"repeat: 2 repeats for axis 1 of size 3 \(x of shape \(2, 3\)\); expected one count"),
    (lambda x: ops.repeat(x, -2), ValueError, r"repeat: repeats -2 has a negative count"),
    (lambda x: ops.repeat(x, 1.5), TypeError, r"repeat: repeats 1.5 is not an int"),
    (lambda x: ops.squeeze(x, 1), ValueError,
     r"squeeze: axis 1 of x of shape \(2, 3\) has size 3; expected axes of size 1 only"),
    (lambda x: ops.expand_dims(x, 3), ValueError,
     r"expand_dims: axis 3 is out of range; expected an int in \[-3, 3\) \(an axis of the "
     r"3-D result\) for an input of shape \(2, 3\)$"),
    (lambda x: ops.swapaxes(x, 0, 2), ValueError,
     r"swapaxes: axis 2 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (lambda x: ops.moveaxis(x, (0, 1), 0), ValueError,
     r"moveaxis: source \(0, 1\) and destination 0 name 2 and 1 axes"),
    (lambda x: ops.moveaxis(x, (0, -2), (0, 1)), ValueError, r"moveaxis: source names an axis"),
    (lambda x: ops.diagonal(x, 0, 1, -1), ValueError,
     r"diagonal: axis1 1 and axis2 -1 are the same axis of x of shape \(2, 3\)"),
    (lambda x: ops.diagonal(x[0]), ValueError, r"diagonal: x of shape \(3,\) has 1 axes; "),
    (lambda x: ops.diagonal(x, 0.5), TypeError, r"diagonal: offset 0.5 is a float"),
    (lambda x: ops.trace(x, 0, 0, 5), ValueError,
     r"diagonal: axis 5 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (lambda x: ops.tril(x[0]), ValueError, r"tril: x of shape \(3,\) has 1 axes; expected at "),
    (lambda x: ops.triu(x, 1.0), TypeError, r"triu: k 1.0 is a float; expected an int"),
    (lambda x: ops.sort(x, 2), ValueError,
     r"sort: axis 2 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (lambda x: ops.topk(x, 4), ValueError,
     r"topk: k=4 is out of range for axis 1 of size 3 \(x of shape \(2, 3\)\); expected 0 <= k"),
    (lambda x: ops.topk(x, 1, axis=-3), ValueError,
     r"topk: axis -3 is out of range; expected an int in \[-2, 2\) for an input of shape "
     r"\(2, 3\)$"),
    (lambda x: ops.topk(x, 1.0), TypeError, r"topk: k 1.0 is a float; expected an int"),
    (lambda x: ops.topk(x, 1, largest=1), TypeError, r"topk: largest is int 1; expected True"),
])
def test_errors_name_the_mistake(call, error, match):
    with pytest.raises(error, match=match):
        call(tc.Value(np.ones((2, 3))))


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_argsort_is_numpys_stable_argsort_and_sorts_as_sort(rng, axis):
    x = rng.integers(0, 3, (4, 5)).astype(np.float64)          # many ties
    positions = ops.argsort(tc.Value(x), axis)
    assert positions.dtype == np.int64 and not isinstance(positions, tc.Value)
    np.testing.assert_array_equal(positions, np.argsort(x, axis=axis, kind="stable"))
    np.testing.assert_array_equal(tc.Value(x).argsort(axis), positions)
    flat = x.reshape(-1) if axis is None else x
    taken = ops.take_along_axis(flat, positions, 0 if axis is None else axis)
    np.testing.assert_array_equal(taken.data, ops.sort(x, axis).data)


def test_argsort_rejects_an_axis_out_of_range():
    with pytest.raises(ValueError, match=r"argsort: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        ops.argsort(np.ones((2, 3)), 2)


def test_topk_indices_are_a_copy_that_backward_does_not_read():
    x = tc.Value([[1.0, 5.0, 3.0, 4.0]])
    values, indices = ops.topk(x, 2)
    assert indices.tolist() == [[1, 3]]
    indices[:] = 0                                  # the caller's array, not the op's positions
    values.backward(np.array([[1.0, 2.0]]))
    assert x.grad.tolist() == [[0.0, 1.0, 0.0, 2.0]]
    with tc.no_grad():
        assert ops.topk(x, 2)[1].tolist() == [[1, 3]]
