"""nn.RNN, nn.LSTM and nn.GRU against PyTorch's, float64, with PyTorch's weights loaded into ours
through the state dict (the same names, shapes and order): outputs, final states, and the
gradients of the input, the initial states and every parameter, over layers, directions,
layouts, biases and nonlinearities, and for LSTMs with projections (proj_size); the reprs; LSTM
state dicts with proj_size loaded strictly both ways, and RNN and GRU refusing proj_size."""

import numpy as np
import pytest
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn

CASES = [  # (name, settings)
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bias": False}),
    ("RNN", {"bidirectional": True, "batch_first": True}),
    ("LSTM", {}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"bias": False, "batch_first": True}),
    ("GRU", {}),
    ("GRU", {"batch_first": True, "bidirectional": True}),
    ("GRU", {"num_layers": 3, "bias": False}),
    ("LSTM", {"proj_size": 2}),
    ("LSTM", {"proj_size": 3, "num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 1, "num_layers": 2, "bias": False, "batch_first": True}),
    ("LSTM", {"proj_size": 2, "bidirectional": True, "batch_first": True}),
]


def pair(torch, name, settings):
    """Our layer and PyTorch's, ours float64 with PyTorch's weights."""
    theirs = getattr(torch.nn, name)(3, 4, **settings)
    return with_their_weights(getattr(nn, name)(3, 4, **settings), theirs), theirs


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("name, settings", CASES, ids=[f"{n}-{s}" for n, s in CASES])
@pytest.mark.parametrize("layout", ["batch", "one-sequence", "initial-states"])
def test_outputs_states_and_every_gradient_equal_pytorch(torch, rng, name, settings, layout):
    ours, theirs = pair(torch, name, settings)
    k = settings.get("num_layers", 1) * (2 if settings.get("bidirectional") else 1)
    sizes = [settings.get("proj_size") or 4, 4][:2 if name == "LSTM" else 1]   # h's, c's
    if layout == "one-sequence":
        x, states = rng.standard_normal((5, 3)), []
    else:
        x = rng.standard_normal((2, 5, 3) if settings.get("batch_first") else (5, 2, 3))
        states = [] if layout == "batch" else [rng.standard_normal((k, 2, s)) for s in sizes]
    inputs = [tc.Value(a) for a in [x, *states]]
    tensors = [torch.tensor(a, requires_grad=True) for a in [x, *states]]

    def hx(values):
        if not states:
            return ()
        return (tuple(values[1:]),) if name == "LSTM" else (values[1],)

    out, state = ours(inputs[0], *hx(inputs))
    their_out, their_state = theirs(tensors[0], *hx(tensors))
    compare_results_and_gradients(torch, rng, ours, theirs, inputs, tensors,
                                  [out, *flat(state)], [their_out, *flat(their_state)])


@pytest.mark.parametrize("name, settings", CASES + [("LSTM", {"dropout": 0.25, "num_layers": 2})],
                         ids=[f"{n}-{s}" for n, s in CASES] + ["LSTM-dropout"])
def test_reprs_equal_pytorchs(torch, name, settings):
    assert repr(getattr(nn, name)(3, 4, **settings)) == \
        repr(getattr(torch.nn, name)(3, 4, **settings))


@pytest.mark.parametrize("settings", [{"proj_size": 2}, {"proj_size": 3, "num_layers": 2,
                                                          "bidirectional": True, "bias": False}],
                         ids=["one-layer", "two-layers-bidirectional-no-bias"])
def test_lstm_with_projections_state_dicts_move_both_ways_strictly(torch, rng, settings):
    """The same names in the same order and the same shapes (weight_hr (P, H), weight_hh (4H, P),
    the next layer's weight_ih (4H, directions * P)); PyTorch's weights loaded into ours, and
    ours (our own draws) into PyTorch's, with strict=True, give the same output, h_n and c_n."""
    x = rng.standard_normal((4, 2, 3))

    def same_results(ours, theirs):
        (out, (h, c)), (their_out, (their_h, their_c)) = ours(x), theirs(torch.tensor(x))
        for a, b in ((out, their_out), (h, their_h), (c, their_c)):
            np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)

    ours, theirs = nn.LSTM(3, 5, **settings).double(), torch.nn.LSTM(3, 5, **settings)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()}, strict=True)
    same_results(ours, theirs)
    ours, theirs = nn.LSTM(3, 5, **settings).double(), torch.nn.LSTM(3, 5, **settings)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()},
                           strict=True)
    same_results(ours, theirs)


def test_rnn_and_gru_refuse_proj_size_as_pytorch_does(torch):
    """PyTorch's RNN and GRU raise for proj_size (only LSTM has projections); ours do not take
    the argument at all, so it is an error too."""
    for name in ("RNN", "GRU"):
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
            getattr(torch.nn, name)(3, 4, proj_size=2)
        with pytest.raises(TypeError, match="unexpected keyword argument 'proj_size'"):
            getattr(nn, name)(3, 4, proj_size=2)
        assert getattr(nn, name)(3, 4).proj_size == getattr(torch.nn, name)(3, 4).proj_size == 0


CELL_CASES = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
              ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {}),
              ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("name, settings", CELL_CASES, ids=[f"{n}-{s}" for n, s in CELL_CASES])
@pytest.mark.parametrize("layout", ["batch", "one-input", "states"])
def test_cells_equal_pytorchs(torch, rng, name, settings, layout):
    """One step: the next states and the gradients of the input, the states and every
    parameter; the reprs and state dicts' names equal too."""
    theirs = getattr(torch.nn, name)(3, 4, **settings)
    ours = with_their_weights(getattr(nn, name)(3, 4, **settings), theirs)
    assert repr(ours) == repr(theirs)
    lead = () if layout == "one-input" else (2,)
    n_states = (2 if name == "LSTMCell" else 1) if layout != "batch" else 0
    arrays = [rng.standard_normal((*lead, 3))] + [rng.standard_normal((*lead, 4))
                                                   for _ in range(n_states)]
    values = [tc.Value(a) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]

    def call(module, inputs):
        if len(inputs) == 1:
            return module(inputs[0])
        return module(inputs[0], tuple(inputs[1:]) if name == "LSTMCell" else inputs[1])

    results, their_results = call(ours, values), call(theirs, tensors)
    compare_results_and_gradients(torch, rng, ours, theirs, values, tensors, flat(results),
                                  flat(their_results))


def test_a_cell_is_one_step_of_its_layer(torch, rng):
    """PyTorch's LSTM's weights, l0 suffix dropped, make PyTorch's LSTMCell; the same weights
    give our cell the layer's first step."""
    layer = nn.LSTM(3, 4).double()
    cell = nn.LSTMCell(3, 4).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = rng.standard_normal((1, 2, 3))
    out, (h, c) = layer(tc.Value(x))
    h1, c1 = cell(tc.Value(x[0]))
    np.testing.assert_allclose(h1.data, h.data[0], rtol=1e-13)
    np.testing.assert_allclose(c1.data, c.data[0], rtol=1e-13)
    theirs = torch.nn.LSTMCell(3, 4).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in cell.state_dict().items()})
    np.testing.assert_allclose(theirs(torch.tensor(x[0]))[0].detach().numpy(), h1.data,
                               rtol=1e-12)
