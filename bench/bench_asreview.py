"""metareview's prioritised screening beside ASReview's own ``asreview simulate``, in the same
run, on the same records, with the same prior records, seeds and batch.

For each shared labelled set (``bench_screening.load_set``; PTSD cleaned as Ferdinands et al.)
and seed, the priors are the ones ``simulate_screening`` draws for that seed (1 included + 1
excluded record); ASReview gets them as ``--prior-idx`` with ``--seed``, and its default model
(``elas_u4`` in ASReview 2 and 3) written to a ``--config-file`` with ``n_query`` set to the
same batch as ours. (``--n-query`` alone does not do it: ``asreview simulate`` applies it only
when a classifier, querier, balancer or feature extractor is named, so an earlier run of this
bench had ASReview retrain after every record and metareview after every ten.) ASReview's
screening order is read from the project's ``results.db``; WSS@95, RRF@10 and loss of both
orders are computed by the same function (``screening_metrics``, priors left out).

ASReview lives in its own environment (``--asreview``, default ``asreview`` on PATH), never in
metareview's dependencies:

    python3 -m venv /tmp/asr && /tmp/asr/bin/pip install asreview
    .venv/bin/python bench/bench_asreview.py --asreview /tmp/asr/bin/asreview --seeds 5

Writes ``bench/results/asreview.md`` (+ ``.csv``) and prints it, with a progress bar over the
runs. Asserts nothing. ``--training elas_u4`` runs metareview with ASReview's model (the
check that the reproduction is exact); by default metareview runs its own default ranking
(elas_u4 + presumed-irrelevant records since issue 16's last round). The priors do not depend
on the training: each seed draws them before any model is fitted.
"""

from __future__ import annotations

import argparse
import json
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from _machine import machine
from bench_screening import load_set, no_screening_data
from metareview.review.ranking import (
    CLASSIFIER_DEFAULTS,
    DEFAULT_CLASSIFIER,
    DEFAULT_TRAINING,
    TRAINING,
)
from metareview.review.simulation import screening_metrics, simulate_screening

DEFAULT_MODEL = (
    f"{DEFAULT_CLASSIFIER}, "
    + ", ".join(f"{k} {v:g}" for k, v in CLASSIFIER_DEFAULTS[DEFAULT_CLASSIFIER].items() if v)
    + ", TF-IDF of word 1-2-grams, sublinear tf, max_df 0.95"
)


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


def asreview_config(asreview: str, batch: int, path: Path) -> dict:
    """Write ASReview's default model, with ``n_query = batch``, as a ``--config-file``.

    The settings are read from the ASReview installation itself (its ``get_ai_config``), run
    by the interpreter named in the ``asreview`` script's first line.
    """
    script = Path(shutil.which(asreview) or asreview)
    first = script.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    python = first[2:].strip() if first.startswith("#!") else sys.executable
    code = (
        "import dataclasses, json; from asreview.models.models import get_ai_config; "
        "print(json.dumps(dataclasses.asdict(get_ai_config()['value'])))"
    )
    config = json.loads(
        subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    config["n_query"] = batch
    path.write_text(json.dumps(config), encoding="utf-8")
    return config


def _spread(values: pd.Series) -> str:
    """Mean (min-max) in %, or the value alone for one seed."""
    if len(values) == 1:
        return f"{values.iloc[0] * 100:.1f}"
    return f"{values.mean() * 100:.1f} ({values.min() * 100:.1f}-{values.max() * 100:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", nargs="+", default=["ptsd", "kitchenham", "nudging", "virus", "ace"]
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--training",
        default=None,
        help="metareview's training (default: the library's; elas_u4 = ASReview's model)",
    )
    parser.add_argument("--asreview", default=shutil.which("asreview") or "asreview")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "asreview.md"))
    args = parser.parse_args()
    if no_screening_data():
        return
    version = subprocess.run(
        [args.asreview, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    rows = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with (
        tempfile.TemporaryDirectory() as work,
        Progress(*columns, TimeElapsedColumn()) as bar,
    ):
        config_file = Path(work) / "asreview_model.json"
        config = asreview_config(args.asreview, args.batch, config_file)
        task = bar.add_task("runs", total=len(args.sets) * args.seeds)
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
                bar.update(task, description=f"{name} seed {seed}")
                t0 = time.perf_counter()
                ours = simulate_screening(
                    table,
                    label_column="included",
                    seeds=[seed],
                    batch_size=args.batch,
                    training=args.training,
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
                        "--config-file",
                        str(config_file),
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
                bar.console.print(
                    f"{name} seed {seed}: WSS@95 {m_ours['wss_95']:.3f} (metareview) "
                    f"{m_theirs['wss_95']:.3f} (ASReview)"
                )
                bar.advance(task)
    frame = pd.DataFrame(rows)
    lines = [
        "# metareview vs ASReview simulate, same priors and seeds (bench_asreview.py)",
        "",
        machine(("asreview", version.split()[-1])),
        "",
        f"{args.seeds} seed(s), both retrained every {args.batch} records; metareview: its "
        f"default ranking ({DEFAULT_MODEL}) with training "
        f"{TRAINING.check(args.training or DEFAULT_TRAINING[DEFAULT_CLASSIFIER])!r}; "
        "ASReview: its default model "
        f"({json.dumps({k: v for k, v in config.items() if v})}). Mean over seeds; "
        "WSS@95 (mean (min-max)), RRF@10 in %; time = wall seconds per run (ASReview's "
        "includes its start-up and project file).",
        "",
        "| set | N / R | WSS@95 metareview | WSS@95 ASReview | RRF@10 metareview | "
        "RRF@10 ASReview | loss metareview | loss ASReview | s metareview | s ASReview |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, group in frame.groupby("set", sort=False):
        mean = group.mean(numeric_only=True)
        lines.append(
            f"| {name} | {int(mean['N']):,} / {int(mean['R'])} | "
            f"{_spread(group['metareview_wss_95'])} | {_spread(group['asreview_wss_95'])} | "
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
