"""The training budget, in seconds of one reference machine, whatever machine trains.

A recipe's recorded training time depends on the machine as much as on the recipe: the same
cold run recorded 158 s for ``bert-mlm`` on one two-core cloud machine and 332 s on another
of the same kind (2 December 2026). A budget checked against raw seconds then passes or fails
by which machine the test drew. So every model the cache trains also records how long a small
fixed piece of work, :func:`probe_seconds`, takes in the same process just before and just
after its training (the same thread count, the same neighbour on the other core), and the
budget compares :func:`reference_seconds`: the recorded time scaled by how much slower or
faster the probe ran than on the reference machine (:data:`REFERENCE_PROBE_S`).
"""

from __future__ import annotations

import statistics
import time

import torch

from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import make_optimizer, train_step

# The probe's median on the reference machine, a 2-core Intel Xeon (Sapphire Rapids) cloud
# machine, on 2 December 2026: 0.16 to 0.17 s alone and with another model training on the
# other core, as in ``zoo train --all``. The recorded times of chapters 1 to 9 on it:
# ``python -m llm_evolution.zoo report``.
REFERENCE_PROBE_S = 0.165
PROBE_CONFIG = GPTConfig(vocab_size=65, context_size=64, d_model=64, n_heads=4, n_layers=2)
PROBE_BATCH = 8
PROBE_STEPS = 10
PROBE_REPEATS = 3
# Names the probe's work: a probe recorded with other settings is not comparable.
PROBE_ID = (f"gpt-{PROBE_CONFIG.n_layers}x{PROBE_CONFIG.d_model}-batch{PROBE_BATCH}"
            f"-steps{PROBE_STEPS}")


def probe_seconds() -> float:
    """Seconds for ``PROBE_STEPS`` training steps of a 2-layer GPT at the current thread
    count: the median of ``PROBE_REPEATS`` timings. Leaves torch's random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT(PROBE_CONFIG)
        optimizer, _ = make_optimizer(model, lr=1e-3, steps=PROBE_STEPS * (PROBE_REPEATS + 1))
        shape = (PROBE_BATCH, PROBE_CONFIG.context_size)
        inputs = torch.randint(PROBE_CONFIG.vocab_size, shape)
        targets = torch.randint(PROBE_CONFIG.vocab_size, shape)
        for _ in range(3):  # warm up the allocator and the kernels' first-call paths
            train_step(model, (inputs, targets), optimizer)
        timings = []
        for _ in range(PROBE_REPEATS):
            start = time.perf_counter()
            for _ in range(PROBE_STEPS):
                train_step(model, (inputs, targets), optimizer)
            timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def reference_seconds(meta: dict) -> float:
    """A cached model's training seconds as the reference machine would have taken them:
    ``seconds * REFERENCE_PROBE_S / probe``, the probe being the mean of the timings taken
    before and after training. An entry with no probe of the current kind (trained before
    probes were recorded, or under another ``PROBE_ID``) counts as recorded."""
    probes = meta.get("probe_seconds")
    if not probes or meta.get("probe_id") != PROBE_ID:
        return float(meta["seconds"])
    return float(meta["seconds"]) * REFERENCE_PROBE_S / statistics.fmean(probes)
