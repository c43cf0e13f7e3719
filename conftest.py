"""Sybil collects every page under docs/ and runs its examples (see tests/docs_harness.py).

The whole test session computes on the book's reference numeric path (llm_evolution.numerics),
set here before anything imports torch: the pages' numbers come from that path.

A chapter page's run also gives its notebook's outputs: what each included section of the
chapter's ``main.py`` printed is written into the notebook (:func:`llm_evolution.notebooks.record`).

Pages run incrementally: a page whose key (:func:`tests.docs_harness.page_key`: its text, the
code it includes and imports, the library versions, the numeric path) has a passing run on
record is reported as skipped, "up to date", instead of running again. ``LLM_EVOLUTION_RERUN=1``
runs every page anyway; a fresh cache (CI) runs them all.

Tests that measure time are marked ``serial``: ``make test`` runs them on their own, before the
others run two at a time (a timing taken beside another test measures the other test).
"""

import datetime
import json
import os
from pathlib import Path

import pytest

from llm_evolution import numerics

# The variables go in before anything imports torch; torch itself loads in pytest_configure,
# and not at all for the browser test of the built site, which computes nothing.
numerics.pin_environment()

from llm_evolution import cache  # noqa: E402

from tests.docs_harness import REPO_ROOT, TIMINGS_TITLE, make_sybil, page_key  # noqa: E402

pytest_collect_file = make_sybil(path=str(REPO_ROOT / "docs")).pytest()
RERUN_ENV = "LLM_EVOLUTION_RERUN"
PAGES: dict[str, dict] = {}  # page path -> {"key", "items", "passed", "failed"}


def _only_the_site_test(config) -> bool:
    """Whether the session collects nothing but tests/site (make test's last step)."""
    site = REPO_ROOT / "tests" / "site"
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    return bool(paths) and all(path.is_relative_to(site) for path in paths)


def pytest_configure(config):
    config.addinivalue_line("markers", "serial: measures time; run alone, not beside other tests")
    if not _only_the_site_test(config):
        numerics.use_reference_path()
    # With -n 2 two workers of two torch threads each share the cores. OpenMP's default is to
    # spin a while when a thread runs out of work, so each worker's spinning threads take the
    # cores the other needs: passive waiting makes the parallel phase about a quarter faster.
    # Read when a worker loads torch (it inherits this environment); no result depends on it.
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_report_header(config):
    if _only_the_site_test(config):
        return "numeric path: not loaded (the browser test computes nothing)"
    return f"numeric path: {numerics.describe()}"


def _page_of(item) -> Path | None:
    path = Path(str(item.path))
    return path if path.suffix == ".md" and path.is_relative_to(REPO_ROOT / "docs") else None


def _record(page: Path, key: str) -> Path:
    from llm_evolution.paths import cache_dir

    return cache_dir("page-runs") / f"{page.stem}-{key}.json"


def pytest_collection_modifyitems(session, config, items):
    pages: dict[Path, list] = {}
    for item in items:
        page = _page_of(item)
        if page is not None:
            pages.setdefault(page, []).append(item)
    for page, page_items in pages.items():
        if TIMINGS_TITLE in page.read_text():  # its timings are measured while it runs
            for item in page_items:
                item.add_marker(pytest.mark.serial)
        # With the selection in the key, a run of some of a page's examples (-k) records
        # nothing that a full run could take for its own.
        key = cache.digest(page_key(page), config.getoption("markexpr") or "",
                           config.getoption("keyword") or "")
        record = _record(page, key)
        if record.exists() and os.environ.get(RERUN_ENV) != "1":
            when = json.loads(record.read_text()).get("passed", "earlier")
            skip = pytest.mark.skip(reason=f"up to date: unchanged since it passed ({when}); "
                                           f"{RERUN_ENV}=1 runs it anyway")
            for item in page_items:
                item.add_marker(skip)
        else:
            PAGES[page.relative_to(REPO_ROOT).as_posix()] = {
                "key": key, "items": len(page_items), "passed": 0, "failed": 0}


def pytest_runtest_logreport(report):
    state = PAGES.get(report.nodeid.split("::")[0])
    if state is None:
        return
    if report.failed or (report.when == "call" and not report.passed):
        state["failed"] += 1
    elif report.when == "call" and report.passed:
        state["passed"] += 1


def pytest_sessionfinish(session, exitstatus):
    """Record the pages that ran in this process and passed every example, and write the
    chapter notebooks of those pages with the outputs their cells printed there."""
    from llm_evolution import notebooks
    from tests.docs_harness import NOTEBOOK_OUTPUTS

    for page, state in PAGES.items():
        if state["passed"] == state["items"] and not state["failed"]:
            for slug, printed in NOTEBOOK_OUTPUTS.get(str(REPO_ROOT / page), {}).items():
                try:
                    notebooks.record(slug, printed, numerics.describe())
                except KeyError:
                    pass  # part of the page ran (-k): the build executes the notebook instead
            record = _record(REPO_ROOT / page, state["key"])
            record.write_text(json.dumps({
                "page": page, "key": state["key"],
                "passed": datetime.datetime.now().isoformat(timespec="seconds"),
                "numeric_path": numerics.describe()}))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.docs_harness import platform_summary

    line = platform_summary(terminalreporter.stats.get("xfailed", []))
    if line:
        terminalreporter.write_sep("-", "numeric path")
        terminalreporter.write_line(line)
