"""Static checks of the example scripts in snippets/, instead of running them a second time.

Each chapter's ``main.py`` runs once per change already: its sections run on the chapter's
page (under Sybil), and what they print there becomes the chapter's notebook's outputs
(:mod:`llm_evolution.notebooks`). Here, cheaply: every script parses, uses no name it never
defines or imports (pyflakes), every section it marks is shown by some page, and each code
cell of a chapter's ``main.py`` is one section that its page runs alone, in the script's order,
so that the page's run is the notebook's run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyflakes import api as pyflakes_api
from pyflakes import messages as pyflakes_messages
from pyflakes import reporter as pyflakes_reporter

from tests.docs_harness import REPO_ROOT

SNIPPETS = sorted((REPO_ROOT / "snippets").rglob("*.py"))
SECTION_START = re.compile(r"^\s*# --8<-- \[start:(?P<name>[\w-]+)\]\s*$", re.MULTILINE)
# Problems that break a script when it runs; style findings (an unused import) are not.
BREAKING = (pyflakes_messages.UndefinedName, pyflakes_messages.UndefinedLocal,
            pyflakes_messages.UndefinedExport)


class _Collector(pyflakes_reporter.Reporter):
    def __init__(self) -> None:
        self.problems: list[str] = []

    def flake(self, message) -> None:
        if isinstance(message, BREAKING):
            self.problems.append(str(message))

    def syntaxError(self, filename, msg, lineno, offset, text) -> None:  # noqa: N802
        self.problems.append(f"{filename}:{lineno}: syntax error: {msg}")

    def unexpectedError(self, filename, msg) -> None:  # noqa: N802
        self.problems.append(f"{filename}: {msg}")


def test_there_are_snippets():
    assert SNIPPETS, "no example scripts found under snippets/"


def breaking_problems(source: str, name: str) -> list[str]:
    """Syntax errors and undefined names that pyflakes finds in ``source``."""
    collector = _Collector()
    pyflakes_api.check(source, name, collector)
    return collector.problems


def test_the_check_finds_an_undefined_name():
    assert breaking_problems("import math\nprint(math.pi, radius)\n", "demo.py") == [
        "demo.py:2:16: undefined name 'radius'"]
    assert breaking_problems("import os\n", "demo.py") == []  # unused: not breaking


@pytest.mark.parametrize("script", SNIPPETS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_snippet_defines_every_name_it_uses(script: Path):
    problems = breaking_problems(script.read_text(), str(script.relative_to(REPO_ROOT)))
    assert not problems, "the script would fail when run on its own:\n" + "\n".join(problems)


@pytest.mark.parametrize("script", SNIPPETS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_section_is_shown_by_a_page(script: Path):
    pages = "\n".join(path.read_text() for path in sorted((REPO_ROOT / "docs").rglob("*.md")))
    relative = script.relative_to(REPO_ROOT).as_posix()
    sections = SECTION_START.findall(script.read_text())
    unshown = [name for name in sections if f'"{relative}:{name}"' not in pages]
    assert not unshown, (f"{relative} marks sections no page includes: {unshown}; include "
                         f'them with --8<-- "{relative}:NAME" or drop the markers')


CHAPTER_SCRIPTS = sorted((REPO_ROOT / "snippets").glob("*/main.py"))


def page_cells(page: Path, slug: str) -> list[tuple[str, list[str]]]:
    """Each python block of ``page`` that includes a section of ``snippets/<slug>/main.py``:
    (the section, every non-blank line of the block)."""
    from tests.docs_harness import top_level_fences

    marker = f'"snippets/{slug}/main.py:'
    cells = []
    for fence in top_level_fences(page.read_text()):
        lines = [line.strip() for line in fence.body.splitlines() if line.strip()]
        if fence.info == "python" and any(marker in line for line in lines):
            section = next(line for line in lines if marker in line).split(":")[-1].strip('"')
            cells.append((section, lines))
    return cells


@pytest.mark.parametrize("script", CHAPTER_SCRIPTS, ids=lambda p: p.parent.name)
def test_each_notebook_cell_is_a_section_its_page_runs_alone_in_order(script: Path):
    from llm_evolution.notebooks import cell_sections

    slug = script.parent.name
    page = REPO_ROOT / "docs" / "chapters" / f"{slug}.md"
    assert page.exists(), f"chapter script {script} has no page {page.relative_to(REPO_ROOT)}"
    sections = cell_sections(script)
    assert None not in sections, (
        f"{slug}/main.py: every code cell must be exactly one --8<-- section (cells "
        f"{[i for i, name in enumerate(sections) if name is None]} are not)")
    cells = page_cells(page, slug)
    mixed = [lines for _, lines in cells if len(lines) != 1]
    assert not mixed, (f"{page.name}: a block that includes a main.py section must include "
                       f"only that section (its output is the notebook cell's): {mixed}")
    assert [section for section, _ in cells] == sections, (
        f"{page.name} must run the sections of {slug}/main.py once each, in the script's "
        f"order, so the page's run is the notebook's: page {[s for s, _ in cells]}, "
        f"script {sections}")
