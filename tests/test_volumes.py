"""The 3-D ops and layers: conv3d, max_pool3d, avg_pool3d, adaptive_avg_pool3d, and nn.Conv3d,
MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, BatchNorm3d. Forward against the nested loops of
tests/reference.py, gradcheck and gradgradcheck in float64 through random upstream gradients,
the tie rule of the max pool, and the errors."""

import numpy as np
import pytest
import reference

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# x (N, C_in, D, H, W), w (C_out, C_in / groups, KD, KH, KW), settings
CONV = [
    ((1, 1, 3, 4, 4), (1, 1, 2, 2, 2), {}),
    ((2, 3, 4, 5, 3), (2, 3, 3, 2, 2), {"stride": (2, 1, 2), "padding": (1, 0, 1)}),
    ((2, 4, 5, 4, 4), (4, 2, 2, 3, 2), {"dilation": (2, 1, 1), "groups": 2}),
    ((1, 2, 3, 3, 4), (2, 2, 3, 3, 4), {}),                   # kernel as large as the volume
]


def conv_settings(settings: dict) -> dict:
    """The settings as triples, for the loops."""
    triples = {k: settings.get(k, d) for k, d in
               (("stride", (1, 1, 1)), ("padding", (0, 0, 0)), ("dilation", (1, 1, 1)))}
    return triples | {"groups": settings.get("groups", 1)}


@pytest.mark.parametrize("x_shape, w_shape, settings", CONV)
def test_conv3d_matches_the_loops_and_gradchecks(rng, x_shape, w_shape, settings):
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out = ops.conv3d(tc.Value(x), tc.Value(w), tc.Value(b), **settings)
    np.testing.assert_allclose(out.data, reference.conv3d(x, w, b, **conv_settings(settings)),
                               rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(out.shape)

    def conv(x, w, b):
        return (ops.conv3d(x, w, b, **settings) * upstream).sum()

    assert tc.gradcheck(conv, [x, w, b])
    assert tc.gradgradcheck(lambda x, w, b: ops.conv3d(x, w, b, **settings), [x, w, b])


@pytest.mark.parametrize("kernel, dilation", [((2, 3, 2), 1), (3, (2, 1, 2)), ((1, 2, 3), 1)])
def test_conv3d_same_padding_keeps_the_size(rng, kernel, dilation):
    x, w = rng.standard_normal((2, 2, 4, 5, 6)), rng.standard_normal((3, 2, *np.broadcast_to(
        kernel, 3)))
    out = ops.conv3d(x, tc.Value(w), padding="same", dilation=dilation)
    assert out.shape == (2, 3, 4, 5, 6)
    # as PyTorch: the odd total's extra zero goes after the end
    d = np.broadcast_to(dilation, 3)
    totals = [di * (k - 1) for di, k in zip(d, w.shape[2:], strict=True)]
    xp = np.pad(x, ((0, 0), (0, 0), *((t // 2, t - t // 2) for t in totals)))
    np.testing.assert_allclose(out.data, reference.conv3d(xp, w, dilation=tuple(d)),
                               rtol=1e-12, atol=1e-12)
    assert tc.gradcheck(lambda w: ops.conv3d(x, w, padding="same", dilation=dilation), [w])


def test_conv3d_unbatched_volume_is_a_batch_of_one(rng):
    x, w = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((3, 2, 2, 2, 2))
    out = ops.conv3d(tc.Value(x), tc.Value(w), stride=2, padding=1)
    np.testing.assert_allclose(out.data, reference.conv3d(x[None], w, stride=(2, 2, 2),
                                                          padding=(1, 1, 1))[0], atol=1e-12)
    assert tc.gradgradcheck(lambda x, w: ops.conv3d(x, w, stride=2, padding=1), [x, w])


# x (N, C, D, H, W), kernel, stride, padding, ceil_mode, dilation
POOLS = [
    ((1, 1, 4, 4, 4), (2, 2, 2), (2, 2, 2), (0, 0, 0), False, (1, 1, 1)),
    ((2, 3, 5, 6, 7), (3, 2, 3), (2, 1, 2), (1, 1, 1), False, (1, 1, 1)),
    ((2, 2, 5, 5, 6), (2, 3, 2), (2, 2, 3), (1, 1, 0), True, (1, 1, 1)),
    ((1, 2, 6, 5, 5), (2, 2, 2), (1, 2, 1), (1, 0, 1), True, (2, 1, 2)),
    ((2, 1, 3, 4, 2), (3, 4, 2), (1, 1, 1), (0, 0, 0), False, (1, 1, 1)),   # the whole volume
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, ceil_mode, dilation", POOLS)
def test_max_pool3d_matches_the_loops_and_gradchecks(rng, x_shape, kernel, stride, padding,
                                                     ceil_mode, dilation):
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) / 7.0    # distinct: no ties
    settings = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode,
                "dilation": dilation}
    out, indices = ops.max_pool3d(tc.Value(x), kernel, return_indices=True, **settings)
    expected, their_indices = reference.max_pool3d(x, kernel, stride, padding, ceil_mode,
                                                   dilation)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(indices.data, their_indices)
    upstream = rng.standard_normal(out.shape)
    assert tc.gradcheck(lambda x: (ops.max_pool3d(x, kernel, **settings) * upstream).sum(), [x])
    assert tc.gradgradcheck(lambda x: ops.max_pool3d(x, kernel, **settings), [x])


def test_max_pool3d_ties_go_to_the_first_maximum_row_major():
    x = np.zeros((1, 1, 2, 2, 2))
    x[0, 0, 1, 0, 1] = x[0, 0, 1, 1, 0] = 1.0                # two maxima: (1, 0, 1) comes first
    x_value = tc.Value(x)
    out, indices = ops.max_pool3d(x_value, 2, return_indices=True)
    out.backward(np.full(out.shape, 3.0))
    assert indices.data.item() == 5                          # 1*4 + 0*2 + 1
    expected = np.zeros_like(x)
    expected[0, 0, 1, 0, 1] = 3.0
    np.testing.assert_array_equal(x_value.grad, expected)
    # all equal: the window's first element; overlapping windows add up there
    y = tc.Value(np.ones((1, 1, 3, 3, 3)))
    ops.max_pool3d(y, 2, stride=1).sum().backward()
    assert y.grad.sum() == 8 and y.grad[0, 0, 0, 0, 0] == 1 and y.grad[0, 0, 1, 1, 1] == 1
    assert np.count_nonzero(y.grad) == 8


def test_max_pool3d_padding_never_wins_against_minus_infinity():
    x = np.full((1, 1, 2, 2, 2), -np.inf)
    out, indices = ops.max_pool3d(x, 2, stride=1, padding=1, return_indices=True)
    assert np.all(out.data == -np.inf)
    _, expected = reference.max_pool3d(x, (2, 2, 2), (1, 1, 1), (1, 1, 1))
    np.testing.assert_array_equal(indices.data, expected)


AVG = [
    ((1, 1, 4, 4, 4), (2, 2, 2), (2, 2, 2), (0, 0, 0), False, True),
    ((2, 3, 5, 6, 7), (3, 2, 3), (2, 1, 2), (1, 1, 1), False, False),
    ((2, 2, 5, 5, 6), (2, 3, 2), (2, 2, 3), (1, 1, 0), True, True),
    ((1, 2, 5, 4, 5), (3, 3, 3), (2, 2, 2), (1, 1, 1), True, False),
]


@pytest.mark.parametrize("x_shape, kernel, stride, padding, ceil_mode, include", AVG)
def test_avg_pool3d_matches_the_loops_and_gradchecks(rng, x_shape, kernel, stride, padding,
                                                     ceil_mode, include):
    x = rng.standard_normal(x_shape)
    settings = {"stride": stride, "padding": padding, "ceil_mode": ceil_mode,
                "count_include_pad": include}
    out = ops.avg_pool3d(tc.Value(x), kernel, **settings)
    np.testing.assert_allclose(out.data, reference.avg_pool3d(x, kernel, stride, padding,
                                                              ceil_mode, include), atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    assert tc.gradcheck(lambda x: (ops.avg_pool3d(x, kernel, **settings) * upstream).sum(), [x])
    assert tc.gradgradcheck(lambda x: ops.avg_pool3d(x, kernel, **settings), [x])


def test_avg_pool3d_divisor_override_divides_every_window_sum(rng):
    x = rng.standard_normal((2, 2, 4, 4, 4))
    out = ops.avg_pool3d(x, 2, divisor_override=3)
    expected = reference.avg_pool3d(x, (2, 2, 2), (2, 2, 2)) * 8 / 3
    np.testing.assert_allclose(out.data, expected, atol=1e-12)
    assert tc.gradgradcheck(lambda x: ops.avg_pool3d(x, (2, 1, 2), stride=1, padding=(1, 0, 1),
                                                     divisor_override=5), [x])


@pytest.mark.parametrize("x_shape, output_size", [
    ((2, 3, 5, 6, 7), (2, 4, 3)),          # bins of different sizes, overlapping
    ((1, 2, 4, 6, 3), (2, 3, 1)),          # equal bins
    ((2, 1, 3, 2, 4), (4, None, 5)),       # more bins than elements; None keeps H
    ((2, 2, 3, 4, 5), 1),                  # global average
])
def test_adaptive_avg_pool3d_is_the_mean_of_each_bin(rng, x_shape, output_size):
    x = rng.standard_normal(x_shape)
    out = ops.adaptive_avg_pool3d(tc.Value(x), output_size)
    sizes = np.broadcast_to(np.array(output_size, dtype=object), 3)
    sizes = [n if o is None else o for n, o in zip(x_shape[2:], sizes, strict=True)]
    assert out.shape == (*x_shape[:2], *sizes)
    expected = np.empty(out.shape)
    bins = [[(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]
            for n, o in zip(x_shape[2:], sizes, strict=True)]
    for s, (d0, d1) in enumerate(bins[0]):
        for i, (h0, h1) in enumerate(bins[1]):
            for j, (w0, w1) in enumerate(bins[2]):
                expected[:, :, s, i, j] = x[:, :, d0:d1, h0:h1, w0:w1].mean(axis=(2, 3, 4))
    np.testing.assert_allclose(out.data, expected, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    assert tc.gradcheck(lambda x: (ops.adaptive_avg_pool3d(x, output_size) * upstream).sum(),
                        [x])
    assert tc.gradgradcheck(lambda x: ops.adaptive_avg_pool3d(x, output_size), [x])


def test_unbatched_pools_are_a_batch_of_one(rng):
    x = rng.standard_normal((2, 4, 5, 4))
    for pool in (lambda v: ops.max_pool3d(v, 2, padding=1),
                 lambda v: ops.avg_pool3d(v, 2, stride=1),
                 lambda v: ops.adaptive_avg_pool3d(v, (2, 3, 3))):
        np.testing.assert_array_equal(pool(x).data, pool(x[None]).data[0])
        assert tc.gradgradcheck(pool, [x])


def test_layers_run_their_ops_and_keep_float32(rng):
    tc.manual_seed(0)
    x = rng.standard_normal((2, 2, 6, 6, 6)).astype(np.float32)
    model = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                          nn.MaxPool3d(2), nn.AvgPool3d(3, stride=1, padding=1),
                          nn.AdaptiveAvgPool3d(1))
    out = model(tc.Value(x))
    assert out.shape == (2, 4, 1, 1, 1) and out.dtype == np.float32
    out.sum().backward()
    conv = model[0]
    assert conv.weight.shape == (4, 2, 3, 3, 3) and conv.weight.grad.dtype == np.float32
    bound = 1 / np.sqrt(2 * 27)                      # PyTorch's default range, fan_in C_in*K^3
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert model[1].num_batches_tracked.data == 1


def test_batch_norm3d_normalises_each_channel_over_batch_and_volume(rng):
    layer = nn.BatchNorm3d(3).double()
    x = rng.standard_normal((2, 3, 2, 3, 4)) * 3 + 1
    out = layer(tc.Value(x)).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3, 4)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3, 4)), 1, rtol=1e-3)
    unbiased = x.var(axis=(0, 2, 3, 4), ddof=1)
    np.testing.assert_allclose(layer.running_var.data, 0.9 + 0.1 * unbiased, rtol=1e-12)
    assert tc.gradgradcheck(lambda x: ops.batch_norm(x, None, None, training=True),
                            [x[:, :, :1, :2, :2]])


@pytest.mark.parametrize("call, error, match", [
    (lambda: ops.conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 2, 2))), ValueError,
     r"conv3d: weight has shape \(3, 2, 2, 2\); expected a 5-D weight \(C_out, C_in, KD, KH, "
     r"KW\)"),
    (lambda: ops.conv3d(np.ones((4, 4, 4)), np.ones((3, 1, 2, 2, 2))), ValueError,
     r"conv3d: input has shape \(4, 4, 4\); expected a 5-D input \(N, C_in, D, H, W\) or a 4-D "
     r"one \(C_in, D, H, W\) with C_in = 1 .*; for one volume \(D, H, W\) use "
     r"x.reshape\(1, 4, 4, 4\)"),
    (lambda: ops.conv3d(np.ones((1, 3, 4, 4, 2)), np.ones((3, 2, 2, 2, 2))), ValueError,
     r"conv3d: input has 3 channels but weight expects 2 \(input \(1, 3, 4, 4, 2\), weight "
     r"\(3, 2, 2, 2, 2\)\); expected equal C_in"),
    (lambda: ops.conv3d(np.ones((1, 4, 4, 4, 2)), np.ones((3, 2, 2, 2, 2))), ValueError,
     r"for channels-last volumes \(N, D, H, W, C\) use x.transpose\(0, 4, 1, 2, 3\)"),
    (lambda: ops.conv3d(np.ones((1, 2, 2, 4, 4)), np.ones((3, 2, 3, 2, 2))), ValueError,
     r"conv3d: kernel 3x2x2 does not fit the padded input 2x4x4 .*; expected 1 <= KD <= D "
     r"\+ 2\*padding and 1 <= KH <= H \+ 2\*padding and 1 <= KW <= W \+ 2\*padding"),
    (lambda: ops.conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 2, 2, 2)), stride=(1, 2)),
     ValueError, r"conv3d: stride is \(1, 2\); expected an int >= 1 or a \(d, h, w\) triple of "
     r"such ints; pass e.g. stride=\(1, 2, 2\)"),
    (lambda: ops.conv3d(np.ones((1, 2, 4, 4, 4)), np.ones((3, 2, 2, 2, 2)), padding="same",
                        stride=2), ValueError, r"conv3d: padding='same' needs stride 1"),
    (lambda: ops.conv3d(np.ones((1, 4, 4, 4, 4)), np.ones((3, 2, 2, 2, 2)), groups=2),
     ValueError, r"conv3d: groups=2 does not divide the 3 output channels C_out"),
    (lambda: ops.max_pool3d(np.ones((2, 4, 4, 4, 4, 1)), 2), ValueError,
     r"max_pool3d: input has shape \(2, 4, 4, 4, 4, 1\); expected a 5-D input \(N, C, D, H, "
     r"W\) or a 4-D one \(C, D, H, W\); to pool every volume, merge the leading axes"),
    (lambda: ops.max_pool3d(np.ones((1, 1, 4, 4, 4)), 2, padding=(1, 2, 1)), ValueError,
     r"max_pool3d: padding \(1, 2, 1\) is more than half the kernel \(2, 2, 2\); expected "
     r"padding <= kernel_size // 2 .* every window holds part of the volume"),
    (lambda: ops.max_pool3d(np.ones((1, 1, 4, 1, 4)), 2), ValueError,
     r"max_pool3d: kernel 2x2x2 is larger than the input 4x1x4 \(input \(1, 1, 4, 1, 4\)\); "
     r"expected kernel_size <= the volume size"),
    (lambda: ops.avg_pool3d(np.ones((1, 1, 4, 4, 4), dtype=np.uint8), 2), TypeError,
     r"avg_pool3d: input has dtype uint8; expected a float array"),
    (lambda: ops.avg_pool3d(np.ones((1, 1, 4, 4, 4)), 2, divisor_override=0), ValueError,
     r"avg_pool3d: divisor_override is 0"),
    (lambda: ops.adaptive_avg_pool3d(np.ones((1, 1, 4, 4, 4)), (2, 2)), ValueError,
     r"adaptive_avg_pool3d: output_size \(2, 2\) has 2 entries; expected an int or a triple "
     r"\(OD, OH, OW\) of ints >= 1, where None keeps the input's size; pass e.g. "
     r"output_size=2"),
    (lambda: ops.adaptive_avg_pool3d(np.ones((1, 1, 0, 4, 4)), 2), ValueError,
     r"adaptive_avg_pool3d: input has shape \(1, 1, 0, 4, 4\), an empty volume; expected D, H "
     r"and W >= 1"),
    (lambda: nn.Conv3d(2, 3, (3, 3)), ValueError,
     r"Conv3d: kernel_size is \(3, 3\); expected an int >= 1 or a \(d, h, w\) triple"),
    (lambda: nn.MaxPool3d(2)(np.ones((1, 4, 4, 4))[None, None]), ValueError,
     r"max_pool3d: input has shape \(1, 1, 1, 4, 4, 4\)"),
    (lambda: nn.AdaptiveAvgPool3d((1, 2)), ValueError,
     r"AdaptiveAvgPool3d: output_size \(1, 2\) has 2 entries"),
    (lambda: nn.BatchNorm3d(3)(np.ones((2, 3, 4, 4))), ValueError,
     r"BatchNorm3d: input has shape \(2, 3, 4, 4\); expected \(N, C, D, H, W\) with C = 3"),
    (lambda: nn.BatchNorm3d(3)(np.ones((2, 4, 2, 2, 2))), ValueError,
     r"BatchNorm3d: input has 4 channels .* make num_features equal to the channels"),
])
def test_errors_say_what_was_wrong_and_what_to_do(call, error, match):
    with pytest.raises(error, match=match):
        call()
