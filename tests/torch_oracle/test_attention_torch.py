"""scaled_dot_product_attention and nn.MultiheadAttention against PyTorch's, float64: outputs,
attention weights and the gradients of the inputs and of every parameter (PyTorch's weights
loaded into ours through the state dict: the same names and order), with bool and float masks,
key padding, causal masks, per-head weights, batch_first and one unbatched sequence; the second
derivatives of the attention."""

import numpy as np
import pytest
from test_cnn_ops import compare_with_torch
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops

L, S, N = 4, 5, 3


def attention_cases(rng):
    """(name, keyword arguments of forward) for MultiheadAttention, masks as numpy arrays."""
    padding = np.zeros((N, S), dtype=bool)
    padding[0, -1] = padding[2, [0, 3]] = True
    return [
        ("self", {}), ("per-head-weights", {"average_attn_weights": False}),
        ("no-weights", {"need_weights": False}),
        ("bool-mask", {"attn_mask": np.arange(L * S).reshape(L, S) % 3 == 1}),
        ("float-mask", {"attn_mask": rng.standard_normal((L, S))}),
        ("per-head-mask", {"attn_mask": rng.standard_normal((N * 2, L, S))}),
        ("key-padding", {"key_padding_mask": padding}),
        ("both-masks", {"key_padding_mask": padding,
                        "attn_mask": np.arange(L * S).reshape(L, S) % 4 == 0}),
    ]


def torch_kwargs(torch, kwargs):
    return {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}


def pair(torch, **settings):
    theirs = torch.nn.MultiheadAttention(8, 2, **settings)
    return with_their_weights(nn.MultiheadAttention(8, 2, **settings), theirs), theirs


def compare(torch, rng, ours, theirs, arrays, kwargs):
    values = [tc.Value(a) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, weights = ours(*values, **kwargs)
    their_out, their_weights = theirs(*tensors, **torch_kwargs(torch, kwargs))
    compare_results_and_gradients(
        torch, rng, ours, theirs, values, tensors,
        [out] + ([] if weights is None else [weights]),
        [their_out] + ([] if their_weights is None else [their_weights]))


@pytest.mark.parametrize("case", range(8))
def test_multihead_attention_equals_pytorch(torch, rng, case):
    name, kwargs = attention_cases(rng)[case]
    ours, theirs = pair(torch)
    query = rng.standard_normal((L, N, 8))
    key = query if name == "self" else rng.standard_normal((S, N, 8))
    value = query if name == "self" else rng.standard_normal((S, N, 8))
    compare(torch, rng, ours, theirs, [query, key, value], kwargs)


def test_causal_batch_first_unbiased_and_unbatched_equal_pytorch(torch, rng):
    ours, theirs = pair(torch, batch_first=True, bias=False)
    x = rng.standard_normal((N, L, 8))
    causal = np.triu(np.ones((L, L), dtype=bool), k=1)
    compare(torch, rng, ours, theirs, [x, x, x], {"attn_mask": causal, "is_causal": True})
    ours, theirs = pair(torch)
    one = rng.standard_normal((L, 8))
    compare(torch, rng, ours, theirs, [one, one, one],
            {"key_padding_mask": np.array([False, True, False, False])})


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3},
                                    {"attn_mask": "bool"}, {"attn_mask": "float"}],
                         ids=["plain", "causal", "scale", "bool-mask", "float-mask"])
def test_scaled_dot_product_attention_to_second_order_equals_pytorch(torch, rng, kwargs):
    masks = {"bool": np.arange(L * S).reshape(L, S) % 3 != 1, "float": rng.standard_normal((L, S))}
    kwargs = {k: masks.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    s = L if kwargs.get("is_causal") else S
    arrays = [rng.standard_normal(shape) for shape in [(2, L, 6), (2, s, 6), (2, s, 3)]]
    compare_with_torch(
        torch, lambda q, k, v: ops.scaled_dot_product_attention(q, k, v, **kwargs),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, **torch_kwargs(torch, kwargs)), arrays, rng)
