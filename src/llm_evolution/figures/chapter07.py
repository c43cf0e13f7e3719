"""Figure of chapter 7: few-shot accuracy of the tiny GPT against the number of examples in
its prompt, on held-out rules and on training rules, with chance and the best possible."""

from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt

from llm_evolution.figures import figure

SHOTS = (0, 1, 2, 4, 8)
SEEDS = (0, 1, 2)


@lru_cache(maxsize=1)
def accuracy_table() -> dict[str, list[list[float]]]:
    """Accuracy per number of examples (rows) and evaluation seed (columns), for held-out and
    training rules; computed once per process so both themes draw the same numbers."""
    from llm_evolution import zoo
    from llm_evolution.data.tasks import split_rules
    from llm_evolution.in_context import few_shot_accuracy

    model = zoo.get("icl-gpt").model
    train_rules, held_out_rules = split_rules(zoo.find("icl-gpt").config["n_held_out"])
    # The same draws as the chapter's table: 8 prompts per rule, 64 of the training rules.
    return {name: [[few_shot_accuracy(model, rules, k, s, n_per_rule=8) for s in SEEDS]
                   for k in SHOTS]
            for name, rules in [("held-out rules", held_out_rules),
                                ("training rules", train_rules[::3])]}


@figure(
    "icl-accuracy",
    alt="Accuracy of the tiny GPT's answer against the number of solved examples in its "
    f"prompt ({', '.join(map(str, SHOTS))}), on rules it never saw in training and on rules "
    f"it was trained on, each point the mean of {len(SEEDS)} evaluation seeds with a bar for "
    "their spread. A dotted line marks chance (1 in 16) and a dashed curve the best any "
    "learner can do with that many examples, about 32 percent with one example and 99 "
    "percent with eight. The model's accuracies are printed in the table above the figure.",
)
def icl_accuracy() -> plt.Figure:
    import statistics

    from llm_evolution.in_context import best_possible_accuracy

    table = accuracy_table()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for (name, rows), color, marker in zip(table.items(), ["C0", "C1"], "os"):
        means = [100 * statistics.mean(row) for row in rows]
        spreads = [100 * statistics.stdev(row) for row in rows]
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
