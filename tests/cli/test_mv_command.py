"""``metareview rma-mv``: fits agree with metafor (tests/fixtures/make_mv_fixtures.R and
make_mv_struct_fixtures.R), errors are one line naming the file, column or flag, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from metareview.cli import app
from tests.conftest import load_fixture

RUNNER = CliRunner()
# the fits agree with metafor to ~1e-6 (tests/stats/test_mv_*); JSON prints full precision
RTOL = 1e-5


@pytest.fixture
def assink(tmp_path: Path) -> tuple[Path, dict]:
    case = load_fixture("metafor_mv")["cases"]["assink_mv"]
    path = tmp_path / "a16.csv"
    pd.DataFrame(
        {"study": case["study"], "esid": case["esid"], "yi": case["yi"], "vi": case["vi"]}
    ).to_csv(path, index=False)
    return path, case


def test_rma_mv_json_matches_metafor(assink):
    path, case = assink
    result = RUNNER.invoke(
        app, ["rma-mv", str(path), "--random", "~ 1 | study/esid", "--cluster", "study", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    ref = case["fit"]
    np.testing.assert_allclose(out["sigma2"], ref["sigma2"], rtol=RTOL)
    np.testing.assert_allclose(out["estimate"], ref["beta"], rtol=RTOL)
    np.testing.assert_allclose(out["robust"]["se"], case["robust"]["CR2"]["se"], rtol=RTOL)


def test_rma_mv_struct_text(tmp_path):
    case = load_fixture("metafor_mv_struct")["cases"]["konst_CS"]
    path = tmp_path / "k11.csv"
    pd.DataFrame(
        {"district": case["district"], "school": case["school"], "yi": case["yi"], "vi": case["V"]}
    ).to_csv(path, index=False)
    result = RUNNER.invoke(
        app, ["rma-mv", str(path), "--random", "~ school | district", "--struct", "CS"]
    )
    assert result.exit_code == 0, result.output
    assert "struct: CS" in result.output
    tau2_line = next(line for line in result.output.splitlines() if line.startswith("tau^2"))
    assert tau2_line.split()[1] == f"{case['fit']['tau2'][0]:.4f}"
    assert f"rho   {case['fit']['rho'][0]:.4f}" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--random", "~ 1 | studi/esid"], "error: --random studi: no such column in"),
        (["--random", "~ esid | study", "--struct", "XX"], "error: --struct must be one of CS"),
        (["--random", "~ 1 | study", "--method", "DL"], "error: --method must be one of REML, ML"),
        (["--random", "~ 1 | study", "--mods", "age"], "error: --mods age: no such column"),
        (["--random", "~ 1 | study", "--rho", "0.5"], "error: --rho needs --within COLUMN"),
    ],
)
def test_rma_mv_errors_in_cli_words(assink, args, message):
    path, _ = assink
    result = RUNNER.invoke(app, ["rma-mv", str(path), *args])
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert "Traceback" not in result.output


def test_rma_mv_empty_cell_names_line(assink, tmp_path):
    path, _ = assink
    frame = pd.read_csv(path)
    frame.loc[4, "yi"] = None
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    result = RUNNER.invoke(app, ["rma-mv", str(bad), "--random", "~ 1 | study"])
    assert result.exit_code == 2
    assert "column 'yi' is empty at line(s) 6" in result.output


@pytest.fixture
def senn(tmp_path: Path) -> tuple[Path, dict]:
    fix = load_fixture("metafor_nma")
    d = fix["data"]
    frame = pd.DataFrame(
        {
            "studlab": d["studlab"],
            "treat1": d["treat1"],
            "treat2": d["treat2"],
            "yi": d["yi"],
            "vi": d["vi"],
        }
    )
    # netmeta's format: the three-arm study gives its third comparison too
    V = np.asarray(d["V"])
    study = frame["studlab"].to_numpy()
    i, j = next(np.flatnonzero(study == s) for s in dict.fromkeys(study) if (study == s).sum() > 1)
    extra = {
        "studlab": study[i],
        "treat1": frame.loc[i, "treat1"],
        "treat2": frame.loc[j, "treat1"],
        "yi": frame.loc[i, "yi"] - frame.loc[j, "yi"],
        "vi": V[i, i] + V[j, j] - 2 * V[i, j],
    }
    path = tmp_path / "senn.csv"
    pd.concat([frame, pd.DataFrame([extra])], ignore_index=True).to_csv(path, index=False)
    return path, fix


def test_nma_json_matches_metafor(senn, tmp_path):
    path, fix = senn
    league = tmp_path / "league.csv"
    result = RUNNER.invoke(
        app, ["nma", str(path), "--reference", "placebo", "--league", str(league), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    ours = dict(zip(out["treatments"], out["estimate"], strict=True))
    ref = fix["REML"]
    np.testing.assert_allclose([ours[t] for t in ref["treatments"]], ref["beta"], atol=1e-8)
    assert out["tau2"] == pytest.approx(ref["tau2"], rel=1e-7)
    table = pd.read_csv(league, index_col=0)
    assert table.shape == (10, 10)


def test_nma_text_and_errors(senn):
    path, _ = senn
    result = RUNNER.invoke(app, ["nma", str(path), "--reference", "placebo"])
    assert result.exit_code == 0, result.output
    assert "Reference treatment: placebo" in result.output
    assert "Between designs" in result.output
    for args, message in [
        (["--reference", "plac"], "error: --reference 'plac' is not a treatment of the network"),
        (["--studlab", "study"], "error: --studlab study: no such column in"),
        (["--method", "PM"], "error: --method must be one of REML, ML, DL, EE"),
        (["--league", "out.doc"], "error: --league"),
    ]:
        result = RUNNER.invoke(app, ["nma", str(path), *args])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(message), result.output


def test_nma_dl_as_netmeta_published(tmp_path):
    """--method DL on the Parkinson data of netmeta's article (Balduzzi et al. 2023, JSS
    106(2), p. 19: tau^2 = 0.1518, dopamine agonist vs placebo -1.49 [-1.86; -1.12]); the
    input comes from tests/fixtures/make_nma_published_fixtures.R."""
    path = tmp_path / "stowe.csv"
    pd.DataFrame(load_fixture("nma_published")["stowe2010"]).to_csv(path, index=False)
    result = RUNNER.invoke(
        app,
        [
            "nma",
            str(path),
            "--yi",
            "TE",
            "--sei",
            "seTE",
            "--reference",
            "Placebo",
            "--method",
            "DL",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["method"] == "DL"
    assert abs(out["tau2"] - 0.1518) < 0.5e-4
    i = out["treatments"].index("Dopamine Agonist")
    got = [out["estimate"][i], out["ci_lb"][i], out["ci_ub"][i]]
    np.testing.assert_array_less(np.abs(np.subtract(got, [-1.49, -1.86, -1.12])), 0.005)
