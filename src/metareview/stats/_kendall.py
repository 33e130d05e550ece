"""Kendall's rank correlation with R's ``cor.test`` p-value rules (needed by the rank test).

tau is tau-b (tie-corrected). The two-sided p-value is exact (the permutation distribution of
the number of concordant pairs, via Mahonian numbers) when n < 50 and there are no ties, and
otherwise from the normal approximation with the tie-corrected variance of S (Kendall, 1970,
Rank Correlation Methods, 4th ed., ch. 4), as R's ``cor.test(method = "kendall")``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats


def _tie_counts(x: np.ndarray) -> np.ndarray:
    _, counts = np.unique(x, return_counts=True)
    return counts[counts > 1].astype(float)


@lru_cache(maxsize=64)
def _concordance_cdf(n: int) -> np.ndarray:
    """P(T <= q), q = 0..n(n-1)/2, for T the number of concordant pairs among n untied
    values under independence (the Mahonian distribution of inversions)."""
    counts = np.array([1.0])
    for m in range(2, n + 1):
        # a new element can add 0..m-1 inversions
        new = np.zeros(counts.size + m - 1)
        for shift in range(m):
            new[shift:shift + counts.size] += counts
        counts = new / m  # keep as probabilities to avoid overflow
    return np.cumsum(counts)


def kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b and its two-sided p-value, as R's ``cor.test(x, y, method="kendall")``.

    Examples
    --------
    >>> kendall(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))
    (0.6666666666666666, 0.3333333333333335)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = x.size
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    S = float(np.triu(dx * dy, 1).sum())
    T0 = n * (n - 1) / 2
    tx, ty = _tie_counts(x), _tie_counts(y)
    T1, T2 = (tx * (tx - 1)).sum() / 2, (ty * (ty - 1)).sum() / 2
    tau = S / np.sqrt((T0 - T1) * (T0 - T2))
    if n < 50 and tx.size == 0 and ty.size == 0:
        q = round((tau + 1) * n * (n - 1) / 4)
        cdf = _concordance_cdf(n)
        one_sided = 1 - cdf[q - 1] if q > n * (n - 1) / 4 else cdf[q]
        return float(tau), float(min(2 * one_sided, 1.0))
    v0 = n * (n - 1) * (2 * n + 5)
    vt = (tx * (tx - 1) * (2 * tx + 5)).sum()
    vu = (ty * (ty - 1) * (2 * ty + 5)).sum()
    v1 = (tx * (tx - 1)).sum() * (ty * (ty - 1)).sum()
    v2 = (tx * (tx - 1) * (tx - 2)).sum() * (ty * (ty - 1) * (ty - 2)).sum()
    var_S = (v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1)) + v2 / (9 * n * (n - 1) * (n - 2))
    z = S / np.sqrt(var_S)
    return float(tau), float(2 * min(stats.norm.cdf(z), stats.norm.sf(z)))
