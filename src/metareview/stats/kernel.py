"""The batched random-effects engine: :func:`rma_batch`.

Every pooled estimate in metareview is computed here, over arrays of shape (B, k): effects
``Y``, sampling variances ``V`` and a boolean ``mask`` saying which studies belong to each of
the B meta-analyses. :func:`metareview.rma` is the B = 1 case; leave-one-out, cumulative,
GOSH, permutation and simulation analyses are masks or batches on the same code. Inside, the
arrays are held study-major, (k, B) (see :mod:`metareview.stats._design`):
:func:`fit_study_major` is the engine, :func:`rma_batch` checks and transposes its input.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special

from metareview._validation import Options, check_level
from metareview.exceptions import InputError
from metareview.stats import _distributions as dist
from metareview.stats._convergence import warn_convergence
from metareview.stats._design import WLS, Design, sum_studies
from metareview.stats._threads import thread_pool
from metareview.stats.tau2 import ESTIMATORS, Control, Tau2Fit, solve_generalised_q

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CHUNK_VALUES",
    "METHODS",
    "TESTS",
    "BatchResult",
    "Control",
    "QProfile",
    "chunk_rows",
    "fit_study_major",
    "keep_freed_memory",
    "rma_batch",
]

METHODS = Options(
    "method", ("EE", "DL", "REML", "ML", "PM", "HE", "HS", "SJ", "EB"), aliases={"FE": "EE"}
)
TESTS = Options("test", ("z", "knha"), aliases={"hksj": "knha"})  # not "t": metafor's t-test
# without the Knapp-Hartung scaling is a different test
_CLOSED_FORM = frozenset({"EE", "DL", "HE", "HS", "SJ"})


#: chi-square tails by finite sums for df up to this; scipy's chdtrc above
_CHI2_SUM_MAX_DF = 100


def chi2_upper_tail(df: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(X > x) for X ~ chi-square(df), integer df >= 1, elementwise.

    For integer df the regularised upper incomplete gamma function Q(df/2, x/2) is a finite
    sum (Abramowitz & Stegun, 1964, Handbook of Mathematical Functions, 26.4.4 and 26.4.5):
    with y = x/2, exp(-y) sum_{j < df/2} y^j / j! for even df, and
    erfc(sqrt y) + exp(-y) sqrt(y) sum_{j < (df-1)/2} y^j / Gamma(j + 3/2) for odd df, here
    summed by Horner's rule. For the df of small meta-analyses this is 1.5 to 10 times faster
    than scipy's ``chdtrc`` (Cephes igamc) and agrees with it to about 1e-16 relative (1e-13
    at worst, for p-values far in the tail). ``chdtrc`` is used for df > 100 and for
    y >= 700, where exp(-y) underflows.
    """
    df = np.broadcast_to(np.asarray(df), np.shape(x))
    x = np.asarray(x, dtype=float)
    out = np.empty(x.shape)
    low, high = (int(df.min()), int(df.max())) if df.size else (1, 0)
    for d in range(low, high + 1) if high - low < 8 else np.unique(df):
        rows = slice(None) if low == high else (df == d)
        y = x[rows] / 2
        if d > _CHI2_SUM_MAX_DF:
            out[rows] = special.chdtrc(d, x[rows])
            continue
        terms, odd = divmod(int(d), 2)
        step = 0.5 if odd else 0.0  # the sum's j-th term is y^j / Gamma(j + 1 + step) ...
        total = np.ones_like(y)
        for j in range(terms - 1, 0, -1):
            total *= y / (j + step)
            total += 1
        with np.errstate(over="ignore", invalid="ignore"):
            tail = np.exp(-y) * total
            if odd:  # ... times Gamma(1 + step) = sqrt(pi) / 2 for odd df
                tail *= np.sqrt(y) * (2 / np.sqrt(np.pi)) if terms else 0.0
                tail += special.erfc(np.sqrt(y))
        far = y >= 700
        if far.any():
            tail[far] = special.chdtrc(d, x[rows][far])
        out[rows] = tail
    return out


#: the interval columns a :class:`QProfile` computes
INTERVALS = ("tau2_ci_lb", "tau2_ci_ub", "I2_ci_lb", "I2_ci_ub", "H2_ci_lb", "H2_ci_ub")


class QProfile:
    """The Q-profile intervals of a batch, computed on first use and then kept.

    Holds, per chunk of the batch, the study-major inputs the intervals need; computing
    them releases those. All six bounds are NaN where no interval was asked for, for EE and
    for saturated rows (k = p), as :func:`qprofile_tau2` and metafor.
    """

    __slots__ = ("_lock", "_parts", "_size", "_threads", "_values")

    def __init__(
        self, size: int, parts: list[tuple[int, tuple]] | None = None, threads: int | None = 1
    ) -> None:
        self._size = size
        self._parts = parts or []  # (first row, (Y, V, m, design, vt, regular, alpha, control))
        self._threads = threads
        self._values: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    @classmethod
    def of_chunk(
        cls, Y, V, m, design: Design, vt, regular, alpha: float, control: Control
    ) -> QProfile:
        """The intervals of one study-major chunk, to be computed when read."""
        return cls(Y.shape[1], [(0, (Y, V, m, design, vt, regular, alpha, control))])

    @classmethod
    def join(cls, parts: list[QProfile], threads: int | None) -> QProfile:
        """The intervals of consecutive chunks as one batch (none computed yet)."""
        joined, first = [], 0
        for part in parts:
            joined += [(first + start, inputs) for start, inputs in part._parts]
            first += part._size
        return cls(first, joined, threads)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with the bounds computed (the inputs and the lock are not pickled)."""
        return {"size": self._size, "threads": self._threads, "values": self.bounds()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._size, self._threads, self._values = state["size"], state["threads"], state["values"]
        self._parts = []
        self._lock = threading.Lock()

    def bounds(self) -> dict[str, np.ndarray]:
        """The six bounds, computed now if not yet."""
        with self._lock:
            if self._values is None:
                values = {name: np.full(self._size, np.nan) for name in INTERVALS}

                def compute(part: tuple[int, tuple]) -> None:
                    start, inputs = part
                    for name, value in _qprofile_bounds(*inputs).items():
                        values[name][start : start + value.size] = value

                with thread_pool(self._threads, len(self._parts)) as pool:
                    list(pool.map(compute, self._parts))
                self._values, self._parts = values, []
            return self._values


def _qprofile_bounds(
    Y, V, m, design: Design, vt, regular, alpha: float, control: Control
) -> dict[str, np.ndarray]:
    """Q-profile bounds of tau2 for the rows ``regular`` of a chunk, and of I2 and H2."""
    B = Y.shape[1]
    lb, ub = np.full(B, np.nan), np.full(B, np.nan)
    rows = np.flatnonzero(regular)
    lb[rows], ub[rows] = qprofile_tau2(
        Y[:, rows], V[:, rows], m[:, rows], design.take(rows), alpha, control
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return {
            "tau2_ci_lb": lb,
            "tau2_ci_ub": ub,
            "I2_ci_lb": 100 * lb / (vt + lb),
            "I2_ci_ub": 100 * ub / (vt + ub),
            "H2_ci_lb": lb / vt + 1,
            "H2_ci_ub": ub / vt + 1,
        }


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Arrays of results for B meta-analyses (row b is meta-analysis b).

    Coefficient arrays have shape (B, p); the intercept-only ``estimate`` is ``beta[:, 0]``.
    ``pi_lb``/``pi_ub`` are the prediction interval for intercept-only random-effects models
    (NaN for meta-regression and for EE, as metafor);
    ``tau2_ci_lb``/``tau2_ci_ub`` and the matching I2/H2 bounds come from the Q-profile
    method (NaN when not requested or for EE). They cost two root searches per
    meta-analysis, more than a DL fit, so they are computed when first read (all six at
    once); until then the result keeps the study-major copies of Y and V they need.
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
    I2: np.ndarray
    H2: np.ndarray
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
    qprofile: QProfile = field(repr=False)

    @property
    def tau2_ci_lb(self) -> np.ndarray:
        """Lower Q-profile confidence bound of tau2 (computed on first use)."""
        return self.qprofile.bounds()["tau2_ci_lb"]

    @property
    def tau2_ci_ub(self) -> np.ndarray:
        """Upper Q-profile confidence bound of tau2 (computed on first use)."""
        return self.qprofile.bounds()["tau2_ci_ub"]

    @property
    def I2_ci_lb(self) -> np.ndarray:
        """Lower confidence bound of I2, from the tau2 bound."""
        return self.qprofile.bounds()["I2_ci_lb"]

    @property
    def I2_ci_ub(self) -> np.ndarray:
        """Upper confidence bound of I2, from the tau2 bound."""
        return self.qprofile.bounds()["I2_ci_ub"]

    @property
    def H2_ci_lb(self) -> np.ndarray:
        """Lower confidence bound of H2, from the tau2 bound."""
        return self.qprofile.bounds()["H2_ci_lb"]

    @property
    def H2_ci_ub(self) -> np.ndarray:
        """Upper confidence bound of H2, from the tau2 bound."""
        return self.qprofile.bounds()["H2_ci_ub"]

    # p-values are computed on access: GOSH and simulations over millions of rows rarely
    # need them, and the chi-square tail costs more than the whole DL fit.

    @property
    def pval(self) -> np.ndarray:
        """p-values of the coefficients (z, or t with k - p df for knha): (B, p)."""
        with np.errstate(invalid="ignore"):
            if self.test == "knha":
                return 2 * dist.t.sf(np.abs(self.zval), self.ddf[:, None])
            return 2 * special.ndtr(-np.abs(self.zval))

    @property
    def QEp(self) -> np.ndarray:
        """p-value of Cochran's Q test (chi-square, k - p df; 1 where k = p)."""
        df = self.k - self.p
        return np.where(df > 0, chi2_upper_tail(np.maximum(df, 1), self.QE), 1.0)

    @property
    def QMp(self) -> np.ndarray:
        """p-value of the omnibus test of moderators (or of the intercept when p = 1)."""
        n_tested = max(self.p - 1, 1)
        with np.errstate(invalid="ignore"):
            if self.test == "knha":
                # ddf = inf marks a saturated row, which falls back to the z-test (chi-square)
                return np.where(
                    np.isinf(self.ddf),
                    special.chdtrc(n_tested, n_tested * self.QM),
                    special.fdtrc(n_tested, self.ddf, self.QM),
                )
            if self.p == 1:
                return self.pval[:, 0]
            return special.chdtrc(n_tested, self.QM)

    @property
    def estimate(self) -> np.ndarray:
        """The first coefficient (the pooled effect of an intercept-only model)."""
        return self.beta[:, 0]

    def to_frame(self) -> pd.DataFrame:
        """One row per meta-analysis with the scalar result columns of ``rma().to_dict()``."""
        import pandas as pd

        return pd.DataFrame(self.columns())

    def columns(self) -> dict[str, np.ndarray]:
        """The columns of :meth:`to_frame`, in order, as arrays."""
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
        for name in (
            "tau2",
            "se_tau2",
            "tau2_ci_lb",
            "tau2_ci_ub",
            "I2",
            "H2",
            "QE",
            "QEp",
            "k",
            "converged",
            "iterations",
            "tau2_reset",
        ):
            cols[name] = getattr(self, name)
        return cols


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
    threads: int | None = None,
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
        Provide Q-profile confidence intervals for tau2, I2 and H2. They are computed when
        one of them is first read (the result keeps its inputs until then); with False they
        are NaN and the inputs are not kept.
    allow_saturated : bool
        Accept rows with as many studies as coefficients (k = p, e.g. a single study), fitted
        as metafor does: tau2 = 0, QE = 0, I2 = 0, H2 = 1 (used by cumulative and GOSH
        analyses); under ``test="knha"`` such a row uses the z-test (``ddf`` = inf), as
        metafor's ``rma`` does at k = 1.
    control : Control or dict, optional
        Convergence settings; see :class:`metareview.stats.tau2.Control`.
    threads : int, optional
        Chunks of meta-analyses fitted at once on a pool of threads (numpy computes without
        Python's global lock); default the number of CPUs this process may use. The result
        is the same, bit for bit, for any number.

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
    B, k = Y.shape
    _check_counts(m.sum(axis=1) if m is not None else np.full(B, k), design.p, allow_saturated)
    # in chunks, each transposed to study-major on its own: the arrays of a chunk stay in
    # the CPU cache, and results do not depend on the chunking (each row is on its own; with
    # moderators, only as long as no chunk is tiny: numpy's einsum rounds differently for a
    # handful of rows, hence chunks of equal size) nor on the threads fitting them
    count = -(-B // chunk_rows(method, tau2_ci, k))
    size = -(-B // max(count, 1))
    chunks = [slice(start, start + size) for start in range(0, max(B, 1), size)]

    def fit(rows: slice) -> BatchResult:
        return fit_study_major(
            np.ascontiguousarray(Y[rows].T),
            np.ascontiguousarray(V[rows].T),
            None if m is None else np.ascontiguousarray(m[rows].T, dtype=float),
            design.take(rows),
            method=method,
            test=test,
            alpha=alpha,
            tau2_ci=tau2_ci,
            allow_saturated=allow_saturated,
            control=control,
        )

    first = fit(chunks[0])
    if len(chunks) == 1:
        res = first
    else:  # each chunk's results written straight into arrays for the whole batch
        arrays = {
            f.name: np.empty((B, *value.shape[1:]), dtype=value.dtype)
            for f in fields(BatchResult)
            if isinstance(value := getattr(first, f.name), np.ndarray)
        }
        qprofiles: list[QProfile] = [first.qprofile] + [QProfile(0)] * (len(chunks) - 1)

        def store(index: int, part: BatchResult) -> None:
            rows = chunks[index]
            for name, out in arrays.items():
                out[rows] = getattr(part, name)
            qprofiles[index] = part.qprofile

        store(0, first)
        with thread_pool(threads, len(chunks) - 1) as pool:
            for index, part in enumerate(pool.map(fit, chunks[1:]), start=1):
                store(index, part)
        res = BatchResult(
            **arrays,
            method=first.method,
            test=first.test,
            level=first.level,
            p=first.p,
            qprofile=QProfile.join(qprofiles, threads),
        )
    warn_convergence(
        res.method, res.converged, res.tau2_reset, maxiter=control.maxiter, stacklevel=2
    )
    return res


#: fits go in chunks of about this many values (k x meta-analyses): (k, B) arrays of 2 MB
#: for closed-form estimators, 4 MB for iterative ones, whose slow tail is then shared by more
#: meta-analyses (fastest on 1,000,000 x k = 10; see bench/bench_scale.py)
CHUNK_VALUES = {"closed": 2**18, "iterative": 2**19}


def chunk_rows(method: str, tau2_ci: bool, k: int) -> int:
    """Meta-analyses of k studies per chunk of a batch fitted with ``method``."""
    iterative = method not in _CLOSED_FORM or (tau2_ci and method != "EE")
    return max(1, CHUNK_VALUES["iterative" if iterative else "closed"] // max(int(k), 1))


def _check_counts(k: np.ndarray, p: int, allow_saturated: bool) -> None:
    too_small = k < p if allow_saturated else k <= p
    if np.any(too_small):
        rows = np.flatnonzero(too_small)[:6].tolist()
        need = f"k >= {p}" if allow_saturated else f"k > {p}"
        raise InputError(
            f"each meta-analysis needs more studies than coefficients ({need}); "
            f"rows {rows} have fewer."
        )


def fit_study_major(
    Y,
    V,
    m,
    design: Design,
    *,
    method: str,
    test: str,
    alpha: float,
    tau2_ci: bool,
    allow_saturated: bool,
    control: Control,
) -> BatchResult:
    """:func:`rma_batch` on checked, study-major (k, B) arrays, without warnings.

    ``Y`` and ``V`` are finite with ``V > 0`` where ``m`` (0/1 floats, or None: all studies)
    is 1; ``method``, ``test`` and ``control`` are checked and ``alpha = 1 - level``. Used by
    :func:`rma_batch` and by :func:`metareview.batch`, which builds study-major arrays
    directly and warns once for the whole table.
    """
    B = Y.shape[1]
    if m is None:
        m = np.broadcast_to(1.0, Y.shape)
        k = np.full(B, float(Y.shape[0]))
    else:
        k = sum_studies(m)
    p = design.p
    _check_counts(k, p, allow_saturated)
    saturated = k == p
    regular = ~saturated

    fe = WLS.at(design, Y, V, m)  # the equal-effects fit: Q, vt, and the DL/HS moments
    # the sums QE and vt need (and the DL/HS standard errors), formed together
    fe.sums("rss", "w2", *(("w3",) if method in ("DL", "HS") else ()))
    fit_tau2 = _estimate_tau2(method, Y, V, m, design, control, regular, fe)
    tau2 = fit_tau2.tau2
    fit = fit_tau2.fit if fit_tau2.fit is not None else WLS.at(design, Y, V, m, tau2)
    vb = fit.A.copy()
    df_resid = (k - p).astype(float)
    if test == "knha":
        with np.errstate(divide="ignore", invalid="ignore"):
            s2w = np.where(fit.rss <= np.finfo(float).eps, 0.0, fit.rss / df_resid)
        # a saturated row (k = p) has no residual df for the Knapp-Hartung scale: like
        # metafor's rma.uni at k = 1 it falls back to the z-test (scale 1, ddf = inf)
        s2w = np.where(saturated, 1.0, s2w)
        ddf = np.where(saturated, np.inf, df_resid)
        vb = vb * s2w[:, None, None]
        crit = dist.t.isf(alpha / 2, ddf)
    else:
        s2w = np.ones(B)
        crit = _z_quantile(alpha / 2)  # the same for every row
        ddf = np.full(B, np.nan)
    se = np.sqrt(np.einsum("bii->bi", vb))
    beta = fit.beta
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zval = beta / se
    margin = (crit[:, None] if test == "knha" else crit) * se
    ci_lb = beta - margin
    ci_ub = beta + margin

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
    if saturated.any():
        I2 = np.where(saturated, 0.0, I2)
        H2 = np.where(saturated, 1.0, H2)

    if p == 1 and method != "EE":
        pi_se = np.sqrt(se[:, 0] ** 2 + tau2)
        pi_lb, pi_ub = beta[:, 0] - crit * pi_se, beta[:, 0] + crit * pi_se
    else:
        pi_lb = pi_ub = np.full(B, np.nan)

    if tau2_ci and method != "EE" and regular.any():  # computed when first read
        qprofile = QProfile.of_chunk(Y, V, m, design, vt, regular, alpha, control)
    else:  # no interval: all NaN
        qprofile = QProfile(B)

    return BatchResult(
        method=method,
        test=test,
        level=1 - alpha,
        beta=beta,
        se=se,
        zval=zval,
        ci_lb=ci_lb,
        ci_ub=ci_ub,
        vb=vb,
        tau2=tau2,
        se_tau2=fit_tau2.se_tau2,
        I2=I2,
        H2=H2,
        QE=QE,
        QM=QM,
        pi_lb=pi_lb,
        pi_ub=pi_ub,
        vt=vt,
        k=k.astype(int),
        p=p,
        ddf=ddf,
        s2w=s2w,
        converged=fit_tau2.converged,
        iterations=fit_tau2.iterations,
        tau2_reset=fit_tau2.reset_to_zero,
        qprofile=qprofile,
    )


def _estimate_tau2(method, Y, V, m, design, control, regular, fe: WLS) -> Tau2Fit:
    """Run the estimator on the rows with k > p; saturated rows get tau2 = 0."""
    if regular.all():
        fit = ESTIMATORS[method](Y, V, m, design, control, fe=fe)
        return fit if method != "EE" else replace(fit, fit=fe)  # tau2 = 0: fe is that fit
    if method in _CLOSED_FORM:
        # one pass over all rows (saturated ones give 0/0, overwritten) beats copying the rest
        with np.errstate(all="ignore"):
            fit = ESTIMATORS[method](Y, V, m, design, control, fe=fe)
        fit.tau2[~regular] = 0.0
        fit.se_tau2[~regular] = np.nan
        return Tau2Fit(fit.tau2, fit.se_tau2, fit.iterations, fit.converged, fit.reset_to_zero)
    B = Y.shape[1]
    out = Tau2Fit(
        np.zeros(B), np.full(B, np.nan), np.zeros(B, int), np.ones(B, bool), np.zeros(B, bool)
    )
    rows = np.flatnonzero(regular)
    if rows.size:
        part = ESTIMATORS[method](
            Y[:, rows], V[:, rows], m[:, rows], design.take(rows), control, fe=fe.take(rows)
        )
        for name in ("tau2", "se_tau2", "iterations", "converged", "reset_to_zero"):
            getattr(out, name)[rows] = getattr(part, name)
    return out


def qprofile_tau2(Y, V, m, design, alpha: float, control: Control):
    """Q-profile confidence interval for tau2 (Viechtbauer, 2007, Stat. Med. 26, 37-52).

    The bounds solve Q(tau2) = chi2_{k-p, 1-alpha/2} (lower) and chi2_{k-p, alpha/2}
    (upper); a bound whose equation has no non-negative root is 0, as in metafor.
    """
    df = (sum_studies(m) - design.p).astype(float)
    crit_upper = dist.chi2.isf(alpha / 2, df)
    crit_lower = dist.chi2.ppf(alpha / 2, df)
    lb, _, _ = solve_generalised_q(Y, V, m, design, crit_upper, control)
    ub, _, _ = solve_generalised_q(Y, V, m, design, crit_lower, control)
    return lb, ub


_freed_memory_kept = False


def keep_freed_memory() -> None:
    """Let the C allocator keep freed blocks of up to 32 MB for reuse (opt-in, per process).

    An explicit choice for programs that fit very many meta-analyses (the benchmarks, and an
    application such as a command-line tool that owns its process): the library itself never
    calls it, since it changes how the whole process returns memory to the operating system.

    glibc's malloc serves blocks above its mmap threshold (128 kB at start) with fresh mmaps
    and returns freed memory above its trim threshold (128 kB) at the top of the heap, so the
    kernel's temporaries -- a few hundred kB to a few MB each -- may be page-faulted in afresh
    at each use. glibc raises both thresholds by itself once a block it mmapped is freed: the
    mmap threshold to that block's size, at most 32 MB, and the trim threshold to twice that
    (mallopt(3), M_MMAP_THRESHOLD). This function allocates and frees one block of just under
    32 MB, never touched, to trigger that adjustment now; the process may then keep up to
    64 MB of freed memory. Much the same is obtained without code by starting Python with
    ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864``.
    With other allocators (macOS, Windows, musl) it is a harmless no-op. Calling it again does
    nothing. Measured effect (``bench/bench_malloc.py``, ``bench/README.md``, "Allocator"):
    the page faults of the chunked REML kernel go (128,000 to 128 per million fits, 0.3 s of
    system time), total CPU time changes by less than the run-to-run noise, and ``batch()``
    gains nothing measurable.

    Examples
    --------
    >>> import metareview.stats as ms
    >>> ms.keep_freed_memory()  # once, at the start of a long batch job  # doctest: +SKIP
    """
    global _freed_memory_kept
    if not _freed_memory_kept:
        np.empty(2**22 - 2**10)  # 32 MB less 8 kB: under glibc's cap, even with headers
        _freed_memory_kept = True


@lru_cache(maxsize=16)
def _z_quantile(q: float) -> float:
    """The upper q quantile of N(0, 1) (a scipy.stats call costs ~0.1 ms: once per level)."""
    return float(dist.norm.isf(q))


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
    # a sum or a minimum is NaN or infinite if any value is (a sum may also overflow: then
    # the entries are checked one by one), so a clean input costs no temporaries
    clean = bool(np.isfinite(Y.sum()) and np.isfinite(V.sum()) and V.min(initial=1) > 0)
    if mask is None:
        m = None if clean else np.isfinite(Y) & np.isfinite(V)
    else:
        m = np.atleast_2d(np.asarray(mask, dtype=bool))
        if m.shape != Y.shape:
            raise InputError(f"mask must have the shape of Y {Y.shape}; got {m.shape}.")
    if not clean:
        assert m is not None  # without a mask, m is None only for clean input
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
    k = Y.shape[1]
    if X is None:
        design = Design.intercept(k)
    else:
        Xa = np.asarray(X, dtype=float)
        if (Xa.ndim == 2 and Xa.shape[0] != k) or (Xa.ndim == 3 and Xa.shape[1] != k):
            raise InputError(f"X must have k = {k} rows per meta-analysis; got shape {Xa.shape}.")
        if not np.all(np.isfinite(Xa)):
            raise InputError(
                "X (moderators) must be finite; remove studies with missing moderators."
            )
        design = Design.from_matrix(Xa)
    return Y, V, None if m is None or m.all() else m, design
