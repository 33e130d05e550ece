"""Kendall's rank correlation with metafor's p-value rule (needed by the rank test).

tau is tau-b (tie-corrected), computed in O(n log n) time and O(n) memory by Knight's
algorithm (Knight, 1966, J. Am. Stat. Assoc. 61, 436-439): sort the pairs by x (then y),
count the discordant pairs as the inversions of y in that order, and count the ties of x, of
y and of both from sorted runs. No n x n array is formed, so n = 1,000,000 takes about a
second (bench/bench_kendall.py).

The two-sided p-value follows metafor's ``ranktest``, which calls R's
``cor.test(method = "kendall", exact = TRUE)``: without ties, the exact permutation
distribution of the number of concordant pairs (Mahonian numbers; R computes it as a count
over gamma(n + 1), which overflows for n > 170, where metafor 3.8 returns NaN and later
versions fall back to the normal approximation, as done here); with ties, or for n > 170,
the normal approximation with the tie-corrected variance of S (Kendall, 1970, Rank
Correlation Methods, 4th ed., ch. 4).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import special

#: largest n for which the exact p-value is computed (R's gamma(n + 1) is finite up to 170)
EXACT_MAX_N = 170


@lru_cache(maxsize=64)
def _concordance_cdf(n: int) -> np.ndarray:
    """P(T <= q), q = 0..n(n-1)/2, for T the number of concordant pairs among n untied
    values under independence (the Mahonian distribution of inversions)."""
    probs = np.array([1.0])
    for m in range(2, n + 1):
        # a new element adds 0..m-1 inversions, each with probability 1/m
        probs = np.convolve(probs, np.ones(m)) / m
    return np.cumsum(probs)


def _ranks_and_ties(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense 0-based ranks (ties share a rank, no gaps) and the sizes (> 1) of the runs of
    tied values, as floats, from one sort."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new_value = np.empty(values.size, dtype=bool)
    new_value[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new_value[1:])
    ranks = np.empty(values.size, dtype=np.int64)
    ranks[order] = np.cumsum(new_value) - 1
    return ranks, _run_sizes(new_value)


def _run_sizes(starts_mask: np.ndarray) -> np.ndarray:
    """Sizes (> 1) of the runs that begin where ``starts_mask`` is True, as floats."""
    starts = np.flatnonzero(starts_mask)
    sizes = np.diff(np.append(starts, starts_mask.size))
    return sizes[sizes > 1].astype(float)


def _inversions(ranks: np.ndarray) -> int:
    """Pairs i < j with ranks[i] > ranks[j] (ties are not inversions), in O(n log n) time:
    a bottom-up merge sort, each level one stable sort of every row of two sorted halves
    (a single merge in numpy's timsort). An element of a right half that lands at position
    p of its merged row, having been at position t of the row, passes ``t - p`` larger
    elements of the left half, its inversions at that level; stability keeps equal values
    in order, so ties count none. Padded to a power of two with values above every rank,
    which pass nothing."""
    n = ranks.size
    if n < 2:
        return 0
    size = 1 << (n - 1).bit_length()
    current = np.full(size, np.iinfo(np.int64).max)
    current[:n] = ranks
    total = 0
    width = 1
    while width < size:
        rows = current.reshape(-1, 2 * width)
        order = np.argsort(rows, axis=1, kind="stable")
        passed = order - np.arange(2 * width)  # t - p; > 0 only for right-half elements
        total += int(passed[order >= width].sum())
        current = np.take_along_axis(rows, order, axis=1).reshape(-1)
        width *= 2
    return total


def kendall_s(x: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Kendall's S (concordant minus discordant pairs) and the tie-run sizes of x and y.

    Knight (1966): with the pairs sorted by x and then y, the discordant pairs are the
    inversions of y; S = n0 - n1 - n2 + n3 - 2 * discordant, where n0 = n(n-1)/2 and
    n1, n2, n3 count the pairs tied in x, in y and in both.
    """
    n = x.size
    rank_x, tx = _ranks_and_ties(x)
    rank_y, ty = _ranks_and_ties(y)
    key = rank_x * (int(rank_y.max(initial=0)) + 1) + rank_y  # < n^2: fits in int64
    order = np.argsort(key)
    key = key[order]
    new_pair = np.empty(n, dtype=bool)
    new_pair[:1] = True
    np.not_equal(key[1:], key[:-1], out=new_pair[1:])
    txy = _run_sizes(new_pair)  # runs tied in both x and y
    n0 = n * (n - 1) // 2
    n1, n2, n3 = (int((t * (t - 1)).sum()) // 2 for t in (tx, ty, txy))
    discordant = _inversions(rank_y[order])
    return n0 - n1 - n2 + n3 - 2 * discordant, tx, ty


def kendall_var_s(n: int, tx: np.ndarray, ty: np.ndarray) -> float:
    """Variance of S under independence, corrected for ties (Kendall, 1970, eq. 4.3)."""
    v0 = n * (n - 1) * (2 * n + 5)
    vt = (tx * (tx - 1) * (2 * tx + 5)).sum()
    vu = (ty * (ty - 1) * (2 * ty + 5)).sum()
    v1 = (tx * (tx - 1)).sum() * (ty * (ty - 1)).sum()
    v2 = (tx * (tx - 1) * (tx - 2)).sum() * (ty * (ty - 1) * (ty - 2)).sum()
    return float((v0 - vt - vu) / 18 + v1 / (2 * n * (n - 1)) + v2 / (9 * n * (n - 1) * (n - 2)))


def kendall(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b and its two-sided p-value, as metafor's ``ranktest`` obtains them.

    Examples
    --------
    >>> kendall(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))
    (0.6666666666666666, 0.3333333333333333)
    """
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    n = x.size
    S, tx, ty = kendall_s(x, y)
    n0 = n * (n - 1) / 2
    n1, n2 = (tx * (tx - 1)).sum() / 2, (ty * (ty - 1)).sum() / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = S / np.sqrt((n0 - n1) * (n0 - n2))
    if not np.isfinite(tau):  # all x or all y equal: no correlation is defined
        return float("nan"), float("nan")
    if n <= EXACT_MAX_N and tx.size == 0 and ty.size == 0:
        pairs = n * (n - 1) // 2
        q = (pairs + S) // 2  # concordant pairs
        # the upper tail P(T >= q) as the lower tail P(T <= pairs - q) (the distribution is
        # symmetric): R forms it as 1 - P(T <= q - 1) and loses digits (1.5e-7 relative at
        # p = 5e-7, k = 120); the two agree to 1e-13 elsewhere
        one_sided = _concordance_cdf(n)[min(q, pairs - q)]
        return float(tau), float(min(2 * one_sided, 1.0))
    z = S / np.sqrt(kendall_var_s(n, tx, ty))
    return float(tau), float(2 * special.ndtr(-abs(z)))
