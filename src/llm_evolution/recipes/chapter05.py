"""Chapter 5's trained models: a tiny BERT pretrained as a masked LM on the corpus, and the
few-label fine-tuning experiment that compares it with training from scratch.

The fine-tuning recipe reads the pretrained model from the zoo, and its cache key includes the
pretrained model's key, so retraining the masked LM reruns the experiment.
"""

from __future__ import annotations

import hashlib
import inspect
import time

import torch

from llm_evolution import pretraining, zoo
from llm_evolution.data.text import corpus_fingerprint
from llm_evolution.models.bert import BertConfig, BertForMaskedLM, BertForSequenceClassification
from llm_evolution.pretraining import (
    GENRES,
    bert_tokenizer,
    copy_encoder,
    encode_speeches,
    encoded_corpus,
    fine_tune,
    genre_speeches,
    label_sweep,
    masked_accuracy,
    mlm_batches,
    row_batches,
)
from llm_evolution.training import History, train
from llm_evolution.zoo import Recipe, register

ACCURACY_BATCHES = 20  # held-out batches scored at every evaluation (the same ones each time)


def data_and_code_fingerprint() -> str:
    """The corpus, and the masking, batching and experiment code of
    :mod:`llm_evolution.pretraining`: the models must retrain when either changes."""
    code = hashlib.sha256(inspect.getsource(pretraining).encode()).hexdigest()
    return corpus_fingerprint() + code


# --8<-- [start:mlm_recipe]
def tiny_bert_config(config: dict) -> BertConfig:
    return BertConfig(vocab_size=bert_tokenizer(config["vocab_size"]).vocab_size,
                      max_position=config["length"], d_model=config["d_model"],
                      n_heads=config["n_heads"], n_layers=config["n_layers"],
                      d_ff=config["d_ff"], dropout=config["dropout"])


def build_bert_mlm(config: dict) -> BertForMaskedLM:
    return BertForMaskedLM(tiny_bert_config(config))


def fit_bert_mlm(model: BertForMaskedLM, config: dict, seed: int) -> History:
    train_ids, val_ids = encoded_corpus(config["vocab_size"])

    def batches(ids: torch.Tensor):
        return mlm_batches(ids, config["length"], config["batch_size"], model.config.vocab_size)

    # Held-out batches masked once, scored at every evaluation: how often the hidden token is
    # the model's first guess, or among its first five.
    generator = torch.Generator().manual_seed(seed + 2)
    scored = [batches(val_ids)(generator) for _ in range(ACCURACY_BATCHES)]
    return train(
        model,
        batches(train_ids),
        val_batch=batches(val_ids),
        steps=config["steps"],
        lr=config["lr"],
        warmup_steps=config["warmup_steps"],
        lr_decay=True,
        eval_every=config["eval_every"],
        seed=seed,
        desc=config["name"],
        eval_metrics=lambda model: {f"top-{k} accuracy": accuracy for k, accuracy
                                    in masked_accuracy(model, scored, ks=(1, 5)).items()},
    )


BERT_MLM = Recipe(
    name="bert-mlm",
    build=build_bert_mlm,
    fit=fit_bert_mlm,
    config={"name": "bert-mlm", "vocab_size": 2000, "length": 32, "batch_size": 32,
            "steps": 4000, "lr": 2e-3, "warmup_steps": 250, "eval_every": 250,
            "d_model": 64, "n_heads": 4, "n_layers": 2, "d_ff": 256, "dropout": 0.0},
    seed=0,
    data_fingerprint=data_and_code_fingerprint,
    description="Chapter 5: a tiny BERT pretrained with masked words on the plays.",
)
# --8<-- [end:mlm_recipe]
register(BERT_MLM)


# --8<-- [start:genre_recipe]
def build_genre_classifier(config: dict) -> BertForSequenceClassification:
    return BertForSequenceClassification(tiny_bert_config(BERT_MLM.config), len(GENRES),
                                         pooling=config["pooling"])


def fit_genre_classifier(model: BertForSequenceClassification, config: dict,
                         seed: int) -> History:
    """The stored model: the pretrained BERT fine-tuned on every labelled speech. Its history
    also holds the whole experiment: held-out accuracy per label count, start and seed."""
    encoder = zoo.get("bert-mlm").model.bert
    copy_encoder(model, encoder)
    ids, mask, labels = encode_speeches(genre_speeches()["train"],
                                        bert_tokenizer(config["vocab_size"]), config["length"])
    start = time.perf_counter()
    history = fine_tune(model, row_batches((ids, mask), labels, config["batch_size"]), config,
                        seed, lr=config["lr"])
    history.metrics.update(label_sweep(encoder, config, seeds=tuple(config["seeds"]),
                                       whole_minilm_counts=tuple(config["whole_minilm_counts"])))
    history.seconds = time.perf_counter() - start  # the whole experiment, not one run
    return history


GENRE_CLASSIFIER = Recipe(
    name="bert-genre",
    build=build_genre_classifier,
    fit=fit_genre_classifier,
    config={"name": "bert-genre", "vocab_size": BERT_MLM.config["vocab_size"],
            "length": BERT_MLM.config["length"], "pooling": "mean", "batch_size": 16,
            "steps": 40, "lr": 3e-4, "probe_lr": 1e-2, "warmup_steps": 4, "seeds": [0, 1],
            # MiniLM trained whole, at the smallest label count only: a run of it costs close to a
            # minute on one core, about twenty times a run of our tiny BERT.
            "whole_minilm_lr": 5e-5, "whole_minilm_counts": [50]},
    seed=0,
    # The experiment starts from the pretrained model: a new one means a new experiment.
    data_fingerprint=lambda: data_and_code_fingerprint() + zoo.find("bert-mlm").key(),
    needs=("bert-mlm",),
    description="Chapter 5: comedy or tragedy? Fine-tuned from the pretrained BERT, and the "
    "few-label experiment against training from scratch and the real MiniLM.",
)
# --8<-- [end:genre_recipe]
register(GENRE_CLASSIFIER)
