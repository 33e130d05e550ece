"""Integrity checks of extracted rows, driven by the extraction form's declarations.

The checks are those of :mod:`metareview.integrity`; which apply to a field is read off the
form (:mod:`metareview.review.extraction_form`):

- a percentage field (``unit = "%"``): % typed as a fraction (``check_fraction_as_percent``);
  with ``denominator = "<n field>"`` also GRIM (``check_grim``, Brown & Heathers 2017);
- ``complement = "<field>"``: the two percentages add to at most 100% (``check_complements``);
- ``scale = [low, high]``: means outside the scale (``check_scale``); a ``mean_sd`` field with
  a ``denominator`` also an SD that looks like a standard error (``check_sd_looks_like_se``);
- an integer field: two counts typed in one cell, "19(26)", and the integer fields whose
  ``denominator`` it is counted larger than it (``check_counts``).

Rows are given as text as typed (or as stored values, written back as text), so GRIM sees the
printed precision: "93.5" has one decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from metareview import integrity
from metareview.review.extraction_form import ExtractionForm

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["as_text", "form_flags"]


def as_text(value: Any) -> str:
    """A stored value as a table cell: whole floats without ".0" (so that GRIM reads 76, not
    76.0, as printed with no decimals), None as "".

    Examples
    --------
    >>> as_text(76.0), as_text(93.5), as_text(None), as_text(19)
    ('76', '93.5', '', '19')
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_flags(form: ExtractionForm, rows: Mapping[str, Mapping[str, Any]]) -> list[integrity.Flag]:
    """Integrity findings over ``rows`` (study -> {field: text as typed, or stored value}).

    Every finding names the study, the field (``column``), the cell as typed and the reason;
    one finding per (study, field, check).

    Examples
    --------
    >>> form = ExtractionForm.from_mapping({"fields": {
    ...     "n": {"type": "integer"},
    ...     "relief_pct": {"type": "number", "unit": "%", "denominator": "n"}}})
    >>> [f.check for f in form_flags(form, {"Kiefer 2008": {"n": "20", "relief_pct": "93.5"}})]
    ['grim']
    """
    import pandas as pd

    if not rows:
        return []
    table = pd.DataFrame(
        [{name: as_text(row.get(name)) for name in form.names} for row in rows.values()],
        index=pd.Index([str(s) for s in rows], name="study"),
        columns=list(form.names),
        dtype=object,
    )
    flags: list[integrity.Flag] = []
    for spec in form.fields:
        if spec.is_percent:
            flags += integrity.check_fraction_as_percent(table, spec.name)
            if spec.denominator:
                flags += integrity.check_grim(table, spec.name, spec.denominator)
        if spec.complement:
            flags += integrity.check_complements(table, spec.name, spec.complement)
        if spec.scale is not None:
            low, high = spec.scale
            flags += integrity.check_scale(table, spec.name, low, high, f"{low:g}-{high:g} scale")
            if spec.type == "mean_sd" and spec.denominator:
                flags += integrity.check_sd_looks_like_se(
                    table, spec.name, spec.denominator, high - low
                )
        if spec.type == "integer":
            within = [
                s.name for s in form.fields if s.denominator == spec.name and s.type == "integer"
            ]
            flags += integrity.check_counts(table, spec.name, within)
    return list({(f.study, f.column, f.check): f for f in flags}.values())
