"""From runs to incidents on a fixed clock: dedup, auto-resolve, reopen, severity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from runner.cmdb.load import Cmdb
from runner.incidents.lifecycle import IncidentError, assess, change, open_incident, process_run
from runner.incidents.policy import Policy
from runner.store import Store
from runner.store.models import Incident, IncidentEvent, IncidentRun
from tests.unit.incidents.conftest import NIGHT, RunFactory, Verdict

DISK_FULL = ("web01", "linux.disk.usage", "/var", "fail")
DISK_OK = ("web01", "linux.disk.usage", "/var", "ok")
DAY = timedelta(days=1)


def _incidents(store: Store) -> list[Incident]:
    with store.session() as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def test_a_fault_seen_three_nights_is_one_incident(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    runs = []
    for night in range(3):
        runs.append(nightly([DISK_FULL]))
        process_run(store, runs[-1], policy, now=NIGHT + night * DAY)

    [incident] = _incidents(store)
    assert incident.count == 3
    assert incident.status == "open"
    assert incident.fingerprint == "web01|linux.disk.usage|/var"
    assert incident.first_seen is not None and incident.last_seen is not None
    assert incident.last_seen - incident.first_seen == 2 * DAY
    with store.session() as session:
        linked = session.scalars(
            select(IncidentRun.run_id).where(IncidentRun.incident_id == incident.id)
        )
        assert sorted(linked) == runs


def test_passing_runs_resolve_it_naming_the_run(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    process_run(store, nightly([DISK_FULL]), policy, now=NIGHT)
    process_run(store, nightly([DISK_OK]), policy, now=NIGHT + DAY)
    assert _incidents(store)[0].status == "open"

    last = nightly([DISK_OK])
    outcome = process_run(store, last, policy, now=NIGHT + 2 * DAY)

    [incident] = _incidents(store)
    assert outcome.resolved == [incident.id]
    assert incident.status == "resolved"
    assert incident.resolved_by_run == last
    with store.session() as session:
        text = session.scalars(
            select(IncidentEvent.text).where(IncidentEvent.action == "resolved")
        ).one()
    assert last in text


def test_a_pass_then_a_failure_starts_the_count_again(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    for night, verdict in enumerate([DISK_FULL, DISK_OK, DISK_FULL, DISK_OK]):
        process_run(store, nightly([verdict]), policy, now=NIGHT + night * DAY)
    [incident] = _incidents(store)
    assert (incident.status, incident.passes) == ("open", 1)


DISK_ERROR = ("web01", "linux.disk.usage", "/var", "error")
DISK_WARN = ("web01", "linux.disk.usage", "/var", "warn")


@pytest.mark.parametrize(
    ("verdicts", "status"),
    [
        ([DISK_FULL, DISK_ERROR, DISK_ERROR], "open"),
        ([DISK_FULL, DISK_OK, DISK_ERROR], "open"),
        ([DISK_FULL, DISK_OK, DISK_OK], "resolved"),
        # A warn the policy does not open on is a pass.
        ([DISK_FULL, DISK_WARN, DISK_OK], "resolved"),
        # A check that could not run neither passes nor starts the count again.
        ([DISK_FULL, DISK_OK, DISK_ERROR, DISK_OK], "resolved"),
    ],
)
def test_a_check_that_could_not_run_is_no_pass(
    store: Store, nightly: RunFactory, policy: Policy, verdicts: list[Verdict], status: str
) -> None:
    for night, verdict in enumerate(verdicts):
        process_run(store, nightly([verdict]), policy, now=NIGHT + night * DAY)
    [incident] = _incidents(store)
    assert incident.status == status


def _resolve_by_runs(store: Store, nightly: RunFactory, policy: Policy) -> None:
    for night, verdict in enumerate([DISK_FULL, DISK_OK, DISK_OK]):
        process_run(store, nightly([verdict]), policy, now=NIGHT + night * DAY)


def test_a_failure_within_the_window_reopens(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    _resolve_by_runs(store, nightly, policy)
    outcome = process_run(store, nightly([DISK_FULL]), policy, now=NIGHT + 3 * DAY)

    [incident] = _incidents(store)
    assert outcome.reopened == [incident.id]
    assert (incident.status, incident.reopened, incident.count) == ("open", 1, 2)
    assert incident.resolved_at is None
    # The day it spent resolved does not count on its clocks.
    assert incident.pauses[-1][1] is not None


def test_a_failure_after_the_window_opens_a_new_one(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    _resolve_by_runs(store, nightly, policy)
    process_run(store, nightly([DISK_FULL]), policy, now=NIGHT + 6 * DAY)
    assert [i.status for i in _incidents(store)] == ["resolved", "open"]


def test_an_unreachable_host_is_one_incident(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    run = nightly([("web01", "cmdb.drift", "web01", "unreachable")], down=("web01",))
    process_run(store, run, policy, now=NIGHT)
    [incident] = _incidents(store)
    assert incident.check_id == "host.reachable"
    assert incident.title == "web01 is unreachable"

    # Back up: its checks pass, and two such runs resolve it.
    process_run(store, nightly([DISK_OK]), policy, now=NIGHT + DAY)
    process_run(store, nightly([DISK_OK]), policy, now=NIGHT + 2 * DAY)
    assert [i.status for i in _incidents(store)] == ["resolved"]


def test_warn_opens_only_where_the_policy_says(store: Store, nightly: RunFactory) -> None:
    from runner.incidents.policy import parse

    policy = parse({"warn_opens": ["linux.time.*"]}, __import__("pathlib").Path("p.yml"))
    run = nightly(
        [("web01", "linux.time.sync", "", "warn"), ("web01", "linux.memory.usage", "", "warn")]
    )
    process_run(store, run, policy, now=NIGHT)
    assert [i.check_id for i in _incidents(store)] == ["linux.time.sync"]


@pytest.mark.parametrize(
    ("host", "check_id", "expected", "why"),
    [
        ("web01", "linux.disk.usage", "P3", "by policy"),
        ("db01", "linux.disk.usage", "P2", "criticality critical"),
        ("core-sw01", "linux.disk.usage", "P2", "critical assets depend on it"),
        ("web01", "host.reachable", "P2", "by policy"),
        ("core-sw01", "host.reachable", "P1", "critical assets depend on it"),
        ("db01", "linux.service.required", "P1", "criticality critical"),
    ],
)
def test_severity_rises_with_criticality_and_impact(
    cmdb: Cmdb, policy: Policy, host: str, check_id: str, expected: str, why: str
) -> None:
    found = assess(policy, cmdb, host, check_id)
    assert found.severity == expected
    assert why in found.reason


def test_a_core_switch_down_is_p1_even_without_impact_raises(cmdb: Cmdb) -> None:
    from pathlib import Path

    from runner.incidents.policy import parse

    policy = parse({"impact_raise": {"critical": 0}}, Path("p.yml"))
    assert assess(policy, cmdb, "core-sw01", "linux.disk.usage").severity == "P3"
    found = assess(policy, cmdb, "core-sw01", "host.reachable")
    assert found.severity == "P1"
    assert "down while critical assets depend on it" in found.reason


def test_impact_names_the_services_through_relations(cmdb: Cmdb, policy: Policy) -> None:
    found = assess(policy, cmdb, "core-sw01", "host.reachable")
    assert [(i["name"], i["kind"]) for i in found.impact] == [
        ("app01", "vm"),
        ("erp", "service"),
    ]
    assert found.impact[1]["chain"] == "erp runs_on app01 depends_on core-sw01"


def test_people_change_it_and_the_timeline_says_who(store: Store, policy: Policy) -> None:
    incident_id = open_incident(store, policy, "mail is slow", "P2", actor="alice", now=NIGHT)
    change(store, incident_id, "ack", actor="bob", now=NIGHT + timedelta(minutes=5))
    change(store, incident_id, "assign", "carol", actor="bob", now=NIGHT + timedelta(minutes=6))
    change(store, incident_id, "severity", "users cannot work", actor="bob", severity="P1")
    change(store, incident_id, "resolve", "queue purged", actor="carol")
    change(store, incident_id, "close", actor="carol")

    with store.session() as session:
        events = session.execute(
            select(IncidentEvent.actor, IncidentEvent.action)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id)
        ).all()
        incident = session.get(Incident, incident_id)
    assert [tuple(e) for e in events] == [
        ("alice", "opened"),
        ("bob", "ack"),
        ("bob", "assign"),
        ("bob", "severity"),
        ("carol", "resolve"),
        ("carol", "close"),
    ]
    assert incident is not None
    assert (incident.status, incident.severity, incident.assignee) == ("closed", "P1", "carol")
    assert incident.cause == "queue purged"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("close", "incident #1 is open; only an incident that is resolved can be closed"),
        ("resume", "incident #1 is open; only an incident that is pending can be resumed"),
    ],
)
def test_illegal_transitions_change_nothing(
    store: Store, policy: Policy, action: str, message: str
) -> None:
    open_incident(store, policy, "printer jams", "P3", now=NIGHT)
    with pytest.raises(IncidentError) as caught:
        change(store, 1, action)
    assert str(caught.value) == message
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(IncidentEvent)) == 1
        assert session.get(Incident, 1).status == "open"  # type: ignore[union-attr]


def test_an_unknown_id_is_an_error(store: Store) -> None:
    with pytest.raises(IncidentError, match="no incident #42"):
        change(store, 42, "ack")
