"""MultiheadAttention, as PyTorch's: the same arguments, parameters (in_proj_weight, or
q_proj_weight, k_proj_weight and v_proj_weight; in_proj_bias, bias_k, bias_v, out_proj), initial
ranges, masks and outputs, on ops.attention's softmax(q k^T / sqrt(d) + mask) v, so every
gradient is the engine's."""

from __future__ import annotations

import numpy as np

from tinygrad_cnn import ops
from tinygrad_cnn.nn.init import xavier_normal_, xavier_uniform_
from tinygrad_cnn.nn.layers import Linear, _check_positive_int, _check_probability
from tinygrad_cnn.nn.module import Module
from tinygrad_cnn.ops.attention import attention
from tinygrad_cnn.random import generator
from tinygrad_cnn.value import Value, data_of


class MultiheadAttention(Module):
    """Attention with num_heads heads over embed_dim features, as torch.nn.MultiheadAttention:
    q, k, v = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v, each split into heads of
    E / num_heads features; per head softmax(q k^T / sqrt(E / num_heads) + mask) v; the heads
    joined and passed through out_proj (a Linear(E, E)).

    W_q, W_k, W_v are the three blocks of in_proj_weight (3E, E) when keys and values have E
    features; with kdim or vdim other than embed_dim they are q_proj_weight (E, E),
    k_proj_weight (E, kdim) and v_proj_weight (E, vdim), and in_proj_weight is None, as in
    PyTorch. b_q, b_k, b_v are the blocks of in_proj_bias (3E,) (None with bias=False).
    add_bias_kv=True appends one more key and value, the parameters bias_k and bias_v (1, 1, E),
    to the projected keys and values of every sequence; add_zero_attn=True then appends a key
    and a value of zeros to every head. Each adds a key that every query may attend: the masks
    get a column of False (or 0.0) for it, as PyTorch pads them.

    Inputs are (L, N, E) (query), (S, N, kdim) (key) and (S, N, vdim) (value), (N, L, E),
    (N, S, kdim), (N, S, vdim) with batch_first, or one unbatched sequence (L, E), (S, kdim),
    (S, vdim). forward returns (output like query, the attention weights (N, L, S') averaged
    over the heads, or (N, num_heads, L, S') with average_attn_weights=False; None with
    need_weights=False), S' = S plus one for add_bias_kv and one for add_zero_attn. Masks, as
    PyTorch's: attn_mask (L, S) or (N * num_heads, L, S), key_padding_mask (N, S); bools are
    True where attending is NOT allowed, floats are added to the scores. is_causal is only
    PyTorch's hint that attn_mask is causal: the mask itself must be given (but with keys added,
    is_causal=True, need_weights=False and no key_padding_mask, PyTorch masks the scores
    (L, S') causally in place of attn_mask, so the first S queries never see the keys added;
    so does this layer). A query that may attend to no key gets weights 0 and the output
    out_proj's bias, as PyTorch's with need_weights=False (with need_weights=True, PyTorch's
    default, its output and weights are NaN). dropout zeroes attention weights in training.

    in_proj_weight (or each of q/k/v_proj_weight) is drawn as xavier_uniform_, bias_k and
    bias_v as xavier_normal_, the biases start at 0, out_proj.weight as Linear's, all as
    PyTorch's.
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
                           "(of zeroing each attention weight in training)", allow_one=True)
        for name, value, what in (("kdim", kdim, "key"), ("vdim", vdim, "value")):
            if value is not None:
                _check_features(name, value, what, embed_dim)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.kdim = embed_dim if kdim is None else int(kdim)
        self.vdim = embed_dim if vdim is None else int(vdim)
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        rng = generator(rng, "MultiheadAttention")

        def weight(*shape: int) -> Value:
            return xavier_uniform_(Value(np.zeros(shape, dtype=np.float32)), generator=rng)

        # PyTorch's names in PyTorch's order, so the state dicts agree: one packed weight when
        # keys and values have embed_dim features, else three (in_proj_weight is then None)
        self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        if self.kdim == embed_dim and self.vdim == embed_dim:
            self.in_proj_weight = weight(3 * embed_dim, embed_dim)
        else:
            self.q_proj_weight = weight(embed_dim, embed_dim)
            self.k_proj_weight = weight(embed_dim, self.kdim)
            self.v_proj_weight = weight(embed_dim, self.vdim)
            self.in_proj_weight = None
        self.in_proj_bias = Value(np.zeros(3 * embed_dim, dtype=np.float32)) if bias else None
        self.bias_k = self.bias_v = None
        if add_bias_kv:
            self.bias_k, self.bias_v = (
                xavier_normal_(Value(np.zeros((1, 1, embed_dim), dtype=np.float32)),
                               generator=rng) for _ in range(2))
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
        self._check_inputs([np.shape(data_of(t)) for t in (query, key, value)], unbatched)
        q, k, v = (self._project(self._batch_major(t, unbatched), i)
                   for i, t in enumerate((query, key, value)))             # (N, length, E)
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        k, v = self._appended(k, self.bias_k), self._appended(v, self.bias_v)
        extra = k.shape[1] - source            # the keys appended, which every query may attend
        q, k, v = (self._heads(t) for t in (q, k, v))         # (N, num_heads, length, head_dim)
        masks = []
        if attn_mask is not None:
            shape = np.shape(data_of(attn_mask))
            if shape not in ((length, source), (n * self.num_heads, length, source)):
                raise ValueError(f"MultiheadAttention: attn_mask has shape {shape}; expected "
                                 f"({length}, {source}) (L, S) or "
                                 f"({n * self.num_heads}, {length}, {source}) "
                                 f"(N * num_heads, L, S)")
            if extra and is_causal and key_padding_mask is None and not need_weights:
                # PyTorch then drops attn_mask for scaled_dot_product_attention's causal mask
                # of all S' keys, top-left, which keeps the first S queries off the keys added
                attn_mask = np.triu(np.ones((length, source + extra), dtype=bool), k=1)
            else:
                attn_mask = _padded(attn_mask, extra)
            if np.ndim(data_of(attn_mask)) == 3:
                attn_mask = ops.reshape(attn_mask, n, self.num_heads, length, source + extra)
            masks.append((attn_mask, False))       # bools: True keeps a query off
        if key_padding_mask is not None:
            expected = (source,) if unbatched else (n, source)
            if np.shape(data_of(key_padding_mask)) != expected:
                raise ValueError(f"MultiheadAttention: key_padding_mask has shape "
                                 f"{np.shape(data_of(key_padding_mask))}; expected {expected} "
                                 f"({'S' if unbatched else 'N, S'}), True at the keys to leave "
                                 f"out")
            padding = _padded(key_padding_mask, extra)
            masks.append((ops.reshape(padding, n, 1, 1, source + extra), False))
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

    def _check_inputs(self, shapes: list[tuple[int, ...]], unbatched: bool) -> None:
        """Raise unless query, key and value (their `shapes`) are laid out as this layer takes
        them: (L, N, E), (S, N, kdim), (S, N, vdim); batch first with batch_first, without the
        batch axis for one unbatched sequence."""
        layout = "unbatched" if unbatched else f"batch_first={self.batch_first}"
        ndim = 2 if unbatched else 3
        for name, shape, length, size, setting in (
                ("query", shapes[0], "L", self.embed_dim, "embed_dim"),
                ("key", shapes[1], "S", self.kdim, "kdim"),
                ("value", shapes[2], "S", self.vdim, "vdim")):
            if len(shape) == ndim and shape[-1] == size:
                continue
            axes = [length, setting] if unbatched else \
                ["N", length, setting] if self.batch_first else [length, "N", setting]
            fix = f"; build the layer with {setting}={shape[-1]} for such {name}s" \
                if name != "query" and len(shape) == ndim else ""
            raise ValueError(f"MultiheadAttention: {name} has shape {shape} (query {shapes[0]}, "
                             f"key {shapes[1]}, value {shapes[2]}); expected "
                             f"({', '.join(axes)}) ({layout}), with {setting} = {size}{fix}")
        batch_axis = 0 if self.batch_first else 1
        if shapes[1][:-1] != shapes[2][:-1] or (
                not unbatched and shapes[1][batch_axis] != shapes[0][batch_axis]):
            raise ValueError(f"MultiheadAttention: query {shapes[0]}, key {shapes[1]} and value "
                             f"{shapes[2]}; expected key and value of one length S, with the "
                             f"query's batch size")

    def _batch_major(self, x, unbatched: bool) -> Value:
        """x as (N, length, features)."""
        shape = np.shape(data_of(x))
        if unbatched:
            return ops.reshape(x, 1, *shape)
        return ops.transpose(x, 1, 0, 2) if not self.batch_first else ops.reshape(x, shape)

    def _project(self, x: Value, block: int) -> Value:
        """x (N, length, features) projected by W_q, W_k or W_v (block 0, 1 or 2) and its bias:
        (N, length, E)."""
        e = self.embed_dim
        rows = slice(block * e, (block + 1) * e)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        if self.in_proj_weight is not None:
            weight = self.in_proj_weight[rows]
        else:
            weight = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[block]
        return ops.linear(x, weight, bias)

    def _appended(self, x: Value, bias: Value | None) -> Value:
        """Projected keys or values x (N, S, E) with `bias` (bias_k or bias_v, (1, 1, E)) as one
        more row of every sequence, then, with add_zero_attn, a row of zeros: (N, S', E)."""
        one_more = ((0, 0), (0, 1), (0, 0))                            # (N, S, E) -> (N, S+1, E)
        if bias is not None:
            # a row of zeros, replaced by bias: PyTorch's cat of bias repeated N times, with no
            # array of the batch's size, so an exported model takes any batch size
            last = np.arange(x.shape[1] + 1)[:, None] == x.shape[1]     # (S + 1, 1)
            x = ops.where(last, bias, ops.pad(x, one_more))
        # a row of zeros split into heads is a row of zeros in every head, as PyTorch appends
        return ops.pad(x, one_more) if self.add_zero_attn else x

    def _heads(self, x: Value) -> Value:
        """x (N, length, E) split into heads: (N, num_heads, length, head_dim)."""
        n, length = x.shape[:2]
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)


def _padded(mask, extra: int):
    """mask with `extra` more entries on its last axis (keys) that every query may attend:
    False for bools, 0.0 for floats, as PyTorch pads its masks for bias_k and add_zero_attn."""
    if not extra:
        return mask
    widths = [(0, 0)] * (np.ndim(data_of(mask)) - 1) + [(0, extra)]
    if isinstance(mask, Value) and mask.requires_grad:
        return ops.pad(mask, widths)
    return np.pad(np.asarray(data_of(mask)), widths)


def _check_features(name: str, value, what: str, embed_dim: int) -> None:
    """Raise unless kdim or vdim (`name`) is an int > 0."""
    expected = (f"expected a positive int (the number of features of each {what}) or None "
                f"(embed_dim, {embed_dim})")
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"MultiheadAttention: {name} is {type(value).__name__} {value!r}; "
                        f"{expected}")
    if value < 1:
        raise ValueError(f"MultiheadAttention: {name} is {value}; {expected}")
