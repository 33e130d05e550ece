"""Length of hospital stay under specialist vs routine stroke care (Normand 1999, Stat Med
18:321; metadat's dat.normand1999) as a review folder with two-group means: a new review (no
[published] section), every robustness row checked against metafor 3.8.1
(tests/fixtures/metafor_report_examples.json, made by make_report_examples.R)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from metareview.report.analyses import analyse_outcome
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol
from metareview.report.text import outcome_sentences
from tests.conftest import load_fixture

EXAMPLE = Path(__file__).parents[2] / "examples" / "stroke-length-of-stay"
REF = [c for c in load_fixture("metafor_report_examples")["cases"] if c["example"] == "normand"]
RTOL = 1e-12  # measured worst case 5.3e-15 (SMD, REML, estimate)


@pytest.fixture(scope="module")
def protocol():
    return load_protocol(EXAMPLE)


@pytest.fixture(scope="module")
def analysis(protocol):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return analyse_outcome(protocol, protocol.outcome("stay"))


def test_every_robustness_row_matches_metafor(analysis):
    rob = analysis.robustness
    assert len(rob) == len(REF) == 6
    for ref in REF:
        row = rob[
            (rob["measure"] == ref["measure"])
            & (rob["model"] == ref["method"])
            & (rob["test"] == ref["test"])
        ].iloc[0]
        for key in ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2"):
            np.testing.assert_allclose(row[key], ref[key], rtol=RTOL, err_msg=f"{ref['id']} {key}")


def test_a_new_review_has_no_published_column(tmp_path):
    out = build_report(EXAMPLE, tmp_path)
    assert out.comparison.empty and not out.reproduction
    html = out.html.read_text(encoding="utf-8")
    assert "Reproduction of" not in html and "published numbers" not in html.lower()
    assert not (tmp_path / "tables" / "published_vs_reproduced.csv").exists()
    assert "Total patients under specialist care" in html
    # k = 9: no funnel plot, and the report says so (a new-user check found it silent)
    assert not list(tmp_path.rglob("funnel_*")) and "no funnel plot is drawn" in html


def test_sentences_state_the_direction_found(protocol, analysis):
    s = outcome_sentences(protocol, analysis)
    pred = analysis.predict(analysis.main)
    assert pred["ci_lb"] < 0 < pred["ci_ub"]  # REML + Hartung-Knapp: the CI includes 0
    assert s["direction"] == "The 95% CI includes 0.00: the data do not rule out no effect."
    rob = analysis.robustness
    includes = int(((rob["ci_lb"] <= 0) & (rob["ci_ub"] >= 0)).sum())
    assert includes == 4  # the two DL rows exclude 0: their CIs are too narrow with k = 9
    assert s["robustness"].endswith(f"includes the value of no effect for {includes} of 6.")
    assert "fewer than 10" in s["bias"]
