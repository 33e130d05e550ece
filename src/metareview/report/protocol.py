"""The review folder's protocol file (``protocol.toml``): load and validate it.

A review folder holds ``protocol.toml`` and the extraction table it names. Errors name the
file, the section and the key (or the table's row and column).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from metareview.cells import Cell, parse_cell
from metareview.exceptions import InputError
from metareview.report.reading import CellSpec, Finding, check_cells

__all__ = ["Protocol", "load_protocol"]

REQUIRED_COLUMNS = ("study", "year", "n")
KNOWN_SECTIONS = {"review", "columns", "outcomes", "assumptions", "harms", "published", "prisma"}


@dataclass(frozen=True, slots=True)
class Protocol:
    """A parsed protocol plus the extraction table it points to (every cell a string)."""

    folder: Path
    path: Path
    review: dict[str, Any]
    columns: dict[str, str]
    outcomes: dict[str, Any]
    assumptions: dict[str, Any]
    harms: dict[str, Any]
    published: dict[str, Any]
    prisma: dict[str, Any]
    table: pd.DataFrame
    findings: tuple[Finding, ...] = ()

    def column(self, role: str) -> str | None:
        """The table column that plays ``role`` (e.g. "immediate"), if the protocol names one."""
        return self.columns.get(role)

    def assumption(self, key: str, default: Any = None) -> Any:
        return self.assumptions.get(key, default)

    def cell(self, study: str, column: str) -> Cell:
        """The parsed cell; one the protocol allowed to be unreadable reads as missing."""
        raw = self.table.at[study, column]
        if any(f.study == study and f.column == column for f in self.findings):
            return Cell(raw, "missing")
        return parse_cell(raw)


def load_protocol(folder: str | Path) -> Protocol:
    """Read ``<folder>/protocol.toml`` and the table it names; check that they fit together.

    Raises
    ------
    InputError
        Missing folder or file, TOML syntax errors (with line), unknown sections, a column
        named in ``[columns]`` that the table lacks, or study labels that are not unique.
    """
    folder = Path(folder)
    path = folder / "protocol.toml"
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; a review folder holds protocol.toml and "
                         "the extraction table.")
    if not path.is_file():
        raise InputError(f"{path} not found: every review folder needs a protocol.toml.")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: {error}") from None
    unknown = set(raw) - KNOWN_SECTIONS
    if unknown:
        raise InputError(f"{path}: unknown section(s) {sorted(unknown)}; known sections are "
                         f"{sorted(KNOWN_SECTIONS)}.")
    review = raw.get("review", {})
    if "table" not in review:
        raise InputError(f"{path}: [review] needs table = \"<file>.csv\" (the extraction table).")
    columns = raw.get("columns", {})
    missing_roles = [r for r in REQUIRED_COLUMNS if r not in columns]
    if missing_roles:
        raise InputError(f"{path}: [columns] must name the {', '.join(missing_roles)} column(s).")
    table_path = folder / review["table"]
    if not table_path.is_file():
        raise InputError(f"{path}: [review] table = {review['table']!r}, but {table_path} does "
                         "not exist.")
    table = pd.read_csv(table_path, dtype=str, keep_default_na=False)
    absent = {role: name for role, name in columns.items() if name not in table.columns}
    if absent:
        details = ", ".join(f"{role} = {name!r}" for role, name in absent.items())
        raise InputError(f"{table_path}: column(s) named in {path.name} [columns] not found: "
                         f"{details}. The table has {list(table.columns)}.")
    for row, value in enumerate(table[columns["study"]], start=2):
        if not value.strip():
            raise InputError(f"{table_path}, row {row}, column {columns['study']!r}: empty study "
                             "label.")
    labels = [_label(s, y) for s, y in zip(table[columns["study"]], table[columns["year"]],
                                           strict=True)]
    table.index = pd.Index(_disambiguate(labels), name="study")
    allow = review.get("unreadable_cells", "error")
    if allow not in ("error", "report"):
        raise InputError(f"{path}: [review] unreadable_cells = {allow!r}; expected \"error\" "
                         "(default: stop at a cell that cannot be read) or \"report\" (leave "
                         "its study out of that analysis and list it at the top of the report).")
    findings = check_cells(table, table_path, _cell_specs(columns), allow=allow == "report",
                           protocol_path=path)
    return Protocol(folder, path, review, columns, raw.get("outcomes", {}),
                    raw.get("assumptions", {}), raw.get("harms", {}), raw.get("published", {}),
                    raw.get("prisma", {}), table, tuple(findings))


def _cell_specs(columns: dict[str, str]) -> list[CellSpec]:
    kinds = {"n": "count", "immediate": "percent", "followup": "percent",
             "none_effect": "percent", "baseline": "mean_sd", "end": "mean_sd"}
    return [CellSpec(columns[role], kind, f"the analyses of {columns[role]!r}")
            for role, kind in kinds.items() if role in columns]


def _label(study: str, year: str) -> str:
    """``"Study (year)"``, unless the study label already ends with its year in brackets
    (``"Kiefer, R et al (2008a)"``, as a review store's studies table has them).

    >>> _label("Correl, G et al", "2004"), _label("Kiefer, R et al (2008a)", "2008")
    ('Correl, G et al (2004)', 'Kiefer, R et al (2008a)')
    """
    year = str(year).strip()
    if year and re.search(rf"\({re.escape(year)}[a-z]?\)\s*$", study):
        return study.strip()
    return f"{study} ({year})"


def _disambiguate(labels: list[str]) -> list[str]:
    """Suffix repeated labels a, b, ... in table order ("Kiefer, R et al (2008a)")."""
    counts = {lab: labels.count(lab) for lab in labels}
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        if counts[lab] == 1:
            out.append(lab)
            continue
        seen[lab] = seen.get(lab, 0) + 1
        out.append(f"{lab[:-1]}{'abcdefghijklmnopqrstuvwxyz'[seen[lab] - 1]})")
    return out
