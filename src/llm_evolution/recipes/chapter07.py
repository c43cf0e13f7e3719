"""Chapter 7's trained model: a tiny GPT trained on sequences of examples of many hidden
rules, to be prompted with examples of rules it never saw (see :mod:`llm_evolution.zoo`)."""

from __future__ import annotations

from llm_evolution.data.tasks import (
    EXAMPLE_LENGTH,
    VOCAB,
    fingerprint,
    split_rules,
    task_batches,
)
from llm_evolution.in_context import AnswerLoss, few_shot_accuracy
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import History, train
from llm_evolution.zoo import Recipe, register


# --8<-- [start:icl_recipe]
def build_icl_gpt(config: dict) -> GPT:
    return GPT(GPTConfig(vocab_size=len(VOCAB), context_size=EXAMPLE_LENGTH * config["n_examples"],
                         d_model=config["d_model"], n_heads=config["n_heads"],
                         n_layers=config["n_layers"]))


def fit_icl_gpt(model: GPT, config: dict, seed: int) -> History:
    train_rules, held_out_rules = split_rules(config["n_held_out"])

    def held_out_accuracy(wrapped) -> dict[str, float]:  # 8-shot, on rules never trained on
        return {"held_out_8_shot": few_shot_accuracy(wrapped.model, held_out_rules, 8, seed=0)}

    # What the chapter follows is the held-out accuracy above, so no held-out loss is computed.
    return train(
        AnswerLoss(model),  # the loss counts only the outputs, not the random inputs
        task_batches(train_rules, config["n_examples"], config["batch_size"]),
        steps=config["steps"], lr=config["lr"], warmup_steps=config["warmup_steps"],
        lr_decay=True, eval_every=config["eval_every"], seed=seed, desc=config["name"],
        eval_metrics=held_out_accuracy,
    )


ICL_GPT = Recipe(
    name="icl-gpt",
    build=build_icl_gpt,
    fit=fit_icl_gpt,
    config={"name": "icl-gpt", "n_examples": 9, "n_held_out": 64, "d_model": 64,
            "n_heads": 4, "n_layers": 3, "batch_size": 64, "steps": 500, "lr": 3e-3,
            "warmup_steps": 50, "eval_every": 50},
    seed=0,
    data_fingerprint=lambda: fingerprint(*split_rules(64)[:1], 9),
    description="Chapter 7: a tiny GPT trained on examples of 192 hidden bit-wise rules.",
)
# --8<-- [end:icl_recipe]
register(ICL_GPT)
