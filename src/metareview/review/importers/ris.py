"""RIS reader: splits records itself (keeping line numbers), lets rispy map each record's tags.

rispy alone loses the first record of a file that starts with a byte-order mark, silently
skips text between records and gives no line numbers, so the file is split here first.
"""

from __future__ import annotations

import re
from typing import Any

import rispy

from metareview.review.importers._base import (
    ParsedRecord,
    ParseResult,
    Problem,
    build_record,
    join_pages,
)

_START = re.compile(r"^TY  -")
_END = re.compile(r"^ER  -")
RIS_START = re.compile(r"^TY  -", re.MULTILINE)


def _first(record: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = record.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value.strip():
            return value
    return None


def _pmid(record: dict[str, Any]) -> str | None:
    accession = _first(record, "accession_number")
    databases = " ".join(
        str(v) for key in ("name_of_database", "database_provider") for v in _as_list(record, key)
    ).lower()
    if (
        accession
        and accession.strip().isdigit()
        and any(name in databases for name in ("nlm", "pubmed", "medline"))
    ):
        return accession.strip()
    return None


def _as_list(record: dict[str, Any], key: str) -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out[key] = {str(k): list(v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def parse_ris(text: str, file: str) -> ParseResult:
    """Parse RIS ``text`` (already decoded, byte-order mark removed) from ``file``."""
    problems: list[Problem] = []
    records: list[ParsedRecord] = []
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    start_line = 0
    stray_line: int | None = None
    stray_text = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if current is None:
            if _START.match(line):
                if stray_line is not None:
                    problems.append(
                        Problem(file, stray_line, f"text between records ignored: {stray_text!r}")
                    )
                    stray_line = None
                current, start_line = [line], number
            elif line.strip() and stray_line is None:
                stray_line, stray_text = number, line.strip()[:60]
            continue
        if _START.match(line):
            problems.append(
                Problem(file, start_line, "record has no ER line; ended at the next TY")
            )
            blocks.append((start_line, [*current, "ER  - "]))
            current, start_line = [line], number
            continue
        current.append(line)
        if _END.match(line):
            blocks.append((start_line, current))
            current = None
    if current is not None:
        problems.append(Problem(file, start_line, "record has no ER line; ended at end of file"))
        blocks.append((start_line, [*current, "ER  - "]))
    if stray_line is not None:
        problems.append(
            Problem(file, stray_line, f"text after the last record ignored: {stray_text!r}")
        )

    database: str | None = None
    for line_no, lines in blocks:
        try:
            parsed = rispy.loads("\n".join(lines))
        except Exception as exc:  # rispy raises assorted errors on malformed input
            problems.append(Problem(file, line_no, f"record could not be read ({exc}); skipped"))
            continue
        if not parsed:
            problems.append(Problem(file, line_no, "record could not be read; skipped"))
            continue
        rec = parsed[0]
        if not (rec.get("type_of_reference") or "").strip():
            problems.append(Problem(file, line_no, "record has an empty type (TY); kept"))
        authors = _as_list(rec, "first_authors") + _as_list(rec, "authors")
        database = database or _first(rec, "name_of_database", "database_provider")
        records.append(
            build_record(
                file=file,
                line=line_no,
                raw=_jsonable(rec),
                problems=problems,
                title=_first(rec, "title", "primary_title", "translated_title", "short_title"),
                abstract=_first(rec, "abstract", "notes_abstract"),
                authors=authors,
                year=_first(rec, "year", "publication_year", "date"),
                journal=_first(
                    rec,
                    "secondary_title",
                    "journal_name",
                    "alternate_title3",
                    "alternate_title2",
                    "alternate_title1",
                ),
                volume=_first(rec, "volume"),
                issue=_first(rec, "number"),
                pages=join_pages(_first(rec, "start_page"), _first(rec, "end_page")),
                doi=_first(rec, "doi"),
                pmid=_pmid(rec),
            )
        )
    return ParseResult("ris", tuple(records), tuple(problems), database)
