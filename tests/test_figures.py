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


# ---------------------------------------------------------------------------- chapter 12


def _drawn_texts(name: str, theme: str = "light"):
    """The figure ``name`` drawn in ``theme``: its texts (with tick labels and legend entries
    where it has axes) and their boxes on the canvas, and the figure's own box."""
    with plt.rc_context({**figures.BASE_STYLE, **figures.THEMES[theme]}):
        fig = figures.registry()[name].draw()
        try:
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            texts = []
            for ax in fig.axes:
                texts += ax.texts
                if ax.axison:
                    texts += ax.get_xticklabels() + ax.get_yticklabels()
                if ax.get_legend():
                    texts += ax.get_legend().get_texts()
            texts = [t for t in texts if t.get_text() and t.get_visible()]
            return ([(t.get_text(), t.get_fontsize(), t.get_window_extent(renderer))
                     for t in texts], fig.bbox)
        finally:
            plt.close(fig)


def _check_layout(name: str) -> list[str]:
    """The texts of figure ``name`` in both themes: none under 8 points, none over another,
    none off the figure."""
    problems, drawn = [], []
    for theme in figures.THEMES:
        texts, frame = _drawn_texts(name, theme)
        drawn = [text for text, _, _ in texts]
        problems += [f"{theme}: {text!r} at {size} pt" for text, size, _ in texts if size < 8]
        problems += [f"{theme}: {a!r} overlaps {b!r}" for i, (a, _, box_a) in enumerate(texts)
                     for b, _, box_b in texts[i + 1:] if box_a.overlaps(box_b)]
        problems += [f"{theme}: {text!r} is off the figure" for text, _, box in texts
                     if box.x0 < 0 or box.y0 < 0 or box.x1 > frame.x1 or box.y1 > frame.y1]
    assert not problems, f"{name}: " + "; ".join(problems)
    return drawn


def test_family_tree_draws_and_names_every_model():
    from llm_evolution.figures import chapter12

    spec = figures.registry()["family-tree"]
    assert spec.kind == "diagram"
    drawn = " ".join(_check_layout("family-tree"))
    models = [chapter12._node(label) for labels in chapter12.TREE.values() for label in labels]
    models.append(chapter12._node("Transformer"))
    for model in models:
        assert f"{model.label} {model.when.year}" in drawn
        assert f"{model.label} ({model.when.year})" in spec.alt
    for item in chapter12.TRUNK:  # the RNN trunk: its year and its authors
        for author in chapter12._authors(item):
            assert author in drawn and author in spec.alt
    assert chapter12.TODAY in drawn and chapter12.TODAY in spec.alt
    assert f"ends in {chapter12._trunk_end()}" in spec.alt  # the branches that ended
    assert "receded" in spec.alt


def test_family_tree_takes_dates_from_the_milestones():
    """A model of the tree that the milestone list has is dated by it; the models written in
    the figure module are the ones it lacks (add one to MILESTONES: remove it there)."""
    from llm_evolution.figures import chapter12

    labels = {m.label: m for m in MILESTONES}
    assert not set(chapter12.EXTRA_MODELS) & set(labels)
    for family, names in chapter12.TREE.items():
        for name in names:
            node = chapter12._node(name)
            assert node.family == family
            if name in labels:
                assert node.when == labels[name].when


def test_lived_died_has_a_row_for_every_innovation():
    from llm_evolution.innovations import INNOVATIONS

    spec = figures.registry()["lived-died"]
    drawn = _check_layout("lived-died")
    assert sorted(item.name for item in INNOVATIONS) == sorted(
        text for text in drawn if text in {item.name for item in INNOVATIONS})
    for item in INNOVATIONS:
        assert f"{item.name} ({item.year})" in spec.alt
        if item.fate == "replaced":
            assert f"→ {item.successor}" in drawn
            assert f"by {item.successor} ({item.successor_year})" in spec.alt
        if item.fate == "dropped":
            assert f"dropped in {item.ended_year}" in spec.alt
    assert all(f"{fate}:" in " ".join(drawn) for fate in ("lives", "replaced", "dropped"))


def test_ablations_alt_states_the_measured_means():
    """The alt text is fixed at registration, before any model is trained: its means are
    written in the figure module and must be the ones measured, and it prints them (and each
    change against gpt-2) as the page's table does. Needs chapter 12's 21 trained models (the
    model cache)."""
    import statistics

    from llm_evolution.ablations import held_out_losses
    from llm_evolution.figures import chapter12
    from llm_evolution.recipes.chapter12 import VARIANTS

    means = {variant: statistics.fmean(values) for variant, values in held_out_losses().items()}
    measured = {variant: round(mean, 6) for variant, mean in means.items()}
    assert list(chapter12.ABLATION_MEANS) == list(VARIANTS)
    assert chapter12.ABLATION_MEANS == measured, (
        f"update ABLATION_MEANS in llm_evolution/figures/chapter12.py to {measured}")
    alt = figures.registry()["ablations"].alt
    baseline = means["gpt-2"]
    assert f"gpt-2, the baseline, {baseline:.3f}" in alt
    for variant, mean in means.items():  # each change as the page's table prints it
        if variant != "gpt-2":
            assert f"{variant} {mean:.3f} ({mean - baseline:+.3f})" in alt
    _check_layout("ablations")
