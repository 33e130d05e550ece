"""Pairwise sensitivity and specificity of metareview's deduplication on labelled benchmarks.

A benchmark, not a test: run ``.venv/bin/python bench/bench_dedup.py [dedup-dir]`` (the
folder defaults to ``$METAREVIEW_TESTDATA/dedup``, else ``shared/testdata/dedup`` beside
the repository).
Benchmarks (see ../shared/testdata/dedup and its SOURCES.md): respiratory (1,988 records) and
haematology (1,415), from Rathbone et al. (2015) Syst Rev 4:6, doi:10.1186/2046-4053-4-6, as
redistributed by bib-dedupe. ``merged_record_ids.csv`` lists each curated duplicate set;
every pair inside a set is a true duplicate pair, every other pair a true distinct pair.
respiratory and haematology carry no DOI or PMID, so tier 1 (identifier-based) cannot fire
on them; special_cases (12 tricky records, with DOIs) is reported as well.
The ``number`` column of respiratory is a record counter, not the issue, and is not used.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

from metareview.review.dedup import find_duplicates, pairs_from_groups

DEFAULT = (
    Path(
        os.environ.get(
            "METAREVIEW_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"
        )
    )
    / "dedup"
)


def load(folder: Path) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """Records (renamed to the store's columns) and the true duplicate pairs."""
    raw = pd.read_csv(folder / "records_pre_merged.csv", dtype=str, keep_default_na=False)
    records = pd.DataFrame(
        {
            "id": raw["ID"],
            "title": raw.get("title"),
            "authors": raw.get("author"),
            "year": raw.get("year"),
            "journal": raw["journal"].where(raw["journal"] != "", raw.get("booktitle", ""))
            if "booktitle" in raw
            else raw.get("journal"),
            "volume": raw.get("volume"),
            "pages": raw.get("pages"),
            "doi": raw.get("doi"),
        }
    )
    merged = pd.read_csv(folder / "merged_record_ids.csv", dtype=str)
    truth = pairs_from_groups(ids.split(";") for ids in merged["merged_ids"])
    return records, truth


def rates(predicted: set[tuple[str, str]], truth: set[tuple[str, str]], n: int) -> dict:
    """Pairwise confusion counts, sensitivity, specificity and precision."""
    total = n * (n - 1) // 2
    tp = len(predicted & truth)
    fp = len(predicted - truth)
    fn = len(truth - predicted)
    tn = total - tp - fp - fn
    return {
        "TP": tp,
        "FP": fp,
        "FN": fn,
        "TN": tn,
        "sensitivity": tp / (tp + fn) if tp + fn else float("nan"),
        "specificity": tn / (tn + fp) if tn + fp else float("nan"),
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
    }


def main(root: Path = DEFAULT) -> int:
    if not root.is_dir():
        print(f"benchmark data not found at {root}; pass the dedup folder as an argument.")
        return 2
    for name in ("respiratory", "haematology", "special_cases"):
        records, truth = load(root / name)
        started = time.perf_counter()
        result = find_duplicates(records)
        seconds = time.perf_counter() - started
        tier1 = {(p.id_a, p.id_b) for p in result.tier1}
        flagged = {(p.id_a, p.id_b) for p in result.pairs}
        print(f"{name}: {len(records)} records, {len(truth)} true duplicate pairs, {seconds:.1f} s")
        for label, predicted in (("tier 1 alone", tier1), ("tier 1 + tier 2", flagged)):
            r = rates(predicted, truth, len(records))
            print(
                f"  {label:16s} sensitivity {r['sensitivity']:.4f}  specificity "
                f"{r['specificity']:.6f}  precision {r['precision']:.4f}  "
                f"(TP {r['TP']}, FP {r['FP']}, FN {r['FN']})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
