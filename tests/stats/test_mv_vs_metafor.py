"""rma_mv() (nested multilevel models) against metafor 3.8 rma.mv.

Fixtures: tests/fixtures/metafor_mv.json, from make_mv_fixtures.R: dat.konstantopoulos2011
(~ 1 | district/school; REML and ML, z and t tests, moderator year) and dat.assink2016
(~ 1 | study/esid, with and without the factor deltype; ~ 1 | study). metafor's nlminb ran
with rel.tol = 1e-12 (1e-10 where it reports non-convergence at 1e-12; the JSON records it).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from metareview import InputError, MvResult, rma_mv
from tests.conftest import load_fixture

# Worst relative differences observed over all cases: sigma2 8.0e-7 (assink_mv, where
# metafor stopped at rel.tol 1e-10 with a log-likelihood 5e-12 below ours), p-values 5.2e-7,
# se 3.6e-8, beta 2.4e-8 (absolute 1e-8 for betas near 0); logLik/deviance/AIC/BIC/AICc
# 1.4e-11 absolute; QE 3e-15.
RTOL = 1e-6
RTOL_FIT = 1e-10  # fit statistics: absolute on values of order 10-100
CASES = load_fixture("metafor_mv")["cases"]
MV = [name for name, c in CASES.items() if c["kind"] == "rma_mv"]


def frame(case):
    cols = {k: case[k] for k in ("district", "school", "study", "esid") if k in case}
    return pd.DataFrame({"yi": case["yi"], "vi": case["vi"], **cols})


def fit(case):
    mods = None if case.get("mods") is None else np.asarray(case["mods"])
    if "deltype" in case:  # metafor's treatment coding of the factor, its names
        dt = np.asarray(case["deltype"])
        mods = pd.DataFrame(
            {n: (dt == n[len("deltype") :]).astype(float) for n in case["coef_names"][1:]}
        )
    return rma_mv(
        "yi",
        "vi",
        random=case["random"],
        mods=mods,
        data=frame(case),
        method=case["method"],
        test=case["test"],
    )


@pytest.mark.parametrize("name", MV)
def test_rma_mv_matches_metafor(name):
    case = CASES[name]
    ref = case["fit"]
    res = fit(case)
    assert isinstance(res, MvResult)
    np.testing.assert_allclose(res.sigma2, ref["sigma2"], rtol=RTOL)
    assert res.s_nlevels == tuple(ref["s_nlevels"])
    for key, ours in [
        ("beta", res.beta),
        ("se", res.se),
        ("zval", res.zval),
        ("pval", res.pval),
        ("ci_lb", res.ci_lb),
        ("ci_ub", res.ci_ub),
    ]:
        np.testing.assert_allclose(ours, ref[key], rtol=RTOL, atol=1e-8, err_msg=key)
    np.testing.assert_allclose(res.vb, np.asarray(ref["vb"]), rtol=2 * RTOL)
    for key in ("logLik", "deviance", "AIC", "BIC", "AICc"):
        assert getattr(res, key) == pytest.approx(ref[key], abs=RTOL_FIT), key
    # our optimum is at least as high as metafor's
    assert res.logLik >= ref["logLik"] - 1e-12
    np.testing.assert_allclose([res.QE, res.QEp], [ref["QE"], ref["QEp"]], rtol=1e-9)
    np.testing.assert_allclose([res.QM, res.QMp], [ref["QM"], ref["QMp"]], rtol=RTOL)
    assert res.k == ref["k"]
    if case["test"] == "t":
        assert res.ddf == ref["ddf"][0]
        assert list(res.QM_df) == pytest.approx(ref["QMdf"])


def test_rma_mv_outputs():
    res = fit(CASES["konst_mv_year"])
    assert res.sigma2_names == ("district", "district/school")
    assert res.coef_names == ("intrcpt", "mod1")
    d = res.to_dict()
    json.dumps(d, allow_nan=False)  # JSON-safe (no NaN for the z test's missing df2)
    assert d["QM_df"] == [1, None]
    assert d["sigma2_names"] == ["district", "district/school"] and len(d["estimate"]) == 2
    text = res.summary()
    assert "sigma^2.2" in text and "Test of Moderators" in text and "district/school" in text
    assert "yi=" not in repr(res)


def test_rma_mv_large_nested_model_uses_blocks():
    # 20,000 effect sizes in 2,000 studies: no dense k x k matrix (that alone would be 3.2 GB)
    rng = np.random.default_rng(1)
    study = np.repeat(np.arange(2000), 10)
    vi = rng.uniform(0.01, 0.1, study.size)
    yi = (
        0.3
        + rng.normal(0, 0.3, 2000)[study]
        + rng.normal(0, 0.2, study.size)
        + rng.normal(0, np.sqrt(vi))
    )
    d = pd.DataFrame({"yi": yi, "vi": vi, "study": study, "esid": np.arange(study.size)})
    res = rma_mv("yi", "vi", random="~ 1 | study/esid", data=d)
    np.testing.assert_allclose(res.sigma2, [0.09, 0.04], rtol=0.15)


def test_rma_mv_bad_input():
    case = CASES["assink_mv"]
    d = frame(case)
    with pytest.raises(InputError, match=r"random must be .*~ 1 \| study.*got '~ 1 \+ x"):
        rma_mv("yi", "vi", random="~ 1 + x | study", data=d)
    with pytest.raises(InputError, match=r"'studie' is not a column of data"):
        rma_mv("yi", "vi", random="~ 1 | studie/esid", data=d)
    with pytest.raises(InputError, match=r"give them in data="):
        rma_mv(d["yi"], d["vi"], random="~ 1 | study")
    bad = d.copy()
    bad.loc[4, "vi"] = 0.0
    bad.loc[6, "vi"] = -0.1
    with pytest.raises(InputError, match=r"V \(sampling variances\) must be > 0.*2 value"):
        rma_mv("yi", "vi", random="~ 1 | study/esid", data=bad)
    bad = d.copy()
    bad.loc[2, "study"] = np.nan
    with pytest.raises(InputError, match=r"grouping column 'study' .* missing for"):
        rma_mv("yi", "vi", random="~ 1 | study/esid", data=bad)
    with pytest.raises(InputError, match=r"V: the sampling variances \(diagonal\) must be > 0"):
        rma_mv(d["yi"].to_numpy(), np.diag(bad["vi"].fillna(0.0)) * 0, random="~ 1 | study", data=d)
    with pytest.raises(InputError, match=r"method must be one of REML, ML"):
        rma_mv("yi", "vi", random="~ 1 | study", data=d, method="DL")
