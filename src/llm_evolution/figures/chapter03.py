"""Figures of chapter 3: the concept diagrams of the Transformer and of attention (its
architecture, scaled dot-product and multi-head attention, the masks, and one output vector
computed step by step), sinusoidal positions, the Transformer's cross-attention on a held-out
number, and its training speed against the RNNs of chapter 2."""

from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure

# Recipes compared for speed, with their legend labels.
SPEED_MODELS = {
    "rnn-translator": "RNN",
    "rnn-attention-translator": "RNN + attention",
    "transformer-translator": "Transformer",
}


@figure(
    "positional-encoding",
    alt="Left: heatmap of the sinusoidal positional encoding, one row per position (0 to 63) "
    "and one column per dimension (0 to 63). The first columns alternate quickly between "
    "positive and negative as the position grows, later columns change ever more slowly. "
    "Right: three of those columns drawn as curves against the position, waves whose period "
    "grows with the dimension. Together the columns give each position its own pattern.",
)
def positional_encoding() -> plt.Figure:
    from llm_evolution.models.transformer import sinusoidal_positions

    table = sinusoidal_positions(64, 64)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.9),
                                      gridspec_kw={"width_ratios": [1.1, 1]})
    image = left.imshow(table.numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    left.set_xlabel("dimension")
    left.set_ylabel("position")
    left.grid(False)
    colorbar = fig.colorbar(image, ax=left, fraction=0.046, pad=0.03)
    colorbar.outline.set_visible(False)
    for color, dim in zip(["C0", "C1", "C2"], [4, 12, 24]):
        right.plot(table[:, dim].numpy(), color=color, label=f"dimension {dim}")
    right.set_xlabel("position")
    right.set_ylabel("value")
    right.legend(frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3,
                 fontsize=8)
    fig.tight_layout()
    return fig


@figure(
    "transformer-attention-map",
    alt="Cross-attention of the trained Transformer on one held-out number, one panel per "
    "decoder layer (weights averaged over the heads): one row per output digit, one column "
    "per source word. In the last layer the weights follow the source in order, though not "
    "sharply: each digit puts most of its weight on the word that says it, and the zeros on "
    "the words that imply them (hundred, million). It is the alignment of the RNN with "
    "attention, learned without any recurrence.",
)
def transformer_attention_map() -> plt.Figure:
    from llm_evolution import translation, zoo

    data = translation.translation_data("numbers")
    source, _ = data.held_out_pairs[translation.ATTENTION_EXAMPLE_INDEX]
    words, outputs, weights = translation.transformer_attention_map(
        zoo.get("transformer-translator").model, data, source)
    n_layers = weights.size(0)
    fig, axes = plt.subplots(1, n_layers, squeeze=False,
                             figsize=(n_layers * (0.32 * len(words) + 1.2) + 1.2,
                                      0.36 * len(outputs) + 2.2))
    for layer, ax in enumerate(axes[0]):
        image = ax.imshow(weights[layer].numpy(), cmap="viridis", vmin=0, vmax=1,
                          aspect="auto")
        ax.set_xticks(range(len(words)), words, rotation=70, ha="right", fontsize=8)
        ax.set_yticks(range(len(outputs)), outputs if layer == 0 else [""] * len(outputs))
        ax.set_title(f"decoder layer {layer + 1}", fontsize=10)
        ax.set_xlabel("source word")
        ax.grid(False)
    axes[0][0].set_ylabel("output token")
    colorbar = fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02, pad=0.02)
    colorbar.set_label("attention weight (mean over heads)")
    colorbar.outline.set_visible(False)
    return fig


@lru_cache(maxsize=1)
def speed_measurements() -> tuple[dict, dict, dict]:
    """Seconds per step of each model: on the task's batches, by sequence length, and at
    length 128 on one and two cores. Measured once per process, so that the light and the
    dark figure show the same numbers."""
    from llm_evolution.timing import SPEED_LENGTHS, step_seconds_by_length, task_step_seconds

    task = task_step_seconds(list(SPEED_MODELS))  # the page's measurements, read from the cache
    by_length = {name: step_seconds_by_length(name, SPEED_LENGTHS) for name in SPEED_MODELS}
    by_cores = {cores: [step_seconds_by_length(name, (128,), repeats=1, threads=cores)[128]
                        for name in SPEED_MODELS]  # the page's calls, read from the cache
                for cores in (1, 2)}
    return task, by_length, by_cores


@figure(
    "training-speed",
    alt="Three panels measured on the machine that built the site. Left: held-out exact-match "
    "accuracy against estimated training time (training steps times measured seconds per "
    "step) for the RNN, the RNN with attention and the Transformer. Middle: seconds per "
    "training step against sequence length, on logarithmic axes. Right: seconds per step at "
    "length 128 on one processor core and on two. The times differ from machine to machine; "
    "the page prints the ones behind each panel.",
)
def training_speed() -> plt.Figure:
    from llm_evolution import zoo

    seconds, by_length, by_cores = speed_measurements()
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.9),
                                              gridspec_kw={"width_ratios": [1.2, 1, 0.8]})
    for (name, label), marker in zip(SPEED_MODELS.items(), "os^"):
        history = zoo.get(name).history
        minutes = [step * seconds[name] / 60 for step in history.steps]
        left.plot(minutes, [100 * a for a in history.metrics["accuracy"]], marker=marker,
                  markersize=3, label=label)
        middle.plot(list(by_length[name]), list(by_length[name].values()), marker=marker,
                    label=label)
    left.set_xlabel("estimated training time here (minutes)")
    left.set_ylabel("held-out exact match (%)")
    left.set_ylim(0, 102)
    left.legend(frameon=False, loc="lower right")
    middle.set_xscale("log", base=2)
    middle.set_yscale("log")
    middle.set_xlabel("source and target length (tokens)")
    middle.set_ylabel("seconds per training step")
    width = 0.38
    for offset, (n_threads, heights), color in zip([-width / 2, width / 2], by_cores.items(),
                                                   ["C4", "C5"]):
        right.bar([i + offset for i in range(len(SPEED_MODELS))], heights, width,
                  color=color, label=f"{n_threads} core{'s' if n_threads > 1 else ''}")
    right.set_xticks(range(len(SPEED_MODELS)), list(SPEED_MODELS.values()), fontsize=8)
    right.set_ylabel("seconds per step, length 128")
    right.legend(frameon=False, loc="upper right")
    right.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig


# Concept diagrams. Sizes come from the config the chapter trains, so the pictures cannot
# drift from the code; the attention numbers of the step-through are illustrative, not measured.

def _translator_config() -> dict:
    from llm_evolution.recipes.chapter03 import TRANSFORMER_TRANSLATOR

    return TRANSFORMER_TRANSLATOR.config


def _matrix(ax, x: float, top: float, rows, role: str, *, cell: float = 0.22) -> None:
    """A matrix drawn as a stack of vector bars, one per row (a position), centred at ``x``,
    its first row at height ``top``: a private compound of :func:`diagrams.vector_bar`."""
    from llm_evolution.figures.diagrams import vector_bar

    for i, row in enumerate(rows):
        vector_bar(ax, x, top - i * cell, row, role, cell=cell, height=cell)


def _pattern(n_rows: int, n_cols: int, seed: int) -> list[list[float]]:
    """Fixed made-up shadings in 0..1 for schematic vectors (no randomness, same every build)."""
    return [[0.15 + 0.7 * ((seed + 3 * i + 5 * j) % 7) / 6 for j in range(n_cols)]
            for i in range(n_rows)]


# Block sizes of the architecture diagram, in box units.
_BLOCK_WIDTH, _SUBLAYER_HEIGHT, _NORM_HEIGHT, _GAP = 3.6, 0.55, 0.4, 0.3


def _layer_column(ax, cx: float, y: float, sublayers: list[str], below: float, side: int,
                  *, feed_y: float) -> dict[str, float]:
    """One Transformer layer drawn upwards from ``y``: each sublayer followed by its "add &
    norm" (post-LN), with a residual arrow around it on ``side`` (-1 left, +1 right).
    ``below`` is the top of the block feeding the layer, ``feed_y`` its centre. Returns the
    centre of each sublayer and the top of the column (``"top"``)."""
    from llm_evolution.figures.diagrams import arrow, layer_block

    centres: dict[str, float] = {}
    edge = cx + side * _BLOCK_WIDTH / 2
    for label in sublayers:
        centre = y + _SUBLAYER_HEIGHT / 2
        arrow(ax, (cx, below), (cx, y))
        layer_block(ax, cx, centre, _BLOCK_WIDTH, _SUBLAYER_HEIGHT, label, fontsize=9)
        centres[label] = centre
        norm_bottom = y + _SUBLAYER_HEIGHT + _GAP
        norm_centre = norm_bottom + _NORM_HEIGHT / 2
        arrow(ax, (cx, y + _SUBLAYER_HEIGHT), (cx, norm_bottom))
        layer_block(ax, cx, norm_centre, _BLOCK_WIDTH, _NORM_HEIGHT, "add & norm", fontsize=9)
        arrow(ax, (edge, feed_y), (edge, norm_centre), curve=0.4 * side)  # the residual
        below, feed_y = norm_bottom + _NORM_HEIGHT, norm_centre
        y = below + _GAP
    centres["top"] = below
    return centres


@diagram(
    "transformer-architecture",
    alt="The Transformer encoder-decoder of this chapter, drawn bottom to top. On the left the "
    "encoder: source words are embedded, the position pattern is added, and a layer of "
    "self-attention and a feed-forward network, each followed by adding its input back (a "
    "residual) and a layer norm, is repeated three times. On the right the decoder does the "
    "same with the target so far, with a masked self-attention and a cross-attention that "
    "reads the encoder's output, and ends in a linear layer and a softmax that predict the "
    "next tokens. The sizes written on the blocks are those of the model the chapter trains.",
)
def transformer_architecture() -> plt.Figure:
    from llm_evolution.figures.diagrams import arrow, canvas, frame, layer_block, token_box

    config = _translator_config()
    d_model, n_heads, d_ff = config["d_model"], config["n_heads"], config["d_ff"]
    n_layers = config["n_layers"]
    width, height = 10.4, 9.4
    fig, ax = canvas(width, height)
    encoder_x, decoder_x = 2.55, 7.85
    ffn = f"feed-forward {d_model}→{d_ff}→{d_model}"
    heads = f", {n_heads} heads"
    columns = {
        encoder_x: (["ninety", "two"], ["self-attention" + heads, ffn],
                    f"encoder layer ×{n_layers}", -1),
        decoder_x: (["<bos>", "9", "2"], ["masked self-attention" + heads,
                                          "cross-attention" + heads, ffn],
                    f"decoder layer ×{n_layers}", +1),
    }
    tops = {}
    for cx, (tokens, sublayers, label, side) in columns.items():
        pitch = 1.15
        for i, token in enumerate(tokens):
            token_box(ax, cx + (i - (len(tokens) - 1) / 2) * pitch, 0.45, token)
        arrow(ax, (cx, 0.75), (cx, 1.25))
        layer_block(ax, cx, 1.55, _BLOCK_WIDTH, 0.6, f"embedding + positions, {d_model} wide",
                    fontsize=9)
        centres = _layer_column(ax, cx, 2.45, sublayers, below=1.85, side=side, feed_y=1.55)
        frame(ax, cx - _BLOCK_WIDTH / 2 - 0.5, 2.2, _BLOCK_WIDTH + 1.0,
              centres["top"] + 0.25 - 2.2, label)
        tops[cx] = centres
    # The encoder's output is the keys and values of every cross-attention.
    cross_y = tops[decoder_x]["cross-attention" + heads]
    start = (encoder_x, tops[encoder_x]["top"])
    arrow(ax, start, (decoder_x - _BLOCK_WIDTH / 2, cross_y), curve=-0.45)
    ax.text(4.45, 5.82, "keys and values", ha="center", va="bottom", fontsize=9)
    top = tops[decoder_x]["top"]
    arrow(ax, (decoder_x, top), (decoder_x, top + 0.85))
    layer_block(ax, decoder_x, top + 1.15, _BLOCK_WIDTH, 0.6, "linear + softmax", fontsize=9)
    arrow(ax, (decoder_x, top + 1.45), (decoder_x, top + 1.8))
    for i, token in enumerate(["9", "2", "<eos>"]):
        token_box(ax, decoder_x + (i - 1) * 1.15, top + 2.1, token, "output")
    return fig


@diagram(
    "scaled-dot-product-attention",
    alt="Scaled dot-product attention as a flow from left to right. The queries Q and the keys "
    "K, one row per position, are multiplied into a table of scores and divided by the square "
    "root of their size d; an optional mask forbids some pairs; a softmax turns each row of "
    "scores into weights that sum to one; and the weights average the values V, one row per "
    "position, into the output.",
)
def scaled_dot_product_attention_diagram() -> plt.Figure:
    from llm_evolution.figures.diagrams import arrow, canvas, layer_block

    fig, ax = canvas(11.2, 3.7)
    matrices = {"query": ("Q", 2.95, 0), "key": ("K", 1.75, 2), "value": ("V", 0.75, 4)}
    for role, (name, top, seed) in matrices.items():
        _matrix(ax, 1.0, top, _pattern(3, 4, seed), role)
        ax.text(0.3, top - 0.22, name, ha="center", va="center", fontsize=11)
    blocks = [(3.15, 1.9, "scores\n$QK^\\top / \\sqrt{d}$", "one per pair"),
              (5.25, 1.3, "mask", "optional"),
              (7.05, 1.5, "softmax", "rows sum to 1"),
              (8.95, 1.5, "weighted\nsum of V", "")]
    y = 2.3
    for (x, w, label, note), (next_x, next_w, *_) in zip(blocks, blocks[1:] + [(10.55, 0.9)]):
        layer_block(ax, x, y, w, 0.95, label, fontsize=9)
        if note:
            ax.text(x, y - 0.62, note, ha="center", va="top", fontsize=9, style="italic")
        arrow(ax, (x + w / 2, y), (next_x - next_w / 2, y))
    arrow(ax, (1.5, 2.73), (3.15 - 0.95, 2.5), "query")
    arrow(ax, (1.5, 1.53), (3.15 - 0.95, 2.1), "key")
    arrow(ax, (1.5, 0.53), (8.95, y - 0.475), "value", curve=0.15)
    _matrix(ax, 10.55, 2.52, _pattern(3, 4, 6), "output")
    ax.text(10.55, 2.85, "output", ha="center", va="bottom", fontsize=9)
    return fig


@diagram(
    "multi-head-attention",
    alt="Multi-head attention, bottom to top, with the sizes of the chapter's Transformer. The "
    "input vectors go to four heads side by side; each head projects them to its own smaller "
    "queries, keys and values and runs its own attention. The heads' outputs are joined end "
    "to end into one vector of the model's width, and a last linear projection mixes them "
    "into the output.",
)
def multi_head_attention_diagram() -> plt.Figure:
    from llm_evolution.figures.diagrams import (arrow, canvas, frame, layer_block, token_box,
                                                vector_bar)

    config = _translator_config()
    d_model, n_heads = config["d_model"], config["n_heads"]
    d_head = d_model // n_heads
    pitch = 2.35
    width = n_heads * pitch + 0.6
    centre = width / 2
    fig, ax = canvas(width, 6.6)
    vector_bar(ax, centre, 0.4, _pattern(1, 8, 1)[0], "token", cell=0.3, height=0.3)
    ax.text(centre + 1.45, 0.4, f"input, {d_model}", ha="left", va="center", fontsize=9)
    segment = 4 * 0.3  # each head's part of the joined vector: four cells
    for head in range(n_heads):
        x = 0.3 + pitch * (head + 0.5)
        arrow(ax, (centre, 0.55), (x, 1.1))
        frame(ax, x - 1.05, 1.1, 2.1, 1.75, f"head {head + 1}")
        for offset, (name, role) in zip((-0.65, 0, 0.65),
                                        [("Q", "query"), ("K", "key"), ("V", "value")]):
            token_box(ax, x + offset, 1.55, name, role, width=0.5, height=0.45, fontsize=9)
            arrow(ax, (x + offset, 1.775), (x + offset * 0.6, 2.1), role)
        layer_block(ax, x, 2.35, 1.8, 0.5, "attention", fontsize=9)
        part_x = centre + (head - (n_heads - 1) / 2) * segment
        shading = _pattern(1, 4, head)[0]  # the head's output, then its part of the join
        arrow(ax, (x, 2.6), (x, 3.3))
        vector_bar(ax, x, 3.45, shading, "output", cell=0.3, height=0.3)
        arrow(ax, (x, 3.6), (part_x, 4.25))
        vector_bar(ax, part_x, 4.4, shading, "output", cell=0.3, height=0.3)
    ax.text(centre + n_heads * segment / 2 + 0.15, 4.4, f"joined, {n_heads} × {d_head}",
            ha="left", va="center", fontsize=9)
    arrow(ax, (centre, 4.55), (centre, 5.0))
    layer_block(ax, centre, 5.3, 4.2, 0.6, f"output projection {d_model}→{d_model}",
                fontsize=9)
    arrow(ax, (centre, 5.6), (centre, 6.05))
    vector_bar(ax, centre, 6.2, _pattern(1, 8, 5)[0], "output", cell=0.3, height=0.3)
    ax.text(centre + 1.45, 6.2, f"output, {d_model}", ha="left", va="center", fontsize=9)
    return fig


def _mask_grid(ax, left: float, top: float, tokens: list[str], allowed, title: str) -> None:
    """Who may see whom: one row per query (the position that looks), one column per key (the
    position looked at), 1 where attending is allowed and 0 where the mask forbids it."""
    from llm_evolution.figures.diagrams import frame, token_box

    pitch_x, pitch_y, n = 0.8, 0.68, len(tokens)
    first_x = left + 1.5
    for i, token in enumerate(tokens):
        token_box(ax, first_x + i * pitch_x, top + 0.72, token, "key", width=0.72,
                  height=0.5, fontsize=9)
        token_box(ax, left + 0.6, top - i * pitch_y, token, "query", width=0.9, height=0.5,
                  fontsize=9)
        for j in range(n):
            ok = allowed(i, j)
            token_box(ax, first_x + j * pitch_x, top - i * pitch_y, "1" if ok else "0",
                      None if ok else "highlight", width=0.72, height=0.58, fontsize=9)
    frame(ax, left, top - (n - 1) * pitch_y - 0.45, 1.25 + n * pitch_x,
          (n - 1) * pitch_y + 1.55, title)


@diagram(
    "attention-masks",
    alt="Two small grids of who may look at whom, one row per position that looks and one "
    "column per position it looks at, 1 where attending is allowed and 0 where it is "
    "forbidden. Left, the padding mask of a three-word sentence padded to five positions: "
    "every row may look at the three words and no row at the two padding positions. Right, "
    "the causal mask of four positions: each row may look at itself and the positions "
    "before it, never after.",
)
def attention_masks() -> plt.Figure:
    from llm_evolution.figures.diagrams import canvas

    fig, ax = canvas(10.15, 4.85)
    padded = ["the", "cat", "sat", "<pad>", "<pad>"]
    _mask_grid(ax, 0.1, 3.3, padded, lambda i, j: padded[j] != "<pad>",
               "padding: no one looks at <pad>")
    _mask_grid(ax, 5.55, 3.3, ["<bos>", "the", "cat", "sat"], lambda i, j: j <= i,
               "causal: itself and earlier only")
    return fig


# The step-through: one word's output, with made-up but plausible numbers.
_STEP_WORDS = ["the", "cat", "ate", "so", "it", "slept"]
_STEP_QUERY = 4  # "it" asks; most of its weight goes to "cat"
_STEP_SCORES = [0.2, 3.1, 0.9, 0.3, 1.4, 1.0]  # in the order of query . key
_STEP_QUERY_VECTOR = [0.9, 0.7, 0.2, 0.1]  # close to the key of "cat"
_STEP_KEYS = [[0.2, 0.1, 0.7, 0.3], [0.9, 0.8, 0.1, 0.2], [0.3, 0.2, 0.5, 0.8],
              [0.1, 0.3, 0.6, 0.2], [0.5, 0.4, 0.3, 0.3], [0.4, 0.3, 0.2, 0.9]]
_STEP_VALUES = [[0.2, 0.6, 0.1, 0.3], [0.9, 0.1, 0.8, 0.2], [0.3, 0.5, 0.2, 0.9],
                [0.1, 0.2, 0.4, 0.3], [0.5, 0.3, 0.6, 0.4], [0.2, 0.9, 0.3, 0.6]]
# Weights of every position (rows) over every position (columns), for the matrix step; the
# row of "it" is the softmax of _STEP_SCORES.
_STEP_OTHER_ROWS = {0: [0.40, 0.35, 0.10, 0.05, 0.05, 0.05],
                    1: [0.15, 0.55, 0.15, 0.05, 0.05, 0.05],
                    2: [0.05, 0.45, 0.35, 0.05, 0.05, 0.05],
                    3: [0.05, 0.15, 0.25, 0.30, 0.05, 0.20],
                    5: [0.05, 0.35, 0.10, 0.05, 0.25, 0.20]}
_STEP_TITLES = ["the query of it meets every key", "softmax: scores become weights",
                "the weighted sum of the values", "every position at once"]
_STEP_ALTS = [
    "Step 1 of attention computing the new vector of one word, with illustrative numbers. The "
    "sentence 'the cat ate so it slept' is shown as six tokens, each with its key vector. The "
    "query vector of 'it' is compared with every key by a dot product, giving one score per "
    "word; the score for 'cat' is the largest.",
    "Step 2, with illustrative weights. A softmax turns the six scores into six weights that "
    "sum to one. Lines from the query of 'it' to each word are drawn as thick as the weight: "
    "the line to 'cat' is by far the thickest, the others are thin.",
    "Step 3, with illustrative weights. Each word's value vector is multiplied by its weight "
    "and the results are added up: lines from the values to the output of 'it' are as thick "
    "as the weights, so the output looks mostly like the value of 'cat'.",
    "Step 4, with illustrative weights. Every word does the same at once: the table of "
    "weights, one row per word, times the table of values gives one output row per word, in "
    "a single matrix product. The framed row is the one computed in steps 1 to 3.",
]


def _step_weights() -> list[float]:
    import math

    exps = [math.exp(s) for s in _STEP_SCORES]
    return [e / sum(exps) for e in exps]


def _weighted_sum(weights, vectors) -> list[float]:
    return [sum(w * v[k] for w, v in zip(weights, vectors)) for k in range(len(vectors[0]))]


def _attention_step(step: int) -> plt.Figure:
    """Step ``step`` (1..4) of the attention step-through, on a canvas shared by all steps."""
    from llm_evolution.figures.diagrams import (arrow, attention_lines, canvas, frame,
                                                step_badge, token_box, vector_bar)

    fig, ax = canvas(9.4, 4.9)
    step_badge(ax, 0.3, 4.6, step)
    ax.text(0.65, 4.6, _STEP_TITLES[step - 1], ha="left", va="center", fontsize=10)
    weights = _step_weights()
    if step == 4:
        rows = [_STEP_OTHER_ROWS.get(i, weights) for i in range(len(_STEP_WORDS))]
        top, cell = 3.55, 0.45
        for i, word in enumerate(_STEP_WORDS):
            token_box(ax, 0.75, top - i * 0.5, word, "query" if i == _STEP_QUERY else None,
                      width=0.95, height=0.42, fontsize=9)
        outputs = [_weighted_sum(row, _STEP_VALUES) for row in rows]
        for x, table, role, label in [(2.95, rows, "highlight", "weights"),
                                      (5.75, _STEP_VALUES, "value", "values"),
                                      (8.35, outputs, "output", "outputs")]:
            for i, row in enumerate(table):
                vector_bar(ax, x, top - i * 0.5, row, role, cell=cell, height=0.4)
            ax.text(x, top + 0.35, label, ha="center", va="bottom", fontsize=9)
        ax.text(4.55, top - 1.25, "×", ha="center", va="center", fontsize=14)
        ax.text(7.1, top - 1.25, "=", ha="center", va="center", fontsize=14)
        frame(ax, 0.2, top - _STEP_QUERY * 0.5 - 0.27, 9.05, 0.54)
        ax.text(4.7, 0.35, "softmax$(QK^\\top/\\sqrt{d})\\,V$: one matrix product",
                ha="center", va="center", fontsize=10)
        return fig
    xs = [1.85 + 1.37 * i for i in range(len(_STEP_WORDS))]
    rows = {"tokens": 0.45, "keys": 1.1, "scores": 1.75, "weights": 2.5, "values": 3.25}
    query_x, top = xs[_STEP_QUERY], 4.05
    shown = {1: ["tokens", "keys", "scores"], 2: ["tokens", "scores", "weights"],
             3: ["tokens", "weights", "values"]}[step]
    for name in shown:
        ax.text(0.15, rows[name], name, ha="left", va="center", fontsize=9, style="italic")
    for i, (x, word) in enumerate(zip(xs, _STEP_WORDS)):
        token_box(ax, x, rows["tokens"], word, "query" if i == _STEP_QUERY else None)
        if step == 1:
            vector_bar(ax, x, rows["keys"], _STEP_KEYS[i], "key")
            arrow(ax, (x, rows["keys"] + 0.11), (x, rows["scores"] - 0.25), "key")
            arrow(ax, (query_x, top - 0.11), (x, rows["scores"] + 0.25), "query", width=0.8)
        if step in (1, 2):
            token_box(ax, x, rows["scores"], f"{_STEP_SCORES[i]:.1f}",
                      "highlight" if step == 1 else None, height=0.5, fontsize=9)
        if step == 2:
            arrow(ax, (x, rows["scores"] + 0.25), (x, rows["weights"] - 0.25))
        if step in (2, 3):
            token_box(ax, x, rows["weights"], f"{weights[i]:.2f}",
                      "highlight" if step == 2 else None, height=0.5, fontsize=9)
        if step == 3:  # each value, scaled by its weight
            arrow(ax, (x, rows["weights"] + 0.25), (x, rows["values"] - 0.11))
            vector_bar(ax, x, rows["values"], _STEP_VALUES[i], "value")
    if step == 2:
        attention_lines(ax, [(x, rows["weights"] + 0.25) for x in xs], [(query_x, top - 0.11)],
                        [weights], "query")
    if step == 3:
        attention_lines(ax, [(x, rows["values"] + 0.11) for x in xs], [(query_x, top - 0.11)],
                        [weights], "value")
    vector = _weighted_sum(weights, _STEP_VALUES) if step == 3 else _STEP_QUERY_VECTOR
    vector_bar(ax, query_x, top, vector, "output" if step == 3 else "query")
    ax.text(query_x + 0.6, top, "output of it" if step == 3 else "query of it", ha="left",
            va="center", fontsize=9)
    return fig


def _register_attention_steps() -> None:
    for step, alt in enumerate(_STEP_ALTS, start=1):
        def draw(step: int = step) -> plt.Figure:
            return _attention_step(step)

        draw.__qualname__ = draw.__name__ = f"attention_step_{step}"
        diagram(f"attention-step-{step}", alt=alt)(draw)


_register_attention_steps()
