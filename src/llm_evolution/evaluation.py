"""Measuring a model: evaluation mode done safely, and held-out loss per character.

:func:`evaluating` is the one way the library switches a model to evaluation mode for a
measurement or for decoding: dropout off, no gradients, and the previous mode back afterwards,
even when the measured code raises. :func:`bits_per_character` is chapter 6's fair comparison
of language models with different tokenizers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from llm_evolution.models.gpt import GPT


# --8<-- [start:evaluating]
@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Run the ``with`` block with ``model`` in evaluation mode and without gradients, then
    give it back the mode it had (training or not), also when the block raises."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
# --8<-- [end:evaluating]


# --8<-- [start:bits_per_character]
@torch.no_grad()
def held_out_nats(model: GPT, ids: torch.Tensor, batch_size: int = 64) -> float:
    """Total negative log-likelihood (nats) of ``ids`` under ``model``, read in consecutive
    windows of the model's context: every token but the first is predicted once."""
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor with at least 2 tokens")
    block = model.config.context_size
    n_windows = (len(ids) - 1) // block
    inputs = ids[: n_windows * block].view(n_windows, block)
    targets = ids[1 : n_windows * block + 1].view(n_windows, block)
    total = 0.0
    for start in range(0, n_windows, batch_size):
        logits, _ = model(inputs[start : start + batch_size])
        total += torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets[start : start + batch_size].flatten(),
            reduction="sum").item()
    rest = len(ids) - n_windows * block  # the last, shorter window (it keeps >= 1 token)
    if rest > 1:
        _, loss = model(ids[-rest:-1][None], ids[-rest + 1:][None])
        total += loss.item() * (rest - 1)
    return total


def bits_per_character(model: GPT, ids: torch.Tensor, n_characters: int) -> float:
    """Held-out loss per character, in bits: the one measure on which models with different
    tokenizers compete fairly (a text costs the same bits whatever it is cut into)."""
    return held_out_nats(model, ids) / n_characters / math.log(2)
# --8<-- [end:bits_per_character]
