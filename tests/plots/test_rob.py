"""Risk-of-bias traffic light and summary: cells, symbols, keys, weights and input checks."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from metareview import InputError, rma
from metareview._rob_tools import ROB2, ROBINS_I
from metareview.plots import rob, rob_summary
from metareview.plots.rob import LEVEL_LOOKS
from tests.plots.helpers import by_gid, overlapping_texts, texts, texts_outside_figure

# an ILLUSTRATIVE assessment (not of any real trial), in robvis's layout
ROB2_TABLE = pd.DataFrame(
    {
        "Study": ["Trial A 2001", "Trial B 2005", "Trial C 2010", "Trial D 2018"],
        "D1": ["Low", "Some concerns", "low", "High"],
        "D2": ["Low", "Low", "Some concerns", "Low"],
        "D3": ["low risk", "Low", "Low", "Some concerns"],
        "D4": ["Low", "High", "Low", "Low"],
        "D5": ["Some concerns", "Low", "Low", "Low"],
        "Overall": ["Some concerns", "High", "Some concerns", "High"],
        "Weight": [10.0, 30.0, 20.0, 40.0],
    }
)

ROBINS_TABLE = {
    "Cohort A": ["Moderate", "Low", "Low", "Serious", "Low", "No information", "Low", "Serious"],
    "Cohort B": ["Critical", "Low", "Moderate", "Low", "NI", "Low", "Low", "Critical"],
}

NOS_TABLE = pd.DataFrame(
    {"Selection": [4, 2, "***"], "Comparability": [2, 0, 1], "Exposure": [3, 1, 2]},
    index=["CC 1", "CC 2", "CC 3"],
)


def test_one_cell_and_mark_per_study_and_domain():
    fig = rob(ROB2_TABLE)
    assert len(by_gid(fig, "cell")) == 4 * 6
    marks = by_gid(fig, "judgement")
    assert len(marks) == 4 * 6
    assert [m.get_label() for m in marks[:6]] == ["Low"] * 4 + ["Some concerns"] * 2
    assert texts(fig, "label") == ["Trial A 2001", "Trial B 2005", "Trial C 2010", "Trial D 2018"]
    assert texts(fig, "header") == ["D1", "D2", "D3", "D4", "D5", "Overall"]


def test_each_level_has_its_own_colour_and_symbol():
    for tool in (ROB2, ROBINS_I):
        looks = [LEVEL_LOOKS[lv.label] for lv in tool.levels]
        assert len({look.fill for look in looks}) == len(tool.levels)
        assert len({look.symbol for look in looks}) == len(tool.levels)
    fig = rob(ROB2_TABLE)
    symbols = texts(fig, "symbol")
    assert symbols[:6] == ["+", "+", "+", "+", "\u2212", "\u2212"]
    assert set(symbols) == {"+", "\u2212", "\u00d7"}


def test_domain_key_and_judgement_legend():
    fig = rob(ROB2_TABLE)
    assert texts(fig, "key") == [f"{code}: {name}" for code, name in ROB2.domains]
    assert texts(fig, "legend") == ["Low", "Some concerns", "High"]
    fig = rob(ROBINS_TABLE, tool="robins-i")
    assert texts(fig, "legend") == ["Low", "Moderate", "Serious", "Critical", "No information"]
    assert len(by_gid(fig, "judgement")) == 2 * 8
    assert texts(fig, "key")[1] == "D2: Bias in selection of participants into the study"


def test_full_domain_names_and_mappings_are_accepted():
    named = ROB2_TABLE.rename(
        columns=dict((code, name.upper()) for code, name in ROB2.domains)
    ).set_index("Study")
    a = [m.get_label() for m in by_gid(rob(named), "judgement")]
    b = [m.get_label() for m in by_gid(rob(ROB2_TABLE), "judgement")]
    assert a == b
    nested = {"X": {"D1": "low", "D2": "low", "D3": "high", "D4": "low", "D5": "low"}}
    fig = rob(nested)
    assert len(by_gid(fig, "judgement")) == 5  # no Overall column given, none drawn
    assert "Overall" not in texts(fig, "header")


def test_newcastle_ottawa_stars_and_total():
    fig = rob(NOS_TABLE, tool="NOS")
    assert len(by_gid(fig, "cell")) == 3 * 4
    awarded = len(by_gid(fig, "star-awarded"))
    hollow = len(by_gid(fig, "star-not-awarded"))
    assert awarded == (4 + 2 + 3) + (2 + 0 + 1) + (3 + 1 + 2) + 1  # one in the key
    assert hollow == 3 * 9 - 18 + 1
    assert texts(fig, "total") == ["9/9", "3/9", "6/9"]
    assert texts(fig, "header") == ["Selection", "Comparability", "Outcome", "Total"]


@pytest.mark.parametrize(
    ("table", "tool"), [(ROB2_TABLE, "RoB2"), (ROBINS_TABLE, "ROBINS-I"), (NOS_TABLE, "NOS")]
)
def test_no_overlapping_texts(table, tool):
    title = "An illustrative assessment with a title long enough to need wrapping, twice"
    for fig in (rob(table, tool, title=title), rob_summary(table, tool, title=title)):
        assert overlapping_texts(fig) == []
        assert texts_outside_figure(fig) == []


def test_long_labels_and_many_studies_do_not_overlap():
    studies = [f"A rather long study label number {i} (2020)" for i in range(30)]
    table = pd.DataFrame(
        {f"D{j}": ["Low", "High", "Some concerns"] * 10 for j in range(1, 6)}, index=studies
    )
    table["Overall"] = "High"
    assert overlapping_texts(rob(table)) == []


def test_summary_shares_of_studies():
    fig = rob_summary(ROB2_TABLE)
    widths = [float(p.get_width()) for p in by_gid(fig, "bar-D1")]
    assert widths == [50.0, 25.0, 25.0]  # Low, Some concerns, High
    widths = [float(p.get_width()) for p in by_gid(fig, "bar-Overall")]
    assert widths == [0.0, 50.0, 50.0]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [name for _, name in ROB2.domains] + [
        "Overall risk of bias"
    ]
    assert ax.get_xlabel() == "Share of studies (n = 4)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Low", "Some concerns", "High"]


@pytest.mark.parametrize(
    "weights",
    [
        "Weight",
        [10, 30, 20, 40],
        {"Trial A 2001": 1, "Trial B 2005": 3, "Trial C 2010": 2, "Trial D 2018": 4},
    ],
)
def test_summary_weighted(weights):
    fig = rob_summary(ROB2_TABLE, weights=weights)
    widths = [float(p.get_width()) for p in by_gid(fig, "bar-D1")]
    np.testing.assert_allclose(widths, [30.0, 30.0, 40.0])
    assert fig.axes[0].get_xlabel() == "Share of total weight (4 studies)"


def test_summary_weights_from_a_fitted_model():
    labels = list(ROB2_TABLE["Study"])
    res = rma([0.1, 0.3, -0.2, 0.5], [0.04, 0.01, 0.02, 0.05], slab=labels, method="EE")
    fig = rob_summary(ROB2_TABLE, weights=res)
    w = np.asarray(res.weights)
    widths = [float(p.get_width()) for p in by_gid(fig, "bar-D1")]
    np.testing.assert_allclose(widths, [w[0] + w[2], w[1], w[3]], rtol=1e-12)


def test_summary_of_star_counts():
    fig = rob_summary(NOS_TABLE, tool="NOS")
    widths = [float(p.get_width()) for p in by_gid(fig, "bar-Selection")]
    np.testing.assert_allclose(widths, np.array([1, 1, 1, 0, 0]) * 100 / 3)  # 4, 3, 2 stars
    assert by_gid(fig, "bar-Overall") == []
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == [
        "Selection (max 4 stars)",
        "Comparability (max 2 stars)",
        "Outcome (or exposure) (max 3 stars)",
    ]


def test_draws_into_given_axes():
    fig, ax = plt.subplots(figsize=(6, 4))
    assert rob(ROB2_TABLE, ax=ax) is fig
    fig, ax = plt.subplots()
    assert rob_summary(ROB2_TABLE, ax=ax) is fig


def test_bad_judgement_names_study_domain_and_accepted_values():
    bad = ROB2_TABLE.copy()
    bad.loc[2, "D3"] = "medium"
    with pytest.raises(
        InputError,
        match=r"the judgement for study 'Trial C 2010', domain D3 "
        r"\(Bias due to missing outcome data\) must be one of "
        r"Low, Some concerns, High.*got 'medium'",
    ):
        rob(bad)
    with pytest.raises(
        InputError,
        match=r"must be one of Low, Moderate, Serious, Critical, "
        r"No information",
    ):
        rob({"X": ["Low", "High", "Low", "Low", "Low", "Low", "Low"]}, tool="ROBINS-I")
    missing = ROB2_TABLE.copy()
    missing.loc[0, "D2"] = np.nan
    with pytest.raises(
        InputError,
        match=r"the judgement for study 'Trial A 2001', domain D2 .*"
        r"is missing",
    ):
        rob(missing)


def test_bad_tables():
    with pytest.raises(InputError, match=r"tool must be one of RoB2, ROBINS-I, NOS"):
        rob(ROB2_TABLE, tool="QUADAS-2")
    with pytest.raises(InputError, match=r"lacks RoB 2 domain column\(s\) D5"):
        rob(ROB2_TABLE.drop(columns="D5"))
    with pytest.raises(InputError, match=r"columns that are not RoB 2 domains: \['D6'\]"):
        rob(ROB2_TABLE.assign(D6="Low"))
    with pytest.raises(InputError, match=r"study labels must be unique; \['Trial A 2001'\]"):
        rob(ROB2_TABLE.replace({"Trial B 2005": "Trial A 2001"}))
    with pytest.raises(InputError, match=r"assessments\['X'\] has 3 entries; RoB 2 needs 5"):
        rob({"X": ["Low", "Low", "Low"]})
    with pytest.raises(InputError, match=r"must be a DataFrame .* got list"):
        rob([["Low"] * 6])
    with pytest.raises(
        InputError,
        match=r"star count for study 'CC 2', domain Selection must "
        r"be a whole number from 0 to 4.*got 5",
    ):
        rob(NOS_TABLE.assign(Selection=[4, 5, 3]), tool="NOS")
    with pytest.raises(
        InputError,
        match=r"Total of study 'CC 1' is 8 but its domain stars add "
        r"up to 9",
    ):
        rob(NOS_TABLE.assign(Total=[8, 3, 6]), tool="NOS")


def test_bad_weights():
    with pytest.raises(InputError, match=r"weights needs one value per study \(4\); got 3"):
        rob_summary(ROB2_TABLE, weights=[1, 2, 3])
    with pytest.raises(
        InputError,
        match=r"weights must be finite and >= 0; not so for studies "
        r"\['Trial B 2005'\]",
    ):
        rob_summary(ROB2_TABLE, weights=[1, -2, 3, 4])
    with pytest.raises(InputError, match=r"weights has no weight for studies \['Trial D 2018'\]"):
        rob_summary(ROB2_TABLE, weights={"Trial A 2001": 1, "Trial B 2005": 1, "Trial C 2010": 1})
    with pytest.raises(InputError, match=r"weights add up to 0"):
        rob_summary(ROB2_TABLE, weights=[0, 0, 0, 0])
    with pytest.raises(InputError, match=r"weights='n' is not a column of assessments"):
        rob_summary(ROB2_TABLE, weights="n")
    res = rma([0.1, 0.3], [0.04, 0.01], slab=["Trial A 2001", "Other"])
    with pytest.raises(
        InputError,
        match=r"studies \['Trial B 2005', 'Trial C 2010', "
        r"'Trial D 2018'\] are not in the model",
    ):
        rob_summary(ROB2_TABLE, weights=res)
