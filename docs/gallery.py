"""Render the figure gallery: ``python docs/gallery.py`` from the repository root.

Writes ``docs/gallery/*.png`` at 150 dpi (to keep the repository small; ``save_figure``
defaults to 300 dpi and also writes SVG and PDF). Data: the seed review (Zhao, Wang & Wang,
2018, Curr Pain Headache Rep 22:12) from ``examples/ketamine-crps``, and metafor's
``dat.bcg`` (Colditz et al., 1994) and ``dat.pritz1997`` (Pritz, 1997) as stored in the
reference fixtures under ``tests/fixtures``. The risk-of-bias figures use an ILLUSTRATIVE,
invented assessment table of fictional trials (said so in their titles).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from metareview import (
    ConvergenceWarning,
    StudyOmittedWarning,
    baujat,
    escalc,
    gosh,
    rma,
    rma_mh,
)
from metareview.casestudies.ketamine_crps import immediate_response_rate
from metareview.plots import (
    baujat_plot,
    bubble,
    forest,
    funnel,
    gosh_plot,
    labbe,
    prisma,
    rob,
    rob_summary,
    save_figure,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gallery"
DPI = 150

# PRISMA counts of the seed review (Zhao et al. 2018). The paper reports only two of them:
# 82 records identified and 15 studies included. Every other box is drawn as "not reported";
# nothing is made up (the real counts will come from the review store).
SEED_PRISMA = {
    "records_databases": 82,  # from the paper
    "records_registers": None,  # not reported
    "duplicates_removed": None,  # not reported
    "records_removed_automation": None,  # not reported
    "records_removed_other": None,  # not reported
    "records_screened": None,  # not reported
    "records_excluded": None,  # not reported
    "reports_sought": None,  # not reported
    "reports_not_retrieved": None,  # not reported
    "reports_assessed": None,  # not reported
    "reports_excluded": None,  # not reported
    "studies_included": 15,  # from the paper
}


# A fully ILLUSTRATIVE review (not the seed) that uses every box of the PRISMA 2020 template,
# including registers and the other-methods branch.
TEMPLATE_PRISMA = {
    "records_databases": {"MEDLINE": 412, "Embase": 388, "CENTRAL": 97},
    "records_registers": {"ClinicalTrials.gov": 31, "ICTRP": 12},
    "duplicates_removed": 301,
    "records_removed_automation": 24,
    "records_removed_other": 5,
    "records_screened": 610,
    "records_excluded": 548,
    "reports_sought": 62,
    "reports_not_retrieved": 4,
    "reports_assessed": 58,
    "reports_excluded": {
        "Wrong population": 17,
        "Wrong intervention": 9,
        "No comparator": 6,
        "Conference abstract only": 5,
    },
    "records_other_methods": {"Websites": 6, "Citation searching": 14},
    "other_reports_sought": 20,
    "other_reports_not_retrieved": 2,
    "other_reports_assessed": 18,
    "other_reports_excluded": {"Wrong population": 9, "Duplicate cohort": 5},
    "studies_included": 23,
    "reports_included": 25,
}


# An ILLUSTRATIVE RoB 2 assessment of eight fictional trials: invented judgements that show
# every level in every column of the figure. It assesses no real study.
ILLUSTRATIVE_ROB2 = pd.DataFrame(
    {
        "D1": ["Low", "Low", "Some concerns", "Low", "High", "Low", "Some concerns", "Low"],
        "D2": ["Low", "Some concerns", "Low", "Low", "Some concerns", "Low", "High", "Low"],
        "D3": ["Low", "Low", "Low", "Some concerns", "Low", "High", "Low", "Low"],
        "D4": ["Some concerns", "Low", "Low", "Low", "Low", "Low", "Some concerns", "Low"],
        "D5": ["Low", "Low", "Some concerns", "Low", "Some concerns", "Low", "Low", "Low"],
        "Overall": [
            "Some concerns",
            "Some concerns",
            "Some concerns",
            "Some concerns",
            "High",
            "High",
            "High",
            "Low",
        ],
        "Weight": [14.2, 9.8, 12.5, 18.1, 7.4, 11.0, 6.3, 20.7],
    },
    index=pd.Index([f"Trial {c}" for c in "ABCDEFGH"], name="Study"),
)


def _cases(name: str) -> dict[str, dict]:
    with open(ROOT / "tests" / "fixtures" / f"{name}.json", encoding="utf-8") as fh:
        return {case["id"]: case for case in json.load(fh)["cases"]}


def _save(fig, name: str) -> None:
    save_figure(fig, OUT / name, dpi=DPI, formats=("png",))
    plt.close(fig)
    print(f"wrote {OUT / name}.png")


def ketamine_forest() -> None:
    with warnings.catch_warnings():
        # one study (0% response, n = 4) has zero variance and leaves the fit, as in Stata
        warnings.simplefilter("ignore", StudyOmittedWarning)
        res = immediate_response_rate(ROOT / "examples" / "ketamine-crps")
    fig = forest(
        res,
        transf="percent",
        xlabel="Immediate pain relief (%)",
        extra_columns={"N": [f"{n:g}" for n in res.ni]},
        title="Ketamine infusion for CRPS: immediate pain relief (Zhao et al. 2018)",
    )
    _save(fig, "forest_ketamine_immediate")


def _bcg():
    case = _cases("metafor_escalc")["bcg_RR"]
    cells = case["inputs"]
    data = escalc("RR", slab=case["slab"], **cells)
    extra = {
        "Vaccinated": [f"{a}/{a + b}" for a, b in zip(cells["ai"], cells["bi"], strict=True)],
        "Control": [f"{c}/{c + d}" for c, d in zip(cells["ci"], cells["di"], strict=True)],
    }
    return data, extra


def bcg_forests() -> None:
    data, extra = _bcg()
    res = rma(data, method="REML")
    fig = forest(
        res,
        transf="exp",
        extra_columns=extra,
        sort_by="effect",
        title="BCG vaccine and tuberculosis (dat.bcg)",
    )
    _save(fig, "forest_bcg_rr")

    groups = _cases("metafor_subgroups")["bcg_RR_alloc_REML_z"]["groups"]
    names = {
        "random": "Random allocation",
        "alternate": "Alternate allocation",
        "systematic": "Systematic allocation",
    }
    res = rma(data, method="REML", subgroup=[names[g] for g in groups])
    fig = forest(
        res,
        transf="exp",
        extra_columns=extra,
        title="BCG vaccine and tuberculosis, by method of allocation",
    )
    _save(fig, "forest_bcg_rr_allocation")

    fig = funnel(rma(data, method="REML"), egger_line=True)
    _save(fig, "funnel_bcg_contour")


def bcg_mh_forest() -> None:
    """The same trials pooled as RevMan does by default for a risk ratio: Mantel-Haenszel
    (equal effects; study weights c n1 / N), beside the REML random-effects plot."""
    case = _cases("metafor_escalc")["bcg_RR"]
    _, extra = _bcg()
    res = rma_mh(**case["inputs"], measure="RR", slab=case["slab"])
    fig = forest(
        res,
        transf="exp",
        extra_columns=extra,
        sort_by="effect",
        title="BCG vaccine and tuberculosis (dat.bcg), Mantel-Haenszel",
    )
    _save(fig, "forest_bcg_rr_mh")


def pritz_forest() -> None:
    case = _cases("metafor_escalc")["pritz1997_PLO"]
    cells = case["inputs"]
    res = rma(escalc("PLO", slab=case["slab"], **cells), method="REML")
    fig = forest(
        res,
        transf="expit",
        xlabel="Proportion with favourable outcome",
        extra_columns={
            "Events/N": [f"{x}/{n}" for x, n in zip(cells["xi"], cells["ni"], strict=True)]
        },
        title="Pritz (1997): proportion of favourable outcomes (logit, back-transformed)",
    )
    _save(fig, "forest_pritz1997_plo")


def seed_prisma() -> None:
    _save(prisma(SEED_PRISMA), "prisma_ketamine_crps")
    _save(prisma(TEMPLATE_PRISMA), "prisma_template_illustrative")


def _bcg_rma(mods: bool = False):
    case = _cases("metafor_rma")["bcg_RR_REML_z_mods" if mods else "bcg_RR_REML_z"]
    moderators = pd.DataFrame(case["mods"]["X"], columns=case["mods"]["names"]) if mods else None
    res = rma(
        case["yi"],
        case["vi"],
        slab=case["slab"],
        measure="RR",
        method=case["method"],
        mods=None if moderators is None else moderators[["ablat"]],
    )
    return res


def bcg_influence() -> None:
    res = _bcg_rma()
    _save(baujat_plot(res), "baujat_bcg")
    with warnings.catch_warnings():
        # 3 of 8,191 subsets have their REML maximum at tau2 = 0 (set there, as metafor does)
        warnings.simplefilter("ignore", ConvergenceWarning)
        subsets = gosh(res)
    _save(gosh_plot(subsets, ylabel="Log risk ratio"), "gosh_bcg")
    most_influential = str(baujat(res)["y"].idxmax())
    _save(
        gosh_plot(subsets, ylabel="Log risk ratio", highlight=most_influential),
        "gosh_bcg_highlight",
    )


def bcg_regression() -> None:
    res = _bcg_rma(mods=True)
    fig = bubble(res, xlabel="Absolute latitude (degrees)")
    _save(fig, "bubble_bcg_ablat")


def bcg_labbe() -> None:
    case = _cases("metafor_escalc")["bcg_RR"]
    cells = case["inputs"]
    res = rma(escalc("RR", slab=case["slab"], **cells), method="REML")
    fig = labbe(
        **cells,
        res=res,
        scale="log",
        xlabel="Tuberculosis risk, unvaccinated (log scale)",
        ylabel="Tuberculosis risk, BCG vaccinated (log scale)",
    )
    _save(fig, "labbe_bcg")


def illustrative_rob() -> None:
    title = "ILLUSTRATIVE RoB 2 assessment (invented judgements, fictional trials)"
    _save(rob(ILLUSTRATIVE_ROB2, tool="RoB2", title=title), "rob2_traffic_light_illustrative")
    _save(
        rob_summary(ILLUSTRATIVE_ROB2, tool="RoB2", weights="Weight", title=title),
        "rob2_summary_illustrative",
    )


def main() -> None:
    ketamine_forest()
    bcg_forests()
    bcg_mh_forest()
    pritz_forest()
    seed_prisma()
    bcg_influence()
    bcg_regression()
    bcg_labbe()
    illustrative_rob()


if __name__ == "__main__":
    main()
