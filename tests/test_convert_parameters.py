"""Tests of nn.utils.parameters_to_vector and vector_to_parameters: the vector against numpy's
concatenation (a 0-d parameter, mixed shapes), gradients through it, the round trip, dtypes
kept, and every error; and ops.one_hot against the identity matrix's rows."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.nn.utils import parameters_to_vector, vector_to_parameters


def test_parameters_to_vector_joins_the_flattened_parameters_in_order(rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    scalar = tc.Value(2.5)
    params = [*model.parameters(), scalar]
    vec = parameters_to_vector(params)
    np.testing.assert_array_equal(vec.data, np.concatenate([p.data.ravel() for p in params]))
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2 + 1,)
    weights = rng.standard_normal(vec.shape)
    (vec * weights).sum().backward()                  # d(w . vec)/dp = p's slice of w
    np.testing.assert_array_equal(model[0].weight.grad, weights[:12].reshape(4, 3))
    np.testing.assert_array_equal(model[2].bias.grad, weights[-3:-1])
    assert scalar.grad == weights[-1]


def test_vector_to_parameters_writes_each_slice_back_and_keeps_the_dtype(rng):
    params = [tc.Value(np.zeros((2, 3), np.float32)), tc.Value(np.zeros(())),
              tc.Value(np.zeros(4))]
    vec = rng.standard_normal(11)
    vector_to_parameters(tc.Value(vec), params)
    np.testing.assert_array_equal(params[0].data, vec[:6].reshape(2, 3).astype(np.float32))
    assert params[0].dtype == np.float32 and params[1].data.shape == ()
    np.testing.assert_array_equal(parameters_to_vector(params[1:]).data, vec[6:])
    vec[:] = 0                                         # the parameters hold copies
    assert params[2].data[0] != 0


def test_conversion_errors_name_what_is_wrong_and_their_fix_works():
    params = [tc.Value(np.zeros((2, 3))), tc.Value(np.zeros(2))]
    with pytest.raises(ValueError, match=r"vector_to_parameters: vec has shape \(7,\) but the 2 "
                                         r"parameters have 8 elements together; expected a 1-D "
                                         r"vec of shape \(8,\), as parameters_to_vector gives"):
        vector_to_parameters(np.zeros(7), params)
    with pytest.raises(ValueError, match=r"vec has shape \(2, 4\)"):
        vector_to_parameters(np.zeros((2, 4)), params)
    vector_to_parameters(parameters_to_vector(params) + 1, params)      # the fix
    assert params[1].data.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="vec is a list; expected a 1-D Value or numpy array"):
        vector_to_parameters([0.0] * 8, params)
    with pytest.raises(TypeError, match=r"parameters_to_vector: parameter 1 is a ndarray; "
                                        r"expected a Value, .*wrap an array as tc.Value\(a\)"):
        parameters_to_vector([params[0], np.zeros(2)])
    parameters_to_vector([params[0], tc.Value(np.zeros(2))])
    with pytest.raises(ValueError, match="parameters_to_vector: no parameters; expected at "
                                         "least one Value"):
        parameters_to_vector(nn.ReLU().parameters())


@pytest.mark.parametrize("shape, num_classes", [((5,), 4), ((2, 3), -1), ((), 3), ((0,), 2)])
def test_one_hot_picks_rows_of_the_identity(rng, shape, num_classes):
    ids = rng.integers(0, 3, shape)
    out = ops.one_hot(ids, num_classes)
    n = int(ids.max()) + 1 if num_classes == -1 else num_classes
    assert out.dtype == np.int64 and out.shape == (*shape, n)
    np.testing.assert_array_equal(out, np.eye(n, dtype=np.int64)[ids])
    np.testing.assert_array_equal(ops.one_hot(tc.Value(ids), num_classes), out)
    np.testing.assert_array_equal(out.argmax(-1) if ids.size else ids, ids)


def test_one_hot_errors_say_what_to_pass():
    with pytest.raises(ValueError, match=r"one_hot: ids hold 3 but num_classes=3; expected ids "
                                         r"in \[0, 3\); pass num_classes=4 or more, or -1"):
        ops.one_hot(np.array([0, 3]), 3)
    assert ops.one_hot(np.array([0, 3]), 4).shape == (2, 4)
    with pytest.raises(ValueError, match="one_hot: ids hold -1; expected class ids >= 0"):
        ops.one_hot(np.array([-1, 2]))
    with pytest.raises(TypeError, match=r"one_hot: ids has dtype float64; expected integer class "
                                        r"ids; convert them with ids.data.astype\(np.int64\)"):
        ops.one_hot(tc.Value([1.0, 2.0]))
    assert ops.one_hot(tc.Value([1.0, 2.0]).data.astype(np.int64)).shape == (2, 3)
    with pytest.raises(ValueError, match=r"ids of shape \(0,\) are empty, so num_classes=-1"):
        ops.one_hot(np.array([], dtype=np.int64))
    with pytest.raises(TypeError, match="num_classes 2.0 is a float; expected an int"):
        ops.one_hot(np.array([1]), 2.0)
    with pytest.raises(ValueError, match="num_classes=-2; expected -1"):
        ops.one_hot(np.array([1]), -2)
