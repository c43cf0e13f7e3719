"""Tests for llm_evolution.few_shot_tuning: many copies fine-tuned at once must be the copies
the book's training loop would make one by one, and score the same."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.func import functional_call

from llm_evolution import zoo
from llm_evolution.data.tasks import EXAMPLE_LENGTH, draw_sequences, rule_codes, split_rules
from llm_evolution.few_shot_tuning import (
    Logits,
    compare_on_examples,
    fine_tune_copies,
    fine_tune_vs_in_context_all,
)
from llm_evolution.in_context import AnswerLoss, fine_tune_vs_in_context
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import train
from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Fine-tuning runs and chapter 7's model: run again only when the code they test changes
    (tests/incremental.py)."""
    yield from run_when_changed(request)


def small_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=3, context_size=2 * EXAMPLE_LENGTH, d_model=16, n_heads=2,
                         n_layers=2)).eval()


def test_logits_are_the_models_own():
    model = small_gpt()
    ids = torch.randint(0, 3, (5, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(Logits(model)(ids), model(ids)[0], rtol=0, atol=1e-5)


def test_copies_fine_tuned_at_once_are_the_loops_copies_one_by_one():
    """Against train() with torch.optim.AdamW and clip_grad_norm_, each copy on its own batch
    (the mean loss over the masked positions, as AnswerLoss computes it), with the chapter's
    30 steps at lr 1e-3: the copies' logits agree to 1e-3 after moving by far more. (Their
    weights need not: the key biases get a zero gradient, as softmax ignores a shift shared by
    all scores, and Adam turns the rounding noise of that zero into steps of size lr either
    way, which change no output.)"""
    model = small_gpt()
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randint(0, 3, (3, 2, 8), generator=generator)
    targets = torch.randint(0, 3, (3, 2, 8), generator=generator)
    mask = torch.rand(3, 2, 8, generator=generator) < 0.5
    mask[..., 0] = True  # every sequence counts at least one position
    probe = torch.randint(0, 3, (4, 10), generator=generator)
    stacked = fine_tune_copies(model, inputs, targets, mask, steps=30, lr=1e-3)
    assert not model.training  # the caller's mode is restored
    for copy_index in range(3):
        reference = copy.deepcopy(model)
        batch = (inputs[copy_index], targets[copy_index], mask[copy_index])
        train(AnswerLoss(reference), lambda _: batch, steps=30, lr=1e-3, eval_every=30,
              progress=False)
        params = {name: value[copy_index] for name, value in stacked.items()}
        with torch.no_grad():
            ours = functional_call(Logits(model), params, (probe,))
            theirs, before = reference(probe)[0], model(probe)[0]
        assert (theirs - before).abs().max() > 0.3  # fine-tuning moved the logits
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-3)


def test_bad_shapes_name_the_fix():
    model = small_gpt()
    with pytest.raises(ValueError, match="one shape \\(copies, sequences, length\\)"):
        fine_tune_copies(model, torch.zeros(2, 8, dtype=torch.long),
                         torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="k=0 must be >= 1"):
        fine_tune_vs_in_context_all(model, [], 0, seed=0)


def test_all_rules_at_once_score_as_the_one_rule_version():
    """The trained model of chapter 7, four held-out rules, k = 2: the same in-context and
    fine-tuned accuracies as in_context.fine_tune_vs_in_context gives rule by rule (which
    draws each rule's examples with a generator of its own, seeded alike)."""
    model = zoo.get("icl-gpt").model
    _, held_out_rules = split_rules(zoo.find("icl-gpt").config["n_held_out"])
    rules, k = held_out_rules[:4], 2
    drawn = [draw_sequences(rule_codes([rule]), k, torch.Generator().manual_seed(0))
             for rule in rules]
    examples = torch.cat([ids for ids, _ in drawn])
    is_output = torch.cat([mask for _, mask in drawn])
    in_context, fine_tuned = compare_on_examples(model, rules, examples, is_output, k)
    expected = torch.tensor([fine_tune_vs_in_context(model, rule, k, seed=0) for rule in rules])
    assert in_context.tolist() == expected[:, 0].tolist()
    assert fine_tuned.tolist() == expected[:, 1].tolist()
