"""Multilevel meta-analytic models: :func:`rma_mv` and its result, :class:`MvResult`.

Several effect sizes per study (outcomes, time points, samples) are modelled by nested
random effects, as metafor's ``rma.mv(yi, V, random = ~ 1 | study/esid)``: one variance
component ``sigma2`` per level of nesting (Konstantopoulos, 2011; Van den Noortgate et al.,
2013; Assink & Wibbelink, 2016). With a vector of sampling variances the marginal covariance
is block-diagonal, one block per top-level cluster, and each block is a diagonal plus one
constant term per nesting level. The (restricted) log-likelihood, the GLS estimates and
their covariance are therefore computed by nested Sherman-Morrison updates on the group
sums of ``[1, y, X]`` cross-products: O(k p^2) per evaluation, no k x k matrix and no
per-block loop in Python. The variance components are estimated by maximising the ML or
REML log-likelihood over log(sigma2) (as metafor parametrises them).

Not implemented yet: ``struct=`` (CS/HCS/UN/AR for ``~ inner | outer`` terms), a full
(block) covariance matrix ``V``, lists of random terms, ``vcalc``, profile likelihood CIs.

References
----------
Konstantopoulos, S. (2011). Fixed effects and variance components estimation in three-level
meta-analysis. Research Synthesis Methods, 2, 61-76.
Van den Noortgate, W., López-López, J. A., Marín-Martínez, F., & Sánchez-Meca, J. (2013).
Three-level meta-analysis of dependent effect sizes. Behavior Research Methods, 45, 576-594.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

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
from metareview.exceptions import ConvergenceError, InputError
from metareview.stats._format import fmt_p
from metareview.stats.models import _moderators

__all__ = ["MvResult", "rma_mv"]

MV_METHODS = Options("method", ("REML", "ML"))
MV_TESTS = Options("test", ("z", "t"), case_sensitive=False)
_RANDOM = re.compile(r"^\s*~\s*1\s*\|\s*([A-Za-z_.][\w.]*(?:\s*/\s*[A-Za-z_.][\w.]*)*)\s*$")
SUPPORTED_RANDOM = (
    '"~ 1 | study" (one level) or nested "~ 1 | district/school" '
    '(any depth, e.g. "~ 1 | study/esid")'
)


@dataclass(frozen=True, slots=True)
class MvResult:
    """A fitted multilevel meta-analysis (metafor's ``rma.mv`` with nested ``~ 1 | a/b``).

    ``sigma2`` holds one variance component per level, named in ``sigma2_names`` as metafor
    names them (``"district"``, ``"district/school"``) with ``s_nlevels`` groups each.
    Coefficient fields are arrays in ``coef_names`` order; ``zval`` holds t statistics when
    ``test == "t"`` (on ``ddf`` = k - p degrees of freedom). ``QE``/``QEp`` is the test of
    residual heterogeneity, ``QM``/``QMp`` the omnibus test of the moderators (of the
    intercept in an intercept-only model; an F statistic for ``test == "t"``).
    """

    method: str
    test: str
    level: float
    random: str
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
    X: np.ndarray = field(repr=False)
    slab: tuple[str, ...] = field(repr=False)
    group_codes: tuple[np.ndarray, ...] = field(repr=False)

    @property
    def p(self) -> int:
        """Number of coefficients."""
        return len(self.coef_names)

    @property
    def has_mods(self) -> bool:
        return self.p > 1

    @property
    def estimate(self) -> float:
        """The pooled effect (the intercept)."""
        return float(self.beta[0])

    def marginal_cov(self, idx: np.ndarray) -> np.ndarray:
        """The fitted marginal covariance of the rows ``idx``: diag(vi) plus, for each level,
        sigma2 where two rows share a group."""
        out = np.diag(self.vi[idx])
        for s2, codes in zip(self.sigma2, self.group_codes, strict=True):
            c = codes[idx]
            out += s2 * (c[:, None] == c[None, :])
        return out

    def check_nested_in(self, cluster_codes: np.ndarray, what: str) -> None:
        """Raise unless every random effect's groups lie within one cluster."""
        for name, codes in zip(self.sigma2_names, self.group_codes, strict=True):
            spread = pd.Series(cluster_codes).groupby(codes).nunique()
            if (spread > 1).any():
                raise InputError(
                    f"{what}: the random effect '{name}' is not nested within cluster (some "
                    f"of its groups span several clusters); cluster by the top level of "
                    f"random= ({self.random!r}) or a coarser grouping."
                )

    def table(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, zval (tval for test="t"), pval, CI."""
        return pd.DataFrame(
            {
                "estimate": self.beta,
                "se": self.se,
                "zval": self.zval,
                "pval": self.pval,
                "ci_lb": self.ci_lb,
                "ci_ub": self.ci_ub,
            },
            index=pd.Index(self.coef_names, name="coefficient"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results; coefficient keys hold one value per coefficient."""

        def floats(a: np.ndarray) -> list[float]:
            return [float(x) for x in a]

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
        width = max(len(n) for n in self.sigma2_names)
        for j, (s2, name, nl) in enumerate(
            zip(self.sigma2, self.sigma2_names, self.s_nlevels, strict=True)
        ):
            lines.append(
                f"sigma^2.{j + 1}  {s2:.4f}  {np.sqrt(s2):.4f}  {nl:5d}  {name.ljust(width)}"
            )
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
    random: str,
    mods: Any = None,
    data: pd.DataFrame | None = None,
    slab: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
) -> MvResult:
    """Fit a multilevel (nested random-effects) meta-analysis or meta-regression.

    Parameters
    ----------
    yi : array-like or str
        Effect sizes, or a column name of ``data`` (default ``"yi"``).
    V : array-like or str
        Sampling variances, one per effect size (a vector; the multilevel case), or a column
        name of ``data`` (default ``"vi"``). A full covariance matrix is not supported yet.
    random : str
        Random effects in metafor's formula syntax: ``"~ 1 | study"`` or nested
        ``"~ 1 | district/school"`` (any depth); the names are columns of ``data``.
    mods : str, sequence of str, array-like or DataFrame, optional
        Moderators (an intercept is always added), as in :func:`metareview.rma`.
    data : DataFrame
        Holds the grouping columns named in ``random`` (and any other named columns).
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

    Notes
    -----
    Matches metafor's ``rma.mv`` (Viechtbauer, 2010): variance components are optimised on
    the log scale; the REML log-likelihood includes the constant log|X'X| / 2, as rma.mv does.
    Fit statistics count p + (number of levels) parameters; BIC and AICc use k - p
    observations for REML.

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
    names = _parse_random(random, data)
    assert data is not None  # _parse_random demands it
    y_raw = resolve_column("yi", "yi" if yi is None else yi, data)
    v_raw = resolve_column("V", "vi" if V is None else V, data)
    if np.ndim(v_raw) == 2:
        raise InputError(
            "V as a covariance matrix is not supported yet; give the vector of "
            "sampling variances (one per effect size)."
        )
    k = len(y_raw)
    labels = row_names(data if len(data) == k else None, k, slab)
    y = check_numeric("yi", y_raw, labels, allow_nan=False)
    v = check_numeric("V", v_raw, labels, allow_nan=False)
    check_same_length({"yi": y, "V": v, "data": np.empty(len(data))})
    bad = ~(v > 0)
    if bad.any():
        raise InputError(
            f"V (sampling variances) must be > 0; got {int(bad.sum())} value(s) "
            f"<= 0 at {describe_rows(bad, labels)}."
        )
    X, coef_names = _moderators(mods, data, k, labels)
    p = X.shape[1]
    if k - p < 1:
        raise InputError(f"rma_mv() needs more effect sizes than coefficients; k = {k}, p = {p}.")
    if np.linalg.matrix_rank(X) < p:
        raise InputError(
            f"the moderators are collinear ({', '.join(coef_names[1:])}); drop redundant ones."
        )
    codes = _group_codes(names, data, labels)
    # standardise the moderators (X = Xs A): the likelihood is invariant, and the
    # Sherman-Morrison sums stay well conditioned for moderators such as calendar years
    A = np.eye(p)
    A[0, 1:] = X[:, 1:].mean(axis=0)
    A[np.arange(1, p), np.arange(1, p)] = X[:, 1:].std(axis=0)
    A_inv = np.linalg.inv(A)
    U = np.column_stack([np.ones(k), y, X @ A_inv])
    reml = method == "REML"
    loglik = _Nested(U, v, codes, p, reml)

    def objective(theta: np.ndarray) -> float:
        return -loglik(np.exp(theta))[0]

    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    start = np.full(len(codes), np.log(max(float(np.var(resid)), 1e-4) / len(codes)))
    # log(sigma2) >= log(1e-10): a component whose estimate is 0 stops at the bound (metafor's
    # unbounded nlminb stops at some similarly negligible value) and is reported as 0
    lower = np.log(1e-10)
    opt = optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        bounds=[(lower, None)] * len(codes),
        options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000},
    )
    theta = np.asarray(opt.x, dtype=float)
    free = theta > lower + 1e-3
    # polish the interior components by Newton steps on central-difference derivatives:
    # the finite-difference gradient of L-BFGS-B stalls a little short of the optimum
    newton_steps = 0
    if free.any():

        def on_free(t: np.ndarray) -> float:
            full = theta.copy()
            full[free] = t
            return objective(full)

        polished, newton_steps, _ = _newton(on_free, theta[free])
        theta[free] = polished
    # converged: a zero gradient in the interior components, none pointing out at the bound
    grad = _gradient(objective, theta)
    tol = 1e-6 * max(1.0, abs(objective(theta)))
    if (
        not np.isfinite(objective(theta))
        or np.any(np.abs(grad[free]) > tol)
        or np.any(grad[~free] < -tol)
    ):
        raise ConvergenceError(
            f"rma_mv() did not converge ({opt.message}); the likelihood "
            "may be flat in a variance component (too few groups at a "
            "level?)."
        )
    sigma2 = np.where(free, np.exp(theta), 0.0)
    ll, beta_s, vb_s = loglik(sigma2)
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
    btt = np.arange(1, p) if p > 1 else np.arange(1)
    m = len(btt)
    qm = float(beta[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], beta[btt]))
    if test == "t":
        QM, QMp = qm / m, float(stats.f.sf(qm / m, m, ddf))
    else:
        QM, QMp = qm, float(stats.chi2.sf(qm, m))
    w = 1 / v
    xtw = X.T * w
    b_ee = np.linalg.solve(xtw @ X, xtw @ y)
    QE = float(((y - X @ b_ee) ** 2 * w).sum())
    n_par = p + len(codes)
    n_obs = k - p if reml else k
    # ML: deviance against the saturated model (each yi its own mean), as metafor
    saturated = 0.0 if reml else float(-0.5 * np.log(2 * np.pi * v).sum())
    deviance = -2 * (ll - saturated)
    aicc_n = max(n_obs, n_par + 2)
    return MvResult(
        method=method,
        test=test,
        level=level,
        random=str(random),
        coef_names=coef_names,
        beta=beta,
        se=se,
        zval=zval,
        pval=pval,
        ci_lb=beta - crit * se,
        ci_ub=beta + crit * se,
        vb=vb,
        sigma2=sigma2,
        sigma2_names=tuple("/".join(names[: j + 1]) for j in range(len(names))),
        s_nlevels=tuple(int(c.max()) + 1 for c in codes),
        QE=QE,
        QEp=float(stats.chi2.sf(QE, k - p)),
        QM=QM,
        QMp=QMp,
        QM_df=(m, ddf),
        logLik=float(ll),
        deviance=float(deviance),
        AIC=float(-2 * ll + 2 * n_par),
        BIC=float(-2 * ll + n_par * np.log(n_obs)),
        AICc=float(-2 * ll + 2 * n_par * aicc_n / (aicc_n - n_par - 1)),
        k=k,
        ddf=ddf,
        iterations=int(opt.nit + newton_steps),
        yi=y,
        vi=v,
        X=X,
        slab=tuple(labels),
        group_codes=tuple(codes),
    )


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


def _parse_random(random: object, data: pd.DataFrame | None) -> list[str]:
    match = _RANDOM.match(random) if isinstance(random, str) else None
    if match is None:
        raise InputError(
            f"random must be {SUPPORTED_RANDOM}; got {random!r}. Terms with an inner factor "
            '("~ outcome | study" with struct=), lists of terms and random slopes are not '
            "supported yet."
        )
    names = [n.strip() for n in match.group(1).split("/")]
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
    return names


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
        xvx, xvy, yvy = total[2:, 2:], total[2:, 1], total[1, 1]
        chol = np.linalg.cholesky(xvx)
        beta = np.linalg.solve(xvx, xvy)
        rss = float(yvy - xvy @ beta)
        ld_v = float(logdet.sum())
        k, p = self.k, self.p
        if self.reml:  # with metafor's + log|X'X| / 2 term (control REMLf = TRUE)
            ll = -0.5 * (
                (k - p) * np.log(2 * np.pi)
                + ld_v
                + 2 * float(np.log(np.diag(chol)).sum())
                + rss
                - self.reml_const
            )
        else:
            ll = -0.5 * (k * np.log(2 * np.pi) + ld_v + rss)
        vb = np.linalg.inv(xvx)
        return ll, beta, (vb + vb.T) / 2
