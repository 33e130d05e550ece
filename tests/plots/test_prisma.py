"""PRISMA 2020 flow diagram (Page et al. 2021, BMJ 372:n71): counts in boxes, flow checks."""

from __future__ import annotations

import pytest

from metareview import InputError
from metareview.plots import prisma
from tests.plots.helpers import by_gid, overlapping_texts, texts

DATABASES_ONLY = {
    "records_databases": 82,
    "duplicates_removed": 21,
    "records_screened": 61,
    "records_excluded": 29,
    "reports_sought": 32,
    "reports_not_retrieved": 1,
    "reports_assessed": 31,
    "reports_excluded": {"Not CRPS": 7, "Not an infusion": 5, "No pain outcome": 4},
    "studies_included": 15,
}
BOTH_BRANCHES = {
    "records_databases": {"PubMed": 41, "Embase": 29, "Cochrane Library": 12},
    "records_registers": {"ClinicalTrials.gov": 4},
    "duplicates_removed": 18,
    "records_removed_automation": 3,
    "records_removed_other": 1,
    "records_screened": 64,
    "records_excluded": 30,
    "reports_sought": 34,
    "reports_not_retrieved": 2,
    "reports_assessed": 32,
    "reports_excluded": {
        "Not CRPS": 6,
        "Not intravenous ketamine": 5,
        "No pain outcome": 4,
        "Review or commentary": 3,
    },
    "records_other_methods": {"Websites": 2, "Citation searching": 5},
    "other_reports_sought": 7,
    "other_reports_not_retrieved": 1,
    "other_reports_assessed": 6,
    "other_reports_excluded": {"Duplicate cohort": 4},
    "studies_included": 14,
    "reports_included": 16,
}
# the seed review (Zhao et al. 2018) reports only these two counts
SEED = {"records_databases": 82, "studies_included": 15}
# DATABASES_ONLY leaves these out (not reported); the identification check needs them known
NO_REGISTERS_NOR_OTHER_REMOVALS = {
    "records_registers": 0,
    "records_removed_automation": 0,
    "records_removed_other": 0,
}
NOT_REPORTED = "(n = not reported)"


def _box(fig, key: str) -> str:
    """The text of a box with wrapping undone (lines joined by single spaces)."""
    (text,) = texts(fig, f"box:{key}")
    return " ".join(text.split())


def test_boxes_show_the_counts():
    fig = prisma(DATABASES_ONLY)
    c = DATABASES_ONLY
    assert "Databases (n = 82)" in _box(fig, "records_identified")
    assert "Duplicate records removed (n = 21)" in _box(fig, "records_removed")
    for key in (
        "records_screened",
        "records_excluded",
        "reports_sought",
        "reports_not_retrieved",
        "reports_assessed",
    ):
        assert f"(n = {c[key]})" in _box(fig, key)
    excluded = _box(fig, "reports_excluded")
    for reason, n in c["reports_excluded"].items():
        assert f"{reason} (n = {n})" in excluded
    included = _box(fig, "studies_included")
    assert included == "Studies included in review (n = 15) Reports of included studies (n = 15)"
    assert texts(fig, "header:1") == []  # no other-methods branch


def test_other_methods_branch_and_per_source_counts():
    fig = prisma(BOTH_BRANCHES)
    identified = _box(fig, "records_identified")
    for name, n in {
        "Databases": 82,
        "PubMed": 41,
        "Embase": 29,
        "Cochrane Library": 12,
        "Registers": 4,
        "ClinicalTrials.gov": 4,
    }.items():
        assert f"{name} (n = {n})" in identified
    other = _box(fig, "other_records_identified")
    assert "Websites (n = 2)" in other and "Citation searching (n = 5)" in other
    assert "(n = 7)" in _box(fig, "other_reports_sought")
    assert "(n = 1)" in _box(fig, "other_reports_not_retrieved")
    assert "(n = 6)" in _box(fig, "other_reports_assessed")
    assert "Duplicate cohort (n = 4)" in _box(fig, "other_reports_excluded")
    assert "Reports of included studies (n = 16)" in _box(fig, "studies_included")
    assert texts(fig, "header:1") == ["Identification of new studies via other methods"]
    assert len(by_gid(fig, "arrow")) == 4 + 4 + 5


def test_section_bands():
    fig = prisma(DATABASES_ONLY)
    for band in ("Identification", "Screening", "Included"):
        assert texts(fig, f"band:{band}") == [band]


@pytest.mark.parametrize("counts", [DATABASES_ONLY, BOTH_BRANCHES], ids=["one", "two"])
def test_no_overlapping_texts(counts):
    assert overlapping_texts(prisma(counts)) == []


def test_long_reasons_are_wrapped_inside_their_box():
    counts = dict(
        DATABASES_ONLY,
        reports_excluded={
            "Population did not meet the Budapest criteria for complex regional pain syndrome": 16
        },
    )
    fig = prisma(counts)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (text,) = by_gid(fig, "box:reports_excluded")
    (frame,) = by_gid(fig, "frame:reports_excluded")
    inner, outer = text.get_window_extent(renderer), frame.get_window_extent(renderer)
    assert outer.x0 <= inner.x0 and inner.x1 <= outer.x1
    assert outer.y0 <= inner.y0 and inner.y1 <= outer.y1


# -------------------------------------------------------------------------- flow checks


def _with(**changes):
    return dict(DATABASES_ONLY, **changes)


def test_excluded_more_than_screened_names_both_boxes():
    with pytest.raises(
        InputError,
        match=r"records_excluded \(90\) exceeds records_screened "
        r"\(60\)",
    ):
        prisma(_with(records_screened=60, records_excluded=90, duplicates_removed=22))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {**NO_REGISTERS_NOR_OTHER_REMOVALS, "records_screened": 70},
            r"records identified \(82: records_databases 82 \+ records_registers 0\) minus records "
            r"removed before screening \(21: duplicates_removed 21 \+ records_removed_automation 0 "
            r"\+ records_removed_other 0\) = 61, but records_screened is 70",
        ),
        (
            {"reports_sought": 30},
            r"records_screened \(61\) minus records_excluded \(29\) = 32, but reports_sought is 30",
        ),
        (
            {"reports_assessed": 30},
            r"reports_sought \(32\) minus reports_not_retrieved \(1\) = 31, but reports_assessed is 30",  # noqa: E501 (a message matched whole)
        ),
        (
            {"reports_included": 14},
            r"reports_assessed minus reports_excluded = 15, but reports_included is 14",
        ),
        ({"studies_included": 16}, r"studies_included \(16\) exceeds reports_included \(15\)"),
        (
            {"reports_excluded": {"Not CRPS": 40}},
            r"reports_excluded \(40, all reasons\) exceeds reports_assessed \(31\)",
        ),
        (
            {**NO_REGISTERS_NOR_OTHER_REMOVALS, "duplicates_removed": 90},
            r"records removed before screening \(90: .*\) exceed records identified \(82",
        ),
    ],
)
def test_broken_flow_is_reported_with_the_boxes(changes, message):
    with pytest.raises(InputError, match=message):
        prisma(_with(**changes))


def test_every_problem_is_reported_at_once():
    with pytest.raises(InputError, match=r"reports_sought is 30; .*reports_assessed is 31"):
        prisma(
            _with(
                reports_sought=30,
                reports_not_retrieved=0,
                reports_assessed=31,
                reports_excluded={"x": 10},
                studies_included=20,
                reports_included=21,
            )
        )


def test_other_branch_flow_is_checked():
    with pytest.raises(
        InputError,
        match=r"other_reports_not_retrieved \(9\) exceeds "
        r"other_reports_sought \(7\)",
    ):
        prisma(dict(BOTH_BRANCHES, other_reports_not_retrieved=9))


def test_partial_other_branch_is_drawn_with_not_reported_boxes():
    fig = prisma(dict(DATABASES_ONLY, other_reports_sought=3))
    assert texts(fig, "header:1") == ["Identification of new studies via other methods"]
    assert _box(fig, "other_reports_sought") == "Reports sought for retrieval (n = 3)"
    for key in ("other_reports_not_retrieved", "other_reports_assessed", "other_reports_excluded"):
        assert _box(fig, key).endswith(NOT_REPORTED)
    assert _box(fig, "other_records_identified") == (
        f"Records identified from other methods {NOT_REPORTED}"
    )
    # the other branch's reports excluded are unknown, so the reports included are too
    assert _box(fig, "studies_included").endswith(f"Reports of included studies {NOT_REPORTED}")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"records_screened": -1},
            r"counts\[records_screened\] must be a whole number >= 0; got -1",
        ),
        ({"records_screened": 61.0}, r"must be a whole number >= 0; got 61\.0"),
        ({"records_excluded": True}, r"counts\[records_excluded\] must be a whole number"),
        ({"records_screend": 61}, r"unknown keys \['records_screend'\]"),
        ({"records_screened": {"a": 61}}, r"counts\['records_screened'\] must be a whole number"),
    ],
)
def test_bad_values(changes, message):
    with pytest.raises(InputError, match=message):
        prisma(_with(**changes))


def test_missing_keys_are_listed():
    counts = dict(DATABASES_ONLY)
    del counts["records_databases"], counts["studies_included"]
    with pytest.raises(InputError, match=r"missing \['records_databases', 'studies_included'\]"):
        prisma(counts)
    with pytest.raises(InputError, match=r"missing \['studies_included'\]"):
        prisma(dict(DATABASES_ONLY, studies_included=None))
    with pytest.raises(InputError, match=r"records_databases must be known.*\['Embase'\]"):
        prisma(dict(SEED, records_databases={"PubMed": 50, "Embase": None}))
    with pytest.raises(InputError, match=r"counts must be a mapping"):
        prisma([1, 2, 3])


# ------------------------------------------------------------------ counts not reported


def test_seed_review_with_only_two_counts_draws_the_whole_template():
    fig = prisma(SEED)
    assert "Databases (n = 82)" in _box(fig, "records_identified")
    assert f"Registers {NOT_REPORTED}" in _box(fig, "records_identified")
    assert _box(fig, "studies_included") == (
        f"Studies included in review (n = 15) Reports of included studies {NOT_REPORTED}"
    )
    removed = _box(fig, "records_removed")
    for line in (
        "Duplicate records removed",
        "Records marked as ineligible by automation tools",
        "Records removed for other reasons",
    ):
        assert f"{line} {NOT_REPORTED}" in removed
    for key, title in (
        ("records_screened", "Records screened"),
        ("records_excluded", "Records excluded"),
        ("reports_sought", "Reports sought for retrieval"),
        ("reports_not_retrieved", "Reports not retrieved"),
        ("reports_assessed", "Reports assessed for eligibility"),
        ("reports_excluded", "Reports excluded"),
    ):
        assert _box(fig, key) == f"{title} {NOT_REPORTED}"
    drawn = " ".join(
        " ".join(t.split())
        for key in (
            "records_identified",
            "records_removed",
            "records_screened",
            "records_excluded",
            "reports_sought",
            "reports_not_retrieved",
            "reports_assessed",
            "reports_excluded",
            "studies_included",
        )
        for t in texts(fig, f"box:{key}")
    )
    assert "(n = 0)" not in drawn  # nothing unknown is shown as 0
    assert texts(fig, "header:1") == []  # no other-methods branch
    assert len(by_gid(fig, "arrow")) == 4 + 4
    assert overlapping_texts(fig) == []


def test_not_reported_is_never_wrapped_apart():
    fig = prisma(dict(SEED, other_reports_sought=None))  # narrow boxes of the 4-column layout
    whole = "(n\u00a0=\u00a0not\u00a0reported)"  # no-break spaces, as for counts
    for text in by_gid(fig, "box:records_removed") + by_gid(fig, "box:other_reports_excluded"):
        lines = text.get_text().split("\n")
        assert any(whole in line for line in lines)
        assert all(whole in line for line in lines if "reported" in line or "(n" in line)


def test_none_and_omitted_are_the_same():
    given = prisma(
        dict(SEED, records_screened=None, reports_excluded=None, duplicates_removed=None)
    )
    omitted = prisma(SEED)
    for key in ("records_screened", "reports_excluded", "records_removed"):
        assert _box(given, key) == _box(omitted, key)


def test_exclusion_reasons_may_be_not_reported():
    fig = prisma(_with(reports_excluded=None))
    assert _box(fig, "reports_excluded") == f"Reports excluded {NOT_REPORTED}"
    # reports included cannot be derived without the reports excluded
    assert _box(fig, "studies_included").endswith(f"Reports of included studies {NOT_REPORTED}")
    fig = prisma(_with(reports_excluded={"Not CRPS": 7, "Not an infusion": None}))
    excluded = _box(fig, "reports_excluded")
    assert "Not CRPS (n = 7)" in excluded and f"Not an infusion {NOT_REPORTED}" in excluded
    assert overlapping_texts(fig) == []


@pytest.mark.parametrize(
    ("changes", "message", "unknown"),
    [
        (
            {"records_screened": 60, "records_excluded": 90},
            r"records_excluded \(90\) exceeds records_screened \(60\)",
            "records_screened",
        ),
        (
            {"records_screened": 60, "records_excluded": 20, "reports_sought": 30},
            r"records_screened \(60\) minus records_excluded \(20\) = 40, but reports_sought is 30",
            "records_excluded",
        ),
        (
            {"reports_sought": 32, "reports_not_retrieved": 1, "reports_assessed": 30},
            r"reports_sought \(32\) minus reports_not_retrieved \(1\) = 31, but reports_assessed is "  # noqa: E501 (a message matched whole)
            r"30",
            "reports_sought",
        ),
        (
            {**NO_REGISTERS_NOR_OTHER_REMOVALS, "duplicates_removed": 20, "records_screened": 70},
            r"records identified \(82: .*\) minus records removed before screening \(20: .*\) = 62, "  # noqa: E501 (a message matched whole)
            r"but records_screened is 70",
            "records_registers",
        ),
        (
            {**NO_REGISTERS_NOR_OTHER_REMOVALS, "duplicates_removed": 90},
            r"records removed before screening \(90: .*\) exceed records identified \(82",
            "records_removed_other",
        ),
        (
            {"reports_assessed": 20, "reports_excluded": {"Not CRPS": 30}},
            r"reports_excluded \(30, all reasons\) exceeds reports_assessed \(20\)",
            "reports_assessed",
        ),
        (
            {"reports_assessed": 20, "reports_excluded": {"Not CRPS": 10}},
            r"studies_included \(15\) exceeds reports_included \(10\)",
            "reports_excluded",
        ),
        (
            {"reports_included": 12},
            r"studies_included \(15\) exceeds reports_included \(12\)",
            "reports_included",
        ),
        (
            {"reports_assessed": 30, "reports_excluded": 10, "reports_included": 18},
            r"reports_assessed minus reports_excluded = 20, but reports_included is 18",
            "reports_assessed",
        ),
        (
            {"other_reports_sought": 7, "other_reports_not_retrieved": 9},
            r"other_reports_not_retrieved \(9\) exceeds other_reports_sought \(7\)",
            "other_reports_not_retrieved",
        ),
    ],
)
def test_checks_need_every_count_they_involve(changes, message, unknown):
    """Each invariant is enforced when its counts are known and skipped when one is None."""
    with pytest.raises(InputError, match=message):
        prisma(dict(SEED, **changes))
    fig = prisma(dict(SEED, **dict(changes, **{unknown: None})))
    assert overlapping_texts(fig) == []


def test_a_reason_not_reported_leaves_the_total_unknown():
    with pytest.raises(InputError, match=r"reports_excluded \(40, all reasons\) exceeds"):
        prisma(dict(SEED, reports_assessed=31, reports_excluded={"a": 30, "b": 10}))
    fig = prisma(dict(SEED, reports_assessed=31, reports_excluded={"a": 30, "b": None}))
    assert f"b {NOT_REPORTED}" in _box(fig, "reports_excluded")
