"""Cluster-robust (sandwich) inference for fitted meta-analytic models: :func:`robust`.

Dependent effect sizes (several outcomes or time points per study) break the independence a
model assumes; a sandwich estimator of the coefficients' covariance that treats each cluster
(study) as the independent unit stays consistent even when the working model's covariance
is wrong (Hedges, Tipton & Johnson, 2010). With few clusters the plain estimator (CR0, or
CR1 with metafor's n/(n - p) factor) is biased downwards and its t-tests too liberal; the
bias-reduced linearisation CR2 with Satterthwaite degrees of freedom (Bell & McCaffrey, 2002;
Tipton, 2015; Pustejovsky & Tipton, 2018) fixes both, and the HTZ test does so for several
moderators at once (Tipton & Pustejovsky, 2015). This module computes both exactly as
metafor's ``robust()`` (CR0/CR1) and the R package clubSandwich (``vcovCR(type = "CR2")``,
``coef_test(test = "Satterthwaite")``, ``Wald_test(test = "HTZ")``, which metafor calls
with ``clubSandwich = TRUE``) do, with the working model weights metafor passes (inverse
marginal variances).

Everything is computed cluster by cluster; no k x k matrix is formed.

References
----------
Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors for linear
regression with multi-stage samples. Survey Methodology, 28(2), 169-181.
Hedges, L. V., Tipton, E., & Johnson, M. C. (2010). Robust variance estimation in
meta-regression with dependent effect size estimates. Research Synthesis Methods, 1, 39-65.
Tipton, E. (2015). Small sample adjustments for robust variance estimation with
meta-regression. Psychological Methods, 20(3), 375-393.
Tipton, E., & Pustejovsky, J. E. (2015). Small-sample adjustments for tests of moderators
and model fit using robust variance estimation in meta-regression. Journal of Educational
and Behavioral Statistics, 40(6), 604-634.
Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods for cluster-robust variance
estimation and hypothesis testing in fixed effects models. Journal of Business & Economic
Statistics, 36(4), 672-683.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from metareview._validation import describe_rows, resolve_column
from metareview._version import __version__
from metareview.exceptions import InputError
from metareview.stats import _distributions as dist
from metareview.stats._format import coefficient_table, fmt_p
from metareview.stats._format import json_floats as floats
from metareview.stats.models import RmaResult

if TYPE_CHECKING:  # rma_mv's module imports scipy.optimize: loaded when robust() runs
    from metareview.stats.mv import MvResult

__all__ = ["RobustResult", "robust"]


@dataclass(frozen=True, slots=True)
class RobustResult:
    """Cluster-robust tests of a fitted model's coefficients.

    ``vcov_type`` is ``"CR2"`` (clubSandwich's bias-reduced estimator with Satterthwaite
    degrees of freedom ``df``, one per coefficient), ``"CR1"`` (metafor's default: the
    sandwich times n/(n - p)) or ``"CR0"`` (no adjustment); for CR0/CR1 every coefficient
    has df = n - p. ``n_clusters`` is n. ``QM`` is the omnibus test of the moderators (of
    the intercept in an intercept-only model) as an F statistic on (``QM_df1``, ``QM_df2``);
    for CR2 with moderators it is clubSandwich's HTZ test (Hotelling's T^2 with the
    approximate degrees of freedom of Tipton & Pustejovsky, 2015), as metafor reports it.
    ``beta`` are the model's estimates (unchanged).
    """

    vcov_type: str
    level: float
    coef_names: tuple[str, ...]
    beta: np.ndarray
    se: np.ndarray
    tval: np.ndarray
    df: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    n_clusters: int
    k: int
    QM: float | None
    QM_df1: int | None
    QM_df2: float | None
    QMp: float | None
    model: RmaResult | MvResult = field(repr=False)

    @property
    def p(self) -> int:
        """Number of coefficients."""
        return len(self.coef_names)

    def table(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, tval, df, pval, ci_lb, ci_ub."""
        return coefficient_table(
            self.coef_names,
            estimate=self.beta,
            se=self.se,
            tval=self.tval,
            df=self.df,
            pval=self.pval,
            ci_lb=self.ci_lb,
            ci_ub=self.ci_ub,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results; coefficient keys hold one value per coefficient."""

        return {
            "vcov_type": self.vcov_type,
            "coef_names": list(self.coef_names),
            "estimate": floats(self.beta),
            "se": floats(self.se),
            "tval": floats(self.tval),
            "df": floats(self.df),
            "pval": floats(self.pval),
            "ci_lb": floats(self.ci_lb),
            "ci_ub": floats(self.ci_ub),
            "n_clusters": self.n_clusters,
            "k": self.k,
            "QM": self.QM,
            "QM_df1": self.QM_df1,
            "QM_df2": self.QM_df2,
            "QMp": self.QMp,
            "level": self.level,
            "metareview_version": __version__,
        }

    def summary(self) -> str:
        """A text report in the manner of metafor's print of a ``robust()`` fit."""
        how = {
            "CR2": "CR2 (clubSandwich), Satterthwaite df",
            "CR1": "CR1 (n / (n - p) adjusted)",
            "CR0": "CR0 (unadjusted)",
        }[self.vcov_type]
        lines = [
            f"Cluster-robust inference: {how}",
            f"Number of estimates: {self.k}   Number of clusters: {self.n_clusters}",
            "",
        ]
        if self.QM is not None:
            lines += [
                f"Test of coefficients: F(df1 = {self.QM_df1}, df2 = {self.QM_df2:.4g}) = "
                f"{self.QM:.4f}, p-val {fmt_p(self.QMp)}",
                "",
            ]
        table = self.table().rename(columns={"pval": "pval"})
        lines.append(table.to_string(float_format=lambda x: f"{x:.4f}"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------------ robust()

VCOV_TYPES = ("CR0", "CR1", "CR2")


def robust(
    res: RmaResult | MvResult,
    cluster: Any,
    *,
    adjust: bool = True,
    clubsandwich: bool = True,
    data: pd.DataFrame | None = None,
) -> RobustResult:
    """Cluster-robust standard errors, tests and confidence intervals for a fitted model.

    Parameters
    ----------
    res : RmaResult or MvResult
        A model from :func:`metareview.rma` (fitted with or without moderators) or
        :func:`metareview.rma_mv`.
    cluster : array-like or str
        One cluster label per estimate in the fit (in the fit's order), or a column name of
        ``data``. The clusters must be independent: for an ``rma_mv`` model every random
        effect's groups must lie within one cluster (e.g. the top-level ``study``).
    adjust : bool
        Only with ``clubsandwich=False``: multiply the sandwich by n/(n - p) (CR1, metafor's
        default) rather than leave it unadjusted (CR0).
    clubsandwich : bool
        True (the default): the CR2 estimator with Satterthwaite degrees of freedom per
        coefficient, as clubSandwich's ``vcovCR(type = "CR2")`` and
        ``coef_test(test = "Satterthwaite")`` (Tipton, 2015; Pustejovsky & Tipton, 2018).
        False: metafor's own ``robust()`` (CR1/CR0 with n - p degrees of freedom).
    data : DataFrame, optional
        Where to look up ``cluster`` when it is a column name.

    Returns
    -------
    RobustResult

    Notes
    -----
    The working model's weights are the inverse marginal covariances the fit used
    (1 / (vi + tau2) for :func:`rma`), and the CR2 target is that marginal covariance, as
    clubSandwich does for metafor's models. For an ``rma(test="knha")`` fit the bread is
    the unscaled (X'WX)^-1, i.e. robust() replaces the Knapp-Hartung inference.

    References
    ----------
    Hedges, Tipton & Johnson (2010); Tipton (2015); Pustejovsky & Tipton (2018).

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.1, 0.3, 0.2, 0.5, 0.4, 0.0], [0.02, 0.03, 0.02, 0.04, 0.03, 0.05])
    >>> rob = mr.robust(res, cluster=[1, 1, 2, 2, 3, 3])
    >>> rob.vcov_type, rob.n_clusters
    ('CR2', 3)
    """
    from metareview.stats.mv import MvResult

    if not isinstance(res, RmaResult | MvResult):
        raise InputError(
            f"robust() needs the result of metareview.rma() or metareview.rma_mv(); got "
            f"{type(res).__name__}."
        )
    if isinstance(res, RmaResult) and res.subgroups is not None:
        raise InputError(
            "robust() needs a single model; res is a subgroup analysis. Fit the "
            "model without subgroup= (use mods= for a moderator)."
        )
    labels = tuple(res.slab)
    codes, n = _cluster_codes(resolve_column("cluster", cluster, data), res.k, labels)
    p = len(res.coef_names)
    if n <= p:
        raise InputError(
            f"robust() needs more clusters than coefficients; there are {n} cluster(s) and "
            f"{p} coefficient(s) ({', '.join(res.coef_names)})."
        )
    marginal = _marginal(res, codes)
    X = np.asarray(res.X, dtype=float)
    y = np.asarray(res.yi, dtype=float)
    beta = np.asarray(res.beta, dtype=float)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    groups = np.split(order, bounds)
    blocks = [marginal(idx) for idx in groups]
    weights = [np.linalg.inv(b) for b in blocks]
    xtwx = sum(
        (X[idx].T @ w @ X[idx] for idx, w in zip(groups, weights, strict=True)), np.zeros((p, p))
    )
    M = np.linalg.inv(xtwx)
    M = (M + M.T) / 2
    e = y - X @ beta
    btt = np.arange(1, p) if p > 1 and res.coef_names[0] == "intrcpt" else np.arange(p)
    if clubsandwich:
        vcov_type = "CR2"
        vb, df, gram, H = _cr2(X, e, M, groups, blocks, weights)
    else:
        vcov_type = "CR1" if adjust else "CR0"
        comps = np.column_stack(
            [M @ X[idx].T @ w @ e[idx] for idx, w in zip(groups, weights, strict=True)]
        )
        vb = comps @ comps.T
        if adjust:
            vb *= n / (n - p)
        df = np.full(p, float(n - p))
    se = np.sqrt(np.diag(vb))
    tval = beta / se
    pval = 2 * dist.t.sf(np.abs(tval), df)
    crit = dist.t.isf((1 - res.level) / 2, df)
    QM: float | None
    QM_df1: int | None
    QM_df2: float | None
    QMp: float | None
    if p == 1:
        QM, QM_df1, QM_df2, QMp = float(tval[0] ** 2), 1, float(df[0]), float(pval[0])
    elif vcov_type == "CR2":
        QM, QM_df1, QM_df2, QMp = _htz(beta, vb, btt, gram, H)
    else:
        b = beta[btt]
        m = len(btt)
        QM = float(b @ np.linalg.solve(vb[np.ix_(btt, btt)], b) / m)
        QM_df1, QM_df2 = m, float(n - p)
        QMp = float(dist.f.sf(QM, m, n - p))
    return RobustResult(
        vcov_type=vcov_type,
        level=res.level,
        coef_names=tuple(res.coef_names),
        beta=beta,
        se=se,
        tval=tval,
        df=df,
        pval=pval,
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        vb=vb,
        n_clusters=n,
        k=res.k,
        QM=QM,
        QM_df1=QM_df1,
        QM_df2=QM_df2,
        QMp=QMp,
        model=res,
    )


def _cluster_codes(cluster: Any, k: int, labels: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """Integer codes 0..n-1 of ``cluster`` (one per estimate in the fit) and n."""
    values = pd.Series(
        np.asarray(cluster, dtype=object)
        if not isinstance(cluster, pd.Series)
        else cluster.to_numpy(dtype=object)
    )
    if values.ndim != 1 or len(values) != k:
        raise InputError(
            f"cluster must have one value per estimate in the fit (k = {k}); got "
            f"{len(values)}. If rows were omitted from the fit, give the clusters of the rows "
            "that entered it, in the same order."
        )
    missing = values.isna().to_numpy()
    if missing.any():
        raise InputError(
            f"cluster is missing for {describe_rows(missing, labels)}; every "
            "estimate needs a cluster."
        )
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), len(uniques)


def _marginal(res: RmaResult | MvResult, codes: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The working model's marginal covariance of the rows ``idx`` (one cluster)."""
    from metareview.stats.mv import MvResult

    vi = np.asarray(res.vi, dtype=float)
    if isinstance(res, MvResult):
        res.check_nested_in(codes, "robust()")
        return res.marginal_cov
    tau2 = float(res.tau2)
    return lambda idx: np.diag(vi[idx] + tau2)


def _inv_sqrt(G: np.ndarray) -> np.ndarray:
    """G^(-1/2) of a symmetric matrix, eigenvalues below 1e-12 set to zero (as clubSandwich's
    ``matrix_power``)."""
    vals, vecs = np.linalg.eigh(G)
    inv = np.zeros_like(vals)
    keep = vals > 1e-12
    inv[keep] = vals[keep] ** -0.5
    out: np.ndarray = (vecs * inv) @ vecs.T
    return out


def _cr2(
    X: np.ndarray,
    e: np.ndarray,
    M: np.ndarray,
    groups: list[np.ndarray],
    blocks: list[np.ndarray],
    weights: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CR2 covariance and Satterthwaite df per coefficient (Pustejovsky & Tipton, 2018, with
    the working model as target; clubSandwich's ``CR2``/``get_GH``/``get_P_array``).

    Also returns the pieces of clubSandwich's P array for the Wald tests: ``gram[j]`` =
    G_j G_j' (p x p) and ``H[:, j, :]`` = M E_j X_j Lm (Lm Lm' = M), so that for
    coefficients a, b the J x J matrix P_ab = diag(gram[:, a, b]) - H[a] H[b]'.
    """
    p = X.shape[1]
    Lm = np.linalg.cholesky(M)
    comps = np.empty((p, len(groups)))
    gram = np.empty((len(groups), p, p))
    H = np.empty((p, len(groups), p))
    for j, (idx, theta, w) in enumerate(zip(groups, blocks, weights, strict=True)):
        Xj = X[idx]
        L = np.linalg.cholesky(theta)  # theta = L L'; clubSandwich's chol() is R = L'
        ME = M @ Xj.T @ w @ _adjust(L, theta, Xj, M)
        comps[:, j] = ME @ e[idx]
        GL = ME @ L
        gram[j] = GL @ GL.T
        H[:, j, :] = ME @ Xj @ Lm
    vb = comps @ comps.T
    # P_i = diag(d_i) - H_i H_i' (J x J); df_i = tr(P_i)^2 / ||P_i||_F^2, via p x p products
    df = np.empty(p)
    for i in range(p):
        d = gram[:, i, i]
        trace = d.sum() - (H[i] ** 2).sum()
        df[i] = trace**2 / _frob_inner(d, H[i], H[i], d, H[i], H[i])
    return vb, df, gram, H


def _frob_inner(
    a: np.ndarray, A: np.ndarray, B: np.ndarray, c: np.ndarray, C: np.ndarray, D: np.ndarray
) -> float:
    """sum of the entries of (diag(a) - A B') * (diag(c) - C D'), without J x J matrices."""
    return float(
        (a * c).sum()
        - (a * (C * D).sum(axis=1)).sum()
        - (c * (A * B).sum(axis=1)).sum()
        + ((A.T @ C) * (B.T @ D)).sum()
    )


def _htz(
    beta: np.ndarray, vb: np.ndarray, btt: np.ndarray, gram: np.ndarray, H: np.ndarray
) -> tuple[float, int, float, float]:
    """clubSandwich's ``Wald_test(test = "HTZ")`` of beta[btt] = 0: Hotelling's T^2 scaled
    to an F on (q, nu - q + 1) df, nu = q (q + 1) / sum of the total variance matrix
    (Tipton & Pustejovsky, 2015, with the P array in low-rank form)."""
    q = len(btt)
    b = beta[btt]
    Q = float(b @ np.linalg.solve(vb[np.ix_(btt, btt)], b))
    d = gram[:, btt][:, :, btt]  # (J, q, q)
    Hq = H[btt]  # (q, J, u)
    omega = np.array(
        [[d[:, s, t].sum() - (Hq[s] * Hq[t]).sum() for t in range(q)] for s in range(q)]
    )
    ons = _inv_sqrt(omega)
    # B_st = Ons P Ons = diag(D[s, t]) - K_s K_t'
    D = np.einsum("sa,jab,bt->stj", ons, d, ons)
    K = np.einsum("sa,aju->sju", ons, Hq)
    var = np.empty((q, q))
    for s in range(q):
        for t in range(q):
            var[s, t] = _frob_inner(D[s, t], K[s], K[t], D[t, s], K[t], K[s]) + _frob_inner(
                D[s, s], K[s], K[s], D[t, t], K[t], K[t]
            )
    nu = q * (q + 1) / var.sum()
    delta = max((nu - q + 1) / nu, 0.0)
    df2 = nu - q + 1
    F = delta * Q / q
    return F, q, df2, float(dist.f.sf(F, q, df2)) if df2 > 0 else float("nan")


def _adjust(L: np.ndarray, theta: np.ndarray, Xj: np.ndarray, M: np.ndarray) -> np.ndarray:
    """CR2 adjustment A_j = R' G^(-1/2) R with R = L' (clubSandwich's ``chol(Theta_j)``) and
    G = R (I - H)_jj Theta_j R' = R (Theta_j - X_j M X_j') R'."""
    R = L.T
    G = R @ (theta - Xj @ M @ Xj.T) @ R.T
    G = (G + G.T) / 2
    out: np.ndarray = R.T @ _inv_sqrt(G) @ R
    return out
