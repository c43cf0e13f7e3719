"""Seeded toy "translation" tasks for the sequence-to-sequence chapters (RNN vs Transformer).

Two made-up language pairs, both from English words to a compact written form:

* ``"dates"``: ``"the fifth of march nineteen ninety seven"`` -> ``"1997-03-05"``. The year
  moves from the end of the source to the start of the target, so a model must reorder, and
  attention maps show which source words each output character looks at.
* ``"numbers"``: ``"three hundred forty two thousand nine hundred five"`` -> ``"342905"``.
  Sources run from 1 to 19 words, and where a digit goes depends on scale words
  that come later ("five million three" -> ``"5000003"``): the task for measuring accuracy
  against source length.

Everything is a pure function of ``seed`` (a private ``random.Random``, never the global one).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
ORDINALS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
            "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth")
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # checked against the year
MAX_DIGITS = 12
YEARS = (1900, 2099)
TASKS = ("dates", "numbers")


def _below_thousand(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10])
        n %= 10
        if n:
            words.append(ONES[n])
    elif n:
        words.append(ONES[n])
    return words


def number_to_words(n: int) -> str:
    """Write ``0 <= n < 10**12`` in American English words, e.g. 342905 -> "three hundred
    forty two thousand nine hundred five" (no "and", no hyphens: one token per word)."""
    if not 0 <= n < 10**MAX_DIGITS:
        raise ValueError(f"n={n} is out of range: number_to_words takes 0 <= n < 10**{MAX_DIGITS}")
    if n == 0:
        return "zero"
    words = []
    for value, name in SCALES:
        if n >= value:
            words += _below_thousand(n // value) + [name]
            n %= value
    return " ".join(words + _below_thousand(n))


def ordinal_to_words(n: int) -> str:
    """Write a day of the month ``1 <= n <= 31`` as an ordinal: 5 -> "fifth", 23 ->
    "twenty third"."""
    if not 1 <= n <= 31:
        raise ValueError(f"n={n} is not a day of the month (1 to 31)")
    if n <= 20:
        return ORDINALS[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return TENS[tens][:-1] + "ieth"  # thirty -> thirtieth
    return f"{TENS[tens]} {ORDINALS[ones]}"


def year_to_words(year: int) -> str:
    """Say a year the usual way: 1997 -> "nineteen ninety seven", 1905 -> "nineteen oh five",
    1900 -> "nineteen hundred", 2005 -> "two thousand five", 2024 -> "twenty twenty four"."""
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(f"year={year} is out of range: year_to_words takes {YEARS[0]}..{YEARS[1]}")
    century, rest = divmod(year, 100)
    if year < 2010 and century == 20:
        return number_to_words(year)
    if rest == 0:
        return f"{number_to_words(century)} hundred"
    if rest < 10:
        return f"{number_to_words(century)} oh {ONES[rest]}"
    return f"{number_to_words(century)} {number_to_words(rest)}"


def date_to_words(year: int, month: int, day: int) -> str:
    """The source side of the dates task: (1997, 3, 5) -> "the fifth of march nineteen ninety
    seven"."""
    return f"the {ordinal_to_words(day)} of {MONTHS[month - 1]} {year_to_words(year)}"


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _random_date(rng: random.Random) -> tuple[str, str]:
    year = rng.randint(*YEARS)
    month = rng.randint(1, 12)
    last = 28 + _is_leap(year) if month == 2 else DAYS_IN_MONTH[month - 1]
    day = rng.randint(1, last)
    return date_to_words(year, month, day), f"{year:04d}-{month:02d}-{day:02d}"


def _random_number(rng: random.Random) -> tuple[str, str]:
    # A digit count uniform in 1..12 (so short and long sources are equally common), a nonzero
    # leading digit, and each later digit zero with probability 0.3: zeros are what make the
    # alignment hard ("five million three"), and uniform digits would rarely produce them.
    n_digits = rng.randint(1, MAX_DIGITS)
    digits = [rng.randint(1, 9) if n_digits > 1 else rng.randint(0, 9)]
    digits += [0 if rng.random() < 0.3 else rng.randint(1, 9) for _ in range(n_digits - 1)]
    n = int("".join(map(str, digits)))
    return number_to_words(n), str(n)


_GENERATORS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "dates": _random_date,
    "numbers": _random_number,
}


def translation_pairs(
    n: int,
    seed: int,
    task: str = "dates",
    min_words: int = 1,
    max_words: int | None = None,
    exclude: Collection[str] = (),
) -> list[tuple[str, str]]:
    """Return ``n`` distinct (source, target) pairs of a toy translation task, fixed by ``seed``.

    ``task`` is ``"dates"`` or ``"numbers"`` (see the module docstring). ``min_words`` and
    ``max_words`` keep only sources with that many words (dates have 6 to 8, numbers 1 to
    19), to train or test at a chosen length. Sources listed in ``exclude`` are never
    produced, so a later call can draw a test set disjoint from an earlier training set.
    """
    if task not in _GENERATORS:
        raise ValueError(f"task={task!r} is unknown: choose one of {TASKS}")
    if n < 0:
        raise ValueError(f"n={n} must be >= 0")
    if max_words is not None and max_words < min_words:
        raise ValueError(f"max_words={max_words} is smaller than min_words={min_words}")
    generate = _GENERATORS[task]
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    seen = set(exclude)
    # Rejection sampling: draw, keep pairs of the wanted length not seen before. The attempt
    # budget turns an impossible request (a length no source has, more pairs than exist) into
    # an error instead of an endless loop.
    for _ in range(200 * n + 10_000):
        if len(pairs) == n:
            break
        source, target = generate(rng)
        n_words = source.count(" ") + 1
        if source in seen or n_words < min_words or (max_words is not None and n_words > max_words):
            continue
        seen.add(source)
        pairs.append((source, target))
    if len(pairs) < n:
        raise ValueError(
            f"Found only {len(pairs)} of n={n} distinct {task!r} pairs with "
            f"min_words={min_words}, max_words={max_words}: widen the length range or lower n"
        )
    return pairs


def translation_splits(
    n_train: int,
    n_held_out: int,
    seed: int,
    task: str = "dates",
    min_words: int = 1,
    max_words: int | None = None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return (train, held_out) pair lists from one distribution, with no source in both."""
    pairs = translation_pairs(n_train + n_held_out, seed, task, min_words, max_words)
    return pairs[:n_train], pairs[n_train:]
