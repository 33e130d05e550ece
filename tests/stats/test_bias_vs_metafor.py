"""Publication-bias and sensitivity analyses against metafor 3.8
(tests/fixtures/metafor_bias.json, made by tests/fixtures/make_bias_fixtures.R).

Data: dat.hackshaw1998 (Hackshaw et al., 1997, BMJ), dat.bcg (Colditz et al., 1994),
dat.pritz1997 (PLO) and dat.egger2001 (Egger et al., 2001: magnesium trials, clear funnel
asymmetry); base models REML, EE (and DL for hackshaw1998).
"""

from __future__ import annotations

import numpy as np
import pytest

from metareview import (
    cumul,
    fsn,
    influence,
    leave1out,
    ranktest,
    regtest,
    rma,
    trimfill,
)
from metareview.stats.sensitivity import baujat
from tests.conftest import load_fixture

CASES = load_fixture("metafor_bias")["cases"]
#: rtol by estimator, just above the worst relative error observed over every case and
#: quantity of the fixture (`pytest -p tests.measure_tolerances`): EE and DL 1.1e-11 (baujat
#: y, influence cook_d); REML 3.9e-10 (influence cook_d), both sides converging to 1e-10
RTOL = {"EE": 1e-10, "DL": 1e-10, "REML": 1e-9}
#: metafor 3.8's trimfill() fits its iterations and the filled-in model with rma()'s default
#: control (threshold 1e-5), not the model's: observed 2.1e-5 (pval), 5.7e-6 (tau2), 4.3e-6
#: (filled yi) for REML; EE and DL fits are closed-form and keep RTOL
RTOL_TRIMFILL_REML = 1e-4
#: leave1out() and cumul() with REML: both sides stop at ~1e-10 absolute change in tau2,
#: which is 6.6e-6 relative where a cumulative fit has tau2 = 7e-5 (tau2 and I2); the other
#: quantities: 5.6e-8 (pval), 1.8e-8 (ci_lb), 8.5e-9 (H2)
RTOL_SEQUENTIAL_REML = {"tau2": 1e-5, "I2": 1e-5}
RTOL_SEQUENTIAL_REML_OTHERS = 1e-6
ATOL = 1e-9


def _ids(cases):
    return [c["id"] for c in cases]


def _close(ours, theirs, case, what, rtol=None):
    np.testing.assert_allclose(
        np.asarray(ours, float),
        np.asarray([np.nan if t is None else t for t in np.atleast_1d(theirs)], float).reshape(
            np.shape(ours)
        ),
        rtol=RTOL[case["method"]] if rtol is None else rtol,
        atol=ATOL,
        err_msg=f"{case['id']}: {what}",
    )


def _fit(case):
    return rma(case["yi"], case["vi"], slab=case["slab"], method=case["method"])


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_base_model(case):
    res = _fit(case)
    _close(res.beta, case["model"]["beta"], case, "beta")
    _close(res.tau2, case["model"]["tau2"], case, "tau2")


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_regtest(case):
    res = _fit(case)
    checked = 0
    for ref in case["regtest"]:
        if "error" in ref:
            continue
        out = regtest(res, predictor=ref["predictor"], model=ref["model"], ni=case["ni"])
        what = f"{ref['model']}/{ref['predictor']}"
        _close(out.zval, ref["zval"], case, f"{what} zval")
        _close(out.pval, ref["pval"], case, f"{what} pval")
        _close(out.fit.beta, ref["coef"], case, f"{what} coefficients")
        _close(out.fit.se, ref["se"], case, f"{what} se")
        assert (out.dfs is None) == (ref["dfs"] is None)
        if ref["dfs"] is not None:
            assert out.dfs == ref["dfs"]
        if ref["est"] is not None:
            _close(
                [out.est, out.ci_lb, out.ci_ub],
                [ref["est"], ref["ci_lb"], ref["ci_ub"]],
                case,
                f"{what} limit estimate",
            )
        else:
            assert out.est is None
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_ranktest(case):
    out = ranktest(_fit(case))
    _close(out.tau, case["ranktest"]["tau"], case, "tau")
    _close(out.pval, case["ranktest"]["pval"], case, "pval")


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_trimfill(case):
    res = _fit(case)
    rtol = RTOL_TRIMFILL_REML if case["method"] == "REML" else None
    for ref in case["trimfill"]:
        side = None if ref["side_requested"] == "default" else ref["side_requested"]
        out = trimfill(res, estimator=ref["estimator"], side=side)
        what = f"{ref['estimator']}/{ref['side_requested']}"
        assert out.side == ref["side"], what
        assert out.k0 == ref["k0"], what
        _close(out.se_k0, ref["se_k0"], case, f"{what} se_k0", rtol)  # null = NaN in R
        d = out.to_dict()
        for key, theirs in (
            ("estimate", "beta"),
            ("se", "se"),
            ("ci_lb", "ci_lb"),
            ("ci_ub", "ci_ub"),
            ("tau2", "tau2"),
            ("pval", "pval"),
        ):
            _close(d[key], ref[theirs], case, f"{what} {key}", rtol)
        _close(out.filled_yi, ref["filled_yi"] or [], case, f"{what} filled yi", rtol)
        _close(out.filled_vi, ref["filled_vi"] or [], case, f"{what} filled vi", rtol)
        if ref["p_k0"] is not None:
            _close(out.p_k0, ref["p_k0"], case, f"{what} p_k0", rtol)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_fsn(case):
    refs = case["fsn"]
    for name, ref in refs.items():
        out = fsn(
            case["yi"],
            case["vi"],
            type=ref["type"],
            target=ref["target"] if name == "Orwin_target_halfEE" else None,
        )
        assert out.fsnum == ref["fsnum"], name
        for key in ("pval", "meanes", "target"):
            if ref[key] is not None:
                _close(getattr(out, key), ref[key], case, f"{name} {key}")


SUMMARY = {
    "estimate": "estimate",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci_lb": "ci_lb",
    "ci_ub": "ci_ub",
    "QE": "Q",
    "QEp": "Qp",
    "tau2": "tau2",
    "I2": "I2",
    "H2": "H2",
}


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_leave1out_and_cumul(case):
    res = _fit(case)
    for name, frame in (("leave1out", leave1out(res)), ("cumul", cumul(res))):
        for ours, theirs in SUMMARY.items():
            if ours == "tau2" and case["method"] == "EE":
                assert (frame["tau2"] == 0).all()  # metafor reports no tau2 for EE
                continue
            rtol = None
            if case["method"] == "REML":
                rtol = RTOL_SEQUENTIAL_REML.get(ours, RTOL_SEQUENTIAL_REML_OTHERS)
            _close(frame[ours].to_numpy(), case[name][theirs], case, f"{name} {ours}", rtol)


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_influence(case):
    res = _fit(case)
    frame = influence(res)
    ref = case["influence"]
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight"):
        _close(frame[key].to_numpy(), ref[key], case, key)
    _close(frame["dfbs_intrcpt"].to_numpy(), ref["dfbs"], case, "dfbs")
    assert frame["inf"].tolist() == ref["inf"]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_baujat(case):
    frame = baujat(_fit(case))
    _close(frame["x"].to_numpy(), case["baujat"]["x"], case, "x")
    _close(frame["y"].to_numpy(), case["baujat"]["y"], case, "y")
