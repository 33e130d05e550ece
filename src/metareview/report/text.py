"""Words and verdicts of the report: the methods and results paragraphs written from the
protocol and the fits, and the paper-vs-reproduction table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from metareview.report.protocol import Protocol
from metareview.stats.models import __version__

__all__ = ["comparison_table", "methods_text", "results_text"]


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def _verdict(reproduced: float, published: float, digits: int) -> str:
    """'reproduced' at the printed precision; the paper truncates some bounds (53.5 -> 53)."""
    scale = 10**digits
    if round(reproduced, digits) == round(published, digits):
        return "reproduced"
    if int(reproduced * scale) / scale == round(published, digits):
        return "reproduced (paper truncates)"
    return "not reproduced"


def comparison_table(protocol: Protocol, rates, prepost, harms, descriptives) -> pd.DataFrame:
    """Every number the paper prints that the data can check, with our value and a verdict.

    Percentages are compared at the paper's precision (whole percent).
    """
    pub = protocol.published
    rows: list[dict[str, Any]] = []
    names = {"immediate": "Immediate pain-relief rate", "followup": "1-3 month pain-relief rate"}
    for role, analysis in rates.items():
        if role not in pub:
            continue
        res = analysis.paper
        for key, ours in (("estimate", res.estimate), ("ci_lb", res.ci_lb[0]),
                          ("ci_ub", res.ci_ub[0])):
            label = {"estimate": "", "ci_lb": " (95% CI lower)", "ci_ub": " (95% CI upper)"}[key]
            rows.append({"quantity": names[role] + label, "published": _pct(pub[role][key], 0),
                         "reproduced": _pct(ours),
                         "verdict": _verdict(100 * ours, 100 * pub[role][key], 0),
                         "how": f"DL on raw proportions, k = {res.k}; left out: "
                                f"{', '.join(res.omitted) or 'none'}"})
        if "k" in pub[role]:
            rows.append({"quantity": names[role] + " (studies pooled)",
                         "published": str(pub[role]["k"]), "reproduced": str(res.k),
                         "verdict": "reproduced" if res.k == pub[role]["k"] else "not reproduced",
                         "how": "studies with a numeric rate and non-zero variance"})
    if prepost is not None and "egger_p_below" in pub:
        p = prepost.egger.pval
        rows.append({"quantity": "Egger's test, pre/post SMD", "published":
                     f"P < {pub['egger_p_below']}", "reproduced": f"P = {p:.4f}",
                     "verdict": "reproduced" if p < pub["egger_p_below"] else "not reproduced",
                     "how": f"classical Egger regression on {prepost.main.k} SMCRs"})
    if harms is not None and "harms_rate" in pub:
        rows.append({"quantity": harms["label"], "published": _pct(pub["harms_rate"]),
                     "reproduced": _pct(harms["rate"]),
                     "verdict": _verdict(100 * harms["rate"], 100 * pub["harms_rate"], 1),
                     "how": f"{harms['events']}/{harms['total']}"})
    for _, row in descriptives.iterrows():
        rows.append({"quantity": row["quantity"], "published": f"{row['published']:g}",
                     "reproduced": f"{row['reproduced']:.2f}", "verdict": row["verdict"],
                     "how": row["rule"]})
    return pd.DataFrame(rows, columns=["quantity", "published", "reproduced", "verdict", "how"])


def methods_text(protocol: Protocol, rates, prepost) -> str:
    """The statistical methods paragraph, from the protocol and the analyses run."""
    a = protocol.assumptions
    parts = [
        f"Data were taken from Table 1 of {protocol.review.get('citation', 'the review')} "
        "exactly as printed and parsed cell by cell; every number keeps its source cell.",
        "Event rates were pooled as the paper did (DerSimonian-Laird random effects on raw "
        "proportions, as Stata's metan; studies with zero variance leave the fit) and, for "
        "comparison, on the logit and Freeman-Tukey double-arcsine scales with REML, with and "
        "without the Hartung-Knapp-Sidik-Jonkman correction (0.5 added to cells of 0% or "
        "100% studies on the logit scale, as metafor).",
    ]
    if a.get("percent_given_as_fraction"):
        parts.append(f"Cells printed as fractions in percentage columns were read as "
                     f"percentages for {', '.join(a['percent_given_as_fraction'])}.")
    if prepost is not None:
        parts.append(
            f"Pain scores were compared before and after treatment as standardised mean changes "
            f"({a.get('prepost_measure', 'SMCR')}: change divided by the baseline SD, with "
            f"Hedges' small-sample correction) assuming a pre/post correlation of "
            f"{a.get('prepost_correlation', 0.5)} (explored from "
            f"{min(a.get('correlation_sensitivity', [0.5]))} to "
            f"{max(a.get('correlation_sensitivity', [0.5]))}), pooled by REML; funnel-plot "
            "asymmetry was tested with Egger's regression and Begg's rank correlation.")
        if a.get("rescale_0_100_to_0_10"):
            parts.append("Scores on 0-100 scales were divided by 10 for "
                         f"{', '.join(a['rescale_0_100_to_0_10'])}.")
    parts.append("Heterogeneity is reported as tau², I² and Cochran's Q; tau² CIs use the "
                 f"Q-profile method. All analyses were run with metareview {__version__}; each "
                 "estimator it used is compared with R's metafor in metareview's test suite, "
                 "on published data sets, at the tolerance written beside each test.")
    return " ".join(parts)


def results_text(protocol: Protocol, rates, prepost, harms) -> str:
    """The results paragraph."""
    parts = []
    for role, analysis in rates.items():
        res, rob = analysis.paper, analysis.robustness
        label = "immediate" if role == "immediate" else "1-3 month"
        parts.append(
            f"The {label} pain-relief rate pooled by the paper's method was {_pct(res.estimate)}"
            f" (95% CI {_pct(res.ci_lb[0])} to {_pct(res.ci_ub[0])}; k = {res.k}, "
            f"I² = {res.I2:.0f}%)"
            + (f", after {', '.join(res.omitted)} left the fit for zero variance" if res.omitted
               else "")
            + f". Across {len(rob)} methods the estimate ranged from "
              f"{_pct(rob['estimate'].min())} to {_pct(rob['estimate'].max())}; methods that "
              f"keep the 0% study give lower rates.")
    if prepost is not None:
        m = prepost.main
        c = prepost.choices
        converted = c[(c["measure"] == "SMCR") & (c["method"] == "REML") & c["SE->SD"]]
        parts.append(
            f"Pain fell from baseline in {(m.yi > 0).sum()} of {m.k} studies: pooled SMCR "
            f"{m.estimate:.2f} "
            f"(95% CI {m.ci_lb[0]:.2f} to {m.ci_ub[0]:.2f}; k = {m.k}; I² = {m.I2:.1f}%). "
            f"Egger's test p = {prepost.egger.pval:.4f}, Begg's p = {prepost.begg.pval:.4f}. "
            f"Across the analyst's choices the pooled SMD ranged from {c['SMD'].min():.2f} to "
            f"{c['SMD'].max():.2f}; treating the suspiciously small SDs of "
            f"{', '.join(prepost.converted)} as standard errors alone brings it to "
            f"{converted['SMD'].iloc[0]:.2f}.")
    if harms is not None:
        lo, hi = harms["exact"]
        parts.append(f"{harms['label']}: {harms['events']} of {harms['total']} patients "
                     f"({_pct(harms['rate'])}; exact 95% CI {_pct(lo)} to {_pct(hi)}).")
    return " ".join(parts)
