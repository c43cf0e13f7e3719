"""Figures of chapter 4: byte-pair merges step by step (diagrams), and what a bigger BPE
vocabulary buys in sequence length."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure
from llm_evolution.figures.diagrams import arrow, canvas, step_badge, token_box
from llm_evolution.vocabulary_sweep import tokens_per_character_sweep

@figure(
    "bpe-tokens-per-char",
    alt="Tokens per character against vocabulary size (log scale, 257 to 8,000 tokens) for "
    "byte-level BPE trained on Shakespeare, measured on the training text and on held-out text. "
    "Both curves fall steeply from one token per character (bytes only), then flatten towards a "
    "dashed line, one token per word: the first few hundred merges buy the most. The two curves "
    "almost coincide: merges learned on the training text serve unseen text nearly as well.",
)
def bpe_tokens_per_char() -> plt.Figure:
    sweep = tokens_per_character_sweep()  # the page's sweep, read from the cache
    training, held_out = sweep["training text"], sweep["held-out text"]
    one_per_word = sweep["one token per word"]
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


# ---------------------------------------------------------------- concept diagrams

# The diagrams' example: a string whose first merges are easy to follow, and the word of it
# that the overview follows.
BPE_EXAMPLE = "low lower lowest newest widest"
OVERVIEW_WORD = " lowest"
# The merges the trainer learns on BPE_EXAMPLE, as the alt texts tell them: drawing any of the
# diagrams checks them, so a change to the trainer cannot leave the text behind.
EXPECTED_MERGES = [("e", "s"), ("l", "o"), ("es", "t"), ("lo", "w")]
BPE_STEPS = len(EXPECTED_MERGES)  # the diagrams show the first four merges


@lru_cache(maxsize=1)
def bpe_example() -> tuple[list[tuple[str, str]], list[list[list[str]]], list[int]]:
    """What :func:`~llm_evolution.tokenizers.train_bpe` learns on BPE_EXAMPLE: its first
    BPE_STEPS merges, the example's words as tokens before each merge and after the last
    (BPE_STEPS + 1 lists of words), and how often each merged pair occurred."""
    from llm_evolution.tokenizers import (initial_vocabulary, pretokenize, to_byte_chars,
                                          train_bpe)

    merges = train_bpe(BPE_EXAMPLE, len(initial_vocabulary()) + BPE_STEPS)
    if merges != EXPECTED_MERGES:
        raise ValueError(f"train_bpe now learns {merges} on {BPE_EXAMPLE!r}, not "
                         f"{EXPECTED_MERGES}: update EXPECTED_MERGES and the diagrams' alt text")
    word_counts = Counter(pretokenize(BPE_EXAMPLE))
    words = [list(to_byte_chars(word)) for word in word_counts]
    stages, pair_counts = [words], []
    for pair in merges:
        pair_counts.append(sum(count * len(_pair_positions(word, pair))
                               for word, count in zip(stages[-1], word_counts.values())))
        stages.append([_merge(word, pair) for word in stages[-1]])
    return merges, stages, pair_counts


def _pair_positions(word: list[str], pair: tuple[str, str]) -> list[int]:
    """Where ``pair`` starts in ``word``, scanning left to right without overlaps (as a merge
    does: 'a a a' holds the pair ('a', 'a') once)."""
    positions, i = [], 0
    while i + 1 < len(word):
        if (word[i], word[i + 1]) == pair:
            positions.append(i)
            i += 2
        else:
            i += 1
    return positions


def _merge(word: list[str], pair: tuple[str, str]) -> list[str]:
    """``word`` with each occurrence of ``pair`` replaced by the merged token."""
    starts = set(_pair_positions(word, pair))
    merged, i = [], 0
    while i < len(word):
        if i in starts:
            merged.append(word[i] + word[i + 1])
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged


def _shown(token: str) -> str:
    """A byte-level token as the diagrams write it: GPT-2's space character 'Ġ' as '␣'."""
    return token.replace("Ġ", "␣")


def _token_row(ax, x: float, y: float, tokens: list[str], marked: set[int]) -> float:
    """Token boxes side by side from ``x`` (left edge), each as wide as its text; the boxes
    whose index is in ``marked`` in the highlight colour. Returns the right edge."""
    for i, token in enumerate(tokens):
        width = 0.25 + 0.14 * len(_shown(token))
        token_box(ax, x + width / 2, y, _shown(token), "highlight" if i in marked else None,
                  width=width, height=0.46)
        x += width + 0.06
    return x - 0.06


@diagram(
    "bpe-merges",
    alt="One word, ' lowest' with the space in front of it, as byte-pair encoding builds it. "
    "It starts as seven single-byte tokens: the space, l, o, w, e, s, t. Four merges follow, "
    "one per row, each joining two adjacent tokens into one, highlighted: "
    + ", ".join(f"{left} and {right} into {left + right}" for left, right in EXPECTED_MERGES)
    + ". The word ends as three tokens: the space, low and est.",
)
def bpe_merges() -> plt.Figure:
    from llm_evolution.tokenizers import to_byte_chars

    merges, stages, _ = bpe_example()
    index = ["".join(word) for word in stages[0]].index(to_byte_chars(OVERVIEW_WORD))
    fig, ax = canvas(6.2, 0.7 * len(stages) + 0.1)
    top = 0.7 * len(stages) + 0.05
    for step, words in enumerate(stages):
        y = top - 0.7 * step - 0.35
        tokens = words[index]
        marked = set()
        if step:
            left, right = merges[step - 1]
            marked = {i for i, token in enumerate(tokens) if token == left + right}
            step_badge(ax, 0.45, y, step)
            ax.text(4.7, y, f"{_shown(left)} + {_shown(right)}", ha="left", va="center",
                    fontsize=10, family="DejaVu Sans Mono")
        else:
            ax.text(0.45, y, "bytes", ha="center", va="center", fontsize=9, style="italic")
        _token_row(ax, 1.0, y, tokens, marked)
    ax.text(4.7, top - 0.35, "merge", ha="left", va="center", fontsize=9, style="italic")
    return fig


def _bpe_merge_step(step: int) -> plt.Figure:
    """Step ``step`` (from 1) of BPE on BPE_EXAMPLE: every word before the merge, with the
    most frequent pair highlighted, and after it, with the new token highlighted."""
    merges, stages, pair_counts = bpe_example()
    pair = merges[step - 1]
    before, after = stages[step - 1], stages[step]
    rows = len(before)
    height = 0.62 * rows + 1.45
    fig, ax = canvas(8.8, height)
    title_y = height - 0.35
    step_badge(ax, 0.45, title_y, step)
    # The title, its tokens in the token boxes' typeface (each part placed after the last).
    part = ax.text(0.85, title_y, "most frequent pair:", ha="left", va="center", fontsize=10)
    for text, family in [(f"{_shown(pair[0])} + {_shown(pair[1])}", "DejaVu Sans Mono"),
                         (f"({pair_counts[step - 1]} times)", None)]:
        part = ax.annotate(text, xy=(1, 0.5), xycoords=part, xytext=(5, 0),
                           textcoords="offset points", ha="left", va="center", fontsize=10,
                           family=family)
    header_y = title_y - 0.55
    ax.text(0.3, header_y, "before", ha="left", va="center", fontsize=9, style="italic")
    ax.text(5.2, header_y, "after", ha="left", va="center", fontsize=9, style="italic")
    merged = "".join(pair)
    for r, (old, new) in enumerate(zip(before, after)):
        y = header_y - 0.6 - 0.62 * r
        starts = _pair_positions(old, pair)
        _token_row(ax, 0.3, y, old, {*starts, *(s + 1 for s in starts)})
        _token_row(ax, 5.2, y, new, {i for i, token in enumerate(new) if token == merged})
    middle = header_y - 0.6 - 0.62 * (rows - 1) / 2
    arrow(ax, (3.9, middle), (4.8, middle), "highlight", width=1.6)
    return fig


def _register_bpe_steps() -> None:
    """One diagram per merge, ``bpe-merge-step-1`` ... (shown as tabs on the page)."""
    for step, (left, right) in enumerate(EXPECTED_MERGES, start=1):
        diagram(
            f"bpe-merge-step-{step}",
            alt=f"Step {step} of byte-pair encoding on the string '{BPE_EXAMPLE}', one word per "
            "row, every word but the first keeping the space in front of it (drawn as an open "
            "box). On the left, the words as tokens before the merge, with every occurrence of "
            f"the most frequent pair of adjacent tokens, {left} and {right}, highlighted; on the "
            f"right, the same words after the merge, each pair now the one new token "
            f"{left + right}, highlighted.",
        )(_bpe_step_drawer(step))


def _bpe_step_drawer(step: int):
    def draw() -> plt.Figure:
        return _bpe_merge_step(step)

    draw.__qualname__ = f"bpe_merge_step_{step}"
    return draw


_register_bpe_steps()
