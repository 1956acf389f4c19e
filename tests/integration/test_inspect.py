"""The nightly inspection end to end on the lab: planted faults give exactly their verdicts,
in the store and in the JSON report; a stopped host is unreachable; fixing both recovers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from runner.cli import EXIT_FAILURES, EXIT_FAILURES_AND_UNREACHABLE, EXIT_OK
from runner.lab import Lab
from runner.store import open_store
from runner.store.models import CheckResult, Host, Run
from tests.integration.support import OPSKEEPER, opskeeper

SERVERS = ["lab-srv01", "lab-srv02", "lab-srv03"]
BAD = ("fail", "error", "unreachable")


@pytest.fixture(scope="module")
def lab(store_url: str) -> Iterator[Lab]:
    lab = Lab()
    lab.up(3)
    yield lab
    lab.exec("lab-srv01", ["rm", "-f", "/srv/data/fill"])
    lab.exec("lab-srv02", ["service", "cron", "start"])


def _report(output: str) -> dict:
    path = next(line.split()[-1] for line in output.splitlines() if line.strip().endswith(".json"))
    return json.loads(Path(path).read_text())


def _bad_verdicts(report: dict, hosts: list[str]) -> set[tuple[str, str, str, str]]:
    return {
        (f["host"], f["check_id"], f["subject"], f["status"])
        for f in report["failures"]
        if f["host"] in hosts
    }


def _stored_bad(run_id: str, hosts: list[str]) -> set[tuple[str, str, str, str]]:
    with open_store().session() as session:
        rows = session.execute(
            select(Host.name, CheckResult.check_id, CheckResult.subject, CheckResult.status)
            .join(Host, Host.id == CheckResult.host_id)
            .where(CheckResult.run_id == run_id, CheckResult.status.in_(BAD))
        )
        return {tuple(row) for row in rows if row[0] in hosts}  # type: ignore[misc]


def test_inspect_refuses_when_the_lab_is_down(store_url: str) -> None:
    Lab().down()
    result = opskeeper("inspect")
    assert result.returncode == 1
    assert "the built-in lab is not up" in result.stderr
    assert "Traceback" not in result.stderr


def test_planted_faults_give_exactly_their_verdicts(lab: Lab, reports: Path) -> None:
    used = lab.exec("lab-srv01", ["df", "--output=size", "-B1M", "/srv/data"]).stdout.split()[-1]
    lab.exec(
        "lab-srv01", ["sh", "-c", f"head -c {int(used) * 95 // 100}M /dev/zero > /srv/data/fill"]
    )
    lab.exec("lab-srv02", ["service", "cron", "stop"])

    result = opskeeper("inspect", "-o", str(reports))
    assert result.returncode == EXIT_FAILURES, result.stdout + result.stderr
    report = _report(result.stdout)

    planted = {
        ("lab-srv01", "linux.disk.usage", "/srv/data", "fail"),
        ("lab-srv02", "linux.service.required", "cron", "fail"),
        ("lab-srv02", "linux.process.required", "cron", "fail"),
    }
    assert _bad_verdicts(report, SERVERS) == planted
    assert _stored_bad(report["run"]["id"], SERVERS) == planted
    hosts = {h["name"]: h for h in report["hosts"]}
    assert set(hosts) == {*SERVERS, "control-node", "sw-lab01", "sw-lab02", "cmdb"}
    assert hosts["lab-srv03"]["worst"] in ("ok", "warn")
    assert all(hosts[name]["outcome"] == "ok" for name in [*SERVERS, "control-node"])
    assert not any(c["check_id"] == "host.run" for c in hosts["control-node"]["checks"])
    assert report["run"]["status"] == "finished"
    assert report["run"]["trigger"] == "manual"
    html_path = Path(result.stdout.split("report: ")[1].split()[0])
    assert html_path.parent == reports and html_path.suffix == ".html"
    assert "lab-srv01" in html_path.read_text()


def test_a_stopped_host_is_unreachable_then_recovers(lab: Lab, reports: Path) -> None:
    lab.stop_host("lab-srv03")
    try:
        result = opskeeper("inspect", "--limit", "lab_servers", "-o", str(reports))
        assert result.returncode == EXIT_FAILURES_AND_UNREACHABLE, result.stdout + result.stderr
        report = _report(result.stdout)
        srv03 = next(h for h in report["hosts"] if h["name"] == "lab-srv03")
        # Unreachable, and (as an asset recorded in use) a drift from its record.
        assert [(c["check_id"], c["subject"], c["status"]) for c in srv03["checks"]] == [
            ("host.reachable", "", "unreachable"),
            ("cmdb.drift", "reachable", "warn"),
        ]
        assert srv03["outcome"] == "unreachable"
        new = {(x["host"], x["status"]) for x in report["changes"]["new_failures"]}
        assert ("lab-srv03", "unreachable") in new
    finally:
        lab.start_host("lab-srv03", 3)

    lab.exec("lab-srv01", ["rm", "-f", "/srv/data/fill"])
    lab.exec("lab-srv02", ["service", "cron", "start"])
    result = opskeeper(
        "inspect", "--limit", "lab_servers", "--trigger", "schedule", "-o", str(reports)
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    report = _report(result.stdout)
    assert report["failures"] == []
    assert report["run"]["trigger"] == "schedule"
    recovered = {(x["host"], x["check_id"]) for x in report["changes"]["recoveries"]}
    assert ("lab-srv03", "host.reachable") in recovered
    assert ("lab-srv02", "linux.service.required") in recovered


def test_a_killed_run_is_marked_interrupted(lab: Lab) -> None:
    with subprocess.Popen(
        [OPSKEEPER, "inspect"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as proc:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open_store().session() as session:
                if session.scalars(select(Run).where(Run.status == "running")).first():
                    break
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    result = opskeeper("runs", "-n", "1")
    assert result.returncode == 0
    with open_store().session() as session:
        newest = session.scalars(select(Run).order_by(Run.started_at.desc())).first()
        assert newest is not None and newest.status == "interrupted"
        assert newest.ended_at is not None


def test_sigterm_stops_a_run_cleanly(lab: Lab) -> None:
    with subprocess.Popen(
        [OPSKEEPER, "inspect"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open_store().session() as session:
                if session.scalars(select(Run).where(Run.status == "running")).first():
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "was interrupted; its results are incomplete" in stderr
    with open_store().session() as session:
        newest = session.scalars(select(Run).order_by(Run.started_at.desc())).first()
        assert newest is not None and newest.status == "interrupted"
