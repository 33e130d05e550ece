"""Kendall's tau-b and the rank test at large k (issue 21.1): O(k log k), no k x k array.

References from outside the package: metafor's ``ranktest`` (tests/fixtures/
make_ranktest_fixtures.R, k = 60 to 3,000), ``scipy.stats.kendalltau`` (tau-b and its
asymptotic p-value with the tie-corrected variance, at k = 10^4 and 10^5 with ties), exact
integer Mahonian counts for the exact p-value, and a brute-force count of pairs.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

import metareview as mr
from metareview.stats._kendall import EXACT_MAX_N, kendall, kendall_s, kendall_var_s
from tests.conftest import load_fixture

FIXTURE = load_fixture("metafor_ranktest")
# tau: observed worst difference from metafor 2.2e-16 (k = 120)
TAU_ATOL = 1e-15
# p: metafor's exact upper tail is 1 - P(T <= q - 1), which loses digits: observed worst
# 8.0e-14 absolute at p = 5.2e-7 (k = 120) and 2.1e-13 at p = 0.31 (k = 170); the normal
# approximation agrees to 5.3e-15 relative
P_ATOL, P_RTOL = 1e-12, 1e-13
# against scipy: the same formulas in another order of operations; observed: equal bit for
# bit at k = 10^4 and 10^5
SCIPY_RTOL = 1e-14


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=[c["id"] for c in FIXTURE["cases"]])
def test_ranktest_matches_metafor(case):
    out = mr.ranktest(mr.rma(case["yi"], case["vi"], method="EE"))
    assert out.tau == pytest.approx(case["tau"], abs=TAU_ATOL, rel=0)
    if case["pval"] is None:  # metafor 3.8: R's exact count overflows for k > 170 -> NaN;
        # later metafor falls back to the normal approximation, as metareview does
        assert case["k"] > EXACT_MAX_N and not case["ties"]
        expected = case["pval_normal"]
    else:
        expected = case["pval"]
    np.testing.assert_allclose(out.pval, expected, rtol=P_RTOL, atol=P_ATOL)


def _tied(rng: np.random.Generator, n: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    y = 0.05 * x + rng.normal(size=n)
    return np.round(x * levels) / levels, np.round(y * levels) / levels


@pytest.mark.parametrize(("n", "levels"), [(10_000, 20), (100_000, 50), (100_000, 10**6)])
def test_tau_b_and_normal_pvalue_match_scipy(n, levels):
    x, y = _tied(np.random.default_rng(n + levels), n, levels)
    assert np.unique(x).size < n and np.unique(y).size < n  # ties on both sides
    expected = stats.kendalltau(x, y, variant="b", method="asymptotic")
    tau, pval = kendall(x, y)
    np.testing.assert_allclose(tau, expected.statistic, rtol=SCIPY_RTOL)
    np.testing.assert_allclose(pval, expected.pvalue, rtol=SCIPY_RTOL)


def test_variance_of_s_gives_scipys_z():
    # scipy's z is S / sqrt(var S) with the same tie correction (Kendall, 1970, eq. 4.3)
    x, y = _tied(np.random.default_rng(7), 20_000, 15)
    S, tx, ty = kendall_s(x, y)
    z = S / math.sqrt(kendall_var_s(x.size, tx, ty))
    expected = stats.kendalltau(x, y, method="asymptotic").pvalue
    np.testing.assert_allclose(2 * stats.norm.sf(abs(z)), expected, rtol=SCIPY_RTOL)


@pytest.mark.parametrize("n", [2, 3, 7, 40, 150])
def test_s_and_ties_match_a_count_of_pairs(n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, max(2, n // 4), n).astype(float)
    y = rng.integers(0, max(2, n // 3), n).astype(float)
    i, j = np.triu_indices(n, 1)
    brute = int(np.sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])))
    assert kendall_s(x, y)[0] == brute


def _exact_two_sided(n: int, concordant: int) -> float:
    """2 min(P(T <= q), P(T >= q)) from exact integer Mahonian counts (no floating point)."""
    counts = [1]
    for m in range(2, n + 1):  # multiply by 1 + z + ... + z^(m-1): window sums of counts
        prefix = [0]
        for c in counts:
            prefix.append(prefix[-1] + c)
        size = len(counts) + m - 1
        counts = [
            prefix[min(j, len(counts) - 1) + 1] - prefix[max(0, j - m + 1)] for j in range(size)
        ]
    lower, upper = sum(counts[: concordant + 1]), sum(counts[concordant:])
    return min(1.0, 2 * min(lower, upper) / math.factorial(n))


@pytest.mark.parametrize(("n", "slope"), [(12, 0.4), (60, 0.0), (120, 0.6), (170, -0.3)])
def test_exact_pvalue_matches_integer_counts(n, slope):
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    y = slope * x + rng.normal(size=n)
    S = kendall_s(x, y)[0]
    pval = kendall(x, y)[1]
    expected = _exact_two_sided(n, (n * (n - 1) // 2 + S) // 2)
    assert pval == pytest.approx(expected, rel=1e-14)  # observed worst 5.2e-16 (n = 120)


def test_exact_only_without_ties_and_up_to_170():
    rng = np.random.default_rng(3)
    x = rng.normal(size=171)
    y = 0.1 * x + rng.normal(size=171)
    normal = stats.kendalltau(x, y, method="asymptotic").pvalue
    assert kendall(x, y)[1] == pytest.approx(normal, rel=SCIPY_RTOL)
    x60, y60 = x[:60].copy(), y[:60].copy()
    x60[1] = x60[0]  # one tie: normal approximation
    assert kendall(x60, y60)[1] == pytest.approx(
        stats.kendalltau(x60, y60, method="asymptotic").pvalue, rel=SCIPY_RTOL
    )


def test_constant_input_has_no_correlation():
    tau, pval = kendall(np.ones(5), np.arange(5.0))
    assert math.isnan(tau) and math.isnan(pval)


def test_ranktest_memory_is_linear_in_k():
    # the old k x k sign matrices took ~600 MB at k = 5,000; now a few arrays of k values
    rng = np.random.default_rng(5)
    k = 5_000
    vi = rng.uniform(0.01, 0.2, k)
    res = mr.rma(rng.normal(0.2, np.sqrt(vi + 0.02)), vi, method="DL")
    tracemalloc.start()
    try:
        mr.ranktest(res)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20  # measured: 0.66 MB
