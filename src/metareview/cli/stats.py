"""The statistics commands: ``rma``, ``bias``, ``gosh``, ``permutest``, ``batch``, ``escalc``,
``forest``, ``funnel``, ``leave1out``, ``influence``, ``seed`` and ``report``.

Each reads a table, calls the library and prints or writes what it returns; the library is
imported inside each command so that ``metareview --help`` does not load it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from metareview.cli._common import (
    DecimalOption,
    SepOption,
    command,
    console,
    errors_end_the_command,
    fail,
    output_format,
    prepare_output,
    progress_bar,
    read_simple_csv,
    read_table,
    rich_console,
    row_label,
    shown_warnings,
    write_table,
)

if TYPE_CHECKING:  # pragma: no cover
    from metareview.stats import RmaResult

__all__ = ["register"]

CsvArgument = Annotated[
    Path, typer.Argument(help="CSV file with one row per study.", metavar="CSV", show_default=False)
]
YiOption = Annotated[str, typer.Option(help="Column of effect sizes.", metavar="COLUMN")]
ViOption = Annotated[str, typer.Option(help="Column of sampling variances.", metavar="COLUMN")]
SlabOption = Annotated[str | None, typer.Option(help="Column of study labels.", metavar="COLUMN")]
MethodOption = Annotated[
    str, typer.Option(help="tau2 estimator: EE DL REML ML PM HE HS SJ EB.", metavar="NAME")
]
TestOption = Annotated[
    str,
    typer.Option(
        help="Test and CIs of the pooled effect: z, or knha (Hartung-Knapp).", metavar="NAME"
    ),
]
LevelOption = Annotated[float, typer.Option(help="Confidence level (%).", metavar="PERCENT")]
MissingOption = Annotated[
    str,
    typer.Option(
        help="Rows with an empty yi or vi cell: error (stop, naming them) or omit (leave them out, "
        "with a warning). A cell that is not a number is always an error.",
        metavar="RULE",
    ),
]
FigureOutput = Annotated[
    Path,
    typer.Option(
        "-o",
        "--output",
        help="Figure file: .png, .svg or .pdf (no suffix: all three).",
        metavar="FILE",
    ),
]
TableOutput = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Also write the table: .csv, .tsv, .parquet or .xlsx (openpyxl).",
        metavar="FILE",
    ),
]
TransfOption = Annotated[
    str | None,
    typer.Option(
        help="Back-transform the pooled effect: exp, expit, ipft.hm (needs --ni), iarcsin, ztor.",
        metavar="NAME",
    ),
]
NiOption = Annotated[
    str | None,
    typer.Option(help="Column of sample sizes (for --transf ipft.hm).", metavar="COLUMN"),
]

TRANSFORMS = ("exp", "expit", "ilogit", "ipft.hm", "iarcsin", "ztor")


def fit_csv(
    csv: Path,
    *,
    yi: str = "yi",
    vi: str = "vi",
    slab: str | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    missing: str = "error",
    sep: str = ",",
    decimal: str = ".",
    mods: list[str] | None = None,
    ni: str | None = None,
) -> RmaResult:
    """Read ``csv`` (cells of the numeric columns checked, see ``read_table``) and fit it.

    A small, clean CSV without moderators is read without pandas (``read_simple_csv``), which
    gives the same columns, so the fit and every message are the same either way.
    """
    from metareview._validation import SLAB_COLUMN
    from metareview.stats import rma

    numeric = [yi, vi, *(mods or []), *([ni] if ni else [])]
    labels = slab if slab is not None else SLAB_COLUMN  # rma's default: a 'slab' column
    simple = (
        None
        if mods or missing not in ("error", "omit")  # check_empty_cells words that error
        else read_simple_csv(csv, numeric=numeric, text=[labels], sep=sep, decimal=decimal)
    )
    if simple is not None and (slab is None or slab in simple):
        return rma(
            simple[yi],
            simple[vi],
            slab=simple.get(labels),
            method=method,
            test=test,
            level=level,
            missing=missing,
            ni=simple[ni] if ni else None,
        )
    data = read_table(csv, sep=sep, decimal=decimal, numeric=numeric)
    check_empty_cells(data, csv, [yi, vi, *(mods or [])], missing)
    return rma(
        yi,
        vi,
        data=data,
        slab=slab,
        method=method,
        test=test,
        level=level,
        mods=mods or None,
        missing=missing,
        ni=ni,
    )


def check_empty_cells(data: Any, path: Path, columns: list[str], missing: str) -> None:
    """The one rule of every command for empty cells in the columns a fit uses: with
    ``--missing error`` (the default) the first is an error naming file, row and column;
    with ``--missing omit`` the rows are left to the library, which leaves them out with a
    warning."""
    from metareview.exceptions import Argument, InputError

    if missing not in ("error", "omit"):
        raise InputError(f"--missing must be error or omit; got {missing!r}.")
    if missing == "omit":
        return
    for column in columns:
        if column in data.columns and data[column].isna().any():
            rows = data[column].isna().to_numpy().nonzero()[0]  # positions, not labels
            more = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
            raise InputError(
                f"{path}, {row_label(path, int(rows[0]))}, column {column!r}: "
                f"empty cell{more}. "
                "Fill it, or pass ",
                Argument("missing", "omit"),
                " to leave such rows out.",
            )


def _check_transf(transf: str | None, ni: str | None) -> None:
    from metareview.exceptions import Argument, InputError

    if transf is None:
        return
    if transf not in TRANSFORMS:
        raise InputError(f"--transf must be one of {', '.join(TRANSFORMS)}; got {transf!r}.")
    if transf == "ipft.hm" and ni is None:
        raise InputError(
            "--transf ipft.hm back-transforms with the harmonic mean of the sample sizes: pass ",
            Argument("ni", placeholder="column"),
            ".",
        )


def save_plot(fig: Any, output: Path) -> list[Path]:
    """Save ``fig`` to ``output`` (its suffix picks PNG, SVG or PDF; none: all three)."""
    import matplotlib.pyplot as plt

    from metareview.exceptions import InputError
    from metareview.plots import save_figure

    suffix = output.suffix.lower().lstrip(".")
    try:
        if suffix and suffix not in ("png", "svg", "pdf"):
            raise InputError(
                f"-o must end in .png, .svg or .pdf (or have no suffix for all "
                f"three); got {str(output)!r}."
            )
        formats = (suffix,) if suffix else ("png", "svg", "pdf")
        return save_figure(fig, output.with_suffix("") if suffix else output, formats=formats)
    finally:
        plt.close(fig)


def _wrote(what: object) -> None:
    console.print(f"wrote {what}", soft_wrap=True, highlight=False)


def _use_agg() -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window


def rma_command(
    csv: CsvArgument,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    slab: SlabOption = None,
    method: MethodOption = "REML",
    test: TestOption = "z",
    level: LevelOption = 95,
    missing: MissingOption = "error",
    transf: TransfOption = None,
    ni: NiOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Pool effect sizes from a CSV file with a random-effects model."""
    _check_transf(transf, ni)
    with shown_warnings():
        res = fit_csv(
            csv,
            yi=yi,
            vi=vi,
            slab=slab,
            method=method,
            test=test,
            level=level,
            missing=missing,
            sep=sep,
            decimal=decimal,
            ni=ni,
        )
        pred = None if transf is None else res.predict(transf=transf)
    if as_json:
        out = res.to_dict()
        if pred is not None:
            out["predict"] = {"transf": transf, **pred}
        print(json.dumps(out, indent=2))
        return
    print(res.summary())
    if pred is not None:
        level_pct = f"{res.level * 100:g}" if res.level < 1 else f"{res.level:g}"
        line = (
            f"Back-transformed ({transf}): {pred['pred']:.4f}, {level_pct}% CI "
            f"{pred['ci_lb']:.4f} to {pred['ci_ub']:.4f}"
        )
        if pred.get("pi_lb") is not None and pred["pi_lb"] == pred["pi_lb"]:
            line += f", prediction interval {pred['pi_lb']:.4f} to {pred['pi_ub']:.4f}"
        print(line)


def bias_command(
    csv: CsvArgument,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    slab: SlabOption = None,
    method: MethodOption = "REML",
    test: TestOption = "z",
    missing: MissingOption = "error",
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Funnel-plot asymmetry: Egger's and Begg's tests, trim and fill, fail-safe N."""
    from metareview.stats import fsn, ranktest, regtest, trimfill

    with shown_warnings():
        res = fit_csv(
            csv,
            yi=yi,
            vi=vi,
            slab=slab,
            method=method,
            test=test,
            missing=missing,
            sep=sep,
            decimal=decimal,
        )
        parts = [
            regtest(res).summary(),
            regtest(res, model="lm").summary(),
            ranktest(res).summary(),
            trimfill(res).summary(),
            fsn(res, type="Rosenthal").summary(),
        ]
    print("\n\n".join(parts))


def gosh_command(
    csv: CsvArgument,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Table of per-subset fits (.csv, .tsv, .parquet, .xlsx); one "
            "0/1 column per study says which studies each subset holds.",
            metavar="FILE",
        ),
    ],
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    slab: SlabOption = None,
    method: Annotated[
        str,
        typer.Option(
            help="tau2 estimator (DL by default: closed form, so the 2^k fits stay fast; "
            "metafor's gosh() uses the model's own).",
            metavar="NAME",
        ),
    ] = "DL",
    subsets: Annotated[
        int | None,
        typer.Option(help="Fit this many random subsets (needed for k > 20).", metavar="N"),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for random subsets.", metavar="N")] = None,
    missing: MissingOption = "error",
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """GOSH: fit the model to every subset of studies (or a seeded sample), with progress."""
    import pandas as pd

    from metareview.stats import gosh

    output_format(output)
    prepare_output(output)
    res = fit_csv(
        csv, yi=yi, vi=vi, slab=slab, method=method, missing=missing, sep=sep, decimal=decimal
    )
    with progress_bar("fitting subsets") as progress:
        result = gosh(res, subsets, seed=seed, progress=progress)
    labels = [f"incl_{label}" for label in res.slab]
    incl = pd.DataFrame(result.incl.astype("int8"), columns=labels)
    table = pd.concat([result.table.reset_index(drop=True), incl], axis=1)
    write_table(table, output)
    _wrote(f"{len(table):,} subset fits ({'all' if result.exact else 'sampled'}) to {output}")


def permutest_command(
    csv: CsvArgument,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    mods: Annotated[
        list[str] | None,
        typer.Option("--mod", help="Moderator column (repeat for several).", metavar="COLUMN"),
    ] = None,
    method: MethodOption = "REML",
    iterations: Annotated[
        int, typer.Option("--iter", help="Random permutations.", metavar="N")
    ] = 1000,
    exact: Annotated[bool, typer.Option(help="Enumerate every permutation.")] = False,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the random permutations.", metavar="N")
    ] = None,
    missing: MissingOption = "error",
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Permutation test of the model's coefficients, with a progress bar."""
    from metareview.stats import permutest

    res = fit_csv(
        csv, yi=yi, vi=vi, mods=mods, method=method, missing=missing, sep=sep, decimal=decimal
    )
    with progress_bar("permutations") as progress:
        out = permutest(res, exact=exact, iter=iterations, seed=seed, progress=progress)
    kind = "exact" if out.exact else f"{out.iterations:,} random"
    print(f"Permutation test ({kind} permutations)")
    for name, p_perm, p_model in zip(res.coef_names, out.pval, res.pval, strict=True):
        print(f"{name}: permutation p = {p_perm:.4f} (model-based p = {p_model:.4f})")
    if res.has_mods:
        print(f"omnibus test of moderators: permutation p = {out.QMp:.4f}")


def batch_command(
    table: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet, one row per study.", metavar="TABLE", show_default=False
        ),
    ],
    by: Annotated[
        str, typer.Option(help="Column naming each study's meta-analysis.", metavar="COLUMN")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Results: .csv, .tsv, .parquet or .xlsx (needs openpyxl).",
            metavar="FILE",
        ),
    ],
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    method: MethodOption = "REML",
    test: TestOption = "z",
    missing: MissingOption = "error",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Run on Dask: a scheduler address (tcp://host:8786) or threads/processes; "
            "needs pip install 'metareview[dask]'.",
            metavar="WHERE",
        ),
    ] = None,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Fit one meta-analysis per value of --by (millions are fine), with a progress bar."""
    from metareview.stats import batch

    output_format(output)
    prepare_output(output)
    data = read_table(table, sep=sep, decimal=decimal, numeric=[yi, vi], flag="TABLE")
    check_empty_cells(data, table, [yi, vi], missing)
    with shown_warnings(), progress_bar("meta-analyses") as progress:
        result = batch(
            data, by, yi, vi, method=method, test=test, scheduler=scheduler, progress=progress
        )
    write_table(result, output, index=True)
    _wrote(f"{len(result):,} meta-analyses to {output}")


def escalc_command(
    measure: Annotated[
        str,
        typer.Argument(
            help="Effect measure, e.g. PR, PLO, SMD, OR.", metavar="MEASURE", show_default=False
        ),
    ],
    csv: CsvArgument,
    column: Annotated[
        list[str],
        typer.Option(
            "--col",
            help="Input mapping NAME=COLUMN, e.g. --col xi=events --col ni=total.",
            metavar="NAME=COLUMN",
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Where to write yi, vi: .csv, .tsv, .parquet or .xlsx.",
            metavar="FILE",
        ),
    ],
    slab: SlabOption = None,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Compute effect sizes (yi) and sampling variances (vi) and write them to a table."""
    from metareview.exceptions import InputError
    from metareview.stats import escalc

    bad = [item for item in column if "=" not in item]
    if bad:
        raise InputError(f"--col takes NAME=COLUMN; got {bad[0]!r}.")
    mapping = dict(item.split("=", 1) for item in column)
    if "slab" in mapping:
        raise InputError("--col slab=COLUMN: study labels are given with --slab COLUMN.")
    output_format(output)
    prepare_output(output)
    data = read_table(csv, sep=sep, decimal=decimal, numeric=list(mapping.values()))
    with shown_warnings():
        out = escalc(measure, data, slab=slab, **mapping)
    write_table(out, output)
    _wrote(f"{len(out)} rows with yi, vi to {output}")


def forest_command(
    csv: CsvArgument,
    output: FigureOutput,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    slab: SlabOption = None,
    method: MethodOption = "REML",
    test: TestOption = "z",
    level: LevelOption = 95,
    missing: MissingOption = "error",
    transf: Annotated[
        str | None,
        typer.Option(
            help="Display scale: exp, expit, ipft.hm (needs --ni), iarcsin, ztor or percent.",
            metavar="NAME",
        ),
    ] = None,
    ni: NiOption = None,
    title: Annotated[str | None, typer.Option(help="Title above the plot.", metavar="TEXT")] = None,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Draw a forest plot of the random-effects model to -o (PNG, SVG or PDF)."""
    _use_agg()
    from metareview.plots import forest

    if transf != "percent":
        _check_transf(transf, ni)
    with shown_warnings():
        res = fit_csv(
            csv,
            yi=yi,
            vi=vi,
            slab=slab,
            method=method,
            test=test,
            level=level,
            missing=missing,
            sep=sep,
            decimal=decimal,
            ni=ni,
        )
        paths = save_plot(forest(res, transf=transf, title=title), output)
    for path in paths:
        _wrote(path)


def funnel_command(
    csv: CsvArgument,
    output: FigureOutput,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    method: MethodOption = "REML",
    missing: MissingOption = "error",
    contours: Annotated[
        bool, typer.Option(help="Shade where a study would be significant at p < .10, .05, .01.")
    ] = True,
    trimfill: Annotated[
        bool, typer.Option("--trimfill", help="Draw the studies imputed by trim and fill.")
    ] = False,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Draw a funnel plot (effect against standard error) to -o (PNG, SVG or PDF)."""
    _use_agg()
    from metareview.plots import funnel
    from metareview.stats import trimfill as trim_and_fill

    with shown_warnings():
        res = fit_csv(csv, yi=yi, vi=vi, method=method, missing=missing, sep=sep, decimal=decimal)
        filled = None
        if trimfill:
            tf = trim_and_fill(res)
            filled = (tf.filled_yi, tf.filled_vi) if tf.k0 else None
        paths = save_plot(funnel(res, contours=contours, filled=filled), output)
    for path in paths:
        _wrote(path)


def _case_table(kind: str, csv: Path, output: Path | None, **fit: Any) -> None:
    import pandas as pd

    from metareview.stats import influence, leave1out

    if output is not None:
        output_format(output)
    with shown_warnings():
        res = fit_csv(csv, **fit)
        table = (leave1out if kind == "leave1out" else influence)(res)
    with pd.option_context(
        "display.max_rows", None, "display.width", 200, "display.max_columns", None
    ):
        print(table.round(4).to_string())
    if output is not None:
        write_table(table, output, index=True)
        _wrote(output)


def leave1out_command(
    csv: CsvArgument,
    output: TableOutput = None,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    slab: SlabOption = None,
    method: MethodOption = "REML",
    test: TestOption = "z",
    missing: MissingOption = "error",
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Leave-one-out: the model refitted without each study in turn."""
    _case_table(
        "leave1out",
        csv,
        output,
        yi=yi,
        vi=vi,
        slab=slab,
        method=method,
        test=test,
        missing=missing,
        sep=sep,
        decimal=decimal,
    )


def influence_command(
    csv: CsvArgument,
    output: TableOutput = None,
    yi: YiOption = "yi",
    vi: ViOption = "vi",
    slab: SlabOption = None,
    method: MethodOption = "REML",
    missing: MissingOption = "error",
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Case-deletion diagnostics (Viechtbauer & Cheung, 2010): rstudent, DFFITS, Cook's
    distance, covariance ratio, hat and weight; `inf` marks influential studies."""
    _case_table(
        "influence",
        csv,
        output,
        yi=yi,
        vi=vi,
        slab=slab,
        method=method,
        missing=missing,
        sep=sep,
        decimal=decimal,
    )


def seed_command(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="The case-study folder (default: the bundled example ketamine-crps).",
            metavar="FOLDER",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Reproduce the seed review's immediate pain-relief rate from its Table 1."""
    from rich.table import Table

    from metareview.casestudies import example_folder
    from metareview.casestudies.ketamine_crps import PUBLISHED_IMMEDIATE, immediate_response_rate

    if folder is None:
        folder = example_folder("ketamine-crps")

    with shown_warnings("note"):
        res = immediate_response_rate(folder)
        console.rule("Ketamine for CRPS (Zhao et al., 2018): immediate pain-relief event rate")
    print(res.summary())
    table = Table(title="Published vs reproduced (DerSimonian-Laird, raw proportions)")
    for name in ("", "estimate", "95% CI"):
        table.add_column(name)
    pub = PUBLISHED_IMMEDIATE
    table.add_row("paper", f"{pub['estimate']:.0%}", f"{pub['ci_lb']:.0%} to {pub['ci_ub']:.0%}")
    table.add_row("metareview", f"{res.estimate:.1%}", f"{res.ci_lb[0]:.1%} to {res.ci_ub[0]:.1%}")
    console.print(table)


def report_command(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Review folder: protocol.toml + table.", metavar="FOLDER", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Output folder (default FOLDER/out; with --example, ./NAME-report).",
            metavar="FOLDER",
        ),
    ] = None,
    example: Annotated[
        str | None,
        typer.Option(
            "--example",
            help="Report on a bundled review folder instead of FOLDER (list: metareview example).",
            metavar="NAME",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run every analysis of a review folder and write report.html, figures and tables."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.table import Table

    from metareview.casestudies import example_folder
    from metareview.report.build import STEPS, build_report

    if (folder is None) == (example is None):
        fail("give a review FOLDER or --example NAME, not both and not neither.")
    if example is not None:
        folder = example_folder(example)
        output = Path(f"{example}-report") if output is None else output

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=rich_console(), transient=True) as bar:
        task = bar.add_task("report", total=len(STEPS))

        def advance(name: str) -> None:
            bar.update(task, description=name, completed=STEPS.index(name))

        result = build_report(folder, output, progress=advance)
    if result.findings:  # cells the protocol lets the report leave out: said first, as in the HTML
        console.print(
            f"[yellow]{len(result.findings)} cell(s) of the table could not be read and were "
            'left out[/] (the protocol allows it: unreadable_cells = "report"):',
            highlight=False,
        )
        for finding in result.findings:
            console.print(f"  - {finding}", highlight=False, markup=False)
    if result.reproduction:  # a new review has no published numbers to set beside ours
        table = Table(title="Paper vs reproduction")
        for name in ("quantity", "paper", "metareview", "verdict"):
            table.add_column(name)
        for row in result.comparison.itertuples():
            colour = "green" if row.verdict.startswith("reproduced") else "yellow"
            verdict = f"[{colour}]{row.verdict}[/]"
            table.add_row(row.quantity, row.published, row.reproduced, verdict)
        console.print(table)
    console.print(
        f"{result.n_flags} extraction-integrity findings; "
        f"{len(result.figures)} figures and {len(result.tables)} tables written."
    )
    console.print(f"report: [bold]{result.html}[/]")


COMMANDS = {
    "rma": rma_command,
    "bias": bias_command,
    "forest": forest_command,
    "funnel": funnel_command,
    "leave1out": leave1out_command,
    "influence": influence_command,
    "gosh": gosh_command,
    "permutest": permutest_command,
    "batch": batch_command,
    "escalc": escalc_command,
    "seed": seed_command,
    "report": report_command,
}


def register(app: typer.Typer) -> None:
    """Add the statistics commands to ``app``."""
    for name, function in COMMANDS.items():
        command(app, name)(errors_end_the_command(function))
