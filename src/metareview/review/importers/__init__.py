"""Readers for bibliographic exports; the format is detected from the content, not the name.

Supported: RIS (with or without a byte-order mark, with text between records), PubMed/MEDLINE
``.nbib``, PubMed XML, EndNote XML, BibTeX, and CSV/TSV (comma, semicolon or tab separated,
with a header row).
"""

import typing

from metareview.review.importers._base import ParsedRecord, ParseResult, Problem

if typing.TYPE_CHECKING:  # at run time these come from __getattr__
    from metareview.review.importers._detect import (
        FORMATS,
        decode,
        detect_format,
        parse_bytes,
        parse_file,
    )

#: names of ``_detect``, imported on first use: the readers load bibtexparser, pyparsing and
#: rispy, which a store command that imports nothing should not pay for (issue 21.19)
_DETECT = frozenset({"FORMATS", "decode", "detect_format", "parse_bytes", "parse_file"})


def __getattr__(name: str) -> typing.Any:
    """The reading functions are imported on first use (PEP 562)."""
    if name not in _DETECT:
        raise AttributeError(f"module 'metareview.review.importers' has no attribute {name!r}")
    from metareview.review.importers import _detect

    value = getattr(_detect, name)
    globals()[name] = value
    return value


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
