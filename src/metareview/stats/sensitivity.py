"""Sensitivity and influence analyses, each a mask or a batch on the kernel.

``leave1out`` (B = k masks), ``cumul`` (B = k nested masks), ``influence`` (case-deletion
diagnostics from the leave-one-out batch), ``baujat``, ``gosh`` (every subset, or a seeded
sample), ``permutest`` (sign flips or row permutations as a batch) and ``sensitivity`` (refit
without named studies, side by side). None of them loops over calls to :func:`rma`.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metareview._validation import ITER, SEED, SUBSETS, check_optional
from metareview.exceptions import Argument, ConvergenceError, InputError, StudyOmittedWarning
from metareview.stats import _distributions as dist
from metareview.stats.kernel import BatchResult, rma_batch
from metareview.stats.mh import MhResult, rma_mh, rma_peto
from metareview.stats.models import RmaResult, check_rma_result, rma

if TYPE_CHECKING:  # glmm is imported when a GLMM fit is given (keeps this module light)
    from metareview.stats.glmm import GlmmResult

__all__ = [
    "GoshResult",
    "PermutestResult",
    "SensitivityResult",
    "baujat",
    "cumul",
    "gosh",
    "influence",
    "leave1out",
    "permutest",
    "sensitivity",
]

_SUMMARY_COLUMNS = (
    "estimate",
    "se",
    "zval",
    "pval",
    "ci_lb",
    "ci_ub",
    "QE",
    "QEp",
    "tau2",
    "I2",
    "H2",
)
#: subsets fitted per kernel call in GOSH and permutation batches (bounds memory)
CHUNK = 32_768


def _check_progress(progress: object) -> None:
    if progress is not None and not callable(progress):
        raise InputError(
            "progress must be a function called as progress(done, total), or "
            f"None; got {type(progress).__name__}."
        )


def _refit(
    res: RmaResult,
    mask: np.ndarray | None = None,
    *,
    Y: np.ndarray | None = None,
    X: np.ndarray | None = None,
    allow_saturated: bool = False,
) -> BatchResult:
    """Refit ``res``'s model on a batch: masks of studies, permuted effects or designs."""
    k = res.k
    given = next((a for a in (mask, Y, X) if a is not None), None)
    if given is None:
        raise TypeError("_refit needs a mask, Y or X")
    B = given.shape[0]
    Ys = Y if Y is not None else np.broadcast_to(res.yi, (B, k))
    design = X if X is not None else (res.X if res.has_mods else None)
    return rma_batch(
        Ys,
        np.broadcast_to(res.vi, (B, k)),
        mask=mask,
        X=design,
        method=res.method,
        test=res.test,
        level=res.level,
        tau2_ci=False,
        allow_saturated=allow_saturated,
        control=res.control,
    )


def _summary_frame(batch: BatchResult, index: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "estimate": batch.estimate,
            "se": batch.se[:, 0],
            "zval": batch.zval[:, 0],
            "pval": batch.pval[:, 0],
            "ci_lb": batch.ci_lb[:, 0],
            "ci_ub": batch.ci_ub[:, 0],
            "QE": batch.QE,
            "QEp": batch.QEp,
            "tau2": batch.tau2,
            "I2": batch.I2,
            "H2": batch.H2,
        },
        index=pd.Index(list(index), name="study"),
    )
    return frame[list(_SUMMARY_COLUMNS)]


def leave1out(res: RmaResult | MhResult | GlmmResult) -> pd.DataFrame:
    """Refit the model k times, each time leaving one study out.

    Mantel-Haenszel and Peto fits (:func:`rma_mh`, :func:`rma_peto`) are refitted from their
    counts with the same options, as metafor's ``leave1out`` on ``rma.mh``/``rma.peto``
    objects (``tau2`` is then 0). GLMM fits (:func:`rma_glmm`) are refitted from their counts
    with the same measure, model and ``nAGQ`` (metafor has no ``leave1out`` for ``rma.glmm``;
    this is the loop of ``rma.glmm`` fits one would write); ``QE``/``QEp`` are then the
    Wald-type test (metafor's ``QE.Wld``).

    Returns
    -------
    DataFrame
        Indexed by the omitted study: estimate, se, zval, pval, ci_lb, ci_ub, QE, QEp, tau2,
        I2, H2.

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.1, 0.3, 0.5, 0.9], [0.04, 0.04, 0.04, 0.04], method="DL")
    >>> mr.leave1out(res)["estimate"].round(4).tolist()
    [0.5667, 0.5, 0.4333, 0.3]
    """
    if isinstance(res, MhResult):
        return _leave1out_mh(res)
    from metareview.stats.glmm import GlmmResult

    if isinstance(res, GlmmResult):
        return _leave1out_glmm(res)
    res = check_rma_result(res, "leave1out", model="intercept", min_k=3)
    mask = ~np.eye(res.k, dtype=bool)
    return _summary_frame(_refit(res, mask), res.slab)


def _leave1out_mh(res: MhResult) -> pd.DataFrame:
    """One :func:`rma_mh` / :func:`rma_peto` refit per omitted study (k is small: a loop)."""
    if res.cells is None or res.fit_args is None:
        raise InputError(
            "leave1out() needs the counts of the fit; refit it with rma_mh() or rma_peto()."
        )
    if res.k < 3:
        raise InputError(f"leave1out() needs at least 3 studies; the fit has {res.k}.")
    names = (
        ("x1i", "t1i", "x2i", "t2i") if res.measure in {"IRR", "IRD"} else ("ai", "bi", "ci", "di")
    )
    options: dict[str, Any] = {
        key: list(value) for key, value in res.fit_args.items() if key != "correct"
    }
    if res.method == "MH":
        options.update(measure=res.measure, correct=res.fit_args["correct"])
    fit: Callable[..., MhResult] = rma_mh if res.method == "MH" else rma_peto
    rows = []
    for i in range(res.k):
        keep = np.arange(res.k) != i
        counts = {name: res.cells[keep, j] for j, name in enumerate(names)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StudyOmittedWarning)  # as for the full fit
            sub = fit(
                **counts,
                slab=[s for s, k in zip(res.slab, keep, strict=True) if k],
                level=res.level,
                **options,
            )
        rows.append(
            {
                "estimate": sub.estimate,
                "se": sub.se,
                "zval": sub.zval,
                "pval": sub.pval,
                "ci_lb": sub.ci_lb,
                "ci_ub": sub.ci_ub,
                "QE": sub.QE,
                "QEp": sub.QEp,
                "tau2": 0.0,
                "I2": sub.I2,
                "H2": sub.H2,
            }
        )
    return pd.DataFrame(rows, index=pd.Index(list(res.slab), name="study"))[list(_SUMMARY_COLUMNS)]


def _leave1out_glmm(res: GlmmResult) -> pd.DataFrame:
    """One :func:`rma_glmm` refit per omitted study, from the counts the fit carries."""
    from metareview.stats.glmm import GLMM_COLUMNS, rma_glmm

    if res.cells is None or res.fit_args is None:
        raise InputError("leave1out() needs the counts of the fit; refit it with rma_glmm().")
    if res.k < 3:
        raise InputError(f"leave1out() needs at least 3 studies; the fit has {res.k}.")
    names = GLMM_COLUMNS[res.measure]
    rows = []
    for i in range(res.k):
        keep = np.arange(res.k) != i
        counts = {name: res.cells[keep, j] for j, name in enumerate(names)}
        try:
            sub = rma_glmm(
                **counts,
                slab=[s for s, k in zip(res.slab, keep, strict=True) if k],
                level=res.level,
                **res.fit_args,
            )
        except (InputError, ConvergenceError) as exc:
            raise type(exc)(f"leave1out() without study {res.slab[i]!r}: {exc}") from exc
        rows.append({name: float(getattr(sub, name)) for name in _SUMMARY_COLUMNS})
    return pd.DataFrame(rows, index=pd.Index(list(res.slab), name="study"))[list(_SUMMARY_COLUMNS)]


def cumul(res: RmaResult, order: Any = None) -> pd.DataFrame:
    """Cumulative meta-analysis: study 1, studies 1-2, ..., all k, in the given order.

    Parameters
    ----------
    order : array-like, optional
        Values to sort the studies by (e.g. publication year; stable sort), or ``None`` for
        the order in the model.

    Returns
    -------
    DataFrame
        One row per step, indexed by the study added, with the summary columns of
        :func:`leave1out`; the first row is the single-study fit (tau2 = 0).
    """
    res = check_rma_result(res, "cumul", model="intercept", min_k=2)
    idx = np.arange(res.k) if order is None else np.argsort(np.asarray(order), kind="stable")
    if idx.size != res.k:
        raise InputError(f"order needs one value per study ({res.k}); got {idx.size}.")
    mask = np.zeros((res.k, res.k), dtype=bool)
    for step in range(res.k):
        mask[step, idx[: step + 1]] = True
    return _summary_frame(_refit(res, mask, allow_saturated=True), [res.slab[i] for i in idx])


def _deleted_fits(res: RmaResult) -> BatchResult:
    return _refit(res, ~np.eye(res.k, dtype=bool))


def influence(res: RmaResult) -> pd.DataFrame:
    """Case-deletion diagnostics (Viechtbauer & Cheung, 2010), as metafor's ``influence``.

    Returns
    -------
    DataFrame
        Indexed by study: ``rstudent`` (externally standardised residual), ``dffits``,
        ``cook_d``, ``cov_r``, ``tau2_del``, ``QE_del``, ``hat``, ``weight`` (%), ``inf``
        (True where any of metafor's cut-offs flags the study: ``|dffits| > 3 sqrt(p/(k-p))``,
        P(chi2_p <= cook_d) > .5, hat > 3p/k, or any ``|dfbetas| > 1``), and ``dfbs_<coef>``.

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. Res. Synth. Methods, 1, 112-125. https://doi.org/10.1002/jrsm.11
    """
    res = check_rma_result(res, "influence", min_k=3)
    k, p = res.k, res.p
    if k - 1 <= p:
        raise InputError(
            f"influence needs k > p + 1 so that each deleted fit is estimable; k = {k}, p = {p}."
        )
    X, beta = res.X, res.beta
    dele = _deleted_fits(res)
    w = 1 / (res.vi + res.tau2)
    A = np.linalg.inv((X * w[:, None]).T @ X)
    hat = w * np.einsum("ij,jk,ik->i", X, A, X)
    pred_full = X @ beta
    delpred = np.einsum("ij,ij->i", X, dele.beta)
    vdelpred = np.einsum("ij,ijk,ik->i", X, dele.vb, X)
    s2w = dele.s2w
    tau2_del = dele.tau2
    dffits = (pred_full - delpred) / np.sqrt(s2w * hat * (tau2_del + res.vi))
    # covariance of beta over all k studies at each deleted tau2 (metafor's vb.del)
    W_del = 1 / (res.vi[None, :] + tau2_del[:, None])
    vb_del = np.linalg.inv(np.einsum("bk,kp,kq->bpq", W_del, X, X))
    dfb = beta[None, :] - dele.beta
    dfbs = dfb / np.sqrt(s2w[:, None] * np.einsum("bii->bi", vb_del))
    vb_inv = np.linalg.inv(res.vb)
    cook_d = np.einsum("bi,ij,bj->b", dfb, vb_inv, dfb)
    cov_r = np.linalg.det(dele.vb) / np.linalg.det(res.vb)
    resid = res.yi - delpred
    resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
    rstudent = resid / np.sqrt(res.vi * s2w + vdelpred + tau2_del * s2w)
    weight = 100 * w / w.sum()
    flagged = (
        (np.abs(dffits) > 3 * np.sqrt(p / (k - p)))
        | (dist.chi2.cdf(cook_d, p) > 0.5)
        | (hat > 3 * p / k)
        | (np.abs(dfbs) > 1).any(axis=1)
    )
    frame = pd.DataFrame(
        {
            "rstudent": rstudent,
            "dffits": dffits,
            "cook_d": cook_d,
            "cov_r": cov_r,
            "tau2_del": tau2_del,
            "QE_del": dele.QE,
            "hat": hat,
            "weight": weight,
            "inf": flagged,
        },
        index=pd.Index(res.slab, name="study"),
    )
    for j, name in enumerate(res.coef_names):
        frame[f"dfbs_{name}"] = dfbs[:, j]
    return frame


def baujat(res: RmaResult) -> pd.DataFrame:
    """Baujat et al. (2002) diagnostics: each study's contribution to Cochran's Q (``x``) and
    its influence on the pooled result (``y``), as metafor's ``baujat``.

    x_i = (y_i - x_i' b)^2 / (v_i + tau2); y_i = (x_i' b_(-i) - x_i' b)^2 / Var(x_i' b_(-i)).

    References
    ----------
    Baujat, B., Mahe, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
    heterogeneity in meta-analyses. Stat. Med., 21, 2641-2652. https://doi.org/10.1002/sim.1221
    """
    res = check_rma_result(res, "baujat", min_k=3)
    dele = _deleted_fits(res)
    pred_full = res.X @ res.beta
    delpred = np.einsum("ij,ij->i", res.X, dele.beta)
    vdelpred = np.einsum("ij,ijk,ik->i", res.X, dele.vb, res.X)
    return pd.DataFrame(
        {
            "x": (res.yi - pred_full) ** 2 / (res.tau2 + res.vi),
            "y": (delpred - pred_full) ** 2 / vdelpred,
        },
        index=pd.Index(res.slab, name="study"),
    )


# ------------------------------------------------------------------------------------- GOSH


@dataclass(frozen=True, slots=True)
class GoshResult:
    """GOSH (graphical display of study heterogeneity): one fit per subset of studies.

    ``table`` has one row per subset (estimate, I2, H2, tau2, QE, k); ``incl`` is the
    (B, k) boolean inclusion matrix in the same row order; ``exact`` says whether every
    subset was fitted.
    """

    table: pd.DataFrame
    incl: np.ndarray = field(repr=False)
    exact: bool
    slab: tuple[str, ...]
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_subsets": len(self.table),
            "exact": self.exact,
            "method": self.method,
            "estimate_range": [
                float(self.table["estimate"].min()),
                float(self.table["estimate"].max()),
            ],
            "I2_range": [float(self.table["I2"].min()), float(self.table["I2"].max())],
        }


#: largest k for which every subset is fitted by default (2^20 - 1 = 1,048,575 subsets)
GOSH_EXACT_MAX_K = 20


def _count_subsets(k: int, min_size: int) -> int:
    """Subsets of k studies with at least ``min_size`` of them: 2^k less the smaller ones
    (a few binomial coefficients, not a sum over every size)."""
    return (1 << k) - sum(math.comb(k, j) for j in range(min_size))


def _describe_count(k: int, min_size: int) -> str:
    """The number of subsets, readable at any k: '33,554,431', or for more than 15 digits
    '2^2000 - 1 (about 1.1e602)' (the exact integer would print hundreds of digits)."""
    total = _count_subsets(k, min_size)
    if total < 10**15:
        return f"{total:,}"
    exponent = math.log10(total)  # exact enough from Python's arbitrary-size integer
    mantissa, power = 10 ** (exponent % 1), int(exponent)
    if round(mantissa, 1) >= 10:
        mantissa, power = mantissa / 10, power + 1
    smaller = (1 << k) - total
    return f"2^{k} - {smaller:,} (about {mantissa:.1f}e{power})"


def _all_subsets(k: int, min_size: int) -> np.ndarray:
    codes = np.arange(1, 2**k, dtype=np.int64)
    incl = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)
    sizes = incl.sum(axis=1, dtype=np.uint8)
    keep = sizes >= min_size
    # metafor's order: binary counting (study 1 fastest), then stably by subset size
    return incl[keep][np.argsort(sizes[keep], kind="stable")]


def _sampled_subsets(k: int, n: int, min_size: int, seed: int | None) -> np.ndarray:
    from scipy import stats  # ~0.8 s to import: only when GOSH samples subsets

    rng = np.random.default_rng(seed)
    sizes_allowed = np.arange(min_size, k + 1)
    probs = stats.binom.pmf(sizes_allowed, k, 0.5)
    sizes = rng.choice(sizes_allowed, size=n, p=probs / probs.sum())
    keys = rng.random((n, k))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    incl = ranks < sizes[:, None]
    return incl[np.argsort(incl.sum(axis=1), kind="stable")]


def gosh(
    res: RmaResult,
    subsets: int | None = None,
    *,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GoshResult:
    """Fit the model to every subset of the studies (Olkin, Dahabreh & Trikalinos, 2012).

    Parameters
    ----------
    res : RmaResult
        The model; every subset is fitted with its method (REML unless ``rma`` was asked for
        another), as metafor's ``gosh()``, so the GOSH cloud is centred on the estimate the
        user reports. REML costs about 7 times DL here (k = 20, 1,048,575 subsets: 5.3 s
        against 0.7 s of CPU) and stays far faster than metafor's loop.
    subsets : int, optional
        Number of random subsets to fit. Default: all 2^k - 1 subsets when k <= 20;
        required for larger k (the number is compared with 2^k - 1 without forming the
        sum of binomial coefficients).
    seed : int, optional
        Seed of the random subsets.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk (the CLI draws a bar with it).

    Returns
    -------
    GoshResult

    References
    ----------
    Olkin, I., Dahabreh, I. J., & Trikalinos, T. A. (2012). GOSH - a graphical display of
    study heterogeneity. Res. Synth. Methods, 3, 214-223. https://doi.org/10.1002/jrsm.1053

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.1, 0.3, 0.5, 0.9], [0.04, 0.04, 0.04, 0.04], method="DL")
    >>> g = mr.gosh(res)
    >>> len(g.table), g.incl.shape
    (15, (15, 4))
    """
    res = check_rma_result(res, "gosh", min_k=2)
    _check_progress(progress)
    subsets = check_optional(SUBSETS, subsets)
    seed = check_optional(SEED, seed)
    k, p = res.k, res.p
    if subsets is None:
        if k > GOSH_EXACT_MAX_K:
            raise InputError(
                f"gosh with k = {k} studies would fit {_describe_count(k, p)} subsets; pass ",
                Argument("subsets", placeholder="number"),
                " (e.g. ",
                Argument("subsets", 100_000),
                ", ",
                Argument("seed", 1),
                f") to fit a random sample. Every subset is fitted by default only for "
                f"k <= {GOSH_EXACT_MAX_K}.",
            )
        incl, exact = _all_subsets(k, p), True
    else:
        n = int(subsets)
        if k <= GOSH_EXACT_MAX_K and n >= _count_subsets(k, p):
            incl, exact = _all_subsets(k, p), True
        else:
            incl, exact = _sampled_subsets(k, n, p, seed), False
    parts = []
    for start in range(0, incl.shape[0], CHUNK):
        block = incl[start : start + CHUNK]
        batch = _refit(res, block, allow_saturated=True)
        part = {
            "estimate": batch.estimate,
            "I2": batch.I2,
            "H2": batch.H2,
            "tau2": batch.tau2,
            "QE": batch.QE,
            "k": batch.k,
        }
        for j, name in enumerate(res.coef_names[1:], start=1):
            part[name] = batch.beta[:, j]
        parts.append(pd.DataFrame(part))
        if progress is not None:
            progress(min(start + CHUNK, incl.shape[0]), incl.shape[0])
    table = pd.concat(parts, ignore_index=True)
    return GoshResult(table=table, incl=incl, exact=exact, slab=res.slab, method=res.method)


# ------------------------------------------------------------------------------ permutations


@dataclass(frozen=True, slots=True)
class PermutestResult:
    """Permutation test: ``pval`` per coefficient and ``QMp`` for the omnibus test."""

    pval: np.ndarray
    QMp: float
    iterations: int
    exact: bool
    coef_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pval": [float(x) for x in self.pval],
            "QMp": self.QMp,
            "iterations": self.iterations,
            "exact": self.exact,
        }


#: exact tests are used automatically when they need no more fits than this
PERMUTEST_EXACT_MAX = 1_000_000


def permutest(
    res: RmaResult,
    exact: bool = False,
    iter: int = 1000,
    seed: int | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> PermutestResult:
    """Permutation test of the model's coefficients (Follmann & Proschan, 1999; Higgins &
    Thompson, 2004), as metafor's ``permutest``.

    Intercept-only models flip the signs of the effects (2^k patterns when exact);
    meta-regressions permute the rows of the moderator matrix (k! orders when exact). The
    test is exact when ``exact=True`` or when that needs no more fits than ``iter``;
    otherwise ``iter`` random permutations (seeded, the first being the observed data) are
    used. p-values count permuted statistics at least as extreme as observed.

    References
    ----------
    Higgins, J. P. T., & Thompson, S. G. (2004). Controlling the risk of spurious findings
    from meta-regression. Stat. Med., 23, 1663-1682. https://doi.org/10.1002/sim.1752
    """
    res = check_rma_result(res, "permutest", min_k=2)
    _check_progress(progress)
    iter = ITER.check(iter)
    seed = check_optional(SEED, seed)
    k = res.k
    if res.has_mods:
        # rows of X that are identical give identical permutations: count distinct ones
        _, row_groups, counts = np.unique(res.X, axis=0, return_inverse=True, return_counts=True)
        n_exact = math.factorial(k) // math.prod(math.factorial(c) for c in counts)
    else:
        n_exact = 2**k
    use_exact = exact or n_exact <= iter
    if use_exact and n_exact > PERMUTEST_EXACT_MAX:
        raise InputError(
            f"an exact permutation test needs {n_exact:,} fits; use ",
            Argument("exact", False),
            " with ",
            Argument("iter", placeholder="number"),
            " random permutations.",
        )
    rng = np.random.default_rng(seed)
    total = n_exact if use_exact else iter
    distinct = _distinct_orders(row_groups.ravel()) if use_exact and res.has_mods else None
    zvals, qms = [], []
    for start in range(0, total, CHUNK):
        stop = min(total, start + CHUNK)
        if not res.has_mods:
            signs = (
                _sign_patterns(k, start, stop)
                if use_exact
                else rng.choice([-1.0, 1.0], size=(stop - start, k))
            )
            if not use_exact and start == 0:
                signs[0] = 1.0
            batch = _refit(res, Y=signs * res.yi)
        else:
            orders = (
                distinct[start:stop]
                if distinct is not None
                else np.array([rng.permutation(k) for _ in range(stop - start)])
            )
            if not use_exact and start == 0:
                orders[0] = np.arange(k)
            batch = _refit(res, X=res.X[orders])
        zvals.append(batch.zval)
        qms.append(batch.QM)
        if progress is not None:
            progress(stop, total)
    zval_perm = np.concatenate(zvals)
    qm_perm = np.concatenate(qms)
    tol = np.sqrt(np.finfo(float).eps)
    pval = np.mean(np.abs(zval_perm) >= np.abs(res.zval) - tol, axis=0)
    QMp = float(np.mean(qm_perm >= res.QM - tol))
    return PermutestResult(np.minimum(pval, 1.0), QMp, total, use_exact, res.coef_names)


def _sign_patterns(k: int, start: int, stop: int) -> np.ndarray:
    """Rows start..stop-1 of R's expand.grid(rep(list(c(1, -1)), k)): first column fastest."""
    codes = np.arange(start, stop, dtype=np.int64)
    bits = (codes[:, None] >> np.arange(k)) & 1
    return np.where(bits == 1, -1.0, 1.0)


def _distinct_orders(groups: np.ndarray) -> np.ndarray:
    """One row order per distinct arrangement of the moderator rows (rows with equal
    ``groups`` are interchangeable), as metafor's exact test enumerates them."""
    k = groups.size
    orders = np.array(list(itertools.permutations(range(k))), dtype=np.int64)
    _, first = np.unique(groups[orders], axis=0, return_index=True)
    return orders[np.sort(first)]


# ------------------------------------------------------------------------------- sensitivity


@dataclass(frozen=True, slots=True)
class SensitivityResult:
    """The model with all studies and without the excluded ones, side by side."""

    full: RmaResult
    reduced: RmaResult
    excluded: tuple[str, ...]

    def table(self) -> pd.DataFrame:
        keys = ("estimate", "ci_lb", "ci_ub", "pval", "tau2", "I2", "QE", "k")
        full, reduced = self.full.to_dict(), self.reduced.to_dict()
        frame = pd.DataFrame(
            {
                "all studies": [full[k] for k in keys],
                "without excluded": [reduced[k] for k in keys],
            },
            index=pd.Index(keys, name="quantity"),
        )
        frame["difference"] = frame["without excluded"] - frame["all studies"]
        return frame

    def to_dict(self) -> dict[str, Any]:
        return {
            "excluded": list(self.excluded),
            "full": self.full.to_dict(),
            "reduced": self.reduced.to_dict(),
        }


def sensitivity(res: RmaResult, exclude: Iterable[str] | np.ndarray) -> SensitivityResult:
    """Refit ``res`` without the named studies (e.g. those flagged at high risk of bias).

    Parameters
    ----------
    exclude : iterable of str, or boolean array
        Study labels (as in ``res.slab``) or a mask of studies to leave out.

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.1, 0.3, 0.5, 0.9], [0.04] * 4, slab=list("ABCD"), method="DL")
    >>> float(round(mr.sensitivity(res, ["D"]).table().loc["estimate", "difference"], 4))
    -0.15
    """
    res = check_rma_result(res, "sensitivity", min_k=2)
    if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
        if exclude.shape != (res.k,):
            raise InputError(
                f"sensitivity: exclude as a mask needs one True/False per study "
                f"({res.k}); got shape {exclude.shape}."
            )
        drop = exclude
    else:
        names = [str(e) for e in exclude]
        unknown = [n for n in names if n not in res.slab]
        if unknown:
            raise InputError(
                f"sensitivity: unknown studies {unknown}; the model's studies are {list(res.slab)}."
            )
        drop = np.array([s in names for s in res.slab])
    keep = ~drop
    reduced = rma(
        res.yi[keep],
        res.vi[keep],
        slab=[s for s, kept in zip(res.slab, keep, strict=True) if kept],
        mods=res.X[keep, 1:] if res.has_mods else None,
        method=res.method,
        test=res.test,
        level=res.level,
        measure=res.measure,
        control=res.control,
    )
    excluded = tuple(s for s, d in zip(res.slab, drop, strict=True) if d)
    return SensitivityResult(res, reduced, excluded)
