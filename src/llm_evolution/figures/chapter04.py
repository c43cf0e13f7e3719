"""Figures of chapter 4: what a bigger BPE vocabulary buys in sequence length."""

from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt

from llm_evolution.figures import figure

# Vocabulary sizes of the sweep: the 257 tokens every vocabulary starts with (256 bytes and
# one special token) up to the full 8,000 of the chapter's tokenizer, spaced evenly on a log axis.
SWEEP_SIZES = (257, 300, 400, 500, 700, 1000, 1500, 2000, 3000, 4000, 6000, 8000)


@lru_cache(maxsize=1)
def tokens_per_char_sweep() -> tuple[dict[int, float], dict[int, float], float]:
    """Tokens per character on the training and held-out text for each of SWEEP_SIZES, and on
    held-out text with one token per word. Cached: both themes draw the same numbers."""
    from llm_evolution.data.text import char_corpus
    from llm_evolution.tokenizers import pretokenize, shakespeare_bpe, tokens_per_character

    corpus = char_corpus()
    bpe = shakespeare_bpe()
    return (tokens_per_character(bpe, corpus.train_text, SWEEP_SIZES),
            tokens_per_character(bpe, corpus.val_text, SWEEP_SIZES),
            len(pretokenize(corpus.val_text)) / len(corpus.val_text))


@figure(
    "bpe-tokens-per-char",
    alt="Tokens per character against vocabulary size (log scale, 257 to 8,000 tokens) for "
    "byte-level BPE trained on Shakespeare, measured on the training text and on held-out text. "
    "Both curves fall steeply from one token per character (bytes only), then flatten towards a "
    "dashed line, one token per word: the first few hundred merges buy the most. The two curves "
    "almost coincide: merges learned on the training text serve unseen text nearly as well.",
)
def bpe_tokens_per_char() -> plt.Figure:
    training, held_out, one_per_word = tokens_per_char_sweep()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(list(training), list(training.values()), marker="o", markersize=3,
            label="training text")
    ax.plot(list(held_out), list(held_out.values()), marker="o", markersize=3,
            label="held-out text")
    ax.axhline(one_per_word, linestyle="--", color="C2", label="one token per word (held-out)")
    ax.set_xscale("log")
    ax.set_xticks([257, 500, 1000, 2000, 4000, 8000], ["257", "500", "1,000", "2,000", "4,000",
                                                       "8,000"])
    ax.minorticks_off()
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("vocabulary size (tokens, log scale)")
    ax.set_ylabel("tokens per character")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
