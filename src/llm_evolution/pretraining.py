"""BERT's two steps on our own corpus: masked-LM pretraining, then fine-tuning with few labels.

Pretraining needs no labels: :func:`mask_tokens` hides 15% of the tokens with the 80/10/10 rule
of Devlin et al. (2018, arXiv:1810.04805) and the model predicts them. Fine-tuning needs
labels, and the corpus provides some for free: every speech comes from a comedy or a tragedy.
:func:`genre_speeches` turns the plays into that classification task, with the held-out
speeches taken from the end of each play, which pretraining never sees either.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from llm_evolution.data.shakespeare import corpus_plays, train_val_split
from llm_evolution.models.bert import (
    mean_pool,
    IGNORE_INDEX,
    Bert,
    BertConfig,
    BertForSequenceClassification,
)
from llm_evolution.tokenizers import ByteLevelBPE, shakespeare_bpe
from llm_evolution.evaluation import evaluating
from llm_evolution.training import BatchFn, History, train

# --8<-- [start:tokenizer]
SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))  # special tokens come first


@lru_cache(maxsize=4)
def bert_tokenizer(vocab_size: int = 4000) -> ByteLevelBPE:
    """Chapter 4's byte-level BPE, cut to ``vocab_size`` tokens, with BERT's four special
    tokens in front: [PAD] fills short rows, [CLS] starts a sequence (the classifier reads
    its vector), [SEP] ends it, [MASK] hides a token."""
    merges = shakespeare_bpe().truncated(vocab_size).merges
    return ByteLevelBPE(merges, SPECIAL_TOKENS)
# --8<-- [end:tokenizer]


@lru_cache(maxsize=4)
def encoded_corpus(vocab_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(training ids, held-out ids): the corpus split of chapter 1, in :func:`bert_tokenizer`
    tokens. The held-out text is the last tenth of every play."""
    from llm_evolution.data.text import char_corpus  # imported here: it is slow to build

    tokenizer, corpus = bert_tokenizer(vocab_size), char_corpus()
    return (torch.tensor(tokenizer.encode(corpus.train_text)),
            torch.tensor(tokenizer.encode(corpus.val_text)))


def frequency_baseline(vocab_size: int) -> tuple[float, float]:
    """(loss in nats, top-1 accuracy) on held-out tokens of a guesser that ignores the context
    and always uses the training text's token frequencies (add-one smoothed). A masked LM
    must beat it to show that it reads the words around a [MASK]."""
    train_ids, val_ids = encoded_corpus(vocab_size)
    counts = torch.bincount(train_ids, minlength=bert_tokenizer(vocab_size).vocab_size) + 1.0
    log_probs = (counts / counts.sum()).log()
    return -log_probs[val_ids].mean().item(), (val_ids == counts.argmax()).float().mean().item()


# --8<-- [start:mask_tokens]
def mask_tokens(ids: torch.Tensor, vocab_size: int, generator: torch.Generator,
                mask_fraction: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption of a batch of token ids: returns (inputs, labels).

    ``mask_fraction`` of the real tokens are chosen; of those, 80% become [MASK], 10% a random
    token and 10% stay as they are. Labels hold the original token at chosen positions and
    ``IGNORE_INDEX`` elsewhere, so the loss is computed on the chosen tokens only.
    """
    if not 0.0 < mask_fraction < 1.0:
        raise ValueError(f"mask_fraction={mask_fraction} must be between 0 and 1 (BERT: 0.15)")
    real = ids >= len(SPECIAL_TOKENS)  # never hide [PAD], [CLS] or [SEP]
    chosen = (torch.rand(ids.shape, generator=generator) < mask_fraction) & real
    labels = torch.where(chosen, ids, IGNORE_INDEX)
    action = torch.rand(ids.shape, generator=generator)
    random_tokens = torch.randint(len(SPECIAL_TOKENS), vocab_size, ids.shape, generator=generator)
    inputs = torch.where(chosen & (action < 0.8), MASK_ID, ids)
    inputs = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_tokens, inputs)
    # The remaining 10% keep their token: the model must check every token, not only [MASK]s.
    return inputs, labels
# --8<-- [end:mask_tokens]


# --8<-- [start:mlm_batches]
def mlm_batches(ids: torch.Tensor, length: int, batch_size: int, vocab_size: int) -> BatchFn:
    """Batches of random windows of ``ids``, each as [CLS] window [SEP], freshly masked every
    time (RoBERTa's *dynamic* masking), as (inputs, labels) for ``BertForMaskedLM``."""
    if ids.dim() != 1 or len(ids) <= length:
        raise ValueError(f"ids must be a 1-D tensor longer than length={length}, "
                         f"got shape {tuple(ids.shape)}")

    def get_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(len(ids) - (length - 2), (batch_size,), generator=generator)
        windows = torch.stack([ids[s : s + length - 2] for s in starts])
        cls = torch.full((batch_size, 1), CLS_ID)
        sep = torch.full((batch_size, 1), SEP_ID)
        return mask_tokens(torch.cat([cls, windows, sep], dim=1), vocab_size, generator)

    return get_batch
# --8<-- [end:mlm_batches]


# --8<-- [start:fill_mask]
@torch.no_grad()
def fill_mask(model: nn.Module, tokenizer: ByteLevelBPE, text: str,
              k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely tokens for the one "[MASK]" in ``text``, with probabilities."""
    ids = [CLS_ID, *tokenizer.encode(text), SEP_ID]
    if ids.count(MASK_ID) != 1:
        raise ValueError(f"text must contain exactly one [MASK], got {ids.count(MASK_ID)}")
    logits, _ = model(torch.tensor([ids]))
    probs = F.softmax(logits[0, ids.index(MASK_ID)], dim=-1)
    top = probs.topk(k)
    return [(tokenizer.decode([i]), p) for p, i in zip(top.values.tolist(), top.indices.tolist())]
# --8<-- [end:fill_mask]


@torch.no_grad()
def masked_accuracy(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]],
                    ks: tuple[int, ...] = (1,)) -> dict[int, float]:
    """For each k in ``ks``: the fraction of hidden tokens whose original token is among the
    model's top k guesses. Only the hidden positions are scored (the labels say which)."""
    hits, total = dict.fromkeys(ks, 0), 0
    for inputs, labels in batches:
        logits, _ = model(inputs, labels)  # (n_hidden, vocab), in the order of labels[hidden]
        expected = labels[labels != IGNORE_INDEX][:, None]
        top = logits.topk(max(ks), dim=-1).indices  # best first
        for k in ks:
            hits[k] += (top[:, :k] == expected).any(dim=-1).sum().item()
        total += len(expected)
    return {k: hits[k] / total for k in ks}


# --8<-- [start:genre_speeches]
class Speech(NamedTuple):
    text: str
    label: int  # 0 = comedy, 1 = tragedy
    play: str


GENRES = ("comedy", "tragedy")
_STAGE_DIRECTION = re.compile(r"\[[^\]]*\]")


def play_speeches(text: str, min_words: int = 8) -> list[str]:
    """The speeches of a play's text, without the speaker's name or stage directions.

    A speech is a paragraph whose first line is a speaker's name ("HAMLET." or "Ham."). Names
    are dropped because each edition writes them its own way, which would give the play
    away; speeches shorter than ``min_words`` words ("Ay, my lord.") are dropped too.
    """
    speeches = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.strip().split("\n")]
        if len(lines) < 2 or len(lines[0].split()) > 4 or lines[0].startswith(("ACT", "SCENE")):
            continue
        words = _STAGE_DIRECTION.sub(" ", " ".join(lines[1:])).split()
        if len(words) >= min_words:
            speeches.append(" ".join(words))
    return speeches


@lru_cache(maxsize=1)
def genre_speeches() -> dict[str, list[Speech]]:
    """{"train": [...], "test": [...]}: every speech labelled with its play's genre. Test
    speeches come from the last tenth of each play, the part pretraining never reads."""
    splits: dict[str, list[Speech]] = {"train": [], "test": []}
    for play in corpus_plays():
        for split, text in zip(("train", "test"), train_val_split(play.text)):
            splits[split] += [Speech(speech, GENRES.index(play.genre), play.name)
                              for speech in play_speeches(text)]
    return splits
# --8<-- [end:genre_speeches]


def encode_speeches(speeches: list[Speech], tokenizer: ByteLevelBPE,
                    length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention_mask, labels): each speech as [CLS] its first tokens [SEP], cut to
    ``length`` tokens and padded with [PAD]."""
    ids = torch.full((len(speeches), length), PAD_ID)
    for row, speech in enumerate(speeches):
        tokens = [CLS_ID, *tokenizer.encode(speech.text)[: length - 2], SEP_ID]
        ids[row, : len(tokens)] = torch.tensor(tokens)
    labels = torch.tensor([speech.label for speech in speeches])
    return ids, (ids != PAD_ID).long(), labels


def labelled_rows(labels: torch.Tensor, n_labels: int | None, seed: int) -> torch.Tensor:
    """Indices of ``n_labels`` training rows, half of each of the two classes, drawn with
    ``seed`` (None: every row)."""
    if n_labels is None:
        return torch.arange(len(labels))
    if n_labels < 2 or n_labels % 2:
        raise ValueError(f"n_labels={n_labels} must be an even number >= 2 (half per class)")
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for label in (0, 1):
        pool = (labels == label).nonzero().flatten()
        if n_labels // 2 > len(pool):
            raise ValueError(f"n_labels={n_labels} needs {n_labels // 2} rows per class, "
                             f"there are {len(pool)}")
        rows.append(pool[torch.randperm(len(pool), generator=generator)[: n_labels // 2]])
    return torch.cat(rows)


def row_batches(inputs: tuple[torch.Tensor, ...], labels: torch.Tensor,
                batch_size: int) -> BatchFn:
    """Random batches of rows as (first input, labels, other inputs...), the argument order
    of the classifiers here. Columns that are padding in every row of a batch are cut off."""

    def get_batch(generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        rows = torch.randint(len(labels), (batch_size,), generator=generator)
        batch = [t[rows] for t in inputs]
        if len(batch) == 2:  # (ids, attention_mask): keep the columns some row uses
            width = int(batch[1].sum(dim=1).max())
            batch = [t[:, :width] for t in batch]
        return batch[0], labels[rows], *batch[1:]

    return get_batch


@torch.no_grad()
def accuracy(model: nn.Module, inputs: tuple[torch.Tensor, ...], labels: torch.Tensor,
             batch_size: int = 256) -> float:
    """Fraction of rows whose highest-scoring class is the label; ``inputs`` are the model's
    arguments other than the labels, one row per example."""
    correct = 0
    with evaluating(model):
        for start in range(0, len(labels), batch_size):
            first, *rest = (t[start : start + batch_size] for t in inputs)
            logits, _ = model(first, None, *rest)
            correct += (logits.argmax(dim=-1) == labels[start : start + batch_size]).sum().item()
    return correct / len(labels)


class LinearProbe(nn.Module):
    """One linear layer on fixed sentence vectors: ``model(vectors, labels) -> (logits, loss)``."""

    def __init__(self, d_in: int, n_classes: int):
        super().__init__()
        self.linear = nn.Linear(d_in, n_classes)

    def forward(self, vectors: torch.Tensor, labels: torch.Tensor | None = None):
        logits = self.linear(vectors)
        return logits, None if labels is None else F.cross_entropy(logits, labels)


def minilm_inputs(texts: list[str], length: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention_mask): ``texts`` in all-MiniLM-L6-v2's word pieces, each cut to
    ``length`` pieces and padded to the longest."""
    from llm_evolution.interop.hf import load_minilm  # needs transformers

    _, tokenizer = load_minilm()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=length,
                      return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


def minilm_encoder() -> Bert:
    """Our :class:`Bert` holding all-MiniLM-L6-v2's weights."""
    from llm_evolution.interop.hf import bert_from_hf, load_minilm  # needs transformers

    return bert_from_hf(load_minilm()[0]).eval()


@torch.no_grad()
def minilm_vectors(texts: list[str], length: int = 64, batch_size: int = 64) -> torch.Tensor:
    """(len(texts), 384): all-MiniLM-L6-v2's sentence vector of each text (its first
    ``length`` word pieces), computed by our BERT holding the real weights."""
    model, vectors = minilm_encoder(), []
    for start in range(0, len(texts), batch_size):
        ids, mask = minilm_inputs(texts[start : start + batch_size], length)
        vectors.append(F.normalize(mean_pool(model(ids, mask), mask), dim=-1))
    return torch.cat(vectors)


# --8<-- [start:label_sweep]
LABEL_COUNTS = (50, 200)  # labelled speeches per run (None would mean all of them)
STARTS = ("scratch", "pretrained", "minilm")


def fine_tune(model: nn.Module, batches: BatchFn, config: dict, seed: int, lr: float) -> History:
    """Train a classifier with the one training loop. Every run takes ``config["steps"]``
    steps: the same budget for every label count and start (a few labels are seen often)."""
    return train(model, batches, steps=config["steps"], lr=lr,
                 warmup_steps=config["warmup_steps"], lr_decay=True,
                 eval_every=config["steps"], seed=seed, progress=False)


def copy_encoder(classifier: BertForSequenceClassification, encoder: Bert) -> None:
    """Put the pretrained ``encoder``'s weights into ``classifier``. The last layer stays new,
    and so does the pooler where the encoder has none: masked-LM pretraining trains neither."""
    if classifier.config != encoder.config:
        raise ValueError(f"the pretrained encoder does not fit the classifier: {encoder.config} "
                         f"!= {classifier.config}; build both from one BertConfig")
    pooler = {"pooler.weight", "pooler.bias"}
    missing, unexpected = classifier.bert.load_state_dict(encoder.state_dict(), strict=False)
    # A classifier that reads the [CLS] vector needs a pooler: an encoder without one (a
    # masked LM) leaves it new. One that averages has none: an encoder's pooler goes unused.
    new_pooler = pooler if classifier.pooling == "cls" and encoder.pooler is None else set()
    unused_pooler = pooler if classifier.pooling == "mean" else set()
    if set(unexpected) - unused_pooler or set(missing) != new_pooler:
        raise ValueError(f"the pretrained encoder does not fit the classifier: missing "
                         f"{missing}, unexpected {unexpected}; build both from one BertConfig")


def label_sweep(encoder: Bert, config: dict, seeds: tuple[int, ...],
                label_counts: tuple[int | None, ...] = LABEL_COUNTS,
                examples: dict[str, list] | None = None,
                whole_minilm_counts: tuple[int | None, ...] = ()) -> dict[str, list[float]]:
    """Held-out accuracy for every label count, seed and start, as
    ``{"scratch 50": [one accuracy per seed], "pretrained 50": [...], ...}``.

    ``examples`` is a two-class task, ``{"train": [...], "test": [...]}`` of items with a
    ``text`` and a ``label`` (by default chapter 5's comedy-or-tragedy speeches). Starts: our
    tiny BERT from random weights (``scratch``), the same BERT from masked-LM pretraining
    (``pretrained``), both trained whole; the real MiniLM's sentence vectors, kept fixed, under
    one trained linear layer (``minilm``); and, at ``whole_minilm_counts``, MiniLM trained
    whole like our BERTs (``minilm-whole``). Within a seed every start sees the same examples.
    """
    examples = genre_speeches() if examples is None else examples
    tokenizer = bert_tokenizer(config["vocab_size"])
    texts = {split: [example.text for example in examples[split]] for split in examples}
    train_ids, train_mask, labels = encode_speeches(examples["train"], tokenizer,
                                                    config["length"])
    test_ids, test_mask, test_labels = encode_speeches(examples["test"], tokenizer,
                                                       config["length"])
    runs = [(n_labels, seed, labelled_rows(labels, n_labels, seed))
            for n_labels in label_counts for seed in seeds]
    # MiniLM reads only the examples some run labels (and every test example): a forward pass
    # of its 6 layers is the costliest part of the experiment.
    used = sorted(set(torch.cat([rows for _, _, rows in runs]).tolist()))
    used_vectors = minilm_vectors([texts["train"][row] for row in used], config["length"])
    train_vectors = torch.zeros(len(labels), used_vectors.size(1))
    train_vectors[used] = used_vectors
    test_vectors = minilm_vectors(texts["test"], config["length"])
    if whole_minilm_counts:
        minilm = minilm_encoder()
        minilm_ids, minilm_mask = minilm_inputs(texts["train"], config["length"])
        minilm_test = minilm_inputs(texts["test"], config["length"])
    results: dict[str, list[float]] = {}
    for n_labels, seed, rows in tqdm(runs, desc="label counts and seeds", leave=False):
        starts = STARTS + ("minilm-whole",) * (n_labels in whole_minilm_counts)
        for start in starts:
            torch.manual_seed(seed)
            if start == "minilm":
                model = LinearProbe(train_vectors.size(1), 2)
                batches = row_batches((train_vectors[rows],), labels[rows],
                                      config["batch_size"])
                fine_tune(model, batches, config, seed, lr=config["probe_lr"])
                score = accuracy(model, (test_vectors,), test_labels)
            elif start == "minilm-whole":
                model = BertForSequenceClassification(minilm.config, 2, pooling="mean")
                copy_encoder(model, minilm)
                batches = row_batches((minilm_ids[rows], minilm_mask[rows]), labels[rows],
                                      config["batch_size"])
                fine_tune(model, batches, config, seed, lr=config["whole_minilm_lr"])
                score = accuracy(model, minilm_test, test_labels)
            else:
                model = BertForSequenceClassification(encoder.config, 2,
                                                      pooling=config["pooling"])
                if start == "pretrained":
                    copy_encoder(model, encoder)
                batches = row_batches((train_ids[rows], train_mask[rows]), labels[rows],
                                      config["batch_size"])
                fine_tune(model, batches, config, seed, lr=config["lr"])
                score = accuracy(model, (test_ids, test_mask), test_labels)
            results.setdefault(f"{start} {n_labels or 'all'}", []).append(score)
    return results
# --8<-- [end:label_sweep]
