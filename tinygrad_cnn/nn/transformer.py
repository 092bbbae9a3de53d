"""TransformerEncoderLayer and TransformerEncoder, as PyTorch's: self-attention and a
feed-forward block, each with a residual connection and layer normalisation, made of the layers
MultiheadAttention, Linear, Dropout and LayerNorm (the same submodule names, so state dicts move
between the two)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.attention import MultiheadAttention
from tinygrad_cnn.nn.layers import Dropout, LayerNorm, Linear, _check_positive_int
from tinygrad_cnn.nn.module import Module, ModuleList
from tinygrad_cnn.value import Value

ACTIVATIONS = {"relu": ops.relu, "gelu": ops.gelu}


class TransformerEncoderLayer(Module):
    """One encoder layer of "Attention Is All You Need", as torch.nn.TransformerEncoderLayer:

        x = norm1(x + dropout1(self_attn(x, x, x)))     x = norm2(x + dropout2(ff(x)))

    with ff(x) = linear2(dropout(activation(linear1(x)))), or with norm_first=True
    x = x + dropout1(self_attn(norm1(x))), x = x + dropout2(ff(norm2(x))). x is (L, N, d_model),
    (N, L, d_model) with batch_first, or one sequence (L, d_model). activation is "relu",
    "gelu" or a function of a Value.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Value], Value] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *,
                 rng: np.random.Generator | None = None):
        if isinstance(activation, str) and activation not in ACTIVATIONS:
            raise ValueError(f"TransformerEncoderLayer: activation {activation!r}; expected "
                             f"'relu', 'gelu' or a function of a Value")
        if not isinstance(activation, str) and not callable(activation):
            raise TypeError(f"TransformerEncoderLayer: activation is a "
                            f"{type(activation).__name__}; expected 'relu', 'gelu' or a "
                            f"function of a Value")
        _check_positive_int("TransformerEncoderLayer", "dim_feedforward", dim_feedforward)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = ACTIVATIONS[activation] if isinstance(activation, str) else activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        """src_mask (L, L) and src_key_padding_mask (N, L) as MultiheadAttention's attn_mask
        and key_padding_mask (bools: True where attending is not allowed)."""
        x = src

        def attend(x):
            out, _ = self.self_attn(x, x, x, attn_mask=src_mask,
                                    key_padding_mask=src_key_padding_mask, need_weights=False,
                                    is_causal=is_causal)
            return self.dropout1(out)

        def feed_forward(x):
            hidden = self.dropout(self.activation(self.linear1(x)))
            return self.dropout2(self.linear2(hidden))

        if self.norm_first:
            x = x + attend(self.norm1(x))
            return x + feed_forward(self.norm2(x))
        x = self.norm1(x + attend(x))
        return self.norm2(x + feed_forward(x))


class TransformerEncoder(Module):
    """num_layers copies of encoder_layer (each with parameters of its own, copied from it, as
    PyTorch's deep copies), applied in turn, then `norm` when given."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None):
        if not isinstance(encoder_layer, TransformerEncoderLayer):
            raise TypeError(f"TransformerEncoder: encoder_layer is a "
                            f"{type(encoder_layer).__name__}; expected a "
                            f"TransformerEncoderLayer")
        _check_positive_int("TransformerEncoder", "num_layers", num_layers)
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, is_causal)
        return x if self.norm is None else self.norm(x)
