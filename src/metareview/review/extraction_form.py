"""Extraction forms: the fields a review extracts, as declared in its protocol file.

A form is the ``[extraction]`` section of ``protocol.toml``::

    [extraction.fields.n]
    type = "integer"          # integer, number, text, choice or boolean
    min = 1
    required = true
    description = "Patients who received ketamine"

    [extraction.fields.dose_mg_per_kg_h]
    type = "number"
    unit = "mg/kg/h"
    min = 0
    max = 5

    [extraction.fields.design]
    type = "choice"
    choices = ["RCT", "cohort", "case series"]

    [extraction.fields.responders_pct]
    type = "number"
    unit = "%"
    denominator = "n"         # a percentage of the field n: GRIM and % vs fraction checks

    [extraction.fields.pain_baseline]
    type = "mean_sd"          # typed as printed, "8.97±0.3"; kept as text, checked as numbers
    scale = [0, 10]           # the rating scale: scale and SD-looks-like-SE checks
    denominator = "n"

Values are checked when they are entered: a value outside the field's type, range or choices
is refused with an error naming the study and the field. ``None`` means "not reported".
Numbers may be typed as printed in the paper ("93.5%", "19(26)", "4.7 days", "NR"): the cell
is read with :func:`metareview.cells.parse_cell` (the reading is what
:meth:`FieldSpec.read` returns beside the value); an integer field typed as two counts keeps
the first (the integrity checks name the second); a reading that is not one number of the
field's unit (a range, a mean ± SD, another unit) is refused, saying what was read.

``denominator``, ``complement`` and ``scale`` declare what the integrity checks of
:mod:`metareview.integrity` may test (see
:func:`metareview.review.extraction_checks.form_flags`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metareview.cells import Cell, parse_cell
from metareview.exceptions import InputError

__all__ = ["ExtractionForm", "FieldSpec", "load_form"]

TYPES = ("integer", "number", "mean_sd", "text", "choice", "boolean")
_KEYS = {
    "type",
    "unit",
    "min",
    "max",
    "choices",
    "required",
    "description",
    "denominator",
    "complement",
    "scale",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of an extraction form."""

    name: str
    type: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    description: str = ""
    denominator: str | None = None
    complement: str | None = None
    scale: tuple[float, float] | None = None

    @property
    def is_percent(self) -> bool:
        """A percentage field (its unit is ``%``)."""
        return self.unit == "%"

    def check(self, study: str, value: Any) -> Any:
        """``value`` converted to the field's type; InputError naming study and field.

        Examples
        --------
        >>> FieldSpec("n", "integer", min=1).check("Correll 2004", "33")
        33
        >>> FieldSpec("n", "integer", min=1).check("Schwartzman 2009", "19(26)")
        19
        """
        return self.read(study, value)[0]

    def read(self, study: str, value: Any) -> tuple[Any, Cell | None]:
        """``value`` converted to the field's type, and the cell read from it (numeric
        fields typed as text; None otherwise). InputError naming study and field.

        Examples
        --------
        >>> value, cell = FieldSpec("p", "number", unit="%").read("Kiefer 2008", "93.5%")
        >>> value, cell.describe()
        (93.5, '93.5 %')
        """
        where = f"study {study!r}, field {self.name!r}"
        cell = None
        if isinstance(value, str) and self.type in ("integer", "number", "mean_sd"):
            cell = parse_cell(value)
            if cell.is_missing:
                value = None
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            if self.required:
                raise InputError(f"{where}: a value is required (the form marks it required).")
            return None, cell
        if self.type == "mean_sd":
            return self._mean_sd(where, value, cell), cell
        if self.type in ("integer", "number"):
            number = _number(where, value if cell is None else self._one_number(where, cell))
            number = _kind(where, number, value, self.type)
            self._in_range(where, number)
            return number, cell
        if self.type == "boolean":
            if isinstance(value, bool):
                return value, cell
            text = str(value).strip().lower()
            if text in ("true", "yes", "y", "1"):
                return True, cell
            if text in ("false", "no", "n", "0"):
                return False, cell
            raise InputError(f"{where}: expected yes/no (true/false); got {value!r}.")
        text = str(value).strip()
        if self.type == "choice" and text not in self.choices:
            raise InputError(f"{where}: {text!r} is not one of {list(self.choices)}.")
        return text, cell

    def _one_number(self, where: str, cell: Cell) -> float:
        """The number of a cell typed into a numeric field, or InputError saying what was
        read instead (a range, a mean ± SD, a bound, words, another unit)."""
        allowed = ("number", "count_paren") if self.type == "integer" else ("number",)
        if cell.kind not in allowed or cell.value is None:
            raise InputError(
                f"{where}: {cell.raw.strip()!r} reads as {_reading(cell)}; this field "
                f"takes one {_KIND_WORDS[self.type]}"
                + (f" in {self.unit}" if self.unit else "")
                + "."
            )
        if cell.unit and (self.unit is None or cell.unit.lower() != self.unit.lower()):
            wanted = f"in {self.unit!r}" if self.unit else "without a unit"
            raise InputError(
                f"{where}: {cell.raw.strip()!r} is in {cell.unit!r}; this field is {wanted} "
                "(convert the value, or type the number alone)."
            )
        return cell.value

    def _mean_sd(self, where: str, value: Any, cell: Cell | None) -> str:
        """A mean ± SD kept as typed (the report reads it with ``parse_cell``)."""
        if cell is None:  # a bare number: the mean alone
            mean = _number(where, value)
            self._in_range(where, mean)
            return f"{mean:g}"
        if cell.kind not in ("mean_sd", "number") or cell.value is None:
            raise InputError(
                f"{where}: {cell.raw.strip()!r} reads as {_reading(cell)}; this field takes "
                "a mean ± SD as printed (e.g. 8.2±1.7)."
            )
        self._in_range(where, cell.value)
        return " ".join(cell.raw.split())

    def _in_range(self, where: str, number: float) -> None:
        if (self.min is not None and number < self.min) or (
            self.max is not None and number > self.max
        ):
            raise InputError(
                f"{where}: {number} is outside the allowed range [{self.min}, {self.max}]"
                + (f" {self.unit}." if self.unit else ".")
            )


_KIND_WORDS = {"integer": "whole number", "number": "number", "mean_sd": "mean ± SD"}


def _reading(cell: Cell) -> str:
    """What a cell was read as, in words (for messages)."""
    if cell.kind == "text":
        return "words, no number"
    return f"{_CELL_WORDS.get(cell.kind, cell.kind)} ({cell.describe()})"


_CELL_WORDS = {
    "mean_sd": "a mean ± SD",
    "count_paren": "two counts",
    "range": "a range",
    "bound": "a bound",
    "number": "a number",
}


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number; got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a number; got {value!r}.") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: expected a finite number; got {value!r}.")
    return number


def _kind(where: str, number: float, given: Any, kind: str) -> float | int:
    if kind == "integer":
        if number != int(number):
            raise InputError(f"{where}: expected a whole number; got {given!r}.")
        return int(number)
    return number


@dataclass(frozen=True, slots=True)
class ExtractionForm:
    """The fields of an extraction form, in the protocol's order."""

    fields: tuple[FieldSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in form order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; InputError listing the form's fields otherwise."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise InputError(
            f"field {name!r} is not on the extraction form; fields are {list(self.names)}."
        )

    @classmethod
    def from_mapping(
        cls, section: Mapping[str, Any], where: str = "[extraction]"
    ) -> ExtractionForm:
        """Build a form from the ``[extraction]`` section (a mapping with ``fields``).

        Examples
        --------
        >>> form = ExtractionForm.from_mapping({"fields": {"n": {"type": "integer"}}})
        >>> form.names
        ('n',)
        """
        fields = section.get("fields")
        if not isinstance(fields, Mapping) or not fields:
            raise InputError(f"{where}: needs a [extraction.fields.<name>] table per field.")
        specs = []
        for name, spec in fields.items():
            at = f"{where} field {name!r}"
            if not isinstance(spec, Mapping):
                raise InputError(f"{at}: must be a table with at least 'type'.")
            unknown = sorted(set(spec) - _KEYS)
            if unknown:
                raise InputError(f"{at}: unknown keys {unknown}; allowed {sorted(_KEYS)}.")
            kind = spec.get("type")
            if kind not in TYPES:
                raise InputError(f"{at}: type must be one of {list(TYPES)}; got {kind!r}.")
            choices = tuple(str(c) for c in spec.get("choices", ()))
            if kind == "choice" and not choices:
                raise InputError(f"{at}: a choice field needs 'choices'.")
            scale = spec.get("scale")
            if scale is not None and not (
                isinstance(scale, list | tuple)
                and len(scale) == 2
                and all(isinstance(x, int | float) and not isinstance(x, bool) for x in scale)
                and scale[0] < scale[1]
            ):
                raise InputError(f"{at}: scale must be [low, high] with low < high; got {scale!r}.")
            specs.append(
                FieldSpec(
                    name=str(name),
                    type=kind,
                    unit=spec.get("unit"),
                    min=spec.get("min"),
                    max=spec.get("max"),
                    choices=choices,
                    required=bool(spec.get("required", False)),
                    description=str(spec.get("description", "")),
                    denominator=spec.get("denominator"),
                    complement=spec.get("complement"),
                    scale=None if scale is None else (float(scale[0]), float(scale[1])),
                )
            )
        names = {s.name: s for s in specs}
        for spec in specs:
            for key in ("denominator", "complement"):
                other = getattr(spec, key)
                if other is None:
                    continue
                target = names.get(other)
                need = ("integer",) if key == "denominator" else ("number",)
                if target is None or target.type not in need:
                    raise InputError(
                        f"{where} field {spec.name!r}: {key} must name another "
                        f"{' or '.join(need)} field of the form; got {other!r}."
                    )
        return cls(tuple(specs))


def load_form(path: str | Path) -> ExtractionForm:
    """The extraction form of the protocol file at ``path`` (its ``[extraction]`` section)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}).") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc}).") from exc
    if "extraction" not in data:
        raise InputError(f"{path}: has no [extraction] section (the extraction form).")
    return ExtractionForm.from_mapping(data["extraction"], f"{path} [extraction]")
