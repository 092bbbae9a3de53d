"""nn.init against torch.nn.init: calculate_gain for every nonlinearity; the exact bound or
std of the fan-based initialisers for many shapes, modes and nonlinearities, computed from
torch's own helpers; sample statistics of both libraries' draws; errors where torch errors and
none where it accepts."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
SHAPES = [(3, 5), (5, 3), (1, 1), (10, 20), (16, 8, 3, 3), (8, 16, 5, 5), (4, 2, 7),
          (6, 3, 2, 3, 4), (64, 1, 1, 1), (2, 3, 1, 5, 1, 2)]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0, 0.2, 1, -0.5, 3, math.sqrt(5)])
def test_calculate_gain_equals_torch(torch, nonlinearity, param):
    theirs = torch.nn.init.calculate_gain(nonlinearity, param)
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(theirs, rel=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_and_fan_out_equal_torch(torch, shape):
    assert (nn.init._calculate_fan_in_and_fan_out(tc.Value(np.zeros(shape)))
            == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape)))


def torch_std(torch, shape, kind, a=0.0, mode="fan_in", nonlinearity="leaky_relu", gain=1.0):
    """The std of torch's xavier_* or kaiming_* for this shape, from torch.nn.init's helpers."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    if kind == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    return torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)


KAIMING_SETTINGS = [dict(a=a, mode=mode, nonlinearity=nonlinearity)
                    for mode in ("fan_in", "fan_out", "FAN_OUT")
                    for nonlinearity in NONLINEARITIES
                    for a in ((0, 0.2, math.sqrt(5)) if nonlinearity == "leaky_relu" else (0,))]


@pytest.mark.parametrize("shape", SHAPES)
def test_kaiming_bound_and_std_equal_torch_formula(torch, shape):
    """Our draws are generator.uniform(-bound, bound) and generator.normal(0, std) (the module
    docstring says so), so a generator of a known seed gives the scale exactly."""
    for settings in KAIMING_SETTINGS:
        std = torch_std(torch, shape, "kaiming", **settings)
        ours = nn.init.kaiming_uniform_(tc.Value(np.zeros(shape)), **settings,
                                        generator=np.random.default_rng(0)).data
        expected = np.random.default_rng(0).uniform(-math.sqrt(3) * std, math.sqrt(3) * std, shape)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0, err_msg=str(settings))
        ours = nn.init.kaiming_normal_(tc.Value(np.zeros(shape)), **settings,
                                       generator=np.random.default_rng(0)).data
        expected = np.random.default_rng(0).normal(0.0, std, shape)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0, err_msg=str(settings))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 0.5, math.sqrt(2), 5 / 3])
def test_xavier_bound_and_std_equal_torch_formula(torch, shape, gain):
    std = torch_std(torch, shape, "xavier", gain=gain)
    ours = nn.init.xavier_uniform_(tc.Value(np.zeros(shape)), gain,
                                   generator=np.random.default_rng(0)).data
    expected = np.random.default_rng(0).uniform(-math.sqrt(3) * std, math.sqrt(3) * std, shape)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0)
    ours = nn.init.xavier_normal_(tc.Value(np.zeros(shape)), gain,
                                  generator=np.random.default_rng(0)).data
    np.testing.assert_allclose(ours, np.random.default_rng(0).normal(0.0, std, shape),
                               rtol=1e-12, atol=0)


def sample_std_se(x: np.ndarray) -> float:
    """The standard error of the sample std of x, from its fourth central moment."""
    centred = x - x.mean()
    var = (centred**2).mean()
    return math.sqrt(((centred**4).mean() - var**2) / (4 * x.size * var))


# (name, call on our Value, call on torch's tensor, kind); each fills (256, 64, 3, 3), 147,456
# samples; kind "uniform": both reach the same bounds, "truncated": both stay within [a, b]
DRAWS = [
    ("uniform_", lambda t: nn.init.uniform_(t, -0.5, 2.0),
     lambda torch, t: torch.nn.init.uniform_(t, -0.5, 2.0), "uniform"),
    ("normal_", lambda t: nn.init.normal_(t, 1.0, 3.0),
     lambda torch, t: torch.nn.init.normal_(t, 1.0, 3.0), "normal"),
    ("xavier_uniform_", lambda t: nn.init.xavier_uniform_(t, gain=2.0),
     lambda torch, t: torch.nn.init.xavier_uniform_(t, gain=2.0), "uniform"),
    ("xavier_normal_", nn.init.xavier_normal_, lambda torch, t: torch.nn.init.xavier_normal_(t),
     "normal"),
    ("kaiming_uniform_", lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)),
     lambda torch, t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)), "uniform"),
    ("kaiming_normal_", lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     lambda torch, t: torch.nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
     "normal"),
    ("trunc_normal_", lambda t: nn.init.trunc_normal_(t, 0.1, 0.02, -0.1, 0.12),
     lambda torch, t: torch.nn.init.trunc_normal_(t, 0.1, 0.02, -0.1, 0.12), "truncated"),
    ("trunc_normal_ (uniform proposals)", lambda t: nn.init.trunc_normal_(t, a=1.5, b=3.0),
     lambda torch, t: torch.nn.init.trunc_normal_(t, a=1.5, b=3.0), "truncated"),
    ("orthogonal_", lambda t: nn.init.orthogonal_(t, gain=3.0),
     lambda torch, t: torch.nn.init.orthogonal_(t, gain=3.0), "normal"),
]
TRUNCATED = {"trunc_normal_": (-0.1, 0.12), "trunc_normal_ (uniform proposals)": (1.5, 3.0)}


@pytest.mark.parametrize("name, ours, theirs, kind", DRAWS, ids=[d[0] for d in DRAWS])
def test_sample_statistics_agree_with_torch_draws(torch, name, ours, theirs, kind):
    shape = (256, 64, 3, 3)
    tc.manual_seed(0)
    torch.manual_seed(0)
    a = ours(tc.Value(np.zeros(shape))).data.ravel()
    b = theirs(torch, torch.empty(shape)).numpy().ravel()
    # 5 standard errors of the difference of two independent sample means (stds)
    mean_se = math.sqrt(a.var() / a.size + b.var() / b.size)
    std_se = math.hypot(sample_std_se(a), sample_std_se(b))
    assert abs(a.mean() - b.mean()) < 5 * mean_se
    assert abs(a.std() - b.std()) < 5 * std_se
    if kind == "uniform":     # within 1e-3 of the width from each end: misses with p < e^-100
        width = b.max() - b.min()
        assert abs(a.min() - b.min()) < 1e-3 * width and abs(a.max() - b.max()) < 1e-3 * width
    if kind == "truncated":
        low, high = TRUNCATED[name]
        assert low <= a.min() and a.max() <= high and low <= b.min() and b.max() <= high


def test_orthogonal_matches_torch_in_shape_cases_and_distribution(torch):
    """Both give orthonormal rows (or columns) times gain, and the same distribution of an entry
    (mean 0, variance 1/3 for a 3x3 matrix)."""
    for shape in [(3, 5), (5, 3), (6, 2, 3, 3), (20, 2, 2)]:
        for w in (nn.init.orthogonal_(tc.Value(np.zeros(shape)), 2.0).data,
                  torch.nn.init.orthogonal_(torch.empty(shape), 2.0).numpy()):
            flat = w.reshape(shape[0], -1)
            gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
            np.testing.assert_allclose(gram, 4 * np.eye(len(gram)), atol=1e-12)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    ours = np.array([nn.init.orthogonal_(tc.Value(np.zeros((3, 3))), generator=rng).data[0, 0]
                     for _ in range(2000)])
    theirs = np.array([torch.nn.init.orthogonal_(torch.empty(3, 3))[0, 0].item()
                       for _ in range(2000)])
    se = math.sqrt(2 / 3 / 2000)                     # of the difference of the two means
    assert abs(ours.mean() - theirs.mean()) < 5 * se
    assert abs((ours**2).mean() - (theirs**2).mean()) < 0.05


def test_deterministic_initialisers_equal_torch(torch):
    for shape in [(3, 5), (5, 3)]:
        np.testing.assert_array_equal(nn.init.eye_(tc.Value(np.zeros(shape))).data,
                                      torch.nn.init.eye_(torch.empty(shape)).numpy())
    for shape, groups in [((3, 3, 3), 1), ((5, 2, 4), 1), ((6, 2, 3, 4), 2), ((6, 1, 1, 2), 3),
                          ((2, 1, 3, 3, 3), 1), ((4, 3, 2, 3, 3), 2), ((8, 4, 4, 5), 4)]:
        np.testing.assert_array_equal(
            nn.init.dirac_(tc.Value(np.full(shape, 9.0)), groups).data,
            torch.nn.init.dirac_(torch.full(shape, 9.0), groups).numpy())
    for fill, value in [(lambda t: nn.init.constant_(t, 0.3), 0.3), (nn.init.ones_, 1.0),
                        (nn.init.zeros_, 0.0)]:
        np.testing.assert_array_equal(fill(tc.Value(np.full((2, 3), 9.0))).data,
                                      torch.full((2, 3), value).numpy())


# (our call, torch's call) on a tensor of the shape given: torch raises, so must we
ERRORS_TOO = [
    ("xavier_uniform_", (5,), {}), ("xavier_normal_", (5,), {}), ("kaiming_uniform_", (5,), {}),
    ("kaiming_normal_", (5,), {}), ("xavier_uniform_", (), {}), ("kaiming_normal_", (), {}),
    ("orthogonal_", (5,), {}), ("orthogonal_", (), {}), ("eye_", (2, 2, 2), {}),
    ("eye_", (4,), {}), ("dirac_", (3, 3), {}), ("dirac_", (2, 2, 2, 2, 2, 2), {}),
    ("dirac_", (4, 2, 3), {"groups": 3}), ("kaiming_uniform_", (3, 4), {"mode": "fan_avg"}),
    ("kaiming_normal_", (3, 4), {"nonlinearity": "gelu"}),
    ("kaiming_uniform_", (3, 4), {"a": "fan_out"}), ("uniform_", (3,), {"a": 2.0, "b": 1.0}),
    ("normal_", (3,), {"std": -1.0}), ("xavier_uniform_", (3, 4), {"gain": -1.0}),
    ("xavier_normal_", (3, 4), {"gain": -1.0}), ("trunc_normal_", (3,), {"a": 1.0, "b": 0.0}),
    ("trunc_normal_", (3,), {"std": 0.0}), ("xavier_uniform_", (0,), {}),
]


@pytest.mark.parametrize("name, shape, kwargs", ERRORS_TOO)
def test_errors_where_torch_errors(torch, name, shape, kwargs):
    with pytest.raises(Exception):   # noqa: B017  (torch raises ValueError, RuntimeError, ...)
        getattr(torch.nn.init, name)(torch.zeros(shape), **kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        getattr(nn.init, name)(tc.Value(np.zeros(shape)), **kwargs)


# torch accepts these, so must we (and both warn, or neither)
ACCEPTED_TOO = [
    ("kaiming_uniform_", (0,), {}), ("kaiming_normal_", (0, 3), {}),
    ("xavier_uniform_", (0, 5), {}), ("orthogonal_", (0, 3), {}),
    ("kaiming_uniform_", (3, 4), {"mode": "FAN_OUT"}),
    ("kaiming_uniform_", (3, 4), {"a": "ignored", "nonlinearity": "relu"}),
    ("kaiming_normal_", (3, 4), {"a": None}), ("uniform_", (3,), {"a": 1.0, "b": 1.0}),
    ("normal_", (3,), {"std": 0.0}), ("xavier_uniform_", (3, 4), {"gain": 0.0}),
    ("orthogonal_", (3, 4), {"gain": -2.0}), ("trunc_normal_", (3,), {"a": 0.0, "b": np.inf}),
    ("trunc_normal_", (3,), {"mean": 10.0}), ("dirac_", (4, 3, 3), {"groups": 2}),
    ("uniform_", (), {}), ("normal_", (), {}), ("zeros_", (), {}),
]


@pytest.mark.parametrize("name, shape, kwargs", ACCEPTED_TOO)
def test_no_error_where_torch_accepts(torch, name, shape, kwargs):
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        getattr(torch.nn.init, name)(torch.zeros(shape), **kwargs)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        value = tc.Value(np.zeros(shape))
        assert getattr(nn.init, name)(value, **kwargs) is value
    assert len(ours) == len(theirs), ([str(w.message) for w in ours],
                                      [str(w.message) for w in theirs])
