"""One outcome of a review analysed from a store's agreed studies table, with the model the
user chooses: what the web app's analysis page shows.

Everything is the report's own code (:mod:`metareview.report.analyses` fits the outcome, the
published method and the robustness grid; :mod:`metareview.report.build` draws the forest
and funnel plots): the page and ``metareview report`` cannot disagree. The choices (effect
measure, model, test, a subgroup column or a moderator column) replace the protocol's for
this outcome only; they are checked first, and a bad one is an
:class:`~metareview.exceptions.InputError` naming the choice and what is accepted.
"""

from __future__ import annotations

import io
import tempfile
import threading
import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from metareview.exceptions import InputError, MetareviewWarning
from metareview.report.analyses import (
    MEASURE_NAMES,
    METHOD_NAMES,
    OutcomeAnalysis,
    analyse_outcome,
    display_transf,
)
from metareview.report.build import forest_figure, funnel_figure
from metareview.report.protocol import DATA_TYPES, METHODS, TESTS, Protocol, load_protocol

__all__ = [
    "DRAWING",
    "LiveAnalysis",
    "analyse_agreed",
    "figure_svg",
    "load_agreed",
    "outcome_choices",
]

#: the funnel plot is drawn from this many studies (the report waits for 10: its tests of
#: asymmetry have little power below that, and the page says so)
FUNNEL_MIN_K = 3
#: held while a figure is drawn by a server's worker threads (pyplot is not thread-safe)
DRAWING = threading.RLock()
#: drawn models whose figures a ``figure_cache`` keeps
FIGURE_CACHE_SIZE = 16


@dataclass(frozen=True, slots=True)
class LiveAnalysis:
    """An outcome fitted with the chosen model: the report's :class:`OutcomeAnalysis`, the
    leave-one-out table on the display scale, and the forest and funnel plots as SVG text
    (``funnel_svg`` is None below :data:`FUNNEL_MIN_K` studies)."""

    analysis: OutcomeAnalysis
    choices: dict[str, Any]
    pooled: dict[str, float]
    published: dict[str, float] | None
    leave1out: pd.DataFrame
    forest_svg: str
    funnel_svg: str | None


def outcome_choices(protocol: Protocol, outcome: str) -> dict[str, Any]:
    """What may be chosen for ``outcome``: ``measures`` (of its data type), ``methods``,
    ``tests`` and ``columns`` (for a subgroup or a moderator: the table's columns other
    than the study label)."""
    o = _outcome(protocol, outcome)
    study = protocol.column("study")
    return {
        "outcomes": [(x.name, x.label) for x in protocol.outcomes],
        "measures": [(m, MEASURE_NAMES[m]) for m in DATA_TYPES[o.data][0]],
        "methods": [(m, METHOD_NAMES[m]) for m in METHODS if m != "FE"],
        "tests": [("z", "Wald (z)"), ("knha", "Hartung-Knapp")],
        "columns": [c for c in protocol.table.columns if c != study],
        "defaults": {"measure": o.measure, "method": o.method, "test": o.test},
    }


def _outcome(protocol: Protocol, name: str):
    names = [o.name for o in protocol.outcomes]
    if name not in names:
        raise InputError(f"outcome must be one of {names}; got {name!r}.")
    return protocol.outcome(name)


def load_agreed(
    folder: str | Path | None, table: pd.DataFrame, *, text: str | None = None
) -> Protocol:
    """The protocol of the review folder read with ``table`` (a store's agreed studies
    table) instead of the table file it names.

    With ``text`` (a ``protocol.toml`` kept in the store, ``Store.project_protocol``) and no
    ``folder``, that text is the protocol; its messages call it "the stored protocol.toml".
    """
    if (folder is None) == (text is None):
        raise InputError("load_agreed needs a review folder or a protocol's text (one of them).")
    with tempfile.TemporaryDirectory(prefix="metareview-live-") as tmp:
        path = Path(tmp) / "studies.csv"
        table.to_csv(path, index=False)
        if text is None:
            return load_protocol(folder, path)
        (Path(tmp) / "protocol.toml").write_text(text, encoding="utf-8")
        try:
            return load_protocol(tmp, path)
        except InputError as error:  # name the file as the user knows it, not the copy
            where = str(Path(tmp) / "protocol.toml")
            message = str(error).replace(where, "the stored protocol.toml")
            message = message.replace(str(path), "the agreed studies table")
            raise InputError(message) from None


def analyse_agreed(
    protocol: Protocol,
    outcome: str,
    *,
    measure: str | None = None,
    method: str | None = None,
    test: str | None = None,
    subgroup: str | None = None,
    moderator: str | None = None,
    figure_cache: MutableMapping[tuple[str, ...], tuple[str, str | None]] | None = None,
) -> LiveAnalysis:
    """Fit ``outcome`` of ``protocol`` with the chosen model (None: the protocol's), as the
    report does, and draw its forest and funnel plots.

    The plots show the main fit only, so ``figure_cache`` (a mapping kept with this
    ``protocol``) reuses them when only the subgroup or moderator changes: drawing them is
    most of a redraw's time for large k.

    Raises
    ------
    InputError
        A measure that does not fit the outcome's data, an unknown method or test, or a
        subgroup or moderator that is not a column of the table.
    """
    o = _outcome(protocol, outcome)
    choices = outcome_choices(protocol, outcome)
    measure = measure or o.measure
    method = method or o.method
    test = test or o.test
    allowed = DATA_TYPES[o.data][0]
    if measure not in allowed:
        raise InputError(
            f"measure must be one of {list(allowed)} for {o.data} data; got {measure!r}."
        )
    if method not in METHODS:
        raise InputError(f"method must be one of {list(METHODS)}; got {method!r}.")
    if test not in TESTS:
        raise InputError(f"test must be one of {list(TESTS)}; got {test!r}.")
    options = {k: v for k, v in o.options.items() if k not in ("subgroup", "moderators")}
    for key, column in (("subgroup", subgroup), ("moderator", moderator)):
        if column and column not in choices["columns"]:
            raise InputError(
                f"{key} must be a column of the studies table ({choices['columns']}); "
                f"got {column!r}."
            )
    if subgroup:
        options["subgroup"] = subgroup
    if moderator:
        options["moderators"] = [moderator]
    chosen = replace(o, measure=measure, method=method, test=test, options=options)
    key = (outcome, measure, method, test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetareviewWarning)  # shown on the page as notes
        a = analyse_outcome(protocol, chosen)
        if figure_cache is not None and key in figure_cache:
            forest_svg, funnel_svg = figure_cache[key]
        else:
            forest_svg = figure_svg(forest_figure(a))
            funnel = funnel_figure(a, min_k=FUNNEL_MIN_K)
            funnel_svg = None if funnel is None else figure_svg(funnel)
            if figure_cache is not None:
                figure_cache[key] = (forest_svg, funnel_svg)
                while len(figure_cache) > FIGURE_CACHE_SIZE:  # the oldest go first
                    figure_cache.pop(next(iter(figure_cache)))
    transf = display_transf(a.main.measure, a.outcome)
    l1o = pd.DataFrame()
    if a.main.k >= 3:
        from metareview.stats import leave1out
        from metareview.stats.transforms import back_transform

        l1o = leave1out(a.main)[["estimate", "ci_lb", "ci_ub", "QE", "tau2", "I2"]].copy()
        if transf is not None:
            targs = {"ni": a.main.ni} if a.main.ni is not None else None
            for column in ("estimate", "ci_lb", "ci_ub"):
                l1o[column] = back_transform(transf, l1o[column].to_numpy(), targs)
    return LiveAnalysis(
        analysis=a,
        choices={
            "outcome": outcome,
            "measure": measure,
            "method": method,
            "test": test,
            "subgroup": subgroup,
            "moderator": moderator,
        },
        pooled=a.predict(a.main),
        published=a.predict(a.published) if a.published is not None else None,
        leave1out=l1o,
        forest_svg=forest_svg,
        funnel_svg=funnel_svg,
    )


def figure_svg(fig: Any) -> str:
    """The figure as SVG text for an HTML page, and closed.

    Text stays text (``svg.fonttype = "none"``: the browser sets it in the figure's font
    family), which is what makes a redraw fast -- turning every glyph into a path took
    about 2 s for a forest plot of 100 studies -- and keeps the labels searchable and
    readable by screen readers. The figure keeps the size the plot gave it, as
    :func:`metareview.plots.save_figure` does.
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "metareview"}):
        fig.savefig(buffer, format="svg", facecolor="white")
    plt.close(fig)
    return buffer.getvalue()
