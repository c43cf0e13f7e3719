"""Measuring time honestly: warm up first, repeat, report the median.

Times depend on the machine, so pages print them in output blocks titled
"Output (times vary by machine)" (the tests compare the words there, not the numbers), and
claims about them ("the RNN's step time grows with length") are checked by unit tests with
wide margins rather than by exact values.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from llm_evolution.training import Batch


# --8<-- [start:median_seconds]
def median_seconds(run: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of ``run()`` over ``repeats`` calls, after ``warmup`` calls.

    The median, not the mean: one call slowed by another process should not move the result.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats={repeats} must be >= 1 and warmup={warmup} >= 0")
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
# --8<-- [end:median_seconds]


# --8<-- [start:step_seconds]
def step_seconds(model: nn.Module, batch: Batch, *, repeats: int = 5, warmup: int = 1,
                 lr: float = 1e-3) -> float:
    """Median seconds of one training step of ``model`` on ``batch``: forward, backward and an
    AdamW update, exactly what :func:`llm_evolution.training.train` does per step.

    The model's weights change, so time a fresh copy, not a model you still need.
    """
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)

    def step() -> None:
        _, loss = model(*batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return median_seconds(step, repeats=repeats, warmup=warmup)
# --8<-- [end:step_seconds]
