"""Parameters as one flat vector and back, as `torch.nn.utils`: `parameters_to_vector` joins
them (a Value in the graph, so a loss of the vector differentiates back to each parameter), and
`vector_to_parameters` writes a vector's slices into them. Together they let a user treat a
model as a point in R^n: line searches, evolution strategies, or a Hessian of the loss in all
the weights.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_cnn.ops.indexing import cat
from tinygrad_cnn.ops.shape import reshape
from tinygrad_cnn.value import Value

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Value | Iterable[Value]) -> Value:
    """The parameters flattened and joined in order into one 1-D Value: cat of each p.reshape(-1).
    Its gradient goes back to every parameter, as PyTorch's (which is torch.cat of views)."""
    params = _checked_parameters("parameters_to_vector", parameters)
    return cat([reshape(p, -1) for p in params])


def vector_to_parameters(vec, parameters: Value | Iterable[Value]) -> None:
    """Write vec's consecutive slices into the parameters' data, in order, each reshaped to its
    parameter's shape and converted to its dtype (PyTorch's would take vec's dtype). vec is a 1-D
    Value or array with exactly as many elements as the parameters together; nothing is written
    unless it has. No gradient is recorded, as for any change of .data."""
    caller = "vector_to_parameters"
    data = vec.data if isinstance(vec, Value) else vec
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{caller}: vec is a {type(vec).__name__}; expected a 1-D Value or numpy "
                        f"array, e.g. parameters_to_vector(model.parameters())")
    params = _checked_parameters(caller, parameters)
    sizes = [p.size for p in params]
    if data.ndim != 1 or data.size != sum(sizes):
        raise ValueError(f"{caller}: vec has shape {data.shape} but the {len(params)} parameters "
                         f"have {sum(sizes)} elements together; expected a 1-D vec of shape "
                         f"({sum(sizes)},), as parameters_to_vector gives")
    offsets = np.cumsum([0, *sizes])
    for param, start, stop in zip(params, offsets[:-1], offsets[1:], strict=True):
        param.data = data[start:stop].reshape(param.shape).astype(param.dtype)   # a copy


def _checked_parameters(caller: str, parameters) -> list[Value]:
    """parameters as a non-empty list of Values."""
    params = parameter_list(caller, parameters)
    if not params:
        raise ValueError(f"{caller}: no parameters; expected at least one Value (a model with "
                         f"no parameters has nothing to convert)")
    return params


def parameter_list(caller: str, parameters) -> list[Value]:
    """parameters (a Value or an iterable of Values, e.g. model.parameters()) as a list, or a
    TypeError naming `caller` and the first thing that is not a Value."""
    if isinstance(parameters, Value):
        return [parameters]
    if not isinstance(parameters, Iterable) or isinstance(parameters, (str, np.ndarray)):
        raise TypeError(f"{caller}: parameters is a {type(parameters).__name__}; expected a Value "
                        f"or an iterable of Values, e.g. model.parameters()")
    params = list(parameters)
    for i, param in enumerate(params):
        if not isinstance(param, Value):
            raise TypeError(f"{caller}: parameter {i} is a {type(param).__name__}; expected a "
                            f"Value, e.g. from model.parameters(); wrap an array as tc.Value(a)")
    return params
