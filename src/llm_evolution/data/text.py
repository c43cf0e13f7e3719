"""The corpus as token ids, ready for a language model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import torch

from llm_evolution.data.shakespeare import load_corpus, load_train_val
from llm_evolution.tokenizers import CharTokenizer


@dataclass(frozen=True)
class CharCorpus:
    """The corpus split into training and held-out text, encoded one id per character."""

    tokenizer: CharTokenizer
    train_text: str
    val_text: str
    train_ids: torch.Tensor
    val_ids: torch.Tensor


@lru_cache(maxsize=1)
def char_corpus() -> CharCorpus:
    """Shakespeare, character-level. The held-out text is the last tenth of every play; the
    vocabulary covers both splits, so every held-out character can be scored."""
    text = load_corpus()
    train_text, val_text = load_train_val()
    tokenizer = CharTokenizer.from_text(text)
    return CharCorpus(
        tokenizer=tokenizer,
        train_text=train_text,
        val_text=val_text,
        train_ids=torch.tensor(tokenizer.encode(train_text), dtype=torch.long),
        val_ids=torch.tensor(tokenizer.encode(val_text), dtype=torch.long),
    )


def corpus_fingerprint() -> str:
    """sha256 of the corpus text, so cached models retrain if the corpus ever changes."""
    return hashlib.sha256(load_corpus().encode()).hexdigest()
