"""The layers and schedules of tinygrad_cnn against PyTorch float64: Conv2d(padding="same") with
odd and even kernels, grouped and depthwise Conv2d, ConvTranspose2d (grouped too, its initial
range), AvgPool2d's padding rule, AdaptiveAvgPool2d, Softmax and LogSoftmax (with their reprs),
BatchNorm1d/2d (forward, every gradient, the running statistics after several steps, evaluation
mode, the state dict), LayerNorm, GroupNorm and Embedding (with padding_idx too), Dropout's
scaling, the activations (PReLU's learned slopes with their state dict too), state dicts of tied
weights, shared modules and Sequential slices loaded strictly both ways, a module held under two
names (one child, but run twice by a Sequential), parameters that require grad refused with a
fix that works, entries of another dtype cast where no value changes, ModuleList and ModuleDict
edits (set, delete, insert, pop, +=, +), and the learning rates of StepLR and CosineAnnealingLR
over 12 epochs, also resumed from a state dict."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim

TIGHT = {"rtol": 1e-10, "atol": 1e-12}


def as_float64(module: nn.Module) -> nn.Module:
    """The module with float64 copies of its parameters and floating buffers, to compare with
    PyTorch in float64."""
    for sub in module.modules():
        for name, value in list(vars(sub).items()):
            if isinstance(value, tc.Value):
                setattr(sub, name, tc.Value(value.data.astype(np.float64)))
            elif isinstance(value, nn.Buffer) and value.dtype.kind == "f":
                value.data = value.data.astype(np.float64)
    return module


def copy_parameters(torch, ours: nn.Module, theirs) -> None:
    """Give PyTorch's module our parameter values (same names)."""
    with torch.no_grad():
        for name, param in ours.named_parameters():
            theirs.get_parameter(name).copy_(torch.from_numpy(param.data))


def compare_forward_and_gradients(torch, ours, theirs, x, upstream):
    """Outputs, input gradient and every parameter gradient agree."""
    ours_x = tc.Value(x)
    out = ours(ours_x)
    out.backward(upstream)
    theirs_x = torch.tensor(x, requires_grad=True)
    their_out = theirs(theirs_x)
    their_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), **TIGHT)
    for name, param in ours.named_parameters():
        their = theirs.get_parameter(name).grad.numpy()
        np.testing.assert_allclose(param.grad, their, err_msg=name, **TIGHT)


def with_their_weights(ours, theirs):
    """ours in float64 with the weights of theirs (PyTorch's module of the same settings),
    after checking that the two state dicts have the same names in the same order."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.double()                                       # before loading: load keeps our dtype
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours


def compare_results_and_gradients(torch, rng, ours, theirs, values, tensors, results,
                                  their_results):
    """Our results (Values) equal theirs (tensors); then, through one random upstream gradient
    per result, so do the gradients of the inputs (`values`, `tensors`) and of every parameter
    of the modules `ours` and `theirs`, by name (float64: loose against summation order)."""
    assert len(results) == len(their_results)
    for r, t in zip(results, their_results, strict=True):
        np.testing.assert_allclose(r.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = [rng.standard_normal(r.shape) for r in results]
    sum((r * u).sum() for r, u in zip(results, upstream, strict=True)).backward()
    sum((t * torch.tensor(u)).sum()
        for t, u in zip(their_results, upstream, strict=True)).backward()
    for i, (v, t) in enumerate(zip(values, tensors, strict=True)):
        np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"input {i}")
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs.get_parameter(name).grad.numpy(), rtol=1e-9,
                                   atol=1e-10, err_msg=name)


def check_initial_range(ours: nn.Module, theirs, bound: float) -> None:
    """ours' and theirs' float32 weight and bias, of one shape, fill U(-bound, bound): none is
    past the bound, and where there are hundreds of draws they reach the top of the range."""
    for name in ("weight", "bias"):
        their = theirs.get_parameter(name).detach().numpy()
        our = getattr(ours, name).data
        assert our.shape == their.shape and our.dtype == np.float32
        for values in (our, their):
            assert np.abs(values).max() <= bound
            if values.size >= 100:        # hundreds of draws reach the top of the range
                assert np.abs(values).max() > 0.95 * bound


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("kernel_size", [1, 3, 5, 2, 4, (2, 3), (3, 4)])
def test_conv2d_same_padding(torch, rng, kernel_size):
    ours = as_float64(nn.Conv2d(2, 3, kernel_size, padding="same"))
    theirs = torch.nn.Conv2d(2, 3, kernel_size, padding="same")
    copy_parameters(torch, ours, theirs)
    x = rng.standard_normal((2, 2, 6, 7))
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal((2, 3, 6, 7)))


@pytest.mark.parametrize("kernel_size, stride, padding", [(2, None, 0), (3, 2, 1), (3, 1, 1),
                                                          ((2, 3), (1, 2), (1, 1)), (4, 3, 2)])
def test_avg_pool2d_padding_rule(torch, rng, kernel_size, stride, padding):
    """The padded zeros count in every mean (PyTorch's count_include_pad=True default)."""
    ours = nn.AvgPool2d(kernel_size, stride=stride, padding=padding)
    theirs = torch.nn.AvgPool2d(kernel_size, stride=stride, padding=padding)
    x = rng.standard_normal((2, 3, 7, 8))
    shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))


@pytest.mark.parametrize("ours, name", [(nn.Tanh(), "Tanh"), (nn.Sigmoid(), "Sigmoid"),
                                        (nn.LeakyReLU(), "LeakyReLU"), (nn.Identity(), "Identity")])
def test_activations(torch, rng, ours, name):
    x = rng.standard_normal((3, 4, 5)) * 4
    compare_forward_and_gradients(torch, ours, getattr(torch.nn, name)(), x,
                                  rng.standard_normal((3, 4, 5)))
    slope = nn.LeakyReLU(0.3)
    compare_forward_and_gradients(torch, slope, torch.nn.LeakyReLU(0.3), x,
                                  rng.standard_normal((3, 4, 5)))


@pytest.mark.parametrize("output_size, shape", [
    (1, (2, 3, 7, 8)), ((3, 4), (2, 3, 7, 8)), ((4, None), (2, 3, 7, 8)), ((7, 2), (2, 3, 7, 8)),
    ((9, 10), (1, 2, 4, 3)), ((2, 3), (3, 5, 7))])
def test_adaptive_avg_pool2d_layer(torch, rng, output_size, shape):
    ours, theirs = nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal(shape)
    out_shape = tuple(theirs(torch.from_numpy(x)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(out_shape))


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim, shape", [(1, (4, 5)), (-1, (2, 3, 4)), (0, (3, 2)),
                                        (1, (2, 3, 2, 2))])
def test_softmax_layers(torch, rng, name, dim, shape):
    ours, theirs = getattr(nn, name)(dim=dim), getattr(torch.nn, name)(dim=dim)
    assert repr(ours) == repr(theirs)
    compare_forward_and_gradients(torch, ours, theirs, rng.standard_normal(shape) * 3,
                                  rng.standard_normal(shape))


BATCH_NORMS = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 5, 6)),
               ("BatchNorm2d", (1, 3, 2, 2))]


@pytest.mark.parametrize("layer, shape", BATCH_NORMS)
def test_batch_norm_training_steps_and_evaluation(torch, rng, layer, shape):
    """Three training steps (forward, gradients, running statistics with the unbiased
    variance), then evaluation mode (forward and gradients with the running statistics)."""
    ours = as_float64(getattr(nn, layer)(3, momentum=0.3, eps=1e-4))
    theirs = getattr(torch.nn, layer)(3, momentum=0.3, eps=1e-4)
    ours.weight.data[:] = rng.uniform(0.5, 2, 3)
    ours.bias.data[:] = rng.standard_normal(3)
    copy_parameters(torch, ours, theirs)
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        ours.zero_grad(), theirs.zero_grad()
        compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), err_msg=name,
                                   rtol=1e-12, atol=1e-14)
    assert list(ours.state_dict()) == list(theirs.state_dict())      # names and order
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    x = rng.standard_normal(shape)
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))


def test_batch_norm_state_dicts_load_both_ways(torch, rng):
    """A state dict saved by PyTorch (float32) loads into ours and gives PyTorch's outputs;
    ours loads into PyTorch's BatchNorm2d: the same names, shapes and dtypes."""
    theirs = torch.nn.BatchNorm2d(4).float()
    for _ in range(2):
        theirs(torch.from_numpy(rng.standard_normal((3, 4, 5, 5)).astype(np.float32)))
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
    theirs.eval()
    ours = nn.BatchNorm2d(4)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    ours.eval()
    assert ours.num_batches_tracked.data == 2
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    ours.train()                                          # and back: ours into PyTorch's
    ours(rng.standard_normal((3, 4, 5, 5)).astype(np.float32))
    again = torch.nn.BatchNorm2d(4).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in ours.state_dict().items()})
    assert int(again.num_batches_tracked) == 3
    np.testing.assert_array_equal(again.running_var.numpy(), ours.running_var.data)


class Tied(nn.Module):
    """Encoder and decoder sharing one weight, then one Linear held under two names (applied
    twice); its PyTorch twin is torch_tied()."""

    def __init__(self):
        self.enc = nn.Linear(4, 4)
        self.dec = nn.Linear(4, 4)
        self.dec.weight = self.enc.weight
        self.act = nn.Tanh()
        block = nn.Linear(4, 4)
        self.first, self.second = block, block

    def forward(self, x):
        x = self.act(self.dec(self.act(self.enc(x))))
        return self.second(self.act(self.first(x)))


def torch_tied(torch):
    """PyTorch's twin of Tied, float32: the same names, ties and forward."""

    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(4, 4)
            self.dec = torch.nn.Linear(4, 4)
            self.dec.weight = self.enc.weight
            self.act = torch.nn.Tanh()
            block = torch.nn.Linear(4, 4)
            self.first, self.second = block, block

        def forward(self, x):
            x = self.act(self.dec(self.act(self.enc(x))))
            return self.second(self.act(self.first(x)))

    return TorchTied().float()


def torch_forward(torch, module, x):
    """PyTorch's output for the numpy input x, as a numpy array."""
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def check_state_dicts_then_gradients(torch, rng, ours, make_theirs, x_shape):
    """Our float32 layer against PyTorch's (a fresh float32 one from make_theirs()): the same
    state-dict names, order and shapes; PyTorch's state dict loads strictly into ours and gives
    PyTorch's output; new values in ours load strictly into a fresh PyTorch layer and give
    ours; then the forward and every gradient in float64 through a random upstream gradient."""
    theirs = make_theirs()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert ours.load_state_dict({name: value.numpy()
                                 for name, value in theirs.state_dict().items()}) == ([], [])
    x = rng.standard_normal(x_shape).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, torch_forward(torch, theirs, x),
                               rtol=1e-5, atol=1e-6)
    for param in ours.parameters():                       # new values, then ours into PyTorch's
        param.data[...] = rng.standard_normal(param.shape)
    again = make_theirs()
    again.load_state_dict({name: torch.from_numpy(value)
                           for name, value in ours.state_dict().items()}, strict=True)
    assert list(again.state_dict()) == list(ours.state_dict())
    np.testing.assert_array_equal(again.weight.detach().numpy(), ours.weight.data)
    np.testing.assert_allclose(ours(x).data, torch_forward(torch, again, x),
                               rtol=1e-5, atol=1e-5)
    ours, theirs = as_float64(ours), again.double()
    x64 = rng.standard_normal(x_shape)
    shape = tuple(theirs(torch.from_numpy(x64)).shape)
    compare_forward_and_gradients(torch, ours, theirs, x64, rng.standard_normal(shape))


def test_tied_weights_and_shared_modules_load_strictly_both_ways(torch, rng):
    """Every name of a shared parameter or module is a key, as in PyTorch, so strict loading
    works both ways and leaves the ties in place; the outputs agree."""
    theirs, ours = torch_tied(torch), Tied()
    assert list(ours.state_dict()) == list(theirs.state_dict())      # names and order
    assert ours.load_state_dict({name: value.numpy()
                                 for name, value in theirs.state_dict().items()}) == ([], [])
    assert ours.dec.weight is ours.enc.weight and ours.first is ours.second
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, torch_forward(torch, theirs, x),
                               rtol=1e-5, atol=1e-6)
    for param in ours.parameters():                       # new values, then ours into PyTorch's
        param.data[...] = rng.standard_normal(param.shape)
    again = torch_tied(torch)
    again.load_state_dict({name: torch.from_numpy(value)
                           for name, value in ours.state_dict().items()})
    assert again.dec.weight is again.enc.weight
    np.testing.assert_array_equal(again.dec.weight.detach().numpy(), ours.enc.weight.data)
    np.testing.assert_allclose(ours(x).data, torch_forward(torch, again, x),
                               rtol=1e-5, atol=1e-6)


def test_a_module_under_two_names_is_one_child_as_pytorchs(torch, rng):
    """named_children() gives a shared module once, named_modules(remove_duplicate=False) under
    each name; Sequential(a, ReLU(), a) has length 3 and runs a twice; a ModuleList and a
    ModuleDict hold it under each name; the reprs list it under each name."""
    theirs, ours = torch_tied(torch), Tied()
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_modules(remove_duplicate=False)] == [
        n for n, _ in theirs.named_modules(remove_duplicate=False)]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    their_a, our_a = torch.nn.Linear(3, 3).float(), nn.Linear(3, 3)
    theirs = torch.nn.Sequential(their_a, torch.nn.ReLU(), their_a)
    ours = nn.Sequential(our_a, nn.ReLU(), our_a)
    assert ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()}) == (
        [], [])
    assert len(ours) == len(theirs) == 3 and len(list(ours)) == len(list(theirs)) == 3
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, torch_forward(torch, theirs, x),
                               rtol=1e-5, atol=1e-6)
    their_list, our_list = torch.nn.ModuleList([their_a] * 2), nn.ModuleList([our_a] * 2)
    assert len(our_list) == len(their_list) == 2
    assert [n for n, _ in our_list.named_children()] == [n for n, _ in their_list.named_children()]
    their_dict = torch.nn.ModuleDict({"p": their_a, "q": their_a})
    our_dict = nn.ModuleDict({"p": our_a, "q": our_a})
    assert list(our_dict) == list(their_dict) and len(our_dict) == len(their_dict) == 2
    assert len(list(our_dict.values())) == len(list(their_dict.values())) == 2
    assert list(our_dict.state_dict()) == list(their_dict.state_dict())


def test_parameters_that_require_grad_are_a_listed_problem_with_a_fix_that_works(torch):
    """dict(named_parameters()) holds tensors that require grad, which numpy cannot read: each
    is one of the listed problems, and the fixes the message suggests load."""
    theirs, ours = torch.nn.Linear(3, 2).float(), nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"(?s)2 problem\(s\), nothing was loaded:\n  weight: "
                                         r"a Parameter that requires grad.*\n  bias: a "
                                         r"Parameter that requires grad.*pass "
                                         r"torch_model.state_dict\(\)"):
        ours.load_state_dict(dict(theirs.named_parameters()))
    assert ours.load_state_dict(theirs.state_dict()) == ([], [])
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())
    detached = {name: param.detach() * 2 for name, param in theirs.named_parameters()}
    assert ours.load_state_dict(detached) == ([], [])
    np.testing.assert_array_equal(ours.bias.data, detached["bias"].numpy())


def test_entries_of_another_dtype_load_as_pytorchs_where_no_value_changes(torch):
    """A float64 num_batches_tracked of a whole number and an int64 weight load into
    BatchNorm1d as into PyTorch's (cast); 7.5, which PyTorch truncates silently, is refused
    here, and the cast the message suggests loads PyTorch's value."""
    theirs, ours = torch.nn.BatchNorm1d(3).float(), nn.BatchNorm1d(3)
    state = {name: value.numpy() for name, value in theirs.state_dict().items()}
    state.update(num_batches_tracked=np.array(7.0), weight=np.array([1, 2, 3]))
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    assert ours.load_state_dict(state) == ([], [])
    for name, value in theirs.state_dict().items():
        ours_value = ours.state_dict()[name]
        assert ours_value.dtype == value.numpy().dtype, name
        np.testing.assert_array_equal(ours_value, value.numpy(), err_msg=name)
    state["num_batches_tracked"] = np.array(7.5)
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    assert theirs.num_batches_tracked.item() == 7                  # truncated without a word
    with pytest.raises(ValueError, match=r"num_batches_tracked: dtype float64 in the state dict "
                                         r"holds 7.5, which the model's int64 cannot hold"):
        ours.load_state_dict(state)
    state["num_batches_tracked"] = np.asarray(state["num_batches_tracked"]).astype(np.int64)
    ours.load_state_dict(state)
    assert ours.state_dict()["num_batches_tracked"] == theirs.num_batches_tracked.item()


def test_sequential_slices_keep_the_names_and_load_strictly_both_ways(torch, rng):
    """model[1:] keeps the children's original names, as PyTorch's slice does."""
    theirs = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 3), torch.nn.Tanh(),
                                 torch.nn.Linear(3, 1)).float()
    ours = nn.Sequential(nn.ReLU(), nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert list(ours[1:].state_dict()) == list(theirs[1:].state_dict()) == [
        "1.weight", "1.bias", "3.weight", "3.bias"]
    assert ours[1:].load_state_dict({name: value.numpy()
                                     for name, value in theirs[1:].state_dict().items()}
                                    ) == ([], [])
    x = rng.standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_allclose(ours[1:](x).data, torch_forward(torch, theirs[1:], x),
                               rtol=1e-5, atol=1e-6)
    for param in ours.parameters():                       # new values, then ours into PyTorch's
        param.data[...] = rng.standard_normal(param.shape)
    theirs[2:].load_state_dict({name: torch.from_numpy(value)
                                for name, value in ours[2:].state_dict().items()})
    theirs[:2].load_state_dict({name: torch.from_numpy(value)
                                for name, value in ours[:2].state_dict().items()})
    np.testing.assert_allclose(ours(x).data, torch_forward(torch, theirs, x),
                               rtol=1e-5, atol=1e-6)   # the slices loaded the whole model


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_scaling_and_evaluation(torch, rng, p):
    """Same values as PyTorch's dropout: each element 0 or x / (1 - p); the identity in eval.
    (The masks come from different generators, so elements are compared where both kept.)"""
    x = rng.uniform(1, 2, (50, 40))
    tc.manual_seed(0)
    torch.manual_seed(0)
    ours = nn.Dropout(p)(tc.Value(x)).data
    theirs = torch.nn.functional.dropout(torch.from_numpy(x), p, training=True).numpy()
    for out in (ours, theirs):
        kept = out != 0
        np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-15)
    both = (ours != 0) & (theirs != 0)
    np.testing.assert_array_equal(ours[both], theirs[both])
    layer = nn.Dropout(p).eval()
    np.testing.assert_array_equal(layer(x).data,
                                  torch.nn.Dropout(p).eval()(torch.from_numpy(x)).numpy())


def torch_lrs(torch, make, epochs):
    """PyTorch's lr of epochs 0..epochs (one optimizer and scheduler step per epoch)."""
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = make(torch.optim.lr_scheduler, optimizer)
    seen = [scheduler.get_last_lr()[0]]
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        seen.append(scheduler.get_last_lr()[0])
        assert optimizer.param_groups[0]["lr"] == seen[-1]
    return seen


def our_lrs(make, epochs, state=None):
    """Ours, the same way; from `state` (a scheduler state dict) when given."""
    optimizer = optim.SGD([tc.Value(np.zeros(2))], lr=0.1)
    scheduler = make(optim, optimizer)
    if state is not None:
        scheduler.load_state_dict(state)
    seen = [scheduler.get_last_lr()[0]]
    for _ in range(epochs):
        optimizer.step()
        scheduler.step()
        seen.append(scheduler.get_last_lr()[0])
        assert optimizer.lr == seen[-1]
    return seen, scheduler


SCHEDULES = [
    ("StepLR step 1", lambda m, opt: m.StepLR(opt, step_size=1, gamma=0.5), 0.0),
    ("StepLR step 3", lambda m, opt: m.StepLR(opt, step_size=3, gamma=0.1), 0.0),
    ("StepLR step 4, gamma 0.7", lambda m, opt: m.StepLR(opt, step_size=4, gamma=0.7), 0.0),
    # ours is the closed form; PyTorch's recursion agrees with it to about 1e-15
    ("cosine T_max 12", lambda m, opt: m.CosineAnnealingLR(opt, T_max=12), 1e-15),
    ("cosine T_max 5, eta_min", lambda m, opt: m.CosineAnnealingLR(opt, T_max=5, eta_min=1e-3),
     1e-15),
]


@pytest.mark.parametrize("name, make, atol", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_learning_rates_over_12_epochs(torch, name, make, atol):
    expected = torch_lrs(torch, make, 12)
    got, _ = our_lrs(make, 12)
    if atol == 0:
        assert got == expected                 # StepLR: the same floats, bit for bit
    else:
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


@pytest.mark.parametrize("name, make, atol", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_scheduler_resumed_from_its_state_dict(torch, tmp_path, name, make, atol):
    """5 epochs, saved with tc.save, loaded into a fresh scheduler, 7 more: PyTorch's 12."""
    expected = torch_lrs(torch, make, 12)
    first, scheduler = our_lrs(make, 5)
    tc.save({"scheduler": scheduler.state_dict()}, tmp_path / "checkpoint.npz")
    state = tc.load(tmp_path / "checkpoint.npz")["scheduler"]
    rest, _ = our_lrs(make, 7, state=state)
    np.testing.assert_allclose(first + rest[1:], expected, rtol=0, atol=atol)


@pytest.mark.parametrize("in_channels, out_channels, kernel_size, settings", [
    (4, 6, (3, 2), {"stride": (2, 1), "padding": 1, "groups": 2}),
    (6, 6, 3, {"padding": 1, "groups": 6}),                      # depthwise
    (3, 6, 3, {"padding": "same", "groups": 3, "bias": False}),  # depthwise, multiplier 2
])
def test_grouped_conv2d_layer(torch, rng, in_channels, out_channels, kernel_size, settings):
    """nn.Conv2d(..., groups=G) against torch.nn.Conv2d(..., groups=G): the forward and every
    gradient in float64; the float32 state dict loads strictly both ways, same names and shapes."""
    ours = nn.Conv2d(in_channels, out_channels, kernel_size, **settings)
    check_state_dicts_then_gradients(
        torch, rng, ours,
        lambda: torch.nn.Conv2d(in_channels, out_channels, kernel_size, **settings).float(),
        (2, in_channels, 7, 6))


LAYER_NORMS = [((4, 6), 6, True, True), ((2, 3, 5), (3, 5), True, True),
               ((2, 3, 4, 4), (3, 4, 4), True, True), ((5,), 5, True, True),
               ((3, 2, 1, 4), (1, 4), True, True), ((2, 3, 5), 5, False, True),
               ((4, 6), 6, True, False)]


@pytest.mark.parametrize("shape, normalized_shape, affine, bias", LAYER_NORMS)
def test_layer_norm_forward_and_gradients(torch, rng, shape, normalized_shape, affine, bias):
    """Output, input gradient and the weight and bias gradients, through a random upstream
    gradient, over one to three trailing axes, with and without the affine parameters and
    the bias."""
    ours = as_float64(nn.LayerNorm(normalized_shape, eps=1e-4, elementwise_affine=affine,
                                   bias=bias))
    theirs = torch.nn.LayerNorm(normalized_shape, eps=1e-4, elementwise_affine=affine,
                                bias=bias)
    if affine:
        ours.weight.data[...] = rng.uniform(0.5, 2, ours.weight.shape)
    if affine and bias:
        ours.bias.data[...] = rng.standard_normal(ours.bias.shape)
    copy_parameters(torch, ours, theirs)
    assert [name for name, _ in ours.named_parameters()] == [
        name for name, _ in theirs.named_parameters()]
    x = rng.standard_normal(shape) * 3 + 1
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))
    assert repr(theirs) == repr(ours)


@pytest.mark.parametrize("affine, bias", [(True, True), (False, True), (True, False)])
def test_layer_norm_state_dicts_load_strictly_both_ways(torch, rng, affine, bias):
    """PyTorch's float32 state dict loads into ours (strict) and gives PyTorch's outputs; ours
    loads into PyTorch's LayerNorm (strict): the same names, shapes and dtypes."""
    theirs = torch.nn.LayerNorm((3, 4), elementwise_affine=affine, bias=bias).float()
    if affine:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2.0)
            if bias:
                theirs.bias.normal_()
    ours = nn.LayerNorm((3, 4), elementwise_affine=affine, bias=bias)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    if affine:
        ours.weight.data[...] = rng.uniform(0.5, 2, (3, 4))
    again = torch.nn.LayerNorm((3, 4), elementwise_affine=affine, bias=bias).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in ours.state_dict().items()}, strict=True)
    assert list(again.state_dict()) == list(ours.state_dict())
    for name, value in again.state_dict().items():
        assert value.dtype == torch.float32
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[name])


@pytest.mark.parametrize("ours, name, settings", [
    (nn.ELU(), "ELU", {}), (nn.ELU(alpha=0.3), "ELU", {"alpha": 0.3}),
    (nn.Hardtanh(), "Hardtanh", {}),
    (nn.Hardtanh(-2.5, 3.5), "Hardtanh", {"min_val": -2.5, "max_val": 3.5}),
    (nn.ReLU6(), "ReLU6", {}), (nn.Softplus(), "Softplus", {}),
    (nn.Softplus(beta=0.5, threshold=4.0), "Softplus", {"beta": 0.5, "threshold": 4.0}),
    (nn.Softplus(-2.0, 10.0), "Softplus", {"beta": -2.0, "threshold": 10.0})])
def test_elu_hardtanh_relu6_and_softplus_layers(torch, rng, ours, name, settings):
    """Forward and input gradient over values spread past every kink and threshold (relu6's 6,
    softplus's default 20); PyTorch's repr."""
    theirs = getattr(torch.nn, name)(**settings)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((4, 5, 6)) * 10
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(x.shape))
    assert list(ours.parameters()) == [] and ours.state_dict() == {}


@pytest.mark.parametrize("num_parameters, shape", [(1, (2, 3, 4, 4)), (3, (2, 3, 4, 4)),
                                                   (4, (5, 4)), (2, (3, 2, 7)), (1, (6,))])
def test_prelu_layer(torch, rng, num_parameters, shape):
    """nn.PReLU against torch.nn.PReLU: the repr, the initial slopes, the float32 state dict
    loaded strictly both ways, then the forward and the input and weight gradients in float64
    (the weight's summed over everything but the channel axis)."""
    ours = nn.PReLU(num_parameters)

    def make_theirs():
        return torch.nn.PReLU(num_parameters).float()

    assert repr(ours) == repr(make_theirs())
    np.testing.assert_array_equal(ours.weight.data, make_theirs().weight.detach().numpy())
    check_state_dicts_then_gradients(torch, rng, ours, make_theirs, shape)


GROUP_NORMS = [(3, 6, (2, 6, 4, 5), True), (1, 4, (3, 4, 5), True), (4, 4, (2, 4, 3, 3), True),
               (2, 4, (5, 4), True), (2, 6, (2, 6, 3), False), (3, 3, (1, 3, 2, 2), True)]


@pytest.mark.parametrize("num_groups, num_channels, shape, affine", GROUP_NORMS)
def test_group_norm_forward_and_gradients(torch, rng, num_groups, num_channels, shape, affine):
    """Output, input gradient and the weight and bias gradients through a random upstream
    gradient: images, sequences and rows, one group, one group per channel, no affine step."""
    ours = as_float64(nn.GroupNorm(num_groups, num_channels, eps=1e-4, affine=affine))
    theirs = torch.nn.GroupNorm(num_groups, num_channels, eps=1e-4, affine=affine)
    assert repr(theirs) == repr(ours)
    if affine:
        ours.weight.data[...] = rng.uniform(0.5, 2, num_channels)
        ours.bias.data[...] = rng.standard_normal(num_channels)
    copy_parameters(torch, ours, theirs)
    assert [name for name, _ in ours.named_parameters()] == [
        name for name, _ in theirs.named_parameters()]
    x = rng.standard_normal(shape) * 3 + 1
    compare_forward_and_gradients(torch, ours, theirs, x, rng.standard_normal(shape))


def test_group_norm_state_dicts_load_strictly_both_ways(torch, rng):
    """PyTorch's float32 state dict loads strictly into ours and gives PyTorch's outputs; ours
    loads strictly into PyTorch's GroupNorm; then the float64 forward and gradients."""
    check_state_dicts_then_gradients(torch, rng, nn.GroupNorm(2, 6),
                                     lambda: torch.nn.GroupNorm(2, 6).float(), (3, 6, 4, 4))


def compare_lookups(torch, rng, ours, theirs, ids, exact=True):
    """Our Embedding and PyTorch's (float64, the same weight) on `ids`: equal outputs (within
    TIGHT if not `exact`), and equal weight gradients through a random upstream gradient."""
    upstream = rng.standard_normal(ids.shape + (ours.embedding_dim,))
    out = ours(ids)
    out.backward(upstream)
    their_out = theirs(torch.from_numpy(ids))
    their_out.backward(torch.from_numpy(upstream))
    if exact:
        np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    np.testing.assert_allclose(out.data, their_out.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("ids_shape", [(12,), (3, 5), (2, 2, 4)])
def test_embedding_forward_and_weight_gradient_with_repeated_ids(torch, rng, ids_shape):
    """weight[ids] and the weight gradient, where most ids repeat (7 rows for 12 or more ids)."""
    ours = as_float64(nn.Embedding(7, 4))
    theirs = torch.nn.Embedding(7, 4)
    copy_parameters(torch, ours, theirs)
    ids = rng.integers(0, 7, ids_shape)
    ids.flat[:3] = 2                                        # one id at least three times
    compare_lookups(torch, rng, ours, theirs, ids)
    assert repr(ours) == repr(theirs)
    for bad in ([7], [-1]):                                 # out of range: IndexError in both
        with pytest.raises(IndexError):
            theirs(torch.tensor(bad))
        with pytest.raises(IndexError, match=r"expected ids in \[0, 7\)"):
            ours(np.array(bad))


@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (0.5, 1.0), (2.0, 3.0),
                                                 (0.8, np.inf), (0.0, 2.0), (30.0, 2.0)])
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_max_norm_as_pytorch(torch, rng, max_norm, norm_type, padding_idx):
    """torch.nn.Embedding(max_norm=..., norm_type=...): the same rows rescaled in the table,
    the same output and weight gradient, over two lookups (the second meets rows the first
    shortened) with repeated ids, and the same repr; max_norm 0 zeroes the picked rows, 30
    leaves them alone. Norms other than 1, 2 and inf may differ from PyTorch's in the last bit,
    and the rescaled rows with them."""
    theirs = torch.nn.Embedding(7, 4, padding_idx=padding_idx, max_norm=max_norm,
                                norm_type=norm_type)
    ours = as_float64(nn.Embedding(7, 4, padding_idx=padding_idx, max_norm=max_norm,
                                   norm_type=norm_type))
    assert repr(ours) == repr(theirs)
    ours.weight.data[...] = rng.standard_normal((7, 4)) * 2
    copy_parameters(torch, ours, theirs)
    for ids in (rng.integers(0, 5, (3, 4)), rng.integers(0, 7, (10,))):
        ids.flat[:3] = 2                                   # a repeated id
        ours.weight.grad, theirs.weight.grad = None, None
        compare_lookups(torch, rng, ours, theirs, ids, exact=norm_type in (1.0, 2.0, np.inf))
        np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), **TIGHT)


def test_embedding_state_dicts_load_strictly_both_ways(torch, rng):
    theirs = torch.nn.Embedding(9, 5).float()
    ours = nn.Embedding(9, 5)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    ids = np.array([[0, 8, 8], [3, 0, 1]])
    np.testing.assert_array_equal(ours(ids).data,
                                  theirs(torch.from_numpy(ids)).detach().numpy())
    fresh = nn.Embedding(9, 5, rng=rng)
    again = torch.nn.Embedding(9, 5).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in fresh.state_dict().items()}, strict=True)
    assert list(again.state_dict()) == list(fresh.state_dict()) == ["weight"]
    assert again.weight.dtype == torch.float32
    np.testing.assert_array_equal(again.weight.detach().numpy(), fresh.weight.data)


CONV_TRANSPOSES = [
    (3, 2, 3, {}),
    (4, 6, (3, 2), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}),
    (4, 4, 4, {"stride": (2, 1), "padding": (1, 0), "groups": 4, "bias": False}),   # depthwise
    (2, 6, (2, 3), {"stride": (1, 3), "output_padding": (0, 2), "groups": 2}),     # multiplier 3
]


@pytest.mark.parametrize("in_channels, out_channels, kernel_size, settings", CONV_TRANSPOSES)
def test_conv_transpose2d_layer(torch, rng, in_channels, out_channels, kernel_size, settings):
    """nn.ConvTranspose2d against torch.nn.ConvTranspose2d: the repr, the float32 state dict
    loaded strictly both ways (same names and shapes), then the forward, the input gradient and
    the weight and bias gradients in float64 through a random upstream gradient."""
    ours = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, **settings)

    def make_theirs():
        return torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
                                        **settings).float()

    assert repr(ours) == repr(make_theirs())
    check_state_dicts_then_gradients(torch, rng, ours, make_theirs, (2, in_channels, 4, 5))


@pytest.mark.parametrize("in_channels, out_channels, kernel_size, groups", [
    (2, 400, 5, 1), (8, 512, (5, 3), 4), (300, 4, 3, 1)])
def test_conv_transpose2d_initial_range_is_pytorchs(torch, in_channels, out_channels,
                                                     kernel_size, groups):
    """PyTorch's weights and biases fill U(-b, b) with b = 1/sqrt(C_out/groups*KH*KW) (the fan_in
    of the weight's axes 1-3), and so do ours: the same bound, not 1/sqrt(C_in*KH*KW)."""
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(in_channels, out_channels, kernel_size, groups=groups)
    ours = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, groups=groups,
                              rng=np.random.default_rng(0))
    kh, kw = ours.kernel_size
    bound = 1 / np.sqrt(out_channels // groups * kh * kw)
    check_initial_range(ours, theirs, bound)


@pytest.mark.parametrize("padding_idx", [2, 0, -1, -7])
def test_embedding_with_padding_idx(torch, rng, padding_idx):
    """torch.nn.Embedding(padding_idx=...): the same kept index and repr, a zero padding row at
    initialisation, and in float64 the forward and the weight gradient through a random
    upstream gradient, with the padding id repeated among others, and the padding row holding
    values (they show in the output, and the row still gets no gradient)."""
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(7, 4, padding_idx=padding_idx)
    ours = nn.Embedding(7, 4, padding_idx=padding_idx)
    assert ours.padding_idx == theirs.padding_idx and repr(ours) == repr(theirs)
    row = theirs.padding_idx
    assert not theirs.weight.detach().numpy()[row].any() and not ours.weight.data[row].any()
    ours = as_float64(ours)
    ours.weight.data[...] = rng.standard_normal((7, 4))   # the padding row too
    copy_parameters(torch, ours, theirs)
    ids = rng.integers(0, 7, (3, 5))
    ids.flat[:4] = row                                     # the padding id at least four times
    ids.flat[4:6] = (row + 1) % 7
    compare_lookups(torch, rng, ours, theirs, ids)
    assert not ours.weight.grad[row].any() and ours.weight.grad[(row + 1) % 7].any()


def test_embedding_with_padding_idx_state_dicts_load_strictly_both_ways(torch, rng):
    theirs = torch.nn.Embedding(9, 5, padding_idx=-2).float()
    with torch.no_grad():
        theirs.weight[7] = 3.0                             # a padding row that is not zero
    ours = nn.Embedding(9, 5, padding_idx=-2)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    ids = np.array([[0, 7, 8], [7, 0, 1]])
    np.testing.assert_array_equal(ours(ids).data,
                                  theirs(torch.from_numpy(ids)).detach().numpy())
    fresh = nn.Embedding(9, 5, padding_idx=-2, rng=rng)
    again = torch.nn.Embedding(9, 5, padding_idx=-2).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in fresh.state_dict().items()}, strict=True)
    assert list(again.state_dict()) == list(fresh.state_dict()) == ["weight"]
    np.testing.assert_array_equal(again.weight.detach().numpy(), fresh.weight.data)
    assert not again.weight.detach().numpy()[7].any()


@pytest.mark.parametrize("padding_idx", [None, 3])
def test_embedding_gradient_penalty_equals_pytorch(torch, rng, padding_idx):
    """A loss plus the squared norm of its gradient w.r.t. the table (a gradient penalty)
    differentiates the embedding's scatter-add again: the gradients w.r.t. the table and the
    matrix after it equal PyTorch's, with repeated ids and the padding id (if any) among them."""
    ours = as_float64(nn.Embedding(6, 4, padding_idx=padding_idx))
    ours.weight.data[...] = rng.standard_normal((6, 4))    # the padding row too
    theirs = torch.nn.Embedding(6, 4, padding_idx=padding_idx)
    copy_parameters(torch, ours, theirs)
    w2 = rng.standard_normal((4, 2))
    ids = np.array([[3, 1, 3, 5], [0, 3, 1, 1]])

    w2_ours = tc.Value(w2)
    loss = (ours(ids) @ w2_ours).tanh().sum()               # tanh: the gradient depends on weight
    (g,) = tc.grad(loss, [ours.weight], create_graph=True)
    (loss + (g * g).sum()).backward()
    w2_theirs = torch.tensor(w2, requires_grad=True)
    their_loss = (theirs(torch.from_numpy(ids)) @ w2_theirs).tanh().sum()
    (their_g,) = torch.autograd.grad(their_loss, [theirs.weight], create_graph=True)
    (their_loss + (their_g * their_g).sum()).backward()

    np.testing.assert_allclose(g.data, their_g.detach().numpy(), **TIGHT)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TIGHT)
    np.testing.assert_allclose(w2_ours.grad, w2_theirs.grad.numpy(), **TIGHT)
    assert np.abs(ours.weight.grad).max() > 0.1                  # not trivially zero
    if padding_idx is not None:
        assert not ours.weight.grad[padding_idx].any() and not g.data[padding_idx].any()


@pytest.mark.parametrize("optimizer, settings", [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.1, "weight_decay": 0.1}),
])
@pytest.mark.parametrize("padding_row", [0.0, 1.0])
def test_embedding_padding_row_under_weight_decay_as_pytorch(torch, rng, optimizer, settings,
                                                             padding_row):
    """A zero padding row stays zero through steps with weight decay; a non-zero one (loaded)
    decays as PyTorch's does, since the decay is added to its zero gradient."""
    ours = nn.Embedding(5, 3, padding_idx=-2, rng=rng)
    ours.weight.data[3] = padding_row
    theirs = torch.nn.Embedding(5, 3, padding_idx=3)
    copy_parameters(torch, ours, theirs)
    step = getattr(optim, optimizer)(ours.parameters(), **settings)
    their_step = getattr(torch.optim, optimizer)(theirs.parameters(), **settings)
    ids = np.array([[3, 3, 1], [0, 3, 3]])
    for _ in range(4):
        upstream = rng.standard_normal((2, 3, 3)).astype(np.float32)
        step.zero_grad()
        their_step.zero_grad()
        (ours(ids) * upstream).sum().backward()
        (theirs(torch.from_numpy(ids)) * torch.from_numpy(upstream)).sum().backward()
        step.step()
        their_step.step()
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), atol=1e-6)
    assert (ours.weight.data[3] == 0).all() == (padding_row == 0)


def test_module_list_and_module_dict_edits_as_pytorchs(torch):
    """The same edits on both libraries' ModuleList and ModuleDict leave the same modules
    under the same names (a Linear(k, 1) stands for module k)."""
    def build(lib):
        layers = lib.ModuleList([lib.Linear(k, 1) for k in range(1, 6)])
        layers[-1] = lib.Linear(6, 1)
        layers[1] = lib.Linear(7, 1)
        del layers[0]
        layers.insert(2, lib.Linear(8, 1))
        layers.insert(len(layers), lib.Linear(9, 1))
        del layers[1::2]
        layers += [lib.Linear(10, 1)]
        popped = [layers.pop(-1).in_features, [m.in_features for m in layers.pop(slice(0, 1))]]
        joined = layers + [lib.Linear(11, 1)]
        heads = lib.ModuleDict({"a": lib.Linear(1, 1), "b": lib.Linear(2, 1),
                                "c": lib.Linear(3, 1)})
        del heads["a"]
        popped.append(heads.pop("c").in_features)
        return layers, joined, heads, popped

    ours, theirs = build(nn), build(torch.nn)
    for our, their in zip(ours[:3], theirs[:3], strict=True):
        assert list(our.state_dict()) == list(their.state_dict())
        assert [(name, m.in_features) for name, m in our.named_children()] == [
            (name, m.in_features) for name, m in their.named_children()]
    assert ours[3] == theirs[3]
    ours[2].clear()
    theirs[2].clear()
    assert len(ours[2]) == len(theirs[2]) == 0


def test_sequential_edits_as_pytorchs(torch, rng):
    """The same edits on both libraries' Sequential leave the same modules under the same
    names, and with the same weights loaded they compute the same outputs."""
    def build(lib):
        model = lib.Sequential(*(lib.Linear(k, k + 1) for k in range(1, 4)))
        model.append(lib.Linear(4, 4))
        model[0] = lib.Linear(1, 2, bias=False)
        model.insert(1, lib.ReLU())
        model.insert(-1, lib.Tanh())
        del model[1]
        model.extend([lib.ReLU(), lib.Linear(4, 3)])
        popped = type(model.pop(-2)).__name__
        model += lib.Sequential(lib.Linear(3, 3))
        block = lib.Sequential(lib.Linear(3, 3), lib.Tanh())
        repeated, tripled = block * 2, 3 * block
        block *= 2
        return model, model + lib.Sequential(lib.ReLU()), repeated, tripled, block, popped

    ours, theirs = build(nn), build(torch.nn)
    assert ours[5] == theirs[5]
    x = rng.standard_normal((5, 1))
    for our, their in zip(ours[:5], theirs[:5], strict=True):
        assert [(name, type(m).__name__) for name, m in our.named_children()] == [
            (name, type(m).__name__) for name, m in their.named_children()]
        assert list(our.state_dict()) == list(their.state_dict())
        assert [type(m).__name__ for m in our] == [type(m).__name__ for m in their]
        our.double(), their.double()
        our.load_state_dict({k: v.numpy() for k, v in their.state_dict().items()})
        inputs = x if our is ours[0] or our is ours[1] else rng.standard_normal((5, 3))
        np.testing.assert_allclose(our(inputs).data,
                                   their(torch.from_numpy(inputs)).detach().numpy(), rtol=1e-12)


def test_module_dict_names_its_modules_as_pytorchs(torch):
    ours = nn.ModuleDict({"encoder": nn.Linear(3, 4), "decoder": nn.Linear(4, 3)})
    theirs = torch.nn.ModuleDict({"encoder": torch.nn.Linear(3, 4),
                                  "decoder": torch.nn.Linear(4, 3)})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.ones((2, 3))
    np.testing.assert_allclose(ours["decoder"](ours["encoder"](x)).data,
                               theirs["decoder"](theirs["encoder"](torch.tensor(x))).detach(),
                               rtol=1e-6, atol=1e-7)     # ours float32, theirs float64
