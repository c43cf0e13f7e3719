"""Chapter 9's speed tricks: each computes the plain step's update (bf16 up to its precision),
the memory each keeps is what it should be, and the fast recipe picks only what pays."""

from __future__ import annotations

import pytest
import torch

from llm_evolution import speed
from llm_evolution.models.gpt import GPT, GPTConfig
from tests.incremental import run_when_changed

CONFIG = GPTConfig(vocab_size=30, context_size=16, d_model=32, n_heads=2, n_layers=2)


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """torch.compile takes most of a minute on 2 cores: run again only when the code changes."""
    yield from run_when_changed(request, "llm_evolution.speed")


def batch(seed: int = 0, rows: int = 8):
    tokens = torch.randint(CONFIG.vocab_size, (rows, CONFIG.context_size + 1),
                           generator=torch.Generator().manual_seed(seed))
    return tokens[:, :-1], tokens[:, 1:]


def after_steps(trick: str, steps: int = 3) -> tuple[list[float], dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = GPT(CONFIG).train()
    step = speed.trick_step(trick, model, steps=steps)
    losses = [step(batch(seed)).item() for seed in range(steps)]
    # A checkpointed block is wrapped: blocks.0.block.ln_1.weight is blocks.0.ln_1.weight.
    return losses, {name.replace(".block.", "."): p.detach().clone()
                    for name, p in model.named_parameters()}


@pytest.fixture(scope="module")
def plain():
    return after_steps("float32")


@pytest.mark.parametrize("trick", ["adamw_default", "checkpointing", "accumulation_4",
                                   "compile"])
def test_each_trick_takes_the_plain_steps(plain, trick):
    """Same losses and weights as the plain step (float rounding apart): a trick changes how
    a step is computed, not what. Weights within a tenth of one step's size (lr = 1e-3):
    Adam divides by sqrt(v), which amplifies rounding where a gradient is near 0."""
    losses, weights = after_steps(trick)
    assert losses == pytest.approx(plain[0], abs=1e-5)
    assert set(weights) == set(plain[1])
    assert max((weights[name] - value).abs().max().item()
               for name, value in plain[1].items()) < 1e-4


def test_bf16_autocast_follows_float32_to_its_precision(plain):
    losses, weights = after_steps("bf16_autocast")
    assert losses == pytest.approx(plain[0], abs=0.05)  # bfloat16 keeps 8 bits of mantissa
    assert max((weights[name] - value).abs().max().item()
               for name, value in plain[1].items()) < 0.01
    assert losses != plain[0]  # it really computed in lower precision


def test_bf16_loss_curve_learns_as_float32_does():
    """Over many steps too: an autocast region around the whole loop would reuse the first
    step's bf16 weights and lag far behind (seen: 3.8 against 2.5 after 200 steps)."""
    curves = speed.loss_curves(CONFIG, [batch(0)] * 40)  # one batch, learned by heart
    assert curves["float32"][-1] < curves["float32"][0] - 0.5  # it learned
    assert abs(curves["bf16_autocast"][-1] - curves["float32"][-1]) < 0.1


def test_activation_memory_of_each_trick():
    sizes = {trick: speed.activation_bytes(trick, GPT(CONFIG).train(), batch())
             for trick in speed.TRICKS}
    assert sizes["compile"] is None
    assert sizes["adamw_default"] == sizes["float32"]  # the optimizer keeps no activations
    assert sizes["checkpointing"] < sizes["float32"] / 2
    assert sizes["accumulation_4"] == pytest.approx(sizes["float32"] / 4, rel=0.05)
    assert sizes["bf16_autocast"] < sizes["float32"]


def timings(plain: float, bf16: float, compiled: float, compile_seconds: float) -> dict:
    return {"float32": {"seconds": plain}, "bf16_autocast": {"seconds": bf16},
            "compile": {"seconds": compiled, "compile_seconds": compile_seconds}}


def test_fast_recipe_takes_only_what_pays(monkeypatch):
    monkeypatch.setattr(speed, "has_bf16_instructions", lambda: True)
    assert speed.fast_tricks(timings(0.04, 0.02, 0.03, 5.0), steps=1000) == [
        "bf16_autocast", "compile"]  # compile saves 10 s for 5 s of compiling
    assert speed.fast_tricks(timings(0.04, 0.05, 0.03, 20.0), steps=1000) == []
    monkeypatch.setattr(speed, "has_bf16_instructions", lambda: False)
    assert speed.fast_tricks(timings(0.04, 0.02, 0.05, 1.0), steps=1000) == []


def test_errors_name_the_choices():
    with pytest.raises(ValueError, match="trick='fp8' is not one of"):
        speed.trick_step("fp8", GPT(CONFIG), steps=2)
    with pytest.raises(ValueError, match="only 'bf16_autocast' and 'compile'"):
        speed.train_timed(CONFIG, torch.zeros(100, dtype=torch.long),
                          torch.zeros(100, dtype=torch.long), steps=2, lr=1e-3,
                          warmup_steps=0, tricks=["checkpointing"])
