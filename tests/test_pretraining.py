"""Tests for llm_evolution.pretraining: BERT's masking, the batches, the genre task."""

from __future__ import annotations

import pytest
import torch

from llm_evolution.models.bert import (
    IGNORE_INDEX,
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
)
from llm_evolution.pretraining import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    Speech,
    bert_tokenizer,
    LinearProbe,
    accuracy,
    copy_encoder,
    encode_speeches,
    fill_mask,
    labelled_rows,
    mask_tokens,
    masked_accuracy,
    mlm_batches,
    play_speeches,
    row_batches,
)

VOCAB = 100


def test_special_tokens_come_first():
    tokenizer = bert_tokenizer(300)
    assert tokenizer.tokens[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert tokenizer.encode("[CLS] hello [MASK] [SEP][PAD]")[:1] == [CLS_ID]
    assert tokenizer.encode("a [MASK] b").count(MASK_ID) == 1
    assert tokenizer.vocab_size == 300 + len(SPECIAL_TOKENS) - 1  # GPT-2's one special is gone


def test_mask_tokens_follows_the_80_10_10_rule():
    # A large batch of real tokens: the observed fractions must be near BERT's within a margin
    # far wider than the sampling noise (about 0.1 percentage point here).
    ids = torch.randint(len(SPECIAL_TOKENS), VOCAB, (200, 500),
                        generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(ids, VOCAB, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE_INDEX
    assert abs(chosen.float().mean().item() - 0.15) < 0.01
    assert torch.equal(labels[chosen], ids[chosen])  # labels are the original tokens
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else changes
    masked = (inputs == MASK_ID) & chosen
    kept = (inputs == ids) & chosen
    replaced = chosen & ~masked & ~kept
    n = chosen.sum().item()
    assert abs(masked.sum().item() / n - 0.8) < 0.02
    # A random replacement equals the original 1 time in 96; those count as "kept" here.
    assert abs(kept.sum().item() / n - (0.1 + 0.1 / (VOCAB - 4))) < 0.02
    assert abs(replaced.sum().item() / n - 0.1 * (1 - 1 / (VOCAB - 4))) < 0.02
    assert (inputs[replaced] >= len(SPECIAL_TOKENS)).all()  # never a special token


def test_mask_tokens_never_hides_special_tokens():
    ids = torch.tensor([[CLS_ID, 10, 11, SEP_ID, PAD_ID, PAD_ID]] * 500)
    inputs, labels = mask_tokens(ids, VOCAB, torch.Generator().manual_seed(0), 0.5)
    specials = ids < len(SPECIAL_TOKENS)
    assert (labels[specials] == IGNORE_INDEX).all()
    assert torch.equal(inputs[specials], ids[specials])
    assert (labels[~specials] != IGNORE_INDEX).any()
    with pytest.raises(ValueError, match="mask_fraction=1.5"):
        mask_tokens(ids, VOCAB, torch.Generator(), 1.5)


def test_mlm_batches_wrap_windows_in_cls_and_sep():
    ids = torch.arange(len(SPECIAL_TOKENS), 60)
    inputs, labels = mlm_batches(ids, 10, 4, VOCAB)(torch.Generator().manual_seed(0))
    assert inputs.shape == labels.shape == (4, 10)
    assert (inputs[:, 0] == CLS_ID).all() and (inputs[:, -1] == SEP_ID).all()
    originals = torch.where(labels == IGNORE_INDEX, inputs, labels)
    # Every window is a run of consecutive ids of the stream.
    assert (originals[:, 2:-1] - originals[:, 1:-2] == 1).all()
    with pytest.raises(ValueError, match="longer than length=100"):
        mlm_batches(ids, 100, 4, VOCAB)


def test_play_speeches_drop_names_directions_and_short_lines():
    text = ("ACT I. SCENE I. Elsinore. A platform before the Castle, at night.\n\n"
            "Ham.\nTo be, or not to be, that is the question: whether 'tis nobler\n"
            "in the mind [Aside.] to suffer.\n\n"
            "Hor.\nAy, my lord.\n\n"
            "KING CLAUDIUS.\nThough yet of Hamlet our dear brother's death the memory be green\n")
    assert play_speeches(text) == [
        "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer.",
        "Though yet of Hamlet our dear brother's death the memory be green",
    ]


LABELS = torch.tensor([i % 2 for i in range(40)])


def test_labelled_rows_are_balanced_and_seeded():
    rows = labelled_rows(LABELS, 10, seed=0)
    assert len(rows) == 10 and len(set(rows.tolist())) == 10
    assert LABELS[rows].sum().item() == 5
    assert torch.equal(rows, labelled_rows(LABELS, 10, seed=0))
    assert not torch.equal(rows, labelled_rows(LABELS, 10, seed=1))
    assert torch.equal(labelled_rows(LABELS, None, seed=0), torch.arange(40))
    with pytest.raises(ValueError, match="n_labels=7"):
        labelled_rows(LABELS, 7, seed=0)
    with pytest.raises(ValueError, match="needs 25 rows per class"):
        labelled_rows(LABELS, 50, seed=0)


def test_encode_speeches_pads_and_cuts():
    tokenizer = bert_tokenizer(300)
    long = Speech("word " * 50, 1, "p")
    ids, mask, labels = encode_speeches([Speech("Hi there", 0, "p"), long], tokenizer, 8)
    short = [CLS_ID, *tokenizer.encode("Hi there"), SEP_ID]
    assert ids[0, : len(short)].tolist() == short
    assert (ids[0, len(short):] == PAD_ID).all()
    assert ids[1, 0] == CLS_ID and ids[1, -1] == SEP_ID and mask[1].all()
    assert torch.equal(mask, (ids != PAD_ID).long())
    assert labels.tolist() == [0, 1]
    batch_ids, batch_labels, batch_mask = row_batches((ids, mask), labels, 3)(
        torch.Generator().manual_seed(0))
    assert batch_ids.shape[0] == batch_labels.shape[0] == batch_mask.shape[0] == 3
    # Rows are drawn with their own labels and masks; all-padding columns are cut off.
    for row_ids, row_label, row_mask in zip(batch_ids, batch_labels, batch_mask):
        row = next(i for i in range(2) if torch.equal(ids[i, : len(row_ids)], row_ids))
        assert row_label == labels[row] and torch.equal(row_mask, mask[row, : len(row_ids)])
    assert batch_mask[:, -1].any()


@pytest.fixture
def config() -> BertConfig:
    """A tiny BERT over a 300-token vocabulary (trained when first used, not at collection)."""
    return BertConfig(vocab_size=bert_tokenizer(300).vocab_size, max_position=16, d_model=32,
                      n_heads=2, n_layers=1, d_ff=64, dropout=0.0)


def test_fill_mask_returns_the_top_tokens_in_order(config):
    torch.manual_seed(0)
    model = BertForMaskedLM(config).eval()
    tokenizer = bert_tokenizer(300)
    top = fill_mask(model, tokenizer, "to be or not to [MASK]", k=5)
    probs = [p for _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    ids = [CLS_ID, *tokenizer.encode("to be or not to [MASK]"), SEP_ID]
    logits, _ = model(torch.tensor([ids]))
    best = logits[0, ids.index(MASK_ID)].argmax().item()
    assert top[0][0] == tokenizer.decode([best])
    with pytest.raises(ValueError, match="exactly one"):
        fill_mask(model, tokenizer, "no mask here")


def test_copy_encoder_and_accuracy(config):
    torch.manual_seed(0)
    pretrained = BertForMaskedLM(config)
    classifier = BertForSequenceClassification(config, n_classes=2)
    copy_encoder(classifier, pretrained.bert)
    for name, tensor in pretrained.bert.state_dict().items():
        assert torch.equal(classifier.bert.state_dict()[name], tensor)
    wider = BertForMaskedLM(BertConfig(**{**config.__dict__, "d_ff": 32}))
    with pytest.raises(ValueError, match="does not fit the classifier"):
        copy_encoder(classifier, wider.bert)
    ids = torch.randint(4, config.vocab_size, (10, 6), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    logits, _ = classifier.eval()(ids, None, mask)
    predicted = logits.argmax(dim=-1)
    assert accuracy(classifier, (ids, mask), predicted, batch_size=3) == 1.0
    assert accuracy(classifier, (ids, mask), 1 - predicted) == 0.0


def test_linear_probe_learns_a_separable_problem():
    vectors = torch.randn(200, 8, generator=torch.Generator().manual_seed(0))
    labels = (vectors[:, 0] > 0).long()
    probe = LinearProbe(8, 2)
    assert probe(vectors)[1] is None
    optimizer = torch.optim.AdamW(probe.parameters(), lr=0.1)
    for _ in range(100):
        loss = probe(vectors, labels)[1]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert accuracy(probe, (vectors,), labels) > 0.95


def test_masked_accuracy_counts_top_k_at_hidden_positions_only():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=VOCAB, max_position=16, d_model=32,
                                       n_heads=4, n_layers=1, d_ff=64)).eval()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(5, VOCAB, (3, 16), generator=generator)
    labels = torch.full_like(inputs, IGNORE_INDEX)
    hidden = torch.rand(3, 16, generator=generator) < 0.3
    labels[hidden] = torch.randint(5, VOCAB, (int(hidden.sum()),), generator=generator)
    with torch.no_grad():
        scores = model(inputs)[0][hidden]  # every position scored, then the hidden ones kept
        ranks = (scores > scores.gather(1, labels[hidden][:, None])).sum(dim=1)  # 0 = best
    expected = {k: (ranks < k).float().mean().item() for k in (1, 5, 50)}
    with torch.no_grad():
        measured = masked_accuracy(model, [(inputs, labels)], ks=(1, 5, 50))
    assert measured == pytest.approx(expected, abs=1e-6)
    assert measured[1] <= measured[5] <= measured[50]
