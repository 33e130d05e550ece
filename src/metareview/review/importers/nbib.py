"""PubMed/MEDLINE (``.nbib``) reader: ``TAG - value`` lines, continuation lines indented."""

from __future__ import annotations

import re

from metareview.review.importers._base import ParsedRecord, ParseResult, Problem, build_record

_TAG = re.compile(r"^([A-Z][A-Z0-9]{0,3}) *- ?(.*)$")
# A MEDLINE record opens with its PMID line; exports of records without a PMID (e.g. from a
# reference manager) still carry the tags padded to four characters: "TI  - ", "FAU - "...
NBIB_START = re.compile(r"^(?:PMID- *\d|(?:PMID|FAU |TI  |AU  |JT  |DP  )- \S)", re.MULTILINE)


def parse_nbib(text: str, file: str) -> ParseResult:
    """Parse MEDLINE-format ``text`` from ``file``; records start at ``PMID-`` lines."""
    problems: list[Problem] = []
    blocks: list[tuple[int, list[tuple[str, str]]]] = []
    current: list[tuple[str, str]] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _TAG.match(line)
        if match and match.group(1) == "PMID":
            current = [("PMID", match.group(2).strip())]
            blocks.append((number, current))
        elif current is None:
            problems.append(
                Problem(
                    file, number, f"text before the first record ignored: {line.strip()[:60]!r}"
                )
            )
        elif match and not line.startswith(" "):
            current.append((match.group(1), match.group(2).strip()))
        elif line.startswith(" ") and current:
            tag, value = current[-1]
            current[-1] = (tag, f"{value} {line.strip()}")
        else:
            problems.append(
                Problem(file, number, f"line not in MEDLINE format ignored: {line.strip()[:60]!r}")
            )

    records: list[ParsedRecord] = []
    for line_no, fields in blocks:
        raw: dict[str, list[str]] = {}
        for tag, value in fields:
            raw.setdefault(tag, []).append(value)

        def first(*tags: str, _raw: dict[str, list[str]] = raw) -> str | None:
            for tag in tags:
                if _raw.get(tag):
                    return _raw[tag][0]
            return None

        doi = next(
            (v for tag in ("LID", "AID") for v in raw.get(tag, []) if v.endswith("[doi]")), None
        )
        records.append(
            build_record(
                file=file,
                line=line_no,
                raw=raw,
                problems=problems,
                title=first("TI", "BTI"),
                abstract=first("AB"),
                authors=raw.get("FAU") or raw.get("AU") or [],
                year=first("DP", "DEP"),
                journal=first("JT", "TA"),
                volume=first("VI"),
                issue=first("IP"),
                pages=first("PG"),
                doi=doi.removesuffix("[doi]").strip() if doi else None,
                pmid=first("PMID"),
            )
        )
    return ParseResult("nbib", tuple(records), tuple(problems), "PubMed")
