"""The BCG vaccine trials (Colditz et al. 1994, JAMA 271:698; metadat's dat.bcg) as a review
folder with 2x2 tables: the random-effects risk ratio 0.49 (0.34 to 0.70) is reproduced by
DerSimonian-Laird. Its source, as the protocol's [published] source says: metafor's test suite
records Stata's metan on these 13 trials as RR 0.4896 (0.3449 to 0.6950)
(tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r); the paper's own text could not be
read here. Every robustness row (RR, OR, RD x DL, REML, REML with
Hartung-Knapp) matches metafor 3.8.1 (tests/fixtures/metafor_report_examples.json, made by
make_report_examples.R, which also wrote the folder's trials.csv)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from metareview.report.analyses import analyse_outcome
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol
from metareview.report.text import outcome_sentences
from tests.conftest import load_fixture

EXAMPLE = Path(__file__).parents[2] / "examples" / "bcg-vaccine"
REF = [
    c
    for c in load_fixture("metafor_report_examples")["cases"]
    if c["example"] == "bcg" and "measure" in c
]  # the robustness rows
RTOL = 1e-12  # measured worst case 1.8e-14 (RD, DL, estimate); REML rows 2.7e-15
REG_RTOL = 1e-12  # measured worst: meta-regression 1.5e-14, subgroups 7.9e-15
KEYS = ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2")


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(EXAMPLE)


@pytest.fixture(scope="module")
def analysis(protocol):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyse_outcome(protocol, protocol.outcome("tuberculosis"))


def test_every_robustness_row_matches_metafor(analysis):
    rob = analysis.robustness
    rob = rob[~rob["model"].isin(["MH", "PETO"])]  # those: tests/report/test_binary_rows.py
    assert len(rob) == len(REF) == 9
    for ref in REF:
        row = rob[
            (rob["measure"] == ref["measure"])
            & (rob["model"] == ref["method"])
            & (rob["test"] == ref["test"])
        ].iloc[0]
        assert row["k"] == ref["k"] == 13
        for key in KEYS:
            np.testing.assert_allclose(row[key], ref[key], rtol=RTOL, err_msg=f"{ref['id']} {key}")
        np.testing.assert_allclose(row["egger_p"], ref["egger_lm_pval"], rtol=RTOL)


def test_protocol_fit_is_the_cited_default_and_published_fit_is_dl(analysis):
    assert (analysis.main.measure, analysis.main.method, analysis.main.test) == (
        "RR",
        "REML",
        "knha",
    )
    assert (analysis.published.method, analysis.published.test) == ("DL", "z")
    ref = next(c for c in REF if c["id"] == "bcg_RR_REML_knha")
    np.testing.assert_allclose(analysis.begg.pval, ref["begg_pval"], rtol=RTOL)


def test_published_numbers_reproduced(tmp_path):
    out = build_report(EXAMPLE, tmp_path)
    table = out.comparison.set_index("quantity")
    label = "Tuberculosis, vaccinated vs unvaccinated"
    assert table.loc[label, "published"] == "0.49" and table.loc[label, "reproduced"] == "0.490"
    assert table.loc[f"{label} (95% CI upper)", "published"] == "0.70"  # digits = 2
    assert table.loc[f"{label} (95% CI upper)", "reproduced"] == "0.695"
    assert set(table["verdict"]) == {"reproduced"}


def test_sentences_state_the_direction_found(protocol, analysis):
    s = outcome_sentences(protocol, analysis)
    pred = analysis.predict(analysis.main)
    assert pred["ci_ub"] < 1  # computed: the whole CI favours the vaccine
    assert s["direction"] == (
        'The 95% CI lies entirely below 1.00 (the side labelled "Favours vaccine").'
    )
    below = int((analysis.main.yi < 0).sum())
    assert s["studies"] == f"{13 - below} of 13 study estimates lie above 1.00 and {below} below."
    # each measure's CI is judged against its own null: 1 for ratios, 0 for the difference
    rob = analysis.robustness
    nulls = np.where(rob["measure"] == "RD", 0.0, 1.0)
    assert s["robustness"].endswith(
        f"the 95% CI lies entirely below the value of no effect for "
        f"{int((rob['ci_ub'] < nulls).sum())} of {len(rob)}."
    )
    mh_rd = next(
        c for c in load_fixture("metafor_binary")["cases"] if c["id"] == "mh_bcg_RD_default"
    )["result"]["beta"]  # metafor's rma.mh
    rd = [c["estimate"] for c in REF if c["measure"] == "RD"] + [mh_rd]  # -0.025 to -0.003
    assert f"risk difference {min(rd):.3f} to {max(rd):.3f}" in s["robustness"]
    assert "omission" not in s  # no method leaves a trial out: no comparison to state


def test_html_has_favours_labels_and_no_paper_wording_from_elsewhere(tmp_path):
    out = build_report(EXAMPLE, tmp_path)
    html = out.html.read_text(encoding="utf-8")
    assert "Reproduction of: Colditz GA" in html
    assert "Published numbers: DerSimonian-Laird random-effects risk ratio" in html  # [published]
    text = re.sub(r'src="data:[^"]+"', "", html)  # the words, not the embedded images
    assert not re.search(r"\bpain|ketamine|CRPS|patients with", text, re.I)
    assert {p.name for p in out.figures} == {"forest_tuberculosis.png", "funnel_tuberculosis.png"}


def test_meta_regression_on_latitude_matches_metafor(protocol, analysis):
    ref = next(
        c
        for c in load_fixture("metafor_report_examples")["cases"]
        if c["id"] == "bcg_RR_REML_knha_mods_ablat"
    )
    res = analysis.regression
    table = res.table()
    assert list(table.index) == ["intrcpt", "Absolute latitude"] and res.k == ref["k"]
    for ours, key in (
        (table["estimate"], "beta"),
        (table["se"], "se"),
        (table["pval"], "pval"),
        (table["ci_lb"], "ci_lb"),
        (table["ci_ub"], "ci_ub"),
    ):
        np.testing.assert_allclose(ours, ref[key], rtol=REG_RTOL, err_msg=key)
    np.testing.assert_allclose(
        [res.QM, res.QMp, res.R2, res.tau2],
        [ref["QM"], ref["QMp"], ref["R2"], ref["tau2"]],
        rtol=REG_RTOL,
    )
    s = outcome_sentences(protocol, analysis)["regression"]
    assert ref["beta"][1] < 0 and ref["pval"][1] < 0.05  # metafor: protection grows with it
    assert "the log risk ratio falls as Absolute latitude increases" in s


def test_subgroups_by_allocation_match_metafor(protocol, analysis):
    ref = next(
        c
        for c in load_fixture("metafor_report_examples")["cases"]
        if c["id"] == "bcg_RR_REML_knha_subgroup_alloc"
    )
    fits = analysis.subgroups.subgroups
    assert list(fits) == ref["groups"]
    for i, group in enumerate(ref["groups"]):
        fit = fits[group]
        assert fit.k == ref["k"][i]
        np.testing.assert_allclose(
            [fit.estimate, fit.ci_lb[0], fit.ci_ub[0], fit.tau2],
            [ref[k][i] for k in ("estimate", "ci_lb", "ci_ub", "tau2")],
            rtol=REG_RTOL,
            err_msg=group,
        )
    d = analysis.subgroups.to_dict()
    np.testing.assert_allclose(
        [d["Q_between"], d["p_between"]], [ref["Q_between"], ref["p_between"]], rtol=REG_RTOL
    )
    assert ref["p_between"] > 0.05
    assert outcome_sentences(protocol, analysis)["subgroups"].endswith(
        "no evidence at the 5% level that the subgroups differ."
    )
