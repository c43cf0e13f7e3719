"""Chapter 1's trained model: the neural bigram (see :mod:`llm_evolution.zoo`).

Each recipe is a build function, a fit function, a config and a seed. Keep fit functions
short: they only wire data to :func:`llm_evolution.training.train`.
"""

from __future__ import annotations

from llm_evolution.data.text import char_corpus, corpus_fingerprint
from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.training import History, random_windows, train
from llm_evolution.zoo import Recipe, register


# --8<-- [start:neural_bigram_recipe]
def build_neural_bigram(config: dict) -> NeuralBigram:
    return NeuralBigram(char_corpus().tokenizer.vocab_size)


def fit_language_model(model, config: dict, seed: int) -> History:
    corpus = char_corpus()
    return train(
        model,
        random_windows(corpus.train_ids, config["block_size"], config["batch_size"]),
        val_batch=random_windows(corpus.val_ids, config["block_size"], config["batch_size"]),
        steps=config["steps"],
        lr=config["lr"],
        eval_every=config["eval_every"],
        seed=seed,
        desc=config["name"],
    )


NEURAL_BIGRAM = Recipe(
    name="neural-bigram",
    build=build_neural_bigram,
    fit=fit_language_model,
    config={"name": "neural-bigram", "block_size": 64, "batch_size": 64, "steps": 2000,
            "lr": 0.05, "eval_every": 50},
    seed=1337,
    data_fingerprint=corpus_fingerprint,
    description="Chapter 1: a (vocab x vocab) table of logits trained on Shakespeare.",
)
# --8<-- [end:neural_bigram_recipe]
register(NEURAL_BIGRAM)
