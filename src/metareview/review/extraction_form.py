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

Values are checked when they are entered: a value outside the field's type, range or choices
is refused with an error naming the study and the field. ``None`` means "not reported".
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metareview.exceptions import InputError

__all__ = ["ExtractionForm", "FieldSpec", "load_form"]

TYPES = ("integer", "number", "text", "choice", "boolean")
_KEYS = {"type", "unit", "min", "max", "choices", "required", "description"}


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

    def check(self, study: str, value: Any) -> Any:
        """``value`` converted to the field's type; InputError naming study and field.

        Examples
        --------
        >>> FieldSpec("n", "integer", min=1).check("Correll 2004", "33")
        33
        """
        where = f"study {study!r}, field {self.name!r}"
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            if self.required:
                raise InputError(f"{where}: a value is required (the form marks it required).")
            return None
        if self.type in ("integer", "number"):
            number = _number(where, value, self.type)
            if (self.min is not None and number < self.min) or (
                self.max is not None and number > self.max
            ):
                raise InputError(
                    f"{where}: {number} is outside the allowed range "
                    f"[{self.min}, {self.max}]" + (f" {self.unit}." if self.unit else ".")
                )
            return number
        if self.type == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "y", "1"):
                return True
            if text in ("false", "no", "n", "0"):
                return False
            raise InputError(f"{where}: expected yes/no (true/false); got {value!r}.")
        text = str(value).strip()
        if self.type == "choice" and text not in self.choices:
            raise InputError(f"{where}: {text!r} is not one of {list(self.choices)}.")
        return text


def _number(where: str, value: Any, kind: str) -> float | int:
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a {kind}; got {value!r}.")
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected a {kind}; got {value!r}.") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: expected a finite {kind}; got {value!r}.")
    if kind == "integer":
        if number != int(number):
            raise InputError(f"{where}: expected a whole number; got {value!r}.")
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
                )
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
