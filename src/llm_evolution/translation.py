"""The toy translation task as tensors, shared by the RNN (chapter 2) and Transformer (chapter 3).

Sources are English words ("three hundred forty two"), one token per word; targets are written
characters ("342"), one token per character. Every sequence model of those chapters follows two
contracts, so one training loop and one evaluation serve them all:

* ``model(source, target_in, target_out) -> (logits, loss)``: teacher forcing, for training;
* ``model.generate(source, max_new_tokens) -> ids``: greedy decoding, for evaluation.

The special ids and the loss come from :mod:`llm_evolution.models.seq2seq`. Besides accuracy,
this module reads where a trained translator looks: :func:`rnn_attention_map` and
:func:`transformer_attention_map`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from llm_evolution.data.synthetic import translation_splits
from llm_evolution.evaluation import evaluating
from llm_evolution.models.rnn import Seq2SeqRNN
from llm_evolution.models.seq2seq import BOS, EOS, PAD, SPECIALS
from llm_evolution.models.transformer import Seq2SeqTransformer
from llm_evolution.training import Batch, BatchFn

# The held-out pair whose attention maps chapters 2 and 3 print and draw: the same number for
# the RNN and the Transformer, so their maps can be compared.
ATTENTION_EXAMPLE_INDEX = 0


# --8<-- [start:vocab]
class Vocab:
    """Token strings <-> ids, with padding, begin and end of sequence as ids 0, 1 and 2."""

    def __init__(self, tokens: Sequence[str]):
        self.tokens = list(SPECIALS) + sorted(set(tokens) - set(SPECIALS))
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        unknown = [t for t in tokens if t not in self.index]
        if unknown:
            raise ValueError(f"tokens {unknown} are not in the vocabulary of {len(self)} tokens")
        return [self.index[t] for t in tokens]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Tokens up to the first end-of-sequence, without padding or begin markers."""
        out = []
        for i in ids:
            if int(i) == EOS:
                break
            if int(i) not in (PAD, BOS):
                out.append(self.tokens[int(i)])
        return out
# --8<-- [end:vocab]


def pad(sequences: Sequence[Sequence[int]]) -> torch.Tensor:
    """Stack id lists of different lengths into one (batch, longest) tensor, padded with PAD."""
    longest = max(len(s) for s in sequences)
    return torch.tensor([list(s) + [PAD] * (longest - len(s)) for s in sequences],
                        dtype=torch.long)


@dataclass(frozen=True)
class TranslationData:
    """A task's training and held-out pairs with its two vocabularies."""

    task: str
    train_pairs: list[tuple[str, str]]
    held_out_pairs: list[tuple[str, str]]
    source_vocab: Vocab  # words
    target_vocab: Vocab  # characters

    def encode_sources(self, sources: Sequence[str]) -> torch.Tensor:
        """(batch, source length) word ids, each source ended by EOS and padded with PAD."""
        return pad([self.source_vocab.encode(s.split()) + [EOS] for s in sources])

    def encode_targets(self, targets: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder inputs (BOS + target) and outputs (target + EOS), padded with PAD."""
        ids = [self.target_vocab.encode(list(t)) for t in targets]
        return pad([[BOS] + i for i in ids]), pad([i + [EOS] for i in ids])

    def batch(self, pairs: Sequence[tuple[str, str]]) -> Batch:
        """(source, target_in, target_out) for a list of pairs."""
        sources, targets = zip(*pairs)
        return (self.encode_sources(sources), *self.encode_targets(targets))

    def batches(self, split: str, batch_size: int) -> BatchFn:
        """Random batches of ``batch_size`` pairs of ``split`` ("train" or "held_out")."""
        if split not in ("train", "held_out"):
            raise ValueError(f"split={split!r} must be 'train' or 'held_out'")
        pairs = self.train_pairs if split == "train" else self.held_out_pairs
        if not 1 <= batch_size <= len(pairs):
            raise ValueError(f"batch_size={batch_size} must be in 1..{len(pairs)}")

        def get_batch(generator: torch.Generator) -> Batch:
            picks = torch.randint(len(pairs), (batch_size,), generator=generator).tolist()
            return self.batch([pairs[i] for i in picks])

        return get_batch

    def max_target_length(self) -> int:
        """Longest target, plus one for EOS: how many tokens greedy decoding may produce."""
        return max(len(t) for _, t in self.train_pairs + self.held_out_pairs) + 1

    def fingerprint(self) -> str:
        """sha256 of every pair, so cached models retrain if the task ever changes."""
        digest = hashlib.sha256(self.task.encode())
        for source, target in self.train_pairs + self.held_out_pairs:
            digest.update(f"{source}\t{target}\n".encode())
        return digest.hexdigest()


@lru_cache(maxsize=4)
def translation_data(task: str = "numbers", n_train: int = 30_000, n_held_out: int = 2_000,
                     seed: int = 0) -> TranslationData:
    """The task of chapters 2 and 3: ``n_train`` + ``n_held_out`` distinct pairs, fixed by seed."""
    train_pairs, held_out_pairs = translation_splits(n_train, n_held_out, seed, task)
    pairs = train_pairs + held_out_pairs
    return TranslationData(
        task=task,
        train_pairs=train_pairs,
        held_out_pairs=held_out_pairs,
        source_vocab=Vocab([word for source, _ in pairs for word in source.split()]),
        target_vocab=Vocab([char for _, target in pairs for char in target]),
    )


# --8<-- [start:evaluate]
def translate(model: nn.Module, data: TranslationData, sources: Sequence[str],
              batch_size: int = 500) -> list[str]:
    """Greedy translations of ``sources`` by ``model``, as strings."""
    device = next(model.parameters()).device
    out = []
    with evaluating(model):
        for start in range(0, len(sources), batch_size):
            source = data.encode_sources(sources[start : start + batch_size]).to(device)
            ids = model.generate(source, max_new_tokens=data.max_target_length())
            out += ["".join(data.target_vocab.decode(row)) for row in ids.tolist()]
    return out


def translated_right(model: nn.Module, data: TranslationData,
                     pairs: Sequence[tuple[str, str]], batch_size: int = 500) -> list[bool]:
    """For each pair, whether greedy decoding translates its source exactly into its target.

    Greedy decoding writes the target, then ``<eos>``, exactly when at every position the
    likeliest next token, given the target's own tokens before it, is the target's next token.
    So one teacher-forced pass decides it, where decoding takes one pass per output token
    (chapter 7 scores its answers the same way).
    """
    right = []
    with evaluating(model):
        for start in range(0, len(pairs), batch_size):
            source, target_in, target_out = data.batch(pairs[start : start + batch_size])
            device = next(model.parameters()).device
            logits, _ = model(source.to(device), target_in.to(device))
            guessed = logits.argmax(dim=-1).cpu() == target_out
            right += (guessed | (target_out == PAD)).all(dim=1).tolist()  # padding is no output
    return right


def exact_match(model: nn.Module, data: TranslationData,
                pairs: Sequence[tuple[str, str]] | None = None) -> float:
    """Fraction of pairs (default: the held-out ones) greedy decoding translates exactly right."""
    pairs = data.held_out_pairs if pairs is None else pairs
    return sum(translated_right(model, data, pairs)) / len(pairs)


def accuracy_by_length(model: nn.Module, data: TranslationData,
                       pairs: Sequence[tuple[str, str]] | None = None) -> dict[int, float]:
    """Exact-match accuracy for each source length in words, shortest first."""
    pairs = data.held_out_pairs if pairs is None else pairs
    right: dict[int, list[bool]] = {}
    for verdict, (source, _) in zip(translated_right(model, data, pairs), pairs):
        right.setdefault(len(source.split()), []).append(verdict)
    return {length: sum(r) / len(r) for length, r in sorted(right.items())}
# --8<-- [end:evaluate]


def rnn_attention_map(model: Seq2SeqRNN, data: TranslationData, source_text: str
                      ) -> tuple[list[str], list[str], torch.Tensor]:
    """Translate one source greedily with an RNN built with attention and return its words
    (with ``<eos>``), the output tokens (with ``<eos>`` if written) and the attention weights
    (outputs, words): one row per output token, saying how much it looked at each source word.
    ``data`` is the task the model was trained on.
    """
    if model.attend is None:
        raise ValueError("rnn_attention_map needs a model built with attention=True")
    source = data.encode_sources([source_text]).to(next(model.parameters()).device)
    with evaluating(model):
        ids, weights = model.generate(source, data.max_target_length(), return_attention=True)
    outputs = [data.target_vocab.tokens[i] for i in ids[0].tolist() if i != PAD]
    words = source_text.split() + [SPECIALS[EOS]]
    return words, outputs, weights[0, : len(outputs)].cpu()


def transformer_attention_map(model: Seq2SeqTransformer, data: TranslationData,
                              source_text: str) -> tuple[list[str], list[str], torch.Tensor]:
    """Translate one source greedily with a Transformer and return its words (with
    ``<eos>``), the output tokens (with ``<eos>`` if written) and the cross-attention weights
    (layers, outputs, words), averaged over the heads: how much each output token looked at
    each source word.
    """
    device = next(model.parameters()).device
    source = data.encode_sources([source_text]).to(device)
    with evaluating(model):
        ids = model.generate(source, data.max_target_length())[0]
        ids = ids[ids != PAD]
        # Feeding the model its own output reproduces the decoding steps exactly, all at once.
        target_in = torch.cat([torch.tensor([BOS], device=device), ids[:-1]])[None]
        weights = model.cross_attention(source, target_in).mean(dim=2)  # over the heads
    outputs = [data.target_vocab.tokens[i] for i in ids.tolist()]
    words = source_text.split() + [data.source_vocab.tokens[EOS]]
    return words, outputs, weights[:, 0].cpu()
