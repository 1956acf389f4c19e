"""Incidents from runs, and the changes people make to them.

A *fingerprint* names one fault: ``host|check id|subject``. Processing a finished run
(:func:`process_run`) opens an incident for a new fault, updates the one that is open for
a fault seen again, reopens a resolved one that fails again within the policy's reopen
window, and resolves one automatically after the policy's number of consecutive passing
runs. A host that could not be reached is one fault (``host.reachable``), not one per check
it could not run. Every change is a line on the incident's timeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runner.cmdb import impact
from runner.cmdb.load import Cmdb
from runner.errors import OpskeeperError
from runner.incidents import clock, notify
from runner.incidents.policy import SEVERITIES, Policy, raise_severity
from runner.jobs import UNREACHABLE_CHECK, current_user
from runner.store import Store
from runner.store.db import as_utc, utcnow
from runner.store.models import (
    CheckResult,
    Host,
    Incident,
    IncidentEvent,
    IncidentRun,
    Run,
    RunHost,
)

log = logging.getLogger(__name__)

#: States in which an incident's fault is still being worked on.
ACTIVE = ("open", "acknowledged", "pending")

#: Verdicts that count as a passing run when the policy does not open on them. An ``error``
#: (the check could not run) says nothing about the fault: it neither passes nor fails.
PASSING = ("ok", "warn")

#: Who the timeline names for changes the runner makes itself.
SYSTEM = "opskeeper"

_CRITICALITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class IncidentError(OpskeeperError):
    """An unknown incident, or a change its state does not allow."""


def fingerprint(host: str | None, check_id: str | None, subject: str = "") -> str:
    return f"{host or ''}|{check_id or ''}|{subject}"


def event(
    session: Session,
    incident: Incident,
    action: str,
    text: str,
    now: datetime,
    actor: str = SYSTEM,
    run_id: str | None = None,
) -> None:
    session.add(
        IncidentEvent(
            incident_id=incident.id, at=now, actor=actor, action=action, text=text, run_id=run_id
        )
    )


@dataclass(frozen=True)
class Assessment:
    """An incident's severity, why, and what fails with its asset."""

    severity: str
    reason: str
    impact: list[dict[str, Any]]


def assess(policy: Policy, cmdb: Cmdb | None, host: str | None, check_id: str | None) -> Assessment:
    """The severity of a fault: the check's own, raised by criticality and by impact.

    The larger of the two raises applies (they are not added, so a full disk on a critical
    database server is P2, not P1). A host that is down while critical assets depend on it
    is at least the policy's ``down_with_critical_impact`` (P1): a core switch down is P1.
    """
    base = policy.declared(check_id) if check_id else policy.default_severity
    reasons = [f"{check_id or 'reported fault'}: {base} by policy"]
    found = cmdb.get(host) if cmdb is not None and host else None
    if found is None or cmdb is None:
        return Assessment(base, "; ".join(reasons), [])

    criticality = found.record.criticality
    by_criticality = policy.criticality_raise.get(criticality, 0)
    _, impacted = impact(cmdb, found.record.name)
    affected = [
        {
            "name": item.asset.name,
            "kind": item.asset.kind,
            "criticality": item.asset.criticality,
            "chain": item.chain(),
        }
        for item in impacted
    ]
    worst = max(
        (item.asset.criticality for item in impacted),
        key=lambda level: _CRITICALITY_RANK[level],
        default=None,
    )
    by_impact = policy.impact_raise.get(worst, 0) if worst else 0
    severity = raise_severity(base, max(by_criticality, by_impact))
    if by_criticality:
        reasons.append(f"asset criticality {criticality} raises {by_criticality}")
    if by_impact:
        reasons.append(f"{worst} assets depend on it, raises {by_impact}")
    if check_id == UNREACHABLE_CHECK and worst == "critical":
        floor = policy.down_with_critical_impact
        if SEVERITIES.index(floor) < SEVERITIES.index(severity):
            severity = floor
            reasons.append(f"down while critical assets depend on it: {floor}")
    return Assessment(severity, "; ".join(reasons), affected)


@dataclass(frozen=True)
class Fault:
    host: str
    check_id: str
    subject: str
    status: str
    message: str

    @property
    def key(self) -> str:
        return fingerprint(self.host, self.check_id, self.subject)

    def title(self) -> str:
        if self.check_id == UNREACHABLE_CHECK:
            return f"{self.host} is unreachable"
        subject = f" {self.subject}" if self.subject else ""
        return f"{self.host}: {self.check_id}{subject} {self.status}"


def _run_verdicts(
    session: Session, run_id: str, policy: Policy
) -> tuple[dict[str, Fault], set[str]]:
    """The faults a run saw, by fingerprint, and the fingerprints it saw pass."""
    outcomes = dict(
        session.execute(
            select(Host.name, RunHost.status)
            .join(Host, Host.id == RunHost.host_id)
            .where(RunHost.run_id == run_id)
        ).all()
    )
    rows = session.execute(
        select(
            Host.name,
            CheckResult.check_id,
            CheckResult.subject,
            CheckResult.status,
            CheckResult.message,
        )
        .join(Host, Host.id == CheckResult.host_id)
        .where(CheckResult.run_id == run_id)
        .order_by(CheckResult.id)
    ).all()
    down = {host for host, outcome in outcomes.items() if outcome == "unreachable"}
    down |= {row[0] for row in rows if row[1] == UNREACHABLE_CHECK and row[3] == "unreachable"}

    reasons = {row[0]: row[4] for row in rows if row[1] == UNREACHABLE_CHECK and row[4]}
    faults: dict[str, Fault] = {}
    passed: set[str] = set()
    for host in sorted(down):
        reason = reasons.get(host)
        fault = Fault(host, UNREACHABLE_CHECK, "", "unreachable", reason or "host not reachable")
        faults[fault.key] = fault
    for host, outcome in outcomes.items():
        if outcome != "unreachable":
            passed.add(fingerprint(host, UNREACHABLE_CHECK))
    for host, check_id, subject, status, message in rows:
        # A host that is down is one incident, not one per check it could not run.
        if host in down:
            continue
        key = fingerprint(host, check_id, subject or "")
        if policy.opens(check_id, status):
            faults.setdefault(key, Fault(host, check_id, subject or "", status, message or ""))
        elif status in PASSING:
            passed.add(key)
    return faults, passed - faults.keys()


def _latest(session: Session, key: str) -> Incident | None:
    return session.scalars(
        select(Incident).where(Incident.fingerprint == key).order_by(Incident.id.desc()).limit(1)
    ).first()


def _open(
    session: Session,
    policy: Policy,
    cmdb: Cmdb | None,
    now: datetime,
    title: str,
    source: str,
    host: str | None,
    check_id: str | None,
    subject: str = "",
    severity: str | None = None,
) -> Incident:
    found = assess(policy, cmdb, host, check_id)
    reason = found.reason
    if severity is not None and severity != found.severity:
        reason = f"set to {severity} when opened (assessed {found.severity}: {found.reason})"
    incident = Incident(
        fingerprint=fingerprint(host, check_id, subject) if source == "check" else None,
        source=source,
        host=host,
        check_id=check_id,
        subject=subject,
        title=title,
        status="open",
        severity=severity or found.severity,
        severity_reason=reason,
        opened_at=now,
        count=0,
        passes=0,
        reopened=0,
        pauses=[],
        impact=found.impact,
        notified=[],
    )
    session.add(incident)
    session.flush()
    return incident


def _notify_open(
    session: Session, incident: Incident, kind: str, policy: Policy, now: datetime
) -> None:
    if incident.severity in ("P1", "P2"):
        notify.enqueue(session, incident, kind, policy, now)


@dataclass
class RunOutcome:
    """What processing one run did, by incident id."""

    opened: list[int]
    updated: list[int]
    reopened: list[int]
    resolved: list[int]
    flagged: list[int]


def process_run(
    store: Store,
    run_id: str,
    policy: Policy,
    cmdb: Cmdb | None = None,
    now: datetime | None = None,
) -> RunOutcome:
    """Turn one finished run's verdicts into incidents (see the module's text)."""
    now = now or utcnow()
    outcome = RunOutcome([], [], [], [], [])
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise IncidentError(f"no run {run_id!r} in the store; see `opskeeper runs`")
        faults, passed = _run_verdicts(session, run_id, policy)

        for key, fault in sorted(faults.items()):
            incident = _latest(session, key)
            if incident is not None and incident.status in ACTIVE:
                outcome.updated.append(incident.id)
                event(
                    session,
                    incident,
                    "seen",
                    f"{fault.status}: {fault.message}",
                    now,
                    run_id=run_id,
                )
            elif (
                incident is not None
                and incident.resolved_at is not None
                and now - as_utc(incident.resolved_at) <= policy.reopen_window
            ):
                resolved = as_utc(incident.resolved_at)
                incident.pauses = [*incident.pauses, [resolved.isoformat(), now.isoformat()]]
                incident.status = "open"
                incident.reopened += 1
                incident.resolved_at = incident.restored_at = incident.closed_at = None
                incident.resolved_by_run = None
                event(
                    session,
                    incident,
                    "reopened",
                    f"failed again ({fault.status}: {fault.message}) within "
                    f"{policy.reopen_window} of being resolved",
                    now,
                    run_id=run_id,
                )
                outcome.reopened.append(incident.id)
                _notify_open(session, incident, "reopened", policy, now)
            else:
                incident = _open(
                    session,
                    policy,
                    cmdb,
                    now,
                    fault.title(),
                    "check",
                    fault.host,
                    fault.check_id,
                    fault.subject,
                )
                incident.first_seen = now
                event(
                    session,
                    incident,
                    "opened",
                    f"{fault.status}: {fault.message} (severity {incident.severity}: "
                    f"{incident.severity_reason})",
                    now,
                    run_id=run_id,
                )
                outcome.opened.append(incident.id)
                _notify_open(session, incident, "opened", policy, now)
            incident.count += 1
            incident.passes = 0
            incident.last_seen = now
            incident.last_status = fault.status
            incident.message = fault.message
            session.add(
                IncidentRun(incident_id=incident.id, run_id=run_id, status=fault.status, at=now)
            )

        active = session.scalars(
            select(Incident).where(Incident.status.in_(ACTIVE), Incident.source == "check")
        )
        for incident in active:
            if incident.fingerprint not in passed:
                continue
            incident.passes += 1
            session.add(IncidentRun(incident_id=incident.id, run_id=run_id, status="ok", at=now))
            if incident.passes < policy.resolve_after:
                event(
                    session,
                    incident,
                    "passed",
                    f"passed ({incident.passes} of {policy.resolve_after} to resolve)",
                    now,
                    run_id=run_id,
                )
                continue
            _close_pause(incident, now)
            incident.status = "resolved"
            incident.resolved_at = now
            incident.restored_at = incident.restored_at or now
            incident.resolved_by_run = run_id
            event(
                session,
                incident,
                "resolved",
                f"resolved automatically: run {run_id} is its {incident.passes}th consecutive "
                "passing run",
                now,
                run_id=run_id,
            )
            outcome.resolved.append(incident.id)

        outcome.flagged = check_clocks(session, policy, now)
    return outcome


def check_clocks(session: Session, policy: Policy, now: datetime) -> list[int]:
    """Flag clocks that near or breach (once each) on the timeline and notify; their ids.

    A flag is raised once per severity: after an override the new severity's promises and
    recipients differ, so their notices go out again.
    """
    flagged = []
    for incident in session.scalars(select(Incident).where(Incident.status.in_(ACTIVE))):
        for item in clock.clocks(incident, policy, now):
            if item.state not in ("near", "breached"):
                continue
            mark = f"{incident.severity}:{item.name}:{item.state}"
            if mark in incident.notified:
                continue
            incident.notified = [*incident.notified, mark]
            text = (
                f"{item.name} clock {'is near its end' if item.state == 'near' else 'breached'}: "
                f"{item.used} used of {item.budget}"
            )
            event(session, incident, f"sla.{item.state}", text, now)
            notify.enqueue(session, incident, f"sla.{item.state}", policy, now, detail=text)
            flagged.append(incident.id)
    return flagged


def _close_pause(incident: Incident, now: datetime) -> None:
    if clock.is_paused(incident):
        start = incident.pauses[-1][0]
        incident.pauses = [*incident.pauses[:-1], [start, now.isoformat()]]


# Changes people make


def get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentError(f"no incident #{incident_id}; see `opskeeper incident list`")
    return incident


def _require(incident: Incident, states: tuple[str, ...], verb: str) -> None:
    if incident.status not in states:
        raise IncidentError(
            f"incident #{incident.id} is {incident.status}; only an incident that is "
            f"{' or '.join(states)} can be {verb}"
        )


def open_incident(
    store: Store,
    policy: Policy,
    title: str,
    severity: str | None = None,
    host: str | None = None,
    cmdb: Cmdb | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> int:
    """Open an incident for a fault a person reports; return its id."""
    now = now or utcnow()
    if severity is not None and severity not in SEVERITIES:
        raise IncidentError(f"severity {severity!r} is unknown; expected one of: P1, P2, P3")
    with store.session() as session:
        incident = _open(session, policy, cmdb, now, title, "manual", host, None, severity=severity)
        event(
            session,
            incident,
            "opened",
            f"reported by hand (severity {incident.severity}: {incident.severity_reason})",
            now,
            actor or current_user(),
        )
        _notify_open(session, incident, "opened", policy, now)
        return incident.id


def change(
    store: Store,
    incident_id: int,
    action: str,
    text: str = "",
    actor: str | None = None,
    now: datetime | None = None,
    severity: str | None = None,
    policy: Policy | None = None,
) -> Incident:
    """Apply one change a person makes; refuse (and change nothing) what the state forbids.

    ``action`` is one of ack, assign (``text`` is the assignee), note, pending (``text``
    says what it waits for), resume, restore, resolve, close, severity (``severity`` with
    ``text`` as the reason; raising an active incident into P1 or P2 notifies when
    ``policy`` is given).
    """
    now = now or utcnow()
    actor = actor or current_user()
    with store.session() as session:
        incident = get(session, incident_id)
        line = text
        if action == "ack":
            _require(incident, ("open",), "acknowledged")
            incident.status = "acknowledged"
            incident.acknowledged_at = now
        elif action == "assign":
            _require(incident, ACTIVE, "assigned")
            if not text:
                raise IncidentError("give the person to assign the incident to")
            incident.assignee = text
            line = f"assigned to {text}"
        elif action == "note":
            if not text:
                raise IncidentError("a note needs text")
        elif action == "pending":
            _require(incident, ("open", "acknowledged"), "set pending")
            if not text:
                raise IncidentError("say what the incident waits for (customer, vendor...)")
            incident.status = "pending"
            incident.pauses = [*incident.pauses, [now.isoformat(), None]]
            line = f"pending, clocks paused: {text}"
        elif action == "resume":
            _require(incident, ("pending",), "resumed")
            _close_pause(incident, now)
            incident.status = "acknowledged" if incident.acknowledged_at else "open"
            line = "resumed, clocks running" + (f": {text}" if text else "")
        elif action == "restore":
            _require(incident, ACTIVE, "marked restored")
            incident.restored_at = now
            line = "service restored" + (f": {text}" if text else "")
        elif action == "resolve":
            _require(incident, ACTIVE, "resolved")
            _close_pause(incident, now)
            incident.status = "resolved"
            incident.resolved_at = now
            incident.restored_at = incident.restored_at or now
            if text:
                incident.cause = text
            line = "resolved" + (f": {text}" if text else "")
        elif action == "close":
            _require(incident, ("resolved",), "closed")
            incident.status = "closed"
            incident.closed_at = now
        elif action == "severity":
            if severity not in SEVERITIES:
                raise IncidentError(
                    f"severity {severity!r} is unknown; expected one of: P1, P2, P3"
                )
            if not text:
                raise IncidentError("an override of the severity needs a reason (--reason)")
            _require(incident, (*ACTIVE, "resolved"), "re-rated")
            line = f"severity {incident.severity} -> {severity}: {text}"
            raised = SEVERITIES.index(severity) < SEVERITIES.index(incident.severity)
            incident.severity = severity
            incident.severity_reason = f"set by {actor}: {text}"
            # Raised into P1 or P2 by hand: people are told as if it had opened so.
            if raised and policy is not None and incident.status in ACTIVE:
                _notify_open(session, incident, "raised", policy, now)
        else:
            raise IncidentError(f"unknown action {action!r}")
        event(session, incident, action, line, now, actor)
        return incident


def timeline(session: Session, incident_id: int) -> list[IncidentEvent]:
    return list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
    )


def runs_of(session: Session, incident_id: int) -> list[IncidentRun]:
    return list(
        session.scalars(
            select(IncidentRun)
            .where(IncidentRun.incident_id == incident_id)
            .order_by(IncidentRun.at, IncidentRun.run_id)
        )
    )
