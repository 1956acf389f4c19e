"""The incident record, the failure analysis report and the daily report's section."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from runner.incidents.lifecycle import change, process_run
from runner.incidents.policy import Policy, parse
from runner.incidents.report import daily_section, record, render, write
from runner.store import Store
from tests.unit.incidents.conftest import NIGHT, RunFactory

DOWN = ("web01", "linux.service.required", "nginx", "fail")
UP = ("web01", "linux.service.required", "nginx", "ok")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_the_record_shows_clocks_timeline_and_runs(
    store: Store, nightly: RunFactory, policy: Policy, tmp_path: Path
) -> None:
    run = nightly([DOWN])
    process_run(store, run, policy, now=NIGHT)
    change(store, 1, "ack", actor="alice", now=NIGHT + timedelta(minutes=10))

    data = record(store, 1, policy, now=NIGHT + timedelta(minutes=40))
    assert [(c["name"], c["state"]) for c in data["clocks"]] == [
        ("respond", "met"),
        ("restore", "ok"),
        ("resolve", "ok"),
    ]
    assert [e["action"] for e in data["timeline"]] == ["opened", "ack"]
    assert data["runs"][0]["run_id"] == run

    path = write(data, tmp_path)
    text = _text(path.read_text())
    assert "Incident #1: web01: linux.service.required nginx fail" in text
    assert "alice ack" in text
    assert path.name == "incident-1.html"


def test_times_are_shown_in_the_policy_zone(store: Store, nightly: RunFactory) -> None:
    policy = parse({"timezone": "Asia/Tokyo"}, Path("p.yml"))
    process_run(store, nightly([DOWN]), policy, now=NIGHT)
    assert record(store, 1, policy, now=NIGHT)["opened_at"] == "2026-12-01 11:00 JST"


def test_the_analysis_report_has_its_sections(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    process_run(store, nightly([DOWN]), policy, now=NIGHT)
    change(store, 1, "severity", "the shop is down", actor="bob", severity="P1")
    data = record(store, 1, policy, now=NIGHT)
    text = _text(render(data, analysis=True))
    for heading in ("1. Summary", "2. Impact", "3. Timeline", "4. Cause", "5. Actions", "6. SLA"):
        assert heading in text
    assert "report due 2026-12-02 02:00 UTC" in text


def test_the_daily_section_counts_new_resolved_and_open(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    process_run(store, nightly([DOWN]), policy, now=NIGHT)
    process_run(store, nightly([UP]), policy, now=NIGHT + timedelta(days=1))
    last = nightly([UP, ("web01", "linux.disk.usage", "/", "fail")])
    process_run(store, last, policy, now=NIGHT + timedelta(days=2))

    section = daily_section(store, last, now=NIGHT + timedelta(days=2))
    assert [x["id"] for x in section["new"]] == [2]
    assert [x["id"] for x in section["resolved"]] == [1]
    assert section["open_by_severity"] == {"P1": 0, "P2": 0, "P3": 1}
    assert [x["id"] for x in section["open"]] == [2]


def test_the_daily_report_carries_the_section(
    store: Store, nightly: RunFactory, policy: Policy
) -> None:
    from runner.reports import daily

    run = nightly([DOWN])
    process_run(store, run, policy, now=NIGHT)
    report = daily.build(store, run_id=run)
    assert report["incidents"]["open_by_severity"]["P2"] == 1
    text = _text(daily.render_html(report))
    assert "Incidents" in text
    assert "1 open P2" in text
    assert "web01: linux.service.required nginx fail" in text
