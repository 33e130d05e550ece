"""The statistics commands: errors as one line naming the file, row, column or the command's
own flag (issue 21.5, 21.10, 21.13), table writers chosen by suffix, and the new verbs and
flags (issue 21.15): reference values from metafor (tests/fixtures/make_*.R)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from metareview.cli import app
from tests.conftest import load_fixture

RUNNER = CliRunner()
#: The printed numbers are rounded to 4 decimals; the fits agree with metafor to ~1e-8.
DIGITS = 4


def lines(result) -> list[str]:
    return result.output.splitlines()


def write(path: Path, frame: pd.DataFrame, **kwargs) -> Path:
    frame.to_csv(path, index=False, **kwargs)
    return path


def case(fixture: str, case_id: str) -> dict:
    return next(c for c in load_fixture(fixture)["cases"] if c["id"] == case_id)


@pytest.fixture
def bcg(tmp_path: Path) -> tuple[Path, dict]:
    """metafor's dat.bcg as log risk ratios, with its REML fit and predict(transf=exp)."""
    ref = case("metafor_rma", "bcg_RR_REML_z")
    path = write(
        tmp_path / "bcg.csv", pd.DataFrame({"study": ref["slab"], "yi": ref["yi"], "vi": ref["vi"]})
    )
    return path, ref


# -- issue 21.5: tracebacks -> one line ------------------------------------------------------
EMPTY_CSV_COMMANDS = [
    ["rma", "{csv}"],
    ["bias", "{csv}"],
    ["gosh", "{csv}", "-o", "{out}.csv"],
    ["permutest", "{csv}"],
    ["escalc", "PLO", "{csv}", "--col", "xi=x", "--col", "ni=n", "-o", "{out}.csv"],
    ["batch", "{csv}", "--by", "g", "-o", "{out}.csv"],
    ["forest", "{csv}", "-o", "{out}.png"],
    ["leave1out", "{csv}"],
]


@pytest.mark.parametrize("args", EMPTY_CSV_COMMANDS, ids=lambda a: a[0])
def test_an_empty_csv_is_one_line_not_a_traceback(tmp_path: Path, args: list[str]) -> None:
    csv = tmp_path / "empty.csv"
    csv.write_bytes(b"")
    argv = [a.format(csv=csv, out=tmp_path / "out") for a in args]
    result = RUNNER.invoke(app, argv)
    flag = "TABLE" if args[0] == "batch" else "CSV"
    assert result.exit_code == 2
    assert lines(result) == [
        f"error: {flag}: '{csv}' is empty; it needs a header line and one row per study."
    ]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["rma", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert lines(result) == [f"error: CSV: no file '{tmp_path / 'nope.csv'}'."]


@pytest.mark.parametrize("command", ["escalc", "gosh"])
def test_output_into_a_new_folder_is_created(tmp_path: Path, command: str, bcg) -> None:
    out = tmp_path / "new" / "folder" / "out.csv"
    if command == "escalc":
        src = write(tmp_path / "in.csv", pd.DataFrame({"x": [4, 10], "n": [20, 40]}))
        argv = ["escalc", "PLO", str(src), "--col", "xi=x", "--col", "ni=n", "-o", str(out)]
    else:
        argv = ["gosh", str(bcg[0]), "-o", str(out), "--subsets", "20", "--seed", "1"]
    result = RUNNER.invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_output_under_a_file_is_one_line(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", pd.DataFrame({"x": [4, 10], "n": [20, 40]}))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = RUNNER.invoke(
        app,
        [
            "escalc",
            "PLO",
            str(src),
            "--col",
            "xi=x",
            "--col",
            "ni=n",
            "-o",
            str(blocker / "out.csv"),
        ],
    )
    assert result.exit_code == 2
    assert lines(result)[0].startswith(f"error: -o: cannot create the folder '{blocker}'")


# -- issue 21.10: writers by suffix; one rule for cells that are not numbers ------------------
def test_batch_writes_the_format_its_suffix_names(tmp_path: Path) -> None:
    src = write(
        tmp_path / "b.csv",
        pd.DataFrame({"g": ["a", "a", "b", "b"], "yi": [0.1, 0.3, 0.2, 0.9], "vi": [0.04] * 4}),
    )
    for suffix, read in (
        (".tsv", lambda p: pd.read_csv(p, sep="\t")),
        (".parquet", pd.read_parquet),
    ):
        out = tmp_path / f"r{suffix}"
        result = RUNNER.invoke(
            app, ["batch", str(src), "--by", "g", "--method", "DL", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        # DL on (0.1, 0.3) and (0.2, 0.9), equal variances: the means 0.2 and 0.55
        assert read(out)["estimate"].round(6).tolist() == [0.2, 0.55]
    xlsx = RUNNER.invoke(app, ["batch", str(src), "--by", "g", "-o", str(tmp_path / "r.xlsx")])
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        assert xlsx.exit_code == 2
        assert lines(xlsx) == [
            "error: -o: writing .xlsx needs openpyxl (pip install "
            "openpyxl); or write .csv, .tsv or .parquet."
        ]
        assert not (tmp_path / "r.xlsx").exists()
    else:  # pragma: no cover - openpyxl is not a dependency
        assert xlsx.exit_code == 0
    odd = RUNNER.invoke(app, ["batch", str(src), "--by", "g", "-o", str(tmp_path / "r.json")])
    assert odd.exit_code == 2
    assert lines(odd) == [
        f"error: -o must end in .csv, .tsv, .parquet or .xlsx; got '{tmp_path / 'r.json'}'."
    ]


def test_a_cell_that_is_not_a_number_stops_rma_and_batch_alike(tmp_path: Path) -> None:
    src = write(
        tmp_path / "b.csv",
        pd.DataFrame(
            {"g": ["a", "a", "b", "b"], "yi": ["0.1", "abc", "0.2", "0.9"], "vi": [0.04] * 4}
        ),
    )
    expected = [
        f"error: {src}, row 3, column 'yi': 'abc' is not a number. Correct the cell, "
        "or leave it empty for a missing value (see --missing)."
    ]
    rma = RUNNER.invoke(app, ["rma", str(src)])
    batch = RUNNER.invoke(app, ["batch", str(src), "--by", "g", "-o", str(tmp_path / "o.csv")])
    assert (rma.exit_code, batch.exit_code) == (2, 2)
    assert lines(rma) == lines(batch) == expected


def test_an_empty_cell_stops_both_unless_missing_omit(tmp_path: Path) -> None:
    src = write(
        tmp_path / "b.csv",
        pd.DataFrame(
            {"g": ["a", "a", "a", "b", "b"], "yi": [0.1, None, 0.3, 0.2, 0.9], "vi": [0.04] * 5}
        ),
    )
    expected = [
        f"error: {src}, row 3, column 'yi': empty cell. Fill it, or pass "
        "--missing omit to leave such rows out."
    ]
    rma = RUNNER.invoke(app, ["rma", str(src)])
    out = tmp_path / "o.csv"
    batch = RUNNER.invoke(app, ["batch", str(src), "--by", "g", "-o", str(out)])
    assert (rma.exit_code, batch.exit_code) == (2, 2)
    assert lines(rma) == lines(batch) == expected
    batch = RUNNER.invoke(
        app, ["batch", str(src), "--by", "g", "-o", str(out), "--missing", "omit"]
    )
    assert batch.exit_code == 0, batch.output
    assert "1 rows with missing or non-numeric yi/vi left out" in batch.output
    omitted = RUNNER.invoke(app, ["rma", str(src), "--missing", "omit", "--json"])
    assert json.loads(omitted.output[omitted.output.index("{") :])["k"] == 4


# -- issue 21.13: advice in the command line's words ------------------------------------------
def test_permutest_advice_names_its_flags(tmp_path: Path) -> None:
    rng_rows = pd.DataFrame({"yi": [0.1 * i for i in range(25)], "vi": [0.05] * 25})
    src = write(tmp_path / "p.csv", rng_rows)
    result = RUNNER.invoke(app, ["permutest", str(src), "--exact"])
    assert result.exit_code == 2
    assert lines(result) == [
        "error: an exact permutation test needs 33,554,432 fits; use "
        "--no-exact with --iter N random permutations."
    ]


# -- issue 21.15: new verbs and flags --------------------------------------------------------
def test_rma_transf_exp_matches_metafor(bcg) -> None:
    path, ref = bcg
    pred = next(p for p in ref["predict"] if p["transf"] == "exp")
    result = RUNNER.invoke(app, ["rma", str(path), "--slab", "study", "--transf", "exp"])
    assert result.exit_code == 0, result.output
    f = f"{{:.{DIGITS}f}}"
    assert lines(result)[-1] == (
        f"Back-transformed (exp): {f.format(pred['pred'])}, 95% CI {f.format(pred['ci_lb'])} "
        f"to {f.format(pred['ci_ub'])}, prediction interval {f.format(pred['pi_lb'])} to "
        f"{f.format(pred['pi_ub'])}"
    )
    as_json = json.loads(RUNNER.invoke(app, ["rma", str(path), "--transf", "exp", "--json"]).output)
    # measured: 3e-9 relative (REML convergence on both sides)
    assert as_json["predict"]["pred"] == pytest.approx(pred["pred"], rel=1e-7)


def test_rma_transf_ipft_hm_needs_ni_and_matches_metafor(tmp_path: Path) -> None:
    ref = case("metafor_casestudy", "immediate_REML_PFT_z")
    path = write(
        tmp_path / "pft.csv", pd.DataFrame({"yi": ref["yi"], "vi": ref["vi"], "n": ref["ni"]})
    )
    refused = RUNNER.invoke(app, ["rma", str(path), "--transf", "ipft.hm"])
    assert refused.exit_code == 2
    assert lines(refused) == [
        "error: --transf ipft.hm back-transforms with the harmonic mean "
        "of the sample sizes: pass --ni COLUMN."
    ]
    result = RUNNER.invoke(app, ["rma", str(path), "--transf", "ipft.hm", "--ni", "n", "--json"])
    assert result.exit_code == 0, result.output
    pred = json.loads(result.output)["predict"]
    # measured: 2e-9 absolute (REML convergence)
    assert pred["pred"] == pytest.approx(ref["estimate"], abs=1e-7)
    assert pred["ci_lb"] == pytest.approx(ref["ci_lb"], abs=1e-7)
    bad = RUNNER.invoke(app, ["rma", str(path), "--transf", "log"])
    assert lines(bad) == [
        "error: --transf must be one of exp, expit, ilogit, ipft.hm, iarcsin, ztor; got 'log'."
    ]


def test_bias_test_knha_gives_metafors_t_test(tmp_path: Path) -> None:
    ref = case("metafor_cli", "hackshaw1998_REML_knha_regtest")
    path = write(tmp_path / "h.csv", pd.DataFrame({"yi": ref["yi"], "vi": ref["vi"]}))
    result = RUNNER.invoke(app, ["bias", str(path), "--test", "knha"])
    assert result.exit_code == 0, result.output
    # metafor: regtest(rma(yi, vi, test = "knha")) is a t test on dfs degrees of freedom
    assert lines(result)[1] == (
        f"Test for funnel plot asymmetry: t(df = {ref['dfs']}) = "
        f"{ref['zval']:.4f}, p = {ref['pval']:.4f}"
    )


def test_european_csv_with_sep_and_decimal(tmp_path: Path, bcg) -> None:
    path, _ = bcg
    frame = pd.read_csv(path)
    euro = tmp_path / "euro.csv"
    frame.to_csv(euro, sep=";", decimal=",", index=False)
    plain = json.loads(RUNNER.invoke(app, ["rma", str(path), "--json"]).output)
    result = RUNNER.invoke(app, ["rma", str(euro), "--sep", ";", "--decimal", ",", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["estimate"] == plain["estimate"]
    wrong = RUNNER.invoke(app, ["rma", str(euro)])
    assert wrong.exit_code == 2 and lines(wrong)[0].startswith("error: --yi yi is not a column")


def test_leave1out_and_influence_match_metafor(tmp_path: Path) -> None:
    ref = case("metafor_bias", "hackshaw1998_REML")
    path = write(
        tmp_path / "h.csv", pd.DataFrame({"study": ref["slab"], "yi": ref["yi"], "vi": ref["vi"]})
    )
    out = tmp_path / "l1o.csv"
    result = RUNNER.invoke(app, ["leave1out", str(path), "--slab", "study", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    # measured: 4e-9 relative (REML refits on both sides)
    assert table["estimate"].tolist() == pytest.approx(ref["leave1out"]["estimate"], rel=1e-6)
    assert lines(result)[-1] == f"wrote {out}"
    result = RUNNER.invoke(
        app, ["influence", str(path), "--slab", "study", "-o", str(tmp_path / "inf.parquet")]
    )
    assert result.exit_code == 0, result.output
    inf = pd.read_parquet(tmp_path / "inf.parquet")
    assert inf["rstudent"].tolist() == pytest.approx(ref["influence"]["rstudent"], rel=1e-6)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_forest_and_funnel_write_figures(tmp_path: Path, bcg, suffix: str) -> None:
    path, _ = bcg
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix]
    for verb, extra in (
        ("forest", ["--slab", "study", "--transf", "exp"]),
        ("funnel", ["--trimfill"]),
    ):
        out = tmp_path / f"{verb}{suffix}"
        result = RUNNER.invoke(app, [verb, str(path), "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        assert lines(result) == [f"wrote {out}"]
        assert out.read_bytes()[: len(magic)] == magic
    bad = RUNNER.invoke(app, ["forest", str(path), "-o", str(tmp_path / "f.jpg")])
    assert bad.exit_code == 2
    assert lines(bad) == [
        "error: -o must end in .png, .svg or .pdf (or have no suffix for all "
        f"three); got '{tmp_path / 'f.jpg'}'."
    ]


def test_rows_of_a_parquet_table_are_counted_from_1(tmp_path: Path) -> None:
    src = tmp_path / "b.parquet"
    pd.DataFrame(
        {"g": ["a", "a", "b"], "yi": [0.1, None, 0.2], "vi": [0.04] * 3}, index=[10, 11, 12]
    ).to_parquet(src)
    result = RUNNER.invoke(app, ["batch", str(src), "--by", "g", "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert lines(result) == [
        f"error: {src}, row 2, column 'yi': empty cell. Fill it, or pass "
        "--missing omit to leave such rows out."
    ]
