"""Tests for llm_evolution.timing."""

from __future__ import annotations

import time

import pytest
import torch

from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.timing import median_seconds, step_seconds


@pytest.mark.serial  # a timing: run alone
def test_median_ignores_one_slow_call_and_counts_warmup_separately():
    calls = []

    def run():
        calls.append(None)
        if len(calls) == 2:  # the first timed call is slow
            time.sleep(0.2)

    assert median_seconds(run, repeats=3, warmup=1) < 0.1
    assert len(calls) == 4


def test_step_seconds_trains_the_model():
    model = NeuralBigram(4)
    before = model.logits_table.weight.detach().clone()
    ids = torch.tensor([[0, 1, 2, 3]])
    assert step_seconds(model, (ids, ids.roll(-1, 1)), repeats=2, lr=0.1) > 0
    assert not torch.equal(model.logits_table.weight, before)


@pytest.mark.parametrize("repeats, warmup", [(0, 1), (1, -1)])
def test_bad_arguments_name_the_parameter(repeats, warmup):
    with pytest.raises(ValueError, match="repeats=.* warmup="):
        median_seconds(lambda: None, repeats=repeats, warmup=warmup)
