"""Benchmark metareview's GOSH and leave-one-out analyses against metafor and a Python loop.

Two simulated data sets (fixed seed; vi ~ Uniform(0.01, 0.2), yi ~ N(0.3, vi + 0.05), as in
``bench_rma_batch.py``):

1. **GOSH, k = 16** (all 2^16 - 1 = 65,535 subsets), DL and REML.
   metareview ``gosh(res)``, best of ``--repeats`` runs, against metafor
   ``gosh(res, progbar=FALSE)``: DL over all subsets; REML (11-17 min in metafor here) over
   ``--gosh-subsets`` random subsets, extrapolated linearly to all subsets. metafor's REML
   runs twice: with its default control (``threshold=1e-5, maxiter=100``) and with
   ``threshold=1e-10, maxiter=1000``, which matches metareview's default ``Control``.
   Agreement: metafor's rows are matched to metareview's by their inclusion pattern and the
   max |difference| of estimate, tau2, QE, I2 and H2 is reported with the subset it occurs
   in.
2. **Leave-one-out, k = 1,000**, DL and REML.
   metareview ``leave1out(res)``, best of ``--repeats``, against (a) a Python loop of
   ``metareview.rma`` on each deleted data set (``--py-sample`` fits timed first,
   extrapolated if that projects to more than ``--limit`` s) and (b) metafor: the
   ``rma.uni`` call that metafor's ``leave1out`` makes for each study, on the first
   ``--r-sample`` deleted data sets, extrapolated linearly to k (or ``leave1out(res)`` itself
   when the sample projects to at most ``--limit`` s).

metafor is timed with ``proc.time()`` inside R, so R start-up and reading the data are
excluded. R reads the numbers from CSVs written with 17 significant digits and echoes them
back as hex floats, and the script checks that both languages used identical data.

Usage::

    .venv/bin/python bench/bench_sensitivity.py [--k-gosh 16] [--k-l1o 1000]

This is a benchmark, not a test: it asserts nothing and never fails on disagreement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

# bench_rma_batch: helpers shared with that benchmark (bench/ is on sys.path when this file is
# run as a script)
import metareview as mr
from bench_rma_batch import (
    TAU2,
    THETA,
    V_HIGH,
    V_LOW,
    _hex_column,
    _read_hex_csv,
    best_of,
    machine,
    simulate,
    timed_loop,
    write_long_csv,
)
from metareview import ConvergenceWarning, rma_batch
from metareview.stats import keep_freed_memory
from metareview.stats.tau2 import SAFEGUARD_AFTER

RESULTS = Path(__file__).resolve().parent / "results" / "sensitivity.md"

#: targets from the issue (exhaustive GOSH, k = 16, on the 2-core benchmark machine)
TARGETS = {"DL": 0.1, "REML": 2.0}
STRICT = "threshold=1e-10, maxiter=1000"


@dataclass
class Row:
    """One row of the results table."""

    tool: str
    analysis: str
    method: str
    seconds: float
    key: tuple[str, str]  # (analysis, method) of the metareview row it is compared with
    baseline: bool = False
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# metareview
# --------------------------------------------------------------------------------------------


def bench_metareview_gosh(y, v, repeats: int):
    rows, fits = [], {}
    for method in ("DL", "REML"):
        res = mr.rma(y, v, method=method)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            seconds, g = best_of(lambda r=res: mr.gosh(r), repeats)
        # the GOSH table has no convergence column: refit the same masks to get the flags
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            B = g.incl.shape[0]
            flags = rma_batch(
                np.broadcast_to(y, (B, y.size)),
                np.broadcast_to(v, (B, v.size)),
                mask=g.incl,
                method=method,
                tau2_ci=False,
                allow_saturated=True,
            )
        notes = [f"best of {repeats}", f"all {B:,} subsets"]
        n_bad = int((~flags.converged).sum())
        if n_bad:
            notes.append(f"{n_bad} subsets not converged (not flagged in the GOSH table)")
        notes += [f"warning: {m}" for m in sorted({str(w.message) for w in caught})]
        target = TARGETS[method]
        notes.append(f"target < {target:g} s: {'MET' if seconds < target else 'NOT MET'}")
        rows.append(
            Row(
                "metareview",
                f"gosh, k = {y.size}",
                method,
                seconds,
                ("gosh", method),
                baseline=True,
                notes=notes,
            )
        )
        fits[method] = {"gosh": g, "converged": flags.converged, "iterations": flags.iterations}
    return rows, fits


def bench_metareview_l1o(y, v, repeats: int, py_sample: int, limit: float):
    k = y.size
    rows, fits = [], {}
    for method in ("DL", "REML"):
        res = mr.rma(y, v, method=method)
        seconds, frame = best_of(lambda r=res: mr.leave1out(r), repeats)
        rows.append(
            Row(
                "metareview",
                f"leave1out, k = {k:,}",
                method,
                seconds,
                ("l1o", method),
                baseline=True,
                notes=[f"best of {repeats}", f"{k:,} fits of k = {k - 1:,}"],
            )
        )
        est, se, tau2 = (np.full(k, np.nan) for _ in range(3))
        errors: list[str] = []

        def fit_one(i, method=method, est=est, se=se, tau2=tau2, errors=errors):
            keep = np.arange(k) != i
            try:
                r = mr.rma(y[keep], v[keep], method=method)
            except Exception as exc:  # a failed fit is recorded, not fatal
                errors.append(f"{i}: {exc}")
                return
            est[i], se[i], tau2[i] = r.estimate, r.se[0], r.tau2

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            loop_s, n_fit, extrapolated = timed_loop(fit_one, k, py_sample, limit)
        notes = ["single pass", f"mr.rma() on each deleted data set ({n_fit:,} fitted)"]
        if extrapolated:
            notes.append(f"EXTRAPOLATED linearly from {n_fit:,} fits")
        if errors:
            notes.append(f"{len(errors)} fits raised an error")
        rows.append(
            Row(
                f"Python loop, metareview {mr.__version__}",
                f"leave1out, k = {k:,}",
                method,
                loop_s,
                ("l1o", method),
                notes=notes,
            )
        )
        fits[method] = {
            "l1o": frame,
            "loop": {"estimate": est, "se": se, "tau2": tau2, "n": n_fit, "errors": errors},
        }
    return rows, fits


# --------------------------------------------------------------------------------------------
# metafor (R)
# --------------------------------------------------------------------------------------------

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
gosh_csv <- args[1]; l1o_csv <- args[2]; outdir <- args[3]
n_subsets <- as.integer(args[4]); r_sample <- as.integer(args[5])
limit <- as.numeric(args[6]); seed <- as.integer(args[7])
suppressPackageStartupMessages(library(metafor))
cat("VERSION", as.character(packageVersion("metafor")), R.version$major, R.version$minor, "\n")
hex <- function(x) sprintf("%a", x)
read_one <- function(path, tag) {
  d <- read.csv(path, colClasses = c("integer", "numeric", "numeric"))
  write.csv(data.frame(id = d$id, yi = hex(d$yi), vi = hex(d$vi)),
            file.path(outdir, paste0("echo_", tag, ".csv")), row.names = FALSE)
  d
}
strict <- list(threshold = 1e-10, maxiter = 1000)

# ---- GOSH
g <- read_one(gosh_csv, "gosh")
gosh_run <- function(name, method, control, subsets) {
  res <- rma(g$yi, g$vi, method = method, control = control)
  t0 <- proc.time()[["elapsed"]]
  out <- if (is.na(subsets)) gosh(res, progbar = FALSE) else
    gosh(res, subsets = subsets, progbar = FALSE, seed = seed)
  secs <- proc.time()[["elapsed"]] - t0
  cat("GOSH", name, sprintf("%.6f", secs), nrow(out$incl), sum(!out$fit), "\n")
  r <- out$res
  write.csv(data.frame(incl = apply(out$incl * 1L, 1, paste, collapse = ""),
                       estimate = hex(r$estimate), tau2 = hex(r$tau2), QE = hex(r$QE),
                       I2 = hex(r$I2), H2 = hex(r$H2)),
            file.path(outdir, paste0("gosh_", name, ".csv")), row.names = FALSE)
  # subsets whose fit failed (Fisher scoring oscillates): refit with halved steps
  bad <- which(!out$fit)
  est <- rep(NA_real_, length(bad)); tau2 <- est
  for (j in seq_along(bad)) {
    s <- out$incl[bad[j], ]
    fit <- tryCatch(rma(g$yi[s], g$vi[s], method = method,
                        control = list(threshold = 1e-10, maxiter = 10000, stepadj = 0.5)),
                    error = function(e) NULL)
    if (!is.null(fit)) { est[j] <- fit$beta[1]; tau2[j] <- fit$tau2 }
  }
  write.csv(data.frame(incl = apply(out$incl[bad, , drop = FALSE] * 1L, 1, paste,
                                    collapse = ""),
                       estimate = hex(est), tau2 = hex(tau2)),
            file.path(outdir, paste0("gosh_", name, "_refit.csv")), row.names = FALSE)
}
gosh_run("DL", "DL", list(), NA)
gosh_run("REML_default", "REML", list(), n_subsets)
gosh_run("REML_strict", "REML", strict, n_subsets)

# ---- leave-one-out: the rma.uni() call leave1out.rma.uni makes for each study
l <- read_one(l1o_csv, "l1o")
k <- nrow(l)
outlist <- paste("beta=beta, se=se, zval=zval, pval=pval, ci.lb=ci.lb, ci.ub=ci.ub,",
                 "QE=QE, QEp=QEp, tau2=tau2, I2=I2, H2=H2")
l1o_run <- function(name, method, control) {
  res <- rma(l$yi, l$vi, method = method, control = control)
  n0 <- min(r_sample, k)
  est <- rep(NA_real_, n0); se <- est; tau2 <- est
  failed <- 0L
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(n0)) {
    fit <- tryCatch(suppressWarnings(rma(l$yi, l$vi, method = method, control = control,
                                         subset = -i, skipr2 = TRUE, outlist = outlist)),
                    error = function(e) NULL)
    if (is.null(fit)) { failed <- failed + 1L; next }
    est[i] <- fit$beta[1]; se[i] <- fit$se[1]; tau2[i] <- fit$tau2
  }
  t_sample <- proc.time()[["elapsed"]] - t0
  projected <- t_sample * k / n0
  how <- "sample"
  if (n0 < k && projected <= limit) {
    t0 <- proc.time()[["elapsed"]]
    out <- leave1out(res)
    projected <- proc.time()[["elapsed"]] - t0
    est <- out$estimate; se <- out$se; tau2 <- out$tau2
    n0 <- k; failed <- sum(is.na(est)); how <- "leave1out"
  }
  cat("L1O", name, sprintf("%.6f", projected), n0, failed, how, sprintf("%.6f", t_sample),
      "\n")
  write.csv(data.frame(id = seq_len(n0), estimate = hex(est), se = hex(se), tau2 = hex(tau2)),
            file.path(outdir, paste0("l1o_", name, ".csv")), row.names = FALSE)
}
l1o_run("DL", "DL", list())
l1o_run("REML_default", "REML", list())
l1o_run("REML_strict", "REML", strict)
"""

# name -> (method label, metareview baseline method, setting note)
METAFOR_CONFIGS = {
    "DL": ("DL", "DL", "defaults"),
    "REML_default": ("REML, default control", "REML", "defaults: threshold=1e-5, maxiter=100"),
    "REML_strict": (f"REML, {STRICT}", "REML", f"control=list({STRICT})"),
}


def _read_gosh_csv(path: Path) -> dict[str, np.ndarray]:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    out = {c: _hex_column(frame[c]) for c in frame.columns if c != "incl"}
    out["incl"] = np.array([[ch == "1" for ch in s] for s in frame["incl"]], dtype=bool)
    return out


def bench_metafor(
    gosh_data, l1o_data, workdir: Path, n_subsets: int, r_sample: int, limit: float, seed: int
):
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: skipping metafor (apt-get install r-base-core r-cran-metafor).")
        return [], {}, {}, None
    csvs = {}
    for tag, (y, v) in (("gosh", gosh_data), ("l1o", l1o_data)):
        csvs[tag] = workdir / f"{tag}.csv"
        write_long_csv(csvs[tag], y[None], v[None])
    script = workdir / "bench_sensitivity.R"
    script.write_text(R_SCRIPT)
    cmd = [
        rscript,
        "--vanilla",
        str(script),
        str(csvs["gosh"]),
        str(csvs["l1o"]),
        str(workdir),
        str(n_subsets),
        str(r_sample),
        str(limit),
        str(seed),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"Rscript failed (exit {proc.returncode}); skipping metafor.\n{proc.stderr.strip()}")
        return [], {}, {}, None

    k_gosh, k_l1o = gosh_data[0].size, l1o_data[0].size
    n_all = 2**k_gosh - 1
    version, rows, gosh_fits, l1o_fits = "?", [], {}, {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["VERSION"]:
            version = f"{parts[1]} (R {parts[2]}.{parts[3]})"
        elif parts[:1] == ["GOSH"]:
            name, secs, fitted, failed = parts[1], float(parts[2]), int(parts[3]), int(parts[4])
            label, base, setting = METAFOR_CONFIGS[name]
            notes = ["single pass", setting]
            if fitted < n_all:
                notes.append(
                    f"EXTRAPOLATED linearly from {fitted:,} random subsets ({secs:.2f} s measured)"
                )
                secs *= n_all / fitted
            else:
                notes.append(f"all {fitted:,} subsets")
            if failed:
                notes.append(f"{failed} subset fits failed (NA)")
            rows.append(
                Row(
                    f"metafor {version}",
                    f"gosh, k = {k_gosh}",
                    label,
                    secs,
                    ("gosh", base),
                    notes=notes,
                )
            )
            gosh_fits[name] = _read_gosh_csv(workdir / f"gosh_{name}.csv")
            gosh_fits[name]["refit"] = _read_gosh_csv(workdir / f"gosh_{name}_refit.csv")
        elif parts[:1] == ["L1O"]:
            name, secs, fitted, failed = parts[1], float(parts[2]), int(parts[3]), int(parts[4])
            how, t_sample = parts[5], float(parts[6])
            label, base, setting = METAFOR_CONFIGS[name]
            notes = ["single pass", setting]
            if how == "leave1out":
                notes.append("leave1out(res), all fits")
            else:
                notes.append(
                    f"EXTRAPOLATED linearly from {fitted} deleted-data fits "
                    f"({t_sample:.2f} s measured; the rma.uni call leave1out makes)"
                )
            if failed:
                notes.append(f"{failed} fits raised an error")
            rows.append(
                Row(
                    f"metafor {version}",
                    f"leave1out, k = {k_l1o:,}",
                    label,
                    secs,
                    ("l1o", base),
                    notes=notes,
                )
            )
            l1o_fits[name] = _read_hex_csv(workdir / f"l1o_{name}.csv")

    same = True
    for tag, (y, v) in (("gosh", gosh_data), ("l1o", l1o_data)):
        echo = _read_hex_csv(workdir / f"echo_{tag}.csv")
        same &= bool(np.array_equal(echo["yi"], y) and np.array_equal(echo["vi"], v))
    return rows, gosh_fits, l1o_fits, same


# --------------------------------------------------------------------------------------------
# Agreement and reporting
# --------------------------------------------------------------------------------------------


def _codes(incl: np.ndarray) -> np.ndarray:
    return incl.astype(np.int64) @ (np.int64(1) << np.arange(incl.shape[1], dtype=np.int64))


def _subset_label(incl_row: np.ndarray) -> str:
    studies = (np.flatnonzero(incl_row) + 1).tolist()
    return f"k={len(studies)} {{{','.join(map(str, studies))}}}"


GOSH_COLS = ("estimate", "tau2", "QE", "I2", "H2")


def gosh_agreement(mr_fits, mf_fits) -> tuple[list[str], list[str]]:
    """Markdown table of max |differences| on matched subsets, and notes on failures."""
    lines = [
        "| comparison | subsets | "
        + " | ".join(f"max abs diff {c} [subset]" for c in GOSH_COLS)
        + " |",
        "|---|---|" + "---|" * len(GOSH_COLS),
    ]
    notes: list[str] = []

    def add(label, table, idx, ref, cols=GOSH_COLS):
        """One table row: metareview rows ``idx`` against the reference rows in ``ref``."""
        cells = []
        for col in GOSH_COLS:
            if col not in cols:
                cells.append("—")
                continue
            mine = table[col].to_numpy()[idx]
            d = np.abs(mine - ref[col])
            i = int(np.argmax(d))
            cells.append(
                f"{d[i]:.3g} [{_subset_label(ref['incl'][i])}: "
                f"{mine[i]:.10g} vs {ref[col][i]:.10g}]"
            )
        lines.append(
            f"| {label} | {idx.size:,} ({np.unique(idx).size:,} distinct) | "
            + " | ".join(cells)
            + " |"
        )

    for name, label in (
        ("DL", "metafor DL, all subsets"),
        ("REML_strict", f"metafor REML {STRICT}, random subsets"),
        ("REML_default", "metafor REML default (1e-5), random subsets"),
    ):
        if name not in mf_fits:
            continue
        method = METAFOR_CONFIGS[name][1]
        g, iters = mr_fits[method]["gosh"], mr_fits[method]["iterations"]
        lookup = np.full(2 ** g.incl.shape[1], -1, dtype=np.int64)
        lookup[_codes(g.incl)] = np.arange(g.incl.shape[0])
        ref = mf_fits[name]
        idx = lookup[_codes(ref["incl"])]
        ok = np.isfinite(ref["estimate"])

        def subset(rows, ref=ref):
            return {c: v[rows] for c, v in ref.items() if c != "refit"}

        add(f"metareview {method} vs {label}", g.table, idx[ok], subset(ok))
        if name == "REML_strict":
            for few, text in ((True, "<="), (False, ">")):
                sel = ok & ((iters[idx] <= SAFEGUARD_AFTER) == few)
                if sel.any():
                    add(
                        f"  ... subsets where metareview took {text} {SAFEGUARD_AFTER} Fisher "
                        "steps",
                        g.table,
                        idx[sel],
                        subset(sel),
                    )
        if (~ok).any():
            conv = mr_fits[method]["converged"][idx[~ok]]
            notes.append(
                f"- {label}: {int((~ok).sum())} subsets NA in metafor (Fisher scoring "
                f"did not converge); metareview converged on {int(conv.sum())} of "
                f"them, in {', '.join(str(int(i)) for i in iters[idx[~ok]])} "
                f"iterations: " + ", ".join(_subset_label(r) for r in ref["incl"][~ok])
            )
            refit = ref["refit"]
            if refit["estimate"].size:
                add(
                    f"metareview {method} vs metafor REML refit with stepadj=0.5, "
                    f"threshold=1e-10 on the subsets {label.split(',')[0]} failed on",
                    g.table,
                    lookup[_codes(refit["incl"])],
                    refit,
                    cols=("estimate", "tau2"),
                )
        if name == "DL":
            # metafor's DL shortcut for GOSH reports H2 = Q/(k-1), also below 1
            h2_lt1 = int((ref["H2"][ok] < 1 - 1e-12).sum())
            mine_h2 = g.table["H2"].to_numpy()[idx[ok]]
            diff_rows = np.abs(mine_h2 - ref["H2"][ok]) > 1e-9
            ge1 = ref["H2"][ok] >= 1
            rest = float(np.abs(mine_h2[ge1] - ref["H2"][ok][ge1]).max())
            notes.append(
                f"- DL: metafor H2 < 1 in {h2_lt1:,} subsets; H2 differs by > 1e-9 in "
                f"{int(diff_rows.sum()):,} subsets; among those, metafor H2 < 1 in "
                f"{int((ref['H2'][ok][diff_rows] < 1 - 1e-12).sum()):,} and "
                f"metareview H2 = 1 in {int((mine_h2[diff_rows] == 1).sum()):,}; "
                f"max abs diff H2 on the {int(ge1.sum()):,} subsets with metafor "
                f"H2 >= 1: {rest:.3g}"
            )
    for method in ("DL", "REML"):
        conv, iters = mr_fits[method]["converged"], mr_fits[method]["iterations"]
        bad = np.flatnonzero(~conv)
        notes.append(
            f"- metareview GOSH {method}: {bad.size} of {conv.size:,} subsets not "
            f"converged; iterations median {np.median(iters):.0f}, max {iters.max()}; "
            f"{int((iters > SAFEGUARD_AFTER).sum()):,} subsets took more than "
            f"{SAFEGUARD_AFTER} (where metareview's bisection safeguard may leave "
            "metafor's path)"
            + (
                ": " + ", ".join(_subset_label(mr_fits[method]["gosh"].incl[b]) for b in bad[:5])
                if bad.size
                else ""
            )
        )
    return lines, notes


def l1o_agreement(py_fits, mf_fits) -> list[str]:
    lines = [
        "| comparison | fits | max abs diff estimate (study) | max abs diff se (study) "
        "| max abs diff tau2 (study) |",
        "|---|---|---|---|---|",
    ]

    def add(label, frame, ref, n):
        cells = []
        rows = np.arange(n)
        rows = rows[np.isfinite(np.asarray(ref["estimate"])[:n])]
        for col in ("estimate", "se", "tau2"):
            d = np.abs(frame[col].to_numpy()[rows] - np.asarray(ref[col])[rows])
            i = int(np.argmax(d))
            cells.append(f"{d[i]:.3g} ({int(rows[i]) + 1})")
        lines.append(f"| {label} | {rows.size:,} | " + " | ".join(cells) + " |")

    for method in ("DL", "REML"):
        loop = py_fits[method]["loop"]
        add(
            f"metareview leave1out {method} vs Python loop of mr.rma",
            py_fits[method]["l1o"],
            loop,
            loop["n"],
        )
    for name in ("DL", "REML_strict", "REML_default"):
        if name in mf_fits:
            method = METAFOR_CONFIGS[name][1]
            add(
                f"metareview leave1out {method} vs metafor {METAFOR_CONFIGS[name][0]}",
                py_fits[method]["l1o"],
                mf_fits[name],
                mf_fits[name]["estimate"].size,
            )
    return lines


def load_average() -> str:
    """1-minute load average (other processes on this shared VM skew timings)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def results_table(rows: list[Row]) -> list[str]:
    base = {r.key: r.seconds for r in rows if r.baseline}
    lines = [
        "| tool | analysis | method | wall time (s) | ratio (tool / metareview) | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "1 (baseline)" if r.baseline else f"{r.seconds / base[r.key]:,.1f}×"
        lines.append(
            f"| {r.tool} | {r.analysis} | {r.method} | {r.seconds:,.3f} | {ratio} "
            f"| {'; '.join(r.notes)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k-gosh", type=int, default=16, help="studies in the GOSH data set")
    ap.add_argument("--k-l1o", type=int, default=1000, help="studies in the leave-one-out set")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--repeats", type=int, default=3, help="metareview: best of this many runs")
    ap.add_argument(
        "--gosh-subsets",
        type=int,
        default=2000,
        help="metafor REML GOSH: random subsets timed and extrapolated",
    )
    ap.add_argument(
        "--py-sample",
        type=int,
        default=50,
        help="Python loop: fits timed before deciding whether to extrapolate",
    )
    ap.add_argument(
        "--r-sample", type=int, default=10, help="metafor leave-one-out: deleted data sets timed"
    )
    ap.add_argument(
        "--limit",
        type=float,
        default=60.0,
        help="loops projected to take longer than this (s) are extrapolated",
    )
    ap.add_argument("--output", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    keep_freed_memory()  # the allocator opt-in (bench_malloc.py measures its effect)

    yg, vg = (a[0] for a in simulate(1, args.k_gosh, args.seed))
    yl, vl = (a[0] for a in simulate(1, args.k_l1o, args.seed + 1))
    n_all = 2**args.k_gosh - 1
    setting = (
        f"GOSH: k = {args.k_gosh} (seed {args.seed}, {n_all:,} subsets); "
        f"leave-one-out: k = {args.k_l1o:,} (seed {args.seed + 1}); "
        f"vi ~ Uniform({V_LOW}, {V_HIGH}), yi ~ N({THETA}, vi + {TAU2})"
    )
    print(setting)
    print(f"machine: {machine()}")
    print(f"metareview {mr.__version__}; 1-min load average at start {load_average()}\n")
    load_start = load_average()

    g_rows, g_fits = bench_metareview_gosh(yg, vg, args.repeats)
    l_rows, l_fits = bench_metareview_l1o(yl, vl, args.repeats, args.py_sample, args.limit)
    for r in g_rows + l_rows:
        print(f"{r.tool:40s} {r.analysis:22s} {r.method:5s} {r.seconds:8.3f} s")

    with tempfile.TemporaryDirectory(prefix="bench_sensitivity_") as tmp:
        mf_rows, mf_gosh, mf_l1o, same_data = bench_metafor(
            (yg, vg), (yl, vl), Path(tmp), args.gosh_subsets, args.r_sample, args.limit, args.seed
        )
    for r in mf_rows:
        print(f"{r.tool} {r.analysis} {r.method}: {r.seconds:.3f} s ({'; '.join(r.notes)})")
    if same_data is not None:
        print(f"R read bit-identical data: {same_data}")

    order = {("gosh", "DL"): 0, ("gosh", "REML"): 1, ("l1o", "DL"): 2, ("l1o", "REML"): 3}
    all_rows = sorted(g_rows + l_rows + mf_rows, key=lambda r: (order[r.key], not r.baseline))
    table = results_table(all_rows)
    g_agree, g_notes = gosh_agreement(g_fits, mf_gosh)
    l_agree = l1o_agreement(l_fits, mf_l1o)
    gosh_s = {r.method: r.seconds for r in g_rows}
    targets = [
        f"- exhaustive GOSH, k = {args.k_gosh}, {m}: {gosh_s[m]:.3f} s, target "
        f"< {t:g} s: {'MET' if gosh_s[m] < t else 'NOT MET'}"
        for m, t in TARGETS.items()
    ]
    if args.k_gosh != 16:
        targets.append("- (the targets are for k = 16; this run used a different k)")

    print("\n" + "\n".join(table))
    print("\nTargets:\n\n" + "\n".join(targets))
    print(
        "\nGOSH agreement (metafor rows matched to metareview's by inclusion pattern; "
        "[subset: metareview vs metafor], studies 1-based):\n"
    )
    print("\n".join(g_agree))
    print("\n" + "\n".join(g_notes))
    print("\nLeave-one-out agreement (omitted study, 1-based):\n")
    print("\n".join(l_agree))

    report = [
        "# GOSH and leave-one-out benchmark",
        "",
        f"- date: {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {machine()}; 1-min load average {load_start} at start, "
        f"{load_average()} at end (nproc = 2: a load near 2 means another process competed)",
        f"- metareview {mr.__version__}",
        f"- data: {setting}",
        f"- metareview: best of {args.repeats} runs; reference loops: one pass (timed inside R "
        "for metafor, start-up excluded); EXTRAPOLATED rows are linear projections from the "
        "sample stated",
    ]
    if same_data is not None:
        report.append(f"- R read bit-identical data: {same_data}")
    report += [
        "",
        *table,
        "",
        "Targets (from the issue):",
        "",
        *targets,
        "",
        "GOSH agreement (metafor rows matched to metareview's by inclusion pattern; "
        "[subset: metareview vs metafor], studies 1-based):",
        "",
        *g_agree,
        "",
        *g_notes,
        "",
        "Leave-one-out agreement (omitted study, 1-based):",
        "",
        *l_agree,
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(report))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
