"""Figures of chapter 1: the idea of a language model (a diagram), the bigram probability
table and the neural bigram's loss curve."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from llm_evolution.figures import diagram, figure, heatmap
from llm_evolution.figures.diagrams import arrow, canvas, frame, layer_block, token_box

SHOWN_CHARS = " abcdefghijklmnopqrstuvwxyz"


@figure(
    "bigram-probabilities",
    alt="Heatmap of the probability of the next character (columns) given the current one "
    "(rows), for space and the 26 lowercase letters, counted in Shakespeare. Bright cells "
    "stand out: q is almost always followed by u, and most letters are often followed by a "
    "space or a vowel.",
)
def bigram_probabilities() -> plt.Figure:
    from llm_evolution.data.text import char_corpus
    from llm_evolution.models.bigram import CountBigram, bigram_counts

    corpus = char_corpus()
    vocab = corpus.tokenizer
    probs = CountBigram(bigram_counts(corpus.train_ids, vocab.vocab_size)).log_probs.exp()
    index = torch.tensor(vocab.encode(SHOWN_CHARS))
    table = probs[index][:, index].numpy()

    fig, ax = plt.subplots(figsize=(7.2, 6.4))
    labels = ["␣" if c == " " else c for c in SHOWN_CHARS]
    heatmap(ax, table, columns=labels, rows=labels, colorbar_label="P(next | current)",
            vmax=min(1.0, float(table.max())), fontsize=8)
    ax.set_xlabel("next character")
    ax.set_ylabel("current character")
    fig.tight_layout()
    return fig


@figure(
    "neural-bigram-loss",
    alt="Training and held-out loss of the neural bigram over training steps. Both fall "
    "steeply in the first hundred steps and then flatten: the held-out loss just above a "
    "dashed line, the held-out loss of the counted bigram table, and the training loss just "
    "below it. Gradient descent recovers the counts.",
)
def neural_bigram_loss() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.data.text import char_corpus
    from llm_evolution.models.bigram import CountBigram, bigram_counts
    from llm_evolution.training import perplexity

    corpus = char_corpus()
    history = zoo.get("neural-bigram").history
    counts = bigram_counts(corpus.train_ids, corpus.tokenizer.vocab_size)
    count_loss = math.log(perplexity(CountBigram(counts), corpus.val_ids))  # back to nats

    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(history.steps, history.train_loss, label="training loss")
    ax.plot(history.steps, history.val_loss, label="held-out loss")
    ax.axhline(count_loss, linestyle="--", color="C2", label="counted bigram, held-out")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- concept diagram

# The diagram's example: a context, and the few next characters it shows with their bars.
# The probabilities are made up for the picture (they only need to look plausible).
CONTEXT = "To b"
CANDIDATES = {"e": 0.55, "u": 0.16, "r": 0.12, "a": 0.1, "o": 0.07}


def _shown(char: str) -> str:
    """A character as the diagrams write it: a space is drawn as '␣'."""
    return "␣" if char == " " else char


def _probability_bar(ax, x: float, bottom: float, probability: float, top: float) -> None:
    """A vertical bar standing on ``bottom``, as tall as ``probability`` of the ``top`` height:
    a token box without text, in the outputs' colour (built from the diagram shapes only)."""
    height = max(probability * top, 0.05)
    token_box(ax, x, bottom + height / 2, "", "output", width=0.42, height=height)


@diagram(
    "language-model-idea",
    alt="A language model at work. Four characters of context, T, o, a space and b, go into a "
    "block labelled language model, which gives a probability to every possible next "
    "character, drawn as bars over a handful of candidates: e has by far the tallest bar, "
    "then u, r, a and o. The probabilities are illustrative, not computed. The picked "
    "character e is appended to the context, giving 'To be', and the model is asked again.",
)
def language_model_idea() -> plt.Figure:
    fig, ax = canvas(11.2, 5.45)
    row = 4.2
    # The context: the text so far, one token box per character.
    xs = [0.65 + 0.75 * i for i in range(len(CONTEXT))]
    for x, char in zip(xs, CONTEXT):
        token_box(ax, x, row, _shown(char), width=0.62, height=0.55)
    frame(ax, 0.2, row - 0.5, xs[-1] + 0.45 - 0.2, 1.0, "context: the text so far")
    arrow(ax, (xs[-1] + 0.55, row), (4.15, row))
    layer_block(ax, 5.0, row, 1.7, 1.0, "language\nmodel")
    arrow(ax, (5.85, row), (6.75, row))

    # The output: one probability per possible next token (the bars), for a few candidates.
    base, tallest = 3.0, 1.9
    cx = [7.3 + 0.8 * i for i in range(len(CANDIDATES))]
    for x, (char, p) in zip(cx, CANDIDATES.items()):
        _probability_bar(ax, x, base, p / max(CANDIDATES.values()), tallest)
        token_box(ax, x, base - 0.4, char, "highlight" if x == cx[0] else None,
                  width=0.55, height=0.5)
    frame(ax, 6.75, base - 0.8, cx[-1] + 0.5 - 6.75, tallest + 1.0,
          "P(next token | context)")

    # Pick one (here the likeliest) and append it: the new context, and round again.
    picked = next(iter(CANDIDATES))
    arrow(ax, (cx[0], base - 0.7), (cx[0], 0.8), "highlight", width=1.6)
    ax.text(cx[0] + 0.2, 1.4, "pick one,\nappend it", ha="left", va="center", fontsize=9)
    new = CONTEXT + picked
    nx = [cx[0] - 0.75 * (len(new) - 1 - i) for i in range(len(new))]
    for i, (x, char) in enumerate(zip(nx, new)):
        token_box(ax, x, 0.45, _shown(char), "highlight" if i == len(new) - 1 else None,
                  width=0.62, height=0.55)
    arrow(ax, (nx[0] - 0.45, 0.45), (xs[0], row - 0.55), curve=-0.35, dashed=True)
    ax.text(0.3, 1.7, "again", ha="left", va="center", fontsize=9, style="italic")
    return fig
