"""Benchmark metareview's ``rma_mv`` (three-level model) against metafor's ``rma.mv``.

Simulates three-level data (fixed seed): studies with 1-19 effect sizes each (about 10 on
average), study effects ~ N(0, 0.3^2), effect-size effects ~ N(0, 0.2^2), sampling
variances ~ Uniform(0.01, 0.1), true mean 0.3; writes them to a temporary CSV and fits
``random = ~ 1 | study/esid`` (REML) with both tools on the same data. R times the fit with
``proc.time()`` inside R (start-up and reading data excluded); metafor runs with its
default control (dense k x k matrices; only up to ``--dense-max`` effect sizes, it is very
slow) and with ``sparse = TRUE`` (its option for large k, only up to ``--sparse-max``: at
k = 20,000 it ran out of reasonable memory; the agreement columns compare with this fit).
metareview is timed as the best of 3 runs. The agreement columns give the largest relative
difference of sigma2 and |difference| of the estimate between the tools (metafor at its
default optimiser tolerance; see tests/stats/test_mv_vs_metafor.py for the agreement
at tight tolerances).

Usage::

    .venv/bin/python bench/bench_mv.py [--sizes 1000,5000,20000] [--seed 20261207]

This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import metareview
from _machine import machine
from metareview import rma_mv

RESULTS = Path(__file__).resolve().parent / "results" / "mv.md"

R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
t_dense <- NaN
if (args[2] == "dense") {
  t0 <- proc.time()[3]
  fd <- rma.mv(yi, vi, random = ~ 1 | study/esid, data = d)
  t_dense <- proc.time()[3] - t0
}
t0 <- proc.time()[3]
f <- rma.mv(yi, vi, random = ~ 1 | study/esid, data = d, sparse = TRUE)
t_sparse <- proc.time()[3] - t0
cat(sprintf("%.6f %.6f %.17g %.17g %.17g\n", t_dense, t_sparse, f$beta[1], f$sigma2[1],
            f$sigma2[2]))
cat(as.character(packageVersion("metafor")), "\n")
"""


def simulate(k_target: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < k_target:
        sizes.append(int(rng.integers(1, 20)))
    sizes[-1] -= sum(sizes) - k_target
    study = np.repeat(np.arange(len(sizes)), sizes)
    k = study.size
    vi = rng.uniform(0.01, 0.1, k)
    yi = (
        0.3
        + rng.normal(0, 0.3, len(sizes))[study]
        + rng.normal(0, 0.2, k)
        + rng.normal(0, np.sqrt(vi))
    )
    return pd.DataFrame({"study": study + 1, "esid": np.arange(1, k + 1), "yi": yi, "vi": vi})


def _num(x: float, spec: str, suffix: str = "") -> str:
    return "not run" if np.isnan(x) else format(x, spec) + suffix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="numbers of effect sizes")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument(
        "--dense-max",
        type=int,
        default=1000,
        help="largest k for which metafor's dense fit is timed (it took "
        "107 s at k = 1,000 on 2 shared cores)",
    )
    parser.add_argument(
        "--sparse-max",
        type=int,
        default=5000,
        help="largest k for which metafor's sparse fit is run (at k = 20,000 its R process "
        "grew past 11 GB of memory in 11 minutes without finishing, on a shared 24 GB machine)",
    )
    args = parser.parse_args()
    rows = []
    version = ""
    for k in map(int, args.sizes.split(",")):
        d = simulate(k, args.seed)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            res = rma_mv("yi", "vi", random="~ 1 | study/esid", data=d)
            times.append(time.perf_counter() - t0)
        ours = min(times)
        n_studies = d["study"].nunique()
        if shutil.which("Rscript") and k <= args.sparse_max:
            with tempfile.TemporaryDirectory() as tmp:
                path, script = Path(tmp, "d.csv"), Path(tmp, "bench.R")
                d.to_csv(path, index=False, float_format="%.17g")
                script.write_text(R_SCRIPT)
                dense = "dense" if k <= args.dense_max else "skip"
                proc = subprocess.run(
                    ["Rscript", str(script), str(path), dense],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                line, version = proc.stdout.strip().splitlines()[-2:]
                t_dense, t_sparse, beta, s1, s2 = map(float, line.split())
            rel = np.max(np.abs(res.sigma2 - [s1, s2]) / np.array([s1, s2]))
            rows.append((k, n_studies, ours, t_dense, t_sparse, rel, abs(res.beta[0] - beta)))
        else:
            print(f"k = {k}: metafor comparison skipped (no Rscript, or k > --sparse-max)")
            rows.append((k, n_studies, ours, np.nan, np.nan, np.nan, np.nan))
    lines = [
        f"# bench_mv ({dt.date.today().isoformat()})",
        "",
        machine(
            ("metareview", metareview.__version__),
            *((("metafor", version.strip()),) if version else ()),
        ),
        "",
        f"Three-level model `~ 1 | study/esid`, REML, simulated data (seed {args.seed}).",
        "",
        "| k | studies | metareview (s) | metafor dense (s) | metafor sparse (s) | "
        "dense / ours | sparse / ours | sigma2 max rel diff | estimate abs diff |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {k:,} | {n:,} | {o:.3f} | {_num(td, '.2f')} | {_num(ts, '.2f')} | "
        f"{_num(td / o, '.0f', 'x')} | {_num(ts / o, '.0f', 'x')} | {_num(r, '.1e')} | "
        f"{_num(b, '.1e')} |"
        for k, n, o, td, ts, r, b in rows
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
