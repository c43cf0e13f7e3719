"""Figures of chapter 2: the RNN translators' accuracy by source length, an attention map,
and the time of a training step as the sequences grow."""

from __future__ import annotations

import statistics

import matplotlib.pyplot as plt

from llm_evolution.figures import figure, heatmap

MODELS = {"rnn-translator": "without attention", "rnn-attention-translator": "with attention"}


@figure(
    "rnn-accuracy-by-length",
    alt="Exact-match accuracy on held-out numbers against the length of the source in words, "
    "for the RNN translator without attention and with additive attention. The model with "
    "attention is near perfect at every length. Without attention, accuracy is highest on the "
    "shortest numbers and falls steeply as the source gets longer, to very few right on the "
    "longest: the fixed-size summary is the bottleneck.",
)
def rnn_accuracy_by_length() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.translation import accuracy_by_length, translation_data

    data = translation_data("numbers")
    counts: dict[int, int] = {}
    for source, _ in data.held_out_pairs:
        counts[len(source.split())] = counts.get(len(source.split()), 0) + 1
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for marker, (name, label) in zip("os", MODELS.items()):
        by_length = accuracy_by_length(zoo.get(name).model, data)
        # Lengths with few held-out pairs would plot noise: keep those with at least 20.
        lengths = [n for n in by_length if counts[n] >= 20]
        ax.plot(lengths, [100 * by_length[n] for n in lengths], marker=marker, label=label)
    ax.set_xlabel("source length (words)")
    ax.set_ylabel("held-out exact match (%)")
    ax.set_ylim(0, 102)
    ax.legend(frameon=False, loc="lower left")
    fig.tight_layout()
    return fig


@figure(
    "rnn-attention-map",
    alt="Attention weights of the RNN translator with attention on one held-out number: one "
    "row per output digit, one column per source word. The weights form a diagonal that walks "
    "along the source in order: each digit looks at the word that says it or at the word "
    "just before, the zeros that no word says look at the words that imply them, and the "
    "last digits and the end marker look at the end of the source.",
)
def rnn_attention_map() -> plt.Figure:
    from llm_evolution import translation, zoo

    data = translation.translation_data("numbers")
    source, _ = data.held_out_pairs[translation.ATTENTION_EXAMPLE_INDEX]
    words, outputs, weights = translation.rnn_attention_map(
        zoo.get("rnn-attention-translator").model, data, source)
    fig, ax = plt.subplots(figsize=(0.45 * len(words) + 2.4, 0.4 * len(outputs) + 1.8))
    heatmap(ax, weights.numpy(), columns=words, rows=outputs, colorbar_label="attention weight",
            column_rotation=60)
    ax.set_xlabel("source word")
    ax.set_ylabel("output token")
    fig.tight_layout()
    return fig


@figure(
    "rnn-step-time",
    alt="Seconds per training step of the RNN translator against the length of its source and "
    "target sequences, from 8 to 128 tokens, on logarithmic axes, next to a dashed line of "
    "time proportional to length. The measured points follow the dashed line closely: the "
    "RNN reads and writes one token after another, so twice the length takes about twice "
    "the time.",
)
def rnn_step_time() -> plt.Figure:
    from llm_evolution.timing import step_seconds_by_length

    fig, ax = plt.subplots(figsize=(7, 3.8))
    seconds = step_seconds_by_length("rnn-translator", (8, 16, 32, 64, 128), batch_size=32)
    lengths = list(seconds)
    ax.plot(lengths, [seconds[n] for n in lengths], marker="o", label="measured")
    # For reference, time exactly proportional to length, at the median cost per position.
    per_position = statistics.median(seconds[n] / n for n in lengths)
    ax.plot(lengths, [per_position * n for n in lengths], linestyle="--", color="C1",
            label="proportional to length")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_xlabel("source and target length (tokens)")
    ax.set_ylabel("seconds per training step")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
