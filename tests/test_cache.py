"""Tests for llm_evolution.cache and the caches built on it: keys from the import closure, and
entries that survive concurrent writers, crashes and damaged files.

Every test that writes points ``LLM_EVOLUTION_CACHE`` at a temporary folder; none trains a real
recipe (the processes started here train ``tests/zoo_tiny_recipe.py``'s bigram in a second).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch
from filelock import FileLock

from llm_evolution import cache, figures, numerics, paths, zoo
from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.paths import REPO_ROOT
from llm_evolution.training import History, random_windows, train

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Processes that train and wait on locks, seconds each: run again only when the code
    they test changes (tests/incremental.py)."""
    yield from run_when_changed(request, REPO_ROOT / "tests" / "zoo_tiny_recipe.py")

PACKAGE_DIR = Path(cache.__file__).resolve().parent

# ------------------------------------------------------------------------- where it lives


def test_cache_is_per_user_not_per_checkout(monkeypatch, tmp_path):
    """A second clone, a worktree and CI on the same machine share one model cache."""
    monkeypatch.delenv("LLM_EVOLUTION_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # what platformdirs reads
    if sys.platform.startswith("linux"):
        assert paths.cache_dir("zoo") == (tmp_path / "xdg" / "llm-evolution" / "zoo").resolve()
    assert not paths.cache_root().is_relative_to(REPO_ROOT)
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path / "mine"))
    assert paths.cache_dir("figures") == (tmp_path / "mine" / "figures").resolve()
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", " ")
    with pytest.raises(ValueError, match="LLM_EVOLUTION_CACHE is set but empty"):
        paths.cache_root()


# ------------------------------------------------------------------ keys: the import closure


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def toy_package(tmp_path, monkeypatch):
    """A throwaway package ``toypkg`` on sys.path, with every kind of import the walker follows."""
    _write_package(tmp_path, {
        "toypkg/__init__.py": "",
        "toypkg/entry.py": """
            import os                       # not ours: not followed
            import toypkg.absolute          # a plain import
            from toypkg import attribute_or_module   # a submodule named in `from ... import`
            from toypkg.helpers import VALUE         # an attribute: its module is followed
            from .relative import thing              # a relative import

            def later():
                from toypkg.sub import deep          # an import inside a function
                import toypkg.lazy as lazy
            """,
        "toypkg/absolute.py": "X = 1\n",
        "toypkg/attribute_or_module.py": "Y = 2\n",
        "toypkg/helpers.py": "VALUE = 3\n",
        "toypkg/relative.py": "from . import second_hop\nthing = 4\n",
        "toypkg/second_hop.py": "Z = 5\n",
        "toypkg/sub/__init__.py": "from toypkg.sub.runs_on_import import W\n",
        "toypkg/sub/runs_on_import.py": "W = 6\n",
        "toypkg/sub/deep.py": "from .. import helpers\n",
        "toypkg/lazy.py": "import toypkg.excluded\n",
        "toypkg/excluded.py": "import toypkg.behind_excluded\n",
        "toypkg/behind_excluded.py": "",
        "toypkg/unrelated.py": "import toypkg.entry\n",  # imports entry; entry does not import it
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "toypkg"


def _names(paths, root):
    return sorted(path.relative_to(root).as_posix() for path in paths)


def test_closure_follows_every_kind_of_import(toy_package):
    closure = cache.import_closure("toypkg.entry", packages=("toypkg",))
    assert _names(closure, toy_package) == [
        "__init__.py", "absolute.py", "attribute_or_module.py", "behind_excluded.py", "entry.py",
        "excluded.py", "helpers.py", "lazy.py", "relative.py", "second_hop.py",
        "sub/__init__.py", "sub/deep.py", "sub/runs_on_import.py"]


def test_excluded_modules_are_neither_hashed_nor_followed(toy_package):
    closure = cache.import_closure("toypkg.entry", exclude=["toypkg.excluded"],
                                   packages=("toypkg",))
    names = _names(closure, toy_package)
    assert "excluded.py" not in names and "behind_excluded.py" not in names
    assert "lazy.py" in names


@pytest.mark.parametrize("edited, changes", [
    ("second_hop.py", True),   # two relative imports away
    ("sub/runs_on_import.py", True),   # run by the package __init__ of an import in a function
    ("sub/__init__.py", True),
    ("unrelated.py", False),   # imports the entry, but the entry does not import it
    ("behind_excluded.py", False),
])
def test_code_hash_changes_with_the_closure_only(toy_package, edited, changes):
    def key():
        return cache.code_hash("toypkg.entry", exclude=["toypkg.excluded"], packages=("toypkg",))

    before = key()
    path = toy_package / edited
    path.write_text(path.read_text() + "# edited\n")
    assert (key() != before) is changes


def test_code_hash_is_the_same_for_a_copy_elsewhere_on_disk(toy_package, tmp_path, monkeypatch):
    """The cache is shared by every clone on the machine: the key must not hash where it is."""
    first = cache.code_hash("toypkg.entry", packages=("toypkg",))
    monkeypatch.syspath_prepend(str(tmp_path / "elsewhere"))  # found first from now on
    (tmp_path / "elsewhere").mkdir()
    os.rename(toy_package, tmp_path / "elsewhere" / "toypkg")
    import importlib
    importlib.invalidate_caches()
    assert cache._package_dir("toypkg") == (tmp_path / "elsewhere" / "toypkg").resolve()
    assert cache.code_hash("toypkg.entry", packages=("toypkg",)) == first


def test_a_root_without_source_is_refused():
    with pytest.raises(ValueError, match="cannot find the Python source of module 'builtins'"):
        cache.code_hash("builtins")
    with pytest.raises(ValueError, match="at least one root"):
        cache.code_hash()


# -------------------------------------------------------- keys of the real recipes and figures


def _recipes():
    zoo._load_recipes()
    return dict(zoo.RECIPES)


def _closure_of(recipe):
    return set(cache.import_closure(*recipe.code_modules(), exclude=zoo.KEY_EXCLUDES))


def test_recipes_reaching_the_tokenizers_are_the_ones_that_tokenize_text():
    """tokenizers.py was missing from the old keys of gpt-bpe and bert-*. It is reached by the
    three that use BPE, and also by neural-bigram, gpt-char and chapter 8's sweep of character
    GPTs, through data.text's CharTokenizer, and chapter 10's six, which tune and continue
    gpt-bpe, and chapter 11's five, which tune chapter 10's model, and chapter 12's 21
    ablations, which train on characters through chapter 6's loop; not by the translation and
    in-context recipes."""
    tokenizers = PACKAGE_DIR / "tokenizers.py"
    recipes = _recipes()
    reaching = {name for name, recipe in recipes.items() if tokenizers in _closure_of(recipe)}
    sweep = {name for name in recipes if name.startswith("sweep-")}
    assert len(sweep) == 20
    chapter_ten = {name for name, recipe in recipes.items() if recipe.chapter() == "chapter10"}
    assert len(chapter_ten) == 6
    chapter_eleven = {name for name, recipe in recipes.items()
                      if recipe.chapter() == "chapter11"}
    assert len(chapter_eleven) == 5
    chapter_twelve = {name for name, recipe in recipes.items()
                      if recipe.chapter() == "chapter12"}
    assert len(chapter_twelve) == 21
    assert reaching == {"gpt-bpe", "bert-mlm", "bert-genre", "neural-bigram", "gpt-char", *sweep,
                        *chapter_ten, *chapter_eleven, *chapter_twelve}


def test_recipe_closures_hold_their_experiment_code_and_not_the_cache():
    recipes = _recipes()
    assert PACKAGE_DIR / "pretraining.py" in _closure_of(recipes["bert-mlm"])
    assert PACKAGE_DIR / "models" / "bigram.py" in _closure_of(recipes["gpt-char"])  # loss
    assert PACKAGE_DIR / "translation.py" in _closure_of(recipes["transformer-translator"])
    assert PACKAGE_DIR / "in_context.py" in _closure_of(recipes["icl-gpt"])
    for recipe in recipes.values():
        closure = _closure_of(recipe)
        assert PACKAGE_DIR / "zoo.py" not in closure
        assert PACKAGE_DIR / "recipes" / "__init__.py" not in closure
        assert not any("figures" in path.parts for path in closure), recipe.name


def _key_with_source_edited(monkeypatch, recipe, edited: Path) -> tuple[str, str]:
    """The key of ``recipe`` (data fingerprint pinned) before and after appending a comment
    to the file ``edited``, as the closure walker reads it."""
    pinned = dataclasses.replace(recipe, data_fingerprint=lambda: "data")
    before = pinned.key()
    real = cache._read_source
    monkeypatch.setattr(cache, "_read_source", lambda path: real(path) + (
        b"\n# edited\n" if path == edited else b""))
    after = pinned.key()
    monkeypatch.setattr(cache, "_read_source", real)
    return before, after


@pytest.mark.parametrize("name, edited, changes", [
    ("gpt-bpe", "tokenizers.py", True),
    ("bert-mlm", "tokenizers.py", True),
    ("gpt-char", "models/bigram.py", True),  # next_token_loss
    ("bert-genre", "interop/hf.py", True),  # the MiniLM baseline of its experiment
    ("rnn-translator", "translation.py", True),
    ("icl-gpt", "in_context.py", True),
    ("transformer-translator", "recipes/chapter02.py", True),  # reuses chapter 2's fit
    ("icl-gpt", "tokenizers.py", False),
    ("bert-mlm", "recipes/chapter06.py", False),  # another chapter's recipes
    ("gpt-bpe", "zoo.py", False),
    ("gpt-bpe", "recipes/__init__.py", False),
    ("neural-bigram", "figures/chapter03.py", False),
])
def test_real_recipe_keys_follow_their_closure(monkeypatch, name, edited, changes):
    recipe = _recipes()[name]
    # What the library's imports are today (if this fails, the code moved: update the table).
    assert (PACKAGE_DIR / edited in _closure_of(recipe)) is changes
    before, after = _key_with_source_edited(monkeypatch, recipe, PACKAGE_DIR / edited)
    assert (before != after) is changes


def test_chapter3_figures_affect_no_recipe_key(monkeypatch):
    chapter3 = PACKAGE_DIR / "figures" / "chapter03.py"
    assert chapter3 in cache.import_closure("llm_evolution.figures.chapter03")
    for recipe in _recipes().values():
        before, after = _key_with_source_edited(monkeypatch, recipe, chapter3)
        assert before == after, recipe.name


def test_data_fingerprint_is_required():
    with pytest.raises(TypeError, match="data_fingerprint"):
        zoo.Recipe(name="x", build=NeuralBigram, fit=lambda *a: None, config={})
    with pytest.raises(ValueError, match="data_fingerprint must be a function"):
        zoo.Recipe(name="x", build=NeuralBigram, fit=lambda *a: None, config={},
                   data_fingerprint="abc")


# ------------------------------------------------------------------ entries: one tiny recipe

NAME = "test-cache-bigram"
FITS: list[int] = []


def _fit(model, config: dict, seed: int) -> History:
    FITS.append(seed)
    ids = torch.arange(60) % config["vocab"]
    return train(model, random_windows(ids, 6, 4), steps=config["steps"], eval_every=2,
                 lr=0.1, seed=seed, progress=False)


RECIPE = zoo.Recipe(name=NAME, build=lambda config: NeuralBigram(config["vocab"]), fit=_fit,
                    config={"vocab": 4, "steps": 4}, seed=2,
                    data_fingerprint=lambda: "synthetic-v1")


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path))
    zoo._load_recipes()
    monkeypatch.setitem(zoo.RECIPES, NAME, RECIPE)
    FITS.clear()
    yield zoo._paths(RECIPE)
    FITS.clear()


def _weights(trained):
    return {name: tensor.clone() for name, tensor in trained.model.state_dict().items()}


def _same(first, second):
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # inside the last tensor: still a well-formed file, wrong numbers
    path.write_bytes(bytes(data))


def _unreadable_with_matching_hash(path: Path) -> None:
    """Garbage whose hash the metadata agrees with: only safetensors itself can tell."""
    path.write_bytes(b"\xff" * 40)
    history = path.with_suffix(".json")
    meta = json.loads(history.read_text())
    meta["sha256"] = cache.sha256_file(path)
    history.write_text(json.dumps(meta))


def _forget_the_hash(path: Path) -> None:
    history = path.with_suffix(".json")
    meta = json.loads(history.read_text())
    del meta["sha256"]
    history.write_text(json.dumps(meta))


def _drop_the_history(path: Path) -> None:
    path.with_suffix(".json").unlink()


@pytest.mark.parametrize("damage, blamed, says", [
    (_truncate, ".safetensors", "truncated or corrupt"),
    (_flip_a_byte, ".safetensors", "truncated or corrupt"),
    (_unreadable_with_matching_hash, ".safetensors", "not a readable safetensors file"),
    (_forget_the_hash, ".json", "records no sha256"),
    (_drop_the_history, ".json", "is missing"),
])
def test_a_damaged_entry_is_retrained_with_a_warning_not_loaded(tiny, damage, blamed, says):
    weights_path, history_path = tiny
    good = _weights(zoo.get(NAME))
    assert FITS == [RECIPE.seed]
    damage(weights_path)
    with pytest.warns(UserWarning, match=says) as caught:
        again = zoo.get(NAME)
    message = str(caught[0].message)
    assert str(weights_path if blamed == ".safetensors" else history_path) in message
    assert NAME in message
    assert len(FITS) == 2, "the damaged entry was loaded instead of retrained"
    assert _same(_weights(again), good)  # retrained to the same weights
    assert json.loads(history_path.read_text())["sha256"] == cache.sha256_file(weights_path)


def test_entry_records_the_weights_hash_and_training_time(tiny):
    weights_path, history_path = tiny
    trained = zoo.get(NAME)
    meta = json.loads(history_path.read_text())
    assert meta["sha256"] == cache.sha256_file(weights_path)
    assert meta["seconds"] == trained.history.seconds > 0
    assert meta["recipe"] == NAME and meta["module"] == __name__


def test_leftovers_of_a_crashed_writer_are_swept_and_live_ones_kept(tiny):
    weights_path, _ = tiny
    folder = weights_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    entry = weights_path.with_suffix("")
    crashed = folder / f"{cache.TEMP_PREFIX}{entry.name}-abc123"  # this entry's, crashed
    crashed.mkdir()
    (crashed / "half.safetensors").write_bytes(b"\0" * 10)
    other = folder / "other-entry"
    busy = folder / f"{cache.TEMP_PREFIX}{other.name}-def456"  # another entry's, being written
    busy.mkdir()
    old_style = folder / "old.safetensors.tmp"  # the former fixed temporary names
    old_style.write_bytes(b"")
    os.utime(old_style, (time.time() - 7200, time.time() - 7200))
    with FileLock(cache.lock_path(other)):
        zoo.get(NAME)  # a miss: sweeps before it writes
        assert not crashed.exists()
        assert busy.exists(), "a temporary of an entry being written was removed"
    assert not old_style.exists()
    assert cache.sweep_temporaries(folder) == [busy]  # its writer is gone now
    assert not [p for p in folder.iterdir() if p.name.startswith(cache.TEMP_PREFIX)]


def test_lock_waits_for_the_holder_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cache, "WAIT_NOTICE_S", 0.05)
    entry = tmp_path / "entry"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; "
        f"lock = FileLock({str(cache.lock_path(entry))!r}); lock.acquire(); "
        "print('held', flush=True); time.sleep(1.5)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.perf_counter()
        with cache.locked(entry, what="the test entry"):
            waited = time.perf_counter() - start
    finally:
        holder.wait(timeout=30)
    assert waited > 0.5
    assert "waiting for the test entry" in capsys.readouterr().err


def test_a_child_told_that_its_parent_holds_the_lock_does_not_wait(tmp_path):
    entry = tmp_path / "entry"
    code = ("import sys; from pathlib import Path; from llm_evolution import cache\n"
            f"with cache.locked(Path({str(entry)!r})):\n    print('inside')")
    with cache.locked(entry):
        child = subprocess.run([sys.executable, "-c", code], env=cache.lock_held_env(entry),
                               capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "inside"


# ------------------------------------------------------------------- several real processes

CHILD = """
import hashlib
import tests.zoo_tiny_recipe as recipe
from llm_evolution import zoo
trained = zoo.get(recipe.NAME)
state = trained.model.state_dict()
data = b"".join(name.encode() + state[name].numpy().tobytes() for name in sorted(state))
print("WEIGHTS", hashlib.sha256(data).hexdigest())
"""


def _run_children(tmp_path, env: dict, count: int = 2) -> tuple[list[str], list[str]]:
    """Start ``count`` processes asking for the tiny model at once; their weight hashes, and
    the fit log (one line per training run, in any process)."""
    log = tmp_path / "fits.log"
    env = {**env, "LLM_EVOLUTION_CACHE": str(tmp_path / "cache"),
           "ZOO_TEST_FIT_LOG": str(log), "ZOO_TEST_FIT_SLEEP": "3"}
    children = [subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO_ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(count)]
    outputs = []
    try:
        for child in children:
            out, err = child.communicate(timeout=180)
            assert child.returncode == 0, err[-3000:]
            outputs.append(next(line for line in out.splitlines() if line.startswith("WEIGHTS")))
    finally:
        for child in children:
            child.kill()
    return outputs, log.read_text().splitlines()


def test_train_all_trains_missing_models_side_by_side(tmp_path):
    """`zoo train --jobs 2`: two models train at once, each in a process of its own, and a
    model that starts from another (``needs``) waits until that one is trained."""
    log = tmp_path / "fits.log"
    env = {**os.environ, "LLM_EVOLUTION_CACHE": str(tmp_path / "cache"),
           "ZOO_TEST_FIT_LOG": str(log), "ZOO_TEST_FIT_SLEEP": "3",
           zoo.IMPORT_ENV: "tests.zoo_tiny_recipe"}
    names = ["test-cache-tiny-bigram-tuned", "test-cache-tiny-bigram-other",
             "test-cache-tiny-bigram"]
    result = subprocess.run([sys.executable, "-m", "llm_evolution.zoo", "train", *names,
                             "--jobs", "2"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 at a time" in result.stdout
    runs = {}
    for line in log.read_text().splitlines():
        name, pid, start, end = line.split()
        assert name not in runs, f"{name} trained twice"
        runs[name] = (int(pid), float(start), float(end))
    assert sorted(runs) == sorted(names)
    assert len({pid for pid, _, _ in runs.values()}) == 3  # a process each
    _, first_start, first_end = runs["test-cache-tiny-bigram"]
    _, other_start, other_end = runs["test-cache-tiny-bigram-other"]
    assert first_start < other_end and other_start < first_end, "did not run side by side"
    assert runs["test-cache-tiny-bigram-tuned"][1] >= first_end, "started before its model"
    assert result.stdout.count("trained now") >= 3


def _leftovers(tmp_path):
    return [p.name for p in (tmp_path / "cache" / "zoo").iterdir()
            if p.name.startswith(cache.TEMP_PREFIX)]


def test_two_processes_asking_for_a_missing_model_train_it_once(tmp_path):
    """conftest.py pinned this session's environment: the children inherit it and train in
    their own process. Without the lock, both would train (and write the same files)."""
    outputs, fits = _run_children(tmp_path, dict(os.environ))
    assert len(fits) == 1, f"trained {len(fits)} times: {fits}"
    assert outputs[0] == outputs[1]
    assert not _leftovers(tmp_path)


@pytest.mark.skipif(numerics.unsupported_reason() is not None,
                    reason="no reference path here: nothing trains in a child")
def test_unpinned_processes_train_once_in_a_child_without_deadlock(tmp_path):
    """Processes off the reference path train in a pinned child; the parent holds the lock
    and tells the child so (a child that took the lock itself would wait for its parent)."""
    env = {k: v for k, v in os.environ.items() if k not in numerics.REFERENCE_ENV}
    env.pop(cache.LOCK_HELD_ENV, None)
    outputs, fits = _run_children(tmp_path, env)
    assert len(fits) == 1, f"trained {len(fits)} times: {fits}"
    assert outputs[0] == outputs[1]
    assert not _leftovers(tmp_path)


# ------------------------------------------------------------------------------ figure cache


def _draw_line():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def _draw_dots():
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.scatter([0, 1, 2], [2, 0, 1])
    return fig


@pytest.fixture
def two_figure_modules(monkeypatch, tmp_path):
    """Two figures that belong to two real figure modules (as far as the cache can tell), a
    temporary cache and a render counter."""
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path / "cache"))
    line = figures.FigureSpec("line", "A line.", _draw_line)
    dots = figures.FigureSpec("dots", "Dots.", _draw_dots)
    monkeypatch.setattr(_draw_line, "__module__", "llm_evolution.figures.chapter03")
    monkeypatch.setattr(_draw_dots, "__module__", "llm_evolution.figures.timeline")
    monkeypatch.setattr(figures, "FIGURE_MODULES", [])
    monkeypatch.setattr(figures, "REGISTRY", {"line": line, "dots": dots})
    calls = []
    real_render = figures.render_svg
    monkeypatch.setattr(figures, "render_svg",
                        lambda name, theme="light": calls.append(name) or real_render(name, theme))
    return tmp_path / "cache" / "figures", calls


def test_editing_one_figure_module_redraws_its_figures_only(two_figure_modules, monkeypatch):
    store, calls = two_figure_modules
    first = figures.build_all()
    assert sorted(calls) == ["dots", "dots", "line", "line"]
    assert first["line.svg"].parent.name.startswith("chapter03-")
    calls.clear()
    edited = PACKAGE_DIR / "figures" / "chapter03.py"
    real = cache._read_source
    monkeypatch.setattr(cache, "_read_source", lambda path: real(path) + (
        b"\n# edited\n" if path == edited else b""))
    second = figures.build_all()
    assert calls == ["line", "line"]  # light and dark of chapter 3's figure; timeline kept
    assert second["dots.svg"] == first["dots.svg"]
    assert second["line.svg"].parent != first["line.svg"].parent
    # Another checkout (or a build still running) may use the old folder: it is kept.
    assert first["line.svg"].exists()


def test_figure_cache_leaves_no_temporaries(two_figure_modules):
    store, _ = two_figure_modules
    figures.build_all()
    names = [p.name for p in store.rglob("*")]
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(cache.TEMP_PREFIX)]


SLOW_FIGURE_BUILD = """
import sys, time
import matplotlib.pyplot as plt
from llm_evolution import figures

def draw():
    with open(sys.argv[1], "a") as log:
        log.write("drawn\\n")
    time.sleep(1.5)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    return fig

draw.__module__ = "llm_evolution.figures.chapter03"
figures.FIGURE_MODULES = []
figures.REGISTRY = {"slow": figures.FigureSpec("slow", "A slow figure.", draw)}
rendered = figures.build_all()
print(rendered["slow.svg"].read_bytes().decode().count("<path"))
"""


def test_two_builds_at_once_draw_each_figure_once(tmp_path):
    """Two site builds (two clones, or a build and a test run) share the figure cache: the
    second waits for the first instead of drawing the same files into the same names."""
    log = tmp_path / "drawn.log"
    env = {**os.environ, "LLM_EVOLUTION_CACHE": str(tmp_path / "cache")}
    builds = [subprocess.Popen([sys.executable, "-c", SLOW_FIGURE_BUILD, str(log)], env=env,
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    results = [build.communicate(timeout=180) for build in builds]
    for build, (out, err) in zip(builds, results):
        assert build.returncode == 0, err[-3000:]
    assert results[0][0] == results[1][0]
    assert log.read_text().split() == ["drawn", "drawn"]  # light and dark, once each


def test_figure_folders_unused_for_a_month_expire_unless_in_use(two_figure_modules):
    store, _ = two_figure_modules
    figures.build_all()
    old, in_use = store / "chapter09-0000000000000000", store / "chapter10-0000000000000000"
    for folder in (old, in_use):
        folder.mkdir()
        (folder / "x.svg").write_text("<svg/>")
        os.utime(folder, (time.time() - 40 * 86400, time.time() - 40 * 86400))
    with FileLock(cache.lock_path(in_use)):
        figures.build_all()
    assert not old.exists()
    assert in_use.exists()
    assert len([p for p in store.iterdir() if p.is_dir()]) == 3
