"""A GPT with a scalar head (chapter 11): the reward model, and PPO's value function.

Both read the GPT's final vectors (:meth:`GPT.hidden_states`) and map each to one number
with a linear layer, instead of to the vocabulary's scores. The reward model scores a whole
answer by the vector of its last token, which has read the prompt and every word of the
answer (InstructGPT's reward model is a GPT-3 with its output layer replaced the same way).
"""

from __future__ import annotations

import torch
from torch import nn

from llm_evolution.models.gpt import GPT, GPTConfig


class ScalarHead(nn.Module):
    """One number per position from a GPT's final vectors: (batch, length, d_model) ->
    (batch, length)."""

    def __init__(self, d_model: int):
        super().__init__()
        self.linear = nn.Linear(d_model, 1)
        nn.init.zeros_(self.linear.weight)  # every value starts at 0 (the bias alone)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden).squeeze(-1)


# --8<-- [start:reward_model]
class RewardModel(nn.Module):
    """``reward_model(ids, lengths) -> rewards``: the score of each row of ``ids`` (batch,
    length), read at its last real token ``lengths - 1`` (what follows is padding)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.gpt = GPT(config)
        self.head = ScalarHead(config.d_model)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if lengths.shape != ids.shape[:1] or not bool(((lengths >= 1) & (lengths <= ids.size(1))).all()):
            raise ValueError(f"lengths must hold one length in 1..{ids.size(1)} per row of ids "
                             f"{tuple(ids.shape)}, got {lengths.tolist()}")
        scores = self.head(self.gpt.hidden_states(ids))  # a score at every position
        return scores.gather(1, (lengths - 1)[:, None]).squeeze(1)  # the last real one
# --8<-- [end:reward_model]
