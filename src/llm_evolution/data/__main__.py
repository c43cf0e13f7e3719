"""Command line: ``python -m llm_evolution.data fetch`` builds the Shakespeare corpus once.

``fetch`` downloads nothing when the corpus is already built; ``--force`` rebuilds it.
"""

from __future__ import annotations

import argparse
import sys

from llm_evolution.data import corpus_plays, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_evolution.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = commands.add_parser("fetch", help="build the Shakespeare corpus in the cache")
    fetch_cmd.add_argument("--force", action="store_true", help="rebuild even if already built")
    fetch_cmd.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)

    path = fetch(force=args.force)
    if not args.quiet:
        plays = corpus_plays()
        chars = sum(len(p.text) for p in plays)
        print(f"{path}: {len(plays)} plays, {chars:,} characters of play text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
