"""Fixtures for the browser test of the built static site.

The site is built by ``mkdocs build --strict`` into ``site/`` before these tests run
(``make test`` does that).  ``SITE_DIR`` points the tests at another build and
``CHROMIUM_PATH`` at another Chrome/Chromium binary.

The site is served on 127.0.0.1 from a thread; the browser is Debian's Chromium driven by
Playwright (never a Playwright browser download).  pytest-socket's
``--disable-socket --allow-hosts=127.0.0.1,::1`` stays in force: the server only binds a
loopback port, the browser connects to it from its own process, and Playwright talks to
its driver over pipes.

Tests that take a ``site_page`` argument run once per built page (every ``*.html`` under
the site but ``404.html``, sorted; the id is the page's URL path), so a failure names the
page.  The pages are found when the tests are collected, from the same ``SITE_DIR``.

No ``__init__.py`` here on purpose: as a package, this folder would be imported as
``site``, the name of a standard-library module.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from builtsite import ParsedPage, discover_pages, page_path_in_url, parse_page

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SITE_DIR = REPO_ROOT / "site"

# From /work/shared/TOOLING-NOTES.md: without the background-networking flags Chromium
# tries to reach outside hosts on its own.  launch() adds a fresh temporary
# --user-data-dir and --headless itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

INSTALL_HINT = (
    "Install Chromium to run the browser test: `sudo apt-get install chromium` on "
    "Debian/Ubuntu; elsewhere (e.g. macOS) set CHROMIUM_PATH to a Chrome or Chromium "
    "binary, e.g. CHROMIUM_PATH='/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'."
)

LOOPBACK_HOSTS = {"127.0.0.1"}
HARMLESS_SCHEMES = {"data", "blob"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _find_chromium() -> str | None:
    override = os.environ.get("CHROMIUM_PATH")
    if override:
        if not (os.path.isfile(override) and os.access(override, os.X_OK)):
            pytest.fail(f"CHROMIUM_PATH={override!r} is not an executable file.", pytrace=False)
        return override
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


# --------------------------------------------------------------------------- site + server


def _site_dir_setting() -> Path:
    return Path(os.environ.get("SITE_DIR", DEFAULT_SITE_DIR)).resolve()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "site_page" not in metafunc.fixturenames:
        return
    pages = discover_pages(_site_dir_setting())
    if not pages:
        # No site: one case whose site_dir fixture fails with the "build it first" message
        # (an empty parameter set would be skipped without a word).
        metafunc.parametrize("site_page", [None], ids=["no-built-site"])
        return
    metafunc.parametrize("site_page", pages, ids=[page_path_in_url(p) or "/" for p in pages])


@pytest.fixture(scope="session")
def site_dir() -> Path:
    """The built site; fails (does not skip) when it has not been built."""
    path = _site_dir_setting()
    if not (path / "index.html").is_file():
        pytest.fail(
            f"{path / 'index.html'} is missing: build the site first with `make build` "
            "(or `.venv/bin/mkdocs build --strict`), or set SITE_DIR to a built site.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session", autouse=True)
def site_unchanged_since_passing(request) -> Iterator[None]:
    """The browser test runs again only when the built site or this test changed: a site
    whose every file, byte for byte, passed before is reported as skipped, "up to date"
    (``LLM_EVOLUTION_RERUN=1`` runs it anyway; a fresh cache, as in CI, always runs it)."""
    import datetime
    import hashlib
    import json

    from llm_evolution.paths import cache_dir

    path = _site_dir_setting()
    if not (path / "index.html").is_file():
        yield  # site_dir fails the tests with the reason
        return
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0".encode())
        digest.update(file.read_bytes())
    for file in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(file.read_bytes())
    record = cache_dir("test-runs") / f"site-{digest.hexdigest()[:16]}.json"
    if record.exists() and os.environ.get("LLM_EVOLUTION_RERUN") != "1":
        when = json.loads(record.read_text()).get("passed", "earlier")
        pytest.skip(f"up to date: this built site passed the browser test ({when}); "
                    "LLM_EVOLUTION_RERUN=1 runs it anyway")
    yield
    # Only a whole run counts: one narrowed by -k or -m (or to some test ids) passed a part.
    options = request.config.option
    whole = not (options.keyword or options.markexpr) and all(
        "::" not in str(arg) for arg in request.config.args)
    if request.session.testsfailed == 0 and whole:
        record.write_text(json.dumps({"site": str(path), "passed": datetime.datetime.now()
                                      .isoformat(timespec="seconds")}))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def site_url(site_dir: Path) -> Iterator[str]:
    """Serve ``site_dir`` on 127.0.0.1 (a free port) from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def page_url(site_url: str, site_dir: Path, site_page: str | None) -> str:
    """The URL of this test's ``site_page`` on the local server."""
    assert site_page is not None  # site_dir has failed already when there is no site
    return site_url + page_path_in_url(site_page)


# --------------------------------------------------------------------------- parsed HTML


@pytest.fixture(scope="session")
def parsed_html(site_dir: Path) -> Callable[[str], ParsedPage]:
    """``parsed_html("chapters/01-x/index.html")``: that file parsed once per session."""

    @functools.cache
    def parse(relative: str) -> ParsedPage:
        return parse_page(site_dir / relative)

    return parse


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _find_chromium()
    if path is None:
        if _in_ci():
            pytest.fail(
                "CI is set but no Chromium was found (/usr/bin/chromium, `chromium` on PATH "
                "or CHROMIUM_PATH); .ci/run installs it with apt-get. " + INSTALL_HINT,
                pytrace=False,
            )
        pytest.skip(INSTALL_HINT)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _in_ci():
            raise
        pytest.skip("the playwright package is missing: `pip install -e '.[test]'`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserLog:
    """Everything the pages of one test did that the tests check afterwards."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        bad = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in HARMLESS_SCHEMES:
                continue
            if parts.scheme not in {"http", "https"} or parts.hostname not in LOOPBACK_HOSTS:
                bad.append(url)
        return bad

    def assert_clean(self) -> None:
        """Every request stayed on 127.0.0.1; no console error, page error or failed load."""
        assert self.requests, "no request was recorded: the request recorder is broken"
        problems = {
            "requests that left 127.0.0.1": self.outside_requests(),
            "uncaught page errors": self.page_errors,
            "console errors": self.console_errors,
            "failed loads": self.failed,
        }
        report = [
            f"{title}:\n  " + "\n  ".join(dict.fromkeys(items))
            for title, items in problems.items()
            if items
        ]
        if report:
            pytest.fail("\n".join(report))


@pytest.fixture(scope="session")
def session_log() -> BrowserLog:
    """All requests, across every browser test (each test also checks its own)."""
    return BrowserLog()


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def new_page(browser, browser_log: BrowserLog, session_log: BrowserLog) -> Iterator[Callable]:
    """Factory: ``new_page(**context_options)`` -> a Page whose activity is recorded.

    Requests to anything but loopback are recorded and then aborted, so the site never
    depends on the network and such a request fails the test at once.
    """
    contexts = []

    def record(kind: str, text: str) -> None:
        getattr(browser_log, kind).append(text)
        getattr(session_log, kind).append(text)

    def guard(route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in HARMLESS_SCHEMES or parts.hostname in LOOPBACK_HOSTS:
            route.fallback()
        else:
            route.abort("blockedbyclient")

    def make(**options):
        options.setdefault("color_scheme", "light")
        context = browser.new_context(service_workers="block", **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        context.on("request", lambda r: record("requests", r.url))
        context.on(
            "requestfailed",
            lambda r: record("failed", f"{r.url}: {r.failure}"),
        )
        context.on(
            "response",
            lambda r: r.status >= 400 and record("failed", f"{r.url}: HTTP {r.status}"),
        )
        context.route("**/*", guard)
        page = context.new_page()
        page.on(
            "console",
            lambda m: m.type == "error"
            and record("console_errors", f"{m.text} ({m.location.get('url', '')})"),
        )
        page.on("pageerror", lambda e: record("page_errors", str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
