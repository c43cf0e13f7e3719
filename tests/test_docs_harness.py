"""The page harness itself: it must pass good pages and fail bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from sybil.example import SybilFailure

from tests.docs_harness import check_nothing_unshown, make_sybil, update_outputs

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


def test_plain_output_does_not_mask_numbers(tmp_path):
    with pytest.raises(SybilFailure, match="differs"):
        run_page(tmp_path, f"{FENCE}python\nprint('step: 12.5 ms')\n{FENCE}\n\n"
                           f"{OUTPUT}\nstep: 9.75 ms\n{FENCE}\n")
