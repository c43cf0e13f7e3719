"""Run the code of every page the way a reader would, and check what it prints.

* Every ```` ```python ```` block of a page runs, in order, in one namespace per page that
  starts empty: exactly what a reader gets by pasting the page's blocks into one script.
* A block that includes code with ``--8<--`` runs the included code. The include is expanded
  by pymdownx's own ``SnippetPreprocessor``, configured from ``mkdocs.yml``, so the tests run
  exactly the code the built page shows.
* An output block, a fence written ```` ``` { .text .no-copy title="Output" } ````, must match
  what the python block just before it printed. A block that prints without an output block
  after it fails too: the reader would never see that output.
* Times are not the same on two machines. An output block titled
  ``"Output (times vary by machine)"`` is compared with its measured numbers masked: a number
  right before a time unit or a speed-up sign ("12.3 ms", "4.1 s", "850 µs", "3.2x", "1.6×")
  is whatever this machine measured; the text around them and every other number (lengths,
  counts, accuracies) must match. Prose must not quote the masked numbers
  (``tests/test_docs_guards.py``), and claims about them are checked by unit tests with margins.
* Trained models print the same numbers on every machine that runs the reference numeric path
  (:mod:`llm_evolution.numerics`). Where it cannot run (an ARM laptop, say), an output block
  that follows a trained model's use on its page is compared with a tolerance: the same text,
  every number within :data:`PLATFORM_TOLERANCE` (relative); past that it is reported as an
  expected failure, "differs on this platform", and the summary counts them. Everything else
  is compared exactly, everywhere.
* Doctest blocks (``>>>``) are checked by doctest. Pages avoid them (Material's copy button
  copies the prompts, see ``tests/test_docs_guards.py``), but the harness supports them.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import textwrap
from contextlib import redirect_stdout
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import markdown
from sybil import Document, Example, Sybil
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import PythonCodeBlockParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer
from sybil.region import Lexeme

REPO_ROOT = Path(__file__).resolve().parents[1]
INCLUDE_LINE = re.compile(r"^\s*-{1,}8<-{1,}\s")
# A block that is one section of a chapter's main example, i.e. one cell of its notebook.
NOTEBOOK_CELL = re.compile(
    r'^\s*-{1,}8<-{1,}\s+"snippets/(?P<slug>[\w-]+)/main\.py:(?P<section>[\w-]+)"\s*$')
TIMINGS_TITLE = "Output (times vary by machine)"
OUTPUT_INFO = r' ?\{ \.text \.no-copy title="Output(?: \(times vary by machine\))?" \}'
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?")
# A measured time or speed-up: a whole number right before a time unit (ms, s, µs) or right
# before a speed-up sign (x, ×). Only these differ between machines.
TIMING = re.compile(rf"(?<![\d.,]){NUMBER.pattern}(?:(?=\s*(?:ms|s|[µμ]s)\b)|(?=[x×](?!\w)))")
PLATFORM_TOLERANCE = 0.02  # relative, for trained models' outputs off the reference path
DIFFERS = "differs on this platform"


@lru_cache(maxsize=1)
def snippet_options() -> dict:
    """The ``pymdownx.snippets`` options exactly as mkdocs.yml sets them, read with MkDocs' own
    YAML loader (its ``!relative`` and ``!ENV`` tags included) but without loading the whole
    config, which would import every plugin and the build hook (seconds per test process)."""
    from types import SimpleNamespace

    from mkdocs.utils.yaml import get_yaml_loader, yaml_load

    config_file = REPO_ROOT / "mkdocs.yml"
    placeholder_config = SimpleNamespace(config_file_path=str(config_file),
                                         docs_dir=str(REPO_ROOT / "docs"))
    with config_file.open() as source:
        config = yaml_load(source, loader=get_yaml_loader(config=placeholder_config))
    options = {}
    for extension in config.get("markdown_extensions", []):
        if isinstance(extension, dict) and "pymdownx.snippets" in extension:
            options = dict(extension["pymdownx.snippets"] or {})
    base = options.get("base_path") or REPO_ROOT
    bases = [base] if isinstance(base, (str, os.PathLike)) else base
    options["base_path"] = [os.fspath(b) for b in bases]  # resolves `!relative $config_dir`
    return options


def expand_includes(source: str) -> str:
    """Replace ``--8<--`` lines by the code they include, with pymdownx's own preprocessor."""
    md = markdown.Markdown(extensions=["pymdownx.snippets"],
                           extension_configs={"pymdownx.snippets": snippet_options()})
    return "\n".join(md.preprocessors["snippet"].run(source.split("\n")))


FENCE_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Fence:
    """A fenced block of a Markdown page: where it starts, its info string and its body."""

    start: int
    end: int
    line: int
    info: str
    body: str


def top_level_fences(text: str) -> list[Fence]:
    """The fenced blocks of ``text`` as Markdown renders them: a fence inside another
    (a page showing Markdown source, say) is content, not a block of its own."""
    fences, opening = [], None
    for match in FENCE_LINE.finditer(text):
        if opening is None:
            opening = match
        elif (match["fence"][0] == opening["fence"][0]
              and len(match["fence"]) >= len(opening["fence"]) and not match["info"].strip()):
            body = text[opening.end() + 1 : match.start()]
            fences.append(Fence(opening.start(), match.end(),
                                text.count("\n", 0, opening.start()) + 1,
                                opening["info"].strip(), body))
            opening = None
    return fences


def _top_level_only(regions, document: Document):
    """Drop regions that Sybil found inside another fence (it lexes nested fences too)."""
    fences = top_level_fences(document.text)
    for region in regions:
        outer = next((f for f in fences if f.start <= region.start < f.end), None)
        # A region starts at a top-level fence, or is a doctest example inside a python fence.
        if outer and (region.start == outer.start or outer.info == "python"):
            yield region


@dataclass
class Printed:
    """What the last python block of a page printed, until an output block consumes it."""

    text: str
    line: int


PENDING: dict[int, Printed] = {}  # keyed by id() of the page's namespace
# How many models the zoo had handed out when each page's first block ran (by namespace id):
# a page's output depends on a trained model once the count has grown.
ZOO_AT_PAGE_START: dict[int, int] = {}
CLOSE: list[str] = []  # trained outputs that matched within the tolerance, off the path
# What each notebook cell printed on its page: page path -> chapter slug -> section -> text.
# conftest.py writes a page's notebook from it when every example of the page passed.
NOTEBOOK_OUTPUTS: dict[str, dict[str, dict[str, str]]] = {}


def _unshown(printed: Printed, path: str) -> str:
    return (f"{path}, block at line {printed.line} printed output that the page does not "
            f"show; add an Output block after it:\n{printed.text}")


class PageCodeParser(PythonCodeBlockParser):
    """Python blocks with includes expanded and their printed output captured."""

    def __init__(self) -> None:
        super().__init__()
        self.python = PythonEvaluator()

    def __call__(self, document: Document):
        for region in _top_level_only(super().__call__(document), document):
            if region.evaluator is self.codeblock_parser._evaluator:  # a code block, not doctest
                source = region.parsed
                cell = NOTEBOOK_CELL.match(str(source).strip())
                region.notebook_cell = (cell["slug"], cell["section"]) if cell else None
                if any(INCLUDE_LINE.match(line) for line in source.splitlines()):
                    region.parsed = Lexeme(expand_includes(str(source)), offset=source.offset,
                                           line_offset=source.line_offset)
                region.evaluator = self.evaluate_capturing
            yield region

    def evaluate_capturing(self, example: Example) -> str | None:
        key = id(example.namespace)
        ZOO_AT_PAGE_START.setdefault(key, _zoo_loads())
        earlier = PENDING.pop(key, None)
        if earlier is not None and earlier.text.strip():
            return _unshown(earlier, example.path)
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            self.python(example)
        PENDING[key] = Printed(buffer.getvalue(), example.line)
        cell = getattr(example.region, "notebook_cell", None)
        if cell is not None:
            slug, section = cell
            page = NOTEBOOK_OUTPUTS.setdefault(str(Path(example.path).resolve()), {})
            page.setdefault(slug, {})[section] = buffer.getvalue()
        return None


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


class OutputParser:
    """Output blocks: compared with what the python block before them printed."""

    def __init__(self) -> None:
        self.lexer = FencedCodeBlockLexer(language=OUTPUT_INFO,
                                          mapping={"source": "expected"})

    def __call__(self, document: Document):
        for region in _top_level_only(self.lexer(document), document):
            region.evaluator = self.evaluate
            yield region

    def evaluate(self, example: Example) -> str | None:
        printed = PENDING.pop(id(example.namespace), None)
        expected = _normalise(str(example.region.lexemes["expected"]))
        if printed is None:
            return f"Output block at line {example.line} does not follow a python block"
        actual = _normalise(printed.text)
        if _is_timings(example):
            expected, actual = mask_timings(expected), mask_timings(actual)
        if actual == expected:
            return None
        diff = "\n".join(difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                              "page says", "code printed", lineterm=""))
        message = f"Output block at line {example.line} differs from what the code printed:\n{diff}"
        key = id(example.namespace)
        if _off_reference_path() and _zoo_loads() > ZOO_AT_PAGE_START.get(key, _zoo_loads()):
            if numbers_close(expected, actual, PLATFORM_TOLERANCE):
                CLOSE.append(f"{example.path}:{example.line}")
                return None
            import pytest

            pytest.xfail(f"{DIFFERS} (a trained model's output, off the reference numeric "
                         f"path): {message}")
        return message


def mask_timings(text: str) -> str:
    """``text`` with every measured time and speed-up (:data:`TIMING`) replaced by ``#`` and
    runs of spaces collapsed, since a number padded to a column width takes more or fewer
    spaces when it has more or fewer digits: what a timings block must match on any machine."""
    return "\n".join(re.sub(r" +", " ", line).strip()
                     for line in TIMING.sub("#", text).splitlines())


def _zoo_loads() -> int:
    from llm_evolution import zoo

    return zoo.LOADS


def _off_reference_path() -> bool:
    from llm_evolution import numerics

    return numerics.unsupported_reason() is not None


def numbers_close(expected: str, actual: str, tolerance: float) -> bool:
    """Whether two outputs are the same text with every number within ``tolerance``
    (relative, or absolute for numbers below 1)."""
    if NUMBER.sub("#", expected) != NUMBER.sub("#", actual):
        return False
    for want, got in zip(NUMBER.findall(expected), NUMBER.findall(actual)):
        want_value, got_value = (float(n.replace(",", "")) for n in (want, got))
        if abs(want_value - got_value) > tolerance * max(1.0, abs(want_value)):
            return False
    return True


def platform_summary(xfailed_reports) -> str:
    """The test summary's line about outputs that depend on this machine's numeric path."""
    differing = sum(DIFFERS in str(getattr(report, "wasxfail", "")) for report in xfailed_reports)
    if not (differing or CLOSE):
        return ""
    from llm_evolution import numerics

    return (f"{differing} output blocks of trained models differ on this platform and "
            f"{len(CLOSE)} match within {PLATFORM_TOLERANCE:.0%}: this machine is off the "
            f"reference numeric path ({numerics.unsupported_reason()}); see Contributing")


def _is_timings(example: Example) -> bool:
    """Whether the output block's opening line has the machine-dependent timings title."""
    opening = example.document.text[example.region.start:example.region.end].split("\n", 1)[0]
    return TIMINGS_TITLE in opening


def check_nothing_unshown(namespace: dict) -> None:
    """Sybil teardown: the last block of a page must not print unshown output either."""
    printed = PENDING.pop(id(namespace), None)
    if printed is not None and printed.text.strip():
        raise AssertionError(_unshown(printed, "page"))


INCLUDE_TARGET = re.compile(r'^\s*-{1,}8<-{1,}\s+"(?P<file>[^":]+)(?::[\w-]+)?"', re.MULTILINE)


def page_key(page: Path) -> str:
    """Key of everything a page's run depends on: its text, the files it includes, the import
    closure of the ``llm_evolution`` modules its code uses (which, through the model cache,
    covers every recipe), the notebook writer (a page run records its chapter's notebook), this
    harness, the library versions and the numeric path. A page
    whose key has a passing run on record need not run again (see conftest.py)."""
    import ast

    from llm_evolution import cache

    text = page.read_text()
    included = sorted({(REPO_ROOT / match["file"]).resolve()
                       for match in INCLUDE_TARGET.finditer(text)})
    # Dedented: a block inside an admonition is indented with it.
    code = "\n".join(textwrap.dedent(expand_includes(fence.body))
                     for fence in top_level_fences(text) if fence.info == "python")
    modules = set()
    for node in ast.walk(ast.parse(code)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        modules.update(name for name in names if name.split(".")[0] == cache.PACKAGE
                       and cache._resolve(name, (cache.PACKAGE,)) is not None)
    python_files = [path for path in included if path.suffix == ".py"]
    return cache.build_key(
        *sorted(modules), "llm_evolution.notebooks", *python_files, Path(__file__),
        REPO_ROOT / "conftest.py",
        distributions=("torch", "transformers", "tokenizers", "sybil", "pymdown-extensions"),
        extra=(page.relative_to(REPO_ROOT).as_posix(), text,
               *(path.read_text() for path in included if path.suffix != ".py")))


def make_sybil(patterns=("*.md", "**/*.md"), path: str = ".") -> Sybil:
    return Sybil(parsers=[PageCodeParser(), OutputParser()], patterns=list(patterns),
                 path=path, teardown=check_nothing_unshown)


def update_outputs(page: Path) -> int:
    """Rewrite every Output block of ``page`` with what its code prints now; return the count.

    For contributors after a change that moves numbers: ``python -m tests.docs_harness PAGE``.
    Read the diff before committing: prose that quotes a number must still agree.
    """
    page = page.resolve()
    document = make_sybil(path=str(page.parent)).parse(page)
    replacements = []
    for example in document.examples():
        evaluator = example.region.evaluator
        if getattr(evaluator, "__self__", None).__class__ is OutputParser:
            printed = PENDING.pop(id(example.namespace), Printed("", example.line))
            replacements.append((example.region.start, example.region.end, printed.text))
        else:
            example.evaluate()
    text = document.text
    for start, end, printed in reversed(replacements):
        opening = text[start:end].split("\n", 1)[0]
        # A block inside an admonition keeps the admonition's indent on every line.
        indent = opening[: len(opening) - len(opening.lstrip())]
        body = "\n".join(indent + line if line else line
                         for line in printed.rstrip().split("\n"))
        text = f'{text[:start]}{opening}\n{body}\n{indent}```{text[end:]}'
    page.write_text(text)
    return len(replacements)


if __name__ == "__main__":
    import sys

    from llm_evolution import numerics

    print(f"numeric path: {numerics.use_reference_path()}")  # as in a test session

    for argument in sys.argv[1:]:
        print(f"{argument}: {update_outputs(Path(argument))} output blocks updated")
