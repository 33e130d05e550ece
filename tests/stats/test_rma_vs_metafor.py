"""rma() against metafor 3.8 rma.uni (tests/fixtures/metafor_rma.json, from make_fixtures.R).

Every estimator with both tests, intercept-only and meta-regression, on dat.bcg,
dat.normand1999, dat.pritz1997 (PR, PLO, PAS, PFT), dat.molloy2014, dat.hackshaw1998,
dat.konstantopoulos2011, dat.curtis1998 and the seed review's immediate response rates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from metareview import rma
from tests.conftest import load_fixture

CLOSED_FORM = {"EE", "DL", "HE", "HS", "SJ"}
#: rtol per quantity: (closed-form estimators EE DL HE HS SJ, iterative REML ML PM EB), set
#: just above the worst relative error observed over every case of the fixture (in the
#: comment: closed, iterative), measured with `pytest -p tests.measure_tolerances`. Both
#: sides converge to 1e-10 in tau2 (metafor: threshold = 1e-10, tol = 1e-12), so iterative
#: fits agree about 100 times less closely than closed-form ones.
RTOL = {
    "beta": (1e-9, 1e-7),  # 3.0e-10, 1.6e-8
    "se": (1e-10, 1e-8),  # 3.7e-11, 4.2e-9
    "zval": (1e-9, 1e-7),  # 2.9e-10, 2.0e-8
    "pval": (1e-8, 1e-7),  # 9.8e-10, 1.2e-7 (6.0e-9 beyond ATOL: tail p-values)
    "ci_lb": (1e-9, 1e-7),  # 1.7e-10, 8.7e-9 (with the predictions' CIs)
    "ci_ub": (1e-9, 1e-7),  # 2.1e-10, 8.6e-9
    "tau2": (1e-9, 1e-7),  # 1.1e-10, 1.5e-8
    "se_tau2": (1e-9, 1e-7),  # 1.1e-10, 1.0e-8
    "I2": (1e-9, 1e-7),  # 9.6e-11, 9.0e-9
    "H2": (1e-9, 1e-7),  # 6.0e-11, 5.6e-9
    "QE": (1e-9, 1e-9),  # 6.0e-11, 6.0e-11 (does not depend on tau2)
    "QEp": (1e-8, 1e-8),  # 6.3e-10, 6.3e-10
    "vt": (1e-9, 1e-9),  # 4.0e-11, 4.0e-11
    "QM": (1e-9, 1e-7),  # 6.9e-11, 9.2e-9
    "QMp": (1e-8, 1e-6),  # 1.2e-9, 1.6e-7
    "R2": (1e-9, 1e-8),  # 3.6e-11, 1.6e-9
    "pred": (1e-9, 1e-8),  # 1.0e-10, 1.2e-9
    "pi_lb": (1e-9, 1e-7),  # 4.9e-11, 2.7e-9
    "pi_ub": (1e-9, 1e-7),  # 2.1e-10, 8.3e-9
}
#: Q-profile CIs of tau2, I2, H2: both sides find the roots to 1e-12; observed 3.2e-10
#: (tau2_ci_lb), the same for every estimator
RTOL_Q_PROFILE = 1e-9
ATOL = 1e-9  # for quantities that are 0 (tau2 floored) or p-values below 1e-20

CASES = [c for c in load_fixture("metafor_rma")["cases"] if "result" in c]
MODS_CASES = [c for c in CASES if c["mods"] is not None]
CI_CASES = [c for c in CASES if c["result"]["tau2_ci_lb"] is not None]
PREDICT_CASES = [c for c in CASES if c["mods"] is None]


def _ids(cases):
    return [c["id"] for c in cases]


def _rtol(case, quantity: str) -> float:
    closed, iterative = RTOL[quantity]
    return closed if case["method"] in CLOSED_FORM else iterative


def _close(ours, theirs, rtol, what):
    if theirs is None:
        assert ours is None or (isinstance(ours, float) and math.isnan(ours)), what
        return
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=ATOL, err_msg=what)


def _fit(case):
    mods = None
    if case["mods"] is not None:
        X = np.array(case["mods"]["X"], dtype=float)
        mods = X.reshape(len(case["yi"]), -1)
    return rma(
        case["yi"],
        case["vi"],
        slab=case["slab"],
        method=case["method"],
        test=case["test"],
        level=case["level"],
        mods=mods,
    )


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_coefficients_and_heterogeneity(case):
    res = _fit(case)
    ref = case["result"]
    for key in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub"):
        _close(getattr(res, key), ref[key], _rtol(case, key), f"{case['id']}: {key}")
    for key in ("tau2", "se_tau2", "I2", "H2", "QE", "QEp", "vt"):
        value = getattr(res, key)
        _close(
            None if value is None or math.isnan(value) else value,
            ref[key],
            _rtol(case, key),
            f"{case['id']}: {key}",
        )
    assert res.k == ref["k"]
    if case["test"] == "knha":
        assert res.ddf == ref["ddf"]


@pytest.mark.parametrize("case", MODS_CASES, ids=_ids(MODS_CASES))
def test_moderator_test_and_r2(case):
    res = _fit(case)
    ref = case["result"]
    for key in ("QM", "QMp", "R2"):
        _close(getattr(res, key), ref[key], _rtol(case, key), f"{case['id']}: {key}")
    table = res.table()
    assert list(table.index) == ["intrcpt", *[f"mod{j + 1}" for j in range(res.p - 1)]]


@pytest.mark.parametrize("case", CI_CASES, ids=_ids(CI_CASES))
def test_tau2_confidence_interval(case):
    ref = case["result"]
    res = _fit(case)
    for key in ("tau2_ci_lb", "tau2_ci_ub", "I2_ci_lb", "I2_ci_ub", "H2_ci_lb", "H2_ci_ub"):
        _close(getattr(res, key), ref[key], RTOL_Q_PROFILE, f"{case['id']}: {key}")


@pytest.mark.parametrize("case", PREDICT_CASES, ids=_ids(PREDICT_CASES))
def test_predictions_and_back_transformations(case):
    res = _fit(case)
    for pred in case["predict"]:
        ours = res.predict(transf=pred["transf"], targs=pred["targs"])
        for key in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
            theirs = pred[key]
            if theirs is None:
                assert res.method == "EE" and math.isnan(ours[key])
                continue
            _close(ours[key], theirs, _rtol(case, key), f"{case['id']} {pred['transf']}: {key}")
    d = res.to_dict()
    ref = case["result"]
    for key in ("pi_lb", "pi_ub"):
        _close(d[key], ref[key], _rtol(case, key), f"{case['id']} to_dict: {key}")


def test_every_method_and_test_is_covered():
    combos = {(c["method"], c["test"], c["mods"] is not None) for c in CASES}
    for method in ("EE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB"):
        for test in ("z", "knha"):
            assert (method, test, False) in combos
            assert (method, test, True) in combos


@pytest.mark.parametrize("case", MODS_CASES, ids=_ids(MODS_CASES))
def test_meta_regression_predictions(case):
    res = _fit(case)
    ref = case["predict_newmods"]
    ours = res.predict(newmods=ref["newmods"])
    for key in ("pred", "ci_lb", "ci_ub"):
        _close(ours[key], ref[key], _rtol(case, key), f"{case['id']}: {key}")
    if case["method"] != "EE":
        for key in ("pi_lb", "pi_ub"):
            _close(ours[key], ref[key], _rtol(case, key), f"{case['id']}: {key}")


def test_moderators_by_column_name_equal_moderators_by_array():
    import pandas as pd

    case = next(c for c in MODS_CASES if c["id"] == "bcg_RR_REML_z_mods")
    X = np.array(case["mods"]["X"], dtype=float)
    data = pd.DataFrame(
        {"yi": case["yi"], "vi": case["vi"], "ablat": X[:, 0], "year": X[:, 1]}, index=case["slab"]
    )
    by_name = rma(data=data, mods=["ablat", "year"], method="REML")
    assert by_name.coef_names == ("intrcpt", "ablat", "year")
    np.testing.assert_allclose(by_name.beta, case["result"]["beta"], rtol=RTOL["beta"][1])
    assert list(by_name.table().index) == ["intrcpt", "ablat", "year"]
    assert by_name.slab[0] == case["slab"][0]
