#!/usr/bin/python
"""Measure a Linux host for Opskeeper's nightly inspection in one module execution.

Each probe below is a pure parsing function (text or bytes in, numbers out) plus a thin
reader that fetches the text. Probes are isolated from one another: an exception in one
becomes a measurement with ``error`` set, and the others still run. The module only
reads; judging happens on the controller (action plugin ``opskeeper_check``).

Targets have only the Python standard library, and may run an older Python 3 than the
controller: no third-party imports, and annotations stay strings (PEP 563).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime
import functools
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: opskeeper_linux_probe
short_description: Gather every inspection measurement of a Linux host in one run
description:
  - Reads load, memory, swap, disk and inode usage, failed and required services, required
    processes and listening ports, clock synchronisation, uptime, pending reboot, pending
    updates, certificate expiry, failed logins and zombie processes.
  - Returns measurements only; the action plugin C(opskeeper_check) judges them against
    thresholds on the controller.
  - Read-only. Needs nothing on the host but Python 3's standard library; certificate
    expiry uses the C(openssl) binary, pending updates C(apt-get) or C(dnf)/C(yum).
  - A probe that fails yields a measurement with C(error) set; the other probes still run.
version_added: "0.1.0"
author: Opskeeper
options:
  required_services:
    description: Services that must be active (C(systemctl is-active), or C(service NAME status)).
    type: list
    elements: str
    default: []
  required_processes:
    description:
      - Process names that must be running, matched against C(/proc/PID/comm) and the base
        name of the first two words of C(/proc/PID/cmdline).
    type: list
    elements: str
    default: []
  required_ports:
    description:
      - TCP ports that must be listening. A port counts only when a process visible in this
        host's C(/proc) owns the listening socket; without the right to read other
        processes' file descriptors any listener counts, and the measurement says so.
    type: list
    elements: int
    default: []
  cert_paths:
    description:
      - Certificate files, or directories whose C(*.pem), C(*.crt) and C(*.cer) files are
        read (not recursively). Paths that do not exist yield no measurement; PEM files that
        hold no certificate (keys, requests) are skipped.
    type: list
    elements: path
    default: []
  failed_login_window_hours:
    description: Count failed logins of this many past hours.
    type: int
    default: 24
  mount_exclude:
    description: Mount points, or prefixes of mount points, to leave out of disk measurements.
    type: list
    elements: str
    default: []
  time_sync_status:
    description:
      - The status the probe declares for an unsynchronised clock. Thresholds for
        C(linux.time.sync), when given to C(opskeeper_check), take precedence.
    type: str
    choices: [fail, warn]
    default: fail
  census_only:
    description:
      - Return only the census (what the host says about itself), no measurements. The
        census is returned either way; C(opskeeper cmdb reconcile) uses this to compare the
        CMDB's records with the hosts without running the checks.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
notes:
  - Check ids; C(subject) in brackets -
    C(linux.load.per_core) (cpu), C(linux.memory.usage) (memory), C(linux.swap.usage) (swap),
    C(linux.disk.usage) and C(linux.disk.inodes) (mount point), C(linux.service.failed)
    (services), C(linux.service.required) (service), C(linux.process.required) (process),
    C(linux.port.listening) (PORT/tcp), C(linux.time.sync) (clock), C(linux.uptime) (system),
    C(linux.reboot.required) (system), C(linux.updates.pending) and
    C(linux.updates.security) (packages), C(linux.cert.expiry) (file),
    C(linux.auth.failed_logins) (logins), C(linux.process.zombies) (processes).
"""

EXAMPLES = r"""
- name: Measure the host
  opskeeper_linux_probe:
    required_services: [ssh]
    required_ports: [22]
    cert_paths: [/etc/ssl/certs/opskeeper]
  register: probe

- name: Judge the measurements
  opskeeper_check:
    measurements: "{{ probe.measurements }}"
    thresholds:
      linux.disk.usage: {warn: 80, fail: 90}
"""

RETURN = r"""
opskeeper_census:
  description:
    - What the host says about itself, for comparing with its CMDB record. C(os) and
      C(os_version) from C(/etc/os-release) (Debian's point release from
      C(/etc/debian_version)), C(cpus), C(memory_mb) from C(/proc/meminfo), C(serial),
      C(vendor) and C(model) from C(/sys/class/dmi/id) when readable, C(hostname), and
      C(addresses) - the interface addresses (C(ip -o addr)) plus the address the SSH
      connection arrived on. A fact that cannot be read is left out.
  returned: always
  type: dict
  sample: {os: debian, os_version: "12.7", cpus: 4, memory_mb: 15892, serial: 4QW9E22,
           vendor: Dell Inc., model: PowerEdge R650, hostname: web01,
           addresses: [192.0.2.10, "fe80::1"]}
measurements:
  description:
    - One entry per measurement. C(id) is the check id, C(subject) what was measured (a
      mount point, a service, a file), C(value) a number, boolean or list, C(unit) its unit,
      C(message) what was seen. C(error) is set when the value could not be measured,
      C(status) when the probe judged it itself (C(linux.time.sync)), C(details) holds
      extra facts (device, daemon, package names ...).
  returned: always
  type: list
  elements: dict
  sample:
    - id: linux.disk.usage
      subject: /
      value: 41.3
      unit: "%"
      message: 41.3 % used on /
      details: {device: /dev/vda, fstype: ext4, size_bytes: 52710469632, avail_bytes: 29303320576}
    - id: linux.updates.pending
      subject: packages
      value: null
      unit: packages
      error: neither apt-get nor dnf/yum found
probe_seconds:
  description: Wall time the probes took.
  returned: always
  type: float
  sample: 1.42
"""

PSEUDO_FS = frozenset(
    {
        "proc",
        "sysfs",
        "devtmpfs",
        "devpts",
        "mqueue",
        "debugfs",
        "tracefs",
        "securityfs",
        "pstore",
        "bpf",
        "autofs",
        "fusectl",
        "configfs",
        "hugetlbfs",
        "binfmt_misc",
        "nsfs",
        "rpc_pipefs",
    }
)
# tmpfs and overlay hold real data (/tmp, a container's root) except below these.
VOLATILE_PREFIXES = ("/dev", "/run", "/sys", "/proc")
VOLATILE_FS = frozenset({"tmpfs", "overlay"})

TIME_ERROR = 5
STA_UNSYNC = 0x0040
TIME_DAEMONS = {
    "chronyd": "chronyd",
    "ntpd": "ntpd",
    "systemd-timesyn": "systemd-timesyncd",
    "systemd-timesyncd": "systemd-timesyncd",
    "openntpd": "openntpd",
}

UTMP_RECORD = 384
UTMP_TYPE_OFFSET = 0
UTMP_HOST_OFFSET = 76
UTMP_HOST_SIZE = 256
UTMP_TIME_OFFSET = 340

SYSV_SKIP = frozenset({"README", "skeleton", "rc", "rcS", "functions", "halt", "reboot"})
STATUS_ACTION = re.compile(r"^\s*[\w|\-\"']*\bstatus\b[\w|\-\"']*\)", re.MULTILINE)
LISTEN = "0A"

COMMAND_TIMEOUT = 60
MAX_NAMES = 50


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


class Process(NamedTuple):
    pid: int
    comm: str
    argv: list[str]
    state: str


class Listener(NamedTuple):
    address: str
    port: int
    inode: int


# --- shared helpers ------------------------------------------------------------------


def format_number(number: float) -> str:
    """Format a number for a message: at most two decimals, no trailing zeros."""
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def measurement(
    check_id: str,
    subject: str,
    value: Any,
    unit: str = "",
    message: str = "",
    details: dict[str, Any] | None = None,
    error: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """Build one measurement in the shape ``opskeeper_check`` judges."""
    result: dict[str, Any] = {"id": check_id, "subject": subject, "value": value, "unit": unit}
    if message:
        result["message"] = message
    if details:
        result["details"] = details
    if error is not None:
        result["error"] = error
    if status is not None:
        result["status"] = status
    return result


def read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def command_env() -> dict[str, str]:
    env = dict(os.environ, LANG="C", LC_ALL="C")
    env["PATH"] = env.get("PATH", "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
    return env


def which(name: str) -> str | None:
    return shutil.which(name, path=command_env()["PATH"])


def run(argv: list[str], timeout: int = COMMAND_TIMEOUT) -> tuple[int, str, str]:
    """Run a command without a shell and return (rc, stdout, stderr)."""
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        errors="replace",
        env=command_env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- load, memory, swap, uptime ------------------------------------------------------


def load_per_core(loadavg_text: str, cpus: int) -> float:
    """Return the 5-minute load average divided by the CPU count."""
    load5 = float(loadavg_text.split()[1])
    return round(load5 / max(cpus, 1), 2)


def parse_meminfo(text: str) -> dict[str, int]:
    """Parse /proc/meminfo into kB values by field name."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            fields[name.strip()] = int(words[0])
    return fields


def memory_usage(meminfo: dict[str, int]) -> float:
    """Percent of memory in use; MemAvailable, or its pre-3.14 kernel approximation."""
    total = meminfo["MemTotal"]
    if "MemAvailable" in meminfo:
        available = meminfo["MemAvailable"]
    else:
        available = meminfo.get("MemFree", 0) + meminfo.get("Buffers", 0)
        available += meminfo.get("Cached", 0)
    return round((total - available) * 100.0 / total, 2)


def swap_usage(meminfo: dict[str, int]) -> float:
    """Percent of swap in use, 0 when the host has no swap."""
    total = meminfo.get("SwapTotal", 0)
    if total <= 0:
        return 0.0
    return round((total - meminfo.get("SwapFree", 0)) * 100.0 / total, 2)


def uptime_days(uptime_text: str) -> float:
    return round(float(uptime_text.split(maxsplit=1)[0]) / 86400.0, 2)


def probe_load() -> list[dict[str, Any]]:
    cpus = os.cpu_count() or 1
    text = read_text("/proc/loadavg")
    value = load_per_core(text, cpus)
    load5 = text.split()[1]
    message = f"5-minute load {load5} on {cpus} CPUs: {format_number(value)} per core"
    return [measurement("linux.load.per_core", "cpu", value, "", message, {"cpus": cpus})]


def probe_memory() -> list[dict[str, Any]]:
    meminfo = parse_meminfo(read_text("/proc/meminfo"))
    used = memory_usage(meminfo)
    swap = swap_usage(meminfo)
    swap_total = meminfo.get("SwapTotal", 0)
    swap_message = (
        f"{format_number(swap)} % of swap used" if swap_total else "no swap configured, 0 % used"
    )
    return [
        measurement(
            "linux.memory.usage",
            "memory",
            used,
            "%",
            f"{format_number(used)} % of memory used",
            {"total_kb": meminfo["MemTotal"]},
        ),
        measurement("linux.swap.usage", "swap", swap, "%", swap_message, {"total_kb": swap_total}),
    ]


def probe_uptime() -> list[dict[str, Any]]:
    days = uptime_days(read_text("/proc/uptime"))
    return [measurement("linux.uptime", "system", days, "days", f"up {format_number(days)} days")]


# --- disks ---------------------------------------------------------------------------


def _unescape_mount_field(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in mount fields as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def parse_mounts(text: str) -> list[Mount]:
    """Parse /proc/self/mounts (or /proc/mounts) in order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            mounts.append(
                Mount(
                    _unescape_mount_field(fields[0]),
                    _unescape_mount_field(fields[1]),
                    fields[2],
                )
            )
    return mounts


def _under(path: str, prefix: str) -> bool:
    if prefix == "/":
        return path == "/"
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def select_mounts(mounts: list[Mount], exclude: list[str]) -> list[Mount]:
    """Keep the mounts that hold real data, once each, minus the excluded ones.

    A mount point listed twice shows its last mount (the one on top). A device mounted
    at several places (bind mounts) is measured once, at its first mount point.
    """
    top: dict[str, Mount] = {}
    for mount in mounts:
        top.pop(mount.mountpoint, None)
        top[mount.mountpoint] = mount

    selected: list[Mount] = []
    seen_devices: set[tuple[str, str]] = set()
    for mount in top.values():
        fstype = mount.fstype
        if fstype in PSEUDO_FS or fstype.startswith("cgroup"):
            continue
        if fstype in VOLATILE_FS and any(
            _under(mount.mountpoint, prefix) for prefix in VOLATILE_PREFIXES
        ):
            continue
        if any(_under(mount.mountpoint, prefix) for prefix in exclude):
            continue

        if mount.device.startswith("/"):
            key = (mount.device, fstype)
            if key in seen_devices:
                continue
            seen_devices.add(key)
        selected.append(mount)
    return selected


def disk_usage(f_blocks: int, f_bfree: int, f_bavail: int) -> float | None:
    """Percent used as df shows it (blocks reserved for root count as unavailable)."""
    used = f_blocks - f_bfree
    usable = used + f_bavail
    if f_blocks <= 0 or usable <= 0:
        return None
    return round(used * 100.0 / usable, 2)


def inode_usage(f_files: int, f_ffree: int) -> float | None:
    """Percent of inodes used; None for file systems without an inode table."""
    if f_files <= 0:
        return None
    return round((f_files - f_ffree) * 100.0 / f_files, 2)


def _measure_mount(mount: Mount) -> list[dict[str, Any]]:
    stat = os.statvfs(mount.mountpoint)
    results = []
    used = disk_usage(stat.f_blocks, stat.f_bfree, stat.f_bavail)
    if used is not None:
        details = {
            "device": mount.device,
            "fstype": mount.fstype,
            "size_bytes": stat.f_blocks * stat.f_frsize,
            "avail_bytes": stat.f_bavail * stat.f_frsize,
        }
        results.append(
            measurement(
                "linux.disk.usage",
                mount.mountpoint,
                used,
                "%",
                f"{format_number(used)} % used on {mount.mountpoint}",
                details,
            )
        )

    inodes = inode_usage(stat.f_files, stat.f_ffree)
    if inodes is not None:
        results.append(
            measurement(
                "linux.disk.inodes",
                mount.mountpoint,
                inodes,
                "%",
                f"{format_number(inodes)} % of inodes used on {mount.mountpoint}",
                {"device": mount.device, "fstype": mount.fstype, "inodes": stat.f_files},
            )
        )
    return results


def probe_disks(exclude: list[str]) -> list[dict[str, Any]]:
    mounts = select_mounts(parse_mounts(read_text("/proc/self/mounts")), exclude)
    results: list[dict[str, Any]] = []
    for mount in mounts:
        results.extend(
            isolated(
                "linux.disk.usage", mount.mountpoint, "%", functools.partial(_measure_mount, mount)
            )
        )
    return results


# --- processes -----------------------------------------------------------------------


def parse_stat(text: str) -> tuple[int, str, str]:
    """Return (pid, comm, state) from /proc/PID/stat.

    The command name sits in parentheses and may itself contain spaces and parentheses,
    so the state is the first field after the *last* closing parenthesis.
    """
    pid_text, _, rest = text.partition(" (")
    comm, _, after = rest.rpartition(")")
    return int(pid_text), comm, after.split()[0]


def read_processes(proc: str = "/proc") -> list[Process]:
    """Snapshot every process visible in ``proc``; processes that vanish are skipped."""
    own = os.getpid()
    processes = []
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) == own:
            continue
        base = os.path.join(proc, entry)
        try:
            pid, comm, state = parse_stat(read_text(os.path.join(base, "stat")))
            with open(os.path.join(base, "cmdline"), "rb") as handle:
                raw = handle.read()
        except (OSError, ValueError, IndexError):
            continue
        with contextlib.suppress(OSError):
            comm = read_text(os.path.join(base, "comm")).rstrip("\n")
        argv = [arg.decode("utf-8", "replace") for arg in raw.split(b"\0") if arg]
        processes.append(Process(pid, comm, argv, state))
    return processes


def process_matches(name: str, process: Process) -> bool:
    """Whether ``process`` runs program ``name`` (comm is cut to 15 characters)."""
    if process.comm in (name, name[:15]):
        return True
    # An interpreter runs the program as its first argument (python3 /usr/bin/name).
    return any(os.path.basename(arg) == name for arg in process.argv[:2])


def count_zombies(processes: list[Process]) -> list[int]:
    return sorted(process.pid for process in processes if process.state == "Z")


def probe_required_processes(names: list[str], processes: list[Process]) -> list[dict[str, Any]]:
    results = []
    for name in names:
        pids = sorted(process.pid for process in processes if process_matches(name, process))
        message = (
            f"process {name} is running, {len(pids)} found"
            if pids
            else f"process {name} is not running"
        )
        results.append(
            measurement(
                "linux.process.required",
                name,
                bool(pids),
                "",
                message,
                {"count": len(pids), "pids": pids[:10]},
            )
        )
    return results


def probe_zombies(processes: list[Process]) -> list[dict[str, Any]]:
    pids = count_zombies(processes)
    return [
        measurement(
            "linux.process.zombies",
            "processes",
            len(pids),
            "processes",
            f"{len(pids)} zombie processes",
            {"pids": pids[:20]} if pids else None,
        )
    ]


# --- services ------------------------------------------------------------------------


def systemd_running() -> bool:
    # The check sd_booted() makes: this directory exists only when systemd is PID 1.
    return os.path.isdir("/run/systemd/system")


def parse_systemctl_failed(text: str) -> list[str]:
    """Unit names from ``systemctl list-units --state=failed --plain --no-legend``."""
    names = []
    for line in text.splitlines():
        words = line.replace("\u25cf", " ").split()
        if words:
            names.append(words[0])
    return sorted(set(names))


def implements_status(script_text: str) -> bool:
    """Whether an init script has a ``status`` action (others print usage and exit 1)."""
    return bool(STATUS_ACTION.search(script_text))


def parse_runlevel(text: str) -> str | None:
    """The current runlevel from ``runlevel`` output (``N 2``), or None when unknown."""
    words = text.split()
    if len(words) == 2 and words[1] not in ("unknown", "N"):
        return words[1]
    return None


def enabled_scripts(rc_dir_entries: list[str]) -> set[str]:
    """Scripts started in a runlevel, from the S-links of /etc/rcN.d."""
    return {entry[3:] for entry in rc_dir_entries if re.match(r"^S\d\d[^.]", entry) is not None}


def sysv_failed(statuses: dict[str, int], enabled: set[str] | None) -> list[str]:
    """Failed sysv services from LSB status codes.

    1 and 2 mean dead although a pid or lock file remains. With a real sysv init
    (``enabled`` given), a script started in this runlevel that is not running (3) failed too.
    """
    failed = {name for name, rc in statuses.items() if rc in (1, 2)}
    if enabled is not None:
        failed |= {name for name, rc in statuses.items() if rc == 3 and name in enabled}
    return sorted(failed)


def is_sysv_init(pid1_comm: str, pid1_exe: str) -> bool:
    return pid1_comm.strip() == "init" and "systemd" not in pid1_exe


def _init_scripts(init_dir: str = "/etc/init.d") -> dict[str, str]:
    scripts: dict[str, str] = {}
    if not os.path.isdir(init_dir):
        return scripts
    for name in sorted(os.listdir(init_dir)):
        path = os.path.join(init_dir, name)
        if name in SYSV_SKIP or name.startswith(".") or ".dpkg-" in name:
            continue
        if os.path.isfile(path) and os.access(path, os.X_OK):
            scripts[name] = path
    return scripts


def _sysv_enabled() -> set[str] | None:
    try:
        comm = read_text("/proc/1/comm")
    except OSError:
        return None
    try:
        exe = os.readlink("/proc/1/exe")
    except OSError:
        exe = os.path.realpath("/sbin/init")
    if not is_sysv_init(comm, exe) or not which("runlevel"):
        return None

    _, out, _ = run(["runlevel"])
    level = parse_runlevel(out)
    rc_dir = f"/etc/rc{level}.d"
    if level is None or not os.path.isdir(rc_dir):
        return None
    return enabled_scripts(os.listdir(rc_dir))


def probe_failed_services() -> list[dict[str, Any]]:
    if systemd_running():
        rc, out, err = run(["systemctl", "list-units", "--state=failed", "--plain", "--no-legend"])
        if rc != 0:
            raise RuntimeError(f"systemctl list-units failed (rc {rc}): {last_line(err)}")
        failed, manager = parse_systemctl_failed(out), "systemd"
    else:
        statuses = {}
        for name, path in _init_scripts().items():
            if implements_status(read_text(path)):
                statuses[name] = run([path, "status"], timeout=20)[0]
        failed, manager = sysv_failed(statuses, _sysv_enabled()), "sysv"

    message = (
        f"{len(failed)} failed services: {', '.join(failed)}" if failed else "no failed services"
    )
    return [
        measurement(
            "linux.service.failed", "services", failed, "", message, {"service_manager": manager}
        )
    ]


def _service_state(name: str) -> tuple[bool, str]:
    if systemd_running():
        rc, out, _ = run(["systemctl", "is-active", name], timeout=20)
        state = out.strip() or f"rc {rc}"
        return rc == 0, f"systemctl is-active says {state}"

    if which("service"):
        rc, _, _ = run(["service", name, "status"], timeout=20)
        return rc == 0, f"service {name} status gave rc {rc}"

    script = os.path.join("/etc/init.d", name)
    if not os.path.exists(script):
        return False, "no such service"
    rc, _, _ = run([script, "status"], timeout=20)
    return rc == 0, f"{script} status gave rc {rc}"


def probe_required_service(name: str) -> list[dict[str, Any]]:
    active, how = _service_state(name)
    state = "active" if active else "not active"
    return [
        measurement("linux.service.required", name, active, "", f"service {name} is {state}: {how}")
    ]


# --- ports ---------------------------------------------------------------------------


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc/net/tcp prints each 32-bit word in host (little-endian) order.
    words = [raw[index : index + 4][::-1] for index in range(0, len(raw), 4)]
    packed = b"".join(words)
    if len(packed) == 4:
        return ".".join(str(byte) for byte in packed)
    groups = [f"{int.from_bytes(packed[i : i + 2], 'big'):x}" for i in range(0, 16, 2)]
    text = ":".join(groups)
    return re.sub(r"(^|:)0(:0)+(:|$)", "::", text, count=1)


def parse_proc_net_tcp(text: str) -> list[Listener]:
    """Listening sockets from /proc/net/tcp or /proc/net/tcp6."""
    listeners = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN:
            continue
        address, _, port = fields[1].partition(":")
        listeners.append(Listener(_decode_address(address), int(port, 16), int(fields[9])))
    return listeners


def parse_socket_link(target: str) -> int | None:
    match = re.match(r"^socket:\[(\d+)\]$", target)
    return int(match.group(1)) if match else None


def socket_inodes(proc: str = "/proc") -> tuple[set[int], int]:
    """Socket inodes owned by processes visible in ``proc``, and how many processes hid theirs."""
    inodes: set[int] = set()
    hidden = 0
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        fd_dir = os.path.join(proc, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            hidden += 1
            continue
        except OSError:
            continue
        for fd in fds:
            try:
                inode = parse_socket_link(os.readlink(os.path.join(fd_dir, fd)))
            except OSError:
                continue
            if inode is not None:
                inodes.add(inode)
    return inodes, hidden


def judge_port(
    port: int, listeners: list[Listener], owned: set[int], hidden: int
) -> tuple[bool, list[str], bool]:
    """Return (listening, addresses, fallback) for one port.

    Lab hosts share one network namespace, so a listener counts only when one of this
    host's processes owns its socket. When some processes' descriptors cannot be read,
    any listener counts (``fallback``).
    """
    on_port = [listener for listener in listeners if listener.port == port]
    mine = sorted({listener.address for listener in on_port if listener.inode in owned})
    if mine:
        return True, mine, False
    if hidden and on_port:
        return True, sorted({listener.address for listener in on_port}), True
    return False, [], bool(hidden)


def probe_ports(ports: list[int]) -> list[dict[str, Any]]:
    listeners: list[Listener] = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        if os.path.exists(path):
            listeners.extend(parse_proc_net_tcp(read_text(path)))
    owned, hidden = socket_inodes()

    results = []
    for port in ports:
        listening, addresses, fallback = judge_port(port, listeners, owned, hidden)
        if listening:
            message = f"port {port}/tcp is listening on {', '.join(addresses)}"
        else:
            message = f"nothing listens on port {port}/tcp"
        details: dict[str, Any] = {"addresses": addresses, "fallback": fallback}
        if fallback:
            message += (
                f"; the sockets of {hidden} processes could not be read (not root),"
                " so any listener in the network namespace counts"
            )
        results.append(
            measurement("linux.port.listening", f"{port}/tcp", listening, "", message, details)
        )
    return results


# --- time ----------------------------------------------------------------------------


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; ctypes adds the same alignment padding as C.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("reserved", ctypes.c_int * 11),
    ]


def clock_synced(state: int, status: int) -> bool:
    """The kernel's verdict: TIME_ERROR or STA_UNSYNC mean the clock is not disciplined."""
    return state != TIME_ERROR and not status & STA_UNSYNC


def read_adjtimex() -> tuple[int, int, int, int]:
    """Return (clock state, status bits, maxerror µs, esterror µs); modes 0 only reads."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    timex = _Timex()
    state = libc.adjtimex(ctypes.byref(timex))
    if state < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"adjtimex failed: {os.strerror(errno)}")
    return state, timex.status, timex.maxerror, timex.esterror


def time_daemon(processes: list[Process]) -> str | None:
    for process in processes:
        if process.comm in TIME_DAEMONS:
            return TIME_DAEMONS[process.comm]
    return None


def probe_time_sync(status_if_unsynced: str, processes: list[Process]) -> list[dict[str, Any]]:
    state, status, maxerror, esterror = read_adjtimex()
    synced = clock_synced(state, status)
    daemon = time_daemon(processes)
    errors = (
        f"max error {format_number(maxerror / 1e6)} s,"
        f" estimated error {format_number(esterror / 1e6)} s"
    )
    message = (
        f"clock {'synchronised' if synced else 'not synchronised'}: {errors},"
        f" {'time daemon ' + daemon if daemon else 'no time daemon running'}"
    )
    details = {
        "clock_state": state,
        "maxerror_us": maxerror,
        "esterror_us": esterror,
        "daemon": daemon,
    }
    verdict = "ok" if synced else status_if_unsynced
    return [measurement("linux.time.sync", "clock", synced, "", message, details, status=verdict)]


# --- reboot, updates -----------------------------------------------------------------


def parse_reboot_packages(text: str) -> list[str]:
    return sorted({line.strip() for line in text.splitlines() if line.strip()})


def probe_reboot(marker: str = "/var/run/reboot-required") -> list[dict[str, Any]]:
    if not os.path.exists(marker):
        return [measurement("linux.reboot.required", "system", False, "", "no reboot required")]

    packages: list[str] = []
    if os.path.exists(marker + ".pkgs"):
        packages = parse_reboot_packages(read_text(marker + ".pkgs"))
    message = "reboot required"
    if packages:
        message += f" by {', '.join(packages[:10])}"
    details = {"packages": packages[:MAX_NAMES]}
    return [measurement("linux.reboot.required", "system", True, "", message, details)]


def parse_apt_simulation(text: str) -> tuple[list[str], list[str]]:
    """Package names of ``Inst`` lines in ``apt-get -s upgrade``, all and security only."""
    pending, security = [], []
    for line in text.splitlines():
        if not line.startswith("Inst "):
            continue
        name = line.split()[1]
        pending.append(name)
        origins = line[line.find("(") :].lower() if "(" in line else ""
        if "-security" in origins:
            security.append(name)
    return pending, security


def parse_check_update(text: str) -> list[str]:
    """Package names listed by ``dnf|yum check-update`` (rc 100 when there are any).

    A long name is printed alone on its line, with version and repository on the next.
    """
    names = []
    wrapped = ""
    for line in text.splitlines():
        if line.startswith(("Obsoleting", "Security:")):
            break
        fields = line.split()
        if line.startswith((" ", "\t")):
            if wrapped and len(fields) == 2:
                names.append(wrapped.rsplit(".", 1)[0])
            wrapped = ""
            continue
        wrapped = fields[0] if len(fields) == 1 and "." in fields[0] else ""
        if len(fields) == 3 and "." in fields[0]:
            names.append(fields[0].rsplit(".", 1)[0])
    return names


def apt_lists_age_days(
    lists_dir: str = "/var/lib/apt/lists", now: float | None = None
) -> float | None:
    """Age of the newest package list: a simulation is only as fresh as its lists."""
    try:
        names = os.listdir(lists_dir)
    except OSError:
        return None
    times = [
        os.path.getmtime(os.path.join(lists_dir, name))
        for name in names
        if "_Packages" in name or name.endswith("Release")
    ]
    if not times:
        return None
    return round(((now or time.time()) - max(times)) / 86400.0, 2)


def _update_measurements(
    manager: str, pending: list[str], security: list[str] | None, details: dict[str, Any]
) -> list[dict[str, Any]]:
    results = [
        measurement(
            "linux.updates.pending",
            "packages",
            len(pending),
            "packages",
            f"{len(pending)} {manager} updates pending",
            dict(details, packages=pending[:MAX_NAMES]),
        )
    ]
    if security is None:
        results.append(
            measurement(
                "linux.updates.security",
                "packages",
                None,
                "packages",
                error=f"{manager} cannot list security updates here",
            )
        )
    else:
        results.append(
            measurement(
                "linux.updates.security",
                "packages",
                len(security),
                "packages",
                f"{len(security)} {manager} security updates pending",
                dict(details, packages=security[:MAX_NAMES]),
            )
        )
    return results


def probe_updates() -> list[dict[str, Any]]:
    if which("apt-get"):
        rc, out, err = run(["apt-get", "-s", "-o", "Debug::NoLocking=1", "upgrade"])
        if rc != 0:
            raise RuntimeError(f"apt-get -s upgrade failed (rc {rc}): {last_line(err)}")
        pending, security = parse_apt_simulation(out)
        return _update_measurements(
            "apt", pending, security, {"lists_age_days": apt_lists_age_days()}
        )

    tool = which("dnf") or which("yum")
    if tool:
        name = os.path.basename(tool)
        # -C: cache only, so the probe neither needs the network nor refreshes metadata.
        rc, out, err = run([tool, "-C", "-q", "check-update"])
        if rc not in (0, 100):
            raise RuntimeError(f"{name} check-update failed (rc {rc}): {last_line(err)}")
        pending = parse_check_update(out)

        rc, out, _ = run([tool, "-C", "-q", "check-update", "--security"])
        security_names = parse_check_update(out) if rc in (0, 100) else None
        return _update_measurements(name, pending, security_names, {})

    raise RuntimeError("neither apt-get nor dnf/yum found")


# --- certificates --------------------------------------------------------------------


def parse_enddate(text: str) -> datetime.datetime:
    """The notAfter time from ``openssl x509 -enddate`` output, in UTC."""
    match = re.search(r"notAfter=(.+)", text)
    if match is None:
        raise ValueError(f"no notAfter in openssl output: {text.strip()!r}")
    stamp = " ".join(match.group(1).split())
    parsed = datetime.datetime.strptime(stamp.replace(" GMT", ""), "%b %d %H:%M:%S %Y")
    return parsed.replace(tzinfo=datetime.timezone.utc)  # noqa: UP017 - targets may run Python < 3.11


def parse_subject(text: str) -> str:
    match = re.search(r"^subject=\s*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def days_until(moment: datetime.datetime, now: datetime.datetime) -> float:
    return round((moment - now).total_seconds() / 86400.0, 2)


def certificate_format(head: bytes) -> str | None:
    """``PEM``, ``DER``, or None for PEM files that hold no certificate (keys, requests)."""
    if b"-----BEGIN" in head:
        return "PEM" if b"CERTIFICATE-----" in head else None
    return "DER"


def collect_cert_files(paths: list[str]) -> list[str]:
    """Files named directly, and *.pem/*.crt/*.cer in named directories; once each."""
    files: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if os.path.isdir(path):
            candidates = [
                os.path.join(path, name)
                for name in sorted(os.listdir(path))
                if name.lower().endswith((".pem", ".crt", ".cer"))
            ]
        elif os.path.exists(path):
            candidates = [path]
        else:
            candidates = []
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if real not in seen and os.path.isfile(real):
                seen.add(real)
                files.append(candidate)
    return files


def probe_certificate(
    path: str, openssl: str | None, now: datetime.datetime
) -> list[dict[str, Any]]:
    with open(path, "rb") as handle:
        form = certificate_format(handle.read())
    if form is None:
        return []
    if openssl is None:
        raise RuntimeError("the openssl binary is not installed")

    rc, out, err = run(
        [openssl, "x509", "-noout", "-enddate", "-subject", "-inform", form, "-in", path]
    )
    if rc != 0:
        raise RuntimeError(f"openssl cannot read the certificate: {last_line(err)}")

    not_after = parse_enddate(out)
    days = days_until(not_after, now)
    when = not_after.strftime("%Y-%m-%d")
    if days >= 0:
        message = f"certificate {path} expires in {format_number(days)} days, on {when}"
    else:
        message = f"certificate {path} expired {format_number(-days)} days ago, on {when}"
    details = {"not_after": not_after.isoformat(), "subject": parse_subject(out)}
    return [measurement("linux.cert.expiry", path, days, "days", message, details)]


def probe_certificates(paths: list[str], now: datetime.datetime) -> list[dict[str, Any]]:
    openssl = which("openssl")
    results: list[dict[str, Any]] = []
    for path in paths:
        try:
            files = collect_cert_files([path])
        except OSError as exc:
            results.append(
                measurement("linux.cert.expiry", path, None, "days", error=error_reason(exc))
            )
            continue

        for name in files:
            results += isolated(
                "linux.cert.expiry",
                name,
                "days",
                functools.partial(probe_certificate, name, openssl, now),
            )
    return results


# --- failed logins -------------------------------------------------------------------


def parse_btmp(data: bytes, since: float) -> tuple[int, Counter[str]]:
    """Count failed-login records at or after ``since`` (epoch seconds) in a btmp file."""
    count = 0
    hosts: Counter[str] = Counter()
    for offset in range(0, len(data) - UTMP_RECORD + 1, UTMP_RECORD):
        record = data[offset : offset + UTMP_RECORD]
        (ut_type,) = struct.unpack_from("=h", record, UTMP_TYPE_OFFSET)
        (seconds,) = struct.unpack_from("=i", record, UTMP_TIME_OFFSET)
        if ut_type == 0 or seconds < since:
            continue
        count += 1
        host = record[UTMP_HOST_OFFSET : UTMP_HOST_OFFSET + UTMP_HOST_SIZE].split(b"\0")[0]
        hosts[host.decode("utf-8", "replace") or "local"] += 1
    return count, hosts


SYSLOG_CLASSIC = re.compile(r"^([A-Z][a-z]{2})\s+(\d{1,2}) (\d\d:\d\d:\d\d) ")
SYSLOG_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s")
FAILED_FROM = re.compile(r"Failed password for .* from (\S+) port")


def _log_time(line: str, now: datetime.datetime) -> datetime.datetime | None:
    iso = SYSLOG_ISO.match(line)
    if iso:
        return datetime.datetime.fromisoformat(iso.group(1).replace("Z", "+00:00"))

    classic = SYSLOG_CLASSIC.match(line)
    if not classic:
        return None
    # Classic syslog stamps have no year and no zone: local time of this year, or of last
    # year when that would put them in the future (a log spanning New Year).
    month, day, clock = classic.groups()
    stamp = datetime.datetime.strptime(f"{now.year} {month} {day} {clock}", "%Y %b %d %H:%M:%S")
    stamp = stamp.replace(tzinfo=now.tzinfo)
    if stamp > now + datetime.timedelta(days=1):
        stamp = stamp.replace(year=now.year - 1)
    return stamp


def parse_auth_log(
    text: str, now: datetime.datetime, window_hours: int
) -> tuple[int, Counter[str]]:
    """Count ``Failed password`` lines of the last ``window_hours`` in an auth log.

    ``now`` must carry the log's time zone (local time for classic syslog stamps).
    """
    since = now - datetime.timedelta(hours=window_hours)
    count = 0
    hosts: Counter[str] = Counter()
    for line in text.splitlines():
        if "Failed password" not in line:
            continue
        stamp = _log_time(line, now)
        if stamp is None or stamp < since:
            continue
        count += 1
        source = FAILED_FROM.search(line)
        hosts[source.group(1) if source else "local"] += 1
    return count, hosts


def probe_failed_logins(window_hours: int) -> list[dict[str, Any]]:
    now = datetime.datetime.now().astimezone()
    since = now.timestamp() - window_hours * 3600
    tried = []
    count: int | None = None
    hosts: Counter[str] = Counter()
    source = ""

    try:
        with open("/var/log/btmp", "rb") as handle:
            count, hosts = parse_btmp(handle.read(), since)
        source = "/var/log/btmp"
    except OSError as exc:
        tried.append(f"/var/log/btmp: {exc.strerror}")

    for log in ("/var/log/auth.log", "/var/log/secure"):
        if count is not None:
            break
        try:
            count, hosts = parse_auth_log(read_text(log), now, window_hours)
            source = log
        except OSError as exc:
            tried.append(f"{log}: {exc.strerror}")

    if count is None:
        raise RuntimeError("no failed-login record readable (" + "; ".join(tried) + ")")

    message = f"{count} failed logins in {source} in the last {window_hours} hours"
    details = {
        "source": source,
        "window_hours": window_hours,
        "top_sources": dict(hosts.most_common(5)),
    }
    return [measurement("linux.auth.failed_logins", "logins", count, "logins", message, details)]


# --- census: what the host says about itself ---------------------------------------

#: DMI strings that firmware leaves when nobody filled them in.
DMI_PLACEHOLDERS = {
    "",
    "none",
    "not specified",
    "to be filled by o.e.m.",
    "default string",
    "system serial number",
    "0123456789",
}


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of os-release(5), quotes removed."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value.strip().strip("\"'")
    return values


def parse_ip_addresses(text: str) -> list[str]:
    """Addresses from C(ip -o addr show), without prefix lengths, in order, once each."""
    found: list[str] = []
    for line in text.splitlines():
        words = line.split()
        for family in ("inet", "inet6"):
            if family in words:
                index = words.index(family) + 1
                if index < len(words):
                    address = words[index].split("/")[0]
                    if address not in found:
                        found.append(address)
    return found


def ssh_server_address(environ: dict[str, str]) -> str | None:
    """The local address an SSH session arrived on (third word of SSH_CONNECTION)."""
    words = environ.get("SSH_CONNECTION", "").split()
    return words[2] if len(words) == 4 else None


def _dmi(name: str) -> str | None:
    try:
        value = read_text(f"/sys/class/dmi/id/{name}").strip()
    except OSError:
        return None
    return None if value.lower() in DMI_PLACEHOLDERS else value


def read_census(environ: dict[str, str]) -> dict[str, Any]:
    """What the host says about itself; facts that cannot be read are left out."""
    census: dict[str, Any] = {"hostname": socket.gethostname()}
    try:
        release = parse_os_release(read_text("/etc/os-release"))
        if release.get("ID"):
            census["os"] = release["ID"]
        if release.get("VERSION_ID"):
            census["os_version"] = release["VERSION_ID"]
        if release.get("ID") == "debian":
            point = read_text("/etc/debian_version").strip()
            if point[:1].isdigit():
                census["os_version"] = point
    except OSError:
        pass
    cpus = os.cpu_count()
    if cpus:
        census["cpus"] = cpus
    with contextlib.suppress(OSError, KeyError):
        census["memory_mb"] = parse_meminfo(read_text("/proc/meminfo"))["MemTotal"] // 1024
    for fact, name in (
        ("serial", "product_serial"),
        ("vendor", "sys_vendor"),
        ("model", "product_name"),
    ):
        value = _dmi(name)
        if value:
            census[fact] = value
    addresses: list[str] = []
    ip = which("ip")
    if ip:
        rc, out, _ = run([ip, "-o", "addr", "show"])
        if rc == 0:
            addresses = parse_ip_addresses(out)
    arrived = ssh_server_address(environ)
    if arrived and arrived not in addresses:
        addresses.append(arrived)
    if addresses:
        census["addresses"] = addresses
    return census


# --- putting it together -------------------------------------------------------------


def error_reason(exc: BaseException) -> str:
    """One line that says why a probe failed, without a traceback."""
    if isinstance(exc, subprocess.TimeoutExpired):
        command = exc.cmd if isinstance(exc.cmd, str) else " ".join(map(str, exc.cmd))
        return f"command timed out after {exc.timeout} s: {command}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return str(exc) or type(exc).__name__


def isolated_many(
    targets: list[tuple[str, str, str]], probe: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Run one probe; if it raises, each (check id, subject, unit) target gets the error."""
    try:
        return probe()
    except Exception as exc:
        reason = error_reason(exc)
    return [
        measurement(check_id, subject, None, unit, error=reason)
        for check_id, subject, unit in targets
    ]


def isolated(
    check_id: str, subject: str, unit: str, probe: Callable[[], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Run one probe; its exception becomes an error measurement instead of a crash."""
    return isolated_many([(check_id, subject, unit)], probe)


def run_probes(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run every probe with the module's options; return all measurements."""
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - targets may run Python < 3.11
    snapshot: list[list[Process]] = []

    def processes() -> list[Process]:
        if not snapshot:
            snapshot.append(read_processes())
        return snapshot[0]

    results: list[dict[str, Any]] = []
    results += isolated("linux.load.per_core", "cpu", "", probe_load)
    results += isolated("linux.memory.usage", "memory", "%", probe_memory)
    results += isolated(
        "linux.disk.usage", "mounts", "%", lambda: probe_disks(params["mount_exclude"])
    )
    results += isolated("linux.service.failed", "services", "", probe_failed_services)
    for name in params["required_services"]:
        results += isolated(
            "linux.service.required", name, "", functools.partial(probe_required_service, name)
        )
    names = params["required_processes"]
    if names:
        results += isolated_many(
            [("linux.process.required", name, "") for name in names],
            lambda: probe_required_processes(names, processes()),
        )
    if params["required_ports"]:
        results += isolated_many(
            [("linux.port.listening", f"{port}/tcp", "") for port in params["required_ports"]],
            lambda: probe_ports(params["required_ports"]),
        )
    results += isolated(
        "linux.time.sync",
        "clock",
        "",
        lambda: probe_time_sync(params["time_sync_status"], processes()),
    )
    results += isolated("linux.uptime", "system", "days", probe_uptime)
    results += isolated("linux.reboot.required", "system", "", probe_reboot)
    results += isolated_many(
        [
            ("linux.updates.pending", "packages", "packages"),
            ("linux.updates.security", "packages", "packages"),
        ],
        probe_updates,
    )
    results += probe_certificates(params["cert_paths"], now)
    results += isolated(
        "linux.auth.failed_logins",
        "logins",
        "logins",
        lambda: probe_failed_logins(params["failed_login_window_hours"]),
    )
    results += isolated(
        "linux.process.zombies", "processes", "processes", lambda: probe_zombies(processes())
    )
    return results


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "required_services": {"type": "list", "elements": "str", "default": []},
            "required_processes": {"type": "list", "elements": "str", "default": []},
            "required_ports": {"type": "list", "elements": "int", "default": []},
            "cert_paths": {"type": "list", "elements": "path", "default": []},
            "failed_login_window_hours": {"type": "int", "default": 24},
            "mount_exclude": {"type": "list", "elements": "str", "default": []},
            "time_sync_status": {"type": "str", "choices": ["fail", "warn"], "default": "fail"},
            "census_only": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    started = time.monotonic()
    measurements = [] if module.params["census_only"] else run_probes(module.params)
    module.exit_json(
        changed=False,
        measurements=measurements,
        opskeeper_census=read_census(dict(os.environ)),
        probe_seconds=round(time.monotonic() - started, 3),
    )


if __name__ == "__main__":
    main()
