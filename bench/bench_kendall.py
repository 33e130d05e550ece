"""Benchmark the rank test (Kendall's tau-b) at large k: metareview against scipy and metafor.

For k = 10,000, 100,000 and 1,000,000 studies (vi ~ Uniform(0.01, 0.2) rounded to 4
decimals, so the variances have ties as real ones do; yi ~ N(0.2, vi + 0.02)):

* ``metareview.ranktest(rma(yi, vi, method="EE"))``: wall time (median of ``--repeats``
  after a warm-up) and peak of Python/numpy allocations during the test (tracemalloc);
* ``scipy.stats.kendalltau`` on the same standardised deviates (Knight's algorithm in
  Cython): time, and the difference in tau and p;
* metafor's ``ranktest`` (R's ``cor.test``, O(k^2) pairs) for the k up to ``--r-max-k``,
  timed inside R, and its difference in tau and p.

Usage::

    .venv/bin/python bench/bench_kendall.py [--ks 10000,100000,1000000] [--repeats 3]

A benchmark, not a test: it asserts nothing. It writes ``bench/results/kendall.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy import stats

import metareview as mr
from _machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "kendall.md"

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
suppressPackageStartupMessages(library(metafor))
d <- read.csv(args[1])
t0 <- proc.time()[["elapsed"]]
r <- ranktest(rma(d$yi, d$vi, method = "EE"))
cat("RESULT", sprintf("%.6f", proc.time()[["elapsed"]] - t0), sprintf("%a", r$tau),
    sprintf("%a", r$pval), as.character(packageVersion("metafor")), "\n")
"""


def simulate(k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = np.round(rng.uniform(0.01, 0.2, k), 4)
    return np.round(rng.normal(0.2, np.sqrt(vi + 0.02)), 10), vi


def deviates(yi: np.ndarray, vi: np.ndarray) -> np.ndarray:
    w = 1 / vi
    return (yi - np.sum(w * yi) / np.sum(w)) / np.sqrt(vi - 1 / np.sum(w))


def median_time(fn, repeats: int) -> tuple[float, object]:
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run_metafor(yi: np.ndarray, vi: np.ndarray) -> tuple[float, float, float, str] | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench_kendall_") as tmp:
        data, script = Path(tmp) / "d.csv", Path(tmp) / "r.R"
        np.savetxt(
            data, np.column_stack([yi, vi]), delimiter=",", header="yi,vi", comments="", fmt="%.17g"
        )
        script.write_text(R_SCRIPT)
        done = subprocess.run(
            [rscript, str(script), str(data)], capture_output=True, text=True, check=True
        )
    fields = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    _, seconds, tau, pval, version = fields.split()
    return float(seconds), float.fromhex(tau), float.fromhex(pval), version


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", default="10000,100000,1000000")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--r-max-k", type=int, default=10_000, help="largest k given to metafor")
    args = ap.parse_args(argv)
    load_start = os.getloadavg()[0]
    rows = []
    metafor_version = "-"
    for k in (int(value) for value in args.ks.split(",")):
        yi, vi = simulate(k)
        res = mr.rma(yi, vi, method="EE")
        ours_s, ours = median_time(lambda res=res: mr.ranktest(res), args.repeats)
        tracemalloc.start()
        mr.ranktest(res)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        ystar = deviates(yi, vi)
        scipy_s, ref = median_time(lambda y=ystar, v=vi: stats.kendalltau(y, v), args.repeats)
        rows.append(
            [
                f"{k:,}",
                "metareview ranktest",
                f"{ours_s:.3f}",
                f"{peak:.1f}",
                f"tau = {ours.tau:.6f}, p = {ours.pval:.4g}",
            ]
        )
        rows.append(
            [
                f"{k:,}",
                "scipy.stats.kendalltau",
                f"{scipy_s:.3f}",
                "",
                f"differences: tau {abs(ours.tau - ref.statistic):.1e}, p "
                f"{abs(ours.pval - ref.pvalue) / ref.pvalue:.1e} relative",
            ]
        )
        print(rows[-2], rows[-1], flush=True)
        if k <= args.r_max_k:
            found = run_metafor(yi, vi)
            if found is not None:
                seconds, tau, pval, metafor_version = found
                rows.append(
                    [
                        f"{k:,}",
                        "metafor ranktest",
                        f"{seconds:.3f}",
                        "",
                        f"{seconds / ours_s:,.0f}x metareview's time; differences: tau "
                        f"{abs(ours.tau - tau):.1e}, p "
                        f"{abs(ours.pval - pval) / pval:.1e} relative",
                    ]
                )
                print(rows[-1], flush=True)
    lines = [
        "# Rank test (Kendall's tau-b) at large k",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine(('metafor', metafor_version))}; 1-min load average "
        f"{load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end",
        f"- median of {args.repeats} runs after a warm-up; peak = tracemalloc peak during one "
        "ranktest() (numpy included); metafor timed inside R",
        "",
        "| k | tool | time (s) | peak memory (MB) | notes |",
        "|---:|---|---:|---:|---|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
