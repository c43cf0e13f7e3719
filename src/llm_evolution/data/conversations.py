"""Conversations for supervised fine-tuning (chapter 11), and the prompts alignment uses.

InstructGPT's first step trains on answers people wrote; ChatGPT's demonstrations were
conversations in which people played both the user and the assistant (OpenAI, 2022). Ours
are written by this module, offline and seeded, in the chat template of
:mod:`llm_evolution.data.chat`: a task of chapter 10 (:mod:`llm_evolution.data.instructions`),
sometimes after a greeting and before a thank-you.

Like demonstrations by many people, the answers come in several styles: the bare answer, or
the same answer after a few words ("Sure!", "The answer is:"). Fine-tuning on them teaches
the model all three. Which one people prefer is not in the demonstrations; it is what the
preferences of chapter 11 add.
"""

from __future__ import annotations

import random

from llm_evolution.data.chat import Turn
from llm_evolution.data.instructions import Example, training_examples

ASSISTANT_CLUSTERS = ("words", "numbers", "plays")  # what chapter 10's model was tuned on

# --8<-- [start:styles]
# How a demonstration writes the answer X, and how often (of 4).
STYLES = {"bare": "{answer}", "sure": " Sure!{answer}", "answer is": " The answer is:{answer}"}
STYLE_WEIGHTS = {"bare": 2, "sure": 1, "answer is": 1}
# --8<-- [end:styles]

# --8<-- [start:small_talk]
GREETINGS = ("Hello!", "Hi.", "Good morning.", "Hello there.")
GREETING_REPLY = " Hello! Ask me about words, numbers or plays."
THANKS = ("Thank you.", "Thanks!", "Thank you very much.", "Great, thanks.")
THANKS_REPLY = " You are welcome."
# --8<-- [end:small_talk]


def styled_reply(example: Example, style: str) -> str:
    """The assistant's answer to ``example`` in ``style`` (a key of :data:`STYLES`)."""
    if style not in STYLES:
        raise ValueError(f"style={style!r} is not one of {sorted(STYLES)}")
    return STYLES[style].format(answer=example.reply())


# --8<-- [start:conversations]
def conversations(n: int, seed: int = 1) -> list[list[Turn]]:
    """``n`` conversations: a task with its answer in a random style, after a greeting in a
    third of them and before a thank-you in another third. The tasks are chapter 10's, on new
    draws of inputs from the training text (``seed`` 1; chapter 10 tuned on seed 0's)."""
    rng = random.Random(seed)
    styles = [style for style, weight in STYLE_WEIGHTS.items() for _ in range(weight)]
    result = []
    for example in training_examples(ASSISTANT_CLUSTERS, n, seed=seed):
        turns: list[Turn] = [("user", example.prompt()),
                             ("assistant", styled_reply(example, rng.choice(styles)))]
        shape = rng.randrange(3)
        if shape == 1:
            turns = [("user", rng.choice(GREETINGS)), ("assistant", GREETING_REPLY), *turns]
        elif shape == 2:
            turns += [("user", rng.choice(THANKS)), ("assistant", THANKS_REPLY)]
        result.append(turns)
    return result
# --8<-- [end:conversations]


def preference_examples(n: int, seed: int = 2) -> list[Example]:
    """``n`` tasks on new draws of inputs from the training text (``seed`` 2; chapter 10 and
    the conversations used seeds 0 and 1): the prompts the preferences and PPO use."""
    return training_examples(ASSISTANT_CLUSTERS, n, seed=seed)
