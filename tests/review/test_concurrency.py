"""Parallel writers on one store lose no write, on SQLite and on PostgreSQL.

Each writer opens its own :class:`Store` on the same URL (as reviewers on one team would)
and, all starting at once, creates a project, imports small RIS files of its own, merges the
records of each file and dissolves every other merge. Afterwards every row and every audit
entry must be there. Threads share one process; processes (spawned) share only the URL, which
for a SQLite file exercises its file locking.

The last tests make two writers race for the *same* rows: a barrier in the ORM's
``before_flush`` hook holds each writer until both have passed the store's checks, unless the
store makes them take turns (then the barrier times out and they run one after the other).
Each check-then-write must still hold: one writer wins, the other gets the store's own error.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from metareview.review import Store
from metareview.review.store import (
    AuditLog,
    DuplicateGroup,
    DuplicateMember,
    Project,
    Record,
    Source,
)

N_THREADS = 8
N_PROCESSES = 4
N_FILES = 6  # files imported by each writer; each file holds 2 records
START_TIMEOUT = 120  # seconds to wait for all writers to be ready (spawned processes import)


def _ris(writer: int, index: int, n_records: int = 2) -> str:
    """A small RIS file whose records are unique to (writer, index)."""
    return "".join(
        f"TY  - JOUR\nTI  - Writer {writer} file {index} record {k}\nAU  - Doe, Jane\n"
        f"PY  - {2000 + index}\nDO  - 10.1000/w{writer}.f{index}.r{k}\nER  -\n\n"
        for k in range(1, n_records + 1)
    )


def write_as(url: str, folder: str, writer: int, n_files: int, start: Any) -> None:
    """One writer's work: a project, ``n_files`` imports, one merge per file, an unmerge
    for every other merge; ``start`` is a barrier all writers pass together."""
    store = Store.open(url)
    try:
        actor = f"writer-{writer}"
        start.wait(timeout=START_TIMEOUT)
        store.create_project(f"project-{writer}")
        for index in range(n_files):
            path = Path(folder) / f"w{writer}-f{index}.ris"
            path.write_text(_ris(writer, index), encoding="utf-8")
            report = store.import_file("review", path, actor=actor)
            assert (report.n_imported, report.already_imported) == (2, False), report
            with store.session() as s:
                ids = list(
                    s.scalars(
                        select(Record.id)
                        .where(Record.source_id == report.source_id)
                        .order_by(Record.ordinal)
                    )
                )
            group = store.merge(ids, reason=f"file {index}", actor=actor)
            if index % 2 == 0:
                store.unmerge(group, reason=f"undo file {index}", actor=actor)
    finally:
        store.close()


def _process_main(
    url: str, folder: str, writer: int, n_files: int, start: Any, results: Any
) -> None:
    try:
        write_as(url, folder, writer, n_files, start)
    except BaseException:
        results.put((writer, traceback.format_exc()))
        raise
    results.put((writer, None))


def _count(s: Session, model: type, *where: Any) -> int:
    return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _assert_nothing_lost(url: str, n_writers: int) -> None:
    unmerged = (N_FILES + 1) // 2
    store = Store.open(url)
    try:
        with store.session() as s:
            assert _count(s, Project) == 1 + n_writers
            assert _count(s, Source) == n_writers * N_FILES
            assert _count(s, Record) == n_writers * N_FILES * 2
            assert _count(s, DuplicateGroup) == n_writers * N_FILES
            assert _count(s, DuplicateMember) == n_writers * N_FILES * 2
            assert _count(s, DuplicateGroup, DuplicateGroup.active.is_(False)) == (
                n_writers * unmerged
            )
            assert _count(s, AuditLog) == 1 + n_writers * (1 + 2 * N_FILES + unmerged)
            per_actor = dict(
                s.execute(select(AuditLog.actor, func.count()).group_by(AuditLog.actor)).all()
            )
        assert per_actor == {
            "metareview": 1 + n_writers,
            **{f"writer-{w}": 2 * N_FILES + unmerged for w in range(n_writers)},
        }
        frame = store.records("review")
        assert frame["id"].is_unique
        assert frame["duplicate_group"].notna().sum() == n_writers * (N_FILES - unmerged) * 2
    finally:
        store.close()


def test_parallel_threads_lose_no_write(store: Store, store_url: str, tmp_path: Path) -> None:
    start = threading.Barrier(N_THREADS)
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        futures = [
            pool.submit(write_as, store_url, str(tmp_path), w, N_FILES, start)
            for w in range(N_THREADS)
        ]
        for future in futures:
            future.result()  # re-raises any writer's exception
    _assert_nothing_lost(store_url, N_THREADS)


def test_parallel_processes_lose_no_write(store: Store, store_url: str, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    start = ctx.Barrier(N_PROCESSES)
    results = ctx.Queue()
    processes = [
        ctx.Process(
            target=_process_main,
            args=(store_url, str(tmp_path), w, N_FILES, start, results),
            daemon=True,
        )
        for w in range(N_PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=START_TIMEOUT + 60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
    errors = {w: tb for w, tb in outcomes.items() if tb is not None}
    assert not errors, "\n".join(f"writer {w}:\n{tb}" for w, tb in errors.items())
    assert [p.exitcode for p in processes] == [0] * N_PROCESSES
    _assert_nothing_lost(store_url, N_PROCESSES)


# -- two writers racing for the same rows ---------------------------------------------------


@pytest.fixture
def hold_flush() -> Iterator[Any]:
    """``hold(kind, n)``: each session flushing a new or changed ``kind`` waits until ``n``
    have got there (at most 2 s, so a store that serialises the writers still finishes)."""
    listeners: list[Any] = []

    def hold(kind: type, n: int) -> None:
        barrier = threading.Barrier(n)

        def wait(session: Session, _context: Any, _instances: Any) -> None:
            if any(isinstance(o, kind) for o in (*session.new, *session.dirty)):
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait(timeout=2)

        event.listen(Session, "before_flush", wait)
        listeners.append(wait)

    yield hold
    for wait in listeners:
        event.remove(Session, "before_flush", wait)


def _together(url: str, *calls: Any) -> list[Any]:
    """Run each ``call(store)`` in its own thread and store; results or raised exceptions."""
    stores = [Store.open(url) for _ in calls]
    try:
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(call, st) for call, st in zip(calls, stores, strict=True)]
            return [f.exception() or f.result() for f in futures]
    finally:
        for st in stores:
            st.close()


def test_overlapping_merges_at_once(
    store: Store, store_url: str, tmp_path: Path, hold_flush: Any
) -> None:
    """Two overlapping merges at once: one wins, the other is refused; no record ends up in
    two active groups."""
    path = tmp_path / "three.ris"
    path.write_text(_ris(0, 0, n_records=3), encoding="utf-8")
    store.import_file("review", path)
    a, b, c = store.records("review")["id"]
    hold_flush(DuplicateGroup, 2)
    outcomes = _together(
        store_url,
        lambda st: st.merge([a, b], reason="one", actor="alice"),
        lambda st: st.merge([b, c], reason="two", actor="bob"),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InputError", "int"], outcomes
    active = store.duplicate_groups("review").query("active")
    assert active["record_id"].is_unique


def test_same_unmerge_at_once(
    store: Store, store_url: str, tmp_path: Path, hold_flush: Any
) -> None:
    """Two unmerges of one group at once: one dissolves it, the other is told it is
    already dissolved; the audit log says dissolved once."""
    path = tmp_path / "two.ris"
    path.write_text(_ris(0, 0), encoding="utf-8")
    store.import_file("review", path)
    group = store.merge(list(store.records("review")["id"]), reason="same", actor="alice")
    hold_flush(DuplicateGroup, 2)
    outcomes = _together(
        store_url,
        lambda st: st.unmerge(group, reason="one", actor="alice"),
        lambda st: st.unmerge(group, reason="two", actor="bob"),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InputError", "NoneType"], outcomes
    log = store.audit_log()
    assert (log["entity"] == "duplicate_group").sum() == 2  # one merge, one unmerge


def test_same_file_imported_at_once(
    store: Store, store_url: str, tmp_path: Path, hold_flush: Any
) -> None:
    """Two imports of one file at once: one imports it, the other reports already_imported
    (not a raw IntegrityError)."""
    path = tmp_path / "one.ris"
    path.write_text(_ris(0, 0), encoding="utf-8")
    hold_flush(Source, 2)
    outcomes = _together(
        store_url,
        lambda st: st.import_file("review", path, actor="alice"),
        lambda st: st.import_file("review", path, actor="bob"),
    )
    assert all(not isinstance(o, BaseException) for o in outcomes), outcomes
    assert sorted(o.already_imported for o in outcomes) == [False, True]
    assert len(store.records("review")) == 2


def test_same_project_created_at_once(store: Store, store_url: str, hold_flush: Any) -> None:
    """Two creations of one project name at once: one creates it, the other gets the
    store's InputError (not a raw IntegrityError)."""
    hold_flush(Project, 2)
    outcomes = _together(
        store_url,
        lambda st: st.create_project("shared"),
        lambda st: st.create_project("shared"),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["InputError", "Project"], outcomes
    assert store.projects() == ["review", "shared"]
