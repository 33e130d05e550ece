"""Presentation of results: text and HTML (the analogue of metafor's ``print.rma.uni``), the
coefficient table of ``.table()`` and the JSON-safe numbers of ``.to_dict()``."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from metareview.stats.models import RmaResult

_MODEL_NAMES = {"EE": "Equal-Effects Model"}


def json_num(x: Any) -> float | None:
    """A number for ``.to_dict()``: a float, or None for a missing or NaN value."""
    if x is None:
        return None
    x = float(x)
    return None if np.isnan(x) else x


def json_floats(values: Any) -> list[float]:
    """An array for ``.to_dict()``: a list of floats (NaN kept, as ``json.dumps`` writes it)."""
    return [float(x) for x in values]


def coefficient_table(names: Any, **columns: Any) -> pd.DataFrame:
    """A result's ``.table()``: one row per coefficient (index ``coefficient``, ``names``),
    the ``columns`` in the order given (estimate, se, zval or tval, ..., ci_lb, ci_ub)."""
    import pandas as pd

    return pd.DataFrame(columns, index=pd.Index(names, name="coefficient"))


def fmt_p(p: float | None) -> str:
    """p-values as metafor prints them: '<.0001' below 1e-4, else 4 decimals."""
    if p is None or np.isnan(p):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else ""


def format_rma(res: RmaResult) -> str:
    """Multi-line summary of an :class:`RmaResult`."""
    lines: list[str] = []
    kind = _MODEL_NAMES.get(
        res.method, "Mixed-Effects Model" if res.has_mods else "Random-Effects Model"
    )
    estimator = "" if res.method == "EE" else f"; tau^2 estimator: {res.method}"
    lines.append(f"{kind} (k = {res.k}{estimator})")
    if res.omitted:
        lines.append(f"Left out: {', '.join(res.omitted)}")
    lines.append("")
    if res.method != "EE":
        lines += [
            f"tau^2 (estimated amount of {'residual' if res.has_mods else 'total'} "
            f"heterogeneity): {res.tau2:.4f}"
            + (f" (SE = {res.se_tau2:.4f})" if np.isfinite(res.se_tau2) else ""),
            f"tau (square root of estimated tau^2 value):  {res.tau:.4f}",
        ]
        if not np.isnan(res.tau2_ci_lb):
            pct = f"{100 * res.level:g}%"
            lines.append(
                f"tau^2 {pct} CI (Q-profile): [{res.tau2_ci_lb:.4f}, {res.tau2_ci_ub:.4f}]"
            )
    lines += [
        f"I^2 ({'residual' if res.has_mods else 'total'} heterogeneity / "
        f"{'unaccounted' if res.has_mods else 'total'} variability): {res.I2:.2f}%",
        f"H^2 ({'unaccounted' if res.has_mods else 'total'} variability / sampling variability): "
        f"{res.H2:.2f}",
    ]
    if res.has_mods and res.R2 is not None:
        lines.append(f"R^2 (amount of heterogeneity accounted for): {res.R2:.2f}%")
    lines += [
        "",
        f"Test for {'Residual ' if res.has_mods else ''}Heterogeneity:",
        f"Q{'E' if res.has_mods else ''}(df = {res.k - res.p}) = {res.QE:.4f}, "
        f"p-val {_p_eq(res.QEp)}",
    ]
    if res.has_mods:
        df = f"df1 = {res.p - 1}, df2 = {res.ddf:g}" if res.test == "knha" else f"df = {res.p - 1}"
        stat = "F" if res.test == "knha" else "QM"
        lines += [
            "",
            f"Test of Moderators (coefficients 2:{res.p}):",
            f"{stat}({df}) = {res.QM:.4f}, p-val {_p_eq(res.QMp)}",
        ]
    lines += ["", "Model Results:", ""]
    lines += _coef_lines(res)
    if not res.has_mods and res.method != "EE":
        pct = f"{100 * res.level:g}%"
        lines += ["", f"{pct} prediction interval: [{res.pi_lb:.4f}, {res.pi_ub:.4f}]"]
    lines += subgroup_lines(res)
    lines += ["", "---", "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"]
    return "\n".join(lines)


def subgroup_lines(res: Any) -> list[str]:
    """One line per subgroup fit and the test for subgroup differences (rma, rma_mh,
    rma_peto and rma_glmm fits made with ``subgroup=``); empty without subgroups."""
    if getattr(res, "subgroups", None) is None:
        return []
    lines = ["", "Subgroups (each with its own tau^2):"]
    for label, sub in res.subgroups.items():
        ci_lb, ci_ub = float(np.ravel(sub.ci_lb)[0]), float(np.ravel(sub.ci_ub)[0])
        lines.append(
            f"  {label}: k = {sub.k}, estimate = {sub.estimate:.4f} "
            f"[{ci_lb:.4f}, {ci_ub:.4f}], tau^2 = {sub.tau2:.4f}, I^2 = {sub.I2:.1f}%"
        )
    lines.append(
        f"Test for subgroup differences: Chi^2 = {res.Q_between:.2f}, "
        f"df = {res.df_between}, p = {fmt_p(res.p_between)}"
    )
    return lines


def _p_eq(p: float) -> str:
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def _coef_lines(res: RmaResult) -> list[str]:
    stat = "tval" if res.test == "knha" else "zval"
    header = ["", "estimate", "se", stat, "pval", "ci.lb", "ci.ub", ""]
    rows = []
    names = res.coef_names if res.has_mods else ("",)
    for j, name in enumerate(names):
        rows.append(
            [
                name,
                f"{res.beta[j]:.4f}",
                f"{res.se[j]:.4f}",
                f"{res.zval[j]:.4f}",
                fmt_p(res.pval[j]),
                f"{res.ci_lb[j]:.4f}",
                f"{res.ci_ub[j]:.4f}",
                _stars(res.pval[j]),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1], strict=True)]
        return "  ".join([first, *rest, cells[-1]]).rstrip()

    return [line(header), *[line(r) for r in rows]]


def html_rma(res: RmaResult) -> str:
    """A small HTML rendering for notebooks: the summary text and the coefficient table."""
    table = res.table().to_html(float_format=lambda x: f"{x:.4f}", border=0)
    return f"<pre>{html.escape(format_rma(res))}</pre>{table}"
