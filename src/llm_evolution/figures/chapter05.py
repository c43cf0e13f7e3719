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
    f"BERT, on the sentence '{ATTENTION_SENTENCE}', as heatmaps: one row per token that "
    "looks, one column per token looked at, brighter for more weight. Left: layer "
    f"{ATTENTION_HEADS[0][0]}, head {ATTENTION_HEADS[0][1]}; right: layer "
    f"{ATTENTION_HEADS[1][0]}, head {ATTENTION_HEADS[1][1]}. The text around the figure "
    "says what each head attends to.",
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


@figure(
    "bert-pretraining",
    alt="Masked-LM pretraining of our tiny BERT on the plays. Left: training and held-out loss "
    "on the hidden tokens against training step, with a dashed line for the held-out loss of "
    "guessing every hidden token from word frequencies alone. Right: how often the hidden "
    "token is the model's first guess on held-out text, against training step, with the same "
    "frequency guesser as a dashed line. The final values are printed above the figure.",
)
def bert_pretraining() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.pretraining import frequency_baseline

    trained = zoo.get("bert-mlm")
    history = trained.history
    baseline_loss, baseline_accuracy = frequency_baseline(trained.recipe.config["vocab_size"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(history.steps, history.train_loss, label="training loss")
    left.plot(history.steps, history.val_loss, label="held-out loss")
    left.axhline(baseline_loss, linestyle="--", color="C2", label="word frequencies only")
    left.set_xlabel("training step")
    left.set_ylabel("cross-entropy on hidden tokens (nats)")
    left.legend(frameon=False)
    right.plot(history.steps, [100 * a for a in history.metrics["top-1 accuracy"]], color="C1",
               label="our BERT, held-out")
    right.axhline(100 * baseline_accuracy, linestyle="--", color="C2",
                  label="word frequencies only")
    right.set_xlabel("training step")
    right.set_ylabel("hidden token guessed first (%)")
    right.legend(frameon=False)
    fig.tight_layout()
    return fig


START_NAMES = {"scratch": "our BERT, from scratch",
               "pretrained": "our BERT, pretrained on the plays",
               "minilm": "MiniLM's vectors (fixed) + linear layer"}


@figure(
    "bert-label-sweep",
    alt="Held-out accuracy at telling comedy from tragedy against the number of labelled "
    "speeches used for training, for three starting points: our tiny BERT from scratch, "
    "the same BERT after our masked-LM pretraining, and the real MiniLM's fixed sentence "
    "vectors under a trained linear layer; one dot per seed, lines through the means, and a "
    "dashed line for always answering the commoner genre. The numbers are in the table "
    "above the figure.",
)
def bert_label_sweep() -> plt.Figure:
    from llm_evolution import zoo
    from llm_evolution.pretraining import LABEL_COUNTS, STARTS, genre_speeches

    metrics = zoo.get("bert-genre").history.metrics
    speeches = genre_speeches()
    test_labels = [speech.label for speech in speeches["test"]]
    majority = max(test_labels.count(0), test_labels.count(1)) / len(test_labels)
    names = [str(n) if n else f"all ({len(speeches['train']):,})" for n in LABEL_COUNTS]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for offset, color, start in zip((-0.08, 0.0, 0.08), ("C0", "C1", "C2"), STARTS):
        runs = [metrics[f"{start} {n or 'all'}"] for n in LABEL_COUNTS]
        means = [100 * sum(r) / len(r) for r in runs]
        ax.plot(range(len(runs)), means, marker="o", color=color, label=START_NAMES[start])
        for x, run in enumerate(runs):
            ax.scatter([x + offset] * len(run), [100 * a for a in run], color=color, s=12,
                       alpha=0.5)
    ax.axhline(100 * majority, linestyle="--", color="C4", label="always the commoner genre")
    ax.set_xticks(range(len(names)), names)
    ax.set_xlabel("labelled speeches for training")
    ax.set_ylabel("held-out accuracy (%)")
    ax.legend(frameon=False, fontsize=9)
    fig.tight_layout()
    return fig
