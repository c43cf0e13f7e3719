"""GPT, the decoder-only Transformer of *Improving Language Understanding by Generative
Pre-Training* (Radford et al., 2018, OpenAI report) in the layout of GPT-2, *Language Models
are Unsupervised Multitask Learners* (Radford et al., 2019, OpenAI report).

A GPT is chapter 3's decoder without the encoder and without cross-attention: a stack of
blocks in which each token attends only to itself and the tokens before it (causal
self-attention), trained to predict the next token. GPT-2 moved the layer norms in front of
each sub-layer (pre-LN) and added a final one; positions are a learned table; the language-model
head reuses the token embedding (tied weights); the feed-forward network uses the tanh
approximation of GELU.

One readable file, in the spirit of nanoGPT. Every tensor has a counterpart in Hugging Face's
``GPT2LMHeadModel``, so :mod:`llm_evolution.interop.hf` can move weights both ways. A
:class:`KVCache` keeps the keys and values of the tokens already read, so that generating a
token costs one position of work instead of the whole sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.models.bigram import check_token_ids, next_token_loss


# --8<-- [start:gpt_config]
@dataclass(frozen=True)
class GPTConfig:
    """The sizes that define a GPT. Defaults are a tiny character-level model that trains on a
    laptop CPU; GPT-2 small is ``vocab_size=50257, context_size=1024, d_model=768,
    n_heads=12, n_layers=12``."""

    vocab_size: int = 65
    context_size: int = 64       # longest sequence it can read (GPT-2's n_positions)
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    dropout: float = 0.0
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_size", "d_model", "n_heads", "n_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by "
                             f"n_heads={self.n_heads}; pick n_heads that divides d_model")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout} must be in [0, 1)")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps={self.layer_norm_eps} must be > 0")
# --8<-- [end:gpt_config]


# --8<-- [start:kv_cache]
class KVCache:
    """The keys and values every layer has computed so far, shape (batch, heads, length,
    head_dim) each. A new token's query needs the keys and values of all earlier tokens; they
    do not change once computed (a token never sees later ones), so they are kept, not redone.

    Each layer's buffer is allocated once, for ``capacity`` tokens (the model's context), when
    its first keys arrive; new tokens are written into it in place. (Growing the tensors with
    ``torch.cat`` would copy every cached token again at every step.)
    """

    def __init__(self, n_layers: int, capacity: int):
        if n_layers < 1 or capacity < 1:
            raise ValueError(f"n_layers={n_layers} and capacity={capacity} must be >= 1; "
                             "pass model.config.n_layers and model.config.context_size")
        self.capacity = capacity
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.lengths = [0] * n_layers

    def __len__(self) -> int:
        """How many tokens are cached (those of layer 0, the first to be updated)."""
        return self.lengths[0]

    def append(self, layer: int, keys: torch.Tensor, values: torch.Tensor):
        """Write the new tokens' keys and values after ``layer``'s and return all of them (a
        view of the buffer, no copy)."""
        start = self.lengths[layer]
        end = start + keys.size(2)
        if end > self.capacity:
            raise ValueError(f"{start} cached + {keys.size(2)} new tokens exceed the cache's "
                             f"capacity={self.capacity}; start a new cache")
        if self.keys[layer] is None:
            shape = (*keys.shape[:2], self.capacity, keys.size(3))
            self.keys[layer], self.values[layer] = keys.new_empty(shape), values.new_empty(shape)
        self.keys[layer][:, :, start:end] = keys
        self.values[layer][:, :, start:end] = values
        self.lengths[layer] = end
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
# --8<-- [end:kv_cache]


# --8<-- [start:attention]
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which a token sees only itself and earlier tokens.

    One linear layer computes queries, keys and values together (GPT-2's ``c_attn``), then
    PyTorch's fused ``scaled_dot_product_attention`` does chapter 3's softmax(QK^T / sqrt(d))V
    for every head at once.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.d_model = config.d_model
        self.attn_dropout = config.dropout  # a probability: the fused kernel applies it
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        batch, new, _ = x.shape
        q, k, v = self.qkv(x).split(self.d_model, dim=2)
        # (batch, new, d_model) -> (batch, heads, new, head_dim): each head attends on its own.
        q, k, v = (t.view(batch, new, self.n_heads, -1).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.append(layer, k, v)  # now the keys of every token read so far
        past = k.size(2) - new
        dropout = self.attn_dropout if self.training else 0.0
        if past == 0:  # no cache, or an empty one: the plain causal mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        elif new == 1:  # one new token, the last one: it may see everything before it
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        else:  # several new tokens after a cache: new token i sees the past and new 0..i
            # (is_causal=True would align the mask to the top left, hiding the past)
            allowed = torch.ones(new, past + new, dtype=torch.bool, device=x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed.tril(diagonal=past),
                                               dropout_p=dropout)
        y = y.transpose(1, 2).reshape(batch, new, self.d_model)  # heads side by side again
        return self.resid_dropout(self.out_proj(y))
# --8<-- [end:attention]


# --8<-- [start:block]
class MLP(nn.Module):
    """Widen to 4 x d_model, GELU, narrow back: the position-wise feed-forward network.

    GPT-2 computes GELU with a tanh formula (``approximate="tanh"``), a fast approximation
    of x times the normal CDF of x that differs from the exact one by under 0.001.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.up = nn.Linear(config.d_model, 4 * config.d_model)
        self.down = nn.Linear(4 * config.d_model, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x), approximate="tanh")))


class Block(nn.Module):
    """One GPT-2 block, pre-LN: normalise, transform, add back to the residual stream.

    Unlike chapter 3's post-LN layers, the residual path x -> x + ... carries the input
    through every block untouched by any norm, which keeps deep stacks easy to train.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))
# --8<-- [end:block]


# --8<-- [start:gpt_model]
class GPT(nn.Module):
    """A decoder-only language model: ``model(input_ids, targets) -> (logits, loss)``.

    ``input_ids`` (batch, length) in, logits (batch, length, vocab) out: at every position a
    score for each possible next token. With ``targets`` (the inputs shifted by one) the loss
    is their mean cross-entropy. With a :class:`KVCache`, ``input_ids`` holds only the tokens
    not read yet; they attend to the cached ones and their positions continue after them.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = nn.Embedding(config.context_size, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.apply(init_weights)
        # GPT-2 scales the layers that write into the residual stream by 1/sqrt(2 n_layers)
        # (two per block), so that the stream's variance does not grow with depth.
        for name, param in self.named_parameters():
            if name.endswith(("attn.out_proj.weight", "mlp.down.weight")):
                nn.init.normal_(param, std=0.02 / math.sqrt(2 * config.n_layers))

    def forward(self, input_ids: torch.Tensor, targets: torch.Tensor | None = None,
                cache: KVCache | None = None):
        past = 0 if cache is None else len(cache)
        check_inputs(self.config, input_ids, past)
        # The head is tied to the input: a token's score is the dot product of the final
        # vector with that token's embedding (no separate output matrix).
        logits = F.linear(self.hidden_states(input_ids, cache), self.token_embedding.weight)
        return logits, next_token_loss(logits, targets)

    def hidden_states(self, input_ids: torch.Tensor, cache: KVCache | None = None):
        """The final layer-normed vector of every position (batch, length, d_model)."""
        past = 0 if cache is None else len(cache)
        positions = torch.arange(past, past + input_ids.size(1), device=input_ids.device)
        x = self.dropout(self.token_embedding(input_ids) + self.position_embedding(positions))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        return self.ln_f(x)

    def next_token_logits(self, input_ids: torch.Tensor,
                          cache: KVCache | None = None) -> torch.Tensor:
        """Generation's step: the logits (batch, vocab) of the token after ``input_ids`` only,
        the last position, not every position as :meth:`forward` (scoring needs all of them).
        The ids are not range-checked here, on every step: :func:`generate` checks the prompt
        once and every later id is the model's own choice. The length still is (cheap)."""
        past = 0 if cache is None else len(cache)
        if input_ids.dim() != 2 or past + input_ids.size(1) > self.config.context_size:
            check_inputs(self.config, input_ids, past)  # raises, naming the limit
        last = self.hidden_states(input_ids, cache)[:, -1]
        return F.linear(last, self.token_embedding.weight)
# --8<-- [end:gpt_model]


def check_inputs(config: GPTConfig, input_ids: torch.Tensor, past: int = 0) -> None:
    """Raise ValueError unless ``input_ids`` (batch, length) fit the model after ``past``
    cached tokens."""
    if input_ids.dim() != 2 or input_ids.size(1) == 0:
        raise ValueError(f"input_ids must have shape (batch, length) with length >= 1, got "
                         f"{tuple(input_ids.shape)}")
    check_token_ids(input_ids, config.vocab_size, "input_ids")
    length = input_ids.size(1)
    if past + length > config.context_size:
        if past == 0:
            raise ValueError(f"input_ids of length {length} is longer than "
                             f"context_size={config.context_size}; crop the prompt to its last "
                             f"{config.context_size} tokens")
        raise ValueError(f"{past} cached + {length} new tokens exceed "
                         f"context_size={config.context_size}; start a new cache from a "
                         "cropped prompt")


def init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: weights N(0, 0.02), biases 0, layer norms the identity."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
