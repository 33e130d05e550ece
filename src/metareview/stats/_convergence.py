"""The one place that words convergence warnings, for a single fit or a batch of them.

The iterative tau2 estimators (ML, REML, EB, and PM's root-finder) either stop within
``maxiter`` iterations or are flagged ``converged = False``; ML and REML may also stop at a
local maximum whose likelihood is lower than at tau2 = 0, where metafor's ``ll0check`` sets
tau2 to 0 (Viechtbauer, 2010, J. Stat. Softw. 36(3), ``rma.uni``, argument ``control``).
:func:`rma_batch`, :func:`batch` (in memory and on Dask) and :func:`rma` all report both
through :func:`warn_convergence`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from metareview.exceptions import ConvergenceWarning

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["warn_convergence"]

#: meta-analyses named in a message, at most
_SHOWN = 5


def warn_convergence(
    method: str,
    converged: Any,
    reset: Any,
    *,
    names: Sequence[Any] | np.ndarray | pd.Index | None = None,
    maxiter: int | None = None,
    source: str = "",
    columns: bool = False,
    stacklevel: int = 2,
) -> None:
    """Warn about meta-analyses that did not converge and about tau2 reset to 0.

    Parameters
    ----------
    method : str
        The tau2 estimator.
    converged, reset : array-like of bool
        One flag per meta-analysis: converged, and tau2 reset to 0 at a local maximum.
    names : sequence, optional
        What the meta-analyses are called (e.g. the values of batch's ``by``); default their
        row numbers (0-based, as the rows of the arrays given to ``rma_batch``).
    maxiter : int, optional
        The iteration limit, named in the message when given.
    source : str
        Prefix naming the function (``"batch: "``).
    columns : bool
        Whether the result has a ``tau2_reset`` column to point to.
    stacklevel : int
        As for :func:`warnings.warn`, counted from the caller of this function.
    """
    converged = np.asarray(converged, dtype=bool).reshape(-1)
    reset = np.asarray(reset, dtype=bool).reshape(-1)
    total = converged.size
    failed = np.flatnonzero(~converged)
    if failed.size:
        within, advice = "", "."
        if maxiter is not None:
            within = f" within {maxiter} iterations"
            advice = ", or raise control={'maxiter': ...}."
        warnings.warn(
            f"{source}{method} did not converge{within}{_which(failed, total, names)}; "
            f"flagged converged = False. Try another method{advice}",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )
    rows = np.flatnonzero(reset)
    if rows.size:
        there = " there" if total > 1 else ""
        column = " (column tau2_reset)" if columns else ""
        warnings.warn(
            f"{source}{method} found a local maximum{_which(rows, total, names)}: the "
            "likelihood is higher at tau2 = 0 than at the Fisher-scoring solution, so tau2 is "
            f"set to 0{there}, as metafor does{column}.",
            ConvergenceWarning,
            stacklevel=stacklevel + 1,
        )


def _which(
    rows: np.ndarray, total: int, names: Sequence[Any] | np.ndarray | pd.Index | None
) -> str:
    """`` for 2 of 10 meta-analyses (e.g. ['a', 'b'])``; nothing for a single fit."""
    if total == 1 and names is None:
        return ""
    shown = [names[int(i)] for i in rows[:_SHOWN]] if names is not None else rows[:_SHOWN].tolist()
    more = ", ..." if rows.size > _SHOWN else ""
    label = "e.g. " if names is not None else "rows "
    return f" for {rows.size} of {total} meta-analyses ({label}{str(shown)[:-1]}{more}])"
