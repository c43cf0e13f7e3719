"""Figures of chapter 12 (what survived, what died). Its concept diagram: the family tree of
the book's language models from 2014 to today, time running down the page, with the branches
that were replaced (the RNN encoder-decoder, by the Transformer in 2017) or receded as a road to chat (the encoder-only
and encoder-decoder Transformers) and the one that lives on (the decoder-only models, from GPT
to today's open models). Its results: what became of every innovation of the book
(:mod:`llm_evolution.innovations`), and the held-out loss of the chapter's ablations
(:mod:`llm_evolution.ablations`), three seeds per variant.

Names and dates come from the milestone list (:mod:`llm_evolution.milestones`) and the list of
innovations; the three models of the tree that neither lists are written here, with their
papers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure
from llm_evolution.innovations import FATES, INNOVATIONS
from llm_evolution.milestones import FAMILIES, MILESTONES

FONT = 9  # every label of the diagram
SMALL = FONT - 1  # notes

# ================================================================ concept diagram


@dataclass(frozen=True)
class Node:
    """A model of the family tree: its name, when its paper came out, and its family (one of
    FAMILIES)."""

    label: str
    when: date
    family: str


# The models of the tree that the milestone list (2017 to 2022, one model per step of the
# story) leaves out, dated by the month of their paper's first arXiv version; the day is
# unknown here, so each stands at the middle of its month.
EXTRA_MODELS = {
    # Liu et al., RoBERTa: A Robustly Optimized BERT Pretraining Approach, arXiv:1907.11692
    # (July 2019).
    "RoBERTa": Node("RoBERTa", date(2019, 7, 15), "encoder-only"),
    # Lewis et al., BART: Denoising Sequence-to-Sequence Pre-training for Natural Language
    # Generation, Translation, and Comprehension, arXiv:1910.13461 (October 2019).
    "BART": Node("BART", date(2019, 10, 15), "encoder-decoder"),
    # Touvron et al., LLaMA: Open and Efficient Foundation Language Models, arXiv:2302.13971
    # (February 2023).
    "Llama": Node("Llama", date(2023, 2, 15), "decoder-only"),
}

# Each family's models, in order; the decoder-only line goes on to today's open models.
TREE = {
    "encoder-only": ["BERT", "RoBERTa"],
    "encoder-decoder": ["T5", "BART"],
    "decoder-only": ["GPT", "GPT-2", "GPT-3", "InstructGPT", "ChatGPT", "Llama"],
}
TODAY = "today's open models"
# What became of each family as a road to chat; the decoder-only one is the live branch.
RECEDED = {
    "encoder-only": "receded as a\nroad to chat;\nstill used for\nembeddings and\n"
                    "classification",
    "encoder-decoder": "receded as a\nroad to chat;\nstill used for\ntranslation",
}
# The trunk the Transformer replaced: the RNN encoder-decoder and its attention, as the list
# of innovations has them.
TRUNK_NAMES = ("RNN encoder-decoder", "Additive attention")
TRUNK = [item for name in TRUNK_NAMES for item in INNOVATIONS if item.name == name]
if len(TRUNK) != len(TRUNK_NAMES):
    raise ValueError(f"the list of innovations has {[i.name for i in TRUNK]}, not all of "
                     f"{TRUNK_NAMES}: the family tree's trunk")


def _node(label: str) -> Node:
    """A model of the tree, from the milestone list or, failing that, EXTRA_MODELS."""
    for milestone in MILESTONES:
        if milestone.label == label:
            return Node(label, milestone.when, milestone.family)
    return EXTRA_MODELS[label]


def _authors(item) -> list[str]:
    """The first authors of an innovation's papers: "Cho et al.", "Sutskever et al."."""
    return [part.strip().split(",")[0] for part in item.introduced_by.split(";")]


def _trunk_end() -> int:
    """The year the trunk ended: when the RNN encoder-decoder's successor came."""
    return TRUNK[0].successor_year


def _tree_nodes() -> dict[str, list[Node]]:
    nodes = {family: [_node(label) for label in labels] for family, labels in TREE.items()}
    for family, models in nodes.items():
        wrong = [m.label for m in models if m.family != family]
        if wrong:
            raise ValueError(f"{wrong} are not {family} models in the milestone list")
    return nodes


def _tree_alt() -> str:
    nodes = _tree_nodes()
    trunk_year = min(item.year for item in TRUNK)
    authors = [name for item in TRUNK for name in _authors(item)]
    transformer = _node("Transformer")

    def lane(family: str) -> str:
        return ", ".join(f"{m.label} ({m.when.year})" for m in nodes[family])

    return (
        "The family tree of language models from 2014 to today, time running down the page "
        "along a scale of years. At the top, the trunk: the RNN encoder-decoder with "
        f"attention ({', '.join(authors[:-1])} and {authors[-1]}, {trunk_year}), drawn in a "
        f"muted colour, ends in {_trunk_end()} with a bar across its line: a line replaced "
        f"there, when the Transformer dropped recurrence (recurrent models receded, not "
        f"vanished). There the Transformer ({transformer.when.year}) starts, and three branches "
        f"grow from it. Left, encoder-only: {lane('encoder-only')}; middle, encoder-decoder: "
        f"{lane('encoder-decoder')}. Both are drawn muted and dashed and fade out: they "
        "receded as a road to chat, though encoder-only models are still used for "
        "embeddings and classification, and encoder-decoders for translation. Right, "
        f"decoder-only, the live branch, thick and coloured: {lane('decoder-only')}, then "
        f"{TODAY}, with an arrow that goes on past the bottom of the tree."
    )


PER_YEAR = 0.95  # box units per year, down the page
FIRST_YEAR, LAST_YEAR = 2014, 2024  # the scale of years
BOX_H = 0.48  # height of a model's box
MIN_STEP = 0.75  # between the centres of two boxes of one branch: room for an arrow


def _width(label: str, fontsize: float = FONT) -> float:
    """Width of a box holding ``label`` in DejaVu Sans at ``fontsize`` points, with margins."""
    return 0.0125 * fontsize * len(label) + 0.3


def _year(day: date) -> float:
    return day.year + (day - date(day.year, 1, 1)).days / 365.25


def _label(node: Node) -> str:
    return f"{node.label} {node.when.year}"


def _spaced(wanted: list[float]) -> list[float]:
    """Heights of a branch's boxes, from the top: each at its date, or lower by as much as it
    needs to clear the box above it (models months apart, as ChatGPT and Llama)."""
    placed: list[float] = []
    for y in wanted:
        placed.append(min(y, placed[-1] - MIN_STEP) if placed else y)
    return placed


@diagram("family-tree", alt=_tree_alt())
def family_tree() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    nodes = _tree_nodes()
    live, muted = d.colour("value"), d.ink()
    # Columns: the scale of years, then one per family; the trunk and the Transformer stand
    # over the middle one (the Transformer is an encoder-decoder, as the RNN was).
    axis_w, gap = 0.65, 0.12
    col_w = {"encoder-only": 1.95, "encoder-decoder": 2.75, "decoder-only": 2.55}
    xs, left = {}, axis_w
    for family in FAMILIES:
        xs[family] = left + col_w[family] / 2
        left += col_w[family] + gap
    width = left - gap + 0.5  # room for the decoder-only label, right of its branch
    key_h = 0.75
    height = key_h + (LAST_YEAR - FIRST_YEAR) * PER_YEAR + 1.9
    top = height - key_h - 0.3  # the start of FIRST_YEAR

    def y(when: float) -> float:
        return top - (when - FIRST_YEAR) * PER_YEAR

    fig, ax = d.canvas(width, height)

    # The key, at the top: what the three kinds of line mean.
    ky = height - 0.28
    ax.plot([0.1, 0.7], [ky, ky], color=live, linewidth=3, solid_capstyle="butt")
    ax.text(0.82, ky, "lives on", ha="left", va="center", fontsize=FONT)
    kx = 2.7
    ax.plot([kx, kx + 0.6], [ky, ky], color=muted, linewidth=1.4, alpha=0.5,
            linestyle=(0, (3, 2)))
    ax.text(kx + 0.72, ky, "receded", ha="left", va="center", fontsize=FONT)
    kx = 5.25
    ax.plot([kx, kx + 0.6], [ky, ky], color=muted, linewidth=2.2, alpha=0.5,
            solid_capstyle="butt")
    ax.plot([kx + 0.6, kx + 0.6], [ky - 0.16, ky + 0.16], color=muted, linewidth=2.2)
    ax.text(kx + 0.75, ky, "replaced", ha="left", va="center", fontsize=FONT)

    # The scale of years down the left, with a faint line across at the start of each year.
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        ax.text(0.05, y(year), str(year), ha="left", va="center", fontsize=SMALL)
        ax.plot([axis_w - 0.08, width - 0.05], [y(year), y(year)], color=muted,
                linewidth=0.5, alpha=0.15)

    # The trunk: the RNN encoder-decoder with attention, 2014, until the Transformer.
    mid = xs["encoder-decoder"]
    trunk_year = min(item.year for item in TRUNK)
    trunk_y = y(trunk_year + 0.45)
    authors = "; ".join(name for item in TRUNK for name in _authors(item))
    d.layer_block(ax, mid, trunk_y, 4.5, 0.85,
                  f"RNN encoder-decoder + attention, {trunk_year}\n{authors}",
                  fontsize=FONT)
    transformer = _node("Transformer")
    t_y = y(_year(transformer.when))
    bar_y = t_y + BOX_H / 2 + 0.2
    ax.plot([mid, mid], [trunk_y - 0.43, bar_y], color=muted, linewidth=2.2, alpha=0.5,
            solid_capstyle="butt")
    ax.plot([mid - 0.22, mid + 0.22], [bar_y, bar_y], color=muted, linewidth=2.2)
    ax.text(mid + 0.15, (trunk_y - 0.43 + bar_y) / 2,
            f"replaced {_trunk_end()}:\nthe Transformer\ndropped recurrence", ha="left",
            va="center",
            fontsize=SMALL, style="italic", linespacing=1.25)
    t_w = _width(_label(transformer))
    d.token_box(ax, mid, t_y, _label(transformer), "value", width=t_w, height=BOX_H,
                fontsize=FONT, mono=False)
    t_left, t_right, t_bottom = mid - t_w / 2, mid + t_w / 2, t_y - BOX_H / 2

    def boxes(xs_: list[float], ys: list[float], models: list[Node], alive: bool):
        for x, yy, node in zip(xs_, ys, models):
            d.token_box(ax, x, yy, _label(node), "value" if alive else None,
                        width=_width(_label(node)), height=BOX_H, fontsize=FONT, mono=False)
            if not alive:  # a receded model: a muted, dashed outline; its name stays readable
                patch = ax.patches[-1]
                patch.set_alpha(0.55)
                patch.set_linestyle((0, (3, 2)))

    def link(start, end, alive: bool, curve: float = 0.0) -> None:
        if alive:
            d.arrow(ax, start, end, "value", width=2.6, curve=curve)
        else:
            d.arrow(ax, start, end, width=1.2, curve=curve, dashed=True)
            ax.patches[-1].set_alpha(0.5)

    def chain(x: float, ys: list[float], alive: bool) -> None:
        for upper, lower in zip(ys, ys[1:]):
            link((x, upper - BOX_H / 2), (x, lower + BOX_H / 2 + 0.02), alive)

    def fade(x: list[float], from_y: float, note: str) -> None:
        """A receded branch: dashed lines that fade out under its last boxes, and a note on
        what became of it."""
        steps = 4
        for at in x:
            for i in range(steps):
                ax.plot([at, at], [from_y - i * 0.3, from_y - (i + 1) * 0.3 + 0.1],
                        color=muted, linewidth=1.4, alpha=0.6 * (1 - i / steps),
                        solid_capstyle="butt")
        ax.text(sum(x) / len(x), from_y - steps * 0.3 - 0.05, note, ha="center", va="top",
                fontsize=SMALL, style="italic", linespacing=1.25)

    # Encoder-only, left: BERT, RoBERTa; receded.
    models = nodes["encoder-only"]
    x = xs["encoder-only"]
    ys = _spaced([y(_year(m.when)) for m in models])
    boxes([x] * len(models), ys, models, False)
    link((t_left, t_y), (x, ys[0] + BOX_H / 2 + 0.02), False, curve=0.35)
    chain(x, ys, False)
    fade([x], ys[-1] - BOX_H / 2, RECEDED["encoder-only"])
    ax.text(x + 0.05, ys[0] + BOX_H / 2 + 0.95, "encoder-only", ha="center", va="bottom",
            fontsize=FONT, style="italic")

    # Encoder-decoder, under the Transformer: T5 and BART, weeks apart, side by side;
    # receded.
    models = nodes["encoder-decoder"]
    widths = [_width(_label(m)) for m in models]
    at, centres = mid - (sum(widths) + 0.25 * (len(models) - 1)) / 2, []
    for w in widths:
        centres.append(at + w / 2)
        at += w + 0.25
    ys = [y(_year(m.when)) for m in models]
    boxes(centres, ys, models, False)
    for x, yy in zip(centres, ys):
        link((x, t_bottom), (x, yy + BOX_H / 2 + 0.02), False)
    ax.text(mid - 0.05, (t_bottom + max(ys) + BOX_H / 2) / 2, "encoder-\ndecoder",
            ha="center", va="center", fontsize=FONT, style="italic", linespacing=1.2)
    fade(centres, min(ys) - BOX_H / 2, RECEDED["encoder-decoder"])

    # Decoder-only, right: from GPT to today's open models, the live branch.
    models = nodes["decoder-only"]
    x = xs["decoder-only"]
    ys = _spaced([y(_year(m.when)) for m in models] + [y(LAST_YEAR + 0.25)])
    boxes([x] * len(models), ys, models, True)
    d.token_box(ax, x, ys[-1], TODAY, "value", width=_width(TODAY), height=BOX_H,
                fontsize=FONT, mono=False)
    link((t_right, t_y), (x, ys[0] + BOX_H / 2 + 0.02), True, curve=-0.35)
    chain(x, ys, True)
    d.arrow(ax, (x, ys[-1] - BOX_H / 2), (x, ys[-1] - BOX_H / 2 - 0.5), "value", width=2.6)
    ax.text(x + 0.2, ys[0] + BOX_H / 2 + 0.45, "decoder-only", ha="left", va="bottom",
            fontsize=FONT, style="italic", fontweight="bold")
    return fig


# ================================================================ results

FATE_STYLE = {  # colour (index in the theme's cycle) and the marker at the end of the bar
    "lives": (2, ">", "lives: still in today's open models"),
    "replaced": (0, "D", "replaced: by the idea named, in the year it was introduced or adopted"),
    "dropped": (1, "X", "dropped: no successor"),
}
CHART_START, CHART_END = 2014, 2024  # the chart's years; a living idea runs off the right


def _chart_rows() -> list:
    """The innovations, one row each from the top: grouped by fate (as the page lists them),
    in order of year within a group."""
    return [item for fate in FATES
            for item in sorted((i for i in INNOVATIONS if i.fate == fate),
                               key=lambda i: (i.year, i.successor_year or i.ended_year or 0))]


def _end(item) -> int | None:
    return item.successor_year if item.fate == "replaced" else item.ended_year


def _lived_died_alt() -> str:
    rows = _chart_rows()
    groups = {fate: [i for i in rows if i.fate == fate] for fate in FATES}
    lives = ", ".join(f"{i.name} ({i.year})" for i in groups["lives"])
    replaced = "; ".join(f"{i.name} ({i.year}) by {i.successor} ({i.successor_year})"
                         for i in groups["replaced"])
    dropped = "; ".join(f"{i.name} ({i.year}), dropped in {i.ended_year}"
                        for i in groups["dropped"])
    return (
        f"What became of the book's {len(rows)} innovations, one row each on a time axis from "
        f"{CHART_START} to {CHART_END}, grouped by fate and coloured by it, each bar starting "
        "at the year the idea was introduced. Lives, a bar that runs off the right edge "
        f"as an arrow: {lives}. Replaced, a bar that ends in a diamond in the year its "
        f"successor came, labelled with the successor: {replaced}. Dropped, a bar that ends "
        f"in a cross in the year of the paper that shows it dropped: {dropped}."
    )


@figure("lived-died", alt=_lived_died_alt())
def lived_died() -> plt.Figure:
    from matplotlib.lines import Line2D

    rows = _chart_rows()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, ax = plt.subplots(figsize=(7.6, 0.27 * len(rows) + 1.3))
    right = CHART_END + 0.45  # where a living idea's arrow points
    positions, previous = [], None
    at = 0.0
    for item in rows:  # a gap between two groups
        if previous is not None and item.fate != previous:
            at += 0.6
        positions.append(at)
        previous, at = item.fate, at + 1
    for item, row in zip(rows, positions):
        index, marker, _ = FATE_STYLE[item.fate]
        colour = colours[index]
        end = right if item.fate == "lives" else _end(item)
        ax.plot([item.year, end], [row, row], color=colour, linewidth=3,
                solid_capstyle="butt", zorder=2)
        ax.plot(item.year, row, "o", color=colour, markersize=5, zorder=3)
        ax.plot(end, row, marker, color=colour, markersize=8 if marker != "X" else 9,
                markeredgecolor="none", zorder=3, clip_on=False)
        if item.fate == "replaced":
            ax.text(end + 0.22, row, f"→ {item.successor}", ha="left", va="center",
                    fontsize=8, color=colour)
    ax.set_yticks(positions, [item.name for item in rows], fontsize=9)
    ax.set_ylim(positions[-1] + 0.7, -0.7)
    ax.set_xlim(CHART_START - 0.3, right)
    ax.set_xticks(range(CHART_START, CHART_END + 1, 2))
    ax.set_xticks(range(CHART_START, CHART_END + 1), minor=True)
    ax.grid(axis="x", which="minor", alpha=0.4)
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    handles = [Line2D([], [], color=colours[index], linewidth=3, marker=marker,
                      markersize=8, markeredgecolor="none", label=label)
               for index, marker, label in FATE_STYLE.values()]
    ax.legend(handles=handles, frameon=False, fontsize=8, loc="lower left",
              bbox_to_anchor=(0, 1.0), ncols=1)
    fig.tight_layout()
    return fig


# The mean held-out loss of each variant's three seeds (nats per character, to 6 decimals), as
# llm_evolution.ablations.held_out_losses() measures them: written here because an alt text is
# fixed when the figure is registered, before any model is trained. The alt text prints them
# as the page's table does; tests/test_figures.py checks them against the measurement.
ABLATION_MEANS = {"gpt-2": 1.966002, "rope": 1.868086, "rmsnorm": 1.973023,
                  "swiglu": 2.089912, "no-biases": 1.99455, "gqa": 1.988876,
                  "llama": 1.884817}


def _ablations_alt() -> str:
    baseline = ABLATION_MEANS["gpt-2"]
    others = "; ".join(f"{variant} {mean:.3f} ({mean - baseline:+.3f})"
                       for variant, mean in ABLATION_MEANS.items() if variant != "gpt-2")
    return (
        "The held-out loss, in nats per character (lower is better), of chapter 12's "
        f"{len(ABLATION_MEANS)} variants of chapter 6's GPT, one row each, three seeds per "
        "variant: a dot per seed and a bar at their mean, with a dashed vertical line at "
        "the mean of gpt-2, the "
        f"baseline, {baseline:.3f}. The other means, with their change against gpt-2's: "
        f"{others}. The page's table gives every seed."
    )


@figure("ablations", alt=_ablations_alt())
def ablations() -> plt.Figure:
    import statistics

    from llm_evolution.ablations import held_out_losses
    from llm_evolution.recipes.chapter12 import VARIANTS

    losses = held_out_losses()
    if list(losses) != list(VARIANTS):
        raise ValueError(f"held_out_losses() gives {list(losses)}, not the variants "
                         f"{list(VARIANTS)} in order")
    means = {variant: statistics.fmean(values) for variant, values in losses.items()}
    fig, ax = plt.subplots(figsize=(6.4, 0.42 * len(losses) + 1.2))
    ink = plt.rcParams["text.color"]
    baseline = means["gpt-2"]
    ax.axvline(baseline, color=ink, linewidth=1, linestyle="--", alpha=0.7, zorder=1,
               label="gpt-2's mean")
    low, high = min(min(v) for v in losses.values()), max(max(v) for v in losses.values())
    spread = high - low
    column = high + 0.1 * spread  # the means, in a column at the right
    ax.text(column, -0.65, "mean", ha="left", va="bottom", fontsize=8, style="italic")
    for row, (variant, values) in enumerate(losses.items()):
        # Each seed a little lower than the one before, so that seeds of the same loss
        # stay apart.
        offsets = [0.14 * (i - (len(values) - 1) / 2) for i in range(len(values))]
        ax.plot(values, [row + o for o in offsets], "o", color="C0", markersize=6,
                alpha=0.8, markerfacecolor="none", markeredgewidth=1.4, zorder=2)
        ax.plot(means[variant], row, "|", color=ink, markersize=16, markeredgewidth=2.2,
                zorder=3)
        ax.text(column, row, f"{means[variant]:.3f}", ha="left", va="center", fontsize=8)
    ax.plot([], [], "o", color="C0", markerfacecolor="none", markeredgewidth=1.4,
            label="one seed")
    ax.plot([], [], "|", color=ink, markersize=12, markeredgewidth=2.2, label="mean of 3")
    ax.set_yticks(range(len(losses)), list(losses), fontsize=9)
    ax.set_ylim(len(losses) - 0.5, -0.8)
    ax.set_xlim(low - 0.08 * spread, high + 0.3 * spread)
    ax.set_xticks([t for t in ax.get_xticks() if low - 0.08 * spread <= t <= high])
    ax.set_xlabel("held-out loss (nats per character), lower is better")
    ax.grid(axis="y", visible=False)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0),
              ncols=3)
    fig.tight_layout()
    return fig
