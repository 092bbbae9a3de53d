"""ops.pad's copying modes (reflect, replicate, circular) and the Conv layers' padding_mode:
forward against numpy.pad (whose reflect, edge and wrap they are), the backward against the
Jacobian that numpy.pad gives column by column, gradcheck and gradgradcheck in float64 through a
random upstream gradient, the nodes recorded, and every error."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.gradcheck import gradgradcheck

NUMPY_NAMES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}

PAD_CASES = [                                      # (shape, pad_width, mode)
    ((5,), 2, "reflect"),
    ((5,), (4, 1), "reflect"),                     # a side as wide as reflect allows: size - 1
    ((1, 4), ((0, 0), (3, 3)), "reflect"),         # a size-1 axis left alone
    ((2, 3, 4), ((1, 0), (2, 2), (0, 3)), "reflect"),
    ((4,), (6, 1), "replicate"),                   # wider than the axis: the edge repeated
    ((1, 3), ((2, 1), (0, 2)), "replicate"),       # a size-1 axis padded: copies of one row
    ((2, 3, 4), ((0, 1), (1, 1), (3, 0)), "replicate"),
    ((5,), (5, 5), "circular"),                    # as wide as circular allows: size
    ((3, 2), ((1, 2), (2, 0)), "circular"),
    ((2, 3, 4), ((1, 1), (0, 3), (2, 4)), "circular"),
    ((2, 3), 0, "circular"),                       # no padding
]


def case_id(case) -> str:
    shape, widths, mode = case
    return f"{mode}-{shape}-{widths}".replace(" ", "")


def jacobian_product(x_shape, pad_width, mode, upstream):
    """sum over p of upstream[p] * d out[p] / d x, with d out / d x_i = numpy.pad(e_i): column by
    column, from numpy's pad alone."""
    dx = np.zeros(x_shape)
    for i in np.ndindex(*x_shape):
        unit = np.zeros(x_shape)
        unit[i] = 1.0
        dx[i] = (upstream * np.pad(unit, pad_width, mode=NUMPY_NAMES[mode])).sum()
    return dx


@pytest.mark.parametrize("shape, pad_width, mode", PAD_CASES, ids=map(case_id, PAD_CASES))
def test_pad_modes_forward_is_numpys_and_backward_its_jacobian(rng, shape, pad_width, mode):
    x = tc.Value(rng.standard_normal(shape))
    out = ops.pad(x, pad_width, mode=mode)
    np.testing.assert_array_equal(out.data, np.pad(x.data, pad_width, mode=NUMPY_NAMES[mode]))
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    np.testing.assert_allclose(x.grad, jacobian_product(shape, pad_width, mode, upstream),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, pad_width, mode", PAD_CASES, ids=map(case_id, PAD_CASES))
def test_pad_modes_gradcheck_and_gradgradcheck(rng, shape, pad_width, mode):
    x = rng.standard_normal(shape)
    assert tc.gradcheck(lambda v: ops.pad(v, pad_width, mode=mode), [x])
    assert gradgradcheck(lambda v: ops.pad(v * v, pad_width, mode=mode), [x])


def test_an_edge_copied_k_times_gets_k_gradients():
    """[a, b, c] padded by (2, 2): reflect sends b's copies at 1 and 3 back to b, replicate
    sends the two copies of a and of c back to them, circular each copy to its element."""
    x = tc.Value(np.array([1.0, 2.0, 3.0]))
    for mode, expected in [("reflect", [2.0, 3.0, 2.0]), ("replicate", [3.0, 1.0, 3.0]),
                           ("circular", [2.0, 3.0, 2.0])]:
        x.grad = None
        ops.pad(x, 2, mode=mode).sum().backward()
        assert x.grad.tolist() == expected, mode


def test_pad_modes_keep_the_dtype_and_record_mode_not_value(rng):
    x = tc.Value(rng.standard_normal((2, 3)).astype(np.float32))
    out = ops.pad(x, ((0, 0), (1, 2)), mode="reflect")
    assert out.dtype == np.float32 and out.fn.name == "Pad"
    assert out.fn.params == {"pad_width": ((0, 0), (1, 2)), "mode": "reflect"}
    # constant padding records the node it always did
    assert ops.pad(x, 1, value=2.0).fn.params == {"pad_width": ((1, 1), (1, 1)), "value": 2.0}
    assert ops.pad(x, 1, value=0, mode="circular").shape == (4, 5)      # a zero value is no value


def test_pad_modes_errors():
    x = tc.Value(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"^pad: mode is 'edge'; expected one of 'constant', "
                                         r"'reflect', 'replicate', 'circular'; numpy's 'edge' is "
                                         r"'replicate' here, as in PyTorch$"):
        ops.pad(x, 1, mode="edge")
    with pytest.raises(ValueError, match=r"numpy's 'wrap' is 'circular' here"):
        ops.pad(x, 1, mode="wrap")
    with pytest.raises(ValueError, match=r"^pad: mode is 'symmetric'; expected one of "
                                         r"'constant', 'reflect', 'replicate', 'circular'$"):
        ops.pad(x, 1, mode="symmetric")
    with pytest.raises(ValueError, match=r"^pad: mode is None; expected one of"):
        ops.pad(x, 1, mode=None)
    with pytest.raises(ValueError, match=r"^pad: value=1\.5 with mode='reflect'; expected no "
                                         r"value .*; drop value=, or pass mode='constant'"):
        ops.pad(x, ((0, 0), (1, 1)), value=1.5, mode="reflect")
    with pytest.raises(ValueError, match=r"^pad: mode='reflect' mirrors x about its end elements "
                                         r"without repeating them, so a side can take at most "
                                         r"size - 1 = 2 elements, but axis 1 \(x of shape "
                                         r"\(1, 3\)\) has size 3 and widths \(0, 3\); expected "
                                         r"widths < 3 there, as PyTorch; pass smaller widths, "
                                         r"or mode='replicate' or 'circular'$"):
        ops.pad(x, ((0, 0), (0, 3)), mode="reflect")
    for mode in ("replicate", "circular"):                                 # the fixes named
        assert ops.pad(x, ((0, 0), (0, 3)), mode=mode).shape == (1, 6)
    with pytest.raises(ValueError, match=r"at most size - 1 = 0 elements, but axis 0 \(x of "
                                         r"shape \(1, 3\)\) has size 1 and widths \(1, 0\)"):
        ops.pad(x, ((1, 0), (0, 0)), mode="reflect")
    with pytest.raises(ValueError, match=r"widths \(0, 4\); expected widths < 3 there, as "
                                         r"PyTorch; pass smaller widths, or mode='replicate'$"):
        ops.pad(x, ((0, 0), (0, 4)), mode="reflect")            # too wide for circular too
    assert ops.pad(x, ((0, 0), (2, 2)), mode="reflect").shape == (1, 7)   # the largest that fits
    with pytest.raises(ValueError, match=r"^pad: mode='circular' wraps x around once, so a side "
                                         r"can take at most size = 3 elements, but axis 1 \(x of "
                                         r"shape \(1, 3\)\) has size 3 and widths \(4, 0\); "
                                         r"expected widths <= 3 there, as PyTorch; pass smaller "
                                         r"widths, or mode='replicate'$"):
        ops.pad(x, ((0, 0), (4, 0)), mode="circular")
    assert ops.pad(x, ((0, 0), (4, 0)), mode="replicate").shape == (1, 7)  # the fix named
    empty = tc.Value(np.zeros((2, 0)))
    for mode in ("reflect", "replicate", "circular"):
        with pytest.raises(ValueError, match=rf"^pad: mode='{mode}' copies elements of x into "
                                             rf"the border, but axis 1 \(x of shape \(2, 0\)\) "
                                             rf"has size 0 and widths \(1, 0\): an empty axis "
                                             rf"has none to copy; expected widths \(0, 0\) there; "
                                             rf"pad it with mode='constant'$"):
            ops.pad(empty, ((0, 0), (1, 0)), mode=mode)
        assert ops.pad(empty, ((1, 0), (0, 0)), mode=mode).shape == (3, 0)   # nothing to copy


# ---------------------------------------------------------------- the Conv layers' padding_mode

LAYER_CASES = [   # (layer, x shape, np.pad widths of the spatial axes)
    (lambda mode: nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode), (2, 2, 5, 4),
     ((1, 1), (1, 1))),
    (lambda mode: nn.Conv2d(2, 2, (2, 3), stride=2, padding=(1, 2), padding_mode=mode, groups=2),
     (1, 2, 4, 5), ((1, 1), (2, 2))),
    (lambda mode: nn.Conv2d(2, 3, 4, padding="same", padding_mode=mode, bias=False), (2, 2, 5, 6),
     ((1, 2), (1, 2))),                          # "same" with an even kernel: one more after
    (lambda mode: nn.Conv2d(2, 3, 2, padding="same", dilation=(3, 2), padding_mode=mode),
     (2, 5, 6), ((1, 2), (1, 1))),               # unbatched, dilated
    (lambda mode: nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode), (2, 2, 6), ((2, 2),)),
    (lambda mode: nn.Conv1d(2, 3, 4, padding="same", padding_mode=mode), (2, 5), ((1, 2),)),
]
MODES = ["reflect", "replicate", "circular"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make, shape, widths", LAYER_CASES)
def test_conv_layers_pad_in_their_mode_then_convolve_unpadded(rng, make, shape, widths, mode):
    layer = make(mode)
    x = rng.standard_normal(shape).astype(np.float32)
    lead = ((0, 0),) * (len(shape) - len(widths))
    padded = np.pad(x, lead + widths, mode=NUMPY_NAMES[mode])
    conv = ops.conv2d if isinstance(layer, nn.Conv2d) else ops.conv1d
    bias = None if layer.bias is None else layer.bias.data
    expected = conv(padded, layer.weight.data, bias, stride=layer.stride,
                    dilation=layer.dilation, groups=layer.groups).data
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("make, shape, widths", LAYER_CASES[1:5])
def test_conv_layers_with_padding_mode_gradcheck_and_gradgradcheck(rng, make, shape, widths,
                                                                   mode):
    layer = make(mode)

    def fn(x, w, *b):
        layer.weight, layer.bias = w, (b[0] if b else None)
        return layer(x)

    inputs = [rng.standard_normal(shape), rng.standard_normal(layer.weight.shape)]
    inputs += [] if layer.bias is None else [rng.standard_normal(layer.bias.shape)]
    assert tc.gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_zeros_and_valid_padding_record_no_pad_node(rng):
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    assert nn.Conv2d(2, 3, 3, padding=1)(x).fn.name == "Conv2d"
    valid = nn.Conv2d(2, 3, 3, padding="valid", padding_mode="reflect")(x)
    assert valid.fn.inputs[0].fn is None and valid.shape == (1, 3, 3, 3)   # x itself, unpadded
    reflected = nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")(tc.Value(x))
    assert reflected.fn.params == {"stride": 1, "padding": 0}
    assert reflected.fn.inputs[0].fn.params == {"pad_width": ((0, 0), (0, 0), (1, 1), (1, 1)),
                                                "mode": "reflect"}


def test_padding_mode_repr_state_dict_and_errors(rng):
    layer = nn.Conv2d(2, 3, 3, padding=1, bias=False, padding_mode="circular", rng=rng)
    assert layer.padding_mode == "circular"
    # as PyTorch's: last, after bias=False, and only when not "zeros"
    assert repr(layer) == ("Conv2d(2, 3, kernel_size=3, stride=1, padding=1, bias=False, "
                           "padding_mode='circular')")
    assert repr(nn.Conv1d(2, 3, 3, padding_mode="zeros")) == "Conv1d(2, 3, kernel_size=3, stride=1)"
    # the state dict holds the weights only: it loads into a layer of any padding mode
    zeros = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    assert zeros.load_state_dict(layer.state_dict()) == ([], [])
    np.testing.assert_array_equal(zeros.weight.data, layer.weight.data)
    with pytest.raises(ValueError, match=r"^Conv2d: padding_mode is 'edge'; expected one of "
                                         r"'zeros', 'reflect', 'replicate', 'circular', as "
                                         r"PyTorch$"):
        nn.Conv2d(2, 3, 3, padding_mode="edge")
    with pytest.raises(ValueError, match=r"^Conv1d: padding_mode is 'constant'; expected one of "
                                         r"'zeros'"):
        nn.Conv1d(2, 3, 3, padding_mode="constant")
    with pytest.raises(TypeError, match=r"padding_mode"):          # PyTorch's takes zeros only
        nn.ConvTranspose2d(2, 3, 3, padding_mode="zeros")
    small = nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect")
    x = np.zeros((1, 2, 2, 6), np.float32)
    with pytest.raises(ValueError, match=r"^Conv2d: padding=2 with padding_mode='reflect' does "
                                         r"not fit the input of shape \(1, 2, 2, 6\) \(pad: "
                                         r"mode='reflect' .* axis 2 .* has size 2 and widths "
                                         r"\(2, 2\).*\); expected an input larger along the "
                                         r"padded axes; pass a smaller padding, or "
                                         r"padding_mode='replicate' or 'zeros'"):
        small(x)
    assert nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate")(x).shape == (1, 3, 4, 8)
    with pytest.raises(ValueError, match=r"conv2d: .*"):            # a 1-D x: the op's error
        small(np.zeros(6, np.float32))
