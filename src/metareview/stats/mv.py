"""Multilevel and multivariate meta-analytic models: :func:`rma_mv` and :class:`MvResult`.

Several effect sizes per study (outcomes, time points, samples) are modelled as metafor's
``rma.mv`` does (Viechtbauer, 2010): the marginal covariance of the effect sizes is the
sampling covariance ``V`` (a vector of variances or a block-diagonal matrix) plus random
effects, either nested, ``random = "~ 1 | study/esid"``, with one variance component
``sigma2`` per level (Konstantopoulos, 2011; Van den Noortgate et al., 2013), or correlated
across the levels of an inner factor within an outer one, ``random = "~ outcome | study"``,
with ``struct`` CS, HCS, UN, AR or HAR (variances ``tau2``, correlations ``rho``; Berkey et
al., 1998; Ishak et al., 2007), or a list of such terms.

Rows are independent across clusters: the connected components of the top-level grouping
of every random term and of the non-zero pattern of ``V``. The (restricted) log-likelihood is
summed cluster by cluster: the clusters are batched by size and each batch is factored with
one stacked Cholesky decomposition, so one evaluation costs O(sum of m_c^3) and no k x k
matrix is formed. With a vector ``V`` and a single nested term, nested Sherman-Morrison
updates on group sums do the same in O(k p^2). Variance components are optimised on the log
scale and correlations on the atanh scale, as metafor parametrises them, and
:meth:`MvResult.confint` gives profile likelihood CIs for them (as ``confint.rma.mv``).

References
----------
Berkey, C. S., Hoaglin, D. C., Antczak-Bouckoms, A., Mosteller, F., & Colditz, G. A. (1998).
Meta-analysis of multiple outcomes by regression with random effects. Statistics in
Medicine, 17, 2537-2550.
Ishak, K. J., Platt, R. W., Joseph, L., Hanley, J. A., & Caro, J. J. (2007). Meta-analysis of
longitudinal studies. Clinical Trials, 4, 525-539.
Konstantopoulos, S. (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods, 2, 61-76.
Van den Noortgate, W., López-López, J. A., Marín-Martínez, F., & Sánchez-Meca, J. (2013).
Three-level meta-analysis of dependent effect sizes. Behavior Research Methods, 45, 576-594.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats
from scipy.sparse.csgraph import connected_components

from metareview._validation import (
    Options,
    check_level,
    check_numeric,
    check_same_length,
    describe_rows,
    resolve_column,
    row_names,
)
from metareview._version import __version__
from metareview.exceptions import ConvergenceError, InputError, MetareviewWarning
from metareview.stats._format import coefficient_table, fmt_p
from metareview.stats._format import json_floats as floats
from metareview.stats._likelihood import fit_statistics, gls_loglik, profile_bounds
from metareview.stats.models import _moderators

__all__ = ["MvResult", "impute_covariance_matrix", "rma_mv", "vcalc"]

MV_METHODS = Options("method", ("REML", "ML"))
MV_TESTS = Options("test", ("z", "t"), case_sensitive=False)
STRUCTS = Options("struct", ("CS", "HCS", "UN", "AR", "HAR"))
_NAME = r"[A-Za-z_.][\w.]*"
_NESTED = re.compile(rf"^\s*~\s*1\s*\|\s*({_NAME}(?:\s*/\s*{_NAME})*)\s*$")
_INNER = re.compile(rf"^\s*~\s*({_NAME})\s*\|\s*({_NAME})\s*$")
SUPPORTED_RANDOM = (
    '"~ 1 | study", nested "~ 1 | district/school" (any depth), "~ inner | outer" (with '
    "struct=), or a list of such terms (at most one with an inner factor)"
)
_LOG0 = float(np.log(1e-10))  # lower bound of log(variance): a component at it is reported 0
_ATANH_MAX = 12.0  # |atanh(rho)| bound (|rho| < 1 - 7.6e-11)


@dataclass(frozen=True, slots=True)
class _Terms:
    """Parsed ``random=``: nested ``~ 1 | a/b`` terms and at most one ``~ inner | outer``."""

    nested: tuple[tuple[str, ...], ...]
    inner: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class MvResult:
    """A fitted multilevel / multivariate meta-analysis (metafor's ``rma.mv``).

    ``sigma2`` holds one variance component per level of the ``~ 1 | a/b`` terms, named in
    ``sigma2_names`` as metafor names them (``"district"``, ``"district/school"``) with
    ``s_nlevels`` groups each. For a ``~ inner | outer`` term, ``tau2`` holds its variances
    (one for CS and AR, one per level of the inner factor, ``g_levels``, for HCS, UN and
    HAR) and ``rho`` its correlations (one, or for UN one per pair of levels in metafor's
    order, named in ``rho_names``); ``G`` is the implied covariance matrix of the inner
    levels. Coefficient fields are arrays in ``coef_names`` order; ``zval`` holds t
    statistics when ``test == "t"`` (on ``ddf`` = k - p degrees of freedom). ``QE``/``QEp``
    tests residual heterogeneity, ``QM``/``QMp`` the moderators (all coefficients without
    an intercept; the intercept in an intercept-only model; an F statistic for
    ``test == "t"``).
    """

    method: str
    test: str
    level: float
    random: str
    struct: str | None
    coef_names: tuple[str, ...]
    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    sigma2: np.ndarray
    sigma2_names: tuple[str, ...]
    s_nlevels: tuple[int, ...]
    tau2: np.ndarray
    rho: np.ndarray
    g_names: tuple[str, ...]
    g_levels: tuple[str, ...]
    rho_names: tuple[str, ...]
    G: np.ndarray
    QE: float
    QEp: float
    QM: float
    QMp: float
    QM_df: tuple[int, float]
    logLik: float
    deviance: float
    AIC: float
    BIC: float
    AICc: float
    k: int
    ddf: float
    iterations: int
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    V: sparse.csr_matrix = field(repr=False)
    X: np.ndarray = field(repr=False)
    slab: tuple[str, ...] = field(repr=False)
    group_codes: tuple[np.ndarray, ...] = field(repr=False)
    inner_codes: np.ndarray | None = field(repr=False)
    outer_codes: np.ndarray | None = field(repr=False)
    cluster_codes: np.ndarray = field(repr=False)
    _problem: _Problem = field(repr=False, compare=False)

    @property
    def p(self) -> int:
        """Number of coefficients."""
        return len(self.coef_names)

    @property
    def has_mods(self) -> bool:
        return self.p > 1 or self.coef_names[0] != "intrcpt"

    @property
    def estimate(self) -> float:
        """The first coefficient (the pooled effect of an intercept-only model)."""
        return float(self.beta[0])

    def marginal_cov(self, idx: np.ndarray) -> np.ndarray:
        """The fitted marginal covariance of the rows ``idx``: V plus, for each level,
        sigma2 where two rows share a group, plus G[inner_i, inner_j] where they share the
        outer group."""
        out: np.ndarray = self.V[idx][:, idx].toarray()
        for s2, codes in zip(self.sigma2, self.group_codes, strict=True):
            c = codes[idx]
            out += s2 * (c[:, None] == c[None, :])
        if self.inner_codes is not None and self.outer_codes is not None:
            a, o = self.inner_codes[idx], self.outer_codes[idx]
            out += self.G[a[:, None], a[None, :]] * (o[:, None] == o[None, :])
        return out

    def study_table(self) -> pd.DataFrame:
        """One row per effect size (index ``slab``): ``yi``, ``vi`` and its normal CI at the
        fit's level (as metafor's forest plot shows them)."""
        half = float(stats.norm.isf((1 - self.level) / 2)) * np.sqrt(self.vi)
        return pd.DataFrame(
            {"yi": self.yi, "vi": self.vi, "ci_lb": self.yi - half, "ci_ub": self.yi + half},
            index=pd.Index(self.slab, name="slab"),
        )

    def weights(self) -> np.ndarray:
        """Weights (%) of the effect sizes, as metafor's ``weights.rma.mv`` (type
        "diagonal"): the diagonal of the inverse of the fitted marginal covariance, scaled
        to sum to 100 (computed cluster by cluster)."""
        w = np.empty(self.k)
        for c in range(int(self.cluster_codes.max()) + 1):
            idx = np.flatnonzero(self.cluster_codes == c)
            w[idx] = np.diag(np.linalg.inv(self.marginal_cov(idx)))
        out: np.ndarray = 100 * w / w.sum()
        return out

    def aggregate(self, group: Sequence[Any]) -> pd.DataFrame:
        """Each group's effect sizes pooled on their own, as metafor's ``aggregate.escalc``
        with ``V`` (weighted): the inverse-variance (GLS) mean under equal effects within
        the group, ``(1' V_g^-1 y_g) / (1' V_g^-1 1)`` with variance ``1 / (1' V_g^-1 1)``,
        from the sampling covariance block alone (not the model's random effects).

        Parameters
        ----------
        group : sequence
            One label per effect size (e.g. the study column); groups in order of first
            appearance.

        Returns
        -------
        DataFrame
            Index = group; columns ``k`` (effect sizes), ``yi``, ``vi``, ``ci_lb``,
            ``ci_ub`` (normal CI at the fit's level).

        Raises
        ------
        InputError
            If ``group`` has not one label per effect size, or V correlates effect sizes of
            different groups.
        """
        labels = np.asarray([str(g) for g in group], dtype=object)
        if len(labels) != self.k:
            raise InputError(
                f"group has {len(labels)} labels but the fit has {self.k} effect sizes; give "
                "one label per effect size (e.g. the study column of the data)."
            )
        codes, names = pd.factorize(labels, sort=False)
        coo = self.V.tocoo()
        across = codes[coo.row] != codes[coo.col]
        if np.any(across & (coo.data != 0)):
            r = int(coo.row[across][0])
            c = int(coo.col[across][0])
            raise InputError(
                f"V correlates effect sizes of different groups ({self.slab[r]!r} in "
                f"{labels[r]!r}, {self.slab[c]!r} in {labels[c]!r}); group so that each "
                "block of V lies within one group."
            )
        crit = float(stats.norm.isf((1 - self.level) / 2))
        rows = []
        for g in range(len(names)):
            idx = np.flatnonzero(codes == g)
            W = np.linalg.inv(self.V[idx][:, idx].toarray())
            total = float(W.sum())
            yi = float((W @ self.yi[idx]).sum()) / total
            vi = 1.0 / total
            half = crit * np.sqrt(vi)
            rows.append((len(idx), yi, vi, yi - half, yi + half))
        return pd.DataFrame(
            rows,
            columns=["k", "yi", "vi", "ci_lb", "ci_ub"],
            index=pd.Index([str(n) for n in names], name="group"),
        )

    def check_nested_in(self, cluster_codes: np.ndarray, what: str) -> None:
        """Raise unless every random effect's groups, and every block of V, lie within one
        cluster."""
        groups = list(zip(self.sigma2_names, self.group_codes, strict=True))
        if self.outer_codes is not None:
            groups.append((self.g_names[1], self.outer_codes))
        for name, codes in groups:
            spread = pd.Series(cluster_codes).groupby(codes).nunique()
            if (spread > 1).any():
                raise InputError(
                    f"{what}: the random effect '{name}' is not nested within cluster (some "
                    f"of its groups span several clusters); cluster by the top level of "
                    f"random= ({self.random!r}) or a coarser grouping."
                )
        spread = pd.Series(cluster_codes).groupby(self.cluster_codes).nunique()
        if (spread > 1).any():
            raise InputError(
                f"{what}: V correlates estimates in different clusters (a block of V spans "
                "several clusters); cluster so that each block of V lies within one cluster."
            )

    def components(self) -> pd.DataFrame:
        """One row per variance component / correlation: its ``estimate`` and whether it
        was ``fixed`` (given by the caller, as metafor's ``tau2=`` / ``rho=``)."""
        pb = self._problem
        return pd.DataFrame(
            {
                "estimate": pb.natural_estimates(self),
                "fixed": [j in pb.base_fixed for j in range(len(pb.names))],
            },
            index=pd.Index(pb.names, name="component"),
        )

    def profile(self, component: str, values: Sequence[float]) -> pd.DataFrame:
        """The profile (restricted) log-likelihood of one variance component.

        Parameters
        ----------
        component : str
            A name from :meth:`components` (``"sigma2.1"``, ``"tau2.2"``, ``"rho"``, ...).
        values : sequence of float
            Values at which the component is fixed while the others are re-estimated.

        Returns
        -------
        DataFrame
            Columns ``value`` and ``logLik`` (as metafor's ``profile.rma.mv``).
        """
        j = self._problem.index(component)
        ll = [self._problem.profile_ll(j, float(x)) for x in values]
        return pd.DataFrame({"value": np.asarray(values, dtype=float), "logLik": ll})

    def confint(self, level: float | None = None) -> pd.DataFrame:
        """Profile likelihood CIs of the variance components and correlations.

        As metafor's ``confint.rma.mv``: each bound is where twice the drop of the
        profile (restricted) log-likelihood equals the chi-square(1) quantile; a bound that
        lies beyond the search interval (variances [0, max(10, 100 x estimate)],
        correlations [-1, 1], [min(0, rho), 1] for AR/HAR) is reported as that limit.

        Returns
        -------
        DataFrame
            One row per component (names as :meth:`components`): ``estimate``, ``ci_lb``,
            ``ci_ub``.
        """
        lev = self.level if level is None else check_level(level)
        crit = float(stats.chi2.isf(1 - lev, 1))
        pb = self._problem
        est = pb.natural_estimates(self)
        free = [j for j in range(len(est)) if j not in pb.base_fixed]
        rows = [pb.profile_ci(j, float(est[j]), crit) for j in free]
        return pd.DataFrame(
            rows,
            columns=["estimate", "ci_lb", "ci_ub"],
            index=pd.Index([pb.names[j] for j in free], name="component"),
        )

    def table(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, zval (tval for test="t"), pval, CI."""
        return coefficient_table(
            self.coef_names,
            estimate=self.beta,
            se=self.se,
            zval=self.zval,
            pval=self.pval,
            ci_lb=self.ci_lb,
            ci_ub=self.ci_ub,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results; coefficient keys hold one value per coefficient."""

        return {
            "coef_names": list(self.coef_names),
            "estimate": floats(self.beta),
            "se": floats(self.se),
            "zval": floats(self.zval),
            "pval": floats(self.pval),
            "ci_lb": floats(self.ci_lb),
            "ci_ub": floats(self.ci_ub),
            "sigma2": floats(self.sigma2),
            "sigma2_names": list(self.sigma2_names),
            "s_nlevels": list(self.s_nlevels),
            "struct": self.struct,
            "tau2": floats(self.tau2),
            "rho": floats(self.rho),
            "g_names": list(self.g_names),
            "g_levels": list(self.g_levels),
            "rho_names": list(self.rho_names),
            "QE": self.QE,
            "QEp": self.QEp,
            "QM": self.QM,
            "QMp": self.QMp,
            "QM_df": [self.QM_df[0], None if np.isnan(self.QM_df[1]) else self.QM_df[1]],
            "logLik": self.logLik,
            "deviance": self.deviance,
            "AIC": self.AIC,
            "BIC": self.BIC,
            "AICc": self.AICc,
            "k": self.k,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "random": self.random,
            "metareview_version": __version__,
        }

    def summary(self) -> str:
        """A text report that reads like metafor's print of an ``rma.mv`` fit."""
        lines = [
            f"Multivariate Meta-Analysis Model (k = {self.k}; method: {self.method})",
            "",
            "  logLik  deviance       AIC       BIC      AICc",
            f"{self.logLik:8.4f}  {self.deviance:8.4f}  {self.AIC:8.4f}  {self.BIC:8.4f}"
            f"  {self.AICc:8.4f}",
            "",
            "Variance Components:",
        ]
        if len(self.sigma2):
            width = max(len(n) for n in self.sigma2_names)
            for j, (s2, name, nl) in enumerate(
                zip(self.sigma2, self.sigma2_names, self.s_nlevels, strict=True)
            ):
                lines.append(
                    f"sigma^2.{j + 1}  {s2:.4f}  {np.sqrt(s2):.4f}  {nl:5d}  {name.ljust(width)}"
                )
        if self.struct is not None:
            lines += [""] if len(self.sigma2) else []
            lines += [f"outer factor: {self.g_names[1]}", f"inner factor: {self.g_names[0]}"]
            lines += [f"struct: {self.struct}", ""]
            many = len(self.tau2) > 1
            for j, t2 in enumerate(self.tau2):
                lab = f" ({self.g_levels[j]})" if many else ""
                lines.append(
                    f"tau^2{'.' + str(j + 1) if many else ''}  {t2:.4f}  {np.sqrt(t2):.4f}{lab}"
                )
            for name, r in zip(self.rho_names, self.rho, strict=True):
                lines.append(f"rho {name}  {r:.4f}")
        qe_df = self.k - self.p
        lines += [
            "",
            f"Test for {'Residual ' if self.has_mods else ''}Heterogeneity:",
            f"QE(df = {qe_df}) = {self.QE:.4f}, p-val {fmt_p(self.QEp)}",
            "",
        ]
        if self.has_mods:
            stat = (
                f"QM(df = {self.QM_df[0]})"
                if self.test == "z"
                else f"F(df1 = {self.QM_df[0]}, df2 = {self.QM_df[1]:g})"
            )
            lines += [f"Test of Moderators: {stat} = {self.QM:.4f}, p-val {fmt_p(self.QMp)}", ""]
        lines.append(self.table().to_string(float_format=lambda x: f"{x:.4f}"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------------ rma_mv()


def rma_mv(
    yi: Any = None,
    V: Any = None,
    *,
    random: str | Sequence[str],
    struct: str = "CS",
    sigma2: Any = None,
    tau2: Any = None,
    rho: Any = None,
    mods: Any = None,
    intercept: bool = True,
    data: pd.DataFrame | None = None,
    slab: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
) -> MvResult:
    """Fit a multilevel / multivariate meta-analysis or meta-regression (metafor's rma.mv).

    Parameters
    ----------
    yi : array-like or str
        Effect sizes, or a column name of ``data`` (default ``"yi"``).
    V : array-like, sparse matrix, list of arrays or str
        Sampling variances, one per effect size, or a column name of ``data`` (default
        ``"vi"``); or their covariance matrix: a k x k array, a scipy sparse matrix (e.g.
        from :func:`vcalc`) or a list of square blocks in row order (metafor's ``bldiag``).
        Rows whose covariance is not zero must be in one cluster of the random effects or
        are merged into one.
    random : str or list of str
        Random effects in metafor's formula syntax: ``"~ 1 | study"``, nested
        ``"~ 1 | district/school"`` (any depth), ``"~ inner | outer"`` (correlated effects
        of the levels of ``inner`` within each ``outer`` group, structured by ``struct``),
        or a list of terms (at most one ``~ inner | outer``). Names are columns of ``data``.
    struct : {"CS", "HCS", "UN", "AR", "HAR"}
        Structure of the ``~ inner | outer`` term: compound symmetry (one tau2, one rho),
        heteroscedastic CS (tau2 per level, one rho), unstructured (tau2 per level, rho per
        pair), AR(1) (one tau2, rho^|i - j| between the i-th and j-th sorted levels),
        heteroscedastic AR(1).
    sigma2, tau2, rho : float or sequence, optional
        Fix variance components or correlations at these values instead of estimating them
        (metafor's arguments of the same names; None entries are estimated): e.g.
        ``rho=0.5`` with ``struct="CS"`` for the contrast-based network meta-analysis model.
    mods : str, sequence of str, array-like or DataFrame, optional
        Moderators, as in :func:`metareview.rma`.
    intercept : bool
        Add an intercept (metafor's ``~ x - 1`` is ``intercept=False``).
    data : DataFrame
        Holds the columns named in ``random`` (and any other named columns).
    slab : array-like or str, optional
        Labels of the effect sizes, used in messages.
    method : {"REML", "ML"}
        Estimator of the variance components.
    test : {"z", "t"}
        Wald z-tests, or t-tests (F for the omnibus test) on k - p degrees of freedom.
    level : float
        Confidence level, 95 or 0.95.

    Returns
    -------
    MvResult

    Raises
    ------
    InputError
        Unknown columns or terms, missing groups, V not symmetric, a V block that is not
        positive definite (naming its cluster and rows), collinear moderators.

    Notes
    -----
    Matches metafor's ``rma.mv`` (Viechtbauer, 2010): the REML log-likelihood includes the
    constant log|X'X| / 2, as rma.mv does; fit statistics count p plus the free variance
    components and correlations; BIC and AICc use k - p observations for REML. For UN the
    correlation matrix is not constrained: a point where the marginal covariance is not
    positive definite has log-likelihood -inf.

    Examples
    --------
    >>> import pandas as pd, metareview as mr
    >>> d = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.0, 0.3, 0.6],
    ...                   "vi": [0.02, 0.03, 0.02, 0.04, 0.03, 0.05, 0.02, 0.03],
    ...                   "study": [1, 1, 2, 2, 3, 3, 4, 4], "esid": [1, 2, 1, 2, 1, 2, 1, 2]})
    >>> res = mr.rma_mv("yi", "vi", random="~ 1 | study/esid", data=d)
    >>> res.sigma2_names
    ('study', 'study/esid')
    """
    method = MV_METHODS.check(method)
    test = MV_TESTS.check(test)
    level = check_level(level)
    sigma2_fixed, tau2_fixed, rho_fixed = sigma2, tau2, rho
    terms = _parse_random(random, data)
    struct_used = STRUCTS.check(struct) if terms.inner is not None else None
    assert data is not None  # _parse_random demands it
    y_raw = resolve_column("yi", "yi" if yi is None else yi, data)
    k = len(y_raw)
    labels = row_names(data if len(data) == k else None, k, slab)
    y = check_numeric("yi", y_raw, labels, allow_nan=False)
    check_same_length({"yi": y, "data": np.empty(len(data))})
    v_vec, Vm = _check_V("vi" if V is None else V, data, k, labels)
    X, coef_names = _moderators(mods, data, k, labels)
    if not intercept:
        X, coef_names = X[:, 1:], coef_names[1:]
        if X.shape[1] == 0:
            raise InputError("intercept=False needs moderators (mods=); the model has no terms.")
    p = X.shape[1]
    if k - p < 1:
        raise InputError(f"rma_mv() needs more effect sizes than coefficients; k = {k}, p = {p}.")
    if np.linalg.matrix_rank(X) < p:
        raise InputError(
            f"the moderators are collinear ({', '.join(coef_names)}); drop redundant ones."
        )
    codes: list[np.ndarray] = []
    sigma2_names: list[str] = []
    tops: list[np.ndarray] = []
    for names in terms.nested:
        term_codes = _group_codes(list(names), data, labels)
        codes += term_codes
        sigma2_names += ["/".join(names[: j + 1]) for j in range(len(names))]
        tops.append(term_codes[0])
    inner = outer = None
    g_levels: tuple[str, ...] = ()
    if terms.inner is not None:
        inner, g_levels = _inner_codes(terms.inner[0], data, labels)
        outer = _group_codes([terms.inner[1]], data, labels)[0]
        tops.append(outer)
    cluster = _clusters(tops, Vm, k)
    # standardise the moderators (X = Xs A): the likelihood is invariant, and the sums of
    # cross-products stay well conditioned for moderators such as calendar years
    A = np.eye(p)
    scale = X.std(axis=0) if intercept else np.sqrt((X**2).mean(axis=0))
    if intercept:
        A[0, 1:] = X[:, 1:].mean(axis=0)
        scale[0] = 1.0
    A[np.arange(p), np.arange(p)] = np.where(scale > 0, scale, 1.0)
    A_inv = np.linalg.inv(A)
    Xs = X @ A_inv
    reml = method == "REML"
    spec = _Spec(struct_used, len(g_levels), len(codes))
    ll_fn: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]
    if Vm is None and inner is None and len(terms.nested) == 1:
        ll_fn = _Nested(np.column_stack([np.ones(k), y, Xs]), v_vec, codes, p, reml)
    else:
        V_csr = sparse.diags(v_vec).tocsr() if Vm is None else Vm
        blocks = _Blocks(y, Xs, V_csr, codes, inner, outer, cluster, labels, data, terms, reml)
        ll_fn = blocks.loglik_at(spec)
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    fixed = _fixed_values(spec, sigma2_fixed, tau2_fixed, rho_fixed)
    problem = _Problem(spec, ll_fn, float(np.var(resid)), fixed)
    theta, iterations = problem.fit({})
    sigma2, tau2, rho = spec.split(theta)
    ll, beta_s, vb_s = ll_fn(theta)
    beta = A_inv @ beta_s
    vb = A_inv @ vb_s @ A_inv.T
    se = np.sqrt(np.diag(vb))
    zval = beta / se
    ddf = float(k - p) if test == "t" else float("nan")
    alpha = 1 - level
    if test == "t":
        pval = 2 * stats.t.sf(np.abs(zval), ddf)
        crit = stats.t.isf(alpha / 2, ddf)
    else:
        pval = 2 * stats.norm.sf(np.abs(zval))
        crit = stats.norm.isf(alpha / 2)
    btt = np.arange(1, p) if p > 1 and intercept else np.arange(p)
    m = len(btt)
    qm = float(beta[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], beta[btt]))
    if test == "t":
        QM, QMp = qm / m, float(stats.f.sf(qm / m, m, ddf))
    else:
        QM, QMp = qm, float(stats.chi2.sf(qm, m))
    if Vm is None:
        w = 1 / v_vec
        xtw = X.T * w
        b_ee = np.linalg.solve(xtw @ X, xtw @ y)
        QE = float(((y - X @ b_ee) ** 2 * w).sum())
    else:
        QE = blocks.residual_q()
    n_par = p + spec.size - len(fixed)
    n_obs = k - p if reml else k
    # ML: deviance against the saturated model (each yi its own mean), as metafor
    if reml:
        saturated = 0.0
    elif Vm is None:
        saturated = float(-0.5 * np.log(2 * np.pi * v_vec).sum())
    else:
        saturated = -0.5 * (k * np.log(2 * np.pi) + blocks.logdet_v)
    V_store = sparse.diags(v_vec).tocsr() if Vm is None else Vm
    return MvResult(
        method=method,
        test=test,
        level=level,
        random=random if isinstance(random, str) else " + ".join(random),
        struct=struct_used,
        coef_names=tuple(coef_names),
        beta=beta,
        se=se,
        zval=zval,
        pval=pval,
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        vb=vb,
        sigma2=sigma2,
        sigma2_names=tuple(sigma2_names),
        s_nlevels=tuple(int(c.max()) + 1 for c in codes),
        tau2=tau2,
        rho=rho,
        g_names=terms.inner if terms.inner is not None else (),
        g_levels=g_levels,
        rho_names=spec.rho_names(g_levels),
        G=spec.G(tau2, rho),
        QE=QE,
        QEp=float(stats.chi2.sf(QE, k - p)),
        QM=QM,
        QMp=QMp,
        QM_df=(m, ddf),
        **fit_statistics(ll, n_par, n_obs, saturated),
        k=k,
        ddf=ddf,
        iterations=iterations,
        yi=y,
        vi=np.asarray(V_store.diagonal(), dtype=float),
        V=V_store,
        X=X,
        slab=tuple(labels),
        group_codes=tuple(codes),
        inner_codes=inner,
        outer_codes=outer,
        cluster_codes=cluster,
        _problem=problem,
    )


# ------------------------------------------------------------------------- parameters and fit


class _Spec:
    """The variance parameters of a model: n_s sigma2, then tau2 and rho of the inner term.

    Parameters live in a vector ``theta`` on the natural scale; the optimiser works on
    log(variance) and atanh(rho), as metafor does.
    """

    def __init__(self, struct: str | None, n_levels: int, n_sigma2: int) -> None:
        self.struct, self.L, self.n_s = struct, n_levels, n_sigma2
        if struct is None:
            self.n_tau2 = self.n_rho = 0
        else:
            self.n_tau2 = 1 if struct in ("CS", "AR") else n_levels
            self.n_rho = n_levels * (n_levels - 1) // 2 if struct == "UN" else 1
            if n_levels == 1:  # one level: no correlation to estimate (metafor fixes rho = 0)
                self.n_rho = 0
        self.size = self.n_s + self.n_tau2 + self.n_rho

    def is_rho(self, j: int) -> bool:
        return j >= self.n_s + self.n_tau2

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, t = self.n_s, self.n_s + self.n_tau2
        return theta[:s].copy(), theta[s:t].copy(), theta[t:].copy()

    def rho_names(self, levels: tuple[str, ...]) -> tuple[str, ...]:
        if self.struct == "UN":
            i, j = np.triu_indices(self.L, 1)  # metafor's lower.tri order (column-major)
            return tuple(f"{levels[b]}-{levels[a]}" for a, b in zip(i, j, strict=True))
        return ("",) * self.n_rho

    def G(self, tau2: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """The covariance matrix of the inner levels (metafor's G)."""
        L = self.L
        if self.struct is None:
            return np.zeros((0, 0))
        sd = np.sqrt(np.broadcast_to(tau2, (L,)))
        r = float(rho[0]) if len(rho) else 0.0
        if self.struct in ("CS", "HCS"):
            R = np.full((L, L), r)
        elif self.struct in ("AR", "HAR"):
            lag = np.abs(np.subtract.outer(np.arange(L), np.arange(L)))
            R = r**lag
        else:
            R = np.zeros((L, L))
            i, j = np.triu_indices(L, 1)
            R[j, i] = R[i, j] = rho
        np.fill_diagonal(R, 1.0)
        return np.asarray(sd[:, None] * R * sd[None, :])


def _fixed_values(spec: _Spec, sigma2: Any, tau2: Any, rho: Any) -> dict[int, float]:
    """{parameter index: value} of the components the caller fixed (None = estimate)."""
    out: dict[int, float] = {}
    offset = 0
    for name, given, n, lo in (
        ("sigma2", sigma2, spec.n_s, 0.0),
        ("tau2", tau2, spec.n_tau2, 0.0),
        ("rho", rho, spec.n_rho, -1.0),
    ):
        if given is not None:
            values = list(np.broadcast_to(np.asarray(given, dtype=object), (n,))) if n else []
            if np.ndim(given) and len(np.atleast_1d(given)) not in (1, n):
                raise InputError(
                    f"{name} must give one value or {n} (one per {name} of the model, None to "
                    f"estimate); got {len(np.atleast_1d(given))}."
                )
            for j, value in enumerate(values):
                if value is None or (isinstance(value, float) and np.isnan(value)):
                    continue
                v = float(value)
                if not lo <= v <= (1.0 if name == "rho" else np.inf):
                    raise InputError(
                        f"{name}: a fixed value must be in [{lo:g}, "
                        f"{'1' if name == 'rho' else 'inf'}]; got {v}."
                    )
                out[offset + j] = v
        offset += n
    return out


class _Problem:
    """Maximises the (restricted) log-likelihood over the variance parameters, with any
    of them fixed (for profiles)."""

    def __init__(
        self,
        spec: _Spec,
        ll_fn: Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]],
        resid_var: float,
        base_fixed: dict[int, float],
    ) -> None:
        self.spec, self.ll_fn, self.base_fixed = spec, ll_fn, base_fixed
        n_var = max(spec.n_s + spec.n_tau2, 1)
        self.start_var = max(resid_var, 1e-4) / n_var
        self.names: tuple[str, ...] = (
            *(f"sigma2.{j + 1}" for j in range(spec.n_s)),
            *(
                ("tau2",)
                if spec.n_tau2 == 1
                else tuple(f"tau2.{j + 1}" for j in range(spec.n_tau2))
            ),
            *(("rho",) if spec.n_rho == 1 else tuple(f"rho.{j + 1}" for j in range(spec.n_rho))),
        )
        self.ll_max = float("nan")
        self.theta_hat = np.zeros(spec.size)

    def index(self, name: str) -> int:
        if name not in self.names:
            raise InputError(f"component must be one of {', '.join(self.names)}; got {name!r}.")
        return self.names.index(name)

    def natural_estimates(self, res: MvResult) -> np.ndarray:
        return np.concatenate([res.sigma2, res.tau2, res.rho])

    def _natural(self, x: np.ndarray, free: np.ndarray, fixed: dict[int, float]) -> np.ndarray:
        theta = np.empty(self.spec.size)
        for j in range(self.spec.size):
            if j in fixed:
                theta[j] = fixed[j]
        is_rho = np.array([self.spec.is_rho(j) for j in free], dtype=bool)
        vals = np.where(is_rho, np.tanh(x), np.exp(x))
        theta[free] = vals
        return theta

    def _objective(
        self, free: np.ndarray, fixed: dict[int, float]
    ) -> Callable[[np.ndarray], float]:
        def f(x: np.ndarray) -> float:
            theta = self._natural(x, free, fixed)
            try:
                ll = self.ll_fn(theta)[0]
            except np.linalg.LinAlgError:
                return 1e100
            return -ll if np.isfinite(ll) else 1e100

        return f

    def fit(
        self, fixed: dict[int, float], start: np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        """Natural-scale estimates with the components in ``fixed`` (and those the caller
        fixed) held at their values."""
        spec = self.spec
        profiling = bool(fixed)
        fixed = {**self.base_fixed, **fixed}
        free = np.array([j for j in range(spec.size) if j not in fixed], dtype=np.intp)
        if len(free) == 0:
            theta = self._natural(np.zeros(0), free, fixed)
            if not profiling:
                self.theta_hat, self.ll_max = theta, float(self.ll_fn(theta)[0])
            return theta, 0
        is_rho = np.array([spec.is_rho(j) for j in free], dtype=bool)
        if start is None:
            x0 = np.where(is_rho, 0.0, np.log(self.start_var))
        else:
            x0 = np.where(
                is_rho,
                np.arctanh(np.clip(start[free], -0.99, 0.99)),
                np.log(np.maximum(start[free], 1e-8)),
            )
        bounds = [(-_ATANH_MAX, _ATANH_MAX) if r else (_LOG0, None) for r in is_rho]
        objective = self._objective(free, fixed)
        opt = optimize.minimize(
            objective,
            x0,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000},
        )
        x = np.asarray(opt.x, dtype=float)
        if not np.isfinite(objective(x)) or objective(x) >= 1e99:
            opt = optimize.minimize(
                objective,
                x0,
                method="Nelder-Mead",
                options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20_000},
            )
            x = np.asarray(opt.x, dtype=float)
        lower = np.where(is_rho, -_ATANH_MAX, _LOG0)
        upper = np.where(is_rho, _ATANH_MAX, np.inf)
        interior = (x > lower + 1e-3) & (x < upper - 1e-3)
        x = np.clip(x, lower, upper)
        newton_steps = 0
        if interior.any():

            def on_interior(t: np.ndarray) -> float:
                full = x.copy()
                full[interior] = t
                return objective(full)

            polished, newton_steps, _ = _newton(on_interior, x[interior])
            x[interior] = polished
        grad = _gradient(objective, x)
        tol = 1e-6 * max(1.0, abs(objective(x)))
        at_lower = ~interior & (x <= lower + 1e-3)
        at_upper = ~interior & ~at_lower
        if (
            objective(x) >= 1e99
            or np.any(np.abs(grad[interior]) > tol)
            or np.any(grad[at_lower] < -tol)
            or np.any(grad[at_upper] > tol)
        ):
            raise ConvergenceError(
                f"rma_mv() did not converge ({opt.message}); the likelihood may be flat in "
                "a variance component (too few groups at a level?) or a correlation."
            )
        theta = self._natural(x, free, fixed)
        zero = np.zeros(spec.size, dtype=bool)
        zero[free] = ~is_rho & (x <= _LOG0 + 1e-3)
        theta[zero] = 0.0
        if not profiling:
            self.theta_hat = theta
            self.ll_max = float(self.ll_fn(theta)[0])
        return theta, int(opt.nit + newton_steps)

    def profile_ll(self, j: int, value: float) -> float:
        """Log-likelihood maximised over the other components with component j = value."""
        if self.spec.is_rho(j) and not -1 <= value <= 1:
            raise InputError(f"{self.names[j]} must be in [-1, 1]; got {value}.")
        if not self.spec.is_rho(j) and value < 0:
            raise InputError(f"{self.names[j]} must be >= 0; got {value}.")
        try:
            theta, _ = self.fit({j: value}, start=self.theta_hat)
        except ConvergenceError:
            return float("nan")
        return float(self.ll_fn(theta)[0])

    def profile_ci(self, j: int, est: float, crit: float) -> tuple[float, float, float]:
        """metafor's confint.rma.mv search: roots of 2 (ll_max - ll_j(x)) = crit."""
        spec = self.spec

        def excess(x: float) -> float:
            ll = self.profile_ll(j, x)
            if not np.isfinite(ll):
                return 1e10
            return min(2 * (self.ll_max - ll) - crit, 1e10)

        if spec.is_rho(j):
            lo = min(0.0, est) if spec.struct in ("AR", "HAR") else -1.0
            hi = 1.0
        else:
            lo = 0.0
            hi = 10.0 if est <= np.sqrt(np.finfo(float).eps) else max(10.0, 100 * est)
        return (est, *profile_bounds(excess, est, lo, hi))


# ------------------------------------------------------------------------------ input handling


def _check_V(V: Any, data: pd.DataFrame, k: int, labels: Any) -> tuple[np.ndarray, Any]:
    """(diagonal of V, V as a CSR matrix or None when V is a vector)."""
    if isinstance(V, str):
        V = resolve_column("V", V, data)
    if isinstance(V, list | tuple) and V and all(np.ndim(b) == 2 for b in V):
        blocks = [np.asarray(b, dtype=float) for b in V]
        for i, b in enumerate(blocks):
            if b.shape[0] != b.shape[1]:
                raise InputError(f"V: block {i + 1} of the list is not square (shape {b.shape}).")
        Vm = sparse.block_diag(blocks, format="csr")
    elif sparse.issparse(V):
        Vm = sparse.csr_matrix(V, dtype=float)
    elif np.ndim(V) == 2:
        Vm = sparse.csr_matrix(np.asarray(V, dtype=float))
    else:
        v = check_numeric("V", V, labels, allow_nan=False)
        check_same_length({"yi": np.empty(k), "V": v})
        bad = ~(v > 0)
        if bad.any():
            raise InputError(
                f"V (sampling variances) must be > 0; got {int(bad.sum())} value(s) "
                f"<= 0 at {describe_rows(bad, labels)}."
            )
        return v, None
    if Vm.shape != (k, k):
        raise InputError(
            f"V must be k x k with k = {k} effect sizes (one row and column per row of yi); "
            f"got {Vm.shape[0]} x {Vm.shape[1]}."
        )
    if not np.all(np.isfinite(Vm.data)):
        raise InputError("V contains missing or infinite values; every entry must be a number.")
    asym = abs(Vm - Vm.T)
    scale = float(abs(Vm).max()) if Vm.nnz else 1.0
    if asym.nnz and float(asym.max()) > 1e-10 * scale:
        worst = asym.tocoo()
        at = int(np.argmax(worst.data))
        i, j = int(worst.row[at]), int(worst.col[at])
        raise InputError(
            f"V must be symmetric; V[{i + 1}, {j + 1}] != V[{j + 1}, {i + 1}] (rows "
            f"{labels[i]!r} and {labels[j]!r})."
        )
    d = np.asarray(Vm.diagonal(), dtype=float)
    bad = ~(d > 0)
    if bad.any():
        raise InputError(
            f"V: the sampling variances (diagonal) must be > 0; got {int(bad.sum())} value(s) "
            f"<= 0 at {describe_rows(bad, labels)}."
        )
    return d, Vm


def _parse_random(random: object, data: pd.DataFrame | None) -> _Terms:
    items = [random] if isinstance(random, str) else random
    if not isinstance(items, list | tuple) or not items:
        items = [random]
    nested: list[tuple[str, ...]] = []
    inner: tuple[str, str] | None = None
    for term in items:
        m_nested = _NESTED.match(term) if isinstance(term, str) else None
        m_inner = _INNER.match(term) if isinstance(term, str) else None
        if m_nested is not None:
            nested.append(tuple(n.strip() for n in m_nested.group(1).split("/")))
        elif m_inner is not None and inner is None:
            inner = (m_inner.group(1), m_inner.group(2))
        else:
            extra = " (a second '~ inner | outer' term)" if m_inner is not None else ""
            raise InputError(
                f"random must be {SUPPORTED_RANDOM}; got {term!r}{extra}. Random slopes and "
                "interactions are not supported."
            )
    names = [n for t in nested for n in t] + (list(inner) if inner else [])
    if data is None:
        raise InputError(
            f"random={random!r} names columns ({', '.join(names)}); give them in data=."
        )
    for name in names:
        if name not in data.columns:
            raise InputError(
                f"random={random!r}: {name!r} is not a column of data; columns "
                f"are {list(data.columns)}."
            )
    return _Terms(tuple(nested), inner)


def _inner_codes(name: str, data: pd.DataFrame, labels: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes 0..L-1 of the inner factor in sorted order of its levels (metafor's factor())."""
    col = data[name]
    missing = col.isna().to_numpy()
    if missing.any():
        raise InputError(
            f"the inner factor {name!r} (random=) is missing for {describe_rows(missing, labels)}."
        )
    values = col.to_numpy() if pd.api.types.is_numeric_dtype(col) else col.astype(str).to_numpy()
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), tuple(
        format(u, "g") if isinstance(u, float | np.floating) else str(u) for u in uniques
    )


def _clusters(tops: list[np.ndarray], Vm: Any, k: int) -> np.ndarray:
    """Independent clusters of rows: connected components of the top-level groups of every
    random term and of V's non-zero pattern."""
    rows, cols = [np.arange(k)], [np.arange(k)]
    offset = k
    for codes in tops:
        rows.append(np.arange(k))
        cols.append(offset + codes)
        offset += int(codes.max()) + 1
    if Vm is not None:
        coo = Vm.tocoo()
        rows.append(coo.row.astype(np.intp))
        cols.append(coo.col.astype(np.intp))
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(offset, offset))
    _, labels = connected_components(graph, directed=False)
    out: np.ndarray = pd.factorize(labels[:k], sort=True)[0].astype(np.intp)
    return out


def _gradient(f: Any, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``f`` at ``x``."""
    return np.array([(f(x + e) - f(x - e)) / (2 * h) for e in np.eye(len(x)) * h])


def _newton(
    f: Any, x: np.ndarray, h: float = 1e-4, maxiter: int = 50
) -> tuple[np.ndarray, int, bool]:
    """Minimise ``f`` from ``x`` by Newton steps with central-difference gradient and
    Hessian (step halving when a step does not decrease ``f``); converged when the step is
    below 1e-10 or the gradient below 1e-9."""
    n = len(x)
    eye = np.eye(n) * h
    fx = f(x)
    for it in range(maxiter):
        grad = _gradient(f, x, h)
        if np.max(np.abs(grad)) < 1e-9:
            return x, it, True
        hess = np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                hess[i, j] = hess[j, i] = (
                    f(x + eye[i] + eye[j])
                    - f(x + eye[i] - eye[j])
                    - f(x - eye[i] + eye[j])
                    + f(x - eye[i] - eye[j])
                ) / (4 * h * h)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return x, it, False
        if np.any(np.linalg.eigvalsh(hess) <= 0):  # not convex here: a gradient step
            step = grad
        t = 1.0
        while t > 1e-8:
            fnew = f(x - t * step)
            if fnew <= fx:
                break
            t /= 2
        else:
            return x, it, bool(np.max(np.abs(grad)) < 1e-6)
        x = x - t * step
        fx = fnew
        if np.max(np.abs(t * step)) < 1e-10:
            return x, it + 1, True
    return x, maxiter, False


def _group_codes(names: list[str], data: pd.DataFrame, labels: Any) -> list[np.ndarray]:
    """Integer group codes per nesting level: level j groups rows by names[: j + 1]."""
    out: list[np.ndarray] = []
    for name in names:
        missing = data[name].isna().to_numpy()
        if missing.any():
            raise InputError(
                f"the grouping column {name!r} (random=) is missing for "
                f"{describe_rows(missing, labels)}."
            )
        own = pd.factorize(data[name].astype(str).to_numpy(), sort=True)[0].astype(np.int64)
        keys = own if not out else out[-1].astype(np.int64) * (int(own.max()) + 1) + own
        out.append(pd.factorize(keys, sort=True)[0].astype(np.intp))
    return out


class _Nested:
    """The (restricted) log-likelihood of a nested model, fast in its variance components.

    ``U = [1, y, X]``. Each level adds sigma2 * 1 1' within its groups; nested
    Sherman-Morrison updates carry the group sums Q_g = U_g' V_g^-1 U_g and log|V_g| from
    the innermost level outwards: for A = B + s 1 1' with B block-diagonal over the groups
    one level down, A^-1 = B^-1 - s B^-1 1 1' B^-1 / (1 + s 1' B^-1 1) and
    log|A| = log|B| + log(1 + s 1' B^-1 1). The sums over rows of the innermost groups do
    not depend on sigma2 and are formed once.
    """

    def __init__(
        self, U: np.ndarray, v: np.ndarray, codes: list[np.ndarray], p: int, reml: bool
    ) -> None:
        self.k, self.p, self.reml = len(v), p, reml
        rows = U[:, :, None] * U[:, None, :] / v[:, None, None]
        self.steps: list[tuple[np.ndarray, np.ndarray]] = []  # (order, starts) per level
        unit = np.arange(self.k)
        for c in codes[::-1]:
            parent = np.empty(int(unit.max()) + 1, dtype=np.intp)
            parent[unit] = c  # the rows of a unit share the unit's group at this level
            order = np.argsort(parent, kind="stable")
            starts = np.concatenate([[0], np.flatnonzero(np.diff(parent[order])) + 1])
            self.steps.append((order, starts))
            unit = c
        order, starts = self.steps[0]
        self.Q0 = np.add.reduceat(rows[order], starts, axis=0)
        self.ld0 = np.add.reduceat(np.log(v)[order], starts)
        Xs = U[:, 2:]
        self.reml_const = float(np.linalg.slogdet(Xs.T @ Xs)[1])

    def __call__(self, sigma2: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log-likelihood, GLS estimates and their covariance at ``sigma2`` (outer first)."""
        Q, logdet = self.Q0, self.ld0
        for j, s2 in enumerate(sigma2[::-1]):
            if j:
                order, starts = self.steps[j]
                Q = np.add.reduceat(Q[order], starts, axis=0)
                logdet = np.add.reduceat(logdet[order], starts)
            q = Q[:, :, 0]
            denom = 1 + s2 * Q[:, 0, 0]
            Q = Q - s2 * q[:, :, None] * q[:, None, :] / denom[:, None, None]
            logdet = logdet + np.log(denom)
        total = Q.sum(axis=0)
        return gls_loglik(
            total[2:, 2:],
            total[2:, 1],
            float(total[1, 1]),
            float(logdet.sum()),
            self.k,
            self.p,
            self.reml,
            self.reml_const,
        )


class _Blocks:
    """The (restricted) log-likelihood of a general model, cluster by cluster.

    The clusters are batched by size m; for each batch the stacked m x m marginal
    covariances M_c = V_c + sum_l sigma2_l S_lc + (G[inner_i, inner_j] where rows share the
    outer group) are factored at once (M_c = L_c L_c'), and W_c = L_c^-1 [y_c, X_c] gives
    the sums [y, X]' M^-1 [y, X] = sum_c W_c' W_c and log|M| = 2 sum log diag L_c.
    """

    def __init__(
        self,
        y: np.ndarray,
        Xs: np.ndarray,
        Vm: Any,
        codes: list[np.ndarray],
        inner: np.ndarray | None,
        outer: np.ndarray | None,
        cluster: np.ndarray,
        labels: Any,
        data: pd.DataFrame,
        terms: _Terms,
        reml: bool,
    ) -> None:
        k, p = Xs.shape
        self.k, self.p, self.reml = k, p, reml
        self.reml_const = float(np.linalg.slogdet(Xs.T @ Xs)[1])
        U = np.column_stack([y, Xs])
        order = np.argsort(cluster, kind="stable")
        sizes = np.bincount(cluster)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pos = np.empty(k, dtype=np.intp)
        pos[order] = np.arange(k) - np.repeat(starts, sizes)
        coo = Vm.tocoo()
        vrow, vcol = coo.row.astype(np.intp), coo.col.astype(np.intp)
        size_of_entry = sizes[cluster[vrow]]
        self.batches: list[dict[str, Any]] = []
        top = terms.nested[0][0] if terms.nested else terms.inner[1] if terms.inner else ""
        for m in np.unique(sizes):
            cl = np.flatnonzero(sizes == m)
            slot = np.full(len(sizes), -1, dtype=np.intp)
            slot[cl] = np.arange(len(cl))
            idx = order[starts[cl][:, None] + np.arange(m)]
            sel = size_of_entry == m
            Vb = np.zeros((len(cl), m, m))
            Vb[slot[cluster[vrow[sel]]], pos[vrow[sel]], pos[vcol[sel]]] = coo.data[sel]
            low = np.linalg.eigvalsh(Vb)[:, 0]
            bad = np.flatnonzero(~(low > 1e-12 * np.abs(Vb).max(axis=(1, 2))))
            if len(bad):
                rows = np.zeros(k, dtype=bool)
                rows[idx[bad[0]]] = True
                first = idx[bad[0], 0]
                where = f"{top} {data[top].iloc[first]!s}" if top else f"row {labels[first]!r}"
                raise InputError(
                    f"V is not positive definite in the block of {where} (rows "
                    f"{describe_rows(rows, labels)}); check its covariances (a correlation "
                    f"outside [-1, 1] or inconsistent with the others?)."
                    + (
                        f" {len(bad) - 1} more block(s) of size {m} also fail."
                        if len(bad) > 1
                        else ""
                    )
                )
            eq = [(c[idx][:, :, None] == c[idx][:, None, :]).astype(float) for c in codes]
            batch: dict[str, Any] = {"V": Vb, "S": eq, "U": U[idx]}
            if inner is not None and outer is not None:
                batch["a"] = inner[idx]
                o = outer[idx]
                batch["O"] = (o[:, :, None] == o[:, None, :]).astype(float)
            self.batches.append(batch)
        q0, self.logdet_v = self._sums(np.zeros(len(codes)), None)
        xvx, xvy = q0[1:, 1:], q0[1:, 0]
        self._qe = float(q0[0, 0] - xvy @ np.linalg.solve(xvx, xvy))

    def _sums(self, sigma2: np.ndarray, G: np.ndarray | None) -> tuple[np.ndarray, float]:
        q = self.p + 1
        total = np.zeros((q, q))
        logdet = 0.0
        for b in self.batches:
            M = b["V"].copy()
            for s2, S in zip(sigma2, b["S"], strict=True):
                if s2:
                    M += s2 * S
            if G is not None:
                a = b["a"]
                M += G[a[:, :, None], a[:, None, :]] * b["O"]
            L = np.linalg.cholesky(M)
            W = np.linalg.solve(L, b["U"]).reshape(-1, q)
            total += W.T @ W
            logdet += 2 * float(np.log(np.diagonal(L, axis1=1, axis2=2)).sum())
        return total, logdet

    def residual_q(self) -> float:
        """QE: the weighted residual sum of squares of the fixed-effects (V only) model."""
        return self._qe

    def loglik_at(
        self, spec: _Spec
    ) -> Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]:
        def loglik(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            sigma2, tau2, rho = spec.split(theta)
            G = spec.G(tau2, rho) if spec.struct is not None else None
            total, logdet = self._sums(sigma2, G)
            return gls_loglik(
                total[1:, 1:],
                total[1:, 0],
                float(total[0, 0]),
                logdet,
                self.k,
                self.p,
                self.reml,
                self.reml_const,
            )

        return loglik


# --------------------------------------------------------------------------------------- vcalc()


def _batches(cluster: np.ndarray) -> list[np.ndarray]:
    """Row indices of the clusters, batched by size: one (n_m, m) array per size m (rows in
    their original order within a cluster)."""
    order = np.argsort(cluster, kind="stable")
    sizes = np.bincount(cluster)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return [
        order[starts[np.flatnonzero(sizes == m)][:, None] + np.arange(m)]
        for m in np.unique(sizes[sizes > 0])
    ]


def vcalc(
    vi: Any,
    cluster: Any,
    *,
    obs: Any = None,
    type: Any = None,  # metafor's argument name
    time1: Any = None,
    rho: float | Sequence[float] | None = None,
    phi: float | None = None,
    subgroup: Any = None,
    data: pd.DataFrame | None = None,
    checkpd: bool = True,
) -> sparse.csr_matrix:
    """The block-diagonal sampling covariance matrix of dependent estimates (metafor's vcalc).

    Within a cluster (study), estimates i and j correlate by

        r_ij = rho_ij x phi^|time1_i - time1_j|,

    where rho_ij is 1 for the same ``obs`` and ``type``, ``rho`` (the within-construct
    correlation) for different ``obs`` of the same ``type``, and the between-construct
    correlation for different ``type``; V_ij = r_ij sqrt(vi_i vi_j). Estimates in
    different clusters (or different ``subgroup`` within a cluster) are independent.

    Parameters
    ----------
    vi : array-like or str
        Sampling variances (or a column of ``data``).
    cluster : array-like or str
        Cluster (study) of each estimate.
    obs : array-like or str, optional
        Which observation (e.g. outcome measure) each estimate comes from; estimates with the
        same ``obs`` (and ``type``) in a cluster are taken as perfectly correlated, as in
        metafor: give ``obs`` whenever a cluster has several estimates.
    type : array-like or str, optional
        Construct of each estimate.
    time1 : array-like or str, optional
        Time point of each estimate (numeric), with ``phi`` the autocorrelation.
    rho : float or pair of float
        With ``obs`` only, or ``type`` only: the correlation (a scalar). With both: the
        within- and the between-construct correlations.
    phi : float, optional
        Autocorrelation per unit of ``time1`` (needed with ``time1``), in [-1, 1].
    subgroup : array-like or str, optional
        Independent subgroups within clusters (e.g. samples).
    data : DataFrame, optional
        Where to look up arguments given as column names.
    checkpd : bool
        Warn (naming the cluster) when a block is not positive definite.

    Returns
    -------
    scipy.sparse.csr_matrix
        k x k, for ``rma_mv(V=...)``.

    References
    ----------
    Viechtbauer, W. metafor documentation, ``vcalc`` (version 3.8). Berkey, C. S., et al.
    (1998); Ishak, K. J., et al. (2007), see :mod:`metareview.stats.mv`.

    Examples
    --------
    >>> import metareview as mr
    >>> V = mr.vcalc([0.1, 0.2, 0.3], cluster=[1, 1, 2], obs=[1, 2, 1], rho=0.5)
    >>> V.toarray().round(4).tolist()
    [[0.1, 0.0707, 0.0], [0.0707, 0.2, 0.0], [0.0, 0.0, 0.3]]
    """
    v = check_numeric("vi", resolve_column("vi", vi, data), allow_nan=False)
    k = len(v)
    labels = row_names(data if data is not None and len(data) == k else None, k, None)

    def column(name: str, value: Any, default: Any) -> np.ndarray:
        if value is None:
            return np.full(k, default, dtype=object)
        arr = resolve_column(name, value, data)
        arr = arr.to_numpy() if isinstance(arr, pd.Series) else np.asarray(arr)
        if arr.ndim != 1 or len(arr) != k:
            raise InputError(f"{name} must have one value per estimate (k = {k}); got {len(arr)}.")
        missing = pd.isna(arr)
        if missing.any():
            raise InputError(f"{name} is missing for {describe_rows(missing, labels)}.")
        return arr

    bad = ~(v >= 0)
    if bad.any():
        raise InputError(f"vi must be >= 0; got negative values at {describe_rows(bad, labels)}.")
    clus = column("cluster", cluster, None).astype(str)
    if subgroup is not None:
        clus = np.char.add(np.char.add(clus, "\x1f"), column("subgroup", subgroup, 0).astype(str))
    if (obs is not None or type is not None) and rho is None:
        raise InputError("vcalc(): give rho= (the correlation) with obs= or type=.")
    if time1 is not None and phi is None:
        raise InputError("vcalc(): give phi= (the autocorrelation) with time1=.")
    rhos = [] if rho is None else list(np.atleast_1d(np.asarray(rho, dtype=float)))
    need = 2 if obs is not None and type is not None else 1
    if rho is not None and len(rhos) != need:
        raise InputError(
            "vcalc(): rho must be "
            + (
                "a pair (within-construct, between-construct correlation) when both obs= and "
                "type= are given"
                if need == 2
                else "a scalar"
            )
            + f"; got {rho!r}."
        )
    if any(abs(r) > 1 for r in rhos) or (phi is not None and abs(phi) > 1):
        raise InputError(f"vcalc(): rho and phi must be in [-1, 1]; got rho={rho!r}, phi={phi!r}.")
    rho_obs = rhos[0] if obs is not None and rhos else 0.0
    rho_type = rhos[-1] if type is not None and rhos else 0.0
    o = pd.factorize(column("obs", obs, 1).astype(str))[0]
    t = pd.factorize(column("type", type, 1).astype(str))[0]
    tm = check_numeric("time1", column("time1", time1, 0.0), labels)
    ph = 1.0 if phi is None else float(phi)
    codes = pd.factorize(clus, sort=True)[0].astype(np.intp)
    rows, cols, vals = [], [], []
    for idx in _batches(codes):
        oi, ti, mi = o[idx], t[idx], tm[idx]
        same_t = ti[:, :, None] == ti[:, None, :]
        same_o = oi[:, :, None] == oi[:, None, :]
        R = np.where(same_t, np.where(same_o, 1.0, rho_obs), rho_type)
        lag = np.abs(mi[:, :, None] - mi[:, None, :])
        R = R * np.where(lag == 0, 1.0, ph**lag)
        m = idx.shape[1]
        R[:, np.arange(m), np.arange(m)] = 1.0
        if checkpd and m > 1:
            low = np.linalg.eigvalsh(R)[:, 0]
            for b in np.flatnonzero(low <= 1e-12):
                warnings.warn(
                    f"vcalc(): the correlation matrix of cluster {clus[idx[b, 0]]!s} is not "
                    "positive definite; rma_mv() will refuse this V.",
                    MetareviewWarning,
                    stacklevel=2,
                )
        sd = np.sqrt(v[idx])
        Vb = R * sd[:, :, None] * sd[:, None, :]
        rows.append(np.broadcast_to(idx[:, :, None], Vb.shape).ravel())
        cols.append(np.broadcast_to(idx[:, None, :], Vb.shape).ravel())
        vals.append(Vb.ravel())
    out = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(k, k)
    )
    out.eliminate_zeros()
    return out


def impute_covariance_matrix(
    vi: Any,
    cluster: Any,
    r: float,
    *,
    smooth_vi: bool = False,
    subgroup: Any = None,
    data: pd.DataFrame | None = None,
) -> sparse.csr_matrix:
    """Block-diagonal V with a constant correlation ``r`` between the sampling errors of the
    estimates in one cluster (clubSandwich's ``impute_covariance_matrix``).

    V_ij = r sqrt(vi_i vi_j) for i != j in the same cluster (and ``subgroup``); with
    ``smooth_vi`` every variance is first replaced by its cluster's mean. The same as
    :func:`vcalc` with one ``obs`` per estimate and ``rho=r``.

    Returns
    -------
    scipy.sparse.csr_matrix
        k x k, rows in the order of ``vi``.

    References
    ----------
    Pustejovsky, J. E. clubSandwich documentation, ``impute_covariance_matrix`` (0.5);
    Hedges, Tipton & Johnson (2010), see :mod:`metareview.stats.robust`.

    Examples
    --------
    >>> import metareview as mr
    >>> V = mr.impute_covariance_matrix([0.1, 0.4, 0.3], cluster=[1, 1, 2], r=0.5)
    >>> V.toarray().round(3).tolist()
    [[0.1, 0.1, 0.0], [0.1, 0.4, 0.0], [0.0, 0.0, 0.3]]
    """
    v = check_numeric("vi", resolve_column("vi", vi, data), allow_nan=False)
    clus = resolve_column("cluster", cluster, data)
    if smooth_vi:
        clus_arr = clus.to_numpy() if isinstance(clus, pd.Series) else np.asarray(clus)
        if clus_arr.shape != v.shape:
            raise InputError(
                f"cluster must have one value per estimate (k = {len(v)}); got {len(clus_arr)}."
            )
        means = pd.Series(v).groupby(pd.Series(clus_arr).astype(str).to_numpy()).transform("mean")
        v = means.to_numpy(dtype=float)
    return vcalc(
        v, clus, obs=np.arange(len(v)), rho=float(r), subgroup=subgroup, data=data, checkpd=True
    )
