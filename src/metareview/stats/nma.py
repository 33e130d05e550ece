"""Frequentist network meta-analysis: :func:`nma` and :class:`NmaResult`.

The contrast-based multivariate model (Salanti et al., 2008; metafor's documentation of
``dat.senn2013``): each study contributes the contrasts of its arms against one baseline arm,
correlated through the baseline arm's variance (multi-arm studies); the true contrasts are
the differences of the treatments' effects against a reference (consistency), plus random
effects ``~ comp | study`` with one variance tau2 and correlation 1/2 (homogeneous
heterogeneity across comparisons). The model is fitted by :func:`metareview.rma_mv` (REML, ML,
or EE for a common-effect model) with the treatments' indicator contrasts as moderators; with
``method="DL"`` tau2 is netmeta's method-of-moments estimate (Rücker, 2012; the multivariate
DerSimonian-Laird estimator of Jackson, White & Riley, 2012) and the model is fitted with it.

On top of the fit: the league table of all pairwise differences with CIs; P-scores (Rücker &
Schwarzer, 2015), the mean over the other treatments of the probability of being better; and
the decomposition of Cochran's Q of the common-effect model into heterogeneity within designs
and inconsistency between designs (design-by-treatment interaction; Krahn, Binder & König,
2013), each with its chi-square test.

Input is netmeta's pairwise long format: one row per comparison (``treat1`` vs ``treat2``,
effect ``yi`` = treat1 minus treat2, variance ``vi`` or standard error ``sei``), a
multi-arm study giving every pair of its arms (its arm variances are recovered as netmeta
does), or its basic contrasts only with their covariance ``V``.

References
----------
Krahn, U., Binder, H., & König, J. (2013). A graphical tool for locating inconsistency in
network meta-analyses. BMC Medical Research Methodology, 13, 35.
Jackson, D., White, I. R., & Riley, R. D. (2012). Quantifying the impact of between-study
heterogeneity in multivariate meta-analyses. Statistics in Medicine, 31, 3805-3820.
Rücker, G. (2012). Network meta-analysis, electrical networks and graph theory. Research
Synthesis Methods, 3, 312-324.
Rücker, G., & Schwarzer, G. (2015). Ranking treatments in frequentist network meta-analysis
works without resampling methods. BMC Medical Research Methodology, 15, 58.
Salanti, G., Higgins, J. P. T., Ades, A. E., & Ioannidis, J. P. A. (2008). Evaluation of
networks of randomized trials. Statistical Methods in Medical Research, 17, 279-301.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from metareview._validation import Options, check_level, check_numeric, describe_rows
from metareview._version import __version__
from metareview.exceptions import InputError
from metareview.stats._format import fmt_p
from metareview.stats._format import json_floats as floats
from metareview.stats.mv import MvResult, rma_mv

__all__ = ["NmaResult", "nma"]

NMA_METHODS = Options("method", ("REML", "ML", "DL", "EE"), aliases={"FE": "EE"})
SMALL_VALUES = Options("small_values", ("good", "bad"))
SPLIT_METHODS = Options("method", ("node-splitting", "back-calculation"))


@dataclass(frozen=True, slots=True)
class NmaResult:
    """A fitted network meta-analysis.

    ``estimate``/``se``/``ci_lb``/``ci_ub`` hold each treatment's effect against
    ``reference`` (0 for the reference itself), in ``treatments`` order. ``QE`` is Cochran's
    Q of the common-effect model on ``df_QE`` degrees of freedom, split into ``Q_within``
    (heterogeneity within designs) and ``Q_between`` (inconsistency between designs);
    ``pscore`` the P-scores. ``edges`` has one row per pair of treatments compared directly:
    ``treat1``, ``treat2`` (sorted) and ``n_studies``, the number of studies comparing them.
    """

    method: str
    level: float
    reference: str
    treatments: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vcov: np.ndarray = field(repr=False)
    tau2: float
    QE: float
    df_QE: int
    QEp: float
    Q_within: float
    df_within: int
    Q_withinp: float
    Q_between: float
    df_between: int
    Q_betweenp: float
    pscore: np.ndarray
    small_values: str
    k: int
    n_studies: int
    designs: tuple[str, ...]
    edges: pd.DataFrame = field(repr=False)
    model: MvResult = field(repr=False)
    _rows: _Rows = field(repr=False, compare=False)

    def table(self) -> pd.DataFrame:
        """One row per treatment: effect vs the reference, se, CI and P-score."""
        return pd.DataFrame(
            {
                "estimate": self.estimate,
                "se": self.se,
                "ci_lb": self.ci_lb,
                "ci_ub": self.ci_ub,
                "pscore": self.pscore,
            },
            index=pd.Index(self.treatments, name="treatment"),
        )

    def studies_per_treatment(self) -> pd.Series:
        """Number of studies with an arm of each treatment, in ``treatments`` order (the
        node sizes of a network graph)."""
        arms: dict[str, set[str]] = {t: set() for t in self.treatments}
        for t, b, st in zip(self._rows.treat, self._rows.base, self._rows.study, strict=True):
            arms[t].add(st)
            arms[b].add(st)
        return pd.Series(
            [len(arms[t]) for t in self.treatments],
            index=pd.Index(self.treatments, name="treatment"),
            name="n_studies",
        )

    def pairs(self) -> pd.DataFrame:
        """Every ordered pair of treatments: ``treat1``, ``treat2``, ``estimate`` (treat1
        minus treat2), ``se``, ``ci_lb``, ``ci_ub``, ``zval``, ``pval``."""
        n = len(self.treatments)
        i, j = (a.ravel() for a in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
        keep = i != j
        i, j = i[keep], j[keep]
        est = self.estimate[i] - self.estimate[j]
        var = self.vcov[i, i] + self.vcov[j, j] - 2 * self.vcov[i, j]
        se = np.sqrt(np.maximum(var, 0.0))
        crit = stats.norm.isf((1 - self.level) / 2)
        z = est / se
        return pd.DataFrame(
            {
                "treat1": [self.treatments[a] for a in i],
                "treat2": [self.treatments[b] for b in j],
                "estimate": est,
                "se": se,
                "ci_lb": est - crit * se,
                "ci_ub": est + crit * se,
                "zval": z,
                "pval": 2 * stats.norm.sf(np.abs(z)),
            }
        )

    def league(self, digits: int = 2) -> pd.DataFrame:
        """The league table: cell (row, column) = row treatment minus column treatment with
        its CI, as text; treatments ordered by P-score (best first)."""
        order = [self.treatments[i] for i in np.argsort(-self.pscore, kind="stable")]
        p = self.pairs().set_index(["treat1", "treat2"])

        def cell(row: str, col: str) -> str:
            if row == col:
                return row
            est, lb, ub = p.loc[(row, col), ["estimate", "ci_lb", "ci_ub"]]
            return f"{est:.{digits}f} ({lb:.{digits}f}, {ub:.{digits}f})"

        cells = {col: [cell(row, col) for row in order] for col in order}
        return pd.DataFrame(cells, index=pd.Index(order, name="treatment"))

    def netsplit(self, method: str = "node-splitting") -> pd.DataFrame:
        """Direct and indirect evidence of every comparison that has both.

        ``method="node-splitting"`` (Dias et al., 2010): for comparison A vs B the model gets
        one more parameter, the difference between the direct evidence (the A-vs-B contrasts
        of the studies that compare A and B) and the indirect evidence (everything else); a
        multi-arm study that holds A and B has its contrasts taken against A. tau2 is
        re-estimated (by the fit's method) in each split model.

        ``method="back-calculation"`` (netmeta's default; König, Krahn & Binder, 2013): the
        direct estimate pools the A-vs-B comparisons of the studies that hold both (their
        own variances plus the network's tau2, a multi-arm study's comparison unadjusted),
        the direct evidence proportion is ``prop = se_network² / se_direct²``, and the
        indirect estimate is ``(network - prop * direct) / (1 - prop)`` with variance
        ``se_network² / (1 - prop)``; the difference has variance ``se_direct² +
        se_indirect²``. No model is refitted.

        Comparisons without indirect evidence are left out.

        Parameters
        ----------
        method : {"node-splitting", "back-calculation"}

        Returns
        -------
        DataFrame
            One row per comparison (``treat1`` vs ``treat2``, effect treat1 minus treat2):
            ``k`` (studies with direct evidence), ``tau2`` (of the split model; the
            network's for back-calculation), ``direct``, ``direct_se``, ``indirect``,
            ``indirect_se``, ``network``, ``network_se``, ``diff`` (direct minus indirect),
            ``diff_se``, ``zval``, ``pval``; back-calculation adds ``prop``.

        References
        ----------
        Dias, S., Welton, N. J., Caldwell, D. M., & Ades, A. E. (2010). Checking consistency
        in mixed treatment comparison meta-analysis. Statistics in Medicine, 29, 932-944.
        König, J., Krahn, U., & Binder, H. (2013). Visualizing the flow of evidence in network
        meta-analysis and characterizing mixed treatment comparisons. Statistics in
        Medicine, 32, 5414-5429.
        """
        if SPLIT_METHODS.check(method) == "back-calculation":
            return self._back_calculation()
        base_rows = self._rows
        others = [t for t in self.treatments if t != self.reference]
        pairs = self.pairs().set_index(["treat1", "treat2"])
        out = []
        for a, b in self.edges[["treat1", "treat2"]].itertuples(index=False):
            rows = base_rows
            holders = [
                s
                for s in dict.fromkeys(rows.study)
                if {a, b}
                <= {rows.base[rows.study.index(s)]}
                | {t for t, st in zip(rows.treat, rows.study, strict=True) if st == s}
            ]
            for s in holders:
                if rows.base[rows.study.index(s)] not in (a, b):
                    rows = _rebase(rows, s, a)
            held = set(holders)
            split = np.array(
                [
                    (1.0 if (t, bb) == (a, b) else -1.0 if (t, bb) == (b, a) else 0.0)
                    if st in held
                    else 0.0
                    for t, bb, st in zip(rows.treat, rows.base, rows.study, strict=True)
                ]
            )
            X_rank = _fit_rank(rows, others, split)
            if X_rank < len(others) + 1:
                continue
            fit = _fit(rows, others, split, self.method, self.level)
            col = {t: j for j, t in enumerate(others)}
            g = np.zeros(len(others) + 1)
            if a in col:
                g[col[a]] += 1
            if b in col:
                g[col[b]] -= 1
            d = np.zeros(len(others) + 1)
            d[-1] = 1
            indirect, ind_var = float(g @ fit.beta), float(g @ fit.vb @ g)
            direct_g = g + d
            direct, dir_var = float(direct_g @ fit.beta), float(direct_g @ fit.vb @ direct_g)
            diff, diff_se = float(fit.beta[-1]), float(np.sqrt(fit.vb[-1, -1]))
            z = diff / diff_se
            out.append(
                {
                    "treat1": a,
                    "treat2": b,
                    "k": len(holders),
                    "tau2": 0.0 if self.method == "EE" else float(fit.tau2[0]),
                    "direct": direct,
                    "direct_se": np.sqrt(dir_var),
                    "indirect": indirect,
                    "indirect_se": np.sqrt(ind_var),
                    "network": float(pairs.loc[(a, b), "estimate"]),
                    "network_se": float(pairs.loc[(a, b), "se"]),
                    "diff": diff,
                    "diff_se": diff_se,
                    "zval": z,
                    "pval": float(2 * stats.norm.sf(abs(z))),
                }
            )
        return pd.DataFrame(out)

    def _back_calculation(self) -> pd.DataFrame:
        """netmeta's netsplit: indirect evidence back-calculated from the network and direct
        estimates (see :meth:`netsplit`)."""
        rows = self._rows
        tau2 = self.tau2
        # every pair of arms of every study: effect (arm minus arm) and variance from the
        # study's block of basic contrasts (the base arm's contrast is 0)
        by_pair: dict[tuple[str, str], list[tuple[float, float]]] = {}
        start = 0
        for block in rows.blocks:
            m = block.shape[0]
            idx = range(start, start + m)
            start += m
            base = rows.base[start - 1]
            arms = [base, *(rows.treat[i] for i in idx)]
            y = np.r_[0.0, rows.y[start - m : start]]
            V = np.zeros((m + 1, m + 1))
            V[1:, 1:] = block
            for i, j in itertools.combinations(range(m + 1), 2):
                a, b = sorted((arms[i], arms[j]))
                sign = 1.0 if arms[i] == a else -1.0
                var = V[i, i] + V[j, j] - 2 * V[i, j]
                by_pair.setdefault((a, b), []).append((sign * (y[i] - y[j]), var))
        network = self.pairs().set_index(["treat1", "treat2"])
        out = []
        for a, b in self.edges[["treat1", "treat2"]].itertuples(index=False):
            te, var = (np.array(v) for v in zip(*by_pair[(a, b)], strict=True))
            w = 1 / (var + tau2)
            direct = float((w * te).sum() / w.sum())
            direct_var = float(1 / w.sum())
            nma_est = float(network.loc[(a, b), "estimate"])
            nma_se = float(network.loc[(a, b), "se"])
            prop = nma_se**2 / direct_var
            if prop >= 1 - 1e-8:
                continue
            indirect = (nma_est - prop * direct) / (1 - prop)
            indirect_var = nma_se**2 / (1 - prop)
            diff = direct - indirect
            diff_se = float(np.sqrt(direct_var + indirect_var))
            z = diff / diff_se
            out.append(
                {
                    "treat1": a,
                    "treat2": b,
                    "k": len(te),
                    "tau2": tau2,
                    "prop": prop,
                    "direct": direct,
                    "direct_se": np.sqrt(direct_var),
                    "indirect": float(indirect),
                    "indirect_se": float(np.sqrt(indirect_var)),
                    "network": nma_est,
                    "network_se": nma_se,
                    "diff": float(diff),
                    "diff_se": diff_se,
                    "zval": float(z),
                    "pval": float(2 * stats.norm.sf(abs(z))),
                }
            )
        return pd.DataFrame(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe results."""

        out = {
            "treatments": list(self.treatments),
            "reference": self.reference,
            "estimate": floats(self.estimate),
            "se": floats(self.se),
            "ci_lb": floats(self.ci_lb),
            "ci_ub": floats(self.ci_ub),
            "pscore": floats(self.pscore),
            "small_values": self.small_values,
            "tau2": self.tau2,
            "QE": self.QE,
            "df_QE": self.df_QE,
            "QEp": self.QEp,
            "Q_within": self.Q_within,
            "df_within": self.df_within,
            "Q_withinp": self.Q_withinp,
            "Q_between": self.Q_between,
            "df_between": self.df_between,
            "Q_betweenp": self.Q_betweenp,
            "k": self.k,
            "n_studies": self.n_studies,
            "designs": list(self.designs),
            "method": self.method,
            "level": self.level,
            "metareview_version": __version__,
        }
        json.dumps(out, allow_nan=True)
        return out

    def summary(self) -> str:
        """A text report in the manner of netmeta's print."""
        lines = [
            f"Network meta-analysis (contrast-based, method: {self.method})",
            f"Number of studies: {self.n_studies}; comparisons: {self.k}; treatments: "
            f"{len(self.treatments)}; designs: {len(self.designs)}",
            f"Reference treatment: {self.reference}",
            "",
            self.table().to_string(float_format=lambda x: f"{x:.4f}"),
            "",
            f"tau^2 = {self.tau2:.4f}",
            "",
            "Tests of heterogeneity (within designs) and inconsistency (between designs):",
            f"  Total          Q = {self.QE:.2f}, df = {self.df_QE}, p-val {fmt_p(self.QEp)}",
            f"  Within designs Q = {self.Q_within:.2f}, df = {self.df_within}, "
            f"p-val {fmt_p(self.Q_withinp)}",
            f"  Between designs Q = {self.Q_between:.2f}, df = {self.df_between}, "
            f"p-val {fmt_p(self.Q_betweenp)}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def nma(
    data: pd.DataFrame,
    *,
    treat1: str = "treat1",
    treat2: str = "treat2",
    yi: str = "yi",
    vi: str | None = None,
    sei: str | None = None,
    studlab: str = "studlab",
    V: Any = None,
    reference: str | None = None,
    method: str = "REML",
    small_values: str = "good",
    level: float = 95,
    tol_multiarm: float = 0.001,
) -> NmaResult:
    """Frequentist network meta-analysis (contrast-based multivariate model).

    Parameters
    ----------
    data : DataFrame
        One row per comparison.
    treat1, treat2 : str
        Columns naming the two treatments compared.
    yi : str
        Column of the effect of treat1 minus treat2 (e.g. a mean difference, log odds ratio).
    vi, sei : str
        Column of its sampling variance (default ``"vi"``), or of its standard error.
    studlab : str
        Column of study labels; a multi-arm study has several rows.
    V : array-like or sparse matrix, optional
        Covariance matrix of the rows (a multi-arm study then gives only the comparisons of
        its arms with one common arm). Without it a multi-arm study must give every pair of
        its arms, and the arm variances are recovered from the pairs' variances (as netmeta).
    reference : str, optional
        Reference treatment (default: the first in sorted order).
    method : {"REML", "ML", "DL", "EE"}
        Estimator of tau2: restricted or full maximum likelihood, the method of moments of
        netmeta (``"DL"``, netmeta's default: ``max(0, (Q - df) / tr(P U))`` with Q and
        df of the common-effect model, P its residual-forming matrix and U the random
        effects' structure, variance 1 and correlation 1/2 within a study), or EE (alias FE):
        common-effect model.
    small_values : {"good", "bad"}
        Whether small effects are desirable, for the P-scores.
    level : float
        Confidence level.
    tol_multiarm : float
        Largest discrepancy allowed between a multi-arm study's comparisons (A vs C must be
        A vs B plus B vs C).

    Returns
    -------
    NmaResult

    Raises
    ------
    InputError
        Missing columns or values, a study comparing a treatment with itself, a multi-arm
        study with missing or inconsistent comparisons (naming the study and column), a
        disconnected network (naming its sub-networks and any treatment names that differ
        only in case or spacing).

    References
    ----------
    Salanti et al. (2008); Rücker (2012); Jackson, White & Riley (2012); Rücker & Schwarzer
    (2015); Krahn, Binder & König (2013).

    Examples
    --------
    >>> import pandas as pd, metareview as mr
    >>> d = pd.DataFrame({"studlab": ["s1", "s2", "s3", "s4"],
    ...                   "treat1": ["A", "B", "A", "A"], "treat2": ["B", "C", "C", "B"],
    ...                   "yi": [0.3, 0.2, 0.6, 0.4], "vi": [0.04, 0.05, 0.06, 0.05]})
    >>> res = mr.nma(d, reference="C", method="EE")
    >>> res.treatments
    ('A', 'B', 'C')
    """
    method = NMA_METHODS.check(method)
    small_values = SMALL_VALUES.check(small_values)
    level = check_level(level)
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    if vi is not None and sei is not None:
        raise InputError(
            "give the sampling variances as vi= or the standard errors as sei=, not both."
        )
    if vi is None and sei is None:
        vi = "vi"
    for arg, column in (
        ("treat1", treat1),
        ("treat2", treat2),
        ("yi", yi),
        ("studlab", studlab),
        ("vi", vi),
        ("sei", sei),
    ):
        if column is not None and column not in data.columns:
            raise InputError(
                f"{arg}={column!r} is not a column of data; columns are {list(data.columns)}."
            )
    labels = [f"row {i + 1}" for i in range(len(data))]
    y = check_numeric(yi, data[yi], labels, allow_nan=False)
    if vi is not None:
        v = check_numeric(vi, data[vi], labels, allow_nan=False)
        var_col = vi
    else:
        assert sei is not None
        v = check_numeric(sei, data[sei], labels, allow_nan=False) ** 2
        var_col = sei
    bad = ~(v > 0)
    if bad.any():
        raise InputError(
            f"{var_col} must be > 0; got {int(bad.sum())} value(s) <= 0 at "
            f"{describe_rows(bad, labels)}."
        )
    t1, t2, study = (_labels(data, c, labels) for c in (treat1, treat2, studlab))
    same = t1 == t2
    if same.any():
        raise InputError(
            f"{treat1} and {treat2} name the same treatment at "
            f"{describe_rows(same, labels)}; a comparison needs two treatments."
        )
    treatments = tuple(sorted(set(t1) | set(t2)))
    _check_connected(treatments, t1, t2)
    ref = treatments[0] if reference is None else str(reference)
    if ref not in treatments:
        raise InputError(
            f"reference={reference!r} is not a treatment of the network; "
            f"treatments are {', '.join(treatments)}."
        )
    Vm = None if V is None else sparse.csr_matrix(V)
    rows = _contrasts(study, t1, t2, y, v, Vm, ref, studlab, yi, var_col, tol_multiarm)
    others = [t for t in treatments if t != ref]
    model = _fit(rows, others, None, method, level)
    n = len(treatments)
    est = np.zeros(n)
    vc = np.zeros((n, n))
    idx = [treatments.index(t) for t in others]
    est[idx] = model.beta
    vc[np.ix_(idx, idx)] = model.vb
    se = np.sqrt(np.diag(vc))
    crit = stats.norm.isf((1 - level) / 2)
    pscore = _pscores(est, vc, small_values)
    q_within, df_within, designs = _q_within(rows)
    df_total = len(rows.y) - (n - 1)
    q_total = model.QE
    df_between = df_total - df_within
    q_between = q_total - q_within

    def chi2p(q: float, df: int) -> float:
        return float(stats.chi2.sf(q, df)) if df > 0 else float("nan")

    arms_of: dict[str, set[str]] = {}
    for t, b, st in zip(rows.treat, rows.base, rows.study, strict=True):
        arms_of.setdefault(st, set()).update((t, b))
    edge = pd.DataFrame(
        [
            (a, b, st)
            for st, arms in arms_of.items()
            for a, b in itertools.combinations(sorted(arms), 2)
        ],
        columns=["treat1", "treat2", "study"],
    )
    edges = edge.groupby(["treat1", "treat2"]).size().rename("n_studies").reset_index()
    return NmaResult(
        method=method,
        level=level,
        reference=ref,
        treatments=treatments,
        estimate=est,
        se=se,
        ci_lb=est - crit * se,
        ci_ub=est + crit * se,
        vcov=vc,
        tau2=0.0 if method == "EE" else float(model.tau2[0]),
        QE=float(q_total),
        df_QE=int(df_total),
        QEp=chi2p(q_total, df_total),
        Q_within=float(q_within),
        df_within=int(df_within),
        Q_withinp=chi2p(q_within, df_within),
        Q_between=float(q_between),
        df_between=int(df_between),
        Q_betweenp=chi2p(q_between, df_between),
        pscore=pscore,
        small_values=small_values,
        k=len(rows.y),
        n_studies=len(set(study)),
        designs=designs,
        edges=edges,
        model=model,
        _rows=rows,
    )


def _labels(data: pd.DataFrame, column: str, labels: list[str]) -> np.ndarray:
    values = data[column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise InputError(f"{column} is missing at {describe_rows(missing, labels)}.")
    return values.astype(str).str.strip().to_numpy()


def _check_connected(treatments: tuple[str, ...], t1: np.ndarray, t2: np.ndarray) -> None:
    """Raise, naming the sub-networks, unless every treatment is linked to every other."""
    code = {t: i for i, t in enumerate(treatments)}
    n = len(treatments)
    a = np.array([code[t] for t in t1])
    b = np.array([code[t] for t in t2])
    graph = sparse.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    count, comp = connected_components(graph, directed=False)
    if count == 1:
        return
    parts = [
        sorted(t for t, c in zip(treatments, comp, strict=True) if c == j) for j in range(count)
    ]
    text = "; ".join("{" + ", ".join(p) + "}" for p in parts)
    folded: dict[str, list[str]] = {}
    for t in treatments:
        folded.setdefault(
            " ".join(t.casefold().replace("_", " ").replace("-", " ").split()), []
        ).append(t)
    similar = [v for v in folded.values() if len(v) > 1]
    hint = (
        " Treatment names that differ only in case or spacing: "
        + "; ".join(" / ".join(repr(x) for x in v) for v in similar)
        + " (a typo splits a node)."
        if similar
        else " Check the treatment names for typos."
    )
    raise InputError(
        f"the network is disconnected: {count} sub-networks {text}; effects "
        f"between sub-networks cannot be estimated.{hint}"
    )


@dataclass(frozen=True, slots=True)
class _Rows:
    """Basic contrasts (treat minus base), one block of V per study, and each study's design."""

    y: np.ndarray
    treat: list[str]
    base: list[str]
    study: list[str]
    blocks: list[np.ndarray]
    design_of_row: list[str]


def _contrasts(
    study: np.ndarray,
    t1: np.ndarray,
    t2: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    Vm: Any,
    ref: str,
    studlab: str,
    yi: str,
    var_col: str,
    tol: float,
) -> _Rows:
    ys: list[float] = []
    treat: list[str] = []
    base: list[str] = []
    studies: list[str] = []
    blocks: list[np.ndarray] = []
    designs: list[str] = []
    k = len(y)
    if Vm is not None and Vm.shape != (k, k):
        raise InputError(
            f"V must be {k} x {k} (one row and column per comparison); got "
            f"{Vm.shape[0]} x {Vm.shape[1]}."
        )
    for s in dict.fromkeys(study):
        rows = np.flatnonzero(study == s)
        arms = sorted(set(t1[rows]) | set(t2[rows]))
        m = len(arms)
        b = ref if ref in arms else arms[0]
        pairs = [tuple(sorted((t1[r], t2[r]))) for r in rows]
        if len(set(pairs)) < len(pairs):
            dup = next(p for p in pairs if pairs.count(p) > 1)
            raise InputError(
                f"study {s!r} ({studlab}) compares {dup[0]} and {dup[1]} in more "
                "than one row; give each comparison once."
            )
        design = "-".join(arms)
        if Vm is not None:
            if len(rows) != m - 1 or any(b not in p for p in pairs):
                raise InputError(
                    f"study {s!r} ({studlab}): with V= a study with {m} arms gives the {m - 1} "
                    f"comparisons of its arms with one arm ({b}); it gives {len(rows)} rows."
                )
            sign = np.array([1.0 if t2[r] == b else -1.0 for r in rows])
            block = Vm[rows][:, rows].toarray() * np.outer(sign, sign)
            for r, sg in zip(rows, sign, strict=True):
                ys.append(float(sg * y[r]))
                treat.append(t1[r] if sg > 0 else t2[r])
        else:
            if len(rows) != m * (m - 1) // 2:
                raise InputError(
                    f"study {s!r} ({studlab}) has {m} arms ({', '.join(arms)}) but gives "
                    f"{len(rows)} of their {m * (m - 1) // 2} comparisons; a multi-arm study "
                    "needs every pair of its arms (or give V= with its basic contrasts)."
                )
            pos = {a: i for i, a in enumerate(arms)}
            A = np.zeros((len(rows), m))
            for i, r in enumerate(rows):
                A[i, pos[t1[r]]] = 1
                A[i, pos[t2[r]]] = -1
            D = np.abs(A)
            mean = np.linalg.lstsq(
                np.vstack([A, np.eye(m)[pos[b]]]), np.r_[y[rows], 0.0], rcond=None
            )[0]
            arm_var = np.linalg.lstsq(D, v[rows], rcond=None)[0]
            gap = np.abs(A @ mean - y[rows])
            if m > 2 and gap.max() > tol:
                r = rows[int(np.argmax(gap))]
                raise InputError(
                    f"multi-arm study {s!r} ({studlab}) has inconsistent comparisons in column "
                    f"{yi!r}: {t1[r]} vs {t2[r]} is {y[r]:g}, but its other comparisons imply "
                    f"{A[int(np.argmax(gap))] @ mean:g} (tolerance {tol:g})."
                )
            if m > 2 and (
                np.any(arm_var <= 0)
                or np.abs(D @ arm_var - v[rows]).max() > tol * max(1.0, v[rows].max())
            ):
                raise InputError(
                    f"multi-arm study {s!r} ({studlab}) has inconsistent variances in column "
                    f"{var_col!r}: the variance of A vs B must be the sum of the arms' variances "
                    "(no positive arm variances fit them)."
                )
            others = [a for a in arms if a != b]
            if m == 2:
                block = np.array([[float(v[rows[0]])]])
            else:
                vb = arm_var[pos[b]]
                block = np.full((m - 1, m - 1), vb) + np.diag([arm_var[pos[a]] for a in others])
            for a in others:
                ys.append(float(mean[pos[a]] - mean[pos[b]]))
                treat.append(a)
        count = m - 1
        base += [b] * count
        studies += [s] * count
        designs += [design] * count
        blocks.append(block)
    return _Rows(np.asarray(ys), treat, base, studies, blocks, designs)


def _design(rows: _Rows, others: list[str], split: np.ndarray | None) -> np.ndarray:
    """Design matrix of the contrast-based model: each row's contrast (treat minus base) on
    the treatments' effects vs the reference (``others``), plus the column ``split``."""
    X = np.zeros((len(rows.y), len(others) + (split is not None)))
    col = {t: j for j, t in enumerate(others)}
    for r, (a, b) in enumerate(zip(rows.treat, rows.base, strict=True)):
        if a in col:
            X[r, col[a]] += 1
        if b in col:
            X[r, col[b]] -= 1
    if split is not None:
        X[:, -1] = split
    return X


def _fit(
    rows: _Rows, others: list[str], split: np.ndarray | None, method: str, level: float
) -> MvResult:
    """The contrast-based model: rows' contrasts on the treatments' effects vs the reference
    (``others``), plus one column ``split`` (node-splitting) if given."""
    X = _design(rows, others, split)
    comp = [f"{a}:{b}" for a, b in zip(rows.treat, rows.base, strict=True)]
    frame = pd.DataFrame({"study": rows.study, "comp": comp})
    mods = pd.DataFrame(X, columns=[*others, *(["split"] if split is not None else [])])
    tau2: float | None = None
    if method == "EE":
        tau2 = 0.0
    elif method == "DL":
        tau2 = _tau2_dl(rows, X)
    return rma_mv(
        rows.y,
        rows.blocks,
        random="~ comp | study",
        struct="CS",
        data=frame,
        mods=mods,
        intercept=False,
        method=method if method in ("REML", "ML") else "REML",
        level=level,
        rho=0.5,
        tau2=tau2,
    )


def _tau2_dl(rows: _Rows, X: np.ndarray) -> float:
    """netmeta's tau2 (Rücker, 2012, as netmeta computes it): ``max(0, (Q - df) / tr(P U))``.

    Q = y' P y is the common-effect model's Q on df = k - p, P = W - W X (X' W X)^-1 X' W
    with W = V^-1 (one block per study), and U the random effects' structure within a study
    (1 on the diagonal, 1/2 between two contrasts of a multi-arm study). It is the
    multivariate DerSimonian-Laird estimator (Jackson, White & Riley, 2012) of this model;
    netmeta writes the same trace over all pairs of arms as ``tr((I - H) (B B' * E / 2) W)``.
    With df = 0 there is nothing to estimate from and tau2 is 0.
    """
    k, p = X.shape
    XtWX = np.zeros((p, p))
    XtWy = np.zeros(p)
    tr_WU = 0.0
    XtWUWX = np.zeros((p, p))
    start = 0
    for block in rows.blocks:
        m = block.shape[0]
        sl = slice(start, start + m)
        start += m
        W = np.linalg.inv(block)
        U = np.full((m, m), 0.5) + 0.5 * np.eye(m)
        WX = W @ X[sl]
        XtWX += X[sl].T @ WX
        XtWy += WX.T @ rows.y[sl]
        tr_WU += float(np.trace(W @ U))
        XtWUWX += WX.T @ U @ WX
    df = k - p
    if df <= 0:
        return 0.0
    beta = np.linalg.solve(XtWX, XtWy)
    q = 0.0
    start = 0
    for block in rows.blocks:
        m = block.shape[0]
        r = rows.y[start : start + m] - X[start : start + m] @ beta
        start += m
        q += float(r @ np.linalg.solve(block, r))
    trace = tr_WU - float(np.trace(np.linalg.solve(XtWX, XtWUWX)))
    return max(0.0, (q - df) / trace)


def _fit_rank(rows: _Rows, others: list[str], split: np.ndarray) -> int:
    """Rank of the split model's design matrix (full when A vs B has indirect evidence)."""
    return int(np.linalg.matrix_rank(_design(rows, others, split)))


def _rebase(rows: _Rows, study: str, new_base: str) -> _Rows:
    """The same data with ``study``'s contrasts taken against ``new_base`` (an arm of it):
    c'_t = c_t - c_new for the other arms (c_old_base = 0), V' = T V T'."""
    idx = [i for i, s in enumerate(rows.study) if s == study]
    old = rows.base[idx[0]]
    arms = [rows.treat[i] for i in idx]
    new_arms = [t for t in [*arms, old] if t != new_base]
    pos = {t: j for j, t in enumerate(arms)}
    T = np.zeros((len(idx), len(idx)))
    for r, t in enumerate(new_arms):
        if t != old:
            T[r, pos[t]] += 1
        T[r, pos[new_base]] -= 1
    order = list(dict.fromkeys(rows.study))
    b = order.index(study)
    blocks = list(rows.blocks)
    blocks[b] = T @ rows.blocks[b] @ T.T
    y = rows.y.copy()
    y[idx] = T @ rows.y[idx]
    treat, base = list(rows.treat), list(rows.base)
    for r, i in enumerate(idx):
        treat[i], base[i] = new_arms[r], new_base
    return _Rows(y, treat, base, list(rows.study), blocks, list(rows.design_of_row))


def _pscores(est: np.ndarray, vc: np.ndarray, small_values: str) -> np.ndarray:
    """P-scores (Rücker & Schwarzer, 2015): mean over j != i of P(treatment i better than j)."""
    n = len(est)
    diff = est[:, None] - est[None, :]
    var = np.diag(vc)[:, None] + np.diag(vc)[None, :] - 2 * vc
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / np.sqrt(np.maximum(var, 0.0))
    better = stats.norm.cdf(-z if small_values == "good" else z)
    np.fill_diagonal(better, 0.0)
    out: np.ndarray = better.sum(axis=1) / (n - 1)
    return out


def _q_within(rows: _Rows) -> tuple[float, int, tuple[str, ...]]:
    """Q of the common-effect model with one set of contrasts per design, and its df."""
    design = np.asarray(rows.design_of_row)
    study = np.asarray(rows.study)
    q, df = 0.0, 0
    block_of = dict(zip(dict.fromkeys(rows.study), rows.blocks, strict=True))
    names = tuple(sorted(set(rows.design_of_row)))
    for d in names:
        idx = np.flatnonzero(design == d)
        comps = sorted(set(rows.treat[i] for i in idx))
        if len(idx) <= len(comps):
            continue
        Vd = sparse.block_diag([block_of[s] for s in dict.fromkeys(study[idx])]).toarray()
        X = np.array([[1.0 if rows.treat[i] == c else 0.0 for c in comps] for i in idx])
        W = np.linalg.inv(Vd)
        yd = rows.y[idx]
        beta = np.linalg.solve(X.T @ W @ X, X.T @ W @ yd)
        r = yd - X @ beta
        q += float(r @ W @ r)
        df += len(idx) - len(comps)
    return q, df, names
