"""nn.utils.rnn's packed sequences and the recurrent layers run on them, against PyTorch's
torch.nn.utils.rnn, float64: batch_sizes, sorted and unsorted indices, data and padded results
of every helper; and RNN (tanh, relu), LSTM (with and without proj_size) and GRU on a packed
batch, with PyTorch's weights loaded through the state dict, over layers, directions, layouts,
sorted or unsorted batches and initial states: the packed output, h_n (and c_n) and the
gradients of the padded input, the initial states and every parameter."""

import itertools

import numpy as np
import pytest
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn
from tinygrad_cnn.nn.utils import rnn

KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}),
         ("LSTM", {"proj_size": 2}), ("GRU", {})]
CASES = [(name, {**kind, "num_layers": layers, "bidirectional": bidirectional,
                 "batch_first": batch_first})
         for (name, kind), layers, bidirectional, batch_first in itertools.product(
             KINDS, [1, 2], [False, True], [False, True])]
CASES += [("LSTM", {"bias": False, "num_layers": 2, "dropout": 0.25}),   # dropout: eval mode
          ("GRU", {"bias": False, "bidirectional": True})]


def case_id(case):
    name, settings = case
    return name + "".join(f"-{k}={v}" for k, v in settings.items())


@pytest.mark.parametrize("hx_given", [False, True], ids=["zero-states", "initial-states"])
@pytest.mark.parametrize("enforce_sorted", [True, False], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("name, settings", CASES, ids=[case_id(c) for c in CASES])
def test_packed_layers_equal_pytorchs(torch, rng, name, settings, enforce_sorted, hx_given):
    theirs = getattr(torch.nn, name)(3, 4, **settings).eval()
    ours = with_their_weights(getattr(nn, name)(3, 4, **settings), theirs).eval()
    batch_first = settings.get("batch_first", False)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    x = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    k = settings.get("num_layers", 1) * (2 if settings.get("bidirectional") else 1)
    sizes = [settings.get("proj_size") or 4, 4][:2 if name == "LSTM" else 1]   # h's, c's
    states = [rng.standard_normal((k, 4, s)) for s in sizes] if hx_given else []
    values = [tc.Value(a) for a in [x, *states]]
    tensors = [torch.tensor(a, requires_grad=True) for a in [x, *states]]

    def hx(inputs):
        if not states:
            return ()
        return (tuple(inputs[1:]),) if name == "LSTM" else (inputs[1],)

    packed = rnn.pack_padded_sequence(values[0], lengths, batch_first, enforce_sorted)
    their_packed = torch.nn.utils.rnn.pack_padded_sequence(tensors[0], torch.tensor(lengths),
                                                           batch_first, enforce_sorted)
    out, state = ours(packed, *hx(values))
    their_out, their_state = theirs(their_packed, *hx(tensors))
    assert isinstance(out, rnn.PackedSequence)
    for ours_field, their_field in zip(out[1:], their_out[1:], strict=True):
        if their_field is None:
            assert ours_field is None
        else:
            np.testing.assert_array_equal(ours_field, their_field.numpy())
    flat = (lambda s: list(s)) if name == "LSTM" else (lambda s: [s])
    compare_results_and_gradients(torch, rng, ours, theirs, values, tensors,
                                  [out.data, *flat(state)], [their_out.data, *flat(their_state)])


LENGTHS = [[4, 4, 2, 1], [2, 4, 1, 4], [1, 1, 1, 1], [3, 1, 3, 2]]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", LENGTHS, ids=["sorted", "ties", "all-one", "unsorted"])
def test_packing_and_padding_equal_pytorchs(torch, rng, lengths, batch_first):
    """batch_sizes, the indices, the packed data and the padded results, with padding_value and
    total_length; and the gradient that reaches the padded input through a round trip."""
    utils = torch.nn.utils.rnn
    x = rng.standard_normal((4, 5, 2) if batch_first else (5, 4, 2))   # L = 5
    enforce_sorted = lengths == sorted(lengths, reverse=True)
    for sort in {False, enforce_sorted}:
        value, tensor = tc.Value(x), torch.tensor(x, requires_grad=True)
        ours = rnn.pack_padded_sequence(value, lengths, batch_first, sort)
        theirs = utils.pack_padded_sequence(tensor, torch.tensor(lengths), batch_first, sort)
        np.testing.assert_array_equal(ours.data.data, theirs.data.detach().numpy())
        for field, their_field in zip(ours[1:], theirs[1:], strict=True):
            assert (field is None and their_field is None) or (
                field.dtype == np.int64 and field.tolist() == their_field.tolist())
        for total_length in (None, 6):
            padded, got = rnn.pad_packed_sequence(ours, batch_first, -2.5, total_length)
            their_padded, their_lengths = utils.pad_packed_sequence(theirs, batch_first, -2.5,
                                                                    total_length)
            np.testing.assert_array_equal(padded.data, their_padded.detach().numpy())
            assert got.tolist() == their_lengths.tolist()
        upstream = rng.standard_normal(padded.shape)
        (padded * upstream).sum().backward()
        (their_padded * torch.tensor(upstream)).sum().backward()
        np.testing.assert_array_equal(value.grad, tensor.grad.numpy())


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pad_sequence_unpad_and_unpack_equal_pytorchs(torch, rng, batch_first, padding_side):
    utils = torch.nn.utils.rnn
    arrays = [rng.standard_normal((n, 2, 3)) for n in (2, 5, 1, 5)]
    padded = rnn.pad_sequence(arrays, batch_first, 7.0, padding_side)
    their_padded = utils.pad_sequence([torch.tensor(a) for a in arrays], batch_first, 7.0,
                                      padding_side)
    np.testing.assert_array_equal(padded.data, their_padded.numpy())
    if padding_side == "right":
        lengths = [len(a) for a in arrays]
        for ours, theirs in zip(rnn.unpad_sequence(padded, lengths, batch_first),
                                utils.unpad_sequence(their_padded, torch.tensor(lengths),
                                                     batch_first), strict=True):
            np.testing.assert_array_equal(ours.data, theirs.numpy())
    packed = rnn.pack_sequence(arrays, enforce_sorted=False)
    their_packed = utils.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.data, their_packed.data.numpy())
    assert packed.sorted_indices.tolist() == their_packed.sorted_indices.tolist()
    for ours, theirs in zip(rnn.unpack_sequence(packed), utils.unpack_sequence(their_packed),
                            strict=True):
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    permutation = rng.permutation(6)
    assert rnn.invert_permutation(permutation).tolist() == \
        utils.invert_permutation(torch.tensor(permutation)).tolist()


def test_packed_double_and_float_equal_pytorchs(torch, rng):
    """packed.double() and packed.float(): the same data, dtypes and indices as PyTorch's, and a
    float64 GRU on the converted sequences gives PyTorch's results and gradients, down to the
    float32 inputs packed."""
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    ours = rnn.pack_padded_sequence(xv, [2, 4, 1], enforce_sorted=False).double()
    theirs = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor([2, 4, 1]),
                                                     enforce_sorted=False).double()
    np.testing.assert_array_equal(ours.data.data, theirs.data.detach().numpy())
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        np.testing.assert_array_equal(getattr(ours, field), getattr(theirs, field).numpy())
    assert ours.float().data.dtype == np.float32 and theirs.float().data.dtype == torch.float32
    their_gru = torch.nn.GRU(2, 3)
    our_gru = with_their_weights(nn.GRU(2, 3), their_gru.double())
    compare_results_and_gradients(torch, rng, our_gru, their_gru, [xv], [xt],
                                  [our_gru(ours)[0].data], [their_gru(theirs)[0].data])
    assert xv.grad.dtype == np.float32
