"""Shared types of the importers (private)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metareview.review._normalise import clean, normalise_doi, parse_year, split_authors


@dataclass(frozen=True, slots=True)
class Problem:
    """One oddity met while importing: the file, the 1-based line and what was wrong."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


@dataclass(slots=True)
class ParsedRecord:
    """One bibliographic record as read from a file, before it is stored."""

    line: int
    title: str | None = None
    abstract: str | None = None
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    journal: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a parser found: the format, the records, problems and a database hint."""

    format: str
    records: tuple[ParsedRecord, ...]
    problems: tuple[Problem, ...]
    database: str | None = None


#: Why a record is set aside at import (see :func:`lacks_content`).
NO_CONTENT = "no title, abstract or authors"


def lacks_content(title: str | None, abstract: str | None, authors: list[str] | None) -> bool:
    """True for a record with no title, abstract or authors: nothing a reviewer could
    screen it on. The store keeps such a record but sets it aside for an owner, outside the
    screening queue (:meth:`metareview.review.Store.set_aside`)."""
    return (
        not (title or "").strip()
        and not (abstract or "").strip()
        and not any((name or "").strip() for name in authors or ())
    )


def build_record(
    *,
    file: str,
    line: int,
    raw: dict[str, Any],
    problems: list[Problem],
    title: object = None,
    abstract: object = None,
    authors: object = None,
    year: object = None,
    journal: object = None,
    volume: object = None,
    issue: object = None,
    pages: object = None,
    doi: object = None,
    pmid: object = None,
) -> ParsedRecord:
    """Clean the fields of one record, appending a problem for each oddity (never raising)."""
    year_text = clean(year)
    parsed_year = parse_year(year_text) if year_text is not None else None
    if year_text is not None and parsed_year is None:
        problems.append(Problem(file, line, f"year {year_text!r} is not a year; kept as missing"))
    doi_text = clean(doi)
    parsed_doi = normalise_doi(doi_text) if doi_text is not None else None
    if doi_text is not None and parsed_doi is None:
        problems.append(Problem(file, line, f"DOI {doi_text!r} is not a DOI; kept as missing"))
    pmid_text = clean(pmid)
    if pmid_text is not None and not (pmid_text.isdigit() and len(pmid_text) <= 12):
        # PMIDs are at most 8 digits today; the store's column holds 32 characters
        problems.append(
            Problem(
                file,
                line,
                f"PMID {pmid_text!r} is not a PubMed id (a number of at most 12 digits); ignored",
            )
        )
        pmid_text = None
    record = ParsedRecord(
        line=line,
        title=clean(title),
        abstract=clean(abstract),
        authors=split_authors(authors),
        year=parsed_year,
        journal=clean(journal),
        volume=clean(volume),
        issue=clean(issue),
        pages=clean(pages),
        doi=parsed_doi,
        pmid=pmid_text,
        raw=raw,
    )
    if lacks_content(record.title, record.abstract, record.authors):
        problems.append(Problem(file, line, f"record has {NO_CONTENT}"))
    return record


def join_pages(start: object, end: object) -> str | None:
    """``"152-160"`` from a start and an end page; either may be missing."""
    first, last = clean(start), clean(end)
    if first and last and last != first:
        return f"{first}-{last}"
    return first or last
