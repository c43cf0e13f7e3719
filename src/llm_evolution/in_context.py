"""In-context learning, measured: prompts of k examples, greedy answers, accuracy by k, and
fine-tuning on the same k examples for comparison (chapter 7).

A prompt is k solved examples of one hidden rule from :mod:`llm_evolution.data.tasks`, then
a query, one input bit at a time: after each input bit the model writes the output bit it
finds most likely (greedy). No weight changes while it reads the prompt: whatever it learns
from the examples lives in its activations only.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.data.tasks import (
    EXAMPLE_LENGTH,
    N_BITS,
    Rule,
    apply_codes,
    draw_sequences,
    rule_codes,
)
from llm_evolution.models.gpt import GPT
from llm_evolution.training import train


# --8<-- [start:answer_loss]
class AnswerLoss(nn.Module):
    """A GPT whose loss counts only the outputs: ``(inputs, targets, mask) -> (logits,
    loss)``. Inputs are drawn at random, so predicting them teaches nothing about the rule;
    leaving them out puts all of the gradient on what the rule decides."""

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor):
        logits, _ = self.model(inputs)
        loss = F.cross_entropy(logits[mask], targets[mask])
        return logits, loss
# --8<-- [end:answer_loss]


# --8<-- [start:prompts]
def make_prompts(rules: list[Rule], k: int, n_per_rule: int, generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(examples, queries, answers) for ``n_per_rule`` prompts per rule: k fresh solved
    examples as token ids (n, EXAMPLE_LENGTH * k), a query's input bits (n, N_BITS) and its
    true output bits (n, N_BITS), with n = len(rules) * n_per_rule."""
    if k < 0 or n_per_rule < 1:
        raise ValueError(f"k={k} must be >= 0 and n_per_rule={n_per_rule} >= 1")
    codes = rule_codes(rules).repeat_interleave(n_per_rule, dim=0)
    ids, _ = draw_sequences(codes, k + 1, generator)  # the last example is the query
    query = ids[:, EXAMPLE_LENGTH * k :]
    return ids[:, : EXAMPLE_LENGTH * k], query[:, 0 : 2 * N_BITS : 2], query[:, 1 : 2 * N_BITS : 2]


@torch.no_grad()
def greedy_answers(model: GPT, examples: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """The model's output bits for each query, (n, N_BITS): after the examples, each input
    bit of the query is appended, then the model's most likely next token."""
    sequence = examples
    for position in range(N_BITS):
        sequence = torch.cat([sequence, queries[:, position : position + 1]], dim=1)
        logits, _ = model(sequence)
        sequence = torch.cat([sequence, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    return sequence[:, examples.size(1) + 1 :: 2]


@torch.no_grad()
def few_shot_accuracy(model: GPT, rules: list[Rule], k: int, seed: int,
                      n_per_rule: int = 16) -> float:
    """Fraction of prompts with k examples whose greedy answer (all four bits) is right.
    A greedy answer is all right exactly when each bit is right given right bits before it,
    so one forward pass over the query with its true bits in place scores all four at once
    (``greedy_answers`` would take four passes to reach the same verdict)."""
    examples, queries, answers = make_prompts(rules, k, n_per_rule,
                                              torch.Generator().manual_seed(seed))
    solved = torch.stack([queries, answers], dim=2).flatten(1)  # x0 y0 x1 y1 ... y3
    logits, _ = model(torch.cat([examples, solved[:, :-1]], dim=1))
    at_inputs = logits[:, examples.size(1) :: 2]  # the predictions made after each input bit
    return (at_inputs.argmax(dim=-1) == answers).all(dim=1).float().mean().item()
# --8<-- [end:prompts]


# --8<-- [start:best_possible]
def best_possible_accuracy(k: int) -> float:
    """Expected accuracy of the best any learner can do with k random examples of a random
    rule. A position is known when some example had the query's bit there (chance
    1 - 0.5**k); otherwise both outputs fit what was seen equally well, so a guess is right
    half the time. The four positions are independent."""
    if k < 0:
        raise ValueError(f"k={k} must be >= 0")
    return (1 - 0.5 ** (k + 1)) ** N_BITS
# --8<-- [end:best_possible]


# --8<-- [start:fine_tune]
def fine_tune_vs_in_context(model: GPT, rule: Rule, k: int, seed: int, steps: int = 30,
                            lr: float = 1e-3) -> tuple[float, float]:
    """(in-context accuracy, fine-tuned accuracy) on all 2**N_BITS queries of ``rule``,
    from the same k examples: once placed in the prompt of the unchanged model, once used for
    ``steps`` gradient steps on a copy of it (each example a sequence of its own), which
    then answers with no examples in its prompt."""
    if k < 1:
        raise ValueError(f"k={k} must be >= 1: fine-tuning needs at least one example")
    generator = torch.Generator().manual_seed(seed)
    examples, is_output = draw_sequences(rule_codes([rule]), k, generator)  # (1, 9k)
    queries = (torch.arange(2**N_BITS)[:, None] >> torch.arange(N_BITS - 1, -1, -1)) & 1
    truth = apply_codes(rule_codes([rule]).expand_as(queries), queries)  # every input's output

    def accuracy(model: GPT, context: torch.Tensor) -> float:
        answers = greedy_answers(model, context.expand(len(queries), -1), queries)
        return (answers == truth).all(dim=1).float().mean().item()

    in_context = accuracy(model, examples)
    tuned = copy.deepcopy(model)
    pairs = examples.view(k, EXAMPLE_LENGTH)  # each example a sequence of its own
    mask = is_output[:, :EXAMPLE_LENGTH].expand(k, -1)
    fixed_batch = (pairs[:, :-1], pairs[:, 1:], mask[:, 1:])
    train(AnswerLoss(tuned), lambda _: fixed_batch, steps=steps, lr=lr, eval_every=steps,
          seed=seed, progress=False)
    return in_context, accuracy(tuned, examples[:, :0])  # no example in its prompt
# --8<-- [end:fine_tune]
