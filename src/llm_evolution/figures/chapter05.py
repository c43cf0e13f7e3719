"""Figures of chapter 5 (BERT): attention maps of the real pretrained MiniLM."""

from __future__ import annotations

import matplotlib.pyplot as plt

from llm_evolution.figures import figure

ATTENTION_SENTENCE = "The keys to the cabinet are on the table."
# (layer, head), counted from 1 as on the page: a previous-token head and a next-token head.
ATTENTION_HEADS = [(1, 3), (2, 9)]


@figure(
    "bert-attention-map",
    alt="Attention weights of two heads of the pretrained all-MiniLM-L6-v2, loaded into our "
    "BERT, on the sentence 'The keys to the cabinet are on the table.' (one row per token "
    "that looks, one column per token looked at). Left, layer 1 head 3: a sharp line just "
    "below the diagonal, every token puts almost all its weight on the token before it. "
    "Right, layer 2 head 9: most tokens look mainly at the token after them, while the nouns "
    "(keys, cabinet, table) and the [CLS] and [SEP] markers look mostly at [CLS]. Nobody programmed these patterns: they were learned from "
    "unlabeled text.",
)
def bert_attention_map() -> plt.Figure:
    from llm_evolution.embeddings import attention_maps
    from llm_evolution.interop.hf import bert_from_hf, load_minilm

    hf_model, tokenizer = load_minilm()
    tokens, weights = attention_maps(bert_from_hf(hf_model), tokenizer, ATTENTION_SENTENCE)
    fig, axes = plt.subplots(1, len(ATTENTION_HEADS), figsize=(10, 4.8))
    for ax, (layer, head) in zip(axes, ATTENTION_HEADS):
        image = ax.imshow(weights[layer - 1, head - 1].numpy(), cmap="viridis", vmin=0,
                          vmax=1)
        ax.set_xticks(range(len(tokens)), tokens, rotation=70, ha="right", fontsize=8)
        ax.set_yticks(range(len(tokens)), tokens, fontsize=8)
        ax.set_title(f"layer {layer}, head {head}", fontsize=10)
        ax.set_xlabel("token looked at")
        ax.grid(False)
    axes[0].set_ylabel("token looking")
    colorbar = fig.colorbar(image, ax=list(axes), fraction=0.025, pad=0.02)
    colorbar.set_label("attention weight")
    colorbar.outline.set_visible(False)
    return fig
