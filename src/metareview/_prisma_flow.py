"""The counts of a PRISMA 2020 flow diagram, validated against the flow's arithmetic.

Page MJ, McKenzie JE, Bossuyt PM, et al. (2021). The PRISMA 2020 statement: an updated
guideline for reporting systematic reviews. BMJ 372:n71. https://doi.org/10.1136/bmj.n71

The flow's arithmetic is a review-domain rule. It lives in this neutral leaf module (it
imports only ``exceptions``), not in ``plots`` nor in ``review``, because both need it and
neither may import the other: the store's :meth:`~metareview.review.Store.prisma_counts`
checks the counts it derives here, and :func:`metareview.plots.prisma` checks the counts it
is given before drawing them (it draws; it does not count). ``tests/test_layers.py`` keeps
the arrows pointing this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from metareview.exceptions import InputError

__all__ = ["PrismaCounts", "check_counts"]

# always needed; every other count may be None (or left out) when the review does not report it
_REQUIRED = ("records_databases", "studies_included")
_MAIN = (
    "records_registers",
    "duplicates_removed",
    "records_removed_automation",
    "records_removed_other",
    "records_screened",
    "records_excluded",
    "reports_sought",
    "reports_not_retrieved",
    "reports_assessed",
    "reports_excluded",
    "reports_included",
)
_OTHER = (
    "records_other_methods",
    "other_reports_sought",
    "other_reports_not_retrieved",
    "other_reports_assessed",
    "other_reports_excluded",
)
_BY_SOURCE = frozenset({"records_databases", "records_registers", "records_other_methods"})
_BY_REASON = frozenset({"records_removed_other", "reports_excluded", "other_reports_excluded"})
_REMOVED = ("duplicates_removed", "records_removed_automation", "records_removed_other")
_IDENTIFIED = ("records_databases", "records_registers")
KEYS = _REQUIRED[:1] + _MAIN + _REQUIRED[1:] + _OTHER

Parts = dict[str, int | None]


@dataclass(frozen=True, slots=True)
class PrismaCounts:
    """Validated counts; None where a count is not reported. Per-source and per-reason
    counts (``databases``, ``registers``, ``removal_reasons`` of the records removed for
    other reasons, ``exclusion_reasons``...) are dicts (name -> n, n None when not
    reported), or None where only a total was given. ``other`` is False when no
    other-methods branch is drawn."""

    records_databases: int
    databases: Parts | None
    records_registers: int | None
    registers: Parts | None
    duplicates_removed: int | None
    records_removed_automation: int | None
    records_removed_other: int | None
    records_screened: int | None
    records_excluded: int | None
    reports_sought: int | None
    reports_not_retrieved: int | None
    reports_assessed: int | None
    reports_excluded: int | None
    exclusion_reasons: Parts | None
    studies_included: int
    reports_included: int | None
    other: bool = False
    records_other_methods: int | None = None
    other_sources: Parts | None = None
    other_reports_sought: int | None = None
    other_reports_not_retrieved: int | None = None
    other_reports_assessed: int | None = None
    other_reports_excluded: int | None = None
    other_exclusion_reasons: Parts | None = None
    removal_reasons: Parts | None = None


def check_counts(counts: Mapping[str, Any]) -> PrismaCounts:
    """Validate ``counts`` (the keys of :func:`metareview.plots.prisma`) and return them normalised.

    A count that is None or absent is "not reported" (None in the result). Each flow
    invariant is checked only when every count it involves is known. Every failed invariant
    is reported in one :class:`InputError` naming the boxes involved.

    Examples
    --------
    >>> c = check_counts({"records_databases": 82, "duplicates_removed": 2,
    ...     "records_screened": 80, "records_excluded": 50, "reports_sought": 30,
    ...     "reports_not_retrieved": 1, "reports_assessed": 29,
    ...     "reports_excluded": {"Not ketamine": 14}, "studies_included": 15})
    >>> c.reports_included
    15
    >>> c = check_counts({"records_databases": 82, "studies_included": 15})
    >>> c.records_screened is None and c.reports_included is None
    True
    """
    if not isinstance(counts, Mapping):
        raise InputError(f"counts must be a mapping of box name -> n; got {type(counts).__name__}.")
    unknown = sorted(set(counts) - set(KEYS))
    if unknown:
        raise InputError(f"counts has unknown keys {unknown}; accepted keys are {list(KEYS)}.")
    missing = [k for k in _REQUIRED if counts.get(k) is None]
    if missing:
        raise InputError(
            f"counts is missing {missing}; records_databases and studies_included are always "
            "needed (any other count may be None or left out when it is not reported)."
        )
    other = any(k in counts for k in _OTHER)
    totals: dict[str, int | None] = dict.fromkeys(KEYS)
    parts: dict[str, Parts | None] = dict.fromkeys(KEYS)
    for key, value in counts.items():
        totals[key], parts[key] = _count(key, value)
    if totals["records_databases"] is None:
        not_given = [name for name, n in (parts["records_databases"] or {}).items() if n is None]
        raise InputError(
            "records_databases must be known: give the total, or every database's count "
            f"(None for {not_given})."
        )
    get = totals.get

    problems: list[str] = []
    if _known(get, *_IDENTIFIED, *_REMOVED):
        identified = get("records_databases") + get("records_registers")
        removed = sum(get(k) for k in _REMOVED)
        if removed > identified:
            problems.append(
                f"records removed before screening ({_sum_text(_REMOVED, get)}) "
                f"exceed records identified ({_sum_text(_IDENTIFIED, get)})"
            )
        elif _known(get, "records_screened") and identified - removed != get("records_screened"):
            problems.append(
                f"records identified ({_sum_text(_IDENTIFIED, get)}) minus records removed "
                f"before screening ({_sum_text(_REMOVED, get)}) = {identified - removed}, but "
                f"records_screened is {get('records_screened')}"
            )
    _step(problems, get, "records_screened", "records_excluded", "reports_sought")
    _step(problems, get, "reports_sought", "reports_not_retrieved", "reports_assessed")
    if other:
        _step(
            problems,
            get,
            "other_reports_sought",
            "other_reports_not_retrieved",
            "other_reports_assessed",
        )
    branches = [_included(problems, get, "reports_assessed", "reports_excluded")]
    if other:
        branches.append(
            _included(problems, get, "other_reports_assessed", "other_reports_excluded")
        )
    included = None if None in branches else sum(branches)
    reports_included = get("reports_included")
    if reports_included is None:
        reports_included = included
    elif included is not None and reports_included != included:
        problems.append(
            f"reports_assessed minus reports_excluded"
            f"{' (plus the same for other methods)' if other else ''} = {included}, but "
            f"reports_included is {reports_included}"
        )
    if reports_included is not None and get("studies_included") > reports_included:
        problems.append(
            f"studies_included ({get('studies_included')}) exceeds reports_included "
            f"({reports_included}): each included study needs at least one report"
        )
    if problems:
        raise InputError("PRISMA counts do not add up: " + "; ".join(problems) + ".")

    return PrismaCounts(
        records_databases=get("records_databases"),
        databases=parts["records_databases"],
        records_registers=get("records_registers"),
        registers=parts["records_registers"],
        duplicates_removed=get("duplicates_removed"),
        records_removed_automation=get("records_removed_automation"),
        records_removed_other=get("records_removed_other"),
        records_screened=get("records_screened"),
        records_excluded=get("records_excluded"),
        reports_sought=get("reports_sought"),
        reports_not_retrieved=get("reports_not_retrieved"),
        reports_assessed=get("reports_assessed"),
        reports_excluded=get("reports_excluded"),
        exclusion_reasons=parts["reports_excluded"],
        studies_included=get("studies_included"),
        reports_included=reports_included,
        other=other,
        records_other_methods=get("records_other_methods"),
        other_sources=parts["records_other_methods"],
        other_reports_sought=get("other_reports_sought"),
        other_reports_not_retrieved=get("other_reports_not_retrieved"),
        other_reports_assessed=get("other_reports_assessed"),
        other_reports_excluded=get("other_reports_excluded"),
        other_exclusion_reasons=parts["other_reports_excluded"],
        removal_reasons=parts["records_removed_other"],
    )


def _count(key: str, value: Any) -> tuple[int | None, Parts | None]:
    """``(total, parts)``; the total is None when the count, or any of its parts, is None."""
    if value is None:
        return None, None
    if isinstance(value, Mapping):
        if key not in _BY_SOURCE | _BY_REASON:
            raise InputError(f"counts[{key!r}] must be a whole number >= 0; got a mapping.")
        parts = {
            str(name): None if n is None else _whole(f"{key}[{name!r}]", n)
            for name, n in value.items()
        }
        known = [n for n in parts.values() if n is not None]
        return (sum(known) if len(known) == len(parts) else None), parts
    return _whole(key, value), None


def _whole(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise InputError(
            f"counts[{name}] must be a whole number >= 0; got {value!r} "
            "(use None for a count that is not reported)."
        )
    return int(value)


def _known(get, *keys: str) -> bool:
    return all(get(k) is not None for k in keys)


def _step(problems: list[str], get, before: str, removed: str, after: str) -> None:
    """``removed`` cannot exceed ``before``, and ``before - removed`` must equal ``after``;
    each check only when its counts are known."""
    b, r, a = get(before), get(removed), get(after)
    if b is None or r is None:
        return
    if r > b:
        problems.append(f"{removed} ({r}) exceeds {before} ({b})")
    elif a is not None and b - r != a:
        problems.append(f"{before} ({b}) minus {removed} ({r}) = {b - r}, but {after} is {a}")


def _included(problems: list[str], get, assessed: str, excluded: str) -> int | None:
    """Reports included from one branch (None when not known)."""
    a, e = get(assessed), get(excluded)
    if a is None or e is None:
        return None
    if e > a:
        problems.append(f"{excluded} ({e}, all reasons) exceeds {assessed} ({a})")
    return max(a - e, 0)


def _sum_text(keys: tuple[str, ...], get) -> str:
    return f"{sum(get(k) for k in keys)}: " + " + ".join(f"{k} {get(k)}" for k in keys)
