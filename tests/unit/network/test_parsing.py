"""TextFSM (ntc-templates) on recorded outputs, and the probe's judging of what it parsed."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.unit.network.conftest import recorded


@pytest.mark.parametrize(
    ("source", "version", "hardware", "serial"),
    [
        ("ios", "15.2(7)E4", "WS-C2960X-48FPD-L", "FOC2107Z1AB"),
        ("sim", "12.2(58)SE2", "WS-C3750G-24TS-1U", "FOC1530X2F7"),
    ],
)
def test_show_version(
    probe: ModuleType, source: str, version: str, hardware: str, serial: str
) -> None:
    row = probe.version_measurement(recorded(f"{source}_show_version"))
    assert row["value"] == version
    assert row["status"] == "ok"
    assert row["details"]["hardware"] == hardware
    assert row["details"]["serial"] == serial


@pytest.mark.parametrize(
    ("source", "vlans"),
    [("ios", ["1", "10", "20", "99", "1002", "1003", "1004", "1005"]), ("sim", ["1"])],
)
def test_show_vlan_brief(probe: ModuleType, source: str, vlans: list[str]) -> None:
    assert probe.vlan_measurement(recorded(f"{source}_show_vlan_brief"))["value"] == vlans


def test_output_that_cannot_be_parsed_is_an_error(probe: ModuleType) -> None:
    row = probe.version_measurement("% Unknown command or computer name\n")
    assert row["value"] is None
    assert "could not be parsed" in row["error"]
    assert "could not be parsed" in probe.vlan_measurement("garbage\n")["error"]


def test_show_ip_interface_link_states(probe: ModuleType) -> None:
    rows = probe.parse("show ip interface", recorded("ios_show_ip_interface"))
    states = {probe.canonical_port(r["interface"]): r for r in rows}
    blocks = {probe.canonical_port(p): [] for p in ("Gi1/0/1", "Gi1/0/2", "Gi1/0/3")}

    verdicts = {
        port: probe.uplink_measurement(port, blocks, states, "device")
        for port in ("Gi1/0/1", "GigabitEthernet1/0/2", "Gi1/0/3")
    }
    assert verdicts["Gi1/0/1"]["status"] == "ok"
    assert verdicts["GigabitEthernet1/0/2"]["status"] == "fail"
    assert verdicts["GigabitEthernet1/0/2"]["value"] == "administratively down/down"
    assert verdicts["Gi1/0/3"]["status"] == "fail"


CONFIG = """interface GigabitEthernet0/1
 description uplink to sw-lab02
 shutdown
!
interface GigabitEthernet0/2
 description spare
!
"""


@pytest.mark.parametrize(
    ("port", "link_state", "status", "value"),
    [
        ("GigabitEthernet0/1", "config", "fail", "administratively down"),
        ("Gi0/1", "device", "fail", "administratively down"),
        ("Gi0/2", "config", "ok", "enabled"),
        ("Gi0/9", "config", "fail", "missing"),
    ],
)
def test_uplink_from_configuration(
    probe: ModuleType, port: str, link_state: str, status: str, value: str
) -> None:
    row = probe.uplink_measurement(port, probe.interface_blocks(CONFIG), {}, link_state)
    assert (row["status"], row["value"], row["subject"]) == (status, value, port)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Gi0/1", "gigabitethernet0/1"),
        ("GigabitEthernet0/1", "gigabitethernet0/1"),
        ("Fa0/24", "fastethernet0/24"),
        ("Te1/1/1", "tengigabitethernet1/1/1"),
        ("Po1", "port-channel1"),
        ("Vlan99", "vlan99"),
    ],
)
def test_canonical_port(probe: ModuleType, name: str, canonical: str) -> None:
    assert probe.canonical_port(name) == canonical


def test_the_simulators_running_config_lists_its_uplinks(probe: ModuleType) -> None:
    blocks = probe.interface_blocks(recorded("sim_show_running-config"))
    assert "gigabitethernet0/1" in blocks and "fastethernet0/24" in blocks


def test_unsaved_configuration(probe: ModuleType) -> None:
    running = recorded("sim_show_running-config")
    assert probe.unsaved_measurement(running, running)["value"] is False
    changed = running.replace(
        "interface GigabitEthernet0/2\n", "interface GigabitEthernet0/2\n shutdown\n"
    )
    row = probe.unsaved_measurement(changed, running)
    assert row["value"] is True and row["details"]["changes"] == ["+ shutdown"]
    # fake-switches answers `show startup-config` with nothing: an error, with the reason.
    assert "does not implement" in probe.unsaved_measurement(running, "")["error"]
