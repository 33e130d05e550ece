"""The ``metareview`` command line: a thin shell over the library."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from metareview._cli_common import console
from metareview._cli_common import fail as _fail
from metareview.exceptions import MetareviewError, MetareviewWarning
from metareview.stats import escalc, fsn, gosh, ranktest, regtest, rma, trimfill

app = typer.Typer(help="metareview: systematic review and meta-analysis, from data to report.",
                  no_args_is_help=True, add_completion=False)


@app.command("rma")
def rma_command(
    csv: Annotated[Path, typer.Argument(help="CSV file with one row per study.")],
    yi: Annotated[str, typer.Option(help="Column of effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.")] = "vi",
    slab: Annotated[str | None, typer.Option(help="Column of study labels.")] = None,
    method: Annotated[
        str, typer.Option(help="tau2 estimator: EE DL REML ML PM HE HS SJ EB.")] = "REML",
    test: Annotated[str, typer.Option(help="z or knha (Hartung-Knapp).")] = "z",
    level: Annotated[float, typer.Option(help="Confidence level (%).")] = 95,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Pool effect sizes from a CSV file with a random-effects model."""
    try:
        data = pd.read_csv(csv)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MetareviewWarning)
            res = rma(yi, vi, data=data, slab=slab, method=method, test=test, level=level)
    except (MetareviewError, FileNotFoundError) as error:
        _fail(error)
        return
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    print(json.dumps(res.to_dict(), indent=2) if as_json else res.summary())


def _fit_csv(csv: Path, yi: str, vi: str, slab: str | None, method: str, test: str = "z"):
    data = pd.read_csv(csv)
    return rma(yi, vi, data=data, slab=slab, method=method, test=test)


@app.command("bias")
def bias_command(
    csv: Annotated[Path, typer.Argument(help="CSV file with one row per study.")],
    yi: Annotated[str, typer.Option(help="Column of effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.")] = "vi",
    slab: Annotated[str | None, typer.Option(help="Column of study labels.")] = None,
    method: Annotated[str, typer.Option(help="tau2 estimator.")] = "REML",
) -> None:
    """Funnel-plot asymmetry: Egger's and Begg's tests, trim and fill, fail-safe N."""
    try:
        res = _fit_csv(csv, yi, vi, slab, method)
        parts = [regtest(res).summary(), regtest(res, model="lm").summary(),
                 ranktest(res).summary(), trimfill(res).summary(),
                 fsn(res, type="Rosenthal").summary()]
    except (MetareviewError, FileNotFoundError) as error:
        _fail(error)
        return
    print("\n\n".join(parts))


@app.command("gosh")
def gosh_command(
    csv: Annotated[Path, typer.Argument(help="CSV file with one row per study.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV of per-subset fits.")],
    yi: Annotated[str, typer.Option(help="Column of effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.")] = "vi",
    method: Annotated[str, typer.Option(help="tau2 estimator.")] = "DL",
    subsets: Annotated[int | None, typer.Option(help="Random subsets (needed for k > 20).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for random subsets.")] = None,
) -> None:
    """GOSH: fit the model to every subset of studies (or a seeded sample), with progress."""
    try:
        res = _fit_csv(csv, yi, vi, None, method)
        columns = [TextColumn("fitting subsets"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn()]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("gosh", total=1)
            result = gosh(res, subsets, seed=seed,
                          progress=lambda done, total: bar.update(task, completed=done,
                                                                   total=total))
    except (MetareviewError, FileNotFoundError) as error:
        _fail(error)
        return
    table = result.table.copy()
    table.insert(0, "subset", ["".join("1" if x else "0" for x in row) for row in result.incl])
    table.to_csv(output, index=False)
    console.print(f"wrote {len(table):,} subset fits ({'all' if result.exact else 'sampled'}) "
                  f"to {output}")


@app.command("permutest")
def permutest_command(
    csv: Annotated[Path, typer.Argument(help="CSV file with one row per study.")],
    yi: Annotated[str, typer.Option(help="Column of effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.")] = "vi",
    mods: Annotated[list[str] | None, typer.Option("--mod", help="Moderator column(s).")] = None,
    method: Annotated[str, typer.Option(help="tau2 estimator.")] = "REML",
    iterations: Annotated[int, typer.Option("--iter", help="Random permutations.")] = 1000,
    exact: Annotated[bool, typer.Option(help="Enumerate every permutation.")] = False,
    seed: Annotated[int | None, typer.Option(help="Seed of the random permutations.")] = None,
) -> None:
    """Permutation test of the model's coefficients, with a progress bar."""
    from metareview.stats import permutest

    try:
        data = pd.read_csv(csv)
        res = rma(yi, vi, data=data, mods=mods or None, method=method)
        columns = [TextColumn("permutations"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn()]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("permutest", total=1)
            out = permutest(res, exact=exact, iter=iterations, seed=seed,
                            progress=lambda done, total: bar.update(task, completed=done,
                                                                     total=total))
    except (MetareviewError, FileNotFoundError) as error:
        _fail(error)
        return
    kind = "exact" if out.exact else f"{out.iterations:,} random"
    print(f"Permutation test ({kind} permutations)")
    for name, p_perm, p_model in zip(res.coef_names, out.pval, res.pval, strict=True):
        print(f"{name}: permutation p = {p_perm:.4f} (model-based p = {p_model:.4f})")
    if res.has_mods:
        print(f"omnibus test of moderators: permutation p = {out.QMp:.4f}")


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


@app.command("batch")
def batch_command(
    table: Annotated[Path, typer.Argument(help="CSV or Parquet, one row per study.")],
    by: Annotated[str, typer.Option(help="Column naming each study's meta-analysis.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV or Parquet results.")],
    yi: Annotated[str, typer.Option(help="Column of effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.")] = "vi",
    method: Annotated[str, typer.Option(help="tau2 estimator.")] = "REML",
    test: Annotated[str, typer.Option(help="z or knha.")] = "z",
    scheduler: Annotated[str | None, typer.Option(
        help="Run on Dask: a scheduler address (tcp://host:8786) or threads/processes; "
             "needs metareview[dask].")] = None,
) -> None:
    """Fit one meta-analysis per value of --by (millions are fine), with a progress bar."""
    from metareview.stats import batch

    try:
        data = _read_table(table)
        columns = [TextColumn("meta-analyses"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn()]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MetareviewWarning)
            with Progress(*columns, console=console, transient=True) as bar:
                task = bar.add_task("batch", total=1)
                result = batch(data, by, yi, vi, method=method, test=test,
                               scheduler=scheduler,
                               progress=lambda done, total: bar.update(task, completed=done,
                                                                        total=total))
    except (MetareviewError, FileNotFoundError) as error:
        _fail(error)
        return
    for w in caught:
        console.print(f"[yellow]warning:[/] {w.message}")
    if output.suffix == ".parquet":
        result.to_parquet(output)
    else:
        result.to_csv(output)
    console.print(f"wrote {len(result):,} meta-analyses to {output}")


@app.command("escalc")
def escalc_command(
    measure: Annotated[str, typer.Argument(help="Effect measure, e.g. PR, PLO, SMD, OR.")],
    csv: Annotated[Path, typer.Argument(help="CSV file with one row per study.")],
    column: Annotated[list[str], typer.Option(
        "--col", help="Input mapping NAME=COLUMN, e.g. --col xi=events --col ni=total.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the CSV.")],
) -> None:
    """Compute effect sizes (yi) and sampling variances (vi) and write them to a CSV."""
    try:
        mapping = dict(item.split("=", 1) for item in column)
    except ValueError:
        _fail(ValueError(f"--col takes NAME=COLUMN; got {column}"))
        return
    try:
        data = pd.read_csv(csv)
        out = escalc(measure, data, **mapping)
    except (MetareviewError, FileNotFoundError) as error:
        _fail(error)
        return
    out.to_csv(output, index=False)
    console.print(f"wrote {len(out)} rows with yi, vi to {output}")


@app.command("seed")
def seed_command(
    folder: Annotated[Path, typer.Argument(help="The case-study folder.")] = Path(
        "examples/ketamine-crps"),
) -> None:
    """Reproduce the seed review's immediate pain-relief rate from its Table 1."""
    from metareview.casestudies.ketamine_crps import PUBLISHED_IMMEDIATE, immediate_response_rate

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MetareviewWarning)
            res = immediate_response_rate(folder)
    except MetareviewError as error:
        _fail(error)
        return
    console.rule("Ketamine for CRPS (Zhao et al., 2018): immediate pain-relief event rate")
    for w in caught:
        console.print(f"[yellow]note:[/] {w.message}")
    print(res.summary())
    table = Table(title="Published vs reproduced (DerSimonian-Laird, raw proportions)")
    for name in ("", "estimate", "95% CI"):
        table.add_column(name)
    pub = PUBLISHED_IMMEDIATE
    table.add_row("paper", f"{pub['estimate']:.0%}", f"{pub['ci_lb']:.0%} to {pub['ci_ub']:.0%}")
    table.add_row("metareview", f"{res.estimate:.1%}",
                  f"{res.ci_lb[0]:.1%} to {res.ci_ub[0]:.1%}")
    console.print(table)


@app.command("report")
def report_command(
    folder: Annotated[Path, typer.Argument(help="Review folder: protocol.toml + table.")],
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="Output folder (default FOLDER/out).")] = None,
) -> None:
    """Run every analysis of a review folder and write report.html, figures and tables."""
    from metareview.report.build import STEPS, build_report

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("report", total=len(STEPS))

            def advance(name: str) -> None:
                bar.update(task, description=name, completed=STEPS.index(name))

            result = build_report(folder, output, progress=advance)
    except MetareviewError as error:
        _fail(error)
        return
    table = Table(title="Paper vs reproduction")
    for name in ("quantity", "paper", "metareview", "verdict"):
        table.add_column(name)
    for row in result.comparison.itertuples():
        colour = "green" if row.verdict.startswith("reproduced") else "yellow"
        table.add_row(row.quantity, row.published, row.reproduced,
                      f"[{colour}]{row.verdict}[/]")
    console.print(table)
    console.print(f"{result.n_flags} extraction-integrity findings; "
                  f"{len(result.figures)} figures and {len(result.tables)} tables written.")
    console.print(f"report: [bold]{result.html}[/]")


# `metareview store ...` (the review store) and `metareview screen` (the blinded screener)
from metareview.review_cli import register_review_commands  # noqa: E402

register_review_commands(app)


def main() -> None:
    """Entry point of the ``metareview`` console script."""
    app()
