"""Dual risk-of-bias assessment in the store: signalling answers, suggested judgements,
overrides with a reason, blinding until both assessments are complete, consensus, and the
agreed table the figures draw."""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review.extraction_form import ExtractionForm

from .builders import screen_all, write_ris

LOW_ANSWERS = {
    "1.1": "Y",
    "1.2": "Y",
    "1.3": "N",
    "2.1": "N",
    "2.2": "N",
    "2.6": "Y",
    "3.1": "Y",
    "4.1": "N",
    "4.2": "N",
    "4.3": "N",
    "5.1": "Y",
    "5.2": "N",
    "5.3": "N",
}
ALL_LOW = dict.fromkeys(("D1", "D2", "D3", "D4", "D5", "Overall"), "Low")


@pytest.fixture
def two_studies(store: Store, tmp_path: Path) -> Store:
    store.import_file("review", write_ris(tmp_path / "search.ris", 4), database="PubMed")
    for name in ("Ana", "Ben", "Cy"):
        store.add_reviewer("review", name)
    ids = store.records("review")["id"].tolist()
    screen_all(store, ids)
    store.assign_study("review", "Trial A", [ids[0]], actor="Cy")
    store.assign_study("review", "Trial B", [ids[3]], actor="Cy")
    return store


def test_answers_suggest_and_an_override_needs_a_reason(two_studies: Store) -> None:
    store = two_studies
    suggested = store.assess_rob(
        "review", "Trial A", "RoB2", reviewer="Ana", answers=LOW_ANSWERS, judgements=ALL_LOW
    )
    assert suggested == ALL_LOW
    with pytest.raises(InputError, match=r"domain D1: the algorithm suggests 'Low'; judging"):
        store.assess_rob(
            "review",
            "Trial A",
            "RoB2",
            reviewer="Ana",
            answers=LOW_ANSWERS,
            judgements={"D1": "High"},
        )
    store.assess_rob(
        "review",
        "Trial A",
        "RoB2",
        reviewer="Ana",
        answers=LOW_ANSWERS,
        judgements={"D1": "Some concerns", "Overall": "Some concerns"},
        support={"D1": "imbalance in baseline pain the report calls chance"},
    )
    mine = store.rob_assessment("review", "Trial A", "RoB2", "Ana")
    assert mine["judgements"]["D1"] == "Some concerns"
    assert mine["suggested"]["D1"] == "Low"
    assert mine["suggested"]["Overall"] == "Some concerns"  # from the entered domains
    assert mine["answers"] == LOW_ANSWERS
    log = store.audit_log()
    assert "judged against the suggested 'Low'" in set(
        log.loc[log["entity"] == "rob_judgement", "reason"]
    )
    # answers to questions that no longer apply are dropped (NA), and audited
    store.assess_rob(
        "review",
        "Trial A",
        "RoB2",
        reviewer="Ana",
        answers={**LOW_ANSWERS, "4.3": "Y"},
        judgements={},
    )
    assert "4.4" not in store.rob_assessment("review", "Trial A", "RoB2", "Ana")["answers"]


def test_blinded_until_both_complete_then_conflicts_and_consensus(two_studies: Store) -> None:
    store = two_studies
    store.assess_rob(
        "review", "Trial A", "RoB2", reviewer="Ana", answers=LOW_ANSWERS, judgements=ALL_LOW
    )
    high = {**LOW_ANSWERS, "3.1": "N", "3.2": "N", "3.3": "Y", "3.4": "Y"}
    store.assess_rob(
        "review",
        "Trial A",
        "RoB2",
        reviewer="Ben",
        answers=high,
        judgements={**ALL_LOW, "D3": "High"},
        support={"Overall": "one domain high, but the outcome is objective"},
    )
    # Ben's Overall (Low) overrides the suggested High: allowed, with his reason
    progress = store.rob_progress("review", "RoB2").set_index("study")
    assert progress.loc["Trial A", "assessors"] == ["Ana", "Ben"]
    assert bool(progress.loc["Trial A", "complete"])
    assert progress.loc["Trial A", "conflicts"] == 1  # D3
    assert not bool(progress.loc["Trial B", "complete"])
    # Trial B: only Ana so far -> Ben must not see her judgements
    store.assess_rob(
        "review", "Trial B", "RoB2", reviewer="Ana", answers=LOW_ANSWERS, judgements=ALL_LOW
    )
    seen_by_ben = store.visible_rob_judgements("review", "RoB2", "Ben")
    assert set(seen_by_ben["study"]) == {"Trial A"}
    assert set(store.visible_rob_judgements("review", "RoB2", "Ana")["study"]) == {
        "Trial A",
        "Trial B",
    }
    with pytest.raises(InputError, match=r"Trial B.*not complete yet"):
        store.record_rob_consensus(
            "review", "Trial B", "RoB2", "D1", "Low", by="Cy", reason="agreed"
        )
    table, pending = store.rob_agreed_table("review", "RoB2")
    assert table.empty and pending == ["Trial A", "Trial B"]
    store.record_rob_consensus(
        "review", "Trial A", "RoB2", "D3", "Some concerns", by="Cy", reason="attrition balanced"
    )
    table, pending = store.rob_agreed_table("review", "RoB2")
    assert list(table.index) == ["Trial A"] and pending == ["Trial B"]
    assert table.loc["Trial A", "D3"] == "Some concerns"
    assert list(table.columns) == ["D1", "D2", "D3", "D4", "D5", "Overall"]


def test_nos_and_robins_forms(two_studies: Store) -> None:
    store = two_studies
    stars = {"Selection": 3, "Comparability": 1, "Outcome": "**"}
    for who in ("Ana", "Ben"):
        store.assess_rob("review", "Trial A", "NOS", reviewer=who, judgements=stars)
    table, _ = store.rob_agreed_table("review", "NOS")
    assert table.loc["Trial A"].tolist() == [3, 1, 2]
    with pytest.raises(InputError, match="signalling questions are kept for RoB 2 only"):
        store.assess_rob(
            "review", "Trial B", "NOS", reviewer="Ana", answers={"1.1": "Y"}, judgements={}
        )
    robins = {f"D{i}": "Low" for i in range(1, 8)} | {"D1": "Serious"}
    with pytest.raises(InputError, match="suggests 'Serious'; judging it 'Moderate' needs"):
        store.assess_rob(
            "review",
            "Trial B",
            "ROBINS-I",
            reviewer="Ana",
            judgements={**robins, "Overall": "Moderate"},
        )


def test_agreed_table_holds_only_completely_extracted_studies(
    two_studies: Store, form: ExtractionForm
) -> None:
    """A live analysis must not pool a value while the other extractor is still at work."""
    store = two_studies
    for study in ("Trial A", "Trial B"):
        store.extract("review", study, "Ana", {"n": 20, "design": "RCT"}, form)
    store.extract("review", "Trial A", "Ben", {"n": 20, "design": "RCT"}, form)
    table, pending = store.agreed_studies_table("review", form)
    assert table["study"].tolist() == ["Trial A"] and pending == ["Trial B"]
    store.extract("review", "Trial B", "Ben", {"n": 22, "design": "RCT"}, form)
    with pytest.raises(InputError, match=r"1 extraction conflicts are open \(Trial B/n\)"):
        store.agreed_studies_table("review", form)
    store.resolve_extraction("review", "Trial B", "n", 21, form, by="Cy", reason="Table 1")
    table, pending = store.agreed_studies_table("review", form)
    assert table["n"].tolist() == [20, 21] and pending == []


def test_agreed_table_in_browser_extraction_waits_for_both_submissions(
    two_studies: Store, form: ExtractionForm
) -> None:
    """With a stored form (extraction in the browser) a draft is never pooled."""
    store = two_studies
    section = {"fields": {"n": {"type": "integer", "min": 1, "required": True}}}
    store.set_extraction_form("review", section, actor="Cy")
    form = store.extraction_form("review")
    store.save_extraction("review", "Trial A", "Ana", {"n": "20"})
    store.submit_extraction("review", "Trial A", "Ana")
    store.save_extraction("review", "Trial A", "Ben", {"n": "20"})  # a draft
    table, pending = store.agreed_studies_table("review", form)
    assert table.empty and pending == ["Trial A", "Trial B"]
    store.submit_extraction("review", "Trial A", "Ben")
    table, pending = store.agreed_studies_table("review", form)
    assert table["study"].tolist() == ["Trial A"] and table["n"].tolist() == [20]
    assert pending == ["Trial B"]
