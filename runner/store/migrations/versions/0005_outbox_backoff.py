"""Outbox messages remember when their target may be tried again, after a failure.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("next_attempt_at")
