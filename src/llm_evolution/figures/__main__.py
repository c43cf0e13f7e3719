"""Render every figure without MkDocs: ``python -m llm_evolution.figures --out figures/``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from llm_evolution.figures import build_all, registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="folder to copy the SVG files into")
    parser.add_argument("--list", action="store_true", help="list figure names and alt texts")
    args = parser.parse_args()
    if args.list:
        for name, spec in sorted(registry().items()):
            print(f"{name}: {spec.alt}")
        return
    start = time.perf_counter()
    rendered = build_all(args.out)
    where = args.out if args.out else next(iter(rendered.values())).parent
    print(f"{len(rendered)} SVG files in {where} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
