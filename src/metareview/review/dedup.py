"""Duplicate detection: indexed candidate pairs, scored into automatic merges, pairs for human
review, and related reports (errata, comments, conference abstracts) that are never merged.

Candidate generation (scales to 100,000 records)
    Only plausible pairs are scored. Candidates come from (a) a title-word index: each title is
    a vector of inverse-document-frequency weights of its words, words shared by more than
    ``max(50, 0.5 %)`` of the records are dropped, and pairs whose cosine similarity is at
    least 0.35 are kept (a chunked sparse matrix product; Christen 2012, ch. 4); (b) sorted
    neighbourhood (Hernández and Stolfo 1995) over the normalised title and over first
    author + year; (c) blocks of equal DOI, PMID, (year, volume, start page) and (first
    author, year, start page). Before any string comparison, candidates whose titles share
    less than a quarter of the shorter title's words (estimated from a 256-bit signature of
    each title's words) are dropped, then those with ``token_set_ratio`` < 70.

Tier 1 (automatic merge)
    The same DOI or PMID with agreeing titles (``token_sort_ratio`` >= 90), or, without
    identifiers, rules in the spirit of ASySD and bib-dedupe: nearly identical titles
    (``ratio`` >= 95) with the same year and first author, at least two of journal, volume
    and start page agreeing and none of them disagreeing, and no conflicting DOI.

Tier 2 (human review)
    Similar normalised titles plus supporting fields (year, first author, journal, start page,
    volume). Two empty fields never count as agreement; a shared title alone is not enough; a
    pair whose journals *and* pages both differ is rejected (same-title records from different
    journals and pages are different studies).

Related reports (never merged)
    An erratum, correction, retraction, comment, letter or reply about an article, or a
    conference abstract of a later full paper, is returned as a :class:`RelatedPair` (PRISMA
    counts reports and studies separately): it names the article and the kind of report.
    Reports are known by their titles' wording, by a meeting or supplement venue, or by the
    page a MEDLINE "[Erratum appears in ...]" note on the article names.

Pairs are never joined into clusters here; :meth:`Store.auto_merge` joins tier-1 pairs, each
link of which passed the tier-1 rules.

References
----------
Hair K, Bahor Z, Macleod M, Liao J, Sena ES (2023). The Automated Systematic Search
Deduplicator (ASySD). BMC Biology 21:189. doi:10.1186/s12915-023-01686-z

Hernández MA, Stolfo SJ (1995). The merge/purge problem for large databases. Proc. ACM
SIGMOD, 127-138. doi:10.1145/223784.223807

Christen P (2012). Data Matching. Springer. doi:10.1007/978-3-642-31164-2

Broder AZ (1997). On the resemblance and containment of documents. Proc. Compression and
Complexity of Sequences, 21-29. doi:10.1109/SEQUEN.1997.666900
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from rapidfuzz import fuzz, process

from metareview.exceptions import InputError
from metareview.review._normalise import (
    first_author_surname,
    normalise_doi,
    normalise_text,
    parse_year,
    split_authors,
    start_page,
    surname,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DuplicateCandidates", "DuplicatePair", "RelatedPair", "find_duplicates"]

#: Tier 1 needs titles at least this similar (token_sort_ratio, 0-100) when an id is shared.
TITLE_AGREE = 90.0
#: Tier 2 considers pairs whose titles are at least this similar.
TITLE_CANDIDATE = 85.0
#: Tier 1 without identifiers needs titles at least this similar (``fuzz.ratio``).
TITLE_SURE = 95.0
#: Titles shorter than this many characters (normalised) are too generic to compare.
MIN_TITLE_CHARS = 10
#: Identifier and field blocks larger than this are placeholders and ignored.
MAX_ID_GROUP = 50
#: Title-index candidates need at least this cosine similarity of their word vectors.
MIN_COSINE = 0.35
#: Sorted-neighbourhood window (each record is paired with the next WINDOW - 1).
WINDOW = 6
_CHUNK = 2000
_JOURNAL_STOP = {"the", "of", "and", "for", "in", "on", "a", "an", "de", "la"}
_TITLE_STOP = _JOURNAL_STOP | {"with", "to", "by", "at", "from", "or", "is", "as", "after"}

#: Kinds of report that are linked to an article, never merged with it, by title pattern.
RELATED_KINDS = ("erratum", "retraction", "comment", "conference abstract")
_KIND_PATTERNS = (
    (
        "retraction",
        re.compile(r"^(notice of )?(retraction|retracted|withdrawn)\b|\bretraction (of|notice)\b"),
    ),
    (
        "erratum",
        re.compile(
            r"^(erratum|errata|corrigendum|corrigenda|correction|corrections|publisher s note|"
            r"author correction)\b|\b(erratum|corrigendum)\b"
        ),
    ),
    (
        "comment",
        re.compile(
            r"^(comment|comments|commentary|reply|response|in reply|re|letter|editorial comment|"
            r"authors reply|author s reply|the authors reply)\b|"
            r"\b(comment on|comments on|reply to|response to|in response)\b|"
            r"^more on\b|\b(authors? reply|editorial comment|reply)$"
        ),
    ),
)
#: Words one of which every title matching a _KIND_PATTERNS pattern holds (a quick filter).
_MAYBE_REPORT = re.compile(
    r"errat|corrig|correct|retract|withdrawn|comment|repl|respon|letter|^re |more on|publisher"
)
#: Words of a meeting's or a supplement's name; "proceedings" but in the names of the
#: general-science journals "Proceedings of the National Academy of Sciences" and
#: "Proceedings of the Royal Society" (articles, not abstracts).
_MEETING = re.compile(
    r"\b(abstracts?|congress|meeting|conference|symposium|annual|suppl|supplement)\b"
    r"|\bproceedings\b(?! of the (?:national academy|royal society))"
)


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two records that may be one study.

    Attributes
    ----------
    id_a, id_b : str
        Record ids, ``id_a < id_b``.
    tier : int
        1 = automatic merge, 2 = for human review.
    score : float
        0-1; higher is stronger evidence.
    reasons : tuple of str
        Agreeing and disagreeing evidence, e.g. ``("same DOI", "title 98")``.
    """

    id_a: str
    id_b: str
    tier: int
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RelatedPair:
    """A report about an article (erratum, retraction, comment, conference abstract).

    Attributes
    ----------
    report_id : str
        The erratum, comment, reply or abstract.
    article_id : str
        The record it is about.
    kind : str
        One of :data:`RELATED_KINDS`.
    reasons : tuple of str
        The evidence, e.g. ``("title starts 'Erratum'", "title 96")``.
    """

    report_id: str
    article_id: str
    kind: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DuplicateCandidates:
    """Result of :func:`find_duplicates`: scored pairs (tier 1 and 2) and related reports."""

    pairs: tuple[DuplicatePair, ...]
    n_records: int
    related: tuple[RelatedPair, ...] = ()

    @property
    def tier1(self) -> tuple[DuplicatePair, ...]:
        """Pairs to merge automatically."""
        return tuple(p for p in self.pairs if p.tier == 1)

    @property
    def tier2(self) -> tuple[DuplicatePair, ...]:
        """Pairs for human review."""
        return tuple(p for p in self.pairs if p.tier == 2)

    def summary(self) -> pd.DataFrame:
        """One row per pair: ``id_a``, ``id_b``, ``tier``, ``score``, ``reasons`` (joined)."""
        import pandas as pd

        return pd.DataFrame(
            [(p.id_a, p.id_b, p.tier, p.score, "; ".join(p.reasons)) for p in self.pairs],
            columns=["id_a", "id_b", "tier", "score", "reasons"],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the pairs and related reports."""
        return {
            "method": "indexed two-tier",
            "n_records": self.n_records,
            "pairs": [
                {
                    "id_a": p.id_a,
                    "id_b": p.id_b,
                    "tier": p.tier,
                    "score": p.score,
                    "reasons": list(p.reasons),
                }
                for p in self.pairs
            ],
            "related": [
                {
                    "report_id": r.report_id,
                    "article_id": r.article_id,
                    "kind": r.kind,
                    "reasons": list(r.reasons),
                }
                for r in self.related
            ],
        }


def _column(records: pd.DataFrame, name: str) -> list[Any]:
    if name not in records.columns:
        return [None] * len(records)
    return [None if _missing(v) else v for v in records[name].tolist()]


def _missing(value: Any) -> bool:
    import pandas as pd

    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    if value is pd.NA:
        return True
    return isinstance(value, str) and not value.strip()


def _journal_tokens(journal: Any) -> list[str]:
    return [t for t in normalise_text(journal).split() if t not in _JOURNAL_STOP]


def journals_agree(a: Any, b: Any) -> bool | None:
    """True/False when both journals are given, None when either is missing.

    Agree when the names are similar (token_set_ratio >= 85) or one abbreviates the other
    (each word of the shorter name starts a word of the longer, in order).
    """
    return _tokens_agree(_journal_tokens(a), _journal_tokens(b))


def _tokens_agree(ta: list[str], tb: list[str]) -> bool | None:
    if not ta or not tb:
        return None
    if fuzz.token_set_ratio(" ".join(ta), " ".join(tb)) >= 85:
        return True
    return _abbreviates(ta, tb) or _abbreviates(tb, ta)


def _abbreviates(short: list[str], long_: list[str]) -> bool:
    """Each word of ``short`` abbreviates a word of ``long_``, in order: starts it
    (``"med"``/``"medicine"``) or contracts it, keeping its first letter and dropping others as
    ISO 4 does (``"natl"``/``"national"``, ``"dtsch"``/``"deutsche"``); a long run-together
    word (``"jthoraccardiovascsurg"``) may abbreviate several successive words."""
    if len(short) > len(long_):
        return False
    position = 0
    for token in short:
        while position < len(long_) and not _contracts(token, long_[position]):
            position += 1
        if position < len(long_):
            position += 1
            continue
        return len(short) == 1 and len(token) >= 8 and _run_together(token, tuple(long_))
    return True


def _contracts(piece: str, word: str) -> bool:
    """``piece`` is ``word`` less some of its letters, first letter kept."""
    if not piece or piece[0] != word[0]:
        return False
    if word.startswith(piece):
        return True
    letters = iter(word)
    return all(c in letters for c in piece)  # a subsequence


@lru_cache(maxsize=4096)
def _run_together(token: str, words: tuple[str, ...]) -> bool:
    """``token`` is abbreviations of successive ``words`` written without spaces."""

    @cache
    def rest(at: int, k: int) -> bool:
        if at == len(token):
            return True
        if k == len(words):
            return False
        return any(
            _contracts(token[at:end], words[k]) and rest(end, k + 1)
            for end in range(len(token), at, -1)
        )

    return any(rest(0, k) for k in range(len(words)))


def authors_agree(a: str, b: str) -> bool:
    """Normalised surnames agree: similar (ratio >= 85) or one contains the other
    (``"pawel"``/``"vonpawel"``, ``"le"``/``"lequintrec"``)."""
    return fuzz.ratio(a, b) >= 85 or (min(len(a), len(b)) >= 2 and (a in b or b in a))


def report_kind(title: str, venue: str = "", pages: str = "", volume: str = "") -> str | None:
    """The kind of related report a record is, from its normalised title and venue.

    ``"retraction"``, ``"erratum"`` or ``"comment"`` by the title's wording; ``"conference
    abstract"`` when the journal or proceedings name a meeting or supplement, or the pages or
    volume carry a supplement mark (``S12``, ``Suppl``); None for an ordinary article.

    Examples
    --------
    >>> report_kind("erratum intrapleural streptokinase for pleural infection")
    'erratum'
    >>> report_kind("intrapleural streptokinase", venue="american thoracic society meeting")
    'conference abstract'
    """
    if _MAYBE_REPORT.search(title):
        for kind, pattern in _KIND_PATTERNS:
            if pattern.search(title):
                return kind
    if _meeting(venue) or (pages[:1] == "s" and pages[1:2].isdigit()) or "sup" in volume:
        return "conference abstract"
    return None


@lru_cache(maxsize=65536)
def _venue(journal: Any) -> str:
    return normalise_text(journal)


@lru_cache(maxsize=65536)
def _meeting(venue: str) -> bool:
    return bool(_MEETING.search(venue))


#: MEDLINE's notes after a title ("[Erratum appears in ...]", "[Comment in ...]"), closed or
#: cut off, and Web of Science's mark of a correction "(vol 360, pg 542, 2009)".
_TITLE_NOTE = re.compile(
    r"\s*\[(?:erratum|comment|retract|update|see|corrected|republished|expression)[^\]]*(?:\]|$)"
    r"|\s*\[[^\]]{0,40}$",
    re.IGNORECASE,
)
_WOS_CORRECTION = re.compile(
    r"\s*\((?:vol \d+, pg \d+, \d{4}|[^()]*\(\d{4}\)\s*\d+\s*(?:\(\d+\)\s*)?\([\d\s\-–]+\))\)\s*$",
    re.IGNORECASE,
)


def _title(title: Any) -> tuple[str, bool]:
    """The normalised title without notes, and whether it is marked as a correction."""
    if not isinstance(title, str):
        return "", False
    if "[" in title:
        title = _TITLE_NOTE.sub("", title)
    correction = False
    if title.rstrip().endswith(")"):
        correction = bool(_WOS_CORRECTION.search(title))
        title = _WOS_CORRECTION.sub("", title)
    return normalise_text(title), correction


class _Fields:
    """Normalised fields of every record, as lists indexed by row."""

    def __init__(self, records: pd.DataFrame) -> None:
        raw_titles = _column(records, "title")
        titles = [_title(t) for t in raw_titles]
        self.erratum_at = [_erratum_note(t) for t in raw_titles]
        self.titles = [t for t, _ in titles]
        self.year = [parse_year(y) for y in _column(records, "year")]
        authors = "authors" if "authors" in records.columns else "author"
        self.authors = _column(records, authors)
        self.author = [first_author_surname(a) for a in self.authors]
        self._coauthors: dict[int, frozenset[str]] = {}
        journals = _column(records, "journal")
        self.venue = [_venue(j) for j in journals]
        self.journal = [[t for t in v.split() if t not in _JOURNAL_STOP] for v in self.venue]
        self._journal_key = [" ".join(t) for t in self.journal]
        self._journals: dict[tuple[str, str], bool | None] = {}
        pages = _column(records, "pages")
        self.page = [start_page(p) for p in pages]
        self.starts = [_start_pages(p) for p in pages]
        self.one_page = [_one_page(p) for p in pages]
        self.span = [_page_span(p) for p in pages]
        volumes = [normalise_text(v) for v in _column(records, "volume")]
        self.volume = [_volume(v) for v in volumes]
        self.doi = [normalise_doi(d) for d in _column(records, "doi")]
        self.pmid = [
            str(p).strip() or None if p is not None else None for p in _column(records, "pmid")
        ]
        self.kind = [
            "erratum" if corrected else report_kind(t, v, p, vol)
            for (t, corrected), v, p, vol in zip(
                titles, self.venue, self.page, volumes, strict=True
            )
        ]


_ERRATUM_NOTE = re.compile(r"\[erratum appears in ([^\]]*)", re.IGNORECASE)
_NOTE_PAGE = re.compile(r";\s*(\d+)\s*(?:\([^)]*\))?\s*:\s*[a-z]*(\d+)", re.IGNORECASE)


def _erratum_note(title: Any) -> tuple[str, str] | None:
    """The volume and page MEDLINE's "[Erratum appears in J. 2009 Jun;360(23):2487]" names
    (``("360", "2487")``), ``("", "")`` when the note is cut off before them, None without
    such a note."""
    if not isinstance(title, str) or "[" not in title:
        return None
    note = _ERRATUM_NOTE.search(title)
    if note is None:
        return None
    where = _NOTE_PAGE.search(note.group(1))
    if where is None:
        return "", ""
    return where.group(1).lstrip("0"), where.group(2).lstrip("0")


_ONE_PAGE = re.compile(r"^\s*[a-z]*(\d+)\s*(?:[-–]\s*[a-z]*(\d+)\s*)?$", re.IGNORECASE)


def _one_page(pages: Any) -> bool:
    """``pages`` is a single page ("911", "1107-1107")."""
    match = _ONE_PAGE.match(pages) if isinstance(pages, str) else None
    if match is None:
        return False
    return match.group(2) in (None, match.group(1))


_PAGE_SPAN = re.compile(r"^\s*[a-z]*(\d+)\s*[-–]\s*[a-z]*(\d+)\s*$", re.IGNORECASE)


def _page_span(pages: Any) -> tuple[int, int] | None:
    """First and last page of a range of two pages or more ("204-10" gives (204, 210)),
    else None."""
    match = _PAGE_SPAN.match(pages) if isinstance(pages, str) else None
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if len(last) < len(first):
        last = first[: len(first) - len(last)] + last
    return (int(first), int(last)) if int(last) > int(first) else None


def _spans_apart(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    """Two page ranges that do not overlap (two articles, e.g. companion papers)."""
    return a is not None and b is not None and (a[1] < b[0] or b[1] < a[0])


_PAGE_START = re.compile(r"(?:^|[,;+&]|\band\b)\s*[a-z]*\s*(\d+)", re.IGNORECASE)


def _start_pages(pages: Any) -> frozenset[str]:
    """The first page of every range in ``pages``, without letter prefixes (``"S12"``,
    ``"viii108"``, ``"e43268"``): ``"230-5, 246-51"`` gives {"230", "246"}."""
    if not isinstance(pages, str):
        return frozenset()
    return frozenset(m.lstrip("0") or "0" for m in _PAGE_START.findall(pages.strip()))


def _volume(volume: Any) -> str:
    """The volume's first number (``"Drug Discovery. 9"``, ``"118 (21)"``, ``"10 Suppl 2"``
    give 9, 118, 10), else its normalised text."""
    text = normalise_text(volume)
    number = re.search(r"\d+", text)
    return number.group(0).lstrip("0") or "0" if number else text


def _page_gap(a: frozenset[str], b: frozenset[str]) -> int:
    """The least distance between two sets of start pages (large when they are unknown)."""
    return min((abs(int(x) - int(y)) for x in a for y in b), default=10**9)


#: Co-authors (after the first author) compared; two shared make "same co-authors".
_COAUTHORS = 6


def _coauthors(f: _Fields, i: int) -> frozenset[str]:
    """Normalised surnames of record i's second to sixth authors, remembered per record."""
    if i not in f._coauthors:
        names = split_authors(f.authors[i])[1:_COAUTHORS]
        f._coauthors[i] = frozenset(s for s in map(surname, names) if len(s) > 1)
    return f._coauthors[i]


def _coauthors_agree(f: _Fields, i: int, j: int) -> bool:
    """At least two of the co-authors of records i and j are the same people."""
    return len(_coauthors(f, i) & _coauthors(f, j)) >= 2


def _journals_agree(f: _Fields, i: int, j: int) -> bool | None:
    """:func:`journals_agree` of records i and j, remembered per pair of names."""
    key = (f._journal_key[i], f._journal_key[j])
    if key not in f._journals:
        f._journals[key] = _tokens_agree(f.journal[i], f.journal[j])
    return f._journals[key]


def _evidence(i: int, j: int, f: _Fields) -> tuple[list[str], list[str]]:
    agree: list[str] = []
    disagree: list[str] = []
    ya, yb = f.year[i], f.year[j]
    if ya is not None and yb is not None:
        if ya == yb:
            agree.append("same year")
        elif abs(ya - yb) > 1:
            disagree.append(f"years {ya} and {yb}")
    aa, ab = f.author[i], f.author[j]
    if aa and ab:
        if authors_agree(aa, ab):
            agree.append("same first author")
        else:
            disagree.append(f"first authors {aa}/{ab}")
    journals = _journals_agree(f, i, j)
    if journals is True:
        agree.append("same journal")
    elif journals is False:
        disagree.append("different journals")
    pa, pb = f.page[i], f.page[j]
    if pa and pb:
        if f.starts[i] & f.starts[j]:
            agree.append("same start page")
        else:
            disagree.append(f"pages {pa}/{pb}")
    va, vb = f.volume[i], f.volume[j]
    if va and vb:
        (agree if va == vb else disagree).append(
            "same volume" if va == vb else f"volumes {va}/{vb}"
        )
    da, db = f.doi[i], f.doi[j]
    if da and db and da != db:
        disagree.append("different DOIs")
    return agree, disagree


def _judge(
    i: int, j: int, f: _Fields, title_candidate: float
) -> tuple[int, float, tuple[str, ...]] | None:
    """Tier, score and reasons for the candidate pair (i, j), or None when it is no pair.

    * never a pair: two of journal, start page, year (more than one apart) and first author
      different (same title, different journal and pages = different studies); or the same
      journal with another volume, or with start pages more than 10 apart or page ranges
      that do not overlap, unless the titles are nearly identical (two articles of one
      volume: companion papers, a letter and the paper it answers);
    * close titles (token_sort_ratio >= ``title_candidate``): at least two agreeing fields,
      more agreeing than disagreeing, and, with another first author, token_sort_ratio >=
      ``TITLE_AGREE`` (two abstracts on one page of a book of abstracts); tier 1 when
      :func:`_sure` holds;
    * otherwise (one title a near-subset of the other, or titles translated/truncated): at
      least four agreeing fields among year, first author, co-authors, journal, start page
      and volume, and none disagreeing but the journal's name when volume and start page
      agree (a journal known by a translated or an unrecognisable abbreviated name).
    """
    agree, disagree = _evidence(i, j, f)
    ta, tb = f.titles[i], f.titles[j]
    pages_differ = any(d.startswith("pages") for d in disagree)
    conflicts = [
        "different journals" in disagree,
        pages_differ,
        any(d.startswith("years") for d in disagree),
        any(d.startswith("first authors") for d in disagree),
    ]
    if sum(conflicts) >= 2:
        return None
    if "same journal" in agree and (
        any(d.startswith("volumes") for d in disagree)
        or (
            pages_differ
            and (_page_gap(f.starts[i], f.starts[j]) > 10 or _spans_apart(f.span[i], f.span[j]))
            and fuzz.ratio(f.titles[i], f.titles[j]) < TITLE_SURE
        )
    ):
        return None  # two articles of one journal: other volume, or other pages of a volume
    if ta and tb:
        sort_sim = fuzz.token_sort_ratio(ta, tb)
        set_sim = fuzz.token_set_ratio(ta, tb)
    else:
        sort_sim = set_sim = 0.0
    tier = 2
    if sort_sim >= title_candidate:
        if len(agree) < 2 or len(agree) <= len(disagree):
            return None
        if conflicts[3] and sort_sim < TITLE_AGREE:
            return None  # other first author and a title that differs: two abstracts
        label = f"title {sort_sim:.0f}"
        similarity = sort_sim
        if _sure(ta, tb, agree, disagree):
            tier = 1
    else:
        if _coauthors_agree(f, i, j):
            agree.append("same co-authors")
        renamed = disagree == ["different journals"] and {"same volume", "same start page"} <= set(
            agree
        )
        if len(agree) < 4 or (disagree and not renamed) or (ta and tb and set_sim < 70):
            return None
        label = (
            f"title {sort_sim:.0f} (words shared {set_sim:.0f})"
            if ta and tb
            else "a title is missing"
        )
        similarity = set_sim
    score = 0.5 * similarity / 100 + 0.5 * len(agree) / (len(agree) + len(disagree))
    return tier, round(score, 3), (label, *agree, *(f"but {d}" for d in disagree))


def _sure(ta: str, tb: str, agree: list[str], disagree: list[str]) -> bool:
    """Tier 1 without identifiers: nearly identical titles, same year and first author, two
    of journal, volume and start page agreeing, nothing disagreeing."""
    if disagree or "same year" not in agree or "same first author" not in agree:
        return False
    if len(agree) < 4:
        return False
    return len(ta) >= MIN_TITLE_CHARS and fuzz.ratio(ta, tb) >= TITLE_SURE


def _related(i: int, j: int, f: _Fields) -> tuple[int, int, str, tuple[str, ...]] | None:
    """(report, article, kind, reasons) when one of i, j is a report about the other."""
    for article, report in ((i, j), (j, i)):
        note = f.erratum_at[article]
        if note is None or f.erratum_at[report] is not None:
            continue
        volume, page = note
        if page:
            named = page in f.starts[report] and f.volume[report] in ("", volume)
        else:  # the note is cut off: a one-page record on another page
            named = f.one_page[report] and not f.starts[report] & f.starts[article]
        if (
            named
            and fuzz.token_set_ratio(f.titles[article], f.titles[report]) >= 85
            and _journals_agree(f, article, report) is not False
        ):
            where = f"volume {volume} page {page}" if page else "a page"
            return report, article, "erratum", (f"its article's erratum note names {where}",)
    ka, kb = f.kind[i], f.kind[j]
    if ka == kb:
        return None
    if ka is None or (kb is not None and kb != "conference abstract"):
        i, j, ka, kb = j, i, kb, ka
    # now i is the report (ka), j the article or a different kind of report
    ta, tb = f.titles[i], f.titles[j]
    if not ta or not tb:
        return None
    overlap = fuzz.token_set_ratio(ta, tb)
    if ka == "conference abstract":
        if kb is not None:
            return None
        ya, yb = f.year[i], f.year[j]
        if fuzz.token_sort_ratio(ta, tb) < 80 or (ya is not None and yb is not None and ya > yb):
            return None
        if ya == yb and _journals_agree(f, i, j) is not False:
            return None  # the same abstract, indexed twice (compare as duplicates)
        return (
            i,
            j,
            "conference abstract",
            (f"title {overlap:.0f}", "abstract in a meeting or supplement"),
        )
    if overlap < 85 or _journals_agree(f, i, j) is False:
        return None
    ya, yb = f.year[i], f.year[j]
    if ya is not None and yb is not None and not 0 <= ya - yb <= 5:
        return None  # a report follows its article, within a few years
    return i, j, str(ka), (f"a {ka} by its title", f"title words shared {overlap:.0f}")


# -- candidate generation ------------------------------------------------------------------
def _title_words(titles: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every title's distinct words as codes: ``(rows, codes, words)`` where word
    ``words[codes[k]]`` is in title ``rows[k]`` (one hash-table pass, no per-word loop)."""
    import pandas as pd

    distinct = [set(title.split()) for title in titles]
    lengths = np.fromiter(map(len, distinct), dtype=np.int64, count=len(titles))
    rows = np.repeat(np.arange(len(titles), dtype=np.int64), lengths)
    flat = [word for words in distinct for word in words]
    if not flat:
        return rows, np.empty(0, dtype=np.int64), []
    codes, words = pd.factorize(pd.Series(flat, dtype=object), sort=False)
    return rows, codes.astype(np.int64), list(words)


def _index_pairs(
    titles: list[str], words: tuple[np.ndarray, np.ndarray, list[str]], min_cosine: float
) -> np.ndarray:
    """Pairs (i < j) whose idf-weighted title word vectors have cosine >= ``min_cosine``.

    Words found in one title only still count in the norm (a typo lowers the similarity);
    words in more than ``max(50, 0.5 %)`` of titles, stop words and one-letter words are left
    out of the index.
    """
    n = len(titles)
    rows, codes, vocab = words
    usable = np.fromiter((len(t) >= MIN_TITLE_CHARS for t in titles), dtype=bool, count=n)
    indexable = np.fromiter(
        (len(w) > 1 and w not in _TITLE_STOP for w in vocab), dtype=bool, count=len(vocab)
    )
    keep = usable[rows] & indexable[codes]
    rows, codes = rows[keep], codes[keep]
    df = np.bincount(codes, minlength=len(vocab))
    count = df[codes]
    cap = max(50, int(0.005 * n))
    rows, codes, count = rows[count <= cap], codes[count <= cap], count[count <= cap]
    weight = np.log(n / np.maximum(count, 1)) + 1.0
    norms = np.sqrt(np.bincount(rows, weights=weight * weight, minlength=n))
    shared = count > 1  # a word of one title only adds to its norm, never to a product
    rows, codes, weight = rows[shared], codes[shared], weight[shared]
    if len(rows) == 0:
        return np.empty((0, 2), dtype=np.int64)
    from scipy import sparse  # here: the store and the CLI start without it

    data = (weight / norms[rows]).astype(np.float32)
    matrix = sparse.csr_matrix((data, (rows, codes)), shape=(n, len(vocab)))
    transposed = matrix.T.tocsr()
    found = []
    for start in range(0, n, _CHUNK):
        block = (matrix[start : start + _CHUNK] @ transposed).tocoo()
        keep = (block.data >= min_cosine) & (block.row + start < block.col)
        found.append(np.column_stack([block.row[keep] + start, block.col[keep]]))
    return np.concatenate(found).astype(np.int64)


#: Bits of a title's word signature (each word sets one bit, by a stable hash).
_SIGNATURE_BITS = 256
#: Candidate titles sharing fewer than this share of the shorter title's words (estimated
#: from the signatures) are dropped before any string comparison; a pair so far apart has
#: ``token_set_ratio`` < 70 with very rare exceptions (grown corpus of 100,000 records: 1 of
#: 44,953 true pairs and 56 of 1,375,934 candidates lie below 0.3; none of the labelled sets').
MIN_WORD_OVERLAP = 0.25
_POPCOUNT = np.array([bin(k).count("1") for k in range(256)], dtype=np.uint8)


def _signatures(words: tuple[np.ndarray, np.ndarray, list[str]], n: int) -> np.ndarray:
    """Each title's words but stop words as a 256-bit set (n x 32 bytes), one bit per word
    by CRC-32."""
    rows, codes, vocab = words
    bits = np.fromiter(
        (zlib.crc32(w.encode()) % _SIGNATURE_BITS for w in vocab), dtype=np.int64, count=len(vocab)
    )
    content = np.fromiter((w not in _TITLE_STOP for w in vocab), dtype=bool, count=len(vocab))
    rows, codes = rows[content[codes]], codes[content[codes]]
    dense = np.zeros((n, _SIGNATURE_BITS), dtype=bool)
    dense[rows, bits[codes]] = True
    return np.packbits(dense, axis=1)


def _word_overlap(signatures: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated share of the shorter title's words found in the other title, for pairs
    (a[k], b[k]): bits set in both over the fewer bits set, an estimate of the overlap
    coefficient (Broder 1997's containment, taken the larger way) from bit-set signatures;
    1 where a title has fewer than three words (one typo in a one-word title shares
    nothing)."""
    out = np.ones(len(a))
    size = _POPCOUNT[signatures].sum(axis=1, dtype=np.int64)
    for start in range(0, len(a), 1 << 18):  # bounded temporary memory
        i, j = a[start : start + (1 << 18)], b[start : start + (1 << 18)]
        both = _POPCOUNT[signatures[i] & signatures[j]].sum(axis=1, dtype=np.int64)
        fewer = np.minimum(size[i], size[j])
        out[start : start + len(i)] = np.where(fewer >= 3, both / np.maximum(fewer, 1), 1.0)
    return out


def _neighbourhood_pairs(keys: list[str], window: int) -> np.ndarray:
    """Pairs of records within ``window`` of each other when sorted by ``keys`` (empty keys
    are left out)."""
    order = np.array(sorted((k, r) for r, k in enumerate(keys) if k), dtype=object)
    if len(order) < 2:
        return np.empty((0, 2), dtype=np.int64)
    index = np.array([r for _, r in order], dtype=np.int64)
    out = [np.column_stack([index[:-d], index[d:]]) for d in range(1, min(window, len(index)))]
    return np.concatenate(out)


def _block_pairs(keys: Iterable[Any]) -> np.ndarray:
    """All pairs within each block of equal, non-empty keys (blocks larger than
    :data:`MAX_ID_GROUP` are left out)."""
    blocks: dict[Any, list[int]] = defaultdict(list)
    for r, key in enumerate(keys):
        if key:
            blocks[key].append(r)
    out = [
        (a, b)
        for members in blocks.values()
        if 1 < len(members) <= MAX_ID_GROUP
        for k, a in enumerate(members)
        for b in members[k + 1 :]
    ]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def candidate_pairs(
    f: _Fields,
    words: tuple[np.ndarray, np.ndarray, list[str]] | None = None,
    *,
    min_cosine: float = MIN_COSINE,
) -> np.ndarray:
    """Unique candidate pairs (i < j) of row numbers, from the title index, sorted
    neighbourhoods and blocks (see the module docstring); ``words`` is
    :func:`_title_words` of ``f.titles`` when already made."""
    n = len(f.titles)
    if words is None:
        words = _title_words(f.titles)
    usable = [t if len(t) >= MIN_TITLE_CHARS else "" for t in f.titles]
    year_page = [
        (y, v, p) if y is not None and v and p else None
        for y, v, p in zip(f.year, f.volume, f.page, strict=True)
    ]
    author_page = [
        (a, y, p) if a and y is not None and p else None
        for a, y, p in zip(f.author, f.year, f.page, strict=True)
    ]
    author_year = [
        f"{a} {y} {t}" if a and y is not None else ""
        for a, y, t in zip(f.author, f.year, f.titles, strict=True)
    ]
    parts = [
        _index_pairs(f.titles, words, min_cosine),
        _neighbourhood_pairs(usable, WINDOW),
        _neighbourhood_pairs(author_year, WINDOW),
        _block_pairs(f.doi),
        _block_pairs(f.pmid),
        _block_pairs(year_page),
        _block_pairs(author_page),
    ]
    pairs = np.concatenate(parts)
    if len(pairs) == 0:
        return pairs
    low, high = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    codes = np.sort(low[low != high] * n + high[low != high])
    codes = codes[np.r_[True, codes[1:] != codes[:-1]]] if len(codes) else codes
    return np.column_stack([codes // n, codes % n])


def find_duplicates(
    records: pd.DataFrame,
    *,
    title_agree: float = TITLE_AGREE,
    title_candidate: float = TITLE_CANDIDATE,
) -> DuplicateCandidates:
    """Find duplicate pairs among ``records``: tier 1 (automatic merge), tier 2 (for review)
    and related reports (never merged).

    Parameters
    ----------
    records : pandas.DataFrame
        One row per record with an ``id`` column and any of ``title``, ``authors`` (list or
        string), ``year``, ``journal``, ``volume``, ``pages``, ``doi``, ``pmid`` (as returned
        by ``Store.records``).
    title_agree : float
        Title similarity (0-100) a shared DOI/PMID needs to be a tier-1 merge.
    title_candidate : float
        Title similarity (0-100) above which a pair is examined for tier 2.

    Returns
    -------
    DuplicateCandidates
        Pairs with tier, score (0-1) and reasons, and related reports; never clusters.

    Raises
    ------
    InputError
        If ``records`` has no ``id`` column or repeated ids.

    Notes
    -----
    Only candidate pairs are scored (see the module docstring), so time grows about linearly
    with the number of records: 100,000 records take well under a minute.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"id": ["a", "b"], "title": ["Aspirin in stroke"] * 2,
    ...                      "doi": ["10.1/x", "10.1/X"]})
    >>> [(p.tier, p.reasons) for p in find_duplicates(recs).pairs]
    [(1, ('same DOI', 'title 100'))]
    """
    if "id" not in records.columns:
        raise InputError(f"records needs an 'id' column; got columns {list(records.columns)}.")
    ids = [str(v) for v in records["id"].tolist()]
    if len(set(ids)) != len(ids):
        raise InputError("records: the 'id' column has repeated values; ids must be unique.")
    f = _Fields(records)
    found: list[DuplicatePair] = []
    related: list[RelatedPair] = []

    def pair_ids(i: int, j: int) -> tuple[str, str]:
        return (ids[i], ids[j]) if ids[i] < ids[j] else (ids[j], ids[i])

    words = _title_words(f.titles)
    candidates = candidate_pairs(f, words)
    # titles far apart (token_set_ratio < 70 with both present) make no pair and no link:
    # dropped here, vectorised, before the per-pair rules -- first by the word signatures
    # (cheap), then by token_set_ratio on what is left; pairs sharing a DOI or PMID stay
    a, b = candidates[:, 0], candidates[:, 1]
    empty = np.fromiter((not t for t in f.titles), dtype=bool, count=len(f.titles))
    missing = empty[a] | empty[b]
    shares = _same_code(f.doi, a, b) | _same_code(f.pmid, a, b)
    keep = missing | shares
    close = ~keep & (_word_overlap(_signatures(words, len(f.titles)), a, b) >= MIN_WORD_OVERLAP)
    titles = np.asarray(f.titles, dtype=object)
    words_shared = process.cpdist(
        titles[a[close]].tolist(),
        titles[b[close]].tolist(),
        scorer=fuzz.token_set_ratio,
        dtype=np.uint8,
        workers=-1,
    )
    keep[np.flatnonzero(close)[words_shared >= 70]] = True
    for i, j in candidates[keep].tolist():
        link = _related(i, j, f)
        if link is not None:
            report, article, kind, why = link
            related.append(RelatedPair(ids[report], ids[article], kind, why))
            continue
        shared = _shared_identifier(i, j, f)
        if shared is not None:
            ta, tb = f.titles[i], f.titles[j]
            similarity = fuzz.token_sort_ratio(ta, tb)
            if ta and tb and similarity >= title_agree:
                found.append(
                    DuplicatePair(
                        *pair_ids(i, j), 1, 1.0, (f"same {shared}", f"title {similarity:.0f}")
                    )
                )
            else:
                why = "titles differ" if ta and tb else "a title is missing"
                found.append(
                    DuplicatePair(
                        *pair_ids(i, j),
                        2,
                        round(0.5 + similarity / 400, 3),
                        (f"same {shared} but {why}", f"title {similarity:.0f}"),
                    )
                )
            continue
        judged = _judge(i, j, f, title_candidate)
        if judged is not None:
            found.append(DuplicatePair(*pair_ids(i, j), *judged))

    pairs = sorted(found, key=lambda p: (p.tier, -p.score, p.id_a, p.id_b))
    related.sort(key=lambda r: (r.article_id, r.report_id))
    return DuplicateCandidates(tuple(pairs), len(ids), tuple(related))


def _same_code(values: list[Any], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For pairs (a[k], b[k]): both values present and equal."""
    import pandas as pd

    codes, _ = pd.factorize(pd.Series(values, dtype=object))
    return (codes[a] == codes[b]) & (codes[a] >= 0)


def _shared_identifier(i: int, j: int, f: _Fields) -> str | None:
    if f.doi[i] and f.doi[i] == f.doi[j]:
        return "DOI"
    if f.pmid[i] and f.pmid[i] == f.pmid[j]:
        return "PMID"
    return None


def pairs_from_groups(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    """All unordered pairs ``(a, b)`` with ``a < b`` within each group of ids."""
    out: set[tuple[str, str]] = set()
    for group in groups:
        members = sorted(set(group))
        for k, a in enumerate(members):
            for b in members[k + 1 :]:
                out.add((a, b))
    return out


def groups_from_pairs(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Connected components (sorted, two or more ids each) of the graph the pairs draw: what
    merging every pair would do."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = defaultdict(list)
    for x in parent:
        groups[root(x)].append(x)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)
