# %% [markdown]
# # Chapter 4: Tokenization
#
# Byte-level byte-pair encoding (BPE), GPT-2's tokenizer, written from scratch and trained on
# Shakespeare; then checked against Hugging Face `tokenizers` trained on the same text with the
# same settings: the same merges, in the same order, and the same ids for the held-out text.

# %%
# --8<-- [start:words]
from llm_evolution.data.text import char_corpus
from llm_evolution.tokenizers import pretokenize

corpus = char_corpus()
print(pretokenize("ROMEO.\nO, she doth teach the torches to burn bright!"))

train_words = pretokenize(corpus.train_text)
held_out_words = pretokenize(corpus.val_text)
known = set(train_words)
unseen = [word for word in held_out_words if word not in known]
print(f"training text: {len(corpus.train_text):,} characters, {len(train_words):,} words, "
      f"{len(known):,} distinct")
print(f"held-out text: {len(corpus.val_text):,} characters, {len(held_out_words):,} words")
print(f"held-out words never seen in training: {len(unseen):,} "
      f"({len(unseen) / len(held_out_words):.1%})")
print(sorted({word for word in unseen if word.strip().isalpha()})[::100])
# --8<-- [end:words]

# %% [markdown]
# ## Bytes as the alphabet
#
# Every string is a sequence of UTF-8 bytes, and there are only 256 byte values. GPT-2 writes
# each byte as a printable character, so that tokens stay readable strings.

# %%
# --8<-- [start:bytes]
from llm_evolution.tokenizers import BYTE_TO_CHAR, to_byte_chars, utf8

for text in ["to be", "言語モデル 🤖"]:
    data = utf8(text)
    print(f"{text!r}: {len(text)} characters, {len(data)} bytes: {data.hex(' ')}")
    print(f"    as byte characters: {to_byte_chars(text)}")
print(f"space -> {BYTE_TO_CHAR[ord(' ')]!r}, newline -> {BYTE_TO_CHAR[ord(chr(10))]!r}")
# --8<-- [end:bytes]

# %% [markdown]
# ## Learning merges
#
# Start from bytes, count adjacent pairs in the training words, merge the most frequent pair
# into a new token, and repeat until the vocabulary has the size we asked for.

# %%
# --8<-- [start:merge_by_hand]
from llm_evolution.tokenizers import merge_word

h, e, l, o, ll = 0, 1, 2, 3, 4  # token ids of a tiny vocabulary
print(merge_word([h, e, l, l, o], (l, l), ll))
# --8<-- [end:merge_by_hand]

# %%
# --8<-- [start:train]
from llm_evolution.tokenizers import END_OF_TEXT, shakespeare_bpe

bpe = shakespeare_bpe()  # trains in about a second: ByteLevelBPE.train(...) on the corpus
print(f"vocabulary: {bpe.vocab_size:,} tokens = {len(bpe.special_tokens)} special "
      f"+ 256 bytes + {len(bpe.merges):,} merges")
print("first merges:", ["".join(merge) for merge in bpe.merges[:12]])
print("last merges: ", ["".join(merge) for merge in bpe.merges[-6:]])
for token in sorted(bpe.tokens[257:], key=lambda token: (-len(token), token))[:5]:
    print(f"{len(token):2} bytes: {bpe.decode([bpe.token_to_id[token]])!r}")
# --8<-- [end:train]

# %% [markdown]
# ## Encoding and decoding
#
# A word is encoded from its bytes by applying the learned merges, earliest learned first.

# %%
# --8<-- [start:encode]
line = "To be, or not to be, that is the question."
ids = bpe.encode(line)
print(ids)
print([bpe.decode([i]) for i in ids])
print(bpe.decode(ids) == line, f"{len(line)} characters -> {len(ids)} tokens")
print(bpe.encode(f"The end.{END_OF_TEXT}"))
# --8<-- [end:encode]

# %% [markdown]
# Any string encodes: a Japanese sentence falls apart into its bytes, since Shakespeare taught
# the tokenizer no merges for them.

# %%
# --8<-- [start:japanese]
for text in ["言語モデル 🤖", "言語モデルは次の単語を予測する。",
             "A language model predicts the next word."]:
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text  # the round trip is exact
    print(f"{text!r}: {len(text)} characters -> {len(ids)} tokens "
          f"({len(ids) / len(text):.2f} per character)")
print([bpe.token_bytes[i] for i in bpe.encode("言語")])  # one token per byte
print(repr(bpe.decode(bpe.encode("言語")[:2])))  # two of the three bytes of 言: not a character
# --8<-- [end:japanese]

# %% [markdown]
# ## The same as Hugging Face tokenizers
#
# Train the Rust library's BPE on the same text with the same settings and compare.

# %%
# --8<-- [start:hf_train]
import json

from tokenizers import Tokenizer

from llm_evolution.tokenizers import train_hf_bpe


def hf_merges(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    return [tuple(merge) for merge in json.loads(tokenizer.to_str())["model"]["merges"]]


hf = train_hf_bpe(corpus.train_text, bpe.vocab_size)
same = sum(ours == theirs for ours, theirs in zip(bpe.merges, hf_merges(hf)))
print(f"merges identical: {same:,} of {len(bpe.merges):,} (Hugging Face learned "
      f"{len(hf_merges(hf)):,})")
print("vocabularies identical:", hf.get_vocab() == bpe.token_to_id)
ids = bpe.encode(corpus.val_text)
print(f"held-out ids identical: {ids == hf.encode(corpus.val_text).ids}, {len(ids):,} tokens")
# --8<-- [end:hf_train]

# %% [markdown]
# One training run serves every smaller vocabulary: merges are learned one at a time, so the
# first merges of a long run are exactly what a shorter run learns.

# %%
# --8<-- [start:nested]
small = bpe.truncated(1000)
hf_small = train_hf_bpe(corpus.train_text, 1000)
print(f"first {len(small.merges)} merges = Hugging Face trained to 1,000 tokens:",
      small.merges == hf_merges(hf_small))
# --8<-- [end:nested]

# %% [markdown]
# ## Vocabulary size and sequence length

# %%
# --8<-- [start:sweep]
from llm_evolution.vocabulary_sweep import tokens_per_character_sweep

sweep = tokens_per_character_sweep()  # sizes 257 to 8,000; the figure below draws it
per_char, on_training_text = sweep["held-out text"], sweep["training text"]
print("vocabulary  tokens/char  chars/token  held-out tokens  tokens/char (training text)")
for size, cost in per_char.items():
    print(f"{size:10,}  {cost:11.3f}  {1 / cost:11.2f}  {round(cost * len(corpus.val_text)):15,}"
          f"  {on_training_text[size]:27.3f}")
print(f"one token per word would give {len(held_out_words) / len(corpus.val_text):.3f} "
      "tokens per character")
# --8<-- [end:sweep]

# %% [markdown]
# The other side of the trade-off: a model keeps one vector per token, in its input embedding
# table; GPT-2, like chapter 6's GPT, uses the same matrix for the output layer that scores
# every possible next token (the two are tied), so each row is counted once.

# %%
# --8<-- [start:embedding]
width = 768  # the width of the smallest GPT-2: every token id selects a row of 768 numbers
print("tokenizer     vocabulary   embedding parameters   held-out tokens")
for name, size, tokens in [("characters", corpus.tokenizer.vocab_size, len(corpus.val_text)),
                           ("our BPE", bpe.vocab_size, len(bpe.encode(corpus.val_text))),
                           ("GPT-2's BPE", 50_257, None)]:
    shown = f"{tokens:,}" if tokens else "-"
    print(f"{name:12} {size:11,} {size * width:22,} {shown:>17}")
# --8<-- [end:embedding]

# %% [markdown]
# ## Training speed
#
# Our pure-Python trainer against the Rust one, on the same text. Training to
# `vocab_size=257` learns no merge: it times splitting and counting the words alone.

# %%
# --8<-- [start:speed]
from llm_evolution.timing import bpe_training_seconds

tasks = {257: "split and count words", bpe.vocab_size: "whole training"}
print("                        vocabulary    ours     tokenizers   ours / tokenizers")
for size, (ours, theirs) in bpe_training_seconds(tuple(tasks)).items():
    print(f"{tasks[size]:22} {size:10,} {ours:8.2f} s {theirs:8.2f} s {ours / theirs:12.1f}x")
# --8<-- [end:speed]
