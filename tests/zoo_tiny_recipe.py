"""Tiny recipes registered on import, for tests that call the zoo from other processes.

``tests/test_cache.py`` starts fresh Pythons that import this module and ask for its models.
Each fit sleeps ``$ZOO_TEST_FIT_SLEEP`` seconds (so that two processes overlap) and then
appends a line to the file named by ``$ZOO_TEST_FIT_LOG``: the recipe, the process id and when
the fit started and ended (so a test can count trainings across processes and see which ran
side by side). ``TUNED`` starts from ``NAME``'s trained model, as a fine-tuning does. Do not
import this module in the test process itself: it registers for good.
"""

from __future__ import annotations

import os
import time

import torch

from llm_evolution import zoo
from llm_evolution.models.bigram import NeuralBigram
from llm_evolution.training import History, random_windows, train

NAME = "test-cache-tiny-bigram"


def build(config: dict) -> NeuralBigram:
    return NeuralBigram(config["vocab"])


def fit(model: NeuralBigram, config: dict, seed: int) -> History:
    start = time.time()
    if config.get("starts_from"):
        model.load_state_dict(zoo.get(config["starts_from"]).model.state_dict())
    time.sleep(float(os.environ.get("ZOO_TEST_FIT_SLEEP", "0")))
    ids = torch.arange(60) % config["vocab"]
    history = train(model, random_windows(ids, 6, 4), steps=config["steps"], eval_every=2,
                    lr=0.1, seed=seed, progress=False)
    log = os.environ.get("ZOO_TEST_FIT_LOG")
    if log:
        with open(log, "a") as file:
            file.write(f"{config['name']} {os.getpid()} {start} {time.time()}\n")
    return history


RECIPE = zoo.register(zoo.Recipe(name=NAME, build=build, fit=fit,
                                 config={"name": NAME, "vocab": 5, "steps": 4}, seed=1,
                                 data_fingerprint=lambda: "synthetic-v1"))
OTHER = "test-cache-tiny-bigram-other"
zoo.register(zoo.Recipe(name=OTHER, build=build, fit=fit,
                        config={"name": OTHER, "vocab": 5, "steps": 4}, seed=2,
                        data_fingerprint=lambda: "synthetic-v1"))
TUNED = "test-cache-tiny-bigram-tuned"
zoo.register(zoo.Recipe(name=TUNED, build=build, fit=fit,
                        config={"name": TUNED, "vocab": 5, "steps": 4, "starts_from": NAME},
                        seed=1, data_fingerprint=lambda: "synthetic-v1", needs=(NAME,)))
