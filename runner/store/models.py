"""The store's tables: runs, hosts, per-host run outcomes and check results.

A *run* is one playbook execution. A *check result* is one verdict on one host for one
check id and subject (a mount point, a service, a port) within one run. Reports are
rendered from these rows only, never from a live run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Run states. A run is ``running`` until it ends; a run whose controller process died
#: without ending it is found by :func:`runner.store.db.reap_stale_runs` and marked
#: ``interrupted``, so a half-done run is never shown as finished.
RUN_STATES = ("running", "finished", "failed", "interrupted")

#: Verdicts of a check, worst last but one: ``unreachable`` means the host was not seen.
CHECK_STATUSES = ("ok", "warn", "fail", "error", "unreachable")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    playbook: Mapped[str] = mapped_column(String(255))
    trigger: Mapped[str] = mapped_column(String(20))
    started_by: Mapped[str] = mapped_column(String(120))
    inventory: Mapped[str] = mapped_column(Text)
    limit: Mapped[str | None] = mapped_column(Text)
    controller: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: Start time of the controller process in clock ticks since boot (``/proc/PID/stat``
    #: field 22): with the pid it tells a live run from one whose pid was reused.
    pid_start: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(20), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    rc: Mapped[int | None]
    hosts_total: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(Text)

    hosts: Mapped[list[RunHost]] = relationship(back_populates="run")


class Host(Base):
    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    #: ``linux``, ``ios``, ``windows``...: the platform group the inventory put it in, as of
    #: the newest run; reports group hosts by it.
    platform: Mapped[str | None] = mapped_column(String(40))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]


class RunHost(Base):
    """How one host fared in one run: ``ok``, ``failed`` or ``unreachable``."""

    __tablename__ = "run_hosts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)

    run: Mapped[Run] = relationship(back_populates="hosts")
    host: Mapped[Host] = relationship()


class CheckResult(Base):
    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_host_check", "host_id", "check_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    host_id: Mapped[int] = mapped_column(ForeignKey("hosts.id"))
    check_id: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(20))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(20))
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime]

    host: Mapped[Host] = relationship()


class AuditEntry(Base):
    """Who changed what and when: one row per operation that edits the CMDB or a host.

    ``actor`` is the person (the sudo caller when run through sudo), ``action`` a dotted
    verb (``spares.replace``), ``asset`` the asset's name when the operation concerns one,
    and ``details`` what an auditor needs to retrace it (part, quantities, serials, files).
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60), index=True)
    asset: Mapped[str | None] = mapped_column(String(255), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


#: Incident states. ``pending`` waits on the customer or a vendor and pauses the clocks.
INCIDENT_STATES = ("open", "acknowledged", "pending", "resolved", "closed")


class Incident(Base):
    """A fault that the contract's clocks run on: opened from failing checks or by hand.

    ``fingerprint`` (host, check id, subject) keys incidents from checks: one fault, one
    incident, however many runs see it. ``pauses`` holds the pending intervals as
    ``[start, end]`` ISO strings (end null while pending); the clocks leave them out.
    """

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str | None] = mapped_column(String(600), index=True)
    source: Mapped[str] = mapped_column(String(20))
    host: Mapped[str | None] = mapped_column(String(255), index=True)
    check_id: Mapped[str | None] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    severity: Mapped[str] = mapped_column(String(4))
    severity_reason: Mapped[str] = mapped_column(Text, default="")
    assignee: Mapped[str | None] = mapped_column(String(120))
    opened_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    count: Mapped[int] = mapped_column(default=0)
    passes: Mapped[int] = mapped_column(default=0)
    reopened: Mapped[int] = mapped_column(default=0)
    resolved_by_run: Mapped[str | None] = mapped_column(String(40))
    last_status: Mapped[str | None] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(Text)
    pauses: Mapped[list[Any]] = mapped_column(JSON, default=list)
    impact: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notified: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cause: Mapped[str | None] = mapped_column(Text)


class IncidentEvent(Base):
    """One line of an incident's timeline: who did what, when."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[str | None] = mapped_column(String(40))


class IncidentRun(Base):
    """A run that saw an incident's fault, with the verdict it gave."""

    __tablename__ = "incident_runs"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


class OutboxMessage(Base):
    """A notification to deliver; kept until it is sent, retried when a notifier failed."""

    __tablename__ = "notification_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    #: After a failure, when its target may be tried again (the backoff); null: at once.
    next_attempt_at: Mapped[datetime | None]
