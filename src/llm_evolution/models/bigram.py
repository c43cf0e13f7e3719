"""Bigram language models: predict the next character from the current one only.

Two versions of the same idea. :class:`CountBigram` estimates P(next | current) by counting
pairs in the training text. :class:`NeuralBigram` learns a table of scores (logits) by
gradient descent. Both follow the contract every model here follows:
``model(ids, targets) -> (logits, loss)``, with logits of shape (batch, time, vocab).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def check_token_ids(ids: torch.Tensor, vocab_size: int, name: str = "ids") -> None:
    """Raise ValueError unless ``ids`` is an integer tensor with every id in [0, vocab_size)."""
    if ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must be an integer tensor of token ids, got dtype {ids.dtype}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(
            f"{name} holds ids outside [0, {vocab_size}); encode text with the tokenizer the "
            "model was built for"
        )


# --8<-- [start:next_token_loss]
def next_token_loss(logits: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor | None:
    """Mean cross-entropy of the targets under the logits; None when there are no targets.

    ``F.cross_entropy`` applies softmax to each row of logits and averages ``-log p`` of the
    target: the average surprise of the model at the real next tokens.
    """
    if targets is None:
        return None
    check_token_ids(targets, logits.size(-1), "targets")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets have shape {tuple(targets.shape)} but the logits are for "
            f"{tuple(logits.shape[:-1])}; pass one target id per input position"
        )
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
# --8<-- [end:next_token_loss]


# --8<-- [start:counts]
def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """counts[a, b] = how often token b follows token a in the sequence ``ids``."""
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D sequence of token ids, got shape {tuple(ids.shape)}")
    check_token_ids(ids, vocab_size)
    pair_index = ids[:-1] * vocab_size + ids[1:]  # one number per (current, next) pair
    counts = torch.bincount(pair_index, minlength=vocab_size * vocab_size)
    return counts.view(vocab_size, vocab_size)
# --8<-- [end:counts]


# --8<-- [start:count_bigram]
class CountBigram(nn.Module):
    """P(next | current) from pair counts, with add-``smoothing`` so no pair has probability 0."""

    def __init__(self, counts: torch.Tensor, smoothing: float = 1.0):
        super().__init__()
        if counts.dim() != 2 or counts.size(0) != counts.size(1):
            raise ValueError(f"counts must be a square (vocab, vocab) table, got {tuple(counts.shape)}")
        if smoothing < 0:
            raise ValueError(f"smoothing={smoothing} must be >= 0")
        if (counts < 0).any():
            raise ValueError("counts must not be negative")
        smoothed = counts.double() + smoothing
        if (smoothed.sum(dim=1) == 0).any():
            raise ValueError(
                "with smoothing=0 a token that is never followed by anything has no "
                "distribution; use smoothing > 0"
            )
        probs = smoothed / smoothed.sum(dim=1, keepdim=True)  # each row sums to 1
        self.register_buffer("log_probs", probs.log().float())

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None):
        check_token_ids(ids, self.log_probs.size(0))
        logits = self.log_probs[ids]  # log-probabilities are valid logits
        return logits, next_token_loss(logits, targets)
# --8<-- [end:count_bigram]


# --8<-- [start:neural_bigram]
class NeuralBigram(nn.Module):
    """A learned (vocab x vocab) table of logits: row ``a`` scores every possible next token."""

    def __init__(self, vocab_size: int):
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size={vocab_size} must be at least 2")
        self.vocab_size = vocab_size
        self.logits_table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None):
        check_token_ids(ids, self.vocab_size)
        logits = self.logits_table(ids)  # (batch, time) -> (batch, time, vocab)
        return logits, next_token_loss(logits, targets)
# --8<-- [end:neural_bigram]
