"""erf, gelu (both forms), silu, elu and softplus with beta and threshold against PyTorch beyond
the shared tables (test_tensor_ops.py and the edge sweeps hold their float64 rows): float32
forward and gradient against PyTorch's float32, the tails at |x| up to 1000 in float32 and
float64 (finite, first and second derivatives too); elu, hardtanh, relu6, softplus and prelu at
their kinks, to second order, where finite differences cannot check them; and nn.GELU / nn.SiLU
against torch.nn, alone and inside a small model whose state dict they leave unchanged."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# (id, ours, theirs(torch, x))
OPS = [
    ("erf", ops.erf, lambda th, x: th.erf(x)),
    ("gelu", ops.gelu, lambda th, x: th.nn.functional.gelu(x)),
    ("gelu-tanh", lambda x: ops.gelu(x, approximate="tanh"),
     lambda th, x: th.nn.functional.gelu(x, approximate="tanh")),
    ("silu", ops.silu, lambda th, x: th.nn.functional.silu(x)),
    ("elu", ops.elu, lambda th, x: th.nn.functional.elu(x)),
    ("softplus-beta-threshold", lambda x: ops.softplus(x, beta=0.5, threshold=5.0),
     lambda th, x: th.nn.functional.softplus(x, beta=0.5, threshold=5.0)),
]
IDS = [case[0] for case in OPS]
TAILS = [-1000.0, -100.0, -30.0, -10.0, 10.0, 30.0, 100.0, 1000.0]


@pytest.mark.parametrize("ours, theirs", [case[1:] for case in OPS], ids=IDS)
def test_float32_forward_and_gradient_equal_pytorch_float32(torch, rng, ours, theirs):
    x = np.concatenate([rng.standard_normal(200) * 3, TAILS]).astype(np.float32)
    value = tc.Value(x)
    out = ours(value)
    out.backward(np.ones_like(x))
    tensor = torch.tensor(x, requires_grad=True)
    expected = theirs(torch, tensor)
    expected.backward(torch.ones_like(tensor))
    assert out.dtype == np.float32 and value.grad.dtype == np.float32
    # PyTorch computes 1 + erf and 1 + tanh in float32, which cancel in the negative tail
    # (its gelu(-5.5) is 0): a few 1e-7 absolute there, a few ulps elsewhere
    tight = {"rtol": 1e-6, "atol": 2e-6}
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **tight)
    np.testing.assert_allclose(value.grad, tensor.grad.numpy(), **tight)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ours, theirs", [case[1:] for case in OPS], ids=IDS)
def test_tails_are_finite_and_equal_pytorch_to_second_order(torch, ours, theirs, dtype):
    x = np.array(TAILS + [-6.0, 0.0, 6.0], dtype=dtype)
    value = tc.Value(x)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow to 0 is fine
        out = ours(value)
        (first,) = tc.grad(out.sum(), [value], create_graph=True)
        (second,) = tc.grad(first.sum(), [value])
    tensor = torch.tensor(x, requires_grad=True)
    expected = theirs(torch, tensor)
    (their_first,) = torch.autograd.grad(expected.sum(), [tensor], create_graph=True)
    (their_second,) = torch.autograd.grad(their_first.sum(), [tensor])
    # atol: PyTorch's 1 - s(x) cancels in the positive tail (its silu''(30) is 1e-3 off, ours
    # equals silu''(-30), as it must: silu'' is even)
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-14}
    for what, ours_, theirs_ in [("forward", out, expected), ("first", first, their_first),
                                 ("second", second, their_second)]:
        assert ours_.dtype == dtype and np.isfinite(ours_.data).all(), what
        np.testing.assert_allclose(ours_.data, theirs_.detach().numpy(), err_msg=what, **tol)


# (id, ours, theirs(torch, *tensors), inputs): x exactly at each kink, and beside it
KINKS = [
    ("elu", lambda x: ops.elu(x, 0.5), lambda th, x: th.nn.functional.elu(x, 0.5),
     [[-1.0, 0.0, 1.0]]),
    ("elu-negative-alpha", lambda x: ops.elu(x, -1.5), lambda th, x: th.nn.functional.elu(x, -1.5),
     [[-1.0, 0.0, 1.0]]),
    ("hardtanh", ops.hardtanh, lambda th, x: th.nn.functional.hardtanh(x),
     [[-1.5, -1.0, 0.0, 1.0, 1.5]]),
    ("relu6", lambda x: ops.hardtanh(x, 0.0, 6.0), lambda th, x: th.nn.functional.relu6(x),
     [[-1.0, 0.0, 3.0, 6.0, 7.0]]),
    ("softplus-threshold", lambda x: ops.softplus(x, 2.0, 1.0),
     lambda th, x: th.nn.functional.softplus(x, 2.0, 1.0), [[0.25, 0.5, 0.75]]),
    ("softplus-default-threshold", lambda x: ops.softplus(x, threshold=20.0),
     lambda th, x: th.nn.functional.softplus(x), [[19.0, 20.0, 21.0]]),
    ("softplus-negative-beta", lambda x: ops.softplus(x, -2.0, 1.0),
     lambda th, x: th.nn.functional.softplus(x, -2.0, 1.0), [[-0.75, -0.5, -0.25]]),
]
# (x, weight): x exactly 0 beside negative and positive values, one slope and one per channel
PRELU_KINKS = [([[-1.0, 0.0, 2.0]], [0.3]),
               ([[-1.0, 0.0, 2.0], [0.0, -2.0, 0.0]], [0.3, 0.2, -0.5])]


def derivatives_at_kinks(torch, rng, ours, theirs, inputs):
    """Check the forward and the first derivatives (through a random upstream gradient u)
    against PyTorch's; return the derivatives of <first derivatives, w> for random w w.r.t.
    every input and then u: ours and PyTorch's, as numpy arrays."""
    values = [tc.Value(np.array(a)) for a in inputs]
    tensors = [torch.tensor(a, requires_grad=True) for a in inputs]
    out, expected = ours(*values), theirs(torch, *tensors)
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    u = tc.Value(rng.standard_normal(out.shape))
    their_u = torch.tensor(u.data, requires_grad=True)
    firsts = tc.grad(out, values, grad_output=u, create_graph=True)
    their_firsts = torch.autograd.grad(expected, tensors, their_u, create_graph=True)
    for i, (g, tg) in enumerate(zip(firsts, their_firsts, strict=True)):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-15, atol=1e-15,
                                   err_msg=f"first derivative, input {i}")
    ws = [rng.standard_normal(v.shape) for v in values]
    s = sum((g * w).sum() for g, w in zip(firsts, ws, strict=True))
    their_s = sum((tg * torch.from_numpy(w)).sum() for tg, w in zip(their_firsts, ws, strict=True))
    seconds = tc.grad(s, [*values, u])
    their_seconds = torch.autograd.grad(their_s, [*tensors, their_u], allow_unused=True)
    return ([h.data for h in seconds],
            [np.zeros(h.shape) if th is None else th.numpy()
             for h, th in zip(seconds, their_seconds, strict=True)], ws)


@pytest.mark.parametrize("ours, theirs, inputs", [case[1:] for case in KINKS],
                         ids=[case[0] for case in KINKS])
def test_kinks_equal_pytorch_to_second_order(torch, rng, ours, theirs, inputs):
    """At x exactly on a kink PyTorch takes each first derivative from one side, and its second
    derivative there is 0: so do ours."""
    seconds, their_seconds, _ = derivatives_at_kinks(torch, rng, ours, theirs, inputs)
    for i, (h, th) in enumerate(zip(seconds, their_seconds, strict=True)):
        np.testing.assert_allclose(h, th, rtol=1e-15, atol=1e-15,
                                   err_msg=f"second derivative, input {i} (the last: u)")


@pytest.mark.parametrize("x, weight", PRELU_KINKS, ids=["one-slope", "channels"])
def test_prelu_at_zero_equals_pytorch_but_for_one_second_derivative(torch, rng, x, weight):
    """prelu at x = 0: PyTorch's first derivatives (the slope for x, 0 for the weight) and its
    second derivatives w.r.t. x and the weight. The one difference: the derivative of
    dx = u * slope w.r.t. the upstream gradient u is, at x = 0, the slope here (dx is linear in
    u) and 1 in PyTorch, whose double backward counts x = 0 as positive where its first
    derivative counts it as negative."""
    seconds, their_seconds, ws = derivatives_at_kinks(
        torch, rng, ops.prelu, lambda th, x, w: th.nn.functional.prelu(x, w), [x, weight])
    for i in range(2):
        np.testing.assert_allclose(seconds[i], their_seconds[i], rtol=1e-15, atol=1e-15,
                                   err_msg=f"second derivative, input {i}")
    x, weight = np.array(x), np.array(weight)
    zero = x == 0
    slopes = weight if weight.size == 1 else weight[None, :]
    np.testing.assert_allclose(seconds[2][~zero], their_seconds[2][~zero], rtol=1e-15)
    np.testing.assert_allclose(seconds[2][zero], (ws[0] * slopes)[zero], rtol=1e-15)
    np.testing.assert_allclose(their_seconds[2][zero], ws[0][zero], rtol=1e-15)


@pytest.mark.parametrize("ours, name, settings", [
    (nn.GELU(), "GELU", {}), (nn.GELU("tanh"), "GELU", {"approximate": "tanh"}),
    (nn.SiLU(), "SiLU", {})], ids=["GELU", "GELU-tanh", "SiLU"])
def test_layers_equal_torch_nn(torch, rng, ours, name, settings):
    theirs = getattr(torch.nn, name)(**settings)
    assert repr(ours) == repr(theirs)
    x, upstream = rng.standard_normal((3, 4, 5)) * 4, rng.standard_normal((3, 4, 5))
    value, tensor = tc.Value(x), torch.tensor(x, requires_grad=True)
    out, expected = ours(value), theirs(tensor)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(value.grad, tensor.grad.numpy(), rtol=1e-13, atol=1e-15)
    assert list(ours.parameters()) == [] and ours.state_dict() == {}


def test_a_small_model_with_gelu_and_silu_equals_pytorch(torch, rng):
    tc.manual_seed(0)
    ours = nn.Sequential(nn.Linear(3, 5), nn.GELU(), nn.Linear(5, 5), nn.GELU("tanh"),
                         nn.Linear(5, 4), nn.SiLU(), nn.Linear(4, 2))
    theirs = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.GELU(), torch.nn.Linear(5, 5),
        torch.nn.GELU(approximate="tanh"), torch.nn.Linear(5, 4), torch.nn.SiLU(),
        torch.nn.Linear(4, 2)).float()
    # the activations hold no parameters: the same keys as PyTorch's, loaded strictly both ways
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((6, 3)).astype(np.float32)
    loss = (ours(tc.Value(x)) ** 2).sum()
    loss.backward()
    their_loss = (theirs(torch.from_numpy(x)) ** 2).sum()
    their_loss.backward()
    np.testing.assert_allclose(loss.data, their_loss.item(), rtol=1e-5)
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad, theirs.get_parameter(name).grad.numpy(),
                                   rtol=1e-4, atol=1e-6, err_msg=name)


# ---------------------------------------------------------------- selu, celu, mish, hardswish,
# hardsigmoid, softsign, tanhshrink, softshrink, hardshrink, threshold, softmin, glu

F = "nn.functional"
# (id, ours, theirs(torch, x), kinks, spread of x)
MORE = [
    ("selu", ops.selu, lambda th, x: th.nn.functional.selu(x), [0.0], 3),
    ("celu", ops.celu, lambda th, x: th.nn.functional.celu(x), [0.0], 3),
    ("celu-alpha-0.5", lambda x: ops.celu(x, 0.5),
     lambda th, x: th.nn.functional.celu(x, 0.5), [0.0], 3),
    ("celu-alpha-negative", lambda x: ops.celu(x, -1.5),
     lambda th, x: th.nn.functional.celu(x, -1.5), [0.0], 3),
    ("mish", ops.mish, lambda th, x: th.nn.functional.mish(x), [], 4),
    ("hardswish", ops.hardswish, lambda th, x: th.nn.functional.hardswish(x), [-3.0, 3.0], 4),
    ("softsign", ops.softsign, lambda th, x: th.nn.functional.softsign(x), [0.0], 3),
    ("tanhshrink", ops.tanhshrink, lambda th, x: th.nn.functional.tanhshrink(x), [], 2),
    ("softshrink", lambda x: ops.softshrink(x, 0.7),
     lambda th, x: th.nn.functional.softshrink(x, 0.7), [-0.7, 0.7], 2),
    ("hardshrink", lambda x: ops.hardshrink(x, 0.7),
     lambda th, x: th.nn.functional.hardshrink(x, 0.7), [-0.7, 0.7], 2),
    ("hardshrink-lambd-negative", lambda x: ops.hardshrink(x, -0.5),
     lambda th, x: th.nn.functional.hardshrink(x, -0.5), [], 2),
    ("threshold", lambda x: ops.threshold(x, 0.3, -2.0),
     lambda th, x: th.nn.functional.threshold(x, 0.3, -2.0), [0.3], 2),
]
MORE_IDS = [case[0] for case in MORE]
# hardsigmoid: PyTorch has no second derivative (its hardsigmoid_backward has none), and its
# first derivative in float64 is float32's 1/6 (0.1666666716337204): compared to first order,
# to 1e-7
HARDSIGMOID = (ops.hardsigmoid, lambda th, x: th.nn.functional.hardsigmoid(x))


def compared_to_second_order(torch, rng, ours, theirs, inputs, tol, second=True):
    """ours(*inputs) and its first derivatives through a random upstream gradient u against
    PyTorch's; with `second`, also the derivatives of <first derivatives, w> (random w) w.r.t.
    every input and u. All arrays float64."""
    values = [tc.Value(np.array(a)) for a in inputs]
    tensors = [torch.tensor(np.array(a), requires_grad=True) for a in inputs]
    out, expected = ours(*values), theirs(torch, *tensors)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), err_msg="forward", **tol)
    u = tc.Value(rng.standard_normal(out.shape))
    their_u = torch.tensor(u.data, requires_grad=True)
    firsts = tc.grad(out, values, grad_output=u, create_graph=second)
    their_firsts = torch.autograd.grad(expected, tensors, their_u, create_graph=second)
    for i, (g, tg) in enumerate(zip(firsts, their_firsts, strict=True)):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), err_msg=f"first, input {i}",
                                   **tol)
    if not second:
        return
    ws = [rng.standard_normal(v.shape) for v in values]
    s = sum((g * w).sum() for g, w in zip(firsts, ws, strict=True))
    their_s = sum((tg * torch.from_numpy(w)).sum() for tg, w in zip(their_firsts, ws, strict=True))
    seconds = tc.grad(s, [*values, u])
    their_seconds = torch.autograd.grad(their_s, [*tensors, their_u], allow_unused=True)
    for i, (h, th) in enumerate(zip(seconds, their_seconds, strict=True)):
        expected_h = np.zeros(h.shape) if th is None else th.numpy()
        np.testing.assert_allclose(h.data, expected_h, err_msg=f"second, input {i} (last: u)",
                                   **tol)


def spread_away_from(rng, shape, kinks, spread):
    x = rng.standard_normal(shape) * spread
    for kink in kinks:
        x = np.where(np.abs(x - kink) < 0.05, kink + 0.1, x)
    return x


@pytest.mark.parametrize("shape", [(7,), (2, 3, 4)])
@pytest.mark.parametrize("ours, theirs, kinks, spread", [case[1:] for case in MORE],
                         ids=MORE_IDS)
def test_more_float64_forward_first_and_second_derivatives_equal_pytorch(
        torch, rng, ours, theirs, kinks, spread, shape):
    x = spread_away_from(rng, shape, kinks, spread)
    compared_to_second_order(torch, rng, ours, theirs, [x], {"rtol": 1e-13, "atol": 1e-15})


def test_hardsigmoid_equals_pytorch_to_first_order(torch, rng):
    x = spread_away_from(rng, (3, 5), [-3.0, 3.0], 4)
    compared_to_second_order(torch, rng, *HARDSIGMOID, [x], {"rtol": 1e-7, "atol": 0},
                             second=False)


@pytest.mark.parametrize("ours, theirs", [case[1:3] for case in MORE[:3] + MORE[4:]]
                         + [HARDSIGMOID], ids=MORE_IDS[:3] + MORE_IDS[4:] + ["hardsigmoid"])
def test_more_float32_forward_and_gradient_equal_pytorch_float32(torch, rng, ours, theirs):
    """(celu with a negative alpha is left out: it grows as e^(-x / alpha) for x < 0, infinite
    in both libraries in these tails)"""
    x = np.concatenate([rng.standard_normal(200) * 4, TAILS]).astype(np.float32)
    value = tc.Value(x)
    out = ours(value)
    out.backward(np.ones_like(x))
    tensor = torch.tensor(x, requires_grad=True)
    expected = theirs(torch, tensor)
    expected.backward(torch.ones_like(tensor))
    assert out.dtype == np.float32 and value.grad.dtype == np.float32
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(value.grad, tensor.grad.numpy(), rtol=1e-6, atol=1e-6)


SMOOTH = ["selu", "celu", "celu-alpha-0.5", "mish", "softsign", "tanhshrink", "hardswish"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", SMOOTH)
def test_more_tails_are_finite_and_equal_pytorch_to_second_order(torch, name, dtype):
    _, ours, theirs, _, _ = MORE[MORE_IDS.index(name)]
    x = np.array(TAILS + [-6.0, -2.0, 2.0, 6.0], dtype=dtype)
    value = tc.Value(x)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow to 0 is fine
        out = ours(value)
        (first,) = tc.grad(out.sum(), [value], create_graph=True)
        (second,) = tc.grad(first.sum(), [value])
    tensor = torch.tensor(x, requires_grad=True)
    expected = theirs(torch, tensor)
    (their_first,) = torch.autograd.grad(expected.sum(), [tensor], create_graph=True)
    (their_second,) = torch.autograd.grad(their_first.sum(), [tensor])
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-14}
    for what, ours_, theirs_ in [("forward", out, expected), ("first", first, their_first),
                                 ("second", second, their_second)]:
        assert ours_.dtype == dtype and np.isfinite(ours_.data).all(), what
        theirs_ = theirs_.detach().numpy()
        if name == "mish" and what == "second":
            # PyTorch's mish'' is NaN far in the positive tail (at 1000, and at 100 in float32:
            # an e^x overflows in its double backward); ours is its limit there, 0
            lost = np.isnan(theirs_)
            assert set(x[lost]) <= {100.0, 1000.0} and (ours_.data[lost] == 0).all()
            theirs_ = np.where(lost, 0.0, theirs_)
        np.testing.assert_allclose(ours_.data, theirs_, err_msg=what, **tol)


# (id, ours, theirs(torch, x), x exactly on each kink and beside it)
MORE_KINKS = [
    ("selu", ops.selu, lambda th, x: th.nn.functional.selu(x), [-1.0, 0.0, 1.0]),
    ("celu", lambda x: ops.celu(x, 0.5), lambda th, x: th.nn.functional.celu(x, 0.5),
     [-1.0, 0.0, 1.0]),
    ("celu-alpha-negative", lambda x: ops.celu(x, -1.5),
     lambda th, x: th.nn.functional.celu(x, -1.5), [-1.0, 0.0, 1.0]),
    ("hardswish", ops.hardswish, lambda th, x: th.nn.functional.hardswish(x),
     [-4.0, -3.0, 0.0, 3.0, 4.0]),
    ("softsign", ops.softsign, lambda th, x: th.nn.functional.softsign(x), [-1.0, 0.0, 1.0]),
    ("softshrink", ops.softshrink, lambda th, x: th.nn.functional.softshrink(x),
     [-1.0, -0.5, 0.0, 0.5, 1.0]),
    ("softshrink-lambd-0", lambda x: ops.softshrink(x, 0.0),
     lambda th, x: th.nn.functional.softshrink(x, 0.0), [-1.0, 0.0, 1.0]),
    ("hardshrink", ops.hardshrink, lambda th, x: th.nn.functional.hardshrink(x),
     [-1.0, -0.5, 0.0, 0.5, 1.0]),
    ("threshold", lambda x: ops.threshold(x, 0.5, -2.0),
     lambda th, x: th.nn.functional.threshold(x, 0.5, -2.0), [0.0, 0.5, 1.0]),
]


@pytest.mark.parametrize("ours, theirs, x", [case[1:] for case in MORE_KINKS],
                         ids=[case[0] for case in MORE_KINKS])
def test_more_kinks_equal_pytorch_to_second_order(torch, rng, ours, theirs, x):
    """hardswish: 0 at -3 and 1 at 3 (the outer pieces' slopes), 1/3 second derivative only
    strictly between; selu and celu: the left side's slope at 0; the shrinks and threshold: 0
    on the boundary; every second derivative at a kink 0, as PyTorch's."""
    compared_to_second_order(torch, rng, ours, theirs, [x], {"rtol": 1e-15, "atol": 1e-16})


def test_hardsigmoid_at_its_kinks_equals_pytorch_to_first_order(torch, rng):
    compared_to_second_order(torch, rng, *HARDSIGMOID, [[-4.0, -3.0, 0.0, 3.0, 4.0]],
                             {"rtol": 1e-7, "atol": 0}, second=False)


@pytest.mark.parametrize("shape, axis", [((5,), -1), ((2, 3, 4), 1), ((4, 6), 0)])
def test_softmin_equals_pytorch_to_second_order(torch, rng, shape, axis):
    x = rng.standard_normal(shape) * 3
    compared_to_second_order(torch, rng, lambda v: ops.softmin(v, axis),
                             lambda th, t: th.nn.functional.softmin(t, dim=axis), [x],
                             {"rtol": 1e-13, "atol": 1e-15})


@pytest.mark.parametrize("shape, axis", [((6,), -1), ((2, 4, 3), 1), ((4, 6), 0),
                                         ((2, 3, 2), -1)])
def test_glu_equals_pytorch_to_second_order(torch, rng, shape, axis):
    x = rng.standard_normal(shape) * 2
    compared_to_second_order(torch, rng, lambda v: ops.glu(v, axis),
                             lambda th, t: th.nn.functional.glu(t, dim=axis), [x],
                             {"rtol": 1e-13, "atol": 1e-15})


@pytest.mark.parametrize("ours, name, settings", [
    (nn.SELU(), "SELU", {}), (nn.CELU(), "CELU", {}), (nn.CELU(0.5), "CELU", {"alpha": 0.5}),
    (nn.Mish(), "Mish", {}), (nn.Hardswish(), "Hardswish", {}),
    (nn.Hardsigmoid(), "Hardsigmoid", {}), (nn.Softsign(), "Softsign", {}),
    (nn.Tanhshrink(), "Tanhshrink", {}), (nn.Softshrink(), "Softshrink", {}),
    (nn.Softshrink(1.5), "Softshrink", {"lambd": 1.5}), (nn.Hardshrink(), "Hardshrink", {}),
    (nn.Hardshrink(0.25), "Hardshrink", {"lambd": 0.25}),
    (nn.Threshold(0.1, 20.0), "Threshold", {"threshold": 0.1, "value": 20.0}),
    (nn.GLU(), "GLU", {}), (nn.GLU(1), "GLU", {"dim": 1}), (nn.Softmin(1), "Softmin", {"dim": 1}),
    (nn.LogSigmoid(), "LogSigmoid", {})], ids=lambda case: repr(case) if isinstance(
        case, nn.Module) else None)
def test_more_layers_equal_torch_nn(torch, rng, ours, name, settings):
    theirs = getattr(torch.nn, name)(**settings)
    assert repr(ours) == repr(theirs)
    for dtype, tol in [(np.float64, {"rtol": 1e-13, "atol": 1e-15}),
                       (np.float32, {"rtol": 1e-6, "atol": 1e-6})]:
        x = (rng.standard_normal((3, 4, 6)) * 4).astype(dtype)
        upstream = rng.standard_normal(ours(tc.Value(x)).shape).astype(dtype)
        value, tensor = tc.Value(x), torch.tensor(x, requires_grad=True)
        out, expected = ours(value), theirs(tensor)
        out.backward(upstream)
        expected.backward(torch.from_numpy(upstream))
        assert out.dtype == value.grad.dtype == dtype
        if name == "Hardsigmoid" and dtype == np.float64:
            tol = {"rtol": 1e-7, "atol": 0}         # PyTorch's float64 slope is float32's 1/6
        np.testing.assert_allclose(out.data, expected.detach().numpy(), **tol)
        np.testing.assert_allclose(value.grad, tensor.grad.numpy(), **tol)


def test_relu_passes_the_gradient_at_a_nan_input_as_pytorchs(torch):
    x = np.array([np.nan, -1.0, 2.0, 0.0, -0.0, 1e-300])
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    upstream = np.array([0.5, 1.5, -2.0, 3.0, 4.0, -1.0])
    ops.relu(xv).backward(upstream)
    torch.relu(xt).backward(torch.tensor(upstream))
    np.testing.assert_array_equal(xv.grad, xt.grad.numpy())       # 0.5 at the NaN, 0 at 0
    np.testing.assert_array_equal(xv.grad, [0.5, 0.0, -2.0, 0.0, 0.0, -1.0])
