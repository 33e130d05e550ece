"""The bundled review folders from the command line: ``metareview example`` lists and copies
them, ``metareview report --example NAME`` runs one, ``metareview seed`` finds its own (the
installed wheel is tested in tests/test_packaging.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from metareview.casestudies import example_folder, list_examples
from metareview.cli import app
from metareview.exceptions import InputError

RUNNER = CliRunner()
ROOT = Path(__file__).parents[2]
NAMES = ["bcg-vaccine", "ketamine-crps", "ketamine-crps-review", "stroke-length-of-stay"]


def test_example_lists_the_bundled_folders():
    result = RUNNER.invoke(app, ["example"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == NAMES
    assert list_examples() == NAMES


def test_example_copies_a_folder_to_edit(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = RUNNER.invoke(app, ["example", "bcg-vaccine"])
    assert result.exit_code == 0, result.output
    assert "copied bcg-vaccine to bcg-vaccine; run: metareview report bcg-vaccine" in result.output
    source = ROOT / "examples" / "bcg-vaccine"
    assert sorted(p.name for p in (tmp_path / "bcg-vaccine").iterdir()) == sorted(
        p.name for p in source.iterdir() if p.name != "out"
    )
    again = RUNNER.invoke(app, ["example", "bcg-vaccine"])
    assert again.exit_code == 2
    assert again.output.startswith("error: DEST 'bcg-vaccine' exists; give a new folder")


def test_unknown_example_names_the_known_ones(tmp_path):
    result = RUNNER.invoke(app, ["example", "ketamine", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: example must be one of {', '.join(NAMES)}; got")
    with pytest.raises(InputError, match="example must be one of bcg-vaccine, ketamine-crps,"):
        example_folder("ketamine")


@pytest.mark.parametrize("args", [[], ["examples/bcg-vaccine", "--example", "bcg-vaccine"]])
def test_report_needs_one_folder(args):
    result = RUNNER.invoke(app, ["report", *args])
    assert result.exit_code == 2
    assert result.output.startswith("error: give a review FOLDER or --example NAME, not both")


def test_report_on_a_bundled_example_writes_to_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = RUNNER.invoke(app, ["report", "--example", "bcg-vaccine"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bcg-vaccine-report" / "report.html").is_file()


def test_seed_runs_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no examples/ folder here
    result = RUNNER.invoke(app, ["seed"])
    assert result.exit_code == 0, result.output
    assert "68.8%" in result.output and "53.5% to 84.1%" in result.output
