"""The built chapters link to the glossary and the papers page (docs/hooks/links.py), as built
(``site/``, or ``SITE_DIR``), without a browser.

- Every glossary entry (``<dt>``) and every row of the papers table has an id.
- In every chapter, the first occurrence in the prose of every glossary entry's spellings is a
  link to that entry, and no other occurrence is; each link reaches an existing id.
- In every chapter, every arXiv id (in the prose, or in an Output block that quotes a paper) is
  that of a paper in the papers table, and for every id in the prose the chapter links to the
  paper's row, which exists.

What "prose" and "a spelling" are comes from the hook itself (``is_prose``, ``term_pattern``,
the glossary read from its Markdown): this test checks that the build applied them to every
chapter, chapter 12 and later ones included, and that nothing after the hook undid them.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from builtsite import internal_link_target, resolve_in_site

REPO_ROOT = Path(__file__).resolve().parents[2]
GLOSSARY_PAGE = "reference/glossary/index.html"
PAPERS_PAGE = "reference/papers/index.html"

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="session", autouse=True)
def site_unchanged_since_passing():
    """Overrides conftest's: these checks take seconds, so they always run, and this file alone
    passing must not record the site as having passed the browser test."""
    yield


def _load_hook():
    spec = importlib.util.spec_from_file_location(
        "links", REPO_ROOT / "docs" / "hooks" / "links.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["links"] = module  # as MkDocs loads a hook (dataclasses need it)
    spec.loader.exec_module(module)
    return module


links = _load_hook()
TERMS = links.read_glossary((REPO_ROOT / "docs" / "reference" / "glossary.md").read_text())
PAPERS = links.read_papers((REPO_ROOT / "docs" / "reference" / "papers.md").read_text())


def _chapters() -> list[str]:
    return sorted(p.stem + "/index.html" for p in (REPO_ROOT / "docs" / "chapters").glob("*.md"))


@functools.cache
def _article(site_dir: Path, page: str) -> BeautifulSoup:
    path = site_dir / page
    if not path.is_file():
        pytest.fail(f"{page} is missing from the built site", pytrace=False)
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.find("article")
    assert article is not None, f"{page}: no <article>"
    return article


def _target(site_dir: Path, page: str, href: str) -> tuple[str | None, str]:
    """(the built file, the fragment) that a link on ``page`` reaches."""
    url_path, fragment = internal_link_target(page, None, href) or ("", "")
    return resolve_in_site(site_dir, url_path) if url_path else None, fragment


def _ids(site_dir: Path, page: str) -> set[str]:
    return {tag["id"] for tag in _article(site_dir, page).find_all(id=True)}


def test_every_glossary_entry_and_every_paper_has_an_anchor(site_dir: Path) -> None:
    glossary = _article(site_dir, GLOSSARY_PAGE)
    dts = glossary.find_all("dt")
    assert [dt.get("id") for dt in dts] == [t.anchor for t in TERMS]
    assert len(dts) == len(TERMS) > 0
    rows = [tr for table in _article(site_dir, PAPERS_PAGE).find_all("table")
            if table.th and table.th.get_text(strip=True) == "When"
            for tr in table.tbody.find_all("tr")]
    assert len(rows) == len(PAPERS) > 0
    missing = [tr.td.get_text(strip=True) for tr in rows if not tr.get("id")]
    assert not missing, f"papers rows without an id: {missing}"
    assert len({tr["id"] for tr in rows}) == len(rows)


@pytest.mark.parametrize("chapter", _chapters())
def test_first_use_of_every_glossary_term_links_to_its_entry(site_dir: Path,
                                                              chapter: str) -> None:
    page = f"chapters/{chapter}"
    article = _article(site_dir, page)
    glossary_ids = _ids(site_dir, GLOSSARY_PAGE)
    pattern, owner = links.term_pattern([t for t in TERMS if t.forms])
    name = chapter.split("/")[0] + ".md"
    other_sense = {a for a, p in links.OTHER_SENSE.items() if name.startswith(tuple(p))}
    other_sense |= {a for a, p in links.ONLY_IN.items() if not name.startswith(tuple(p))}

    first: dict[str, str] = {}  # entry id -> "linked" or the unlinked text around its first use
    problems = []
    for node in article.find_all(string=True):
        link = node.parent if node.parent.name == "a" else None
        is_glossary_link = link is not None and "glossary-link" in (link.get("class") or [])
        if not (is_glossary_link or links.is_prose(node)):
            continue
        for match in pattern.finditer(node):
            anchor = owner[match.lastgroup].anchor
            if anchor in other_sense or anchor in first:
                if is_glossary_link:
                    problems.append(f"a second link to {anchor!r}: {match[0]!r}")
                continue
            if is_glossary_link:
                target, fragment = _target(site_dir, page, link["href"])
                if (target, fragment) != (GLOSSARY_PAGE, anchor) or anchor not in glossary_ids:
                    problems.append(f"{match[0]!r} links to {link['href']!r}, not to #{anchor}")
                first[anchor] = "linked"
            else:
                first[anchor] = " ".join(node[max(0, match.start() - 40):match.end() + 20]
                                         .split())
    unlinked = {a: text for a, text in first.items() if text != "linked"}
    problems += [f"first use of {a!r} not linked: ...{text}..." for a, text in unlinked.items()]
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)
    assert first, f"{page}: no glossary term at all"


@pytest.mark.parametrize("chapter", _chapters())
def test_every_cited_arxiv_id_links_to_its_row_of_the_papers_page(site_dir: Path,
                                                                  chapter: str) -> None:
    page = f"chapters/{chapter}"
    article = _article(site_dir, page)
    paper_ids = _ids(site_dir, PAPERS_PAGE)
    by_arxiv = {p.arxiv: p.anchor for p in PAPERS if p.arxiv}
    # Every id must be in the table, an Output block's too (chapters 8 and 12 print tables of
    # models and their sources); the hook links those of the prose (it leaves code alone).
    anywhere = {m[1] for m in links.ARXIV_ID.finditer(article.get_text())}
    cited = {m[1] for node in article.find_all(string=True)
             if links.is_prose(node) or node.parent.name == "a"
             for m in links.ARXIV_ID.finditer(node)}
    linked = set()
    for a in article.find_all("a", href=True):
        target, fragment = _target(site_dir, page, a["href"])
        if target == PAPERS_PAGE and fragment:  # not the prose's own links to the page
            assert fragment in paper_ids, f"{page}: {a['href']!r} reaches no row"
            linked.add(fragment)
    not_in_table = sorted(anywhere - set(by_arxiv))
    assert not not_in_table, (f"{page} cites papers that are not on the papers page: "
                              f"{', '.join('arXiv:' + i for i in not_in_table)}")
    unlinked = sorted(i for i in cited if by_arxiv[i] not in linked)
    assert not unlinked, f"{page}: no link to the papers page for arXiv:{unlinked}"


def test_abbreviation_links_have_a_tooltip(site_dir: Path) -> None:
    without, titles = [], set()
    for page in sorted(site_dir.glob("chapters/*/index.html")):
        for a in BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").find_all(
                "a", class_="glossary-link"):
            titles.add(a.get("title"))
            if links.is_abbreviation(a.get_text()) and not a.get("title"):
                without.append(f"{page.parent.name}: {a.get_text()}")
    assert not without, "abbreviations linked without a tooltip:\n  " + "\n  ".join(without)
    assert any((title or "").startswith("BPE (byte-pair encoding): A way to build a vocabulary")
               for title in titles)
