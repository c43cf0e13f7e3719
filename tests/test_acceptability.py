"""Tests for llm_evolution.acceptability (chapter 5's word-order task) and the few-label sweep
on a task other than the genre one."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
import torch

from llm_evolution.acceptability import Line, acceptability_lines, shuffle_words
from llm_evolution.models.bert import Bert, BertConfig, BertForSequenceClassification
from llm_evolution.pretraining import (
    bert_tokenizer,
    copy_encoder,
    genre_speeches,
    label_sweep,
)


def test_shuffle_words_moves_only_lower_case_words():
    words = "O Romeo, Romeo, wherefore art thou Romeo? Deny thy father".split()
    for seed in range(20):
        shuffled = shuffle_words(words, random.Random(seed))
        assert shuffled != words
        for original, new in zip(words, shuffled):
            # Capitalised words stay put; punctuation stays on its position.
            if original[0].isupper():
                assert new == original
            assert (new[-1] in ",?") == (original[-1] in ",?")
        moved = [w for w in words if w[0].islower()]
        assert Counter(w for w in shuffled if w[0].islower()) == Counter(moved)


def test_shuffle_words_refuses_a_line_it_cannot_change():
    with pytest.raises(ValueError, match="fewer than two different lower-case words"):
        shuffle_words("Good night, Horatio.".split(), random.Random(0))
    with pytest.raises(ValueError, match="fewer than two different lower-case words"):
        shuffle_words("the the THE".split(), random.Random(0))


def test_acceptability_lines_are_balanced_and_follow_the_speeches():
    lines, speeches = acceptability_lines(), genre_speeches()
    assert acceptability_lines() is lines  # built once
    for split in ("train", "test"):
        assert len(lines[split]) == len(speeches[split])
        written = sum(line.label for line in lines[split]) / len(lines[split])
        assert 0.45 < written < 0.55
        for line, speech in zip(lines[split], speeches[split]):
            first = speech.text.split()[:12]
            if line.label == 1:
                assert line.text == " ".join(first)
            else:
                assert line.text != " ".join(first)  # the same letters, in another order
                assert letters(line.text) == letters(" ".join(first))
    # Another seed shuffles other lines.
    assert acceptability_lines(seed=1)["train"] != lines["train"]


def letters(text: str) -> Counter:
    return Counter(re.findall(r"[A-Za-z]+", text))


@pytest.fixture
def tiny():
    return BertConfig(vocab_size=bert_tokenizer(300).vocab_size, max_position=16, d_model=16,
                      n_heads=2, n_layers=1, d_ff=32, dropout=0.0)


def test_copy_encoder_leaves_an_unused_pooler_behind(tiny):
    torch.manual_seed(0)
    with_pooler = Bert(tiny, add_pooler=True)  # as MiniLM comes
    averaging = BertForSequenceClassification(tiny, 2, pooling="mean")
    copy_encoder(averaging, with_pooler)
    ids = torch.randint(4, tiny.vocab_size, (3, 7), generator=torch.Generator().manual_seed(1))
    assert torch.equal(averaging.bert(ids), with_pooler.eval()(ids))
    reading_cls = BertForSequenceClassification(tiny, 2, pooling="cls")
    copy_encoder(reading_cls, with_pooler)  # the pooler is copied too
    assert torch.equal(reading_cls.bert.pooler.weight, with_pooler.pooler.weight)


def test_label_sweep_runs_every_start_on_any_two_class_task(tiny):
    rows = [Line(f"the word number {i} is here", i % 2) for i in range(12)]
    task = {"train": rows[:8], "test": rows[8:]}
    config = {"vocab_size": 300, "length": 16, "pooling": "mean", "batch_size": 4,
              "steps": 2, "lr": 1e-3, "probe_lr": 1e-2, "whole_minilm_lr": 5e-5,
              "warmup_steps": 1}
    results = label_sweep(Bert(tiny, add_pooler=False), config, seeds=(0, 1),
                          label_counts=(2, 4), examples=task, whole_minilm_counts=(2,))
    assert set(results) == {f"{start} {n}" for start in ("scratch", "pretrained", "minilm")
                            for n in (2, 4)} | {"minilm-whole 2"}
    for accuracies in results.values():
        assert len(accuracies) == 2
        assert all(a in (0.0, 0.25, 0.5, 0.75, 1.0) for a in accuracies)
