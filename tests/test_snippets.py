"""Every example script in snippets/ runs on its own, as a reader would run it."""

from __future__ import annotations

import contextlib
import io
import os
import runpy
from pathlib import Path

import pytest

from tests.docs_harness import REPO_ROOT

SNIPPETS = sorted((REPO_ROOT / "snippets").rglob("*.py"))


def test_there_are_snippets():
    assert SNIPPETS, "no example scripts found under snippets/"


@pytest.mark.parametrize("script", SNIPPETS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_snippet_runs(script: Path, monkeypatch):
    # Run in this process (importing torch once for all of them), as `python script.py` would:
    # __name__ is "__main__", and the working directory is the repository root.
    monkeypatch.chdir(REPO_ROOT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        runpy.run_path(os.fspath(script), run_name="__main__")
    assert printed.getvalue().strip(), f"{script.name} printed nothing: what does it show?"
