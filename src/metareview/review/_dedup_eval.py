"""Scoring deduplication against labelled benchmarks (private; used by tests and bench/).

A benchmark folder holds ``records_pre_merged.csv`` (one row per record, BibTeX-like column
names) and ``merged_record_ids.csv`` (one curated duplicate set per row, ids joined by
``;``), as distributed with bib-dedupe (respiratory and haematology: Rathbone et al. 2015,
Syst Rev 4:6, doi:10.1186/2046-4053-4-6).

Scores are given per pair and *after grouping*: merging every flagged pair joins records
into connected components, and every pair inside a component counts as flagged (what a merge
does), so one wrong link that joins two studies costs all the pairs it creates.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from metareview.review.dedup import groups_from_pairs, pairs_from_groups

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

Pair = tuple[str, str]

#: Records of the haematology benchmark that the curators merged with the article they are
#: about, but that are errata or replies by their titles, pages and volumes (judged by reading
#: them): metareview links them as related reports (issue 17 item 3) instead of merging.
HAEMATOLOGY_REPORTS = {
    "id_0000057": "erratum of id_0000063 (Embase: '(N Engl J Med (2009) 360 (542-544))', p2487)",
    "id_0000058": "erratum of id_0000063 (Web of Science: '(vol 360, pg 542, 2009)', p2487)",
    "id_0000162": "erratum of id_0000161 (one page, 911, same volume as pages 553-559)",
    "id_0001173": "erratum of id_0000190 ('Erratum:' title, page 19)",
    "id_0000039": "reply to the letter id_0000009 ('- Reply', page 945)",
    "id_0000040": "reply to the letter id_0000009 ('- Reply', page 945)",
}


def read_benchmark(folder: str | Path) -> tuple[pd.DataFrame, set[Pair]]:
    """Records (with the store's column names) and the true duplicate pairs of a folder."""
    import pandas as pd

    folder = Path(folder)
    raw = pd.read_csv(folder / "records_pre_merged.csv", dtype=str, keep_default_na=False)
    journal = raw.get("journal", pd.Series([""] * len(raw)))
    if "booktitle" in raw:
        journal = journal.where(journal != "", raw["booktitle"])
    records = pd.DataFrame(
        {
            "id": raw["ID"],
            "title": raw.get("title"),
            "authors": raw.get("author"),
            "year": raw.get("year"),
            "journal": journal,
            "volume": raw.get("volume"),
            "pages": raw.get("pages"),
            "doi": raw.get("doi"),
        }
    )
    merged = pd.read_csv(folder / "merged_record_ids.csv", dtype=str)
    return records, pairs_from_groups(ids.split(";") for ids in merged["merged_ids"])


def without_reports(truth: set[Pair], reports: Iterable[str]) -> set[Pair]:
    """The true pairs less those joining a related report to another record."""
    reports = set(reports)
    return {p for p in truth if (p[0] in reports) == (p[1] in reports)}


def grouped(pairs: Iterable[Pair]) -> set[Pair]:
    """Every pair inside the connected components the pairs draw."""
    return pairs_from_groups(groups_from_pairs(pairs))


def scores(predicted: set[Pair], truth: set[Pair]) -> dict[str, float]:
    """``TP``, ``FP``, ``FN``, ``sensitivity`` (recall) and ``precision`` (NaN when no pair
    is predicted)."""
    tp, fp, fn = len(predicted & truth), len(predicted - truth), len(truth - predicted)
    return {
        "TP": tp,
        "FP": fp,
        "FN": fn,
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
    }
