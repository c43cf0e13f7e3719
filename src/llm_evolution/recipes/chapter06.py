"""Chapter 6's trained models: two small GPTs on Shakespeare, one reading characters and one
reading chapter 4's byte-pair tokens (:func:`~llm_evolution.data.text.bpe_corpus`), trained by
the same loop for the same number of steps.

Their losses per token cannot be compared (a BPE token is several characters), so
:func:`~llm_evolution.evaluation.bits_per_character` measures both on the same held-out text,
per character.
"""

from __future__ import annotations

from llm_evolution.data.text import (
    bpe_corpus,
    bpe_corpus_fingerprint,
    char_corpus,
    corpus_fingerprint,
)
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import History, random_windows, train
from llm_evolution.zoo import Recipe, register


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
          "steps": 400, "lr": 3e-3, "warmup_steps": 40, "eval_every": 40}
GPT_CHAR = Recipe(
    name="gpt-char", build=build_gpt, fit=fit_gpt,
    config={"name": "gpt-char", "tokens": "char", **SHARED},
    seed=0, data_fingerprint=corpus_fingerprint,
    description="Chapter 6: a 4-layer GPT reading Shakespeare one character at a time.",
)
GPT_BPE = Recipe(
    name="gpt-bpe", build=build_gpt, fit=fit_gpt,
    config={"name": "gpt-bpe", "tokens": "bpe", **SHARED},
    seed=0, data_fingerprint=bpe_corpus_fingerprint,
    description="Chapter 6: the same GPT reading chapter 4's BPE tokens (1,024 of them).",
)
# --8<-- [end:gpt_recipes]
register(GPT_CHAR)
register(GPT_BPE)

