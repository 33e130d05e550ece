"""Extraction-integrity checks: numbers in a characteristics table that cannot all be true.

Each check returns :class:`Flag` objects naming the study, the column, the cell as printed
and the reason, so a report can show them next to the analyses they affect. The checks:

- :func:`check_grim` -- a percentage impossible for the sample size (the GRIM test of Brown &
  Heathers, 2017, Soc. Psychol. Personal. Sci. 8, 363: 93.5% of 20 people is 18.7 people);
- :func:`check_scale` -- a value outside its column's scale (85.1 on a 0-10 rating scale);
- :func:`check_fraction_as_percent` -- a proportion typed into a percentage column ("0.6");
- :func:`check_complements` -- percentages of responders and non-responders that add to more
  than 100%;
- :func:`check_counts` -- an N cell with two counts ("19(26)") or a subgroup larger than N;
- :func:`check_sd_looks_like_se` -- a "SD" too small to be one for the scale (7.29±0.16 on
  0-10 with n = 30 is more likely a standard error; as an SD it inflates a pre/post SMD
  many-fold).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from metareview.cells import Cell, parse_cell

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "Flag",
    "check_complements",
    "check_counts",
    "check_fraction_as_percent",
    "check_grim",
    "check_scale",
    "check_sd_looks_like_se",
    "flags_frame",
]


@dataclass(frozen=True, slots=True)
class Flag:
    """One integrity finding: where it is, what was printed, what is wrong."""

    study: str
    column: str
    cell: str
    check: str
    message: str
    severity: str = "warning"  # "error": cannot be true; "warning": probably wrong

    def to_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def flags_frame(flags: Iterable[Flag]) -> pd.DataFrame:
    """Flags as a table (one row each), in the order found."""
    import pandas as pd

    rows = [f.to_dict() for f in flags]
    return pd.DataFrame(rows, columns=list(Flag.__dataclass_fields__))


def _cells(table: pd.DataFrame, column: str) -> list[tuple[str, Cell]]:
    return [(str(study), parse_cell(raw)) for study, raw in table[column].items()]


def _decimals(raw: str) -> int:
    text = raw.strip()
    return len(text.split(".")[1]) if "." in text else 0


def _round_half_up(x: float, decimals: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP))


def grim_consistent(percent: float, n: int, decimals: int) -> bool:
    """Can some whole number of the n people give ``percent`` at the printed precision?

    Examples
    --------
    >>> grim_consistent(93.5, 20, 1), grim_consistent(62.5, 16, 1), grim_consistent(76, 33, 0)
    (False, True, True)

    A sample of no one gives no percentage: ``grim_consistent(50, 0, 0)`` is False.
    """
    if n < 1:
        return False
    tolerance = 0.5 * 10.0**-decimals + 1e-9
    nearest = round(percent * n / 100)
    for events in (nearest - 1, nearest, nearest + 1):
        if 0 <= events <= n and abs(100 * events / n - percent) <= tolerance:
            return True
    return False


def check_grim(table: pd.DataFrame, percent_column: str, n_column: str) -> list[Flag]:
    """Percentages that no whole number of participants can produce (GRIM).

    N cells with two counts ("19(26)") are tested against both; the flag is raised only if
    neither works. N cells below 1 are skipped: they are not sample sizes, and the report's
    cell reading names them.
    """
    flags = []
    for (study, cell), (_, n_cell) in zip(
        _cells(table, percent_column), _cells(table, n_column), strict=True
    ):
        if cell.kind != "number" or not n_cell.is_numeric or cell.value is None:
            continue
        decimals = _decimals(cell.raw)
        sizes = [int(x) for x in (n_cell.value, n_cell.secondary) if x is not None and x >= 1]
        if not sizes:
            continue
        if any(grim_consistent(cell.value, n, decimals) for n in sizes):
            continue
        n = sizes[0]
        nearest = round(cell.value * n / 100)
        options = ", ".join(
            f"{x}/{n} = {_round_half_up(100 * x / n, decimals):g}%"
            for x in (nearest - 1, nearest, nearest + 1)
            if 0 <= x <= n
        )
        flags.append(
            Flag(
                study,
                percent_column,
                cell.raw,
                "grim",
                f"{cell.raw}% of n = {n} is {cell.value * n / 100:.4g} people; no "
                f"whole number gives {cell.raw}% ({options}).",
                "error",
            )
        )
    return flags


def check_scale(
    table: pd.DataFrame, column: str, low: float, high: float, scale_name: str
) -> list[Flag]:
    """Values (means) outside the column's scale, e.g. a 0-100 VAS in a 0-10 NRS column."""
    flags = []
    for study, cell in _cells(table, column):
        if cell.is_numeric and cell.value is not None and not low <= cell.value <= high:
            flags.append(
                Flag(
                    study,
                    column,
                    cell.raw,
                    "scale",
                    f"{cell.value:g} is outside the {scale_name} ({low:g}-{high:g}); "
                    "the study probably used another scale (e.g. 0-100 VAS).",
                    "error",
                )
            )
    return flags


def check_fraction_as_percent(table: pd.DataFrame, column: str) -> list[Flag]:
    """Values between 0 and 1 (exclusive) with decimals in a column of percentages."""
    import pandas as pd

    values = [c.value for _, c in _cells(table, column) if c.kind == "number" and c.value]
    typical = pd.Series(values, dtype=float).median() if values else 0
    flags = []
    for study, cell in _cells(table, column):
        if (
            cell.kind == "number"
            and cell.value is not None
            and 0 < cell.value < 1
            and "." in cell.raw
            and typical > 1
        ):
            flags.append(
                Flag(
                    study,
                    column,
                    cell.raw,
                    "fraction_as_percent",
                    f"{cell.raw} in a percentage column (median {typical:g}%) looks "
                    f"like a proportion: {100 * cell.value:g}%?",
                    "warning",
                )
            )
    return flags


def check_complements(
    table: pd.DataFrame, first: str, second: str, tolerance: float = 1.0
) -> list[Flag]:
    """Two percentages of disjoint groups (e.g. responders, non-responders) that add to more
    than 100% (impossible), beyond a rounding ``tolerance``."""
    flags = []
    for (study, a), (_, b) in zip(_cells(table, first), _cells(table, second), strict=True):
        if (
            a.kind == "number"
            and b.kind == "number"
            and a.value is not None
            and b.value is not None
        ):
            total = a.value + b.value
            if total > 100 + tolerance:
                flags.append(
                    Flag(
                        study,
                        f"{first} + {second}",
                        f"{a.raw} + {b.raw}",
                        "complements",
                        f"{a.raw}% + {b.raw}% = {total:g}%: the two groups cannot "
                        "together exceed 100%.",
                        "error",
                    )
                )
    return flags


def check_counts(
    table: pd.DataFrame, n_column: str, subgroup_columns: Iterable[str] = ()
) -> list[Flag]:
    """N cells that hold two counts, and subgroup counts larger than N."""
    flags = []
    for study, cell in _cells(table, n_column):
        if cell.kind == "count_paren":
            flags.append(
                Flag(
                    study,
                    n_column,
                    cell.raw,
                    "n_two_counts",
                    f"N is printed as {cell.raw}: {cell.value:g} and "
                    f"{cell.secondary:g} (analysed vs enrolled?). Which one enters "
                    "each analysis must be chosen explicitly.",
                    "warning",
                )
            )
    for column in subgroup_columns:
        for (study, cell), (_, n) in zip(
            _cells(table, column), _cells(table, n_column), strict=True
        ):
            limit = (
                max(x for x in (n.value, n.secondary) if x is not None) if n.is_numeric else None
            )
            if cell.is_numeric and limit is not None and cell.value > limit:
                flags.append(
                    Flag(
                        study,
                        column,
                        cell.raw,
                        "subgroup_exceeds_n",
                        f"{column} = {cell.raw} exceeds N = {n.raw}.",
                        "error",
                    )
                )
    return flags


def check_sd_looks_like_se(
    table: pd.DataFrame, column: str, n_column: str, scale_range: float, min_fraction: float = 0.05
) -> list[Flag]:
    """'SD's below ``min_fraction`` of the scale range (0.5 on a 0-10 scale) whose value times
    sqrt(n) is a plausible SD: probably standard errors. Pre/post SMDs divide by the SD, so
    an SE in its place inflates the effect by sqrt(n)."""
    flags = []
    for (study, cell), (_, n_cell) in zip(
        _cells(table, column), _cells(table, n_column), strict=True
    ):
        if cell.kind != "mean_sd" or cell.sd is None or not n_cell.is_numeric:
            continue
        if cell.value is not None and cell.value > scale_range:
            continue  # a scale mismatch, reported by check_scale
        n = n_cell.value
        as_sd = cell.sd * n**0.5
        if cell.sd < min_fraction * scale_range and as_sd <= scale_range / 2:
            flags.append(
                Flag(
                    study,
                    column,
                    cell.raw,
                    "sd_looks_like_se",
                    f"SD {cell.sd:g} is below {min_fraction * scale_range:g} on a "
                    f"0-{scale_range:g} scale; if it is a standard error, the SD is "
                    f"{cell.sd:g} x sqrt({n:g}) = {as_sd:.2f}.",
                    "warning",
                )
            )
    return flags
