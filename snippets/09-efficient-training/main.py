# %% [markdown]
# # Chapter 9: Efficient and distributed training
#
# Chapter 6's GPT trained by several processes with PyTorch's own distributed engine (DDP on
# one node and on two, then FSDP), checked against one process; gradient accumulation and
# activation checkpointing checked against the plain step; and what each speed trick buys,
# from the benchmark's committed run.

# %%
# --8<-- [start:ddp]
from llm_evolution.distributed import chapter_runs

runs = chapter_runs()  # torchrun launches, once per machine, then read back
print(f"{'run':28} {'ranks':>5} {'max |weight difference|':>24} {'parameter bytes':>16} "
      f"{'optimizer bytes':>16}")
for name, run in runs.items():
    print(f"{name:28} {run['world_size']:>5} {run['max_difference']:>24.1e} "
          f"{run['parameters']:>16,} {run['optimizer state']:>16,}")
# --8<-- [end:ddp]

# %%
# --8<-- [start:two_nodes]
from llm_evolution.distributed import launch_commands

for node, command in enumerate(launch_commands("weights.pt", nproc_per_node=1, nnodes=2)):
    print(f"# on node {node}:")
    print(" ".join(command))
# --8<-- [end:two_nodes]

# %%
# --8<-- [start:accumulate]
import torch

from llm_evolution.efficiency import accumulated_step, gradients
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import make_optimizer

config = GPTConfig(vocab_size=74, context_size=64, d_model=128, n_heads=4, n_layers=4)
tokens = torch.randint(74, (12, 65), generator=torch.Generator().manual_seed(0))
batch = (tokens[:, :-1], tokens[:, 1:])
grads = {}
for pieces in (1, 4):
    torch.manual_seed(0)
    model = GPT(config)
    optimizer, _ = make_optimizer(model, lr=1e-3, steps=1)
    accumulated_step(model, batch, optimizer, micro_batches=pieces)
    grads[pieces] = gradients(model)
difference = max((grads[4][name] - g).abs().max().item() for name, g in grads[1].items())
print(f"largest gradient difference, 1 batch of 12 vs 4 micro-batches of 3: {difference:.1e}")
# --8<-- [end:accumulate]

# %%
# --8<-- [start:checkpointing]
from llm_evolution.efficiency import saved_activation_bytes, with_checkpointing

torch.manual_seed(0)
plain_bytes = saved_activation_bytes(GPT(config), batch)
torch.manual_seed(0)
checkpointed_bytes = saved_activation_bytes(with_checkpointing(GPT(config)), batch)
print(f"activations kept for the backward pass: {plain_bytes / 2**20:.1f} MiB plain, "
      f"{checkpointed_bytes / 2**20:.1f} MiB with every block checkpointed "
      f"({plain_bytes / checkpointed_bytes:.1f} times less)")
# --8<-- [end:checkpointing]

# %%
# --8<-- [start:tricks]
from llm_evolution.bench import load_results
from llm_evolution.speed import format_tricks

results = load_results()  # docs/reference/bench.json: one run of python -m llm_evolution.bench
machine = results["machine"]
print(f"{machine['cpu']}, {machine['threads']} threads, torch {machine['torch']}, "
      f"{results['date']}; bf16 instructions: "
      f"{'yes' if results['speed']['bf16_instructions'] else 'no'}")
print(format_tricks(results["speed"]))
curves = results["speed"]["loss_curves"]
gap = max(abs(a - b) for a, b in zip(curves["float32"], curves["bf16_autocast"]))
print(f"bf16 against float32, same model and batches, {len(curves['float32'])} steps: "
      f"training losses at most {gap:.3f} apart")
# --8<-- [end:tricks]

# %%
# --8<-- [start:race]
from llm_evolution.speed import format_race

print(format_race(results["speed"]))
# --8<-- [end:race]

# %%
# --8<-- [start:generation]
rows = results["rows"]
for key, label in (("generate_cached", "ours, KV cache"),
                   ("generate_hf_loop", "same loop over transformers' forward"),
                   ("generate_hf", "transformers' generate"),
                   ("generate_uncached", "ours, no cache")):
    print(f"{label:38} {rows[key]['tokens_per_second']:8.0f} tokens/s")
print(f"ours / same loop over transformers: "
      f"{rows['generate_cached']['tokens_per_second'] / rows['generate_hf_loop']['tokens_per_second']:.2f}x")
# --8<-- [end:generation]

# %%
# --8<-- [start:giants]
from llm_evolution.published_models import TRAINING_SETUPS


def ways(degree: int | str) -> str:
    return "-" if degree == 1 else f"{degree:,}" if isinstance(degree, int) else degree


print(f"{'model':17} {'accelerators':37} {'tensor':>6} {'pipeline':>8} {'data':>5}")
for setup in TRAINING_SETUPS:
    print(f"{setup.name:17} {setup.accelerators:37} {ways(setup.tensor):>6} "
          f"{ways(setup.pipeline):>8} {ways(setup.data):>5}")
    print(f"{'':17} {setup.utilisation}")
# --8<-- [end:giants]

# %%
# --8<-- [start:errors]
from llm_evolution.distributed import shard
from llm_evolution.models.gpt import KVCache
from llm_evolution.speed import trick_step

for call in (lambda: shard(batch, rank=0, world_size=5),
             lambda: accumulated_step(GPT(config), batch, optimizer, micro_batches=5),
             lambda: trick_step("fp8", GPT(config), steps=10),
             lambda: KVCache(config.n_layers, capacity=0)):
    try:
        call()
    except ValueError as error:
        print(f"ValueError: {error}")
# --8<-- [end:errors]
