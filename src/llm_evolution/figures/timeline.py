"""The home page's figures, both drawn from the milestone list: the timeline of milestones, 2017
to 2022, and the concept diagram of the Transformer's model families (encoder-only,
encoder-decoder, decoder-only) along the same years."""

from __future__ import annotations

from datetime import date

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure
from llm_evolution.milestones import MILESTONES

ERA_ORDER = ["architecture", "pretraining", "scaling", "generalisation", "alignment"]


def _year_fraction(day: date) -> float:
    start = date(day.year, 1, 1)
    return day.year + (day - start).days / 365.25


@figure(
    "timeline",
    alt="Timeline from 2017 to 2022: Transformer (June 2017), ELMo and GPT (2018), BERT "
    "(October 2018), GPT-2 (February 2019), T5 (October 2019), scaling laws, GPT-3 and RLHF "
    "summaries (2020), "
    "LoRA, FLAN and Gopher (2021), InstructGPT and Chinchilla (March 2022), PaLM (April 2022), "
    "ChatGPT (November 2022), "
    "coloured by theme: architecture, pretraining, scaling, generalisation, alignment.",
)
def timeline() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 3.4))
    colours = {era: f"C{i}" for i, era in enumerate(ERA_ORDER)}
    ax.axhline(0, color=plt.rcParams["axes.edgecolor"], linewidth=1.2, zorder=1)
    # Alternate labels above and below the axis, at two heights so neighbours do not collide.
    heights = [1.0, -1.0, 2.2, -2.2]
    for index, milestone in enumerate(MILESTONES):
        x = _year_fraction(milestone.when)
        height = heights[index % len(heights)]
        colour = colours[milestone.era]
        ax.plot([x, x], [0, height * 0.82], color=colour, linewidth=1, zorder=2)
        ax.scatter([x], [0], s=36, color=colour, zorder=3)
        ax.text(x, height, f"{milestone.label}\n{milestone.when:%b %Y}", ha="center",
                va="bottom" if height > 0 else "top", fontsize=9, color=colour,
                fontweight="bold")
    for era, colour in colours.items():
        ax.scatter([], [], color=colour, label=era)
    ax.legend(loc="upper left", ncols=5, frameon=False, fontsize=9, bbox_to_anchor=(0, 1.18))
    ax.set_xlim(2017.0, 2023.2)
    ax.set_ylim(-3.0, 3.0)
    ax.set_xticks(range(2017, 2024))
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_visible(False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the model family tree

TREE_START, TREE_PER_YEAR, TREE_LEFT = 2017.0, 1.8, 0.35  # box units per year of the time axis
TREE_FONT = 9


def _family_models(family: str) -> list:
    return [m for m in MILESTONES if m.family == family]


def _family_alt() -> str:
    from llm_evolution.milestones import FAMILIES

    lanes = "; ".join(f"{family} lane: " + ", ".join(f"{m.label} ({m.when.year})"
                                                     for m in _family_models(family))
                      for family in FAMILIES)
    left_out = " and ".join(m.label for m in MILESTONES if m.family is None)
    return ("The family tree of the Transformer models on the timeline, 2017 to 2022, in three "
            "lanes along a time axis, one for each part of the 2017 Transformer a model keeps: "
            "the encoder alone, both halves, or the decoder alone. Arrows "
            "branch from the Transformer, an encoder-decoder, to the first encoder-only and the "
            f"first decoder-only model. {lanes[0].upper()}{lanes[1:]}. {left_out} are on the "
            "timeline but are not Transformer models, and are left out.")


def _tree_x(day: date) -> float:
    return TREE_LEFT + (_year_fraction(day) - TREE_START) * TREE_PER_YEAR


def _name_width(label: str) -> float:
    """Width of a model's box: its name in DejaVu Sans at TREE_FONT points, plus margins."""
    return 0.0125 * TREE_FONT * len(label) + 0.3


def _rows(models: list, gap: float = 0.15) -> list[int]:
    """A row for each model of a lane, in date order: the first row whose last box ends, with
    ``gap`` to spare, before this box begins (models weeks apart get rows of their own)."""
    ends: list[float] = []
    rows = []
    for model in models:
        left = _tree_x(model.when) - _name_width(model.label) / 2
        row = next((r for r, end in enumerate(ends) if end + gap <= left), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = left + _name_width(model.label)
        rows.append(row)
    return rows


@diagram("model-family-tree", alt=_family_alt())
def model_family_tree() -> plt.Figure:
    from llm_evolution.figures import diagrams as d
    from llm_evolution.milestones import FAMILIES

    unknown = {m.family for m in MILESTONES} - {None, *FAMILIES}
    if unknown:
        raise ValueError(f"milestone families {sorted(unknown)} are not one of {FAMILIES}")
    last = max(_tree_x(m.when) + _name_width(m.label) / 2 for m in MILESTONES if m.family)
    width = last + 0.35
    row_step, lane_gap = 0.75, 0.75  # between the rows of a lane; between two lanes' frames
    lanes = {family: _family_models(family) for family in FAMILIES}
    rows = {family: _rows(models) for family, models in lanes.items()}
    # Lanes from the bottom up: the decoder-only lane (the most models) at the bottom.
    top_of_axis = 0.8
    lane_y: dict[str, float] = {}
    frames: dict[str, tuple[float, float]] = {}
    bottom = top_of_axis
    for family in reversed(FAMILIES):
        n_rows = max(rows[family]) + 1
        height = 0.9 + row_step * (n_rows - 1)
        frames[family] = (bottom, height)
        lane_y[family] = bottom + height - 0.45  # row 0 at the top of its frame
        bottom += height + lane_gap
    height = bottom - lane_gap + 0.45
    fig, ax = d.canvas(width, height)
    # The time axis: a tick at the start of each year, the year after it.
    ax.plot([_tree_x(date(int(TREE_START), 1, 1)), width - 0.12], [0.5, 0.5], color=d.ink(),
            linewidth=0.8, alpha=0.6)
    for year in range(int(TREE_START), MILESTONES[-1].when.year + 1):
        x = _tree_x(date(year, 1, 1))
        ax.plot([x, x], [0.4, 0.6], color=d.ink(), linewidth=0.8, alpha=0.6)
        ax.text(x + 0.06, 0.2, str(year), ha="left", va="center", fontsize=TREE_FONT)
    centres: dict[str, tuple[float, float]] = {}
    for family in FAMILIES:
        frame_y, frame_height = frames[family]
        d.frame(ax, 0.12, frame_y, width - 0.24, frame_height, family, fontsize=TREE_FONT)
        models, y0 = lanes[family], lane_y[family]
        # The lane: a line through time between the models of its first row (models in lower
        # rows came out weeks after the one above them).
        first_row = [m for m, row in zip(models, rows[family]) if row == 0]
        for before, after in zip(first_row, first_row[1:]):
            ax.plot([_tree_x(before.when) + _name_width(before.label) / 2,
                     _tree_x(after.when) - _name_width(after.label) / 2], [y0, y0],
                    color=d.ink(), linewidth=1.0, alpha=0.5)
        for model, row in zip(models, rows[family]):
            x, y = _tree_x(model.when), y0 - row * row_step
            d.token_box(ax, x, y, model.label, "token", width=_name_width(model.label),
                        fontsize=TREE_FONT, mono=False)
            centres[model.label] = (x, y)
    # Branches from the root, the first encoder-decoder, to the first model of each other lane.
    root = lanes["encoder-decoder"][0]
    root_x, root_y = centres[root.label]
    root_half = _name_width(root.label) / 2
    for family in FAMILIES:
        first = lanes[family][0]
        if first is root:
            continue
        x, y = centres[first.label]
        up = y > root_y
        d.arrow(ax, (root_x + root_half * 0.6, root_y + (0.3 if up else -0.3)),
                (x - _name_width(first.label) / 2, y), curve=-0.25 if up else 0.25)
    return fig
