"""Chapter 10's trained models, each starting from chapter 6's pretrained ``gpt-bpe``:
instruction tuning on 1, 2 and 3 clusters of tasks (FLAN's ablation), the same tuning of 3
clusters through LoRA adapters, and continued pretraining on NumPy's documentation, without
and with replay of the plays."""

from __future__ import annotations

from functools import lru_cache

from llm_evolution import zoo
from llm_evolution.data.chat import CHAT_TOKENS
from llm_evolution.data.instructions import fingerprint, training_examples
from llm_evolution.data.numpy_docs import docs_fingerprint
from llm_evolution.domain_adaptation import domains, replay_windows
from llm_evolution.instruction_tuning import (
    ResponseLoss,
    chat_tokenizer,
    encode_examples,
    example_batches,
    with_chat_tokens,
)
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.models.lora import add_lora, fold_new_rows, merge_lora, train_new_rows
from llm_evolution.recipes.chapter06 import GPT_BPE, build_gpt
from llm_evolution.training import History, train
from llm_evolution.zoo import Recipe, register


# --8<-- [start:instruct_recipes]
def build_chat_gpt(config: dict) -> GPT:
    """Chapter 6's GPT with the chat tokens added to its vocabulary."""
    shape = {k: GPT_BPE.config[k] for k in ("context_size", "d_model", "n_heads", "n_layers")}
    return GPT(GPTConfig(vocab_size=chat_tokenizer().vocab_size, **shape))


def fit_instruct(model: GPT, config: dict, seed: int) -> History:
    """Start from the pretrained ``gpt-bpe`` (chat tokens added) and tune it on the training
    examples of ``config["clusters"]``; with ``config["lora_rank"]``, through LoRA adapters and
    the chat tokens' rows only, merged into the weights at the end."""
    model.load_state_dict(with_chat_tokens(zoo.get("gpt-bpe").model, len(CHAT_TOKENS)).state_dict())
    examples = training_examples(tuple(config["clusters"]), config["examples"], seed=seed)
    batches = example_batches(encode_examples(examples, chat_tokenizer(),
                                              model.config.context_size), config["batch_size"])
    if config.get("lora_rank"):
        add_lora(model, config["lora_rank"], config["lora_alpha"])
        train_new_rows(model.token_embedding, len(CHAT_TOKENS))
    history = train(ResponseLoss(model), batches, steps=config["steps"], lr=config["lr"],
                    warmup_steps=config["warmup_steps"], lr_decay=True,
                    eval_every=config["steps"] // 8, seed=seed, desc=config["name"])
    if config.get("lora_rank"):
        merge_lora(model)
        fold_new_rows(model.token_embedding)
    return history


TUNING = {"examples": 20_000, "batch_size": 16, "steps": 1200, "lr": 3e-3, "warmup_steps": 120}
CLUSTER_SWEEP = {1: ("words",), 2: ("words", "numbers"), 3: ("words", "numbers", "plays")}


@lru_cache(maxsize=None)
def examples_fingerprint(clusters: tuple[str, ...]) -> str:
    return fingerprint(training_examples(clusters, TUNING["examples"]))


def instruct_recipe(name: str, clusters: tuple[str, ...], **extra) -> Recipe:
    config = {"name": name, "clusters": list(clusters), **TUNING, **extra}
    return Recipe(
        name=name, build=build_chat_gpt, fit=fit_instruct, config=config, seed=0,
        # The examples, and the pretrained model it starts from.
        data_fingerprint=lambda: examples_fingerprint(clusters) + zoo.find("gpt-bpe").key(),
        needs=("gpt-bpe",),
        description=f"Chapter 10: gpt-bpe instruction-tuned on {', '.join(clusters)}"
                    + (" through LoRA adapters." if extra else "."),
    )


INSTRUCT = instruct_recipe("instruct-gpt", CLUSTER_SWEEP[3])
INSTRUCT_LORA = instruct_recipe("instruct-lora", CLUSTER_SWEEP[3], lora_rank=8, lora_alpha=16)
SWEEP = [instruct_recipe(f"instruct-{k}-clusters", CLUSTER_SWEEP[k]) for k in (1, 2)]
# --8<-- [end:instruct_recipes]
for recipe in (INSTRUCT, INSTRUCT_LORA, *SWEEP):
    register(recipe)


# --8<-- [start:domain_recipes]
def build_base_gpt(config: dict) -> GPT:
    """Chapter 6's GPT, the shape ``gpt-bpe`` has (its weights are loaded by the fit)."""
    return build_gpt(config)


def fit_numpy_docs(model: GPT, config: dict, seed: int) -> History:
    """Keep pretraining ``gpt-bpe`` on NumPy's documentation, ``config["replay_rows"]`` of
    every batch of 16 windows from the plays."""
    model.load_state_dict(zoo.get("gpt-bpe").model.state_dict())
    new, old = domains()["numpy docs"], domains()["plays"]
    batches = replay_windows(new.train_ids, old.train_ids, model.config.context_size,
                             config["batch_size"], config["replay_rows"])
    return train(model, batches, steps=config["steps"], lr=config["lr"],
                 warmup_steps=config["warmup_steps"], lr_decay=True,
                 eval_every=config["steps"] // 5, seed=seed, desc=config["name"])


def numpy_docs_recipe(name: str, replay_rows: int) -> Recipe:
    return Recipe(
        name=name, build=build_base_gpt, fit=fit_numpy_docs,
        config={"name": name, "tokens": "bpe", **{k: GPT_BPE.config[k] for k in (
            "context_size", "d_model", "n_heads", "n_layers")}, "batch_size": 16,
                "steps": 150, "lr": 1e-3, "warmup_steps": 15, "replay_rows": replay_rows},
        seed=0, data_fingerprint=lambda: docs_fingerprint() + zoo.find("gpt-bpe").key(),
        needs=("gpt-bpe",),
        description="Chapter 10: gpt-bpe's pretraining continued on NumPy's documentation"
                    + (f", {replay_rows} of 16 windows replayed from the plays." if replay_rows
                       else "."),
    )


NUMPY_DOCS = numpy_docs_recipe("numpy-docs", replay_rows=0)
NUMPY_DOCS_REPLAY = numpy_docs_recipe("numpy-docs-replay", replay_rows=4)
# --8<-- [end:domain_recipes]
register(NUMPY_DOCS)
register(NUMPY_DOCS_REPLAY)
