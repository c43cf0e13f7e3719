"""Chapter 6's helpers: the BPE corpus, bits per character, temperature and the KV-cache timing."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.data.text import BPE_VOCAB_SIZE, bpe_corpus, char_corpus
from llm_evolution.evaluation import bits_per_character, held_out_nats
from llm_evolution.generation import kv_cache_seconds, temperature_probabilities
from llm_evolution.models.gpt import GPT, GPTConfig


def small_gpt(vocab: int = 30, context: int = 8, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, context_size=context, d_model=16, n_heads=2,
                         n_layers=1)).eval()


def test_bpe_corpus_is_the_same_text_losslessly():
    """Bits per character is only fair if the BPE ids are exactly the held-out text."""
    corpus, bpe = char_corpus(), bpe_corpus()
    assert bpe.tokenizer.vocab_size == BPE_VOCAB_SIZE
    assert bpe.tokenizer.decode(bpe.val_ids.tolist()) == corpus.val_text
    assert int(bpe.train_ids.max()) < BPE_VOCAB_SIZE
    # Merges make tokens of several characters: far fewer tokens than characters.
    assert len(bpe.val_ids) < 0.6 * len(corpus.val_text)


@pytest.mark.parametrize("length", [2, 9, 17, 30])  # one partial window, exact fits, a remainder
def test_held_out_nats_matches_a_token_by_token_reference(length):
    model = small_gpt()
    ids = torch.randint(0, 30, (length,), generator=torch.Generator().manual_seed(length))
    context = model.config.context_size
    reference = 0.0
    with torch.no_grad():
        # Independent of the batching: each window of at most `context` inputs on its own.
        for start in range(0, length - 1, context):
            inputs = ids[start:start + context][: len(ids[start + 1:start + 1 + context])]
            targets = ids[start + 1:start + 1 + context]
            log_probs = F.log_softmax(model(inputs[None])[0][0], dim=-1)
            reference -= log_probs.gather(1, targets[:, None]).sum().item()
    assert held_out_nats(model, ids, batch_size=2) == pytest.approx(reference, rel=1e-5)


def test_a_model_that_knows_nothing_costs_log2_vocab_bits_per_token():
    model = small_gpt(vocab=32)
    with torch.no_grad():
        model.token_embedding.weight.zero_()  # all logits 0: uniform over 32 tokens
    ids = torch.randint(0, 32, (41,), generator=torch.Generator().manual_seed(0))
    # 40 predicted tokens, 5 bits each, spread over (say) 80 characters.
    assert bits_per_character(model, ids, 80) == pytest.approx(40 * 5 / 80, rel=1e-6)


def test_held_out_nats_rejects_bad_ids():
    with pytest.raises(ValueError, match="1-D"):
        held_out_nats(small_gpt(), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="at least 2"):
        held_out_nats(small_gpt(), torch.zeros(1, dtype=torch.long))


def test_temperature_sharpens_and_flattens():
    model = small_gpt()
    probs = temperature_probabilities(model, torch.tensor([[1, 2, 3]]), (0.5, 1.0, 2.0))
    entropy = {t: -(p * p.log()).sum().item() for t, p in probs.items()}
    assert entropy[0.5] < entropy[1.0] < entropy[2.0]
    with torch.no_grad():
        expected = F.softmax(model(torch.tensor([[1, 2, 3]]))[0][0, -1].double(), dim=-1)
    torch.testing.assert_close(probs[1.0], expected)
    assert all(math.isclose(p.sum().item(), 1.0) for p in probs.values())


def test_kv_cache_seconds_measures_both_ways():
    seconds = kv_cache_seconds.measure_again(new_tokens=(4, 8), prompt_length=8)
    assert list(seconds) == [4, 8]
    assert all(len(pair) == 2 and min(pair) > 0 for pair in seconds.values())


@pytest.mark.serial  # a timing: run alone
def test_the_cache_saves_more_the_longer_the_text():
    """The page's claim, on the measurement it prints (the same call, read from the cache):
    the cache's speed-up on the longest text is at least one and a half times that on the
    shortest (about three to five times on 2 cores)."""
    seconds = kv_cache_seconds()
    speedup = {n: without / with_cache for n, (without, with_cache) in seconds.items()}
    assert speedup[max(speedup)] > 1.5 * speedup[min(speedup)], (
        speedup, "measured once on this machine and stored: if it was busy then, measure "
                 "again with LLM_EVOLUTION_REMEASURE=1")
