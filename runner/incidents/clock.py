"""SLA clocks: how much of each promise an incident has used, and when it runs out.

A clock runs from the incident's opening to its milestone (respond: acknowledged; restore:
restored or resolved; resolve: resolved). Pending intervals do not count, nor does the time
a reopened incident spent resolved (it is recorded as a pause). A severity on business
hours counts only the policy's working hours, in its time zone. Every function takes the
moment ``now``, so tests run on a fixed clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from runner.incidents.policy import CLOCKS, Policy
from runner.store.db import as_utc
from runner.store.models import Incident

#: Where a clock stands: running within budget, near its end, breached; stopped in time
#: (met) or late (missed); paused while pending.
CLOCK_STATES = ("ok", "near", "breached", "met", "missed", "paused")


def _working(start: datetime, end: datetime, policy: Policy, business: bool) -> float:
    """Seconds between two moments that count: all of them, or business hours only."""
    if end <= start:
        return 0.0
    if not business:
        return (end - start).total_seconds()
    zone, hours = policy.timezone, policy.business_hours
    total = 0.0
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        if day.weekday() in hours.days:
            opens = datetime.combine(day, hours.start, zone)
            closes = datetime.combine(day, hours.end, zone)
            low, high = max(start, opens), min(end, closes)
            if high > low:
                total += (high - low).total_seconds()
        day += timedelta(days=1)
    return total


def _advance(moment: datetime, seconds: float, policy: Policy, business: bool) -> datetime:
    """The moment when ``seconds`` more counting time have passed after ``moment``."""
    if not business:
        return moment + timedelta(seconds=seconds)
    zone, hours = policy.timezone, policy.business_hours
    day = moment.astimezone(zone).date()
    left = seconds
    for _ in range(3660):
        if day.weekday() in hours.days:
            opens = max(moment, datetime.combine(day, hours.start, zone))
            closes = datetime.combine(day, hours.end, zone)
            if closes > opens:
                span = (closes - opens).total_seconds()
                if span >= left:
                    return (opens + timedelta(seconds=left)).astimezone(UTC)
                left -= span
        day += timedelta(days=1)
    return moment + timedelta(seconds=seconds)


def pauses(incident: Incident, now: datetime) -> list[tuple[datetime, datetime]]:
    """The incident's paused intervals; an open one ends ``now``."""
    found = []
    for start, end in incident.pauses or []:
        found.append(
            (
                as_utc(datetime.fromisoformat(start)),
                as_utc(datetime.fromisoformat(end)) if end else now,
            )
        )
    return found


def is_paused(incident: Incident) -> bool:
    return bool(incident.pauses) and incident.pauses[-1][1] is None


def used(incident: Incident, end: datetime, policy: Policy, business: bool) -> float:
    """Counting seconds from the opening to ``end``, pauses left out."""
    start = as_utc(incident.opened_at)
    total = _working(start, end, policy, business)
    for low, high in pauses(incident, end):
        total -= _working(max(low, start), min(high, end), policy, business)
    return max(total, 0.0)


def milestone(incident: Incident, clock: str) -> datetime | None:
    if clock == "respond":
        moment = incident.acknowledged_at
    elif clock == "restore":
        moment = incident.restored_at or incident.resolved_at
    else:
        moment = incident.resolved_at
    return as_utc(moment) if moment is not None else None


@dataclass(frozen=True)
class Clock:
    name: str
    budget: timedelta
    used: timedelta
    state: str
    deadline: datetime | None
    stopped_at: datetime | None

    @property
    def fraction(self) -> float:
        seconds = self.budget.total_seconds()
        return self.used.total_seconds() / seconds if seconds else 1.0

    @property
    def flagged(self) -> bool:
        return self.state in ("near", "breached", "missed")


def clocks(incident: Incident, policy: Policy, now: datetime) -> list[Clock]:
    """Each clock the incident's severity promises, as it stands at ``now``."""
    rule = policy.severities[incident.severity]
    found = []
    for name in CLOCKS:
        budget = rule.budget(name)
        if budget is None:
            continue
        stopped = milestone(incident, name)
        end = stopped or now
        seconds = used(incident, end, policy, rule.business_hours)
        spent = timedelta(seconds=seconds)
        fraction = seconds / budget.total_seconds() if budget.total_seconds() else 1.0
        deadline = None
        if stopped is not None:
            state = "met" if spent <= budget else "missed"
        elif spent >= budget:
            # A deadline reached is a deadline missed: no time is left to act in.
            state = "breached"
        elif is_paused(incident):
            state = "paused"
        else:
            state = "near" if fraction >= policy.near_breach else "ok"
        if stopped is None and state != "paused" and spent < budget:
            remaining = (budget - spent).total_seconds()
            deadline = _advance(now, remaining, policy, rule.business_hours)
        found.append(Clock(name, budget, spent, state, deadline, stopped))
    return found


def shown(moment: datetime | None, policy: Policy) -> str:
    """A stored UTC time in the policy's time zone, for people."""
    if moment is None:
        return "—"
    return as_utc(moment).astimezone(policy.timezone).strftime("%Y-%m-%d %H:%M %Z")


def report_due(incident: Incident, policy: Policy) -> datetime | None:
    """When the failure analysis report is due (P1), counted from the opening."""
    budget = policy.severities[incident.severity].report
    if budget is None:
        return None
    return as_utc(incident.opened_at) + budget
