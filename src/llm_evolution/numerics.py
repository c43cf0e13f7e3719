"""The one reference numeric path: why a page prints the same numbers on any x86-64 machine.

Two CPUs run the same float32 training step with different kernels (MKL's matrix products
pick a code path per processor, ATen's vector kernels follow the instruction set, oneDNN
follows the instruction set and cache sizes, sums are split over threads), so they add the
same numbers in a different order. Training turns that last bit into a different model:
another accuracy, another loss, another sample. Every trained model, and every number a page
prints from one, therefore goes through one fixed path:

* before ``import torch``: ``ATEN_CPU_CAPABILITY=avx2`` (ATen's AVX2 kernels, even on an
  AVX-512 CPU), ``MKL_CBWR=COMPATIBLE`` (MKL's one branch documented to give the same results
  on Intel and non-Intel CPUs, vector math included) and ``ONEDNN_MAX_CPU_ISA=AVX2``;
* after it: oneDNN off (``torch.backends.mkldnn.enabled = False``: the erf GELU and LSTM run
  in ATen) and exactly :data:`REFERENCE_THREADS` thread;
* in the code: no float32 ``Tensor.sqrt`` (nor ``torch.atan``) in training. Their AVX2 code
  refines the CPU's estimate of 1/sqrt(x), whose last bit Intel and AMD compute differently;
  so the training loop's AdamW is the fused kernel, whose square root is exact
  (:func:`llm_evolution.training.make_optimizer`), and chapter 7's batched AdamW takes its
  square roots in float64.

The variables are read when torch and MKL load, so a process is put on the path *before* it
imports torch: :func:`use_reference_path` (called by the test configuration, the site build
hook and the first cell of every notebook), or the environment :func:`reference_env` gives a
subprocess (the model cache trains in one when its own process is not pinned). The path
needs AVX2 and FMA: on another CPU (an ARM laptop, say) models train on the machine's native
path, under a different cache key, and the tests report which outputs differ.

Speed measurements (timing blocks, ``python -m llm_evolution.bench``) do not need the path;
``python -m llm_evolution.numerics`` prints the path this process is on.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path

# --8<-- [start:reference_path]
# Read by torch, MKL and oneDNN when they load: set before `import torch`.
REFERENCE_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vector kernels at AVX2 width on every x86-64 CPU
    "MKL_CBWR": "COMPATIBLE",  # MKL's CPU-independent branch (GEMM and vector math)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN capped too, for anything that still reaches it
}
# The thread count decides how sums are split: fixed. One thread: no split at all, and on a
# machine with several cores, several models train side by side (`zoo train --all`), which
# uses the cores better than threads do for models this small.
REFERENCE_THREADS = 1
# Part of every trained model's cache key: bump it when the recipe above changes.
REFERENCE_PATH_ID = "reference-v3:avx2+mkl-compatible+no-onednn+1-thread+fused-adamw"
# --8<-- [end:reference_path]

# MKL's conditional-numerical-reproducibility modes, as ``mkl_cbwr_get(MKL_CBWR_BRANCH)``
# reports them (mkl_service.h): what this process really runs, not what was asked for.
MKL_CBWR_BRANCH = 1
MKL_CBWR_MODES = {1: "OFF", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 6: "SSE4_2", 8: "AVX",
                  9: "AVX2", 10: "AVX512_MIC", 11: "AVX512", 12: "AVX512_MIC_E1",
                  14: "AVX512_E1"}


def cpu_flags() -> set[str] | None:
    """The processor's feature flags from ``/proc/cpuinfo``, or None where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


@lru_cache(maxsize=1)
def unsupported_reason() -> str | None:
    """Why this machine cannot run the reference path, or None when it can (x86-64 with AVX2
    and FMA, so that ATen's AVX2 kernels and MKL's compatible branch are the ones it runs)."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return f"the CPU is {platform.machine()}, not x86-64 (the reference path is x86-64 only)"
    flags = cpu_flags()
    if flags is None:
        return "this system has no /proc/cpuinfo to check the CPU for AVX2 and FMA"
    missing = sorted({"avx2", "fma"} - flags)
    if missing:
        return f"the CPU lacks {' and '.join(missing).upper()}"
    return None


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers set): how many
    models train side by side, and how many threads a timing uses."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def reference_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the reference variables set: the
    environment for a subprocess that must compute on the reference path."""
    env = dict(os.environ if base is None else base)
    env.update(REFERENCE_ENV)
    return env


def environment_is_pinned(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``environ`` (default: this process's) carries every reference variable."""
    environ = os.environ if environ is None else environ
    return all(environ.get(name) == value for name, value in REFERENCE_ENV.items())


def mkl_branch() -> str:
    """The branch MKL really runs in this process (``COMPATIBLE`` on the reference path).

    MKL ignores a ``MKL_CBWR`` value it does not honour (on AMD CPUs, anything but ``AUTO``
    and ``COMPATIBLE``) without a word; asking MKL itself is the only proof.
    """
    import torch

    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        mode = ctypes.CDLL(str(library)).mkl_serv_cbwr_get(MKL_CBWR_BRANCH)
    except (OSError, AttributeError):
        return "unknown (no MKL in this torch build)"
    return MKL_CBWR_MODES.get(mode, f"mode {mode}")


def on_reference_path() -> bool:
    """Whether this process computes on the reference path: a supported CPU, and torch loaded
    with ATen at AVX2 and MKL on its compatible branch (checked in the libraries, not only in
    the environment). oneDNN and the thread count are set by :func:`reference_settings`."""
    if unsupported_reason() is not None or not environment_is_pinned():
        return False
    import torch

    return torch.backends.cpu.get_cpu_capability() == "AVX2" and mkl_branch() == "COMPATIBLE"


def pin_environment() -> bool:
    """Put this process on the reference path, if torch has not been imported yet.

    Returns whether the process is pinned. Raises :class:`RuntimeError` when torch was
    imported first without the variables (too late: torch and MKL read them when they load).
    On a machine that cannot run the path, changes nothing and returns False.
    """
    if unsupported_reason() is not None:
        return False
    if environment_is_pinned():
        return True
    if "torch" in sys.modules:
        raise RuntimeError(
            "torch was imported before the reference numeric path was set: restart the process "
            "(the notebook kernel) and run `from llm_evolution import numerics; "
            "numerics.use_reference_path()` before anything imports torch, or start it with "
            f"these variables set: {REFERENCE_ENV}"
        )
    os.environ.update(REFERENCE_ENV)
    return True


# --8<-- [start:reference_settings]
@contextlib.contextmanager
def reference_settings() -> Iterator[None]:
    """Within the block: oneDNN off and :data:`REFERENCE_THREADS` thread; restored after."""
    import torch

    threads, onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(REFERENCE_THREADS)
    torch.backends.mkldnn.enabled = False  # erf GELU and LSTM through ATen, not oneDNN
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = onednn
        torch.set_num_threads(threads)
# --8<-- [end:reference_settings]


def use_reference_path() -> str:
    """Pin this process (before torch is imported) and apply the settings for good: what a
    test session, a site build and a notebook call first. Returns :func:`describe`."""
    pin_environment()
    import torch

    if unsupported_reason() is None:
        torch.set_num_threads(REFERENCE_THREADS)
        torch.backends.mkldnn.enabled = False
    return describe()


def training_path_id() -> str:
    """Which path this machine trains cached models on, for the model cache's key: the
    reference path wherever it can run, else this machine's native path (so a model trained
    natively is never mistaken for a reference one)."""
    if unsupported_reason() is None:
        return REFERENCE_PATH_ID
    import torch

    return (f"native:{platform.machine()}:{platform.system()}:"
            f"{torch.backends.cpu.get_cpu_capability()}")


def describe() -> str:
    """One line: the numeric path this process computes on, for test headers and benchmarks."""
    import torch

    threads = torch.get_num_threads()
    onednn = "on" if torch.backends.mkldnn.enabled else "off"
    kernels = (f"ATen {torch.backends.cpu.get_cpu_capability()}, MKL {mkl_branch()}, "
               f"oneDNN {onednn}, {threads} thread{'s' if threads != 1 else ''}")
    reason = unsupported_reason()
    if reason is not None:
        return f"native ({kernels}); no reference path here: {reason}"
    if on_reference_path():
        settled = threads == REFERENCE_THREADS and not torch.backends.mkldnn.enabled
        note = "" if settled else "; trained models and printed results use reference_settings()"
        return f"reference ({kernels}){note}"
    return (f"native ({kernels}); cached models still train on the reference path, in a "
            "subprocess")


if __name__ == "__main__":
    print(describe())
