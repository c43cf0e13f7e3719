"""Tests for llm_evolution.zoo: train on first use, load from the safetensors cache after.

Every test points the cache at a temporary folder and registers a tiny recipe of its own, so
nothing here reads or writes the project's real cache or trains a real model.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from llm_evolution import cache as cachelib  # "cache" is the fixture below
from llm_evolution import budget, training, zoo
from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.training import History, random_windows, train

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Small trainings and fresh processes: run again only when the code they test changes
    (tests/incremental.py)."""
    yield from run_when_changed(request)


NAME = "test-tiny-bigram"
FIT_CALLS: list[dict] = []


def build(config: dict) -> NeuralBigram:
    return NeuralBigram(config["vocab"])


def fit(model, config: dict, seed: int) -> History:
    FIT_CALLS.append(dict(config))
    ids = torch.arange(60) % config["vocab"]
    return train(model, random_windows(ids, 6, 4), val_batch=random_windows(ids, 6, 4),
                 steps=config["steps"], eval_every=2, eval_batches=1, lr=0.1, seed=seed,
                 progress=False)


RECIPE = zoo.Recipe(name=NAME, build=build, fit=fit, config={"vocab": 4, "steps": 4}, seed=3,
                    data_fingerprint=lambda: "synthetic-v1")


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path))
    # Register the real recipes first, so the import inside zoo.get is a no-op from here on and
    # they land in the real registry, not in anything this test changes.
    zoo._load_recipes()
    monkeypatch.setitem(zoo.RECIPES, NAME, RECIPE)  # removed again after the test
    FIT_CALLS.clear()
    yield tmp_path
    FIT_CALLS.clear()


def _cache_files(tmp_path):
    return sorted(p.name for p in (tmp_path / "zoo").iterdir())


def _entry_files(key):
    return [f"{NAME}-{key}.json", f"{NAME}-{key}.lock", f"{NAME}-{key}.safetensors"]


def test_first_get_trains_second_loads(cache, monkeypatch):
    first = zoo.get(NAME)
    assert len(FIT_CALLS) == 1
    key = RECIPE.key()
    assert _cache_files(cache) == _entry_files(key)  # weights, history, and the entry's lock
    assert first.history.steps == [2, 4]
    assert first.recipe is RECIPE
    assert not first.model.training

    # A cache hit must neither train nor unpickle anything.
    def refuse(*args, **kwargs):
        raise AssertionError("the zoo must not unpickle")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    second = zoo.get(NAME)
    assert len(FIT_CALLS) == 1
    assert second.model is not first.model
    assert torch.equal(second.model.logits_table.weight, first.model.logits_table.weight)
    assert second.history == first.history  # seconds included: it was stored, not re-measured


def test_loaded_weights_are_the_trained_not_the_initial_ones(cache):
    trained = zoo.get(NAME).model.logits_table.weight.detach().clone()
    torch.manual_seed(RECIPE.seed)
    initial = build(RECIPE.config).logits_table.weight
    assert not torch.equal(trained, initial)
    assert torch.equal(zoo.get(NAME).model.logits_table.weight, trained)


def test_cache_file_is_safetensors_with_the_state_dict(cache):
    trained = zoo.get(NAME)
    stem = cache / "zoo" / f"{NAME}-{RECIPE.key()}"
    tensors = load_file(stem.with_suffix(".safetensors"))
    state = trained.model.state_dict()
    assert tensors.keys() == state.keys()
    for name, tensor in tensors.items():
        assert torch.equal(tensor, state[name])
    meta = json.loads(stem.with_suffix(".json").read_text())
    probes = meta.pop("probe_seconds")  # the machine's speed around training (the budget's)
    assert len(probes) == 2 and all(seconds > 0 for seconds in probes)
    assert meta == {**trained.history.to_dict(), "recipe": NAME, "module": __name__,
                    "probe_id": budget.PROBE_ID,
                    "sha256": cachelib.sha256_file(stem.with_suffix(".safetensors"))}


def test_changing_the_config_changes_the_key_and_retrains(cache, monkeypatch):
    zoo.get(NAME)
    changed = dataclasses.replace(RECIPE, config={"vocab": 4, "steps": 6})
    assert changed.key() != RECIPE.key()
    monkeypatch.setitem(zoo.RECIPES, NAME, changed)
    trained = zoo.get(NAME)
    assert [c["steps"] for c in FIT_CALLS] == [4, 6]
    assert trained.history.steps == [2, 4, 6]
    # the old entry stays, the new one is beside it
    assert _cache_files(cache) == sorted(_entry_files(RECIPE.key()) + _entry_files(changed.key()))


@pytest.mark.parametrize(
    "change",
    [{"seed": 4}, {"data_fingerprint": lambda: "synthetic-v2"}, {"name": "other-name"},
     {"config": {"steps": 4, "vocab": 5}}],
)
def test_key_depends_on_seed_data_name_and_config(change):
    assert dataclasses.replace(RECIPE, **change).key() != RECIPE.key()


def test_key_ignores_config_order_and_description():
    reordered = dataclasses.replace(RECIPE, config={"steps": 4, "vocab": 4}, description="x")
    assert reordered.key() == RECIPE.key()


def test_missing_history_file_retrains(cache):
    zoo.get(NAME)
    (cache / "zoo" / f"{NAME}-{RECIPE.key()}.json").unlink()
    with pytest.warns(UserWarning, match="json is missing"):
        zoo.get(NAME)
    assert len(FIT_CALLS) == 2


def test_unknown_recipe_lists_known_names(cache):
    with pytest.raises(ValueError, match="no recipe named 'no-such-model'") as error:
        zoo.get("no-such-model")
    assert NAME in str(error.value)
    assert "neural-bigram" in str(error.value)  # the real recipes are listed too


def test_register_twice_raises(cache):
    with pytest.raises(ValueError, match=f"{NAME!r} is already registered"):
        zoo.register(dataclasses.replace(RECIPE, config={"vocab": 9, "steps": 1}))
    assert zoo.RECIPES[NAME] is RECIPE


def test_register_adds_a_new_recipe(monkeypatch):
    monkeypatch.setattr(zoo, "RECIPES", {})
    recipe = dataclasses.replace(RECIPE, name="brand-new")
    assert zoo.register(recipe) is recipe
    assert zoo.RECIPES == {"brand-new": recipe}


def test_key_is_the_same_in_a_fresh_process():
    """The key once depended on the iteration order of a set of modules (their memory
    addresses), so a new process sometimes retrained a cached model."""
    import subprocess
    import sys

    zoo._load_recipes()
    here = zoo.RECIPES["neural-bigram"].key()
    code = ("from llm_evolution import zoo; zoo._load_recipes(); "
            "print(zoo.RECIPES['neural-bigram'].key())")
    keys = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)}
    assert keys == {here}


def test_key_covers_the_code_of_the_models_layers(monkeypatch):
    """Editing the model's own module (not just the recipe) must retrain."""
    from llm_evolution.models import bigram

    zoo._load_recipes()
    recipe = zoo.RECIPES["neural-bigram"]
    before = recipe.key()
    real_read = cachelib._read_source
    edited = Path(bigram.__file__).resolve()
    monkeypatch.setattr(cachelib, "_read_source", lambda path: real_read(path) + (
        b"# edited\n" if path == edited else b""))
    assert recipe.key() != before


def test_key_of_a_test_recipe_covers_its_own_module_and_the_library(monkeypatch):
    modules = RECIPE.code_modules()
    assert modules == [__name__]
    closure = cachelib.import_closure(*modules, exclude=zoo.KEY_EXCLUDES)
    assert Path(__file__).resolve() in closure
    assert Path(training.__file__).resolve() in closure
    assert Path(zoo.__file__).resolve() not in closure


def test_training_runs_on_a_fixed_number_of_threads(cache, monkeypatch):
    """Cached weights must not depend on how many cores the machine has."""
    seen = []
    recipe = dataclasses.replace(RECIPE, fit=lambda model, config, seed: (
        seen.append(torch.get_num_threads()) or fit(model, config, seed)))
    monkeypatch.setitem(zoo.RECIPES, NAME, recipe)
    before = torch.get_num_threads()
    other = zoo.TRAINING_THREADS + 1  # whatever the session runs at, not the training count
    torch.set_num_threads(other)
    try:
        zoo.get(NAME)
        assert seen == [zoo.TRAINING_THREADS]
        assert torch.get_num_threads() == other  # restored afterwards
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------ command line


def _cli(monkeypatch, capsys, *argv, recipes=None) -> str:
    """Run ``python -m llm_evolution.zoo ARGV`` here, with only ``recipes`` registered."""
    monkeypatch.setattr(zoo, "RECIPES", dict(recipes or {NAME: RECIPE}))
    capsys.readouterr()
    zoo.main(list(argv))
    return capsys.readouterr().out


def test_cli_list_shows_each_recipe_key_and_state(cache, monkeypatch, capsys):
    assert f"{NAME}" in _cli(monkeypatch, capsys, "list")
    assert "not cached" in _cli(monkeypatch, capsys, "list")
    zoo.get(NAME)
    out = _cli(monkeypatch, capsys, "list")
    assert RECIPE.key() in out and "  cached" in out
    (cache / "zoo" / f"{NAME}-{RECIPE.key()}.safetensors").write_bytes(b"damaged")
    assert "damaged" in _cli(monkeypatch, capsys, "list")


def test_cli_report_sums_training_time_and_size(cache, monkeypatch, capsys):
    first = zoo.get(NAME).history.seconds
    changed = dataclasses.replace(RECIPE, config={"vocab": 4, "steps": 2})
    monkeypatch.setitem(zoo.RECIPES, NAME, changed)
    second = zoo.get(NAME).history.seconds
    out = _cli(monkeypatch, capsys, "report", recipes={NAME: changed})
    lines = out.splitlines()
    assert sum(line.startswith(NAME) for line in lines) == 2
    assert any(line.endswith("current") and changed.key() in line for line in lines)
    assert any(line.endswith("unused") and RECIPE.key() in line for line in lines)
    total = next(line for line in lines if line.startswith("total:"))
    assert "2 models" in total and f"{first + second:.1f} s" in total
    assert "test_zoo:" in out  # the per-chapter line (module name for test recipes)


def test_cli_prune_removes_entries_no_recipe_uses(cache, monkeypatch, capsys):
    zoo.get(NAME)
    old_key = RECIPE.key()
    changed = dataclasses.replace(RECIPE, config={"vocab": 4, "steps": 2})
    monkeypatch.setitem(zoo.RECIPES, NAME, changed)
    zoo.get(NAME)
    (cache / "zoo" / f"{cachelib.TEMP_PREFIX}{NAME}-{old_key}-crashed").mkdir()
    out = _cli(monkeypatch, capsys, "prune", "--dry-run", recipes={NAME: changed})
    assert f"would remove {cache / 'zoo' / f'{NAME}-{old_key}.safetensors'}" in out
    assert len(_cache_files(cache)) == 7  # nothing removed
    out = _cli(monkeypatch, capsys, "prune", recipes={NAME: changed})
    assert "removed 4 files" in out
    assert _cache_files(cache) == _entry_files(changed.key())
    assert "nothing to remove" in _cli(monkeypatch, capsys, "prune", recipes={NAME: changed})


# ------------------------------------------------------------------------- side by side


def _with_recipes(monkeypatch, needs: dict[str, tuple[str, ...]]) -> None:
    for name, needed in needs.items():
        monkeypatch.setitem(zoo.RECIPES, name, dataclasses.replace(RECIPE, name=name,
                                                                   needs=needed))


def test_training_order_starts_what_others_need_then_the_longest(monkeypatch):
    _with_recipes(monkeypatch, {"a": (), "b": ("c",), "c": (), "d": ()})
    assert zoo.training_order(["a", "b", "c", "d"]) == ["c", "a", "b", "d"]
    assert zoo.training_order(["a", "b", "c", "d"], {"d": 50.0, "a": 10.0}) == ["c", "d", "a", "b"]


def test_with_no_estimate_the_later_chapters_train_first():
    zoo._load_recipes()
    order = zoo.training_order(["neural-bigram", "rnn-translator", "icl-gpt", "gpt-char",
                                "bert-genre", "bert-mlm"])
    assert order == ["bert-mlm", "icl-gpt", "gpt-char", "bert-genre", "rnn-translator",
                     "neural-bigram"]


def test_schedule_replays_two_at_a_time_and_waits_for_what_a_recipe_needs(monkeypatch):
    # Order: "base" (needed), then by name. Two cores, worked by hand: base 0-10 and long 0-30
    # start at once; at 10 short (10-14) then tuned (14-19); the last ends at 30.
    _with_recipes(monkeypatch, {"base": (), "long": (), "short": (), "tuned": ("base",)})
    seconds = {"base": 10.0, "long": 30.0, "short": 4.0, "tuned": 5.0}
    assert zoo.schedule_seconds(seconds, jobs=2) == 30.0
    assert zoo.schedule_seconds(seconds, jobs=1) == 49.0  # one after the other: the sum
    # A long fine-tuning cannot start before its base is done, whatever the cores: base 0-10,
    # long 0-3, short 3-5, tuned 10-50.
    seconds = {"base": 10.0, "long": 3.0, "short": 2.0, "tuned": 40.0}
    assert zoo.schedule_seconds(seconds, jobs=2) == 50.0
    assert zoo.schedule_seconds(seconds, jobs=8) == 50.0


def test_jobs_must_be_positive(cache, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        zoo.main(["train", NAME, "--jobs", "0"])
    assert "--jobs 0: give 1 or more" in capsys.readouterr().err
