"""Many meta-analyses from one long table: :func:`batch`.

Rows are studies, a ``by`` column says which meta-analysis each belongs to. Meta-analyses are
bucketed by their number of studies k, so each bucket is a dense study-major (k, B) array with
no padding, and each bucket is fitted in chunks by the batched kernel, several chunks at once
on a pool of threads, so memory stays bounded whatever the number of meta-analyses. Results
do not depend on the chunking or the threads: each meta-analysis is computed on its own
(see :func:`metareview.stats._design.sum_studies`). The bookkeeping is numpy on group codes,
never a Python loop or a pandas operation per meta-analysis.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from metareview._validation import (
    CHUNK_ROWS,
    THREADS,
    check_level,
    check_optional,
    describe_rows,
)
from metareview.exceptions import InputError, StudyOmittedWarning
from metareview.stats._convergence import warn_convergence
from metareview.stats._dask import batch_on_dask, is_dask_collection
from metareview.stats._design import Design
from metareview.stats._threads import thread_pool
from metareview.stats.kernel import METHODS, TESTS, Control, fit_study_major
from metareview.stats.kernel import chunk_rows as default_chunk_rows

__all__ = ["batch"]


def batch(
    data: pd.DataFrame,
    by: str,
    yi: str = "yi",
    vi: str = "vi",
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    tau2_ci: bool = False,
    chunk_rows: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
    scheduler: Any = None,
) -> pd.DataFrame:
    """Fit one random-effects meta-analysis per value of ``by``.

    Parameters
    ----------
    data : DataFrame or dask.dataframe.DataFrame
        Long format: one row per study, with columns ``by``, ``yi`` and ``vi``. A Dask
        DataFrame is shuffled on ``by`` so each meta-analysis lies in one partition, and
        the partitions are fitted on the Dask scheduler (see docs/scale.md).
    by : str
        Column identifying the meta-analysis each study belongs to.
    yi, vi : str
        Columns of effect sizes and sampling variances.
    method, test, level, tau2_ci
        As :func:`metareview.rma_batch` (tau2 CIs are off by default: they cost two root
        searches per meta-analysis).
    chunk_rows : int, optional
        Meta-analyses per kernel call; default 2**18 / k for closed-form estimators, 2**19 / k
        for iterative ones and with ``tau2_ci`` (a chunk's arrays then take 2 or 4 MB each).
    progress : callable, optional
        ``progress(done, total)`` after each chunk (the CLI draws a bar with it); on Dask,
        once at the end.
    threads : int, optional
        Chunks fitted at once, on a pool of threads (numpy computes without Python's global
        lock); default the number of CPUs this process may use. The result is the same for
        any number.
    scheduler : optional
        Run on Dask (needs ``pip install 'metareview[dask]'``): a ``distributed.Client``, a
        cluster object, a scheduler address such as ``"tcp://scheduler:8786"``, or
        ``"threads"``/``"processes"``/``"synchronous"``. Default: in memory for a pandas
        table, dask's current scheduler for a Dask DataFrame. The result is identical.

    Returns
    -------
    DataFrame
        One row per meta-analysis, in the order of first appearance in ``data``, indexed by
        ``by``, with the columns of ``BatchResult.to_frame()`` (estimate, se, zval, pval,
        ci_lb, ci_ub, pi_lb, pi_ub, tau2, se_tau2, tau2_ci_lb, tau2_ci_ub, I2, H2, QE, QEp, k,
        converged, iterations). Meta-analyses of a single study are kept (tau2 = 0, QE = 0).

    Raises
    ------
    InputError
        Missing columns, or a non-positive variance (named by row and meta-analysis).

    Warns
    -----
    StudyOmittedWarning
        Rows with missing yi or vi are left out (counted, with their meta-analyses).
    ConvergenceWarning
        Meta-analyses whose estimator did not converge (flagged ``converged = False``).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"review": ["a", "a", "a", "b", "b"],
    ...                    "yi": [0.1, 0.3, 0.5, 0.2, 0.9], "vi": [0.04] * 5})
    >>> batch(df, by="review", method="DL")["estimate"].round(4).tolist()
    [0.3, 0.55]
    """
    chunk_rows = check_optional(CHUNK_ROWS, chunk_rows)
    threads = check_optional(THREADS, threads)
    if scheduler is not None or is_dask_collection(data):
        return batch_on_dask(
            data,
            by,
            yi,
            vi,
            scheduler=scheduler,
            progress=progress,
            options={
                "method": method,
                "test": test,
                "level": level,
                "tau2_ci": tau2_ci,
                "chunk_rows": chunk_rows,
                # a worker runs one partition at a time: dask, not
                # batch(), decides how many run at once
                "threads": 1,
            },
        )
    for column in (by, yi, vi):
        if column not in data.columns:
            raise InputError(
                f"batch: column {column!r} not found; columns are {list(data.columns)}."
            )
    y, v = _numeric(data[yi]), _numeric(data[vi])
    keys = data[by].to_numpy()
    options: dict[str, Any] = {
        "method": METHODS.check(method),
        "test": TESTS.check(test),
        "alpha": 1 - check_level(level),
        "tau2_ci": tau2_ci,
        "allow_saturated": True,
        "control": Control(),
    }
    with thread_pool(threads) as pool:
        clean = pool.submit(_clean, y, v)
        grouping = _group_rows(keys)  # meanwhile, on the assumption that all rows are usable
        if not clean.result():
            finite = np.isfinite(y) & np.isfinite(v)
            if not finite.all():
                groups = pd.unique(keys[~finite])
                warnings.warn(
                    f"batch: {int((~finite).sum())} rows with missing or non-numeric "
                    f"{yi}/{vi} left out (in {len(groups)} meta-analyses, e.g. "
                    f"{list(groups[:5])}).",
                    StudyOmittedWarning,
                    stacklevel=2,
                )
            bad = finite & (v <= 0)
            if bad.any():
                labels = [f"{by}={k}" for k in keys]
                raise InputError(
                    f"batch: {vi} must be > 0; got {int(bad.sum())} non-positive "
                    f"values at {describe_rows(bad, labels)}."
                )
            y, v, keys = y[finite], v[finite], keys[finite]
            grouping = _group_rows(keys)
        order, starts, sizes, uniques = grouping
        n_groups = len(uniques)

        # one task per chunk of meta-analyses with the same k (group codes), each fitted and
        # written into the output columns by the pool's threads (numpy lets go of the GIL)
        tasks = []
        for k in np.flatnonzero(np.bincount(sizes)):
            members = np.flatnonzero(sizes == k)  # group codes with exactly k studies
            rows_per_chunk = chunk_rows or default_chunk_rows(options["method"], tau2_ci, int(k))
            tasks += [
                (int(k), members[start : start + rows_per_chunk])
                for start in range(0, members.size, rows_per_chunk)
            ]
        # the output columns, named and typed after a fit of one small meta-analysis
        example = fit_study_major(
            np.zeros((2, 1)), np.ones((2, 1)), None, Design.intercept(2), **options
        ).columns()
        columns = _allocate(example, n_groups)

        def fit(task: tuple[int, np.ndarray]) -> int:
            k, codes = task
            values = fit_study_major(
                *_chunk(k, codes, y, v, order, starts), None, Design.intercept(k), **options
            ).columns()
            rows = (
                slice(codes[0], codes[-1] + 1) if codes[-1] - codes[0] == codes.size - 1 else codes
            )
            for name, value in values.items():
                columns[name][rows] = value
            return codes.size

        done = 0
        for count in pool.map(fit, tasks):
            done += count
            if progress is not None:
                progress(done, n_groups)
    result = _frame(columns, pd.Index(uniques, name=by))
    warn_convergence(
        options["method"],
        result["converged"],
        result["tau2_reset"],
        names=uniques,
        source="batch: ",
        columns=True,
        stacklevel=2,
    )
    return result


def _clean(y: np.ndarray, v: np.ndarray) -> bool:
    """True if every y is finite and every v finite and > 0, checked without a temporary of
    the table's length: a sum or a minimum is NaN or infinite if any value is (a sum may
    also overflow; then the rows are checked one by one, no harm done)."""
    return bool(np.isfinite(y.sum()) and np.isfinite(v.sum()) and v.min(initial=1) > 0)


def _numeric(column: pd.Series) -> np.ndarray:
    """The column as floats, non-numbers as NaN (without a copy if it holds floats)."""
    if column.dtype == np.float64:
        return column.to_numpy()
    return pd.to_numeric(column, errors="coerce").to_numpy(float)


def _group_rows(keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, Any]:
    """The meta-analyses in order of first appearance: (order, starts, sizes, uniques).

    The rows of meta-analysis g are ``order[starts[g]:starts[g] + sizes[g]]``, in table order;
    ``order`` is None when each meta-analysis's rows are already together (then they are
    rows starts[g] to starts[g] + sizes[g] - 1), which integer keys are checked for without
    hashing every row.
    """
    if keys.dtype.kind in "iub" and keys.size:
        starts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
        starts = np.concatenate([[0], starts])
        firsts = keys[starts]
        if bool(np.all(firsts[1:] > firsts[:-1])) or pd.unique(firsts).size == firsts.size:
            return None, starts, np.diff(np.append(starts, keys.size)), firsts
    codes, uniques = pd.factorize(keys, sort=False)
    if codes.size and codes.min() < 0:
        raise InputError(
            "batch: the meta-analysis column has missing values; fill or drop those rows."
        )
    sizes = np.bincount(codes, minlength=len(uniques))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    order = np.argsort(codes, kind="stable")
    in_table_order = bool(np.all(order == np.arange(order.size)))
    return None if in_table_order else order, starts, sizes, uniques


def _chunk(
    k: int,
    codes: np.ndarray,
    y: np.ndarray,
    v: np.ndarray,
    order: np.ndarray | None,
    starts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Study-major (k, B) effects and variances of the meta-analyses ``codes``, all of k
    studies (see :func:`_group_rows` for ``order`` and ``starts``)."""
    first, count = int(starts[codes[0]]), codes.size
    if order is None and int(starts[codes[-1]]) - first == k * (count - 1):
        # consecutive meta-analyses on consecutive rows: transpose one block
        block = slice(first, first + k * count)
        return y[block].reshape(count, k).T.copy(), v[block].reshape(count, k).T.copy()
    rows = starts[codes] + np.arange(k)[:, None]
    if order is not None:
        rows = order[rows]
    return y[rows], v[rows]


def _allocate(example: dict[str, np.ndarray], n_groups: int) -> dict[str, np.ndarray]:
    """Output arrays shaped after one chunk's columns; the float ones are rows of one block,
    which becomes the result's single float block without a copy."""
    floats = [name for name, value in example.items() if value.dtype == float]
    block = np.empty((len(floats), n_groups))
    columns = {}
    for name, value in example.items():
        columns[name] = (
            block[floats.index(name)]
            if name in floats
            else np.empty(n_groups, dtype=int if name == "k" else value.dtype)
        )
    return columns


def _frame(columns: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """The result table; its float columns are one block, made without copying."""
    floats = [name for name, value in columns.items() if value.dtype == float]
    block = columns[floats[0]].base if floats else None
    if block is None or block.shape != (len(floats), len(index)):
        block = np.stack([columns[name] for name in floats]) if floats else np.empty((0, 0))
    frame = pd.DataFrame(block.T, index=index, columns=floats, copy=False)
    for name, value in columns.items():
        if name not in floats:
            frame[name] = value
    return frame if list(frame.columns) == list(columns) else frame[list(columns)]
