"""rma_glmm() and rma_glmm_batch() against metafor 3.8 rma.glmm (lme4 glmer, nAGQ = 7).

Fixtures: tests/fixtures/metafor_binary.json (make_binary_fixtures.R): PLO on dat.pritz1997,
the seed review's immediate and 1-3 month response rates, the treated arms of dat.bcg and the
control arms of dat.nielweise2007; OR (UM.FS) on dat.bcg, dat.nielweise2007, dat.collins1985a;
IRLN and IRR (UM.FS) on dat.nielweise2008 (also with studies without events added).

Where lme4 and we differ, the exact marginal likelihood (adaptive quadrature checked against
scipy's adaptive integration below) is evaluated at both optima: ours must not be lower.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from metareview import (
    ConvergenceError,
    ConvergenceWarning,
    InputError,
    rma_glmm,
    rma_glmm_batch,
)
from metareview.stats.glmm import _Model, _plo_fit
from tests.conftest import load_fixture

# estimate, se, tau2 against lme4: worst observed relative difference 2.6e-5 on the cases in
# TIGHT. Elsewhere lme4's bobyqa stops early with a lower likelihood than ours (collins1985a
# OR: 1.7e-4 in tau2; nielweise2008 IRR: 3.2e-4; nielweise2007 OR: lme4 warns it did not
# converge, 8.8e-4), so those are held to the likelihood check, as the brief asks.
RTOL_GLMM = 1e-4
# heterogeneity tests: the LRT is closed form for PLO/IRLN and a glm fit for OR/IRR (observed
# 3e-11); the Wald test is closed form here, metafor's comes from a saturated glm fit that
# stops at glm's tolerance and diverges for studies with a zero cell (weight -> 0): observed
# 3.3e-8 (binomial) and 2.1e-6 (Poisson, nielweise2008 IRR).
RTOL_Q = 1e-5
RTOL_QP = 1e-4  # their p-values: a 2e-6 change in Q moves p by 1.8e-5 (IRLN, 11 studies)

CASES = [c for c in load_fixture("metafor_binary")["cases"] if c["fn"] == "rma.glmm"]
PLO = [c for c in CASES if c["measure"] == "PLO"]
TIGHT = {
    "glmm_PLO_pritz1997",
    "glmm_PLO_seed_immediate",
    "glmm_PLO_seed_followup",
    "glmm_PLO_bcg_treated",
    "glmm_PLO_nielweise2007_control",
    "glmm_OR_UMFS_bcg",
    "glmm_IRLN_nielweise2008",
    "glmm_IRLN_nielweise2008_zero",
}


def _ids(cases):
    return [c["id"] for c in cases]


def _fit(case):
    if case["measure"] == "PLO":
        return rma_glmm(measure="PLO", xi=case["xi"], ni=case["ni"], slab=case["slab"])
    if case["measure"] == "IRLN":
        return rma_glmm(measure="IRLN", xi=case["xi"], ti=case["ti"], slab=case["slab"])
    if case["measure"] == "IRR":
        return rma_glmm(
            measure="IRR",
            x1i=case["x1i"],
            t1i=case["t1i"],
            x2i=case["x2i"],
            t2i=case["t2i"],
            slab=case["slab"],
        )
    return rma_glmm(
        measure="OR", ai=case["ai"], bi=case["bi"], ci=case["ci"], di=case["di"], slab=case["slab"]
    )


def _exact_loglik_at(case, params, nagq: int = 7) -> float:
    """Our nAGQ-node likelihood at a given parameter vector (for lme4's optimum)."""
    if case["measure"] == "PLO":
        x = np.array(case["xi"], float)[None, :, None]
        n = np.array(case["ni"], float)[None, :, None]
        k = x.shape[1]
        model = _Model(
            x,
            n,
            np.array([1.0]),
            lambda p: np.broadcast_to(p[:, 0][:, None, None], (len(p), k, 1)),
            np.ones((1, k), bool),
            nagq,
        )
        return float(model.loglik(np.array([params]), np.array([0]))[0])
    if case["measure"] == "IRLN":
        x = np.array(case["xi"], float)[None, :, None]
        logt = np.log(np.array(case["ti"], float))
        k = x.shape[1]
        model = _Model(
            x,
            np.zeros_like(x),
            np.array([1.0]),
            lambda p: p[:, 0][:, None, None] + logt[None, :, None],
            np.ones((1, k), bool),
            nagq,
            poisson=True,
        )
        return float(model.loglik(np.array([params]), np.array([0]))[0])
    if case["measure"] == "IRR":
        x1, t1, x2, t2 = (np.array(case[v], float) for v in ("x1i", "t1i", "x2i", "t2i"))
        keep = ~((x1 == 0) & (x2 == 0))
        x1, t1, x2, t2 = x1[keep], t1[keep], x2[keep], t2[keep]
        k = len(x1)
        offset = np.log(np.stack([t1, t2], -1))

        def layout_irr(p):
            return np.stack([p[:, :k] + p[:, k][:, None], p[:, :k]], -1) + offset

        model = _Model(
            np.stack([x1, x2], -1)[None],
            np.zeros((1, k, 2)),
            np.array([0.5, -0.5]),
            layout_irr,
            np.ones((1, k), bool),
            nagq,
            poisson=True,
        )
        return float(model.loglik(np.array([params]), np.array([0]))[0])
    a, b, c, d = (np.array(case[v], float) for v in ("ai", "bi", "ci", "di"))
    keep = ~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))
    a, b, c, d = a[keep], b[keep], c[keep], d[keep]
    k = len(a)
    x = np.stack([a, c], -1)[None]
    n = np.stack([a + b, c + d], -1)[None]

    def layout(p):
        return np.stack([p[:, :k] + p[:, k][:, None], p[:, :k]], -1)

    model = _Model(x, n, np.array([0.5, -0.5]), layout, np.ones((1, k), bool), 7)
    return float(model.loglik(np.array([params]), np.array([0]))[0])


def _lme4_params(case):
    ref = case["result"]
    if case["measure"] in ("PLO", "IRLN"):
        return [ref["fixef"][0], ref["theta"]]
    # lme4's fixef: the log ratio, then study intercepts; ours: intercepts, log ratio, tau
    fixef = ref["fixef"]
    return [*fixef[1:], fixef[0], ref["theta"]]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_likelihood_not_below_lme4(case):
    res = _fit(case)
    theirs = _exact_loglik_at(case, _lme4_params(case))
    assert res.logLik >= theirs - 1e-8, (res.logLik, theirs)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["id"] in TIGHT], ids=_ids([c for c in CASES if c["id"] in TIGHT])
)
def test_estimates_match_lme4(case):
    res = _fit(case)
    ref = case["result"]
    for ours, theirs in (
        ("estimate", "beta"),
        ("se", "se"),
        ("tau2", "tau2"),
        ("I2", "I2"),
        ("H2", "H2"),
        ("ci_lb", "ci_lb"),
        ("ci_ub", "ci_ub"),
    ):
        np.testing.assert_allclose(
            getattr(res, ours), ref[theirs], rtol=RTOL_GLMM, err_msg=f"{case['id']}: {ours}"
        )
    transf = "expit" if case["measure"] == "PLO" else "exp"  # as the fixture's predict()
    pred = res.predict(transf=transf)
    for key in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
        theirs = ref["pred" if key == "pred" else f"pred_{key}"]
        np.testing.assert_allclose(pred[key], theirs, rtol=RTOL_GLMM, err_msg=key)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_heterogeneity_tests(case):
    res = _fit(case)
    ref = case["result"]
    np.testing.assert_allclose(res.QE, ref["QE_Wld"], rtol=RTOL_Q)
    np.testing.assert_allclose(res.QEp, ref["QEp_Wld"], rtol=RTOL_QP, atol=1e-300)
    np.testing.assert_allclose(res.QE_LRT, ref["QE_LRT"], rtol=RTOL_Q)
    np.testing.assert_allclose(res.QEp_LRT, ref["QEp_LRT"], rtol=RTOL_QP, atol=1e-300)
    assert res.k == ref["k"]


def test_seed_immediate_rate_reproduces_the_published_glmm_row():
    """metafor's rma.glmm(measure="PLO") on the nine immediate rates, counts rounded from the
    printed percentages: 65.4% (46.3%, 80.6%)."""
    case = next(c for c in PLO if c["id"] == "glmm_PLO_seed_immediate")
    pred = _fit(case).predict(transf="expit")
    assert (
        round(100 * pred["pred"], 1),
        round(100 * pred["ci_lb"], 1),
        round(100 * pred["ci_ub"], 1),
    ) == (65.4, 46.3, 80.6)


def test_quadrature_against_adaptive_integration():
    """The 7-node adaptive quadrature of one study's marginal likelihood against scipy."""
    x, n, beta, tau = 3, 40, -1.2, 0.8
    case = {"measure": "PLO", "xi": [x], "ni": [n]}

    def integrand(u):
        return stats.binom.pmf(x, n, special.expit(beta + u)) * stats.norm.pdf(u, 0, tau)

    exact = math.log(integrate.quad(integrand, -12, 12, epsabs=1e-15, epsrel=1e-13)[0])
    # 7 nodes (lme4's and metafor's default): observed error 9.7e-7; 21 nodes: 2e-12
    assert _exact_loglik_at(case, [beta, tau]) == pytest.approx(exact, abs=5e-6)
    assert _exact_loglik_at(case, [beta, tau], nagq=21) == pytest.approx(exact, abs=1e-10)


def test_batch_matches_metafor_with_masks():
    """Five PLO data sets of different k in one (5, k_max) batch, padded by the mask."""
    k_max = max(len(c["xi"]) for c in PLO)
    X = np.zeros((len(PLO), k_max))
    N = np.ones((len(PLO), k_max))
    M = np.zeros((len(PLO), k_max), dtype=bool)
    for b, c in enumerate(PLO):
        k = len(c["xi"])
        X[b, :k], N[b, :k], M[b, :k] = c["xi"], c["ni"], True
    out = rma_glmm_batch(X, N, mask=M)
    assert out.converged.all()
    for b, c in enumerate(PLO):
        ref = c["result"]
        np.testing.assert_allclose(out.estimate[b], ref["beta"], rtol=RTOL_GLMM)
        np.testing.assert_allclose(out.se[b], ref["se"], rtol=RTOL_GLMM)
        np.testing.assert_allclose(out.tau2[b], ref["tau2"], rtol=RTOL_GLMM)
    frame = out.to_frame()
    assert list(frame.columns)[:3] == ["estimate", "se", "ci_lb"]
    assert (frame["k"].to_numpy() == M.sum(axis=1)).all()


def test_result_outputs():
    case = next(c for c in PLO if c["id"] == "glmm_PLO_pritz1997")
    res = _fit(case)
    d = res.to_dict()
    assert {
        "estimate",
        "se",
        "zval",
        "pval",
        "ci_lb",
        "ci_ub",
        "pi_lb",
        "pi_ub",
        "tau2",
        "I2",
        "H2",
        "QE",
        "QEp",
        "QE_LRT",
        "QEp_LRT",
        "k",
        "logLik",
    } <= set(d)
    text = res.summary()
    assert "LRT(df = 13)" in text and "Wld(df = 13)" in text and str(res) == text
    assert res.predict(transf="auto") == res.predict(transf="expit")


# ------------------------------------------------------------------------------ bad input


def test_non_integer_counts_name_the_study():
    with pytest.raises(InputError, match=r"whole numbers.*7\.6.*'B'"):
        rma_glmm(measure="PLO", xi=[3, 7.6, 4], ni=[10, 12, 9], slab=["A", "B", "C"])
    with pytest.raises(InputError, match=r"ci must be whole numbers.*'A'"):
        rma_glmm(measure="OR", ai=[3, 2], bi=[7, 8], ci=[1.5, 4], di=[9, 6], slab=["A", "B"])


def test_single_study_and_no_events():
    with pytest.raises(InputError, match="at least 2 studies"):
        rma_glmm(measure="PLO", xi=[3], ni=[10])
    with pytest.raises(InputError, match="no events"):
        rma_glmm(measure="PLO", xi=[0, 0, 0], ni=[10, 12, 9])
    with pytest.raises(InputError, match=r"at least 2 studies with events.*: Empty"):
        rma_glmm(measure="OR", ai=[0, 3], bi=[10, 7], ci=[0, 4], di=[12, 6], slab=["Empty", "Full"])
    with pytest.raises(InputError, match="ai is 0 in every study"):
        rma_glmm(measure="OR", ai=[0, 0, 0], bi=[10, 7, 9], ci=[2, 4, 1], di=[12, 6, 9])
    with pytest.warns(ConvergenceWarning, match=r"rows 0, 2\) have no maximum"):
        out = rma_glmm_batch(
            [[3, 4], [3, 4], [0, 0]],
            [[10, 12]] * 3,
            mask=[[True, False], [True, True], [True, True]],
        )
    assert out.converged.tolist() == [False, True, False]
    assert np.isnan(out.estimate[[0, 2]]).all() and np.isfinite(out.estimate[1])


def test_unknown_model_lists_the_supported_ones():
    with pytest.raises(InputError, match=r"model must be one of UM\.FS"):
        rma_glmm(measure="OR", model="CM.XL", ai=[1, 2], bi=[3, 4], ci=[1, 2], di=[3, 4])


def test_non_convergence_says_what_was_tried(monkeypatch):
    from metareview.stats import glmm

    monkeypatch.setattr(glmm, "_MAXITER", 1)
    with pytest.raises(
        ConvergenceError,
        match=r"did not converge within 1 Levenberg-Marquardt.*"
        r"nAGQ = 7",
    ):
        rma_glmm(measure="PLO", xi=[25, 8, 19, 5], ni=[33, 13, 20, 19])


def test_plo_fit_vectorised_rows_agree_with_single_fits():
    x = np.array([[25, 8, 19, 5], [10, 2, 3, 7]], float)
    n = np.array([[33, 13, 20, 19], [20, 20, 20, 20]], float)
    both = _plo_fit(x, n, np.ones_like(x, bool), 7)[0]
    for b in range(2):
        one = _plo_fit(x[b : b + 1], n[b : b + 1], np.ones((1, 4), bool), 7)[0]
        np.testing.assert_allclose(both[b], one[0], rtol=1e-9)


def test_person_time_zero_names_the_study():
    with pytest.raises(InputError, match=r"t2i must be > 0.*'B'"):
        rma_glmm(
            measure="IRR", x1i=[3, 4], t1i=[100, 120], x2i=[5, 2], t2i=[90, 0], slab=["A", "B"]
        )
    with pytest.raises(InputError, match="xi is 0 in every study"):
        rma_glmm(measure="IRLN", xi=[0, 0], ti=[100, 120])
