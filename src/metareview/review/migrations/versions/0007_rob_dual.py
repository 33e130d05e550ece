"""rob_answers: each reviewer's answers to the signalling questions of a risk-of-bias tool
(RoB 2), from which the store suggests each domain's judgement. A new table only, so the
migration applies after any revision that leaves ``projects``, ``studies`` and ``reviewers``
in place: re-chaining it after another revision needs only ``down_revision``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rob_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=20), nullable=False),
        sa.Column("question", sa.String(length=10), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=4), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["reviewers.id"]),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "study_id", "tool", "question", "reviewer_id", name="uq_one_rob_answer"
        ),
    )
    op.create_index("ix_rob_answers_project_id", "rob_answers", ["project_id"])
    op.create_index("ix_rob_answers_study_id", "rob_answers", ["study_id"])


def downgrade() -> None:
    op.drop_index("ix_rob_answers_study_id", table_name="rob_answers")
    op.drop_index("ix_rob_answers_project_id", table_name="rob_answers")
    op.drop_table("rob_answers")
