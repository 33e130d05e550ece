"""Estimators of the between-study variance tau^2, vectorised over a batch.

Each estimator takes effects ``y``, sampling variances ``v`` and inclusion weights ``m``
(1 = study in this meta-analysis, 0 = masked out), all of shape (B, k), plus the design, and
returns an :class:`Tau2Fit`. Iterative estimators iterate the whole batch at once, carrying a
per-row convergence mask and working only on the rows still moving.

Formulas for the estimates and their standard errors follow metafor's ``rma.uni`` (3.8)
and the papers cited on each function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from metareview.stats._design import WLS, Design


@dataclass(frozen=True, slots=True)
class Control:
    """Convergence settings for iterative estimators.

    threshold : change in tau2 below which Fisher scoring (ML, REML, EB) stops.
    maxiter : iteration limit.
    root_tol : relative tolerance of the root-finder used by PM and the Q-profile CI.
    ll0_tol : ML/REML only: if the likelihood at tau2 = 0 beats the estimate by more than
        this, tau2 is set to 0 (metafor's ``ll0check``).
    """

    threshold: float = 1e-10
    maxiter: int = 1000
    root_tol: float = 1e-12
    ll0_tol: float = 1e-10


@dataclass(frozen=True, slots=True)
class Tau2Fit:
    tau2: np.ndarray
    se_tau2: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    reset_to_zero: np.ndarray  # ML/REML rows where tau2 = 0 beat a local maximum


def _counts(m: np.ndarray, design: Design) -> tuple[np.ndarray, int]:
    return m.sum(axis=1), design.p


def _done(tau2, se, B) -> Tau2Fit:
    return Tau2Fit(tau2, se, np.zeros(B, int), np.ones(B, bool), np.zeros(B, bool))


def ee(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
    """Equal-effects model: tau2 = 0 by assumption (no standard error)."""
    B = y.shape[0]
    return _done(np.zeros(B), np.full(B, np.nan), B)


def dl(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
    """DerSimonian-Laird: tau2 = (Q - (k - p)) / tr(P), floored at 0.

    DerSimonian & Laird (1986), Control. Clin. Trials 7, 177-188,
    https://doi.org/10.1016/0197-2456(86)90046-2; with moderators Raudenbush (2009).
    SE from metafor: sqrt((2(k-p) + 4 tau2 tr(P) + 2 tau2^2 tr(PP)) / tr(P)^2).
    """
    k, p = _counts(m, design)
    fit = fe if fe is not None else WLS.fit(design, m / v, y)
    trP = fit.tr_P()
    tau2 = np.maximum(0.0, (fit.rss - (k - p)) / trP)
    se = np.sqrt((2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * fit.tr_PaPb(1.0, 1.0)) / trP**2)
    return _done(tau2, se, y.shape[0])


def he(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
    """Hedges (variance components) estimator from the unweighted fit, floored at 0:
    tau2 = (RSS - tr(PV)) / (k - p) with P the unweighted residual-maker.

    Hedges (1983), Psychol. Bull. 93, 388-395, https://doi.org/10.1037/0033-2909.93.2.388.
    """
    k, p = _counts(m, design)
    tau2, trPV, fit = _he_raw(y, v, m, design)
    tau2 = np.maximum(0.0, tau2)
    se = np.sqrt(
        (2 * fit.tr_PaPb(v, v) + 4 * tau2 * trPV + 2 * tau2**2 * (k - p)) / (k - p) ** 2
    )
    return _done(tau2, se, y.shape[0])


def _he_raw(y, v, m, design):
    k, p = _counts(m, design)
    fit = WLS.fit(design, m, y)
    trPV = fit.tr_PD(v)
    return (fit.rss - trPV) / (k - p), trPV, fit


def hs(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
    """Hunter-Schmidt: tau2 = (Q - k) / sum(w), floored at 0.

    Hunter & Schmidt (2004), Methods of Meta-Analysis, 2nd ed.; Viechtbauer et al. (2015),
    Res. Synth. Methods 6, 1-15. SE as in metafor.
    """
    k, p = _counts(m, design)
    fit = fe if fe is not None else WLS.fit(design, m / v, y)
    sum_w = fit.w.sum(axis=1)
    tau2 = np.maximum(0.0, (fit.rss - k) / sum_w)
    se = np.sqrt(
        (2 * (k - p) + 4 * tau2 * fit.tr_P() + 2 * tau2**2 * fit.tr_PaPb(1.0, 1.0)) / sum_w**2
    )
    return _done(tau2, se, y.shape[0])


def sj(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
    """Sidik-Jonkman: tau2 = tau0 * Q(tau0) / (k - p), tau0 = the (1/k) variance of y.

    Sidik & Jonkman (2005), J. Biopharm. Stat. 15, 823-838,
    https://doi.org/10.1081/BIP-200067915. SE as in metafor.
    """
    k, p = _counts(m, design)
    ybar = (m * y).sum(axis=1) / k
    ybar += (m * (y - ybar[:, None])).sum(axis=1) / k  # second pass, as R's mean()
    tau0 = (m * (y - ybar[:, None]) ** 2).sum(axis=1) / k
    fit = WLS.fit(design, m / (v + tau0[:, None]), y)
    tau2 = np.maximum(0.0, tau0 * fit.rss / (k - p))
    se = np.sqrt(
        tau0**2 / (k - p) ** 2
        * (2 * fit.tr_PaPb(v, v) + 4 * tau2 * fit.tr_PaPb(1.0, v) + 2 * tau2**2
           * fit.tr_PaPb(1.0, 1.0))
    )
    return _done(tau2, se, y.shape[0])


def _pm_se(fit: WLS, k, p) -> np.ndarray:
    """metafor's SE for PM and EB: sqrt(2 k^2 / (k - p) / sum(w)^2), w = 1/(v + tau2)."""
    return np.sqrt(2 * k**2 / (k - p) / fit.w.sum(axis=1) ** 2)


def pm(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
    """Paule-Mandel: the tau2 >= 0 at which the generalised Q equals k - p.

    Paule & Mandel (1982), J. Res. Natl. Bur. Stand. 87, 377-385; solved by safeguarded
    Newton steps on Q(tau2), whose derivative is -y'PPy (DerSimonian & Kacker, 2007,
    Contemp. Clin. Trials 28, 105-114).
    """
    k, p = _counts(m, design)
    tau2, iters, conv = solve_generalised_q(y, v, m, design, (k - p).astype(float), control)
    fit = WLS.fit(design, m / (v + tau2[:, None]), y)
    return Tau2Fit(tau2, _pm_se(fit, k, p), iters, conv, np.zeros(y.shape[0], bool))


def _iterate(y, v, m, design, tau2, control: Control, update):
    """Drive a per-row iteration over the rows still moving.

    ``update(rows, tau2_rows, fit)`` returns the new tau2 of those rows and which of them
    have finished; ``fit`` is the weighted fit at the current tau2. Returns
    (tau2, iterations, converged).
    """
    B = y.shape[0]
    iters = np.zeros(B, int)
    conv = np.zeros(B, bool)
    active = np.arange(B)
    for _ in range(control.maxiter):
        if active.size == 0:
            break
        t = tau2[active]
        fit = WLS.fit(design.take(active), m[active] / (v[active] + t[:, None]), y[active])
        new, finished = update(active, t, fit)
        iters[active] += 1
        tau2[active] = new
        conv[active[finished]] = True
        active = active[~finished]
    return tau2, iters, conv


def solve_generalised_q(y, v, m, design, target, control: Control):
    """Solve Q(tau2) = target for tau2 >= 0, per row; 0 where Q(0) <= target.

    Q(tau2) = y'P(tau2)y is decreasing in tau2, so each row's root is bracketed; Newton
    steps that leave the bracket fall back to bisection (or doubling when no upper
    bracket is known yet).
    """
    B = y.shape[0]
    lo = np.zeros(B)
    hi = np.full(B, np.inf)

    def newton(rows, t, fit):
        f = fit.rss - target[rows]
        at_zero = (t == 0) & (f <= 0)
        lo[rows] = np.where(f > 0, t, lo[rows])
        hi[rows] = np.where(f <= 0, t, hi[rows])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = t + f / fit.yPPy()
        outside = ~((step > lo[rows]) & (step < hi[rows])) | ~np.isfinite(step)
        fallback = np.where(np.isfinite(hi[rows]), (lo[rows] + hi[rows]) / 2, 2 * lo[rows] + 1)
        new = np.where(at_zero, 0.0, np.where(outside, fallback, step))
        finished = at_zero | (np.abs(new - t) <= control.root_tol * np.maximum(1.0, t))
        return new, finished

    return _iterate(y, v, m, design, np.zeros(B), control, newton)


#: plain Fisher-scoring steps before the bisection safeguard may step in
SAFEGUARD_AFTER = 30


def _fisher_scoring(kind: str) -> Callable[..., Tau2Fit]:
    """ML, REML or EB by Fisher scoring from the (floored) HE estimate, as metafor, with a
    bisection safeguard: each row keeps the interval in which its score changes sign, and a
    step that would leave it (after ``SAFEGUARD_AFTER`` plain steps) bisects instead. Where
    metafor converges the iterates are the same; where its steps oscillate for ever (about
    0.1-0.6% of simulated k = 10 data sets) this still converges."""

    def estimator(y, v, m, design, control, fe: WLS | None = None) -> Tau2Fit:
        k, p = _counts(m, design)
        start, _, _ = _he_raw(y, v, m, design)

        lo = np.zeros(y.shape[0])
        hi = np.full(y.shape[0], np.inf)
        previous = np.full(y.shape[0], np.inf)
        steps = np.zeros(y.shape[0], int)

        def score(rows, t, fit):
            adj = _score_step(kind, fit, k[rows], p)
            # the sign of the step says on which side of the root t lies: keep a bracket
            lo[rows] = np.where(adj > 0, t, lo[rows])
            hi[rows] = np.where(adj < 0, t, hi[rows])
            adj = _halve_until_nonnegative(t, adj)
            finished = np.abs(adj) <= control.threshold
            new = t + adj
            # After SAFEGUARD_AFTER plain steps (metafor's path, which converges within them
            # for nearly all data), steps that leave the bracket or do not at least halve
            # once the root is bracketed (the oscillation that makes metafor's Fisher
            # scoring fail) are replaced by bisection, as in a safeguarded Newton method
            # (Press et al., Numerical Recipes, 3rd ed., sec. 9.4).
            steps[rows] += 1
            bracketed = np.isfinite(hi[rows]) & (steps[rows] > SAFEGUARD_AFTER)
            slow = bracketed & (np.abs(adj) > 0.5 * np.abs(previous[rows]))
            outside = bracketed & ((new <= lo[rows]) | (new >= hi[rows]))
            bisect = (outside | slow) & ~finished
            new = np.where(bisect, (lo[rows] + hi[rows]) / 2, new)
            finished |= bisect & (hi[rows] - lo[rows] <= control.threshold)
            previous[rows] = new - t
            return new, finished

        tau2, iters, conv = _iterate(y, v, m, design, np.maximum(0.0, start), control, score)
        reset = np.zeros(y.shape[0], bool)
        if kind in ("ML", "REML"):
            reset = _zero_beats_estimate(kind, y, v, m, design, tau2, control) & conv
            tau2 = np.where(reset, 0.0, tau2)
        fit = WLS.fit(design, m / (v + tau2[:, None]), y)
        if kind == "ML":
            se = np.sqrt(2 / (fit.w**2).sum(axis=1))
        elif kind == "REML":
            se = np.sqrt(2 / fit.tr_PaPb(1.0, 1.0))
        else:
            se = _pm_se(fit, k, p)
        return Tau2Fit(tau2, se, iters, conv, reset)

    estimator.__name__ = kind.lower()
    return estimator


def _score_step(kind: str, fit: WLS, k, p) -> np.ndarray:
    """One Fisher-scoring step for tau2 (Viechtbauer, 2005, J. Educ. Behav. Stat. 30, 261).

    ML: (y'PPy - sum w) / sum w^2; REML: (y'PPy - tr P) / tr PP;
    EB (Morris, 1983, JASA 78, 47): (Q k/(k-p) - k) / sum w.
    """
    if kind == "ML":
        return (fit.yPPy() - fit.w.sum(axis=1)) / (fit.w**2).sum(axis=1)
    if kind == "REML":
        return (fit.yPPy() - fit.tr_P()) / fit.tr_PaPb(1.0, 1.0)
    return (fit.rss * k / (k - p) - k) / fit.w.sum(axis=1)


def _halve_until_nonnegative(tau2: np.ndarray, adj: np.ndarray) -> np.ndarray:
    """Step-halving so tau2 + adj stays >= 0 (as metafor); from tau2 = 0 the step is 0."""
    adj = np.where((tau2 == 0) & (adj < 0), 0.0, adj)
    bad = tau2 + adj < 0
    while bad.any():
        adj = np.where(bad, adj / 2, adj)
        bad = tau2 + adj < 0
    return adj


def _log_likelihood(kind, y, v, m, design, tau2) -> np.ndarray:
    k, p = _counts(m, design)
    fit = WLS.fit(design, m / (v + tau2[:, None]), y)
    logv = np.where(m > 0, np.log(np.where(m > 0, v + tau2[:, None], 1.0)), 0.0).sum(axis=1)
    if kind == "ML":
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * logv - 0.5 * fit.rss
    return (-0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * logv - 0.5 * fit.logdet_xtwx()
            - 0.5 * fit.rss)


def _zero_beats_estimate(kind, y, v, m, design, tau2, control) -> np.ndarray:
    """metafor's ``ll0check``: is the likelihood at tau2 = 0 higher than at the estimate?"""
    positive = tau2 > control.threshold
    if not positive.any():
        return positive
    ll0 = _log_likelihood(kind, y, v, m, design, np.zeros_like(tau2))
    ll = _log_likelihood(kind, y, v, m, design, tau2)
    return positive & (ll0 - ll > control.ll0_tol)


ml = _fisher_scoring("ML")
reml = _fisher_scoring("REML")
eb = _fisher_scoring("EB")

ESTIMATORS: dict[str, Callable[..., Tau2Fit]] = {
    "EE": ee, "DL": dl, "HE": he, "HS": hs, "SJ": sj, "PM": pm, "ML": ml, "REML": reml, "EB": eb,
}
