"""Second derivatives of every public op and of the nn layers at the edges of their inputs,
against PyTorch float64's double backward: 0-d, size-1 and size-0 shapes; float32 (first and
second gradients stay float32); transposed, Fortran-order, negative-stride and read-only
broadcast arrays as data; a Value used twice in one op. Each case differentiates
<out, u> with tc.grad(create_graph=True) for an upstream gradient u that requires grad, then
s = sum_i <g_i, w_i> again, with respect to every input and u, as PyTorch's gradgradcheck
does. Then: an input the output does not depend on, retain_graph under create_graph, a
gradient penalty mixed with backward(), and the error for a rule that cannot be
differentiated again."""

import numpy as np
import pytest
from edge_cases import (
    EMBEDDINGS,
    IDX,
    LAYERS,
    LAYOUTS,
    SHARED_CASES,
    UNARY_OPS,
    alternate,
    away,
    distinct,
    normal,
    reduce_torch,
    t,
)

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

F = None    # torch.nn.functional, set by the `functional` fixture below
SHAPES = [(), (1,), (0, 3), (2, 3)]

# (id, make float64 inputs from rng, ours, theirs(torch, *tensors))
CASES = [
    *SHARED_CASES,                      # edge_cases.py: the cases both sweeps run
    # unary elementwise: 0-d, size 1, size 0
    *[(f"{name}-{shape}", make(shape), ours, theirs)
      for name, make, ours, theirs in [
          *UNARY_OPS,                   # edge_cases.py: in both sweeps
          ("pow2", normal, lambda x: x ** 2, lambda th, x: x ** 2),
          ("pow1", normal, lambda x: x ** 1, lambda th, x: x ** 1),
          ("pow0", normal, lambda x: x ** 0, lambda th, x: x ** 0),
          ("numbers", away, lambda x: (2.0 - x) * 3 / x + 1.5,
           lambda th, x: (2.0 - x) * 3 / x + 1.5),
      ] for shape in SHAPES],
    # binary elementwise with broadcasting
    *[(f"{name}-{sa}-{sb}", make(sa, sb), ours, theirs)
      for name, make, ours, theirs in [
          ("add", normal, ops.add, lambda th, a, b: a + b),
          ("sub", normal, ops.sub, lambda th, a, b: a - b),
          ("mul", normal, ops.mul, lambda th, a, b: a * b),
          ("div", away, ops.div, lambda th, a, b: a / b),
          ("minimum", distinct, ops.minimum, lambda th, a, b: th.minimum(a, b)),
          ("maximum", distinct, ops.maximum, lambda th, a, b: th.maximum(a, b)),
          ("where", normal,
           lambda a, b: ops.where(alternate(np.broadcast_shapes(a.shape, b.shape)), a, b),
           lambda th, a, b: th.where(t(th, alternate(th.broadcast_shapes(a.shape, b.shape))),
                                     a, b)),
      ] for sa, sb in [((), ()), ((), (2, 3)), ((1,), (3,)), ((0, 3), (1, 3)),
                       ((2, 1, 3), (4, 1))]],
    ("maximum-tie", lambda rng: [np.array([1.0, 2.0]), np.array([1.0, 3.0])], ops.maximum,
     lambda th, a, b: th.maximum(a, b)),
    # a Value used twice in one op
    ("x*x-0d", normal(()), lambda x: x * x, lambda th, x: x * x),
    ("x-x", normal(()), lambda x: x - x, lambda th, x: x - x),
    ("maximum(x,x)", normal((2, 3)), lambda x: ops.maximum(x, x), lambda th, x: th.maximum(x, x)),
    ("where(c,x,x*x)", normal((2, 3)), lambda x: ops.where(alternate((2, 3)), x, x * x),
     lambda th, x: th.where(t(th, alternate((2, 3))), x, x * x)),
    ("x@x-vec", normal((3,)), lambda x: x @ x, lambda th, x: x @ x),
    ("cat([x,x*x])", normal((2, 3)), lambda x: ops.cat([x, x * x], axis=-1),
     lambda th, x: th.cat([x, x * x], dim=-1)),
    ("x[repeated]**2", normal((3, 2)), lambda x: x[IDX % 3] ** 2,
     lambda th, x: x[t(th, IDX % 3)] ** 2),
    *EMBEDDINGS,                        # (no empty ids: see EMBEDDING_EMPTY_IDS)
    ("mse(x,x*x)", normal((2, 3)), lambda x: ops.mse_loss(x, x * x),
     lambda th, x: F.mse_loss(x, x * x)),
    ("linear(x,x)", normal((3, 3)), lambda x: ops.linear(x, x, x[0]),
     lambda th, x: F.linear(x, x, x[0])),
    # reductions: 0-d, size 1, size 0, negative axes, keepdims, axis tuples
    *[(f"{name}-{shape}-axis={axis}-keepdims={keep}", distinct(shape),
       lambda x, op=name, axis=axis, keep=keep: getattr(ops, op)(x, axis=axis, keepdims=keep),
       lambda th, x, op=name, axis=axis, keep=keep: reduce_torch(th, op, x, axis, keep))
      for name in ["sum", "mean", "max", "min", "var", "std", "logsumexp", "prod"]
      for shape, axis, keep in [((), None, False), ((1,), -1, True), ((2, 3, 4), (-1, 0), True),
                                ((2, 3, 4), (2, -2), False), ((0, 3), 1, False),
                                ((2, 3), None, False)]
      if not (name in ("var", "std") and (shape in [(1,), ()] or 0 in shape))],
    ("max-tie", lambda rng: [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])],
     lambda x: ops.max(x, axis=1), lambda th, x: th.amax(x, dim=1)),
    ("var-ddof1", normal((4, 2)), lambda x: ops.var(x, axis=0, ddof=1),
     lambda th, x: th.var(x, dim=0, correction=1)),
    ("std-ddof1", normal((4, 2)), lambda x: ops.std(x, axis=0, ddof=1),
     lambda th, x: th.std(x, dim=0, correction=1)),
    # shape ops
    ("reshape-0d", normal(()), lambda x: x.reshape(1, 1) ** 2, lambda th, x: x.reshape(1, 1) ** 2),
    ("transpose-negative", normal((2, 3, 4)), lambda x: x.transpose(-1, 0, 1) ** 2,
     lambda th, x: x.permute(-1, 0, 1) ** 2),
    ("broadcast_to-0d", normal(()), lambda x: ops.broadcast_to(x, (2, 3)) ** 2,
     lambda th, x: x.expand(2, 3) ** 2),
    # softmax and the losses
    ("log_softmax-axis1", normal((2, 3, 2)), lambda x: ops.log_softmax(x, axis=1),
     lambda th, x: th.log_softmax(x, 1)),
    ("cross_entropy-value-target", normal((3, 4)),
     lambda x: ops.cross_entropy(x, tc.Value(np.array([3, 0, 1]))),
     lambda th, x: F.cross_entropy(x, th.tensor([3, 0, 1]))),
    # (binary_cross_entropy only to first order in test_edge_inputs.py: PyTorch's double
    # backward adds 1e-12 to x and 1 - x, which moves it by more than this sweep's tolerance;
    # test_loss_modules.py compares it to 1e-9)
    # indexing and joining
    ("getitem-0d-empty-tuple", normal(()), lambda x: x[()] ** 2, lambda th, x: x[()] ** 2),
    ("getitem-0d-mask", normal(()), lambda x: x[np.bool_(True)] ** 2,
     lambda th, x: x[True] ** 2),
    ("getitem-int-to-0d", normal((3,)), lambda x: x[-1] ** 2, lambda th, x: x[-1] ** 2),
    ("getitem-mask", normal((3, 2)), lambda x: x[alternate((3, 2))] ** 2,
     lambda th, x: x[t(th, alternate((3, 2)))] ** 2),
    ("cat-empty", normal((0, 3), (2, 3)), lambda a, b: ops.cat([a, b]) * ops.cat([b, a]),
     lambda th, a, b: th.cat([a, b]) * th.cat([b, a])),
    ("stack-0d", normal((), ()), lambda a, b: ops.stack([a, b], axis=-1) * a,
     lambda th, a, b: th.stack([a, b], -1) * a),
    ("split-negative-axis", normal((2, 6)),
     lambda x: ops.cat(ops.split(x, 3, axis=-1)[::-1], 1) * x,
     lambda th, x: th.cat(th.tensor_split(x, 3, dim=-1)[::-1], 1) * x),
    ("pad-size1", normal((1, 1)), lambda x: ops.pad(x, ((0, 0), (2, 1))) ** 2,
     lambda th, x: F.pad(x, (2, 1)) ** 2),
    # convolution and pooling at their smallest
    ("conv2d-stride-padding", normal((2, 2, 5, 4), (3, 2, 3, 2), (3,)),
     lambda x, w, b: ops.conv2d(x, w, b, stride=2, padding=1),
     lambda th, x, w, b: F.conv2d(x, w, b, stride=2, padding=1)),
    ("conv_transpose2d-stride", normal((1, 2, 3, 3), (2, 1, 2, 2), (1,)),
     lambda x, w, b: ops.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     lambda th, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)),
    ("max_pool2d-whole", distinct((2, 1, 3, 3)), lambda x: ops.max_pool2d(x, 3) ** 2,
     lambda th, x: F.max_pool2d(x, 3) ** 2),
    ("max_pool2d-overlap-padded", distinct((1, 2, 4, 5)),
     lambda x: ops.max_pool2d(x, 3, stride=1, padding=1),
     lambda th, x: F.max_pool2d(x, 3, stride=1, padding=1)),
    ("avg_pool2d-1x1", normal((1, 2, 1, 1)), lambda x: ops.avg_pool2d(x, 1) ** 2,
     lambda th, x: F.avg_pool2d(x, 1) ** 2),
    ("avg_pool2d-padded", normal((1, 2, 3, 3)), lambda x: ops.avg_pool2d(x, 3, 1, 1),
     lambda th, x: F.avg_pool2d(x, 3, 1, 1)),
    # ceil_mode's windows past the edge, one of them all that the kernel holds of the image
    ("max_pool2d-ceil-kernel-past-the-image", distinct((1, 2, 3, 4)),
     lambda x: ops.max_pool2d(x, (4, 3), 2, ceil_mode=True) ** 2,
     lambda th, x: F.max_pool2d(x, (4, 3), 2, ceil_mode=True) ** 2),
    ("avg_pool2d-ceil-exclude-pad", normal((1, 2, 4, 5)),
     lambda x: ops.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False) ** 2,
     lambda th, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False) ** 2),
    ("avg_pool1d-ceil-one-signal", normal((2, 5)),
     lambda x: ops.avg_pool1d(x, 4, 3, 2, ceil_mode=True) ** 2,
     lambda th, x: F.avg_pool1d(x, 4, 3, 2, ceil_mode=True) ** 2),
    ("adaptive_avg_pool2d-1x1-spread", normal((1, 2, 1, 1)),
     lambda x: ops.adaptive_avg_pool2d(x, (2, 3)) ** 2,
     lambda th, x: F.adaptive_avg_pool2d(x, (2, 3)) ** 2),
    ("adaptive_avg_pool2d-overlapping", normal((1, 2, 5, 3)),
     lambda x: ops.adaptive_avg_pool2d(x, (3, 2)) ** 2,
     lambda th, x: F.adaptive_avg_pool2d(x, (3, 2)) ** 2),
    ("adaptive_avg_pool2d-global-one-image", normal((2, 3, 4)),
     lambda x: ops.adaptive_avg_pool2d(x, 1) ** 2, lambda th, x: F.adaptive_avg_pool2d(x, 1) ** 2),
    # batch norm (training: the batch's statistics; evaluation: fixed ones)
    ("batch_norm-train-images", normal((2, 3, 2, 2), (3,), (3,)),
     lambda x, w, b: ops.batch_norm(x, weight=w, bias=b, training=True),
     lambda th, x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
    ("batch_norm-eval", normal((2, 3, 1, 2), (3,), (3,)),
     lambda x, w, b: ops.batch_norm(x, np.full(3, 0.5, x.dtype), np.full(3, 2.0, x.dtype), w, b),
     lambda th, x, w, b: F.batch_norm(x, th.full((3,), 0.5), th.full((3,), 2.0), w, b)),
    # dropout: the library's mask, given to PyTorch as a constant
    ("dropout", normal((3, 4)), lambda x: dropout_with_seed(x) * x,
     lambda th, x: x * t(th, DROPOUT_SCALE) * x),
    ("dropout-0d", normal(()), lambda x: dropout_with_seed(x) ** 2,
     lambda th, x: (x * t(th, DROPOUT_SCALE)) ** 2),
    ("dropout-eval", normal((2,)), lambda x: ops.dropout(x, 0.5, training=False) ** 2,
     lambda th, x: F.dropout(x, 0.5, training=False) ** 2),
]

DROPOUT_SCALE = None    # the last dropout's keep / (1 - p), float64, for PyTorch's side


def dropout_with_seed(x):
    """ops.dropout(x, p=0.25) with a seeded mask, kept in DROPOUT_SCALE for the PyTorch side."""
    global DROPOUT_SCALE
    tc.manual_seed(0)
    out = ops.dropout(x, p=0.25)
    DROPOUT_SCALE = (out.data != 0) / 0.75
    return out


@pytest.fixture(autouse=True)
def functional(torch):
    global F
    F = torch.nn.functional


def as_numpy(tensor, shape):
    """A torch gradient as float64 numpy, zeros where PyTorch gives None (an unused input)."""
    return np.zeros(shape) if tensor is None else tensor.detach().numpy(force=True)


def second_order(torch, rng, values, out, expected, tensors, tol):
    """Compare, with PyTorch, g = d<out, u>/d(values) from tc.grad(create_graph=True) for an
    upstream u that requires grad, and the derivatives of s = sum_i <g_i, w_i> with respect to
    every value and u; every gradient has its value's shape and dtype."""
    dtype = out.dtype
    u = tc.Value(rng.standard_normal(out.shape).astype(dtype))
    their_u = torch.tensor(u.data.astype(np.float64), requires_grad=True)
    firsts = tc.grad(out, values, grad_output=u, create_graph=True)
    their_firsts = torch.autograd.grad(expected, tensors, their_u, create_graph=True,
                                       allow_unused=True)
    for i, (value, g, tg) in enumerate(zip(values, firsts, their_firsts, strict=True)):
        assert g.shape == value.shape and g.dtype == value.dtype, f"first gradient {i}"
        np.testing.assert_allclose(g.data, as_numpy(tg, value.shape), **tol,
                                   err_msg=f"first gradient of input {i}")

    ws = [rng.standard_normal(v.shape).astype(v.dtype) for v in values]
    s = sum((g * w).sum() for g, w in zip(firsts, ws, strict=True))
    their_s = sum((tg * torch.from_numpy(w.astype(np.float64))).sum()
                  for tg, w in zip(their_firsts, ws, strict=True) if tg is not None)
    wrt = [*values, u]
    # a rule may leave a constant zero out of the graph (PyTorch's for x ** 0): zeros then
    seconds = (tc.grad(s, wrt) if s.requires_grad
               else [tc.Value(np.zeros(v.shape, v.dtype), requires_grad=False) for v in wrt])
    their_seconds = (torch.autograd.grad(their_s, [*tensors, their_u], allow_unused=True)
                     if torch.is_tensor(their_s) and their_s.requires_grad else [None] * len(wrt))
    for i, (value, h, th) in enumerate(zip(wrt, seconds, their_seconds, strict=True)):
        what = "u" if value is u else f"input {i}"
        assert h.shape == value.shape and h.dtype == value.dtype, f"second gradient, {what}"
        assert not h.requires_grad
        np.testing.assert_allclose(h.data, as_numpy(th, value.shape), **tol,
                                   err_msg=f"second derivative w.r.t. {what}")


def check(torch, rng, arrays, ours, theirs, tol):
    values = [tc.Value(a) for a in arrays]
    out = ours(*values)
    tensors = [torch.tensor(np.array(a, dtype=np.float64, order="C"), requires_grad=True)
               for a in arrays]
    expected = theirs(torch, *tensors)
    assert out.dtype == arrays[0].dtype and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **tol)
    second_order(torch, rng, values, out, expected, tensors, tol)


FLOAT64 = {"rtol": 1e-11, "atol": 1e-13}
FLOAT32 = {"rtol": 2e-5, "atol": 2e-5}
IGNORE = ("ignore:Mean of empty slice:RuntimeWarning",
          "ignore:invalid value encountered:RuntimeWarning")
IDS = [case[0] for case in CASES]


@pytest.mark.filterwarnings(*IGNORE)
@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES], ids=IDS)
def test_float64_second_order_equals_pytorch(torch, rng, make, ours, theirs):
    check(torch, rng, make(rng), ours, theirs, FLOAT64)


@pytest.mark.filterwarnings(*IGNORE)
@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES], ids=IDS)
def test_float32_second_order_stays_float32(torch, rng, make, ours, theirs):
    check(torch, rng, [a.astype(np.float32) for a in make(rng)], ours, theirs, FLOAT32)


# equal rows make std 0, where PyTorch's double backward gives NaN w.r.t. u (0 * inf in its
# masked rule) and ours 0: tests/test_reduce.py checks that case by hand
LAYOUT_CASES = [pytest.param(layout, *case[1:], id=f"{case[0]}-{layout}")
                for case in CASES for layout in LAYOUTS
                if not (layout == "broadcast" and case[0] == "std-ddof1")]


@pytest.mark.filterwarnings(*IGNORE)
@pytest.mark.parametrize("layout, make, ours, theirs", LAYOUT_CASES)
def test_non_contiguous_data_second_order(torch, rng, layout, make, ours, theirs):
    check(torch, rng, [LAYOUTS[layout](a) for a in make(rng)], ours, theirs, FLOAT64)


# the shared layers, and two more: a max-pool of several windows, a Sequential MLP
LAYER_CASES = [
    *LAYERS,
    ("MaxPool2d", lambda: nn.MaxPool2d(2), lambda th: th.nn.MaxPool2d(2), (1, 2, 2, 4)),
    ("AvgPool2d-ceil-exclude-pad", lambda: nn.AvgPool2d(3, 2, 1, True, False),
     lambda th: th.nn.AvgPool2d(3, 2, 1, True, False), (1, 2, 4, 5)),
    ("Sequential-MLP", lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)),
     lambda th: th.nn.Sequential(th.nn.Linear(3, 4), th.nn.Tanh(), th.nn.Linear(4, 2)), (5, 3)),
]


def twin(torch, layer, their_layer):
    """their_layer with our layer's parameters, as float64."""
    with torch.no_grad():
        for name, param in layer.named_parameters():
            their_layer.get_parameter(name).copy_(torch.from_numpy(param.data))
    return their_layer


@pytest.mark.parametrize("layout", ["contiguous", *LAYOUTS])
@pytest.mark.parametrize("ours, theirs, shape", [case[1:] for case in LAYER_CASES],
                         ids=[case[0] for case in LAYER_CASES])
def test_layers_second_order_float32_equals_pytorch(torch, rng, ours, theirs, shape, layout):
    tc.manual_seed(0)
    layer = ours()
    their_layer = twin(torch, layer, theirs(torch))
    x = rng.standard_normal(shape).astype(np.float32)
    x = x if layout == "contiguous" else LAYOUTS[layout](x)
    values = [tc.Value(x), *layer.parameters()]
    out = layer(values[0])
    their_x = torch.tensor(np.array(x, dtype=np.float64, order="C"), requires_grad=True)
    expected = their_layer(their_x)
    assert out.dtype == np.float32 and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    second_order(torch, rng, values, out, expected, [their_x, *their_layer.parameters()],
                 FLOAT32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_input_the_output_does_not_depend_on_gets_zeros(torch, rng, dtype):
    x = tc.Value(rng.standard_normal((2, 3)).astype(dtype))
    unused = tc.Value(rng.standard_normal((4,)).astype(dtype))
    empty = tc.Value(np.zeros((0, 2), dtype))
    out = (x.tanh() * x).sum()
    gx, g_unused, g_empty = tc.grad(out, [x, unused, empty], create_graph=True)
    for g, v in ((g_unused, unused), (g_empty, empty)):
        assert g.shape == v.shape and g.dtype == dtype and not g.requires_grad
        np.testing.assert_array_equal(g.data, np.zeros(v.shape))
    w = rng.standard_normal((2, 3)).astype(dtype)
    hx, h_unused, h_empty = tc.grad((gx * w).sum() + g_unused.sum(), [x, unused, empty])
    np.testing.assert_array_equal(h_unused.data, np.zeros((4,)))
    assert h_unused.dtype == h_empty.dtype == hx.dtype == dtype and h_empty.shape == (0, 2)

    tx = torch.tensor(x.data.astype(np.float64), requires_grad=True)
    t_unused = torch.tensor(unused.data.astype(np.float64), requires_grad=True)
    (tgx, tg_unused) = torch.autograd.grad((tx.tanh() * tx).sum(), [tx, t_unused],
                                           create_graph=True, allow_unused=True)
    assert tg_unused is None
    (thx,) = torch.autograd.grad((tgx * torch.from_numpy(w.astype(np.float64))).sum(), [tx])
    tol = FLOAT32 if dtype == np.float32 else FLOAT64
    np.testing.assert_allclose(gx.data, tgx.detach().numpy(), **tol)
    np.testing.assert_allclose(hx.data, thx.numpy(), **tol)


def tanh_times_x(lib, x):
    return (lib.tanh(x) * x * x).sum()


def test_a_graph_walked_twice_under_create_graph(torch, rng):
    """create_graph keeps the graph (retain_graph defaults to it): a second tc.grad gives the
    same gradient, and each of the two can be differentiated again, as in PyTorch; a second
    walk of the graph of the first (retain_graph=False) finds its nodes freed, as PyTorch does."""
    a = rng.standard_normal(4)
    x = tc.Value(a)
    y = tanh_times_x(ops, x)
    (g1,) = tc.grad(y, [x], create_graph=True)
    (g2,) = tc.grad(y, [x], create_graph=True)
    np.testing.assert_array_equal(g1.data, g2.data)
    (h1,) = tc.grad(g1.sum(), [x], retain_graph=True)
    (h2,) = tc.grad(g2.sum(), [x])
    np.testing.assert_array_equal(h1.data, h2.data)

    tx = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad(tanh_times_x(torch, tx), [tx], create_graph=True)
    (th,) = torch.autograd.grad(tg.sum(), [tx])
    np.testing.assert_allclose(g1.data, tg.detach().numpy(), **FLOAT64)
    np.testing.assert_allclose(h1.data, th.numpy(), **FLOAT64)
    # h2's walk freed the nodes of y's graph that g2 was built from (Tanh among them)
    with pytest.raises(ValueError, match=r"grad: the graph through Tanh was already freed .* "
                                         r"pass retain_graph=True"):
        tc.grad(g1.sum(), [x])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(tg.sum(), [tx])


def test_create_graph_without_retain_graph_frees_the_graph(torch, rng):
    a = rng.standard_normal(4)
    x = tc.Value(a)
    y = tanh_times_x(ops, x)
    (g,) = tc.grad(y, [x], create_graph=True, retain_graph=False)
    tx = torch.tensor(a, requires_grad=True)
    ty = tanh_times_x(torch, tx)
    (tg,) = torch.autograd.grad(ty, [tx], create_graph=True, retain_graph=False)
    np.testing.assert_allclose(g.data, tg.detach().numpy(), **FLOAT64)
    for walk in (lambda: tc.grad(y, [x]), lambda: y.backward(), lambda: tc.grad(g.sum(), [x])):
        with pytest.raises(ValueError, match=r"the graph through \w+ was already freed by an "
                                             r"earlier backward pass"):
            walk()
    assert x.grad is None                       # the error came before any gradient changed
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        torch.autograd.grad(ty, [tx])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_penalty_backward_equals_pytorch(torch, rng, dtype):
    """loss = mean(critic(x)) + mean((|d critic/dx| - 1)^2), the penalty's gradient taken with
    create_graph=True: backward() gives every parameter (and x) PyTorch's .grad."""
    tc.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                           nn.Flatten(), nn.Linear(8, 4), nn.Sigmoid(), nn.Linear(4, 1))
    their_critic = twin(torch, critic, torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.Tanh(), torch.nn.AvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(8, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1)))
    for param in critic.parameters():
        param.data = param.data.astype(dtype)
    images = rng.standard_normal((3, 1, 4, 4)).astype(dtype)

    x = tc.Value(images)
    scores = critic(x)
    (dx,) = tc.grad(scores.sum(), [x], create_graph=True)          # (3, 1, 4, 4)
    norms = (dx * dx).sum(axis=(1, 2, 3)).sqrt()
    loss = scores.mean() + ((norms - 1) ** 2).mean()
    loss.backward()

    their_x = torch.tensor(images.astype(np.float64), requires_grad=True)
    their_scores = their_critic(their_x)
    (their_dx,) = torch.autograd.grad(their_scores.sum(), [their_x], create_graph=True)
    their_norms = their_dx.square().sum(dim=(1, 2, 3)).sqrt()
    (their_scores.mean() + ((their_norms - 1) ** 2).mean()).backward()

    tol = FLOAT32 if dtype == np.float32 else FLOAT64
    np.testing.assert_allclose(x.grad, their_x.grad.numpy(), **tol)
    assert x.grad.dtype == dtype
    for (name, param), their_param in zip(critic.named_parameters(), their_critic.parameters(),
                                          strict=True):
        assert param.grad.dtype == dtype, name
        np.testing.assert_allclose(param.grad, their_param.grad.numpy(), err_msg=name, **tol)


class KeepsAFloat(tc.Function):
    """e^x with e^x kept on self for backward: first order only."""

    def forward(self, x):
        self.e = np.exp(x)
        return self.e

    def backward(self, grad):
        return grad * self.e


class UsesNumpy(tc.Function):
    """e^x whose rule calls np.float_power (no op here) on what self.saved() gives: first order
    only."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad):
        x, _ = self.saved()
        return grad * np.float_power(np.e, x)


@pytest.mark.parametrize("op, message", [
    (KeepsAFloat, r"KeepsAFloat: its backward cannot be differentiated again \(create_graph="
                  r"True\): forward kept the float value\(s\) self\.e"),
    (UsesNumpy, r"UsesNumpy\.backward failed on Values under create_graph=True: .* must "
                r"compute with Value operators"),
])
def test_a_rule_that_cannot_be_differentiated_again_is_a_clear_error(rng, op, message):
    a = rng.standard_normal(3)
    x = tc.Value(a)
    (g,) = tc.grad(op.apply(x).sum(), [x])                  # first order works
    np.testing.assert_allclose(g.data, np.exp(a), rtol=1e-14)
    with pytest.raises(TypeError, match=message):
        tc.grad(op.apply(x).sum(), [x], create_graph=True)
    assert x.grad is None
