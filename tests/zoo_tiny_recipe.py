"""A tiny recipe registered on import, for tests that call the zoo from other processes.

``tests/test_cache.py`` starts fresh Pythons that import this module and ask for its model.
Its fit appends a line to the file named by ``$ZOO_TEST_FIT_LOG`` (so a test can count how
many times it trained, across processes) and sleeps ``$ZOO_TEST_FIT_SLEEP`` seconds (so that
two processes overlap). Do not import it in the test process itself: it registers for good.
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
    log = os.environ.get("ZOO_TEST_FIT_LOG")
    if log:
        with open(log, "a") as file:
            file.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("ZOO_TEST_FIT_SLEEP", "0")))
    ids = torch.arange(60) % config["vocab"]
    return train(model, random_windows(ids, 6, 4), steps=config["steps"], eval_every=2,
                 lr=0.1, seed=seed, progress=False)


RECIPE = zoo.register(zoo.Recipe(name=NAME, build=build, fit=fit,
                                 config={"vocab": 5, "steps": 4}, seed=1,
                                 data_fingerprint=lambda: "synthetic-v1"))
