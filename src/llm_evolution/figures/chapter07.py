"""Figures of chapter 7: the concept diagram (solved examples in a prompt, against the same
examples used for fine-tuning), the few-shot accuracy of the tiny GPT against the number of
examples in its prompt, on held-out rules and on training rules, with chance and the best
possible, and the attention of its strongest induction head on one prompt."""

from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt

from llm_evolution.figures import diagram, figure
from llm_evolution.in_context_scores import EVALUATION_SEEDS, SHOTS, accuracy_by_examples


@figure(
    "icl-accuracy",
    alt="Accuracy of the tiny GPT's answer against the number of solved examples in its "
    f"prompt ({', '.join(map(str, SHOTS))}), on rules it never saw in training and on rules "
    f"it was trained on, each point the mean of {len(EVALUATION_SEEDS)} evaluation seeds with "
    "a bar for their spread. A dotted line marks chance (1 in 16) and a dashed curve the best any "
    "learner can do with that many examples, about 32 percent with one example and 99 "
    "percent with eight. The model's accuracies are printed in the table above the figure.",
)
def icl_accuracy() -> plt.Figure:
    import statistics

    from llm_evolution.in_context import best_possible_accuracy

    table = accuracy_by_examples()  # the page's table, read from the cache
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for (name, by_shots), color, marker in zip(table.items(), ["C0", "C1"], "os"):
        means = [100 * statistics.mean(by_shots[k]) for k in SHOTS]
        spreads = [100 * statistics.stdev(by_shots[k]) for k in SHOTS]
        ax.errorbar(SHOTS, means, yerr=spreads, color=color, marker=marker, capsize=3,
                    label=f"model, {name}")
    ax.plot(SHOTS, [100 * best_possible_accuracy(k) for k in SHOTS], color="C2",
            linestyle="--", label="best possible")
    ax.axhline(100 / 16, color="C3", linestyle=":", label="chance (1 in 16)")
    ax.set_xticks(SHOTS)
    ax.set_xlabel("solved examples in the prompt")
    ax.set_ylabel("answers exactly right (%)")
    ax.set_ylim(0, 102)
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the concept diagram

FONT = 9  # every label of the diagram
EXAMPLE_WIDTH = 1.65  # a solved example "0110 > 0111" in a token box


def prompt_example() -> tuple[list[tuple[str, str]], str, str]:
    """(solved examples as (input, output) bits, query, answer): the page's first printed
    prompt, three examples of the first held-out rule, drawn with seed 0."""
    import torch

    from llm_evolution.data.tasks import EXAMPLE_LENGTH, N_BITS, split_rules
    from llm_evolution.in_context import make_prompts
    from llm_evolution.recipes.chapter07 import ICL_GPT

    rule = split_rules(ICL_GPT.config["n_held_out"])[1][0]
    examples, queries, answers = make_prompts([rule], k=3, n_per_rule=2,
                                              generator=torch.Generator().manual_seed(0))

    def bits(ids) -> str:
        return "".join(str(bit) for bit in ids.tolist())

    shown = examples[0].view(-1, EXAMPLE_LENGTH)  # each row x0 y0 x1 y1 ... ;
    pairs = [(bits(row[0 : 2 * N_BITS : 2]), bits(row[1 : 2 * N_BITS : 2])) for row in shown]
    return pairs, bits(queries[0]), bits(answers[0])


def _gpt_block(ax, x: float, y: float, what: str, role: str | None) -> None:
    from llm_evolution.figures import diagrams as d
    from llm_evolution.recipes.chapter07 import ICL_GPT

    config = ICL_GPT.config
    d.layer_block(ax, x, y, 1.75, 1.3,
                  f"GPT\n{config['n_layers']} layers,\n{config['d_model']} wide\n{what}",
                  role, fontsize=FONT)


@diagram(
    "prompt-vs-fine-tuning",
    alt="Two ways to give a model a new task, on this chapter's task of turning four bits "
    "into four bits by a hidden rule. Left, in-context learning: a prompt of three solved "
    "examples followed by a query goes into the tiny GPT, whose weights stay frozen, and "
    "the model writes the answer. Right, fine-tuning: the same three examples are used for "
    "gradient steps that change the GPT's weights; then the query goes in alone and the "
    "answer comes out.",
)
def prompt_vs_fine_tuning() -> plt.Figure:
    import inspect

    from llm_evolution.figures import diagrams as d
    from llm_evolution.in_context import fine_tune_vs_in_context

    steps = inspect.signature(fine_tune_vs_in_context).parameters["steps"].default
    pairs, query, answer = prompt_example()
    examples = [f"{x} > {y}" for x, y in pairs]
    asked = f"{query} > ?"
    fig, ax = d.canvas(12.2, 5.9)
    block_y, answer_y, top = 2.75, 4.55, 4.3
    # Left: the examples and the query are the prompt; the weights do not move.
    d.frame(ax, 0.1, 0.3, 5.8, 5.1, "in-context learning", fontsize=FONT)
    stack_x = 1.2
    ax.text(stack_x, top + 0.42, "prompt", ha="center", va="bottom", fontsize=FONT,
            style="italic")
    for i, text in enumerate([*examples, asked]):
        d.token_box(ax, stack_x, top - 0.7 * i, text, "token" if i < len(examples) else None,
                    width=EXAMPLE_WIDTH, fontsize=FONT)
    gpt_x = 4.2
    d.arrow(ax, (stack_x + EXAMPLE_WIDTH / 2 + 0.1, top - 1.05), (gpt_x - 0.9, block_y))
    _gpt_block(ax, gpt_x, block_y, "weights frozen", None)
    d.arrow(ax, (gpt_x, block_y + 0.67), (gpt_x, answer_y - 0.32))
    d.token_box(ax, gpt_x, answer_y, answer, "output", fontsize=FONT)
    ax.text(gpt_x + 0.55, answer_y, "answer", ha="left", va="center", fontsize=FONT)
    # Right: the same examples become gradient steps; then the query comes alone.
    d.frame(ax, 6.3, 0.3, 5.8, 5.1, "fine-tuning", fontsize=FONT)
    stack_x = 7.5
    ax.text(stack_x, top + 0.42, "training data", ha="center", va="bottom", fontsize=FONT,
            style="italic")
    for i, text in enumerate(examples):
        d.token_box(ax, stack_x, top - 0.7 * i, text, "token", width=EXAMPLE_WIDTH,
                    fontsize=FONT)
    gpt_x = 10.4
    d.arrow(ax, (stack_x + EXAMPLE_WIDTH / 2 + 0.1, top - 0.7), (gpt_x - 0.9, block_y + 0.35),
            "highlight", width=2.0)
    ax.text(9.05, top - 0.3, f"{steps} gradient\nsteps", ha="center", va="bottom",
            fontsize=FONT)
    _gpt_block(ax, gpt_x, block_y, "weights change", "highlight")
    query_y = 0.95
    d.token_box(ax, stack_x, query_y, asked, None, width=EXAMPLE_WIDTH, fontsize=FONT)
    ax.text(stack_x, query_y + 0.38, "then the query alone", ha="center", va="bottom",
            fontsize=FONT, style="italic")
    d.arrow(ax, (stack_x + EXAMPLE_WIDTH / 2 + 0.1, query_y), (gpt_x - 0.9, block_y - 0.45))
    d.arrow(ax, (gpt_x, block_y + 0.67), (gpt_x, answer_y - 0.32))
    d.token_box(ax, gpt_x, answer_y, answer, "output", fontsize=FONT)
    ax.text(gpt_x + 0.55, answer_y, "answer", ha="left", va="center", fontsize=FONT)
    return fig


@lru_cache(maxsize=1)
def induction_example() -> tuple[int, int, list[int], list[list[float]], list[list[bool]],
                               list[list[bool]]]:
    """The head with the most attention on matching outputs over the chapter's prompts (the
    page's table), and its attention rows from the four query bits of the first prompt, with
    each row's matching and other earlier outputs: computed once per process, for both
    themes."""
    from llm_evolution import zoo
    from llm_evolution.data.tasks import EXAMPLE_LENGTH, N_BITS, split_rules
    from llm_evolution.induction import (
        attention_weights,
        induction_prompts,
        induction_share,
        lookup_positions,
    )

    model = zoo.get("icl-gpt").model
    _, held_out_rules = split_rules(zoo.find("icl-gpt").config["n_held_out"])
    prompts = induction_prompts(held_out_rules, k=8)  # the page's prompts
    share = induction_share(model, prompts, k=8)["matching"]
    layer, head = divmod(int(share.argmax()), share.size(1))
    first = prompts[:1]
    rows = [EXAMPLE_LENGTH * 8 + 2 * bit for bit in range(N_BITS)]
    weights = attention_weights(model, first)[layer, 0, head, rows]
    masks = lookup_positions(first, 8)
    return (layer, head, first[0].tolist(), weights.tolist(), masks["matching"][0].tolist(),
            masks["other"][0].tolist())


@figure(
    "icl-induction-head",
    alt="Heatmap of one attention head of the tiny GPT, the head that puts the most weight on "
    "matching outputs in the table above, on one held-out prompt of eight solved examples: "
    "one row for each of the four input bits of the query, one column for each token of the "
    "prompt up to the last query bit, brighter for more weight. In each row, the output bits "
    "of earlier examples at that row's position are marked: circles where the example's input "
    "bit matches the query's (where an induction head would look), crosses where it does not.",
)
def icl_induction_head() -> plt.Figure:
    from llm_evolution.data.tasks import VOCAB

    layer, head, ids, weights, matching, other = induction_example()
    shown = max(max(i for i, w in enumerate(row) if w > 0) for row in weights) + 1
    fig, ax = plt.subplots(figsize=(10, 2.6))
    image = ax.imshow([row[:shown] for row in weights], cmap="viridis", vmin=0, aspect="auto")
    for bit in range(len(weights)):
        for mask, marker in ((matching, "o"), (other, "x")):
            columns = [column for column, marked in enumerate(mask[bit][:shown]) if marked]
            # White shows on viridis' dark cells, the vast majority, in either theme.
            style = ({"facecolors": "none", "edgecolors": "white"} if marker == "o"
                     else {"color": "white"})
            ax.scatter(columns, [bit] * len(columns), s=50, marker=marker, linewidths=1.2,
                       **style)
    ax.set_xticks(range(shown), [VOCAB[i] for i in ids[:shown]], fontsize=6)
    ax.set_yticks(range(len(weights)), [f"query bit {bit + 1}" for bit in range(len(weights))],
                  fontsize=8)
    ax.set_xlabel("prompt token (8 solved examples, then the query)")
    ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=10)
    ax.grid(False)
    colorbar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.02)
    colorbar.set_label("attention weight")
    colorbar.outline.set_visible(False)
    fig.tight_layout()
    return fig
