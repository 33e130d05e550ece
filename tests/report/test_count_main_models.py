"""A protocol whose main model pools the counts: Mantel-Haenszel, Peto or a binomial-normal
GLMM (issue 13). The report fits it, runs the small-study tests metafor runs on such a fit,
refits it for the sensitivity analysis, and says what it did not run and why. Reference
values: metafor 3.8.1 on dat.bcg (tests/fixtures/metafor_count_main.json, made by
make_count_main_fixtures.R); the table is examples/bcg-vaccine/trials.csv (dat.bcg)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from metareview import InputError
from metareview.cli import app
from metareview.report.analyses import analyse_outcome
from metareview.report.build import build_report
from metareview.report.protocol import load_protocol
from metareview.report.text import methods_text, outcome_sentences
from tests.conftest import load_fixture

EXAMPLE = Path(__file__).parents[2] / "examples" / "bcg-vaccine"
REF = {c["id"]: c for c in load_fixture("metafor_count_main")["cases"]}
SUBGROUPS = {
    {"MH_OR": "MH_OR", "MH_RR": "MH_RR", "PETO": "PETO_PETO", "GLMM_OR": "GLMM_OR"}[c["kind"]]: c
    for c in load_fixture("metafor_glmm_conditional")["cases"]
    if c["fn"] == "subgroups" and c["kind"] != "GLMM_PLO"
}
EXCLUDED = "TPT Madras (1980)"
RTOL = 1e-10  # MH and Peto are closed form: measured worst 1.1e-15 (estimates), 6.9e-14 (tests)
GLMM_RTOL = 1e-4  # GLMM: our ML optimum vs lme4's (issue 18); measured worst 2.6e-5

PROTOCOL = """
[review]
title = "BCG vaccine, pooled from the counts"
table = "trials.csv"

[columns]
study = "Author"
year = "Year"

[outcomes.tb]
label = "Tuberculosis"
data = "2x2"
ai = "TB cases, vaccinated"
bi = "No TB, vaccinated"
ci = "TB cases, control"
di = "No TB, control"
{model}
subgroup = "Allocation"
moderators = ["Absolute latitude"]
sensitivity = [{{ exclude = ["{excluded}"], reason = "the largest trial" }}]
"""


def folder(tmp_path: Path, model: str, published: str = "") -> Path:
    path = tmp_path / "review"
    path.mkdir()
    shutil.copy(EXAMPLE / "trials.csv", path / "trials.csv")
    text = PROTOCOL.format(model=model, excluded=EXCLUDED) + published
    (path / "protocol.toml").write_text(text, encoding="utf-8")
    return path


def analyse(path: Path):
    protocol = load_protocol(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return protocol, analyse_outcome(protocol, protocol.outcome("tb"))


CASES = [
    ('method = "MH"\nmeasure = "RR"', "MH_RR", RTOL),
    ('method = "MH"\nmeasure = "OR"', "MH_OR", RTOL),
    ('method = "PETO"', "PETO_PETO", RTOL),  # the measure follows from the method
    ('method = "GLMM"', "GLMM_OR", GLMM_RTOL),  # 2x2 counts: the odds ratio
]


@pytest.mark.parametrize(("model", "ref_id", "rtol"), CASES, ids=[c[1] for c in CASES])
def test_main_model_pooled_from_the_counts_matches_metafor(tmp_path, model, ref_id, rtol):
    protocol, a = analyse(folder(tmp_path, model))
    full, without = REF[f"{ref_id}_all"], REF[f"{ref_id}_without"]
    pred = a.predict(a.main)
    assert a.main.k == full["k"] == 13
    for key, ref in (("pred", "pred"), ("ci_lb", "ci_lb"), ("ci_ub", "ci_ub")):
        np.testing.assert_allclose(pred[key], full[ref], rtol=rtol, err_msg=key)
    np.testing.assert_allclose(a.main.I2, full["I2"], rtol=rtol)
    if full["pi_lb"] is None:  # equal-effects: no prediction interval
        assert pred["pi_lb"] is None or np.isnan(pred["pi_lb"])
    else:
        np.testing.assert_allclose(
            [pred["pi_lb"], pred["pi_ub"]], [full["pi_lb"], full["pi_ub"]], rtol=rtol
        )
    # the sensitivity analysis refits the protocol's model without the excluded trial
    row = a.sensitivity.iloc[0]
    assert row["excluded"] == EXCLUDED and row["k"] == without["k"] == 12
    for key in ("estimate", "ci_lb", "ci_ub"):
        ref = without["pred" if key == "estimate" else key]
        np.testing.assert_allclose(row[key], ref, rtol=rtol, err_msg=f"without {key}")
    # small-study tests as metafor runs them on this kind of fit (closed form on yi/vi)
    np.testing.assert_allclose(a.begg.tau, full["ranktest_tau"], rtol=RTOL)
    np.testing.assert_allclose(a.begg.pval, full["ranktest_pval"], rtol=RTOL)
    if full["regtest_zval"] is None:  # metafor: "Method not available ... rma.glmm"
        assert a.egger is None
        assert any("Egger's regression test was not run" in n for n in a.not_run)
    else:
        np.testing.assert_allclose(a.egger.zval, full["regtest_zval"], rtol=RTOL)
        np.testing.assert_allclose(a.egger.pval, full["regtest_pval"], rtol=RTOL)
    # subgroups: one fit per allocation with the protocol's model, and RevMan's test for
    # subgroup differences, as the R loop of make_glmm_conditional_fixtures.R (MH/Peto bit
    # for bit, GLMM observed 1.4e-4 on Q_between, which moves with lme4's se's)
    sub_ref = SUBGROUPS[ref_id]
    assert list(a.subgroups.subgroups) == sub_ref["groups"]
    estimates = [f.estimate for f in a.subgroups.subgroups.values()]
    np.testing.assert_allclose(estimates, sub_ref["result"]["estimate"], rtol=rtol)
    np.testing.assert_allclose(a.subgroups.Q_between, sub_ref["result"]["Q_between"], rtol=2 * rtol)
    assert not any(n.startswith("Subgroups by") for n in a.not_run)
    assert "Test for subgroup differences" in outcome_sentences(protocol, a)["subgroups"]
    # a meta-regression needs an inverse-variance model: said, not silently dropped
    assert a.regression is None
    assert any("meta-regression on Absolute latitude was not fitted" in n for n in a.not_run)
    s = outcome_sentences(protocol, a)
    assert "not fitted" in s["not_run"]
    if ref_id.startswith(("MH", "PETO")):
        assert "tau²" not in s["summary"] and "Q = " in s["summary"]
        assert "Egger's test: z = " in s["bias"]


def test_report_with_a_count_model_renders_and_says_what_was_not_run(tmp_path):
    path = folder(tmp_path, 'method = "MH"\nmeasure = "RR"')
    out = build_report(path, tmp_path / "out")
    html = " ".join(out.html.read_text(encoding="utf-8").split())
    assert "Mantel-Haenszel (equal effects) on the risk ratio" in html
    assert "Not run with the protocol's model." in html
    assert "the bar below the diamond" not in html  # the forest caption: MH has no PI
    assert not out.reproduction and out.comparison.empty
    # the CLI of a new review: no empty "Paper vs reproduction" table
    result = CliRunner().invoke(app, ["report", str(path), "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert "Paper vs reproduction" not in result.output
    assert "report.html" in result.output


def test_a_published_count_model_is_fitted_beside_the_protocols(tmp_path):
    published = '\n[published.outcomes.tb]\nestimate = 0.64\nmethod = "MH"\n'
    _, a = analyse(folder(tmp_path, 'method = "REML"\nmeasure = "RR"', published))
    assert a.published is not None and a.published.method == "MH"
    np.testing.assert_allclose(a.predict(a.published)["pred"], REF["MH_RR_all"]["pred"], rtol=RTOL)
    row = a.sensitivity.iloc[0]
    np.testing.assert_allclose(row["published_estimate"], REF["MH_RR_without"]["pred"], rtol=RTOL)
    # the protocol's own model is REML: its subgroups and regression are fitted
    assert a.subgroups is not None and a.regression is not None and a.not_run == ()


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            'method = "PETO"\nmeasure = "RR"',
            "method = 'PETO' with data = '2x2' pools measure = 'PETO'",
        ),
        ('method = "MH"\nmeasure = "RR"\ntest = "knha"', 'test = "knha" \\(Hartung-Knapp\\)'),
        ('method = "MHX"', "method = 'MHX'; expected one of"),
    ],
)
def test_count_model_errors_name_file_section_and_key(tmp_path, model, message):
    with pytest.raises(InputError, match=rf"protocol.toml: \[outcomes.tb\]: {message}"):
        load_protocol(folder(tmp_path, model))


def test_a_count_model_for_data_it_cannot_pool_names_the_key(tmp_path):
    path = tmp_path / "means"
    path.mkdir()
    (path / "t.csv").write_text("Study,m1,s1,n1,m2,s2,n2\nA,1,1,10,2,1,10\nB,1,1,12,2,1,11\n")
    (path / "protocol.toml").write_text(
        '[review]\ntitle = "t"\ntable = "t.csv"\n[columns]\nstudy = "Study"\n'
        '[outcomes.x]\nlabel = "X"\ndata = "means"\nm1i = "m1"\nsd1i = "s1"\nn1i = "n1"\n'
        'm2i = "m2"\nsd2i = "s2"\nn2i = "n2"\nmethod = "MH"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"\[outcomes.x\]: method = 'MH' pools counts of data"):
        load_protocol(path)


def test_methods_paragraph_says_each_default_and_citation_once(tmp_path):
    # two outcomes of one data type by the default model: the reason and its citations once
    path = folder(tmp_path, "")
    text = (path / "protocol.toml").read_text(encoding="utf-8")
    second = text[text.index("[outcomes.tb]") :].replace("[outcomes.tb]", "[outcomes.tb2]")
    second = second.replace('label = "Tuberculosis"', 'label = "Tuberculosis again"')
    (path / "protocol.toml").write_text(text + second, encoding="utf-8")
    protocol = load_protocol(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = {o.name: analyse_outcome(protocol, o) for o in protocol.outcomes}
    methods = methods_text(protocol, fitted)
    for citation in (
        "Deeks 2002",
        "Veroniki et al. 2016",
        "IntHout et al. 2014",
        "Mantel-Haenszel",
    ):
        assert methods.count(citation) == 1, (citation, methods)
    assert methods.count("Funnel-plot asymmetry was tested") == 1
    assert methods.count("was pooled by REML on risk ratio with Hartung-Knapp CIs") == 2


def test_published_source_must_be_text(tmp_path):
    path = folder(tmp_path, "", "\n[published]\nsource = 3\n")
    with pytest.raises(InputError, match=r"protocol.toml: \[published\] source = 3; expected text"):
        load_protocol(path)


def test_glmm_subgroup_that_cannot_be_fitted_is_said_not_dropped(tmp_path):
    """A subgroup with one trial has no random-effects GLMM: the report names it in what it
    did not run (Mantel-Haenszel pools a one-trial subgroup, as RevMan)."""
    path = folder(tmp_path, 'method = "GLMM"')
    trials = (path / "trials.csv").read_text(encoding="utf-8").splitlines()
    trials[1] = trials[1].replace('"random"', '"quasi"')  # Aronson 1948 alone
    (path / "trials.csv").write_text("\n".join(trials) + "\n", encoding="utf-8")
    _, a = analyse(path)
    assert a.subgroups is None
    (note,) = [n for n in a.not_run if n.startswith("Subgroups by Allocation")]
    assert "subgroup 'quasi': a random-effects GLMM needs at least 2 studies" in note
    mh_path = tmp_path / "mh"
    shutil.copytree(path, mh_path)
    text = (mh_path / "protocol.toml").read_text(encoding="utf-8")
    (mh_path / "protocol.toml").write_text(
        text.replace('method = "GLMM"', 'method = "MH"\nmeasure = "RR"'), encoding="utf-8"
    )
    _, a = analyse(mh_path)
    assert a.subgroups.subgroups["quasi"].k == 1
