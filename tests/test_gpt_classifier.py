"""Tests for llm_evolution.models.gpt_classifier: the classifier reads the GPT's own final
vectors, at the last real token, and padding after the text changes nothing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.gpt_fine_tuning import encode_for_gpt
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.models.gpt_classifier import GPTForSequenceClassification, final_hidden_states
from llm_evolution.tokenizers import ByteLevelBPE

CONFIG = GPTConfig(vocab_size=50, context_size=16, d_model=24, n_heads=2, n_layers=2)


def test_final_hidden_states_give_the_gpts_logits():
    torch.manual_seed(0)
    gpt = GPT(CONFIG).eval()
    ids = torch.randint(0, 50, (3, 10), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = F.linear(final_hidden_states(gpt, ids), gpt.token_embedding.weight)
        torch.testing.assert_close(logits, gpt(ids)[0], rtol=0, atol=0)


def test_padding_after_the_text_changes_nothing():
    torch.manual_seed(0)
    model = GPTForSequenceClassification(CONFIG, 3).eval()
    text = torch.tensor([[5, 9, 2, 7]])
    padded = torch.tensor([[5, 9, 2, 7, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0, 0]])
    with torch.no_grad():
        torch.testing.assert_close(model(padded, None, mask)[0], model(text)[0])
        assert not torch.allclose(model(padded)[0], model(text)[0])  # read at the last pad


def test_loss_is_cross_entropy_of_the_logits():
    torch.manual_seed(0)
    model = GPTForSequenceClassification(CONFIG, 2)
    ids, labels = torch.randint(0, 50, (4, 6)), torch.tensor([0, 1, 1, 0])
    logits, loss = model(ids, labels)
    torch.testing.assert_close(loss, F.cross_entropy(logits, labels))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="n_classes=1"):
        GPTForSequenceClassification(CONFIG, 1)
    model = GPTForSequenceClassification(CONFIG, 2)
    with pytest.raises(ValueError, match="attention_mask \\(1, 3\\) must have the shape"):
        model(torch.zeros(1, 4, dtype=torch.long), None, torch.ones(1, 3, dtype=torch.long))


def test_encode_for_gpt_pads_after_the_text_and_cuts_long_ones():
    tokenizer = ByteLevelBPE([])  # bytes only: one token per character here
    short, long = "To be.", "To be, or not to be, that is the question. " * 4
    ids, mask = encode_for_gpt([short, long], tokenizer, 12)
    n_short = len(tokenizer.encode(short))
    assert mask[0].tolist() == [1] * n_short + [0] * (12 - n_short)
    assert ids[0, :n_short].tolist() == tokenizer.encode(short)
    assert mask[1].tolist() == [1] * 12 and ids[1].tolist() == tokenizer.encode(long)[:12]
