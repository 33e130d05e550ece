"""``metareview simulate-screening``: replay a labelled data set through prioritised screening
(ASReview's simulation mode) and report WSS@95, RRF@10, loss and each stopping rule's stop.

A thin shell over :func:`metareview.review.simulation.simulate_screening`: the TF-IDF features
are computed once and reused for every classifier asked for; each classifier's runs go to
``OUTDIR`` (or ``OUTDIR/<classifier>`` when several are asked for) as ``runs.csv``,
``summary.csv``, ``simulation.json`` and the recall curve ``recall.png/.svg/.pdf``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from metareview.cli._common import command, console, errors_end_the_command, progress_bar

if TYPE_CHECKING:  # pragma: no cover
    from metareview.review.simulation import ScreeningSimulation

__all__ = ["register", "simulate_screening_command", "summary_lines"]

_RULE_NAMES = {
    "hypergeometric": "hypergeometric",
    "consecutive_irrelevant": "irrelevant in a row",
    "knee": "knee",
}


def _cell(values: object, *, scale: float = 100.0, digits: int = 1, unit: str = "%") -> str:
    """``mean (min-max)`` of a column, in per cent by default; the mean alone when the runs
    agree."""
    import pandas as pd

    series = pd.Series(values, dtype=float).dropna()
    if series.empty:
        return "-"
    mean, low, high = series.mean() * scale, series.min() * scale, series.max() * scale
    text = f"{mean:.{digits}f}{unit}"
    if round(low, digits) != round(high, digits):
        text += f" ({low:.{digits}f}-{high:.{digits}f})"
    return text


def summary_lines(sim: ScreeningSimulation) -> list[str]:
    """The lines the command prints for one classifier: metrics, then one line per rule."""
    runs, settings = sim.runs, sim.settings
    n_runs = len(runs)
    first = runs.iloc[0]
    lines = [
        f"{settings['classifier']}: {n_runs} run{'s' if n_runs > 1 else ''}, "
        f"{int(first['n_records']):,} records, {int(first['n_relevant']):,} relevant, "
        f"{sim.n_priors} prior records per run"
        + ("" if n_runs == 1 else "; mean (min-max) over runs"),
        f"  WSS@95 {_cell(runs['wss_95'])}   RRF@10 {_cell(runs['rrf_10'])}   "
        f"loss {_cell(runs['loss'], scale=1.0, digits=3, unit='')}",
    ]
    rules = {
        "hypergeometric": f"{settings['recall_target']:.0%} recall with "
        f"{settings['confidence']:.0%} confidence",
        "consecutive_irrelevant": f"{settings['n_irrelevant']} irrelevant in a row, no guarantee",
        "knee": "knee method, no guarantee",
    }
    for rule, what in rules.items():
        recall, share = runs[f"{rule}_recall"], runs[f"{rule}_share"]
        never = int((runs[f"{rule}_screened"] >= runs["n_records"]).sum())
        note = f"; never stopped in {never} of {n_runs}" if never else ""
        below = int((recall < settings["recall_target"]).sum())
        target = settings["recall_target"]
        warn = f"; recall below {target:.0%} in {below} of {n_runs}" if below else ""
        lines.append(
            f"  stop by {_RULE_NAMES[rule]} ({what}): recall {_cell(recall)}, "
            f"screened {_cell(share)}{note}{warn}"
        )
    return lines


def simulate_screening_command(
    data: Annotated[
        Path,
        typer.Argument(
            help="Labelled records: CSV, TSV, XLSX or JSON Lines, one row per record.",
            metavar="DATA",
            show_default=False,
        ),
    ],
    label_column: Annotated[
        str,
        typer.Option(
            "--label-column",
            help="Column of the final decisions (1 included, 0 excluded).",
            metavar="COL",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Folder for runs.csv, summary.csv, simulation.json and recall.png/.svg/.pdf.",
            metavar="OUTDIR",
        ),
    ],
    seeds: Annotated[
        int, typer.Option("--seeds", help="Runs, each with its own seeded priors.", metavar="N")
    ] = 10,
    classifier: Annotated[
        list[str] | None,
        typer.Option(
            "--classifier",
            help="svm (default: ASReview's elas_u4 SVM; see --training), logistic or nb; repeat to "
            "compare several on the same features and seeds.",
            metavar="NAME",
        ),
    ] = None,
    training: Annotated[
        str | None,
        typer.Option(
            "--training",
            help="presumed_irrelevant (default with svm: also trained on unscreened records "
            "presumed irrelevant) or elas_u4 (ASReview's model: the labelled records only).",
            metavar="NAME",
        ),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="Title column.", metavar="COL")] = "title",
    abstract: Annotated[
        str, typer.Option("--abstract", help="Abstract column.", metavar="COL")
    ] = "abstract",
    keywords: Annotated[
        str | None, typer.Option("--keywords", help="Keywords column (optional).", metavar="COL")
    ] = None,
    n_prior_included: Annotated[
        int,
        typer.Option("--prior-included", help="Included records given at the start.", metavar="N"),
    ] = 1,
    n_prior_excluded: Annotated[
        int,
        typer.Option("--prior-excluded", help="Excluded records given at the start.", metavar="N"),
    ] = 1,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", help="Records screened between retrainings.", metavar="N"),
    ] = 1,
    recall_target: Annotated[
        float,
        typer.Option(
            "--recall-target", help="Recall the statistical stopping rule must show.", metavar="P"
        ),
    ] = 0.95,
    confidence: Annotated[
        float,
        typer.Option("--confidence", help="Its confidence level.", metavar="P"),
    ] = 0.95,
    n_irrelevant: Annotated[
        int,
        typer.Option(
            "--n-irrelevant", help="Irrelevant records in a row of the heuristic rule.", metavar="N"
        ),
    ] = 50,
    max_excluded: Annotated[
        int | None,
        typer.Option(
            "--max-excluded",
            help="Labelled irrelevant records a retrain learns from at most, a fixed random "
            "sample of them (default 2,000, as the ranked queue; 0: all of them).",
            metavar="N",
            show_default=False,
        ),
    ] = None,
    n_jobs: Annotated[
        int,
        typer.Option("--jobs", help="Parallel processes (-1: one per CPU).", metavar="N"),
    ] = 1,
) -> None:
    """Replay a labelled data set through prioritised screening and report WSS@95, RRF@10
    and the recall and work saved at each stopping rule's stop, with a recall curve."""
    from metareview.exceptions import InputError
    from metareview.review.ranking import (
        CLASSIFIERS,
        DEFAULT_CLASSIFIER,
        MAX_TRAINING_EXCLUDED,
        screening_features,
    )
    from metareview.review.simulation import read_labelled_records, simulate_screening

    names = list(dict.fromkeys(CLASSIFIERS.check(c) for c in classifier or [DEFAULT_CLASSIFIER]))
    if output.exists() and not output.is_dir():
        raise InputError(f"-o: {str(output)!r} is a file; give a folder.")
    records = read_labelled_records(data, label_column=label_column)
    features = screening_features(records, title=title, abstract=abstract, keywords=keywords)
    for name in names:
        folder = output / name if len(names) > 1 else output
        with progress_bar(f"{name} runs") as progress:
            sim = simulate_screening(
                records,
                label_column=label_column,
                seeds=seeds,
                classifier=name,
                training=training,
                n_prior_included=n_prior_included,
                n_prior_excluded=n_prior_excluded,
                batch_size=batch_size,
                recall_target=recall_target,
                confidence=confidence,
                n_irrelevant=n_irrelevant,
                max_excluded=MAX_TRAINING_EXCLUDED
                if max_excluded is None
                else max_excluded or None,
                features=features,
                n_jobs=n_jobs,
                progress=progress,
            )
        written = _write(sim, folder)
        if name == names[0]:
            for note in sim.notes:
                console.print(f"note: {note}", soft_wrap=True, highlight=False)
        for line in summary_lines(sim):
            console.print(line, soft_wrap=True, highlight=False)
        console.print(
            f"  wrote {', '.join(p.name for p in written)} to {folder}",
            soft_wrap=True,
            highlight=False,
        )


def _write(sim: ScreeningSimulation, folder: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from metareview.plots import recall_curve_plot, save_figure

    written = sim.write(folder)
    fig = recall_curve_plot(sim)
    try:
        written += save_figure(fig, folder / "recall")
    finally:
        plt.close(fig)
    return written


def register(app: typer.Typer) -> None:
    """Add ``simulate-screening`` to ``app``."""
    command(app, "simulate-screening")(errors_end_the_command(simulate_screening_command))
