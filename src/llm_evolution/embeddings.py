"""Sentence embeddings from a BERT: one vector per sentence, compared by cosine similarity.

A BERT gives one vector per token. Sentence-BERT (Reimers and Gurevych, 2019, arXiv:1908.10084)
turns them into one vector per sentence by averaging the vectors of the real tokens (mean
pooling), and all-MiniLM-L6-v2 then scales each average to length 1. Sentences that mean the
same thing get vectors that point the same way: their cosine similarity is close to 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llm_evolution.attention import storing_attention_weights
from llm_evolution.models.bert import mean_pool


# --8<-- [start:embed]
@torch.no_grad()
def embed(model, tokenizer, sentences: list[str], normalize: bool = True) -> torch.Tensor:
    """(len(sentences), d): each sentence's mean-pooled BERT output, of length 1 if
    ``normalize`` (as all-MiniLM-L6-v2 does), so that a dot product is a cosine similarity."""
    if isinstance(sentences, str) or not sentences:
        raise ValueError("sentences must be a non-empty list of strings; wrap one sentence "
                         "in a list")
    batch = tokenizer(list(sentences), padding=True, return_tensors="pt")
    hidden = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    vectors = mean_pool(hidden, batch["attention_mask"])
    return F.normalize(vectors, dim=-1) if normalize else vectors
# --8<-- [end:embed]


# --8<-- [start:search]
def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(n, d) and (m, d) -> (n, m): the cosine of the angle between every pair of rows."""
    if a.dim() != 2 or b.dim() != 2 or a.size(1) != b.size(1):
        raise ValueError(f"a and b must be (n, d) and (m, d) with the same d, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def nearest_neighbours(queries: torch.Tensor, corpus: torch.Tensor,
                       k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores, indices), each (n_queries, k): the k corpus rows most similar to each query,
    best first."""
    if not 1 <= k <= corpus.size(0):
        raise ValueError(f"k={k} must be between 1 and the corpus size {corpus.size(0)}")
    return torch.topk(cosine_similarity_matrix(queries, corpus), k, dim=-1)
# --8<-- [end:search]


# --8<-- [start:attention_maps]
@torch.no_grad()
def attention_maps(model, tokenizer, sentence: str) -> tuple[list[str], torch.Tensor]:
    """(tokens, weights) for one sentence: weights is (layers, heads, length, length), row i
    holding how much token i attends to each token, read from each layer's ``last_weights``."""
    batch = tokenizer([sentence], return_tensors="pt")
    with storing_attention_weights(model):
        model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    weights = torch.stack([layer.self_attn.last_weights[0] for layer in model.layers])
    return tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist()), weights
# --8<-- [end:attention_maps]
