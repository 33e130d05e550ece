"""The counts of a PRISMA 2020 flow diagram, validated against the flow's arithmetic.

Page MJ, McKenzie JE, Bossuyt PM, et al. (2021). The PRISMA 2020 statement: an updated
guideline for reporting systematic reviews. BMJ 372:n71. https://doi.org/10.1136/bmj.n71
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from metareview.exceptions import InputError

__all__ = ["PrismaCounts", "check_counts"]

_REQUIRED = ("records_databases", "records_screened", "records_excluded", "reports_sought",
             "reports_not_retrieved", "reports_assessed", "reports_excluded",
             "studies_included")
_OPTIONAL = ("records_registers", "duplicates_removed", "records_removed_automation",
             "records_removed_other", "reports_included")
_OTHER_REQUIRED = ("records_other_methods", "other_reports_sought", "other_reports_assessed")
_OTHER_OPTIONAL = ("other_reports_not_retrieved", "other_reports_excluded")
_BY_SOURCE = frozenset({"records_databases", "records_registers", "records_other_methods"})
_BY_REASON = frozenset({"reports_excluded", "other_reports_excluded"})
KEYS = _REQUIRED + _OPTIONAL + _OTHER_REQUIRED + _OTHER_OPTIONAL


@dataclass(frozen=True, slots=True)
class PrismaCounts:
    """Validated counts; per-source and per-reason counts as dicts (name -> n), or None
    where only a total was given. ``other`` is False when no other-methods branch is drawn."""

    records_databases: int
    databases: dict[str, int] | None
    records_registers: int | None
    registers: dict[str, int] | None
    duplicates_removed: int
    records_removed_automation: int
    records_removed_other: int
    records_screened: int
    records_excluded: int
    reports_sought: int
    reports_not_retrieved: int
    reports_assessed: int
    reports_excluded: int
    exclusion_reasons: dict[str, int] | None
    studies_included: int
    reports_included: int
    other: bool = False
    records_other_methods: int = 0
    other_sources: dict[str, int] | None = None
    other_reports_sought: int = 0
    other_reports_not_retrieved: int = 0
    other_reports_assessed: int = 0
    other_reports_excluded: int = 0
    other_exclusion_reasons: dict[str, int] | None = None


def check_counts(counts: Mapping[str, Any]) -> PrismaCounts:
    """Validate ``counts`` (see :func:`metareview.plots.prisma`) and return them normalised.

    Every failed invariant is reported in one :class:`InputError` naming the boxes involved.

    Examples
    --------
    >>> c = check_counts({"records_databases": 82, "duplicates_removed": 2,
    ...     "records_screened": 80, "records_excluded": 50, "reports_sought": 30,
    ...     "reports_not_retrieved": 1, "reports_assessed": 29,
    ...     "reports_excluded": {"Not ketamine": 14}, "studies_included": 15})
    >>> c.reports_included
    15
    """
    if not isinstance(counts, Mapping):
        raise InputError(f"counts must be a mapping of box name -> n; got {type(counts).__name__}.")
    unknown = sorted(set(counts) - set(KEYS))
    if unknown:
        raise InputError(f"counts has unknown keys {unknown}; accepted keys are {list(KEYS)}.")
    missing = [k for k in _REQUIRED if k not in counts]
    other = any(k in counts for k in _OTHER_REQUIRED + _OTHER_OPTIONAL)
    if other:
        missing += [k for k in _OTHER_REQUIRED if k not in counts]
    if missing:
        raise InputError(
            f"counts is missing {missing}"
            + ("; the other-methods branch needs all of " + ", ".join(_OTHER_REQUIRED)
               if other else "") + "."
        )
    totals: dict[str, int] = {}
    parts: dict[str, dict[str, int] | None] = {}
    for key, value in counts.items():
        totals[key], parts[key] = _count(key, value)
    get = totals.get

    problems: list[str] = []
    identified = totals["records_databases"] + get("records_registers", 0)
    removed_keys = ("duplicates_removed", "records_removed_automation", "records_removed_other")
    removed = sum(get(k, 0) for k in removed_keys)
    if removed > identified:
        problems.append(f"records removed before screening ({_sum_text(removed_keys, get)}) "
                        f"exceed records identified ({_identified_text(get)})")
    elif identified - removed != totals["records_screened"]:
        problems.append(
            f"records identified ({_identified_text(get)}) minus records removed before "
            f"screening ({_sum_text(removed_keys, get)}) = {identified - removed}, but "
            f"records_screened is {totals['records_screened']}")
    _step(problems, get, "records_screened", "records_excluded", "reports_sought")
    _step(problems, get, "reports_sought", "reports_not_retrieved", "reports_assessed")
    if other:
        _step(problems, get, "other_reports_sought", "other_reports_not_retrieved",
              "other_reports_assessed")
    included = _included(problems, get, "reports_assessed", "reports_excluded")
    if other:
        included += _included(problems, get, "other_reports_assessed", "other_reports_excluded")
    reports_included = get("reports_included", included)
    if "reports_included" in counts and reports_included != included:
        problems.append(
            f"reports_assessed minus reports_excluded"
            f"{' (plus the same for other methods)' if other else ''} = {included}, but "
            f"reports_included is {reports_included}")
    if totals["studies_included"] > reports_included:
        problems.append(
            f"studies_included ({totals['studies_included']}) exceeds reports_included "
            f"({reports_included}): each included study needs at least one report")
    if problems:
        raise InputError("PRISMA counts do not add up: " + "; ".join(problems) + ".")

    return PrismaCounts(
        records_databases=totals["records_databases"], databases=parts["records_databases"],
        records_registers=get("records_registers"), registers=parts.get("records_registers"),
        duplicates_removed=get("duplicates_removed", 0),
        records_removed_automation=get("records_removed_automation", 0),
        records_removed_other=get("records_removed_other", 0),
        records_screened=totals["records_screened"], records_excluded=totals["records_excluded"],
        reports_sought=totals["reports_sought"],
        reports_not_retrieved=totals["reports_not_retrieved"],
        reports_assessed=totals["reports_assessed"], reports_excluded=totals["reports_excluded"],
        exclusion_reasons=parts["reports_excluded"], studies_included=totals["studies_included"],
        reports_included=reports_included, other=other,
        records_other_methods=get("records_other_methods", 0),
        other_sources=parts.get("records_other_methods"),
        other_reports_sought=get("other_reports_sought", 0),
        other_reports_not_retrieved=get("other_reports_not_retrieved", 0),
        other_reports_assessed=get("other_reports_assessed", 0),
        other_reports_excluded=get("other_reports_excluded", 0),
        other_exclusion_reasons=parts.get("other_reports_excluded"),
    )


def _count(key: str, value: Any) -> tuple[int, dict[str, int] | None]:
    if isinstance(value, Mapping):
        if key not in _BY_SOURCE | _BY_REASON:
            raise InputError(f"counts[{key!r}] must be a whole number >= 0; got a mapping.")
        parts = {str(name): _whole(f"{key}[{name!r}]", n) for name, n in value.items()}
        return sum(parts.values()), parts
    return _whole(key, value), None


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise InputError(f"counts[{name}] must be a whole number >= 0; got {value!r}.")
    return int(value)


def _step(problems: list[str], get, before: str, removed: str, after: str) -> None:
    """``before - removed`` must equal ``after`` (and ``removed`` cannot exceed ``before``)."""
    b, r, a = get(before, 0), get(removed, 0), get(after, 0)
    if r > b:
        problems.append(f"{removed} ({r}) exceeds {before} ({b})")
    elif b - r != a:
        problems.append(f"{before} ({b}) minus {removed} ({r}) = {b - r}, but {after} is {a}")


def _included(problems: list[str], get, assessed: str, excluded: str) -> int:
    a, e = get(assessed, 0), get(excluded, 0)
    if e > a:
        problems.append(f"{excluded} ({e}, all reasons) exceeds {assessed} ({a})")
    return max(a - e, 0)


def _sum_text(keys: tuple[str, ...], get) -> str:
    return f"{sum(get(k, 0) for k in keys)}: " + " + ".join(f"{k} {get(k, 0)}" for k in keys)


def _identified_text(get) -> str:
    db, reg = get("records_databases", 0), get("records_registers", 0)
    return f"{db + reg}: records_databases {db} + records_registers {reg}"
