"""The study-major kernel's shortcuts reproduce the plain computations they replace.

The kernel sums over studies column-wise but in numpy's pairwise order, computes how many
times Fisher scoring halves a step instead of halving in a loop, and takes chi-square tails
from finite sums: each must give the numbers of the straightforward code (bitwise where it
claims to), so that batch() results never depend on chunking or threads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from metareview import batch
from metareview.stats._design import sum_studies
from metareview.stats.kernel import chi2_upper_tail
from metareview.stats.tau2 import _halve_until_nonnegative

pytestmark = pytest.mark.filterwarnings("ignore::metareview.ConvergenceWarning")

RTOL_CHI2 = 1e-12  # finite sums vs scipy's chdtrc; both are accurate to ~1e-15 here


@pytest.mark.parametrize("k", [1, 2, 7, 8, 9, 10, 15, 16, 17, 31, 64, 127, 128, 129, 300, 1000])
@pytest.mark.parametrize("B", [1, 2, 5])
def test_sum_studies_is_numpys_row_sum_bitwise(k, B):
    rng = np.random.default_rng(k * 10 + B)
    rows = rng.standard_normal((B, k)) * 10.0 ** rng.integers(-8, 8, (B, k))
    study_major = np.ascontiguousarray(rows.T)
    expected = rows.sum(axis=1)
    assert np.array_equal(sum_studies(study_major), expected)
    assert np.array_equal(sum_studies(study_major.copy(), overwrite=True), expected)
    stack = np.stack([study_major, 2 * study_major])
    assert np.array_equal(sum_studies(stack), np.stack([expected, (2 * rows).sum(axis=1)]))


def test_halving_matches_halving_one_step_at_a_time():
    rng = np.random.default_rng(1)
    n = 200_000
    tau2 = np.abs(rng.standard_normal(n)) * 10.0 ** rng.integers(-12, 2, n)
    adj = rng.standard_normal(n) * 10.0 ** rng.integers(-12, 3, n)
    tau2[:1000] = rng.random(1000)  # |adj| exactly tau2 * 2^j: the boundary case
    adj[:1000] = -tau2[:1000] * 2.0 ** rng.integers(0, 40, 1000)
    tau2[1000:1100] = 0.0
    tau2[1100:1200] = 2.0**-1060  # subnormal: halved one step at a time
    expected = np.where((tau2 == 0) & (adj < 0), 0.0, adj)
    short = tau2 + expected < 0
    while short.any():
        expected = np.where(short, expected / 2, expected)
        short = tau2 + expected < 0
    assert np.array_equal(_halve_until_nonnegative(tau2, adj.copy()), expected)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 10, 19, 20, 99, 100, 101, 400])
def test_chi2_upper_tail_agrees_with_scipy(df):
    rng = np.random.default_rng(df)
    x = np.concatenate(
        [
            rng.chisquare(df, 20_000),
            rng.uniform(0, 1500, 5_000),
            10.0 ** rng.uniform(-10, 3.2, 5_000),
            [0.0, np.nan, np.inf],
        ]
    )
    expected = special.chdtrc(df, x)
    got = chi2_upper_tail(np.full(x.size, df), x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    tail = expected > 1e-200  # below, both lose relative accuracy (about 1e-13)
    np.testing.assert_allclose(got[tail], expected[tail], rtol=RTOL_CHI2, atol=0)
    np.testing.assert_allclose(got[~tail], expected[~tail], rtol=1e-11, atol=0)


def test_chi2_upper_tail_with_mixed_df():
    rng = np.random.default_rng(3)
    df = rng.integers(1, 30, 5_000)
    x = rng.chisquare(df).astype(float)
    np.testing.assert_allclose(chi2_upper_tail(df, x), special.chdtrc(df, x), rtol=RTOL_CHI2)


def test_batch_is_bitwise_the_same_for_any_threads_and_chunks():
    rng = np.random.default_rng(11)
    ks = rng.integers(1, 13, size=400)
    review = np.repeat(np.arange(400), ks)
    vi = rng.uniform(0.01, 0.3, review.size)
    table = pd.DataFrame({"review": review, "yi": rng.normal(0.2, np.sqrt(vi + 0.05)), "vi": vi})
    for method in ("DL", "REML"):
        whole = batch(table, by="review", method=method, threads=1)
        for threads, rows in ((2, 7), (3, 64), (2, None)):
            again = batch(table, by="review", method=method, threads=threads, chunk_rows=rows)
            pd.testing.assert_frame_equal(whole, again, check_exact=True)
        # interleaved (round robin), each meta-analysis's studies still in their order:
        # grouped by hashing, not by runs
        position = table.groupby("review").cumcount().to_numpy()
        interleaved = table.iloc[np.lexsort((table["review"].to_numpy(), position))]
        again = batch(interleaved, by="review", method=method, threads=2)
        pd.testing.assert_frame_equal(whole.loc[again.index], again, check_exact=True)


def test_batch_of_an_empty_table_has_the_columns():
    out = batch(pd.DataFrame({"review": [], "yi": [], "vi": []}), by="review", method="DL")
    assert len(out) == 0
    assert list(out.columns)[:2] == ["estimate", "se"] and "tau2_reset" in out.columns
