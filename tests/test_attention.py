"""Tests for llm_evolution.attention: equal to torch's own attention on the same inputs and weights.

The references are independent implementations: ``torch.nn.functional.
scaled_dot_product_attention`` and ``torch.nn.MultiheadAttention``. Note their mask conventions:
F.scaled_dot_product_attention's boolean ``attn_mask`` is True where attending is allowed (ours
too); nn.MultiheadAttention's ``key_padding_mask`` and boolean ``attn_mask`` are True where it
is NOT allowed.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    storing_attention_weights,
)

TOLERANCE = 1e-5


@pytest.fixture
def qkv():
    generator = torch.Generator().manual_seed(0)
    shape = (2, 3, 5, 8)  # batch, heads, length, head size
    return tuple(torch.randn(shape, generator=generator) for _ in range(3))


# ---------------------------------------------------------------------------- scaled dot-product


def test_sdpa_matches_torch_without_mask(qkv):
    out, weights = scaled_dot_product_attention(*qkv)
    expected = F.scaled_dot_product_attention(*qkv)
    assert (out - expected).abs().max() < TOLERANCE
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5), atol=1e-6)


def test_sdpa_matches_torch_causal(qkv):
    out, weights = scaled_dot_product_attention(*qkv, mask=causal_mask(5))
    expected = F.scaled_dot_product_attention(*qkv, is_causal=True)
    assert (out - expected).abs().max() < TOLERANCE
    assert (weights.triu(diagonal=1) == 0).all()  # nothing flows from the future


def test_sdpa_matches_torch_with_padding_mask(qkv):
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    mask = padding_mask(ids, pad_id=0)
    out, weights = scaled_dot_product_attention(*qkv, mask=mask)
    expected = F.scaled_dot_product_attention(*qkv, attn_mask=mask)
    assert (out - expected).abs().max() < TOLERANCE
    assert (weights[0, :, :, 3:] == 0).all()  # padded keys get exactly zero weight


def test_sdpa_with_padding_and_causal_combined(qkv):
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    mask = padding_mask(ids, 0) & causal_mask(5)
    out, _ = scaled_dot_product_attention(*qkv, mask=mask)
    expected = F.scaled_dot_product_attention(*qkv, attn_mask=mask)
    assert (out - expected).abs().max() < TOLERANCE


def test_sdpa_different_query_and_key_lengths():
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(2, 4, 8, generator=generator)
    key = torch.randn(2, 7, 8, generator=generator)
    value = torch.randn(2, 7, 3, generator=generator)
    out, weights = scaled_dot_product_attention(query, key, value)
    assert out.shape == (2, 4, 3) and weights.shape == (2, 4, 7)
    assert (out - F.scaled_dot_product_attention(query, key, value)).abs().max() < TOLERANCE


def test_sdpa_by_hand():
    # One query that matches the second key far better: nearly all weight goes there.
    query = torch.tensor([[[0.0, 10.0]]])
    key = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    value = torch.tensor([[[1.0], [2.0]]])
    out, weights = scaled_dot_product_attention(query, key, value)
    # scores are 0 and 10 / sqrt(2); softmax of (0, 7.07) puts e^7.07 / (1 + e^7.07) on key 2.
    second = math.exp(10 / math.sqrt(2)) / (1 + math.exp(10 / math.sqrt(2)))
    assert weights[0, 0, 1].item() == pytest.approx(second, rel=1e-5)
    assert out.item() == pytest.approx(1 * (1 - second) + 2 * second, rel=1e-5)


def test_masks_by_hand():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False],
                                       [True, True, True]]
    mask = padding_mask(torch.tensor([[4, 0], [4, 5]]), pad_id=0)
    assert mask.shape == (2, 1, 1, 2)
    assert mask.flatten(1).tolist() == [[True, False], [True, True]]


def test_sdpa_errors(qkv):
    query, key, value = qkv
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(query, key, value, mask=causal_mask(4))
    with pytest.raises(ValueError, match="boolean"):
        scaled_dot_product_attention(query, key, value, mask=causal_mask(5).float())
    with pytest.raises(ValueError, match="same last dimension"):
        scaled_dot_product_attention(query, key[..., :4], value)
    with pytest.raises(ValueError, match="same length"):
        scaled_dot_product_attention(query, key, value[..., :3, :])
    with pytest.raises(ValueError, match="dimensions"):
        scaled_dot_product_attention(query, key, value, mask=torch.ones(1, 2, 3, 5, 5).bool())
    with pytest.raises(ValueError, match="size=0"):
        causal_mask(0)
    with pytest.raises(ValueError, match=r"\(batch, length\)"):
        padding_mask(torch.tensor([1, 2, 0]), 0)


def test_scaling_keeps_scores_spread_near_one():
    # The reason for dividing by sqrt(d): with unit-variance entries, q.k has variance d.
    generator = torch.Generator().manual_seed(0)
    d = 256
    query = torch.randn(4096, d, generator=generator)
    key = torch.randn(4096, d, generator=generator)
    dots = (query * key).sum(-1)
    assert 0.8 * d < dots.var().item() < 1.2 * d
    assert 0.8 < (dots / math.sqrt(d)).var().item() < 1.2


# ---------------------------------------------------------------------------- multi-head


def copy_attention(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """Put our weights into ``theirs``: its packed in_proj is q, k, v stacked."""
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight,
                                               ours.v_proj.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias,
                                             ours.v_proj.bias]))
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)


def copy_into_torch(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """An nn.MultiheadAttention with our weights."""
    theirs = nn.MultiheadAttention(ours.q_proj.in_features, ours.n_heads, batch_first=True)
    copy_attention(ours, theirs)
    return theirs.eval()


@pytest.fixture(params=[False, True], ids=["fused", "store_weights"])
def heads(request):
    """Ours (both paths: the fused kernel, and the written-out one that keeps the weights)
    and torch's nn.MultiheadAttention with the same weights."""
    torch.manual_seed(0)
    ours = MultiHeadAttention(d_model=32, n_heads=4, store_weights=request.param).eval()
    return ours, copy_into_torch(ours)


def test_mha_matches_torch_self_attention(heads):
    ours, theirs = heads
    x = torch.randn(3, 6, 32, generator=torch.Generator().manual_seed(1))
    expected, expected_weights = theirs(x, x, x, average_attn_weights=False)
    with storing_attention_weights(ours):
        out = ours(x, x, x)
    assert (out - expected).abs().max() < TOLERANCE
    assert (ours.last_weights - expected_weights).abs().max() < TOLERANCE


def test_mha_keeps_weights_only_when_asked():
    torch.manual_seed(0)
    attention = MultiHeadAttention(d_model=32, n_heads=4)
    x = torch.randn(1, 3, 32)
    attention(x, x, x)
    assert attention.last_weights is None  # the fused kernel never forms them
    with pytest.raises(RuntimeError, match="inside"):
        with storing_attention_weights(attention):
            attention(x, x, x)
            assert attention.last_weights.shape == (1, 4, 3, 3)
            raise RuntimeError("an error inside the block")
    assert attention.store_weights is False  # restored, even after the error


def test_mha_fused_path_checks_the_mask(heads):
    ours, _ = heads
    x = torch.randn(2, 6, 32)
    with pytest.raises(ValueError, match="does not broadcast"):
        ours(x, x, x, mask=torch.ones(2, 1, 1, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean"):
        ours(x, x, x, mask=torch.ones(2, 1, 1, 6))


def test_mha_matches_torch_with_key_padding_mask(heads):
    ours, theirs = heads
    x = torch.randn(2, 6, 32, generator=torch.Generator().manual_seed(2))
    ids = torch.tensor([[3, 4, 5, 6, 0, 0], [3, 4, 5, 6, 7, 8]])
    expected, _ = theirs(x, x, x, key_padding_mask=ids == 0)  # True = ignore, in torch
    out = ours(x, x, x, mask=padding_mask(ids, 0))
    assert (out - expected).abs().max() < TOLERANCE


def test_mha_matches_torch_with_causal_and_padding(heads):
    ours, theirs = heads
    x = torch.randn(2, 6, 32, generator=torch.Generator().manual_seed(3))
    ids = torch.tensor([[3, 4, 5, 6, 0, 0], [3, 4, 5, 6, 7, 8]])
    expected, _ = theirs(x, x, x, key_padding_mask=ids == 0, attn_mask=~causal_mask(6))
    out = ours(x, x, x, mask=padding_mask(ids, 0) & causal_mask(6))
    assert (out - expected).abs().max() < TOLERANCE


def test_mha_matches_torch_cross_attention(heads):
    ours, theirs = heads
    generator = torch.Generator().manual_seed(4)
    target = torch.randn(2, 4, 32, generator=generator)
    memory = torch.randn(2, 7, 32, generator=generator)
    ids = torch.tensor([[3, 4, 5, 0, 0, 0, 0], [3, 4, 5, 6, 7, 8, 9]])
    expected, _ = theirs(target, memory, memory, key_padding_mask=ids == 0)
    with storing_attention_weights(ours):
        out = ours(target, memory, memory, mask=padding_mask(ids, 0))
    assert out.shape == (2, 4, 32)
    assert (out - expected).abs().max() < TOLERANCE
    assert ours.last_weights.shape == (2, 4, 4, 7)


def test_mha_errors():
    with pytest.raises(ValueError, match="d_model=30 is not divisible by n_heads=4"):
        MultiHeadAttention(30, 4)
    with pytest.raises(ValueError, match="n_heads=0"):
        MultiHeadAttention(32, 0)
    attention = MultiHeadAttention(32, 4)
    x = torch.randn(2, 5, 32)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, length, 32\)"):
        attention(torch.randn(2, 5, 16), x, x)
    with pytest.raises(ValueError, match="does not broadcast"):
        attention(x, x, x, mask=causal_mask(6))


def test_mha_dropout_only_in_training():
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 2, dropout=0.5)
    x = torch.randn(1, 4, 16)
    attention.eval()
    assert torch.equal(attention(x, x, x), attention(x, x, x))
    attention.train()
    assert not torch.equal(attention(x, x, x), attention(x, x, x))
