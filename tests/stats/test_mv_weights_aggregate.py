"""MvResult.weights() and MvResult.aggregate() (the numbers a multilevel forest plot shows)
against metafor 3.8: weights.rma.mv and aggregate.escalc with V (tests/fixtures/
make_mv_forest_fixtures.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metareview import InputError, rma_mv
from tests.conftest import load_fixture

FIX = load_fixture("metafor_mv_forest")
# weights depend on the variance components, which agree with metafor to ~1e-6 (metafor's
# nlminb at rel.tol 1e-10); worst relative differences observed: assink 2.1e-7 (of the
# largest weight), berkey UN 5.8e-6. aggregate() uses V alone: 2.9e-15.
RTOL_W = 2e-5


def assink():
    a = FIX["assink"]
    d = pd.DataFrame({k: a[k] for k in ("yi", "vi", "study", "esid")})
    return d, rma_mv("yi", "vi", random="~ 1 | study/esid", data=d)


def berkey():
    b = FIX["berkey"]
    d = pd.DataFrame({k: b[k] for k in ("yi", "trial", "outcome")})
    mods = pd.get_dummies(d["outcome"]).astype(float)
    res = rma_mv(
        d["yi"].to_numpy(),
        np.asarray(b["V"]),
        mods=mods,
        intercept=False,
        random="~ outcome | trial",
        struct="UN",
        data=d,
    )
    return d, res


@pytest.mark.parametrize(
    ("case", "make", "column"), [("assink", assink, "study"), ("berkey", berkey, "trial")]
)
def test_weights_and_aggregate_match_metafor(case, make, column):
    ref = FIX[case]
    d, res = make()
    w = res.weights()
    assert w.sum() == pytest.approx(100)
    np.testing.assert_allclose(w, ref["weights"], rtol=RTOL_W)
    agg = res.aggregate(d[column])
    g = ref["aggregate"]
    expected = pd.DataFrame({"yi": g["yi"], "vi": g["vi"]}, index=g["group"])
    assert list(agg.index) == list(dict.fromkeys(d[column].astype(str)))
    np.testing.assert_allclose(agg.loc[expected.index, "yi"], expected["yi"], rtol=1e-12)
    np.testing.assert_allclose(agg.loc[expected.index, "vi"], expected["vi"], rtol=1e-12)
    assert (agg["k"] == d[column].astype(str).value_counts()[agg.index]).all()
    half = 1.959963984540054 * np.sqrt(agg["vi"])
    np.testing.assert_allclose(agg["ci_ub"] - agg["yi"], half, rtol=1e-12)


def test_aggregate_bad_groups_name_the_problem():
    d, res = berkey()
    with pytest.raises(InputError, match="group has 3 labels but the fit has 10 effect sizes"):
        res.aggregate(["a", "b", "c"])
    # each trial's two outcomes are correlated: grouping by outcome splits every V block
    with pytest.raises(InputError, match="V correlates effect sizes of different groups"):
        res.aggregate(d["outcome"])
