"""Figures of chapter 5 (BERT): its two concept diagrams (pretraining then fine-tuning, and the
80/10/10 masking of one line), and attention maps of the real pretrained MiniLM."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure

ATTENTION_SENTENCE = "The keys to the cabinet are on the table."
# (layer, head), counted from 1 as on the page: a previous-token head and a next-token head.
ATTENTION_HEADS = [(1, 3), (2, 9)]

FONT = 9  # every label of the diagrams


def _box_width(text: str, fontsize: float = FONT, least: float = 0.8) -> float:
    """Width of a token box that fits ``text`` in DejaVu Sans Mono at ``fontsize``."""
    return max(least, 0.0135 * fontsize * len(text) + 0.25)


def _token_row(ax, x: float, y: float, texts: list[str], roles: list[str | None],
               step: float = 0.95) -> list[float]:
    """Token boxes ``step`` apart from ``x`` (the first centre) at height ``y``; a blank
    text draws nothing. Returns the centres."""
    from llm_evolution.figures import diagrams as d

    centres = [x + i * step for i in range(len(texts))]
    for centre, text, role in zip(centres, texts, roles):
        if text:
            d.token_box(ax, centre, y, text, role, width=min(step - 0.08, _box_width(text)),
                        fontsize=FONT)
    return centres


# The pictures' own example words (a line of Hamlet; the genre task's labels are real).
PRETRAIN_WORDS = ["to", "be", "or", "not", "to", "be"]
PRETRAIN_HIDDEN = (2, 4)  # positions shown as [MASK]
FINETUNE_WORDS = ["good", "night", "sweet", "prince"]  # Hamlet, a tragedy


@diagram(
    "bert-pretrain-finetune",
    alt="BERT's two steps, side by side. Left, pretraining on unlabelled text: some words of "
    "a line are replaced by a mask token, the encoder reads the whole line, both sides of "
    "each gap, and predicts the hidden words. Right, fine-tuning: the same encoder, its "
    "weights copied from pretraining, gets a new small head on top that says whether a "
    "speech comes from a comedy or a tragedy, trained on a few labelled speeches.",
)
def bert_pretrain_finetune() -> plt.Figure:
    from llm_evolution.figures import diagrams as d
    from llm_evolution.pretraining import GENRES, LABEL_COUNTS, MASK_ID, SPECIAL_TOKENS
    from llm_evolution.recipes.chapter05 import BERT_MLM

    mask = SPECIAL_TOKENS[MASK_ID]
    config = BERT_MLM.config
    encoder = f"BERT encoder\n{config['n_layers']} layers, {config['d_model']} wide"
    fig, ax = d.canvas(12.4, 5.7)
    token_y, block_y, top_y = 0.95, 2.55, 4.2
    # Left: pretraining. Hidden words become [MASK]; the model predicts them.
    d.frame(ax, 0.1, 0.3, 5.6, 4.75, "pretraining: no labels", fontsize=FONT)
    d.step_badge(ax, 0.45, 4.7, 1)
    shown = [mask if i in PRETRAIN_HIDDEN else w for i, w in enumerate(PRETRAIN_WORDS)]
    roles = ["highlight" if i in PRETRAIN_HIDDEN else "token" for i in range(len(shown))]
    xs = _token_row(ax, 0.65, token_y, shown, roles, step=0.9)
    for x in xs:
        d.arrow(ax, (x, token_y + 0.32), (x, block_y - 0.47))
    d.layer_block(ax, 2.9, block_y, 5.2, 0.9, encoder, fontsize=FONT)
    for i in PRETRAIN_HIDDEN:
        d.arrow(ax, (xs[i], block_y + 0.47), (xs[i], top_y - 0.32))
        d.token_box(ax, xs[i], top_y, PRETRAIN_WORDS[i], "output", fontsize=FONT)
    # Right: fine-tuning. The same encoder, copied, and a new head that reads a label.
    d.frame(ax, 6.7, 0.3, 5.6, 4.75,
            f"fine-tuning: {' or '.join(map(str, LABEL_COUNTS))} labels",
            fontsize=FONT)
    d.step_badge(ax, 7.05, 4.7, 2)
    xs = _token_row(ax, 8.0, token_y, FINETUNE_WORDS, ["token"] * len(FINETUNE_WORDS),
                    step=1.0)
    for x in xs:
        d.arrow(ax, (x, token_y + 0.32), (x, block_y - 0.47))
    d.layer_block(ax, 9.5, block_y, 5.2, 0.9, "the same encoder", fontsize=FONT)
    d.arrow(ax, (5.5, block_y), (6.9, block_y), dashed=True)
    ax.text(6.2, block_y + 0.12, "copied", ha="center", va="bottom", fontsize=FONT)
    head_x, head_y = 8.4, 3.65
    d.arrow(ax, (head_x, block_y + 0.47), (head_x, head_y - 0.25))
    d.layer_block(ax, head_x, head_y, 1.7, 0.5, "new head", "highlight", fontsize=FONT)
    d.arrow(ax, (head_x + 0.85, head_y), (head_x + 1.45, head_y))
    label = GENRES[1]
    d.token_box(ax, head_x + 2.05, head_y, label, "output", width=_box_width(label),
                fontsize=FONT)
    ax.text(head_x + 2.05, head_y + 0.38, f"{' or '.join(GENRES)}?", ha="center",
            va="bottom", fontsize=FONT)
    return fig


# The masking picture: one line of the plays, corrupted by the chapter's own mask_tokens at
# BERT's rate, with a seed picked so that each case of the 80/10/10 rule shows once (three
# chosen tokens of eight: more than the usual share, so that one line shows them all).
MASK_LINE = "All the world's a stage,"  # As You Like It, act 2, scene 7
MASK_SEED = 550
MASK_KINDS = {"mask": "[MASK]\n80%", "random": "random\n10%", "kept": "kept\n10%"}
# What the chapter's prose says the picture shows (8 tokens; All kept, the masked, world
# replaced by Edmund): drawing fails if the tokenizer or the masking code ever changes it.
MASK_EXPECTED = {"tokens": 8, "kept": "All", "mask": "the", "random": ("world", "Edmund")}


def masking_example() -> tuple[list[str], list[str], list[str | None], list[str | None]]:
    """(original tokens, corrupted input, targets (None where not chosen), what happened at
    each position: "mask", "random", "kept" or None), from the chapter's ``mask_tokens``."""
    import torch

    from llm_evolution.models.bert import IGNORE_INDEX
    from llm_evolution.pretraining import MASK_ID, bert_tokenizer, mask_tokens
    from llm_evolution.recipes.chapter05 import BERT_MLM

    tokenizer = bert_tokenizer(BERT_MLM.config["vocab_size"])
    ids = torch.tensor([tokenizer.encode(MASK_LINE)])
    inputs, labels = mask_tokens(ids, tokenizer.vocab_size,
                                 torch.Generator().manual_seed(MASK_SEED))
    text = [tokenizer.decode([i]) for i in ids[0].tolist()]
    shown = [tokenizer.decode([i]) for i in inputs[0].tolist()]
    targets = [tokenizer.decode([t]) if t != IGNORE_INDEX else None for t in labels[0].tolist()]
    kinds = [None if t is None else "mask" if i == MASK_ID else "kept" if s == o else "random"
             for t, i, s, o in zip(targets, inputs[0].tolist(), shown, text)]
    return text, shown, targets, kinds


@diagram(
    "masking-80-10-10",
    alt="One line of the plays, cut into the tokens of our BERT's vocabulary, corrupted by "
    "the chapter's masking code. Top row: the original tokens. Middle row: the model's "
    "input, where one chosen token became the mask token, one a random token of the "
    "vocabulary and one was kept as it was. Bottom row: what the model must predict, the "
    "original token at the chosen positions only.",
)
def masking_80_10_10() -> plt.Figure:
    from llm_evolution.figures import diagrams as d

    text, shown, targets, kinds = masking_example()
    found = {"tokens": len(text)}
    for original, corrupted, kind in zip(text, shown, kinds):
        if kind == "random":
            found[kind] = (original.strip(), corrupted.strip())
        elif kind:
            found[kind] = original.strip()
    if found != MASK_EXPECTED:
        raise ValueError(f"MASK_SEED={MASK_SEED} on {MASK_LINE!r} now gives {found}, not "
                         f"{MASK_EXPECTED}: pick a seed that shows each case of the 80/10/10 "
                         "rule once, and update MASK_EXPECTED and the prose of chapter 5")
    widths = [max(_box_width(t.strip()), _box_width(s.strip())) for t, s in zip(text, shown)]
    label_width, gap = 1.25, 0.12
    lefts = [label_width + sum(widths[:i]) + gap * i for i in range(len(widths))]
    xs = [left + w / 2 for left, w in zip(lefts, widths)]
    fig, ax = d.canvas(lefts[-1] + widths[-1] + 0.15, 3.8)
    rows = {"line": 3.4, "input": 2.2, "target": 0.4}
    for name, y in rows.items():
        ax.text(0.05, y, name, ha="left", va="center", fontsize=FONT, style="italic")
    for x, w, original, corrupted, target, kind in zip(xs, widths, text, shown, targets, kinds):
        d.token_box(ax, x, rows["line"], original.strip(), "token", width=w, fontsize=FONT)
        d.token_box(ax, x, rows["input"], corrupted.strip(), "highlight" if kind else "token",
                    width=w, fontsize=FONT)
        if kind:  # what the rule did here, under the input; the target under that
            d.arrow(ax, (x, rows["line"] - 0.32), (x, rows["input"] + 0.32))
            ax.text(x, rows["input"] - 0.4, MASK_KINDS[kind], ha="center", va="top",
                    fontsize=FONT, linespacing=1.1)
            d.token_box(ax, x, rows["target"], target.strip(), "output", width=w,
                        fontsize=FONT)
    return fig


@figure(
    "bert-attention-map",
    alt="Attention weights of two heads of the pretrained all-MiniLM-L6-v2, loaded into our "
    f"BERT, on the sentence '{ATTENTION_SENTENCE}', as heatmaps: one row per token that "
    "looks, one column per token looked at, brighter for more weight. Left: layer "
    f"{ATTENTION_HEADS[0][0]}, head {ATTENTION_HEADS[0][1]}; right: layer "
    f"{ATTENTION_HEADS[1][0]}, head {ATTENTION_HEADS[1][1]}. The text around the figure "
    "says what each head attends to.",
)
def bert_attention_map() -> plt.Figure:
    from llm_evolution.embeddings import attention_maps
    from llm_evolution.interop.hf import bert_from_hf, load_minilm

    hf_model, tokenizer = load_minilm()
    tokens, weights = attention_maps(bert_from_hf(hf_model), tokenizer, ATTENTION_SENTENCE)
    fig, axes = plt.subplots(1, len(ATTENTION_HEADS), figsize=(10, 4.8))
    for ax, (layer, head) in zip(axes, ATTENTION_HEADS):
        image = ax.imshow(weights[layer - 1, head - 1].numpy(), cmap="viridis", vmin=0,
                          vmax=1)
        ax.set_xticks(range(len(tokens)), tokens, rotation=70, ha="right", fontsize=8)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
        ax.set_title(f"layer {layer}, head {head}", fontsize=10)
        ax.set_xlabel("token looked at")
        ax.grid(False)
    axes[0].set_ylabel("token looking")
    colorbar = fig.colorbar(image, ax=list(axes), fraction=0.025, pad=0.02)
    colorbar.set_label("attention weight")
    colorbar.outline.set_visible(False)
    return fig


@figure(
    "bert-pretraining",
    alt="Masked-LM pretraining of our tiny BERT on the plays. Left: training and held-out loss "
    "on the hidden tokens against training step, with a dashed line for the held-out loss of "
    "guessing every hidden token from word frequencies alone. Right: how often the hidden "
    "token is the model's first guess on held-out text, against training step, with the same "
    "frequency guesser as a dashed line. The final values are printed above the figure.",
)
def bert_pretraining() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.pretraining import frequency_baseline

    trained = zoo.get("bert-mlm")
    history = trained.history
    baseline_loss, baseline_accuracy = frequency_baseline(trained.recipe.config["vocab_size"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(history.steps, history.train_loss, label="training loss")
    left.plot(history.steps, history.val_loss, label="held-out loss")
    left.axhline(baseline_loss, linestyle="--", color="C2", label="word frequencies only")
    left.set_xlabel("training step")
    left.set_ylabel("cross-entropy on hidden tokens (nats)")
    left.legend(frameon=False)
    right.plot(history.steps, [100 * a for a in history.metrics["top-1 accuracy"]], color="C1",
               label="our BERT, held-out")
    right.axhline(100 * baseline_accuracy, linestyle="--", color="C2",
                  label="word frequencies only")
    right.set_xlabel("training step")
    right.set_ylabel("hidden token guessed first (%)")
    right.legend(frameon=False)
    fig.tight_layout()
    return fig


START_NAMES = {"scratch": "our BERT, from scratch",
               "pretrained": "our BERT, pretrained on the plays",
               "minilm": "MiniLM's vectors (fixed) + linear layer",
               "minilm-whole": "MiniLM, trained whole"}
START_STYLES = {"scratch": ("C0", -0.09), "pretrained": ("C1", -0.03),
                "minilm": ("C2", 0.03), "minilm-whole": ("C3", 0.09)}  # colour, x offset


def _sweep_panel(ax, results: dict[str, list[float]], test_labels: list[int],
                 title: str) -> None:
    """One task's few-label sweep: a dot per seed, a line through the means of each start
    (a lone marker where a start ran at one label count), and the majority answer dashed."""
    label_counts = sorted({int(key.split()[1]) for key in results})
    for start, (color, offset) in START_STYLES.items():
        counts = [n for n in label_counts if f"{start} {n}" in results]
        if not counts:
            continue
        xs = [label_counts.index(n) for n in counts]
        runs = [results[f"{start} {n}"] for n in counts]
        ax.plot([x + offset for x in xs], [100 * sum(r) / len(r) for r in runs], marker="o",
                color=color, label=START_NAMES[start])
        for x, run in zip(xs, runs):
            ax.scatter([x + offset] * len(run), [100 * a for a in run], color=color, s=12,
                       alpha=0.5)
    majority = max(test_labels.count(0), test_labels.count(1)) / len(test_labels)
    ax.axhline(100 * majority, linestyle="--", color="C4", label="always the commoner answer")
    ax.set_xticks(range(len(label_counts)), [str(n) for n in label_counts])
    ax.set_xlabel("labelled examples for training")
    ax.set_title(title, fontsize=10)


@figure(
    "bert-label-sweep",
    alt="Two panels of held-out accuracy against the number of labelled examples used for "
    "training. Left, telling comedy from tragedy by one speech; right, telling a line as "
    "written from the same line with its lower-case words shuffled. Each panel shows our "
    "tiny BERT from scratch, the same BERT after our masked-LM pretraining, the real "
    "MiniLM's fixed sentence vectors under a trained linear layer, and, at the fewest "
    "labels, MiniLM trained whole; one dot per seed, lines through the means, and a "
    "dashed line for always giving the commoner answer. The numbers are in the tables above "
    "the figure.",
)
def bert_label_sweep() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.acceptability import acceptability_lines, acceptability_sweep
    from llm_evolution.pretraining import genre_speeches

    fig, (genre, order) = plt.subplots(1, 2, figsize=(9.5, 4.8), sharey=True)
    _sweep_panel(genre, zoo.get("bert-genre").history.metrics,
                 [speech.label for speech in genre_speeches()["test"]],
                 "comedy or tragedy? (one speech)")
    _sweep_panel(order, acceptability_sweep(),
                 [line.label for line in acceptability_lines()["test"]],
                 "as written or shuffled? (one line)")
    genre.set_ylabel("held-out accuracy (%)")
    # One legend for both panels, under them, where it covers no dot.
    fig.legend(*order.get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False,
               fontsize=9)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    return fig
