"""Our Llama-style GPT as Hugging Face's ``LlamaForCausalLM``: the same weights, the same logits.

Chapter 12's :class:`~llm_evolution.models.modern_gpt.ModernGPT` with every switch on (RoPE,
RMSNorm, SwiGLU, no biases, grouped-query attention) is the block of Llama (Touvron et al.,
2023, arXiv:2302.13971) with Llama 2's grouped-query attention. Copying its weights into
``transformers``' implementation and comparing the outputs is the test that it is that block,
not something like it. Only the fused query-key-value matrix needs cutting: Llama keeps three.
"""

from __future__ import annotations

import torch

from llm_evolution.interop.hf import import_transformers
from llm_evolution.models.modern_gpt import ModernGPT, ModernGPTConfig

LLAMA_SWITCHES = {"positions": "rope", "norm": "rms", "mlp": "swiglu", "bias": False}


def llama_config(config: ModernGPTConfig):
    """The ``LlamaConfig`` of the same shape (tied embeddings, as ours)."""
    not_llama = {name: getattr(config, name) for name, value in LLAMA_SWITCHES.items()
                 if getattr(config, name) != value}
    if not_llama:
        raise ValueError(f"only the Llama-style variant maps onto LlamaForCausalLM; these "
                         f"switches differ: {not_llama}; set them to {LLAMA_SWITCHES}")
    transformers = import_transformers()
    return transformers.LlamaConfig(
        vocab_size=config.vocab_size, hidden_size=config.d_model,
        intermediate_size=config.mlp_hidden, num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads, num_key_value_heads=config.kv_heads,
        max_position_embeddings=config.context_size, rms_norm_eps=config.norm_eps,
        rope_theta=config.rope_theta, hidden_act="silu", tie_word_embeddings=True,
        attention_bias=False, mlp_bias=False)


def llama_state_dict(model: ModernGPT) -> dict[str, torch.Tensor]:
    """Our tensors under ``LlamaForCausalLM``'s names (copies, so the two models stay apart)."""
    config = model.config
    kv_width = config.kv_heads * config.head_dim
    state = {"model.embed_tokens.weight": model.token_embedding.weight,
             "lm_head.weight": model.token_embedding.weight,  # tied
             "model.norm.weight": model.ln_f.weight}
    for layer, block in enumerate(model.blocks):
        prefix = f"model.layers.{layer}."
        query, key, value = block.attn.qkv.weight.split((config.d_model, kv_width, kv_width))
        state.update({
            prefix + "input_layernorm.weight": block.ln_1.weight,
            prefix + "self_attn.q_proj.weight": query,
            prefix + "self_attn.k_proj.weight": key,
            prefix + "self_attn.v_proj.weight": value,
            prefix + "self_attn.o_proj.weight": block.attn.out_proj.weight,
            prefix + "post_attention_layernorm.weight": block.ln_2.weight,
            prefix + "mlp.gate_proj.weight": block.mlp.gate.weight,
            prefix + "mlp.up_proj.weight": block.mlp.up.weight,
            prefix + "mlp.down_proj.weight": block.mlp.down.weight,
        })
    return {name: tensor.detach().clone() for name, tensor in state.items()}


def to_llama(model: ModernGPT):
    """A ``LlamaForCausalLM`` (eval mode) holding ``model``'s weights; every one of its
    tensors is set (a missing or unexpected name raises)."""
    transformers = import_transformers()
    llama = transformers.LlamaForCausalLM(llama_config(model.config))
    llama.load_state_dict(llama_state_dict(model), strict=True)
    return llama.eval()
