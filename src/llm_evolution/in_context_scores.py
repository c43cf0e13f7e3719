"""Chapter 7's main table, computed once per machine: the page prints it and the figure draws
it, so both show the same evaluation (a figure only draws)."""

from __future__ import annotations

from llm_evolution.measurements import measured

SHOTS = (0, 1, 2, 4, 8)  # solved examples in the prompt
EVALUATION_SEEDS = (0, 1, 2)  # each a fresh draw of prompts for every rule


# --8<-- [start:accuracy_by_examples]
@measured  # seconds of evaluation: once per machine, then read back
def accuracy_by_examples(shots: tuple[int, ...] = SHOTS,
                         seeds: tuple[int, ...] = EVALUATION_SEEDS,
                         n_per_rule: int = 8) -> dict[str, dict[int, list[float]]]:
    """Accuracy of ``icl-gpt``'s answers with k solved examples in the prompt and no weight
    update, for each k in ``shots`` and each evaluation seed: on the held-out rules and on as
    many of the training rules (every third), as
    ``{"held-out rules": {k: [one accuracy per seed]}, "training rules": {...}}``."""
    from llm_evolution import zoo
    from llm_evolution.data.tasks import split_rules
    from llm_evolution.in_context import few_shot_accuracy

    model = zoo.get("icl-gpt").model
    train_rules, held_out_rules = split_rules(zoo.find("icl-gpt").config["n_held_out"])
    rule_sets = {"held-out rules": held_out_rules, "training rules": train_rules[::3]}
    return {name: {k: [few_shot_accuracy(model, rules, k, seed, n_per_rule=n_per_rule)
                       for seed in seeds]
                   for k in shots}
            for name, rules in rule_sets.items()}
# --8<-- [end:accuracy_by_examples]
