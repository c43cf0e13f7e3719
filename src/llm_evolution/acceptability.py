"""Chapter 5's second labelled task: is a line of the plays in Shakespeare's word order?

Like CoLA, the acceptability task of GLUE (Warstadt, Singh and Bowman, 2018, arXiv:1805.12471),
it asks whether a sequence of words is a possible sentence. Its negatives are made, not
collected: :func:`shuffle_words` puts the lower-case words of a real line in another order.
Telling the two apart needs no knowledge of comedy or tragedy, only of which words go where,
which is what masked-word pretraining practises. Capitalised words and punctuation stay where
they were, so that no capital letter in mid-line or stray comma gives a shuffled line away.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from typing import NamedTuple

from llm_evolution.measurements import measured
from llm_evolution.pretraining import genre_speeches, label_sweep

# --8<-- [start:shuffle_words]
AFFIXES = re.compile(r"^(\W*)(.*?)(\W*)$")  # punctuation before, the word, punctuation after
LOWER_CASE_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")  # "lord", "ne'er"; not "I", "Romeo"


def shuffle_words(words: list[str], rng: random.Random) -> list[str]:
    """``words`` with its lower-case words put in another order. Every other word, and each
    word's punctuation, stays in its place. Raises ValueError if the line has fewer than two
    different lower-case words."""
    parts = [AFFIXES.match(word).groups() for word in words]  # (before, word, after)
    cores = [core for _, core, _ in parts]
    movable = [i for i, core in enumerate(cores) if LOWER_CASE_WORD.fullmatch(core)]
    if len({cores[i] for i in movable}) < 2:
        raise ValueError(f"fewer than two different lower-case words to shuffle in {words}")
    order = list(movable)
    while [cores[i] for i in order] == [cores[i] for i in movable]:  # never the same line
        rng.shuffle(order)
    moved = [cores[i] for i in order]
    for i, core in zip(movable, moved):
        cores[i] = core
    return [before + core + after for (before, _, after), core in zip(parts, cores)]
# --8<-- [end:shuffle_words]


# --8<-- [start:acceptability_lines]
class Line(NamedTuple):
    text: str
    label: int  # 1 = as written, 0 = shuffled


@lru_cache(maxsize=2)
def acceptability_lines(n_words: int = 12, seed: int = 0) -> dict[str, list[Line]]:
    """{"train": [...], "test": [...]}: the first ``n_words`` words of every speech of the
    genre task (test lines from the last tenth of each play, as there), about half of them as
    written and half shuffled. A line with too few lower-case words stays as written."""
    rng = random.Random(seed)
    lines: dict[str, list[Line]] = {}
    for split, speeches in genre_speeches().items():
        lines[split] = []
        for speech in speeches:
            words, label = speech.text.split()[:n_words], 1
            if rng.random() < 0.5:
                try:
                    words, label = shuffle_words(words, rng), 0
                except ValueError:
                    pass
            lines[split].append(Line(" ".join(words), label))
    return lines
# --8<-- [end:acceptability_lines]


# --8<-- [start:acceptability_sweep]
LABEL_COUNTS = (50, 200, 1000)  # labelled lines per run
SEEDS = (0, 1, 2)
WHOLE_MINILM_COUNTS = (50,)  # MiniLM trained whole costs far more than a tiny BERT: 50 only


@measured  # minutes of fine-tuning on one core: once per machine, then kept
def acceptability_sweep(label_counts: tuple[int, ...] = LABEL_COUNTS,
                        seeds: tuple[int, ...] = SEEDS,
                        whole_minilm_counts: tuple[int, ...] = WHOLE_MINILM_COUNTS
                        ) -> dict[str, list[float]]:
    """Chapter 5's few-label experiment on the word-order task, with the genre task's
    settings: ``{"scratch 50": [one accuracy per seed], "pretrained 50": [...], ...}``."""
    from llm_evolution import zoo

    settings = zoo.find("bert-genre").config
    encoder = zoo.get("bert-mlm").model.bert
    return label_sweep(encoder, settings, seeds, label_counts, acceptability_lines(),
                       whole_minilm_counts)
# --8<-- [end:acceptability_sweep]
