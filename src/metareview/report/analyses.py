"""The analyses of a review folder: each outcome the protocol declares, fitted by its own
model, by the published method when the protocol reproduces a review, and across the methods
its data type allows; integrity checks; harms and descriptive numbers.

Input is a :class:`~metareview.report.protocol.Protocol`; each function returns plain result
objects and DataFrames that the HTML report renders and the tests pin. Nothing here knows
what a review is about: labels and numbers come from the protocol.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from metareview import integrity
from metareview.cells import Cell, parse_cell
from metareview.exceptions import ConvergenceError, InputError, MetareviewWarning
from metareview.report.protocol import (
    COUNT_MODELS,
    Descriptive,
    Outcome,
    Protocol,
    implied_measure,
)
from metareview.stats import escalc, ranktest, regtest, rma, rma_glmm, rma_mh, rma_peto
from metareview.stats.bias import RanktestResult, RegtestResult
from metareview.stats.glmm import GlmmResult
from metareview.stats.mh import MhResult
from metareview.stats.models import RmaResult

__all__ = [
    "MEASURE_NAMES",
    "OutcomeAnalysis",
    "Variant",
    "analyse_outcome",
    "descriptives",
    "display_transf",
    "harms",
    "integrity_flags",
    "published_digits",
]

#: how each measure is named in tables and sentences
MEASURE_NAMES = {
    "PR": "raw proportions",
    "PLN": "log proportions",
    "PLO": "logit",
    "PAS": "arcsine",
    "PFT": "Freeman-Tukey",
    "OR": "odds ratio",
    "RR": "risk ratio",
    "RD": "risk difference",
    "PETO": "Peto odds ratio",
    "MD": "mean difference",
    "SMD": "standardised mean difference (Hedges' g)",
    "ROM": "ratio of means",
    "SMCR": "SMCR",
    "SMCC": "SMCC",
    "MC": "mean change",
    "GEN": "estimates as given",
    "COR": "correlation",
    "ZCOR": "Fisher's z",
}
METHOD_NAMES = {
    "EE": "equal effects",
    "FE": "equal effects",
    "DL": "DerSimonian-Laird",
    "REML": "REML",
    "ML": "ML",
    "PM": "Paule-Mandel",
    "HE": "Hedges",
    "HS": "Hunter-Schmidt",
    "SJ": "Sidik-Jonkman",
    "EB": "empirical Bayes",
    "MH": "Mantel-Haenszel",
    "PETO": "Peto",
    "GLMM": "binomial-normal GLMM (ML)",
}
#: pooling methods that work from the counts rather than from per-study estimates (metafor's
#: rma.mh, rma.peto and rma.glmm): small-study tests as metafor runs them on such fits (see
#: _small_study_tests), and labelled by their own names
COUNT_METHODS = frozenset(COUNT_MODELS)
#: what a robustness row may hold: an inverse-variance fit or a fit from the counts
Fit = RmaResult | MhResult | GlmmResult
_TRANSF = {
    "ZCOR": "ztor",
    "PLO": "expit",
    "PFT": "ipft.hm",
    "PAS": "iarcsin",
    "PLN": "exp",
    "OR": "exp",
    "RR": "exp",
    "PETO": "exp",
    "ROM": "exp",
}


def display_transf(measure: str, outcome: Outcome | None = None) -> str | None:
    """metafor's back-transformation of ``measure`` to the scale a reader reads (``exp`` for
    generic estimates the protocol marks ``ratio = true``: they were pooled on the log
    scale)."""
    if measure == "GEN" and outcome is not None and outcome.option("ratio"):
        return "exp"
    return _TRANSF.get(measure)


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
    """Every integrity check the protocol's outcomes and columns allow, as one table."""
    t = protocol.table
    flags: list[integrity.Flag] = []
    for o in protocol.outcomes:
        cols = o.columns
        if "percent" in cols:
            for column in [cols["percent"], o.option("complement")]:
                if column:
                    flags += integrity.check_grim(t, column, cols["ni"])
                    flags += integrity.check_fraction_as_percent(t, column)
            if o.option("complement"):
                flags += integrity.check_complements(t, cols["percent"], o.option("complement"))
        if o.option("scale"):
            low, high = o.option("scale")
            for key in ("baseline", "end", "m1i", "m2i"):
                if key in cols:
                    flags += integrity.check_scale(
                        t, cols[key], low, high, f"{low:g}-{high:g} scale"
                    )
                    if key in ("baseline", "end"):
                        flags += integrity.check_sd_looks_like_se(
                            t, cols[key], cols["ni"], high - low
                        )
    if protocol.column("n"):
        flags += integrity.check_counts(
            t, protocol.column("n"), protocol.columns.get("counts_within_n", [])
        )
    unique = list({(f.study, f.column, f.check): f for f in flags}.values())
    return integrity.flags_frame(unique)


# ------------------------------------------------------------------------------ outcomes


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of pooling an outcome: a row of its robustness table."""

    measure: str
    method: str
    test: str
    add: float | None = None
    r: float | None = None  # pre/post correlation
    se_to_sd: bool = False  # treat the SDs the protocol suspects as standard errors

    def label(self, data: pd.DataFrame | None = None, to: str = "only0") -> str:
        """The row's name in the robustness table; ``data`` and ``to`` (the protocol's
        continuity-correction option) let it say when a continuity correction was made."""
        if self.method in COUNT_METHODS:
            return self._count_label(data)
        parts = [self.method, MEASURE_NAMES[self.measure]]
        if self.r is not None:
            parts.append(f"r = {self.r:g}")
        if self.test == "knha":
            parts.append("Hartung-Knapp")
        if self.measure in ("PR", "PLO", "PLN") and data is not None and "pi" in data:
            extreme = data["used"] & ((data["pi"] <= 0) | (data["pi"] >= 1))
            if extreme.any():
                parts.append(
                    "no continuity correction"
                    if self.add == 0
                    else "0.5 added to 0% or 100% studies"
                )
        if self.measure in ("OR", "RR", "RD") and data is not None and "ai" in data:
            used = data[data["used"]]
            cells = [used["ai"], used["ci"]]
            cells += [
                used[k] if k in used else used[n] - used[x]
                for k, n, x in (("bi", "n1i", "ai"), ("di", "n2i", "ci"))
            ]
            added = 0.5 if self.add is None else self.add
            if to == "all" and added:
                parts.append(f"{added:g} added to every cell of every table")
            elif any((c == 0).any() for c in cells):
                where = {"only0": "tables with a zero cell", "if0all": "every table"}
                parts.append(
                    f"{added:g} added to every cell of {where[to]}"
                    if added and to in where
                    else "no continuity correction"
                )
        if self.se_to_sd:
            parts.append("suspect SDs read as SEs")
        return ", ".join(parts)

    def _count_label(self, data: pd.DataFrame | None) -> str:
        if self.method == "PETO":
            return "Peto odds ratio"
        if self.method == "MH":
            return f"Mantel-Haenszel, {MEASURE_NAMES[self.measure]}"
        label = f"GLMM (binomial-normal, ML), {MEASURE_NAMES[self.measure]}"
        if data is not None and "pi" in data:
            label += ", events rounded from % x n"
        return label


@dataclass(frozen=True, slots=True)
class OutcomeAnalysis:
    """An outcome: the data as read, the protocol's fit, the published method's fit (in
    reproduction mode), the robustness table, small-study tests and sensitivity analyses.

    ``robustness`` has one row per :class:`Variant` (index: its label) with ``measure,
    method, test, r, se_to_sd, k, left out, estimate, ci_lb, ci_ub, pi_lb, pi_ub, tau2, I2,
    egger_p, main, published`` -- estimates on the display scale (proportions, ratios).
    ``sensitivity`` has one row per exclusion the protocol lists: ``reason, excluded, k,
    estimate, ci_lb, ci_ub`` (the protocol's model) and ``published_estimate`` (the published
    method), on the display scale.
    """

    outcome: Outcome
    data: pd.DataFrame
    main: Fit
    main_notes: tuple[str, ...]
    published: Fit | None
    published_notes: tuple[str, ...]
    robustness: pd.DataFrame
    egger: RegtestResult | None
    begg: RanktestResult | None
    sensitivity: pd.DataFrame
    converted: tuple[str, ...] = ()  # studies whose SDs the SE->SD rows convert
    subgroups: Fit | None = None  # the protocol's model with subgroup=, if asked
    regression: RmaResult | None = None  # the protocol's model with mods=, if asked
    not_run: tuple[str, ...] = ()  # analyses the protocol's model does not allow, and why

    def predict(self, res: Fit) -> dict[str, float]:
        """``pred, ci_lb, ci_ub, pi_lb, pi_ub`` of ``res`` on the display scale."""
        return _predict(res, self.outcome)


def _predict(res: Fit, outcome: Outcome) -> dict[str, float]:
    transf = display_transf(res.measure or outcome.measure, outcome)
    return res.predict(transf=transf) if transf else res.predict()


def _outcome_data(protocol: Protocol, o: Outcome) -> pd.DataFrame:
    """One row per study: the cells as printed, the numbers read from them, whether the
    study enters the outcome and why not."""
    rule = o.option("n_two_counts", "first")
    fractions = set(o.option("percent_given_as_fraction", []))
    rescale = o.option("rescale", {})
    rows = []
    for study in protocol.table.index:
        cells = {key: protocol.cell(study, column) for key, column in o.columns.items()}
        row: dict[str, Any] = {"study": study, "cells": " | ".join(c.raw for c in cells.values())}
        notes = []
        unreadable = [
            key for key, c in cells.items() if c.is_missing and not parse_cell(c.raw).is_missing
        ]
        missing = [key for key, c in cells.items() if not c.is_numeric]
        for key, cell in cells.items():
            if key in ("baseline", "end"):
                base = "1" if key == "baseline" else "2"
                row[f"m{base}i"], row[f"sd{base}i"] = cell.value, cell.sd
            elif key == "percent":
                percent = cell.value
                if study in fractions and percent is not None and 0 < percent < 1:
                    notes.append(f"{cell.raw} read as {100 * percent:g}% (protocol)")
                    percent *= 100
                row["pi"] = None if percent is None else percent / 100
            elif key in ("ni", "n1i", "n2i"):
                row[key] = _n(cell, rule)
                if cell.kind == "count_paren":
                    notes.append(f"N {cell.raw}: n = {row[key]:g} ({rule} count)")
            else:
                row[key] = cell.value
        if "ci_lb" in cells and not missing:
            level = float(o.option("ci_level", 95))
            crit = stats.norm.isf((1 - level / 100) / 2)
            lb, ub, yi = row.pop("ci_lb"), row.pop("ci_ub"), row["yi"]
            if o.option("ratio"):
                lb, ub, yi = np.log(lb), np.log(ub), np.log(yi)
            row["yi"], row["sei"] = yi, (ub - lb) / (2 * crit)
            notes.append(
                f"SE from the {level:g}% CI" + ("; log scale" if o.option("ratio") else "")
            )
        elif o.option("ratio") and not missing:
            row["yi"] = np.log(row["yi"])
        if rescale and study in rescale.get("studies", []) and not missing:
            factor = float(rescale["factor"])
            for key in ("m1i", "sd1i", "m2i", "sd2i"):
                row[key] *= factor
            notes.append(f"rescaled x{factor:g} ({rescale.get('reason', 'protocol')})")
        row["used"] = not missing
        if unreadable:
            notes.append(f"cell {cells[unreadable[0]].raw!r} not readable (see the findings)")
        elif missing:
            notes.append("not reported")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows).set_index("study")


_ESCALC_ARGS = {
    "proportion": ("pi", "xi", "ni"),
    "2x2": ("ai", "bi", "ci", "di", "n1i", "n2i"),
    "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "prepost": ("m1i", "sd1i", "m2i", "sd2i", "ni"),
    "generic": ("yi", "vi", "sei"),
    "correlation": ("ri", "ni"),
}


def _fit(
    o: Outcome,
    data: pd.DataFrame,
    v: Variant,
    suspects: set[str] = frozenset(),
    exclude: set[str] = frozenset(),
    **model: Any,
) -> tuple[RmaResult, list[str]]:
    used = data[data["used"] & ~data.index.isin(list(exclude))].copy()
    model = {
        key: (
            value.loc[used.index].reset_index(drop=True)
            if isinstance(value, pd.DataFrame)
            else value.loc[used.index].to_numpy()
        )
        for key, value in model.items()
    }
    args = {k: used[k].to_numpy(dtype=float) for k in _ESCALC_ARGS[o.data] if k in used}
    if o.data == "prepost":
        if v.se_to_sd:
            root_n = np.sqrt(args["ni"])
            convert = used.index.isin(list(suspects))
            for key in ("sd1i", "sd2i"):
                args[key] = np.where(convert, args[key] * root_n, args[key])
        args["ri"] = np.full(len(used), v.r)
        if v.measure == "SMCR":
            args.pop("sd2i")
    es = escalc(v.measure, slab=list(used.index), add=v.add, to=o.option("to", "only0"), **args)
    return _quiet_rma(es, method=v.method, test=v.test, **model)


def event_counts(data: pd.DataFrame) -> np.ndarray:
    """Events per study for the count-based fits of a proportion outcome: the event column
    when the protocol gives one, else round(percentage x n) (the percentages as printed)."""
    if "xi" in data:
        return data["xi"].to_numpy(dtype=float)
    return np.round(data["pi"].to_numpy(dtype=float) * data["ni"].to_numpy(dtype=float))


def _fit_counts(
    o: Outcome,
    data: pd.DataFrame,
    v: Variant,
    exclude: set[str] = frozenset(),
    subgroup: pd.Series | None = None,
) -> tuple[Fit, list[str]]:
    """Mantel-Haenszel or Peto (2x2 tables) or a binomial-normal GLMM (proportions, or odds
    ratios from 2x2 tables), from the counts, with metafor's defaults (``subgroup``: a label
    per study of the table, for one fit per subgroup); warnings collected as
    :func:`_quiet_rma` does."""
    used = data[data["used"] & ~data.index.isin(list(exclude))]
    slab = list(used.index)
    by = {} if subgroup is None else {"subgroup": subgroup.loc[used.index].to_numpy()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MetareviewWarning)
        res: Fit
        if o.data == "proportion":
            res = rma_glmm(
                measure=v.measure,
                xi=event_counts(used),
                ni=used["ni"].to_numpy(dtype=float),
                slab=slab,
                **by,
            )
        else:
            cells = {k: used[k].to_numpy(dtype=float) for k in _ESCALC_ARGS["2x2"] if k in used}
            if v.method == "GLMM":
                res = rma_glmm(measure=v.measure, **cells, slab=slab, **by)
            elif v.method == "PETO":
                res = rma_peto(**cells, slab=slab, **by)
            else:
                res = rma_mh(**cells, measure=v.measure, slab=slab, **by)
    return res, [str(w.message) for w in caught if issubclass(w.category, MetareviewWarning)]


def _fit_variant(
    o: Outcome,
    data: pd.DataFrame,
    v: Variant,
    suspects: set[str] = frozenset(),
    exclude: set[str] = frozenset(),
) -> tuple[Fit, list[str]]:
    """One way of pooling the outcome: from the counts (MH, Peto, GLMM) or by ``rma``."""
    if v.method in COUNT_METHODS:
        return _fit_counts(o, data, v, exclude)
    return _fit(o, data, v, suspects, exclude)


def model_label(res: Fit) -> tuple[str, str]:
    """``(method, test)`` of a fit as the protocol names them (MH, PETO, GLMM: z tests)."""
    if isinstance(res, GlmmResult):
        return "GLMM", "z"
    if isinstance(res, MhResult):
        return res.method, "z"
    return res.method, res.test


def _variants(o: Outcome, main: Variant, published: Variant | None) -> list[Variant]:
    """The robustness grid of the outcome's data type, with the protocol's and the published
    model in it."""
    models = [("DL", "z"), ("REML", "z"), ("REML", "knha")]
    if o.data == "proportion":
        grid = [
            Variant("PR", "DL", "z", 0.0),
            Variant("PR", "DL", "z"),
            Variant("PLO", "DL", "z"),
            Variant("PLO", "REML", "z"),
            Variant("PLO", "REML", "knha"),
            Variant("PFT", "REML", "z"),
            Variant("PFT", "REML", "knha"),
            Variant("PLO", "GLMM", "z"),
        ]
    elif o.data == "prepost":
        measures = dict.fromkeys([main.measure, "SMCR", "SMCC"])
        correlations = o.option("correlation_sensitivity", [main.r])
        conversions = (False, True) if o.option("sd_may_be_se") else (False,)
        grid = [
            Variant(m, method, main.test, None, float(r), convert)
            for m, r, method, convert in itertools.product(
                measures, correlations, ("DL", "REML"), conversions
            )
        ]
    elif o.data == "correlation":
        grid = [
            Variant(m, method, test)
            for m in dict.fromkeys([main.measure, "ZCOR", "COR"])
            for method, test in models
        ]
    elif o.data == "generic":
        grid = [
            Variant("GEN", method, test)
            for method, test in [
                ("EE", "z"),
                ("DL", "z"),
                ("PM", "z"),
                ("REML", "z"),
                ("REML", "knha"),
            ]
        ]
    else:
        others = {"2x2": ("OR", "RR", "RD"), "means": ("MD", "SMD")}[o.data]
        grid = [
            Variant(m, method, test)
            for m in dict.fromkeys([main.measure, *others])
            for method, test in models
        ]
        if o.data == "2x2":
            grid += [Variant(m, "MH", "z") for m in ("OR", "RR", "RD")]
            grid.append(Variant("PETO", "PETO", "z"))
    for extra in (published, main):
        if extra is not None and extra not in grid:
            grid.insert(0, extra)
    return grid


def _row(
    o: Outcome, v: Variant, label: str, res: Fit, main: Variant, published: Variant | None
) -> dict[str, Any]:
    pred = _predict(res, o)
    egger = regtest(res, model="lm").pval if isinstance(res, RmaResult) and res.k >= 3 else np.nan
    return {
        "method": label,
        "measure": v.measure,
        "model": v.method,
        "test": v.test,
        "r": v.r,
        "se_to_sd": v.se_to_sd,
        "k": res.k,
        "left out": ", ".join(res.omitted) or "-",
        "estimate": pred["pred"],
        "ci_lb": pred["ci_lb"],
        "ci_ub": pred["ci_ub"],
        "pi_lb": pred["pi_lb"],
        "pi_ub": pred["pi_ub"],
        # the Mantel-Haenszel and Peto fits are equal-effects models: no tau² to show
        "tau2": np.nan if v.method in ("MH", "PETO") else res.tau2,
        "I2": res.I2,
        "egger_p": egger,
        "main": v == main,
        "published": v == published,
    }


def analyse_outcome(protocol: Protocol, o: Outcome) -> OutcomeAnalysis:
    """Fit one outcome by the protocol's model, by the published method (reproduction mode)
    and by every variant of its data type's robustness grid; run Egger's and Begg's tests on
    the protocol's fit and the sensitivity analyses the protocol lists.

    Proportions given as percentages are pooled from the printed percentage and n (events are
    not rounded: 93.5% of 20 is 18.7, which the integrity flags report). Studies with zero
    variance on a scale (0% on raw proportions without correction) leave that fit, and the
    robustness table says so.
    """
    data = _outcome_data(protocol, o)
    r = float(o.option("correlation", 0.5)) if o.data == "prepost" else None
    main = Variant(o.measure, o.method, o.test, o.option("add"), r)
    pub_variant = None
    if protocol.reproduction and o.published is not None:
        p = o.published
        method = p.get("method", o.method)
        pub_variant = Variant(
            p.get("measure", implied_measure(method, o.data, o.measure)),
            method,
            "z" if method in COUNT_METHODS else p.get("test", o.test),
            p.get("add", o.option("add")),
            r,
        )
    suspects = set(o.option("sd_may_be_se", []))
    counted = _has_counts(o, data)
    for v, section in ((main, "outcomes"), (pub_variant, "published.outcomes")):
        if v is not None and v.method in COUNT_METHODS and not counted:
            raise InputError(
                f"{protocol.path}: [{section}.{o.name}] method = {v.method!r} pools whole-number "
                "counts; some studies of this outcome have counts that are not whole numbers "
                "(see the table's cells), so choose an inverse-variance method (e.g. REML)."
            )

    fits: dict[Variant, tuple[Fit, list[str]]] = {}
    rows = []
    for v in _variants(o, main, pub_variant):
        if v.method in COUNT_METHODS and not counted:
            continue
        fits[v] = _fit_variant(o, data, v, suspects)
        rows.append(
            _row(o, v, v.label(data, o.option("to", "only0")), fits[v][0], main, pub_variant)
        )
    robustness = pd.DataFrame(rows).set_index("method")
    main_fit, main_notes = fits[main]
    pub_fit, pub_notes = fits[pub_variant] if pub_variant is not None else (None, [])
    egger, begg, not_run = _small_study_tests(main_fit)
    sens = []
    for item in o.option("sensitivity", []):
        excluded = [
            s
            for s in item["exclude"]
            if s in main_fit.slab or (pub_fit is not None and s in pub_fit.slab)
        ]
        if not excluded:
            continue
        res, _ = _fit_variant(o, data, main, suspects, set(excluded))
        pred = _predict(res, o)
        row = {
            "reason": item["reason"],
            "excluded": ", ".join(excluded),
            "k": res.k,
            "estimate": pred["pred"],
            "ci_lb": pred["ci_lb"],
            "ci_ub": pred["ci_ub"],
            "published_estimate": np.nan,
            "published_ci_lb": np.nan,
            "published_ci_ub": np.nan,
            "published_k": np.nan,
        }
        if pub_variant is not None:
            res_p, _ = _fit_variant(o, data, pub_variant, suspects, set(excluded))
            pred_p = _predict(res_p, o)
            row.update(
                published_estimate=pred_p["pred"],
                published_ci_lb=pred_p["ci_lb"],
                published_ci_ub=pred_p["ci_ub"],
                published_k=res_p.k,
            )
        sens.append(row)
    sensitivity = pd.DataFrame(
        sens,
        columns=[
            "reason",
            "excluded",
            "k",
            "estimate",
            "ci_lb",
            "ci_ub",
            "published_estimate",
            "published_ci_lb",
            "published_ci_ub",
            "published_k",
        ],
    )
    converted = tuple(sorted(suspects & set(main_fit.slab)))
    subgroups = regression = None
    table = protocol.table
    by_counts = main.method in COUNT_METHODS
    name = METHOD_NAMES.get(main.method, main.method)
    if o.option("subgroup"):
        labels = table[o.option("subgroup")].map(
            lambda raw: "not reported" if parse_cell(raw).is_missing else raw.strip()
        )
        if not by_counts:
            subgroups, _ = _fit(o, data, main, suspects, subgroup=labels)
        else:
            try:  # each subgroup pooled from its counts with the protocol's model
                subgroups, _ = _fit_counts(o, data, main, subgroup=labels)
            except (InputError, ConvergenceError) as exc:
                not_run.append(
                    f"Subgroups by {o.option('subgroup')} were not fitted with the protocol's "
                    f"model ({name}): {exc}"
                )
    if o.option("moderators") and by_counts:
        why = (
            "metareview's rma_glmm takes no moderators yet (metafor's rma.glmm does)"
            if main.method == "GLMM"
            else "an equal-effects pooling of the counts has no moderators (nor have metafor's "
            "rma.mh and rma.peto)"
        )
        not_run.append(
            f"The meta-regression on {', '.join(o.option('moderators'))} was not fitted: "
            f"{why}; regress with an inverse-variance method (e.g. REML) instead."
        )
    elif o.option("moderators"):
        mods = pd.DataFrame(
            {c: [protocol.cell(s, c).value for s in table.index] for c in o.option("moderators")},
            index=table.index,
            dtype=float,
        )
        missing = set(mods.index[mods.isna().any(axis=1)])
        regression, _ = _fit(o, data, main, suspects, missing, mods=mods)
    return OutcomeAnalysis(
        o,
        data,
        main_fit,
        tuple(main_notes),
        pub_fit,
        tuple(pub_notes),
        robustness,
        egger,
        begg,
        sensitivity,
        converted,
        subgroups,
        regression,
        tuple(not_run),
    )


def _small_study_tests(
    res: Fit,
) -> tuple[RegtestResult | None, RanktestResult | None, list[str]]:
    """Egger's and Begg's tests on the protocol's fit, as metafor runs them on each kind of
    fit, and what was not run and why.

    An inverse-variance fit gets the classical Egger regression (``model="lm"``). metafor's
    ``regtest`` and ``ranktest`` on a Mantel-Haenszel or Peto fit test the per-study estimates
    with an equal-effects model (``rma(yi, vi, method="EE")``, Egger's test as a z test of the
    SE in that meta-regression); on a GLMM, ``ranktest`` does the same and ``regtest`` is not
    available ("Method not available for objects of class rma.glmm", metafor 3.8.1).
    """
    if res.k < 3:
        return None, None, ["Egger's and Begg's tests need at least 3 studies."]
    if isinstance(res, RmaResult):
        return regtest(res, model="lm"), ranktest(res), []
    if res.yi is None or res.vi is None or len(res.yi) < 3:
        return None, None, ["Egger's and Begg's tests need at least 3 per-study estimates."]
    equal = rma(res.yi, res.vi, method="EE")
    if isinstance(res, GlmmResult):
        return (
            None,
            ranktest(equal),
            [
                "Egger's regression test was not run: the GLMM models the counts, not "
                "per-study estimates with known variances, so there is no precision to regress "
                "on (metafor's regtest refuses GLMM fits too). Begg's rank test uses the "
                "per-study estimates, as metafor's ranktest does."
            ],
        )
    return regtest(equal, model="rma"), ranktest(equal), []


def _has_counts(o: Outcome, data: pd.DataFrame) -> bool:
    """Whether the count-based fits apply: whole-number events (given or rounded from the
    percentages) in studies with n, and cell counts for 2x2 tables."""
    used = data[data["used"]]
    if o.data == "proportion":
        return "ni" in used and bool(np.all(np.mod(used["ni"].to_numpy(float), 1) == 0))
    return all(k in used for k in ("ai", "ci")) and bool(
        np.all(np.mod(used[[k for k in _ESCALC_ARGS["2x2"] if k in used]].to_numpy(float), 1) == 0)
    )


def published_digits(value: float, data: str, digits: int | None = None) -> int:
    """Decimals the paper printed ``value`` with, on the scale it is read (percent for
    proportions): 0.69 -> 0 (69%), 0.584 -> 1 (58.4%), 0.49 -> 2; ``digits`` (the protocol's
    ``digits`` key, for trailing zeros such as 0.70) wins when given.

    >>> published_digits(0.69, "proportion"), published_digits(0.49, "2x2")
    (0, 2)
    """
    if digits is not None:
        return int(digits)
    exponent = Decimal(repr(float(value))).normalize().as_tuple().exponent
    decimals = max(0, -int(exponent))
    return max(0, decimals - 2) if data == "proportion" else decimals


# ----------------------------------------------------------------------------------- harms


def harms(protocol: Protocol) -> dict[str, Any]:
    """Event rate of a harm with exact (Clopper-Pearson) and Wilson 95% CIs."""
    x, n = int(protocol.harms["events"]), int(protocol.harms["total"])
    test = stats.binomtest(x, n)
    exact = test.proportion_ci(confidence_level=0.95, method="exact")
    wilson = test.proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "label": protocol.harms.get("label", "harm"),
        "events": x,
        "total": n,
        "rate": x / n,
        "exact": (exact.low, exact.high),
        "wilson": (wilson.low, wilson.high),
    }


# ---------------------------------------------------------------------------- descriptives


def descriptives(protocol: Protocol) -> pd.DataFrame:
    """Recompute each descriptive number the protocol declares from its column, with the
    reading of the cells that comes closest to the published number (when there is one).

    Columns: ``quantity, published, reproduced, rule, difference, verdict, decimals`` (the
    precision the number is compared and shown at).
    """
    rows = []
    for d in protocol.descriptives:
        cells = [parse_cell(c) for c in protocol.table[d.column]]
        if d.statistic == "sum":
            rows.append(_candidate(f"Total {d.label}", d.published, _sum_readings(d, cells), 0))
        elif d.statistic == "mean":
            values = [c.value for c in cells if c.is_numeric]
            rows.append(
                _candidate(
                    f"Mean {d.label}",
                    d.published,
                    {f"unweighted mean of {len(values)} studies": float(np.mean(values))},
                    2,
                )
            )
        else:
            pub = d.published or {}
            rows += _mean_sd_candidate(
                d.label,
                pub.get("mean"),
                pub.get("sd"),
                _mean_sd_readings(d, cells, protocol.table.index),
            )
    return pd.DataFrame(
        rows,
        columns=[
            "quantity",
            "published",
            "reproduced",
            "rule",
            "difference",
            "verdict",
            "decimals",
        ],
    )


def _sum_readings(d: Descriptive, cells: list[Cell]) -> dict[str, float]:
    first = sum(c.value for c in cells if c.is_numeric)
    two = [c for c in cells if c.kind == "count_paren"]
    if not two:
        return {f"{d.column} summed": first}
    second = sum((c.secondary or c.value) for c in cells if c.is_numeric)
    shown = ", ".join(f"'{c.raw}'" for c in two)
    return {
        f"{d.column} summed, {shown} read as {', '.join(f'{c.secondary:g}' for c in two)}": second,
        f"{d.column} summed, {shown} read as {', '.join(f'{c.value:g}' for c in two)}": first,
    }


def _mean_sd_readings(d: Descriptive, cells: list[Cell], studies) -> dict[str, np.ndarray]:
    """Study values under each reading: bounds (">1 year") excluded or taken at their value,
    values converted to ``d.unit`` as printed or rounded to 1 decimal first, and (when the
    protocol asks) each study left out in turn."""
    has_bounds = any(c.kind == "bound" for c in cells)
    converts = d.unit is not None and any(
        c.is_numeric and c.unit and c.in_months().unit != c.unit for c in cells
    )
    candidates: dict[str, np.ndarray] = {}
    for bound_rule, digits in itertools.product(
        ("excluded", "as its value") if has_bounds else (None,), (None, 1) if converts else (None,)
    ):
        values, kept = [], []
        for study, cell in zip(studies, cells, strict=True):
            if not cell.is_numeric or (cell.kind == "bound" and bound_rule == "excluded"):
                continue
            if digits is not None and cell.unit and cell.unit.lower().startswith("year"):
                cell = parse_cell(f"{round(cell.value, digits)} {cell.unit}")
            values.append(cell.in_months().value if d.unit == "months" else cell.value)
            kept.append(study)
        label = (
            f"{len(values)} values"
            + (f" in {d.unit}" if d.unit else "")
            + (f"; bounds ('>1 year') {bound_rule}" if bound_rule else "")
            + ("; years rounded to 1 decimal (5.62 -> 5.6)" if digits else "")
        )
        if not has_bounds and not converts:
            label = f"unweighted, all {len(values)} study means"
        candidates[label] = np.array(values)
        if d.leave_one_out:
            for i, study in enumerate(kept):
                candidates[f"unweighted, {len(values) - 1} study means without {study}"] = (
                    np.delete(np.array(values), i)
                )
    return candidates


def _candidate(
    quantity: str, published: float | None, candidates: dict[str, float], decimals: int
) -> dict[str, Any]:
    if published is None:
        best = next(iter(candidates))
        return {
            "quantity": quantity,
            "published": np.nan,
            "reproduced": candidates[best],
            "rule": best,
            "difference": np.nan,
            "verdict": "",
            "decimals": decimals,
        }
    best = min(candidates, key=lambda k: abs(candidates[k] - published))
    value = candidates[best]
    verdict = (
        "reproduced" if round(value, decimals) == round(published, decimals) else ("not reproduced")
    )
    return {
        "quantity": quantity,
        "published": published,
        "reproduced": value,
        "rule": best,
        "difference": value - published,
        "verdict": verdict,
        "decimals": decimals,
    }


def _mean_sd_candidate(
    quantity: str, pub_mean: float | None, pub_sd: float | None, candidates: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """Pick the reading whose mean and SD of study values come closest to the paper's."""

    def distance(values: np.ndarray) -> float:
        if pub_mean is None:
            return 0.0
        sd_gap = abs(np.std(values, ddof=1) - pub_sd) if pub_sd is not None else 0.0
        return abs(np.mean(values) - pub_mean) + sd_gap

    best = min(candidates, key=lambda k: distance(candidates[k]))
    values = candidates[best]
    return [
        _candidate(f"Mean {quantity}", pub_mean, {best: float(np.mean(values))}, 2),
        _candidate(f"SD of {quantity}", pub_sd, {best: float(np.std(values, ddof=1))}, 2),
    ]
