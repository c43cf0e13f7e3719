"""Tests for llm_evolution.induction: attention weights recomputed from a GPT's layers, and
the induction targets of chapter 7's prompts."""

from __future__ import annotations

import pytest
import torch

from llm_evolution.data.tasks import EXAMPLE_LENGTH, N_BITS, VOCAB
from llm_evolution.induction import (
    attention_parts,
    attention_weights,
    induction_share,
    lookup_positions,
)
from llm_evolution.models.gpt import GPT, GPTConfig


def small_gpt() -> GPT:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=3, context_size=3 * EXAMPLE_LENGTH, d_model=16, n_heads=2,
                          n_layers=2))
    with torch.no_grad():  # weights far from the initial ones, so attention is not uniform
        for param in model.parameters():
            param.add_(0.3 * torch.randn_like(param))
    return model.eval()


def test_the_weights_times_the_values_give_each_layers_output():
    """Our softmax(QK^T / sqrt(d)) with the causal mask, against the layer's fused kernel
    (torch.nn.functional.scaled_dot_product_attention) on the same input."""
    model = small_gpt()
    ids = torch.randint(0, 3, (4, 3 * EXAMPLE_LENGTH), generator=torch.Generator().manual_seed(1))
    seen = []
    hooks = [block.attn.register_forward_hook(
        lambda module, args, output: seen.append((module, args[0], output)))
        for block in model.blocks]
    with torch.no_grad():
        model(ids)
        for module, x, output in seen:
            weights, values = attention_parts(module, x)
            mixed = (weights @ values).transpose(1, 2).reshape(x.shape)
            torch.testing.assert_close(module.out_proj(mixed), output, rtol=1e-5, atol=1e-5)
    for hook in hooks:
        hook.remove()
    assert len(seen) == 2


def test_weights_are_causal_rows_that_sum_to_one():
    weights = attention_weights(small_gpt(), torch.zeros(2, 10, dtype=torch.long))
    assert weights.shape == (2, 2, 2, 10, 10)  # layers, batch, heads, length, length
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 2, 10))
    assert torch.all(weights.triu(diagonal=1) == 0)


def prompt(examples: list[tuple[str, str]], query: str) -> torch.Tensor:
    """Token ids of solved examples ("0110", "0111") and a query with placeholder outputs."""
    text = "".join("".join(a + b for a, b in zip(x, y)) + ";" for x, y in examples)
    text += "".join(bit + "0" for bit in query) + ";"
    return torch.tensor([[VOCAB.index(c) for c in text]])


def test_lookup_positions_split_the_earlier_outputs_by_whether_the_input_matches():
    ids = prompt([("0110", "0111"), ("1100", "1101")], query="0100")
    masks = lookup_positions(ids, k=2)
    assert masks["matching"].shape == masks["other"].shape == (1, N_BITS, ids.size(1))
    matching = {  # query bit -> output positions of the examples with the same input bit
        0: [1],                       # query 0; example 1 has 0 at bit 0, example 2 has 1
        1: [3, EXAMPLE_LENGTH + 3],   # query 1; both examples have 1 at bit 1
        2: [EXAMPLE_LENGTH + 5],      # query 0; only example 2 has 0 at bit 2
        3: [7, EXAMPLE_LENGTH + 7],   # query 0; both have 0 at bit 3
    }
    other = {0: [EXAMPLE_LENGTH + 1], 1: [], 2: [5], 3: []}
    for bit in range(N_BITS):
        assert masks["matching"][0, bit].nonzero().flatten().tolist() == matching[bit], bit
        assert masks["other"][0, bit].nonzero().flatten().tolist() == other[bit], bit


def test_induction_share_is_a_share_and_even_is_the_count_over_what_is_visible():
    ids = prompt([("0110", "0111"), ("1100", "1101")], query="0100")
    share = induction_share(small_gpt(), ids, k=2)
    assert share["matching"].shape == share["other"].shape == (2, 2)
    total = share["matching"] + share["other"]
    assert torch.all((share["matching"] >= 0) & (total <= 1 + 1e-6))
    rows = 2 * EXAMPLE_LENGTH + 2 * torch.arange(N_BITS)  # the query bits' positions
    counts = torch.tensor([1.0, 2.0, 1.0, 2.0])
    assert share["if even"][0, 0].item() == pytest.approx((counts / (rows + 1)).mean().item())
