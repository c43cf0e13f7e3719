"""Chapter 6 closes GPT-1's loop: the pretrained ``gpt-bpe`` fine-tuned on chapter 5's labelled
task (comedy or tragedy, from one speech), beside the same network from random weights, with
chapter 5's fine-tuning settings, label counts, seeds and held-out speeches."""

from __future__ import annotations

import torch

from llm_evolution.measurements import measured
from llm_evolution.models.gpt_classifier import GPTForSequenceClassification
from llm_evolution.tokenizers import ByteLevelBPE


# --8<-- [start:genre_fine_tuning]
def encode_for_gpt(texts: list[str], tokenizer: ByteLevelBPE, length: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention_mask): each text's first ``length`` tokens, padded after the text."""
    ids = torch.zeros(len(texts), length, dtype=torch.long)
    mask = torch.zeros(len(texts), length, dtype=torch.long)
    for row, text in enumerate(texts):
        tokens = tokenizer.encode(text)[:length]
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    return ids, mask


@measured  # minutes of fine-tuning on one core: once per machine, then kept
def genre_fine_tuning(label_counts: tuple[int, ...] = (50, 200),
                      seeds: tuple[int, ...] = (0, 1)) -> dict[str, list[float]]:
    """Held-out accuracy of ``gpt-bpe``'s network fine-tuned on ``label_counts`` labelled
    speeches, from its pretrained weights and from random ones, one per seed:
    ``{"scratch 50": [...], "pretrained 50": [...], ...}``."""
    from llm_evolution import zoo
    from llm_evolution.data.text import bpe_corpus
    from llm_evolution.pretraining import (
        GENRES,
        accuracy,
        fine_tune,
        genre_speeches,
        labelled_rows,
        row_batches,
    )

    pretrained = zoo.get("gpt-bpe").model
    settings = zoo.find("bert-genre").config  # chapter 5's steps, warmup, lr and batch size
    tokenizer, length = bpe_corpus().tokenizer, pretrained.config.context_size
    speeches = genre_speeches()
    ids, mask = encode_for_gpt([s.text for s in speeches["train"]], tokenizer, length)
    labels = torch.tensor([s.label for s in speeches["train"]])
    test_ids, test_mask = encode_for_gpt([s.text for s in speeches["test"]], tokenizer, length)
    test_labels = torch.tensor([s.label for s in speeches["test"]])
    results: dict[str, list[float]] = {}
    for n_labels in label_counts:
        for seed in seeds:
            rows = labelled_rows(labels, n_labels, seed)
            for start in ("scratch", "pretrained"):
                torch.manual_seed(seed)
                model = GPTForSequenceClassification(pretrained.config, len(GENRES))
                if start == "pretrained":
                    model.gpt.load_state_dict(pretrained.state_dict())
                batches = row_batches((ids[rows], mask[rows]), labels[rows],
                                      settings["batch_size"])
                fine_tune(model, batches, settings, seed, lr=settings["lr"])
                score = accuracy(model, (test_ids, test_mask), test_labels)
                results.setdefault(f"{start} {n_labels}", []).append(score)
    return results
# --8<-- [end:genre_fine_tuning]
