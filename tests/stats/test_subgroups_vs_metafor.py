"""Subgroup analyses (RevMan style) against metafor: per-group fits with their own tau2 and
Q for subgroup differences from an equal-effects fit of the group estimates
(tests/fixtures/metafor_subgroups.json)."""

from __future__ import annotations

import numpy as np
import pytest

from metareview import rma
from tests.conftest import load_fixture

#: rtol by estimator, just above the worst relative error observed over every case and
#: quantity (`pytest -p tests.measure_tolerances`): DL 2.1e-13, REML 2.1e-13 (QEp); the
#: subgroups' REML fits converge tightly on both sides
RTOL = {"DL": 1e-12, "REML": 1e-12}
CASES = load_fixture("metafor_subgroups")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_subgroups_match_metafor(case):
    res = rma(
        case["yi"],
        case["vi"],
        slab=case["slab"],
        method=case["method"],
        test=case["test"],
        subgroup=case["groups"],
    )
    rtol = RTOL[case["method"]]
    d = res.to_dict()
    np.testing.assert_allclose(d["Q_between"], case["Q_between"], rtol=rtol)
    np.testing.assert_allclose(d["p_between"], case["p_between"], rtol=rtol)
    assert d["df_between"] == case["df_between"]
    assert list(res.subgroups) == list(case["per_group"])
    for label, ref in case["per_group"].items():
        sub = res.subgroups[label]
        assert sub.k == ref["k"]
        for key in ("estimate", "tau2", "I2", "QE", "QEp"):
            np.testing.assert_allclose(
                getattr(sub, key), ref[key], rtol=rtol, atol=1e-12, err_msg=f"{label}: {key}"
            )
        for key in ("se", "ci_lb", "ci_ub"):
            np.testing.assert_allclose(
                getattr(sub, key)[0], ref[key], rtol=rtol, err_msg=f"{label}: {key}"
            )


def test_single_study_subgroup_is_shown_as_that_study():
    # RevMan keeps a one-study subgroup: its "pooled" result is the study itself
    res = rma(
        [0.1, 0.3, 0.5, 0.9], [0.04, 0.05, 0.03, 0.02], subgroup=["a", "a", "a", "b"], method="DL"
    )
    single = res.subgroups["b"]
    assert (single.k, single.estimate, single.tau2) == (1, 0.9, 0.0)
    np.testing.assert_allclose(single.se[0], np.sqrt(0.02))
    group_a = res.subgroups["a"]
    w = np.array([1 / group_a.se[0] ** 2, 1 / 0.02])
    est = np.array([group_a.estimate, 0.9])
    pooled = np.sum(w * est) / np.sum(w)
    np.testing.assert_allclose(res.Q_between, np.sum(w * (est - pooled) ** 2), rtol=1e-12)
