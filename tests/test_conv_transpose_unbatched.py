"""conv_transpose2d and nn.ConvTranspose2d on one unbatched image (C_in, H, W): the forward
against the nested loops on a batch of one, gradients of first and second order by finite
differences (float64, random upstream gradient), the graph (reshapes around the batched op),
the layer's output_size with 2, 3 or 4 entries, and every error, with its suggested fix run;
conv2d_weight stays batch-only, as PyTorch's; onnx.export refuses an unbatched example."""

import re

import numpy as np
import pytest
import reference
from optional import require

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# x (C_in, H, W), w (C_in, C_out / groups, KH, KW), settings
UNBATCHED = [
    ((1, 3, 3), (1, 1, 2, 2), {}),
    ((2, 4, 5), (2, 3, 3, 2), {"stride": 2, "output_padding": 1}),          # non-square kernel
    ((3, 3, 4), (3, 2, 2, 3), {"stride": (1, 2), "padding": (1, 0), "output_padding": (0, 1)}),
    ((2, 2, 2), (2, 1, 4, 4), {"padding": 1}),                             # kernel > image
    ((3, 3, 3), (3, 2, 3, 2), {"stride": 2, "padding": 1, "dilation": 2,
                               "output_padding": 1}),
]
GROUPED = [
    ((4, 3, 4), (4, 1, 2, 3), {"stride": 2, "groups": 2}),
    ((3, 3, 3), (3, 2, 3, 3), {"padding": 1, "groups": 3, "dilation": (1, 2)}),   # depthwise x2
]


@pytest.mark.parametrize("x_shape, w_shape, settings", UNBATCHED)
def test_forward_is_the_nested_loops_on_a_batch_of_one(rng, x_shape, w_shape, settings):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(
        w_shape[1])
    out = ops.conv_transpose2d(tc.Value(x), tc.Value(w), tc.Value(b), **settings)
    expected = reference.conv_transpose2d(x[None], w, b, **settings)[0]
    assert out.shape == expected.shape and out.ndim == 3
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, settings", GROUPED)
def test_grouped_forward_is_the_batched_op_on_a_batch_of_one(rng, x_shape, w_shape, settings):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[1] * settings["groups"])
    out = ops.conv_transpose2d(x, w, b, **settings)
    np.testing.assert_array_equal(out.data, ops.conv_transpose2d(x[None], w, b,
                                                                 **settings).data[0])


@pytest.mark.parametrize("x_shape, w_shape, settings", UNBATCHED + GROUPED)
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_and_gradgradcheck(rng, x_shape, w_shape, settings, bias):
    """float64, through the checkers' random upstream gradients; second order also by the
    upstream gradient (gradgradcheck)."""
    c_out = w_shape[1] * settings.get("groups", 1)
    inputs = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    inputs += [rng.standard_normal(c_out)] if bias else []

    def transposed(*args):
        return ops.conv_transpose2d(*args, **settings)

    assert tc.gradcheck(transposed, inputs)
    assert tc.gradgradcheck(transposed, inputs)


def test_an_unbatched_image_records_reshapes_around_the_batched_op(rng):
    x = tc.Value(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = tc.Value(rng.standard_normal((2, 3, 2, 2)))
    out = ops.conv_transpose2d(x, w, stride=2)
    assert out.shape == (3, 6, 8) and out.fn.name == "Reshape"
    (inner,) = out.parents
    assert inner.fn.name == "ConvTranspose2d" and inner.shape == (1, 3, 6, 8)
    assert inner.fn.params == {"stride": 2, "padding": 0, "output_padding": 0}
    batched = ops.conv_transpose2d(x[None], w, stride=2)     # a batch records the op itself
    assert batched.fn.name == "ConvTranspose2d"


@pytest.mark.parametrize("shape", [(4, 5), (1, 1, 2, 4, 5), (2,)])
def test_other_ranks_are_refused_naming_the_shape_and_both_layouts(rng, shape):
    w = rng.standard_normal((2, 3, 3, 3))
    with pytest.raises(ValueError, match=re.escape(
            f"conv_transpose2d: input has shape {shape}; expected a 4-D input (N, C_in, H, W) "
            f"or a 3-D one (C_in, H, W) with C_in = 2 for weight (2, 3, 3, 3)")):
        ops.conv_transpose2d(rng.standard_normal(shape), w)


def test_the_fix_for_one_image_without_its_channel_axis_works(rng):
    w, image = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((4, 5))
    with pytest.raises(ValueError, match=r"for one 4x5 image use x.reshape\(1, 1, 4, 5\)"):
        ops.conv_transpose2d(image, w)
    assert ops.conv_transpose2d(image.reshape(1, 1, 4, 5), w).shape == (1, 2, 6, 7)


def test_the_fix_for_one_channels_last_image_works(rng):
    w, image = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal((4, 5, 3))
    with pytest.raises(ValueError, match=r"input has 4 channels but weight expects 3 .*the "
                                         r"unbatched input \(C_in, H, W\).*use x.transpose\(2, "
                                         r"0, 1\).reshape\(1, 3, 4, 5\)"):
        ops.conv_transpose2d(image, w)
    out = ops.conv_transpose2d(image.transpose(2, 0, 1).reshape(1, 3, 4, 5), w)
    np.testing.assert_array_equal(out.data[0],
                                  ops.conv_transpose2d(image.transpose(2, 0, 1), w).data)


def test_unbatched_errors_of_settings_name_the_unbatched_input(rng):
    x, w = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 1, 2, 2))
    with pytest.raises(ValueError, match=r"output_padding 2 is not smaller than stride 2"):
        ops.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"the output would be 0x0 \(input \(2, 3, 3\), kernel "
                                         r"2x2, stride 1, padding 2\).*use less padding"):
        ops.conv_transpose2d(x, w, padding=2)
    with pytest.raises(ValueError, match=r"bias has shape \(2,\); expected \(1,\)"):
        ops.conv_transpose2d(x, w, np.zeros(2))


def test_conv2d_weight_takes_batches_only_as_pytorch_and_its_fix_works(rng):
    x, g = rng.standard_normal((2, 5, 5)), rng.standard_normal((3, 3, 3))
    with pytest.raises(ValueError, match=r"got input \(2, 5, 5\).*for one unbatched image "
                                         r"\(C_in, H, W\) pass a batch of one, x\[None\] and "
                                         r"g\[None\]"):
        ops.conv2d_weight(x, g, (3, 2, 3, 3))
    x_value = tc.Value(x, requires_grad=True)
    w = tc.Value(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    ops.conv2d(x_value, w).backward(g)                       # unbatched conv2d's weight gradient
    np.testing.assert_allclose(ops.conv2d_weight(tc.Value(x)[None], tc.Value(g)[None],
                                                 (3, 2, 3, 3)).data, w.grad, rtol=1e-12)


def test_layer_takes_one_image_and_output_size_of_2_or_3_entries(rng):
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, rng=rng)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    out = layer(x)
    assert out.shape == (3, 9, 11)
    np.testing.assert_array_equal(out.data, layer(x[None]).data[0])
    for size in [(10, 12), (3, 10, 12), [10, 12], (np.int64(10), 12)]:
        sized = layer(x, output_size=size)
        assert sized.shape == (3, 10, 12)
        np.testing.assert_array_equal(sized.data, ops.conv_transpose2d(
            x, layer.weight, layer.bias, stride=2, output_padding=1).data)
    assert layer(x, output_size=(9, 11)).shape == (3, 9, 11)
    assert layer(x[None], output_size=(1, 3, 10, 11)).shape == (1, 3, 10, 11)
    assert layer.output_padding == (0, 0)                   # output_size leaves the layer alone


def test_output_size_replaces_the_layers_output_padding(rng):
    layer = nn.ConvTranspose2d(1, 1, 2, stride=3, output_padding=2, rng=rng)
    x = rng.standard_normal((1, 2, 2)).astype(np.float32)
    assert layer(x).shape == (1, 7, 7)
    assert layer(x, output_size=(5, 6)).shape == (1, 5, 6)


@pytest.mark.parametrize("batched", [False, True])
def test_output_size_errors_and_their_fixes(rng, batched):
    layer = nn.ConvTranspose2d(2, 3, 3, stride=2, rng=rng)
    x = rng.standard_normal((1, 2, 4, 5) if batched else (2, 4, 5)).astype(np.float32)
    lead, count = ("N, C_out", 4) if batched else ("C_out", 3)
    forms = rf"expected a tuple of 2 ints \(or {count}, with {lead} first\), as PyTorch's"
    wrong_count = (3, 10, 12) if batched else (1, 3, 10, 12)
    fix = r"pass e.g. output_size=\(9, 11\)"
    count_error = (rf"^ConvTranspose2d: output_size {re.escape(str(wrong_count))} has "
                   rf"{len(wrong_count)} entries; {forms}; {fix}$")
    with pytest.raises(ValueError, match=count_error):
        layer(x, output_size=wrong_count)
    range_error = (rf"^ConvTranspose2d: output_size \(20, 12\) asks for 20x12, but the input "
                   rf"of shape {re.escape(str(x.shape))} gives at stride \(2, 2\) from \(9, 11\) "
                   rf"\(no output_padding\) to stride - 1 more; expected sizes in \[9, 10\] and "
                   rf"\[11, 12\]; {fix}$")
    with pytest.raises(ValueError, match=range_error):
        layer(x, output_size=(20, 12))
    with pytest.raises(TypeError, match=rf"^ConvTranspose2d: output_size is int 10; {forms}; "
                                        rf"{fix}$"):
        layer(x, output_size=10)
    with pytest.raises(TypeError, match=r"output_size is tuple \(10.0, 12\)"):
        layer(x, output_size=(10.0, 12))
    assert layer(x, output_size=(9, 11)).shape[-2:] == (9, 11)       # the fix


def test_layer_errors_for_other_ranks_come_from_the_op_also_with_output_size(rng):
    layer = nn.ConvTranspose2d(2, 3, 3, rng=rng)
    for size in (None, (6, 6)):
        with pytest.raises(ValueError, match=r"input has shape \(4, 4\); expected a 4-D input"):
            layer(np.zeros((4, 4), np.float32), output_size=size)


def test_onnx_export_refuses_an_unbatched_example_and_takes_its_fix(rng, tmp_path):
    require("onnx", "onnx")
    model = nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, rng=rng)).eval()
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    with pytest.raises(ValueError, match=r"layer '0' \(ConvTranspose2d\) gets one unbatched "
                                         r"image \(C, H, W\) of shape \(2, 4, 5\).*pass a "
                                         r"batch: x\[None\] for one example x"):
        tc.onnx.export(model, x, tmp_path / "unbatched.onnx")
    proto = tc.onnx.export(model, x[None], tmp_path / "batched.onnx")
    assert [n.op_type for n in proto.graph.node] == ["ConvTranspose"]
