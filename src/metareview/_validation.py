"""One home for input checks.

Each ``check_*`` function returns clean data or raises :class:`InputError` with a message
that names the argument, what was found (rows and study labels), what is required, and a fix.
Allowed values are declared as data: :class:`Options` for string options, :class:`Interval`
for the range of every public numeric parameter (``LEVEL``, ``ALPHA``, ``ITER``, ``SEED``,
``CONTROL``, ...). Rows are named by :func:`describe_rows`: counted from 1, with the study
label or the DataFrame index label beside them (:class:`RowNames`, :func:`row_names`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from metareview.exceptions import Argument, InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

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
            Argument(self.name), f" must be one of {', '.join(accepted)}; got {value!r}."
        )


@dataclass(frozen=True, slots=True)
class Interval:
    """Allowed range of a numeric parameter, declared as data (as scikit-learn's
    ``Interval`` and PyMARE's parameter checks).

    ``closed`` says which ends belong to the range: ``"both"``, ``"left"``, ``"right"`` or
    ``"neither"``; ``None`` for ``low`` or ``high`` leaves that side open-ended. With
    ``integer=True`` only whole numbers pass (and come back as ``int``). Booleans, strings,
    NaN and infinities never pass.

    Examples
    --------
    >>> ALPHA = Interval("alpha", 0, 1, closed="neither")
    >>> ALPHA.check(0.05)
    0.05
    >>> ALPHA.check(1.5)
    Traceback (most recent call last):
    ...
    metareview.exceptions.InputError: alpha must be a number in (0, 1); got 1.5.
    """

    name: str
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    integer: bool = False

    def __post_init__(self) -> None:
        if self.closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be both, left, right or neither; got {self.closed!r}")

    def describe(self) -> str:
        """The range in words and brackets, e.g. ``a number in (0, 1)``, ``an integer >= 1``."""
        kind = "an integer" if self.integer else "a number"
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            return (
                f"{kind} in {'[' if left_in else '('}{self.low:g}, "
                f"{self.high:g}{']' if right_in else ')'}"
            )
        if self.low is not None:
            return f"{kind} {'>=' if left_in else '>'} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<=' if right_in else '<'} {self.high:g}"
        return f"a finite {'integer' if self.integer else 'number'}"

    def contains(self, value: float) -> bool:
        """Whether the finite number ``value`` lies in the range."""
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left_in)):
            return False
        return not (
            self.high is not None and (value > self.high or (value == self.high and not right_in))
        )

    def check(self, value: object, name: str | None = None) -> Any:
        """Return ``value`` as a float (an int when ``integer``) or raise InputError naming
        the argument (``name``, default this interval's), the value and the allowed range."""
        number = _as_number(value)
        if (
            number is None
            or not math.isfinite(number)
            or not self.contains(number)
            or (self.integer and number != int(number))
        ):
            raise InputError(
                Argument(name or self.name), f" must be {self.describe()}; got {value!r}."
            )
        return int(number) if self.integer else number


def _as_number(value: object) -> float | None:
    """``value`` as a float when it is a real number (not a bool, string, complex or array)."""
    numpy = sys.modules.get("numpy")  # a numpy scalar means numpy is loaded
    odd: tuple[type, ...] = (bool, complex)
    real: tuple[type, ...] = (int, float)
    if numpy is not None:
        odd, real = (*odd, numpy.bool_, numpy.complexfloating), (*real, numpy.number)
    if isinstance(value, odd) or not isinstance(value, real):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return float("inf")


# The numeric parameters of the public functions, declared once. Each function checks its
# own with ``NAME.check(value)``; messages name the argument, the value and the range.
#: confidence level in percent (values below 1 are read as proportions by check_level)
LEVEL = Interval("level", 0, 100, closed="neither")
#: significance level of a test
ALPHA = Interval("alpha", 0, 1, closed="neither")
#: number of random permutations or resamples
ITER = Interval("iter", 1, None, integer=True)
#: number of random subsets (GOSH)
SUBSETS = Interval("subsets", 1, None, integer=True)
#: seed of a random number generator (numpy's SeedSequence takes non-negative integers)
SEED = Interval("seed", 0, None, integer=True)
#: decimal places shown in printed output and figures
DIGITS = Interval("digits", 0, 15, integer=True)
#: iteration limits (trim and fill, Fisher scoring)
MAXITER = Interval("maxiter", 1, None, integer=True)
#: a correlation coefficient
CORRELATION = Interval("r", -1, 1)
#: continuity correction added to cells
ADD = Interval("add", 0, None)
#: replications of a simulation, and of one of its seeded blocks
REPS = Interval("reps", 2, None, integer=True)
REPS_PER_BLOCK = Interval("block_reps", 1, None, integer=True)
#: a simulation scenario: studies per meta-analysis, heterogeneity, sampling variances and
#: study sizes (the bounds of a uniform draw)
SCENARIO = {
    "theta": Interval("theta"),
    "tau2": Interval("tau2", 0, None),
    "k": Interval("k", 2, None, integer=True),
    "vi": Interval("vi", 0, None, closed="neither"),
    "n": Interval("n", 1, None, integer=True),
}
#: rows of work per chunk, and worker threads (batch)
CHUNK_ROWS = Interval("chunk_rows", 1, None, integer=True)
THREADS = Interval("threads", 1, None, integer=True)
#: any finite number (e.g. a target effect)
FINITE = Interval("value")
#: convergence settings of the iterative tau2 estimators (``Control``)
CONTROL = {
    "threshold": Interval("control['threshold']", 0, None, closed="neither"),
    "maxiter": Interval("control['maxiter']", 1, None, integer=True),
    "root_tol": Interval("control['root_tol']", 0, None, closed="neither"),
    "ll0_tol": Interval("control['ll0_tol']", 0, None),
}


def check_optional(interval: Interval, value: object, name: str | None = None) -> Any:
    """``None`` passes; anything else is checked against ``interval`` (named ``name``)."""
    return None if value is None else interval.check(value, name)


class RowNames(tuple):
    """Names of input rows for messages, and what kind of name they are.

    ``kind`` is ``"study"`` (study labels, e.g. ``slab``: shown as ``study 'Smith 2001'``) or
    ``"index"`` (labels of a DataFrame's index: shown as ``index 3``, the key for ``.loc``).
    A plain sequence of strings counts as study labels.

    Examples
    --------
    >>> names = RowNames([0, 1, 2], kind="index")
    >>> names[1], names.kind
    ('1', 'index')
    """

    kind: str

    def __new__(cls, labels: Iterable[Any], kind: str = "study") -> RowNames:
        if kind not in ("study", "index"):
            raise ValueError(f"kind must be 'study' or 'index'; got {kind!r}")
        names = super().__new__(cls, (str(label) for label in labels))
        names.kind = kind
        return names


def describe_rows(bad: np.ndarray, labels: Sequence[str] | None) -> str:
    """Describe the rows flagged in boolean array ``bad``: positions and names.

    Rows are always counted from 1 (the first study is row 1), whatever the index of a
    DataFrame; the name in brackets says what it is: ``study 'Smith 2001'`` for study labels,
    ``index 7`` for the label of a DataFrame's index (``RowNames(..., kind="index")``), and
    nothing when ``labels`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> bad = np.array([False, True, False])
    >>> describe_rows(bad, ["A", "B", "C"])
    "row 2 (study 'B')"
    >>> describe_rows(bad, RowNames([10, 11, 12], kind="index"))
    'row 2 (index 11)'
    >>> describe_rows(bad, None)
    'row 2'
    """
    import numpy as np

    idx = np.flatnonzero(bad)
    shown = idx[:_MAX_LISTED]
    more = "" if idx.size <= _MAX_LISTED else f" and {idx.size - _MAX_LISTED} more"
    plural = idx.size > 1
    rows = ", ".join(str(int(i) + 1) for i in shown)
    text = f"row{'s' if plural else ''} {rows}{more}"
    if labels is None:
        return text
    if getattr(labels, "kind", "study") == "index":
        names = ", ".join(_index_name(labels[int(i)]) for i in shown)
        return text + f" (index {names}{more and ', ...'})"
    names = ", ".join(repr(str(labels[int(i)])) for i in shown)
    return text + f" (stud{'ies' if plural else 'y'} {names}{more and ', ...'})"


def _index_name(label: str) -> str:
    """An index label as it is typed in ``.loc[...]``: integers bare, anything else quoted."""
    return label if label.lstrip("-").isdigit() else repr(label)


def study_labels(n: int, slab: Iterable[Any] | None) -> RowNames:
    """Study labels as strings; ``Study 1..n`` (matching the row numbers) when none are
    given."""
    if slab is None:
        return RowNames(f"Study {i + 1}" for i in range(n))
    labels = RowNames(slab)
    if len(labels) != n:
        raise InputError(f"slab has {len(labels)} labels but there are {n} studies; give one each.")
    return labels


#: columns in which escalc keeps study labels and (for proportions) sample sizes; rma and
#: fsn read them from an escalc frame, as metafor reads the attributes of an escalc object
SLAB_COLUMN = "slab"
NI_COLUMN = "ni"


def _is_pandas(value: object, *names: str) -> bool:
    """Whether ``value`` is one of pandas' classes ``names``, without importing pandas: an
    object can only be a DataFrame once pandas is loaded, so plain arrays never pay for it."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, tuple(getattr(pandas, n) for n in names))


def is_frame(value: object) -> TypeGuard[pd.DataFrame]:
    """Whether ``value`` is a pandas DataFrame (pandas is not imported to tell).

    Examples
    --------
    >>> import pandas as pd
    >>> is_frame(pd.DataFrame({"yi": [0.1]})), is_frame({"yi": [0.1]})
    (True, False)
    """
    return _is_pandas(value, "DataFrame")


def is_series(value: object) -> TypeGuard[pd.Series]:
    """Whether ``value`` is a pandas Series (pandas is not imported to tell)."""
    return _is_pandas(value, "Series")


def row_names(data: pd.DataFrame | None, n: int, slab: Any = None) -> RowNames:
    """How messages and results name the ``n`` rows of an input.

    ``slab`` (labels, or a column name of ``data``) when given; else ``data``'s ``slab``
    column (as escalc writes it); else ``data``'s index, unless it is the default 0..n-1;
    else ``Study 1..n``.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"yi": [0.1, 0.2]}, index=[7, 9])
    >>> row_names(frame, 2), row_names(frame, 2).kind
    (('7', '9'), 'index')
    """
    if slab is None and data is not None and SLAB_COLUMN in data.columns:
        slab = SLAB_COLUMN
    if slab is not None:
        return study_labels(n, resolve_column("slab", slab, data))
    if data is not None:
        import pandas as pd  # loaded already: data is a DataFrame

        if not data.index.equals(pd.RangeIndex(n)):
            return RowNames(data.index, kind="index")
    return study_labels(n, None)


def resolve_column(name: str, value: Any, data: pd.DataFrame | None) -> Any:
    """Return ``value``, looking it up in ``data`` when it is a column name."""
    if isinstance(value, str):
        if data is None:
            raise InputError(f"{name}={value!r} looks like a column name, but no data= was given.")
        if value not in data.columns:
            raise InputError(
                Argument(name, value),
                f" is not a column of data; columns are {list(data.columns)}.",
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
    import numpy as np

    if _is_pandas(values, "Series", "Index"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; got an array of shape {arr.shape}.")
    if arr.dtype.kind not in "biuf":
        import pandas as pd

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
    import numpy as np

    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(
            f"{name} must be a finite number; got {int(bad.sum())} missing or infinite "
            f"value{'s' if bad.sum() > 1 else ''} at {describe_rows(bad, labels)}. "
            "Remove these studies (or fill in the values) first."
        )


def check_same_length(arrays: Mapping[str, np.ndarray]) -> int:
    """Return the common length of ``arrays`` or raise naming every length."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{n} has {m}" for n, m in lengths.items())
        raise InputError(f"inputs must have one value per study; lengths disagree: {found}.")
    return next(iter(lengths.values())) if lengths else 0


def check_text(
    name: str, value: object, *, max_length: int | None = None, purpose: str = ""
) -> str:
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


def check_level(level: object) -> float:
    """Return the confidence level as a proportion; accepts 95 or 0.95 (:data:`LEVEL`).

    Examples
    --------
    >>> check_level(95)
    0.95
    """
    number = _as_number(level)
    if number is None or not math.isfinite(number) or not LEVEL.contains(number):
        raise InputError(
            Argument("level"),
            " must lie strictly between 0 and 100 (a percentage such as "
            f"95, or a proportion such as 0.95 below 1); got {level!r}.",
        )
    return number / 100 if number >= 1 else number
