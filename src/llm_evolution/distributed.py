"""Chapter 9: data-parallel training with PyTorch's own distributed engine, checked against one
process.

Data parallelism keeps a whole copy of the model in every process (a *rank*); each global batch
is cut into one shard per rank, every rank computes the gradient of its shard, and an
all-reduce averages the gradients across ranks before the update, so that every copy takes the
same step. :func:`train_data_parallel` does it with ``DistributedDataParallel`` over the gloo
backend (CPU; NCCL on GPUs); :func:`train_one_process` takes the same steps on the whole
global batches in one process. Run as a script under ``torchrun``::

    torchrun --nproc_per_node=2 -m llm_evolution.distributed --out weights.pt

and :func:`compare` says how far its weights are from one process's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

from llm_evolution import numerics
from llm_evolution.measurements import measured
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import Batch, make_optimizer, train_step

# A small GPT and a few steps: the point is equality, not a trained model.
CONFIG = GPTConfig(vocab_size=74, context_size=32, d_model=64, n_heads=4, n_layers=2)
STEPS, GLOBAL_BATCH, LR, SEED = 8, 16, 1e-3, 0


def global_batches(steps: int = STEPS, global_batch: int = GLOBAL_BATCH,
                   config: GPTConfig = CONFIG, seed: int = SEED) -> list[Batch]:
    """The global batches every run reads, the same in every process: random token windows
    (the equality does not depend on the text), as (inputs, targets)."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(config.vocab_size, (steps, global_batch, config.context_size + 1),
                           generator=generator)
    return [(window[:, :-1], window[:, 1:]) for window in tokens]


# --8<-- [start:shard]
def shard(batch: Batch, rank: int, world_size: int) -> Batch:
    """Rank ``rank``'s rows of a global batch: the ``rank``-th of ``world_size`` equal slices."""
    rows = len(batch[0])
    if rows % world_size:
        raise ValueError(f"a global batch of {rows} rows cannot be cut into {world_size} equal "
                         f"shards: make it a multiple of the number of ranks")
    size = rows // world_size
    return tuple(t[rank * size : (rank + 1) * size] for t in batch)
# --8<-- [end:shard]


def fresh_model(config: GPTConfig = CONFIG, seed: int = SEED) -> GPT:
    """The model every run starts from: the same weights in every process."""
    torch.manual_seed(seed)
    return GPT(config)


def train_one_process(model: nn.Module, batches: list[Batch], lr: float = LR) -> nn.Module:
    """The reference: every step on the whole global batch, in this process."""
    optimizer, schedule = make_optimizer(model, lr=lr, steps=len(batches))
    for batch in batches:
        train_step(model, batch, optimizer, schedule)
    return model


Trained = tuple[nn.Module, torch.optim.Optimizer]


# --8<-- [start:ddp]
def train_data_parallel(model: nn.Module, batches: list[Batch], lr: float = LR) -> Trained:
    """The same steps in this rank of a process group: each rank reads its shard of every
    global batch; DistributedDataParallel averages the gradients across the ranks during the
    backward pass, so every rank's copy takes the same update."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    parallel = DistributedDataParallel(model)  # broadcasts rank 0's weights to every rank
    optimizer, schedule = make_optimizer(parallel, lr=lr, steps=len(batches))
    for batch in batches:
        train_step(parallel, shard(batch, rank, world_size), optimizer, schedule)
    return parallel.module, optimizer
# --8<-- [end:ddp]


# --8<-- [start:fsdp]
def train_fully_sharded(model: nn.Module, batches: list[Batch], lr: float = LR) -> Trained:
    """The same steps with the model sharded (FSDP, ``fully_shard``): each rank keeps only its
    slice of every parameter and of the optimizer's state; a block's whole weights are
    gathered just before it computes and freed after, and gradients are reduce-scattered so
    that each rank updates only its slice."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    for block in model.blocks:  # one unit per block: gathered and freed one at a time
        fully_shard(block)
    fully_shard(model)  # the rest: embeddings and the final layer norm
    optimizer, schedule = make_optimizer(model, lr=lr, steps=len(batches))
    for batch in batches:
        train_step(model, shard(batch, rank, world_size), optimizer, schedule)
    return model, optimizer
# --8<-- [end:fsdp]


def local_bytes(tensors) -> int:
    """Bytes of ``tensors`` held by this rank (a sharded tensor counts only its slice)."""
    return sum((t.to_local() if hasattr(t, "to_local") else t).nbytes for t in tensors)


def main(argv: list[str] | None = None) -> None:
    """The script torchrun starts in every process: join the group, train, and (rank 0) save
    the weights."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where rank 0 saves weights")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--sharding", choices=("ddp", "fsdp"), default="ddp")
    args = parser.parse_args(argv)
    dist.init_process_group("gloo")  # rank, world size and address come from torchrun
    # Launched from a process on the reference path (the tests, the page), each rank computes
    # on it too: the variables are inherited; oneDNN off and one thread are set here.
    settings = (numerics.reference_settings() if numerics.on_reference_path()
                else contextlib.nullcontext())
    try:
        settings.__enter__()
        train = train_data_parallel if args.sharding == "ddp" else train_fully_sharded
        model, optimizer = train(fresh_model(), global_batches(args.steps))
        parameter_bytes = local_bytes(model.parameters())
        optimizer_state = local_bytes(value for state in optimizer.state.values()
                                      for value in state.values() if value.dim() > 0)
        full = {name: value.full_tensor() if hasattr(value, "full_tensor") else value
                for name, value in model.state_dict().items()}  # gathers sharded weights
        if dist.get_rank() == 0:
            torch.save({"world_size": dist.get_world_size(), "state": full,
                        "parameter_bytes": parameter_bytes,
                        "optimizer_state_bytes": optimizer_state}, args.out)
    finally:
        settings.__exit__(None, None, None)
        dist.destroy_process_group()


def free_port() -> int:
    """A free TCP port on the loopback interface, for a rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --8<-- [start:launch]
def launch_commands(out: Path, *, nproc_per_node: int = 2, nnodes: int = 1,
                    steps: int = STEPS, sharding: str = "ddp", port: int = 29400,
                    launcher: tuple[str, ...] = ("torchrun",)) -> list[list[str]]:
    """The command line of each launcher. One node: one launcher starts ``nproc_per_node``
    processes. Several nodes: one launcher per node, all meeting at one rendezvous endpoint
    (here 127.0.0.1; on a cluster, the first node's address), as a cluster's job script
    starts them."""
    script = ["-m", "llm_evolution.distributed", "--out", str(out), "--steps", str(steps),
              "--sharding", sharding]
    if nnodes == 1:
        return [[*launcher, "--standalone", f"--nproc_per_node={nproc_per_node}", *script]]
    # Node 0 hosts the rendezvous store (on one machine every node would think it is the
    # endpoint's host: is_host says which one is).
    return [[*launcher, f"--nnodes={nnodes}", f"--node_rank={node}",
             f"--nproc_per_node={nproc_per_node}", "--rdzv-backend=c10d",
             f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=chapter9",
             f"--rdzv-conf=is_host={int(node == 0)}", *script]
            for node in range(nnodes)]
# --8<-- [end:launch]


def torchrun(out: Path, *, nproc_per_node: int = 2, nnodes: int = 1, steps: int = STEPS,
             sharding: str = "ddp") -> list[list[str]]:
    """Run the script under torchrun (``python -m torch.distributed.run``, the same program)
    on a free port, wait for every launcher, and return their command lines."""
    commands = launch_commands(out, nproc_per_node=nproc_per_node, nnodes=nnodes,
                               steps=steps, sharding=sharding, port=free_port(),
                               launcher=(sys.executable, "-m", "torch.distributed.run"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launched = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for command in commands]
    for process, command in zip(launched, commands):
        output, _ = process.communicate(timeout=300)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    return commands


def compare(saved: Path, steps: int = STEPS) -> tuple[int, float]:
    """(world size, largest absolute difference) between the weights torchrun saved and one
    process's after the same global batches."""
    checkpoint = torch.load(saved, weights_only=True)
    reference = train_one_process(fresh_model(), global_batches(steps)).state_dict()
    if set(checkpoint["state"]) != set(reference):
        raise ValueError(f"{saved} holds other weights than the model's: "
                         f"{sorted(set(checkpoint['state']) ^ set(reference))}")
    difference = max((checkpoint["state"][name] - value).abs().max().item()
                     for name, value in reference.items())
    return checkpoint["world_size"], difference


def memory_per_rank(saved: Path) -> dict[str, int]:
    """The parameter and optimizer-state bytes one rank held, as the run saved them."""
    checkpoint = torch.load(saved, weights_only=True)
    return {"parameters": checkpoint["parameter_bytes"],
            "optimizer state": checkpoint["optimizer_state_bytes"]}


if __name__ == "__main__":
    main()


# --8<-- [start:chapter_runs]
@measured  # four launches of a few seconds each: once per machine, then read back
def chapter_runs() -> dict[str, dict]:
    """What chapter 9 prints: DDP on one node (2 processes), the same on two nodes of one
    process each, and FSDP; for each, the world size, the largest weight difference from one
    process on the same global batches, and the bytes one rank held."""
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, options in (("DDP, 1 node x 2 processes", {}),
                              ("DDP, 2 nodes x 1 process", {"nproc_per_node": 1, "nnodes": 2}),
                              ("FSDP, 1 node x 2 processes", {"sharding": "fsdp"})):
            out = Path(folder) / "weights.pt"
            torchrun(out, **options)
            world_size, difference = compare(out)
            results[name] = {"world_size": world_size, "max_difference": difference,
                             **memory_per_rank(out)}
    return results
# --8<-- [end:chapter_runs]
