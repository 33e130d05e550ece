"""The CLI is a thin shell: tested by exit code and exact output lines."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from metareview.cli import app

RUNNER = CliRunner()
EXAMPLE = Path(__file__).parents[2] / "examples" / "ketamine-crps"


def test_seed_reproduces_the_immediate_rate():
    result = RUNNER.invoke(app, ["seed", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Random-Effects Model (k = 8; tau^2 estimator: DL)" in result.output
    assert "Left out: Kiefer, R et al (2008b)" in result.output
    assert "68.8%" in result.output and "53.5% to 84.1%" in result.output


def test_rma_json_output(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"yi": [0.2, 0.5, 0.9, 0.1], "vi": [0.04, 0.05, 0.06, 0.03]}).to_csv(path)
    result = RUNNER.invoke(app, ["rma", str(path), "--method", "DL", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["k"] == 4 and out["method"] == "DL"
    assert round(out["estimate"], 4) == 0.397  # metafor 3.8: rma(..., method="DL") gives 0.3970


def test_rma_bad_column_exits_2(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"yi": [0.2, 0.5], "v": [0.04, 0.05]}).to_csv(path)
    result = RUNNER.invoke(app, ["rma", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: --vi vi is not a column of data; columns are")


def test_escalc_writes_yi_vi(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"events": [4, 10], "total": [20, 40]}).to_csv(src, index=False)
    result = RUNNER.invoke(
        app, ["escalc", "PLO", str(src), "--col", "xi=events", "--col", "ni=total", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    # metafor 3.8: escalc("PLO", xi=c(4,10), ni=c(20,40)) -> -1.3863, -1.0986
    assert written["yi"].round(4).tolist() == [-1.3863, -1.0986]


def _hackshaw_csv(tmp_path):
    from tests.conftest import load_fixture

    case = next(c for c in load_fixture("metafor_bias")["cases"] if c["id"] == "hackshaw1998_REML")
    path = tmp_path / "hackshaw.csv"
    pd.DataFrame({"study": case["slab"], "yi": case["yi"], "vi": case["vi"]}).to_csv(
        path, index=False
    )
    return path, case


def test_bias_prints_egger_begg_trimfill(tmp_path):
    path, case = _hackshaw_csv(tmp_path)
    result = RUNNER.invoke(app, ["bias", str(path), "--slab", "study"])
    assert result.exit_code == 0, result.output
    egger = next(r for r in case["regtest"] if (r["model"], r["predictor"]) == ("rma", "sei"))
    assert f"z = {egger['zval']:.4f}, p = {egger['pval']:.4f}" in result.output
    assert f"Kendall's tau = {case['ranktest']['tau']:.4f}" in result.output
    tf = next(
        t for t in case["trimfill"] if t["side_requested"] == "default" and t["estimator"] == "L0"
    )
    assert f"missing studies on the {tf['side']} side: {tf['k0']}" in result.output


def test_gosh_writes_subsets_and_refuses_large_k_without_sample(tmp_path):
    path, case = _hackshaw_csv(tmp_path)
    out = tmp_path / "gosh.csv"
    result = RUNNER.invoke(app, ["gosh", str(path), "-o", str(out)])
    assert result.exit_code == 2
    # the advice names the command's own flag, not the library's keyword (issue 21.2/21.13)
    assert "pass --subsets N (e.g." in " ".join(result.output.split())
    assert "subsets=" not in result.output
    result = RUNNER.invoke(
        app,
        ["gosh", str(path), "-o", str(out), "--subsets", "500", "--seed", "1", "--slab", "study"],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    # inclusion as one 0/1 column per study: no bitstring to lose its leading zeros
    incl = [c for c in table.columns if c.startswith("incl_")]
    assert incl == [f"incl_{label}" for label in case["slab"]]
    assert len(table) == 500 and set(table[incl].stack()) == {0, 1}
    assert (table[incl].sum(axis=1) == table["k"]).all()


def test_permutest_exact_matches_metafor(tmp_path):
    from tests.conftest import load_fixture

    case = next(
        c for c in load_fixture("metafor_permutest")["cases"] if c["id"] == "normand1999_SMD_REML_z"
    )
    path = tmp_path / "normand.csv"
    pd.DataFrame({"yi": case["yi"], "vi": case["vi"]}).to_csv(path, index=False)
    result = RUNNER.invoke(app, ["permutest", str(path), "--exact"])
    assert result.exit_code == 0, result.output
    assert "Permutation test (exact permutations)" in result.output
    assert f"intrcpt: permutation p = {case['pval'][0]:.4f}" in result.output
