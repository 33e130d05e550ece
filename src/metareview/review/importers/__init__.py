"""Readers for bibliographic exports; the format is detected from the content, not the name.

Supported: RIS (with or without a byte-order mark, with text between records), PubMed/MEDLINE
``.nbib``, PubMed XML, and CSV/TSV (comma, semicolon or tab separated, with a header row).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from metareview.exceptions import InputError
from metareview.review.importers._base import ParsedRecord, ParseResult, Problem
from metareview.review.importers.delimited import parse_delimited, sniff_delimiter
from metareview.review.importers.nbib import NBIB_START, parse_nbib
from metareview.review.importers.pubmed_xml import parse_pubmed_xml
from metareview.review.importers.ris import RIS_START, parse_ris

__all__ = [
    "FORMATS",
    "ParseResult",
    "ParsedRecord",
    "Problem",
    "decode",
    "detect_format",
    "parse_bytes",
    "parse_file",
]

#: Formats the importers recognise.
FORMATS = ("csv", "nbib", "pubmed_xml", "ris", "tsv")


def decode(data: bytes) -> tuple[str, str]:
    """Text of ``data`` and the encoding used: UTF-8 (byte-order mark removed), else
    Windows-1252, else Latin-1 (which decodes any bytes)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def detect_format(text: str) -> str | None:
    """The format of decoded ``text`` (one of ``FORMATS`` less "tsv"), or None if unknown."""
    head = text.lstrip()
    if head.startswith("<"):
        return "pubmed_xml" if "<PubmedArticle" in text[:100_000] else None
    if RIS_START.search(text):
        return "ris"
    if NBIB_START.search(text):
        return "nbib"
    if sniff_delimiter(head.split("\n", 1)[0]):
        return "csv"
    return None


def parse_bytes(data: bytes, file: str) -> ParseResult:
    """Parse the bytes of one export named ``file`` (used only in messages).

    Raises
    ------
    InputError
        If the format is not recognised, or a non-empty file yields no records.
    """
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise InputError(f"{file}: the file is empty (0 records); export the search again.")
    fmt = detect_format(text)
    if fmt is None:
        raise InputError(
            f"{file}: format not recognised; expected RIS (TY  - lines), PubMed nbib "
            "(PMID- lines), PubMed XML or a CSV/TSV with a header row."
        )
    parser = {
        "ris": parse_ris,
        "nbib": parse_nbib,
        "pubmed_xml": parse_pubmed_xml,
        "csv": parse_delimited,
    }[fmt]
    result = parser(text, file)
    if not result.records:
        details = "; ".join(str(p) for p in result.problems[:3])
        raise InputError(
            f"{file}: 0 records read from a non-empty {fmt} file"
            + (f" ({details})" if details else "")
            + "; check that it is a complete export."
        )
    if encoding != "utf-8-sig":
        note = Problem(file, None, f"file is not UTF-8; read as {encoding}, check accents")
        result = replace(result, problems=(note, *result.problems))
    return result


def parse_file(path: str | Path) -> ParseResult:
    """Read and parse the export at ``path``; see :func:`parse_bytes`."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: the file could not be read ({exc.strerror}).") from exc
    return parse_bytes(data, str(path))
