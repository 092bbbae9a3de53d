"""Tests of nn.utils' gradient clipping: the total norm against its definition written out in
numpy (several norm types, shapes, dtypes, a parameter without grad); clipping in place with
PyTorch's exact coefficient; non-finite norms both ways; clip_grad_value_; every error, and
that its suggested fix works."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops, optim
from tinygrad_cnn.nn import utils

SHAPES = [(3, 4), (), (2, 1, 5), (7,)]      # a 0-d parameter among them
NORM_TYPES = [2.0, 1.0, 3.0, 0.5, math.inf]


def make_params(rng, dtype=np.float64, scale=1.0):
    """Parameters of SHAPES with random grads, plus one whose grad is None (placed second)."""
    params = [tc.Value(rng.standard_normal(shape).astype(dtype)) for shape in SHAPES]
    for p in params:
        p.grad = np.asarray(scale * rng.standard_normal(p.shape), dtype=dtype)   # 0-d too
    params.insert(1, tc.Value(np.ones((2, 2), dtype=dtype)))        # grad None: skipped
    return params


def reference_norm(grads, p):
    """The p-norm of all grads concatenated into one float64 vector, from the definition."""
    flat = np.concatenate([np.ravel(g).astype(np.float64) for g in grads])
    if p == math.inf:
        return float(np.max(np.abs(flat)))
    return float(np.sum(np.abs(flat) ** p) ** (1 / p))


def test_importable_as_torch_spells_it():
    assert tc.nn.utils is utils
    assert nn.utils.clip_grad_norm_ is utils.clip_grad_norm_
    assert "utils" in nn.__all__


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_total_norm_is_the_norm_of_all_grads_concatenated(rng, norm_type, dtype):
    params = make_params(rng, dtype)
    grads = [p.grad for p in params if p.grad is not None]
    before = [g.copy() for g in grads]
    total = nn.utils.clip_grad_norm_(params, max_norm=1e9, norm_type=norm_type)
    assert type(total) is float
    assert total == pytest.approx(reference_norm(before, norm_type), rel=1e-12)
    for p, g, b in zip([p for p in params if p.grad is not None], grads, before, strict=True):
        assert p.grad is g and g.dtype == dtype
        np.testing.assert_array_equal(g, b)             # under max_norm: multiplied by 1.0
    assert params[1].grad is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", NORM_TYPES)
def test_clipping_scales_every_grad_in_place_by_pytorchs_coefficient(rng, norm_type, dtype):
    params = make_params(rng, dtype, scale=3.0)
    with_grad = [p for p in params if p.grad is not None]
    arrays = [p.grad for p in with_grad]
    before = [g.copy() for g in arrays]
    norm = reference_norm(before, norm_type)
    max_norm = norm / 4
    total = nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    coef = max_norm / (total + 1e-6)                    # torch.nn.utils.clip_grad_norm_'s
    for p, array, b in zip(with_grad, arrays, before, strict=True):
        assert p.grad is array and p.grad.dtype == dtype and p.grad.shape == b.shape
        np.testing.assert_array_equal(p.grad, b * coef)
    after = reference_norm([p.grad for p in with_grad], norm_type)
    rel = 1e-6 if dtype == np.float32 else 1e-12
    assert after == pytest.approx(max_norm * norm / (norm + 1e-6), rel=rel)


def test_coefficient_is_max_norm_over_norm_plus_1e_minus_6():
    p = tc.Value(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(p, 1.0) == 5.0                  # a single Value is fine
    np.testing.assert_array_equal(p.grad, np.array([3.0, 4.0]) * (1.0 / (5.0 + 1e-6)))
    assert np.linalg.norm(p.grad) < 1.0                             # the 1e-6 keeps it below


def test_max_norm_zero_zeroes_the_grads_and_inf_only_measures():
    p = tc.Value(np.zeros(2))
    p.grad = np.array([3.0, -4.0])
    assert nn.utils.clip_grad_norm_([p], math.inf) == 5.0
    np.testing.assert_array_equal(p.grad, [3.0, -4.0])
    assert nn.utils.clip_grad_norm_([p], 0.0) == 5.0
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])


def test_no_grads_gives_zero_and_changes_nothing():
    assert nn.utils.clip_grad_norm_([], 1.0) == 0.0
    frozen = [tc.Value(np.ones(3)), tc.Value(np.ones(2), requires_grad=False)]
    assert nn.utils.clip_grad_norm_(frozen, 1.0) == 0.0
    assert all(p.grad is None for p in frozen)
    nn.utils.clip_grad_value_(frozen, 1.0)
    assert all(p.grad is None for p in frozen)


def test_an_empty_generator_warns_as_pytorch_does():
    model = nn.Sequential(nn.Linear(2, 3))
    params = model.parameters()
    list(params)                                        # used up, e.g. by an optimizer's list()
    with pytest.warns(UserWarning, match="empty generator.*call model.parameters\\(\\) afresh"):
        assert nn.utils.clip_grad_norm_(params, 1.0) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)          # the fix: a fresh one


def test_empty_grad_counts_as_zero():
    p, q = tc.Value(np.zeros(0)), tc.Value(np.zeros(2))
    p.grad, q.grad = np.zeros(0), np.array([-2.0, 1.0])
    for norm_type in NORM_TYPES:
        assert nn.utils.clip_grad_norm_([p, q], 10.0, norm_type) == \
            pytest.approx(reference_norm([q.grad], norm_type), rel=1e-15)


def test_in_a_training_step_with_a_module(rng):
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    loss = ops.cross_entropy(model(100 * rng.standard_normal((8, 3))), np.arange(8) % 2)
    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    assert total > 0.5
    grads = [p.grad for p in model.parameters()]
    assert all(g.dtype == np.float32 for g in grads)
    assert reference_norm(grads, 2) == pytest.approx(0.5, rel=1e-5)
    optimizer.step()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_grad_raises_when_asked_and_changes_nothing(rng, bad):
    params = make_params(rng)
    params[2].grad[()] = bad                            # the 0-d parameter
    before = [None if p.grad is None else p.grad.copy() for p in params]
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 of the gradients is "
                       r"(nan|inf) \(parameter 2 \(shape \(\)\) has 1 nan or inf gradient "
                       r"elements\); expected a finite norm.*skip this step"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for p, b in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.grad, b)


def test_the_skip_this_step_fix_leaves_the_parameters_as_they_were():
    p = tc.Value(np.array([1.0, 2.0]))
    optimizer = optim.SGD([p], lr=0.1)
    p.grad = np.array([np.nan, 1.0])
    try:
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    except RuntimeError:
        optimizer.zero_grad()
    optimizer.step()
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_nonfinite_norm_without_the_error_scales_as_pytorch_does():
    p, q = tc.Value(np.zeros(2)), tc.Value(np.zeros(2))
    p.grad, q.grad = np.array([np.inf, 1.0]), np.array([2.0, -3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # and quietly, as PyTorch
        assert nn.utils.clip_grad_norm_([p, q], 1.0) == math.inf
    np.testing.assert_array_equal(p.grad, [np.nan, 0.0])           # inf * 0 = nan
    np.testing.assert_array_equal(q.grad, [0.0, -0.0])
    p.grad = np.array([np.nan, 1.0])
    assert math.isnan(nn.utils.clip_grad_norm_([p, q], 1.0))
    assert np.isnan(p.grad).all() and np.isnan(q.grad).all()


def test_an_overflowing_norm_of_finite_grads_is_named_as_such():
    p = tc.Value(np.zeros(2))
    p.grad = np.array([1e200, 1e200])
    with pytest.raises(RuntimeError, match="is inf \\(every gradient is finite but their norm "
                                           "overflowed float64\\)"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([p], 1.0, norm_type=1.0, error_if_nonfinite=True) == 2e200


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_clamps_in_place(rng, dtype):
    params = make_params(rng, dtype, scale=2.0)
    params[-1].grad[0] = np.nan
    with_grad = [p for p in params if p.grad is not None]
    arrays = [p.grad for p in with_grad]
    expected = [np.minimum(np.maximum(g, -0.5), 0.5) for g in arrays]   # nan stays nan
    assert nn.utils.clip_grad_value_(params, 0.5) is None
    for p, array, e in zip(with_grad, arrays, expected, strict=True):
        assert p.grad is array and p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad, e)
    assert np.isnan(params[-1].grad[0]) and params[1].grad is None


def test_clip_grad_value_zero_and_inf():
    p = tc.Value(np.zeros(3))
    p.grad = np.array([-2.0, 0.25, 3.0])
    nn.utils.clip_grad_value_(p, math.inf)
    np.testing.assert_array_equal(p.grad, [-2.0, 0.25, 3.0])
    nn.utils.clip_grad_value_(p, 0)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0, 0.0])


def with_grad(grad, shape=(3,)):
    p = tc.Value(np.zeros(shape))
    p.grad = grad
    return p


@pytest.mark.parametrize("max_norm, error, match", [
    (-1.0, ValueError, r"max_norm is -1.0; expected a number >= 0"),
    (float("nan"), ValueError, r"max_norm is nan; expected a number >= 0"),
    ("one", ValueError, r"max_norm is 'one'; expected a number >= 0"),
    (None, TypeError, r"max_norm is a NoneType; expected a number >= 0"),
    (True, TypeError, r"max_norm is a bool; expected a number >= 0"),
])
def test_bad_max_norm(max_norm, error, match):
    p = with_grad(np.array([3.0, 4.0, 0.0]))
    with pytest.raises(error, match="clip_grad_norm_: " + match):
        nn.utils.clip_grad_norm_([p], max_norm)
    np.testing.assert_array_equal(p.grad, [3.0, 4.0, 0.0])


@pytest.mark.parametrize("norm_type", [0, -1.0, -math.inf, math.nan, "two", True])
def test_norm_type_must_be_positive(norm_type):
    p = with_grad(np.array([3.0, 4.0, 0.0]))
    with pytest.raises((ValueError, TypeError),
                       match=r"clip_grad_norm_: norm_type is .*; expected a number > 0: 2.0, "
                             r"1.0, any p > 0, or float\('inf'\)"):
        nn.utils.clip_grad_norm_([p], 1.0, norm_type=norm_type)
    assert nn.utils.clip_grad_norm_([p], 1.0, norm_type="inf") == 4.0      # as float("inf")


@pytest.mark.parametrize("clip_value", [-0.5, math.nan, None])
def test_bad_clip_value(clip_value):
    p = with_grad(np.array([3.0, -4.0, 0.0]))
    with pytest.raises((ValueError, TypeError),
                       match="clip_grad_value_: clip_value is .*; expected a number >= 0"):
        nn.utils.clip_grad_value_([p], clip_value)
    np.testing.assert_array_equal(p.grad, [3.0, -4.0, 0.0])


@pytest.mark.parametrize("parameters, name", [(np.ones(3), "ndarray"), (1.0, "float"),
                                              ("weight", "str")])
def test_parameters_must_be_values(parameters, name):
    with pytest.raises(TypeError, match=f"clip_grad_norm_: parameters is a {name}; expected a "
                                        f"Value or an iterable of Values"):
        nn.utils.clip_grad_norm_(parameters, 1.0)


def test_non_value_in_the_list_and_the_fix():
    model = nn.Linear(2, 3)
    model(np.ones((1, 2))).sum().backward()
    with pytest.raises(TypeError, match=r"clip_grad_value_: parameter 1 is a ndarray; expected "
                                        r"a Value, e.g. from model.parameters\(\)"):
        nn.utils.clip_grad_value_([p.data if i else p for i, p in
                                   enumerate(model.parameters())], 1.0)
    nn.utils.clip_grad_value_(model.parameters(), 1.0)


@pytest.mark.parametrize("grad, error, match, fix", [
    (0.5, TypeError, r"has a grad of type float; expected a numpy array, which clipping "
     r"changes in place; set param.grad = np.array\(grad, dtype=param.dtype\)",
     lambda p: setattr(p, "grad", np.array(p.grad, dtype=p.dtype))),
    (np.float64(0.5), TypeError, r"has a grad of type float64; expected a numpy array",
     lambda p: setattr(p, "grad", np.array(p.grad, dtype=p.dtype))),
    (np.array(1), TypeError, r"has a grad of dtype int64; expected floating point; set "
     r"param.grad = param.grad.astype\(np.float64\)",
     lambda p: setattr(p, "grad", p.grad.astype(np.float64))),
    (np.broadcast_to(np.array(2.0), ()), ValueError, r"has a read-only grad, e.g. a "
     r"np.broadcast_to view; expected a writable array, which clipping changes in place; give "
     r"it its own copy: param.grad = param.grad.copy\(\)",
     lambda p: setattr(p, "grad", p.grad.copy())),
])
@pytest.mark.parametrize("clip", ["norm", "value"])
def test_a_grad_that_cannot_change_in_place_and_the_fix(grad, error, match, fix, clip):
    first, bad = with_grad(np.array([3.0, 4.0, 0.0])), with_grad(grad, shape=())
    call = {"norm": lambda ps: nn.utils.clip_grad_norm_(ps, 1.0),
            "value": lambda ps: nn.utils.clip_grad_value_(ps, 1.0)}[clip]
    with pytest.raises(error, match=rf"clip_grad_{clip}_: parameter 1 \(shape \(\), dtype "
                                    rf"float64\) " + match):
        call([first, bad])
    np.testing.assert_array_equal(first.grad, [3.0, 4.0, 0.0])     # checked before changing
    fix(bad)
    array = bad.grad
    call([first, bad])
    assert bad.grad is array and first.grad.max() <= 1.0


def test_a_parameter_listed_twice_and_the_fix():
    p, q = with_grad(np.array([3.0, 4.0, 0.0])), with_grad(np.array([1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"clip_grad_norm_: parameter 2 \(shape \(3,\)\) is "
                                         r"parameter 0 again; expected each parameter once"):
        nn.utils.clip_grad_norm_([p, q, p], 1.0)
    np.testing.assert_array_equal(p.grad, [3.0, 4.0, 0.0])
    assert nn.utils.clip_grad_norm_([p, q], 1.0) == pytest.approx(math.sqrt(26), rel=1e-15)


@pytest.mark.parametrize("share", ["same array", "overlapping views"])
def test_grads_that_share_memory_and_the_fix(share):
    base = np.array([1.0, 2.0, 3.0, 4.0])
    p, q = tc.Value(np.zeros(3)), tc.Value(np.zeros(3))
    p.grad, q.grad = (base[:3], base[:3]) if share == "same array" else (base[:3], base[1:])
    with pytest.raises(ValueError, match=r"clip_grad_norm_: parameter 1 \(shape \(3,\), dtype "
                                         r"float64\) has a grad that shares memory with "
                                         r"parameter 0's; expected a gradient array of its own"):
        nn.utils.clip_grad_norm_([p, q], 1.0)
    np.testing.assert_array_equal(base, [1.0, 2.0, 3.0, 4.0])
    q.grad = q.grad.copy()
    nn.utils.clip_grad_norm_([p, q], 1.0)
    assert reference_norm([p.grad, q.grad], 2) < 1.0


def test_views_of_one_array_that_do_not_overlap_are_fine():
    base = np.arange(1.0, 7.0)
    p, q = tc.Value(np.zeros(3)), tc.Value(np.zeros(3))
    p.grad, q.grad = base[::2], base[1::2]              # interleaved, disjoint
    nn.utils.clip_grad_value_([p, q], 2.5)
    np.testing.assert_array_equal(base, [1.0, 2.0, 2.5, 2.5, 2.5, 2.5])


def test_backward_gives_grads_that_clip_independently():
    """The engine's grads own their memory (a node used twice, a broadcast bias): clipping one
    parameter's grad never changes another's."""
    a = tc.Value(np.array([1.0, 2.0]))
    b = tc.Value(np.array(3.0))
    (a * a + a * b + b).sum().backward()
    expected_a, expected_b = 2 * a.data + b.data, a.data.sum() + 2.0
    nn.utils.clip_grad_value_([a], 0.1)
    np.testing.assert_array_equal(b.grad, expected_b)
    assert np.all(a.grad == 0.1) and np.all(expected_a > 0.1)


def test_an_integer_parameter_gets_a_fix_that_works():
    """The fix names a float dtype even when the parameter itself holds integers."""
    p = tc.Value(np.array([1, 2, 3]))
    p.grad = np.array([3, 0, 4])
    with pytest.raises(TypeError, match=r"dtype int64\) has a grad of dtype int64; .*"
                                        r"param.grad = param.grad.astype\(np.float64\)"):
        nn.utils.clip_grad_norm_([p], 1.0)
    p.grad = p.grad.astype(np.float64)
    assert nn.utils.clip_grad_norm_([p], 1.0) == 5.0
    np.testing.assert_allclose(p.grad, [0.6, 0.0, 0.8], rtol=1e-6)


def test_grads_over_one_buffer_are_found_whatever_holds_the_memory():
    """np.frombuffer gives each array a memoryview of its own, so no common base array: the
    byte ranges still overlap, and the overlap is refused before anything changes."""
    memory = bytearray(np.arange(8.0).tobytes())
    p, q = with_grad(np.frombuffer(memory, np.float64)), with_grad(
        np.frombuffer(memory, np.float64)[2:])
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(3,\), dtype float64\) has a "
                                         r"grad that shares memory with parameter 0's"):
        nn.utils.clip_grad_norm_([p, q], 1.0)
    np.testing.assert_array_equal(p.grad, np.arange(8.0))
    q.grad = q.grad.copy()                                              # the fix
    nn.utils.clip_grad_norm_([p, q], 1.0)
