"""rms_norm, local_response_norm and dropout3d, and nn.RMSNorm, nn.LocalResponseNorm,
nn.CosineSimilarity, nn.PairwiseDistance, nn.InstanceNorm3d, nn.Dropout3d and the 3-d padding
layers against PyTorch float64: forwards, first and second derivatives (by every input and by the
upstream gradient, compare_with_torch), the modules' outputs and every parameter's gradient with
PyTorch's weights loaded through state dicts, running statistics over several steps and
evaluation mode, reprs, state dicts loaded both ways in float32, and the channel dropout's masks
and warnings for each input rank beside PyTorch's."""

import warnings

import numpy as np
import pytest
from oracle_checks import assert_equals_pytorch
from test_cnn_ops import TIGHT, compare_with_torch
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

# ---------------------------------------------------------------- rms_norm and RMSNorm

# (input shape, normalized_shape, eps): one, two and three trailing axes, no leading axis,
# PyTorch's default eps (None: float64's machine epsilon here) and given ones
RMS = [((3, 6), (6,), None), ((2, 3, 4), (3, 4), 1e-5), ((5,), (5,), 1e-3),
       ((2, 2, 3, 3), (2, 3, 3), None), ((4, 1, 3), (1, 3), 0.5)]


@pytest.mark.parametrize("shape, normalized_shape, eps", RMS)
@pytest.mark.parametrize("weighted", [True, False])
def test_rms_norm_op(torch, rng, shape, normalized_shape, eps, weighted):
    arrays = [rng.standard_normal(shape) * 2 + 0.5]
    if weighted:
        arrays.append(rng.uniform(0.5, 2, normalized_shape))
    compare_with_torch(torch, lambda *a: ops.rms_norm(a[0], normalized_shape, *a[1:], eps=eps),
                       lambda *a: torch.nn.functional.rms_norm(a[0], normalized_shape, *a[1:],
                                                               eps=eps), arrays, rng)


@pytest.mark.parametrize("normalized_shape, settings, shape", [
    (6, {}, (4, 6)),
    ((6,), {"eps": 1e-4}, (2, 3, 6)),
    ([3, 4], {"eps": 1e-6}, (2, 3, 4)),
    ((2, 3, 3), {"elementwise_affine": False}, (2, 2, 3, 3)),
    (5, {"eps": 0.1, "elementwise_affine": False}, (5,)),
])
def test_rms_norm_layer(torch, rng, normalized_shape, settings, shape):
    theirs = torch.nn.RMSNorm(normalized_shape, **settings)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2.0)
    ours = with_their_weights(nn.RMSNorm(normalized_shape, **settings), theirs)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal(shape) * 2 + 1
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)], [theirs(xt)])


@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm_float32_and_state_dicts_load_both_ways(torch, rng, eps):
    theirs = torch.nn.RMSNorm((3, 4), eps=eps).float()
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
    ours = nn.RMSNorm((3, 4), eps=eps)
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    x = rng.standard_normal((2, 5, 3, 4)).astype(np.float32) * 1e-3     # eps=None shows
    out = ours(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=2e-6, atol=1e-6)
    ours.weight.data[...] = rng.uniform(0.5, 2.0, (3, 4))
    again = torch.nn.RMSNorm((3, 4), eps=eps).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in ours.state_dict().items()})
    np.testing.assert_array_equal(again.weight.detach().numpy(), ours.weight.data)
    np.testing.assert_allclose(again(torch.from_numpy(x)).detach().numpy(), ours(x).data,
                               rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_rms_norm_float16_equals_pytorchs(torch, rng, weighted):
    x = (rng.standard_normal((4, 3, 8)) * 3).astype(np.float16)
    w = rng.uniform(0.5, 2.0, 8).astype(np.float16) if weighted else None
    out = ops.rms_norm(x, 8, w)
    expected = torch.nn.functional.rms_norm(torch.from_numpy(x), (8,),
                                            None if w is None else torch.from_numpy(w))
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out.data, expected.numpy())


# ---------------------------------------------------------------- local response norm

# (input shape, size, alpha, beta, k): 3-, 4-, 5- and 6-D inputs (PyTorch's two code paths:
# avg_pool2d for 3-D, avg_pool3d above), odd and even sizes, size 1, sizes above C
LRN = [((2, 5, 4), 3, 1e-4, 0.75, 1.0), ((2, 4, 3, 3), 2, 0.5, 0.75, 1.0),
       ((1, 6, 2, 3), 5, 1.0, 0.6, 2.0), ((2, 3, 2, 2, 2), 4, 0.8, 1.5, 1.0),
       ((1, 2, 5), 7, 2.0, 0.75, 0.5), ((2, 3, 4), 1, 0.3, 2.0, 1.0),
       ((1, 3, 2, 1, 2, 2), 3, 0.4, 0.75, 1.0), ((2, 4, 3, 3), 6, 1.0, -0.5, 3.0)]


@pytest.mark.parametrize("shape, size, alpha, beta, k", LRN)
def test_local_response_norm_op(torch, rng, shape, size, alpha, beta, k):
    compare_with_torch(torch, lambda x: ops.local_response_norm(x, size, alpha, beta, k),
                       lambda x: torch.nn.functional.local_response_norm(x, size, alpha, beta,
                                                                         k),
                       [rng.standard_normal(shape) * 2], rng)


@pytest.mark.parametrize("args, shape", [((3,), (2, 5, 4, 4)), ((2, 1e-3, 0.5, 2.0), (3, 4, 6)),
                                         ((4, 1, 2, 3), (1, 3, 2, 2, 3))])
def test_local_response_norm_layer(torch, rng, args, shape):
    ours, theirs = nn.LocalResponseNorm(*args), torch.nn.LocalResponseNorm(*args)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []
    x = rng.standard_normal(shape)
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)], [theirs(xt)])


def test_local_response_norm_float32_and_empty_input(torch, rng):
    x = rng.standard_normal((2, 6, 5, 5)).astype(np.float32)
    ours, theirs = nn.LocalResponseNorm(5, alpha=0.5), torch.nn.LocalResponseNorm(5, alpha=0.5)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).numpy(), rtol=2e-6,
                               atol=1e-6)
    empty = np.zeros((0, 3, 4))
    assert (ops.local_response_norm(empty, 2).shape
            == tuple(torch.nn.functional.local_response_norm(torch.tensor(empty), 2).shape))
    with pytest.raises(ValueError):
        torch.nn.functional.local_response_norm(torch.ones(2, 3), 2)
    with pytest.raises(ValueError, match="local_response_norm: input has shape"):
        ops.local_response_norm(np.ones((2, 3)), 2)


# ---------------------------------------------------------- CosineSimilarity, PairwiseDistance

@pytest.mark.parametrize("settings, shapes", [({}, ((4, 5), (4, 5))),
                                              ({"dim": -1, "eps": 1e-6}, ((2, 3, 4), (1, 3, 4))),
                                              ({"dim": 0}, ((5, 3), (5, 3)))])
def test_cosine_similarity_layer(torch, rng, settings, shapes):
    ours, theirs = nn.CosineSimilarity(**settings), torch.nn.CosineSimilarity(**settings)
    assert repr(ours) == repr(theirs)
    assert (ours.dim, ours.eps) == (theirs.dim, theirs.eps)
    compare_with_torch(torch, ours, theirs, [rng.standard_normal(s) for s in shapes], rng)


@pytest.mark.parametrize("settings, shapes", [({}, ((4, 5), (4, 5))),
                                              ({"p": 1.0, "keepdim": True}, ((3, 4), (4,))),
                                              ({"p": 3.0, "eps": 1e-3}, ((2, 3, 4), (2, 3, 4))),
                                              ({"p": float("inf")}, ((3, 5), (3, 5)))])
def test_pairwise_distance_layer(torch, rng, settings, shapes):
    ours, theirs = nn.PairwiseDistance(**settings), torch.nn.PairwiseDistance(**settings)
    assert repr(ours) == repr(theirs)
    assert (ours.norm, ours.eps, ours.keepdim) == (theirs.norm, theirs.eps, theirs.keepdim)
    # PyTorch's second derivative for p = 1 and inf is a ZeroTensor: assert_equals_pytorch reads
    # it as zeros (compare_with_torch would not)
    assert_equals_pytorch(torch, rng, lambda rng: [rng.standard_normal(s) for s in shapes],
                          ours, lambda torch, *t: theirs(*t))


# ---------------------------------------------------------------- InstanceNorm3d

@pytest.mark.parametrize("shape", [(2, 3, 2, 3, 2), (3, 2, 2, 3)])
@pytest.mark.parametrize("settings", [{}, {"affine": True},
                                      {"affine": True, "track_running_stats": True,
                                       "momentum": 0.3},
                                      {"track_running_stats": True, "eps": 1e-3},
                                      {"affine": True, "bias": False}])
def test_instance_norm3d_layer(torch, rng, shape, settings):
    theirs = torch.nn.InstanceNorm3d(3, **settings)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.uniform_(0.5, 2.0)
            if theirs.bias is not None:
                theirs.bias.normal_()
    ours = with_their_weights(nn.InstanceNorm3d(3, **settings), theirs)
    assert repr(ours) == repr(theirs)
    for _ in range(2):                                   # training steps
        x = rng.standard_normal(shape) * 2 + 1
        ours.zero_grad(), theirs.zero_grad()
        xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
        compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)],
                                      [theirs(xt)])
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), err_msg=name, **TIGHT)
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    x = rng.standard_normal(shape)
    xv, xt = tc.Value(x), torch.tensor(x, requires_grad=True)
    compare_results_and_gradients(torch, rng, ours, theirs, [xv], [xt], [ours(xv)], [theirs(xt)])


def test_instance_norm3d_state_dicts_load_both_ways(torch, rng):
    theirs = torch.nn.InstanceNorm3d(4, affine=True, track_running_stats=True).float()
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
        theirs.bias.normal_()
    theirs(torch.from_numpy(rng.standard_normal((3, 4, 3, 3, 3)).astype(np.float32)))
    theirs.eval()
    ours = nn.InstanceNorm3d(4, affine=True, track_running_stats=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    ours.eval()
    x = rng.standard_normal((2, 4, 3, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    ours.train()
    ours(rng.standard_normal((3, 4, 2, 3, 3)).astype(np.float32))
    again = torch.nn.InstanceNorm3d(4, affine=True, track_running_stats=True).float()
    again.load_state_dict({name: torch.from_numpy(np.asarray(value))
                           for name, value in ours.state_dict().items()})
    for name, value in again.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[name], err_msg=name)
    again.eval(), ours.eval()
    np.testing.assert_allclose(ours(x).data, again(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- dropout3d

def mask_axes(values: np.ndarray, ndim_kept: int) -> bool:
    """Whether values (an output of ones dropped) are constant along every axis after the first
    ndim_kept: one draw per entry of those axes."""
    lead = values.reshape(*values.shape[:ndim_kept], -1)
    return bool((lead == lead[..., :1]).all())


@pytest.mark.filterwarnings("ignore:dropout3d:UserWarning")
@pytest.mark.parametrize("shape, kept", [((4, 5, 2, 2, 3), 2), ((12, 2, 3, 2), 1),
                                         ((12, 4, 5), 1), ((16, 3), 1), ((16,), 1),
                                         ((12, 2, 2, 2, 2, 2), 1)])
def test_dropout3d_drops_what_pytorchs_drops_and_warns_alike(torch, shape, kept):
    x = np.ones(shape)
    tc.manual_seed(0), torch.manual_seed(0)    # at least 12 draws: both values appear
    with warnings.catch_warnings(record=True) as their_warnings:
        warnings.simplefilter("always")
        theirs = torch.nn.functional.dropout3d(torch.tensor(x), 0.4).numpy()
    with warnings.catch_warnings(record=True) as our_warnings:
        warnings.simplefilter("always")
        ours = ops.dropout3d(x, 0.4).data
    assert len(our_warnings) == len(their_warnings)
    assert mask_axes(theirs, kept) and mask_axes(ours, kept)
    assert set(np.unique(theirs)) <= {0.0, 1 / 0.6}
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-12)
    theirs_eval = torch.nn.functional.dropout3d(torch.tensor(x), 0.4, training=False)
    np.testing.assert_array_equal(ops.dropout3d(x, 0.4, training=False).data, theirs_eval.numpy())


def test_dropout3d_layer(torch, rng):
    ours, theirs = nn.Dropout3d(0.3), torch.nn.Dropout3d(0.3)
    assert repr(ours) == repr(theirs)
    x = rng.standard_normal((2, 3, 2, 2, 2))
    ours.eval(), theirs.eval()
    np.testing.assert_array_equal(ours(x).data, theirs(torch.tensor(x)).numpy())


# ---------------------------------------------------------------- 3-d padding layers

@pytest.mark.parametrize("layer, padding, shape", [
    ("ZeroPad3d", 1, (1, 2, 2, 3, 2)),
    ("ZeroPad3d", (1, 0, 2, 1, 0, 2), (2, 2, 3, 2)),
    ("ZeroPad3d", (-1, 2, 1, -1, 0, -1), (1, 2, 3, 3, 4)),          # negative amounts crop
    ("ConstantPad3d", (2, 1, 0, 1, 1, 0), (2, 1, 2, 2, 3)),
    ("ConstantPad3d", 1, (3, 2, 2)),                                # any rank from 3 up
    ("ReflectionPad3d", (1, 2, 0, 1, 1, 0), (1, 2, 3, 2, 3)),
    ("ReflectionPad3d", 1, (2, 2, 3, 2)),
    ("ReplicationPad3d", (2, 0, 1, 1, 0, 3), (2, 2, 2, 3)),
    ("ReplicationPad3d", 2, (1, 1, 2, 1, 2)),
    ("CircularPad3d", (0, 2, 1, 0, 2, 1), (1, 1, 2, 3, 2)),
    ("CircularPad3d", 1, (2, 2, 2, 2)),
])
def test_3d_padding_layers(torch, rng, layer, padding, shape):
    args = (padding, 2.5) if layer == "ConstantPad3d" else (padding,)
    ours, theirs = getattr(nn, layer)(*args), getattr(torch.nn, layer)(*args)
    assert repr(ours) == repr(theirs)
    compare_with_torch(torch, ours, theirs, [rng.standard_normal(shape)], rng)
