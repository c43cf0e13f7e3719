"""Figures of chapter 1: the bigram probability table and the neural bigram's loss curve."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch

from llm_evolution.figures import figure, heatmap

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
