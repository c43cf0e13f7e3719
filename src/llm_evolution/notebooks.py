"""Each chapter's main example, offered as a Jupyter notebook, executed once.

The main example of chapter ``NN-slug`` is ``snippets/NN-slug/main.py``, a script in jupytext's
"percent" format (``# %%`` starts a code cell, ``# %% [markdown]`` a text cell). It runs as a
plain script, the chapter page includes its sections, and :func:`to_notebook` converts it into
``NN-slug.ipynb`` for the site's notebook pages and download buttons.

:func:`executed` runs a notebook with nbclient, on the reference numeric path, and keeps the
result in the cache under a key of the script, the code it imports and the library versions;
the tests execute each chapter's notebook once (``tests/test_notebooks.py``), and the site
build serves the executed copies (mkdocs-jupyter's ``execute: false``), so the downloaded
notebook shows the outputs it had when it ran. Timings come from the one measurement cache
(:mod:`llm_evolution.measurements`), so they are the page's.

Convert and execute without MkDocs: ``python -m llm_evolution.notebooks --out some/folder``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from llm_evolution import cache
from llm_evolution.paths import REPO_ROOT, cache_dir, checkout_cache_dir

SNIPPETS = REPO_ROOT / "snippets"
# Section markers are for the pages (pymdownx.snippets); a notebook reader does not need them.
SECTION_MARKER = re.compile(r"^\s*# --8<-- \[(start|end):[\w-]+\]\s*$")
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
    """The executed notebook of chapter ``slug``: from the cache, or run now (every cell, in
    a kernel started from the repository root) and cached. A cell that raises fails the run
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
