"""Store rules the command line and the web app share (issue 12 and 21.9): the reviewer's
queue in one read, votes that must not replace a vote the caller never saw, and the blinded
menu of exclusion reasons. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.exceptions import InputError, StaleVoteError
from metareview.review import Store

RIS = "TY  - JOUR\nTI  - {title}\nAU  - Smith, J.\nPY  - 2015\nER  - \n\n"
TITLES = [
    "Ketamine infusion for complex regional pain syndrome",
    "Magnesium for CRPS: a randomised trial",
    "Bisphosphonates for CRPS: a cohort",
]


@pytest.fixture
def review(store: Store, tmp_path: Path) -> tuple[Store, list[str]]:
    store.create_project("p")
    path = tmp_path / "s.ris"
    path.write_text("".join(RIS.format(title=t) for t in TITLES), encoding="utf-8")
    store.import_file("p", path)
    for name in ("Ana", "Ben"):
        store.add_reviewer("p", name)
    store.add_reviewer("p", "Olga", "owner")
    return store, store.records("p")["id"].tolist()


def test_queue_holds_units_own_votes_and_what_is_left(review) -> None:
    store, rid = review
    store.decide("p", rid[0], "Ana", "include")
    store.decide("p", rid[1], "Ben", "exclude")
    queue = store.screening_queue("p", "Ana")
    assert queue.units == tuple(rid)
    assert queue.own == {rid[0]: ("include", None)}  # never Ben's vote
    assert queue.to_vote == (rid[1], rid[2])
    assert queue.next() == rid[1] and queue.next(skip={rid[1]}) == rid[2]
    assert queue.to_vote[0] == store.next_record("p", "Ana")  # the same rule as next_record
    store.remove_reviewer("p", "Ben", actor="Olga", reason="left")
    with pytest.raises(InputError, match="'Ben' was removed from 'p'"):
        store.screening_queue("p", "Ben")


def test_expected_previous_refuses_a_vote_cast_meanwhile(review) -> None:
    store, rid = review
    store.decide("p", rid[0], "Ana", "include", expected_previous=None)
    # a second session that last saw "no vote" must not replace the include silently
    with pytest.raises(StaleVoteError, match="another session stored the vote 'include'") as e:
        store.decide("p", rid[0], "Ana", "exclude", expected_previous=None)
    assert (e.value.record_id, e.value.stored) == (rid[0], "include")
    assert store.screening_queue("p", "Ana").own[rid[0]] == ("include", None)
    store.decide("p", rid[0], "Ana", "exclude", expected_previous="include")  # a revision
    with pytest.raises(StaleVoteError, match="another session stored no vote"):
        store.decide("p", rid[1], "Ana", "include", expected_previous="exclude")
    store.decide("p", rid[0], "Ana", "maybe")  # left out: a deliberate overwrite, as before
    reasons = store.audit_log().query("entity == 'screening_decision'")["reason"].tolist()
    assert reasons == ["vote", "revised", "revised"]


def test_exclusion_reasons_follow_blinding(review) -> None:
    store, rid = review
    store.unblind("p", "title_abstract", owner="Olga", reason="calibration")
    for name in ("Ana", "Ben"):
        store.decide("p", rid[0], name, "include")
    store.decide("p", rid[0], "Ana", "exclude", "full_text", "wrong dose")
    assert store.exclusion_reasons("p", "Ana") == ["wrong dose"]
    assert store.exclusion_reasons("p", "Ben") == []  # Ana's reason is on an open record
