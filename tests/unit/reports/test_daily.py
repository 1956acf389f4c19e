from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from runner.errors import ReportError
from runner.reports import daily
from runner.store import Store
from runner.store.db import ResultRow
from runner.store.models import Run


def _run(store: Store, run_id: str, started: datetime, rows: list[ResultRow]) -> None:
    hosts = sorted({row.host for row in rows})
    platforms = {"web01": "linux", "db01": "linux", "app01": "ios"}
    store.start_run(
        run_id,
        "inspect",
        "playbooks/inspect.yml",
        "schedule",
        "cron",
        "inv",
        None,
        hosts,
        {host: platforms[host] for host in hosts},
    )
    store.add_results(run_id, rows)
    outcomes = {
        host: (
            "unreachable"
            if any(r.host == host and r.status == "unreachable" for r in rows)
            else "ok",
            None,
        )
        for host in hosts
    }
    store.finish_run(run_id, "finished", 0, outcomes)
    with store.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(started_at=started))


def _r(host: str, check: str, status: str, subject: str = "") -> ResultRow:
    return ResultRow(
        host,
        check,
        subject,
        status,
        91.5,
        "%",
        {"warn": 80, "fail": 90, "worse": "higher"},
        f"{check} is {status}",
    )


@pytest.fixture
def two_runs(store: Store) -> Store:
    _run(
        store,
        "night1",
        datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
        [
            _r("web01", "linux.disk.usage", "ok", "/"),
            _r("web01", "linux.memory.usage", "fail"),
            _r("db01", "linux.disk.usage", "ok", "/"),
            _r("db01", "linux.service.required", "ok", "cron"),
        ],
    )
    _run(
        store,
        "night2",
        datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
        [
            _r("web01", "linux.disk.usage", "fail", "/"),
            _r("web01", "linux.memory.usage", "ok"),
            _r("db01", "linux.disk.usage", "warn", "/"),
            _r("db01", "linux.service.required", "ok", "cron"),
            _r("app01", "host.reachable", "unreachable"),
        ],
    )
    return store


def test_failures_come_first_and_hosts_are_sorted_worst_first(two_runs: Store) -> None:
    report = daily.build(two_runs, run_id="night2")
    assert [f["status"] for f in report["failures"]] == ["unreachable", "fail"]
    assert [h["name"] for h in report["hosts"]] == ["app01", "web01", "db01"]
    assert report["hosts"][1]["checks"][0]["check_id"] == "linux.disk.usage"
    assert report["summary"]["hosts"] == {
        "total": 3,
        "ok": 0,
        "warn": 1,
        "failing": 1,
        "unreachable": 1,
    }
    assert report["summary"]["checks"]["fail"] == 1


def test_new_failures_and_recoveries_against_the_previous_run(two_runs: Store) -> None:
    report = daily.build(two_runs, run_id="night2")
    assert report["previous_run"]["id"] == "night1"
    new = [
        (x["host"], x["check_id"], x["previous_status"]) for x in report["changes"]["new_failures"]
    ]
    assert new == [("app01", "host.reachable", None), ("web01", "linux.disk.usage", "ok")]
    recovered = [(x["host"], x["check_id"]) for x in report["changes"]["recoveries"]]
    assert recovered == [("web01", "linux.memory.usage")]


def test_first_run_has_nothing_to_compare(two_runs: Store) -> None:
    report = daily.build(two_runs, run_id="night1")
    assert report["previous_run"] is None
    assert report["changes"] == {"new_failures": [], "recoveries": []}


def test_selection_by_date_and_default_newest(two_runs: Store) -> None:
    assert daily.build(two_runs, day=date(2026, 12, 1))["run"]["id"] == "night1"
    assert daily.build(two_runs)["run"]["id"] == "night2"
    with pytest.raises(ReportError, match=r"no ended inspect run on 2026-11-30 \(UTC\)"):
        daily.build(two_runs, day=date(2026, 11, 30))
    with pytest.raises(ReportError, match="run 'nope' is not in the store"):
        daily.build(two_runs, run_id="nope")


def test_trend_counts_each_run(two_runs: Store) -> None:
    trend = daily.build(two_runs, run_id="night2")["trend"]
    assert [(t["run_id"], t["fail"], t["warn"], t["unreachable"]) for t in trend] == [
        ("night1", 1, 0, 0),
        ("night2", 1, 1, 1),
    ]


def test_html_and_json_say_the_same_and_are_written_whole(two_runs: Store, tmp_path: Path) -> None:
    report = daily.build(two_runs, run_id="night2")
    html_path, json_path = daily.write(report, tmp_path / "out")
    assert json.loads(json_path.read_text()) == report
    html = html_path.read_text()
    assert html.index("Failures") < html.index("Hosts</h2>")
    assert html.index("app01") < html.index("db01")
    assert "linux.disk.usage" in html and "<svg" in html
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "daily-night2.html",
        "daily-night2.json",
    ]


def test_an_interrupted_run_is_flagged_in_the_report(two_runs: Store) -> None:
    with two_runs.session() as session:
        session.execute(
            update(Run).where(Run.id == "night2").values(status="interrupted", message="killed")
        )
    report = daily.build(two_runs, run_id="night2")
    assert "INTERRUPTED" in daily.render_html(report)


def test_hosts_are_grouped_by_platform_with_a_summary_each(two_runs: Store) -> None:
    report = daily.build(two_runs, run_id="night2")
    groups = {g["name"]: g for g in report["groups"]}
    assert list(groups) == ["Servers", "Network devices"]
    assert groups["Servers"]["hosts"] == ["web01", "db01"]
    assert groups["Servers"]["summary"] == {
        "total": 2,
        "ok": 0,
        "warn": 1,
        "failing": 1,
        "unreachable": 0,
    }
    assert groups["Network devices"]["summary"]["unreachable"] == 1
    html = daily.render_html(report)
    assert html.index("<h3>Servers") < html.index("<h3>Network devices")
