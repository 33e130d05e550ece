"""Stopping title/abstract screening by a rule: only an owner, only when the rule says stop,
the records nobody voted on resolved and audited, and PRISMA 2020 counting them as "records
marked as ineligible by automation tools".

The hypergeometric case is worked by hand: one relevant record found first, then n records
irrelevant in a row, U left. With r = 1 and a 95% target the urn (the last n plus the U left)
must hold K_tar = floor(1 / 0.95 - 1) + 1 = 1 relevant record, so p = P(X = 0) for one draw
of n from n + U with 1 success = U / (n + U): 2 / 39 = 0.0513 (no stop), 1 / 39 = 0.0256 (stop).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import Store
from tests.review.test_ranked_queue import write_ris


@pytest.fixture
def project(store: Store, tmp_path: Path) -> tuple[Store, list[str]]:
    store.import_file("review", write_ris(tmp_path / "search.ris", 40), database="PubMed")
    store.add_reviewer("review", "Ana")
    store.add_reviewer("review", "Olga", role="owner")
    store.set_reviewers_per_record("review", 1, actor="Olga")
    return store, store.records("review")["id"].tolist()


def _screen(store: Store, ids: list[str], n_excluded: int) -> None:
    store.decide("review", ids[0], "Ana", "include")
    for record_id in ids[1 : 1 + n_excluded]:
        store.decide("review", record_id, "Ana", "exclude")


def test_the_rule_must_say_stop_and_only_an_owner_may(project) -> None:
    store, ids = project
    _screen(store, ids, 37)  # 2 left: p = 2 / 39
    with pytest.raises(InputError, match="only owners may see the team's stopping estimate"):
        store.project_stopping("review", by="Ana")
    verdict = store.project_stopping("review", by="Olga")["hypergeometric"]
    assert verdict.p_value == pytest.approx(2 / 39, rel=1e-12)
    assert not verdict.stop
    with pytest.raises(InputError, match=r"the hypergeometric rule does not say stop yet: cannot"):
        store.stop_screening("review", by="Olga")
    store.decide("review", ids[38], "Ana", "exclude")  # 1 left: p = 1 / 39
    with pytest.raises(InputError, match="only owners may stop screening by a stopping rule"):
        store.stop_screening("review", by="Ana")
    with pytest.raises(InputError, match="rule must be one of"):
        store.stop_screening("review", by="Olga", rule="coin")
    decision = store.stop_screening("review", by="Olga")
    assert decision.p_value == pytest.approx(1 / 39, rel=1e-12)
    assert (decision.n_screened, decision.n_unscreened) == (39, 1)
    status = store.screening_status("review").set_index("record_id")
    assert tuple(status.loc[ids[39], ["status", "decision"]]) == ("resolved", "exclude")
    assert store.screening_queue("review", "Ana").to_vote == ()
    log = store.audit_log("review")
    entry = log[log["entity"] == "screening_stop"].iloc[0]
    assert (entry["actor"], entry["entity_id"], entry["new"]["records"]) == (
        "Olga",
        "hypergeometric",
        1,
    )
    with pytest.raises(InputError, match="nothing is left to stop on"):
        store.stop_screening("review", by="Olga", rule="consecutive_irrelevant", n_irrelevant=5)
    # the methods text names the rule, its promise and what the test assumes
    text = store.screening_stops("review")[0].methods_text()
    assert (
        "by the statistical stopping criterion of Callaghan and Müller-Hansen (2020, Syst Rev "
        "9:273) after 39 records had been screened: with 95% confidence, at least 95% of the "
        "relevant records have been found (p = 0.026 for recall below 95%). The test treats "
        "the records screened last as a random sample of themselves and the records left "
        "unscreened; a ranking that puts relevant records first only makes it conservative, "
        "and no strength of the ranking is assumed. The 1 records left unscreened" in text
    )


def test_prisma_counts_name_the_automation(project, tmp_path: Path) -> None:
    store, ids = project
    _screen(store, ids, 5)
    store.stop_screening("review", by="Olga", rule="consecutive_irrelevant", n_irrelevant=5)
    store.decide("review", ids[0], "Ana", "include", "full_text")
    counts = store.prisma_counts("review")
    assert counts["records_removed_automation"] == 34  # 40 - 6 screened
    assert counts["records_screened"] == 6
    assert counts["records_excluded"] == 5
    assert counts["reports_sought"] == counts["reports_included"] == 1
    so_far = store.prisma_so_far("review")
    assert so_far["records_removed_automation"] == 34 and so_far["records_screened"] == 6
    with store.prisma_csv("review", tmp_path / "p.csv").open(encoding="utf-8") as handle:
        rows = {r["data"]: r for r in csv.DictReader(handle)}
    assert rows["excluded_automatic"]["n"] == "34"
    assert "consecutive_irrelevant stopping rule" in rows["excluded_automatic"]["tooltips"]
    (stop,) = store.screening_stops("review")
    assert (stop.rule, stop.by, stop.n_screened, stop.n_unscreened) == (
        "consecutive_irrelevant",
        "Olga",
        6,
        34,
    )
    text = stop.methods_text()
    assert text.startswith(
        "Title and abstract screening was prioritised by relevance and stopped on "
    )
    assert (
        "by the consecutive-irrelevant-records heuristic after 6 records had been screened: "
        "5 irrelevant records in a row (rule: 5); a heuristic with no statistical guarantee "
        "of recall: replaying five published reviews, stopping after 50 / 100 / 200 in a row "
        "left recall below 95% in 30 / 10 / 0 of 50 runs. The rule is a heuristic without a "
        "statistical model and gives no guarantee of recall. The 34 records" in text
    )
    assert text.endswith(
        "The 34 records left unscreened are counted as records marked as ineligible by "
        "automation tools."
    )


def test_records_with_some_votes_stay_open(project) -> None:
    store, ids = project
    store.set_reviewers_per_record("review", 2, actor="Olga")
    store.add_reviewer("review", "Ben")
    _screen(store, ids, 5)  # Ana's votes: pending, Ben has not voted
    store.stop_screening("review", by="Olga", rule="consecutive_irrelevant", n_irrelevant=5)
    assert set(store.screening_queue("review", "Ben").to_vote) == set(ids[:6])
