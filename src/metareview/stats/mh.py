"""Mantel-Haenszel and Peto pooling of 2x2 tables and person-time data.

:func:`rma_mh` and :func:`rma_peto` are the equal-effects methods Cochrane reviews (RevMan)
use for binary outcomes, computed from the cell counts rather than from per-study effect
sizes, as metafor's ``rma.mh`` and ``rma.peto`` (Viechtbauer, 2010). Heterogeneity (Q, I2,
H2) comes from the per-study estimates of :func:`metareview.stats.escalc`, as in metafor.

Continuity corrections follow metafor: ``add``, ``to`` and ``drop00`` take one value or two;
the first applies to the per-study estimates used for Q, the second to the counts the pooled
estimate is computed from. The defaults, ``add=(1/2, 0)``, ``to=("only0", "none")``,
``drop00=(True, False)``, add 1/2 to the cells of studies with a zero cell for their own
estimate, leave studies without events in either arm out of Q, and pool the raw counts.

References
----------
Mantel, N., & Haenszel, W. (1959). Statistical aspects of the analysis of data from
retrospective studies of disease. JNCI, 22(4), 719-748. https://doi.org/10.1093/jnci/22.4.719

Robins, J., Breslow, N., & Greenland, S. (1986). Estimators of the Mantel-Haenszel variance
consistent in both sparse data and large-strata limiting models. Biometrics, 42(2), 311-323.
https://doi.org/10.2307/2531052

Greenland, S., & Robins, J. M. (1985). Estimation of a common effect parameter from sparse
follow-up data. Biometrics, 41(1), 55-68. https://doi.org/10.2307/2530643

Sato, T., Greenland, S., & Robins, J. M. (1989). On the variance estimator for the
Mantel-Haenszel risk difference. Biometrics, 45(4), 1323-1324.

Breslow, N. E., & Day, N. E. (1980). Statistical Methods in Cancer Research, Vol. I. IARC.
Tarone, R. E. (1985). On heterogeneity tests based on efficient scores. Biometrika, 72(1),
91-95. https://doi.org/10.1093/biomet/72.1.91

Yusuf, S., Peto, R., Lewis, J., Collins, R., & Sleight, P. (1985). Beta blockade during and
after myocardial infarction. Prog. Cardiovasc. Dis., 27(5), 335-371.

Rothman, K. J., Greenland, S., & Lash, T. L. (2008). Modern Epidemiology (3rd ed.), ch. 15.

Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. J. Stat.
Softw., 36(3), 1-48. https://doi.org/10.18637/jss.v036.i03
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

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
from metareview.exceptions import InputError, StudyOmittedWarning
from metareview.stats import _distributions as dist
from metareview.stats import _format
from metareview.stats._format import json_num as _num
from metareview.stats._subgroup import with_subgroups
from metareview.stats.effects import _TABLE, CONTINUITY, _check_rule, _zero_mask
from metareview.stats.transforms import DEFAULT_FOR_MEASURE, back_transform

__all__ = ["MhResult", "rma_mh", "rma_peto"]

MH_MEASURES = Options("measure", ("OR", "RR", "RD", "IRR", "IRD"))
_PERSON_TIME = {"IRR", "IRD"}
_LOG_SCALE = {"OR", "RR", "IRR", "PETO"}
_TITLES = {
    "MH": "Equal-Effects Model (Mantel-Haenszel method)",
    "PETO": "Equal-Effects Model (Peto's method)",
}


@dataclass(frozen=True, slots=True)
class MhResult:
    """A Mantel-Haenszel or Peto fit (an equal-effects model; ``tau2`` is 0).

    ``estimate`` is on the log scale for OR, RR, IRR and PETO (use ``predict(transf="exp")``).
    ``QE``, ``QEp``, ``I2`` and ``H2`` are Cochran's test and the heterogeneity statistics
    from the per-study estimates ``yi``/``vi`` (``k_yi`` of them). For the odds ratio,
    ``CMH``/``CMHp`` is the Cochran-Mantel-Haenszel test (for IRR the Mantel-Haenszel test of
    rates), ``BD``/``BDp`` the Breslow-Day test and ``TA``/``TAp`` Tarone's corrected
    version, on ``k_pos - 1`` degrees of freedom.
    """

    method: str
    measure: str
    level: float
    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    QE: float
    QEp: float
    I2: float
    H2: float
    k: int
    k_yi: int
    yi: np.ndarray
    vi: np.ndarray
    slab: tuple[str, ...]
    CMH: float | None = None
    CMHp: float | None = None
    BD: float | None = None
    BDp: float | None = None
    TA: float | None = None
    TAp: float | None = None
    k_pos: int | None = None
    omitted: tuple[str, ...] = ()
    cells: np.ndarray | None = None
    fit_args: Mapping[str, Any] | None = None
    #: with ``subgroup=``: each subgroup's own fit, the label of every input row, and the
    #: test for subgroup differences (Q of the subgroup estimates, as RevMan)
    subgroups: Mapping[str, MhResult] | None = field(default=None, repr=False)
    subgroup_labels: tuple[str, ...] | None = field(default=None, repr=False)
    Q_between: float | None = None
    df_between: int | None = None
    p_between: float | None = None

    @property
    def weights(self) -> np.ndarray:
        """Each study's share (%) of the Mantel-Haenszel (or Peto) weights, as metafor's
        ``weights()`` on ``rma.mh``/``rma.peto`` fits: b c / N (OR), c n1 / N (RR), n1 n2 / N
        (RD), x2 t1 / t (IRR), t1 t2 / t (IRD), and for Peto the hypergeometric variance
        (a + c)(b + d) n1 n2 / (N^2 (N - 1)); on the counts as pooled (second ``add``/``to``).
        """
        w = self.raw_weights()
        return 100 * w / w.sum()

    def raw_weights(self) -> np.ndarray:
        """The unnormalised Mantel-Haenszel (or Peto) weights of :attr:`weights`; they add up
        across fits of disjoint sets of studies (a forest plot of subgroups shows each study's
        share of the total)."""
        cells = self._pooled_cells()
        if self.measure in _PERSON_TIME:
            _, t1, x2, t2 = cells
            return {"IRR": x2 * t1 / (t1 + t2), "IRD": t1 * t2 / (t1 + t2)}[self.measure]
        a, b, c, d = cells
        n1, n2 = a + b, c + d
        n = n1 + n2
        return {
            "OR": b * c / n,
            "RR": c * n1 / n,
            "RD": n1 * n2 / n,
            "PETO": (a + c) * (b + d) * (n1 / n) * (n2 / n) / (n - 1),
        }[self.measure]

    def _pooled_cells(self) -> list[np.ndarray]:
        if self.cells is None or self.fit_args is None:
            raise InputError(
                "this fit does not carry its counts; refit it with rma_mh() or rma_peto()."
            )
        add, to = self.fit_args["add"][1], self.fit_args["to"][1]
        if self.measure in _PERSON_TIME:
            x1, t1, x2, t2 = self.cells.T
            e1, e2 = _correct_counts((x1, x2), add, to)
            return [e1, t1, e2, t2]
        return _correct_counts(tuple(self.cells.T), add, to)

    def study_table(self) -> pd.DataFrame:
        """Per-study estimates with Wald CIs, one row per study of the fit (``slab``), from
        the counts with the first ``add``/``to``/``drop00`` values (metafor's ``yi.f``, as
        its ``forest.rma.mh`` shows them); NaN where a study has no estimate.
        """
        if self.cells is None or self.fit_args is None:
            raise InputError(
                "this fit does not carry its counts; refit it with rma_mh() or rma_peto()."
            )
        add, to, drop = (self.fit_args[key][0] for key in ("add", "to", "drop00"))
        cells = tuple(self.cells.T)
        if self.measure in _PERSON_TIME:
            x1, t1, x2, t2 = cells
            dropped = ((x1 == 0) & (x2 == 0)) if drop else np.zeros(len(x1), dtype=bool)
            corrected = _zero_mask((x1, x2), to) & ~dropped
            e1, e2 = (np.where(corrected, x + add, x) for x in (x1, x2))
            adj = [e1, t1, e2, t2]
        else:
            dropped = _no_events(*cells) if drop else np.zeros(len(cells[0]), dtype=bool)
            corrected = _zero_mask(cells, to) & ~dropped
            adj = [np.where(corrected, x + add, x) for x in cells]
        with np.errstate(divide="ignore", invalid="ignore"):
            yi, vi = _ESTIMATES[self.measure](*adj)
        usable = ~dropped & np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
        yi, vi = np.where(usable, yi, np.nan), np.where(usable, vi, np.nan)
        crit = dist.norm.isf((1 - self.level) / 2)
        half = crit * np.sqrt(vi)
        return pd.DataFrame(
            {"yi": yi, "vi": vi, "ci_lb": yi - half, "ci_ub": yi + half},
            index=pd.Index(self.slab, name="study"),
        )

    @property
    def tau2(self) -> float:
        """Always 0: Mantel-Haenszel and Peto are equal-effects methods."""
        return 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results: the keys of ``rma().to_dict()`` plus CMH, CMHp, BD, BDp, TA, TAp."""
        out: dict[str, Any] = {
            "estimate": _num(self.estimate),
            "se": _num(self.se),
            "zval": _num(self.zval),
            "pval": _num(self.pval),
            "ci_lb": _num(self.ci_lb),
            "ci_ub": _num(self.ci_ub),
            "pi_lb": None,
            "pi_ub": None,
            "tau2": 0.0,
            "se_tau2": None,
            "tau2_ci_lb": None,
            "tau2_ci_ub": None,
            "I2": _num(self.I2),
            "H2": _num(self.H2),
            "QE": _num(self.QE),
            "QEp": _num(self.QEp),
            "k": self.k,
            "method": self.method,
            "measure": self.measure,
            "test": "z",
            "level": self.level,
            "omitted": list(self.omitted),
            "CMH": _num(self.CMH),
            "CMHp": _num(self.CMHp),
            "BD": _num(self.BD),
            "BDp": _num(self.BDp),
            "TA": _num(self.TA),
            "TAp": _num(self.TAp),
            "metareview_version": __version__,
        }
        if self.subgroups is not None:
            out.update(
                Q_between=_num(self.Q_between),
                df_between=self.df_between,
                p_between=_num(self.p_between),
                subgroups={g: r.to_dict() for g, r in self.subgroups.items()},
            )
        return out

    def table(self) -> pd.DataFrame:
        """One row: estimate, se, zval, pval, ci_lb, ci_ub."""
        return _format.coefficient_table(
            ["intrcpt"],
            estimate=[self.estimate],
            se=[self.se],
            zval=[self.zval],
            pval=[self.pval],
            ci_lb=[self.ci_lb],
            ci_ub=[self.ci_ub],
        )

    def predict(
        self, transf: str | None = None, targs: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """Pooled effect and CI, optionally back-transformed (``"exp"`` for the ratio scale;
        ``"auto"`` picks the natural one). ``pi_lb``/``pi_ub`` are NaN: there is no
        prediction interval for an equal-effects model (as :meth:`RmaResult.predict`).

        Examples
        --------
        >>> res = rma_mh(ai=[4, 6], bi=[96, 94], ci=[8, 9], di=[92, 91])
        >>> round(res.predict(transf="exp")["pred"], 4)
        0.5663
        """
        out = {
            "pred": self.estimate,
            "ci_lb": self.ci_lb,
            "ci_ub": self.ci_ub,
            "pi_lb": float("nan"),
            "pi_ub": float("nan"),
        }
        if transf == "auto":
            transf = DEFAULT_FOR_MEASURE.get(
                self.measure, "exp" if self.measure in _LOG_SCALE else None
            )
        if transf is not None:
            out = {key: float(back_transform(transf, val, targs)) for key, val in out.items()}
        return out

    def summary(self) -> str:
        """A text report that reads like metafor's print method."""
        return _format_mh(self)

    def __str__(self) -> str:
        return self.summary()


# ------------------------------------------------------------------------------ inputs


def _pair(name: str, value: Any, default_second: Any) -> tuple[Any, Any]:
    """metafor's one-or-two-value arguments: (for the per-study estimates, for the pooling)."""
    if isinstance(value, list | tuple | np.ndarray):
        if len(value) == 1:
            return value[0], default_second
        if len(value) == 2:
            return value[0], value[1]
        raise InputError(
            f"{name} takes one value or two (for the study estimates and for "
            f"the pooling); got {len(value)}."
        )
    return value, default_second


def _options(add, to, drop00):
    add1, add2 = _pair("add", add, 0.0)
    to1, to2 = _pair("to", to, "none")
    drop1, drop2 = _pair("drop00", drop00, False)
    try:
        add1, add2 = float(add1), float(add2)
    except (TypeError, ValueError):
        raise InputError(f"add must be a number or two numbers; got {add!r}.") from None
    if add1 < 0 or add2 < 0:
        raise InputError(f"add must be >= 0; got {add!r}.")
    return (add1, add2), (CONTINUITY.check(to1), CONTINUITY.check(to2)), (bool(drop1), bool(drop2))


def _columns(names: Sequence[str], values: Mapping[str, Any], data, slab):
    """Resolve, label and check the count columns; returns (arrays, labels)."""
    if data is not None and not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    raw = {n: resolve_column(n, values[n], data) for n in names if values.get(n) is not None}
    n_rows = check_same_length({n: np.asarray(v).reshape(-1) for n, v in raw.items()})
    labels = row_names(data, n_rows, slab)
    arrays = {n: check_numeric(n, v, labels) for n, v in raw.items()}
    for name, column in arrays.items():
        missing = np.isnan(column)
        if missing.any():
            raise InputError(
                f"{name} is missing at {describe_rows(missing, labels)}; counts "
                "are needed in every study. Remove these studies first."
            )
    return arrays, labels


def _tables(ai, bi, ci, di, n1i, n2i, data, slab, fn: str):
    given = dict(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i)
    names = [n for n in given if given[n] is not None]
    if ai is None or ci is None or (bi is None and n1i is None) or (di is None and n2i is None):
        raise InputError(
            f"{fn} needs the 2x2 counts ai, bi, ci, di (or ai, ci, n1i, n2i), "
            "as arrays or column names of data."
        )
    arrays, labels = _columns(names, given, data, slab)
    a, c = arrays["ai"], arrays["ci"]
    b = arrays["bi"] if "bi" in arrays else arrays["n1i"] - a
    d = arrays["di"] if "di" in arrays else arrays["n2i"] - c
    for name, cell in (
        ("ai", a),
        ("bi" if "bi" in arrays else "n1i - ai", b),
        ("ci", c),
        ("di" if "di" in arrays else "n2i - ci", d),
    ):
        _check_rule(
            cell < 0, name, ">= 0 (counts)", labels, " Events cannot exceed the group size."
        )
    _check_rule(a + b <= 0, "n1i", "> 0 (group sizes)", labels)
    _check_rule(c + d <= 0, "n2i", "> 0 (group sizes)", labels)
    return a, b, c, d, labels


def _no_events(a, b, c, d) -> np.ndarray:
    """Studies with no events, or only events, in both arms (metafor's drop00)."""
    return ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))


def _study_estimates(measure, cells, add, to, drop00, labels, zero_rule) -> tuple:
    """Per-study yi/vi for Q (escalc with the first add/to/drop00 values)."""
    drop = zero_rule(*cells) if drop00 else np.zeros(len(cells[0]), dtype=bool)
    corrected = _zero_mask(cells, to) & ~drop
    adj = [np.where(corrected, x + add, x) for x in cells]
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = _ESTIMATES[measure](*adj)
    usable = ~drop & np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    if (~usable).any():
        why = (
            "no events (or only events) in both arms"
            if drop.any() and not (~usable & ~drop).any()
            else "a zero cell and no continuity correction"
        )
        warnings.warn(
            f"{describe_rows(~usable, labels)}: no study estimate ({why}); left out of the "
            "heterogeneity test (Q, I2), kept in the pooled estimate, as metafor.",
            StudyOmittedWarning,
            stacklevel=4,
        )
    return yi[usable], vi[usable]


def _irr(x1, t1, x2, t2):
    """Log incidence rate ratio; vi = 1/x1 + 1/x2."""
    return np.log(x1 / t1) - np.log(x2 / t2), 1 / x1 + 1 / x2


def _ird(x1, t1, x2, t2):
    """Incidence rate difference; vi = x1/t1^2 + x2/t2^2."""
    return x1 / t1 - x2 / t2, x1 / t1**2 + x2 / t2**2


_ESTIMATES = {**_TABLE, "IRR": _irr, "IRD": _ird}


def _correct_counts(cells, add: float, to: str):
    corrected = _zero_mask(cells, to)
    return [np.where(corrected, x + add, x) for x in cells]


def _heterogeneity(yi, vi, estimate):
    k_yi = len(yi)
    if k_yi <= 1:
        return 0.0, 1.0, 0.0, 1.0
    qe = max(0.0, float(np.sum((yi - estimate) ** 2 / vi)))
    return (
        qe,
        float(dist.chi2.sf(qe, k_yi - 1)),
        max(0.0, 100 * (qe - (k_yi - 1)) / qe) if qe > 0 else 0.0,
        qe / (k_yi - 1),
    )


def _wald(estimate: float, se: float, level: float) -> dict[str, Any]:
    crit = dist.norm.isf((1 - level) / 2)
    zval = estimate / se
    return dict(
        estimate=estimate,
        se=se,
        zval=zval,
        pval=float(2 * dist.norm.sf(abs(zval))),
        ci_lb=estimate - crit * se,
        ci_ub=estimate + crit * se,
    )


# ------------------------------------------------------------------------------ estimators


def _mh_or(a, b, c, d, labels, correct: bool):
    """MH odds ratio, Robins-Breslow-Greenland variance, CMH and Breslow-Day/Tarone tests."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    R, S = a * d / n, b * c / n
    if R.sum() == 0 or S.sum() == 0:
        which = "a*d" if R.sum() == 0 else "b*c"
        raise InputError(
            f"the Mantel-Haenszel odds ratio is not estimable: sum({which}/N) = 0 over all "
            "studies (every study has a zero in that diagonal). Use measure='RR' or 'RD', or "
            "rma_glmm()."
        )
    P, Q = (a + d) / n, (b + c) / n
    rs, ss = R.sum(), S.sum()
    ratio = rs / ss
    var = 0.5 * ((P * R).sum() / rs**2 + (P * S + Q * R).sum() / (rs * ss) + (Q * S).sum() / ss**2)
    events, non_events = a + c, b + d
    cmh = cmhp = None
    if events.sum() > 0 and non_events.sum() > 0:
        dev = abs(np.sum(a - n1 / n * events)) - (0.5 if correct else 0.0)
        cmh = float(dev**2 / np.sum(n1 * n2 * events * non_events / (n**2 * (n - 1))))
        cmhp = float(dist.chi2.sf(cmh, 1))
    bd = _breslow_day(a, n1, n2, n, events, non_events, ratio)
    return float(np.log(ratio)), float(np.sqrt(var)), dict(CMH=cmh, CMHp=cmhp, **bd)


def _breslow_day(a, n1, n2, n, events, non_events, ratio):
    """Breslow-Day test with Tarone's correction, at the MH odds ratio.

    The expected count in cell a given the margins solves a quadratic (Breslow & Day, 1980,
    sec. 4.4); studies where it is not positive, or without events or non-events, carry no
    information and are left out (``k_pos`` counts the others).
    """
    if ratio == 1:
        e11 = n1 / n * events
    else:
        A = ratio * (n1 + events) + (n2 - events)
        B = np.sqrt(A**2 - 4 * n1 * events * ratio * (ratio - 1))
        e11 = (A - B) / (2 * (ratio - 1))
    pos = (e11 > 0) & (events > 0) & (non_events > 0)
    k_pos = int(pos.sum())
    e11, a, n1, n, events = e11[pos], a[pos], n1[pos], n[pos], events[pos]
    e12, e21 = n1 - e11, events - e11
    e22 = n - n1 - events + e11
    var = 1 / (1 / e11 + 1 / e12 + 1 / e21 + 1 / e22)
    bd = max(0.0, float(np.sum((a - e11) ** 2 / var)))
    ta = max(0.0, bd - float(np.sum(a - e11) ** 2 / np.sum(var)))
    df = k_pos - 1
    return dict(
        BD=bd,
        TA=ta,
        k_pos=k_pos,
        BDp=float(dist.chi2.sf(bd, df)) if df > 0 else None,
        TAp=float(dist.chi2.sf(ta, df)) if df > 0 else None,
    )


def _mh_rr(a, b, c, d, labels):
    """MH risk ratio with the Greenland-Robins (1985) variance."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    if a.sum() == 0 or c.sum() == 0:
        arm = "ai (first group)" if a.sum() == 0 else "ci (second group)"
        raise InputError(
            f"the Mantel-Haenszel risk ratio is not estimable: no events in "
            f"{arm} in any study. Use measure='RD' or rma_glmm()."
        )
    R, S = np.sum(a * n2 / n), np.sum(c * n1 / n)
    var = np.sum(n1 * n2 * (a + c) / n**2 - a * c / n) / (R * S)
    return float(np.log(R / S)), float(np.sqrt(var)), {}


def _mh_rd(a, b, c, d, labels):
    """MH risk difference with the Sato, Greenland & Robins (1989) variance."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    w = np.sum(n1 * n2 / n)
    rd = np.sum(a * n2 / n - c * n1 / n) / w
    num = (
        rd * np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + n1 * n2 * (n2 - n1) / (2 * n**2))
        + np.sum(a * (n2 - c) / n + c * (n1 - a) / n) / 2
    )
    if num <= 0:
        raise InputError(
            "the Mantel-Haenszel risk difference has no variance: no study has "
            "events in one group and non-events in the other."
        )
    return float(rd), float(np.sqrt(num) / w), {}


def _mh_irr(x1, t1, x2, t2, labels, correct: bool):
    """MH incidence rate ratio (Greenland & Robins, 1985) and the MH test of rates."""
    if x1.sum() == 0 or x2.sum() == 0:
        arm = "x1i" if x1.sum() == 0 else "x2i"
        raise InputError(
            f"the Mantel-Haenszel rate ratio is not estimable: {arm} is 0 in "
            "every study. Use measure='IRD'."
        )
    t = t1 + t2
    R, S = np.sum(x1 * t2 / t), np.sum(x2 * t1 / t)
    var = np.sum(t1 * t2 * (x1 + x2) / t**2) / (R * S)
    events = x1 + x2
    dev = abs(np.sum(x1 - events * t1 / t)) - (0.5 if correct else 0.0)
    cmh = float(dev**2 / np.sum(events * t1 * t2 / t**2))
    return (
        float(np.log(R / S)),
        float(np.sqrt(var)),
        dict(CMH=cmh, CMHp=float(dist.chi2.sf(cmh, 1))),
    )


def _mh_ird(x1, t1, x2, t2, labels):
    """MH incidence rate difference (Rothman, Greenland & Lash, 2008, ch. 15)."""
    t = t1 + t2
    w = t1 * t2 / t
    ird = np.sum((x1 * t2 - x2 * t1) / t) / w.sum()
    var = np.sum(w**2 * (x1 / t1**2 + x2 / t2**2)) / w.sum() ** 2
    if var <= 0:
        raise InputError(
            "the Mantel-Haenszel rate difference has no variance: there are no events in any study."
        )
    return float(ird), float(np.sqrt(var)), {}


# ------------------------------------------------------------------------------ public


def rma_mh(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    x1i: Any = None,
    t1i: Any = None,
    x2i: Any = None,
    t2i: Any = None,
    measure: str = "OR",
    data: pd.DataFrame | None = None,
    slab: Any = None,
    add: float | Sequence[float] = (0.5, 0.0),
    to: str | Sequence[str] = ("only0", "none"),
    drop00: bool | Sequence[bool] = (True, False),
    correct: bool = True,
    level: float = 95,
    subgroup: Any = None,
) -> MhResult:
    """Mantel-Haenszel pooled odds ratio, risk ratio, risk difference or rate ratio/difference.

    Parameters
    ----------
    ai, bi, ci, di : array-like or str
        2x2 counts: events and non-events in the first (ai, bi) and second (ci, di) group;
        ``n1i``/``n2i`` (group sizes) may replace ``bi``/``di``. Arrays or column names.
    x1i, t1i, x2i, t2i : array-like or str
        Events and person-time in each group, for ``measure="IRR"`` or ``"IRD"``.
    measure : {"OR", "RR", "RD", "IRR", "IRD"}
    data : DataFrame, optional
        Where column names are looked up.
    slab : array-like or str, optional
        Study labels (used in output and messages).
    add, to, drop00 : one value or two
        Continuity correction (amount, which studies: ``"only0"``, ``"all"``, ``"if0all"``,
        ``"none"``) and whether studies with no events in either arm are dropped; the first
        value applies to the per-study estimates used for Q and I2, the second to the
        pooling. Defaults (metafor's): ``(1/2, 0)``, ``("only0", "none")``, ``(True, False)``.
    correct : bool
        Continuity correction (1/2) in the Cochran-Mantel-Haenszel test (default, as metafor).
    level : float
        Confidence level, 95 or 0.95.
    subgroup : array-like or str, optional
        A label per study (or a column of ``data``): each subgroup is fitted on its own with
        the same options (``.subgroups``) and ``Q_between``/``df_between``/``p_between``
        test for subgroup differences with Q of the subgroup estimates, as RevMan does.

    Returns
    -------
    MhResult
        ``to_dict()`` has the keys of :func:`rma` plus ``CMH, CMHp, BD, BDp, TA, TAp``.

    Raises
    ------
    InputError
        Missing, negative or non-numeric counts, person-time <= 0 (naming the study), or an
        estimate that the counts cannot give (e.g. no events in either arm of any study).

    Warns
    -----
    StudyOmittedWarning
        When studies have no per-study estimate (no events in both arms) and are left out of
        Q and I2 (they stay in the pooled estimate, as in metafor).

    Notes
    -----
    OR: Mantel & Haenszel (1959) with the Robins, Breslow & Greenland (1986) variance; the
    Cochran-Mantel-Haenszel test and the Breslow-Day test with Tarone's (1985) correction.
    RR: Greenland & Robins (1985). RD: variance of Sato, Greenland & Robins (1989). IRR/IRD:
    Rothman, Greenland & Lash (2008, ch. 15). Q = sum((yi - estimate)^2 / vi) over the
    per-study estimates, as metafor's ``rma.mh``.

    Examples
    --------
    >>> res = rma_mh(ai=[4, 6], bi=[96, 94], ci=[8, 9], di=[92, 91])
    >>> round(res.estimate, 4), round(res.se, 4)
    (-0.5686, 0.412)
    """
    if subgroup is not None:
        columns = dict(
            ai=ai,
            bi=bi,
            ci=ci,
            di=di,
            n1i=n1i,
            n2i=n2i,
            x1i=x1i,
            t1i=t1i,
            x2i=x2i,
            t2i=t2i,
            slab=slab,
        )
        options: dict[str, Any] = dict(
            measure=measure, add=add, to=to, drop00=drop00, correct=correct, level=level
        )
        overall = rma_mh(**columns, data=data, **options)
        return with_subgroups(rma_mh, overall, subgroup, data, columns, options)
    measure = MH_MEASURES.check(measure)
    level = check_level(level)
    adds, tos, drops = _options(add, to, drop00)
    if measure in _PERSON_TIME:
        if any(v is not None for v in (ai, bi, ci, di, n1i, n2i)):
            raise InputError(
                f"measure={measure!r} takes x1i, t1i, x2i, t2i (events and "
                "person-time), not 2x2 counts."
            )
        if any(v is None for v in (x1i, t1i, x2i, t2i)):
            raise InputError(
                f"measure={measure!r} needs x1i, t1i, x2i and t2i (events and "
                "person-time in each group)."
            )
        arrays, labels = _columns(
            ("x1i", "t1i", "x2i", "t2i"), dict(x1i=x1i, t1i=t1i, x2i=x2i, t2i=t2i), data, slab
        )
        x1, t1, x2, t2 = (arrays[n] for n in ("x1i", "t1i", "x2i", "t2i"))
        _check_rule(x1 < 0, "x1i", ">= 0 (event counts)", labels)
        _check_rule(x2 < 0, "x2i", ">= 0 (event counts)", labels)
        _check_rule(t1 <= 0, "t1i", "> 0 (person-time)", labels)
        _check_rule(t2 <= 0, "t2i", "> 0 (person-time)", labels)
        if x1.sum() + x2.sum() == 0:
            raise InputError(
                "there are no events in either group of any study (x1i and x2i "
                "are all 0): there is nothing to pool."
            )

        def rule(e1, e2):
            return (e1 == 0) & (e2 == 0)

        yi, vi = _study_estimates_pt(measure, x1, t1, x2, t2, adds[0], tos[0], drops[0], labels)
        keep = ~rule(x1, x2) if drops[1] else np.ones(len(x1), dtype=bool)
        x1, t1, x2, t2 = x1[keep], t1[keep], x2[keep], t2[keep]
        kept_cells = np.column_stack([x1, t1, x2, t2])
        e1, e2 = _correct_counts((x1, x2), adds[1], tos[1])
        if measure == "IRR":
            est, se, extra = _mh_irr(e1, t1, e2, t2, labels, correct)
        else:
            est, se, extra = _mh_ird(e1, t1, e2, t2, labels)
    else:
        if any(v is not None for v in (x1i, t1i, x2i, t2i)):
            raise InputError(
                f"measure={measure!r} takes 2x2 counts (ai, bi, ci, di); "
                "x1i, t1i, x2i, t2i are for IRR and IRD."
            )
        tables = (ai, bi, ci, di, n1i, n2i, data, slab, "rma_mh()")
        (a, b, c, d), labels, yi, vi, keep, kept_cells = _two_by_two(
            measure, tables, adds, tos, drops
        )
        if measure == "OR":
            est, se, extra = _mh_or(a, b, c, d, labels, correct)
        elif measure == "RR":
            est, se, extra = _mh_rr(a, b, c, d, labels)
        else:
            est, se, extra = _mh_rd(a, b, c, d, labels)
    return _result(
        "MH",
        measure,
        level,
        est,
        se,
        _heterogeneity(yi, vi, est),
        (yi, vi, labels, keep, kept_cells),
        fit_args=dict(add=adds, to=tos, drop00=drops, correct=correct),
        **extra,
    )


def _two_by_two(measure: str, tables: tuple[Any, ...], adds, tos, drops):
    """The 2x2 tables of ``tables`` (:func:`_tables`' arguments) read and checked: each
    study's estimate ``yi, vi`` (with the first of ``add``, ``to``, ``drop00``, as escalc),
    which studies are kept (the second ``drop00``), their cells as given and the kept cells
    with the second ``add``/``to`` (the pooled method's correction)."""
    a, b, c, d, labels = _tables(*tables)
    _check_events(a, b, c, d)
    yi, vi = _study_estimates(measure, (a, b, c, d), adds[0], tos[0], drops[0], labels, _no_events)
    keep = ~_no_events(a, b, c, d) if drops[1] else np.ones(len(a), dtype=bool)
    kept_cells = np.column_stack([a[keep], b[keep], c[keep], d[keep]])
    cells = _correct_counts((a[keep], b[keep], c[keep], d[keep]), adds[1], tos[1])
    return cells, labels, yi, vi, keep, kept_cells


def _result(method, measure, level, est, se, heterogeneity, studies, **fields) -> MhResult:
    """An :class:`MhResult`: Wald test and CI of ``est``, ``heterogeneity`` = (QE, QEp, I2,
    H2), ``studies`` = (yi, vi, labels, keep, kept cells); ``fields`` the method's own."""
    qe, qep, i2, h2 = heterogeneity
    yi, vi, labels, keep, cells = studies
    return MhResult(
        method=method,
        measure=measure,
        level=level,
        **_wald(est, se, level),
        QE=qe,
        QEp=qep,
        I2=i2,
        H2=h2,
        k=int(keep.sum()),
        k_yi=len(yi),
        yi=yi,
        vi=vi,
        slab=tuple(lab for lab, k in zip(labels, keep, strict=True) if k),
        omitted=tuple(lab for lab, k in zip(labels, keep, strict=True) if not k),
        cells=cells,
        **fields,
    )


def _study_estimates_pt(measure, x1, t1, x2, t2, add, to, drop00, labels):
    drop = ((x1 == 0) & (x2 == 0)) if drop00 else np.zeros(len(x1), dtype=bool)
    corrected = _zero_mask((x1, x2), to) & ~drop
    e1, e2 = (np.where(corrected, x + add, x) for x in (x1, x2))
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = _ESTIMATES[measure](e1, t1, e2, t2)
    usable = ~drop & np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    if (~usable).any():
        warnings.warn(
            f"{describe_rows(~usable, labels)}: no study estimate (no events in either group, "
            "or a zero count without continuity correction); left out of the heterogeneity "
            "test (Q, I2), kept in the pooled estimate, as metafor.",
            StudyOmittedWarning,
            stacklevel=3,
        )
    return yi[usable], vi[usable]


def _check_events(a, b, c, d) -> None:
    if (a + c).sum() == 0:
        raise InputError(
            "there are no events in either group of any study (ai and ci are "
            "all 0): there is nothing to pool."
        )
    if (b + d).sum() == 0:
        raise InputError(
            "every participant of every study had the event (bi and di are all "
            "0): there is nothing to pool."
        )


def rma_peto(
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    *,
    n1i: Any = None,
    n2i: Any = None,
    data: pd.DataFrame | None = None,
    slab: Any = None,
    add: float | Sequence[float] = (0.5, 0.0),
    to: str | Sequence[str] = ("only0", "none"),
    drop00: bool | Sequence[bool] = (True, False),
    level: float = 95,
    subgroup: Any = None,
) -> MhResult:
    """Peto's one-step pooled log odds ratio, as metafor's ``rma.peto``.

    Parameters
    ----------
    ai, bi, ci, di, n1i, n2i, data, slab, add, to, drop00, level, subgroup
        As :func:`rma_mh` (``add``/``to``/``drop00``: first value for the per-study Peto
        estimates, second for the pooling; metafor's defaults).

    Returns
    -------
    MhResult
        ``method="PETO"``, ``measure="PETO"``; the estimate is a log odds ratio.

    Raises
    ------
    InputError
        Bad counts (naming the study), or no events (or no non-events) in any study.

    Notes
    -----
    With O - E = a - (a+c) n1/N and V = (a+c)(b+d) n1 n2 / (N^2 (N-1)) per study, the pooled
    log odds ratio is sum(O - E)/sum(V) with variance 1/sum(V); Q = sum((O - E)^2/V) -
    (sum(O - E))^2/sum(V) over studies with V > 0 (Yusuf et al., 1985).

    Examples
    --------
    >>> res = rma_peto(ai=[4, 6], bi=[96, 94], ci=[8, 9], di=[92, 91])
    >>> round(res.estimate, 4), round(res.se, 4)
    (-0.5538, 0.3978)
    """
    if subgroup is not None:
        columns = dict(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, slab=slab)
        options: dict[str, Any] = dict(add=add, to=to, drop00=drop00, level=level)
        overall = rma_peto(**columns, data=data, **options)
        return with_subgroups(rma_peto, overall, subgroup, data, columns, options)
    level = check_level(level)
    adds, tos, drops = _options(add, to, drop00)
    tables = (ai, bi, ci, di, n1i, n2i, data, slab, "rma_peto()")
    (a, b, c, d), labels, yi, vi, keep, kept_cells = _two_by_two("PETO", tables, adds, tos, drops)
    n1, n2 = a + b, c + d
    n = n1 + n2
    o_minus_e = a - (a + c) * n1 / n
    v = (a + c) * (b + d) * (n1 / n) * (n2 / n) / (n - 1)
    est = float(o_minus_e.sum() / v.sum())
    se = float(np.sqrt(1 / v.sum()))
    k_pos = int((v > 0).sum())
    qe = max(0.0, float(np.sum(o_minus_e[v > 0] ** 2 / v[v > 0]) - o_minus_e.sum() ** 2 / v.sum()))
    k_yi = len(yi)
    if k_pos > 1:
        qep = float(dist.chi2.sf(qe, k_yi - 1))
        i2 = max(0.0, 100 * (qe - (k_yi - 1)) / qe) if qe > 0 else 0.0
        h2 = qe / (k_yi - 1)
    else:
        qep, i2, h2 = 1.0, 0.0, 1.0
    return _result(
        "PETO",
        "PETO",
        level,
        est,
        se,
        (qe, qep, i2, h2),
        (yi, vi, labels, keep, kept_cells),
        k_pos=k_pos,
        fit_args=dict(add=adds, to=tos, drop00=drops),
    )


# ------------------------------------------------------------------------------ printing


def _format_mh(res: MhResult) -> str:
    lines = [f"{_TITLES[res.method]} (k = {res.k})", ""]
    if res.omitted:
        lines[1:1] = [f"Left out: {', '.join(res.omitted)}"]
    lines += [
        f"I^2 (total heterogeneity / total variability): {res.I2:.2f}%",
        f"H^2 (total variability / sampling variability): {res.H2:.2f}",
        "",
        "Test for Heterogeneity:",
        f"Q(df = {max(res.k_yi - 1, 0)}) = {res.QE:.4f}, p-val {_format._p_eq(res.QEp)}",
        "",
        "Model Results (log scale):" if res.measure in _LOG_SCALE else "Model Results:",
        "",
    ]
    header = ["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
    row = [
        f"{res.estimate:.4f}",
        f"{res.se:.4f}",
        f"{res.zval:.4f}",
        _format.fmt_p(res.pval),
        f"{res.ci_lb:.4f}",
        f"{res.ci_ub:.4f}",
    ]
    widths = [max(len(h), len(r)) for h, r in zip(header, row, strict=True)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    lines.append(
        "  ".join(r.rjust(w) for r, w in zip(row, widths, strict=True))
        + " "
        + _format._stars(res.pval)
    )
    if res.measure in _LOG_SCALE:
        name = {"PETO": "OR"}.get(res.measure, res.measure)
        lines += [
            "",
            "Model Results (" + name + " scale):",
            "",
            f"estimate = {np.exp(res.estimate):.4f}, ci.lb = {np.exp(res.ci_lb):.4f}, "
            f"ci.ub = {np.exp(res.ci_ub):.4f}",
        ]
    if res.CMH is not None and res.CMHp is not None:
        test = "Cochran-Mantel-Haenszel Test" if res.measure == "OR" else "Mantel-Haenszel Test"
        lines += ["", f"{test}:    CMH = {res.CMH:.4f}, df = 1, p-val {_format._p_eq(res.CMHp)}"]
    if (
        res.BD is not None
        and res.BDp is not None
        and res.TA is not None
        and res.TAp is not None
        and res.k_pos is not None
    ):
        lines += [
            f"Tarone's Test for Heterogeneity: X^2 = {res.TA:.4f}, df = {res.k_pos - 1}, "
            f"p-val {_format._p_eq(res.TAp)}",
            f"Breslow-Day Test:                X^2 = {res.BD:.4f}, df = {res.k_pos - 1}, "
            f"p-val {_format._p_eq(res.BDp)}",
        ]
    lines += _format.subgroup_lines(res)
    lines += ["", "---", "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"]
    return "\n".join(lines)
