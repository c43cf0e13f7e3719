"""The book's visual language: the few shapes every concept diagram is drawn with.

A diagram is a matplotlib figure like any other (the same SVG pipeline, light and dark), drawn
on a :func:`canvas` whose units are "boxes": a token box is 1 wide and 0.6 high. Every page
uses the same shapes for the same things:

* :func:`token_box`: a token (a word, a character, a byte pair), or any small labelled cell;
* :func:`vector_bar`: a vector, as a short row of shaded cells;
* :func:`layer_block`: a layer or a module (attention, feed-forward, norm);
* :func:`arrow`: data flowing from one shape to the next;
* :func:`attention_lines`: who looks at whom, each line as thick as its weight;
* :func:`frame`: a dashed frame that groups shapes under a label (a layer stack, a step);
* :func:`step_badge`: a numbered circle, for processes shown in steps.

Colours have fixed roles (:data:`ROLES`): queries are always the first colour of the theme,
keys the second, values the third, on every page and in both themes. Shapes read the theme's
colours from matplotlib's settings at drawing time, so one drawing function gives the light and
the dark rendering.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

# Role -> index in the theme's colour cycle (Okabe-Ito, see llm_evolution.figures).
ROLES = {"query": 0, "key": 1, "value": 2, "output": 3, "highlight": 4, "token": 5}

TOKEN_WIDTH, TOKEN_HEIGHT = 1.0, 0.6


def colour(role: str) -> str:
    """The theme's colour for ``role`` (one of :data:`ROLES`)."""
    if role not in ROLES:
        raise ValueError(f"role={role!r} is not one of {sorted(ROLES)}")
    return plt.rcParams["axes.prop_cycle"].by_key()["color"][ROLES[role]]


def ink() -> str:
    """The theme's text colour: outlines and arrows are drawn in it."""
    return plt.rcParams["text.color"]


def canvas(width: float, height: float, scale: float = 0.62):
    """A figure with one axes of ``width`` x ``height`` box units, no axis lines or grid,
    (0, 0) at the bottom left. Returns ``(fig, ax)``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"width={width} and height={height} must be > 0")
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    return fig, ax


def token_box(ax, x: float, y: float, text: str, role: str | None = None, *,
              width: float = TOKEN_WIDTH, height: float = TOKEN_HEIGHT, fontsize: float = 10,
              filled: bool = True, mono: bool = True):
    """A token at centre (x, y): a rounded box, tinted with ``role``'s colour if given."""
    edge = colour(role) if role else ink()
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                           boxstyle="round,pad=0,rounding_size=0.08", linewidth=1.2,
                           edgecolor=edge, facecolor=_tint(edge) if role and filled else "none")
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize,
            family="DejaVu Sans Mono" if mono else None)
    return patch


def vector_bar(ax, x: float, y: float, values: Sequence[float], role: str = "token", *,
               cell: float = 0.22, height: float = 0.22):
    """A vector centred at (x, y): one cell per value in ``values`` (each in 0..1), shaded
    from pale (0) to the role's full colour (1)."""
    if not values:
        raise ValueError("values must hold at least one number")
    if any(not 0 <= v <= 1 for v in values):
        raise ValueError(f"values must lie in 0..1 (they set the shading), got {list(values)}")
    left = x - cell * len(values) / 2
    base = colour(role)
    for i, value in enumerate(values):
        ax.add_patch(FancyBboxPatch((left + i * cell, y - height / 2), cell, height,
                                    boxstyle="square,pad=0", linewidth=0.6, edgecolor=base,
                                    facecolor=base, alpha=0.15 + 0.85 * value))


def layer_block(ax, x: float, y: float, width: float, height: float, label: str,
                role: str | None = None, *, fontsize: float = 10):
    """A layer or module centred at (x, y): a rounded block with its name."""
    edge = colour(role) if role else ink()
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0,rounding_size=0.15", linewidth=1.4,
                                edgecolor=edge, facecolor=_tint(edge) if role else "none"))
    ax.text(x, y, label, ha="center", va="center", fontsize=fontsize)


def arrow(ax, start: tuple[float, float], end: tuple[float, float], role: str | None = None,
          *, width: float = 1.2, curve: float = 0.0, dashed: bool = False):
    """Data flowing from ``start`` to ``end``; ``curve`` bends it (0 is straight)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10,
                                 linewidth=width, color=colour(role) if role else ink(),
                                 connectionstyle=f"arc3,rad={curve}",
                                 linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0))


def attention_lines(ax, sources: Sequence[tuple[float, float]],
                    targets: Sequence[tuple[float, float]], weights, role: str = "query", *,
                    max_width: float = 5.0):
    """Lines from each target (a position that reads) to each source (a position read), as
    thick as the weight: ``weights[t][s]`` in 0..1, one row per target."""
    if len(weights) != len(targets) or any(len(row) != len(sources) for row in weights):
        raise ValueError(f"weights must be {len(targets)} rows (targets) of {len(sources)} "
                         f"numbers (sources)")
    for (tx, ty), row in zip(targets, weights):
        for (sx, sy), weight in zip(sources, row):
            if weight > 0.02:  # a line too thin to see is left out
                ax.plot([tx, sx], [ty, sy], color=colour(role), linewidth=max_width * weight,
                        alpha=0.35 + 0.65 * weight, solid_capstyle="round")


def frame(ax, x: float, y: float, width: float, height: float, label: str = "", *,
          fontsize: float = 9):
    """A dashed frame grouping what lies inside (x, y: bottom left), its label above it."""
    ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0,rounding_size=0.2",
                                linewidth=1.0, linestyle=(0, (4, 3)), edgecolor=ink(),
                                facecolor="none", alpha=0.7))
    if label:
        ax.text(x + 0.15, y + height + 0.08, label, ha="left", va="bottom", fontsize=fontsize,
                style="italic")


def step_badge(ax, x: float, y: float, number: int, *, radius: float = 0.22):
    """A numbered circle at (x, y): step ``number`` of a process."""
    ax.add_patch(Circle((x, y), radius, facecolor=colour("highlight"), edgecolor="none"))
    ax.text(x, y, str(number), ha="center", va="center", fontsize=9, fontweight="bold",
            color="#1f1f1f")


def _tint(hex_colour: str, amount: float = 0.25) -> tuple[float, float, float, float]:
    """``hex_colour`` at ``amount`` opacity: a fill that keeps text on it readable."""
    from matplotlib.colors import to_rgba

    red, green, blue, _ = to_rgba(hex_colour)
    return (red, green, blue, amount)
