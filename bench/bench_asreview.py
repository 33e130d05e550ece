"""metareview's prioritised screening beside ASReview's own ``asreview simulate``, in the same
run, on the same records, with the same prior records and seeds.

For each shared labelled set (``bench_screening.load_set``; PTSD cleaned as Ferdinands et al.)
and seed, the priors are the ones ``simulate_screening`` draws for that seed (1 included + 1
excluded record); ASReview gets them as ``--prior-idx`` with ``--seed`` and the same batch
(``--n-query``), its default model otherwise (``elas_u4`` in ASReview 3). ASReview's
screening order is read from the project's ``results.db``; WSS@95, RRF@10 and loss of both
orders are computed by the same function (``screening_metrics``, priors left out).

ASReview lives in its own environment (``--asreview``, default ``asreview`` on PATH), never in
metareview's dependencies:

    python3 -m venv /tmp/asr && /tmp/asr/bin/pip install asreview
    .venv/bin/python bench/bench_asreview.py --asreview /tmp/asr/bin/asreview --seeds 1

Writes ``bench/results/asreview.md`` (+ ``.csv``) and prints it. Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from bench_screening import SCREENING, load_set
from metareview.review.simulation import screening_metrics, simulate_screening


def asreview_order(project: Path) -> np.ndarray:
    """Dataset rows in the order ASReview labelled them (priors first)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "results.db"
        db.write_bytes(zipfile.ZipFile(project).read("results.db"))
        with sqlite3.connect(db) as con:
            rows = con.execute(
                "select record.dataset_row from results join record "
                "on record.record_id = results.record_id order by results.rowid"
            ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.intp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", nargs="+", default=["ptsd", "kitchenham", "nudging", "virus", "ace"]
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--asreview", default=shutil.which("asreview") or "asreview")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "asreview.md"))
    args = parser.parse_args()
    if not SCREENING.is_dir():
        print(f"shared screening data not found at {SCREENING}; nothing to do.")
        return
    version = subprocess.run(
        [args.asreview, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name in args.sets:
            data, label = load_set(name)
            table = pd.DataFrame(
                {
                    "title": data["title"].fillna(""),
                    "abstract": data["abstract"].fillna(""),
                    "included": data[label].astype(int),
                }
            )
            csv = Path(work) / f"{name}.csv"
            table.to_csv(csv, index=False)
            labels = table["included"].to_numpy()
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                ours = simulate_screening(
                    table, label_column="included", seeds=[seed], batch_size=args.batch
                )
                ours_s = time.perf_counter() - t0
                order = ours.orders[0]
                priors = order[:2]
                project = Path(work) / f"{name}-{seed}.asreview"
                t0 = time.perf_counter()
                subprocess.run(
                    [
                        args.asreview,
                        "simulate",
                        str(csv),
                        "--prior-idx",
                        *map(str, priors),
                        "--seed",
                        str(seed),
                        "--n-query",
                        str(args.batch),
                        "-o",
                        str(project),
                    ],
                    check=True,
                    capture_output=True,
                )
                theirs_s = time.perf_counter() - t0
                theirs = asreview_order(project)
                assert set(theirs[:2]) == set(priors), "ASReview did not start from our priors"
                # ASReview stops at the last relevant record: the rest are irrelevant, so
                # appending them changes no metric (as in simulate_screening)
                rest = np.setdiff1d(np.arange(labels.size), theirs)
                theirs = np.concatenate([theirs, rest])
                m_ours = screening_metrics(labels[order][2:])
                m_theirs = screening_metrics(labels[theirs][2:])
                row = {"set": name, "seed": seed, "N": labels.size, "R": int(labels.sum())}
                for key in ("wss_95", "rrf_10", "loss"):
                    row[f"metareview_{key}"] = m_ours[key]
                    row[f"asreview_{key}"] = m_theirs[key]
                row["metareview_s"] = ours_s
                row["asreview_s"] = theirs_s
                rows.append(row)
                print(row, flush=True)
    frame = pd.DataFrame(rows)
    lines = [
        "# metareview vs ASReview simulate, same priors and seeds (bench_asreview.py)",
        "",
        machine(("asreview", version.split()[-1])),
        "",
        f"{args.seeds} seed(s), batch {args.batch}; metareview: logistic regression (default); "
        "ASReview: its default model. WSS@95, RRF@10 in %; time = wall seconds per run "
        "(ASReview's includes its start-up and project file).",
        "",
        "| set | N / R | WSS@95 metareview | WSS@95 ASReview | RRF@10 metareview | "
        "RRF@10 ASReview | loss metareview | loss ASReview | s metareview | s ASReview |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, group in frame.groupby("set", sort=False):
        mean = group.mean(numeric_only=True)
        lines.append(
            f"| {name} | {int(mean['N']):,} / {int(mean['R'])} | "
            f"{mean['metareview_wss_95'] * 100:.1f} | {mean['asreview_wss_95'] * 100:.1f} | "
            f"{mean['metareview_rrf_10'] * 100:.1f} | {mean['asreview_rrf_10'] * 100:.1f} | "
            f"{mean['metareview_loss']:.3f} | {mean['asreview_loss']:.3f} | "
            f"{mean['metareview_s']:.0f} | {mean['asreview_s']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    frame.to_csv(Path(args.out).with_suffix(".csv"), index=False)
    print(text)


if __name__ == "__main__":
    main()
