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
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

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


# --8<-- [start:ddp]
def train_data_parallel(model: nn.Module, batches: list[Batch], lr: float = LR) -> nn.Module:
    """The same steps in this rank of a process group: each rank reads its shard of every
    global batch; DistributedDataParallel averages the gradients across the ranks during the
    backward pass, so every rank's copy takes the same update."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    parallel = DistributedDataParallel(model)  # broadcasts rank 0's weights to every rank
    optimizer, schedule = make_optimizer(parallel, lr=lr, steps=len(batches))
    for batch in batches:
        train_step(parallel, shard(batch, rank, world_size), optimizer, schedule)
    return parallel.module
# --8<-- [end:ddp]


def main(argv: list[str] | None = None) -> None:
    """The script torchrun starts in every process: join the group, train, and (rank 0) save
    the weights."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where rank 0 saves weights")
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args(argv)
    dist.init_process_group("gloo")  # rank, world size and address come from torchrun
    try:
        model = train_data_parallel(fresh_model(), global_batches(args.steps))
        if dist.get_rank() == 0:
            torch.save({"world_size": dist.get_world_size(), "state": model.state_dict()},
                       args.out)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A free TCP port on the loopback interface, for a rendezvous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --8<-- [start:launch]
def torchrun(out: Path, *, nproc_per_node: int = 2, nnodes: int = 1,
             steps: int = STEPS) -> list[list[str]]:
    """Run the script under torchrun and return the command line of each launcher. One node:
    one launcher starts ``nproc_per_node`` processes. Several nodes: one launcher per node,
    all meeting at one rendezvous endpoint (here 127.0.0.1; on a cluster, the first node's
    address), as a cluster's job script starts them."""
    launcher = [sys.executable, "-m", "torch.distributed.run"]
    script = ["-m", "llm_evolution.distributed", "--out", str(out), "--steps", str(steps)]
    if nnodes == 1:
        commands = [[*launcher, "--standalone", f"--nproc_per_node={nproc_per_node}", *script]]
    else:
        endpoint = f"127.0.0.1:{free_port()}"
        # Node 0 hosts the rendezvous store (on one machine every node would think it is
        # the endpoint's host: is_host says which one is).
        commands = [[*launcher, f"--nnodes={nnodes}", f"--node_rank={node}",
                     f"--nproc_per_node={nproc_per_node}", "--rdzv-backend=c10d",
                     f"--rdzv-endpoint={endpoint}", "--rdzv-id=chapter9",
                     f"--rdzv-conf=is_host={int(node == 0)}", *script]
                    for node in range(nnodes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launched = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for command in commands]
    for process, command in zip(launched, commands):
        output, _ = process.communicate(timeout=300)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    return commands
# --8<-- [end:launch]


def compare(saved: Path, steps: int = STEPS) -> tuple[int, float]:
    """(world size, largest absolute difference) between the weights torchrun saved and one
    process's after the same global batches."""
    checkpoint = torch.load(saved, weights_only=True)
    reference = train_one_process(fresh_model(), global_batches(steps)).state_dict()
    difference = max((checkpoint["state"][name] - value).abs().max().item()
                     for name, value in reference.items())
    return checkpoint["world_size"], difference


if __name__ == "__main__":
    main()
