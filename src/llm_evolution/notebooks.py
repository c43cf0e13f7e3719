"""Each chapter's main example, offered as a Jupyter notebook.

The main example of chapter ``NN-slug`` is ``snippets/NN-slug/main.py``, a script in jupytext's
"percent" format (``# %%`` starts a code cell, ``# %% [markdown]`` a text cell). It runs as a
plain script, the chapter page includes its sections, and :func:`build_all` converts it into
``NN-slug.ipynb`` for the site's notebook pages and download buttons.

Convert without MkDocs: ``python -m llm_evolution.notebooks --out some/folder``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from llm_evolution.paths import REPO_ROOT, cache_dir, library_hash

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
        # Executed output depends on the library too: this hash makes a rebuild re-execute
        # the notebook after any change under src/ (mkdocs-jupyter caches by file content).
        "llm_evolution": {"library_hash": library_hash()},
    }
    return nbformat.writes(notebook) + "\n"


def build_all(out_dir: Path | None = None) -> dict[str, Path]:
    """Write ``<slug>.ipynb`` for every chapter into ``out_dir`` (default: the cache)."""
    out_dir = out_dir or cache_dir("site-notebooks", "notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for slug, script in main_snippets().items():
        target = out_dir / f"{slug}.ipynb"
        text = to_notebook(script)
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
