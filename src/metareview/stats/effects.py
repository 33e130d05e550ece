"""Effect sizes and their sampling variances: :func:`escalc`.

One small function per measure, each citing its source. Defaults follow metafor 3.8
(Viechtbauer, 2010, ``escalc``): 1/2 is added to every cell of a 2x2 table, or to both cells of
a proportion, *only* in studies that have a zero cell (``to="only0"``), and not at all for the
arcsine-type measures PAS and PFT; SMD is the bias-corrected Hedges' g with the exact
correction factor; pre/post measures take the pre/post correlation ``ri``.

References
----------
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. Journal of
Statistical Software, 36(3), 1-48. https://doi.org/10.18637/jss.v036.i03
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from metareview._validation import (
    ADD,
    CORRELATION,
    NI_COLUMN,
    SLAB_COLUMN,
    Options,
    check_numeric,
    check_same_length,
    describe_rows,
    resolve_column,
    row_names,
)
from metareview.exceptions import InputError, MissingDataWarning

__all__ = ["MEASURES", "escalc"]

Arrays = dict[str, np.ndarray]

CONTINUITY = Options("to", ("only0", "all", "if0all", "none"), case_sensitive=True)


# --------------------------------------------------------------------------------------------
# shared pieces


def _cm(m: np.ndarray) -> np.ndarray:
    """Exact small-sample correction c(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)).

    Hedges (1981), J. Educ. Stat. 6(2), 107-128, eq. 6e; computed on the log scale so it does
    not overflow for large m. NaN for m <= 1.
    """
    from scipy.special import gammaln  # ~0.2 s to import: only the measures that need c(m)

    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))
    return np.where(m > 1, out, np.nan)


def _zero_mask(cells: Sequence[np.ndarray], to: str) -> np.ndarray:
    """Studies that receive the continuity correction under rule ``to``."""
    has_zero = np.zeros(len(cells[0]), dtype=bool)
    for c in cells:
        has_zero |= c == 0
    if to == "all":
        return np.ones_like(has_zero)
    if to == "only0":
        return has_zero
    if to == "if0all":
        return np.full_like(has_zero, has_zero.any())
    return np.zeros_like(has_zero)


def _require(arrays: Arrays, measure: str, *names: str) -> list[np.ndarray]:
    missing = [n for n in names if n not in arrays]
    if missing:
        raise InputError(
            f"measure {measure!r} needs {', '.join(names)}; missing {', '.join(missing)}. "
            f"Pass them as keyword arguments (arrays or column names of data)."
        )
    return [arrays[n] for n in names]


def _check_rule(
    bad: np.ndarray, column: str, rule: str, labels: Sequence[str], fix: str = ""
) -> None:
    bad = np.asarray(bad, dtype=bool)  # comparisons with NaN are False: missing is not bad
    if bad.any():
        raise InputError(f"{column} must be {rule}; violated at {describe_rows(bad, labels)}.{fix}")


# --------------------------------------------------------------------------------------------
# two-group binary outcomes (2x2 tables)


def _table(arrays: Arrays, measure: str, labels: Sequence[str], add: float, to: str):
    ai, ci = _require(arrays, measure, "ai", "ci")
    bi = arrays["bi"] if "bi" in arrays else _from_total(arrays, "n1i", ai, "bi", measure)
    di = arrays["di"] if "di" in arrays else _from_total(arrays, "n2i", ci, "di", measure)
    for name, cell in (("ai", ai), ("bi", bi), ("ci", ci), ("di", di)):
        _check_rule(cell < 0, name, ">= 0 (counts)", labels)
    for name, n in (("n1i", ai + bi), ("n2i", ci + di)):
        _check_rule(n <= 0, name, "> 0 (group sizes)", labels)
    corrected = _zero_mask((ai, bi, ci, di), to)
    a, b, c, d = (np.where(corrected, x + add, x) for x in (ai, bi, ci, di))
    return a, b, c, d


def _from_total(arrays: Arrays, total: str, events: np.ndarray, name: str, measure: str):
    if total not in arrays:
        raise InputError(f"measure {measure!r} needs {name} or {total}; neither was given.")
    n = arrays[total]
    return n - events


def _rr(a, b, c, d):
    """Log risk ratio; vi = 1/a - 1/n1 + 1/c - 1/n2 (Katz et al., 1978, Biometrics 34, 469)."""
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a / n1) - np.log(c / n2), 1 / a - 1 / n1 + 1 / c - 1 / n2


def _or(a, b, c, d):
    """Log odds ratio; vi = 1/a + 1/b + 1/c + 1/d (Woolf, 1955, Ann. Hum. Genet. 19, 251)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d


def _rd(a, b, c, d):
    """Risk difference; large-sample vi = p1(1-p1)/n1 + p2(1-p2)/n2."""
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def _peto(a, b, c, d):
    """Peto's one-step log odds ratio (O - E)/V, vi = 1/V (Yusuf et al., 1985, PCVD 27, 335)."""
    n1, n2 = a + b, c + d
    n = n1 + n2
    events, non_events = a + c, b + d
    expected = events * n1 / n
    hyper_var = events * non_events * (n1 / n) * (n2 / n) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi, vi = (a - expected) / hyper_var, 1 / hyper_var
    bad = ~np.isfinite(vi)
    return np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)


# --------------------------------------------------------------------------------------------
# single proportions and incidence rates


def _proportion(arrays: Arrays, measure: str, labels: Sequence[str], add: float, to: str):
    if "xi" in arrays:
        xi = arrays["xi"]
    elif "pi" in arrays and "ni" in arrays:
        _check_rule(
            (arrays["pi"] < 0) | (arrays["pi"] > 1),
            "pi",
            "between 0 and 1",
            labels,
            " Percentages must be divided by 100.",
        )
        xi = arrays["pi"] * arrays["ni"]
    else:
        raise InputError(f"measure {measure!r} needs xi and ni (or mi), or pi and ni.")
    if "ni" in arrays:
        ni = arrays["ni"]
    elif "mi" in arrays:
        ni = xi + arrays["mi"]
    else:
        raise InputError(f"measure {measure!r} needs ni (group sizes) or mi (non-events).")
    _check_rule(xi < 0, "xi", ">= 0 (event counts)", labels)
    _check_rule(ni <= 0, "ni", "> 0 (group sizes)", labels)
    _check_rule(xi > ni, "xi", "<= ni (events cannot exceed the group size)", labels)
    mi = ni - xi
    corrected = _zero_mask((xi, mi), to)
    x = np.where(corrected, xi + add, xi)
    n = x + np.where(corrected, mi + add, mi)
    return x, n


def _pr(x, n):
    """Raw proportion; vi = p(1-p)/n."""
    p = x / n
    return p, p * (1 - p) / n


def _pln(x, n):
    """Log proportion; vi = 1/x - 1/n."""
    with np.errstate(divide="ignore"):
        return np.log(x / n), 1 / x - 1 / n


def _plo(x, n):
    """Logit proportion; vi = 1/x + 1/(n-x)."""
    with np.errstate(divide="ignore"):
        return np.log(x / (n - x)), 1 / x + 1 / (n - x)


def _pas(x, n):
    """Arcsine square-root proportion; vi = 1/(4n) (Anscombe, 1948, Biometrika 35, 246)."""
    return np.arcsin(np.sqrt(x / n)), 1 / (4 * n)


def _pft(x, n):
    """Freeman-Tukey double arcsine; vi = 1/(4n+2) (Freeman & Tukey, 1950, AMS 21, 607)."""
    yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
    return yi, 1 / (4 * n + 2)


def _rate(arrays: Arrays, measure: str, labels: Sequence[str], add: float, to: str):
    xi, ti = _require(arrays, measure, "xi", "ti")
    _check_rule(xi < 0, "xi", ">= 0 (event counts)", labels)
    _check_rule(ti <= 0, "ti", "> 0 (person-time)", labels)
    corrected = _zero_mask((xi,), to)
    return np.where(corrected, xi + add, xi), ti


def _ir(x, t):
    """Incidence rate x/t; vi = x/t^2."""
    return x / t, x / t**2


def _irln(x, t):
    """Log incidence rate; vi = 1/x."""
    with np.errstate(divide="ignore"):
        return np.log(x / t), 1 / x


# --------------------------------------------------------------------------------------------
# two-group continuous outcomes


def _two_groups(arrays: Arrays, measure: str, labels: Sequence[str]):
    m1, sd1, n1, m2, sd2, n2 = _require(arrays, measure, "m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
    _check_rule((sd1 < 0), "sd1i", ">= 0", labels)
    _check_rule((sd2 < 0), "sd2i", ">= 0", labels)
    _check_rule((n1 <= 0), "n1i", "> 0", labels)
    _check_rule((n2 <= 0), "n2i", "> 0", labels)
    return m1, sd1, n1, m2, sd2, n2


def _md(m1, sd1, n1, m2, sd2, n2):
    """Raw mean difference; vi = sd1^2/n1 + sd2^2/n2 (no equal-variance assumption)."""
    return m1 - m2, sd1**2 / n1 + sd2**2 / n2


def _smd(m1, sd1, n1, m2, sd2, n2):
    """Hedges' g: c(m) (m1-m2)/sd_pooled with m = n1+n2-2; vi = 1/n1 + 1/n2 + g^2/(2(n1+n2)).

    Hedges (1981); vi is Hedges & Olkin (1985), Statistical Methods for Meta-Analysis, eq. 5.15.
    """
    m = n1 + n2 - 2
    sd_pooled = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / m)
    g = _cm(m) * (m1 - m2) / sd_pooled
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))


def _rom(m1, sd1, n1, m2, sd2, n2):
    """Log ratio of means; vi = sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2) (Hedges et al., 1999,
    Ecology 80, 1150)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(m1 / m2), sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2)


# --------------------------------------------------------------------------------------------
# single-group pre/post (change) outcomes


def _prepost(arrays: Arrays, measure: str, labels: Sequence[str]):
    needs = (
        ("m1i", "m2i", "sd1i", "ni", "ri")
        if measure == "SMCR"
        else ("m1i", "m2i", "sd1i", "sd2i", "ni", "ri")
    )
    got = dict(zip(needs, _require(arrays, measure, *needs), strict=True))
    _check_rule(np.abs(got["ri"]) > 1, "ri", "between -1 and 1 (a correlation)", labels)
    _check_rule(got["sd1i"] < 0, "sd1i", ">= 0", labels)
    if "sd2i" in got:
        _check_rule(got["sd2i"] < 0, "sd2i", ">= 0", labels)
    _check_rule(got["ni"] <= 0, "ni", "> 0", labels)
    return got


def _sd_change(g: Arrays) -> np.ndarray:
    return np.sqrt(g["sd1i"] ** 2 + g["sd2i"] ** 2 - 2 * g["ri"] * g["sd1i"] * g["sd2i"])


def _mc(g: Arrays):
    """Raw mean change m1-m2; vi = (sd1^2 + sd2^2 - 2 r sd1 sd2)/n."""
    return g["m1i"] - g["m2i"], _sd_change(g) ** 2 / g["ni"]


def _smcc(g: Arrays):
    """Standardised mean change, change-score standardisation: c(n-1)(m1-m2)/sd_change;
    vi = 1/n + y^2/(2n) (Gibbons et al., 1993, J. Educ. Stat. 18, 271)."""
    n = g["ni"]
    yi = _cm(n - 1) * (g["m1i"] - g["m2i"]) / _sd_change(g)
    return yi, 1 / n + yi**2 / (2 * n)


def _smcr(g: Arrays):
    """Standardised mean change, raw-score standardisation: c(n-1)(m1-m2)/sd1;
    vi = 2(1-r)/n + y^2/(2n) (Becker, 1988, Br. J. Math. Stat. Psychol. 41, 257)."""
    n = g["ni"]
    yi = _cm(n - 1) * (g["m1i"] - g["m2i"]) / g["sd1i"]
    return yi, 2 * (1 - g["ri"]) / n + yi**2 / (2 * n)


# --------------------------------------------------------------------------------------------
# correlations and generic


def _correlation(arrays: Arrays, measure: str, labels: Sequence[str]):
    ri, ni = _require(arrays, measure, "ri", "ni")
    _check_rule(np.abs(ri) > 1, "ri", "between -1 and 1 (a correlation)", labels)
    _check_rule(ni <= 0, "ni", "> 0", labels)
    return ri, ni


def _cor(ri, ni):
    """Raw correlation; vi = (1-r^2)^2/(n-1)."""
    return ri.copy(), (1 - ri**2) ** 2 / (ni - 1)


def _zcor(ri, ni):
    """Fisher's r-to-z; vi = 1/(n-3) (Fisher, 1921, Metron 1, 3), NaN for n <= 3."""
    with np.errstate(divide="ignore"):
        return np.arctanh(ri), np.where(ni > 3, 1 / (ni - 3), np.nan)


def _generic(arrays: Arrays, labels: Sequence[str]):
    if "yi" not in arrays:
        raise InputError("measure 'GEN' needs yi and vi (or sei).")
    yi = arrays["yi"]
    if "vi" in arrays:
        vi = arrays["vi"]
    elif "sei" in arrays:
        _check_rule(arrays["sei"] < 0, "sei", ">= 0 (standard errors)", labels)
        vi = arrays["sei"] ** 2
    else:
        raise InputError("measure 'GEN' needs vi (sampling variances) or sei (standard errors).")
    _check_rule(vi < 0, "vi", ">= 0 (sampling variances)", labels)
    return yi.copy(), vi.copy()


_TABLE = {"RR": _rr, "OR": _or, "RD": _rd, "PETO": _peto}
_PROPORTION = {"PR": _pr, "PLN": _pln, "PLO": _plo, "PAS": _pas, "PFT": _pft}
_RATE = {"IR": _ir, "IRLN": _irln}
_TWO_GROUP = {"MD": _md, "SMD": _smd, "ROM": _rom}
_PREPOST: dict[str, Callable[[Arrays], tuple[np.ndarray, np.ndarray]]] = {
    "MC": _mc,
    "SMCC": _smcc,
    "SMCR": _smcr,
}
_CORRELATION = {"COR": _cor, "ZCOR": _zcor}

MEASURES = Options(
    "measure",
    tuple([*_TABLE, *_PROPORTION, *_RATE, *_TWO_GROUP, *_PREPOST, *_CORRELATION, "GEN"]),
)

#: measures to which metafor adds nothing by default (add=0 unless given)
_NO_DEFAULT_ADD = {"PAS", "PFT"}

_INPUT_NAMES = (
    "ai",
    "bi",
    "ci",
    "di",
    "n1i",
    "n2i",
    "xi",
    "mi",
    "ni",
    "pi",
    "ti",
    "ri",
    "m1i",
    "m2i",
    "sd1i",
    "sd2i",
    "yi",
    "vi",
    "sei",
)


def escalc(
    measure: str,
    data: pd.DataFrame | None = None,
    *,
    slab: Any = None,
    add: float | None = None,
    to: str = "only0",
    var_names: tuple[str, str] = ("yi", "vi"),
    **columns: Any,
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi``, as metafor's ``escalc``.

    Parameters
    ----------
    measure : str
        One of PR, PLN, PLO, PAS, PFT (proportions: ``xi``, ``ni`` or ``mi``; or ``pi`` as
        proportions with ``ni``), RR, OR, RD, PETO (2x2 tables: ``ai, bi, ci, di`` or
        ``ai, ci, n1i, n2i``), MD, SMD, ROM (``m1i, sd1i, n1i, m2i, sd2i, n2i``), MC, SMCC, SMCR
        (pre/post: ``m1i, m2i, sd1i, sd2i, ni, ri``; SMCR needs no ``sd2i``), COR, ZCOR
        (``ri, ni``), IR, IRLN (``xi, ti``), GEN (``yi`` with ``vi`` or ``sei``).
    data : DataFrame, optional
        When given, column arguments may be column names and the result is a copy of
        ``data`` with ``yi`` and ``vi`` added.
    slab : array-like or str, optional
        Study labels: kept in column ``slab`` (where :func:`metareview.rma`, and through it
        the figures, find them), used in messages, and the index when ``data`` is not given.
    add : float, optional
        Continuity correction; default 1/2 (0 for PAS and PFT), as metafor.
    to : {"only0", "all", "if0all", "none"}
        Which studies receive ``add``: only those with a zero cell (default), all, all if any
        study has a zero cell, or none.
    var_names : (str, str)
        Names of the two output columns.
    **columns
        The measure's inputs, as arrays or column names of ``data``. ``ri`` may also be one
        number in [-1, 1], the correlation assumed for every study (pre/post measures).

    Returns
    -------
    DataFrame
        Columns ``yi`` (effect size) and ``vi`` (sampling variance), plus the columns of
        ``data`` when given; ``slab`` (study labels) when ``slab`` is given; and, for
        proportions, ``ni`` (sample sizes, used by the Freeman-Tukey back-transformation).
        Being columns, they stay with their rows when the frame is filtered (masks,
        ``.iloc``, ``.query``) or concatenated. ``.attrs["measure"]`` holds the measure.

    Raises
    ------
    InputError
        Unknown measure, missing inputs, lengths that disagree, or impossible values
        (negative counts or SDs, events above the group size, ``|r| > 1``); the message names
        the rows and studies.

    Warns
    -----
    MissingDataWarning
        When missing inputs give missing effect sizes (named by row).

    Notes
    -----
    Formulas and defaults follow metafor 3.8 (``help(escalc)``); each measure's function
    cites its source.

    Examples
    --------
    >>> es = escalc("PLO", xi=[4, 10], ni=[20, 40])
    >>> es.round(4).to_dict("list")
    {'ni': [20.0, 40.0], 'yi': [-1.3863, -1.0986], 'vi': [0.3125, 0.1333]}
    """
    measure = MEASURES.check(measure)
    to = CONTINUITY.check(to)
    if (
        not isinstance(var_names, tuple | list)
        or len(var_names) != 2
        or not all(isinstance(v, str) and v for v in var_names)
        or var_names[0] == var_names[1]
    ):
        raise InputError(
            f"var_names must be two different column names, e.g. ('yi', 'vi'); got {var_names!r}."
        )
    add = (0.0 if measure in _NO_DEFAULT_ADD else 0.5) if add is None else ADD.check(add)
    unknown = sorted(set(columns) - set(_INPUT_NAMES))
    if unknown:
        raise InputError(
            f"unknown input {', '.join(unknown)} for escalc; accepted names are "
            f"{', '.join(_INPUT_NAMES)} (metafor's argument names)."
        )
    if data is not None and not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame; got {type(data).__name__}.")
    raw = {k: resolve_column(k, v, data) for k, v in columns.items() if v is not None}
    assumed_r = None
    if "ri" in raw and np.ndim(raw["ri"]) == 0 and len(raw) > 1:
        # one pre/post correlation assumed for every study (often all a review can do)
        assumed_r = CORRELATION.check(raw.pop("ri"), "ri")
    n_rows = check_same_length({k: np.asarray(v).reshape(-1) for k, v in raw.items()})
    if assumed_r is not None:
        raw["ri"] = np.full(n_rows, assumed_r)
    if n_rows == 0 and data is not None:
        n_rows = len(data)
    slab_values = resolve_column("slab", slab, data) if slab is not None else None
    labels = row_names(data, n_rows, slab_values)
    arrays = {k: check_numeric(k, v, labels) for k, v in raw.items()}

    yi, vi = _compute(measure, arrays, labels, add, to)
    _warn_missing(arrays, yi, vi, labels, measure)

    if data is not None:
        out = data.copy()
    else:
        index = pd.Index(labels, name="study") if slab_values is not None else None
        out = pd.DataFrame(index=index if index is not None else pd.RangeIndex(n_rows))
    # what belongs to each row travels as a column, so that subsetting and concatenating
    # the rows keeps it right (pandas does not subset .attrs); the measure is one for the frame
    if slab_values is not None:
        _add_column(out, SLAB_COLUMN, list(labels), "the study labels (slab)")
    if measure in _PROPORTION:
        ni = arrays.get("ni", arrays.get("xi", np.zeros(n_rows)) + arrays.get("mi", 0))
        _add_column(out, NI_COLUMN, ni, "the sample sizes")
    out[var_names[0]] = yi
    out[var_names[1]] = vi
    out.attrs["measure"] = measure
    return out


def _add_column(out: pd.DataFrame, name: str, values: Any, what: str) -> None:
    """Put ``values`` in column ``name``, refusing to overwrite a different column of data."""
    if name == SLAB_COLUMN:
        values = [str(v) for v in values]
        same = name in out.columns and out[name].astype(str).tolist() == values
    else:
        values = np.asarray(values, dtype=float)
        same = name in out.columns and np.array_equal(
            pd.to_numeric(out[name], errors="coerce").to_numpy(float), values, equal_nan=True
        )
    if name not in out.columns:
        out[name] = values
    elif not same:
        raise InputError(
            f"escalc stores {what} in column {name!r}, but data already has a different "
            f"column {name!r}; rename that column first."
        )


def _compute(measure: str, arrays: Arrays, labels: Sequence[str], add: float, to: str):
    if measure in _TABLE:
        return _TABLE[measure](*_table(arrays, measure, labels, add, to))
    if measure in _PROPORTION:
        return _PROPORTION[measure](*_proportion(arrays, measure, labels, add, to))
    if measure in _RATE:
        return _RATE[measure](*_rate(arrays, measure, labels, add, to))
    if measure in _TWO_GROUP:
        return _TWO_GROUP[measure](*_two_groups(arrays, measure, labels))
    if measure in _PREPOST:
        return _PREPOST[measure](_prepost(arrays, measure, labels))
    if measure in _CORRELATION:
        return _CORRELATION[measure](*_correlation(arrays, measure, labels))
    return _generic(arrays, labels)


def _warn_missing(arrays: Arrays, yi, vi, labels, measure: str) -> None:
    missing = np.isnan(yi) | np.isnan(vi)
    if not missing.any():
        return
    cols = [k for k, v in arrays.items() if np.isnan(v[missing]).any()]
    reason = f"missing input in {', '.join(cols)}" if cols else "the inputs give no finite value"
    warnings.warn(
        f"escalc({measure!r}): yi/vi are missing at {describe_rows(missing, labels)} ({reason}).",
        MissingDataWarning,
        stacklevel=3,
    )
