"""Benchmark metareview at scale: a million meta-analyses, and single fits of huge k.

Measures, side by side in one run on one machine:

1. 1,000,000 meta-analyses of k = 10 studies (intercept-only random effects, DL and REML):
   ``metareview.batch(df, by=...)`` end to end on a long-format DataFrame (10,000,000 rows),
   with its default thread pool and with ``threads=1``; the kernel directly (``rma_batch``,
   in one call and in a loop over chunks of 65,536 meta-analyses, one thread); against an R
   loop of metafor ``rma()`` and a Python loop of statsmodels ``combine_effects`` over the
   first ``--sample`` meta-analyses, extrapolated linearly to all of them (the table says so).
   metafor's REML uses ``control=list(threshold=1e-10, maxiter=1000)``, metareview's default.
   statsmodels has no REML (its ``"iterated"`` estimator is Paule-Mandel).
2. Peak memory of the million-meta-analysis runs: the peak of Python allocations during
   ``batch()`` (tracemalloc, numpy included) and the maximum resident set size of a fresh
   process that builds the table and runs ``batch()`` (``/usr/bin/time -v``).
3. ``rma(method="REML")`` (intercept only) for one meta-analysis of k = 1,000, 2,000, 10,000
   and 100,000 studies, against metafor where it finishes (it builds k x k matrices: k = 1,000
   and, if that took under 25 s, 2,000).
4. The 240,000-fit simulation study of ``bench_simulate.py``, rerun here.

Data: yi ~ N(0.3, vi + 0.05) with vi ~ Uniform(0.01, 0.2), fixed seeds, as in
``bench_rma_batch.py``. metareview timings are the median of ``--repeats`` runs after one
warm-up run (the first run in a process also pays for the kernel's first touch of fresh
memory; it is reported in the notes); reference loops run once, timed inside R with
``proc.time()`` (R start-up and reading the CSV excluded). R reads the numbers from CSVs
written with 17 significant digits, and agreement is checked on the sampled fits.

Usage::

    .venv/bin/python bench/bench_scale.py [--n 1000000] [--repeats 3] [--sample 1000]

This is a benchmark, not a test: it asserts nothing. It writes ``bench/results/scale.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import metareview
from _machine import machine
from metareview import ConvergenceWarning, batch, rma, rma_batch
from metareview.stats import keep_freed_memory

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scale.md"
THETA, TAU2, V_LOW, V_HIGH = 0.3, 0.05, 0.01, 0.2
KERNEL_CHUNK = 65_536
STRICT = "threshold=1e-10, maxiter=1000"


def simulate(B: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """yi ~ N(THETA, vi + TAU2) with vi ~ Uniform(V_LOW, V_HIGH); arrays of shape (B, k)."""
    rng = np.random.default_rng(seed)
    V = rng.uniform(V_LOW, V_HIGH, size=(B, k))
    return rng.normal(THETA, np.sqrt(V + TAU2)), V


def long_table(Y: np.ndarray, V: np.ndarray) -> pd.DataFrame:
    B, k = Y.shape
    return pd.DataFrame({"study_set": np.repeat(np.arange(B), k), "yi": Y.ravel(), "vi": V.ravel()})


def timed_runs(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(median wall time of ``repeats`` runs after a warm-up, the warm-up's time, result)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), first, out


def quiet(fn: Callable[[], object]) -> Callable[[], object]:
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fn()

    return run


def kernel_in_chunks(Y: np.ndarray, V: np.ndarray, method: str) -> dict[str, np.ndarray]:
    out = {"estimate": [], "tau2": [], "converged": []}
    for start in range(0, Y.shape[0], KERNEL_CHUNK):
        res = rma_batch(
            Y[start : start + KERNEL_CHUNK],
            V[start : start + KERNEL_CHUNK],
            method=method,
            tau2_ci=False,
        )
        out["estimate"].append(res.estimate)
        out["tau2"].append(res.tau2)
        out["converged"].append(res.converged)
    return {name: np.concatenate(parts) for name, parts in out.items()}


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------

RSS_CHILD = """
import sys, warnings
import numpy as np, pandas as pd
sys.path.insert(0, {here!r})
from bench_scale import simulate, long_table
from metareview import batch
from metareview.stats import keep_freed_memory
keep_freed_memory()
Y, V = simulate({n}, {k}, {seed})
df = long_table(Y, V)
del Y, V
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    batch(df, by="study_set", method={method!r})
"""


def max_rss(n: int, k: int, seed: int, method: str) -> float | None:
    """Max resident set size (MB) of a fresh process that builds the table and fits it."""
    timer = "/usr/bin/time"
    if not os.path.exists(timer):
        return None
    code = RSS_CHILD.format(here=str(HERE), n=n, k=k, seed=seed, method=method)
    proc = subprocess.run(
        [timer, "-v", sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return int(found.group(1)) / 1024 if found and proc.returncode == 0 else None


def traced_peak(fn: Callable[[], object]) -> float:
    """Peak of Python (and numpy) allocations made during ``fn()``, in MB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# --------------------------------------------------------------------------------------------
# metafor and statsmodels
# --------------------------------------------------------------------------------------------

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
sample_csv <- args[1]; bigk_csv <- args[2]; outdir <- args[3]
bigk <- as.integer(strsplit(args[4], ",")[[1]])
suppressPackageStartupMessages(library(metafor))
cat("VERSION", as.character(packageVersion("metafor")), R.version$major, R.version$minor, "\n")
strict <- list(threshold = 1e-10, maxiter = 1000)
d <- read.csv(sample_csv, colClasses = c("integer", "numeric", "numeric"))
f <- factor(d$id, levels = unique(d$id))
ys <- split(d$yi, f); vs <- split(d$vi, f)
B <- length(ys)
for (method in c("DL", "REML")) {
  ctrl <- if (method == "REML") strict else list()
  est <- rep(NA_real_, B); se <- rep(NA_real_, B); tau2 <- rep(NA_real_, B)
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(B)) {
    fit <- tryCatch(rma(yi = ys[[i]], vi = vs[[i]], method = method, control = ctrl),
                    error = function(e) NULL)
    if (!is.null(fit)) { est[i] <- fit$beta[1]; se[i] <- fit$se[1]; tau2[i] <- fit$tau2 }
  }
  cat("TIME", method, sprintf("%.6f", proc.time()[["elapsed"]] - t0), B, sum(is.na(est)), "\n")
  write.csv(data.frame(estimate = sprintf("%a", est), se = sprintf("%a", se),
                       tau2 = sprintf("%a", tau2)),
            file.path(outdir, paste0("sample_", method, ".csv")), row.names = FALSE)
}
big <- read.csv(bigk_csv, colClasses = c("numeric", "numeric"))
for (k in bigk) {
  t0 <- proc.time()[["elapsed"]]
  fit <- tryCatch(rma(yi = big$yi[seq_len(k)], vi = big$vi[seq_len(k)], method = "REML",
                      control = strict), error = function(e) NULL)
  took <- proc.time()[["elapsed"]] - t0
  if (is.null(fit)) cat("BIGK", k, sprintf("%.3f", took), "NA NA\n")
  else cat("BIGK", k, sprintf("%.3f", took), sprintf("%a", fit$beta[1]),
           sprintf("%a", fit$tau2), "\n")
  if (took > 25) break  # metafor is O(k^3): the next k would take minutes
}
"""


def run_metafor(Y, V, big_y, big_v, r_bigk: list[int], workdir: Path):
    """Times and results of metafor on the sampled meta-analyses and on the big-k fits."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: skipping metafor.")
        return None
    sample_csv, bigk_csv = workdir / "sample.csv", workdir / "bigk.csv"
    B, k = Y.shape
    np.savetxt(
        sample_csv,
        np.column_stack([np.repeat(np.arange(1, B + 1), k), Y.ravel(), V.ravel()]),
        fmt=("%d", "%.17g", "%.17g"),
        delimiter=",",
        header="id,yi,vi",
        comments="",
    )
    np.savetxt(
        bigk_csv,
        np.column_stack([big_y, big_v]),
        fmt="%.17g",
        delimiter=",",
        header="yi,vi",
        comments="",
    )
    script = workdir / "bench_scale.R"
    script.write_text(R_SCRIPT)
    cmd = [
        rscript,
        "--vanilla",
        str(script),
        str(sample_csv),
        str(bigk_csv),
        str(workdir),
        ",".join(map(str, r_bigk)),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    except subprocess.TimeoutExpired:
        print("Rscript took more than 5 minutes: skipping metafor.")
        return None
    if proc.returncode != 0:
        print(f"Rscript failed (exit {proc.returncode}): {proc.stderr.strip()}")
        return None
    out = {"times": {}, "failed": {}, "fits": {}, "bigk": {}}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["VERSION"]:
            out["version"] = f"{parts[1]} (R {parts[2]}.{parts[3]})"
        elif parts[:1] == ["TIME"]:
            out["times"][parts[1]] = float(parts[2])
            out["failed"][parts[1]] = int(parts[4])
            frame = pd.read_csv(
                workdir / f"sample_{parts[1]}.csv", dtype=str, keep_default_na=False
            )
            out["fits"][parts[1]] = {
                c: np.array([np.nan if s in ("NA", "NaN") else float.fromhex(s) for s in frame[c]])
                for c in frame.columns
            }
        elif parts[:1] == ["BIGK"]:
            est = np.nan if parts[3] == "NA" else float.fromhex(parts[3])
            tau2 = np.nan if parts[4] == "NA" else float.fromhex(parts[4])
            out["bigk"][int(parts[1])] = (float(parts[2]), est, tau2)
    return out


def run_statsmodels(Y, V):
    """Wall time and results of a Python loop of statsmodels' DL over the sample."""
    try:
        import statsmodels
        from statsmodels.stats.meta_analysis import combine_effects
    except ImportError:
        print("statsmodels not installed: skipping.")
        return None
    est, se, tau2 = (np.full(Y.shape[0], np.nan) for _ in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its DL can give tau2 < 0
        t0 = time.perf_counter()
        for b in range(Y.shape[0]):
            r = combine_effects(Y[b], V[b], method_re="dl")
            est[b], se[b], tau2[b] = r.mean_effect_re, r.sd_eff_w_re, r.tau2
        seconds = time.perf_counter() - t0
    return {
        "version": statsmodels.__version__,
        "seconds": seconds,
        "fits": {"estimate": est, "se": se, "tau2": tau2},
    }


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    return f"{seconds:,.3f}" if seconds < 100 else f"{seconds:,.0f}"


def max_diff(a, b) -> str:
    ok = np.isfinite(a) & np.isfinite(b)
    return f"{np.max(np.abs(a[ok] - b[ok])):.2g} ({int(ok.sum()):,} fits)" if ok.any() else "-"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="meta-analyses in the batch")
    ap.add_argument("--k", type=int, default=10, help="studies per meta-analysis")
    ap.add_argument("--repeats", type=int, default=3, help="timed metareview runs (median)")
    ap.add_argument("--sample", type=int, default=1_000, help="fits timed in R / statsmodels")
    ap.add_argument("--big-k", default="1000,2000,10000,100000", help="k of the single big fits")
    ap.add_argument("--r-big-k", default="1000,2000", help="k metafor is asked to fit")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--no-simulate", action="store_true", help="skip bench_simulate's study")
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    B, k = args.n, args.k
    keep_freed_memory()  # the allocator opt-in (bench_malloc.py measures its effect)
    load_start = os.getloadavg()[0]
    rows: list[list[str]] = []  # what | tool | method | wall (s) | per fit | ratio | notes
    notes_after: list[str] = []

    def add(what, tool, method, seconds, n_fits, base, note):
        ratio = "1 (baseline)" if base is None else f"{seconds / base:,.1f}x"
        rows.append(
            [what, tool, method, fmt_s(seconds), f"{seconds / n_fits * 1e6:,.2f}", ratio, note]
        )

    print(f"simulating {B:,} meta-analyses of k = {k} ...", flush=True)
    Y, V = simulate(B, k, args.seed)
    df = long_table(Y, V)
    what = f"{B:,} x k = {k}"
    base: dict[str, float] = {}
    results: dict[str, dict] = {}
    for method in ("DL", "REML"):
        print(f"metareview {method} ...", flush=True)
        median, first, out = timed_runs(
            quiet(lambda m=method: batch(df, by="study_set", method=m)), args.repeats
        )
        base[method] = median
        results[method] = {
            "estimate": out["estimate"].to_numpy(),
            "se": out["se"].to_numpy(),
            "tau2": out["tau2"].to_numpy(),
            "converged": out["converged"].to_numpy(),
            "iterations": out["iterations"].to_numpy(),
        }
        add(
            what,
            "metareview batch(df, by=...)",
            method,
            median,
            B,
            None,
            f"median of {args.repeats} after a warm-up ({fmt_s(first)} s); "
            f"{os.cpu_count()} threads (default); {B * k:,}-row DataFrame in, {B:,}-row "
            "DataFrame out",
        )
        one, _, _ = timed_runs(
            quiet(lambda m=method: batch(df, by="study_set", method=m, threads=1)), args.repeats
        )
        add(
            what,
            "metareview batch(df, by=..., threads=1)",
            method,
            one,
            B,
            median,
            f"median of {args.repeats}; one thread",
        )
        kern, _, kout = timed_runs(quiet(lambda m=method: kernel_in_chunks(Y, V, m)), args.repeats)
        add(
            what,
            "metareview rma_batch (kernel), in chunks",
            method,
            kern,
            B,
            median,
            f"median of {args.repeats}; (B, k) arrays in, a Python loop over chunks of "
            f"{KERNEL_CHUNK:,} keeping estimate and tau2; one thread; tau2_ci=False",
        )
        whole, _, _ = timed_runs(
            quiet(lambda m=method: rma_batch(Y, V, method=m, tau2_ci=False)), args.repeats
        )
        add(
            what,
            "metareview rma_batch (kernel), one call",
            method,
            whole,
            B,
            median,
            f"median of {args.repeats}; one thread; returns all 27 result arrays of length "
            f"{B:,} (fresh memory: page faults are much of the time)",
        )
        same = np.array_equal(kout["estimate"], results[method]["estimate"]) and np.array_equal(
            kout["tau2"], results[method]["tau2"]
        )
        notes_after.append(
            f"{method}: batch() and the chunked kernel give bitwise identical "
            f"estimates and tau2: {same}"
        )

    n_s = min(args.sample, B)
    print(f"statsmodels loop over {n_s:,} meta-analyses ...", flush=True)
    sm = run_statsmodels(Y[:n_s], V[:n_s])
    if sm:
        seconds = sm["seconds"] * B / n_s
        add(
            what,
            f"statsmodels {sm['version']} combine_effects loop",
            "DL",
            seconds,
            B,
            base["DL"],
            f"EXTRAPOLATED linearly from {n_s:,} fits ({sm['seconds']:.2f} s)",
        )
        rows.append(
            [
                what,
                f"statsmodels {sm['version']}",
                "REML",
                "-",
                "-",
                "-",
                "not available (combine_effects offers DL and Paule-Mandel only)",
            ]
        )

    big_ks = [int(x) for x in args.big_k.split(",")]
    rng = np.random.default_rng(args.seed + 1)
    big_v = rng.uniform(V_LOW, V_HIGH, max(big_ks))
    big_y = rng.normal(THETA, np.sqrt(big_v + TAU2))
    print("metafor ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        mf = run_metafor(
            Y[:n_s], V[:n_s], big_y, big_v, [int(x) for x in args.r_big_k.split(",")], Path(tmp)
        )
        r_wall = time.perf_counter() - t0
    if mf:
        for method in ("DL", "REML"):
            seconds = mf["times"][method] * B / n_s
            setting = "defaults" if method == "DL" else f"control=list({STRICT})"
            failed = mf["failed"][method]
            add(
                what,
                f"metafor {mf['version']} rma() loop",
                method,
                seconds,
                B,
                base[method],
                f"EXTRAPOLATED linearly from {n_s:,} fits ({mf['times'][method]:.2f} s); "
                f"{setting}" + (f"; {failed} fits failed to converge (error)" if failed else ""),
            )
        notes_after.append(f"Rscript ran for {r_wall:.0f} s in all (limit: about 3 minutes).")

    print("big k ...", flush=True)
    big = {}
    for kk in big_ks:
        median, _, res = timed_runs(
            lambda kk=kk: rma(big_y[:kk], big_v[:kk], method="REML"), args.repeats
        )
        big[kk] = res
        mf_k = mf["bigk"].get(kk) if mf else None
        note = f"median of {args.repeats}; {res.iterations} Fisher-scoring steps"
        add(f"one meta-analysis, k = {kk:,}", "metareview rma()", "REML", median, 1, None, note)
        if mf_k:
            add(
                f"one meta-analysis, k = {kk:,}",
                f"metafor {mf['version']} rma()",
                "REML",
                mf_k[0],
                1,
                median,
                f"single fit; control=list({STRICT}); |diff| estimate "
                f"{abs(mf_k[1] - res.estimate):.2g}, tau2 {abs(mf_k[2] - res.tau2):.2g}",
            )
    if mf:
        missing = [kk for kk in big_ks if kk not in mf["bigk"]]
        if missing:
            notes_after.append(
                f"metafor not run at k = {', '.join(f'{x:,}' for x in missing)}: "
                "it builds k x k matrices (O(k^2) memory, O(k^3) time)."
            )

    if not args.no_simulate:
        print("simulation study ...", flush=True)
        sys.path.insert(0, str(HERE))
        import bench_simulate
        from metareview import simulate as mr_simulate

        n_fits = 10_000 * len(bench_simulate.METHODS) * len(bench_simulate.SCENARIOS)
        median, _, _ = timed_runs(
            quiet(
                lambda: mr_simulate(
                    bench_simulate.SCENARIOS, bench_simulate.METHODS, reps=10_000, seed=2026
                )
            ),
            args.repeats,
        )
        add(
            f"simulation study, {n_fits:,} fits",
            "metareview simulate()",
            ", ".join(bench_simulate.METHODS),
            median,
            n_fits,
            None,
            f"median of {args.repeats}; bench_simulate.py's 4 scenarios x 6 methods x 10,000",
        )

    print("memory ...", flush=True)
    memory = []
    for method in ("DL", "REML"):
        peak = traced_peak(quiet(lambda m=method: batch(df, by="study_set", method=m)))
        rss = max_rss(B, k, args.seed, method)
        memory.append(
            f"| batch(), {method}, {B:,} x k = {k} | {peak:,.0f} MB | "
            + (f"{rss:,.0f} MB" if rss else "-")
            + " |"
        )
    load_end = os.getloadavg()[0]

    agree = [
        "| comparison | max abs diff estimate | max abs diff se | max abs diff tau2 |",
        "|---|---|---|---|",
    ]
    if mf:
        for method in ("DL", "REML"):
            ours, theirs = results[method], mf["fits"][method]
            agree.append(
                f"| metareview {method} vs metafor {method} (first {n_s:,}) | "
                + " | ".join(max_diff(ours[c][:n_s], theirs[c]) for c in ("estimate", "se", "tau2"))
                + " |"
            )
        # beyond 30 Fisher-scoring steps metareview's bisection safeguard may leave metafor's
        # path (metafor keeps stepping, or gives up): both stop within the 1e-10 threshold
        steps = results["REML"]["iterations"][:n_s]
        for label, rows_ in (("<= 30 steps", steps <= 30), ("> 30 steps", steps > 30)):
            ours, theirs = results["REML"], mf["fits"]["REML"]
            agree.append(
                f"| ... REML, meta-analyses where metareview took {label} | "
                + " | ".join(
                    max_diff(ours[c][:n_s][rows_], theirs[c][rows_])
                    for c in ("estimate", "se", "tau2")
                )
                + " |"
            )
    if sm:
        ok = sm["fits"]["tau2"] >= 0  # statsmodels' DL does not floor tau2 at 0
        agree.append(
            f"| metareview DL vs statsmodels DL (first {n_s:,}, its tau2 >= 0) | "
            + " | ".join(
                max_diff(results["DL"][c][:n_s][ok], sm["fits"][c][ok])
                for c in ("estimate", "se", "tau2")
            )
            + " |"
        )
    reml = results["REML"]
    not_conv = np.flatnonzero(~reml["converged"])
    notes_after.append(
        f"REML over {B:,} meta-analyses: {not_conv.size} did not converge (flagged "
        f"converged=False{'; rows ' + str(not_conv[:10].tolist()) if not_conv.size else ''}); "
        f"Fisher-scoring steps median {int(np.median(reml['iterations']))}, max "
        f"{int(reml['iterations'].max())}."
    )
    if mf and mf["failed"]["REML"]:
        notes_after.append(
            f"metafor REML raised 'Fisher scoring algorithm did not converge' "
            f"on {mf['failed']['REML']} of the {n_s:,} sampled meta-analyses; "
            "metareview converged on all of them."
        )

    table = [
        "| what | tool | method | wall time (s) | per fit (µs) | ratio (tool / metareview "
        "baseline) | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    report = [
        "# Scale benchmark",
        "",
        f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine(('pandas', pd.__version__))}; 1-min load average "
        f"{load_start:.2f} at start, "
        f"{load_end:.2f} at end (nproc = {os.cpu_count()}: a load near that means other "
        "processes competed)",
        f"- metareview {metareview.__version__}",
        f"- data: yi ~ N({THETA}, vi + {TAU2}), vi ~ Uniform({V_LOW}, {V_HIGH}); seed "
        f"{args.seed} (batch), {args.seed + 1} (big k)",
        "- targets (issue 8): 1,000,000 x k = 10 through batch(): DL < 0.3 s, REML < 3 s; "
        f"measured DL {base['DL']:.3f} s, REML {base['REML']:.3f} s",
        "",
        *table,
        "",
        "Peak memory (tracemalloc: Python and numpy allocations during the call, the input "
        "table excluded; max RSS: a fresh process that simulates the table, builds the "
        "DataFrame and runs batch(); target < 2 GB):",
        "",
        "| run | tracemalloc peak | max RSS |",
        "|---|---|---|",
        *memory,
        "",
        "Agreement:",
        "",
        *agree,
        "",
        *[f"- {note}" for note in notes_after],
        "",
    ]
    print("\n".join(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(report))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
