"""Bring a store's database schema up to date with Alembic (run by ``Store.open``).

Three cases: a new, empty database gets every migration from the first; a database made by
an earlier metareview is upgraded from the revision it records; a database created before
migrations existed (tables, no ``alembic_version``) is stamped with the first revision, whose
schema it has, and upgraded from there. Concurrent first opens are serialised: on PostgreSQL by
a transaction-scoped advisory lock, on SQLite by retrying once the other writer has finished.
"""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

__all__ = ["HEAD", "current_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6D657461  # "meta": the advisory lock id of schema migrations
_FIRST = "0001"


def _config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts, running on ``connection`` when given."""
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


#: the newest schema revision
HEAD = ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (None for an unversioned one)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head", attempts: int = 5) -> None:
    """Migrate the database of ``engine`` to ``revision`` (default: the newest)."""
    for attempt in range(attempts):
        try:
            _upgrade_once(engine, revision)
            return
        except OperationalError:
            # SQLite: another process is creating or upgrading the same file right now
            if engine.dialect.name != "sqlite" or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _upgrade_once(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        current = MigrationContext.configure(conn).get_current_revision()
        if current == HEAD and revision == "head":
            return
        config = _config(conn)
        if current is None and inspect(conn).has_table("projects"):
            command.stamp(config, _FIRST)
        command.upgrade(config, revision)
