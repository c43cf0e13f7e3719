"""Instruction tuning (chapter 10): chapter 6's pretrained GPT taught to follow instructions,
and measured on what it was not taught.

The pretrained ``gpt-bpe`` gets the chat tokens (:mod:`llm_evolution.data.chat`) as new rows
of its embedding, then trains on conversations made of :mod:`llm_evolution.data.instructions`'
examples, with the loss on the response only (:class:`ResponseLoss`). A response counts as right when greedy decoding writes exactly it and then
``<|end|>``, which one forward pass checks for a whole batch (:func:`exact_match`).
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.data.chat import ChatTokenizer
from llm_evolution.data.instructions import Example
from llm_evolution.evaluation import evaluating
from llm_evolution.generation import generate
from llm_evolution.models.gpt import GPT, GPTConfig
from llm_evolution.training import Batch, BatchFn

KINDS = ("seen", "new_phrasing", "new_composition", "new_cluster")


@lru_cache(maxsize=1)
def chat_tokenizer() -> ChatTokenizer:
    """Chapter 6's BPE tokenizer with the chat tokens after its 1,024 ids."""
    from llm_evolution.data.text import bpe_corpus

    return ChatTokenizer(bpe_corpus().tokenizer)


# --8<-- [start:with_chat_tokens]
def with_chat_tokens(pretrained: GPT, n_new: int) -> GPT:
    """A copy of ``pretrained`` with ``n_new`` more token embeddings at the end of the
    vocabulary. Old rows are copied; each new row starts as the mean of the old ones, so the
    new tokens start with ordinary scores instead of random ones (Hewitt, 2021). The output
    head is the same matrix (tied), so it grows too."""
    if n_new < 1:
        raise ValueError(f"n_new={n_new} must be >= 1")
    old = pretrained.config
    config = GPTConfig(vocab_size=old.vocab_size + n_new, context_size=old.context_size,
                       d_model=old.d_model, n_heads=old.n_heads, n_layers=old.n_layers,
                       dropout=old.dropout, layer_norm_eps=old.layer_norm_eps)
    model = GPT(config)
    state = dict(pretrained.state_dict())
    embedding = state.pop("token_embedding.weight")
    mean = embedding.mean(dim=0, keepdim=True).expand(n_new, -1)
    state["token_embedding.weight"] = torch.cat([embedding, mean])
    model.load_state_dict(state)
    return model
# --8<-- [end:with_chat_tokens]


# --8<-- [start:encode_examples]
def encode_examples(examples: list[Example], tokenizer: ChatTokenizer, context_size: int
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, targets, trained): each example as a two-turn conversation, shifted by one
    for next-token prediction, padded at the end with ``<|end|>``. ``trained`` marks the
    targets that are the response and its ``<|end|>``: the only ones the loss counts."""
    rows = [tokenizer.encode_chat([("user", e.prompt()), ("assistant", e.reply())])
            for e in examples]
    length = max(len(ids) for ids, _ in rows)
    if length > context_size + 1:
        raise ValueError(f"an example takes {length} tokens, more than context_size="
                         f"{context_size} + 1; use shorter inputs or a longer context")
    ids = torch.full((len(rows), length), tokenizer.end_id)
    trained = torch.zeros(len(rows), length, dtype=torch.bool)
    for row, (tokens, mask) in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        trained[row, : len(mask)] = torch.tensor(mask)
    return ids[:, :-1], ids[:, 1:], trained[:, 1:]
# --8<-- [end:encode_examples]


# --8<-- [start:response_loss]
class ResponseLoss(nn.Module):
    """A GPT trained on responses only: ``(inputs, targets, trained) -> (logits, loss)``, the
    loss the mean cross-entropy of the ``trained`` targets. The output head, a product with
    the whole vocabulary, runs at those positions only, not at every position as
    :meth:`GPT.forward` does."""

    def __init__(self, model: GPT):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, trained: torch.Tensor):
        hidden = self.model.hidden_states(inputs)[trained]  # (positions trained, d_model)
        logits = F.linear(hidden, self.model.token_embedding.weight)  # the tied head
        return logits, F.cross_entropy(logits, targets[trained])
# --8<-- [end:response_loss]


# --8<-- [start:example_batches]
def example_batches(encoded: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                    batch_size: int) -> BatchFn:
    """Batches of ``batch_size`` examples of about the same length, cut to the longest of
    them: the rows are sorted by length and a batch is ``batch_size`` neighbours from a
    random start. Short examples then do not carry the padding of long ones."""
    inputs, targets, trained = encoded
    n = len(inputs)
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size={batch_size} must be between 1 and the {n} examples")
    lengths = trained.int().cumsum(dim=1).argmax(dim=1) + 1  # up to the last trained target
    order = torch.argsort(lengths, stable=True)
    inputs, targets, trained, lengths = inputs[order], targets[order], trained[order], lengths[order]

    def get_batch(generator: torch.Generator) -> Batch:
        start = int(torch.randint(n - batch_size + 1, (1,), generator=generator))
        rows = slice(start, start + batch_size)
        longest = int(lengths[rows].max())
        return inputs[rows, :longest], targets[rows, :longest], trained[rows, :longest]

    return get_batch
# --8<-- [end:example_batches]


# --8<-- [start:exact_match]
@torch.no_grad()
def exact_match(model: GPT, examples: list[Example], tokenizer: ChatTokenizer,
                batch_size: int = 128) -> list[bool]:
    """Whether greedy decoding answers each example with exactly its response, then
    ``<|end|>``. Greedy decoding writes the right answer exactly when, at every position of
    it, the right token scores highest given the right tokens before it; so one forward pass
    over prompt and answer checks a whole batch, with no decoding loop."""
    right = []
    with evaluating(model):
        for start in range(0, len(examples), batch_size):
            inputs, targets, trained = encode_examples(examples[start : start + batch_size],
                                                       tokenizer, model.config.context_size)
            logits, _ = model(inputs)
            wrong = (logits.argmax(dim=-1) != targets) & trained
            right += (~wrong.any(dim=1)).tolist()
    return right
# --8<-- [end:exact_match]


def accuracy_by(examples: list[Example], right: list[bool], field: str) -> dict[str, float]:
    """Mean of ``right`` per value of ``field`` (``"kind"``, ``"task"`` or ``"cluster"``)."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for example, ok in zip(examples, right):
        groups[getattr(example, field)].append(ok)
    return {name: sum(oks) / len(oks) for name, oks in groups.items()}


def respond(model: GPT, tokenizer: ChatTokenizer, prompt: str, max_new_tokens: int = 24) -> str:
    """The model's greedy answer to one user turn, up to its ``<|end|>``."""
    ids = torch.tensor([tokenizer.encode_prompt([("user", prompt)])])
    new = generate(model, ids, max_new_tokens, greedy=True)[0, ids.size(1) :].tolist()
    if tokenizer.end_id in new:
        new = new[: new.index(tokenizer.end_id)]
    return tokenizer.decode(new).strip()


def trainable_parameters(model: nn.Module) -> int:
    """How many numbers an optimizer updates: the parameters that require gradients."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
