"""Tests for llm_evolution.milestones: the dated list behind the timeline and papers page."""

from __future__ import annotations

import calendar
import re
from datetime import date

import pytest

from llm_evolution.milestones import MILESTONES, Milestone

# arXiv ids since 2015 are YYMM.NNNNN: the year and month of the first version, then a number.
ARXIV = re.compile(r"arXiv:(\d{2})(\d{2})\.\d{5}")
# Work without an arXiv paper names where it was announced and when: "OpenAI report, June 2018".
ANNOUNCEMENT = re.compile(r"(?P<where>[A-Z][\w ]+), (?:(?P<day>\d{1,2}) )?(?P<month>[A-Z][a-z]+) "
                          r"(?P<year>\d{4})")
ERAS = {"architecture", "pretraining", "scaling", "generalisation", "alignment"}


def test_there_are_milestones():
    assert len(MILESTONES) >= 10
    assert all(isinstance(m, Milestone) for m in MILESTONES)


def test_dates_are_sorted():
    dates = [m.when for m in MILESTONES]
    assert dates == sorted(dates)


def test_dates_are_between_2017_and_2022():
    assert all(date(2017, 1, 1) <= m.when <= date(2022, 12, 31) for m in MILESTONES)
    assert MILESTONES[0].label == "Transformer" and MILESTONES[0].when == date(2017, 6, 12)
    assert MILESTONES[-1].label == "ChatGPT" and MILESTONES[-1].when == date(2022, 11, 30)


def test_labels_are_unique_and_fields_filled():
    labels = [m.label for m in MILESTONES]
    assert len(labels) == len(set(labels))
    for milestone in MILESTONES:
        assert milestone.label.strip() and milestone.source.strip(), milestone
        assert milestone.era in ERAS, milestone


@pytest.mark.parametrize("milestone", MILESTONES, ids=[m.label for m in MILESTONES])
def test_reference_is_an_arxiv_id_or_an_announcement(milestone):
    arxiv = ARXIV.fullmatch(milestone.reference)
    announcement = ANNOUNCEMENT.fullmatch(milestone.reference)
    assert arxiv or announcement, f"{milestone.label}: bad reference {milestone.reference!r}"
    if arxiv:
        # The id encodes the month of arXiv v1, which is the date on the timeline.
        year, month = int(arxiv.group(1)), int(arxiv.group(2))
        assert (2000 + year, month) == (milestone.when.year, milestone.when.month)
    else:
        assert "arXiv" not in milestone.reference
        assert announcement["month"] == calendar.month_name[milestone.when.month]
        assert int(announcement["year"]) == milestone.when.year
        if announcement["day"]:
            assert int(announcement["day"]) == milestone.when.day


def test_the_papers_without_arxiv_are_the_openai_announcements():
    no_arxiv = {m.label for m in MILESTONES if not m.reference.startswith("arXiv:")}
    assert no_arxiv == {"GPT", "GPT-2", "ChatGPT"}


def test_patterns_reject_malformed_references():
    # The checks above must be able to fail.
    for bad in ["arXiv:1706.0376", "arxiv:1706.03762", "1706.03762", "arXiv:17060.3762"]:
        assert not ARXIV.fullmatch(bad)
    for bad in ["June 2018", "OpenAI report", "OpenAI report, 2018"]:
        assert not ANNOUNCEMENT.fullmatch(bad)
