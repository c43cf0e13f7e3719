"""Lighthouse on the built site: the home page and every chapter page.

    python tools/lighthouse/run.py [SITE_DIR] [--preset mobile|desktop] [--runs N]
                                   [--page URL_PATH ...] [--json-dir DIR]

(``make lighthouse`` runs it on ``site/``.)  Serves SITE_DIR (default ``site/``) on
127.0.0.1, runs Lighthouse 12.2.3 (``tools/lighthouse/node_modules``, installed from the
committed package-lock.json with ``npm ci`` when missing) on each page in Debian's Chromium
(``CHROME_PATH``, default /usr/bin/chromium), prints a table of scores and page weights, and
exits non-zero when a page scores under 0.95 in performance or 0.98 in accessibility, or
weighs more than 1 MiB.  Each page is measured three times (``--runs``): the table shows the
run of median performance, and the median accessibility score.

The preset is Lighthouse's default, ``mobile``: a phone's screen, a 4x slower CPU and a slow
4G network, simulated (Lantern) from one unthrottled load.  The simulation multiplies the CPU
time this machine spent by 4, so a machine busy with other work (training models, say) scores
the heavier chapters a few hundredths lower in performance, through their total blocking
time; measure on an idle machine.  ``--preset desktop`` is the lenient one.  A run that
paints nothing (Lighthouse's NO_FCP, a busy machine again) is repeated, twice at most.

The server compresses text responses with gzip, as every static host does (GitHub Pages,
Netlify, a default nginx): Lighthouse simulates the network from the bytes transferred, and
an uncompressed local server would charge each page several times its real weight.  A page's
weight is what the browser fetched for it while Lighthouse watched (Lighthouse's
total-byte-weight: the HTML, the theme's CSS and JavaScript, the figures shown and the search
index, compressed); the 1 MiB limit applies to it.  The table shows the same requests
uncompressed beside it.

Chromium runs with the flags of /work/shared/TOOLING-NOTES.md: without the
background-networking ones it tries to reach outside hosts on its own.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
LIGHTHOUSE = HERE / "node_modules" / ".bin" / "lighthouse"

MIN_PERFORMANCE = 0.95
MIN_ACCESSIBILITY = 0.98
MAX_BYTES = 2**20

CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml",
                    "application/xml")


class _GzipHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that gzips text, as a real host does; quiet."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def send_head(self):  # type: ignore[override]
        path = self.translate_path(self.path)
        if os.path.isdir(path) and self.path.split("?")[0].endswith("/"):
            path = os.path.join(path, "index.html")
        if os.path.isdir(path) or "gzip" not in self.headers.get("Accept-Encoding", ""):
            return super().send_head()
        ctype = self.guess_type(path)
        if not ctype.startswith(COMPRESSED_TYPES) or not os.path.isfile(path):
            return super().send_head()
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        return io.BytesIO(body)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_GzipHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="site-server", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def pages(site: Path) -> list[str]:
    """The home page and every chapter page, as URL paths."""
    chapters = sorted(p.parent.relative_to(site).as_posix() + "/"
                      for p in (site / "chapters").glob("*/index.html"))
    return [""] + chapters


def ensure_lighthouse() -> None:
    if LIGHTHOUSE.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is missing: install Node.js 18.20 or newer (Debian: apt-get install npm)")
    print("installing Lighthouse from tools/lighthouse/package-lock.json (npm ci) ...",
          flush=True)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)


def run_lighthouse(url: str, preset: str, out: Path) -> dict:
    command = [
        str(LIGHTHOUSE), url,
        "--quiet",
        "--output=json", f"--output-path={out}",
        "--only-categories=performance,accessibility",
        "--chrome-flags=" + " ".join(CHROME_FLAGS),
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = dict(os.environ)
    env.setdefault("CHROME_PATH", "/usr/bin/chromium")
    subprocess.run(command, check=True, env=env, timeout=300)
    return json.loads(out.read_text())


def measure(url: str, preset: str, out: Path) -> dict:
    """One Lighthouse report of ``url``; again when a run painted nothing."""
    for _ in range(3):
        print(f"lighthouse ({preset}) {url} ...", file=sys.stderr, flush=True)
        report = run_lighthouse(url, preset, out)
        # A run that saw no paint (NO_FCP: the machine too busy to draw in time) has no
        # performance score; it says nothing about the page.
        if report["categories"]["performance"]["score"] is not None:
            break
        print("  no paint seen (NO_FCP); again", file=sys.stderr, flush=True)
    return report


def summarise(report: dict) -> dict:
    audits = report["audits"]
    categories = report["categories"]
    requests = audits["network-requests"]["details"]["items"]
    failing = {}
    for name in ("performance", "accessibility"):
        failing[name] = [
            ref["id"] for ref in categories[name]["auditRefs"]
            if ref["weight"] > 0 and (audits[ref["id"]].get("score") is not None)
            and audits[ref["id"]]["score"] < 0.9
        ]
    def value(audit: str) -> float:  # NaN where Lighthouse could not measure it
        return audits[audit].get("numericValue", float("nan"))

    return {
        # None (no score: the page never painted) counts as 0.
        "performance": categories["performance"]["score"] or 0.0,
        "accessibility": categories["accessibility"]["score"] or 0.0,
        "fcp_ms": value("first-contentful-paint"),
        "lcp_ms": value("largest-contentful-paint"),
        "tbt_ms": value("total-blocking-time"),
        "cls": value("cumulative-layout-shift"),
        "transfer_bytes": value("total-byte-weight"),
        "resource_bytes": sum(r.get("resourceSize") or 0 for r in requests),
        "failing": failing,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default=str(REPO_ROOT / "site"))
    parser.add_argument("--preset", choices=("mobile", "desktop"), default="mobile")
    parser.add_argument("--runs", type=int, default=3,
                        help="Lighthouse runs per page; the table shows the run of median "
                             "performance (default 3, as Lighthouse's docs advise for "
                             "run-to-run variance)")
    parser.add_argument("--json-dir", help="keep each page's Lighthouse report (JSON) here")
    parser.add_argument("--page", action="append",
                        help="only this URL path (e.g. chapters/02-before-transformers/); "
                             "repeatable")
    args = parser.parse_args()

    site = Path(args.site).resolve()
    if not (site / "index.html").is_file():
        sys.exit(f"{site / 'index.html'} is missing: build the site first (make build)")
    ensure_lighthouse()
    server, base = serve(site)
    keep = Path(args.json_dir) if args.json_dir else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for path in args.page or pages(site):
                name = path.strip("/").replace("/", "-") or "home"
                runs = []
                for run in range(args.runs):
                    out = (keep or Path(tmp)) / f"{name}-{run + 1}.json"
                    runs.append(summarise(measure(base + path, args.preset, out)))
                # The run of median performance; the median accessibility score of all.
                middle = len(runs) // 2
                result = sorted(runs, key=lambda r: r["performance"])[middle]
                result["accessibility"] = sorted(r["accessibility"] for r in runs)[middle]
                results[path] = result
    finally:
        server.shutdown()
        server.server_close()

    print(f"\nLighthouse 12.2.3, {args.preset} preset, {site} (each page: the run of median "
          f"performance of {args.runs})")
    header = (f"{'page':<36} {'perf':>5} {'a11y':>5} {'FCP s':>6} {'LCP s':>6} {'TBT ms':>7} "
              f"{'CLS':>5} {'KiB sent':>9} {'KiB raw':>8}")
    print(header)
    print("-" * len(header))
    problems = []
    for path, r in results.items():
        print(f"{'/' + path:<36} {r['performance']:>5.2f} {r['accessibility']:>5.2f} "
              f"{r['fcp_ms'] / 1000:>6.1f} {r['lcp_ms'] / 1000:>6.1f} {r['tbt_ms']:>7.0f} "
              f"{r['cls']:>5.2f} {r['transfer_bytes'] / 1024:>9.0f} "
              f"{r['resource_bytes'] / 1024:>8.0f}")
        if r["performance"] < MIN_PERFORMANCE:
            problems.append(f"/{path}: performance {r['performance']:.2f} < {MIN_PERFORMANCE}"
                            f" (audits under 0.9: {', '.join(r['failing']['performance'])})")
        if r["accessibility"] < MIN_ACCESSIBILITY:
            problems.append(
                f"/{path}: accessibility {r['accessibility']:.2f} < {MIN_ACCESSIBILITY}"
                f" (failing: {', '.join(r['failing']['accessibility'])})")
        if r["transfer_bytes"] > MAX_BYTES:
            problems.append(f"/{path}: {r['transfer_bytes'] / 2**20:.2f} MiB > 1 MiB")
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        return 1
    print(f"\nall {len(results)} pages: performance >= {MIN_PERFORMANCE}, accessibility >= "
          f"{MIN_ACCESSIBILITY}, at most 1 MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
