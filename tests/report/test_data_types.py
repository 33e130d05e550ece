"""Outcomes of every data type from protocol.toml: correlations (dat.molloy2014), generic
ratios with printed CIs (dat.hackshaw1998), pre/post means in separate columns and 2x2 tables
as events and totals -- each checked against metafor 3.8.1 (tests/fixtures/
metafor_report_examples.json, made by make_report_examples.R) or against a second route."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest

import metareview as mr
from metareview.report.analyses import analyse_outcome
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol
from metareview.report.text import outcome_sentences
from tests.conftest import load_fixture

REF = {c["id"]: c for c in load_fixture("metafor_report_examples")["cases"]}
RTOL = 1e-12  # measured worst case 3.0e-15 (molloy2014 ZCOR); 2.8e-15 (hackshaw1998)
KEYS = ("estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "tau2", "I2")


def _folder(tmp_path: Path, outcome: str, header: list[str], rows: list[list]) -> Path:
    (tmp_path / "protocol.toml").write_text(
        '[review]\ntitle = "T"\ntable = "t.csv"\n\n[columns]\nstudy = "Study"\n\n' + outcome,
        encoding="utf-8",
    )
    with open(tmp_path / "t.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return tmp_path


def _analyse(folder: Path):
    protocol = load_protocol(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = analyse_outcome(protocol, protocol.outcomes[0])
    return protocol, analysis


def _check(analysis, ref):
    pred = analysis.predict(analysis.main)
    ours = {
        "estimate": pred["pred"],
        "ci_lb": pred["ci_lb"],
        "ci_ub": pred["ci_ub"],
        "pi_lb": pred["pi_lb"],
        "pi_ub": pred["pi_ub"],
        "tau2": analysis.main.tau2,
        "I2": analysis.main.I2,
    }
    assert analysis.main.k == ref["k"]
    for key in KEYS:
        np.testing.assert_allclose(ours[key], ref[key], rtol=RTOL, err_msg=key)


def test_correlations_pooled_as_fisher_z_by_default(tmp_path):
    ref = REF["molloy2014_ZCOR_REML_knha"]
    folder = _folder(
        tmp_path,
        '[outcomes.r]\nlabel = "Conscientiousness and adherence"\n'
        'data = "correlation"\nri = "r"\nni = "n"\n',
        ["Study", "r", "n"],
        [[s, r, n] for s, r, n in zip(ref["study"], ref["ri"], ref["ni"], strict=True)],
    )
    protocol, analysis = _analyse(folder)
    assert analysis.main.measure == "ZCOR"
    _check(analysis, ref)
    assert (
        outcome_sentences(protocol, analysis)["direction"] == "The 95% CI lies entirely above 0.00."
    )


def test_generic_ratios_with_printed_cis(tmp_path):
    ref = REF["hackshaw1998_GEN_ratio_ci_REML_knha"]
    folder = _folder(
        tmp_path,
        '[outcomes.cancer]\nlabel = "Lung cancer"\ndata = "generic"\n'
        'yi = "OR"\nci_lb = "lower"\nci_ub = "upper"\nratio = true\n'
        'favours = ["Lower risk", "Higher risk"]\n',
        ["Study", "OR", "lower", "upper"],
        [
            list(row)
            for row in zip(ref["study"], ref["or"], ref["or_lb"], ref["or_ub"], strict=True)
        ],
    )
    protocol, analysis = _analyse(folder)
    _check(analysis, ref)
    assert outcome_sentences(protocol, analysis)["direction"] == (
        'The 95% CI lies entirely above 1.00 (the side labelled "Higher risk").'
    )


def test_prepost_in_separate_columns_equals_escalc(tmp_path):
    rows = [
        ["A", 7.1, 1.5, 4.0, 2.0, 20],
        ["B", 6.8, 1.9, 3.1, 2.2, 35],
        ["C", 7.5, 1.2, 5.0, 1.8, 12],
        ["D", 6.9, 1.4, 2.9, 1.9, 28],
    ]
    folder = _folder(
        tmp_path,
        '[outcomes.pain]\nlabel = "Score"\ndata = "prepost"\n'
        'm1i = "m1"\nsd1i = "s1"\nm2i = "m2"\nsd2i = "s2"\nni = "n"\n'
        'correlation = 0.6\nmeasure = "SMCC"\n',
        ["Study", "m1", "s1", "m2", "s2", "n"],
        rows,
    )
    _, analysis = _analyse(folder)
    cols = list(zip(*rows, strict=True))
    es = mr.escalc(
        "SMCC", m1i=cols[1], sd1i=cols[2], m2i=cols[3], sd2i=cols[4], ni=cols[5], ri=[0.6] * 4
    )
    expected = mr.rma(es, method="REML", test="knha")
    np.testing.assert_allclose(analysis.main.estimate, expected.estimate, rtol=1e-12)
    assert set(analysis.robustness["measure"]) == {"SMCC", "SMCR"}


def test_two_by_two_as_events_and_totals_builds_a_report(tmp_path):
    folder = _folder(
        tmp_path,
        '[outcomes.death]\nlabel = "Death"\ndata = "2x2"\n'
        'ai = "d1"\nn1i = "n1"\nci = "d2"\nn2i = "n2"\nmeasure = "OR"\n',
        ["Study", "d1", "n1", "d2", "n2"],
        [["A", 3, 40, 8, 41], ["B", 0, 20, 4, 22], ["C", 5, 60, 9, 58]],
    )
    out = build_report(folder, tmp_path / "out")
    assert out.html.is_file() and not out.reproduction
    html = out.html.read_text(encoding="utf-8")
    assert "odds ratio" in html and "Death" in html


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("1.3", r"cell '1.3' \(outside -1 to 1\); expected a correlation between -1 and 1"),
        ("r=.3", r"cell 'r=.3' \(no number in it\)"),
    ],
)
def test_bad_correlation_cell(tmp_path, cell, message):
    folder = _folder(
        tmp_path,
        '[outcomes.r]\nlabel = "R"\ndata = "correlation"\nri = "r"\nni = "n"\n',
        ["Study", "r", "n"],
        [["A", "0.2", "30"], ["B", cell, "40"]],
    )
    with pytest.raises(mr.InputError, match=message):
        load_protocol(folder)


def test_reml_estimate_outside_its_q_profile_ci_is_given_its_profile_likelihood_ci(tmp_path):
    # metafor 3.8 on the simulated k = 300 set (tests/fixtures/metafor_profile.json):
    # REML tau² 0.0530 below its Q-profile CI [0.0539, 0.131]; confint(type = "PL") gives
    # [0.0277, 0.0870]. A summary printing "0.053 [95% CI 0.054 to 0.13]" would contradict
    # itself, so the report gives the profile-likelihood interval and says why.
    case = next(
        c for c in load_fixture("metafor_profile")["cases"] if c["id"] == "simulated300_REML"
    )
    folder = _folder(
        tmp_path,
        '[outcomes.sim]\nlabel = "Simulated"\ndata = "generic"\nyi = "y"\nvi = "v"\n'
        'method = "REML"\ntest = "z"\n',
        ["Study", "y", "v"],
        [[f"S{i}", y, v] for i, (y, v) in enumerate(zip(case["yi"], case["vi"], strict=True))],
    )
    protocol, analysis = _analyse(folder)
    summary = outcome_sentences(protocol, analysis)["summary"]
    assert (
        "tau² = 0.053 [95% profile-likelihood CI 0.028 to 0.087; the Q-profile CI does not "
        "contain the REML estimate]" in summary
    )
