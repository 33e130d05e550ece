"""Allocation: records spread evenly over the chosen reviewers, queues that hold only a
reviewer's records, and a leaving reviewer's open records handed on with their votes kept --
after which every record can still be completed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from metareview.exceptions import InputError
from metareview.review import Store

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review"
NAMES = ("Ana", "Ben", "Cy")


def _screen_all(store: Store, name: str) -> int:
    n = 0
    while (rid := store.queue("review", name)["next"]) is not None:
        store.cast_vote("review", rid, name, "include" if n % 3 else "exclude")
        n += 1
    return n


def test_allocation_spreads_records_and_reassignment_keeps_votes(store: Store) -> None:
    store.import_file("review", EXAMPLE / "search" / "pubmed.nbib")  # 20 records
    for name in NAMES:
        store.add_reviewer("review", name)
    load = store.allocate("review", "title_abstract", list(NAMES), actor="Olga")
    assert sorted(load.values()) == [13, 13, 14]  # 20 records x 2 votes over 3 people
    mine = {n: store.assigned_records("review", "title_abstract", n) for n in NAMES}
    holders = Counter(r for records in mine.values() for r in records)
    assert set(holders.values()) == {2} and len(holders) == 20
    assert store.queue("review", "Ana")["total"] == len(mine["Ana"])
    outside = next(r for r in holders if r not in mine["Ana"])
    with pytest.raises(InputError, match="allocated to other reviewers"):
        store.cast_vote("review", outside, "Ana", "include")
    # Cy votes on five records, then leaves: those five stay Cy's, the rest move
    for rid in sorted(mine["Cy"])[:5]:
        store.cast_vote("review", rid, "Cy", "include")
    store.reassign("review", "title_abstract", "Cy", actor="Olga")
    after = store.assigned_records("review", "title_abstract", "Cy")
    assert after == set(sorted(mine["Cy"])[:5])
    store.remove_reviewer("review", "Cy", actor="Olga", reason="left the team")
    assert _screen_all(store, "Ana") + _screen_all(store, "Ben") == 40 - 5
    status = store.screening_status("review")
    assert set(status["status"]) <= {"agreed", "conflict"}  # nothing left waiting
    assert (status["n_votes"] == 2).all()
    assert len(store.visible_votes("review", "title_abstract", "Ana")) == 40
    workload = store.workload("review", "title_abstract")
    assert workload["Cy"]["voted"] == 5


def test_allocation_needs_enough_active_reviewers(store: Store) -> None:
    store.import_file("review", EXAMPLE / "search" / "pubmed.nbib")
    store.add_reviewer("review", "Ana")
    with pytest.raises(InputError, match="needs 2 reviewers"):
        store.allocate("review", "title_abstract", ["Ana"], actor="Olga")
    with pytest.raises(InputError, match="not allocated"):
        store.reassign("review", "title_abstract", "Ana", actor="Olga")
    assert store.assigned_records("review", "title_abstract", "Ana") is None


def test_the_terminal_screener_queue_holds_only_the_reviewers_records(store: Store) -> None:
    """The CLI's screener (Store.screening_queue) and the web's queue follow one allocation
    rule: before, the screener offered every open record of an allocated stage."""
    store.import_file("review", EXAMPLE / "search" / "pubmed.nbib")  # 20 records
    for name in NAMES:
        store.add_reviewer("review", name)
    store.allocate("review", "title_abstract", list(NAMES), actor="Olga")
    for name in NAMES:
        given = store.assigned_records("review", "title_abstract", name)
        queue = store.screening_queue("review", name)
        assert set(queue.to_vote) == set(queue.units) == given
        assert queue.next() == store.queue("review", name)["next"]
