"""Deduplication quality on the two labelled benchmarks (issue 17 targets), after grouping.

The data are read from ../shared/testdata/dedup (``METAREVIEW_TESTDATA`` overrides); the
tests skip when it is absent. Every bound is the issue's target or today's measured value less
a stated margin, so that a change that makes the deduplicator worse fails here.
"""

from __future__ import annotations

import pytest

from metareview.review import find_duplicates
from metareview.review._dedup_eval import (
    HAEMATOLOGY_REPORTS,
    grouped,
    read_benchmark,
    scores,
    without_reports,
)
from tests.review.conftest import TESTDATA

ROOT = TESTDATA / "dedup"


def run(name: str) -> tuple[dict, dict, set, object]:
    folder = ROOT / name
    if not (folder / "records_pre_merged.csv").is_file():
        pytest.skip(f"labelled benchmark {folder} not found (shared test data are absent)")
    records, truth = read_benchmark(folder)
    result = find_duplicates(records)
    auto = scores(grouped((p.id_a, p.id_b) for p in result.tier1), truth)
    flagged = scores(grouped((p.id_a, p.id_b) for p in result.pairs), truth)
    return auto, flagged, truth, result


def test_respiratory_meets_the_issue_targets() -> None:
    auto, flagged, _, _ = run("respiratory")
    # measured 2026-12-07 (session 5): automatic 443 TP, 0 FP (precision 1.0, recall 0.8703);
    # flagged 507 TP, 0 FP, 2 FN (sensitivity 0.9961, precision 1.0); before session 5's
    # journal-contraction, co-author and page-range rules: 501 TP, 1 FP, 8 FN
    assert auto["precision"] >= 0.995  # issue target; measured 1.0
    assert auto["sensitivity"] >= 0.85  # issue target; measured 0.870 (margin 0.020)
    assert flagged["sensitivity"] >= 0.99  # issue target 0.97; measured 0.996 (was 0.984)
    assert flagged["precision"] >= 0.99  # issue target; measured 1.0


def test_haematology_quality() -> None:
    auto, flagged, truth, result = run("haematology")
    # measured 2026-12-07 (session 5): automatic 98 TP, 0 FP; flagged 144 TP, 3 FP, 19 FN
    # (before session 5: 143 TP, 4 FP, 20 FN)
    assert auto["precision"] >= 0.995  # issue target; measured 1.0
    assert flagged["precision"] >= 0.95  # issue target; measured 0.980 (was 0.973)
    # against the curated truth, 14 of the 19 missed pairs join an erratum or a reply to its
    # article (linked as related reports, as the issue asks; so at most 149/163 = 0.914 is
    # reachable without merging them): measured 0.883 (was 0.877; 0.871 before issue 17)
    assert flagged["sensitivity"] >= 0.88
    # with those reports counted as related, not duplicates: measured 0.966 (target 0.92)
    relabelled = without_reports(truth, HAEMATOLOGY_REPORTS)
    found = grouped((p.id_a, p.id_b) for p in result.pairs)
    assert scores(found, relabelled)["sensitivity"] >= 0.92
    linked = {r.report_id for r in result.related}
    assert set(HAEMATOLOGY_REPORTS) <= linked
