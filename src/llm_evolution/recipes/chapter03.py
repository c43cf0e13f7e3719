"""Chapter 3's trained models: Transformer translators on chapter 2's task.

They are trained by chapter 2's :func:`~llm_evolution.recipes.chapter02.fit_translator`, so
the Transformers and the RNNs see the same batches for the same number of steps, with the same
learning-rate decay, and their held-out accuracy is measured the same way; only the model, its
learning rate and (for post-LN, as in the paper) a warmup differ.
"""

from __future__ import annotations

from llm_evolution.models.transformer import Seq2SeqTransformer
from llm_evolution.recipes.chapter02 import fit_translator
from llm_evolution.translation import translation_data
from llm_evolution.zoo import Recipe, register


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
            "steps": 400, "lr": 2e-3, "eval_every": 40, "warmup_steps": 40,
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
