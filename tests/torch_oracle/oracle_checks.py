"""The check that the PyTorch-oracle sweeps of ops share: one case's forward, every input's
gradient through a random upstream gradient and the second derivatives (d/d inputs of g . v,
with g the first gradients), ours against PyTorch's in float64. An input PyTorch leaves unused
(None) has a zero gradient."""

import numpy as np

import tinygrad_cnn as tc


def assert_equals_pytorch(torch, rng, make, ours, theirs) -> None:
    """make(rng) -> the input arrays; ours(*Values) and theirs(torch, *tensors) -> the output."""
    arrays = make(rng)
    values = [tc.Value(a.copy()) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*values), theirs(torch, *tensors)
    np.testing.assert_allclose(out.data, expected.detach().numpy(force=True),
                               rtol=1e-12, atol=1e-14)
    assert out.shape == tuple(expected.shape)

    upstream = rng.standard_normal(out.shape)
    grads = tc.grad(out, values, grad_output=upstream, create_graph=True)
    torch_grads = torch.autograd.grad(expected, tensors, torch.tensor(upstream),
                                      create_graph=True, allow_unused=True)
    for i, (g, tg) in enumerate(zip(grads, torch_grads, strict=True)):
        tg = np.zeros(arrays[i].shape) if tg is None else tg.detach().numpy(force=True)
        np.testing.assert_allclose(g.data, tg, rtol=1e-11, atol=1e-13,
                                   err_msg=f"gradient of input {i}")

    # second derivatives: d/d inputs of sum_i g_i . v_i
    vectors = [rng.standard_normal(a.shape) for a in arrays]
    dot = sum((g * v).sum() for g, v in zip(grads, vectors, strict=True))
    second = (tc.grad(dot, values) if dot.requires_grad
              else [tc.Value(np.zeros(a.shape)) for a in arrays])
    torch_dot = sum((g * torch.tensor(v)).sum()
                    for g, v in zip(torch_grads, vectors, strict=True) if g is not None)
    torch_second = (torch.autograd.grad(torch_dot, tensors, allow_unused=True)
                    if torch.is_tensor(torch_dot) and torch_dot.requires_grad
                    else [None] * len(arrays))
    for i, (h, th) in enumerate(zip(second, torch_second, strict=True)):
        th = np.zeros(arrays[i].shape) if th is None else th.detach().numpy(force=True)
        np.testing.assert_allclose(h.data, th, rtol=1e-10, atol=1e-12,
                                   err_msg=f"second derivative w.r.t. input {i}")
