"""The probe's session with a device, on a recorded connection (conftest.RecordedDevice):
commands the device refuses, running configurations that are not whole, enable and the
privilege level."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.network.conftest import RecordedDevice, probe_params, recorded

RUNNING = "version 15.2\nhostname access-sw01\n!\ninterface GigabitEthernet0/1\n!\nend\n"
IOS = {
    "show version": recorded("ios_show_version"),
    "show vlan brief": recorded("ios_show_vlan_brief"),
    "show running-config": RUNNING,
    "show startup-config": RUNNING,
}
#: What IOS answers a command it refuses (after the caret line, where it draws one).
REFUSALS = [
    "% Invalid input detected at '^' marker.",
    "% Incomplete command.",
    '% Ambiguous command:  "show v"',
    "% Unknown command or computer name, or unable to find computer address",
    "% Authorization failed.",
    "Command authorization failed.",
    "% Access denied",
]
#: (output of show running-config, what the error says)
NOT_WHOLE = [
    ("", "empty"),
    ("version 15.2\nhostname access-sw01\n!\ninterface GigabitEthernet0/1\n", "`end` line"),
    # What a session below level 15 may be shown: only what it may configure.
    ("!\ninterface GigabitEthernet0/1\n shutdown\n!\nend\n", "no `version` or `hostname`"),
]


def _rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in result["measurements"]}


@pytest.mark.parametrize("answer", REFUSALS)
def test_a_refusal_is_a_rejected_command(probe: ModuleType, answer: str) -> None:
    device = RecordedDevice({"show vlan brief": f"          ^\n{answer}\n"})
    with pytest.raises(probe.CommandRejected, match="rejected 'show vlan brief'"):
        probe.send(device, "show vlan brief", 5)


def test_a_refusal_quoted_in_configuration_text_is_not_one(probe: ModuleType) -> None:
    config = RUNNING.replace("!\nend", " description lab: % Invalid input on purpose\n!\nend")
    device = RecordedDevice({"show running-config": config})
    assert probe.send(device, "show running-config", 5) == config


def test_the_simulators_running_config_is_whole(probe: ModuleType) -> None:
    text = recorded("sim_show_running-config")
    assert probe.read_running(RecordedDevice({"show running-config": text}), 5) == text


@pytest.mark.parametrize(("config", "reason"), NOT_WHOLE, ids=["empty", "cut", "partial"])
def test_inspecting_a_running_config_that_is_not_whole_is_an_error(
    probe: ModuleType, tmp_path: Path, config: str, reason: str
) -> None:
    device = RecordedDevice({**IOS, "show running-config": config})
    result = probe._measure(device, probe_params("inspect", tmp_path, uplinks=["Gi0/1"]))
    rows = _rows(result)
    for check in ("net.interface.uplink", "net.config.unsaved", "net.config.drift"):
        assert "status" not in rows[check], check
        assert reason in rows[check]["error"], check
        assert rows[check]["error"].startswith("show running-config failed: ")


@pytest.mark.parametrize(("config", "reason"), NOT_WHOLE, ids=["empty", "cut", "partial"])
def test_a_running_config_that_is_not_whole_is_not_backed_up(
    probe: ModuleType, tmp_path: Path, config: str, reason: str
) -> None:
    device = RecordedDevice({**IOS, "show running-config": config})
    (row,) = probe._measure(device, probe_params("backup", tmp_path))["measurements"]
    assert row["id"] == "net.backup.fetch" and reason in row["error"]
    assert not (tmp_path / "backups" / "access-sw01.cfg").exists()


def test_the_simulators_running_config_is_backed_up(probe: ModuleType, tmp_path: Path) -> None:
    text = recorded("sim_show_running-config")
    device = RecordedDevice({"show running-config": text})
    (row,) = probe._measure(device, probe_params("backup", tmp_path))["measurements"]
    assert row["status"] == "ok"
    assert (tmp_path / "backups" / "access-sw01.cfg").read_text() == text


def test_a_backup_enters_enable_mode_first(probe: ModuleType, tmp_path: Path) -> None:
    device = RecordedDevice(IOS, level=1)
    params = probe_params("backup", tmp_path, enable_secret="en4ble")
    (row,) = probe._measure(device, params)["measurements"]
    assert row["status"] == "ok", row
    assert device.sent.index("enable") < device.sent.index("show running-config")
    assert (tmp_path / "backups" / "access-sw01.cfg").read_text() == RUNNING


@pytest.mark.parametrize(
    ("secret", "reason"),
    [("wrong", "enable failed"), ("", "no enable secret is set")],
    ids=["refused", "no-secret"],
)
def test_a_backup_without_enable_mode_is_an_error(
    probe: ModuleType, tmp_path: Path, secret: str, reason: str
) -> None:
    device = RecordedDevice(IOS, level=1, enable_fails=True)
    params = probe_params("backup", tmp_path, enable_secret=secret)
    (row,) = probe._measure(device, params)["measurements"]
    assert row["id"] == "net.backup.fetch" and reason in row["error"]
    assert "opskeeper_ios_enable_secret" in row["error"]
    assert "show running-config" not in device.sent
    assert not (tmp_path / "backups").exists()


def _login(probe: ModuleType, tmp_path: Path, device: RecordedDevice, secret: str) -> Any:
    params = probe_params("inspect", tmp_path, enable_secret=secret)
    return _rows(probe._measure(device, params))["net.login"]


def test_level_15_is_privileged(probe: ModuleType, tmp_path: Path) -> None:
    device = RecordedDevice(IOS, level=15)
    row = _login(probe, tmp_path, device, "")
    assert row["value"] == "privileged" and "privilege level 15" in row["message"]
    assert "enable" not in device.sent


def test_user_mode_is_enabled_to_level_15(probe: ModuleType, tmp_path: Path) -> None:
    device = RecordedDevice(IOS, level=1)
    row = _login(probe, tmp_path, device, "en4ble")
    assert row["value"] == "privileged" and "after enable" in row["message"]
    assert device.sent.index("enable") < device.sent.index("show running-config")


def test_a_refused_enable_is_an_error(probe: ModuleType, tmp_path: Path) -> None:
    row = _login(probe, tmp_path, RecordedDevice(IOS, level=1, enable_fails=True), "wrong")
    assert row["value"] is None and "status" not in row
    assert "enable failed" in row["error"] and "opskeeper_ios_enable_secret" in row["error"]


def test_user_mode_without_a_secret_is_the_finding(probe: ModuleType, tmp_path: Path) -> None:
    row = _login(probe, tmp_path, RecordedDevice(IOS, level=1), "")
    assert row["value"] == "user" and "no enable secret" in row["message"]


def test_level_7_shows_the_prompt_of_15_but_is_not_privileged(
    probe: ModuleType, tmp_path: Path
) -> None:
    device = RecordedDevice(IOS, level=7)
    assert device.check_enable_mode()
    row = _login(probe, tmp_path, device, "")
    assert row["value"] == "level 7"
    assert "privilege level 7" in row["message"] and "level 15" in row["message"]


def test_level_7_is_enabled_to_level_15(probe: ModuleType, tmp_path: Path) -> None:
    device = RecordedDevice(IOS, level=7)
    assert _login(probe, tmp_path, device, "en4ble")["value"] == "privileged"
    assert "enable" in device.sent


def test_level_7_with_a_refused_secret_is_an_error(probe: ModuleType, tmp_path: Path) -> None:
    row = _login(probe, tmp_path, RecordedDevice(IOS, level=7, enable_fails=True), "wrong")
    assert row["value"] is None and "still at privilege level 7" in row["error"]


@pytest.mark.parametrize(
    "answer", ["", "% Invalid input detected at '^' marker.\n"], ids=["simulator", "refused"]
)
def test_an_unread_level_is_judged_by_the_prompt_and_said(
    probe: ModuleType, tmp_path: Path, answer: str
) -> None:
    device = RecordedDevice({**IOS, "show privilege": answer}, level=15)
    row = _login(probe, tmp_path, device, "")
    assert row["value"] == "privileged"
    assert "privilege level could not be read" in row["message"] and "#" in row["message"]
    assert "enable" not in device.sent


def test_a_backup_needs_level_15(probe: ModuleType, tmp_path: Path) -> None:
    device = RecordedDevice(IOS, level=7)
    (row,) = probe._measure(device, probe_params("backup", tmp_path))["measurements"]
    assert "privilege level 7" in row["error"]
    assert "show running-config" not in device.sent


def test_a_peer_that_never_speaks_ssh_is_unreachable_with_a_plain_reason(
    probe: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import netmiko
    from netmiko.exceptions import NetmikoTimeoutException

    def silent(**_: Any) -> None:
        # What netmiko 4 raises when the TCP connection opens and no SSH answer follows.
        raise NetmikoTimeoutException(
            "Paramiko: 'No existing session' error: try increasing 'conn_timeout' to 15 "
            "seconds or larger."
        )

    monkeypatch.setattr(netmiko, "ConnectHandler", silent)
    params = probe_params(
        "inspect", tmp_path, host="127.0.99.8", port=2298, password="pw", device_type="cisco_ios"
    )
    result = probe.probe(params)
    assert result == {
        "unreachable": True,
        "msg": "no SSH answer from 127.0.99.8:2298 within 5 s "
        "(the TCP connection opened, the SSH handshake did not follow)",
    }


def test_the_module_documentation_parses(probe: ModuleType) -> None:
    import yaml

    doc = yaml.safe_load(probe.DOCUMENTATION)
    assert doc["module"] == "opskeeper_ios_probe"
    assert "enable_secret" in doc["options"]
    assert "measurements" in yaml.safe_load(probe.RETURN)
    assert "device" in yaml.safe_load(probe.EXAMPLES)[0]["opskeeper_ios_probe"]
