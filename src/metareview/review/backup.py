"""Export a whole project to a folder, and restore it from there, losslessly.

:meth:`BackupMixin.export_project` writes five files::

    project.json    the complete project: the only file restore reads (see below)
    records.csv     one row per record, with its final title/abstract and full-text outcome
    decisions.csv   every screening vote and every resolution
    extraction.csv  every extracted value and every extraction resolution
    records.ris     the records in RIS; each record's screening decisions in N1 notes

``project.json`` (``"format": "metareview-project-backup"``, ``"format_version": 1``) holds the
project row, its sources, records (every column, ``raw`` included, ids verbatim), duplicate
groups with their members, reviewers, screening decisions, resolutions, unblindings,
retrievals, studies and their reports, extraction values and resolutions, risk-of-bias
judgements, and the project's audit-log entries, in the order the store holds them (row id
order, which the store's outcomes depend on). Rows refer to each other by natural keys --
record ids, source sha256, reviewer names, study labels, and the 1-based ``key`` of a
duplicate group or an unblinding (its position in the export) -- never by integer row ids,
so a project restored into another store (new row ids) exports byte-identically, apart from
the one audit entry the restore adds. Date-times are ISO 8601 in UTC (``+00:00``).

The audit log has no project column, so the entries of a project are found from what each
writer puts in ``entity_id``:

- ``project``, ``source``, ``duplicate_group``, ``reviewer``, ``unblinding`` and ``study``
  hold the row's integer id: the entry belongs to the project that owns that row. The export
  replaces the id by the row's natural key (``key``: none for the project itself, the
  sha256, the group's key, the reviewer's name, the unblinding's key, the study label), and
  restore maps it to the new row's id.
- ``screening_decision``, ``screening_resolution`` and ``retrieval`` hold a record id, which
  is unique in a store: the entry belongs to the project of that record.
- ``extraction_value``, ``extraction_resolution`` (``"<study>/<field>"``) and
  ``rob_judgement`` (``"<study>/<tool>/<domain>"``) hold a study *label*, which is unique
  only within a project. Such an entry belongs to a project with a study of that label and a
  reviewer named as the entry's actor (every writer of these entries is a reviewer of the
  project). Should several projects of one store qualify (same study label *and* same
  reviewer name), it goes to the one whose study was created last at or before the entry's
  time. These keys are exported verbatim.

Entries of any other entity are not exported. Restore appends the exported entries verbatim
(original actor, time, old and new values), then one entry of its own, ``"restored from
backup <path>"``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError

from metareview._validation import check_text
from metareview.exceptions import InputError
from metareview.review.models import (
    AuditLog,
    DuplicateGroup,
    DuplicateMember,
    ExtractionResolution,
    ExtractionValue,
    Project,
    Record,
    Retrieval,
    Reviewer,
    RobJudgement,
    ScreeningDecision,
    ScreeningResolution,
    Source,
    Study,
    StudyReport,
    Unblinding,
)
from metareview.review.screening import STAGES, secondary_records

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    import pandas as pd
    from sqlalchemy.orm import Session

__all__ = ["BACKUP_FORMAT", "BACKUP_FORMAT_VERSION", "BackupMixin"]

#: Value of the ``format`` key of ``project.json``.
BACKUP_FORMAT = "metareview-project-backup"
#: Version of the layout of ``project.json`` this module writes and reads.
BACKUP_FORMAT_VERSION = 1
JSON_NAME = "project.json"

PROJECT_KEYS = ("name", "created_at", "reviewers_per_record")
#: The list sections of ``project.json`` and the keys each of their items must have.
SECTIONS: dict[str, tuple[str, ...]] = {
    "sources": ("name", "database", "filename", "format", "kind", "sha256", "n_records",
                "imported_at"),
    "records": ("id", "source", "ordinal", "source_line", "title", "abstract", "authors",
                "year", "journal", "volume", "issue", "pages", "doi", "pmid", "raw",
                "fingerprint"),
    "duplicate_groups": ("key", "primary", "members", "reason", "created_by", "created_at",
                         "active", "dissolved_at"),
    "reviewers": ("name", "role", "active", "added_at"),
    "screening_decisions": ("record", "stage", "reviewer", "decision", "reason", "time"),
    "screening_resolutions": ("record", "stage", "decision", "reason", "method",
                              "resolved_by", "time"),
    "unblindings": ("key", "stage", "owner", "reason", "time"),
    "retrievals": ("record", "retrieved", "note", "time"),
    "studies": ("label", "records"),
    "extraction_values": ("study", "field", "reviewer", "value", "time"),
    "extraction_resolutions": ("study", "field", "value", "reason", "resolved_by", "time"),
    "rob_judgements": ("study", "tool", "domain", "reviewer", "judgement", "support",
                       "consensus", "time"),
    "audit_log": ("time", "actor", "entity", "key", "old", "new", "reason"),
}
#: Required top-level keys (``metareview_version`` is written for information only).
TOP_KEYS = ("format", "format_version", "project", *SECTIONS)

#: Audit entities whose ``entity_id`` is an integer row id (exported as a natural key).
ROW_ENTITIES = ("project", "source", "duplicate_group", "reviewer", "unblinding", "study")
#: Audit entities whose ``entity_id`` is a record id.
RECORD_ENTITIES = ("screening_decision", "screening_resolution", "retrieval")
#: Audit entities whose ``entity_id`` starts with a study label: how many "/"-separated
#: parts follow the label.
LABEL_ENTITIES = {"extraction_value": 1, "extraction_resolution": 1, "rob_judgement": 2}

_CHUNK = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit


class BackupMixin:
    """Export and restore methods of :class:`~metareview.review.Store`."""

    if TYPE_CHECKING:  # pragma: no cover - provided by Store
        session: Callable[[], AbstractContextManager[Session]]
        _project: Callable[[Session, Any], Project]
        _audit: Callable[..., None]

        def screening_status(self, project: str, stage: str = ...) -> pd.DataFrame: ...

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
        ``project.json`` is read in one transaction with the project row locked (writers
        lock it too), so it is one consistent snapshot; the outcome columns of the CSV and RIS
        views come from :meth:`screening_status` right after.

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
        status = {stage: self.screening_status(proj.name, stage) for stage in STAGES}
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / JSON_NAME
        path.write_text(dumps(doc), encoding="utf-8")
        _write_records_csv(folder / "records.csv", doc, status, secondary)
        _write_decisions_csv(folder / "decisions.csv", doc)
        _write_extraction_csv(folder / "extraction.csv", doc)
        (folder / "records.ris").write_text(_ris(doc, status, secondary), encoding="utf-8")
        return path

    def restore_project(self, folder_or_json: str | Path, *, actor: str,
                        name: str | None = None) -> str:
        """Rebuild a project exported by :meth:`export_project` in this store.

        Rows get new integer ids; record ids are kept. The exported audit entries are
        appended verbatim (original actor and time), then one entry ``"restored from backup
        <path>"`` by ``actor``. Everything happens in one transaction: on any refusal
        nothing is written.

        Parameters
        ----------
        folder_or_json : str or pathlib.Path
            The export folder, or its ``project.json``.
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
        doc = load_backup(path)
        new_name = doc["project"]["name"] if name is None else name
        check_text("name", new_name, max_length=200)
        plan = _Plan(doc, path)
        with self.session() as s:
            if s.scalar(select(Project.id).where(Project.name == new_name)) is not None:
                raise InputError(f"name: project {new_name!r} exists already in this store; "
                                 "pass name=... to restore it under another name. Nothing "
                                 "was restored.")
            taken = _existing_record_ids(s, [r["id"] for r in doc["records"]])
            if taken:
                shown = ", ".join(taken[:3]) + (", ..." if len(taken) > 3 else "")
                raise InputError(f"records: {len(taken)} of the backup's record ids exist "
                                 f"already in this store ({shown}); a project's records can "
                                 "be restored into a store only once. Nothing was restored.")
            try:
                proj = plan.write(s, new_name)
            except (IntegrityError, DataError) as exc:
                raise InputError(f"{path}: the backup is inconsistent or conflicts with this "
                                 f"store ({exc.orig}); nothing was restored.") from exc
            self._audit(s, actor, "project", str(proj.id), None,
                        {"name": new_name, "restored_from": doc["project"]["name"],
                         "records": len(doc["records"]), "format_version": BACKUP_FORMAT_VERSION},
                        f"restored from backup {path}")
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


def _snapshot(s: Session, proj: Project) -> dict[str, Any]:
    """Everything of ``proj`` as a JSON-safe dictionary (natural keys, store order)."""
    from metareview import __version__

    pid = proj.id
    sources = list(s.scalars(select(Source).where(Source.project_id == pid)
                             .order_by(Source.id)))
    sha = {src.id: src.sha256 for src in sources}
    records = list(s.scalars(select(Record).where(Record.project_id == pid)
                             .order_by(Record.source_id, Record.ordinal)))
    groups = list(s.scalars(select(DuplicateGroup).where(DuplicateGroup.project_id == pid)
                            .order_by(DuplicateGroup.id)))
    group_key = {g.id: n for n, g in enumerate(groups, start=1)}
    members: dict[int, list[str]] = {}
    for gid, rid in s.execute(select(DuplicateMember.group_id, DuplicateMember.record_id)
                              .join(DuplicateGroup)
                              .where(DuplicateGroup.project_id == pid)
                              .order_by(DuplicateMember.group_id, DuplicateMember.record_id)):
        members.setdefault(gid, []).append(rid)
    reviewers = list(s.scalars(select(Reviewer).where(Reviewer.project_id == pid)
                               .order_by(Reviewer.id)))
    who = {r.id: r.name for r in reviewers}
    unblindings = list(s.scalars(select(Unblinding).where(Unblinding.project_id == pid)
                                 .order_by(Unblinding.id)))
    unblinding_key = {u.id: n for n, u in enumerate(unblindings, start=1)}
    studies = list(s.scalars(select(Study).where(Study.project_id == pid).order_by(Study.id)))
    label = {st.id: st.label for st in studies}
    reports: dict[int, list[str]] = {}
    for sid, rid in s.execute(select(StudyReport.study_id, StudyReport.record_id).join(Study)
                              .where(Study.project_id == pid)
                              .order_by(StudyReport.study_id, StudyReport.record_id)):
        reports.setdefault(sid, []).append(rid)

    def rows(model: Any) -> list[Any]:
        return list(s.scalars(select(model).where(model.project_id == pid)
                              .order_by(model.id)))

    keys = {
        "project": {str(pid): None},
        "source": {str(i): h for i, h in sha.items()},
        "duplicate_group": {str(i): k for i, k in group_key.items()},
        "reviewer": {str(i): n for i, n in who.items()},
        "unblinding": {str(i): k for i, k in unblinding_key.items()},
        "study": {str(i): lab for i, lab in label.items()},
    }
    return {
        "format": BACKUP_FORMAT,
        "format_version": BACKUP_FORMAT_VERSION,
        "metareview_version": __version__,
        "project": {"name": proj.name, "created_at": iso(proj.created_at),
                    "reviewers_per_record": proj.reviewers_per_record},
        "sources": [
            {"name": x.name, "database": x.database, "filename": x.filename,
             "format": x.format, "kind": x.kind, "sha256": x.sha256,
             "n_records": x.n_records, "imported_at": iso(x.imported_at)} for x in sources],
        "records": [
            {"id": r.id, "source": sha[r.source_id], "ordinal": r.ordinal,
             "source_line": r.source_line, "title": r.title, "abstract": r.abstract,
             "authors": list(r.authors or []), "year": r.year, "journal": r.journal,
             "volume": r.volume, "issue": r.issue, "pages": r.pages, "doi": r.doi,
             "pmid": r.pmid, "raw": r.raw, "fingerprint": r.fingerprint} for r in records],
        "duplicate_groups": [
            {"key": group_key[g.id], "primary": g.primary_record_id,
             "members": members.get(g.id, []), "reason": g.reason,
             "created_by": g.created_by, "created_at": iso(g.created_at), "active": g.active,
             "dissolved_at": iso(g.dissolved_at)} for g in groups],
        "reviewers": [
            {"name": r.name, "role": r.role, "active": r.active, "added_at": iso(r.added_at)}
            for r in reviewers],
        "screening_decisions": [
            {"record": d.record_id, "stage": d.stage, "reviewer": who[d.reviewer_id],
             "decision": d.decision, "reason": d.reason, "time": iso(d.time)}
            for d in rows(ScreeningDecision)],
        "screening_resolutions": [
            {"record": r.record_id, "stage": r.stage, "decision": r.decision,
             "reason": r.reason, "method": r.method, "resolved_by": who[r.resolved_by],
             "time": iso(r.time)} for r in rows(ScreeningResolution)],
        "unblindings": [
            {"key": unblinding_key[u.id], "stage": u.stage, "owner": who[u.owner_id],
             "reason": u.reason, "time": iso(u.time)} for u in unblindings],
        "retrievals": [
            {"record": r.record_id, "retrieved": r.retrieved, "note": r.note,
             "time": iso(r.time)}
            for r in s.scalars(select(Retrieval).join(Record, Record.id == Retrieval.record_id)
                               .where(Retrieval.project_id == pid)
                               .order_by(Record.source_id, Record.ordinal))],
        "studies": [{"label": st.label, "records": reports.get(st.id, [])} for st in studies],
        "extraction_values": [
            {"study": label[v.study_id], "field": v.field, "reviewer": who[v.reviewer_id],
             "value": v.value, "time": iso(v.time)} for v in rows(ExtractionValue)],
        "extraction_resolutions": [
            {"study": label[r.study_id], "field": r.field, "value": r.value,
             "reason": r.reason, "resolved_by": who[r.resolved_by], "time": iso(r.time)}
            for r in rows(ExtractionResolution)],
        "rob_judgements": [
            {"study": label[j.study_id], "tool": j.tool, "domain": j.domain,
             "reviewer": who[j.reviewer_id], "judgement": j.judgement, "support": j.support,
             "consensus": j.consensus, "time": iso(j.time)} for j in rows(RobJudgement)],
        "audit_log": _audit_entries(s, proj, keys, {r.id for r in records}, set(label.values())),
    }


def _audit_entries(s: Session, proj: Project, keys: Mapping[str, Mapping[str, Any]],
                   record_ids: set[str], labels: set[str]) -> list[dict[str, Any]]:
    """The audit entries of ``proj`` (module docstring), oldest first, with natural keys."""
    owner = _label_owner(s, labels)
    kinds = (*ROW_ENTITIES, *RECORD_ENTITIES, *LABEL_ENTITIES)
    out = []
    for a in s.scalars(select(AuditLog).where(AuditLog.entity.in_(kinds))
                       .order_by(AuditLog.id)):
        if a.entity in ROW_ENTITIES:
            if a.entity_id not in keys[a.entity]:
                continue
            key = keys[a.entity][a.entity_id]
        elif a.entity in RECORD_ENTITIES:
            if a.entity_id not in record_ids:
                continue
            key = a.entity_id
        else:
            study = _label_of(a.entity, a.entity_id)
            if study not in labels or owner(study, a.actor, a.time) != proj.id:
                continue
            key = a.entity_id
        out.append({"time": iso(a.time), "actor": a.actor, "entity": a.entity, "key": key,
                    "old": a.old, "new": a.new, "reason": a.reason})
    return out


def _label_of(entity: str, entity_id: str) -> str | None:
    parts = entity_id.rsplit("/", LABEL_ENTITIES[entity])
    return parts[0] if len(parts) == LABEL_ENTITIES[entity] + 1 else None


def _label_owner(s: Session, labels: set[str]) -> Callable[[str, str, datetime], int | None]:
    """A function giving the project that a label-keyed audit entry belongs to: among the
    projects with a study of that label and a reviewer named as the actor, the only one, or
    the one whose study was created last at or before the entry (its first "study" entry)."""
    candidates: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    earliest = datetime.min.replace(tzinfo=UTC)
    if labels:
        studies = s.execute(select(Study.id, Study.project_id, Study.label)
                            .where(Study.label.in_(sorted(labels)))).all()
        created = dict(s.execute(
            select(AuditLog.entity_id, func.min(AuditLog.time))
            .where(AuditLog.entity == "study",
                   AuditLog.entity_id.in_([str(sid) for sid, _, _ in studies]))
            .group_by(AuditLog.entity_id)).all())
        pids = sorted({pid for _, pid, _ in studies})
        names: dict[int, set[str]] = {}
        for pid, name in s.execute(select(Reviewer.project_id, Reviewer.name)
                                   .where(Reviewer.project_id.in_(pids))):
            names.setdefault(pid, set()).add(name)
        for sid, pid, lab in studies:
            when = _utc(created.get(str(sid))) or earliest
            for name in names.get(pid, ()):
                candidates.setdefault((lab, name), []).append((when, pid))

    def owner(label: str, actor: str, time: datetime) -> int | None:
        found = candidates.get((label, actor), [])
        if len(found) <= 1:
            return found[0][1] if found else None
        when = _utc(time) or earliest
        before = [c for c in found if c[0] <= when]
        return max(before or found)[1]

    return owner


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _outcome(status: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """record id -> (decision or status, full-text exclusion reason)."""
    out = {}
    for rid, state, decision, reason in status[["record_id", "status", "decision",
                                                "reason"]].itertuples(index=False):
        out[rid] = (decision if state in ("agreed", "resolved") else state,
                    reason if isinstance(reason, str) else "")  # NaN when there is none
    return out


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _write_records_csv(path: Path, doc: Mapping[str, Any],
                       status: Mapping[str, pd.DataFrame], secondary: Mapping[str, str]) -> None:
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
        rows.append((rid, src["name"], src["database"] or "", r["source_line"], r["title"] or "",
                     r["abstract"] or "", "; ".join(r["authors"]),
                     "" if r["year"] is None else r["year"], r["journal"] or "",
                     r["volume"] or "", r["issue"] or "", r["pages"] or "", r["doi"] or "",
                     r["pmid"] or "", secondary.get(rid, ""),
                     title_abstract.get(rid, ("", ""))[0], ft, ft_reason,
                     "" if rid not in retrieved else str(retrieved[rid]).lower(),
                     study.get(rid, "")))
    _write_csv(path, ("id", "source", "database", "source_line", "title", "abstract",
                      "authors", "year", "journal", "volume", "issue", "pages", "doi", "pmid",
                      "duplicate_of", "title_abstract", "full_text", "full_text_reason",
                      "retrieved", "study"), rows)


def _write_decisions_csv(path: Path, doc: Mapping[str, Any]) -> None:
    """Every vote (``kind`` "vote") and resolution (``kind`` its method)."""
    rows = [(d["record"], d["stage"], "vote", d["reviewer"], d["decision"], d["reason"] or "",
             d["time"]) for d in doc["screening_decisions"]]
    rows += [(r["record"], r["stage"], r["method"], r["resolved_by"], r["decision"],
              r["reason"], r["time"]) for r in doc["screening_resolutions"]]
    _write_csv(path, ("record_id", "stage", "kind", "reviewer", "decision", "reason", "time"),
               rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _write_extraction_csv(path: Path, doc: Mapping[str, Any]) -> None:
    """Every extracted value (``kind`` "value") and resolution (``kind`` "resolution")."""
    rows = [(v["study"], v["field"], "value", v["reviewer"], _cell(v["value"]), "", v["time"])
            for v in doc["extraction_values"]]
    rows += [(r["study"], r["field"], "resolution", r["resolved_by"], _cell(r["value"]),
              r["reason"], r["time"]) for r in doc["extraction_resolutions"]]
    _write_csv(path, ("study", "field", "kind", "reviewer", "value", "reason", "time"), rows)


def _one_line(value: Any) -> str:
    return " ".join(str(value).split())


def _ris(doc: Mapping[str, Any], status: Mapping[str, pd.DataFrame],
         secondary: Mapping[str, str]) -> str:
    """The records in RIS; screening votes, resolutions and outcomes in ``N1`` notes
    (``N1  - metareview title_abstract Ana: include``)."""
    sources = {x["sha256"]: x for x in doc["sources"]}
    outcome = {stage: _outcome(status[stage]) for stage in STAGES}
    notes: dict[tuple[str, str], list[str]] = {}  # (record, stage) -> notes, in stage order
    for r in doc["retrievals"]:
        state = "retrieved" if r["retrieved"] else "not retrieved"
        notes.setdefault((r["record"], "full_text"), []).append(
            f"full_text retrieval: {state}" + (f" ({r['note']})" if r["note"] else ""))
    for d in doc["screening_decisions"]:
        why = f" ({d['reason']})" if d["reason"] else ""
        notes.setdefault((d["record"], d["stage"]), []).append(
            f"{d['stage']} {d['reviewer']}: {d['decision']}{why}")
    for r in doc["screening_resolutions"]:
        notes.setdefault((r["record"], r["stage"]), []).append(
            f"{r['stage']} resolution by {r['resolved_by']} ({r['method']}): {r['decision']} "
            f"({r['reason']})")
    for stage in STAGES:
        for rid, (decision, reason) in outcome[stage].items():
            notes.setdefault((rid, stage), []).append(
                f"{stage} outcome: {decision}" + (f" ({reason})" if reason else ""))
    study = {rid: st["label"] for st in doc["studies"] for rid in st["records"]}
    lines: list[str] = []
    for r in doc["records"]:
        rid = r["id"]
        src = sources[r["source"]]
        kind = r["raw"].get("type_of_reference") if isinstance(r["raw"], dict) else None
        tags: list[tuple[str, Any]] = [("TY", kind or "JOUR"), ("ID", rid), ("TI", r["title"])]
        tags += [("AU", name) for name in r["authors"]]
        tags += [("PY", r["year"]), ("T2", r["journal"]), ("VL", r["volume"]),
                 ("IS", r["issue"])]
        first, _, last = (r["pages"] or "").partition("-")
        tags += [("SP", first), ("EP", last), ("DO", r["doi"]), ("AB", r["abstract"]),
                 ("DB", src["database"])]
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
        lines += [f"{tag}  - {_one_line(value)}" for tag, value in tags
                  if value is not None and str(value).strip()]
        lines += ["ER  - ", ""]
    return "\n".join(lines)


# -- restore --------------------------------------------------------------------------------
def load_backup(path: Path) -> dict[str, Any]:
    """Read and check ``project.json``: InputError naming the file and the key at fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise InputError(f"{path}: the backup could not be read ({why}); pass the export "
                         f"folder or its {JSON_NAME}.") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column "
                         f"{exc.colno}).") from exc
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object at the top; got "
                         f"{type(doc).__name__}.")
    if doc.get("format") != BACKUP_FORMAT:
        raise InputError(f"{path}: key 'format' must be {BACKUP_FORMAT!r}; got "
                         f"{doc.get('format')!r}. Is this a metareview project export?")
    if "format_version" not in doc:
        raise InputError(f"{path}: key 'format_version' is missing.")
    if doc["format_version"] != BACKUP_FORMAT_VERSION:
        raise InputError(f"{path}: key 'format_version' is {doc['format_version']!r}; this "
                         f"metareview reads format_version {BACKUP_FORMAT_VERSION}. Use the "
                         "metareview version that wrote the backup.")
    missing = [key for key in TOP_KEYS if key not in doc]
    if missing:
        raise InputError(f"{path}: key {missing[0]!r} is missing (required: "
                         f"{list(TOP_KEYS)}).")
    _check_items(path, "project", [doc["project"]], PROJECT_KEYS, single=True)
    for section, keys in SECTIONS.items():
        if not isinstance(doc[section], list):
            raise InputError(f"{path}: key {section!r} must be a list; got "
                             f"{type(doc[section]).__name__}.")
        _check_items(path, section, doc[section], keys)
    return doc


def _check_items(path: Path, section: str, items: Sequence[Any], keys: Sequence[str], *,
                 single: bool = False) -> None:
    for n, item in enumerate(items):
        where = section if single else f"{section}[{n}]"
        if not isinstance(item, dict):
            raise InputError(f"{path}: {where} must be an object; got {type(item).__name__}.")
        for key in keys:
            if key not in item:
                raise InputError(f"{path}: {where} lacks key {key!r} (required: {list(keys)}).")


class _Plan:
    """The checked rows of a backup, written by :meth:`write` in one session."""

    def __init__(self, doc: Mapping[str, Any], path: Path) -> None:
        self.doc = doc
        self.path = path
        self._unique("sources", "sha256")
        self._unique("records", "id")
        self._unique("reviewers", "name")
        self._unique("studies", "label")
        self._unique("duplicate_groups", "key")
        self._unique("unblindings", "key")
        self.sources = {x["sha256"] for x in doc["sources"]}
        self.records = {r["id"] for r in doc["records"]}
        self.reviewers = {r["name"] for r in doc["reviewers"]}
        self.studies = {st["label"] for st in doc["studies"]}
        self.times: dict[tuple[str, int, str], datetime | None] = {}
        stamps = {"project": ("created_at",), "sources": ("imported_at",),
                  "duplicate_groups": ("created_at", "dissolved_at"),
                  "reviewers": ("added_at",), "records": (), "studies": ()}
        self._when("project", 0, "created_at", doc["project"]["created_at"], "project")
        for section in SECTIONS:
            for n, item in enumerate(doc[section]):
                for key in stamps.get(section, ("time",)):
                    self._when(section, n, key, item[key], f"{section}[{n}].{key}")
        refs = {"record": self.records, "primary": self.records, "reviewer": self.reviewers,
                "resolved_by": self.reviewers, "owner": self.reviewers, "study": self.studies,
                "source": self.sources}
        for section in SECTIONS:
            if section == "audit_log":
                continue
            for n, item in enumerate(doc[section]):
                for key, known in refs.items():
                    if key in item:
                        self._ref(known, item[key], f"{section}[{n}].{key}", key)
                for key in ("members", "records"):
                    if section in ("duplicate_groups", "studies") and key in item:
                        for m, rid in enumerate(item[key]):
                            self._ref(self.records, rid, f"{section}[{n}].{key}[{m}]", key)

    def _unique(self, section: str, key: str) -> None:
        seen: set[Any] = set()
        for n, item in enumerate(self.doc[section]):
            if item[key] in seen:
                raise InputError(f"{self.path}: {section}[{n}].{key} {item[key]!r} appears "
                                 f"twice in {section}.")
            seen.add(item[key])

    def _when(self, section: str, n: int, key: str, value: Any, where: str) -> None:
        if value is None and key == "dissolved_at":
            self.times[(section, n, key)] = None
            return
        try:
            when = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise InputError(f"{self.path}: {where} must be an ISO 8601 date-time with a time "
                             f"zone (e.g. '2024-05-01T09:30:00+00:00'); got {value!r}.")
        self.times[(section, n, key)] = when.astimezone(UTC)

    def _ref(self, known: set[Any], value: Any, where: str, key: str) -> None:
        if value not in known:
            raise InputError(f"{self.path}: {where} {value!r} is not among the backup's "
                             f"{_REF_SECTION[key]}.")

    def t(self, section: str, n: int, key: str = "time") -> datetime | None:
        return self.times[(section, n, key)]

    def write(self, s: Session, name: str) -> Project:
        """Insert every row, section by section, in the backup's order (new ids keep it)."""
        doc = self.doc
        proj = Project(name=name, created_at=self.t("project", 0, "created_at"),
                       reviewers_per_record=doc["project"]["reviewers_per_record"])
        s.add(proj)
        s.flush()
        pid = proj.id
        sources = [Source(project_id=pid, name=x["name"], database=x["database"],
                          filename=x["filename"], format=x["format"], kind=x["kind"],
                          sha256=x["sha256"], n_records=x["n_records"],
                          imported_at=self.t("sources", n, "imported_at"))
                   for n, x in enumerate(doc["sources"])]
        source_id = self._flush(s, sources, [x["sha256"] for x in doc["sources"]])
        s.add_all(Record(id=r["id"], project_id=pid, source_id=source_id[r["source"]],
                         ordinal=r["ordinal"], source_line=r["source_line"], title=r["title"],
                         abstract=r["abstract"], authors=r["authors"], year=r["year"],
                         journal=r["journal"], volume=r["volume"], issue=r["issue"],
                         pages=r["pages"], doi=r["doi"], pmid=r["pmid"], raw=r["raw"],
                         fingerprint=r["fingerprint"]) for r in doc["records"])
        s.flush()
        groups = [DuplicateGroup(project_id=pid, primary_record_id=g["primary"],
                                 reason=g["reason"], created_by=g["created_by"],
                                 created_at=self.t("duplicate_groups", n, "created_at"),
                                 active=g["active"],
                                 dissolved_at=self.t("duplicate_groups", n, "dissolved_at"))
                  for n, g in enumerate(doc["duplicate_groups"])]
        group_id = self._flush(s, groups, [g["key"] for g in doc["duplicate_groups"]])
        s.add_all(DuplicateMember(group_id=group_id[g["key"]], record_id=rid)
                  for g in doc["duplicate_groups"] for rid in g["members"])
        people = [Reviewer(project_id=pid, name=r["name"], role=r["role"], active=r["active"],
                           added_at=self.t("reviewers", n, "added_at"))
                  for n, r in enumerate(doc["reviewers"])]
        who = self._flush(s, people, [r["name"] for r in doc["reviewers"]])
        s.add_all(ScreeningDecision(project_id=pid, record_id=d["record"], stage=d["stage"],
                                    reviewer_id=who[d["reviewer"]], decision=d["decision"],
                                    reason=d["reason"], time=self.t("screening_decisions", n))
                  for n, d in enumerate(doc["screening_decisions"]))
        s.flush()
        s.add_all(ScreeningResolution(project_id=pid, record_id=r["record"], stage=r["stage"],
                                      decision=r["decision"], reason=r["reason"],
                                      method=r["method"], resolved_by=who[r["resolved_by"]],
                                      time=self.t("screening_resolutions", n))
                  for n, r in enumerate(doc["screening_resolutions"]))
        s.flush()
        unblindings = [Unblinding(project_id=pid, stage=u["stage"], owner_id=who[u["owner"]],
                                  reason=u["reason"], time=self.t("unblindings", n))
                       for n, u in enumerate(doc["unblindings"])]
        unblinding_id = self._flush(s, unblindings, [u["key"] for u in doc["unblindings"]])
        s.add_all(Retrieval(record_id=r["record"], project_id=pid, retrieved=r["retrieved"],
                            note=r["note"], time=self.t("retrievals", n))
                  for n, r in enumerate(doc["retrievals"]))
        studies = [Study(project_id=pid, label=st["label"]) for st in doc["studies"]]
        study_id = self._flush(s, studies, [st["label"] for st in doc["studies"]])
        s.add_all(StudyReport(study_id=study_id[st["label"]], record_id=rid)
                  for st in doc["studies"] for rid in st["records"])
        s.flush()
        s.add_all(ExtractionValue(project_id=pid, study_id=study_id[v["study"]],
                                  field=v["field"], reviewer_id=who[v["reviewer"]],
                                  value=v["value"], time=self.t("extraction_values", n))
                  for n, v in enumerate(doc["extraction_values"]))
        s.flush()
        s.add_all(ExtractionResolution(project_id=pid, study_id=study_id[r["study"]],
                                       field=r["field"], value=r["value"], reason=r["reason"],
                                       resolved_by=who[r["resolved_by"]],
                                       time=self.t("extraction_resolutions", n))
                  for n, r in enumerate(doc["extraction_resolutions"]))
        s.flush()
        s.add_all(RobJudgement(project_id=pid, study_id=study_id[j["study"]], tool=j["tool"],
                               domain=j["domain"], reviewer_id=who[j["reviewer"]],
                               judgement=j["judgement"], support=j["support"],
                               consensus=j["consensus"], time=self.t("rob_judgements", n))
                  for n, j in enumerate(doc["rob_judgements"]))
        s.flush()
        ids: dict[str, Mapping[Any, int]] = {
            "project": {None: pid}, "source": source_id, "duplicate_group": group_id,
            "reviewer": who, "unblinding": unblinding_id, "study": study_id}
        entries = []
        for n, a in enumerate(doc["audit_log"]):
            key = a["key"]
            if a["entity"] in ids:
                if key not in ids[a["entity"]]:
                    raise InputError(f"{self.path}: audit_log[{n}].key {key!r} names no "
                                     f"{a['entity']} of the backup.")
                entity_id = str(ids[a["entity"]][key])
            elif isinstance(key, str):
                entity_id = key
            else:
                raise InputError(f"{self.path}: audit_log[{n}].key must be a string for "
                                 f"entity {a['entity']!r}; got {key!r}.")
            entries.append(AuditLog(time=self.t("audit_log", n), actor=a["actor"],
                                    entity=a["entity"], entity_id=entity_id, old=a["old"],
                                    new=a["new"], reason=a["reason"]))
        s.add_all(entries)
        s.flush()
        return proj

    @staticmethod
    def _flush(s: Session, rows: Sequence[Any], keys: Sequence[Any]) -> dict[Any, int]:
        """Add ``rows`` in order, flush, and map each natural key to the new row's id."""
        s.add_all(rows)
        s.flush()
        return {key: row.id for key, row in zip(keys, rows, strict=True)}


#: Which section a reference key points into (for messages).
_REF_SECTION = {"record": "records", "primary": "records", "members": "records",
                "records": "records", "reviewer": "reviewers", "resolved_by": "reviewers",
                "owner": "reviewers", "study": "studies", "source": "sources"}


def _existing_record_ids(s: Session, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` that are record ids in the store already (queried in chunks)."""
    found: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start:start + _CHUNK])
        found += s.scalars(select(Record.id).where(Record.id.in_(chunk))).all()
    order = {rid: n for n, rid in enumerate(ids)}
    return sorted(found, key=order.__getitem__)
