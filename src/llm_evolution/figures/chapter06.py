"""Figures of chapter 6: the decoder-only stack and the key-value cache step by step
(diagrams), the GPTs' learning curves in bits per character, how temperature reshapes a
next-character distribution, and the speed-up of a key-value cache.

The plots draw what :mod:`llm_evolution.generation` measures (:func:`temperature_probabilities`,
:func:`kv_cache_seconds`), the functions the page runs, so the page and the figures show the
same computation. The stack diagram reads its sizes from the recipe the chapter trains.
"""

from __future__ import annotations

import math
from functools import lru_cache

import matplotlib.pyplot as plt
import torch

from llm_evolution.figures import diagram, figure
from llm_evolution.figures.diagrams import (
    arrow,
    attention_lines,
    canvas,
    frame,
    layer_block,
    step_badge,
    token_box,
    vector_bar,
)
from llm_evolution.generation import (
    TEMPERATURE_PROMPT,
    TEMPERATURES,
    kv_cache_seconds,
    temperature_probabilities,
)


# ---------------------------------------------------------------- concept diagrams

# The diagrams' example text, the start of a name in the corpus, one character per token:
# the stack reads the first four and predicts the fifth, the cache diagrams read four.
EXAMPLE = "JULIE"
KV_TOKENS = EXAMPLE[:4]
# How much the new query attends to each key so far (illustrative weights, not computed).
KV_WEIGHTS = ([1.0], [0.35, 0.65], [0.2, 0.5, 0.3], [0.15, 0.2, 0.4, 0.25])


def _mlp_width(d_model: int, n_heads: int) -> int:
    """The hidden width of a block's MLP, read from the model code: the MLP is built on the
    meta device, which allocates no memory and draws no random numbers."""
    from llm_evolution.models.gpt import MLP, GPTConfig

    with torch.device("meta"):
        return MLP(GPTConfig(d_model=d_model, n_heads=n_heads)).up.out_features


def _residual_add(ax, x: float, y: float) -> None:
    """A residual sum on the stream: a small token box holding '+'."""
    token_box(ax, x, y, "+", width=0.45, height=0.45, mono=False)


@diagram(
    "gpt-decoder-stack",
    alt="The decoder-only GPT of this chapter in GPT-2's layout, read from the bottom up: "
    "characters become vectors (token plus position embedding) that rise along a residual "
    "stream through a block repeated n_layers times. In each block a layer norm feeds causal "
    "self-attention, whose output is added back to the stream, then a second layer norm feeds "
    "an MLP with GELU, added back too; the layer norms, which GPT-2 moved in front of each "
    "part, are highlighted. A final layer norm and a linear head that reuses the token "
    "embedding's weights (a dashed arrow) give a softmax over the next token.",
)
def gpt_decoder_stack() -> plt.Figure:
    from llm_evolution.recipes.chapter06 import GPT_CHAR

    size = GPT_CHAR.config  # gpt-bpe has the same sizes; only the vocabulary differs
    d_model, n_heads = size["d_model"], size["n_heads"]
    hidden = _mlp_width(d_model, n_heads)
    fig, ax = canvas(10.0, 9.9)
    sx = 3.0  # the residual stream runs up this line

    # In: characters, then one vector of d_model numbers per position.
    for i, char in enumerate(EXAMPLE[:-1]):
        token_box(ax, sx - 1.2 + 0.8 * i, 0.45, char, width=0.7, height=0.5)
    ax.text(sx + 1.75, 0.45, f"up to {size['context_size']} tokens of context", ha="left",
            va="center", fontsize=9)
    arrow(ax, (sx, 0.72), (sx, 1.15))
    layer_block(ax, sx, 1.5, 3.0, 0.7, "token + position\nembedding")
    arrow(ax, (sx, 1.85), (sx, 2.13))
    vector_bar(ax, sx, 2.25, [0.7, 0.2, 0.9, 0.4, 0.1, 0.6, 0.3, 0.8])
    ax.text(sx + 1.05, 2.25, f"d_model = {d_model}", ha="left", va="center", fontsize=9)

    # One pre-LN block: layer norm -> sub-layer -> add back, twice; repeated n_layers times.
    sublayers = [f"causal self-attention\n{n_heads} heads",
                 f"MLP, GELU\n{d_model} → {hidden} → {d_model}"]
    below = 2.37  # where the stream's next arrow starts
    for y, label in zip([3.2, 5.0], sublayers):
        arrow(ax, (sx, y), (3.95, y))  # branch off the stream
        layer_block(ax, 4.7, y, 1.5, 0.5, "layer norm", "highlight")
        arrow(ax, (5.45, y), (6.1, y))
        layer_block(ax, 7.55, y, 2.9, 0.75, label)
        add = y + 0.9
        arrow(ax, (sx, below), (sx, add - 0.225))
        arrow(ax, (7.55, y + 0.375), (sx + 0.225, add), curve=0.2)  # back onto the stream
        _residual_add(ax, sx, add)
        below = add + 0.225
    ax.text(sx - 0.45, 4.55, "residual stream", ha="center", va="center", rotation=90,
            fontsize=9)
    # The frame's label goes inside, on the right: above it, the stream would cross it.
    frame(ax, 2.2, 2.65, 7.55, 3.75)
    ax.text(9.6, 6.15, f"block × {size['n_layers']} (n_layers)", ha="right", va="center",
            fontsize=9)

    # Out: final layer norm, the tied head, a softmax over the vocabulary, the next token.
    arrow(ax, (sx, below), (sx, 6.75))
    layer_block(ax, sx, 7.0, 3.0, 0.5, "final layer norm", "highlight")
    arrow(ax, (sx, 7.25), (sx, 7.6))
    layer_block(ax, sx, 7.9, 3.0, 0.6, "linear head")
    arrow(ax, (1.5, 1.5), (1.5, 7.9), curve=-0.28, dashed=True)  # the head is the embedding
    ax.text(0.3, 4.7, "same weights", ha="center", va="center", rotation=90, fontsize=9)
    arrow(ax, (sx, 8.2), (sx, 8.56))
    vector_bar(ax, sx, 8.67, [0.1, 0.2, 0.05, 0.95, 0.3, 0.1, 0.15, 0.05], "output")
    ax.text(sx + 1.05, 8.67, "softmax over the vocabulary", ha="left", va="center",
            fontsize=9)
    arrow(ax, (sx, 8.78), (sx, 9.2))
    token_box(ax, sx, 9.45, EXAMPLE[-1], "output", width=0.7, height=0.5)
    ax.text(sx + 0.55, 9.45, "next token", ha="left", va="center", fontsize=9)
    return fig


def _shading(seed: int, faded: bool) -> list[float]:
    """Shading of a drawn key or value: fixed, varied-looking numbers, pale if ``faded``."""
    values = [((seed * 5 + i * 3) % 7) / 6 for i in range(4)]
    return [0.25 * v for v in values] if faded else [0.35 + 0.65 * v for v in values]


def _kv_cache_step(step: int) -> plt.Figure:
    """Step ``step`` of generation with a key-value cache: the new token's query, key and value
    are computed (full colour), the earlier keys and values come from the cache (faded), and
    the new query attends to every key in the cache."""
    fig, ax = canvas(9.0, 4.9)
    columns = [2.3 + 1.55 * i for i in range(len(KV_TOKENS))]
    new = step - 1  # the index of the new token
    reused = (f"reuse {new} cached key{'s' if new > 1 else ''} and value{'s' if new > 1 else ''}"
              if new else "the cache starts empty")
    step_badge(ax, 0.4, 4.5, step)
    ax.text(0.8, 4.5, f"token {KV_TOKENS[new]!r}: compute q, k, v; {reused}", ha="left",
            va="center", fontsize=10)
    for y, label in [(3.35, "query"), (2.0, "keys"), (1.5, "values")]:
        ax.text(0.25, y, label, ha="left", va="center", fontsize=9, style="italic")
    frame(ax, 0.1, 1.15, columns[-1] + 0.75 - 0.1, 1.2, "KV cache")
    for i, (x, char) in enumerate(zip(columns[:step], KV_TOKENS)):
        vector_bar(ax, x, 2.0, _shading(i, faded=i < new), "key")
        vector_bar(ax, x, 1.5, _shading(i + 3, faded=i < new), "value")
        token_box(ax, x, 0.5, char, "highlight" if i == new else None, width=0.8, height=0.55)
    x = columns[new]
    arrow(ax, (x, 0.78), (x, 1.38), "highlight")  # computed from the new token
    vector_bar(ax, x, 3.35, _shading(new + 1, faded=False), "query")
    attention_lines(ax, [(c, 2.2) for c in columns[:step]], [(x, 3.17)], [KV_WEIGHTS[new]])
    return fig


def _register_kv_cache_step(step: int) -> None:
    """Register step ``step`` of the key-value cache as the diagram ``kv-cache-step-<step>``."""

    def draw() -> plt.Figure:
        return _kv_cache_step(step)

    draw.__qualname__ = draw.__name__ = f"kv_cache_step_{step}"
    earlier = ("There is nothing cached yet." if step == 1 else
               f"The keys and values of the {step - 1} earlier tokens are drawn faded inside "
               "a dashed frame, the cache: they are reused, not computed again.")
    diagram(
        f"kv-cache-step-{step}",
        alt=f"Step {step} of generating with a key-value cache. Only the new token, "
        f"{KV_TOKENS[step - 1]!r}, has its query, key and value computed, drawn in full "
        f"colour. {earlier} Lines from the new query to every key in the cache show it "
        "attending to all the tokens so far, the thicker the line the larger the "
        "(illustrative) weight.",
    )(draw)


for _step in range(1, len(KV_TOKENS) + 1):
    _register_kv_cache_step(_step)


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
