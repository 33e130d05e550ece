"""Conditional GLMMs, rate-ratio UM.RS, subgroups and leave1out of count fits vs metafor 3.8.1.

Fixture: tests/fixtures/metafor_glmm_conditional.json (make_glmm_conditional_fixtures.R):

* ``rma.glmm(measure="OR", model="CM.EL")`` (noncentral hypergeometric likelihood, integrated
  by R's ``integrate`` at rel.tol 1.2e-4, BiasedUrn's density) and ``model="CM.AL"`` (lme4,
  nAGQ = 7) on dat.bcg, dat.nielweise2007 and dat.collins1985a (rebleeding);
* ``measure="IRR"`` with ``model="CM.EL"`` and ``"UM.RS"`` on dat.hart1999 (tau2 = 0) and
  dat.nielweise2008;
* subgroups (dat.bcg by allocation) of rma.mh, rma.peto and rma.glmm fits: one fit per
  subgroup and an equal-effects rma() of their estimates for Q_between;
* leave-one-out loops of rma.glmm (UM.FS on dat.bcg, PLO on dat.pritz1997);
* metafor's refusal of PLN on dat.pritz1997.

CM.EL's Wald-type heterogeneity test is checked against an independent computation in R
(each study's conditional MLE by optimize, its information by numDeriv at default settings)
rather than against metafor's QE.Wld: metafor takes it from numDeriv's Hessian of the
saturated model with r = 16, which on dat.bcg puts 18,365 on a diagonal whose analytic value
is 560 (268.6 against 163.09 from the study-by-study computation and from ours). The same
numDeriv setting moves metafor's standard errors (by up to 2.7e-3 on a table of
bench/bench_binary.py); ours equal numDeriv's default Hessian of the likelihood integrated at
rel.tol 1e-12 to 5e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from metareview import InputError, leave1out, rma_glmm, rma_mh, rma_peto
from metareview.stats.glmm import _ConditionalExact, _Hypergeometric, _Model, _RandomStudies
from tests.conftest import load_fixture

ALL = load_fixture("metafor_glmm_conditional")["cases"]
CMEL = [c for c in ALL if c["fn"] == "rma.glmm" and c.get("model") == "CM.EL" and "ai" in c]
CMAL = [c for c in ALL if c["fn"] == "rma.glmm" and c.get("model") == "CM.AL"]
IRR_CM = [
    c for c in ALL if c["fn"] == "rma.glmm" and c["measure"] == "IRR" and c["model"] == "CM.EL"
]
IRR_RS = [
    c for c in ALL if c["fn"] == "rma.glmm" and c["measure"] == "IRR" and c["model"] == "UM.RS"
]
SUBGROUPS = [c for c in ALL if c["fn"] == "subgroups"]
LEAVE1OUT = [c for c in ALL if c["fn"] == "leave1out"]
PLN_FAILS = next(c for c in ALL if c["id"] == "glmm_PLN_pritz1997_fails")

# CM.EL estimate, tau2, I2, H2: worst observed 7.4e-6 (collins1985a tau2); metafor integrates
# at rel.tol 1.2e-4, our logLik at metafor's optimum is never above ours (test below)
RTOL_CMEL = 2e-5
# CM.EL se and se_tau2: metafor's are numDeriv Hessians (r = 16) of that integrated
# likelihood; observed 1.6e-4 (collins1985a se) and 3.4e-4 (nielweise2007 se_tau2)
RTOL_CMEL_SE = 5e-4
# ... but against numDeriv (default settings) on the likelihood R integrates at rel.tol 1e-12:
# observed 5.0e-6 (se and se_tau2; at metafor's optimum, a few 1e-6 from ours)
RTOL_CMEL_SE_TIGHT = 1e-5
# CM.EL likelihood-ratio test and logLik: observed 1.4e-11 and 3.9e-8
RTOL_CMEL_LL = 1e-7
# CM.EL Wald test against the study-by-study R computation: observed 7.4e-6 (bcg), where R's
# numDeriv information of BiasedUrn's density is 5.3e-5 off for the largest tables (ours
# equals scipy's nchypergeom_fisher variance to 1e-11, test below)
RTOL_CMEL_WALD = 2e-5
# the 21-node adaptive quadrature against R's integrate at rel.tol 1e-12: observed 2e-10
ATOL_QUADRATURE = 1e-8
# CM.AL and IRR CM.EL (lme4, nAGQ = 7) estimate and se: observed 1.1e-5 (collins1985a se),
# 9.2e-6 (nielweise2008 estimate)
RTOL_CONDITIONAL = 3e-5
# their tau2: observed 1.5e-5 (bcg CM.AL) except collins1985a's CM.AL tau2 = 0.0071, where
# lme4 stops 9.3e-7 (1.3e-4 relative) from ours on a flat likelihood
ATOL_CONDITIONAL_TAU2 = 2e-6
# their heterogeneity tests (glm fits in metafor): observed 8.1e-7 (hart1999 Wald)
RTOL_CONDITIONAL_Q = 2e-6


def _ids(cases):
    return [c["id"] for c in cases]


def _table_fit(case, **kw):
    return rma_glmm(
        measure="OR",
        model=case["model"],
        ai=case["ai"],
        bi=case["bi"],
        ci=case["ci"],
        di=case["di"],
        slab=case["slab"],
        **kw,
    )


def _kept(case):
    a, b, c, d = (np.array(case[v], float) for v in ("ai", "bi", "ci", "di"))
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))  # metafor's drop00
    return a[keep], b[keep], c[keep], d[keep]


# ------------------------------------------------------------------------------ CM.EL


@pytest.mark.parametrize("case", CMEL, ids=_ids(CMEL))
def test_cmel_matches_metafor(case):
    res = _table_fit(case)
    ref = case["result"]
    assert res.k == ref["k"] and res.model == "CM.EL"
    for ours, theirs in (("estimate", "beta"), ("tau2", "tau2"), ("I2", "I2"), ("H2", "H2")):
        np.testing.assert_allclose(
            getattr(res, ours), ref[theirs], rtol=RTOL_CMEL, err_msg=f"{case['id']}: {ours}"
        )
    for ours, theirs in (("se", "se"), ("se_tau2", "se_tau2"), ("ci_lb", "ci_lb")):
        np.testing.assert_allclose(
            getattr(res, ours), ref[theirs], rtol=RTOL_CMEL_SE, err_msg=f"{case['id']}: {ours}"
        )
    np.testing.assert_allclose(res.QE_LRT, ref["QE_LRT"], rtol=RTOL_CMEL_LL, err_msg="QE_LRT")
    np.testing.assert_allclose(res.logLik, ref["logLik"], rtol=RTOL_CMEL_LL, err_msg="logLik")
    pred = res.predict(transf="exp")
    for key in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
        theirs = ref["pred" if key == "pred" else f"pred_{key}"]
        np.testing.assert_allclose(pred[key], theirs, rtol=RTOL_CMEL_SE, err_msg=key)
    # tau2's CI is a Wald interval of log(tau2), as metafor's for CM.EL
    half = stats.norm.isf(0.025) * res.se_tau2 / res.tau2
    assert res.tau2_ci_lb == pytest.approx(res.tau2 * np.exp(-half), rel=1e-12)
    assert res.tau2_ci_ub == pytest.approx(res.tau2 * np.exp(half), rel=1e-12)


@pytest.mark.parametrize("case", CMEL, ids=_ids(CMEL))
def test_cmel_wald_test_equals_study_by_study_computation(case):
    res = _table_fit(case)
    independent = case["independent_wald"]
    np.testing.assert_allclose(
        res.QE, independent["QE"], rtol=RTOL_CMEL_WALD, err_msg="QE (R by study)"
    )
    if case["data"] != "bcg":  # metafor's numDeriv Hessian (r = 16) is close here: 1.3e-3
        np.testing.assert_allclose(res.QE, case["result"]["QE_Wld"], rtol=2e-3, err_msg="QE")
    theta, _, info = _Hypergeometric(*_kept(case)).conditional_mle()
    live = np.isfinite(theta)
    # R's optimize on BiasedUrn's density: observed 5.0e-7 absolute (bcg's largest tables;
    # ours solve E[a | theta] = a to 1e-9, test below)
    np.testing.assert_allclose(
        theta[live], independent["theta"], rtol=1e-6, atol=1e-6, err_msg="theta_i"
    )
    np.testing.assert_allclose(info[live], independent["info"], rtol=1e-4, err_msg="info_i")


@pytest.mark.parametrize("case", CMEL, ids=_ids(CMEL))
def test_conditional_mle_and_information_equal_scipy(case):
    """Each study's conditional MLE solves E[a | theta] = a, and its information is the
    variance of Fisher's noncentral hypergeometric distribution there (scipy)."""
    a, b, c, d = _kept(case)
    theta, _, info = _Hypergeometric(a, b, c, d).conditional_mle()
    for i in np.flatnonzero(np.isfinite(theta)):
        args = (a[i] + b[i] + c[i] + d[i], a[i] + b[i], a[i] + c[i], np.exp(theta[i]))
        assert stats.nchypergeom_fisher.mean(*args) == pytest.approx(a[i], rel=1e-9)
        assert info[i] == pytest.approx(stats.nchypergeom_fisher.var(*args), rel=1e-9)


@pytest.mark.parametrize("case", CMEL, ids=_ids(CMEL))
def test_cmel_likelihood_against_tight_integration_in_r(case):
    """At metafor's optimum our quadrature equals R's integrate at rel.tol 1e-12, and our
    maximum is not below it."""
    ref = case["result"]
    model = _ConditionalExact(_Hypergeometric(*_kept(case)))
    at_theirs = model.loglik(np.array([[ref["beta"], np.sqrt(ref["tau2"])]]), np.array([0]))[0]
    assert at_theirs == pytest.approx(case["precise_logLik"], abs=ATOL_QUADRATURE)
    assert _table_fit(case).logLik >= case["precise_logLik"] - ATOL_QUADRATURE


@pytest.mark.parametrize("case", CMEL, ids=_ids(CMEL))
def test_cmel_standard_errors_equal_tight_integration_in_r(case):
    """se and se_tau2 against numDeriv's Hessian (default settings) of the likelihood that R
    integrates at rel.tol 1e-12, at metafor's optimum (ours is a few 1e-6 away)."""
    res = _table_fit(case)
    np.testing.assert_allclose(
        res.se, case["precise_se"], rtol=RTOL_CMEL_SE_TIGHT, err_msg="se (tight R)"
    )
    np.testing.assert_allclose(
        res.se_tau2, case["precise_se_tau2"], rtol=RTOL_CMEL_SE_TIGHT, err_msg="se_tau2 (tight R)"
    )


def test_hypergeometric_density_equals_scipy():
    """P(a | theta) of one table against scipy's Fisher noncentral hypergeometric pmf."""
    a, b, c, d = np.array([3.0]), np.array([17.0]), np.array([7.0]), np.array([13.0])
    table = _Hypergeometric(a, b, c, d)
    for theta in (-1.3, 0.0, 0.8):
        ours = np.exp(table.moments(np.array([theta]))[0][0])
        theirs = stats.nchypergeom_fisher.pmf(3, 40, 20, 10, np.exp(theta))
        assert ours == pytest.approx(theirs, rel=1e-12)


def test_cmel_quadrature_equals_adaptive_integration():
    """One study's marginal likelihood by our 21 nodes and by scipy's adaptive quad."""
    a, b, c, d = (np.array([v], float) for v in (0, 116, 3, 114))  # a zero cell
    table = _Hypergeometric(a, b, c, d)
    mu, tau = -1.2, 0.9
    ours = _ConditionalExact(table).study_loglik(np.array([[mu, tau]]), np.array([0]))[0, 0]

    def integrand(theta):
        return np.exp(table.moments(np.array([theta]))[0][0]) * stats.norm.pdf(theta, mu, tau)

    value, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=0, epsrel=1e-13)
    assert ours == pytest.approx(np.log(value), abs=1e-10)


# ------------------------------------------------------------------------------ CM.AL, IRR


@pytest.mark.parametrize("case", CMAL + IRR_CM, ids=_ids(CMAL + IRR_CM))
def test_conditional_binomial_matches_metafor(case):
    if case["measure"] == "OR":
        res = _table_fit(case)
    else:
        res = rma_glmm(
            measure="IRR",
            model="CM.EL",
            **{v: case[v] for v in ("x1i", "t1i", "x2i", "t2i", "slab")},
        )
    ref = case["result"]
    assert res.k == ref["k"]
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("ci_lb", "ci_lb")):
        np.testing.assert_allclose(
            getattr(res, ours), ref[theirs], rtol=RTOL_CONDITIONAL, err_msg=f"{case['id']}: {ours}"
        )
    np.testing.assert_allclose(
        res.tau2, ref["tau2"], rtol=RTOL_CONDITIONAL, atol=ATOL_CONDITIONAL_TAU2, err_msg="tau2"
    )
    np.testing.assert_allclose(res.QE, ref["QE_Wld"], rtol=RTOL_CONDITIONAL_Q, err_msg="QE")
    np.testing.assert_allclose(res.QE_LRT, ref["QE_LRT"], rtol=RTOL_CONDITIONAL_Q, err_msg="QE_LRT")


def test_cm_al_for_rates_is_cm_el():
    case = IRR_CM[0]
    cols = {v: case[v] for v in ("x1i", "t1i", "x2i", "t2i")}
    el = rma_glmm(measure="IRR", model="CM.EL", **cols)
    al = rma_glmm(measure="IRR", model="CM.AL", **cols)
    assert al.model == "CM.EL" and al.estimate == el.estimate


# UM.RS for rates: lme4's Laplace fit stops short of the maximum on dat.nielweise2008 (our
# logLik is 1.6e-4 higher, test below) and its vcov is a finite-difference Hessian of its
# noisy deviance, so estimates agree to 4.4e-4 (tau2 1.2e-3, sigma2 2.7e-5), se to 1.4e-2 and
# the Wald test to 1.9e-2; the LRT to 6.6e-7.
RTOL_RS = 2e-3
RTOL_RS_VCOV = 3e-2


@pytest.mark.parametrize("case", IRR_RS, ids=_ids(IRR_RS))
def test_irr_random_studies_matches_metafor(case):
    res = rma_glmm(
        measure="IRR", model="UM.RS", **{v: case[v] for v in ("x1i", "t1i", "x2i", "t2i", "slab")}
    )
    ref = case["result"]
    assert res.model == "UM.RS" and res.nAGQ == 1
    np.testing.assert_allclose(res.estimate, ref["beta"], rtol=RTOL_RS, err_msg="estimate")
    np.testing.assert_allclose(res.sigma2, ref["sigma2"], rtol=RTOL_RS, err_msg="sigma2")
    np.testing.assert_allclose(res.tau2, ref["tau2"], rtol=RTOL_RS, atol=1e-8, err_msg="tau2")
    np.testing.assert_allclose(res.se, ref["se"], rtol=RTOL_RS_VCOV, err_msg="se")
    np.testing.assert_allclose(res.QE, ref["QE_Wld"], rtol=RTOL_RS_VCOV, err_msg="QE")
    np.testing.assert_allclose(res.QE_LRT, ref["QE_LRT"], rtol=1e-5, err_msg="QE_LRT")
    # whose likelihood is higher: ours at our optimum against ours at lme4's optimum
    x = np.column_stack([case["x1i"], case["x2i"]]).astype(float)
    offset = np.log(np.column_stack([case["t1i"], case["t2i"]]).astype(float))
    at_lme4 = np.array([[*ref["fixef"], *ref["theta"]]])
    theirs = _RandomStudies(x, None, offset).loglik(at_lme4, np.array([0]))[0]
    assert res.logLik >= theirs - 1e-9
    assert res.logLik >= ref["logLik_lme4"] - 1e-6


# ------------------------------------------------------------------------------ subgroups


def _subgroup_fit(case):
    cells = {v: case[v] for v in ("ai", "bi", "ci", "di", "slab")}
    kind = case["kind"]
    if kind == "MH_OR":
        return rma_mh(**cells, measure="OR", subgroup=case["subgroup"])
    if kind == "MH_RR":
        return rma_mh(**cells, measure="RR", subgroup=case["subgroup"])
    if kind == "PETO":
        return rma_peto(**cells, subgroup=case["subgroup"])
    if kind == "GLMM_OR":
        return rma_glmm(measure="OR", **cells, subgroup=case["subgroup"])
    return rma_glmm(
        measure="PLO",
        xi=case["ai"],
        ni=np.add(case["ai"], case["bi"]),
        slab=case["slab"],
        subgroup=case["subgroup"],
    )


# MH/Peto subgroups are closed form: observed 0 (bit-for-bit). GLMM subgroups are lme4 fits:
# observed 2.0e-5 (estimates), 7.1e-5 (se), 4.8e-5 (tau2), 1.4e-4 (Q_between, which moves with
# the subgroup se's), 1.7e-4 (p_between).
RTOL_SUB = {"MH_OR": 1e-10, "MH_RR": 1e-10, "PETO": 1e-10, "GLMM_OR": 2e-4, "GLMM_PLO": 2e-4}


@pytest.mark.parametrize("case", SUBGROUPS, ids=_ids(SUBGROUPS))
def test_subgroups_match_metafor(case):
    res = _subgroup_fit(case)
    ref = case["result"]
    rtol = RTOL_SUB[case["kind"]]
    assert list(res.subgroups) == case["groups"]
    fits = list(res.subgroups.values())
    assert [f.k for f in fits] == ref["k"]
    for key in ("estimate", "se", "QE"):
        np.testing.assert_allclose(
            [getattr(f, key) for f in fits], ref[key], rtol=rtol, err_msg=key
        )
    np.testing.assert_allclose(
        [f.tau2 for f in fits], ref["tau2"], rtol=rtol, atol=1e-10, err_msg="tau2"
    )
    assert res.df_between == ref["df_between"]
    np.testing.assert_allclose(res.Q_between, ref["Q_between"], rtol=rtol, err_msg="Q_between")
    np.testing.assert_allclose(res.p_between, ref["p_between"], rtol=rtol * 10, err_msg="p_between")
    out = res.to_dict()
    assert out["Q_between"] == res.Q_between and set(out["subgroups"]) == set(case["groups"])
    assert "Test for subgroup differences" in res.summary()


def test_subgroups_from_data_columns_equal_arrays():
    case = next(c for c in SUBGROUPS if c["kind"] == "MH_OR")
    import pandas as pd

    frame = pd.DataFrame({v: case[v] for v in ("ai", "bi", "ci", "di", "slab", "subgroup")})
    by_name = rma_mh(
        ai="ai", bi="bi", ci="ci", di="di", slab="slab", subgroup="subgroup", data=frame
    )
    by_array = _subgroup_fit(case)
    assert by_name.Q_between == pytest.approx(by_array.Q_between, rel=1e-14)
    assert by_name.subgroups["random"].slab == by_array.subgroups["random"].slab


def test_subgroup_errors_name_the_problem():
    cells = dict(ai=[4, 6, 3], bi=[96, 94, 97], ci=[8, 9, 7], di=[92, 91, 93])
    with pytest.raises(InputError, match="one label per study"):
        rma_mh(**cells, subgroup=["a", "b"])
    with pytest.raises(InputError, match="at least 2 groups"):
        rma_peto(**cells, subgroup=["a", "a", "a"])
    with pytest.raises(InputError, match=r"subgroup 'b': a random-effects GLMM needs at least 2"):
        rma_glmm(measure="OR", **cells, subgroup=["a", "a", "b"])


# ------------------------------------------------------------------------------ leave1out

# PLO refits (dat.pritz1997) against lme4's: observed 2.3e-5 (tau2), Wald Q 2.3e-8.
# UM.FS refits (dat.bcg): lme4 stops short of the maximum (its default control; four refits
# warn "Model failed to converge", max|grad| up to 0.0185): observed 5.9e-4 (tau2) where it
# does not warn and 1.3e-3 (a CI bound; estimate 5.5e-4) where it does; Wald Q 6.2e-11. For
# every UM.FS refit our likelihood is the higher one (checked at both optima).
RTOL_L1O = {"PLO": 1e-4, "OR": 1e-3}
RTOL_L1O_UNCONVERGED = 2e-3


def _umfs_loglik(case, omit, params):
    """Our UM.FS log-likelihood of dat.bcg without study ``omit`` at params (alphas, theta,
    tau); the model as _fit_two_groups builds it."""
    a, b, c, d = (np.delete(np.array(case[v], float), omit) for v in ("ai", "bi", "ci", "di"))
    k = len(a)

    def layout(p):
        return np.stack([p[:, :k] + p[:, k][:, None], p[:, :k]], axis=-1)

    model = _Model(
        np.stack([a, c], -1)[None],
        np.stack([a + b, c + d], -1)[None],
        np.array([0.5, -0.5]),
        layout,
        np.ones((1, k), bool),
        7,
        study_effects=k,
    )
    return model.loglik(np.asarray(params, float)[None], np.array([0]))[0]


@pytest.mark.parametrize("case", LEAVE1OUT, ids=_ids(LEAVE1OUT))
def test_leave1out_of_glmm_fits_matches_refits_in_r(case):
    if case["measure"] == "OR":
        res = rma_glmm(measure="OR", **{v: case[v] for v in ("ai", "bi", "ci", "di", "slab")})
    else:
        res = rma_glmm(measure="PLO", xi=case["xi"], ni=case["ni"], slab=case["slab"])
    table = leave1out(res)
    ref = case["result"]
    assert list(table.index) == list(case["slab"])
    for i, warned in enumerate(ref["warnings"]):
        unconverged = any("failed to converge" in w for w in warned)
        rtol = RTOL_L1O_UNCONVERGED if unconverged else RTOL_L1O[case["measure"]]
        for column in ("estimate", "se", "ci_lb", "ci_ub", "QE", "I2", "H2", "tau2"):
            np.testing.assert_allclose(
                table[column].iloc[i], ref[column][i], rtol=rtol, atol=1e-6, err_msg=column
            )
        if case["measure"] == "OR":  # whose likelihood is higher: ours, at our optimum
            lme4 = np.array(ref["lme4_optimum"][i], float)  # theta, alphas, tau
            at_lme4 = _umfs_loglik(case, i, np.concatenate([lme4[1:-1], lme4[:1], lme4[-1:]]))
            sub = {v: np.delete(np.array(case[v], float), i) for v in ("ai", "bi", "ci", "di")}
            assert rma_glmm(measure="OR", **sub).logLik > at_lme4


def test_leave1out_of_glmm_needs_three_studies():
    res = rma_glmm(measure="PLO", xi=[3, 4], ni=[10, 12])
    with pytest.raises(InputError, match="at least 3 studies"):
        leave1out(res)


# ------------------------------------------------------------------------------ PLN refused


def test_pln_that_metafor_cannot_fit_is_an_error_naming_studies():
    """metafor stops with 'Cannot fit ML model' on dat.pritz1997; so do we, saying why."""
    assert "Cannot fit ML model" in PLN_FAILS["error"]
    with pytest.raises(InputError, match=r"puts 2\.\d% of studies at a proportion of 1") as err:
        rma_glmm(measure="PLN", xi=PLN_FAILS["xi"], ni=PLN_FAILS["ni"], slab=PLN_FAILS["slab"])
    assert "'Tanabe et al.' (10/10)" in str(err.value) and "measure='PLO'" in str(err.value)


# ------------------------------------------------------------------------------ UM.FS stall


def test_umfs_fit_where_tau_zero_is_a_local_minimum_converges():
    """A simulated table of bench_binary.py on which the damped Newton iteration used to creep
    away from tau = 0 (a local minimum of the likelihood in tau) and stop unconverged after
    200 iterations; the saddle-free step reaches metafor's fit: observed 1.6e-4 (tau2, where
    lme4 stops short: our likelihood is the higher one), 5.5e-6 (estimate), 2.9e-5 (se)."""
    case = next(c for c in ALL if c["id"] == "glmm_OR_UMFS_bench_stall")
    res = rma_glmm(measure="OR", **{v: case[v] for v in ("ai", "bi", "ci", "di", "slab")})
    ref = case["result"]
    assert res.iterations < 50
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("tau2", "tau2")):
        np.testing.assert_allclose(getattr(res, ours), ref[theirs], rtol=3e-4, err_msg=ours)
    lme4 = np.array(case["lme4_optimum"], float)  # log OR, intercepts, tau
    at_lme4 = _umfs_loglik(case, [], np.concatenate([lme4[1:-1], lme4[:1], lme4[-1:]]))
    assert res.logLik > at_lme4
