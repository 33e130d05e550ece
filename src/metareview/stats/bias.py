"""Small-study effects and publication bias: Egger's regression test (``regtest``), Begg and
Mazumdar's rank correlation (``ranktest``), trim and fill (``trimfill``), fail-safe N
(``fsn``) and PET-PEESE (``pet_peese``).

Every fit goes through the same kernel as :func:`metareview.rma`; definitions follow metafor
3.8 so results agree with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from metareview._validation import (
    ALPHA,
    FINITE,
    MAXITER,
    Options,
    check_numeric,
    check_optional,
    check_same_length,
    describe_rows,
    is_frame,
    resolve_column,
    row_names,
)
from metareview.exceptions import InputError
from metareview.stats import _distributions as dist
from metareview.stats._kendall import kendall
from metareview.stats.models import RmaResult, check_rma_result, rma

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "FsnResult",
    "PetPeeseResult",
    "RanktestResult",
    "RegtestResult",
    "TrimfillResult",
    "fsn",
    "pet_peese",
    "ranktest",
    "regtest",
    "trimfill",
]

PREDICTORS = Options(
    "predictor", ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"), case_sensitive=True
)
REG_MODELS = Options("model", ("rma", "lm"), case_sensitive=True)
SIDES = Options("side", ("left", "right"), case_sensitive=True)
TF_ESTIMATORS = Options("estimator", ("L0", "R0"), case_sensitive=True)
FSN_TYPES = Options("type", ("Rosenthal", "Orwin", "Rosenberg"), case_sensitive=False)


def _none_if_nan(x: Any) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


# ------------------------------------------------------------------------------------ Egger


@dataclass(frozen=True, slots=True)
class RegtestResult:
    """Regression test for funnel-plot asymmetry.

    ``zval``/``pval`` test the predictor's coefficient (t with ``dfs`` degrees of freedom for
    ``test="knha"`` or ``model="lm"``); ``est``, ``ci_lb``, ``ci_ub`` are the limit estimate
    (the intercept: the effect as the predictor goes to 0), given for predictors that vanish
    for an infinitely large study (sei, vi, ninv, sqrtninv). ``fit`` is the fitted model.
    """

    model: str
    predictor: str
    zval: float
    pval: float
    dfs: float | None
    est: float | None
    ci_lb: float | None
    ci_ub: float | None
    fit: RmaResult = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "predictor": self.predictor,
            "zval": self.zval,
            "pval": self.pval,
            "dfs": self.dfs,
            "est": self.est,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
        }

    def summary(self) -> str:
        stat = "t" if self.dfs is not None else "z"
        df = f"(df = {self.dfs:g})" if self.dfs is not None else ""
        lines = [
            f"Regression Test for Funnel Plot Asymmetry ({self.model}, predictor: "
            f"{self.predictor})",
            f"Test for funnel plot asymmetry: {stat}{df} = {self.zval:.4f}, p = {self.pval:.4f}",
        ]
        if self.est is not None:
            lines.append(
                f"Limit estimate (as {self.predictor} -> 0): b = {self.est:.4f} "
                f"(CI: {self.ci_lb:.4f}, {self.ci_ub:.4f})"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def regtest(
    res: RmaResult, predictor: str = "sei", model: str = "rma", ni: Any = None
) -> RegtestResult:
    """Egger's regression test for funnel-plot asymmetry and its variants.

    Parameters
    ----------
    res : RmaResult
        The fitted meta-analysis (its method, test and level are reused).
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}
        The measure of precision added as a moderator: standard error (Egger et al., 1997),
        sampling variance, sample size or its inverse (``model="lm", predictor="ninv"`` is the
        inverse-variance-weighted version of Peters' test, Peters et al., 2006), or
        square roots.
    model : {"rma", "lm"}
        ``"rma"``: a meta-regression with the model's tau2 estimator (Sterne & Egger, 2005);
        ``"lm"``: weighted least squares with a multiplicative dispersion term, the classical
        Egger test.
    ni : array-like, optional
        Sample sizes for the ``ni``-based predictors (default: those recorded by escalc).

    Returns
    -------
    RegtestResult

    Raises
    ------
    InputError
        Fewer than 3 studies, no sample sizes for an ``ni`` predictor, or a predictor with no
        variation (e.g. all sampling variances equal).

    References
    ----------
    Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
    detected by a simple, graphical test. BMJ, 315, 629-634.
    https://doi.org/10.1136/bmj.315.7109.629

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.9, 0.7, 0.4, 0.3, 0.1], [0.20, 0.15, 0.05, 0.03, 0.01], method="DL")
    >>> round(mr.regtest(res, model="lm").zval, 4)  # metafor 3.8: 18.18257
    18.1826
    """
    res = check_rma_result(res, "regtest", min_k=3)
    predictor = PREDICTORS.check(predictor)
    model = REG_MODELS.check(model)
    column = _predictor_column(res, predictor, ni)
    if np.ptp(column) == 0:
        raise InputError(
            f"regtest: the predictor {predictor} takes the same value in every study, so "
            "asymmetry cannot be tested (e.g. all sampling variances are equal)."
        )
    mods = np.column_stack([res.X[:, 1:], column])
    method, test = (res.method, res.test) if model == "rma" else ("EE", "knha")
    fit = rma(
        res.yi,
        res.vi,
        slab=res.slab,
        mods=mods,
        method=method,
        test=test,
        level=res.level,
        control=res.control,
    )
    j = fit.p - 1
    dfs = None if np.isnan(fit.ddf) else float(fit.ddf)
    est = ci_lb = ci_ub = None
    if predictor in ("sei", "vi", "ninv", "sqrtninv") and res.p == 1:
        est, ci_lb, ci_ub = float(fit.beta[0]), float(fit.ci_lb[0]), float(fit.ci_ub[0])
    return RegtestResult(
        model=model,
        predictor=predictor,
        zval=float(fit.zval[j]),
        pval=float(fit.pval[j]),
        dfs=dfs,
        est=est,
        ci_lb=ci_lb,
        ci_ub=ci_ub,
        fit=fit,
    )


def _predictor_column(res: RmaResult, predictor: str, ni: Any) -> np.ndarray:
    if predictor == "sei":
        return np.sqrt(res.vi)
    if predictor == "vi":
        return res.vi.copy()
    sizes = ni if ni is not None else res.ni
    if sizes is None:
        raise InputError(
            f"regtest predictor {predictor!r} needs sample sizes: pass ni=[...] (or fit the "
            "model on an escalc frame that recorded them)."
        )
    n = check_numeric("ni", sizes, res.slab)
    check_same_length({"yi": res.yi, "ni": n})
    return {"ni": n, "ninv": 1 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1 / np.sqrt(n)}[predictor]


# ------------------------------------------------------------------------------------- Begg


@dataclass(frozen=True, slots=True)
class RanktestResult:
    """Begg and Mazumdar's rank correlation test: Kendall's ``tau`` and its p-value."""

    tau: float
    pval: float

    def to_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "pval": self.pval}

    def summary(self) -> str:
        return (
            "Rank Correlation Test for Funnel Plot Asymmetry\n"
            f"Kendall's tau = {self.tau:.4f}, p = {self.pval:.4f}"
        )

    def __str__(self) -> str:
        return self.summary()


def ranktest(res: RmaResult) -> RanktestResult:
    """Begg and Mazumdar's rank correlation test for funnel-plot asymmetry.

    Kendall's tau-b between the standardised deviates (yi - theta_EE)/sqrt(vi - 1/sum(w)) and
    the sampling variances. The p-value follows metafor, which asks R's ``cor.test`` for the
    exact p-value: exact (permutation distribution) when there are no ties and k <= 170,
    otherwise the normal approximation with the tie-corrected variance of Kendall's S (for
    k > 170 without ties metafor 3.8 returns NaN, later versions this approximation). tau
    and S take O(k log k) time and O(k) memory (Knight, 1966), so k = 1,000,000 is fine.

    References
    ----------
    Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank correlation test
    for publication bias. Biometrics, 50, 1088-1101. https://doi.org/10.2307/2533446

    Knight, W. R. (1966). A computer method for calculating Kendall's tau with ungrouped
    data. J. Am. Stat. Assoc., 61, 436-439. https://doi.org/10.1080/01621459.1966.10480879

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.9, 0.7, 0.4, 0.3, 0.1], [0.20, 0.15, 0.05, 0.03, 0.01])
    >>> test = mr.ranktest(res)  # metafor 3.8: tau = 1, p = 0.016667
    >>> round(test.tau, 4), round(test.pval, 6)
    (1.0, 0.016667)
    """
    res = check_rma_result(res, "ranktest", min_k=3)
    w = 1 / res.vi
    theta = np.sum(w * res.yi) / np.sum(w)
    v_star = res.vi - 1 / np.sum(w)
    y_star = (res.yi - theta) / np.sqrt(v_star)
    tau, pval = kendall(y_star, res.vi)
    return RanktestResult(tau=tau, pval=pval)


# ------------------------------------------------------------------------------ trim and fill


@dataclass(frozen=True, slots=True)
class TrimfillResult:
    """Trim and fill: ``k0`` studies estimated missing on ``side``; ``fit`` is the model fitted
    to the observed plus the filled studies (``filled_yi``, ``filled_vi``)."""

    k0: int
    se_k0: float
    side: str
    estimator: str
    p_k0: float | None
    filled_yi: np.ndarray
    filled_vi: np.ndarray
    fit: RmaResult = field(repr=False)

    @property
    def estimate(self) -> float:
        return self.fit.estimate

    def to_dict(self) -> dict[str, Any]:
        return {
            "k0": self.k0,
            "se_k0": self.se_k0,
            "side": self.side,
            "estimator": self.estimator,
            "p_k0": self.p_k0,
            "estimate": self.fit.estimate,
            "se": float(self.fit.se[0]),
            "ci_lb": float(self.fit.ci_lb[0]),
            "ci_ub": float(self.fit.ci_ub[0]),
            "pval": float(self.fit.pval[0]),
            "tau2": self.fit.tau2,
            "filled_yi": self.filled_yi.tolist(),
            "filled_vi": self.filled_vi.tolist(),
        }

    def summary(self) -> str:
        return (
            f"Estimated number of missing studies on the {self.side} side: {self.k0} "
            f"(SE = {self.se_k0:.4f})\n\n{self.fit.summary()}"
        )

    def __str__(self) -> str:
        return self.summary()


def trimfill(
    res: RmaResult, estimator: str = "L0", side: str | None = None, maxiter: int = 100
) -> TrimfillResult:
    """Duval and Tweedie's trim-and-fill method.

    The side on which studies are missing is, unless given, the side opposite to the sign of
    the slope in a regression of yi on sqrt(vi) (as metafor). The most extreme studies are
    trimmed until the rank-based estimate of k0 (``L0`` or ``R0``) stops changing; the k0
    trimmed studies are then mirrored about the trimmed estimate and the model is refitted
    with the same estimator, test and level.

    References
    ----------
    Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. Biometrics, 56, 455-463.
    https://doi.org/10.1111/j.0006-341X.2000.00455.x

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.9, 0.7, 0.4, 0.3, 0.1, 0.5], [0.20, 0.15, 0.05, 0.03, 0.01, 0.08])
    >>> tf = mr.trimfill(res)
    >>> tf.k0, tf.side, round(tf.estimate, 4)  # metafor 3.8: 3, left, 0.2059
    (3, 'left', 0.2059)
    """
    res = check_rma_result(res, "trimfill", model="intercept", min_k=3)
    maxiter = MAXITER.check(maxiter)
    estimator = TF_ESTIMATORS.check(estimator)
    fit_args: dict[str, Any] = {
        "method": res.method,
        "test": res.test,
        "level": res.level,
        "control": res.control,
    }
    if side is None:
        slope = rma(res.yi, res.vi, mods=np.sqrt(res.vi), **fit_args).beta[1]
        side = "right" if slope < 0 else "left"
    side = SIDES.check(side)
    sign = -1.0 if side == "right" else 1.0
    order = np.argsort(sign * res.yi, kind="stable")
    yi, vi = sign * res.yi[order], res.vi[order]
    k = yi.size
    k0, previous, se_k0, beta = 0, -1, 0.0, float(np.mean(yi))
    for _ in range(maxiter):
        if k0 == previous:
            break
        previous = k0
        beta = rma(yi[: k - k0], vi[: k - k0], **fit_args).estimate
        centred = yi - beta
        ranks = _rank_first(np.abs(centred))
        signed = np.sign(centred) * ranks
        if estimator == "R0":
            negative = -signed[signed < 0]
            k0_raw = k - (negative.max() if negative.size else -np.inf) - 1
            se_k0 = float(np.sqrt(2 * max(0.0, k0_raw) + 2))
        else:
            Sr = signed[signed > 0].sum()
            k0_raw = (4 * Sr - k * (k + 1)) / (2 * k - 1)
            var_Sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * k0_raw**3
                + 27 * k0_raw**2
                + 17 * k0_raw
                - 18 * k * k0_raw**2
                - 18 * k * k0_raw
                + 6 * k**2 * k0_raw
            ) / 24
            with np.errstate(invalid="ignore"):  # a negative variance gives NaN, as in R
                se_k0 = float(4 * np.sqrt(var_Sr) / (2 * k - 1))
        k0 = int(max(0, _round_half_even(k0_raw)))
        se_k0 = float(np.maximum(0.0, se_k0))
    else:
        raise InputError(f"trimfill: k0 did not settle within {maxiter} iterations.")
    p_k0 = None
    if estimator == "R0":
        from scipy.special import comb  # scipy.special's import is ~0.2 s: only for R0

        m = np.arange(-1, k0)
        p_k0 = float(1 - np.sum(comb(m + 1, m + 1) * 0.5 ** (m + 2)))
    if k0 == 0:
        return TrimfillResult(0, se_k0, side, estimator, p_k0, np.empty(0), np.empty(0), res)
    filled_yi = sign * (2 * beta - yi[k - k0 :])
    filled_vi = vi[k - k0 :]
    labels = [*res.slab, *[f"Filled {i + 1}" for i in range(k0)]]
    fit = rma(np.r_[res.yi, filled_yi], np.r_[res.vi, filled_vi], slab=labels, **fit_args)
    return TrimfillResult(k0, se_k0, side, estimator, p_k0, filled_yi, filled_vi, fit)


def _rank_first(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties broken by order of appearance (R's ties.method = "first")."""
    ranks = np.empty(x.size)
    ranks[np.argsort(x, kind="stable")] = np.arange(1, x.size + 1)
    return ranks


def _round_half_even(x: float) -> float:
    """R's round(): halves go to the even integer (IEC 60559)."""
    return float(np.round(x))


# ---------------------------------------------------------------------------- fail-safe N


@dataclass(frozen=True, slots=True)
class FsnResult:
    """Fail-safe N: ``fsnum`` studies averaging a null (or ``target``) effect would be
    needed to overturn the conclusion."""

    type: str
    fsnum: float
    alpha: float
    pval: float | None
    meanes: float | None
    target: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "fsnum": self.fsnum,
            "alpha": self.alpha,
            "pval": self.pval,
            "meanes": self.meanes,
            "target": self.target,
        }

    def summary(self) -> str:
        return f"Fail-safe N ({self.type}): {self.fsnum:g}"

    def __str__(self) -> str:
        return self.summary()


def fsn(
    yi: Any,
    vi: Any = None,
    *,
    data: pd.DataFrame | None = None,
    type: str = "Rosenthal",
    alpha: float = 0.05,
    target: float | None = None,
) -> FsnResult:
    """Fail-safe N (file-drawer analysis).

    Parameters
    ----------
    yi, vi : array-like or str, an escalc DataFrame or an RmaResult as ``yi``
        Effect sizes and sampling variances, or column names of ``data``. As with
        :func:`metareview.rma`, ``yi`` may be the DataFrame returned by
        :func:`metareview.escalc` (its ``yi`` and ``vi`` columns are used) or a fitted model.
    data : DataFrame, optional
        Where column names are looked up; defaults ``yi="yi"``, ``vi="vi"``.
    type : {"Rosenthal", "Orwin", "Rosenberg"}
        Rosenthal (1979): how many null studies bring Stouffer's combined one-sided p above
        ``alpha``; Orwin (1983): how many studies averaging ``target`` (default half the
        unweighted mean effect) bring the unweighted mean down to ``target``; Rosenberg
        (2005): how many null studies make the inverse-variance weighted estimate
        non-significant (two-sided ``alpha``).
    alpha : float
        Significance level, in (0, 1).
    target : float, optional
        Orwin's target effect.

    References
    ----------
    Rosenthal, R. (1979). Psychol. Bull., 86, 638-641. https://doi.org/10.1037/0033-2909.86.3.638
    Orwin, R. G. (1983). J. Educ. Stat., 8, 157-159. https://doi.org/10.3102/10769986008002157
    Rosenberg, M. S. (2005). Evolution, 59, 464-468. https://doi.org/10.1111/j.0014-3820.2005.tb01004.x

    Examples
    --------
    >>> fsn([0.5, 0.3, 0.4], [0.04, 0.05, 0.03]).fsnum  # metafor 3.8: 11
    11.0
    """
    kind = FSN_TYPES.check(type)
    alpha = ALPHA.check(alpha)
    target = check_optional(FINITE, target, "target")
    labels = None
    if isinstance(yi, RmaResult):
        yi, vi, labels = yi.yi, yi.vi, yi.slab
    else:
        if is_frame(yi) and data is None:
            data, yi = yi, None
        if data is not None:
            if not is_frame(data):
                raise InputError(f"data must be a pandas DataFrame; got {data.__class__.__name__}.")
            yi = "yi" if yi is None else yi
            if vi is None and (kind != "Orwin" or "vi" in data.columns):
                vi = "vi"
            yi = resolve_column("yi", yi, data)
            vi = None if vi is None else resolve_column("vi", vi, data)
        labels = row_names(data, np.size(yi))
    y = check_numeric("yi", yi, labels, allow_nan=False)
    k = y.size
    if vi is None:
        if kind != "Orwin":
            raise InputError(f"fsn type {kind!r} needs the sampling variances vi.")
        v = np.zeros(k)
    else:
        v = check_numeric("vi", vi, labels, allow_nan=False)
        check_same_length({"yi": y, "vi": v})
        bad = v <= 0
        if kind != "Orwin" and bad.any():
            raise InputError(
                f"vi must be > 0 (sampling variances) for fsn type {kind!r}; "
                f"violated at {describe_rows(bad, labels)}."
            )
    pval = meanes = used_target = None
    if kind == "Rosenthal":
        z_avg = abs(np.sum(y / np.sqrt(v)) / np.sqrt(k))
        pval = float(dist.norm.sf(z_avg))
        number = max(0.0, k * (z_avg / dist.norm.isf(alpha)) ** 2 - k)
    elif kind == "Orwin":
        meanes = float(np.mean(y))
        used_target = meanes / 2 if target is None else float(target)
        if used_target == 0:
            number = np.inf
        else:
            if np.sign(used_target) != np.sign(meanes):
                used_target = -used_target
            number = max(0.0, k * (meanes - used_target) / used_target)
    else:
        w = 1 / v
        meanes = float(np.sum(w * y) / np.sum(w))
        zval = meanes / np.sqrt(1 / np.sum(w))
        pval = float(2 * dist.norm.sf(abs(zval)))
        w_p = (np.sum(w * y) / dist.norm.isf(alpha / 2)) ** 2 - np.sum(w)
        number = max(0.0, k * w_p / np.sum(w))
    if np.isfinite(number) and abs(number - round(number)) >= np.sqrt(np.finfo(float).eps):
        number = float(np.ceil(number))
    else:
        number = float(np.round(number))
    return FsnResult(kind, number, alpha, pval, meanes, used_target)


# ------------------------------------------------------------------------------- PET-PEESE


@dataclass(frozen=True, slots=True)
class PetPeeseResult:
    """PET and PEESE limit estimates and the conditional choice between them."""

    pet: RegtestResult
    peese: RegtestResult
    chosen: str

    @property
    def estimate(self) -> float:
        est = (self.pet if self.chosen == "PET" else self.peese).est
        assert est is not None  # predictors sei and vi always give a limit estimate
        return float(est)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pet_est": self.pet.est,
            "pet_ci_lb": self.pet.ci_lb,
            "pet_ci_ub": self.pet.ci_ub,
            "pet_intercept_pval": _pet_intercept_p(self.pet),
            "peese_est": self.peese.est,
            "peese_ci_lb": self.peese.ci_lb,
            "peese_ci_ub": self.peese.ci_ub,
            "chosen": self.chosen,
            "estimate": self.estimate,
        }


def _pet_intercept_p(pet: RegtestResult) -> float:
    return float(pet.fit.pval[0])


def pet_peese(res: RmaResult, alpha: float = 0.05) -> PetPeeseResult:
    """PET-PEESE (Stanley & Doucouliagos, 2014): the limit estimate of a weighted regression
    on the standard error (PET); if PET's intercept differs from 0 at level ``alpha``
    (two-sided), the regression on the variance (PEESE) is preferred.

    References
    ----------
    Stanley, T. D., & Doucouliagos, H. (2014). Meta-regression approximations to reduce
    publication selection bias. Res. Synth. Methods, 5, 60-78. https://doi.org/10.1002/jrsm.1095
    """
    res = check_rma_result(res, "pet_peese", min_k=3)
    alpha = ALPHA.check(alpha)
    pet = regtest(res, predictor="sei", model="lm")
    peese = regtest(res, predictor="vi", model="lm")
    chosen = "PEESE" if _pet_intercept_p(pet) < alpha else "PET"
    return PetPeeseResult(pet, peese, chosen)
