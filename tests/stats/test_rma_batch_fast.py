"""rma_batch's fast path (issue 21.3): threads, results written in place, lazy Q-profile CIs.

Each meta-analysis is computed on its own, so every number must be the same, bit for bit,
whatever the route: ``rma_batch`` with any number of threads, ``batch()`` on the same numbers
as a long table, and ``rma()`` on one row. The numbers themselves are checked against metafor
in test_rma_vs_metafor.py and test_batch.py.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview.stats.kernel import INTERVALS, chunk_rows

# a few simulated REML fits end at a local maximum and are reset to tau2 = 0 (as metafor)
pytestmark = pytest.mark.filterwarnings("ignore::metareview.ConvergenceWarning")

COLUMNS = (
    "beta",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "vb",
    "tau2",
    "se_tau2",
    "I2",
    "H2",
    "QE",
    "QEp",
    "QM",
    "QMp",
    "pi_lb",
    "pi_ub",
    "vt",
    "k",
    "converged",
    "iterations",
    *INTERVALS,
)


def _data(B: int, k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    V = rng.uniform(0.01, 0.3, (B, k))
    return rng.normal(0.2, np.sqrt(V + 0.04)), V


def _assert_same(a: mr.BatchResult, b: mr.BatchResult) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize(("method", "test"), [("DL", "z"), ("REML", "z"), ("PM", "knha")])
def test_threads_do_not_change_any_number(method, test):
    B, k = 30_000, 40
    assert 2 * chunk_rows(method, True, k) < B  # three chunks or more
    Y, V = _data(B, k)
    mask = np.random.default_rng(2).random((B, k)) > 0.3
    one = mr.rma_batch(Y, V, mask, method=method, test=test, threads=1)
    two = mr.rma_batch(Y, V, mask, method=method, test=test, threads=2)
    _assert_same(one, two)


def test_rma_batch_equals_batch_per_row():
    B, k = 40_000, 10
    Y, V = _data(B, k, seed=3)
    table = pd.DataFrame({"id": np.repeat(np.arange(B), k), "yi": Y.ravel(), "vi": V.ravel()})
    for method in ("DL", "REML"):
        arrays = mr.rma_batch(Y, V, method=method)
        frame = mr.batch(table, by="id", method=method, tau2_ci=True)
        for name in (
            "estimate",
            "se",
            "ci_lb",
            "ci_ub",
            "pi_lb",
            "pi_ub",
            "tau2",
            "se_tau2",
            "tau2_ci_lb",
            "tau2_ci_ub",
            "I2",
            "H2",
            "QE",
            "QEp",
            "iterations",
        ):
            ours = arrays.estimate if name == "estimate" else getattr(arrays, name)
            if ours.ndim == 2:
                ours = ours[:, 0]
            np.testing.assert_array_equal(ours, frame[name].to_numpy(), err_msg=name)


@pytest.mark.parametrize("method", ["DL", "REML", "EB"])
def test_rma_batch_equals_rma_per_row(method):
    B, k = 30_000, 12
    Y, V = _data(B, k, seed=4)
    arrays = mr.rma_batch(Y, V, method=method)
    for row in np.random.default_rng(5).choice(B, 12, replace=False):
        one = mr.rma(Y[row], V[row], method=method).to_dict()
        for name in (
            "estimate",
            "se",
            "pval",
            "ci_lb",
            "ci_ub",
            "pi_lb",
            "pi_ub",
            "tau2",
            "se_tau2",
            "tau2_ci_lb",
            "tau2_ci_ub",
            "I2",
            "H2",
            "QE",
            "QEp",
        ):
            ours = getattr(arrays, name)
            ours = ours[row, 0] if ours.ndim == 2 else ours[row]
            assert ours == one[name] or (np.isnan(ours) and one[name] is None), (row, name)


def test_intervals_are_computed_when_first_read():
    Y, V = _data(2_000, 8, seed=6)
    res = mr.rma_batch(Y, V, method="REML")
    assert res.qprofile._values is None  # nothing computed by the fit itself
    lower = res.tau2_ci_lb
    assert res.qprofile._values is not None and res.qprofile._parts == []  # inputs released
    assert res.I2_ci_ub is res.qprofile.bounds()["I2_ci_ub"]  # all six at once, then kept
    assert lower is res.tau2_ci_lb
    assert np.all(lower <= res.tau2) and np.all(res.tau2 <= res.tau2_ci_ub)


def test_no_intervals_when_not_asked_or_for_ee():
    Y, V = _data(500, 6, seed=7)
    for res in (mr.rma_batch(Y, V, method="DL", tau2_ci=False), mr.rma_batch(Y, V, method="EE")):
        for name in INTERVALS:
            assert np.isnan(getattr(res, name)).all(), name


def test_results_pickle_with_their_intervals():
    Y, V = _data(3_000, 8, seed=8)
    res = mr.rma_batch(Y, V, method="REML")
    again = pickle.loads(pickle.dumps(res))
    _assert_same(res, again)
