"""The Transformer of "Attention Is All You Need", as PyTorch's: TransformerEncoderLayer,
TransformerDecoderLayer, the stacks TransformerEncoder and TransformerDecoder, and Transformer,
made of the layers MultiheadAttention, Linear, Dropout and LayerNorm (the same submodule
names, so state dicts move between the two). Each block adds its result to its input (a
residual connection) and normalises, before (norm_first) or after."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.attention import MultiheadAttention
from tinygrad_cnn.nn.init import xavier_uniform_
from tinygrad_cnn.nn.layers import Dropout, LayerNorm, Linear, _check_positive_int
from tinygrad_cnn.nn.module import Module, ModuleList
from tinygrad_cnn.value import Value

ACTIVATIONS = {"relu": ops.relu, "gelu": ops.gelu}


def _activation(owner: str, activation) -> Callable[[Value], Value]:
    """The feed-forward block's activation: "relu", "gelu" or a function of a Value."""
    if isinstance(activation, str) and activation not in ACTIVATIONS:
        raise ValueError(f"{owner}: activation {activation!r}; expected 'relu', 'gelu' or a "
                         f"function of a Value")
    if not isinstance(activation, str) and not callable(activation):
        raise TypeError(f"{owner}: activation is a {type(activation).__name__}; expected "
                        f"'relu', 'gelu' or a function of a Value")
    return ACTIVATIONS[activation] if isinstance(activation, str) else activation


def _attend(attention: MultiheadAttention, dropout: Dropout, x, memory, mask, padding,
            is_causal: bool):
    """dropout(attention of the queries x to the keys and values `memory`)."""
    out, _ = attention(x, memory, memory, attn_mask=mask, key_padding_mask=padding,
                       need_weights=False, is_causal=is_causal)
    return dropout(out)


class _Layer(Module):
    """What the encoder and decoder layers share: their settings, PyTorch's submodules in
    PyTorch's order (self_attn, for a decoder multihead_attn, linear1, dropout, linear2,
    norm1.., dropout1..: one norm and one dropout per block), and the feed-forward block. A
    subclass sets `blocks`, 2 (self-attention, feed-forward) or 3 (and attention to memory)."""

    blocks: int

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Value], Value] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *,
                 rng: np.random.Generator | None = None):
        name = type(self).__name__
        activation = _activation(name, activation)
        _check_positive_int(name, "dim_feedforward", dim_feedforward)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, rng=rng)
        if self.blocks == 3:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=rng)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=rng)
        self.norm_first = bool(norm_first)
        for block in range(1, self.blocks + 1):
            setattr(self, f"norm{block}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        for block in range(1, self.blocks + 1):
            setattr(self, f"dropout{block}", Dropout(dropout))
        self.activation = activation

    def feed_forward(self, x):
        """The last block: linear2(dropout(activation(linear1(x)))), then its own dropout."""
        hidden = self.dropout(self.activation(self.linear1(x)))
        return getattr(self, f"dropout{self.blocks}")(self.linear2(hidden))


class TransformerEncoderLayer(_Layer):
    """One encoder layer, as torch.nn.TransformerEncoderLayer:

        x = norm1(x + dropout1(self_attn(x, x, x)))     x = norm2(x + dropout2(ff(x)))

    with ff(x) = linear2(dropout(activation(linear1(x)))), or with norm_first=True
    x = x + dropout1(self_attn(norm1(x))), x = x + dropout2(ff(norm2(x))). x is (L, N, d_model),
    (N, L, d_model) with batch_first, or one sequence (L, d_model). activation is "relu",
    "gelu" or a function of a Value.
    """

    blocks = 2

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        """src_mask (L, L) and src_key_padding_mask (N, L) as MultiheadAttention's attn_mask
        and key_padding_mask (bools: True where attending is not allowed)."""
        x = src
        if self.norm_first:
            h = self.norm1(x)
            x = x + _attend(self.self_attn, self.dropout1, h, h, src_mask,
                            src_key_padding_mask, is_causal)
            return x + self.feed_forward(self.norm2(x))
        x = self.norm1(x + _attend(self.self_attn, self.dropout1, x, x, src_mask,
                                   src_key_padding_mask, is_causal))
        return self.norm2(x + self.feed_forward(x))


class TransformerDecoderLayer(_Layer):
    """One decoder layer, as torch.nn.TransformerDecoderLayer: self-attention over the target,
    attention to the encoder's output `memory` (multihead_attn), and the feed-forward block:

        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(multihead_attn(x, memory, memory)))
        x = norm3(x + dropout3(ff(x)))

    or with norm_first=True each block on the normalised x, added to x. The settings are
    TransformerEncoderLayer's.
    """

    blocks = 3

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        """tgt (T, N, d_model) attends to itself under tgt_mask (T, T) and
        tgt_key_padding_mask (N, T), and to memory (S, N, d_model) under memory_mask (T, S)
        and memory_key_padding_mask (N, S); (N, T, ...) and (N, S, ...) with batch_first."""
        x = tgt
        if self.norm_first:
            h = self.norm1(x)
            x = x + _attend(self.self_attn, self.dropout1, h, h, tgt_mask,
                            tgt_key_padding_mask, tgt_is_causal)
            x = x + _attend(self.multihead_attn, self.dropout2, self.norm2(x), memory,
                            memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self.feed_forward(self.norm3(x))
        x = self.norm1(x + _attend(self.self_attn, self.dropout1, x, x, tgt_mask,
                                   tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + _attend(self.multihead_attn, self.dropout2, x, memory, memory_mask,
                                   memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self.feed_forward(x))


class _Stack(Module):
    """num_layers copies of a layer (each with parameters of its own, copied from it, as
    PyTorch's deep copies), applied in turn, then `norm` when given."""

    layer_class: type

    def __init__(self, layer, num_layers: int, norm: Module | None = None):
        name = type(self).__name__
        if not isinstance(layer, self.layer_class):
            raise TypeError(f"{name}: the layer is a {type(layer).__name__}; expected a "
                            f"{self.layer_class.__name__}")
        _check_positive_int(name, "num_layers", num_layers)
        self.layers = ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        self.num_layers = int(num_layers)
        self.norm = norm

    def _normed(self, x):
        return x if self.norm is None else self.norm(x)


class TransformerEncoder(_Stack):
    """num_layers copies of encoder_layer, in turn, then `norm` when given, as PyTorch's."""

    layer_class = TransformerEncoderLayer

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None):
        super().__init__(encoder_layer, num_layers, norm)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, is_causal)
        return self._normed(x)


class TransformerDecoder(_Stack):
    """num_layers copies of decoder_layer, in turn, each attending to the same memory, then
    `norm` when given, as PyTorch's."""

    layer_class = TransformerDecoderLayer

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None):
        super().__init__(decoder_layer, num_layers, norm)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                      memory_key_padding_mask, tgt_is_causal, memory_is_causal)
        return self._normed(x)


class Transformer(Module):
    """The encoder-decoder Transformer, as torch.nn.Transformer: `encoder`, a stack of
    num_encoder_layers encoder layers with a final LayerNorm, reads src; `decoder`, a stack of
    num_decoder_layers decoder layers with a final LayerNorm, reads tgt and attends to the
    encoder's output. Every parameter of two or more axes is drawn as xavier_uniform_, as
    PyTorch's. forward(src, tgt, ...) returns the decoder's output, tgt's shape; for a
    decoder that may not look ahead, pass tgt_mask=Transformer.generate_square_subsequent_mask(T).
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Value], Value] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *,
                 rng: np.random.Generator | None = None):
        settings = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                        layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                        norm_first=norm_first, bias=bias, rng=rng)
        self.encoder = TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **settings), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self.decoder = TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **settings), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p, generator=rng)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, bool(batch_first)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal: bool = False,
                tgt_is_causal: bool = False, memory_is_causal: bool = False):
        memory = self.encoder(src, src_mask, src_key_padding_mask, src_is_causal)
        return self.decoder(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask,
                            memory_key_padding_mask, tgt_is_causal, memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(size: int) -> np.ndarray:
        """(size, size) float32: -inf above the diagonal (a later position), 0 elsewhere, as
        PyTorch's: added to the scores, it keeps each position from attending ahead."""
        return np.triu(np.full((size, size), -np.inf, dtype=np.float32), k=1)
