"""Parsing of messy extraction-table cells, keeping every value's source.

Published characteristics tables mix numbers, units and words in one cell: "23.4±9.6mg/hr",
"19(26)", "7-8mg/hr", "5.62 years (6 months unrelenting pain)", ">1 year", "-", "Effective".
:func:`parse_cell` turns one cell into a :class:`Cell` that says what kind of value it holds,
its numbers and unit, any parenthetical note, and flags for whatever a reviewer should look
at -- and it always keeps the raw text, so every number in a report can be traced back to the
cell it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING_MARKERS", "Cell", "parse_cell"]

#: cells that mean "not reported"
MISSING_MARKERS = frozenset({"", "-", "–", "—", "NA", "N/A", "n/a", "NR", "nr", "not reported"})

_NUM = r"[-+]?\d+(?:\.\d+)?"
_PM = r"\s*(?:±|\+/-|\+-)\s*"
_UNIT = r"(?P<unit>[A-Za-z%/][A-Za-z0-9%/ .]*?)?"
_NOTE = r"(?:\s*\((?P<note>[^()]*)\))?"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("mean_sd", re.compile(rf"^(?P<a>{_NUM}){_PM}(?P<b>{_NUM})\s*{_UNIT}{_NOTE}\s*$")),
    ("count_paren", re.compile(r"^(?P<a>\d+)\s*\((?P<b>\d+)\)\s*$")),
    ("range", re.compile(rf"^(?P<a>{_NUM})\s*(?:-|–|to)\s*(?P<b>{_NUM})\s*{_UNIT}{_NOTE}\s*$")),
    ("bound", re.compile(rf"^(?P<op><=|>=|<|>|≤|≥)\s*(?P<a>{_NUM})\s*{_UNIT}{_NOTE}\s*$")),
    ("number", re.compile(rf"^(?P<a>{_NUM})\s*{_UNIT}{_NOTE}\s*$")),
]

_MONTHS_PER = {"day": 12 / 365.25, "week": 12 / 52.1775, "month": 1.0, "year": 12.0}


@dataclass(frozen=True, slots=True)
class Cell:
    """One parsed cell.

    Attributes
    ----------
    raw : the cell exactly as printed.
    kind : "missing", "number", "mean_sd", "count_paren" (n(m)), "range", "bound" (">1") or
        "text" (no number could be read).
    value : the main number: the single value, the mean, the first count, or the bound.
    sd : the number after "±" (labelled SD by the table; see ``metareview.integrity``).
    low, high : the ends of a range.
    secondary : the number in parentheses of an n(m) cell.
    unit : the unit text that followed the numbers ("mg/hr", "months", ...).
    note : text in parentheses after the value.
    flags : reasons to look at the cell ("non-numeric", "bound", "range", "two counts").
    """

    raw: str
    kind: str
    value: float | None = None
    sd: float | None = None
    low: float | None = None
    high: float | None = None
    secondary: float | None = None
    unit: str | None = None
    note: str | None = None
    bound: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def is_missing(self) -> bool:
        return self.kind == "missing"

    @property
    def is_numeric(self) -> bool:
        return self.value is not None

    def in_months(self) -> Cell:
        """The same cell with a duration unit (days, weeks, months, years) converted to months.

        Examples
        --------
        >>> parse_cell("8.4±6.1 years").in_months().value
        100.80000000000001
        """
        factor = _duration_factor(self.unit)
        if factor is None or not self.is_numeric:
            return self

        def scale(x: float | None) -> float | None:
            return None if x is None else x * factor

        return Cell(
            self.raw,
            self.kind,
            scale(self.value),
            scale(self.sd),
            scale(self.low),
            scale(self.high),
            self.secondary,
            "months",
            self.note,
            self.bound,
            self.flags,
        )

    def describe(self) -> str:
        """What the cell was read as, in a few words (shown beside a field as it is typed).

        Examples
        --------
        >>> parse_cell("85.1±1.9").describe(), parse_cell("19(26)").describe()
        ('mean 85.1, SD 1.9', '19, and 26 in parentheses')
        >>> parse_cell("7-8mg/hr").describe(), parse_cell("NR").describe()
        ('7 to 8 mg/hr', 'not reported')
        """
        unit = f" {self.unit}" if self.unit else ""
        note = f" ({self.note})" if self.note else ""
        if self.kind == "missing":
            return "not reported"
        if self.kind == "text":
            return "text, no number"
        if self.kind == "mean_sd":
            return f"mean {self.value:g}, SD {self.sd:g}{unit}{note}"
        if self.kind == "count_paren":
            return f"{self.value:g}, and {self.secondary:g} in parentheses"
        if self.kind == "range":
            return f"{self.low:g} to {self.high:g}{unit}{note}"
        if self.kind == "bound":
            return f"{self.bound} {self.value:g}{unit}{note}"
        return f"{self.value:g}{unit}{note}"

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _duration_factor(unit: str | None) -> float | None:
    if not unit:
        return None
    word = unit.strip().lower().rstrip("s")
    return _MONTHS_PER.get(word)


def parse_cell(raw: Any) -> Cell:
    """Parse one table cell.

    Examples
    --------
    >>> parse_cell("85.1±1.9").kind, parse_cell("85.1±1.9").sd
    ('mean_sd', 1.9)
    >>> c = parse_cell("19(26)"); c.kind, c.value, c.secondary
    ('count_paren', 19.0, 26.0)
    >>> c = parse_cell("7-8mg/hr"); c.kind, c.low, c.high, c.unit
    ('range', 7.0, 8.0, 'mg/hr')
    >>> c = parse_cell("5.62 years (6 months unrelenting pain)"); c.value, c.unit, c.note
    (5.62, 'years', '6 months unrelenting pain')
    >>> parse_cell("-").kind, parse_cell("Effective").flags
    ('missing', ('non-numeric',))
    """
    text = "" if raw is None else str(raw)
    stripped = " ".join(text.split())
    if stripped in MISSING_MARKERS:
        return Cell(text, "missing")
    for kind, pattern in _PATTERNS:
        match = pattern.match(stripped)
        if match is None:
            continue
        groups = match.groupdict()
        unit = (groups.get("unit") or "").strip() or None
        note = groups.get("note")
        a = float(groups["a"])
        b = float(groups["b"]) if groups.get("b") is not None else None
        if kind == "mean_sd":
            return Cell(text, kind, value=a, sd=b, unit=unit, note=note)
        if kind == "count_paren":
            return Cell(text, kind, value=a, secondary=b, flags=("two counts",))
        if kind == "range":
            return Cell(
                text, kind, value=(a + b) / 2, low=a, high=b, unit=unit, note=note, flags=("range",)
            )
        if kind == "bound":
            return Cell(
                text, kind, value=a, unit=unit, note=note, bound=groups["op"], flags=("bound",)
            )
        return Cell(text, kind, value=a, unit=unit, note=note)
    return Cell(text, "text", flags=("non-numeric",))
