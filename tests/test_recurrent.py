"""nn.RNN, nn.LSTM and nn.GRU: a step by hand, output and state shapes in every layout,
gradcheck and second derivatives through time, dropout between layers, the parameters' names
and range, errors; LSTM with projections (proj_size) against a numpy loop, its shapes,
gradcheck of every input and parameter, and its errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def test_an_rnn_step_by_hand():
    rnn = nn.RNN(1, 1)
    rnn.weight_ih_l0.data[...] = 2.0
    rnn.weight_hh_l0.data[...] = 0.5
    rnn.bias_ih_l0.data[...] = 0.25
    rnn.bias_hh_l0.data[...] = -0.25
    x = np.array([[1.0], [-1.0], [0.5]], dtype=np.float32)              # one sequence, L = 3
    out, h_n = rnn(x)
    h1 = np.tanh(2.0)                                   # h_t = tanh(2 x_t + 0.5 h_(t-1))
    h2 = np.tanh(-2.0 + 0.5 * h1)
    h3 = np.tanh(1.0 + 0.5 * h2)
    np.testing.assert_allclose(out.data[:, 0], [h1, h2, h3], rtol=1e-6)
    assert out.shape == (3, 1) and h_n.shape == (1, 1) and h_n.data[0, 0] == out.data[-1, 0]


def test_an_lstm_with_open_gates_adds_up_its_inputs():
    # gates: i = f = o = sigmoid(+inf) = 1 (large biases), g = tanh(x); then c_t = c_(t-1) + g_t
    lstm = nn.LSTM(1, 1, bias=True)
    lstm.weight_ih_l0.data[...] = np.array([[0.0], [0.0], [1.0], [0.0]])
    lstm.weight_hh_l0.data[...] = 0.0
    lstm.bias_ih_l0.data[...] = np.array([50.0, 50.0, 0.0, 50.0])
    lstm.bias_hh_l0.data[...] = 0.0
    x = np.array([[0.5], [0.25], [-1.0]], dtype=np.float32)
    out, (h_n, c_n) = lstm(x)
    c = np.cumsum(np.tanh(x[:, 0]))
    np.testing.assert_allclose(c_n.data[0, 0], c[-1], rtol=1e-6)
    np.testing.assert_allclose(out.data[:, 0], np.tanh(c), rtol=1e-6)


LAYOUTS = [  # (class, settings, input shape, output shape, state shape)
    (nn.RNN, {}, (5, 2, 3), (5, 2, 4), (1, 2, 4)),
    (nn.RNN, {"num_layers": 2, "nonlinearity": "relu"}, (5, 3), (5, 4), (2, 4)),
    (nn.LSTM, {"batch_first": True}, (2, 5, 3), (2, 5, 4), (1, 2, 4)),
    (nn.LSTM, {"bidirectional": True, "num_layers": 2}, (5, 2, 3), (5, 2, 8), (4, 2, 4)),
    (nn.GRU, {"bidirectional": True}, (5, 3), (5, 8), (2, 4)),
    (nn.GRU, {"batch_first": True, "bias": False}, (2, 5, 3), (2, 5, 4), (1, 2, 4)),
]


@pytest.mark.parametrize("cls, settings, x_shape, out_shape, state_shape", LAYOUTS)
def test_output_and_state_shapes(rng, cls, settings, x_shape, out_shape, state_shape):
    out, state = cls(3, 4, **settings)(rng.standard_normal(x_shape).astype(np.float32))
    states = state if cls is nn.LSTM else (state,)
    assert out.shape == out_shape and out.dtype == np.float32
    assert all(s.shape == state_shape for s in states)


@pytest.mark.parametrize("cls, settings, x_shape, out_shape, state_shape", LAYOUTS)
def test_gradcheck_through_time_with_initial_states(rng, cls, settings, x_shape, out_shape,
                                                   state_shape):
    layer = cls(3, 4, **settings).double()
    x, h0 = rng.standard_normal(x_shape), 0.5 * rng.standard_normal(state_shape)
    if cls is nn.LSTM:
        c0 = 0.5 * rng.standard_normal(state_shape)
        assert tc.gradcheck(lambda x, h, c: layer(x, (h, c))[0], [x, h0, c0])
        assert tc.gradcheck(lambda x: layer(x)[1][1], [x])                  # c_n
    else:
        assert tc.gradcheck(lambda x, h: layer(x, h)[0], [x, h0])
        assert tc.gradcheck(lambda x: layer(x)[1], [x])                     # h_n


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_second_derivatives_through_time(rng, cls):
    layer = cls(2, 3).double()
    assert tc.gradgradcheck(lambda x: layer(x)[0], [rng.standard_normal((3, 2))])


def test_dropout_acts_between_layers_in_training_only(rng):
    tc.manual_seed(0)
    layer = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    layer.eval()
    first, second = layer(x)[0].data, layer(x)[0].data
    np.testing.assert_array_equal(first, second)                       # eval: deterministic
    layer.train()
    assert not np.allclose(layer(x)[0].data, first)
    with pytest.warns(UserWarning, match=r"LSTM: dropout=0.5 with num_layers=1 does nothing: "
                                         r"dropout acts between stacked layers"):
        nn.LSTM(3, 4, dropout=0.5)


def test_parameters_names_shapes_and_range():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    shapes = {name: p.shape for name, p in lstm.named_parameters()}
    assert list(shapes)[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert shapes["weight_ih_l0_reverse"] == (16, 3) and shapes["weight_ih_l1"] == (16, 8)
    assert shapes["weight_hh_l1_reverse"] == (16, 4) and len(shapes) == 16
    bound = 1 / np.sqrt(4)
    assert all(np.abs(p.data).max() <= bound for p in lstm.parameters())
    assert {p.dtype for p in lstm.parameters()} == {np.dtype(np.float32)}
    assert [name for name, _ in nn.GRU(3, 4, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]


def test_errors_say_what_was_expected(rng):
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"^LSTM: input of shape \(5, 2, 7\); expected "
                                         r"\(L, N, input_size\) or one sequence "
                                         r"\(L, input_size\), with input_size = 3 and L >= 1"):
        lstm(np.ones((5, 2, 7)))
    for shape in [(), (4,), (0, 2, 3)]:
        with pytest.raises(ValueError, match=r"^LSTM: input of shape .* and L >= 1"):
            lstm(np.ones(shape))
    with pytest.raises(TypeError, match=r"^LSTM: hx is a ndarray; expected a pair \(h_0, c_0\)"):
        lstm(np.ones((5, 2, 3)), np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match=r"^LSTM: c_0 has shape \(1, 2, 4\); expected "
                                         r"\(2, 2, 4\): \(num_layers \* directions, N, "
                                         r"hidden_size\)"):
        lstm(np.ones((5, 2, 3)), (np.zeros((2, 2, 4), np.float32), np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match=r"^GRU: hx has shape \(1, 2, 4\); expected \(1, 4\): "
                                         r"\(num_layers \* directions, hidden_size\)"):
        nn.GRU(3, 4)(np.ones((5, 3)), np.zeros((1, 2, 4)))                 # one sequence
    h0 = np.zeros((1, 4))
    with pytest.raises(TypeError, match=r"^GRU: hx has dtype float64 but the parameters have "
                                        r"float32; expected the same dtype; pass "
                                        r"hx.astype\(np.float32\)"):
        nn.GRU(3, 4)(np.ones((5, 3)), h0)
    assert nn.GRU(3, 4)(np.ones((5, 3)), h0.astype(np.float32))[0].shape == (5, 4)   # the fix
    with pytest.raises(ValueError, match=r"^RNN: nonlinearity is 'sigmoid'; expected 'tanh' "
                                         r"or 'relu'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"^GRU: hidden_size is 0; expected an integer >= 1"):
        nn.GRU(3, 0)
    with pytest.raises(TypeError, match=r"^RNN: batch_first is str 'yes'; expected True or "
                                        r"False"):
        nn.RNN(3, 4, batch_first="yes")
    with pytest.raises(ValueError, match=r"^LSTM: dropout is 1.5; expected a probability in "
                                         r"\[0, 1\]"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)


def numpy_projected_lstm(x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr):
    """One layer and direction of an LSTM with projections, written from the equations: x (L, N,
    I), h (N, P), c (N, H) -> the h_t (L, N, P) and the last c."""
    sigmoid = lambda z: 1 / (1 + np.exp(-z))                              # noqa: E731
    hs = []
    for x_t in x:
        i, f, g, o = np.split(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = (sigmoid(o) * np.tanh(c)) @ w_hr.T                            # h_t = W_hr (o * tanh c)
        hs.append(h)
    return np.stack(hs), c


def test_an_lstm_with_projections_equals_a_numpy_loop(rng):
    lstm = nn.LSTM(3, 5, proj_size=2, bidirectional=True).double()
    x = rng.standard_normal((4, 2, 3))
    h0, c0 = rng.standard_normal((2, 2, 2)), rng.standard_normal((2, 2, 5))
    out, (h_n, c_n) = lstm(x, (h0, c0))
    for d, suffix in enumerate(["", "_reverse"]):
        weights = [getattr(lstm, f"{kind}_l0{suffix}").data for kind in
                   ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
        steps = x if d == 0 else x[::-1]
        hs, c = numpy_projected_lstm(steps, h0[d], c0[d], *weights)
        hs = hs if d == 0 else hs[::-1]
        np.testing.assert_allclose(out.data[..., 2 * d:2 * d + 2], hs, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(h_n.data[d], hs[-1 if d == 0 else 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c_n.data[d], c, rtol=1e-12, atol=1e-12)


PROJECTED = [  # (settings, input shape, output shape, h shape, c shape); input_size 3, H = 4
    ({"proj_size": 2}, (5, 2, 3), (5, 2, 2), (1, 2, 2), (1, 2, 4)),
    ({"proj_size": 3, "num_layers": 2, "bidirectional": True}, (5, 2, 3), (5, 2, 6), (4, 2, 3),
     (4, 2, 4)),
    ({"proj_size": 1, "num_layers": 2, "batch_first": True, "bias": False}, (2, 5, 3),
     (2, 5, 1), (2, 2, 1), (2, 2, 4)),
    ({"proj_size": 2, "bidirectional": True, "batch_first": True}, (5, 3), (5, 4), (2, 2),
     (2, 4)),                                                             # one sequence
]
PROJECTED_IDS = ["P2", "P3-two-layers-bidirectional", "P1-batch-first-no-bias",
                 "P2-bidirectional-one-sequence"]


@pytest.mark.parametrize("settings, x_shape, out_shape, h_shape, c_shape", PROJECTED,
                         ids=PROJECTED_IDS)
def test_lstm_with_projections_shapes(rng, settings, x_shape, out_shape, h_shape, c_shape):
    lstm = nn.LSTM(3, 4, **settings)
    p, directions = settings["proj_size"], 2 if settings.get("bidirectional") else 1
    shapes = dict((name, v.shape) for name, v in lstm.named_parameters())
    assert shapes["weight_hr_l0"] == (p, 4) and shapes["weight_hh_l0"] == (16, p)
    if settings.get("num_layers") == 2:
        assert shapes["weight_ih_l1"] == (16, directions * p)
    out, (h_n, c_n) = lstm(rng.standard_normal(x_shape).astype(np.float32))
    assert (out.shape, h_n.shape, c_n.shape) == (out_shape, h_shape, c_shape)
    assert out.dtype == h_n.dtype == c_n.dtype == np.float32


@pytest.mark.parametrize("initial_states", [False, True], ids=["zero-states", "initial-states"])
@pytest.mark.parametrize("settings, x_shape, out_shape, h_shape, c_shape", PROJECTED,
                         ids=PROJECTED_IDS)
def test_lstm_with_projections_gradcheck_of_every_input_and_parameter(
        rng, settings, x_shape, out_shape, h_shape, c_shape, initial_states):
    """output, h_n and c_n at once (flattened and joined), through gradcheck's random upstream
    gradient, against x, h_0, c_0 and every parameter, along 8 random directions each (the
    PyTorch-oracle tests compare every element)."""
    lstm = nn.LSTM(3, 4, **settings).double()
    names = [name for name, _ in lstm.named_parameters()]
    states = [0.5 * rng.standard_normal(h_shape), 0.5 * rng.standard_normal(c_shape)]

    def run(x, *arrays):
        hx = tuple(arrays[:2]) if initial_states else None
        for name, param in zip(names, arrays[2 if initial_states else 0:], strict=True):
            setattr(lstm, name, param)                 # gradcheck's float64 copy of the parameter
        out, (h_n, c_n) = lstm(x, hx)
        return ops.cat([out.flatten(), h_n.flatten(), c_n.flatten()])

    inputs = [rng.standard_normal(x_shape), *(states if initial_states else []),
              *(p.data for p in lstm.parameters())]
    assert tc.gradcheck(run, inputs, fast=True)


def test_lstm_with_projections_second_derivatives(rng):
    lstm = nn.LSTM(2, 3, proj_size=2).double()
    assert tc.gradgradcheck(lambda x: lstm(x)[0], [rng.standard_normal((3, 2))])


def test_lstm_with_projections_parameters_order_and_range():
    lstm = nn.LSTM(3, 100, proj_size=7, bidirectional=True)
    assert [name for name, _ in lstm.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse", "weight_hr_l0_reverse"]
    assert [name for name, _ in nn.LSTM(3, 4, bias=False, proj_size=2).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0", "weight_hr_l0"]
    bound = 1 / np.sqrt(100)                   # U(-1/sqrt(H), 1/sqrt(H)) for weight_hr too
    for p in lstm.parameters():
        assert p.dtype == np.float32 and np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.95 * bound                 # hundreds of draws each
    assert lstm.state_size == 7 and nn.LSTM(3, 4).state_size == 4 and lstm.proj_size == 7
    assert repr(lstm) == "LSTM(3, 100, proj_size=7, bidirectional=True)"


def test_lstm_with_projections_errors_say_what_was_expected():
    for proj_size in (4, 5):
        with pytest.raises(ValueError, match=rf"^LSTM: proj_size is {proj_size} but hidden_size "
                                             r"is 4; expected 0 <= proj_size < hidden_size "
                                             r"\(the projected h is smaller than the cell "
                                             r"state\); pass a smaller proj_size, or 0 for no "
                                             r"projection"):
            nn.LSTM(3, 4, proj_size=proj_size)
    with pytest.raises(ValueError, match=r"^LSTM: proj_size is -1; expected an integer >= 0"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(TypeError, match=r"^LSTM: proj_size is float 2.0; expected an integer "
                                        r">= 0"):
        nn.LSTM(3, 4, proj_size=2.0)
    assert nn.LSTM(3, 4, proj_size=0).state_size == 4                   # 0: no projection
    lstm = nn.LSTM(3, 4, num_layers=2, proj_size=2)
    x, h0, c0 = (np.zeros(shape, np.float32) for shape in [(5, 2, 3), (2, 2, 2), (2, 2, 4)])
    with pytest.raises(ValueError, match=r"^LSTM: h_0 has shape \(2, 2, 4\); expected "
                                         r"\(2, 2, 2\): \(num_layers \* directions, N, "
                                         r"proj_size\)"):
        lstm(x, (c0, c0))                                   # h_0 of the cell state's size
    with pytest.raises(ValueError, match=r"^LSTM: c_0 has shape \(2, 2, 2\); expected "
                                         r"\(2, 2, 4\): \(num_layers \* directions, N, "
                                         r"hidden_size\)"):
        lstm(x, (h0, h0))                                   # c_0 of the projected size
    with pytest.raises(ValueError, match=r"^LSTM: h_0 has shape \(2, 2, 2\); expected "
                                         r"\(2, 2\): \(num_layers \* directions, "
                                         r"proj_size\)"):
        lstm(x[:, 0], (h0, c0[:, 0]))                       # one sequence takes (layers, P)
    out, (h_n, c_n) = lstm(x, (h0, c0))                     # the fix
    assert (out.shape, h_n.shape, c_n.shape) == ((5, 2, 2), (2, 2, 2), (2, 2, 4))


@pytest.mark.parametrize("name, settings", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}),
                                            ("LSTMCell", {}), ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("with_states", [False, True])
def test_cells_gradcheck_to_second_order(rng, name, settings, with_states):
    """One step, float64, through a random upstream gradient: the input, the states and every
    parameter."""
    cell = getattr(nn, name)(3, 4, **settings).double()
    names = [n for n, _ in cell.named_parameters()]
    lstm = name == "LSTMCell"
    arrays = [rng.standard_normal((2, 3))] + ([rng.standard_normal((2, 4))
                                               for _ in range(2 if lstm else 1)]
                                              if with_states else [])
    upstream = [rng.standard_normal((2, 4)) for _ in range(2 if lstm else 1)]

    def step(*inputs):
        params = dict(zip(names, inputs[len(arrays):], strict=True))
        for key, value in params.items():
            setattr(cell, key, value)
        x, states = inputs[0], inputs[1:len(arrays)]
        hx = None if not states else (tuple(states) if lstm else states[0])
        out = cell(x, hx)
        outs = out if lstm else (out,)
        return sum((o * u).sum() for o, u in zip(outs, upstream, strict=True))

    params = [p.data.copy() for _, p in cell.named_parameters()]
    assert tc.gradcheck(step, arrays + params)
    assert tc.gradgradcheck(step, arrays + params)


def test_cells_take_one_input_and_default_to_zero_states(rng):
    cell = nn.GRUCell(3, 4)
    x = rng.standard_normal(3).astype(np.float32)
    h = cell(x)
    assert h.shape == (4,) and h.dtype == np.float32
    np.testing.assert_allclose(h.data, cell(x[None], np.zeros((1, 4), np.float32)).data[0],
                               rtol=1e-6)
    h, c = nn.LSTMCell(3, 4)(x)
    assert h.shape == c.shape == (4,)
    # zero states are one row of zeros that W_hh projects, so W_hh gets a zero gradient, as
    # PyTorch's, and the step's other weights and biases get theirs
    cell(x).sum().backward()
    np.testing.assert_array_equal(cell.weight_hh.grad, np.zeros((12, 4), np.float32))
    assert cell.weight_ih.grad.any() and cell.bias_hh.grad.any()


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.RNNCell(3, 4)(np.zeros((2, 5), np.float32)), ValueError,
     r"RNNCell: input of shape \(2, 5\); expected \(N, input_size\) or one input "
     r"\(input_size,\), with input_size = 3$"),
    (lambda: nn.GRUCell(3, 4)(np.zeros((2, 3), np.float32), np.zeros((3, 4), np.float32)),
     ValueError, r"GRUCell: hx has shape \(3, 4\); expected \(2, 4\): \(N, hidden_size\) for "
                 r"an input of N = 2 samples$"),
    (lambda: nn.LSTMCell(3, 4)(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)),
     TypeError, r"LSTMCell: hx is a ndarray; expected a pair \(h, c\)"),
    (lambda: nn.RNNCell(3, 4)(np.zeros((2, 3), np.float32), np.zeros((2, 4))), TypeError,
     r"RNNCell: hx has dtype float64 but the parameters have float32; .* "
     r"hx\.astype\(np\.float32\)$"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid"), ValueError,
     r"RNNCell: nonlinearity is 'sigmoid'; expected 'tanh' or 'relu'"),
    (lambda: nn.LSTMCell(0, 4), ValueError, r"LSTMCell: input_size"),
])
def test_cell_errors_say_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()
