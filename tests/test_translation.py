"""The translation task as tensors: vocabularies, padding, batches, loss, exact match and
attention maps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llm_evolution.models.seq2seq import BOS, EOS, PAD, sequence_loss
from llm_evolution.models.transformer import Seq2SeqTransformer
from llm_evolution.translation import (
    Vocab,
    accuracy_by_length,
    exact_match,
    translated_right,
    pad,
    transformer_attention_map,
    translate,
    translation_data,
)


@pytest.fixture(scope="module")
def small():
    return translation_data("numbers", n_train=200, n_held_out=50, seed=3)


def test_vocab_specials_first_and_round_trip():
    vocab = Vocab(["b", "a", "a", "c"])
    assert vocab.tokens[:3] == ["<pad>", "<bos>", "<eos>"]
    assert (vocab.index["<pad>"], vocab.index["<bos>"], vocab.index["<eos>"]) == (PAD, BOS, EOS)
    assert len(vocab) == 6  # three specials and three distinct tokens
    ids = vocab.encode(["c", "a", "b"])
    assert vocab.decode(ids) == ["c", "a", "b"]


def test_vocab_decode_stops_at_eos_and_skips_markers():
    vocab = Vocab(["x", "y"])
    x, y = vocab.encode(["x", "y"])
    assert vocab.decode([BOS, x, PAD, y, EOS, x, y]) == ["x", "y"]
    assert vocab.decode(torch.tensor([x, EOS, y])) == ["x"]


def test_vocab_rejects_unknown_tokens():
    with pytest.raises(ValueError, match="not in the vocabulary"):
        Vocab(["x"]).encode(["x", "z"])


def test_pad_fills_with_pad_to_the_longest():
    padded = pad([[5, 6, 7], [8], [9, 10]])
    assert padded.dtype == torch.long
    assert padded.tolist() == [[5, 6, 7], [8, PAD, PAD], [9, 10, PAD]]


def test_batch_shapes_and_teacher_forcing_shift(small):
    pairs = small.train_pairs[:5]
    source, target_in, target_out = small.batch(pairs)
    longest_source = max(len(s.split()) for s, _ in pairs) + 1  # + EOS
    longest_target = max(len(t) for _, t in pairs) + 1  # + BOS or EOS
    assert source.shape == (5, longest_source)
    assert target_in.shape == target_out.shape == (5, longest_target)
    for row, (source_text, target_text) in enumerate(pairs):
        n = len(target_text)
        assert target_in[row, 0] == BOS
        # The decoder input is the output shifted right by one: it reads token t-1, predicts t.
        assert torch.equal(target_in[row, 1 : n + 1], target_out[row, :n])
        assert target_out[row, n] == EOS
        assert small.target_vocab.decode(target_out[row].tolist()) == list(target_text)
        assert small.source_vocab.decode(source[row].tolist()) == source_text.split()
        assert (source[row] != PAD).sum() == len(source_text.split()) + 1


def test_batches_are_seeded_and_checked(small):
    get = small.batches("train", 8)
    first = get(torch.Generator().manual_seed(1))
    again = get(torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert first[0].size(0) == 8
    with pytest.raises(ValueError, match="split"):
        small.batches("test", 8)
    with pytest.raises(ValueError, match="batch_size"):
        small.batches("held_out", 51)


def test_splits_are_disjoint_and_sized():
    data = translation_data("numbers")
    assert (len(data.train_pairs), len(data.held_out_pairs)) == (30_000, 2_000)
    assert not {s for s, _ in data.train_pairs} & {s for s, _ in data.held_out_pairs}


def test_fingerprint_is_stable_and_tracks_the_pairs(small):
    assert small.fingerprint() == small.fingerprint()
    rebuilt = translation_data.__wrapped__("numbers", n_train=200, n_held_out=50, seed=3)
    assert rebuilt is not small and rebuilt.fingerprint() == small.fingerprint()
    other_seed = translation_data.__wrapped__("numbers", n_train=200, n_held_out=50, seed=4)
    assert other_seed.fingerprint() != small.fingerprint()
    assert len(small.fingerprint()) == 64  # a full sha256 hex digest


def test_max_target_length_counts_eos(small):
    longest = max(len(t) for _, t in small.train_pairs + small.held_out_pairs)
    assert small.max_target_length() == longest + 1


def test_sequence_loss_ignores_padding_like_a_hand_computation():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 5)
    target_out = torch.tensor([[3, 4, EOS], [4, EOS, PAD]])
    # By hand: average -log p(target) over the five real tokens, skipping the one PAD.
    log_probs = logits.log_softmax(dim=-1)
    real = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    expected = -sum(log_probs[b, t, target_out[b, t]] for b, t in real) / len(real)
    assert torch.allclose(sequence_loss(logits, target_out), expected, atol=1e-6)
    reference = F.cross_entropy(logits[target_out != PAD], target_out[target_out != PAD])
    assert torch.allclose(sequence_loss(logits, target_out), reference, atol=1e-6)


def test_sequence_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="do not match"):
        sequence_loss(torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.long))


class LookupModel(nn.Module):
    """A fake translator that knows the answer for every source (or, if ``wrong``, changes it)."""

    def __init__(self, data, wrong: bool = False):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # translate() asks for a device
        self.answers = {}
        for source_text, target_text in data.train_pairs + data.held_out_pairs:
            source = tuple(data.source_vocab.encode(source_text.split()))
            if wrong:  # change the last digit: one wrong character is a wrong translation
                target_text = target_text[:-1] + str((int(target_text[-1]) + 1) % 10)
            self.answers[source] = data.target_vocab.encode(list(target_text)) + [EOS]
        self.max_new_tokens_seen = []
        self.target_tokens = data.target_vocab.tokens

    def forward(self, source, target_in, target_out=None):
        """Teacher forcing: logits whose likeliest token at each position is the answer's."""
        self.training_seen = self.training
        logits = torch.zeros(*target_in.shape, len(self.target_tokens))
        for b, row in enumerate(source.tolist()):
            answer = self.answers[tuple(i for i in row if i not in (PAD, EOS))]
            for t in range(target_in.size(1)):
                logits[b, t, answer[t] if t < len(answer) else PAD] = 1.0
        return logits, None

    def generate(self, source, max_new_tokens):
        self.max_new_tokens_seen.append(max_new_tokens)
        self.training_seen = self.training
        rows = []
        for row in source.tolist():
            real = tuple(i for i in row if i not in (PAD, EOS))
            rows.append(self.answers[real][:max_new_tokens])
        return pad(rows)


def test_exact_match_of_a_perfect_and_a_wrong_model(small):
    perfect, wrong = LookupModel(small), LookupModel(small, wrong=True)
    assert exact_match(perfect, small) == 1.0
    assert exact_match(wrong, small) == 0.0
    assert exact_match(perfect, small, small.train_pairs[:7]) == 1.0


def test_greedy_decoding_may_run_for_the_longest_target_plus_eos(small):
    model = LookupModel(small)
    translate(model, small, [small.held_out_pairs[0][0]])
    assert model.max_new_tokens_seen == [small.max_target_length()]


@pytest.mark.parametrize("name", ["rnn-translator", "rnn-attention-translator",
                                  "transformer-translator", "transformer-translator-pre-ln"])
def test_one_teacher_forced_pass_agrees_with_greedy_decoding(name):
    """translated_right's shortcut against the real thing: each trained translator's greedy
    translations of held-out pairs, compared with the targets as strings."""
    from llm_evolution import zoo

    data, model = translation_data("numbers"), zoo.get(name).model
    pairs = data.held_out_pairs[:500]
    greedy = [guess == target for guess, (_, target)
              in zip(translate(model, data, [source for source, _ in pairs]), pairs)]
    assert 0 < sum(greedy)  # some right: the comparison below is not all-wrong against all-wrong
    assert translated_right(model, data, pairs) == greedy


def test_translate_batches_and_keeps_order(small):
    sources = [s for s, _ in small.held_out_pairs]
    expected = [t for _, t in small.held_out_pairs]
    assert translate(LookupModel(small), small, sources, batch_size=7) == expected


def test_accuracy_by_length_groups_by_source_words(small):
    pairs = small.held_out_pairs
    by_length = accuracy_by_length(LookupModel(small), small, pairs)
    assert list(by_length) == sorted({len(s.split()) for s, _ in pairs})
    assert set(by_length.values()) == {1.0}
    assert set(accuracy_by_length(LookupModel(small, wrong=True), small, pairs).values()) == {0.0}


def test_translate_decodes_in_eval_mode_and_restores_the_mode(small):
    model = LookupModel(small).train()
    translate(model, small, [small.held_out_pairs[0][0]])
    assert not model.training_seen and model.training
    model.eval()
    translate(model, small, [small.held_out_pairs[0][0]])
    assert not model.training_seen and not model.training


def test_transformer_attention_map_labels_every_row_and_column(small):
    torch.manual_seed(0)
    model = Seq2SeqTransformer(len(small.source_vocab), len(small.target_vocab), d_model=16,
                               n_heads=2, n_layers=2, d_ff=32, dropout=0.1, max_len=32).train()
    source, _ = small.held_out_pairs[0]
    words, outputs, weights = transformer_attention_map(model, small, source)
    assert words == source.split() + ["<eos>"]
    assert 1 <= len(outputs) <= small.max_target_length()
    assert weights.shape == (2, len(outputs), len(words))  # layers, outputs, words
    assert torch.allclose(weights.sum(dim=-1), torch.ones(2, len(outputs)), atol=1e-6)
    assert model.training  # measured in eval mode (no dropout), then given back its mode
