"""The few distribution functions the statistics layer needs, from :mod:`scipy.special`.

``scipy.stats`` costs about 0.8 s of start-up (it builds every distribution and imports
``scipy.optimize``, ``scipy.spatial`` and ``scipy.sparse``); ``scipy.special`` about a quarter
of that. ``scipy.stats`` evaluates these distributions with the same special functions, so the
values here are the same numbers, bit for bit (``tests/stats/test_distributions.py`` compares
them over a grid that includes the edges of each support). What ``scipy.stats`` adds on top is
kept too: ``nan`` outside the parameter space (``df <= 0``), the values at and beyond the ends
of the support, and a NumPy scalar for a scalar argument.

Use as ``dist.norm.isf(alpha / 2)``, ``dist.t.sf(x, df)``, ``dist.chi2.sf(q, df)``,
``dist.f.sf(x, dfn, dfd)`` after ``from metareview.stats import _distributions as dist``.

References
----------
Virtanen P, et al. (2020). SciPy 1.0: fundamental algorithms for scientific computing in
Python. Nature Methods, 17, 261-272. https://doi.org/10.1038/s41592-019-0686-2 (the special
functions ``ndtr``, ``ndtri``, ``stdtr``, ``stdtrit``, ``chdtr``, ``chdtrc``, ``chdtri``,
``gammaincinv`` and ``fdtrc``, from the Cephes library and Boost).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

__all__ = ["chi2", "f", "norm", "t"]


def _out(value: Any) -> Any:
    """A NumPy scalar for a scalar argument, else the array (as ``scipy.stats`` returns)."""
    return np.asarray(value)[()]


def _quantile(q: Any, inner: Any, at_0: float, at_1: float) -> Any:
    """``inner`` inside (0, 1), the support's ends at q = 0 and 1, nan elsewhere."""
    q = np.asarray(q, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(
            q == 0, at_0, np.where(q == 1, at_1, np.where((q > 0) & (q < 1), inner, np.nan))
        )


def _ends(x: Any, inner: Any, at_0: float, at_inf: float) -> Any:
    """On [0, inf): ``at_0`` for x <= 0, ``at_inf`` for x = inf, ``inner`` between."""
    return np.where(x <= 0, at_0, np.where(x == np.inf, at_inf, inner))


class _Norm:
    """The standard normal distribution."""

    @staticmethod
    def cdf(x: Any) -> Any:
        return special.ndtr(x)

    @staticmethod
    def sf(x: Any) -> Any:
        return special.ndtr(-np.asarray(x, dtype=float))[()]

    @staticmethod
    def isf(q: Any) -> Any:
        return -special.ndtri(q)


class _T:
    """Student's t distribution with ``df`` degrees of freedom (``df = inf``: the normal)."""

    @staticmethod
    def sf(x: Any, df: Any) -> Any:
        df = np.asarray(df, dtype=float)
        with np.errstate(invalid="ignore"):
            return _out(np.where(df > 0, special.stdtr(df, -np.asarray(x, dtype=float)), np.nan))

    @staticmethod
    def isf(q: Any, df: Any) -> Any:
        df = np.asarray(df, dtype=float)
        with np.errstate(invalid="ignore"):
            inner = -special.stdtrit(df, np.clip(q, 0.0, 1.0))
            return _out(np.where(df > 0, _quantile(q, inner, np.inf, -np.inf), np.nan))


class _Chi2:
    """The chi-squared distribution with ``df`` degrees of freedom; support [0, inf)."""

    @staticmethod
    def cdf(x: Any, df: Any) -> Any:
        x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
        with np.errstate(invalid="ignore"):
            inner = special.chdtr(df, np.maximum(x, 0.0))
            return _out(np.where(df > 0, _ends(x, inner, 0.0, 1.0), np.nan))

    @staticmethod
    def sf(x: Any, df: Any) -> Any:
        x, df = np.asarray(x, dtype=float), np.asarray(df, dtype=float)
        with np.errstate(invalid="ignore"):
            inner = special.chdtrc(df, np.maximum(x, 0.0))
            return _out(np.where(df > 0, _ends(x, inner, 1.0, 0.0), np.nan))

    @staticmethod
    def ppf(q: Any, df: Any) -> Any:
        df = np.asarray(df, dtype=float)
        with np.errstate(invalid="ignore"):
            inner = 2 * special.gammaincinv(df / 2, np.clip(q, 0.0, 1.0))
            return _out(np.where(df > 0, _quantile(q, inner, 0.0, np.inf), np.nan))

    @staticmethod
    def isf(q: Any, df: Any) -> Any:
        df = np.asarray(df, dtype=float)
        with np.errstate(invalid="ignore"):
            inner = special.chdtri(df, np.clip(q, 0.0, 1.0))
            return _out(np.where(df > 0, _quantile(q, inner, np.inf, 0.0), np.nan))


class _F:
    """The F distribution with ``dfn`` and ``dfd`` degrees of freedom; support [0, inf)."""

    @staticmethod
    def sf(x: Any, dfn: Any, dfd: Any) -> Any:
        x = np.asarray(x, dtype=float)
        dfn, dfd = np.asarray(dfn, dtype=float), np.asarray(dfd, dtype=float)
        with np.errstate(invalid="ignore"):
            inner = special.fdtrc(dfn, dfd, np.maximum(x, 0.0))
            return _out(np.where((dfn > 0) & (dfd > 0), _ends(x, inner, 1.0, 0.0), np.nan))


norm = _Norm()
t = _T()
chi2 = _Chi2()
f = _F()
