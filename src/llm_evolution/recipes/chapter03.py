"""Chapter 3's trained models: Transformer translators on chapter 2's task, and the helpers
that measure their training speed against chapter 2's RNNs.

They are trained by chapter 2's :func:`~llm_evolution.recipes.chapter02.fit_translator`, so
the Transformers and the RNNs see the same batches for the same number of steps, with the same
learning-rate decay, and their held-out accuracy is measured the same way; only the model, its
learning rate and (for post-LN, as in the paper) a warmup differ.
"""

from __future__ import annotations

import torch
from torch import nn

from llm_evolution.models.transformer import Seq2SeqTransformer
from llm_evolution.recipes.chapter02 import fit_translator
from llm_evolution.timing import step_seconds
from llm_evolution.training import History
from llm_evolution.translation import translation_data
from llm_evolution.zoo import RECIPES, Recipe, register


# --8<-- [start:transformer_recipe]
def build_transformer_translator(config: dict) -> Seq2SeqTransformer:
    data = translation_data(config["task"])
    return Seq2SeqTransformer(
        len(data.source_vocab), len(data.target_vocab), d_model=config["d_model"],
        n_heads=config["n_heads"], n_layers=config["n_layers"], d_ff=config["d_ff"],
        dropout=config["dropout"], max_len=config["max_len"], norm_first=config["norm_first"],
    )


TRANSFORMER_TRANSLATOR = Recipe(
    name="transformer-translator",
    build=build_transformer_translator,
    fit=fit_translator,  # chapter 2's: same batches, steps and accuracy measurement
    config={"name": "transformer-translator", "task": "numbers", "batch_size": 64,
            "steps": 2000, "lr": 2e-3, "eval_every": 100, "warmup_steps": 100,
            "lr_decay": True, "d_model": 64, "n_heads": 4, "n_layers": 3, "d_ff": 256,
            "dropout": 0.0, "max_len": 32, "norm_first": False},
    seed=0,
    data_fingerprint=lambda: translation_data("numbers").fingerprint(),
    description="Chapter 3: encoder-decoder Transformer, post-LN as published.",
)
# --8<-- [end:transformer_recipe]

TRANSFORMER_TRANSLATOR_PRE_LN = Recipe(
    name="transformer-translator-pre-ln",
    build=build_transformer_translator,
    fit=fit_translator,
    config={**TRANSFORMER_TRANSLATOR.config, "name": "transformer-translator-pre-ln",
            "norm_first": True, "warmup_steps": 0},
    seed=0,
    data_fingerprint=lambda: translation_data("numbers").fingerprint(),
    description="Chapter 3: the same Transformer with pre-LN layers (Xiong et al. 2020), "
    "trained without warmup.",
)
register(TRANSFORMER_TRANSLATOR)
register(TRANSFORMER_TRANSLATOR_PRE_LN)


# --8<-- [start:speed]
def steps_to_accuracy(history: History, target: float) -> int | None:
    """The first evaluated step at which held-out accuracy reached ``target`` (None: never)."""
    for step, accuracy in zip(history.steps, history.metrics["accuracy"]):
        if accuracy >= target:
            return step
    return None


def fresh_model(name: str, **changes) -> nn.Module:
    """An untrained model of recipe ``name`` (``changes`` override its config): for timing."""
    recipe = RECIPES[name]
    torch.manual_seed(recipe.seed)
    return recipe.build({**recipe.config, **changes})


def task_step_seconds(names: list[str], repeats: int = 5) -> dict[str, float]:
    """Median seconds of one training step of each recipe's model on the same real batch of
    the task, with the recipe's batch size: what one step of its training costs here."""
    data = translation_data("numbers")
    seconds = {}
    for name in names:
        batch_size = RECIPES[name].config["batch_size"]
        batch = data.batches("train", batch_size)(torch.Generator().manual_seed(0))
        seconds[name] = step_seconds(fresh_model(name), batch, repeats=repeats)
    return seconds


def step_seconds_by_length(name: str, lengths=(16, 128), batch_size: int = 16,
                           repeats: int = 3) -> dict[int, float]:
    """Median seconds of one training step of recipe ``name``'s model on random batches whose
    sources and targets are ``length`` tokens long, for each length."""
    data = translation_data("numbers")
    seconds = {}
    for length in lengths:
        generator = torch.Generator().manual_seed(length)
        # Ids from 3 up: real tokens, no padding, so every sequence is exactly `length` long.
        source = torch.randint(3, len(data.source_vocab), (batch_size, length),
                               generator=generator)
        target = torch.randint(3, len(data.target_vocab), (batch_size, length),
                               generator=generator)
        model = fresh_model(name, max_len=length)  # the RNNs ignore max_len
        seconds[length] = step_seconds(model, (source, target, target), repeats=repeats)
    return seconds
# --8<-- [end:speed]

# Lengths of the training-speed figure.
SPEED_LENGTHS = (8, 16, 32, 64, 128)
