#!/usr/bin/python
"""Measure a Cisco IOS device from the controller over netmiko: Opskeeper's network probe."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import Any, Literal, NamedTuple

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: opskeeper_ios_probe
short_description: Measure a Cisco IOS device over SSH with netmiko, from the controller
description:
  - Runs on the controller (C(connection=local) or C(delegate_to=localhost)) and opens one
    netmiko C(cisco_ios) session to the device at O(host).
  - In O(mode=inspect) it returns C(measurements) for the check contract (opskeeper_check),
    C(net.login), C(net.version), C(net.interface.uplink) (one per O(uplinks) port),
    C(net.vlan.present), C(net.config.unsaved) and C(net.config.drift).
    C(show version) and C(show vlan brief) are parsed with TextFSM through ntc-templates.
  - In O(mode=backup) it writes the running configuration to O(backup_dir)/<device>.cfg
    (atomically, mode 0600) and returns one C(net.backup.fetch) measurement; the runner
    commits the files (runner/netbackup.py).
  - In O(mode=census) it only reads what the device says it is (C(opskeeper_census)), for
    C(opskeeper cmdb reconcile). O(mode=inspect) returns the same census beside its
    measurements, so the nightly inspection compares it with the CMDB record too.
  - A device that does not answer gives C(unreachable=true) with the reason. Wrong
    credentials, a rejected command and output that cannot be parsed are measurements with
    an C(error); the module itself fails only on malformed arguments.
  - Credentials are arguments with C(no_log); they never appear in results.
options:
  host:
    description: Management address of the device.
    type: str
    required: true
  port:
    description: SSH port.
    type: int
    default: 22
  device:
    description: Inventory name of the device (names its backup file).
    type: str
    required: true
  username:
    description: Login user.
    type: str
    required: true
  password:
    description: Login password.
    type: str
    required: true
  enable_secret:
    description:
      - Enable secret, used when the login is below privilege level 15 (C(show privilege)),
        in every mode that reads the configuration.
    type: str
    default: ""
  device_type:
    description: netmiko device type.
    type: str
    default: cisco_ios
  timeout:
    description: Seconds for connecting and for each command.
    type: int
    default: 20
  mode:
    description: What to do.
    type: str
    choices: [inspect, backup, census]
    default: inspect
  uplinks:
    description: Ports the CMDB records as cabled (local_port of connected_to).
    type: list
    elements: str
    default: []
  link_state:
    description:
      - C(device) judges an uplink by its link and protocol state and its configuration.
      - C(config) only by its configuration (for simulators that report no link state).
    type: str
    choices: [device, config]
    default: device
  known_hosts:
    description:
      - A known_hosts file of the devices' SSH host keys. When set, a device whose key is
        not in it is refused (C(net.login) error); when empty, any key is accepted.
    type: path
    default: ""
  backup_dir:
    description: The backup repository (inspect reads its newest commit; backup writes to it).
    type: path
    required: true
author: Opskeeper
"""

EXAMPLES = r"""
- name: Measure the switch
  opskeeper_ios_probe:
    host: "{{ ansible_host }}"
    device: "{{ inventory_hostname }}"
    username: "{{ opskeeper_ios_user }}"
    password: "{{ opskeeper_ios_password }}"
    uplinks: [Gi0/1]
    backup_dir: /var/lib/opskeeper/network-backups
"""

RETURN = r"""
measurements:
  description: Measurements for opskeeper_check (id, subject, value, status or error, message).
  type: list
  returned: when the device answered
opskeeper_census:
  description:
    - What the device says it is - vendor, model, serial, os, os_version (from C(show
      version)) and addresses (IPv4 addresses of its interfaces, from C(show ip interface)).
      A fact that could not be read is left out.
  type: dict
  returned: in O(mode=inspect) and O(mode=census), when C(show version) could be parsed
unreachable:
  description: True when the device did not answer; msg says why.
  type: bool
  returned: when the device did not answer
"""

#: Abbreviations of IOS interface types, so that a CMDB's "Gi0/1" names "GigabitEthernet0/1".
_INTERFACE_TYPES = {
    "fa": "fastethernet",
    "gi": "gigabitethernet",
    "te": "tengigabitethernet",
    "tw": "twogigabitethernet",
    "fo": "fortygigabitethernet",
    "hu": "hundredgigabitethernet",
    "et": "ethernet",
    "eth": "ethernet",
    "po": "port-channel",
    "vl": "vlan",
}
#: How IOS starts the line that refuses a command: bad syntax, an abbreviation that names
#: several commands, a command the privilege level or AAA command authorization forbids.
_REJECTED = (
    "% Invalid input",
    "% Incomplete command",
    "% Ambiguous command",
    "% Unknown command",
    "% Authorization failed",
    "Command authorization failed",
    "% Access denied",
    "No such command",
)
#: ``show privilege``: "Current privilege level is 15".
_LEVEL = re.compile(r"Current privilege level is (\d+)")
#: The level that may read, and is shown, the whole configuration.
FULL_LEVEL = 15
_PORT_NAME = re.compile(r"^([A-Za-z-]+)\s*([\d/.:]+)$")


class CommandRejected(Exception):
    """The device answered a command with an error."""


def canonical_port(name: str) -> str:
    """``name`` with its type spelled out and lower-cased: "Gi0/1" -> "gigabitethernet0/1"."""
    match = _PORT_NAME.match(name.strip())
    if not match:
        return name.strip().lower()
    kind, number = match.group(1).lower(), match.group(2)
    for short, full in _INTERFACE_TYPES.items():
        if full.startswith(kind) or kind == short:
            return f"{full}{number}"
    return f"{kind}{number}"


def interface_blocks(config: str) -> dict[str, list[str]]:
    """The lines under each ``interface X`` of a configuration, keyed by canonical name."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in config.splitlines():
        if line.startswith("interface "):
            current = blocks.setdefault(canonical_port(line.split(None, 1)[1]), [])
        elif line[:1] in (" ", "\t") and current is not None:
            current.append(line.strip())
        else:
            current = None
    return blocks


def uplink_measurement(
    port: str, blocks: dict[str, list[str]], states: dict[str, dict[str, Any]], link_state: str
) -> dict[str, Any]:
    """Judge one recorded uplink: shutdown or missing is fail; so is a link that is down."""
    row: dict[str, Any] = {"id": "net.interface.uplink", "subject": port}
    key = canonical_port(port)
    if key not in blocks:
        return {
            **row,
            "value": "missing",
            "status": "fail",
            "message": f"the CMDB records a cable on {port}, which the device does not have",
        }
    if "shutdown" in blocks[key]:
        return {
            **row,
            "value": "administratively down",
            "status": "fail",
            "message": f"recorded uplink {port} is shut down (configuration says shutdown)",
        }
    if link_state == "config":
        return {
            **row,
            "value": "enabled",
            "status": "ok",
            "message": f"{port} is not shut down (link state not judged: link_state=config)",
        }
    state = states.get(key)
    if state is None:
        return {**row, "value": None, "error": f"show ip interface does not list {port}"}
    link, protocol = state.get("link_status", ""), state.get("protocol_status", "")
    value = f"{link}/{protocol}"
    if link == "up" and protocol.startswith("up"):
        return {**row, "value": value, "status": "ok", "message": f"{port} is up"}
    return {
        **row,
        "value": value,
        "status": "fail",
        "message": f"recorded uplink {port} is {link}, line protocol {protocol}",
    }


def parse(command: str, output: str) -> list[dict[str, Any]]:
    """Parse ``output`` of ``command`` with the ntc-templates TextFSM template for IOS."""
    from ntc_templates.parse import parse_output

    rows = parse_output(platform="cisco_ios", command=command, data=output)
    if not rows:
        raise ValueError(f"TextFSM found no rows in the output of {command!r}")
    return [dict(row) for row in rows]


def version_measurement(output: str) -> dict[str, Any]:
    row: dict[str, Any] = {"id": "net.version", "subject": "device"}
    try:
        facts = parse("show version", output)[0]
    except Exception as exc:
        return {**row, "value": None, "error": f"show version could not be parsed: {exc}"}
    hardware = ", ".join(facts.get("hardware") or []) or None
    serial = ", ".join(facts.get("serial") or []) or None
    version = facts.get("version") or None
    if version is None:
        return {**row, "value": None, "error": "show version has no software version"}
    return {
        **row,
        "value": version,
        "status": "ok",
        "message": f"IOS {version} on {hardware or 'unknown hardware'}, serial {serial or '?'}",
        "details": {
            "version": version,
            "hardware": hardware,
            "serial": serial,
            "image": facts.get("running_image"),
            "uptime": facts.get("uptime"),
        },
    }


def census_facts(version_output: str, interfaces_output: str | None = None) -> dict[str, Any]:
    """What the device says it is, for comparison with its CMDB record (the census).

    Vendor, model, serial, OS and version from ``show version`` (TextFSM; the first entry
    of a stack, its active member), and the IPv4 addresses of its interfaces from ``show ip
    interface`` when that output is given and can be parsed. Facts that cannot be read are
    left out, so they are not compared. Raises ValueError when ``show version`` cannot be
    parsed.
    """
    try:
        facts = parse("show version", version_output)[0]
    except Exception as exc:
        raise ValueError(f"show version could not be parsed: {exc}") from exc
    flavour = "ios-xe" if re.search(r"IOS[ -]XE", version_output) else "ios"
    census: dict[str, Any] = {"vendor": "Cisco", "os": flavour}
    for name, value in (
        ("hostname", facts.get("hostname")),
        ("os_version", facts.get("version")),
        ("model", (facts.get("hardware") or [None])[0]),
        ("serial", (facts.get("serial") or [None])[0]),
    ):
        if value:
            census[name] = str(value)
    if interfaces_output:
        try:
            rows = parse("show ip interface", interfaces_output)
        except Exception:  # addresses are then not compared; the rest still is
            rows = []
        addresses = sorted({str(a) for row in rows for a in row.get("ip_address") or [] if a})
        if addresses:
            census["addresses"] = addresses
    return census


def vlan_measurement(output: str) -> dict[str, Any]:
    row: dict[str, Any] = {"id": "net.vlan.present", "subject": "vlans"}
    try:
        vlans = sorted({str(r["vlan_id"]) for r in parse("show vlan brief", output)}, key=_num)
    except Exception as exc:
        return {**row, "value": None, "error": f"show vlan brief could not be parsed: {exc}"}
    return {**row, "value": vlans, "message": f"VLANs on the device: {', '.join(vlans)}"}


def _num(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (1 << 30, text)


def unsaved_measurement(running: str, startup: str) -> dict[str, Any]:
    from runner.netbackup import changed_lines

    row: dict[str, Any] = {"id": "net.config.unsaved", "subject": "startup-config"}
    if not startup.strip():
        return {
            **row,
            "value": None,
            "error": "the device returned no startup configuration for `show startup-config` "
            "(the fake-switches simulator does not implement the command)",
        }
    if "startup-config is not present" in startup:
        return {**row, "value": True, "message": "no startup configuration was ever saved"}
    changes = changed_lines(startup, running)
    return {
        **row,
        "value": bool(changes),
        "message": f"{len(changes)} line(s) differ between running and startup"
        if changes
        else "running and startup configurations match",
        "details": {"changes": changes[:50]},
    }


def drift_measurement(running: str, backup_dir: str, device: str) -> dict[str, Any]:
    from runner.netbackup import BackupRepo, changed_lines

    row: dict[str, Any] = {"id": "net.config.drift", "subject": "running-config"}
    repo = BackupRepo(_path(backup_dir))
    head = repo.head()
    backup = repo.show(head, device) if head else None
    if head is None or backup is None:
        return {
            **row,
            "value": None,
            "error": f"no backup of {device} in {backup_dir} yet: "
            "run `opskeeper backup network` to take the baseline",
        }
    changes = changed_lines(backup, running)
    shown = "; ".join(changes[:5]) + (" ..." if len(changes) > 5 else "")
    return {
        **row,
        "value": len(changes),
        "unit": "lines",
        "message": f"{len(changes)} line(s) changed since backup {head[:12]}"
        + (f": {shown}" if changes else ""),
        "details": {"backup": head, "changes": changes[:50]},
    }


def _path(text: str) -> Any:
    from pathlib import Path

    return Path(text)


def send(conn: Any, command: str, timeout: int) -> str:
    """Run ``command``; raise CommandRejected when the device refuses it."""
    output = str(conn.send_command(command, read_timeout=timeout))
    # Only a line of its own: a description or banner may quote a refusal.
    if any(line.lstrip().startswith(_REJECTED) for line in output.splitlines()):
        raise CommandRejected(f"the device rejected {command!r}: {' '.join(output.split())[:200]}")
    return output


def read_running(conn: Any, timeout: int) -> str:
    """The device's whole running configuration; ValueError says why an answer is not one.

    A whole one names the IOS version or the hostname and closes with ``end``. A session
    below privilege level 15 is shown only what it may configure, which has neither, and a
    session cut short stops before ``end``: comparing or saving either would report the
    missing lines as removed.
    """
    config = send(conn, "show running-config", timeout)
    lines = [line.strip() for line in config.splitlines() if line.strip()]
    if not lines:
        raise ValueError("the device answered `show running-config` with an empty output")
    if lines[-1] != "end":
        raise ValueError(
            "the running configuration ends before its `end` line (the session was cut "
            f"short; last line: {lines[-1][:80]!r}): run again"
        )
    if not any(line.startswith(("version ", "hostname ")) for line in lines):
        raise ValueError(
            "the output of `show running-config` has no `version` or `hostname` line, so it "
            "is not the whole configuration (a login below privilege level 15 is shown only "
            "what it may configure): log in at level 15 or set the enable secret"
        )
    return config


class Privilege(NamedTuple):
    """How privileged a session is, once ``enable`` was tried where it was needed.

    ``level`` is what ``show privilege`` said, or None when the device did not say
    (``unread`` then says why). ``full`` means level 15, the level that reads the whole
    configuration; without a level it means the ``#`` prompt, which IOS shows from level 2.
    ``enable`` says what became of enable: not needed, entered, refused, or not tried for
    want of a secret; ``problem`` says why the session is short of level 15.
    """

    full: bool
    level: int | None
    unread: str | None
    enable: Literal["not needed", "entered", "refused", "no secret"]
    problem: str | None = None


def privilege_level(conn: Any, timeout: int) -> tuple[int | None, str | None]:
    """The session's privilege level from ``show privilege``, or None and why not."""
    try:
        output = send(conn, "show privilege", timeout)
    except Exception as exc:
        return None, f"show privilege failed: {exc}"
    match = _LEVEL.search(output)
    if match is None:
        shown = " ".join(output.split())[:80]
        return None, f"show privilege answered {repr(shown) if shown else 'nothing'}"
    return int(match.group(1)), None


def session_privilege(conn: Any, secret: str, timeout: int) -> Privilege:
    """The session's privilege, after ``enable`` with ``secret`` when it lacked level 15.

    The one way into privileged mode, for the inspection and the backup alike.
    """
    level, unread = privilege_level(conn, timeout)
    if _is_full(conn, level):
        return Privilege(True, level, unread, "not needed")
    if not secret:
        problem = (
            f"logged in {_where(level)} and no enable secret is set: set "
            f"opskeeper_ios_enable_secret or log in as a user with privilege level {FULL_LEVEL}"
        )
        return Privilege(False, level, unread, "no secret", problem)
    try:
        # From level 2 up IOS shows the # prompt, at which netmiko would not send enable.
        conn.enable(check_state=False)
    except ValueError:
        # netmiko's own words blame a missing 'secret' argument, which was given.
        problem = (
            "enable failed: the device refused the enable secret (opskeeper_ios_enable_secret)"
        )
        return Privilege(False, level, unread, "refused", problem)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200]
        problem = f"enable failed: {type(exc).__name__}: {reason} (opskeeper_ios_enable_secret)"
        return Privilege(False, level, unread, "refused", problem)

    level, unread = privilege_level(conn, timeout)
    if _is_full(conn, level):
        return Privilege(True, level, unread, "entered")
    problem = (
        f"enable failed: the session is still {_where(level)} (check the enable secret, "
        "opskeeper_ios_enable_secret)"
    )
    return Privilege(False, level, unread, "refused", problem)


def _is_full(conn: Any, level: int | None) -> bool:
    return level == FULL_LEVEL if level is not None else bool(conn.check_enable_mode())


def _where(level: int | None) -> str:
    """Where a session short of level 15 is (without a level, only the > prompt is)."""
    return "in user mode" if level is None else f"at privilege level {level}"


def login_measurement(username: str, privilege: Privilege) -> dict[str, Any]:
    """``net.login``: privileged at level 15; a refused enable secret is an error."""
    row: dict[str, Any] = {"id": "net.login", "subject": "ssh"}
    if privilege.enable == "refused":
        # A wrong enable secret is a wrong credential, as a wrong password is.
        return {**row, "value": None, "error": privilege.problem}
    if not privilege.full:
        level = privilege.level
        value = "user" if level is None or level <= 1 else f"level {level}"
        return {**row, "value": value, "message": f"{username} {privilege.problem}"}
    how = " after enable" if privilege.enable == "entered" else ""
    if privilege.level is not None:
        message = f"logged in as {username}, privilege level {privilege.level}{how}"
    else:
        message = (
            f"logged in as {username}, privileged (enable) mode{how}, judged by its # prompt: the "
            f"privilege level could not be read ({privilege.unread}), and IOS shows # at "
            f"levels 2-{FULL_LEVEL - 1} too"
        )
    return {**row, "value": "privileged", "message": message}


def measured(row: dict[str, Any], action: Any) -> dict[str, Any]:
    """Run ``action`` for a measurement; a rejected command or a lost session is its error."""
    try:
        result: dict[str, Any] = action()
        return result
    except Exception as exc:
        return {**row, "value": None, "error": f"{type(exc).__name__}: {exc}"}


def write_backup(backup_dir: str, device: str, config: str) -> int:
    """Write ``config`` to <backup_dir>/<device>.cfg atomically, readable by its owner only."""
    os.makedirs(backup_dir, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=backup_dir, prefix=f".{device}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(config if config.endswith("\n") else config + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, os.path.join(backup_dir, f"{device}.cfg"))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(config)


def _host_key_options(known_hosts: str) -> dict[str, Any]:
    """netmiko options that refuse devices whose host key is not in ``known_hosts``."""
    if not known_hosts:
        return {}
    return {
        "ssh_strict": True,
        "system_host_keys": False,
        "alt_host_keys": True,
        "alt_key_file": known_hosts,
    }


def probe(params: dict[str, Any]) -> dict[str, Any]:
    """Connect, measure, disconnect: the module's work without AnsibleModule."""
    from netmiko import ConnectHandler
    from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException

    timeout = params["timeout"]
    try:
        conn = ConnectHandler(
            device_type=params["device_type"],
            host=params["host"],
            port=params["port"],
            username=params["username"],
            password=params["password"],
            secret=params["enable_secret"],
            timeout=timeout,
            conn_timeout=timeout,
            auth_timeout=timeout,
            banner_timeout=timeout,
            session_timeout=timeout,
            fast_cli=False,
            **_host_key_options(params.get("known_hosts") or ""),
        )
    except NetmikoAuthenticationException as exc:
        reason = " ".join(str(exc).split())[:300]
        return {
            "measurements": [
                {
                    "id": "net.login",
                    "subject": "ssh",
                    "value": None,
                    "error": f"authentication failed: {reason}",
                }
            ]
        }
    except (NetmikoTimeoutException, OSError, EOFError) as exc:
        address = f"{params['host']}:{params['port']}"
        if "No existing session" in str(exc):
            # netmiko's advice to raise conn_timeout hides what happened.
            return {
                "unreachable": True,
                "msg": f"no SSH answer from {address} within {timeout} s (the TCP connection "
                "opened, the SSH handshake did not follow)",
            }
        reason = " ".join(str(exc).split())[:300]
        return {"unreachable": True, "msg": f"{address}: {reason}"}
    except Exception as exc:
        return {
            "measurements": [
                {
                    "id": "net.login",
                    "subject": "ssh",
                    "value": None,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            ]
        }
    try:
        return _measure(conn, params)
    finally:
        # A session the device closed cannot be closed again.
        with contextlib.suppress(Exception):
            conn.disconnect()


def _census(conn: Any, timeout: int, outputs: dict[str, str]) -> dict[str, Any]:
    """The census from the outputs this session read (``show version`` among them), reading
    ``show ip interface`` when it has not been read.

    Empty when ``show version`` was not read or cannot be parsed (the ``net.version`` row
    then says why); a device whose interfaces cannot be listed has no addresses.
    """
    if "show version" not in outputs:
        return {}
    if "show ip interface" not in outputs:
        with contextlib.suppress(Exception):
            outputs["show ip interface"] = send(conn, "show ip interface", timeout)
    try:
        return census_facts(outputs["show version"], outputs.get("show ip interface"))
    except ValueError:
        return {}


def _with_census(rows: list[dict[str, Any]], census: dict[str, Any]) -> dict[str, Any]:
    return {"measurements": rows, **({"opskeeper_census": census} if census else {})}


def _measure(conn: Any, params: dict[str, Any]) -> dict[str, Any]:
    timeout, device, backup_dir = params["timeout"], params["device"], params["backup_dir"]
    # Outputs read in this session, by command, so that the census reuses them.
    outputs: dict[str, str] = {}

    if params["mode"] == "census":
        version = version_row(conn, timeout, outputs)
        census = _census(conn, timeout, outputs)
        # Without a census, the net.version row says why (the command's error or the parse).
        return _with_census([], census) if census else {"measurements": [version]}

    if params["mode"] == "backup":
        row = {"id": "net.backup.fetch", "subject": "running-config"}

        def fetch() -> dict[str, Any]:
            privilege = session_privilege(conn, params["enable_secret"], timeout)
            if not privilege.full:
                # Below level 15 IOS refuses or cuts the configuration; saying why is clearer.
                raise PermissionError(privilege.problem)
            config = read_running(conn, timeout)
            if params.get("check_mode"):
                return {
                    **row,
                    "value": len(config),
                    "unit": "bytes",
                    "status": "ok",
                    "message": "check mode: the configuration was read, not saved",
                }
            size = write_backup(backup_dir, device, config)
            return {
                **row,
                "value": size,
                "unit": "bytes",
                "status": "ok",
                "message": f"running configuration saved ({size} bytes)",
            }

        return {"measurements": [measured(row, fetch)]}

    rows: list[dict[str, Any]] = []
    privilege = session_privilege(conn, params["enable_secret"], timeout)
    rows.append(login_measurement(params["username"], privilege))

    rows.append(version_row(conn, timeout, outputs))

    running = ""
    try:
        running = read_running(conn, timeout)
    except Exception as exc:
        reason = f"show running-config failed: {exc}"
        rows += [
            {"id": "net.interface.uplink", "subject": p, "value": None, "error": reason}
            for p in params["uplinks"]
        ]
        rows += [
            {"id": c, "subject": s, "value": None, "error": reason}
            for c, s in (
                ("net.config.unsaved", "startup-config"),
                ("net.config.drift", "running-config"),
            )
        ]
    if running:
        blocks = interface_blocks(running)
        states: dict[str, dict[str, Any]] = {}
        state_error = None
        if params["link_state"] == "device" and params["uplinks"]:
            try:
                outputs["show ip interface"] = send(conn, "show ip interface", timeout)
                for item in parse("show ip interface", outputs["show ip interface"]):
                    states[canonical_port(item.get("interface", ""))] = item
            except Exception as exc:
                state_error = f"show ip interface could not be read: {exc}"
        for port in params["uplinks"]:
            if state_error:
                rows.append(
                    {
                        "id": "net.interface.uplink",
                        "subject": port,
                        "value": None,
                        "error": state_error,
                    }
                )
            else:
                rows.append(uplink_measurement(port, blocks, states, params["link_state"]))

    rows.append(
        measured(
            {"id": "net.vlan.present", "subject": "vlans"},
            lambda: vlan_measurement(send(conn, "show vlan brief", timeout)),
        )
    )
    if running:
        rows.append(
            measured(
                {"id": "net.config.unsaved", "subject": "startup-config"},
                lambda: unsaved_measurement(running, send(conn, "show startup-config", timeout)),
            )
        )
        rows.append(
            measured(
                {"id": "net.config.drift", "subject": "running-config"},
                lambda: drift_measurement(running, backup_dir, device),
            )
        )
    return _with_census(rows, _census(conn, timeout, outputs))


def version_row(conn: Any, timeout: int, outputs: dict[str, str]) -> dict[str, Any]:
    """The ``net.version`` measurement, keeping the output for the census."""

    def read() -> dict[str, Any]:
        if "show version" not in outputs:
            outputs["show version"] = send(conn, "show version", timeout)
        return version_measurement(outputs["show version"])

    return measured({"id": "net.version", "subject": "device"}, read)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 22},
            "device": {"type": "str", "required": True},
            "username": {"type": "str", "required": True},
            "password": {"type": "str", "required": True, "no_log": True},
            "enable_secret": {"type": "str", "default": "", "no_log": True},
            "device_type": {"type": "str", "default": "cisco_ios"},
            "timeout": {"type": "int", "default": 20},
            "mode": {
                "type": "str",
                "choices": ["inspect", "backup", "census"],
                "default": "inspect",
            },
            "uplinks": {"type": "list", "elements": "str", "default": []},
            "link_state": {"type": "str", "choices": ["device", "config"], "default": "device"},
            "known_hosts": {"type": "path", "default": ""},
            "backup_dir": {"type": "path", "required": True},
        },
        supports_check_mode=True,
    )
    try:
        result = probe({**module.params, "check_mode": module.check_mode})
    except ImportError as exc:
        module.fail_json(msg=f"the controller lacks a Python package of the probe: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
