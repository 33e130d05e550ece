"""The RoB 2 algorithm against the published guidance.

Source of every expected judgement (typed by hand from the source, never from this package):
Higgins JPT, Savović J, Page MJ, Sterne JAC (eds). Revised Cochrane risk-of-bias tool for
randomized trials (RoB 2), detailed guidance, 22 August 2019 (riskofbias.info): for each
domain, the "criteria for reaching risk-of-bias judgements" table and the algorithm's flow
chart (sections 4 to 8: randomization process; deviations from intended interventions,
effect of assignment, parts 1 and 2; missing outcome data; measurement of the outcome;
selection of the reported result). Overall judgement: Sterne JAC et al. (2019) BMJ
366:l4898, Table 2 ("Low ... all domains"; "Some concerns ... at least one domain, but not
at high risk for any domain"; "High ... at least one domain").

Each case is one row of a criteria table (or one leaf of a flow chart), named after it.
"""

from __future__ import annotations

import itertools

import pytest

from metareview.exceptions import InputError
from metareview.review.rob_algorithm import (
    ROB2_QUESTIONS,
    applicable_questions,
    check_answers,
    suggest_domain,
    suggest_overall,
)

# (domain, answers, expected, the criterion of the guidance it is)
CASES = [
    # Domain 1: bias arising from the randomization process
    ("D1", {"1.1": "Y", "1.2": "Y", "1.3": "N"}, "Low", "concealed, random, no imbalance"),
    ("D1", {"1.1": "NI", "1.2": "PY", "1.3": "NI"}, "Low", "concealed; NI on sequence: low"),
    ("D1", {"1.1": "N", "1.2": "Y", "1.3": "PN"}, "Some concerns", "concealed, not random"),
    ("D1", {"1.1": "Y", "1.2": "Y", "1.3": "Y"}, "Some concerns", "concealed, imbalance"),
    ("D1", {"1.1": "Y", "1.2": "NI", "1.3": "N"}, "Some concerns", "NI on concealment"),
    ("D1", {"1.1": "Y", "1.2": "NI", "1.3": "PY"}, "High", "NI concealment + imbalance"),
    ("D1", {"1.1": "Y", "1.2": "N", "1.3": "N"}, "High", "not concealed"),
    ("D1", {"1.1": "Y", "1.2": "PN", "1.3": "NI"}, "High", "probably not concealed"),
    # Domain 2 (effect of assignment): part 1 (2.1-2.5) and part 2 (2.6-2.7)
    ("D2", {"2.1": "N", "2.2": "N", "2.6": "Y"}, "Low", "blinded, ITT"),
    ("D2", {"2.1": "Y", "2.2": "Y", "2.3": "N", "2.6": "PY"}, "Low", "aware, no deviations"),
    ("D2", {"2.1": "Y", "2.2": "N", "2.3": "NI", "2.6": "Y"}, "Some concerns", "NI deviations"),
    (
        "D2",
        {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "PN", "2.6": "Y"},
        "Some concerns",
        "deviations not affecting the outcome",
    ),
    (
        "D2",
        {"2.1": "Y", "2.2": "Y", "2.3": "Y", "2.4": "Y", "2.5": "Y", "2.6": "Y"},
        "Some concerns",
        "deviations balanced",
    ),
    (
        "D2",
        {"2.1": "Y", "2.2": "Y", "2.3": "PY", "2.4": "NI", "2.5": "N", "2.6": "Y"},
        "High",
        "deviations unbalanced",
    ),
    (
        "D2",
        {"2.1": "NI", "2.2": "N", "2.3": "PY", "2.4": "Y", "2.5": "NI", "2.6": "Y"},
        "High",
        "NI on awareness, deviations, NI balance",
    ),
    (
        "D2",
        {"2.1": "N", "2.2": "PN", "2.6": "N", "2.7": "N"},
        "Some concerns",
        "per-protocol analysis, no substantial impact",
    ),
    (
        "D2",
        {"2.1": "N", "2.2": "N", "2.6": "NI", "2.7": "Y"},
        "High",
        "inappropriate analysis with potential substantial impact",
    ),
    ("D2", {"2.1": "N", "2.2": "N", "2.6": "PN", "2.7": "NI"}, "High", "2.7 NI is high"),
    # Domain 3: missing outcome data
    ("D3", {"3.1": "Y"}, "Low", "data for nearly all"),
    ("D3", {"3.1": "N", "3.2": "PY"}, "Low", "evidence result not biased"),
    ("D3", {"3.1": "NI", "3.2": "N", "3.3": "PN"}, "Low", "missingness not on true value"),
    (
        "D3",
        {"3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "N"},
        "Some concerns",
        "could depend, not likely",
    ),
    ("D3", {"3.1": "N", "3.2": "PN", "3.3": "NI", "3.4": "PY"}, "High", "likely depends"),
    ("D3", {"3.1": "PN", "3.2": "N", "3.3": "Y", "3.4": "NI"}, "High", "3.4 NI is high"),
    # Domain 4: measurement of the outcome
    ("D4", {"4.1": "Y"}, "High", "inappropriate method"),
    ("D4", {"4.1": "N", "4.2": "PY"}, "High", "measurement differed between groups"),
    ("D4", {"4.1": "N", "4.2": "N", "4.3": "N"}, "Low", "assessors blinded"),
    (
        "D4",
        {"4.1": "NI", "4.2": "PN", "4.3": "Y", "4.4": "PN"},
        "Low",
        "aware, could not be influenced",
    ),
    (
        "D4",
        {"4.1": "N", "4.2": "N", "4.3": "Y", "4.4": "Y", "4.5": "PN"},
        "Some concerns",
        "could be, not likely influenced",
    ),
    (
        "D4",
        {"4.1": "N", "4.2": "N", "4.3": "PY", "4.4": "NI", "4.5": "Y"},
        "High",
        "likely influenced",
    ),
    (
        "D4",
        {"4.1": "N", "4.2": "NI", "4.3": "N"},
        "Some concerns",
        "NI on differing measurement, assessors blinded",
    ),
    (
        "D4",
        {"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "N"},
        "Some concerns",
        "NI on differing, could not be influenced",
    ),
    (
        "D4",
        {"4.1": "N", "4.2": "NI", "4.3": "Y", "4.4": "Y", "4.5": "NI"},
        "High",
        "NI on differing, 4.5 NI",
    ),
    # Domain 5: selection of the reported result
    ("D5", {"5.1": "Y", "5.2": "N", "5.3": "PN"}, "Low", "pre-specified, no selection"),
    ("D5", {"5.1": "NI", "5.2": "N", "5.3": "N"}, "Some concerns", "no plan, no selection"),
    ("D5", {"5.1": "Y", "5.2": "NI", "5.3": "N"}, "Some concerns", "NI on selection"),
    ("D5", {"5.1": "Y", "5.2": "PY", "5.3": "N"}, "High", "selected from measurements"),
    ("D5", {"5.1": "Y", "5.2": "N", "5.3": "Y"}, "High", "selected from analyses"),
]


@pytest.mark.parametrize(
    ("domain", "answers", "expected"),
    [c[:3] for c in CASES],
    ids=[f"{c[0]} {c[3]}" for c in CASES],
)
def test_domain_judgement_as_the_guidance(domain: str, answers: dict, expected: str) -> None:
    assert suggest_domain(domain, answers) == expected


def test_answers_off_the_path_do_not_change_the_judgement() -> None:
    """Questions that do not apply (NA) are dropped before the algorithm sees them."""
    answers = {"3.1": "Y", "3.2": "N", "3.3": "Y", "3.4": "Y"}
    assert check_answers("Trial A", answers) == {"3.1": "Y"}
    assert applicable_questions("D2", {"2.1": "N", "2.2": "N", "2.6": "N"}) == [
        "2.1",
        "2.2",
        "2.6",
        "2.7",
    ]


def test_unanswered_question_on_the_path_gives_no_suggestion() -> None:
    assert suggest_domain("D1", {"1.2": "Y", "1.3": "N"}) is None  # 1.1 needed
    assert suggest_domain("D5", {"5.2": "NI"}) is None  # 5.3 could still be Y
    assert suggest_domain("D2", {"2.1": "Y", "2.2": "N", "2.3": "N"}) is None  # 2.6


def test_every_full_answer_set_gets_one_of_the_three_judgements() -> None:
    """Exhaustive over every answer combination of the applicable questions of D1 and D3."""
    for values in itertools.product(("Y", "PY", "PN", "N", "NI"), repeat=3):
        got = suggest_domain("D1", dict(zip(("1.1", "1.2", "1.3"), values, strict=True)))
        assert got in ("Low", "Some concerns", "High")
    for values in itertools.product(("Y", "N", "NI"), ("Y", "N"), ("Y", "N", "NI"), ("Y", "N")):
        answers = check_answers("T", dict(zip(("3.1", "3.2", "3.3", "3.4"), values, strict=True)))
        assert suggest_domain("D3", answers) in ("Low", "Some concerns", "High")


def test_overall_is_the_least_favourable_domain() -> None:
    low = dict.fromkeys(("D1", "D2", "D3", "D4", "D5"), "Low")
    assert suggest_overall("RoB2", low) == "Low"
    assert suggest_overall("RoB2", {**low, "D3": "Some concerns"}) == "Some concerns"
    assert suggest_overall("RoB2", {**low, "D2": "Some concerns", "D5": "High"}) == "High"
    assert suggest_overall("RoB2", {**low, "D4": None}) is None
    robins = dict.fromkeys((f"D{i}" for i in range(1, 8)), "Low")
    assert suggest_overall("ROBINS-I", {**robins, "D1": "Moderate"}) == "Moderate"
    assert suggest_overall("ROBINS-I", {**robins, "D1": "Moderate", "D5": "No information"}) == (
        "No information"
    )
    assert suggest_overall("ROBINS-I", {**robins, "D5": "No information", "D2": "Serious"}) == (
        "Serious"
    )
    assert suggest_overall("ROBINS-I", {**robins, "D7": "Critical", "D2": "Serious"}) == (
        "Critical"
    )


def test_bad_answers_name_the_study_and_question() -> None:
    with pytest.raises(InputError, match=r"study 'T', signalling question 1.1: .* got 'maybe'"):
        check_answers("T", {"1.1": "maybe"})
    with pytest.raises(InputError, match=r"signalling question 3.2: .*Y, PY, PN, N; got 'NI'"):
        check_answers("T", {"3.1": "N", "3.2": "NI"})
    with pytest.raises(InputError, match=r"'6\.1' is not a RoB 2 signalling question"):
        check_answers("T", {"6.1": "Y"})
    with pytest.raises(InputError, match="domain must be one of"):
        suggest_domain("D6", {})
    assert len(ROB2_QUESTIONS) == 3 + 7 + 4 + 5 + 3  # per domain, as in the guidance


# ---------------------------------------------------------------- the NI branches, exhaustively
#
# Re-checked (issue 15) for every answer combination of domains 2 and 4 against the criteria
# as decision tables, written out here by hand in the form of the guidance's "criteria for
# reaching risk-of-bias judgements" (one row per leaf of its algorithm figure; a question
# left out of a row is not on that path). Sources read for this re-check:
# - the question conditions ("If Y/PY/NI to 2.1 or 2.2", "If Y/PY to 2.3", "If Y/PY/NI to
#   2.4", "If N/PN/NI to 2.6", "If N/PN/NI to 4.1 and 4.2", "If Y/PY/NI to 4.3", "If Y/PY/NI
#   to 4.4"): the guidance of 22 August 2019, Box 10 (domain 4), and its cribsheet;
# - the leaves: the decision tables of the riskofbias.info Excel tool as ported to Google
#   Sheets (github.com/fabioTowers/rob_2_for_google_sheets, src/afD2ITTJavaScript.html and
#   src/afD4JavaScript.html; the port credits the tool's authors). The guidance PDF's
#   figures themselves could not be read here.
# Where an NI leads: 2.3 NI -> Some concerns (2.4 is not asked); 2.6 NI is read as N/PN
# (2.7 is asked); 2.4 NI and 2.5 NI follow Y/PY and N/PN; 4.1 NI is read as N/PN; 4.2 NI
# takes the 4.2 N/PN path with every Low leaf lowered to Some concerns; 4.3, 4.4 and 4.5 NI
# follow Y/PY. Another open implementation (github.com/rob-luke/risk-of-bias) differs on two
# of these -- it gives Low for 4.2 NI with blinded assessors and for 2.6 NI -- and contradicts
# the guidance's own question conditions in doing so (2.7 is asked after 2.6 NI).

Y_, N_, NI_ = {"Y", "PY"}, {"N", "PN"}, {"NI"}

D2_PART1 = [  # (conditions, judgement): 2.1-2.5
    ({"2.1": N_, "2.2": N_}, "Low"),
    ({"aware": True, "2.3": N_}, "Low"),
    ({"aware": True, "2.3": NI_}, "Some concerns"),
    ({"aware": True, "2.3": Y_, "2.4": N_}, "Some concerns"),
    ({"aware": True, "2.3": Y_, "2.4": Y_ | NI_, "2.5": Y_}, "Some concerns"),
    ({"aware": True, "2.3": Y_, "2.4": Y_ | NI_, "2.5": N_ | NI_}, "High"),
]
D2_PART2 = [  # 2.6-2.7
    ({"2.6": Y_}, "Low"),
    ({"2.6": N_ | NI_, "2.7": N_}, "Some concerns"),
    ({"2.6": N_ | NI_, "2.7": Y_ | NI_}, "High"),
]
D4_ROWS = [
    ({"4.1": Y_}, "High"),
    ({"4.1": N_ | NI_, "4.2": Y_}, "High"),
    ({"4.1": N_ | NI_, "4.2": N_, "4.3": N_}, "Low"),
    ({"4.1": N_ | NI_, "4.2": N_, "4.3": Y_ | NI_, "4.4": N_}, "Low"),
    ({"4.1": N_ | NI_, "4.2": N_, "4.3": Y_ | NI_, "4.4": Y_ | NI_, "4.5": N_}, "Some concerns"),
    ({"4.1": N_ | NI_, "4.2": N_, "4.3": Y_ | NI_, "4.4": Y_ | NI_, "4.5": Y_ | NI_}, "High"),
    ({"4.1": N_ | NI_, "4.2": NI_, "4.3": N_}, "Some concerns"),
    ({"4.1": N_ | NI_, "4.2": NI_, "4.3": Y_ | NI_, "4.4": N_}, "Some concerns"),
    ({"4.1": N_ | NI_, "4.2": NI_, "4.3": Y_ | NI_, "4.4": Y_ | NI_, "4.5": N_}, "Some concerns"),
    ({"4.1": N_ | NI_, "4.2": NI_, "4.3": Y_ | NI_, "4.4": Y_ | NI_, "4.5": Y_ | NI_}, "High"),
]


def _row(rows, answers: dict) -> str:
    """The judgement of the one row whose conditions ``answers`` meet."""
    aware = answers.get("2.1") in Y_ | NI_ or answers.get("2.2") in Y_ | NI_
    hits = [
        judgement
        for conditions, judgement in rows
        if all(
            (aware == want) if key == "aware" else answers.get(key) in want
            for key, want in conditions.items()
        )
    ]
    assert len(hits) == 1, (answers, hits)  # the table is a partition of the paths
    return hits[0]


def _every_path(numbers: tuple[str, ...]):
    for values in itertools.product(("Y", "PY", "PN", "N", "NI"), repeat=len(numbers)):
        yield check_answers("T", dict(zip(numbers, values, strict=True)))


def test_domain_2_every_answer_combination_as_the_criteria_tables() -> None:
    seen = set()
    for answers in _every_path(("2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7")):
        parts = (_row(D2_PART1, answers), _row(D2_PART2, answers))
        expected = (
            "High" if "High" in parts else "Low" if parts == ("Low", "Low") else "Some concerns"
        )
        assert suggest_domain("D2", answers) == expected, answers
        seen.add(expected)
    assert seen == {"Low", "Some concerns", "High"}


def test_domain_4_every_answer_combination_as_the_criteria_table() -> None:
    for answers in _every_path(("4.1", "4.2", "4.3", "4.4", "4.5")):
        assert suggest_domain("D4", answers) == _row(D4_ROWS, answers), answers
    # the NI leaves named above
    assert suggest_domain("D4", {"4.1": "NI", "4.2": "NI", "4.3": "N"}) == "Some concerns"
    assert suggest_domain("D4", {"4.1": "NI", "4.2": "N", "4.3": "NI", "4.4": "N"}) == "Low"
    assert suggest_domain("D2", {"2.1": "N", "2.2": "N", "2.6": "NI", "2.7": "N"}) == (
        "Some concerns"
    )
