"""Chapter 2's trained models: the RNN translators, without and with attention.

:func:`fit_translator` is shared with chapter 3, which trains its Transformer on the same task
with the same loop and the same config keys (``name``, ``task``, ``batch_size``, ``steps``,
``lr``, ``eval_every``, and optionally ``warmup_steps`` and ``lr_decay``); model sizes live
under other keys, read only by the build functions.
"""

from __future__ import annotations

from torch import nn

from llm_evolution.models.rnn import Seq2SeqRNN
from llm_evolution.training import History, train
from llm_evolution.translation import exact_match, translation_data
from llm_evolution.zoo import Recipe, register


# --8<-- [start:translator_recipe]
ACCURACY_PAIRS = 500  # held-out pairs scored at every evaluation (the same ones each time)


def build_rnn_translator(config: dict) -> Seq2SeqRNN:
    data = translation_data(config["task"])
    return Seq2SeqRNN(len(data.source_vocab), len(data.target_vocab),
                      embed_size=config["embed_size"], hidden_size=config["hidden_size"],
                      attention=config["attention"])


def fit_translator(model: nn.Module, config: dict, seed: int) -> History:
    data = translation_data(config["task"])
    scored = data.held_out_pairs[:ACCURACY_PAIRS]
    return train(
        model,
        data.batches("train", config["batch_size"]),
        val_batch=data.batches("held_out", config["batch_size"]),
        steps=config["steps"],
        lr=config["lr"],
        # Optional schedule: a linear warmup, then (with lr_decay) a linear decay to 0.
        warmup_steps=config.get("warmup_steps", 0),
        lr_decay=config.get("lr_decay", False),
        eval_every=config["eval_every"],
        seed=seed,
        desc=config["name"],
        # Greedy translations of the same held-out pairs at every evaluation.
        eval_metrics=lambda model: {"accuracy": exact_match(model, data, scored)},
    )


RNN_TRANSLATOR = Recipe(
    name="rnn-translator",
    build=build_rnn_translator,
    fit=fit_translator,
    config={"name": "rnn-translator", "task": "numbers", "batch_size": 64, "steps": 400,
            "lr": 3e-3, "lr_decay": True, "eval_every": 40, "embed_size": 64,
            "hidden_size": 128, "attention": False},
    seed=0,
    data_fingerprint=lambda: translation_data("numbers").fingerprint(),
    description="Chapter 2: GRU encoder-decoder, the source squeezed into one vector.",
)
# --8<-- [end:translator_recipe]

RNN_ATTENTION_TRANSLATOR = Recipe(
    name="rnn-attention-translator",
    build=build_rnn_translator,
    fit=fit_translator,
    config={**RNN_TRANSLATOR.config, "name": "rnn-attention-translator", "attention": True},
    seed=0,
    data_fingerprint=lambda: translation_data("numbers").fingerprint(),
    description="Chapter 2: the same GRU encoder-decoder with additive (Bahdanau) attention.",
)
register(RNN_TRANSLATOR)
register(RNN_ATTENTION_TRANSLATOR)
