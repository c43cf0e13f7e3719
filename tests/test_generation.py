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


# --- chapter 6: temperature, top-k, top-p and generate() for a GPT -----------------------------

from itertools import combinations  # noqa: E402

from llm_evolution.generation import (  # noqa: E402
    apply_temperature,
    generate,
    top_k_filter,
    top_p_filter,
)
from llm_evolution.models.gpt import GPT, GPTConfig  # noqa: E402


def random_logits(rows: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, vocab, generator=torch.Generator().manual_seed(seed)) * 2


def brute_force_top_p(logits_row: torch.Tensor, top_p: float) -> set[int]:
    """The smallest set of tokens whose probability reaches top_p, by trying every subset
    size: for each size the best subset is the most likely tokens, so try the sizes in order."""
    probs = torch.softmax(logits_row.double(), dim=-1)
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i].item())
    for size in range(1, len(ranked) + 1):
        if sum(probs[i].item() for i in ranked[:size]) >= top_p - 1e-12:
            return set(ranked[:size])
    return set(ranked)


def kept(filtered_row: torch.Tensor) -> set[int]:
    return set(torch.nonzero(torch.isfinite(filtered_row)).flatten().tolist())


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    assert torch.equal(apply_temperature(logits, 1.0), logits)
    cold, hot = (torch.softmax(apply_temperature(logits, t), -1) for t in (0.5, 2.0))
    plain = torch.softmax(logits, -1)
    assert cold[0, 0] > plain[0, 0] > hot[0, 0]
    # softmax(z / T) is softmax(z) ** (1/T), renormalised
    expected = plain ** 2 / (plain ** 2).sum()
    assert torch.allclose(cold, expected, atol=1e-6)


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_top_k_keeps_the_k_best(k):
    logits = random_logits(4, 10, seed=k)
    filtered = top_k_filter(logits, k)
    for row in range(4):
        best = set(torch.argsort(logits[row], descending=True)[:min(k, 10)].tolist())
        assert kept(filtered[row]) == best
        assert torch.equal(filtered[row][list(best)], logits[row][list(best)])


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.9, 0.99, 1.0])
def test_top_p_is_the_smallest_set_reaching_p(top_p):
    logits = random_logits(6, 9, seed=int(top_p * 100))
    filtered = top_p_filter(logits, top_p)
    for row in range(6):
        assert kept(filtered[row]) == brute_force_top_p(logits[row], top_p)


def test_top_p_smallest_set_by_exhaustive_search():
    # a second reference that does not rely on "the best set of each size is the top tokens":
    # over every subset, the smallest one reaching p (ties broken by higher probability)
    logits = random_logits(1, 7, seed=3)[0]
    probs = torch.softmax(logits.double(), -1)
    for top_p in (0.2, 0.6, 0.85):
        best = None
        for size in range(1, 8):
            for subset in combinations(range(7), size):
                mass = probs[list(subset)].sum().item()
                if mass >= top_p and (best is None or mass > best[1]):
                    best = (set(subset), mass)
            if best is not None:
                break
        assert kept(top_p_filter(logits[None], top_p)[0]) == best[0]


def test_top_p_always_keeps_the_top_token():
    logits = torch.tensor([[0.0, 0.0, 5.0, 0.0]])
    assert kept(top_p_filter(logits, 1e-9)[0]) == {2}


def test_filters_equal_transformers_logits_warpers():
    transformers = pytest.importorskip("transformers")
    logits = random_logits(8, 50, seed=7)
    for k in (1, 5, 49):
        theirs = transformers.TopKLogitsWarper(top_k=k)(None, logits.clone())
        assert torch.equal(top_k_filter(logits, k), theirs)
    for p in (0.1, 0.5, 0.95):
        theirs = transformers.TopPLogitsWarper(top_p=p)(None, logits.clone())
        assert torch.equal(top_p_filter(logits, p), theirs)
    theirs = transformers.TemperatureLogitsWarper(0.7)(None, logits.clone())
    assert torch.allclose(apply_temperature(logits, 0.7), theirs)


@pytest.mark.parametrize("bad, match", [(0.0, "temperature=0.0"), (-0.5, "temperature=-0.5")])
def test_temperature_errors(bad, match):
    with pytest.raises(ValueError, match=match + ".*greedy=True"):
        apply_temperature(torch.zeros(3), bad)


def test_filter_errors():
    with pytest.raises(ValueError, match="top_k=0"):
        top_k_filter(torch.zeros(3), 0)
    for bad in (0.0, -0.1, 1.01):
        with pytest.raises(ValueError, match=f"top_p={bad}"):
            top_p_filter(torch.zeros(3), bad)


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=12, context_size=32, d_model=16, n_heads=2, n_layers=1))
    with torch.no_grad():  # sharper-than-init weights so the distribution is far from uniform
        for param in model.parameters():
            param.mul_(20)
    return model.eval()


def test_greedy_takes_the_argmax_at_every_step():
    model = tiny_gpt()
    out = generate(model, torch.tensor([[1, 2]]), 8, greedy=True)
    with torch.no_grad():
        for t in range(2, 10):
            logits, _ = model(out[:, :t])
            assert out[0, t].item() == logits[0, -1].argmax().item()


@pytest.mark.parametrize("use_cache", [True, False])
def test_past_the_context_the_window_slides(use_cache):
    """nanoGPT's rule, checked step by step: each new token is the argmax of the model on the
    last context_size tokens (32 here), with and without the cache, from a short prompt and
    from one already longer than the context."""
    model = tiny_gpt()
    context = model.config.context_size
    for prompt in (torch.tensor([[1, 2]]), torch.arange(40)[None] % 12):
        out = generate(model, prompt, 45, greedy=True, use_cache=use_cache)
        assert out.shape == (1, prompt.size(1) + 45)
        assert torch.equal(out[:, :prompt.size(1)], prompt)
        with torch.no_grad():
            for t in range(prompt.size(1), out.size(1)):
                logits, _ = model(out[:, max(0, t - context):t])
                assert out[0, t].item() == logits[0, -1].argmax().item(), (prompt.size(1), t)


def test_top_k_1_is_greedy_and_tiny_temperature_is_greedy():
    model = tiny_gpt()
    prompt = torch.tensor([[3], [7]])
    greedy = generate(model, prompt, 10, greedy=True)
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(generate(model, prompt, 10, top_k=1, generator=generator), greedy)
    assert torch.equal(generate(model, prompt, 10, temperature=1e-4, generator=generator), greedy)


def test_sampled_tokens_stay_inside_the_top_k():
    # A high temperature makes every token likely; top-k must still allow only the k best.
    model = tiny_gpt()
    prompt = torch.zeros(200, 1, dtype=torch.long)
    with torch.no_grad():
        logits, _ = model(prompt[:1])
    allowed = set(torch.topk(logits[0, -1], 3).indices.tolist())
    out = generate(model, prompt, 1, temperature=100.0, top_k=3,
                   generator=torch.Generator().manual_seed(1))
    assert set(out[:, 1].tolist()) == allowed  # 200 draws: each allowed token, nothing else
    unfiltered = generate(model, prompt, 1, temperature=100.0,
                          generator=torch.Generator().manual_seed(1))
    assert len(set(unfiltered[:, 1].tolist())) > 6


def test_generate_is_deterministic_given_the_generator_seed():
    model = tiny_gpt()
    prompt = torch.zeros(2, 1, dtype=torch.long)
    runs = [generate(model, prompt, 20, top_p=0.9, generator=torch.Generator().manual_seed(s))
            for s in (4, 4, 5)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_generate_restores_training_mode():
    model = tiny_gpt().train()
    generate(model, torch.tensor([[0]]), 2, greedy=True)
    assert model.training
