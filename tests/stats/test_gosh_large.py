"""GOSH at large k (issue 21.2): no sum of every binomial coefficient, a readable count."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import metareview as mr
from metareview import InputError


def _fit(k: int, seed: int = 1) -> mr.RmaResult:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.02, 0.2, k)
    return mr.rma(rng.normal(0.3, np.sqrt(vi + 0.05)), vi, method="DL")


@pytest.fixture
def counted_comb(monkeypatch):
    """math.comb, counting its calls (the old code called it k times before fitting)."""
    calls = []
    real = math.comb

    def comb(n: int, r: int) -> int:
        calls.append((n, r))
        return real(n, r)

    monkeypatch.setattr(math, "comb", comb)
    return calls


def test_sampled_gosh_at_large_k_counts_nothing(counted_comb):
    res = _fit(10_000)
    out = mr.gosh(res, subsets=10, seed=1)
    assert len(out.table) == 10 and out.incl.shape == (10, 10_000) and not out.exact
    assert counted_comb == []  # before: 10,001 binomial coefficients of up to 3,000 digits


def test_sampled_gosh_at_k_50000_runs():
    # before: over 10 minutes summing binomial coefficients before the first fit
    out = mr.gosh(_fit(50_000, seed=2), subsets=2, seed=3)
    assert out.table["k"].between(1, 50_000).all() and len(out.table) == 2


def test_large_k_without_subsets_states_the_count_readably(counted_comb):
    with pytest.raises(InputError) as caught:
        mr.gosh(_fit(2_000))
    message = str(caught.value)
    # log10(2^2000) = 2000 log10(2) = 602.06, 10^0.06 = 1.15
    assert "would fit 2^2000 - 1 (about 1.1e602) subsets; pass subsets=<number>" in message
    assert not re.search(r"\d{20}", message.replace(",", ""))  # before: all 603 digits
    assert [r for _, r in counted_comb] == [0]  # only the empty subset is subtracted


def test_count_with_moderators_leaves_out_the_too_small_subsets():
    rng = np.random.default_rng(4)
    k = 60
    vi = rng.uniform(0.02, 0.2, k)
    res = mr.rma(rng.normal(size=k), vi, mods=rng.normal(size=k), method="DL")
    with pytest.raises(InputError, match=r"would fit 2\^60 - 61 \(about 1\.2e18\) subsets"):
        mr.gosh(res)  # subsets of at least p = 2 studies: 2^60 - C(60,0) - C(60,1)


def test_small_counts_are_printed_in_full():
    rng = np.random.default_rng(3)
    res = mr.rma(rng.normal(size=21), rng.uniform(0.05, 0.2, 21), method="DL")
    with pytest.raises(InputError, match=r"k = 21 studies would fit 2,097,151 subsets"):
        mr.gosh(res)


def test_subsets_at_least_the_count_fit_every_subset():
    res = _fit(6)
    out = mr.gosh(res, subsets=10_000)
    assert out.exact and len(out.table) == 2**6 - 1
