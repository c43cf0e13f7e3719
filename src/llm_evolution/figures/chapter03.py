"""Figures of chapter 3: sinusoidal positions, the Transformer's cross-attention on a held-out
number, and its training speed against the RNNs of chapter 2."""

from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt

from llm_evolution.figures import figure

SPEED_LENGTHS = (8, 16, 32, 64, 128)  # sequence lengths of the training-speed figure

# Recipes compared for speed, with their legend labels.
SPEED_MODELS = {
    "rnn-translator": "RNN",
    "rnn-attention-translator": "RNN + attention",
    "transformer-translator": "Transformer",
}


@figure(
    "positional-encoding",
    alt="Left: heatmap of the sinusoidal positional encoding, one row per position (0 to 63) "
    "and one column per dimension (0 to 63). The first columns alternate quickly between "
    "positive and negative as the position grows, later columns change ever more slowly. "
    "Right: three of those columns drawn as curves against the position, waves whose period "
    "grows with the dimension. Together the columns give each position its own pattern.",
)
def positional_encoding() -> plt.Figure:
    from llm_evolution.models.transformer import sinusoidal_positions

    table = sinusoidal_positions(64, 64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.9),
                                      gridspec_kw={"width_ratios": [1.1, 1]})
    image = left.imshow(table.numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    left.set_xlabel("dimension")
    left.set_ylabel("position")
    left.grid(False)
    colorbar = fig.colorbar(image, ax=left, fraction=0.046, pad=0.03)
    colorbar.outline.set_visible(False)
    for color, dim in zip(["C0", "C1", "C2"], [4, 12, 24]):
        right.plot(table[:, dim].numpy(), color=color, label=f"dimension {dim}")
    right.set_xlabel("position")
    right.set_ylabel("value")
    right.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3,
                 fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "transformer-attention-map",
    alt="Cross-attention of the trained Transformer on one held-out number, one panel per "
    "decoder layer (weights averaged over the heads): one row per output digit, one column "
    "per source word. In the last layer the weights follow the source in order, though not "
    "sharply: each digit puts most of its weight on the word that says it, and the zeros on "
    "the words that imply them (hundred, million). It is the alignment of the RNN with "
    "attention, learned without any recurrence.",
)
def transformer_attention_map() -> plt.Figure:
    from llm_evolution import translation, zoo

    data = translation.translation_data("numbers")
    source, _ = data.held_out_pairs[translation.ATTENTION_EXAMPLE_INDEX]
    words, outputs, weights = translation.transformer_attention_map(
        zoo.get("transformer-translator").model, data, source)
    n_layers = weights.size(0)
    fig, axes = plt.subplots(1, n_layers, squeeze=False,
                             figsize=(n_layers * (0.32 * len(words) + 1.2) + 1.2,
                                      0.36 * len(outputs) + 2.2))
    for layer, ax in enumerate(axes[0]):
        image = ax.imshow(weights[layer].numpy(), cmap="viridis", vmin=0, vmax=1,
                          aspect="auto")
        ax.set_xticks(range(len(words)), words, rotation=70, ha="right", fontsize=8)
        ax.set_yticks(range(len(outputs)), outputs if layer == 0 else [""] * len(outputs))
        ax.set_title(f"decoder layer {layer + 1}", fontsize=10)
        ax.set_xlabel("source word")
        ax.grid(False)
    axes[0][0].set_ylabel("output token")
    colorbar = fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02, pad=0.02)
    colorbar.set_label("attention weight (mean over heads)")
    colorbar.outline.set_visible(False)
    return fig


@lru_cache(maxsize=1)
def speed_measurements() -> tuple[dict, dict, dict]:
    """Seconds per step of each model: on the task's batches, by sequence length, and at
    length 128 on one and two cores. Measured once per process, so that the light and the
    dark figure show the same numbers."""
    import torch

    from llm_evolution.timing import step_seconds_by_length, task_step_seconds

    task = task_step_seconds(list(SPEED_MODELS))
    by_length = {name: step_seconds_by_length(name, SPEED_LENGTHS) for name in SPEED_MODELS}
    threads = torch.get_num_threads()
    by_cores = {}
    for n_threads in (1, 2):
        torch.set_num_threads(n_threads)
        by_cores[n_threads] = [step_seconds_by_length(name, (128,), repeats=1)[128]  # the page's
                               for name in SPEED_MODELS]
    torch.set_num_threads(threads)
    return task, by_length, by_cores


@figure(
    "training-speed",
    alt="Three panels measured on the machine that built the site. Left: held-out exact-match "
    "accuracy against estimated training time (training steps times measured seconds per "
    "step) for the RNN, the RNN with attention and the Transformer. Middle: seconds per "
    "training step against sequence length, on logarithmic axes. Right: seconds per step at "
    "length 128 on one processor core and on two. The times differ from machine to machine; "
    "the page prints the ones behind each panel.",
)
def training_speed() -> plt.Figure:
    from llm_evolution import zoo

    seconds, by_length, by_cores = speed_measurements()
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.9),
                                              gridspec_kw={"width_ratios": [1.2, 1, 0.8]})
    for (name, label), marker in zip(SPEED_MODELS.items(), "os^"):
        history = zoo.get(name).history
        minutes = [step * seconds[name] / 60 for step in history.steps]
        left.plot(minutes, [100 * a for a in history.metrics["accuracy"]], marker=marker,
                  markersize=3, label=label)
        middle.plot(list(by_length[name]), list(by_length[name].values()), marker=marker,
                    label=label)
    left.set_xlabel("estimated training time here (minutes)")
    left.set_ylabel("held-out exact match (%)")
    left.set_ylim(0, 102)
    left.legend(frameon=False, loc="lower right")
    middle.set_xscale("log", base=2)
    middle.set_yscale("log")
    middle.set_xlabel("source and target length (tokens)")
    middle.set_ylabel("seconds per training step")
    width = 0.38
    for offset, (n_threads, heights), color in zip([-width / 2, width / 2], by_cores.items(),
                                                   ["C4", "C5"]):
        right.bar([i + offset for i in range(len(SPEED_MODELS))], heights, width,
                  color=color, label=f"{n_threads} core{'s' if n_threads > 1 else ''}")
    right.set_xticks(range(len(SPEED_MODELS)), list(SPEED_MODELS.values()), fontsize=8)
    right.set_ylabel("seconds per step, length 128")
    right.legend(frameon=False, loc="upper right")
    right.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig
