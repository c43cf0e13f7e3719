"""Tests for llm_evolution.masked_lm_scores, on a fake masked LM whose guesses are known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llm_evolution.masked_lm_scores import accuracy_by_input, accuracy_on_words, is_word
from llm_evolution.models.bert import IGNORE_INDEX
from llm_evolution.pretraining import MASK_ID, bert_tokenizer


class Copier(nn.Module):
    """Guesses the token its input shows at a graded position (a [MASK] becomes id 5)."""

    def forward(self, inputs, labels):
        shown = inputs[labels != IGNORE_INDEX]
        guesses = torch.where(shown == MASK_ID, 5, shown)
        return nn.functional.one_hot(guesses, 20).float(), None


def test_accuracy_by_input_splits_the_grade_by_what_the_input_shows():
    # graded: [MASK] over 5 (right), [MASK] over 7 (wrong), 9 shown over 9 (right),
    # 11 shown over 12 (wrong, a random token); position 4 is not graded.
    inputs = torch.tensor([[MASK_ID, MASK_ID, 9, 11, 13]])
    labels = torch.tensor([[5, 7, 9, 12, IGNORE_INDEX]])
    scores = accuracy_by_input(Copier(), [(inputs, labels)])
    assert scores == {"[MASK]": (2, 0.5), "a random token": (1, 0.0),
                      "the token itself": (1, 1.0)}


def test_words_are_tokens_with_a_letter():
    tokenizer = bert_tokenizer(300)
    word = tokenizer.encode(" the")[0]
    newline = tokenizer.encode("\n")[0]
    assert is_word(tokenizer, word) and not is_word(tokenizer, newline)


def test_accuracy_on_words_keeps_the_mask_positions_and_compares_with_the_commonest():
    tokenizer = bert_tokenizer(300)
    the, newline = tokenizer.encode(" the")[0], tokenizer.encode("\n")[0]
    train_ids = torch.tensor([the, the, the, newline, newline])

    class GuessesNewline(nn.Module):
        def forward(self, inputs, labels):
            graded = int((labels != IGNORE_INDEX).sum())
            return nn.functional.one_hot(torch.full((graded,), newline),
                                         tokenizer.vocab_size).float(), None

    inputs = torch.tensor([[MASK_ID, MASK_ID, MASK_ID, the]])
    labels = torch.tensor([[the, newline, newline, the]])  # the last shows its token: left out
    scores = accuracy_on_words(GuessesNewline(), [(inputs, labels)], tokenizer, train_ids)
    assert scores["words"] == (1, 0.0, 1.0, " the")
    assert scores["punctuation, spaces, line breaks"] == (2, 1.0, 1.0, "\n")
