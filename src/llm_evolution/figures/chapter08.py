"""Figures of chapter 8: the concept diagram (one compute budget, split three ways between
parameters and tokens), the sweep's losses with the fitted laws, the models of 2017-2022 by
size and by tokens, and their training compute against the EU AI Act's threshold."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure

FONT = 9


@diagram(
    "compute-split",
    alt="One compute budget, C = 6 N D, split three ways. Left: four tokens flow into a tall "
    "stack of six blocks (a large model trained on little text). Middle: six tokens into four "
    "blocks. Right: twelve tokens into two blocks (a small model trained on much text). The "
    "product of model size and tokens is the same in all three; a scaling law says which "
    "split leaves the lowest loss.",
)
def compute_split() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    text = "To be, or not to be"
    # (layers, tokens, columns of the token grid, label): N x D is the same in all three
    splits = [(6, 4, 2, "large model, few tokens"), (4, 6, 3, "in between"),
              (2, 12, 4, "small model, many tokens")]
    pitch, gap = 0.66, 0.3
    widths = [0.45 + columns * pitch + 2.3 for _, _, columns, _ in splits]
    fig, ax = d.canvas(sum(widths) + gap * (len(splits) - 1) + 0.2, 5.6)
    ax.text((sum(widths) + gap * 2) / 2, 5.45, "one compute budget:  C = 6 × N parameters × "
            "D tokens", ha="center", va="top", fontsize=FONT + 1)
    left = 0.1
    for (layers, tokens, columns, label), width in zip(splits, widths):
        d.frame(ax, left, 0.2, width, 4.5, label, fontsize=FONT)
        rows = -(-tokens // columns)
        grid_left, grid_top = left + 0.55, 2.55 + (rows - 1) * pitch / 2
        for i in range(tokens):
            row, column = divmod(i, columns)
            d.token_box(ax, grid_left + column * pitch, grid_top - row * pitch,
                        text[i % len(text)].replace(" ", "␣"), "token", width=0.52,
                        height=0.48, fontsize=FONT)
        stack_x = left + width - 0.95
        arrow_from = grid_left + (columns - 1) * pitch + 0.4
        d.arrow(ax, (arrow_from, 2.55), (stack_x - 0.8, 2.55))
        bottom = 2.55 - (layers - 1) * 0.55 / 2
        for layer in range(layers):
            d.layer_block(ax, stack_x, bottom + 0.55 * layer, 1.4, 0.45, "block", "value",
                          fontsize=FONT - 1)
        ax.text(left + width / 2, 0.5, f"D ∝ {tokens} tokens,  N ∝ {layers} blocks",
                ha="center", va="center", fontsize=FONT, style="italic")
        left += width + gap
    return fig


@figure(
    "scaling-runs",
    alt="Two log-log plots of the held-out loss of the sweep's twenty runs. Left: loss "
    "against training tokens, one colour per model size, with the fitted law L(N, D) drawn "
    "through each size's points and, dashed, the largest size as predicted by a fit that "
    "never saw it. Right: loss against parameters (embeddings left out), one colour per "
    "token budget, with the same fitted law. Loss falls with both, and flattens where the "
    "other one runs short.",
)
def scaling_runs() -> plt.Figure:
    import numpy as np

    from llm_evolution import scaling
    from llm_evolution.scaling_runs import columns, sweep_runs

    rows = sweep_runs()
    law = scaling.fit_loss_law(*columns(rows))  # the page's L(N, D)
    parameters, tokens, _ = columns(rows)
    largest = max(parameters)
    smaller = [row for row in rows if row["parameters"] < largest]
    smaller_law = scaling.fit_loss_law(*columns(smaller))  # as held_out_prediction fits it
    fig, (by_tokens, by_size) = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    grid = np.geomspace(min(tokens) / 1.5, max(tokens) * 1.5, 50)
    for i, n in enumerate(sorted(set(parameters))):
        runs = [row for row in rows if row["parameters"] == n]
        shape = f"{runs[0]['layers']}x{runs[0]['width']}"
        by_tokens.plot([r["tokens"] for r in runs], [r["loss"] for r in runs], "o",
                       color=f"C{i}", label=f"{shape}: N = {n:,}")
        by_tokens.plot(grid, [law.loss(n, d) for d in grid], "-", color=f"C{i}", alpha=0.7)
    by_tokens.plot(grid, [smaller_law.loss(largest, d) for d in grid], "--", color="C4",
                   label="largest, predicted")
    by_tokens.set_xscale("log")
    by_tokens.set_yscale("log")
    by_tokens.set_xlabel("training tokens D (characters)")
    by_tokens.set_ylabel("held-out loss (nats per character)")
    by_tokens.legend(frameon=False, fontsize=8)
    grid = np.geomspace(min(parameters) / 1.5, largest * 1.5, 50)
    for i, d in enumerate(sorted(set(tokens))):
        runs = [row for row in rows if row["tokens"] == d]
        by_size.plot([r["parameters"] for r in runs], [r["loss"] for r in runs], "s",
                     color=f"C{i}", label=f"D = {d / 1e6:.2f}M ({runs[0]['steps']} steps)")
        by_size.plot(grid, [law.loss(n, d) for n in grid], "-", color=f"C{i}", alpha=0.7)
    by_size.set_xscale("log")
    by_size.set_xlabel("parameters N (without embeddings)")
    by_size.legend(frameon=False, fontsize=8)
    by_tokens.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax in (by_tokens, by_size):
        ax.yaxis.set_minor_formatter(plt.FormatStrFormatter("%.1f"))
        ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%.1f"))
    fig.tight_layout()
    return fig


@figure(
    "scaling-compute",
    alt="The held-out loss of the sweep's twenty runs against their training compute, "
    "C = 6ND, log-log, one colour per model size with its four runs joined. A grey line "
    "follows the runs that beat every cheaper run: at each budget the best run is a smaller "
    "model trained on more tokens than the larger models' runs of the same cost.",
)
def scaling_compute() -> plt.Figure:
    from llm_evolution.scaling import training_flops
    from llm_evolution.scaling_runs import compute_frontier, sweep_runs

    rows = sweep_runs()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, n in enumerate(sorted({row["parameters"] for row in rows})):
        runs = sorted((r for r in rows if r["parameters"] == n), key=lambda r: r["tokens"])
        ax.plot([training_flops(n, r["tokens"]) for r in runs], [r["loss"] for r in runs],
                "o-", color=f"C{i}", label=f"{runs[0]['layers']}x{runs[0]['width']}: "
                f"N = {n:,}")
    frontier = compute_frontier(rows)
    ax.plot([training_flops(r["parameters"], r["tokens"]) for r in frontier],
            [r["loss"] for r in frontier], "-", color="grey", linewidth=4, alpha=0.35,
            label="best run for its cost")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(plt.FormatStrFormatter("%.1f"))
    ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%.1f"))
    ax.set_xlabel("training compute C = 6ND (floating-point operations)")
    ax.set_ylabel("held-out loss (nats per character)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "model-sizes",
    alt="Left: the parameters of the models of this story against the date of their paper, "
    "on a log scale, from the Transformer's 65 million in 2017 to PaLM's 540 billion in "
    "2022. Right: training tokens against parameters, log-log, for the models whose papers "
    "give both, with the line of 20 tokens per parameter (the ratio read from Chinchilla's "
    "projections) and, at the bottom left, the twenty runs of this chapter's sweep.",
)
def model_sizes() -> plt.Figure:
    import numpy as np

    from llm_evolution.published_models import PUBLISHED_MODELS
    from llm_evolution.scaling_runs import sweep_runs

    rows = sweep_runs()
    fig, (by_date, by_tokens) = plt.subplots(1, 2, figsize=(10, 4.4))
    for model in PUBLISHED_MODELS:
        by_date.plot(model.when, model.parameters, "o", color="C0")
        by_date.annotate(model.name, (model.when, model.parameters), fontsize=7,
                         xytext=(4, -3), textcoords="offset points")
    by_date.set_yscale("log")
    by_date.set_ylabel("parameters")
    by_date.set_xlabel("first version of the paper")
    known = [m for m in PUBLISHED_MODELS if m.tokens is not None]
    # Labels of neighbouring points go to opposite sides.
    offsets = {"BERT-base": (-6, 4, "right"), "GPT-3": (-6, -9, "right"),
               "Gopher": (4, -10, "left"), "Chinchilla": (-6, 4, "right")}
    for model in known:
        dx, dy, side = offsets.get(model.name, (4, -3, "left"))
        by_tokens.plot(model.parameters, model.tokens, "o", color="C0")
        by_tokens.annotate(model.name, (model.parameters, model.tokens), fontsize=7,
                           xytext=(dx, dy), textcoords="offset points", ha=side)
    by_tokens.plot([r["parameters"] for r in rows], [r["tokens"] for r in rows], "s",
                   color="C1", label="this chapter's sweep")
    line = np.geomspace(1e3, 1e12, 10)
    by_tokens.plot(line, 20 * line, ":", color="C2", label="20 tokens per parameter")
    by_tokens.set_xscale("log")
    by_tokens.set_yscale("log")
    by_tokens.set_xlabel("parameters N")
    by_tokens.set_ylabel("training tokens D")
    by_tokens.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


@figure(
    "training-compute",
    alt="Training compute in floating-point operations on one log axis, one row per model "
    "from the Transformer (about 10^18) to PaLM (about 2.5 x 10^24), with this chapter's "
    "whole sweep (about 10^13) at the bottom, and a vertical line at 10^25, the EU AI "
    "Act's threshold for presuming systemic risk: every model of the story lies below it.",
)
def training_compute() -> plt.Figure:
    from llm_evolution.published_models import (
        EU_AI_ACT_THRESHOLD_FLOPS,
        PUBLISHED_MODELS,
        training_flops,
    )
    from llm_evolution.scaling import training_flops as six_n_d
    from llm_evolution.scaling_runs import sweep_runs

    rows = sweep_runs()
    entries = [(f"{m.name} ({m.when.year})", training_flops(m), m.flops_source)
               for m in PUBLISHED_MODELS if training_flops(m) is not None]
    entries.append(("this chapter's sweep, all 20 runs",
                    sum(six_n_d(r["parameters"], r["tokens"]) for r in rows), "6ND"))
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for y, (label, flops, source) in enumerate(reversed(entries)):
        ax.plot(flops, y, "o" if source != "6ND" else "D",
                color="C0" if source != "6ND" else "C1")
    ax.set_yticks(range(len(entries)), [label for label, _, _ in reversed(entries)],
                  fontsize=8)
    ax.axvline(EU_AI_ACT_THRESHOLD_FLOPS, color="C3", linestyle="--")
    ax.text(EU_AI_ACT_THRESHOLD_FLOPS / 1.5, len(entries) - 1.2,
            "EU AI Act, Art. 51(2):\n$10^{25}$ FLOPs", ha="right", va="top", fontsize=8)
    ax.plot([], [], "o", color="C0", label="the paper's figure (or a cited estimate)")
    ax.plot([], [], "D", color="C1", label="6ND, derived here")
    ax.set_xscale("log")
    ax.set_xlim(1e11, 1e26)
    ax.set_xlabel("training compute (floating-point operations)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
