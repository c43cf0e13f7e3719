"""Domain adaptation (chapter 10): chapter 6's GPT, pretrained on the plays, keeps pretraining
on a second domain, NumPy's documentation (:mod:`llm_evolution.data.numpy_docs`), as
Gururangan et al. (2020, arXiv:2004.10964) continued RoBERTa's pretraining on papers and
reviews. Held-out bits per character on both domains show what it gains on the new one and
what it forgets of the old; mixing some of the old text back into every batch ("replay")
limits the forgetting.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from llm_evolution.evaluation import bits_per_character
from llm_evolution.models.gpt import GPT
from llm_evolution.training import Batch, BatchFn


HELD_OUT_CHARACTERS = 30_000  # of each domain's held-out text: seconds, not minutes, to score


@dataclass(frozen=True)
class Domain:
    """A domain's training text and the first ``HELD_OUT_CHARACTERS`` of its held-out text as
    chapter 6's BPE ids, and that held-out text's length in characters (bits per character
    divide by it)."""

    name: str
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    val_characters: int


@lru_cache(maxsize=1)
def domains() -> dict[str, Domain]:
    """``{"plays": ..., "numpy docs": ...}``, both in chapter 6's BPE."""
    from llm_evolution.data.numpy_docs import docs_train_val
    from llm_evolution.data.text import bpe_corpus, char_corpus

    tokenizer = bpe_corpus().tokenizer
    docs_train, docs_val = docs_train_val()
    plays_val = char_corpus().val_text[:HELD_OUT_CHARACTERS]
    docs_val = docs_val[:HELD_OUT_CHARACTERS]
    return {
        "plays": Domain("plays", bpe_corpus().train_ids, torch.tensor(tokenizer.encode(plays_val)),
                        len(plays_val)),
        "numpy docs": Domain("numpy docs", torch.tensor(tokenizer.encode(docs_train)),
                             torch.tensor(tokenizer.encode(docs_val)), len(docs_val)),
    }


# --8<-- [start:replay_windows]
def replay_windows(new_ids: torch.Tensor, old_ids: torch.Tensor, block_size: int,
                   batch_size: int, replay_rows: int) -> BatchFn:
    """Batches of random windows: ``replay_rows`` of each batch from the old domain's text,
    the rest from the new one's. ``replay_rows=0`` is plain continued pretraining."""
    if not 0 <= replay_rows < batch_size:
        raise ValueError(f"replay_rows={replay_rows} must be in 0..batch_size-1="
                         f"{batch_size - 1}: a batch needs some new text")

    def windows(ids: torch.Tensor, n: int, generator: torch.Generator) -> Batch:
        starts = torch.randint(len(ids) - block_size, (n,), generator=generator)
        inputs = torch.stack([ids[s : s + block_size] for s in starts])
        targets = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts])
        return inputs, targets

    def get_batch(generator: torch.Generator) -> Batch:
        new = windows(new_ids, batch_size - replay_rows, generator)
        if replay_rows == 0:
            return new
        old = windows(old_ids, replay_rows, generator)
        return torch.cat([new[0], old[0]]), torch.cat([new[1], old[1]])

    return get_batch
# --8<-- [end:replay_windows]


def held_out_bits(model: GPT) -> dict[str, float]:
    """Bits per character of each domain's held-out text (its first ``HELD_OUT_CHARACTERS``)
    under ``model``."""
    return {name: bits_per_character(model, domain.val_ids, domain.val_characters)
            for name, domain in domains().items()}
