"""The review store: projects, imported sources, records, duplicate groups and an audit log.

Built on SQLAlchemy 2.0's ORM (tables in :mod:`metareview.review.models`) with portable column
types only, so the same code runs on the default SQLite file and on PostgreSQL. Every write
happens inside one transaction (``with store.session() as s:``), which commits on success and
rolls back on any error. Screening, extraction, risk of bias, PRISMA counts and backup are
mixed in from their own modules, all built on one core (:mod:`metareview.review._core`:
sessions, project lookup, audit log).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session

from metareview._validation import check_text
from metareview.exceptions import InputError, StoreError
from metareview.review._core import READ_ONLY, lock_project
from metareview.review._normalise import fingerprint
from metareview.review.accounts import AccountsMixin
from metareview.review.agreed import AgreedTableMixin
from metareview.review.allocation import AllocationMixin
from metareview.review.backup import BackupMixin
from metareview.review.dedup_queue import DedupQueueMixin
from metareview.review.extraction import ExtractionMixin
from metareview.review.extraction_dual import DualExtractionMixin
from metareview.review.fulltext import FullTextMixin
from metareview.review.importers._base import NO_CONTENT, Problem, lacks_content
from metareview.review.models import (
    BIBLIOGRAPHIC_FIELDS,
    AuditLog,
    Base,
    DuplicateGroup,
    DuplicateMember,
    Project,
    Record,
    SetAside,
    Source,
    utc_now,
)
from metareview.review.prisma_counts import PrismaMixin
from metareview.review.queue import QueueMixin
from metareview.review.ranked_queue import RankedQueueMixin
from metareview.review.risk_of_bias import RobMixin
from metareview.review.screening import ScreeningMixin
from metareview.review.set_aside import SetAsideMixin

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from metareview.review.dedup import DuplicateCandidates

__all__ = [
    "AuditLog",
    "Base",
    "DuplicateGroup",
    "DuplicateMember",
    "ImportReport",
    "Project",
    "Record",
    "Source",
    "Store",
    "StoreError",
]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What one ``Store.import_file`` call did.

    Attributes
    ----------
    file : str
        Path of the imported file.
    format : str
        Detected format (``"ris"``, ``"nbib"``, ``"pubmed_xml"``, ``"csv"``, ``"tsv"``).
    database : str or None
        Database the export came from (given, or read from the file).
    sha256 : str
        Hash of the file's bytes; a file with the same hash is imported once per project.
    source_id : int
        Id of the source row (the earlier one when ``already_imported``).
    n_records : int
        Records read from the file.
    n_imported : int
        Records added to the store (0 when ``already_imported``).
    already_imported : bool
        True when the same bytes had been imported before; nothing was added.
    problems : tuple of Problem
        Each oddity met, with file and line; the records concerned were kept or skipped as said.
    n_set_aside : int
        Records imported but set aside for an owner, outside the screening queue, because
        they have no title, abstract or authors (see :meth:`Store.set_aside`).
    """

    file: str
    format: str
    database: str | None
    sha256: str
    source_id: int
    n_records: int
    n_imported: int
    already_imported: bool
    problems: tuple[Problem, ...]
    n_set_aside: int = 0

    def summary(self) -> pd.DataFrame:
        """Problems as a table with columns ``file``, ``line`` and ``message``."""
        import pandas as pd

        return pd.DataFrame(
            [(p.file, p.line, p.message) for p in self.problems],
            columns=["file", "line", "message"],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of the report."""
        return {
            "file": self.file,
            "format": self.format,
            "database": self.database,
            "sha256": self.sha256,
            "source_id": self.source_id,
            "n_records": self.n_records,
            "n_imported": self.n_imported,
            "already_imported": self.already_imported,
            "n_set_aside": self.n_set_aside,
            "problems": [
                {"file": p.file, "line": p.line, "message": p.message} for p in self.problems
            ],
        }

    def __str__(self) -> str:
        if self.already_imported:
            return (
                f"{self.file}: already imported (source {self.source_id}, sha256 "
                f"{self.sha256[:12]}); nothing added."
            )
        aside = (
            f" {self.n_set_aside} of them set aside for an owner ({NO_CONTENT})."
            if self.n_set_aside
            else ""
        )
        return (
            f"{self.file}: {self.n_imported} records imported as {self.format} "
            f"(source {self.source_id}); {len(self.problems)} problems.{aside}"
        )


SOURCE_KINDS = ("database", "register")
_BATCH = 5000  # records per bulk insert

RECORD_COLUMNS = [
    "id",
    "source_id",
    "source",
    "ordinal",
    "source_line",
    *BIBLIOGRAPHIC_FIELDS,
    "fingerprint",
    "duplicate_group",
]


class Store(
    ScreeningMixin,
    SetAsideMixin,
    PrismaMixin,
    ExtractionMixin,
    DualExtractionMixin,
    RobMixin,
    BackupMixin,
    FullTextMixin,
    QueueMixin,
    AccountsMixin,
    DedupQueueMixin,
    AllocationMixin,
    RankedQueueMixin,
    AgreedTableMixin,
):
    """A review store on any SQLAlchemy database (a SQLite file by default).

    Use :meth:`open`; every write runs in its own transaction.

    Examples
    --------
    >>> store = Store.open("sqlite://")
    >>> store.create_project("demo").name
    'demo'
    >>> store.records("demo").shape
    (0, 17)
    """

    @classmethod
    def open(cls, url_or_path: str | Path) -> Store:
        """Open (creating if needed) a store at a SQLAlchemy URL or a SQLite file path."""
        text = str(url_or_path)
        url = text if "://" in text else f"sqlite:///{Path(text).expanduser()}"
        engine = create_engine(url)
        if engine.dialect.name == "sqlite":
            # Several writers on one file: wait up to 30 s for the write lock instead of failing
            # with "database is locked", and use WAL so that readers never block the writer.
            on_file = engine.url.database not in (None, "", ":memory:")

            @event.listens_for(engine, "connect")
            def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
                # SQLAlchemy, not pysqlite, starts transactions (the "begin" hook below)
                dbapi_connection.isolation_level = None
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=30000")
                if on_file:
                    cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()

            @event.listens_for(engine, "begin")
            def _begin_immediate(connection: Any) -> None:
                # take the write lock when the transaction starts, not at its first write, so
                # a transaction's reads and writes are one atomic step (no lost updates);
                # StoreCore.reading's read-only transactions read a snapshot without it
                read_only = connection.get_execution_options().get(READ_ONLY, False)
                connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return cls(engine)

    # -- projects -------------------------------------------------------------------------
    def create_project(self, name: str) -> Project:
        """Create the project ``name``; InputError if it exists already."""
        check_text("name", name, max_length=200)
        exists = InputError(f"name: project {name!r} exists already; choose another name.")
        try:
            with self.session() as s:
                if s.scalar(select(Project).where(Project.name == name)) is not None:
                    raise exists
                project = Project(name=name)
                s.add(project)
                s.flush()
                self._audit(
                    s,
                    "metareview",
                    "project",
                    str(project.id),
                    None,
                    {"name": name},
                    "created",
                    project_id=project.id,
                )
        except StoreError as exc:  # created by another writer between the check and the insert
            raise exists from exc
        return project

    def projects(self) -> list[str]:
        """Names of all projects, in creation order."""
        with self.session() as s:
            return list(s.scalars(select(Project.name).order_by(Project.id)))

    # -- import ---------------------------------------------------------------------------
    def import_file(
        self,
        project: str | Project,
        path: str | Path,
        database: str | None = None,
        *,
        kind: str = "database",
        actor: str = "metareview",
    ) -> ImportReport:
        """Import one export file into ``project``; the format is detected from the content.

        ``kind`` says where the records come from in the PRISMA flow: ``"database"`` (a
        bibliographic database) or ``"register"`` (a trials register). Re-importing the same
        bytes adds nothing. Record ids are
        ``p<project>-<sha256[:12]>-<row>``: stable, and unique even for identical rows.

        Raises
        ------
        InputError
            If the file cannot be read, its format is unknown, or it yields 0 records.
        """
        if kind not in SOURCE_KINDS:
            raise InputError(f"kind must be one of {list(SOURCE_KINDS)}; got {kind!r}.")
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: the file could not be read ({exc.strerror}).") from exc
        sha = hashlib.sha256(data).hexdigest()
        with self.session() as s:
            proj = self._project(s, project, lock=True)
            earlier = s.scalar(
                select(Source).where(Source.project_id == proj.id, Source.sha256 == sha)
            )
            if earlier is not None:
                return ImportReport(
                    file=str(path),
                    format=earlier.format,
                    database=earlier.database,
                    sha256=sha,
                    source_id=earlier.id,
                    n_records=earlier.n_records,
                    n_imported=0,
                    already_imported=True,
                    problems=(),
                )
            from metareview.review.importers import parse_bytes

            parsed = parse_bytes(data, str(path))
            source = Source(
                project_id=proj.id,
                name=path.name,
                database=database or parsed.database,
                filename=str(path),
                format=parsed.format,
                kind=kind,
                sha256=sha,
                n_records=len(parsed.records),
            )
            s.add(source)
            s.flush()
            aside = []
            rows = []
            for ordinal, rec in enumerate(parsed.records, start=1):
                rid = f"p{proj.id}-{sha[:12]}-{ordinal:06d}"
                if lacks_content(rec.title, rec.abstract, rec.authors):
                    aside.append(rid)
                rows.append(
                    {
                        "id": rid,
                        "project_id": proj.id,
                        "source_id": source.id,
                        "ordinal": ordinal,
                        "source_line": rec.line,
                        "title": rec.title,
                        "abstract": rec.abstract,
                        "authors": rec.authors,
                        "year": rec.year,
                        "journal": rec.journal,
                        "volume": rec.volume,
                        "issue": rec.issue,
                        "pages": rec.pages,
                        "doi": rec.doi,
                        "pmid": rec.pmid,
                        "raw": rec.raw,
                        "fingerprint": fingerprint(rec.title, rec.year, rec.authors, rec.doi),
                    }
                )
                if len(rows) == _BATCH:  # bulk inserts, in batches: memory stays bounded
                    _insert_records(s, rows)
                    rows = []
            if rows:
                _insert_records(s, rows)
            self._audit(
                s,
                actor,
                "source",
                str(source.id),
                None,
                {"file": str(path), "sha256": sha, "records": len(parsed.records)},
                f"imported {parsed.format} file",
            )
            # nothing to screen on: kept, but set aside for an owner (review.set_aside)
            s.flush()
            for rid in aside:
                s.add(SetAside(record_id=rid, project_id=proj.id, reason=NO_CONTENT))
                self._audit(
                    s,
                    actor,
                    "set_aside",
                    rid,
                    None,
                    {"status": "held", "reason": NO_CONTENT},
                    f"set aside: {NO_CONTENT}",
                )
            return ImportReport(
                file=str(path),
                format=parsed.format,
                database=source.database,
                sha256=sha,
                source_id=source.id,
                n_records=len(parsed.records),
                n_imported=len(parsed.records),
                already_imported=False,
                problems=parsed.problems,
                n_set_aside=len(aside),
            )

    # -- reading --------------------------------------------------------------------------
    def records(self, project: str | Project) -> pd.DataFrame:
        """All records of ``project``, one row each, in import order.

        Returns
        -------
        pandas.DataFrame
            Columns ``id``, ``source_id``, ``source`` (the file's name), ``ordinal`` (1-based
            position in that file), ``source_line``, ``title``, ``abstract``,
            ``authors`` (list), ``year`` (Int64), ``journal``, ``volume``, ``issue``, ``pages``,
            ``doi``, ``pmid``, ``fingerprint`` and ``duplicate_group`` (Int64: the active group
            the record belongs to, or missing).
        """
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            groups = dict(
                s.execute(
                    select(DuplicateMember.record_id, DuplicateMember.group_id)
                    .join(DuplicateGroup)
                    .where(DuplicateGroup.project_id == proj.id, DuplicateGroup.active.is_(True))
                ).all()
            )
            sources = dict(
                s.execute(select(Source.id, Source.name).where(Source.project_id == proj.id)).all()
            )
            rows = [
                [
                    r.id,
                    r.source_id,
                    sources[r.source_id],
                    r.ordinal,
                    r.source_line,
                    r.title,
                    r.abstract,
                    list(r.authors or []),
                    r.year,
                    r.journal,
                    r.volume,
                    r.issue,
                    r.pages,
                    r.doi,
                    r.pmid,
                    r.fingerprint,
                    groups.get(r.id),
                ]
                for r in s.scalars(
                    select(Record)
                    .where(Record.project_id == proj.id)
                    .order_by(Record.source_id, Record.ordinal)
                )
            ]
        frame = pd.DataFrame(rows, columns=RECORD_COLUMNS)
        frame["year"] = frame["year"].astype("Int64")
        frame["duplicate_group"] = frame["duplicate_group"].astype("Int64")
        return frame

    def audit_log(self, project: str | None = None) -> pd.DataFrame:
        """The audit log, oldest first: ``id``, ``time``, ``actor``, ``entity``, ``entity_id``,
        ``old``, ``new``, ``reason``; only the entries of ``project`` when it is given."""
        import pandas as pd

        with self.session() as s:
            query = select(AuditLog).order_by(AuditLog.id)
            if project is not None:
                query = query.where(AuditLog.project_id == self._project(s, project).id)
            rows = [
                [a.id, a.time, a.actor, a.entity, a.entity_id, a.old, a.new, a.reason]
                for a in s.scalars(query)
            ]
        return pd.DataFrame(
            rows, columns=["id", "time", "actor", "entity", "entity_id", "old", "new", "reason"]
        )

    # -- duplicates -----------------------------------------------------------------------
    def merge(self, record_ids: Sequence[str], *, reason: str, actor: str) -> int:
        """Group ``record_ids`` as one study (the first is the primary); returns the group id.

        Records are kept; :meth:`unmerge` dissolves the group. Both are audited.

        Raises
        ------
        InputError
            Fewer than two distinct ids, unknown ids, ids from different projects, ids already
            in an active group, or an empty reason or actor.
        """
        ids = list(dict.fromkeys(record_ids))
        if len(ids) < 2:
            raise InputError(f"record_ids must name at least 2 distinct records; got {ids}.")
        _check_reason_actor(reason, actor)
        with self.session() as s:
            found = {r.id: r for r in s.scalars(select(Record).where(Record.id.in_(ids)))}
            missing = [i for i in ids if i not in found]
            if missing:
                raise InputError(
                    f"record_ids: {len(missing)} unknown ids {missing}; nothing merged."
                )
            projects = {r.project_id for r in found.values()}
            if len(projects) > 1:
                raise InputError("record_ids come from different projects; nothing merged.")
            lock_project(s, next(iter(projects)))
            taken = s.execute(
                select(DuplicateMember.record_id, DuplicateMember.group_id)
                .join(DuplicateGroup)
                .where(DuplicateMember.record_id.in_(ids), DuplicateGroup.active.is_(True))
            ).all()
            if taken:
                names = ", ".join(f"{rid} (group {gid})" for rid, gid in taken)
                raise InputError(
                    f"record_ids: {names} already in an active duplicate group; "
                    "unmerge that group first."
                )
            group = DuplicateGroup(
                project_id=projects.pop(),
                primary_record_id=ids[0],
                reason=reason,
                created_by=actor,
                active=True,
            )
            s.add(group)
            s.flush()
            for rid in ids:
                s.add(DuplicateMember(group_id=group.id, record_id=rid))
            self._audit(
                s,
                actor,
                "duplicate_group",
                str(group.id),
                None,
                {"records": ids, "primary": ids[0], "active": True},
                reason,
            )
            return group.id

    def unmerge(self, group_id: int, *, reason: str, actor: str) -> None:
        """Dissolve duplicate group ``group_id``; its records become separate again (audited)."""
        _check_reason_actor(reason, actor)
        with self.session() as s:
            group = s.get(DuplicateGroup, group_id)
            if group is not None:
                lock_project(s, group.project_id)
                s.refresh(group)
            if group is None or not group.active:
                state = "not found" if group is None else "already dissolved"
                raise InputError(f"group_id {group_id} is {state}; nothing unmerged.")
            members = [m.record_id for m in group.members]
            group.active = False
            group.dissolved_at = utc_now()
            self._audit(
                s,
                actor,
                "duplicate_group",
                str(group.id),
                {"records": members, "primary": group.primary_record_id, "active": True},
                {"records": members, "active": False},
                reason,
            )

    def find_duplicates(self, project: str | Project) -> DuplicateCandidates:
        """Tier-1 and tier-2 duplicate pairs among the records of ``project``; merges nothing.

        See :func:`metareview.review.dedup.find_duplicates`.
        """
        from metareview.review.dedup import find_duplicates

        return find_duplicates(self.records(project))

    def auto_merge(self, project: str | Project, *, actor: str) -> list[int]:
        """Merge the tier-1 pairs of ``project`` (same DOI/PMID, or title, year, author, journal).

        Tier-1 pairs sharing a record form one group: every link in it is an identifier plus
        an agreeing title. A group touching a record that is already in an active group is
        left for the reviewer. Returns the new group ids; each merge is audited.
        """
        pairs = self.find_duplicates(project).tier1
        frame = self.records(project)
        in_group = set(frame.loc[frame["duplicate_group"].notna(), "id"])
        neighbours: dict[str, set[str]] = {}
        for pair in pairs:
            neighbours.setdefault(pair.id_a, set()).add(pair.id_b)
            neighbours.setdefault(pair.id_b, set()).add(pair.id_a)
        seen: set[str] = set()
        created: list[int] = []
        for start in sorted(neighbours):
            if start in seen:
                continue
            component: set[str] = set()
            stack = [start]
            while stack:
                node = stack.pop()
                if node not in component:
                    component.add(node)
                    stack.extend(neighbours[node] - component)
            seen |= component
            if component & in_group:
                continue
            why = sorted(
                {r for p in pairs if p.id_a in component for r in p.reasons if r.startswith("same")}
            )
            members = sorted(component)
            created.append(self.merge(members, reason="tier 1: " + ", ".join(why), actor=actor))
        return created

    def duplicate_groups(self, project: str | Project) -> pd.DataFrame:
        """Duplicate groups of ``project``: ``group_id``, ``record_id``, ``primary``, ``active``."""
        import pandas as pd

        with self.session() as s:
            proj = self._project(s, project)
            rows = s.execute(
                select(
                    DuplicateGroup.id,
                    DuplicateMember.record_id,
                    DuplicateGroup.primary_record_id,
                    DuplicateGroup.active,
                )
                .join(DuplicateMember)
                .where(DuplicateGroup.project_id == proj.id)
                .order_by(DuplicateGroup.id, DuplicateMember.record_id)
            ).all()
        return pd.DataFrame(
            [(g, r, r == p, a) for g, r, p, a in rows],
            columns=["group_id", "record_id", "primary", "active"],
        )


def _insert_records(s: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``records`` in the session's transaction: with PostgreSQL's COPY
    through psycopg (several times faster than INSERT), else one executemany of a Core
    INSERT (the ORM's bulk path costs about three times as much CPU per row)."""
    connection = s.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        connection.execute(Record.__table__.insert(), rows)
        return
    columns = list(rows[0])
    as_json = {"authors", "raw"}
    with connection.connection.cursor() as cursor:
        statement = f"COPY records ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json.dumps(v) if k in as_json else v for k, v in row.items()])


def _check_reason_actor(reason: object, actor: object) -> None:
    check_text("reason", reason, purpose=" for the audit log")
    check_text("actor", actor, purpose=" for the audit log")
