"""pixel_shuffle, pixel_unshuffle, channel_shuffle, unfold, fold and bilinear against PyTorch
float64 to second order (forward, every input's gradient through a random upstream gradient,
and the second derivatives); the layers PixelShuffle, PixelUnshuffle, ChannelShuffle, Unflatten,
the padding layers (negative padding too), Unfold, Fold and Bilinear with PyTorch's reprs,
outputs and gradients; state dicts of ParameterList, ParameterDict and Bilinear loaded from
PyTorch's strictly; ParameterDict's key order (a plain dict's keys sorted)."""

from collections import OrderedDict

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 2), 2), ((18, 2, 3), 3), ((2, 2, 4, 1, 2), 2)])
def test_pixel_shuffle_and_unshuffle(torch, rng, shape, r):
    f = torch.nn.functional
    compare_with_torch(torch, lambda x: ops.pixel_shuffle(x * x, r),
                       lambda x: f.pixel_shuffle(x * x, r), [rng.standard_normal(shape)], rng)
    *lead, c, h, w = shape
    shuffled = (*lead, c // (r * r), h * r, w * r)
    compare_with_torch(torch, lambda x: ops.pixel_unshuffle(x * x, r),
                       lambda x: f.pixel_unshuffle(x * x, r), [rng.standard_normal(shuffled)],
                       rng)


@pytest.mark.parametrize("shape, groups", [((2, 6, 3), 2), ((1, 6, 2, 2), 3), ((2, 8, 1, 2, 2), 4)])
def test_channel_shuffle(torch, rng, shape, groups):
    compare_with_torch(torch, lambda x: ops.channel_shuffle(x * x, groups),
                       lambda x: torch.nn.functional.channel_shuffle(x * x, groups),
                       [rng.standard_normal(shape)], rng)


UNFOLD = [   # x shape, kernel_size, dilation, padding, stride
    ((2, 3, 5, 6), 3, 1, 0, 1),
    ((1, 2, 6, 7), (2, 3), (2, 1), 1, (2, 1)),
    ((2, 1, 4, 4), 4, 1, (1, 2), 3),
    ((3, 5, 4), (2, 2), 1, 1, 2),                   # one image, unbatched
]


@pytest.mark.parametrize("shape, kernel_size, dilation, padding, stride", UNFOLD)
def test_unfold_and_fold(torch, rng, shape, kernel_size, dilation, padding, stride):
    settings = {"dilation": dilation, "padding": padding, "stride": stride}
    f = torch.nn.functional
    x = rng.standard_normal(shape)
    compare_with_torch(torch, lambda v: ops.unfold(v * v, kernel_size, **settings),
                       lambda v: f.unfold(v * v, kernel_size, **settings), [x], rng)
    cols = rng.standard_normal(f.unfold(torch.tensor(x), kernel_size, **settings).shape)
    size = shape[-2:]
    compare_with_torch(torch, lambda v: ops.fold(v * v, size, kernel_size, **settings),
                       lambda v: f.fold(v * v, size, kernel_size, **settings), [cols], rng)


@pytest.mark.parametrize("lead", [(4,), (), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear(torch, rng, lead, bias):
    arrays = [rng.standard_normal((*lead, 3)), rng.standard_normal((*lead, 2)),
              rng.standard_normal((5, 3, 2))] + ([rng.standard_normal(5)] if bias else [])
    compare_with_torch(torch, ops.bilinear, torch.nn.functional.bilinear, arrays, rng)


LAYERS = [   # (the layer made from nn or torch.nn, input shape)
    (lambda m: m.PixelShuffle(2), (2, 8, 3, 2)),
    (lambda m: m.PixelUnshuffle(3), (2, 6, 6)),
    (lambda m: m.ChannelShuffle(2), (2, 4, 3, 2)),
    (lambda m: m.Unflatten(1, (2, 3)), (4, 6, 2)),
    (lambda m: m.Unflatten(-1, [3, -1]), (4, 6)),
    (lambda m: m.ZeroPad1d((2, -1)), (2, 3, 4)),
    (lambda m: m.ZeroPad2d(1), (3, 4, 5)),
    (lambda m: m.ZeroPad2d((-1, 2, 0, -2)), (2, 3, 4, 5)),
    (lambda m: m.ConstantPad1d(2, 3.5), (5,)),
    (lambda m: m.ConstantPad2d((1, -2, -1, 3), -1.0), (2, 3, 4, 5)),
    (lambda m: m.ReflectionPad1d((3, 1)), (2, 3, 4)),
    (lambda m: m.ReflectionPad2d((1, 2, 3, 0)), (3, 4, 5)),
    (lambda m: m.ReplicationPad1d(4), (3, 2)),
    (lambda m: m.ReplicationPad2d((0, 5, 1, 2)), (2, 2, 3, 4)),
    (lambda m: m.CircularPad1d((1, 3)), (2, 2, 3)),
    (lambda m: m.CircularPad2d((2, 0, 1, 4)), (1, 2, 4, 5)),
    (lambda m: m.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 5, 6)),
    (lambda m: m.Unfold(2), (2, 3, 4)),
    (lambda m: m.Fold((5, 6), (2, 3), padding=1, stride=2), (2, 12, 9)),
    (lambda m: m.Fold(3, 2), (8, 4)),
]


@pytest.mark.parametrize("make, shape", LAYERS, ids=[repr(make(nn)) for make, _ in LAYERS])
def test_layers_reprs_outputs_and_gradients(torch, rng, make, shape):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal(shape)
    ours_x, theirs_x = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [ours_x], [theirs_x],
                                  [ours(ours_x)], [theirs(theirs_x)])


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_layer_loads_pytorchs_weights_strictly(torch, rng, bias):
    theirs = torch.nn.Bilinear(3, 4, 5, bias=bias)
    ours = with_their_weights(nn.Bilinear(3, 4, 5, bias=bias), theirs)
    assert repr(ours) == repr(theirs)
    x1, x2 = rng.standard_normal((6, 3)), rng.standard_normal((6, 4))
    values, tensors = [tc.Value(x1), tc.Value(x2)], [torch.tensor(a, requires_grad=True)
                                                      for a in (x1, x2)]
    compare_results_and_gradients(torch, rng, ours, theirs, values, tensors, [ours(*values)],
                                  [theirs(*tensors)])
    # and back: PyTorch's layer loads ours strictly
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def test_bilinear_initial_range_is_pytorchs(torch):
    torch.manual_seed(0)
    theirs, ours = torch.nn.Bilinear(9, 4, 20).float(), nn.Bilinear(9, 4, 20)
    for name in ("weight", "bias"):
        for values in (getattr(ours, name).data, theirs.get_parameter(name).detach().numpy()):
            assert values.dtype == np.float32 and np.abs(values).max() <= 1 / 3
            assert np.abs(values).max() > 0.95 / 3 or values.size < 100


class Containers:
    """The same model in both libraries: a ParameterList and a ParameterDict of float64
    parameters, used in the forward x * list[0] + list[1] @ dict["proj"] ..."""

    @staticmethod
    def forward(x, plist, pdict):
        return (x * plist[0] + plist[1]) @ pdict["proj"] + pdict["shift"]


def test_parameter_containers_state_dicts_load_both_ways_and_train_alike(torch, rng):
    shapes = [(3,), (3,)], {"proj": (3, 2), "shift": (2,)}

    class Ours(nn.Module):
        def __init__(self):
            self.plist = nn.ParameterList([np.zeros(s) for s in shapes[0]])
            self.pdict = nn.ParameterDict({k: np.zeros(s) for k, s in shapes[1].items()})

        def forward(self, x):
            return Containers.forward(x, self.plist, self.pdict)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.plist = torch.nn.ParameterList([torch.nn.Parameter(torch.randn(s))
                                                 for s in shapes[0]])
            self.pdict = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.randn(s))
                                                 for k, s in shapes[1].items()})

        def forward(self, x):
            return Containers.forward(x, self.plist, self.pdict)

    theirs = Theirs()
    ours = with_their_weights(Ours(), theirs)
    assert list(ours.state_dict()) == ["plist.0", "plist.1", "pdict.proj", "pdict.shift"]
    x = rng.standard_normal((4, 3))
    ours_x, theirs_x = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [ours_x], [theirs_x],
                                  [ours(ours_x)], [theirs(theirs_x)])
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})

    def normalized(text):       # PyTorch names its dtypes torch.float64 or torch.DoubleTensor
        return text.replace("torch.DoubleTensor", "float64").replace("torch.float64", "float64")

    for name in ("plist", "pdict"):
        assert repr(getattr(ours, name)) == normalized(repr(getattr(theirs, name)))


@pytest.mark.parametrize("make", [
    lambda p: {"b": p(), "c": p(), "a": p()},                      # a plain dict: sorted
    lambda p: OrderedDict([("b", p()), ("c", p()), ("a", p())]),   # kept
    lambda p: [("b", p()), ("c", p()), ("a", p())],                # kept
])
def test_parameter_dict_key_order_is_pytorchs(torch, make):
    ours = nn.ParameterDict(make(lambda: np.zeros(2)))
    theirs = torch.nn.ParameterDict(make(lambda: torch.nn.Parameter(torch.zeros(2))))
    assert list(ours) == list(theirs)
    ours.update({"e": np.ones(2), "d": np.ones(2), "b": np.ones(2)})
    theirs.update({name: torch.nn.Parameter(torch.ones(2)) for name in ("e", "d", "b")})
    assert list(ours) == list(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    assert list(nn.ParameterDict(ours)) == list(torch.nn.ParameterDict(theirs))


def test_parameter_dict_setdefault_popitem_copy_reversed_and_or_as_pytorchs(torch):
    """The same calls on both libraries' ParameterDicts: the same keys in the same order, the
    same parameters kept or new, and fromkeys' keys (with a parameter of its own for each here,
    over one shared tensor there)."""
    def run(lib, make):
        params = lib.ParameterDict([("w", make([1.0, 2.0]))])
        kept = params.setdefault("w", make([0.0])) is params["w"]
        params.setdefault("b", make([3.0]))
        order = [list(params), list(reversed(params))]
        copy = params.copy()
        shared = copy["w"] is params["w"]
        popped = params.popitem()[0]
        joined = params | lib.ParameterDict([("z", make([4.0])), ("w", make([5.0]))])
        right = {"k": make([6.0]), "a": make([7.0])} | params
        params |= [("y", make([8.0]))]
        keys = params.fromkeys(["p", "q"], make([9.0]))
        return (kept, order, list(copy), shared, popped, list(joined),
                [float(v.data[0]) for v in joined.values()], list(right), type(right).__name__,
                list(params), list(keys))

    ours = run(nn, lambda v: tc.Value(np.array(v)))
    theirs = run(torch.nn, lambda v: torch.nn.Parameter(torch.tensor(v)))
    assert ours == theirs
