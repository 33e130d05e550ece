"""Bring a store's database schema up to date with Alembic (run by ``Store.open``).

Three cases: a new, empty database gets every migration from the first; a database made by
an earlier metareview is upgraded from the revision it records; a database created before
migrations existed (tables, no ``alembic_version``) is stamped with the first revision, whose
schema it has, and upgraded from there. Concurrent first opens are serialised: on PostgreSQL by
a transaction-scoped advisory lock, on SQLite by retrying once the other writer has finished.

Opening a store that is already up to date costs one query and never imports Alembic (whose
import takes longer than most store commands, issue 21.19): the newest revision, :data:`HEAD`,
is read from the ``revision`` / ``down_revision`` lines of the migration scripts, and compared
with the row of ``alembic_version``. Anything else (an older or unversioned database, scripts
that do not form one chain) takes Alembic's own path.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

if TYPE_CHECKING:  # pragma: no cover
    from alembic.config import Config

__all__ = ["HEAD", "current_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6D657461  # "meta": the advisory lock id of schema migrations
_FIRST = "0001"
_VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(
    r"""^down_revision\s*(?::[^=]*)?=\s*(?:["']([^"']+)["']|None)\s*$""", re.MULTILINE
)


def _config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts, running on ``connection`` when given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _head_of_scripts(folder: Path) -> str | None:
    """The one revision of the scripts in ``folder`` that no other script follows, read from
    their ``revision = "..."`` and ``down_revision = "..."`` lines; None when a script lacks
    one of them (or names several parents) or the scripts have more than one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down.group(1) is not None:
            parents.add(down.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _alembic_head() -> str | None:
    """The newest revision as Alembic finds it (loads every script)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


#: the newest schema revision
HEAD = _head_of_scripts(_SCRIPTS / "versions") or _alembic_head()


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database (None for an unversioned one)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _at_head(engine: Engine) -> bool:
    """Whether the database records :data:`HEAD` and nothing else (one query, no Alembic).
    False when it cannot tell: the caller then takes Alembic's path, which decides."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(_VERSION_TABLE):
                return False
            rows = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).all()
    except OperationalError:  # e.g. SQLite busy: the locked path below waits and retries
        return False
    return [row[0] for row in rows] == [HEAD]


def upgrade(engine: Engine, revision: str = "head", attempts: int = 5) -> None:
    """Migrate the database of ``engine`` to ``revision`` (default: the newest)."""
    if revision == "head" and _at_head(engine):
        return
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
    from alembic import command
    from alembic.runtime.migration import MigrationContext

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
