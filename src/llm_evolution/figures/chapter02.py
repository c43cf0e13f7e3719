"""Figures of chapter 2: the bottleneck and attention side by side (a diagram), the RNN
translators' accuracy by source length, an attention map, and the time of a training step as
the sequences grow."""

from __future__ import annotations

import functools
import statistics

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure, heatmap
from llm_evolution.figures.diagrams import (
    arrow,
    attention_lines,
    canvas,
    frame,
    token_box,
    vector_bar,
)

MODELS = {"rnn-translator": "without attention", "rnn-attention-translator": "with attention"}


@functools.lru_cache(maxsize=1)  # the light and the dark figure: one evaluation
def _accuracy_by_length() -> tuple[dict[int, int], dict[str, dict[int, float]]]:
    """Held-out pairs per source length, and each model's exact match per length."""
    from llm_evolution import zoo
    from llm_evolution.translation import accuracy_by_length, translation_data

    data = translation_data("numbers")
    counts: dict[int, int] = {}
    for source, _ in data.held_out_pairs:
        counts[len(source.split())] = counts.get(len(source.split()), 0) + 1
    return counts, {name: accuracy_by_length(zoo.get(name).model, data) for name in MODELS}


@figure(
    "rnn-accuracy-by-length",
    alt="Exact-match accuracy on held-out numbers against the length of the source in words, "
    "for the RNN translator without attention and with additive attention. The model with "
    "attention is near perfect at every length. Without attention, accuracy is highest on the "
    "shortest numbers and falls steeply as the source gets longer, to very few right on the "
    "longest: the fixed-size summary is the bottleneck.",
)
def rnn_accuracy_by_length() -> plt.Figure:
    counts, accuracies = _accuracy_by_length()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for marker, (name, label) in zip("os", MODELS.items()):
        by_length = accuracies[name]
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


# ---------------------------------------------------------------- concept diagram

# The diagram's example, from the chapter's own task: 342 in words, and its digits.
EXAMPLE_NUMBER = 342
# Who each output digit looks at in the picture (illustrative weights, one row per digit,
# one column per source word): the word that says the digit, a little of its neighbours.
EXAMPLE_WEIGHTS = [[0.75, 0.2, 0.05, 0.0], [0.05, 0.15, 0.75, 0.05], [0.0, 0.05, 0.15, 0.8]]


def _state_values(seed: int, size: int = 3) -> list[float]:
    """Shading of a drawn state vector: fixed, varied-looking numbers in 0..1."""
    return [((seed * 7 + i * 5) % 9) / 8 for i in range(size)]


def _seq2seq_panel(ax, x0: float, words: list[str], digits: str, attention: bool,
                   summary_size: int) -> None:
    """One encoder-decoder, ``x0`` its left edge: source words, encoder states (read in both
    directions), then either one summary vector feeding the decoder, or attention lines from
    every decoder state to every encoder state."""
    word_x = [x0 + 0.62 + 1.2 * i for i in range(len(words))]
    digit_x = [x0 + 1.22 + 1.2 * i for i in range(len(digits))]
    word_y, encoder_y, middle_y, decoder_y, digit_y = 0.45, 1.1, 2.3, 3.5, 4.15
    for i, (x, word) in enumerate(zip(word_x, words)):
        token_box(ax, x, word_y, word, width=1.05, height=0.5, fontsize=9)
        vector_bar(ax, x, encoder_y, _state_values(i), cell=0.18)
    for left, right in zip(word_x, word_x[1:]):  # the encoder reads both ways
        arrow(ax, (left + 0.34, encoder_y + 0.07), (right - 0.34, encoder_y + 0.07), width=0.9)
        arrow(ax, (right - 0.34, encoder_y - 0.07), (left + 0.34, encoder_y - 0.07), width=0.9)
    for i, (x, digit) in enumerate(zip(digit_x, digits)):
        vector_bar(ax, x, decoder_y, _state_values(i + 5), cell=0.18)
        token_box(ax, x, digit_y, digit, "output", width=0.55, height=0.5)
    for left, right in zip(digit_x, digit_x[1:]):  # the decoder writes one step after another
        arrow(ax, (left + 0.34, decoder_y), (right - 0.34, decoder_y), width=0.9)
    if attention:
        attention_lines(ax, [(x, encoder_y + 0.16) for x in word_x],
                        [(x, decoder_y - 0.16) for x in digit_x], EXAMPLE_WEIGHTS,
                        max_width=4.0)
    else:
        # The last state of each direction, joined into one vector: all the decoder sees.
        centre = (word_x[0] + word_x[-1]) / 2
        arrow(ax, (word_x[0] + 0.15, encoder_y + 0.16), (centre - 0.4, middle_y - 0.13))
        arrow(ax, (word_x[-1] - 0.15, encoder_y + 0.16), (centre + 0.4, middle_y - 0.13))
        vector_bar(ax, centre, middle_y, _state_values(3, 6), "highlight", cell=0.18)
        ax.text(centre + 0.7, middle_y, f"{summary_size}\nnumbers", ha="left", va="center",
                fontsize=9, style="italic")
        for x in digit_x:
            arrow(ax, (centre, middle_y + 0.13), (x, decoder_y - 0.16), "highlight", width=1.0)
    frame(ax, x0, 0.1, 4.85, 4.4,
          "with attention: every state" if attention else "without attention: one vector")


@diagram(
    "seq2seq-bottleneck-vs-attention",
    alt="Two RNN encoder-decoders side by side translating 'three hundred forty two' into the "
    "digits 3, 4, 2. In both, the encoder reads the four words in both directions, one state "
    "per word, and the decoder writes one digit after another. On the left, without "
    "attention, the encoder's last states are squeezed into one vector, and every decoder "
    "step reads that same vector. On the right, with additive attention, lines run from each "
    "decoder step to every encoder state, thickest to the word that says the digit (the "
    "weights are illustrative).",
)
def seq2seq_bottleneck_vs_attention() -> plt.Figure:
    from llm_evolution.data.synthetic import number_to_words
    from llm_evolution.recipes.chapter02 import RNN_TRANSLATOR

    # The encoder's summary joins the last state of its two directions: 2 x hidden_size.
    summary_size = 2 * RNN_TRANSLATOR.config["hidden_size"]
    words = number_to_words(EXAMPLE_NUMBER).split()
    digits = str(EXAMPLE_NUMBER)
    fig, ax = canvas(11.6, 5.1)
    for y, label in [(4.15, "digits"), (3.5, "decoder"), (1.1, "encoder"), (0.45, "words")]:
        ax.text(1.2, y, label, ha="right", va="center", fontsize=9, style="italic")
    _seq2seq_panel(ax, 1.4, words, digits, attention=False, summary_size=summary_size)
    _seq2seq_panel(ax, 6.7, words, digits, attention=True, summary_size=summary_size)
    return fig
