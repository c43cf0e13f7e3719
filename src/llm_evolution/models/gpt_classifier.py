"""GPT-1's fine-tuning (Radford et al., 2018): the pretrained decoder reads a text, and one new
linear layer reads the final vector of its last token, the only position that has seen the
whole text through the causal mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.models.gpt import GPT, GPTConfig, check_inputs


# --8<-- [start:gpt_classifier]
def final_hidden_states(gpt: GPT, input_ids: torch.Tensor, check: bool = True) -> torch.Tensor:
    """The vectors ``gpt`` turns into logits, (batch, length, d_model): its forward pass up
    to the last layer norm, before the tied output layer. ``check=False`` skips the check of
    the ids (for ``torch.func.vmap``, which cannot trace its data-dependent ``if``)."""
    if check:
        check_inputs(gpt.config, input_ids)
    positions = torch.arange(input_ids.size(1), device=input_ids.device)
    x = gpt.dropout(gpt.token_embedding(input_ids) + gpt.position_embedding(positions))
    for layer, block in enumerate(gpt.blocks):
        x = block(x, None, layer)
    return gpt.ln_f(x)


class GPTForSequenceClassification(nn.Module):
    """``model(input_ids, labels, attention_mask) -> (logits, loss)``: one score per class from
    the last real token's final vector. Padding goes after the text (attention_mask 0 there):
    no real token attends to it, so it changes nothing."""

    def __init__(self, config: GPTConfig, n_classes: int):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes={n_classes} must be >= 2")
        self.gpt = GPT(config)
        self.head = nn.Linear(config.d_model, n_classes)

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None):
        hidden = final_hidden_states(self.gpt, input_ids)
        if attention_mask is None:
            last = torch.full((input_ids.size(0),), input_ids.size(1) - 1)
        else:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(f"attention_mask {tuple(attention_mask.shape)} must have the "
                                 f"shape of input_ids {tuple(input_ids.shape)}")
            last = attention_mask.sum(dim=1) - 1  # the last real token of each row
        logits = self.head(hidden[torch.arange(input_ids.size(0)), last])
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return logits, loss
# --8<-- [end:gpt_classifier]
