"""nn.utils.parameters_to_vector and vector_to_parameters against torch.nn.utils' on a model
of the same parameters (the vector, its gradient into each parameter, the parameters written
back), and ops.one_hot against torch.nn.functional.one_hot."""

import numpy as np

from tinygrad_cnn import nn, ops
from tinygrad_cnn.nn.utils import parameters_to_vector, vector_to_parameters


def test_vectors_equal_torchs(torch, rng):
    ours = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(),
                                 torch.nn.Linear(12, 2)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    vec = parameters_to_vector(ours.parameters())
    their_vec = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vec.data, their_vec.detach().numpy())
    weights = rng.standard_normal(vec.shape)
    (vec * weights).sum().backward()
    (their_vec * torch.from_numpy(weights)).sum().backward()
    for p, t in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, t.grad.numpy())
    new = rng.standard_normal(vec.shape)
    vector_to_parameters(new, ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), theirs.parameters())
    for p, t in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, t.detach().numpy())


def test_one_hot_equals_torchs(torch, rng):
    ids = rng.integers(0, 5, (3, 4))
    for n in (-1, 5, 7):
        np.testing.assert_array_equal(
            ops.one_hot(ids, n),
            torch.nn.functional.one_hot(torch.from_numpy(ids), n).numpy())
