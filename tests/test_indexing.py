"""Indexing and joining: getitem, embedding, cat, stack, split, pad against numpy; gradcheck
through a random upstream gradient; second derivatives; the scatter-add of repeated indices (and
embedding's padding row, which gets none); errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops

MASK = np.array([True, False, True, True])

INDICES = [                                         # x has shape (4, 3, 5)
    2,                                              # an int
    -1,                                             # a negative int
    (1, -2, 4),                                     # one element
    slice(1, 3),                                    # a slice
    (slice(None, None, -1), slice(None, None, 2)),  # negative step, step 2
    (slice(3, 0, -2), 1, slice(-1, -4, -1)),        # negative bounds and steps
    (None, Ellipsis, None),                         # new axes around everything
    (Ellipsis, 2),                                  # Ellipsis, then the last axis
    (1, None, slice(None), None),                   # an int and new axes
    np.array([0, 2, 2, 0, 3]),                      # repeated indices accumulate
    [3, -4, 3],                                     # a list, negative and repeated
    (slice(None), np.array([[0, 1], [1, 1]])),      # a 2-D integer array on axis 1
    MASK,                                           # a boolean mask on axis 0
    (slice(None), np.array([True, False, True])),   # a mask on axis 1
    np.arange(12).reshape(4, 3) % 5 > 1,            # a 2-D mask over the first two axes
    (np.array([0, 3, 0]), slice(None), np.array([4, 0, 4])),   # separated: advanced axes first
    (slice(None), np.array([2, 0]), np.array([[1], [3]])),     # adjacent, broadcast (2, 2)
    (MASK, np.array([0, 2, 2])),                    # a mask and an integer array together
    (None, np.array([1, 1]), Ellipsis, slice(None, None, -3)),   # None, array, Ellipsis, step
    np.bool_(True),                                 # a 0-d mask: a new axis of size 1
    [],                                             # selects nothing
]


def ids(index) -> str:
    return repr(index).replace("\n", "")[:50]


@pytest.mark.parametrize("index", INDICES, ids=ids)
def test_getitem_forward_and_gradcheck(rng, index):
    x = rng.standard_normal((4, 3, 5))
    out = ops.getitem(tc.Value(x), index)
    expected = x[index]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)
    assert tc.gradcheck(lambda v: ops.getitem(v, index), [x])


@pytest.mark.parametrize("index", INDICES, ids=ids)
def test_getitem_backward_is_a_scatter_add(rng, index):
    x = tc.Value(rng.standard_normal((4, 3, 5)))
    out = ops.getitem(x, index)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    # independent oracle: send each output element's gradient back to where it came from,
    # found by indexing an array of element ids the same way
    source = np.arange(x.size).reshape(x.shape)[index]
    expected = np.zeros(x.size)
    for k, g_k in zip(source.reshape(-1), g.reshape(-1), strict=True):
        expected[k] += g_k
    np.testing.assert_allclose(x.grad, expected.reshape(x.shape), rtol=1e-15, atol=0)


def test_repeated_indices_accumulate():
    x = tc.Value([10.0, 20.0, 30.0])
    y = ops.getitem(x, np.array([2, 0, 2, 2]))
    assert y.data.tolist() == [30.0, 10.0, 30.0, 30.0]
    y.backward(np.array([1.0, 2.0, 3.0, 4.0]))
    assert x.grad.tolist() == [2.0, 0.0, 8.0]     # x[2] picked three times: 1 + 3 + 4


def test_value_indexing_sugar_and_iteration(rng):
    x = rng.standard_normal((3, 4))
    v = tc.Value(x)
    np.testing.assert_array_equal(v[1:, ::-1].data, x[1:, ::-1])
    np.testing.assert_array_equal(v[v > 0].data, x[x > 0])
    mask = tc.Value(x > 0)                       # a Value of bools is a mask too
    np.testing.assert_array_equal(ops.getitem(v, mask).data, x[x > 0])
    np.testing.assert_array_equal(v[tc.Value(np.array([2, 0]))].data, x[[2, 0]])
    assert [row.shape for row in v] == [(4,)] * 3
    assert tc.gradcheck(lambda t: t[::2, [1, 1, 3]] * t[-1, None, :3], [x])


def test_getitem_of_a_float32_value_keeps_float32(rng):
    x = tc.Value(rng.standard_normal((3, 4)).astype(np.float32))
    y = ops.getitem(x, (np.array([0, 0]), slice(1, 3)))
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [[0, 2, 2, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("index", [np.array([0, 2, 2]), (slice(None, None, -1), 1),
                                   (MASK[:3], np.array([1, 0]))], ids=ids)
def test_getitem_second_derivatives(rng, index):
    # x[index] squared, so the second derivative w.r.t. x is not zero
    x = rng.standard_normal((3, 4))
    assert tc.gradgradcheck(lambda v: ops.getitem(v, index) * ops.getitem(v, index), [x])


def test_getitem_third_derivative_by_hand():
    # y = sum(x[[0, 0, 1]]^3) = 2 x0^3 + x1^3: d3y/dx0^3 = 12, d3y/dx1^3 = 6
    x = tc.Value([2.0, 3.0])
    y = (ops.getitem(x, [0, 0, 1]) ** 3).sum()
    (g1,) = tc.grad(y, [x], create_graph=True)
    (g2,) = tc.grad(g1.sum(), [x], create_graph=True)
    (g3,) = tc.grad(g2.sum(), [x])
    assert g1.data.tolist() == [24.0, 27.0] and g2.data.tolist() == [24.0, 18.0]
    assert g3.data.tolist() == [12.0, 6.0]


INDEX_ERRORS = [
    (5, IndexError, r"getitem: index 5 is out of range for axis 0 of size 3 \(x has shape "
                    r"\(3, 4\)\); expected an index in \[-3, 3\)"),
    ((0, -5), IndexError, r"index -5 is out of range for axis 1 of size 4 \(x has shape "
                          r"\(3, 4\)\)"),
    (np.array([0, 7, 1]), IndexError, r"index 7 is out of range for axis 0 of size 3"),
    ((slice(None), [0, -9]), IndexError, r"index -9 is out of range for axis 1 of size 4"),
    (1.0, TypeError, r"getitem: index 1.0 is a float; expected an int, a slice, None, "
                     r"Ellipsis, an integer array or a boolean mask .*; convert it with int\(\)"),
    ((0, np.float64(2.0)), TypeError, r"index 2.0 is a float"),
    (np.array([0.0, 1.0]), TypeError, r"getitem: index array has dtype float64; expected an "
                                      r"int.*convert it with \.astype\(np\.int64\)"),
    (slice(0, 2.5), TypeError, r"getitem: slice slice\(0, 2.5, None\) has a float bound 2.5; "
                               r"expected ints or None"),
    (slice(None, None, 0), ValueError, r"slice\(None, None, 0\) has step 0"),
    ("a", TypeError, r"getitem: index 'a' is a str; expected an int"),
    ((0, 1, 2), IndexError, r"getitem: the index uses 3 axes but x has shape \(3, 4\) \(2 axes\)"),
    ((Ellipsis, 0, Ellipsis), IndexError, r"the index has 2 Ellipses"),
    (np.array([True, False]), IndexError, r"getitem: boolean mask of shape \(2,\) does not fit "
                                          r"axes 0..0 of x of shape \(3, 4\); expected a mask "
                                          r"of shape \(3,\)"),
    ((np.array([0, 1]), np.array([0, 1, 2])), IndexError,
     r"getitem: the index arrays have shapes \(2,\), \(3,\), which do not broadcast together"),
]


@pytest.mark.parametrize("index, error, message", INDEX_ERRORS,
                         ids=[ids(case[0]) for case in INDEX_ERRORS])
def test_getitem_errors(index, error, message):
    x = tc.Value(np.zeros((3, 4)))
    with pytest.raises(error, match=message):
        ops.getitem(x, index)


def test_the_suggested_fixes_work():
    x = tc.Value(np.arange(12.0).reshape(3, 4))
    assert ops.getitem(x, int(1.0)).shape == (4,)
    assert ops.getitem(x, np.array([0.0, 2.0]).astype(np.int64)).shape == (2, 4)


CAT_CASES = [                                       # (shapes, axis)
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 1), (2, 5)], -1),                 # three inputs, negative axis
    ([(1, 2, 3), (1, 2, 3)], 1),
    ([(5,)], 0),                                    # a single input
    ([(2, 0), (2, 3)], 1),                          # an empty input
]


@pytest.mark.parametrize("shapes, axis", CAT_CASES)
def test_cat_forward_and_gradcheck(rng, shapes, axis):
    xs = [rng.standard_normal(s) for s in shapes]
    out = ops.cat([tc.Value(x) for x in xs], axis=axis)
    np.testing.assert_array_equal(out.data, np.concatenate(xs, axis=axis))
    assert tc.gradcheck(lambda *vs: ops.cat(list(vs), axis=axis), xs)


def test_cat_with_a_constant_and_float32(rng):
    a = tc.Value(rng.standard_normal((2, 2)).astype(np.float32))
    const = np.ones((1, 2), dtype=np.float32)
    out = ops.cat([const, a], axis=0)
    assert out.dtype == np.float32 and out.shape == (3, 2)
    out.backward(np.arange(6.0, dtype=np.float32).reshape(3, 2))
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, [[2, 3], [4, 5]])


STACK_CASES = [([(3,), (3,)], 0), ([(2, 3)] * 3, -1), ([(2, 1, 4)] * 2, 2), ([()] * 4, 0)]


@pytest.mark.parametrize("shapes, axis", STACK_CASES)
def test_stack_forward_and_gradcheck(rng, shapes, axis):
    xs = [rng.standard_normal(s) for s in shapes]
    out = ops.stack([tc.Value(x) for x in xs], axis=axis)
    np.testing.assert_array_equal(out.data, np.stack(xs, axis=axis))
    assert tc.gradcheck(lambda *vs: ops.stack(list(vs), axis=axis), xs)


SPLIT_CASES = [                                     # (shape, sections, axis)
    ((6, 2), 3, 0),
    ((2, 6), [1, 4], 1),
    ((4, 3), [-1], 0),                              # a negative index counts from the end
    ((5,), [2, 9], 0),                              # past the end: an empty last piece
    ((2, 3, 4), 1, -1),
    ((5, 2), [3, 1], 0),                            # decreasing indices: an empty piece, as numpy
]


@pytest.mark.parametrize("shape, sections, axis", SPLIT_CASES)
def test_split_forward_and_gradcheck(rng, shape, sections, axis):
    x = rng.standard_normal(shape)
    pieces = ops.split(tc.Value(x), sections, axis=axis)
    expected = np.split(x, sections, axis=axis)
    assert isinstance(pieces, list) and len(pieces) == len(expected)
    for piece, e in zip(pieces, expected, strict=True):
        assert isinstance(piece, tc.Value) and piece.shape == e.shape
        np.testing.assert_array_equal(piece.data, e)
    weights = [rng.standard_normal(e.shape) for e in expected]

    def weighted(v):       # every piece enters with its own weights
        total = tc.Value(0.0)
        for piece, w in zip(ops.split(v, sections, axis=axis), weights, strict=True):
            total = total + (piece * w).sum()
        return total

    assert tc.gradcheck(weighted, [x])


PAD_CASES = [                                       # (shape, pad_width, value)
    ((3,), 2, 0.0),
    ((2, 3), (1, 2), -1.5),                          # one pair for every axis
    ((2, 3, 4), ((0, 1), (2, 0), (1, 1)), 7.0),      # one pair per axis
    ((2, 3), ((1, 0),), 0.0),                        # one pair, broadcast
    ((2, 2), 0, 3.0),                                # no padding
]


@pytest.mark.parametrize("shape, pad_width, value", PAD_CASES)
def test_pad_forward_and_gradcheck(rng, shape, pad_width, value):
    x = rng.standard_normal(shape)
    out = ops.pad(tc.Value(x), pad_width, value=value)
    np.testing.assert_array_equal(out.data, np.pad(x, pad_width, constant_values=value))
    assert tc.gradcheck(lambda v: ops.pad(v, pad_width, value=value), [x])


@pytest.mark.parametrize("fn, shapes", [
    (lambda a, b: ops.cat([a, b * a], axis=1), [(2, 3), (2, 3)]),
    (lambda a, b: ops.stack([a * a, b], axis=1), [(2, 3), (2, 3)]),
    (lambda a: ops.split(a, [1], axis=1)[0] * ops.split(a, 3, axis=1)[2], [(2, 3)]),
    (lambda a: ops.pad(a * a, ((1, 0), (2, 1)), value=2.0), [(2, 3)]),
], ids=["cat", "stack", "split", "pad"])
def test_joining_second_derivatives(rng, fn, shapes):
    assert tc.gradgradcheck(fn, [rng.standard_normal(s) for s in shapes])


def test_cat_and_stack_errors():
    a, b = tc.Value(np.zeros((2, 3))), tc.Value(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"cat: values\[0\] has shape \(2, 3\) but values\[1\] "
                                         r"has shape \(2, 4\); expected the same number of axes "
                                         r"and equal sizes on every axis but axis 0"):
        ops.cat([a, b])
    assert ops.cat([a, b], axis=1).shape == (2, 7)    # the fix: join along the axis that differs
    with pytest.raises(ValueError, match=r"values\[0\] has shape \(2, 3\) but values\[2\] has "
                                         r"shape \(3,\)"):
        ops.cat([a, a, np.zeros(3)])
    with pytest.raises(ValueError, match=r"stack: values\[0\] has shape \(2, 3\) but "
                                         r"values\[1\] has shape \(2, 4\); expected equal shapes"):
        ops.stack([a, b])
    with pytest.raises(ValueError, match=r"cat: values\[0\] is 0-d .*use stack"):
        ops.cat([tc.Value(1.0), tc.Value(2.0)])
    with pytest.raises(TypeError, match=r"cat: values is a Value; expected a list or tuple of "
                                        r"Values, e.g. cat\(\[a, b\], axis=0\)"):
        ops.cat(a)
    with pytest.raises(ValueError, match=r"stack: values is empty"):
        ops.stack([])
    with pytest.raises(ValueError, match=r"cat: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        ops.cat([a, a], axis=2)
    with pytest.raises(ValueError, match=r"stack: axis -4 is out of range; expected an int in "
                                         r"\[-3, 3\) \(an axis of the 3-D result\) for an "
                                         r"input of shape \(2, 3\)$"):
        ops.stack([a, a], axis=-4)
    with pytest.raises(TypeError, match=r"cat: axis 0.0 is a float; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        ops.cat([a, a], axis=0.0)


def test_split_errors():
    x = tc.Value(np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"split: 3 sections do not divide axis 0 of size 10 \(x "
                                         r"has shape \(10, 2\)\); expected a positive divisor of "
                                         r"10; pass a list of split indices instead, e.g. \[5\]"):
        ops.split(x, 3)
    assert [p.shape[0] for p in ops.split(x, [5])] == [5, 5]     # the suggested fix
    with pytest.raises(ValueError, match=r"split: 0 sections do not divide"):
        ops.split(x, 0)
    with pytest.raises(TypeError, match=r"split: sections 2.5 is a float; expected an int"):
        ops.split(x, 2.5)
    with pytest.raises(ValueError, match=r"split: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(10, 2\)$"):
        ops.split(x, 2, axis=2)


def test_pad_errors():
    x = tc.Value(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"pad: pad_width \(-1, 1\) has a negative width; "
                                         r"expected widths >= 0"):
        ops.pad(x, (-1, 1))
    with pytest.raises(ValueError, match=r"pad: pad_width \(\(1, 1\), \(1, 1\), \(1, 1\)\) has "
                                         r"shape \(3, 2\), which does not fit x of shape \(2, 3\) "
                                         r"\(2 axes\); expected an int, a \(before, after\) pair "
                                         r"or 2 pairs"):
        ops.pad(x, ((1, 1),) * 3)
    with pytest.raises(TypeError, match=r"pad: pad_width 1.5 is not made of ints"):
        ops.pad(x, 1.5)
    with pytest.raises(TypeError, match=r"pad: value 'zero' is a str; expected a real number"):
        ops.pad(x, 1, value="zero")
    with pytest.raises(ValueError, match=r"pad: x is 0-d \(shape \(\)\), which has no axis to "
                                         r"pad; expected an array with at least one axis"):
        ops.pad(tc.Value(2.0), 1)


# ---------------------------------------------------------------- embedding

# ids for a table of 6 rows: 0-d, 1-D and 2-D ones in which ids repeat (2 among them), none
EMBEDDING_IDS = [np.array(2), np.array([4, 2, 4, 0, 2]), np.array([[1, 2, 1], [5, 2, 1]]),
                 np.zeros((2, 0), np.int64)]
EMBEDDING_CASES = [(ids, padding_idx) for ids in EMBEDDING_IDS for padding_idx in (None, 2, -4)]


def embedding_case_id(case) -> str:
    return f"ids{case[0].shape}-padding_idx={case[1]}"


def scatter_add_by_loops(ids, upstream, num_rows, padding_idx):
    """The weight gradient from the definition: each position sends its gradient to the row of
    its id, unless that id is the padding id (negative: counted from the end)."""
    padding = None if padding_idx is None else padding_idx % num_rows
    expected = np.zeros((num_rows, upstream.shape[-1]))
    for position in np.ndindex(ids.shape):
        if ids[position] != padding:
            expected[ids[position]] += upstream[position]
    return expected


@pytest.mark.parametrize("ids, padding_idx", EMBEDDING_CASES,
                         ids=[embedding_case_id(c) for c in EMBEDDING_CASES])
def test_embedding_forward_and_backward_are_a_lookup_and_a_scatter_add(rng, ids, padding_idx):
    weight = tc.Value(rng.standard_normal((6, 3)))
    out = ops.embedding(ids, weight, padding_idx)
    assert out.shape == ids.shape + (3,)
    np.testing.assert_array_equal(out.data, weight.data[ids])  # the padding row's values too
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(weight.grad, scatter_add_by_loops(ids, upstream, 6, padding_idx),
                               rtol=1e-15, atol=0)


@pytest.mark.parametrize("ids, padding_idx", EMBEDDING_CASES,
                         ids=[embedding_case_id(c) for c in EMBEDDING_CASES])
def test_embedding_gradcheck_and_gradgradcheck(rng, ids, padding_idx):
    """Finite differences see the padding row's values at the padding id's positions, where its
    gradient is zero by definition; so with a padding_idx that row is held constant and the
    others are checked, the padding id's positions included (a mask misplaced would show)."""
    if padding_idx is None:
        def fn(weight):
            return ops.embedding(ids, weight)
        inputs = [rng.standard_normal((6, 3))]
    else:
        padding_row = rng.standard_normal((1, 3))

        def fn(above, below):
            return ops.embedding(ids, ops.cat([above, padding_row, below]), padding_idx)
        inputs = [rng.standard_normal((2, 3)), rng.standard_normal((3, 3))]
    assert tc.gradcheck(fn, inputs)
    assert tc.gradgradcheck(fn, inputs)         # w.r.t. the upstream gradient too


@pytest.mark.parametrize("norm_type", [2.0, 1.0, np.inf])
def test_embedding_with_max_norm_gradcheck_and_gradgradcheck(rng, norm_type):
    """With max_norm the rescaling changes the table, not the graph, so finite differences can
    check the lookup only where no row is rescaled: rows shorter than max_norm (the rescaling
    path runs, and leaves them), with repeated ids."""
    ids = np.array([[0, 4, 4], [2, 0, 1]])

    def fn(weight):
        return ops.embedding(ids, weight, max_norm=10.0, norm_type=norm_type)
    inputs = [rng.standard_normal((5, 3))]
    assert tc.gradcheck(fn, inputs)
    assert tc.gradgradcheck(fn, inputs)


def test_embedding_padding_row_gets_zero_gradient_of_every_order(rng):
    """d<out, u>/dweight under create_graph, then its derivative w.r.t. u: both are zero at the
    padding row, and the second is v[ids] at the other positions (the scatter-add's transpose)."""
    ids = np.array([[3, 0, 3], [1, 3, 3]])
    weight = tc.Value(rng.standard_normal((4, 2)))
    u = tc.Value(rng.standard_normal((2, 3, 2)))
    (g,) = tc.grad(ops.embedding(ids, weight, padding_idx=3), [weight], grad_output=u,
                   create_graph=True)
    np.testing.assert_array_equal(g.data[3], [0.0, 0.0])
    np.testing.assert_allclose(g.data, scatter_add_by_loops(ids, u.data, 4, 3), rtol=1e-15)
    v = rng.standard_normal((4, 2))
    (du,) = tc.grad((g * v).sum(), [u])
    expected = v[ids] * (ids != 3)[..., None]
    np.testing.assert_array_equal(du.data, expected)


def test_embedding_takes_ints_lists_and_integer_values_and_keeps_float32(rng):
    weight = tc.Value(rng.standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(ops.embedding(2, weight).data, weight.data[2])
    np.testing.assert_array_equal(ops.embedding([4, 0, 4], weight).data, weight.data[[4, 0, 4]])
    ids = tc.Value(np.array([[1, 3]], dtype=np.uint8))
    out = ops.embedding(ids, weight, padding_idx=np.int64(-2))
    assert out.fn.inputs[0] is ids and out.fn.params == {"padding_idx": 3}   # drawn as a node
    out.backward(np.ones((1, 2, 3), np.float32))
    assert out.dtype == weight.grad.dtype == np.float32
    np.testing.assert_array_equal(weight.grad.sum(axis=1), [0, 3, 0, 0, 0])
    assert not ops.embedding(np.array([0]), weight.data).requires_grad      # a constant table


def test_embedding_errors_and_their_fixes(rng):
    weight = tc.Value(rng.standard_normal((10, 3)))
    with pytest.raises(TypeError, match=r"embedding: ids has dtype float64 with values in "
                                        r"\[1\.0, 7\.0\]; expected integer ids in \[0, 10\); "
                                        r"convert them with ids\.astype\(np\.int64\)"):
        ops.embedding(np.array([1.0, 7.0]), weight)
    assert ops.embedding(np.array([1.0, 7.0]).astype(np.int64), weight).shape == (2, 3)
    # Value.astype converts between float dtypes only, and a list has no astype: each fix fits
    float_ids = tc.Value([1.0, 7.0], requires_grad=False)
    with pytest.raises(TypeError, match=r"convert them with ids\.data\.astype\(np\.int64\)"):
        ops.embedding(float_ids, weight)
    assert ops.embedding(float_ids.data.astype(np.int64), weight).shape == (2, 3)
    with pytest.raises(TypeError, match=r"convert them with np\.asarray\(ids, "
                                        r"dtype=np\.int64\)"):
        ops.embedding([1.0, 7.0], weight)
    assert ops.embedding(np.asarray([1.0, 7.0], dtype=np.int64), weight).shape == (2, 3)
    with pytest.raises(TypeError, match=r"embedding: ids has dtype bool; expected integer ids"):
        ops.embedding(np.array([True, False]), weight)
    with pytest.raises(TypeError, match=r"embedding: ids is a Value of dtype float64 that "
                                        r"requires grad; expected integer ids, which have no "
                                        r"gradient .*ids\.data\.astype\(np\.int64\)"):
        ops.embedding(tc.Value([1.0, 2.0]), weight)
    with pytest.raises(IndexError, match=r"embedding: ids hold values in \[-1, 4\] but the "
                                         r"table has num_embeddings=10 rows; expected ids in "
                                         r"\[0, 10\); map the ids into range first \(negative "
                                         r"ids do not count from the end\)"):
        ops.embedding([4, -1], weight)
    with pytest.raises(IndexError, match=r"ids hold values in \[3, 10\] .* make num_embeddings "
                                         r"at least 11"):
        ops.embedding(np.array([[3, 10]]), weight)
    with pytest.raises(TypeError, match=r"embedding: weight has dtype int64; expected a float "
                                        r"table \(num_embeddings, embedding_dim\); the arguments "
                                        r"are \(ids, weight\), ids first"):
        ops.embedding(weight, np.array([[1, 2]]))          # swapped
    with pytest.raises(ValueError, match=r"embedding: weight has shape \(10,\); expected a 2-D "
                                         r"table \(num_embeddings, embedding_dim\)"):
        ops.embedding([1], np.zeros(10))
    with pytest.raises(ValueError, match=r"embedding: padding_idx is 10 but the table has "
                                         r"num_embeddings=10 rows; expected padding_idx in "
                                         r"\[-10, 10\) \(a negative one counts from the end\) "
                                         r"or None"):
        ops.embedding([1], weight, padding_idx=10)
    with pytest.raises(TypeError, match=r"embedding: padding_idx is float 1\.0; expected an int "
                                        r"in \[-10, 10\) or None"):
        ops.embedding([1], weight, padding_idx=1.0)
