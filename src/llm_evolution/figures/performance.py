"""Figure of the Performance page: the committed benchmark results, drawn from the JSON the
page prints (``docs/reference/bench.json``), never measured again at build time."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.figures import figure


@figure(
    "benchmark",
    alt="Two bar charts of the committed benchmark run, in tokens per second on the machine "
    "named on the page. Left: training, our GPT against transformers' GPT2LMHeadModel of the "
    "same shape and weights; ours processes more tokens per second. Right: greedy generation "
    "of 256 tokens with batch 1: our GPT with its key-value cache, without it, and "
    "transformers' generate. With the cache ours is the fastest; without it, re-reading the "
    "whole text at every step makes it the slowest.",
)
def benchmark() -> plt.Figure:
    from llm_evolution.bench import load_results

    rows = load_results()["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.4),
                                      gridspec_kw={"width_ratios": [2, 3]})
    bars = [("train_ours", "ours", "C0"), ("train_hf", "transformers", "C1")]
    left.bar([label for _, label, _ in bars],
             [rows[key]["tokens_per_second"] for key, _, _ in bars],
             color=[color for _, _, color in bars])
    left.set_title("training step", fontsize=10)
    left.set_ylabel("tokens per second")
    bars = [("generate_cached", "ours, KV cache", "C0"),
            ("generate_uncached", "ours, no cache", "C2"),
            ("generate_hf", "transformers", "C1")]
    right.bar([label for _, label, _ in bars],
              [rows[key]["tokens_per_second"] for key, _, _ in bars],
              color=[color for _, _, color in bars])
    right.set_title("greedy generation, batch 1", fontsize=10)
    right.set_ylabel("new tokens per second")
    for ax in (left, right):
        ax.grid(axis="x", visible=False)
    fig.tight_layout()
    return fig
