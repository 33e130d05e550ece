"""audit_log.entity_id becomes TEXT: extraction and risk-of-bias entries are keyed
"<study label>/<field>" and "<study>/<tool>/<domain>", which can pass 64 characters
(PostgreSQL enforces VARCHAR lengths; SQLite does not).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column(
            "entity_id",
            existing_type=sa.String(length=64),
            type_=sa.Text(),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column(
            "entity_id",
            existing_type=sa.Text(),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
