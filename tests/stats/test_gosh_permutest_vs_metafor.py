"""GOSH and exact permutation tests against metafor 3.8 (tests/fixtures/metafor_gosh.json and
metafor_permutest.json, made by tests/fixtures/make_bias_fixtures.R): every subset's
estimate, I2, H2, tau2 and QE; exact sign-flip and row-permutation p-values."""

from __future__ import annotations

import numpy as np
import pytest

from metareview import InputError, gosh, permutest, rma
from tests.conftest import load_fixture

GOSH = load_fixture("metafor_gosh")["cases"]
PERM = load_fixture("metafor_permutest")["cases"]
#: rtol by estimator, just above the worst relative error observed over every subset
#: (`pytest -p tests.measure_tolerances`): EE and DL 6.1e-12 (estimate); REML 7.4e-7 (tau2
#: and I2 of subsets whose tau2 is near 0, where both sides stop at ~1e-10 absolute)
RTOL = {"EE": 1e-10, "DL": 1e-10, "REML": 1e-5}
#: metafor's shortcut H2 = QE/(k-1) for truncated DL subsets: observed 2.6e-13
RTOL_H2_SHORTCUT = 1e-12


@pytest.mark.parametrize("case", GOSH, ids=[c["id"] for c in GOSH])
def test_gosh_every_subset_matches(case):
    res = rma(case["yi"], case["vi"], method=case["method"])
    out = gosh(res)
    assert out.exact and len(out.table) == case["n_subsets"] == 2 ** len(case["yi"]) - 1
    ours = {tuple(row): i for i, row in enumerate(out.incl.astype(int).tolist())}
    order = np.array([ours[tuple(row)] for row in case["incl"]])
    ours_sorted = out.table.iloc[order]
    for key in ("estimate", "I2", "H2", "tau2", "QE", "k"):
        theirs = np.array([np.nan if v is None else v for v in case[key]], float)
        mine = ours_sorted[key].to_numpy()
        if case["method"] == "EE" and key == "tau2":
            continue  # metafor stores no tau2 for EE fits
        if case["method"] == "DL" and key == "H2":
            # metafor's gosh() takes a shortcut for DL and reports H2 = QE/(k-1) even where
            # QE < k-1 and tau2 is truncated to 0; its own rma() (and ours) gives H2 = 1 there
            k = ours_sorted["k"].to_numpy()
            truncated = (k > 1) & (ours_sorted["QE"].to_numpy() < k - 1)
            assert truncated.any()
            np.testing.assert_allclose(mine[truncated], 1.0)
            np.testing.assert_allclose(
                theirs[truncated],
                ours_sorted["QE"].to_numpy()[truncated] / (k - 1)[truncated],
                rtol=RTOL_H2_SHORTCUT,
            )
            mine, theirs = mine[~truncated], theirs[~truncated]
        np.testing.assert_allclose(mine, theirs, rtol=RTOL[case["method"]], atol=1e-8, err_msg=key)


def test_gosh_needs_a_sample_size_for_large_k():
    rng = np.random.default_rng(3)
    res = rma(rng.normal(size=25), rng.uniform(0.05, 0.2, 25), method="DL")
    with pytest.raises(
        InputError,
        match=r"k = 25 studies would fit 33,554,431 subsets; pass "
        r"subsets=",
    ):
        gosh(res)
    sample = gosh(res, subsets=2000, seed=1)
    assert len(sample.table) == 2000 and not sample.exact
    again = gosh(res, subsets=2000, seed=1)
    np.testing.assert_array_equal(sample.incl, again.incl)  # seeded: reproducible


@pytest.mark.parametrize("case", PERM, ids=[c["id"] for c in PERM])
def test_exact_permutation_p_values(case):
    mods = np.array(case["mods"], float) if case.get("mods") else None
    res = rma(case["yi"], case["vi"], method=case["method"], test=case["test"], mods=mods)
    out = permutest(res, exact=True)
    assert out.exact and out.iterations == case["exact_iter"]
    np.testing.assert_allclose(out.pval, case["pval"], atol=1e-12)
    np.testing.assert_allclose(out.QMp, case["QMp"], atol=1e-12)
