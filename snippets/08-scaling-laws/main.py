# %% [markdown]
# # Chapter 8: Scaling laws
#
# Chapter 6's GPT in five sizes, each trained for four token budgets; a law fitted to the
# held-out losses, its uncertainty, a prediction for a size it never saw, the compute-optimal
# split of a budget, and the models of 2017-2022 measured by the same numbers.

# %%
# --8<-- [start:count]
import torch

from llm_evolution.data.text import char_corpus
from llm_evolution.recipes.chapter06 import build_gpt
from llm_evolution.recipes.chapter08 import SIZES, SWEEP
from llm_evolution.scaling import training_flops
from llm_evolution.scaling_runs import counted_training_flops, non_embedding_parameters

batch = torch.randint(char_corpus().tokenizer.vocab_size,
                      (SWEEP["batch_size"], SWEEP["context_size"] + 1),
                      generator=torch.Generator().manual_seed(0))
inputs, targets = batch[:, :-1], batch[:, 1:]
print("size   N (no embeddings)   6ND per step   counted per step   counted / 6ND")
for n_layers, d_model, n_heads in SIZES:
    torch.manual_seed(0)
    model = build_gpt({**SWEEP, "n_layers": n_layers, "d_model": d_model, "n_heads": n_heads})
    n = non_embedding_parameters(model)
    estimate = training_flops(n, inputs.numel())
    counted = counted_training_flops(model, inputs, targets)
    print(f"{n_layers}x{d_model:<4} {n:>15,} {estimate:>14.3g} {counted:>18.3g} "
          f"{counted / estimate:>15.2f}")
# --8<-- [end:count]

# %%
# --8<-- [start:sweep]
from llm_evolution.scaling_runs import sweep_runs

rows = sweep_runs()  # the 20 cached models, each scored on the whole held-out text
budgets = sorted({row["tokens"] for row in rows})
print("held-out loss (nats per character)")
print("size    N        " + "".join(f"{d / 1e6:>8.2f}M" for d in budgets) + "  tokens")
for n in sorted({row["parameters"] for row in rows}):
    runs = sorted((row for row in rows if row["parameters"] == n), key=lambda r: r["tokens"])
    shape = f"{runs[0]['layers']}x{runs[0]['width']}"
    print(f"{shape:<7} {n:<8,} " + "".join(f"{r['loss']:>9.3f}" for r in runs))
# --8<-- [end:sweep]

# %%
# --8<-- [start:schedules]
from llm_evolution import zoo
from llm_evolution.recipes.chapter08 import STEPS, sweep_name

print(f"loss on the training loop's held-out batches after "
      f"{' / '.join(map(str, STEPS[:-1]))} steps:")
print(f"a run planned for that length, against the {max(STEPS):,}-step run stopped there")
for n_layers, d_model, _ in SIZES:
    longest = zoo.get(sweep_name(n_layers, d_model, max(STEPS))).history
    pairs = []
    for steps in STEPS[:-1]:
        planned = zoo.get(sweep_name(n_layers, d_model, steps)).history.val_loss[-1]
        stopped = longest.val_loss[longest.steps.index(steps)]
        pairs.append(f"{planned:.3f} / {stopped:.3f}")
    print(f"{n_layers}x{d_model:<4} " + "    ".join(pairs))
# --8<-- [end:schedules]

# %%
# --8<-- [start:fits]
from llm_evolution.scaling_runs import bootstrap_fits, fit_all, interval



def rounded(value: float) -> str:
    """Three significant digits, and 0 below 0.001: an optimiser's last digits (and a
    constant it drove towards 0) are not the same on every CPU."""
    return "0" if abs(value) < 1e-3 else f"{value:.3g}"


fits = fit_all(rows)
refits = bootstrap_fits()  # 200 resamples of the runs, each law refitted
for name, fit in fits.items():
    print(f"{name}:")
    for i, (constant, value) in enumerate(fit._asdict().items()):
        low, high = interval([refit[i] for refit in refits[name]])
        print(f"  {constant:<5} = {rounded(value):>8}   90% of bootstrap fits in "
              f"[{rounded(low)}, {rounded(high)}]")
print("the papers' exponents: Chinchilla (appendix D.2) alpha = 0.34, beta = 0.28;")
print("  Kaplan et al. (section 1.2) alpha_N = 0.076, alpha_D = 0.095")
# --8<-- [end:fits]

# %%
# --8<-- [start:prediction]
from llm_evolution.scaling_runs import held_out_prediction

print("the largest size (4x64), predicted by L(N, D) fitted to the four smaller sizes")
print("tokens      predicted   measured   error")
for tokens, predicted, measured in held_out_prediction(rows):
    print(f"{tokens / 1e6:5.2f}M {predicted:14.3f} {measured:10.3f} "
          f"{100 * (predicted - measured) / measured:+7.1f}%")
# --8<-- [end:prediction]

# %%
# --8<-- [start:optimal]
from llm_evolution.scaling import LossLaw
from llm_evolution.scaling_runs import compute_frontier

print("measured: the runs that beat every cheaper run")
print("C = 6ND    size    N         D       D / N   loss")
for row in compute_frontier(rows):
    n, d = row["parameters"], row["tokens"]
    print(f"{training_flops(n, d):<10.2g} {row['layers']}x{row['width']:<5} {n:<8,} "
          f"{d / 1e6:5.2f}M {d / n:8.0f} {row['loss']:7.3f}")
law = fits["L(N, D)"]
print("fitted: the best split of a budget by L(N, D)")
print("budget C      best N      best D    D / N   predicted loss")
for budget in (1e11, 1e12, 1e13):
    n, d = law.compute_optimal(budget)
    print(f"{budget:8.2g} {float(f'{n:.3g}'):11,.0f} {d:11.3g} {float(f'{d / n:.3g}'):8,.0f} "
          f"{law.loss(n, d):12.3f}")
chinchilla = LossLaw(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)  # appendix D.2
n, d = chinchilla.compute_optimal(5.76e23)
print(f"Chinchilla's printed constants at Gopher's budget (5.76e23 FLOPs): N = {n:.3g}, "
      f"D = {d:.3g}, D / N = {d / n:.0f}")
print(f"Chinchilla as trained: N = 7e10, D = 1.4e12, D / N = {1.4e12 / 70e9:.0f}")
# --8<-- [end:optimal]

# %%
# --8<-- [start:published]
from llm_evolution import zoo
from llm_evolution.published_models import (
    EU_AI_ACT_THRESHOLD_FLOPS,
    PUBLISHED_MODELS,
    accelerator_days,
    training_flops as published_flops,
)


def count(value: float | None) -> str:
    return "not stated" if value is None else f"{value:.3g}"


print(f"{'model':<17} {'year':<5} {'parameters':>10} {'tokens':>11} {'FLOPs':>9}  "
      f"{'FLOPs from':<24}share of 10^25")
for model in PUBLISHED_MODELS:
    flops = published_flops(model)
    share = "" if flops is None else f"{flops / EU_AI_ACT_THRESHOLD_FLOPS:.1e}"
    print(f"{model.name:<17} {model.when.year:<5} {model.parameters:>10.3g} "
          f"{count(model.tokens):>11} {count(flops):>9}  {model.flops_source:<24}{share}")
sweep_flops = sum(training_flops(row["parameters"], row["tokens"]) for row in rows)
print(f"{'our 20 runs':<17} {'':<5} {'':>10} {sum(r['tokens'] for r in rows):>11.3g} "
      f"{sweep_flops:>9.3g}  {'6ND':<24}{sweep_flops / EU_AI_ACT_THRESHOLD_FLOPS:.1e}")
above = sum(row["tokens"] > 20 * row["parameters"] for row in rows)
print(f"our runs with more than 20 tokens per parameter: {above} of {len(rows)}")
seconds = {row["name"]: row["seconds"] for row in rows}  # as recorded by each training run
print(f"our 20 runs took {sum(seconds.values()):.0f} s of one CPU core each, "
      f"{zoo.schedule_seconds(seconds, jobs=2):.0f} s on 2 cores side by side (this machine)")
print("accelerator-days, where the paper gives chips and hours:")
for model in PUBLISHED_MODELS:
    if model.accelerators:
        stages = " and ".join(f"{chips:,} for {hours:,.0f} h" for chips, hours in
                              model.accelerators)
        print(f"  {model.name:<17} {accelerator_days(model):>9,.0f} {model.accelerator}-days "
              f"({stages})")
# --8<-- [end:published]

# %%
# --8<-- [start:errors]
from llm_evolution.scaling import fit_loss_law

for call in (lambda: fit_loss_law([1e4, 2e4], [1e6, 1e6], [2.5, 2.4]),
             lambda: fit_loss_law([1e4] * 5, [1e6] * 5, [2.5, 2.4, 2.3, 2.2, 0.0]),
             lambda: training_flops(1e4, 0)):
    try:
        call()
    except ValueError as error:
        print(f"ValueError: {error}")
# --8<-- [end:errors]
