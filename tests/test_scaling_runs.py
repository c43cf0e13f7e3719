"""Tests for chapter 8's measurement code: how N is counted, the compute frontier of a sweep,
the percentile interval, and the published models' compute."""

from __future__ import annotations

import pytest
import torch

from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.published_models import PUBLISHED_MODELS, PublishedModel, training_flops
from llm_evolution.scaling_runs import (
    compute_frontier,
    counted_training_flops,
    interval,
    non_embedding_parameters,
)


def test_non_embedding_parameters_follow_the_block_formula():
    """Per layer: attention 4 d^2 + 4 d, feed-forward 8 d^2 + 5 d, two layer norms 4 d; then
    the final layer norm, 2 d (Kaplan et al.'s 12 d^2 per layer, with the biases and norms)."""
    layers, width = 3, 48
    model = GPT(GPTConfig(vocab_size=74, context_size=64, d_model=width, n_heads=4,
                          n_layers=layers))
    expected = layers * (12 * width**2 + 13 * width) + 2 * width
    assert non_embedding_parameters(model) == expected


def test_counted_flops_are_six_per_parameter_per_token_for_a_wide_model():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=74, context_size=16, d_model=256, n_heads=4, n_layers=2))
    inputs = torch.randint(74, (4, 16))
    counted = counted_training_flops(model, inputs, inputs)
    assert counted == pytest.approx(6 * non_embedding_parameters(model) * inputs.numel(),
                                    rel=0.05)
    assert all(p.grad is None for p in model.parameters())  # the count leaves no gradients


def row(parameters: int, tokens: int, loss: float) -> dict:
    return {"parameters": parameters, "tokens": tokens, "loss": loss}


def test_the_frontier_keeps_the_runs_no_cheaper_run_beats():
    rows = [row(10, 100, 3.0), row(100, 100, 2.5), row(10, 1000, 2.0),  # C = 1e3, 1e4, 1e4
            row(100, 1000, 2.2), row(1000, 1000, 1.9)]  # C = 1e5, 1e6
    frontier = compute_frontier(rows)
    assert [(r["parameters"], r["tokens"]) for r in frontier] == [(10, 100), (100, 100),
                                                                  (10, 1000), (1000, 1000)]


def test_interval_is_the_central_share_of_the_values():
    assert interval([float(v) for v in range(101)]) == (5.0, 95.0)
    assert interval([3.0, 1.0, 2.0], coverage=1.0) == (1.0, 3.0)


def test_published_compute_prefers_the_papers_figure_then_6nd():
    by_name = {model.name: model for model in PUBLISHED_MODELS}
    assert training_flops(by_name["GPT-3"]) == 3.14e23  # Brown et al., Table D.1
    assert training_flops(by_name["PaLM"]) == pytest.approx(6 * 540e9 * 780e9)
    assert training_flops(by_name["GPT-2"]) is None  # no token count, no compute
    assert all(isinstance(model, PublishedModel) for model in PUBLISHED_MODELS)
    dates = [model.when for model in PUBLISHED_MODELS]
    assert dates == sorted(dates)



def test_training_setups_multiply_to_their_accelerator_counts():
    """Where a paper gives every degree, tensor x pipeline x data is its number of chips."""
    import re

    from llm_evolution.published_models import TRAINING_SETUPS

    checked = 0
    for setup in TRAINING_SETUPS:
        degrees = (setup.tensor, setup.pipeline, setup.data)
        if all(isinstance(d, int) for d in degrees):
            chips = int(re.match(r"[\d,]+", setup.accelerators).group().replace(",", ""))
            assert setup.tensor * setup.pipeline * setup.data == chips, setup.name
            checked += 1
        else:
            assert all(isinstance(d, int) or d in ("used", "?") for d in degrees), setup.name
        assert "arXiv:" in setup.source
    assert checked == 2  # Megatron-LM and PaLM
