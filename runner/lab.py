"""The built-in lab: Debian hosts made of Linux namespaces, overlayfs and chroot, no Docker.

A *lab host* is a debootstrapped Debian bookworm root (the *base*, built once and shared
read-only) under a per-host overlayfs, running in its own mount, UTS and PID namespaces with
tini as PID 1, sshd and cron. Hosts share the machine's kernel, clock and network: host N
listens for SSH on 127.0.10.N, port 2222. Everything the lab keeps lives under
``<state>/lab``: ``base/``, ``ssh/`` (the lab's client key and known_hosts) and
``hosts/<name>/`` (a running host's overlay layers, console log and pid file).

A second lab can run beside the built-in one: ``Lab(state_dir, subnet="127.0.11",
base_dir=...)`` keeps its hosts, keys and lock under its own state folder, puts host N on
127.0.11.N, and lays its overlays over another lab's base without ever writing to it.

The overlay and the other mounts of a host exist only inside the host's mount namespace, so
they disappear with the host's last process; stopping a host discards its changes.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import fcntl
import json
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from runner import config
from runner.errors import LabError
from runner.fsutil import write_atomic
from runner.lab_switches import LabSwitches, SwitchState

log = logging.getLogger(__name__)

DEFAULT_SERVERS = 3
MAX_SERVERS = 200
SSH_PORT = 2222
SUITE = "bookworm"
DEFAULT_SUBNET = "127.0.10"
ADDRESS_PREFIX = f"{DEFAULT_SUBNET}."
SERVER_PREFIX = "lab-srv"

#: Packages debootstrap adds to the minimal base: what Ansible, the inspections and the
#: services of a lab host need.
BASE_PACKAGES = (
    "openssh-server",
    "python3",
    "sudo",
    "tini",
    "iproute2",
    "procps",
    "ca-certificates",
    "cron",
    "openssl",
)

#: Debian packages the controller needs to build and run the lab.
CONTROLLER_PACKAGES = (
    "debootstrap",
    "debian-archive-keyring",
    "util-linux",
    "mount",
    "openssh-client",
)

#: Size of each host's /srv/data tmpfs, cycling by index, and how full it starts (percent,
#: all below 60 %), so that disk checks give different numbers on different hosts.
DATA_SIZES_MB = (32, 48, 64)
DATA_FILL_PERCENT = (20, 45, 30, 55, 10)

SSH_WAIT_SECONDS = 20.0
STOP_WAIT_SECONDS = 5.0
GENERATED_INVENTORY = "assets/generated-servers.yml"

_BASE_MARKER = "etc/opskeeper-lab-base"
_HOST_KEY = "ssh_host_ed25519_key"
_HOST_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SERVER_NAME = re.compile(rf"^{SERVER_PREFIX}(\d+)$")
_SUBNET = re.compile(r"^127\.(\d{1,3})\.(\d{1,3})$")
#: A host gets new mount, UTS and PID namespaces; ``--kill-child`` ties the namespace's
#: PID 1 to unshare, so SIGKILL to unshare ends the host. A build gets no UTS namespace.
_UNSHARE_HOST = ("unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child")
_UNSHARE_PRIVATE = ("unshare", "--mount", "--pid", "--fork", "--kill-child")
_CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: Started host processes of this Python process, kept so that a stopped one is reaped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _reap_at_exit() -> None:
    """Reap the children that were stopped (by this process or another one, such as `lab
    down`) before this process ends; running ones are left to run, as they are meant to."""
    for child in list(_CHILDREN.values()):
        child.poll()


@dataclass(frozen=True)
class LabHostSpec:
    """What defines a lab host: its name, its index N and so its address 127.0.10.N."""

    name: str
    index: int
    address: str
    data_mb: int

    @property
    def fill_mb(self) -> int:
        """Megabytes written to /srv/data at start."""
        percent = DATA_FILL_PERCENT[(self.index - 1) % len(DATA_FILL_PERCENT)]
        return self.data_mb * percent // 100


@dataclass(frozen=True)
class LabHostState:
    """A lab host as seen now: ``pid`` is its ``unshare`` process."""

    spec: LabHostSpec
    pid: int | None
    running: bool
    ssh_ok: bool


@dataclass(frozen=True)
class AptSource:
    """One entry of the machine's apt sources, in either file format."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    origin: str


def require_root() -> None:
    """Raise LabError unless this process runs as root (namespaces and mounts need it)."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root: run `sudo .venv/bin/opskeeper lab up`")


def check_subnet(subnet: str) -> str:
    """Return ``subnet`` if lab hosts can live on it, else raise LabError.

    A subnet is three octets ``127.X.Y``: every 127.x address answers on the loopback
    interface, so host N of the lab listens on ``127.X.Y.N`` without a network namespace.
    """
    match = _SUBNET.match(subnet)
    if match is None or not all(0 <= int(octet) <= 255 for octet in match.groups()):
        raise LabError(
            f"lab subnet {subnet!r} is not a loopback /24: give three octets 127.X.Y, "
            f"e.g. {DEFAULT_SUBNET!r} (hosts get 127.X.Y.N)"
        )
    return subnet


def host_spec(name: str, index: int, subnet: str = DEFAULT_SUBNET) -> LabHostSpec:
    """Return the spec of host ``name`` on ``<subnet>.<index>``; raise LabError if invalid."""
    _check_name(name)
    check_subnet(subnet)
    if not 1 <= index <= 254:
        raise LabError(f"lab host index {index} is out of range: use 1 to 254 ({subnet}.N)")
    data_mb = DATA_SIZES_MB[(index - 1) % len(DATA_SIZES_MB)]
    return LabHostSpec(name=name, index=index, address=f"{subnet}.{index}", data_mb=data_mb)


def _check_name(name: str) -> None:
    if not _HOST_NAME.match(name):
        raise LabError(
            f"lab host name {name!r} is not a valid host name: use lowercase letters, digits "
            "and hyphens (e.g. lab-srv01)"
        )


def server_spec(index: int, subnet: str = DEFAULT_SUBNET) -> LabHostSpec:
    """Return the spec of the lab server number ``index`` (lab-srv01, lab-srv02, ...)."""
    return host_spec(f"{SERVER_PREFIX}{index:02d}", index, subnet)


# Apt sources ---------------------------------------------------------------------------


def parse_one_line_sources(text: str, origin: str = "<text>") -> list[AptSource]:
    """Parse the one-line format (``deb [options] uri suite [component...]``)."""
    sources: list[AptSource] = []
    for line in text.splitlines():
        tokens = line.split("#", 1)[0].split()
        if len(tokens) < 3:
            continue
        kind, rest = tokens[0], tokens[1:]
        if rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            continue
        sources.append(AptSource((kind,), (rest[0],), (rest[1],), tuple(rest[2:]), origin))
    return sources


def parse_deb822_sources(text: str, origin: str = "<text>") -> list[AptSource]:
    """Parse the deb822 format (paragraphs of ``Types:``, ``URIs:``, ``Suites:`` ...)."""
    sources: list[AptSource] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        types = tuple(fields.get("types", "").split())
        uris = tuple(fields.get("uris", "").split())
        suites = tuple(fields.get("suites", "").split())
        if types and uris and suites:
            components = tuple(fields.get("components", "").split())
            sources.append(AptSource(types, uris, suites, components, origin))
    return sources


def read_apt_sources(apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """Read sources.list, then sources.list.d/*.list and *.sources in name order."""
    sources: list[AptSource] = []
    files = [apt_dir / "sources.list"]
    listed = apt_dir / "sources.list.d"
    if listed.is_dir():
        files += sorted(p for p in listed.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if path.suffix == ".sources":
            sources += parse_deb822_sources(text, str(path))
        else:
            sources += parse_one_line_sources(text, str(path))
    return sources


def debian_mirrors(sources: Sequence[AptSource], suite: str = SUITE) -> tuple[str, str | None]:
    """Return (Debian mirror, security mirror or None) for ``suite`` from apt sources.

    The Debian mirror is the first ``deb`` URI that carries ``suite`` with component
    ``main``; the security mirror is the first carrying ``<suite>-security``.
    """
    mirror: str | None = None
    security: str | None = None
    for source in sources:
        if "deb" not in source.types:
            continue
        for uri in source.uris:
            if not uri.startswith(("http://", "https://")):
                continue
            if mirror is None and suite in source.suites and "main" in source.components:
                mirror = uri.rstrip("/")
            if security is None and f"{suite}-security" in source.suites:
                security = uri.rstrip("/")
    if mirror is None:
        raise LabError(
            f"no Debian {suite} mirror in the machine's apt sources (/etc/apt/sources.list, "
            f"/etc/apt/sources.list.d): add `deb http://<mirror>/debian {suite} main` and retry"
        )
    return mirror, security


def _apt_validity_settings() -> list[str]:
    """Return the machine's apt settings that relax Release date checks, to copy into hosts.

    Hosts share the machine's clock; where the machine's apt needs these, so do the hosts'.
    """
    apt_config = shutil.which("apt-config")
    if apt_config is None:
        return []
    dump = subprocess.run([apt_config, "dump"], capture_output=True, text=True, check=False)
    wanted = ("Acquire::Check-Valid-Until", "Acquire::Check-Date")
    return [
        line
        for line in dump.stdout.splitlines()
        if line.split(" ", 1)[0] in wanted and '"false"' in line
    ]


# Inventory -----------------------------------------------------------------------------


def render_server_inventory(servers: int, subnet: str = DEFAULT_SUBNET) -> str:
    """Return CMDB records of lab-srv04..N (assets/lab.yml holds the first three).

    They copy lab-srv03's shape: VMs on the control node with this machine's system facts.
    """
    records = [
        {
            "tag": f"LAB-{100 + spec.index:04d}",
            "name": spec.name,
            "kind": "vm",
            "platform": "linux",
            "description": "Extra lab server",
            "owner": "operations team",
            "department": "IT",
            "criticality": "low",
            "lifecycle": {
                "state": "in_use",
                "history": [{"state": "in_use", "date": "2026-12-01"}],
            },
            "management_address": spec.address,
            "system": {"os": "debian", "os_version": "12", "cpus": 2, "memory_mb": 24576},
            "tags": ["lab_server"],
            "runs_on": "control-node",
        }
        for spec in (server_spec(i, subnet) for i in range(DEFAULT_SERVERS + 1, servers + 1))
    ]
    header = (
        f"# Written by `opskeeper lab up --servers {servers}`; removed by `opskeeper lab down`.\n"
        "# The first three lab servers are in lab.yml.\n"
    )
    return header + yaml.safe_dump({"assets": records}, sort_keys=False)


def write_server_inventory(
    inventory_dir: Path, servers: int, subnet: str = DEFAULT_SUBNET
) -> Path | None:
    """Write or remove ``generated-servers.yml`` so the inventory holds ``servers`` hosts."""
    path = inventory_dir / GENERATED_INVENTORY
    if servers <= DEFAULT_SERVERS:
        path.unlink(missing_ok=True)
        return None
    return write_atomic(path, render_server_inventory(servers, subnet))


# Processes -----------------------------------------------------------------------------


def _cmdline(pid: int) -> list[str]:
    """Return the argv of ``pid``; empty for a zombie or a process that is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _processes() -> Iterator[tuple[int, list[str]]]:
    """Yield (pid, argv) of every live process; zombies have no argv and are left out."""
    for pid in _pids():
        argv = _cmdline(pid)
        if argv:
            yield pid, argv


def _pid_namespace(pid: int) -> str | None:
    """The PID namespace (``pid:[NNN]``) of a live process; None for zombies and the gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") if _cmdline(pid) else None
    except OSError:
        return None


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]


def _run(command: Sequence[str], what: str, timeout: float = 60.0) -> str:
    """Run a local command; raise LabError naming ``what`` with its last error line."""
    try:
        done = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LabError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise LabError(f"{what} failed (exit {done.returncode}): {detail[0]}")
    return done.stdout


def _keygen(path: Path, comment: str, what: str) -> None:
    """Generate an ed25519 key pair without passphrase (RSA takes seconds under load)."""
    argv = ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)]
    _run(argv, f"ssh-keygen for {what}")


def _require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LabError(f"`{name}` is not installed: run `apt-get install {package}`")
    return path


def _banner(address: str, timeout: float) -> bool:
    """True when an SSH server answers on ``address``:2222 with its banner."""
    try:
        with socket.create_connection((address, SSH_PORT), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _port_free(address: str) -> bool:
    """True when nothing listens on ``address``:2222 (nor on 0.0.0.0:2222)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, SSH_PORT))
        except OSError:
            return False
    return True


def _sudo_owner() -> tuple[int, int] | None:
    """The (uid, gid) of the user behind sudo, when running as root through sudo."""
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if os.geteuid() != 0 or not uid.isdigit() or uid == "0":
        return None
    return int(uid), int(gid) if gid.isdigit() else int(uid)


# The lab -------------------------------------------------------------------------------


class Lab:
    """The lab under ``<state>/lab``: build the base, start, stop and reach hosts.

    ``subnet`` (``127.X.Y``) is where hosts listen: host N on ``<subnet>.N``. ``base_dir``
    names another lab's base to share: this lab then only reads it, and refuses to start
    while it is not built (build it with that lab's ``ensure_base``). Two labs with their own
    state folders, subnets and inventory folders run side by side without seeing each other.
    """

    def __init__(
        self,
        state_dir: Path | None = None,
        inventory_dir: Path | None = None,
        *,
        subnet: str = DEFAULT_SUBNET,
        base_dir: Path | None = None,
    ) -> None:
        self.state_dir = (state_dir or config.state_dir()).resolve()
        self.inventory_dir = inventory_dir or config.default_inventory()
        self.subnet = check_subnet(subnet)
        self.lab_dir = self.state_dir / "lab"
        self.shared_base = base_dir is not None
        self.base_dir = base_dir.resolve() if base_dir is not None else self.lab_dir / "base"
        self.hosts_dir = self.lab_dir / "hosts"
        self.ssh_dir = self.lab_dir / "ssh"
        self.ssh_key = self.ssh_dir / "id_ed25519"
        self.known_hosts = self.ssh_dir / "known_hosts"

    # Public operations -----------------------------------------------------------------

    def up(
        self, servers: int = DEFAULT_SERVERS, progress: Callable[[str], None] | None = None
    ) -> list[LabHostState]:
        """Start lab-srv01..N (those not running yet) and wait until each answers on SSH.

        Lab servers numbered above N are stopped, so the lab matches the inventory.
        """
        require_root()
        if not 1 <= servers <= MAX_SERVERS:
            raise LabError(f"--servers {servers} is out of range: use 1 to {MAX_SERVERS}")
        say = progress or _quiet
        specs = [server_spec(i, self.subnet) for i in range(1, servers + 1)]

        with self._locked():
            self._prepare(say)
            for name in self._host_names():
                match = _SERVER_NAME.match(name)
                if match and int(match.group(1)) > servers:
                    self._stop([name])
                    say(f"{name} stopped (beyond --servers {servers})")
            self._start_all(specs, say)
            write_server_inventory(self.inventory_dir, servers, self.subnet)
            if self.subnet == DEFAULT_SUBNET:
                LabSwitches(self.lab_dir).up(say)
            return [self._state(spec, ssh_ok=True) for spec in specs]

    def down(self) -> list[str]:
        """Stop every lab host; return the names of those that were running."""
        require_root()
        with self._locked():
            names = self._host_names()
            stopped = [name for name in names if self._running_pid(name) is not None]
            self._stop(names)
            self._write_known_hosts()
            write_server_inventory(self.inventory_dir, 0, self.subnet)
            LabSwitches(self.lab_dir).down()
        return stopped

    def ensure_base(self, progress: Callable[[str], None] | None = None) -> Path:
        """Build the Debian base unless it is complete already; return its folder."""
        require_root()
        with self._locked():
            self._prepare(progress or _quiet)
        return self.base_dir

    def status(self) -> list[LabHostState]:
        """Return every lab host known under the state folder, with an SSH check each."""
        specs = [spec for spec in map(self._read_spec, self._host_names()) if spec]
        specs.sort(key=lambda spec: (spec.index, spec.name))
        pids = {spec.name: self._running_pid(spec.name) for spec in specs}

        def check(spec: LabHostSpec) -> LabHostState:
            pid = pids[spec.name]
            ok = pid is not None and self._ssh_probe(spec, connect_timeout=3).returncode == 0
            return LabHostState(spec=spec, pid=pid, running=pid is not None, ssh_ok=ok)

        if not specs:
            return []
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(specs))) as pool:
            return list(pool.map(check, specs))

    def switch_status(self) -> list[SwitchState]:
        """The lab's simulated switches (runner/lab_switches.py), with an SSH check each."""
        return LabSwitches(self.lab_dir).status()

    def start_host(self, name: str, index: int) -> LabHostState:
        """Start one host on <subnet>.``index`` and wait for SSH; a no-op if it runs."""
        require_root()
        spec = host_spec(name, index, self.subnet)
        with self._locked():
            self._prepare(_quiet)
            self._start_all([spec], _quiet)
        return self._state(spec, ssh_ok=True)

    def stop_host(self, name: str) -> None:
        """Stop one host and discard its changes; a no-op for a host that does not exist."""
        require_root()
        _check_name(name)
        with self._locked():
            self._stop([name])
            self._write_known_hosts()

    def exec(
        self, name: str, command: list[str], *, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as root inside host ``name`` over its SSH; the caller checks rc."""
        spec = self._read_spec(name)
        if spec is None or self._running_pid(name) is None:
            raise LabError(f"lab host {name!r} is not running: start it with `opskeeper lab up`")
        ssh = [*self._ssh_argv(spec, connect_timeout=5), "--", shlex.join(command)]
        try:
            return subprocess.run(
                ssh,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(
                f"{name}: {shlex.join(command)!r} did not finish within {timeout:.0f} s"
            ) from exc

    # Paths and records -----------------------------------------------------------------

    def _host_dir(self, name: str) -> Path:
        return self.hosts_dir / name

    def _setup_script(self, name: str) -> Path:
        return self._host_dir(name) / "setup.sh"

    def _host_names(self) -> list[str]:
        try:
            entries = list(self.hosts_dir.iterdir())
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise LabError(
                f"cannot read {self.hosts_dir} ({exc.strerror}): run the lab command as root "
                "(`sudo .venv/bin/opskeeper lab status`)"
            ) from exc
        return sorted(p.name for p in entries if _HOST_NAME.match(p.name))

    def _read_spec(self, name: str) -> LabHostSpec | None:
        try:
            data = json.loads((self._host_dir(name) / "spec.json").read_text(encoding="utf-8"))
            return LabHostSpec(**data)
        except (OSError, ValueError, TypeError):
            return None

    def _running_pid(self, name: str) -> int | None:
        """The host's ``unshare`` pid if it runs; checked through its command line."""
        try:
            pid = int((self._host_dir(name) / "pid").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        _reap(pid)
        return pid if str(self._setup_script(name)) in _cmdline(pid) else None

    def _state(self, spec: LabHostSpec, ssh_ok: bool) -> LabHostState:
        pid = self._running_pid(spec.name)
        return LabHostState(spec=spec, pid=pid, running=pid is not None, ssh_ok=ssh_ok)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise lab changes between processes (a CLI and a molecule run, say)."""
        self.lab_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        with (self.lab_dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # Base ----------------------------------------------------------------------------

    def _prepare(self, say: Callable[[str], None]) -> None:
        _require_tool("unshare", "util-linux")
        _require_tool("ssh", "openssh-client")
        _require_tool("ssh-keygen", "openssh-client")
        if not (self.base_dir / _BASE_MARKER).is_file():
            if self.shared_base:
                # Another lab owns this base: building it here would race with that lab.
                raise LabError(
                    f"the shared lab base {self.base_dir} is not built: build it first with "
                    "`sudo .venv/bin/opskeeper lab up` (or that lab's ensure_base())"
                )
            self._build_base(say)
        self._ensure_client_key()

    def _build_base(self, say: Callable[[str], None]) -> None:
        """Debootstrap the base into a temporary folder, configure it, then rename it."""
        debootstrap = _require_tool("debootstrap", "debootstrap")
        mirror, security = debian_mirrors(read_apt_sources())
        if self._host_names():
            raise LabError(
                f"the lab base {self.base_dir} is incomplete while lab hosts exist: run "
                "`opskeeper lab down` first"
            )
        for stale in self.lab_dir.glob("base.tmp-*"):
            self._remove_tree(stale)
        if self.base_dir.exists():
            self._remove_tree(self.base_dir)

        say(f"building the Debian base (about 90 s, once) from {mirror}")
        log.info("lab: debootstrap %s from %r into %s", SUITE, mirror, self.base_dir)
        build_log = self.lab_dir / "base-build.log"
        tmp = Path(tempfile.mkdtemp(prefix="base.tmp-", dir=self.lab_dir))
        # Its own mount and PID namespaces: whatever debootstrap mounts, or leaves running,
        # goes away with it and never lands in the machine's mount table.
        options = ["--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        target = [SUITE, str(tmp), mirror]
        command = [*_UNSHARE_PRIVATE, "--mount-proc", debootstrap, *options, *target]
        with build_log.open("wb") as out:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=3600,
            )
        if done.returncode != 0:
            self._remove_tree(tmp)
            raise LabError(
                f"debootstrap of {SUITE} from {mirror} failed (exit {done.returncode}): see "
                f"{build_log}, fix the cause, and run `lab up` again"
            )

        try:
            self._configure_base(tmp, mirror, security)
        except (LabError, OSError):
            self._remove_tree(tmp)
            raise
        (tmp / _BASE_MARKER).write_text(
            f"built {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} from {mirror}\n", encoding="utf-8"
        )
        tmp.chmod(0o755)
        tmp.rename(self.base_dir)
        log.info("lab: base ready in %s", self.base_dir)

    def _configure_base(self, root: Path, mirror: str, security: str | None) -> None:
        """Point the base's apt at the machine's mirrors, fetch lists, drop host keys."""
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        paragraphs = [
            f"Types: deb\nURIs: {mirror}\nSuites: {SUITE} {SUITE}-updates\n"
            f"Components: main\nSigned-By: {keyring}\n"
        ]
        if security:
            paragraphs.append(
                f"Types: deb\nURIs: {security}\nSuites: {SUITE}-security\n"
                f"Components: main\nSigned-By: {keyring}\n"
            )
        else:
            log.warning("lab: no %s-security mirror in the machine's apt sources", SUITE)
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        (root / "etc/apt/sources.list.d/debian.sources").write_text(
            "# The mirrors of the machine that built this lab base.\n" + "\n".join(paragraphs),
            encoding="utf-8",
        )
        # Translations serve people reading package descriptions, not automation: without
        # them the lists are 35 MB smaller and `apt-get update` in a host is quicker.
        settings = ['Acquire::Languages "none";', *_apt_validity_settings()]
        (root / "etc/apt/apt.conf.d/99opskeeper-lab").write_text(
            "# Written by Opskeeper's lab. Release date checks follow the machine's apt\n"
            "# settings, since hosts share its clock.\n" + "\n".join(settings) + "\n",
            encoding="utf-8",
        )

        # Lists stay in the base so `apt-get -s upgrade` in a host sees pending updates.
        script = (
            "set -e\n"
            f"root={shlex.quote(str(root))}\n"
            'mount --bind /dev "$root/dev"\n'
            'mount -t proc proc "$root/proc"\n'
            'chroot "$root" apt-get -q update\n'
            'chroot "$root" apt-get -q clean\n'
        )
        _run(
            [*_UNSHARE_PRIVATE, "/bin/sh", "-c", script],
            f"apt-get update in the lab base from {mirror}",
            timeout=600,
        )

        for key in (root / "etc/ssh").glob("ssh_host_*"):
            key.unlink()
        btmp = root / "var/log/btmp"
        btmp.touch()
        btmp.chmod(0o660)
        for line in (root / "etc/group").read_text(encoding="utf-8").splitlines():
            if line.startswith("utmp:"):
                os.chown(btmp, 0, int(line.split(":")[2]))
        (root / "usr/sbin/policy-rc.d").unlink(missing_ok=True)

    def _remove_tree(self, path: Path) -> None:
        """Remove ``path`` unless something is mounted below it."""
        prefix = str(path.resolve()) + "/"
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                target = line.split()[1].replace("\\040", " ")
                if target.startswith(prefix) or target == prefix[:-1]:
                    raise LabError(
                        f"{target} is still mounted: unmount it (`umount -R {target}`), then retry"
                    )
        shutil.rmtree(path, ignore_errors=False)

    # Keys ----------------------------------------------------------------------------

    def _ensure_client_key(self) -> None:
        self.ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.ssh_key.is_file():
            self.ssh_key.with_name(self.ssh_key.name + ".pub").unlink(missing_ok=True)
            _keygen(self.ssh_key, "opskeeper-lab", "the lab's client key")
        self._hand_to_sudo_user()

    def _hand_to_sudo_user(self) -> None:
        """Give the key and known_hosts to the user behind sudo, so that user can ssh."""
        owner = _sudo_owner()
        if owner is None:
            return
        uid, gid = owner
        if self.state_dir.stat().st_uid == 0:
            # state_dir() made the folder private to root; the user must reach lab/ssh.
            os.chown(self.state_dir, uid, gid)
        self.lab_dir.chmod(0o755)
        for path in (
            self.ssh_dir,
            self.ssh_key,
            self.ssh_key.with_name("id_ed25519.pub"),
            self.known_hosts,
        ):
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, uid, gid)

    def _write_known_hosts(self) -> None:
        lines = []
        specs = [spec for spec in map(self._read_spec, self._host_names()) if spec]
        for spec in sorted(specs, key=lambda spec: (spec.index, spec.name)):
            pub = self._host_dir(spec.name) / f"{_HOST_KEY}.pub"
            with contextlib.suppress(OSError):
                key_type, key = pub.read_text(encoding="utf-8").split()[:2]
                lines.append(f"[{spec.address}]:{SSH_PORT} {key_type} {key}\n")
        self.ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(self.known_hosts, "".join(lines), mode=0o644)
        self._hand_to_sudo_user()

    # Starting ------------------------------------------------------------------------

    def _start_all(
        self, specs: Sequence[LabHostSpec], say: Callable[[str], None]
    ) -> list[LabHostSpec]:
        """Launch the hosts that do not run yet, all at once, then wait for their SSH."""
        existing = {name: self._read_spec(name) for name in self._host_names()}
        running = {name for name in existing if self._running_pid(name) is not None}
        on_index = {spec.index: name for name, spec in existing.items() if spec}
        leftovers: list[str] = []
        launch: list[LabHostSpec] = []
        for spec in specs:
            old = existing.get(spec.name)
            if spec.name in running:
                if old is not None and old.index == spec.index:
                    say(f"{spec.name} already running on {spec.address}")
                    continue
                where = old.address if old else "an unknown address"
                raise LabError(
                    f"lab host {spec.name} already runs on {where}, not {spec.address}: stop "
                    f"it first (`opskeeper lab host-down {spec.name}`)"
                )
            other = on_index.get(spec.index)
            if other is not None and other != spec.name:
                if other in running:
                    raise LabError(
                        f"{spec.address} is taken by running lab host {other}: stop it "
                        f"(`opskeeper lab host-down {other}`) or pick another index"
                    )
                leftovers.append(other)
            if spec.name in existing:
                leftovers.append(spec.name)
            launch.append(spec)

        for spec in launch:
            if not _port_free(spec.address):
                raise LabError(
                    f"{spec.address}:{SSH_PORT} is already in use (another sshd on "
                    f"0.0.0.0:{SSH_PORT}?): free that port, then start {spec.name} again"
                )
        # Folders of hosts that died on their own: clear them before reusing name or address.
        self._stop(leftovers)
        for spec in launch:
            self._launch(spec)
        self._write_known_hosts()

        self._wait_for_ssh(launch)
        for spec in launch:
            say(f"{spec.name} up on {spec.address}")
        return launch

    def _launch(self, spec: LabHostSpec) -> None:
        """Write the host's files and start its namespaces; do not wait for anything."""
        host_dir = self._host_dir(spec.name)
        self.hosts_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        host_dir.mkdir(mode=0o755)
        for sub in ("upper", "work", "root"):
            (host_dir / sub).mkdir(mode=0o755)
        write_atomic(host_dir / "spec.json", json.dumps(asdict(spec)) + "\n")

        key = host_dir / _HOST_KEY
        _keygen(key, f"root@{spec.name}", f"{spec.name}'s host key")
        self._write_host_files(spec, host_dir / "files", key)
        setup = self._setup_script(spec.name)
        write_atomic(setup, self._render_setup(spec), mode=0o755)

        console = host_dir / "console.log"
        with console.open("ab") as out:
            child = subprocess.Popen(
                [*_UNSHARE_HOST, "/bin/sh", str(setup)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": _CLEAN_PATH, "LANG": "C.UTF-8"},
            )
        _CHILDREN[child.pid] = child
        write_atomic(host_dir / "pid", f"{child.pid}\n")
        log.info("host %r: started on %s (pid %d)", spec.name, spec.address, child.pid)

    def _write_host_files(self, spec: LabHostSpec, files: Path, host_key: Path) -> None:
        """Lay out what the setup script copies over the host's root, with final modes."""
        client_pub = self.ssh_key.with_name("id_ed25519.pub").read_text(encoding="utf-8")
        content: dict[str, tuple[str, int]] = {
            "etc/hostname": (f"{spec.name}\n", 0o644),
            "etc/hosts": (
                f"127.0.0.1\tlocalhost\n{spec.address}\t{spec.name}\n"
                "::1\tlocalhost ip6-localhost ip6-loopback\n",
                0o644,
            ),
            "etc/ssh/sshd_config.d/opskeeper-lab.conf": (self._render_sshd(spec), 0o644),
            f"etc/ssh/{_HOST_KEY}": (host_key.read_text(encoding="utf-8"), 0o600),
            f"etc/ssh/{_HOST_KEY}.pub": (
                host_key.with_name(f"{_HOST_KEY}.pub").read_text(encoding="utf-8"),
                0o644,
            ),
            "root/.ssh/authorized_keys": (client_pub, 0o600),
            "usr/local/sbin/opskeeper-lab-init": (_INIT_SCRIPT, 0o755),
        }
        private_dirs = {"root", "root/.ssh"}
        files.mkdir(exist_ok=True)
        for relative, (text, mode) in content.items():
            path = files / relative
            for parent in reversed(Path(relative).parents[:-1]):
                folder = files / parent
                folder.mkdir(exist_ok=True)
                folder.chmod(0o700 if str(parent) in private_dirs else 0o755)
            path.write_text(text, encoding="utf-8")
            path.chmod(mode)
        files.chmod(0o755)

    def _render_sshd(self, spec: LabHostSpec) -> str:
        return (
            f"# Lab host {spec.name}: hosts share the machine's network, so each listens on\n"
            "# its own loopback address, on a port that leaves the machine's port 22 alone.\n"
            f"Port {SSH_PORT}\n"
            f"ListenAddress {spec.address}:{SSH_PORT}\n"
            f"HostKey /etc/ssh/{_HOST_KEY}\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
        )

    def _render_setup(self, spec: LabHostSpec) -> str:
        """The shell script that runs as PID 1 of the host's new namespaces."""
        host_dir = self._host_dir(spec.name)
        q = shlex.quote
        return f"""#!/bin/sh
# Lab host {spec.name}: PID 1 of new mount, UTS and PID namespaces made by unshare. Every
# mount below lives in this mount namespace only and goes away with the host.
set -eu
root={q(str(host_dir / "root"))}
host={q(str(host_dir))}
mount -t overlay overlay -o lowerdir={q(str(self.base_dir))},upperdir="$host/upper",\
workdir="$host/work" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs -o ro sysfs "$root/sys" || echo "{spec.name}: no /sys in this host" >&2
mount --bind /dev "$root/dev"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
mount --bind "$root/dev/pts/ptmx" "$root/dev/ptmx"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"
mount -t tmpfs -o mode=0755,size=64m run "$root/run"
mkdir -p "$root/run/lock" "$root/srv/data"
mount -t tmpfs -o mode=0755,size={spec.data_mb}m lab-data "$root/srv/data"
dd if=/dev/zero of="$root/srv/data/ballast.bin" bs=1M count={spec.fill_mb} status=none
cp -a "$host/files/." "$root/"
if [ -e /etc/resolv.conf ]; then
    rm -f "$root/etc/resolv.conf"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
fi
echo {q(spec.name)} > /proc/sys/kernel/hostname
# tini as PID 1 reaps orphans and survives `service ssh restart`.
exec chroot "$root" /usr/bin/tini -- /usr/local/sbin/opskeeper-lab-init
"""

    def _ssh_argv(self, spec: LabHostSpec, connect_timeout: int) -> list[str]:
        options = {
            "IdentitiesOnly": "yes",
            "UserKnownHostsFile": str(self.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "StrictHostKeyChecking": "yes",
            "BatchMode": "yes",
            "ConnectTimeout": str(connect_timeout),
            "LogLevel": "ERROR",
        }
        argv = ["ssh", "-F", "/dev/null", "-i", str(self.ssh_key), "-p", str(SSH_PORT)]
        for option, value in options.items():
            argv += ["-o", f"{option}={value}"]
        return [*argv, f"root@{spec.address}"]

    def _ssh_probe(
        self, spec: LabHostSpec, connect_timeout: int
    ) -> subprocess.CompletedProcess[str]:
        """Log in as root and run ``true``: rc 0 means the host answers on SSH."""
        try:
            return subprocess.run(
                [*self._ssh_argv(spec, connect_timeout), "true"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=connect_timeout + 10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess([], 255, "", "ssh timed out")

    def _wait_for_ssh(self, specs: Sequence[LabHostSpec]) -> None:
        """Wait until each host answers on SSH; raise LabError naming those that do not."""
        if not specs:
            return
        # Two cores start about ten sshds a second: allow more time for a big lab.
        limit = max(SSH_WAIT_SECONDS, 0.2 * len(specs))
        deadline = time.monotonic() + limit

        def wait(spec: LabHostSpec) -> str | None:
            detail = "no SSH banner"
            while True:
                if self._running_pid(spec.name) is None:
                    return f"stopped while starting ({self._console_tail(spec.name)})"
                if _banner(spec.address, timeout=1.0):
                    probe = self._ssh_probe(spec, connect_timeout=3)
                    if probe.returncode == 0:
                        return None
                    lines = probe.stderr.strip().splitlines()
                    detail = lines[-1] if lines else f"ssh exit {probe.returncode}"
                if time.monotonic() > deadline:
                    return f"no SSH login within {limit:.0f} s ({detail})"
                time.sleep(0.05)

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(specs))) as pool:
            problems = [
                (spec, problem)
                for spec, problem in zip(specs, pool.map(wait, specs), strict=True)
                if problem
            ]
        if problems:
            spec, problem = problems[0]
            others = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise LabError(
                f"lab host {spec.name} on {spec.address}:{SSH_PORT} {problem}{others}: see "
                f"{self._host_dir(spec.name) / 'console.log'}, then `opskeeper lab down`"
            )

    def _console_tail(self, name: str) -> str:
        try:
            lines = (
                (self._host_dir(name) / "console.log")
                .read_text(encoding="utf-8", errors="replace")
                .strip()
                .splitlines()
            )
        except OSError:
            return "no console log"
        return lines[-1] if lines else "console log is empty"

    # Stopping ------------------------------------------------------------------------

    def _stop(self, names: Sequence[str]) -> None:
        """Stop hosts ``names`` together, confirm that none of their processes is left, and
        remove their folders.

        unshare ignores SIGTERM and SIGINT, so it gets SIGKILL; ``--kill-child`` passes that
        to the namespace's PID 1, whose death takes every process and mount of the host.
        Zombies and reused pids make ``kill -0`` lie: what counts is /proc/PID/cmdline and
        which processes are left in the host's PID namespace.
        """
        if not names:
            return
        scripts = {str(self._setup_script(name)): name for name in names}
        pids = {pid: scripts[arg] for pid, argv in _processes() for arg in argv if arg in scripts}
        namespaces = set()
        for pid in pids:
            with contextlib.suppress(OSError):
                namespaces.add(os.readlink(f"/proc/{pid}/ns/pid_for_children"))
        # An unshare killed before it made its namespace still shows the machine's.
        namespaces.discard(os.readlink("/proc/self/ns/pid"))

        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while True:
            for pid in pids:
                _reap(pid)
            left = [pid for pid, argv in _processes() if scripts.keys() & set(argv)]
            if namespaces:
                left += [pid for pid in _pids() if _pid_namespace(pid) in namespaces]
            if not left:
                break
            if time.monotonic() > deadline:
                raise LabError(
                    f"lab processes {sorted(set(left))} are still alive "
                    f"{STOP_WAIT_SECONDS:.0f} s after SIGKILL: look at them with "
                    f"`ps -p {left[0]}`, then run `opskeeper lab down` again"
                )
            time.sleep(0.02)

        for pid, name in sorted(pids.items()):
            log.info("host %r: stopped (pid %d)", name, pid)
        for name in names:
            if self._host_dir(name).exists():
                self._remove_tree(self._host_dir(name))


_INIT_SCRIPT = """#!/bin/sh
# The lab host's init, run by tini: start the services a server offers, then idle.
service ssh start || exit 1
service cron start
exec sleep infinity
"""


def _quiet(_message: str) -> None:
    """A progress callback that shows nothing."""
