"""The rater (chapter 11): a program that stands in for InstructGPT's human labelers.

People compared a model's answers and said which was better; a reward model learned their
judgement. Hiring people is not something a test suite can do, so a program judges here,
with stated rules: an answer is good when it is right, short, and ends cleanly. Knowing the
rules, we can see what a reward model learns and what it misses, and score the final models
by the rules themselves, not by a learned stand-in for them.

Labels carry noise on purpose, as people's do: InstructGPT's training labelers agreed with
each other on 72.6% of comparisons (Ouyang et al., 2022, arXiv:2203.02155, section 3.4).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# --8<-- [start:rater]
CORRECT, ENDS, PER_EXTRA_WORD = 1.0, 0.5, 0.1  # what the rater values
LABEL_NOISE = 0.1  # the share of labels written the wrong way round


@dataclass(frozen=True)
class Judgement:
    correct: bool  # the right response appears in the answer, word for word
    ends: bool  # the answer ended with <|end|> before the length limit
    extra_words: int  # words beyond the right response's

    @property
    def score(self) -> float:
        return CORRECT * self.correct + ENDS * self.ends - PER_EXTRA_WORD * self.extra_words


def judge(answer: str, ends: bool, response: str) -> Judgement:
    """How the rater sees ``answer`` to a task whose right response is ``response``."""
    words, right = answer.split(), response.split()
    correct = any(words[i : i + len(right)] == right for i in range(len(words) - len(right) + 1))
    return Judgement(correct, ends, max(0, len(words) - len(right)))


def prefer(first: Judgement, second: Judgement) -> int:
    """1 if the rater prefers the first answer, -1 the second, 0 if it has no preference."""
    return (first.score > second.score) - (first.score < second.score)
# --8<-- [end:rater]


def noisy(preference: int, rng: random.Random, noise: float = LABEL_NOISE) -> int:
    """``preference`` as a noisy labeler writes it: flipped with probability ``noise``."""
    if not 0 <= noise < 0.5:
        raise ValueError(f"noise={noise} must be in [0, 0.5): at 0.5 labels say nothing")
    return -preference if rng.random() < noise else preference
