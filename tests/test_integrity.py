"""Integrity checks on the seed review's Table 1 (the findings the case-study issue lists) and
on small constructed tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metareview import integrity as chk
from metareview.casestudies.ketamine_crps import read_table1

EXAMPLE = Path(__file__).parents[1] / "examples" / "ketamine-crps"
IMMEDIATE = "Immediate response (% relief)"
FOLLOW_UP = "Follow-up effectiveness (% relief in 1-3 month)"
NONE = "None effect (% none relief)"


@pytest.fixture(scope="module")
def table1():
    return read_table1(EXAMPLE)


def _where(flags):
    return {(f.study, f.cell) for f in flags}


def test_grim_finds_93_5_percent_of_20(table1):
    flags = chk.check_grim(table1, IMMEDIATE, "N")
    assert ("Kiefer, R et al (2008a)", "93.5") in _where(flags)
    # 62.5% of 16 = 10 people and 26.3% of 19 = 5 people are possible
    assert not {"62.5", "26.3"} & {f.cell for f in flags}
    assert all(f.severity == "error" for f in flags)


def test_scale_mismatch_finds_the_100_point_scales(table1):
    flags = chk.check_scale(table1, "Baseline (pain score)", 0, 10, "0-10 pain scale")
    assert _where(flags) == {
        ("Kiefer, R et al (2008b)", "85.1±1.9"),
        ("Koffler, S et al (2007)", "54.44±9.77"),
    }


def test_fraction_typed_as_percentage(table1):
    flags = chk.check_fraction_as_percent(table1, FOLLOW_UP)
    assert _where(flags) == {("Goldberg, M et al (2010)", "0.6")}
    assert "60%?" in flags[0].message


def test_responders_plus_non_responders_over_100(table1):
    flags = chk.check_complements(table1, IMMEDIATE, NONE)
    # 104%; 62 + 38.5 and 83.3 + 17.7 are within a point of 100 (rounding)
    assert _where(flags) == {("Patil, S et al (2012)", "77 + 27")}


def test_two_counts_in_n(table1):
    flags = chk.check_counts(table1, "N", ["N (man)"])
    assert _where(flags) == {("Schwartzman, R et al (2009)", "19(26)")}


def test_sd_that_looks_like_a_standard_error(table1):
    flags = chk.check_sd_looks_like_se(table1, "Baseline (pain score)", "N", scale_range=10)
    assert ("Dahan, A et al (2011)", "7.29±0.16") in _where(flags)
    dahan = next(f for f in flags if f.cell == "7.29±0.16")
    assert "0.16 x sqrt(30) = 0.88" in dahan.message


def test_constructed_table():
    table = pd.DataFrame(
        {
            "N": ["20", "10", "12(15)"],
            "Men": ["25", "4", "3"],
            "Resp": ["50", "33", "0.25"],
            "Non": ["50", "70", "10"],
            "Pain": ["7.1±0.1", "45±12", "6.5±2.0"],
        },
        index=["A", "B", "C"],
    )
    assert _where(chk.check_grim(table, "Resp", "N")) == {("B", "33"), ("C", "0.25")}
    assert _where(chk.check_fraction_as_percent(table, "Resp")) == {("C", "0.25")}
    assert _where(chk.check_complements(table, "Resp", "Non")) == {("B", "33 + 70")}
    counts = chk.check_counts(table, "N", ["Men"])
    assert {(f.study, f.check) for f in counts} == {
        ("A", "subgroup_exceeds_n"),
        ("C", "n_two_counts"),
    }
    assert _where(chk.check_scale(table, "Pain", 0, 10, "NRS")) == {("B", "45±12")}
    assert _where(chk.check_sd_looks_like_se(table, "Pain", "N", 10)) == {("A", "7.1±0.1")}
    frame = chk.flags_frame(counts)
    assert list(frame.columns) == ["study", "column", "cell", "check", "message", "severity"]


def test_grim_skips_a_sample_size_of_zero():
    # issue 21.4: N = 0 ended in ZeroDivisionError
    table = pd.DataFrame({"N": ["0", "20"], "Resp": ["50", "93.5"]}, index=["A", "B"])
    assert _where(chk.check_grim(table, "Resp", "N")) == {("B", "93.5")}
    assert not chk.grim_consistent(50, 0, 0)
