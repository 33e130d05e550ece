"""Where each stopping rule stops, what it costs and how often it misses its recall target.

Replays the shared labelled reviews (``bench_screening.load_set``) with the default ranking
(ASReview's ``elas_u4`` SVM since issue 16; 1 + 1 seeded priors, retrain every ``--batch``
records). Each seed's screening order is computed once and cached (``--cache``, one ``.npz``
per set and seed); every rule below is then computed from the cached orders (about 40 min
for the whole grid on a shared 2-vCPU VM, mostly the biased urn's Wallenius cdf):

- the hypergeometric rule of Callaghan & Müller-Hansen (2020) for recall targets
  ``--targets`` and confidences ``--confidences``: ``bias`` 1 (the assumption-free rule)
  and a biased urn with ``bias`` = 2, 3, 5 (Wallenius' noncentral hypergeometric, as in the
  authors' later nacsos-data code), each the first record after which the rule says stop
  (exact, as if checked after every record);
- "last relevant + sample": the last relevant record's position plus
  :func:`metareview.review.stopping.min_certifying_sample` of the rest;
- the lower bound on any rule valid for every ranking (``lower_bound_stop``, from
  :func:`metareview.review.stopping.min_certifying_sample`), confidence 95% only;
- the heuristics: ``--runs`` irrelevant records in a row and the knee method;
- the target method (Cormack & Grossman 2016) at 95/95 as Lewis, Yang & Frieder (2021)
  certify it: a random sample until ``T = 59`` relevant records ("targets") are found
  (``0.95^59 < 0.05``), then the ranked order until every target is found; ``--draws``
  random samples per order;
- two tries at a smaller share: a random order from the knee on (``--knee-draws`` random
  orders per run), and a bias estimated from the screening history
  (``estimated_bias_stop``).

    .venv/bin/python bench/bench_stopping.py --seeds 10 --batch 10
    .venv/bin/python bench/plot_stopping.py      # the trade-off curves, one panel per set

Writes ``bench/results/stopping.md`` and ``stopping_curves.csv.gz`` (one row per set, seed
and rule point) and prints the tables. Asserts nothing.
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
from scipy.optimize import brentq
from scipy.stats import nchypergeom_wallenius

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from bench_screening import load_set, no_screening_data
from metareview.review.ranking import DEFAULT_CLASSIFIER, screening_features
from metareview.review.simulation import simulate_screening
from metareview.review.stopping import (
    _first_hypergeometric_stop,
    first_stops,
    min_certifying_sample,
)

SETS = ("ptsd", "kitchenham", "nudging", "virus", "ace")
TARGETS = (0.80, 0.85, 0.90, 0.95, 0.99)
CONFIDENCES = (0.80, 0.90, 0.95)
BIASES = (1.0, 2.0, 3.0, 5.0)
RUNS = (50, 100, 200)
#: the rules tabulated at every target and confidence, in table order
CERTIFYING_RULES = (
    "bound",
    "bias 1",
    "last relevant + sample",
    "bias 2",
    "bias 3",
    "bias 5",
    "estimated bias",
)
N_TARGETS = 59  # smallest T with 0.95^T < 0.05


def screening_orders(
    name: str, seeds: int, batch: int, cache: Path
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """``(orders, labels, seconds per run)``: one cached screening order per seed."""
    data, label = load_set(name)
    features, orders, seconds = None, [], []
    labels = None
    for seed in range(seeds):
        path = cache / f"{name}_batch{batch}_seed{seed}.npz"
        if not path.exists():
            if features is None:
                features = screening_features(data, title="title", abstract="abstract")
            t0 = time.perf_counter()
            sim = simulate_screening(
                data, label_column=label, seeds=[seed], batch_size=batch, features=features
            )
            elapsed = time.perf_counter() - t0
            np.savez(path, order=sim.orders[0], labels=sim.labels, seconds=elapsed)
        saved = np.load(path)
        orders.append(saved["order"])
        labels = saved["labels"]
        seconds.append(float(saved["seconds"]))
    return np.vstack(orders), labels, seconds


def _null_size(found: np.ndarray, target: float) -> np.ndarray:
    """``m``: relevant records the null "recall < target" needs still unscreened."""
    return np.floor(found * (1.0 / target - 1.0) + 1e-9).astype(np.int64) + 1


def lower_bound_stop(y: np.ndarray, n_records: int, target: float, confidence: float) -> int:
    """Earliest stop that reaches ``target`` on this order for any rule valid for every
    ranking that follows the ranking to its j-th relevant record (at ``L_j``, j = 0 .. R)
    and then certifies by a random sample of the rest: the smallest ``L_j + n`` over the
    samples' possible outcomes ``k`` (``j + k >= target R``), ``n`` from
    :func:`min_certifying_sample`."""
    relevant_at = np.flatnonzero(y)
    total = relevant_at.size
    needed = math.ceil(target * total - 1e-9)
    best = n_records
    for j in range(total + 1):
        screened = int(relevant_at[j - 1]) + 1 if j else 0
        if screened >= best:
            break
        for k in range(max(needed - j, 0), total - j + 1):
            n = min_certifying_sample(
                n_records - screened,
                j,
                found_in_sample=k,
                recall_target=target,
                confidence=confidence,
            )
            best = min(best, screened + max(n, k))
    return best


def target_method(y: np.ndarray, rng: np.random.Generator, draws: int) -> list[tuple[int, int]]:
    """(records screened, relevant found) of the target method with ``N_TARGETS`` targets,
    ``draws`` times: a random sample until N_TARGETS relevant records are in it, then the
    ranked order until every one of them is found; both parts count as screened."""
    n_records, total = y.size, int(y.sum())
    out = []
    for _ in range(draws):
        perm = rng.permutation(n_records)  # positions in the ranked order, in random order
        if total < N_TARGETS:
            out.append((n_records, total))  # the sample never holds enough targets
            continue
        hits = np.flatnonzero(y[perm])
        sample = perm[: hits[N_TARGETS - 1] + 1]
        targets = sample[y[sample] == 1]
        ranked_end = int(targets.max()) + 1
        screened = np.zeros(n_records, dtype=bool)
        screened[sample] = True
        screened[:ranked_end] = True
        out.append((int(screened.sum()), int(y[screened].sum())))
    return out


def _wallenius_lower(draws: int, hits: int, population: int, relevant: int, alpha: float) -> float:
    """One-sided lower confidence limit of Wallenius' odds from ``hits`` relevant among
    ``draws`` drawn from ``population`` holding ``relevant``: the odds w at which
    P(X >= hits) = alpha (1 when even odds 1 make ``hits`` that likely)."""

    def tail(log_w: float) -> float:
        return float(
            nchypergeom_wallenius.sf(hits - 1, population, relevant, draws, math.exp(log_w))
        )

    if hits == 0 or tail(0.0) >= alpha:
        return 1.0
    return math.exp(brentq(lambda lw: tail(lw) - alpha, 0.0, math.log(1e4)))


def estimated_bias_stop(
    y: np.ndarray, n_records: int, target: float, confidence: float, recent: int = 5
) -> tuple[int, float]:
    """Stop of the biased-urn rule with the bias estimated from the screening history.

    With j relevant records found, the last at L_j, the null leaves m of them unscreened.
    Under the null, the records screened after the (j - recent)-th relevant one and before
    the j-th were drawn from an urn that held ``recent + m`` relevant records, and gave
    ``recent - 1`` of them (the j-th itself is left out: the window ends because it was
    found). The one-sided lower limit of the odds at level alpha / 2 from that window is
    then used as ``bias`` for the sample after L_j at level alpha / 2 (Bonferroni). Valid
    only if the ranking's odds after L_j are at least those just before it."""
    alpha = (1.0 - confidence) / 2.0
    relevant_at = np.flatnonzero(y)
    starts = np.concatenate([relevant_at + 1, [y.size + 1]])
    for j in range(recent + 1, relevant_at.size + 1):
        start = int(starts[j - 1])  # records screened after the j-th relevant one
        window_start = int(relevant_at[j - 1 - recent]) + 1
        draws = start - 1 - window_start  # up to, not including, the j-th relevant record
        m = int(_null_size(np.array(j), target))
        w = _wallenius_lower(draws, recent - 1, n_records - window_start, recent - 1 + 1 + m, alpha)
        end = min(int(starts[j]) - 1, y.size)
        n = np.arange(1, end - start + 1)
        if n.size == 0:
            continue
        irrelevant = n_records - start - m
        i = n - 1
        terms = np.where(irrelevant - i > 0, (irrelevant - i) / (irrelevant - i + w * m), 0.0)
        hits = np.flatnonzero(np.cumprod(terms) < alpha)
        if hits.size:
            return int(start + n[hits[0]]), w
    return n_records, 1.0


def knee_then_random(
    y: np.ndarray, knee: int | None, rng: np.random.Generator, target: float, confidence: float
) -> tuple[int, int]:
    """(screened, found) when the order turns random at the knee (never: unchanged), the
    rule unchanged."""
    n_records = y.size
    if knee is None:
        knee = n_records
    tail = y[knee:][rng.permutation(n_records - knee)]
    z = np.concatenate([y[:knee], tail]).astype(np.int64)
    stop = _first_hypergeometric_stop(z, n_records, target, confidence) or n_records
    return stop, int(z[:stop].sum())


def run_rows(name: str, seed: int, y: np.ndarray, args: argparse.Namespace) -> list[dict]:
    n_records, total = y.size, int(y.sum())
    found = np.concatenate([[0], np.cumsum(y)])
    rows: list[dict] = []

    def add(rule: str, screened: int, target: float | None, confidence: float | None, **extra):
        rows.append(
            {
                "set": name,
                "seed": seed,
                "rule": rule,
                "target": target,
                "confidence": confidence,
                "screened": screened,
                "share": screened / n_records,
                "recall": found[screened] / total,
                **extra,
            }
        )

    for target in args.targets:
        for confidence in args.confidences:
            for bias in BIASES:
                stop = _first_hypergeometric_stop(y, n_records, target, confidence, bias)
                add(f"bias {bias:g}", stop or n_records, target, confidence)
            if confidence == 0.95:
                add("bound", lower_bound_stop(y, n_records, target, confidence), target, confidence)
                after_last = int(np.flatnonzero(y)[-1]) + 1
                need = min_certifying_sample(n_records - after_last, total, recall_target=target)
                add("last relevant + sample", after_last + need, target, confidence)
                stop, w = estimated_bias_stop(y, n_records, target, confidence)
                add("estimated bias", stop, target, confidence, bias=w)
    stops = first_stops(y, n_records, n_irrelevant=min(args.runs))
    for run in args.runs:
        # the first run of ``run`` irrelevant records: found unchanged over ``run`` steps
        ends = np.flatnonzero(found[run:] == found[: found.size - run])
        add(f"{run} in a row", int(ends[0]) + run if ends.size else n_records, None, None)
    knee = stops["knee"]
    add("knee", knee or n_records, None, None)
    rng = np.random.default_rng(1000 + seed)
    for screened, hits in target_method(y, rng, args.draws):
        rows.append(
            {
                "set": name,
                "seed": seed,
                "rule": "target method",
                "target": 0.95,
                "confidence": 0.95,
                "screened": screened,
                "share": screened / n_records,
                "recall": hits / total,
            }
        )
    for _ in range(args.knee_draws):
        screened, hits = knee_then_random(y, knee, rng, 0.95, 0.95)
        rows.append(
            {
                "set": name,
                "seed": seed,
                "rule": "random from knee",
                "target": 0.95,
                "confidence": 0.95,
                "screened": screened,
                "share": screened / n_records,
                "recall": hits / total,
            }
        )
    return rows


def _cell(series: pd.Series) -> str:
    values = series * 100
    if round(values.min(), 1) == round(values.max(), 1):
        return f"{values.mean():.1f}"
    return f"{values.mean():.1f} ({values.min():.1f}-{values.max():.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS))
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--targets", nargs="+", type=float, default=list(TARGETS))
    parser.add_argument("--confidences", nargs="+", type=float, default=list(CONFIDENCES))
    parser.add_argument("--runs", nargs="+", type=int, default=list(RUNS))
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--knee-draws", type=int, default=20)
    parser.add_argument("--cache", default="/tmp/s6-stopping")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "stopping.md"))
    args = parser.parse_args()
    if no_screening_data():
        return
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    rows, info = [], {}
    t0 = time.perf_counter()
    for name in track(args.sets, description="sets"):
        orders, labels, seconds = screening_orders(name, args.seeds, args.batch, cache)
        last = [(np.flatnonzero(labels[o])[-1] + 1) / labels.size for o in orders]
        info[name] = (labels.size, int(labels.sum()), float(np.mean(seconds)), pd.Series(last))
        for seed, order in enumerate(orders):
            rows += run_rows(name, seed, labels[order].astype(np.int64), args)
    rules_s = time.perf_counter() - t0
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_name("stopping_curves.csv.gz"), index=False)
    text = report(table, info, args, rules_s)
    out.write_text(text, encoding="utf-8")
    print(text)


def _fails(g: pd.DataFrame) -> str:
    count = int(g["fail"].sum())
    return f" [{count}]" if count else ""


def report(table: pd.DataFrame, info: dict, args: argparse.Namespace, rules_s: float) -> str:
    table = table.assign(fail=table["target"].notna() & (table["recall"] < table["target"] - 1e-12))
    lines = [
        "# Where the stopping rules stop (bench_stopping.py)",
        "",
        machine(),
        "",
        f"{DEFAULT_CLASSIFIER} ranking (the default), {args.seeds} seeds per set, retrain every "
        f"{args.batch}; every rule computed from the cached screening orders "
        f"({rules_s:.0f} s for all). Share of the records screened at the stop, %: mean "
        "(min-max) over seeds; [n] = runs whose recall at the stop fell below the target.",
        "",
        "| set | N / R | ranking, s per run | last relevant found at |",
        "|---|---|---|---|",
    ]
    for name, (n, r, secs, last) in info.items():
        lines.append(f"| {name} | {n:,} / {r} | {secs:.1f} | {_cell(last)} |")
    lines += ["", "## Recall target 95%, confidence 95%", ""]
    lines.append("| set | " + " | ".join(CERTIFYING_RULES) + " |")
    lines.append("|---|" + "---|" * len(CERTIFYING_RULES))
    at = table[(table["target"] == 0.95) & (table["confidence"] == 0.95)]
    for name in info:
        cells = []
        for rule in CERTIFYING_RULES:
            g = at[(at["set"] == name) & (at["rule"] == rule)]
            cells.append(_cell(g["share"]) + _fails(g))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Trade-off: share screened (%) by recall target", ""]
    lines.append(
        "| set | rule | confidence | " + " | ".join(f"{t:.0%}" for t in args.targets) + " |"
    )
    lines.append("|---|---|---|" + "---|" * len(args.targets))
    points = (
        [("bound", 0.95)]
        + [("bias 1", c) for c in args.confidences]
        + [(f"bias {b:g}", 0.95) for b in BIASES[1:]]
    )
    for name in info:
        for rule, confidence in points:
            cells = []
            for t in args.targets:
                g = table[
                    (table["set"] == name)
                    & (table["rule"] == rule)
                    & (table["target"] == t)
                    & (table["confidence"] == confidence)
                ]
                cells.append(f"{g['share'].mean() * 100:.1f}" + _fails(g))
            lines.append(f"| {name} | {rule} | {confidence:.0%} | " + " | ".join(cells) + " |")
    lines += ["", "## Heuristics and sample-based rules: share / recall at the stop (%)", ""]
    others = [f"{r} in a row" for r in args.runs] + ["knee", "target method", "random from knee"]
    lines.append("| set | " + " | ".join(others) + " |")
    lines.append("|---|" + "---|" * len(others))
    for name in info:
        cells = []
        for rule in others:
            g = table[(table["set"] == name) & (table["rule"] == rule)]
            below = int((g["recall"] < 0.95 - 1e-12).sum())
            cells.append(f"{_cell(g['share'])} / {_cell(g['recall'])} [{below} of {len(g)}]")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "[n of m]: runs (for the target method and the random order from the knee: random "
        "draws) below 95% recall.",
        "",
        "## Runs whose recall fell below the rule's target, over every target and confidence",
        "",
        "| rule | below target | of | worst shortfall (points) | lowest recall, 95% target |",
        "|---|---|---|---|---|",
    ]
    for rule in [*CERTIFYING_RULES, "target method", "random from knee"]:
        g = table[table["rule"] == rule]
        short = max(float(((g["target"] - g["recall"]) * 100).max()), 0.0)
        low = g.loc[g["target"] == 0.95, "recall"].min() * 100
        lines.append(f"| {rule} | {int(g['fail'].sum())} | {len(g)} | {short:.1f} | {low:.1f} |")
    lines += ["", "| heuristic | runs below 95% recall | of | lowest recall |", "|---|---|---|---|"]
    for rule in [f"{r} in a row" for r in args.runs] + ["knee"]:
        g = table[table["rule"] == rule]
        lines.append(
            f"| {rule} | {int((g['recall'] < 0.95 - 1e-12).sum())} | {len(g)} | "
            f"{g['recall'].min() * 100:.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
