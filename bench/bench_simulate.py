"""Benchmark (not a test): a simulation study of 10,000 reps x 6 methods x 4 scenarios.

Run: .venv/bin/python bench/bench_simulate.py. Prints the wall time and the performance table.
"""

from __future__ import annotations

import time

import pandas as pd

from metareview import simulate
from metareview.stats import keep_freed_memory

SCENARIOS = {
    "k5, tau2 0.05": {"theta": 0.3, "tau2": 0.05, "k": 5},
    "k10, tau2 0.1": {"theta": 0.3, "tau2": 0.1, "k": 10},
    "k20, tau2 0": {"theta": 0.0, "tau2": 0.0, "k": 20},
    "k10, proportions": {"theta": 0.5, "tau2": 0.2, "k": 10, "outcome": "proportion"},
}
METHODS = ["DL", "REML", "PM", "SJ", "DL+knha", "REML+knha"]


def main() -> None:
    keep_freed_memory()  # the allocator opt-in (bench_malloc.py measures its effect)
    start = time.perf_counter()
    out = simulate(SCENARIOS, METHODS, reps=10_000, seed=2026)
    elapsed = time.perf_counter() - start
    pd.set_option("display.width", 160)
    print(
        out.table[
            [
                "scenario",
                "method",
                "bias",
                "coverage",
                "coverage_mcse",
                "pi_coverage",
                "rejection",
                "failed",
            ]
        ]
        .round(4)
        .to_string(index=False)
    )
    print(
        f"\n10,000 reps x {len(METHODS)} methods x {len(SCENARIOS)} scenarios "
        f"= {10_000 * len(METHODS) * len(SCENARIOS):,} fits in {elapsed:.2f} s"
    )


if __name__ == "__main__":
    main()
