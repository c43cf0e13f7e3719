"""Tests for llm_evolution.measurements: one timing per machine, read by everyone after."""

from __future__ import annotations

import pytest
import torch

from llm_evolution import measurements
from llm_evolution.paths import cache_dir

CALLS: list[tuple] = []


@measurements.measured
def fake_timing(sizes: tuple[int, ...], repeats: int = 1) -> dict[int, tuple[float, float]]:
    """Stands in for a timing: counts its calls and returns Python literals."""
    CALLS.append((sizes, repeats))
    return {size: (size / 1000, size / 2000) for size in sizes}


@measurements.measured
def not_a_literal() -> object:
    return torch.zeros(1)


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path))
    monkeypatch.delenv(measurements.FRESH_ENV, raising=False)
    CALLS.clear()


def stored() -> list:
    return sorted(cache_dir("measurements").glob("*.txt"))


def test_a_call_is_measured_once_then_read_back():
    first = fake_timing((8, 16))
    assert fake_timing((8, 16)) == first == {8: (0.008, 0.004), 16: (0.016, 0.008)}
    assert CALLS == [((8, 16), 1)]  # the second call read the stored result
    (path,) = stored()
    assert '"cpu"' in path.read_text() and '"threads"' in path.read_text()


def test_other_arguments_and_thread_counts_are_other_measurements():
    fake_timing((8,))
    fake_timing((8,), repeats=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        fake_timing((8,))
    finally:
        torch.set_num_threads(threads)
    assert len(CALLS) == 3 and len(stored()) == 3


def test_remeasure_env_and_measure_again_skip_the_cache(monkeypatch):
    fake_timing((8,))
    fake_timing.measure_again((8,))  # the undecorated function: measures, stores nothing
    monkeypatch.setenv(measurements.FRESH_ENV, "1")
    fake_timing((8,))
    assert len(CALLS) == 3 and len(stored()) == 1


def test_a_damaged_measurement_is_measured_again_with_a_warning():
    fake_timing((8,))
    (path,) = stored()
    path.write_text(path.read_text()[:-6])  # cut off mid-literal
    with pytest.warns(UserWarning, match="damaged"):
        assert fake_timing((8,)) == {8: (0.008, 0.004)}
    assert len(CALLS) == 2


def test_results_that_are_not_literals_are_refused():
    with pytest.raises(TypeError, match="cannot be stored as a Python literal"):
        not_a_literal()
    assert stored() == []
