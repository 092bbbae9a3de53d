"""Tests of tinygrad_cnn.nn: module bookkeeping, initial ranges, layer forwards, module names
stamped on values, state dicts; Conv1d, MaxPool1d and AvgPool1d, and the 2-D layers on
unbatched inputs."""

import math
import re

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.function import current_module
from tinygrad_cnn.gradcheck import gradgradcheck
from tinygrad_cnn.random import default_generator


class Net(nn.Module):
    """conv -> ReLU -> pool in a Sequential, then flatten and a linear layer without bias."""

    def __init__(self, rng=None):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, kernel_size=10, rng=rng), nn.ReLU(),
                                      nn.MaxPool2d(2))
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * 5 * 5, 10, bias=False, rng=rng)

    def forward(self, x):
        return self.fc(self.flatten(self.features(x)))


class TwoLinear(nn.Module):
    """Linear 4 -> 3, ReLU, Linear 3 -> 2: a model that needs only ops.linear and ops.relu."""

    def __init__(self, rng=None):
        self.first = nn.Linear(4, 3, rng=rng)
        self.act = nn.ReLU()
        self.second = nn.Linear(3, 2, rng=rng)

    def forward(self, x):
        return self.second(self.act(self.first(x)))


def test_parameters_in_attribute_order():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "fc.weight"]
    params = list(net.parameters())
    assert [p.shape for p in params] == [(8, 1, 10, 10), (8,), (10, 200)]
    assert params[0] is net.features[0].weight and params[2] is net.fc.weight
    assert sum(p.size for p in params) == 8 * 100 + 8 + 2000


def test_sequential_parameter_names_and_shared_parameter_once():
    first = nn.Linear(2, 2)
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(2, 1))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                             "2.bias"]
    shared = nn.Sequential(first, first)
    assert [name for name, _ in shared.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(shared.modules())) == 2


class Tied(nn.Module):
    """An encoder and decoder sharing one weight, and one Linear held under two names."""

    def __init__(self, rng=None):
        self.enc = nn.Linear(3, 3, rng=rng)
        self.dec = nn.Linear(3, 3, rng=rng)
        self.dec.weight = self.enc.weight                  # tied weights
        block = nn.Linear(3, 3, rng=rng)
        self.first, self.second = block, block             # a shared module

    def forward(self, x):
        return self.second(self.first(self.dec(self.enc(x))))


def test_state_dict_names_a_shared_parameter_or_module_under_every_name(rng):
    model = Tied(rng=rng)
    assert list(model.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias",
                                        "first.weight", "first.bias", "second.weight",
                                        "second.bias"]                    # as PyTorch's
    assert [name for name, _ in model.named_parameters()] == [
        "enc.weight", "enc.bias", "dec.bias", "first.weight", "first.bias"]   # each once
    assert len(list(model.parameters())) == 5
    state = model.state_dict()
    np.testing.assert_array_equal(state["dec.weight"], model.enc.weight.data)
    np.testing.assert_array_equal(state["second.bias"], model.first.bias.data)

    fresh = Tied(rng=rng)
    assert fresh.load_state_dict(state) == ([], [])                     # strict: every key
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_array_equal(fresh(x).data, model(x).data)
    with pytest.raises(ValueError, match=r"missing keys: dec.weight"):
        fresh.load_state_dict({k: v for k, v in state.items() if k != "dec.weight"})


def test_loading_a_shared_parameter_keeps_the_tie_and_the_last_name_wins(rng):
    model = Tied(rng=rng)
    kept = model.enc.weight.data
    state = model.state_dict()
    state["enc.weight"] = np.full((3, 3), 1.0)
    state["dec.weight"] = np.full((3, 3), 2.0)          # later in state_dict order: it wins
    state["first.bias"], state["second.bias"] = np.zeros(3), np.full(3, 5.0)
    model.load_state_dict(state)
    assert model.dec.weight is model.enc.weight and model.enc.weight.data is kept
    np.testing.assert_array_equal(model.enc.weight.data, np.full((3, 3), 2.0))
    assert model.first is model.second
    np.testing.assert_array_equal(model.first.bias.data, [5.0, 5.0, 5.0])


def test_a_module_holding_its_owner_has_a_finite_state_dict(rng):
    outer = nn.Sequential(nn.Linear(2, 2, rng=rng))
    outer[0].owner = outer                                 # a cycle of modules
    assert list(outer.state_dict()) == ["0.weight", "0.bias"]
    assert [name for name, _ in outer.named_modules(remove_duplicate=False)] == ["", "0"]


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["features", "flatten", "fc"]
    assert list(net.children()) == [net.features, net.flatten, net.fc]
    assert [name for name, _ in net.named_modules()] == ["", "features", "features.0",
                                                         "features.1", "features.2", "flatten",
                                                         "fc"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Sequential", "Conv2d", "ReLU",
                                                        "MaxPool2d", "Flatten", "Linear"]


def test_a_submodule_held_under_two_names_is_one_child_but_runs_twice_in_a_sequential(rng):
    """As PyTorch: named_children() gives a module once, under its first name (a memo set);
    Sequential, ModuleList and ModuleDict hold it under every name, so Sequential(a, a) runs a
    twice and has length 2, and the repr and state dict name it under each name."""
    model = Tied(rng=rng)
    assert [name for name, _ in model.named_children()] == ["enc", "dec", "first"]
    assert list(model.children()) == [model.enc, model.dec, model.first]
    assert [name for name, _ in model.named_modules(remove_duplicate=False)] == [
        "", "enc", "dec", "first", "second"]
    assert "(first): Linear" in repr(model) and "(second): Linear" in repr(model)

    double = nn.Linear(2, 2, rng=rng)
    twice = nn.Sequential(double, nn.ReLU(), double)
    assert [name for name, _ in twice.named_children()] == ["0", "1"]
    assert len(twice) == 3 and list(twice) == [double, twice[1], double] and twice[2] is double
    x = rng.standard_normal((4, 2)).astype(np.float32)
    expected = double(ops.relu(double(tc.Value(x)))).data
    np.testing.assert_array_equal(twice(x).data, expected)
    assert list(twice.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert repr(twice).count("Linear(in_features=2, out_features=2, bias=True)") == 2

    layers = nn.ModuleList([double, double])
    assert len(layers) == 2 and list(layers) == [double, double] and layers[1] is double
    assert [name for name, _ in layers.named_children()] == ["0"]
    heads = nn.ModuleDict({"p": double, "q": double})
    assert list(heads) == ["p", "q"] and len(heads) == 2 and list(heads.values()) == [double] * 2
    assert [key for key, _ in heads.items()] == ["p", "q"]


def test_apply_visits_the_modules_below_first_as_pytorch(rng):
    net = Net()
    visited = []
    assert net.apply(visited.append) is net
    # PyTorch's order: a module's submodules (each with theirs first), then the module itself
    assert [type(m).__name__ for m in visited] == ["Conv2d", "ReLU", "MaxPool2d", "Sequential",
                                                   "Flatten", "Linear", "Net"]
    shared = nn.Linear(2, 2, rng=rng)
    twice = nn.Sequential(shared, nn.ReLU(), shared)
    shared.owner = twice                                   # and a cycle back to its owner
    visited.clear()
    twice.apply(visited.append)
    assert visited == [shared, twice[1], twice]
    # held by two modules: visited under each, as PyTorch does
    common = nn.Linear(2, 2, rng=rng)
    first, second = nn.Sequential(common), nn.Sequential(nn.Tanh(), common)
    top = nn.Sequential(first, second)
    visited.clear()
    top.apply(visited.append)
    assert visited == [common, first, second[0], common, second, top]


def test_train_eval_propagate_to_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert [m.training for m in net.modules()] == [False] * 7
    net.features.train()
    assert net.training is False and net.features[1].training is True
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_clears_every_gradient(rng):
    model = TwoLinear(rng=rng)
    model(tc.Value(rng.standard_normal((5, 4)), requires_grad=False)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert [p.grad for p in model.parameters()] == [None] * 4


def test_repr_lists_layers_like_pytorch():
    assert repr(Net()) == (
        "Net(\n"
        "  (features): Sequential(\n"
        "    (0): Conv2d(1, 8, kernel_size=10, stride=1)\n"
        "    (1): ReLU()\n"
        "    (2): MaxPool2d(kernel_size=2, stride=2)\n"
        "  )\n"
        "  (flatten): Flatten(start_dim=1)\n"
        "  (fc): Linear(in_features=200, out_features=10, bias=False)\n"
        ")")
    conv = nn.Conv2d(3, 4, kernel_size=(3, 5), stride=2, padding=1, bias=False)
    assert repr(conv) == "Conv2d(3, 4, kernel_size=(3, 5), stride=2, padding=1, bias=False)"
    assert repr(nn.MaxPool2d(3, stride=1)) == "MaxPool2d(kernel_size=3, stride=1)"
    assert repr(nn.MaxPool2d((2, 3))) == "MaxPool2d(kernel_size=(2, 3), stride=(2, 3))"
    assert repr(nn.MaxPool2d(3, 2, padding=1)) == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.MaxPool2d(3, padding=(1, 0))) == (
        "MaxPool2d(kernel_size=3, stride=3, padding=(1, 0))")
    assert repr(nn.MaxPool2d(2, padding=(0, 0))) == "MaxPool2d(kernel_size=2, stride=2)"
    assert repr(nn.Conv2d(1, 1, 3, stride=(1, 2), padding=(0, 0))) == (
        "Conv2d(1, 1, kernel_size=3, stride=(1, 2))")
    assert repr(nn.Sequential()) == "Sequential()"


def test_max_pool2d_layer_pads_as_pytorch_and_checks_its_padding(rng):
    x = rng.standard_normal((2, 3, 7, 7)) - 10                   # below zero: -inf padding shows
    out = nn.MaxPool2d(3, 2, padding=1)(tc.Value(x))
    assert out.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(out.data, tc.ops.max_pool2d(x, 3, 2, 1).data)
    assert out.data[:, :, 0, 0].tolist() == x[:, :, :2, :2].max(axis=(2, 3)).tolist()
    with pytest.raises(ValueError, match=r"^MaxPool2d: padding is -1; expected an int >= 0 or an "
                                         r"\(h, w\) pair of such ints; pass e\.g\. padding=0$"):
        nn.MaxPool2d(3, padding=-1)
    with pytest.raises(TypeError, match=r"^MaxPool2d: padding is tuple \(1\.0, 1\); expected an "
                                        r"int >= 0 or an \(h, w\) pair of such ints; pass e\.g\. "
                                        r"padding=1$"):
        nn.MaxPool2d(3, padding=(1.0, 1))
    with pytest.raises(ValueError, match=r"max_pool2d: padding 2 is more than half the kernel"):
        nn.MaxPool2d(3, padding=2)(tc.Value(x))


@pytest.mark.parametrize("make_layer, fan_in", [
    (lambda: nn.Linear(50, 400), 50),
    (lambda: nn.Conv2d(3, 64, kernel_size=5), 3 * 5 * 5),
    (lambda: nn.Conv2d(2, 300, kernel_size=(2, 3)), 2 * 2 * 3),
    (lambda: nn.Conv2d(8, 512, kernel_size=5, groups=4), 8 // 4 * 5 * 5),
    (lambda: nn.Conv2d(32, 1024, kernel_size=3, groups=32), 1 * 3 * 3),     # depthwise
    (lambda: nn.Conv1d(3, 1000, kernel_size=7), 3 * 7),
    (lambda: nn.Conv1d(8, 512, kernel_size=(5,), groups=4), 8 // 4 * 5),
    # ConvTranspose2d: weight (C_in, C_out / groups, KH, KW), and PyTorch's fan_in is
    # weight.size(1)*KH*KW = C_out/groups*KH*KW, not the C_in*KH*KW that each output reads
    (lambda: nn.ConvTranspose2d(2, 400, kernel_size=5), 400 * 5 * 5),
    (lambda: nn.ConvTranspose2d(8, 512, kernel_size=(5, 3), groups=4), 512 // 4 * 5 * 3),
    (lambda: nn.ConvTranspose2d(32, 1024, kernel_size=3, groups=32), 32 * 3 * 3),  # depthwise
])
def test_initial_ranges_are_pytorchs(make_layer, fan_in):
    tc.manual_seed(0)
    layer = make_layer()
    bound = 1 / math.sqrt(fan_in)
    for param in (layer.weight, layer.bias):
        assert param.dtype == np.float32 and param.requires_grad
        assert np.abs(param.data).max() <= bound
    # 20,000 weights fill the range: the extremes lie within 1% of the bound, the mean near 0
    assert np.abs(layer.weight.data).max() > 0.99 * bound
    assert abs(layer.weight.data.mean()) < 0.02 * bound
    assert np.abs(layer.bias.data).max() > 0.5 * bound


def test_grouped_conv2d_weight_shape_repr_and_errors():
    layer = nn.Conv2d(6, 4, kernel_size=(3, 2), stride=2, padding=1, groups=2, bias=False)
    assert layer.weight.shape == (4, 3, 3, 2) and layer.groups == 2
    # PyTorch shows groups after padding and before bias=False, only when it is not 1
    assert repr(layer) == (
        "Conv2d(6, 4, kernel_size=(3, 2), stride=2, padding=1, groups=2, bias=False)")
    assert repr(nn.Conv2d(3, 3, 3, groups=3)) == "Conv2d(3, 3, kernel_size=3, stride=1, groups=3)"
    assert repr(nn.Conv2d(3, 3, 3, groups=1)) == "Conv2d(3, 3, kernel_size=3, stride=1)"
    assert layer(np.ones((1, 6, 5, 4), np.float32)).shape == (1, 4, 3, 3)
    with pytest.raises(ValueError, match=r"Conv2d: groups=4 does not divide both in_channels=4 "
                                         r"and out_channels=6; expected both divisible by "
                                         r"groups; pick groups from their common divisors: 1, 2$"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match=r"Conv2d: groups=2 does not divide both in_channels=3"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: groups is 0; expected an integer >= 1"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(TypeError, match=r"Conv2d: groups is float 2.0; expected an integer"):
        nn.Conv2d(4, 4, 3, groups=2.0)


def test_conv_transpose2d_layer_weights_forward_repr_and_errors(rng):
    layer = nn.ConvTranspose2d(6, 4, kernel_size=(3, 2), stride=2, padding=1, output_padding=1,
                               groups=2, bias=False, rng=np.random.default_rng(3))
    assert layer.weight.shape == (6, 2, 3, 2) and layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    bound = 1 / math.sqrt(2 * 3 * 2)                      # fan_in = C_out/groups*KH*KW
    expected = np.random.default_rng(3).uniform(-bound, bound, (6, 2, 3, 2)).astype(np.float32)
    np.testing.assert_array_equal(layer.weight.data, expected)
    x = rng.standard_normal((2, 6, 4, 5)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 4, 8, 9)                      # (H - 1)*2 - 2 + 3 + 1, likewise W
    np.testing.assert_array_equal(out.data, ops.conv_transpose2d(
        x, layer.weight, stride=2, padding=1, output_padding=1, groups=2).data)
    both = nn.ConvTranspose2d(3, 5, 3, rng=np.random.default_rng(4))
    assert [name for name, _ in both.named_parameters()] == ["weight", "bias"]
    assert both.weight.shape == (3, 5, 3, 3) and both.bias.shape == (5,)
    assert both.bias.dtype == np.float32 and np.abs(both.bias.data).max() <= 1 / math.sqrt(45)
    # PyTorch's repr: every size as a pair; padding, output_padding, groups only when set
    assert repr(both) == "ConvTranspose2d(3, 5, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(layer) == ("ConvTranspose2d(6, 4, kernel_size=(3, 2), stride=(2, 2), "
                           "padding=(1, 1), output_padding=(1, 1), groups=2, bias=False)")
    assert repr(nn.ConvTranspose2d(2, 2, 4, stride=(2, 1), padding=(0, 0),
                                   output_padding=(1, 0))) == (
        "ConvTranspose2d(2, 2, kernel_size=(4, 4), stride=(2, 1), output_padding=(1, 0))")
    assert (layer.kernel_size, layer.stride, layer.padding, layer.output_padding) == (
        (3, 2), (2, 2), (1, 1), (1, 1))


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=4), ValueError,
     r"ConvTranspose2d: groups=4 does not divide both in_channels=4 and out_channels=6; "
     r"expected both divisible by groups; pick groups from their common divisors: 1, 2$"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, groups=0), ValueError,
     r"ConvTranspose2d: groups is 0; expected an integer >= 1"),
    (lambda: nn.ConvTranspose2d(0, 4, 3), ValueError,
     r"ConvTranspose2d: in_channels is 0; expected an integer >= 1"),
    (lambda: nn.ConvTranspose2d(4, 4, (3, 0)), ValueError,
     r"ConvTranspose2d: kernel_size is \(3, 0\); expected an int >= 1 or an \(h, w\) pair of "
     r"such ints; pass e\.g\. kernel_size=\(3, 1\)$"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding=-1), ValueError,
     r"ConvTranspose2d: padding is -1; expected an int >= 0 or an \(h, w\) pair of such ints; "
     r"pass e\.g\. padding=0$"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding="same"), TypeError,
     r"ConvTranspose2d: padding is str 'same'; expected an int >= 0 or an \(h, w\) pair of such "
     r"ints; pass e\.g\. padding=0$"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2), ValueError,
     r"^ConvTranspose2d: output_padding=2 is not smaller than stride=2 or dilation=1; expected "
     r"each output_padding < max\(its stride, its dilation\), as PyTorch \(it picks among the "
     r"sizes a strided conv2d maps to one\); pass e\.g\. output_padding=1$"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, output_padding=(0, 1)), ValueError,
     r"output_padding=\(0, 1\) is not smaller than stride=1 or dilation=1; .* pass e\.g\. "
     r"output_padding=0$"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=(2, 1), output_padding=(2, 0)), ValueError,
     r"output_padding=\(2, 0\) is not smaller than stride=\(2, 1\) or dilation=1; .* pass "
     r"e\.g\. output_padding=\(1, 0\)$"),           # each entry lowered to fit, the rest kept
    # PyTorch's positional order puts groups where ours has bias
    (lambda: nn.ConvTranspose2d(4, 6, 3, 1, 0, 0, 2), TypeError,
     r"ConvTranspose2d: bias is int 2; expected True or False; pass groups \(and the settings "
     r"after bias\) by keyword, e\.g\. nn\.ConvTranspose2d\(4, 6, 3, groups=2\)"),
    (lambda: nn.ConvTranspose2d(4, 6, 3, 1, 0, 0, True, 2), TypeError,
     r"rng is int 2; expected a np\.random\.Generator or None"),
])
def test_conv_transpose2d_layer_argument_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_conv_transpose2d_layer_input_errors_come_from_the_op(rng):
    layer = nn.ConvTranspose2d(4, 6, 3, groups=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input has 3 channels but weight "
                                         r"expects 4 .* weight \(C_in, C_out / groups, KH, KW\)"):
        layer(rng.standard_normal((1, 3, 5, 5)).astype(np.float32))
    assert layer(np.ones((1, 4, 5, 5), np.float32)).shape == (1, 6, 7, 7)


def test_init_is_reproducible_under_manual_seed():
    tc.manual_seed(7)
    first = Net()
    tc.manual_seed(7)
    second = Net()
    third = Net()
    for a, b, c in zip(first.parameters(), second.parameters(), third.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
        assert not np.array_equal(a.data, c.data)


def test_init_with_explicit_rng_leaves_default_generator_alone():
    tc.manual_seed(0)
    state = default_generator().bit_generator.state
    a = Net(rng=np.random.default_rng(5))
    b = Net(rng=np.random.default_rng(5))
    assert default_generator().bit_generator.state == state
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    expected = np.random.default_rng(5).uniform(-0.1, 0.1, (8, 1, 10, 10)).astype(np.float32)
    np.testing.assert_array_equal(a.features[0].weight.data, expected)


def test_uniform_initialiser(rng):
    draw = nn.init.uniform(-2.0, 3.0, (1000,), rng=rng)
    assert draw.dtype == np.float32 and draw.shape == (1000,)
    assert draw.min() >= -2.0 and draw.max() <= 3.0 and draw.min() < -1.9 and draw.max() > 2.9
    with pytest.raises(ValueError, match=r"uniform: low=1 is not below high=1"):
        nn.init.uniform(1, 1, (2,))


def test_linear_forward_equals_op(rng):
    layer = nn.Linear(4, 3, rng=rng)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out = layer(tc.Value(x, requires_grad=False))
    expected = x @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    assert out.dtype == np.float32
    no_bias = nn.Linear(4, 3, bias=False, rng=rng)
    assert no_bias.bias is None and len(list(no_bias.parameters())) == 1
    np.testing.assert_allclose(no_bias(x).data, x @ no_bias.weight.data.T, rtol=1e-6)


def test_conv2d_forward_equals_op(rng):
    layer = nn.Conv2d(2, 3, kernel_size=(3, 2), stride=2, padding=1, rng=rng)
    x = rng.standard_normal((2, 2, 7, 6)).astype(np.float32)
    out = layer(x)
    expected = ops.conv2d(x, layer.weight.data, layer.bias.data, stride=2, padding=1)
    np.testing.assert_array_equal(out.data, expected.data)
    assert out.shape == (2, 3, 4, 4)


def test_pool_flatten_relu_forward(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    pooled = nn.MaxPool2d(2)(x)
    np.testing.assert_array_equal(pooled.data, x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))
    strided = nn.MaxPool2d(2, stride=1)(x)
    np.testing.assert_array_equal(strided.data, ops.max_pool2d(x, 2, stride=1).data)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.reshape(2, 72))
    np.testing.assert_array_equal(nn.Flatten(start_dim=2)(x).data, x.reshape(2, 3, 24))
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x, 0))


def test_sequential_chains_indexes_and_slices(rng):
    first, act, second = nn.Linear(4, 3, rng=rng), nn.ReLU(), nn.Linear(3, 2, rng=rng)
    model = nn.Sequential(first, act, second)
    x = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(model(x).data, second(act(first(x))).data)
    assert len(model) == 3 and list(model) == [first, act, second]
    assert model[0] is first and model[-1] is second
    head = model[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [first, act]
    with pytest.raises(TypeError, match=r"Sequential: argument 1 is a function; expected "
                                        r"nn.Module"):
        nn.Sequential(first, ops.relu)


def test_sequential_slice_keeps_the_original_names(rng):
    first, act, second = nn.Linear(4, 3, rng=rng), nn.ReLU(), nn.Linear(3, 2, rng=rng)
    model = nn.Sequential(first, act, second)
    tail = model[1:]
    assert [name for name, _ in tail.named_children()] == ["1", "2"]      # as PyTorch's
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]
    assert tail[0] is act and tail[-1] is second and len(tail) == 2      # indexed by position
    assert [name for name, _ in model[::2].named_children()] == ["0", "2"]
    assert repr(tail).startswith("Sequential(\n  (1): ReLU()\n  (2): Linear(")
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(tail(x).data, second(act(x)).data)
    whole = model.state_dict()
    fresh = nn.Sequential(nn.Linear(4, 3, rng=rng), nn.ReLU(), nn.Linear(3, 2, rng=rng))
    assert fresh[1:].load_state_dict({k: whole[k] for k in ["2.weight", "2.bias"]}) == ([], [])
    np.testing.assert_array_equal(fresh[2].weight.data, second.weight.data)
    with pytest.raises(IndexError, match=r"Sequential: index 3 is out of range for 3 modules"):
        model[3]
    with pytest.raises(TypeError, match=r"Sequential: index must be an int or a slice, got str"):
        model["0"]


class Block(nn.Module):
    """Records the values made at each level, to check the module names stamped on them."""

    def __init__(self, rng):
        self.features = nn.Sequential(nn.Linear(4, 3, rng=rng), nn.ReLU())
        self.head = nn.Linear(3, 2, rng=rng)

    def forward(self, x):
        self.made = {}
        h = self.features(x)
        self.made["relu"], self.made["linear"] = h, h.parents[0]
        self.made["direct grandchild"] = self.features[0](x)
        self.made["own op"] = h * 2.0
        self.made["head"] = self.head(self.made["own op"])
        return self.made["head"]


class Outer(nn.Module):
    def __init__(self, rng):
        self.block = Block(rng)

    def forward(self, x):
        return self.block(x).sum()


def test_modules_stamp_their_dotted_name_on_values(rng):
    x = tc.Value(rng.standard_normal((2, 4)), requires_grad=False)
    block = Block(rng)
    block(x)
    assert {key: value.module for key, value in block.made.items()} == {
        "relu": "features.1", "linear": "features.0", "direct grandchild": "features.0",
        "own op": "", "head": "head"}

    outer = Outer(rng)
    total = outer(x)
    assert total.module == ""
    assert {key: value.module for key, value in outer.block.made.items()} == {
        "relu": "block.features.1", "linear": "block.features.0",
        "direct grandchild": "block.features.0", "own op": "block", "head": "block.head"}
    assert (x * 2.0).module is None and current_module() is None


def test_module_names_after_a_failing_forward(rng):
    class Failing(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(4, 2, rng=rng)

        def forward(self, x):
            self.layer(x)
            raise RuntimeError("boom")

    model = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        model(rng.standard_normal((1, 4)))
    assert current_module() is None
    assert model.layer(rng.standard_normal((1, 4))).module == ""


def test_module_called_but_not_held_counts_as_its_caller(rng):
    helper = nn.ReLU()

    class UsesHelper(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 4, rng=rng)

        def forward(self, x):
            return helper(self.fc(x))

    class Root(nn.Module):
        def __init__(self):
            self.inner = UsesHelper()

        def forward(self, x):
            return self.inner(x)

    assert Root()(rng.standard_normal((1, 4))).module == "inner"


def test_state_dict_is_an_ordered_copy_and_round_trips(rng):
    source, target = Net(rng=rng), Net(rng=rng)
    state = source.state_dict()
    assert list(state) == ["features.0.weight", "features.0.bias", "fc.weight"]
    source.fc.weight.data += 1.0
    assert not np.array_equal(state["fc.weight"], source.fc.weight.data)

    kept = target.fc.weight.data
    result = target.load_state_dict(state)
    assert result == ([], []) and result.missing_keys == [] and result.unexpected_keys == []
    for name, param in target.named_parameters():
        np.testing.assert_array_equal(param.data, state[name])
        assert param.dtype == np.float32
    assert target.fc.weight.data is kept          # loaded in place
    state["fc.weight"][0, 0] = 123.0
    assert target.fc.weight.data[0, 0] != 123.0  # and copied, not shared


def test_load_state_dict_casts_float64_and_accepts_values(rng):
    model = TwoLinear(rng=rng)
    state = {name: array.astype(np.float64) + 1.0 for name, array in model.state_dict().items()}
    state["second.bias"] = tc.Value(np.array([5.0, 6.0]))
    model.load_state_dict(state)
    assert model.first.weight.dtype == np.float32
    np.testing.assert_allclose(model.first.weight.data, state["first.weight"], rtol=1e-7)
    np.testing.assert_array_equal(model.second.bias.data, [5.0, 6.0])


def test_load_state_dict_rejects_bad_keys_and_shapes_without_loading(rng):
    model = TwoLinear(rng=rng)
    before = model.state_dict()
    bad = {name: array + 1 for name, array in before.items()}
    del bad["second.bias"]
    bad["third.weight"] = np.zeros(3)
    bad["first.weight"] = np.zeros((4, 3), dtype=np.float32)
    bad["first.bias"] = np.zeros(3, dtype=np.complex64)
    with pytest.raises(ValueError, match=r"(?s)load_state_dict: 4 problem\(s\), nothing was "
                                         r"loaded:.*missing keys: second.bias.*unexpected keys: "
                                         r"third.weight.*first.weight: shape \(4, 3\) in the "
                                         r"state dict but \(3, 4\) in the model.*first.bias: "
                                         r"dtype complex64.*cannot be cast.*strict=False"):
        model.load_state_dict(bad)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])   # not even the good keys loaded


class GradTensor:
    """Stands in for a torch tensor that requires grad: numpy cannot read it."""

    requires_grad = True

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("Can't call numpy() on Tensor that requires grad")


class BrokenArray:
    """An entry whose conversion fails for a reason load_state_dict knows nothing about."""

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("the disk went away")


def test_load_state_dict_lists_a_tensor_that_requires_grad_with_the_other_problems(rng):
    model = TwoLinear(rng=rng)
    before = model.state_dict()
    state = {**before, "first.bias": GradTensor(), "second.bias": np.zeros(5)}
    with pytest.raises(ValueError, match=r"(?s)^load_state_dict: 2 problem\(s\), nothing was "
                                         r"loaded:\n  first.bias: a GradTensor that requires "
                                         r"grad, which numpy cannot read; expected an array or a "
                                         r"tensor without grad; pass torch_model.state_dict\(\) "
                                         r".* or tensor.detach\(\)\n  second.bias: shape"):
        model.load_state_dict(state)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    with pytest.raises(ValueError) as error:                 # only the grad problem: no hint
        model.load_state_dict({**before, "first.bias": GradTensor()})   # about the model's shape
    assert str(error.value).endswith("of the same shape (model.state_dict())")
    with pytest.raises(RuntimeError, match="the disk went away"):   # other errors are not hidden
        model.load_state_dict({**before, "first.bias": BrokenArray()})


class Counts(nn.Module):
    """A float parameter, an int64 count and an int8 and a bool buffer, for dtype casts."""

    def __init__(self):
        self.weight = tc.Value(np.zeros(2, dtype=np.float32))
        self.count = nn.Buffer(np.array(0, dtype=np.int64))
        self.small = nn.Buffer(np.zeros(2, dtype=np.int8))
        self.mask = nn.Buffer(np.zeros(2, dtype=bool))


def test_load_state_dict_casts_into_ints_and_bools_only_values_that_stay_as_they_are():
    """As PyTorch's copy_, an entry of another dtype is cast (float64 7.0 into int64 loads 7);
    where the cast would change a value (7.5, NaN, 300 into int8), PyTorch's would truncate or
    wrap it silently, and this lists the problem, naming the value, with a cast that works."""
    model = Counts()
    state = {"weight": np.array([1.5, 2.5]), "count": np.array(7.0),
             "small": np.array([-3.0, 100.0]), "mask": np.array([1.0, 0.0])}
    assert model.load_state_dict(state) == ([], [])
    assert model.count.data == 7 and model.count.dtype == np.int64
    assert model.small.data.tolist() == [-3, 100] and model.small.dtype == np.int8
    assert model.mask.data.tolist() == [True, False] and model.weight.data.tolist() == [1.5, 2.5]
    bad = {**state, "count": np.array(7.5), "small": np.array([1, 300]),
           "mask": np.array([np.nan, 0.0])}
    with pytest.raises(ValueError) as error:
        model.load_state_dict(bad)
    message = str(error.value)
    assert message.startswith("load_state_dict: 3 problem(s), nothing was loaded:\n  count: "
                              "dtype float64 in the state dict holds 7.5, which the model's "
                              "int64 cannot hold (a cast gives 7; PyTorch's load would cast "
                              "without a word); expected values of int64; if that change is "
                              "meant, pass np.asarray(state_dict['count']).astype(np.int64)\n")
    assert "small: dtype int64 in the state dict holds 300, which the model's int8 cannot " \
           "hold (a cast gives 44;" in message
    assert "mask: dtype float64 in the state dict holds nan, which the model's bool" in message
    assert "same layer sizes" not in message               # a dtype, not a shape, problem
    assert model.count.data == 7 and model.small.data.tolist() == [-3, 100]   # nothing loaded
    bad["count"] = np.asarray(bad["count"]).astype(np.int64)       # the suggested fixes work
    bad["small"] = np.asarray(bad["small"]).astype(np.int8)
    bad["mask"] = np.asarray(bad["mask"]).astype(np.bool)
    assert model.load_state_dict(bad) == ([], [])
    assert model.count.data == 7 and model.small.data.tolist() == [1, 44]


def test_load_state_dict_refuses_complex_into_real_and_text_with_a_fix():
    model = Counts()
    state = model.state_dict()
    with pytest.raises(ValueError, match=r"weight: dtype complex128 in the state dict cannot be "
                                         r"cast to the model's float32 without losing the "
                                         r"imaginary part; pass np.real\(state_dict\['weight'\]\)"
                                         r" if it is not needed\nexpected"):
        model.load_state_dict({**state, "weight": np.array([1 + 2j, 0])})
    model.load_state_dict({**state, "weight": np.real(np.array([1 + 2j, 0]))})   # the fix works
    assert model.weight.data.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match=r"count: dtype <U1 in the state dict is not numeric; "
                                         r"expected numbers for the model's int64"):
        model.load_state_dict({**state, "count": np.array("7")})


def test_load_state_dict_strict_false_loads_matching_keys(rng):
    model = TwoLinear(rng=rng)
    before = model.state_dict()
    partial = {"first.weight": np.ones((3, 4)), "extra": np.zeros(2)}
    result = model.load_state_dict(partial, strict=False)
    assert result.missing_keys == ["first.bias", "second.weight", "second.bias"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.first.weight.data, np.ones((3, 4)))
    np.testing.assert_array_equal(model.second.weight.data, before["second.weight"])

    with pytest.raises(ValueError, match=r"1 problem\(s\), nothing was loaded:\n  second.bias: "
                                         r"shape \(3,\) in the state dict but \(2,\)"):
        model.load_state_dict({"first.bias": np.zeros(3), "second.bias": np.zeros(3)},
                              strict=False)
    np.testing.assert_array_equal(model.first.bias.data, before["first.bias"])
    with pytest.raises(TypeError, match=r"load_state_dict: expected a dict of arrays such as "
                                        r"model.state_dict\(\), got list"):
        model.load_state_dict([("first.weight", np.ones((3, 4)))])


def test_layer_argument_errors():
    with pytest.raises(ValueError, match=r"Linear: in_features is 0; expected an integer >= 1"):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match=r"Linear: out_features is float 2.5; expected an "
                                        r"integer >= 1"):
        nn.Linear(2, 2.5)
    with pytest.raises(ValueError, match=r"^Conv2d: kernel_size is \(3, 3, 3\); expected an int "
                                         r">= 1 or an \(h, w\) pair of such ints; pass e\.g\. "
                                         r"kernel_size=3$"):
        nn.Conv2d(1, 2, kernel_size=(3, 3, 3))
    with pytest.raises(ValueError, match=r"^Conv2d: padding is -1; expected an int >= 0, an "
                                         r"\(h, w\) pair of such ints, 'same' or 'valid'; pass "
                                         r"e\.g\. padding=0$"):
        nn.Conv2d(1, 2, 3, padding=-1)
    with pytest.raises(ValueError, match=r"^Conv2d: stride is \(1, 0\); expected an int >= 1 or "
                                         r"an \(h, w\) pair of such ints; pass e\.g\. stride=1$"):
        nn.Conv2d(1, 2, 3, stride=(1, 0))
    with pytest.raises(ValueError, match=r"^MaxPool2d: stride is 0; expected an int >= 1"):
        nn.MaxPool2d(2, stride=0)
    with pytest.raises(TypeError, match=r"^MaxPool2d: kernel_size is float 2\.0; expected an int "
                                        r">= 1 or an \(h, w\) pair of such ints; pass e\.g\. "
                                        r"kernel_size=2$"):
        nn.MaxPool2d(2.0)
    with pytest.raises(TypeError, match=r"Flatten: start_dim is str '1'; expected an int"):
        nn.Flatten("1")


def test_module_without_forward_says_so():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match=r"Empty must define forward\(self, x\)"):
        Empty()(np.zeros(1))
    assert repr(Empty()) == "Empty()" and list(Empty().parameters()) == []


def test_load_state_dict_hints_fit_the_mistake(rng):
    """strict=False is suggested only for key problems (it cannot load a shape mismatch); a
    whole checkpoint is told to pass checkpoint["model"]."""
    model = TwoLinear(rng=rng)
    state = model.state_dict()
    wrong_shape = {**state, "first.weight": np.zeros((4, 3))}
    with pytest.raises(ValueError) as error:
        model.load_state_dict(wrong_shape)
    assert "strict=False" not in str(error.value).replace("not even with strict=False", "")
    assert "cannot be loaded (not even with strict=False): build the model with the settings " \
           "it was saved with" in str(error.value)
    with pytest.raises(ValueError, match=r"missing keys: second.bias\n.*pass strict=False to "
                                         r"load only the keys both have$"):
        model.load_state_dict({k: v for k, v in state.items() if k != "second.bias"})
    checkpoint = {"model": state, "optimizer": {}, "epoch": 3}
    with pytest.raises(ValueError, match=r"load_state_dict: got a whole checkpoint \(keys "
                                         r"'model', 'optimizer', 'epoch'\) instead of a model's "
                                         r"state dict; expected the arrays of a TwoLinear; pass "
                                         r"checkpoint\[\"model\"\]"):
        model.load_state_dict(checkpoint)
    model.load_state_dict(checkpoint["model"])            # the fix works


# ---------------------------------------------------------------------------------- buffers

class Counter(nn.Module):
    """A layer with a parameter and two buffers: a running total and a call count."""

    def __init__(self):
        self.scale = tc.Value(np.ones(2, dtype=np.float32))
        self.total = nn.Buffer(np.zeros(2, dtype=np.float32))
        self.calls = nn.Buffer(0)

    def forward(self, x):
        self.total.data += x.data.sum(axis=0) if isinstance(x, tc.Value) else x.sum(axis=0)
        self.calls.data += 1
        return x * self.scale


def test_buffers_are_state_but_not_parameters(rng):
    model = nn.Sequential(nn.Linear(3, 2, rng=rng), Counter())
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.scale"]
    assert [name for name, _ in model.named_buffers()] == ["1.total", "1.calls"]
    assert list(model.buffers()) == [model[1].total, model[1].calls]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.scale", "1.total", "1.calls"]
    model(rng.standard_normal((4, 3)).astype(np.float32))
    state = model.state_dict()
    assert state["1.calls"] == 1 and state["1.calls"].dtype == np.int64
    np.testing.assert_array_equal(state["1.total"], model[1].total.data)
    model(rng.standard_normal((4, 3)).astype(np.float32))
    assert state["1.calls"] == 1                          # the state dict holds copies

    fresh = nn.Sequential(nn.Linear(3, 2, rng=rng), Counter())
    kept = fresh[1].total.data
    fresh.load_state_dict(state)
    assert fresh[1].calls.data == 1 and fresh[1].total.data is kept   # loaded in place
    np.testing.assert_array_equal(fresh[1].total.data, state["1.total"])
    with pytest.raises(ValueError, match=r"missing keys: 1.calls"):
        fresh.load_state_dict({k: v for k, v in state.items() if k != "1.calls"})
    with pytest.raises(ValueError, match=r"1.total: shape \(3,\) in the state dict but \(2,\)"):
        fresh.load_state_dict({**state, "1.total": np.zeros(3)})


def test_buffer_basics():
    buffer = nn.Buffer([1.0, 2.0])
    assert buffer.shape == (2,) and buffer.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(buffer), [1.0, 2.0])
    assert np.asarray(buffer) is buffer.data
    assert repr(buffer) == "Buffer(shape=(2,), dtype=float64)"
    assert repr(nn.Buffer(np.array(3))) == "Buffer(3, dtype=int64)"
    source = np.zeros(2)
    assert nn.Buffer(source).data is not source           # a module's state is its own copy


def test_np_array_of_a_buffer_is_a_copy_as_numpy_asks():
    buffer = nn.Buffer(np.array([1.0, 2.0], dtype=np.float32))
    snapshot = np.array(buffer)                          # copy=True, numpy's default
    buffer.data += 10.0                                  # as forward updates running stats
    np.testing.assert_array_equal(snapshot, [1.0, 2.0])
    assert not np.shares_memory(snapshot, buffer.data)
    assert np.asarray(buffer) is buffer.data
    assert np.asarray(buffer, dtype=np.float32) is buffer.data
    converted = np.asarray(buffer, dtype=np.float64)
    assert converted.dtype == np.float64 and converted.tolist() == [11.0, 12.0]
    assert np.array(buffer, dtype=np.float64).tolist() == [11.0, 12.0]
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":   # copy=False exists from numpy 2
        assert np.asarray(buffer, copy=False) is buffer.data
        with pytest.raises(ValueError, match=r"np.asarray\(Buffer, dtype=float64, copy=False\):"
                                             r" the Buffer's dtype is float32, so converting "
                                             r"needs a copy; expected copy=None or True"):
            np.asarray(buffer, dtype=np.float64, copy=False)
    with pytest.raises(TypeError, match=r"Buffer: data 'abc' has dtype <U3; expected a numeric "
                                        r"array"):
        nn.Buffer("abc")


# ------------------------------------------------------------------------------- ModuleList

class Tower(nn.Module):
    """Linear layers in a ModuleList, applied in order with a ReLU between them."""

    def __init__(self, sizes, rng):
        self.layers = nn.ModuleList(nn.Linear(a, b, rng=rng)
                                    for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.act = nn.ReLU()

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == 0 else layer(self.act(x))
        return x


def test_module_list_parameters_indexing_and_append(rng):
    tower = Tower([4, 3, 2], rng)
    assert [name for name, _ in tower.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    x = rng.standard_normal((5, 4))
    first, second = tower.layers
    np.testing.assert_array_equal(tower(x).data, second(ops.relu(first(x))).data)
    assert tower(x).module == "layers.1"                  # drawings name the module in the list
    assert len(tower.layers) == 2 and tower.layers[-1] is second
    sliced = tower.layers[:1]
    assert isinstance(sliced, nn.ModuleList) and list(sliced) == [first]
    extra = nn.Linear(2, 2, rng=rng)
    assert tower.layers.append(extra) is tower.layers
    assert tower.layers[2] is extra and len(list(tower.parameters())) == 6
    tower.layers.extend([nn.ReLU(), nn.Linear(2, 1, rng=rng)])
    assert len(tower.layers) == 5 and tower(x).shape == (5, 1)
    assert [name for name, _ in tower.named_modules()][:3] == ["", "layers", "layers.0"]
    tower.eval()
    assert not any(layer.training for layer in tower.layers)
    assert len(nn.ModuleList()) == 0
    assert repr(nn.ModuleList([nn.ReLU()])) == "ModuleList(\n  (0): ReLU()\n)"


def test_module_list_takes_a_module_list_or_a_sequential(rng):
    first, act = nn.Linear(2, 2, rng=rng), nn.ReLU()
    layers = nn.ModuleList([first, act])
    copied = nn.ModuleList(layers)                       # as PyTorch: any iterable of modules
    assert list(copied) == [first, act] and copied is not layers
    assert list(nn.ModuleList().extend(nn.Sequential(act, first))) == [act, first]
    grown = nn.ModuleList([act]).extend(layers)
    assert [name for name, _ in grown.named_parameters()] == ["1.weight", "1.bias"]
    assert list(layers.extend(layers)) == [first, act, first, act]   # its modules, read first


def test_module_list_set_delete_insert_pop_and_add_renumber_as_pytorchs(rng):
    a, b, c, d = (nn.Linear(2, 2, rng=rng) for _ in range(4))
    layers = nn.ModuleList([a, b, c])
    layers[-1] = d                                             # negative: from the end
    assert list(layers) == [a, b, d]
    del layers[0]                                              # the rest move up: "0", "1"
    assert list(layers) == [b, d] and [n for n, _ in layers.named_children()] == ["0", "1"]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    layers.insert(0, a)
    layers.insert(-1, c)                                       # before the last, as list.insert
    layers.insert(4, nn.ReLU())                                # at len(): appends
    assert list(layers)[:4] == [a, b, c, d] and isinstance(layers[4], nn.ReLU)
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3", "4"]
    del layers[::2]                                            # a slice
    assert list(layers) == [b, d] and [n for n, _ in layers.named_children()] == ["0", "1"]
    assert layers.pop(0) is b and list(layers) == [d]
    layers += [a, c]
    assert list(layers) == [d, a, c]
    popped = layers.pop(slice(1, None))
    assert isinstance(popped, nn.ModuleList) and list(popped) == [a, c] and list(layers) == [d]
    joined = layers + nn.Sequential(b, c)
    assert list(joined) == [d, b, c] and list(layers) == [d]   # a new list; this one unchanged
    twice = nn.ModuleList([a, b, a])                           # a module under two names
    del twice[0]
    assert list(twice) == [b, a] and [n for n, _ in twice.named_children()] == ["0", "1"]


def test_sequential_edits_as_a_list_and_runs_what_it_holds(rng):
    a, b, c = (nn.Linear(3, 3, rng=rng) for _ in range(3))
    act = nn.ReLU()
    x = rng.standard_normal((4, 3))
    model = nn.Sequential(a, act)
    assert model.append(b) is model and list(model) == [a, act, b]
    model[1] = nn.Tanh()                                       # the same name, "1"
    assert isinstance(model[1], nn.Tanh) and [n for n, _ in model.named_children()] == [
        "0", "1", "2"]
    np.testing.assert_allclose(model(x).data, b(np.tanh(a(x).data)).data, rtol=1e-6)
    del model[1]                                               # renamed "0", "1", as PyTorch's
    assert list(model) == [a, b] and list(model.state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    np.testing.assert_allclose(model(x).data, b(a(x)).data, rtol=1e-6)
    assert model.insert(1, act) is model and list(model) == [a, act, b]
    assert model.insert(-3, c) is model and list(model) == [c, a, act, b]
    assert model.pop(0) is c and list(model) == [a, act, b]
    model.extend([c, act])
    assert list(model) == [a, act, b, c, act] and len(model.state_dict()) == 6
    removed = model.pop(slice(3, None))
    assert isinstance(removed, nn.Sequential) and list(removed) == [c, act]
    assert list(model) == [a, act, b]
    joined = model + [c]
    assert isinstance(joined, nn.Sequential) and list(joined) == [a, act, b, c]
    assert list(model) == [a, act, b]                          # + makes a new Sequential
    model += nn.Sequential(c)
    assert list(model) == [a, act, b, c]
    assert [n for n, _ in model.named_children()] == ["0", "1", "2", "3"]


def test_sequential_times_n_repeats_the_same_modules(rng):
    layer, act = nn.Linear(3, 3, rng=rng), nn.ReLU()
    block = nn.Sequential(layer, act)
    x = rng.standard_normal((2, 3))
    for repeated in (block * 3, 3 * block, block * np.int64(3)):
        assert list(repeated) == [layer, act] * 3 and list(block) == [layer, act]
        assert len(list(repeated.parameters())) == 2             # shared, counted once
        np.testing.assert_allclose(repeated(x).data, block(block(block(x))).data, rtol=1e-6)
    block *= 2
    assert list(block) == [layer, act, layer, act]
    assert [n for n, _ in block.named_children()] == ["0", "1"]   # a shared module: one child
    with pytest.raises(ValueError, match=r"Sequential \* times: times is 0; expected a positive "
                                         r"int"):
        block * 0
    with pytest.raises(TypeError, match=r"Sequential \* times: times is a float; expected a "
                                        r"positive int, e.g. Sequential\(Linear\(4, 4\), "
                                        r"ReLU\(\)\) \* 3"):
        block * 2.0
    with pytest.raises(TypeError, match=r"times is a bool"):
        block * True


def test_editing_a_slice_renames_it_and_leaves_the_model(rng):
    a, b, c = (nn.Linear(2, 2, rng=rng) for _ in range(3))
    model = nn.Sequential(a, b, c)
    tail = model[1:]                                           # children "1", "2"
    tail[0] = nn.ReLU()                                        # keeps the name "1"
    assert [n for n, _ in tail.named_children()] == ["1", "2"]
    tail.append(a)                                             # PyTorch would replace "2"
    assert list(tail)[1:] == [c, a] and [n for n, _ in tail.named_children()] == [
        "0", "1", "2"]
    assert list(model) == [a, b, c]
    every_other = model[::2]                                   # "0", "2"
    every_other.append(b)
    assert list(every_other) == [a, c, b]
    assert [n for n, _ in every_other.named_children()] == ["0", "1", "2"]


def test_sequential_edit_errors_change_nothing(rng):
    model = nn.Sequential(nn.ReLU(), nn.Tanh())
    with pytest.raises(TypeError, match=r"Sequential.append: the argument is a function; "
                                        r"expected nn.Module instances, e.g. "
                                        r"Sequential\(Linear\(4, 2\), ReLU\(\)\)"):
        model.append(ops.relu)
    with pytest.raises(TypeError, match=r"Sequential: module 1 is a int"):
        model.extend([nn.ReLU(), 3])
    with pytest.raises(TypeError, match=r"Sequential: modules is a ReLU; expected an iterable"):
        model += nn.ReLU()
    with pytest.raises(IndexError, match=r"Sequential.insert: index 3 is out of range for 2 "
                                         r"modules; expected -2 <= index <= 2"):
        model.insert(3, nn.ReLU())
    with pytest.raises(IndexError, match=r"Sequential: index 2 is out of range for 2 modules"):
        model[2] = nn.ReLU()
    with pytest.raises(IndexError, match=r"Sequential: index -3 is out of range"):
        del model[-3]
    with pytest.raises(TypeError, match=r"Sequential: index must be an int, got slice"):
        model[0:1] = nn.Sequential(nn.ReLU())
    assert [type(m).__name__ for m in model] == ["ReLU", "Tanh"]


def test_module_list_errors(rng):
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(TypeError, match=r"ModuleList: module 1 is a function; expected nn.Module "
                                        r"instances, e.g. ModuleList\(\[Linear\(4, 2\), "
                                        r"ReLU\(\)\]\)"):
        nn.ModuleList([nn.ReLU(), ops.relu])
    with pytest.raises(TypeError, match=r"ModuleList: modules is a Linear; expected an iterable "
                                        r"of modules"):
        nn.ModuleList(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"ModuleList.append: the argument is a int"):
        layers.append(3)
    with pytest.raises(IndexError, match=r"ModuleList: index 1 is out of range for 1 modules"):
        layers[1]
    with pytest.raises(IndexError, match=r"ModuleList: index -2 is out of range for 1 modules; "
                                         r"expected -1 <= index < 1"):
        layers[-2] = nn.ReLU()
    with pytest.raises(IndexError, match=r"ModuleList: index 1 is out of range for 1 modules"):
        del layers[1]
    with pytest.raises(IndexError, match=r"ModuleList: index 5 is out of range for 1 modules"):
        layers.pop(5)
    with pytest.raises(IndexError, match=r"ModuleList.insert: index 3 is out of range for 1 "
                                         r"modules; expected -1 <= index <= 1 \(index 1 "
                                         r"appends\)"):
        layers.insert(3, nn.ReLU())
    with pytest.raises(TypeError, match=r"ModuleList: index must be an int, got slice"):
        layers[0:1] = [nn.ReLU()]
    with pytest.raises(TypeError, match=r"ModuleList: index must be an int or a slice, got str "
                                        r"'0'"):
        del layers["0"]
    with pytest.raises(TypeError, match=r"ModuleList.insert: index must be an int, got float"):
        layers.insert(0.0, nn.ReLU())
    with pytest.raises(TypeError, match=r"ModuleList: the module for \[0\] is a int; expected "
                                        r"nn.Module instances"):
        layers[0] = 3
    with pytest.raises(TypeError, match=r"ModuleList.insert: the module is a str"):
        layers.insert(0, "relu")
    with pytest.raises(TypeError, match=r"ModuleList: modules is a ReLU; expected an iterable"):
        layers += nn.ReLU()
    assert len(layers) == 1 and isinstance(layers[0], nn.ReLU)   # failures changed nothing
    with pytest.raises(NotImplementedError, match=r"ModuleList has no forward; expected its "
                                                  r"owner to call the modules"):
        layers(np.zeros(2))


def test_a_plain_list_of_modules_is_an_error_not_silence(rng):
    class Listed(nn.Module):
        def __init__(self):
            self.layers = [nn.Linear(2, 2, rng=rng), nn.Linear(2, 2, rng=rng)]

    with pytest.raises(TypeError, match=r"Listed.layers is a list of modules, whose parameters "
                                        r"would not be found \(not trained, not saved\); "
                                        r"expected modules in an nn.ModuleList; write "
                                        r"self.layers = nn.ModuleList\(\[...\]\)"):
        list(Listed().parameters())

    class Fine(nn.Module):                # lists of other things stay allowed
        def __init__(self):
            self.sizes = [1, 2]
            self.names = {}
            self.constants = [tc.Value(np.ones(2), requires_grad=False)]
            self.w = tc.Value(np.ones(2))
            self.seen = []

        def forward(self, x):
            y = x * self.w
            self.seen.append(y)           # Values computed in forward are not parameters
            return y

    fine = Fine()
    fine(np.ones(2))
    assert [name for name, _ in fine.named_parameters()] == ["w"]


@pytest.mark.parametrize("container", [list, tuple, lambda ws: dict(enumerate(ws))])
def test_a_plain_container_of_parameters_is_an_error_not_silence(container):
    class Listed(nn.Module):
        def __init__(self):
            self.ws = container([tc.Value(np.ones(2)), tc.Value(np.zeros(3))])

    with pytest.raises(TypeError, match=r"Listed.ws is a (list|tuple|dict) of parameters \(Values "
                                        r"that require grad\), which would not be found \(not "
                                        r"trained, not saved\); expected each parameter as an "
                                        r"attribute of its own"):
        Listed().state_dict()

    class Fixed(nn.Module):               # the fix the message gives
        def __init__(self):
            for i, w in enumerate([tc.Value(np.ones(2)), tc.Value(np.zeros(3))]):
                setattr(self, f"ws{i}", w)

    assert list(Fixed().state_dict()) == ["ws0", "ws1"]


# --------------------------------------------------------------- more layers, padding="same"

@pytest.mark.parametrize("kernel_size", [1, 3, 4, (2, 3), (5, 2)])
def test_conv2d_same_padding_keeps_the_size(rng, kernel_size):
    """"same": K - 1 zeros per axis, (K - 1) // 2 before and the rest after, as PyTorch."""
    layer = nn.Conv2d(2, 3, kernel_size, padding="same", rng=rng)
    x = rng.standard_normal((2, 2, 6, 7)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 3, 6, 7)
    kh, kw = layer.weight.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), ((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)))
    expected = ops.conv2d(padded, layer.weight.data, layer.bias.data).data
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel_size", [3, 4, (2, 3)])
def test_conv2d_same_padding_gradients(rng, kernel_size):
    layer = nn.Conv2d(2, 2, kernel_size, padding="same")

    def fn(x, w, b):
        layer.weight, layer.bias = w, b
        return layer(x)

    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    inputs = [rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 2, kh, kw)),
              rng.standard_normal(2)]
    assert tc.gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_conv2d_padding_strings_and_errors(rng):
    x = rng.standard_normal((1, 1, 5, 5)).astype(np.float32)
    valid = nn.Conv2d(1, 1, 3, padding="valid", rng=rng)
    assert valid(x).shape == (1, 1, 3, 3)
    assert repr(nn.Conv2d(1, 2, 4, padding="same")) == (
        "Conv2d(1, 2, kernel_size=4, stride=1, padding='same')")
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' needs stride 1, got stride=2; "
                                         r"expected stride=1 \(as PyTorch.*pass an int, e.g. "
                                         r"padding=1"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' needs stride 1, got "
                                         r"stride=\(1, 2\)"):
        nn.Conv2d(1, 1, 3, stride=(1, 2), padding="same")
    with pytest.raises(ValueError, match=r"^Conv2d: padding is 'full'; expected an int >= 0, an "
                                         r"\(h, w\) pair of such ints, 'same' or 'valid'$"):
        nn.Conv2d(1, 1, 3, padding="full")


@pytest.mark.parametrize("kernel_size, dilation", [(3, 2), (2, 3), ((2, 3), (3, 2))])
def test_dilated_conv2d_same_padding_keeps_the_size(rng, kernel_size, dilation):
    """"same" with dilation D: D*(K - 1) zeros per axis, half of them (rounded down) before."""
    layer = nn.Conv2d(2, 3, kernel_size, padding="same", dilation=dilation, rng=rng)
    x = rng.standard_normal((2, 2, 7, 8)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 3, 7, 8)
    (kh, kw), (dh, dw) = layer.weight.shape[2:], np.broadcast_to(dilation, 2)
    th, tw = dh * (kh - 1), dw * (kw - 1)
    padded = np.pad(x, ((0, 0), (0, 0), (th // 2, th - th // 2), (tw // 2, tw - tw // 2)))
    expected = ops.conv2d(padded, layer.weight.data, layer.bias.data, dilation=dilation).data
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


def test_dilated_conv_layers_repr_forward_and_errors(rng):
    layer = nn.Conv2d(2, 4, 3, padding=2, dilation=2, groups=2, rng=rng)
    assert repr(layer) == "Conv2d(2, 4, kernel_size=3, stride=1, padding=2, dilation=2, groups=2)"
    assert repr(nn.Conv2d(2, 4, 3, dilation=(1, 1))) == "Conv2d(2, 4, kernel_size=3, stride=1)"
    x = rng.standard_normal((1, 2, 6, 5)).astype(np.float32)
    out = layer(x)
    assert out.shape == (1, 4, 6, 5)
    np.testing.assert_array_equal(out.data, ops.conv2d(x, layer.weight, layer.bias, padding=2,
                                                       dilation=2, groups=2).data)
    up = nn.ConvTranspose2d(2, 3, 2, output_padding=1, dilation=(2, 3), rng=rng)
    assert repr(up) == ("ConvTranspose2d(2, 3, kernel_size=(2, 2), stride=(1, 1), "
                        "dilation=(2, 3), output_padding=(1, 1))")
    assert up.dilation == (2, 3) and up(x).shape == (1, 3, 6 - 1 + 2 + 1 + 1, 5 - 1 + 3 + 1 + 1)
    with pytest.raises(ValueError, match=r"^Conv2d: dilation is 0; expected an int >= 1"):
        nn.Conv2d(2, 4, 3, dilation=0)
    with pytest.raises(TypeError, match=r"^ConvTranspose2d: dilation is float 1\.5; expected an "
                                        r"int >= 1"):
        nn.ConvTranspose2d(2, 4, 3, dilation=1.5)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: output_padding=2 is not smaller than "
                                         r"stride=1 or dilation=2; expected each output_padding "
                                         r"< max\(its stride, its dilation\), as PyTorch"):
        nn.ConvTranspose2d(2, 4, 3, output_padding=2, dilation=2)
    # PyTorch's positional order puts dilation where ours has bias: refused, with the fix
    with pytest.raises(TypeError, match=r"Conv2d: bias is int 2; expected True or False; pass "
                                        r"dilation and groups \(the settings after bias\) by "
                                        r"keyword, e\.g\. nn\.Conv2d\(4, 6, 3, dilation=2\)"):
        nn.Conv2d(4, 6, 3, 1, 0, 2)
    assert nn.Conv2d(4, 6, 3, dilation=2).dilation == 2                     # the fix it gives


def test_activation_pooling_and_identity_layers(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_array_equal(nn.LeakyReLU()(x).data, np.where(x > 0, x, 0.01 * x))
    np.testing.assert_array_equal(nn.LeakyReLU(0.2)(x).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).data,
                               x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5)), rtol=1e-14)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    np.testing.assert_allclose(nn.AvgPool2d(3, stride=2, padding=1)(x).data,
                               ops.avg_pool2d(padded, 3, stride=2).data, rtol=1e-14)
    value = tc.Value(x)
    assert nn.Identity()(value) is value
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.Tanh()) == "Tanh()" and repr(nn.Identity()) == "Identity()"


@pytest.mark.parametrize("layer", [nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.1),
                                   nn.AvgPool2d(2, stride=1, padding=1), nn.Identity(),
                                   nn.Softmax(dim=1), nn.LogSoftmax(dim=-1),
                                   nn.AdaptiveAvgPool2d((3, 2)), nn.AdaptiveAvgPool2d(1),
                                   nn.ELU(0.5), nn.Hardtanh(-0.7, 1.3), nn.ReLU6(),
                                   nn.Softplus(2.0, 3.0)])
def test_new_layers_gradcheck_and_gradgradcheck(rng, layer):
    x = rng.standard_normal((2, 2, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5                                # away from leaky_relu's kink
    assert tc.gradcheck(layer, [x])
    assert gradgradcheck(layer, [x])


def test_new_layer_argument_errors():
    with pytest.raises(TypeError, match=r"LeakyReLU: negative_slope is str '0.1'; expected a "
                                        r"real number such as 0\.01"):
        nn.LeakyReLU("0.1")
    with pytest.raises(ValueError, match=r"^AvgPool2d: padding is -1; expected an int >= 0"):
        nn.AvgPool2d(2, padding=-1)
    with pytest.raises(ValueError, match=r"^AvgPool2d: kernel_size is 0; expected an int >= 1"):
        nn.AvgPool2d(0)


def test_softmax_log_softmax_and_adaptive_avg_pool2d_layers(rng):
    x = rng.standard_normal((4, 5)) * 3
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).data, p, rtol=1e-14)
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(x).data, np.log(p), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(nn.Softmax(0)(x).data.sum(axis=0), np.ones(5), rtol=1e-15)
    images = rng.standard_normal((2, 3, 4, 6))
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(images).data,
                               images.mean(axis=(2, 3), keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d((2, None))(images).data,
                               images.reshape(2, 3, 2, 2, 6).mean(axis=3), rtol=1e-14)
    assert nn.AdaptiveAvgPool2d((3, 4))(images[0]).shape == (3, 3, 4)     # one (C, H, W) image
    for layer, text in [(nn.Softmax(dim=1), "Softmax(dim=1)"),
                        (nn.LogSoftmax(-1), "LogSoftmax(dim=-1)"),
                        (nn.AdaptiveAvgPool2d((5, None)),
                         "AdaptiveAvgPool2d(output_size=(5, None))"),
                        (nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d(output_size=1)")]:
        assert repr(layer) == text                                         # PyTorch's reprs
        assert list(layer.parameters()) == [] and layer.state_dict() == {}


@pytest.mark.parametrize("layer", ["Softmax", "LogSoftmax"])
def test_softmax_layers_require_dim_and_name_the_fix(rng, layer):
    with pytest.raises(TypeError, match=rf"{layer}: dim is None; expected the axis to normalise "
                                        rf"over \(PyTorch's implicit choice for dim=None is "
                                        rf"deprecated, and not followed here\); pass dim=1 for "
                                        rf"scores \(N, C\), e\.g\. nn\.{layer}\(dim=1\)"):
        getattr(nn, layer)()
    fixed = eval(f"nn.{layer}(dim=1)")                                      # the fix it names
    assert fixed(rng.standard_normal((3, 4))).shape == (3, 4)
    with pytest.raises(TypeError, match=rf"{layer}: dim is str '1'; expected an int"):
        getattr(nn, layer)("1")
    with pytest.raises(TypeError, match=rf"{layer}: dim is float 1\.0; expected an int"):
        getattr(nn, layer)(dim=1.0)
    op = "softmax" if layer == "Softmax" else "log_softmax"
    with pytest.raises(ValueError, match=rf"{op}: axis 2 is out of range; expected an int in "
                                         rf"\[-2, 2\) for an input of shape \(3, 4\)$"):
        getattr(nn, layer)(dim=2)(np.ones((3, 4)))


def test_gelu_and_silu_layers(rng):
    x = rng.standard_normal((2, 3, 4)) * 3
    for layer, expected in [(nn.GELU(), ops.gelu(x)), (nn.GELU("tanh"), ops.gelu(x, "tanh")),
                            (nn.SiLU(), x / (1 + np.exp(-x)))]:
        out = layer(tc.Value(x))
        np.testing.assert_allclose(out.data, getattr(expected, "data", expected), rtol=1e-14)
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
        assert tc.gradcheck(layer, [x]) and gradgradcheck(layer, [x])
    np.testing.assert_allclose(nn.GELU()(x).data, x / 2 * (1 + np.vectorize(math.erf)(
        x / math.sqrt(2))), rtol=1e-13, atol=1e-15)
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    assert repr(nn.GELU(approximate="tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.SiLU()) == "SiLU()"
    with pytest.raises(ValueError, match=r"GELU: approximate='exact' is not one of its two forms; "
                                         r"expected 'none' \(x Phi\(x\), with erf\) or 'tanh' "
                                         r"\(PyTorch's tanh approximation\); pass e.g. "
                                         r"GELU\(approximate='tanh'\)"):
        nn.GELU("exact")


def test_elu_hardtanh_relu6_and_softplus_layers(rng):
    x = rng.standard_normal((2, 3, 4)) * 4
    x[0, 0, :2] = [25.0, 7.0]                               # past threshold 20 and relu6's 6
    for layer, expected in [(nn.ELU(), ops.elu(x)), (nn.ELU(alpha=0.5), ops.elu(x, 0.5)),
                            (nn.Hardtanh(), ops.hardtanh(x)),
                            (nn.Hardtanh(-2, 3), ops.hardtanh(x, -2.0, 3.0)),
                            (nn.ReLU6(), ops.hardtanh(x, 0.0, 6.0)),
                            (nn.Softplus(), ops.softplus(x, 1.0, 20.0)),
                            (nn.Softplus(beta=2, threshold=5), ops.softplus(x, 2.0, 5.0))]:
        np.testing.assert_array_equal(layer(tc.Value(x)).data, expected.data)
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
    np.testing.assert_array_equal(nn.ReLU6()(x).data, np.clip(x, 0, 6))
    assert nn.Softplus()(x).data[0, 0, 0] == 25.0                # x itself above threshold
    relu6 = nn.ReLU6()
    assert isinstance(relu6, nn.Hardtanh) and (relu6.min_val, relu6.max_val) == (0.0, 6.0)
    for layer, text in [(nn.ELU(), "ELU(alpha=1.0)"), (nn.ELU(0.5), "ELU(alpha=0.5)"),
                        (nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
                        (relu6, "ReLU6()"), (nn.Softplus(), "Softplus(beta=1.0, threshold=20.0)"),
                        (nn.Softplus(0.5, 10.0), "Softplus(beta=0.5, threshold=10.0)")]:
        assert repr(layer) == text                                  # PyTorch's reprs


def test_elu_hardtanh_and_softplus_layer_errors():
    with pytest.raises(TypeError, match=r"ELU: alpha is str '1'; expected a real number such as "
                                        r"1\.0"):
        nn.ELU("1")
    with pytest.raises(ValueError, match=r"Hardtanh: max_val=-1\.0 is not greater than "
                                         r"min_val=1\.0; expected min_val < max_val, as "
                                         r"PyTorch's Hardtanh"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match=r"Hardtanh: max_val=0\.5 is not greater than min_val"):
        nn.Hardtanh(0.5, 0.5)
    with pytest.raises(TypeError, match=r"Hardtanh: min_val is NoneType None; expected a real "
                                        r"number such as -1\.0"):
        nn.Hardtanh(None)
    with pytest.raises(ValueError, match=r"Softplus: beta is 0, which log\(1 \+ e\^\(beta "
                                         r"x\)\) / beta divides by; expected a non-zero number"):
        nn.Softplus(beta=0.0)
    with pytest.raises(TypeError, match=r"Softplus: threshold is str '20'; expected a real "
                                        r"number such as 20\.0"):
        nn.Softplus(threshold="20")


def test_prelu_layer_slopes_gradients_state_dict_and_repr(rng):
    shared = nn.PReLU()
    assert shared.weight.dtype == np.float32 and shared.weight.data.tolist() == [0.25]
    assert repr(shared) == "PReLU(num_parameters=1)"            # PyTorch's default and repr
    layer = nn.PReLU(3, init=0.1)
    assert repr(layer) == "PReLU(num_parameters=3)"
    assert {name: v.shape for name, v in layer.state_dict().items()} == {"weight": (3,)}
    np.testing.assert_allclose(layer.weight.data, [0.1] * 3, rtol=1e-7)
    x = rng.standard_normal((2, 3, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5                                    # away from the kink
    np.testing.assert_array_equal(layer(x).data, ops.prelu(x, layer.weight).data)
    np.testing.assert_array_equal(shared(x[0, 0]).data, np.where(x[0, 0] > 0, x[0, 0],
                                                                 np.float32(0.25) * x[0, 0]))

    def with_weight(x, weight):
        layer.weight = weight
        return layer(x)

    weight = rng.uniform(-0.5, 1.5, 3)
    assert tc.gradcheck(with_weight, [x, weight]) and gradgradcheck(with_weight, [x, weight])
    layer.weight = tc.Value(np.full(3, 0.25, np.float32))
    out = layer(tc.Value(x.astype(np.float32)))
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert out.dtype == layer.weight.grad.dtype == np.float32


def test_prelu_layer_errors(rng):
    with pytest.raises(ValueError, match=r"PReLU: num_parameters is 0; expected an integer >= 1"):
        nn.PReLU(0)
    with pytest.raises(TypeError, match=r"PReLU: init is str '0\.25'; expected a real number "
                                        r"such as 0\.25"):
        nn.PReLU(1, "0.25")
    with pytest.raises(ValueError, match=r"prelu: weight has shape \(4,\) but the input "
                                         r"\(2, 3\) has 3 channels .* e\.g\. "
                                         r"nn\.PReLU\(num_parameters=3\)"):
        nn.PReLU(4)(rng.standard_normal((2, 3)))
    assert nn.PReLU(num_parameters=3)(rng.standard_normal((2, 3))).shape == (2, 3)  # the fix


@pytest.mark.parametrize("layer, make", [
    ("Conv2d", lambda: nn.Conv2d(4, 6, 3, 1, 0, True, 2)),
    ("ConvTranspose2d", lambda: nn.ConvTranspose2d(4, 6, 3, 1, 0, 0, True, 2)),
    ("Linear", lambda: nn.Linear(2, 3, True, 7)),
    ("Embedding", lambda: nn.Embedding(5, 2, None, "seed"))])
def test_an_rng_that_is_not_a_generator_is_named(layer, make):
    """A setting given by position can land on rng (Conv2d's groups comes after it): the error
    names the layer and says so, instead of numpy's "'int' object has no attribute 'uniform'"."""
    with pytest.raises(TypeError, match=rf"^{layer}: rng is (int|str) .*; expected a "
                                        r"np.random.Generator or None, e.g. "
                                        r"rng=np.random.default_rng\(0\); a value meant for "
                                        r"another setting may have landed on rng by position: "
                                        r"pass that setting by keyword \(e.g. groups=2\)$"):
        make()
    assert nn.Conv2d(4, 6, 3, groups=2).weight.shape == (6, 2, 3, 3)     # the fix it gives


# --------------------------------------------------------------- 1-D layers, unbatched inputs

def test_conv1d_layer_weights_forward_repr_and_state_dict(rng):
    layer = nn.Conv1d(4, 6, 3, stride=2, padding=1, rng=np.random.default_rng(5), groups=2,
                      dilation=2)
    assert layer.weight.shape == (6, 2, 3) and layer.bias.shape == (6,)   # PyTorch's layout
    bound = 1 / math.sqrt(4 // 2 * 3)
    expected = np.random.default_rng(5).uniform(-bound, bound, (6, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer.weight.data, expected)        # weight first, then bias
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert repr(layer) == "Conv1d(4, 6, kernel_size=3, stride=2, padding=1, dilation=2, groups=2)"
    assert repr(nn.Conv1d(2, 3, (4,), padding="same", bias=False)) == (
        "Conv1d(2, 3, kernel_size=(4,), stride=1, padding='same', bias=False)")
    x = rng.standard_normal((2, 4, 9)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 6, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, ops.conv1d(x, layer.weight, layer.bias, stride=2,
                                                       padding=1, dilation=2, groups=2).data)
    np.testing.assert_array_equal(layer(x[0]).data, out.data[0])      # one unbatched signal


@pytest.mark.parametrize("kernel_size, dilation", [(3, 1), (4, 1), (2, 3), (3, 2)])
def test_conv1d_same_padding_keeps_the_length_and_gradchecks(rng, kernel_size, dilation):
    """"same": dilation*(K - 1) zeros in all, half of them (rounded down) before, as PyTorch."""
    layer = nn.Conv1d(2, 3, kernel_size, padding="same", dilation=dilation, rng=rng)
    x = rng.standard_normal((2, 2, 7)).astype(np.float32)
    total = dilation * (kernel_size - 1)
    padded = np.pad(x, ((0, 0), (0, 0), (total // 2, total - total // 2)))
    expected = ops.conv1d(padded, layer.weight.data, layer.bias.data, dilation=dilation).data
    for batch, out in [(x, layer(x)), (x[1], layer(x[1]))]:
        assert out.shape == batch.shape[:-2] + (3, 7)
        np.testing.assert_allclose(out.data, expected if batch.ndim == 3 else expected[1],
                                   rtol=1e-5, atol=1e-6)

    def fn(x, w, b):
        layer.weight, layer.bias = w, b
        return layer(x)

    inputs = [rng.standard_normal((2, 2, 5)), rng.standard_normal((3, 2, kernel_size)),
              rng.standard_normal(3)]
    assert tc.gradcheck(fn, inputs)
    assert tc.gradcheck(fn, [inputs[0][0], *inputs[1:]])


STRIDED_SAME = [
    # (layer, input sizes, full message)
    (lambda padding: nn.Conv1d(1, 2, 4, stride=2, dilation=3, padding=padding), [(n,) for n in
                                                                                 range(9, 20)],
     "Conv1d: padding='same' needs stride 1, got stride=2; expected stride=1 (as PyTorch: with a "
     "larger stride no padding keeps the size); for a strided convolution pass an int, e.g. "
     "padding=4 (dilation*(K - 1) // 2), which gives OL = ceil((L - 1) / 2): the total "
     "dilation*(K - 1) = 9 is odd: 'same' would add one zero more at the end than at the start, "
     "and a number padding adds as many at both"),
    (lambda padding: nn.Conv1d(1, 2, 5, stride=3, dilation=2, padding=padding), [(n,) for n in
                                                                                 range(8, 20)],
     "Conv1d: padding='same' needs stride 1, got stride=3; expected stride=1 (as PyTorch: with a "
     "larger stride no padding keeps the size); for a strided convolution pass an int, e.g. "
     "padding=4 (dilation*(K - 1) // 2), which gives OL = ceil(L / 3)"),
    (lambda padding: nn.Conv2d(1, 2, (3, 2), stride=(2, 3), dilation=(2, 3), padding=padding),
     [(h, w) for h in range(5, 9) for w in range(4, 10)],
     "Conv2d: padding='same' needs stride 1, got stride=(2, 3); expected stride=1 (as PyTorch: "
     "with a larger stride no padding keeps the size); for a strided convolution pass a pair, "
     "e.g. padding=(2, 1) (dilation*(K - 1) // 2), which gives OH = ceil(H / 2) and "
     "OW = ceil((W - 1) / 3): the total dilation*(K - 1) = 3 along W is odd: 'same' would add one "
     "zero more at the end than at the start, and a number padding adds as many at both"),
]


@pytest.mark.parametrize("make, sizes, message", STRIDED_SAME)
def test_strided_same_padding_suggests_the_dilated_half_and_keeps_its_promise(make, sizes,
                                                                             message):
    """padding="same" with a stride is refused (as PyTorch); the int padding suggested,
    dilation*(K - 1) // 2, runs and gives the output sizes the message states."""
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        make("same")
    padding = eval(re.search(r"e\.g\. padding=(\d+|\(\d+, \d+\))", message)[1])
    layer = make(padding)
    promised = re.findall(r"O\w = ceil\(\(?(\w)( - 1)?\)? / (\d)\)", message)
    for size in sizes:
        out = layer(np.ones((1, 1, *size), np.float32))
        expected = tuple(math.ceil((n - (1 if minus else 0)) / int(step))
                         for n, (_, minus, step) in zip(size, promised, strict=True))
        assert out.shape[2:] == expected, (size, expected)


def test_a_conv_or_pool_subclass_must_set_spatial_and_op():
    """The private bases set neither `spatial` nor `_op`: a subclass that forgets one fails
    loudly, instead of silently becoming a 2-D max-pool or convolution."""
    from tinygrad_cnn.nn import layers

    class NoSpatial(layers._Conv):
        _op = staticmethod(ops.conv1d)

    class NoOp(layers._Pool):
        spatial = 1

    assert not hasattr(layers._Conv, "spatial") and not hasattr(layers._Pool, "_op")
    with pytest.raises(AttributeError, match=r"'NoSpatial' object has no attribute 'spatial'"):
        NoSpatial(1, 2, 3)
    with pytest.raises(AttributeError, match=r"'NoOp' object has no attribute '_op'"):
        NoOp(2)(np.ones((1, 2, 4)))


def test_conv1d_layer_argument_errors():
    with pytest.raises(ValueError, match=r"^Conv1d: kernel_size is \(3, 3\); expected an int >= "
                                         r"1 \(or a tuple of one\); pass e\.g\. kernel_size=3$"):
        nn.Conv1d(1, 2, kernel_size=(3, 3))
    with pytest.raises(ValueError, match=r"^Conv1d: padding is -1; expected an int >= 0 \(or a "
                                         r"tuple of one\), 'same' or 'valid'; pass e\.g\. "
                                         r"padding=0$"):
        nn.Conv1d(1, 2, 3, padding=-1)
    with pytest.raises(ValueError, match=r"^Conv1d: stride is 0; expected an int >= 1 \(or a "
                                         r"tuple of one\); pass e\.g\. stride=1$"):
        nn.Conv1d(1, 2, 3, stride=0)
    with pytest.raises(TypeError, match=r"^Conv1d: dilation is float 1\.5; expected an int >= 1 "
                                        r"\(or a tuple of one\); pass e\.g\. dilation=1$"):
        nn.Conv1d(1, 2, 3, dilation=1.5)
    with pytest.raises(ValueError, match=r"^Conv1d: padding is 'full'; expected an int >= 0 \(or "
                                         r"a tuple of one\), 'same' or 'valid'$"):
        nn.Conv1d(1, 2, 3, padding="full")
    with pytest.raises(ValueError, match=r"^Conv1d: padding='same' needs stride 1, got "
                                         r"stride=2; .* e\.g\. padding=2 \(dilation\*\(K - 1\) "
                                         r"// 2\), which gives OL = ceil\(L / 2\)$"):
        nn.Conv1d(1, 2, 5, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"^Conv1d: groups=4 does not divide both in_channels=4 "
                                         r"and out_channels=6"):
        nn.Conv1d(4, 6, 3, groups=4)
    with pytest.raises(TypeError, match=r"^Conv1d: bias is int 2; expected True or False; pass "
                                        r"dilation and groups \(the settings after bias\) by "
                                        r"keyword, e\.g\. nn\.Conv1d\(4, 6, 3, dilation=2\)$"):
        nn.Conv1d(4, 6, 3, 1, 0, 2)
    with pytest.raises(ValueError, match=r"^conv1d: input has 3 channels but weight expects 2"):
        nn.Conv1d(2, 4, 3)(np.ones((1, 3, 8), np.float32))


def test_pool1d_layers_forward_repr_and_errors(rng):
    x = rng.standard_normal((2, 3, 9))
    np.testing.assert_array_equal(nn.MaxPool1d(3, 2, padding=1)(x).data,
                                  ops.max_pool1d(x, 3, 2, 1).data)
    np.testing.assert_array_equal(nn.AvgPool1d(2)(x[0]).data, ops.avg_pool1d(x[0], 2).data)
    np.testing.assert_allclose(nn.AvgPool1d(3)(x).data, x.reshape(2, 3, 3, 3).mean(axis=3),
                               rtol=1e-14)
    assert repr(nn.MaxPool1d(3)) == "MaxPool1d(kernel_size=3, stride=3)"
    assert repr(nn.MaxPool1d(3, 2, padding=1)) == "MaxPool1d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.AvgPool1d(2)) == "AvgPool1d(kernel_size=2, stride=2, padding=0)"
    for layer in (nn.MaxPool1d(2), nn.AvgPool1d(2, stride=1, padding=1)):
        assert list(layer.parameters()) == [] and layer.state_dict() == {}
        assert tc.gradcheck(layer, [x[:, :, :7]])
    with pytest.raises(ValueError, match=r"^MaxPool1d: kernel_size is \(2, 2\); expected an int "
                                         r">= 1 \(or a tuple of one\); pass e\.g\. "
                                         r"kernel_size=2$"):
        nn.MaxPool1d((2, 2))
    with pytest.raises(ValueError, match=r"^AvgPool1d: padding is -1; expected an int >= 0 \(or "
                                         r"a tuple of one\); pass e\.g\. padding=0$"):
        nn.AvgPool1d(2, padding=-1)
    with pytest.raises(ValueError, match=r"^max_pool1d: padding 2 is more than half the kernel "
                                         r"3"):
        nn.MaxPool1d(3, padding=2)(x)


def test_2d_layers_take_one_unbatched_image(rng):
    images = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    for layer in (nn.Conv2d(3, 4, 3, padding=1, rng=rng), nn.Conv2d(3, 4, 2, padding="same"),
                  nn.Conv2d(3, 6, (2, 3), stride=2, groups=3, dilation=(2, 1)),
                  nn.MaxPool2d(3, 2, padding=1), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d((4, 2))):
        batched, one = layer(images), layer(images[1])
        assert one.shape == batched.shape[1:], repr(layer)
        np.testing.assert_allclose(one.data, batched.data[1], rtol=1e-6, atol=1e-6,
                                   err_msg=repr(layer))
    assert nn.Conv2d(3, 4, 2, padding="same")(images[0]).shape == (4, 6, 7)


# ------------------------------------------------------------------------------- ModuleDict

def test_module_dict_holds_modules_by_key_for_parameters_state_dict_and_modes(rng):
    class TwoHeads(nn.Module):
        def __init__(self):
            self.body = nn.Linear(3, 4, rng=rng)
            self.heads = nn.ModuleDict({"digits": nn.Linear(4, 10, rng=rng),
                                        "parity": nn.Linear(4, 2, rng=rng)})

        def forward(self, x, task):
            return self.heads[task](self.body(x).relu())

    model = TwoHeads()
    assert list(model.heads) == ["digits", "parity"] and len(model.heads) == 2
    assert "parity" in model.heads and "colour" not in model.heads
    assert [name for name, _ in model.named_parameters()] == [
        "body.weight", "body.bias", "heads.digits.weight", "heads.digits.bias",
        "heads.parity.weight", "heads.parity.bias"]
    assert model(np.ones((2, 3), dtype=np.float32), "parity").shape == (2, 2)
    model.heads["colour"] = nn.Linear(4, 3, rng=rng)
    assert list(model.heads.keys()) == ["digits", "parity", "colour"]
    assert [type(m).__name__ for m in model.heads.values()] == ["Linear"] * 3
    model.eval()
    assert not any(m.training for _, m in model.heads.items())
    copy = TwoHeads()
    copy.heads["colour"] = nn.Linear(4, 3, rng=rng)
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy.heads["colour"].weight.data,
                                  model.heads["colour"].weight.data)


def test_module_dict_delete_pop_and_clear(rng):
    first, second = nn.Linear(2, 2, rng=rng), nn.ReLU()
    heads = nn.ModuleDict({"first": first, "second": second, "third": nn.Tanh()})
    del heads["third"]
    assert list(heads) == ["first", "second"]
    assert heads.pop("first") is first and list(heads) == ["second"]
    assert list(heads.state_dict()) == [] and "first" not in heads
    heads.clear()
    assert len(heads) == 0 and list(heads.items()) == []
    for remove in (heads.pop, heads.__delitem__):
        with pytest.raises(KeyError, match=r"ModuleDict: no module under 'z'; the keys are "
                                           r"\[\]"):
            remove("z")


def test_module_dict_errors_name_the_key_and_the_fix(rng):
    heads = nn.ModuleDict()
    for key in ["forward", "training", "a.b", "", 3]:
        with pytest.raises(KeyError, match=r"ModuleDict: key .*; expected a non-empty str "
                                           r"without dots that is not a Module attribute or "
                                           r"method"):
            heads[key] = nn.Linear(2, 2, rng=rng)
    with pytest.raises(TypeError, match=r"ModuleDict: the module for 'x' is a int; expected "
                                        r"nn.Module instances"):
        heads.update({"y": nn.ReLU(), "x": 3})
    assert len(heads) == 0                              # a bad entry adds none
    with pytest.raises(KeyError, match=r"ModuleDict: no module under 'z'; the keys are \[\]"):
        heads["z"]

    class Plain(nn.Module):
        def __init__(self):
            self.heads = {"a": nn.Linear(2, 2, rng=rng)}

    with pytest.raises(TypeError, match=r"Plain.heads is a dict of modules, whose parameters "
                                        r"would not be found .* expected modules in an "
                                        r"nn.ModuleDict; write self.heads = "
                                        r"nn.ModuleDict\(\{\.\.\.\}\)"):
        list(Plain().parameters())


def test_double_and_float_cast_every_parameter_and_float_buffer_in_place(rng):
    model = nn.Sequential(nn.Linear(3, 4, rng=rng), nn.BatchNorm1d(4), nn.ReLU())
    weight = model[0].weight
    weight.grad = np.ones((4, 3), dtype=np.float32)
    assert model.double() is model
    assert model[0].weight is weight and weight.dtype == np.float64 and weight.grad is None
    assert {b.dtype for b in model.buffers()} == {np.dtype(np.float64), np.dtype(np.int64)}
    x = rng.standard_normal((5, 3))
    assert tc.gradcheck(model, [x])                    # float64 inputs meet float64 weights
    model.float()
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}
    assert model[1].running_mean.dtype == np.float32
    assert model[1].num_batches_tracked.dtype == np.int64
