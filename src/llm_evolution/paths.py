"""Where the project keeps downloaded data, trained weights and rendered figures.

Everything generated lives under one cache folder, outside ``docs/`` so that ``mkdocs serve``
does not rebuild in a loop when a figure is written. It is ``.cache/`` at the repository root,
or the folder named by the ``LLM_EVOLUTION_CACHE`` environment variable.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder inside the project cache, e.g. ``cache_dir("zoo")``."""
    root = os.environ.get("LLM_EVOLUTION_CACHE")
    base = Path(root) if root else REPO_ROOT / ".cache"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def library_hash() -> str:
    """Hash of every source file of the ``llm_evolution`` package.

    Generated outputs that depend on the library (figures, executed notebooks) are keyed by it,
    so an edit anywhere under ``src/`` regenerates them and nothing stale is ever shown.
    """
    digest = hashlib.sha256()
    package_root = Path(__file__).resolve().parent
    for path in sorted(package_root.rglob("*.py")):
        digest.update(path.relative_to(package_root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
