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
    # measured 2026-12-07: automatic 442 TP, 0 FP (precision 1.0, recall 0.8684);
    # flagged 501 TP, 1 FP, 8 FN (sensitivity 0.9843, precision 0.9980)
    assert auto["precision"] >= 0.995  # issue target; measured 1.0
    assert auto["sensitivity"] >= 0.85  # issue target; measured 0.868 (margin 0.018)
    assert flagged["sensitivity"] >= 0.97  # issue target; measured 0.984
    assert flagged["precision"] >= 0.99  # issue target; measured 0.998


def test_haematology_quality() -> None:
    auto, flagged, truth, result = run("haematology")
    # measured 2026-12-07: automatic 98 TP, 0 FP; flagged 143 TP, 4 FP, 20 FN
    assert auto["precision"] >= 0.995  # issue target; measured 1.0
    assert flagged["precision"] >= 0.95  # issue target; measured 0.973
    # against the curated truth, 14 of the 20 missed pairs join an erratum or a reply to its
    # article (linked as related reports, as the issue asks): sensitivity 0.877, no lower
    # than before issue 17 (0.871), which flagged those errata as duplicates
    assert flagged["sensitivity"] >= 0.871
    # with those reports counted as related, not duplicates: measured 0.960 (target 0.92)
    relabelled = without_reports(truth, HAEMATOLOGY_REPORTS)
    found = grouped((p.id_a, p.id_b) for p in result.pairs)
    assert scores(found, relabelled)["sensitivity"] >= 0.92
    linked = {r.report_id for r in result.related}
    assert set(HAEMATOLOGY_REPORTS) <= linked
