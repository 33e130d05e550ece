"""The core every part of the review store stands on: sessions, project lookup, the audit log.

:class:`~metareview.review.Store` is assembled from one mixin per concern (screening, PRISMA
counts, extraction, risk of bias, backup), and each of them needs the same three things: a
transaction (:meth:`StoreCore.session`), the project row a call names, locked while the
transaction writes (:meth:`StoreCore._project`), and an audit entry per change
(:meth:`StoreCore._audit`). They are defined here once, and every mixin subclasses
:class:`StoreCore`, as httpx's ``Client`` and ``AsyncClient`` share ``BaseClient``::

    StoreCore  (engine, session, _project, _audit)
      +-- ScreeningMixin, PrismaMixin, ExtractionMixin, RobMixin, BackupMixin
            +-- Store  (open, import, records, duplicates)

Every audit entry carries the project it belongs to (``audit_log.project_id``): the project
that the transaction looked up with :meth:`StoreCore._project` (or locked with
:func:`lock_project`), unless the writer names it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from metareview.exceptions import InputError, StoreError
from metareview.review.migrate import upgrade as upgrade_schema
from metareview.review.models import AuditLog, Project, Record, audit_log_is_append_only

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["READ_ONLY", "StoreCore", "lock_project", "project_record", "rows_frame"]

_PROJECTS = "metareview_projects"  # key in Session.info: ids of the projects looked up
#: execution option of the connections :meth:`StoreCore.reading` gives: on SQLite their
#: transaction starts with a plain BEGIN, not BEGIN IMMEDIATE (see ``Store.open``)
READ_ONLY = "metareview_read_only"


class StoreCore:
    """The engine and what every store method shares (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reader = engine.execution_options(**{READ_ONLY: True})
        event.listen(self._sessions, "before_flush", audit_log_is_append_only)
        upgrade_schema(engine)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except IntegrityError as exc:
            raise StoreError(
                f"the write conflicts with what is stored ({exc.orig}); nothing was written."
            ) from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection in one transaction that only reads (Core statements, no ORM).

        On SQLite it does not take the write lock (every :meth:`session` does, with BEGIN
        IMMEDIATE): in WAL mode it reads a snapshot while a writer writes, so a request's
        login check does not queue behind other requests' votes. Nothing may be written
        through it.
        """
        with self._reader.connect() as connection, connection.begin():
            yield connection

    @staticmethod
    def _project(
        s: Session, project: str | Project, *, lock: bool | Literal["share"] = False
    ) -> Project:
        """The project row; ``lock=True`` (every write) holds it until the transaction ends,
        so that writers to one project take turns: each check-then-write (is this file
        imported? is this record already merged or resolved?) sees the previous writer's
        result. ``lock="share"`` (a vote, which also locks its record's row) holds it against
        those writers only, so that votes on different records run side by side
        (PostgreSQL's FOR SHARE). On SQLite every transaction already holds the write lock
        (BEGIN IMMEDIATE)."""
        name = project.name if isinstance(project, Project) else project
        query = select(Project).where(Project.name == name)
        if lock:
            query = query.with_for_update(read=lock == "share")
        found = s.scalar(query)
        if found is None:
            names = list(s.scalars(select(Project.name)))
            raise InputError(f"project {name!r} not found; existing projects: {names}.")
        _seen(s, found.id)
        return found

    @staticmethod
    def _audit(
        s: Session,
        actor: str,
        entity: str,
        entity_id: str,
        old: Any,
        new: Any,
        reason: str,
        *,
        project_id: int | None = None,
        now: bool = False,
    ) -> None:
        """Append one audit entry. Its project is ``project_id``, or else the one project
        this transaction looked up; StoreError when that is ambiguous (a bug of the
        writer, never of the user's input). ``now``: written at once by a Core INSERT (for a
        writer whose other rows are Core statements too), else at the session's flush."""
        if project_id is None:
            seen = s.info.get(_PROJECTS, set())
            if len(seen) != 1:
                raise StoreError(
                    f"audit entry {entity} {entity_id}: the transaction looked up "
                    f"{len(seen)} projects; the writer must name the entry's project_id."
                )
            project_id = next(iter(seen))
        values = {
            "project_id": project_id,
            "actor": actor,
            "entity": entity,
            "entity_id": entity_id,
            "old": old,
            "new": new,
            "reason": reason,
        }
        if now:
            s.connection().execute(insert(AuditLog.__table__), values)
        else:
            s.add(AuditLog(**values))


def lock_project(s: Session, project_id: int) -> None:
    """Hold the project's row until the transaction ends (see ``StoreCore._project``)."""
    s.execute(select(Project.id).where(Project.id == project_id).with_for_update())
    _seen(s, project_id)


def project_record(s: Session, proj: Project, record_id: str) -> Record:
    """The record ``record_id`` of project ``proj``; InputError naming both if the id is
    unknown or belongs to another project (the check every record-level write makes)."""
    record = s.get(Record, record_id)
    if record is None or record.project_id != proj.id:
        raise InputError(f"record {record_id!r} is not in project {proj.name!r}.")
    return record


def _seen(s: Session, project_id: int) -> None:
    s.info.setdefault(_PROJECTS, set()).add(project_id)


def rows_frame(rows: Sequence[tuple[Any, ...]], row_type: type[tuple[Any, ...]]) -> pd.DataFrame:
    """``rows``, named tuples of ``row_type``, as a DataFrame with its fields as columns.

    A store table is read once, as rows (the ``*_rows`` methods, which the command line
    prints: listing a store's tables then loads no pandas, issue 21.19), and the
    DataFrame-returning method of the same name wraps them for Python users.
    """
    import pandas as pd

    return pd.DataFrame(rows, columns=list(row_type._fields))  # type: ignore[attr-defined]
