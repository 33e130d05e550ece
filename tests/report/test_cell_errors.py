"""Cells the report cannot read (issue 21, items 4, 7 and 8): an error naming the file, row,
column, the cell as printed and what was expected -- or, when the protocol allows it, a finding
at the top of the report; never a traceback and never a study silently left out."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metareview import InputError
from metareview.cli import app
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol

EXAMPLE = Path(__file__).parents[2] / "examples" / "ketamine-crps"
IMMEDIATE = "Immediate response (% relief)"


def _folder(tmp_path: Path, edits: dict[tuple[int, str], str], allow: bool = False) -> Path:
    """The seed's folder with cells replaced ((0-based data row, column) -> text)."""
    folder = tmp_path / "review"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("out"))
    path = folder / "table1.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for (row, column), text in edits.items():
        rows[row][column] = text
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if not allow:
        protocol = folder / "protocol.toml"
        protocol.write_text(
            protocol.read_text(encoding="utf-8").replace('unreadable_cells = "report"', ""),
            encoding="utf-8",
        )
        # the seed's own unreadable cell ("Effective") would stop first: make it missing
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
        path.write_text(text.replace(",Effective,", ",-,"), encoding="utf-8")
    return folder


def test_n_of_zero_is_named_not_a_zero_division(tmp_path):
    # 21.4: ZeroDivisionError in integrity.py
    folder = _folder(tmp_path, {(0, "N"): "0"})
    with pytest.raises(
        InputError,
        match=r"table1.csv, row 2, column 'N' \(study 'Correl, G et "
        r"al \(2004\)'\): cell '0' \(less than 1\); expected a "
        r"whole number of people of at least 1",
    ):
        load_protocol(folder)


def test_text_in_a_percent_column_is_an_error_naming_file_row_column(tmp_path):
    # 21.7: 'abc' used to leave the study out silently (7 studies pooled instead of 8)
    folder = _folder(tmp_path, {(1, IMMEDIATE): "abc"})
    with pytest.raises(InputError) as info:
        build_report(folder, tmp_path / "out")
    message = str(info.value)
    assert "table1.csv, row 3, column 'Immediate response (% relief)'" in message
    assert "cell 'abc' (no number in it); expected a percentage between 0 and 100" in message
    assert "missing='omit'" not in message


def test_text_in_n_names_n_not_yi_vi(tmp_path):
    # 21.8: 'abc' in N said "yi/vi missing ... pass missing='omit'"
    folder = _folder(tmp_path, {(2, "N"): "abc"})
    with pytest.raises(InputError, match=r"row 4, column 'N' .*cell 'abc' \(no number in it\)"):
        load_protocol(folder)


def test_a_percentage_above_100_says_so(tmp_path):
    # 21.8: 150 in a % column said "Percentages must be divided by 100"
    folder = _folder(tmp_path, {(0, IMMEDIATE): "150"})
    with pytest.raises(InputError) as info:
        load_protocol(folder)
    message = str(info.value)
    assert "cell '150' (outside 0-100); expected a percentage between 0 and 100" in message
    assert "divided by 100" not in message


def test_protocol_may_allow_unreadable_cells_as_findings(tmp_path):
    folder = _folder(tmp_path, {(1, IMMEDIATE): "abc"}, allow=True)
    out = build_report(folder, tmp_path / "out")
    assert any(
        "row 3, column 'Immediate response (% relief)'" in f and "'abc'" in f for f in out.findings
    )
    assert any("'Effective'" in f for f in out.findings)  # the seed's own word cell
    html = out.html.read_text(encoding="utf-8")
    assert html.index("could not be read") < html.index("<h2")  # at the top
    result = CliRunner().invoke(app, ["report", str(folder), "-o", str(tmp_path / "o2")])
    assert result.exit_code == 0, result.output
    # the terminal says it too, before the comparison table, each finding as written
    printed = " ".join(result.output.split())
    assert printed.index("could not be read and were left out") < printed.index("Paper vs")
    for finding in out.findings:
        assert f"- {' '.join(finding.split())}" in printed


def test_unknown_unreadable_cells_value_names_the_key(tmp_path):
    folder = _folder(tmp_path, {})
    protocol = folder / "protocol.toml"
    protocol.write_text(
        protocol.read_text(encoding="utf-8").replace(
            'table = "table1.csv"', 'table = "table1.csv"\nunreadable_cells = "skip"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"protocol.toml: \[review\] unreadable_cells = 'skip'"):
        load_protocol(folder)


def test_methods_text_claims_only_what_the_tests_check(tmp_path):
    # issue 12: "tested to 1e-6" was not what the tests used
    out = build_report(EXAMPLE, tmp_path / "out")
    html = " ".join(out.html.read_text(encoding="utf-8").split())
    assert "1e-6" not in html
    assert "at the tolerance written beside each test" in html


def test_more_events_than_people_names_both_columns(tmp_path):
    (tmp_path / "protocol.toml").write_text(
        '[review]\ntitle = "T"\ntable = "t.csv"\n\n[columns]\nstudy = "Study"\n\n'
        '[outcomes.death]\nlabel = "Death"\ndata = "2x2"\nai = "Dead, treated"\n'
        'n1i = "N, treated"\nci = "Dead, control"\nn2i = "N, control"\n',
        encoding="utf-8",
    )
    (tmp_path / "t.csv").write_text(
        'Study,"Dead, treated","N, treated","Dead, control","N, control"\n'
        "A,3,40,5,41\nB,30,20,6,22\n",
        encoding="utf-8",
    )
    with pytest.raises(
        InputError,
        match=r"t.csv, row 3, column 'Dead, treated' \(study 'B'\): "
        r"cell '30' \(more events than the 20 in column "
        r"'N, treated'\); expected at most the group size",
    ):
        load_protocol(tmp_path)
