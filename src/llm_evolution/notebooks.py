"""Each chapter's main example, offered as a Jupyter notebook with the outputs of its one run.

The main example of chapter ``NN-slug`` is ``snippets/NN-slug/main.py``, a script in jupytext's
"percent" format (``# %%`` starts a code cell, ``# %% [markdown]`` a text cell). Every code cell
is one section (``# --8<-- [start:NAME]`` ... ``[end:NAME]``), which the chapter page includes
as a block of its own, in the script's order (``tests/test_snippets.py`` checks it). It runs as
a plain script, the page shows its sections, and :func:`to_notebook` converts it into
``NN-slug.ipynb`` for the site's notebook pages and download buttons.

The code runs once: when the chapter page runs under the tests, the harness records what each
included section printed, and :func:`record` writes the notebook with those outputs into the
cache, under a key of the script, the code it imports and the library versions. The site build
serves that copy (mkdocs-jupyter's ``execute: false``), so the downloaded notebook shows the
page's outputs. A build with no recorded copy (``make build`` before any test run) executes the
notebook once with nbclient instead (:func:`executed`). ``tests/test_notebook_kernel.py`` runs
one chapter's notebook in a real kernel and checks it prints what its page shows.

Convert and execute without MkDocs: ``python -m llm_evolution.notebooks --out some/folder``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

from llm_evolution import cache
from llm_evolution.paths import REPO_ROOT, cache_dir, checkout_cache_dir

SNIPPETS = REPO_ROOT / "snippets"
# Section markers are for the pages (pymdownx.snippets); a notebook reader does not need them.
SECTION_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):[\w-]+\]\s*$")
SECTION_START = re.compile(r"^\s*# --8<-- \[start:(?P<name>[\w-]+)\]\s*$", re.MULTILINE)
# The first code cell of every notebook: the kernel computes on the book's reference numeric
# path, so a reader who runs the notebook gets the page's numbers (llm_evolution.numerics).
REFERENCE_PATH_CELL = """\
# Run first, before anything imports torch: the numbers below are then the page's, on any
# x86-64 machine (see llm_evolution.numerics).
from llm_evolution import numerics

print(numerics.use_reference_path())"""


def main_snippets() -> dict[str, Path]:
    """Chapter slug -> its main example script, for every chapter that has one."""
    return {path.parent.name: path for path in sorted(SNIPPETS.glob("*/main.py"))}


def to_notebook(script: Path) -> str:
    """The notebook (JSON text) for a percent-format ``script``, without section markers."""
    import jupytext
    import nbformat

    lines = [line for line in script.read_text().splitlines() if not SECTION_MARKER.match(line)]
    notebook = jupytext.reads("\n".join(lines) + "\n", fmt="py:percent")
    first_code = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"),
                      len(notebook.cells))
    notebook.cells.insert(first_code, nbformat.v4.new_code_cell(REFERENCE_PATH_CELL))
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index}"  # stable ids: the same script gives the same bytes
        cell.metadata = {}
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return nbformat.writes(notebook) + "\n"


def cell_sections(script: Path) -> list[str | None]:
    """The section each code cell of ``script`` is, in order (None for a cell without one):
    the names under which a page run records the cells' outputs."""
    import jupytext

    cells = jupytext.reads(script.read_text(), fmt="py:percent").cells
    sections = []
    for cell in cells:
        if cell.cell_type == "code":
            found = SECTION_START.findall(cell.source)
            sections.append(found[0] if len(found) == 1 else None)
    return sections


def with_outputs(script: Path, printed: Mapping[str, str], reference_path: str) -> str:
    """The notebook of ``script`` with each code cell's output set to what its section
    printed (``printed``, by section name) and the reference-path cell's to
    ``reference_path``, numbered as one run from the top would number them.

    Raises KeyError naming the sections with nothing recorded."""
    import nbformat

    notebook = nbformat.reads(to_notebook(script), as_version=4)
    sections = cell_sections(script)
    missing = [name for name in sections if name is None or name not in printed]
    if missing:
        raise KeyError(f"{script}: no recorded output for the code cells {missing}")
    texts = iter([reference_path + "\n", *(printed[name] for name in sections)])
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for count, (cell, text) in enumerate(zip(code_cells, texts, strict=True), start=1):
        cell.execution_count = count
        cell.outputs = ([nbformat.v4.new_output("stream", name="stdout", text=text)]
                        if text else [])
    return nbformat.writes(notebook) + "\n"


def record(slug: str, printed: Mapping[str, str], reference_path: str) -> Path:
    """Cache chapter ``slug``'s notebook with the outputs its page run printed (see
    :func:`with_outputs`); returns the cached file, which the site build then serves."""
    path = executed_path(slug)
    text = with_outputs(main_snippets()[slug], printed, reference_path)
    with cache.locked(path, f"notebook {slug}"):
        if path.exists() and path.read_text() == text:
            return path
        with cache.staging(path) as folder:
            staged = folder / path.name
            staged.write_text(text)
            cache.publish([(staged, path)])
    return path


def notebook_key(script: Path) -> str:
    """Key of an executed notebook: the script and the import closure of its code, this
    module (which converts it), the library versions and the numeric path."""
    return cache.build_key(script, Path(__file__),
                           distributions=("torch", "transformers", "tokenizers", "nbclient"))


def executed_path(slug: str) -> Path:
    """Where the executed notebook of chapter ``slug`` is (or will be) cached."""
    script = main_snippets()[slug]
    return cache_dir("notebooks") / f"{slug}-{notebook_key(script)}.ipynb"


def executed(slug: str, *, again: bool = False) -> Path:
    """The executed notebook of chapter ``slug``: from the cache (recorded by its page run, or
    executed before), or run now (every cell, in a kernel started from the repository root)
    and cached. A cell that raises fails the run
    with the cell's error, and nothing is cached."""
    import nbclient
    import nbformat

    path = executed_path(slug)
    if path.exists() and not again:
        return path
    with cache.locked(path, f"notebook {slug}"):
        if path.exists() and not again:  # another process executed it while we waited
            return path
        notebook = nbformat.reads(to_notebook(main_snippets()[slug]), as_version=4)
        client = nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                         allow_errors=False,
                                         resources={"metadata": {"path": str(REPO_ROOT)}})
        client.execute()
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)  # time stamps: the same run, the same bytes
        with cache.staging(path) as folder:
            staged = folder / path.name
            staged.write_text(nbformat.writes(notebook) + "\n")
            cache.publish([(staged, path)])
    return path


def build_all(out_dir: Path | None = None) -> dict[str, Path]:
    """Write the executed ``<slug>.ipynb`` of every chapter into ``out_dir`` (default: this
    checkout's ``.cache/site-notebooks/notebooks``), executing those not in the cache."""
    out_dir = out_dir or checkout_cache_dir("site-notebooks", "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for slug in main_snippets():
        target = out_dir / f"{slug}.ipynb"
        text = executed(slug).read_text()
        if not target.exists() or target.read_text() != text:  # keep mtimes of unchanged files
            target.write_text(text)
        written[slug] = target
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the .ipynb files")
    args = parser.parse_args()
    for slug, path in build_all(args.out).items():
        print(f"{slug}: {path}")


if __name__ == "__main__":
    main()
