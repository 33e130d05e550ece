"""``metareview rma-mv`` (multilevel / multivariate models from a long CSV, one row per effect
size) and ``metareview nma`` (network meta-analysis from one row per comparison): thin shells
over :func:`metareview.rma_mv`, :func:`metareview.vcalc`, :func:`metareview.robust` and
:func:`metareview.nma`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from metareview.cli._common import (
    DecimalOption,
    SepOption,
    command,
    errors_end_the_command,
    read_table,
    shown_warnings,
    write_table,
)

__all__ = ["nma_command", "register", "rma_mv_command"]

_COLUMN = re.compile(r"[A-Za-z_.][\w.]*")


def rma_mv_command(
    csv: Annotated[
        Path,
        typer.Argument(
            help="CSV file with one row per effect size.", metavar="CSV", show_default=False
        ),
    ],
    random: Annotated[
        list[str],
        typer.Option(
            "--random",
            help='Random effects, as metafor: "~ 1 | study/esid" (nested) or "~ outcome | study" '
            "(with --struct); repeat for several terms.",
            metavar="FORMULA",
            show_default=False,
        ),
    ],
    yi: Annotated[str, typer.Option(help="Column of effect sizes.", metavar="COLUMN")] = "yi",
    vi: Annotated[str, typer.Option(help="Column of sampling variances.", metavar="COLUMN")] = "vi",
    struct: Annotated[
        str,
        typer.Option(
            help="Structure of a '~ inner | outer' term: CS HCS UN AR HAR.", metavar="NAME"
        ),
    ] = "CS",
    mods: Annotated[
        list[str] | None,
        typer.Option("--mods", help="Moderator column (repeat for several).", metavar="COLUMN"),
    ] = None,
    no_intercept: Annotated[
        bool, typer.Option("--no-intercept", help="Fit without an intercept (metafor's - 1).")
    ] = False,
    rho: Annotated[
        float | None,
        typer.Option(
            help="Assumed correlation of the sampling errors of estimates in one --within "
            "cluster (V from vcalc; with --obs).",
            metavar="R",
        ),
    ] = None,
    within: Annotated[
        str | None, typer.Option(help="Cluster column for --rho (e.g. study).", metavar="COLUMN")
    ] = None,
    obs: Annotated[
        str | None,
        typer.Option(
            help="Column telling the estimates of a cluster apart, for --rho.", metavar="COLUMN"
        ),
    ] = None,
    method: Annotated[str, typer.Option(help="REML or ML.", metavar="NAME")] = "REML",
    test: Annotated[str, typer.Option(help="z or t.", metavar="NAME")] = "z",
    level: Annotated[float, typer.Option(help="Confidence level (%).", metavar="PERCENT")] = 95,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Also give cluster-robust (CR2, clubSandwich) tests, clustering by this column.",
            metavar="COLUMN",
        ),
    ] = None,
    confint: Annotated[
        bool,
        typer.Option(
            "--confint", help="Also give profile likelihood CIs of the variance components."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Fit a multilevel / multivariate meta-analysis (metafor's rma.mv) to a long CSV."""
    from metareview.exceptions import InputError
    from metareview.stats import rma_mv, robust, vcalc

    mods = list(mods or [])
    data = read_table(csv, sep=sep, decimal=decimal, numeric=[yi, vi, *mods])
    named = {"--yi": [yi], "--vi": [vi], "--mods": mods}
    named["--random"] = [n for term in random for n in _COLUMN.findall(term) if n != "1"]
    named["--cluster"] = [cluster] if cluster else []
    named["--within"] = [within] if within else []
    named["--obs"] = [obs] if obs else []
    for flag, columns in named.items():
        for column in columns:
            if column not in data.columns:
                raise InputError(
                    f"{flag} {column}: no such column in {str(csv)!r}; its columns are "
                    f"{', '.join(map(str, data.columns))}."
                )
    for column in (yi, vi, *mods):
        empty = data[column].isna().to_numpy()
        if empty.any():
            rows = ", ".join(str(i + 2) for i in empty.nonzero()[0][:5])
            raise InputError(
                f"{str(csv)!r}: column {column!r} is empty at line(s) {rows}; every effect size "
                "needs a value."
            )
    if rho is not None and within is None:
        raise InputError("--rho needs --within COLUMN (the clusters whose estimates correlate).")
    with shown_warnings():
        V = (
            data[vi]
            if rho is None
            else vcalc(data[vi], data[within], obs=None if obs is None else data[obs], rho=rho)
        )
        try:
            res = rma_mv(
                data[yi],
                V,
                random=random[0] if len(random) == 1 else random,
                struct=struct,
                mods=mods or None,
                intercept=not no_intercept,
                data=data,
                method=method,
                test=test,
                level=level,
            )
        except InputError as error:
            text = str(error)
            for name in ("random", "struct", "method", "test", "mods"):
                if text.startswith(name) and text[len(name) : len(name) + 1] in ("=", " "):
                    rest = text[len(name) :].removeprefix("=")
                    sep_ = "" if rest.startswith(" ") else " "
                    raise InputError(f"--{name.replace('_', '-')}{sep_}{rest}") from None
            raise
        rob = None if cluster is None else robust(res, cluster=data[cluster])
        ci = res.confint() if confint and (len(res.sigma2) or len(res.tau2)) else None
    if as_json:
        out = res.to_dict()
        if rob is not None:
            out["robust"] = rob.to_dict()
        if ci is not None:
            out["confint"] = {
                name: {k: float(v) for k, v in row.items()} for name, row in ci.iterrows()
            }
        print(json.dumps(out, indent=2))
        return
    print(res.summary())
    if ci is not None:
        print("\nProfile likelihood CIs of the variance components:")
        print(ci.to_string(float_format=lambda x: f"{x:.4f}"))
    if rob is not None:
        print()
        print(rob.summary())


def nma_command(
    csv: Annotated[
        Path,
        typer.Argument(
            help="CSV file with one row per comparison (a multi-arm study: every pair of arms).",
            metavar="CSV",
            show_default=False,
        ),
    ],
    treat1: Annotated[
        str, typer.Option(help="Column of the first treatment.", metavar="COLUMN")
    ] = ("treat1"),
    treat2: Annotated[
        str, typer.Option(help="Column of the second treatment.", metavar="COLUMN")
    ] = "treat2",
    yi: Annotated[
        str, typer.Option(help="Column of the effect, treat1 minus treat2.", metavar="COLUMN")
    ] = "yi",
    vi: Annotated[
        str | None, typer.Option(help="Column of sampling variances.", metavar="COLUMN")
    ] = None,
    sei: Annotated[
        str | None,
        typer.Option(help="Column of standard errors (instead of --vi).", metavar="COLUMN"),
    ] = None,
    studlab: Annotated[
        str, typer.Option(help="Column of study labels.", metavar="COLUMN")
    ] = "studlab",
    reference: Annotated[
        str | None, typer.Option(help="Reference treatment.", metavar="NAME")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="REML, ML, DL (netmeta's default) or EE (common effect).", metavar="NAME"
        ),
    ] = ("REML"),
    small_values: Annotated[
        str, typer.Option(help="Are small effects good or bad (P-scores)?", metavar="WHICH")
    ] = "good",
    level: Annotated[float, typer.Option(help="Confidence level (%).", metavar="PERCENT")] = 95,
    league: Annotated[
        Path | None,
        typer.Option(
            help="Also write the league table: .csv, .tsv, .parquet or .xlsx.", metavar="FILE"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    sep: SepOption = ",",
    decimal: DecimalOption = ".",
) -> None:
    """Network meta-analysis (contrast-based model): effects vs a reference, P-scores,
    heterogeneity and inconsistency, league table."""
    from metareview.exceptions import InputError
    from metareview.stats import nma

    numeric = [yi, *(c for c in (vi, sei) if c)]
    data = read_table(csv, sep=sep, decimal=decimal, numeric=numeric)
    for flag, column in (
        ("--treat1", treat1),
        ("--treat2", treat2),
        ("--yi", yi),
        ("--vi", vi),
        ("--sei", sei),
        ("--studlab", studlab),
    ):
        if column is not None and column not in data.columns:
            raise InputError(
                f"{flag} {column}: no such column in {str(csv)!r}; its columns are "
                f"{', '.join(map(str, data.columns))}."
            )
    if vi is not None and sei is not None:
        raise InputError("give --vi or --sei, not both.")
    try:
        res = nma(
            data,
            treat1=treat1,
            treat2=treat2,
            yi=yi,
            vi=vi,
            sei=sei,
            studlab=studlab,
            reference=reference,
            method=method,
            small_values=small_values,
            level=level,
        )
    except InputError as error:
        text = str(error)
        for name in ("reference", "method", "small_values"):
            if text.startswith(name):
                rest = text[len(name) :].removeprefix("=")
                raise InputError(
                    f"--{name.replace('_', '-')}{'' if rest.startswith(' ') else ' '}{rest}"
                ) from None
        raise
    if league is not None:
        try:
            write_table(res.league(), league, index=True)
        except InputError as error:  # its messages name -o; this command's flag is --league
            text = str(error)
            raise InputError("--league" + text.removeprefix("-o")) from None
    if as_json:
        print(json.dumps(res.to_dict(), indent=2))
        return
    print(res.summary())


def register(app: typer.Typer) -> None:
    """Add ``rma-mv`` and ``nma`` to ``app``."""
    command(app, "rma-mv")(errors_end_the_command(rma_mv_command))
    command(app, "nma")(errors_end_the_command(nma_command))
