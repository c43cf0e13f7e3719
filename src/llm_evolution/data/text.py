"""The corpus as token ids, ready for a language model: one id per character, or chapter 4's
byte-pair tokens."""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from functools import lru_cache

import torch

from llm_evolution.data.shakespeare import load_corpus, load_train_val
from llm_evolution.tokenizers import CharTokenizer, shakespeare_bpe

BPE_VOCAB_SIZE = 1024  # chapter 4's tokenizer cut down: small enough to learn in ~1000 steps


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


# --8<-- [start:bpe_corpus]
@dataclass(frozen=True)
class TokenCorpus:
    """The same training and held-out text as :func:`char_corpus`, as BPE token ids."""

    tokenizer: object
    train_ids: torch.Tensor
    val_ids: torch.Tensor


@lru_cache(maxsize=1)
def bpe_corpus() -> TokenCorpus:
    """Shakespeare in chapter 4's byte-level BPE, truncated to ``BPE_VOCAB_SIZE`` tokens."""
    corpus = char_corpus()
    tokenizer = shakespeare_bpe().truncated(BPE_VOCAB_SIZE)
    return TokenCorpus(
        tokenizer=tokenizer,
        train_ids=torch.tensor(tokenizer.encode(corpus.train_text), dtype=torch.long),
        val_ids=torch.tensor(tokenizer.encode(corpus.val_text), dtype=torch.long),
    )
# --8<-- [end:bpe_corpus]


def bpe_corpus_fingerprint() -> str:
    """The corpus text and the code that cuts it into BPE ids (this module, with
    ``BPE_VOCAB_SIZE``, and :mod:`llm_evolution.tokenizers`): a model trained on
    :func:`bpe_corpus` must retrain when any of them changes, and a recipe's key does not
    cover code outside the recipe's module by itself."""
    code = "".join(inspect.getsource(inspect.getmodule(function))
                   for function in (bpe_corpus, shakespeare_bpe))
    return corpus_fingerprint() + hashlib.sha256(code.encode()).hexdigest()
