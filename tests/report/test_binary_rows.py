"""The robustness rows that pool counts: Mantel-Haenszel (OR, RR, RD) and Peto for 2x2
tables (the BCG example), the binomial-normal GLMM for proportions (the seed's immediate and
1-3 month rates, with counts rounded from the printed percentages), against metafor 3.8's
rma.mh, rma.peto and rma.glmm(measure = "PLO") in tests/fixtures/metafor_binary.json
(make_binary_fixtures.R, which rounds the counts the same way: round(percent / 100 * n)).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from metareview.report.analyses import analyse_outcome, event_counts
from metareview.report.protocol import load_protocol
from metareview.report.text import methods_text, outcome_sentences
from tests.conftest import load_fixture

EXAMPLES = Path(__file__).parents[2] / "examples"
REF = {c["id"]: c for c in load_fixture("metafor_binary")["cases"]}
CLOSED = 1e-10  # MH / Peto closed forms; measured worst case 9e-16
# GLMM: metafor's lme4 optimum against ours (the 1e-4 relative); measured worst case
# 1.6e-5 (tau2), 9.4e-6 (PI bounds), 2.4e-6 (estimate and CI) on these two outcomes
GLMM = 1e-4


def _analyse(folder: str, outcome: str):
    protocol = load_protocol(EXAMPLES / folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return protocol, analyse_outcome(protocol, protocol.outcome(outcome))


@pytest.fixture(scope="module")
def bcg():
    return _analyse("bcg-vaccine", "tuberculosis")


ROWS_2X2 = {
    "Mantel-Haenszel, odds ratio": ("mh_bcg_OR_default", np.exp),
    "Mantel-Haenszel, risk ratio": ("mh_bcg_RR_default", np.exp),
    "Mantel-Haenszel, risk difference": ("mh_bcg_RD_default", lambda x: x),
    "Peto odds ratio": ("peto_bcg", np.exp),
}


@pytest.mark.parametrize("label", ROWS_2X2)
def test_2x2_rows_match_rma_mh_and_rma_peto(bcg, label):
    _, analysis = bcg
    case, back = ROWS_2X2[label]
    ref = REF[case]["result"]
    row = analysis.robustness.loc[label]
    assert row["k"] == ref["k"] == 13
    for key in ("ci_lb", "ci_ub"):
        np.testing.assert_allclose(row[key], back(ref[key]), rtol=CLOSED, err_msg=key)
    np.testing.assert_allclose(row["estimate"], back(ref["beta"]), rtol=CLOSED)
    np.testing.assert_allclose(row["I2"], ref["I2"], rtol=CLOSED)
    assert np.isnan(row["tau2"]) and np.isnan(row["pi_lb"]) and np.isnan(row["egger_p"])


def test_2x2_methods_text_names_the_count_methods(bcg):
    protocol, analysis = bcg
    text = methods_text(protocol, {"tuberculosis": analysis})
    assert "Mantel-Haenszel (odds ratio, risk ratio, risk difference) and Peto fits" in text
    assert "13 ways of pooling were compared" in text
    s = outcome_sentences(protocol, analysis)
    peto = analysis.robustness.loc["Peto odds ratio", "estimate"]
    assert f"Peto odds ratio {peto:.2f})" in s["robustness"]  # one row: no range "x to x"


@pytest.mark.parametrize("outcome", ["immediate", "followup"])
def test_seed_glmm_row_matches_rma_glmm(outcome):
    protocol, analysis = _analyse("ketamine-crps", outcome)
    ref = REF[f"glmm_PLO_seed_{outcome}"]
    used = analysis.data[analysis.data["used"]]
    # the counts the report derives are the fixture's: round(percent x n)
    assert event_counts(used).tolist() == ref["xi"]
    row = analysis.robustness.loc["GLMM (binomial-normal, ML), logit, events rounded from % x n"]
    res = ref["result"]
    assert row["k"] == res["k"]
    for key, want in (
        ("estimate", expit(res["beta"])),
        ("ci_lb", expit(res["ci_lb"])),
        ("ci_ub", expit(res["ci_ub"])),
        ("tau2", res["tau2"]),
        ("pi_lb", res["pred_pi_lb"]),
        ("pi_ub", res["pred_pi_ub"]),
    ):
        np.testing.assert_allclose(row[key], want, rtol=GLMM, err_msg=key)
    text = methods_text(protocol, {outcome: analysis})
    assert "(events = percentage x n, rounded to a whole number) for every study of " in text
    assert f"{analysis.outcome.label} ({len(used)} studies)" in text


def test_seed_immediate_glmm_is_the_published_metafor_value():
    # issue 18: rma.glmm(measure = "PLO") gives 65.4% (46.3%, 80.6%) with all nine studies
    _, analysis = _analyse("ketamine-crps", "immediate")
    row = analysis.robustness.loc["GLMM (binomial-normal, ML), logit, events rounded from % x n"]
    assert row["k"] == 9
    assert [round(100 * row[k], 1) for k in ("estimate", "ci_lb", "ci_ub")] == [65.4, 46.3, 80.6]


def test_summary_gives_tau2_with_its_q_profile_ci(bcg):
    """The methods text says tau² CIs use the Q-profile method, so the summary shows them
    (the bounds themselves are checked against metafor's confint in tests/stats)."""
    protocol, analysis = bcg
    res = analysis.main
    summary = outcome_sentences(protocol, analysis)["summary"]
    # metafor 3.8: rma(measure="RR", dat.bcg) tau^2 = 0.3132, confint 0.1197 to 1.1115
    assert "I² = 92%, tau² = 0.31 [95% CI 0.12 to 1.11]) by" in summary
    assert np.isclose(res.tau2, 0.3132, atol=5e-5)


ZERO_CELL = {"used": [True, True], "ai": [0, 4], "bi": [12, 8], "ci": [3, 5], "di": [9, 7]}


@pytest.mark.parametrize(
    ("to", "add", "said"),
    [
        ("only0", None, "0.5 added to every cell of tables with a zero cell"),
        ("if0all", None, "0.5 added to every cell of every table"),
        ("all", 1.0, "1 added to every cell of every table"),
        ("none", None, "no continuity correction"),
        ("only0", 0.0, "no continuity correction"),
    ],
)
def test_2x2_row_names_the_continuity_correction(to, add, said):
    """A zero cell in a used 2x2 table is corrected as metafor's escalc does (add, to); the
    robustness row says which correction was made (found missing by a new-user check)."""
    import pandas as pd

    from metareview.report.analyses import Variant

    label = Variant("OR", "REML", "z", add).label(pd.DataFrame(ZERO_CELL), to)
    assert label.endswith(said)
    no_zero = pd.DataFrame({**ZERO_CELL, "used": [False, True]})
    assert "added" not in Variant("OR", "REML", "z").label(no_zero, "only0")
