"""`metareview screen --ranked`: the reviewer's own ranking, the relevance score and the
stopping estimate on screen, and the order blind to other reviewers' pending votes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metareview.cli.screen import stopping_lines
from metareview.review import Store
from metareview.review.ranked_queue import RankedQueue
from metareview.review.stopping import current_decisions
from tests.cli.conftest import PROJECT, ids, own_votes, run


def _vote(db: Path, reviewer: str, votes: dict[str, str]) -> None:
    store = Store.open(db)
    try:
        for record_id, decision in votes.items():
            store.decide(PROJECT, record_id, reviewer, decision)
    finally:
        store.close()


def _top(db: Path, reviewer: str) -> tuple[str, float]:
    store = Store.open(db)
    try:
        queue = store.ranked_queue(PROJECT, reviewer).queue
    finally:
        store.close()
    return queue["record_id"].iloc[0], float(queue["score"].iloc[0])


def test_random_order_is_said_until_a_model_can_be_trained(db: Path) -> None:
    result = run(db, "screen", "--reviewer", "Ana", "--ranked", input="i\nq\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "note: Records are shown in random order until at least one inclusion and one "
        "exclusion are known."
    )
    assert "relevance score" not in result.output  # no model yet: no score shown
    assert (
        "stopping estimate (Callaghan & Müller-Hansen 2020): cannot yet claim 95% recall with "
        "95% confidence (p = 1 for recall below 95%; needs p < 0.05); stopping now would leave "
        "4 records unscreened."
    ) in lines


def test_ranked_screen_shows_score_and_stopping_estimate(db: Path) -> None:
    rid = ids(db)
    _vote(db, "Ana", {rid[0]: "include", rid[1]: "exclude"})
    top, score = _top(db, "Ana")
    result = run(db, "screen", "--reviewer", "Ana", "--ranked", input="e\nq\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        f"relevance score {score:.2f} (svm, trained on 2 decisions you may see, 1 of "
        "them inclusions)" in lines
    )
    assert any(line.endswith("stopping now would leave 2 records unscreened.") for line in lines)
    assert any(line.endswith("stopping now would leave 1 record unscreened.") for line in lines)
    assert own_votes(db, "Ana")[top] == ("exclude", None)  # the top-ranked record came first


def test_other_reviewers_pending_votes_do_not_change_the_screen(db: Path) -> None:
    rid = ids(db)
    _vote(db, "Ana", {rid[0]: "include", rid[1]: "exclude"})
    before = run(db, "screen", "--reviewer", "Ana", "--ranked", input="q\n")
    _vote(db, "Ben", {rid[2]: "include", rid[3]: "exclude"})  # pending: 2 votes needed
    after = run(db, "screen", "--reviewer", "Ana", "--ranked", input="q\n")
    assert before.exit_code == after.exit_code == 0
    assert after.output == before.output


def test_a_heuristic_that_would_stop_is_flagged_as_no_guarantee() -> None:
    history = [1] * 3 + [0] * 60  # 60 irrelevant in a row, 937 records left
    ranking = RankedQueue(
        queue=pd.DataFrame({"record_id": [], "score": []}),
        classifier="logistic",
        n_training=63,
        n_included=3,
        stopping=current_decisions(history, 1000),
    )
    lines = stopping_lines(ranking)
    assert lines[0][0].startswith(
        "stopping estimate (Callaghan & Müller-Hansen 2020): cannot yet claim 95% recall"
    )
    assert lines[0][0].endswith("stopping now would leave 937 records unscreened.")
    assert lines[1:] == [
        (
            "warning: a heuristic would stop here -- 60 irrelevant records in a row (rule: 50); "
            "a heuristic with no statistical guarantee of recall: replaying five published "
            "reviews, stopping after 50 in a row left recall below 95% in 30 of 50 runs "
            "(lowest 77.8%); keep screening until the stopping estimate above is met.",
            "yellow",
        )
    ]


def test_stop_screening_shows_verdicts_and_stops_by_a_rule(tmp_path: Path) -> None:
    from tests.cli.conftest import write_ris

    db = tmp_path / "review.sqlite"
    records = [(f"Record {i} on birds", "Doe, J.", 2020, "J", "Birds.") for i in range(40)]
    assert run(db, "store", "init", "--project", PROJECT).exit_code == 0
    assert run(db, "store", "import", str(write_ris(tmp_path / "s.ris", records))).exit_code == 0
    assert run(db, "store", "reviewer", "add", "Ana").exit_code == 0
    assert run(db, "store", "reviewer", "add", "Olga", "--role", "owner").exit_code == 0
    store = Store.open(db)
    try:
        store.set_reviewers_per_record(PROJECT, 1, actor="Olga")
        rid = store.records(PROJECT)["id"].tolist()
    finally:
        store.close()
    # one relevant record, then 37 irrelevant, 2 left: p = 2 / 39 (see tests/review/
    # test_screening_stop.py); one more irrelevant, 1 left: p = 1 / 39
    _vote(db, "Ana", {rid[0]: "include", **{r: "exclude" for r in rid[1:38]}})
    shown = run(db, "stop-screening", "--by", "Olga")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[0] == (
        "hypergeometric: keep screening -- cannot yet claim 95% recall with 95% confidence "
        "(p = 0.051 for recall below 95%; needs p < 0.05); 38 screened, 2 nobody has voted on."
    )
    refused = run(db, "stop-screening", "--by", "Olga", "--rule", "hypergeometric")
    assert refused.exit_code == 2
    assert refused.output.splitlines()[-1].startswith(
        "error: the hypergeometric rule does not say stop yet"
    )
    not_owner = run(db, "stop-screening", "--by", "Ana", "--rule", "hypergeometric")
    assert not_owner.exit_code == 2
    assert "only owners may see the team's stopping estimate" in not_owner.output
    bad_rule = run(db, "stop-screening", "--by", "Olga", "--rule", "coin")
    assert bad_rule.exit_code == 2 and "--rule must be one of" in bad_rule.output
    _vote(db, "Ana", {rid[38]: "exclude"})
    stopped = run(db, "stop-screening", "--by", "Olga", "--rule", "hypergeometric")
    assert stopped.exit_code == 0, stopped.output
    assert stopped.output.splitlines()[-1] == (
        "stopped by the hypergeometric rule: 1 records left unscreened are counted as records "
        "marked as ineligible by automation tools."
    )
