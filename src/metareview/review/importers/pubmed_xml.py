"""PubMed XML (``PubmedArticleSet``) reader, built on ``xml.etree``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from metareview.exceptions import InputError
from metareview.review.importers._base import ParsedRecord, ParseResult, Problem, build_record

_ARTICLE_OPEN = re.compile(r"<PubmedArticle[\s>]")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>\[]*(\[.*?\])?\s*>", re.DOTALL)


def _text(node: ET.Element | None) -> str | None:
    if node is None:
        return None
    text = "".join(node.itertext()).strip()
    return text or None


def parse_pubmed_xml(text: str, file: str) -> ParseResult:
    """Parse a PubMed XML export; each ``PubmedArticle`` becomes one record."""
    if re.search(r"<!ENTITY", text):
        raise InputError(
            f"{file}: XML entity declarations are not accepted in a PubMed export; "
            "export the search again from PubMed."
        )
    try:
        root = ET.fromstring(_DOCTYPE.sub("", text, count=1))
    except ET.ParseError as exc:
        raise InputError(f"{file}: not well-formed XML ({exc}); export the file again.") from exc
    lines = [text.count("\n", 0, m.start()) + 1 for m in _ARTICLE_OPEN.finditer(text)]
    problems: list[Problem] = []
    records: list[ParsedRecord] = []
    for index, article in enumerate(root.iter("PubmedArticle")):
        line = lines[index] if index < len(lines) else 1
        citation = article.find("MedlineCitation")
        art = citation.find("Article") if citation is not None else None
        if citation is None or art is None:
            problems.append(
                Problem(file, line, "PubmedArticle without MedlineCitation/Article; skipped")
            )
            continue
        authors = []
        for author in art.findall("AuthorList/Author"):
            last, fore = _text(author.find("LastName")), _text(author.find("ForeName"))
            name = (
                f"{last}, {fore}" if last and fore else last or _text(author.find("CollectiveName"))
            )
            if name:
                authors.append(name)
        year = _text(art.find("Journal/JournalIssue/PubDate/Year")) or _text(
            art.find("Journal/JournalIssue/PubDate/MedlineDate")
        )
        doi = next(
            (_text(e) for e in art.findall("ELocationID") if e.get("EIdType") == "doi"), None
        ) or next(
            (
                _text(e)
                for e in article.findall("PubmedData/ArticleIdList/ArticleId")
                if e.get("IdType") == "doi"
            ),
            None,
        )
        abstract = " ".join(
            t for t in (_text(e) for e in art.findall("Abstract/AbstractText")) if t
        )
        raw = {
            "pmid": _text(citation.find("PMID")),
            "title": _text(art.find("ArticleTitle")),
            "journal": _text(art.find("Journal/Title")),
            "journal_abbreviation": _text(art.find("Journal/ISOAbbreviation")),
            "year": year,
            "doi": doi,
        }
        records.append(
            build_record(
                file=file,
                line=line,
                raw=raw,
                problems=problems,
                title=raw["title"],
                abstract=abstract or None,
                authors=authors,
                year=year,
                journal=raw["journal"],
                volume=_text(art.find("Journal/JournalIssue/Volume")),
                issue=_text(art.find("Journal/JournalIssue/Issue")),
                pages=_text(art.find("Pagination/MedlinePgn")),
                doi=doi,
                pmid=raw["pmid"],
            )
        )
    return ParseResult("pubmed_xml", tuple(records), tuple(problems), "PubMed")
