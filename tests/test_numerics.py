"""Tests for llm_evolution.numerics and how the model cache and the page harness use it."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest
import torch

from llm_evolution import numerics, zoo
from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.training import History, random_windows, train
from tests import docs_harness


def _fit(model, config: dict, seed: int) -> History:
    ids = torch.arange(60) % config["vocab"]
    return train(model, random_windows(ids, 6, 4), steps=config["steps"], eval_every=2,
                 lr=0.1, seed=seed, progress=False)


TINY = zoo.Recipe(name="test-numerics-bigram", build=lambda config: NeuralBigram(config["vocab"]),
                  fit=_fit, config={"vocab": 4, "steps": 2}, seed=0,
                  data_fingerprint=lambda: "synthetic-v1")


@pytest.fixture
def tiny_recipe(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path))
    zoo._load_recipes()
    monkeypatch.setitem(zoo.RECIPES, TINY.name, TINY)
    return TINY

SUPPORTED = numerics.unsupported_reason() is None


def test_reference_env_adds_the_variables_to_a_copy():
    env = numerics.reference_env({"PATH": "/bin", "MKL_CBWR": "AUTO"})
    assert env == {"PATH": "/bin", **numerics.REFERENCE_ENV}
    assert numerics.environment_is_pinned(env)
    assert not numerics.environment_is_pinned({"PATH": "/bin", "MKL_CBWR": "AUTO"})


@pytest.mark.skipif(not SUPPORTED, reason="this machine has no reference path")
def test_this_test_session_is_on_the_reference_path():
    """conftest.py pins the session before torch loads: MKL and ATen report the path."""
    assert numerics.on_reference_path()
    assert numerics.mkl_branch() == "COMPATIBLE"
    assert torch.backends.cpu.get_cpu_capability() == "AVX2"
    assert not torch.backends.mkldnn.enabled
    assert torch.get_num_threads() == numerics.REFERENCE_THREADS
    assert numerics.describe().startswith("reference (")


def test_pinning_after_torch_loaded_names_the_fix(monkeypatch):
    if not SUPPORTED:
        pytest.skip("this machine has no reference path: pinning is a no-op here")
    monkeypatch.delenv("MKL_CBWR")
    with pytest.raises(RuntimeError, match="restart the process") as error:
        numerics.pin_environment()
    assert "use_reference_path()" in str(error.value)


def test_unsupported_machine_changes_nothing_and_says_why(monkeypatch):
    monkeypatch.setattr(numerics, "unsupported_reason", lambda: "the CPU is arm64, not x86-64")
    monkeypatch.delenv("MKL_CBWR", raising=False)
    assert numerics.pin_environment() is False
    assert "MKL_CBWR" not in __import__("os").environ
    assert numerics.describe().startswith("native (")
    assert "arm64" in numerics.describe()


def test_cpu_without_avx2_or_fma_is_refused(monkeypatch):
    numerics.unsupported_reason.cache_clear()
    monkeypatch.setattr(numerics.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(numerics, "cpu_flags", lambda: {"sse4_2", "avx", "fma"})
    try:
        assert numerics.unsupported_reason() == "the CPU lacks AVX2"
    finally:
        numerics.unsupported_reason.cache_clear()


def test_cache_key_records_the_numeric_path(monkeypatch):
    """A model trained natively (on a machine without the path) never shares a key with one
    trained on the reference path."""
    zoo._load_recipes()
    recipe = zoo.RECIPES["neural-bigram"]
    reference_key = recipe.key()
    monkeypatch.setattr(numerics, "unsupported_reason", lambda: "the CPU is arm64, not x86-64")
    assert recipe.key() != reference_key


def test_unpinned_process_trains_in_a_pinned_subprocess(monkeypatch, tiny_recipe):
    if not SUPPORTED:
        pytest.skip("this machine has no reference path")
    recipe = tiny_recipe
    calls = []

    def fake_run(command, env):
        calls.append((command, env))
        # Stand in for the child: store what a training run stores.
        torch.manual_seed(recipe.seed)
        model = recipe.build(recipe.config)
        zoo._store(model, zoo.History(steps=[1], train_loss=[1.0]), *zoo._paths(recipe))
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(numerics, "on_reference_path", lambda: False)
    monkeypatch.delenv("MKL_CBWR")  # as in a reader's kernel started without the variables
    monkeypatch.setattr(zoo.subprocess, "run", fake_run)
    trained = zoo.get(recipe.name)
    [(command, env)] = calls
    assert command[-4:] == ["-m", "llm_evolution.zoo", "train", recipe.name]
    assert numerics.environment_is_pinned(env)
    assert trained.history.steps == [1]


def test_pinned_process_that_is_not_on_the_path_refuses_to_recurse(monkeypatch, tiny_recipe):
    monkeypatch.setattr(numerics, "unsupported_reason", lambda: None)
    monkeypatch.setattr(numerics, "on_reference_path", lambda: False)
    for name, value in numerics.REFERENCE_ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="set after torch loaded"):
        zoo.get(tiny_recipe.name)


def test_training_turns_onednn_off_and_restores_it(monkeypatch, tiny_recipe):
    seen = []
    watched = dataclasses.replace(tiny_recipe, fit=lambda model, config, seed: (
        seen.append(torch.backends.mkldnn.enabled) or _fit(model, config, seed)))
    monkeypatch.setitem(zoo.RECIPES, tiny_recipe.name, watched)
    torch.backends.mkldnn.enabled = True
    try:
        zoo.get(tiny_recipe.name)
        assert seen == [False]
        assert torch.backends.mkldnn.enabled  # restored
    finally:
        torch.backends.mkldnn.enabled = not SUPPORTED


@pytest.mark.parametrize("expected, actual, close", [
    ("loss 3.512, accuracy 95.2%", "loss 3.513, accuracy 95.4%", True),
    ("loss 3.512", "loss 3.9", False),
    ("accuracy 95.2%", "accuracy: 95.2%", False),  # the text differs: never close
    ("0.004", "0.012", True),  # below 1 the tolerance is absolute
    ("1,024 tokens", "1,030 tokens", True),
])
def test_numbers_close(expected, actual, close):
    assert docs_harness.numbers_close(expected, actual, 0.02) is close


def test_platform_summary_counts_the_differing_blocks(monkeypatch):
    class Report:
        wasxfail = f"{docs_harness.DIFFERS} (a trained model's output): ..."

    monkeypatch.setattr(docs_harness, "CLOSE", ["ch2.md:10"])
    line = docs_harness.platform_summary([Report(), Report()])
    assert line.startswith("2 output blocks of trained models differ on this platform and "
                           "1 match within 2%")
    monkeypatch.setattr(docs_harness, "CLOSE", [])
    assert docs_harness.platform_summary([]) == ""


# Float32 functions whose AVX2 code refines a hardware estimate that Intel and AMD compute
# differently (numerics.py): code on the path must not call them, except on float64 values.
CPU_DEPENDENT = {"sqrt", "atan", "arctan"}


def cpu_dependent_calls(path) -> list[str]:
    """``path``'s calls of :data:`CPU_DEPENDENT` functions that are neither ``math.*`` (a
    Python float, exact) nor on a ``.double()`` tensor, as "file:line"."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in CPU_DEPENDENT):
            continue
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and receiver.id == "math":
            continue
        if (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)
                and receiver.func.attr == "double"):
            continue
        found.append(f"{path.relative_to(docs_harness.REPO_ROOT)}:{node.lineno}")
    return found


def test_no_cpu_dependent_square_root_on_the_path():
    """The library and the snippets take no float32 square root (or arctangent) whose last bit
    depends on the CPU's maker; tests/test_numeric_path.py shows what one does to training."""
    root = docs_harness.REPO_ROOT
    files = [p for p in (root / "src" / "llm_evolution").rglob("*.py") if "figures" not in p.parts]
    files += list((root / "snippets").rglob("*.py"))
    found = [call for path in sorted(files) for call in cpu_dependent_calls(path)]
    assert not found, (f"float32 sqrt/atan on the reference path: {found}; take it in float64 "
                       "(values.double().sqrt().float()) or use a fused kernel "
                       "(AdamW(fused=True))")
