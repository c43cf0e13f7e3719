"""The MkDocs hook that puts generated figures into pages (docs/hooks/generated_files.py)."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
from mkdocs.exceptions import PluginError

from llm_evolution import figures
from tests.docs_harness import REPO_ROOT


@pytest.fixture(scope="module")
def hook():
    spec = importlib.util.spec_from_file_location(
        "generated_files", REPO_ROOT / "docs" / "hooks" / "generated_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(hook, markdown: str) -> str:
    page = SimpleNamespace(file=SimpleNamespace(src_uri="chapters/test.md"))
    return hook.on_page_markdown(markdown, page=page, config={}, files=None)


def test_figure_line_becomes_light_and_dark_images_with_alt(hook):
    html = render(hook, "Text.\n\n![](../figures/timeline.svg)\n\nMore.")
    alt = figures.registry()["timeline"].alt
    assert f"![{alt}](../figures/timeline.svg#only-light)" in html
    assert f"![{alt}](../figures/timeline-dark.svg#only-dark)" in html
    assert html.startswith("Text.") and html.endswith("More.")


def test_unknown_figure_fails_the_build(hook):
    with pytest.raises(PluginError, match="no figure named 'nope'"):
        render(hook, "![](../figures/nope.svg)")


def test_figure_syntax_inside_prose_or_code_is_left_alone(hook):
    text = "Write `![](../figures/NAME.svg)` on a line of its own."
    assert render(hook, text) == text


def test_figure_inside_a_content_tab_keeps_its_indent(hook):
    """The steps of a process are figures inside content tabs: indented by the tab's four
    spaces, which the replacement keeps, so the image stays inside its tab."""
    html = render(hook, '=== "Step 1"\n\n    ![](../figures/timeline.svg)\n')
    lines = html.splitlines()
    assert lines[2].startswith("    ![") and "timeline.svg#only-light" in lines[2]
    assert "timeline-dark.svg#only-dark" in lines[2]
