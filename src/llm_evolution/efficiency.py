"""Chapter 9's efficiency tricks that change what a step holds, not what it computes: gradient
accumulation (a large batch in several pieces) and activation checkpointing (keep fewer
activations, compute them again in the backward pass), each checked against the plain step.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from llm_evolution.training import Batch


# --8<-- [start:accumulate]
def accumulated_step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer,
                     micro_batches: int, grad_clip: float | None = 1.0) -> torch.Tensor:
    """One optimizer step on ``batch``, computed in ``micro_batches`` pieces: each piece's
    mean loss, divided by the number of pieces, is backpropagated and the gradients add up,
    so they are the whole batch's mean-loss gradients, with a piece's activations in memory
    at a time instead of the whole batch's. (The plain step is
    :func:`llm_evolution.training.train_step`.)"""
    rows = len(batch[0])
    if micro_batches < 1 or rows % micro_batches:
        raise ValueError(f"micro_batches={micro_batches} must divide the batch's {rows} rows")
    optimizer.zero_grad(set_to_none=True)
    total = torch.zeros(())
    for piece in zip(*(t.chunk(micro_batches) for t in batch)):
        _, loss = model(*piece)
        (loss / micro_batches).backward()  # gradients accumulate in .grad
        total += loss.detach() / micro_batches
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return total
# --8<-- [end:accumulate]


def gradients(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


# --8<-- [start:checkpointing]
class Checkpointed(nn.Module):
    """A block whose activations are not kept for the backward pass: only its input is, and
    the backward pass runs its forward again to get the rest (Chen et al., 2016,
    arXiv:1604.06174)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, *args):
        return checkpoint(self.block, *args, use_reentrant=False)


def with_checkpointing(model: nn.Module) -> nn.Module:
    """``model`` (a GPT) with every block checkpointed, in place."""
    model.blocks = nn.ModuleList(Checkpointed(block) for block in model.blocks)
    return model
# --8<-- [end:checkpointing]


# --8<-- [start:saved_bytes]
def saved_activation_bytes(model: nn.Module, batch: Batch) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of ``model`` on ``batch``,
    not counting the parameters themselves (they are in memory anyway): the activations."""
    parameters = {p.data_ptr() for p in model.parameters()}
    seen: set[tuple[int, tuple[int, ...]]] = set()
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        key = (tensor.data_ptr(), tuple(tensor.shape))
        if tensor.data_ptr() not in parameters and key not in seen:
            seen.add(key)
            total += tensor.nbytes
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        _, loss = model(*batch)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return total
# --8<-- [end:saved_bytes]
