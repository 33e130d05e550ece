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
    assert "vi='vi' is not a column of data" in result.output


def test_escalc_writes_yi_vi(tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"events": [4, 10], "total": [20, 40]}).to_csv(src, index=False)
    result = RUNNER.invoke(app, ["escalc", "PLO", str(src), "--col", "xi=events",
                                 "--col", "ni=total", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    # metafor 3.8: escalc("PLO", xi=c(4,10), ni=c(20,40)) -> -1.3863, -1.0986
    assert written["yi"].round(4).tolist() == [-1.3863, -1.0986]
