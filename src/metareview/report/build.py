"""Build the report of a review folder: analyses, figures, tables and ``report.html``."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from metareview import __version__
from metareview.exceptions import InputError, MetareviewWarning
from metareview.report import analyses
from metareview.report.analyses import MEASURE_NAMES, OutcomeAnalysis, display_transf, model_label
from metareview.report.protocol import Protocol, load_protocol
from metareview.report.text import (
    SMALL_K,
    comparison_table,
    fmt,
    methods_text,
    outcome_sentences,
    results_text,
)

__all__ = [
    "ReportOutput",
    "StoreFacts",
    "build_report",
    "build_store_report",
    "forest_figure",
    "funnel_figure",
]

STEPS = ("protocol", "integrity", "outcomes", "harms and descriptives", "figures", "report")


@dataclass(frozen=True, slots=True)
class ReportOutput:
    """Where the report went and the headline numbers (for the terminal summary).

    ``comparison`` is the published-vs-reproduced table (empty unless the protocol has a
    ``[published]`` section); ``findings`` are the cells left out because the protocol allows
    unreadable cells -- print them.
    """

    html: Path
    folder: Path
    comparison: pd.DataFrame
    n_flags: int
    figures: tuple[Path, ...]
    tables: tuple[Path, ...]
    findings: tuple[str, ...] = ()
    reproduction: bool = False


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What a review store adds to a report built from its agreed extraction table.

    Attributes
    ----------
    project : str
        The store's project.
    pending : tuple of str
        Studies still being extracted (not in the table, named in the report).
    prisma_counts : dict or None
        ``Store.prisma_counts``: the PRISMA 2020 figure is drawn from them, not from the
        protocol's ``[prisma]`` numbers.
    prisma_missing : str or None
        Why the store cannot count yet (records without an outcome), said in the report.
    screening : tuple of str
        Methods sentences of the screening stops by a stopping rule
        (``ScreeningStop.methods_text``), oldest first.
    """

    project: str
    pending: tuple[str, ...] = ()
    prisma_counts: dict[str, Any] | None = None
    prisma_missing: str | None = None
    screening: tuple[str, ...] = ()

    def data_source(self, k: int) -> str:
        """Where the data came from, for the methods paragraph."""
        return (
            f"the agreed extraction table of the review store (project {self.project!r}): "
            f"the values agreed between the extractors of the {k} "
            f"stud{'y' if k == 1 else 'ies'} whose extraction is complete, typed as printed "
            "and parsed cell by cell"
            + (
                f" ({len(self.pending)} stud{'y' if len(self.pending) == 1 else 'ies'} still "
                "being extracted left out)"
                if self.pending
                else ""
            )
        )


def _figure_to_files(fig, stem: Path) -> tuple[Path, str]:
    """Save PNG (300 dpi) and SVG; return the PNG path and a base64 PNG for embedding."""
    import matplotlib.pyplot as plt

    from metareview.plots import save_figure

    stem.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, stem, formats=("png", "svg"))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return stem.with_suffix(".png"), base64.b64encode(buffer.getvalue()).decode("ascii")


def build_report(
    folder: str | Path,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    table: str | Path | None = None,
) -> ReportOutput:
    """Run every analysis of the review folder and write ``report.html`` with figures and tables.

    Parameters
    ----------
    folder : path
        A review folder: ``protocol.toml`` plus the extraction table it names.
    out : path, optional
        Output folder (default ``<folder>/out``); gets ``report.html``, ``figures/`` (PNG and
        SVG) and ``tables/`` (CSV).
    progress : callable, optional
        Called with the name of each step (one of :data:`STEPS`) as it starts.
    table : path, optional
        An extraction table to read instead of the one the protocol names (e.g. the studies
        table a review store exported).

    Returns
    -------
    ReportOutput
    """
    step = progress or (lambda name: None)
    step("protocol")
    protocol = load_protocol(folder, table)
    return _build(protocol, Path(out) if out is not None else protocol.folder / "out", step)


def build_store_report(
    protocol: Protocol,
    out: str | Path,
    *,
    facts: StoreFacts,
    progress: Callable[[str], None] | None = None,
) -> ReportOutput:
    """The report of ``protocol`` read with a review store's agreed extraction table
    (:func:`metareview.report.live.load_agreed`), with what the store knows besides.

    Every analysis, figure and sentence is :func:`build_report`'s; the store adds the
    PRISMA 2020 counts (``facts.prisma_counts``, instead of the protocol's ``[prisma]``),
    the methods sentences of screening stopped by a rule, and where the data came from.
    The figures are embedded, so ``report.html`` stands alone; the tables are written
    beside it but not linked (the page may be served without them).

    Parameters
    ----------
    protocol : Protocol
        The project's protocol with the agreed table.
    out : path
        Output folder (gets ``report.html``, ``figures/`` and ``tables/``).
    facts : StoreFacts
    progress : callable, optional
        As :func:`build_report`.
    """
    step = progress or (lambda name: None)
    return _build(protocol, Path(out), step, facts)


def _build(
    protocol: Protocol, out_dir: Path, step: Callable[[str], None], facts: StoreFacts | None = None
) -> ReportOutput:
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetareviewWarning)  # reported in the text instead
        step("integrity")
        flags = analyses.integrity_flags(protocol)
        step("outcomes")
        fitted = {o.name: analyses.analyse_outcome(protocol, o) for o in protocol.outcomes}
        step("harms and descriptives")
        harms = analyses.harms(protocol) if protocol.harms else None
        descriptives = analyses.descriptives(protocol)
        step("figures")
        figures, embedded = _figures(protocol, fitted, out_dir / "figures", facts)
    comparison = comparison_table(protocol, fitted, harms, descriptives)
    tables = _write_tables(out_dir / "tables", protocol, flags, fitted, descriptives, comparison)
    step("report")
    html = _render(protocol, flags, fitted, harms, descriptives, comparison, embedded, facts)
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return ReportOutput(
        path,
        out_dir,
        comparison,
        len(flags),
        tuple(figures),
        tuple(tables),
        tuple(str(f) for f in protocol.findings),
        protocol.reproduction,
    )


def _axis_label(a: OutcomeAnalysis) -> str | None:
    axis = a.outcome.option("axis")
    favours = a.outcome.option("favours")
    if favours:
        arrows = f"<- {favours[0]}    |    {favours[1]} ->"
        return f"{axis}\n{arrows}" if axis else arrows
    return axis


def forest_figure(a: OutcomeAnalysis):
    """The forest plot of an outcome's main fit, as the report draws it (display scale,
    axis label and favours from the protocol, the model in the title)."""
    from metareview.plots import forest

    res = a.main
    transf = "percent" if res.measure == "PR" else display_transf(res.measure, a.outcome)
    method, test = model_label(res)  # MH, PETO and GLMM fits: z tests
    return forest(
        res,
        transf=transf,
        xlabel=_axis_label(a),
        title=f"{a.outcome.label} ({method}, {MEASURE_NAMES[res.measure]}"
        f"{', Hartung-Knapp' if test == 'knha' else ''})",
    )


def funnel_figure(a: OutcomeAnalysis, min_k: int = SMALL_K):
    """The funnel plot of an outcome's main fit, or None below ``min_k`` studies (the
    report's :data:`SMALL_K`)."""
    from metareview.plots import funnel

    return funnel(a.main) if a.main.k >= min_k else None


def _figures(
    protocol: Protocol,
    fitted: dict[str, OutcomeAnalysis],
    directory: Path,
    facts: StoreFacts | None = None,
):
    from metareview.plots import prisma

    files, embedded = [], {}

    def keep(fig, name: str) -> None:
        path, data = _figure_to_files(fig, directory / name)
        files.append(path)
        embedded[name] = data

    for name, a in fitted.items():
        keep(forest_figure(a), f"forest_{name}")
        fig = funnel_figure(a)
        if fig is not None:
            keep(fig, f"funnel_{name}")
    if facts is not None:  # the store's own counts, once every record has its outcome
        if facts.prisma_counts is not None:
            keep(prisma(facts.prisma_counts), "prisma")
        elif facts.prisma_missing:
            embedded["prisma_error"] = facts.prisma_missing
    elif protocol.prisma:
        counts = {
            "records_databases": protocol.prisma["records_identified"],
            "studies_included": protocol.prisma["studies_included"],
        }
        try:
            fig = prisma(counts)
        except InputError as error:  # counts that contradict the flow: say so in the report
            embedded["prisma_error"] = str(error)
        else:
            keep(fig, "prisma")
    return files, embedded


def _write_tables(
    directory: Path, protocol: Protocol, flags, fitted, descriptives, comparison
) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def write(frame: pd.DataFrame, name: str, index: bool = True) -> None:
        path = directory / f"{name}.csv"
        frame.to_csv(path, index=index)
        written.append(path)

    write(flags, "integrity_flags", index=False)
    for name, a in fitted.items():
        write(a.data, f"{name}_data")
        write(a.robustness, f"{name}_robustness")
        write(a.main.study_table(), f"{name}_studies")
        if len(a.sensitivity):
            write(a.sensitivity, f"{name}_sensitivity", index=False)
    if len(descriptives):
        write(descriptives, "descriptives", index=False)
    if protocol.reproduction:
        write(comparison, "published_vs_reproduced", index=False)
    return written


def _render(protocol, flags, fitted, harms, descriptives, comparison, embedded, facts) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("metareview.report", "templates"),
        # the template is report.html.j2: ["html"] alone left it unescaped (a protocol's
        # title or a study label went into the page as markup)
        autoescape=select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda x, d=1: "NA" if pd.isna(x) else f"{100 * x:.{d}f}%"
    env.filters["num"] = lambda x, d=2: "NA" if pd.isna(x) else f"{x:.{d}f}"
    env.filters["pval"] = lambda p: "NA" if pd.isna(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")
    env.filters["fmt"] = fmt
    template = env.get_template("report.html.j2")
    context: dict[str, Any] = {
        "protocol": protocol,
        "flags": flags,
        "fitted": fitted,
        "harms": harms,
        "descriptives": descriptives,
        "comparison": comparison,
        "figures": embedded,
        "version": __version__,
        "fmt": fmt,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "methods_text": methods_text(
            protocol,
            fitted,
            source=None if facts is None else facts.data_source(len(protocol.table)),
            screening=() if facts is None else facts.screening,
        ),
        "store": facts,
        "csv": facts is None,  # the tables sit beside report.html only when it is a file
        "prisma_identified": None
        if facts is None or facts.prisma_counts is None
        else _identified(facts.prisma_counts),
        "results_text": results_text(protocol, fitted, harms),
        "sentences": {name: outcome_sentences(protocol, a) for name, a in fitted.items()},
        "table1": protocol.table,
    }
    return template.render(**context)


def _identified(counts: dict[str, Any]) -> int:
    """Records identified from databases and registers (PRISMA 2020's first boxes)."""
    registers = counts.get("records_registers") or {}
    return sum(counts["records_databases"].values()) + sum(registers.values())
