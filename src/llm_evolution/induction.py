"""Where chapter 7's trained GPT looks when it answers: attention weights, recomputed from the
model's own layers, and how much of them falls where an induction head would look.

The model runs attention through PyTorch's fused kernel, which never forms the weights; to see
them, :func:`attention_weights` recomputes softmax(QK^T / sqrt(d_head)) under the causal mask
from each layer's own queries and keys (a test checks that the weights times the values give
the layer's output). :func:`induction_share` then asks, for each head, how much weight a query
bit puts on the output bits of earlier examples at its position: those whose input bit matches
the query's, which a "find the earlier match, copy what came next" induction head would read
(Olsson et al., 2022, arXiv:2209.11895), and the others, which it would pass over.
"""

from __future__ import annotations

import math

import torch

from llm_evolution.data.tasks import EXAMPLE_LENGTH, N_BITS, Rule, draw_sequences, rule_codes
from llm_evolution.evaluation import evaluating
from llm_evolution.models.gpt import GPT, CausalSelfAttention


# --8<-- [start:attention_weights]
def attention_parts(attention: CausalSelfAttention, x: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights (batch, heads, length, length) and values (batch, heads, length, head_dim)
    of one causal self-attention layer reading ``x`` (batch, length, d_model)."""
    batch, length, _ = x.shape
    q, k, v = attention.qkv(x).split(attention.d_model, dim=2)
    q, k, v = (t.view(batch, length, attention.n_heads, -1).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # QK^T / sqrt(d_head)
    future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(diagonal=1)
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1), v


def attention_weights(model: GPT, input_ids: torch.Tensor) -> torch.Tensor:
    """Every layer's attention weights on ``input_ids`` (batch, length), as one tensor
    (layers, batch, heads, length, length): row i of a head is how token i spreads its
    attention over tokens 0..i."""
    captured: list[torch.Tensor] = []

    def capture(attention: CausalSelfAttention, args: tuple) -> None:
        captured.append(attention_parts(attention, args[0])[0])  # args[0]: the normed stream

    hooks = [block.attn.register_forward_pre_hook(capture) for block in model.blocks]
    try:
        with evaluating(model), torch.no_grad():
            model(input_ids)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(captured)
# --8<-- [end:attention_weights]


# --8<-- [start:induction_share]
def induction_prompts(rules: list[Rule], k: int = 8, per_rule: int = 8, seed: int = 0
                      ) -> torch.Tensor:
    """``per_rule`` prompts per rule: k solved examples, then the query's example with its
    true output bits (each query bit's row sees only what comes before its answer)."""
    codes = rule_codes(rules).repeat_interleave(per_rule, dim=0)
    ids, _ = draw_sequences(codes, k + 1, torch.Generator().manual_seed(seed))
    return ids


def lookup_positions(prompt_ids: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """For prompts of k examples followed by a query's input bits fed one at a time (the
    query's bit j at position EXAMPLE_LENGTH * k + 2j), masks (batch, N_BITS, length) of the
    output bits of earlier examples at bit j: ``"matching"``, those whose input bit equals the
    query's (the induction targets), and ``"other"``, the rest."""
    batch, length = prompt_ids.shape
    matching = torch.zeros(batch, N_BITS, length, dtype=torch.bool)
    other = torch.zeros_like(matching)
    for bit in range(N_BITS):
        query_bit = prompt_ids[:, EXAMPLE_LENGTH * k + 2 * bit]
        for example in range(k):
            input_position = EXAMPLE_LENGTH * example + 2 * bit
            matches = prompt_ids[:, input_position] == query_bit
            matching[:, bit, input_position + 1] = matches
            other[:, bit, input_position + 1] = ~matches
    return {"matching": matching, "other": other}


def induction_share(model: GPT, prompt_ids: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per layer and head (layers, heads), the mean attention weight a query bit puts on the
    earlier outputs at its position: on those whose input matches its own (``"matching"``,
    where an induction head looks) and on the others (``"other"``); and ``"if even"``, what
    spreading its attention evenly over every token it can see would put on the matching
    ones."""
    weights = attention_weights(model, prompt_ids)  # (layers, batch, heads, length, length)
    rows = EXAMPLE_LENGTH * k + 2 * torch.arange(N_BITS)  # the query bits' positions
    looking = weights[:, :, :, rows, :]  # (layers, batch, heads, bits, length)
    shares = {name: (looking * mask[None, :, None]).sum(-1).mean(dim=(1, 3))
              for name, mask in lookup_positions(prompt_ids, k).items()}
    matching = lookup_positions(prompt_ids, k)["matching"]
    even = (matching.sum(-1).float() / (rows + 1).float()).mean()  # bit j sees 0..rows[j]
    return {**shares, "if even": even.expand_as(shares["matching"])}
# --8<-- [end:induction_share]
