"""Helpers for the site tests that are plain functions (conftest.py and test_site.py both
import them; ``import conftest`` would find the repository's root conftest.py instead)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

# Not a page a reader navigates to: the server's answer to a missing URL.
NOT_PAGES = {"404.html"}


def discover_pages(site: Path) -> list[str]:
    """Every built page, as a path relative to the site (``chapters/01-x/index.html``)."""
    if not site.is_dir():
        return []
    pages = (p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    return sorted(p for p in pages if p not in NOT_PAGES)


def page_path_in_url(page: str) -> str:
    """``chapters/01-x/index.html`` -> ``chapters/01-x/``; ``index.html`` -> ``""``."""
    return page[: -len("index.html")] if page.rsplit("/", 1)[-1] == "index.html" else page


@dataclass
class ParsedPage:
    """What the link check needs from one HTML file."""

    anchors: set[str] = field(default_factory=set)  # every id, and every <a name>
    links: list[str] = field(default_factory=list)  # every <a href>, as written
    base: str | None = None  # <base href>, if any


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.page.anchors.add(values["id"])
        if tag == "a":
            if values.get("name"):
                self.page.anchors.add(values["name"])
            if values.get("href") is not None:
                self.page.links.append(values["href"])
        elif tag == "base" and values.get("href") and self.page.base is None:
            self.page.base = values["href"]

    handle_startendtag = handle_starttag


def parse_page(path: Path) -> ParsedPage:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser.page


def resolve_in_site(site: Path, url_path: str) -> str | None:
    """The file (relative to ``site``) that the server answers for ``url_path``, or None.

    Mirrors the static server: ``/x/`` serves ``x/index.html``; ``/x`` for a folder redirects
    to ``/x/``.
    """
    relative = PurePosixPath(unquote(url_path).lstrip("/"))
    if ".." in relative.parts:
        return None
    target = site / relative
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None
    return target.relative_to(site).as_posix()


def internal_link_target(page: str, base: str | None, href: str) -> tuple[str, str] | None:
    """(URL path, fragment) of ``href`` on ``page`` when it points into the site, else None.

    Within the site: a relative URL, or an absolute one to 127.0.0.1 or localhost (whatever
    the port). mailto:, javascript: and links to other hosts are not checked.
    """
    page_url = "http://127.0.0.1/" + page
    if base:
        page_url = urljoin(page_url, base)
    absolute = urljoin(page_url, href.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in {"http", "https"} or parts.hostname not in {"127.0.0.1", "localhost"}:
        return None
    return parts.path or "/", unquote(parts.fragment)
