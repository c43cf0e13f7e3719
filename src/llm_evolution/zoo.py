"""Trained models, cached: train once on first use, then load in a fraction of a second.

A :class:`Recipe` is everything that determines a trained model: the code that builds and
trains it, its config, its seed and the data it reads. :func:`get` looks the recipe's hash up
in the cache (``.cache/zoo/``), trains on a miss (with a progress bar) and stores the weights
as safetensors with the loss history beside them. Pages, figures and tests all call
:func:`get`, so a model is trained once per machine, not once per page.

Every model is trained on the reference numeric path (:mod:`llm_evolution.numerics`): in this
process when it is on that path, else in a subprocess started on it, so the same recipe gives
the same weights on any x86-64 machine. The path is part of the key: a machine that cannot
run it trains natively, under another key, and a native model is never taken for a reference
one. ``python -m llm_evolution.zoo train NAME`` trains one model (``--all`` every one).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from llm_evolution import numerics, training
from llm_evolution.paths import cache_dir
from llm_evolution.training import History


@dataclass(frozen=True)
class Recipe:
    """How to make one trained model: ``fit(build(config), config, seed) -> History``."""

    name: str
    build: Callable[[dict], nn.Module]
    fit: Callable[[nn.Module, dict, int], History]
    config: dict
    seed: int = 0
    data_fingerprint: Callable[[], str] = field(default=lambda: "")
    description: str = ""

    def key(self) -> str:
        """Hash of code, config, seed and data: a change to any of them means retraining."""
        digest = hashlib.sha256()
        digest.update(self.name.encode())
        digest.update(json.dumps(self.config, sort_keys=True).encode())
        digest.update(str(self.seed).encode())
        digest.update(self.data_fingerprint().encode())
        # The whole source of the modules that build and train the model, of the loop, and of
        # every module that defines a layer of the model (an edit to the attention code
        # retrains the transformers that use it).
        modules = {inspect.getmodule(self.build), inspect.getmodule(self.fit), training}
        modules |= {inspect.getmodule(type(layer)) for layer in self._sample_model().modules()
                    if type(layer).__module__.startswith("llm_evolution.")}
        for module in sorted(modules, key=lambda m: m.__name__):  # a set's order varies by run
            digest.update(inspect.getsource(module).encode())
        digest.update(torch.__version__.split("+")[0].encode())
        digest.update(numerics.training_path_id().encode())  # reference path, or which native
        return digest.hexdigest()[:16]

    def _sample_model(self) -> nn.Module:
        """The model this recipe builds, made without touching the global random state."""
        with torch.random.fork_rng(devices=[]):
            return self.build(self.config)


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


def _paths(recipe: Recipe) -> tuple[Path, Path]:
    stem = f"{recipe.name}-{recipe.key()}"
    folder = cache_dir("zoo")
    return folder / f"{stem}.safetensors", folder / f"{stem}.json"


def find(name: str) -> Recipe:
    """The registered recipe ``name`` (nothing is trained or loaded)."""
    _load_recipes()
    if name not in RECIPES:
        raise ValueError(f"no recipe named {name!r}; known recipes: {sorted(RECIPES)}")
    return RECIPES[name]


def get(name: str, device: torch.device | str = "cpu") -> Trained:
    """The trained model ``name``: loaded from the cache, or trained now and cached."""
    global LOADS
    recipe = find(name)
    LOADS += 1
    weights_path, history_path = _paths(recipe)
    if not (weights_path.exists() and history_path.exists()):
        if numerics.unsupported_reason() is None and not numerics.on_reference_path():
            _train_in_subprocess(recipe)  # this process computes natively: train elsewhere
        else:
            torch.manual_seed(recipe.seed)
            model = recipe.build(recipe.config)
            _store(model, _fit_reproducibly(recipe, model), weights_path, history_path)
    torch.manual_seed(recipe.seed)  # the same initial weights, trained or not
    model = recipe.build(recipe.config)
    # safetensors holds tensors only: loading a cache file can never run code.
    load_model(model, weights_path)
    history = History.from_dict(json.loads(history_path.read_text()))
    model.to(device).eval()
    return Trained(model=model, history=history, recipe=recipe)


def _store(model: nn.Module, history: History, weights_path: Path, history_path: Path) -> None:
    # Write to temporary names, then rename: an interrupted run never leaves a file that
    # looks complete. save_model handles weights shared between layers (tied embeddings).
    model.cpu()
    save_model(model, str(weights_path) + ".tmp")
    Path(str(history_path) + ".tmp").write_text(json.dumps(history.to_dict(), indent=1))
    Path(str(history_path) + ".tmp").replace(history_path)
    Path(str(weights_path) + ".tmp").replace(weights_path)


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


def _train_in_subprocess(recipe: Recipe) -> None:
    """Train ``recipe`` in a fresh Python started on the reference numeric path."""
    if numerics.environment_is_pinned():  # a child would land here again: refuse to loop
        raise RuntimeError(
            f"this process has the reference variables {numerics.REFERENCE_ENV} but torch does "
            f"not run on that path ({numerics.describe()}): were they set after torch loaded?")
    command = [sys.executable, "-m", "llm_evolution.zoo", "train", recipe.name]
    result = subprocess.run(command, env=numerics.reference_env())
    if result.returncode != 0:
        raise RuntimeError(f"training {recipe.name!r} on the reference numeric path failed "
                           f"(exit {result.returncode}): {' '.join(command)}")
    weights_path, history_path = _paths(recipe)
    if not (weights_path.exists() and history_path.exists()):
        raise RuntimeError(f"training {recipe.name!r} in a subprocess left no cache entry at "
                           f"{weights_path}: is the recipe's key the same in a fresh process?")


def _load_recipes() -> None:
    """Import the modules that register recipes (kept apart so this module stays small)."""
    import llm_evolution.recipes  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the site's cached models.")
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser = sub.add_parser("train", help="train (or load) recipes into the cache")
    train_parser.add_argument("names", nargs="*", help="recipe names")
    train_parser.add_argument("--all", action="store_true", help="every registered recipe")
    sub.add_parser("list", help="registered recipes and whether each is cached")
    args = parser.parse_args(argv)
    _load_recipes()
    if args.command == "list":
        for name, recipe in sorted(RECIPES.items()):
            cached = all(path.exists() for path in _paths(recipe))
            print(f"{name:32} {recipe.key()}  {'cached' if cached else 'not cached'}")
        return
    names = sorted(RECIPES) if args.all else args.names
    if not names:
        parser.error("name at least one recipe, or pass --all")
    for name in names:
        history = get(name).history
        print(f"{name}: trained in {history.seconds:.1f} s ({numerics.describe()})")


if __name__ == "__main__":
    # Run as a script, this file is the module __main__; the recipes register themselves in
    # llm_evolution.zoo, so hand over to that module.
    from llm_evolution import zoo

    zoo.main()
