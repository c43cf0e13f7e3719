"""Tests for llm_evolution.figures: deterministic SVG, themes, alt text, the figure cache.

Only the timeline (drawn from the milestone list) is rendered for real here: the chapter
figures need the corpus and trained models. The cache tests use a tiny fake registry.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pytest

from llm_evolution import figures
from llm_evolution.milestones import MILESTONES


@pytest.fixture(scope="module")
def timeline_svgs():
    return {theme: figures.render_svg("timeline", theme) for theme in figures.THEMES}


def test_themes_are_light_and_dark():
    assert set(figures.THEMES) == {"light", "dark"}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_render_svg_is_deterministic(timeline_svgs, theme):
    again = figures.render_svg("timeline", theme)
    assert again == timeline_svgs[theme]


def test_render_svg_is_svg_without_a_date(timeline_svgs):
    for svg in timeline_svgs.values():
        text = svg.decode()
        assert text.lstrip().startswith("<?xml")
        assert "<svg" in text and text.rstrip().endswith("</svg>")
        assert "<dc:date>" not in text  # a date would change the bytes on every build


def test_light_and_dark_differ_in_text_colour(timeline_svgs):
    light, dark = timeline_svgs["light"].decode(), timeline_svgs["dark"].decode()
    assert light != dark
    # The palettes of the two themes are what is drawn: each SVG uses its own colours.
    assert figures.LIGHT_COLORS[0].lower() in light.lower()
    assert figures.DARK_COLORS[0].lower() in dark.lower()
    assert figures.DARK_COLORS[0].lower() not in light.lower()


def test_background_is_transparent(timeline_svgs):
    # The figure's and the axes' background patches are unfilled: the page colour shows through.
    for svg in timeline_svgs.values():
        for patch in ["patch_1", "patch_2"]:
            match = re.search(rf'<g id="{patch}">\s*<path d="[^"]*" style="([^"]*)"', svg.decode())
            assert match is not None, patch
            assert "fill: none" in match.group(1), patch


def test_timeline_draws_every_milestone():
    fig = figures.registry()["timeline"].draw()
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
    finally:
        plt.close(fig)
    for milestone in MILESTONES:
        assert f"{milestone.label}\n{milestone.when:%b %Y}" in texts


def test_every_registered_figure_has_alt_text():
    specs = figures.registry()
    assert {"timeline", "bigram-probabilities", "neural-bigram-loss"} <= set(specs)
    for name, spec in specs.items():
        assert spec.name == name
        assert spec.alt.strip() == spec.alt and len(spec.alt) > 20, name


def test_timeline_alt_names_every_milestone():
    alt = figures.registry()["timeline"].alt
    for milestone in MILESTONES:
        assert milestone.label.lower() in alt.lower()


def test_figure_without_alt_is_refused():
    with pytest.raises(ValueError, match="'nameless' needs alt text"):
        figures.figure("nameless", alt="   ")


def test_figure_name_registered_twice_is_refused(monkeypatch):
    monkeypatch.setattr(figures, "REGISTRY", {})

    @figures.figure("twice", alt="first drawing")
    def first():
        raise NotImplementedError

    with pytest.raises(ValueError, match="'twice' is registered twice"):
        @figures.figure("twice", alt="second drawing")
        def second():
            raise NotImplementedError


def test_unknown_figure_raises():
    with pytest.raises(ValueError, match="unknown figure 'nope'.*timeline"):
        figures.render_svg("nope")


def test_unknown_theme_raises():
    with pytest.raises(ValueError, match=r"theme='sepia'.*\['dark', 'light'\]"):
        figures.render_svg("timeline", "sepia")


def test_output_names():
    assert figures.output_name("timeline", "light") == "timeline.svg"
    assert figures.output_name("timeline", "dark") == "timeline-dark.svg"


# ---------------------------------------------------------------------------- build_all


def _draw_square():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig


def _draw_bars():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.bar([0, 1, 2], [3, 1, 2])
    return fig


@pytest.fixture
def fake_figures(monkeypatch, tmp_path):
    """Two tiny figures in place of the real registry, a temporary cache and a call counter."""
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(figures, "FIGURE_MODULES", [])
    monkeypatch.setattr(figures, "REGISTRY", {
        "square": figures.FigureSpec("square", "A diagonal line.", _draw_square),
        "bars": figures.FigureSpec("bars", "Three bars.", _draw_bars),
    })
    # Other engineers edit src/ while tests run: pin the code's key so it is stable.
    monkeypatch.setattr(figures.cache, "build_key", lambda *roots, **options: "code-v1")
    calls = []
    real_render = figures.render_svg

    def counting_render(name, theme="light"):
        calls.append((name, theme))
        return real_render(name, theme)

    monkeypatch.setattr(figures, "render_svg", counting_render)
    return tmp_path, calls


def test_build_all_writes_both_themes_of_every_figure(fake_figures):
    tmp_path, calls = fake_figures
    out = tmp_path / "site"
    rendered = figures.build_all(out)
    names = {"square.svg", "square-dark.svg", "bars.svg", "bars-dark.svg"}
    assert set(rendered) == names
    assert sorted(calls) == sorted((n, t) for n in ["square", "bars"] for t in ["light", "dark"])
    for file_name, path in rendered.items():
        assert path.is_relative_to(tmp_path / "cache" / "figures")
        assert (out / file_name).read_bytes() == path.read_bytes()
        assert path.read_bytes().lstrip().startswith(b"<?xml")
    assert rendered["square.svg"].read_bytes() != rendered["square-dark.svg"].read_bytes()
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_build_all_reuses_cached_files(fake_figures):
    tmp_path, calls = fake_figures
    first = figures.build_all()
    mtimes = {name: path.stat().st_mtime_ns for name, path in first.items()}
    calls.clear()
    second = figures.build_all()
    assert calls == []  # nothing re-rendered
    assert second == first
    assert {name: path.stat().st_mtime_ns for name, path in second.items()} == mtimes


def test_build_all_rerenders_when_the_code_changes(fake_figures, monkeypatch):
    tmp_path, calls = fake_figures
    first = figures.build_all()
    first_bytes = first["bars.svg"].read_bytes()
    calls.clear()
    monkeypatch.setattr(figures.cache, "build_key", lambda *roots, **options: "code-v2")
    second = figures.build_all()
    assert len(calls) == 4
    assert first["bars.svg"].parent != second["bars.svg"].parent
    assert first_bytes == second["bars.svg"].read_bytes()
    # The old folder stays: another checkout may still be on that code (it expires unused).
    assert first["bars.svg"].parent.exists()


def test_build_all_renders_a_missing_file_again(fake_figures):
    tmp_path, calls = fake_figures
    first = figures.build_all()
    first["bars-dark.svg"].unlink()
    calls.clear()
    figures.build_all()
    assert calls == [("bars", "dark")]
