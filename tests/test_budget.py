"""The training budget: what a newcomer's first ``make test`` costs, checked on every run.

Every cached model records how long its training took (``History.seconds``; for the few-label
experiment of chapter 5, the whole experiment). On the reference numeric path at its 2 threads,
one recipe may take at most 5 minutes and chapters 1-7 together at most 18 minutes, so that a
cold run (CI, a new clone) stays far inside CI's limit with room for the chapters to come.
``make test`` trains every missing model before the tests (``python -m llm_evolution.zoo train
--all``), one at a time, so the recorded times are not inflated by tests running beside them.
"""

from __future__ import annotations

import json

import pytest

from llm_evolution import numerics, zoo

RECIPE_LIMIT_S = 5 * 60
CHAPTERS_1_TO_7_LIMIT_S = 18 * 60
CHAPTERS_1_TO_7 = {f"chapter0{n}" for n in range(1, 8)}

pytestmark = pytest.mark.skipif(
    numerics.unsupported_reason() is not None,
    reason="the budget is set on the reference numeric path, which this machine cannot run: "
           f"{numerics.unsupported_reason()}")


def recorded_seconds() -> dict[str, float]:
    """Recipe name -> the training seconds its cached model recorded."""
    zoo._load_recipes()
    seconds, missing = {}, []
    for name, recipe in sorted(zoo.RECIPES.items()):
        _, history_path = zoo._paths(recipe)
        if not history_path.exists():
            missing.append(name)
            continue
        seconds[name] = float(json.loads(history_path.read_text())["seconds"])
    if missing:
        pytest.fail(f"not trained yet: {missing}; run `python -m llm_evolution.zoo train --all` "
                    "(make test does, before the tests) and run this test again")
    return seconds


def test_each_recipe_trains_within_five_minutes():
    over = {name: round(s) for name, s in recorded_seconds().items() if s > RECIPE_LIMIT_S}
    assert not over, (f"recipes over the {RECIPE_LIMIT_S} s budget (recorded seconds): {over}; "
                      "make them cheaper (steps, batch, model size, evaluation) and say so on "
                      "the page")


def test_chapters_one_to_seven_train_within_eighteen_minutes():
    seconds = recorded_seconds()
    total = sum(s for name, s in seconds.items() if zoo.find(name).chapter() in CHAPTERS_1_TO_7)
    assert total <= CHAPTERS_1_TO_7_LIMIT_S, (
        f"chapters 1-7 train in {total / 60:.1f} min, over the "
        f"{CHAPTERS_1_TO_7_LIMIT_S / 60:.0f}-minute budget: "
        + ", ".join(f"{name} {s:.0f} s" for name, s in sorted(seconds.items())))
