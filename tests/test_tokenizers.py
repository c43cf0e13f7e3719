"""Tests for llm_evolution.tokenizers.CharTokenizer."""

from __future__ import annotations

import pytest

from llm_evolution.tokenizers import CharTokenizer

TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler...\n"


def test_vocab_is_the_sorted_set_of_characters():
    tokenizer = CharTokenizer.from_text(TEXT)
    expected = sorted(set(TEXT))
    assert tokenizer.chars == expected
    assert tokenizer.vocab_size == len(expected)
    # ids follow sorted order: a character with a smaller code point gets a smaller id
    assert tokenizer.encode("\n")[0] == 0  # "\n" is the smallest code point in TEXT
    assert tokenizer.encode("u")[0] == tokenizer.vocab_size - 1  # and "u" the largest
    assert tokenizer.char_to_id == {c: i for i, c in enumerate(expected)}


def test_vocab_does_not_depend_on_character_order():
    assert CharTokenizer("cab").chars == CharTokenizer("abcabc").chars == ["a", "b", "c"]


def test_encode_decode_round_trip():
    tokenizer = CharTokenizer.from_text(TEXT)
    for text in [TEXT, "to be", "", "\n", "eeee"]:
        ids = tokenizer.encode(text)
        assert len(ids) == len(text)
        assert all(isinstance(i, int) and 0 <= i < tokenizer.vocab_size for i in ids)
        assert tokenizer.decode(ids) == text


def test_encode_by_hand():
    tokenizer = CharTokenizer("cab")  # a=0, b=1, c=2
    assert tokenizer.encode("abcab") == [0, 1, 2, 0, 1]
    assert tokenizer.decode([2, 2, 0]) == "cca"


def test_decode_accepts_tensors_of_ids():
    torch = pytest.importorskip("torch")
    tokenizer = CharTokenizer("cab")
    assert tokenizer.decode(torch.tensor([1, 0, 2])) == "bac"


def test_unknown_character_raises_value_error_naming_it():
    tokenizer = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"character 'z' is not in the vocabulary"):
        tokenizer.encode("abz")


@pytest.mark.parametrize("bad_id", [3, 100, -1])
def test_out_of_range_id_raises_value_error(bad_id):
    tokenizer = CharTokenizer("abc")
    with pytest.raises(ValueError, match=rf"id {bad_id} is out of range for vocab_size=3"):
        tokenizer.decode([0, bad_id])


@pytest.mark.parametrize("chars", ["", [], ["ab", "c"]])
def test_bad_vocabulary_raises_value_error(chars):
    with pytest.raises(ValueError, match="chars"):
        CharTokenizer(chars)
