"""Figures of chapter 6: the GPTs' learning curves in bits per character, how temperature
reshapes a next-character distribution, and the speed-up of a key-value cache.

They draw what :mod:`llm_evolution.generation` measures (:func:`temperature_probabilities`,
:func:`kv_cache_seconds`), the functions the page runs, so the page and the figures show the
same computation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import matplotlib.pyplot as plt
import torch

from llm_evolution.figures import figure
from llm_evolution.generation import (
    TEMPERATURE_PROMPT,
    TEMPERATURES,
    kv_cache_seconds,
    temperature_probabilities,
)


@figure(
    "gpt-loss-curves",
    alt="Held-out loss in bits per character against training steps for two identical small "
    "GPTs, one reading characters and one reading byte-pair tokens, with a dashed line for "
    "chapter 1's neural bigram. Each trained model's bits per character on the whole held-out "
    "text are printed above the figure.",
)
def gpt_loss_curves() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.data.text import bpe_corpus, char_corpus
    from llm_evolution.training import perplexity

    corpus = char_corpus()
    # The loss per token times tokens per character of the held-out text, in bits.
    per_char = {"gpt-char": 1.0, "gpt-bpe": len(bpe_corpus().val_ids) / len(corpus.val_text)}
    labels = {"gpt-char": "GPT on characters", "gpt-bpe": "GPT on BPE tokens (1,024)"}
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for name, color in zip(per_char, ["C0", "C1"]):
        history = zoo.get(name).history
        ax.plot(history.steps, [loss * per_char[name] / math.log(2)
                                for loss in history.val_loss], color=color, label=labels[name])
    bigram = math.log2(perplexity(zoo.get("neural-bigram").model, corpus.val_ids))
    ax.axhline(bigram, linestyle="--", color="C2", label="neural bigram (chapter 1)")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out bits per character")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


@figure(
    "temperature",
    alt="Bar chart of the trained character GPT's probabilities for the letter after "
    f"{TEMPERATURE_PROMPT.replace(chr(10), ' ')!r}, for the ten likeliest letters, at "
    f"temperatures {', '.join(f'{t:g}' for t in TEMPERATURES)}. A temperature below 1 "
    "sharpens the distribution towards the likeliest letter and one above 1 flattens it: "
    "temperature trades safety for variety.",
)
def temperature() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.data.text import char_corpus

    tokenizer = char_corpus().tokenizer
    model = zoo.get("gpt-char").model
    prompt = torch.tensor([tokenizer.encode(TEMPERATURE_PROMPT)])
    probs = temperature_probabilities(model, prompt)
    shown = torch.topk(probs[1.0], 10).indices.tolist()
    labels = [repr(tokenizer.decode([i]))[1:-1].replace(" ", "␣") for i in shown]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.27
    for k, (t, color) in enumerate(zip(TEMPERATURES, ["C0", "C1", "C2"])):
        ax.bar([i + (k - 1) * width for i in range(len(shown))], probs[t][shown].tolist(),
               width, color=color, label=f"T = {t:g}")
    ax.set_xticks(range(len(shown)), labels)
    ax.set_xlabel("next character (the ten likeliest at T = 1)")
    ax.set_ylabel("probability")
    ax.legend(frameon=False)
    ax.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig


@lru_cache(maxsize=1)
def _kv_measurements() -> dict[int, tuple[float, float]]:
    """Measured once per process, so that the light and dark figures show the same times."""
    return kv_cache_seconds()


@figure(
    "kv-cache-speedup",
    alt="Seconds to generate 64, 256 and 512 tokens with a small GPT, without and with a "
    "key-value cache, measured on the machine that built the site; times vary by machine. "
    "Without the cache every step re-reads the whole sequence so far; with it, each step "
    "reads only the newest token and reuses the keys and values of the earlier ones.",
)
def kv_cache_speedup() -> plt.Figure:
    seconds = _kv_measurements()
    lengths = list(seconds)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    width = 0.38
    for offset, index, label, color in [(-width / 2, 0, "without cache", "C1"),
                                        (width / 2, 1, "with KV cache", "C0")]:
        ax.bar([i + offset for i in range(len(lengths))],
               [seconds[n][index] for n in lengths], width, color=color, label=label)
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths])
    ax.set_xlabel("new tokens generated (after a 16-token prompt)")
    ax.set_ylabel("seconds")
    ax.legend(frameon=False)
    ax.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig
