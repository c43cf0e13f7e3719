"""Tasks written as text (chapter 10): an instruction, an input, a response.

T5 cast every task as text in, text out (Raffel et al., 2019); FLAN wrote many data sets as
instructions, several phrasings each, grouped them into clusters of similar tasks, and tuned a
model on some clusters to test it on clusters it never saw (Wei et al., 2021). This module
does the same at toy scale, offline and seeded: four clusters of tasks on lines of the plays
and on chapter 2's numbers in words, each task with four phrasings of its instruction, one of
which training never shows, and two-step tasks ("Reverse the words. Then give the first
word.") some of which training never shows either.

Inputs come from the plays' training text for training and from their held-out ends (the
last tenth of each play, which pretraining never read either) for evaluation; numbers are
split the same way, a seeded fifth of 0 to 99 held out.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from llm_evolution.data.shakespeare import PLAYS, corpus_plays, train_val_split
from llm_evolution.data.synthetic import number_to_words


# --8<-- [start:example]
@dataclass(frozen=True)
class Example:
    """One task instance as text. ``kind`` says what an evaluation holds out: ``"seen"`` (a
    trained task and phrasing, on a new input), ``"new_phrasing"``, ``"new_composition"`` or
    ``"new_cluster"``."""

    cluster: str
    task: str
    instruction: str
    input: str
    response: str
    kind: str = "seen"

    def prompt(self) -> str:
        """What the user says: the instruction, then the input on its own line."""
        return f"{self.instruction}\n {self.input}"

    def reply(self) -> str:
        """What the assistant says: the response."""
        return f" {self.response}"
    # Input and reply start with a space: a byte-pair token includes the space before its
    # word (chapter 4), so " heart" is one token where "heart" is two. With the space, a word
    # is the same tokens in the input and in the reply, and copying it is copying tokens.
# --8<-- [end:example]


# --8<-- [start:tasks]
@dataclass(frozen=True)
class Task:
    """A task: its cluster, its instructions (the last one is held out from training), what
    its input is (``"words"``, ``"line"``, ``"number"`` or ``"digits"``) and the function from
    input (and where it comes from: its play and genre) to response."""

    name: str
    cluster: str
    phrasings: tuple[str, ...]
    reads: str
    solve: Callable[[str, dict], str]


def _words(text: str) -> list[str]:
    return text.split()


TASKS = (
    # Picking words out of a line.
    Task("first_word", "words", ("What is the first word?", "Give the first word.",
         "Which word comes first?", "Tell me the first word."), "words",
         lambda s, source: _words(s)[0]),
    Task("last_word", "words", ("What is the last word?", "Give the last word.",
         "Which word comes last?", "Tell me the last word."), "words",
         lambda s, source: _words(s)[-1]),
    Task("reverse_words", "words", ("Reverse the words.", "Say the words backwards.",
         "Write the words in reverse order.", "Tell me the words backwards."), "words",
         lambda s, source: " ".join(reversed(_words(s)))),
    # Numbers, as chapter 2 writes them.
    Task("to_digits", "numbers", ("Write the number in digits.", "Give this number as digits.",
         "What is this number in digits?", "Tell me the number in digits."), "number",
         lambda s, source: str(_number_from_words(s))),
    Task("to_words", "numbers", ("Write the number in words.", "Spell out this number.",
         "What is this number in words?", "Tell me the number in words."), "digits",
         lambda s, source: number_to_words(int(s))),
    Task("count_words", "numbers", ("How many words are there?", "Count the words.",
         "Give the number of words.", "Tell me how many words there are."), "words",
         lambda s, source: str(len(_words(s)))),
    # Knowing the plays.
    Task("which_play", "plays", ("Which play is this line from?", "Name the play.",
         "What play does this come from?", "Tell me which play this is from."), "line",
         lambda s, source: source["play"]),
    Task("genre", "plays", ("Is this from a comedy or a tragedy?", "Comedy or tragedy?",
         "Give the kind of play: comedy or tragedy.", "Tell me if it is a comedy or a tragedy."),
         "line", lambda s, source: source["genre"]),
    # Writing a line out in another form.
    Task("repeat", "format", ("Repeat the words.", "Say it again.", "Copy the words.",
         "Tell me the words again."), "words", lambda s, source: s),
    Task("commas", "format", ("Separate the words with commas.", "Put commas between the words.",
         "List the words with commas.", "Tell me the words with commas."), "words",
         lambda s, source: ", ".join(_words(s))),
    Task("quote", "format", ("Put the words in quotes.", "Quote the words.",
         "Wrap the words in quotation marks.", "Tell me the words in quotes."), "words",
         lambda s, source: f'"{s}"'),
)
# The held-out phrasing of every task is the last: all in one frame, "Tell me ...", which no
# training instruction uses, around the task's own key words.
CLUSTERS = ("words", "numbers", "plays", "format")
HELD_OUT_PHRASINGS = 1  # the last phrasing of every task
# Two-step tasks: reverse the words, then another task on the result. Training shows the
# first pair only; the second tests whether the model composes tasks it knows in a way it
# never saw ("Reverse the words. Then give the first word." asks for the last word).
COMPOSITIONS = {
    "train": (("reverse_words", "last_word"), ("reverse_words", "count_words")),
    "held_out": (("reverse_words", "first_word"), ("reverse_words", "reverse_words")),
}
# --8<-- [end:tasks]
TASK_BY_NAME = {task.name: task for task in TASKS}
WORDS_PER_INPUT = (3, 5)  # a "words" input: 3 to 5 words of a line
LINE_WORDS = 8  # a "line" input: its first 8 words
COMMON_WORDS = 250  # a "words" input uses only the most frequent words of the plays
NUMBER_RANGE = 100
HELD_OUT_NUMBERS = 20

_SPEAKER = re.compile(r"^[A-Z][A-Z' ]+\.$|^[A-Z][a-z]+\.$")  # "ORLANDO." or "Ham."
_NOT_VERSE = re.compile(r"^(ACT|SCENE|\[|Enter|Exit|Exeunt)")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _number_from_words(text: str) -> int:
    return _numbers_by_words()[text]


@lru_cache(maxsize=1)
def _numbers_by_words() -> dict[str, int]:
    return {number_to_words(n): n for n in range(NUMBER_RANGE)}


def check_cluster(cluster: str) -> None:
    if cluster not in CLUSTERS:
        raise ValueError(f"cluster={cluster!r} is not one of {CLUSTERS}")


@lru_cache(maxsize=1)
def play_lines() -> dict[str, list[tuple[str, str, str]]]:
    """{"train": [...], "test": [...]}: (line, play title, genre) for each line of verse or
    prose of at least 6 words, lower-cased and stripped of punctuation; test lines come from
    the held-out last tenth of each play."""
    genres = {title: genre for _, title, genre in PLAYS}
    splits: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    for play in corpus_plays():
        for split, text in zip(("train", "test"), train_val_split(play.text)):
            for raw in text.split("\n"):
                raw = raw.strip()
                if not raw or _SPEAKER.match(raw) or _NOT_VERSE.match(raw):
                    continue
                words = _WORD.findall(raw.lower())
                if len(words) >= 6:
                    splits[split].append((" ".join(words), play.title, genres[play.title]))
    return splits


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """The ``COMMON_WORDS`` most frequent words of the training lines."""
    counts = Counter(word for line, _, _ in play_lines()["train"] for word in line.split())
    return frozenset(word for word, _ in counts.most_common(COMMON_WORDS))


def _number_split(seed: int = 0) -> dict[str, list[int]]:
    numbers = list(range(NUMBER_RANGE))
    random.Random(seed).shuffle(numbers)
    return {"test": sorted(numbers[:HELD_OUT_NUMBERS]), "train": sorted(numbers[HELD_OUT_NUMBERS:])}


def _draw_input(task: Task, split: str, rng: random.Random) -> tuple[str, dict]:
    """A fresh input for ``task`` from ``split`` (``"train"`` or ``"test"``), and where it
    comes from (its play and the play's genre)."""
    if task.reads in ("number", "digits"):
        n = rng.choice(_number_split()[split])
        return (number_to_words(n) if task.reads == "number" else str(n)), {}
    line, title, genre = rng.choice(play_lines()[split])
    words = line.split()
    source = {"play": title, "genre": genre}
    if task.reads == "line":
        return " ".join(words[:LINE_WORDS]), source
    while True:  # a run of common words: rare ones would cost many tokens each
        size = rng.randint(WORDS_PER_INPUT[0], min(WORDS_PER_INPUT[1], len(words)))
        start = rng.randint(0, len(words) - size)
        chosen = words[start : start + size]
        if all(word in common_words() for word in chosen):
            return " ".join(chosen), source
        line, title, genre = rng.choice(play_lines()[split])
        words = line.split()
        source = {"play": title, "genre": genre}


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:]


def make_example(task: Task, phrasing: int, split: str, rng: random.Random,
                 kind: str = "seen") -> Example:
    """One instance of ``task`` with its ``phrasing``-th instruction, input from ``split``."""
    text, source = _draw_input(task, split, rng)
    return Example(task.cluster, task.name, task.phrasings[phrasing], text,
                   task.solve(text, source), kind)


def _commands(task: Task) -> list[str]:
    """The training phrasings of ``task`` that are commands (end with a full stop)."""
    return [p for p in task.phrasings[: -HELD_OUT_PHRASINGS] if p.endswith(".")]


def make_composition(first: str, second: str, split: str, rng: random.Random,
                     kind: str) -> Example:
    """``first``'s task, then ``second``'s on its result, said in one instruction with
    training phrasings: "Reverse the words. Then give the first word." """
    a, b = TASK_BY_NAME[first], TASK_BY_NAME[second]
    text, source = _draw_input(a, split, rng)
    while len(_words(a.solve(text, source))) < 2:  # the second step needs two words
        text, source = _draw_input(a, split, rng)
    # Commands, not questions ("Then give the first word.", not "Then what is ...?").
    first_step = rng.choice(_commands(a))
    instruction = f"{first_step} Then {_lower_first(rng.choice(_commands(b)))}"
    return Example("words", f"{first}+{second}", instruction, text, b.solve(a.solve(text, source), {}), kind)


# --8<-- [start:mixture]
def training_examples(clusters: tuple[str, ...], n: int, seed: int = 0) -> list[Example]:
    """``n`` training examples from the tasks of ``clusters``: each a task drawn evenly (the
    trained two-step tasks count as tasks of the words cluster), one of its training
    phrasings, an input from the training text."""
    for cluster in clusters:
        check_cluster(cluster)
    tasks = [task for task in TASKS if task.cluster in clusters]
    steps = list(COMPOSITIONS["train"]) if "words" in clusters else []
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        choice = rng.randrange(len(tasks) + len(steps))
        if choice < len(tasks):
            task = tasks[choice]
            phrasing = rng.randrange(len(task.phrasings) - HELD_OUT_PHRASINGS)
            examples.append(make_example(task, phrasing, "train", rng))
        else:
            examples.append(make_composition(*steps[choice - len(tasks)], "train", rng, "seen"))
    return examples
# --8<-- [end:mixture]


def evaluation_examples(trained_clusters: tuple[str, ...], per_task: int = 24,
                        seed: int = 1) -> list[Example]:
    """Held-out examples, all on held-out inputs: for each task of ``trained_clusters`` with
    a training phrasing (``seen``) and with its held-out phrasing (``new_phrasing``); the
    held-out two-step tasks (``new_composition``, when the words cluster is trained); and
    every task of the other clusters, in any phrasing (``new_cluster``)."""
    rng = random.Random(seed)
    examples = []
    for task in TASKS:
        trained = task.cluster in trained_clusters
        for i in range(per_task):
            if trained:
                phrasing = i % (len(task.phrasings) - HELD_OUT_PHRASINGS)
                examples.append(make_example(task, phrasing, "test", rng, "seen"))
                examples.append(make_example(task, len(task.phrasings) - 1, "test", rng,
                                             "new_phrasing"))
            else:
                examples.append(make_example(task, i % len(task.phrasings), "test", rng,
                                             "new_cluster"))
    if "words" in trained_clusters:
        for first, second in COMPOSITIONS["held_out"]:
            examples += [make_composition(first, second, "test", rng, "new_composition")
                         for _ in range(per_task)]
    return examples


def fingerprint(examples: list[Example]) -> str:
    """sha256 of the examples' text: a recipe trained on them retrains when they change."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update("\x1f".join([example.cluster, example.task, example.instruction,
                                   example.input, example.response, example.kind]).encode())
    return digest.hexdigest()
