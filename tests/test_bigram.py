"""Tests for llm_evolution.models.bigram: counts, the counted and the neural bigram model."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.models.bigram import CountBigram, NeuralBigram, bigram_counts
from llm_evolution.tokenizers import CharTokenizer

TEXT = "abracadabra, cabbage"


@pytest.fixture
def encoded():
    tokenizer = CharTokenizer.from_text(TEXT)
    return tokenizer, torch.tensor(tokenizer.encode(TEXT))


# ---------------------------------------------------------------------------- counts


def test_bigram_counts_equals_counter_of_adjacent_pairs(encoded):
    tokenizer, ids = encoded
    counts = bigram_counts(ids, tokenizer.vocab_size)
    expected = Counter(zip(TEXT, TEXT[1:]))
    assert counts.shape == (tokenizer.vocab_size, tokenizer.vocab_size)
    for a in tokenizer.chars:
        for b in tokenizer.chars:
            i, j = tokenizer.encode(a + b)
            assert counts[i, j].item() == expected[(a, b)], (a, b)
    assert counts.sum().item() == len(TEXT) - 1


def test_bigram_counts_by_hand():
    # 0 1 0 1 1: pairs (0,1) twice, (1,0) once, (1,1) once
    counts = bigram_counts(torch.tensor([0, 1, 0, 1, 1]), 3)
    assert counts.tolist() == [[0, 2, 0], [1, 1, 0], [0, 0, 0]]


def test_bigram_counts_accepts_int32():
    ids = torch.tensor([0, 1, 0, 1, 1])
    assert torch.equal(bigram_counts(ids.int(), 3), bigram_counts(ids, 3))


# ---------------------------------------------------------------------------- CountBigram


def test_count_bigram_rows_are_distributions(encoded):
    tokenizer, ids = encoded
    model = CountBigram(bigram_counts(ids, tokenizer.vocab_size))
    probs = model.log_probs.exp()
    assert torch.allclose(probs.sum(dim=1), torch.ones(tokenizer.vocab_size), atol=1e-6)
    assert (probs > 0).all()  # add-one smoothing: no pair is impossible


def test_count_bigram_without_smoothing_is_maximum_likelihood():
    counts = torch.tensor([[0, 2, 0], [1, 1, 0], [0, 3, 1]])
    probs = CountBigram(counts, smoothing=0).log_probs.exp()
    expected = torch.tensor([[0, 1, 0], [0.5, 0.5, 0], [0, 0.75, 0.25]])
    assert torch.allclose(probs, expected, atol=1e-6)
    assert probs[0, 0].item() == 0.0  # an unseen pair gets probability exactly 0


def test_count_bigram_add_one_smoothing_by_hand():
    counts = torch.tensor([[0, 2, 0], [1, 1, 0], [0, 3, 1]])
    probs = CountBigram(counts, smoothing=1.0).log_probs.exp()
    vocab = 3
    for a in range(vocab):
        row = counts[a].sum().item()
        for b in range(vocab):
            expected = (counts[a, b].item() + 1) / (row + vocab)
            assert probs[a, b].item() == pytest.approx(expected, rel=1e-6)


def test_count_bigram_fractional_smoothing():
    counts = torch.tensor([[4, 0], [1, 1]])
    probs = CountBigram(counts, smoothing=0.5).log_probs.exp()
    assert probs[0].tolist() == pytest.approx([4.5 / 5, 0.5 / 5], rel=1e-6)


def test_count_bigram_logits_are_rows_of_the_table(encoded):
    tokenizer, ids = encoded
    model = CountBigram(bigram_counts(ids, tokenizer.vocab_size))
    inputs = ids[:-1].view(1, -1)
    logits, loss = model(inputs)
    assert logits.shape == (1, len(ids) - 1, tokenizer.vocab_size)
    assert loss is None
    for t, i in enumerate(inputs[0].tolist()):
        assert torch.equal(logits[0, t], model.log_probs[i])


def test_count_bigram_loss_is_mean_negative_log_probability(encoded):
    tokenizer, ids = encoded
    counts = bigram_counts(ids, tokenizer.vocab_size)
    model = CountBigram(counts)
    inputs, targets = ids[:-1].view(1, -1), ids[1:].view(1, -1)
    _, loss = model(inputs, targets)

    # By hand, in float64, from the counts: P(b | a) = (c[a, b] + 1) / (row[a] + V).
    vocab = tokenizer.vocab_size
    nll = [
        -math.log((counts[a, b].item() + 1) / (counts[a].sum().item() + vocab))
        for a, b in zip(inputs[0].tolist(), targets[0].tolist())
    ]
    assert loss.item() == pytest.approx(sum(nll) / len(nll), rel=1e-5)


def test_loss_equals_torch_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    counts = torch.randint(0, 5, (6, 6), generator=generator)
    model = CountBigram(counts)
    inputs = torch.randint(0, 6, (3, 7), generator=generator)
    targets = torch.randint(0, 6, (3, 7), generator=generator)
    logits, loss = model(inputs, targets)
    expected = F.cross_entropy(logits.permute(0, 2, 1), targets)  # (batch, classes, time) layout
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    # the logits are log-probabilities, so log_softmax leaves them unchanged
    assert torch.allclose(F.log_softmax(logits, dim=-1), logits, atol=1e-5)


# ---------------------------------------------------------------------------- NeuralBigram


def test_neural_bigram_shapes_and_loss():
    torch.manual_seed(0)
    model = NeuralBigram(5)
    inputs = torch.tensor([[0, 1, 2], [4, 3, 2]])
    targets = torch.tensor([[1, 2, 3], [3, 2, 1]])
    logits, loss = model(inputs, targets)
    assert logits.shape == (2, 3, 5)
    assert torch.equal(logits[1, 0], model.logits_table.weight[4])  # row of the current token
    expected = F.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert model.logits_table.weight.grad is not None
    assert model(inputs)[1] is None


def test_neural_bigram_needs_two_tokens():
    with pytest.raises(ValueError, match="vocab_size=1"):
        NeuralBigram(1)


# ---------------------------------------------------------------------------- errors


@pytest.fixture(params=["count", "neural"])
def model(request):
    if request.param == "count":
        return CountBigram(torch.ones(4, 4))
    return NeuralBigram(4)


def test_float_ids_raise(model):
    with pytest.raises(ValueError, match=r"ids must be an integer tensor.*float32"):
        model(torch.zeros(1, 3))


@pytest.mark.parametrize("bad", [4, -1])
def test_ids_out_of_range_raise(model, bad):
    with pytest.raises(ValueError, match=r"ids holds ids outside \[0, 4\)"):
        model(torch.tensor([[0, bad]]))


def test_targets_of_wrong_shape_raise(model):
    with pytest.raises(ValueError, match=r"targets have shape \(1, 2\).*\(1, 3\)"):
        model(torch.tensor([[0, 1, 2]]), torch.tensor([[1, 2]]))


def test_bigram_counts_checks_ids():
    with pytest.raises(ValueError, match="ids"):
        bigram_counts(torch.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match="ids must be an integer tensor"):
        bigram_counts(torch.tensor([0.0, 1.0]), 3)


@pytest.mark.parametrize("shape", [(3, 4), (3,), (2, 2, 2)])
def test_non_square_counts_raise(shape):
    with pytest.raises(ValueError, match="counts must be a square"):
        CountBigram(torch.ones(shape))


def test_negative_smoothing_raises():
    with pytest.raises(ValueError, match=r"smoothing=-0.5"):
        CountBigram(torch.ones(3, 3), smoothing=-0.5)
