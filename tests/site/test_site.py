"""Browser test of the built static site (``site/``, or ``SITE_DIR``).

Every browser test records each request its pages make and checks at the end that all of
them went to 127.0.0.1 (data: and blob: URLs aside) and that no console error, uncaught
page error or failed load happened.  See conftest.py for the server and the browser.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

# Generous; the whole file normally runs in a few seconds.
pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- no browser


class _ImgCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))


def test_every_image_has_alt_text(site_dir: Path) -> None:
    pages = sorted(p for p in site_dir.rglob("*.html") if p != site_dir / "404.html")
    assert pages, f"no HTML pages under {site_dir}"
    missing = []
    for page in pages:
        collector = _ImgCollector()
        collector.feed(page.read_text(encoding="utf-8"))
        for attrs in collector.images:
            if not (attrs.get("alt") or "").strip():
                src = (attrs.get("src") or "")[:80]
                missing.append(f"{page.relative_to(site_dir)}: <img src={src!r}>")
    assert not missing, f"{len(missing)} <img> without alt text:\n  " + "\n  ".join(missing)


# --------------------------------------------------------------------------- browser


def test_home_page_renders(new_page, site_url: str, browser_log) -> None:
    page = new_page()
    page.goto(site_url, wait_until="load")

    assert page.title().strip(), "the home page has no <title>"
    h1 = page.locator("article h1, .md-content h1").first
    h1.wait_for(state="visible")
    assert h1.inner_text().strip(), "the home page's <h1> is empty"

    timeline = page.locator('img[src*="figures/timeline"]')
    assert timeline.count(), "the home page has no <img> whose src contains figures/timeline"
    # Only the copy for the current colour scheme is displayed; the other one is
    # display:none and, being loading=lazy, is never fetched (decode() would wait forever).
    shown = [timeline.nth(i) for i in range(timeline.count()) if timeline.nth(i).is_visible()]
    assert len(shown) == 1, f"expected exactly one visible timeline figure, got {len(shown)}"
    info = shown[0].evaluate(
        """async (img) => {
            let decoded = true;
            try { await img.decode(); } catch (e) { decoded = false; }
            return {src: img.getAttribute("src"), alt: img.getAttribute("alt"),
                    decoded, naturalWidth: img.naturalWidth};
        }"""
    )
    assert "#only-light" in info["src"], f"light mode shows the wrong figure: {info}"
    assert info["decoded"] and info["naturalWidth"] > 0, f"figure did not load: {info}"
    assert (info["alt"] or "").strip(), f"figure has no alt text: {info}"

    assert any("figures/timeline" in url for url in browser_log.requests), browser_log.requests
    browser_log.assert_clean()


def test_search_finds_chapter_1(new_page, site_url: str, browser_log) -> None:
    page = new_page()
    page.goto(site_url, wait_until="load")

    # Clicking the header's input opens the search dialog (the label on narrow screens).
    search = page.locator(".md-search__input")
    if search.is_visible():
        search.click()
    else:
        page.locator('label[for="__search"]').first.click()
    search.press_sequentially("bigram")

    hit = page.locator('.md-search-result a[href*="chapters/01-"]').first
    hit.wait_for(state="visible", timeout=20_000)  # the index loads in a web worker
    assert "chapters/01-" in hit.get_attribute("href")

    assert any("search_index.json" in url for url in browser_log.requests), (
        "the search index was never requested: " + repr(browser_log.requests)
    )
    browser_log.assert_clean()


def test_dark_mode_toggle(new_page, site_url: str, browser_log) -> None:
    """The palette toggle cycles system -> light -> dark; in dark mode the figures swap to
    their dark rendering (light text on the dark page)."""
    page = new_page(color_scheme="light")
    page.goto(site_url, wait_until="load")

    body = page.locator("body")
    assert body.get_attribute("data-md-color-scheme") == "default"
    schemes = []
    for _ in range(3):  # at most one full cycle of the three palette options
        page.locator('[data-md-component="palette"] label:visible').first.click()
        schemes.append(body.get_attribute("data-md-color-scheme"))
        if schemes[-1] == "slate":
            break
    assert schemes[-1] == "slate", f"the toggle never reached dark mode: {schemes}"
    dark = page.locator('img[src*="figures/timeline-dark.svg"]')
    light = page.locator('img[src*="figures/timeline.svg"]')
    dark.first.wait_for(state="visible", timeout=5_000)
    assert not light.first.is_visible(), "the light figure is still shown in dark mode"
    assert dark.first.evaluate("img => img.complete && img.naturalWidth > 0")
    browser_log.assert_clean()


def test_mobile_home_page_has_no_horizontal_scroll(new_page, site_url: str, browser_log) -> None:
    page = new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(site_url, wait_until="load")
    page.locator("article h1, .md-content h1").first.wait_for(state="visible")

    size = page.evaluate(
        """() => ({scrollWidth: document.documentElement.scrollWidth,
                   innerWidth: window.innerWidth})"""
    )
    # A page wider than the screen makes mobile Chrome widen the layout viewport, so
    # innerWidth must still be the device's width for the second check to mean anything.
    assert size["innerWidth"] <= 391, f"the page was zoomed out to fit: {size}"
    assert size["scrollWidth"] <= size["innerWidth"] + 1, f"horizontal scrolling: {size}"
    browser_log.assert_clean()


def test_all_requests_stayed_on_loopback(session_log) -> None:
    """Across all the browser tests above (they ran first, in file order)."""
    if not session_log.requests:
        pytest.skip("no browser test ran in this session")
    outside = list(dict.fromkeys(session_log.outside_requests()))
    assert not outside, "requests left 127.0.0.1:\n  " + "\n  ".join(outside)


def test_notebook_pages_offer_their_ipynb_for_download(site_dir: Path) -> None:
    """Each notebook page has a download link that resolves to a real .ipynb in the site."""
    pages = sorted((site_dir / "notebooks").glob("*/index.html"))
    assert pages, "no notebook pages were built under notebooks/"

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.hrefs: list[str] = []

        def handle_starttag(self, tag, attrs) -> None:
            attrs = dict(attrs)
            if tag == "a" and "download" in attrs:
                self.hrefs.append(attrs.get("href") or "")

    for page in pages:
        links = Links()
        links.feed(page.read_text(encoding="utf-8"))
        assert links.hrefs, f"{page.relative_to(site_dir)} has no download link"
        for href in links.hrefs:
            assert href.endswith(".ipynb") and not href.startswith(("/", "http")), href
            target = page.parent / href
            assert target.is_file(), f"{href} on {page.relative_to(site_dir)} does not exist"
            notebook = json.loads(target.read_text(encoding="utf-8"))
            assert notebook.get("cells"), f"{href} is not a notebook with cells"
