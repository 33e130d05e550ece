"""The cap on the labelled irrelevant records a retrain learns from (``max_excluded`` of
``relevance_scores``): what it changes in the screening order and in WSS@95, RRF@10 and loss
on the five shared labelled sets, against the uncapped default.

Every configuration runs ``simulate_screening`` with the default ranking (ASReview
``elas_u4``'s SVM), 1 + 1 seeded priors, retraining every ``--batch`` records, on the same
seeds, so the priors and every order up to the first capped retrain are the same as the
uncapped run's. Configurations are named ``none`` (no cap) or ``<sample><cap>``: ``random2000``
keeps 2,000 irrelevant records drawn by their fixed pseudo-random key, ``recent2000`` the
2,000 screened last (``training_rows``), weighted by ``_sample_weights`` as the library does;
``recentipw2000`` the same with the kept exclusions re-weighted to stand for all of them.

For each set and configuration the table reports the mean WSS@95, RRF@10 and loss over the
seeds and their change against ``none``; how many runs screened in the same order as
``none``; and where the cap bites: the retrains whose labelled records held more irrelevant
ones than the cap (retrains come every ``--batch`` records until the last relevant record
is found), and the fewest records screened at the first of them.

``--sets combined`` replays the first 10,000 records of the five sets together (relevant =
included in its own review), where the default cap bites.

The orders are cached in ``--cache`` (``/tmp/bench_training_cap`` by default), one ``.npy`` per set,
configuration, seeds and batch, so a second call only re-renders. Writes
``bench/results/training_cap.md`` and prints it. Asserts nothing.

    nice -n 10 .venv/bin/python bench/bench_training_cap.py --seeds 5 --batch 10 \\
        --sets ptsd kitchenham nudging virus ace combined \\
        --configs none random100 recent100 recentipw100 random250 recent250 recentipw250 \\
        random500 recent500 recentipw500 random1000 recent1000 recentipw1000 \\
        random2000 recent2000 \\
        --combined-configs none random1000 recent1000 random2000 recent2000
"""

from __future__ import annotations

import argparse
import pickle
import re
import sys
import time
from pathlib import Path

import numpy as np
import sklearn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from bench_screening import load_set, no_screening_data, timing_records
from metareview.review import ranking
from metareview.review.ranking import screening_features
from metareview.review.simulation import screening_metrics, simulate_screening

SETS = ("ptsd", "kitchenham", "nudging", "virus", "ace")


def parse_config(config: str) -> tuple[int | None, str, bool]:
    """``"none"`` -> (None, "random", False); ``"recent2000"`` -> (2000, "recent", False);
    ``"recentipw500"`` -> (500, "recent", True)."""
    if config == "none":
        return None, "random", False
    match = re.fullmatch(r"(random|recent)(ipw)?(\d+)", config)
    if match is None:
        raise SystemExit(
            f"unknown configuration {config!r}: none, random<N>, recent<N> or (random|recent)ipw<N>"
        )
    return int(match.group(3)), match.group(1), match.group(2) is not None


def _ipw_training_set(idx, y, ratio, max_excluded, sample):
    """``ranking._training_set`` with the kept exclusions re-weighted to stand for all of
    them (inverse-probability weights): the relevant records keep the weights they would
    have without the cap, and the weights sum to all the labelled records."""
    weights = np.ones(y.size) if ratio is None else ranking._sample_weights(y, ratio)
    rows = ranking.training_rows(idx, y, max_excluded, sample=sample)
    kept = y[rows] == 0
    weights = weights[rows]
    weights[kept] *= int((y == 0).sum()) / int(kept.sum())
    return idx[rows], y[rows], weights


def records_of(name: str):
    """Records and label column of a shared set, or of ``combined``: the first 10,000
    records of the five together (the retrain timing's records; relevant = included in
    its own review), large enough for a cap of 2,000 to bite."""
    if name == "combined":
        return timing_records(), "label"
    return load_set(name)


def orders_for(name: str, config: str, seeds: int, batch: int, cache: Path) -> np.ndarray:
    """The screening orders of one set and configuration (cached)."""
    path = cache / f"orders_{name}_{config}_s{seeds}_b{batch}.npy"
    if path.exists():
        return np.load(path)
    data, label = records_of(name)
    feature_path = cache / f"features_{name}.pkl"
    if feature_path.exists():
        features = pickle.loads(feature_path.read_bytes())
    else:
        features = screening_features(data)
        feature_path.write_bytes(pickle.dumps(features))
    cap, sample, ipw = parse_config(config)
    t0 = time.process_time()
    default_training_set = ranking._training_set
    if ipw:  # in this process (n_jobs 1): relevance_scores looks it up at each call
        ranking._training_set = _ipw_training_set
    try:
        sim = simulate_screening(
            data,
            label_column=label,
            seeds=seeds,
            batch_size=batch,
            features=features,
            max_excluded=cap,
            training_sample=sample,
        )
    finally:
        ranking._training_set = default_training_set
    print(f"{name} {config}: {(time.process_time() - t0) / seeds:.2f} s CPU per run", flush=True)
    np.save(path, sim.orders)
    return sim.orders


def labels_of(name: str) -> np.ndarray:
    data, label = records_of(name)
    return data[label].to_numpy().astype(np.int8)


def capped_retrains(y: np.ndarray, cap: int, batch: int, n_priors: int = 2) -> tuple[int, int, int]:
    """Retrains of one run (labels in screening order) and how many of them were capped; and
    the records screened at the first capped one (0 if none)."""
    last = int(np.flatnonzero(y)[-1]) + 1  # records screened when the last relevant is found
    points = np.arange(n_priors, last, batch)  # labelled records at each retrain
    excluded = np.cumsum(y == 0)[points - 1]
    capped = points[excluded > cap]
    return int(capped.size), int(capped[0]) if capped.size else 0, int(points.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument(
        "--configs", nargs="+", default=["none", "random1000", "recent1000", "random2000"]
    )
    parser.add_argument(
        "--combined-configs",
        nargs="+",
        default=None,
        help="configurations for the combined set (default: --configs); it runs ~1 min a seed",
    )
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--cache", default="/tmp/bench_training_cap")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "training_cap.md"))
    args = parser.parse_args()
    if no_screening_data():
        return
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    configs = ["none"] + [c for c in args.configs if c != "none"]
    lines = [
        "# Capped training set: screening quality against the uncapped default\n",
        f"Machine: {machine(('scikit-learn', sklearn.__version__))}.\n",
        f"Default ranking (elas_u4 SVM), {args.seeds} seeds (priors 1 + 1), retrain every "
        f"{args.batch} records. Mean over seeds, in % (loss as a fraction); change against "
        "`none` in brackets. Same order / WSS@95 / RRF@10: runs equal to the same seed's `none` "
        "run, to the last digit. Capped retrains: retrains with more labelled irrelevant records "
        "than the cap / all retrains until the last relevant record was found, summed over "
        "seeds; first bites: fewest records screened at a run's first capped retrain.\n",
        "Configurations: `none` no cap (the default before); `random<N>` / `recent<N>` at most "
        "N labelled irrelevant records, a fixed random sample / the N screened last, weighted "
        "by `_sample_weights` (`random2000` is the library default); `recentipw<N>` as "
        "`recent<N>` with the kept exclusions re-weighted to stand for all of them. "
        "`combined`: the first 10,000 records of the five sets together.\n",
        "| set | records | relevant | configuration | WSS@95 | RRF@10 | loss | "
        "same order as none | same WSS@95 | same RRF@10 | capped retrains | first bites at |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    combined = ["none"] + [c for c in args.combined_configs or args.configs if c != "none"]
    for name in args.sets:
        labels = labels_of(name)
        metrics, orders, per_run = {}, {}, {}
        set_configs = combined if name == "combined" else configs
        for config in set_configs:
            orders[config] = orders_for(name, config, args.seeds, args.batch, cache)
            rows = [screening_metrics(labels[order][2:]) for order in orders[config]]
            per_run[config] = rows
            metrics[config] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        base = metrics["none"]
        for config in set_configs:
            m = metrics[config]
            cells = [name, f"{labels.size:,}", str(int(labels.sum())), f"`{config}`"]
            for key, scale, digits in (("wss_95", 100, 1), ("rrf_10", 100, 1), ("loss", 1, 4)):
                text = f"{m[key] * scale:.{digits}f}"
                if config != "none":
                    text += f" ({(m[key] - base[key]) * scale:+.{digits + 1}f})"
                cells.append(text)
            same = sum(
                np.array_equal(a, b) for a, b in zip(orders[config], orders["none"], strict=True)
            )
            cells.append(f"{same}/{args.seeds}")
            for key in ("wss_95", "rrf_10"):
                equal = sum(
                    a[key] == b[key] for a, b in zip(per_run[config], per_run["none"], strict=True)
                )
                cells.append(f"{equal}/{args.seeds}")
            cap = parse_config(config)[0]
            if cap is None:
                cells += ["-", "-"]
            else:
                counts = [capped_retrains(labels[o], cap, args.batch) for o in orders[config]]
                capped = sum(c[0] for c in counts)
                total = sum(c[2] for c in counts)
                first = [c[1] for c in counts if c[1]]
                cells.append(f"{capped}/{total}")
                cells.append(
                    f"{min(first):,} ({min(first) / labels.size:.0%})" if first else "never"
                )
            lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
