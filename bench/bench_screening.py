"""Prioritised screening on the shared labelled reviews: WSS@95, RRF@10, stopping rules, and
the time to retrain and re-rank 10,000 records.

Reads ``../shared/testdata/screening/`` (or ``$METAREVIEW_TESTDATA/screening``); never copies
it. For each set and classifier, ``simulate_screening`` replays the review with ``--seeds``
seeded priors (1 included + 1 excluded record, ASReview's default), retraining after every
``--batch`` records, and the table reports mean (min-max) over seeds. The hypergeometric
rule's trade-off between the recall it guarantees and the share screened is computed on the
same orders for several recall targets.

    .venv/bin/python bench/bench_screening.py --seeds 3 --batch 10
    .venv/bin/python bench/bench_screening.py --sets nudging --classifiers nb --seeds 1
    .venv/bin/python bench/bench_screening.py --timing-only --out bench/results/screening_timing.md

Writes ``bench/results/screening.md`` and prints it, with a progress bar over the runs.
Asserts nothing. The features are the library defaults (ASReview ``elas_u4``'s since issue
16); ``bench_ranking_models.py`` compares them with the former ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from metareview.review.ranking import relevance_scores, screening_features
from metareview.review.simulation import simulate_screening
from metareview.review.stopping import first_stops


def _testdata() -> Path:
    if "METAREVIEW_TESTDATA" in os.environ:
        return Path(os.environ["METAREVIEW_TESTDATA"]) / "screening"
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[2] / "shared" / "testdata" / "screening",
        Path("/work/shared/testdata/screening"),
    ):
        if candidate.is_dir():
            return candidate
    return here.parents[2] / "shared" / "testdata" / "screening"


SCREENING = _testdata()

# Published ASReview figures (WSS@95, %) quoted in issue 16: NB + TF-IDF defaults from
# Ferdinands et al. 2023 (Syst Rev 12:100), and an SVM re-implementation measured earlier.
ASREVIEW_NB = {"ptsd": 91.7, "ace": 82.9, "virus": 71.2, "nudging": 71.7}
EARLIER_SVM = {"ptsd": 90.4, "ace": 76.4, "virus": 70.7, "nudging": 70.0, "kitchenham": 70.1}


def no_screening_data() -> bool:
    """True, after saying so, when the shared labelled sets are not on this machine (the
    screening benchmarks then have nothing to do)."""
    if SCREENING.is_dir():
        return False
    print(f"shared screening data not found at {SCREENING}; nothing to do.")
    return True


def load_set(name: str) -> tuple[pd.DataFrame, str]:
    """Records and label column of one shared set; PTSD cleaned as Ferdinands et al. did."""
    if name == "ptsd":
        data = pd.read_excel(SCREENING / "ptsd_van_de_schoot_2017" / "van_de_Schoot_2017.xlsx")
        data = data[data["duplicate_record_id"].isna()]
        data = data[data["abstract"].fillna("").astype(str).str.strip() != ""]
        data = data[~data["abstract"].duplicated()].reset_index(drop=True)
        assert (len(data), int(data["label_included"].sum())) == (5031, 38)
        return data, "label_included"
    files = {
        "kitchenham": ("kitchenham_2010/Kitchenham_2010.csv", "label_included"),
        "nudging": ("nudging_nagtegaal_2019/nudging.csv", "included"),
        "virus": ("virus_kwok_2020/virus.csv", "included"),
        "ace": ("ace_cohen_2006/ace.csv", "label_included"),
    }
    path, label = files[name]
    return pd.read_csv(SCREENING / path), label


def timing_records(n_records: int = 10_000) -> pd.DataFrame:
    """The first ``n_records`` of the five shared sets together (title, abstract, label)."""
    frames = []
    for name in ("ptsd", "ace", "virus", "nudging", "kitchenham"):
        data, label = load_set(name)
        frames.append(
            pd.DataFrame(
                {"title": data["title"], "abstract": data["abstract"], "label": data[label]}
            )
        )
    return pd.concat(frames, ignore_index=True).iloc[:n_records]


def cpu_ms(repeats: int, call, *args, **kwargs) -> tuple[float, float, object]:
    """Best and median CPU milliseconds of ``repeats`` calls ``call(*args, **kwargs)``, and
    the last result."""
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        result = call(*args, **kwargs)
        times.append((time.process_time() - t0) * 1000)
    return min(times), float(np.median(times)), result


def labelled_sample(labels: np.ndarray, n_labelled: int, rng: np.random.Generator) -> np.ndarray:
    """10 included records and ``n_labelled - 10`` excluded ones, drawn at random."""
    return np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == 1), 10, replace=False),
            rng.choice(np.flatnonzero(labels == 0), n_labelled - 10, replace=False),
        ]
    )


LABELLED = (100, 1000, 5000, 9000)


def retrain_times(n_records: int = 10_000, repeats: int = 5) -> tuple[list[str], list[str]]:
    """CPU time of one retrain + re-rank of ``n_records`` records, by classifier and number
    of labelled records (``relevance_scores``, then the unscreened records sorted by score):
    with the library defaults (at most ``MAX_TRAINING_EXCLUDED`` irrelevant records in the
    training set), without the cap (as before it), and, for the SVM and logistic regression,
    without the cap on the unfolded TF-IDF matrix (as before the single-record terms were
    folded); the SVM with its default training (presumed-irrelevant records: three fits) and
    with elas_u4's (one fit); and elas_u4's time split into its steps.

    CPU time (``time.process_time``), so that a crowded machine inflates it less than wall
    time; best and median of ``repeats``.
    """
    from sklearn.svm import LinearSVC

    from metareview.review.ranking import (
        CLASSIFIER_DEFAULTS,
        DEFAULT_TRAINING,
        DEFAULT_TRAINING_SAMPLE,
        MAX_TRAINING_EXCLUDED,
        _training_set,
    )

    records = timing_records(n_records)
    labels = records["label"].to_numpy()
    t0 = time.process_time()
    features = screening_features(records)
    vectorise = time.process_time() - t0
    folded = features.training_matrix
    totals = [
        f"TF-IDF fitted once: {vectorise:.1f} s CPU for {n_records:,} records, "
        f"{len(features.terms):,} terms ({features.matrix.nnz:,} nonzeros); single-record "
        f"terms folded: {folded.shape[1]:,} columns ({folded.nnz:,} nonzeros). Default: at "
        f"most {MAX_TRAINING_EXCLUDED:,} labelled irrelevant records in the training set "
        f"({DEFAULT_TRAINING_SAMPLE!r} kept).\n",
        "| classifier (training) | labelled | best (CPU ms) | median | no cap: best | median | "
        "no cap, unfolded: best | median |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    samples = {n: labelled_sample(labels, n, rng) for n in LABELLED}

    def rerank(matrix, labelled, classifier, **options):
        unscreened = np.ones(labels.size, dtype=bool)
        unscreened[labelled] = False
        scores = relevance_scores(
            matrix, labelled, labels[labelled], classifier=classifier, **options
        )
        return np.flatnonzero(unscreened)[np.argsort(-scores[unscreened], kind="stable")]

    # the SVM twice: its default training (presumed-irrelevant records, three fits) and
    # elas_u4's labelled-only training (one fit); the others train on the labelled records
    for classifier, training in (
        ("svm", None),
        ("svm", "elas_u4"),
        ("logistic", None),
        ("nb", None),
    ):
        shown = f"{classifier} ({DEFAULT_TRAINING[classifier] if training is None else training})"
        for n_labelled, labelled in samples.items():
            kw = {"training": training}
            best, median, _ = cpu_ms(repeats, rerank, features, labelled, classifier, **kw)
            cells = [shown, f"{n_labelled:,}", f"{best:.0f}", f"{median:.0f}"]
            plain = cpu_ms(repeats, rerank, features, labelled, classifier, max_excluded=None, **kw)
            cells += [f"{plain[0]:.0f}", f"{plain[1]:.0f}"]
            if classifier == "nb":
                cells += ["-", "-"]
            else:
                plain = cpu_ms(
                    repeats, rerank, features.matrix, labelled, classifier, max_excluded=None, **kw
                )
                cells += [f"{plain[0]:.0f}", f"{plain[1]:.0f}"]
            totals.append("| " + " | ".join(cells) + " |")
    steps = [
        "| labelled | rows trained on | training set and rows sliced | SVM fit | scores | "
        "order of unscreened |",
        "|---|---|---|---|---|---|",
    ]
    C, ratio = CLASSIFIER_DEFAULTS["svm"]["C"], CLASSIFIER_DEFAULTS["svm"]["balance_ratio"]

    def training_set(labelled):
        idx, y, weights = _training_set(
            labelled, labels[labelled], ratio, MAX_TRAINING_EXCLUDED, DEFAULT_TRAINING_SAMPLE
        )
        return folded[idx], y, weights

    for n_labelled, labelled in samples.items():
        unscreened = np.ones(labels.size, dtype=bool)
        unscreened[labelled] = False
        X = cpu_ms(repeats, training_set, labelled)
        model = LinearSVC(C=C, random_state=0)
        fit = cpu_ms(repeats, model.fit, *X[2])
        score = cpu_ms(repeats, model.decision_function, folded)
        order = cpu_ms(repeats, np.argsort, -score[2][unscreened])
        steps.append(
            f"| {n_labelled:,} | {X[2][0].shape[0]:,} | {X[1]:.1f} | {fit[1]:.0f} | "
            f"{score[1]:.1f} | {order[1]:.1f} |"
        )
    return totals, steps


def _cell(series: pd.Series, scale: float = 100.0) -> str:
    return f"{series.mean() * scale:.1f} ({series.min() * scale:.1f}-{series.max() * scale:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", nargs="+", default=["ptsd", "kitchenham", "nudging", "virus", "ace"]
    )
    parser.add_argument("--classifiers", nargs="+", default=["svm", "logistic", "nb"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--targets", nargs="+", type=float, default=[0.8, 0.9, 0.95])
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument(
        "--timing-only", action="store_true", help="only time the retrain of 10,000 records"
    )
    parser.add_argument(
        "--remove-stop-words",
        action="store_true",
        help="remove English stop words from the TF-IDF terms (ASReview's "
        "default; metareview keeps them)",
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "screening.md"))
    args = parser.parse_args()
    if no_screening_data():
        return
    lines = [
        "# Prioritised screening benchmark\n",
        f"Machine: {machine(('scikit-learn', sklearn.__version__))}.\n",
        f"Seeds {args.seeds} (priors 1 included + 1 excluded, drawn per seed), retrain "
        f"every {args.batch} records; English stop words "
        f"{'removed' if args.remove_stop_words else 'kept'}; mean (min-max) over seeds, "
        "in %.\n",
        "| set | records | relevant | classifier | WSS@95 | RRF@10 | loss | "
        "hypergeom. 95/95: recall | share screened | 50 irrelevant: recall | share "
        "| knee: recall | share | seconds per run | ASReview NB WSS@95 | earlier SVM |",
        "|" + "---|" * 16,
    ]
    if args.timing_only:
        lines = lines[:2]
    tradeoff = [
        "\n## Hypergeometric rule (95% confidence): recall target vs share screened\n",
        "| set | classifier | target | runs reaching target | min recall | mean share screened |",
        "|---|---|---|---|---|---|",
    ]
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    bar = Progress(*columns, TimeElapsedColumn())
    task = bar.add_task("runs", total=len(args.sets) * len(args.classifiers) * args.seeds)
    bar.start()
    for name in [] if args.timing_only else args.sets:
        data, label = load_set(name)
        features = screening_features(
            data, stop_words="english" if args.remove_stop_words else None
        )
        for classifier in args.classifiers:
            bar.update(task, description=f"{name} {classifier}")
            offset = bar.tasks[0].completed
            t0 = time.perf_counter()
            sim = simulate_screening(
                data,
                label_column=label,
                seeds=args.seeds,
                classifier=classifier,
                batch_size=args.batch,
                features=features,
                progress=lambda done, total, offset=offset: bar.update(
                    task, completed=offset + done
                ),
            )
            seconds = (time.perf_counter() - t0) / args.seeds
            runs = sim.runs
            cells = [
                name,
                str(len(data)),
                str(int(sim.labels.sum())),
                classifier,
                _cell(runs["wss_95"]),
                _cell(runs["rrf_10"]),
                _cell(runs["loss"]),
            ]
            for rule in ("hypergeometric", "consecutive_irrelevant", "knee"):
                cells += [_cell(runs[f"{rule}_recall"]), _cell(runs[f"{rule}_share"])]
            cells += [
                f"{seconds:.1f}",
                str(ASREVIEW_NB.get(name, "-")),
                str(EARLIER_SVM.get(name, "-")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
            bar.console.print(lines[-1], soft_wrap=True)
            y = sim.labels[sim.orders]
            for target in args.targets:
                stops = [
                    first_stops(row, row.size, recall_target=target)["hypergeometric"] or row.size
                    for row in y
                ]
                recall = np.array([row[:s].sum() for row, s in zip(y, stops, strict=True)])
                recall = recall / sim.labels.sum()
                tradeoff.append(
                    f"| {name} | {classifier} | {target:.2f} | "
                    f"{int((recall >= target).sum())}/{len(stops)} | "
                    f"{recall.min():.3f} | "
                    f"{np.mean(stops) / y.shape[1] * 100:.1f}% |"
                )
    bar.stop()
    if not args.timing_only:
        lines += tradeoff
    if not args.no_timing:
        totals, steps = retrain_times()
        lines += [
            "\n## Retrain + re-rank of 10,000 records (first 10,000 of the five sets together)\n",
            *totals,
            "\nelas_u4 (one SVM fit; the default fits three) by step, CPU ms, median of 5:\n",
            *steps,
        ]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
