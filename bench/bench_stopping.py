"""Why the statistical stopping rule stops late, and what crediting the ranking buys.

Replays the shared labelled reviews (``bench_screening.load_set``) with the default ranking
(ASReview's ``elas_u4`` SVM since issue 16; 1 + 1 seeded priors, retrain every ``--batch``
records) and, on the same screening orders, finds where each rule stops:

- the hypergeometric rule of Callaghan & Müller-Hansen (2020) at 95% recall / 95% confidence,
  checked after every record (exact, from ``first_stops``);
- the same rule with a biased urn (``bias`` = 2, 3, 5: Wallenius' noncentral hypergeometric,
  as in the authors' BUSCAR code), checked every ``--check-every`` records (a coarser check
  can only stop later);
- the bound that explains the late stops: with all ``R`` relevant records found and the last
  ``n`` screened all irrelevant, the null "recall < 95%" needs ``m = floor(R (1/0.95 - 1)) + 1``
  relevant records in the urn of ``n + U`` (``U`` unscreened), so ``p ~ (U / (n + U))^m`` and
  the rule must screen a share ``1 - 0.05^(1/m)`` of what is left after the last relevant
  record (63% for m = 3, 39% for m = 6), whatever the ranking.

    .venv/bin/python bench/bench_stopping.py --seeds 5 --batch 10 --jobs 2

Writes ``bench/results/stopping.md`` and prints it, with a progress bar over the sets.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import track

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from bench_screening import SCREENING, load_set
from metareview.review.ranking import DEFAULT_CLASSIFIER
from metareview.review.simulation import simulate_screening
from metareview.review.stopping import recall_p_value

BIASES = (2.0, 3.0, 5.0)


def first_biased_stop(y: np.ndarray, n_records: int, bias: float, every: int) -> int:
    """First multiple of ``every`` records at which the biased-urn p is below 0.05."""
    for screened in range(every, y.size + every, every):
        screened = min(screened, y.size)
        if recall_p_value(y[:screened], n_records, bias=bias) < 0.05:
            return screened
        if screened == y.size:
            break
    return n_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", nargs="+", default=["ptsd", "kitchenham", "nudging", "virus", "ace"]
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--check-every", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "stopping.md"))
    args = parser.parse_args()
    if not SCREENING.is_dir():
        print(f"shared screening data not found at {SCREENING}; nothing to do.")
        return
    rows = []
    for name in track(args.sets, description="sets"):
        data, label = load_set(name)
        t0 = time.perf_counter()
        sim = simulate_screening(
            data, label_column=label, seeds=args.seeds, batch_size=args.batch, n_jobs=args.jobs
        )
        simulate_s = time.perf_counter() - t0
        n_records = sim.labels.size
        n_relevant = int(sim.labels.sum())
        m = math.floor(n_relevant * (1 / 0.95 - 1) + 1e-9) + 1
        for run, order in zip(sim.runs.itertuples(), sim.orders, strict=True):
            y = sim.labels[order].astype(np.int64)
            found = np.cumsum(y)
            last = int(np.flatnonzero(y)[-1]) + 1
            row = {
                "set": name,
                "seed": run.seed,
                "N": n_records,
                "R": n_relevant,
                "m": m,
                "last_relevant_share": last / n_records,
                "bound_share": (last + (1 - 0.05 ** (1 / m)) * (n_records - last)) / n_records,
                "hyper_share": run.hypergeometric_share,
                "hyper_recall": run.hypergeometric_recall,
                "simulate_s": simulate_s / len(sim.orders),
            }
            for bias in BIASES:
                t0 = time.perf_counter()
                stop = first_biased_stop(y, n_records, bias, args.check_every)
                row[f"bias{bias:g}_share"] = stop / n_records
                row[f"bias{bias:g}_recall"] = found[stop - 1] / n_relevant
                row[f"bias{bias:g}_s"] = time.perf_counter() - t0
            rows.append(row)
    table = pd.DataFrame(rows)
    lines = [
        "# Where the hypergeometric stopping rule stops (bench_stopping.py)",
        "",
        machine(),
        "",
        f"{DEFAULT_CLASSIFIER} ranking (the default), {args.seeds} seeds, retrain every "
        f"{args.batch}; biased urn checked every {args.check_every} records. Shares and "
        "recall in %, mean (min-max) over seeds.",
        "",
        "| set | N / R | m | last relevant at | bound | hypergeometric: screened / recall "
        + "".join(f"| bias {b:g}: screened / recall " for b in BIASES)
        + "|",
        "|---|---|---|---|---|---" + "|---" * len(BIASES) + "|",
    ]

    def cell(series: pd.Series) -> str:
        values = series * 100
        if values.min() == values.max():
            return f"{values.mean():.1f}"
        return f"{values.mean():.1f} ({values.min():.1f}-{values.max():.1f})"

    for name, group in table.groupby("set", sort=False):
        first = group.iloc[0]
        line = (
            f"| {name} | {int(first['N']):,} / {int(first['R'])} | {int(first['m'])} | "
            f"{cell(group['last_relevant_share'])} | {cell(group['bound_share'])} | "
            f"{cell(group['hyper_share'])} / {cell(group['hyper_recall'])} "
        )
        for bias in BIASES:
            line += (
                f"| {cell(group[f'bias{bias:g}_share'])} / {cell(group[f'bias{bias:g}_recall'])} "
            )
        lines.append(line + "|")
    lines += [
        "",
        "Runs below 95% recall at the stop: hypergeometric "
        f"{int((table['hyper_recall'] < 0.95).sum())} of {len(table)}; "
        + "; ".join(
            f"bias {b:g} {int((table[f'bias{b:g}_recall'] < 0.95).sum())} of {len(table)}"
            for b in BIASES
        )
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    table.to_csv(Path(args.out).with_suffix(".csv"), index=False)
    print(text)


if __name__ == "__main__":
    main()
