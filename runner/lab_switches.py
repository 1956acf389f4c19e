"""The lab's simulated Cisco IOS switches: fake-switches behind our own launcher.

A *lab switch* is a fake-switches ``cisco_2960_24TT_L`` core (24 FastEthernet ports and the
uplinks GigabitEthernet0/1-2) that answers SSH on ``127.0.20.N`` port 2222. Sessions start
privileged (``auto_enabled``) because Ansible's ``become_method: enable`` cannot detect the
simulator's privilege. A switch keeps its configuration **in memory only**: stopping it
forgets every change, and ``write memory`` saves nothing that survives a restart.

fake-switches pins a Twisted that does not build on Python 3.11, so it lives in its own
venv (``.venv-switches``, built by ``make switches-venv``). This module runs in both: the
lab imports it to start and stop switches, and the switches' venv runs it as
``python -m runner.lab_switches serve SPEC.json`` (standard library and fake-switches
only on that path). The bundled launcher passes the enable password as bytes, so ``enable``
always fails there; here the password is text and the user table bytes, as Twisted wants.
One ``serve`` process can run several switches; the lab starts one process per switch so
that a single switch can be stopped (the tests stop one to see it unreachable).

fake-switches names the same serial number, FOC1530X2F7, in every switch's ``show
version``; the launcher gives each lab switch its own (``LABSIM000N``, as the lab's CMDB
records), so that the census can tell the switches apart as it would tell real ones.

Everything lives under ``<state>/lab/switches/<name>/``: ``spec.json``, ``pid`` and
``console.log``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from runner.errors import LabError

SUBNET = "127.0.20"
SSH_PORT = 2222
MODEL = "cisco_2960_24TT_L"
#: The lab's own credentials, also in inventory/lab/group_vars/ios.yml. Lab only: a real
#: site keeps device credentials in Ansible Vault (docs/NETWORK.md).
USERNAME = "opskeeper"
PASSWORD = "lab-switch"
#: name -> index N (address 127.0.20.N); inventory/lab/assets/network.yml records them.
SWITCHES = {"sw-lab01": 1, "sw-lab02": 2}
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
#: The serial number fake-switches puts in every switch's ``show version``.
SIMULATOR_SERIAL = "FOC1530X2F7"
START_WAIT_SECONDS = 20.0
STOP_WAIT_SECONDS = 5.0
REPO_ROOT = Path(__file__).resolve().parent.parent
SWITCH_VENV = Path(os.environ.get("OPSKEEPER_SWITCH_VENV", REPO_ROOT / ".venv-switches"))

#: Launchers started by this Python process, kept so that a stopped one is reaped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _reap_at_exit() -> None:
    """Reap the children that were stopped (by this process or another one, such as `lab
    down`) before this process ends; running ones are left to run, as they are meant to."""
    for child in list(_CHILDREN.values()):
        child.poll()


@dataclass(frozen=True)
class SwitchSpec:
    """What the launcher needs to start one switch."""

    name: str
    address: str
    port: int = SSH_PORT
    model: str = MODEL
    username: str = USERNAME
    password: str = field(default=PASSWORD, repr=False)
    #: The serial number ``show version`` names; empty keeps the simulator's own.
    serial: str = ""


@dataclass(frozen=True)
class SwitchState:
    """A lab switch as seen now: its launcher's pid and whether SSH answers."""

    spec: SwitchSpec
    pid: int | None
    ssh_ok: bool


def switch_spec(name: str, subnet: str = SUBNET) -> SwitchSpec:
    """The spec of lab switch ``name`` (one of :data:`SWITCHES`)."""
    if name not in SWITCHES:
        raise LabError(f"unknown lab switch {name!r}; expected one of: {', '.join(SWITCHES)}")
    return lab_switch_spec(name, SWITCHES[name], subnet)


def lab_switch_spec(name: str, index: int, subnet: str = SUBNET) -> SwitchSpec:
    """The spec of a switch ``name`` on ``<subnet>.<index>`` with serial ``LABSIM<index>``."""
    if not 1 <= index <= 254:
        raise LabError(f"switch index {index} is out of range: use 1 to 254")
    return SwitchSpec(name=name, address=f"{subnet}.{index}", serial=f"LABSIM{index:04d}")


class LabSwitches:
    """Start, stop and look at the lab switches kept under ``<lab_dir>/switches``."""

    def __init__(self, lab_dir: Path, venv: Path = SWITCH_VENV) -> None:
        self.dir = lab_dir / "switches"
        self.python = venv / "bin" / "python"

    def up(self, say: Callable[[str], None]) -> list[SwitchState]:
        """Start every lab switch not running yet; wait until each answers on SSH."""
        specs = [switch_spec(name) for name in SWITCHES]
        for spec in specs:
            self.start(spec)
        states = [self._wait(spec) for spec in specs]
        self.write_known_hosts(self._running_specs())
        say(f"{len(states)} lab switch(es) answer on SSH port {SSH_PORT}")
        return states

    def start_one(self, name: str, index: int) -> SwitchState:
        """Start one more switch ``name`` on 127.0.20.``index`` beside the lab's own (the
        inspect_ios molecule scenario uses 250) and wait until it answers; a no-op when it
        runs. Its host key joins known_hosts; ``stop`` and ``down`` stop it like the others.
        """
        if not _NAME.fullmatch(name):
            raise LabError(
                f"switch name {name!r} is not valid: use lower-case letters, digits and '-'"
            )
        spec = lab_switch_spec(name, index)
        taken = [s.spec.name for s in self.status() if s.pid and s.spec.address == spec.address]
        if taken and taken != [name]:
            raise LabError(f"{spec.address} is lab switch {taken[0]!r}'s: choose another index")
        self.start(spec)
        state = self._wait(spec)
        self.write_known_hosts(self._running_specs())
        return state

    def _running_specs(self) -> list[SwitchSpec]:
        return [state.spec for state in self.status() if state.pid is not None]

    @property
    def known_hosts(self) -> Path:
        """The switches' host keys, which the probe checks (group_vars/ios.yml)."""
        return self.dir / "known_hosts"

    def write_known_hosts(self, specs: Sequence[SwitchSpec]) -> None:
        """Record the host key each running switch presents, as the lab does for its hosts.

        fake-switches has one built-in key; reading it from the switch keeps this file true
        to what answers on the address.
        """
        lines = [_host_key_line(spec) for spec in specs]
        tmp = self.known_hosts.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines))
        tmp.replace(self.known_hosts)

    def down(self) -> list[str]:
        """Stop every lab switch; return the names of those that were running."""
        # Each switch has a folder; files beside them (known_hosts) are not switches.
        names = (
            sorted(p.name for p in self.dir.iterdir() if p.is_dir()) if self.dir.is_dir() else []
        )
        return [name for name in names if self.stop(name)]

    def status(self) -> list[SwitchState]:
        """Every lab switch that has a folder, with its pid and an SSH banner check."""
        if not self.dir.is_dir():
            return []
        states = []
        for folder in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            spec = self._read_spec(folder.name)
            if spec is not None:
                pid = self._running_pid(spec.name)
                ok = pid is not None and _banner(spec.address, spec.port, 3.0)
                states.append(SwitchState(spec, pid, ok))
        return states

    def start(self, spec: SwitchSpec) -> None:
        """Start one switch in its own launcher process (a no-op when it runs)."""
        if self._running_pid(spec.name) is not None:
            return
        if not self.python.is_file():
            raise LabError(
                f"the switches' venv {self.python.parent.parent} is missing: "
                "run `make switches-venv`"
            )
        if not _port_free(spec.address, spec.port):
            raise LabError(
                f"{spec.address}:{spec.port} is taken by another process, so lab switch "
                f"{spec.name!r} cannot listen there: find it with `ss -ltnp`"
            )
        folder = self.dir / spec.name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        (folder / "spec.json").write_text(json.dumps([asdict(spec)]))
        with (folder / "console.log").open("ab") as console:
            process = subprocess.Popen(
                [str(self.python), "-m", "runner.lab_switches", "serve", str(folder / "spec.json")],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            )
        _CHILDREN[process.pid] = process
        (folder / "pid").write_text(f"{process.pid}\n")

    def wait(self, name: str) -> SwitchState:
        """Wait until switch ``name`` answers on SSH, else raise LabError."""
        return self._wait(switch_spec(name))

    def stop(self, name: str) -> bool:
        """Stop switch ``name`` and confirm its process is gone; True when it was running."""
        pid = self._running_pid(name)
        folder = self.dir / name
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_WAIT_SECONDS
            while _alive_launcher(pid):
                _reap(pid)
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                if time.monotonic() > deadline + STOP_WAIT_SECONDS:
                    raise LabError(
                        f"lab switch {name!r} (pid {pid}) is still alive after SIGKILL: "
                        f"look at it with `ps -p {pid}`"
                    )
                time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError):
            (folder / "pid").unlink()
        return pid is not None

    def _wait(self, spec: SwitchSpec) -> SwitchState:
        deadline = time.monotonic() + START_WAIT_SECONDS
        while time.monotonic() < deadline:
            pid = self._running_pid(spec.name)
            if pid is None and not self._starting(spec.name):
                break
            if pid is not None and _banner(spec.address, spec.port, 1.0):
                return SwitchState(spec, pid, True)
            time.sleep(0.1)
        log = self.dir / spec.name / "console.log"
        tail = log.read_text(errors="replace")[-800:] if log.is_file() else ""
        raise LabError(
            f"lab switch {spec.name!r} does not answer on {spec.address}:{spec.port}; "
            f"the end of {log}:\n{tail}"
        )

    def _starting(self, name: str) -> bool:
        """True while a launcher this process started for ``name`` runs but has not shown
        its command line yet (between fork and exec it still shows its parent's)."""
        try:
            pid = int((self.dir / name / "pid").read_text())
        except (OSError, ValueError):
            return False
        child = _CHILDREN.get(pid)
        return child is not None and child.poll() is None

    def _read_spec(self, name: str) -> SwitchSpec | None:
        try:
            return SwitchSpec(**json.loads((self.dir / name / "spec.json").read_text())[0])
        except (OSError, ValueError, TypeError, IndexError):
            return None

    def _running_pid(self, name: str) -> int | None:
        try:
            pid = int((self.dir / name / "pid").read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive_launcher(pid) else None


def _alive_launcher(pid: int) -> bool:
    """True when ``pid`` is a live (not zombie) ``runner.lab_switches serve`` process."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and b"runner.lab_switches" in argv and b"serve" in argv


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _host_key_line(spec: SwitchSpec) -> str:
    import paramiko

    with socket.create_connection((spec.address, spec.port), timeout=5.0) as sock:
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=5.0)
            key = transport.get_remote_server_key()
        except paramiko.SSHException as exc:
            raise LabError(f"lab switch {spec.name!r} gave no host key: {exc}") from exc
        finally:
            transport.close()
    return f"[{spec.address}]:{spec.port} {key.get_name()} {key.get_base64()}"


def _banner(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def serve(specs: Sequence[SwitchSpec]) -> None:  # pragma: no cover - runs in the switch venv
    """Run the given switches in this process until SIGTERM (the switches' venv only)."""
    import logging

    from fake_switches import switch_factory
    from fake_switches.transports.ssh_service import SwitchSshService
    from twisted.internet import reactor

    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(message)s")
    _own_serials({spec.name: spec.serial for spec in specs if spec.serial})
    factory = switch_factory.SwitchFactory()
    for spec in specs:
        # The enable password as text (compared with what the user types); the user table
        # as bytes (Twisted's checker compares bytes).
        core = factory.get(spec.model, spec.name, spec.password, auto_enabled=True)
        service = SwitchSshService(
            ip=spec.address,
            port=spec.port,
            switch_core=core,
            users={spec.username: spec.password.encode()},
        )
        service.hook_to_reactor(reactor)
        logging.info("switch %r: listening on %s:%d", spec.name, spec.address, spec.port)
    reactor.run()  # type: ignore[attr-defined]


def _own_serials(serials: dict[str, str]) -> None:  # pragma: no cover - the switches' venv
    """Make ``show version`` name each switch's own serial instead of the simulator's one."""
    from fake_switches.cisco.command_processor import enabled

    simulated = enabled.version_text

    def version_text(**kwargs: object) -> str:
        text = str(simulated(**kwargs))
        serial = serials.get(str(kwargs.get("hostname")))
        return text.replace(SIMULATOR_SERIAL, serial) if serial else text

    enabled.version_text = version_text


if __name__ == "__main__":  # pragma: no cover - the switches' venv
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        sys.stderr.write("usage: python -m runner.lab_switches serve SPEC.json\n")
        raise SystemExit(2)
    serve([SwitchSpec(**item) for item in json.loads(Path(sys.argv[2]).read_text())])
