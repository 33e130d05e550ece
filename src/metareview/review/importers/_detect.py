"""Format detection and the one entry point to every reader: :func:`parse_bytes`,
:func:`parse_file` (re-exported by :mod:`metareview.review.importers`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from metareview.exceptions import InputError
from metareview.review.importers._base import ParseResult, Problem
from metareview.review.importers.bibtex import BIBTEX_START, parse_bibtex
from metareview.review.importers.delimited import parse_delimited, sniff_delimiter
from metareview.review.importers.endnote_xml import ENDNOTE_START, parse_endnote_xml
from metareview.review.importers.nbib import NBIB_START, parse_nbib
from metareview.review.importers.pubmed_xml import parse_pubmed_xml
from metareview.review.importers.ris import RIS_START, parse_ris

__all__ = ["FORMATS", "decode", "detect_format", "parse_bytes", "parse_file"]

#: Formats the importers recognise.
FORMATS = ("bibtex", "csv", "endnote_xml", "nbib", "pubmed_xml", "ris", "tsv")


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
    r"""The format of decoded ``text`` (one of ``FORMATS`` less "tsv"), or None if unknown.

    XML is PubMed XML if a ``<PubmedArticle`` comes in the first 100,000 characters, EndNote
    XML if it opens with ``<xml><records>``. Otherwise the first match wins: an RIS ``TY  -``
    line, a MEDLINE ``PMID-`` line, a BibTeX ``@type{`` line, then a header line with tabs,
    semicolons or commas (CSV/TSV). BibTeX is tried before CSV because the first line of an
    entry (``@article{smith2004,``) holds a comma.

    Examples
    --------
    >>> detect_format("@Article{smith2004,\n  title = {Aspirin},\n}\n")
    'bibtex'
    >>> detect_format('<?xml version="1.0"?><xml><records><record/></records></xml>')
    'endnote_xml'
    """
    head = text.lstrip()
    if head.startswith("<"):
        start = text[:100_000]
        if "<PubmedArticle" in start:
            return "pubmed_xml"
        return "endnote_xml" if ENDNOTE_START.search(start) else None
    if RIS_START.search(text):
        return "ris"
    if NBIB_START.search(text):
        return "nbib"
    if BIBTEX_START.search(text):
        return "bibtex"
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
            "(PMID- lines), PubMed XML, EndNote XML, BibTeX (@article{...} entries) or a "
            "CSV/TSV with a header row."
        )
    parser = {
        "ris": parse_ris,
        "nbib": parse_nbib,
        "pubmed_xml": parse_pubmed_xml,
        "endnote_xml": parse_endnote_xml,
        "bibtex": parse_bibtex,
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
