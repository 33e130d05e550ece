"""The review store: import, idempotence, ids, merge/unmerge with audit, transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from metareview.exceptions import InputError
from metareview.review import Store, StoreError
from metareview.review.store import AuditLog, Project, Record, Source

RIS = """TY  - JOUR
TI  - Aspirin for stroke
AU  - Smith, John
PY  - 2004
DO  - https://doi.org/10.1000/ABC
ER  -

TY  - JOUR
TI  - Aspirin for stroke
AU  - Smith, John
PY  - 2004
DO  - https://doi.org/10.1000/ABC
ER  -

TY  - JOUR
TI  - A third record
PY  - circa
ER  -
"""


@pytest.fixture
def ris_file(tmp_path: Path) -> Path:
    path = tmp_path / "search.txt"
    path.write_text(RIS, encoding="utf-8")
    return path


def test_import_and_records_frame(store: Store, ris_file: Path) -> None:
    report = store.import_file("review", ris_file, database="Embase")
    assert (report.format, report.n_records, report.n_imported) == ("ris", 3, 3)
    assert not report.already_imported
    assert [(p.line, "not a year" in p.message) for p in report.problems] == [(15, True)]
    frame = store.records("review")
    assert list(frame["source_line"]) == [1, 8, 15]
    assert list(frame["doi"].iloc[:2]) == ["10.1000/abc", "10.1000/abc"]
    assert frame["year"].tolist()[:2] == [2004, 2004]
    assert frame["year"].isna().tolist() == [False, False, True]
    assert frame["authors"].iloc[0] == ["Smith, John"]
    with store.session() as s:
        source = s.scalar(select(Source))
        assert source is not None
        assert (source.database, source.name, len(source.sha256)) == ("Embase", "search.txt", 64)


def test_byte_identical_rows_get_distinct_stable_ids(store: Store, ris_file: Path) -> None:
    store.import_file("review", ris_file)
    ids = store.records("review")["id"].tolist()
    assert len(set(ids)) == 3
    assert ids[0].endswith("-000001")
    other = Store.open("sqlite://")
    other.create_project("review")
    other.import_file("review", ris_file)
    assert other.records("review")["id"].tolist() == ids  # stable: same file, same ids
    other.close()


def test_reimport_is_idempotent(store: Store, ris_file: Path, tmp_path: Path) -> None:
    store.import_file("review", ris_file)
    copy = tmp_path / "renamed.ris"
    copy.write_bytes(ris_file.read_bytes())
    again = store.import_file("review", copy)
    assert again.already_imported
    assert again.n_imported == 0
    assert "already imported" in str(again)
    assert "nothing added" in str(again)
    assert len(store.records("review")) == 3


def test_import_real_files(store: Store, imports_dir: Path) -> None:
    total = 0
    for path in sorted(imports_dir.iterdir()):
        report = store.import_file("review", path)
        total += report.n_imported
        for problem in report.problems:
            assert problem.file == str(path)
            assert problem.line is None or problem.line >= 1
    assert total == 141
    assert len(store.records("review")) == 141
    assert store.import_file("review", imports_dir / "embase.ris").already_imported


def test_unreadable_and_empty_files(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.ris: the file could not be read"):
        store.import_file("review", tmp_path / "missing.ris")
    empty = tmp_path / "empty.ris"
    empty.write_bytes(b"\n\n")
    with pytest.raises(InputError, match=r"empty\.ris: the file is empty"):
        store.import_file("review", empty)
    with pytest.raises(InputError, match="project 'nope' not found"):
        store.records("nope")
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0


def test_merge_unmerge_round_trip_with_audit(store: Store, ris_file: Path) -> None:
    store.import_file("review", ris_file)
    a, b, c = store.records("review")["id"]
    group = store.merge([a, b], reason="same DOI and title", actor="alice")
    frame = store.records("review")
    assert frame["duplicate_group"].tolist()[:2] == [group, group]
    assert frame["duplicate_group"].isna().tolist() == [False, False, True]
    assert len(frame) == 3  # records are kept
    with pytest.raises(InputError, match="already in an active duplicate group"):
        store.merge([b, c], reason="x", actor="alice")
    store.unmerge(group, reason="different trial arms", actor="bob")
    assert store.records("review")["duplicate_group"].isna().all()
    with pytest.raises(InputError, match=f"group_id {group} is already dissolved"):
        store.unmerge(group, reason="again", actor="bob")
    groups = store.duplicate_groups("review")
    assert groups["active"].tolist() == [False, False]
    log = store.audit_log()
    merges = log[log["entity"] == "duplicate_group"]
    assert merges["actor"].tolist() == ["alice", "bob"]
    assert merges["reason"].tolist() == ["same DOI and title", "different trial arms"]
    assert merges["old"].iloc[0] is None
    assert merges["new"].iloc[0] == {"records": [a, b], "primary": a, "active": True}
    assert merges["old"].iloc[1]["active"] is True
    assert merges["new"].iloc[1] == {"records": [a, b], "active": False}
    # the records can be merged again after the unmerge
    assert store.merge([b, c], reason="re-checked", actor="carol") != group


def test_merge_checks_its_input(store: Store, ris_file: Path) -> None:
    store.import_file("review", ris_file)
    a = store.records("review")["id"].iloc[0]
    with pytest.raises(InputError, match="at least 2 distinct records"):
        store.merge([a, a], reason="x", actor="me")
    with pytest.raises(InputError, match=r"1 unknown ids \['nope'\]"):
        store.merge([a, "nope"], reason="x", actor="me")
    with pytest.raises(InputError, match="reason must be a non-empty string"):
        store.merge([a, "nope"], reason=" ", actor="me")
    with pytest.raises(InputError, match="group_id 99 is not found"):
        store.unmerge(99, reason="x", actor="me")


def test_audit_log_is_append_only(store: Store) -> None:
    with pytest.raises(StoreError, match="append-only"), store.session() as s:
        entry = s.scalar(select(AuditLog))
        assert entry is not None
        entry.reason = "rewritten"
    with pytest.raises(StoreError, match="append-only"), store.session() as s:
        s.delete(s.scalar(select(AuditLog)))
    assert store.audit_log()["reason"].tolist() == ["created"]


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"), store.session() as s:
        s.add(Project(name="half-written"))
        s.flush()
        raise RuntimeError("boom")
    assert store.projects() == ["review"]


def test_failed_import_leaves_nothing(
    store: Store, ris_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def failing_fingerprint(*args: object) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return "x"

    monkeypatch.setattr("metareview.review.store.fingerprint", failing_fingerprint)
    with pytest.raises(RuntimeError, match="disk full"):
        store.import_file("review", ris_file)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Source)) == 0
        assert s.scalar(select(func.count()).select_from(Record)) == 0
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 1  # project creation
    monkeypatch.undo()
    assert store.import_file("review", ris_file).n_imported == 3


def test_create_project_twice(store: Store) -> None:
    with pytest.raises(InputError, match="project 'review' exists already"):
        store.create_project("review")


def test_open_accepts_url_and_path(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite"
    first = Store.open(path)
    first.create_project("p")
    first.close()
    again = Store.open(f"sqlite:///{path}")
    assert again.projects() == ["p"]
    again.close()


def test_store_find_duplicates(store: Store, ris_file: Path) -> None:
    store.import_file("review", ris_file)
    a, b, _ = store.records("review")["id"]
    (pair,) = store.find_duplicates("review").pairs
    assert (pair.id_a, pair.id_b, pair.tier) == (a, b, 1)


def test_auto_merge_merges_tier1_only(store: Store, ris_file: Path) -> None:
    store.import_file("review", ris_file)
    (group,) = store.auto_merge("review", actor="metareview")
    frame = store.records("review")
    assert frame["duplicate_group"].tolist()[:2] == [group, group]
    assert frame["duplicate_group"].isna().tolist()[2]
    log = store.audit_log()
    assert log["reason"].iloc[-1] == "tier 1: same DOI"
    assert store.auto_merge("review", actor="metareview") == []  # already grouped


def test_schema_compiles_for_postgresql() -> None:
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    from metareview.review.store import Base

    ddl = [
        str(CreateTable(t).compile(dialect=postgresql.dialect()))
        for t in Base.metadata.sorted_tables
    ]
    assert any("CREATE TABLE audit_log" in d for d in ddl)
    assert all("AUTOINCREMENT" not in d for d in ddl)  # SQLite-only keyword
