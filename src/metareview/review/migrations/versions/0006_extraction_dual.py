"""Dual extraction in the browser: the project's extraction form (``extraction_forms``: the
protocol's ``[extraction]`` mapping, who set it and when) and the reviewers' submissions
(``extraction_submissions``: a reviewer's extraction of a study declared finished; two make
the study complete and open its reconciliation). New tables only, referring to ``projects``,
``studies`` and ``reviewers``: re-chaining this revision after another needs only
``down_revision``.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "extraction_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id"),
    )
    op.create_table(
        "extraction_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["reviewers.id"]),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_id", "reviewer_id", name="uq_one_extraction_submission"),
    )
    op.create_index(
        "ix_extraction_submissions_project_id", "extraction_submissions", ["project_id"]
    )
    op.create_index("ix_extraction_submissions_study_id", "extraction_submissions", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_extraction_submissions_study_id", table_name="extraction_submissions")
    op.drop_index("ix_extraction_submissions_project_id", table_name="extraction_submissions")
    op.drop_table("extraction_submissions")
    op.drop_table("extraction_forms")
