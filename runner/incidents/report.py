"""Incident reports: the record of one incident, the P1 failure analysis, the daily section.

Each is a dictionary built from the store, then rendered with a template in
``reports/templates``. Times are ISO strings in UTC in the data and shown in the policy's
time zone in the HTML.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from runner import config
from runner.errors import OpskeeperError
from runner.fsutil import write_atomic
from runner.incidents import clock, kb
from runner.incidents.clock import shown
from runner.incidents.lifecycle import ACTIVE, get, runs_of, timeline
from runner.incidents.policy import SEVERITIES, Policy, load_policy
from runner.reports.render import environment
from runner.store import Store
from runner.store.db import as_utc, utcnow
from runner.store.models import Incident, IncidentEvent, Run

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def clock_rows(incident: Incident, policy: Policy, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "name": item.name,
            "budget": _duration(item.budget.total_seconds()),
            "used": _duration(item.used.total_seconds()),
            "percent": round(item.fraction * 100),
            "state": item.state,
            "deadline": shown(item.deadline, policy) if item.deadline else "—",
            "stopped_at": shown(item.stopped_at, policy) if item.stopped_at else "—",
        }
        for item in clock.clocks(incident, policy, now)
    ]


def summary(incident: Incident, policy: Policy, now: datetime) -> dict[str, Any]:
    clocks = clock_rows(incident, policy, now)
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "host": incident.host,
        "check_id": incident.check_id,
        "subject": incident.subject,
        "assignee": incident.assignee,
        "count": incident.count,
        "opened_at": shown(incident.opened_at, policy),
        "resolved_at": shown(incident.resolved_at, policy) if incident.resolved_at else None,
        "clocks": clocks,
        "flags": [f"{c['name']} {c['state']}" for c in clocks if c["state"] in FLAGS],
    }


#: Clock states a report calls out.
FLAGS = ("near", "breached", "missed")


def record(
    store: Store, incident_id: int, policy: Policy, now: datetime | None = None
) -> dict[str, Any]:
    """Everything known about one incident, for its record and its analysis report."""
    now = now or utcnow()
    with store.session() as session:
        incident = get(session, incident_id)
        data = summary(incident, policy, now)
        data.update(
            {
                "source": incident.source,
                "severity_reason": incident.severity_reason,
                "message": incident.message,
                "cause": incident.cause,
                "reopened": incident.reopened,
                "first_seen": shown(incident.first_seen, policy) if incident.first_seen else "—",
                "last_seen": shown(incident.last_seen, policy) if incident.last_seen else "—",
                "acknowledged_at": shown(incident.acknowledged_at, policy)
                if incident.acknowledged_at
                else "—",
                "restored_at": shown(incident.restored_at, policy) if incident.restored_at else "—",
                "closed_at": shown(incident.closed_at, policy) if incident.closed_at else "—",
                "resolved_by_run": incident.resolved_by_run,
                "impact": incident.impact,
                "services": [i for i in incident.impact if i["kind"] == "service"],
                "timeline": [
                    {
                        "at": shown(item.at, policy),
                        "actor": item.actor,
                        "action": item.action,
                        "text": item.text,
                        "run_id": item.run_id,
                    }
                    for item in timeline(session, incident_id)
                ],
                "runs": [
                    {"run_id": item.run_id, "status": item.status, "at": shown(item.at, policy)}
                    for item in runs_of(session, incident_id)
                ],
                "report_due": shown(clock.report_due(incident, policy), policy)
                if clock.report_due(incident, policy)
                else None,
                "pauses": [
                    {
                        "from": shown(as_utc(datetime.fromisoformat(low)), policy),
                        "to": shown(as_utc(datetime.fromisoformat(high)), policy)
                        if high
                        else "now (pending)",
                    }
                    for low, high in incident.pauses
                ],
            }
        )
    data["articles"] = [
        {"slug": a.slug, "title": a.title, "path": str(a.path)}
        for a in kb.for_incident(data["check_id"], f"{data['title']}\n{data['message'] or ''}")
    ]
    data["generated_at"] = shown(now, policy)
    data["timezone"] = str(policy.timezone)
    return data


def render(data: dict[str, Any], analysis: bool = False) -> str:
    name = "incident_analysis.html.j2" if analysis else "incident.html.j2"
    return environment().get_template(name).render(i=data)


def write(data: dict[str, Any], folder: Path | None = None, analysis: bool = False) -> Path:
    folder = folder or config.reports_dir()
    stem = f"incident-{data['id']}" + ("-analysis" if analysis else "")
    return write_atomic(folder / f"{stem}.html", render(data, analysis))


def daily_section(store: Store, run_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The incidents part of a run's daily report: open ones by severity, clocks near or
    past their end, and what this run opened, reopened and resolved."""
    with store.session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise OpskeeperError(f"no run {run_id!r} in the store; see `opskeeper runs`")
        inventory = Path(run.inventory)
        moment = now or as_utc(run.ended_at or run.started_at)
        try:
            policy = load_policy(inventory=inventory)
        except OpskeeperError as exc:
            log.error("incident policy: %s; the daily report uses the defaults", exc)
            from runner.incidents.policy import defaults

            policy = defaults()
        active = list(
            session.scalars(
                select(Incident).where(Incident.status.in_(ACTIVE)).order_by(Incident.id)
            )
        )
        by_run: dict[str, list[int]] = {"opened": [], "reopened": [], "resolved": []}
        for incident_id, action in session.execute(
            select(IncidentEvent.incident_id, IncidentEvent.action).where(
                IncidentEvent.run_id == run_id,
                IncidentEvent.action.in_(list(by_run)),
            )
        ):
            by_run[action].append(incident_id)
        touched = {i for ids in by_run.values() for i in ids}
        incidents = {
            item.id: summary(item, policy, moment)
            for item in session.scalars(select(Incident).where(Incident.id.in_(touched)))
        }
        open_rows = [summary(item, policy, moment) for item in active]
    return {
        "open_by_severity": {
            severity: sum(1 for row in open_rows if row["severity"] == severity)
            for severity in SEVERITIES
        },
        "open": open_rows,
        "flagged": [row for row in open_rows if row["flags"]],
        "new": [incidents[i] for i in sorted(set(by_run["opened"]))],
        "reopened": [incidents[i] for i in sorted(set(by_run["reopened"]))],
        "resolved": [incidents[i] for i in sorted(set(by_run["resolved"]))],
        "timezone": str(policy.timezone),
    }
