"""Subgroup analyses of the count-based fits (:func:`rma_mh`, :func:`rma_peto`, :func:`rma_glmm`).

Each subgroup is fitted on its own rows with the same options, and subgroups are compared as
RevMan does and metafor's documentation shows for ``rma.mh``: Cochran's Q of an equal-effects
fit of the subgroup estimates with their standard errors (Borenstein et al., 2009, ch. 19;
Deeks, Higgins & Altman, Cochrane Handbook, section 10.11.3.1), on (groups - 1) degrees of
freedom.

References
----------
Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009). Introduction to
Meta-Analysis. Wiley, ch. 19. https://doi.org/10.1002/9780470743386

Deeks, J. J., Higgins, J. P. T., & Altman, D. G. (2023). Analysing data and undertaking
meta-analyses. In Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
ch. 10.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from metareview._validation import resolve_column
from metareview.exceptions import InputError, StudyOmittedWarning
from metareview.stats import _distributions as dist

__all__ = ["between_groups", "with_subgroups"]

Fit = TypeVar("Fit")


def between_groups(estimates: np.ndarray, ses: np.ndarray) -> tuple[float, int, float]:
    """Q_between, its degrees of freedom and p-value: Cochran's Q of the subgroup estimates
    pooled with inverse-variance (equal-effects) weights 1/se^2.

    Examples
    --------
    >>> q, df, p = between_groups(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    >>> round(q, 3), df
    (2.0, 1)
    """
    w = 1 / ses**2
    mean = np.sum(w * estimates) / np.sum(w)
    q = float(np.sum(w * (estimates - mean) ** 2))
    df = len(estimates) - 1
    return q, df, float(dist.chi2.sf(q, df))


def with_subgroups(
    fit: Callable[..., Fit],
    overall: Fit,
    subgroup: Any,
    data: pd.DataFrame | None,
    columns: Mapping[str, Any],
    options: Mapping[str, Any],
) -> Fit:
    """``overall`` with one fit per subgroup and the test for subgroup differences.

    ``fit`` is the public function (rma_mh, rma_peto, rma_glmm), ``columns`` its data
    arguments as given (arrays, or column names of ``data``, including ``slab``) and
    ``options`` its other keyword arguments. The result's ``subgroups`` maps each label (in
    order of first appearance) to its fit; ``Q_between``, ``df_between``, ``p_between``
    compare them.
    """
    given = {name: value for name, value in columns.items() if value is not None}
    first = next(v for v in given.values() if v is not None)
    rows = len(data) if isinstance(first, str) and data is not None else len(np.asarray(first))
    groups = np.asarray(resolve_column("subgroup", subgroup, data), dtype=object)
    if groups.ndim != 1 or len(groups) != rows:
        raise InputError(
            f"subgroup must have one label per study (row); got {groups.size} labels for "
            f"{rows} rows."
        )
    if any(g is None or (isinstance(g, float) and np.isnan(g)) for g in groups):
        missing = [i + 1 for i, g in enumerate(groups) if g is None or g != g]
        raise InputError(
            f"subgroup has no label at rows {', '.join(map(str, missing[:6]))}; give every "
            "study a subgroup."
        )
    labels = [str(g) for g in groups]
    order = list(dict.fromkeys(labels))
    if len(order) < 2:
        raise InputError(f"subgroup needs at least 2 groups; got {order}.")
    fits: dict[str, Fit] = {}
    for label in order:
        sel = np.array([lab == label for lab in labels])
        sub = {name: _rows(value, sel) for name, value in given.items()}
        sub_data = None if data is None else data.loc[sel]
        try:
            with warnings.catch_warnings():
                # the overall fit has already said which studies it left out
                warnings.simplefilter("ignore", StudyOmittedWarning)
                fits[label] = fit(**sub, data=sub_data, **options)
        except InputError as exc:
            raise InputError(f"subgroup {label!r}: {exc}") from exc
    estimates = np.array([float(f.estimate) for f in fits.values()])  # type: ignore[attr-defined]
    ses = np.array([float(f.se) for f in fits.values()])  # type: ignore[attr-defined]
    q, df, p = between_groups(estimates, ses)
    return dataclasses.replace(
        overall,  # type: ignore[type-var]
        subgroups=fits,
        subgroup_labels=tuple(labels),
        Q_between=q,
        df_between=df,
        p_between=p,
    )


def _rows(value: Any, sel: np.ndarray) -> Any:
    """The selected rows of one argument: column names stay names (``data`` is subset)."""
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Series | pd.Index):
        return value.to_numpy()[sel]
    if isinstance(value, Sequence | np.ndarray):
        return np.asarray(value, dtype=object if _is_text(value) else float)[sel]
    return value


def _is_text(value: Any) -> bool:
    return any(isinstance(v, str) for v in value)
