"""The page harness itself: it must pass good pages and fail bad ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sybil.example import SybilFailure

from tests.docs_harness import check_nothing_unshown, make_sybil, mask_timings, update_outputs

FENCE = "```"
OUTPUT = '``` { .text .no-copy title="Output" }'


def run_page(tmp_path: Path, text: str) -> dict:
    page = tmp_path / "page.md"
    page.write_text(text)
    document = make_sybil(path=str(tmp_path)).parse(page)
    for example in document.examples():
        example.evaluate()
    check_nothing_unshown(document.namespace)
    return document.namespace


def test_blocks_share_one_namespace_and_output_is_checked(tmp_path):
    namespace = run_page(tmp_path, f"{FENCE}python\nx = 6 * 7\n{FENCE}\n\n"
                                   f"{FENCE}python\nprint(x)\n{FENCE}\n\n{OUTPUT}\n42\n{FENCE}\n")
    assert namespace["x"] == 42


def test_wrong_output_fails(tmp_path):
    with pytest.raises(SybilFailure, match="differs from what the code printed"):
        run_page(tmp_path, f"{FENCE}python\nprint(41)\n{FENCE}\n\n{OUTPUT}\n42\n{FENCE}\n")


def test_output_nobody_shows_fails(tmp_path):
    with pytest.raises(SybilFailure, match="does not show"):
        run_page(tmp_path, f"{FENCE}python\nprint(1)\n{FENCE}\n\n{FENCE}python\nprint(2)\n{FENCE}\n")


def test_output_of_last_block_must_be_shown(tmp_path):
    with pytest.raises(AssertionError, match="does not show"):
        run_page(tmp_path, f"{FENCE}python\nprint(1)\n{FENCE}\n")


def test_failing_block_fails(tmp_path):
    with pytest.raises(ZeroDivisionError):
        run_page(tmp_path, f"{FENCE}python\n1 / 0\n{FENCE}\n")


def test_include_runs_the_included_library_code(tmp_path):
    namespace = run_page(tmp_path, f'{FENCE}python\nfrom collections.abc import Iterable, Sequence\n'
                         f'--8<-- "src/llm_evolution/tokenizers.py:char_tokenizer"\n{FENCE}\n')
    tokenizer = namespace["CharTokenizer"].from_text("hello")
    assert tokenizer.decode(tokenizer.encode("hole")) == "hole"


def test_a_notebook_cell_block_records_what_it_printed(tmp_path):
    """A block that is one section of a chapter's main.py records its print for the notebook
    (before its Output block is compared); a block of other code records nothing."""
    from tests.docs_harness import NOTEBOOK_OUTPUTS

    script = "snippets/01-language-models/main.py"
    with pytest.raises(SybilFailure, match="differs"):
        run_page(tmp_path, f'{FENCE}python\nprint("not a cell")\n{FENCE}\n\n{OUTPUT}\n'
                           f'not a cell\n{FENCE}\n\n{FENCE}python\n--8<-- "{script}:corpus"\n'
                           f'{FENCE}\n\n{OUTPUT}\nnot what it prints\n{FENCE}\n')
    recorded = NOTEBOOK_OUTPUTS.pop(str((tmp_path / "page.md").resolve()))
    assert list(recorded) == ["01-language-models"]
    assert list(recorded["01-language-models"]) == ["corpus"]
    assert recorded["01-language-models"]["corpus"].startswith("training text: ")


def test_missing_include_fails(tmp_path):
    with pytest.raises(Exception, match="no_such_file|not found|Snippet"):
        run_page(tmp_path, f'{FENCE}python\n--8<-- "src/no_such_file.py"\n{FENCE}\n')


def test_doctest_blocks_are_checked(tmp_path):
    run_page(tmp_path, f"{FENCE}python\n>>> 2 + 2\n4\n{FENCE}\n")
    with pytest.raises(SybilFailure):
        run_page(tmp_path, f"{FENCE}python\n>>> 2 + 2\n5\n{FENCE}\n")


def test_fences_shown_inside_a_markdown_fence_are_not_run(tmp_path):
    run_page(tmp_path, f"````markdown\n{FENCE}python\n1 / 0\n{FENCE}\n````\n")


def test_update_outputs_rewrites_output_blocks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"{FENCE}python\nprint('new')\n{FENCE}\n\n{OUTPUT}\nold\n{FENCE}\n")
    assert update_outputs(page) == 1
    assert f"{OUTPUT}\nnew\n{FENCE}" in page.read_text()
    run_page(tmp_path, page.read_text())


def test_update_outputs_keeps_the_indent_of_a_block_in_an_admonition(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"??? note\n\n    {FENCE}python\n    print('a')\n    print('b')\n    {FENCE}\n\n"
                    f"    {OUTPUT}\n    old\n    {FENCE}\n")
    assert update_outputs(page) == 1
    assert f"    {OUTPUT}\n    a\n    b\n    {FENCE}\n" in page.read_text()
    run_page(tmp_path, page.read_text())


TIMINGS = '``` { .text .no-copy title="Output (times vary by machine)" }'


def test_timings_output_masks_numbers_but_checks_the_words(tmp_path):
    run_page(tmp_path, f"{FENCE}python\nprint('step: 12.5 ms, 3x faster')\n{FENCE}\n\n"
                       f"{TIMINGS}\nstep: 9.75 ms, 41x faster\n{FENCE}\n")
    # A number padded to a fixed width: fewer digits, more spaces.
    run_page(tmp_path, f"{FENCE}python\nprint(f'{{105:>5}} ms')\n{FENCE}\n\n"
                       f"{TIMINGS}\n   91 ms\n{FENCE}\n")
    with pytest.raises(SybilFailure, match="differs"):
        run_page(tmp_path, f"{FENCE}python\nprint('step: 12.5 ms')\n{FENCE}\n\n"
                           f"{TIMINGS}\nstep: 9.75 s\n{FENCE}\n")


def test_timings_output_checks_numbers_that_are_not_times(tmp_path):
    """Only a number before a time unit or a speed-up sign is masked: a length, a count or an
    accuracy in a timings block must match like any output."""
    for printed, shown in [("length 8: 12.5 ms", "length 16: 12.5 ms"),
                           ("256 sequences: 0.4 s", "128 sequences: 0.4 s"),
                           ("90% accuracy after 3.1 s", "80% accuracy after 3.1 s"),
                           ("8,000 tokens in 0.52 s", "1,024 tokens in 0.52 s")]:
        with pytest.raises(SybilFailure, match="differs"):
            run_page(tmp_path, f"{FENCE}python\nprint({printed!r})\n{FENCE}\n\n"
                               f"{TIMINGS}\n{shown}\n{FENCE}\n")


def test_timings_output_masks_every_time_unit_and_speed_up_sign(tmp_path):
    printed = "8: 33.5 ms, 4191 µs, 12.0 s, 2s (1.3x faster, 10.1× less), 120 ms"
    shown = "8: 3.5 ms, 91 µs, 1.25 s, 30s (10.3x faster, 2.0× less), 1,120 ms"
    run_page(tmp_path, f"{FENCE}python\nprint({printed!r})\n{FENCE}\n\n"
                       f"{TIMINGS}\n{shown}\n{FENCE}\n")


@pytest.mark.parametrize("text, masked", [
    ("length   8: 33.5 ms per step", "length 8: # ms per step"),
    ("257     0.14 s     0.32 s          0.4x", "257 # s # s #x"),
    ("64 new tokens: 0.45 s (3.2x faster)", "64 new tokens: # s (#x faster)"),
    ("12 steps, 5 sx, 3 x 4", "12 steps, 5 sx, 3 x 4"),  # no unit, nothing masked
])
def test_mask_timings(text, masked):
    assert mask_timings(text) == masked


def test_plain_output_does_not_mask_numbers(tmp_path):
    with pytest.raises(SybilFailure, match="differs"):
        run_page(tmp_path, f"{FENCE}python\nprint('step: 12.5 ms')\n{FENCE}\n\n"
                           f"{OUTPUT}\nstep: 9.75 ms\n{FENCE}\n")


# ------------------------------------------------------------------ incremental: what reruns


@pytest.fixture
def edited(monkeypatch):
    """Pretend a file's bytes changed (as an edit would), without touching the file: every
    key reads sources through llm_evolution.cache._read_source."""
    from llm_evolution import cache

    real = cache._read_source
    changed: set[Path] = set()
    monkeypatch.setattr(cache, "_read_source", lambda path: real(path) + (
        b"\n# an edit\n" if path.resolve() in changed else b""))
    return changed


def test_editing_a_chapter_snippet_reruns_that_chapter_only(edited):
    from llm_evolution import notebooks, zoo
    from tests.docs_harness import REPO_ROOT, page_key

    pages = sorted((REPO_ROOT / "docs").rglob("*.md"))
    scripts = notebooks.main_snippets()
    zoo._load_recipes()
    before = ({page: page_key(page) for page in pages},
              {slug: notebooks.notebook_key(script) for slug, script in scripts.items()},
              {name: recipe.key() for name, recipe in zoo.RECIPES.items()})
    edited.add(scripts["06-gpt"].resolve())
    after = ({page: page_key(page) for page in pages},
             {slug: notebooks.notebook_key(script) for slug, script in scripts.items()},
             {name: recipe.key() for name, recipe in zoo.RECIPES.items()})
    assert [p.name for p in pages if before[0][p] != after[0][p]] == ["06-gpt.md"]
    assert [slug for slug in scripts if before[1][slug] != after[1][slug]] == ["06-gpt"]
    assert before[2] == after[2], "a snippet edit must retrain nothing"


def test_snippet_options_are_the_ones_mkdocs_builds_with():
    """The harness reads mkdocs.yml's snippets options without loading the whole config; they
    must be what MkDocs itself resolves (paths included) for the site build."""
    from mkdocs.config import load_config

    from tests.docs_harness import REPO_ROOT, snippet_options

    built = dict(load_config(str(REPO_ROOT / "mkdocs.yml")).mdx_configs["pymdownx.snippets"])
    base = built.pop("base_path")
    bases = [base] if isinstance(base, (str, os.PathLike)) else base
    ours = dict(snippet_options())
    assert ours.pop("base_path") == [os.fspath(b) for b in bases]
    assert ours == built
