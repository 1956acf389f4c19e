"""Audit entries: who changed what and when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(60), nullable=False, index=True),
        sa.Column("asset", sa.String(255), index=True),
        sa.Column("details", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_entries")
