"""Records presumed irrelevant in the training of elas_u4: which variant, paired by seed.

The search that chose ``training="presumed_irrelevant"`` (issue 16's WSS@95 target). Every
variant replays the same runs as ``simulate_screening`` (the same 1 + 1 priors drawn by each
seed, "max" query, retrain every 10 records, elas_u4's SVM and features) but stops each run
once it has found 95 % of the relevant records and screened 10 % of the records, which is
all WSS@95 and RRF@10 need (loss and the stopping rules need whole runs: for those see
``bench_ranking_models.py --configs elas_u4 u4_presumed``). Each variant is compared with
elas_u4 seed by seed: mean difference in WSS@95 points, range, and seeds better / worse.

A variant is a string ``base`` (elas_u4, trained on the labelled records only) or
``bmi:N[:option ...]``: at each retrain N unscreened records are trained on as excluded
(Cormack & Grossman's BMI, SIGIR 2014), drawn afresh with a generator seeded by the set of
labelled records. Options:

``w=F``
    the presumed records weigh F times a labelled excluded record;
``decay``
    N minus the number of records labelled excluded (none once that many are known);
``low=F``
    drawn from the share F of the unscreened records that the previous retrain's model
    scored lowest (random at the first retrain);
``low=F:twopass``
    the same, the lowest scored by a first fit on the labelled records only (stateless);
``low=F:twopass=bmi``
    ... by a first fit with N random presumed records (two fits per retrain);
``low=F:twopass=bmi2``
    ... by a second fit on N drawn from the lowest F of that first fit (three fits; the
    scheme adopted as the default, up to rounding of the pool's size);
``low=F:rocchio``
    ... by a Rocchio classifier of the labelled relevant against the unscreened records,
    the "reliable negatives" of Li & Liu (IJCAI 2003; alpha 16, beta 4);
``library``
    ``relevance_scores`` with its default (``training="presumed_irrelevant"``).

Per-seed results are cached as JSON in ``--cache`` (one file per variant, set and seed
count) so a variant is computed once; ``--out`` gets the paired table of every cached variant.

    .venv/bin/python bench/bench_presumed_irrelevant.py base bmi:100 bmi:100:low=0.1 --seeds 10
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from bench_screening import load_set
from metareview.review.ranking import next_records, relevance_scores, screening_features
from metareview.review.simulation import _labels

SETS = ["ptsd", "kitchenham", "nudging", "virus", "ace"]
C, RATIO = 0.11, 9.8  # elas_u4's SVM


def features_of(name: str, cache: Path):
    """Features (elas_u4's defaults) and labels of one shared set, pickled in ``cache``."""
    path = cache / f"feat_{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    data, label = load_set(name)
    out = (screening_features(data), _labels(data, label))
    path.write_bytes(pickle.dumps(out))
    return out


def train_score(X, idx, y, presumed, w_presumed=1.0):
    """elas_u4's SVM on the labelled rows ``idx`` (labels ``y``) and the ``presumed`` rows as
    excluded, each weighing ``w_presumed`` labelled excluded ones; None with one class."""
    from sklearn.svm import LinearSVC

    n_inc = int(y.sum())
    if n_inc == 0 or n_inc == y.size:
        return None
    rows = np.concatenate([idx, presumed]).astype(np.intp)
    target = np.concatenate([y, np.zeros(presumed.size, dtype=np.int8)])
    a = n_inc / (RATIO * ((y.size - n_inc) + w_presumed * presumed.size))
    w = np.concatenate([np.where(y == 1, 1.0, a), np.full(presumed.size, a * w_presumed)])
    w *= (y.size + w_presumed * presumed.size) / w.sum()
    model = LinearSVC(C=C, random_state=0).fit(X[rows], target, sample_weight=w)
    return np.asarray(model.decision_function(X), dtype=np.float64)


def _unit(v):
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def rocchio_scores(X, idx, y, n_records, alpha=16.0, beta=4.0):
    """Rocchio prototypes of the labelled relevant (P) and the unscreened (U) records, as
    step 1 of Li & Liu 2003: cos(x, c+) - cos(x, c-) (rows of X have unit norm)."""
    unl = np.setdiff1d(np.arange(n_records), idx)
    mp = np.asarray(X[idx[y == 1]].mean(axis=0)).ravel()
    mu = np.asarray(X[unl].mean(axis=0)).ravel()
    cp, cn = _unit(alpha * mp - beta * mu), _unit(alpha * mu - beta * mp)
    return np.asarray(X @ cp - X @ cn).ravel()


def make_variant(spec: str):
    """Scorer ``(X, labelled, labels, previous scores, n_records) -> scores`` of a spec."""
    parts = spec.split(":")
    if parts[0] == "base":
        return lambda X, idx, y, prev, n: train_score(X, idx, y, np.empty(0, np.intp))
    if parts[0] == "library":
        return lambda X, idx, y, prev, n: relevance_scores(X, idx, y)
    n = int(parts[1])
    opts = dict(p.split("=") if "=" in p else (p, "1") for p in parts[2:])
    w = float(opts.get("w", 1.0))
    low = float(opts.get("low", 1.0))
    decay = "decay" in opts
    first = opts.get("twopass")
    rocchio = "rocchio" in opts

    def scorer(X, idx, y, prev, n_records):
        k = max(0, n - int((y == 0).sum())) if decay else n
        left = np.setdiff1d(np.arange(n_records), idx)
        key = zlib.crc32(np.sort(idx).astype(np.int64).tobytes())
        if first == "1":
            prev = train_score(X, idx, y, np.empty(0, np.intp))
        elif first in ("bmi", "bmi2"):
            r0 = np.random.default_rng([key, idx.size, 1])
            prev = train_score(X, idx, y, r0.choice(left, min(k, left.size), replace=False))
            if first == "bmi2" and prev is not None:
                ordered = left[np.argsort(prev[left], kind="stable")]
                pool = np.sort(ordered[: max(k, math.ceil(low * left.size))])
                prev = train_score(X, idx, y, r0.choice(pool, min(k, pool.size), replace=False))
        elif rocchio:
            prev = rocchio_scores(X, idx, y, n_records)
        if low < 1.0 and prev is not None:
            ordered = left[np.argsort(prev[left], kind="stable")]
            left = np.sort(ordered[: max(k, math.ceil(low * left.size))])
        rng = np.random.default_rng([key, idx.size])
        extra = rng.choice(left, min(k, left.size), replace=False) if k else np.empty(0, np.intp)
        return train_score(X, idx, y, extra.astype(np.intp), w)

    return scorer


def one_run(features, labels, seed: int, scorer, batch: int = 10) -> dict[str, float]:
    """One run as ``simulation._one_run`` (same priors and generator), stopped once 95 % of
    the relevant records are found and 10 % of the records screened; WSS@95 and RRF@10 with
    the priors left out, as ``screening_metrics``."""
    X = features.training_matrix
    n_records = labels.size
    rng = np.random.default_rng(seed)
    relevant, irrelevant = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    priors = np.concatenate(
        [rng.choice(relevant, 1, replace=False), rng.choice(irrelevant, 1, replace=False)]
    )
    order = list(priors.tolist())
    unscreened = np.ones(n_records, dtype=bool)
    unscreened[priors] = False
    R, n = int(labels.sum()) - 1, n_records - 2
    need_found, need_screened = math.ceil(0.95 * R - 1e-9), math.ceil(0.10 * n)
    prev = None
    while unscreened.any():
        y = labels[np.asarray(order[2:], dtype=np.intp)]
        if y.sum() >= need_found and y.size >= need_screened:
            break
        screened = np.asarray(order)
        scores = scorer(X, screened, labels[screened], prev, n_records)
        prev = scores if scores is not None else prev
        picks = next_records(scores, unscreened, n=batch, rng=rng)
        unscreened[picks] = False
        order.extend(picks.tolist())
    found = np.cumsum(labels[np.asarray(order[2:], dtype=np.intp)])
    n_95 = int(np.searchsorted(found, need_found)) + 1
    return {"wss": (n - n_95) / n - 0.05, "rrf": float(found[need_screened - 1]) / R}


def tag(spec: str) -> str:
    return spec.replace(":", "_").replace("=", "")


def render(cache: Path, seeds: int) -> str:
    """Paired table: each cached variant against ``base`` on the same seeds."""
    base = {s: json.loads((cache / f"base__{s}__s{seeds}.json").read_text()) for s in SETS}
    tags = sorted({p.name.split("__")[0] for p in cache.glob(f"*__s{seeds}.json")} - {"base"})
    lines = [
        "# Presumed-irrelevant records in elas_u4's training (bench_presumed_irrelevant.py)",
        "",
        machine(),
        "",
        f"Seeds 0-{seeds - 1}, runs stopped at 95 % recall and 10 % screened. elas_u4 "
        "(`base`) WSS@95 / RRF@10, mean %: "
        + ", ".join(
            f"{s} {100 * np.mean(base[s]['wss']):.1f} / {100 * np.mean(base[s]['rrf']):.1f}"
            for s in SETS
        )
        + ". Each cell: WSS@95 minus elas_u4's, points, mean [min, max] over seeds, "
        "seeds better/worse; then RRF@10 minus elas_u4's (mean points). Last columns: sets "
        "with mean difference >= 0 and > 0, and the mean over the five sets.",
        "",
        "| variant | " + " | ".join(SETS) + " | >= 0 | > 0 | mean |",
        "|---|" + "---|" * (len(SETS) + 3),
    ]
    for t in tags:
        row, means = [t], []
        for s in SETS:
            path = cache / f"{t}__{s}__s{seeds}.json"
            if not path.exists():
                row.append("-")
                continue
            v = json.loads(path.read_text())
            d = 100 * (np.array(v["wss"]) - np.array(base[s]["wss"]))
            r = 100 * (np.mean(v["rrf"]) - np.mean(base[s]["rrf"]))
            means.append(d.mean())
            row.append(
                f"{d.mean():+.1f} [{d.min():+.1f}, {d.max():+.1f}] "
                f"{(d > 0).sum()}/{(d < 0).sum()}; RRF {r:+.1f}"
            )
        m = np.array(means)
        row += [str(int((m >= -0.05).sum())), str(int((m > 0.05).sum())), f"{m.mean():+.2f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", default=["base"])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--sets", nargs="+", default=SETS, choices=SETS)
    parser.add_argument("--cache", default="/tmp/metareview-presumed-irrelevant")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "presumed_irrelevant.md")
    )
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for spec in dict.fromkeys(["base", *args.variants]):
        for name in args.sets:
            out = cache / f"{tag(spec)}__{name}__s{args.seeds}.json"
            if out.exists():
                continue
            features, labels = features_of(name, cache)
            scorer = make_variant(spec)
            t0 = time.time()
            runs = [one_run(features, labels, s, scorer) for s in range(args.seeds)]
            record = {k: [r[k] for r in runs] for k in ("wss", "rrf")}
            record["seconds"] = time.time() - t0
            out.write_text(json.dumps(record))
            print(f"{spec} {name}: WSS@95 {100 * np.mean(record['wss']):.1f}", flush=True)
    text = render(cache, args.seeds)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
