"""Chapter 4's sweep of vocabulary sizes, computed once per machine: the page prints it and the
figure draws it, so both show the same encoding runs (a figure only draws)."""

from __future__ import annotations

from llm_evolution.measurements import measured

# The 257 tokens every vocabulary starts with (256 bytes and one special token) up to the full
# 8,000 of the chapter's tokenizer.
SWEEP_SIZES = (257, 300, 500, 1000, 2000, 4000, 8000)


# --8<-- [start:tokens_per_character_sweep]
@measured  # encoding a million characters seven times: once per machine, then read back
def tokens_per_character_sweep(sizes: tuple[int, ...] = SWEEP_SIZES) -> dict[str, object]:
    """Tokens per character of chapter 4's tokenizer cut down to each of ``sizes``, on the
    held-out text and on the training text its merges were learned from, and what one token
    per word would cost on the held-out text."""
    from llm_evolution.data.text import char_corpus
    from llm_evolution.tokenizers import pretokenize, shakespeare_bpe, tokens_per_character

    corpus, bpe = char_corpus(), shakespeare_bpe()
    return {"held-out text": tokens_per_character(bpe, corpus.val_text, sizes),
            "training text": tokens_per_character(bpe, corpus.train_text, sizes),
            "one token per word": len(pretokenize(corpus.val_text)) / len(corpus.val_text)}
# --8<-- [end:tokens_per_character_sweep]
