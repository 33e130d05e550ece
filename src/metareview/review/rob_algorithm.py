"""Signalling questions of RoB 2 and the published algorithm that maps their answers to a
suggested judgement per domain; suggested overall judgements of RoB 2 and ROBINS-I.

RoB 2 is the version of 22 August 2019 for individually randomised, parallel-group trials,
assessing the effect of assignment to intervention (the "intention-to-treat" effect). Each
domain has signalling questions answered ``Y`` (yes), ``PY`` (probably yes), ``PN``
(probably no), ``N`` (no) or ``NI`` (no information); a question that depends on an earlier
answer is ``NA`` (not applicable) when that answer does not call for it. The algorithm below
is the guidance's, domain by domain (its flow charts and "criteria for reaching risk-of-bias
judgements" tables); the reviewer may override the suggestion with a reason, as the guidance
allows ("Both the proposed domain-level and overall risk-of-bias judgements can be
overridden by the review authors, with justification": Cochrane Handbook v6, ch. 8, key
points).

Question texts are shortened from the guidance; the page shows them with the domain's name.

References
----------
Higgins JPT, Savović J, Page MJ, Sterne JAC, on behalf of the RoB 2 Development Group.
Revised Cochrane risk-of-bias tool for randomized trials (RoB 2), detailed guidance,
22 August 2019. https://www.riskofbias.info/welcome/rob-2-0-tool/current-version-of-rob-2

Sterne JAC, Savović J, Page MJ, et al. (2019). RoB 2: a revised tool for assessing risk of
bias in randomised trials. BMJ 366:l4898. https://doi.org/10.1136/bmj.l4898

Sterne JAC, Hernán MA, Reeves BC, et al. (2016). ROBINS-I: a tool for assessing risk of bias
in non-randomised studies of interventions. BMJ 355:i4919 (Table 3: overall judgement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metareview.exceptions import InputError

__all__ = [
    "ANSWERS",
    "ROB2_QUESTIONS",
    "Question",
    "applicable_questions",
    "check_answers",
    "suggest_domain",
    "suggest_overall",
]

#: every answer a signalling question takes (``NA``: not applicable, set by the algorithm)
ANSWERS = ("Y", "PY", "PN", "N", "NI")
YES = frozenset({"Y", "PY"})
NO = frozenset({"N", "PN"})

LOW, SOME, HIGH = "Low", "Some concerns", "High"


@dataclass(frozen=True, slots=True)
class Question:
    """One signalling question: its number (``"1.2"``), domain code and text; ``answers``
    lists the answers it accepts (3.2 has no ``NI``)."""

    number: str
    domain: str
    text: str
    answers: tuple[str, ...] = ANSWERS


def _q(number: str, text: str, answers: tuple[str, ...] = ANSWERS) -> Question:
    return Question(number, f"D{number.split('.')[0]}", text, answers)


#: RoB 2 signalling questions (individually randomised parallel-group trials, effect of
#: assignment to intervention), in the guidance's order
ROB2_QUESTIONS: tuple[Question, ...] = (
    _q("1.1", "Was the allocation sequence random?"),
    _q(
        "1.2",
        "Was the allocation sequence concealed until participants were enrolled and "
        "assigned to interventions?",
    ),
    _q(
        "1.3",
        "Did baseline differences between intervention groups suggest a problem with the "
        "randomisation process?",
    ),
    _q("2.1", "Were participants aware of their assigned intervention during the trial?"),
    _q(
        "2.2",
        "Were carers and people delivering the interventions aware of participants' "
        "assigned intervention during the trial?",
    ),
    _q(
        "2.3",
        "If Y/PY/NI to 2.1 or 2.2: were there deviations from the intended intervention "
        "that arose because of the trial context?",
    ),
    _q("2.4", "If Y/PY to 2.3: were these deviations likely to have affected the outcome?"),
    _q("2.5", "If Y/PY/NI to 2.4: were these deviations balanced between groups?"),
    _q(
        "2.6",
        "Was an appropriate analysis used to estimate the effect of assignment to intervention?",
    ),
    _q(
        "2.7",
        "If N/PN/NI to 2.6: was there potential for a substantial impact (on the result) of "
        "the failure to analyse participants in the group to which they were randomised?",
    ),
    _q(
        "3.1",
        "Were data for this outcome available for all, or nearly all, participants randomised?",
    ),
    _q(
        "3.2",
        "If N/PN/NI to 3.1: is there evidence that the result was not biased by missing "
        "outcome data?",
        ("Y", "PY", "PN", "N"),
    ),
    _q("3.3", "If N/PN to 3.2: could missingness in the outcome depend on its true value?"),
    _q(
        "3.4",
        "If Y/PY/NI to 3.3: is it likely that missingness in the outcome depended on its "
        "true value?",
    ),
    _q("4.1", "Was the method of measuring the outcome inappropriate?"),
    _q(
        "4.2",
        "Could measurement or ascertainment of the outcome have differed between "
        "intervention groups?",
    ),
    _q(
        "4.3",
        "If N/PN/NI to 4.1 and 4.2: were outcome assessors aware of the intervention "
        "received by study participants?",
    ),
    _q(
        "4.4",
        "If Y/PY/NI to 4.3: could assessment of the outcome have been influenced by "
        "knowledge of intervention received?",
    ),
    _q(
        "4.5",
        "If Y/PY/NI to 4.4: is it likely that assessment of the outcome was influenced by "
        "knowledge of intervention received?",
    ),
    _q(
        "5.1",
        "Were the data that produced this result analysed in accordance with a "
        "pre-specified analysis plan that was finalised before unblinded outcome data were "
        "available for analysis?",
    ),
    _q(
        "5.2",
        "Is the numerical result being assessed likely to have been selected, on the basis "
        "of the results, from multiple eligible outcome measurements within the outcome "
        "domain?",
    ),
    _q(
        "5.3",
        "Is the numerical result being assessed likely to have been selected, on the basis "
        "of the results, from multiple eligible analyses of the data?",
    ),
)
_BY_NUMBER = {q.number: q for q in ROB2_QUESTIONS}
DOMAINS = ("D1", "D2", "D3", "D4", "D5")


def _needs(answers: Mapping[str, str]) -> dict[str, bool]:
    """Which questions apply given the answers so far (the guidance's "If ... to ..." rules)."""
    a = answers.get
    aware = a("2.1") in YES | {"NI"} or a("2.2") in YES | {"NI"}
    return {
        "2.3": aware,
        "2.4": aware and a("2.3") in YES,
        "2.5": aware and a("2.3") in YES and a("2.4") in YES | {"NI"},
        "2.7": a("2.6") in NO | {"NI"},
        "3.2": a("3.1") in NO | {"NI"},
        "3.3": a("3.1") in NO | {"NI"} and a("3.2") in NO,
        "3.4": a("3.1") in NO | {"NI"} and a("3.2") in NO and a("3.3") in YES | {"NI"},
        "4.3": a("4.1") in NO | {"NI"} and a("4.2") in NO | {"NI"},
        "4.4": a("4.1") in NO | {"NI"} and a("4.2") in NO | {"NI"} and a("4.3") in YES | {"NI"},
        "4.5": a("4.1") in NO | {"NI"}
        and a("4.2") in NO | {"NI"}
        and a("4.3") in YES | {"NI"}
        and a("4.4") in YES | {"NI"},
    }


def applicable_questions(domain: str, answers: Mapping[str, str]) -> list[str]:
    """The question numbers of ``domain`` that apply given ``answers`` (the rest are NA).

    >>> applicable_questions("D3", {"3.1": "Y"})
    ['3.1']
    >>> applicable_questions("D3", {"3.1": "N", "3.2": "N", "3.3": "PY"})
    ['3.1', '3.2', '3.3', '3.4']
    """
    needs = _needs(answers)
    return [q.number for q in ROB2_QUESTIONS if q.domain == domain and needs.get(q.number, True)]


def check_answers(study: str, answers: Mapping[str, str]) -> dict[str, str]:
    """``answers`` (question number -> answer) checked: known questions, accepted answers
    (upper-cased); a question that does not apply is dropped. InputError naming the study
    and the question otherwise."""
    clean = {}
    for number, value in answers.items():
        if number not in _BY_NUMBER:
            raise InputError(
                f"study {study!r}: {number!r} is not a RoB 2 signalling question (1.1 ... 5.3)."
            )
        text = str(value).strip().upper()
        if text in ("", "NA"):
            continue
        accepted = _BY_NUMBER[number].answers
        if text not in accepted:
            raise InputError(
                f"study {study!r}, signalling question {number}: the answer must be one of "
                f"{', '.join(accepted)}; got {value!r}."
            )
        clean[number] = text
    needs = _needs(clean)
    return {n: v for n, v in clean.items() if needs.get(n, True)}


def suggest_domain(domain: str, answers: Mapping[str, str]) -> str | None:
    """The judgement the RoB 2 algorithm suggests for ``domain`` (``"D1"`` ... ``"D5"``)
    from the signalling ``answers``; None while a question the algorithm needs is
    unanswered.

    Notes
    -----
    The guidance's algorithms (22 August 2019), as flow charts:

    - D1: 1.2 N/PN -> High. 1.2 Y/PY: 1.3 Y/PY -> Some concerns; else 1.1 N/PN -> Some
      concerns, 1.1 Y/PY/NI -> Low. 1.2 NI: 1.3 Y/PY -> High, else Some concerns.
    - D2, part 1 (2.1-2.5): 2.1 and 2.2 both N/PN -> Low; else 2.3 N/PN -> Low, 2.3 NI ->
      Some concerns, 2.3 Y/PY: 2.4 N/PN -> Some concerns, else 2.5 Y/PY -> Some concerns,
      2.5 N/PN/NI -> High. Part 2: 2.6 Y/PY -> Low; else 2.7 N/PN -> Some concerns, 2.7
      Y/PY/NI -> High. The domain is Low if both parts are, High if either is, else Some
      concerns.
    - D3: 3.1 Y/PY -> Low; else 3.2 Y/PY -> Low; else 3.3 N/PN -> Low; else 3.4 N/PN ->
      Some concerns, 3.4 Y/PY/NI -> High.
    - D4: 4.1 Y/PY or 4.2 Y/PY -> High. 4.2 N/PN: 4.3 N/PN -> Low; else 4.4 N/PN -> Low;
      else 4.5 N/PN -> Some concerns, 4.5 Y/PY/NI -> High. 4.2 NI: the same path, with
      Some concerns where 4.2 N/PN gives Low.
    - D5: 5.2 or 5.3 Y/PY -> High; 5.2 and 5.3 both N/PN with 5.1 Y/PY -> Low; else Some
      concerns.

    Examples
    --------
    >>> suggest_domain("D1", {"1.1": "Y", "1.2": "Y", "1.3": "N"})
    'Low'
    >>> suggest_domain("D1", {"1.1": "Y", "1.2": "NI", "1.3": "PY"})
    'High'
    >>> suggest_domain("D3", {"3.1": "N"}) is None   # 3.2 still to answer
    True
    """
    if domain not in DOMAINS:
        raise InputError(f"domain must be one of {list(DOMAINS)}; got {domain!r}.")
    a = dict(answers)
    try:
        return _RULES[domain](a)
    except KeyError:  # a question on the path is unanswered
        return None


def _d1(a: dict[str, str]) -> str:
    concealed = a["1.2"]
    if concealed in NO:
        return HIGH
    if concealed in YES:
        if a["1.3"] in YES:
            return SOME
        return SOME if a["1.1"] in NO else LOW
    return HIGH if a["1.3"] in YES else SOME  # 1.2 NI


def _d2(a: dict[str, str]) -> str:
    parts = (_d2_deviations(a), _d2_analysis(a))
    if HIGH in parts:
        return HIGH
    return LOW if parts == (LOW, LOW) else SOME


def _d2_deviations(a: dict[str, str]) -> str:
    """Part 1 (2.1-2.5): awareness and deviations that arose because of the trial context."""
    if (a["2.1"] in NO and a["2.2"] in NO) or a["2.3"] in NO:
        return LOW
    if a["2.3"] == "NI" or a["2.4"] in NO:
        return SOME
    return SOME if a["2.5"] in YES else HIGH


def _d2_analysis(a: dict[str, str]) -> str:
    """Part 2 (2.6-2.7): the analysis of the effect of assignment."""
    if a["2.6"] in YES:
        return LOW
    return SOME if a["2.7"] in NO else HIGH


def _d3(a: dict[str, str]) -> str:
    if a["3.1"] in YES or a["3.2"] in YES or a["3.3"] in NO:
        return LOW
    return SOME if a["3.4"] in NO else HIGH


def _d4(a: dict[str, str]) -> str:
    if a["4.1"] in YES or a["4.2"] in YES:
        return HIGH
    best = LOW if a["4.2"] in NO else SOME  # 4.2 NI: at best Some concerns
    if a["4.3"] in NO or a["4.4"] in NO:
        return best
    return SOME if a["4.5"] in NO else HIGH


def _d5(a: dict[str, str]) -> str:
    if a.get("5.2") in YES or a.get("5.3") in YES:
        return HIGH
    selected = (a["5.2"], a["5.3"])  # neither Y/PY: both must be answered to go on
    if all(x in NO for x in selected):
        return LOW if a["5.1"] in YES else SOME
    return SOME  # 5.2 or 5.3 NI


_RULES = {"D1": _d1, "D2": _d2, "D3": _d3, "D4": _d4, "D5": _d5}

#: ROBINS-I (2016) levels, least severe first, and where "No information" ranks
_ROBINS_ORDER = ("Low", "Moderate", "No information", "Serious", "Critical")


def suggest_overall(tool: str, judgements: Mapping[str, str]) -> str | None:
    """The overall judgement the tool's guidance proposes from the domain ``judgements``
    (None until every domain is judged).

    RoB 2 (Sterne et al. 2019, Table 2): Low if every domain is Low, High if any domain is
    High, otherwise Some concerns (reviewers may raise several Some concerns to High, with a
    reason). ROBINS-I (Sterne et al. 2016, Table 3): the most severe domain judgement;
    "No information" when no domain is Serious or Critical and information is lacking in
    one or more domains.

    >>> suggest_overall("RoB2", {"D1": "Low", "D2": "Some concerns", "D3": "Low",
    ...                          "D4": "Low", "D5": "Low"})
    'Some concerns'
    """
    if tool == "RoB2":
        domains, order = DOMAINS, (LOW, SOME, HIGH)
    elif tool == "ROBINS-I":
        domains, order = tuple(f"D{i}" for i in range(1, 8)), _ROBINS_ORDER
    else:
        return None
    if any(judgements.get(d) not in order for d in domains):
        return None
    return max((judgements[d] for d in domains), key=order.index)
