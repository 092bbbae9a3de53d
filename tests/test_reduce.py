"""Reductions sum, mean, max, min, var, std, logsumexp, prod, the running sums cumsum and
argmax/argmin: forward against numpy, gradcheck over axes, second derivatives, the tie rule,
logsumexp at large and infinite values, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc

CASES = [                              # (shape, axis, keepdims)
    ((), None, False),                 # a scalar
    ((5,), None, False),
    ((5,), 0, True),
    ((2, 3), 1, False),
    ((2, 3), -1, True),                # negative axis
    ((2, 3, 4), (0, 2), False),        # axes tuple
    ((2, 3, 4), (-1, 0), True),        # axes tuple with a negative axis, keepdims
    ((2, 3, 4), None, True),
    ((3, 1, 2), 1, False),             # a size-1 axis
]

OPS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


def distinct(rng, shape):
    """Values that are all different (no ties for max), at least 0.01 apart."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.01 + rng.uniform(0, 0.001)).reshape(shape) - size * 0.005


@pytest.mark.parametrize("shape, axis, keepdims", CASES)
@pytest.mark.parametrize("name", OPS)
def test_reduce_forward_and_gradcheck(rng, name, shape, axis, keepdims):
    x = distinct(rng, shape)
    op = getattr(tc.ops, name)
    out = op(tc.Value(x), axis=axis, keepdims=keepdims)
    expected = OPS[name](x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)
    assert out.shape == np.shape(expected)
    method = getattr(tc.Value(x), name)(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(method.data, out.data)
    assert tc.gradcheck(lambda v: op(v, axis=axis, keepdims=keepdims), [x])


def test_sum_and_mean_gradients_by_hand(rng):
    x = tc.Value(rng.standard_normal((2, 3)))
    upstream = np.array([1.0, -2.0])
    x.sum(axis=1).backward(upstream)
    np.testing.assert_array_equal(x.grad, [[1.0] * 3, [-2.0] * 3])
    y = tc.Value(rng.standard_normal((2, 3)))
    y.mean(axis=0, keepdims=True).backward(np.array([[3.0, 6.0, 9.0]]))
    np.testing.assert_array_equal(y.grad, [[1.5, 3.0, 4.5]] * 2)


def test_max_sends_the_gradient_to_the_maximum(rng):
    x = tc.Value([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x.max(axis=1).backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [[0, 10, 0], [20, 0, 0]])


def test_max_tied_maxima_share_the_gradient_equally():
    x = tc.Value([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    out = x.max(axis=1)
    assert out.data.tolist() == [3.0, 2.0]
    out.backward(np.array([1.0, 6.0]))
    np.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5], [2.0, 2.0, 2.0]])
    y = tc.Value([4.0, 4.0, 1.0, 4.0])
    y.max().backward()
    np.testing.assert_allclose(y.grad, [1 / 3, 1 / 3, 0.0, 1 / 3], rtol=1e-15)


@pytest.mark.parametrize("name", OPS)
def test_bad_axes_raise(name):
    x = tc.Value(np.ones((2, 3)))
    op = getattr(tc.ops, name)
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        op(x, axis=2)
    with pytest.raises(ValueError, match=rf"{name}: axis -3 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        op(x, axis=(0, -3))
    with pytest.raises(ValueError, match=rf"{name}: axis \(1, -1\) names axis 1 twice; expected "
                                         r"distinct axes, each an int in \[-2, 2\) for an input "
                                         r"of shape \(2, 3\)"):
        op(x, axis=(1, -1))
    with pytest.raises(TypeError, match=rf"{name}: axis 1.0 is a float; expected None, an int in "
                                        r"\[-2, 2\) or a tuple of such ints for an input of "
                                        r"shape \(2, 3\)$"):
        op(x, axis=1.0)
    with pytest.raises(TypeError, match=rf"{name}: axis \(0.0,\) holds 0.0, a float; expected "
                                        r"None, an int in \[-2, 2\) or a tuple of such ints"):
        op(x, axis=(0.0,))          # in range, but not an int: a type error, not a range error


def test_max_of_nothing_raises():
    with pytest.raises(ValueError, match=r"max: input of shape \(2, 0\) has no elements along "
                                         r"axis 1; expected at least one element"):
        tc.Value(np.ones((2, 0))).max(axis=1)


def test_min_tied_minima_share_the_gradient_equally():
    x = tc.Value([[1.0, 3.0, 1.0], [2.0, 2.0, 5.0]])
    out = x.min(axis=1, keepdims=True)
    assert out.data.tolist() == [[1.0], [2.0]]
    out.backward(np.array([[4.0], [6.0]]))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0, 2.0], [3.0, 3.0, 0.0]])


def _count(shape, axis) -> int:
    """How many elements each reduction over `axis` sees."""
    return int(np.prod(shape if axis is None else [shape[a] for a in np.atleast_1d(axis)]))


# every case of CASES with ddof 0 and 1, where that leaves a degree of freedom (else an error)
VAR_CASES = [(*case, ddof) for case in CASES + [((4, 3), (), False)] for ddof in (0, 1)
             if ddof < _count(case[0], case[1])]


@pytest.mark.parametrize("shape, axis, keepdims, ddof", VAR_CASES)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_forward_and_gradcheck(rng, name, shape, axis, keepdims, ddof):
    x = rng.standard_normal(shape)
    out = getattr(tc.ops, name)(tc.Value(x), axis=axis, keepdims=keepdims, ddof=ddof)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims, ddof=ddof)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)
    assert out.shape == np.shape(expected)
    method = getattr(tc.Value(x), name)(axis=axis, keepdims=keepdims, ddof=ddof)
    np.testing.assert_array_equal(method.data, out.data)
    assert tc.gradcheck(lambda v: getattr(tc.ops, name)(v, axis, keepdims, ddof), [x])


def test_var_std_by_hand():
    x = tc.Value([1.0, 2.0, 3.0, 6.0])               # mean 3, squared deviations 4, 1, 0, 9
    v = tc.ops.var(x, ddof=1)
    assert v.item() == 14.0 / 3
    v.backward()
    np.testing.assert_allclose(x.grad, np.array([-2.0, -1.0, 0.0, 3.0]) * 2 / 3, rtol=1e-15)
    y = tc.Value([1.0, 2.0, 3.0, 6.0])
    s = tc.ops.std(y)
    assert s.item() == np.sqrt(3.5)
    s.backward()
    np.testing.assert_allclose(y.grad, np.array([-2.0, -1.0, 0.0, 3.0]) / (4 * np.sqrt(3.5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_std_of_equal_elements_has_gradient_zero(dtype):
    # sqrt has no derivative at 0: the gradient is 0 where std is, as in PyTorch (not 0/0 = NaN)
    x = tc.Value(np.array([[1.0, 2.0, 5.0], [1.0, 3.0, 5.0]], dtype=dtype))   # columns 0, 2 equal
    u = tc.Value(np.array([0.5, -1.0, 2.0], dtype=dtype))
    (dx,) = tc.grad(tc.ops.std(x, axis=0), [x], grad_output=u, create_graph=True)
    np.testing.assert_array_equal(dx.data, [[0.0, 0.5, 0.0], [0.0, -0.5, 0.0]])
    assert dx.dtype == dtype
    ddx, du = tc.grad((dx * x).sum(), [x, u])          # (dx * x).sum() = u . std
    assert np.isfinite(ddx.data).all()
    np.testing.assert_array_equal(ddx.data[:, [0, 2]], 0.0)
    np.testing.assert_array_equal(du.data, [0.0, 0.5, 0.0])    # std, 0 where it is 0


@pytest.mark.parametrize("name, kwargs", [
    ("sum", {"axis": 1}), ("mean", {"axis": (0, 2), "keepdims": True}), ("max", {"axis": -1}),
    ("min", {}), ("var", {"axis": 1, "ddof": 1}), ("std", {"axis": (0, 1)}),
    ("std", {"axis": 2, "keepdims": True, "ddof": 1}),
])
def test_reduce_second_derivatives(rng, name, kwargs):
    x = distinct(rng, (2, 3, 4))
    op = getattr(tc.ops, name)
    # times x, so that even the linear reductions have a non-zero second derivative
    assert tc.gradgradcheck(lambda v: op(v * v, **kwargs), [x])


ARG_CASES = [((5,), None), ((3, 4), None), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1)]


@pytest.mark.parametrize("shape, axis", ARG_CASES)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_are_integer_arrays(rng, name, shape, axis):
    x = distinct(rng, shape)
    out = getattr(tc.ops, name)(tc.Value(x), axis=axis)
    expected = getattr(np, name)(x, axis=axis)
    assert isinstance(out, np.ndarray) and out.dtype.kind == "i"
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(getattr(tc.Value(x), name)(axis=axis), expected)
    np.testing.assert_array_equal(getattr(tc.ops, name)(x, axis=axis), expected)   # arrays too
    kept = getattr(tc.ops, name)(tc.Value(x), axis=axis, keepdims=True)
    np.testing.assert_array_equal(kept, getattr(np, name)(x, axis=axis, keepdims=True))


def test_argmax_takes_the_first_of_ties_and_indexes_back():
    x = tc.Value([[1.0, 4.0, 4.0], [0.0, -1.0, 0.0]])
    np.testing.assert_array_equal(x.argmax(axis=1), [1, 0])
    np.testing.assert_array_equal(x.argmin(axis=1), [0, 1])
    assert x.argmax().shape == () and int(x.argmax()) == 1
    assert tc.ops.getitem(x, np.unravel_index(x.argmin(), x.shape)).item() == -1.0


def test_new_reduction_errors():
    x = tc.Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"min: input of shape \(2, 0\) has no elements along "
                                         r"axis 1; expected at least one element"):
        tc.Value(np.ones((2, 0))).min(axis=1)
    with pytest.raises(ValueError, match=r"min: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        x.min(axis=2)
    with pytest.raises(ValueError, match=r"var: ddof=3 with 3 elements per var \(shape \(2, 3\), "
                                         r"axis 1\) leaves 0 degrees of freedom; expected 0 <= "
                                         r"ddof < 3; reduce over more elements or lower ddof"):
        tc.ops.var(x, axis=1, ddof=3)
    with pytest.raises(ValueError, match=r"std: ddof=-1 with 6 elements"):
        tc.ops.std(x, ddof=-1)
    with pytest.raises(TypeError, match=r"std: ddof 0.5 is a float; expected an int"):
        tc.ops.std(x, ddof=0.5)
    with pytest.raises(ValueError, match=r"var: axis \(0, 0\) names axis 0 twice"):
        tc.ops.var(x, axis=(0, 0))
    with pytest.raises(TypeError, match=r"argmax: axis \(0, 1\) is a tuple; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 3\); argmax "
                                        r"takes a single axis$"):
        tc.ops.argmax(x, axis=(0, 1))
    with pytest.raises(ValueError, match=r"argmin: axis -3 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        tc.ops.argmin(x, axis=-3)
    with pytest.raises(ValueError, match=r"argmax: input of shape \(0,\) has no elements along "
                                         r"axis None"):
        tc.ops.argmax(np.ones(0))


@pytest.mark.parametrize("shape, axis, keepdims", CASES + [((4, 3), (), False)])
def test_logsumexp_forward_gradcheck_and_second_derivatives(rng, shape, axis, keepdims):
    x = rng.standard_normal(shape)
    out = tc.ops.logsumexp(tc.Value(x), axis=axis, keepdims=keepdims)
    expected = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))     # small x: no overflow
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)
    assert out.shape == np.shape(expected)
    method = tc.Value(x).logsumexp(axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(method.data, out.data)
    assert tc.gradcheck(lambda v: tc.ops.logsumexp(v, axis, keepdims), [x])
    assert tc.gradgradcheck(lambda v: tc.ops.logsumexp(v, axis, keepdims), [x])


def test_logsumexp_gradient_is_the_softmax(rng):
    x = tc.Value(rng.standard_normal((3, 4)))
    g = rng.standard_normal(3)
    x.logsumexp(axis=1).backward(g)
    softmax = np.exp(x.data) / np.exp(x.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad, softmax * g[:, None], rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_of_large_values_does_not_overflow(dtype):
    x = tc.Value(np.array([[1e4, 1e4, 0.0], [-1e4, -1e4, -3e4]], dtype=dtype))
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # e^-1e4 underflows: fine
        out = x.logsumexp(axis=1)
        out.backward(np.ones(2, dtype=dtype))
    assert out.dtype == x.grad.dtype == dtype
    np.testing.assert_allclose(out.data, [1e4 + np.log(2), -1e4 + np.log(2)], rtol=1e-7)
    # e^(x - out): out rounded at 1e4 puts 1e4 * eps into the exponent (PyTorch's rule too)
    np.testing.assert_allclose(x.grad, [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]],
                               rtol=2e4 * np.finfo(dtype).eps)


def test_logsumexp_of_infinities_and_of_nothing_as_pytorch():
    """A slice of -infs gives -inf (ln 0) and a NaN gradient, one holding +inf gives +inf with
    a NaN gradient at the inf and 0 elsewhere: e^(x - out) there is e^NaN and e^-inf, as in
    PyTorch's rule. A slice of no elements gives -inf, as numpy's log(sum(exp(x)))."""
    inf = np.inf
    x = tc.Value(np.array([[-inf, -inf, -inf], [inf, 1.0, -inf], [-inf, 0.0, -inf]]))
    out = x.logsumexp(axis=1)
    with np.errstate(invalid="ignore"):                  # -inf - -inf and inf - inf are NaN
        out.backward(np.ones(3))
    assert out.data.tolist() == [-inf, inf, 0.0]
    np.testing.assert_array_equal(x.grad, [[np.nan] * 3, [np.nan, 0.0, 0.0], [0.0, 1.0, 0.0]])
    empty = tc.Value(np.zeros((2, 0)))
    out = tc.ops.logsumexp(empty, axis=1, keepdims=True)
    assert out.data.tolist() == [[-inf], [-inf]]
    out.backward(np.ones((2, 1)))
    assert empty.grad.shape == (2, 0)
    assert tc.ops.logsumexp(np.zeros((0, 3)), axis=0).data.tolist() == [-inf] * 3


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint8, np.bool_])
def test_logsumexp_of_integers_gives_the_dtype_tanh_gives(dtype):
    data = np.array([[0, 1, 1], [1, 0, 0]]).astype(dtype)
    out = tc.ops.logsumexp(tc.Value(data), axis=1)
    assert out.dtype == tc.ops.tanh(tc.Value(data)).dtype and not out.requires_grad
    np.testing.assert_allclose(out.data, np.log(np.exp(data.astype(np.float64)).sum(axis=1)),
                               rtol=1e-3)
    # computed on floats: x - max of an unsigned x would wrap (0 - 200 is 56 in uint8)
    assert tc.ops.logsumexp(np.array([0, 200], dtype=np.uint8)).item() == 200.0


CUMSUM_CASES = [                        # (shape, axis)
    ((), None),                         # a scalar: numpy makes it 1-D
    ((), 0),
    ((5,), 0),
    ((5,), None),
    ((2, 3), 1),
    ((2, 3), -2),                       # a negative axis
    ((2, 3, 4), None),                  # flattened
    ((2, 3, 4), 1),
    ((3, 1, 2), 1),                     # a size-1 axis
    ((2, 0, 3), 1),                     # an empty axis
    ((2, 0, 3), 2),                     # empty elsewhere
]


@pytest.mark.parametrize("shape, axis", CUMSUM_CASES)
def test_cumsum_forward_gradcheck_and_second_derivatives(rng, shape, axis):
    x = rng.standard_normal(shape)
    out = tc.ops.cumsum(tc.Value(x), axis=axis)
    flat = x.reshape(-1) if axis is None or x.ndim == 0 else x      # the loop below: axis 0
    moved = np.moveaxis(flat, 0 if axis is None or x.ndim == 0 else axis, 0)
    sums = np.zeros_like(moved)
    for i in range(len(moved)):                              # straight from the definition
        sums[i] = moved[:i + 1].sum(axis=0)
    expected = np.moveaxis(sums, 0, 0 if axis is None or x.ndim == 0 else axis)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14, atol=1e-15)
    assert out.shape == np.cumsum(x, axis=axis).shape
    np.testing.assert_array_equal(tc.Value(x).cumsum(axis=axis).data, out.data)
    assert tc.gradcheck(lambda v: tc.ops.cumsum(v, axis), [x])
    # times x, so that the second derivative is not 0
    assert tc.gradgradcheck(lambda v: tc.ops.cumsum(v * v, axis), [x])


def test_cumsum_gradient_by_hand():
    x = tc.Value([1.0, 2.0, 3.0])
    y = x.cumsum()
    assert y.data.tolist() == [1.0, 3.0, 6.0]
    y.backward(np.array([1.0, 10.0, 100.0]))
    assert x.grad.tolist() == [111.0, 110.0, 100.0]     # x_0 is in every sum, x_2 in the last
    m = tc.Value(np.ones((2, 3), dtype=np.float32))
    m.cumsum(axis=0).backward(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))
    assert m.grad.dtype == np.float32
    assert m.grad.tolist() == [[5.0, 7.0, 9.0], [4.0, 5.0, 6.0]]


def test_cumsum_keeps_numpy_dtypes():
    assert tc.ops.cumsum(tc.Value(np.ones(3, np.float32))).dtype == np.float32
    for dtype in (np.int8, np.uint8, np.bool_):            # integers: numpy's sum dtype
        data = np.ones(3, dtype)
        out = tc.ops.cumsum(tc.Value(data))
        assert out.dtype == np.cumsum(data).dtype and not out.requires_grad
        assert out.data.tolist() == [1, 2, 3]


def test_logsumexp_and_cumsum_errors():
    x = tc.Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"logsumexp: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        x.logsumexp(axis=2)
    with pytest.raises(TypeError, match=r"logsumexp: axis 1.0 is a float; expected None, an int"):
        tc.ops.logsumexp(x, axis=1.0)
    with pytest.raises(TypeError, match=r"cumsum: axis \(0, 1\) is a tuple; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 3\); cumsum "
                                        r"takes a single axis$"):
        x.cumsum(axis=(0, 1))
    assert x.cumsum(axis=0).cumsum(axis=1).data[-1, -1] == 6.0          # the fix works
    with pytest.raises(TypeError, match=r"cumsum: axis True is a bool; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        tc.ops.cumsum(x, axis=True)
    with pytest.raises(ValueError, match=r"cumsum: axis -3 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        tc.ops.cumsum(x, axis=-3)
    with pytest.raises(ValueError, match=r"cumsum: axis 1 is out of range; expected an int in "
                                         r"\[-1, 1\) \(an axis of the 1-D result\) for an "
                                         r"input of shape \(\)$"):
        tc.ops.cumsum(tc.Value(2.0), axis=1)           # numpy takes a 0-d x as 1-D
    assert tc.ops.cumsum(tc.Value(2.0), axis=-1).data.tolist() == [2.0]     # the fix
    with pytest.raises(ValueError, match=r"logsumexp: axis \(0, -2\) names axis 0 twice; "
                                         r"expected distinct axes, each an int in \[-2, 2\) for "
                                         r"an input of shape \(2, 3\); list each axis once \(a "
                                         r"negative axis -k is axis 2 - k\)$"):
        tc.ops.logsumexp(x, axis=(0, -2))


PROD_CASES = CASES + [((4, 3), (), False), ((7,), 0, False), ((2, 5, 3), 1, True),
                      ((3, 9), None, False)]          # odd lengths: a 1 appended in the tree


@pytest.mark.parametrize("shape, axis, keepdims", PROD_CASES)
def test_prod_forward_gradcheck_and_second_derivatives(rng, shape, axis, keepdims):
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
    out = tc.ops.prod(tc.Value(x), axis=axis, keepdims=keepdims)
    expected = np.prod(x, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)
    assert out.shape == np.shape(expected) and out.dtype == np.float64
    np.testing.assert_array_equal(tc.Value(x).prod(axis, keepdims).data, out.data)
    assert tc.gradcheck(lambda v: tc.ops.prod(v, axis=axis, keepdims=keepdims), [x])
    assert tc.gradgradcheck(lambda v: tc.ops.prod(v, axis=axis, keepdims=keepdims), [x])


def test_prod_gradient_is_the_product_of_the_others_with_zeros_too():
    # rows: no zero, one zero, two zeros; d prod/dx_i = the product of the row's other elements
    x = tc.Value([[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0]])
    (dx,) = tc.grad(x.prod(axis=1).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(dx.data, [[12.0, 8.0, 6.0], [0.0, 8.0, 0.0], [0.0, 0.0, 0.0]])
    # d/dx_i of sum_j dx_j = sum over j != i of the product of the elements other than i and j:
    # in the row [0, 3, 0], element 0 gets x_2 + x_1 = 0 + 3, element 1 gets x_2 + x_0 = 0
    (ddx,) = tc.grad(dx.sum(), [x])
    np.testing.assert_array_equal(ddx.data, [[7.0, 6.0, 5.0], [4.0, 6.0, 2.0], [3.0, 0.0, 3.0]])


def test_prod_of_nothing_is_one_and_integers_keep_numpys_dtype():
    x = tc.Value(np.ones((2, 0, 3)))
    out = x.prod(axis=1)
    assert out.data.tolist() == [[1.0] * 3] * 2 and out.requires_grad
    out.sum().backward()
    assert x.grad.shape == (2, 0, 3)
    ints = tc.ops.prod(np.array([[1, 2], [3, 4]], dtype=np.int8), axis=0)
    assert ints.dtype == np.prod(np.ones(2, dtype=np.int8)).dtype and not ints.requires_grad
    assert ints.data.tolist() == [3, 8]
    with pytest.raises(ValueError, match=r"prod: axis 2 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        tc.ops.prod(np.ones((2, 3)), axis=2)
