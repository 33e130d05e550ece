"""One home for input checks.

Each ``check_*`` function returns clean data or raises :class:`InputError` with a message
that names the argument, what was found (rows and study labels), what is required, and a fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metareview.exceptions import InputError

_MAX_LISTED = 6


@dataclass(frozen=True, slots=True)
class Options:
    """Allowed values of a string option, with aliases, declared as data.

    Examples
    --------
    >>> METHODS = Options("method", ("EE", "DL"), aliases={"FE": "EE"})
    >>> METHODS.check("fe")
    'EE'
    """

    name: str
    values: tuple[str, ...]
    aliases: Mapping[str, str] | None = None
    case_sensitive: bool = False

    def check(self, value: object) -> str:
        """Return the canonical spelling of ``value`` or raise InputError listing all values."""
        if isinstance(value, str):
            key = value if self.case_sensitive else value.upper()
            table = {v if self.case_sensitive else v.upper(): v for v in self.values}
            for alias, target in (self.aliases or {}).items():
                table[alias if self.case_sensitive else alias.upper()] = target
            if key in table:
                return table[key]
        accepted = list(self.values) + [f"{a} (= {t})" for a, t in (self.aliases or {}).items()]
        raise InputError(
            f"{self.name} must be one of {', '.join(accepted)}; got {value!r}."
        )


def describe_rows(bad: np.ndarray, labels: Sequence[str] | None) -> str:
    """Describe the rows flagged in boolean array ``bad``: positions and study labels."""
    idx = np.flatnonzero(bad)
    shown = idx[:_MAX_LISTED]
    more = "" if idx.size <= _MAX_LISTED else f" and {idx.size - _MAX_LISTED} more"
    rows = ", ".join(str(int(i) + 1) for i in shown)
    text = f"row{'s' if idx.size > 1 else ''} {rows}{more}"
    if labels is not None:
        names = ", ".join(repr(str(labels[int(i)])) for i in shown)
        text += f" (stud{'ies' if idx.size > 1 else 'y'} {names}{more and ', ...'})"
    return text


def study_labels(n: int, slab: Iterable[Any] | None) -> list[str]:
    """Study labels as strings; ``Study 1..n`` when none are given."""
    if slab is None:
        return [f"Study {i + 1}" for i in range(n)]
    labels = [str(s) for s in slab]
    if len(labels) != n:
        raise InputError(f"slab has {len(labels)} labels but there are {n} studies; give one each.")
    return labels


def resolve_column(name: str, value: Any, data: pd.DataFrame | None) -> Any:
    """Return ``value``, looking it up in ``data`` when it is a column name."""
    if isinstance(value, str):
        if data is None:
            raise InputError(
                f"{name}={value!r} looks like a column name, but no data= was given."
            )
        if value not in data.columns:
            raise InputError(
                f"{name}={value!r} is not a column of data; columns are {list(data.columns)}."
            )
        return data[value]
    return value


def check_numeric(
    name: str, values: Any, labels: Sequence[str] | None = None, *, allow_nan: bool = True
) -> np.ndarray:
    """Convert ``values`` to a 1-D float array, naming rows that are not numbers.

    Examples
    --------
    >>> check_numeric("vi", [0.1, 0.2]).tolist()
    [0.1, 0.2]
    """
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; got an array of shape {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        converted = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(float)
        original_missing = pd.isna(pd.Series(arr, dtype=object)).to_numpy()
        bad = np.isnan(converted) & ~original_missing
        if bad.any():
            found = ", ".join(repr(str(arr[i])) for i in np.flatnonzero(bad)[:_MAX_LISTED])
            raise InputError(
                f"{name} must be numeric; got {found} at {describe_rows(bad, labels)}. "
                "Parse or clean these cells first."
            )
        arr = converted
    arr = arr.astype(float)
    if not allow_nan:
        check_finite(name, arr, labels)
    elif np.isinf(arr).any():
        bad = np.isinf(arr)
        raise InputError(f"{name} must be finite; got inf at {describe_rows(bad, labels)}.")
    return arr


def check_finite(name: str, arr: np.ndarray, labels: Sequence[str] | None = None) -> None:
    """Raise InputError naming rows where ``arr`` is NaN or infinite."""
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"{name} must be a finite number; got {int(bad.sum())} missing or infinite "
            f"value{'s' if bad.sum() > 1 else ''} at {describe_rows(bad, labels)}. "
            "Remove these studies or pass missing='omit'."
        )


def check_same_length(arrays: Mapping[str, np.ndarray]) -> int:
    """Return the common length of ``arrays`` or raise naming every length."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{n} has {m}" for n, m in lengths.items())
        raise InputError(f"inputs must have one value per study; lengths disagree: {found}.")
    return next(iter(lengths.values())) if lengths else 0


def check_text(name: str, value: object, *, max_length: int | None = None,
               purpose: str = "") -> str:
    """``value`` if it is a string with more than blanks (and at most ``max_length``
    characters); otherwise InputError naming ``name`` (and ``purpose``).

    Examples
    --------
    >>> check_text("reason", "duplicate trial")
    'duplicate trial'
    """
    too_long = max_length is not None and isinstance(value, str) and len(value) > max_length
    if not isinstance(value, str) or not value.strip() or too_long:
        limit = f" of at most {max_length} characters" if max_length is not None else ""
        raise InputError(f"{name} must be a non-empty string{limit}{purpose}; got {value!r}.")
    return value


def check_level(level: float) -> float:
    """Return the confidence level as a proportion; accepts 95 or 0.95.

    Examples
    --------
    >>> check_level(95)
    0.95
    """
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise InputError(f"level must be a number such as 95 or 0.95; got {level!r}.") from None
    if value >= 1:
        value = value / 100
    if not 0 < value < 1:
        raise InputError(f"level must lie strictly between 0 and 100 (or 0 and 1); got {level!r}.")
    return value
