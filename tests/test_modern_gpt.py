"""Chapter 12's switchable GPT against independent references: chapter 6's GPT (every switch
off), ``transformers``' Llama (every switch on, and its RoPE and SwiGLU pieces one by one) and
``torch.nn.functional`` (RMSNorm, grouped-query attention)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.interop.llama import llama_config, to_llama
from llm_evolution.models.gpt import GPT, GPTConfig, KVCache
from llm_evolution.models.modern_gpt import (
    MLP,
    Attention,
    ModernGPT,
    ModernGPTConfig,
    RMSNorm,
    apply_rope,
    rope_tables,
)

SIZES = {"vocab_size": 50, "context_size": 16, "d_model": 32, "n_heads": 4, "n_layers": 2}
LLAMA = {"positions": "rope", "norm": "rms", "mlp": "swiglu", "bias": False, "n_kv_heads": 2}


def ids(batch: int = 2, length: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, SIZES["vocab_size"], (batch, length),
                         generator=torch.Generator().manual_seed(seed))


def test_with_every_switch_off_it_is_chapter_6s_gpt():
    """Same seed, same parameters in the same order: the same initial weights, so the ablations'
    baseline trains exactly as chapter 6's GPT; and a GPT's weights load unchanged."""
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(**SIZES))
    torch.manual_seed(0)
    ours = ModernGPT(ModernGPTConfig(**SIZES))
    theirs = gpt.state_dict()
    assert list(ours.state_dict()) == list(theirs)
    assert all(torch.equal(value, theirs[name]) for name, value in ours.state_dict().items())
    torch.manual_seed(1)
    other = GPT(GPTConfig(**SIZES))
    ours.load_state_dict(other.state_dict())
    assert torch.equal(ours(ids())[0], other(ids())[0])


def test_with_every_switch_on_it_is_llama():
    """minGPT's standard: copied weights, the same logits and the same greedy tokens as
    ``LlamaForCausalLM``."""
    torch.manual_seed(0)
    ours = ModernGPT(ModernGPTConfig(**SIZES, **LLAMA)).eval()
    llama = to_llama(ours)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids())[0], llama(ids()).logits, rtol=1e-5, atol=1e-5)
        prompt = ids(1, 4, seed=3)
        tokens = prompt
        for _ in range(10):
            next_token = ours(tokens)[0][:, -1].argmax(-1, keepdim=True)
            tokens = torch.cat((tokens, next_token), dim=1)
        expected = llama.generate(prompt, max_new_tokens=10, do_sample=False,
                                  attention_mask=torch.ones_like(prompt), pad_token_id=0)
    assert torch.equal(tokens, expected)


def test_llama_refuses_a_variant_it_is_not():
    with pytest.raises(ValueError, match="norm"):
        llama_config(ModernGPTConfig(**SIZES, **{**LLAMA, "norm": "layer"}))


def test_rms_norm_matches_torch():
    norm = RMSNorm(32, eps=1e-5)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, 32))
    x = torch.randn(3, 5, 32, generator=torch.Generator().manual_seed(0)) * 3
    torch.testing.assert_close(norm(x), F.rms_norm(x, (32,), norm.weight, eps=1e-5))


def test_rope_matches_transformers():
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    config = ModernGPTConfig(**SIZES, positions="rope")
    q, k = torch.randn(2, 2, 4, 16, 8, generator=torch.Generator().manual_seed(0))
    positions = torch.arange(16)[None]
    cos, sin = LlamaRotaryEmbedding(llama_config(ModernGPTConfig(**SIZES, **LLAMA)))(q, positions)
    expected_q, expected_k = apply_rotary_pos_emb(q, k, cos, sin)
    ours_cos, ours_sin = rope_tables(config)
    torch.testing.assert_close(apply_rope(q, ours_cos, ours_sin), expected_q)
    torch.testing.assert_close(apply_rope(k, ours_cos, ours_sin), expected_k)


def test_rope_scores_depend_only_on_the_distance():
    """RoPE's point: a query at position m and a key at n score by m - n alone."""
    config = ModernGPTConfig(**SIZES, positions="rope")
    cos, sin = rope_tables(config)
    q, k = torch.randn(2, 8, dtype=torch.float32, generator=torch.Generator().manual_seed(1))

    def score(m: int, n: int) -> torch.Tensor:
        return (apply_rope(q, cos[m], sin[m]) * apply_rope(k, cos[n], sin[n])).sum()

    torch.testing.assert_close(score(5, 2), score(13, 10))
    torch.testing.assert_close(score(3, 3), score(0, 0))
    assert not torch.allclose(score(5, 2), score(5, 4))


def test_swiglu_matches_transformers_llama_mlp():
    from transformers.models.llama.modeling_llama import LlamaMLP

    config = ModernGPTConfig(**SIZES, mlp="swiglu", bias=False)
    ours = MLP(config)
    theirs = LlamaMLP(llama_config(ModernGPTConfig(**SIZES, **LLAMA)))
    theirs.load_state_dict({"gate_proj.weight": ours.gate.weight, "up_proj.weight": ours.up.weight,
                            "down_proj.weight": ours.down.weight})
    x = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ours(x), theirs(x))


def test_swiglu_keeps_the_parameter_count():
    gelu = MLP(ModernGPTConfig(**SIZES, bias=False))
    swiglu = MLP(ModernGPTConfig(**SIZES, mlp="swiglu", bias=False))
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert abs(count(swiglu) / count(gelu) - 1) < 0.02


def test_grouped_query_attention_matches_torch():
    """Our repeated key/value heads against SDPA's own grouping (``enable_gqa``)."""
    config = ModernGPTConfig(**SIZES, n_kv_heads=2)
    attention = Attention(config)
    x = torch.randn(2, 16, 32, generator=torch.Generator().manual_seed(0))
    q, k, v = attention.qkv(x).split((32, 16, 16), dim=2)
    q = q.view(2, 16, 4, 8).transpose(1, 2)
    k, v = (t.view(2, 16, 2, 8).transpose(1, 2) for t in (k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    expected = attention.out_proj(y.transpose(1, 2).reshape(2, 16, 32))
    torch.testing.assert_close(attention(x), expected)


@pytest.mark.parametrize("switches", [{}, LLAMA], ids=["gpt-2", "llama"])
def test_kv_cache_reads_the_same_as_the_whole_sequence(switches):
    """RoPE and grouped heads continue at the cached tokens' positions."""
    torch.manual_seed(0)
    model = ModernGPT(ModernGPTConfig(**SIZES, **switches)).eval()
    cache = KVCache(SIZES["n_layers"], SIZES["context_size"])
    with torch.no_grad():
        whole = model(ids())[0]
        parts = [model(ids()[:, :9], cache=cache)[0], model(ids()[:, 9:10], cache=cache)[0],
                 model(ids()[:, 10:], cache=cache)[0]]
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, rtol=1e-5, atol=1e-5)


def test_grouped_cache_holds_fewer_values():
    full = ModernGPT(ModernGPTConfig(**SIZES))
    grouped = ModernGPT(ModernGPTConfig(**SIZES, n_kv_heads=1))
    assert full.kv_cache_values_per_token() == 2 * 2 * 32
    assert grouped.kv_cache_values_per_token() == full.kv_cache_values_per_token() // 4


def test_no_biases_anywhere():
    model = ModernGPT(ModernGPTConfig(**SIZES, bias=False))
    assert not [name for name, _ in model.named_parameters() if name.endswith("bias")]


@pytest.mark.parametrize("change, message", [
    ({"positions": "alibi"}, "positions='alibi' is not one of"),
    ({"norm": "batch"}, "norm='batch' is not one of"),
    ({"mlp": "relu"}, "mlp='relu' is not one of"),
    ({"n_kv_heads": 3}, "n_kv_heads=3 must be >= 1 and divide n_heads=4"),
    ({"n_kv_heads": 0}, "n_kv_heads=0 must be >= 1"),
    ({"norm_eps": 0.0}, "norm_eps=0.0 must be > 0"),
    ({"rope_theta": 1.0}, "rope_theta=1.0 must be > 1"),
    ({"d_model": 30}, "d_model=30 is not divisible by n_heads=4"),
    ({"d_model": 12, "n_heads": 4, "positions": "rope"}, "head_dim=3"),
])
def test_bad_configs_name_the_parameter(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModernGPTConfig(**{**SIZES, **change})
