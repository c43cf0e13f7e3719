"""Chapter 6's GPT with the replacements today's open models made, each behind a switch.

GPT-2 (Radford et al., 2019) read positions from a learned table, normalised with LayerNorm,
widened its feed-forward network with GELU, gave every linear layer a bias and every query head
its own keys and values. Llama (Touvron et al., 2023, arXiv:2302.13971) and its successors
keep the pre-LN decoder but change all five:

* ``positions="rope"``: rotary position embeddings (Su et al., 2021, arXiv:2104.09864) rotate
  queries and keys by an angle that grows with the position, so that their dot product
  depends only on how far apart two tokens are;
* ``norm="rms"``: RMSNorm (Zhang and Sennrich, 2019, arXiv:1910.07467) divides by the root
  mean square, without subtracting the mean or adding a bias;
* ``mlp="swiglu"``: a gated feed-forward network, SwiGLU (Shazeer, 2020, arXiv:2002.05202);
* ``bias=False``: no bias in any linear or norm layer (as in PaLM, arXiv:2204.02311);
* ``n_kv_heads < n_heads``: grouped-query attention (Ainslie et al., 2023, arXiv:2305.13245),
  where groups of query heads share one key and value head, so the KV cache shrinks.

With every switch at its default the model is chapter 6's :class:`~llm_evolution.models.gpt.GPT`,
parameter for parameter (its weights load unchanged); with all five on it is the block of Llama 2
and 3 (Llama's, with grouped-query attention): ``LlamaForCausalLM`` with tied embeddings computes
the same logits from the same weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.models.bigram import next_token_loss
from llm_evolution.models.gpt import KVCache, check_inputs

POSITIONS = ("learned", "rope")
NORMS = ("layer", "rms")
MLPS = ("gelu", "swiglu")


# --8<-- [start:config]
@dataclass(frozen=True)
class ModernGPTConfig:
    """Chapter 6's sizes, plus one switch per replacement (the defaults are GPT-2's choices)."""

    vocab_size: int = 65
    context_size: int = 64
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    positions: str = "learned"  # or "rope"
    norm: str = "layer"  # or "rms"
    mlp: str = "gelu"  # or "swiglu"
    bias: bool = True  # False: no bias anywhere
    n_kv_heads: int | None = None  # None: one key/value head per query head (no grouping)
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0  # RoPE's base: the slowest pair turns once per ~theta tokens

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        return self.n_heads if self.n_kv_heads is None else self.n_kv_heads

    @property
    def mlp_hidden(self) -> int:
        """The feed-forward width: 4 d_model for GELU; for SwiGLU, whose three matrices would
        otherwise hold 1.5 times the parameters, 8/3 d_model rounded down (Shazeer's 2/3 of
        4 d_model; Llama then rounds it up to a multiple of 256)."""
        return 4 * self.d_model if self.mlp == "gelu" else 8 * self.d_model // 3
# --8<-- [end:config]

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_size", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by "
                             f"n_heads={self.n_heads}; pick n_heads that divides d_model")
        for name, allowed in (("positions", POSITIONS), ("norm", NORMS), ("mlp", MLPS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {allowed}")
        if self.positions == "rope" and self.head_dim % 2:
            raise ValueError(f"positions='rope' rotates pairs of dimensions: head_dim="
                             f"{self.head_dim} (d_model / n_heads) must be even")
        if self.kv_heads < 1 or self.n_heads % self.kv_heads:
            raise ValueError(f"n_kv_heads={self.n_kv_heads} must be >= 1 and divide "
                             f"n_heads={self.n_heads} (each key/value head serves the same "
                             "number of query heads); None means one per query head")
        if self.norm_eps <= 0:
            raise ValueError(f"norm_eps={self.norm_eps} must be > 0")
        if self.rope_theta <= 1:
            raise ValueError(f"rope_theta={self.rope_theta} must be > 1")


# --8<-- [start:rms_norm]
class RMSNorm(nn.Module):
    """x / RMS(x) * g: LayerNorm without the mean and without the bias. Zhang and Sennrich
    found the re-centring unnecessary; one reduction fewer makes it cheaper."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # RMS(x) = sqrt(mean_i x_i^2 + eps); the root in float64, exact on every CPU
        rms = x.pow(2).mean(dim=-1, keepdim=True).add(self.eps).double().sqrt().to(x.dtype)
        return x / rms * self.weight
# --8<-- [end:rms_norm]


# --8<-- [start:rope]
def rope_tables(config: ModernGPTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's angle for every pair of dimensions, (context, head_dim).

    Pair i turns by theta^(-2i / head_dim) radians per position: the first pair fast, the last
    slowly. Computed in float64 (the same bits on every CPU), stored in float32.
    """
    half = config.head_dim // 2
    inverse_frequency = config.rope_theta ** (-torch.arange(half, dtype=torch.float64) / half)
    angles = torch.outer(torch.arange(config.context_size, dtype=torch.float64),
                         inverse_frequency)
    angles = torch.cat((angles, angles), dim=-1)  # dimension j and j + half share an angle
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x_j, x_{j+half}) of ``x`` (batch, heads, length, head_dim) by its
    position's angle: (x_j cos - x_{j+half} sin, x_{j+half} cos + x_j sin)."""
    first, second = x.chunk(2, dim=-1)
    rotated_half = torch.cat((-second, first), dim=-1)
    return x * cos + rotated_half * sin
# --8<-- [end:rope]


# --8<-- [start:attention]
class Attention(nn.Module):
    """Causal self-attention with n_heads query heads and n_kv_heads key/value heads.

    With grouping, query head h reads key/value head h // (n_heads / n_kv_heads): the keys
    and values are computed (and cached) once per group and repeated for its query heads.
    """

    def __init__(self, config: ModernGPTConfig):
        super().__init__()
        self.config = config
        kv_width = config.kv_heads * config.head_dim
        self.qkv = nn.Linear(config.d_model, config.d_model + 2 * kv_width, bias=config.bias)
        self.out_proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)
        if config.positions == "rope":
            cos, sin = rope_tables(config)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        config = self.config
        batch, new, _ = x.shape
        kv_width = config.kv_heads * config.head_dim
        q, k, v = self.qkv(x).split((config.d_model, kv_width, kv_width), dim=2)
        q = q.view(batch, new, config.n_heads, config.head_dim).transpose(1, 2)
        k, v = (t.view(batch, new, config.kv_heads, config.head_dim).transpose(1, 2)
                for t in (k, v))
        past = 0 if cache is None else cache.lengths[layer]
        if config.positions == "rope":  # rotate by the tokens' absolute positions
            cos, sin = self.rope_cos[past:past + new], self.rope_sin[past:past + new]
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.append(layer, k, v)  # the cache holds n_kv_heads heads, not n_heads
        group = config.n_heads // config.kv_heads
        if group > 1:  # (batch, kv_heads, T, d) -> (batch, n_heads, T, d): head h reads h // group
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        # softmax(q k^T / sqrt(head_dim)) v, each token seeing itself and the tokens before it
        if past == 0:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # new token i sees the past and new tokens 0..i
            allowed = torch.ones(new, past + new, dtype=torch.bool, device=x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed.tril(diagonal=past))
        return self.out_proj(y.transpose(1, 2).reshape(batch, new, config.d_model))
# --8<-- [end:attention]


# --8<-- [start:mlp]
class MLP(nn.Module):
    """GELU: down(gelu(up(x))). SwiGLU: down(silu(gate(x)) * up(x)), a gate that decides,
    feature by feature, how much of the up-projection passes."""

    def __init__(self, config: ModernGPTConfig):
        super().__init__()
        self.kind = config.mlp
        if config.mlp == "swiglu":
            self.gate = nn.Linear(config.d_model, config.mlp_hidden, bias=config.bias)
        self.up = nn.Linear(config.d_model, config.mlp_hidden, bias=config.bias)
        self.down = nn.Linear(config.mlp_hidden, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "swiglu":
            return self.down(F.silu(self.gate(x)) * self.up(x))  # SiLU(z) = z * sigmoid(z)
        return self.down(F.gelu(self.up(x), approximate="tanh"))
# --8<-- [end:mlp]


def make_norm(config: ModernGPTConfig) -> nn.Module:
    if config.norm == "rms":
        return RMSNorm(config.d_model, config.norm_eps)
    return nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=config.bias)


class Block(nn.Module):
    """Chapter 6's pre-LN block, with the chosen norm, attention and feed-forward network."""

    def __init__(self, config: ModernGPTConfig):
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = Attention(config)
        self.ln_2 = make_norm(config)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


# --8<-- [start:model]
class ModernGPT(nn.Module):
    """``model(input_ids, targets) -> (logits, loss)``, as chapter 6's GPT. Without a learned
    position table (RoPE), a token's position enters only through the rotation in attention."""

    def __init__(self, config: ModernGPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        if config.positions == "learned":
            self.position_embedding = nn.Embedding(config.context_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = make_norm(config)
        self.apply(init_weights)
        for name, param in self.named_parameters():  # GPT-2's scaled residual projections
            if name.endswith(("attn.out_proj.weight", "mlp.down.weight")):
                nn.init.normal_(param, std=0.02 / math.sqrt(2 * config.n_layers))

    def forward(self, input_ids: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None):
        check_inputs(self.config, input_ids, 0 if cache is None else len(cache))
        logits = F.linear(self.hidden_states(input_ids, cache), self.token_embedding.weight)
        return logits, next_token_loss(logits, targets)

    def hidden_states(self, input_ids: torch.Tensor, cache: KVCache | None = None):
        x = self.token_embedding(input_ids)
        if self.config.positions == "learned":
            past = 0 if cache is None else len(cache)
            x = x + self.position_embedding(
                torch.arange(past, past + input_ids.size(1), device=input_ids.device))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        return self.ln_f(x)
# --8<-- [end:model]

    def kv_cache_values_per_token(self) -> int:
        """Numbers the KV cache keeps per token: keys and values of every layer's kv heads."""
        config = self.config
        return 2 * config.n_layers * config.kv_heads * config.head_dim


def init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: weights N(0, 0.02), biases 0, norms the identity."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, (nn.Linear, nn.LayerNorm)) and module.bias is not None:
        nn.init.zeros_(module.bias)
    if isinstance(module, (nn.LayerNorm, RMSNorm)):
        nn.init.ones_(module.weight)
