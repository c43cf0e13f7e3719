"""Tests for llm_evolution.generation.sample."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llm_evolution.generation import sample
from llm_evolution.models.bigram import CountBigram, NeuralBigram


class NextIsPlusOne(nn.Module):
    """A deterministic model: after token k, token (k + 1) % vocab with probability 1."""

    def __init__(self, vocab: int = 4):
        super().__init__()
        self.vocab = vocab

    def forward(self, ids, targets=None):
        logits = torch.full((*ids.shape, self.vocab), -1e9)
        logits.scatter_(-1, ((ids + 1) % self.vocab).unsqueeze(-1), 0.0)
        return logits, None


class FixedWindow(nn.Module):
    """A uniform model that, like a transformer with a fixed window, refuses long inputs."""

    def __init__(self, window: int, vocab: int = 3):
        super().__init__()
        self.window, self.vocab = window, vocab
        self.lengths: list[int] = []

    def forward(self, ids, targets=None):
        if ids.size(1) > self.window:
            raise AssertionError(f"got {ids.size(1)} positions, window is {self.window}")
        self.lengths.append(ids.size(1))
        return torch.zeros(*ids.shape, self.vocab), None


def test_shape_and_prompt_preserved():
    torch.manual_seed(0)
    model = NeuralBigram(6)
    prompt = torch.tensor([[1, 2, 3], [4, 5, 0]])
    out = sample(model, prompt, 10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 13)
    assert out.dtype == torch.long
    assert torch.equal(out[:, :3], prompt)
    assert out.min() >= 0 and out.max() < 6


def test_zero_new_tokens_returns_the_prompt():
    prompt = torch.tensor([[1, 2]])
    out = sample(NeuralBigram(3), prompt, 0, generator=torch.Generator())
    assert torch.equal(out, prompt)


def test_same_generator_seed_same_text_and_different_seed_differs():
    model = CountBigram(torch.ones(10, 10))  # uniform: every sequence is possible
    prompt = torch.zeros(3, 1, dtype=torch.long)
    first = sample(model, prompt, 40, generator=torch.Generator().manual_seed(123))
    second = sample(model, prompt, 40, generator=torch.Generator().manual_seed(123))
    other = sample(model, prompt, 40, generator=torch.Generator().manual_seed(124))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_does_not_depend_on_the_global_random_state():
    model = CountBigram(torch.ones(10, 10))
    prompt = torch.zeros(1, 1, dtype=torch.long)
    torch.manual_seed(0)
    first = sample(model, prompt, 20, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(1)
    second = sample(model, prompt, 20, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)


def test_one_hot_distribution_gives_exactly_that_token():
    out = sample(NextIsPlusOne(4), torch.tensor([[2], [0]]), 6,
                 generator=torch.Generator().manual_seed(0))
    assert out.tolist() == [[2, 3, 0, 1, 2, 3, 0], [0, 1, 2, 3, 0, 1, 2]]


def test_one_hot_counted_bigram_table():
    # Without smoothing a table with one count per row is a deterministic cycle 0 -> 2 -> 1 -> 0.
    counts = torch.tensor([[0, 0, 5], [7, 0, 0], [0, 1, 0]])
    out = sample(CountBigram(counts, smoothing=0), torch.tensor([[0]]), 5,
                 generator=torch.Generator().manual_seed(0))
    assert out.tolist() == [[0, 2, 1, 0, 2, 1]]


def test_samples_follow_the_model_distribution():
    # P(next = 1) = 0.8, P(next = 0) = 0.2 from every token
    counts = torch.tensor([[1, 4], [1, 4]])
    out = sample(CountBigram(counts, smoothing=0), torch.zeros(1, 1, dtype=torch.long), 2000,
                 generator=torch.Generator().manual_seed(0))
    share_of_ones = out[0, 1:].float().mean().item()
    assert share_of_ones == pytest.approx(0.8, abs=0.04)  # about 4.5 standard errors


def test_context_size_crops_the_input():
    model = FixedWindow(window=3)
    out = sample(model, torch.zeros(2, 5, dtype=torch.long), 4,
                 generator=torch.Generator().manual_seed(0), context_size=3)
    assert out.shape == (2, 9)
    assert model.lengths == [3, 3, 3, 3]


def test_context_size_crops_to_the_last_tokens():
    # NextIsPlusOne reads only the last position, so check the crop through a recording model.
    seen = []

    class Recorder(NextIsPlusOne):
        def forward(self, ids, targets=None):
            seen.append(ids.clone())
            return super().forward(ids, targets)

    sample(Recorder(4), torch.tensor([[0, 1, 2]]), 2, generator=torch.Generator(), context_size=2)
    assert [s.tolist() for s in seen] == [[[1, 2]], [[2, 3]]]


def test_without_context_size_the_whole_sequence_is_read():
    model = FixedWindow(window=3)
    with pytest.raises(AssertionError, match="got 4 positions"):
        sample(model, torch.zeros(1, 2, dtype=torch.long), 3, generator=torch.Generator())
    assert model.lengths == [2, 3]


def test_restores_training_mode():
    model = NeuralBigram(3).train()
    sample(model, torch.tensor([[0]]), 2, generator=torch.Generator())
    assert model.training
    model.eval()
    sample(model, torch.tensor([[0]]), 2, generator=torch.Generator())
    assert not model.training


@pytest.mark.parametrize("prompt", [torch.tensor([1, 2]), torch.zeros(1, 0, dtype=torch.long),
                                    torch.zeros(1, 2, 1, dtype=torch.long)])
def test_bad_prompt_shape(prompt):
    with pytest.raises(ValueError, match="prompt_ids must have shape"):
        sample(NeuralBigram(3), prompt, 2, generator=torch.Generator())


def test_negative_max_new_tokens():
    with pytest.raises(ValueError, match="max_new_tokens=-1"):
        sample(NeuralBigram(3), torch.tensor([[0]]), -1, generator=torch.Generator())
