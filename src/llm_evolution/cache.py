"""Cache keys from code, and cache entries that survive crashes and concurrent builds.

**Keys.** A cached result (a trained model, a rendered figure) must be recomputed when any of
the code that made it changes, and only then. :func:`import_closure` finds that code without
running it: it parses each module with :mod:`ast` and follows every import of an
``llm_evolution`` module (absolute or relative, at the top or inside a function), together with
the package ``__init__.py`` files that importing a submodule runs. :func:`code_hash` hashes the
files it finds; :func:`build_key` adds the library versions and the numeric path, for outputs
such as figures. Dynamic imports (``importlib.import_module(name)``) are not followed, and
third-party code is represented by its version only.

**Entries.** An entry is a file, or a group of files sharing a stem, or a folder, in one of the
cache's folders (:func:`llm_evolution.paths.cache_dir`), which several processes (two builds,
two clones, CI) may share. Writers hold the entry's lock (:func:`locked`, a ``.lock`` file
beside the entry), re-check the entry once they hold it, write into a private temporary folder
(:func:`staging`) and move finished, fsynced files into place with one atomic rename each
(:func:`publish`). A crash leaves either the old entry or the new one, plus a temporary that
:func:`sweep_temporaries` removes later; readers check what they read (the model cache stores
a SHA-256 of its weights, :func:`sha256_file`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from llm_evolution import numerics
from llm_evolution.paths import REPO_ROOT

PACKAGE = "llm_evolution"  # imports of this package are followed; any other is not

# ---------------------------------------------------------------------------- import closure


def _package_dir(top: str) -> Path | None:
    """Folder of the top-level package ``top`` (finding a top-level spec imports nothing)."""
    if top == PACKAGE:  # asked thousands of times per key; this package does not move
        return _this_package_dir()
    return _find_package_dir(top)


@functools.cache
def _this_package_dir() -> Path | None:
    return _find_package_dir(PACKAGE)


def _find_package_dir(top: str) -> Path | None:
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _resolve(name: str, packages: Sequence[str]) -> tuple[Path, bool] | None:
    """Source file of module ``name`` of one of ``packages`` and whether it is a package, or
    None if there is no such file (``name`` is then an attribute, or not ours)."""
    parts = name.split(".")
    if parts[0] not in packages:
        return None
    base = _package_dir(parts[0])
    if base is None:
        return None
    path = base.joinpath(*parts[1:])
    if (path / "__init__.py").is_file():
        return path / "__init__.py", True
    if len(parts) > 1 and path.with_suffix(".py").is_file():
        return path.with_suffix(".py"), False
    return None


def _root_source(root: str | Path, packages: Sequence[str]) -> tuple[str, Path, bool]:
    """(module name, source file, is package) of a starting point: a module name or a script."""
    if isinstance(root, Path):
        return "", root.resolve(), False  # a script: no module name, so no relative imports
    found = _resolve(root, packages)
    if found is not None:
        return root, *found
    # A module outside the package (a test module, ``__main__``): the file it was loaded from.
    module = sys.modules.get(root)
    file = getattr(module, "__file__", None)
    if file is None:
        spec = importlib.util.find_spec(root) if root and root != "__main__" else None
        file = spec.origin if spec is not None else None
    if file is None or not file.endswith(".py"):
        raise ValueError(
            f"cannot find the Python source of module {root!r}: cache keys hash the code that "
            f"made a result, so define it in a .py file (not in an exec'd or interactive block)")
    path = Path(file).resolve()
    return root, path, path.name == "__init__.py"


def _read_source(path: Path) -> bytes:
    """The bytes of a source file (one place to read them, which tests can stand in for)."""
    return path.read_bytes()


_IMPORTS: dict[tuple[bytes, str, bool], frozenset[str]] = {}  # parsed once per file content


def _imported_names(source: bytes, module: str, is_package: bool, path: Path) -> frozenset[str]:
    """Every module name an ``import`` statement in ``source`` may load (with their parent
    packages, whose ``__init__`` runs first); names that are attributes are dropped later."""
    memo = (hashlib.sha256(source).digest(), module, is_package)
    if memo in _IMPORTS:
        return _IMPORTS[memo]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename=str(path))):  # nested imports included
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package, up level - 1 packages
                package = module if is_package else module.rpartition(".")[0]
                parts = package.split(".") if package else []
                if not module or node.level - 1 >= len(parts):
                    continue  # beyond the top-level package: Python would refuse it too
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            # `from package import name`: name may be a submodule (a file) or an attribute.
            names.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    with_parents = set()
    for name in names:
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    _IMPORTS[memo] = frozenset(with_parents)
    return _IMPORTS[memo]


def _closure(roots: Iterable[str | Path], exclude: Iterable[str],
             packages: Sequence[str]) -> dict[Path, tuple[str, bytes]]:
    """Source file -> (the label it is hashed under, its bytes), for the import closure of
    ``roots``. Each file is read once, so what is hashed is what was parsed."""
    excluded = set(exclude)
    found: dict[Path, tuple[str, bytes]] = {}
    queue = [_root_source(root, packages) for root in roots]
    for module, _, _ in list(queue):  # importing a.b.c runs the __init__ of a and of a.b
        parts = module.split(".") if module else []
        for parent in (".".join(parts[:i]) for i in range(1, len(parts))):
            resolved = _resolve(parent, packages)
            if parent not in excluded and resolved is not None:
                queue.append((parent, *resolved))
    while queue:
        module, path, is_package = queue.pop()
        if path in found:
            continue
        source = _read_source(path)
        found[path] = (_label(path, packages), source)
        for name in _imported_names(source, module, is_package, path):
            if name in excluded:
                continue  # neither hashed nor followed
            resolved = _resolve(name, packages)
            if resolved is not None and resolved[0] not in found:
                queue.append((name, *resolved))
    return found


def _label(path: Path, packages: Sequence[str]) -> str:
    """A name for ``path`` that is the same in every clone: relative to its package's parent
    folder (``llm_evolution/zoo.py``), else to the repository, else the file name."""
    for top in packages:
        base = _package_dir(top)
        if base is not None and path.is_relative_to(base):
            return path.relative_to(base.parent).as_posix()
    if path.is_relative_to(REPO_ROOT):
        return path.relative_to(REPO_ROOT).as_posix()
    return path.name


def import_closure(*roots: str | Path, exclude: Iterable[str] = (),
                   packages: Sequence[str] = (PACKAGE,)) -> list[Path]:
    """The sorted source files of ``roots`` and of every module of ``packages`` they import,
    directly or through each other, found statically (no module is imported).

    A root is a module name (``"llm_evolution.figures.chapter03"``, or a module outside the
    package such as a test module) or the :class:`~pathlib.Path` of a script. Modules named in
    ``exclude`` are neither included nor followed (a root is always included).
    """
    if not roots:
        raise ValueError("import_closure needs at least one root module name or script path")
    return sorted(_closure(roots, exclude, packages))


def code_hash(*roots: str | Path, exclude: Iterable[str] = (),
              packages: Sequence[str] = (PACKAGE,)) -> str:
    """Hash of the import closure of ``roots`` (see :func:`import_closure`): of each file's
    path inside its package and its bytes, so a clone elsewhere on disk gets the same hash."""
    if not roots:
        raise ValueError("code_hash needs at least one root module name or script path")
    hasher = hashlib.sha256()
    for label, source in sorted(_closure(roots, exclude, packages).values()):
        hasher.update(f"{label}\0{len(source)}\0".encode())
        hasher.update(source)
    return hasher.hexdigest()[:16]


def digest(*parts: str) -> str:
    """A short hash of several strings (kept apart, so ``("ab", "c") != ("a", "bc")``)."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(f"{len(part)}\0{part}\0".encode())
    return hasher.hexdigest()[:16]


def build_key(*roots: str | Path, distributions: Sequence[str] = ("torch", "matplotlib"),
              extra: Sequence[str] = ()) -> str:
    """Key of a generated output (a module's figures, an executed notebook, a measurement).

    It covers the whole import closure of ``roots`` with nothing excluded: code that loads a
    trained model imports :mod:`llm_evolution.zoo`, whose lazy ``import llm_evolution.recipes``
    brings in every recipe, so an output drawn from a model is redone whenever a recipe (and
    so perhaps the model) changes. It also covers the versions of ``distributions``, the
    numeric path models are trained on, and any ``extra`` strings.
    """
    versions = [f"{name}=={importlib.metadata.version(name)}" for name in distributions]
    return digest(code_hash(*roots), *versions, numerics.training_path_id(), *extra)


# -------------------------------------------------------------------------------- entries

TEMP_PREFIX = ".tmp-"  # temporaries are named .tmp-<entry name>-<random>
LOCK_SUFFIX = ".lock"
# Set by a process that holds an entry's lock for a child it starts to write that entry: the
# absolute path of the lock file. The child then writes without taking the lock itself (it
# would wait for its parent, which waits for it: a deadlock).
LOCK_HELD_ENV = "LLM_EVOLUTION_LOCK_HELD"
WAIT_NOTICE_S = 2.0  # say that we wait for another process after this long


def lock_path(entry: Path) -> Path:
    """The lock file of ``entry``: ``<entry>.lock`` beside it."""
    return entry.with_name(entry.name + LOCK_SUFFIX)


@contextmanager
def locked(entry: Path, what: str = "") -> Iterator[None]:
    """Hold ``entry``'s lock for the block: one writer per entry across processes.

    Re-check the entry inside the block: another process may have written it while this one
    waited. In a child started with :func:`lock_held_env` for this entry, the parent holds
    the lock already and the block runs at once. The lock is an OS file lock (``flock``), so
    it is released when its process dies, however it dies.
    """
    path = lock_path(entry)
    if os.environ.get(LOCK_HELD_ENV) == str(path):
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=WAIT_NOTICE_S)
    except Timeout:
        print(f"waiting for {what or entry.name}: another process holds {path}",
              file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def lock_held_env(entry: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) telling a child that this process holds ``entry``'s
    lock on its behalf (see :func:`locked`)."""
    return {**(os.environ if env is None else env), LOCK_HELD_ENV: str(lock_path(entry))}


def is_locked(entry: Path) -> bool:
    """Whether some process (this one included) holds ``entry``'s lock right now."""
    path = lock_path(entry)
    if not path.exists():
        return False
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


@contextmanager
def staging(entry: Path) -> Iterator[Path]:
    """A new private folder beside ``entry`` to write its files into before :func:`publish`.

    Its name is unique (:func:`tempfile.mkdtemp`), so concurrent writers never share one; it is
    removed when the block ends, however it ends.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{entry.name}-", dir=entry.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's list of names) to disk."""
    flags = (os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:  # folders cannot be opened on Windows; nothing to flush there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(moves: Sequence[tuple[Path, Path]]) -> None:
    """Move staged files onto their final names, in order: each file is flushed to disk first,
    then renamed in one atomic step (a reader sees the old file or the new, never half of
    one). Put the file whose presence marks the entry complete last."""
    for staged, _ in moves:
        _fsync(staged)
    for staged, final in moves:
        os.replace(staged, final)
    for folder in sorted({final.parent for _, final in moves}):
        _fsync(folder)


def write_files(entry: Path, makers: Mapping[str, Callable[[], bytes]],
                what: str = "") -> dict[str, Path]:
    """Files of the folder entry ``entry``, by name; missing ones are made now.

    Each missing file is made by its maker under the entry's lock (so two builds do not draw
    it twice) and published as soon as it is made. The folder's time stamp is refreshed on
    every call: :func:`expire` removes entries nobody used for a long time.
    """
    files = {name: entry / name for name in makers}
    if any(not path.exists() for path in files.values()):
        with locked(entry, what):
            missing = [name for name, path in files.items() if not path.exists()]  # re-check
            if missing:
                entry.mkdir(parents=True, exist_ok=True)
                sweep_temporaries(entry.parent, holding=entry)
                with staging(entry) as folder:
                    for name in missing:
                        (folder / name).write_bytes(makers[name]())
                        publish([(folder / name, files[name])])
    entry.mkdir(parents=True, exist_ok=True)
    os.utime(entry)  # "used now"
    return files


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _entry_of_temporary(temporary: Path) -> Path | None:
    """The entry a temporary was made for (``.tmp-<entry>-<random>``), if it is one."""
    if not temporary.name.startswith(TEMP_PREFIX):
        return None
    entry_name = temporary.name[len(TEMP_PREFIX):].rpartition("-")[0]
    return temporary.with_name(entry_name) if entry_name else None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep_temporaries(folder: Path, holding: Path | None = None, max_age: float = 3600.0,
                      dry_run: bool = False) -> list[Path]:
    """Remove what crashed writers left in ``folder``; return what was (or would be) removed.

    A temporary of an entry whose lock nobody holds is left over (writers hold the lock while
    they write), and so is every temporary of ``holding``, an entry whose lock the caller
    holds. Files ending in ``.tmp`` (this project's older fixed names) go once they are older
    than ``max_age`` seconds.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in sorted(folder.iterdir()):
        entry = _entry_of_temporary(path)
        try:
            if entry is not None:
                stale = entry == holding or not is_locked(entry)
            else:
                stale = path.name.endswith(".tmp") and now - path.stat().st_mtime > max_age
        except FileNotFoundError:  # removed by someone else meanwhile
            continue
        if stale:
            if not dry_run:
                _remove(path)
            removed.append(path)
    return removed


def remove_entry(paths: Sequence[Path], entry: Path, dry_run: bool = False) -> list[Path] | None:
    """Delete the files or folders ``paths`` of ``entry``, and its lock file, holding its lock;
    None (nothing deleted) if another process holds the lock: the entry is in use. Returns
    what was removed (with ``dry_run``, what would be, and nothing is touched)."""
    if dry_run:
        return None if is_locked(entry) else [path for path in paths if path.exists()]
    lock_file = lock_path(entry)
    lock = FileLock(lock_file)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    try:
        existing = [path for path in paths if path.exists()]
        for path in existing:
            _remove(path)
        lock_file.unlink(missing_ok=True)  # only unused entries are removed: nobody waits
    finally:
        lock.release()
    return existing


def expire(folder: Path, max_age_days: float = 30.0) -> list[Path]:
    """Remove the folder entries of ``folder`` that nobody used for ``max_age_days`` (see
    :func:`write_files`) and whose lock is free; return them."""
    removed = []
    if not folder.is_dir():
        return removed
    cutoff = time.time() - max_age_days * 86400
    for path in sorted(folder.iterdir()):
        if not path.is_dir() or path.name.startswith(TEMP_PREFIX):
            continue
        try:
            old = path.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue
        if old and remove_entry([path], path):
            removed.append(path)
    return removed
