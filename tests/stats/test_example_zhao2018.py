"""The seed review: Zhao, Wang & Wang (2018), Curr. Pain Headache Rep. 22:12.

Abstract and Results (p. 3): "The immediate pain relief event rate was 69% (95% confidence
interval (CI) 53%, 84%)", pooled in Stata 12 by DerSimonian-Laird on raw proportions. From
Table 1's "Immediate response (% relief)" with n from column N ("19(26)" read as 19), 9
studies report the rate; the 0% study (n = 4) has zero variance and leaves the fit, so 8
studies pool to 68.8% (53.5%, 84.1%), tau2 = 0.0375, Q = 37.64, I2 = 81.4% -- the values the
issue quotes, which metafor 3.8 also gives (fixture seed_immediate_PR_DL_z).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metareview import StudyOmittedWarning, escalc, rma
from metareview.casestudies.ketamine_crps import PUBLISHED_IMMEDIATE, immediate_response_rate
from tests.conftest import load_fixture

EXAMPLE = Path(__file__).parents[2] / "examples" / "ketamine-crps"
PERCENT = [76, 62, 93.5, 0, 26.3, 62.5, 77, 83.3, 67]  # Table 1, as printed
N = [33, 13, 20, 4, 19, 16, 18, 5, 30]


@pytest.fixture(scope="module")
def immediate():
    with pytest.warns(StudyOmittedWarning, match=r"Kiefer, R et al \(2008b\)"):
        return immediate_response_rate(EXAMPLE)


def test_reproduces_the_papers_printed_rate(immediate):
    # the paper prints whole percentages
    assert round(100 * immediate.estimate) == round(100 * PUBLISHED_IMMEDIATE["estimate"])
    assert round(100 * immediate.ci_lb[0]) in (53, 54)  # 53.5 rounds half-up/half-even
    assert round(100 * immediate.ci_ub[0]) == round(100 * PUBLISHED_IMMEDIATE["ci_ub"])


def test_unrounded_values_quoted_in_the_issue(immediate):
    d = immediate.to_dict()
    assert d["k"] == 8
    assert d["estimate"] == pytest.approx(0.688, abs=5e-4)
    assert d["ci_lb"] == pytest.approx(0.535, abs=5e-4)
    assert d["ci_ub"] == pytest.approx(0.841, abs=5e-4)
    assert d["tau2"] == pytest.approx(0.0375, abs=5e-5)
    assert d["QE"] == pytest.approx(37.64, abs=5e-3)
    assert d["I2"] == pytest.approx(81.4, abs=0.05)
    assert d["omitted"] == ["Kiefer, R et al (2008b)"]


def test_matches_metafor_on_the_same_eight_studies(immediate):
    ref = next(
        c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "seed_immediate_PR_DL_z"
    )["result"]
    np.testing.assert_allclose(immediate.beta, ref["beta"], rtol=1e-6)
    np.testing.assert_allclose(immediate.ci_lb, ref["ci_lb"], rtol=1e-6)
    np.testing.assert_allclose(immediate.tau2, ref["tau2"], rtol=1e-6)
    np.testing.assert_allclose(immediate.QE, ref["QE"], rtol=1e-6)


def test_zero_variance_study_can_be_an_error():
    es = escalc("PR", pi=np.array(PERCENT) / 100, ni=N, add=0)
    with pytest.raises(Exception, match=r"vi is 0 at row 4 .*zero_variance='omit'"):
        rma(es, method="DL", zero_variance="error")


def test_metafor_default_correction_keeps_the_zero_study():
    # escalc's default adds 1/2 to x = 0 studies (metafor), so the 0% study stays in
    es = escalc("PR", pi=np.array(PERCENT) / 100, ni=N)
    res = rma(es, method="DL")
    assert res.k == 9
    assert res.estimate < 0.688
