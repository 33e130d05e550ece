"""Export a whole project to a folder, and restore it from there, losslessly.

:meth:`BackupMixin.export_project` writes five files::

    project.json    the complete project: with the PDFs, all that restore reads (see below)
    records.csv     one row per record, with its final title/abstract and full-text outcome
    decisions.csv   every screening vote and every resolution
    extraction.csv  every extracted value and every extraction resolution
    records.ris     the records in RIS; each record's screening decisions in N1 notes
    fulltext/       the records' full-text PDFs, each named <sha256>.pdf (when there are any)

``project.json`` (``"format": "metareview-project-backup"``, ``"format_version": 1``) holds the
project row, its sources, records (every column, ``raw`` included, ids verbatim), duplicate
groups with their members, reviewers, screening decisions, resolutions, unblindings,
retrievals, records set aside, studies and their reports, extraction values and resolutions,
risk-of-bias judgements, screening keywords, allocations, "not duplicates" judgements,
memberships (by user name: a backup carries no password hash; restore creates a member
without an account in the store inactive, with no password), the full texts' descriptions,
and the project's audit-log entries, in the order the store holds them
(row id order, which the store's outcomes depend on). Rows refer to each other by natural keys
-- record ids, source sha256, reviewer names, study labels, and the 1-based ``key`` of a
duplicate group or an unblinding (its position in the export) -- never by integer row ids, so a
project restored into another store (new row ids) exports byte-identically, apart from the one
audit entry the restore adds. Date-times are ISO 8601 in UTC (``+00:00``).

Each table is described once, declaratively, in :data:`TABLES` (its keys, the columns they
hold, which are date-times, which refer to another table's rows and by what natural key);
export, the checks of restore and restore itself are all driven by that description, so a
column added to a table is added in one place.

The audit entries of a project are those whose ``project_id`` is the project's (every store
write sets it; migration 0004 filled it in for older stores). An entry keeps its
``entity_id`` verbatim (record ids and study labels need no translation) except for the
entities of :data:`ROW_ENTITIES` (``project``, ``source``, ``duplicate_group``,
``reviewer``, ``unblinding``, ``study``), whose ``entity_id`` is an integer row id: the export
writes the row's natural key instead (``key``: none for the project itself), and restore
maps it to the new row's id. Restore appends the exported entries verbatim (original actor,
time, old and new values), then one entry of its own, ``"restored from backup <path>"``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError

from metareview._validation import check_text
from metareview.exceptions import InputError, StoreError
from metareview.review._core import StoreCore
from metareview.review.accounts import Membership, User
from metareview.review.allocation import Assignment
from metareview.review.dedup_queue import NotDuplicate, RelatedReport
from metareview.review.fulltext import FullText
from metareview.review.importers._base import NO_CONTENT, lacks_content
from metareview.review.models import (
    BIBLIOGRAPHIC_FIELDS,
    AuditLog,
    DuplicateGroup,
    DuplicateMember,
    ExtractionFormRow,
    ExtractionResolution,
    ExtractionSubmission,
    ExtractionValue,
    Project,
    Record,
    Retrieval,
    Reviewer,
    RobAnswer,
    RobJudgement,
    ScreeningDecision,
    ScreeningResolution,
    SetAside,
    Source,
    Study,
    StudyReport,
    Unblinding,
)
from metareview.review.queue import ScreeningKeyword
from metareview.review.screening import STAGES, secondary_records, stage_table

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from sqlalchemy.orm import Session

__all__ = ["BACKUP_FORMAT", "BACKUP_FORMAT_VERSION", "BackupMixin"]

#: Value of the ``format`` key of ``project.json``.
BACKUP_FORMAT = "metareview-project-backup"
#: Version of the layout of ``project.json`` this module writes and reads.
BACKUP_FORMAT_VERSION = 1
JSON_NAME = "project.json"
FILES_DIR = "fulltext"  # the PDFs, beside project.json, named by their SHA-256


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a section's items and the column it holds.

    ``ref`` names the section whose natural key the column's row id is written as (a record
    id, a source's sha256, a reviewer's name, a study's label...); ``time`` marks an ISO 8601
    date-time; ``nullable`` a reference or date-time that may be None; ``many`` is a child
    table ``(model, parent column, record column)`` whose record ids are listed (a group's
    members, a study's reports).
    """

    key: str
    column: str | None = None
    ref: str | None = None
    time: bool = False
    nullable: bool = False
    many: tuple[Any, str, str] | None = None
    as_list: bool = False  # a JSON list, written [] where the store holds None

    @property
    def attr(self) -> str:
        return self.column or self.key


@dataclass(frozen=True, slots=True)
class Section:
    """One list of ``project.json``: a table of the project, described once; export, the
    checks of restore and restore itself are all driven by it.

    ``natural_key`` is the key other sections refer to the rows by (``"key"``: the row's
    1-based position in the export); ``audit_entity`` the audit entity whose ``entity_id`` is
    this table's integer row id (exported as the natural key). ``missing`` marks a section
    added after format version 1 was first written: it gives the items of a backup written
    before, from the rest of the backup.
    """

    name: str
    model: Any
    fields: tuple[Field, ...]
    natural_key: str | None = None
    audit_entity: str | None = None
    missing: Callable[[Mapping[str, Any]], list[dict[str, Any]]] | None = None
    blob: str | None = None  # a bytes column kept as a file beside project.json

    @property
    def keys(self) -> tuple[str, ...]:
        positional = ("key",) if self.natural_key == "key" else ()
        return (*positional, *(f.key for f in self.fields))


def _held(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``set_aside`` of a backup written before records were set aside: each record with
    nothing to screen on is held, as the store (and migration 0004) would have it."""
    imported = {x["sha256"]: x["imported_at"] for x in doc["sources"]}
    return [
        {
            "record": r["id"],
            "reason": NO_CONTENT,
            "time": imported.get(r["source"]),
            "status": "held",
            "decided_by": None,
            "decision_reason": None,
            "decided_at": None,
        }
        for r in doc["records"]
        if lacks_content(r["title"], r["abstract"], r["authors"])
    ]


def _none(_doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A section that a backup written before it was added lacks: empty."""
    return []


def _f(key: str, column: str | None = None, **kw: Any) -> Field:
    return Field(key, column, **kw)


#: The project row: ``project`` in ``project.json``.
PROJECT_FIELDS = (_f("name"), _f("created_at", time=True), _f("reviewers_per_record"))
#: Every table of a project, in the order restore writes them (references point backwards).
TABLES = (
    Section(
        "sources",
        Source,
        (
            _f("name"),
            _f("database"),
            _f("filename"),
            _f("format"),
            _f("kind"),
            _f("sha256"),
            _f("n_records"),
            _f("imported_at", time=True),
        ),
        natural_key="sha256",
        audit_entity="source",
    ),
    Section(
        "records",
        Record,
        (
            _f("id"),
            _f("source", "source_id", ref="sources"),
            _f("ordinal"),
            _f("source_line"),
            _f("title"),
            _f("abstract"),
            _f("authors", as_list=True),
            _f("year"),
            _f("journal"),
            _f("volume"),
            _f("issue"),
            _f("pages"),
            _f("doi"),
            _f("pmid"),
            _f("raw"),
            _f("fingerprint"),
        ),
        natural_key="id",
    ),
    Section(
        "duplicate_groups",
        DuplicateGroup,
        (
            _f("primary", "primary_record_id", ref="records"),
            _f("members", many=(DuplicateMember, "group_id", "record_id")),
            _f("reason"),
            _f("created_by"),
            _f("created_at", time=True),
            _f("active"),
            _f("dissolved_at", time=True, nullable=True),
        ),
        natural_key="key",
        audit_entity="duplicate_group",
    ),
    Section(
        "reviewers",
        Reviewer,
        (_f("name"), _f("role"), _f("active"), _f("added_at", time=True)),
        natural_key="name",
        audit_entity="reviewer",
    ),
    Section(
        "screening_decisions",
        ScreeningDecision,
        (
            _f("record", "record_id", ref="records"),
            _f("stage"),
            _f("reviewer", "reviewer_id", ref="reviewers"),
            _f("decision"),
            _f("reason"),
            _f("time", time=True),
        ),
    ),
    Section(
        "screening_resolutions",
        ScreeningResolution,
        (
            _f("record", "record_id", ref="records"),
            _f("stage"),
            _f("decision"),
            _f("reason"),
            _f("method"),
            _f("resolved_by", ref="reviewers"),
            _f("time", time=True),
        ),
    ),
    Section(
        "unblindings",
        Unblinding,
        (
            _f("stage"),
            _f("owner", "owner_id", ref="reviewers"),
            _f("reason"),
            _f("time", time=True),
        ),
        natural_key="key",
        audit_entity="unblinding",
    ),
    Section(
        "retrievals",
        Retrieval,
        (
            _f("record", "record_id", ref="records"),
            _f("retrieved"),
            _f("note"),
            _f("time", time=True),
        ),
    ),
    Section(
        "set_aside",
        SetAside,
        (
            _f("record", "record_id", ref="records"),
            _f("reason"),
            _f("time", time=True),
            _f("status"),
            _f("decided_by", ref="reviewers", nullable=True),
            _f("decision_reason"),
            _f("decided_at", time=True, nullable=True),
        ),
        missing=_held,
    ),
    Section(
        "studies",
        Study,
        (_f("label"), _f("records", many=(StudyReport, "study_id", "record_id"))),
        natural_key="label",
        audit_entity="study",
    ),
    Section(
        "extraction_values",
        ExtractionValue,
        (
            _f("study", "study_id", ref="studies"),
            _f("field"),
            _f("reviewer", "reviewer_id", ref="reviewers"),
            _f("value"),
            _f("time", time=True),
        ),
    ),
    Section(
        "extraction_resolutions",
        ExtractionResolution,
        (
            _f("study", "study_id", ref="studies"),
            _f("field"),
            _f("value"),
            _f("reason"),
            _f("resolved_by", ref="reviewers"),
            _f("time", time=True),
        ),
    ),
    Section(
        "extraction_forms",
        ExtractionFormRow,
        (_f("spec"), _f("set_by"), _f("time", time=True)),
        missing=_none,  # backups before forms were stored with the project
    ),
    Section(
        "extraction_submissions",
        ExtractionSubmission,
        (
            _f("study", "study_id", ref="studies"),
            _f("reviewer", "reviewer_id", ref="reviewers"),
            _f("time", time=True),
        ),
        missing=_none,  # backups before submissions existed
    ),
    Section(
        "rob_judgements",
        RobJudgement,
        (
            _f("study", "study_id", ref="studies"),
            _f("tool"),
            _f("domain"),
            _f("reviewer", "reviewer_id", ref="reviewers"),
            _f("judgement"),
            _f("support"),
            _f("consensus"),
            _f("time", time=True),
        ),
    ),
    Section(
        "rob_answers",
        RobAnswer,
        (
            _f("study", "study_id", ref="studies"),
            _f("tool"),
            _f("question"),
            _f("reviewer", "reviewer_id", ref="reviewers"),
            _f("answer"),
            _f("time", time=True),
        ),
        missing=_none,  # a backup written before signalling answers were kept
    ),
    Section(
        "screening_keywords",
        ScreeningKeyword,
        (_f("kind"), _f("keyword")),
        missing=_none,
    ),
    Section(
        "assignments",
        Assignment,
        (
            _f("record", "record_id", ref="records"),
            _f("stage"),
            _f("reviewer", "reviewer_id", ref="reviewers"),
        ),
        missing=_none,
    ),
    Section(
        "not_duplicates",
        NotDuplicate,
        (
            _f("record_a", ref="records"),
            _f("record_b", ref="records"),
            _f("reason"),
            _f("judged_by"),
            _f("time", time=True),
            _f("active"),
        ),
        missing=_none,
    ),
    Section(
        "related_reports",
        RelatedReport,
        (
            _f("report", "report_id", ref="records"),
            _f("article", "article_id", ref="records"),
            _f("kind"),
            _f("reason"),
            _f("created_by"),
            _f("time", "created_at", time=True),
            _f("active"),
        ),
        missing=_none,
    ),
    Section(
        "memberships",
        Membership,
        (
            _f("user", "user_id", ref="users"),
            _f("role"),
            _f("reviewer", "reviewer_id", ref="reviewers", nullable=True),
            _f("active"),
        ),
        missing=_none,
    ),
    Section(
        "fulltexts",
        FullText,
        (
            _f("record", "record_id", ref="records"),
            _f("filename"),
            _f("size"),
            _f("sha256"),
            _f("uploaded_by"),
            _f("time", time=True),
        ),
        missing=_none,
        blob="content",
    ),
)
#: The project's audit entries (``key``: ``entity_id``, or the natural key of a row entity).
AUDIT_FIELDS = (
    _f("time", time=True),
    _f("actor"),
    _f("entity"),
    _f("key", "entity_id"),
    _f("old"),
    _f("new"),
    _f("reason"),
)
#: The list sections of ``project.json`` and the keys each of their items must have.
SECTIONS: dict[str, tuple[str, ...]] = {
    **{t.name: t.keys for t in TABLES},
    "audit_log": tuple(f.key for f in AUDIT_FIELDS),
}
PROJECT_KEYS = tuple(f.key for f in PROJECT_FIELDS)
#: Required top-level keys (``metareview_version`` is written for information only).
TOP_KEYS = (
    "format",
    "format_version",
    "project",
    *(t.name for t in TABLES if t.missing is None),
    "audit_log",
)
#: Audit entities whose ``entity_id`` is an integer row id -> the section of that row
#: (``project``: the project itself, exported with key None).
ROW_ENTITIES = {"project": None, **{t.audit_entity: t.name for t in TABLES if t.audit_entity}}

_CHUNK = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit


class BackupMixin(StoreCore):
    """Export and restore methods of :class:`~metareview.review.Store`."""

    def export_project(self, project: str, folder: str | Path) -> Path:
        """Write the whole of ``project`` to ``folder`` (created if needed; files replaced).

        ``project.json`` is the complete, lossless copy that :meth:`restore_project` reads;
        ``records.csv``, ``decisions.csv``, ``extraction.csv`` and ``records.ris`` are views
        of it for people and reference managers. See the module docstring for the layout.

        Parameters
        ----------
        project : str
            Name of the project.
        folder : str or pathlib.Path
            Folder to write the five files into.

        Returns
        -------
        pathlib.Path
            Path of the written ``project.json``.

        Raises
        ------
        InputError
            If the project does not exist.

        Notes
        -----
        ``project.json`` and the outcome columns of the CSV and RIS views (those of
        :meth:`screening_status`) are read in one transaction with the project row locked
        (writers lock it too), so they are one consistent snapshot.

        Examples
        --------
        >>> import tempfile
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("demo")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = store.export_project("demo", folder)
        ...     sorted(p.name for p in path.parent.iterdir())
        ['decisions.csv', 'extraction.csv', 'project.json', 'records.csv', 'records.ris']
        """
        folder = Path(folder)
        with self.session() as s:
            proj = self._project(s, project)
            # hold the project row (writers lock it too): the JSON is one consistent snapshot
            s.execute(select(Project.id).where(Project.id == proj.id).with_for_update())
            doc = _snapshot(s, proj)
            secondary = secondary_records(s, proj)
            status = {stage: stage_table(s, proj, stage) for stage in STAGES}
            files = dict(
                s.execute(
                    select(FullText.sha256, FullText.content).where(FullText.project_id == proj.id)
                ).all()
            )
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / JSON_NAME
        path.write_text(dumps(doc), encoding="utf-8")
        if files:
            (folder / FILES_DIR).mkdir(exist_ok=True)
            for digest, content in files.items():
                (folder / FILES_DIR / f"{digest}.pdf").write_bytes(content)
        _write_records_csv(folder / "records.csv", doc, status, secondary)
        _write_decisions_csv(folder / "decisions.csv", doc)
        _write_extraction_csv(folder / "extraction.csv", doc)
        (folder / "records.ris").write_text(_ris(doc, status, secondary), encoding="utf-8")
        return path

    def export_archive(self, project: str) -> bytes:
        """The whole of ``project`` as one zip archive: the files of :meth:`export_project`
        (``project.json``, the CSV and RIS views, ``fulltext/<sha256>.pdf``), which
        :meth:`restore_project` reads back (give it the ``.zip`` file).

        Examples
        --------
        >>> import io, zipfile
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("demo")
        >>> sorted(zipfile.ZipFile(io.BytesIO(store.export_archive("demo"))).namelist())
        ['decisions.csv', 'extraction.csv', 'project.json', 'records.csv', 'records.ris']
        """
        with tempfile.TemporaryDirectory() as folder:
            self.export_project(project, folder)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(Path(folder).rglob("*")):
                    if file.is_file():
                        archive.write(file, file.relative_to(folder).as_posix())
        return buffer.getvalue()

    def restore_project(
        self, folder_or_json: str | Path, *, actor: str, name: str | None = None
    ) -> str:
        """Rebuild a project exported by :meth:`export_project` in this store.

        Rows get new integer ids; record ids are kept. The exported audit entries are
        appended verbatim (original actor and time), then one entry ``"restored from backup
        <path>"`` by ``actor``. Everything happens in one transaction: on any refusal
        nothing is written.

        Parameters
        ----------
        folder_or_json : str or pathlib.Path
            The export folder, its ``project.json`` (the PDFs are read from the
            ``fulltext`` folder beside it), or the archive of :meth:`export_archive`
            (``.zip``).
        actor : str
            Who restores (for the audit log).
        name : str, optional
            Name of the restored project; the exported name by default.

        Returns
        -------
        str
            Name of the restored project.

        Raises
        ------
        InputError
            If the file cannot be read or is not valid JSON; if ``format`` or
            ``format_version`` is not this module's; if a required key is missing (the
            message names it) or a date-time or a reference (reviewer, record, study, source)
            is invalid; if a project of that name, or any of the records' ids, exists in
            this store already.

        Examples
        --------
        >>> import tempfile
        >>> from metareview.review import Store
        >>> store = Store.open("sqlite://"); _ = store.create_project("demo")
        >>> other = Store.open("sqlite://")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = store.export_project("demo", folder)
        ...     other.restore_project(folder, actor="Olga")
        'demo'
        >>> other.audit_log()["reason"].tolist()
        ['created', 'restored from backup ...project.json']
        """
        check_text("actor", actor, purpose=" for the audit log")
        path = Path(folder_or_json).absolute()
        if path.is_dir():
            path = path / JSON_NAME
        if path.suffix.lower() == ".zip":
            doc, files = load_archive(path)
        else:
            doc = load_backup(path)
            files = _read_files(path, doc)
        new_name = doc["project"]["name"] if name is None else name
        check_text("name", new_name, max_length=200)
        plan = _Plan(doc, path, files)
        with self.session() as s:
            if s.scalar(select(Project.id).where(Project.name == new_name)) is not None:
                raise InputError(
                    f"name: project {new_name!r} exists already in this store; "
                    "pass name=... to restore it under another name. Nothing "
                    "was restored."
                )
            taken = _existing_record_ids(s, [r["id"] for r in doc["records"]])
            if taken:
                shown = ", ".join(taken[:3]) + (", ..." if len(taken) > 3 else "")
                raise InputError(
                    f"records: {len(taken)} of the backup's record ids exist "
                    f"already in this store ({shown}); a project's records can "
                    "be restored into a store only once. Nothing was restored."
                )
            try:
                proj, created = plan.write(s, new_name)
            except (IntegrityError, DataError) as exc:
                raise InputError(
                    f"{path}: the backup is inconsistent or conflicts with this "
                    f"store ({exc.orig}); nothing was restored."
                ) from exc
            self._audit(
                s,
                actor,
                "project",
                str(proj.id),
                None,
                {
                    "name": new_name,
                    "restored_from": doc["project"]["name"],
                    "records": len(doc["records"]),
                    "format_version": BACKUP_FORMAT_VERSION,
                    # members without an account here: created inactive, with no password
                    "accounts_created": created,
                },
                f"restored from backup {path}",
                project_id=proj.id,
            )
        return new_name


# -- export ---------------------------------------------------------------------------------
def dumps(doc: Mapping[str, Any]) -> str:
    """The text of ``project.json``: indented, UTF-8 characters kept, one final newline."""
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def iso(value: datetime | None) -> str | None:
    """``value`` as ISO 8601 in UTC; naive values (SQLite keeps no zone) are UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _rows(s: Session, table: Section, pid: int) -> list[Any]:
    """The rows of ``table`` of project ``pid``, in store order (row id order; records and
    retrievals in import order)."""
    model = table.model
    query = select(model).where(model.project_id == pid)
    if model is Record:
        query = query.order_by(Record.source_id, Record.ordinal)
    elif "id" not in model.__table__.c:  # keyed by record: in the records' order
        query = query.join(Record, Record.id == model.record_id).order_by(
            Record.source_id, Record.ordinal
        )
    else:
        query = query.order_by(model.id)
    return list(s.scalars(query))


def _children(
    s: Session, table: Section, many: tuple[Any, str, str], pid: int
) -> dict[int, list[str]]:
    """Parent row id -> the record ids of its child rows, sorted."""
    child, parent_col, record_col = many
    parent, record = getattr(child, parent_col), getattr(child, record_col)
    found: dict[int, list[str]] = {}
    for pid_, rid in s.execute(
        select(parent, record)
        .join(table.model, table.model.id == parent)
        .where(table.model.project_id == pid)
        .order_by(parent, record)
    ):
        found.setdefault(pid_, []).append(rid)
    return found


def _out(field: Field, value: Any, natural: Mapping[str, Mapping[Any, Any]]) -> Any:
    """A column's value as ``project.json`` holds it."""
    if field.time:
        return iso(value)
    if field.ref is not None:
        return None if value is None and field.nullable else natural[field.ref][value]
    if field.as_list:
        return list(value or [])
    return value


def _snapshot(s: Session, proj: Project) -> dict[str, Any]:
    """Everything of ``proj`` as a JSON-safe dictionary (natural keys, store order)."""
    from metareview import __version__

    pid = proj.id
    doc: dict[str, Any] = {
        "format": BACKUP_FORMAT,
        "format_version": BACKUP_FORMAT_VERSION,
        "metareview_version": __version__,
        "project": {f.key: _out(f, getattr(proj, f.attr), {}) for f in PROJECT_FIELDS},
    }
    natural: dict[str, dict[Any, Any]] = {  # section -> row id -> natural key
        "users": dict(  # accounts are the store's, not a project's: named by user name
            s.execute(
                select(User.id, User.username)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.project_id == pid)
            ).all()
        )
    }
    for table in TABLES:
        rows = _rows(s, table, pid)
        children = {f.key: _children(s, table, f.many, pid) for f in table.fields if f.many}
        items = []
        for n, row in enumerate(rows, start=1):
            item: dict[str, Any] = {"key": n} if table.natural_key == "key" else {}
            for f in table.fields:
                item[f.key] = (
                    children[f.key].get(row.id, [])
                    if f.many
                    else _out(f, getattr(row, f.attr), natural)
                )
            items.append(item)
        if table.natural_key is not None:
            natural[table.name] = {
                row.id: item[table.natural_key] for row, item in zip(rows, items, strict=True)
            }
        doc[table.name] = items
    doc["audit_log"] = _audit_entries(s, pid, natural)
    return doc


def _audit_entries(
    s: Session, pid: int, natural: Mapping[str, Mapping[Any, Any]]
) -> list[dict[str, Any]]:
    """The audit entries of project ``pid``, oldest first, row entities by natural key."""
    keys = {
        entity: (
            {str(pid): None}
            if section is None
            else {str(i): k for i, k in natural[section].items()}
        )
        for entity, section in ROW_ENTITIES.items()
    }
    out = []
    for a in s.scalars(select(AuditLog).where(AuditLog.project_id == pid).order_by(AuditLog.id)):
        item = {f.key: _out(f, getattr(a, f.attr), natural) for f in AUDIT_FIELDS}
        if a.entity in keys:
            if a.entity_id not in keys[a.entity]:
                raise StoreError(
                    f"audit entry {a.id} names {a.entity} {a.entity_id}, which "
                    "is not a row of its project; nothing was exported."
                )
            item["key"] = keys[a.entity][a.entity_id]
        out.append(item)
    return out


def _outcome(status: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """record id -> (decision or status, full-text exclusion reason)."""
    out = {}
    for rid, state, decision, reason in status[
        ["record_id", "status", "decision", "reason"]
    ].itertuples(index=False):
        out[rid] = (
            decision if state in ("agreed", "resolved") else state,
            reason if isinstance(reason, str) else "",
        )  # NaN when there is none
    return out


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _plain(value: Any) -> Any:
    """A record's field as a CSV cell: empty for None, a list (authors) joined by '; '."""
    if value is None:
        return ""
    return "; ".join(value) if isinstance(value, list) else value


def _write_records_csv(
    path: Path,
    doc: Mapping[str, Any],
    status: Mapping[str, pd.DataFrame],
    secondary: Mapping[str, str],
) -> None:
    """One row per record: its fields, duplicate status, outcome at each stage, study."""
    sources = {x["sha256"]: x for x in doc["sources"]}
    title_abstract = _outcome(status["title_abstract"])
    full_text = _outcome(status["full_text"])
    retrieved = {r["record"]: r["retrieved"] for r in doc["retrievals"]}
    study = {rid: st["label"] for st in doc["studies"] for rid in st["records"]}
    rows = []
    for r in doc["records"]:
        rid = r["id"]
        src = sources[r["source"]]
        ft, ft_reason = full_text.get(rid, ("", ""))
        if retrieved.get(rid) is False:
            ft = "not retrieved"
        rows.append(
            (
                rid,
                src["name"],
                src["database"] or "",
                r["source_line"],
                *(_plain(r[name]) for name in BIBLIOGRAPHIC_FIELDS),
                secondary.get(rid, ""),
                title_abstract.get(rid, ("", ""))[0],
                ft,
                ft_reason,
                "" if rid not in retrieved else str(retrieved[rid]).lower(),
                study.get(rid, ""),
            )
        )
    header = ("id", "source", "database", "source_line", *BIBLIOGRAPHIC_FIELDS, "duplicate_of")
    outcomes = ("title_abstract", "full_text", "full_text_reason", "retrieved", "study")
    _write_csv(path, (*header, *outcomes), rows)


def _write_decisions_csv(path: Path, doc: Mapping[str, Any]) -> None:
    """Every vote (``kind`` "vote") and resolution (``kind`` its method)."""
    rows = [
        (
            d["record"],
            d["stage"],
            "vote",
            d["reviewer"],
            d["decision"],
            d["reason"] or "",
            d["time"],
        )
        for d in doc["screening_decisions"]
    ]
    rows += [
        (
            r["record"],
            r["stage"],
            r["method"],
            r["resolved_by"],
            r["decision"],
            r["reason"],
            r["time"],
        )
        for r in doc["screening_resolutions"]
    ]
    _write_csv(path, ("record_id", "stage", "kind", "reviewer", "decision", "reason", "time"), rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _write_extraction_csv(path: Path, doc: Mapping[str, Any]) -> None:
    """Every extracted value (``kind`` "value") and resolution (``kind`` "resolution")."""
    rows = [
        (v["study"], v["field"], "value", v["reviewer"], _cell(v["value"]), "", v["time"])
        for v in doc["extraction_values"]
    ]
    rows += [
        (
            r["study"],
            r["field"],
            "resolution",
            r["resolved_by"],
            _cell(r["value"]),
            r["reason"],
            r["time"],
        )
        for r in doc["extraction_resolutions"]
    ]
    _write_csv(path, ("study", "field", "kind", "reviewer", "value", "reason", "time"), rows)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def _ris(
    doc: Mapping[str, Any], status: Mapping[str, pd.DataFrame], secondary: Mapping[str, str]
) -> str:
    """The records in RIS; screening votes, resolutions and outcomes in ``N1`` notes
    (``N1  - metareview title_abstract Ana: include``)."""
    sources = {x["sha256"]: x for x in doc["sources"]}
    outcome = {stage: _outcome(status[stage]) for stage in STAGES}
    notes: dict[tuple[str, str], list[str]] = {}  # (record, stage) -> notes, in stage order
    for r in doc["retrievals"]:
        state = "retrieved" if r["retrieved"] else "not retrieved"
        notes.setdefault((r["record"], "full_text"), []).append(
            f"full_text retrieval: {state}" + (f" ({r['note']})" if r["note"] else "")
        )
    for d in doc["screening_decisions"]:
        why = f" ({d['reason']})" if d["reason"] else ""
        notes.setdefault((d["record"], d["stage"]), []).append(
            f"{d['stage']} {d['reviewer']}: {d['decision']}{why}"
        )
    for r in doc["screening_resolutions"]:
        notes.setdefault((r["record"], r["stage"]), []).append(
            f"{r['stage']} resolution by {r['resolved_by']} ({r['method']}): {r['decision']} "
            f"({r['reason']})"
        )
    for stage in STAGES:
        for rid, (decision, reason) in outcome[stage].items():
            notes.setdefault((rid, stage), []).append(
                f"{stage} outcome: {decision}" + (f" ({reason})" if reason else "")
            )
    study = {rid: st["label"] for st in doc["studies"] for rid in st["records"]}
    lines: list[str] = []
    for r in doc["records"]:
        rid = r["id"]
        src = sources[r["source"]]
        kind = r["raw"].get("type_of_reference") if isinstance(r["raw"], dict) else None
        tags: list[tuple[str, Any]] = [("TY", kind or "JOUR"), ("ID", rid), ("TI", r["title"])]
        tags += [("AU", name) for name in r["authors"]]
        tags += [("PY", r["year"]), ("T2", r["journal"]), ("VL", r["volume"]), ("IS", r["issue"])]
        first, _, last = (r["pages"] or "").partition("-")
        tags += [
            ("SP", first),
            ("EP", last),
            ("DO", r["doi"]),
            ("AB", r["abstract"]),
            ("DB", src["database"]),
        ]
        if r["pmid"]:
            tags += [("AN", r["pmid"]), ("DP", "NLM")]
        mine = [f"record {rid} (source {src['name']}, line {r['source_line']})"]
        if rid in secondary:
            mine.append(f"duplicate of {secondary[rid]}")
        for stage in STAGES:
            mine += notes.get((rid, stage), [])
        if rid in study:
            mine.append(f"study: {study[rid]}")
        tags += [("N1", f"metareview {note}") for note in mine]
        lines += [
            f"{tag}  - {_one_line(value)}"
            for tag, value in tags
            if value is not None and str(value).strip()
        ]
        lines += ["ER  - ", ""]
    return "\n".join(lines)


# -- restore --------------------------------------------------------------------------------
def load_backup(path: Path) -> dict[str, Any]:
    """Read and check ``project.json``: InputError naming the file and the key at fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise InputError(
            f"{path}: the backup could not be read ({why}); pass the export "
            f"folder or its {JSON_NAME}."
        ) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from exc
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object at the top; got {type(doc).__name__}.")
    if doc.get("format") != BACKUP_FORMAT:
        raise InputError(
            f"{path}: key 'format' must be {BACKUP_FORMAT!r}; got "
            f"{doc.get('format')!r}. Is this a metareview project export?"
        )
    if "format_version" not in doc:
        raise InputError(f"{path}: key 'format_version' is missing.")
    if doc["format_version"] != BACKUP_FORMAT_VERSION:
        raise InputError(
            f"{path}: key 'format_version' is {doc['format_version']!r}; this "
            f"metareview reads format_version {BACKUP_FORMAT_VERSION}. Use the "
            "metareview version that wrote the backup."
        )
    missing = [key for key in TOP_KEYS if key not in doc]
    if missing:
        raise InputError(f"{path}: key {missing[0]!r} is missing (required: {list(TOP_KEYS)}).")
    _check_items(path, "project", [doc["project"]], PROJECT_KEYS, single=True)
    for table in TABLES:  # sections newer than the backup
        if table.missing is not None and table.name not in doc:
            _check_items(path, "records", doc["records"], SECTIONS["records"])
            _check_items(path, "sources", doc["sources"], SECTIONS["sources"])
            doc[table.name] = table.missing(doc)
    for section, keys in SECTIONS.items():
        if not isinstance(doc[section], list):
            raise InputError(
                f"{path}: key {section!r} must be a list; got {type(doc[section]).__name__}."
            )
        _check_items(path, section, doc[section], keys)
    return doc


def _read_files(path: Path, doc: Mapping[str, Any]) -> dict[str, bytes]:
    """The PDFs of ``doc["fulltexts"]`` from the folder beside ``path``, checked against
    their SHA-256: InputError naming the file that is missing or altered."""
    files = {}
    for n, item in enumerate(doc["fulltexts"]):
        name = f"{FILES_DIR}/{item['sha256']}.pdf"
        try:
            files[item["sha256"]] = (path.parent / name).read_bytes()
        except OSError as exc:
            raise InputError(
                f"{path}: fulltexts[{n}] needs the file {name} beside it ({exc.strerror})."
            ) from exc
    _check_files(path, doc, files)
    return files


def _check_files(path: Path, doc: Mapping[str, Any], files: Mapping[str, bytes]) -> None:
    for n, item in enumerate(doc["fulltexts"]):
        content = files.get(item["sha256"])
        if content is None or hashlib.sha256(content).hexdigest() != item["sha256"]:
            raise InputError(
                f"{path}: fulltexts[{n}] ({item['filename']!r}): the file "
                f"{FILES_DIR}/{item['sha256']}.pdf is missing or its SHA-256 differs."
            )


def load_archive(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """``project.json`` and the PDFs of a backup archive (:meth:`BackupMixin.export_archive`),
    read from the zip without extracting it (only the names a backup holds are read)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if JSON_NAME not in names:
                raise InputError(f"{path}: the archive holds no {JSON_NAME}.")
            with tempfile.TemporaryDirectory() as folder:
                json_path = Path(folder) / JSON_NAME
                json_path.write_bytes(archive.read(JSON_NAME))
                try:
                    doc = load_backup(json_path)
                except InputError as exc:  # name the archive, not the temporary copy
                    raise InputError(
                        str(exc).replace(str(json_path), f"{path} ({JSON_NAME})")
                    ) from exc
            files = {
                item["sha256"]: archive.read(f"{FILES_DIR}/{item['sha256']}.pdf")
                for item in doc["fulltexts"]
                if f"{FILES_DIR}/{item['sha256']}.pdf" in names
            }
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc}).") from exc
    _check_files(path, doc, files)
    return doc, files


def _check_items(
    path: Path, section: str, items: Sequence[Any], keys: Sequence[str], *, single: bool = False
) -> None:
    for n, item in enumerate(items):
        where = section if single else f"{section}[{n}]"
        if not isinstance(item, dict):
            raise InputError(f"{path}: {where} must be an object; got {type(item).__name__}.")
        for key in keys:
            if key not in item:
                raise InputError(f"{path}: {where} lacks key {key!r} (required: {list(keys)}).")


class _Plan:
    """The checked rows of a backup, written by :meth:`write` in one session."""

    def __init__(self, doc: Mapping[str, Any], path: Path, files: Mapping[str, bytes]) -> None:
        self.doc = doc
        self.path = path
        self.files = files
        self.known: dict[str, set[Any]] = {"users": {m["user"] for m in doc["memberships"]}}
        for table in TABLES:
            if table.natural_key is not None:
                self._unique(table.name, table.natural_key)
                self.known[table.name] = {x[table.natural_key] for x in doc[table.name]}
        self.times: dict[tuple[str, int, str], datetime | None] = {}
        for f in PROJECT_FIELDS:
            if f.time:
                self._when("project", 0, f, doc["project"][f.key], f"project.{f.key}")
        fields = {t.name: t.fields for t in TABLES} | {"audit_log": AUDIT_FIELDS}
        for section, its in fields.items():
            for n, item in enumerate(doc[section]):
                for f in its:
                    if f.time:
                        self._when(section, n, f, item[f.key], f"{section}[{n}].{f.key}")
        for table in TABLES:
            for n, item in enumerate(doc[table.name]):
                for f in table.fields:
                    where = f"{table.name}[{n}].{f.key}"
                    if f.ref is not None and not (item[f.key] is None and f.nullable):
                        self._ref(f.ref, item[f.key], where)
                    elif f.many is not None:
                        for m, rid in enumerate(item[f.key]):
                            self._ref("records", rid, f"{where}[{m}]")

    def _unique(self, section: str, key: str) -> None:
        seen: set[Any] = set()
        for n, item in enumerate(self.doc[section]):
            if item[key] in seen:
                raise InputError(
                    f"{self.path}: {section}[{n}].{key} {item[key]!r} appears twice in {section}."
                )
            seen.add(item[key])

    def _when(self, section: str, n: int, field: Field, value: Any, where: str) -> None:
        if value is None and field.nullable:
            self.times[(section, n, field.key)] = None
            return
        try:
            when = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise InputError(
                f"{self.path}: {where} must be an ISO 8601 date-time with a time "
                f"zone (e.g. '2024-05-01T09:30:00+00:00'); got {value!r}."
            )
        self.times[(section, n, field.key)] = when.astimezone(UTC)

    def _ref(self, section: str, value: Any, where: str) -> None:
        if value not in self.known[section]:
            raise InputError(f"{self.path}: {where} {value!r} is not among the backup's {section}.")

    def _in(
        self,
        section: str,
        n: int,
        field: Field,
        item: Mapping[str, Any],
        ids: Mapping[str, Mapping[Any, Any]],
    ) -> Any:
        """A key of an item as the column's value in this store."""
        if field.time:
            return self.times[(section, n, field.key)]
        if field.ref is not None:
            value = item[field.key]
            return None if value is None and field.nullable else ids[field.ref][value]
        return item[field.key]

    def write(self, s: Session, name: str) -> tuple[Project, list[str]]:
        """Insert every row, table by table, in the backup's order (new ids keep it); the
        project and the user names of the accounts created for its members."""
        doc = self.doc
        users, created = self._users(s)
        ids: dict[str, dict[Any, Any]] = {"users": users}  # section -> natural key -> row id
        proj = Project(
            **{f.attr: self._in("project", 0, f, doc["project"], ids) for f in PROJECT_FIELDS}
        )
        proj.name = name
        s.add(proj)
        s.flush()
        pid = proj.id
        for table in TABLES:
            items = doc[table.name]
            rows = [
                table.model(
                    project_id=pid,
                    **{
                        f.attr: self._in(table.name, n, f, item, ids)
                        for f in table.fields
                        if f.many is None
                    },
                    **({} if table.blob is None else {table.blob: self.files[item["sha256"]]}),
                )
                for n, item in enumerate(items)
            ]
            s.add_all(rows)
            s.flush()
            if table.natural_key is not None:
                ids[table.name] = {
                    item[table.natural_key]: row.id for item, row in zip(items, rows, strict=True)
                }
            for f in table.fields:
                if f.many is not None:
                    child, parent_col, record_col = f.many
                    s.add_all(
                        child(**{parent_col: row.id, record_col: rid})
                        for item, row in zip(items, rows, strict=True)
                        for rid in item[f.key]
                    )
                    s.flush()
        entries = []
        for n, a in enumerate(doc["audit_log"]):
            key = a["key"]
            if a["entity"] in ROW_ENTITIES:
                section = ROW_ENTITIES[a["entity"]]
                new = {None: pid} if section is None else ids[section]
                if key not in new:
                    raise InputError(
                        f"{self.path}: audit_log[{n}].key {key!r} names no "
                        f"{a['entity']} of the backup."
                    )
                entity_id = str(new[key])
            elif isinstance(key, str):
                entity_id = key
            else:
                raise InputError(
                    f"{self.path}: audit_log[{n}].key must be a string for "
                    f"entity {a['entity']!r}; got {key!r}."
                )
            entries.append(
                AuditLog(
                    project_id=pid,
                    time=self.times[("audit_log", n, "time")],
                    actor=a["actor"],
                    entity=a["entity"],
                    entity_id=entity_id,
                    old=a["old"],
                    new=a["new"],
                    reason=a["reason"],
                )
            )
        s.add_all(entries)
        s.flush()
        return proj, created

    def _users(self, s: Session) -> tuple[dict[str, int], list[str]]:
        """User name -> account id for the backup's members; a member without an account in
        this store gets one, inactive and without a password (an administrator activates
        it; a backup never carries password hashes)."""
        names = sorted(self.known["users"])
        found = dict(
            s.execute(select(User.username, User.id).where(User.username.in_(names))).all()
        )
        created = [n for n in names if n not in found]
        for username in created:
            user = User(username=username, password_hash="!", admin=False, active=False)
            s.add(user)
            s.flush()
            found[username] = user.id
        return found, created


def _existing_record_ids(s: Session, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` that are record ids in the store already (queried in chunks)."""
    found: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        found += s.scalars(select(Record.id).where(Record.id.in_(chunk))).all()
    order = {rid: n for n, rid in enumerate(ids)}
    return sorted(found, key=order.__getitem__)
