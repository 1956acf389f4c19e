"""The network census: what a device says it is, read from recorded outputs (the records
of switches compared with it: tests/unit/cmdb/test_cmdb_reconcile.py)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from tests.unit.network.conftest import RecordedDevice, probe_params, recorded

RUNNING = (
    "version 15.2\nhostname access-sw01\n!\n"
    "interface GigabitEthernet1/0/1\n description uplink\n!\nend\n"
)
IOS = {
    "show version": recorded("ios_show_version"),
    "show ip interface": recorded("ios_show_ip_interface"),
    "show vlan brief": recorded("ios_show_vlan_brief"),
    "show running-config": RUNNING,
    "show startup-config": RUNNING,
}


def test_census_of_a_real_ios_shape(probe: ModuleType) -> None:
    facts = probe.census_facts(recorded("ios_show_version"), recorded("ios_show_ip_interface"))
    assert facts == {
        "vendor": "Cisco",
        "os": "ios",
        "hostname": "access-sw01",
        "os_version": "15.2(7)E4",
        "model": "WS-C2960X-48FPD-L",
        "serial": "FOC2107Z1AB",
        "addresses": ["10.0.99.11"],
    }


def test_census_of_the_simulator_without_interface_addresses(probe: ModuleType) -> None:
    facts = probe.census_facts(recorded("sim_show_version"))
    assert (facts["model"], facts["serial"], facts["os_version"]) == (
        "WS-C3750G-24TS-1U",
        "FOC1530X2F7",
        "12.2(58)SE2",
    )
    assert "addresses" not in facts
    # Interfaces that cannot be parsed leave the addresses out, not the rest.
    assert "addresses" not in probe.census_facts(recorded("sim_show_version"), "garbage\n")


def test_ios_xe_is_told_from_ios(probe: ModuleType) -> None:
    text = recorded("ios_show_version").replace("Cisco IOS Software", "Cisco IOS XE Software", 1)
    assert probe.census_facts(text)["os"] == "ios-xe"


def test_a_version_that_cannot_be_parsed_gives_no_census(probe: ModuleType) -> None:
    with pytest.raises(ValueError, match="show version could not be parsed"):
        probe.census_facts("% Unknown command or computer name\n")


def test_census_mode_reads_two_commands_and_judges_nothing(
    probe: ModuleType, tmp_path: Path
) -> None:
    device = RecordedDevice(IOS)
    result = probe._measure(device, probe_params("census", tmp_path))
    assert device.sent == ["show version", "show ip interface"]
    assert result["measurements"] == []
    assert result["opskeeper_census"]["serial"] == "FOC2107Z1AB"


def test_census_mode_says_why_when_show_version_is_refused(
    probe: ModuleType, tmp_path: Path
) -> None:
    device = RecordedDevice({})
    result = probe._measure(device, probe_params("census", tmp_path))
    assert "opskeeper_census" not in result
    (row,) = result["measurements"]
    assert row["id"] == "net.version" and "rejected 'show version'" in row["error"]
    assert device.sent.count("show version") == 1


def test_the_inspection_returns_the_census_and_reuses_its_outputs(
    probe: ModuleType, tmp_path: Path
) -> None:
    device = RecordedDevice(IOS)
    result = probe._measure(device, probe_params("inspect", tmp_path, uplinks=["Gi1/0/1"]))
    census = result["opskeeper_census"]
    assert census["model"] == "WS-C2960X-48FPD-L" and census["addresses"] == ["10.0.99.11"]
    assert {row["id"] for row in result["measurements"]} >= {"net.version", "net.login"}
    # One show version and one show ip interface serve the checks and the census.
    assert device.sent.count("show version") == 1
    assert device.sent.count("show ip interface") == 1
