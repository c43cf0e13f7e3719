"""The home page's timeline of milestones, 2017 to 2022."""

from __future__ import annotations

from datetime import date

import matplotlib.pyplot as plt

from llm_evolution.figures import figure
from llm_evolution.milestones import MILESTONES

ERA_ORDER = ["architecture", "pretraining", "scaling", "generalisation", "alignment"]


def _year_fraction(day: date) -> float:
    start = date(day.year, 1, 1)
    return day.year + (day - start).days / 365.25


@figure(
    "timeline",
    alt="Timeline from 2017 to 2022: Transformer (June 2017), ELMo and GPT (2018), BERT "
    "(October 2018), GPT-2 (February 2019), T5 (October 2019), scaling laws and GPT-3 (2020), "
    "FLAN (2021), InstructGPT and Chinchilla (March 2022), ChatGPT (November 2022), "
    "coloured by theme: architecture, pretraining, scaling, generalisation, alignment.",
)
def timeline() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(10, 3.4))
    colours = {era: f"C{i}" for i, era in enumerate(ERA_ORDER)}
    ax.axhline(0, color=plt.rcParams["axes.edgecolor"], linewidth=1.2, zorder=1)
    # Alternate labels above and below the axis, with three heights so neighbours do not collide.
    heights = [1.0, -1.0, 2.0, -2.0, 1.5, -1.5]
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
