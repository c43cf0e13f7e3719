"""A chapter notebook run in a real Jupyter kernel prints what its page shows.

The site serves each chapter's notebook with the outputs its page run recorded
(:func:`llm_evolution.notebooks.record`): the code runs once per ``make test``. This test is the
proof that the recording tells the truth: chapter 1's notebook, run from the first cell to the
last in a fresh kernel, prints in every cell exactly the Output block the page shows after the
same section (and nothing where the page shows none). Chapter 1 is the cheapest to run; every
chapter's cells are checked statically to be the sections its page runs alone, in order
(``tests/test_snippets.py``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from llm_evolution import notebooks
from tests.docs_harness import (NOTEBOOK_CELL, OUTPUT_INFO, REPO_ROOT, mask_timings,
                                top_level_fences)
from tests.incremental import run_when_changed

SLUG = "01-language-models"
PAGE = REPO_ROOT / "docs" / "chapters" / f"{SLUG}.md"



@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Run again only when the notebook, its page or the code it imports changes."""
    yield from run_when_changed(request, notebooks.main_snippets()[SLUG],
                                "llm_evolution.notebooks", extra=(PAGE.read_text(),))


def page_outputs(page: Path) -> dict[str, str]:
    """Section of main.py -> the Output block the page shows right after it ("" for none)."""
    import re

    fences = top_level_fences(page.read_text())
    shown = {}
    for fence, following in zip(fences, [*fences[1:], None]):
        cell = NOTEBOOK_CELL.match(fence.body.strip()) if fence.info == "python" else None
        if cell:
            is_output = following is not None and re.fullmatch(OUTPUT_INFO,
                                                               following.info)
            shown[cell["section"]] = following.body if is_output else ""
    return shown


def normalise(text: str) -> str:
    return mask_timings("\n".join(line.rstrip() for line in text.strip("\n").splitlines()))


def test_chapter_notebook_in_a_kernel_prints_what_its_page_shows(tmp_path):
    import nbclient

    script = notebooks.main_snippets()[SLUG]
    notebook = nbformat.reads(notebooks.to_notebook(script), as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    printed = ["".join(output.get("text", "") for output in cell.outputs
                       if output.get("name") == "stdout")
               for cell in notebook.cells if cell.cell_type == "code"][1:]  # after the path cell
    expected = page_outputs(PAGE)
    sections = notebooks.cell_sections(script)
    assert sorted(expected) == sorted(sections)
    differing = [name for name, text in zip(sections, printed, strict=True)
                 if normalise(text) != normalise(expected[name])]
    assert not differing, f"the notebook's cells {differing} print other than the page shows"
