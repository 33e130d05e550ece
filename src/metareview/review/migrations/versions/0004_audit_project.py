"""audit_log.project_id (the project of each audit entry, filled in for old entries), and the
set_aside table (records with no title, abstract or authors, kept out of the screening queue).

Before this revision the log had no project column and a backup guessed an entry's project
from its ``entity_id``. The upgrade adds the column (nullable, indexed, a foreign key to
``projects``) and fills it in for every existing entry from what the entry references:

- ``project``: the project whose id is ``entity_id``;
- ``source``, ``duplicate_group``, ``reviewer``, ``unblinding``, ``study``: the project that
  owns the row whose id is ``entity_id``;
- ``screening_decision``, ``screening_resolution``, ``retrieval``: the project of the record
  whose id is ``entity_id`` (record ids are unique in a store);
- ``extraction_value``, ``extraction_resolution`` (``"<study>/<field>"``) and
  ``rob_judgement`` (``"<study>/<tool>/<domain>"``) name a study *label*, unique only within
  a project: the entry goes to the project with a study of that label and a reviewer named
  as the entry's actor; should several qualify, to the one whose study was created last at
  or before the entry (its first ``study`` audit entry). This guess served the backups until
  now; it is kept here, for the old entries only.

An entry left without a project (its row gone, or no project qualifying) keeps NULL; the store
writes the column for every new entry.

``set_aside`` holds, per record with no title, abstract or authors (nothing to screen it on),
whether it is still held for an owner, released into the queue or discarded. The store sets
such records aside as it imports them; the upgrade sets aside those of older stores (status
``held``, one audit entry each, by ``metareview``). Their votes, if any, are kept: releasing a
record brings them back.

The downgrade drops the table and the column.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: audit entity -> table whose integer ``id`` is the entry's ``entity_id``
_ROW_TABLES = {
    "source": "sources",
    "duplicate_group": "duplicate_groups",
    "reviewer": "reviewers",
    "unblinding": "unblindings",
    "study": "studies",
}
_RECORD_ENTITIES = ("screening_decision", "screening_resolution", "retrieval")
#: audit entity -> how many "/"-separated parts follow the study label in ``entity_id``
_LABEL_ENTITIES = {"extraction_value": 1, "extraction_resolution": 1, "rob_judgement": 2}

_audit = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("project_id", sa.Integer),
    sa.column("time", sa.DateTime(timezone=True)),
    sa.column("actor", sa.Text),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.Text),
)


def _owned(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("id"), sa.column("project_id", sa.Integer))


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_log_project_id"), ["project_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_log_project_id_projects"), "projects", ["project_id"], ["id"]
        )
    _backfill(op.get_bind())
    op.create_table(
        "set_aside",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["reviewers.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("set_aside", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_set_aside_project_id"), ["project_id"], unique=False)
    _set_aside_old_records(op.get_bind())


def downgrade() -> None:
    op.drop_table("set_aside")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_audit_log_project_id_projects"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_audit_log_project_id"))
        batch_op.drop_column("project_id")


def _backfill(conn: sa.Connection) -> None:
    projects = _owned("projects")
    conn.execute(
        _audit.update()
        .where(_audit.c.entity == "project")
        .values(
            project_id=sa.select(projects.c.id)
            .where(sa.cast(projects.c.id, sa.Text) == _audit.c.entity_id)
            .scalar_subquery()
        )
    )
    for entity, name in _ROW_TABLES.items():
        table = _owned(name)
        conn.execute(
            _audit.update()
            .where(_audit.c.entity == entity)
            .values(
                project_id=sa.select(table.c.project_id)
                .where(sa.cast(table.c.id, sa.Text) == _audit.c.entity_id)
                .scalar_subquery()
            )
        )
    records = _owned("records")
    conn.execute(
        _audit.update()
        .where(_audit.c.entity.in_(_RECORD_ENTITIES))
        .values(
            project_id=sa.select(records.c.project_id)
            .where(records.c.id == _audit.c.entity_id)
            .scalar_subquery()
        )
    )
    _backfill_labels(conn)


def _set_aside_old_records(conn: sa.Connection) -> None:
    """Set aside the records of older stores that have nothing to screen on."""
    # the store's own rule, so that old and new imports are judged alike
    from metareview.review.importers._base import NO_CONTENT, lacks_content

    records = sa.table(
        "records",
        sa.column("id", sa.String),
        sa.column("project_id", sa.Integer),
        sa.column("title", sa.Text),
        sa.column("abstract", sa.Text),
        sa.column("authors", sa.JSON),
    )
    found = [
        (rid, pid)
        for rid, pid, title, abstract, authors in conn.execute(
            sa.select(
                records.c.id,
                records.c.project_id,
                records.c.title,
                records.c.abstract,
                records.c.authors,
            ).order_by(records.c.id)
        )
        if lacks_content(title, abstract, authors)
    ]
    if not found:
        return
    now = datetime.now(UTC)
    set_aside = sa.table(
        "set_aside",
        sa.column("record_id", sa.String),
        sa.column("project_id", sa.Integer),
        sa.column("reason", sa.Text),
        sa.column("time", sa.DateTime(timezone=True)),
        sa.column("status", sa.String),
    )
    conn.execute(
        set_aside.insert(),
        [
            {
                "record_id": rid,
                "project_id": pid,
                "reason": NO_CONTENT,
                "time": now,
                "status": "held",
            }
            for rid, pid in found
        ],
    )
    audit = sa.table(
        "audit_log",
        sa.column("project_id", sa.Integer),
        sa.column("time", sa.DateTime(timezone=True)),
        sa.column("actor", sa.Text),
        sa.column("entity", sa.String),
        sa.column("entity_id", sa.Text),
        sa.column("old", sa.JSON),
        sa.column("new", sa.JSON),
        sa.column("reason", sa.Text),
    )
    conn.execute(
        audit.insert(),
        [
            {
                "project_id": pid,
                "time": now,
                "actor": "metareview",
                "entity": "set_aside",
                "entity_id": rid,
                "old": None,
                "new": {"status": "held", "reason": NO_CONTENT},
                "reason": f"set aside by migration 0004: {NO_CONTENT}",
            }
            for rid, pid in found
        ],
    )


def _backfill_labels(conn: sa.Connection) -> None:
    """The entries keyed by a study label (see the module docstring)."""
    entries = conn.execute(
        sa.select(
            _audit.c.id, _audit.c.entity, _audit.c.entity_id, _audit.c.actor, _audit.c.time
        ).where(_audit.c.entity.in_(tuple(_LABEL_ENTITIES)))
    ).all()
    if not entries:
        return
    studies = sa.table(
        "studies",
        sa.column("id", sa.Integer),
        sa.column("project_id", sa.Integer),
        sa.column("label", sa.String),
    )
    reviewers = sa.table(
        "reviewers", sa.column("project_id", sa.Integer), sa.column("name", sa.String)
    )
    created = {
        entity_id: _utc(when)
        for entity_id, when in conn.execute(
            sa.select(_audit.c.entity_id, sa.func.min(_audit.c.time))
            .where(_audit.c.entity == "study")
            .group_by(_audit.c.entity_id)
        )
    }
    names: dict[int, set[str]] = {}
    for pid, name in conn.execute(sa.select(reviewers.c.project_id, reviewers.c.name)):
        names.setdefault(pid, set()).add(name)
    earliest = datetime.min.replace(tzinfo=UTC)
    candidates: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    for sid, pid, label in conn.execute(
        sa.select(studies.c.id, studies.c.project_id, studies.c.label)
    ):
        when = created.get(str(sid)) or earliest
        for name in names.get(pid, ()):
            candidates.setdefault((label, name), []).append((when, pid))
    updates = []
    for entry_id, entity, entity_id, actor, time in entries:
        parts = entity_id.rsplit("/", _LABEL_ENTITIES[entity])
        if len(parts) != _LABEL_ENTITIES[entity] + 1:
            continue
        found = candidates.get((parts[0], actor), [])
        if not found:
            continue
        if len(found) == 1:
            pid = found[0][1]
        else:
            when = _utc(time) or earliest
            pid = max([c for c in found if c[0] <= when] or found)[1]
        updates.append({"entry": entry_id, "pid": pid})
    if updates:
        conn.execute(
            _audit.update()
            .where(_audit.c.id == sa.bindparam("entry"))
            .values(project_id=sa.bindparam("pid")),
            updates,
        )


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite may hand back an aggregate's date-time as text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
