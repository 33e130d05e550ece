"""Every comparison sentence is written only after it was computed, in the direction found
(issue 13): the seed's "methods that keep the 0% study give lower rates" is true there and is
written "higher" for data where keeping 100% studies raises the rate."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from metareview.report.analyses import analyse_outcome
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol
from metareview.report.text import outcome_sentences

SEED = Path(__file__).parents[2] / "examples" / "ketamine-crps"


def _analyse(folder: Path, name: str):
    protocol = load_protocol(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        analysis = analyse_outcome(protocol, protocol.outcome(name))
    return analysis, outcome_sentences(protocol, analysis)


def _groups(analysis):
    rob = analysis.robustness
    full = rob["k"].max()
    return rob[rob["k"] == full]["estimate"], rob[rob["k"] < full]["estimate"]


def test_seed_methods_keeping_the_0_percent_study_give_lower_rates():
    analysis, s = _analyse(SEED, "immediate")
    kept, dropped = _groups(analysis)
    assert kept.max() < dropped.min()  # computed: every method that keeps it is lower
    # 6 inverse-variance rows and the GLMM (65.4%) keep it
    assert s["omission"].startswith(
        "The 7 methods that keep Kiefer, R et al (2008b) give "
        "lower estimates (62.6% to 65.6%) than the 1 that leave"
    )


def test_seed_published_estimate_needs_the_study_the_paper_says_it_dropped():
    analysis, s = _analyse(SEED, "immediate")
    row = analysis.sensitivity.iloc[0]
    assert round(100 * analysis.predict(analysis.published)["pred"]) == 69
    assert round(100 * row["published_estimate"]) == 64
    assert (
        "The published estimate (69%) is reproduced only with Kiefer, R et al (2008a) included."
    ) in s["sensitivity"]


def test_seed_followup_sentence_follows_its_own_numbers():
    analysis, s = _analyse(SEED, "followup")
    row = analysis.sensitivity.iloc[0]
    with_it = round(100 * analysis.predict(analysis.published)["pred"])
    without = round(100 * row["published_estimate"])
    assert with_it == 58 and without != 58
    assert "reproduced only with Kiefer, R et al (2008a) included" in s["sensitivity"]


def test_seed_majority_sentence_counts_methods():
    analysis, s = _analyse(SEED, "immediate")
    rob = analysis.robustness
    pred = analysis.predict(analysis.main)
    assert pred["ci_lb"] < 0.5 < pred["ci_ub"]
    includes = int(((rob["ci_lb"] <= 0.5) & (rob["ci_ub"] >= 0.5)).sum())
    assert s["robustness"].endswith(f"the 95% CI includes 50.0% for {includes} of 8.")  # +GLMM
    assert s["direction"].startswith("The 95% CI includes 50.0%")


@pytest.fixture(scope="module")
def high_rates(tmp_path_factory) -> Path:
    """Rates with two studies at 100%: leaving them out lowers the pooled rate."""
    folder = tmp_path_factory.mktemp("rates")
    (folder / "protocol.toml").write_text(
        '[review]\ntitle = "Rates"\ntable = "t.csv"\n\n[columns]\nstudy = "Study"\n'
        'n = "N"\n\n[outcomes.rate]\nlabel = "Response"\ndata = "proportion"\nxi = "Events"\n'
        "reference = 0.5\n",
        encoding="utf-8",
    )
    (folder / "t.csv").write_text(
        "Study,N,Events\nA,20,12\nB,15,15\nC,30,17\nD,12,12\nE,25,14\nF,18,9\n", encoding="utf-8"
    )
    return folder


def test_keeping_100_percent_studies_is_said_to_give_higher_rates(high_rates):
    analysis, s = _analyse(high_rates, "rate")
    kept, dropped = _groups(analysis)
    assert kept.min() > dropped.max()  # computed: here keeping them raises the rate
    assert " give higher estimates " in s["omission"] and "lower" not in s["omission"]
    assert set(s["omission"].split(" that keep ")[1].split(" give ")[0].split(", ")) == {"B", "D"}


def test_a_new_review_of_rates_builds_without_published_numbers(high_rates, tmp_path):
    out = build_report(high_rates, tmp_path)
    assert out.comparison.empty
    html = out.html.read_text(encoding="utf-8")
    assert "What the published method hides" not in html and "(published)" not in html


def test_generic_estimates_with_standard_errors(tmp_path):
    (tmp_path / "protocol.toml").write_text(
        '[review]\ntitle = "Generic"\ntable = "t.csv"\n\n[columns]\nstudy = "Study"\n'
        'year = "Year"\n\n[outcomes.effect]\nlabel = "Log hazard ratio"\ndata = "generic"\n'
        'yi = "logHR"\nsei = "SE"\nfavours = ["Favours treatment", "Favours control"]\n',
        encoding="utf-8",
    )
    (tmp_path / "t.csv").write_text(
        "Study,Year,logHR,SE\nA,2001,-0.4,0.2\nB,2003,-0.2,0.15\nC,2008,-0.5,0.3\n"
        "D,2012,-0.1,0.1\n",
        encoding="utf-8",
    )
    analysis, s = _analyse(tmp_path, "effect")
    assert analysis.main.k == 4 and analysis.main.method == "REML"
    assert s["studies"] == "0 of 4 study estimates lie above 0.00 and 4 below."
    side = "below" if analysis.predict(analysis.main)["ci_ub"] < 0 else None
    assert (side is None) == s["direction"].startswith("The 95% CI includes 0.00")
