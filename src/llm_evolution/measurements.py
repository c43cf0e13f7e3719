"""One measurement, shown everywhere: timings measured once per machine, then reused.

A chapter's page, its notebook and its figure all print or draw the same timing (how long a
training step takes, how much the KV cache saves). Measured three times they would show three
different numbers; so a timing function is decorated with :func:`measured`, which runs it the
first time and stores its result in the cache (``measurements/`` in
:func:`llm_evolution.paths.cache_dir`). Later calls, from any process, read that result.

The key is what makes a timing what it is: the measuring code (its whole import closure), its
arguments, the CPU model, the number of threads, the torch version and the numeric path. A new
machine, a different thread count or an edit to the code measures again. Timings are never
committed: every machine measures its own.
"""

from __future__ import annotations

import ast
import datetime
import functools
import json
import os
import platform
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch

from llm_evolution import cache, numerics
from llm_evolution.paths import cache_dir

T = TypeVar("T")
FRESH_ENV = "LLM_EVOLUTION_REMEASURE"  # set to 1 to measure again, ignoring stored results


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else the platform's best guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, str | int]:
    """What a timing depends on besides its code and arguments."""
    return {"cpu": cpu_model(), "cores": numerics.available_cores(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__.split("+")[0], "numeric_path": numerics.describe()}


def measurement_key(function: Callable, args: tuple, kwargs: dict) -> str:
    """Key of one call of ``function``: its code, arguments and the machine."""
    call = repr((args, sorted(kwargs.items())))
    return cache.build_key(function.__module__, distributions=("torch",),
                           extra=(function.__qualname__, call,
                                  json.dumps(machine(), sort_keys=True)))


def measured(function: Callable[..., T]) -> Callable[..., T]:
    """Decorate a timing function: each distinct call is measured once per machine.

    The result must be made of Python literals (numbers, strings, tuples, lists, dicts): it is
    stored as text and read back with :func:`ast.literal_eval`, which runs no code.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        key = measurement_key(function, args, kwargs)
        path = cache_dir("measurements") / f"{function.__qualname__}-{key}.txt"
        fresh = os.environ.get(FRESH_ENV) == "1"
        stored = None if fresh else _read(path)
        if stored is not None:
            return stored[0]
        with cache.locked(path, f"measurement {function.__qualname__}"):
            stored = None if fresh else _read(path)  # another process may have measured it
            if stored is not None:
                return stored[0]
            result = function(*args, **kwargs)
            text = repr(result)
            try:
                readable = _literal(text) == result
            except (ValueError, SyntaxError):
                readable = False
            if not readable:
                raise TypeError(f"{function.__qualname__} returned {type(result).__name__}, "
                                "which cannot be stored as a Python literal; return numbers, "
                                "strings, tuples, lists or dicts of them")
            header = json.dumps({"function": f"{function.__module__}.{function.__qualname__}",
                                 "measured": datetime.datetime.now().isoformat(timespec="seconds"),
                                 **machine()})
            with cache.staging(path) as folder:
                staged = folder / path.name
                staged.write_text(f"# {header}\n{text}\n")
                cache.publish([(staged, path)])
        return result

    wrapper.measure_again = function  # the undecorated function, for tests
    return wrapper


def _literal(text: str):
    return ast.literal_eval(text)


def _read(path: Path) -> tuple | None:
    """``(result,)`` as stored, or None if there is none; a damaged file is removed with a
    warning and measured again, never trusted."""
    if not path.exists():
        return None
    lines = path.read_text().splitlines()
    try:
        return (_literal("\n".join(line for line in lines if not line.startswith("#"))),)
    except (ValueError, SyntaxError):
        warnings.warn(f"the stored measurement {path} is damaged: measuring again", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
