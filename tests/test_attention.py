"""scaled_dot_product_attention and nn.MultiheadAttention: by hand, gradcheck and second
derivatives with and without masks, shapes in every layout, kdim and vdim, add_bias_kv and
add_zero_attn (inputs' and parameters' gradients), the parameters' names and initial values,
dropout in training only, errors."""

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



def test_a_query_that_may_attend_to_no_key_gets_0_and_no_gradient(rng):
    q, k, v = (tc.Value(rng.standard_normal(s)) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 2)])
    allowed = np.ones((2, 3, 5), dtype=bool)
    allowed[0, 1] = False                                   # batch 0, query 1: no key
    out = ops.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    np.testing.assert_array_equal(out.data[0, 1], [0.0, 0.0])
    rest = ops.scaled_dot_product_attention(q.data[1:], k.data[1:], v.data[1:])
    np.testing.assert_allclose(out.data[1], rest.data[0], rtol=1e-14)    # others unchanged
    out.backward(rng.standard_normal(out.shape))
    assert all(np.isfinite(x.grad).all() for x in (q, k, v))
    np.testing.assert_array_equal(q.grad[0, 1], np.zeros(4))
    blocked = np.where(allowed, 0.0, -np.inf)[:1, :2]           # the same, by a float mask
    assert tc.gradcheck(lambda q, k, v: ops.scaled_dot_product_attention(q, k, v, blocked),
                        [q.data[:1, :2], k.data[:1], v.data[:1]])
    assert tc.gradgradcheck(lambda q, k, v: ops.scaled_dot_product_attention(q, k, v, blocked),
                            [q.data[:1, :2], k.data[:1], v.data[:1]])


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


SETTINGS = {"kdim-vdim": {"kdim": 3, "vdim": 5}, "bias-kv": {"add_bias_kv": True},
            "zero-attn": {"add_zero_attn": True},
            "all": {"kdim": 3, "vdim": 5, "add_bias_kv": True, "add_zero_attn": True}}


def with_parameters(mha, names, run):
    """run(q, k, v) as a function of q, k, v and the parameters `names` of mha, so that
    tc.gradcheck checks their gradients too."""
    def fn(q, k, v, *params):
        for name, param in zip(names, params, strict=True):
            setattr(mha, name, param)
        return run(q, k, v)
    return fn, [getattr(mha, name).data for name in names]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("setting", SETTINGS)
def test_kdim_vdim_bias_kv_and_zero_attn_gradcheck(rng, setting, batch_first):
    settings = SETTINGS[setting]
    mha = nn.MultiheadAttention(4, 2, batch_first=batch_first, **settings).double()
    kdim, vdim = settings.get("kdim", 4), settings.get("vdim", 4)
    mha.in_proj_bias.data[...] = rng.standard_normal(12)        # not 0, so its gradient shows
    layout = (lambda n, length, e: (n, length, e)) if batch_first else \
        (lambda n, length, e: (length, n, e))
    query, key, value = (rng.standard_normal(layout(2, length, e))
                         for length, e in ((3, 4), (5, kdim), (5, vdim)))
    extra = settings.get("add_bias_kv", False) + settings.get("add_zero_attn", False)
    out, weights = mha(query, key, value)
    assert out.shape == query.shape and weights.shape == (2, 3, 5 + extra)
    np.testing.assert_allclose(weights.data.sum(axis=-1), 1.0)
    names = [name for name, _ in mha.named_parameters()
             if name in ("k_proj_weight", "v_proj_weight", "bias_k", "bias_v", "in_proj_bias")]
    masks = {"attn_mask": np.arange(15).reshape(3, 5) % 4 == 1,
             "key_padding_mask": np.array([[False] * 3 + [True] * 2, [True] + [False] * 4])}
    fn, params = with_parameters(mha, names, lambda q, k, v: mha(q, k, v, **masks)[0])
    assert tc.gradcheck(fn, [query, key, value, *params])
    fn, params = with_parameters(
        mha, names, lambda q, k, v: mha(q, k, v, average_attn_weights=False)[1])
    assert tc.gradcheck(fn, [query, key, value, *params])


def test_unbatched_with_float_mask_gradcheck(rng):
    mha = nn.MultiheadAttention(4, 2, **SETTINGS["all"]).double()
    query, key, value = (rng.standard_normal(s) for s in ((3, 4), (5, 3), (5, 5)))
    attn_mask = rng.standard_normal((3, 5))
    out, weights = mha(query, key, value, attn_mask=attn_mask)
    assert out.shape == (3, 4) and weights.shape == (3, 7)
    assert tc.gradcheck(lambda q, k, v, m: mha(q, k, v, attn_mask=m)[0],
                        [query, key, value, attn_mask])                     # the mask's too


def test_the_keys_appended_by_hand(rng):
    """With every real key left out, a query attends only to what the settings append: bias_k
    and bias_v (not projected) or the zero key and value, so the output is out_proj of bias_v,
    or of zeros, the bias; with both, the scores bias_k . q / sqrt(d) and 0 share the weight."""
    x = rng.standard_normal((3, 2, 4))
    everything = np.ones((2, 3), dtype=bool)
    mha = nn.MultiheadAttention(4, 2, add_zero_attn=True).double()
    mha.out_proj.bias.data[...] = [1.0, 2.0, 3.0, 4.0]
    out, weights = mha(x, x, x, key_padding_mask=everything)
    np.testing.assert_allclose(out.data, np.broadcast_to([1.0, 2.0, 3.0, 4.0], (3, 2, 4)))
    np.testing.assert_array_equal(weights.data[..., -1], 1.0)
    mha = nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    expected = mha.bias_v.data[0, 0] @ mha.out_proj.weight.data.T + mha.out_proj.bias.data
    out, weights = mha(x, x, x, key_padding_mask=everything)
    np.testing.assert_allclose(out.data, np.broadcast_to(expected, (3, 2, 4)))
    assert weights.shape == (2, 3, 4)
    mha = nn.MultiheadAttention(4, 1, add_bias_kv=True, add_zero_attn=True).double()
    mha.in_proj_weight.data[...] = np.tile(np.eye(4), (3, 1))          # q = x, k = x, v = x
    out, weights = mha(x, x, x, key_padding_mask=everything)
    score = x @ mha.bias_k.data[0, 0] / 2.0                           # scale 1 / sqrt(4)
    np.testing.assert_allclose(weights.data[..., -2], 1 / (1 + np.exp(-score)).T)
    np.testing.assert_allclose(weights.data[..., -1], 1 / (1 + np.exp(score)).T)


def test_parameters_names_and_initial_values():
    mha = nn.MultiheadAttention(6, 3)
    assert [name for name, _ in mha.named_parameters()] == \
        ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    bound = np.sqrt(6 / (6 + 18))                                        # xavier_uniform_
    assert np.abs(mha.in_proj_weight.data).max() <= bound
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any()
    assert [name for name, _ in nn.MultiheadAttention(6, 3, bias=False).named_parameters()] == \
        ["in_proj_weight", "out_proj.weight"]


def test_separate_projections_and_bias_kv_names_shapes_and_initial_values():
    mha = nn.MultiheadAttention(64, 4, kdim=32, vdim=16, add_bias_kv=True)
    assert [(name, p.shape) for name, p in mha.named_parameters()] == [
        ("q_proj_weight", (64, 64)), ("k_proj_weight", (64, 32)), ("v_proj_weight", (64, 16)),
        ("in_proj_bias", (192,)), ("bias_k", (1, 1, 64)), ("bias_v", (1, 1, 64)),
        ("out_proj.weight", (64, 64)), ("out_proj.bias", (64,))]
    assert mha.in_proj_weight is None and (mha.kdim, mha.vdim) == (32, 16)
    for name, fan_in in (("q_proj_weight", 64), ("k_proj_weight", 32), ("v_proj_weight", 16)):
        data, bound = getattr(mha, name).data, np.sqrt(6 / (64 + fan_in))    # xavier_uniform_
        assert data.dtype == np.float32 and bound * 0.95 < np.abs(data).max() <= bound
    for name in ("bias_k", "bias_v"):                 # xavier_normal_: std sqrt(2 / (64 + 64))
        assert 0.7 * np.sqrt(1 / 64) < getattr(mha, name).data.std() < 1.3 * np.sqrt(1 / 64)
    mha = nn.MultiheadAttention(6, 3)                 # PyTorch's None attributes, not parameters
    assert mha.q_proj_weight is mha.k_proj_weight is mha.v_proj_weight is mha.bias_k is None
    assert [name for name, _ in nn.MultiheadAttention(6, 3, kdim=2, bias=False,
                                                      add_zero_attn=True).named_parameters()] \
        == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]


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
    with pytest.raises(ValueError, match=r"^MultiheadAttention: kdim is 0; expected a positive "
                                         r"int \(the number of features of each key\) or None "
                                         r"\(embed_dim, 4\)"):
        nn.MultiheadAttention(4, 2, kdim=0)
    with pytest.raises(TypeError, match=r"^MultiheadAttention: vdim is float 2.5; expected a "
                                        r"positive int \(the number of features of each value\)"):
        nn.MultiheadAttention(4, 2, vdim=2.5)
    with pytest.raises(TypeError, match=r"^MultiheadAttention: kdim is bool True; expected"):
        nn.MultiheadAttention(4, 2, kdim=True)
    separate = nn.MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True)
    with pytest.raises(ValueError, match=r"^MultiheadAttention: value has shape \(2, 6, 4\) "
                                         r"\(query \(2, 3, 4\), key \(2, 6, 3\), value "
                                         r"\(2, 6, 4\)\); expected \(N, S, vdim\) "
                                         r"\(batch_first=True\), with vdim = 5; build the layer "
                                         r"with vdim=4 for such values"):
        separate(np.ones((2, 3, 4)), np.ones((2, 6, 3)), np.ones((2, 6, 4)))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: key has shape \(6, 4\) "
                                         r"\(query \(3, 4\), key \(6, 4\), value \(6, 5\)\); "
                                         r"expected \(S, kdim\) \(unbatched\), with kdim = 3"):
        separate(np.ones((3, 4)), np.ones((6, 4)), np.ones((6, 5)))
    with pytest.raises(ValueError, match=r"^MultiheadAttention: query \(2, 3, 4\), key "
                                         r"\(2, 6, 3\) and value \(2, 7, 5\); expected key and "
                                         r"value of one length S"):
        separate(np.ones((2, 3, 4)), np.ones((2, 6, 3)), np.ones((2, 7, 5)))
    assert separate(np.ones((2, 3, 4)), np.ones((2, 6, 3)), np.ones((2, 6, 5)))[0].shape == \
        (2, 3, 4)                                                        # the shapes expected
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
