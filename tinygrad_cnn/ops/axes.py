"""The check of an `axis` argument shared by the ops: an int in [-n, n) for an input with n
axes (numpy integers too, never a bool), returned as the non-negative axis it names."""

from __future__ import annotations

from typing import NoReturn

import numpy as np


def checked_axis(op: str, axis, shape: tuple, *, ndim: int | None = None,
                 reshape_hint: bool = True) -> int:
    """axis as an int in [0, n), n = len(shape), or a TypeError/ValueError naming `op`, the
    axis, what was expected and the shape. `ndim` replaces n when the axis is a position in a
    result with more axes than the input (stack, expand_dims). For a 0-d input the error
    suggests reshaping it to (1,), unless `reshape_hint` is False (ops that need more than one
    element or axis, where that would not help)."""
    shape = tuple(shape)
    n = len(shape) if ndim is None else ndim
    if not _is_int(axis):
        hint = f"; {op} takes a single axis" if isinstance(axis, (tuple, list)) else ""
        raise TypeError(f"{op}: axis {axis!r:.60} is a {type(axis).__name__}; expected "
                        f"{_ints(n)}{_context(shape, n)}{hint}")
    if not -n <= axis < n:
        _raise_out_of_range(op, axis, shape, n, reshape_hint, none_allowed=False)
    return int(axis) % n


def checked_axes(op: str, axis, shape: tuple, *, ndim: int | None = None) -> tuple[int, ...]:
    """axis (None: every axis; an int; or a tuple or list of ints) as the sorted distinct axes
    in [0, n) it names, n = len(shape) (or `ndim`, as for checked_axis), or a TypeError or
    ValueError naming `op`, the axis, what was expected and the shape."""
    shape = tuple(shape)
    n = len(shape) if ndim is None else ndim
    if axis is None:
        return tuple(range(n))
    expected = f"None, {_ints(n)} or a tuple of such ints{_context(shape, n)}"
    if _is_int(axis):
        given = (axis,)
    elif isinstance(axis, (tuple, list)):
        given = tuple(axis)
    else:
        raise TypeError(f"{op}: axis {axis!r:.60} is a {type(axis).__name__}; expected "
                        f"{expected}")
    for a in given:
        if not _is_int(a):
            raise TypeError(f"{op}: axis {axis!r:.60} holds {a!r:.30}, a {type(a).__name__}; "
                            f"expected {expected}")
        if not -n <= a < n:
            _raise_out_of_range(op, a, shape, n, reshape_hint=True, none_allowed=True)
    axes = [int(a) % n for a in given]
    for d in axes:
        if axes.count(d) > 1:
            raise ValueError(f"{op}: axis {axis!r:.60} names axis {d} twice; expected distinct "
                             f"axes, each {_ints(n)}{_context(shape, n)}; list each axis once "
                             f"(a negative axis -k is axis {n} - k)")
    return tuple(sorted(axes))


def _is_int(a) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _ints(n: int) -> str:
    return f"an int in [{-n}, {n})" if n else "an int"


def _context(shape: tuple, n: int) -> str:
    """Where the axis points: the input's shape, and the result's number of axes if that is
    what the axis counts (stack, expand_dims)."""
    if n != len(shape):
        return f" (an axis of the {n}-D result) for an input of shape {shape}"
    return f" for an input of shape {shape}" + (", which has no axes" if n == 0 else "")


def _raise_out_of_range(op: str, axis, shape: tuple, n: int, reshape_hint: bool,
                        none_allowed: bool) -> NoReturn:
    """The ValueError for an int axis outside [-n, n); for a 0-d input, how to get an axis."""
    if n == 0:                     # no int is in [0, 0): say why, and how to get an axis
        fixes = ["reshape it to (1,) and use axis 0"] if reshape_hint else []
        if none_allowed:
            fixes.insert(0, "pass axis=None")
        hint = f"; {', or '.join(fixes)}" if fixes else ""
        raise ValueError(f"{op}: axis {axis} is out of range; expected an axis of the input, "
                         f"but one of shape () has none{hint}")
    raise ValueError(f"{op}: axis {axis} is out of range; expected {_ints(n)}"
                     f"{_context(shape, n)}")
