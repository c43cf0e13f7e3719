"""Chapter 8's fits from recorded runs, printed at the page's precision: a test runs this
natively and under an emulated CPU and compares the text (tests/test_scaling_runs.py).

Usage: python -m tests.fit_probe ROWS.json (the rows of scaling_runs.sweep_runs)."""

from llm_evolution import numerics

numerics.use_reference_path()

import json  # noqa: E402
import sys  # noqa: E402

from llm_evolution import scaling_runs  # noqa: E402


def rounded(value: float) -> str:  # as the chapter prints its constants
    return "0" if abs(value) < 1e-3 else f"{value:.3g}"


rows = json.loads(open(sys.argv[1]).read())
fits = scaling_runs.fit_all(rows)
print({name: [rounded(v) for v in fit] for name, fit in fits.items()})
print([f"{predicted:.3f}" for _, predicted, _ in scaling_runs.held_out_prediction(rows)])
law = fits["L(N, D)"]
print([f"{float(f'{n:.3g}'):,.0f}" for n, _ in map(law.compute_optimal, (1e11, 1e12, 1e13))])
