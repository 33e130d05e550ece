"""The review store's tables (SQLAlchemy 2.0 ORM, portable column types only).

The same models run on SQLite and PostgreSQL; the schema is versioned with Alembic
(``metareview/review/migrations``): a change here needs a new migration there, and
``tests/review/test_migrations.py`` checks the two agree.

Tables::

    projects              one systematic review (settings: reviewers per record)
    sources               one imported file (name, database, filename, sha256, imported_at)
    records               one input row each; id stable across re-imports of the same file
    duplicate_groups      records judged to be one study; records kept, groups can be dissolved
    duplicate_members     which records belong to which group
    reviewers             the people of a project and their role (reviewer or owner)
    screening_decisions   one vote per reviewer, record and stage (revisions audited)
    screening_resolutions the final say on a conflict: third reviewer or consensus, with reason
    unblindings           an owner's logged decision to show everyone's votes at a stage
    retrievals            whether the full text of a record was obtained
    set_aside             records with nothing to screen on, kept out of the queue for an owner
    studies, study_reports  included reports grouped into studies
    extraction_values     one value per reviewer, study and field (dual extraction)
    extraction_resolutions  the agreed value of a field that reviewers disagreed on
    extraction_forms      the project's extraction form (the protocol's [extraction] section)
    extraction_submissions  a reviewer's extraction of a study, declared finished
    rob_judgements        risk-of-bias judgement per reviewer, study, domain (with support)
    audit_log             append-only: project, actor, time, entity, entity_id, old, new, reason
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from metareview.exceptions import StoreError

__all__ = [
    "BIBLIOGRAPHIC_FIELDS",
    "AuditLog",
    "Base",
    "DuplicateGroup",
    "DuplicateMember",
    "ExtractionResolution",
    "ExtractionValue",
    "Project",
    "Record",
    "Retrieval",
    "Reviewer",
    "RobAnswer",
    "RobJudgement",
    "ScreeningDecision",
    "ScreeningResolution",
    "SetAside",
    "Source",
    "Study",
    "StudyReport",
    "Unblinding",
    "audit_log_is_append_only",
    "utc_now",
]


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the review store's tables."""


class Project(Base):
    """One systematic review; owns its sources, records and duplicate groups."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    reviewers_per_record: Mapped[int] = mapped_column(Integer, default=2, server_default="2")


class Source(Base):
    """One imported file (a database search export)."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "sha256", name="uq_source_file"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    database: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="database", server_default="database")
    sha256: Mapped[str] = mapped_column(String(64))
    n_records: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


#: a record's bibliographic fields, in the order the store's tables and exports list them
BIBLIOGRAPHIC_FIELDS = (
    "title",
    "abstract",
    "authors",
    "year",
    "journal",
    "volume",
    "issue",
    "pages",
    "doi",
    "pmid",
)


class Record(Base):
    """One input row; ``raw`` keeps the fields as the file gave them."""

    __tablename__ = "records"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    source_line: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    year: Mapped[int | None] = mapped_column(Integer)
    journal: Mapped[str | None] = mapped_column(Text)
    volume: Mapped[str | None] = mapped_column(Text)
    issue: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(Text, index=True)
    pmid: Mapped[str | None] = mapped_column(String(32), index=True)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)


class DuplicateGroup(Base):
    """Records judged to be one study. Members are kept; ``active`` is False once dissolved."""

    __tablename__ = "duplicate_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    primary_record_id: Mapped[str] = mapped_column(ForeignKey("records.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    dissolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    members: Mapped[list[DuplicateMember]] = relationship(back_populates="group")


class DuplicateMember(Base):
    """Membership of one record in one duplicate group."""

    __tablename__ = "duplicate_members"
    group_id: Mapped[int] = mapped_column(ForeignKey("duplicate_groups.id"), primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    group: Mapped[DuplicateGroup] = relationship(back_populates="members")


class Reviewer(Base):
    """A person of a project; ``role`` is ``"reviewer"`` or ``"owner"`` (owners may unblind)."""

    __tablename__ = "reviewers"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_reviewer_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="reviewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ScreeningDecision(Base):
    """One reviewer's vote on one record at one stage; a revision updates it (audited)."""

    __tablename__ = "screening_decisions"
    __table_args__ = (UniqueConstraint("record_id", "stage", "reviewer_id", name="uq_one_vote"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ScreeningResolution(Base):
    """The final decision on a record whose votes disagree: by a third reviewer or consensus."""

    __tablename__ = "screening_resolutions"
    __table_args__ = (UniqueConstraint("record_id", "stage", name="uq_one_resolution"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(20))
    resolved_by: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Unblinding(Base):
    """An owner's decision to show all reviewers' votes at ``stage`` (logged, permanent)."""

    __tablename__ = "unblindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    reason: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Retrieval(Base):
    """Whether the full text of a record was obtained (``retrieved``) and, if not, why."""

    __tablename__ = "retrievals"
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    retrieved: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SetAside(Base):
    """A record set aside at import because it has no title, abstract or authors: kept, but
    out of the screening queue until an owner releases it (``status`` ``"released"``) or
    discards it (``"discarded"``: removed before screening, counted by PRISMA with
    ``decision_reason``). ``status`` is ``"held"`` until then."""

    __tablename__ = "set_aside"
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    status: Mapped[str] = mapped_column(String(20), default="held")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Study(Base):
    """An included study (label as in the analysis table); one or more reports."""

    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("project_id", "label", name="uq_study_label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))


class StudyReport(Base):
    """A report (record) of a study."""

    __tablename__ = "study_reports"
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)


class ExtractionValue(Base):
    """One reviewer's value of one form field for one study (JSON: number, text or None)."""

    __tablename__ = "extraction_values"
    __table_args__ = (
        UniqueConstraint("study_id", "field", "reviewer_id", name="uq_one_extraction"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    field: Mapped[str] = mapped_column(String(200))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ExtractionResolution(Base):
    """The agreed value of a field the extractors disagreed on, with who and why."""

    __tablename__ = "extraction_resolutions"
    __table_args__ = (UniqueConstraint("study_id", "field", name="uq_one_extraction_res"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    field: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    resolved_by: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ExtractionFormRow(Base):
    """The extraction form of a project: the ``[extraction]`` mapping of its protocol."""

    __tablename__ = "extraction_forms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), unique=True)
    spec: Mapped[Any] = mapped_column(JSON)
    set_by: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ExtractionSubmission(Base):
    """A reviewer's extraction of a study declared finished: once two reviewers have
    submitted, the study is complete, their values are shown to each other and frozen,
    and disagreements go to reconciliation."""

    __tablename__ = "extraction_submissions"
    __table_args__ = (
        UniqueConstraint("study_id", "reviewer_id", name="uq_one_extraction_submission"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RobJudgement(Base):
    """A risk-of-bias judgement of one domain of one study by one reviewer, or the consensus
    judgement agreed after disagreement (``consensus`` True, ``reviewer`` who recorded it)."""

    __tablename__ = "rob_judgements"
    __table_args__ = (
        UniqueConstraint(
            "study_id", "tool", "domain", "reviewer_id", "consensus", name="uq_one_judgement"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    tool: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(20))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    judgement: Mapped[str] = mapped_column(String(40))
    support: Mapped[str | None] = mapped_column(Text)
    consensus: Mapped[bool] = mapped_column(Boolean, default=False)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RobAnswer(Base):
    """A reviewer's answer to one signalling question of a risk-of-bias tool (RoB 2: ``"1.1"``
    ... ``"5.3"``) for one study; the domain judgements it suggests are recomputed from the
    answers (:mod:`metareview.review.rob_algorithm`)."""

    __tablename__ = "rob_answers"
    __table_args__ = (
        UniqueConstraint("study_id", "tool", "question", "reviewer_id", name="uq_one_rob_answer"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    tool: Mapped[str] = mapped_column(String(20))
    question: Mapped[str] = mapped_column(String(10))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"))
    answer: Mapped[str] = mapped_column(String(4))
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class AuditLog(Base):
    """Append-only log of every change: who, when, what, old and new values, and why.

    ``project_id`` is the project the change belongs to; every store write sets it. It is
    None only for an entry of a store older than migration 0004 whose project could not be
    told from what it references (see that migration)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    actor: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(Text)
    old: Mapped[Any] = mapped_column(JSON, nullable=True)
    new: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)


def audit_log_is_append_only(session: Session, _context: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditLog):
            raise StoreError(
                f"audit_log entry {obj.id} cannot be changed or deleted; the log is append-only."
            )
