"""``metareview store extraction-form`` and ``metareview store extraction-kappa``: the
project's extraction form, set from a protocol file, and the extractors' agreement per field.

Thin, like ``store``: the rules are :class:`metareview.review.Store` methods
(:mod:`metareview.review.extraction_dual`) that the web app's extraction pages call too.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from metareview.cli._common import command, console, errors_end_the_command
from metareview.cli.store import (
    DEFAULT_STORE,
    ByOption,
    ProjectOption,
    StoreOption,
    _fmt,
    _say,
    _table,
    open_store,
    project_name,
)

__all__ = ["register"]


def form_command(
    protocol: Annotated[
        Path,
        typer.Argument(help="protocol.toml with an [extraction] section.", metavar="PROTOCOL"),
    ],
    by: ByOption,
    store: StoreOption = DEFAULT_STORE,
    project: ProjectOption = None,
) -> None:
    """Set the project's extraction form from PROTOCOL's [extraction.fields.*]."""
    import tomllib

    from metareview.review.extraction_form import load_form

    form = load_form(protocol)  # clear errors naming the file and the field
    text = protocol.read_text(encoding="utf-8")
    section = tomllib.loads(text)["extraction"]
    with open_store(store) as st:  # the whole protocol is kept for the analysis and report
        st.set_extraction_form(project_name(st, project), section, actor=by, protocol=text)
    _say(f"extraction form set: {len(form.fields)} fields ({', '.join(form.names)})")


def kappa_command(store: StoreOption = DEFAULT_STORE, project: ProjectOption = None) -> None:
    """Cohen's kappa per field between extractors, over the studies both submitted."""
    from rich.text import Text

    from metareview.stats.agreement import KAPPA_CI_NOTE, kappa_ci_shown

    with open_store(store) as st:
        rows = st.extraction_kappa(project_name(st, project))
    if rows.empty:
        _say("no study is complete yet (both extractors submitted): nothing to compare")
        return
    table = _table(
        "Extraction agreement per field (complete studies)",
        ["field", "extractors", "studies", "identical", "kappa", "95% CI"],
    )
    any_cut = False
    for row in rows.itertuples():
        if math.isnan(row.kappa):
            kappa, ci = "n/a", "one value throughout"
        else:
            lb, ub, cut = kappa_ci_shown(row.ci_lb, row.ci_ub)
            any_cut |= cut
            kappa, ci = _fmt(row.kappa), f"{_fmt(lb)} to {_fmt(ub)}{'*' if cut else ''}"
        table.add_row(
            Text(row.field),
            Text(f"{row.reviewer_a} / {row.reviewer_b}"),
            str(row.n),
            f"{row.agreement:.1%}",
            kappa,
            ci,
        )
    console.print(table)
    if any_cut:
        _say(f"* {KAPPA_CI_NOTE}")


def register(store_app: typer.Typer) -> None:
    """Add ``extraction-form`` and ``extraction-kappa`` to ``metareview store``."""
    command(store_app, "extraction-form")(errors_end_the_command(form_command))
    command(store_app, "extraction-kappa")(errors_end_the_command(kappa_command))
