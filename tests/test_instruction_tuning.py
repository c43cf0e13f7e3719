"""Chapter 10's training pieces: the grown vocabulary, the response-only loss, the batches,
the one-pass exact match against real greedy decoding, and replay batches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.data.chat import CHAT_TOKENS
from llm_evolution.data.instructions import evaluation_examples, training_examples
from llm_evolution.domain_adaptation import replay_windows
from llm_evolution.generation import generate
from llm_evolution.instruction_tuning import (
    ResponseLoss,
    chat_tokenizer,
    encode_examples,
    exact_match,
    example_batches,
    with_chat_tokens,
)
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import train


def small_gpt(vocab_size: int) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab_size, context_size=64, d_model=32, n_heads=4,
                         n_layers=2))


def test_new_rows_are_the_mean_and_old_rows_unchanged():
    base = small_gpt(50)
    grown = with_chat_tokens(base, 4)
    old = base.token_embedding.weight
    new = grown.token_embedding.weight
    assert new.shape == (54, 32)
    assert torch.equal(new[:50], old)
    torch.testing.assert_close(new[50:], old.mean(dim=0).expand(4, -1))
    ids = torch.randint(50, (2, 10), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(grown(ids)[0][..., :50], base(ids)[0], rtol=0, atol=1e-6)


def test_response_loss_is_the_masked_cross_entropy():
    tokenizer = chat_tokenizer()
    model = small_gpt(tokenizer.vocab_size)
    inputs, targets, trained = encode_examples(training_examples(("words",), 8), tokenizer, 64)
    _, loss = ResponseLoss(model)(inputs, targets, trained)
    logits, _ = model(inputs)
    expected = F.cross_entropy(logits[trained], targets[trained])  # the head at every position
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_batches_hold_examples_of_similar_length_cut_to_the_longest():
    tokenizer = chat_tokenizer()
    encoded = encode_examples(training_examples(("words", "numbers"), 200), tokenizer, 64)
    batch = example_batches(encoded, 16)(torch.Generator().manual_seed(0))
    inputs, targets, trained = batch
    assert inputs.shape == targets.shape == trained.shape and inputs.size(0) == 16
    assert inputs.size(1) < encoded[0].size(1)  # less padding than the longest example
    assert trained[:, -1].any()  # the longest row of the batch ends at the cut
    with pytest.raises(ValueError, match="batch_size=0"):
        example_batches(encoded, 0)


def test_exact_match_agrees_with_greedy_decoding():
    """The one-pass check against the real thing: decode each prompt greedily and compare."""
    tokenizer = chat_tokenizer()
    model = small_gpt(tokenizer.vocab_size)
    examples = training_examples(("numbers",), 64, seed=2)
    # A little training, so that some answers are right and some wrong.
    train(ResponseLoss(model), example_batches(encode_examples(examples, tokenizer, 64), 16),
          steps=150, lr=3e-3, eval_every=150, progress=False)
    fast = exact_match(model, examples, tokenizer)
    slow = []
    for example in examples:
        prompt = torch.tensor([tokenizer.encode_prompt([("user", example.prompt())])])
        answer = tokenizer.encode(example.reply()) + [tokenizer.end_id]
        new = generate(model, prompt, len(answer), greedy=True)[0, prompt.size(1):].tolist()
        slow.append(new == answer)
    assert fast == slow
    assert 0 < sum(fast) < len(fast)


def test_replay_batches_mix_the_two_domains():
    new, old = torch.arange(0, 1000), torch.arange(5000, 6000)
    inputs, targets = replay_windows(new, old, 8, 16, 4)(torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (16, 8)
    assert (inputs[:12] < 1000).all() and (inputs[12:] >= 5000).all()
    assert torch.equal(targets[:, :-1], inputs[:, 1:])
    with pytest.raises(ValueError, match="replay_rows=16"):
        replay_windows(new, old, 8, 16, 16)


def test_evaluation_covers_every_kind_for_the_three_cluster_model():
    kinds = {e.kind for e in evaluation_examples(("words", "numbers", "plays"), per_task=2)}
    assert kinds == {"seen", "new_phrasing", "new_composition", "new_cluster"}
    assert len(CHAT_TOKENS) == 4
