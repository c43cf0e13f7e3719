"""Chapter 12's ablations: chapter 6's GPT with each of today's replacements in turn, and all of
them together, every variant trained with three seeds.

Every run is one of chapter 8's sweep models (2 layers, 32 wide, 4 heads, its longest budget
of 800 steps) on Shakespeare's characters, with chapter 8's batch, learning rate and schedule:
the same data, the same number of steps and the same seeds for every variant, so that only
the architecture differs. The ``gpt-2`` variant, with every switch off, is chapter 6's GPT
itself: its seed-0 run is chapter 8's ``sweep-2x32-800``, weight for weight.
"""

from __future__ import annotations

from llm_evolution.data.text import char_corpus, corpus_fingerprint
from llm_evolution.models.modern_gpt import ModernGPT, ModernGPTConfig
from llm_evolution.recipes.chapter06 import fit_gpt
from llm_evolution.training import History
from llm_evolution.zoo import Recipe, register

# --8<-- [start:variants]
# Each variant is chapter 6's GPT with these switches of ModernGPTConfig changed.
VARIANTS = {
    "gpt-2": {},
    "rope": {"positions": "rope"},
    "rmsnorm": {"norm": "rms"},
    "swiglu": {"mlp": "swiglu"},
    "no-biases": {"bias": False},
    "gqa": {"n_kv_heads": 2},  # 4 query heads, 2 key/value heads
    "llama": {"positions": "rope", "norm": "rms", "mlp": "swiglu", "bias": False,
              "n_kv_heads": 2},
}
SEEDS = (0, 1, 2)
ABLATION = {"tokens": "char", "context_size": 64, "n_layers": 2, "d_model": 32, "n_heads": 4,
            "batch_size": 32, "lr": 1e-2, "steps": 800, "warmup_steps": 80, "eval_every": 100}
# --8<-- [end:variants]


def ablation_name(variant: str, seed: int) -> str:
    return f"ablation-{variant}-seed{seed}"


def build_ablation_gpt(config: dict) -> ModernGPT:
    return ModernGPT(ModernGPTConfig(
        vocab_size=char_corpus().tokenizer.vocab_size, context_size=config["context_size"],
        d_model=config["d_model"], n_heads=config["n_heads"], n_layers=config["n_layers"],
        **config["switches"]))


def fit_ablation_gpt(model: ModernGPT, config: dict, seed: int) -> History:
    return fit_gpt(model, config, seed)  # chapter 6's loop, as every GPT of the book


for variant, switches in VARIANTS.items():
    for seed in SEEDS:
        name = ablation_name(variant, seed)
        register(Recipe(
            name=name, build=build_ablation_gpt, fit=fit_ablation_gpt,
            config={"name": name, **ABLATION, "switches": switches}, seed=seed,
            data_fingerprint=corpus_fingerprint,
            description=f"Chapter 12: chapter 6's GPT, variant {variant}, seed {seed}.",
        ))
