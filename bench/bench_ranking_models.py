"""Which ranking model to use by default: ASReview's ``elas_u4`` reproduced, the former
default and the steps between them, on the shared labelled sets, 5 seeds each.

Every configuration runs ``simulate_screening`` (1 + 1 seeded priors, retrain every
``--batch`` records, "max" query) on the same seeds, so the priors are the same across
configurations. The configurations:

``elas_u4``
    the library default from issue 16 until ``u4_presumed``: TF-IDF of word 1- and
    2-grams, sublinear term frequency, ``max_df`` 0.95, stop words kept; linear SVM with
    C = 0.11 and inclusions weighing 9.8 times the exclusions (ASReview LAB 2/3's default
    model ``elas_u4``,
    asreview/asreview ``asreview/models/models.py``);
``u4_presumed``
    elas_u4 also trained on unscreened records presumed irrelevant
    (``training="presumed_irrelevant"``, the library default since; see
    ``bench_presumed_irrelevant.py``); ``elas_u4`` runs with ``training="elas_u4"``;
``former``
    the default before: single words, raw term counts; logistic regression, C = 1, both
    classes weighing the same;
``u4feat_logistic``, ``u4feat_logistic_r98``, ``u4feat_svm_r1``, ``uni_svm_u4``
    one part changed at a time: elas_u4's features with logistic regression (ratio 1 or
    9.8), with the SVM at ratio 1, or the elas_u4 SVM on the former features;
``u4_min_df2``
    elas_u4 without the terms found in one record only (most of its 2-grams);
``u4_bmi100``, ``u4_bmi50``
    elas_u4 trained at each retrain with 100 (50) unscreened records drawn at random and
    presumed excluded (Cormack & Grossman's BMI);
``u4_nb_rrf``
    reciprocal rank fusion of the elas_u4 SVM and naive Bayes on the same features.

Each finished (set, configuration) is appended to ``bench/results/ranking_models.jsonl``
and skipped on the next call unless ``--fresh``, so the bench can be run in slices
(``--sets``, ``--configs``) on a busy machine; a progress bar counts the runs. Writes
``bench/results/ranking_models.md`` from the whole file and prints it. Asserts nothing.

    .venv/bin/python bench/bench_ranking_models.py --seeds 5 --configs elas_u4 former
    .venv/bin/python bench/bench_ranking_models.py --configs elas_u4 former --timing
    .venv/bin/python bench/bench_ranking_models.py --seeds 3 --configs u4_bmi100 u4_nb_rrf
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine
from bench_screening import (
    LABELLED,
    cpu_ms,
    labelled_sample,
    load_set,
    no_screening_data,
    timing_records,
)
from metareview.review import simulation
from metareview.review.ranking import relevance_scores, screening_features
from metareview.review.simulation import simulate_screening

U4_FEATURES = {"ngram_max": 2, "sublinear_tf": True, "max_df": 0.95}
FORMER_FEATURES = {"ngram_max": 1, "sublinear_tf": False, "max_df": 1.0}
U4_SVM = {"classifier": "svm", "C": 0.11, "balance_ratio": 9.8, "training": "elas_u4"}
CONFIGS: dict[str, tuple[dict, dict]] = {
    "elas_u4": (U4_FEATURES, U4_SVM),
    "u4_presumed": (U4_FEATURES, {**U4_SVM, "training": "presumed_irrelevant"}),
    "former": (FORMER_FEATURES, {"classifier": "logistic", "C": 1.0, "balance_ratio": 1.0}),
    "u4feat_logistic": (U4_FEATURES, {"classifier": "logistic", "C": 1.0, "balance_ratio": 1.0}),
    "u4feat_logistic_r98": (
        U4_FEATURES,
        {"classifier": "logistic", "C": 1.0, "balance_ratio": 9.8},
    ),
    "u4feat_svm_r1": (U4_FEATURES, {**U4_SVM, "balance_ratio": 1.0}),
    "uni_svm_u4": (FORMER_FEATURES, U4_SVM),
    "u4_min_df2": ({**U4_FEATURES, "min_df": 2}, U4_SVM),
}


def _presumed_irrelevant(n: int):
    """elas_u4 trained with ``n`` unscreened records drawn at random and labelled excluded
    for that retrain only (the "BMI" of Cormack & Grossman: continuous active learning
    with random documents presumed non-relevant, SIGIR 2014 and arXiv:1504.06868)."""

    def scores(features, labelled, labels, **kwargs):
        labelled = np.asarray(labelled)
        left = np.setdiff1d(np.arange(features.n_records), labelled)
        # drawn afresh at each retrain, reproducibly: seeded by the run's priors and size
        rng = np.random.default_rng([int(labelled[0]), int(labelled[1]), labelled.size])
        extra = rng.choice(left, min(n, left.size), replace=False)
        return relevance_scores(
            features,
            np.concatenate([labelled, extra]),
            np.concatenate([labels, np.zeros(extra.size, dtype=np.int8)]),
            **kwargs,
        )

    return scores


def _rank_fusion(k: int = 60):
    """Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009) of the elas_u4 SVM
    and multinomial naive Bayes (ASReview 1's default classifier) on the same features:
    score = 1 / (k + rank by SVM) + 1 / (k + rank by NB)."""

    def scores(features, labelled, labels, **kwargs):
        svm = relevance_scores(features, labelled, labels, **kwargs)
        if svm is None:
            return None
        nb = relevance_scores(features, labelled, labels, classifier="nb")
        fused = np.zeros(svm.size)
        for part in (svm, nb):
            ranks = np.empty(part.size)
            ranks[np.argsort(-part, kind="stable")] = np.arange(1, part.size + 1)
            fused += 1.0 / (k + ranks)
        return fused

    return scores


def _svm_tolerance(tol: float):
    """elas_u4 with liblinear stopping at tolerance ``tol`` (scikit-learn's default 1e-4)."""
    from sklearn.svm import LinearSVC

    from metareview.review.ranking import CLASSIFIER_DEFAULTS, _sample_weights

    C, ratio = CLASSIFIER_DEFAULTS["svm"]["C"], CLASSIFIER_DEFAULTS["svm"]["balance_ratio"]

    def scores(features, labelled, labels, **kwargs):
        y = np.asarray(labels)
        if y.min() == y.max():
            return None
        matrix = features.training_matrix
        model = LinearSVC(C=C, tol=tol, random_state=0)
        model.fit(matrix[np.asarray(labelled)], y, sample_weight=_sample_weights(y, ratio))
        return model.decision_function(matrix)

    return scores


#: Variants that change what ``simulate_screening`` trains on or how it scores, plugged in
#: as its scorer for the bench only (the library is not changed): configuration -> scorer
VARIANTS = {
    "u4_bmi100": _presumed_irrelevant(100),
    "u4_bmi50": _presumed_irrelevant(50),
    "u4_nb_rrf": _rank_fusion(),
    "u4_tol1e-3": _svm_tolerance(1e-3),
    "u4_tol1e-2": _svm_tolerance(1e-2),
}
for _variant in VARIANTS:
    CONFIGS[_variant] = CONFIGS["elas_u4"]

# ASReview 3.0.8's own simulate of elas_u4 on the same priors (bench_asreview.py, seed 0,
# retrained after every record): the figures issue 16 compares with
ASREVIEW_SEED0 = {"ptsd": 91.4, "kitchenham": 67.2, "nudging": 69.1, "virus": 70.5, "ace": 77.7}


def run_one(name: str, config: str, seeds: int, batch: int, progress, first_seed: int = 0) -> dict:
    """Simulate one configuration on one set; the per-seed metrics as lists."""
    data, label = load_set(name)
    feature_kw, model_kw = CONFIGS[config]
    features = screening_features(data, **feature_kw)
    t0 = time.perf_counter()
    if config in VARIANTS:  # simulate_screening looks its scorer up at each retrain
        simulation.relevance_scores = VARIANTS[config]
    try:
        sim = simulate_screening(
            data,
            label_column=label,
            seeds=list(range(first_seed, first_seed + seeds)),
            batch_size=batch,
            features=features,
            progress=progress,
            **model_kw,
        )
    finally:
        simulation.relevance_scores = relevance_scores
    runs = sim.runs
    record = {"set": name, "config": config, "batch": batch, "seeds": seeds}
    record["first_seed"] = first_seed
    record["seconds"] = (time.perf_counter() - t0) / seeds
    for key, column in (
        ("wss", "wss_95"),
        ("rrf", "rrf_10"),
        ("loss", "loss"),
        ("hyp_recall", "hypergeometric_recall"),
        ("hyp_share", "hypergeometric_share"),
        ("ci_recall", "consecutive_irrelevant_recall"),
        ("ci_share", "consecutive_irrelevant_share"),
        ("knee_recall", "knee_recall"),
        ("knee_share", "knee_share"),
    ):
        record[key] = runs[column].tolist()
    return record


def retrain_cpu_ms(configs: list[str], repeats: int = 5) -> list[str]:
    """CPU ms of one retrain + re-rank of 10,000 records (the five sets' first 10,000 records
    together), by configuration and number of labelled records: best and median of
    ``repeats`` (CPU time, so that a crowded machine inflates it less than wall time)."""
    records = timing_records()
    labels = records["label"].to_numpy()
    lines = [
        "| configuration | terms | TF-IDF fit (CPU s) | labelled | best (CPU ms) | median |",
        "|---|---|---|---|---|---|",
    ]
    for config in configs:
        feature_kw, model_kw = CONFIGS[config]
        t0 = time.process_time()
        features = screening_features(records, **feature_kw)
        fit_s = time.process_time() - t0
        rng = np.random.default_rng(0)
        for n_labelled in LABELLED:
            labelled = labelled_sample(labels, n_labelled, rng)
            best, median, _ = cpu_ms(
                repeats, relevance_scores, features, labelled, labels[labelled], **model_kw
            )
            lines.append(
                f"| {config} | {len(features.terms):,} | {fit_s:.1f} | {n_labelled:,} | "
                f"{best:.0f} | {median:.0f} |"
            )
    return lines


def cell(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    array = np.asarray(values) * scale
    return f"{array.mean():.{digits}f} ({array.min():.{digits}f}-{array.max():.{digits}f})"


def render(
    results: pd.DataFrame, sets: list[str], seeds: int, batch: int, first_seed: int = 0
) -> str:
    configs = [c for c in CONFIGS if c in set(results["config"])]
    lines = [
        "# Ranking models on the shared labelled sets (bench_ranking_models.py)",
        "",
        machine(),
        "",
        f"WSS@95 in %, mean (min-max) over seeds {first_seed}-{first_seed + seeds - 1} "
        "(priors 1 + 1 per seed, the same for every configuration;"
        f" retrained every {batch} record(s)). `elas_u4` (ASReview's default, reproduced) "
        "was the default from issue 16 until `u4_presumed` (elas_u4 + presumed-irrelevant "
        "records) replaced it; `former` the default before. ASReview seed 0: its own "
        "simulate of elas_u4 retrained after every record (bench_asreview.py, first run), "
        "for reference.",
        "",
        "| set | " + " | ".join(configs) + " | ASReview seed 0 |",
        "|---|" + "---|" * (len(configs) + 1),
    ]
    for name in sets:
        row = [name]
        for config in configs:
            hit = results[(results["set"] == name) & (results["config"] == config)]
            row.append(cell(hit.iloc[-1]["wss"]) if len(hit) else "-")
        row.append(str(ASREVIEW_SEED0.get(name, "-")))
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "Loss (ASReview's normalised loss; 0 = perfect order), mean over seeds:",
        "",
        "| set | " + " | ".join(configs) + " |",
        "|---|" + "---|" * len(configs),
    ]
    for name in sets:
        row = [name]
        for config in configs:
            hit = results[(results["set"] == name) & (results["config"] == config)]
            row.append(f"{np.mean(hit.iloc[-1]['loss']):.3f}" if len(hit) else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", nargs="+", default=["ptsd", "kitchenham", "nudging", "virus", "ace"]
    )
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1"
    )
    parser.add_argument("--fresh", action="store_true", help="recompute finished cells")
    parser.add_argument(
        "--timing", action="store_true", help="also time one retrain of 10,000 records"
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "ranking_models.md")
    )
    args = parser.parse_args()
    if no_screening_data():
        return
    store = Path(args.out).with_suffix(".jsonl")
    done: set[tuple[str, str]] = set()
    if store.exists() and not args.fresh:
        for line in store.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if (record["seeds"], record["batch"], record.get("first_seed", 0)) == (
                args.seeds,
                args.batch,
                args.first_seed,
            ):
                done.add((record["set"], record["config"]))
    todo = [(s, c) for s in args.sets for c in args.configs if (s, c) not in done]
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn()) as bar:
        task = bar.add_task("runs", total=len(todo) * args.seeds)
        for name, config in todo:
            bar.update(task, description=f"{name} {config}")
            offset = bar.tasks[0].completed

            def progress(done: int, total: int, offset: float = offset) -> None:
                bar.update(task, completed=offset + done)

            record = run_one(name, config, args.seeds, args.batch, progress, args.first_seed)
            with store.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            bar.console.print(f"{name} {config}: WSS@95 {cell(record['wss'])}")
    results = pd.DataFrame(
        [json.loads(line) for line in store.read_text(encoding="utf-8").splitlines()]
    )
    first = results.get("first_seed", pd.Series(0, index=results.index)).fillna(0)
    results = results[
        (results["seeds"] == args.seeds)
        & (results["batch"] == args.batch)
        & (first == args.first_seed)
    ]
    text = render(results, args.sets, args.seeds, args.batch, args.first_seed)
    if args.timing:
        text += "\n## Retrain + re-rank of 10,000 records\n\n"
        text += "\n".join(retrain_cpu_ms(args.configs)) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
