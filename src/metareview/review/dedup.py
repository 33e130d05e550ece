"""Duplicate detection in two tiers, returning scored pairs (never transitive clusters).

Tier 1 (automatic merge): the same DOI or the same PMID, *and* titles that agree
(``rapidfuzz.fuzz.token_sort_ratio`` of the normalised titles >= 90). A shared identifier with
disagreeing titles is only a tier-2 candidate (identifiers are mistyped and reused by errata).

Tier 2 (human review): similar normalised titles plus supporting fields: year, first author,
journal, start page, volume. Two empty fields never count as agreement; a shared title alone
is not enough; a pair whose journals *and* pages both differ is rejected (same-title records
from different journals and pages are different studies). Pairs are never joined into
clusters: each pair stands on its own evidence.

References
----------
Hair K, Bahor Z, Macleod M, Liao J, Sena ES (2023). The Automated Systematic Search
Deduplicator (ASySD). BMC Biology 21:189. doi:10.1186/s12915-023-01686-z
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from metareview.exceptions import InputError
from metareview.review._normalise import (
    first_author_surname,
    normalise_doi,
    normalise_text,
    parse_year,
    start_page,
)

__all__ = ["DuplicateCandidates", "DuplicatePair", "find_duplicates"]

#: Tier 1 needs titles at least this similar (token_sort_ratio, 0-100).
TITLE_AGREE = 90.0
#: Tier 2 considers pairs whose titles are at least this similar.
TITLE_CANDIDATE = 85.0
#: Titles shorter than this many characters (normalised) are too generic to compare.
MIN_TITLE_CHARS = 10
#: Identifier groups larger than this are treated as placeholder identifiers and ignored.
MAX_ID_GROUP = 50
_CHUNK = 1000
_JOURNAL_STOP = {"the", "of", "and", "for", "in", "on", "a", "an", "de", "la"}


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
class DuplicateCandidates:
    """Result of :func:`find_duplicates`: scored pairs, tier 1 and tier 2."""

    pairs: tuple[DuplicatePair, ...]
    n_records: int

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
        return pd.DataFrame(
            [(p.id_a, p.id_b, p.tier, p.score, "; ".join(p.reasons)) for p in self.pairs],
            columns=["id_a", "id_b", "tier", "score", "reasons"],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the pairs."""
        return {
            "method": "two-tier",
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
        }


def _column(records: pd.DataFrame, name: str) -> list[Any]:
    if name not in records.columns:
        return [None] * len(records)
    return [None if _missing(v) else v for v in records[name].tolist()]


def _missing(value: Any) -> bool:
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
    ta, tb = _journal_tokens(a), _journal_tokens(b)
    if not ta or not tb:
        return None
    if fuzz.token_set_ratio(" ".join(ta), " ".join(tb)) >= 85:
        return True
    return _abbreviates(ta, tb) or _abbreviates(tb, ta)


def _abbreviates(short: list[str], long_: list[str]) -> bool:
    """Each word of ``short`` starts a word of ``long_``, in order."""
    if len(short) > len(long_):
        return False
    position = 0
    for token in short:
        while position < len(long_) and not long_[position].startswith(token):
            position += 1
        if position == len(long_):
            return False
        position += 1
    return True


def authors_agree(a: str, b: str) -> bool:
    """Normalised surnames agree: similar (ratio >= 85) or one contains the other
    (``"pawel"``/``"vonpawel"``, ``"le"``/``"lequintrec"``)."""
    return fuzz.ratio(a, b) >= 85 or (min(len(a), len(b)) >= 2 and (a in b or b in a))


def _evidence(i: int, j: int, f: dict[str, list[Any]]) -> tuple[list[str], list[str]]:
    agree: list[str] = []
    disagree: list[str] = []
    ya, yb = f["year"][i], f["year"][j]
    if ya is not None and yb is not None:
        if ya == yb:
            agree.append("same year")
        elif abs(ya - yb) > 1:
            disagree.append(f"years {ya} and {yb}")
    aa, ab = f["author"][i], f["author"][j]
    if aa and ab:
        if authors_agree(aa, ab):
            agree.append("same first author")
        else:
            disagree.append(f"first authors {aa}/{ab}")
    journals = journals_agree(f["journal"][i], f["journal"][j])
    if journals is True:
        agree.append("same journal")
    elif journals is False:
        disagree.append("different journals")
    pa, pb = f["page"][i], f["page"][j]
    if pa and pb:
        (agree if pa == pb else disagree).append(
            "same start page" if pa == pb else f"pages {pa}/{pb}"
        )
    va, vb = f["volume"][i], f["volume"][j]
    if va and vb:
        (agree if va == vb else disagree).append(
            "same volume" if va == vb else f"volumes {va}/{vb}"
        )
    da, db = f["doi"][i], f["doi"][j]
    if da and db and da != db:
        disagree.append("different DOIs")
    return agree, disagree


def _consider(
    i: int,
    j: int,
    titles: list[str],
    f: dict[str, list[Any]],
    found: dict[tuple[int, int], DuplicatePair],
    pair_ids: Any,
    title_candidate: float,
) -> None:
    """Add (i, j) as a tier-2 pair if the evidence suffices.

    * close titles (token_sort_ratio >= ``title_candidate``): at least two agreeing fields,
      more agreeing than disagreeing, and at most one of journal, start page and year
      different (same title, different journal and pages = different studies);
    * otherwise (one title a near-subset of the other, or titles translated/truncated): at
      least four agreeing fields among year, first author, journal, start page and volume,
      and none disagreeing.
    """
    agree, disagree = _evidence(i, j, f)
    conflicts = [
        "different journals" in disagree,
        any(d.startswith("pages") for d in disagree),
        any(d.startswith("years") for d in disagree),
    ]
    if sum(conflicts) >= 2:
        return
    if titles[i] and titles[j]:
        sort_sim = fuzz.token_sort_ratio(titles[i], titles[j])
        set_sim = fuzz.token_set_ratio(titles[i], titles[j])
    else:
        sort_sim = set_sim = 0.0
    if sort_sim >= title_candidate:
        if len(agree) < 2 or len(agree) <= len(disagree):
            return
        label = f"title {sort_sim:.0f}"
        similarity = sort_sim
    else:
        if len(agree) < 4 or disagree or (titles[i] and titles[j] and set_sim < 70):
            return
        label = (
            f"title {sort_sim:.0f} (words shared {set_sim:.0f})"
            if titles[i] and titles[j]
            else "a title is missing"
        )
        similarity = set_sim
    score = 0.5 * similarity / 100 + 0.5 * len(agree) / (len(agree) + len(disagree))
    found[(i, j)] = DuplicatePair(
        *pair_ids(i, j),
        2,
        round(score, 3),
        (label, *agree, *(f"but {d}" for d in disagree)),
    )


def find_duplicates(
    records: pd.DataFrame,
    *,
    title_agree: float = TITLE_AGREE,
    title_candidate: float = TITLE_CANDIDATE,
) -> DuplicateCandidates:
    """Find duplicate pairs among ``records`` (tier 1 automatic, tier 2 for review).

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
        Pairs with tier, score (0-1) and reasons; never clusters.

    Raises
    ------
    InputError
        If ``records`` has no ``id`` column or repeated ids.

    Examples
    --------
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
    titles = [normalise_text(t) for t in _column(records, "title")]
    f: dict[str, list[Any]] = {
        "year": [parse_year(y) for y in _column(records, "year")],
        "author": [first_author_surname(a) for a in _column(records, "authors")],
        "journal": _column(records, "journal"),
        "page": [start_page(p) for p in _column(records, "pages")],
        "volume": [normalise_text(v) for v in _column(records, "volume")],
        "doi": [normalise_doi(d) for d in _column(records, "doi")],
    }
    if "authors" not in records.columns and "author" in records.columns:
        f["author"] = [first_author_surname(a) for a in _column(records, "author")]
    pmids = [str(p).strip() if p is not None else None for p in _column(records, "pmid")]

    found: dict[tuple[int, int], DuplicatePair] = {}

    def pair_ids(i: int, j: int) -> tuple[str, str]:
        return (ids[i], ids[j]) if ids[i] < ids[j] else (ids[j], ids[i])

    # Tier 1: shared identifier and agreeing titles.
    for label, values in (("DOI", f["doi"]), ("PMID", pmids)):
        groups: dict[str, list[int]] = defaultdict(list)
        for index, value in enumerate(values):
            if value:
                groups[value].append(index)
        for members in groups.values():
            if len(members) < 2 or len(members) > MAX_ID_GROUP:
                continue
            for a_pos, i in enumerate(members):
                for j in members[a_pos + 1 :]:
                    key = (min(i, j), max(i, j))
                    similarity = fuzz.token_sort_ratio(titles[i], titles[j])
                    if titles[i] and titles[j] and similarity >= title_agree:
                        reasons = (f"same {label}", f"title {similarity:.0f}")
                        previous = found.get(key)
                        if previous is None or previous.tier != 1:
                            found[key] = DuplicatePair(*pair_ids(i, j), 1, 1.0, reasons)
                    elif key not in found:
                        why = "titles differ" if titles[i] and titles[j] else "a title is missing"
                        found[key] = DuplicatePair(
                            *pair_ids(i, j),
                            2,
                            round(0.5 + similarity / 400, 3),
                            (f"same {label} but {why}", f"title {similarity:.0f}"),
                        )

    # Tier 2a: similar titles with supporting fields.
    usable = np.array([len(t) >= MIN_TITLE_CHARS for t in titles])
    index_map = np.flatnonzero(usable)
    choices = [titles[k] for k in index_map]
    examined: set[tuple[int, int]] = set()
    for start in range(0, len(choices), _CHUNK):
        block = process.cdist(
            choices[start : start + _CHUNK],
            choices[start:],  # upper triangle only
            scorer=fuzz.token_set_ratio,
            score_cutoff=title_candidate,
            dtype=np.uint8,
            workers=-1,
        )
        rows, cols = np.nonzero(block)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i, j = int(index_map[start + r]), int(index_map[start + c])
            if i < j and (i, j) not in found:
                examined.add((i, j))
                _consider(i, j, titles, f, found, pair_ids, title_candidate)

    # Tier 2b: same year, volume and start page (block), titles need not be close.
    blocks: dict[tuple[Any, str, str], list[int]] = defaultdict(list)
    for k in range(len(ids)):
        if f["year"][k] is not None and f["volume"][k] and f["page"][k]:
            blocks[(f["year"][k], f["volume"][k], f["page"][k])].append(k)
    for members in blocks.values():
        if len(members) > MAX_ID_GROUP:
            continue
        for a_pos, i in enumerate(members):
            for j in members[a_pos + 1 :]:
                if (i, j) not in found and (i, j) not in examined:
                    _consider(i, j, titles, f, found, pair_ids, title_candidate)

    pairs = sorted(found.values(), key=lambda p: (p.tier, -p.score, p.id_a, p.id_b))
    return DuplicateCandidates(tuple(pairs), len(ids))


def pairs_from_groups(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    """All unordered pairs ``(a, b)`` with ``a < b`` within each group of ids."""
    out: set[tuple[str, str]] = set()
    for group in groups:
        members = sorted(set(group))
        for k, a in enumerate(members):
            for b in members[k + 1 :]:
                out.add((a, b))
    return out
