"""Speed benchmark: our readable GPT against Hugging Face ``transformers`` on this CPU.

Run it with ``python -m llm_evolution.bench`` (``--help`` lists the options). It measures, on
one machine and in one run:

* the machine's float32 matrix-multiply peak: large square matmuls, median GFLOP/s;
* one training step (forward, backward, AdamW update) of our :class:`~llm_evolution.models.gpt.GPT`
  and of ``transformers.GPT2LMHeadModel`` with the same shape, the same weights (copied by
  :func:`~llm_evolution.interop.hf.gpt_to_hf`), the same batch and the same optimizer settings,
  timed alternately (ours, theirs, theirs, ours, ...) so that a slow spell of the machine hits
  both equally; the median of many steps after a warm-up;
* greedy generation of new tokens from a short prompt, batch 1: ours with the key-value cache,
  ours without, and ``transformers``' ``generate`` (``use_cache=True``), also alternated.

For each it reports tokens per second and the *model FLOPs utilisation* (MFU): the useful
floating-point operations per second, counted by formula, as a fraction of the measured peak.
The formulas (Kaplan et al., 2020, arXiv:2001.08361, for 6N; Chowdhery et al., 2022,
arXiv:2204.02311, for the attention term) are those of :func:`training_flops_per_token` and
:func:`generation_flops_per_token`. The results are printed as a table and written as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from llm_evolution import numerics
from llm_evolution.generation import generate
from llm_evolution.measurements import cpu_model
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.speed import SAME_LOSS_TOLERANCE
from llm_evolution.paths import REPO_ROOT
from llm_evolution.training import make_optimizer, train_step

SCHEMA_VERSION = 2
# The results the site shows, written by a run on a quiet machine and committed.
COMMITTED_RESULTS = REPO_ROOT / "docs" / "reference" / "bench.json"
# The benchmark's shape: chapter 6's character model (4 layers, 4 heads, width 128, context 64)
# with a fixed vocabulary of 65 tokens, the size of tiny-shakespeare's character set (this
# site's corpus has 74). The tokens are random ids, so that no corpus is needed.
DEFAULT_CONFIG = GPTConfig(vocab_size=65, context_size=64, d_model=128, n_heads=4, n_layers=4)
# The project's speed targets for our GPT, checked on every run.
TARGETS = {"train_time_ratio_max": 0.85, "train_mfu_min": 0.45,
           "generation_speedup_min": 1.0, "fast_recipe_time_ratio_max": 2 / 3}
# Table rows, in order: (key in results["rows"], label).
ROWS = [("train_ours", "training step, ours"),
        ("train_hf", "training step, transformers"),
        ("generate_cached", "generation, ours with KV cache"),
        ("generate_uncached", "generation, ours without cache"),
        ("generate_hf", "generation, transformers generate"),
        ("generate_hf_loop", "generation, our loop, transformers"),
        ("race_plain", "nanoGPT CPU run, plain float32"),
        ("race_fast", "nanoGPT CPU run, fast recipe")]


# --8<-- [start:flops]
def matmul_parameters(config: GPTConfig) -> int:
    """Weights that take part in a matrix multiply for every token: the blocks' linear layers
    and the output head (the tied token embedding, vocab x d_model). Biases, layer norms and
    the position table cost next to nothing and are left out."""
    per_block = 12 * config.d_model ** 2  # qkv 3d^2, out_proj d^2, MLP 2 x 4d^2
    return config.n_layers * per_block + config.vocab_size * config.d_model


def training_flops_per_token(config: GPTConfig, length: int) -> int:
    """Model FLOPs of one training token: 6N + 12 L d T.

    A weight costs a multiply and an add (2 FLOPs) per token forward and twice that backward,
    hence 6N. Attention adds QK^T and AV: 2 x 2 L d T forward per token for a sequence of T
    tokens, times 3 with the backward pass; the causal mask's skipped half is counted too, as
    is usual. ``length`` is T, the training sequence length.
    """
    return 6 * matmul_parameters(config) + 12 * config.n_layers * config.d_model * length


def generation_flops_per_token(config: GPTConfig, prompt_length: int, new_tokens: int) -> float:
    """Model FLOPs of one generated token, forward only: 2N + 4 L d c, with c the mean number of
    tokens it attends to. Work redone without a cache is not counted: it is not useful work."""
    mean_context = prompt_length + (new_tokens + 1) / 2
    return 2 * matmul_parameters(config) + 4 * config.n_layers * config.d_model * mean_context
# --8<-- [end:flops]


# --8<-- [start:alternating]
def median_of_alternating(runs: dict[str, Callable[[], object]], *, rounds: int,
                          warmup: int) -> dict[str, float]:
    """Median seconds of each of ``runs``, called in turns: one call of each per round, in an
    order that is reversed every other round (A B, B A, ...), after ``warmup`` rounds."""
    if rounds < 1 or warmup < 0:
        raise ValueError(f"rounds={rounds} must be >= 1 and warmup={warmup} >= 0")
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(warmup + rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            runs[name]()
            seconds = time.perf_counter() - start
            if round_index >= warmup:
                times[name].append(seconds)
    return {name: statistics.median(values) for name, values in times.items()}
# --8<-- [end:alternating]


def matmul_peak_gflops(size: int = 1536, repeats: int = 10) -> float:
    """This machine's float32 matmul speed: median GFLOP/s of (size x size) @ (size x size),
    2 size^3 FLOPs each. The ceiling against which the model's FLOPs are compared."""
    if size < 1:
        raise ValueError(f"size={size} must be >= 1")
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator)
    b = torch.randn(size, size, generator=generator)
    out = torch.empty(size, size)
    seconds = median_of_alternating({"mm": lambda: torch.mm(a, b, out=out)},
                                    rounds=repeats, warmup=2)["mm"]
    return 2 * size ** 3 / seconds / 1e9


class CausalLMLoss(torch.nn.Module):
    """A ``GPT2LMHeadModel`` under the site's model contract, ``model(inputs, targets) ->
    (logits, loss)``, so that it trains through the same :func:`train_step` as ours. The loss
    is computed as ours is: the mean cross-entropy against the inputs shifted by one
    (transformers' own ``labels=`` path would shift inside the model and drop a position, a
    different amount of work)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor):
        logits = self.model(inputs).logits
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def bench_training(config: GPTConfig = DEFAULT_CONFIG, batch_size: int = 12, *,
                   rounds: int = 40, warmup: int = 5, seed: int = 0) -> dict:
    """Seconds per training step of our GPT and of ``GPT2LMHeadModel`` with the same weights,
    on the same random batch (``batch_size`` x ``context_size`` tokens), alternated.

    Both compute the same loss the same way: logits, then the mean cross-entropy against the
    inputs shifted by one (transformers' own ``labels=`` path would shift inside the model and
    drop a position, a different amount of work). The losses of the first step must agree.
    """
    from llm_evolution.interop.hf import gpt_to_hf

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    torch.manual_seed(seed)
    ours = GPT(config).train()
    theirs = gpt_to_hf(ours).train()
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, config.vocab_size, (batch_size, config.context_size + 1),
                           generator=generator)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    first_loss: dict[str, float] = {}

    def step_of(name: str, model: torch.nn.Module) -> Callable[[], None]:
        # The site's one train step (clipping and schedule included), with its optimizer.
        optimizer, schedule = make_optimizer(model, lr=1e-3, steps=rounds + warmup + 1)

        def step() -> None:
            loss = train_step(model, (inputs, targets), optimizer, schedule)
            first_loss.setdefault(name, loss.item())

        return step

    ours_step, hf_step = step_of("ours", ours), step_of("hf", CausalLMLoss(theirs))
    seconds = median_of_alternating({"ours": ours_step, "hf": hf_step}, rounds=rounds,
                                    warmup=warmup)
    tokens_per_step = batch_size * config.context_size
    return {
        "batch_size": batch_size,
        "tokens_per_step": tokens_per_step,
        "rounds": rounds,
        "warmup": warmup,
        "first_loss_difference": abs(first_loss["ours"] - first_loss["hf"]),
        "flops_per_token": training_flops_per_token(config, config.context_size),
        "seconds": seconds,
        "optimizer": "AdamW(lr=1e-3) in training.train_step (clipping at 1.0)",
        "hf_attn_implementation": theirs.config._attn_implementation,
    }


def bench_generation(config: GPTConfig = DEFAULT_CONFIG, *, prompt_length: int = 8,
                     new_tokens: int = 256, rounds: int = 3, warmup: int = 1,
                     seed: int = 0) -> dict:
    """Seconds to generate ``new_tokens`` greedily from a ``prompt_length``-token prompt,
    batch 1: ours with and without the KV cache, and ``transformers``' ``generate``.

    The model is ``config`` with a context of ``prompt_length + new_tokens`` (at least 512)
    so that every token fits; the weights are random (speed does not depend on them).
    """
    from llm_evolution.interop.hf import gpt_to_hf

    if prompt_length < 1 or new_tokens < 1:
        raise ValueError(f"prompt_length={prompt_length} and new_tokens={new_tokens} must be "
                         ">= 1")
    context = max(512, prompt_length + new_tokens)
    gen_config = GPTConfig(**{**config.__dict__, "context_size": context})
    torch.manual_seed(seed)
    ours = GPT(gen_config).eval()
    theirs = gpt_to_hf(ours).eval()
    prompt = torch.randint(0, config.vocab_size, (1, prompt_length),
                           generator=torch.Generator().manual_seed(seed))
    outputs: dict[str, torch.Tensor] = {}

    def run(name: str, call: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def timed() -> None:
            outputs[name] = call()
        return timed

    def hf_generate() -> torch.Tensor:
        with torch.no_grad():
            return theirs.generate(prompt, attention_mask=torch.ones_like(prompt),
                                   do_sample=False, use_cache=True, max_new_tokens=new_tokens,
                                   min_new_tokens=new_tokens, pad_token_id=0)

    runs = {
        "cached": run("cached", lambda: generate(ours, prompt, new_tokens, greedy=True)),
        "hf_loop": run("hf_loop", lambda: hf_greedy_loop(theirs, prompt, new_tokens)),
        "uncached": run("uncached", lambda: generate(ours, prompt, new_tokens, greedy=True,
                                                     use_cache=False)),
        "hf": run("hf", hf_generate),
    }
    seconds = median_of_alternating(runs, rounds=rounds, warmup=warmup)
    return {
        "context_size": context,
        "prompt_length": prompt_length,
        "new_tokens": new_tokens,
        "rounds": rounds,
        "warmup": warmup,
        "same_tokens": all(torch.equal(outputs["cached"], outputs[name])
                           for name in ("uncached", "hf", "hf_loop")),
        "flops_per_token": generation_flops_per_token(config, prompt_length, new_tokens),
        "seconds": seconds,
    }


# --8<-- [start:hf_loop]
def hf_greedy_loop(model, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Greedy decoding written as ours is (:func:`llm_evolution.generation.generate`), over
    ``transformers``' forward and its key-value cache (``cache=``, called ``past_key_values``
    before transformers 5): the prompt once, then one token per step, the argmax of the last
    position. Against ``generate``, this leaves out its logits processors, stopping criteria
    and bookkeeping, so the difference left is the model's."""
    ids, unread, cache = prompt, prompt, None
    with torch.no_grad():
        for _ in range(new_tokens):
            out = model(unread, cache=cache, use_cache=True)
            cache = out.cache
            unread = out.logits[:, -1].double().argmax(dim=-1, keepdim=True)
            ids = torch.cat([ids, unread], dim=1)
    return ids
# --8<-- [end:hf_loop]


def run_benchmark(config: GPTConfig = DEFAULT_CONFIG, *, batch_size: int = 12,
                  train_rounds: int = 40, prompt_length: int = 8, new_tokens: int = 256,
                  generation_rounds: int = 3, peak_size: int = 1536,
                  threads: int | None = None, note: str = "",
                  speed_options: dict | None = None) -> dict:
    """Run every measurement and return the results as a JSON-ready dictionary. ``note`` is
    kept with them (say, how busy the machine was). ``speed_options`` go to chapter 9's
    :func:`llm_evolution.speed.speed_results` (the trick table and the race); by default
    nanoGPT's CPU configuration, a few minutes."""
    import transformers

    from llm_evolution.speed import speed_results

    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads={threads} must be >= 1 (or None to keep torch's)")
        torch.set_num_threads(threads)
    with torch.no_grad():
        peak = matmul_peak_gflops(peak_size)
    training = bench_training(config, batch_size, rounds=train_rounds)
    generation = bench_generation(config, prompt_length=prompt_length, new_tokens=new_tokens,
                                  rounds=generation_rounds)
    speed = speed_results(**(speed_options or {}))
    rows = {}
    for name in ("ours", "hf"):
        seconds = training["seconds"][name]
        rows[f"train_{name}"] = row(seconds, training["tokens_per_step"],
                                    training["flops_per_token"], peak)
    for name in ("cached", "uncached", "hf", "hf_loop"):
        rows[f"generate_{name}"] = row(generation["seconds"][name], new_tokens,
                                       generation["flops_per_token"], peak)
    speed_config = GPTConfig(**speed["config"])
    for name in ("plain", "fast"):
        run = speed["race"][name]
        tokens = run["steps"] * speed["batch_size"] * speed_config.context_size
        rows[f"race_{name}"] = row(run["seconds"], tokens, training_flops_per_token(
            speed_config, speed_config.context_size), peak)
    results = {
        "schema_version": SCHEMA_VERSION,
        "date": datetime.date.today().isoformat(),
        "note": note,
        "machine": {"cpu": cpu_model(), "threads": torch.get_num_threads(),
                    # Speed is measured on this machine's own kernels, not the reference path.
                    "numeric_path": numerics.describe(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "transformers": transformers.__version__},
        "config": dict(config.__dict__),
        "peak": {"matmul_size": peak_size, "gflops": peak},
        "training": training,
        "generation": generation,
        "speed": speed,
        "rows": rows,
    }
    results["targets"] = check_targets(results)
    return results


def row(seconds: float, tokens: int, flops_per_token: float, peak_gflops: float) -> dict:
    """One line of the table: time, tokens per second and the fraction of the peak used."""
    tokens_per_second = tokens / seconds
    return {"seconds": seconds, "tokens_per_second": tokens_per_second,
            "gflops": tokens_per_second * flops_per_token / 1e9,
            "mfu": tokens_per_second * flops_per_token / 1e9 / peak_gflops}


def check_targets(results: dict) -> dict:
    """Each target of :data:`TARGETS`: its measured value and whether it is met."""
    rows = results["rows"]
    ratio = rows["train_ours"]["seconds"] / rows["train_hf"]["seconds"]
    speedup = rows["generate_cached"]["tokens_per_second"] / rows["generate_hf"]["tokens_per_second"]
    race = results["speed"]["race"]
    return {
        "train_time_ratio": {"value": ratio, "limit": TARGETS["train_time_ratio_max"],
                             "met": ratio <= TARGETS["train_time_ratio_max"]},
        "train_mfu": {"value": rows["train_ours"]["mfu"], "limit": TARGETS["train_mfu_min"],
                      "met": rows["train_ours"]["mfu"] >= TARGETS["train_mfu_min"]},
        "generation_speedup": {"value": speedup, "limit": TARGETS["generation_speedup_min"],
                               "met": speedup >= TARGETS["generation_speedup_min"]},
        # Same held-out loss (within speed.SAME_LOSS_TOLERANCE) in at most 2/3 of the time.
        "fast_recipe_time_ratio": {
            "value": race["time_ratio"], "limit": TARGETS["fast_recipe_time_ratio_max"],
            "met": (race["time_ratio"] <= TARGETS["fast_recipe_time_ratio_max"]
                    and race["loss_gap"] <= SAME_LOSS_TOLERANCE)},
    }


def format_table(results: dict) -> str:
    """The results as a plain-text table, one row per measurement, then the targets."""
    lines = [f"{'measurement':34} {'ms':>9} {'tokens/s':>10} {'GFLOP/s':>8} {'of peak':>8}"]
    for key, label in ROWS:
        r = results["rows"][key]
        lines.append(f"{label:34} {1000 * r['seconds']:9.1f} {r['tokens_per_second']:10.0f} "
                     f"{r['gflops']:8.1f} {100 * r['mfu']:7.1f}%")
    lines.append(f"{'float32 matmul peak':34} {'':>9} {'':>10} "
                 f"{results['peak']['gflops']:8.1f} {100.0:7.1f}%")
    targets = results["targets"]
    lines.append("")
    lines.append(f"training time, ours / transformers: {targets['train_time_ratio']['value']:.2f} "
                 f"(target <= {targets['train_time_ratio']['limit']:.2f}): "
                 f"{'met' if targets['train_time_ratio']['met'] else 'NOT met'}")
    lines.append(f"training FLOPs, share of peak: {100 * targets['train_mfu']['value']:.1f}% "
                 f"(target >= {100 * targets['train_mfu']['limit']:.0f}%): "
                 f"{'met' if targets['train_mfu']['met'] else 'NOT met'}")
    lines.append(f"cached generation, ours / transformers: "
                 f"{targets['generation_speedup']['value']:.2f}x "
                 f"(target >= {targets['generation_speedup']['limit']:.2f}x): "
                 f"{'met' if targets['generation_speedup']['met'] else 'NOT met'}")
    race = results["speed"]["race"]
    lines.append(f"fast recipe / plain run, time: {race['time_ratio']:.2f} (target <= "
                 f"{targets['fast_recipe_time_ratio']['limit']:.2f}) at a held-out loss "
                 f"{race['loss_gap']:+.4f} from the plain run's: "
                 f"{'met' if targets['fast_recipe_time_ratio']['met'] else 'NOT met'}")
    return "\n".join(lines)


def load_results(path: Path | str = COMMITTED_RESULTS) -> dict:
    """Read a results file written by this benchmark and check that it has every field the
    table needs (ValueError naming the first missing one)."""
    results = json.loads(Path(path).read_text())
    if results.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version={results.get('schema_version')!r}, expected "
                         f"{SCHEMA_VERSION}; rerun `python -m llm_evolution.bench --out {path}`")
    for key in ("date", "machine", "config", "peak", "training", "generation", "speed",
                "rows", "targets"):
        if key not in results:
            raise ValueError(f"{path} has no {key!r}; rerun the benchmark")
    for key, _ in ROWS:
        if key not in results["rows"]:
            raise ValueError(f"{path} has no row {key!r}; rerun the benchmark")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_evolution.bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench.json", help="where to write the JSON results "
                        "(default: bench.json here)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice, printed)")
    parser.add_argument("--note", default="", help="a remark stored with the results, e.g. "
                        "how quiet the machine was")
    parser.add_argument("--train-rounds", type=int, default=40)
    parser.add_argument("--generation-rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=256)
    args = parser.parse_args(argv)
    import transformers

    transformers.utils.logging.set_verbosity_error()  # no generation-config chatter
    print(f"threads: {args.threads or torch.get_num_threads()}, cpu: {cpu_model()}",
          flush=True)
    print(f"numeric path: {numerics.describe()}", flush=True)
    results = run_benchmark(threads=args.threads, train_rounds=args.train_rounds,
                            generation_rounds=args.generation_rounds,
                            new_tokens=args.new_tokens, note=args.note)
    print(format_table(results))
    from llm_evolution.speed import format_race, format_tricks

    print(format_tricks(results["speed"]))
    print(format_race(results["speed"]))
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
