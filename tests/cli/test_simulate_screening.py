"""`metareview simulate-screening`: exit codes, output lines, files written, and errors named
in the command line's own flags.

The toy set is separable by one word, so every run screens the 2 remaining relevant records
first: by hand, N = 18 and R = 2 after the 2 priors, n_95 = ceil(0.95 * 2) = 2 records, WSS@95 =
(18 - 2) / 18 - 0.05 = 83.9%, RRF@10 = both found within ceil(1.8) = 2 records = 100%, loss 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from metareview.cli import app
from metareview.review.ranking import MAX_TRAINING_EXCLUDED
from tests.review.conftest import TESTDATA

RUNNER = CliRunner()


def toy(tmp_path: Path) -> Path:
    path = tmp_path / "toy.csv"
    pd.DataFrame(
        {
            "title": ["ketamine pain trial"] * 3 + ["bird song"] * 17,
            "abstract": ["A ketamine trial."] * 3 + ["Birds sing."] * 16 + [None],
            "included": [1] * 3 + [0] * 17,
        }
    ).to_csv(path, index=False)
    return path


def simulate(*args: str):
    return RUNNER.invoke(app, ["simulate-screening", *args])


def test_writes_tables_and_the_recall_curve(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = simulate(
        str(toy(tmp_path)), "--label-column", "included", "--seeds", "2", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        "note: 1 of 20 records have no abstract; they are ranked on their title (and keywords) only.",  # noqa: E501
        "svm: 2 runs, 20 records, 3 relevant, 2 prior records per run; mean (min-max) over runs",
        "  WSS@95 83.9%   RRF@10 100.0%   loss 0.000",
    ]
    assert lines[3].startswith("  stop by hypergeometric (95% recall with 95% confidence): recall ")
    assert lines[4].startswith(
        "  stop by irrelevant in a row (50 irrelevant in a row, no guarantee)"
    )
    assert lines[5].startswith("  stop by knee (knee method, no guarantee)")
    assert lines[6] == (
        f"  wrote runs.csv, summary.csv, simulation.json, recall.png, recall.svg, recall.pdf to {out}"  # noqa: E501
    )
    runs = pd.read_csv(out / "runs.csv")
    assert runs["seed"].tolist() == [0, 1]
    assert runs["wss_95"].round(4).tolist() == [0.8389, 0.8389]  # (18 - 2) / 18 - 0.05
    settings = json.loads((out / "simulation.json").read_text())["settings"]
    assert (settings["classifier"], settings["training"]) == ("svm", "presumed_irrelevant")
    assert (out / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # ASReview's model, by name: recorded as training on the labelled records only
    args = ["--label-column", "included", "--seeds", "1", "--training", "elas_u4"]
    result = simulate(str(toy(tmp_path)), *args, "-o", str(tmp_path / "u4"))
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "u4" / "simulation.json").read_text())["settings"]
    assert settings["training"] == "labelled"


def test_several_classifiers_share_features_and_get_a_folder_each(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = simulate(
        str(toy(tmp_path)),
        "--label-column",
        "included",
        "--seeds",
        "1",
        "--classifier",
        "nb",
        "--classifier",
        "svm",
        "--batch-size",
        "2",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.output.splitlines() if not line.startswith(" ")][
        1:
    ] == ["nb", "svm"]
    for name in ("nb", "svm"):
        assert pd.read_csv(out / name / "runs.csv")["classifier"].tolist() == [name]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--label-column", "label"],
            "no label column 'label'; the columns are 'title', 'abstract', 'included'. Name the "
            "label column with --label-column COL.",
        ),
        (["--label-column", "included", "--seeds", "0"], "--seeds must be a positive number"),
        (
            ["--label-column", "included", "--classifier", "forest"],
            "--classifier must be one of",
        ),
        (
            ["--label-column", "included", "--title", "heading"],
            "records: no column 'heading'; the columns are 'title', 'abstract', 'included'. Name "
            "the text columns with --title COL, --abstract COL and --keywords COL.",
        ),
        (
            ["--label-column", "included", "--prior-included", "4"],
            "'included': 3 included records, fewer than the 4 prior inclusions asked for "
            "(--prior-included 4); a simulation needs inclusions to find.",
        ),
        (
            ["--label-column", "included", "--recall-target", "95"],
            "--recall-target must be strictly between 0 and 1 (e.g. 0.95); got 95.0.",
        ),
        (["--label-column", "included", "--batch-size", "0"], "--batch-size must be a positive"),
        (
            ["--label-column", "included", "--max-excluded", "-1"],
            "--max-excluded must be an integer >= 1; got -1.",
        ),
        (
            ["--label-column", "included", "--training", "all"],
            "--training must be one of presumed_irrelevant, labelled, elas_u4 (= labelled)",
        ),
    ],
)
def test_errors_name_the_flags(tmp_path: Path, args: list[str], message: str) -> None:
    result = simulate(str(toy(tmp_path)), *args, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1, result.output
    assert result.output.startswith("error: ")
    assert message in result.output
    assert not (tmp_path / "out").exists()  # nothing written before the input is checked


def test_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    labels = tmp_path / "labels.csv"
    labels.write_text("title,included\na,1\nb,yes\nc,0\n")
    out = tmp_path / "out"
    cases = {
        str(tmp_path / "missing.csv"): "missing.csv: no such file.",
        str(empty): "empty.csv: the file is empty; it needs a header line and one row per record.",
        str(labels): "labels.csv: column 'included' must hold 0 (excluded) or 1 (included) on "
        "every row; found record 2 ('yes') (records counted from 1 after the header).",
        str(tmp_path): "is a folder; give the data file.",
    }
    for path, message in cases.items():
        result = simulate(path, "--label-column", "included", "-o", str(out))
        assert result.exit_code == 2
        assert message in result.output, result.output
    out.write_text("a file")
    result = simulate(str(toy(tmp_path)), "--label-column", "included", "-o", str(out))
    assert result.exit_code == 2
    assert "-o: " in result.output and "is a file; give a folder." in result.output


def test_shared_demo_set(tmp_path: Path) -> None:
    path = TESTDATA / "screening" / "tiny_asreview_demo" / "demo_data.json"
    if not path.is_file():
        pytest.skip(f"shared screening data not found at {path} (set METAREVIEW_TESTDATA)")
    out = tmp_path / "demo"
    result = simulate(str(path), "--label-column", "label_included", "--seeds", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert (runs["n_records"] == 100).all() and (runs["n_relevant"] == 10).all()
    # the statistical rule keeps its promise on every run
    assert (runs["hypergeometric_recall"] >= 0.95).all()


@pytest.mark.parametrize(("flag", "cap"), [(None, MAX_TRAINING_EXCLUDED), ("5", 5), ("0", None)])
def test_the_training_set_cap_is_the_rankings(tmp_path: Path, flag: str | None, cap) -> None:
    # the default is the ranked queue's (ranking.MAX_TRAINING_EXCLUDED), which --help names
    # (the command module does not import the ranking); 0 lifts the cap
    help_text = " ".join(w for w in simulate("--help").output.split() if w not in "│╭╮╰╯─")
    assert f"default {MAX_TRAINING_EXCLUDED:,}, as the ranked queue" in help_text
    out = tmp_path / "out"
    extra = [] if flag is None else ["--max-excluded", flag]
    args = ["--label-column", "included", "--seeds", "1", "-o", str(out), *extra]
    result = simulate(str(toy(tmp_path)), *args)
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "simulation.json").read_text())["settings"]
    assert (settings["max_excluded"], settings["training_sample"]) == (cap, "random")
