"""Figures of chapter 9 (efficient and distributed training). Its concept diagrams: four ways
to spread the training of one model over two devices (data parallel, fully sharded, tensor
parallel, pipeline parallel), GPipe's schedule with its bubble, one data-parallel step as
the chapter's code takes it (:mod:`llm_evolution.distributed`), and Megatron-LM's split of an
MLP over two GPUs. Its plots draw the committed benchmark run (``docs/reference/bench.json``,
:mod:`llm_evolution.speed`), never measured again at build time."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure

FONT = 9  # every label of the diagrams

# ---------------------------------------------------------------- four ways to split

BLOCKS = 4  # the model of the parallelism picture: four blocks
_BLOCK_W, _BLOCK_H, _BLOCK_PITCH = 1.9, 0.4, 0.5
_PANEL_W, _PANEL_H = 5.6, 4.55
_RANK_W = 2.3


def _ghost_block(ax, x: float, y: float, width: float, height: float, label: str) -> None:
    """A block this rank does not keep: a dashed outline (the frames' line) with a faint
    label, drawn where it would sit."""
    from matplotlib.patches import FancyBboxPatch

    from llm_evolution.figures import diagrams as d

    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0,rounding_size=0.15", linewidth=1.0,
                                linestyle=(0, (3, 2)), edgecolor=d.ink(), facecolor="none",
                                alpha=0.6))
    ax.text(x, y, label, ha="center", va="center", fontsize=FONT - 1, alpha=0.6)


def _two_way(ax, left: float, right: float, y: float, role: str) -> None:
    """Arrows both ways between ``left`` and ``right`` at height ``y``: a collective
    operation between the two ranks."""
    from llm_evolution.figures import diagrams as d

    d.arrow(ax, (left, y + 0.07), (right, y + 0.07), role)
    d.arrow(ax, (right, y - 0.07), (left, y - 0.07), role)


def _panel(ax, left: float, bottom: float, kind: str) -> None:
    """One way of splitting: two rank frames side by side, what each holds and reads, and the
    communication between them, with the method's name above and its traffic below."""
    from llm_evolution.figures import diagrams as d

    titles = {"data": "data parallel (DDP)", "fsdp": "fully sharded (FSDP, ZeRO-3)",
              "tensor": "tensor parallel (Megatron-LM)", "pipeline": "pipeline parallel (GPipe)"}
    captions = {"data": "all-reduce gradients",
                "fsdp": "all-gather weights before each block,\nreduce-scatter gradients",
                "tensor": "each matrix split by columns or rows;\nall-reduce activations "
                          "inside each block",
                "pipeline": "send activations forward,\ngradients back"}
    centre = left + _PANEL_W / 2
    ax.text(centre, bottom + _PANEL_H - 0.02, titles[kind], ha="center", va="top",
            fontsize=FONT + 1)
    ax.text(centre, bottom + 0.42, captions[kind], ha="center", va="center", fontsize=FONT,
            style="italic", linespacing=1.3)
    frame_bottom, frame_top = bottom + 0.85, bottom + 3.85
    token_y = bottom + 1.25
    levels = [bottom + 1.95 + _BLOCK_PITCH * i for i in range(BLOCKS)]  # block centres
    lefts = [left + 0.2, left + _PANEL_W - 0.2 - _RANK_W]
    gap = (lefts[0] + _RANK_W, lefts[1])  # the space between the two frames
    half = _BLOCK_W / 2 - 0.02
    for rank, frame_left in enumerate(lefts):
        x = frame_left + _RANK_W / 2
        d.frame(ax, frame_left, frame_bottom, _RANK_W, frame_top - frame_bottom, f"rank {rank}",
                fontsize=FONT)
        # What this rank reads: its half of the batch, the whole batch, or micro-batches.
        if kind in ("data", "fsdp"):
            tokens = [f"x{2 * rank + 1}", f"x{2 * rank + 2}"]
        elif kind == "tensor":
            tokens = ["x1", "x2", "x3", "x4"]
        else:
            tokens = ["m1", "m2", "m3", "m4"] if rank == 0 else []
        pitch = 0.52 if len(tokens) > 2 else 0.62
        for i, token in enumerate(tokens):
            d.token_box(ax, x + (i - (len(tokens) - 1) / 2) * pitch, token_y, token, "token",
                        width=pitch - 0.08, height=0.42, fontsize=FONT - 1)
        if tokens:  # into the first block, or into this rank's half of it
            into = x + (_BLOCK_W / 4 if rank else -_BLOCK_W / 4) * (kind == "tensor")
            d.arrow(ax, (into, token_y + 0.23), (into, levels[0] - _BLOCK_H / 2 - 0.02))
        # What this rank keeps of the weights.
        for block, y in enumerate(levels, start=1):
            if kind == "data":
                d.layer_block(ax, x, y, _BLOCK_W, _BLOCK_H, f"block {block}", "value",
                              fontsize=FONT - 1)
            elif kind in ("fsdp", "tensor"):
                side = -1 if rank == 0 else 1
                mine, other = (f"{block}a", f"{block}b") if rank == 0 else (f"{block}b",
                                                                             f"{block}a")
                d.layer_block(ax, x + side * _BLOCK_W / 4, y, half, _BLOCK_H, mine, "value",
                              fontsize=FONT - 1)
                if kind == "fsdp":  # the other half, fetched for the block, then dropped
                    _ghost_block(ax, x - side * _BLOCK_W / 4, y, half, _BLOCK_H, other)
            elif (block <= BLOCKS // 2) == (rank == 0):
                d.layer_block(ax, x, y, _BLOCK_W, _BLOCK_H, f"block {block}", "value",
                              fontsize=FONT - 1)
    middle = (levels[0] + levels[-1]) / 2
    if kind in ("data", "fsdp"):
        _two_way(ax, *gap, middle, "key")
    elif kind == "tensor":
        for y in levels:
            _two_way(ax, *gap, y, "query")
    else:  # activations up and across, gradients back down
        out, into = levels[BLOCKS // 2 - 1], levels[BLOCKS // 2]
        d.arrow(ax, (gap[0] - 0.15, out + 0.08), (gap[1] + 0.15, into), "query")
        d.arrow(ax, (gap[1] + 0.15, into - 0.16), (gap[0] - 0.15, out - 0.08), "key",
                dashed=True)


@diagram(
    "parallelism",
    alt="Four ways to spread the training of one model of four blocks over two devices, "
    "rank 0 and rank 1, in four panels. Data parallel (DDP): each rank holds the whole model, "
    "all four blocks, and reads its own half of the batch, rows x1 and x2 on rank 0, x3 and "
    "x4 on rank 1; the ranks all-reduce their gradients. Fully sharded (FSDP, ZeRO-3): each "
    "rank keeps only half of every block's weights, halves 1a to 4a on rank 0 and 1b to 4b "
    "on rank 1, drawn with the other half as a dashed outline, and reads half of the batch as "
    "in data parallel; the ranks all-gather the weights before each block and reduce-scatter "
    "the gradients. Tensor parallel (Megatron-LM): each weight matrix of every block is split "
    "by columns or rows, one half on each rank, and both ranks read the same whole batch, x1 "
    "to x4; the ranks all-reduce activations inside each block. Pipeline parallel (GPipe): "
    "rank 0 holds blocks 1 and 2 and reads the micro-batches m1 to m4, rank 1 holds blocks 3 "
    "and 4; rank 0 sends activations forward to rank 1, and rank 1 sends gradients back.",
)
def parallelism() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    gap_x, gap_y, header = 0.4, 0.3, 0.55
    width = 2 * _PANEL_W + gap_x + 0.2
    height = 2 * _PANEL_H + gap_y + header + 0.1
    fig, ax = d.canvas(width, height)
    ax.text(width / 2, height - 0.08, "one model of four blocks, trained on two devices",
            ha="center", va="top", fontsize=FONT + 1)
    for i, kind in enumerate(["data", "fsdp", "tensor", "pipeline"]):
        row, column = divmod(i, 2)
        _panel(ax, 0.1 + column * (_PANEL_W + gap_x), 0.1 + (1 - row) * (_PANEL_H + gap_y),
               kind)
    return fig


# ---------------------------------------------------------------- GPipe's schedule

STAGES, MICRO_BATCHES = 2, 4


def gpipe_schedule(stages: int = STAGES, micro_batches: int = MICRO_BATCHES
                   ) -> list[list[str | None]]:
    """GPipe's schedule, one row per stage, one entry per time slot: ``"F3"`` is the forward
    pass of micro-batch 3, ``"B3"`` its backward pass, ``None`` an idle slot (the bubble).
    Every pass takes one slot; the backward passes run in reverse order, from the last
    stage down, once every forward pass is done."""
    slots = 2 * (micro_batches + stages - 1)
    rows: list[list[str | None]] = [[None] * slots for _ in range(stages)]
    for stage in range(stages):
        for m in range(micro_batches):
            rows[stage][stage + m] = f"F{m + 1}"
            back = micro_batches + stages - 1 + (stages - 1 - stage) + m
            rows[stage][back] = f"B{micro_batches - m}"
    return rows


@diagram(
    "pipeline-schedule",
    alt="GPipe's schedule for two stages and four micro-batches, as a timeline of equal "
    "slots, one row per stage. Stage 0 (rank 0) runs the forward passes F1 to F4 in the "
    "first four slots; stage 1 (rank 1) runs them one slot later, as each micro-batch's "
    "activations arrive. Then the backward passes run in reverse order, B4 to B1, first on "
    "stage 1 and one slot later on stage 0. The idle slots are dashed and marked bubble: "
    "stage 1 waits during the first slot and the last, stage 0 during the two slots "
    "between its last forward and its first backward, 2 of 10 slots each, one fifth of the "
    "time. Both stages then take the optimizer step together.",
)
def pipeline_schedule() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    rows = gpipe_schedule()
    slots = len(rows[0])
    slot, label_w, update_w = 0.86, 1.75, 1.05
    width = label_w + slots * slot + update_w + 0.35
    fig, ax = d.canvas(width, 2.7)
    ys = [1.85, 1.15]  # stage 0 on top
    for stage, (row, y) in enumerate(zip(rows, ys)):
        ax.text(0.1, y, f"stage {stage}\n(rank {stage})", ha="left", va="center",
                fontsize=FONT, linespacing=1.2)
        t = 0
        while t < slots:
            left = label_w + t * slot
            if row[t] is None:  # a run of idle slots: one dashed frame
                end = t
                while end < slots and row[end] is None:
                    end += 1
                d.frame(ax, left + 0.04, y - 0.25, (end - t) * slot - 0.08, 0.5)
                ax.text(left + (end - t) * slot / 2, y, "bubble", ha="center", va="center",
                        fontsize=FONT - 1, style="italic")
                t = end
                continue
            role = "query" if row[t].startswith("F") else "key"
            d.token_box(ax, left + slot / 2, y, row[t], role, width=slot - 0.08, height=0.5,
                        fontsize=FONT)
            t += 1
        d.token_box(ax, label_w + slots * slot + 0.1 + update_w / 2, y, "update",
                    "highlight", width=update_w, height=0.5, fontsize=FONT, mono=False)
    end = label_w + slots * slot + 0.1 + update_w
    d.arrow(ax, (label_w, 0.6), (end, 0.6))
    ax.text(end, 0.5, "time", ha="right", va="top", fontsize=FONT, style="italic")
    idle = sum(entry is None for entry in rows[0])
    ax.text(label_w, 0.5, f"bubble: {idle} of {slots} slots per stage", ha="left", va="top",
            fontsize=FONT, style="italic")
    ax.text(label_w, 2.62, "F3 = forward pass of micro-batch 3,  B3 = its backward pass",
            ha="left", va="top", fontsize=FONT)
    return fig


# ---------------------------------------------------------------- one data-parallel step

STEP_TEXTS = [
    "same weights W on both ranks\n(broadcast from rank 0)",
    "each takes its shard\nof the global batch",
    "forward + backward\non its shard",
    "all-reduce averages\nthe gradients",
    "identical AdamW update:\nstill the same weights",
]


@diagram(
    "data-parallel-step",
    alt="One step of data-parallel training on two ranks, in five numbered rows, with a "
    "column for rank 0 and a column for rank 1. 1: both ranks hold the same weights W, "
    "broadcast from rank 0 to rank 1 at the start. 2: each rank takes its shard of the "
    "global batch, rows x1 and x2 on rank 0, x3 and x4 on rank 1. 3: each runs the forward "
    "and backward pass on its shard and gets its own gradient, g0 on rank 0 and g1 on rank 1. "
    "4: an all-reduce between the ranks averages the gradients, so both hold (g0 + g1) / 2. "
    "5: both take the identical AdamW update with that average, and still hold the same "
    "weights W', equal on both ranks.",
)
def data_parallel_step() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    pitch, cell_h = 0.95, 0.5
    width, height = 9.9, 0.75 + len(STEP_TEXTS) * pitch + 0.2
    fig, ax = d.canvas(width, height)
    rank_w, gap = 2.4, 0.6
    lefts = [width - 0.1 - 2 * rank_w - gap, width - 0.1 - rank_w]
    centres = [left + rank_w / 2 for left in lefts]
    between = (lefts[0] + rank_w, lefts[1])
    top = height - 0.55
    for rank, left in enumerate(lefts):
        d.frame(ax, left, 0.15, rank_w, top - 0.15, f"rank {rank}", fontsize=FONT)
    ys = [top - pitch / 2 - i * pitch for i in range(len(STEP_TEXTS))]
    for step, (text, y) in enumerate(zip(STEP_TEXTS, ys), start=1):
        d.step_badge(ax, 0.35, y, step)
        ax.text(0.75, y, text, ha="left", va="center", fontsize=FONT, linespacing=1.25)
    y1, y2, y3, y4, y5 = ys
    box = {"height": cell_h, "fontsize": FONT}
    for rank, x in enumerate(centres):
        d.token_box(ax, x, y1, "W", "value", width=0.7, **box)
        for i in range(2):
            d.token_box(ax, x + (i - 0.5) * 0.7, y2, f"x{2 * rank + i + 1}", "token", width=0.6,
                        **box)
        d.layer_block(ax, x - 0.4, y3, 1.2, cell_h, "fwd + bwd", fontsize=FONT)
        d.arrow(ax, (x + 0.2, y3), (x + 0.5, y3))
        d.token_box(ax, x + 0.8, y3, f"g{rank}", "key", width=0.55, **box)
        d.token_box(ax, x, y4, "(g0+g1)/2", "key", width=1.7, **box)
        d.token_box(ax, x, y5, "W'", "value", width=0.7, **box)
    d.arrow(ax, (centres[0] + 0.35, y1), (centres[1] - 0.35, y1))
    _two_way(ax, centres[0] + 0.85, centres[1] - 0.85, y4, "key")
    ax.text(sum(between) / 2, y5, "=", ha="center", va="center", fontsize=FONT + 5)
    return fig


@figure(
    "speed-tricks",
    alt="Two panels from the committed benchmark run at nanoGPT's CPU shape. Left: horizontal "
    "bars, one per trick, of its speed against the plain float32 step (1 is the plain step; "
    "longer is faster). Right: the activations each trick keeps for the backward pass, in MiB; "
    "activation checkpointing keeps the least, gradient accumulation a quarter, bf16 about "
    "half. The page's table gives the same numbers.",
)
def speed_tricks() -> plt.Figure:
    from llm_evolution.bench import load_results
    from llm_evolution.speed import TRICKS

    tricks = load_results()["speed"]["tricks"]
    names = list(TRICKS)[::-1]
    plain = tricks["float32"]["seconds"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.4), sharey=True)
    speedups = [plain / tricks[name]["seconds"] for name in names]
    left.barh(names, speedups, color=["C0" if s >= 1 else "C3" for s in speedups])
    left.axvline(1.0, color="grey", linewidth=1)
    left.set_xlabel("speed against the plain float32 step (x)")
    memory = [tricks[name]["activation_bytes"] for name in names]
    right.barh([n for n, m in zip(names, memory) if m is not None],
               [m / 2 ** 20 for m in memory if m is not None], color="C2")
    right.set_xlabel("activations kept for backward (MiB)")
    for ax in (left, right):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


@figure(
    "bf16-loss",
    alt="Training loss against step for the same model on the same batches, in float32 and "
    "with bf16 autocast, from the committed benchmark run: the two curves lie on top of each "
    "other (the page prints their largest gap).",
)
def bf16_loss() -> plt.Figure:
    from llm_evolution.bench import load_results

    curves = load_results()["speed"]["loss_curves"]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for (name, losses), colour in zip(curves.items(), ("C0", "C1")):
        ax.plot(range(1, len(losses) + 1), losses, color=colour, linewidth=1.2,
                label=name.replace("_", " "))
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (nats per character)")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


@figure(
    "speed-race",
    alt="Two bars from the committed benchmark run: the wall-clock seconds of the plain run "
    "(2,000 float32 steps at nanoGPT's CPU configuration) and of the fast recipe, which "
    "reaches the same held-out loss; each bar is labelled with its held-out loss.",
)
def speed_race() -> plt.Figure:
    from llm_evolution.bench import load_results

    race = load_results()["speed"]["race"]
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    names = ["plain", "fast"]
    seconds = [race[name]["seconds"] for name in names]
    labels = [f"plain: {race['plain']['steps']:,} steps", f"fast: {race['fast']['steps']:,} steps"
              + (f" + {', '.join(race['fast']['tricks'])}" if race["fast"]["tricks"] else "")]
    bars = ax.barh(labels[::-1], seconds[::-1], color=["C0", "C7"])
    for bar, name in zip(bars, names[::-1]):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f"  loss {race[name]['held_out_loss']:.3f}", va="center", fontsize=9)
    ax.set_xlabel("wall-clock seconds of training")
    ax.set_xlim(0, max(seconds) * 1.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Megatron-LM's MLP

_RANK_ROLES = ("value", "output")  # rank 0's pieces, rank 1's pieces


def _split_matrix(ax, left: float, bottom: float, width: float, height: float,
                  labels: tuple[str, str], rank: int, *, by: str) -> None:
    """A weight matrix cut in two, ``by="columns"`` (left and right halves) or ``"rows"`` (top
    and bottom): the half ``rank`` keeps filled in its rank's colour, the other half a dashed
    outline with a faint label, where the other rank keeps it."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    from llm_evolution.figures import diagrams as d

    if by == "columns":
        halves = [(left, bottom, width / 2, height),
                  (left + width / 2, bottom, width / 2, height)]
    else:
        halves = [(left, bottom + height / 2, width, height / 2),
                  (left, bottom, width, height / 2)]
    for half, ((x, y, w, h), label) in enumerate(zip(halves, labels)):
        centre = (x + w / 2, y + h / 2)
        if half == rank:
            edge = d.colour(_RANK_ROLES[half])
            ax.add_patch(Rectangle((x, y), w, h, linewidth=1.4, edgecolor=edge,
                                   facecolor=to_rgba(edge, 0.35), zorder=2))
            ax.text(*centre, label, ha="center", va="center", fontsize=FONT + 1)
        else:
            ax.add_patch(Rectangle((x, y), w, h, linewidth=1.0, linestyle=(0, (3, 2)),
                                   edgecolor=d.ink(), facecolor="none", alpha=0.6))
            ax.text(*centre, label, ha="center", va="center", fontsize=FONT, alpha=0.55)


def _matrix(ax, x: float, y: float, width: float, height: float, label: str,
            role: str) -> None:
    """A whole matrix of activations centred at (x, y), square-cornered, tinted ``role``."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    from llm_evolution.figures import diagrams as d

    edge = d.colour(role)
    ax.add_patch(Rectangle((x - width / 2, y - height / 2), width, height, linewidth=1.4,
                           edgecolor=edge, facecolor=to_rgba(edge, 0.3), zorder=2))
    ax.text(x, y, label, ha="center", va="center", fontsize=FONT if "(" in label
            else FONT + 1)


@diagram(
    "tensor-parallel",
    alt="Megatron-LM's tensor-parallel MLP, Y = GELU(X A) B, split over two GPUs, drawn as one "
    "row per rank, rank 0 above rank 1, with the matrices as rectangles. Both ranks start from "
    "the same input X. The first weight matrix A, drawn wide, is cut by columns into a left "
    "half A1, kept by rank 0, and a right half A2, kept by rank 1; on each row the rank's own "
    "half is filled in its colour and the other half is a dashed outline. Each rank multiplies "
    "X by its half and applies GELU alone, with no communication, getting GELU(X A1) on rank 0 "
    "and GELU(X A2) on rank 1. The second weight matrix B, drawn tall, is cut by rows into a top "
    "half B1, kept by rank 0, and a bottom half B2, kept by rank 1. Each rank multiplies its "
    "GELU output by its half of B and gets a partial output of full size: Y1 = GELU(X A1) B1 "
    "on rank 0, Y2 = GELU(X A2) B2 on rank 1. A two-way arrow between the ranks, labelled "
    "all-reduce, sums them, so both ranks end with Y = Y1 + Y2: the only communication of the "
    "MLP's forward pass, and the backward pass needs one all-reduce as well. A caption adds "
    "that attention is split the same way, by heads, so a Transformer block needs two "
    "all-reduces in the forward pass and two in the backward pass.",
)
def tensor_parallel() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    side = 0.8  # the model's width d: X, each B and each Y is side wide
    a_w, b_h = 2.8, 2.2  # A is d x 4d (wide), B is 4d x d (tall), drawn shorter than to scale
    row_h, gap, y_w = b_h + 0.4, 0.95, 1.75  # a rank's frame, the space between, Y's width
    ys = [0.85 + gap + row_h * 1.5, 0.85 + row_h / 2]  # rank 0 above rank 1
    x_x, a_left = 0.95, 1.9
    h_x = a_left + a_w + 1.75
    b_left = h_x + a_w / 4 + 0.65
    yi_x = b_left + side + 1.05
    y_x = yi_x + 2.4
    width, height = y_x + y_w / 2 + 0.5, ys[0] + row_h / 2 + 1.65
    fig, ax = d.canvas(width, height)
    ax.text(width / 2, height - 0.1, "a Transformer MLP, Y = GELU(X A) B, split over two GPUs "
            "(Megatron-LM)", ha="center", va="top", fontsize=FONT + 1)
    # What each column is, above rank 0's frame.
    head_y = ys[0] + row_h / 2 + 0.55
    for x, text in [(x_x, "input X,\nsame on both"), (a_left + a_w / 2, "A split by columns"),
                    (h_x, "GELU on each rank,\nno communication"),
                    (b_left + side / 2, "B split\nby rows"),
                    (yi_x, "partial\noutput"), (y_x, "full output\non both ranks")]:
        ax.text(x, head_y, text, ha="center", va="bottom", fontsize=FONT, linespacing=1.2)
    for rank, y in enumerate(ys):
        role = _RANK_ROLES[rank]
        i = rank + 1
        d.frame(ax, 0.15, y - row_h / 2, width - 0.3, row_h, f"rank {rank} (GPU {rank})",
                fontsize=FONT)
        _matrix(ax, x_x, y, side, side, "X", "token")
        ax.text((x_x + side / 2 + a_left) / 2, y, "×", ha="center", va="center",
                fontsize=FONT + 4)
        _split_matrix(ax, a_left, y - side / 2, a_w, side, ("A1", "A2"), rank, by="columns")
        d.arrow(ax, (a_left + a_w + 0.15, y), (h_x - a_w / 4 - 0.15, y))
        ax.text((a_left + a_w + h_x - a_w / 4) / 2, y + 0.12, "GELU", ha="center",
                va="bottom", fontsize=FONT - 1, style="italic")
        _matrix(ax, h_x, y, a_w / 2, side, f"GELU(X A{i})", role)
        ax.text((h_x + a_w / 4 + b_left) / 2, y, "×", ha="center", va="center",
                fontsize=FONT + 4)
        _split_matrix(ax, b_left, y - b_h / 2, side, b_h, ("B1", "B2"), rank, by="rows")
        ax.text((b_left + side + yi_x - side / 2) / 2, y, "=", ha="center", va="center",
                fontsize=FONT + 4)
        _matrix(ax, yi_x, y, side, side, f"Y{i}", role)
        d.arrow(ax, (yi_x + side / 2 + 0.15, y), (y_x - y_w / 2 - 0.1, y))
        _matrix(ax, y_x, y, y_w, side, "Y = Y1 + Y2", "token")
    # The all-reduce: between the two ranks' partial outputs, beside the arrows into Y.
    ar_x = (yi_x + side / 2 + y_x - y_w / 2) / 2
    top, bottom = ys[0] - 0.12, ys[1] + 0.12  # from one rank's arrow into Y to the other's
    d.arrow(ax, (ar_x - 0.09, top), (ar_x - 0.09, bottom), "query", width=1.6)
    d.arrow(ax, (ar_x + 0.09, bottom), (ar_x + 0.09, top), "query", width=1.6)
    ax.text(ar_x - 0.3, (ys[0] + ys[1]) / 2, "all-reduce sums Y1 + Y2: the only "
            "communication of the forward pass\n(the backward pass needs one all-reduce too)",
            ha="right", va="center", fontsize=FONT, linespacing=1.3, color=d.colour("query"))
    ax.text(width / 2, 0.35, "attention is split the same way, by heads: two all-reduces per "
            "block forward, two backward", ha="center", va="center", fontsize=FONT,
            style="italic")
    return fig
