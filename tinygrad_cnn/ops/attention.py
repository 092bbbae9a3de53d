"""scaled_dot_product_attention, as torch.nn.functional's: softmax(q k^T * scale + mask) v. No
rule of its own: matmul, softmax, dropout and where carry every gradient, to every order."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_cnn.ops.dropout import dropout
from tinygrad_cnn.ops.elementwise import where
from tinygrad_cnn.ops.linalg import matmul
from tinygrad_cnn.ops.loss import softmax
from tinygrad_cnn.ops.shape import broadcasts_to, transpose
from tinygrad_cnn.value import Value, data_of


def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None) -> Value:
    """Each query's weighted mean of the values, weighted by how well it matches each key:
    softmax(q k^T * scale + mask) v for q (..., L, E), k (..., S, E), v (..., S, Ev) ->
    (..., L, Ev), the leading axes broadcast; scale defaults to 1 / sqrt(E).

    attn_mask (L, S), or any shape that broadcasts to the scores' (..., L, S): bools, True
    where a query may attend to a key (PyTorch's convention here, the opposite of
    MultiheadAttention's), or floats added to the scores (-inf: never). is_causal=True masks
    every key after its query (attn_mask must then be None). A query that may attend to no
    key gets 0, and no gradient, as PyTorch's (2.13). dropout_p > 0 zeroes attention weights
    at random (always, as PyTorch's: pass dropout_p=0.0 for evaluation).
    """
    q_shape, k_shape, v_shape = (np.shape(data_of(a)) for a in (q, k, v))
    if min(len(q_shape), len(k_shape), len(v_shape)) < 2 or q_shape[-1] != k_shape[-1] \
            or k_shape[-2] != v_shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q {q_shape}, k {k_shape} and v "
                         f"{v_shape}; expected q (..., L, E), k (..., S, E) and v (..., S, Ev): "
                         f"q and k of the same last size E, k and v of the same length S")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: is_causal=True and an attn_mask were "
                         "both given; expected one of them (is_causal builds the causal mask)")
    length, source = q_shape[-2], k_shape[-2]
    if is_causal:
        attn_mask = np.tril(np.ones((length, source), dtype=bool))
    scale = 1.0 / math.sqrt(q_shape[-1]) if scale is None else scale
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scaled_dot_product_attention: scale is {type(scale).__name__} "
                        f"{scale!r}; expected a number or None (1 / sqrt(E))")
    masks = [] if attn_mask is None else [(attn_mask, True)]      # True: may attend
    return attention(q, k, v, masks, dropout_p, float(scale),
                     "scaled_dot_product_attention")[0]


def attention(q, k, v, masks: list, dropout_p: float, scale: float, owner: str
              ) -> tuple[Value, Value]:
    """(softmax(q k^T * scale + masks) v, the softmax's weights after dropout) for q (..., L, E),
    k (..., S, E), v (..., S, Ev); each mask a pair (mask, true_allows): whether a bool mask's
    True lets a query attend to a key (scaled_dot_product_attention's) or keeps it from it
    (MultiheadAttention's)."""
    n = np.ndim(data_of(k))
    scores = matmul(q, transpose(k, *range(n - 2), n - 1, n - 2)) * scale    # (..., L, S)
    for mask, true_allows in masks:
        scores = masked_scores(scores, mask, owner, true_allows)
    # a query whose scores are all -inf may attend to no key: softmax would be 0/0, NaN. It
    # attends to nothing instead: weights 0, so its output is 0 and no gradient flows through
    # its scores (softened to 0 first, so that softmax's rule sees no NaN either)
    blocked = np.all(scores.data == -np.inf, axis=-1, keepdims=True)
    if blocked.any():
        weights = where(blocked, 0.0, softmax(where(blocked, 0.0, scores), axis=-1))
    else:
        weights = softmax(scores, axis=-1)
    if dropout_p:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, v), weights


def masked_scores(scores: Value, mask, owner: str, true_allows: bool) -> Value:
    """scores with `mask` applied: a bool mask puts -inf where attending is not allowed (where
    it is False if true_allows, else where it is True), a float mask is added (a constant one
    in the scores' dtype, so a float64 mask leaves float32 scores float32). The mask must
    broadcast to the scores' shape."""
    data = np.asarray(data_of(mask))
    if not broadcasts_to(data.shape, scores.shape):
        raise ValueError(f"{owner}: a mask of shape {data.shape} does not broadcast to the "
                         f"scores' shape {scores.shape} (..., L, S); expected e.g. (L, S)")
    if data.dtype == np.bool_:
        return where(data if true_allows else ~data, scores, -np.inf)
    if data.dtype.kind != "f":
        meaning = "True where a query may attend" if true_allows else "True where it may not"
        raise TypeError(f"{owner}: a mask of dtype {data.dtype}; expected bools ({meaning}) or "
                        f"floats added to the scores")
    if not (isinstance(mask, Value) and mask.requires_grad):
        mask = data.astype(scores.dtype, copy=False)   # a constant keeps the scores' dtype
    return scores + mask
