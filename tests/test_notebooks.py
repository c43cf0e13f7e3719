"""Tests for llm_evolution.notebooks: percent-format scripts to Jupyter notebooks, with the
outputs a page run recorded or executed once with nbclient, and cached. A real chapter notebook
runs in a kernel in ``tests/test_notebook_kernel.py``."""

from __future__ import annotations

import json

import nbformat
import pytest

from llm_evolution import notebooks
from llm_evolution.paths import REPO_ROOT
from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Its nbclient runs start Jupyter kernels (seconds each): run again only on a change."""
    yield from run_when_changed(request, "llm_evolution.notebooks")

SCRIPT = '''\
# %% [markdown]
# # A title
#
# Some *prose* about the example.

# %%
# --8<-- [start:setup]
import math

x = math.sqrt(16)
# --8<-- [end:setup]

# %%
  # --8<-- [start:show-it]
print(x)  # --8<-- [start:not-a-marker] because code precedes it
# --8<-- [end:show-it]
'''


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "example.py"
    path.write_text(SCRIPT)
    return path


def test_cells_and_their_sources(script):
    notebook = nbformat.reads(notebooks.to_notebook(script), as_version=4)
    assert [cell.cell_type for cell in notebook.cells] == ["markdown", "code", "code", "code"]
    assert notebook.cells[0].source == "# A title\n\nSome *prose* about the example."
    # The reference numeric path comes before the script's first code cell (and its torch).
    assert notebook.cells[1].source == notebooks.REFERENCE_PATH_CELL
    assert notebook.cells[2].source == "import math\n\nx = math.sqrt(16)"
    assert notebook.cells[3].source == (
        "print(x)  # --8<-- [start:not-a-marker] because code precedes it"
    )


def test_section_markers_are_removed(script):
    text = notebooks.to_notebook(script)
    assert "[start:setup]" not in text and "[end:setup]" not in text
    assert "[start:show-it]" not in text and "[end:show-it]" not in text
    assert "[start:not-a-marker]" in text  # only whole marker lines are removed


def test_stable_cell_ids_and_empty_cell_metadata(script):
    notebook = json.loads(notebooks.to_notebook(script))
    assert [cell["id"] for cell in notebook["cells"]] == ["cell-0", "cell-1", "cell-2", "cell-3"]
    assert all(cell["metadata"] == {} for cell in notebook["cells"])
    assert all(cell.get("outputs", []) == [] for cell in notebook["cells"])


def test_same_script_gives_the_same_bytes(script, tmp_path):
    first = notebooks.to_notebook(script)
    copy = tmp_path / "copy.py"
    copy.write_text(SCRIPT)
    assert notebooks.to_notebook(script) == first
    assert notebooks.to_notebook(copy) == first  # the path is not part of the output


def test_notebook_is_valid_nbformat_with_kernel_metadata(script):
    text = notebooks.to_notebook(script)
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)  # raises ValidationError if invalid
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert text.endswith("\n")


def test_main_snippets_finds_chapter_one():
    found = notebooks.main_snippets()
    expected = REPO_ROOT / "snippets" / "01-language-models" / "main.py"
    assert found["01-language-models"] == expected
    assert all(path.name == "main.py" and path.parent.name == slug for slug, path in found.items())
    assert list(found) == sorted(found)


def test_chapter_one_converts_to_a_valid_notebook_without_markers():
    script = notebooks.main_snippets()["01-language-models"]
    notebook = nbformat.reads(notebooks.to_notebook(script), as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.cells[0].source.startswith("# Chapter 1")
    assert not any("--8<--" in cell.source for cell in notebook.cells)


@pytest.fixture
def demo_chapter(tmp_path, monkeypatch):
    """A chapter "07-demo" whose script is SCRIPT, and an empty cache."""
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "snippets" / "07-demo" / "main.py"
    source.parent.mkdir(parents=True)
    source.write_text(SCRIPT)
    monkeypatch.setattr(notebooks, "SNIPPETS", tmp_path / "snippets")
    return source


def test_build_all_executes_once_and_keeps_unchanged_files(demo_chapter, tmp_path):
    out = tmp_path / "out"
    written = notebooks.build_all(out)
    assert written == {"07-demo": out / "07-demo.ipynb"}
    notebook = nbformat.reads(written["07-demo"].read_text(), as_version=4)
    assert notebook.cells[3].outputs[0]["text"] == "4.0\n"  # print(x), x = sqrt(16)
    assert "reference" in notebook.cells[1].outputs[0]["text"]  # the numeric path cell ran
    cached = notebooks.executed_path("07-demo")
    mtime, cached_mtime = written["07-demo"].stat().st_mtime_ns, cached.stat().st_mtime_ns
    notebooks.build_all(out)  # from the cache: nothing runs, nothing is rewritten
    assert written["07-demo"].stat().st_mtime_ns == mtime
    assert cached.stat().st_mtime_ns == cached_mtime
    demo_chapter.write_text(SCRIPT + "\n# %%\nprint(x + 1)\n")  # an edit: a new key, a new run
    assert notebooks.executed_path("07-demo") != cached
    rerun = nbformat.reads(notebooks.build_all(out)["07-demo"].read_text(), as_version=4)
    assert rerun.cells[-1].outputs[0]["text"] == "5.0\n"


def test_a_failing_cell_fails_the_run_and_caches_nothing(demo_chapter):
    import nbclient.exceptions

    demo_chapter.write_text(SCRIPT + "\n# %%\nraise ValueError('a broken example')\n")
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="a broken example"):
        notebooks.executed("07-demo")
    assert not notebooks.executed_path("07-demo").exists()


def test_cell_sections_name_each_code_cell(script):
    assert notebooks.cell_sections(script) == ["setup", "show-it"]


def test_with_outputs_puts_each_sections_print_in_its_cell(script):
    text = notebooks.with_outputs(script, {"setup": "", "show-it": "4.0\n"}, "the path")
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == [1, 2, 3]
    assert code[0].outputs[0]["text"] == "the path\n"  # the reference-path cell
    assert code[1].outputs == []  # printed nothing
    assert code[2].outputs[0] == {"output_type": "stream", "name": "stdout", "text": "4.0\n"}


def test_with_outputs_refuses_a_cell_with_nothing_recorded(script):
    with pytest.raises(KeyError, match="show-it"):
        notebooks.with_outputs(script, {"setup": ""}, "the path")


def test_record_caches_the_page_run_and_build_all_serves_it(demo_chapter, tmp_path,
                                                             monkeypatch):
    def no_kernel(*args, **kwargs):
        raise AssertionError("a recorded notebook must not be executed again")

    path = notebooks.record("07-demo", {"setup": "", "show-it": "4.0\n"}, "the path")
    assert path == notebooks.executed_path("07-demo")
    monkeypatch.setattr("nbclient.NotebookClient", no_kernel)
    written = notebooks.build_all(tmp_path / "out")["07-demo"]
    assert written.read_text() == path.read_text()
    assert not list(path.parent.glob("*.tmp*")), "no temporary files left behind"
