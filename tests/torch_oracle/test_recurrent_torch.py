"""nn.RNN, nn.LSTM and nn.GRU against PyTorch's, float64, with PyTorch's weights loaded into ours
through the state dict (the same names, shapes and order): outputs, final states, and the
gradients of the input, the initial states and every parameter, over layers, directions,
layouts, biases and nonlinearities; the reprs."""

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
    if layout == "one-sequence":
        x, states = rng.standard_normal((5, 3)), []
    else:
        x = rng.standard_normal((2, 5, 3) if settings.get("batch_first") else (5, 2, 3))
        states = ([] if layout == "batch" else
                  [rng.standard_normal((k, 2, 4)) for _ in range(2 if name == "LSTM" else 1)])
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
