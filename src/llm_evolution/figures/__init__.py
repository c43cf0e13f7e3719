"""Every figure of the site, drawn by code: one function per figure, rendered to SVG.

A figure is a plain function that returns a matplotlib ``Figure``, registered with
:func:`figure` under a file name and an alt text. :func:`render_svg` draws it in the light or
the dark theme of the site; the bytes are deterministic (same code and data, same SVG), so the
rendered files can be cached by a hash of their inputs (:func:`build_all`).

Render them all without MkDocs: ``python -m llm_evolution.figures --out some/folder``.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from llm_evolution import cache
from llm_evolution.paths import cache_dir

# No matplotlib.use(...) here: importing the figures must not switch the backend of whoever
# imports them (a notebook kernel, say). Figures are drawn off screen and saved as SVG, which
# every backend can do; without a display, matplotlib picks a non-interactive one itself.

# Colour cycles picked for contrast on Material's light (white) and dark ("slate") backgrounds:
# the Okabe-Ito palette, which colour-blind readers can tell apart, with lighter shades for dark.
LIGHT_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#B8860B", "#56B4E9"]
DARK_COLORS = ["#56B4E9", "#E69F00", "#3FD0A0", "#E3A0C8", "#F0E442", "#9FD3F5"]

THEMES: dict[str, dict] = {
    "light": {
        "text.color": "#1f1f1f",
        "axes.labelcolor": "#1f1f1f",
        "axes.edgecolor": "#555555",
        "xtick.color": "#333333",
        "ytick.color": "#333333",
        "grid.color": "#d0d0d0",
        "axes.prop_cycle": matplotlib.cycler(color=LIGHT_COLORS),
        "legend.facecolor": "#ffffff",
        "legend.edgecolor": "#cccccc",
    },
    "dark": {
        "text.color": "#e8e8e8",
        "axes.labelcolor": "#e8e8e8",
        "axes.edgecolor": "#b0b0b0",
        "xtick.color": "#d0d0d0",
        "ytick.color": "#d0d0d0",
        "grid.color": "#4a4a4a",
        "axes.prop_cycle": matplotlib.cycler(color=DARK_COLORS),
        "legend.facecolor": "#2a2d36",
        "legend.edgecolor": "#555555",
    },
}

# Shared by both themes: transparent background (the page colour shows through), a fixed
# hash salt and no date, so that the SVG bytes depend only on what is drawn.
BASE_STYLE = {
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "savefig.transparent": True,
    "svg.hashsalt": "llm-evolution",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.linewidth": 0.6,
    "figure.dpi": 100,
}


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: its file name (``name.svg``), alt text and drawing function, and
    whether it is a concept ``"diagram"`` (an idea, drawn with :mod:`~llm_evolution.figures.
    diagrams`) or a ``"plot"`` of something computed or measured."""

    name: str
    alt: str
    draw: Callable[[], "matplotlib.figure.Figure"]
    kind: str = "plot"


REGISTRY: dict[str, FigureSpec] = {}

# Modules that register figures; imported on first use of the registry.
FIGURE_MODULES = ["llm_evolution.figures.timeline", "llm_evolution.figures.chapter01",
                  "llm_evolution.figures.chapter02", "llm_evolution.figures.chapter03",
                  "llm_evolution.figures.chapter04", "llm_evolution.figures.chapter05",
                  "llm_evolution.figures.chapter06", "llm_evolution.figures.performance",
                  "llm_evolution.figures.chapter07", "llm_evolution.figures.chapter08",
                  "llm_evolution.figures.chapter09", "llm_evolution.figures.chapter10",
                  "llm_evolution.figures.chapter11", "llm_evolution.figures.chapter12"]


KINDS = ("plot", "diagram")


def figure(name: str, alt: str, kind: str = "plot") -> Callable:
    """Register the decorated function as the figure ``name`` (drawn to ``figures/name.svg``)."""
    if not alt.strip():
        raise ValueError(f"figure {name!r} needs alt text: describe what the figure shows")
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} of figure {name!r} is not one of {KINDS}")

    def register(draw: Callable) -> Callable:
        known = REGISTRY.get(name)
        if known and (known.draw.__module__, known.draw.__qualname__) != (
                draw.__module__, draw.__qualname__):
            raise ValueError(f"figure name {name!r} is registered twice; pick another name")
        REGISTRY[name] = FigureSpec(name=name, alt=alt.strip(), draw=draw, kind=kind)
        return draw

    return register


def diagram(name: str, alt: str) -> Callable:
    """Register the decorated function as the concept diagram ``name``: a picture of an idea,
    drawn in the book's visual language (:mod:`llm_evolution.figures.diagrams`). Each chapter
    opens with one."""
    return figure(name, alt, kind="diagram")


def heatmap(ax, table, *, columns: list[str], rows: list[str], colorbar_label: str,
            vmax: float = 1.0, column_rotation: int = 0, fontsize: int | None = None):
    """Draw ``table`` (rows x columns) on ``ax`` as a viridis heatmap from 0 to ``vmax``, with
    labelled ticks and a colour bar: the style of every probability or attention table."""
    image = ax.imshow(table, cmap="viridis", vmin=0, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(columns)), columns, rotation=column_rotation,
                  ha="right" if column_rotation else "center", fontsize=fontsize)
    ax.set_yticks(range(len(rows)), rows, fontsize=fontsize)
    ax.grid(False)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    colorbar.set_label(colorbar_label)
    colorbar.outline.set_visible(False)
    return image


def registry() -> dict[str, FigureSpec]:
    """All figures, by name, after importing every module that defines some."""
    for module in FIGURE_MODULES:
        importlib.import_module(module)
    return REGISTRY


def render_svg(name: str, theme: str = "light") -> bytes:
    """Draw figure ``name`` in ``theme`` ("light" or "dark") and return the SVG bytes."""
    specs = registry()
    if name not in specs:
        raise ValueError(f"unknown figure {name!r}; known figures: {sorted(specs)}")
    if theme not in THEMES:
        raise ValueError(f"theme={theme!r} is not one of {sorted(THEMES)}")
    with plt.rc_context({**BASE_STYLE, **THEMES[theme]}):
        fig = specs[name].draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
    return buffer.getvalue()


def output_name(name: str, theme: str) -> str:
    """File name of a rendered figure: ``name.svg`` for light, ``name-dark.svg`` for dark."""
    return f"{name}.svg" if theme == "light" else f"{name}-{theme}.svg"


DRAW_JOBS = 2  # figure modules drawn at once when several are missing


def _figures_by_module() -> dict[str, list[str]]:
    modules: dict[str, list[str]] = {}
    for name, spec in sorted(registry().items()):
        modules.setdefault(spec.draw.__module__, []).append(name)
    return modules


def _start_drawing_process() -> None:
    from llm_evolution import numerics

    numerics.use_reference_path()  # figures draw from trained models, as the pages print them


def _draw_module(module: str, entry: Path | None = None) -> dict[str, Path]:
    """Render the missing figures of one figure module into its cache folder (under its lock)
    and return every file of it."""
    names = _figures_by_module()[module]
    if entry is None:
        entry = cache_dir("figures") / f"{module.rpartition('.')[2]}-{cache.build_key(module)}"
    makers = {output_name(name, theme): (lambda name=name, theme=theme: render_svg(name, theme))
              for name in names for theme in THEMES}
    return cache.write_files(entry, makers, what=f"the figures of {module}")


def build_all(out_dir: Path | None = None) -> dict[str, Path]:
    """Render every figure in both themes, reusing cached files whose inputs did not change.

    Each figure module has its own cache folder, ``figures/<module>-<key>``, keyed by the code
    the module imports (:func:`llm_evolution.cache.build_key`): editing ``chapter03.py``
    redraws chapter 3's figures only. The key follows the module into the model cache and so
    covers every recipe: a retrained model redraws the figures made from it. Folders are
    written under a lock (two builds never draw the same figure at once) and never deleted
    while in use; one that no build used for 30 days is removed.

    Returns a mapping from output file name (``timeline.svg``, ``timeline-dark.svg``, ...) to
    the rendered file. With ``out_dir`` the files are also copied there.
    """
    store = cache_dir("figures")
    modules = _figures_by_module()
    entries = {module: store / f"{module.rpartition('.')[2]}-{cache.build_key(module)}"
               for module in modules}
    # Modules whose figures are missing are drawn side by side, in fresh processes on the
    # reference path (a cold cache: over a minute of drawing, most of it computing on one
    # core); each takes the module's lock, so this is safe beside another build too. A fresh
    # process knows the modules of FIGURE_MODULES only (not figures registered at run time).
    missing = [module for module, entry in entries.items() if module in FIGURE_MODULES
               and not all((entry / output_name(name, theme)).exists()
                           for name in modules[module] for theme in THEMES)]
    jobs = min(DRAW_JOBS, os.cpu_count() or 1, len(missing))
    if jobs > 1:
        # Two drawing processes on two cores: OpenMP threads that run out of work sleep
        # instead of spinning on the core the other process needs (no result depends on it).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context,
                                 initializer=_start_drawing_process) as pool:
            list(pool.map(_draw_module, missing))
    rendered: dict[str, Path] = {}
    for module, entry in sorted(entries.items()):
        rendered.update(_draw_module(module, entry))  # drawn above: only checked and listed
    cache.expire(store, max_age_days=30)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for file_name, path in rendered.items():
            (out_dir / file_name).write_bytes(path.read_bytes())
    return rendered
