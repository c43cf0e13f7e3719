"""Where the project keeps downloaded data, trained weights and rendered figures.

Everything generated lives in one cache folder shared by every checkout of the project on this
machine (a second clone, a worktree, CI), so a model is trained once per machine, not once per
clone: ``platformdirs.user_cache_dir("llm-evolution")`` (``~/.cache/llm-evolution`` on Linux,
``$XDG_CACHE_HOME/llm-evolution`` if that is set), or the folder named by the
``LLM_EVOLUTION_CACHE`` environment variable. Sharing is safe because entries are keyed by the
code that made them and written under a lock (:mod:`llm_evolution.cache`). It is outside
``docs/``, so ``mkdocs serve`` does not rebuild in a loop when a figure is written.

Outputs of one checkout's build that are not keyed (they are rewritten by every build) belong
in :func:`checkout_cache_dir`, ``.cache/`` at the repository root, instead.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "LLM_EVOLUTION_CACHE"


def cache_root() -> Path:
    """The shared cache folder: ``$LLM_EVOLUTION_CACHE``, else the user's cache folder."""
    root = os.environ.get(CACHE_ENV)
    if root is not None and not root.strip():
        raise ValueError(f"{CACHE_ENV} is set but empty: unset it, or name a folder")
    base = Path(root).expanduser() if root else Path(
        platformdirs.user_cache_dir("llm-evolution", appauthor=False))
    # Absolute, so that a child process started elsewhere names the same lock files.
    return base.resolve()


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder inside the shared cache, e.g. ``cache_dir("zoo")``."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkout_cache_dir(*parts: str) -> Path:
    """Return (and create) a folder in this checkout's own ``.cache/`` (not shared), for build
    outputs that are rewritten in place rather than keyed, such as the site's notebook files."""
    path = REPO_ROOT.joinpath(".cache", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def library_hash() -> str:
    """Hash of every source file of the ``llm_evolution`` package.

    Coarse: any edit under ``src/`` changes it. Caches that can say what code an output depends
    on key by that instead (:func:`llm_evolution.cache.code_hash`, used by the model and the
    figure caches).
    """
    digest = hashlib.sha256()
    package_root = Path(__file__).resolve().parent
    for path in sorted(package_root.rglob("*.py")):
        digest.update(path.relative_to(package_root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
