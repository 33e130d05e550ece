"""Normalisation helpers shared by the importers, the store and deduplication (private)."""

from __future__ import annotations

import ast
import hashlib
import re
import unicodedata

_DOI_RE = re.compile(r"10\.\d{1,9}(?:\.\d+)*/\S+|10\.\d+", re.IGNORECASE)
_YEAR_RE = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_AUTHOR_SPLIT = re.compile(r"\s*;\s*|\s+and\s+")


def ascii_fold(text: str) -> str:
    """Lower-case ``text`` and strip accents (``"Müller"`` -> ``"muller"``)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def normalise_text(text: object) -> str:
    """Lower-case ASCII words separated by single spaces; ``""`` for missing values."""
    if not isinstance(text, str):
        return ""
    return _NON_ALNUM.sub(" ", ascii_fold(text)).strip()


def normalise_doi(value: object) -> str | None:
    """A DOI in lower case without ``https://doi.org/`` or ``doi:``; None if none is found."""
    if not isinstance(value, str):
        return None
    match = _DOI_RE.search(value.strip())
    if match is None:
        return None
    return match.group(0).rstrip(".,;)]").lower()


def parse_year(value: object) -> int | None:
    """The first plausible four-digit year (1500-2099) in ``value``; None if there is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1500 <= value <= 2099 else None
    if isinstance(value, float):
        return parse_year(int(value)) if value == value and value.is_integer() else None
    if not isinstance(value, str):
        return None
    match = _YEAR_RE.search(value)
    return int(match.group(1)) if match else None


def clean(value: object) -> str | None:
    """A stripped string, or None for missing or blank values."""
    if value is None:
        return None
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if v is not None)
    text = str(value).strip()
    return text or None


def split_authors(value: object) -> list[str]:
    """Authors as a list of names from a list, a ``"a; b"``/``"a and b"`` string or a list repr."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = None
        if isinstance(parsed, list):
            return split_authors(parsed)
    return [part.strip() for part in _AUTHOR_SPLIT.split(text) if part.strip()]


_INITIALS = re.compile(r"^(?:[A-Z]\.?-?){1,4}$")


def first_author_surname(authors: object) -> str:
    """Normalised surname of the first author, ``""`` when there is none.

    "Last, First" gives Last; without a comma, trailing initials mark the surname as what
    comes before them (Embase's "Correll G.E.", MEDLINE's "Correll GE"), else the last word
    is the surname ("Graham E Correll").

    Examples
    --------
    >>> [first_author_surname([a]) for a in ("Correll, G. E.", "Correll G.E.",
    ...                                      "De Mos M.", "Graham E Correll")]
    ['correll', 'correll', 'demos', 'correll']
    """
    names = split_authors(authors)
    return surname(names[0]) if names else ""


def surname(name: str) -> str:
    """Normalised surname of one author's name (see :func:`first_author_surname`)."""
    if "," in name:
        return normalise_text(name.split(",")[0]).replace(" ", "")
    words = name.split() or [""]
    initials = len(words) > 1 and _INITIALS.match(words[-1])
    return normalise_text(" ".join(words[:-1]) if initials else words[-1]).replace(" ", "")


def start_page(pages: object) -> str:
    """The first page, normalised (``"91-92"`` -> ``"91"``); ``""`` when missing."""
    text = normalise_text(pages)
    return text.split(" ")[0] if text else ""


def fingerprint(title: object, year: object, authors: object, doi: object) -> str:
    """A short hash of the normalised title, year, first author and DOI (for blocking)."""
    key = "|".join(
        [normalise_text(title), str(year or ""), first_author_surname(authors), str(doi or "")]
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
