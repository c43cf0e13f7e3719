"""Chapter 6's trained models: two small GPTs on Shakespeare, one reading characters and one
reading chapter 4's byte-pair tokens, trained by the same loop for the same number of steps.

Their losses per token cannot be compared (a BPE token is several characters), so
:func:`bits_per_character` measures both on the same held-out text, per character.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from llm_evolution.data.text import char_corpus, corpus_fingerprint
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.tokenizers import shakespeare_bpe
from llm_evolution.training import History, random_windows, train
from llm_evolution.zoo import Recipe, register

BPE_VOCAB_SIZE = 1024  # chapter 4's tokenizer cut down: small enough to learn in ~1000 steps


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


# --8<-- [start:gpt_recipes]
def corpus_for(config: dict):
    """The token ids a recipe trains on: characters or BPE tokens."""
    return char_corpus() if config["tokens"] == "char" else bpe_corpus()


def build_gpt(config: dict) -> GPT:
    return GPT(GPTConfig(vocab_size=corpus_for(config).tokenizer.vocab_size,
                         context_size=config["context_size"], d_model=config["d_model"],
                         n_heads=config["n_heads"], n_layers=config["n_layers"]))


def fit_gpt(model: GPT, config: dict, seed: int) -> History:
    corpus = corpus_for(config)
    block, batch = config["context_size"], config["batch_size"]
    return train(
        model,
        random_windows(corpus.train_ids, block, batch),
        val_batch=random_windows(corpus.val_ids, block, batch),
        steps=config["steps"], lr=config["lr"], eval_every=config["eval_every"],
        warmup_steps=config["warmup_steps"], lr_decay=True, seed=seed, desc=config["name"],
    )


SHARED = {"context_size": 64, "d_model": 128, "n_heads": 4, "n_layers": 4, "batch_size": 16,
          "steps": 1000, "lr": 3e-3, "warmup_steps": 100, "eval_every": 50}
GPT_CHAR = Recipe(
    name="gpt-char", build=build_gpt, fit=fit_gpt,
    config={"name": "gpt-char", "tokens": "char", **SHARED},
    seed=0, data_fingerprint=corpus_fingerprint,
    description="Chapter 6: a 4-layer GPT reading Shakespeare one character at a time.",
)
GPT_BPE = Recipe(
    name="gpt-bpe", build=build_gpt, fit=fit_gpt,
    config={"name": "gpt-bpe", "tokens": "bpe", **SHARED},
    seed=0, data_fingerprint=corpus_fingerprint,
    description="Chapter 6: the same GPT reading chapter 4's BPE tokens (1,024 of them).",
)
# --8<-- [end:gpt_recipes]
register(GPT_CHAR)
register(GPT_BPE)


# --8<-- [start:bits_per_character]
@torch.no_grad()
def held_out_nats(model: GPT, ids: torch.Tensor, batch_size: int = 64) -> float:
    """Total negative log-likelihood (nats) of ``ids`` under ``model``, read in consecutive
    windows of the model's context: every token but the first is predicted once."""
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor with at least 2 tokens")
    block = model.config.context_size
    n_windows = (len(ids) - 1) // block
    inputs = ids[: n_windows * block].view(n_windows, block)
    targets = ids[1 : n_windows * block + 1].view(n_windows, block)
    total = 0.0
    for start in range(0, n_windows, batch_size):
        logits, _ = model(inputs[start : start + batch_size])
        total += torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets[start : start + batch_size].flatten(),
            reduction="sum").item()
    rest = len(ids) - n_windows * block  # the last, shorter window (it keeps >= 1 token)
    if rest > 1:
        _, loss = model(ids[-rest:-1][None], ids[-rest + 1:][None])
        total += loss.item() * (rest - 1)
    return total


def bits_per_character(model: GPT, ids: torch.Tensor, n_characters: int) -> float:
    """Held-out loss per character, in bits: the one measure on which models with different
    tokenizers compete fairly (a text costs the same bits whatever it is cut into)."""
    return held_out_nats(model, ids) / n_characters / math.log(2)
# --8<-- [end:bits_per_character]
