"""CSV/TSV reader (comma, semicolon or tab separated), with a column name per field."""

from __future__ import annotations

import csv
import io

from metareview.exceptions import InputError
from metareview.review.importers._base import (
    ParsedRecord,
    ParseResult,
    Problem,
    build_record,
    join_pages,
)

#: Accepted column names per field, in order of preference (compared lower-case, stripped).
COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title", "primary_title", "article title", "ti"),
    "abstract": ("abstract", "notes_abstract", "ab"),
    "authors": ("authors", "author", "first_authors", "au"),
    "year": ("year", "publication_year", "py", "publication year"),
    "journal": ("journal", "journal_name", "source title", "secondary_title", "t2"),
    "volume": ("volume", "vl"),
    "issue": ("issue", "number", "is"),
    "pages": ("pages", "page", "pg"),
    "start_page": ("start_page", "sp"),
    "end_page": ("end_page", "ep"),
    "doi": ("doi", "do"),
    "pmid": ("pmid", "pubmed_id"),
}
_KNOWN = {"title", "abstract", "doi", "pmid", "authors"}


def sniff_delimiter(first_line: str) -> str | None:
    """The most frequent of tab, semicolon and comma in the header line, or None."""
    counts = {d: first_line.count(d) for d in ("\t", ";", ",")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def parse_delimited(text: str, file: str) -> ParseResult:
    """Parse a delimited table whose header names at least a title, abstract, DOI or PMID."""
    first_line = text.split("\n", 1)[0]
    delimiter = sniff_delimiter(first_line)
    if delimiter is None:
        raise InputError(
            f"{file}: no column separator (tab, ';' or ',') in the header line "
            f"{first_line[:60]!r}; a CSV/TSV export needs a header row."
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise InputError(f"{file}: the header row could not be read ({exc}).") from exc
    index: dict[str, int] = {}
    for field_name, names in COLUMNS.items():
        for name in names:
            if name in header:
                index[field_name] = header.index(name)
                break
    if not _KNOWN & index.keys():
        raise InputError(
            f"{file}: the header {header[:8]} names none of the columns title, abstract, "
            "authors, doi or pmid; rename the columns or export as RIS."
        )
    problems: list[Problem] = []
    records: list[ParsedRecord] = []
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(file, line, f"row could not be read ({exc}); skipped"))
            break
        if not any(cell.strip() for cell in row):
            line = reader.line_num + 1
            continue
        if len(row) != len(header):
            problems.append(
                Problem(file, line, f"row has {len(row)} cells, header has {len(header)}; kept")
            )

        def get(field_name: str, _row: list[str] = row) -> str | None:
            i = index.get(field_name)
            return _row[i] if i is not None and i < len(_row) else None

        raw = {name: row[i] if i < len(row) else None for i, name in enumerate(header)}
        records.append(
            build_record(
                file=file,
                line=line,
                raw=raw,
                problems=problems,
                title=get("title"),
                abstract=get("abstract"),
                authors=get("authors"),
                year=get("year"),
                journal=get("journal"),
                volume=get("volume"),
                issue=get("issue"),
                pages=get("pages") or join_pages(get("start_page"), get("end_page")),
                doi=get("doi"),
                pmid=get("pmid"),
            )
        )
        line = reader.line_num + 1
    return ParseResult("csv" if delimiter != "\t" else "tsv", tuple(records), tuple(problems))
