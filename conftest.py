"""Sybil collects every page under docs/ and runs its examples (see tests/docs_harness.py).

The whole test session computes on the book's reference numeric path (llm_evolution.numerics),
set here before anything imports torch: the pages' numbers come from that path.
"""

from llm_evolution import numerics

numerics.use_reference_path()

from tests.docs_harness import REPO_ROOT, make_sybil  # noqa: E402

pytest_collect_file = make_sybil(path=str(REPO_ROOT / "docs")).pytest()


def pytest_report_header(config):
    return f"numeric path: {numerics.describe()}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from tests.docs_harness import platform_summary

    line = platform_summary(terminalreporter.stats.get("xfailed", []))
    if line:
        terminalreporter.write_sep("-", "numeric path")
        terminalreporter.write_line(line)
