"""nn.utils.rnn's packed sequences: packing and padding by hand on tiny batches, round trips,
gradcheck and gradgradcheck through packing and through packed RNN, LSTM and GRU (float64,
random upstream gradients), a packed layer against each sequence run alone, and the errors."""

import numpy as np
import pytest
from optional import require

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.nn.utils import rnn


def steps(shape):
    """x[t, b, f] = 10 t + b + f / 10 (or x[b, t, f] for a batch-first shape given as such):
    each element says where it came from."""
    return np.fromfunction(lambda a, b, f: 10 * a + b + f / 10, shape)


def test_packing_by_hand():
    x = steps((4, 3, 1))                                   # (L, N, 1), step t of sequence b
    packed = rnn.pack_padded_sequence(tc.Value(x), [4, 2, 1])
    assert packed.batch_sizes.tolist() == [3, 2, 1, 1] and packed.batch_sizes.dtype == np.int64
    assert packed.data.data[:, 0].tolist() == [0, 1, 2, 10, 11, 20, 30]   # time-major rows
    assert packed.sorted_indices is None and packed.unsorted_indices is None
    data, batch_sizes, sorted_indices, unsorted_indices = packed           # a named tuple
    assert data is packed.data and batch_sizes is packed.batch_sizes


def test_packing_unsorted_lengths_sorts_longest_first_ties_in_order():
    x = steps((3, 4, 1))
    packed = rnn.pack_padded_sequence(x, [2, 3, 2, 1], enforce_sorted=False)
    assert packed.sorted_indices.tolist() == [1, 0, 2, 3]          # 3, then the 2s in order, 1
    assert packed.unsorted_indices.tolist() == [1, 0, 2, 3]
    assert packed.batch_sizes.tolist() == [4, 3, 1]
    assert packed.data.data[:, 0].tolist() == [1, 0, 2, 3, 11, 10, 12, 21]
    first = rnn.pack_padded_sequence(steps((4, 3, 1)).transpose(1, 0, 2), [1, 4, 2],
                                     batch_first=True, enforce_sorted=False)
    assert first.sorted_indices.tolist() == [1, 2, 0] and first.unsorted_indices.tolist() == \
        [2, 0, 1]
    assert first.data.data[:, 0].tolist() == [1, 2, 0, 11, 12, 21, 31]


def test_padding_back_restores_the_callers_order_and_fills_the_rest():
    x = steps((3, 4, 2))
    lengths = [2, 3, 2, 1]
    packed = rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    padded, got = rnn.pad_packed_sequence(packed, padding_value=-1.0, total_length=5)
    assert got.tolist() == lengths and got.dtype == np.int64
    assert padded.shape == (5, 4, 2)
    inside = np.arange(5)[:, None] < np.array(lengths)[None, :]              # (T, N)
    np.testing.assert_array_equal(padded.data[:3][inside[:3]], x[inside[:3]])
    assert (padded.data[~inside] == -1.0).all()
    first, _ = rnn.pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(first.data, padded.data[:3].transpose(1, 0, 2) *
                                  inside[:3].T[..., None])


def test_pad_sequence_by_hand_right_and_left():
    a, b = np.array([[1.0], [2.0], [3.0]]), np.array([[4.0]])
    right = rnn.pad_sequence([a, b])
    assert right.shape == (3, 2, 1) and right.data[:, :, 0].tolist() == [[1, 4], [2, 0], [3, 0]]
    left = rnn.pad_sequence([tc.Value(a), b], batch_first=True, padding_value=9.0,
                            padding_side="left")
    assert left.data[:, :, 0].tolist() == [[1, 2, 3], [9, 9, 4]]


def test_round_trips(rng):
    sequences = [tc.Value(rng.standard_normal((n, 2, 3))) for n in (2, 5, 1, 5)]
    back = rnn.unpad_sequence(rnn.pad_sequence(sequences, batch_first=True), [2, 5, 1, 5],
                              batch_first=True)
    for s, b in zip(sequences, back, strict=True):
        np.testing.assert_array_equal(b.data, s.data)
    for enforce_sorted in (False, True):
        ordered = sorted(sequences, key=len, reverse=True) if enforce_sorted else sequences
        unpacked = rnn.unpack_sequence(rnn.pack_sequence(ordered, enforce_sorted))
        for s, b in zip(ordered, unpacked, strict=True):
            np.testing.assert_array_equal(b.data, s.data)
    x = rng.standard_normal((4, 3, 2))
    padded, lengths = rnn.pad_packed_sequence(rnn.pack_padded_sequence(x, [4, 4, 3]))
    np.testing.assert_array_equal(padded.data[:, :2], x[:, :2])
    np.testing.assert_array_equal(padded.data[:3, 2], x[:3, 2])


def test_invert_permutation_and_the_constructor():
    assert rnn.invert_permutation(None) is None
    assert rnn.invert_permutation([2, 0, 1]).tolist() == [1, 2, 0]
    packed = rnn.PackedSequence(np.ones((3, 2)), [2, 1], np.array([1, 0]))
    assert packed.unsorted_indices.tolist() == [1, 0] and isinstance(packed.data, tc.Value)
    assert not packed.data.requires_grad
    assert repr(packed).startswith("PackedSequence(data=Value(")


def test_gradients_flow_through_packing_to_every_order(rng):
    lengths = [2, 4, 1]

    def round_trip(x):
        packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        return rnn.pad_packed_sequence(packed, padding_value=0.5, total_length=5)[0] ** 2

    x = rng.standard_normal((3, 4, 2))
    assert tc.gradcheck(round_trip, [x])
    assert tc.gradgradcheck(round_trip, [x])
    sequences = [rng.standard_normal((n, 2)) for n in (3, 1, 2)]
    pad_left = lambda *s: rnn.pad_sequence(list(s), padding_side="left") ** 2     # noqa: E731
    assert tc.gradcheck(pad_left, sequences)
    assert tc.gradgradcheck(pad_left, sequences)
    packed = rnn.pack_padded_sequence(tc.Value(x), lengths, batch_first=True,
                                      enforce_sorted=False)
    packed.data.backward(np.ones(packed.data.shape))
    inside = np.arange(4)[None, :] < np.array(lengths)[:, None]       # padding gets zeros
    np.testing.assert_array_equal(packed.data.fn.inputs[0].grad, np.repeat(
        inside[..., None], 2, axis=2).astype(float))


LAYERS = [  # (class, settings); input_size 2, hidden_size 3
    (nn.RNN, {"nonlinearity": "relu", "bidirectional": True}),
    (nn.LSTM, {"num_layers": 2, "bidirectional": True}),
    (nn.LSTM, {"proj_size": 2, "bidirectional": True}),
    (nn.GRU, {"num_layers": 2}),
]
LENGTHS = [2, 4, 1]


def states(rng, cls, settings, n):
    """Random initial states (num_layers * directions, n, ·): (h_0, c_0) for an LSTM."""
    k = settings.get("num_layers", 1) * (2 if settings.get("bidirectional") else 1)
    h = 0.5 * rng.standard_normal((k, n, settings.get("proj_size") or 3))
    return (h, 0.5 * rng.standard_normal((k, n, 3))) if cls is nn.LSTM else (h,)


@pytest.mark.parametrize("cls, settings", LAYERS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_a_packed_batch_runs_each_sequence_as_if_alone(rng, cls, settings):
    """Output and h_n of a packed, unsorted batch equal those of each sequence run by itself
    (the padded path on one sequence), with and without initial states."""
    layer = cls(2, 3, **settings).double()
    x = rng.standard_normal((4, 3, 2))
    for hx in (None, states(rng, cls, settings, 3)):
        packed = rnn.pack_padded_sequence(x, LENGTHS, enforce_sorted=False)
        out, state = layer(packed, None if hx is None else (hx if cls is nn.LSTM else hx[0]))
        assert isinstance(out, rnn.PackedSequence)
        assert out.batch_sizes.tolist() == packed.batch_sizes.tolist()
        padded, _ = rnn.pad_packed_sequence(out)
        state = state if cls is nn.LSTM else (state,)
        for b, length in enumerate(LENGTHS):
            alone_hx = None if hx is None else tuple(s[:, b] for s in hx)
            alone_out, alone_state = layer(x[:length, b], None if hx is None else (
                alone_hx if cls is nn.LSTM else alone_hx[0]))
            alone_state = alone_state if cls is nn.LSTM else (alone_state,)
            np.testing.assert_allclose(padded.data[:length, b], alone_out.data, rtol=1e-12,
                                       atol=1e-14)
            assert (padded.data[length:, b] == 0).all()
            for s, a in zip(state, alone_state, strict=True):
                np.testing.assert_allclose(s.data[:, b], a.data, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls, settings", LAYERS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_gradcheck_through_a_packed_layer(rng, cls, settings):
    """output, h_n (and c_n) at once, through gradcheck's random upstream gradient, against
    the padded input, the initial states and every parameter."""
    layer = cls(2, 3, **settings).double()
    names = [name for name, _ in layer.named_parameters()]
    hx = states(rng, cls, settings, 3)

    def run(x, *arrays):
        for name, param in zip(names, arrays[len(hx):], strict=True):
            setattr(layer, name, param)
        h = tuple(arrays[:len(hx)])
        packed = rnn.pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
        out, state = layer(packed, h if cls is nn.LSTM else h[0])
        state = state if cls is nn.LSTM else (state,)
        return ops.cat([out.data.flatten()] + [s.flatten() for s in state])

    assert tc.gradcheck(run, [rng.standard_normal((3, 4, 2)), *hx,
                              *(p.data for p in layer.parameters())])


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_second_derivatives_through_a_packed_layer(rng, cls):
    layer = cls(2, 2, bidirectional=True).double()

    def run(x):
        packed = rnn.pack_padded_sequence(x, [3, 1], enforce_sorted=False)
        return rnn.pad_packed_sequence(layer(packed)[0])[0]

    assert tc.gradgradcheck(run, [rng.standard_normal((3, 2, 2))])


def test_dropout_between_layers_acts_on_packed_data_in_training_only(rng):
    tc.manual_seed(0)
    layer = nn.GRU(2, 3, num_layers=2, dropout=0.5)
    packed = rnn.pack_padded_sequence(rng.standard_normal((4, 3, 2)).astype(np.float32),
                                      [4, 2, 1])
    layer.eval()
    first = layer(packed)[0].data.data
    np.testing.assert_array_equal(layer(packed)[0].data.data, first)
    layer.train()
    assert not np.allclose(layer(packed)[0].data.data, first)


@pytest.mark.parametrize("call, error, match", [
    (lambda: rnn.pack_padded_sequence(np.ones((4, 3, 1)), [2, 4, 1]), ValueError,
     r"^pack_padded_sequence: lengths \[2, 4, 1\] are not in decreasing order \(lengths\[0\] = "
     r"2 < lengths\[1\] = 4\), as enforce_sorted=True asks; expected the longest sequence "
     r"first; pass enforce_sorted=False"),
    (lambda: rnn.pack_padded_sequence(np.ones((4, 3, 1)), [4, 0, 0]), ValueError,
     r"^pack_padded_sequence: lengths\[1\] is 0; expected every length >= 1"),
    (lambda: rnn.pack_padded_sequence(np.ones((4, 3, 1)), [5, 2, 1]), ValueError,
     r"^pack_padded_sequence: lengths\[0\] is 5 but the padded axis L has only 4 steps "
     r"\(input of shape \(4, 3, 1\), \(L, N, \*\)\); expected lengths <= 4; check "
     r"batch_first=False"),
    (lambda: rnn.pack_padded_sequence(np.ones((4, 3, 1)), [4.0, 2.5, 1.0]), TypeError,
     r"^pack_padded_sequence: lengths \[4.0, 2.5, 1.0\] has dtype float64; expected integers"),
    (lambda: rnn.pack_padded_sequence(np.ones((4, 3, 1)), [4, 2]), ValueError,
     r"^pack_padded_sequence: lengths has shape \(2,\) but the batch has N = 3 sequences"),
    (lambda: rnn.pad_sequence([np.ones((2, 3)), np.ones((3, 4))]), ValueError,
     r"^pad_sequence: sequence 1 has shape \(3, 4\) but sequence 0 has \(2, 3\); expected the "
     r"same features after the first axis"),
    (lambda: rnn.pad_sequence([]), ValueError, r"^pad_sequence: sequences is empty"),
    (lambda: rnn.pad_sequence([np.ones(2)], padding_side="top"), ValueError,
     r"^pad_sequence: padding_side is 'top'; expected 'right' or 'left'"),
    (lambda: rnn.pack_sequence([np.ones((2, 3)), np.ones((0, 3))]), ValueError,
     r"^pack_sequence: sequence 1 has shape \(0, 3\), no steps"),
    (lambda: rnn.pad_packed_sequence(rnn.pack_sequence([np.ones((3, 1))]), total_length=2),
     ValueError, r"^pad_packed_sequence: total_length is 2 but the longest sequence has 3 "
                 r"steps; expected total_length >= 3"),
    (lambda: rnn.pad_packed_sequence(np.ones((3, 1))), TypeError,
     r"^pad_packed_sequence: sequence is a ndarray; expected a PackedSequence"),
    (lambda: rnn.invert_permutation([0, 0]), ValueError,
     r"^invert_permutation: permutation .* is not a permutation of 0..N-1"),
    (lambda: nn.GRU(3, 4)(rnn.pack_sequence([np.ones((2, 2), np.float32)])), ValueError,
     r"^GRU: a PackedSequence with data of shape \(2, 2\); expected \(sum of lengths, "
     r"input_size\) with input_size = 3"),
    (lambda: nn.GRU(1, 2)(rnn.PackedSequence(np.ones((3, 1), np.float32), [1, 2])), ValueError,
     r"^GRU: a PackedSequence with batch_sizes \[1, 2\] and data of shape \(3, 1\); expected "
     r"decreasing batch sizes"),
    (lambda: nn.RNN(1, 2)(rnn.pack_sequence([np.ones((2, 1), np.float32)]),
                          np.zeros((1, 2), np.float32)), ValueError,
     r"^RNN: hx has shape \(1, 2\); expected \(1, 1, 2\): \(num_layers \* directions, N, "
     r"hidden_size\)"),
])
def test_errors_say_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("call", [
    lambda p: ops.relu(p), lambda p: tc.Value(1.0) + p, lambda p: tc.Value(p),
    lambda p: nn.Linear(2, 3).double()(p), lambda p: ops.cat([p, p]), lambda p: np.asarray(p),
    lambda p: nn.GRUCell(2, 3).double()(p), lambda p: nn.LayerNorm(2)(p),
], ids=["relu", "add", "Value", "Linear", "cat", "asarray", "GRUCell", "LayerNorm"])
def test_other_ops_and_layers_refuse_a_packed_sequence(call):
    packed = rnn.pack_sequence([np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(TypeError, match=r"^PackedSequence: a batch of packed sequences is not an "
                                        r"array, and only nn.RNN, nn.LSTM and nn.GRU take one; "
                                        r".* pad it first: padded, lengths = "
                                        r"tc.nn.utils.rnn.pad_packed_sequence\(packed\)"):
        call(packed)


def test_onnx_export_refuses_packed_sequences(tmp_path):
    require("onnx", "onnx")
    lstm = nn.LSTM(2, 3, batch_first=True)
    x = np.ones((2, 3, 2), np.float32)
    with pytest.raises(TypeError, match=r"^onnx.export: example_input is a PackedSequence, "
                                        r"which cannot be exported"):
        tc.onnx.export(lstm, rnn.pack_padded_sequence(x, [3, 2], batch_first=True),
                       tmp_path / "m.onnx")

    class Packing(nn.Module):                   # packs inside forward: refused too
        def __init__(self):
            self.lstm = nn.LSTM(2, 3, batch_first=True)

        def forward(self, x):
            return self.lstm(rnn.pack_padded_sequence(x, [3, 2], batch_first=True))[0].data

    with pytest.raises(ValueError, match=r"packed sequences \(nn.utils.rnn\), whose data is 2-D "
                                         r"too, cannot be exported at all"):
        tc.onnx.export(Packing().eval(), x, tmp_path / "m.onnx")


def test_astype_double_and_float_convert_the_data_and_keep_the_rest(rng):
    x = tc.Value(rng.standard_normal((4, 3, 2)).astype(np.float32))   # (L, N, *)
    packed = rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
    double = packed.double()
    assert isinstance(double, rnn.PackedSequence) and double.data.dtype == np.float64
    np.testing.assert_array_equal(double.data.data, packed.data.data.astype(np.float64))
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        np.testing.assert_array_equal(getattr(double, field), getattr(packed, field))
    assert double.float().data.dtype == np.float32
    assert packed.astype(np.float16).data.dtype == np.float16
    out, _ = nn.GRU(2, 3).double()(double)                  # gradients reach the float32 x
    out.data.sum().backward()
    assert x.grad.dtype == np.float32 and np.abs(x.grad).sum() > 0
    np.testing.assert_array_equal(x.grad[2:, 0], 0)          # past sequence 0's 2 steps
    assert np.abs(x.grad[:2, 0]).sum() > 0
