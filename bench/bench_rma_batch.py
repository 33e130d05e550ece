"""Benchmark metareview's batched random-effects kernel against statsmodels and metafor.

Simulates B meta-analyses of k studies each (fixed seed), then times

* metareview ``rma_batch`` (DL, REML, PM; ``tau2_ci=False`` as metafor's ``rma()`` computes
  no tau2 confidence interval, plus one REML run with ``tau2_ci=True``), best of
  ``--repeats`` runs;
* a Python loop of statsmodels ``combine_effects`` with ``method_re="dl"`` and
  ``method_re="iterated"`` (statsmodels' iterated estimator is Paule-Mandel, not REML);
* an R loop of metafor ``rma()`` (DL; REML with metafor's defaults; REML with
  ``threshold=1e-10, maxiter=1000`` to match metareview's default ``Control``), timed with
  ``proc.time()`` inside R so R start-up and data loading are excluded.

Reference loops first time a sample of ``--sample`` fits; if that projects to more than
``--limit`` seconds for all B, the sample time is extrapolated linearly (and the table says
so), otherwise the loop runs on to all B and the total is reported.

R reads the simulated numbers from a CSV written with 17 significant digits and echoes the
first rows back as hex floats, so the script verifies that both languages fit identical
data. Agreement (max |difference| of estimate, se and tau2) is reported for the first
``--agree`` meta-analyses against metafor, and for all fitted rows against statsmodels.

Usage::

    .venv/bin/python bench/bench_rma_batch.py [--n 10000] [--k 10]

This is a benchmark, not a test: it asserts nothing and never fails on disagreement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import metareview
from _machine import machine
from metareview import ConvergenceWarning, rma_batch
from metareview.stats import keep_freed_memory

RESULTS = Path(__file__).resolve().parent / "results" / "rma_batch.md"

# Simulation settings (documented in the output).
THETA = 0.3
TAU2 = 0.05
V_LOW, V_HIGH = 0.01, 0.2


@dataclass
class Timing:
    """One row of the results table."""

    tool: str
    method: str
    seconds: float  # wall time for all B fits (extrapolated when ``fitted < B``)
    fitted: int  # how many fits were actually timed
    baseline: str | None = None  # key of the metareview row this is compared with
    key: str | None = None  # metareview rows: the key other rows use as ``baseline``
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def simulate(B: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """yi ~ N(THETA, vi + TAU2) with vi ~ Uniform(V_LOW, V_HIGH); arrays of shape (B, k)."""
    rng = np.random.default_rng(seed)
    V = rng.uniform(V_LOW, V_HIGH, size=(B, k))
    Y = rng.normal(THETA, np.sqrt(V + TAU2))
    return Y, V


def write_long_csv(path: Path, Y: np.ndarray, V: np.ndarray) -> None:
    """Long format ``id,yi,vi`` with id = 1..B; 17 significant digits round-trip exactly."""
    B, k = Y.shape
    ids = np.repeat(np.arange(1, B + 1), k)
    table = np.column_stack([ids, Y.ravel(), V.ravel()])
    np.savetxt(
        path, table, fmt=("%d", "%.17g", "%.17g"), delimiter=",", header="id,yi,vi", comments=""
    )


# --------------------------------------------------------------------------------------------
# metareview
# --------------------------------------------------------------------------------------------


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Best wall time over ``repeats`` calls, and the last result."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_metareview(Y, V, repeats: int) -> tuple[list[Timing], dict[str, object]]:
    B = Y.shape[0]
    rows, fits = [], {}
    metafor_default = {"threshold": 1e-5, "maxiter": 100}
    for key, method, ci, control in (
        ("DL", "DL", False, None),
        ("REML", "REML", False, None),
        ("REML (metafor-default control)", "REML", False, metafor_default),
        ("PM", "PM", False, None),
        ("REML+ci", "REML", True, None),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            seconds, res = best_of(
                lambda m=method, c=ci, ctl=control: rma_batch(
                    Y, V, method=m, tau2_ci=c, control=ctl
                ),
                repeats,
            )
        fits[key] = res
        notes = [f"best of {repeats}"]
        if ci:
            notes.append("tau2_ci=True (Q-profile CI for tau2/I2/H2)")
        if control:
            notes.append("control=dict(threshold=1e-5, maxiter=100) like metafor's defaults")
        n_bad = int((~res.converged).sum())
        if n_bad:
            notes.append(f"{n_bad} rows not converged (flagged)")
        other = {str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)}
        notes += [f"warning: {msg}" for msg in sorted(other)]
        label = f"{method} (tau2_ci={ci})" + (", threshold=1e-5, maxiter=100" if control else "")
        rows.append(
            Timing("metareview rma_batch", label, seconds, B, notes=notes, key=None if ci else key)
        )
    return rows, fits


# --------------------------------------------------------------------------------------------
# statsmodels
# --------------------------------------------------------------------------------------------


def timed_loop(fit_one: Callable[[int], None], B: int, sample: int, limit: float):
    """Run ``fit_one(b)`` for b = 0..; time a sample first, continue if it projects <= limit.

    Returns (seconds for all B, number actually fitted, extrapolated?).
    """
    n0 = min(sample, B)
    t0 = time.perf_counter()
    for b in range(n0):
        fit_one(b)
    t_sample = time.perf_counter() - t0
    projected = t_sample * B / n0
    if n0 == B or projected > limit:
        return projected, n0, n0 < B
    t0 = time.perf_counter()
    for b in range(n0, B):
        fit_one(b)
    return t_sample + time.perf_counter() - t0, B, False


def bench_statsmodels(Y, V, sample: int, limit: float):
    try:
        from statsmodels.stats.meta_analysis import combine_effects
    except ImportError:
        print("statsmodels not installed: skipping (pip install -e '.[bench]').")
        return [], {}
    import statsmodels

    B = Y.shape[0]
    rows, fits = [], {}
    for method_re, label, baseline in (
        ("dl", 'combine_effects(method_re="dl") loop', "DL"),
        ("iterated", 'combine_effects(method_re="iterated") loop [= Paule-Mandel]', "PM"),
    ):
        est, se, tau2 = (np.full(B, np.nan) for _ in range(3))

        def fit_one(b, method_re=method_re, est=est, se=se, tau2=tau2):
            r = combine_effects(Y[b], V[b], method_re=method_re)
            est[b], se[b], tau2[b] = r.mean_effect_re, r.sd_eff_w_re, r.tau2

        with warnings.catch_warnings():
            # statsmodels' DL does not truncate tau2 at 0: sqrt of negative variances
            warnings.simplefilter("ignore", RuntimeWarning)
            seconds, n_fit, extrapolated = timed_loop(fit_one, B, sample, limit)
        notes = ["single pass"]
        n_neg = int((tau2[:n_fit] < 0).sum())
        if n_neg:
            notes.append(f"{n_neg} rows with negative tau2 (not truncated at 0)")
        if extrapolated:
            notes.append(f"EXTRAPOLATED linearly from {n_fit:,} fits")
        if method_re == "iterated":
            notes.append("PM (atol=1e-5 on the estimating eq.), compared with metareview PM")
        rows.append(
            Timing(
                f"statsmodels {statsmodels.__version__}",
                label,
                seconds,
                n_fit,
                baseline=baseline,
                notes=notes,
            )
        )
        fits[method_re] = {"estimate": est, "se": se, "tau2": tau2, "n": n_fit}
    return rows, fits


# --------------------------------------------------------------------------------------------
# metafor (R)
# --------------------------------------------------------------------------------------------

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
csv <- args[1]; outdir <- args[2]
sample_n <- as.integer(args[3]); limit <- as.numeric(args[4]); n_agree <- as.integer(args[5])
suppressPackageStartupMessages(library(metafor))
cat("VERSION", as.character(packageVersion("metafor")), R.version$major, R.version$minor, "\n")
d <- read.csv(csv, colClasses = c("integer", "numeric", "numeric"))
f <- factor(d$id, levels = unique(d$id))
ys <- split(d$yi, f); vs <- split(d$vi, f)
B <- length(ys)
na <- min(n_agree, B)
# echo the data R actually holds, as exact hex floats
first <- d$id <= na
write.csv(data.frame(id = d$id[first], yi = sprintf("%a", d$yi[first]),
                     vi = sprintf("%a", d$vi[first])),
          file.path(outdir, "echo.csv"), row.names = FALSE)

configs <- list(
  DL = list(method = "DL", control = list()),
  REML_default = list(method = "REML", control = list()),
  REML_strict = list(method = "REML", control = list(threshold = 1e-10, maxiter = 1000))
)
for (name in names(configs)) {
  cfg <- configs[[name]]
  est <- rep(NA_real_, B); se <- rep(NA_real_, B); tau2 <- rep(NA_real_, B)
  failed <- 0L
  run <- function(idx) {
    for (i in idx) {
      fit <- tryCatch(rma(yi = ys[[i]], vi = vs[[i]], method = cfg$method,
                          control = cfg$control),
                      error = function(e) NULL)
      if (is.null(fit)) { failed <<- failed + 1L; next }
      est[i] <<- fit$beta[1]; se[i] <<- fit$se[1]; tau2[i] <<- fit$tau2
    }
  }
  n0 <- min(sample_n, B)
  t0 <- proc.time()[["elapsed"]]
  run(seq_len(n0))
  t_sample <- proc.time()[["elapsed"]] - t0
  projected <- t_sample * B / n0
  if (n0 == B || projected > limit) {
    total <- projected; fitted <- n0
  } else {
    t0 <- proc.time()[["elapsed"]]
    run((n0 + 1):B)
    total <- t_sample + proc.time()[["elapsed"]] - t0; fitted <- B
  }
  cat("TIME", name, sprintf("%.6f", total), fitted, failed, "\n")
  cat("FAILED", name, which(is.na(est[seq_len(fitted)])) - 1L, "\n")
  write.csv(data.frame(id = seq_len(na), estimate = sprintf("%a", est[seq_len(na)]),
                       se = sprintf("%a", se[seq_len(na)]),
                       tau2 = sprintf("%a", tau2[seq_len(na)])),
            file.path(outdir, paste0("metafor_", name, ".csv")), row.names = FALSE)
}
"""

METAFOR_LABELS = {
    "DL": ('rma(method="DL")', "DL", "defaults"),
    "REML_default": (
        'rma(method="REML"), default control',
        "REML (metafor-default control)",
        "defaults: threshold=1e-5, maxiter=100",
    ),
    "REML_strict": (
        'rma(method="REML"), threshold=1e-10',
        "REML",
        "control=list(threshold=1e-10, maxiter=1000)",
    ),
}


def _hex_column(values) -> np.ndarray:
    return np.array([np.nan if s in ("NA", "NaN") else float.fromhex(s) for s in values])


def _read_hex_csv(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {
        c: (frame[c].astype(int).to_numpy() if c == "id" else _hex_column(frame[c]))
        for c in frame.columns
    }


def bench_metafor(Y, V, csv: Path, workdir: Path, sample: int, limit: float, n_agree: int):
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: skipping metafor (apt-get install r-base-core r-cran-metafor).")
        return [], {}, None
    script = workdir / "bench_metafor.R"
    script.write_text(R_SCRIPT)
    cmd = [
        rscript,
        "--vanilla",
        str(script),
        str(csv),
        str(workdir),
        str(sample),
        str(limit),
        str(n_agree),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"Rscript failed (exit {proc.returncode}); skipping metafor.\n{proc.stderr.strip()}")
        return [], {}, None

    version, rows, fits = "?", [], {}
    B = Y.shape[0]
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["VERSION"]:
            version = f"{parts[1]} (R {parts[2]}.{parts[3]})"
        elif parts[:1] == ["TIME"]:
            name, seconds, fitted, failed = parts[1], float(parts[2]), int(parts[3]), int(parts[4])
            label, baseline, setting = METAFOR_LABELS[name]
            notes = ["single pass", setting]
            if fitted < B:
                notes.append(f"EXTRAPOLATED linearly from {fitted:,} fits")
            if failed:
                notes.append(f"{failed} fits raised an error")
            rows.append(
                Timing(f"metafor {version}", label, seconds, fitted, baseline=baseline, notes=notes)
            )
            fits[name] = _read_hex_csv(workdir / f"metafor_{name}.csv")
            fits[name]["fitted"] = fitted
        elif parts[:1] == ["FAILED"]:
            fits[parts[1]]["failed"] = np.array([int(x) for x in parts[2:]], dtype=int)

    echo = _read_hex_csv(workdir / "echo.csv")
    n = int(echo["id"].max())
    same = np.array_equal(echo["yi"], Y[:n].ravel()) and np.array_equal(echo["vi"], V[:n].ravel())
    return rows, fits, same


# --------------------------------------------------------------------------------------------
# Agreement and reporting
# --------------------------------------------------------------------------------------------


def _maxdiff(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    d = np.abs(np.asarray(a, float) - np.asarray(b, float))
    if np.isnan(d).all():
        return np.nan, -1
    i = int(np.nanargmax(d))
    return float(d[i]), i


def agreement(mr_fits, sm_fits, mf_fits, n_agree: int) -> list[str]:
    """Lines of a markdown table of max |differences| (row ids are 0-based)."""
    lines = [
        "| comparison | rows | max abs diff estimate (row) | max abs diff se (row) "
        "| max abs diff tau2 (row) |",
        "|---|---|---|---|---|",
    ]

    def add(name, mr, ref, rows: np.ndarray):
        # rows where either tool failed (NaN) are left out of the comparison
        mine_est = mr.estimate[rows]
        rows = rows[np.isfinite(mine_est) & np.isfinite(np.asarray(ref["estimate"])[rows])]
        cells = []
        for key in ("estimate", "se", "tau2"):
            mine = mr.estimate if key == "estimate" else getattr(mr, key)
            mine = mine[:, 0] if mine.ndim == 2 else mine
            d, i = _maxdiff(mine[rows], np.asarray(ref[key])[rows])
            cells.append(f"{d:.3g} ({int(rows[i])})" if i >= 0 else "n/a")
        lines.append(f"| {name} | {rows.size:,} | " + " | ".join(cells) + " |")

    first = np.arange(n_agree)
    for name, mr_key, label in (
        ("DL", "DL", "metafor DL"),
        ("REML_strict", "REML", "metafor REML threshold=1e-10"),
        ("REML_default", "REML", "metafor REML default (1e-5)"),
        ("REML_default", "REML (metafor-default control)", "metafor REML default (1e-5)"),
    ):
        if name in mf_fits:
            n = min(n_agree, mf_fits[name]["estimate"].size)
            add(f"metareview {mr_key} vs {label}", mr_fits[mr_key], mf_fits[name], first[:n])

    if "dl" in sm_fits:
        ref = sm_fits["dl"]
        fitted = np.arange(ref["n"])
        nonneg = fitted[ref["tau2"][fitted] >= 0]
        add("metareview DL vs statsmodels dl, all fitted rows", mr_fits["DL"], ref, fitted)
        add(
            "metareview DL vs statsmodels dl, rows with statsmodels tau2 >= 0",
            mr_fits["DL"],
            ref,
            nonneg,
        )
    if "iterated" in sm_fits:
        ref = sm_fits["iterated"]
        add("metareview PM vs statsmodels iterated (PM)", mr_fits["PM"], ref, np.arange(ref["n"]))
    return lines


def convergence(mr_fits, mf_fits) -> list[str]:
    """Which rows failed to converge in metareview (flagged) and metafor (error)."""
    lines = []
    for key in ("REML", "REML (metafor-default control)", "REML+ci", "PM"):
        res = mr_fits[key]
        bad = np.flatnonzero(~res.converged)
        lines.append(
            f"- metareview {key}: {bad.size} of {res.converged.size:,} rows not "
            f"converged; iterations median {np.median(res.iterations):.0f}, "
            f"max {res.iterations.max()}; rows {bad[:20].tolist()}"
            + (" ..." if bad.size > 20 else "")
        )
    for name, mr_key in (
        ("DL", "DL"),
        ("REML_default", "REML (metafor-default control)"),
        ("REML_strict", "REML"),
    ):
        if name not in mf_fits:
            continue
        fitted = mf_fits[name]["fitted"]
        failed = mf_fits[name].get("failed", np.array([], int))
        line = (
            f"- metafor {name}: {failed.size} of {fitted:,} fitted rows raised an error; "
            f"rows {failed[:20].tolist()}" + (" ..." if failed.size > 20 else "")
        )
        if name.startswith("REML"):
            mine = {int(b) for b in np.flatnonzero(~mr_fits[mr_key].converged) if b < fitted}
            theirs = set(failed.tolist())
            line += (
                f"; vs metareview {mr_key} non-converged among those rows: both "
                f"{len(mine & theirs)}, metafor only {sorted(theirs - mine)[:20]}, "
                f"metareview only {sorted(mine - theirs)[:20]}"
            )
        lines.append(line)
    return lines


def results_table(rows: list[Timing], B: int) -> list[str]:
    base = {r.key: r.seconds for r in rows if r.key is not None}
    lines = [
        f"| tool | method | wall time for B = {B:,} (s) | per fit (µs) "
        "| ratio (reference / metareview) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.baseline is None:
            ratio = "1 (baseline)" if r.key is not None else "—"
        else:
            ratio = f"{r.seconds / base[r.baseline]:,.1f}× vs metareview {r.baseline}"
        lines.append(
            f"| {r.tool} | {r.method} | {r.seconds:.3f} | {r.seconds / B * 1e6:,.2f} "
            f"| {ratio} | {'; '.join(r.notes)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="number of meta-analyses B")
    ap.add_argument("--k", type=int, default=10, help="studies per meta-analysis")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--repeats", type=int, default=3, help="metareview: best of this many runs")
    ap.add_argument(
        "--sample",
        type=int,
        default=1000,
        help="reference loops: fits timed before deciding whether to extrapolate",
    )
    ap.add_argument(
        "--limit",
        type=float,
        default=60.0,
        help="reference loops projected to take longer than this (s) are "
        "extrapolated from --sample fits",
    )
    ap.add_argument(
        "--agree", type=int, default=200, help="rows compared with metafor for agreement"
    )
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    B, k = args.n, args.k
    keep_freed_memory()  # the allocator opt-in (bench_malloc.py measures its effect)

    Y, V = simulate(B, k, args.seed)
    setting = (
        f"B = {B:,} meta-analyses of k = {k}; seed {args.seed}; "
        f"vi ~ Uniform({V_LOW}, {V_HIGH}), yi ~ N({THETA}, vi + {TAU2})"
    )
    print(setting)
    print(f"machine: {machine()}")
    print(f"metareview {metareview.__version__}\n")

    timings, mr_fits = bench_metareview(Y, V, args.repeats)
    for r in timings:
        print(f"metareview {r.method:22s} {r.seconds:8.3f} s")

    sm_rows, sm_fits = bench_statsmodels(Y, V, args.sample, args.limit)
    for r in sm_rows:
        print(f"{r.tool} {r.method}: {r.seconds:.3f} s ({'; '.join(r.notes)})")

    with tempfile.TemporaryDirectory(prefix="bench_rma_batch_") as tmp:
        workdir = Path(tmp)
        csv = workdir / "data.csv"
        write_long_csv(csv, Y, V)
        mf_rows, mf_fits, same_data = bench_metafor(
            Y, V, csv, workdir, args.sample, args.limit, min(args.agree, B)
        )
    for r in mf_rows:
        print(f"{r.tool} {r.method}: {r.seconds:.3f} s ({'; '.join(r.notes)})")
    if same_data is not None:
        print(
            f"R read bit-identical data for the first {min(args.agree, B)} meta-analyses: "
            f"{same_data}"
        )

    table = results_table(timings + sm_rows + mf_rows, B)
    agree = agreement(mr_fits, sm_fits, mf_fits, min(args.agree, B))
    print("\n" + "\n".join(table))
    print("\nAgreement (row ids are 0-based meta-analysis indices):\n")
    print("\n".join(agree))
    conv = convergence(mr_fits, mf_fits)
    print("\nConvergence:\n")
    print("\n".join(conv))

    report = [
        "# rma_batch benchmark",
        "",
        f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}",
        f"- metareview {metareview.__version__}",
        f"- data: {setting}",
        "- metareview: best of "
        f"{args.repeats} runs; reference loops: one pass (timed inside R for metafor)",
        "",
        *table,
        "",
        "Agreement (row ids are 0-based meta-analysis indices; statsmodels' DL does not "
        "truncate tau2 at 0):",
        "",
        *agree,
        "",
        "Convergence (0-based row ids):",
        "",
        *conv,
        "",
    ]
    if same_data is not None:
        report.insert(
            6,
            f"- R read bit-identical data (checked on the first "
            f"{min(args.agree, B)} meta-analyses): {same_data}",
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(report))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
