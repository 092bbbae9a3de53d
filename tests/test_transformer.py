"""The Transformer layers: gradcheck of the encoder and decoder layers through both residual
orders, the stacks' copies, the causal mask, dropout in training only, errors."""

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import nn


@pytest.mark.parametrize("settings", [{}, {"norm_first": True, "activation": "gelu"},
                                      {"batch_first": True, "bias": False}])
def test_encoder_layer_gradcheck(rng, settings):
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, **settings).double()
    x = rng.standard_normal((2, 3, 4) if settings.get("batch_first") else (3, 2, 4))
    mask = np.triu(np.ones((3, 3), dtype=bool), k=1)
    assert tc.gradcheck(lambda x: layer(x, src_mask=mask, is_causal=True), [x])
    one_sequence = x[0] if settings.get("batch_first") else x[:, 0]              # (L, d_model)
    assert layer(x).shape == x.shape and layer(one_sequence).shape == (3, 4)


def test_encoder_copies_the_layer_and_normalises_at_the_end(rng):
    layer = nn.TransformerEncoderLayer(4, 2, 6)
    encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(4)).eval()
    names = [name for name, _ in encoder.named_parameters()]
    assert names[0] == "layers.0.self_attn.in_proj_weight" and names[-1] == "norm.bias"
    assert len(names) == 3 * 12 + 2
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    np.testing.assert_array_equal(first.data, layer.linear1.weight.data)     # copies of it
    assert first is not second and first is not layer.linear1.weight         # each its own
    out = encoder(rng.standard_normal((5, 2, 4)).astype(np.float32))
    np.testing.assert_allclose(out.data.mean(axis=-1), 0.0, atol=1e-6)       # the final norm


def test_dropout_in_training_only(rng):
    tc.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.5)
    x = rng.standard_normal((3, 2, 4)).astype(np.float32)
    evaluated = layer.eval()(x).data
    np.testing.assert_array_equal(layer(x).data, evaluated)
    assert not np.allclose(layer.train()(x).data, evaluated)


def test_errors_name_the_setting():
    with pytest.raises(ValueError, match=r"^TransformerEncoderLayer: activation 'tanh'; expected "
                                         r"'relu', 'gelu' or a function of a Value"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    tanh_layer = nn.TransformerEncoderLayer(4, 2, 6, activation=tc.ops.tanh)    # the fix named
    assert tanh_layer(np.ones((3, 4), dtype=np.float32)).shape == (3, 4)
    with pytest.raises(ValueError, match=r"^TransformerEncoder: num_layers is 0; expected an "
                                         r"integer >= 1"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), 0)
    with pytest.raises(TypeError, match=r"^TransformerEncoder: the layer is a Linear; "
                                        r"expected a TransformerEncoderLayer"):
        nn.TransformerEncoder(nn.Linear(4, 4), 2)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_gradcheck_through_target_and_memory(rng, norm_first):
    layer = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=norm_first).double()
    tgt, memory = rng.standard_normal((3, 2, 4)), rng.standard_normal((5, 2, 4))
    causal = nn.Transformer.generate_square_subsequent_mask(3)
    assert tc.gradcheck(lambda t, m: layer(t, m, tgt_mask=causal), [tgt, memory])


def test_the_causal_mask_keeps_the_decoder_from_looking_ahead(rng):
    mask = nn.Transformer.generate_square_subsequent_mask(3)
    assert mask.dtype == np.float32 and mask.tolist() == [[0, -np.inf, -np.inf], [0, 0, -np.inf],
                                                          [0, 0, 0]]
    model = nn.Transformer(4, 2, 1, 2, 6, dropout=0.0).eval()
    src = rng.standard_normal((5, 1, 4)).astype(np.float32)
    tgt = tc.Value(rng.standard_normal((3, 1, 4)), dtype=np.float32)
    out = model(src, tgt, tgt_mask=mask)
    (out[0] * rng.standard_normal((1, 4))).sum().backward()    # position 0's output (a
    # weighted sum: the plain sum of a LayerNorm's output is constant)
    assert tgt.grad[0].any() and not tgt.grad[1:].any()       # depends on position 0 alone
    names = [name for name, _ in model.named_parameters()]
    assert names[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert names[-2:] == ["decoder.norm.weight", "decoder.norm.bias"]
    assert len(names) == 12 + 2 + 2 * 18 + 2
