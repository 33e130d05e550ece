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

from metareview.exceptions import InputError, MetareviewWarning
from metareview.report import analyses
from metareview.report.protocol import Protocol, load_protocol
from metareview.report.text import comparison_table, methods_text, results_text
from metareview.stats.models import __version__

__all__ = ["ReportOutput", "build_report"]

STEPS = ("protocol", "integrity", "event rates", "pre/post scores", "harms and descriptives",
         "figures", "report")


@dataclass(frozen=True, slots=True)
class ReportOutput:
    """Where the report went and the headline numbers (for the terminal summary)."""

    html: Path
    folder: Path
    comparison: pd.DataFrame
    n_flags: int
    figures: tuple[Path, ...]
    tables: tuple[Path, ...]
    findings: tuple[str, ...] = ()  # cells left out as the protocol allows: print them


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


def build_report(folder: str | Path, out: str | Path | None = None,
                 progress: Callable[[str], None] | None = None) -> ReportOutput:
    """Run every analysis of the review folder and write ``report.html`` with figures and tables.

    Parameters
    ----------
    folder : path
        A review folder: ``protocol.toml`` plus the extraction table it names.
    out : path, optional
        Output folder (default ``<folder>/out``); gets ``report.html``, ``figures/`` (PNG and
        SVG) and ``tables/`` (CSV).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    ReportOutput
    """
    step = progress or (lambda name: None)
    step("protocol")
    protocol = load_protocol(folder)
    out_dir = Path(out) if out is not None else protocol.folder / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetareviewWarning)  # reported in the text instead
        step("integrity")
        flags = analyses.integrity_flags(protocol)
        step("event rates")
        rates = {role: analyses.event_rates(protocol, role)
                 for role in ("immediate", "followup") if protocol.column(role)}
        step("pre/post scores")
        prepost = analyses.prepost(protocol) if protocol.column("baseline") else None
        step("harms and descriptives")
        harms = analyses.harms(protocol) if protocol.harms else None
        descriptives = analyses.descriptives(protocol)
        step("figures")
        figures, embedded = _figures(protocol, rates, prepost, out_dir / "figures")
    comparison = comparison_table(protocol, rates, prepost, harms, descriptives)
    tables = _write_tables(out_dir / "tables", flags, rates, prepost, descriptives, comparison)
    step("report")
    html = _render(protocol, flags, rates, prepost, harms, descriptives, comparison, embedded)
    path = out_dir / "report.html"
    path.write_text(html, encoding="utf-8")
    return ReportOutput(path, out_dir, comparison, len(flags), tuple(figures), tuple(tables),
                        tuple(str(f) for f in protocol.findings))


def _figures(protocol: Protocol, rates, prepost, directory: Path):
    from metareview.plots import forest, funnel, prisma

    files, embedded = [], {}
    for role, analysis in rates.items():
        label = "Immediate" if role == "immediate" else "1-3 month"
        fig = forest(analysis.paper, transf="percent",
                     xlabel=f"{label} pain relief (% of patients with >= 30% relief)",
                     title=f"{label} pain-relief event rate (paper's method: DL, raw "
                           "proportions)")
        path, data = _figure_to_files(fig, directory / f"forest_{role}")
        files.append(path)
        embedded[f"forest_{role}"] = data
    if prepost is not None:
        fig = forest(prepost.main, xlabel="Standardised mean change (positive = less pain)",
                     title="Pain score, end of treatment vs baseline (SMCR, REML)")
        path, data = _figure_to_files(fig, directory / "forest_prepost")
        files.append(path)
        embedded["forest_prepost"] = data
        fig = funnel(prepost.main)
        path, data = _figure_to_files(fig, directory / "funnel_prepost")
        files.append(path)
        embedded["funnel_prepost"] = data
    if protocol.prisma:
        counts = {"records_databases": protocol.prisma["records_identified"],
                  "studies_included": protocol.prisma["studies_included"]}
        try:
            fig = prisma(counts)
        except InputError as error:  # counts that contradict the flow: say so in the report
            embedded["prisma_error"] = str(error)
        else:
            path, data = _figure_to_files(fig, directory / "prisma")
            files.append(path)
            embedded["prisma"] = data
    return files, embedded


def _write_tables(directory: Path, flags, rates, prepost, descriptives, comparison):
    directory.mkdir(parents=True, exist_ok=True)
    written = []

    def write(frame: pd.DataFrame, name: str, index: bool = True) -> None:
        path = directory / f"{name}.csv"
        frame.to_csv(path, index=index)
        written.append(path)

    write(flags, "integrity_flags", index=False)
    for role, analysis in rates.items():
        write(analysis.data, f"{role}_data")
        write(analysis.robustness, f"{role}_robustness")
    if prepost is not None:
        write(prepost.data, "prepost_data")
        write(prepost.main.study_table(), "prepost_studies")
        write(prepost.choices, "prepost_choices", index=False)
    write(descriptives, "descriptives", index=False)
    write(comparison, "paper_vs_reproduction", index=False)
    return written


def _render(protocol, flags, rates, prepost, harms, descriptives, comparison, embedded) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("metareview.report", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["pct"] = lambda x, d=1: "NA" if pd.isna(x) else f"{100 * x:.{d}f}%"
    env.filters["num"] = lambda x, d=2: "NA" if pd.isna(x) else f"{x:.{d}f}"
    env.filters["pval"] = lambda p: "NA" if pd.isna(p) else ("< 0.001" if p < 0.001
                                                              else f"{p:.3f}")
    template = env.get_template("report.html.j2")
    context: dict[str, Any] = {
        "protocol": protocol, "flags": flags, "rates": rates, "prepost": prepost,
        "harms": harms, "descriptives": descriptives, "comparison": comparison,
        "figures": embedded, "version": __version__,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "methods_text": methods_text(protocol, rates, prepost),
        "results_text": results_text(protocol, rates, prepost, harms),
        "table1": protocol.table,
    }
    return template.render(**context)
