"""Reading the extraction table's cells for an analysis: every cell an analysis needs is
either read, or named in an error (file, row, column, the cell as printed, what was expected).

A cell that cannot be read never silently takes its study out of an analysis. When the
protocol allows it (``unreadable_cells = "report"`` in ``[review]``), the study is left out of
that analysis and the cell becomes a :class:`Finding`, shown at the top of the report and in
the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metareview.cells import Cell, parse_cell
from metareview.exceptions import InputError

__all__ = ["KINDS", "CellSpec", "Finding", "check_cells", "check_events_within"]

#: what a cell of each kind must hold, in the words of the error message
KINDS = {
    "percent": "a percentage between 0 and 100 (e.g. 62.5)",
    "count": "a whole number of people of at least 1 (e.g. 20, or 19(26) for two counts)",
    "events": "a whole number of events of at least 0 (e.g. 4)",
    "mean_sd": "a mean and SD written 'mean±SD' (e.g. 7.1±1.5) with SD > 0",
    "number": "a number (e.g. 0.42)",
    "positive": "a number greater than 0 (e.g. 0.05)",
    "correlation": "a correlation between -1 and 1 (e.g. 0.31)",
}


@dataclass(frozen=True, slots=True)
class CellSpec:
    """A column an analysis reads, and what each of its cells must hold (a key of KINDS)."""

    column: str
    kind: str
    used_by: str  # the analysis that needs it, for the message ("outcome 'immediate'")


@dataclass(frozen=True, slots=True)
class Finding:
    """A cell that could not be read and was left out, as the protocol allows."""

    file: str
    row: int
    study: str
    column: str
    cell: str
    problem: str
    expected: str
    used_by: str

    def __str__(self) -> str:
        return (
            f"{self.file}, row {self.row}, column {self.column!r} (study {self.study!r}): "
            f"cell {self.cell!r} ({self.problem}); expected {self.expected}. The study is "
            f"left out of {self.used_by}."
        )


def problem(cell: Cell, kind: str) -> str | None:
    """Why ``cell`` cannot be read as ``kind``, or None if it can (missing cells can).

    Examples
    --------
    >>> problem(parse_cell("abc"), "percent"), problem(parse_cell("150"), "percent")
    ('no number in it', 'outside 0-100')
    >>> problem(parse_cell("19(26)"), "count"), problem(parse_cell("-"), "count")
    (None, None)
    """
    if cell.is_missing:
        return None
    if not cell.is_numeric:
        return "no number in it"
    value = cell.value
    if kind == "mean_sd":
        if cell.kind != "mean_sd":
            return "not written as mean±SD"
        return None if cell.sd is not None and cell.sd > 0 else "SD not greater than 0"
    if cell.kind == "count_paren":
        ok = kind == "count" and value >= 1 and (cell.secondary or 0) >= 1
        return None if ok else "two counts where one number is expected"
    if cell.kind != "number":
        return f"a {cell.kind.replace('_', ' ')}, not a single number"
    if kind == "percent":
        return None if 0 <= value <= 100 else "outside 0-100"
    if kind in ("count", "events"):
        if value != int(value):
            return "not a whole number"
        low = 1 if kind == "count" else 0
        return None if value >= low else f"less than {low}"
    if kind == "correlation":
        return None if -1 <= value <= 1 else "outside -1 to 1"
    if kind == "positive":
        return None if value > 0 else "not greater than 0"
    return None


def _advice(protocol_path: Path | None) -> str:
    return (
        f"Correct the cell, write '-' if it was not reported, or set "
        f'unreadable_cells = "report" in [review] of '
        f"{protocol_path.name if protocol_path else 'protocol.toml'} to leave such studies "
        "out and list them at the top of the report."
    )


def check_events_within(
    table: pd.DataFrame,
    table_path: Path,
    pairs: list[tuple[str, str, str]],
    *,
    allow: bool,
    protocol_path: Path | None = None,
) -> list[Finding]:
    """Events that exceed their group's size (``xi > ni``, ``ai > n1i``, ``ci > n2i``).

    ``pairs`` holds ``(events column, size column, used_by)``. Cells that are missing or
    unreadable are left to :func:`check_cells`.
    """
    findings = []
    for events_column, size_column, used_by in pairs:
        for position, (study, raw) in enumerate(table[events_column].items()):
            events = parse_cell(raw)
            size = parse_cell(table.at[study, size_column])
            if not (events.kind == "number" and size.is_numeric):
                continue
            limit = max(x for x in (size.value, size.secondary) if x is not None)
            if events.value <= limit:
                continue
            why = f"more events than the {size.raw} in column {size_column!r}"
            finding = Finding(
                table_path.name,
                position + 2,
                str(study),
                events_column,
                str(raw),
                why,
                f"at most the group size ({size.raw})",
                used_by,
            )
            if not allow:
                raise InputError(
                    f"{table_path}, row {finding.row}, column {events_column!r} "
                    f"(study {finding.study!r}): cell {finding.cell!r} ({why}); "
                    f"expected {finding.expected}. {_advice(protocol_path)}"
                )
            findings.append(finding)
    return findings


def check_cells(
    table: pd.DataFrame,
    table_path: Path,
    specs: list[CellSpec],
    *,
    allow: bool,
    protocol_path: Path | None = None,
) -> list[Finding]:
    """Check every cell of the columns in ``specs``.

    Parameters
    ----------
    table : DataFrame
        The extraction table (every cell a string), indexed by study label.
    table_path : Path
        Its file, named in messages.
    specs : list of CellSpec
        The columns the analyses read and what their cells must hold.
    allow : bool
        False: the first unreadable cell raises. True: each becomes a :class:`Finding`.
    protocol_path : Path, optional
        The protocol, named in the advice of the error message.

    Returns
    -------
    list of Finding
        Unreadable cells (only when ``allow``).

    Raises
    ------
    InputError
        Naming the file, row, column, the cell as printed and what was expected.
    """
    findings = []
    for spec in specs:
        for position, (study, raw) in enumerate(table[spec.column].items()):
            why = problem(parse_cell(raw), spec.kind)
            if why is None:
                continue
            finding = Finding(
                table_path.name,
                position + 2,
                str(study),
                spec.column,
                str(raw),
                why,
                KINDS[spec.kind],
                spec.used_by,
            )
            if not allow:
                raise InputError(
                    f"{table_path}, row {finding.row}, column {spec.column!r} "
                    f"(study {finding.study!r}): cell {finding.cell!r} ({why}); "
                    f"expected {finding.expected}. {_advice(protocol_path)}"
                )
            findings.append(finding)
    return findings
