"""A closer look at the masked LM's score (chapter 5): where the grade comes from.

The pretraining recipe grades the model at every position the 80/10/10 rule chose
(:func:`llm_evolution.pretraining.masked_accuracy`), and a tenth of those show the model the
very token it must guess. :func:`accuracy_by_input` splits the score by what the input showed
at the graded position; :func:`accuracy_on_words` keeps the positions that show ``[MASK]`` and
splits them into word tokens and the rest (punctuation, spaces, line breaks), against the best
guess that ignores the context, the commonest token of each kind.
"""

from __future__ import annotations

import torch
from torch import nn

from llm_evolution.evaluation import evaluating
from llm_evolution.models.bert import IGNORE_INDEX
from llm_evolution.pretraining import MASK_ID
from llm_evolution.tokenizers import ByteLevelBPE


# --8<-- [start:accuracy_by_input]
@torch.no_grad()
def _graded(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """At every graded position of ``batches``: what the input showed, the true token and the
    model's first guess, as three 1-D tensors."""
    shown, truth, guess = [], [], []
    with evaluating(model):
        for inputs, labels in batches:
            logits, _ = model(inputs, labels)  # (graded positions, vocab), in labels' order
            graded = labels != IGNORE_INDEX
            shown.append(inputs[graded])
            truth.append(labels[graded])
            guess.append(logits.argmax(dim=-1))
    return torch.cat(shown), torch.cat(truth), torch.cat(guess)


def accuracy_by_input(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]
                      ) -> dict[str, tuple[int, float]]:
    """For each kind of input at a graded position ("[MASK]", "a random token", "the token
    itself"): how many positions showed it, and how often the model's first guess was right."""
    shown, truth, guess = _graded(model, batches)
    kinds = {"[MASK]": shown == MASK_ID,
             "a random token": (shown != MASK_ID) & (shown != truth),
             "the token itself": shown == truth}
    return {kind: (int(where.sum()), (guess[where] == truth[where]).float().mean().item())
            for kind, where in kinds.items()}


def is_word(tokenizer: ByteLevelBPE, token_id: int) -> bool:
    """Whether a token is (part of) a word: its text holds a letter."""
    return any(character.isalpha() for character in tokenizer.decode([token_id]))


def accuracy_on_words(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]],
                      tokenizer: ByteLevelBPE, train_ids: torch.Tensor
                      ) -> dict[str, tuple[int, float, float, str]]:
    """At the graded positions that show ``[MASK]``, split into words and the rest: how many,
    how often the model's first guess is right, how often the commonest training token of
    that kind would be, and that token."""
    shown, truth, guess = _graded(model, batches)
    hidden = shown == MASK_ID
    words = torch.tensor([is_word(tokenizer, token) for token in range(tokenizer.vocab_size)])
    counts = torch.bincount(train_ids, minlength=tokenizer.vocab_size)
    result = {}
    for kind, of_kind in (("words", words), ("punctuation, spaces, line breaks", ~words)):
        where = hidden & of_kind[truth]
        commonest = int(torch.where(of_kind, counts, -1).argmax())
        result[kind] = (int(where.sum()), (guess[where] == truth[where]).float().mean().item(),
                        (truth[where] == commonest).float().mean().item(),
                        tokenizer.decode([commonest]))
    return result
# --8<-- [end:accuracy_by_input]
