"""Schema migrations (Alembic): the migrations build exactly the models' schema, and a store
made by an earlier version keeps its data when upgraded."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from metareview.review import Store
from metareview.review.migrate import HEAD, current_revision, upgrade
from metareview.review.models import Base


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
        conn.execute(text("INSERT INTO projects (id, name, created_at) VALUES "
                          "(1, 'old review', '2026-11-01 10:00:00+00')"))
        conn.execute(text(
            "INSERT INTO sources (id, project_id, name, database, filename, format, sha256, "
            "n_records, imported_at) VALUES (1, 1, 'a.ris', 'Embase', 'a.ris', 'ris', "
            "'abc', 1, '2026-11-01 10:00:00+00')"))
        conn.execute(text(
            "INSERT INTO records (id, project_id, source_id, ordinal, source_line, title, "
            "authors, raw, fingerprint) VALUES ('p1-abc-000001', 1, 1, 1, 1, 'Ketamine', "
            "'[]', '{}', 'f')"))
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
            per_record = conn.execute(text("SELECT reviewers_per_record FROM projects")
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
