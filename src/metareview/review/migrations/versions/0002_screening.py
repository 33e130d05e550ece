"""Screening, studies, extraction and risk of bias: reviewers, votes, resolutions,
unblindings, retrievals, studies and their reports, extraction values and resolutions,
risk-of-bias judgements; projects.reviewers_per_record and sources.kind.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_reviewer_name"),
    )
    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviewers_project_id"), ["project_id"], unique=False)

    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "label", name="uq_study_label"),
    )
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_studies_project_id"), ["project_id"], unique=False)

    op.create_table(
        "extraction_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["reviewers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_id", "field", name="uq_one_extraction_res"),
    )
    with op.batch_alter_table("extraction_resolutions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_extraction_resolutions_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_extraction_resolutions_study_id"), ["study_id"], unique=False
        )

    op.create_table(
        "extraction_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_id", "field", "reviewer_id", name="uq_one_extraction"),
    )
    with op.batch_alter_table("extraction_values", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_extraction_values_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_extraction_values_study_id"), ["study_id"], unique=False
        )

    op.create_table(
        "rob_judgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=20), nullable=False),
        sa.Column("domain", sa.String(length=20), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("judgement", sa.String(length=40), nullable=False),
        sa.Column("support", sa.Text(), nullable=True),
        sa.Column("consensus", sa.Boolean(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "study_id", "tool", "domain", "reviewer_id", "consensus", name="uq_one_judgement"
        ),
    )
    with op.batch_alter_table("rob_judgements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rob_judgements_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_rob_judgements_study_id"), ["study_id"], unique=False)

    op.create_table(
        "unblindings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["reviewers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("unblindings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unblindings_project_id"), ["project_id"], unique=False)

    op.create_table(
        "retrievals",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("retrieved", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.PrimaryKeyConstraint("record_id"),
    )
    with op.batch_alter_table("retrievals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retrievals_project_id"), ["project_id"], unique=False)

    op.create_table(
        "screening_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["reviewers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", "stage", "reviewer_id", name="uq_one_vote"),
    )
    with op.batch_alter_table("screening_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_decisions_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_decisions_record_id"), ["record_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_decisions_reviewer_id"), ["reviewer_id"], unique=False
        )

    op.create_table(
        "screening_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["reviewers.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", "stage", name="uq_one_resolution"),
    )
    with op.batch_alter_table("screening_resolutions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_resolutions_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_resolutions_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "study_reports",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
        ),
        sa.PrimaryKeyConstraint("study_id", "record_id"),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reviewers_per_record", sa.Integer(), server_default="2", nullable=False)
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="database", nullable=False)
        )


def downgrade() -> None:
    op.drop_table("study_reports")
    op.drop_table("screening_resolutions")
    op.drop_table("screening_decisions")
    op.drop_table("retrievals")
    op.drop_table("unblindings")
    op.drop_table("rob_judgements")
    op.drop_table("extraction_values")
    op.drop_table("extraction_resolutions")
    op.drop_table("studies")
    op.drop_table("reviewers")
    with op.batch_alter_table("sources") as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("reviewers_per_record")
