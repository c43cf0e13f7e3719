"""Guards: the page harness must see every example, and every reference must resolve.

Sybil only runs fences whose info string is exactly ``python``; anything else is skipped
without a word. These tests make such silent gaps fail loudly.
"""

from __future__ import annotations

import re
import textwrap
from decimal import ROUND_HALF_UP, Decimal
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
    mask_timings,
    top_level_fences,
)

DOCS = REPO_ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "overrides" not in p.parts)
PAGE_IDS = [str(p.relative_to(DOCS)) for p in PAGES]
PYTHON_LIKE = re.compile(r"^\{?\s*\.?(py|python|python3|pycon|ipython|py3)\b", re.IGNORECASE)
FIGURE_LINK = re.compile(r"^[ \t]*!\[\]\((?:\.\./)*figures/(?P<name>[\w-]+)\.svg\)\s*$",
                         re.MULTILINE)


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
    """All python blocks of a page, in order, compile as one script (the harness runs them so).
    A block inside an admonition is indented with it: it is dedented, as the harness runs it."""
    blocks = [textwrap.dedent(expand_includes(f.body)) for f in top_level_fences(page.read_text())
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


@pytest.mark.parametrize("page", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_opens_with_a_concept_diagram(page: Path):
    """A picture first: a chapter's first figure is a registered concept diagram
    (``@diagram``), and it comes before the chapter's first code block."""
    text = page.read_text()
    first = FIGURE_LINK.search(text)
    assert first is not None, f"{page.name} shows no figure: open it with a concept diagram"
    spec = figures.registry()[first["name"]]
    assert spec.kind == "diagram", (
        f"{page.name}: its first figure, {spec.name!r}, is a {spec.kind}; open the chapter with "
        f"a concept diagram registered with @diagram in llm_evolution.figures")
    fences = top_level_fences(text)
    assert not fences or first.start() < fences[0].start, (
        f"{page.name}: the concept diagram {spec.name!r} comes after the first code block "
        f"(line {fences[0].line}); move it before any code")


# A decimal number of the prose ("0.659", "1,625.5"), not a percentage, a version or a word.
PROSE_DECIMAL = re.compile(r"(?<![\w.])\d[\d,]*\.\d+(?!\w|\.\d| ?%)")
# A percentage of the prose, whole or decimal ("42%", "83.9 %").
PROSE_PERCENT = re.compile(r"(?<![\w.,])(\d[\d,]*(?:\.\d+)?) ?%")
# A fraction as code prints it ("0.42", "1.000", not "-0.8"): it may be a percentage of the prose.
PRINTED_FRACTION = re.compile(r"(?<![\d.-])(?<!\d,)[01]\.\d+(?!\d|[.,]\d)")


def _whole(number: str) -> str:
    """A regex for ``number`` as a whole number: no digit, decimal point or thousands separator
    glued to either end, so "0.5" is not found in "10.53" nor "14" in "14,782"."""
    return rf"(?<![\d.])(?<!\d,){re.escape(number)}(?!\d|[.,]\d)"


def percent_is_printed(percent: str, printed: str) -> bool:
    """Whether a percentage of the prose ("42", from "42%") is in the output: as "42%" or
    "42 %", or as a fraction whose value rounds to it at the prose's precision ("0.42",
    "0.4213"; "0.4151" rounds to 42% too, as a reader converting it would)."""
    if re.search(_whole(percent) + " ?%", printed):
        return True
    want = Decimal(percent.replace(",", ""))
    places = Decimal(1).scaleb(-len(percent.partition(".")[2]))  # 1, 0.1, 0.01 ...
    return any(Decimal(f) <= 1
               and (Decimal(f) * 100).quantize(places, rounding=ROUND_HALF_UP) == want
               for f in PRINTED_FRACTION.findall(printed))


def unprinted_numbers(prose: str, printed: str) -> list[str]:
    """The decimal numbers and percentages of ``prose`` that ``printed`` does not show, each
    compared as a whole number (see :func:`_whole` and :func:`percent_is_printed`)."""
    prose = re.sub(r"(arXiv:|abs/)\d{4}\.\d{4,5}", "", prose)  # paper ids, not measurements
    # Numbered parts of a paper ("section 3.4", "sections 3.4 and 4.1") and model names
    # ("GPT-3.5") are not measurements either.
    prose = re.sub(r"\b(?:[Ss]ections?|[Ff]igures?|[Tt]ables?|[Ee]quations?) \d+(?:\.\d+)+"
                   r"(?:(?:,| and) \d+(?:\.\d+)+)*", "", prose)
    prose = re.sub(r"\bGPT-\d+(?:\.\d+)?", "", prose)
    missing = {n for n in PROSE_DECIMAL.findall(prose) if not re.search(_whole(n), printed)}
    missing |= {f"{n}%" for n in PROSE_PERCENT.findall(prose)
                if not percent_is_printed(n, printed)}
    return sorted(missing)


@pytest.mark.parametrize("page", CHAPTERS, ids=lambda p: p.name)
def test_numbers_in_prose_are_printed(page: Path):
    """A decimal number or a percentage in a chapter's prose must appear in one of its output
    blocks, as a whole number: "0.5" is not found in "10.53".

    Measurements live in chapters. A timings block counts with its times and speed-ups masked
    (they vary by machine, so prose may not quote them); its other numbers are checked by the
    page harness like any output. arXiv ids (``arXiv:1706.03762``) are not measurements.
    """
    text = page.read_text()
    printed = "\n".join(mask_timings(f.body) if TIMINGS_TITLE in f.info else f.body
                        for f in top_level_fences(text) if "Output" in f.info)
    unprinted = unprinted_numbers(_prose(text), printed)
    assert not unprinted, f"{page.name}: numbers in the prose that no code prints: {unprinted}"


@pytest.mark.parametrize("prose, printed", [
    ("the loss falls to 0.53 bits", "entropy 0.53 bits"),
    ("the loss falls to 0.53.", "entropy 0.53"),  # a full stop after the number
    ("1,625.5 positions", "read 1,625.5 positions"),
    ("it gets 42% right", "accuracy 42%"),
    ("it gets 42% right", "accuracy 42 %"),
    ("it gets 42% right", "accuracy 0.42"),
    ("it gets 42% right", "accuracy 0.4213"),  # rounds to 42%
    ("it gets 83.9% right", "accuracy 0.839"),
    ("all of them (100.0%)", "accuracy 1.000"),
    ("from 58.0% to 80.0%", "58.0% ... 80.0%"),
    ("(arXiv:1706.03762)", ""),
    ("3.2x faster", ""),  # a speed-up is a timing: only the masked block shows it
])
def test_prose_numbers_found_in_the_output(prose, printed):
    assert unprinted_numbers(prose, printed) == []


@pytest.mark.parametrize("prose, printed, missing", [
    ("a loss of 0.5", "loss 10.53", ["0.5"]),  # not inside a longer number
    ("a loss of 0.5", "loss 0.53", ["0.5"]),
    ("a loss of 0.5", "version 1.0.5", ["0.5"]),
    ("a loss of 10.5", "loss 110.5", ["10.5"]),
    ("14.7 tokens", "14.782 tokens", ["14.7"]),
    ("the loss falls to 0.53.", "", ["0.53"]),  # the full stop used to hide it
    ("it gets 42% right", "accuracy 142%", ["42%"]),
    ("it gets 42% right", "accuracy 0.042", ["42%"]),
    ("it gets 42% right", "accuracy 4.2%", ["42%"]),
    ("it gets 42% right", "a change of -0.42", ["42%"]),
    ("it gets 42% right", "accuracy 0.4251", ["42%"]),  # rounds to 43%
    ("it gets 4.2% right", "accuracy 42%", ["4.2%"]),
    ("the step takes 12.3 ms", mask_timings("step: 12.3 ms"), ["12.3"]),
    ("as in section 3.4 and Figure 2.1, for GPT-3.5: 0.77", "0.70", ["0.77"]),
    ("sections 3.4 and 4.1 agree", "", []),
])
def test_prose_numbers_missing_from_the_output(prose, printed, missing):
    assert unprinted_numbers(prose, printed) == missing


def test_milestones_are_cited_on_the_papers_page():
    papers = (DOCS / "reference" / "papers.md").read_text()
    missing = [m.label for m in MILESTONES
               if m.reference not in papers or str(m.when.year) not in papers]
    assert not missing, f"milestones of the timeline without a citation on papers.md: {missing}"


FOOTNOTE = re.compile(r"\[\^[^\]]+\]")


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_citations_are_inline_not_footnotes(page: Path):
    """One citation style on every page: in the sentence (who, where, when, arXiv id)."""
    found = [match.group(0) for match in FOOTNOTE.finditer(_prose(page.read_text()))]
    assert not found, (f"{page.name} cites with footnotes {found}: cite in the sentence instead, "
                       "e.g. 'Xiong et al. (ICML 2020, arXiv:2002.04745)' (docs/contributing.md)")
