"""Tests for llm_evolution.bench: a smoke run with tiny sizes, the FLOP formulas against
PyTorch's own FLOP counter, and the committed results file the Performance page reads."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from llm_evolution import bench
from llm_evolution import speed as speed_module
from llm_evolution.models.gpt import GPT, GPTConfig
from tests.incremental import run_when_changed

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """A smoke run of the whole benchmark (seconds): run again only when its code changes."""
    yield from run_when_changed(request, "llm_evolution.bench",
                                extra=(bench.COMMITTED_RESULTS.read_text(),))


TINY = GPTConfig(vocab_size=20, context_size=16, d_model=32, n_heads=2, n_layers=1)


@pytest.fixture(scope="module")
def tiny_results():
    # A 256-wide peak: 64-wide matmuls are mostly overhead, too small a ceiling to compare with.
    # Chapter 9's speed runs on a tiny model of the corpus's 74 characters, for a few steps.
    speed = {"config": GPTConfig(vocab_size=74, context_size=16, d_model=32, n_heads=2,
                                 n_layers=1),
             "rounds": 1, "curve_steps": 3, "plain": {"steps": 6, "lr": 1e-3, "warmup_steps": 1},
             "fast": {"steps": 3, "lr": 2e-3, "warmup_steps": 1}}
    return bench.run_benchmark(TINY, batch_size=2, train_rounds=2, prompt_length=3,
                               new_tokens=4, generation_rounds=1, peak_size=256,
                               speed_options=speed)


# serial: its shares of the peak divide two timings; beside another test worker the peak was
# once measured mid-contention and a tiny model "beat" it 4.5 times over.
@pytest.mark.serial
def test_smoke_run_writes_the_schema_the_page_reads(tiny_results, tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(tiny_results))
    results = bench.load_results(path)
    assert set(results["rows"]) == {key for key, _ in bench.ROWS}
    for values in results["rows"].values():
        assert values["seconds"] > 0 and values["tokens_per_second"] > 0
        assert 0 < values["mfu"] < 1  # a tiny model cannot beat the matmul peak
    assert results["machine"]["threads"] == torch.get_num_threads()
    assert results["machine"]["torch"] == torch.__version__
    assert results["training"]["first_loss_difference"] < 1e-4  # same weights, same loss
    # Greedy decoding of the same weights: ours with and without cache and transformers agree.
    assert results["generation"]["same_tokens"]
    assert set(results["targets"]) == {"train_time_ratio", "train_mfu", "generation_speedup",
                                       "fast_recipe_time_ratio"}
    speed = results["speed"]
    assert set(speed["tricks"]) == set(speed_module.TRICKS)
    assert speed["race"]["plain"]["steps"] == 6 and speed["race"]["fast"]["steps"] == 3
    assert len(speed["loss_curves"]["bf16_autocast"]) == 3


def test_table_has_every_row_and_target(tiny_results):
    table = bench.format_table(tiny_results)
    for _, label in bench.ROWS:
        assert label in table
    assert "float32 matmul peak" in table
    assert table.count("met") == 4  # "met" or "NOT met", once per target


def test_training_flops_match_pytorchs_counter():
    """6N counts every matmul of a training step exactly (the counter does not see the fused
    attention kernel, hence the separate check of the attention term below)."""
    config = GPTConfig(vocab_size=37, context_size=24, d_model=48, n_heads=3, n_layers=2)
    model = GPT(config)
    ids = torch.randint(0, config.vocab_size, (3, config.context_size))
    with FlopCounterMode(display=False) as counter:
        _, loss = model(ids, ids)
        loss.backward()
    tokens = ids.numel()
    attention = 12 * config.n_layers * config.d_model * config.context_size * tokens
    assert counter.get_total_flops() == bench.training_flops_per_token(
        config, config.context_size) * tokens - attention


def test_attention_flops_match_an_explicit_attention():
    """transformers' eager attention does QK^T and AV as plain matmuls the counter sees: the
    whole step, attention included, must be 6N + 12 L d T per token."""
    from llm_evolution.interop.hf import gpt_to_hf

    config = GPTConfig(vocab_size=37, context_size=24, d_model=48, n_heads=3, n_layers=2)
    hf_model = gpt_to_hf(GPT(config))
    hf_model.config._attn_implementation = "eager"
    ids = torch.randint(0, config.vocab_size, (3, config.context_size))
    with FlopCounterMode(display=False) as counter:
        logits = hf_model(ids).logits
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids.flatten()).backward()
    expected = bench.training_flops_per_token(config, config.context_size) * ids.numel()
    assert counter.get_total_flops() == pytest.approx(expected, rel=0.01)


def test_generation_flops_are_forward_only():
    # 2N per token with no attention, a third of training's 6N.
    assert bench.generation_flops_per_token(TINY, 1, 1) - 4 * TINY.n_layers * TINY.d_model * 2 \
        == bench.matmul_parameters(TINY) * 2


def test_alternating_calls_every_run_in_turns():
    calls = []
    bench.median_of_alternating({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                rounds=2, warmup=1)
    assert calls == ["a", "b", "b", "a", "a", "b"]


def test_targets_are_judged_against_the_limits():
    def fake(train_ours, train_hf, mfu, cached, hf, race_ratio, race_gap):
        rows = {"train_ours": {"seconds": train_ours, "mfu": mfu},
                "train_hf": {"seconds": train_hf},
                "generate_cached": {"tokens_per_second": cached},
                "generate_hf": {"tokens_per_second": hf}}
        race = {"time_ratio": race_ratio, "loss_gap": race_gap}
        return bench.check_targets({"rows": rows, "speed": {"race": race}})

    good = fake(0.8, 1.0, 0.5, 200, 100, 0.6, 0.001)
    assert all(target["met"] for target in good.values())
    bad = fake(0.9, 1.0, 0.3, 90, 100, 0.7, 0.0)
    assert not any(target["met"] for target in bad.values())
    # fast, but not to the same loss: not met
    assert not fake(0.8, 1.0, 0.5, 200, 100, 0.5, 0.02)["fast_recipe_time_ratio"]["met"]


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="rounds"):
        bench.median_of_alternating({"a": lambda: None}, rounds=0, warmup=0)
    with pytest.raises(ValueError, match="batch_size"):
        bench.bench_training(TINY, batch_size=0)
    with pytest.raises(ValueError, match="new_tokens"):
        bench.bench_generation(TINY, new_tokens=0)
    with pytest.raises(ValueError, match="size"):
        bench.matmul_peak_gflops(0)


def test_load_results_names_what_is_missing(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"schema_version": bench.SCHEMA_VERSION, "date": "x"}))
    with pytest.raises(ValueError, match="machine"):
        bench.load_results(path)


def test_committed_results_have_the_schema_the_page_reads():
    results = bench.load_results(bench.COMMITTED_RESULTS)
    assert results["config"] == dict(bench.DEFAULT_CONFIG.__dict__)
    assert results["generation"]["new_tokens"] == 256
    assert results["generation"]["context_size"] >= 256 + results["generation"]["prompt_length"]
    assert results["machine"]["threads"] >= 1
    for key in ("cpu", "torch", "transformers", "python"):
        assert results["machine"][key]
    bench.format_table(results)  # every field the table needs is there
