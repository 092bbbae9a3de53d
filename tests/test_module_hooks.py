"""Module.register_forward_hook and register_forward_pre_hook (PyTorch's semantics: what the
hooks see, replacing inputs and outputs, order, removal, gradients through a replaced output)
and Module.requires_grad_ (a frozen part gets no gradient and an optimizer leaves it alone)."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim


def make_model():
    tc.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()


def test_forward_hooks_see_each_call_and_keep_activations(rng):
    model, seen = make_model(), []
    handle = model[1].register_forward_hook(
        lambda module, args, output: seen.append((module, args[0].data, output.data)))
    x = rng.standard_normal((5, 3))
    model(x)
    model(x[:2])
    assert [len(s[1]) for s in seen] == [5, 2] and seen[0][0] is model[1]
    hidden = model[0](x).data
    np.testing.assert_array_equal(seen[0][1], hidden)
    np.testing.assert_array_equal(seen[0][2], np.maximum(hidden, 0))
    handle.remove()
    handle.remove()                                   # again: nothing more
    model(x)
    assert len(seen) == 2


def test_hooks_replace_inputs_and_outputs_in_order_and_gradients_follow(rng):
    model, order = make_model(), []
    x = rng.standard_normal((4, 3))
    expected = model(x * 2).data * 3 + 1

    def double_input(module, args):
        order.append("pre")
        return args[0] * 2                            # a single input: wrapped in a tuple

    model.register_forward_pre_hook(double_input)
    model.register_forward_hook(lambda m, a, out: order.append("post 1") or out * 3)
    model.register_forward_hook(lambda m, a, out: order.append("post 2") or out + 1)
    v = tc.Value(x)
    out = model(v)
    np.testing.assert_allclose(out.data, expected, rtol=1e-15)
    assert order == ["pre", "post 1", "post 2"]
    out.sum().backward()                              # through x * 2 and the * 3 of the hooks
    w1, w2 = model[0].weight.data, model[2].weight.data
    mask = (model[0](x * 2).data > 0).astype(float)
    np.testing.assert_allclose(v.grad, 6 * (mask * w2.sum(0)) @ w1, rtol=1e-13)


def test_a_hook_that_is_not_callable_is_refused():
    with pytest.raises(TypeError, match="ReLU: the hook is a int, not callable; expected a "
                                        "function"):
        nn.ReLU().register_forward_hook(3)


def test_requires_grad_false_freezes_a_part_of_the_model(rng):
    model = make_model()
    assert model[0].requires_grad_(False) is model[0]
    before = {name: value.copy() for name, value in model.state_dict().items()}
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    model(rng.standard_normal((4, 3))).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    optimizer.step()
    after = model.state_dict()
    np.testing.assert_array_equal(after["0.weight"], before["0.weight"])
    assert not np.array_equal(after["2.weight"], before["2.weight"])
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match="requires_grad is int 0; expected True or False"):
        model.requires_grad_(0)
