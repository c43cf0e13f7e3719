"""Sybil collects every page under docs/ and runs its examples (see tests/docs_harness.py)."""

from tests.docs_harness import REPO_ROOT, make_sybil

pytest_collect_file = make_sybil(path=str(REPO_ROOT / "docs")).pytest()
