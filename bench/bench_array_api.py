"""Benchmark the array API ``rma_batch`` against ``batch()`` and a metafor loop (issue 21.3).

On B meta-analyses of k = 10 studies (data of ``bench_scale.py``), in one process:

* ``rma_batch(Y, V, method=...)`` as the README shows it (defaults), then with
  ``tau2_ci=False`` and with ``threads=1`` (where the installed version has the option);
* ``batch(df, by=..., method=...)`` on the same numbers as a long table (default threads);
* an R loop of metafor ``rma()`` over the first ``--sample`` meta-analyses (DL; REML with
  ``threshold=1e-10, maxiter=1000``, metareview's default control), timed inside R, giving
  the ratio of metafor's time per fit to metareview's.

metareview timings are medians of ``--repeats`` runs after a warm-up: wall time, and CPU
time of the process (all threads; the machine may be shared). ``--label`` names the code
under test (run it once on the old code with ``PYTHONPATH=<old>/src`` for a before/after).

Usage::

    .venv/bin/python bench/bench_array_api.py [--n 200000] [--repeats 3] [--label after]

A benchmark, not a test: it asserts nothing. It appends to ``bench/results/array_api.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import metareview as mr
from _machine import machine
from bench_scale import long_table, simulate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "array_api.md"

R_LOOP = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(metafor))
d <- read.csv(args[1])
f <- factor(d$id, levels = unique(d$id))
ys <- split(d$yi, f); vs <- split(d$vi, f)
for (method in c("DL", "REML")) {
  ctrl <- if (method == "REML") list(threshold = 1e-10, maxiter = 1000) else list()
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_along(ys)) {
    fit <- tryCatch(rma(yi = ys[[i]], vi = vs[[i]], method = method, control = ctrl),
                    error = function(e) NULL)
  }
  cat("TIME", method, sprintf("%.6f", (proc.time()[["elapsed"]] - t0) / length(ys)),
      as.character(packageVersion("metafor")), "\n")
}
"""


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeats`` calls after one warm-up call."""
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def metafor_per_fit(Y: np.ndarray, V: np.ndarray) -> tuple[dict[str, float], str] | None:
    """metafor's seconds per fit (DL, REML) on these meta-analyses, timed inside R."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench_array_api_") as tmp:
        data, script = Path(tmp) / "d.csv", Path(tmp) / "loop.R"
        B, k = Y.shape
        np.savetxt(
            data,
            np.column_stack([np.repeat(np.arange(B), k), Y.ravel(), V.ravel()]),
            delimiter=",",
            header="id,yi,vi",
            comments="",
            fmt=["%d", "%.17g", "%.17g"],
        )
        script.write_text(R_LOOP)
        out = subprocess.run(
            [rscript, str(script), str(data)], capture_output=True, text=True, check=True
        ).stdout
    per_fit, version = {}, "?"
    for line in out.splitlines():
        if line.startswith("TIME"):
            _, method, seconds, version = line.split()
            per_fit[method] = float(seconds)
    return per_fit, version


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sample", type=int, default=1_000, help="fits timed in metafor")
    ap.add_argument("--label", default="current code")
    args = ap.parse_args(argv)
    mr.stats.keep_freed_memory()  # the allocator opt-in, as the other benchmarks
    load_start = os.getloadavg()[0]
    Y, V = simulate(args.n, 10, 1)
    table = long_table(Y, V)
    has_threads = "threads" in inspect.signature(mr.rma_batch).parameters
    runs: list[tuple[str, Callable[[str], object]]] = [
        ("rma_batch(Y, V, method=m)", lambda m: mr.rma_batch(Y, V, method=m)),
        ("rma_batch(..., tau2_ci=False)", lambda m: mr.rma_batch(Y, V, method=m, tau2_ci=False)),
    ]
    if has_threads:
        runs.append(
            ("rma_batch(..., threads=1)", lambda m: mr.rma_batch(Y, V, method=m, threads=1))
        )
        runs.append(
            (
                "rma_batch(...).tau2_ci_lb (CIs asked for)",
                lambda m: mr.rma_batch(Y, V, method=m).tau2_ci_lb,
            )
        )
    runs.append(
        ("batch(df, by=..., method=m)", lambda m: mr.batch(table, by="study_set", method=m))
    )
    found = metafor_per_fit(Y[: args.sample], V[: args.sample])
    rows = []
    for method in ("DL", "REML"):
        for name, fn in runs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wall, cpu = timed(lambda fn=fn, m=method: fn(m), args.repeats)
            ratio = f"{found[0][method] / (wall / args.n):,.0f}x" if found else "-"
            rows.append(
                f"| {args.label} | {method} | {name} | {wall:.3f} | {cpu:.3f} | "
                f"{wall / args.n * 1e6:.2f} | {ratio} |"
            )
            print(rows[-1], flush=True)
    metafor = (
        f"metafor {found[1]} per fit: DL {found[0]['DL'] * 1e3:.2f} ms, REML "
        f"{found[0]['REML'] * 1e3:.2f} ms (loop over {args.sample:,} fits, timed in R)"
        if found
        else "metafor not run"
    )
    header = not RESULTS.exists()
    with RESULTS.open("a") as out:
        if header:
            out.write(
                "# The array API: rma_batch against batch() and a metafor loop\n\n"
                "| code | method | call | wall (s) | CPU (s) | per fit (µs) | metafor "
                "per fit / metareview per fit |\n|---|---|---|---:|---:|---:|---:|\n"
            )
        out.write("\n".join(rows) + "\n")
    notes = RESULTS.with_suffix(".notes.md")
    with notes.open("a") as out:
        out.write(
            f"- {args.label}: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; "
            f"{args.n:,} x k = 10; median of {args.repeats}; {metafor}; "
            f"1-min load {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
            f"{machine()}\n"
        )
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
