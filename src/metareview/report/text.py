"""Words and verdicts of the report, computed from the protocol and the fits.

Every sentence that states a comparison ("methods that keep ... give lower estimates", "the
CI lies above ... for k of n methods", "the published estimate is reproduced only with ...")
is written only after the comparison was computed, in the direction found. Nothing here
names a disease, an outcome or a study: labels come from the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from metareview import __version__
from metareview.plots._scales import fmt_stat
from metareview.report.analyses import (
    COUNT_METHODS,
    MEASURE_NAMES,
    METHOD_NAMES,
    OutcomeAnalysis,
    display_transf,
    model_label,
    published_digits,
)
from metareview.report.protocol import DEFAULTS, MODEL_WHY, Protocol

__all__ = ["comparison_table", "fmt", "methods_text", "outcome_sentences", "results_text"]

SMALL_K = 10  # Sterne et al. 2011, BMJ 343:d4002: funnel-plot tests need >= 10 studies


def _p(p: float) -> str:
    """A p-value at 4 decimals; below 0.0001 as "p < 0.0001" (not "p = 0.0000")."""
    return "p < 0.0001" if p < 0.0001 else f"p = {p:.4f}"


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def _tau2_text(x: float) -> str:
    """``= 0.061``, ``= 0`` or ``< 0.0001``: tau² as the forest plot prints it (a numerical
    zero such as 6.3e-13 is not printed as if it were a value).

    >>> _tau2_text(0.0612345), _tau2_text(0.0), _tau2_text(6.33e-13), _tau2_text(0.3131)
    ('= 0.061', '= 0', '< 0.0001', '= 0.31')
    """
    text = fmt_stat(x)
    return text if text.startswith("<") else f"= {text}"


def fmt(a: OutcomeAnalysis, x: float, digits: int | None = None) -> str:
    """A number of the outcome on its display scale (percent for proportions)."""
    if x is None or pd.isna(x):
        return "NA"
    if a.outcome.data == "proportion":
        return _pct(x, 1 if digits is None else digits)
    if digits is None:
        digits = 3 if 0 < abs(x) < 0.1 else 2  # a risk difference of -0.004 is not "-0.00"
    return f"{x:.{digits}f}"


def _null(a: OutcomeAnalysis) -> float | None:
    """The value of no effect on the display scale (1 for ratios, 0 for differences), or the
    protocol's reference value for a single-group outcome."""
    if a.outcome.data == "proportion":
        ref = a.outcome.option("reference")
        return None if ref is None else float(ref)
    return 1.0 if display_transf(a.outcome.measure, a.outcome) == "exp" else 0.0


def _verdict(reproduced: float, published: float, digits: int) -> str:
    """'reproduced' at the printed precision; some papers truncate bounds (53.5 -> 53)."""
    scale = 10**digits
    if round(reproduced, digits) == round(published, digits):
        return "reproduced"
    if int(reproduced * scale) / scale == round(published, digits):
        return "reproduced (paper truncates)"
    return "not reproduced"


def _model(measure: str, method: str, test: str) -> str:
    if method == "PETO":
        return "Peto's method (equal effects) on the odds ratio"
    if method == "MH":
        return f"Mantel-Haenszel (equal effects) on the {MEASURE_NAMES[measure]}"
    return f"{METHOD_NAMES[method]} on {MEASURE_NAMES[measure]}" + (
        " with Hartung-Knapp CIs" if test == "knha" else ""
    )


def _fit_model(res: Any) -> str:
    """:func:`_model` of a fit (inverse-variance, Mantel-Haenszel, Peto or GLMM)."""
    return _model(res.measure, *model_label(res))


def _scaled(a: OutcomeAnalysis, x: float) -> float:
    return 100 * x if a.outcome.data == "proportion" else x


def comparison_table(
    protocol: Protocol, analyses: dict[str, OutcomeAnalysis], harms, descriptives: pd.DataFrame
) -> pd.DataFrame:
    """Every published number the data can check, with our value and a verdict (reproduction
    mode only; empty otherwise). Numbers are compared at the precision the paper printed."""
    rows: list[dict[str, Any]] = []
    columns = ["quantity", "published", "reproduced", "verdict", "how"]
    if not protocol.reproduction:
        return pd.DataFrame(rows, columns=columns)
    for a in analyses.values():
        pub, res = a.outcome.published, a.published
        if pub is None or res is None:
            continue
        pred = a.predict(res)
        how = f"{_fit_model(res)}, k = {res.k}; left out: {', '.join(res.omitted) or 'none'}"
        for key, ours, suffix in (
            ("estimate", pred["pred"], ""),
            ("ci_lb", pred["ci_lb"], " (95% CI lower)"),
            ("ci_ub", pred["ci_ub"], " (95% CI upper)"),
        ):
            if key not in pub:
                continue
            digits = published_digits(pub[key], a.outcome.data, pub.get("digits"))
            rows.append(
                {
                    "quantity": a.outcome.label + suffix,
                    "published": fmt(a, pub[key], digits),
                    "reproduced": fmt(a, ours, digits + 1),
                    "verdict": _verdict(_scaled(a, ours), _scaled(a, pub[key]), digits),
                    "how": how,
                }
            )
        if "k" in pub:
            rows.append(
                {
                    "quantity": a.outcome.label + " (studies pooled)",
                    "published": str(pub["k"]),
                    "reproduced": str(res.k),
                    "verdict": "reproduced" if res.k == pub["k"] else "not reproduced",
                    "how": "studies with the data and non-zero variance",
                }
            )
        if "egger_p_below" in pub and a.egger is not None:
            p = a.egger.pval
            rows.append(
                {
                    "quantity": f"Egger's test, {a.outcome.label}",
                    "published": f"P < {pub['egger_p_below']}",
                    "reproduced": f"P = {p:.4f}",
                    "verdict": "reproduced" if p < pub["egger_p_below"] else "not reproduced",
                    "how": f"classical Egger regression on {a.main.k} studies",
                }
            )
    if "studies" in protocol.published:
        rows.append(
            {
                "quantity": "Studies included",
                "published": str(protocol.published["studies"]),
                "reproduced": str(len(protocol.table)),
                "verdict": "reproduced"
                if len(protocol.table) == protocol.published["studies"]
                else "not reproduced",
                "how": "rows of the table",
            }
        )
    if harms is not None and "harms_rate" in protocol.published:
        rate = protocol.published["harms_rate"]
        rows.append(
            {
                "quantity": harms["label"],
                "published": _pct(rate),
                "reproduced": _pct(harms["rate"]),
                "verdict": _verdict(100 * harms["rate"], 100 * rate, 1),
                "how": f"{harms['events']}/{harms['total']}",
            }
        )
    for _, row in descriptives.iterrows():
        if pd.isna(row["published"]):
            continue
        rows.append(
            {
                "quantity": row["quantity"],
                "published": f"{row['published']:g}",
                "reproduced": f"{row['reproduced']:.{row['decimals']}f}",
                "verdict": row["verdict"],
                "how": row["rule"],
            }
        )
    return pd.DataFrame(rows, columns=columns)


def methods_text(
    protocol: Protocol,
    analyses: dict[str, OutcomeAnalysis],
    *,
    source: str | None = None,
    screening: Sequence[str] = (),
) -> str:
    """The statistical methods paragraph, from the protocol and the analyses run.

    Each outcome gets one sentence naming its model; the reasons and citations behind the
    defaults, and the description of the count-based rows, follow once, however many outcomes
    share them. ``source`` says where the data came from when it is not the protocol's
    table file (a review store's agreed table); ``screening`` sentences (how screening was
    stopped) come first.
    """
    citation = protocol.review.get("citation")
    parts = list(screening)
    if source is not None:
        parts.append(f"Data were taken from {source}; every number keeps its source cell.")
    else:
        parts.append(
            f"Data were taken from {protocol.table_path.name}"
            + (f" (the table of {citation})" if citation and protocol.reproduction else "")
            + " exactly as printed and parsed cell by cell; every number keeps its source "
            "cell."
        )
    defaults: dict[str, None] = {}  # data types whose default model is used, in order
    for a in analyses.values():
        o = a.outcome
        model = _model(o.measure, o.method, o.test)
        if o.default_model:
            defaults[o.data] = None
            why = f"the default for {o.data} data, see below"
        else:
            d = DEFAULTS[o.data]
            why = (
                f"as the protocol specifies; the default for {o.data} data would be "
                f"{_model(d['measure'], d['method'], d['test'])}"
            )
        sentence = f"{o.label} was pooled by {model} ({why})."
        if o.data == "prepost":
            r = a.robustness.loc[a.robustness["main"], "r"].iloc[0]
            sentence += (
                f" Pre/post correlation assumed: {r:g}"
                + (
                    f" (explored from {min(o.option('correlation_sensitivity')):g} to "
                    f"{max(o.option('correlation_sensitivity')):g})"
                    if o.option("correlation_sensitivity")
                    else ""
                )
                + "."
            )
        p = a.published
        if p is not None and (p.measure, *model_label(p)) != (o.measure, o.method, o.test):
            sentence += f" The published analysis ({_fit_model(p)}) was fitted too."
        sentence += f" {len(a.robustness)} ways of pooling were compared."
        if o.option("percent_given_as_fraction"):
            sentence += (
                " Cells printed as fractions in the percentage column were read as "
                f"percentages for {', '.join(o.option('percent_given_as_fraction'))}."
            )
        rescale = o.option("rescale")
        if rescale:
            sentence += (
                f" Values were multiplied by {rescale['factor']:g} "
                f"({rescale.get('reason', 'protocol')}) for "
                f"{', '.join(rescale['studies'])}."
            )
        parts.append(sentence)
    if defaults:
        reasons = [f"for {data} data, {DEFAULTS[data]['why']}" for data in defaults]
        parts.append(f"Default models: {'; '.join(reasons)}; and {MODEL_WHY}.")
    parts += _bias_methods(list(analyses.values()))
    parts += _count_methods(list(analyses.values()))
    parts.append(
        "Heterogeneity is reported as tau², I² and Cochran's Q; the CIs of tau² from "
        "inverse-variance fits use the Q-profile method (the profile likelihood where the "
        "Q-profile interval does not contain an ML or REML estimate). All analyses were run with "
        f"metareview {__version__}; each "
        "estimator it used is compared with R's metafor in metareview's test suite, "
        "on published data sets, at the tolerance written beside each test."
    )
    return " ".join(parts)


def _bias_methods(analyses: list[OutcomeAnalysis]) -> list[str]:
    """How funnel-plot asymmetry was tested, once for all outcomes it was tested for."""
    by_kind: dict[str, list[str]] = {}
    for a in analyses:
        if a.egger is None and a.begg is None:
            continue
        if a.outcome.method not in COUNT_METHODS:
            kind = "classical Egger regression (t test) and Begg's rank correlation"
        elif a.egger is not None:
            kind = (
                "Egger's regression as a z test in an equal-effects meta-regression of the "
                "per-study estimates on their standard errors, and Begg's rank correlation, "
                "as metafor's regtest and ranktest run them on count-based fits"
            )
        else:
            kind = "Begg's rank correlation of the per-study estimates (as metafor's ranktest)"
        by_kind.setdefault(kind, []).append(a.outcome.label)
    if len(by_kind) == 1 and len(analyses) == sum(map(len, by_kind.values())):
        return [f"Funnel-plot asymmetry was tested with {next(iter(by_kind))}."]
    return [
        f"Funnel-plot asymmetry of {', '.join(labels)} was tested with {kind}."
        for kind, labels in by_kind.items()
    ]


def _count_methods(analyses: list[OutcomeAnalysis]) -> list[str]:
    """How the fits that pool counts were made (said once, for every outcome that has one),
    and where a proportion outcome's counts came from."""
    models = pd.concat([a.robustness["model"] for a in analyses]) if analyses else pd.Series()
    text = []
    if models.isin(["MH", "PETO"]).any():
        text.append(
            "The Mantel-Haenszel (odds ratio, risk ratio, risk difference) and Peto fits "
            "pool the 2x2 counts directly as equal-effects models (Robins-Breslow-"
            "Greenland and Greenland-Robins variances; RevMan's methods), so they have "
            "no tau² and no prediction interval."
        )
    if (models == "GLMM").any():
        glmm = (
            "The GLMM fits are random-effects binomial-normal models fitted by maximum "
            "likelihood to the exact binomial likelihood (metafor's rma.glmm, model UM.FS), "
            "which keep studies with no events or all events without a continuity correction."
        )
        derived = [
            a for a in analyses if (a.robustness["model"] == "GLMM").any() and "pi" in a.data
        ]
        if derived:
            which = " and ".join(
                f"{a.outcome.label} ({int(a.data['used'].sum())} studies)" for a in derived
            )
            glmm += (
                " They need event counts, which were derived from the data as printed (events "
                f"= percentage x n, rounded to a whole number) for every study of {which}."
            )
        text.append(glmm)
    return text


def _range(a: OutcomeAnalysis, values: pd.Series) -> str:
    return f"{fmt(a, values.min())} to {fmt(a, values.max())}"


def _row_null(a: OutcomeAnalysis, measure: str) -> float | None:
    """No effect on the display scale of a robustness row's measure."""
    if a.outcome.data == "proportion":
        return _null(a)
    return 1.0 if display_transf(measure, a.outcome) == "exp" else 0.0


def _comparable(a: OutcomeAnalysis) -> pd.DataFrame:
    """Robustness rows on the same scale as the protocol's fit (every back-transformed
    proportion; otherwise the same measure, SMCR beside SMCC)."""
    rob = a.robustness
    if a.outcome.data == "proportion":
        return rob
    family = {"SMCR": "SMC", "SMCC": "SMC"}
    main = family.get(a.outcome.measure, a.outcome.measure)
    return rob[rob["measure"].map(lambda m: family.get(m, m)) == main]


def _ranges(a: OutcomeAnalysis) -> str:
    """'Across n ways of pooling the estimate ranged from ...', one range per measure."""
    rob = a.robustness
    same = _comparable(a)
    text = (
        f"Across {len(rob)} ways of pooling, the {len(same)} on the protocol's scale gave "
        f"estimates from {_range(a, same['estimate'])}"
    )
    if len(same) == len(rob):
        return (
            f"Across {len(rob)} ways of pooling the estimate ranged from "
            f"{_range(a, rob['estimate'])}"
        )
    others = [
        f"{MEASURE_NAMES[m]} "
        + (_range(a, g["estimate"]) if len(g) > 1 else fmt(a, g["estimate"].iloc[0]))
        for m, g in rob[~rob.index.isin(same.index)].groupby("measure", sort=False)
    ]
    return f"{text} ({'; '.join(others)})"


def outcome_sentences(protocol: Protocol, a: OutcomeAnalysis) -> dict[str, str]:
    """The computed sentences of one outcome, by topic (empty topics are left out).

    Keys: ``model``, ``summary``, ``studies``, ``direction``, ``robustness``, ``omission``,
    ``published_method``, ``sensitivity``, ``subgroups``, ``regression``, ``bias``,
    ``not_run`` (analyses the protocol's model does not allow, and why), ``se_to_sd``.
    """
    o, res, rob = a.outcome, a.main, a.robustness
    pred = a.predict(res)
    out: dict[str, str] = {"model": _fit_model(res)}
    if model_label(res)[0] in ("MH", "PETO"):
        spread = f"Q = {res.QE:.2f}"  # equal-effects fits of the counts have no tau²
    else:
        spread = f"tau² {_tau2_text(res.tau2)}"
        lb, ub = getattr(res, "tau2_ci_lb", None), getattr(res, "tau2_ci_ub", None)
        if lb is not None and ub is not None and np.isfinite(ub):
            kind, why = "95% CI", ""
            if not lb <= res.tau2 <= ub and res.method in ("ML", "REML"):
                # the Q-profile interval inverts the Paule-Mandel equation and can miss an
                # ML/REML estimate; the profile likelihood of the fit's own estimator cannot
                ci = res.confint(type="PL")
                lb, ub = ci["tau2_ci_lb"], ci["tau2_ci_ub"]
                kind = "95% profile-likelihood CI"
                why = f"; the Q-profile CI does not contain the {res.method} estimate"
            # square brackets: the summary is already inside parentheses
            spread += f" [{kind} {fmt_stat(lb)} to {fmt_stat(ub)}{why}]"
    out["summary"] = (
        f"{o.label}: {fmt(a, pred['pred'])} (95% CI {fmt(a, pred['ci_lb'])} to "
        f"{fmt(a, pred['ci_ub'])}; k = {res.k}, I² = {res.I2:.0f}%, {spread}) by "
        f"{_fit_model(res)}"
        + (
            f"; 95% prediction interval {fmt(a, pred['pi_lb'])} to {fmt(a, pred['pi_ub'])}"
            if res.k >= 3 and not pd.isna(pred["pi_lb"])
            else ""
        )
        + (f". {', '.join(res.omitted)} left this fit for zero variance" if res.omitted else "")
        + "."
    )
    null = _null(a)
    favours = o.option("favours")
    if null is not None:
        values = _study_values(a)
        above, below = int((values > null).sum()), int((values < null).sum())
        out["studies"] = (
            f"{above} of {len(values)} study estimates lie above {fmt(a, null)} and {below} below."
        )
        lb, ub = pred["ci_lb"], pred["ci_ub"]
        side = "above" if lb > null else "below" if ub < null else None
        if side is None:
            out["direction"] = (
                f"The 95% CI includes {fmt(a, null)}: the data do not rule out "
                f"{'no effect' if o.data != 'proportion' else 'that value'}."
            )
        else:
            label = ""
            if favours:
                label = f' (the side labelled "{favours[1] if side == "above" else favours[0]}")'
            out["direction"] = f"The 95% CI lies entirely {side} {fmt(a, null)}{label}."
        nulls = rob["measure"].map(lambda m: _row_null(a, m))
        holds = (
            (rob["ci_lb"] > nulls)
            if side == "above"
            else (
                (rob["ci_ub"] < nulls)
                if side == "below"
                else (rob["ci_lb"] <= nulls) & (rob["ci_ub"] >= nulls)
            )
        )
        where = f"lies entirely {side}" if side else "includes"
        what = fmt(a, null) if o.data == "proportion" else "the value of no effect"
        out["robustness"] = (
            f"{_ranges(a)}; the 95% CI {where} {what} for {int(holds.sum())} of {len(rob)}."
        )
    else:
        out["robustness"] = f"{_ranges(a)}."
    out.update(_omission(a))
    out.update(_published_method(a))
    if len(a.sensitivity):
        out["sensitivity"] = " ".join(_sensitivity(a, row) for _, row in a.sensitivity.iterrows())
    out.update(_subgroups(a))
    out.update(_regression(a))
    tests = []
    if a.egger is not None:
        statistic = "t" if a.egger.model == "lm" else "z"
        tests.append(f"Egger's test: {statistic} = {a.egger.zval:.2f}, {_p(a.egger.pval)}")
    if a.begg is not None:
        tests.append(f"Begg's test: Kendall's tau = {a.begg.tau:.3f}, {_p(a.begg.pval)}")
    if tests:
        out["bias"] = (
            "; ".join(tests)
            + "."
            + (
                f" With {res.k} studies (fewer than {SMALL_K}) "
                + ("these tests have" if len(tests) > 1 else "this test has")
                + " little power and no funnel plot is drawn (Sterne et al. 2011, BMJ "
                "343:d4002)."
                if res.k < SMALL_K
                else ""
            )
        )
    if a.not_run:
        out["not_run"] = " ".join(a.not_run)
    if a.converted:
        base = rob[rob["main"]].iloc[0]
        same = rob[
            (rob["measure"] == base["measure"])
            & (rob["r"] == base["r"])
            & (rob["model"] == base["model"])
            & rob["se_to_sd"]
        ]
        if len(same):
            moved = same["estimate"].iloc[0]
            out["se_to_sd"] = (
                f"Treating the SDs of {', '.join(a.converted)} as standard errors (SD = SE x "
                f"sqrt(n)) alone moves the pooled estimate from {fmt(a, base['estimate'])} to "
                f"{fmt(a, moved)}."
            )
    return out


ALPHA = 0.05


def _subgroups(a: OutcomeAnalysis) -> dict[str, str]:
    """Each subgroup's pooled estimate and the test for subgroup differences (Q between, from
    an equal-effects fit of the subgroup estimates, as RevMan)."""
    res = a.subgroups
    if res is None or res.subgroups is None:
        return {}
    parts = []
    for label, fit in res.subgroups.items():
        pred = a.predict(fit)
        parts.append(
            f"{label} {fmt(a, pred['pred'])} ({fmt(a, pred['ci_lb'])} to "
            f"{fmt(a, pred['ci_ub'])}, k = {fit.k})"
        )
    d = res.to_dict()
    verdict = (
        "the subgroups differ"
        if d["p_between"] < ALPHA
        else "no evidence at the 5% level that the subgroups differ"
    )
    return {
        "subgroups": f"By {a.outcome.option('subgroup')}: {'; '.join(parts)}. Test for "
        f"subgroup differences: Q = {d['Q_between']:.2f}, df = "
        f"{d['df_between']}, p = {d['p_between']:.3f}: {verdict}."
    }


def _regression(a: OutcomeAnalysis) -> dict[str, str]:
    """Meta-regression on the protocol's moderators: each slope, its direction when its CI
    excludes 0, and R²."""
    res = a.regression
    if res is None:
        return {}
    table = res.table()
    scale = {"exp": f"log {MEASURE_NAMES[res.measure]}"}.get(
        display_transf(res.measure, a.outcome) or "", MEASURE_NAMES[res.measure]
    )
    parts = []
    for name, row in table.iloc[1:].iterrows():
        text = (
            f"each unit of {name} changes the {scale} by {row['estimate']:.4f} (95% CI "
            f"{row['ci_lb']:.4f} to {row['ci_ub']:.4f}, p = {row['pval']:.4f})"
        )
        if row["pval"] < ALPHA:
            text += (
                f": the {scale} {'falls' if row['estimate'] < 0 else 'rises'} as {name} increases"
            )
        else:
            text += f": no evidence at the 5% level that it changes with {name}"
        parts.append(text)
    r2 = "" if res.R2 is None else f"; R² = {res.R2:.1f}% of tau² explained"
    return {
        "regression": f"Meta-regression ({res.k} studies): {'; '.join(parts)}. Test of "
        f"the moderators: {'F' if res.test == 'knha' else 'QM'} = "
        f"{res.QM:.2f}, p = {res.QMp:.4f}{r2}."
    }


def _study_values(a: OutcomeAnalysis) -> np.ndarray:
    """The pooled studies' own estimates on the display scale."""
    res = a.main
    if a.outcome.data == "proportion":
        data = a.data.loc[list(res.slab)]
        return (data["pi"] if "pi" in data else data["xi"] / data["ni"]).to_numpy(float)
    transf = display_transf(a.outcome.measure, a.outcome)
    return np.exp(res.yi) if transf == "exp" else np.tanh(res.yi) if transf == "ztor" else res.yi


def _omission(a: OutcomeAnalysis) -> dict[str, str]:
    """Do the methods that leave studies out (zero variance) give higher or lower estimates
    than those that keep every study? Stated only in the direction found."""
    rob = _comparable(a)
    full = rob["k"].max()
    dropped, kept = rob[rob["k"] < full], rob[rob["k"] == full]
    if dropped.empty:
        return {}
    names = sorted({s for text in dropped["left out"] for s in text.split(", ") if s != "-"})
    who = ", ".join(names)
    pronoun = "it" if len(names) == 1 else "them"
    if kept["estimate"].max() < dropped["estimate"].min():
        word = "lower"
    elif kept["estimate"].min() > dropped["estimate"].max():
        word = "higher"
    else:
        return {
            "omission": f"Estimates of the {len(kept)} methods that keep {who} "
            f"({_range(a, kept['estimate'])}) overlap those of the "
            f"{len(dropped)} that leave {pronoun} out "
            f"({_range(a, dropped['estimate'])})."
        }
    return {
        "omission": f"The {len(kept)} methods that keep {who} give {word} estimates "
        f"({_range(a, kept['estimate'])}) than the {len(dropped)} that leave "
        f"{pronoun} out ({_range(a, dropped['estimate'])})."
    }


def _published_method(a: OutcomeAnalysis) -> dict[str, str]:
    """What the published method hides, on raw proportions: zero-variance studies that leave
    the fit, Wald CIs past 100%. Each clause only when computed true."""
    res = a.published
    if res is None or res.measure != "PR":
        return {}
    clauses = []
    if res.omitted:
        clauses.append(
            f"{', '.join(res.omitted)} has zero variance on the raw scale without a "
            "continuity correction, so it leaves the published method's fit "
            "without a trace."
        )
    table = res.study_table()
    past = int(((table["ci_lb"] < 0) | (table["ci_ub"] > 1)).sum())
    if past:
        clauses.append(
            f"Wald intervals on raw proportions run outside 0-100% for {past} of {res.k} studies."
        )
    pred = a.predict(res)
    if not pd.isna(pred["pi_ub"]) and (pred["pi_ub"] > 1 or pred["pi_lb"] < 0):
        clauses.append(
            f"The prediction interval runs from {fmt(a, pred['pi_lb'])} to {fmt(a, pred['pi_ub'])}."
        )
    rob = a.robustness
    bounded = rob[rob["measure"].isin(["PLO", "PFT"])]
    if (
        clauses
        and len(bounded)
        and (bounded["k"] == rob["k"].max()).all()
        and (
            (bounded[["ci_lb", "ci_ub", "pi_lb", "pi_ub"]] >= 0).all().all()
            and (bounded[["ci_lb", "ci_ub", "pi_lb", "pi_ub"]] <= 1).all().all()
        )
    ):
        clauses.append(
            "The logit and Freeman-Tukey methods keep every study and stay inside 0-100%."
        )
    return {"published_method": " ".join(clauses)} if clauses else {}


def _sensitivity(a: OutcomeAnalysis, row: pd.Series) -> str:
    text = (
        f"Without {row['excluded']} ({row['reason']}): {fmt(a, row['estimate'])} "
        f"({fmt(a, row['ci_lb'])} to {fmt(a, row['ci_ub'])}, k = {row['k']}) by the "
        f"protocol's method, instead of {fmt(a, a.predict(a.main)['pred'])}."
    )
    pub = a.outcome.published
    if a.published is None or pub is None or "estimate" not in pub:
        return text
    digits = published_digits(pub["estimate"], a.outcome.data, pub.get("digits"))
    target = _scaled(a, pub["estimate"])
    with_it = round(_scaled(a, a.predict(a.published)["pred"]), digits) == round(target, digits)
    without = round(_scaled(a, row["published_estimate"]), digits) == round(target, digits)
    shown = fmt(a, pub["estimate"], digits)
    text += (
        f" By the published method: {fmt(a, row['published_estimate'])} without it, "
        f"{fmt(a, a.predict(a.published)['pred'])} with it."
    )
    if with_it and not without:
        text += (
            f" The published estimate ({shown}) is reproduced only with {row['excluded']} included."
        )
    elif without and not with_it:
        text += f" The published estimate ({shown}) is reproduced only without {row['excluded']}."
    elif with_it and without:
        text += f" The published estimate ({shown}) is reproduced with or without it."
    else:
        text += f" Neither reproduces the published estimate ({shown})."
    return text


def results_text(protocol: Protocol, analyses: dict[str, OutcomeAnalysis], harms) -> str:
    """The results paragraph: each outcome's summary and robustness, and the harms."""
    parts = []
    for a in analyses.values():
        s = outcome_sentences(protocol, a)
        parts += [s[key] for key in ("summary", "direction", "robustness") if key in s]
    if harms is not None:
        lo, hi = harms["exact"]
        parts.append(
            f"{harms['label']}: {harms['events']} of {harms['total']} "
            f"({_pct(harms['rate'])}; exact 95% CI {_pct(lo)} to {_pct(hi)})."
        )
    return " ".join(parts)
