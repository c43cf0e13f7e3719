"""Tests for llm_evolution.timing."""

from __future__ import annotations

import time

import pytest
import torch

from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.timing import (
    median_seconds,
    sequential_operations,
    sequential_operations_by_length,
    step_seconds,
)


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


def test_sequential_operations_counts_the_longest_chain_by_hand():
    x = torch.ones(3, requires_grad=True)
    # mul -> add -> pow -> sum -> add is the longest chain: 5 operations, counted by hand;
    # the other branch (mul -> sum -> add) is shorter. The leaf x is no operation.
    loss = ((x * 2 + 1) ** 2).sum() + (x * 3).sum()
    assert sequential_operations(loss) == 5
    assert sequential_operations((x * 2).sum()) == 2


def test_sequential_operations_needs_a_graph():
    with pytest.raises(ValueError, match="no autograd graph"):
        sequential_operations(torch.ones(3).sum())


def test_an_rnn_waits_in_proportion_to_length_a_transformer_does_not():
    """The machine-independent half of chapter 3's speed claim."""
    rnn = sequential_operations_by_length("rnn-attention-translator", (16, 32, 64))
    transformer = sequential_operations_by_length("transformer-translator", (16, 32, 64))
    per_position = (rnn[32] - rnn[16]) / 16
    assert per_position > 0 and (rnn[64] - rnn[32]) / 32 == per_position  # the same for each
    assert rnn[64] > 3 * rnn[16]
    assert transformer[16] == transformer[32] == transformer[64]
    assert transformer[64] < rnn[16]


def test_timings_run_on_every_core_and_give_the_thread_count_back(monkeypatch):
    """Trained models compute on the reference path's one thread; a timing on every core the
    process may use (here pretended to be 3), or on the count it is given."""
    from llm_evolution import numerics
    from llm_evolution.timing import torch_threads

    monkeypatch.setattr(numerics, "available_cores", lambda: 3)
    before = torch.get_num_threads()
    with torch_threads() as count:
        assert count == torch.get_num_threads() == 3
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads=0"):
        with torch_threads(0):
            pass
