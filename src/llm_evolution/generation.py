"""Generating text from a language model, one sampled token at a time.

Chapter 1 samples from the full distribution; chapter 6 adds greedy decoding, temperature,
top-k, top-p and a key-value cache.
"""

from __future__ import annotations

import torch
from torch import nn


# --8<-- [start:sample]
@torch.no_grad()
def sample(
    model: nn.Module,
    prompt_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    generator: torch.Generator,
    context_size: int | None = None,
) -> torch.Tensor:
    """Extend ``prompt_ids`` (shape (batch, time)) by ``max_new_tokens`` sampled tokens.

    At each step the model scores every possible next token; softmax turns the scores of the
    last position into probabilities and one token is drawn from them. ``context_size`` crops
    the input to the last tokens a model with a fixed window can read.
    """
    if prompt_ids.dim() != 2 or prompt_ids.size(1) == 0:
        raise ValueError(
            f"prompt_ids must have shape (batch, time) with time >= 1, got {tuple(prompt_ids.shape)}"
        )
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 0")
    if context_size is not None and context_size < 1:
        raise ValueError(f"context_size={context_size} must be None or >= 1")
    was_training = model.training
    model.eval()
    ids = prompt_ids
    for _ in range(max_new_tokens):
        context = ids if context_size is None else ids[:, -context_size:]
        logits, _ = model(context)
        # Draw on the CPU in double precision: the same seed gives the same text on any device.
        probs = torch.softmax(logits[:, -1, :].double().cpu(), dim=-1)
        next_id = torch.multinomial(probs, num_samples=1, generator=generator).to(ids.device)
        ids = torch.cat([ids, next_id], dim=1)
    model.train(was_training)
    return ids
# --8<-- [end:sample]
