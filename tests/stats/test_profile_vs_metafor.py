"""Fit statistics and profile-likelihood CIs of rma() fits against metafor's ``fitstats`` and
``confint(type = "PL")`` (tests/fixtures/metafor_profile.json, made by
tests/fixtures/make_profile_fixtures.R)."""

from __future__ import annotations

import numpy as np
import pytest

from metareview import rma
from metareview.exceptions import InputError
from tests.conftest import load_fixture

CASES = load_fixture("metafor_profile")["cases"]
BOUNDS = {"tau2": "tau2", "tau": "tau", "I2": "I2", "H2": "H2"}

#: tau2: observed worst relative difference 4.5e-9 (ML with absolute latitude as moderator on
#: dat.bcg; both sides stop Fisher scoring at a change below 1e-10); the rest agree to 1e-14
RTOL_TAU2 = 1e-8
#: fitstats: observed worst relative difference 4.4e-15 (the log-likelihood is flat at its
#: maximum, so the tau2 difference above does not show)
RTOL_FIT = 1e-12
#: interval bounds (QP and PL): observed worst relative difference 2.4e-11 (both sides stop
#: their root searches at ~1e-12)
RTOL_CI = 1e-10


def _fit(case):
    return rma(case["yi"], case["vi"], mods=case["mods"], method=case["method"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_fitstats_match_metafor(case):
    res = _fit(case)
    np.testing.assert_allclose(res.tau2, case["tau2"], rtol=RTOL_TAU2, atol=1e-14)
    stats = res.fitstats()
    for key in ("logLik", "deviance", "AIC", "BIC", "AICc"):
        np.testing.assert_allclose(stats[key], case[key], rtol=RTOL_FIT, err_msg=key)


ML_CASES = [c for c in CASES if c["method"] in ("ML", "REML")]


@pytest.mark.parametrize("case", ML_CASES, ids=[c["id"] for c in ML_CASES])
@pytest.mark.parametrize("kind", ["QP", "PL"])
def test_confint_matches_metafor(case, kind):
    ci = _fit(case).confint(type=kind)
    for name, key in BOUNDS.items():
        np.testing.assert_allclose(
            [ci[f"{key}_ci_lb"], ci[f"{key}_ci_ub"]],
            case[kind][name],
            rtol=RTOL_CI,
            atol=1e-12,
            err_msg=f"{kind} {name}",
        )


def test_reml_outside_its_q_profile_interval_but_inside_its_profile_likelihood_one():
    # the simulated k = 300 set: heterogeneity grows with the sampling variance, REML and
    # Paule-Mandel part, and the Q-profile interval (centred on PM) misses the REML estimate
    case = next(c for c in CASES if c["id"] == "simulated300_REML")
    res = _fit(case)
    qp, pl = res.confint(), res.confint(type="PL")
    assert res.tau2 < qp["tau2_ci_lb"]
    assert pl["tau2_ci_lb"] < res.tau2 < pl["tau2_ci_ub"]


def test_profile_interval_needs_a_likelihood_estimator():
    case = next(c for c in CASES if c["id"] == "bcg_RR_DL")
    with pytest.raises(InputError, match=r"needs method='ML' or 'REML'; this fit used 'DL'"):
        _fit(case).confint(type="PL")
    with pytest.raises(InputError, match=r"type must be one of QP, PL"):
        _fit(case).confint(type="Wald")
