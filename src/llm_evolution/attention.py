"""Attention, the operation the Transformer is built from (chapter 3).

Every position of a sequence builds its new vector by looking at every position it is allowed
to see: it compares its *query* with each position's *key*, turns the scores into weights with
a softmax, and takes the weighted average of the *values*. Masks say which positions are
allowed: padding is never looked at, and a decoder never looks at the future.

Masks here are boolean with ``True`` meaning "may attend", the convention of
``torch.nn.functional.scaled_dot_product_attention``. (``torch.nn.MultiheadAttention`` uses the
opposite one: ``True`` there means "ignore".)
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn


def check_mask(mask: torch.Tensor, scores_shape: torch.Size) -> None:
    """Raise ValueError unless ``mask`` is boolean and broadcasts to the attention scores."""
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a boolean tensor (True = may attend), got {mask.dtype}")
    if mask.dim() > len(scores_shape):
        raise ValueError(f"mask has {mask.dim()} dimensions but the attention scores have "
                         f"{len(scores_shape)} {tuple(scores_shape)}")
    # Broadcasting compares shapes from the right: each mask size must be 1 or the scores' size.
    for mask_size, size in zip(reversed(mask.shape), reversed(scores_shape)):
        if mask_size not in (1, size):
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores "
                f"of shape {tuple(scores_shape)} (..., query length, key length); build it with "
                "causal_mask(query length) or padding_mask(key ids, pad_id)"
            )


# --8<-- [start:scaled_dot_product_attention]
def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(query @ key^T / sqrt(d)) @ value, and the attention weights.

    Shapes: query (..., Lq, d), key (..., Lk, d), value (..., Lk, dv); the leading dimensions
    (batch, heads) must match. ``mask`` is boolean, True where a query may attend to a key,
    and must broadcast to (..., Lq, Lk). Returns the output (..., Lq, dv) and the weights
    (..., Lq, Lk), each row of which sums to 1.
    """
    if query.size(-1) != key.size(-1):
        raise ValueError(f"query and key must have the same last dimension d, got "
                         f"{query.size(-1)} and {key.size(-1)}")
    if key.size(-2) != value.size(-2):
        raise ValueError(f"key and value must have the same length, got {key.size(-2)} "
                         f"and {value.size(-2)}")
    d = query.size(-1)
    # How well each query matches each key: (..., Lq, Lk). Dividing by sqrt(d) keeps the
    # scores' spread near 1 whatever d is, so the softmax does not saturate.
    scores = query @ key.transpose(-2, -1) / math.sqrt(d)
    if mask is not None:
        check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))  # exp(-inf) = 0: never looked at
    weights = torch.softmax(scores, dim=-1)
    return weights @ value, weights
# --8<-- [end:scaled_dot_product_attention]


# --8<-- [start:masks]
def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(size, size) boolean mask: position i may attend to positions 0..i, never the future."""
    if size < 1:
        raise ValueError(f"size={size} must be >= 1")
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def padding_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(batch, 1, 1, length) boolean mask, False at padding keys.

    The two middle dimensions of size 1 broadcast over the heads and the queries: every query
    of every head ignores the same padded keys.
    """
    if ids.dim() != 2:
        raise ValueError(f"ids must have shape (batch, length), got {tuple(ids.shape)}")
    return (ids != pad_id)[:, None, None, :]
# --8<-- [end:masks]


# --8<-- [start:multi_head_attention]
class MultiHeadAttention(nn.Module):
    """``n_heads`` attentions side by side, each on its own ``d_model / n_heads`` slice.

    Each head projects the inputs to its own queries, keys and values, so each can look for a
    different relation (the next word, the matching word, ...); their outputs are concatenated
    and mixed by one last projection.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0,
                 store_weights: bool = False):
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; "
                             "pick n_heads >= 1 that divides d_model")
        self.n_heads = n_heads
        self.head_size = d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        # Keep each forward's attention weights in last_weights (batch, heads, Lq, Lk) to look
        # at or draw; off, the forward runs PyTorch's fused kernel, which never forms them.
        self.store_weights = store_weights
        self.last_weights: torch.Tensor | None = None

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, length, d_model) -> (batch, heads, length, head_size)."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.n_heads, self.head_size).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attend from ``query`` (batch, Lq, d_model) to ``key``/``value`` (batch, Lk, d_model).

        Self-attention passes the same sequence three times; cross-attention passes the
        decoder's sequence as ``query`` and the encoder's output as ``key`` and ``value``.
        ``mask`` (True = may attend) must broadcast to (batch, heads, Lq, Lk).
        """
        d_model = self.n_heads * self.head_size
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dim() != 3 or x.size(-1) != d_model:
                raise ValueError(f"{name} must have shape (batch, length, {d_model}), "
                                 f"got {tuple(x.shape)}")
        q = self.split_heads(self.q_proj(query))
        k = self.split_heads(self.k_proj(key))
        v = self.split_heads(self.v_proj(value))
        dropout = self.dropout.p > 0 and self.training
        if self.store_weights or dropout:
            out, weights = scaled_dot_product_attention(q, k, v, mask)  # the code above
            self.last_weights = weights.detach() if self.store_weights else None
            if dropout:
                # Dropout on the weights (as torch does): randomly forget some of what was
                # looked at.
                out = self.dropout(weights) @ v
        else:
            # The same softmax(QK^T / sqrt(d))V in one fused kernel (faster, less memory).
            if mask is not None:
                check_mask(mask, q.shape[:-1] + k.shape[-2:-1])
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            self.last_weights = None
        batch, _, length, _ = out.shape
        out = out.transpose(1, 2).reshape(batch, length, d_model)  # concatenate the heads
        return self.out_proj(out)
# --8<-- [end:multi_head_attention]


@contextmanager
def storing_attention_weights(model: nn.Module):
    """Within the block, every :class:`MultiHeadAttention` of ``model`` keeps its weights in
    ``last_weights`` (to draw an attention map); afterwards each goes back to how it was."""
    layers = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    before = [layer.store_weights for layer in layers]
    for layer in layers:
        layer.store_weights = True
    try:
        yield model
    finally:
        for layer, stored in zip(layers, before):
            layer.store_weights = stored
