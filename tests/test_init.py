"""Tests of nn.init's PyTorch-style initialisers: they fill a Value's data in place and return
it; exact values of the deterministic ones; bounds of the uniform ones and sample statistics of
the normal ones against formulas worked out by hand; orthogonality; seeding; every error and
its suggested fix."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, optim
from tinygrad_cnn.random import default_generator

# Every initialiser, with arguments, and a shape it accepts.
RANDOM = {
    "uniform_": (lambda t, **k: nn.init.uniform_(t, -1.0, 2.0, **k), (4, 3, 3, 3)),
    "normal_": (lambda t, **k: nn.init.normal_(t, 1.0, 0.5, **k), (4, 3, 3, 3)),
    "trunc_normal_": (lambda t, **k: nn.init.trunc_normal_(t, **k), (4, 3, 3, 3)),
    "xavier_uniform_": (lambda t, **k: nn.init.xavier_uniform_(t, **k), (4, 3, 3, 3)),
    "xavier_normal_": (lambda t, **k: nn.init.xavier_normal_(t, **k), (4, 3, 3, 3)),
    "kaiming_uniform_": (lambda t, **k: nn.init.kaiming_uniform_(t, **k), (4, 3, 3, 3)),
    "kaiming_normal_": (lambda t, **k: nn.init.kaiming_normal_(t, **k), (4, 3, 3, 3)),
    "orthogonal_": (lambda t, **k: nn.init.orthogonal_(t, **k), (4, 3, 3, 3)),
}
FIXED = {
    "constant_": (lambda t: nn.init.constant_(t, 0.25), (4, 3, 3, 3)),
    "ones_": (nn.init.ones_, (4, 3, 3, 3)),
    "zeros_": (nn.init.zeros_, (4, 3, 3, 3)),
    "eye_": (nn.init.eye_, (3, 5)),
    "dirac_": (nn.init.dirac_, (4, 3, 3, 3)),
}
ALL = {**RANDOM, **FIXED}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ALL))
def test_fills_in_place_and_returns_the_value_with_grad_and_graph_untouched(name, dtype):
    init, shape = ALL[name]
    array = np.full(shape, np.nan, dtype=dtype)      # NaN everywhere: every element gets written
    grad = np.full(shape, 7.0, dtype=dtype)
    w = tc.Value(array, name="w")
    w.grad = grad
    assert init(w) is w
    assert w.data is array and w.dtype == dtype and w.shape == shape
    assert np.isfinite(array).all()
    assert w.grad is grad and (grad == 7.0).all()
    assert w.fn is None and w.parents == () and w.requires_grad


def test_an_optimizer_built_before_sees_the_new_values():
    w = tc.Value(np.full((2, 3), 5.0, dtype=np.float32))
    sgd = optim.SGD([w], lr=1.0)
    nn.init.zeros_(w)
    w.grad = np.ones((2, 3), dtype=np.float32)
    sgd.step()
    np.testing.assert_array_equal(w.data, -np.ones((2, 3)))


def test_buffers_are_filled_too_and_constants_cast_as_pytorch():
    bn = nn.BatchNorm2d(3)
    bn.running_var.data[...] = 9.0
    assert nn.init.ones_(bn.running_var) is bn.running_var
    np.testing.assert_array_equal(bn.running_var.data, np.ones(3))
    count = nn.Buffer(np.array([4, 5], dtype=np.int64))
    nn.init.constant_(count, 2.7)                     # cast to the dtype: 2, as torch's fill_
    assert count.dtype == np.int64 and count.data.tolist() == [2, 2]
    flags = nn.Buffer(np.zeros(2, dtype=bool))
    assert nn.init.constant_(flags, True).data.tolist() == [True, True]
    scalar = tc.Value(np.float32(3.0))                # 0-d works as well
    assert nn.init.zeros_(scalar).item() == 0.0


def test_constant_ones_zeros_exact():
    w = tc.Value(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(nn.init.constant_(w, -1.5).data, np.full((2, 3), -1.5))
    np.testing.assert_array_equal(nn.init.ones_(w).data, np.ones((2, 3)))
    np.testing.assert_array_equal(nn.init.zeros_(w).data, np.zeros((2, 3)))
    np.testing.assert_array_equal(nn.init.constant_(w, -np.inf).data, np.full((2, 3), -np.inf))


def test_eye_exact():
    wide = nn.init.eye_(tc.Value(np.full((2, 3), 9.0, dtype=np.float32))).data
    np.testing.assert_array_equal(wide, [[1, 0, 0], [0, 1, 0]])
    tall = nn.init.eye_(tc.Value(np.full((3, 2), 9.0))).data
    np.testing.assert_array_equal(tall, [[1, 0], [0, 1], [0, 0]])


def dirac_by_loops(shape, groups):
    """dirac_'s definition, element by element."""
    out = np.zeros(shape)
    per_group = shape[0] // groups
    for index in np.ndindex(*shape):
        o, i, kernel = index[0], index[1], index[2:]
        centre = all(k == size // 2 for k, size in zip(kernel, shape[2:], strict=True))
        if centre and o % per_group == i and i < min(per_group, shape[1]):
            out[index] = 1
    return out


@pytest.mark.parametrize("shape, groups", [((3, 3, 3), 1), ((2, 4, 5), 1), ((5, 2, 4), 1),
                                           ((4, 2, 3, 3), 1), ((6, 2, 3, 4), 2),
                                           ((6, 1, 1, 2), 3), ((2, 1, 3, 3, 3), 1),
                                           ((4, 3, 2, 3, 3), 2)])
def test_dirac_exact(shape, groups):
    w = tc.Value(np.full(shape, 9.0))
    np.testing.assert_array_equal(nn.init.dirac_(w, groups).data, dirac_by_loops(shape, groups))


def test_dirac_by_hand_and_the_convolution_copies_its_input(rng):
    w = nn.init.dirac_(tc.Value(np.zeros((2, 2, 3))))
    np.testing.assert_array_equal(w.data, [[[0, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]]])
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight)
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(conv(x).data, x, atol=1e-6)


# (initialiser with its arguments, shape, the bound worked out by hand)
UNIFORM_BOUNDS = [
    (lambda t: nn.init.uniform_(t, -1.0, 3.0), (7, 3), None, (-1.0, 3.0)),
    (lambda t: nn.init.uniform_(t), (4,), None, (0.0, 1.0)),
    (lambda t: nn.init.xavier_uniform_(t), (3, 5), math.sqrt(6 / 8), None),
    (lambda t: nn.init.xavier_uniform_(t, gain=2.0), (16, 8, 3, 3), 2 * math.sqrt(6 / 216), None),
    (lambda t: nn.init.kaiming_uniform_(t), (16, 8, 3, 3), math.sqrt(6 / 72), None),
    (lambda t: nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), (16, 8, 3, 3),
     math.sqrt(6 / 144), None),
    (lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)), (10, 20), 1 / math.sqrt(20), None),
    (lambda t: nn.init.kaiming_uniform_(t, nonlinearity="tanh"), (6, 4), 5 / 3 * math.sqrt(3 / 4),
     None),
    (lambda t: nn.init.kaiming_uniform_(t, a=0.2, mode="FAN_OUT"), (5, 2, 2),
     math.sqrt(2 / 1.04) * math.sqrt(3 / 10), None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("init, shape, bound, interval", UNIFORM_BOUNDS)
def test_uniform_initialisers_stay_within_the_bound_by_hand(init, shape, bound, interval, dtype):
    low, high = interval or (-bound, bound)
    for seed in range(20):
        tc.manual_seed(seed)
        data = init(tc.Value(np.zeros(shape, dtype=dtype))).data
        # rounding to the dtype is monotone, so the samples stay within the rounded bounds
        assert data.min() >= dtype(low) and data.max() <= dtype(high)


# big tensors: 200,000 samples, so max |x| is within 1e-4 of the bound (it misses with
# probability (1 - 1e-4)^200000 = e^-20) and the statistics are tight
BIG = (200, 1000)


@pytest.mark.parametrize("init, bound", [
    (nn.init.xavier_uniform_, math.sqrt(6 / 1200)),
    (nn.init.kaiming_uniform_, math.sqrt(6 / 1000)),
    (lambda t: nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="selu"),
     0.75 * math.sqrt(3 / 200)),
])
def test_uniform_initialisers_reach_their_bound(init, bound):
    tc.manual_seed(0)
    data = init(tc.Value(np.zeros(BIG))).data
    assert np.abs(data).max() <= bound
    assert data.max() > bound * (1 - 1e-4) and data.min() < -bound * (1 - 1e-4)


def normal_pdf(z):
    """The standard normal density, 0 at +-inf."""
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0


def truncated_normal_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) conditioned on [a, b], from the textbook formulas."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = 0.5 * (math.erfc(-beta / math.sqrt(2)) - math.erfc(-alpha / math.sqrt(2)))
    shift = (normal_pdf(alpha) - normal_pdf(beta)) / mass
    z_pdf = [z * normal_pdf(z) if math.isfinite(z) else 0.0 for z in (alpha, beta)]
    var = 1 + (z_pdf[0] - z_pdf[1]) / mass - shift**2
    return mean + std * shift, std * math.sqrt(var)


# (initialiser, mean, std): the moments worked out by hand for a BIG tensor
NORMAL_MOMENTS = [
    (lambda t: nn.init.normal_(t), 0.0, 1.0),
    (lambda t: nn.init.normal_(t, mean=3.0, std=0.5), 3.0, 0.5),
    (nn.init.xavier_normal_, 0.0, math.sqrt(2 / 1200)),
    (lambda t: nn.init.xavier_normal_(t, gain=nn.init.calculate_gain("tanh")), 0.0,
     5 / 3 * math.sqrt(2 / 1200)),
    (nn.init.kaiming_normal_, 0.0, math.sqrt(2 / 1000)),
    (lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), 0.0,
     math.sqrt(2 / 200)),
    (lambda t: nn.init.kaiming_normal_(t, a=0.5, nonlinearity="leaky_relu"), 0.0,
     math.sqrt(2 / 1.25 / 1000)),
    (nn.init.trunc_normal_, *truncated_normal_moments(0.0, 1.0, -2.0, 2.0)),
    # mass 0.065 in [1.5, 3]: the uniform-proposal path
    (lambda t: nn.init.trunc_normal_(t, a=1.5, b=3.0), *truncated_normal_moments(0, 1, 1.5, 3)),
    (lambda t: nn.init.trunc_normal_(t, mean=0.1, std=0.02, a=-0.1, b=0.12),
     *truncated_normal_moments(0.1, 0.02, -0.1, 0.12)),
    (lambda t: nn.init.trunc_normal_(t, a=0.0, b=math.inf), math.sqrt(2 / math.pi),
     math.sqrt(1 - 2 / math.pi)),                     # the half-normal
]


@pytest.mark.parametrize("init, mean, std", NORMAL_MOMENTS)
def test_normal_initialisers_have_the_mean_and_std_by_hand(init, mean, std):
    tc.manual_seed(0)
    data = init(tc.Value(np.zeros(BIG, dtype=np.float32))).data.astype(np.float64)
    n = data.size
    # 5 standard errors: se(mean) = std / sqrt(n); se(sample std) = sqrt((m4 - std^4) /
    # (4 n std^2)), m4 the fourth central moment (std / sqrt(2n) for a normal distribution)
    m4 = ((data - data.mean()) ** 4).mean()
    assert abs(data.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(data.std() - std) < 5 * math.sqrt((m4 - std**4) / (4 * n * std**2))


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 1.5, 3.0),
                                             (5.0, 2.0, -1.0, 0.5), (0.0, 1.0, 0.0, np.inf)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trunc_normal_stays_within_a_b(mean, std, a, b, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # mean 5 is far from [-1, 0.5]
        data = nn.init.trunc_normal_(tc.Value(np.zeros((300, 100), dtype=dtype)), mean, std,
                                     a, b).data
    assert data.min() >= a and data.max() <= b
    assert len(np.unique(data)) > 29000                # really drawn, not clipped


def test_trunc_normal_warns_as_pytorch_when_the_mean_is_far_outside():
    with pytest.warns(UserWarning, match=r"trunc_normal_: mean=10.0 is more than 2 std=1.0 "
                                         r"outside \[a, b\] = \[-2.0, 2.0\]"):
        data = nn.init.trunc_normal_(tc.Value(np.zeros(1000)), mean=10.0).data
    assert data.min() >= -2.0 and data.max() <= 2.0 and data.mean() > 1.5


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (6, 2, 3, 3), (20, 2, 2), (1, 7)])
@pytest.mark.parametrize("gain", [1.0, 2.0, -0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain, dtype):
    w = nn.init.orthogonal_(tc.Value(np.zeros(shape, dtype=dtype)), gain=gain).data
    flat = w.reshape(shape[0], -1).astype(np.float64)       # (rows, cols)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    atol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=atol)


def test_orthogonal_is_uniform_over_matrices():
    """With the column signs taken from R, W[0, 0] of a Haar-random 3x3 orthogonal matrix has
    mean 0 and variance 1/3; QR alone would give entries of one sign along the diagonal."""
    rng = np.random.default_rng(0)
    corners = np.array([nn.init.orthogonal_(tc.Value(np.zeros((3, 3))), generator=rng).data
                        for _ in range(3000)])[:, 0, 0]
    assert abs(corners.mean()) < 5 * math.sqrt(1 / 3 / 3000)
    assert abs((corners**2).mean() - 1 / 3) < 0.03


@pytest.mark.parametrize("name", list(RANDOM))
def test_manual_seed_and_generator_make_draws_repeatable(name):
    init, shape = RANDOM[name]
    draws = []
    for _ in range(2):
        tc.manual_seed(3)
        draws.append(init(tc.Value(np.zeros(shape))).data)
    np.testing.assert_array_equal(*draws)
    assert not np.array_equal(draws[0], init(tc.Value(np.zeros(shape))).data)

    state = default_generator().bit_generator.state
    first = init(tc.Value(np.zeros(shape)), generator=np.random.default_rng(5)).data
    second = init(tc.Value(np.zeros(shape)), generator=np.random.default_rng(5)).data
    np.testing.assert_array_equal(first, second)
    assert default_generator().bit_generator.state == state     # the default one is untouched


def test_the_draws_are_those_the_module_docstring_states():
    """Uniform ones are generator.uniform(low, high), normal ones generator.normal(mean, std)."""
    w = nn.init.kaiming_uniform_(tc.Value(np.zeros((4, 6))), generator=np.random.default_rng(1))
    np.testing.assert_allclose(w.data, np.random.default_rng(1).uniform(-1, 1, (4, 6)), rtol=1e-14)
    w = nn.init.normal_(tc.Value(np.zeros(5)), 2.0, 0.5, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(w.data, np.random.default_rng(1).normal(2.0, 0.5, 5))


@pytest.mark.parametrize("nonlinearity, param, gain", [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("relu", 3, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / 1.0001)), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("leaky_relu", 0, math.sqrt(2)), ("leaky_relu", 1, 1.0), ("leaky_relu", -0.5, math.sqrt(1.6)),
])
def test_calculate_gain_by_hand(nonlinearity, param, gain):
    assert nn.init.calculate_gain(nonlinearity, param) == pytest.approx(gain, rel=1e-15)


def test_zero_element_tensors_follow_pytorch():
    empty = tc.Value(np.zeros((0, 3)))
    for init in (nn.init.kaiming_uniform_, nn.init.kaiming_normal_):
        with pytest.warns(UserWarning, match=r"the tensor has no elements \(shape \(0, 3\)\); "
                                             r"nothing to initialise"):
            assert init(empty) is empty
        with pytest.warns(UserWarning):
            init(tc.Value(np.zeros(0)))              # even 1-D: PyTorch checks this first
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for init in (nn.init.xavier_uniform_, nn.init.xavier_normal_, nn.init.orthogonal_,
                     nn.init.uniform_, nn.init.normal_, nn.init.trunc_normal_, nn.init.zeros_,
                     nn.init.eye_):
            assert init(empty) is empty and empty.shape == (0, 3)
        nn.init.xavier_uniform_(tc.Value(np.zeros((0, 0))))   # PyTorch divides by zero here
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(tc.Value(np.zeros(0)))


def test_fan_in_and_fan_out_as_pytorch_helper():
    fans = nn.init._calculate_fan_in_and_fan_out
    assert fans(tc.Value(np.zeros((3, 5)))) == (5, 3)
    assert fans(tc.Value(np.zeros((16, 8, 3, 2)))) == (48, 96)
    assert fans(nn.Buffer(np.zeros((4, 2, 7)))) == (14, 28)
    with pytest.raises(ValueError, match=r"_calculate_fan_in_and_fan_out: fan_in and fan_out "
                                         r"are not defined for a tensor with fewer than 2 "
                                         r"dimensions \(shape \(3,\)\)"):
        fans(tc.Value(np.zeros(3)))


# (call, error, message): every error the initialisers raise
ERRORS = [
    (lambda: nn.init.zeros_(np.zeros(3)), TypeError,
     r"zeros_: tensor is ndarray .*; expected a tc.Value \(a parameter, such as layer.weight\) "
     r"or an nn.Buffer; to fill a numpy array, wrap it: tc.Value\(array\)"),
    (lambda: nn.init.kaiming_uniform_([1.0, 2.0]), TypeError, r"kaiming_uniform_: tensor is list"),
    (lambda: nn.init.normal_(tc.Value(np.broadcast_to(np.zeros(3), (2, 3)))), ValueError,
     r"normal_: the tensor's data \(shape \(2, 3\)\) is a read-only array, such as a "
     r"np.broadcast_to view, .*tensor.data = tensor.data.copy\(\)"),
    (lambda: nn.init.uniform_(tc.Value(np.zeros(3, dtype=np.int64))), TypeError,
     r"uniform_: the tensor has dtype int64; expected floating-point data for random values"),
    (lambda: nn.init.uniform_(tc.Value(np.zeros(3)), 2.0, 1.0), ValueError,
     r"uniform_: a=2.0 is above b=1.0; expected a <= b"),
    (lambda: nn.init.uniform_(tc.Value(np.zeros(3)), -np.inf, 1.0), ValueError,
     r"uniform_: a=-inf is not finite; expected a finite number"),
    (lambda: nn.init.uniform_(tc.Value(np.zeros(3)), "0", 1.0), TypeError,
     r"uniform_: a is str '0'; expected a real number"),
    (lambda: nn.init.normal_(tc.Value(np.zeros(3)), 0.0, -1.0), ValueError,
     r"normal_: std=-1.0 is negative; expected std >= 0"),
    (lambda: nn.init.normal_(tc.Value(np.zeros(3)), generator=np.random.RandomState(0)),
     TypeError, r"normal_: generator is RandomState .*; expected a np.random.Generator, e.g. "
                r"np.random.default_rng\(0\), or None"),
    (lambda: nn.init.trunc_normal_(tc.Value(np.zeros(3)), std=0.0), ValueError,
     r"trunc_normal_: std=0.0 is not positive; expected std > 0"),
    (lambda: nn.init.trunc_normal_(tc.Value(np.zeros(3)), a=1.0, b=1.0), ValueError,
     r"trunc_normal_: \[a, b\] = \[1.0, 1.0\] is empty; expected a < b"),
    (lambda: nn.init.trunc_normal_(tc.Value(np.zeros(3)), a=1.0, b=np.inf), ValueError,
     r"trunc_normal_: \[a, b\] = \[1.0, inf\] holds only 0.159 of N\(0.0, 1.0\^2\) and is "
     r"unbounded; expected a finite \[a, b\] .*pass a finite bound instead, e.g. b=11"),
    (lambda: nn.init.trunc_normal_(tc.Value(np.zeros(3)), a=-np.inf, b=-15.0), ValueError,
     r"\[a, b\] = \[-inf, -15.0\] holds only 3.67e-51 of N\(0.0, 1.0\^2\) .*e.g. a=-25"),
    (lambda: nn.init.trunc_normal_(tc.Value(np.zeros(3)), a=40.0, b=np.inf), ValueError,
     r"\[a, b\] = \[40.0, inf\] holds a share that rounds to 0 of N\(0.0, 1.0\^2\) .*"
     r"e.g. b=50"),
    (lambda: nn.init.constant_(tc.Value(np.zeros(3)), "1"), TypeError,
     r"constant_: val is str '1'; expected a real number"),
    (lambda: nn.init.eye_(tc.Value(np.zeros((2, 2, 3)))), ValueError,
     r"eye_: tensor has shape \(2, 2, 3\) \(3 dimensions\); expected 2 dimensions, such as a "
     r"Linear weight; for a convolution's weight use dirac_"),
    (lambda: nn.init.dirac_(tc.Value(np.zeros((2, 3)))), ValueError,
     r"dirac_: tensor has shape \(2, 3\) \(2 dimensions\); expected 3, 4 or 5 dimensions .*; "
     r"for a Linear weight use eye_"),
    (lambda: nn.init.dirac_(tc.Value(np.zeros((4, 2, 3))), 3), ValueError,
     r"dirac_: dimension 0 of shape \(4, 2, 3\) \(4 output channels\) is not divisible by "
     r"groups=3"),
    (lambda: nn.init.dirac_(tc.Value(np.zeros((4, 2, 3))), 0), ValueError,
     r"dirac_: groups is int 0; expected a positive int"),
    (lambda: nn.init.xavier_normal_(tc.Value(np.zeros(5))), ValueError,
     r"xavier_normal_: fan_in and fan_out are not defined for a tensor with fewer than 2 "
     r"dimensions \(shape \(5,\)\); .*initialise a bias with zeros_, or uniform_"),
    (lambda: nn.init.kaiming_normal_(tc.Value(np.zeros(()))), ValueError,
     r"kaiming_normal_: fan_in and fan_out are not defined .* \(shape \(\)\)"),
    (lambda: nn.init.xavier_uniform_(tc.Value(np.zeros((2, 3))), gain=-1.0), ValueError,
     r"xavier_uniform_: gain=-1.0 is negative; expected gain >= 0"),
    (lambda: nn.init.kaiming_uniform_(tc.Value(np.zeros((2, 3))), mode="fan_avg"), ValueError,
     r"kaiming_uniform_: mode 'fan_avg' is not supported; expected 'fan_in' .* or 'fan_out'"),
    (lambda: nn.init.kaiming_normal_(tc.Value(np.zeros((2, 3))), nonlinearity="gelu"),
     ValueError,
     r"kaiming_normal_: nonlinearity 'gelu' is not supported; expected one of 'linear', "
     r"'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', "
     r"'conv_transpose3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'"),
    (lambda: nn.init.kaiming_uniform_(tc.Value(np.zeros((2, 3))), "fan_out"), ValueError,
     r"kaiming_uniform_: a \(the negative slope of leaky_relu\) is str 'fan_out'; expected a "
     r"finite number .*pass it by keyword \(e.g. mode='fan_out'\)"),
    (lambda: nn.init.calculate_gain("leaky_relu", True), ValueError,
     r"calculate_gain: param \(the negative slope of leaky_relu\) is bool True"),
    (lambda: nn.init.calculate_gain("swish"), ValueError,
     r"calculate_gain: nonlinearity 'swish' is not supported; expected one of 'linear'"),
    (lambda: nn.init.orthogonal_(tc.Value(np.zeros(4))), ValueError,
     r"orthogonal_: tensor has shape \(4,\) \(1 dimensions\); expected at least 2 dimensions"),
    (lambda: nn.init.orthogonal_(tc.Value(np.zeros((2, 2))), gain=np.nan), ValueError,
     r"orthogonal_: gain=nan is not finite"),
]


@pytest.mark.parametrize("call, error, message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_suggested_fixes_work():
    array = np.zeros((2, 3), dtype=np.float32)
    nn.init.ones_(tc.Value(array))                            # wrap the array: it is filled
    np.testing.assert_array_equal(array, np.ones((2, 3)))

    w = tc.Value(np.broadcast_to(np.zeros(3), (2, 3)))
    w.data = w.data.copy()                                    # a writable copy
    assert np.isfinite(nn.init.normal_(w).data).all()

    conv = nn.Conv2d(2, 2, 3, padding=1)
    nn.init.dirac_(conv.weight)                               # dirac_, not eye_, for a conv
    nn.init.zeros_(conv.bias)                                 # a bias: zeros_ or uniform_
    nn.init.uniform_(conv.bias, -0.1, 0.1)
    nn.init.kaiming_uniform_(conv.weight, mode="fan_out")     # mode by keyword
    nn.init.normal_(conv.bias, generator=np.random.default_rng(0))
    nn.init.uniform_(tc.Value(np.zeros(3, dtype=np.float32)))   # float data for random values
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = nn.init.trunc_normal_(tc.Value(np.zeros(1000)), a=1.0, b=10.0)   # a finite bound
    assert w.data.min() >= 1.0 and w.data.max() <= 10.0
    for name in ("relu", "leaky_relu"):                       # a listed nonlinearity
        nn.init.kaiming_normal_(conv.weight, nonlinearity=name)


@pytest.mark.filterwarnings("ignore:trunc_normal_. mean=0.0 is more than 2 std")   # (as PyTorch)
@pytest.mark.parametrize("a, b, fixed", [(15.0, np.inf, {"b": 25.0}),
                                         (-np.inf, -15.0, {"a": -25.0}),
                                         (1.0, np.inf, {"b": 11.0})])
def test_trunc_normal_fix_for_an_unbounded_tail_works(a, b, fixed):
    w = tc.Value(np.zeros(200))
    (name, value), = fixed.items()
    with pytest.raises(ValueError, match=f"e.g. {name}={value:g}$"):
        nn.init.trunc_normal_(w, a=a, b=b, generator=np.random.default_rng(0))
    bounds = {"a": a, "b": b, **fixed}
    nn.init.trunc_normal_(w, **bounds, generator=np.random.default_rng(0))
    assert bounds["a"] <= w.data.min() and w.data.max() <= bounds["b"]
