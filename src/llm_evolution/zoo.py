"""Trained models, cached: train once on first use, then load in a fraction of a second.

A :class:`Recipe` is everything that determines a trained model: the code that builds and
trains it, its config, its seed and the data it reads. :func:`get` looks the recipe's hash up
in the cache (``.cache/zoo/``), trains on a miss (with a progress bar) and stores the weights
as safetensors with the loss history beside them. Pages, figures and tests all call
:func:`get`, so a model is trained once per machine, not once per page.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from llm_evolution import training
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
    recipe = find(name)
    weights_path, history_path = _paths(recipe)
    torch.manual_seed(recipe.seed)  # the same initial weights, trained or not
    model = recipe.build(recipe.config)
    if weights_path.exists() and history_path.exists():
        # safetensors holds tensors only: loading a cache file can never run code.
        load_model(model, weights_path)
        history = History.from_dict(json.loads(history_path.read_text()))
    else:
        history = _fit_reproducibly(recipe, model)
        # Write to temporary names, then rename: an interrupted run never leaves a file that
        # looks complete. save_model handles weights shared between layers (tied embeddings).
        model.cpu()
        save_model(model, str(weights_path) + ".tmp")
        Path(str(history_path) + ".tmp").write_text(json.dumps(history.to_dict(), indent=1))
        Path(str(history_path) + ".tmp").replace(history_path)
        Path(str(weights_path) + ".tmp").replace(weights_path)
    model.to(device).eval()
    return Trained(model=model, history=history, recipe=recipe)


# The number of CPU threads changes the order in which floats are summed, and over thousands
# of steps that changes the trained weights. Training every cached model with the same number
# makes the model, and every number a page prints from it, the same on any machine.
TRAINING_THREADS = 2


def _fit_reproducibly(recipe: Recipe, model: nn.Module) -> History:
    threads = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        return recipe.fit(model, recipe.config, recipe.seed)
    finally:
        torch.set_num_threads(threads)


def _load_recipes() -> None:
    """Import the modules that register recipes (kept apart so this module stays small)."""
    import llm_evolution.recipes  # noqa: F401
