"""The Linux probe: parsing functions on fixture text, readers on this machine, one real run."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
UTC = datetime.UTC
MEASUREMENT_KEYS = {"id", "subject", "value", "unit"}
OPTIONAL_KEYS = {"message", "details", "error", "status"}
ALWAYS_MEASURED = {
    "linux.load.per_core",
    "linux.memory.usage",
    "linux.swap.usage",
    "linux.disk.usage",
    "linux.disk.inodes",
    "linux.service.failed",
    "linux.time.sync",
    "linux.uptime",
    "linux.reboot.required",
    "linux.updates.pending",
    "linux.updates.security",
    "linux.auth.failed_logins",
    "linux.process.zombies",
}


def _assert_shape(measurements: list[dict[str, Any]]) -> None:
    for item in measurements:
        assert MEASUREMENT_KEYS <= set(item) <= MEASUREMENT_KEYS | OPTIONAL_KEYS, item
        assert item["id"].startswith("linux.")
        assert isinstance(item["subject"], str) and item["subject"]
        assert "error" in item or item.get("message"), item


# --- load, memory, uptime ------------------------------------------------------------


def test_load_per_core_uses_the_five_minute_average(probe: ModuleType) -> None:
    assert probe.load_per_core("0.50 3.00 9.00 2/345 6789\n", 2) == 1.5
    assert probe.load_per_core("0.50 3.00 9.00 2/345 6789\n", 0) == 3.0


MEMINFO = """\
MemTotal:        8000000 kB
MemFree:          500000 kB
MemAvailable:    2000000 kB
Buffers:          100000 kB
Cached:          1000000 kB
SwapTotal:       2000000 kB
SwapFree:         500000 kB
HugePages_Total:       0
"""


def test_memory_and_swap_usage(probe: ModuleType) -> None:
    meminfo = probe.parse_meminfo(MEMINFO)

    assert meminfo["HugePages_Total"] == 0
    assert probe.memory_usage(meminfo) == 75.0
    assert probe.swap_usage(meminfo) == 75.0


def test_memory_without_memavailable_uses_free_buffers_cached(probe: ModuleType) -> None:
    meminfo = probe.parse_meminfo(MEMINFO.replace("MemAvailable:    2000000 kB\n", ""))

    assert probe.memory_usage(meminfo) == 80.0


def test_no_swap_is_zero_percent(probe: ModuleType) -> None:
    meminfo = probe.parse_meminfo("MemTotal: 100 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")

    assert probe.swap_usage(meminfo) == 0.0


def test_uptime_in_days(probe: ModuleType) -> None:
    assert probe.uptime_days("864000.00 1700000.00\n") == 10.0


# --- disks ---------------------------------------------------------------------------

MOUNTS = r"""proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
devtmpfs /dev devtmpfs rw,relatime,size=12334076k 0 0
tmpfs /dev/shm tmpfs rw,relatime 0 0
devpts /dev/pts devpts rw,relatime 0 0
/dev/vda1 / ext4 rw,relatime 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid 0 0
tmpfs /run/user/1000 tmpfs rw,nosuid 0 0
tmpfs /tmp tmpfs rw,nosuid 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,cpu 0 0
systemd-1 /proc/sys/fs/binfmt_misc autofs rw 0 0
mqueue /dev/mqueue mqueue rw 0 0
/dev/vdb1 /srv/my\040data xfs rw 0 0
/dev/vda1 /var/lib/kubelet/pods ext4 rw 0 0
/dev/vdc1 /backup ext4 rw 0 0
/dev/vdd1 /backup xfs rw 0 0
/dev/vde1 /scratch ext4 rw 0 0
/dev/vde2 /scratch/tmp ext4 rw 0 0
nsfs /run/netns/x nsfs rw 0 0
"""


def test_select_mounts_keeps_real_data_once(probe: ModuleType) -> None:
    mounts = probe.parse_mounts(MOUNTS)

    selected = probe.select_mounts(mounts, ["/scratch"])

    assert [(mount.mountpoint, mount.fstype) for mount in selected] == [
        ("/", "ext4"),
        ("/var/lib/docker/overlay2/abc/merged", "overlay"),
        ("/tmp", "tmpfs"),
        ("/srv/my data", "xfs"),
        ("/backup", "xfs"),
    ]


def test_mount_exclude_matches_whole_path_components(probe: ModuleType) -> None:
    mounts = probe.parse_mounts("/dev/a /srv ext4 rw 0 0\n/dev/b /srvx ext4 rw 0 0\n")

    assert [mount.mountpoint for mount in probe.select_mounts(mounts, ["/srv/"])] == ["/srvx"]
    assert [mount.mountpoint for mount in probe.select_mounts(mounts, ["/"])] == [
        "/srv",
        "/srvx",
    ]


def test_disk_usage_counts_reserved_blocks_as_used_like_df(probe: ModuleType) -> None:
    # 1000 blocks, 200 free of which 50 are reserved for root: df says 800/(800+150).
    assert probe.disk_usage(1000, 200, 150) == 84.21
    assert probe.disk_usage(0, 0, 0) is None


def test_a_file_system_without_inodes_reports_none(probe: ModuleType) -> None:
    assert probe.inode_usage(0, 0) is None
    assert probe.inode_usage(1000, 250) == 75.0


def test_probe_disks_on_this_machine(probe: ModuleType) -> None:
    measurements = probe.probe_disks([])

    _assert_shape(measurements)
    root = [item for item in measurements if item["subject"] == "/"]
    assert {item["id"] for item in root} == {"linux.disk.usage", "linux.disk.inodes"}
    assert all(0 <= item["value"] <= 100 for item in root)
    assert not any(item["subject"].startswith(("/proc", "/sys", "/dev")) for item in measurements)


# --- processes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42 (sshd) S 1 42 42 0 -1\n", (42, "sshd", "S")),
        ("77 (my (odd) name) Z 1 77 77 0\n", (77, "my (odd) name", "Z")),
        ("78 (a) b) R 1 78\n", (78, "a) b", "R")),
        ("79 () S 1\n", (79, "", "S")),
    ],
)
def test_parse_stat_survives_parentheses_and_spaces(
    probe: ModuleType, text: str, expected: tuple[int, str, str]
) -> None:
    assert probe.parse_stat(text) == expected


def _fake_proc(root: Path, pid: int, comm: str, argv: list[str], state: str = "S") -> None:
    base = root / str(pid)
    (base / "fd").mkdir(parents=True)
    (base / "stat").write_text(f"{pid} ({comm}) {state} 1 {pid} {pid} 0 -1\n")
    (base / "comm").write_text(comm + "\n")
    (base / "cmdline").write_bytes(b"\0".join(arg.encode() for arg in argv) + b"\0")


def test_read_processes_and_count_zombies(probe: ModuleType, tmp_path: Path) -> None:
    _fake_proc(tmp_path, 1, "tini", ["/usr/bin/tini", "--", "sleep"])
    _fake_proc(tmp_path, 20, "sshd", ["sshd: /usr/sbin/sshd -D"])
    _fake_proc(tmp_path, 30, "python3", ["/usr/bin/python3", "/opt/app/worker-daemon"])
    _fake_proc(tmp_path, 31, "defunct (x)", [], state="Z")
    _fake_proc(tmp_path, 32, "defunct", [], state="Z")
    (tmp_path / "self").mkdir()
    (tmp_path / "99").mkdir()  # a process that vanished while we looked

    processes = probe.read_processes(str(tmp_path))

    assert sorted(process.pid for process in processes) == [1, 20, 30, 31, 32]
    assert probe.count_zombies(processes) == [31, 32]
    found = probe.probe_required_processes(["sshd", "worker-daemon", "nginx"], processes)
    assert [(item["subject"], item["value"]) for item in found] == [
        ("sshd", True),
        ("worker-daemon", True),
        ("nginx", False),
    ]
    assert found[0]["details"] == {"count": 1, "pids": [20]}


def test_long_process_names_match_the_truncated_comm(probe: ModuleType) -> None:
    process = probe.Process(5, "systemd-timesyn", [], "S")

    assert probe.process_matches("systemd-timesyncd", process)
    assert probe.time_daemon([process]) == "systemd-timesyncd"


def test_read_processes_on_this_machine_sees_pid_1(probe: ModuleType) -> None:
    processes = probe.read_processes()

    assert 1 in {process.pid for process in processes}
    assert os.getpid() not in {process.pid for process in processes}


# --- services ------------------------------------------------------------------------


def test_parse_systemctl_failed(probe: ModuleType) -> None:
    text = (
        "nginx.service loaded failed failed A high performance web server\n"
        "\u25cf cron.service loaded failed failed Regular background program\n"
        "\n"
    )

    assert probe.parse_systemctl_failed(text) == ["cron.service", "nginx.service"]
    assert probe.parse_systemctl_failed("") == []


@pytest.mark.parametrize(
    ("script", "has_status"),
    [
        ('case "$1" in\n  start) do_start ;;\n  status)\n    status_of_proc x ;;\nesac\n', True),
        ('case "$1" in\n  start|stop|status|restart) run "$1" ;;\nesac\n', True),
        ("case $1 in\n  start|stop) : ;;\n  *) echo 'Usage: x {start|stop}' ;;\nesac\n", False),
        ("# status is printed on boot\ncase $1 in\n  start) : ;;\nesac\n", False),
    ],
)
def test_implements_status(probe: ModuleType, script: str, has_status: bool) -> None:
    assert probe.implements_status(script) is has_status


def test_sysv_failed_from_lsb_codes(probe: ModuleType) -> None:
    statuses = {"ssh": 0, "cron": 1, "atd": 2, "rsync": 3, "x11-common": 4}

    assert probe.sysv_failed(statuses, None) == ["atd", "cron"]
    assert probe.sysv_failed(statuses, {"ssh", "rsync"}) == ["atd", "cron", "rsync"]


def test_runlevel_and_enabled_scripts(probe: ModuleType) -> None:
    assert probe.parse_runlevel("N 2\n") == "2"
    assert probe.parse_runlevel("unknown\n") is None
    assert probe.enabled_scripts(["S01ssh", "K01cron", "S02rsync", "README"]) == {
        "ssh",
        "rsync",
    }
    assert probe.is_sysv_init("init\n", "/sbin/init")
    assert not probe.is_sysv_init("init\n", "/usr/lib/systemd/systemd")
    assert not probe.is_sysv_init("tini\n", "/usr/bin/tini")


def test_failed_services_on_this_machine(probe: ModuleType) -> None:
    (item,) = probe.probe_failed_services()

    _assert_shape([item])
    assert isinstance(item["value"], list)
    assert item["details"]["service_manager"] in ("systemd", "sysv")


# --- ports ---------------------------------------------------------------------------

PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 600A007F:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41660 1 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 500 1 0
   2: 0100007F:0016 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 501 1 0
"""
_V6_ANY, _V6_LOOPBACK = "0" * 32, "0" * 24 + "01000000"
_TAIL = "00000000:00000000 00:00000000 00000000     0        0"
PROC_NET_TCP6 = (
    "  sl  local_address                         remote_address                        st\n"
    f"   0: {_V6_ANY}:0016 {_V6_ANY}:0000 0A {_TAIL} 600 1 0\n"
    f"   1: {_V6_LOOPBACK}:1F90 {_V6_ANY}:0000 0A {_TAIL} 601 1 0\n"
)


def test_parse_proc_net_tcp_keeps_listeners_only(probe: ModuleType) -> None:
    listeners = probe.parse_proc_net_tcp(PROC_NET_TCP) + probe.parse_proc_net_tcp(PROC_NET_TCP6)

    assert [tuple(listener) for listener in listeners] == [
        ("127.0.10.96", 2222, 41660),
        ("0.0.0.0", 22, 500),
        ("::", 22, 600),
        ("::1", 8080, 601),
    ]


def test_a_port_counts_only_when_this_host_owns_the_socket(probe: ModuleType) -> None:
    listeners = probe.parse_proc_net_tcp(PROC_NET_TCP)

    assert probe.judge_port(2222, listeners, {41660}, 0) == (True, ["127.0.10.96"], False)
    # Another lab host's sshd in the shared network namespace is not ours.
    assert probe.judge_port(2222, listeners, {999}, 0) == (False, [], False)
    # Without the right to read every process's descriptors any listener counts.
    assert probe.judge_port(2222, listeners, set(), 3) == (True, ["127.0.10.96"], True)
    assert probe.judge_port(9999, listeners, set(), 3) == (False, [], True)


def test_socket_inodes_from_fd_links(probe: ModuleType, tmp_path: Path) -> None:
    _fake_proc(tmp_path, 10, "sshd", ["sshd"])
    os.symlink("socket:[41660]", tmp_path / "10" / "fd" / "3")
    os.symlink("/dev/null", tmp_path / "10" / "fd" / "0")
    os.symlink("pipe:[77]", tmp_path / "10" / "fd" / "4")

    assert probe.socket_inodes(str(tmp_path)) == ({41660}, 0)


def test_probe_ports_sees_a_real_listener_of_this_process(probe: ModuleType) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        listening, closed = probe.probe_ports([port, 1])

    assert listening["value"] is True
    assert listening["subject"] == f"{port}/tcp"
    assert "127.0.0.1" in listening["details"]["addresses"]
    assert closed["value"] is False
    _assert_shape([listening, closed])


# --- time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "synced"),
    [(0, 0x2001, True), (5, 0x0001, False), (0, 0x0041, False), (1, 0, True)],
)
def test_clock_synced(probe: ModuleType, state: int, status: int, synced: bool) -> None:
    assert probe.clock_synced(state, status) is synced


def test_timex_struct_matches_the_kernel_abi(probe: ModuleType) -> None:
    import ctypes

    assert ctypes.sizeof(probe._Timex) == (208 if ctypes.sizeof(ctypes.c_long) == 8 else 128)


def test_time_sync_on_this_machine_declares_the_configured_status(probe: ModuleType) -> None:
    (item,) = probe.probe_time_sync("warn", [])

    assert isinstance(item["value"], bool)
    assert item["status"] == ("ok" if item["value"] else "warn")
    assert {"maxerror_us", "esterror_us", "daemon"} <= set(item["details"])


# --- reboot, updates -----------------------------------------------------------------


def test_reboot_marker_and_packages(probe: ModuleType, tmp_path: Path) -> None:
    marker = tmp_path / "reboot-required"

    assert probe.probe_reboot(str(marker))[0]["value"] is False

    marker.write_text("*** System restart required ***\n")
    (tmp_path / "reboot-required.pkgs").write_text("libc6\nlinux-base\nlibc6\n")
    (item,) = probe.probe_reboot(str(marker))

    assert item["value"] is True
    assert item["details"]["packages"] == ["libc6", "linux-base"]
    assert item["message"] == "reboot required by libc6, linux-base"


def test_parse_apt_simulation(probe: ModuleType) -> None:
    text = (DATA / "apt_simulate_upgrade.txt").read_text()
    text += (
        "Inst libssl3 [3.0.2-0ubuntu1.10] (3.0.2-0ubuntu1.12 Ubuntu:22.04/jammy-security [amd64])\n"
    )

    pending, security = probe.parse_apt_simulation(text)

    assert pending == ["bash", "libgcrypt20", "liblzma5", "tzdata", "libssl3"]
    assert security == ["libgcrypt20", "liblzma5", "tzdata", "libssl3"]


def test_parse_check_update(probe: ModuleType) -> None:
    text = (
        "\n"
        "bash.x86_64                          5.1.8-9.el9                         baseos\n"
        "openssl.x86_64                       1:3.0.7-27.el9                      baseos\n"
        "python3-a-rather-long-package-name.noarch\n"
        "                                     1.2-3.el9                           appstream\n"
        "Obsoleting Packages\n"
        "grub2-tools.x86_64                   1:2.06-80.el9                       baseos\n"
    )

    assert probe.parse_check_update(text) == [
        "bash",
        "openssl",
        "python3-a-rather-long-package-name",
    ]


def test_updates_on_this_machine(probe: ModuleType) -> None:
    measurements = probe.isolated_many(
        [("linux.updates.pending", "packages", "packages")], probe.probe_updates
    )

    _assert_shape(measurements)
    assert [item["id"] for item in measurements] in (
        ["linux.updates.pending", "linux.updates.security"],
        ["linux.updates.pending"],
    )
    if "error" not in measurements[0]:
        assert measurements[1]["value"] <= measurements[0]["value"]


# --- certificates --------------------------------------------------------------------


def test_parse_enddate_and_days_until(probe: ModuleType) -> None:
    text = "notAfter=Mar  1 12:00:00 2030 GMT\nsubject=CN = web01.example\n"
    now = datetime.datetime(2030, 2, 19, 0, 0, tzinfo=UTC)

    not_after = probe.parse_enddate(text)

    assert not_after == datetime.datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
    assert probe.days_until(not_after, now) == 10.5
    assert probe.parse_subject(text) == "CN = web01.example"
    with pytest.raises(ValueError, match="no notAfter"):
        probe.parse_enddate("unable to load certificate\n")


def test_certificate_format(probe: ModuleType) -> None:
    assert probe.certificate_format(b"-----BEGIN CERTIFICATE-----\nMIIB") == "PEM"
    assert probe.certificate_format(b"-----BEGIN PRIVATE KEY-----\nMIIE") is None
    assert probe.certificate_format(b"\x30\x82\x01\x0a") == "DER"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl binary")
def test_certificates_made_with_openssl(probe: ModuleType, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "10",
            "-subj", "/CN=web01.lab", "-keyout", str(certs / "web01.key.pem"),
            "-out", str(certs / "web01.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-in", str(certs / "web01.pem"), "-outform", "DER",
         "-out", str(certs / "web01.cer")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (certs / "broken.crt").write_bytes(b"not a certificate")
    (certs / "notes.txt").write_text("ignored")
    os.symlink(certs / "web01.pem", certs / "alias.pem")
    now = datetime.datetime.now(UTC)

    measurements = probe.probe_certificates([str(certs), str(tmp_path / "missing")], now)

    by_subject = {Path(item["subject"]).name: item for item in measurements}
    assert set(by_subject) == {"alias.pem", "broken.crt", "web01.cer"}
    for name in ("alias.pem", "web01.cer"):
        assert 9.9 < by_subject[name]["value"] <= 10
        assert by_subject[name]["unit"] == "days"
        assert by_subject[name]["details"]["subject"] == "CN = web01.lab"
    assert "openssl cannot read the certificate" in by_subject["broken.crt"]["error"]
    _assert_shape(measurements)


# --- failed logins -------------------------------------------------------------------


def _utmp(ut_type: int, seconds: int, host: bytes = b"") -> bytes:
    record = bytearray(384)
    struct.pack_into("=h", record, 0, ut_type)
    struct.pack_into("=i", record, 340, seconds)
    record[76 : 76 + len(host)] = host
    return bytes(record)


def test_parse_btmp_counts_records_in_the_window(probe: ModuleType) -> None:
    now = 1_700_000_000
    data = (
        _utmp(6, now - 60, b"203.0.113.9")
        + _utmp(6, now - 3600, b"203.0.113.9")
        + _utmp(7, now - 7200, b"198.51.100.4")
        + _utmp(6, now - 90_000, b"203.0.113.9")  # older than 24 hours
        + _utmp(0, now - 10)  # an empty slot
        + b"\0" * 100  # a record cut short by a crash
    )

    count, hosts = probe.parse_btmp(data, now - 24 * 3600)

    assert count == 3
    assert dict(hosts) == {"203.0.113.9": 2, "198.51.100.4": 1}


def test_parse_auth_log_classic_and_iso_stamps(probe: ModuleType) -> None:
    now = datetime.datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    log = (
        "Jan  1 09:00:01 web sshd[1]: Failed password for root from 203.0.113.9 port 4 ssh2\n"
        "Jan  1 09:30:00 web sshd[1]: Accepted password for ops from 10.0.0.1 port 5 ssh2\n"
        "Dec 31 12:00:00 web sshd[1]: Failed password for invalid user a from 203.0.113.9"
        " port 6 ssh2\n"
        "Dec 30 09:00:00 web sshd[1]: Failed password for root from 203.0.113.9 port 7 ssh2\n"
        "2025-01-01T08:59:00.123+00:00 web sshd[2]: Failed password for root from"
        " 198.51.100.4 port 8 ssh2\n"
        "garbage line with Failed password but no stamp\n"
    )

    count, hosts = probe.parse_auth_log(log, now, 24)

    assert count == 3
    assert dict(hosts) == {"203.0.113.9": 2, "198.51.100.4": 1}


def test_failed_logins_on_this_machine(probe: ModuleType) -> None:
    measurements = probe.isolated(
        "linux.auth.failed_logins", "logins", "logins", lambda: probe.probe_failed_logins(24)
    )

    _assert_shape(measurements)
    if "error" not in measurements[0]:
        assert measurements[0]["value"] >= 0


# --- isolation and the whole run ------------------------------------------------------


def test_a_failing_probe_becomes_an_error_measurement(probe: ModuleType) -> None:
    def broken() -> list[dict[str, Any]]:
        raise FileNotFoundError(2, "No such file or directory", "/proc/loadavg")

    def slow() -> list[dict[str, Any]]:
        raise subprocess.TimeoutExpired(["apt-get", "-s", "upgrade"], 60)

    (item,) = probe.isolated("linux.load.per_core", "cpu", "", broken)
    pending, security = probe.isolated_many(
        [
            ("linux.updates.pending", "packages", "packages"),
            ("linux.updates.security", "packages", "packages"),
        ],
        slow,
    )

    assert item == {
        "id": "linux.load.per_core",
        "subject": "cpu",
        "value": None,
        "unit": "",
        "error": "No such file or directory: /proc/loadavg",
    }
    assert (
        pending["error"] == security["error"] == "command timed out after 60 s: apt-get -s upgrade"
    )


PARAMS = {
    "required_services": ["opskeeper-no-such-service"],
    "required_processes": ["opskeeper-no-such-process"],
    "required_ports": [1],
    "cert_paths": ["/nonexistent/opskeeper"],
    "failed_login_window_hours": 24,
    "mount_exclude": [],
    "time_sync_status": "warn",
}


def test_run_probes_in_process_measures_everything(probe: ModuleType) -> None:
    measurements = probe.run_probes(PARAMS)

    _assert_shape(measurements)
    assert {item["id"] for item in measurements} >= ALWAYS_MEASURED
    required = {
        item["id"]: item["value"]
        for item in measurements
        if item["id"]
        in ("linux.service.required", "linux.process.required", "linux.port.listening")
    }
    assert required == {
        "linux.service.required": False,
        "linux.process.required": False,
        "linux.port.listening": False,
    }
    json.dumps(measurements)


def test_module_runs_through_ansible_against_this_machine(
    tmp_path: Path, ansible_env: dict[str, str], target_python: str
) -> None:
    args = json.dumps(PARAMS | {"required_processes": ["opskeeper-no-such-process", "ansible"]})

    proc = subprocess.run(
        [
            "ansible", "localhost", "-i", "localhost,", "-c", "local", "--check",
            "-m", "opskeeper_linux_probe", "-a", args,
            "-e", f"ansible_python_interpreter={target_python}",
        ],
        cwd=REPO,
        env=ansible_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index("{") :])
    assert result["changed"] is False
    assert result["probe_seconds"] > 0
    measurements = result["measurements"]
    _assert_shape(measurements)
    assert {item["id"] for item in measurements} >= ALWAYS_MEASURED
    processes = {
        item["subject"]: item["value"]
        for item in measurements
        if item["id"] == "linux.process.required"
    }
    # The ansible command that started the module is a process on this host.
    assert processes == {"opskeeper-no-such-process": False, "ansible": True}


# --- census --------------------------------------------------------------------------

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
# a comment=ignored
"""

IP_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever
2: eth0    inet6 fe80::fc:ff:fe00:1/64 scope link \\       valid_lft forever preferred_lft forever
3: eth1    inet 192.0.2.2/24 scope global secondary eth1
"""


def test_os_release_pairs_lose_their_quotes(probe: ModuleType) -> None:
    values = probe.parse_os_release(OS_RELEASE)
    assert values["ID"] == "debian" and values["VERSION_ID"] == "12"
    assert values["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert "# a comment" not in values


def test_ip_addresses_without_prefixes_once_each(probe: ModuleType) -> None:
    assert probe.parse_ip_addresses(IP_ADDR) == [
        "127.0.0.1",
        "::1",
        "192.0.2.2",
        "fe80::fc:ff:fe00:1",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("192.0.2.50 51234 127.0.10.2 2222", "127.0.10.2"),
        ("", None),
        ("garbage", None),
    ],
)
def test_the_address_an_ssh_session_arrived_on(
    probe: ModuleType, value: str, expected: str | None
) -> None:
    assert probe.ssh_server_address({"SSH_CONNECTION": value}) == expected


def test_census_of_this_machine(probe: ModuleType) -> None:
    census = probe.read_census({"SSH_CONNECTION": "192.0.2.50 51234 127.0.10.77 2222"})
    assert census["hostname"] == socket.gethostname()
    assert census["cpus"] == os.cpu_count()
    assert census["memory_mb"] > 0
    assert census["os"] == probe.parse_os_release(Path("/etc/os-release").read_text())["ID"]
    assert census["addresses"][-1] == "127.0.10.77"
