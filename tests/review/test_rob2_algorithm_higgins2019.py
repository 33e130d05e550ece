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
