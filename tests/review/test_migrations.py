"""Schema migrations (Alembic): the migrations build exactly the models' schema, and a store
made by an earlier version keeps its data when upgraded."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from metareview.exceptions import StoreError
from metareview.review import Store
from metareview.review.migrate import HEAD, _config, current_revision, upgrade
from metareview.review.models import Base

from .builders import add_other_project, build_project


def test_new_store_is_at_head_and_matches_the_models(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert current_revision(store.engine) == HEAD
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        store.close()


def _old_store(url: str, versioned: bool) -> None:
    """A database as the first release left it: schema 0001 plus one project and record."""
    engine = create_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (id, name, created_at) VALUES "
                "(1, 'old review', '2026-11-01 10:00:00+00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO sources (id, project_id, name, database, filename, format, sha256, "
                "n_records, imported_at) VALUES (1, 1, 'a.ris', 'Embase', 'a.ris', 'ris', "
                "'abc', 1, '2026-11-01 10:00:00+00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO records (id, project_id, source_id, ordinal, source_line, title, "
                "authors, raw, fingerprint) VALUES ('p1-abc-000001', 1, 1, 1, 1, 'Ketamine', "
                "'[]', '{}', 'f')"
            )
        )
        if not versioned:
            conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


def test_upgrade_keeps_old_data(store_url: str) -> None:
    _old_store(store_url, versioned=True)
    store = Store.open(store_url)
    try:
        assert current_revision(store.engine) == HEAD
        assert store.projects() == ["old review"]
        assert store.records("old review")["title"].tolist() == ["Ketamine"]
        with store.engine.connect() as conn:
            kind = conn.execute(text("SELECT kind FROM sources")).scalar_one()
            per_record = conn.execute(
                text("SELECT reviewers_per_record FROM projects")
            ).scalar_one()
        assert (kind, per_record) == ("database", 2)
        store.add_reviewer("old review", "Ana")  # the new tables work on the old data
        assert store.screening_status("old review")["status"].tolist() == ["pending"]
    finally:
        store.close()


def test_unversioned_store_is_stamped_then_upgraded(store_url: str) -> None:
    _old_store(store_url, versioned=False)
    store = Store.open(store_url)
    try:
        assert current_revision(store.engine) == HEAD
        assert store.records("old review").shape[0] == 1
        assert "screening_decisions" in inspect(store.engine).get_table_names()
    finally:
        store.close()


def _audit_projects(engine) -> list[tuple[int, int | None]]:
    with engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(text("SELECT id, project_id FROM audit_log ORDER BY id"))
        ]


def test_every_write_names_its_project_and_0004_fills_in_old_entries(
    store_url: str, tmp_path, form
) -> None:
    """Migration 0004: the project_id the store wrote for each entry (two projects sharing a
    study label and a reviewer name, so the label-keyed entries are ambiguous by label) is
    dropped by a downgrade to 0003 and filled in again, the same, by the upgrade."""
    store = Store.open(store_url)
    try:
        store.create_project("review")
        # signalling answers (migration 0007) postdate 0004: no old entry can be one of theirs
        build_project(store, tmp_path, form, rob_answers=False)
        add_other_project(store, tmp_path, form)
        written = _audit_projects(store.engine)
        log = store.audit_log()
        log_review, log_other = store.audit_log("review"), store.audit_log("other")
    finally:
        store.close()
    assert len(written) == len(log) > 60
    assert [len(store_log) for store_log in (log_review, log_other)] == [
        sum(pid == n for _, pid in written) for n in (1, 2)
    ]
    assert {pid for _, pid in written} == {1, 2}  # every entry names its project
    labelled = set(log.loc[log["entity"].isin(["extraction_value", "rob_judgement"]), "id"])
    assert {pid for entry, pid in written if entry in labelled} == {1, 2}
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0003")
        assert "project_id" not in {c["name"] for c in inspect(engine).get_columns("audit_log")}
        upgrade(engine)
        assert current_revision(engine) == HEAD
        assert _audit_projects(engine) == written
    finally:
        engine.dispose()


def test_an_audit_entry_without_a_known_project_is_refused(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        with (
            pytest.raises(StoreError, match="looked up 0 projects; the writer must name"),
            store.session() as s,
        ):
            store._audit(s, "Ana", "note", "1", None, None, "a write of no project")
        assert store.audit_log().empty
    finally:
        store.close()


def test_head_read_from_the_scripts_is_alembics_head() -> None:
    # Store.open compares the database's revision with HEAD without loading Alembic
    # (issue 21.19); HEAD must be what Alembic itself finds in the scripts
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(_config()).get_current_head() == HEAD


def _scripts(folder, *pairs: tuple[str, str]) -> None:
    for revision, down in pairs:
        (folder / f"{revision}_x.py").write_text(
            f'"""A revision."""\n\nrevision = "{revision}"\ndown_revision = {down}\n',
            encoding="utf-8",
        )


def test_head_of_scripts_needs_one_chain(tmp_path) -> None:
    from metareview.review.migrate import _head_of_scripts

    _scripts(tmp_path, ("0001", "None"), ("0002", '"0001"'), ("0003", "'0002'"))
    assert _head_of_scripts(tmp_path) == "0003"
    _scripts(tmp_path, ("0004", '"0002"'))  # two heads: 0003 and 0004
    assert _head_of_scripts(tmp_path) is None
    (tmp_path / "0004_x.py").write_text('revision = "0004"\ndown_revision = ("0002", "0003")\n')
    assert _head_of_scripts(tmp_path) is None  # a merge revision: left to Alembic
    (tmp_path / "0004_x.py").write_text('"""No revision line."""\n')
    assert _head_of_scripts(tmp_path) is None


def test_only_a_store_at_head_skips_alembic(store_url: str) -> None:
    from metareview.review.migrate import _at_head

    engine = create_engine(store_url)
    try:
        assert not _at_head(engine)  # empty: no alembic_version table
        upgrade(engine, "0001")
        assert not _at_head(engine)
        upgrade(engine)
        assert _at_head(engine)
        with engine.begin() as conn:  # two rows (branches) are Alembic's to read
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0001')"))
        assert not _at_head(engine)
    finally:
        engine.dispose()
