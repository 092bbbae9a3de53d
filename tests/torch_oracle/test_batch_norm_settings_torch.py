"""PyTorch's settings of the batch norms against PyTorch float64: BatchNorm1d/2d/3d with
track_running_stats=False, momentum=None (the cumulative average), affine=False, bias=False,
and running statistics set to None, each over several training steps (outputs, input and
parameter gradients, running buffers) then in evaluation, with their state dicts' names and
order and strict loads both ways; InstanceNorm with momentum=None."""

import numpy as np
import pytest
from test_layers import TIGHT, compare_forward_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn

LAYERS = [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (3, 3, 4, 2)),
          ("BatchNorm3d", (2, 3, 2, 3, 2))]
SETTINGS = [{"track_running_stats": False},
            {"momentum": None},
            {"momentum": None, "eps": 1e-3, "bias": False},
            {"affine": False, "track_running_stats": False},
            {"affine": False, "momentum": None}]


def twins(torch, rng, layer: str, settings: dict):
    """Our layer and PyTorch's, with the same settings and PyTorch's random weights."""
    theirs = getattr(torch.nn, layer)(3, **settings)
    with torch.no_grad():
        for param in theirs.parameters():
            param.copy_(torch.from_numpy(rng.uniform(0.5, 2, 3)))
    return with_their_weights(getattr(nn, layer)(3, **settings), theirs), theirs


def train_then_evaluate(torch, rng, ours, theirs, shape, steps: int = 4) -> None:
    """`steps` training steps, then evaluation: every output and gradient, and every entry of
    the state dicts (the running statistics and the batch count) after training, agree."""
    for _ in range(steps):
        ours.zero_grad(), theirs.zero_grad()
        compare_forward_and_gradients(torch, ours, theirs, rng.standard_normal(shape) * 2 + 1,
                                      rng.standard_normal(shape))
    assert list(ours.state_dict()) == list(theirs.state_dict())      # names and order
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), err_msg=name,
                                   rtol=1e-12, atol=1e-14)
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    compare_forward_and_gradients(torch, ours, theirs, rng.standard_normal(shape) - 0.5,
                                  rng.standard_normal(shape))


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}"
                                                                      for k, v in s.items()))
@pytest.mark.parametrize("layer, shape", LAYERS)
def test_settings_over_training_steps_and_evaluation(torch, rng, layer, shape, settings):
    ours, theirs = twins(torch, rng, layer, settings)
    assert repr(ours) == repr(theirs)
    train_then_evaluate(torch, rng, ours, theirs, shape)
    # strict loads both ways: ours into a fresh PyTorch layer, and back
    fresh = getattr(torch.nn, layer)(3, **settings).eval()
    fresh.load_state_dict({k: torch.from_numpy(np.asarray(v))
                           for k, v in ours.state_dict().items()}, strict=True)
    again = getattr(nn, layer)(3, **settings).double().eval()
    again.load_state_dict({k: v.numpy() for k, v in fresh.state_dict().items()}, strict=True)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(again(tc.Value(x)).data, fresh(torch.from_numpy(x)).detach(),
                               **TIGHT)


@pytest.mark.parametrize("momentum", [0.2, None])
@pytest.mark.parametrize("layer, shape", LAYERS[1:3])
def test_running_statistics_set_to_none(torch, rng, layer, shape, momentum):
    """Both running statistics set to None after construction: PyTorch's layer then uses the
    batch's statistics in evaluation too, and still counts its training batches."""
    ours, theirs = twins(torch, rng, layer, {"momentum": momentum})
    ours.running_mean = ours.running_var = None
    theirs.running_mean = theirs.running_var = None
    train_then_evaluate(torch, rng, ours, theirs, shape, steps=2)
    assert int(ours.num_batches_tracked.data) == int(theirs.num_batches_tracked) == 2


def test_momentum_none_without_a_batch_counter(torch, rng):
    """num_batches_tracked set to None: PyTorch's momentum=None then moves nothing."""
    ours, theirs = twins(torch, rng, "BatchNorm2d", {"momentum": None})
    ours.num_batches_tracked = None
    theirs.num_batches_tracked = None
    train_then_evaluate(torch, rng, ours, theirs, (4, 3, 2, 2), steps=2)


def test_without_tracking_given_buffers_later(torch, rng):
    """Built with track_running_stats=False, then given running statistics: PyTorch's layer
    leaves them in training and normalises with them in evaluation; so does ours."""
    ours, theirs = twins(torch, rng, "BatchNorm1d", {"track_running_stats": False})
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    ours.running_mean, ours.running_var = nn.Buffer(mean), nn.Buffer(var)
    theirs.running_mean, theirs.running_var = torch.tensor(mean), torch.tensor(var)
    train_then_evaluate(torch, rng, ours, theirs, (5, 3), steps=2)
    np.testing.assert_array_equal(ours.running_mean.data, mean)


@pytest.mark.parametrize("layer, shape", [("InstanceNorm1d", (2, 3, 5)),
                                          ("InstanceNorm2d", (2, 3, 3, 2))])
def test_instance_norm_momentum_none(torch, rng, layer, shape):
    """PyTorch's instance norm passes momentum=None on as 0: the running statistics stay."""
    settings = {"momentum": None, "track_running_stats": True, "affine": True}
    ours, theirs = twins(torch, rng, layer, settings)
    assert repr(ours) == repr(theirs)
    train_then_evaluate(torch, rng, ours, theirs, shape, steps=2)
