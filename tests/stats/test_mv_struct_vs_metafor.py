"""rma_mv() with a covariance matrix V and "~ inner | outer" terms, vcalc() and confint(),
against metafor 3.8.1.

Fixtures: tests/fixtures/metafor_mv_struct.json from make_mv_struct_fixtures.R:
dat.berkey1998 (V from vcalc(rvars=), ~ outcome | trial with UN, CS, HCS; UN by ML with a
year moderator; confint and robust CR2 of the UN fit), dat.konstantopoulos2011 (~ school |
district with CS, which equals ~ 1 | district/school; a list of terms ~ 1 | district +
~ school | district with HCS; profile CIs of the nested model), dat.ishak2007 (AR and HAR with
the AR(1) V of its documentation, vcalc(time1=, phi=0.97); confint of AR), and vcalc() on
dat.ishak2007 and dat.assink2016, and clubSandwich 0.5.8's impute_covariance_matrix on
dat.assink2016. metafor's nlminb ran with rel.tol = 1e-12 or, where it
reports non-convergence there, 1e-10 (the JSON records which).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from metareview import InputError, MvResult, impute_covariance_matrix, rma_mv, robust, vcalc
from metareview.exceptions import MetareviewWarning
from tests.conftest import load_fixture

FIX = load_fixture("metafor_mv_struct")
CASES = FIX["cases"]
# Worst relative differences observed over all cases: tau2 3.3e-6 and se 2.0e-6 (ishak_AR,
# berkey_HCS: metafor stopped at rel.tol 1e-10 with a log-likelihood up to 1.1e-10 below
# ours), beta 2.1e-6 absolute on values ~ -30 (ishak_HAR), QM 2.3e-6, rho 1.1e-6.
RTOL = 1e-5
# logLik/deviance/AIC/BIC/AICc: worst absolute difference 2.2e-10 (ishak_HAR).
ATOL_FIT = 1e-9
# profile CI bounds: metafor's uniroot ran at tol 1e-10; worst relative difference 4e-7.
RTOL_CI = 1e-5
# vcalc: worst absolute difference 3.8e-13 (phi^lag computed in another order)
ATOL_VCALC = 1e-12


def build(case: dict) -> MvResult:
    cols = {
        k: case[k]
        for k in ("trial", "outcome", "year", "district", "school", "study", "time")
        if k in case
    }
    df = pd.DataFrame({"yi": case["yi"], **cols})
    if "school" in df:  # numeric, as in metadat: its levels sort as numbers
        df["school"] = df["school"].astype(int)
    mods, intercept = None, True
    spec = case["mods"]
    if spec == "outcome-1":  # metafor's mods = ~ outcome - 1: one indicator per level
        mods = pd.DataFrame(
            {f"outcome{v}": (df.outcome == v).astype(float) for v in sorted(df.outcome.unique())}
        )
        intercept = False
    elif spec == "outcome+year":
        mods = pd.DataFrame(
            {"outcomePD": (df.outcome == "PD").astype(float), "year": df.year - 1983}
        )
    elif spec == "time-1":
        mods = pd.DataFrame(
            {f"time{v:g}": (df.time == v).astype(float) for v in sorted(df.time.unique())}
        )
        intercept = False
    elif spec == "year-1990":
        mods = pd.DataFrame({"year": df.year - 1990})
    V = np.asarray(case["V"])
    return rma_mv(
        df.yi,
        V,
        random=case["random"],
        struct=case["struct"] or "CS",
        mods=mods,
        intercept=intercept,
        data=df,
        method=case["method"],
    )


@pytest.mark.parametrize("name", list(CASES))
def test_rma_mv_struct_matches_metafor(name):
    case = CASES[name]
    ref = case["fit"]
    res = build(case)
    for key in ("sigma2", "tau2", "rho"):
        np.testing.assert_allclose(getattr(res, key), ref[key], rtol=RTOL, err_msg=key)
    for key in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub"):
        np.testing.assert_allclose(getattr(res, key), ref[key], rtol=RTOL, atol=1e-8, err_msg=key)
    np.testing.assert_allclose(res.vb, np.asarray(ref["vb"]), rtol=2 * RTOL, atol=1e-10)
    for key in ("logLik", "deviance", "AIC", "BIC", "AICc"):
        assert getattr(res, key) == pytest.approx(ref[key], abs=ATOL_FIT), key
    assert res.logLik >= ref["logLik"] - 1e-12  # our optimum is at least as high
    np.testing.assert_allclose([res.QE, res.QEp], [ref["QE"], ref["QEp"]], rtol=1e-9)
    np.testing.assert_allclose([res.QM, res.QMp], [ref["QM"], ref["QMp"]], rtol=RTOL, atol=1e-12)
    assert res.k == ref["k"]
    assert len(res.beta) + int((~res.components()["fixed"]).sum()) == ref["parms"]
    if ref["g_levels"]:
        assert list(res.g_levels) == ref["g_levels"]


def test_cs_equals_nested_model():
    # ~ school | district with CS is ~ 1 | district/school reparametrised (metafor's docs)
    cs = build(CASES["konst_CS"])
    nested = build(CASES["konst_nested_confint"])
    assert cs.logLik == pytest.approx(nested.logLik, abs=1e-9)
    np.testing.assert_allclose(cs.tau2 * cs.rho, nested.sigma2[0], rtol=1e-6)
    np.testing.assert_allclose(cs.tau2 * (1 - cs.rho), nested.sigma2[1], rtol=1e-6)


@pytest.mark.parametrize("name", ["konst_nested_confint", "ishak_AR"])
def test_confint_matches_metafor(name):
    case = CASES[name]
    res = build(case)
    ci = res.confint()
    expected = [row for comp in case["confint"].values() for row in comp]
    np.testing.assert_allclose(ci.to_numpy(), np.asarray(expected, dtype=float), rtol=RTOL_CI)
    prof = res.profile(ci.index[0], [ci.iloc[0]["ci_lb"], ci.iloc[0]["estimate"]])
    # at the bound the log-likelihood has dropped by chi2(0.95, 1) / 2
    assert prof["logLik"].iloc[1] - prof["logLik"].iloc[0] == pytest.approx(
        3.841458820694124 / 2, rel=1e-6
    )


def test_robust_cr2_on_struct_model_matches_clubsandwich():
    case = CASES["berkey_UN"]
    ref = case["robust_CR2"]
    rob = robust(build(case), cluster=case["trial"])
    for key, ours in (
        ("beta", rob.beta),
        ("se", rob.se),
        ("ddf", rob.df),
        ("pval", rob.pval),
        ("ci_lb", rob.ci_lb),
        ("ci_ub", rob.ci_ub),
    ):
        np.testing.assert_allclose(ours, ref[key], rtol=RTOL, err_msg=key)


VCALC = [n for n in FIX["vcalc"] if not n.startswith("club_")]
CLUB = [n for n in FIX["vcalc"] if n.startswith("club_")]


@pytest.mark.parametrize("name", CLUB)
def test_impute_covariance_matrix_matches_clubsandwich(name):
    case = FIX["vcalc"][name]
    V = impute_covariance_matrix(
        case["vi"], case["cluster"], case["r"], smooth_vi=case["smooth_vi"]
    )
    np.testing.assert_allclose(V.toarray(), np.asarray(case["V"]), rtol=0, atol=ATOL_VCALC)


@pytest.mark.parametrize("name", VCALC)
def test_vcalc_matches_metafor(name):
    case = FIX["vcalc"][name]
    kw = {k: case[k] for k in ("obs", "type", "time1", "rho", "phi") if k in case}
    V = vcalc(case["vi"], case["cluster"], **kw)
    assert sparse.issparse(V)
    np.testing.assert_allclose(V.toarray(), np.asarray(case["V"]), rtol=0, atol=ATOL_VCALC)


def test_v_forms_agree():
    case = CASES["ishak_AR"]
    dense = build(case)
    df = pd.DataFrame({"yi": case["yi"], "study": case["study"], "time": case["time"]})
    Vd = np.asarray(case["V"])
    mods = pd.DataFrame({f"t{v:g}": (df.time == v).astype(float) for v in sorted(set(df.time))})
    # the same V as a sparse matrix and as a list of blocks (one per study, in row order)
    Vs = sparse.csr_matrix(Vd)
    starts = np.flatnonzero(np.r_[True, df.study.to_numpy()[1:] != df.study.to_numpy()[:-1]])
    ends = np.r_[starts[1:], len(df)]
    blocks = [Vd[a:b, a:b] for a, b in zip(starts, ends, strict=True)]
    for V in (Vs, blocks):
        res = rma_mv(
            df.yi, V, random="~ time | study", struct="AR", mods=mods, intercept=False, data=df
        )
        np.testing.assert_allclose(res.beta, dense.beta, rtol=1e-9)
        assert res.logLik == pytest.approx(dense.logLik, abs=1e-10)


def test_struct_outputs():
    res = build(CASES["berkey_UN"])
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["struct"] == "UN" and d["g_names"] == ["outcome", "trial"]
    assert d["g_levels"] == ["AL", "PD"] and d["rho_names"] == ["PD-AL"]
    text = res.summary()
    assert "struct: UN" in text and "tau^2.2" in text and "rho PD-AL" in text
    assert list(res.components().index) == ["tau2.1", "tau2.2", "rho"]
    assert res.G.shape == (2, 2)
    np.testing.assert_allclose(res.G[0, 1], res.rho[0] * np.sqrt(res.tau2.prod()))


def test_bad_input_names_study_and_column():
    case = CASES["berkey_UN"]
    df = pd.DataFrame({"yi": case["yi"], "trial": case["trial"], "outcome": case["outcome"]})
    V = np.asarray(case["V"])
    bad = V.copy()
    bad[2, 3] = bad[3, 2] = 2 * np.sqrt(bad[2, 2] * bad[3, 3])  # correlation 2 in trial 2
    with pytest.raises(InputError, match=r"V is not positive definite in the block of trial 2 "):
        rma_mv("yi", bad, random="~ outcome | trial", struct="UN", data=df)
    asym = V.copy()
    asym[0, 1] += 0.01
    with pytest.raises(InputError, match=r"V must be symmetric; V\[1, 2\]"):
        rma_mv("yi", asym, random="~ outcome | trial", struct="UN", data=df)
    with pytest.raises(InputError, match=r"V must be k x k with k = 10 .* got 9 x 9"):
        rma_mv("yi", V[:9, :9], random="~ outcome | trial", data=df)
    with pytest.raises(InputError, match=r"struct must be one of CS, HCS, UN, AR, HAR"):
        rma_mv("yi", V, random="~ outcome | trial", struct="GEN", data=df)
    with pytest.raises(InputError, match=r"'outcom' is not a column of data"):
        rma_mv("yi", V, random="~ outcom | trial", data=df)
    with pytest.raises(InputError, match=r"a second '~ inner \| outer' term"):
        rma_mv("yi", V, random=["~ outcome | trial", "~ outcome | trial"], data=df)
    missing = df.copy()
    missing.loc[3, "outcome"] = None
    with pytest.raises(InputError, match=r"inner factor 'outcome' .* missing for"):
        rma_mv("yi", V, random="~ outcome | trial", data=missing)
    with pytest.raises(InputError, match=r"component must be one of tau2.1, tau2.2, rho"):
        build(case).profile("sigma2.1", [0.1])


def test_vcalc_bad_input_and_warning():
    with pytest.raises(InputError, match=r"give rho= .* with obs="):
        vcalc([0.1, 0.2], [1, 1], obs=[1, 2])
    with pytest.raises(InputError, match=r"rho must be a pair"):
        vcalc([0.1, 0.2], [1, 1], obs=[1, 2], type=["a", "b"], rho=0.5)
    with pytest.raises(InputError, match=r"cluster is missing for"):
        vcalc([0.1, 0.2], [1, None], obs=[1, 2], rho=0.5)
    with pytest.raises(InputError, match=r"give phi="):
        vcalc([0.1, 0.2], [1, 1], time1=[1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MetareviewWarning, match=r"cluster s1 is not positive definite"):
            # three outcomes with pairwise correlation -0.9: not a correlation matrix
            vcalc([0.1] * 3, ["s1"] * 3, obs=[1, 2, 3], rho=-0.9)
