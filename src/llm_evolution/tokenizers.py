"""Tokenizers: turn text into integer ids a model can read, and back.

Chapter 1 uses the simplest one, a character tokenizer: every distinct character of the
training text gets an id. Chapter 4 adds byte-level byte-pair encoding (BPE), GPT-2's
tokenizer, written from scratch: its trainer learns the same merges, in the same order, as
Hugging Face ``tokenizers``' BpeTrainer, which tests/test_bpe.py checks on the whole corpus.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import regex  # the `regex` package: unlike `re`, it knows \p{L} ("any letter")


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


# ---------------------------------------------------------------- byte-level BPE (chapter 4)


# --8<-- [start:byte_level]
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from the 256 byte values to 256 printable characters.

    Bytes that are already visible characters ('!' to '~', and most of Latin-1) map to
    themselves; the rest (space, newline, control bytes...) are shifted to code points from
    256 up, so that a space becomes 'Ġ' and a newline 'Ċ'. Every token is then a printable
    string, which keeps vocabulary and merge files readable.
    """
    visible = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
               *range(ord("®"), ord("ÿ") + 1)]
    byte_to_char = {byte: chr(byte) for byte in visible}
    shifted = 0
    for byte in range(256):
        if byte not in byte_to_char:
            byte_to_char[byte] = chr(256 + shifted)
            shifted += 1
    return byte_to_char


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {char: byte for byte, char in BYTE_TO_CHAR.items()}


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 bytes, with a clear error for strings that are not valid Unicode."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"text contains {text[error.start:error.end]!r} at position {error.start}, a lone "
            "surrogate that is not valid Unicode; fix the text (e.g. decode it with "
            "errors='replace')") from None


def to_byte_chars(piece: str) -> str:
    """The UTF-8 bytes of ``piece``, each written as its printable character."""
    return "".join(BYTE_TO_CHAR[byte] for byte in utf8(piece))
# --8<-- [end:byte_level]


# --8<-- [start:pretokenize]
# GPT-2's pre-tokenizer: split text into words before BPE, so that no token spans two words.
# A word keeps the space before it (" the"), letters, digits and punctuation never share a
# word, and common English contractions ('s, 't, 'll...) are split off.
GPT2_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def pretokenize(text: str) -> list[str]:
    """The words of ``text`` (GPT-2's split); joined together they give ``text`` back."""
    return GPT2_SPLIT.findall(text)
# --8<-- [end:pretokenize]


# --8<-- [start:initial_vocabulary]
def initial_vocabulary(special_tokens: Sequence[str] = ()) -> list[str]:
    """Special tokens first, then the 256 byte characters sorted by code point: the ids
    Hugging Face's trainer gives them (its tie-breaking between merges depends on these ids)."""
    tokens: list[str] = []
    for token in [*special_tokens, *sorted(BYTE_TO_CHAR.values())]:
        if token not in tokens:
            tokens.append(token)
    return tokens
# --8<-- [end:initial_vocabulary]


# --8<-- [start:merge_word]
Pair = tuple[int, int]


def merge_word(word: list[int], pair: Pair,
               new_id: int) -> tuple[list[int], list[tuple[Pair, int]]]:
    """Replace each occurrence of ``pair`` in ``word`` (token ids), left to right, by
    ``new_id``. Also return how the counts of the neighbouring pairs change: merging 'l','l'
    in 'h e l l o' removes ('e','l') and ('l','o') and creates ('e','ll') and ('ll','o')."""
    left, right = pair
    merged: list[int] = []
    changes: list[tuple[Pair, int]] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == left and word[i + 1] == right:
            if merged:  # a token before the pair (possibly the result of the last merge)
                changes += [((merged[-1], left), -1), ((merged[-1], new_id), +1)]
            if i + 2 < len(word):  # a token after the pair
                changes += [((right, word[i + 2]), -1), ((new_id, word[i + 2]), +1)]
            merged.append(new_id)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged, changes
# --8<-- [end:merge_word]


# --8<-- [start:train_bpe]
def train_bpe(text: str, vocab_size: int, *, min_frequency: int = 0,
              special_tokens: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Learn byte-level BPE merges on ``text`` until the vocabulary has ``vocab_size`` tokens
    (special tokens and the 256 bytes included), or no pair occurs ``min_frequency`` times.

    Returns the merges in the order they were learned, as pairs of token strings.
    """
    tokens = initial_vocabulary(special_tokens)
    if vocab_size < len(tokens):
        raise ValueError(
            f"vocab_size={vocab_size} is smaller than the {len(tokens)} tokens every byte-level "
            f"vocabulary starts with (256 bytes + {len(tokens) - 256} special tokens); "
            f"use vocab_size >= {len(tokens)}")
    token_id = {token: i for i, token in enumerate(tokens)}

    # 1. Count each distinct word once; a word is a list of token ids, one per byte at first.
    word_counts = Counter(pretokenize(text))
    words = [[token_id[char] for char in to_byte_chars(word)] for word in word_counts]
    counts = list(word_counts.values())

    # 2. Count every pair of adjacent tokens, weighted by word count, and note which words
    #    hold it: a merge then only needs to visit those words.
    pair_counts: dict[Pair, int] = defaultdict(int)
    words_with: dict[Pair, set[int]] = defaultdict(set)
    for w, word in enumerate(words):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += counts[w]
            words_with[pair].add(w)

    # 3. A heap of (-count, pair): the most frequent pair on top and, among equal counts, the
    #    pair with the smallest ids (Hugging Face's rule). Counts only fall for pairs already
    #    in the heap, so an entry whose count is out of date is refreshed when it surfaces.
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(tokens) < vocab_size and heap:
        negative_count, pair = heapq.heappop(heap)
        count = pair_counts[pair]
        if -negative_count != count:
            heapq.heappush(heap, (-count, pair))
            continue
        if count < 1 or count < min_frequency:
            break
        new_token = tokens[pair[0]] + tokens[pair[1]]
        if new_token not in token_id:  # were two merges to spell one string: one id, as in HF
            token_id[new_token] = len(tokens)
            tokens.append(new_token)
        merges.append((tokens[pair[0]], tokens[pair[1]]))

        # 4. Merge the pair in every word that holds it; update the neighbouring pairs' counts.
        #    (The merged pair's own count is left as it is: it never enters the heap again.)
        created: dict[Pair, set[int]] = defaultdict(set)
        for w in words_with[pair]:
            words[w], changes = merge_word(words[w], pair, token_id[new_token])
            for changed, sign in changes:
                pair_counts[changed] += sign * counts[w]
                if sign > 0:
                    created[changed].add(w)
        for new_pair, where in created.items():
            words_with[new_pair] |= where
            if pair_counts[new_pair] > 0:
                heapq.heappush(heap, (-pair_counts[new_pair], new_pair))
    return merges
# --8<-- [end:train_bpe]


# --8<-- [start:byte_level_bpe]
class ByteLevelBPE:
    """A byte-level BPE tokenizer (GPT-2's kind), defined by its merges in training order.

    Ids: the special tokens, then the 256 bytes, then one token per merge. Any string can be
    encoded: it is UTF-8 bytes first, and every byte has a token.
    """

    def __init__(self, merges: Sequence[tuple[str, str]], special_tokens: Sequence[str] = ()):
        self.special_tokens = list(dict.fromkeys(special_tokens))
        if "" in self.special_tokens:
            raise ValueError("special_tokens contains an empty string; give each one some text")
        self.merges = [(left, right) for left, right in merges]
        self.tokens = initial_vocabulary(self.special_tokens)
        self.token_to_id = {token: i for i, token in enumerate(self.tokens)}
        # (left id, right id) -> (rank, id of the merged token): a lower rank merges first.
        self.ranks: dict[Pair, tuple[int, int]] = {}
        for rank, (left, right) in enumerate(self.merges):
            if left not in self.token_to_id or right not in self.token_to_id:
                raise ValueError(f"merge {rank} ({left!r}, {right!r}) uses a token that no "
                                 "earlier merge created; merges must be in training order")
            if left + right not in self.token_to_id:
                self.token_to_id[left + right] = len(self.tokens)
                self.tokens.append(left + right)
            self.ranks.setdefault((self.token_to_id[left], self.token_to_id[right]),
                                  (rank, self.token_to_id[left + right]))
        self.byte_ids = [self.token_to_id[BYTE_TO_CHAR[byte]] for byte in range(256)]
        self.token_bytes = [token.encode() if token in self.special_tokens
                            else bytes(CHAR_TO_BYTE[char] for char in token)
                            for token in self.tokens]
        self.cache: dict[str, list[int]] = {}  # word -> ids: text repeats its words a lot
        # Splits text around the special tokens, keeping them; the longest one wins.
        self.special_split = regex.compile("(" + "|".join(
            regex.escape(token) for token in sorted(self.special_tokens, key=len, reverse=True)
        ) + ")") if self.special_tokens else None

    @classmethod
    def train(cls, text: str, vocab_size: int, *, min_frequency: int = 0,
              special_tokens: Sequence[str] = ()) -> "ByteLevelBPE":
        """Learn merges on ``text`` with :func:`train_bpe`."""
        merges = train_bpe(text, vocab_size, min_frequency=min_frequency,
                           special_tokens=special_tokens)
        return cls(merges, special_tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def truncated(self, vocab_size: int) -> "ByteLevelBPE":
        """The tokenizer that training with this smaller ``vocab_size`` gives: merges are
        learned one after another, so it keeps the merges made before the vocabulary reached
        that size."""
        if not len(initial_vocabulary(self.special_tokens)) <= vocab_size <= self.vocab_size:
            raise ValueError(f"vocab_size={vocab_size} must be between the initial vocabulary "
                             f"({len(initial_vocabulary(self.special_tokens))} tokens) and this "
                             f"tokenizer's {self.vocab_size}")
        seen = set(initial_vocabulary(self.special_tokens))
        kept = 0
        while len(seen) < vocab_size:
            seen.add("".join(self.merges[kept]))
            kept += 1
        return ByteLevelBPE(self.merges[:kept], self.special_tokens)

    def encode_word(self, word: str) -> list[int]:
        """Token ids of one pre-tokenized word: start from its bytes and apply the learned
        merges, always the one learned earliest (lowest rank) among the pairs present."""
        if word in self.cache:
            return self.cache[word]
        ids = [self.byte_ids[byte] for byte in utf8(word)]
        while len(ids) > 1:
            ranked = [(self.ranks[pair][0], pair) for pair in zip(ids, ids[1:])
                      if pair in self.ranks]
            if not ranked:
                break
            _, pair = min(ranked)
            ids, _ = merge_word(ids, pair, self.ranks[pair][1])
        self.cache[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``: special tokens are matched first, the rest is split into
        words and each word encoded on its own."""
        ids: list[int] = []
        pieces = self.special_split.split(text) if self.special_split else [text]
        for piece in pieces:
            if piece in self.special_tokens:
                ids.append(self.token_to_id[piece])
            else:
                for word in pretokenize(piece):
                    ids += self.encode_word(word)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ``ids``. Ids that end in the middle of a character's bytes decode to
        the replacement character '�', as in Hugging Face's decoder."""
        data = bytearray()
        for i in ids:
            if not 0 <= int(i) < self.vocab_size:
                raise ValueError(f"id {int(i)} is out of range for vocab_size={self.vocab_size}")
            data += self.token_bytes[int(i)]
        return data.decode("utf-8", errors="replace")

# --8<-- [end:byte_level_bpe]


# --8<-- [start:shakespeare_bpe]
END_OF_TEXT = "<|endoftext|>"  # GPT-2's one special token: it marks where a document ends
SHAKESPEARE_VOCAB_SIZE = 8000


@lru_cache(maxsize=1)
def shakespeare_bpe() -> ByteLevelBPE:
    """Chapter 4's tokenizer: byte-level BPE trained on the corpus' training text, 8,000
    tokens (GPT-2 has 50,257). Under a second to train, so it is not cached on disk."""
    from llm_evolution.data.text import char_corpus  # imported here: that module imports this one

    return ByteLevelBPE.train(char_corpus().train_text, SHAKESPEARE_VOCAB_SIZE,
                              special_tokens=[END_OF_TEXT])
# --8<-- [end:shakespeare_bpe]


# --8<-- [start:tokens_per_character]
def tokens_per_character(tokenizer: ByteLevelBPE, text: str,
                         vocab_sizes: Sequence[int]) -> dict[int, float]:
    """How many tokens each character of ``text`` costs, for the tokenizer cut down to each
    of ``vocab_sizes`` (one training run serves them all: see :meth:`ByteLevelBPE.truncated`)."""
    if not text:
        raise ValueError("text is empty: tokens per character needs at least one character")
    return {size: len(tokenizer.truncated(size).encode(text)) / len(text) for size in vocab_sizes}
# --8<-- [end:tokens_per_character]


# --8<-- [start:train_hf_bpe]
def train_hf_bpe(text: str, vocab_size: int) -> "tokenizers.Tokenizer":  # noqa: F821
    """Hugging Face's byte-level BPE (the Rust ``tokenizers`` library), set up like GPT-2's
    and like ours: the same word split, all 256 bytes in the base vocabulary,
    ``<|endoftext|>`` as the one special token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[END_OF_TEXT], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # all 256 bytes, seen or not
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer
# --8<-- [end:train_hf_bpe]
