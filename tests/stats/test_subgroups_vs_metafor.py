"""Subgroup analyses (RevMan style) against metafor: per-group fits with their own tau2 and
Q for subgroup differences from an equal-effects fit of the group estimates
(tests/fixtures/metafor_subgroups.json)."""

from __future__ import annotations

import numpy as np
import pytest

from metareview import rma
from tests.conftest import load_fixture

RTOL = {"DL": 1e-6, "REML": 1e-4}  # closed form / iterative, as the brief asks
CASES = load_fixture("metafor_subgroups")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_subgroups_match_metafor(case):
    res = rma(case["yi"], case["vi"], slab=case["slab"], method=case["method"],
              test=case["test"], subgroup=case["groups"])
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
            np.testing.assert_allclose(getattr(sub, key), ref[key], rtol=rtol, atol=1e-12,
                                       err_msg=f"{label}: {key}")
        for key in ("se", "ci_lb", "ci_ub"):
            np.testing.assert_allclose(getattr(sub, key)[0], ref[key], rtol=rtol,
                                       err_msg=f"{label}: {key}")
