"""Chapter 9's speed measurements: what each efficiency trick buys on our GPT, side by side in
one run, and a recipe that trains to the plain run's held-out loss in less time.

Both are measurements of this machine (its fastest kernels, every core), not the reference
numeric path; ``python -m llm_evolution.bench`` runs them and commits the results to
``docs/reference/bench.json``, which chapter 9 prints and draws. The shape is nanoGPT's CPU
configuration (Karpathy's README: 4 layers, 4 heads, width 128, context 64, batch 12, 2,000
iterations on Shakespeare's characters).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import torch

from llm_evolution.efficiency import accumulated_step, saved_activation_bytes, with_checkpointing
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import Batch, make_optimizer, train_step

BATCH_SIZE = 12
# The plain run: our loop as chapter 6 trains, at nanoGPT's CPU configuration.
PLAIN = {"steps": 2000, "lr": 1e-3, "warmup_steps": 100}
# The fast recipe's schedule: a larger learning rate reaches the plain run's loss in fewer
# steps (chosen on trial runs: see chapter 9); its kernels are chosen by fast_tricks().
FAST = {"steps": 1200, "lr": 3e-3, "warmup_steps": 60}
SAME_LOSS_TOLERANCE = 0.005  # nats per character: "the same held-out loss"
TIME_RATIO_TARGET = 2 / 3

# --8<-- [start:tricks]
# Each trick changes one thing of the plain float32 step (fused AdamW, eager PyTorch).
TRICKS = {
    "float32": "the plain step: float32, eager, fused AdamW",
    "adamw_default": "AdamW's default implementation instead of the fused kernel (on a CPU, a "
                     "loop over the parameters)",
    "bf16_autocast": "matrix products in bfloat16 (torch.autocast), weights in float32",
    "checkpointing": "activation checkpointing of every block",
    "accumulation_4": "the batch in 4 micro-batches (gradient accumulation)",
    "compile": "torch.compile of the whole model (Inductor's generated C++ kernels)",
}
# --8<-- [end:tricks]


def nanogpt_cpu_config(vocab_size: int) -> GPTConfig:
    """nanoGPT's CPU shape for a vocabulary of ``vocab_size`` characters (no dropout)."""
    return GPTConfig(vocab_size=vocab_size, context_size=64, d_model=128, n_heads=4,
                     n_layers=4)


def has_bf16_instructions() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX); without, bf16
    autocast converts back and forth and runs slower than float32."""
    from llm_evolution.numerics import cpu_flags

    return bool((cpu_flags() or set()) & {"avx512_bf16", "amx_bf16"})


@contextlib.contextmanager
def autocast_if(enabled: bool):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
        yield


@contextlib.contextmanager
def cold_compile_cache():
    """torch.compile from nothing: a fresh Inductor cache folder and no kernels in memory, so
    a compilation costs what it costs on a new machine (Inductor keeps its generated kernels on
    disk, and a second run would otherwise pay a fraction)."""
    from torch._inductor.utils import fresh_cache

    torch._dynamo.reset()
    with fresh_cache():
        yield
    torch._dynamo.reset()


# --8<-- [start:trick_step]
def trick_step(trick: str, model: GPT, steps: int, lr: float = 1e-3
               ) -> Callable[[Batch], torch.Tensor]:
    """A training step of ``model`` with ``trick`` applied (a key of :data:`TRICKS`)."""
    if trick not in TRICKS:
        raise ValueError(f"trick={trick!r} is not one of {sorted(TRICKS)}")
    if trick == "adamw_default":  # what torch.optim.AdamW picks when not told (no decay, as ours)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        return lambda batch: train_step(model, batch, optimizer)
    optimizer, schedule = make_optimizer(model, lr=lr, steps=steps)
    if trick == "bf16_autocast":
        def step(batch):
            with autocast_if(True):
                return train_step(model, batch, optimizer, schedule)
        return step
    if trick == "checkpointing":
        with_checkpointing(model)
    if trick == "accumulation_4":
        return lambda batch: accumulated_step(model, batch, optimizer, micro_batches=4)
    if trick == "compile":
        compiled = torch.compile(model)
        return lambda batch: train_step(compiled, batch, optimizer, schedule)
    return lambda batch: train_step(model, batch, optimizer, schedule)
# --8<-- [end:trick_step]


def activation_bytes(trick: str, model: GPT, batch: Batch) -> int | None:
    """Bytes of activations kept for the backward pass under ``trick`` (None for compile:
    the compiled graph keeps its own, out of autograd's hooks' sight)."""
    if trick == "compile":
        return None
    if trick == "checkpointing":
        with_checkpointing(model)
    if trick == "accumulation_4":  # one micro-batch's activations at a time
        batch = tuple(t[: len(t) // 4] for t in batch)
    with autocast_if(trick == "bf16_autocast"):
        return saved_activation_bytes(model, batch)


def time_tricks(config: GPTConfig, batch: Batch, *, rounds: int = 30, warmup: int = 3,
                seed: int = 0) -> dict[str, dict]:
    """Seconds per step of every trick on the same model and batch, in alternating turns
    (so a slow spell of the machine hits them all), with each one's activation bytes and,
    for ``compile``, the seconds its first step took (the compilation)."""
    from llm_evolution.bench import median_of_alternating

    models, steps, results = {}, {}, {}
    for trick in TRICKS:
        torch.manual_seed(seed)
        models[trick] = GPT(config).train()
        steps[trick] = trick_step(trick, models[trick], steps=rounds + warmup + 2)
    with cold_compile_cache():
        start = time.perf_counter()
        steps["compile"](batch)  # the first call compiles
        compile_seconds = time.perf_counter() - start
    seconds = median_of_alternating({t: (lambda s=steps[t]: s(batch)) for t in TRICKS},
                                    rounds=rounds, warmup=warmup)
    for trick in TRICKS:
        torch.manual_seed(seed)
        results[trick] = {"seconds": seconds[trick],
                          "activation_bytes": activation_bytes(trick, GPT(config).train(),
                                                                batch)}
    results["compile"]["compile_seconds"] = compile_seconds
    return results


def loss_curves(config: GPTConfig, batches: list[Batch], seed: int = 0
                ) -> dict[str, list[float]]:
    """Training losses of the same model on the same batches in float32 and with bf16
    autocast: what the lower precision does to learning."""
    curves = {}
    for name, bf16 in (("float32", False), ("bf16_autocast", True)):
        torch.manual_seed(seed)
        model = GPT(config).train()
        optimizer, schedule = make_optimizer(model, lr=PLAIN["lr"], steps=len(batches),
                                             warmup_steps=len(batches) // 20)
        curves[name] = []
        for batch in batches:
            # One autocast region per step: autocast caches its bf16 copies of the weights
            # until the region ends, so a region around the whole loop would keep computing
            # with the first step's weights.
            with autocast_if(bf16):
                curves[name].append(train_step(model, batch, optimizer, schedule).item())
    return curves


# --8<-- [start:fast_tricks]
def fast_tricks(trick_seconds: dict[str, dict], steps: int = FAST["steps"]) -> list[str]:
    """The kernel tricks the measurements support on this machine: bf16 autocast where the CPU
    has bf16 instructions and it was faster, torch.compile where its compilation pays back
    within the fast run's steps. (Fused AdamW is the plain step's already.)"""
    plain = trick_seconds["float32"]["seconds"]
    chosen = []
    if has_bf16_instructions() and trick_seconds["bf16_autocast"]["seconds"] < plain:
        chosen.append("bf16_autocast")
    compiled = trick_seconds["compile"]
    saved = (plain - compiled["seconds"]) * steps
    if saved > compiled["compile_seconds"]:
        chosen.append("compile")
    return chosen
# --8<-- [end:fast_tricks]


# --8<-- [start:train_timed]
def train_timed(config: GPTConfig, train_ids: torch.Tensor, val_ids: torch.Tensor, *,
                steps: int, lr: float, warmup_steps: int, tricks: list[str] = (),
                seed: int = 0) -> dict:
    """Train a fresh GPT for ``steps`` steps (warmup, then linear decay to 0) on random
    windows of ``train_ids`` and score it on the whole of ``val_ids``: wall-clock seconds of
    the training (compilation included) and the held-out loss in nats per character."""
    from llm_evolution.scaling_runs import held_out_loss
    from llm_evolution.training import random_windows

    unknown = set(tricks) - {"bf16_autocast", "compile"}
    if unknown:
        raise ValueError(f"tricks={sorted(unknown)}: only 'bf16_autocast' and 'compile' "
                         "change a training run's kernels")
    torch.manual_seed(seed)
    model = GPT(config).train()
    optimizer, schedule = make_optimizer(model, lr=lr, steps=steps, warmup_steps=warmup_steps,
                                         lr_decay=True)
    get_batch = random_windows(train_ids, config.context_size, BATCH_SIZE)
    generator = torch.Generator().manual_seed(seed)
    batches = [get_batch(generator) for _ in range(steps)]  # drawn before the clock starts
    runner = torch.compile(model) if "compile" in tricks else model
    with cold_compile_cache() if "compile" in tricks else contextlib.nullcontext():
        start = time.perf_counter()  # the compilation, if any, happens in the first step
        for batch in batches:
            with autocast_if("bf16_autocast" in tricks):  # one region a step: see loss_curves
                train_step(runner, batch, optimizer, schedule)
        seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        loss = held_out_loss(model, val_ids, config.context_size)  # float32, eager: same scoring
    return {"steps": steps, "lr": lr, "tricks": list(tricks), "seconds": seconds,
            "held_out_loss": loss}
# --8<-- [end:train_timed]


def race(config: GPTConfig, train_ids: torch.Tensor, val_ids: torch.Tensor,
         tricks: list[str], plain: dict = PLAIN, fast: dict = FAST) -> dict:
    """The plain run and the fast recipe, one after the other on the same machine."""
    fast_run = train_timed(config, train_ids, val_ids, tricks=tricks, **fast)
    plain_run = train_timed(config, train_ids, val_ids, **plain)
    ratio = fast_run["seconds"] / plain_run["seconds"]
    gap = fast_run["held_out_loss"] - plain_run["held_out_loss"]
    return {"plain": plain_run, "fast": fast_run, "time_ratio": ratio, "loss_gap": gap,
            "met": ratio <= TIME_RATIO_TARGET and gap <= SAME_LOSS_TOLERANCE}


def speed_results(config: GPTConfig | None = None, *, rounds: int = 30,
                  curve_steps: int = 200, plain: dict = PLAIN, fast: dict = FAST) -> dict:
    """Everything chapter 9 shows of speed: the trick table, the bf16 loss curves and the
    race, on Shakespeare's characters (the book's corpus, 74 symbols). ``config`` defaults to
    nanoGPT's CPU shape; the tests pass a tiny one, with tiny runs."""
    from llm_evolution.data.text import char_corpus
    from llm_evolution.training import random_windows

    corpus = char_corpus()
    if config is None:
        config = nanogpt_cpu_config(corpus.tokenizer.vocab_size)
    if config.vocab_size != corpus.tokenizer.vocab_size:
        raise ValueError(f"config.vocab_size={config.vocab_size} must be the corpus's "
                         f"{corpus.tokenizer.vocab_size} characters")
    get_batch = random_windows(corpus.train_ids, config.context_size, BATCH_SIZE)
    generator = torch.Generator().manual_seed(0)
    tricks = time_tricks(config, get_batch(generator), rounds=rounds)
    curves = loss_curves(config, [get_batch(generator) for _ in range(curve_steps)])
    chosen = fast_tricks(tricks, fast["steps"])
    return {"config": dict(config.__dict__), "batch_size": BATCH_SIZE,
            "bf16_instructions": has_bf16_instructions(), "tricks": tricks,
            "loss_curves": curves, "fast_tricks": chosen,
            "race": race(config, corpus.train_ids, corpus.val_ids, chosen, plain, fast)}


def format_tricks(results: dict) -> str:
    """The trick table: time per step against the plain step, and activation memory."""
    tricks = results["tricks"]
    plain = tricks["float32"]
    lines = [f"{'trick':16} {'ms/step':>8} {'speed':>7} {'activations':>12}"]
    for name in TRICKS:
        row = tricks[name]
        memory = ("-" if row["activation_bytes"] is None
                  else f"{row['activation_bytes'] / 2 ** 20:.1f} MiB")
        lines.append(f"{name:16} {1000 * row['seconds']:8.1f} "
                     f"{plain['seconds'] / row['seconds']:6.2f}x {memory:>12}")
    lines.append(f"compile: first step {tricks['compile']['compile_seconds']:.1f} s")
    return "\n".join(lines)


def format_race(results: dict) -> str:
    race_ = results["race"]
    lines = []
    for name in ("plain", "fast"):
        run = race_[name]
        tricks = ", ".join(run["tricks"]) or "none"
        lines.append(f"{name:5}: {run['steps']} steps at lr {run['lr']:g}, kernel tricks: "
                     f"{tricks}; {run['seconds']:.1f} s, held-out loss "
                     f"{run['held_out_loss']:.3f}")
    lines.append(f"fast / plain time: {race_['time_ratio']:.2f} (target <= 0.67), loss gap "
                 f"{race_['loss_gap']:+.4f} (allowed <= {SAME_LOSS_TOLERANCE})")
    return "\n".join(lines)


if __name__ == "__main__":  # a quick look: python -m llm_evolution.speed
    import json
    import sys

    out = speed_results(rounds=int(sys.argv[1]) if len(sys.argv) > 1 else 30)
    print(format_tricks(out))
    print(format_race(out))
    Path("speed.json").write_text(json.dumps(out, indent=2))
