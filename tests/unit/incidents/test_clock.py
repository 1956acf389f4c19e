"""SLA clocks on a fixed clock: running, paused and resumed, near and past their end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from runner.incidents.clock import clocks
from runner.incidents.lifecycle import change, check_clocks, open_incident
from runner.incidents.policy import Policy, parse
from runner.store import Store
from runner.store.models import Incident, IncidentEvent

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _states(store: Store, incident_id: int, policy: Policy, now: datetime) -> dict[str, str]:
    with store.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return {item.name: item.state for item in clocks(incident, policy, now)}


def _used(store: Store, incident_id: int, policy: Policy, now: datetime) -> dict[str, int]:
    with store.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        return {
            item.name: int(item.used.total_seconds() // 60)
            for item in clocks(incident, policy, now)
        }


def test_p1_clocks_near_then_breach(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "shop down", "P1", now=T0)
    assert _states(store, incident_id, policy, T0 + 10 * MIN) == {
        "respond": "ok",
        "restore": "ok",
        "resolve": "ok",
    }
    # 16 of 20 minutes is 80 %: near.
    assert _states(store, incident_id, policy, T0 + 16 * MIN)["respond"] == "near"
    assert _states(store, incident_id, policy, T0 + 21 * MIN)["respond"] == "breached"

    change(store, incident_id, "ack", now=T0 + 25 * MIN)
    states = _states(store, incident_id, policy, T0 + 100 * MIN)
    assert states == {"respond": "missed", "restore": "near", "resolve": "ok"}


def test_p3_has_no_restore_clock(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "printer", "P3", now=T0)
    assert list(_states(store, incident_id, policy, T0)) == ["respond", "resolve"]


def test_pending_pauses_and_resume_continues(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "vpn flaps", "P2", now=T0)
    change(store, incident_id, "ack", now=T0 + 10 * MIN)
    change(store, incident_id, "pending", "waiting on the ISP", now=T0 + 60 * MIN)

    three_hours_later = T0 + 240 * MIN
    assert _used(store, incident_id, policy, three_hours_later)["restore"] == 60
    assert _states(store, incident_id, policy, three_hours_later)["restore"] == "paused"

    change(store, incident_id, "resume", now=three_hours_later)
    assert _used(store, incident_id, policy, three_hours_later + 30 * MIN)["restore"] == 90
    assert _states(store, incident_id, policy, three_hours_later + 30 * MIN)["restore"] == "ok"


def test_business_hours_count_only_working_time(store: Store) -> None:
    policy = parse(
        {
            "timezone": "Europe/Berlin",
            "severities": {"P3": {"business_hours": True}},
            "business_hours": {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "08:00",
                "end": "18:00",
            },
        },
        Path("p.yml"),
    )
    # Friday 17:30 Berlin (16:30 UTC); Monday 09:00 Berlin is 1.5 working hours later.
    friday = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
    incident_id = open_incident(store, policy, "scanner", "P3", now=friday)
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert _used(store, incident_id, policy, monday)["resolve"] == 90
    with store.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        respond = clocks(incident, policy, friday)[0]
    # One working hour to respond: half an hour on Friday, half on Monday from 08:00 Berlin.
    assert respond.deadline == datetime(2026, 12, 7, 7, 30, tzinfo=UTC)


def test_flags_are_raised_once_on_the_timeline(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "shop down", "P1", now=T0)
    with store.session() as session:
        assert check_clocks(session, policy, T0 + 17 * MIN) == [incident_id]
    with store.session() as session:
        assert check_clocks(session, policy, T0 + 18 * MIN) == []
    with store.session() as session:
        assert check_clocks(session, policy, T0 + 21 * MIN) == [incident_id]
        actions = session.scalars(
            select(IncidentEvent.action).where(IncidentEvent.action.like("sla.%"))
        ).all()
    assert actions == ["sla.near", "sla.breached"]


def test_a_deadline_reached_is_breached(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "shop down", "P1", now=T0)
    assert _states(store, incident_id, policy, T0 + 20 * MIN)["respond"] == "breached"
    with store.session() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None
        respond = clocks(incident, policy, T0 + 20 * MIN)[0]
    assert respond.deadline is None


def test_flags_are_raised_again_after_a_change_of_severity(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "slow orders", "P2", now=T0)
    # 20 of 24 hours: resolve is near; respond and restore have breached.
    with store.session() as session:
        assert check_clocks(session, policy, T0 + 20 * 60 * MIN) == [incident_id] * 3
    change(store, incident_id, "severity", "orders stopped", severity="P1", now=T0 + 1200 * MIN)
    with store.session() as session:
        assert check_clocks(session, policy, T0 + 1201 * MIN) == [incident_id] * 3
        texts = session.scalars(
            select(IncidentEvent.text)
            .where(IncidentEvent.action.like("sla.%"))
            .order_by(IncidentEvent.id)
        ).all()
    assert [t.split(":")[0] for t in texts] == [
        "respond clock breached",
        "restore clock breached",
        "resolve clock is near its end",
    ] * 2
