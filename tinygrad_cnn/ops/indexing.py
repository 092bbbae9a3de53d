"""Indexing and joining: getitem (x[index], numpy's rules), embedding (rows of a table picked by
integer ids) and one_hot, cat, stack, split, pad. They move elements without changing them, so
each backward puts the gradient back where the elements came from; where one element was taken
several times, its gradients add up (a scatter-add)."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.function import Function
from tinygrad_cnn.ops.axes import checked_axis
from tinygrad_cnn.ops.elementwise import Where
from tinygrad_cnn.value import Value


class GetItem(Function):
    """x[index] with numpy's basic and advanced indexing: (shape of x) -> (shape of x[index])."""

    def forward(self, x, index):
        self.index, self.shape = index, x.shape
        return x[index]

    # out = x[index] copies elements of x; an element copied k times gets the sum of its k
    # gradients, so dx = zeros(x.shape) with grad scatter-added at [index]
    def backward(self, grad):
        return ScatterAdd.run(grad, index=self.index, shape=self.shape)


class ScatterAdd(Function):
    """zeros(shape) with `values` added at [index], a repeated index accumulating (np.add.at):
    getitem's backward, (shape of zeros[index]) -> shape."""

    def forward(self, values, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=values.dtype)
        if any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in index):
            np.add.at(out, index, values)     # integer arrays may repeat an element
        else:
            out[index] = values               # slices, ints and masks pick each element once
        return out

    # out is linear in values, and values[k] lands at out[index][k]: d values = grad[index]
    def backward(self, grad):
        return GetItem.run(grad, index=self.index)


class Embedding(Function):
    """weight[ids], one row of the table per id: ids (any shape) integers in [0, num_embeddings),
    weight (num_embeddings, embedding_dim) -> (*ids.shape, embedding_dim). With max_norm, the
    picked rows longer than max_norm are first shortened in place (renorm_rows). With
    scale_grad_by_freq, row i's gradient is divided by k_i, the number of times ids hold i."""

    def forward(self, ids, weight, padding_idx, max_norm=None, norm_type=2.0,
                scale_grad_by_freq=False):
        if max_norm is not None:
            renorm_rows(weight, ids, max_norm, norm_type)   # changes weight, outside the graph
        self.ids, self.shape, self.padding_idx = ids, weight.shape, padding_idx
        # k_{ids[p]} at each position p: integers, constants of the rule (padding_idx counted
        # too, as PyTorch; its positions send nothing anyway)
        self.counts = (np.bincount(ids.ravel(), minlength=len(weight))[ids]
                       if scale_grad_by_freq else None)
        return weight[ids]

    # out[p] = weight[ids[p]] copies a row: row i gets the sum of grad[p] over the positions p
    # holding id i (a scatter-add into zeros), where positions holding padding_idx send nothing;
    # scale_grad_by_freq: dw[i] = sum_{p: ids[p] = i} grad[p] / k_i, still linear in grad
    def backward(self, grad):
        if self.counts is not None:      # times 1 / k in grad's dtype, as PyTorch's scale
            grad = grad * (1.0 / self.counts[..., None]).astype(grad.dtype)
        if self.padding_idx is not None:
            grad = Where.run((self.ids == self.padding_idx)[..., None], 0, grad)
        return None, ScatterAdd.run(grad, index=(self.ids,), shape=self.shape)


class Cat(Function):
    """numpy.concatenate(xs, axis): shapes equal but along `axis` -> their sizes summed there."""

    def forward(self, *xs, axis):
        self.axis, self.sizes = axis, [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    # input i is the slab of the output between its offsets along axis: dx_i is that slab of grad
    def backward(self, grad):
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad, strict=True):
            slab = (slice(None),) * self.axis + (slice(start, start + size),)
            grads.append(GetItem.run(grad, index=slab) if needed else None)
            start += size
        return tuple(grads)


class Stack(Function):
    """numpy.stack(xs, axis): k inputs of one shape -> that shape with a new axis of size k."""

    def forward(self, *xs, axis):
        self.axis = axis
        return np.stack(xs, axis=axis)

    # input i is out[..., i, ...] along the new axis: dx_i is grad at position i of that axis
    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(GetItem.run(grad, index=lead + (i,)) if needed else None
                     for i, needed in enumerate(self.needs_input_grad))


class Pad(Function):
    """numpy.pad(x, pad_width, ...): each axis grows by before + after. mode "constant" fills the
    border with `value`; "reflect", "replicate" and "circular" (numpy's reflect, edge, wrap)
    fill it with copies of elements of x: out = x[source], one index array per axis."""

    def forward(self, x, pad_width, value=0.0, mode="constant"):
        if mode == "constant":
            self.interior = tuple(slice(before, before + n)
                                  for (before, _), n in zip(pad_width, x.shape, strict=True))
            self.source = None
            return np.pad(x, pad_width, constant_values=value)
        # np.ix_: the open mesh, so out[i, j, ...] = x[rows[i], cols[j], ...]
        self.source = np.ix_(*(_source_positions(n, before, after, mode)
                               for (before, after), n in zip(pad_width, x.shape, strict=True)))
        self.shape = x.shape
        return x[self.source]

    # constant: the border is a constant and x sits at out[interior] unchanged: dx = grad[interior]
    # copies: out[p] = x[source[p]], so dx[i] = sum of grad[p] over every p with source[p] = i
    # (an edge copied k times gets k gradients): grad scatter-added at source, getitem's backward
    def backward(self, grad):
        if self.source is None:
            return GetItem.run(grad, index=self.interior)
        return ScatterAdd.run(grad, index=self.source, shape=self.shape)


def _source_positions(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """Along one axis of `size` elements padded by (before, after): the index into x that each
    of the before + size + after positions copies. Position p is t = p - before from x's start;
    "reflect" mirrors t about the first and last element (which are not repeated: t = -1 copies
    1), "replicate" clips t to the nearest element, "circular" wraps t around (t mod size)."""
    t = np.arange(-before, size + after)
    if mode == "reflect":                      # -t before the start, 2 (size - 1) - t past the end
        return (size - 1) - np.abs((size - 1) - np.abs(t))
    if mode == "replicate":
        return np.clip(t, 0, size - 1)
    return t % size if size else t             # circular (an empty axis has no padding to wrap)


def getitem(x, index) -> Value:
    """x[index] as numpy defines it: ints (negative count from the end), slices with any step,
    None, Ellipsis, integer arrays and boolean masks, and tuples mixing them. The backward
    scatter-adds the gradient into zeros of x's shape (a repeated index accumulates)."""
    shape = _shape_of(x)
    entries = _normalized_index(index)
    _check_index(entries, shape)
    return GetItem.apply(x, index=entries)


def embedding(ids, weight, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Value:
    """weight[ids], as torch.nn.functional.embedding: ids (any shape) integers in
    [0, num_embeddings), weight (num_embeddings, embedding_dim) -> (*ids.shape, embedding_dim).

    The backward scatter-adds into zeros of weight's shape: an id used k times gets the sum of
    its k gradients, a row no id picked gets zero. With padding_idx (in [-num_embeddings,
    num_embeddings); a negative one counts from the end), the positions holding that id send
    no gradient, so its row gets zero; its output there is still weight[padding_idx].

    With max_norm, as PyTorch's, every row that ids pick and whose norm_type-norm exceeds
    max_norm is first rescaled in place, row *= max_norm / (norm + 1e-7), in weight's own data
    (a Value's .data, or the array passed): a change to the table, outside the graph, that no
    gradient sees (the output's gradient is that of the rescaled rows).

    With scale_grad_by_freq, as PyTorch's, row i's gradient is divided by k_i, the number of
    times i occurs in this call's ids (padding_idx's positions counted, though they send
    nothing): dw[i] = sum over the positions p holding i of grad[p] / k_i. It stays linear in
    grad, so it is differentiated again like the plain lookup; PyTorch's second derivative by
    the upstream gradient leaves out the 1 / k_i, this one keeps it (the true derivative).

    Parameters
    ----------
    ids : int, list, integer numpy array or integer Value
        The row to pick at each position; a Value stays the op's input (drawings show it).
    weight : Value or array, (num_embeddings, embedding_dim)
        The table, a float array (writable, with max_norm).
    padding_idx : int or None
        The id whose row gets no gradient.
    max_norm : float or None
        The longest a picked row may be, a number >= 0; None leaves the table alone.
    norm_type : float
        The p of the p-norm that max_norm bounds, > 0 (inf: the largest absolute value).
    scale_grad_by_freq : bool
        Divide each row's gradient by how often its id occurs in ids.
    sparse : bool
        Only False: gradients here are dense arrays (sparse=True is an error).

    Raises
    ------
    TypeError
        For ids that are not integers (a float or bool array, a Value that requires grad):
        convert them with ids.astype(np.int64) (ids.data.astype(np.int64) for a Value); for a
        weight of an integer dtype; for a scale_grad_by_freq or sparse that is not a bool.
    IndexError
        For an id outside [0, num_embeddings) (as PyTorch; negative ids do not count from the
        end).
    ValueError
        For a weight that is not 2-D, a padding_idx outside [-num_embeddings, num_embeddings),
        a max_norm < 0 or a norm_type <= 0, a read-only weight with max_norm, or sparse=True.
    """
    table = np.asarray(weight.data if isinstance(weight, Value) else weight)
    if table.ndim != 2:
        raise ValueError(f"embedding: weight has shape {table.shape}; expected a 2-D table "
                         f"(num_embeddings, embedding_dim); the arguments are (ids, weight), "
                         f"as in torch.nn.functional.embedding")
    if table.dtype.kind != "f":
        raise TypeError(f"embedding: weight has dtype {table.dtype}; expected a float table "
                        f"(num_embeddings, embedding_dim); the arguments are (ids, weight), ids "
                        f"first, as in torch.nn.functional.embedding")
    checked = embedding_ids("embedding", ids, len(table))
    padding_idx = embedding_padding_idx("embedding", padding_idx, len(table))
    renorm = {} if max_norm is None else embedding_renorm("embedding", max_norm, norm_type)
    if renorm and not table.flags.writeable:
        raise ValueError("embedding: weight is read-only, and max_norm rescales its rows in "
                         "place; expected a writable table; pass a copy, e.g. "
                         "tc.Value(np.array(weight)), or max_norm=None")
    # a param only when set, so that a plain lookup records the same node as before
    scaled = {"scale_grad_by_freq": True} if embedding_flags("embedding", scale_grad_by_freq,
                                                             sparse) else {}
    # an integer Value stays the input, so that drawings (and the ONNX exporter) see its node
    return Embedding.apply(ids if isinstance(ids, Value) else checked, weight,
                           padding_idx=padding_idx, **renorm, **scaled)


def one_hot(ids, num_classes: int = -1) -> np.ndarray:
    """Class ids as one-hot rows, as torch.nn.functional.one_hot: an int64 numpy array of
    shape (*ids.shape, num_classes) with a 1 at each id, not a Value (ids have no gradient).
    num_classes=-1 takes the largest id + 1. It is embedding(ids, eye(num_classes)): the rows of
    the identity matrix picked by the ids.

    Raises
    ------
    TypeError
        For ids that are not integers, or a num_classes that is not an int.
    ValueError
        For a negative id, an id >= num_classes, or -1 with no ids.
    """
    data = np.asarray(ids.data if isinstance(ids, Value) else ids)
    if data.dtype.kind not in "iu":
        fix = ("ids.data.astype(np.int64)" if isinstance(ids, Value)
               else "np.asarray(ids, dtype=np.int64)")
        raise TypeError(f"one_hot: ids has dtype {data.dtype}; expected integer class ids; "
                        f"convert them with {fix}")
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes,
                                                                   (int, np.integer)):
        raise TypeError(f"one_hot: num_classes {num_classes!r:.40} is a "
                        f"{type(num_classes).__name__}; expected an int (-1: the largest id + 1)")
    if data.size and data.min() < 0:
        raise ValueError(f"one_hot: ids hold {int(data.min())}; expected class ids >= 0 "
                         f"(negative ids do not count from the end)")
    if num_classes == -1:
        if not data.size:
            raise ValueError(f"one_hot: ids of shape {data.shape} are empty, so num_classes=-1 "
                             f"(the largest id + 1) is undefined; pass num_classes")
        num_classes = int(data.max()) + 1
    if num_classes < 0:
        raise ValueError(f"one_hot: num_classes={num_classes}; expected -1 (the largest id + 1) "
                         f"or a number of classes >= 0")
    if data.size and data.max() >= num_classes:
        high = int(data.max())
        raise ValueError(f"one_hot: ids hold {high} but num_classes={num_classes}; expected ids "
                         f"in [0, {num_classes}); pass num_classes={high + 1} or more, or -1 "
                         f"(the largest id + 1)")
    return np.eye(num_classes, dtype=np.int64)[data]


def embedding_flags(op: str, scale_grad_by_freq, sparse) -> bool:
    """scale_grad_by_freq as a bool, after checking that both are bools and sparse is False; an
    error naming `op` (the op or the layer) and saying what to do."""
    for name, value in (("scale_grad_by_freq", scale_grad_by_freq), ("sparse", sparse)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{op}: {name} is {type(value).__name__} {value!r:.40}; expected "
                            f"True or False")
    if sparse:
        raise ValueError(f"{op}: sparse=True asks for a sparse weight gradient, which "
                         f"tinygrad_cnn does not have (every gradient is a dense numpy array); "
                         f"expected sparse=False; pass sparse=False (the default): the dense "
                         f"gradient holds the same values, zero in the rows no id picked")
    return bool(scale_grad_by_freq)


def embedding_renorm(op: str, max_norm, norm_type) -> dict:
    """{"max_norm": float >= 0, "norm_type": float > 0 or inf}, or an error naming `op`."""
    for name, value, low in (("max_norm", max_norm, "a number >= 0, e.g. max_norm=1.0"),
                             ("norm_type", norm_type, "a number > 0 (inf for the largest "
                                                      "absolute value), e.g. norm_type=2.0")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            raise TypeError(f"{op}: {name} is {type(value).__name__} {value!r:.40}; expected "
                            f"{low}")
    if not 0 <= max_norm < math.inf:
        raise ValueError(f"{op}: max_norm is {max_norm}; expected a finite number >= 0 (the "
                         f"longest a row may be), e.g. max_norm=1.0")
    if not norm_type > 0:
        raise ValueError(f"{op}: norm_type is {norm_type}; expected a number > 0 (the p of the "
                         f"p-norm; inf for the largest absolute value), e.g. norm_type=2.0")
    return {"max_norm": float(max_norm), "norm_type": float(norm_type)}


def renorm_rows(table: np.ndarray, ids: np.ndarray, max_norm: float, norm_type: float) -> None:
    """In place: each row of table that ids pick, if its norm_type-norm exceeds max_norm, times
    max_norm / (norm + 1e-7), as PyTorch's embedding_renorm_ (the scale in float64, the product
    in the table's dtype). A row picked twice is rescaled once."""
    rows = np.unique(ids)
    norms = np.linalg.norm(table[rows], ord=norm_type, axis=1).astype(np.float64)
    over = norms > max_norm
    scale = max_norm / (norms[over] + 1e-7)
    table[rows[over]] *= scale.astype(table.dtype)[:, None]


def embedding_ids(op: str, ids, num_embeddings: int) -> np.ndarray:
    """ids as an integer numpy array in [0, num_embeddings), or an error naming `op` (the op or
    the layer) and saying what to do."""
    if isinstance(ids, Value) and ids.requires_grad:
        raise TypeError(f"{op}: ids is a Value of dtype {ids.dtype} that requires grad; "
                        f"expected integer ids, which have no gradient (an id picks a row, it is "
                        f"not a number to differentiate); pass an integer array such as "
                        f"ids.data.astype(np.int64) (tc.onnx.export makes its example_input "
                        f"such a Value when it is a float array: pass it integer ids)")
    data = np.asarray(ids.data if isinstance(ids, Value) else ids)
    n = num_embeddings
    if data.dtype.kind not in "iu":
        values = (f" with values in [{data.min()}, {data.max()}]"
                  if data.size and data.dtype.kind == "f" else "")
        # Value.astype converts between float dtypes only: a Value's ids convert as an array
        fix = "ids.data.astype(np.int64)" if isinstance(ids, Value) else (
            "ids.astype(np.int64)" if isinstance(ids, np.ndarray) else "np.asarray(ids, "
            "dtype=np.int64)")
        raise TypeError(f"{op}: ids has dtype {data.dtype}{values}; expected integer ids in "
                        f"[0, {n}); convert them with {fix}")
    if data.size and (data.min() < 0 or data.max() >= n):
        low, high = int(data.min()), int(data.max())
        fix = (f"make num_embeddings at least {high + 1}" if low >= 0 else
               "map the ids into range first (negative ids do not count from the end)")
        raise IndexError(f"{op}: ids hold values in [{low}, {high}] but the table has "
                         f"num_embeddings={n} rows; expected ids in [0, {n}); {fix}")
    return data


def embedding_padding_idx(op: str, padding_idx, num_embeddings: int) -> int | None:
    """padding_idx as an index in [0, num_embeddings), or None; an error naming `op` (the op or
    the layer) and saying what to do."""
    if padding_idx is None:
        return None
    n = num_embeddings
    if not _is_int(padding_idx):
        raise TypeError(f"{op}: padding_idx is {type(padding_idx).__name__} "
                        f"{padding_idx!r:.40}; expected an int in [{-n}, {n}) or None")
    if not -n <= padding_idx < n:
        raise ValueError(f"{op}: padding_idx is {padding_idx} but the table has "
                         f"num_embeddings={n} rows; expected padding_idx in [{-n}, {n}) (a "
                         f"negative one counts from the end) or None")
    return int(padding_idx) % n


def cat(values, axis: int = 0) -> Value:
    """Join Values along an existing axis (numpy.concatenate): shapes must agree but along axis."""
    shapes = _check_joined("cat", values)
    first = shapes[0]
    if not first:
        raise ValueError("cat: values[0] is 0-d (shape ()); expected arrays with at least one "
                         "axis; use stack to join scalars into a new axis")
    axis = checked_axis("cat", axis, first)
    for i, s in enumerate(shapes[1:], start=1):
        if len(s) != len(first) or s[:axis] + s[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ValueError(
                f"cat: values[0] has shape {first} but values[{i}] has shape {s}; expected the "
                f"same number of axes and equal sizes on every axis but axis {axis}; reshape "
                f"or pad the inputs to match")
    return Cat.apply(*values, axis=axis)


def stack(values, axis: int = 0) -> Value:
    """Join Values of one shape along a new axis (numpy.stack): k of shape S -> S with k at axis."""
    shapes = _check_joined("stack", values)
    for i, s in enumerate(shapes[1:], start=1):
        if s != shapes[0]:
            raise ValueError(f"stack: values[0] has shape {shapes[0]} but values[{i}] has shape "
                             f"{s}; expected equal shapes; reshape or pad the inputs to match, "
                             f"or use cat to join along an existing axis")
    axis = checked_axis("stack", axis, shapes[0], ndim=len(shapes[0]) + 1)
    return Stack.apply(*values, axis=axis)


def split(x, sections, axis: int = 0) -> list[Value]:
    """x cut into pieces along axis, as numpy.split: an int k gives k equal pieces (k must divide
    the axis); a list of indices [i, j, ...] gives x[:i], x[i:j], ..., x[j:]."""
    shape = _shape_of(x)
    axis = checked_axis("split", axis, shape)
    size = shape[axis]
    if _is_int(sections):
        if sections <= 0 or size % sections:
            raise ValueError(
                f"split: {sections} sections do not divide axis {axis} of size {size} (x has "
                f"shape {shape}); expected a positive divisor of {size}; pass a list of split "
                f"indices instead, e.g. [{size // 2}] for two unequal pieces")
        step = size // sections
        bounds = [(k * step, (k + 1) * step) for k in range(sections)]
    elif isinstance(sections, (list, tuple, np.ndarray)) and all(map(_is_int, sections)):
        cuts = [0, *map(int, sections), size]
        bounds = list(zip(cuts[:-1], cuts[1:], strict=True))
    else:
        raise TypeError(f"split: sections {sections!r:.60} is a {type(sections).__name__}; "
                        f"expected an int (a number of equal pieces) or a list of int indices")
    lead = (slice(None),) * axis
    return [GetItem.apply(x, index=lead + (slice(start, stop),)) for start, stop in bounds]


PAD_MODES = ("constant", "reflect", "replicate", "circular")
# numpy.pad's names for the modes that torch.nn.functional.pad spells otherwise, for the hint
NUMPY_MODE_NAMES = {"edge": "replicate", "wrap": "circular"}


def pad(x, pad_width, value: float = 0.0, mode: str = "constant") -> Value:
    """x inside a border, as numpy.pad: pad_width is ((before, after),) per axis, or one pair or
    one int for every axis. The border is, by mode, as in torch.nn.functional.pad:

    - "constant": `value` everywhere (numpy.pad(x, pad_width, constant_values=value));
    - "reflect": x mirrored about its first and last element, which are not repeated
      ([1, 2, 3] padded by (2, 2) is [3, 2, 1, 2, 3, 2, 1]); each width < its axis's size;
    - "replicate": copies of the first and last element ([1, 1, 1, 2, 3, 3, 3]); numpy's "edge";
    - "circular": x wrapped around ([2, 3, 1, 2, 3, 1, 2]); each width <= its axis's size;
      numpy's "wrap".

    Any axis may be padded, in every mode (PyTorch pads only the last 1 to 3 axes in the modes
    but constant). The backward sends each output element's gradient to the element of x it
    copies, adding up where several copy one (reflect, replicate and circular borders); the
    constant border gets none.

    Raises
    ------
    ValueError
        For a negative width, a pad_width that does not fit x's axes, a 0-d x, an unknown mode,
        a value other than 0 with a mode but "constant", a width past what reflect (size - 1)
        or circular (size) can copy, or a width > 0 on an empty axis in those modes.
    TypeError
        For a pad_width not made of ints, or a value that is not a real number.
    """
    shape = _shape_of(x)
    if not shape:
        raise ValueError("pad: x is 0-d (shape ()), which has no axis to pad; expected an array "
                         "with at least one axis; reshape it first, e.g. x.reshape(1)")
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu" and not (widths.size == 0 and widths.dtype.kind == "f"):
        raise TypeError(f"pad: pad_width {pad_width!r:.60} is not made of ints; expected an "
                        f"int, a (before, after) pair or one pair per axis")
    try:
        widths = np.broadcast_to(widths, (len(shape), 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r:.60} has shape {widths.shape}, which does "
                         f"not fit x of shape {shape} ({len(shape)} axes); expected an int, a "
                         f"(before, after) pair or {len(shape)} pairs") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width {pad_width!r:.60} has a negative width; expected "
                         f"widths >= 0; to cut elements off use slicing, x[1:-1]")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"pad: value {value!r:.60} is a {type(value).__name__}; expected a real "
                        f"number (constant padding)")
    if not isinstance(mode, str) or mode not in PAD_MODES:
        hint = (f"; numpy's {mode!r} is {NUMPY_MODE_NAMES[mode]!r} here, as in PyTorch"
                if isinstance(mode, str) and mode in NUMPY_MODE_NAMES else "")
        raise ValueError(f"pad: mode is {mode!r}; expected one of "
                         f"{', '.join(map(repr, PAD_MODES))}{hint}")
    pairs = tuple((int(before), int(after)) for before, after in widths)
    if mode == "constant":
        return Pad.apply(x, pad_width=pairs, value=value)
    if value != 0:
        raise ValueError(f"pad: value={value!r} with mode={mode!r}; expected no value (a mode "
                         f"but 'constant' copies elements of x into the border, as PyTorch's); "
                         f"drop value=, or pass mode='constant' to fill the border with it")
    _check_copied_widths(shape, pairs, mode)
    # no value param: a node in these modes is drawn with pad_width and mode only
    return Pad.apply(x, pad_width=pairs, mode=mode)


def _check_copied_widths(shape: tuple[int, ...], pairs: tuple, mode: str) -> None:
    """The widths that reflect, replicate and circular padding can fill from x, as PyTorch's
    (an error naming the first axis that does not fit, and what would)."""
    for axis, (size, (before, after)) in enumerate(zip(shape, pairs, strict=True)):
        if before == after == 0:
            continue                        # an axis left alone fits, an empty one too
        where = f"axis {axis} (x of shape {shape}) has size {size} and widths ({before}, {after})"
        if size == 0:
            raise ValueError(f"pad: mode={mode!r} copies elements of x into the border, but "
                             f"{where}: an empty axis has none to copy; expected widths (0, 0) "
                             f"there; pad it with mode='constant'")
        if mode == "reflect" and max(before, after) >= size:
            # circular takes one element more a side, so it fits a width of `size` only
            others = "'replicate' or 'circular'" if max(before, after) == size else "'replicate'"
            raise ValueError(f"pad: mode='reflect' mirrors x about its end elements without "
                             f"repeating them, so a side can take at most size - 1 = {size - 1} "
                             f"elements, but {where}; expected widths < {size} there, as "
                             f"PyTorch; pass smaller widths, or mode={others}")
        if mode == "circular" and max(before, after) > size:
            raise ValueError(f"pad: mode='circular' wraps x around once, so a side can take at "
                             f"most size = {size} elements, but {where}; expected widths <= "
                             f"{size} there, as PyTorch; pass smaller widths, or "
                             f"mode='replicate'")


def _is_int(n) -> bool:
    return isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_))


def _shape_of(x) -> tuple[int, ...]:
    return x.shape if isinstance(x, (Value, np.ndarray)) else np.shape(x)


def _check_joined(op: str, values) -> list[tuple[int, ...]]:
    """The shapes of the Values (or arrays) to join, after checking there is a list of them."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{op}: values is a {type(values).__name__}; expected a list or tuple "
                        f"of Values, e.g. {op}([a, b], axis=0)")
    if not values:
        raise ValueError(f"{op}: values is empty; expected at least one Value to join")
    return [_shape_of(v) for v in values]


def _normalized_index(index) -> tuple:
    """index as a tuple of ints, slices, None, Ellipsis and integer or boolean arrays."""
    entries = index if isinstance(index, tuple) else (index,)
    return tuple(_normalized_entry(entry) for entry in entries)


_EXPECTED = ("expected an int, a slice, None, Ellipsis, an integer array or a boolean mask "
             "(or a tuple of these)")


def _normalized_entry(entry):
    if entry is None or entry is Ellipsis:
        return entry
    if isinstance(entry, slice):
        for part in (entry.start, entry.stop, entry.step):
            if part is not None and not _is_int(part):
                raise TypeError(f"getitem: slice {entry} has a {type(part).__name__} bound "
                                f"{part!r:.40}; expected ints or None, e.g. x[1:5:2]")
        if entry.step == 0:
            raise ValueError(f"getitem: slice {entry} has step 0; expected a non-zero step "
                             f"(negative steps walk backwards)")
        return entry
    if isinstance(entry, (bool, np.bool_)):
        return np.bool_(entry)                  # numpy: a 0-d mask (a new axis of size 1 or 0)
    if _is_int(entry):
        return int(entry)
    if isinstance(entry, Value):
        entry = entry.data
    elif isinstance(entry, (list, tuple)):
        entry = np.asarray(entry)
        if entry.size == 0 and entry.dtype.kind == "f":
            entry = entry.astype(np.intp)       # [] selects nothing, as in numpy
    if isinstance(entry, (float, np.floating)):
        raise TypeError(f"getitem: index {float(entry)!r} is a float; {_EXPECTED}; convert it with "
                        f"int()")
    if not isinstance(entry, np.ndarray):
        raise TypeError(f"getitem: index {entry!r:.60} is a {type(entry).__name__}; {_EXPECTED}")
    if entry.dtype.kind not in "biu":
        raise TypeError(f"getitem: index array has dtype {entry.dtype}; {_EXPECTED}; convert "
                        f"it with .astype(np.int64)")
    return entry


def _check_index(entries: tuple, shape: tuple[int, ...]) -> None:
    """Raise an IndexError naming the index and the shape unless x[entries] is valid for an x
    of `shape` (IndexError, as in numpy and Python, so iteration stops at the end)."""
    ellipses = sum(entry is Ellipsis for entry in entries)
    if ellipses > 1:
        raise IndexError(f"getitem: the index has {ellipses} Ellipses (...); expected at most "
                         f"one")
    consumed = sum(_axes_used(entry) for entry in entries)
    if consumed > len(shape):
        raise IndexError(f"getitem: the index uses {consumed} axes but x has shape {shape} "
                         f"({len(shape)} axes); expected at most {len(shape)} ints, slices, "
                         f"integer arrays or mask axes")
    axis, advanced = 0, []
    for entry in entries:
        if entry is Ellipsis:
            axis += len(shape) - consumed
            continue
        if isinstance(entry, np.ndarray) and entry.dtype.kind == "b" and entry.ndim:
            covered = shape[axis:axis + entry.ndim]
            if entry.shape != covered:
                raise IndexError(f"getitem: boolean mask of shape {entry.shape} does not fit "
                                 f"axes {axis}..{axis + entry.ndim - 1} of x of shape {shape}; "
                                 f"expected a mask of shape {covered}")
            advanced.append((int(entry.sum()),))
        elif isinstance(entry, int) or isinstance(entry, np.ndarray) and entry.dtype.kind in "iu":
            _check_in_range(entry, axis, shape)
            if isinstance(entry, np.ndarray):
                advanced.append(entry.shape)
        axis += _axes_used(entry)
    if len(advanced) > 1:
        try:
            np.broadcast_shapes(*advanced)
        except ValueError:
            raise IndexError(f"getitem: the index arrays have shapes "
                             f"{', '.join(map(str, advanced))}, which do not broadcast together "
                             f"(x has shape {shape}); expected index arrays of broadcastable "
                             f"shapes (a mask counts as its number of True elements)") from None


def _axes_used(entry) -> int:
    """How many axes of x an index entry consumes (None and Ellipsis: none of their own)."""
    if entry is None or entry is Ellipsis or isinstance(entry, np.bool_):
        return 0
    if isinstance(entry, np.ndarray) and entry.dtype.kind == "b":
        return entry.ndim
    return 1


def _check_in_range(entry, axis: int, shape: tuple[int, ...]) -> None:
    size = shape[axis]
    if isinstance(entry, int):
        bad = entry if not -size <= entry < size else None
    else:
        outside = (entry < -size) | (entry >= size)
        bad = int(entry[outside].flat[0]) if outside.any() else None
    if bad is not None:
        raise IndexError(f"getitem: index {bad} is out of range for axis {axis} of size {size} "
                         f"(x has shape {shape}); expected an index in [{-size}, {size})")
