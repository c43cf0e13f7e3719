"""Browser test of the built static site (``site/``, or ``SITE_DIR``).

Every browser test records each request its pages make and checks at the end that all of
them went to 127.0.0.1 (data: and blob: URLs aside) and that no console error, uncaught
page error or failed load happened.  See conftest.py for the server and the browser.

Every built page (404.html aside) gets the same checks, each test parametrized over the
pages so that a failure names its page:

- in the browser, one load per page at a 390 px wide phone viewport: every request stays on
  127.0.0.1, no console error, page error or failed (4xx/5xx) load; every <img> in the
  rendered page has alt text and a source that can be fetched and decoded (hidden
  dark-theme copies and lazy images too, which never load by themselves); the page does not
  scroll sideways (a code block or a table may scroll inside its own box);
- in the browser, axe-core (at a desktop's width, in the light scheme and then, for the
  rules that depend on colour, the dark one): no violation of impact serious or critical;
- without a browser, from the HTML files: every <a href> into the site reaches a file that
  exists and, with a #fragment, an element with that id (or an <a name>) in that file.

The search is checked as a reader uses it: with the keyboard alone (open, type, follow a
result), and with SEARCH_QUERIES, what a reader would type, each with the page that must come
first; SEARCH_KNOWN_MISSES are the queries that land elsewhere today, with the reason and the
edit that would fix each.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from builtsite import (
    discover_pages,
    internal_link_target,
    page_path_in_url,
    resolve_in_site,
)

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


def type_search(page, query: str) -> None:
    """Open the search dialog and type ``query`` into it, key by key, as a reader would."""
    # Clicking the header's input opens the search dialog (the label on narrow screens).
    search = page.locator(".md-search__input")
    if search.is_visible():
        search.click()
    else:
        page.locator('label[for="__search"]').first.click()
    search.press_sequentially(query)


def test_search_finds_chapter_1(new_page, site_url: str, browser_log) -> None:
    page = new_page()
    page.goto(site_url, wait_until="load")
    type_search(page, "bigram")

    hit = page.locator('.md-search-result a[href*="chapters/01-"]').first
    hit.wait_for(state="visible", timeout=20_000)  # the index loads in a web worker
    assert "chapters/01-" in hit.get_attribute("href")

    assert any("search_index.json" in url for url in browser_log.requests), (
        "the search index was never requested: " + repr(browser_log.requests)
    )
    browser_log.assert_clean()


def test_search_finds_chapters_before_the_api_reference(new_page, site_url: str,
                                                        browser_log) -> None:
    """The API reference (its front matter) and the notebooks (the build hook) are left out
    of the index: a query that chapter 11's docstrings and notebook repeat lists the chapter
    first, and neither an API page nor a notebook."""
    page = new_page()
    page.goto(site_url, wait_until="load")
    type_search(page, "reward model")
    first = page.locator(".md-search-result__item a").first
    first.wait_for(state="visible", timeout=20_000)
    links = [a.get_attribute("href") for a in page.locator(".md-search-result__item a").all()]
    assert "chapters/11-alignment" in links[0], links
    assert not any("reference/api" in link for link in links), links
    assert not any("notebooks/" in link for link in links), links
    browser_log.assert_clean()


def test_search_opens_and_follows_a_result_with_the_keyboard(new_page, site_url: str,
                                                             browser_log) -> None:
    """No mouse: "/" (Material's shortcut) puts the focus in the search field, the query is
    typed, the Down arrow moves the focus to the first result and Enter follows it."""
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(site_url, wait_until="load")
    page.locator("article h1, .md-content h1").first.wait_for(state="visible")
    query = page.locator(".md-search__input")
    page.keyboard.press("/")
    assert query.evaluate("el => document.activeElement === el"), (
        "'/' did not put the keyboard focus in the search field")
    page.keyboard.type("perplexity", delay=20)
    first = page.locator(".md-search-result__item a").first
    first.wait_for(state="visible", timeout=20_000)  # the index loads in a web worker
    _wait_for_settled_results(page)
    target = first.get_attribute("href")
    assert "/chapters/01-" in target, f"first result for 'perplexity': {target}"
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement && document.activeElement.getAttribute('href')")
    assert focused == target, (
        f"the Down arrow moved the focus to {focused!r}, not to the first result {target!r}")
    page.keyboard.press("Enter")
    # Instant navigation: the page is fetched and swapped in, without a load event.
    page.wait_for_url(lambda url: "/chapters/01-" in url, wait_until="commit")
    page.wait_for_function("""() => {
        const h1 = document.querySelector("article h1");
        return h1 && h1.textContent.toLowerCase().includes("what a language model is");
    }""")
    browser_log.assert_clean()


# What a reader types, and the page that must come first: the chapter that explains it, or
# the glossary where it defines a term (a tuple: either one). Terms from every chapter,
# two- and three-word phrases, hyphenated terms, and an American spelling of a British
# heading ("generalization": chapter 10 is "Generalisation").
SEARCH_QUERIES = [
    ("perplexity", "chapters/01-"),
    ("bigram", "chapters/01-"),
    ("cross-entropy", "chapters/01-"),
    ("GRU", "chapters/02-"),
    ("teacher forcing", "chapters/02-"),
    ("encoder-decoder bottleneck", "chapters/02-"),
    ("scaled dot-product attention", "chapters/03-"),
    ("multi-head attention", "chapters/03-"),
    ("byte-pair encoding", "chapters/04-"),
    ("tokenization", "chapters/04-"),
    ("sentence similarity", "chapters/05-"),
    ("GPT-2", "chapters/06-"),
    ("KV cache", "chapters/06-"),
    ("temperature", "chapters/06-"),
    ("in-context learning", "chapters/07-"),
    ("GPT-3", "chapters/07-"),
    ("scaling laws", "chapters/08-"),
    ("compute-optimal", "chapters/08-"),
    ("data parallel", "chapters/09-"),
    ("FSDP", "chapters/09-"),
    ("gradient accumulation", "chapters/09-"),
    ("LoRA", "chapters/10-"),
    ("instruction tuning", "chapters/10-"),
    ("generalization", "chapters/10-"),
    ("reward model", "chapters/11-"),
    ("PPO", "chapters/11-"),
    ("DPO", "chapters/11-"),
    ("reward hacking", "chapters/11-"),
    ("n-gram", "reference/glossary/"),
    ("hallucination", "reference/glossary/"),
    ("Bahdanau", "chapters/02-"),
    ("LSTM", ("chapters/02-", "reference/glossary/")),
    ("self-attention", "chapters/03-"),
    ("positional encoding", ("chapters/03-", "reference/glossary/")),
    ("masked language model", "chapters/05-"),
    ("top-p sampling", "chapters/06-"),
    ("few-shot", "chapters/07-"),
    ("Chinchilla", "chapters/08-"),
    ("catastrophic forgetting", "chapters/10-"),
    ("Bradley-Terry", ("chapters/11-", "reference/glossary/")),
    ("tokenisation", ("chapters/04-", "reference/glossary/")),
    ("mixed precision", "chapters/09-"),
    ("RLHF", ("chapters/11-", "reference/glossary/")),
]

# Queries a reader would type that land elsewhere today, each with the reason and what would
# fix it: the chapters' text and front matter, not the search configuration (mkdocs.yml), so
# outside this test's reach. test_search_known_misses_still_miss fails as soon as one lands
# right: then move it up to SEARCH_QUERIES.
SEARCH_KNOWN_MISSES = [
    ("transfomer", "chapters/03-",
     "Material's search matches no misspelling unless the reader asks for it with lunr's "
     "'~' ('transfomer~1' lists the home page, then chapter 3): not fixable by the "
     "configuration or the text"),
]

CHAPTER_12 = "chapters/12-what-survived/"
CHAPTER_12_WRITTEN = bool(list((Path(__file__).resolve().parents[2] / "docs" / "chapters")
                               .glob("12-*.md")))
CHAPTER_12_QUERIES = [
    ("RMSNorm", CHAPTER_12),
    ("what survived", CHAPTER_12),
    ("SwiGLU", CHAPTER_12),
    ("grouped-query attention", CHAPTER_12),
]
CHAPTER_12_KNOWN_MISSES: list[tuple] = []

# The page of each result, best first (a result lists its page, then its matching sections).
RESULT_LINKS_JS = """() => [...document.querySelectorAll('.md-search-result__item')]
    .map((item) => item.querySelector('a').getAttribute('href'))"""


def _wait_for_settled_results(page, *, quiet_ms: int = 1_000,
                              limit_ms: int = 20_000) -> list[str]:
    """The result list's page links once they have not changed for ``quiet_ms``: the search
    runs again on every key, in a worker (which first has to load the index), so an earlier
    key's results may still be shown for a while. Empty when nothing matches."""
    last, stable = None, 0
    for _ in range(limit_ms // 100):
        links = page.evaluate(RESULT_LINKS_JS)
        ready = page.locator(".md-search-result__meta").first.inner_text()
        settled = links == last and (links or "No matching" in ready)
        stable = stable + 100 if settled else 0
        if stable >= quiet_ms:
            break
        last = links
        page.wait_for_timeout(100)
    return last or []


def _search_results(page, queries) -> dict[str, tuple[bool, list[str]]]:
    """Type each query into the search (one page load, the field emptied between queries):
    {query: (its first result is an expected page, the first three result pages)}."""
    found = {}
    box = page.locator(".md-search__input")
    for query, expected, *_ in queries:
        if box.is_visible():
            box.fill("")
        type_search(page, query)
        assert box.input_value() == query
        pages = [urlsplit(link).path.lstrip("/") for link in _wait_for_settled_results(page)]
        accepted = (expected,) if isinstance(expected, str) else expected
        found[query] = (bool(pages) and pages[0].startswith(accepted), pages[:3])
    return found


def _search_page(new_page, site_url: str):
    page = new_page(viewport={"width": 1280, "height": 900})
    page.goto(site_url, wait_until="load")
    return page


def test_search_lands_on_the_right_page(new_page, site_url: str, browser_log) -> None:
    """Each of SEARCH_QUERIES (and CHAPTER_12_QUERIES, once chapter 12 is written) lists its
    page first."""
    queries = SEARCH_QUERIES + (CHAPTER_12_QUERIES if CHAPTER_12_WRITTEN else [])
    found = _search_results(_search_page(new_page, site_url), queries)
    wrong = [f"{query!r}: expected {expected}, got {found[query][1] or 'nothing'}"
             for query, expected in queries if not found[query][0]]
    assert not wrong, (f"{len(wrong)} of {len(queries)} queries land elsewhere:\n  "
                       + "\n  ".join(wrong))
    browser_log.assert_clean()


def test_search_known_misses_still_miss(new_page, site_url: str, browser_log) -> None:
    """SEARCH_KNOWN_MISSES are reported as an expected failure, with their reasons; one that
    lands right fails this test, so that it moves up to SEARCH_QUERIES."""
    misses = SEARCH_KNOWN_MISSES + (CHAPTER_12_KNOWN_MISSES if CHAPTER_12_WRITTEN else [])
    found = _search_results(_search_page(new_page, site_url), misses)
    browser_log.assert_clean()
    fixed = [query for query, *_ in misses if found[query][0]]
    assert not fixed, (f"these now land on the right page: move them from the known misses "
                       f"to the queries that must pass: {fixed}")
    pytest.xfail(f"{len(misses)} {'query lands' if len(misses) == 1 else 'queries land'} "
                 "elsewhere, for reasons outside the search configuration:\n" + "\n".join(
                     f"  {query!r}: got {found[query][1] or 'nothing'}; {why}"
                     for query, _, why in misses))


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


# Every <img> of the rendered page: alt text, and a source that the browser can fetch and
# decode.  The fetch goes through the page's own network stack, so the loopback guard and the
# request log in conftest.py see it; a hidden or lazy image is fetched like any other.
CHECK_IMAGES_JS = """async () => {
    const check = async (url) => {
        if (!url) return "no src";
        try {
            const response = await fetch(url, {cache: "no-store"});
            const body = await response.blob();
            if (!response.ok) return `HTTP ${response.status}`;
            if (!body.size) return "empty response";
        } catch (e) {
            return `fetch failed: ${e}`;
        }
        const probe = new Image();
        probe.src = url;
        try { await probe.decode(); } catch (e) { return `does not decode: ${e}`; }
        return null;
    };
    const images = [...document.images];
    // img.src is the src attribute resolved against the page ("" when there is none).
    const urls = [...new Set(images.map((img) => img.src))];
    const problems = new Map(await Promise.all(urls.map(async (u) => [u, await check(u)])));
    return images.map((img) => ({
        src: img.getAttribute("src"),
        alt: (img.getAttribute("alt") || "").trim(),
        problem: problems.get(img.src),
    }));
}"""


# Outermost elements that stick out past the right edge of the viewport and are not inside
# a box that clips or scrolls them: what makes the page scroll sideways.  Fixed elements and
# their content are left out: they only follow a viewport that something else has widened.
WIDE_ELEMENTS_JS = """() => {
    const limit = document.documentElement.clientWidth + 1;
    const contained = (el) => {
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (style.overflowX !== "visible" || style.position === "fixed") return true;
        }
        return false;
    };
    const describe = (el) => el.tagName.toLowerCase()
        + (el.id ? "#" + el.id : "")
        + (el.classList.length ? "." + [...el.classList].join(".") : "");
    const found = [];
    for (const el of document.body.querySelectorAll("*")) {
        if (el.getBoundingClientRect().right <= limit) continue;
        if (getComputedStyle(el).position === "fixed") continue;
        if (contained(el)) continue;
        if (found.some((f) => f.contains(el))) continue;
        found.push(el);
    }
    const right = (el) => Math.round(el.getBoundingClientRect().right);
    found.sort((a, b) => right(b) - right(a));  // the widest first
    return found.slice(0, 5).map((el) => `${describe(el)} (right edge at ${right(el)} px)`);
}"""


def test_page_in_a_phone_browser(new_page, page_url: str, site_page: str, browser_log) -> None:
    """One load of the page at a 390 px wide phone viewport; every problem found is reported.

    Network: every request stays on 127.0.0.1 and succeeds; no console error or uncaught page
    error.  Images: every <img> in the rendered page has alt text and a source that can be
    fetched and decoded.  Layout: the page does not scroll sideways.
    """
    # A phone's layout (390 CSS pixels wide, touch); at 1 device pixel per CSS pixel, since the
    # checks are of layout and loading, and software rendering of 3x the pixels costs seconds.
    page = new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(page_url, wait_until="load")
    # Then 500 ms without a request: late ones (the search worker's index, dynamic imports)
    # are seen too.
    page.wait_for_load_state("networkidle")
    page.locator("article h1, .md-content h1").first.wait_for(state="visible")
    problems = []
    if not page.title().strip():
        problems.append("no <title>")

    images = page.evaluate(CHECK_IMAGES_JS)
    problems += [f"<img src={i['src']!r}> has no alt text" for i in images if not i["alt"]]
    problems += [f"<img src={i['src']!r}>: {i['problem']}" for i in images if i["problem"]]

    size = page.evaluate(
        """() => ({scrollWidth: document.documentElement.scrollWidth,
                   clientWidth: document.documentElement.clientWidth,
                   innerWidth: window.innerWidth})"""
    )
    # A page wider than the screen makes mobile Chrome widen the layout viewport, so
    # innerWidth must still be the device's width for the second check to mean anything.
    if size["innerWidth"] > 391:
        problems.append(f"zoomed out to fit a wider page at 390 px: {size}")
    if size["scrollWidth"] > size["clientWidth"] + 1:
        culprits = page.evaluate(WIDE_ELEMENTS_JS) or ["(no single element found)"]
        problems.append(
            f"scrolls sideways at 390 px: {size}; wider than the screen: " + "; ".join(culprits)
        )

    try:
        browser_log.assert_clean()
    except pytest.fail.Exception as e:
        problems.append(str(e))
    if problems:
        pytest.fail(f"{site_page}:\n  " + "\n  ".join(problems), pytrace=False)


# --------------------------------------------------------------------------- accessibility

# axe-core (axe-playwright-python) on every page, in both colour schemes: a violation of
# impact "serious" or "critical" fails the page. AXE_ALLOWED would name a rule that cannot be
# fixed in docs/overrides or docs/stylesheets/extra.css, with the reason; it is empty, since
# the ones Material and mkdocs-jupyter caused are fixed there (the search dialog's and the
# progress bar's names, the contrast of highlighted code and of the footer, the notebooks'
# code cells that scroll but took no keyboard focus).
AXE_ALLOWED: dict[str, str] = {}
AXE_FAILING_IMPACTS = ("serious", "critical")
# The rules whose outcome depends on the colours, run again in the dark scheme.
AXE_COLOUR_RULES = ["color-contrast", "link-in-text-block"]
# extra.css leaves off-screen code blocks unrendered (content-visibility: auto), and axe
# would pass over text that has no layout: everything is rendered for the check.
RENDER_EVERYTHING_CSS = "* { content-visibility: visible !important; }"


def _axe_violations(results: dict, scheme: str) -> list[str]:
    found = []
    for rule in results["violations"]:
        if rule["impact"] not in AXE_FAILING_IMPACTS or rule["id"] in AXE_ALLOWED:
            continue
        nodes = []
        for node in rule["nodes"][:3]:
            why = " ".join(line.strip() for line in node.get("failureSummary", "").splitlines()[1:])
            nodes.append(f"{' '.join(map(str, node['target']))}: {why[:200]}")
        found.append(f"{scheme} scheme: {rule['id']} ({rule['impact']}), {len(rule['nodes'])} "
                     f"elements: {rule['help']}\n      " + "\n      ".join(nodes))
    return found


def test_page_has_no_serious_accessibility_violations(new_page, page_url: str, site_page: str,
                                                      browser_log) -> None:
    """axe-core finds no serious or critical violation on the page, in the light scheme (all
    of axe's default rules, WCAG 2.x A and AA and best practices) and then in the dark one
    (the rules that depend on colour). A failure names the page, the rule and its first
    elements."""
    from axe_playwright_python.sync_playwright import Axe

    page = new_page(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page.goto(page_url, wait_until="load")
    page.locator("article h1, .md-content h1").first.wait_for(state="visible")
    page.add_style_tag(content=RENDER_EVERYTHING_CSS)
    axe = Axe()
    problems = _axe_violations(axe.run(page).response, "light")
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    dark = axe.run(page, options={"runOnly": {"type": "rule", "values": AXE_COLOUR_RULES},
                                  "resultTypes": ["violations"]})
    problems += _axe_violations(dark.response, "dark")
    if problems:
        pytest.fail(f"{site_page}: accessibility (axe-core):\n  " + "\n  ".join(problems),
                    pytrace=False)
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


# --------------------------------------------------------------------------- links


def test_internal_links_and_anchors_resolve(site_dir: Path, site_page: str, parsed_html) -> None:
    """Every <a href> into the site reaches an existing file and, with a #fragment, an element
    with that id (or an <a name>) in the target page, as built.

    No fragment is skipped: the anchors on these pages (headings, permalinks, code line numbers
    ``__codelineno-*``, Material's ``__drawer``/``__search``/... toggles, footnotes) are all in
    the built HTML.  (Material's code-annotation anchors ``#__code_N_annotation_M`` are made
    by its JavaScript; no page links to one now, and a link to one would be reported here.)
    Fragments of non-HTML targets (``figure.svg#only-dark``) are not element ids and are not
    checked.
    """
    parsed = parsed_html(site_page)
    broken = []
    for href in dict.fromkeys(parsed.links):
        target = internal_link_target(site_page, parsed.base, href)
        if target is None:
            continue
        url_path, fragment = target
        found = resolve_in_site(site_dir, url_path)
        if found is None:
            broken.append(f"{href!r}: no file for {url_path}")
        elif fragment and found.endswith(".html") and fragment not in parsed_html(found).anchors:
            broken.append(f"{href!r}: {found} has no element with id or name {fragment!r}")
    if broken:
        pytest.fail(
            f"{site_page}: {len(broken)} broken internal links:\n  " + "\n  ".join(broken),
            pytrace=False,
        )


def test_page_list_matches_the_sitemap(site_dir: Path) -> None:
    """The parametrized tests cover every page MkDocs built: the pages found on disk are the
    ones in sitemap.xml, and every kind of page is among them."""
    import xml.etree.ElementTree as ET
    from urllib.parse import urlsplit

    pages = discover_pages(site_dir)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text or "" for e in ET.parse(site_dir / "sitemap.xml").findall(".//s:loc", ns)]
    in_sitemap = {urlsplit(loc).path.lstrip("/") for loc in locs}
    found = {page_path_in_url(p) for p in pages}
    assert found == in_sitemap, (
        f"pages on disk but not in sitemap.xml: {sorted(found - in_sitemap)}; "
        f"in sitemap.xml but not on disk: {sorted(in_sitemap - found)}"
    )
    for prefix in ("chapters/", "notebooks/", "reference/", "contributing/"):
        assert any(p.startswith(prefix) for p in pages), f"no page under {prefix}: {pages}"
    assert "index.html" in pages


# --------------------------------------------------------------------------- diagrams

# Three concept diagrams, each looked at in both themes, at a desktop's and at a phone's width.
CHECKED_DIAGRAMS = [
    ("chapters/03-attention/", "transformer-architecture"),
    ("chapters/06-gpt/", "gpt-decoder-stack"),
    ("chapters/05-bert/", "bert-pretrain-finetune"),
]


def _drawn_share(png: bytes) -> float:
    """The share of a screenshot's pixels that differ clearly from its most common colour (the
    page background): near zero when an image is blank or invisible."""
    import io
    from collections import Counter

    from PIL import Image

    pixels = Counter(Image.open(io.BytesIO(png)).convert("RGB").get_flattened_data())
    background = pixels.most_common(1)[0][0]
    far = sum(n for colour, n in pixels.items()
              if sum(abs(a - b) for a, b in zip(colour, background)) > 60)
    return far / sum(pixels.values())


@pytest.mark.parametrize(("site_path", "name"), CHECKED_DIAGRAMS,
                         ids=[name for _, name in CHECKED_DIAGRAMS])
def test_concept_diagram_is_visible_and_not_clipped(new_page, site_url: str, browser_log,
                                                    site_path: str, name: str,
                                                    tmp_path: Path) -> None:
    """In each theme, at a desktop's and at a phone's width (one page load: the viewport and
    the preferred colour scheme change under it), the theme's rendering of the diagram is
    shown and the other hidden; it loads, keeps its proportions, fits inside the page's
    content column and draws something: a screenshot of it is mostly not background."""
    page = new_page(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page.goto(site_url + site_path, wait_until="load")
    problems = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        suffix, other = ("-dark", "") if scheme == "dark" else ("", "-dark")
        image = page.locator(f'img[src*="figures/{name}{suffix}.svg#only-{scheme}"]').first
        hidden = page.locator(f'img[src*="figures/{name}{other}.svg"]').first
        for width in (1280, 390):
            where = f"{scheme} mode at {width} px"
            page.set_viewport_size({"width": width, "height": 900})
            image.scroll_into_view_if_needed()
            image.wait_for(state="visible")
            if not image.evaluate("img => img.decode().then(() => img.naturalWidth > 0)"):
                problems.append(f"{where}: it did not load")
                continue
            if hidden.is_visible():
                problems.append(f"{where}: both renderings are shown")
            box = image.bounding_box()
            column = image.evaluate(
                "img => img.closest('article').getBoundingClientRect().toJSON()")
            natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
            if box["x"] < column["left"] - 1 or box["x"] + box["width"] > column["right"] + 1:
                problems.append(f"{where}: {box} sticks out of the content column {column}")
            if abs(box["height"] / box["width"] - natural[1] / natural[0]) > 0.02:
                problems.append(f"{where}: squeezed, shown {box}, drawn {natural}")
            shot = image.screenshot(path=str(tmp_path / f"{name}-{scheme}-{width}.png"))
            if _drawn_share(shot) < 0.01:
                problems.append(f"{where}: it looks blank")
    assert not problems, f"{name} on {site_path}:\n  " + "\n  ".join(problems)
    browser_log.assert_clean()


def test_step_tabs_work_with_the_keyboard(new_page, site_url: str, browser_log) -> None:
    """A process shown in steps (content tabs), in each theme: the tabs take keyboard focus,
    and moving to the next tab with the keyboard shows that step's diagram instead of the
    first."""
    page = new_page(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page.goto(site_url + "chapters/03-attention/", wait_until="load")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        suffix = "-dark" if scheme == "dark" else ""
        first = page.locator(f'img[src*="figures/attention-step-1{suffix}.svg"]').first
        second = page.locator(f'img[src*="figures/attention-step-2{suffix}.svg"]').first
        tab_set = first.locator("xpath=ancestor::div[contains(@class, 'tabbed-set')][1]")
        radios = tab_set.locator("input")
        tab_set.locator(".tabbed-labels > label").first.click()  # back to step 1
        first.scroll_into_view_if_needed()
        assert first.is_visible() and not second.is_visible(), scheme
        radios.first.focus()
        assert radios.first.evaluate("el => document.activeElement === el"), (
            f"the step tabs take no keyboard focus ({scheme} mode)")
        page.keyboard.press("ArrowRight")
        second.wait_for(state="visible", timeout=5_000)
        assert not first.is_visible(), f"step 1 is still shown after step 2 ({scheme} mode)"
    browser_log.assert_clean()


def test_no_chapter_weighs_more_than_a_mebibyte(site_dir: Path) -> None:
    """What a reader's browser fetches for a chapter, its HTML and every figure it shows in
    one theme, stays under 1 MiB. The other theme's copies are hidden and lazy, so never
    fetched (test_home_page_renders); site assets (the theme's CSS and JavaScript, shared by
    every page and cached) aside. Counted in the heavier theme, before any compression."""
    sizes = {}
    for page in sorted((site_dir / "chapters").glob("*/index.html")):
        html = page.read_text(encoding="utf-8")
        shown = set(re.findall(r'src="([^"#]*figures/[\w-]+\.svg)', html))
        theme_bytes = {"light": 0, "dark": 0}
        for src in shown:
            theme = "dark" if src.endswith("-dark.svg") else "light"
            theme_bytes[theme] += (page.parent / src).resolve().stat().st_size
        sizes[page.parent.name] = page.stat().st_size + max(theme_bytes.values())
    assert sizes, f"no chapter pages under {site_dir / 'chapters'}"
    largest = max(sizes, key=sizes.get)
    print(f"largest chapter: {largest}, {sizes[largest]:,} bytes with its figures")
    heavy = {name: size for name, size in sizes.items() if size > 2**20}
    assert not heavy, f"chapters over 1 MiB with their figures: {heavy}"
