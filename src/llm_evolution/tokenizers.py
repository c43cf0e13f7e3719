"""Tokenizers: turn text into integer ids a model can read, and back.

Chapter 1 uses the simplest one, a character tokenizer: every distinct character of the
training text gets an id. Chapter 4 adds byte-pair encoding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


# --8<-- [start:char_tokenizer]
class CharTokenizer:
    """One id per character, in sorted order of the characters seen in the training text."""

    def __init__(self, chars: Iterable[str]):
        self.chars = sorted(set(chars))
        if not self.chars or any(len(c) != 1 for c in self.chars):
            raise ValueError("chars must be a non-empty collection of single characters")
        self.char_to_id = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """Build the vocabulary from every character that occurs in ``text``."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.char_to_id[c] for c in text]
        except KeyError as error:
            raise ValueError(
                f"character {error.args[0]!r} is not in the vocabulary of {self.vocab_size} "
                "characters; build the tokenizer from text that contains it"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        for i in ids:
            if not 0 <= int(i) < self.vocab_size:
                raise ValueError(f"id {int(i)} is out of range for vocab_size={self.vocab_size}")
        return "".join(self.chars[int(i)] for i in ids)
# --8<-- [end:char_tokenizer]
