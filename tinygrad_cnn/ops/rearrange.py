"""Rearranging ops with numpy's names: take_along_axis, flip, roll, tile, repeat, squeeze,
expand_dims, swapaxes, moveaxis, diagonal, trace, tril, triu; and sort and topk, with argsort
for their positions. Each is getitem (integer arrays or slices), reshape, transpose,
broadcast_to or where, so its gradients of every order are those ops' rules, run by the engine;
sort and topk are one op, TopK, which finds its positions in the data and whose rule is
getitem's."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.axes import checked_axes, checked_axis
from tinygrad_cnn.ops.elementwise import where
from tinygrad_cnn.ops.indexing import ScatterAdd, getitem
from tinygrad_cnn.ops.shape import broadcast_to, reshape, transpose
from tinygrad_cnn.value import Value


def take_along_axis(x, indices, axis) -> Value:
    """out[..., i, ...] = x[..., indices[..., i, ...], ...] along `axis`, as
    numpy.take_along_axis (PyTorch's gather): indices has x's number of axes, its other axes
    broadcast against x's; axis=None takes from the flattened x (indices 1-D). A getitem with
    one integer array per axis (arange on the others), so the gradient scatter-adds: an element
    taken k times gets its k gradients summed.

    Raises
    ------
    TypeError
        For indices that are not an integer array, or an axis that is not an int or None.
    ValueError
        For indices with another number of axes than x, or other axes that do not broadcast.
    IndexError
        For an index outside [-n, n) on `axis` of size n.
    """
    shape = _shape_of(x)
    idx = _integer_array("take_along_axis", "indices", indices)
    if axis is None:
        x, shape, axis = reshape(x, -1), (int(np.prod(shape)),), 0
    axis = checked_axis("take_along_axis", axis, shape, reshape_hint=False)
    if idx.ndim != len(shape):
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} and x of shape {shape} "
                         f"have {idx.ndim} and {len(shape)} axes; expected the same number of "
                         f"axes (insert size-1 axes, e.g. indices[..., None])")
    others = [n for i, n in enumerate(shape) if i != axis]
    if not _broadcast(others, [n for i, n in enumerate(idx.shape) if i != axis]):
        raise ValueError(f"take_along_axis: indices of shape {idx.shape} do not fit x of shape "
                         f"{shape} along axis {axis}; expected every other axis of indices to "
                         f"equal x's or be 1")
    n = shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].flat[0]
        raise IndexError(f"take_along_axis: index {bad} is out of range for axis {axis} of size "
                         f"{n} (x of shape {shape}); expected indices in [{-n}, {n})")
    return getitem(x, open_mesh(idx, axis, shape))


def open_mesh(positions: np.ndarray, axis: int, shape: tuple[int, ...]) -> tuple:
    """The index that takes `positions` along `axis` of an array of `shape`: arange(n_d) along
    its own axis for every other axis d, broadcast against positions (numpy's take_along_axis
    as one getitem)."""
    return tuple(positions if d == axis else
                 np.arange(size).reshape([size if i == d else 1 for i in range(len(shape))])
                 for d, size in enumerate(shape))


def flip(x, axis=None) -> Value:
    """x reversed along `axis` (an int, a tuple of ints, or None: every axis), as numpy.flip:
    x[..., ::-1, ...]; the gradient is grad reversed the same way."""
    shape = _shape_of(x)
    axes = checked_axes("flip", axis, shape)
    return getitem(x, tuple(slice(None, None, -1) if d in axes else slice(None)
                            for d in range(len(shape))))


def roll(x, shift, axis=None) -> Value:
    """x shifted by `shift` places along `axis`, the elements pushed off one end coming back at
    the other, as numpy.roll: out[i] = x[(i - shift) mod n]. axis=None rolls the flattened x and
    reshapes back; shift and axis may be tuples of one length (or an int shift for all axes). A
    getitem with the index (arange(n) - shift) mod n, so the gradient is grad rolled back."""
    shape = _shape_of(x)
    if axis is None:
        return reshape(roll(reshape(x, -1), shift, 0), shape)
    axes = np.atleast_1d(np.asarray(axis))
    shifts = np.atleast_1d(np.asarray(shift))
    for name, given, array in (("shift", shift, shifts), ("axis", axis, axes)):
        if array.dtype.kind not in "iu" or array.ndim != 1:
            raise TypeError(f"roll: {name} {given!r:.60} is not an int or a sequence of ints; "
                            f"expected e.g. roll(x, 2, axis=0) or roll(x, (1, -1), axis=(0, 1))")
    if len(shifts) not in (1, len(axes)) and len(axes) != 1:
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} have lengths {len(shifts)} "
                         f"and {len(axes)}; expected equal lengths (or one of them a single int)")
    axes, shifts = np.broadcast_arrays(axes, shifts)
    total = [0] * len(shape)                # numpy adds the shifts of an axis named twice
    for a, s in zip(axes, shifts, strict=True):
        total[checked_axis("roll", int(a), shape)] += int(s)
    out = x
    for d, s in enumerate(total):
        if shape[d] and s % shape[d]:
            index = (slice(None),) * d + ((np.arange(shape[d]) - s) % shape[d],)
            out = getitem(out, index)
    return out if out is not x else getitem(x, ...)


def tile(x, reps) -> Value:
    """x repeated as a whole `reps[d]` times along each axis d, as numpy.tile: reps shorter than
    x's axes is padded with 1s in front, longer gives x new leading axes. A reshape, a
    broadcast_to and a reshape: for reps (1, r), (d0, d1) -> (d0, 1, d1) -> (d0, r, d1) ->
    (d0, r*d1), a size-1 axis before each axis repeated; the gradient sums the copies
    (broadcast_to's rule)."""
    shape = _shape_of(x)
    reps_array = np.atleast_1d(np.asarray(reps))
    if reps_array.dtype.kind not in "iu" or reps_array.ndim != 1:
        raise TypeError(f"tile: reps {reps!r:.60} is not an int or a sequence of ints; expected "
                        f"e.g. tile(x, 2) or tile(x, (2, 1))")
    if (reps_array < 0).any():
        raise ValueError(f"tile: reps {reps!r} has a negative count; expected counts >= 0")
    ndim = max(len(shape), len(reps_array))
    reps_full = (1,) * (ndim - len(reps_array)) + tuple(int(r) for r in reps_array)
    shape_full = (1,) * (ndim - len(shape)) + tuple(shape)
    pairs = list(zip(reps_full, shape_full, strict=True))
    # reps (1, r): (d0, d1) -> (d0, 1, d1) -> (d0, r, d1) -> (d0, r*d1)
    x = reshape(x, [n for r, d in pairs for n in ((d,) if r == 1 else (1, d))])
    x = broadcast_to(x, [n for r, d in pairs for n in ((d,) if r == 1 else (r, d))])
    return reshape(x, [r * d for r, d in pairs])


def repeat(x, repeats, axis=None) -> Value:
    """Each element of x repeated along `axis`, as numpy.repeat (PyTorch's repeat_interleave):
    repeats is an int for every element or one count per element of that axis; axis=None
    repeats the flattened x. [a, b] with repeats 2 is [a, a, b, b]. A getitem with the index
    numpy.repeat(arange(n), repeats), so each element gets the sum of its copies' gradients."""
    shape = _shape_of(x)
    if axis is None:
        x, shape, axis = reshape(x, -1), (int(np.prod(shape)),), 0
    axis = checked_axis("repeat", axis, shape)
    counts = np.asarray(repeats)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(f"repeat: repeats {repeats!r:.60} is not an int or a 1-D sequence of "
                        f"ints; expected e.g. repeat(x, 2) or repeat(x, [1, 3], axis=0)")
    if counts.ndim == 1 and counts.size not in (1, shape[axis]):
        raise ValueError(f"repeat: {counts.size} repeats for axis {axis} of size {shape[axis]} "
                         f"(x of shape {shape}); expected one count per element ({shape[axis]}) "
                         f"or a single int")
    if (counts < 0).any():
        raise ValueError(f"repeat: repeats {repeats!r:.60} has a negative count; expected "
                         f"counts >= 0")
    source = np.repeat(np.arange(shape[axis]), counts)         # the element each copy is of
    return getitem(x, (slice(None),) * axis + (source,))


def squeeze(x, axis=None) -> Value:
    """x without axes of size 1, as numpy.squeeze: all of them (axis None) or the given ones,
    each of which must have size 1. A reshape."""
    shape = _shape_of(x)
    if axis is None:
        axes = {d for d, n in enumerate(shape) if n == 1}
    else:
        axes = checked_axes("squeeze", axis, shape)
        wide = [d for d in sorted(axes) if shape[d] != 1]
        if wide:
            raise ValueError(f"squeeze: axis {wide[0]} of x of shape {shape} has size "
                             f"{shape[wide[0]]}; expected axes of size 1 only")
    return reshape(x, tuple(n for d, n in enumerate(shape) if d not in axes))


def expand_dims(x, axis) -> Value:
    """x with new axes of size 1 at the positions `axis` (an int or a tuple) of the result, as
    numpy.expand_dims (PyTorch's unsqueeze). A reshape."""
    shape = _shape_of(x)
    out_ndim = len(shape) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    new = checked_axes("expand_dims", axis, shape, ndim=out_ndim)
    sizes = iter(shape)
    return reshape(x, tuple(1 if d in new else next(sizes) for d in range(out_ndim)))


def swapaxes(x, axis1, axis2) -> Value:
    """x with axes axis1 and axis2 exchanged, as numpy.swapaxes (PyTorch's transpose(x, a, b)).
    A transpose."""
    shape = _shape_of(x)
    a, b = (checked_axis("swapaxes", axis, shape, reshape_hint=False) for axis in (axis1, axis2))
    axes = list(range(len(shape)))
    axes[a], axes[b] = b, a
    return transpose(x, tuple(axes))


def moveaxis(x, source, destination) -> Value:
    """x with the axes `source` moved to the positions `destination` (ints or tuples of one
    length), the other axes keeping their order, as numpy.moveaxis (PyTorch's movedim). A
    transpose."""
    shape = _shape_of(x)
    sources, destinations = (list(a) if isinstance(a, (tuple, list)) else [a]
                             for a in (source, destination))
    if len(sources) != len(destinations):
        raise ValueError(f"moveaxis: source {source!r} and destination {destination!r} name "
                         f"{len(sources)} and {len(destinations)} axes; expected as many of each")
    sources = [checked_axis("moveaxis", a, shape, reshape_hint=False) for a in sources]
    destinations = [checked_axis("moveaxis", a, shape, reshape_hint=False)
                    for a in destinations]
    for name, axes in (("source", sources), ("destination", destinations)):
        if len(set(axes)) != len(axes):
            raise ValueError(f"moveaxis: {name} names an axis twice ({axes} for x of shape "
                             f"{shape}); expected distinct axes")
    order = [d for d in range(len(shape)) if d not in sources]
    for dest, src in sorted(zip(destinations, sources, strict=True)):
        order.insert(dest, src)
    return transpose(x, tuple(order))


def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """The diagonal x[..., i, i + offset] of the axes axis1 and axis2, as numpy.diagonal: those
    two axes are removed and the diagonal becomes the last axis. offset > 0 is above the main
    diagonal, < 0 below. A transpose (the two axes last), a reshape (the two into one) and a
    slice with step n2 + 1; the gradient is grad written onto that diagonal of zeros."""
    shape = _shape_of(x)
    if len(shape) < 2:
        raise ValueError(f"diagonal: x of shape {shape} has {len(shape)} axes; expected at "
                         f"least 2")
    if isinstance(offset, (bool, np.bool_)) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"diagonal: offset {offset!r:.60} is a {type(offset).__name__}; "
                        f"expected an int")
    a, b = (checked_axis("diagonal", axis, shape) for axis in (axis1, axis2))
    if a == b:
        raise ValueError(f"diagonal: axis1 {axis1} and axis2 {axis2} are the same axis of x of "
                         f"shape {shape}; expected two different axes")
    rest = [d for d in range(len(shape)) if d not in (a, b)]
    n1, n2, offset = shape[a], shape[b], int(offset)
    x = transpose(x, (*rest, a, b))                        # (..., n1, n2)
    x = reshape(x, (*[shape[d] for d in rest], n1 * n2))   # -> (..., n1*n2), row-major
    # element [i, i + offset] sits at i*n2 + i + offset: every (n2 + 1)-th from the first one,
    # [0, offset] or [-offset, 0]; k of them, as long as both i and i + offset fit
    k = max(0, min(n1, n2 - offset) - max(0, -offset))
    first = offset if offset >= 0 else -offset * n2
    return getitem(x, (Ellipsis, slice(first, first + (n2 + 1) * (k - 1) + 1 if k else first,
                                       n2 + 1)))           # (..., k)


def trace(x, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """The sum of the diagonal of axes axis1 and axis2 (offset as in diagonal), as numpy.trace:
    diagonal(...).sum(axis=-1); the gradient is grad on that diagonal, 0 elsewhere."""
    return diagonal(x, offset, axis1, axis2).sum(axis=-1)


def tril(x, k: int = 0) -> Value:
    """x with the elements above the k-th diagonal of its last two axes set to 0, as
    numpy.tril: x[..., i, j] kept where j - i <= k. where(mask, x, 0): the gradient is grad
    under the same mask."""
    return _triangle("tril", x, k, lower=True)


def triu(x, k: int = 0) -> Value:
    """x with the elements below the k-th diagonal of its last two axes set to 0, as
    numpy.triu: x[..., i, j] kept where j - i >= k."""
    return _triangle("triu", x, k, lower=False)


def _triangle(op: str, x, k, lower: bool) -> Value:
    shape = _shape_of(x)
    if len(shape) < 2:
        raise ValueError(f"{op}: x of shape {shape} has {len(shape)} axes; expected at least 2 "
                         f"(the triangle of the last two), as PyTorch's {op}")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{op}: k {k!r:.60} is a {type(k).__name__}; expected an int")
    # the constant (n, m) mask of the kept elements, broadcast over the leading axes
    kept = (np.tri(*shape[-2:], k=int(k), dtype=bool) if lower
            else ~np.tri(*shape[-2:], k=int(k) - 1, dtype=bool))
    return where(kept, x, 0)


class TopK(Function):
    """The k smallest or largest elements of x along `axis`: x taken at the positions that
    `topk_positions` finds (sorted, or in numpy.argpartition's order). `sort` is TopK of every
    element, smallest first."""

    def forward(self, x, k, axis, largest, sorted):  # noqa: A002  (PyTorch's name)
        self.positions = topk_positions(x, k, axis, largest, sorted)
        self.shape = x.shape
        return np.take_along_axis(x, self.positions, axis)

    # out[..., i, ...] = x[..., p_i, ...] copies one element of x, and the positions p do not
    # change under a small change of x (away from ties): dx is zeros with g added at the
    # positions taken, getitem's rule (for sort a permutation: each g goes back where it came
    # from)
    def backward(self, grad):
        index = open_mesh(self.positions, self.params["axis"], self.shape)
        return ScatterAdd.run(grad, index=index, shape=self.shape)


def topk_positions(data: np.ndarray, k: int, axis: int, largest: bool,
                   sorted: bool) -> np.ndarray:  # noqa: A002  (PyTorch's name)
    """The int64 positions along `axis` of data's k largest (or smallest) elements: sorted,
    the first of ties first (a stable sort); otherwise in numpy.argpartition's order."""
    if data.dtype.kind in "bu":
        data = data.astype(np.int64)            # so that -data neither wraps nor fails
    key = -data if largest else data            # the wanted elements come first in key order
    if sorted or k == data.shape[axis]:
        order = np.argsort(key, axis=axis, kind="stable")
    else:
        order = np.argpartition(key, k - 1, axis=axis) if k else np.argsort(key, axis=axis)
    return np.take(order, np.arange(k), axis=axis).astype(np.int64)


def sort(x, axis=-1) -> Value:
    """x sorted ascending along `axis` (None: the flattened x), as numpy.sort; ties keep their
    order (a stable sort). Each sorted element's gradient goes back to the position it came
    from."""
    if axis is None:
        x, axis = reshape(x, -1), 0
    shape = _shape_of(x)
    axis = checked_axis("sort", axis, shape)
    return TopK.apply(x, k=shape[axis], axis=axis, largest=False, sorted=True)


def argsort(x, axis=-1) -> np.ndarray:
    """The positions that sort x ascending along `axis` (None: the flattened x), as
    numpy.argsort with a stable sort: an int64 numpy array, not a Value (positions have no
    gradient); take_along_axis(x, argsort(x, axis), axis) is sort(x, axis). Ties keep their
    order."""
    data = x.data if isinstance(x, Value) else np.asarray(x)
    if axis is None:
        data, axis = data.reshape(-1), 0
    axis = checked_axis("argsort", axis, data.shape)
    return topk_positions(data, data.shape[axis], axis, largest=False, sorted=True)


def topk(x, k: int, axis: int = -1, largest: bool = True,
         sorted: bool = True) -> tuple[Value, np.ndarray]:  # noqa: A002  (PyTorch's name)
    """The k largest (or smallest) elements of x along `axis` and their positions, as
    torch.topk: (values, indices), values a Value, indices an int64 numpy array, both of x's
    shape with k on `axis`. sorted=True orders them largest first (smallest first for
    largest=False); sorted=False leaves them in numpy.argpartition's order. Ties: the first
    position wins. The gradient goes back to the positions taken. The op keeps the indices as
    `returned_indices`, so that ONNX export gives them (and take_along_axis with them) from
    the TopK node.

    Raises
    ------
    TypeError
        For a k, largest or sorted of the wrong type.
    ValueError
        For an axis out of range, or k outside [0, size of axis].
    """
    shape = _shape_of(x)
    axis = checked_axis("topk", axis, shape)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k {k!r:.60} is a {type(k).__name__}; expected an int")
    if not 0 <= k <= shape[axis]:
        raise ValueError(f"topk: k={k} is out of range for axis {axis} of size {shape[axis]} "
                         f"(x of shape {shape}); expected 0 <= k <= {shape[axis]}")
    for name, flag in (("largest", largest), ("sorted", sorted)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"topk: {name} is {type(flag).__name__} {flag!r:.40}; expected "
                            f"True or False")
    settings = {"k": int(k), "axis": axis, "largest": bool(largest), "sorted": bool(sorted)}
    values = TopK.apply(x, **settings)
    if values.fn is None:                  # no graph recorded: the positions are found here
        return values, topk_positions(_data_of(x), **settings)
    # forward's positions, copied (backward reads the op's own), and kept on the op too, so that
    # ONNX export gives them from the TopK node
    values.fn.returned_indices = indices = values.fn.positions.copy()
    return values, indices


def _shape_of(x) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Value, np.ndarray)) else np.shape(x)


def _data_of(x) -> np.ndarray:
    return x.data if isinstance(x, Value) else np.asarray(x)


def _broadcast(shape: list[int], other: list[int]) -> bool:
    """Whether `other` broadcasts against `shape` axis by axis (equal sizes or a 1)."""
    return all(a == b or a == 1 or b == 1 for a, b in zip(shape, other, strict=True))


def _integer_array(op: str, name: str, indices) -> np.ndarray:
    data = indices.data if isinstance(indices, Value) else np.asarray(indices)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} has dtype {data.dtype}; expected an integer array; "
                        f"convert it with .astype(np.int64)")
    return data
