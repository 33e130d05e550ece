"""Inter-rater agreement for screening and extraction decisions.

- :func:`cohen_kappa`: two raters; kappa with its large-sample standard error and CI
  (Fleiss, Cohen & Everitt, 1969), percent agreement and PABAK (Byrt, Bishop & Carlin, 1993).
- :func:`krippendorff_alpha`: any number of raters, each rating any subset of the records
  (nominal data; Krippendorff, 2011) -- correct when the set of reviewers varies by record or
  a reviewer is removed.
- :func:`fleiss_kappa`: a fixed number of ratings per record (Fleiss, 1971).

Ratings come as a long table (record, rater, rating) or a wide one (records x raters, missing
as NaN/None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metareview._validation import check_level
from metareview.exceptions import InputError
from metareview.stats import _distributions as dist

__all__ = [
    "KAPPA_CI_NOTE",
    "KappaResult",
    "cohen_kappa",
    "fleiss_kappa",
    "kappa_ci_shown",
    "krippendorff_alpha",
    "wide_ratings",
]


#: how a printed kappa interval says that it was cut at the bounds of kappa
KAPPA_CI_NOTE = (
    "The large-sample CI of kappa (Fleiss, Cohen & Everitt, 1969) can pass the range of "
    "kappa with few records; its bounds are shown cut at -1 and 1."
)


def kappa_ci_shown(ci_lb: float, ci_ub: float) -> tuple[float, float, bool]:
    """The CI of a kappa as a reader expects it: cut at [-1, 1], and whether it was cut.

    The published large-sample interval (kappa -/+ z * se) is kept in the numbers
    (``KappaResult.ci_lb``/``ci_ub``, ``to_dict()``); printed output shows it within the
    range of kappa, with :data:`KAPPA_CI_NOTE` when a bound was cut.

    Examples
    --------
    >>> kappa_ci_shown(-0.368, 1.168)
    (-0.368, 1.0, True)
    >>> kappa_ci_shown(0.151, 0.649)
    (0.151, 0.649, False)
    """
    lb, ub = float(np.clip(ci_lb, -1, 1)), float(np.clip(ci_ub, -1, 1))
    cut = bool((ci_lb < -1) or (ci_ub > 1))
    return lb, ub, cut


@dataclass(frozen=True, slots=True)
class KappaResult:
    """Cohen's kappa between two raters.

    ``ci_lb``/``ci_ub`` are the large-sample interval at ``level`` as published (it may pass
    -1 or 1 with few records); :meth:`summary` and ``str()`` show it cut at [-1, 1] with a
    note, as a reader expects.
    """

    kappa: float
    se: float
    ci_lb: float
    ci_ub: float
    percent_agreement: float
    expected_agreement: float
    pabak: float
    n: int
    categories: tuple[Any, ...]
    level: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def summary(self) -> str:
        """Kappa with its CI (cut at [-1, 1], with a note when cut), agreement and PABAK."""
        lb, ub, cut = kappa_ci_shown(self.ci_lb, self.ci_ub)
        lines = [
            f"Cohen's kappa = {self.kappa:.3f} (SE {self.se:.3f}; {100 * self.level:g}% CI "
            f"{lb:.3f} to {ub:.3f}{' *' if cut else ''}), n = {self.n} records",
            f"Observed agreement {self.percent_agreement:.1%}, expected by chance "
            f"{self.expected_agreement:.1%}; PABAK = {self.pabak:.3f}",
        ]
        if cut:
            lines.append(f"* {KAPPA_CI_NOTE} (Formula: {self.ci_lb:.3f} to {self.ci_ub:.3f}.)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def wide_ratings(
    data: pd.DataFrame, record: str = "record", rater: str = "rater", rating: str = "rating"
) -> pd.DataFrame:
    """Long (record, rater, rating) rows to a records x raters table (missing = NaN).

    Raises InputError if a rater rated a record twice (resolve it first: which one counts?).
    """
    for column in (record, rater, rating):
        if column not in data.columns:
            raise InputError(
                f"ratings: column {column!r} not found; columns are {list(data.columns)}."
            )
    dup = data.duplicated([record, rater], keep=False)
    if dup.any():
        first = data[dup].iloc[0]
        raise InputError(
            f"ratings: rater '{first[rater]}' rated record '{first[record]}' more "
            "than once; keep one decision per rater and record."
        )
    return data.pivot(index=record, columns=rater, values=rating)


def cohen_kappa(first: Any, second: Any, level: float = 0.95) -> KappaResult:
    """Cohen's kappa for two raters over the records both rated.

    Parameters
    ----------
    first, second : sequence
        One rating per record from each rater (None where a rater did not rate).
    level : float
        Confidence level of the interval, 0.95 or 95.

    Notes
    -----
    kappa = (p_o - p_e) / (1 - p_e). The standard error is the large-sample (non-null)
    formula of Fleiss, Cohen & Everitt (1969, Psychol. Bull. 72, 323-327), as R's
    ``psych::cohen.kappa``; PABAK = (q p_o - 1)/(q - 1) for q categories.

    Examples
    --------
    >>> r1 = ["yes"] * 25 + ["no"] * 25
    >>> r2 = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    >>> round(cohen_kappa(r1, r2).kappa, 4)
    0.4
    """
    level = check_level(level)
    for name, ratings in (("first", first), ("second", second)):
        if isinstance(ratings, str) or not isinstance(ratings, Iterable):
            raise InputError(
                f"cohen_kappa: {name} must be a sequence of ratings, one per "
                f"record; got {type(ratings).__name__}."
            )
    a = pd.Series(list(first), dtype=object)
    b = pd.Series(list(second), dtype=object)
    if len(a) != len(b):
        raise InputError(
            f"cohen_kappa: the raters have {len(a)} and {len(b)} ratings; give "
            "one per record each (None where a rater did not rate)."
        )
    both = a.notna() & b.notna()
    a, b = a[both], b[both]
    n = int(both.sum())
    if n == 0:
        raise InputError("cohen_kappa: no record was rated by both raters.")
    categories = tuple(sorted(set(a) | set(b), key=str))
    q = len(categories)
    table = (
        pd.crosstab(
            pd.Categorical(a, categories), pd.Categorical(b, categories), dropna=False
        ).to_numpy(float)
        / n
    )
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    p_o = float(np.trace(table))
    p_e = float(rows @ cols)
    if p_e == 1:
        raise InputError(
            "cohen_kappa: both raters used a single category for every record; "
            "kappa is undefined (report percent agreement)."
        )
    kappa = (p_o - p_e) / (1 - p_e)
    diag = np.diag(table)
    part_a = np.sum(diag * (1 - (rows + cols) * (1 - kappa)) ** 2)
    off = ~np.eye(q, dtype=bool)
    part_b = (1 - kappa) ** 2 * np.sum(table[off] * (cols[:, None] + rows[None, :])[off] ** 2)
    part_c = (kappa - p_e * (1 - kappa)) ** 2
    se = float(np.sqrt(max(part_a + part_b - part_c, 0.0) / (n * (1 - p_e) ** 2)))
    crit = dist.norm.isf((1 - level) / 2)
    pabak = (q * p_o - 1) / (q - 1) if q > 1 else 1.0
    return KappaResult(
        float(kappa),
        se,
        float(kappa - crit * se),
        float(kappa + crit * se),
        p_o,
        p_e,
        float(pabak),
        n,
        categories,
        level,
    )


def krippendorff_alpha(ratings: pd.DataFrame | np.ndarray) -> float:
    """Krippendorff's alpha for nominal ratings; records x raters, missing allowed.

    Records rated by fewer than two raters carry no information and are ignored, so alpha
    stays correct when the reviewers differ between records.

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
    Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43

    Examples
    --------
    >>> import numpy as np
    >>> table = np.array([[1, 1, np.nan], [2, 2, 2], [1, 2, 1]], dtype=float)
    >>> krippendorff_alpha(table)  # by hand: 1 - (8 - 1) * 2 / 32
    0.5625
    """
    values = pd.DataFrame(ratings).to_numpy(dtype=object)
    categories = sorted({v for v in values.ravel() if not pd.isna(v)}, key=str)
    if len(categories) < 2:
        raise InputError("krippendorff_alpha needs at least two distinct ratings in the data.")
    index = {c: i for i, c in enumerate(categories)}
    coincidence = np.zeros((len(categories), len(categories)))
    for row in values:
        present = [index[v] for v in row if not pd.isna(v)]
        m = len(present)
        if m < 2:
            continue
        counts = np.bincount(present, minlength=len(categories)).astype(float)
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    total = n_c.sum()
    if total == 0:
        raise InputError("krippendorff_alpha: no record was rated by two or more raters.")
    observed = total - np.trace(coincidence)
    expected = (total**2 - np.sum(n_c**2)) / (total - 1)
    return float(1 - observed / expected) if expected > 0 else 1.0


def fleiss_kappa(ratings: pd.DataFrame | np.ndarray) -> float:
    """Fleiss' kappa: every record rated by the same number of raters (not necessarily the
    same raters). Use :func:`krippendorff_alpha` when that number varies.

    References
    ----------
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychol.
    Bull., 76, 378-382. https://doi.org/10.1037/h0031619
    """
    values = pd.DataFrame(ratings)
    per_record = values.notna().sum(axis=1)
    if per_record.nunique() != 1:
        raise InputError(
            f"fleiss_kappa needs the same number of ratings per record; found "
            f"{sorted(per_record.unique().tolist())}. Use krippendorff_alpha for varying raters."
        )
    m = int(per_record.iloc[0])
    if m < 2:
        raise InputError("fleiss_kappa needs at least two ratings per record.")
    stacked = values.stack()
    counts = pd.crosstab(stacked.index.get_level_values(0), stacked.to_numpy()).to_numpy(float)
    n = counts.shape[0]
    p_j = counts.sum(axis=0) / (n * m)
    p_i = (np.sum(counts**2, axis=1) - m) / (m * (m - 1))
    p_bar, p_e = p_i.mean(), np.sum(p_j**2)
    return float((p_bar - p_e) / (1 - p_e))
