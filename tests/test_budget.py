"""The training budget: what a newcomer's first ``make test`` costs, checked on every run.

Every cached model records how long its training took (``History.seconds``; for the few-label
experiment of chapter 5, the whole experiment), on the reference numeric path at its one
thread. One recipe may take at most 5 minutes, and chapters 1-7 at most 18 minutes on 2 cores:
``make test`` trains every missing model before the tests (``python -m llm_evolution.zoo train
--all``), two side by side on 2 cores, one core each, and nothing else runs beside them. The
18 minutes are that schedule replayed with the recorded times, in the order a fresh machine
takes (:func:`llm_evolution.zoo.schedule_seconds`). So a cold run (CI, a new clone) stays far
inside CI's limit, with room for the chapters to come.

The minutes are the reference machine's (:mod:`llm_evolution.budget`): two machines of the
same kind recorded 158 s and 332 s for the same recipe, so each recorded time is scaled by the
speed probe its training recorded. What a slow machine really takes is checked too, against
CI's own limit.
"""

from __future__ import annotations

import json

import pytest
import torch

from llm_evolution import budget, numerics, zoo

RECIPE_LIMIT_S = 5 * 60
CHAPTERS_1_TO_7_LIMIT_S = 18 * 60
CHAPTERS_1_TO_7 = {f"chapter0{n}" for n in range(1, 8)}


pytestmark = pytest.mark.skipif(
    numerics.unsupported_reason() is not None,
    reason="the budget is set on the reference numeric path, which this machine cannot run: "
           f"{numerics.unsupported_reason()}")


def recorded_metadata() -> dict[str, dict]:
    """Recipe name -> its cached model's metadata (training seconds, speed probes)."""
    zoo._load_recipes()
    metadata, missing = {}, []
    for name, recipe in sorted(zoo.RECIPES.items()):
        _, history_path = zoo._paths(recipe)
        if not history_path.exists():
            missing.append(name)
            continue
        metadata[name] = json.loads(history_path.read_text())
    if missing:
        pytest.fail(f"not trained yet: {missing}; run `python -m llm_evolution.zoo train --all` "
                    "(make test does, before the tests) and run this test again")
    return metadata


def recorded_seconds() -> dict[str, float]:
    """Recipe name -> its training seconds, as the reference machine would have taken them."""
    return {name: budget.reference_seconds(meta) for name, meta in recorded_metadata().items()}


def test_each_recipe_trains_within_five_minutes():
    over = {name: round(s) for name, s in recorded_seconds().items() if s > RECIPE_LIMIT_S}
    assert not over, (f"recipes over the {RECIPE_LIMIT_S} s budget (recorded seconds): {over}; "
                      "make them cheaper (steps, batch, model size, evaluation) and say so on "
                      "the page")


def test_chapters_one_to_seven_train_within_eighteen_minutes_on_two_cores():
    seconds = {name: s for name, s in recorded_seconds().items()
               if zoo.find(name).chapter() in CHAPTERS_1_TO_7}
    wall = zoo.schedule_seconds(seconds, jobs=2)
    assert wall <= CHAPTERS_1_TO_7_LIMIT_S, (
        f"chapters 1-7 train in {wall / 60:.1f} min on 2 cores, over the "
        f"{CHAPTERS_1_TO_7_LIMIT_S / 60:.0f}-minute budget: "
        + ", ".join(f"{name} {s:.0f} s" for name, s in sorted(seconds.items())))


def test_chapter_eight_sweep_trains_within_five_minutes_on_two_cores():
    """Issue 14's budget: the 20 runs of chapter 8's sweep, two side by side."""
    seconds = {name: s for name, s in recorded_seconds().items()
               if zoo.find(name).chapter() == "chapter08"}
    wall = zoo.schedule_seconds(seconds, jobs=2)
    assert len(seconds) == 20 and wall <= RECIPE_LIMIT_S, (
        f"chapter 8's sweep trains in {wall:.0f} s on 2 cores, over {RECIPE_LIMIT_S} s")


def chapter_schedule(chapter: str) -> tuple[dict[str, float], float]:
    """One chapter's recipes -> reference seconds, and their wall time two side by side."""
    seconds = {name: s for name, s in recorded_seconds().items()
               if zoo.find(name).chapter() == chapter}
    return seconds, zoo.schedule_seconds(seconds, jobs=2)


def over_budget(chapter: str, wall: float, limit: float, seconds: dict[str, float]) -> str:
    return (f"{chapter} trains in {wall:.0f} s on 2 cores, over {limit} s: "
            + ", ".join(f"{name} {s:.0f} s" for name, s in sorted(seconds.items())))


CHAPTER_TEN_LIMIT_S = 4 * 60


def test_chapter_ten_trains_within_four_minutes_on_two_cores():
    """Issue 16's budget: every model of chapter 10, two side by side (each starts from
    chapter 6's cached gpt-bpe, which counts in chapter 6's budget)."""
    seconds, wall = chapter_schedule("chapter10")
    assert len(seconds) == 6 and wall <= CHAPTER_TEN_LIMIT_S, (
        over_budget("chapter 10", wall, CHAPTER_TEN_LIMIT_S, seconds))


CHAPTER_ELEVEN_LIMIT_S = 5 * 60


def test_chapter_eleven_trains_within_five_minutes_on_two_cores():
    """Issue 17's budget: SFT, the reward model, the two PPO runs and DPO, two side by side
    (SFT starts from chapter 10's cached instruct-gpt, which counts in chapter 10's budget)."""
    seconds, wall = chapter_schedule("chapter11")
    assert len(seconds) == 5 and wall <= CHAPTER_ELEVEN_LIMIT_S, (
        over_budget("chapter 11", wall, CHAPTER_ELEVEN_LIMIT_S, seconds))


CHAPTER_TWELVE_LIMIT_S = 5 * 60


def test_chapter_twelve_trains_within_five_minutes_on_two_cores():
    """Issue 18's budget: the ablations, 7 variants x 3 seeds, two side by side."""
    seconds, wall = chapter_schedule("chapter12")
    assert len(seconds) == 21 and wall <= CHAPTER_TWELVE_LIMIT_S, (
        over_budget("chapter 12", wall, CHAPTER_TWELVE_LIMIT_S, seconds))


# CI stops a run at 90 minutes; setup, the tests and the site build take about 15 of them.
CI_TRAINING_LIMIT_S = 45 * 60


def test_the_whole_cold_training_fits_ci_on_this_machine():
    """What this machine really took, unscaled: every recipe, two side by side."""
    seconds = {name: float(meta["seconds"]) for name, meta in recorded_metadata().items()}
    wall = zoo.schedule_seconds(seconds, jobs=2)
    assert wall <= CI_TRAINING_LIMIT_S, (
        f"the cold training took {wall / 60:.1f} min on 2 cores here, over the "
        f"{CI_TRAINING_LIMIT_S / 60:.0f} minutes CI's limit leaves it")


def test_reference_seconds_scale_by_the_probe():
    """A machine whose probe ran twice as long as the reference's counts half its seconds;
    an entry with no probe (trained before probes were recorded) counts as recorded."""
    slow = {"seconds": 300.0, "probe_seconds": [2 * budget.REFERENCE_PROBE_S] * 2,
            "probe_id": budget.PROBE_ID}
    assert budget.reference_seconds(slow) == pytest.approx(150.0)
    assert budget.reference_seconds({"seconds": 300.0}) == 300.0
    assert budget.reference_seconds({**slow, "probe_id": "another probe"}) == 300.0


def test_the_probe_leaves_the_random_state_alone():
    """Training seeds after the probe, but a probe run between seeding and training (or in
    a reader's own code) must not shift what comes next."""
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    assert budget.probe_seconds() > 0
    assert torch.equal(torch.rand(4), expected)
