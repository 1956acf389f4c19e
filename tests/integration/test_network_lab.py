"""The lab's simulated IOS switches end to end: inspect, back up, diff, uplink down, stopped.

Runs the real CLI against the built-in lab (`Lab().up` starts the switches too). The
switches keep their configuration in memory, so the module restarts them at the end to
leave them as `lab up` made them. Backups go to a repository of the module's own
(OPSKEEPER_NETWORK_BACKUP_DIR), not to the lab's history in the state folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from runner import config
from runner.lab import Lab
from runner.lab_switches import PASSWORD, SSH_PORT, USERNAME, LabSwitches
from runner.store import open_store
from runner.store.models import CheckResult, Host
from tests.integration.support import opskeeper

SWITCHES = ["sw-lab01", "sw-lab02"]
UPLINK = {"sw-lab01": "GigabitEthernet0/1", "sw-lab02": "GigabitEthernet0/2"}


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The backup repository of this module, which both the backup and the inspection use."""
    path = tmp_path_factory.mktemp("network-backups")
    old = os.environ.get(config.NETWORK_BACKUP_DIR_ENV)
    os.environ[config.NETWORK_BACKUP_DIR_ENV] = str(path)
    yield path
    if old is None:
        del os.environ[config.NETWORK_BACKUP_DIR_ENV]
    else:
        os.environ[config.NETWORK_BACKUP_DIR_ENV] = old


@pytest.fixture(scope="module")
def switches(store_url: str, backups: Path) -> Iterator[LabSwitches]:
    lab = Lab()
    lab.up(3)
    switches = LabSwitches(lab.lab_dir)
    assert [state.spec.name for state in lab.switch_status() if state.ssh_ok] == SWITCHES
    yield switches
    for name in SWITCHES:
        switches.stop(name)
    switches.up(lambda _line: None)


def _configure(address: str, commands: list[str]) -> None:
    """Apply config commands; the simulator has no `end`, so config mode is left by `exit`."""
    from netmiko import ConnectHandler

    conn = ConnectHandler(
        device_type="cisco_ios",
        host=address,
        port=SSH_PORT,
        username=USERNAME,
        password=PASSWORD,
        timeout=15,
        fast_cli=False,
    )
    try:
        conn.send_config_set([*commands, "exit"], exit_config_mode=False)
        conn.send_command_timing("exit")
    finally:
        conn.disconnect()


def _run_id(output: str) -> str:
    path = next(line.split()[-1] for line in output.splitlines() if line.strip().endswith(".json"))
    return str(json.loads(Path(path).read_text())["run"]["id"])


def _results(run_id: str, host: str) -> dict[tuple[str, str], tuple[str, Any, str | None]]:
    with open_store().session() as session:
        rows = session.execute(
            select(
                CheckResult.check_id,
                CheckResult.subject,
                CheckResult.status,
                CheckResult.value,
                CheckResult.message,
            )
            .join(Host, Host.id == CheckResult.host_id)
            .where(CheckResult.run_id == run_id, Host.name == host)
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _inspect(reports: Path, limit: str) -> tuple[str, str]:
    result = opskeeper("inspect", "-l", limit, "-o", str(reports))
    assert result.returncode in (0, 3, 4, 5), result.stderr
    return _run_id(result.stdout), result.stdout


def test_backup_inspect_drift_and_diff(switches: LabSwitches, reports: Path, backups: Path) -> None:
    baseline = opskeeper("backup", "network", "--reason", "integration test baseline")
    assert baseline.returncode == 0, baseline.stdout + baseline.stderr
    assert "saved  sw-lab01" in baseline.stdout and "saved  sw-lab02" in baseline.stdout

    run_id, _ = _inspect(reports, "ios")
    for host in SWITCHES:
        results = _results(run_id, host)
        assert results[("net.login", "ssh")][0] == "ok"
        assert results[("net.version", "device")][1] == "12.2(58)SE2"
        assert results[("net.interface.uplink", UPLINK[host])][0] == "ok"
        assert results[("net.vlan.present", "vlans")][0] == "ok"
        assert results[("net.config.drift", "running-config")][:2] == ("ok", 0)
        # fake-switches has no `show startup-config`: an error with the reason, not a stop.
        status, _, message = results[("net.config.unsaved", "startup-config")]
        assert status == "error" and "does not implement" in (message or "")
    report = json.loads(next(reports.glob(f"*{run_id}*.json")).read_text())
    groups = {host["name"]: host["group"] for host in report["hosts"]}
    assert groups["sw-lab01"] == groups["sw-lab02"] == "Network devices"

    _configure("127.0.20.1", ["interface FastEthernet0/5", "description printer corridor"])
    run_id, out = _inspect(reports, "sw-lab01")
    status, value, message = _results(run_id, "sw-lab01")[("net.config.drift", "running-config")]
    # The daily report flags the device: its drift is among the report's warnings.
    path = next(line.split()[-1] for line in out.splitlines() if line.strip().endswith(".json"))
    flagged = json.loads(Path(path).read_text())["warnings"]
    assert [(w["host"], w["check_id"]) for w in flagged] == [("sw-lab01", "net.config.drift")]
    assert (status, value) == ("warn", 1)
    assert "+ description printer corridor" in (message or "")

    after = opskeeper("backup", "network", "--reason", "integration test change")
    assert after.returncode == 0, after.stdout + after.stderr
    diff = opskeeper("backup", "diff", "sw-lab01")
    assert diff.returncode == 0, diff.stderr
    assert "+ description printer corridor" in diff.stdout
    assert config.network_backup_dir() == backups.resolve()
    assert (backups / "sw-lab01.cfg").read_text().count("description printer corridor") == 1
    messages = subprocess.run(
        ["git", "-C", str(backups), "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "integration test change" in messages and "integration test baseline" in messages
    history = opskeeper("backup", "log", "sw-lab01", "-n", "2")
    assert history.returncode == 0, history.stderr
    assert history.stdout.count("sw-lab01: ") == 2 and "sw-lab02" not in history.stdout
    assert "sw-lab01: 1 line(s) changed, commit" in history.stdout


def test_a_shut_uplink_fails_on_that_switch(switches: LabSwitches, reports: Path) -> None:
    _configure("127.0.20.1", ["interface GigabitEthernet0/1", "shutdown"])
    try:
        run_id, _ = _inspect(reports, "ios")
        status, value, _ = _results(run_id, "sw-lab01")[
            ("net.interface.uplink", UPLINK["sw-lab01"])
        ]
        assert (status, value) == ("fail", "administratively down")
        other = _results(run_id, "sw-lab02")[("net.interface.uplink", UPLINK["sw-lab02"])]
        assert other[0] == "ok"
        # The cable sw-lab02 records to sw-lab01's Gi0/2 makes that port an uplink too.
        far_end = _results(run_id, "sw-lab01")[("net.interface.uplink", "GigabitEthernet0/2")]
        assert far_end[0] == "ok"
    finally:
        _configure("127.0.20.1", ["interface GigabitEthernet0/1", "no shutdown"])


def test_a_stopped_switch_is_unreachable(switches: LabSwitches, reports: Path) -> None:
    assert switches.stop("sw-lab02")
    try:
        run_id, _ = _inspect(reports, "ios")
        down = _results(run_id, "sw-lab02")
        assert down[("host.reachable", "")][0] == "unreachable"
        assert "127.0.20.2" in (down[("host.reachable", "")][2] or "")
        assert _results(run_id, "sw-lab01")[("net.login", "ssh")][0] == "ok"

        backup = opskeeper("backup", "network", "--reason", "one switch down")
        assert backup.returncode == 3
        assert "saved  sw-lab01" in backup.stdout and "failed sw-lab02" in backup.stdout
    finally:
        switches.up(lambda _line: None)


def _params(**changes: Any) -> dict[str, Any]:
    params = {
        "host": "127.0.20.1",
        "port": SSH_PORT,
        "device": "sw-lab01",
        "username": USERNAME,
        "password": PASSWORD,
        "enable_secret": "",
        "device_type": "cisco_ios",
        "timeout": 10,
        "mode": "inspect",
        "uplinks": [],
        "link_state": "config",
        "backup_dir": "/nonexistent",
    }
    return params | changes


def test_faults_are_rows_with_reasons(switches: LabSwitches, tmp_path: Path) -> None:
    from netmiko import ConnectHandler

    from tests.unit.plugins.conftest import load_plugin

    probe = load_plugin("plugins/modules/opskeeper_ios_probe.py")

    wrong = probe.probe(_params(password="not-the-password"))
    [login] = wrong["measurements"]
    assert login["id"] == "net.login" and "authentication failed" in login["error"]

    silent = probe.probe(_params(host="127.0.20.9"))
    assert silent["unreachable"] is True and "127.0.20.9" in silent["msg"]

    # The lab records the switches' host keys; a device presenting another key is refused.
    known = probe.probe(_params(known_hosts=str(switches.known_hosts)))
    assert "error" not in known["measurements"][0]
    other = tmp_path / "known_hosts"
    other.write_text(
        "[127.0.20.1]:2222 ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    refused = probe.probe(_params(known_hosts=str(other)))
    assert refused["unreachable"] is True and "does not match" in refused["msg"]

    conn = ConnectHandler(
        device_type="cisco_ios",
        host="127.0.20.1",
        port=SSH_PORT,
        username=USERNAME,
        password=PASSWORD,
        timeout=15,
        fast_cli=False,
    )
    try:
        with pytest.raises(
            probe.CommandRejected, match="rejected 'show running-config interface Gi0/9'"
        ):
            probe.send(conn, "show running-config interface Gi0/9", 10)
    finally:
        conn.disconnect()
