"""scaled_dot_product_attention and nn.MultiheadAttention: by hand, gradcheck and second
derivatives with and without masks, shapes in every layout, the parameters' names and initial
values, dropout in training only, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops


def test_equal_scores_average_the_values_and_a_mask_leaves_keys_out():
    q, k = np.zeros((1, 2, 3)), np.ones((1, 4, 3))       # every score equal
    v = np.arange(8.0).reshape(1, 4, 2)
    np.testing.assert_allclose(ops.scaled_dot_product_attention(q, k, v).data[0],
                               [[3.0, 4.0], [3.0, 4.0]])                  # the mean of v's rows
    allowed = np.array([[True, True, False, False], [False, False, False, True]])
    out = ops.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    np.testing.assert_allclose(out.data[0], [[1.0, 2.0], [6.0, 7.0]])   # rows 0-1; row 3 alone


def test_causal_attention_sees_no_later_key():
    v = tc.Value(np.arange(3.0).reshape(3, 1))
    q = k = np.zeros((3, 1))
    out = ops.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out.data[:, 0], [0.0, 0.5, 1.0])          # means of v[:t + 1]
    out.backward(np.array([[1.0], [0.0], [0.0]]))
    np.testing.assert_allclose(v.grad[:, 0], [1.0, 0.0, 0.0])            # query 0: key 0 only


@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
def test_attention_gradcheck_and_second_derivatives(rng, mask):
    q, k, v = (rng.standard_normal(s) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 2)])
    if mask == "causal":
        k, v = k[:, :3], v[:, :3]
    masks = {None: {}, "bool": {"attn_mask": np.arange(15).reshape(3, 5) % 4 != 1},
             "float": {"attn_mask": rng.standard_normal((3, 5))}, "causal": {"is_causal": True}}

    def attend(q, k, v):
        return ops.scaled_dot_product_attention(q, k, v, **masks[mask])
    assert tc.gradcheck(attend, [q, k, v])
    assert tc.gradgradcheck(attend, [q, k, v])



@pytest.mark.parametrize("batch_first", [False, True])
def test_multihead_attention_gradcheck_shapes_and_weights(rng, batch_first):
    mha = nn.MultiheadAttention(4, 2, batch_first=batch_first).double()
    q_shape, kv_shape = ((2, 3, 4), (2, 5, 4)) if batch_first else ((3, 2, 4), (5, 2, 4))
    query, key = rng.standard_normal(q_shape), rng.standard_normal(kv_shape)
    out, weights = mha(query, key, key)
    assert out.shape == q_shape and weights.shape == (2, 3, 5)
    np.testing.assert_allclose(weights.data.sum(axis=-1), 1.0)           # each query's weights
    assert mha(query, key, key, average_attn_weights=False)[1].shape == (2, 2, 3, 5)
    assert mha(query, key, key, need_weights=False)[1] is None
    padding = np.array([[False, False, False, True, True], [False] * 5])
    assert tc.gradcheck(lambda q, k: mha(q, k, k, key_padding_mask=padding)[0], [query, key])
    assert tc.gradcheck(lambda q: mha(q, q, q)[1], [query])
    assert tc.gradgradcheck(lambda q: mha(q, q, q)[0], [query])


def test_parameters_names_and_initial_values():
    mha = nn.MultiheadAttention(6, 3)
    assert [name for name, _ in mha.named_parameters()] == \
        ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    bound = np.sqrt(6 / (6 + 18))                                        # xavier_uniform_
    assert np.abs(mha.in_proj_weight.data).max() <= bound
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any()
    assert [name for name, _ in nn.MultiheadAttention(6, 3, bias=False).named_parameters()] == \
        ["in_proj_weight", "out_proj.weight"]


def test_dropout_of_attention_weights_in_training_only(rng):
    tc.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = rng.standard_normal((3, 2, 4)).astype(np.float32)
    mha.eval()
    np.testing.assert_array_equal(mha(x, x, x)[0].data, mha(x, x, x)[0].data)
    mha.train()
    assert not np.allclose(mha(x, x, x)[0].data, mha.eval()(x, x, x)[0].data)


def test_a_float64_mask_keeps_a_float32_model_float32(rng):
    mha = nn.MultiheadAttention(4, 2)
    x = rng.standard_normal((3, 2, 4)).astype(np.float32)
    causal = np.triu(np.full((3, 3), -np.inf), k=1)                 # float64, as numpy makes it
    out, weights = mha(x, x, x, attn_mask=causal)
    assert out.dtype == weights.dtype == np.float32
    assert not np.triu(weights.data[0], k=1).any()                   # no later key


def test_one_sequence_unbatched(rng):
    mha = nn.MultiheadAttention(4, 2)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out, weights = mha(x, x, x, key_padding_mask=np.array([False, False, True]))
    assert out.shape == (3, 4) and weights.shape == (3, 3)
    assert not weights.data[:, 2].any()                                  # the padded key


def test_errors_say_what_was_expected(rng):
    mha = nn.MultiheadAttention(4, 2)
    x = np.ones((3, 2, 4))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: embed_dim 5 is not divisible "
                                         r"by num_heads 2"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(ValueError, match=r"^MultiheadAttention: key has shape \(5, 2, 3\) "
                                         r"\(query \(3, 2, 4\), key \(5, 2, 3\), value "
                                         r"\(5, 2, 3\)\); expected \(S, N, kdim\) "
                                         r"\(batch_first=False\), with kdim = 4; build the "
                                         r"layer with kdim=3 for such keys"):
        mha(x, np.ones((5, 2, 3)), np.ones((5, 2, 3)))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: query \(3, 2, 4\), key "
                                         r"\(5, 3, 4\) and value \(5, 3, 4\); expected key "
                                         r"and value of one length S, with the query's batch "
                                         r"size"):
        mha(x, np.ones((5, 3, 4)), np.ones((5, 3, 4)))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: attn_mask has shape \(3, 4\); "
                                         r"expected \(3, 3\) \(L, S\) or \(4, 3, 3\)"):
        mha(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: key_padding_mask has shape "
                                         r"\(3, 2\); expected \(2, 3\) \(N, S\)"):
        mha(x, x, x, key_padding_mask=np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: is_causal=True without "
                                         r"attn_mask"):
        mha(x, x, x, is_causal=True)
    causal = np.triu(np.ones((3, 3), dtype=bool), k=1)                   # the fix named
    assert mha(x, x, x, attn_mask=causal, is_causal=True)[0].shape == (3, 2, 4)
    with pytest.raises(ValueError, match=r"^scaled_dot_product_attention: q \(2, 3\), k "
                                         r"\(4, 2\) and v \(4, 5\); expected q \(..., L, E\)"):
        ops.scaled_dot_product_attention(np.ones((2, 3)), np.ones((4, 2)), np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"is_causal=True and an attn_mask were both given"):
        ops.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 2), bool), is_causal=True)
    with pytest.raises(TypeError, match=r"a mask of dtype int64; expected bools \(True where a "
                                        r"query may attend\) or floats"):
        ops.scaled_dot_product_attention(x, x, x, attn_mask=np.ones((2, 2), dtype=np.int64))
