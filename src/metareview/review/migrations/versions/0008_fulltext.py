"""Full-text PDFs of records (``fulltexts``: one per record, the bytes kept in the store). A new
table only, so the migration applies after any revision that leaves ``records`` and
``projects`` in place: re-chaining it after another revision needs only ``down_revision``.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fulltexts",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"]),
        sa.PrimaryKeyConstraint("record_id"),
    )
    op.create_index("ix_fulltexts_project_id", "fulltexts", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_fulltexts_project_id", table_name="fulltexts")
    op.drop_table("fulltexts")
