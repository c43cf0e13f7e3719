"""The Transformer encoder-decoder of *Attention Is All You Need* (Vaswani et al., 2017).

An encoder reads the whole source at once: each layer lets every source word attend to every
other (self-attention), then transforms each position on its own (a feed-forward network). A
decoder writes the target one token at a time: each layer attends to the target so far (with a
causal mask), then to the encoder's output (cross-attention), then applies its feed-forward
network. Nothing is recurrent, so during training every position is computed in parallel.

Layers are *post-LN* as published (``norm_first=False``: add the residual, then normalise) or
*pre-LN* (``norm_first=True``: normalise the input of each sublayer, Xiong et al., 2020), the
variant later models such as GPT-2 use because it trains stably without a learning-rate warmup.

The model follows the translation contract of :mod:`llm_evolution.translation`:
``model(source, target_in, target_out) -> (logits, loss)`` and
``model.generate(source, max_new_tokens)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from llm_evolution.attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    storing_attention_weights,
)
from llm_evolution.models.bigram import check_token_ids
from llm_evolution.models.seq2seq import BOS, EOS, PAD, sequence_loss


# --8<-- [start:sinusoidal_positions]
def sinusoidal_positions(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, d_model) table: position p, dimensions 2i and 2i+1 hold
    sin(p / 10000^(2i/d_model)) and cos(p / 10000^(2i/d_model)).

    Each pair of dimensions is a clock turning at its own speed, from one turn every 2*pi
    positions to one every 10000*2*pi: together they give every position a distinct pattern,
    and the pattern of p + k is a fixed rotation of the pattern of p.
    """
    if max_len < 1:
        raise ValueError(f"max_len={max_len} must be >= 1")
    if d_model < 2 or d_model % 2 != 0:
        raise ValueError(f"d_model={d_model} must be even: dimensions come in (sin, cos) pairs")
    position = torch.arange(max_len, dtype=torch.float32)[:, None]  # (max_len, 1)
    frequency = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2) / d_model)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table
# --8<-- [end:sinusoidal_positions]


# --8<-- [start:feed_forward]
class FeedForward(nn.Module):
    """The same two-layer network applied to every position on its own: widen, ReLU, narrow."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff)
        self.down = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.dropout(torch.relu(self.up(x))))
# --8<-- [end:feed_forward]


# --8<-- [start:encoder_layer]
class EncoderLayer(nn.Module):
    """Self-attention over the source, then a feed-forward network, each wrapped in a residual
    connection and a layer norm: after the sum (post-LN, the paper) or before the sublayer
    (pre-LN, ``norm_first=True``)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:  # pre-LN: x + sublayer(norm(x))
            h = self.norm1(x)
            x = x + self.dropout(self.self_attn(h, h, h, mask))
            x = x + self.dropout(self.feed_forward(self.norm2(x)))
        else:  # post-LN: norm(x + sublayer(x))
            x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
            x = self.norm2(x + self.dropout(self.feed_forward(x)))
        return x
# --8<-- [end:encoder_layer]


# --8<-- [start:decoder_layer]
class DecoderLayer(nn.Module):
    """Masked self-attention over the target so far, cross-attention to the encoder's output,
    then a feed-forward network; residuals and layer norms as in :class:`EncoderLayer`."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: torch.Tensor, memory: torch.Tensor, self_mask: torch.Tensor,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x``: the target so far (batch, Lt, d_model); ``memory``: the encoder's output."""
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout(self.self_attn(h, h, h, self_mask))
            h = self.norm2(x)
            x = x + self.dropout(self.cross_attn(h, memory, memory, memory_mask))
            x = x + self.dropout(self.feed_forward(self.norm3(x)))
        else:
            x = self.norm1(x + self.dropout(self.self_attn(x, x, x, self_mask)))
            x = self.norm2(x + self.dropout(self.cross_attn(x, memory, memory, memory_mask)))
            x = self.norm3(x + self.dropout(self.feed_forward(x)))
        return x
# --8<-- [end:decoder_layer]


# --8<-- [start:seq2seq_transformer]
class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer for translation: source ids in, target logits out."""

    def __init__(self, source_vocab_size: int, target_vocab_size: int, d_model: int = 64,
                 n_heads: int = 4, n_layers: int = 2, d_ff: int = 256, dropout: float = 0.1,
                 max_len: int = 64, norm_first: bool = False):
        super().__init__()
        if n_heads < 1 or d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}; "
                             "pick n_heads >= 1 that divides d_model")
        if n_layers < 1:
            raise ValueError(f"n_layers={n_layers} must be >= 1")
        self.d_model = d_model
        self.source_embed = nn.Embedding(source_vocab_size, d_model)
        self.target_embed = nn.Embedding(target_vocab_size, d_model)
        for table in (self.source_embed, self.target_embed):
            # Entries of size 1/sqrt(d_model), so that after the sqrt(d_model) scaling in
            # embed() a token vector has entries of size 1, like the positional pattern; with
            # torch's default N(0, 1) the positions would be drowned out.
            nn.init.normal_(table.weight, std=d_model**-0.5)
        # Fixed, not learned: a buffer moves with the model to a device but gets no gradient.
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model),
                             persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
                                     for _ in range(n_layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
                                     for _ in range(n_layers))
        # Pre-LN leaves the residual stream unnormalised, so it ends with one more layer norm.
        self.encoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.lm_head = nn.Linear(d_model, target_vocab_size)

    def embed(self, ids: torch.Tensor, table: nn.Embedding, name: str) -> torch.Tensor:
        """Token vectors scaled by sqrt(d_model), as in the paper, plus the position pattern."""
        if ids.dim() != 2:
            raise ValueError(f"{name} must have shape (batch, length), got {tuple(ids.shape)}")
        check_token_ids(ids, table.num_embeddings, name)
        length = ids.size(1)
        if length > self.positions.size(0):
            raise ValueError(f"sequence of length {length} is longer than the positional "
                             f"table (max_len={self.positions.size(0)}); build the model with "
                             "a larger max_len")
        return self.dropout(table(ids) * math.sqrt(self.d_model) + self.positions[:length])

    def encode(self, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's output (batch, Ls, d_model) and the source padding mask."""
        x = self.embed(source, self.source_embed, "source")
        if (source == PAD).all(dim=1).any():
            raise ValueError("source has a row of padding only: every source needs a real "
                             "token (at least its EOS)")
        source_mask = padding_mask(source, PAD)
        for layer in self.encoder:
            x = layer(x, source_mask)
        return self.encoder_norm(x), source_mask

    def decode(self, target_in: torch.Tensor, memory: torch.Tensor,
               source_mask: torch.Tensor) -> torch.Tensor:
        """Logits (batch, Lt, target vocab) for the next token at every target position."""
        self_mask = causal_mask(target_in.size(1), device=target_in.device)
        x = self.embed(target_in, self.target_embed, "target_in")
        for layer in self.decoder:
            x = layer(x, memory, self_mask, source_mask)
        return self.lm_head(self.decoder_norm(x))

    def forward(self, source: torch.Tensor, target_in: torch.Tensor,
                target_out: torch.Tensor | None = None):
        """Teacher forcing: every target position is predicted at once, from the true prefix."""
        memory, source_mask = self.encode(source)
        if target_in.dim() != 2 or target_in.size(0) != source.size(0):
            raise ValueError(f"target_in must have shape (batch={source.size(0)}, length), "
                             f"got {tuple(target_in.shape)}")
        logits = self.decode(target_in, memory, source_mask)
        loss = None if target_out is None else sequence_loss(logits, target_out)
        return logits, loss

    @torch.no_grad()
    def generate(self, source: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding: (batch, up to max_new_tokens) ids, the most likely token each step.

        The source is encoded once; each step runs the decoder over the whole target so far
        (no key-value cache: chapter 6 adds one) and stops when every row has ended.
        """
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 1")
        memory, source_mask = self.encode(source)
        ids = torch.full((source.size(0), 1), BOS, dtype=torch.long, device=source.device)
        finished = torch.zeros(source.size(0), dtype=torch.bool, device=source.device)
        for _ in range(max_new_tokens):
            next_id = self.decode(ids, memory, source_mask)[:, -1].argmax(dim=-1)
            next_id = next_id.masked_fill(finished, PAD)  # rows that ended only pad
            ids = torch.cat([ids, next_id[:, None]], dim=1)
            finished |= next_id == EOS
            if finished.all():
                break
        return ids[:, 1:]
# --8<-- [end:seq2seq_transformer]

    @torch.no_grad()
    def cross_attention(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Cross-attention weights (layers, batch, heads, Lt, Ls) for a teacher-forced pass:
        how much each target position looked at each source word."""
        was_training = self.training
        self.eval()
        try:
            with storing_attention_weights(self):
                self(source, target_in)
        finally:
            self.train(was_training)
        return torch.stack([layer.cross_attn.last_weights for layer in self.decoder])
