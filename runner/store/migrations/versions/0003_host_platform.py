"""Hosts remember their platform (linux, ios, windows), for reports that group by it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("platform", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("platform")
