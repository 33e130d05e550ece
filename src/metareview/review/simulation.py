"""Replay a labelled data set through prioritised screening (ASReview's "simulation mode").

:func:`simulate_screening` starts each run from seeded prior knowledge (a few included and
excluded records drawn at random), then repeatedly trains the classifier on the decisions so
far, screens the next records the ranking proposes (their known labels stand in for the
reviewer) and records the order. From the orders it reports, per run:

``wss_95``
    work saved over sampling at 95 % recall (Cohen et al. 2006): ``(N - n_95) / N - 0.05``,
    where ``n_95`` records had to be screened to find ``ceil(0.95 R)`` of the ``R`` relevant
    ones. As in ASReview's simulation reports, ``N`` and ``R`` exclude the prior records.
``rrf_10``
    relevant records found after screening 10 % of the (non-prior) records, as a share of
    ``R``.
``loss``
    ASReview's normalised loss: the area between the perfect recall curve and this one,
    divided by the area between the perfect and the worst curve (0 = perfect order).
``<rule>_screened``, ``<rule>_recall``, ``<rule>_share``
    for each stopping rule of :mod:`metareview.review.stopping`: records screened when the
    rule first said stop (priors included), the recall reached then and the share of all
    records screened. A rule that never fires leaves every record screened (recall 1).

References
----------
Cohen AM, Hersh WR, Peterson K, Yen PY. Reducing workload in systematic review preparation
using automated citation classification. JAMIA 2006;13:206-219. doi:10.1197/jamia.M1929
Ferdinands G, et al. Syst Rev 2023;12:100. doi:10.1186/s13643-023-02257-7
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from metareview.exceptions import Argument, InputError
from metareview.review.ranking import (
    _MAX_EXCLUDED,
    CLASSIFIERS,
    DEFAULT_CLASSIFIER,
    DEFAULT_TRAINING,
    DEFAULT_TRAINING_SAMPLE,
    MAX_TRAINING_EXCLUDED,
    TRAINING,
    TRAINING_SAMPLES,
    ScreeningFeatures,
    _model_settings,
    next_records,
    relevance_scores,
    screening_features,
)
from metareview.review.stopping import STOPPING_RULES, _check_fraction, first_stops

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "ScreeningSimulation",
    "read_labelled_records",
    "screening_metrics",
    "simulate_screening",
]


def read_labelled_records(path: str | Path, *, label_column: str) -> pd.DataFrame:
    """Read a labelled data set (CSV, TSV, XLSX, JSON Lines) and check its label column.

    Raises
    ------
    InputError
        Unreadable or empty file, missing label column, or labels other than 0/1; the
        message names the file, the column and the first bad rows.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give the data file.")
    try:
        if suffix in (".xlsx", ".xls"):
            records = pd.read_excel(path)
        elif suffix in (".json", ".jsonl", ".ndjson"):
            records = pd.read_json(path, lines=True)
        elif suffix in (".tsv", ".tab"):
            records = pd.read_csv(path, sep="\t")
        else:
            records = pd.read_csv(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file.") from None
    except ImportError as exc:
        raise InputError(f"{path}: reading this format needs an extra package ({exc}).") from None
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: the file is empty; it needs a header line and one row per record."
        ) from None
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: cannot be read as a table ({first}).") from None
    if len(records) == 0:
        raise InputError(f"{path}: the file holds no records.")
    _labels(records, label_column, source=str(path))
    return records


def _labels(records: pd.DataFrame, label_column: str, *, source: str = "records") -> np.ndarray:
    import pandas as pd

    if label_column not in records.columns:
        raise InputError(
            f"{source}: no label column {label_column!r}; the columns are "
            f"{', '.join(map(repr, records.columns))}. Name the label column with ",
            Argument("label_column", placeholder="column"),
            ".",
        )
    raw = records[label_column]
    numeric = pd.to_numeric(raw, errors="coerce")
    bad = ~numeric.isin((0, 1)).to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"record {int(i) + 1} ({raw.iloc[int(i)]!r})" for i in rows[:5])
        more = f" and {rows.size - 5} more" if rows.size > 5 else ""
        raise InputError(
            f"{source}: column {label_column!r} must hold 0 (excluded) or 1 "
            f"(included) on every row; found {shown}{more} (records counted from 1 "
            "after the header)."
        )
    return numeric.to_numpy().astype(np.int8)


def screening_metrics(order_labels: Sequence[int] | np.ndarray) -> dict[str, float]:
    """WSS@95, RRF@10 and loss of one screening order (labels in screening order).

    Examples
    --------
    >>> screening_metrics([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    {'wss_95': 0.75, 'rrf_10': 0.5, 'loss': 0.0}
    """
    y = np.asarray(order_labels, dtype=np.int64)
    n, relevant = y.size, int(y.sum())
    if relevant == 0:
        return {"wss_95": math.nan, "rrf_10": math.nan, "loss": math.nan}
    found = np.cumsum(y)
    n_95 = int(np.searchsorted(found, math.ceil(0.95 * relevant - 1e-9))) + 1
    wss = (n - n_95) / n - 0.05
    rrf = float(found[max(math.ceil(0.10 * n) - 1, 0)]) / relevant
    if relevant == n:
        loss = 0.0
    else:
        best = relevant * (n - (relevant - 1) / 2)
        loss = float((best - found.sum()) / (relevant * (n - relevant)))
    return {"wss_95": float(wss), "rrf_10": rrf, "loss": loss}


@dataclass(frozen=True, slots=True)
class ScreeningSimulation:
    """Results of :func:`simulate_screening`.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per seed: ``seed, classifier, n_records, n_relevant, wss_95, rrf_10, loss``,
        then ``<rule>_screened, <rule>_recall, <rule>_share`` for each stopping rule.
    orders : numpy.ndarray of int
        ``(n_seeds, n_records)``: row positions in the order each run screened them, priors
        first.
    labels : numpy.ndarray of int8
        The labels of the records (by row position).
    n_priors : int
        Records given as prior knowledge at the start of every run.
    settings : dict
        The arguments of the call (classifier, batch size, shares, rule parameters, ...).
    notes : tuple of str
        Remarks on the data (records without abstracts, ...).
    """

    runs: pd.DataFrame
    orders: np.ndarray
    labels: np.ndarray
    n_priors: int
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def recall_curves(self) -> np.ndarray:
        """``(n_seeds, n_records + 1)`` recall after 0, 1, ... records screened (priors incl.)."""
        found = np.cumsum(self.labels[self.orders], axis=1)
        zeros = np.zeros((found.shape[0], 1))
        return np.hstack([zeros, found]) / max(int(self.labels.sum()), 1)

    def summary(self) -> pd.DataFrame:
        """Mean, minimum and maximum over seeds of every metric (one row per metric)."""
        import pandas as pd

        numeric = self.runs.drop(columns=["seed", "classifier"])
        return pd.DataFrame({"mean": numeric.mean(), "min": numeric.min(), "max": numeric.max()})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: settings, notes and the per-run table."""
        from metareview import __version__

        runs = self.runs.astype(object).where(self.runs.notna(), None)
        return {
            "settings": self.settings,
            "notes": list(self.notes),
            "n_priors": self.n_priors,
            "runs": runs.to_dict(orient="records"),
            "version": __version__,
        }

    def write(self, outdir: str | Path) -> list[Path]:
        """Write ``runs.csv``, ``summary.csv`` and ``simulation.json`` to ``outdir``."""
        import json

        out = Path(outdir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "runs.csv", out / "summary.csv", out / "simulation.json"]
        self.runs.to_csv(paths[0], index=False)
        self.summary().to_csv(paths[1], index_label="metric")
        paths[2].write_text(json.dumps(self.to_dict(), indent=2, default=str))
        return paths


def _one_run(
    features: ScreeningFeatures, labels: np.ndarray, seed: int, settings: dict[str, Any]
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    relevant, irrelevant = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    priors = np.concatenate(
        [
            rng.choice(relevant, settings["n_prior_included"], replace=False),
            rng.choice(irrelevant, settings["n_prior_excluded"], replace=False),
        ]
    )
    order = list(priors.tolist())
    unscreened = np.ones(labels.size, dtype=bool)
    unscreened[priors] = False
    left_relevant = int(labels[unscreened].sum())
    while left_relevant and unscreened.any():
        screened = np.asarray(order)
        scores = relevance_scores(
            features,
            screened,
            labels[screened],
            classifier=settings["classifier"],
            balance=settings["balance_ratio"] is not None,
            balance_ratio=settings["balance_ratio"],
            C=settings["C"],
            max_excluded=settings["max_excluded"],
            training_sample=settings["training_sample"],
            training=settings["training"],
        )
        picks = next_records(
            scores,
            unscreened,
            n=settings["batch_size"],
            random_share=settings["random_share"],
            uncertainty_share=settings["uncertainty_share"],
            rng=rng,
        )
        unscreened[picks] = False
        order.extend(picks.tolist())
        left_relevant -= int(labels[picks].sum())
    # Every relevant record is found: the rest are irrelevant, so their order changes none of
    # the metrics or stopping points; append them without retraining.
    order.extend(np.flatnonzero(unscreened).tolist())
    return np.asarray(order, dtype=np.intp)


def _run_table_row(
    order: np.ndarray, labels: np.ndarray, seed: int, n_priors: int, settings: dict[str, Any]
) -> dict[str, Any]:
    y = labels[order]
    n_records, n_relevant = labels.size, int(labels.sum())
    row: dict[str, Any] = {
        "seed": seed,
        "classifier": settings["classifier"],
        "n_records": n_records,
        "n_relevant": n_relevant,
    }
    row.update(screening_metrics(y[n_priors:]))
    stops = first_stops(
        y,
        n_records,
        recall_target=settings["recall_target"],
        confidence=settings["confidence"],
        n_irrelevant=settings["n_irrelevant"],
        min_screened=settings["knee_min_screened"],
    )
    found = np.cumsum(y)
    for rule in STOPPING_RULES.values:
        screened = stops[rule] if stops[rule] is not None else n_records
        row[f"{rule}_screened"] = screened
        row[f"{rule}_recall"] = float(found[screened - 1]) / n_relevant
        row[f"{rule}_share"] = screened / n_records
    return row


def simulate_screening(
    records: pd.DataFrame,
    *,
    label_column: str,
    seeds: int | Sequence[int] = 10,
    classifier: str = DEFAULT_CLASSIFIER,
    title: str | None = "title",
    abstract: str | None = "abstract",
    keywords: str | None = None,
    n_prior_included: int = 1,
    n_prior_excluded: int = 1,
    batch_size: int = 1,
    balance: bool = True,
    balance_ratio: float | None = None,
    C: float | None = None,
    max_excluded: int | None = MAX_TRAINING_EXCLUDED,
    training_sample: str = DEFAULT_TRAINING_SAMPLE,
    training: str | None = None,
    random_share: float = 0.0,
    uncertainty_share: float = 0.0,
    recall_target: float = 0.95,
    confidence: float = 0.95,
    n_irrelevant: int = 50,
    knee_min_screened: int = 150,
    features: ScreeningFeatures | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> ScreeningSimulation:
    """Replay a labelled data set through prioritised screening, once per seed.

    Parameters
    ----------
    records : pandas.DataFrame
        One row per record, with the text columns and ``label_column``.
    label_column : str
        Column of the final decisions: 1 = included, 0 = excluded.
    seeds : int or sequence of int
        Number of runs (seeds 0, 1, ...) or the seeds themselves; each seed draws its own
        prior records and random picks.
    classifier : {"svm", "logistic", "nb"}
        See :mod:`metareview.review.ranking` (the SVM of ASReview's ``elas_u4`` by
        default).
    title, abstract, keywords : str or None
        Text columns (None leaves one out).
    n_prior_included, n_prior_excluded : int
        Prior knowledge drawn at random for each run (ASReview's default is 1 and 1).
    batch_size : int
        Records screened between two retrainings (1 = retrain after every decision).
    balance, balance_ratio, C, training, max_excluded, training_sample
        Passed to :func:`relevance_scores` (``training="elas_u4"`` replays ASReview's
        default model exactly; ``max_excluded``: the cap on the labelled irrelevant records
        a retrain learns from, the same default as the store's ranked queues).
    random_share, uncertainty_share
        Passed to :func:`next_records`.
    recall_target, confidence, n_irrelevant, knee_min_screened
        Parameters of the stopping rules (see :mod:`metareview.review.stopping`).
    features : ScreeningFeatures, optional
        Features computed once by :func:`screening_features` and reused across calls (e.g.
        one call per classifier on the same data).
    n_jobs : int
        Runs in parallel processes (1 = in this process; -1 = one per CPU). The features
        are computed once and shared; results do not depend on ``n_jobs``.
    progress : callable, optional
        Called as ``progress(done, total)`` after each run (e.g. a progress bar).

    Returns
    -------
    ScreeningSimulation

    Raises
    ------
    InputError
        Empty data, labels other than 0/1, fewer included or excluded records than the
        priors ask for, bad option values.

    Examples
    --------
    >>> import pandas as pd
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"title": ["ketamine pain trial"] * 3 + ["bird song"] * 17,
    ...                      "included": [1] * 3 + [0] * 17})
    >>> sim = simulate_screening(recs, label_column="included", seeds=2, abstract=None)
    >>> sim.runs[["seed", "wss_95", "rrf_10"]].round(3).to_dict("list")
    {'seed': [0, 1], 'wss_95': [0.839, 0.839], 'rrf_10': [1.0, 1.0]}
    """
    import pandas as pd

    labels = _labels(records, label_column) if isinstance(records, pd.DataFrame) else None
    if labels is None:
        raise InputError(f"records must be a pandas DataFrame; got {type(records).__name__}.")
    name = CLASSIFIERS.check(classifier)
    ratio, cost = _model_settings(name, balance, balance_ratio, C)
    cap = None if max_excluded is None else _MAX_EXCLUDED.check(max_excluded)
    sample = TRAINING_SAMPLES.check(training_sample)
    scheme = TRAINING.check(DEFAULT_TRAINING[name] if training is None else training)
    seed_list = list(range(int(seeds))) if isinstance(seeds, int | np.integer) else list(seeds)
    if not seed_list:
        raise InputError(
            Argument("seeds"),
            f" must be a positive number of runs or a non-empty list; got {seeds!r}.",
        )
    for label, value in (
        ("n_prior_included", n_prior_included),
        ("n_prior_excluded", n_prior_excluded),
        ("batch_size", batch_size),
    ):
        if int(value) < 1:
            raise InputError(Argument(label), f" must be a positive integer; got {value!r}.")
    _check_fraction("recall_target", recall_target)  # before the runs, not after them
    _check_fraction("confidence", confidence)
    if int(n_irrelevant) < 1:
        raise InputError(
            Argument("n_irrelevant"), f" must be a positive integer; got {n_irrelevant!r}."
        )
    n_relevant = int(labels.sum())
    if n_relevant < n_prior_included:
        raise InputError(
            f"{label_column!r}: {n_relevant} included records, fewer than the "
            f"{n_prior_included} prior inclusions asked for (",
            Argument("n_prior_included", n_prior_included),
            "); a simulation needs inclusions to find.",
        )
    if labels.size - n_relevant < n_prior_excluded:
        raise InputError(
            f"{label_column!r}: {labels.size - n_relevant} excluded records, fewer than "
            f"the {n_prior_excluded} prior exclusions asked for (",
            Argument("n_prior_excluded", n_prior_excluded),
            ").",
        )
    if features is None:
        features = screening_features(records, title=title, abstract=abstract, keywords=keywords)
    elif features.n_records != labels.size:
        raise InputError(
            f"features has {features.n_records} rows but records has "
            f"{labels.size}; compute them from the same records."
        )
    settings = {
        "classifier": name,
        "n_prior_included": int(n_prior_included),
        "n_prior_excluded": int(n_prior_excluded),
        "batch_size": int(batch_size),
        "balance_ratio": ratio,
        "C": cost,
        "max_excluded": cap,
        "training_sample": sample,
        "training": scheme,
        "random_share": float(random_share),
        "uncertainty_share": float(uncertainty_share),
        "recall_target": float(recall_target),
        "confidence": float(confidence),
        "n_irrelevant": int(n_irrelevant),
        "knee_min_screened": int(knee_min_screened),
        "label_column": label_column,
        "seeds": [int(s) for s in seed_list],
    }
    n_priors = int(n_prior_included) + int(n_prior_excluded)
    workers = (os.cpu_count() or 1) if int(n_jobs) == -1 else int(n_jobs)
    if workers < 1:
        raise InputError(Argument("n_jobs"), f" must be a positive integer or -1; got {n_jobs!r}.")
    workers = min(workers, len(seed_list))
    report = progress or (lambda done, total: None)
    report(0, len(seed_list))
    orders: list[np.ndarray] = []
    if workers == 1:
        for seed in seed_list:
            orders.append(_one_run(features, labels, int(seed), settings))
            report(len(orders), len(seed_list))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = pool.map(
                _one_run,
                repeat(features),
                repeat(labels),
                [int(seed) for seed in seed_list],
                repeat(settings),
            )
            for order in runs:
                orders.append(order)
                report(len(orders), len(seed_list))
    rows = [
        _run_table_row(order, labels, int(seed), n_priors, settings)
        for order, seed in zip(orders, seed_list, strict=True)
    ]
    return ScreeningSimulation(
        runs=pd.DataFrame(rows),
        orders=np.vstack(orders),
        labels=labels,
        n_priors=n_priors,
        settings=settings,
        notes=tuple(features.notes()),
    )
