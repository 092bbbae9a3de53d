"""scaled_dot_product_attention and nn.MultiheadAttention against PyTorch's, float64: outputs,
attention weights and the gradients of the inputs and of every parameter (PyTorch's weights
loaded into ours through the state dict: the same names and order), with bool and float masks,
key padding, causal masks, per-head weights, batch_first and one unbatched sequence, for the
default layer and with kdim and vdim, add_bias_kv and add_zero_attn (whose state dicts move both
ways strictly); the second derivatives of the attention."""

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


SETTINGS = {"kdim-vdim": {"kdim": 6, "vdim": 3}, "bias-kv": {"add_bias_kv": True},
            "zero-attn": {"add_zero_attn": True},
            "all": {"kdim": 6, "vdim": 3, "add_bias_kv": True, "add_zero_attn": True}}


@pytest.mark.parametrize("case", range(8))
@pytest.mark.parametrize("setting", SETTINGS)
def test_kdim_vdim_bias_kv_and_zero_attn_equal_pytorch(torch, rng, setting, case):
    settings = SETTINGS[setting]
    name, kwargs = attention_cases(rng)[case]
    ours, theirs = pair(torch, **settings)
    query = rng.standard_normal((L, N, 8))
    key = rng.standard_normal((S, N, settings.get("kdim", 8)))
    value = rng.standard_normal((S, N, settings.get("vdim", 8)))
    compare(torch, rng, ours, theirs, [query, key, value], kwargs)


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_settings_batch_first_unbatched_and_unbiased_equal_pytorch(torch, rng, setting):
    settings = SETTINGS[setting]
    kdim, vdim = settings.get("kdim", 8), settings.get("vdim", 8)
    ours, theirs = pair(torch, batch_first=True, **settings)
    arrays = [rng.standard_normal((N, length, e)) for length, e in ((L, 8), (S, kdim), (S, vdim))]
    padding = np.zeros((N, S))                          # floats, as the attn_mask
    padding[1, 1:] = -np.inf                            # all but one key of a sequence left out
    compare(torch, rng, ours, theirs, arrays,
            {"key_padding_mask": padding, "attn_mask": rng.standard_normal((L, S)),
             "average_attn_weights": False})
    ours, theirs = pair(torch, bias=False, **settings)
    arrays = [rng.standard_normal((length, e)) for length, e in ((L, 8), (S, kdim), (S, vdim))]
    compare(torch, rng, ours, theirs, arrays,
            {"key_padding_mask": np.array([True, False, True, False, False])})
    ours, theirs = pair(torch, **settings)
    compare(torch, rng, ours, theirs, arrays, {"need_weights": False})


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("setting", SETTINGS)
def test_the_settings_under_the_is_causal_hint_equal_pytorch(torch, rng, setting, need_weights):
    """With keys added, is_causal=True, need_weights=False and no key padding, PyTorch masks
    the scores (L, S') causally instead of padding attn_mask: the first S queries lose the keys
    added; with need_weights=True, or key padding, the padded attn_mask counts."""
    settings = SETTINGS[setting]
    ours, theirs = pair(torch, **settings)
    arrays = [rng.standard_normal((length, N, e)) for length, e in
              ((L, 8), (S, settings.get("kdim", 8)), (S, settings.get("vdim", 8)))]
    causal = np.triu(np.ones((L, S), dtype=bool), k=1)
    compare(torch, rng, ours, theirs, arrays,
            {"attn_mask": causal, "is_causal": True, "need_weights": need_weights})
    padding = np.zeros((N, S), dtype=bool)
    padding[:, -1] = True
    compare(torch, rng, ours, theirs, arrays, {"attn_mask": causal, "is_causal": True,
                                               "key_padding_mask": padding,
                                               "need_weights": need_weights})


@pytest.mark.parametrize("setting", SETTINGS)
def test_state_dicts_move_both_ways_strictly(torch, setting):
    theirs = torch.nn.MultiheadAttention(8, 2, dtype=torch.float32, **SETTINGS[setting])
    ours = nn.MultiheadAttention(8, 2, **SETTINGS[setting])
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()},
                           strict=True)
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours.state_dict()[k])
    theirs = torch.nn.MultiheadAttention(8, 2, dtype=torch.float32, **SETTINGS[setting])
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()}, strict=True)
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k], v.numpy())
    assert (ours.in_proj_weight is None) == (theirs.in_proj_weight is None)
    assert (ours.kdim, ours.vdim, ours.add_zero_attn) == \
        (theirs.kdim, theirs.vdim, theirs.add_zero_attn)


def blocking(mask: np.ndarray) -> np.ndarray:
    """mask with query 1 kept off every key: False (bools) or -inf (floats) across its row."""
    mask = mask.copy()
    mask[1] = False if mask.dtype == bool else -np.inf
    return mask


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3},
                                    {"attn_mask": "bool"}, {"attn_mask": "float"},
                                    {"attn_mask": "bool-blocking"},
                                    {"attn_mask": "float-blocking"}],
                         ids=["plain", "causal", "scale", "bool-mask", "float-mask",
                              "bool-mask-blocking-a-query", "float-mask-blocking-a-query"])
def test_scaled_dot_product_attention_to_second_order_equals_pytorch(torch, rng, kwargs):
    masks = {"bool": np.arange(L * S).reshape(L, S) % 3 != 1, "float": rng.standard_normal((L, S))}
    masks |= {f"{name}-blocking": blocking(mask) for name, mask in masks.items()}
    kwargs = {k: masks.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    s = L if kwargs.get("is_causal") else S
    arrays = [rng.standard_normal(shape) for shape in [(2, L, 6), (2, s, 6), (2, s, 3)]]
    compare_with_torch(
        torch, lambda q, k, v: ops.scaled_dot_product_attention(q, k, v, **kwargs),
        lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(
            q, k, v, **torch_kwargs(torch, kwargs)), arrays, rng)


@pytest.mark.parametrize("attn_mask", [None, "bool"])
def test_a_query_kept_off_every_key_equals_pytorchs_without_weights(torch, rng, attn_mask):
    # PyTorch gives that query the output out_proj.bias with need_weights=False (through its
    # scaled_dot_product_attention), NaN with need_weights=True; ours gives the former always
    ours, theirs = pair(torch)
    padding = np.zeros((N, S), dtype=bool)
    padding[1] = True                                   # sequence 1: every key left out
    kwargs = {"key_padding_mask": padding, "need_weights": False}
    if attn_mask == "bool":
        kwargs["attn_mask"] = np.arange(L * S).reshape(L, S) % 3 == 1
    arrays = [rng.standard_normal((L, N, 8)), rng.standard_normal((S, N, 8)),
              rng.standard_normal((S, N, 8))]
    compare(torch, rng, ours, theirs, arrays, kwargs)
    out, weights = ours(*[tc.Value(a) for a in arrays], key_padding_mask=padding)
    np.testing.assert_allclose(out.data[:, 1], np.broadcast_to(ours.out_proj.bias.data, (L, 8)))
    np.testing.assert_array_equal(weights.data[1], np.zeros((L, S)))
