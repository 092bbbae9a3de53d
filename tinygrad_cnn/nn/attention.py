"""MultiheadAttention, as PyTorch's: the same arguments, parameters (in_proj_weight,
in_proj_bias, out_proj), initial ranges, masks and outputs, on ops.attention's
softmax(q k^T / sqrt(d) + mask) v, so every gradient is the engine's."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.init import xavier_uniform_
from tinygrad_cnn.nn.layers import Linear, _check_positive_int, _check_probability
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops.attention import attention
from tinygrad_cnn.random import generator
from tinygrad_cnn.value import Value, data_of


class MultiheadAttention(Module):
    """Attention with num_heads heads over embed_dim features, as torch.nn.MultiheadAttention:
    q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v (the three blocks of
    in_proj_weight (3E, E) and in_proj_bias (3E,)), each split into heads of E / num_heads
    features; per head softmax(q k^T / sqrt(E / num_heads) + mask) v; the heads joined and
    passed through out_proj (a Linear(E, E)).

    Inputs are (L, N, E) (query) and (S, N, E) (key, value), (N, L, E) with batch_first, or
    one unbatched sequence (L, E). forward returns (output like query, the attention weights
    (N, L, S) averaged over the heads, or (N, num_heads, L, S) with average_attn_weights=False;
    None with need_weights=False). Masks, as PyTorch's: attn_mask (L, S) or
    (N * num_heads, L, S), key_padding_mask (N, S); bools are True where attending is NOT
    allowed, floats are added to the scores. is_causal is only PyTorch's hint that attn_mask
    is causal: the mask itself must be given. dropout zeroes attention weights in training.
    kdim and vdim other than embed_dim, add_bias_kv and add_zero_attn are not supported.

    in_proj_weight is drawn as xavier_uniform_, the biases start at 0, out_proj.weight as
    Linear's, all as PyTorch's.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 *, rng: np.random.Generator | None = None):
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            _check_positive_int("MultiheadAttention", name, value)
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by "
                             f"num_heads {num_heads}; expected each head to get "
                             f"embed_dim / num_heads features")
        _check_probability("MultiheadAttention", "dropout", dropout,
                           "(of zeroing each attention weight in training)")
        for name, value in (("kdim", kdim), ("vdim", vdim)):
            if value not in (None, embed_dim):
                raise ValueError(f"MultiheadAttention: {name}={value} differs from embed_dim "
                                 f"{embed_dim}, which this layer does not take (PyTorch then "
                                 f"keeps separate q_proj_weight, k_proj_weight and "
                                 f"v_proj_weight); expected {name}=None; project the keys or "
                                 f"values to embed_dim with a Linear first")
        for name, value in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if value:
                raise ValueError(f"MultiheadAttention: {name}=True is not supported; expected "
                                 f"{name}=False (PyTorch's default)")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        rng = generator(rng, "MultiheadAttention")
        self.in_proj_weight = xavier_uniform_(
            Value(np.zeros((3 * embed_dim, embed_dim), dtype=np.float32)), generator=rng)
        self.in_proj_bias = Value(np.zeros(3 * embed_dim, dtype=np.float32)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, rng=rng)
        if bias:
            self.out_proj.bias.data[...] = 0.0

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True without attn_mask; expected "
                             "the causal mask itself as attn_mask (is_causal is only a hint "
                             "about it, as in PyTorch), e.g. attn_mask=np.triu(np.ones((L, L), "
                             "dtype=bool), k=1)")
        unbatched = np.ndim(data_of(query)) == 2
        shapes = [np.shape(data_of(t)) for t in (query, key, value)]
        batch_axis = 0 if self.batch_first else 1
        if shapes[1] != shapes[2] or (not unbatched and len(shapes[1]) == 3
                                      and shapes[1][batch_axis] != shapes[0][batch_axis]):
            raise ValueError(f"MultiheadAttention: query {shapes[0]}, key {shapes[1]} and value "
                             f"{shapes[2]}; expected key and value of one shape, with the "
                             f"query's batch size")
        q, k, v = (self._heads(self._batch_major(t, name, unbatched), i)
                   for i, (t, name) in enumerate(((query, "query"), (key, "key"),
                                                  (value, "value"))))
        n, length, source = q.shape[0], q.shape[2], k.shape[2]
        masks = []
        if attn_mask is not None:
            shape = np.shape(data_of(attn_mask))
            if shape not in ((length, source), (n * self.num_heads, length, source)):
                raise ValueError(f"MultiheadAttention: attn_mask has shape {shape}; expected "
                                 f"({length}, {source}) (L, S) or "
                                 f"({n * self.num_heads}, {length}, {source}) "
                                 f"(N * num_heads, L, S)")
            if len(shape) == 3:
                attn_mask = ops.reshape(attn_mask, n, self.num_heads, length, source)
            masks.append((attn_mask, False))       # bools: True keeps a query off
        if key_padding_mask is not None:
            expected = (source,) if unbatched else (n, source)
            if np.shape(data_of(key_padding_mask)) != expected:
                raise ValueError(f"MultiheadAttention: key_padding_mask has shape "
                                 f"{np.shape(data_of(key_padding_mask))}; expected {expected} "
                                 f"({'S' if unbatched else 'N, S'}), True at the keys to leave "
                                 f"out")
            masks.append((ops.reshape(key_padding_mask, n, 1, 1, source), False))
        dropout_p = self.dropout if self.training else 0.0
        out, weights = attention(q, k, v, masks, dropout_p, 1.0 / np.sqrt(self.head_dim),
                                 "MultiheadAttention")
        out = ops.linear(out.transpose(0, 2, 1, 3).reshape(n, length, self.embed_dim),
                         self.out_proj.weight, self.out_proj.bias)        # (N, L, E)
        if unbatched:
            out = out.reshape(length, self.embed_dim)
        elif not self.batch_first:
            out = out.transpose(1, 0, 2)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)                                # over the heads
        return out, (weights.reshape(weights.shape[1:]) if unbatched else weights)

    def _batch_major(self, x, name: str, unbatched: bool) -> Value:
        """x as (N, length, E), after checking its layout."""
        shape = np.shape(data_of(x))
        if len(shape) != (2 if unbatched else 3) or shape[-1] != self.embed_dim:
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            what = "one sequence (L, E), as query" if unbatched else f"{layout}, as query"
            raise ValueError(f"MultiheadAttention: {name} has shape {shape}; expected {what}, "
                             f"with E = embed_dim = {self.embed_dim}")
        if unbatched:
            return ops.reshape(x, 1, *shape)
        return ops.transpose(x, 1, 0, 2) if not self.batch_first else ops.reshape(x, shape)

    def _heads(self, x: Value, block: int) -> Value:
        """x (N, length, E) projected by block `block` of in_proj (0: q, 1: k, 2: v) and split
        into heads: (N, num_heads, length, head_dim)."""
        e = self.embed_dim
        rows = slice(block * e, (block + 1) * e)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        projected = ops.linear(x, self.in_proj_weight[rows], bias)
        n, length = projected.shape[:2]
        return projected.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)
