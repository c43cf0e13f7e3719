"""Chapter 8's sweep, measured: the held-out loss of every run, the compute each one cost, and
the scaling laws fitted to them with their bootstrap uncertainty.

The losses take half a minute and the bootstrap a few minutes, so they are computed once per
machine (:mod:`llm_evolution.measurements`); the page, its notebook and its figures read the
same numbers.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from llm_evolution import scaling
from llm_evolution.measurements import measured
from llm_evolution.training import perplexity

BOOTSTRAP_ROUNDS = 200


# --8<-- [start:count]
def non_embedding_parameters(model: nn.Module) -> int:
    """N as Kaplan et al. count it: every parameter but the token and position embeddings
    (our GPT's output layer reuses the token embedding, so it is left out too)."""
    return sum(p.numel() for name, p in model.named_parameters() if "embedding" not in name)


def counted_training_flops(model: nn.Module, inputs: torch.Tensor,
                           targets: torch.Tensor) -> int:
    """The floating-point operations of one training step's forward and backward pass on
    (inputs, targets), counted by PyTorch's FlopCounterMode (matrix products only)."""
    with FlopCounterMode(display=False) as counter:
        _, loss = model(inputs, targets)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()
# --8<-- [end:count]


def held_out_loss(model: nn.Module, ids: torch.Tensor, context_size: int) -> float:
    """Mean cross-entropy in nats per character over the whole held-out text, read in
    windows of ``context_size``."""
    return math.log(perplexity(model, ids, block_size=context_size))


@measured  # half a minute of evaluation: once per machine, then read back
def sweep_runs() -> list[dict]:
    """One row per run of the sweep: its shape, N (parameters without embeddings), D
    (training tokens), the seconds its training took and its held-out loss."""
    from llm_evolution import zoo
    from llm_evolution.data.text import char_corpus
    from llm_evolution.recipes.chapter08 import SIZES, STEPS, sweep_name

    held_out = char_corpus().val_ids
    rows = []
    for n_layers, d_model, _ in SIZES:
        for steps in STEPS:
            trained = zoo.get(sweep_name(n_layers, d_model, steps))
            config = trained.recipe.config
            rows.append({
                "name": trained.recipe.name, "layers": n_layers, "width": d_model,
                "steps": steps, "parameters": non_embedding_parameters(trained.model),
                "tokens": steps * config["batch_size"] * config["context_size"],
                "seconds": round(trained.history.seconds, 1),
                "loss": held_out_loss(trained.model, held_out, config["context_size"]),
            })
    return rows


def columns(rows: list[dict]) -> tuple[list[float], list[float], list[float]]:
    """(N, D, loss) of ``rows``, one value per run: the arguments of the fits."""
    return ([row["parameters"] for row in rows], [row["tokens"] for row in rows],
            [row["loss"] for row in rows])


# --8<-- [start:fits]
def fit_all(rows: list[dict]) -> dict[str, tuple]:
    """The three laws of the chapter: L(N) on the runs of the largest token budget, L(D) on
    the runs of the largest size, and L(N, D) on every run."""
    parameters, tokens, losses = columns(rows)
    largest_budget = [row for row in rows if row["tokens"] == max(tokens)]
    largest_size = [row for row in rows if row["parameters"] == max(parameters)]
    return {
        "L(N)": scaling.fit_power_law(*columns(largest_budget)[::2]),
        "L(D)": scaling.fit_power_law(*columns(largest_size)[1:]),
        "L(N, D)": scaling.fit_loss_law(parameters, tokens, losses),
    }


@measured  # minutes: the bootstrap refits each law 200 times; once per machine
def bootstrap_fits(rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> dict[str, list[tuple]]:
    """Each law of :func:`fit_all` refitted to ``rounds`` resamples of its runs (drawn with
    replacement), as lists of constants: the spread is the fit's uncertainty."""
    rows = sweep_runs()
    parameters, tokens, _ = columns(rows)
    largest_budget = [row for row in rows if row["tokens"] == max(tokens)]
    largest_size = [row for row in rows if row["parameters"] == max(parameters)]
    return {
        "L(N)": [tuple(fit) for fit in scaling.bootstrap(
            scaling.fit_power_law, columns(largest_budget)[::2], rounds, seed)],
        "L(D)": [tuple(fit) for fit in scaling.bootstrap(
            scaling.fit_power_law, columns(largest_size)[1:], rounds, seed)],
        "L(N, D)": [tuple(fit) for fit in scaling.bootstrap(
            scaling.fit_loss_law, columns(rows), rounds, seed)],
    }
# --8<-- [end:fits]


def interval(values: list[float], coverage: float = 0.9) -> tuple[float, float]:
    """The central ``coverage`` of ``values`` (a percentile interval): 5th to 95th
    percentile by default."""
    ordered = sorted(values)
    low = ordered[round((1 - coverage) / 2 * (len(ordered) - 1))]
    high = ordered[round((1 + coverage) / 2 * (len(ordered) - 1))]
    return low, high


def held_out_prediction(rows: list[dict]) -> list[tuple[int, float, float]]:
    """L(N, D) fitted to every size but the largest, then asked for the largest: (tokens,
    predicted loss, measured loss) for each of the largest size's runs."""
    largest = max(row["parameters"] for row in rows)
    smaller = [row for row in rows if row["parameters"] < largest]
    law = scaling.fit_loss_law(*columns(smaller))
    return [(row["tokens"], law.loss(row["parameters"], row["tokens"]), row["loss"])
            for row in rows if row["parameters"] == largest]


# --8<-- [start:frontier]
def compute_frontier(rows: list[dict]) -> list[dict]:
    """The runs no cheaper run beats: in order of compute C = 6ND, each run whose held-out
    loss is lower than that of every run that cost less. Which size they are tells which
    size is best for a budget, measured rather than fitted."""
    frontier: list[dict] = []
    for row in sorted(rows, key=lambda r: scaling.training_flops(r["parameters"], r["tokens"])):
        if not frontier or row["loss"] < frontier[-1]["loss"]:
            frontier.append(row)
    return frontier
# --8<-- [end:frontier]
