"""EndNote XML reader: the ``<xml><records><record>`` export of EndNote (File > Export > XML).

EndNote publishes no schema for this export; the element names read here are those of its DTD
as shipped with EndNote (``RSXML.dtd``) and of real exports: ``ref-type`` (with a ``name``
attribute), ``contributors/authors/author``, ``titles/title``, ``titles/secondary-title``,
``periodical/full-title``, ``pages``, ``volume``, ``number``, ``dates/year``,
``electronic-resource-num`` (DOI), ``accession-num`` (a PMID when the remote database is
PubMed/MEDLINE), ``abstract``, ``keywords/keyword`` and ``urls``. Text may be wrapped in
``<style face=... font=... size=...>`` elements, one or several per field; they are flattened.

Safety: the file is read with the standard library's expat parser, which does not fetch
external entities or external DTDs (Python documentation, "XML processing modules: XML
vulnerabilities", https://docs.python.org/3/library/xml.html#xml-vulnerabilities; expat
>= 2.4.1 also limits entity expansion). On top of that any ``<!ENTITY`` declaration or DTD
internal subset is refused, since EndNote never writes one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

from metareview.exceptions import InputError
from metareview.review._normalise import clean
from metareview.review.importers._base import ParsedRecord, ParseResult, Problem, build_record

#: ``<xml><records>``: the root EndNote writes (an XML declaration may come first).
ENDNOTE_START = re.compile(r"<xml(?:\s[^>]*)?>\s*<records(?:\s[^>]*)?>")
_RECORD_OPEN = re.compile(r"<record(?:\s[^>]*)?>")
_RECORD_CLOSE = "</record>"
_PUBMED_NAMES = ("nlm", "pubmed", "medline")
_REC_NUMBER = re.compile(r"<rec-number>\s*(\d+)\s*</rec-number>")
#: C0 control characters (raw or as character references) that XML 1.0 forbids (section 2.2).
_ILLEGAL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f]|&#(?:x0*(?:[0-8bcef]|1[0-9a-f])|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));",
    re.IGNORECASE,
)


class _RefusedError(Exception):
    """An entity declaration or a DTD internal subset was met."""


def _parse(data: str, on_record: list[tuple[int, int]]) -> ET.Element:
    """Build an element tree from ``data`` with expat, noting where each ``record`` starts.

    Raises
    ------
    _RefusedError
        On an entity declaration or a DTD internal subset.
    xml.parsers.expat.ExpatError
        If ``data`` is not well-formed.
    """
    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = ET.TreeBuilder()

    def start(tag: str, attributes: dict[str, str]) -> None:
        if tag == "record":
            on_record.append((parser.CurrentLineNumber, parser.CurrentColumnNumber))
        builder.start(tag, attributes)

    def refuse_entity(name: str, *_args: Any) -> None:
        raise _RefusedError(f"entity declaration {name!r}")

    def refuse_subset(name: str, _system: Any, _public: Any, has_internal_subset: int) -> None:
        if has_internal_subset:
            raise _RefusedError(f"DTD internal subset in <!DOCTYPE {name}>")

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.StartDoctypeDeclHandler = refuse_subset
    parser.Parse(data.encode("utf-8", "replace"), True)
    return builder.close()


def _text(node: ET.Element | None) -> str | None:
    """Text of ``node`` with its ``<style>`` wrappers flattened and white space collapsed."""
    if node is None:
        return None
    return " ".join("".join(node.itertext()).split()) or None


def _texts(record: ET.Element, path: str) -> list[str]:
    return [t for t in (_text(node) for node in record.findall(path)) if t]


def _first(record: ET.Element, *paths: str) -> str | None:
    for path in paths:
        value = _text(record.find(path))
        if value:
            return value
    return None


def _raw(record: ET.Element) -> dict[str, Any]:
    """Every field of ``record`` by its path (``"titles/title"``) as a list of texts, and every
    attribute as ``"path@name"`` (``"ref-type@name"``)."""
    raw: dict[str, Any] = {}

    def walk(node: ET.Element, prefix: str) -> None:
        for child in node:
            path = f"{prefix}{child.tag}"
            for name, value in child.attrib.items():
                if child.tag != "style":
                    raw[f"{path}@{name}"] = value
            if all(grandchild.tag == "style" for grandchild in child):
                text = "".join(child.itertext()).strip()
                if not text:
                    continue
                raw.setdefault(path, []).append(text)
            else:
                walk(child, f"{path}/")

    walk(record, "")
    return raw


def _record(
    record: ET.Element, file: str, line: int, label: str, problems: list[Problem]
) -> ParsedRecord | None:
    raw = _raw(record)
    if not raw:
        problems.append(Problem(file, line, f"{label} is empty; skipped"))
        return None
    databases = " ".join(
        _texts(record, "remote-database-name") + _texts(record, "remote-database-provider")
    ).lower()
    accession = _first(record, "accession-num")
    pmid = (
        accession
        if accession and accession.isdigit() and any(n in databases for n in _PUBMED_NAMES)
        else None
    )
    doi = _first(record, "electronic-resource-num")
    if doi is None:
        doi = next((u for u in _texts(record, "urls//url") if "doi.org/" in u.lower()), None)
    authors = [a.rstrip(",").strip() for a in _texts(record, "contributors/authors/author")]
    own: list[Problem] = []
    parsed = build_record(
        file=file,
        line=line,
        raw=raw,
        problems=own,
        title=_first(record, "titles/title"),
        abstract=_first(record, "abstract"),
        authors=[a for a in authors if a],
        year=_first(record, "dates/year", "dates/pub-dates/date"),
        journal=_first(
            record,
            "periodical/full-title",
            "titles/secondary-title",
            "alt-periodical/full-title",
            "periodical/abbr-1",
        ),
        volume=_first(record, "volume"),
        issue=_first(record, "number"),
        pages=_first(record, "pages"),
        doi=doi,
        pmid=pmid,
    )
    problems.extend(Problem(p.file, p.line, f"{label}: {p.message}") for p in own)
    return parsed


def _label(index: int, record: ET.Element) -> str:
    number = _text(record.find("rec-number"))
    return f"record {index}" + (f" (rec-number {number})" if number else "")


def parse_endnote_xml(text: str, file: str) -> ParseResult:
    """Parse an EndNote XML export; each ``record`` element becomes one record.

    A well-formed file is read in one pass. If the file is not well-formed (a truncated export,
    a control character EndNote copied from a PDF), each ``<record>...</record>`` is read on
    its own: a broken one is reported and left out, the others are kept. EndNote often writes
    the whole export on one line, so problems name the record's position and ``rec-number``
    as well as the line.

    Parameters
    ----------
    text : str
        The file's text.
    file : str
        The file name, used in problems.

    Returns
    -------
    ParseResult
        Format ``"endnote_xml"``; ``database`` is the first remote database named.

    Raises
    ------
    InputError
        If the file declares XML entities or a DTD internal subset (refused for safety).

    Examples
    --------
    >>> xml = ('<xml><records><record><rec-number>7</rec-number>'
    ...        '<contributors><authors><author><style face="normal">Baird, J. K.</style>'
    ...        '</author></authors></contributors><titles><title><style face="normal">'
    ...        '8-Aminoquinoline therapy for </style><style face="italic">latent</style>'
    ...        '<style face="normal"> malaria</style></title></titles>'
    ...        '<dates><year>2019</year></dates></record></records></xml>')
    >>> record = parse_endnote_xml(xml, "lib.xml").records[0]
    >>> record.authors, record.title, record.year
    (['Baird, J. K.'], '8-Aminoquinoline therapy for latent malaria', 2019)
    """
    if "<!ENTITY" in text:
        raise InputError(
            f"{file}: XML entity declarations are not accepted in an EndNote XML export; "
            "export the library again."
        )
    problems: list[Problem] = []
    illegal = _ILLEGAL.search(text)
    if illegal is not None:
        count = len(_ILLEGAL.findall(text))
        problems.append(
            Problem(
                file,
                text.count("\n", 0, illegal.start()) + 1,
                f"{count} control character(s) not allowed in XML (first {illegal.group()!r} "
                f"at offset {illegal.start()}) replaced by spaces",
            )
        )
        text = _ILLEGAL.sub(" ", text)
    records: list[ParsedRecord] = []
    starts: list[tuple[int, int]] = []
    try:
        root = _parse(text, starts)
    except _RefusedError as exc:
        raise InputError(
            f"{file}: {exc} not accepted in an EndNote XML export; export the library again."
        ) from exc
    except expat.ExpatError as exc:
        return _parse_records_one_by_one(text, file, exc, problems)
    for index, record in enumerate(root.iter("record"), start=1):
        line = starts[index - 1][0] if index <= len(starts) else 1
        parsed = _record(record, file, line, _label(index, record), problems)
        if parsed is not None:
            records.append(parsed)
    database = _first(root, ".//remote-database-provider", ".//remote-database-name")
    problems.sort(key=lambda p: p.line or 0)
    return ParseResult("endnote_xml", tuple(records), tuple(problems), _first_line(database))


def _first_line(value: str | None) -> str | None:
    return clean(value.splitlines()[0]) if value else None


def _parse_records_one_by_one(
    text: str, file: str, error: expat.ExpatError, problems: list[Problem]
) -> ParseResult:
    """Read each ``<record>`` of a file that is not well-formed XML on its own."""
    first_problem = len(problems)
    records: list[ParsedRecord] = []
    opens = [m.start() for m in _RECORD_OPEN.finditer(text)]
    database: str | None = None
    for index, start in enumerate(opens, start=1):
        line = text.count("\n", 0, start) + 1
        limit = opens[index] if index < len(opens) else len(text)
        close = text.rfind(_RECORD_CLOSE, start, limit)
        number = _REC_NUMBER.search(text, start, limit)
        label = f"record {index}" + (f" (rec-number {number.group(1)})" if number else "")
        if close < 0:
            problems.append(Problem(file, line, f"{label} has no </record> (truncated?); skipped"))
            continue
        try:
            record = _parse(text[start : close + len(_RECORD_CLOSE)], [])
        except _RefusedError as exc:
            raise InputError(
                f"{file}: {exc} not accepted in an EndNote XML export; export the library again."
            ) from exc
        except expat.ExpatError as exc:
            where = expat.ErrorString(exc.code) if exc.code else str(exc)
            problems.append(
                Problem(
                    file,
                    line + (exc.lineno or 1) - 1,
                    f"{label} is not well-formed XML ({where}); skipped",
                )
            )
            continue
        parsed = _record(record, file, line, _label(index, record), problems)
        if parsed is not None:
            records.append(parsed)
        database = database or _first_line(
            _first(record, "remote-database-provider", "remote-database-name")
        )
    if not any(
        "not well-formed" in p.message or "</record>" in p.message for p in problems[first_problem:]
    ):
        problems.insert(
            first_problem,
            Problem(
                file,
                error.lineno,
                f"file is not well-formed XML ({expat.ErrorString(error.code)}, column "
                f"{error.offset}); records were read one by one",
            ),
        )
    problems.sort(key=lambda p: p.line or 0)
    return ParseResult("endnote_xml", tuple(records), tuple(problems), database)
