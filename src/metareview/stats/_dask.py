"""Running :func:`~metareview.batch` and :func:`~metareview.simulate` on Dask.

Dask is an optional extra (``pip install 'metareview[dask]'``) and is imported here only,
lazily: ``import metareview`` never imports it. Two jobs:

- :func:`batch_on_dask`: a long table (pandas or Dask DataFrame) is shuffled on the ``by``
  column so that every meta-analysis lies wholly in one partition; each partition is fitted
  by the in-memory :func:`~metareview.batch` through ``dask.dataframe.map_partitions``, and
  the rows come back in the in-memory order (first appearance in the table).
- :func:`compute_blocks`: independent seeded blocks of a simulation run as
  ``dask.delayed`` tasks; the caller combines them in block order.

Both give the same numbers as the in-memory path, bit for bit: the same functions run on the
same rows or blocks, and only where they run changes. Warnings are not raised on the workers
(they would be lost there); the driver re-issues them from the results.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from metareview._validation import _MAX_LISTED, Options
from metareview.exceptions import (
    InputError,
    MetareviewWarning,
    StudyOmittedWarning,
)
from metareview.stats._convergence import warn_convergence

__all__ = ["SCHEDULERS", "batch_on_dask", "compute_blocks", "is_dask_collection"]

#: dask's single-machine schedulers, by name (an address such as "tcp://host:8786" or a
#: distributed ``Client``/cluster object selects a cluster instead)
SCHEDULERS = Options(
    "scheduler",
    ("threads", "processes", "synchronous"),
    aliases={
        "sync": "synchronous",
        "single-threaded": "synchronous",
        "threading": "threads",
        "multiprocessing": "processes",
    },
    case_sensitive=False,
)
#: rows per partition when a pandas table is sent to a cluster (about 24 MB of yi, vi, keys)
ROWS_PER_PARTITION = 1_000_000
_OK, _MISSING, _BAD_VARIANCE = 0, 1, 2
_ORDER, _STATUS, _FIRST = "_order", "_status", "_first"


def _require(module: str, purpose: str) -> Any:
    """Import ``module`` or raise InputError saying how to install the ``dask`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise InputError(
            f"{purpose} needs the optional Dask dependencies, but {module!r} could not be "
            f"imported ({error}). Install them with: pip install 'metareview[dask]' (or run "
            "without scheduler= and a pandas table, in memory)."
        ) from error


def is_dask_collection(obj: object) -> bool:
    """True for a Dask DataFrame, array or delayed object, without importing Dask.

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask_collection(pd.DataFrame())
    False
    """
    if sys.modules.get("dask") is None:  # nothing can be a Dask object before dask is imported
        return False
    import dask

    return bool(dask.is_dask_collection(obj))


@contextmanager
def _scheduler(scheduler: Any, purpose: str) -> Iterator[Any]:
    """Yield what ``dask.compute(..., scheduler=)`` takes for the user's ``scheduler``.

    None: dask's default (a ``distributed.Client`` made current, else threads); a name from
    :data:`SCHEDULERS`; an address ("tcp://host:8786", a client is opened and closed here);
    a ``distributed.Client``; or a cluster object (``LocalCluster``, dask-jobqueue, ...).
    """
    if scheduler is None:
        yield None
    elif isinstance(scheduler, str) and ":" in scheduler:
        distributed = _require("distributed", purpose)
        with distributed.Client(scheduler, set_as_default=False) as client:
            yield client
    elif isinstance(scheduler, str):
        yield SCHEDULERS.check(scheduler)
    elif hasattr(scheduler, "scheduler_address") and not hasattr(scheduler, "get"):
        distributed = _require("distributed", purpose)  # a cluster object
        with distributed.Client(scheduler, set_as_default=False) as client:
            yield client
    elif hasattr(scheduler, "get") and hasattr(scheduler, "submit"):
        yield scheduler  # a distributed.Client
    else:
        raise InputError(
            f"scheduler must be a distributed Client, a cluster, an address such as "
            f"'tcp://scheduler:8786', or one of {', '.join(SCHEDULERS.values)}; got "
            f"{type(scheduler).__name__} {scheduler!r}."
        )


def _n_threads(scheduler: Any) -> int:
    if hasattr(scheduler, "nthreads"):  # distributed.Client: all threads of all workers
        return max(1, sum(scheduler.nthreads().values()))
    return os.cpu_count() or 1


def compute_blocks(
    func: Callable[..., Any], arguments: Sequence[tuple[Any, ...]], scheduler: Any
) -> list[Any]:
    """``[func(*args) for args in arguments]``, each call a ``dask.delayed`` task.

    Results come back in the order of ``arguments`` whatever the order the tasks ran in.

    Examples
    --------
    >>> compute_blocks(pow, [(2, 3), (3, 2)], scheduler="sync")
    [8, 9]
    """
    purpose = "simulate(..., scheduler=...)"
    dask = _require("dask", purpose)
    tasks = [dask.delayed(func, pure=False)(*args) for args in arguments]
    with _scheduler(scheduler, purpose) as resolved:
        return list(dask.compute(*tasks, scheduler=resolved))


# ------------------------------------------------------------------------------- batch


def batch_on_dask(
    data: Any,
    by: str,
    yi: str,
    vi: str,
    *,
    scheduler: Any,
    options: dict[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """:func:`~metareview.batch` of a pandas or Dask DataFrame, partition by partition.

    Parameters
    ----------
    data : pandas.DataFrame or dask.dataframe.DataFrame
        The long table (one row per study).
    by, yi, vi : str
        Columns, as :func:`~metareview.batch`.
    scheduler
        As :func:`_scheduler`.
    options : dict
        Keyword arguments of the in-memory :func:`~metareview.batch` (method, test, level,
        tau2_ci, chunk_rows), passed to it on every partition.
    progress : callable, optional
        Called once, ``progress(total, total)``, when all partitions are done.

    Returns
    -------
    DataFrame
        Exactly what the in-memory :func:`~metareview.batch` returns for ``data.compute()``:
        same rows, same order (first appearance), same columns and dtypes.
    """
    purpose = "batch(..., scheduler=...) or batch() of a Dask DataFrame"
    dask = _require("dask", purpose)
    dd = _require("dask.dataframe", purpose)
    for column in (by, yi, vi):
        if column not in data.columns:
            raise InputError(
                f"batch: column {column!r} not found; columns are {list(data.columns)}."
            )
    with _scheduler(scheduler, purpose) as resolved:
        frame = data[[by, yi, vi]]
        if not is_dask_collection(frame):
            n_parts = max(_n_threads(resolved), math.ceil(len(frame) / ROWS_PER_PARTITION))
            with dask.config.set({"dataframe.convert-string": False}):  # keep key dtypes
                frame = dd.from_pandas(
                    frame.reset_index(drop=True),
                    npartitions=max(1, min(n_parts, len(frame))),
                    sort=False,
                )
        tagged_meta = frame._meta.assign(
            **{yi: np.float64(0), vi: np.float64(0), _ORDER: np.int64(0), _STATUS: np.int8(0)}
        )
        tagged = frame.map_partitions(_tag, by, yi, vi, meta=tagged_meta)
        problems = tagged[tagged[_STATUS] != _OK]
        good = tagged[tagged[_STATUS] == _OK].shuffle(on=by)
        fits = good.map_partitions(
            _fit_partition,
            by,
            yi,
            vi,
            options,
            meta=_fit_meta(good._meta_nonempty, by, yi, vi, options),
        )
        with dask.config.set({"dataframe.convert-string": False}):
            fits, problems = dask.compute(fits, problems, scheduler=resolved)
        problems = problems.sort_values(_ORDER, kind="stable")
        if (problems[_STATUS] == _BAD_VARIANCE).any():
            lengths = dask.compute(frame.map_partitions(len), scheduler=resolved)[0]
            _raise_bad_variance(problems, np.asarray(lengths), by, vi)
    if len(problems):
        groups = pd.unique(problems[by].to_numpy())
        warnings.warn(
            f"batch: {len(problems)} rows with missing or non-numeric {yi}/{vi} left "
            f"out (in {len(groups)} meta-analyses, e.g. {list(groups[:5])}).",
            StudyOmittedWarning,
            stacklevel=3,
        )
    result = fits.sort_values(_FIRST, kind="stable").drop(columns=_FIRST)
    _warn_from_columns(result, options.get("method", "REML"))
    if progress is not None:
        progress(len(result), len(result))
    return result


def _tag(
    part: pd.DataFrame, by: str, yi: str, vi: str, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    """Numeric yi/vi as in-memory batch() coerces them, the row's place in the whole table
    (partition number, row within it) and a status: ok, missing, or non-positive variance."""
    if partition_info is None:  # dask passes it to functions that take it
        raise RuntimeError("batch: dask did not say which partition this is; please report.")
    number = int(partition_info["number"])
    y = pd.to_numeric(part[yi], errors="coerce").to_numpy(float)
    v = pd.to_numeric(part[vi], errors="coerce").to_numpy(float)
    finite = np.isfinite(y) & np.isfinite(v)
    status = np.where(finite, np.where(v > 0, _OK, _BAD_VARIANCE), _MISSING).astype(np.int8)
    order = (np.int64(number) << np.int64(40)) + np.arange(len(part), dtype=np.int64)
    return part.assign(**{yi: y, vi: v, _ORDER: order, _STATUS: status})


def _fit_partition(
    part: pd.DataFrame, by: str, yi: str, vi: str, options: dict[str, Any]
) -> pd.DataFrame:
    """In-memory batch() of whole meta-analyses, with each one's first row number."""
    from metareview.stats.batch import batch

    if part.empty:  # shuffling can leave partitions empty; batch() needs a study
        from dask.dataframe.utils import meta_nonempty

        return _fit_meta(meta_nonempty(part), by, yi, vi, options)
    part = part.sort_values(_ORDER, kind="stable")
    with warnings.catch_warnings():  # the driver re-issues them from the result columns
        warnings.simplefilter("ignore", MetareviewWarning)
        out = batch(part[[by, yi, vi]].reset_index(drop=True), by, yi, vi, **options)
    first = part[_ORDER].to_numpy()[~part[by].duplicated().to_numpy()]
    if first.size != len(out):  # batch() lists meta-analyses in order of first appearance
        raise RuntimeError(
            f"batch: {len(out)} results for {first.size} meta-analyses in a "
            "partition; please report this."
        )
    return out.assign(**{_FIRST: first})


def _fit_meta(
    sample: pd.DataFrame, by: str, yi: str, vi: str, options: dict[str, Any]
) -> pd.DataFrame:
    """The empty result frame (columns, dtypes, index) dask needs before computing."""
    columns: dict[str, Any] = {
        yi: [0.1, 0.2],
        vi: [0.1, 0.1],
        _ORDER: np.array([0, 1], dtype=np.int64),
    }
    two = pd.concat([sample.iloc[:1]] * 2).assign(**columns)
    return _fit_partition(two, by, yi, vi, options).iloc[:0]


def _raise_bad_variance(problems: pd.DataFrame, lengths: np.ndarray, by: str, vi: str) -> None:
    """The in-memory message: 1-based row numbers in the whole table, and meta-analyses."""
    bad = problems[problems[_STATUS] == _BAD_VARIANCE]
    order = bad[_ORDER].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rows = offsets[order >> 40] + (order & ((1 << 40) - 1))
    shown = rows[:_MAX_LISTED]
    more = "" if rows.size <= _MAX_LISTED else f" and {rows.size - _MAX_LISTED} more"
    plural = rows.size > 1
    names = ", ".join(repr(f"{by}={key}") for key in bad[by].to_numpy()[:_MAX_LISTED])
    where = (
        f"row{'s' if plural else ''} {', '.join(str(int(r) + 1) for r in shown)}{more} "
        f"(stud{'ies' if plural else 'y'} {names}{more and ', ...'})"
    )
    raise InputError(f"batch: {vi} must be > 0; got {rows.size} non-positive values at {where}.")


def _warn_from_columns(result: pd.DataFrame, method: str) -> None:
    """batch()'s convergence warnings, once for the whole table (workers do not warn)."""
    warn_convergence(
        method,
        result["converged"],
        result["tau2_reset"],
        names=result.index,
        source="batch: ",
        columns=True,
        stacklevel=4,
    )
