"""Votes cast at the same moment (``Store.cast_vote``), on SQLite and on PostgreSQL.

``cast_vote`` checks that a record still waits for votes and writes the vote in one
transaction, holding the record's row (and the project's row shared), so that two votes on
one record take turns and both count, and no vote is revised once the record is complete.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review.models import ScreeningDecision
from tests.review.builders import write_ris


def _team(store: Store, tmp_path: Path, n_records: int, names: tuple[str, ...]) -> list[str]:
    store.import_file("review", write_ris(tmp_path / "search.ris", n_records))
    for name in names:
        store.add_reviewer("review", name)
    return store.records("review")["id"].tolist()


def test_no_vote_is_revised_after_its_record_is_complete(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """Ana revises her vote while Ben casts the vote that completes the record. Ben's vote
    is committed between Ana's check and Ana's write when the two are apart (the store
    before this test: check in one transaction, write in another): Ana's revision then
    changed a conflict that Ben had already been shown. In one transaction Ana's revision
    comes first (and Ben's vote completes the record) or is refused."""
    (rid,) = _team(store, tmp_path, 1, ("Ana", "Ben"))
    store.cast_vote("review", rid, "Ana", "include")
    ana = threading.get_ident()
    fired: list[Any] = []

    def ben_votes_now(session: Session) -> None:
        if threading.get_ident() != ana or fired:
            return
        other = Store.open(store_url)
        try:
            with ThreadPoolExecutor(1) as pool:  # Ben, on his own connection
                fired.append(
                    pool.submit(other.cast_vote, "review", rid, "Ben", "exclude").result(60)
                )
        finally:
            other.close()

    event.listen(Session, "after_commit", ben_votes_now)
    try:
        outcome = store.cast_vote("review", rid, "Ana", "exclude")
    except InputError as exc:
        outcome = exc
    finally:
        event.remove(Session, "after_commit", ben_votes_now)
    assert fired == ["recorded"]
    log = store.audit_log()
    votes = log[log["entity"] == "screening_decision"]
    reasons = votes["reason"].tolist()
    # Ana's first vote, then either her revision and Ben's vote, or Ben's vote alone
    assert reasons in (["vote", "revised", "vote"], ["vote", "vote"]), reasons
    if reasons == ["vote", "vote"]:
        assert isinstance(outcome, InputError) and "complete" in str(outcome)
    else:
        assert outcome == "revised"
    assert store.screening_status("review").set_index("record_id").loc[rid, "n_votes"] == 2


def test_simultaneous_votes_on_the_same_records_all_count(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """Six reviewers vote on the same eight records at once, each from its own store and
    connection, each vote sent twice (a double click): every vote is stored once, and every
    record is complete with six votes."""
    names = tuple(f"R{i}" for i in range(6))
    ids = _team(store, tmp_path, 8, names)
    store.set_reviewers_per_record("review", len(names), actor="owner")
    start = threading.Barrier(len(names))

    def reviewer(name: str) -> list[str]:
        own = Store.open(store_url)
        try:
            start.wait(timeout=60)
            return [
                own.cast_vote("review", rid, name, "include" if i % 2 else "exclude")
                for i, rid in enumerate(ids)
                for _twice in range(2)
            ]
        finally:
            own.close()

    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(reviewer, names))
    assert all(r == ["recorded", "unchanged"] * len(ids) for r in results), results
    status = store.screening_status("review")
    assert status["n_votes"].tolist() == [len(names)] * len(ids)
    assert set(status["status"]) == {"agreed"}
    log = store.audit_log()
    assert (log["entity"] == "screening_decision").sum() == len(names) * len(ids)


def _meet_at_insert(store_url: str, votes: list[tuple[str, str]]) -> bool:
    """Cast ``votes`` ((reviewer, record)) at once, each in its own store, holding each vote
    at the INSERT of its row (when it holds its locks) until all have got there, or for at
    most 2 s. True when they all got there together, False when the store made them take
    turns."""
    barrier = threading.Barrier(len(votes))
    met: list[bool] = []
    table = ScreeningDecision.__tablename__

    def wait(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            try:
                barrier.wait(timeout=2)
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)

    def vote(pair: tuple[str, str]) -> str:
        own = Store.open(store_url)
        try:
            return own.cast_vote("review", pair[1], pair[0], "include")
        finally:
            own.close()

    event.listen(Engine, "before_cursor_execute", wait)
    try:
        with ThreadPoolExecutor(len(votes)) as pool:
            assert list(pool.map(vote, votes)) == ["recorded"] * len(votes)
    finally:
        event.remove(Engine, "before_cursor_execute", wait)
    return all(met) and len(met) == len(votes)


def test_votes_on_different_records_do_not_wait_for_each_other(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL a vote holds its record's row and the project's row shared: votes on two
    records are written side by side, votes on one record take turns. (SQLite has one
    writer at a time: every vote takes its turn.)"""
    a, b, c = _team(store, tmp_path, 3, ("Ana", "Ben"))
    assert _meet_at_insert(store_url, [("Ana", a), ("Ben", b)]) == store_url.startswith(
        "postgresql"
    )
    assert not _meet_at_insert(store_url, [("Ana", c), ("Ben", c)])
    status = store.screening_status("review").set_index("record_id")["n_votes"]
    assert status.to_dict() == {a: 1, b: 1, c: 2}
