"""The built-in lab on this machine: real hosts, real sshd, nothing left behind by `down`."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.lab import SSH_PORT, Lab, LabHostState

pytestmark = pytest.mark.lab

SERVERS = ["lab-srv01", "lab-srv02", "lab-srv03"]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """The default lab (var/, where the base is cached), down first so `up` starts hosts."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root: run `make test` (it uses sudo)")
    the_lab = Lab()
    the_lab.down()
    the_lab.ensure_base()
    yield the_lab
    the_lab.down()


@pytest.fixture(scope="module")
def started(lab: Lab) -> tuple[list[LabHostState], float]:
    begin = time.monotonic()
    states = lab.up(3)
    return states, time.monotonic() - begin


def _known_hosts(lab: Lab) -> dict[str, str]:
    entries = {}
    for line in lab.known_hosts.read_text().splitlines():
        host, key_type, key = line.split()
        entries[host] = f"{key_type} {key}"
    return entries


def _lab_processes(lab: Lab) -> list[tuple[int, str]]:
    """Processes whose command line names the lab folder or runs chrooted below it."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            root = os.readlink(f"/proc/{entry}/root")
        except OSError:
            continue
        if str(lab.lab_dir) in argv or root.startswith(str(lab.hosts_dir)):
            found.append((int(entry), argv))
    return found


def _lab_mounts(lab: Lab) -> list[str]:
    """Mounts naming the lab folder in any process's mount table (so in any namespace)."""
    found = []
    for entry in ["self", *(e for e in os.listdir("/proc") if e.isdigit())]:
        try:
            text = Path(f"/proc/{entry}/mounts").read_text()
        except OSError:
            continue
        found += [line for line in text.splitlines() if str(lab.hosts_dir) in line]
    return found


def _answers(address: str) -> bool:
    try:
        with socket.create_connection((address, SSH_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def test_up_starts_three_hosts_quickly(started: tuple[list[LabHostState], float]) -> None:
    states, seconds = started
    assert [state.spec.name for state in states] == SERVERS
    assert all(state.running and state.ssh_ok and state.pid for state in states)
    assert seconds < 10, f"lab up took {seconds:.1f} s"


def test_each_host_has_its_own_hostname_and_host_key(
    lab: Lab, started: tuple[list[LabHostState], float]
) -> None:
    known = _known_hosts(lab)
    for index, name in enumerate(SERVERS, start=1):
        assert lab.exec(name, ["hostname"]).stdout.strip() == name
        pub = lab.exec(name, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()
        assert known[f"[127.0.10.{index}]:{SSH_PORT}"] == f"{pub[0]} {pub[1]}"
    assert len(set(known.values())) == 3
    assert all(value.startswith("ssh-ed25519 ") for value in known.values())


def test_only_the_lab_host_key_is_present(lab: Lab, started: object) -> None:
    keys = lab.exec("lab-srv01", ["sh", "-c", "ls /etc/ssh/ssh_host_*"]).stdout.split()
    assert keys == ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub"]


def test_hosts_have_different_data_file_systems(lab: Lab, started: object) -> None:
    seen = []
    for name in SERVERS:
        result = lab.exec(name, ["df", "--output=size,pcent", "-B1M", "/srv/data"])
        assert result.returncode == 0, result.stderr
        size, percent = result.stdout.splitlines()[-1].split()
        seen.append((int(size), int(percent.rstrip("%"))))
    assert len({size for size, _ in seen}) == 3
    assert len({percent for _, percent in seen}) == 3
    assert all(0 < percent < 60 for _, percent in seen)


def test_apt_works_inside_a_host(lab: Lab, started: object) -> None:
    result = lab.exec("lab-srv02", ["apt-get", "-s", "upgrade"])
    assert result.returncode == 0, result.stderr
    assert "upgraded," in result.stdout


def test_ssh_restart_keeps_the_host_up(lab: Lab, started: object) -> None:
    result = lab.exec("lab-srv03", ["service", "ssh", "restart"])
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 10
    while lab.exec("lab-srv03", ["true"]).returncode != 0:
        assert time.monotonic() < deadline, "lab-srv03 did not answer after an ssh restart"
        time.sleep(0.2)
    ps = lab.exec("lab-srv03", ["ps", "-o", "comm=", "-p", "1"]).stdout.strip()
    assert ps == "tini"


def test_starting_twice_is_a_noop(lab: Lab, started: tuple[list[LabHostState], float]) -> None:
    before = {state.spec.name: state.pid for state in lab.status()}
    again = lab.up(3)
    assert {state.spec.name: state.pid for state in again} == before
    assert lab.start_host("lab-srv01", 1).pid == before["lab-srv01"]
    mounts = lab.exec("lab-srv01", ["cat", "/proc/mounts"]).stdout.splitlines()
    assert len([line for line in mounts if line.split()[1] == "/"]) == 1


def test_a_single_host_on_a_high_index(lab: Lab, started: object) -> None:
    state = lab.start_host("lab-test", 250)
    try:
        assert state.running and state.spec.address == "127.0.10.250"
        assert lab.exec("lab-test", ["hostname"]).stdout.strip() == "lab-test"
    finally:
        lab.stop_host("lab-test")
    assert not any("lab-test" in argv for _, argv in _lab_processes(lab))
    assert "[127.0.10.250]" not in lab.known_hosts.read_text()
    assert [state.spec.name for state in lab.status()] == SERVERS


def test_down_leaves_nothing_behind(lab: Lab, started: object) -> None:
    stopped = lab.down()

    assert stopped == SERVERS
    assert _lab_processes(lab) == []
    assert _lab_mounts(lab) == []
    assert lab.status() == []
    assert not any(_answers(f"127.0.10.{i}") for i in (1, 2, 3))
    assert list(lab.hosts_dir.iterdir()) == []
    assert lab.down() == []
