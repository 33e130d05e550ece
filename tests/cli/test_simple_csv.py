"""The pandas-free reader of small CSVs behind ``rma``, ``bias`` and the other fitting
commands (issue 21.19, start-up time): whatever it reads, pandas reads the same; a file it
cannot promise that for is left to pandas (``read_table``), so results and messages stay."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from metareview.cli import _common, app
from metareview.cli._common import NA_CELLS, read_simple_csv, read_table

RUNNER = CliRunner()

#: how people and programs write numbers (formatted below with the file's decimal mark)
number = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    st.floats(-100, 100, allow_nan=False).map(lambda x: f"{x:.4f}"),
    st.floats(-1, 1, allow_nan=False).map(lambda x: f"{x:.3e}"),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["+1.5", ".5", "-.25", "1.", "1E3", "2e-4", "007", "0.10"]),
)
#: cells that are not plain numbers: labels, pandas' missing values, and near-numbers
other = st.one_of(
    st.sampled_from(
        [
            *("Smith 2001", "Lee, 2003", 'say "hi"', "TRUE", "false", "inf", "-Infinity"),
            *("NA", "", " ", "nan", "None", "1_000", "1.5e", "-", "1,5", " 0.5", "0.5 ", "é"),
            "x\ny",
        ]
    ),
    st.text(max_size=6),
)
label = st.sampled_from(["Smith 2001", "Lee, 2003", "Roe et al.", "007", "1.50", "Müller"])
#: mostly clean cells, so that most files are read without pandas and compared (about 60% of
#: 400 examples in one count; the rest check that it declines)
numeric_cell = st.integers(0, 29).flatmap(lambda i: other if i == 0 else number)
label_cell = st.integers(0, 29).flatmap(lambda i: other if i == 0 else label)


def _write(path: Path, rows: list[list[str]], sep: str, quoting: int, lineterminator: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=sep, quoting=quoting, lineterminator=lineterminator)
        writer.writerows(rows)


def _same_as_pandas(path: Path, sep: str, decimal: str) -> bool:
    """Whether read_simple_csv read ``path`` (True) or left it to pandas (False); when it
    read it, every column equals what read_table (pandas) reads."""
    simple = read_simple_csv(path, numeric=["yi", "vi"], text=["study"], sep=sep, decimal=decimal)
    if simple is None:
        return False
    data = read_table(path, sep=sep, decimal=decimal, numeric=["yi", "vi"])
    for name in ("yi", "vi"):
        assert data[name].dtype.kind in "iuf", (name, data[name].tolist())
        assert simple[name] == data[name].astype(float).tolist()  # exactly, bit for bit
    if "study" in data.columns:
        assert simple["study"] == data["study"].tolist()
    else:
        assert "study" not in simple
    return True


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.tuples(numeric_cell, numeric_cell, label_cell), min_size=1, max_size=6),
    dialect=st.sampled_from([(",", "."), (";", ","), ("\t", ".")]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    lineterminator=st.sampled_from(["\n", "\r\n"]),
    numbers_with_the_files_mark=st.booleans(),
)
def test_whatever_it_reads_pandas_reads_the_same(
    tmp_path_factory, rows, dialect, quoting, lineterminator, numbers_with_the_files_mark
) -> None:
    sep, decimal = dialect
    if numbers_with_the_files_mark:
        rows = [tuple(c.replace(".", decimal) for c in row) for row in rows]
    path = tmp_path_factory.mktemp("csv") / "effects.csv"
    _write(path, [["yi", "vi", "study"], *map(list, rows)], sep, quoting, lineterminator)
    _same_as_pandas(path, sep, decimal)


CLEAN = [
    ("plain.csv", "yi,vi\n0.1,0.04\n0.3,0.02\n-0.2,0.05\n", ",", "."),
    ("labels.csv", 'study,yi,vi\n"Smith, 2001",.1,4e-2\nLee,+0.3,0.02\n', ",", "."),
    ("bom-crlf.csv", "\ufeffstudy,yi,vi\r\nA,0.1,0.04\r\n\r\nB,0.3,0.02\r\n", ",", "."),
    ("european.csv", "study;yi;vi\nA;0,1;0,04\nB;1.;0,02\n".replace("1.", "1,"), ";", ","),
    ("tabs.tsv", "study\tyi\tvi\nA\t0.1\t0.04\nB\t0.3\t0.02\n", ",", "."),
    ("tabs.txt", "study\tyi\tvi\nA\t0.1\t0.04\nB\t0.3\t0.02\n", "\\t", "."),
    ("numbers-as-labels.csv", "study,yi,vi\n007,0.1,0.04\nLee,0.3,0.02\n", ",", "."),
]


@pytest.mark.parametrize(("name", "text", "sep", "decimal"), CLEAN, ids=[c[0] for c in CLEAN])
def test_a_clean_file_is_read_without_pandas(tmp_path, name, text, sep, decimal) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert _same_as_pandas(path, sep, decimal)


LEFT_TO_PANDAS = [
    ("empty cell", "study,yi,vi\nA,0.1,\nB,0.3,0.02\n"),
    ("NA cell", "study,yi,vi\nA,NA,0.04\nB,0.3,0.02\n"),
    ("a word", "study,yi,vi\nA,abc,0.04\nB,0.3,0.02\n"),
    ("numeric labels", "study,yi,vi\n1.50,0.1,0.04\n2,0.3,0.02\n"),
    ("a missing label", "study,yi,vi\nA,0.1,0.04\n,0.3,0.02\n"),
    ("an extra field", "study,yi,vi\nA,0.1,0.04,9\nB,0.3,0.02\n"),
    ("a short row", "study,yi,vi\nA,0.1\nB,0.3,0.02\n"),
    ("a column missing", "study,yi\nA,0.1\nB,0.3\n"),
    ("a repeated name", "yi,vi,vi\n0.1,0.04,1\n0.3,0.02,2\n"),
    ("header only", "study,yi,vi\n"),
]


@pytest.mark.parametrize(("case", "text"), LEFT_TO_PANDAS, ids=[c[0] for c in LEFT_TO_PANDAS])
def test_anything_else_is_left_to_pandas(tmp_path, case, text) -> None:
    path = tmp_path / "effects.csv"
    path.write_text(text, encoding="utf-8")
    assert read_simple_csv(path, numeric=["yi", "vi"], text=["study"]) is None


def test_files_it_does_not_read(tmp_path) -> None:
    assert read_simple_csv(tmp_path / "absent.csv", numeric=["yi"]) is None
    (tmp_path / "empty.csv").write_bytes(b"")
    assert read_simple_csv(tmp_path / "empty.csv", numeric=["yi"]) is None
    (tmp_path / "latin1.csv").write_bytes("study,yi\nM\xfcller,0.1\n".encode("latin-1"))
    assert read_simple_csv(tmp_path / "latin1.csv", numeric=["yi"], text=["study"]) is None
    big = tmp_path / "big.csv"
    big.write_text("yi,vi\n" + "0.1,0.04\n" * (_common.SIMPLE_CSV_BYTES // 9 + 1))
    assert read_simple_csv(big, numeric=["yi", "vi"]) is None


def test_its_missing_values_are_pandas_defaults() -> None:
    from pandas._libs.parsers import STR_NA_VALUES

    assert set(STR_NA_VALUES) <= NA_CELLS


EFFECTS = (
    'study,yi,vi,n\n"Smith, 2001",0.12,0.04,20\nLee,0.31,0.02,35\nRoe,-0.2,0.05,12\n'
    "Doe,0.52,0.03,40\nKim,0.05,0.01,80\n"
)
COMMANDS = [
    ("rma", "{csv}", "--slab", "study", "--json"),
    ("rma", "{csv}", "--slab", "study", "--method", "DL", "--test", "knha"),
    ("rma", "{csv}", "--transf", "exp", "--level", "90"),
    ("rma", "{csv}", "--transf", "ipft.hm", "--ni", "n", "--json"),
    ("rma", "{csv}", "--slab", "absent"),
    ("rma", "{csv}", "--vi", "absent"),
    ("rma", "{csv}", "--missing", "drop"),
    ("bias", "{csv}", "--slab", "study"),
    ("leave1out", "{csv}", "--slab", "study"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_commands_say_the_same_with_or_without_pandas(tmp_path, monkeypatch, args) -> None:
    """Each command's output (results, warnings, errors) is the same as when the file is
    read by pandas (``read_simple_csv`` turned off)."""
    path = tmp_path / "effects.csv"
    path.write_text(EFFECTS, encoding="utf-8")
    argv = [a.format(csv=path) for a in args]
    fast = RUNNER.invoke(app, argv)
    monkeypatch.setattr("metareview.cli.stats.read_simple_csv", lambda *a, **k: None)
    slow = RUNNER.invoke(app, argv)
    assert (fast.exit_code, fast.output) == (slow.exit_code, slow.output)
    if "--json" in argv:
        assert json.loads(fast.output)["estimate"] == json.loads(slow.output)["estimate"]
