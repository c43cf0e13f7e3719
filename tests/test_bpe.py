"""Tests for the byte-level BPE of llm_evolution.tokenizers (chapter 4).

The reference is Hugging Face `tokenizers` (Rust), set up as GPT-2's tokenizer: its BpeTrainer
on the same text with the same settings must learn the same merges in the same order, and its
BPE model must give the same ids. Both are trained here on the real corpus.
"""

from __future__ import annotations

import json
import random

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from llm_evolution.data.text import char_corpus
from llm_evolution.tokenizers import (
    BYTE_TO_CHAR,
    END_OF_TEXT,
    ByteLevelBPE,
    initial_vocabulary,
    merge_word,
    pretokenize,
    shakespeare_bpe,
    tokens_per_character,
    train_bpe,
)

from tests.incremental import run_when_changed


@pytest.fixture(scope="module", autouse=True)
def up_to_date(request):
    """Trainings of BPE on the whole corpus and a timing of both trainers: run again only
    when the code they test changes (tests/incremental.py)."""
    yield from run_when_changed(request)


def train_hf(text: str, vocab_size: int, *, min_frequency: int = 0,
             special_tokens: tuple[str, ...] = (END_OF_TEXT,)) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer


def hf_merges(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    # tokenizers writes a merge as ["a", "b"]; older versions wrote "a b"
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]


@pytest.fixture(scope="module")
def corpus():
    return char_corpus()


@pytest.fixture(scope="module")
def ours():
    return shakespeare_bpe()


@pytest.fixture(scope="module")
def hf(corpus, ours):
    return train_hf(corpus.train_text, ours.vocab_size)


# ------------------------------------------------------------------ equality with tokenizers

def test_same_merges_and_vocabulary_as_hugging_face(ours, hf):
    assert len(ours.merges) == 8000 - 257  # every merge made a new token here
    assert ours.merges == hf_merges(hf)
    assert ours.token_to_id == hf.get_vocab()
    assert ours.vocab_size == hf.get_vocab_size() == 8000


def test_same_ids_on_the_whole_held_out_text(corpus, ours, hf):
    ids = ours.encode(corpus.val_text)
    assert ids == hf.encode(corpus.val_text).ids
    assert ours.decode(ids) == hf.decode(ids) == corpus.val_text
    # per word too (the cache must not leak between words)
    words = pretokenize(corpus.val_text[:5000])
    assert [ours.encode(w) for w in words] == [hf.encode(w).ids for w in words]


@pytest.mark.parametrize("vocab_size", [257, 258, 300, 1000, 2500])
def test_first_merges_of_a_long_run_are_the_short_run(corpus, ours, vocab_size):
    """BPE is greedy and sequential, so training to a smaller vocabulary stops the same run
    earlier: the truncated tokenizer equals Hugging Face trained to that size."""
    small = ours.truncated(vocab_size)
    hf_small = train_hf(corpus.train_text, vocab_size)
    assert small.vocab_size == vocab_size
    assert small.merges == hf_merges(hf_small) == ours.merges[:vocab_size - 257]
    text = corpus.val_text[:20000]
    assert small.encode(text) == hf_small.encode(text).ids


def test_min_frequency_stops_training_like_hugging_face(corpus):
    text = corpus.train_text[:200_000]
    ours = ByteLevelBPE.train(text, 30_000, min_frequency=20, special_tokens=[END_OF_TEXT])
    hf = train_hf(text, 30_000, min_frequency=20)
    assert 257 < ours.vocab_size < 30_000  # stopped by min_frequency, not by the size
    assert ours.merges == hf_merges(hf)


def test_ties_are_broken_by_smallest_ids_like_hugging_face():
    """Every pair occurs once in 'dc ba': the first merge is the pair whose token ids are
    smallest. Byte characters have ids in code-point order ('a' < ... < 'd' < 'Ġ'), so (b, a)
    comes first although (d, c) appears first in the text; a merged token's id is the next
    free one, so ('Ġ', 'ba') comes last."""
    merges = train_bpe("dc ba", 260)
    assert merges == [("b", "a"), ("d", "c"), ("Ġ", "ba")]
    assert merges == hf_merges(train_hf("dc ba", 260, special_tokens=()))
    # with many ties on a real snippet too, including merged tokens tied with bytes
    text = "the cat sat on the mat; a bat hit the hat! 12 34 1234 \n\n  x"
    assert train_bpe(text, 300) == hf_merges(train_hf(text, 300, special_tokens=()))


# ------------------------------------------------------------------------------ round trip

EDGE_CASES = [
    "", " ", "\n", "言語モデル 🤖", "言語モデルは次の単語を予測する。",
    "\x00\x01\x1f\x7f\x80\x9f", "\r\n\t\x0b\x0c", "  leading and trailing  ",
    "e\u0301 \u00e9", "👩‍👩‍👧 🇯🇵 🏳️‍🌈", "\ufeffBOM", "\U0010ffff\U000e0001",
    "'s'll'd 've're", "a" * 1000, "Ελληνικά русский العربية हिन्दी 한국어", END_OF_TEXT,
    f"one{END_OF_TEXT}two{END_OF_TEXT}{END_OF_TEXT}", "<|endoftext", "\u2028\u2029\u3000\xa0",
]


def random_strings(count: int, seed: int = 0) -> list[str]:
    """Random strings mixing ASCII, whitespace, other scripts, emoji and any code point."""
    rng = random.Random(seed)
    pools = [(0x20, 0x7E), (0x00, 0x20), (0x80, 0x2FF), (0x370, 0x52F), (0x3040, 0x30FF),
             (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x1F300, 0x1FAFF), (0x0, 0xD7FF),
             (0xE000, 0x10FFFF)]  # every range avoids the surrogates, which are not text
    strings = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randrange(0, 30)):
            low, high = rng.choice(pools)
            chars.append(chr(rng.randint(low, high)))
        strings.append("".join(chars))
    return strings


@pytest.mark.parametrize("text", EDGE_CASES)
def test_round_trip_edge_cases(ours, hf, text):
    ids = ours.encode(text)
    assert ours.decode(ids) == text
    assert ids == hf.encode(text).ids


def test_round_trip_random_strings(ours, hf):
    for text in random_strings(500):
        ids = ours.encode(text)
        assert ours.decode(ids) == text, repr(text)
        assert "".join(pretokenize(text)) == text, repr(text)
        assert ids == hf.encode(text).ids, repr(text)


def test_ids_cut_inside_a_character_decode_to_replacement_character(ours, hf):
    ids = ours.encode("言")  # three bytes and no merge for them: three tokens
    assert [ours.token_bytes[i] for i in ids] == [b"\xe8", b"\xa8", b"\x80"]
    assert ours.decode(ids[:2]) == hf.decode(ids[:2]) == "\ufffd"


def test_special_token_is_one_id(ours):
    assert ours.encode(END_OF_TEXT) == [0]
    assert ours.decode([0]) == END_OF_TEXT
    assert ours.encode("<|endoftext") == ours.encode("<|") + ours.encode("endoftext")


# ----------------------------------------------------------------------------- the pieces

def test_byte_alphabet_matches_gpt2():
    assert sorted(BYTE_TO_CHAR) == list(range(256))
    assert set(BYTE_TO_CHAR.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert all(char.isprintable() and not char.isspace() for char in BYTE_TO_CHAR.values())
    # GPT-2's vocabulary writes a space as 'Ġ' (U+0120) and a newline as 'Ċ' (U+010A)
    assert BYTE_TO_CHAR[ord(" ")] == "Ġ" and BYTE_TO_CHAR[ord("\n")] == "Ċ"
    assert BYTE_TO_CHAR[ord("a")] == "a"


def test_pretokenize_matches_hugging_face_split():
    text = "Hello  world!\n\n  ok I'll 2024 言語モデル 🤖 x's"
    hf_words = [word for word, _ in pre_tokenizers.ByteLevel(
        add_prefix_space=False, use_regex=True).pre_tokenize_str(text)]
    ours = ["".join(BYTE_TO_CHAR[b] for b in word.encode()) for word in pretokenize(text)]
    assert ours == hf_words


def test_merge_word_by_hand():
    # 'hello' with h=0 e=1 l=2 o=3; merging l,l into 4 (the example of tokenizers' word.rs)
    assert merge_word([0, 1, 2, 2, 3], (2, 2), 4) == (
        [0, 1, 4, 3], [((1, 2), -1), ((1, 4), 1), ((2, 3), -1), ((4, 3), 1)])
    # 'aaaa' merges left to right into two 'aa', never into 'a aa a'
    merged, changes = merge_word([0, 0, 0, 0], (0, 0), 9)
    assert merged == [9, 9]
    net: dict = {}
    for pair, sign in changes:
        net[pair] = net.get(pair, 0) + sign
    assert {pair: n for pair, n in net.items() if n} == {(0, 0): -1, (9, 9): 1}


def test_initial_vocabulary_puts_special_tokens_first():
    tokens = initial_vocabulary([END_OF_TEXT])
    assert len(tokens) == 257 and tokens[0] == END_OF_TEXT
    assert tokens[1:] == sorted(tokens[1:])


def test_tokens_per_character_falls_with_vocabulary_size(corpus, ours):
    sizes = [257, 500, 2000, 8000]
    cost = tokens_per_character(ours, corpus.val_text, sizes)
    assert cost[257] == 1.0  # the corpus is ASCII: one byte, one token per character
    assert all(cost[a] > cost[b] for a, b in zip(sizes, sizes[1:]))
    one_per_word = len(pretokenize(corpus.val_text)) / len(corpus.val_text)
    assert one_per_word < cost[8000] < 1.2 * one_per_word


def test_japanese_costs_about_three_tokens_per_character(ours):
    """Shakespeare taught no merges for Japanese, and kana and kanji are 3 bytes in UTF-8."""
    text = "言語モデルは次の単語を予測する。"
    assert len(ours.encode(text)) == len(text.encode()) == 3 * len(text)
    english = "A language model predicts the next word."
    assert len(ours.encode(english)) < 0.5 * len(english)


@pytest.mark.serial  # a timing: run alone
def test_training_speed_claims(ours):
    """The page's claims: splitting and counting words is faster in ours (the `regex` module
    is C, and tokenizers splits one long string on one thread), while learning the merges is
    slower in Python than in Rust (about three times on a quiet machine: a wide margin).
    Checked on the measurement the page prints (snippets/04-tokenization/main.py:speed makes
    the same call): measured once on this machine, alone, by whichever of the two comes first."""
    from llm_evolution.timing import bpe_training_seconds

    seconds = bpe_training_seconds((257, ours.vocab_size))
    (ours_count, hf_count), (ours_total, hf_total) = seconds[257], seconds[ours.vocab_size]
    hint = "stored measurement: if the machine was busy, measure again: LLM_EVOLUTION_REMEASURE=1"
    assert ours_count < hf_count, (seconds, hint)
    assert ours_total - ours_count > hf_total - hf_count, (seconds, hint)


# ---------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("vocab_size", [0, 100, 256])
def test_vocab_size_too_small_raises(vocab_size):
    with pytest.raises(ValueError, match=rf"vocab_size={vocab_size} is smaller .* use "
                                         r"vocab_size >= 257"):
        train_bpe("some text", vocab_size, special_tokens=[END_OF_TEXT])


@pytest.mark.parametrize("bad_id", [8000, 123456, -1])
def test_decode_out_of_range_id_raises_naming_it(ours, bad_id):
    with pytest.raises(ValueError, match=rf"id {bad_id} is out of range for vocab_size=8000"):
        ours.decode([1, bad_id])


@pytest.mark.parametrize("vocab_size", [256, 8001])
def test_truncated_out_of_range_raises(ours, vocab_size):
    with pytest.raises(ValueError, match=rf"vocab_size={vocab_size} must be between"):
        ours.truncated(vocab_size)


def test_lone_surrogate_raises(ours):
    with pytest.raises(ValueError, match="lone surrogate"):
        ours.encode("ok \ud800 no")


def test_merges_out_of_order_raise():
    with pytest.raises(ValueError, match=r"merge 0 \('ab', 'c'\) uses a token"):
        ByteLevelBPE([("ab", "c"), ("a", "b")])


def test_empty_special_token_raises():
    with pytest.raises(ValueError, match="special_tokens contains an empty string"):
        ByteLevelBPE([], special_tokens=[""])


def test_tokens_per_character_of_empty_text_raises(ours):
    with pytest.raises(ValueError, match="text is empty"):
        tokens_per_character(ours, "", [300])
