"""Benchmark metareview's Mantel-Haenszel, Peto and GLMM fits against metafor, same data.

Simulates B meta-analyses of k two-arm trials (fixed seed; control risk logit ~ N(-1, 0.5^2),
log odds ratio ~ N(-0.3, 0.2^2), arm sizes 20-120) and B single-arm proportion sets
(logit ~ N(0.3, 0.8^2), n 10-80), writes them to a temporary CSV, and times

* ``rma_mh`` (OR) and ``rma_peto``: a Python loop over the B fits, against an R loop of
  metafor's ``rma.mh`` / ``rma.peto``;
* ``rma_glmm_batch`` (PLO, one call for all B fits), against an R loop of
  ``rma.glmm(measure="PLO")`` (lme4, nAGQ = 7) over the first ``--glmm-sample`` fits,
  extrapolated linearly to B (the table says so);
* ``rma_glmm(measure="OR")`` one fit at a time with ``model="UM.FS"`` (first
  ``--glmm-sample`` tables) and ``model="CM.EL"`` (first ``--cmel-sample`` tables), against
  metafor's ``rma.glmm`` on the same tables (CM.EL: BiasedUrn densities integrated by R's
  ``integrate``; tens of seconds a fit).

R times its loops with ``proc.time()`` inside R (start-up and reading data excluded). The
agreement columns give the largest |difference| between the tools over the fits both ran.

Usage::

    .venv/bin/python bench/bench_binary.py [--n 2000] [--k 10] [--glmm-sample 40]

This is a benchmark, not a test: it asserts nothing. A run takes three to five minutes.
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
from metareview import rma_glmm, rma_glmm_batch, rma_mh, rma_peto
from metareview.stats import keep_freed_memory

RESULTS = Path(__file__).resolve().parent / "results" / "binary.md"

R_SCRIPT = r"""
suppressPackageStartupMessages({library(metafor); library(lme4); library(BiasedUrn)})
args <- commandArgs(trailingOnly = TRUE)
tab <- read.csv(args[1]); prop <- read.csv(args[2]); nglmm <- as.integer(args[3])
out <- args[4]
ids <- sort(unique(tab$b))
mh <- matrix(NA, length(ids), 2); pe <- matrix(NA, length(ids), 2)
t0 <- proc.time()[3]
for (j in seq_along(ids)) {
  d <- tab[tab$b == ids[j], ]
  f <- rma.mh(ai = d$ai, bi = d$bi, ci = d$ci, di = d$di, measure = "OR")
  mh[j, ] <- c(f$beta, f$se)
}
t_mh <- proc.time()[3] - t0
t0 <- proc.time()[3]
for (j in seq_along(ids)) {
  d <- tab[tab$b == ids[j], ]
  f <- rma.peto(ai = d$ai, bi = d$bi, ci = d$ci, di = d$di)
  pe[j, ] <- c(f$beta, f$se)
}
t_peto <- proc.time()[3] - t0
gl <- matrix(NA, nglmm, 3)
t0 <- proc.time()[3]
for (j in seq_len(nglmm)) {
  d <- prop[prop$b == ids[j], ]
  f <- suppressWarnings(rma.glmm(measure = "PLO", xi = d$xi, ni = d$ni))
  gl[j, ] <- c(f$beta, f$se, f$tau2)
}
t_glmm <- proc.time()[3] - t0
ncmel <- as.integer(args[5])
fs <- matrix(NA, nglmm, 3); el <- matrix(NA, ncmel, 3)
t0 <- proc.time()[3]
for (j in seq_len(nglmm)) {
  d <- tab[tab$b == ids[j], ]
  f <- suppressWarnings(rma.glmm(measure = "OR", ai = d$ai, bi = d$bi, ci = d$ci, di = d$di))
  fs[j, ] <- c(f$beta, f$se, f$tau2)
}
t_fs <- proc.time()[3] - t0
t0 <- proc.time()[3]
for (j in seq_len(ncmel)) {
  d <- tab[tab$b == ids[j], ]
  f <- suppressWarnings(rma.glmm(measure = "OR", model = "CM.EL", ai = d$ai, bi = d$bi,
                                 ci = d$ci, di = d$di))
  el[j, ] <- c(f$beta, f$se, f$tau2)
}
t_el <- proc.time()[3] - t0
write.csv(data.frame(est = fs[, 1], se = fs[, 2], tau2 = fs[, 3]), paste0(out, "_umfs.csv"),
          row.names = FALSE)
write.csv(data.frame(est = el[, 1], se = el[, 2], tau2 = el[, 3]), paste0(out, "_cmel.csv"),
          row.names = FALSE)
write.csv(data.frame(mh_est = mh[, 1], mh_se = mh[, 2], peto_est = pe[, 1],
                     peto_se = pe[, 2]), paste0(out, "_two.csv"), row.names = FALSE)
write.csv(data.frame(est = gl[, 1], se = gl[, 2], tau2 = gl[, 3]), paste0(out, "_glmm.csv"),
          row.names = FALSE)
cat(sprintf("%.6f %.6f %.6f %.6f %.6f\n", t_mh, t_peto, t_glmm, t_fs, t_el))
cat(as.character(packageVersion("metafor")), as.character(packageVersion("lme4")),
    R.version$major, R.version$minor, "\n")
"""


def simulate(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    n1 = rng.integers(20, 121, (n, k))
    n2 = rng.integers(20, 121, (n, k))
    base = rng.normal(-1.0, 0.5, (n, k))
    log_or = rng.normal(-0.3, 0.2, (n, k))
    ai = rng.binomial(n1, 1 / (1 + np.exp(-(base + log_or))))
    ci = rng.binomial(n2, 1 / (1 + np.exp(-base)))
    ni = rng.integers(10, 81, (n, k))
    xi = rng.binomial(ni, 1 / (1 + np.exp(-rng.normal(0.3, 0.8, (n, k)))))
    return ai, n1 - ai, ci, n2 - ci, xi, ni


def long_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    first = next(iter(columns.values()))
    b = np.repeat(np.arange(1, first.shape[0] + 1), first.shape[1])
    return pd.DataFrame({"b": b, **{name: v.reshape(-1) for name, v in columns.items()}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="meta-analyses (B)")
    parser.add_argument("--k", type=int, default=10, help="studies per meta-analysis")
    parser.add_argument("--big", type=int, default=10000, help="B for a second GLMM batch")
    parser.add_argument("--glmm-sample", type=int, default=40, help="metafor GLMM fits timed")
    parser.add_argument("--cmel-sample", type=int, default=5, help="CM.EL fits timed")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    keep_freed_memory()  # the allocator opt-in, as the other benchmarks
    ai, bi, ci, di, xi, ni = simulate(args.n, args.k, args.seed)

    t0 = time.perf_counter()
    mh = np.array(
        [
            (r.estimate, r.se)
            for r in (rma_mh(ai=ai[b], bi=bi[b], ci=ci[b], di=di[b]) for b in range(args.n))
        ]
    )
    t_mh = time.perf_counter() - t0
    t0 = time.perf_counter()
    peto = np.array(
        [
            (r.estimate, r.se)
            for r in (rma_peto(ai=ai[b], bi=bi[b], ci=ci[b], di=di[b]) for b in range(args.n))
        ]
    )
    t_peto = time.perf_counter() - t0
    t0 = time.perf_counter()
    glmm = rma_glmm_batch(xi, ni)
    t_glmm = time.perf_counter() - t0
    m, m_el = args.glmm_sample, args.cmel_sample
    t0 = time.perf_counter()
    umfs = np.array(
        [
            (r.estimate, r.se, r.tau2)
            for r in (
                rma_glmm(measure="OR", ai=ai[b], bi=bi[b], ci=ci[b], di=di[b]) for b in range(m)
            )
        ]
    )
    t_umfs = time.perf_counter() - t0
    t0 = time.perf_counter()
    cmel = np.array(
        [
            (r.estimate, r.se, r.tau2)
            for r in (
                rma_glmm(measure="OR", model="CM.EL", ai=ai[b], bi=bi[b], ci=ci[b], di=di[b])
                for b in range(m_el)
            )
        ]
    )
    t_cmel = time.perf_counter() - t0
    bx, bn = simulate(args.big, args.k, args.seed + 1)[4:]
    t0 = time.perf_counter()
    big = rma_glmm_batch(bx, bn)
    t_big = time.perf_counter() - t0

    rows = [
        ("metareview", "rma_mh(measure='OR') Python loop", args.n, t_mh, ""),
        ("metareview", "rma_peto() Python loop", args.n, t_peto, ""),
        (
            "metareview",
            "rma_glmm_batch (PLO, nAGQ=7), one call",
            args.n,
            t_glmm,
            f"{int((~glmm.converged).sum())} not converged",
        ),
        (
            "metareview",
            "rma_glmm_batch (PLO, nAGQ=7), one call",
            args.big,
            t_big,
            f"{int((~big.converged).sum())} not converged",
        ),
        ("metareview", "rma_glmm(measure='OR', model='UM.FS') Python loop", m, t_umfs, ""),
        ("metareview", "rma_glmm(measure='OR', model='CM.EL') Python loop", m_el, t_cmel, ""),
    ]
    agreement = []
    versions: tuple[str, ...] = ()
    if shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            tab, prop = Path(tmp, "tab.csv"), Path(tmp, "prop.csv")
            long_frame(dict(ai=ai, bi=bi, ci=ci, di=di)).to_csv(tab, index=False)
            long_frame(dict(xi=xi, ni=ni)).to_csv(prop, index=False)
            script = Path(tmp, "bench.R")
            script.write_text(R_SCRIPT)
            out = Path(tmp, "out")
            proc = subprocess.run(
                [
                    "Rscript",
                    str(script),
                    str(tab),
                    str(prop),
                    str(args.glmm_sample),
                    str(out),
                    str(args.cmel_sample),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            times, info = proc.stdout.strip().splitlines()[-2:]
            r_mh, r_peto, r_glmm, r_fs, r_el = map(float, times.split())
            versions = tuple(info.split())
            two = pd.read_csv(f"{out}_two.csv")
            gl = pd.read_csv(f"{out}_glmm.csv")
            fs = pd.read_csv(f"{out}_umfs.csv").to_numpy()
            el = pd.read_csv(f"{out}_cmel.csv").to_numpy()
        r_glmm_all = r_glmm / m * args.n
        rows += [
            (
                f"metafor {versions[0]}",
                "rma.mh(measure='OR') R loop",
                args.n,
                r_mh,
                f"{r_mh / t_mh:.1f}x metareview",
            ),
            (
                f"metafor {versions[0]}",
                "rma.peto() R loop",
                args.n,
                r_peto,
                f"{r_peto / t_peto:.1f}x metareview",
            ),
            (
                f"metafor {versions[0]} + lme4 {versions[1]}",
                "rma.glmm(measure='PLO') R loop",
                args.n,
                r_glmm_all,
                f"EXTRAPOLATED from {m} fits ({r_glmm:.2f} s); {r_glmm_all / t_glmm:.0f}x "
                "metareview",
            ),
            (
                f"metafor {versions[0]} + lme4 {versions[1]}",
                "rma.glmm(measure='OR', model='UM.FS') R loop",
                m,
                r_fs,
                f"{r_fs / t_umfs:.1f}x metareview",
            ),
            (
                f"metafor {versions[0]} + BiasedUrn",
                "rma.glmm(measure='OR', model='CM.EL') R loop",
                m_el,
                r_el,
                f"{r_el / t_cmel:.0f}x metareview",
            ),
        ]
        agreement = [
            ("MH log OR, se", np.max(np.abs(mh - two[["mh_est", "mh_se"]].to_numpy()))),
            ("Peto log OR, se", np.max(np.abs(peto - two[["peto_est", "peto_se"]].to_numpy()))),
            (f"GLMM estimate (first {m})", np.max(np.abs(glmm.estimate[:m] - gl["est"]))),
            (f"GLMM se (first {m})", np.max(np.abs(glmm.se[:m] - gl["se"]))),
            (f"GLMM tau2 (first {m})", np.max(np.abs(glmm.tau2[:m] - gl["tau2"]))),
            (f"UM.FS log OR, se, tau2 (first {m})", np.max(np.abs(umfs - fs))),
            (f"CM.EL log OR, tau2 (first {m_el})", np.max(np.abs(cmel[:, [0, 2]] - el[:, [0, 2]]))),
            (
                f"CM.EL se (first {m_el}; metafor's numDeriv Hessian at r = 16 is off, ours "
                "equals the Hessian of the tightly integrated likelihood, see "
                "tests/stats/test_glmm_conditional_vs_metafor.py)",
                np.max(np.abs(cmel[:, 1] - el[:, 1])),
            ),
        ]
    else:
        print("Rscript not found: metafor comparison skipped")

    lines = [
        f"# bench_binary ({dt.date.today().isoformat()})",
        "",
        machine(
            ("metareview", metareview.__version__),
            *((("metafor", versions[0]), ("lme4", versions[1])) if versions else ()),
        ),
        "",
        f"B = {args.n} meta-analyses of k = {args.k} studies (seed {args.seed}).",
        "",
        "| tool | fit | B | wall time (s) | per fit (ms) | notes |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {tool} | {fit} | {b:,} | {t:.2f} | {1000 * t / b:.3f} | {note} |"
        for tool, fit, b, t, note in rows
    ]
    if agreement:
        lines += ["", "| agreement | max abs difference |", "|---|---|"]
        lines += [f"| {name} | {value:.2e} |" for name, value in agreement]
    text = "\n".join(lines) + "\n"
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
