"""Chapter 8's sweep: chapter 6's GPT on Shakespeare's characters, in five sizes, each trained
for four token budgets, every run with a learning-rate schedule of its own length.

Characters, not BPE tokens: with 74 characters the embedding and output layers stay small
beside the blocks even in the tiniest model, so the parameter count the laws use (without the
embeddings, as Kaplan et al. count it) is most of the model; with 1,024 BPE tokens the
embeddings of the smallest models would outweigh their blocks. Every run reads the same batch
size and learning rate; only the size and the number of steps change.
"""

from __future__ import annotations

from llm_evolution.data.text import corpus_fingerprint
from llm_evolution.models.gpt import GPT
from llm_evolution.recipes.chapter06 import build_gpt, fit_gpt
from llm_evolution.training import History
from llm_evolution.zoo import Recipe, register

# --8<-- [start:sweep]
# One learning rate for every run: 1e-2, the best of 3e-3, 5e-3 and 1e-2 on 500- and 1,000-step
# trial runs of three of the sizes (the papers tuned it for each size; we could not afford to).
# (layers, width, heads): non-embedding parameters from 3.3 thousand to 200 thousand (60x)
SIZES = ((1, 16, 2), (2, 20, 2), (2, 32, 4), (3, 48, 4), (4, 64, 4))
STEPS = (100, 200, 400, 800)  # token budgets: steps x 32 windows x 64 characters
SWEEP = {"tokens": "char", "context_size": 64, "batch_size": 32, "lr": 1e-2}


def build_sweep_gpt(config: dict) -> GPT:
    return build_gpt(config)  # chapter 6's GPT, chapter 6's loop


def fit_sweep_gpt(model: GPT, config: dict, seed: int) -> History:
    return fit_gpt(model, config, seed)


def sweep_name(n_layers: int, d_model: int, steps: int) -> str:
    return f"sweep-{n_layers}x{d_model}-{steps}"


def sweep_recipe(n_layers: int, d_model: int, n_heads: int, steps: int) -> Recipe:
    """One run of the sweep: its own warmup (a tenth) and its own decay to zero at its last
    step, so that a short run is not a long run stopped early. The longest run of each size
    records its held-out loss at every shorter budget along the way (to set a run stopped
    early beside one planned for that length); the others only at the end."""
    name = sweep_name(n_layers, d_model, steps)
    eval_every = min(STEPS) if steps == max(STEPS) else steps
    config = {"name": name, **SWEEP, "n_layers": n_layers, "d_model": d_model,
              "n_heads": n_heads, "steps": steps, "warmup_steps": steps // 10,
              "eval_every": eval_every}
    return Recipe(name=name, build=build_sweep_gpt, fit=fit_sweep_gpt, config=config, seed=0,
                  data_fingerprint=corpus_fingerprint,
                  description=f"Chapter 8: a {n_layers}-layer GPT {d_model} wide, "
                              f"{steps} steps on characters.")
# --8<-- [end:sweep]


for n_layers, d_model, n_heads in SIZES:
    for steps in STEPS:
        register(sweep_recipe(n_layers, d_model, n_heads, steps))
