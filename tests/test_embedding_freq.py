"""embedding(..., scale_grad_by_freq=True) and nn.Embedding(scale_grad_by_freq=True): the forward
is the plain lookup; the weight gradient against loops written from the definition (row i's
gradient over k_i, the count of i in the ids of the call), with padding_idx and max_norm; the
second order by finite differences of the backward; the node's params; sparse=True and
non-bool flags refused, the fix run; ONNX export the same as without the option."""

import numpy as np
import pytest
from optional import require

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def scaled_gradient(ids, upstream, num_embeddings, padding_idx=None):
    """dw[i] = sum over the positions p holding i of upstream[p] / k_i, with k_i the number of
    such positions; nothing from positions holding padding_idx. Loops, as the definition."""
    dw = np.zeros((num_embeddings, upstream.shape[-1]))
    flat_ids, flat_up = ids.reshape(-1), upstream.reshape(-1, upstream.shape[-1])
    for p, i in enumerate(flat_ids):
        if i != padding_idx:
            dw[i] += flat_up[p] / np.sum(flat_ids == i)
    return dw


@pytest.mark.parametrize("ids", [np.array([3, 1, 3, 3, 0, 1]),
                                 np.array([[2, 2], [5, 2]]),
                                 np.array([[[4]]]),
                                 np.array([0, 1, 2, 3, 4, 5])])   # each id once: k = 1
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_weight_gradient_is_divided_by_each_ids_count(rng, ids, padding_idx):
    weight = tc.Value(rng.standard_normal((6, 3)))
    out = ops.embedding(ids, weight, padding_idx, scale_grad_by_freq=True)
    np.testing.assert_array_equal(out.data, weight.data[ids])
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(weight.grad, scaled_gradient(ids, upstream, 6, padding_idx),
                               rtol=1e-14, atol=1e-15)


def test_float32_layer_with_max_norm_keeps_its_dtype_and_the_rescaled_rows(rng):
    layer = nn.Embedding(5, 4, padding_idx=0, max_norm=1.0, scale_grad_by_freq=True, rng=rng)
    layer.weight.data *= 3
    ids = np.array([[1, 4, 1], [0, 1, 0]])
    out = layer(ids)
    assert np.allclose(np.linalg.norm(layer.weight.data[[1, 4]], axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(out.data, layer.weight.data[ids])
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    assert layer.weight.grad.dtype == np.float32
    np.testing.assert_allclose(layer.weight.grad, scaled_gradient(ids, upstream, 5, 0),
                               rtol=1e-6, atol=1e-7)


def test_counts_are_per_call(rng):
    """Two calls in one graph: each divides by the counts of its own ids."""
    weight = tc.Value(rng.standard_normal((4, 2)))
    first, second = np.array([1, 1, 1, 2]), np.array([1, 3])
    up1, up2 = rng.standard_normal((4, 2)), rng.standard_normal((2, 2))
    loss = ((ops.embedding(first, weight, scale_grad_by_freq=True) * up1).sum()
            + (ops.embedding(second, weight, scale_grad_by_freq=True) * up2).sum())
    loss.backward()
    np.testing.assert_allclose(weight.grad, scaled_gradient(first, up1, 4)
                               + scaled_gradient(second, up2, 4), rtol=1e-14)


def central_differences(f, arrays, eps=1e-6):
    """d f / d arrays[k] for a float-valued f(*arrays), element by element, by central
    differences (f may differentiate inside: it runs with the grad mode on, as training does)."""
    grads = []
    for k, array in enumerate(arrays):
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            moved = [a.copy() for a in arrays]
            moved[k][index] += eps
            up = f(*moved)
            moved[k][index] -= 2 * eps
            grad[index] = (up - f(*moved)) / (2 * eps)
        grads.append(grad)
    return grads


def check_second_order(f, arrays):
    """f(*Values, create_graph) -> a scalar Value built through a tc.grad: its gradients by
    tc.grad (create_graph=True inside) equal central differences of its value."""
    values = [tc.Value(a) for a in arrays]
    analytic = tc.grad(f(*values, create_graph=True), values)
    numeric = central_differences(
        lambda *a: f(*(tc.Value(x) for x in a), create_graph=False).item(), arrays)
    for k, (ours, expected) in enumerate(zip(analytic, numeric, strict=True)):
        np.testing.assert_allclose(ours.data, expected, rtol=1e-6, atol=1e-8,
                                   err_msg=f"input {k}")


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_the_backward_is_linear_in_the_upstream_gradient_to_every_order(rng, padding_idx):
    """s = <v, dw(upstream)>, dw the scaled weight gradient recorded under create_graph:
    ds/dupstream = v[ids] / k (zero at padding_idx), by formula and by central differences;
    ds/dweight = 0 (the lookup's gradient does not depend on the table)."""
    ids = np.array([[3, 1, 3], [1, 1, 0]])
    v = rng.standard_normal((5, 2))

    def projected(upstream, weight, create_graph):
        out = ops.embedding(ids, weight, padding_idx, scale_grad_by_freq=True)
        (dw,) = tc.grad(out, [weight], grad_output=upstream, create_graph=create_graph)
        return (dw * v).sum()

    upstream, weight = rng.standard_normal((2, 3, 2)), rng.standard_normal((5, 2))
    check_second_order(projected, [upstream, weight])
    u, w = tc.Value(upstream), tc.Value(weight)
    du, dweight = tc.grad(projected(u, w, True), [u, w])
    counts = np.array([[2, 3, 2], [3, 3, 1]])
    expected = v[ids] / counts[..., None] * (ids != padding_idx)[..., None]
    np.testing.assert_allclose(du.data, expected, rtol=1e-14)
    assert not dweight.data.any()


def test_a_gradient_penalty_through_the_scaled_gradient_matches_finite_differences(rng):
    """loss + |g|^2, g the scaled gradient of loss by the table, differentiated by the matrix
    after the lookup: that path runs through the backward's derivative by its upstream
    gradient, a true derivative, so central differences agree. (By the table itself the
    scaled gradient is by design not the derivative, at any order.)"""
    ids = np.array([[3, 1, 3, 2], [0, 3, 1, 1]])
    table = rng.standard_normal((4, 3))

    def penalty(w2, create_graph):
        weight = tc.Value(table)
        out = ops.embedding(ids, weight, 0, scale_grad_by_freq=True)
        loss = (out @ w2).tanh().sum()
        (g,) = tc.grad(loss, [weight], create_graph=create_graph)
        return loss + (g * g).sum()

    check_second_order(penalty, [rng.standard_normal((3, 2))])


def test_the_node_records_the_option_only_when_set(rng):
    layer = nn.Embedding(6, 3, padding_idx=-1, rng=rng)
    ids = np.array([1, 5, 1])
    assert layer(ids).fn.params == {"padding_idx": 5}                 # as before the option
    layer = nn.Embedding(6, 3, padding_idx=-1, scale_grad_by_freq=True, rng=rng)
    assert layer(ids).fn.params == {"padding_idx": 5, "scale_grad_by_freq": True}
    assert repr(layer) == "Embedding(6, 3, padding_idx=5, scale_grad_by_freq=True)"
    assert layer.scale_grad_by_freq is True and layer.sparse is False
    assert list(layer.state_dict()) == ["weight"]


def test_sparse_is_refused_and_the_fix_works(rng):
    message = (r"sparse=True asks for a sparse weight gradient.*; expected sparse=False; pass "
               r"sparse=False \(the default\)")
    with pytest.raises(ValueError, match=r"Embedding: " + message):
        nn.Embedding(6, 3, scale_grad_by_freq=True, sparse=True)
    weight = tc.Value(rng.standard_normal((6, 3)))
    with pytest.raises(ValueError, match=r"embedding: " + message):
        ops.embedding([1, 2], weight, None, None, 2.0, True, True)    # PyTorch's positions
    layer = nn.Embedding(6, 3, scale_grad_by_freq=True, sparse=False, rng=rng)     # the fix
    layer(np.array([1, 1])).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad[1], np.ones(3, np.float32))
    ops.embedding([1, 2], weight, None, None, 2.0, True, False).sum().backward()
    np.testing.assert_array_equal(weight.grad[[1, 2]], np.ones((2, 3)))


@pytest.mark.parametrize("name", ["scale_grad_by_freq", "sparse"])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_flags_that_are_not_bools_are_refused(rng, name, value):
    with pytest.raises(TypeError, match=rf"Embedding: {name} is .*; expected True or False"):
        nn.Embedding(6, 3, **{name: value})
    with pytest.raises(TypeError, match=rf"embedding: {name} is .*; expected True or False"):
        ops.embedding([1], rng.standard_normal((6, 3)), **{name: value})
    nn.Embedding(6, 3, **{name: bool(value) and name != "sparse"})   # a bool works


def test_onnx_export_is_the_plain_lookup(rng, tmp_path):
    """scale_grad_by_freq changes only the gradient: the same nodes and outputs as without it."""
    require("onnx", "onnx")

    class Bag(nn.Module):
        def __init__(self, scale):
            self.emb = nn.Embedding(10, 4, padding_idx=0, scale_grad_by_freq=scale,
                                    rng=np.random.default_rng(3))

        def forward(self, ids):
            return self.emb(ids).mean(axis=1)

    ids = rng.integers(0, 10, (3, 5))
    scaled, plain = Bag(True).eval(), Bag(False).eval()
    proto = tc.onnx.export(scaled, ids, tmp_path / "scaled.onnx")
    assert str(proto.graph) == str(tc.onnx.export(plain, ids, tmp_path / "plain.onnx").graph)
    ort = require("onnxruntime", "onnx")
    session = ort.InferenceSession(str(tmp_path / "scaled.onnx"),
                                   providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": ids})
    with tc.no_grad():
        np.testing.assert_allclose(got, scaled(ids).data, rtol=1e-6)
