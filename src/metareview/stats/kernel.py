"""The batched random-effects engine: :func:`rma_batch`.

Every pooled estimate in metareview is computed here, over arrays of shape (B, k): effects
``Y``, sampling variances ``V`` and a boolean ``mask`` saying which studies belong to each of
the B meta-analyses. :func:`metareview.rma` is the B = 1 case; leave-one-out, cumulative,
GOSH, permutation and simulation analyses are masks or batches on the same code.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from metareview._validation import Options, check_level
from metareview.exceptions import ConvergenceWarning, InputError
from metareview.stats._design import WLS, Design
from metareview.stats.tau2 import ESTIMATORS, Control, Tau2Fit, solve_generalised_q

__all__ = ["METHODS", "TESTS", "BatchResult", "Control", "rma_batch"]

METHODS = Options(
    "method", ("EE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB"), aliases={"FE": "EE"}
)
TESTS = Options("test", ("z", "knha"), aliases={"hksj": "knha"})  # not "t": metafor's t-test
# without the Knapp-Hartung scaling is a different test
_CLOSED_FORM = frozenset({"EE", "DL", "HE", "HS", "SJ"})


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Arrays of results for B meta-analyses (row b is meta-analysis b).

    Coefficient arrays have shape (B, p); the intercept-only ``estimate`` is ``beta[:, 0]``.
    ``pi_lb``/``pi_ub`` are the prediction interval for intercept-only random-effects models
    (NaN for meta-regression and for EE, as metafor);
    ``tau2_ci_lb``/``tau2_ci_ub`` and the matching I2/H2 bounds come from the Q-profile
    method (NaN when not requested or for EE).
    """

    method: str
    test: str
    level: float
    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    tau2: np.ndarray
    se_tau2: np.ndarray
    tau2_ci_lb: np.ndarray
    tau2_ci_ub: np.ndarray
    I2: np.ndarray
    I2_ci_lb: np.ndarray
    I2_ci_ub: np.ndarray
    H2: np.ndarray
    H2_ci_lb: np.ndarray
    H2_ci_ub: np.ndarray
    QE: np.ndarray
    QM: np.ndarray
    pi_lb: np.ndarray
    pi_ub: np.ndarray
    vt: np.ndarray
    k: np.ndarray
    p: int
    ddf: np.ndarray
    s2w: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    tau2_reset: np.ndarray = field(repr=False)

    # p-values are computed on access: GOSH and simulations over millions of rows rarely
    # need them, and the chi-square tail costs more than the whole DL fit.

    @property
    def pval(self) -> np.ndarray:
        """p-values of the coefficients (z, or t with k - p df for knha): (B, p)."""
        with np.errstate(invalid="ignore"):
            if self.test == "knha":
                return 2 * stats.t.sf(np.abs(self.zval), self.ddf[:, None])
            return 2 * special.ndtr(-np.abs(self.zval))

    @property
    def QEp(self) -> np.ndarray:
        """p-value of Cochran's Q test (chi-square, k - p df; 1 where k = p)."""
        df = (self.k - self.p).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(df > 0, special.chdtrc(np.maximum(df, 1), self.QE), 1.0)

    @property
    def QMp(self) -> np.ndarray:
        """p-value of the omnibus test of moderators (or of the intercept when p = 1)."""
        n_tested = max(self.p - 1, 1)
        with np.errstate(invalid="ignore"):
            if self.test == "knha":
                return special.fdtrc(n_tested, self.ddf, self.QM)
            if self.p == 1:
                return self.pval[:, 0]
            return special.chdtrc(n_tested, self.QM)

    @property
    def estimate(self) -> np.ndarray:
        """The first coefficient (the pooled effect of an intercept-only model)."""
        return self.beta[:, 0]

    def to_frame(self) -> pd.DataFrame:
        """One row per meta-analysis with the scalar result columns of ``rma().to_dict()``."""
        cols: dict[str, Any] = {}
        if self.p == 1:
            cols["estimate"] = self.estimate
            for name in ("se", "zval", "pval", "ci_lb", "ci_ub"):
                cols[name] = getattr(self, name)[:, 0]
            cols.update(pi_lb=self.pi_lb, pi_ub=self.pi_ub)
        else:
            for j in range(self.p):
                for name in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub"):
                    cols[f"{name}_{j}"] = getattr(self, name)[:, j]
            cols.update(QM=self.QM, QMp=self.QMp)
        for name in ("tau2", "se_tau2", "tau2_ci_lb", "tau2_ci_ub", "I2", "H2", "QE", "QEp",
                     "k", "converged", "iterations", "tau2_reset"):
            cols[name] = getattr(self, name)
        return pd.DataFrame(cols)


def rma_batch(
    Y: Any,
    V: Any,
    mask: Any = None,
    *,
    X: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2_ci: bool = True,
    allow_saturated: bool = False,
    control: Control | dict[str, Any] | None = None,
) -> BatchResult:
    """Fit B random-effects (or equal-effects) meta-analyses at once.

    Parameters
    ----------
    Y, V : array-like, shape (B, k) or (k,)
        Effect sizes and sampling variances. Entries outside ``mask`` are ignored (they may be
        NaN).
    mask : array-like of bool, shape (B, k), optional
        Which studies are in each meta-analysis; default all finite entries.
    X : array-like, shape (k, p) or (B, k, p), optional
        Full design matrix including the intercept column; default intercept only.
    method : str
        tau2 estimator: EE (alias FE), DL, REML, ML, PM, HE, HS, SJ or EB.
    test : {"z", "knha"}
        Wald z-tests, or Hartung-Knapp-Sidik-Jonkman t-tests with k - p df.
    level : float
        Confidence level in percent (95) or as a proportion (0.95).
    tau2_ci : bool
        Compute Q-profile confidence intervals for tau2, I2 and H2.
    allow_saturated : bool
        Accept rows with as many studies as coefficients (k = p, e.g. a single study), fitted
        as metafor does: tau2 = 0, QE = 0, I2 = 0, H2 = 1 (used by cumulative and GOSH
        analyses).
    control : Control or dict, optional
        Convergence settings; see :class:`metareview.stats.tau2.Control`.

    Returns
    -------
    BatchResult
        Arrays over the batch; rows whose iterative estimator did not converge have
        ``converged == False`` and a :class:`ConvergenceWarning` lists them.

    Notes
    -----
    Given tau2, the coefficients are the weighted least-squares estimates with weights
    1/(v + tau2); with ``test="knha"`` their covariance is scaled by
    Q_w/(k - p) (Hartung & Knapp, 2001, Stat. Med. 20, 3875; Sidik & Jonkman, 2002, Stat. Med.
    21, 3153) and t(k - p) quantiles are used. QE is Cochran's Q at tau2 = 0. I2 and H2 follow
    Higgins & Thompson (2002, Stat. Med. 21, 1539) in metafor's general form:
    I2 = tau2/(tau2 + vt) with vt = (k - p)/tr(P) (for EE, I2 = (QE - (k - p))/QE). The
    prediction interval is estimate +/- crit sqrt(se^2 + tau2) (metafor's default). The
    Q-profile interval solves Q(tau2) = chi2 quantiles (Viechtbauer, 2007, Stat. Med. 26, 37).

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[0.1, 0.3, 0.5], [0.2, 0.2, 0.9]])
    >>> V = np.full((2, 3), 0.04)
    >>> res = rma_batch(Y, V, method="DL")
    >>> np.round(res.estimate, 4).tolist()
    [0.3, 0.4333]
    """
    method = METHODS.check(method)
    test = TESTS.check(test)
    alpha = 1 - check_level(level)
    control = _control(control)
    Y, V, m, design = _prepare(Y, V, mask, X)
    B = Y.shape[0]
    k = m.sum(axis=1)
    p = design.p
    too_small = k < p if allow_saturated else k <= p
    if np.any(too_small):
        rows = np.flatnonzero(too_small)[:6].tolist()
        need = f"k >= {p}" if allow_saturated else f"k > {p}"
        raise InputError(
            f"each meta-analysis needs more studies than coefficients ({need}); "
            f"rows {rows} have fewer."
        )
    saturated = k == p
    regular = ~saturated

    fe = WLS.fit(design, m / V, Y)  # the equal-effects fit: Q, vt, and the DL/HS moments
    fit_tau2 = _estimate_tau2(method, Y, V, m, design, control, regular, fe)
    tau2 = fit_tau2.tau2
    if not fit_tau2.converged.all():
        bad = np.flatnonzero(~fit_tau2.converged)
        warnings.warn(
            f"{method} did not converge within {control.maxiter} iterations for "
            f"{bad.size} of {B} meta-analyses (rows {bad[:10].tolist()}); their results are "
            "flagged converged=False. Try another method or raise maxiter.",
            ConvergenceWarning,
            stacklevel=2,
        )

    if fit_tau2.reset_to_zero.any():
        rows = np.flatnonzero(fit_tau2.reset_to_zero)
        warnings.warn(
            f"{method}: for {rows.size} of {B} meta-analyses (rows {rows[:10].tolist()}) the "
            "likelihood is higher at tau2 = 0 than at the Fisher-scoring solution (a local "
            "maximum); tau2 set to 0 there, as metafor does.",
            ConvergenceWarning,
            stacklevel=2,
        )

    fit = WLS.fit(design, m / (V + tau2[:, None]), Y)
    vb = fit.A.copy()
    df_resid = (k - p).astype(float)
    if test == "knha":
        with np.errstate(divide="ignore", invalid="ignore"):
            s2w = np.where(fit.rss <= np.finfo(float).eps, 0.0, fit.rss / df_resid)
        vb = vb * s2w[:, None, None]
        crit = stats.t.isf(alpha / 2, df_resid)
        ddf = df_resid
    else:
        s2w = np.ones(B)
        crit = np.full(B, stats.norm.isf(alpha / 2))
        ddf = np.full(B, np.nan)
    se = np.sqrt(np.einsum("bii->bi", vb))
    beta = fit.beta
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zval = beta / se
    ci_lb = beta - crit[:, None] * se
    ci_ub = beta + crit[:, None] * se

    QM = _omnibus(beta, vb, test)

    QE = np.where(saturated, 0.0, np.maximum(0.0, fe.rss))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        vt = df_resid / fe.tr_P()
        if method == "EE":
            I2 = np.maximum(0.0, 100 * (QE - df_resid) / QE)
            H2 = QE / df_resid
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    I2 = np.where(saturated, 0.0, I2)
    H2 = np.where(saturated, 1.0, H2)

    if p == 1 and method != "EE":
        pi_se = np.sqrt(se[:, 0] ** 2 + tau2)
        pi_lb, pi_ub = beta[:, 0] - crit * pi_se, beta[:, 0] + crit * pi_se
    else:
        pi_lb = pi_ub = np.full(B, np.nan)

    lb, ub = np.full(B, np.nan), np.full(B, np.nan)
    if tau2_ci and method != "EE" and regular.any():
        rows = np.flatnonzero(regular)
        lb[rows], ub[rows] = qprofile_tau2(Y[rows], V[rows], m[rows], design.take(rows), alpha,
                                           control)
    I2_lb, I2_ub = 100 * lb / (vt + lb), 100 * ub / (vt + ub)
    H2_lb, H2_ub = lb / vt + 1, ub / vt + 1

    return BatchResult(
        method=method, test=test, level=1 - alpha, beta=beta, se=se, zval=zval,
        ci_lb=ci_lb, ci_ub=ci_ub, vb=vb, tau2=tau2, se_tau2=fit_tau2.se_tau2,
        tau2_ci_lb=lb, tau2_ci_ub=ub, I2=I2, I2_ci_lb=I2_lb, I2_ci_ub=I2_ub, H2=H2,
        H2_ci_lb=H2_lb, H2_ci_ub=H2_ub, QE=QE, QM=QM, pi_lb=pi_lb,
        pi_ub=pi_ub, vt=vt, k=k.astype(int), p=p, ddf=ddf, s2w=s2w, converged=fit_tau2.converged,
        iterations=fit_tau2.iterations, tau2_reset=fit_tau2.reset_to_zero,
    )


def _estimate_tau2(method, Y, V, m, design, control, regular, fe: WLS) -> Tau2Fit:
    """Run the estimator on the rows with k > p; saturated rows get tau2 = 0."""
    if regular.all():
        return ESTIMATORS[method](Y, V, m, design, control, fe=fe)
    if method in _CLOSED_FORM:
        # one pass over all rows (saturated ones give 0/0, overwritten) beats copying the rest
        with np.errstate(all="ignore"):
            fit = ESTIMATORS[method](Y, V, m, design, control, fe=fe)
        fit.tau2[~regular] = 0.0
        fit.se_tau2[~regular] = np.nan
        return fit
    B = Y.shape[0]
    out = Tau2Fit(np.zeros(B), np.full(B, np.nan), np.zeros(B, int), np.ones(B, bool),
                  np.zeros(B, bool))
    rows = np.flatnonzero(regular)
    if rows.size:
        part = ESTIMATORS[method](Y[rows], V[rows], m[rows], design.take(rows), control,
                                  fe=fe.take(rows))
        for name in ("tau2", "se_tau2", "iterations", "converged", "reset_to_zero"):
            getattr(out, name)[rows] = getattr(part, name)
    return out


def qprofile_tau2(Y, V, m, design, alpha: float, control: Control):
    """Q-profile confidence interval for tau2 (Viechtbauer, 2007, Stat. Med. 26, 37-52).

    The bounds solve Q(tau2) = chi2_{k-p, 1-alpha/2} (lower) and chi2_{k-p, alpha/2}
    (upper); a bound whose equation has no non-negative root is 0, as in metafor.
    """
    df = (m.sum(axis=1) - design.p).astype(float)
    crit_upper = stats.chi2.isf(alpha / 2, df)
    crit_lower = stats.chi2.ppf(alpha / 2, df)
    lb, _, _ = solve_generalised_q(Y, V, m, design, crit_upper, control)
    ub, _, _ = solve_generalised_q(Y, V, m, design, crit_lower, control)
    return lb, ub


def _omnibus(beta, vb, test):
    """Wald statistic of all coefficients but the intercept (or the intercept when p = 1),
    divided by their number for knha (an F statistic)."""
    p = beta.shape[1]
    if p == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            return beta[:, 0] ** 2 / vb[:, 0, 0]
    b = beta[:, 1:]
    Vb = vb[:, 1:, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        QM = np.einsum("bi,bi->b", b, np.linalg.solve(Vb, b[..., None])[..., 0])
    return QM / b.shape[1] if test == "knha" else QM


def _control(control: Control | dict[str, Any] | None) -> Control:
    if control is None:
        return Control()
    if isinstance(control, Control):
        return control
    allowed = set(Control.__dataclass_fields__)
    unknown = set(control) - allowed
    if unknown:
        raise InputError(
            f"control has unknown settings {sorted(unknown)}; allowed are {sorted(allowed)}."
        )
    return Control(**control)


def _prepare(Y, V, mask, X):
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    V = np.atleast_2d(np.asarray(V, dtype=float))
    if Y.shape != V.shape:
        raise InputError(f"Y and V must have the same shape; got {Y.shape} and {V.shape}.")
    clean = bool(np.isfinite(Y).all() and np.isfinite(V).all() and (V > 0).all())
    if mask is None:
        m = np.ones(Y.shape, bool) if clean else np.isfinite(Y) & np.isfinite(V)
    else:
        m = np.atleast_2d(np.asarray(mask, dtype=bool))
        if m.shape != Y.shape:
            raise InputError(f"mask must have the shape of Y {Y.shape}; got {m.shape}.")
    if not clean:
        bad = m & ~(np.isfinite(Y) & np.isfinite(V))
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"Y and V must be finite inside the mask; {int(bad.sum())} entries are not "
                f"(first at row {r}, study {c}). Mask them out."
            )
        nonpositive = m & (np.where(m, V, 1.0) <= 0)
        if nonpositive.any():
            r, c = np.argwhere(nonpositive)[0]
            raise InputError(
                f"V must be > 0 inside the mask; {int(nonpositive.sum())} entries are not "
                f"(first at row {r}, study {c}). Studies with zero variance cannot be "
                "weighted; mask them out."
            )
        # masked-out entries may hold anything: make them harmless (weight 0, finite)
        Y = np.where(m, Y, 0.0)
        V = np.where(m, V, 1.0)
    w_mask = m.astype(float)
    k = Y.shape[1]
    if X is None:
        design = Design.intercept(k)
    else:
        Xa = np.asarray(X, dtype=float)
        if (Xa.ndim == 2 and Xa.shape[0] != k) or (Xa.ndim == 3 and Xa.shape[1] != k):
            raise InputError(f"X must have k = {k} rows per meta-analysis; got shape {Xa.shape}.")
        if not np.all(np.isfinite(Xa)):
            raise InputError(
                "X (moderators) must be finite; remove studies with missing moderators.")
        design = Design.from_matrix(Xa)
    return Y, V, w_mask, design
