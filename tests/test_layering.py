"""The import rules of DESIGN.md, checked on the source: who may import whom.

* Models import only torch and other model modules (``llm_evolution.attention`` is one).
* Data imports nothing from models or training.
* Nothing imports figures but the figures package itself (snippets never do); the build
  hook and the tests are outside ``src/`` and ``snippets/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.docs_harness import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "llm_evolution"
MODEL_MODULES = sorted((PACKAGE / "models").glob("*.py"))
DATA_MODULES = sorted((PACKAGE / "data").glob("*.py"))
SNIPPETS = sorted((REPO_ROOT / "snippets").rglob("*.py"))
# Known exceptions, module file -> the imports it still needs; shrink this, never grow it.
MODEL_EXCEPTIONS: dict[str, set[str]] = {}


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from llm_evolution import zoo` imports llm_evolution.zoo.
            names |= ({f"{node.module}.{alias.name}" for alias in node.names}
                      if node.module == "llm_evolution" else {node.module})
    return names


def _ours(names: set[str]) -> set[str]:
    return {n for n in names if n == "llm_evolution" or n.startswith("llm_evolution.")}


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize("path", MODEL_MODULES, ids=lambda p: p.name)
def test_models_import_only_torch_and_models(path: Path):
    allowed = ("llm_evolution.models", "llm_evolution.attention")
    wrong = {n for n in _ours(imported(path)) if not any(_is_under(n, a) for a in allowed)}
    wrong -= MODEL_EXCEPTIONS.get(path.name, set())
    assert not wrong, (f"models/{path.name} imports {sorted(wrong)}: a model imports only torch "
                       "and other model modules; move what it needs into a model module, or "
                       "let the other module import the model instead")


@pytest.mark.parametrize("path", DATA_MODULES, ids=lambda p: p.name)
def test_data_imports_no_models_or_training(path: Path):
    forbidden = ("llm_evolution.models", "llm_evolution.training", "llm_evolution.zoo")
    wrong = {n for n in _ours(imported(path)) if any(_is_under(n, f) for f in forbidden)}
    assert not wrong, f"data/{path.name} imports {sorted(wrong)}: data imports no models or training"


@pytest.mark.parametrize(
    "path", SNIPPETS + sorted(p for p in PACKAGE.rglob("*.py") if "figures" not in p.parts),
    ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_nothing_imports_figures(path: Path):
    wrong = {n for n in imported(path) if _is_under(n, "llm_evolution.figures")}
    assert not wrong, (f"{path.relative_to(REPO_ROOT)} imports {sorted(wrong)}: figures only "
                       "draw; import what you measure from the library module it lives in")


def test_imported_sees_every_kind_of_import(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("import torch\nfrom llm_evolution import zoo\n"
                      "def f():\n    from llm_evolution.figures.chapter06 import x\n")
    assert imported(source) == {"torch", "llm_evolution.zoo", "llm_evolution.figures.chapter06"}
