"""Chapter 8's printed fits are the same on every CPU: the fits run in float64, whose last digits
differ under QEMU's emulated EPYC; what the page prints of them must not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from llm_evolution.scaling_runs import sweep_runs
from tests.docs_harness import REPO_ROOT
from tests.incremental import run_when_changed
from tests.test_numeric_path import EMULATED_CPU

# serial: two minutes of fitting under emulation, on one core, beside the native run.
pytestmark = pytest.mark.serial


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Minutes under emulation: run again only when the fits or the probe change."""
    yield from run_when_changed(request, "llm_evolution.scaling_runs",
                                REPO_ROOT / "tests" / "fit_probe.py")


def test_the_chapters_fits_print_the_same_under_an_emulated_cpu(tmp_path):
    """The sweep's models are the same on every CPU (tests/test_numeric_path.py); the fits run
    in float64 and their last digits are not (seen under QEMU's EPYC). What the page prints
    of them, three significant digits, must be."""
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.fail("qemu-x86_64 is missing (Debian: apt-get install qemu-user); .ci/run "
                    "installs it")
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(sweep_runs()))
    printed = [subprocess.run([*emulator, sys.executable, "-m", "tests.fit_probe", str(rows)],
                              cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                              timeout=900).stdout
               for emulator in ((), (qemu, "-cpu", EMULATED_CPU))]
    assert printed[0] == printed[1]
    assert "L(N, D)" in printed[0]
