"""The Transformer layers against PyTorch's, float64, in evaluation mode, PyTorch's weights
loaded into ours through the state dict (the same names and order): outputs and the gradients of
the inputs and of every parameter; the encoder and decoder layers post- and pre-norm, relu and
gelu, with and without biases, batch_first, causal and key-padding masks; the stacks; the whole
Transformer and its causal mask."""

import numpy as np
import pytest
from test_layers import compare_results_and_gradients, with_their_weights

import tinygrad_cnn as tc
from tinygrad_cnn import nn


def pair(torch, ours, theirs):
    return with_their_weights(ours, theirs).eval(), theirs.eval()


def compare(torch, rng, ours, theirs, *arrays, **kwargs):
    values = [tc.Value(a) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ours(*values, **kwargs)
    their_out = theirs(*tensors, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                    for k, v in kwargs.items()})
    compare_results_and_gradients(torch, rng, ours, theirs, values, tensors, [out],
                                  [their_out])


@pytest.mark.parametrize("settings", [{}, {"norm_first": True}, {"activation": "gelu",
                                                                 "batch_first": True},
                                      {"bias": False}],
                         ids=["post-norm", "pre-norm", "gelu-batch-first", "no-bias"])
@pytest.mark.parametrize("masks", ["none", "causal", "key-padding"])
def test_encoder_layer_equals_pytorch(torch, rng, settings, masks):
    ours, theirs = pair(torch, nn.TransformerEncoderLayer(8, 2, 16, **settings),
                        torch.nn.TransformerEncoderLayer(8, 2, 16, **settings))
    x = rng.standard_normal((2, 5, 8) if settings.get("batch_first") else (5, 2, 8))
    padding = np.zeros((2, 5), dtype=bool)
    padding[1, -2:] = True
    kwargs = {"none": {}, "causal": {"src_mask": np.triu(np.ones((5, 5), dtype=bool), k=1),
                                     "is_causal": True},
              "key-padding": {"src_key_padding_mask": padding}}[masks]
    compare(torch, rng, ours, theirs, x, **kwargs)


def test_encoder_of_two_layers_with_a_final_norm_equals_pytorch(torch, rng):
    ours, theirs = pair(
        torch, nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 2, norm=nn.LayerNorm(8)),
        torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 2,
                                    norm=torch.nn.LayerNorm(8), enable_nested_tensor=False))
    compare(torch, rng, ours, theirs, rng.standard_normal((5, 2, 8)))


@pytest.mark.parametrize("settings", [{}, {"norm_first": True, "activation": "gelu"},
                                      {"batch_first": True, "bias": False}],
                         ids=["post-norm", "pre-norm-gelu", "batch-first-no-bias"])
def test_decoder_layer_equals_pytorch(torch, rng, settings):
    ours, theirs = pair(torch, nn.TransformerDecoderLayer(8, 2, 16, **settings),
                        torch.nn.TransformerDecoderLayer(8, 2, 16, **settings))
    first = settings.get("batch_first")
    tgt = rng.standard_normal((2, 4, 8) if first else (4, 2, 8))
    memory = rng.standard_normal((2, 6, 8) if first else (6, 2, 8))
    padding = np.zeros((2, 6), dtype=bool)
    padding[0, -1] = True
    compare(torch, rng, ours, theirs, tgt, memory,
            tgt_mask=nn.Transformer.generate_square_subsequent_mask(4).astype(np.float64),
            memory_key_padding_mask=padding)


# PyTorch's own note that its nested-tensor fast path needs batch_first: not ours to act on
@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")
def test_transformer_equals_pytorch(torch, rng):
    ours, theirs = pair(torch, nn.Transformer(8, 2, 2, 2, 16),
                        torch.nn.Transformer(8, 2, 2, 2, 16))
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(
        4, dtype=torch.float32).numpy())
    compare(torch, rng, ours, theirs, rng.standard_normal((6, 2, 8)),
            rng.standard_normal((4, 2, 8)), tgt_mask=mask.astype(np.float64))
