"""Hessian-vector products against PyTorch's double backward in float64: an MLP, a small
seed CNN (conv, relu, conv, max-pool, flatten, linear, cross-entropy) and a CNN with an adaptive
average-pooling head (conv, tanh, adaptive_avg_pool2d with overlapping bins and global, linear,
log_softmax, nll_loss)."""

import numpy as np

import tinygrad_cnn as tc


def hessian_vector_product(loss_fn, arrays, vectors):
    """H v for the loss as a function of `arrays`, with tc.grad twice."""
    params = [tc.Value(a.copy()) for a in arrays]
    grads = tc.grad(loss_fn(*params), params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vectors, strict=True))    # g . v
    return [h.data for h in tc.grad(dot, params)]


def torch_hessian_vector_product(torch, loss_fn, arrays, vectors):
    params = [torch.tensor(a, requires_grad=True) for a in arrays]
    grads = torch.autograd.grad(loss_fn(*params), params, create_graph=True)
    dot = sum((g * torch.tensor(v)).sum() for g, v in zip(grads, vectors, strict=True))
    return [h.detach().numpy() for h in torch.autograd.grad(dot, params)]


def test_mlp_hessian_vector_product_equals_pytorch(torch, rng):
    x, labels = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    shapes = [(7, 5), (7,), (3, 7), (3,)]
    arrays = [rng.standard_normal(s) for s in shapes]
    vectors = [rng.standard_normal(s) for s in shapes]

    def ours(w1, b1, w2, b2):
        hidden = tc.ops.linear(x, w1, b1).tanh()
        return tc.ops.cross_entropy(tc.ops.linear(hidden, w2, b2).sigmoid() * 3.0, labels)

    def theirs(w1, b1, w2, b2):
        f = torch.nn.functional
        hidden = torch.tanh(f.linear(torch.tensor(x), w1, b1))
        return f.cross_entropy(torch.sigmoid(f.linear(hidden, w2, b2)) * 3.0,
                               torch.tensor(labels))

    for mine, expected in zip(hessian_vector_product(ours, arrays, vectors),
                              torch_hessian_vector_product(torch, theirs, arrays, vectors),
                              strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-10, atol=1e-12)


def test_seed_cnn_hessian_vector_product_equals_pytorch(torch, rng):
    images, labels = rng.standard_normal((3, 1, 8, 8)), rng.integers(0, 4, 3)
    shapes = [(2, 1, 3, 3), (2,), (3, 2, 3, 3), (3,), (4, 12), (4,)]
    arrays = [rng.standard_normal(s) * 0.5 for s in shapes]
    vectors = [rng.standard_normal(s) for s in shapes]

    def ours(w1, b1, w2, b2, w3, b3):
        h = tc.ops.conv2d(images, w1, b1, padding=1).relu()           # (3, 2, 8, 8)
        h = tc.ops.conv2d(h, w2, b2, stride=2).relu()                 # (3, 3, 3, 3)
        h = tc.ops.max_pool2d(h, 2, stride=1)                         # (3, 3, 2, 2)
        return tc.ops.cross_entropy(tc.ops.linear(tc.ops.flatten(h, 1), w3, b3), labels)

    def theirs(w1, b1, w2, b2, w3, b3):
        f = torch.nn.functional
        h = f.relu(f.conv2d(torch.tensor(images), w1, b1, padding=1))
        h = f.relu(f.conv2d(h, w2, b2, stride=2))
        h = f.max_pool2d(h, 2, stride=1)
        return f.cross_entropy(f.linear(torch.flatten(h, 1), w3, b3), torch.tensor(labels))

    mine = hessian_vector_product(ours, arrays, vectors)
    expected = torch_hessian_vector_product(torch, theirs, arrays, vectors)
    for m, e in zip(mine, expected, strict=True):
        np.testing.assert_allclose(m, e, rtol=1e-10, atol=1e-12)
    assert max(np.abs(m).max() for m in mine) > 1e-3        # a product that is not all zeros


def test_adaptive_pooling_cnn_hessian_vector_product_equals_pytorch(torch, rng):
    images, labels = rng.standard_normal((3, 1, 7, 9)), rng.integers(0, 4, 3)
    shapes = [(2, 1, 3, 3), (2,), (4, 2 * 3 * 4 + 2), (4,)]
    arrays = [rng.standard_normal(s) * 0.5 for s in shapes]
    vectors = [rng.standard_normal(s) for s in shapes]

    def ours(w1, b1, w2, b2):
        h = tc.ops.conv2d(images, w1, b1).tanh()                        # (3, 2, 5, 7)
        bins = tc.ops.adaptive_avg_pool2d(h, (3, 4))                     # (3, 2, 3, 4), overlapping
        whole = tc.ops.adaptive_avg_pool2d(h * h, 1)                     # (3, 2, 1, 1)
        features = tc.ops.cat([tc.ops.flatten(bins, 1), tc.ops.flatten(whole, 1)], axis=1)
        return tc.ops.nll_loss(tc.ops.log_softmax(tc.ops.linear(features, w2, b2), axis=1),
                               labels)

    def theirs(w1, b1, w2, b2):
        f = torch.nn.functional
        h = torch.tanh(f.conv2d(torch.tensor(images), w1, b1))
        bins = f.adaptive_avg_pool2d(h, (3, 4))
        whole = f.adaptive_avg_pool2d(h * h, 1)
        features = torch.cat([torch.flatten(bins, 1), torch.flatten(whole, 1)], dim=1)
        return f.nll_loss(f.log_softmax(f.linear(features, w2, b2), dim=1), torch.tensor(labels))

    mine = hessian_vector_product(ours, arrays, vectors)
    expected = torch_hessian_vector_product(torch, theirs, arrays, vectors)
    for m, e in zip(mine, expected, strict=True):
        np.testing.assert_allclose(m, e, rtol=1e-10, atol=1e-12)
    assert max(np.abs(m).max() for m in mine) > 1e-3        # a product that is not all zeros
