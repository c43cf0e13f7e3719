"""Figures of chapter 10 (generalisation: tasks as text, instruction tuning, LoRA, domain
adaptation). Its concept diagrams: what instruction tuning changes (chapter 6's GPT continues
an instruction as text; tuned on conversations in the chat template from three clusters of
tasks, with the loss on the assistant's response only, it is tested on inputs, phrasings,
compositions and a cluster it never saw), and LoRA's frozen weight beside its trainable
low-rank path, at the sizes of our GPT.

The diagrams take their words from the data (:mod:`llm_evolution.data.instructions`, the chat
tokens of :mod:`llm_evolution.data.chat`) and their sizes from the recipes, so they follow
them."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.data.chat import END_OF_TURN, ROLE_TOKENS
from llm_evolution.data.instructions import COMPOSITIONS, HELD_OUT_PHRASINGS, TASK_BY_NAME
from llm_evolution.figures import diagram, figure
from llm_evolution.recipes.chapter06 import GPT_BPE
from llm_evolution.recipes.chapter10 import INSTRUCT_LORA

# ================================================================ concept diagrams

FONT = 9  # every label of the diagrams
SMALL = FONT - 1  # text inside boxes
_MONO_CHAR = 0.108  # width of one DejaVu Sans Mono character at SMALL points, in box units
_LINE = 0.215  # height of one line of text at SMALL points, in box units


def _instruction(task: str, phrasing: int) -> str:
    return TASK_BY_NAME[task].phrasings[phrasing]


def _two_step(first: str, second: str) -> str:
    """A two-step instruction as the data writes one: "Reverse the words. Then give ..."."""
    then = _instruction(second, 1)
    return f"{_instruction(first, 0)} Then {then[0].lower()}{then[1:]}"


def _solve(tasks: tuple[str, ...], text: str) -> str:
    """The right response to ``text`` of the tasks in turn (one, or the two of a two-step
    task), as the data computes it."""
    for task in tasks:
        text = TASK_BY_NAME[task].solve(text, {})
    return text


def _box(ax, x: float, y: float, text: str, role: str | None = None, *,
         width: float | None = None, mono: bool = True):
    """A token box at centre (x, y) sized to ``text`` (one or more lines) at the small size."""
    from llm_evolution.figures import diagrams as d

    if width is None:
        width = _box_width(text)
    d.token_box(ax, x, y, text, role, width=width, height=_box_height(text),
                fontsize=SMALL, mono=mono)
    return width


def _box_width(text: str) -> float:
    return max(map(len, text.split("\n"))) * _MONO_CHAR + 0.22


def _box_height(text: str) -> float:
    return (text.count("\n") + 1) * _LINE + 0.2


# ---------------------------------------------------------------- instruction tuning

INPUT = "to be or not"  # the input of the conversation the diagram follows
NEW_INPUT = "all the world's a stage"
ASK = _instruction("last_word", 1)  # "Give the last word."
# What chapter 6's GPT (gpt-bpe) writes after the prompt, greedy, in the chat template or
# not: the play goes on, with stage directions. Copied from the model, not computed here, so
# that the diagram does not need a trained model.
WRONG = ", [Exit.]\n[Exit.] ..."
TEST_ROWS = [  # (what is new, instruction, input, the task that answers it)
    ("seen task, new input", ASK, NEW_INPUT, ("last_word",)),
    ("seen task, new phrasing", _instruction("last_word", -1), INPUT, ("last_word",)),
    ("new composition", _two_step(*COMPOSITIONS["held_out"][0]).replace(" Then", "\nThen"),
     INPUT, COMPOSITIONS["held_out"][0]),
    ("new cluster, held out as in FLAN:\nformat (repeat, commas, quotes)",
     _instruction("repeat", 0), INPUT, ("repeat",)),
]
CLUSTER_TASKS = {  # the three training clusters, in the diagram's short words
    "words": ["first word", "last word", "reverse\nthe words"],
    "numbers": ["to digits", "to words", "count\nthe words"],
    "plays": ["which play", "comedy or\ntragedy"],
}
TRAIN_TWO_STEP = _two_step(*COMPOSITIONS["train"][0]).replace(" Then", "\nThen")


@diagram(
    "instruction-tuning",
    alt="What instruction tuning changes, in three dashed panels from left to right, joined by "
    "arrows. (a) Pretrained: a prompt box holds the instruction "
    f"\"{ASK}\" with the input \"{INPUT}\" on the next line; an arrow leads into a block, "
    "chapter 6's GPT pretrained on the plays, and from it to what the model writes, "
    f"\"{WRONG.replace(chr(10), ' ')}\", marked with a cross: it goes on like a play, with "
    "stage directions, and gives no answer. (b) Instruction tuning: a training conversation "
    f"in the chat template, drawn as tokens on two rows: {ROLE_TOKENS['user']}, the same "
    f"instruction and input, {END_OF_TURN}; then {ROLE_TOKENS['assistant']}, the response "
    f"\"{_solve(('last_word',), INPUT)}\" and {END_OF_TURN}. Only the response and its "
    f"{END_OF_TURN} are coloured, and a key says the loss is on the coloured tokens only. "
    "Below, the training tasks in three clusters, each a dashed group of boxes: words (first "
    "word, last word, reverse the words), numbers (to digits, to words, count the words) and "
    "plays (which play, comedy or tragedy); then a group of two-step tasks with "
    f"\"{TRAIN_TWO_STEP.replace(chr(10), ' ')}\", and a note: each task in "
    f"{len(TASK_BY_NAME['last_word'].phrasings)} phrasings, {HELD_OUT_PHRASINGS} kept back. "
    "(c) Tested on what it never saw: four rows, each a label, a prompt box and an arrow to "
    "the right answer in the response colour. Seen task, new input: "
    f"\"{ASK}\" with \"{NEW_INPUT}\", answer \"{_solve(TEST_ROWS[0][3], NEW_INPUT)}\". "
    f"Seen task, new phrasing: \"{TEST_ROWS[1][1]}\" with \"{INPUT}\", answer "
    f"\"{_solve(TEST_ROWS[1][3], INPUT)}\". New composition: "
    f"\"{TEST_ROWS[2][1].replace(chr(10), ' ')}\" with \"{INPUT}\", answer "
    f"\"{_solve(TEST_ROWS[2][3], INPUT)}\". New cluster, held out whole as FLAN held out "
    f"clusters, format (repeat, commas, quotes): \"{TEST_ROWS[3][1]}\" with \"{INPUT}\", "
    f"answer \"{_solve(TEST_ROWS[3][3], INPUT)}\".",
)
def instruction_tuning() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    widths = {"a": 2.55, "b": 4.85, "c": 5.05}
    gap, margin, top_pad = 0.45, 0.1, 0.45
    panel_h = 6.75
    width = sum(widths.values()) + 2 * gap + 2 * margin
    height = panel_h + top_pad + 0.1
    fig, ax = d.canvas(width, height)
    bottom, top = 0.1, 0.1 + panel_h
    lefts = {"a": margin}
    lefts["b"] = lefts["a"] + widths["a"] + gap
    lefts["c"] = lefts["b"] + widths["b"] + gap
    titles = {"a": "(a) pretrained", "b": "(b) instruction tuning",
              "c": "(c) tested on what it never saw"}
    for key, left in lefts.items():
        d.frame(ax, left, bottom, widths[key], panel_h, titles[key], fontsize=FONT)
    for key in ("a", "b"):  # from one panel to the next
        start = lefts[key] + widths[key] + 0.06
        d.arrow(ax, (start, bottom + panel_h / 2), (start + gap - 0.12, bottom + panel_h / 2),
                width=1.6)

    # (a) The pretrained GPT continues the instruction as text.
    x = lefts["a"] + widths["a"] / 2
    prompt = f"{ASK}\n {INPUT}"
    ax.text(x, top - 0.3, "prompt", ha="center", va="center", fontsize=FONT, style="italic")
    prompt_y = top - 0.85
    _box(ax, x, prompt_y, prompt)
    gpt_y, gpt_h = top - 2.55, 1.35
    d.arrow(ax, (x, prompt_y - _box_height(prompt) / 2 - 0.05), (x, gpt_y + gpt_h / 2 + 0.05))
    d.layer_block(ax, x, gpt_y, widths["a"] - 0.4, gpt_h, "GPT of chapter 6\npretrained\non "
                  "the plays", fontsize=FONT)
    wrong_y = top - 4.25
    d.arrow(ax, (x, gpt_y - gpt_h / 2 - 0.05), (x, wrong_y + _box_height(WRONG) / 2 + 0.05))
    box_w = _box(ax, x - 0.15, wrong_y, WRONG)
    ax.text(x - 0.15 + box_w / 2 + 0.12, wrong_y, "✗", ha="left", va="center",
            fontsize=FONT + 4)
    ax.text(x, wrong_y - 0.45, "it goes on like a\nplay: no answer", ha="center", va="top",
            fontsize=FONT, style="italic", linespacing=1.3)

    # (b) Conversations in the chat template; the loss on the response only.
    left = lefts["b"] + 0.17
    ax.text(lefts["b"] + widths["b"] / 2, top - 0.3, "training conversations", ha="center",
            va="center", fontsize=FONT, style="italic")
    response = f" {_solve(('last_word',), INPUT)}"
    rows = [(top - 0.85, [(ROLE_TOKENS["user"], None), (prompt, None), (END_OF_TURN, None)]),
            (top - 1.55, [(ROLE_TOKENS["assistant"], None), (response, "output"),
                          (END_OF_TURN, "output")])]  # the loss: on the response only
    for y, tokens in rows:
        at = left
        for text, role in tokens:
            at += _box(ax, at + _box_width(text) / 2, y, text, role) + 0.08
    key_y = top - 2.12
    d.token_box(ax, left + 0.2, key_y, "", "output", width=0.4, height=0.28)
    ax.text(left + 0.52, key_y, "loss on these tokens only", ha="left", va="center",
            fontsize=FONT)
    inner = widths["b"] - 0.34
    pitch = 0.12
    cluster_w = (inner - 2 * pitch) / 3
    frame_top, frame_h = top - 2.85, 2.05
    for i, (cluster, tasks) in enumerate(CLUSTER_TASKS.items()):
        cl = left + i * (cluster_w + pitch)
        d.frame(ax, cl, frame_top - frame_h, cluster_w, frame_h, cluster, fontsize=FONT)
        y = frame_top - 0.2  # the top of the next task's box
        for task in tasks:
            h = _box_height(task) - 0.05
            d.token_box(ax, cl + cluster_w / 2, y - h / 2, task, width=cluster_w - 0.16,
                        height=h, fontsize=SMALL, mono=False)
            y -= h + 0.1
    two_top = frame_top - frame_h - 0.42
    two_h = _box_height(TRAIN_TWO_STEP) + 0.2
    d.frame(ax, left, two_top - two_h, inner, two_h, "two-step", fontsize=FONT)
    _box(ax, left + inner / 2, two_top - two_h / 2, TRAIN_TWO_STEP)
    phrasings = len(TASK_BY_NAME["last_word"].phrasings)
    ax.text(left + inner / 2, bottom + 0.35, f"each task in {phrasings} phrasings; "
            f"{HELD_OUT_PHRASINGS} kept back", ha="center", va="center", fontsize=FONT,
            style="italic")

    # (c) Prompts the tuning never showed, and the answers it should give.
    left = lefts["c"] + 0.15
    prompt_w = max(_box_width(f"{instruction}\n {text}") for _, instruction, text, _ in TEST_ROWS)
    answer_x = lefts["c"] + widths["c"] - 0.15
    y = top - 0.25
    for what, instruction, text, tasks in TEST_ROWS:
        ax.text(left, y, what, ha="left", va="top", fontsize=FONT, style="italic",
                linespacing=1.2)
        y -= 0.3 + 0.27 * what.count("\n")
        shown = f"{instruction}\n {text}"
        h = _box_height(shown)
        _box(ax, left + prompt_w / 2, y - h / 2, shown, width=prompt_w)
        answer = _solve(tasks, text)
        w = _box_width(answer)
        d.arrow(ax, (left + prompt_w + 0.08, y - h / 2), (answer_x - w - 0.08, y - h / 2))
        _box(ax, answer_x - w / 2, y - h / 2, answer, "output", width=w)
        y -= h + 0.32
    return fig


# ---------------------------------------------------------------- LoRA

DIM = GPT_BPE.config["d_model"]  # our GPT's width
RANK, ALPHA = INSTRUCT_LORA.config["lora_rank"], INSTRUCT_LORA.config["lora_alpha"]


@diagram(
    "lora",
    alt="LoRA, low-rank adaptation (Hu et al., 2021), on one d x d weight of our GPT, "
    "attention's output projection, as the title says. At the bottom, the input x, a vector "
    f"of d = {DIM} numbers, goes two ways, drawn upwards. Left: the pretrained weight W, a "
    f"large shaded square, d x d = {DIM} x {DIM}, with a box marked frozen and a snowflake: "
    "training does not change it; its output W x goes up to a circle with a plus. Right, in "
    "the trainable colour and drawn to the same scale as W: A, r x d = "
    f"{RANK} x {DIM}, a flat strip as wide as W and 1/{DIM // RANK} as tall, random at first, "
    f"turns x into A x, a short vector of r = {RANK} numbers; that goes into B, d x r = "
    f"{DIM} x {RANK}, a thin strip as tall as W, zero at first, so training starts from the "
    "pretrained model exactly. B's output, scaled by alpha / r = "
    f"{ALPHA}/{RANK}, goes up to the same plus, and the sum is the output h = W x + "
    "(alpha / r) B A x, at the top. A note beside x counts the numbers: trained, A and B, "
    f"{2 * DIM * RANK:,}; frozen, W, {DIM * DIM:,}. A line at the bottom: after training, "
    "W' = W + (alpha / r) B A, merged into one matrix, as fast as before.",
)
def lora() -> plt.Figure:
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Circle, Rectangle

    from llm_evolution.figures import diagrams as d

    dim, rank, alpha = DIM, RANK, ALPHA
    side = 3.2  # d, drawn
    thin = side * rank / dim  # r, to the same scale
    width, height = 10.5, 9.0
    fig, ax = d.canvas(width, height)
    w_left, w_bottom = 0.3, 2.1
    w_x = w_left + side / 2
    r_left = w_left + side + 1.3
    r_x = r_left + side / 2
    train = d.colour("highlight")
    # x at the bottom, into both paths.
    x_y = 0.95
    centre = (w_x + r_x) / 2
    d.vector_bar(ax, centre, x_y, [0.55, 0.2, 0.8, 0.4, 0.65, 0.3, 0.9, 0.5, 0.35, 0.7],
                 "token")
    ax.text(centre, x_y - 0.25, f"input x: d = {dim} numbers", ha="center", va="top",
            fontsize=FONT)
    d.arrow(ax, (centre - 0.5, x_y + 0.16), (w_x + 0.3, w_bottom - 0.08))
    d.arrow(ax, (centre + 0.5, x_y + 0.16), (r_x - 0.3, w_bottom - 0.08))
    # W: the frozen square, d x d.
    ax.add_patch(Rectangle((w_left, w_bottom), side, side, linewidth=1.4, edgecolor=d.ink(),
                           facecolor=to_rgba(d.ink(), 0.1)))
    ax.text(w_x, w_bottom + side / 2 + 0.45, "W", ha="center", va="center", fontsize=FONT + 8)
    ax.text(w_x, w_bottom + side / 2 - 0.25, f"d × d = {dim} × {dim}\npretrained",
            ha="center", va="center", fontsize=FONT, linespacing=1.3)
    d.token_box(ax, w_x, w_bottom + 0.42, "❄ frozen", None, width=1.35, height=0.42,
                fontsize=FONT, mono=False)
    # A (r x d, flat) and B (d x r, tall), to the same scale: the trainable path.
    ax.add_patch(Rectangle((r_left, w_bottom), side, thin, linewidth=1.2, edgecolor=train,
                           facecolor=to_rgba(train, 0.6)))
    ax.text(r_left + side + 0.15, w_bottom + thin / 2, f"A: r × d = {rank} × {dim}\n"
            "random at first", ha="left", va="center", fontsize=FONT, linespacing=1.3)
    mid_y = w_bottom + 0.75  # A x: r numbers
    d.arrow(ax, (r_x, w_bottom + thin + 0.04), (r_x, mid_y - 0.14))
    d.vector_bar(ax, r_x, mid_y, [0.6, 0.3, 0.8, 0.5, 0.2, 0.7, 0.4, 0.9], "highlight",
                 cell=0.14, height=0.2)
    ax.text(r_x + 0.7, mid_y, f"A x: r = {rank} numbers", ha="left", va="center",
            fontsize=FONT)
    b_bottom = mid_y + 0.45
    d.arrow(ax, (r_x, mid_y + 0.12), (r_x, b_bottom - 0.04))
    ax.add_patch(Rectangle((r_x - thin / 2, b_bottom), thin, side, linewidth=1.2,
                           edgecolor=train, facecolor="none"))
    ax.text(r_x + thin / 2 + 0.15, b_bottom + side / 2, f"B: d × r = {dim} × {rank}\n"
            "zero at first", ha="left", va="center", fontsize=FONT, linespacing=1.3)
    # The sum at the top, and h.
    plus_y = b_bottom + side + 0.8
    plus_x = centre
    ax.add_patch(Circle((plus_x, plus_y), 0.25, facecolor="none", edgecolor=d.ink(),
                        linewidth=1.3))
    ax.text(plus_x, plus_y, "+", ha="center", va="center", fontsize=FONT + 5)
    d.arrow(ax, (w_x, w_bottom + side + 0.05), (plus_x - 0.24, plus_y - 0.1))
    ax.text((w_x + plus_x) / 2 - 0.3, (w_bottom + side + plus_y) / 2 + 0.1, "W x",
            ha="right", va="center", fontsize=FONT)
    d.arrow(ax, (r_x, b_bottom + side + 0.05), (plus_x + 0.24, plus_y - 0.1), "highlight")
    ax.text((r_x + plus_x) / 2 + 0.3, (b_bottom + side + plus_y) / 2 + 0.1,
            f"(α/r) B A x,  α/r = {alpha}/{rank}", ha="left", va="center", fontsize=FONT)
    h_y = plus_y + 0.7
    d.arrow(ax, (plus_x, plus_y + 0.26), (plus_x, h_y - 0.14))
    d.vector_bar(ax, plus_x, h_y, [0.4, 0.75, 0.3, 0.6, 0.85, 0.2, 0.5, 0.65, 0.35, 0.7],
                 "token")
    ax.text(plus_x + 1.3, h_y, "h = W x + (α/r) B A x", ha="left", va="center",
            fontsize=FONT + 1)
    # What is trained, and what happens after training.
    ax.text(0.2, height - 0.1, "one d × d weight of our GPT (attention's output projection), "
            "with LoRA", ha="left", va="top", fontsize=FONT + 1)
    ax.text(width - 0.2, x_y, f"trained: A and B, {2 * dim * rank:,} numbers\n"
            f"frozen: W, {dim * dim:,} numbers", ha="right", va="center", fontsize=FONT,
            linespacing=1.35)
    ax.text(width / 2, 0.2, "after training:  W' = W + (α/r) B A, merged into one matrix, "
            "as fast as before", ha="center", va="center", fontsize=FONT, style="italic")
    return fig


# ================================================================ results

@figure(
    "flan-clusters",
    alt="Exact-match accuracy of chapter 10's tuned models on held-out examples against the "
    "number of task clusters each was tuned on, 0 (the pretrained model) to 3, at the same "
    "number of training steps. One line per column of the page's table: the words tasks, the "
    "number tasks, the play tasks (with their trained phrasings), the words tasks in their "
    "held-out phrasing, and the format cluster, which no model trained on. Every line starts "
    "at 0 for the pretrained model; a cluster's line rises once the models train on it; the "
    "format line stays at 0 throughout. The page's table gives the numbers.",
)
def flan_clusters() -> plt.Figure:
    from llm_evolution.generalization import generalization_table

    table = generalization_table()  # the page's table, read from the measurement cache
    rows = ["pretrained", "1 cluster", "2 clusters", "3 clusters"]
    columns = ["words", "numbers", "plays", "new phrasing", "format (new cluster)"]
    labels = ["words", "numbers", "plays", "words, held-out phrasing",
              "format (no model trained on it)"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for column, label, marker in zip(columns, labels, "os^Dv"):
        ax.plot(range(len(rows)), [100 * table[row][column] for row in rows], marker=marker,
                label=label)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(["0\n(pretrained)", "1\n(words)", "2\n(+ numbers)", "3\n(+ plays)"])
    ax.set_xlabel("task clusters in the tuning mixture (same number of steps)")
    ax.set_ylabel("answers exactly right (%)")
    ax.set_ylim(-2, 100)
    ax.legend(frameon=False, loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "domain-adaptation",
    alt="Held-out bits per character (lower is better) on the two domains, the plays and "
    "NumPy's documentation, for three models as grouped bars: the pretrained model, which "
    "knows the plays and not the documentation; the same model after continued pretraining "
    "on the documentation, far better on it and worse on the plays; and the same continuation "
    "with a quarter of every batch replayed from the plays, almost as good on the "
    "documentation and nearly back to the pretrained model on the plays. The page's table "
    "gives the numbers.",
)
def domain_adaptation() -> plt.Figure:
    from llm_evolution.generalization import domain_table

    table = domain_table()
    models = list(table)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    width = 0.38
    for offset, domain in zip((-width / 2, width / 2), ("plays", "numpy docs")):
        ax.bar([i + offset for i in range(len(models))], [table[m][domain] for m in models],
               width, label=f"held-out {domain}")
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels(models)
    ax.set_ylabel("bits per character")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
