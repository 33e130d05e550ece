"""Meta-analytic models: :func:`rma` and its result, :class:`RmaResult`.

:func:`rma` validates and labels the data, then calls the batched kernel
(:func:`metareview.stats.kernel.rma_batch`) with B = 1. Subgroup analyses fit each group
with its own tau2 and test the difference between groups as RevMan does.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from metareview._validation import (
    NI_COLUMN,
    Options,
    RowNames,
    check_numeric,
    check_same_length,
    describe_rows,
    is_frame,
    is_series,
    resolve_column,
    row_names,
)
from metareview._version import __version__
from metareview.exceptions import (
    Argument,
    ConvergenceError,
    ConvergenceWarning,
    InputError,
    MetareviewWarning,
    StudyOmittedWarning,
)
from metareview.stats import _distributions as dist
from metareview.stats import _format
from metareview.stats._convergence import warn_convergence
from metareview.stats._format import json_num as _num
from metareview.stats._likelihood import fit_statistics, profile_bounds, uni_loglik
from metareview.stats.kernel import METHODS, TESTS, BatchResult, Control, _control, rma_batch
from metareview.stats.transforms import DEFAULT_FOR_MEASURE, back_transform

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["RmaResult", "check_rma_result", "rma"]

ZERO_VARIANCE = Options("zero_variance", ("omit", "error"), case_sensitive=False)
MISSING = Options("missing", ("error", "omit"), case_sensitive=False)


@dataclass(frozen=True, slots=True)
class RmaResult:
    """A fitted meta-analysis (random-effects, equal-effects or meta-regression).

    Coefficient fields (``beta``, ``se``, ``zval``, ``pval``, ``ci_lb``, ``ci_ub``) are arrays
    with one entry per coefficient named in ``coef_names``; for an intercept-only model the
    pooled effect is ``estimate``. Heterogeneity: ``tau2`` (with ``se_tau2`` and its Q-profile
    CI), ``I2`` (%), ``H2``, Cochran's ``QE`` with p-value ``QEp``. ``pi_lb``/``pi_ub`` is the
    prediction interval. ``yi``, ``vi``, ``slab`` hold the studies that entered the fit;
    ``omitted`` names those left out.
    """

    method: str
    test: str
    level: float
    coef_names: tuple[str, ...]
    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    tau2: float
    se_tau2: float
    tau2_ci_lb: float
    tau2_ci_ub: float
    I2: float
    I2_ci_lb: float
    I2_ci_ub: float
    H2: float
    H2_ci_lb: float
    H2_ci_ub: float
    QE: float
    QEp: float
    QM: float
    QMp: float
    R2: float | None
    pi_lb: float
    pi_ub: float
    vt: float
    k: int
    ddf: float
    iterations: int
    yi: np.ndarray
    vi: np.ndarray
    slab: tuple[str, ...]
    X: np.ndarray
    omitted: tuple[str, ...] = ()
    measure: str | None = None
    ni: tuple[float, ...] | None = None
    control: Control | None = field(default=None, repr=False)
    subgroups: Mapping[str, RmaResult] | None = field(default=None, repr=False)
    subgroup_labels: tuple[str, ...] | None = field(default=None, repr=False)
    Q_between: float | None = None
    df_between: int | None = None
    p_between: float | None = None

    # ---------------------------------------------------------------- convenience

    @property
    def p(self) -> int:
        """Number of coefficients."""
        return len(self.coef_names)

    @property
    def has_mods(self) -> bool:
        return self.p > 1

    @property
    def estimate(self) -> float:
        """The pooled effect (the intercept; for meta-regression, see ``beta``)."""
        return float(self.beta[0])

    @property
    def tau(self) -> float:
        return float(np.sqrt(self.tau2))

    @property
    def weights(self) -> np.ndarray:
        """Each study's weight in percent (inverse-variance, 1/(vi + tau2))."""
        w = 1 / (self.vi + self.tau2)
        return 100 * w / w.sum()

    # ---------------------------------------------------------------- outputs

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results (keys as in DESIGN.md's API contract).

        Coefficient keys hold a float for intercept-only models and a list (one per
        coefficient, in ``coef_names`` order) for meta-regression.
        """

        def coef(a: np.ndarray) -> float | list[float | None] | None:
            return _num(a[0]) if not self.has_mods else [_num(x) for x in a]

        out: dict[str, Any] = {
            "estimate": coef(self.beta),
            "se": coef(self.se),
            "zval": coef(self.zval),
            "pval": coef(self.pval),
            "ci_lb": coef(self.ci_lb),
            "ci_ub": coef(self.ci_ub),
            "pi_lb": _num(self.pi_lb),
            "pi_ub": _num(self.pi_ub),
            "tau2": _num(self.tau2),
            "se_tau2": _num(self.se_tau2),
            "tau2_ci_lb": _num(self.tau2_ci_lb),
            "tau2_ci_ub": _num(self.tau2_ci_ub),
            "I2": _num(self.I2),
            "H2": _num(self.H2),
            "QE": _num(self.QE),
            "QEp": _num(self.QEp),
            "k": self.k,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "omitted": list(self.omitted),
            "metareview_version": __version__,
        }
        if self.has_mods:
            out.update(
                QM=_num(self.QM),
                QMp=_num(self.QMp),
                R2=_num(self.R2),
                coef_names=list(self.coef_names),
            )
        if self.subgroups is not None:
            out.update(
                Q_between=_num(self.Q_between),
                df_between=self.df_between,
                p_between=_num(self.p_between),
            )
            out["subgroups"] = {g: r.to_dict() for g, r in self.subgroups.items()}
        return out

    def table(self) -> pd.DataFrame:
        """One row per coefficient: estimate, se, zval (tval for knha), pval, ci_lb, ci_ub."""
        return _format.coefficient_table(
            self.coef_names,
            estimate=self.beta,
            se=self.se,
            zval=self.zval,
            pval=self.pval,
            ci_lb=self.ci_lb,
            ci_ub=self.ci_ub,
        )

    def study_table(self) -> pd.DataFrame:
        """One row per study in the fit: yi, vi, sei, CI and weight (%)."""
        import pandas as pd

        sei, ci_lb, ci_ub = self.study_intervals()
        return pd.DataFrame(
            {
                "yi": self.yi,
                "vi": self.vi,
                "sei": sei,
                "ci_lb": ci_lb,
                "ci_ub": ci_ub,
                "weight": self.weights,
            },
            index=pd.Index(self.slab, name="study"),
        )

    def study_intervals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each study's standard error and Wald interval at the fit's level: ``sei``,
        ``ci_lb``, ``ci_ub`` (the columns of :meth:`study_table`, as arrays: a forest plot
        reads them without pandas)."""
        crit = dist.norm.isf((1 - self.level) / 2)
        sei = np.sqrt(self.vi)
        return sei, self.yi - crit * sei, self.yi + crit * sei

    def confint(self, type: str = "QP") -> dict[str, float]:
        """Confidence intervals for tau2, tau, I2 and H2 at the fit's level.

        Parameters
        ----------
        type : {"QP", "PL"}
            ``"QP"`` (default, as metafor): the Q-profile interval (Viechtbauer, 2007, Stat.
            Med. 26, 37), computed with the fit. It inverts the generalised Q statistic, the
            equation whose solution is the Paule-Mandel estimate, so it need not contain an ML or
            REML estimate when the two estimators differ (heterogeneity that grows with the
            sampling variance, many studies). ``"PL"``: the profile-likelihood interval of the
            likelihood that estimated tau2 (ML or REML fits only; Hardy & Thompson, 1996,
            Stat. Med. 15, 619), where twice the drop of the log-likelihood equals the
            chi-square(1) quantile, as metafor's ``confint(type = "PL")``.

        Notes
        -----
        I2 and H2 bounds are the tau2 bounds carried through I2 = tau2 / (tau2 + vt) and
        H2 = tau2 / vt + 1 with the fit's typical within-study variance vt.
        """
        kind = Options("type", ("QP", "PL")).check(type)
        if kind == "QP":
            lb, ub = self.tau2_ci_lb, self.tau2_ci_ub
            i2 = (self.I2_ci_lb, self.I2_ci_ub)
            h2 = (self.H2_ci_lb, self.H2_ci_ub)
        else:
            lb, ub = self._profile_tau2_ci()
            i2 = (100 * lb / (self.vt + lb), 100 * ub / (self.vt + ub))
            h2 = (lb / self.vt + 1, ub / self.vt + 1)
        return {
            "tau2_ci_lb": lb,
            "tau2_ci_ub": ub,
            "tau_ci_lb": float(np.sqrt(lb)),
            "tau_ci_ub": float(np.sqrt(ub)),
            "I2_ci_lb": i2[0],
            "I2_ci_ub": i2[1],
            "H2_ci_lb": h2[0],
            "H2_ci_ub": h2[1],
        }

    def _profile_tau2_ci(self) -> tuple[float, float]:
        if self.method not in ("ML", "REML"):
            raise InputError(
                f"confint(type='PL') profiles the likelihood that estimated tau2, so it needs "
                f"method='ML' or 'REML'; this fit used {self.method!r} (its Q-profile interval "
                "is confint(type='QP'))."
            )
        if self.k <= self.p:
            return float("nan"), float("nan")
        reml = self.method == "REML"
        ll_max = uni_loglik(self.yi, self.vi, self.X, self.tau2, reml)
        crit = float(dist.chi2.isf(1 - self.level, 1))

        def excess(t: float) -> float:
            return 2 * (ll_max - uni_loglik(self.yi, self.vi, self.X, t, reml)) - crit

        hi = max(10 * self.tau2, float(np.max(self.vi)))
        while excess(hi) < 0 and hi < 1e12 * max(1.0, float(np.max(self.vi))):
            hi *= 4  # widen until the bound is bracketed
        return profile_bounds(excess, self.tau2, 0.0, hi)

    def fitstats(self) -> dict[str, float]:
        """Log-likelihood, deviance, AIC, BIC and AICc, as metafor's ``fitstats``.

        REML fits use the restricted likelihood (BIC and AICc with k - p observations, deviance
        -2 logLik); every other estimator the ML likelihood at its tau2 (EE at 0), deviance
        against the saturated model. Parameters: the coefficients plus tau2 (not for EE).
        """
        reml = self.method == "REML"
        ll = uni_loglik(self.yi, self.vi, self.X, self.tau2, reml)
        saturated = 0.0 if reml else -0.5 * float(np.sum(np.log(2 * np.pi * self.vi)))
        n_par = self.p + (self.method != "EE")
        return fit_statistics(ll, n_par, self.k - self.p if reml else self.k, saturated)

    def predict(
        self,
        transf: str | None = None,
        targs: Mapping[str, Any] | None = None,
        newmods: Any = None,
    ) -> dict[str, Any]:
        """Predicted (pooled) effect with CI and prediction interval, optionally back-transformed.

        Parameters
        ----------
        transf : str, optional
            ``expit`` (alias ``ilogit``), ``ipft.hm``, ``iarcsin``, ``ztor`` or ``exp``;
            ``"auto"`` picks the natural one for the measure the data came from.
        targs : mapping, optional
            Arguments of the transformation: ``{"ni": [...]}`` for ``ipft.hm`` (default: the
            sample sizes recorded by escalc).
        newmods : array-like, optional
            Moderator values (without intercept) for meta-regression predictions.

        Returns
        -------
        dict
            ``pred, ci_lb, ci_ub, pi_lb, pi_ub`` (floats, or lists for several ``newmods`` rows).

        Examples
        --------
        >>> import metareview as mr
        >>> res = mr.rma([-1.0, -0.5, 0.2], [0.1, 0.2, 0.15], method="DL")
        >>> round(res.predict(transf="expit")["pred"], 4)
        0.3879
        """
        Xnew = self._new_design(newmods)
        pred = Xnew @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xnew, self.vb, Xnew))
        alpha = 1 - self.level
        crit = dist.t.isf(alpha / 2, self.ddf) if self.test == "knha" else dist.norm.isf(alpha / 2)
        # metafor gives no prediction interval for an equal-effects model
        pi_se = np.sqrt(se**2 + self.tau2) if self.method != "EE" else np.full_like(se, np.nan)
        out = {
            "pred": pred,
            "ci_lb": pred - crit * se,
            "ci_ub": pred + crit * se,
            "pi_lb": pred - crit * pi_se,
            "pi_ub": pred + crit * pi_se,
        }
        if transf == "auto":
            transf = DEFAULT_FOR_MEASURE.get(self.measure or "")
        if transf is not None:
            if targs is None and self.ni is not None:
                targs = {"ni": self.ni}
            out = {key: back_transform(transf, val, targs) for key, val in out.items()}
        single = Xnew.shape[0] == 1
        return {key: (float(val[0]) if single else val.tolist()) for key, val in out.items()}

    def _new_design(self, newmods: Any) -> np.ndarray:
        if newmods is None:
            if self.has_mods:
                raise InputError(
                    "predict() on a meta-regression needs newmods= (one value per moderator: "
                    f"{', '.join(self.coef_names[1:])})."
                )
            return np.ones((1, 1))
        try:
            new = np.atleast_2d(np.asarray(newmods, dtype=float))
        except (TypeError, ValueError):
            new = np.full((1, 1), np.nan)
        if not np.isfinite(new).all():
            raise InputError(
                f"newmods must be finite numbers, one per moderator "
                f"({', '.join(self.coef_names[1:])}) in each row; got {newmods!r}."
            )
        if self.p - 1 == 1 and new.shape[0] == 1 and new.shape[1] != 1:
            new = new.T
        if new.shape[1] != self.p - 1:
            raise InputError(
                f"newmods needs {self.p - 1} value(s) per row ({', '.join(self.coef_names[1:])});"
                f" got {new.shape[1]}."
            )
        return np.column_stack([np.ones(new.shape[0]), new])

    def summary(self) -> str:
        """A text report that reads like metafor's print method."""
        return _format.format_rma(self)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _format.html_rma(self)


MODELS = Options("model", ("any", "intercept", "mods"), case_sensitive=True)


def check_rma_result(
    res: object, what: str, *, model: str = "any", min_k: int = 1, fix: str = ""
) -> RmaResult:
    """The one guard of every function that takes a fitted model: ``res`` must be an
    :class:`RmaResult`, of the right ``model`` kind (``"intercept"``: no moderators;
    ``"mods"``: a meta-regression), with at least ``min_k`` studies. Messages begin with
    ``what`` (the caller's name, e.g. ``"leave1out"`` or ``"forest()"``) and end with ``fix``
    when given (the caller's advice).

    Examples
    --------
    >>> check_rma_result({"estimate": 0.3}, "funnel()")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    metareview.exceptions.InputError: funnel() needs the result of metareview.rma(); got dict...
    """
    model = MODELS.check(model)
    advice = f" {fix}" if fix else ""
    if not isinstance(res, RmaResult):
        raise InputError(
            f"{what} needs the result of metareview.rma(); got "
            f"{type(res).__name__}. Fit the model first: res = rma(yi, vi, ...)."
        )
    if model == "intercept" and res.has_mods:
        raise InputError(
            f"{what} applies to models without moderators, so res must be an intercept-only "
            f"model (one pooled effect); it is a meta-regression with moderators "
            f"{', '.join(res.coef_names[1:])}."
            f"{advice}"
        )
    if model == "mods" and not res.has_mods:
        raise InputError(
            f"{what} needs a meta-regression, but res is an intercept-only model "
            f"(no moderators); fit one with rma(yi, vi, mods=...).{advice}"
        )
    if res.k < min_k:
        raise InputError(f"{what} needs at least {min_k} studies; the model has k = {res.k}.")
    return res


# ------------------------------------------------------------------------------------ rma()


def rma(
    yi: Any = None,
    vi: Any = None,
    *,
    sei: Any = None,
    data: pd.DataFrame | None = None,
    slab: Any = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    mods: Any = None,
    subgroup: Any = None,
    measure: str | None = None,
    ni: Any = None,
    zero_variance: str = "omit",
    missing: str = "error",
    control: Control | dict[str, Any] | None = None,
) -> RmaResult:
    """Fit a random-effects (or equal-effects) meta-analysis or meta-regression.

    Parameters
    ----------
    yi, vi : array-like or str
        Effect sizes and sampling variances, or column names of ``data``. ``yi`` may also be a
        DataFrame returned by :func:`escalc` (then ``data`` is that frame).
    sei : array-like or str, optional
        Standard errors instead of ``vi``.
    data : DataFrame, optional
        Where column names are looked up; defaults ``yi="yi"``, ``vi="vi"``.
    slab : array-like or str, optional
        Study labels (used in output and messages); default the ``slab`` column of ``data``
        (as escalc writes it), else the data's index unless it is the default 0..n-1.
    method : str
        tau2 estimator: ``"REML"`` (default), ``"EE"`` (alias ``"FE"``), ``"DL"``, ``"ML"``,
        ``"PM"``, ``"HE"``, ``"HS"``, ``"SJ"``, ``"EB"``.
    test : {"z", "knha"}
        Wald z-tests (default) or Hartung-Knapp-Sidik-Jonkman t-tests.
    level : float
        Confidence level, 95 or 0.95.
    mods : str, sequence of str, array-like or DataFrame, optional
        Moderators (an intercept is always added): column names of ``data`` or values.
    subgroup : array-like or str, optional
        Group labels: each group gets its own fit (own tau2), and the result carries the test
        for subgroup differences (``Q_between``, ``df_between``, ``p_between``).
    measure : str, optional
        The effect measure (taken from an escalc frame's ``attrs`` when not given); used by
        ``predict(transf="auto")``.
    ni : array-like or str, optional
        Sample sizes for the Freeman-Tukey back-transformation (default: an escalc frame's
        ``ni`` column).
    zero_variance : {"omit", "error"}
        What to do with studies whose ``vi`` is 0 (e.g. a 0% raw proportion): leave them out
        with a :class:`StudyOmittedWarning` naming them (as Stata's metan), or raise.
    missing : {"error", "omit"}
        What to do with missing ``yi``/``vi``/moderators: raise naming the rows, or leave the
        studies out with a warning.
    control : Control or dict, optional
        Convergence settings (``threshold``, ``maxiter``, ``root_tol``, ``ll0_tol``).

    Returns
    -------
    RmaResult

    Raises
    ------
    InputError
        Bad input, named by study and column: non-numeric or infinite values, negative
        variances, lengths that disagree, too few studies for the model.
    ConvergenceError
        When the iterative tau2 estimator does not converge.

    Notes
    -----
    The model, estimators and tests are those of metafor's ``rma.uni`` (Viechtbauer, 2010,
    J. Stat. Softw. 36(3), https://doi.org/10.18637/jss.v036.i03); each estimator's source is
    cited in :mod:`metareview.stats.tau2`. Iterative estimators run to a tight tolerance
    (change in tau2 < 1e-10) by default.

    Examples
    --------
    >>> import metareview as mr
    >>> res = mr.rma([0.2, 0.5, 0.9, 0.1], [0.04, 0.05, 0.06, 0.03], method="DL")
    >>> round(res.estimate, 4), round(res.tau2, 4)
    (0.397, 0.0738)
    """
    if is_frame(yi) and data is None:
        data, yi = yi, None
    if data is not None and not is_frame(data):
        raise InputError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    if data is not None:
        yi = "yi" if yi is None else yi
        if vi is None and sei is None:
            vi = "vi"
        measure = measure or data.attrs.get("measure")
        # escalc keeps labels and sample sizes as columns (as metafor's escalc object carries
        # them as attributes of yi), so they stay with their rows through any subsetting;
        # row_names() finds the labels
        if ni is None and data.attrs.get("measure") and NI_COLUMN in data.columns:
            ni = NI_COLUMN
    if yi is None or (vi is None and sei is None):
        raise InputError("rma() needs yi and vi (or sei), as arrays or column names of data.")

    raw_y = resolve_column("yi", yi, data)
    raw_v = resolve_column("vi" if sei is None else "sei", vi if sei is None else sei, data)
    n = check_same_length(
        {"yi": np.asarray(raw_y).reshape(-1), "vi": np.asarray(raw_v).reshape(-1)}
    )
    labels = row_names(data, n, slab)
    y = check_numeric("yi", raw_y, labels)
    v = check_numeric("vi" if sei is None else "sei", raw_v, labels)
    if sei is not None:
        _no_negative(v, "sei", labels)
        v = v**2
    X, coef_names = _moderators(mods, data, n, labels)
    groups = None
    if subgroup is not None:
        groups = np.asarray(resolve_column("subgroup", subgroup, data), dtype=object)
        check_same_length({"yi": y, "subgroup": groups})
    ni_arr = None if ni is None else check_numeric("ni", resolve_column("ni", ni, data), labels)
    if ni_arr is not None:
        check_same_length({"yi": y, "ni": ni_arr})

    keep = _select_studies(
        y, v, X, labels, MISSING.check(missing), ZERO_VARIANCE.check(zero_variance)
    )
    omitted = tuple(lab for lab, kept in zip(labels, keep, strict=True) if not kept)
    y, v, X = y[keep], v[keep], X[keep]
    labels = RowNames(
        (lab for lab, kept in zip(labels, keep, strict=True) if kept), kind=labels.kind
    )
    ni_kept = None if ni_arr is None else tuple(float(x) for x in ni_arr[keep])

    options: dict[str, Any] = dict(
        method=METHODS.check(method),
        test=TESTS.check(test),
        level=level,
        control=_control(control),
        measure=measure,
    )
    result = _fit(y, v, X, coef_names, labels, ni_kept, omitted, **options)
    if groups is None:
        return result
    return _with_subgroups(result, groups[keep], y, v, X, coef_names, labels, ni_kept, options)


def _no_negative(v: np.ndarray, column: str, labels: Sequence[str]) -> None:
    bad = v < 0
    if bad.any():
        raise InputError(
            f"{column} must be >= 0; got {int(bad.sum())} negative value"
            f"{'s' if bad.sum() > 1 else ''} at {describe_rows(bad, labels)}. "
            f"Check that {column} holds {'variances' if column == 'vi' else 'standard errors'}."
        )


def _moderators(mods: Any, data, n: int, labels) -> tuple[np.ndarray, tuple[str, ...]]:
    if mods is None:
        return np.ones((n, 1)), ("intrcpt",)
    if isinstance(mods, str):
        mods = [mods]
    columns: list[Any]  # Series, arrays or column names' values
    if is_frame(mods):
        names, columns = list(map(str, mods.columns)), [mods[c] for c in mods.columns]
    elif is_series(mods):
        names, columns = [str(mods.name or "mod")], [mods]
    elif isinstance(mods, Sequence) and all(isinstance(m, str) for m in mods):
        names, columns = list(mods), [resolve_column("mods", m, data) for m in mods]
    else:
        arr = np.asarray(mods)
        arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[0] != n:
            raise InputError(
                f"mods must have one row per study ({n}); got an array of shape "
                f"{np.shape(mods)}. Give one value per study, or a (k, p) array for p "
                "moderators."
            )
        names = [f"mod{j + 1}" for j in range(arr.shape[1])]
        columns = [arr[:, j] for j in range(arr.shape[1])]
    values = [
        check_numeric(f"mods[{name!r}]", col, labels)
        for name, col in zip(names, columns, strict=True)
    ]
    check_same_length(
        {"yi": np.empty(n), **{f"mods[{nm!r}]": c for nm, c in zip(names, values, strict=True)}}
    )
    return np.column_stack([np.ones(n), *values]), ("intrcpt", *names)


def _select_studies(y, v, X, labels, missing: str, zero_variance: str) -> np.ndarray:
    nan_rows = np.isnan(y) | np.isnan(v) | np.isnan(X).any(axis=1)
    if nan_rows.any():
        cols = [
            name
            for name, bad in (
                ("yi", np.isnan(y)),
                ("vi", np.isnan(v)),
                ("mods", np.isnan(X).any(axis=1)),
            )
            if bad.any()
        ]
        message = f"{'/'.join(cols)} missing at {describe_rows(nan_rows, labels)}"
        if missing == "error":
            raise InputError(
                f"{message}. Remove these studies or pass ",
                Argument("missing", "omit"),
                " to leave them out.",
            )
        warnings.warn(f"{message}; these studies are left out.", StudyOmittedWarning, stacklevel=3)
    _no_negative(np.where(nan_rows, 0.0, v), "vi", labels)
    zero = (v == 0) & ~nan_rows
    if zero.any():
        message = (
            f"vi is 0 at {describe_rows(zero, labels)}: a study with zero sampling "
            "variance (e.g. a 0% or 100% raw proportion) cannot be weighted"
        )
        if zero_variance == "error":
            raise InputError(
                f"{message}. Use a transformed measure (PLO, PFT) or pass "
                "zero_variance='omit' to leave it out."
            )
        warnings.warn(f"{message}; left out of the fit.", StudyOmittedWarning, stacklevel=3)
    return ~(nan_rows | zero)


def _fit(
    y,
    v,
    X,
    coef_names,
    labels,
    ni,
    omitted,
    *,
    method,
    test,
    level,
    control,
    measure,
) -> RmaResult:
    k, p = len(y), X.shape[1]
    if k == 0 or k < p or (k == p and p > 1):
        need = "1 study" if p == 1 else f"more studies than coefficients ({p})"
        raise InputError(
            f"the model needs at least {need}; got k = {k}"
            f"{' after leaving out ' + ', '.join(omitted) if omitted else ''}."
        )
    single_study = k == 1
    if single_study and test == "knha":
        # one study leaves no residual degrees of freedom for the Knapp-Hartung scale; metafor
        # (rma.uni) falls back to the z-test with a warning, and so do we
        warnings.warn(
            f"k = 1 ({labels[0]}): test='knha' needs 2 or more studies; using test='z'.",
            MetareviewWarning,
            stacklevel=3,
        )
        test = "z"
    design = None if p == 1 else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # raised as an error below
        batch = rma_batch(
            y[None],
            v[None],
            X=design,
            method=method,
            test=test,
            level=level,
            control=control,
            allow_saturated=single_study,
        )
    if not batch.converged[0]:
        raise ConvergenceError(
            f"the {method} estimator of tau2 did not converge within {control.maxiter} "
            "iterations "
            f"(k = {k}). Try method='DL' or 'PM', or raise control={{'maxiter': ...}}."
        )
    R2 = _r_squared(batch, y, v, X, method, test, level, control) if p > 1 else None
    warn_convergence(method, True, batch.tau2_reset[0], stacklevel=3)
    return _result_from_batch(batch, coef_names, y, v, X, labels, ni, omitted, measure, R2, control)


def _result_from_batch(
    batch: BatchResult, coef_names, y, v, X, labels, ni, omitted, measure, R2, control: Control
) -> RmaResult:
    def scalar(a: np.ndarray) -> float:
        return float(a[0])

    return RmaResult(
        method=batch.method,
        test=batch.test,
        level=batch.level,
        coef_names=tuple(coef_names),
        beta=batch.beta[0],
        se=batch.se[0],
        zval=batch.zval[0],
        pval=batch.pval[0],
        ci_lb=batch.ci_lb[0],
        ci_ub=batch.ci_ub[0],
        vb=batch.vb[0],
        tau2=scalar(batch.tau2),
        se_tau2=scalar(batch.se_tau2),
        tau2_ci_lb=scalar(batch.tau2_ci_lb),
        tau2_ci_ub=scalar(batch.tau2_ci_ub),
        I2=scalar(batch.I2),
        I2_ci_lb=scalar(batch.I2_ci_lb),
        I2_ci_ub=scalar(batch.I2_ci_ub),
        H2=scalar(batch.H2),
        H2_ci_lb=scalar(batch.H2_ci_lb),
        H2_ci_ub=scalar(batch.H2_ci_ub),
        QE=scalar(batch.QE),
        QEp=scalar(batch.QEp),
        QM=scalar(batch.QM),
        QMp=scalar(batch.QMp),
        R2=R2,
        pi_lb=scalar(batch.pi_lb),
        pi_ub=scalar(batch.pi_ub),
        vt=scalar(batch.vt),
        k=int(batch.k[0]),
        ddf=scalar(batch.ddf),
        iterations=int(batch.iterations[0]),
        yi=y,
        vi=v,
        slab=tuple(labels),
        X=X,
        omitted=tuple(omitted),
        measure=measure,
        ni=ni,
        control=control,
    )


def _r_squared(batch: BatchResult, y, v, X, method, test, level, control) -> float:
    """Pseudo-R2 (%) of a meta-regression, as metafor.

    Random effects: (tau2_RE - tau2_ME)/tau2_RE with tau2_RE from the intercept-only model
    (Raudenbush, 2009, in The Handbook of Research Synthesis, 2nd ed., 295-315); 0 when
    tau2_RE = 0. EE: adjusted R2 of the weighted least-squares regression.
    """
    if method == "EE":
        w = 1 / v
        k, p = len(y), X.shape[1]
        ybar = np.sum(w * y) / np.sum(w)
        tss = np.sum(w * (y - ybar) ** 2)
        if tss == 0:
            return 0.0
        rss = float(batch.QE[0])
        adjusted = 1 - (rss / tss) * (k - 1) / (k - p)
        return max(0.0, 100 * adjusted)
    null = rma_batch(
        y[None], v[None], method=method, test=test, level=level, tau2_ci=False, control=control
    )
    tau2_re = float(null.tau2[0])
    if tau2_re == 0:
        return 0.0
    return max(0.0, 100 * (tau2_re - float(batch.tau2[0])) / tau2_re)


def _with_subgroups(overall: RmaResult, groups, y, v, X, coef_names, labels, ni, options):
    if X.shape[1] > 1:
        raise InputError("use either mods= or subgroup=, not both (put the group in mods).")
    order = list(dict.fromkeys(groups.tolist()))
    if len(order) < 2:
        raise InputError(f"subgroup needs at least 2 groups; got {order}.")
    fits: dict[str, RmaResult] = {}
    for g in order:
        sel = groups == g
        sub_ni = None if ni is None else tuple(np.asarray(ni)[sel])
        # a single-study subgroup is shown as that study (tau2 = 0), as RevMan does
        fits[str(g)] = _fit(
            y[sel],
            v[sel],
            X[sel],
            coef_names,
            [lab for lab, s in zip(labels, sel, strict=True) if s],
            sub_ni,
            (),
            **options,
        )
    est = np.array([f.estimate for f in fits.values()])
    var = np.array([f.se[0] ** 2 for f in fits.values()])
    between = rma_batch(est[None], var[None], method="EE", tau2_ci=False)
    q_between = float(between.QE[0])
    df_between = len(order) - 1
    fields = {name: getattr(overall, name) for name in RmaResult.__dataclass_fields__}
    fields.update(
        subgroups=fits,
        subgroup_labels=tuple(str(g) for g in groups),
        Q_between=q_between,
        df_between=df_between,
        p_between=float(dist.chi2.sf(q_between, df_between)),
    )
    return RmaResult(**fields)
