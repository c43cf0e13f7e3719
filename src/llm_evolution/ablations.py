"""Chapter 12's measurements of its ablations: every variant of :data:`VARIANTS`, three seeds
each, on the same held-out text (:func:`ablation_table`), with what each costs to train
(:func:`step_milliseconds`) and to keep in a KV cache.

Kept apart from the recipes (:mod:`llm_evolution.recipes.chapter12`) so that changing a
measurement does not retrain the models it measures.
"""

from __future__ import annotations

import statistics

import torch

from llm_evolution.data.text import char_corpus
from llm_evolution.evaluation import evaluating, held_out_nats
from llm_evolution.measurements import measured
from llm_evolution.recipes.chapter12 import ABLATION, SEEDS, VARIANTS, ablation_name


# --8<-- [start:published]
# What the papers measured at their own scale: (source, setting, measure, [(variant, value)]),
# each value as the paper prints it.
PUBLISHED = [
    ("Shazeer, 2020, arXiv:2002.05202, Table 1",
     "T5-base, C4, 524,288 steps", "held-out log-perplexity",
     [("ReLU", "1.677"), ("GELU", "1.679"), ("SwiGLU", "1.636")]),
    ("Narang et al., 2021, arXiv:2102.11972, Table 1",
     "T5-base-like (223M), C4, 524,288 steps", "final loss",
     [("vanilla", "1.838"), ("SwiGLU", "1.789"), ("RMSNorm", "1.821")]),
    ("Narang et al., 2021, arXiv:2102.11972, Table 1",
     "the same runs", "training steps per second",
     [("vanilla", "3.50"), ("RMSNorm", "3.68")]),
    ("Ainslie et al., 2023, arXiv:2305.13245, Table 1",
     "T5-XXL; multi-query and 8 groups uptrained from it", "average score",
     [("multi-head", "47.2"), ("multi-query", "46.6"), ("8 groups", "47.1")]),
    ("Ainslie et al., 2023, arXiv:2305.13245, Table 1",
     "the same models", "seconds per sample (inference)",
     [("multi-head", "1.51"), ("multi-query", "0.24"), ("8 groups", "0.28")]),
]
# --8<-- [end:published]


def model_keys() -> tuple[str, ...]:
    """The cache keys of every ablation run: a measurement is redone when one changes."""
    from llm_evolution import zoo

    return tuple(zoo.find(ablation_name(v, s)).key() for v in VARIANTS for s in SEEDS)


@measured  # 21 models over the held-out text: once per machine and set of trained models
def _held_out_losses(keys: tuple[str, ...]) -> dict[str, list[float]]:
    from llm_evolution import zoo

    held_out = char_corpus().val_ids
    losses = {}
    for variant in VARIANTS:
        losses[variant] = []
        for seed in SEEDS:
            with evaluating(zoo.get(ablation_name(variant, seed)).model) as model:
                nats = held_out_nats(model, held_out) / (len(held_out) - 1)
            losses[variant].append(round(nats, 6))
    return losses


def held_out_losses() -> dict[str, list[float]]:
    """Variant -> held-out loss (nats per character) of each seed's run, on every character of
    the plays' held-out tenth, read in windows of the model's context."""
    return _held_out_losses(model_keys())


def model_facts() -> dict[str, dict[str, int]]:
    """Variant -> parameters and numbers kept per token in the KV cache (counted, the same on
    every machine)."""
    from llm_evolution import zoo

    facts = {}
    for variant in VARIANTS:
        model = zoo.get(ablation_name(variant, SEEDS[0])).model
        facts[variant] = {"parameters": sum(p.numel() for p in model.parameters()),
                          "kv_per_token": model.kv_cache_values_per_token()}
    return facts


@measured  # timings: once per machine
def step_milliseconds(repeats: int = 10) -> dict[str, list[float]]:
    """Variant -> milliseconds of one training step (forward, backward, AdamW) in each of three
    rounds, on one thread as the models trained. A round times every variant once, on a
    freshly initialised model (round r uses seed r), as the median of ``repeats`` steps on the
    same batch of the plays; a machine that slows down mid-way slows every variant of a round,
    not one variant."""
    from llm_evolution.timing import fresh_model, step_seconds, torch_threads
    from llm_evolution.training import random_windows

    batch = random_windows(char_corpus().train_ids, ABLATION["context_size"],
                           ABLATION["batch_size"])(torch.Generator().manual_seed(0))
    rounds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with torch_threads(1):
        for seed in SEEDS:
            for variant in VARIANTS:
                model = fresh_model(ablation_name(variant, seed))
                seconds = step_seconds(model, batch, repeats=repeats)
                rounds[variant].append(round(1000 * seconds, 2))
    return rounds


def spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of the seeds' values."""
    return statistics.fmean(values), statistics.stdev(values)


# --8<-- [start:table]
def ablation_table() -> str:
    """One line per variant: held-out loss (mean ± standard deviation of the three seeds, and
    each seed), its change against GPT-2's with the standard error of that difference,
    parameters and KV-cache numbers per token."""
    losses, facts = held_out_losses(), model_facts()
    baseline, baseline_deviation = spread(losses["gpt-2"])
    lines = [f"{'variant':<10} {'held-out loss':>15}  {'seeds 0, 1, 2':<21} "
             f"{'vs gpt-2 ± s.e.':>16} {'parameters':>10} {'KV/token':>8}"]
    for variant, values in losses.items():
        mean, deviation = spread(values)
        seeds = ", ".join(f"{v:.3f}" for v in values)
        # s.e. of a difference of two means of n runs: sqrt(s1^2 / n + s2^2 / n)
        error = ((deviation ** 2 + baseline_deviation ** 2) / len(values)) ** 0.5
        change = "" if variant == "gpt-2" else f"{mean - baseline:+.3f} ± {error:.3f}"
        lines.append(f"{variant:<10} {mean:>8.3f} ± {deviation:.3f}  {seeds:<21} {change:>16} "
                     f"{facts[variant]['parameters']:>10,} {facts[variant]['kv_per_token']:>8}")
    return "\n".join(lines)
# --8<-- [end:table]


def ablation_compute() -> float:
    """Training compute of all the ablation runs together, 6ND (chapter 8): each run's
    parameters without embeddings times the characters it read (steps x batch x context)."""
    from llm_evolution import zoo
    from llm_evolution.scaling import training_flops
    from llm_evolution.scaling_runs import non_embedding_parameters

    tokens = ABLATION["steps"] * ABLATION["batch_size"] * ABLATION["context_size"]
    # the seeds change the weights, not their number: one model per variant is counted
    return len(SEEDS) * sum(
        training_flops(non_embedding_parameters(zoo.get(ablation_name(v, SEEDS[0])).model),
                       tokens) for v in VARIANTS)
