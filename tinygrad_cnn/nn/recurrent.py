"""The recurrent layers RNN, LSTM and GRU and their one-step cells RNNCell, LSTMCell and
GRUCell, as PyTorch's: the same arguments, parameter names and shapes (so state dicts move
between the two), initial range and equations. Each time step is written once, in the mixins
_ElmanStep, _LSTMStep and _GRUStep, for a layer and its cell. A layer is a loop over the
sequence of ops that already have rules (linear, the activations, split, stack), so its
gradients -- backpropagation through time -- come from the engine, to every order. A layer also
takes a PackedSequence (nn.utils.rnn), sequences of different lengths, each run to its own
length by the same loop, whose batch shrinks or grows (getitem, cat) as sequences end."""

from __future__ import annotations

import math
import warnings

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.init import uniform
from tinygrad_cnn.nn.layers import _check_positive_int, _check_probability
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.nn.utils.rnn import PackedSequence
from tinygrad_cnn.random import generator
from tinygrad_cnn.value import Value, data_of


def hidden_projection(h, w_hh, b_hh):
    """h W_hh^T + b_hh. A zero state (h None, the first step without initial states) is one
    row of zeros, whose projection broadcasts over the batch: no array of the batch's size is
    made up (an exported model then takes any batch size), and W_hh still gets its gradient,
    zeros, as in PyTorch."""
    if h is None:
        h = np.zeros((1, w_hh.shape[1]), dtype=w_hh.dtype)
    return ops.linear(h, w_hh, b_hh)


def _first_rows(state, n: int):
    """The first n rows of a state (N, ·), or the state itself when it has n rows or is None."""
    return state if state is None or state.shape[0] == n else state[:n]


def check_state_dtype(layer: str, label: str, state, weights: np.dtype) -> None:
    """An initial state (`label`) has the parameters' dtype, else an error naming `layer`."""
    dtype = np.asarray(data_of(state)).dtype
    if dtype != weights:
        raise TypeError(f"{layer}: {label} has dtype {dtype} but the parameters have "
                        f"{weights}; expected the same dtype; pass {label}.astype(np.{weights})")


class _ElmanStep:
    """The Elman RNN's time step: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), or
    relu with nonlinearity="relu".

    step(projected, h, c, w_hh, b_hh), as each mixin's: the input's projection x_t W_ih^T +
    b_ih (N, gates*H) and the states h (and c, LSTM's cell state, else None) -> the next
    (h, c), h before any projection by W_hr (LSTM's forward applies it). Without initial
    states, h and c are None at the first step: zero states (hidden_projection projects one
    row of zeros; the terms in c and h drop out)."""

    gates = 1
    nonlinearity: str

    def step(self, projected, h, c, w_hh, b_hh):
        pre = projected + hidden_projection(h, w_hh, b_hh)
        return (ops.tanh(pre) if self.nonlinearity == "tanh" else ops.relu(pre)), None

    def _check_nonlinearity(self, nonlinearity) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{type(self).__name__}: nonlinearity is {nonlinearity!r}; "
                             f"expected 'tanh' or 'relu'")


class _LSTMStep:
    """LSTM's time step, with the gates' rows in the order i, f, g, o: i, f, o = sigmoid and
    g = tanh of x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh (each its H-row block), the cell
    state c_t = f * c_(t-1) + i * g and h_t = o * tanh(c_t)."""

    gates = 4

    def step(self, projected, h, c, w_hh, b_hh):
        i, f, g, o = ops.split(projected + hidden_projection(h, w_hh, b_hh), 4, axis=-1)
        written = ops.sigmoid(i) * ops.tanh(g)
        c = written if c is None else ops.sigmoid(f) * c + written
        return ops.sigmoid(o) * ops.tanh(c), c


class _GRUStep:
    """GRU's time step, with the rows in the order r, z, n: r = sigmoid(x W_ir^T + b_ir +
    h W_hr^T + b_hr), z likewise, the candidate n = tanh(x W_in^T + b_in + r * (h W_hn^T +
    b_hn)), and h_t = (1 - z) * n + z * h_(t-1)."""

    gates = 3

    def step(self, projected, h, c, w_hh, b_hh):
        x_r, x_z, x_n = ops.split(projected, 3, axis=-1)
        h_r, h_z, h_n = ops.split(hidden_projection(h, w_hh, b_hh), 3, axis=-1)
        r, z = ops.sigmoid(x_r + h_r), ops.sigmoid(x_z + h_z)
        n = ops.tanh(x_n + r * h_n)
        return ((1 - z) * n if h is None else (1 - z) * n + z * h), None


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: the stacked, optionally bidirectional loop over the
    sequence. A subclass sets `gates`, the number of (hidden_size)-row blocks in its weights,
    and `step`, one time step of one layer and direction.

    Layer l, direction d has weight_ih_l{l}{s} (gates*H, its input size), weight_hh_l{l}{s}
    (gates*H, H), bias_ih_l{l}{s} and bias_hh_l{l}{s} (gates*H,), with s "" forwards and
    "_reverse" backwards; an LSTM with proj_size P > 0 also has weight_hr_l{l}{s} (P, H), and
    its h has P entries, not H (so weight_hh is (gates*H, P)). Every entry is drawn from
    U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""

    gates: int
    proj_size: int = 0        # the size of LSTM's projected h; 0 (no projection) for the others

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, rng: np.random.Generator | None = None):
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):
            _check_positive_int(name, arg, value)
        _check_positive_int(name, "proj_size", self.proj_size, allow_zero=True)
        if self.proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size is {self.proj_size} but hidden_size is "
                             f"{hidden_size}; expected 0 <= proj_size < hidden_size (the "
                             f"projected h is smaller than the cell state); pass a smaller "
                             f"proj_size, or 0 for no projection")
        for arg, value in (("bias", bias), ("batch_first", batch_first),
                           ("bidirectional", bidirectional)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}: {arg} is {type(value).__name__} {value!r}; expected "
                                f"True or False")
        _check_probability(name, "dropout", dropout,
                           "(applied to each layer's output but the last)", allow_one=True)
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} with num_layers=1 does nothing: dropout "
                          f"acts between stacked layers; pass num_layers >= 2 or dropout=0",
                          UserWarning, stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        rng = generator(rng, name)
        bound = 1.0 / math.sqrt(hidden_size)
        rows = self.gates * hidden_size
        for layer in range(num_layers):
            inputs = input_size if layer == 0 else self.state_size * self.directions
            for suffix in self.suffixes:
                shapes = {"weight_ih": (rows, inputs), "weight_hh": (rows, self.state_size)}
                if self.bias:
                    shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
                if self.proj_size:                             # after the biases, as PyTorch
                    shapes |= {"weight_hr": (self.proj_size, hidden_size)}
                for kind, shape in shapes.items():
                    setattr(self, f"{kind}_l{layer}{suffix}",
                            Value(uniform(-bound, bound, shape, rng)))

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    @property
    def state_size(self) -> int:
        """The size of h: proj_size for an LSTM with projections, else hidden_size."""
        return self.proj_size or self.hidden_size

    def forward(self, x, hx=None):
        """x (L, N, input_size), (N, L, input_size) with batch_first, or one sequence
        (L, input_size); hx the initial states (num_layers * directions, N, H), or
        (num_layers * directions, H) for one sequence (LSTM: a pair (h_0, c_0)), zeros when
        None. Returns (output, h_n): output (L, N, directions * H) in x's layout, the last
        layer's h at every step; h_n each layer's and direction's last h (LSTM: (h_n, c_n)).
        An LSTM with proj_size P has h of size P: h_0, h_n and output's last axis hold P (or
        2P) where the others hold H; c_0 and c_n keep H.

        x may also be a PackedSequence (nn.utils.rnn.pack_padded_sequence), sequences of
        different lengths: each runs over its own steps only (the reverse direction starts at
        its last one), output is a PackedSequence of the same batch_sizes and order, and h_n
        holds each sequence's state after its own last step, in the caller's batch order, as
        hx is given (batch_first plays no part)."""
        packed = isinstance(x, PackedSequence)
        if packed:
            x, batch_sizes, sorted_indices, unsorted_indices = self._checked_packed(x)
            n, unbatched = int(batch_sizes[0]), False
        else:
            x, unbatched = self._sequence_major(x)
            n, batch_sizes = x.shape[1], [x.shape[1]] * x.shape[0]
            sorted_indices = unsorted_indices = None
        h0, c0 = self._initial_states(hx, n, unbatched, sorted_indices)
        last_h, last_c = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self.suffixes):
                weights = [getattr(self, f"{kind}_l{layer}{suffix}", None)
                           for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                        "weight_hr")]
                projected = ops.linear(x, weights[0], weights[2])   # x_t W_ih^T + b_ih, all t
                k = layer * self.directions + d                # this layer and direction's state
                hs, h, c = self._time_loop(projected, batch_sizes, packed, suffix == "_reverse",
                                           h0[k], None if c0 is None else c0[k], weights)
                outputs.append(ops.cat(hs) if packed else ops.stack(hs))
                last_h.append(h)
                last_c.append(c)
            x = outputs[0] if len(outputs) == 1 else ops.cat(outputs, axis=-1)
            if self.dropout and layer < self.num_layers - 1:
                x = ops.dropout(x, self.dropout, training=self.training)
        states = [ops.stack(last_h)] + ([] if c0 is None else [ops.stack(last_c)])
        if packed:
            if unsorted_indices is not None:           # back to the caller's batch order
                states = [s[:, unsorted_indices] for s in states]
            x = PackedSequence(x, batch_sizes, sorted_indices, unsorted_indices)
        elif unbatched:                        # drop the batch axis of one: (L, H), (layers, H)
            x = x.reshape(x.shape[0], x.shape[2])
            states = [s.reshape(s.shape[0], s.shape[2]) for s in states]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        return x, states[0] if c0 is None else tuple(states)

    def _time_loop(self, projected, batch_sizes, packed: bool, reverse: bool, h, c, weights):
        """One layer and direction over the steps: at step t the first batch_sizes[t] sequences
        (the longest) advance, from their states h and c (N, ·) at the start (None: zeros).
        projected is the input's projection, (L, N, gates*H) padded, or packed (sum of
        batch_sizes, gates*H) with step t's rows after those of the steps before it. Returns
        the h_t (batch_sizes[t], ·) of every step t, and the last h and c of every sequence.

        Forwards, a sequence stops after its last step: when the batch shrinks, the rows that
        drop out are done, and their states are kept aside. Backwards, a sequence starts at its
        last step: when the batch grows, its rows join with their initial states. With equal
        lengths (a padded batch) neither happens."""
        _, w_hh, _, b_hh, w_hr = weights
        starts = np.concatenate([[0], np.cumsum(batch_sizes)])
        h_init, c_init = h, c
        done = []                       # forwards: (h, c) of the rows that have finished
        if reverse:                     # only the sequences as long as the longest start
            h, c = _first_rows(h, batch_sizes[-1]), _first_rows(c, batch_sizes[-1])
        hs = [None] * len(batch_sizes)
        for t in (reversed(range(len(batch_sizes))) if reverse else range(len(batch_sizes))):
            size = batch_sizes[t]
            running = size if h is None else h.shape[0]
            if size < running:          # forwards: the last rows' sequences ended at t - 1
                done.append((h[size:], None if c is None else c[size:]))
                h, c = h[:size], None if c is None else c[:size]
            elif size > running:        # backwards: these rows' sequences end at step t
                h = self._joined(h, h_init, running, size, self.state_size)
                if c is not None:       # LSTM's cell state, of hidden_size
                    c = self._joined(c, c_init, running, size, self.hidden_size)
            step_input = projected[starts[t]:starts[t + 1]] if packed else projected[t]
            h, c = self.step(step_input, h, c, w_hh, b_hh)
            if w_hr is not None:                 # LSTM's projection: h_t W_hr^T, (N, P)
                h = ops.linear(h, w_hr)
            hs[t] = h
        if done:                        # the rows finished last come first: (N, ·) again
            done.append((h, c))
            h = ops.cat([rows for rows, _ in reversed(done)])
            c = None if c is None else ops.cat([rows for _, rows in reversed(done)])
        return hs, h, c

    @staticmethod
    def _joined(state, initial, running: int, size: int, width: int):
        """state (running, width) followed by the rows running..size-1 of the initial state
        (zeros when None): the sequences that join the reverse direction's batch."""
        new = initial[running:size] if initial is not None else \
            np.zeros((size - running, width), dtype=state.dtype)
        return ops.cat([state, new])

    def _sequence_major(self, x) -> tuple[Value, bool]:
        """x as (L, N, input_size), and whether it was one sequence (L, input_size)."""
        shape = np.shape(data_of(x))
        if len(shape) not in (2, 3) or shape[-1] != self.input_size \
                or shape[1 if len(shape) == 3 and self.batch_first else 0] == 0:
            layout = "(N, L, input_size)" if self.batch_first else "(L, N, input_size)"
            raise ValueError(f"{type(self).__name__}: input of shape {shape}; expected "
                             f"{layout} or one sequence (L, input_size), with input_size = "
                             f"{self.input_size} and L >= 1")
        if len(shape) == 2:
            return ops.reshape(x, shape[0], 1, shape[1]), True
        return (ops.transpose(x, 1, 0, 2) if self.batch_first else ops.reshape(x, shape)), False

    def _initial_states(self, hx, n: int, unbatched: bool, sorted_indices=None) -> tuple:
        """(h_0, c_0), each (num_layers * directions, N, H) (h_0's last axis proj_size for an
        LSTM with projections), or lists of None for zero states; c_0 is None but for LSTM. For
        a packed batch whose sequences were sorted, sorted_indices puts hx's rows, given in
        the caller's order, into the order of the packed sequences."""
        name, lstm = type(self).__name__, self.gates == 4
        k = self.num_layers * self.directions
        if hx is None:                        # zero states: step starts from zeros
            return [None] * k, [None] * k if lstm else None
        if lstm and not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError(f"{name}: hx is a {type(hx).__name__}; expected a pair (h_0, c_0) "
                            f"of initial hidden and cell states")
        labels, given = (("h_0", "c_0"), hx) if lstm else (("hx",), (hx,))
        h_name = "proj_size" if self.proj_size else "hidden_size"
        sizes = ((h_name, self.state_size), ("hidden_size", self.hidden_size))   # h's, c's
        states = []
        for label, state, (size_name, size) in zip(labels, given, sizes[:len(labels)],
                                                   strict=True):
            shape = (k, n, size)
            expected = (k, size) if unbatched else shape
            if np.shape(data_of(state)) != expected:
                raise ValueError(f"{name}: {label} has shape {np.shape(data_of(state))}; "
                                 f"expected {expected}: (num_layers * directions, "
                                 f"{'' if unbatched else 'N, '}{size_name})")
            check_state_dtype(name, label, state, self.weight_hh_l0.dtype)
            state = ops.reshape(state, shape)
            states.append(state if sorted_indices is None else state[:, sorted_indices])
        return states[0], states[1] if lstm else None

    def _checked_packed(self, x: PackedSequence) -> tuple:
        """A PackedSequence's fields, after checking its data (sum of lengths, input_size) and
        batch_sizes (decreasing, summing to the data's rows)."""
        data, batch_sizes, sorted_indices, unsorted_indices = x
        shape, sizes = data.shape, np.asarray(batch_sizes)
        if len(shape) != 2 or shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: a PackedSequence with data of shape "
                             f"{shape}; expected (sum of lengths, input_size) with input_size "
                             f"= {self.input_size}")
        if (sizes.ndim != 1 or not sizes.size or sizes.sum() != shape[0] or sizes.min() < 1
                or (np.diff(sizes) > 0).any()):
            raise ValueError(f"{type(self).__name__}: a PackedSequence with batch_sizes "
                             f"{sizes.tolist()} and data of shape {shape}; expected decreasing "
                             f"batch sizes >= 1 that sum to {shape[0]}, the data's rows; make "
                             f"it with nn.utils.rnn.pack_padded_sequence or pack_sequence")
        return data, [int(size) for size in sizes], sorted_indices, unsorted_indices

    def extra_repr(self) -> str:          # PyTorch's: the settings that differ from defaults
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(_ElmanStep, _Recurrent):
    """The Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), or relu with
    nonlinearity="relu"; stacked over num_layers, optionally bidirectional, as PyTorch's."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *,
                 rng: np.random.Generator | None = None):
        self._check_nonlinearity(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng=rng)


class LSTM(_LSTMStep, _Recurrent):
    """Long short-term memory, as PyTorch's: with the gates' rows in the order i, f, g, o,
    i, f, o = sigmoid and g = tanh of x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh (each its
    H-row block), the cell state c_t = f * c_(t-1) + i * g and h_t = o * tanh(c_t).
    forward(x, (h_0, c_0)) returns (output, (h_n, c_n)).

    With proj_size P > 0 (0 <= P < hidden_size), an LSTM with projections: h_t = W_hr (o *
    tanh(c_t)), of size P, by a parameter weight_hr_l{k} (P, H) per layer and direction, so
    weight_hh is (4H, P), a next layer takes P (2P bidirectional) inputs, and output and h_n
    have P (or 2P) on their last axis, while c_n keeps H."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, *,
                 rng: np.random.Generator | None = None):
        self.proj_size = proj_size            # checked, and read, by _Recurrent.__init__
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, rng=rng)


class GRU(_GRUStep, _Recurrent):
    """Gated recurrent unit, as PyTorch's: with the rows in the order r, z, n,
    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr), z likewise, the candidate
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)), and h_t = (1 - z) * n + z * h_(t-1)."""


class _Cell(Module):
    """What RNNCell, LSTMCell and GRUCell share: one time step of their layer's equations (the
    step of the mixin each takes), for an input x (N, input_size) or (input_size,) and the
    states, with parameters weight_ih (gates*H, input_size), weight_hh (gates*H, H), bias_ih and
    bias_hh (gates*H,), each entry from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's. Use one to
    write a loop of your own, such as a decoder that feeds back its last output."""

    gates: int

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 rng: np.random.Generator | None = None):
        name = type(self).__name__
        _check_positive_int(name, "input_size", input_size)
        _check_positive_int(name, "hidden_size", hidden_size)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{name}: bias is {type(bias).__name__} {bias!r}; expected True or "
                            f"False")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bool(bias)
        rng, bound = generator(rng, name), 1.0 / math.sqrt(hidden_size)
        rows = self.gates * hidden_size
        self.weight_ih = Value(uniform(-bound, bound, (rows, input_size), rng))
        self.weight_hh = Value(uniform(-bound, bound, (rows, hidden_size), rng))
        self.bias_ih = Value(uniform(-bound, bound, (rows,), rng)) if bias else None
        self.bias_hh = Value(uniform(-bound, bound, (rows,), rng)) if bias else None

    def forward(self, x, hx=None):
        """x (N, input_size) or one input (input_size,); hx the states (N, H) or (H,) (for
        LSTMCell a pair (h, c)), zeros when None. Returns the next h (LSTMCell: (h, c)), in
        x's layout."""
        name, lstm = type(self).__name__, self.gates == 4
        shape = np.shape(data_of(x))
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise ValueError(f"{name}: input of shape {shape}; expected (N, input_size) or one "
                             f"input (input_size,), with input_size = {self.input_size}")
        unbatched = len(shape) == 1
        n = 1 if unbatched else shape[0]
        h = c = None
        if hx is not None:
            if lstm and not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError(f"{name}: hx is a {type(hx).__name__}; expected a pair (h, c) "
                                f"of hidden and cell states")
            labels, given = (("h", "c"), hx) if lstm else (("hx",), (hx,))
            states = [self._checked_state(label, state, n, unbatched)
                      for label, state in zip(labels, given, strict=True)]
            h, c = states[0], (states[1] if lstm else None)
        x = ops.reshape(x, 1, self.input_size) if unbatched else x
        h, c = self.step(ops.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                         self.bias_hh)
        if unbatched:
            h, c = h.reshape(self.hidden_size), (None if c is None else c.reshape(self.hidden_size))
        return (h, c) if lstm else h

    def _checked_state(self, label: str, state, n: int, unbatched: bool):
        """A state as (N, H), after checking its shape and dtype against x's and the weights'."""
        name, expected = type(self).__name__, ((self.hidden_size,) if unbatched
                                               else (n, self.hidden_size))
        if np.shape(data_of(state)) != expected:
            raise ValueError(f"{name}: {label} has shape {np.shape(data_of(state))}; expected "
                             f"{expected}: ({'' if unbatched else 'N, '}hidden_size) for an "
                             f"input of {'one sample' if unbatched else f'N = {n} samples'}")
        check_state_dtype(name, label, state, self.weight_hh.dtype)
        return ops.reshape(state, 1, self.hidden_size) if unbatched else state

    def extra_repr(self) -> str:          # PyTorch's
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class RNNCell(_ElmanStep, _Cell):
    """One step of the Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), or relu with
    nonlinearity="relu", as PyTorch's RNNCell."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, rng: np.random.Generator | None = None):
        self._check_nonlinearity(nonlinearity)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, rng=rng)


class LSTMCell(_LSTMStep, _Cell):
    """One step of the LSTM, as PyTorch's LSTMCell: forward(x, (h, c)) returns the next
    (h, c)."""


class GRUCell(_GRUStep, _Cell):
    """One step of the GRU, as PyTorch's GRUCell: forward(x, h) returns the next h."""
