"""The lab switches' launcher bookkeeping, without starting fake-switches."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import LabError
from runner.lab_switches import SSH_PORT, LabSwitches, lab_switch_spec, switch_spec


def test_specs_put_switch_n_on_127_0_20_n() -> None:
    spec = switch_spec("sw-lab02")
    assert (spec.address, spec.port, spec.model) == ("127.0.20.2", SSH_PORT, "cisco_2960_24TT_L")
    assert "lab-switch" not in repr(spec)
    # Each switch names its own serial in show version, as the lab's CMDB records it.
    assert spec.serial == "LABSIM0002"
    with pytest.raises(LabError, match="unknown lab switch 'sw-lab09'"):
        switch_spec("sw-lab09")


def test_nothing_started_means_nothing_to_show_or_stop(tmp_path: Path) -> None:
    switches = LabSwitches(tmp_path / "lab", venv=tmp_path / "no-venv")
    assert switches.status() == []
    assert switches.down() == []
    assert switches.stop("sw-lab01") is False


def test_a_missing_venv_says_how_to_build_it(tmp_path: Path) -> None:
    switches = LabSwitches(tmp_path / "lab", venv=tmp_path / "no-venv")
    with pytest.raises(LabError, match="make switches-venv"):
        switches.start(switch_spec("sw-lab01"))


def test_a_stale_pid_file_is_not_a_running_switch(tmp_path: Path) -> None:
    switches = LabSwitches(tmp_path / "lab")
    folder = tmp_path / "lab" / "switches" / "sw-lab01"
    folder.mkdir(parents=True)
    (folder / "spec.json").write_text('[{"name": "sw-lab01", "address": "127.0.20.1"}]')
    (folder / "pid").write_text("1\n")
    [state] = switches.status()
    assert (state.spec.name, state.pid, state.ssh_ok) == ("sw-lab01", None, False)


def test_files_beside_the_switch_folders_are_not_switches(tmp_path: Path) -> None:
    switches = LabSwitches(tmp_path / "lab")
    folder = tmp_path / "lab" / "switches"
    (folder / "sw-lab01").mkdir(parents=True)
    (folder / "known_hosts").write_text("[127.0.20.1]:2222 ssh-rsa AAAA\n")
    assert switches.down() == []
    assert switches.status() == []


def test_an_extra_switch_gets_its_address_and_serial_from_its_index() -> None:
    spec = lab_switch_spec("molecule-ios", 250)
    assert (spec.address, spec.serial) == ("127.0.20.250", "LABSIM0250")
    with pytest.raises(LabError, match="switch index 255 is out of range"):
        lab_switch_spec("molecule-ios", 255)


@pytest.mark.parametrize("name", ["", "Core_1", "../x", "-lead"])
def test_an_extra_switch_needs_a_plain_name(tmp_path: Path, name: str) -> None:
    switches = LabSwitches(tmp_path / "lab", venv=tmp_path / "no-venv")
    with pytest.raises(LabError, match="is not valid: use lower-case letters"):
        switches.start_one(name, 250)
    assert not (tmp_path / "lab").exists()
