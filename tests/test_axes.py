"""The axis check the ops share (tinygrad_cnn/ops/axes.py): what it accepts, what it returns,
and that every op's axis error has the one form, with that op's name."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import ops
from tinygrad_cnn.ops.axes import checked_axes, checked_axis

SHAPE = (2, 3)


@pytest.mark.parametrize("axis, expected", [(0, 0), (1, 1), (-1, 1), (-2, 0),
                                            (np.int64(-1), 1), (np.int32(1), 1),
                                            (np.uint8(0), 0)])
def test_checked_axis_normalises_ints_and_numpy_ints(axis, expected):
    out = checked_axis("op", axis, SHAPE)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("axis, name", [(True, "bool"), (np.bool_(False), "bool"),
                                        (1.0, "float"), (np.float64(0.0), "float64"),
                                        ("1", "str"), (None, "NoneType")])
def test_checked_axis_refuses_what_is_not_an_int(axis, name):
    with pytest.raises(TypeError, match=rf"^op: axis .+ is a {name}; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        checked_axis("op", axis, SHAPE)


def test_checked_axis_says_a_tuple_is_one_axis_too_many():
    with pytest.raises(TypeError, match=r"^op: axis \(0, 1\) is a tuple; expected an int in "
                                        r"\[-2, 2\) for an input of shape \(2, 3\); op takes a "
                                        r"single axis$"):
        checked_axis("op", (0, 1), SHAPE)


@pytest.mark.parametrize("axis", [2, -3, 10, np.int64(2)])
def test_checked_axis_out_of_range_names_op_axis_range_and_shape(axis):
    with pytest.raises(ValueError, match=rf"^sort: axis {int(axis)} is out of range; expected an "
                                         r"int in \[-2, 2\) for an input of shape \(2, 3\)$"):
        checked_axis("sort", axis, SHAPE)


def test_checked_axis_counts_the_result_axes_when_told():
    assert checked_axis("stack", -1, SHAPE, ndim=3) == 2
    with pytest.raises(ValueError, match=r"^stack: axis 3 is out of range; expected an int in "
                                         r"\[-3, 3\) \(an axis of the 3-D result\) for an input "
                                         r"of shape \(2, 3\)$"):
        checked_axis("stack", 3, SHAPE, ndim=3)


def test_a_0d_input_gets_a_fix_that_works():
    with pytest.raises(ValueError, match=r"^softmax: axis -1 is out of range; expected an axis "
                                         r"of the input, but one of shape \(\) has none; reshape "
                                         r"it to \(1,\) and use axis 0$"):
        ops.softmax(tc.Value(2.0))
    x = tc.Value(2.0).reshape(1)                                         # the fix
    assert ops.softmax(x, axis=0).data.tolist() == [1.0]
    assert ops.sort(x, axis=0).data.tolist() == [2.0]
    with pytest.raises(ValueError, match=r"^sum: axis 0 is out of range; expected an axis of "
                                         r"the input, but one of shape \(\) has none; pass "
                                         r"axis=None, or reshape it to \(1,\) and use axis 0$"):
        ops.sum(tc.Value(2.0), axis=0)
    assert ops.sum(tc.Value(2.0), axis=None).item() == ops.sum(x, axis=0).item() == 2.0
    with pytest.raises(ValueError, match=r"^op: axis 0 is out of range; expected an axis of the "
                                         r"input, but one of shape \(\) has none$"):
        checked_axis("op", 0, (), reshape_hint=False)    # for ops that (1,) would not help


@pytest.mark.parametrize("axis, expected", [(None, (0, 1, 2)), (1, (1,)), (-1, (2,)),
                                            ((2, 0), (0, 2)), ([-1, -3], (0, 2)),
                                            ((np.int64(1), np.int32(-1)), (1, 2)), ((), ())])
def test_checked_axes_gives_sorted_nonnegative_axes(axis, expected):
    out = checked_axes("op", axis, (2, 3, 4))
    assert out == expected and all(type(a) is int for a in out)


@pytest.mark.parametrize("axis, match", [
    ((1, -1), r"^op: axis \(1, -1\) names axis 1 twice; expected distinct axes, each an int in "
              r"\[-2, 2\) for an input of shape \(2, 3\); list each axis once \(a negative axis "
              r"-k is axis 2 - k\)$"),
    ([0, 0], r"^op: axis \[0, 0\] names axis 0 twice"),
])
def test_checked_axes_refuses_an_axis_named_twice(axis, match):
    with pytest.raises(ValueError, match=match):
        checked_axes("op", axis, SHAPE)


@pytest.mark.parametrize("axis, error, match", [
    (1.0, TypeError, r"^op: axis 1.0 is a float; expected None, an int in \[-2, 2\) or a tuple "
                     r"of such ints for an input of shape \(2, 3\)$"),
    (True, TypeError, r"^op: axis True is a bool; expected None"),
    ((0, True), TypeError, r"^op: axis \(0, True\) holds True, a bool; expected None, an int in "
                           r"\[-2, 2\) or a tuple of such ints for an input of shape \(2, 3\)$"),
    ((0, 5), ValueError, r"^op: axis 5 is out of range; expected an int in \[-2, 2\) for an "
                         r"input of shape \(2, 3\)$"),
])
def test_checked_axes_refuses_bad_entries(axis, error, match):
    with pytest.raises(error, match=match):
        checked_axes("op", axis, SHAPE)


# every op that takes an axis, called on a (2, 3) input with axis 5
CALLERS = {
    "softmin": lambda x: ops.softmin(x, 5), "glu": lambda x: ops.glu(x, 5),
    "softmax": lambda x: ops.softmax(x, 5), "log_softmax": lambda x: ops.log_softmax(x, 5),
    "cat": lambda x: ops.cat([x, x], 5), "split": lambda x: ops.split(x, 1, 5),
    "take_along_axis": lambda x: ops.take_along_axis(x, np.zeros((1, 1), int), 5),
    "flip": lambda x: ops.flip(x, 5), "roll": lambda x: ops.roll(x, 1, 5),
    "repeat": lambda x: ops.repeat(x, 2, 5), "squeeze": lambda x: ops.squeeze(x, 5),
    "swapaxes": lambda x: ops.swapaxes(x, 0, 5), "moveaxis": lambda x: ops.moveaxis(x, 5, 0),
    "diagonal": lambda x: ops.diagonal(x, 0, 0, 5), "sort": lambda x: ops.sort(x, 5),
    "topk": lambda x: ops.topk(x, 1, 5), "diff": lambda x: ops.diff(x, axis=5),
    "cosine_similarity": lambda x: ops.cosine_similarity(x, x, 5),
}
REDUCTIONS = ["sum", "mean", "max", "min", "var", "std", "logsumexp", "prod", "norm", "cumsum",
              "cumprod", "argmax", "argmin"]                  # called as op(x, axis=5)


@pytest.mark.parametrize("op", [*CALLERS, *REDUCTIONS])
def test_every_op_reports_its_own_name_in_one_form(op):
    call = CALLERS.get(op, lambda x: getattr(ops, op)(x, axis=5))
    with pytest.raises(ValueError, match=rf"^{op}: axis 5 is out of range; expected an int in "
                                         r"\[-2, 2\) for an input of shape \(2, 3\)$"):
        call(tc.Value(np.ones(SHAPE)))


def test_ops_with_a_result_axis_count_its_axes():
    x = tc.Value(np.ones(SHAPE))
    for op, call in [("stack", lambda: ops.stack([x, x], axis=3)),
                     ("expand_dims", lambda: ops.expand_dims(x, 3))]:
        with pytest.raises(ValueError, match=rf"^{op}: axis 3 is out of range; expected an int "
                                             r"in \[-3, 3\) \(an axis of the 3-D result\) for an "
                                             r"input of shape \(2, 3\)$"):
            call()
