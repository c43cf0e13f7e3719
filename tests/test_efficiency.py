"""Chapter 9's step variants against the plain step: gradient accumulation gives the large
batch's gradients; activation checkpointing keeps fewer activations and the same gradients."""

from __future__ import annotations

import copy

import pytest
import torch

from llm_evolution import distributed
from llm_evolution.efficiency import (
    accumulated_step,
    gradients,
    saved_activation_bytes,
    with_checkpointing,
)
from llm_evolution.training import make_optimizer, train_step


def test_accumulated_gradients_equal_the_large_batch():
    batch = distributed.global_batches(steps=1)[0]
    plain, accumulated = distributed.fresh_model(), distributed.fresh_model()
    train_step(plain, batch, make_optimizer(plain, lr=1e-3, steps=1)[0])
    accumulated_step(accumulated, batch, make_optimizer(accumulated, lr=1e-3, steps=1)[0], 4)
    expected, actual = gradients(plain), gradients(accumulated)
    assert expected.keys() == actual.keys()
    assert max((expected[k] - actual[k]).abs().max().item() for k in expected) < 1e-6


def test_one_piece_is_the_plain_step_and_a_bad_split_names_the_fix():
    batch = distributed.global_batches(steps=1)[0]
    plain, accumulated = distributed.fresh_model(), distributed.fresh_model()
    train_step(plain, batch, make_optimizer(plain, lr=1e-3, steps=1)[0])
    accumulated_step(accumulated, batch, make_optimizer(accumulated, lr=1e-3, steps=1)[0], 1)
    assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), accumulated.parameters()))
    with pytest.raises(ValueError, match="must divide"):
        accumulated_step(accumulated, batch, make_optimizer(accumulated, lr=1e-3, steps=1)[0], 3)


def test_checkpointing_keeps_a_fraction_of_the_activations_and_the_same_gradients():
    model = distributed.fresh_model()
    batch = distributed.global_batches(steps=1)[0]
    checkpointed = with_checkpointing(copy.deepcopy(model))
    plain_bytes = saved_activation_bytes(model, batch)
    checkpointed_bytes = saved_activation_bytes(checkpointed, batch)
    assert checkpointed_bytes < plain_bytes / 4
    for m in (model, checkpointed):
        m(*batch)[1].backward()
    plain_grads = gradients(model)
    checkpointed_grads = {name.replace(".block.", "."): g
                          for name, g in gradients(checkpointed).items()}
    assert all(torch.equal(plain_grads[k], checkpointed_grads[k]) for k in plain_grads)
