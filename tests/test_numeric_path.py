"""The reference numeric path gives the same trained weights on any CPU this machine can emulate.

A second CPU is not at hand, so each difference between two x86-64 machines that decides float
results is emulated here, all at once, in a subprocess that trains a GPT, a BERT (dropout, erf
GELU) and the GRU translator for a few steps (``tests/numeric_probe.py``) and prints their
weight hashes:

* MKL capped at older instruction sets (``MKL_ENABLE_INSTRUCTIONS``);
* MKL taking the other maker's code path (a two-function library under ``LD_PRELOAD`` that
  answers "Intel" to MKL's vendor check on an AMD CPU, "not Intel" on an Intel one: a test
  technique only);
* oneDNN capped at SSE4.1 (``ONEDNN_MAX_CPU_ISA``), as on an older CPU;
* glibc told to hide AVX2 and FMA from its own function variants (``GLIBC_TUNABLES``);
* the parent's thread variables (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``), at 1 and at 7.

On the reference path every hash equals the plain run's. The negative controls run the same
emulations with one part of the recipe removed and must see the weights change, so the test
fails if the recipe is weakened (and shows that each emulation reaches the kernels it claims).

Those emulations run on this machine's own hardware, so they cannot see an instruction whose
result the CPU's maker decides: the estimates of 1/x and 1/sqrt(x) (``rcpps``, ``rsqrtps``)
differ between Intel and AMD, and code that refines them (Tensor.sqrt's float32 vector code,
which the unfused AdamW update calls) gives another last bit on another maker's CPU. The
pages' numbers once differed between an AMD and an Intel machine for that reason. So the
small probe also runs under QEMU's software emulation of an AMD EPYC CPU (``qemu-x86_64``,
Debian's qemu-user), which computes those estimates its own way, a third maker: the weights
must equal this machine's, and, with the loop's AdamW unfused, must not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from llm_evolution import numerics
from tests.docs_harness import REPO_ROOT
from tests.incremental import run_when_changed

pytestmark = [
    pytest.mark.skipif(numerics.unsupported_reason() is not None,
                       reason=f"no reference numeric path on this machine: "
                              f"{numerics.unsupported_reason()}"),
    # serial: its probes train in two subprocesses at once, one per core; beside another test
    # worker on 2 cores they and it would slow each other down.
    pytest.mark.serial,
]

# MKL asks these two functions whether it runs on an Intel CPU; the shim answers the opposite
# of the truth, so that MKL takes the code path of the other maker's CPUs.
OTHER_MAKER_SHIM = """
int mkl_serv_intel_cpu_true(void) {{ return {answer}; }}
int mkl_serv_intel_cpu(void) {{ return {answer}; }}
"""
EMULATED_CPU = "EPYC-Milan"  # QEMU's model of an AMD EPYC 7003: AVX2 and FMA, no AVX-512
GLIBC_MASK = "glibc.cpu.hwcaps=-AVX2,-FMA,-AVX2_Usable,-FMA_Usable,-AVX_Fast_Unaligned_Load"


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Minutes of training in subprocesses: run again only when the path's code changes."""
    yield from run_when_changed(request, "llm_evolution.numerics", "llm_evolution.training",
                                "llm_evolution.models.gpt", "llm_evolution.models.bert",
                                "llm_evolution.models.rnn",
                                REPO_ROOT / "tests" / "numeric_probe.py")


def intel_cpu() -> bool:
    return "GenuineIntel" in open("/proc/cpuinfo").read()


@pytest.fixture(scope="module")
def intel_shim(tmp_path_factory) -> str:
    """A shared library that makes MKL believe it runs on the other maker's CPU."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.fail("the emulation test needs a C compiler (Debian: apt-get install gcc) to "
                    "build its LD_PRELOAD library; .ci/run installs one")
    folder = tmp_path_factory.mktemp("shim")
    (folder / "intel.c").write_text(OTHER_MAKER_SHIM.format(answer=0 if intel_cpu() else 1))
    library = folder / "libintel.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(library), str(folder / "intel.c")],
                   check=True)
    return str(library)


def probe(env: dict[str, str], *args: str, emulator: tuple[str, ...] = (),
          small: bool = False) -> dict[str, str]:
    """Weight hashes from a fresh process whose environment is this one's without the reference
    variables (the probe pins itself, as the library does) plus ``env``; run under
    ``emulator`` (a QEMU command line) if one is given, with ``small`` models."""
    base = {name: value for name, value in os.environ.items()
            if name not in numerics.REFERENCE_ENV}
    steps = ("--steps", "1", "--small") if small else ("--steps", "3")
    result = subprocess.run([*emulator, sys.executable, "-m", "tests.numeric_probe", *steps,
                             *args],
                            env={**base, **env}, cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"probe {env} {args} failed:\n{result.stderr[-3000:]}")
    hashes = json.loads(result.stdout.strip().splitlines()[-1])
    hashes.pop("path")
    return hashes


def run_all(cases: dict[str, tuple[dict[str, str], tuple[str, ...]]],
            emulator: tuple[str, ...] = (), emulated: frozenset[str] = frozenset()
            ) -> dict[str, dict]:
    """Every case's hashes. With an ``emulator``, the probes are small, and the cases named in
    ``emulated`` run under it."""
    # Two processes at once, one per core; OpenMP threads that wait passively instead of
    # spinning leave the cores to the other process (the waiting changes no result).
    passive = {"OMP_WAIT_POLICY": "PASSIVE"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(probe, {**passive, **env}, *args,
                                     emulator=emulator if name in emulated else (),
                                     small=bool(emulator))
                   for name, (env, args) in cases.items()}
        return {name: future.result() for name, future in futures.items()}


def test_weights_identical_on_a_cpu_emulated_in_software():
    """QEMU's AMD EPYC, whose 1/x and 1/sqrt(x) estimates are neither Intel's nor AMD's, trains
    this machine's weights; with the training loop's AdamW unfused it does not (the control
    shows that the emulation reaches the instructions that differ)."""
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.fail("the emulation test needs QEMU's user-mode x86-64 emulator "
                    "(Debian: apt-get install qemu-user); .ci/run installs it")
    emulator = (qemu, "-cpu", EMULATED_CPU)
    hashes = run_all({"here": ({}, ()), "emulated": ({}, ()),
                      "here, unfused": ({}, ("--weaken", "fused_adamw")),
                      "emulated, unfused": ({}, ("--weaken", "fused_adamw"))},
                     emulator, emulated=frozenset({"emulated", "emulated, unfused"}))
    print(json.dumps(hashes, indent=1))  # the closing note's table: pytest -s shows it
    assert hashes["emulated"] == hashes["here"], (
        f"the weights differ on an emulated {EMULATED_CPU}: {hashes}")
    assert hashes["emulated, unfused"] != hashes["here, unfused"], (
        "with AdamW unfused the emulated CPU trained the same weights: the emulation did not "
        "reach the instructions whose results differ between CPU makers")


def test_weights_identical_under_every_emulated_cpu(intel_shim):
    """Every emulation at once, with the parent's thread variables at 1 and at 7, trains the
    plain run's weights. Each emulation reaches the kernels it claims (the negative controls
    below), so together they stand for a CPU that differs in every way at once; one probe per
    emulation alone would cost a subprocess each and prove little more."""
    all_at_once = {"LD_PRELOAD": intel_shim, "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                   "GLIBC_TUNABLES": GLIBC_MASK}
    onednn_sse41 = ("--override", "ONEDNN_MAX_CPU_ISA=SSE41")
    cases = {
        "plain": ({}, ()),
        "all at once, parent threads 1": (
            {**all_at_once, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, onednn_sse41),
        "all at once, parent threads 7": (
            {**all_at_once, "OMP_NUM_THREADS": "7", "MKL_NUM_THREADS": "7"}, onednn_sse41),
    }
    hashes = run_all(cases)
    reference = hashes["plain"]
    differing = {name: got for name, got in hashes.items() if got != reference}
    print(json.dumps(hashes, indent=1))  # the closing note's table: pytest -s shows it
    assert not differing, f"weights changed on the reference path: {differing} != {reference}"


def test_each_part_of_the_recipe_is_needed(intel_shim):
    """Without one part of the recipe, some emulated CPU trains different weights."""
    controls = {
        # Without MKL_CBWR=COMPATIBLE, MKL's Intel path computes matmuls differently.
        "mkl_cbwr": ({"LD_PRELOAD": intel_shim}, ()),
        # With oneDNN on, the erf GELU follows oneDNN's ISA (the BERT changes).
        "onednn": ({}, ("--override", "ONEDNN_MAX_CPU_ISA=SSE41")),
        # Without a fixed thread count, the parent's OMP_NUM_THREADS decides the sums.
        "threads": ({"OMP_NUM_THREADS": "1"}, ()),
        # Without ATen pinned to AVX2, a CPU whose ATen picks another width differs.
        "aten": ({}, ("--override", "ATEN_CPU_CAPABILITY=default")),
    }
    cases = {}
    for part, (env, args) in controls.items():
        cases[f"{part} weakened"] = ({}, ("--weaken", part))
        cases[f"{part} weakened, emulated"] = (env, ("--weaken", part, *args))
    hashes = run_all(cases)
    for part in controls:
        assert hashes[f"{part} weakened"] != hashes[f"{part} weakened, emulated"], (
            f"without the {part!r} part of the recipe the emulation changed nothing: the test "
            f"could not tell that part is needed")


def test_glibc_mask_reaches_glibc():
    """The glibc emulation is real: the dynamic loader reports AVX2 and FMA as inactive."""
    loader = "/lib64/ld-linux-x86-64.so.2"
    if not os.path.exists(loader):
        pytest.skip(f"no {loader} to ask (not glibc on x86-64)")

    def active_features(env: dict[str, str]) -> list[str]:
        shown = subprocess.run([loader, "--list-diagnostics"], env=env, capture_output=True,
                               text=True, check=True).stdout
        return [line for line in shown.splitlines() if ".active[" in line]

    plain = active_features({})
    masked = active_features({"GLIBC_TUNABLES": GLIBC_MASK})
    assert plain and masked != plain
