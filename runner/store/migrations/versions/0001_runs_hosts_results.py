"""Runs, hosts, per-host run outcomes and check results.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("playbook", sa.String(255), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("started_by", sa.String(120), nullable=False),
        sa.Column("inventory", sa.Text, nullable=False),
        sa.Column("limit", sa.Text),
        sa.Column("controller", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("pid_start", sa.Integer),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.Column("ended_at", TS),
        sa.Column("rc", sa.Integer),
        sa.Column("hosts_total", sa.Integer, nullable=False),
        sa.Column("message", sa.Text),
    )
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
    )
    op.create_table(
        "run_hosts",
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message", sa.Text),
    )
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("host_id", sa.Integer, sa.ForeignKey("hosts.id"), nullable=False),
        sa.Column("check_id", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("value", sa.JSON),
        sa.Column("unit", sa.String(20)),
        sa.Column("thresholds", sa.JSON),
        sa.Column("message", sa.Text),
        sa.Column("recorded_at", TS, nullable=False),
    )
    op.create_index(
        "ix_check_results_host_check", "check_results", ["host_id", "check_id", "subject"]
    )


def downgrade() -> None:
    op.drop_index("ix_check_results_host_check", "check_results")
    op.drop_table("check_results")
    op.drop_table("run_hosts")
    op.drop_table("hosts")
    op.drop_table("runs")
