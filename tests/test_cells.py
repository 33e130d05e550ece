"""Cell parsing on every cell of the seed review's Table 1 and on constructed cells."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from metareview.cells import parse_cell

TABLE1 = Path(__file__).parents[1] / "examples" / "ketamine-crps" / "table1.csv"


@pytest.mark.parametrize(
    ("raw", "kind", "value", "sd", "unit"),
    [
        ("23.4±9.6mg/hr", "mean_sd", 23.4, 9.6, "mg/hr"),
        ("22.2±2.0 mg/hr/70kg", "mean_sd", 22.2, 2.0, "mg/hr/70kg"),
        ("28.1±47 months", "mean_sd", 28.1, 47.0, "months"),
        ("0.35mg/kg/hr", "number", 0.35, None, "mg/kg/hr"),
        ("0.6", "number", 0.6, None, None),
        ("19(26)", "count_paren", 19.0, None, None),
        ("-", "missing", None, None, None),
        ("Effective", "text", None, None, None),
        (">1 year", "bound", 1.0, None, "year"),
    ],
)
def test_parse_examples(raw, kind, value, sd, unit):
    cell = parse_cell(raw)
    assert (cell.kind, cell.value, cell.sd, cell.unit) == (kind, value, sd, unit)
    assert cell.raw == raw


def test_durations_convert_to_months():
    assert parse_cell("8.4±6.1 years").in_months().sd == pytest.approx(73.2)
    assert parse_cell("5.62 years (6 months unrelenting pain)").in_months().value == pytest.approx(
        67.44
    )
    assert parse_cell("9.6±9.9 months").in_months().value == 9.6
    assert parse_cell("4.7").in_months().value == 4.7  # no unit: unchanged


def test_every_table1_cell_parses_and_keeps_its_source():
    with open(TABLE1, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15
    for row in rows:
        for column, raw in row.items():
            cell = parse_cell(raw)
            assert cell.raw == raw
            if column in ("Year", "N (man)", "Duration of interventions (day)"):
                assert cell.kind in ("number", "missing"), (column, raw)
    responses = [parse_cell(r["Immediate response (% relief)"]) for r in rows]
    assert sum(c.is_numeric for c in responses) == 9
