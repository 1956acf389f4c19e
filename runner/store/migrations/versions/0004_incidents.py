"""Incidents, their timelines, the runs that saw them and the notification outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(600), index=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("host", sa.String(255), index=True),
        sa.Column("check_id", sa.String(120)),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("severity", sa.String(4), nullable=False),
        sa.Column("severity_reason", sa.Text, nullable=False),
        sa.Column("assignee", sa.String(120)),
        sa.Column("opened_at", _WHEN, nullable=False, index=True),
        sa.Column("acknowledged_at", _WHEN),
        sa.Column("restored_at", _WHEN),
        sa.Column("resolved_at", _WHEN),
        sa.Column("closed_at", _WHEN),
        sa.Column("first_seen", _WHEN),
        sa.Column("last_seen", _WHEN),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("passes", sa.Integer, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.Column("resolved_by_run", sa.String(40)),
        sa.Column("last_status", sa.String(20)),
        sa.Column("message", sa.Text),
        sa.Column("pauses", sa.JSON, nullable=False),
        sa.Column("impact", sa.JSON, nullable=False),
        sa.Column("notified", sa.JSON, nullable=False),
        sa.Column("cause", sa.Text),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id"), nullable=False, index=True
        ),
        sa.Column("at", _WHEN, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(40)),
    )
    op.create_table(
        "incident_runs",
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), primary_key=True),
        sa.Column("run_id", sa.String(40), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
    )
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id"), index=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("sent_at", _WHEN, index=True),
    )


def downgrade() -> None:
    for table in ("notification_outbox", "incident_runs", "incident_events", "incidents"):
        op.drop_table(table)
