"""The analyses of a review folder: the paper's methods, better practice beside them, and
every number traced to the cells and assumptions it came from.

Input is a :class:`~metareview.report.protocol.Protocol`; each function returns plain result
objects and DataFrames that the HTML report renders and the tests pin.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from metareview import integrity
from metareview.cells import Cell, parse_cell
from metareview.exceptions import MetareviewWarning
from metareview.report.protocol import Protocol
from metareview.stats import escalc, ranktest, regtest, rma
from metareview.stats.bias import RanktestResult, RegtestResult
from metareview.stats.models import RmaResult

__all__ = [
    "EventRateAnalysis",
    "PrePostAnalysis",
    "descriptives",
    "event_rates",
    "harms",
    "integrity_flags",
    "prepost",
]


def _quiet_rma(*args: Any, **kwargs: Any) -> tuple[RmaResult, list[str]]:
    """Fit and collect metareview's warnings (omitted studies) as text for the report."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MetareviewWarning)
        res = rma(*args, **kwargs)
    return res, [str(w.message) for w in caught if issubclass(w.category, MetareviewWarning)]


def _n(cell: Cell, rule: str) -> float | None:
    if not cell.is_numeric:
        return None
    if cell.kind == "count_paren" and rule == "second":
        return cell.secondary
    return cell.value


# ------------------------------------------------------------------------------ integrity


def integrity_flags(protocol: Protocol) -> pd.DataFrame:
    """Every integrity check the protocol's columns allow, as one table."""
    t, col = protocol.table, protocol.column
    flags: list[integrity.Flag] = []
    percent_roles = [r for r in ("immediate", "followup", "none_effect") if col(r)]
    for role in percent_roles:
        flags += integrity.check_grim(t, col(role), col("n"))
        flags += integrity.check_fraction_as_percent(t, col(role))
    if col("immediate") and col("none_effect"):
        flags += integrity.check_complements(t, col("immediate"), col("none_effect"))
    flags += integrity.check_counts(t, col("n"), [c for c in [col("men")] if c])
    low, high = protocol.assumption("pain_scale", [0, 10])
    for role in ("baseline", "end"):
        if col(role):
            flags += integrity.check_scale(t, col(role), low, high, f"{low}-{high} pain scale")
            flags += integrity.check_sd_looks_like_se(t, col(role), col("n"), high - low)
    return integrity.flags_frame(flags)


# ------------------------------------------------------------------------------ event rates


@dataclass(frozen=True, slots=True)
class EventRateAnalysis:
    """An event-rate outcome: the data as read, the paper's fit and the robustness table."""

    outcome: str
    data: pd.DataFrame
    paper: RmaResult
    paper_notes: tuple[str, ...]
    robustness: pd.DataFrame
    fits: dict[str, RmaResult] = field(repr=False)
    without_low_quality: RmaResult | None = None


def _rate_data(protocol: Protocol, role: str) -> pd.DataFrame:
    t = protocol.table
    fraction_studies = set(protocol.assumption("percent_given_as_fraction", []))
    rule = protocol.assumption("n_two_counts", "first")
    rows = []
    for study in t.index:
        cell = protocol.cell(study, protocol.column(role))
        n_cell = protocol.cell(study, protocol.column("n"))
        if cell.kind != "number":
            rows.append({"study": study, "cell": cell.raw, "n_cell": n_cell.raw,
                         "percent": np.nan, "n": _n(n_cell, rule), "used": False,
                         "note": "not reported" if cell.is_missing else
                         f"non-numeric ({cell.raw!r})"})
            continue
        percent = cell.value
        note = ""
        if study in fraction_studies and 0 < percent < 1:
            percent, note = 100 * percent, f"{cell.raw} read as {100 * cell.value:g}% (protocol)"
        n = _n(n_cell, rule)
        if n_cell.kind == "count_paren":
            note = (note + "; " if note else "") + f"N {n_cell.raw}: n = {n:g} ({rule} count)"
        rows.append({"study": study, "cell": cell.raw, "n_cell": n_cell.raw, "percent": percent,
                     "n": n, "used": True, "note": note})
    frame = pd.DataFrame(rows).set_index("study")
    frame["events"] = frame["percent"] / 100 * frame["n"]
    return frame


#: (label, measure, method, test, continuity correction add, back-transformation)
ROBUSTNESS_VARIANTS = (
    ("Paper: DL, raw proportions (Stata metan)", "PR", "DL", "z", 0.0, None),
    ("DL, raw proportions, 0.5 added to 0% studies", "PR", "DL", "z", None, None),
    ("DL, logit", "PLO", "DL", "z", None, "expit"),
    ("REML, logit", "PLO", "REML", "z", None, "expit"),
    ("REML, logit, Hartung-Knapp", "PLO", "REML", "knha", None, "expit"),
    ("REML, Freeman-Tukey", "PFT", "REML", "z", None, "ipft.hm"),
    ("REML, Freeman-Tukey, Hartung-Knapp", "PFT", "REML", "knha", None, "ipft.hm"),
)


def event_rates(protocol: Protocol, role: str) -> EventRateAnalysis:
    """Pool an event-rate column as the paper did and by better-practice methods.

    Counts are the printed percentage times n (not rounded: 93.5% of 20 is 18.7, which the
    integrity flags report). The paper's method (DerSimonian-Laird on raw proportions)
    drops a 0% study silently because its variance is 0; methods on the logit or
    Freeman-Tukey scale keep it.
    """
    data = _rate_data(protocol, role)
    used = data[data["used"]]
    fits: dict[str, RmaResult] = {}
    rows = []
    paper_notes: tuple[str, ...] = ()
    for label, measure, method, test, add, transf in ROBUSTNESS_VARIANTS:
        es = escalc(measure, pi=used["percent"] / 100, ni=used["n"], slab=list(used.index),
                    add=add)
        res, notes = _quiet_rma(es, method=method, test=test)
        fits[label] = res
        if label.startswith("Paper"):
            paper_notes = tuple(notes)
        pred = res.predict(transf=transf) if transf else res.predict()
        rows.append({"method": label, "k": res.k, "left out": ", ".join(res.omitted) or "-",
                     "estimate": pred["pred"], "ci_lb": pred["ci_lb"], "ci_ub": pred["ci_ub"],
                     "pi_lb": pred["pi_lb"], "pi_ub": pred["pi_ub"], "tau2": res.tau2,
                     "I2": res.I2})
    robustness = pd.DataFrame(rows).set_index("method")
    paper = fits[ROBUSTNESS_VARIANTS[0][0]]
    without = None
    low_quality = [s for s in protocol.assumption("low_quality", []) if s in paper.slab]
    if low_quality:
        keep = [s not in low_quality for s in paper.slab]
        without, _ = _quiet_rma(paper.yi[keep], paper.vi[keep],
                                slab=[s for s, k in zip(paper.slab, keep, strict=True) if k],
                                method="DL")
    return EventRateAnalysis(role, data, paper, paper_notes, robustness, fits, without)


# ---------------------------------------------------------------------------- pre/post SMD


@dataclass(frozen=True, slots=True)
class PrePostAnalysis:
    """Pre/post pain scores: the data as read, the main fit and how it moves with choices."""

    data: pd.DataFrame
    main: RmaResult
    egger: RegtestResult
    begg: RanktestResult
    choices: pd.DataFrame
    converted: tuple[str, ...]


def _prepost_data(protocol: Protocol) -> pd.DataFrame:
    t, col = protocol.table, protocol.column
    rule = protocol.assumption("n_two_counts", "first")
    rescale = set(protocol.assumption("rescale_0_100_to_0_10", []))
    rows = []
    for study in t.index:
        base, end = protocol.cell(study, col("baseline")), protocol.cell(study, col("end"))
        n = _n(protocol.cell(study, col("n")), rule)
        ok = base.kind == end.kind == "mean_sd" and n is not None
        factor = 0.1 if study in rescale else 1.0
        rows.append({"study": study, "baseline_cell": base.raw, "end_cell": end.raw, "n": n,
                     "used": ok,
                     "m_base": base.value * factor if ok else np.nan,
                     "sd_base": base.sd * factor if ok else np.nan,
                     "m_end": end.value * factor if ok else np.nan,
                     "sd_end": end.sd * factor if ok else np.nan,
                     "note": ("rescaled 0-100 to 0-10 (protocol)" if ok and factor != 1 else
                              "" if ok else "not reported")})
    return pd.DataFrame(rows).set_index("study")


def _smd_fit(data: pd.DataFrame, measure: str, r: float, method: str, se_to_sd: set[str]):
    used = data[data["used"]].copy()
    convert = used.index.isin(list(se_to_sd))
    root_n = np.sqrt(used["n"])
    used.loc[convert, "sd_base"] *= root_n[convert]
    used.loc[convert, "sd_end"] *= root_n[convert]
    es = escalc(measure, m1i=used["m_base"], m2i=used["m_end"], sd1i=used["sd_base"],
                sd2i=used["sd_end"] if measure != "SMCR" else None, ni=used["n"],
                ri=np.full(len(used), r), slab=list(used.index))
    return _quiet_rma(es, method=method)[0]


def prepost(protocol: Protocol) -> PrePostAnalysis:
    """Standardised mean change (post vs baseline; positive = less pain), pooled by REML, with
    Egger's and Begg's tests, and a table of how the result moves with the analyst's choices:
    SMCR vs SMCC, the pre/post correlation, DL vs REML, and SE-to-SD conversion of the
    suspicious SDs."""
    data = _prepost_data(protocol)
    measure = protocol.assumption("prepost_measure", "SMCR")
    r = float(protocol.assumption("prepost_correlation", 0.5))
    suspects = set(protocol.assumption("sd_may_be_se", []))
    main = _smd_fit(data, measure, r, "REML", set())
    rows = []
    correlations = protocol.assumption("correlation_sensitivity", [0.2, 0.5, 0.8])
    for m, corr, method, convert in itertools.product(("SMCR", "SMCC"), correlations,
                                                       ("DL", "REML"), (False, True)):
        fit = _smd_fit(data, m, float(corr), method, suspects if convert else set())
        rows.append({"measure": m, "r": corr, "method": method, "SE->SD": convert,
                     "k": fit.k, "SMD": fit.estimate, "ci_lb": fit.ci_lb[0],
                     "ci_ub": fit.ci_ub[0], "I2": fit.I2, "tau2": fit.tau2,
                     "egger_p": regtest(fit, model="lm").pval})
    return PrePostAnalysis(data, main, regtest(main, model="lm"), ranktest(main),
                           pd.DataFrame(rows), tuple(sorted(suspects & set(main.slab))))


# ----------------------------------------------------------------------------------- harms


def harms(protocol: Protocol) -> dict[str, Any]:
    """Event rate of a harm with exact (Clopper-Pearson) and Wilson 95% CIs."""
    x, n = int(protocol.harms["events"]), int(protocol.harms["total"])
    test = stats.binomtest(x, n)
    exact = test.proportion_ci(confidence_level=0.95, method="exact")
    wilson = test.proportion_ci(confidence_level=0.95, method="wilson")
    return {"label": protocol.harms.get("label", "harm"), "events": x, "total": n,
            "rate": x / n, "exact": (exact.low, exact.high), "wilson": (wilson.low, wilson.high)}


# ---------------------------------------------------------------------------- descriptives


def descriptives(protocol: Protocol) -> pd.DataFrame:
    """Recompute the paper's descriptive numbers from the table, with the rule that
    reproduces each (or the closest candidate)."""
    t, col, pub = protocol.table, protocol.column, protocol.published
    rows = []
    n_cells = [parse_cell(c) for c in t[col("n")]]
    first = sum(c.value for c in n_cells if c.is_numeric)
    second = sum((c.secondary or c.value) for c in n_cells if c.is_numeric)
    if "total_n" in pub:
        rows.append(_candidate("Total participants", pub["total_n"], {
            "N summed, '19(26)' read as 26": second, "N summed, '19(26)' read as 19": first},
            decimals=0))
    if col("duration_days") and "mean_duration_days" in pub:
        days = [c.value for c in map(parse_cell, t[col("duration_days")]) if c.is_numeric]
        rows.append(_candidate("Mean treatment duration (days)", pub["mean_duration_days"], {
            f"unweighted mean of {len(days)} studies": float(np.mean(days))}, decimals=2))
    if col("age") and "age_mean" in pub:
        rows += _age_rows(t, col, n_cells, pub)
    if col("history") and "crps_duration_months_mean" in pub:
        rows += _history_rows(t, col, n_cells, pub)
    return pd.DataFrame(rows)


def _candidate(quantity: str, published: float, candidates: dict[str, float],
               decimals: int) -> dict[str, Any]:
    best = min(candidates, key=lambda k: abs(candidates[k] - published))
    value = candidates[best]
    verdict = "reproduced" if round(value, decimals) == round(published, decimals) else (
        "not reproduced")
    return {"quantity": quantity, "published": published, "reproduced": value, "rule": best,
            "difference": value - published, "verdict": verdict}


def _mean_sd_candidate(quantity: str, pub_mean: float, pub_sd: float | None,
                       candidates: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Pick the rule whose mean and SD of study-level values come closest to the paper's."""
    def distance(values: np.ndarray) -> float:
        sd_gap = abs(np.std(values, ddof=1) - pub_sd) if pub_sd is not None else 0.0
        return abs(np.mean(values) - pub_mean) + sd_gap

    best = min(candidates, key=lambda k: distance(candidates[k]))
    values = candidates[best]
    rows = [_candidate(f"Mean {quantity}", pub_mean, {best: float(np.mean(values))}, 2)]
    if pub_sd is not None:
        rows.append(_candidate(f"SD of {quantity}", pub_sd,
                               {best: float(np.std(values, ddof=1))}, 2))
    return rows


def _age_rows(t, col, n_cells, pub) -> list[dict[str, Any]]:
    cells = [parse_cell(c) for c in t[col("age")]]
    studies = [s for s, c in zip(t.index, cells, strict=True) if c.is_numeric]
    means = np.array([c.value for c in cells if c.is_numeric])
    candidates = {f"unweighted, all {means.size} study means": means}
    for i, study in enumerate(studies):  # the paper may have left one study out
        candidates[f"unweighted, {means.size - 1} study means without {study}"] = np.delete(
            means, i)
    return _mean_sd_candidate("age (years)", pub["age_mean"], pub.get("age_sd"), candidates)


def _history_rows(t, col, n_cells, pub) -> list[dict[str, Any]]:
    raw = [parse_cell(c) for c in t[col("history")]]
    candidates: dict[str, np.ndarray] = {}
    for bound_rule, year_digits in itertools.product(("excluded", "as its value"), (None, 1)):
        values = []
        for cell in raw:
            if not cell.is_numeric or (cell.kind == "bound" and bound_rule == "excluded"):
                continue
            if year_digits is not None and cell.unit and cell.unit.lower().startswith("year"):
                cell = parse_cell(f"{round(cell.value, year_digits)} years")
            values.append(cell.in_months().value)
        label = (f"{len(values)} durations in months; '>1 year' {bound_rule}"
                 + ("; years rounded to 1 decimal (5.62 -> 5.6)" if year_digits else ""))
        candidates[label] = np.array(values)
    return _mean_sd_candidate("CRPS duration (months)", pub["crps_duration_months_mean"],
                              pub.get("crps_duration_months_sd"), candidates)
