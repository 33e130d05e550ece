"""Bad input to the bias and sensitivity functions gets a clear error saying what is needed;
PET-PEESE and the sensitivity helper are assembled from pieces checked against metafor."""

from __future__ import annotations

import numpy as np
import pytest

from metareview import (
    InputError,
    influence,
    leave1out,
    pet_peese,
    ranktest,
    regtest,
    rma,
    sensitivity,
    trimfill,
)
from tests.conftest import load_fixture

EGGER = next(c for c in load_fixture("metafor_bias")["cases"] if c["id"] == "egger2001_OR_REML")


def test_regtest_needs_three_studies():
    res = rma([0.1, 0.5], [0.1, 0.2], method="DL")
    with pytest.raises(InputError, match="regtest needs at least 3 studies; the model has k = 2"):
        regtest(res)


def test_ranktest_needs_three_studies():
    with pytest.raises(InputError, match="ranktest needs at least 3 studies"):
        ranktest(rma([0.1, 0.5], [0.1, 0.2], method="DL"))


def test_egger_with_equal_variances_is_refused():
    res = rma([0.1, 0.5, 0.3, 0.2], [0.1] * 4, method="DL")
    with pytest.raises(InputError, match="predictor sei takes the same value in every study"):
        regtest(res)


def test_sample_size_predictor_needs_sample_sizes():
    res = rma([0.1, 0.5, 0.3, 0.2], [0.1, 0.2, 0.3, 0.4], method="DL")
    with pytest.raises(InputError, match="predictor 'ninv' needs sample sizes"):
        regtest(res, predictor="ninv")


def test_trimfill_and_leave1out_refuse_meta_regression():
    res = rma([0.1, 0.5, 0.3, 0.2, 0.7], [0.1, 0.2, 0.3, 0.4, 0.1], mods=[1, 2, 3, 4, 5])
    with pytest.raises(InputError, match="intercept-only"):
        trimfill(res)
    with pytest.raises(InputError, match="leave1out applies to models without moderators"):
        leave1out(res)


def test_influence_needs_estimable_deleted_fits():
    res = rma([0.1, 0.5, 0.3, 0.2], [0.1, 0.2, 0.3, 0.4], mods=[1, 2, 3, 5])
    influence(res)  # k = 4, p = 2: each deleted fit has 3 studies
    small = rma([0.1, 0.5, 0.3], [0.1, 0.2, 0.3], mods=[1, 2, 4], method="DL")
    with pytest.raises(InputError, match="influence needs k > p \\+ 1"):
        influence(small)


def test_pet_peese_uses_the_regression_limit_estimates():
    res = rma(EGGER["yi"], EGGER["vi"], method="REML")
    out = pet_peese(res)
    pet_ref = next(r for r in EGGER["regtest"] if (r["model"], r["predictor"]) == ("lm", "sei"))
    peese_ref = next(r for r in EGGER["regtest"] if (r["model"], r["predictor"]) == ("lm", "vi"))
    np.testing.assert_allclose(out.pet.est, pet_ref["est"], rtol=1e-6)
    np.testing.assert_allclose(out.peese.est, peese_ref["est"], rtol=1e-6)
    pet_intercept_p = out.pet.fit.pval[0]
    assert out.chosen == ("PEESE" if pet_intercept_p < 0.05 else "PET")


def test_sensitivity_side_by_side():
    case = next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_DL_z")
    res = rma(case["yi"], case["vi"], slab=case["slab"], method="DL")
    out = sensitivity(res, [case["slab"][0]])
    assert out.excluded == (case["slab"][0],)
    assert out.reduced.k == res.k - 1
    # the reduced fit is leave-one-out's first row (itself checked against metafor)
    np.testing.assert_allclose(out.reduced.estimate, leave1out(res)["estimate"].iloc[0])
    table = out.table()
    np.testing.assert_allclose(
        table.loc["estimate", "difference"], out.reduced.estimate - res.estimate
    )
    with pytest.raises(InputError, match="unknown studies \\['Nope'\\]"):
        sensitivity(res, ["Nope"])


def test_refits_use_the_models_control():
    # found by the benchmark: leave1out/gosh must refit with the model's own control
    rng = np.random.default_rng(5)
    vi = rng.uniform(0.01, 0.2, 16)
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    loose = {"threshold": 1e-5, "maxiter": 100}
    res = rma(yi, vi, control=loose)
    by_loop = [rma(np.delete(yi, i), np.delete(vi, i), control=loose).tau2 for i in range(16)]
    np.testing.assert_allclose(leave1out(res)["tau2"], by_loop, rtol=0, atol=1e-15)
