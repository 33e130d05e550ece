"""The distribution functions of ``stats/_distributions.py`` are ``scipy.stats``'s, bit for bit.

They exist so that the statistics layer need not import ``scipy.stats`` (issue 21.19: start-up
time); scipy.stats is the reference here, evaluated on a grid that includes the edges of each
support, arguments outside it, infinite and missing values, and degrees of freedom <= 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import stats

from metareview.stats import _distributions as dist

X = np.array([-np.inf, -40.0, -3.1, -1.0, -1e-300, 0.0, 1e-300, 0.3, 1.0, 1.96, 7.5, 40.0, 1e4])
X = np.append(X, [np.inf, np.nan])
Q = np.array([-0.1, 0.0, 1e-300, 1e-12, 0.001, 0.025, 0.05, 0.3, 0.5, 0.975, 1 - 1e-12, 1.0])
Q = np.append(Q, [1.5, np.nan])
DF = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 2.5, 7.0, 30.0, 1e6, np.inf, np.nan])


def grid(a, *dfs):
    """Every combination of ``a`` with each degrees-of-freedom vector, broadcast."""
    mesh = np.meshgrid(a, *dfs, indexing="ij")
    return [m.ravel() for m in mesh]


@pytest.mark.parametrize("name", ["cdf", "sf", "isf"])
def test_normal(name):
    values = Q if name == "isf" else X
    assert_array_equal(getattr(dist.norm, name)(values), getattr(stats.norm, name)(values))


@pytest.mark.parametrize(
    ("family", "name"),
    [("t", "sf"), ("t", "isf"), ("chi2", "cdf"), ("chi2", "sf"), ("chi2", "ppf"), ("chi2", "isf")],
)
def test_one_parameter(family, name):
    x, df = grid(Q if name in ("ppf", "isf") else X, DF)
    ours = getattr(getattr(dist, family), name)(x, df)
    with np.errstate(all="ignore"):
        theirs = getattr(getattr(stats, family), name)(x, df)
    assert_array_equal(ours, theirs)


def test_f_upper_tail():
    x, dfn, dfd = grid(X, DF, DF)
    assert_array_equal(dist.f.sf(x, dfn, dfd), stats.f.sf(x, dfn, dfd))


def test_a_scalar_gives_a_numpy_scalar_as_scipy_stats_does():
    for ours, theirs in [
        (dist.norm.isf(0.025), stats.norm.isf(0.025)),
        (dist.norm.sf(1.5), stats.norm.sf(1.5)),
        (dist.t.isf(0.025, 12), stats.t.isf(0.025, 12)),
        (dist.chi2.sf(3.2, 2), stats.chi2.sf(3.2, 2)),
        (dist.f.sf(2.0, 1, 9), stats.f.sf(2.0, 1, 9)),
    ]:
        assert type(ours) is type(theirs) is np.float64
        assert ours == theirs
