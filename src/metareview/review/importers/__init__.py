"""Readers for bibliographic exports; the format is detected from the content, not the name.

Supported: RIS (with or without a byte-order mark, with text between records), PubMed/MEDLINE
``.nbib``, PubMed XML, EndNote XML, BibTeX, and CSV/TSV (comma, semicolon or tab separated,
with a header row).
"""

from metareview.review.importers._base import ParsedRecord, ParseResult, Problem
from metareview.review.importers._detect import (
    FORMATS,
    decode,
    detect_format,
    parse_bytes,
    parse_file,
)

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
