"""Guards: the page harness must see every example, and every reference must resolve.

Sybil only runs fences whose info string is exactly ``python``; anything else is skipped
without a word. These tests make such silent gaps fail loudly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pymdownx.snippets import SnippetMissingError

from llm_evolution import figures
from llm_evolution.milestones import MILESTONES
from tests.docs_harness import (
    INCLUDE_LINE,
    OUTPUT_INFO,
    REPO_ROOT,
    TIMINGS_TITLE,
    expand_includes,
    make_sybil,
    top_level_fences,
)

DOCS = REPO_ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "overrides" not in p.parts)
PAGE_IDS = [str(p.relative_to(DOCS)) for p in PAGES]
PYTHON_LIKE = re.compile(r"^\{?\s*\.?(py|python|python3|pycon|ipython|py3)\b", re.IGNORECASE)
FIGURE_LINK = re.compile(r"^!\[\]\((?:\.\./)*figures/(?P<name>[\w-]+)\.svg\)\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The page without its fenced blocks, front matter and inline code."""
    for fence in reversed(top_level_fences(text)):  # last first: earlier offsets stay valid
        text = text[:fence.start] + text[fence.end:]
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_python_fences_are_plain_python(page: Path):
    """A python fence with a title or another tag would be skipped: tag it ```python only."""
    odd = [f"line {f.line}: ```{f.info}" for f in top_level_fences(page.read_text())
           if PYTHON_LIKE.match(f.info) and f.info != "python"]
    assert not odd, f"{page.name}: use a plain ```python fence so the tests run it: {odd}"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_python_fence_is_collected(page: Path):
    text = page.read_text()
    fences = top_level_fences(text)
    python = [f for f in fences if f.info == "python"]
    outputs = [f for f in fences if re.fullmatch(OUTPUT_INFO, " " + f.info)]
    sybil = make_sybil(path=str(DOCS))
    assert sybil.should_parse(page), f"{page} is not collected by the Sybil in conftest.py"
    document = sybil.parse(page)
    starts = {example.region.start for example in document.examples()}
    missed = [f.line for f in python + outputs if f.start not in starts]
    assert not missed, f"{page.name}: blocks at lines {missed} are not run by the tests"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_output_blocks_are_spelled_exactly(page: Path):
    """An output block must use the exact info string the harness checks."""
    for fence in top_level_fences(page.read_text()):
        if "Output" in fence.info:
            assert re.fullmatch(OUTPUT_INFO, " " + fence.info), (
                f'{page.name} line {fence.line}: write ``` {{ .text .no-copy title="Output" }}, or title="Output (times vary by machine)"')


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_no_doctest_blocks_on_pages(page: Path):
    """Material's copy button copies the >>> prompts too; pages use output blocks instead."""
    prompts = [f.line for f in top_level_fences(page.read_text())
               if f.info == "python" and f.body.lstrip().startswith(">>>")]
    assert not prompts, f"{page.name}: blocks at lines {prompts} are doctests; use an Output block"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_includes_resolve(page: Path):
    for fence in top_level_fences(page.read_text()):
        for line in fence.body.splitlines():
            if INCLUDE_LINE.match(line) and fence.info == "python":
                try:
                    expanded = expand_includes(line)
                except SnippetMissingError as error:
                    pytest.fail(f"{page.name} line {fence.line}: {error}")
                assert expanded.strip() and not INCLUDE_LINE.match(expanded), (
                    f"{page.name} line {fence.line}: {line.strip()} included nothing")


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_copied_blocks_make_one_script(page: Path):
    """All python blocks of a page, in order, compile as one script (the harness runs them so)."""
    blocks = [expand_includes(f.body) for f in top_level_fences(page.read_text())
              if f.info == "python"]
    compile("\n\n".join(blocks), str(page), "exec")


def test_every_snippet_is_used_by_a_page():
    text = "\n".join(page.read_text() for page in PAGES)
    unused = [str(p.relative_to(REPO_ROOT)) for p in sorted((REPO_ROOT / "snippets").rglob("*.py"))
              if f'"{p.relative_to(REPO_ROOT).as_posix()}' not in text]
    assert not unused, f"snippets no page includes (include them or delete them): {unused}"


def test_every_figure_is_registered_and_used():
    used = {m["name"] for page in PAGES for m in FIGURE_LINK.finditer(page.read_text())}
    registered = set(figures.registry())
    assert used <= registered, f"pages show unregistered figures: {sorted(used - registered)}"
    assert registered <= used, f"figures no page shows: {sorted(registered - used)}"


CHAPTERS = sorted((DOCS / "chapters").glob("*.md"))


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.name)
def test_numbers_in_prose_are_printed(page: Path):
    """A decimal number in a chapter's prose must appear in one of its output blocks.

    Measurements live in chapters; timings (which vary by machine) may not be quoted; arXiv ids (``arXiv:1706.03762``) are not measurements.
    """
    text = page.read_text()
    # Timings differ on every machine, so prose may not quote them.
    printed = "\n".join(f.body for f in top_level_fences(text)
                        if "Output" in f.info and TIMINGS_TITLE not in f.info)
    prose = re.sub(r"(arXiv:|abs/)\d{4}\.\d{4,5}", "", _prose(text))
    numbers = re.findall(r"(?<![\w.])\d[\d,]*\.\d+(?![\w.])", prose)
    unprinted = sorted({n for n in numbers if n not in printed})
    assert not unprinted, f"{page.name}: numbers in the prose that no code prints: {unprinted}"


def test_milestones_are_cited_on_the_papers_page():
    papers = (DOCS / "reference" / "papers.md").read_text()
    missing = [m.label for m in MILESTONES
               if m.reference not in papers or str(m.when.year) not in papers]
    assert not missing, f"milestones of the timeline without a citation on papers.md: {missing}"
