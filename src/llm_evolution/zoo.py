"""Trained models, cached: train once on first use, then load in a fraction of a second.

A :class:`Recipe` is everything that determines a trained model: the code that builds and
trains it, its config, its seed and the data it reads. :func:`get` looks the recipe's key up
in the model cache (``zoo/`` in :func:`llm_evolution.paths.cache_dir`, shared by every
checkout on the machine), trains on a miss (with a progress bar) and stores the weights as
safetensors, with the loss history and the weights' SHA-256 beside them. Pages, figures and
tests all call :func:`get`, so a model is trained once per machine, not once per page.

The cache survives faults (:mod:`llm_evolution.cache`): one process trains a missing model
while the others wait for it, entries appear whole or not at all, and an entry whose weights
do not match their recorded hash is retrained (with a warning), never loaded.

Every model is trained on the reference numeric path (:mod:`llm_evolution.numerics`): in this
process when it is on that path, else in a subprocess started on it, so the same recipe gives
the same weights on any x86-64 machine. The path is part of the key: a machine that cannot
run it trains natively, under another key, and a native model is never taken for a reference
one.

Command line: ``python -m llm_evolution.zoo list`` (every recipe, its key, cached or not),
``report`` (cached models, their training time and size), ``prune [--dry-run]`` (delete
entries no current recipe uses), ``train NAME...`` or ``train --all`` (several missing models
train side by side, one per core: ``--jobs N`` to choose).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

from llm_evolution import budget, cache, numerics
from llm_evolution.paths import cache_dir
from llm_evolution.training import History

# What a recipe's key hashes as code: the import closure of the module(s) defining its build
# and fit functions (llm_evolution.cache.import_closure), i.e. every llm_evolution module they
# can run (models, layers, tokenizers, data, training loop, experiment code), the package
# __init__ files importing them runs, and the recipe module itself. Left out on purpose:
# - llm_evolution.zoo (this file): it is the cache, not the model; and its lazy
#   `import llm_evolution.recipes` would put every chapter's recipes into every key. What it
#   does to training (seed, reference settings) is in the key as TRAINING_PROTOCOL and
#   numerics.training_path_id() instead.
# - the llm_evolution.recipes package __init__, which imports every chapter: editing chapter
#   6's recipes must not retrain chapter 5's models. A recipe module that imports another
#   chapter's recipe module explicitly (chapter 3 reuses chapter 2's fit) does depend on it.
# - code outside llm_evolution: torch by its version; other libraries are pinned by
#   requirements.lock. Data is covered by the recipe's data_fingerprint (the data's bytes),
#   models read from the zoo by their own key put into it (bert-genre holds bert-mlm's).
# - figures (nothing a recipe imports imports them) and dynamic imports (importlib).
KEY_EXCLUDES = ("llm_evolution.zoo", "llm_evolution.recipes")
# Bump when get() changes how it seeds, builds or trains a model (this file is not hashed).
TRAINING_PROTOCOL = "zoo-2"
HISTORY_FIELDS = frozenset(f.name for f in dataclasses.fields(History))


def _module_name(function: Callable) -> str:
    module = inspect.getmodule(function)
    name = module.__name__ if module is not None else getattr(function, "__module__", None)
    if not name:
        raise ValueError(f"cannot tell which module defines {function!r}: a recipe's build "
                         f"and fit must be functions defined in a module")
    return name


@dataclass(frozen=True)
class Recipe:
    """How to make one trained model: ``fit(build(config), config, seed) -> History``.

    ``data_fingerprint`` (keyword only, required) returns a string that changes when the data
    the model is trained on changes, e.g. a hash of the corpus. ``needs`` names the recipes
    whose trained models ``fit`` loads (a fine-tuning starts from a pretrained model), so that
    ``train --all`` trains those first.
    """

    name: str
    build: Callable[[dict], nn.Module]
    fit: Callable[[nn.Module, dict, int], History]
    config: dict
    seed: int = 0
    data_fingerprint: Callable[[], str] = field(kw_only=True)
    description: str = ""
    needs: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        if not callable(self.data_fingerprint):
            raise ValueError(f"recipe {self.name!r}: data_fingerprint must be a function "
                             f"returning a string (a hash of the data), got "
                             f"{self.data_fingerprint!r}")

    def code_modules(self) -> list[str]:
        """The modules whose import closure is this recipe's code: where build and fit live."""
        return sorted({_module_name(self.build), _module_name(self.fit)})

    def key(self) -> str:
        """Hash of code, config, seed, data, torch version and numeric path: a change to any
        of them means retraining, and nothing else does (see ``KEY_EXCLUDES``)."""
        fingerprint = self.data_fingerprint()
        if not isinstance(fingerprint, str):
            raise ValueError(f"recipe {self.name!r}: data_fingerprint() returned "
                             f"{type(fingerprint).__name__}, not a string")
        return cache.digest(
            self.name,
            json.dumps(self.config, sort_keys=True),
            str(self.seed),
            fingerprint,
            cache.code_hash(*self.code_modules(), exclude=KEY_EXCLUDES),
            torch.__version__.split("+")[0],
            numerics.training_path_id(),  # reference path, or which native one
            TRAINING_PROTOCOL,
        )

    def chapter(self) -> str:
        """The recipe module's short name (``chapter05``), for reports."""
        return _module_name(self.build).rpartition(".")[2]


@dataclass
class Trained:
    """A trained model with the history of its training run."""

    model: nn.Module
    history: History
    recipe: Recipe


RECIPES: dict[str, Recipe] = {}
LOADS = 0  # models handed out by get() in this process (the test harness reads it)


def register(recipe: Recipe) -> Recipe:
    if recipe.name in RECIPES:
        raise ValueError(f"a recipe named {recipe.name!r} is already registered")
    RECIPES[recipe.name] = recipe
    return recipe


def _entry(recipe: Recipe) -> Path:
    """The cache entry of ``recipe``: ``zoo/<name>-<key>`` (its files add a suffix)."""
    return cache_dir("zoo") / f"{recipe.name}-{recipe.key()}"


def _paths(recipe: Recipe) -> tuple[Path, Path]:
    """The weights file and the metadata (history) file of ``recipe``'s cache entry."""
    entry = _entry(recipe)
    return _files(entry)


def _files(entry: Path) -> tuple[Path, Path]:
    return entry.with_name(entry.name + ".safetensors"), entry.with_name(entry.name + ".json")


def find(name: str) -> Recipe:
    """The registered recipe ``name`` (nothing is trained or loaded)."""
    _load_recipes()
    if name not in RECIPES:
        raise ValueError(f"no recipe named {name!r}; known recipes: {sorted(RECIPES)}")
    return RECIPES[name]


def get(name: str, device: torch.device | str = "cpu") -> Trained:
    """The trained model ``name``: loaded from the cache, or trained now and cached.

    If several processes ask for the same missing model, one trains it and the others wait
    for it and then load it. An entry that fails its checks is retrained, with a warning.
    """
    global LOADS
    recipe = find(name)
    LOADS += 1
    entry = _entry(recipe)
    trained, _ = _load(recipe, entry)
    if trained is None:
        with cache.locked(entry, what=f"model {name!r}"):
            trained, problem = _load(recipe, entry)  # another process may have trained it
            if trained is None:
                if problem is not None:
                    warnings.warn(f"model cache: {problem}; retraining {name!r}", stacklevel=2)
                cache.sweep_temporaries(entry.parent, holding=entry)
                _train(recipe, entry)
                trained, problem = _load(recipe, entry)
                if trained is None:
                    raise RuntimeError(f"training {name!r} left no usable cache entry at "
                                       f"{entry}: {problem or 'no files were written'}")
    trained.model.to(device).eval()
    return trained


def _load(recipe: Recipe, entry: Path) -> tuple[Trained | None, str | None]:
    """The cached model of ``entry`` after checking it, or (None, what is wrong with it);
    (None, None) when there is no entry at all."""
    weights_path, history_path = _files(entry)
    if not weights_path.exists() and not history_path.exists():
        return None, None
    try:
        meta = json.loads(history_path.read_text())
    except FileNotFoundError:
        return None, f"{history_path} is missing (an interrupted write?)"
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, f"{history_path} is not valid JSON"
    expected = meta.get("sha256") if isinstance(meta, dict) else None
    if not isinstance(expected, str):
        return None, f"{history_path} records no sha256 of the weights"
    try:
        actual = cache.sha256_file(weights_path)
    except FileNotFoundError:
        return None, f"{weights_path} is missing"
    if actual != expected:
        return None, (f"{weights_path} is truncated or corrupt (its sha256 is {actual[:12]}..., "
                      f"{history_path.name} records {expected[:12]}...)")
    torch.manual_seed(recipe.seed)  # the same initial weights, trained or not
    model = recipe.build(recipe.config)
    try:
        # safetensors holds tensors only: loading a cache file can never run code.
        load_model(model, weights_path)
    except SafetensorError as error:
        return None, f"{weights_path} is not a readable safetensors file ({error})"
    try:
        history = History.from_dict({k: v for k, v in meta.items() if k in HISTORY_FIELDS})
    except TypeError as error:
        return None, f"{history_path} does not hold a training history ({error})"
    return Trained(model=model, history=history, recipe=recipe), None


def _train(recipe: Recipe, entry: Path) -> None:
    """Train ``recipe`` and store it as ``entry`` (the caller holds the entry's lock)."""
    if numerics.unsupported_reason() is None and not numerics.on_reference_path():
        _train_in_subprocess(recipe, entry)  # this process computes natively: train elsewhere
        return
    # The machine's speed around the training, for the budget (llm_evolution.budget). The
    # probe leaves torch's random state as it was, and the seed is set after it anyway.
    probes = [_probe()]
    torch.manual_seed(recipe.seed)
    model = recipe.build(recipe.config)
    history = _fit_reproducibly(recipe, model)
    probes.append(_probe())
    _store(model, history, *_files(entry),
           meta={"recipe": recipe.name, "module": _module_name(recipe.build),
                 "probe_seconds": probes, "probe_id": budget.PROBE_ID})


def _store(model: nn.Module, history: History, weights_path: Path, history_path: Path,
           meta: dict | None = None) -> None:
    """Write a cache entry: weights, then the history with the weights' SHA-256 (its presence
    marks the entry complete), each staged in a private folder and renamed into place."""
    model.cpu()
    entry = weights_path.with_suffix("")
    with cache.staging(entry) as folder:
        staged_weights = folder / weights_path.name
        # save_model handles weights shared between layers (tied embeddings).
        save_model(model, str(staged_weights))
        record = {**history.to_dict(), **(meta or {}),
                  "sha256": cache.sha256_file(staged_weights)}
        staged_history = folder / history_path.name
        staged_history.write_text(json.dumps(record, indent=1))
        cache.publish([(staged_weights, weights_path), (staged_history, history_path)])


# The number of CPU threads changes the order in which floats are summed, and over thousands
# of steps that changes the trained weights: every cached model trains on the same number.
TRAINING_THREADS = numerics.REFERENCE_THREADS


def _fit_reproducibly(recipe: Recipe, model: nn.Module) -> History:
    """Train in this process: on the reference path when it is pinned, else (a machine that
    cannot run that path) natively, with a warning and the native path in the key."""
    reason = numerics.unsupported_reason()
    if reason is not None:
        warnings.warn(f"training {recipe.name!r} on this machine's native numeric path "
                      f"({reason}): its printed results may differ from the pages", stacklevel=3)
    with numerics.reference_settings():  # oneDNN off, a fixed number of threads
        return recipe.fit(model, recipe.config, recipe.seed)


def _probe() -> float:
    """:func:`llm_evolution.budget.probe_seconds` at the threads training runs at."""
    with numerics.reference_settings():
        return round(budget.probe_seconds(), 4)


# A parent that trains in a child names, in this variable, the module that registers the
# recipe when it is not one of llm_evolution.recipes (a test's or a reader's own recipe), so
# that the child knows the name too.
IMPORT_ENV = "LLM_EVOLUTION_ZOO_IMPORT"


def _train_in_subprocess(recipe: Recipe, entry: Path) -> None:
    """Train ``recipe`` in a fresh Python started on the reference numeric path.

    The caller holds the entry's lock and keeps it while the child trains; the child is told
    so (:func:`llm_evolution.cache.lock_held_env`) and writes without taking it.
    """
    if numerics.environment_is_pinned():  # a child would land here again: refuse to loop
        raise RuntimeError(
            f"this process has the reference variables {numerics.REFERENCE_ENV} but torch does "
            f"not run on that path ({numerics.describe()}): were they set after torch loaded?")
    command = [sys.executable, "-m", "llm_evolution.zoo", "train", recipe.name]
    env = cache.lock_held_env(entry, numerics.reference_env())
    module = _module_name(recipe.build)
    if not module.startswith("llm_evolution.recipes."):
        env[IMPORT_ENV] = module
    result = subprocess.run(command, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"training {recipe.name!r} on the reference numeric path failed "
                           f"(exit {result.returncode}): {' '.join(command)}")
    weights_path, history_path = _files(entry)
    if not (weights_path.exists() and history_path.exists()):
        raise RuntimeError(f"training {recipe.name!r} in a subprocess left no cache entry at "
                           f"{weights_path}: is the recipe's key the same in a fresh process?")


def _load_recipes() -> None:
    """Import the modules that register recipes (kept apart so this module stays small)."""
    import llm_evolution.recipes  # noqa: F401


# ---------------------------------------------------------------------- side by side

# A model this small keeps one core busy far better than two: at one thread a step takes 1.2
# to 1.6 times as long as at two (measured on the book's recipes), so two models trained side
# by side, one thread each, finish sooner than the same two trained one after the other.


def training_order(names: list[str], estimates: dict[str, float] | None = None) -> list[str]:
    """The order ``train --all`` starts ``names`` in: recipes that others need first, then the
    longest by ``estimates`` (seconds a previous version of the recipe took), then, with no
    estimate (a fresh machine), the later chapters first, whose models are the larger ones, and
    by name. A recipe still waits for the ones it needs."""
    estimates = estimates or {}
    needed = {need for name in names for need in find(name).needs}
    chapters = sorted({find(name).chapter() for name in names}, reverse=True)  # later first
    return sorted(names, key=lambda name: (name not in needed, -estimates.get(name, 0.0),
                                           chapters.index(find(name).chapter()), name))


def schedule_seconds(seconds: dict[str, float], jobs: int,
                     estimates: dict[str, float] | None = None) -> float:
    """How long ``train --all`` takes with ``jobs`` side by side, if each recipe takes
    ``seconds[name]``: the schedule :func:`train_side_by_side` follows, replayed."""
    order = training_order(sorted(seconds), estimates)
    finished: dict[str, float] = {}
    free_at = [0.0] * jobs
    while order:
        slot = min(range(jobs), key=free_at.__getitem__)
        now = free_at[slot]
        ready = [name for name in order
                 if all(need not in seconds or finished.get(need, float("inf")) <= now
                        for need in find(name).needs)]
        if not ready:  # wait for the next recipe to finish
            free_at[slot] = min(t for t in finished.values() if t > now)
            continue
        name = ready[0]
        order.remove(name)
        finished[name] = free_at[slot] = now + seconds[name]
    return max(finished.values(), default=0.0)


def _previous_seconds() -> dict[str, float]:
    """Recipe name -> seconds its most recent cached entry took (any key): the order's hint."""
    latest: dict[str, tuple[float, float]] = {}
    for name in _cached_entries():
        meta = _metadata(cache_dir("zoo") / name)
        if meta is None or "recipe" not in meta:
            continue
        when = (cache_dir("zoo") / f"{name}.json").stat().st_mtime
        if meta["recipe"] not in latest or when > latest[meta["recipe"]][0]:
            latest[meta["recipe"]] = (when, float(meta.get("seconds", 0.0)))
    return {recipe: seconds for recipe, (_, seconds) in latest.items()}


def train_side_by_side(names: list[str], jobs: int) -> int:
    """Train the missing recipes ``names``, ``jobs`` at a time, each in a process of its own on
    the reference numeric path (one thread each). Returns the exit status: 0 when all trained.
    """
    order = training_order(names, _previous_seconds())
    env = numerics.reference_env() if numerics.unsupported_reason() is None else dict(os.environ)
    print(f"training {len(names)} models, {jobs} at a time (one core each): {', '.join(order)}",
          flush=True)
    running: dict[str, tuple[subprocess.Popen, int]] = {}
    done: set[str] = set()
    failed: list[str] = []
    try:
        _run_schedule(names, order, jobs, env, running, done, failed)
    finally:  # interrupted (Ctrl-C, a timeout): stop the children, whose locks then free
        for process, _ in running.values():
            process.terminate()
        for process, _ in running.values():
            process.wait()
    if failed:
        print(f"not trained: {', '.join(failed)}", flush=True)
        return 1
    return 0


def _run_schedule(names: list[str], order: list[str], jobs: int, env: dict[str, str],
                  running: dict[str, tuple[subprocess.Popen, int]], done: set[str],
                  failed: list[str]) -> None:
    """Start recipes from ``order`` while fewer than ``jobs`` run and what they need is
    trained; wait for them; until none is left."""
    while order or running:
        busy = {slot for _, slot in running.values()}
        for name in list(order):
            if len(running) >= jobs:
                break
            if any(need in failed for need in find(name).needs):
                order.remove(name)
                failed.append(name)
                print(f"{name}: not trained, it needs {find(name).needs}, which failed", flush=True)
                continue
            if any(need in names and need not in done for need in find(name).needs):
                continue  # its pretrained model is still training
            slot = min(set(range(jobs)) - busy)
            busy.add(slot)
            child_env = dict(env)
            if sys.stderr.isatty():  # one progress bar per line
                child_env["TQDM_POSITION"] = str(slot)
            command = [sys.executable, "-m", "llm_evolution.zoo", "train", name]
            running[name] = (subprocess.Popen(command, env=child_env), slot)
            order.remove(name)
        time.sleep(0.2)
        for name, (process, _) in list(running.items()):
            if process.poll() is None:
                continue
            del running[name]
            (done.add if process.returncode == 0 else failed.append)(name)
            if process.returncode != 0:
                print(f"{name}: training failed (exit {process.returncode})", flush=True)


# ---------------------------------------------------------------------- command line


def _cached_entries() -> dict[str, list[Path]]:
    """Entry name (``<recipe>-<key>``) -> its files, for every entry in the model cache."""
    entries: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(cache_dir("zoo").iterdir()):
        if path.name.startswith(cache.TEMP_PREFIX) or not path.is_file():
            continue
        for suffix in (".safetensors", ".json", cache.LOCK_SUFFIX):
            if path.name.endswith(suffix):
                entries[path.name.removesuffix(suffix)].append(path)
    return dict(entries)


def _metadata(entry: Path) -> dict | None:
    """The metadata (history) of a complete-looking entry, without checking the weights."""
    weights_path, history_path = _files(entry)
    try:
        meta = json.loads(history_path.read_text())
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return meta if isinstance(meta, dict) and weights_path.exists() else None


def _status(recipe: Recipe, entry: Path | None = None) -> str:
    entry = _entry(recipe) if entry is None else entry
    weights_path, history_path = _files(entry)
    if not weights_path.exists() and not history_path.exists():
        return "not cached"
    meta = _metadata(entry)
    if meta is None or meta.get("sha256") != cache.sha256_file(weights_path):
        return "damaged (retrained on next use)"
    return "cached"


def _size(nbytes: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (powers of 1000)."""
    units = ["B", "KB", "MB", "GB"]
    step = 0
    while nbytes >= 1000 and step < len(units) - 1:
        nbytes /= 1000
        step += 1
    return f"{nbytes:.0f} B" if step == 0 else f"{nbytes:.1f} {units[step]}"


def _report() -> None:
    """Print every cached model: recipe, key, chapter, training seconds (as recorded, and as
    the budget counts them: :func:`llm_evolution.budget.reference_seconds`), size; totals."""
    current = {_entry(recipe).name: recipe for recipe in RECIPES.values()}
    rows = []
    for name, files in sorted(_cached_entries().items()):
        meta = _metadata(cache_dir("zoo") / name)
        if meta is None:
            continue
        recipe = current.get(name)
        recipe_name = meta.get("recipe") or name.rpartition("-")[0]
        chapter = (recipe.chapter() if recipe is not None
                   else str(meta.get("module", "?")).rpartition(".")[2])
        rows.append((chapter, recipe_name, name.rpartition("-")[2], float(meta.get("seconds", 0.0)),
                     budget.reference_seconds({"seconds": 0.0, **meta}),
                     sum(path.stat().st_size for path in files),
                     "current" if recipe is not None else "unused"))
    print(f"model cache: {cache_dir('zoo')}")
    if not rows:
        print("no cached models")
        return
    header = (f"{'recipe':32} {'key':16}  {'chapter':10} {'seconds':>9} {'ref. s':>9} "
              f"{'size':>9}  status")
    print(header)
    print("-" * len(header))
    by_chapter: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for chapter, recipe_name, key, seconds, reference, size, status in sorted(rows):
        print(f"{recipe_name:32} {key:16}  {chapter:10} {seconds:9.1f} {reference:9.1f} "
              f"{_size(size):>9}  {status}")
        totals = by_chapter[chapter]
        totals[0] += 1
        totals[1] += seconds
        totals[2] += reference
        totals[3] += size
    print("-" * len(header))
    for chapter, (count, seconds, reference, size) in sorted(by_chapter.items()):
        print(f"{chapter + ':':10} {count:3d} models {seconds:9.1f} s {reference:9.1f} s "
              f"{_size(size):>9}")
    count = len(rows)
    seconds = sum(row[3] for row in rows)
    reference = sum(row[4] for row in rows)
    size = sum(row[5] for row in rows)
    print(f"{'total:':10} {count:3d} models {seconds:9.1f} s {reference:9.1f} s {_size(size):>9}  "
          f"({seconds / 60:.1f} min of training here, {reference / 60:.1f} on the budget's "
          f"reference machine)")


def _prune(dry_run: bool) -> None:
    """Delete the entries that no registered recipe's current key names, and leftovers."""
    folder = cache_dir("zoo")
    keep = {_entry(recipe).name for recipe in RECIPES.values()}
    verb = "would remove" if dry_run else "removed"
    count = 0
    for path in cache.sweep_temporaries(folder, dry_run=dry_run):
        print(f"{verb} {path} (left over by an interrupted write)")
        count += 1
    for name, files in sorted(_cached_entries().items()):
        if name in keep:
            continue
        removed = cache.remove_entry(files, folder / name, dry_run=dry_run)
        if removed is None:
            print(f"kept {folder / name}: a process is writing it")
            continue
        for path in removed:
            print(f"{verb} {path}")
            count += 1
    print(f"{verb} {count} files" if count else "nothing to remove")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The site's cached models.")
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser = sub.add_parser("train", help="train (or load) recipes into the cache")
    train_parser.add_argument("names", nargs="*", help="recipe names")
    train_parser.add_argument("--all", action="store_true", help="every registered recipe")
    train_parser.add_argument(
        "--jobs", type=int, default=None,
        help="how many missing models train side by side, one core each (default: the cores "
             "this process may use)")
    sub.add_parser("list", help="every registered recipe, its key and whether it is cached")
    sub.add_parser("report", help="cached models: training seconds and size, with totals")
    prune_parser = sub.add_parser(
        "prune", help="delete cached models that no current recipe uses (the cache is shared "
        "by every checkout on this machine: another branch's models go too, and retrain there)")
    prune_parser.add_argument("--dry-run", action="store_true",
                              help="only print what would be deleted")
    args = parser.parse_args(argv)
    _load_recipes()
    for module in filter(None, os.environ.get(IMPORT_ENV, "").split(",")):
        importlib.import_module(module)  # recipes of a parent that trains in this process
    if args.command == "list":
        for name, recipe in sorted(RECIPES.items()):
            print(f"{name:32} {recipe.key()}  {_status(recipe)}")
        return
    if args.command == "report":
        _report()
        return
    if args.command == "prune":
        _prune(args.dry_run)
        return
    names = sorted(RECIPES) if args.all else args.names
    if not names:
        parser.error("name at least one recipe, or pass --all")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more")
    entries = {name: _entry(find(name)) for name in names}
    cached = {name for name, entry in entries.items() if _status(find(name), entry) == "cached"}
    missing = [name for name in names if name not in cached]
    jobs = min(args.jobs or numerics.available_cores(), len(missing))
    side_by_side = set()
    if jobs > 1:
        status = train_side_by_side(missing, jobs)
        if status != 0:
            raise SystemExit(status)
        side_by_side = set(missing)
        cached |= side_by_side
    if (numerics.unsupported_reason() is None and not numerics.environment_is_pinned()
            and set(names) - cached):
        # This process computes natively: train every missing model in one child started on
        # the reference path (rather than one child per model, each loading the data again).
        command = [sys.executable, "-m", "llm_evolution.zoo", "train", *names]
        raise SystemExit(subprocess.run(command, env=numerics.reference_env()).returncode)
    for name in names:
        if name in cached:  # checked above (the weights' hash included): no need to load it
            seconds = float(_metadata(entries[name]).get("seconds", 0.0))
            state = "trained now" if name in side_by_side else "cached"
        else:
            seconds, state = get(name).history.seconds, "trained now"
        print(f"{name}: {state}, {seconds:.1f} s of training on the reference numeric path"
              if numerics.unsupported_reason() is None
              else f"{name}: {state}, {seconds:.1f} s of training ({numerics.describe()})")


if __name__ == "__main__":
    # Run as a script, this file is the module __main__; the recipes register themselves in
    # llm_evolution.zoo, so hand over to that module.
    from llm_evolution import zoo

    zoo.main()
