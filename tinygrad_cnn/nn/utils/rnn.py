"""Packed variable-length sequences, as `torch.nn.utils.rnn`: a batch of sequences of different
lengths, stored step by step without padding, for RNN, LSTM and GRU to run each sequence only
as far as its own length.

A PackedSequence keeps, for each time step t, the steps t of the batch_sizes[t] sequences that
are that long, sequences sorted by decreasing length: its data is (sum of lengths, *) with the
steps 0 of every sequence first, then the steps 1 of those at least 2 long, and so on. Packing
and unpacking are gathers of rows (getitem by integer arrays, cat, stack, pad), ops that have
backward rules, so gradients of every order flow through them from the engine.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.value import Value, data_of

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpad_sequence", "unpack_sequence", "invert_permutation"]

_PackedFields = namedtuple("_PackedFields",
                           ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedFields):
    """Sequences of different lengths packed step by step, as PyTorch's: data (sum of lengths,
    *) a Value, batch_sizes (max length,) int64, sorted_indices and unsorted_indices (N,) int64
    or None.

    Make one with pack_padded_sequence or pack_sequence, and turn it back into a padded batch
    with pad_packed_sequence. batch_sizes[t] is the number of sequences longer than t; data
    holds step t of those sequences at rows sum(batch_sizes[:t]) + s, s in [0, batch_sizes[t]),
    s being a sequence's place in the order of decreasing lengths. sorted_indices[s] is the
    caller's batch index of that sequence (None: the batch was already sorted), and
    unsorted_indices its inverse permutation. It is a named tuple, so
    `data, batch_sizes, sorted_indices, unsorted_indices = packed` unpacks it. Only RNN, LSTM
    and GRU take one; any other op refuses it with a TypeError.
    """

    __slots__ = ()

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if not isinstance(data, Value):
            data = Value(data, requires_grad=False)
        batch_sizes = np.asarray(batch_sizes, dtype=np.int64)
        if sorted_indices is not None:
            sorted_indices = np.asarray(sorted_indices, dtype=np.int64)
            if unsorted_indices is None:
                unsorted_indices = invert_permutation(sorted_indices)
        if unsorted_indices is not None:
            unsorted_indices = np.asarray(unsorted_indices, dtype=np.int64)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "PackedSequence: a batch of packed sequences is not an array, and only nn.RNN, "
            "nn.LSTM and nn.GRU take one; expected a Value or an array; pad it first: padded, "
            "lengths = tc.nn.utils.rnn.pad_packed_sequence(packed) (or use packed.data, the "
            "steps of all sequences as rows)")

    def astype(self, dtype) -> PackedSequence:
        """The same sequences with data of `dtype`, through Value.astype (so gradients flow back
        to the data packed); batch_sizes and the indices stay as they are."""
        return PackedSequence(self.data.astype(dtype), self.batch_sizes, self.sorted_indices,
                              self.unsorted_indices)

    def double(self) -> PackedSequence:
        """astype(np.float64), PyTorch's spelling, as Module.double()."""
        return self.astype(np.float64)

    def float(self) -> PackedSequence:
        """astype(np.float32), PyTorch's spelling, as Module.float()."""
        return self.astype(np.float32)

    def __repr__(self) -> str:
        return (f"PackedSequence(data={self.data!r}, batch_sizes={self.batch_sizes!r}, "
                f"sorted_indices={self.sorted_indices!r}, "
                f"unsorted_indices={self.unsorted_indices!r})")


def invert_permutation(permutation) -> np.ndarray | None:
    """The inverse of a permutation p of 0..N-1: q with q[p[i]] = i, int64 (N,); None for None."""
    if permutation is None:
        return None
    p = np.asarray(data_of(permutation))
    if p.ndim != 1 or p.dtype.kind not in "iu" or not np.array_equal(np.sort(p),
                                                                    np.arange(len(p))):
        raise ValueError(f"invert_permutation: permutation {p!r:.80} is not a permutation of "
                         f"0..N-1; expected N distinct integers from 0 to N-1, shape (N,)")
    inverse = np.empty(len(p), dtype=np.int64)
    inverse[p] = np.arange(len(p))
    return inverse


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """A padded batch (L, N, *), or (N, L, *) with batch_first, packed: only the first
    lengths[i] steps of sequence i are kept -> PackedSequence with data (sum(lengths), *).

    Parameters
    ----------
    input : Value or array
        The padded batch; what lies past each sequence's length is ignored (it gets a zero
        gradient).
    lengths : list of ints or int array (N,)
        Each sequence's length, 1 <= lengths[i] <= L.
    batch_first : bool
        Whether input is (N, L, *) rather than (L, N, *).
    enforce_sorted : bool
        True: lengths must be in decreasing order (sorted_indices is then None). False: the
        sequences are sorted here, longest first (ties keep their order), and sorted_indices
        records the order, so that pad_packed_sequence and the layers' h_n give the caller's
        order back.
    """
    fn = "pack_padded_sequence"
    shape = np.shape(data_of(input))
    if len(shape) < 2:
        raise ValueError(f"{fn}: input has shape {shape}; expected a padded batch "
                         f"{_layout(batch_first)} with at least 2 axes")
    length_axis, n = (1, shape[0]) if batch_first else (0, shape[1])
    lengths = _checked_lengths(fn, lengths, n, shape[length_axis], shape, batch_first)
    if enforce_sorted:
        unsorted = np.flatnonzero(np.diff(lengths) > 0)
        if unsorted.size:
            i = int(unsorted[0])
            raise ValueError(
                f"{fn}: lengths {lengths.tolist()} are not in decreasing order (lengths[{i}] = "
                f"{lengths[i]} < lengths[{i + 1}] = {lengths[i + 1]}), as enforce_sorted=True "
                f"asks; expected the longest sequence first; pass enforce_sorted=False to have "
                f"them sorted here (the outputs come back in your order), or sort the batch")
        sorted_indices = None
        order = np.arange(n)
    else:
        sorted_indices = np.argsort(-lengths, kind="stable").astype(np.int64)
        order = sorted_indices
    sorted_lengths = lengths[order]
    batch_sizes = (sorted_lengths[None, :] > np.arange(sorted_lengths[0])[:, None]).sum(axis=1)
    # row r of data is step times[r] of sequence order[places[r]]: time-major, longest first
    times = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    places = np.concatenate([np.arange(b) for b in batch_sizes])
    batch = order[places]
    index = (batch, times) if batch_first else (times, batch)
    data = ops.getitem(input, index)                  # (sum(lengths), *)
    return PackedSequence(data, batch_sizes, sorted_indices)   # unsorted_indices: its inverse


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Value, np.ndarray]:
    """The inverse of pack_padded_sequence: PackedSequence -> (padded (T, N, *), or (N, T, *)
    with batch_first, in the caller's batch order; lengths int64 (N,)).

    T is the longest length, or total_length when given (>= the longest: e.g. the padded
    input's L, so that output and input line up). Past its length each sequence holds
    padding_value, which gets no gradient.
    """
    fn = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{fn}: sequence is a {type(sequence).__name__}; expected a "
                        f"PackedSequence, e.g. from pack_padded_sequence(x, lengths)")
    data, batch_sizes, _, unsorted_indices = sequence
    longest = len(batch_sizes)
    if total_length is None:
        total_length = longest
    elif isinstance(total_length, (bool, np.bool_)) or not isinstance(total_length,
                                                                      (int, np.integer)):
        raise TypeError(f"{fn}: total_length is a {type(total_length).__name__}; expected an "
                        f"int or None")
    elif total_length < longest:
        raise ValueError(f"{fn}: total_length is {total_length} but the longest sequence has "
                         f"{longest} steps; expected total_length >= {longest} (at least the "
                         f"length of the longest sequence), or None")
    n = int(batch_sizes[0])
    order = np.arange(n) if unsorted_indices is None else unsorted_indices
    sorted_lengths = (batch_sizes[:, None] > np.arange(n)[None, :]).sum(axis=0)   # (N,)
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])       # row of each step's 1st
    # padded[t, b] is row starts[t] + s of data, s = b's sorted place, or the fill row past it
    places = order[None, :]                                          # (1, N)
    t = np.arange(total_length)[:, None]                            # (T, 1)
    fill_row = int(batch_sizes.sum())
    inside = t < sorted_lengths[places]
    index = np.where(inside, starts[np.minimum(t, longest - 1)] + places, fill_row)   # (T, N)
    fill = np.full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    padded = ops.cat([data, fill], axis=0)[index.T if batch_first else index]
    return padded, sorted_lengths[order].astype(np.int64)


def pad_sequence(sequences: Sequence, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Value:
    """Sequences (L_i, *) padded to the longest and stacked: -> (L, N, *), or (N, L, *) with
    batch_first, where L = max L_i; padding_value fills each sequence's padding, after its
    steps (padding_side="right") or before them ("left")."""
    fn = "pad_sequence"
    shapes = _sequence_shapes(fn, sequences)
    if padding_side not in ("right", "left"):
        raise ValueError(f"{fn}: padding_side is {padding_side!r}; expected 'right' or 'left'")
    longest = max(shape[0] for shape in shapes)
    padded = []
    for x, shape in zip(sequences, shapes, strict=True):
        missing = longest - shape[0]
        before_after = (0, missing) if padding_side == "right" else (missing, 0)
        widths = (before_after,) + ((0, 0),) * (len(shape) - 1)
        padded.append(ops.pad(x, widths, value=padding_value) if missing else x)
    return ops.stack(padded, axis=0 if batch_first else 1)


def pack_sequence(sequences: Sequence, enforce_sorted: bool = True) -> PackedSequence:
    """Sequences (L_i, *), each L_i >= 1, packed: pack_padded_sequence(pad_sequence(sequences),
    their lengths, enforce_sorted=enforce_sorted)."""
    shapes = _sequence_shapes("pack_sequence", sequences)
    for i, shape in enumerate(shapes):
        if shape[0] == 0:
            raise ValueError(f"pack_sequence: sequence {i} has shape {shape}, no steps; "
                             f"expected every sequence to have at least one step; leave the "
                             f"empty ones out")
    lengths = [shape[0] for shape in shapes]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded, lengths, batch_first: bool = False) -> list[Value]:
    """The inverse of pad_sequence: padded (L, N, *), or (N, L, *) with batch_first, and the
    lengths (N,) -> the N sequences (lengths[i], *), padding dropped."""
    fn = "unpad_sequence"
    shape = np.shape(data_of(padded))
    if len(shape) < 2:
        raise ValueError(f"{fn}: padded has shape {shape}; expected "
                         f"{_layout(batch_first)} with at least 2 axes")
    n, steps = (shape[0], shape[1]) if batch_first else (shape[1], shape[0])
    lengths = _checked_lengths(fn, lengths, n, steps, shape, batch_first)
    if not isinstance(padded, Value):
        padded = Value(np.asarray(padded), requires_grad=False)
    return [padded[i, :length] if batch_first else padded[:length, i]
            for i, length in enumerate(lengths.tolist())]


def unpack_sequence(packed: PackedSequence) -> list[Value]:
    """The inverse of pack_sequence: PackedSequence -> its sequences (L_i, *), in the caller's
    order."""
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def _layout(batch_first: bool) -> str:
    """A padded batch's axes, as error messages name them."""
    return "(N, L, *)" if batch_first else "(L, N, *)"


def _checked_lengths(fn: str, lengths, n: int, steps: int, shape: tuple,
                     batch_first: bool) -> np.ndarray:
    """lengths as an int64 array (n,) of values in [1, steps], or an error saying what is wrong."""
    array = np.asarray(data_of(lengths))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{fn}: lengths {array.tolist()!r:.80} has dtype {array.dtype}; expected "
                        f"integers (the number of steps of each sequence); pass a list of ints "
                        f"or np.asarray(lengths, dtype=np.int64)")
    if array.shape != (n,):
        raise ValueError(f"{fn}: lengths has shape {array.shape} but the batch has N = {n} "
                         f"sequences (input of shape {shape}, "
                         f"{_layout(batch_first)}); expected one length "
                         f"per sequence, shape ({n},)")
    if n and array.min() <= 0:
        i = int(np.argmin(array))
        raise ValueError(f"{fn}: lengths[{i}] is {array[i]}; expected every length >= 1 (a "
                         f"sequence needs at least one step); leave the empty sequences out")
    if n and array.max() > steps:
        i = int(np.argmax(array))
        raise ValueError(f"{fn}: lengths[{i}] is {array[i]} but the padded axis L has only "
                         f"{steps} steps (input of shape {shape}, "
                         f"{_layout(batch_first)}); expected lengths <= "
                         f"{steps}; check batch_first={batch_first}")
    return array.astype(np.int64)


def _sequence_shapes(fn: str, sequences) -> list[tuple[int, ...]]:
    """The shapes of a list of sequences (L_i, *), after checking that they have the same
    features *."""
    if isinstance(sequences, (Value, np.ndarray)) or not isinstance(sequences, Sequence):
        raise TypeError(f"{fn}: sequences is a {type(sequences).__name__}; expected a list of "
                        f"Values or arrays (L_i, *)")
    if not sequences:
        raise ValueError(f"{fn}: sequences is empty; expected a list of at least one sequence")
    shapes = [np.shape(data_of(x)) for x in sequences]
    for i, shape in enumerate(shapes):
        if not shape:
            raise ValueError(f"{fn}: sequence {i} is 0-d (shape ()); expected (L_i, *), a "
                             f"first axis of steps")
        if shape[1:] != shapes[0][1:]:
            raise ValueError(f"{fn}: sequence {i} has shape {shape} but sequence 0 has "
                             f"{shapes[0]}; expected the same features after the first axis "
                             f"(only the lengths L_i may differ)")
    return shapes
