"""Chapter 10's measurements, shared by its page and its figures: how well each tuned model
follows instructions, on what it was and was not taught (:func:`generalization_table`), and
what continued pretraining on a second domain gains and costs (:func:`domain_table`).

Kept apart from the training code (:mod:`llm_evolution.instruction_tuning`,
:mod:`llm_evolution.domain_adaptation`) so that changing a measurement does not retrain the
models it measures. Each table is measured once per machine and set of trained models.
"""

from __future__ import annotations

from llm_evolution.domain_adaptation import held_out_bits
from llm_evolution.instruction_tuning import (
    accuracy_by,
    chat_tokenizer,
    exact_match,
    with_chat_tokens,
)
from llm_evolution.measurements import measured
from llm_evolution.models.gpt import GPT

# The models chapter 10 compares: name on the page -> recipe ("gpt-bpe" gets the chat tokens,
# untrained, so that it reads the same prompts).
MODELS = {"pretrained": "gpt-bpe", "1 cluster": "instruct-1-clusters",
          "2 clusters": "instruct-2-clusters", "3 clusters": "instruct-gpt",
          "3 clusters, LoRA": "instruct-lora"}
TRAINED_CLUSTERS = ("words", "numbers", "plays")  # the 3-cluster model's; "format" held out
COLUMNS = ("words", "numbers", "plays", "new phrasing", "new composition", "format (new cluster)")


def chapter_model(name: str) -> GPT:
    """One of :data:`MODELS` by its page name, from the model cache."""
    from llm_evolution import zoo
    from llm_evolution.data.chat import CHAT_TOKENS

    model = zoo.get(MODELS[name]).model
    return with_chat_tokens(model, len(CHAT_TOKENS)).eval() if name == "pretrained" else model


# --8<-- [start:generalization_table]
def generalization_table() -> dict[str, dict[str, float]]:
    """Exact-match accuracy of every model of :data:`MODELS` on the same held-out examples:
    per cluster of the 3-cluster model with training phrasings, then the words tasks'
    held-out phrasings (every tuned model trained on words), the held-out two-step tasks and
    the cluster no model trained on. ``{model: {column: accuracy}}``."""
    from llm_evolution import zoo

    keys = tuple(zoo.find(recipe).key() for recipe in MODELS.values())
    return _generalization_table(keys)


@measured  # a few seconds of evaluation: once per machine and set of trained models
def _generalization_table(model_keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    from llm_evolution.data.instructions import evaluation_examples

    examples = evaluation_examples(TRAINED_CLUSTERS)
    table = {}
    for name in MODELS:
        right = exact_match(chapter_model(name), examples, chat_tokenizer())
        seen = [(e, ok) for e, ok in zip(examples, right) if e.kind == "seen"]
        row = accuracy_by([e for e, _ in seen], [ok for _, ok in seen], "cluster")
        # Held-out phrasings of the words tasks: the cluster every tuned model trained on.
        kinds = accuracy_by([e for e in examples if e.cluster == "words"],
                            [ok for e, ok in zip(examples, right) if e.cluster == "words"], "kind")
        row["new phrasing"] = kinds["new_phrasing"]
        row["new composition"] = kinds["new_composition"]
        row["format (new cluster)"] = accuracy_by(examples, right, "kind")["new_cluster"]
        table[name] = {column: round(row[column], 4) for column in COLUMNS}
    return table
# --8<-- [end:generalization_table]


def format_table(table: dict[str, dict[str, float]]) -> str:
    """The generalization table as text, in percent, each column as wide as its name."""
    names = [column.split(" (")[0] for column in COLUMNS]
    width = max(map(len, table)) + 1
    lines = [f"{'model':{width}}" + "".join(f"{name:>{len(name) + 2}}" for name in names)]
    for model, row in table.items():
        lines.append(f"{model:{width}}" + "".join(
            f"{100 * row[column]:{len(name) + 1}.1f}%" for column, name in zip(COLUMNS, names)))
    return "\n".join(lines)


# --8<-- [start:domain_table]
DOMAIN_MODELS = {"pretrained (plays)": "gpt-bpe", "+ numpy docs": "numpy-docs",
                 "+ numpy docs, replay": "numpy-docs-replay"}


def domain_table() -> dict[str, dict[str, float]]:
    """Held-out bits per character on both domains for the pretrained model and its two
    continuations: ``{model: {"plays": bits, "numpy docs": bits}}``."""
    from llm_evolution import zoo

    return _domain_table(tuple(zoo.find(recipe).key() for recipe in DOMAIN_MODELS.values()))


@measured  # seconds of evaluation over both held-out texts: once per machine and models
def _domain_table(model_keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    from llm_evolution import zoo

    return {name: {domain: round(bits, 4) for domain, bits in
                   held_out_bits(zoo.get(recipe).model).items()}
            for name, recipe in DOMAIN_MODELS.items()}
# --8<-- [end:domain_table]
