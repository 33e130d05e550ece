"""Normal likelihoods of fitted models, shared by :func:`~metareview.rma` and
:func:`~metareview.rma_mv` fits: the (restricted) log-likelihood of a generalised
least-squares fit, metafor's fit statistics, and the search for profile-likelihood bounds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LOG_2PI = float(np.log(2 * np.pi))


def gls_loglik(
    xvx: np.ndarray,
    xvy: np.ndarray,
    yvy: float,
    ld_v: float,
    k: int,
    p: int,
    reml: bool,
    reml_const: float,
) -> tuple[float, np.ndarray, np.ndarray]:
    """(Restricted) log-likelihood, GLS estimates and their covariance from the sums
    X'M^-1X, X'M^-1y, y'M^-1y and log|M| (REML with metafor's + log|X'X| / 2 term, passed as
    ``reml_const``; Viechtbauer, 2005, J. Educ. Behav. Stat. 30, 261)."""
    chol = np.linalg.cholesky(xvx)
    beta = np.linalg.solve(xvx, xvy)
    rss = float(yvy - xvy @ beta)
    if reml:
        ll = -0.5 * (
            (k - p) * LOG_2PI + ld_v + 2 * float(np.log(np.diag(chol)).sum()) + rss - reml_const
        )
    else:
        ll = -0.5 * (k * LOG_2PI + ld_v + rss)
    vb = np.linalg.inv(xvx)
    return float(ll), beta, (vb + vb.T) / 2


def uni_loglik(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float, reml: bool) -> float:
    """Log-likelihood (ML, or REML if ``reml``) of the random-effects model
    y ~ N(X beta, diag(v + tau2)) at ``tau2``, beta at its GLS estimate."""
    w = 1 / (v + tau2)
    xtw = X.T * w
    return gls_loglik(
        xtw @ X,
        xtw @ y,
        float(w @ (y * y)),
        float(np.log(v + tau2).sum()),
        len(y),
        X.shape[1],
        reml,
        float(np.linalg.slogdet(X.T @ X)[1]),
    )[0]


def fit_statistics(ll: float, n_par: int, n_obs: int, saturated: float) -> dict[str, float]:
    """logLik, deviance, AIC, BIC and AICc as metafor's ``fitstats``.

    ``n_par`` counts the coefficients and the estimated variance components, ``n_obs`` is k
    (k - p for REML), ``saturated`` the log-likelihood of the saturated model (each yi its own
    mean; 0 for REML, whose deviance is -2 logLik). AICc uses max(n_obs, n_par + 2)
    observations, as metafor does, so that it stays finite.
    """
    aicc_n = max(n_obs, n_par + 2)
    return {
        "logLik": float(ll),
        "deviance": float(-2 * (ll - saturated)),
        "AIC": float(-2 * ll + 2 * n_par),
        "BIC": float(-2 * ll + n_par * np.log(n_obs)),
        "AICc": float(-2 * ll + 2 * n_par * aicc_n / (aicc_n - n_par - 1)),
    }


def profile_bounds(
    excess: Callable[[float], float], est: float, lo: float, hi: float
) -> tuple[float, float]:
    """Profile-likelihood bounds around ``est``: the roots of ``excess`` (twice the drop of
    the profile log-likelihood minus the chi-square quantile) in [lo, est] and [est, hi]; a
    side on which ``excess`` never turns positive is reported as its search limit, as
    metafor's ``confint`` does."""
    from scipy import optimize  # ~0.3 s to import: only when an interval is asked for

    bounds = []
    for end in (lo, hi):
        if excess(end) < 0:
            bounds.append(end)
        elif end == est:
            bounds.append(est)
        else:
            a, b = (end, est) if end < est else (est, end)
            bounds.append(float(optimize.brentq(excess, a, b, xtol=1e-12, rtol=1e-12)))
    return bounds[0], bounds[1]
