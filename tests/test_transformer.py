"""Tests for llm_evolution.models.transformer.

Layers are checked against torch's own ``nn.TransformerEncoderLayer`` and
``nn.TransformerDecoderLayer`` with the same weights (both post-LN and pre-LN), positions against
the paper's formula computed with ``math``, and the model for the properties attention promises:
no position order without positions, no peeking at the future, padding ignored.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from llm_evolution.attention import causal_mask, padding_mask
from llm_evolution.models.seq2seq import BOS, EOS, PAD
from llm_evolution.models.transformer import (
    DecoderLayer,
    EncoderLayer,
    Seq2SeqTransformer,
    sinusoidal_positions,
)
from llm_evolution.timing import SPEED_LENGTHS, step_seconds_by_length
from tests.test_attention import copy_attention

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Small trainings and a timing against the RNN: run again only when the
    code they test changes (tests/incremental.py)."""
    yield from run_when_changed(request, Path(__file__).with_name("test_attention.py"))

TOLERANCE = 1e-5
D_MODEL, N_HEADS, D_FF = 32, 4, 64


# ---------------------------------------------------------------------------- positions


def test_sinusoidal_positions_match_the_formula():
    table = sinusoidal_positions(50, 16)
    assert table.shape == (50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_positions_are_distinct_and_bounded():
    table = sinusoidal_positions(64, 32)
    assert table.abs().max() <= 1.0
    distances = torch.cdist(table, table) + torch.eye(64) * 100
    assert distances.min() > 0.1  # no two positions share a pattern


def test_sinusoidal_positions_errors():
    with pytest.raises(ValueError, match="d_model=15 must be even"):
        sinusoidal_positions(10, 15)
    with pytest.raises(ValueError, match="max_len=0"):
        sinusoidal_positions(0, 16)


# ---------------------------------------------------------------------------- layers vs torch


def copy_feed_forward_and_norms(ours, theirs, n_norms: int) -> None:
    theirs.linear1.load_state_dict(ours.feed_forward.up.state_dict())
    theirs.linear2.load_state_dict(ours.feed_forward.down.state_dict())
    for i in range(1, n_norms + 1):
        getattr(theirs, f"norm{i}").load_state_dict(getattr(ours, f"norm{i}").state_dict())


def randomise_norms(module: nn.Module) -> None:
    """LayerNorms start as the identity map; random scales make the comparison meaningful."""
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.LayerNorm):
                layer.weight.uniform_(0.5, 1.5)
                layer.bias.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_encoder_layer_matches_torch(norm_first):
    torch.manual_seed(0)
    ours = EncoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, norm_first=norm_first).eval()
    randomise_norms(ours)
    theirs = nn.TransformerEncoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, batch_first=True,
                                        norm_first=norm_first).eval()
    copy_attention(ours.self_attn, theirs.self_attn)
    copy_feed_forward_and_norms(ours, theirs, 2)
    x = torch.randn(2, 7, D_MODEL, generator=torch.Generator().manual_seed(1))
    ids = torch.tensor([[5, 5, 5, 5, 5, 0, 0], [5, 5, 5, 5, 5, 5, 5]])
    expected = theirs(x, src_key_padding_mask=ids == PAD)  # torch: True = ignore
    out = ours(x, padding_mask(ids, PAD))
    real = ids != PAD  # torch's fast path may leave padded positions as zeros: compare the rest
    assert (out[real] - expected[real]).abs().max() < TOLERANCE


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_decoder_layer_matches_torch(norm_first):
    torch.manual_seed(0)
    ours = DecoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, norm_first=norm_first).eval()
    randomise_norms(ours)
    theirs = nn.TransformerDecoderLayer(D_MODEL, N_HEADS, D_FF, dropout=0.0, batch_first=True,
                                        norm_first=norm_first).eval()
    copy_attention(ours.self_attn, theirs.self_attn)
    copy_attention(ours.cross_attn, theirs.multihead_attn)
    copy_feed_forward_and_norms(ours, theirs, 3)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, D_MODEL, generator=generator)
    memory = torch.randn(2, 6, D_MODEL, generator=generator)
    source = torch.tensor([[5, 5, 5, 0, 0, 0], [5, 5, 5, 5, 5, 5]])
    expected = theirs(x, memory, tgt_mask=~causal_mask(5), memory_key_padding_mask=source == PAD)
    out = ours(x, memory, causal_mask(5), padding_mask(source, PAD))
    assert (out - expected).abs().max() < TOLERANCE


# -------------------------------------------------------------------- what attention promises


def test_encoder_layer_without_positions_is_permutation_equivariant():
    torch.manual_seed(0)
    layer = EncoderLayer(D_MODEL, N_HEADS, D_FF).eval()
    x = torch.randn(1, 9, D_MODEL)
    order = torch.randperm(9, generator=torch.Generator().manual_seed(3))
    assert not torch.equal(order, torch.arange(9))
    # Shuffling the input words only shuffles the output vectors: order is invisible.
    assert (layer(x[:, order]) - layer(x)[:, order]).abs().max() < TOLERANCE


def test_positions_break_the_symmetry():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(20, 10, D_MODEL, N_HEADS, 1, D_FF, dropout=0.0, max_len=16).eval()
    source = torch.tensor([[3, 4, 5, 6, 7, 8, 9, 10]])
    order = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0])
    memory, _ = model.encode(source)
    shuffled, _ = model.encode(source[:, order])
    assert (shuffled - memory[:, order]).abs().max() > 0.1


def make_model(norm_first: bool = False) -> Seq2SeqTransformer:
    torch.manual_seed(0)
    return Seq2SeqTransformer(20, 10, D_MODEL, N_HEADS, 2, D_FF, dropout=0.0, max_len=16,
                              norm_first=norm_first).eval()


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-LN", "pre-LN"])
def test_decoder_never_sees_the_future(norm_first):
    model = make_model(norm_first)
    source = torch.tensor([[3, 4, 5, EOS]])
    target = torch.tensor([[BOS, 3, 4, 5, 6]])
    changed = target.clone()
    changed[0, 3:] = torch.tensor([8, 9])
    logits, _ = model(source, target)
    logits_changed, _ = model(source, changed)
    assert (logits[:, :3] - logits_changed[:, :3]).abs().max() < TOLERANCE
    assert (logits[:, 3:] - logits_changed[:, 3:]).abs().max() > 1e-3


def test_padding_changes_nothing():
    model = make_model()
    source = torch.tensor([[3, 4, 5, EOS]])
    target = torch.tensor([[BOS, 3, 4]])
    padded = torch.tensor([[3, 4, 5, EOS, PAD, PAD, PAD]])
    assert (model(source, target)[0] - model(padded, target)[0]).abs().max() < TOLERANCE


def test_loss_ignores_padding_targets():
    model = make_model()
    source = torch.tensor([[3, 4, EOS]])
    logits, loss = model(source, torch.tensor([[BOS, 5, 6]]), torch.tensor([[5, 6, EOS]]))
    _, loss_padded = model(source, torch.tensor([[BOS, 5, 6, PAD]]),
                           torch.tensor([[5, 6, EOS, PAD]]))
    expected = nn.functional.cross_entropy(logits[0], torch.tensor([5, 6, EOS]))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss_padded.item() == pytest.approx(loss.item(), rel=1e-5)


def test_generate_equals_argmax_of_teacher_forced_pass():
    model = make_model()
    source = torch.tensor([[3, 4, 5, EOS], [6, 7, EOS, PAD]])
    ids = model.generate(source, max_new_tokens=6)
    assert ids.shape[0] == 2 and 1 <= ids.shape[1] <= 6
    # Feeding the generated tokens back with teacher forcing must predict them again.
    target_in = torch.cat([torch.full((2, 1), BOS), ids[:, :-1]], dim=1)
    logits, _ = model(source, target_in)
    argmax = logits.argmax(-1)
    for row in range(2):
        ended = (ids[row] == EOS).nonzero()
        length = ended[0].item() + 1 if len(ended) else ids.shape[1]
        assert torch.equal(argmax[row, :length], ids[row, :length])
        assert (ids[row, length:] == PAD).all()


def test_cross_attention_weights_shape_and_rows():
    model = make_model()
    source = torch.tensor([[3, 4, 5, EOS], [6, 7, EOS, PAD]])
    weights = model.cross_attention(source, torch.tensor([[BOS, 3], [BOS, 4]]))
    assert weights.shape == (2, 2, N_HEADS, 2, 4)  # layers, batch, heads, target, source
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, N_HEADS, 2), atol=1e-6)
    assert (weights[:, 1, :, :, 3] == 0).all()  # the padded source word gets no attention


def test_embeddings_are_scaled_to_unit_size():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(1000, 10, d_model=64, n_heads=4, n_layers=1, d_ff=64,
                               dropout=0.0)
    scaled = model.source_embed.weight * math.sqrt(64)
    assert 0.9 < scaled.std().item() < 1.1  # the same size as the positional pattern's entries


# ---------------------------------------------------------------------------- errors


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="d_model=30 is not divisible by n_heads=4"):
        Seq2SeqTransformer(20, 10, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="n_layers=0"):
        Seq2SeqTransformer(20, 10, n_layers=0)
    model = make_model()
    with pytest.raises(ValueError, match="longer than the positional table"):
        model(torch.full((1, 17), 3), torch.tensor([[BOS]]))
    with pytest.raises(ValueError, match=r"source must have shape \(batch, length\)"):
        model(torch.tensor([3, 4]), torch.tensor([[BOS]]))
    with pytest.raises(ValueError, match="max_new_tokens=0"):
        model.generate(torch.tensor([[3, EOS]]), 0)
    with pytest.raises(ValueError, match="n_heads=0"):
        Seq2SeqTransformer(20, 10, d_model=32, n_heads=0)
    with pytest.raises(ValueError, match=r"source holds ids outside \[0, 20\)"):
        model(torch.tensor([[25, EOS]]), torch.tensor([[BOS]]))
    with pytest.raises(ValueError, match=r"target_in holds ids outside \[0, 10\)"):
        model(torch.tensor([[3, EOS]]), torch.tensor([[BOS, 12]]))
    with pytest.raises(ValueError, match=r"target_in must have shape \(batch=1"):
        model(torch.tensor([[3, EOS]]), torch.tensor([[BOS], [BOS]]))
    with pytest.raises(ValueError, match="row of padding only"):
        model(torch.tensor([[3, EOS], [PAD, PAD]]), torch.tensor([[BOS], [BOS]]))


# ---------------------------------------------------------------------------- speed


@pytest.mark.serial  # a timing: run alone
def test_training_step_on_long_sequences_is_faster_than_the_rnn():
    """The claim of chapter 3: a Transformer step handles all positions at once, an RNN step
    walks through them one after another. At length 128 the attention RNN, the model the
    Transformer replaced, is several times slower; we ask for 1.5x. Checked on the page's own
    measurement (snippets/03-attention/main.py:step_time makes the same calls): measured once
    on this machine, alone, by whichever of the page and this test comes first."""
    rnn_seconds = step_seconds_by_length("rnn-attention-translator", SPEED_LENGTHS)[128]
    transformer_seconds = step_seconds_by_length("transformer-translator", SPEED_LENGTHS)[128]
    assert rnn_seconds > 1.5 * transformer_seconds, (
        rnn_seconds, transformer_seconds, "stored measurement: if the machine was busy when it "
        "was taken, measure again with LLM_EVOLUTION_REMEASURE=1")
