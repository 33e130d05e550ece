"""Result objects: frozen, JSON-safe, and printed like metafor."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from metareview import rma, rma_batch
from tests.conftest import load_fixture

BCG = next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_z")
#: tests/fixtures/metafor_results.json, from make_results_fixtures.R
RESULTS = load_fixture("metafor_results")["cases"]
RTOL_STUDY_TABLE = 1e-12  # weights, SEs and CIs: observed 1.6e-13 (ci_ub)
RTOL_CONFINT = 1e-11  # Q-profile roots to 1e-12 on both sides: observed 9.1e-13 (tau2_ci_lb)


@pytest.fixture(scope="module")
def bcg():
    return rma(BCG["yi"], BCG["vi"], slab=BCG["slab"], method="REML")


def test_result_is_frozen(bcg):
    with pytest.raises(dataclasses.FrozenInstanceError):
        bcg.tau2 = 0.0


def test_to_dict_is_json_safe_and_has_the_contract_keys(bcg):
    d = json.loads(json.dumps(bcg.to_dict()))
    for key in (
        "estimate",
        "se",
        "zval",
        "pval",
        "ci_lb",
        "ci_ub",
        "pi_lb",
        "pi_ub",
        "tau2",
        "se_tau2",
        "tau2_ci_lb",
        "tau2_ci_ub",
        "I2",
        "H2",
        "QE",
        "QEp",
        "k",
    ):
        assert key in d
    assert d["method"] == "REML" and d["level"] == 0.95 and "metareview_version" in d


def test_summary_reads_like_metafor(bcg):
    text = bcg.summary()
    lines = text.splitlines()
    assert lines[0] == "Random-Effects Model (k = 13; tau^2 estimator: REML)"
    assert "tau^2 (estimated amount of total heterogeneity): 0.3132 (SE = 0.1664)" in text
    assert "I^2 (total heterogeneity / total variability): 92.22%" in text
    assert "Q(df = 12) = 152.2330, p-val <.0001" in text
    assert str(bcg) == text
    # the coefficient line: metafor prints -0.7145 0.1798 -3.9744 <.0001 -1.0669 -0.3622 ***
    row = next(line for line in lines if line.strip().startswith("-0.7145"))
    assert row.split() == ["-0.7145", "0.1798", "-3.9744", "<.0001", "-1.0669", "-0.3622", "***"]


def test_table_and_html(bcg):
    table = bcg.table()
    assert list(table.columns) == ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub"]
    assert table.shape == (1, 6)
    html = bcg._repr_html_()
    assert "<table" in html and "Random-Effects Model" in html


@pytest.mark.parametrize("case", RESULTS, ids=[c["id"] for c in RESULTS])
def test_study_table_is_metafors(case):
    # weights(res) and summary(escalc) in metafor; the weights used to be checked only for
    # summing to 100, which they do by construction
    res = rma(case["yi"], case["vi"], slab=case["slab"], method=case["method"])
    studies = res.study_table()
    assert list(studies.index) == case["slab"]
    for column in ("weight", "sei", "ci_lb", "ci_ub"):
        np.testing.assert_allclose(
            studies[column], case[column], rtol=RTOL_STUDY_TABLE, err_msg=f"{case['id']}: {column}"
        )


@pytest.mark.parametrize(
    "case",
    [c for c in RESULTS if c["method"] != "EE"],
    ids=[c["id"] for c in RESULTS if c["method"] != "EE"],
)
def test_confint_is_metafors_q_profile(case):
    # confint(res)$random in metafor; tau's bounds used to be checked only against the
    # square root of tau2's, which is how they are computed
    ci = rma(case["yi"], case["vi"], method=case["method"]).confint()
    assert set(ci) == {
        "tau2_ci_lb",
        "tau2_ci_ub",
        "tau_ci_lb",
        "tau_ci_ub",
        "I2_ci_lb",
        "I2_ci_ub",
        "H2_ci_lb",
        "H2_ci_ub",
    }
    for key, value in ci.items():
        np.testing.assert_allclose(
            value, case[key], rtol=RTOL_CONFINT, err_msg=f"{case['id']}: {key}"
        )


def test_meta_regression_summary_and_dict():
    case = next(
        c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_knha_mods"
    )
    X = np.array(case["mods"]["X"], dtype=float)
    res = rma(case["yi"], case["vi"], mods=X, method="REML", test="knha")
    d = res.to_dict()
    assert len(d["estimate"]) == 3 and {"QM", "QMp", "R2"} <= set(d)
    text = res.summary()
    assert "Mixed-Effects Model (k = 13; tau^2 estimator: REML)" in text
    assert "F(df1 = 2, df2 = 10)" in text


def test_subgroup_summary_lists_groups_and_the_test():
    case = load_fixture("metafor_subgroups")["cases"][0]
    res = rma(case["yi"], case["vi"], method=case["method"], subgroup=case["groups"])
    text = res.summary()
    for label in case["per_group"]:
        assert f"  {label}: k = " in text
    assert "Test for subgroup differences: Chi^2 = 1.54, df = 2" in text


def test_batch_to_frame_has_one_row_per_meta_analysis():
    Y = np.array([[0.1, 0.3, 0.5], [0.2, 0.2, 0.9]])
    frame = rma_batch(Y, np.full((2, 3), 0.04), method="DL").to_frame()
    assert len(frame) == 2
    assert {"estimate", "tau2", "I2", "QE", "converged"} <= set(frame.columns)
