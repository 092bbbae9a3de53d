"""Every public op, the nn layers and the optimizers at the edges of their inputs, against PyTorch
float64: 0-d, size-1 and size-0 dimensions; float32 (which must stay float32, gradients too);
transposed, Fortran-order, negative-stride and read-only broadcast arrays as data; negative axes,
keepdims and axis tuples; a Value used twice in one op. After each backward every node's `.grad`
is an ndarray of its own (never a numpy scalar, never sharing memory with another `.grad` or any
`.data`) of the node's shape and dtype, and a second backward accumulates exactly twice."""

import numpy as np
import pytest
from edge_cases import (
    EMBEDDING_EMPTY_IDS,
    EMBEDDINGS,
    IDX,
    LAYERS,
    LAYOUTS,
    SHARED_CASES,
    UNARY_OPS,
    alternate,
    away,
    negative_strides,
    normal,
    positive,
    reduce_torch,
    t,
    transposed,
)

import tinygrad_cnn as tc
from tinygrad_cnn import ops, optim
from tinygrad_cnn.function import topo_order

F = None    # filled in below: torch.nn.functional, set by the torch fixture in each test

# (id, make float64 inputs from rng, ours, theirs(torch, *tensors))
CASES = [
    *SHARED_CASES,                      # edge_cases.py: the cases both sweeps run
    # unary elementwise: 0-d, size 1, size 0
    *[(f"{name}-{shape}", make(shape), ours, theirs)
      for name, make, ours, theirs in [
          *UNARY_OPS,                   # edge_cases.py: in both sweeps
          ("clip-np-bounds", away, lambda x: ops.clip(x, min=np.float64(-0.5)),
           lambda th, x: th.clamp(x, min=-0.5)),
          ("pow-np-exponent", positive, lambda x: x ** np.float64(0.5), lambda th, x: x ** 0.5),
          ("numbers", away, lambda x: (2.0 - x) * 3 / x + np.float64(1.5) - True,
           lambda th, x: (2.0 - x) * 3 / x + 1.5 - 1),
      ] for shape in [(), (1,), (0, 3), (2, 3)]],
    # binary elementwise with broadcasting: 0-d with 0-d and with arrays, size 0 and size 1
    *[(f"{name}-{sa}-{sb}", make(sa, sb), ours, theirs)
      for name, make, ours, theirs in [
          ("add", normal, ops.add, lambda th, a, b: a + b),
          ("sub", normal, ops.sub, lambda th, a, b: a - b),
          ("mul", normal, ops.mul, lambda th, a, b: a * b),
          ("div", away, ops.div, lambda th, a, b: a / b),
          ("minimum", normal, ops.minimum, lambda th, a, b: th.minimum(a, b)),
          ("maximum", normal, ops.maximum, lambda th, a, b: th.maximum(a, b)),
          ("where", normal, lambda a, b: ops.where(alternate(np.broadcast_shapes(a.shape,
                                                                                   b.shape)), a, b),
           lambda th, a, b: th.where(t(th, alternate(th.broadcast_shapes(a.shape, b.shape))),
                                     a, b)),
      ] for sa, sb in [((), ()), ((), (2, 3)), ((1,), (3,)), ((0, 3), (1, 3)), ((2, 1), (1, 0)),
                       ((2, 1, 3), (4, 1))]],
    ("where-0d-condition", normal((2, 3), ()), lambda a, b: ops.where(np.bool_(False), a, b),
     lambda th, a, b: th.where(th.tensor(False), a, b)),
    # a Value used twice in one op
    ("x-x-0d", normal(()), lambda x: x - x, lambda th, x: x - x),
    ("maximum(x,x)", normal((2, 3)), lambda x: ops.maximum(x, x),
     lambda th, x: th.maximum(x, x)),
    ("where(c,x,x)", normal((2, 3)), lambda x: ops.where(alternate((2, 3)), x, x * 2),
     lambda th, x: th.where(t(th, alternate((2, 3))), x, x * 2)),
    ("cat([x,x])", normal((2, 3)), lambda x: ops.cat([x, x], axis=-1),
     lambda th, x: th.cat([x, x], dim=-1)),
    ("x[repeated]", normal((3, 2)), lambda x: x[IDX % 3], lambda th, x: x[t(th, IDX % 3)]),
    ("x[repeated]-0d-rows", normal((3,)), lambda x: x[IDX % 3], lambda th, x: x[t(th, IDX % 3)]),
    *EMBEDDINGS, EMBEDDING_EMPTY_IDS,
    ("mse(x,x)", normal((2, 3)), lambda x: ops.mse_loss(x, x), lambda th, x: F.mse_loss(x, x)),
    # reductions: 0-d, size 1, size 0, negative axes, keepdims, axis tuples
    *[(f"{name}-{shape}-axis={axis}-keepdims={keep}", normal(shape),
       lambda x, op=name, axis=axis, keep=keep: getattr(ops, op)(x, axis=axis, keepdims=keep),
       lambda th, x, op=name, axis=axis, keep=keep: reduce_torch(th, op, x, axis, keep))
      for name in ["sum", "mean", "max", "min", "var", "std", "logsumexp", "prod"]
      for shape, axis, keep in [((), None, False), ((), None, True), ((1,), 0, True),
                                ((1,), -1, False), ((2, 3, 4), (-1, 0), True),
                                ((2, 3, 4), (2, -2), False), ((0, 3), 1, False),
                                ((0, 3), -1, True)]
      if not (name in ("var", "std") and (shape in [(1,), ()] or 0 in shape))],
    ("sum-empty-axis", normal((0, 3)), lambda x: ops.sum(x, axis=0),
     lambda th, x: th.sum(x, dim=0)),
    ("logsumexp-empty-axis", normal((0, 3)), lambda x: ops.logsumexp(x, axis=0),
     lambda th, x: th.logsumexp(x, dim=0)),                    # ln 0 = -inf, as PyTorch
    ("var-ddof1-0d-rows", normal((4, 1)), lambda x: ops.var(x, axis=0, ddof=1),
     lambda th, x: th.var(x, dim=0, correction=1)),
    # shape ops
    ("reshape-0d", normal(()), lambda x: x.reshape(1, 1), lambda th, x: x.reshape(1, 1)),
    ("flatten-negative", normal((2, 3, 4)), lambda x: ops.flatten(x, -2),
     lambda th, x: th.flatten(x, -2)),
    ("transpose-negative", normal((2, 3, 4)), lambda x: x.transpose(-1, 0, 1),
     lambda th, x: x.permute(-1, 0, 1)),
    ("broadcast_to-0d", normal(()), lambda x: ops.broadcast_to(x, (2, 3)),
     lambda th, x: x.expand(2, 3)),
    # matmul and linear: vectors, size 1, empty inner and batch dimensions, broadcast batches
    ("matmul-empty-vec", normal((0,), (0,)), ops.matmul, lambda th, a, b: a @ b),
    # softmax and the losses
    ("log_softmax-empty-axis", normal((2, 0)), lambda x: ops.log_softmax(x, axis=1),
     lambda th, x: th.log_softmax(x, 1)),
    *[(f"binary_cross_entropy-{shape}-{reduction}", normal(shape, shape),
       lambda x, y, r=reduction: ops.binary_cross_entropy(ops.sigmoid(x), ops.sigmoid(y),
                                                          reduction=r),
       lambda th, x, y, r=reduction: F.binary_cross_entropy(th.sigmoid(x), th.sigmoid(y),
                                                            reduction=r))
      for shape, reduction in [((), "mean"), ((), "none"), ((0, 3), "sum"), ((0, 3), "none"),
                               ((1,), "mean"), ((2, 3), "none")]],
    # indexing and joining
    ("getitem-0d-empty-tuple", normal(()), lambda x: x[()], lambda th, x: x[()]),
    ("getitem-0d-mask", normal(()), lambda x: x[np.bool_(True)], lambda th, x: x[True]),
    ("getitem-int-to-0d", normal((3,)), lambda x: x[-1], lambda th, x: x[-1]),
    ("getitem-false-mask", normal((3, 2)), lambda x: x[np.zeros(3, dtype=bool)],
     lambda th, x: x[th.zeros(3, dtype=th.bool)]),
    ("cat-empty", normal((0, 3), (2, 3)), lambda a, b: ops.cat([a, b]),
     lambda th, a, b: th.cat([a, b])),
    ("stack-0d", normal((), ()), lambda a, b: ops.stack([a, b], axis=-1),
     lambda th, a, b: th.stack([a, b], -1)),
    ("split-negative-axis", normal((2, 6)), lambda x: ops.cat(ops.split(x, 3, axis=-1)[::-1], 1),
     lambda th, x: th.cat(th.tensor_split(x, 3, dim=-1)[::-1], 1)),
    ("split-empty-axis", normal((0, 2)), lambda x: ops.split(x, 1)[0],
     lambda th, x: th.tensor_split(x, 1)[0]),
    ("pad-size1", normal((1, 1)), lambda x: ops.pad(x, ((0, 0), (2, 1))),
     lambda th, x: F.pad(x, (2, 1))),
    # convolution and pooling at their smallest
    ("max_pool2d-whole", normal((2, 1, 3, 3)), lambda x: ops.max_pool2d(x, 3),
     lambda th, x: F.max_pool2d(x, 3)),
    ("avg_pool2d-1x1", normal((1, 2, 1, 1)), lambda x: ops.avg_pool2d(x, 1),
     lambda th, x: F.avg_pool2d(x, 1)),
    ("adaptive_avg_pool2d-1x1-spread", normal((1, 2, 1, 1)),
     lambda x: ops.adaptive_avg_pool2d(x, (2, 3)), lambda th, x: F.adaptive_avg_pool2d(x, (2, 3))),
    ("adaptive_avg_pool2d-global", normal((2, 3, 3, 4)), lambda x: ops.adaptive_avg_pool2d(x, 1),
     lambda th, x: F.adaptive_avg_pool2d(x, 1)),
    ("conv1d-one-sample", normal((1, 1, 1), (2, 1, 1), (2,)), ops.conv1d,
     lambda th, x, w, b: F.conv1d(x, w, b)),
    ("conv1d-one-signal-kernel-as-signal", normal((2, 3), (1, 2, 3)), ops.conv1d,
     lambda th, x, w: F.conv1d(x, w)),
    ("conv2d-one-image-same", normal((2, 3, 2), (1, 2, 3, 1)),
     lambda x, w: ops.conv2d(x, w, padding="same"),
     lambda th, x, w: F.conv2d(x, w, padding="same")),
    ("max_pool1d-whole-one-signal", normal((2, 3)), lambda x: ops.max_pool1d(x, 3),
     lambda th, x: F.max_pool1d(x, 3)),
    ("avg_pool1d-1", normal((1, 2, 1)), lambda x: ops.avg_pool1d(x, 1),
     lambda th, x: F.avg_pool1d(x, 1)),
    ("max_pool2d-whole-one-image", normal((2, 3, 3)), lambda x: ops.max_pool2d(x, 3),
     lambda th, x: F.max_pool2d(x, 3)),
    ("avg_pool2d-1x1-one-image", normal((2, 1, 1)), lambda x: ops.avg_pool2d(x, 1),
     lambda th, x: F.avg_pool2d(x, 1)),
    ("adaptive_avg_pool2d-one-image", normal((2, 5, 3)),
     lambda x: ops.adaptive_avg_pool2d(x, (3, None)),
     lambda th, x: F.adaptive_avg_pool2d(x, (3, None))),
    # batch norm (training: the batch's statistics; evaluation: fixed ones)
    ("batch_norm-eval-no-channels", normal((4, 0)),
     lambda x: ops.batch_norm(x, np.zeros(0, x.dtype), np.ones(0, x.dtype)),
     lambda th, x: F.batch_norm(x, th.zeros(0), th.ones(0))),
]


@pytest.fixture(autouse=True)
def functional(torch):
    global F
    F = torch.nn.functional


def check(torch, rng, arrays, ours, theirs, rtol=1e-12, atol=1e-14):
    """ours on Values of `arrays` against theirs in float64: the forward, the dtype, every
    gradient through a random upstream gradient; the `.grad` of every node; and a second
    backward that doubles every `.grad`."""
    values = [tc.Value(a) for a in arrays]
    out = ours(*values)
    tensors = [torch.tensor(np.array(a, dtype=np.float64, order="C"), requires_grad=True)
               for a in arrays]
    expected = theirs(torch, *tensors)
    assert out.dtype == arrays[0].dtype
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)

    upstream = np.asarray(rng.standard_normal(out.shape), dtype=out.dtype)
    out.backward(upstream, retain_graph=True)
    their_grads = torch.autograd.grad(expected, tensors, torch.tensor(upstream.astype(np.float64)),
                                      allow_unused=True)
    for i, (value, tg) in enumerate(zip(values, their_grads, strict=True)):
        tg = np.zeros(value.shape) if tg is None else tg.numpy()
        np.testing.assert_allclose(value.grad, tg, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    check_grads_and_second_backward(out, values, upstream)


def check_grads_and_second_backward(out, values, upstream):
    """After out.backward(upstream, retain_graph=True): every node's .grad is an ndarray of its
    node's shape and dtype sharing memory with no other .grad, no .data and not the upstream
    gradient; a second backward then doubles every .grad exactly."""
    nodes = topo_order(out)
    for node in nodes:
        name = node.fn.name if node.fn else "a leaf"
        assert type(node.grad) is np.ndarray, f"{name}: .grad is a {type(node.grad)}"
        assert node.grad.shape == node.shape, name
        assert node.grad.dtype == node.dtype, name
        assert not np.shares_memory(node.grad, upstream), name
        for other in nodes + values:
            assert not np.shares_memory(node.grad, other.data), f"{name}: .grad is some .data"
            if other is not node and other.grad is not None:
                assert not np.shares_memory(node.grad, other.grad), f"{name}: .grad is shared"
    first = [node.grad.copy() for node in nodes]
    out.backward(upstream)
    for node, g in zip(nodes, first, strict=True):
        np.testing.assert_array_equal(node.grad, 2 * g)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_float64_equals_pytorch(torch, rng, make, ours, theirs):
    check(torch, rng, make(rng), ours, theirs)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_float32_stays_float32(torch, rng, make, ours, theirs):
    arrays = [a.astype(np.float32) for a in make(rng)]
    check(torch, rng, arrays, ours, theirs, rtol=2e-5, atol=2e-6)


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("make, ours, theirs", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_non_contiguous_data(torch, rng, make, ours, theirs, layout):
    check(torch, rng, [LAYOUTS[layout](a) for a in make(rng)], ours, theirs)


@pytest.mark.parametrize("layout", ["contiguous", *LAYOUTS])
@pytest.mark.parametrize("ours, theirs, shape", [case[1:] for case in LAYERS],
                         ids=[case[0] for case in LAYERS])
def test_layers_keep_float32_and_equal_pytorch(torch, rng, ours, theirs, shape, layout):
    tc.manual_seed(0)
    layer, their_layer = ours(), theirs(torch)
    with torch.no_grad():
        for name, param in layer.named_parameters():
            their_layer.get_parameter(name).copy_(torch.from_numpy(param.data))
    x = rng.standard_normal(shape).astype(np.float32)
    x = x if layout == "contiguous" else LAYOUTS[layout](x)
    value = tc.Value(x)
    out = layer(value)
    their_x = torch.tensor(np.array(x, dtype=np.float64, order="C"), requires_grad=True)
    expected = their_layer(their_x)
    assert out.dtype == np.float32 and out.shape == tuple(expected.shape)
    tight = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **tight)
    for name, buffer in layer.named_buffers():
        np.testing.assert_allclose(buffer.data, their_layer.get_buffer(name).numpy(), **tight)

    upstream = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(upstream, retain_graph=True)
    expected.backward(torch.tensor(upstream.astype(np.float64)))
    np.testing.assert_allclose(value.grad, their_x.grad.numpy(), **tight)
    for name, param in layer.named_parameters():
        assert param.grad.dtype == np.float32
        np.testing.assert_allclose(param.grad, their_layer.get_parameter(name).grad.numpy(),
                                   err_msg=name, **tight)
    check_grads_and_second_backward(out, [value, *layer.parameters()], upstream)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (0, 3), (4, 5)])
def test_dropout_scales_what_it_keeps(rng, shape, dtype):
    """Dropout on a read-only broadcast input: kept elements are x / (1 - p), the rest 0, and
    the gradient is the upstream gradient through the same mask, in x's dtype."""
    x = tc.Value(np.broadcast_to(np.asarray(1.5, dtype=dtype), shape))
    tc.manual_seed(0)
    out = ops.dropout(x, p=0.25)
    kept = out.data != 0
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, np.where(kept, 1.5 / 0.75, 0.0), rtol=1e-7)
    upstream = rng.standard_normal(shape).astype(dtype)
    out.backward(upstream, retain_graph=True)
    np.testing.assert_allclose(x.grad, np.where(kept, upstream / 0.75, 0.0), rtol=1e-6)
    check_grads_and_second_backward(out, [x], upstream)


OPTIMIZERS = [("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
              ("Adam", dict(lr=0.1)), ("Adam", dict(lr=0.1, weight_decay=0.1)),
              ("AdamW", dict(lr=0.1, weight_decay=0.1)),
              ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adam", dict(amsgrad=True)),
              ("RMSprop", dict(momentum=0.9, centered=True)),
              ("Adagrad", dict(lr=0.1, weight_decay=0.1))]
PARAMS = {"0d": lambda rng: rng.standard_normal(()), "size1": lambda rng: rng.standard_normal(1),
          "empty": lambda rng: rng.standard_normal((0, 3)),
          "transposed": lambda rng: transposed(rng.standard_normal((2, 3))),
          "negative-strides": lambda rng: negative_strides(rng.standard_normal((3,)))}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("param", PARAMS)
@pytest.mark.parametrize("name, settings", OPTIMIZERS,
                         ids=[f"{n}-{'-'.join(s)}" for n, s in OPTIMIZERS])
def test_optimizers_update_every_kind_of_parameter_in_place(torch, rng, name, settings, param,
                                                            dtype):
    start = PARAMS[param](rng).astype(dtype)
    value = tc.Value(start)
    data = value.data
    optimizer = getattr(optim, name)([value], **settings)
    their_param = torch.nn.Parameter(torch.tensor(np.array(start, dtype=np.float64, order="C")))
    their_optimizer = getattr(torch.optim, name)([their_param], **settings)
    for _ in range(3):
        g = rng.standard_normal(start.shape)
        value.grad = g.astype(dtype)
        their_param.grad = torch.tensor(g.astype(dtype).astype(np.float64))
        optimizer.step()
        their_optimizer.step()
    assert value.data is data and value.dtype == dtype     # updated in place, dtype kept
    tight = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12}
    np.testing.assert_allclose(value.data, their_param.detach().numpy(), **tight)
    for buffer in optimizer.state[0].values():
        if not isinstance(buffer, int):
            assert type(buffer) is np.ndarray
            assert buffer.shape == start.shape and buffer.dtype == dtype

