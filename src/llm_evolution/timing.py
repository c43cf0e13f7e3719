"""Measuring time honestly: warm up first, repeat, report the median.

The speed comparisons of chapters 2 and 3 (RNN against Transformer on the same task) use the
helpers at the end of this module, so both chapters time their models the same way.

Times depend on the machine, so pages print them in output blocks titled
"Output (times vary by machine)" (the tests compare the words there, not the numbers), and
claims about them ("the RNN's step time grows with length") are checked by unit tests with
wide margins rather than by exact values.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn

from llm_evolution import numerics, zoo
from llm_evolution.measurements import measured
from llm_evolution.training import Batch, History, make_optimizer, train_step
from llm_evolution.translation import translation_data


@contextlib.contextmanager
def torch_threads(threads: int | None = None) -> Iterator[int]:
    """Within the block, torch computes on ``threads`` threads; by default one per core this
    process may use. Trained models, and the numbers printed from them, stay on the reference
    path's one thread; a timing measures what the machine can do. Restored afterwards."""
    count = numerics.available_cores() if threads is None else threads
    if count < 1:
        raise ValueError(f"threads={threads} must be >= 1, or None for every core")
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(before)


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
    """Median seconds of one training step of ``model`` on ``batch``: forward, backward,
    gradient clipping, AdamW update and schedule, by the same :func:`train_step` that
    :func:`llm_evolution.training.train` runs.

    The model's weights change, so time a fresh copy, not a model you still need.
    """
    model.train()
    optimizer, schedule = make_optimizer(model, lr=lr, steps=warmup + repeats + 1)
    return median_seconds(lambda: train_step(model, batch, optimizer, schedule),
                          repeats=repeats, warmup=warmup)
# --8<-- [end:step_seconds]


# --8<-- [start:speed]
def steps_to_accuracy(history: History, target: float) -> int | None:
    """The first evaluated step at which held-out accuracy reached ``target`` (None: never)."""
    for step, accuracy in zip(history.steps, history.metrics["accuracy"]):
        if accuracy >= target:
            return step
    return None


def fresh_model(name: str, **changes) -> nn.Module:
    """An untrained model of recipe ``name`` (``changes`` override its config): for timing."""
    recipe = zoo.find(name)
    torch.manual_seed(recipe.seed)
    return recipe.build({**recipe.config, **changes})


@measured  # once per machine: the page, notebook and figure show the same timing
def task_step_seconds(names: list[str], repeats: int = 5,
                      threads: int | None = None) -> dict[str, float]:
    """Median seconds of one training step of each recipe's model on the same real batch of
    the task, with the recipe's batch size: what one step of its training costs here, on
    ``threads`` threads (default: every core)."""
    data = translation_data("numbers")
    seconds = {}
    with torch_threads(threads):
        for name in names:
            batch_size = zoo.find(name).config["batch_size"]
            batch = data.batches("train", batch_size)(torch.Generator().manual_seed(0))
            seconds[name] = step_seconds(fresh_model(name), batch, repeats=repeats)
    return seconds


SPEED_LENGTHS = (8, 16, 32, 64, 128)  # source and target lengths of the by-length comparisons


def random_pairs(length: int, batch_size: int) -> Batch:
    """A batch of ``batch_size`` random source and target sequences of exactly ``length``
    tokens of the task's vocabularies (ids from 3 up: real tokens, no padding), fixed by
    ``length``. The weights and the words do not matter for what is counted or timed."""
    data = translation_data("numbers")
    generator = torch.Generator().manual_seed(length)
    source = torch.randint(3, len(data.source_vocab), (batch_size, length), generator=generator)
    target = torch.randint(3, len(data.target_vocab), (batch_size, length), generator=generator)
    return source, target, target


@measured
def step_seconds_by_length(name: str, lengths=(16, 128), batch_size: int = 16,
                           repeats: int = 3, threads: int | None = None) -> dict[int, float]:
    """Median seconds of one training step of recipe ``name``'s untrained model on
    :func:`random_pairs` of each length, on ``threads`` threads (default: every core)."""
    with torch_threads(threads):
        return {length: step_seconds(fresh_model(name, max_len=length),  # RNNs ignore max_len
                                     random_pairs(length, batch_size), repeats=repeats)
                for length in lengths}


def sequential_operations(loss: torch.Tensor) -> int:
    """The number of operations on the longest chain of the autograd graph behind ``loss``.

    Each operation on that chain needs the result of the one before it, so no number of cores
    or arithmetic units can run two of them at once: it is the least number of steps, one
    after another, that computing ``loss`` takes. A count, not a timing: the same on any
    machine. (The backward pass walks the same chain in reverse.)
    """
    if loss.grad_fn is None:
        raise ValueError("loss has no autograd graph: compute it with gradients enabled, "
                         "from parameters that require them")
    longest: dict = {}  # operation -> operations on the longest chain ending with it
    stack = [(loss.grad_fn, False)]
    while stack:  # depth-first without recursion: an RNN's chain is thousands long
        node, inputs_counted = stack.pop()
        if node in longest:
            continue
        inputs = [child for child, _ in node.next_functions if child is not None]
        if inputs_counted:
            # A parameter or input that needs a gradient is a leaf of the graph, no operation.
            is_leaf = hasattr(node, "variable")
            longest[node] = (0 if is_leaf else 1) + max((longest[c] for c in inputs), default=0)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in inputs if child not in longest)
    return longest[loss.grad_fn]


def sequential_operations_by_length(name: str, lengths=SPEED_LENGTHS) -> dict[int, int]:
    """:func:`sequential_operations` of one forward pass of recipe ``name``'s model, with its
    loss, on :func:`random_pairs` of each length."""
    counts = {}
    for length in lengths:
        model = fresh_model(name, max_len=length)
        _, loss = model(*random_pairs(length, batch_size=2))
        counts[length] = sequential_operations(loss)
    return counts
# --8<-- [end:speed]


# --8<-- [start:bpe_speed]
@measured
def bpe_training_seconds(vocab_sizes: tuple[int, ...]) -> dict[int, tuple[float, float]]:
    """For each vocabulary size: median seconds to train our BPE and Hugging Face's on
    chapter 4's training text, as ``{size: (ours, theirs)}``."""
    from llm_evolution.data.text import char_corpus
    from llm_evolution.tokenizers import END_OF_TEXT, train_bpe, train_hf_bpe

    text = char_corpus().train_text
    return {size: (median_seconds(lambda: train_bpe(text, size, special_tokens=[END_OF_TEXT]),
                                  repeats=2, warmup=0),
                   median_seconds(lambda: train_hf_bpe(text, size), repeats=2, warmup=0))
            for size in vocab_sizes}
# --8<-- [end:bpe_speed]
