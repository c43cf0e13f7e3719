"""The one training loop every model on the site goes through.

A model follows one contract: ``model(*batch) -> (output, loss)``. Data comes from a function
``get_batch(generator) -> batch`` (a tuple of tensors), so the loop does not care whether it
trains a bigram table, an RNN translator or a GPT. The loop is seeded, runs on any device,
shows a progress bar, evaluates on held-out batches, and returns the loss history for figures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from llm_evolution.evaluation import evaluating

Batch = tuple[torch.Tensor, ...]
BatchFn = Callable[[torch.Generator], Batch]


@dataclass
class History:
    """Losses recorded during training: one entry per evaluation."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean over the steps since last eval
    val_loss: list[float] = field(default_factory=list)  # mean over the same held-out batches
    # Extra held-out measurements (accuracy, say), one list per name, from ``eval_metrics``.
    metrics: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls(**data)


# --8<-- [start:random_windows]
def random_windows(ids: torch.Tensor, block_size: int, batch_size: int) -> BatchFn:
    """Batches of ``batch_size`` random windows of ``ids``; targets are inputs shifted by one."""
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if block_size < 1 or batch_size < 1:
        raise ValueError(f"block_size={block_size} and batch_size={batch_size} must be >= 1")
    if len(ids) <= block_size:
        raise ValueError(f"need more than block_size={block_size} tokens, got {len(ids)}")

    def get_batch(generator: torch.Generator) -> Batch:
        starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
        inputs = torch.stack([ids[s : s + block_size] for s in starts])
        targets = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])
        return inputs, targets

    return get_batch
# --8<-- [end:random_windows]


def to_device(batch: Batch, device: torch.device) -> Batch:
    """Move every tensor of a batch to ``device``."""
    return tuple(t.to(device) for t in batch)


def evaluate(model: nn.Module, batches: list[Batch], device: torch.device | str = "cpu") -> float:
    """Mean loss of ``model`` over fixed ``batches``, in eval mode and without gradients."""
    with evaluating(model):
        losses = [model(*to_device(batch, torch.device(device)))[1].item() for batch in batches]
    return sum(losses) / len(losses)


# --8<-- [start:train_step]
def make_optimizer(model: nn.Module, *, lr: float, steps: int, weight_decay: float = 0.0,
                   warmup_steps: int = 0, lr_decay: bool = False
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW and its learning-rate schedule: ``lr`` throughout, unless it rises linearly from
    0 over the first ``warmup_steps`` steps (the Transformer's warmup) and, with ``lr_decay``,
    then falls linearly to 0 at step ``steps``."""
    if not 0 <= warmup_steps < steps:
        raise ValueError(f"warmup_steps={warmup_steps} must be in 0..steps-1={steps - 1}")
    # fused=True: one kernel per update, whose square root is the exact vector instruction.
    # The unfused update calls Tensor.sqrt, whose vector code refines a hardware estimate of
    # 1/sqrt that differs between CPU makers, so its last bit, and every trained model after
    # it, would depend on the CPU (seen by emulating an AMD CPU: tests/test_numeric_path.py).
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=True)

    def lr_factor(done: int) -> float:  # multiplies lr after ``done`` optimizer steps
        if done < warmup_steps:
            return (done + 1) / warmup_steps
        return (steps - done) / (steps - warmup_steps) if lr_decay else 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)


def train_step(model: nn.Module, batch: Batch, optimizer: torch.optim.Optimizer,
               schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
               grad_clip: float | None = 1.0) -> torch.Tensor:
    """One step of training, the same everywhere (the loop, the timings, the benchmark):
    forward, backward, clip the gradients' norm to ``grad_clip``, update, advance the
    schedule. Returns the loss of the batch, detached."""
    _, loss = model(*batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if schedule is not None:
        schedule.step()
    return loss.detach()
# --8<-- [end:train_step]


# --8<-- [start:train]
def train(
    model: nn.Module,
    train_batch: BatchFn,
    *,
    steps: int,
    val_batch: BatchFn | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    eval_every: int = 100,
    eval_batches: int = 10,
    grad_clip: float | None = 1.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "training",
    eval_metrics: Callable[[nn.Module], dict[str, float]] | None = None,
    warmup_steps: int = 0,
    lr_decay: bool = False,
) -> History:
    """Train ``model`` with AdamW for ``steps`` steps and return its loss history.

    ``eval_metrics(model)``, if given, runs at every evaluation (in eval mode, without
    gradients) and its numbers are recorded in ``history.metrics``. The learning rate follows
    :func:`make_optimizer`'s schedule (``warmup_steps``, ``lr_decay``).
    """
    if steps < 1 or eval_every < 1 or eval_batches < 1:
        raise ValueError(
            f"steps={steps}, eval_every={eval_every} and eval_batches={eval_batches} must be >= 1"
        )
    device = torch.device(device)
    model.to(device).train()
    torch.manual_seed(seed)  # dropout and anything else that draws from the global generator
    batch_generator = torch.Generator().manual_seed(seed)
    # The same held-out batches at every evaluation, so the curve moves only when the model does.
    val_generator = torch.Generator().manual_seed(seed + 1)
    val_batches = [val_batch(val_generator) for _ in range(eval_batches)] if val_batch else []
    optimizer, schedule = make_optimizer(model, lr=lr, steps=steps, weight_decay=weight_decay,
                                         warmup_steps=warmup_steps, lr_decay=lr_decay)

    history = History()
    running, count = 0.0, 0
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc=desc, disable=not progress, leave=False)
    for step in bar:
        batch = to_device(train_batch(batch_generator), device)
        loss = train_step(model, batch, optimizer, schedule, grad_clip).item()  # one sync
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss became {loss} at step {step}; lower lr={lr}")
        running, count = running + loss, count + 1
        if step % eval_every == 0 or step == steps:
            history.steps.append(step)
            history.train_loss.append(running / count)
            if val_batches:
                history.val_loss.append(evaluate(model, val_batches, device))
            if eval_metrics is not None:
                with evaluating(model):
                    for name, value in eval_metrics(model).items():
                        history.metrics.setdefault(name, []).append(float(value))
            running, count = 0.0, 0
            shown = {"train": f"{history.train_loss[-1]:.3f}"}
            if val_batches:
                shown["val"] = f"{history.val_loss[-1]:.3f}"
            bar.set_postfix(shown)
    history.seconds = time.perf_counter() - start
    model.eval()
    return history
# --8<-- [end:train]


# --8<-- [start:perplexity]
def perplexity(model: nn.Module, ids: torch.Tensor, block_size: int = 256) -> float:
    """exp(mean negative log-likelihood) of every next token of ``ids`` under ``model``.

    The text is cut into consecutive windows of ``block_size`` tokens; every token after the
    first is predicted exactly once. A model that reads context sees less of it at the start of
    each window, which makes its perplexity slightly worse than with overlapping windows; a
    bigram reads one token only, so for it the result is exact.
    """
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError("ids must be a 1-D tensor with at least 2 tokens")
    if block_size < 1:
        raise ValueError(f"block_size={block_size} must be >= 1")
    device = next(model.parameters(), next(model.buffers(), ids)).device
    ids = ids.to(device)
    total_nll, total_tokens = 0.0, 0
    with evaluating(model):
        for start in range(0, len(ids) - 1, block_size):
            inputs = ids[start : start + block_size]
            targets = ids[start + 1 : start + 1 + block_size]
            inputs = inputs[: len(targets)]
            _, loss = model(inputs[None], targets[None])
            total_nll += loss.item() * len(targets)
            total_tokens += len(targets)
    return math.exp(total_nll / total_tokens)
# --8<-- [end:perplexity]
