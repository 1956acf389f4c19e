"""Shape what the Windows modules return into measurements of Opskeeper's check contract.

Role ``inspect_windows`` reads a PC with two module executions: one
``ansible.windows.win_powershell`` run of ``roles/inspect_windows/files/probe.ps1`` (its
``result`` holds one section per topic: ``os``, ``memory``, ``volumes``, ``services``,
``firewall``, ``defender``, ``admins``; a section that could not be read is
``{"error": reason}``) and one ``ansible.windows.win_updates`` search. The filter
``opskeeper_windows_measurements`` turns both registered results into the ``measurements``
list that ``opskeeper_check`` judges. A module that failed or a host that could not be
reached becomes measurements with an ``error``, never a missing row.

The functions are pure so that tests can feed them recorded module outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Measurement = dict[str, Any]

#: Every check this module can produce, in the order the rows are written.
CHECK_IDS = (
    "windows.disk.usage",
    "windows.memory.usage",
    "windows.service.required",
    "windows.updates.pending",
    "windows.firewall.enabled",
    "windows.defender.realtime",
    "windows.defender.signature_age",
    "windows.uptime",
    "windows.admins.unexpected",
)

#: The check id of the row written when the probe gave nothing at all.
PROBE_CHECK = "windows.probe"

#: Windows treats a firewall profile that no policy configures as enabled.
FIREWALL_ON = frozenset({"true", "notconfigured", "1"})


def module_failure(result: Any, data_keys: Sequence[str]) -> str | None:
    """Why a registered module result carries no data, or None when it does.

    The role registers with ``failed_when: false``, which overwrites ``failed``; a result
    without any of ``data_keys`` is therefore a failure too, explained by its ``msg`` or
    (win_powershell) its error records.
    """
    if not isinstance(result, Mapping):
        return "the module returned no result"

    if result.get("unreachable"):
        return "WinRM connection failed: " + _text(result.get("msg"), "no reason given")

    if result.get("skipped"):
        return "not run: " + _text(result.get("skip_reason") or result.get("msg"), "skipped")

    has_data = any(result.get(key) not in (None, {}, "") for key in data_keys)
    if result.get("failed") or not has_data:
        return "the module failed: " + _failure_text(result)

    return None


def _failure_text(result: Mapping[str, Any]) -> str:
    reason = _text(result.get("msg"), "")
    errors = result.get("error")
    # win_powershell reports the script's errors as a list of ErrorRecords.
    if isinstance(errors, list) and errors:
        first = errors[0]
        detail = first.get("output") if isinstance(first, Mapping) else first
        reason = f"{reason}: {_text(detail, '')}" if reason else _text(detail, "")
    return reason or _text(result.get("module_stderr"), "it returned no data")


def _text(value: Any, default: str) -> str:
    if value is None or value == "":
        return default
    return " ".join(str(value).split())[:500]


def _error(check_id: str, subject: str, reason: str) -> Measurement:
    return {"id": check_id, "subject": subject, "value": None, "unit": "", "error": reason}


def _section(probe: Mapping[str, Any], name: str) -> tuple[Any, str | None]:
    section = probe.get(name)
    if not isinstance(section, Mapping):
        return None, f"the probe returned no {name} section"

    if "error" in section:
        return None, f"{name} could not be read: {_text(section['error'], 'no reason given')}"

    return section, None


def _items(section: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    # PowerShell turns a one-element array into a scalar unless told otherwise.
    items = section.get("items")
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def _percent(used: float, total: float) -> float:
    return round(100.0 * used / total, 2)


def _gib(size: float) -> str:
    return f"{size / 1024**3:.1f} GiB"


def parse_utc(text: Any) -> datetime | None:
    """Parse the probe's ``yyyy-MM-ddTHH:mm:ssZ`` timestamps; None when unusable."""
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def disk_measurements(probe: Mapping[str, Any]) -> list[Measurement]:
    """``windows.disk.usage`` per fixed volume: percent of its space in use."""
    section, reason = _section(probe, "volumes")
    if reason:
        return [_error("windows.disk.usage", "volumes", reason)]

    rows: list[Measurement] = []
    for volume in _items(section):
        name = str(volume.get("name") or "?")
        size, free = volume.get("size_bytes"), volume.get("free_bytes")
        if not isinstance(size, int | float) or not isinstance(free, int | float) or size <= 0:
            rows.append(_error("windows.disk.usage", name, f"volume {name} reports no size"))
            continue

        used = _percent(size - free, size)
        rows.append(
            {
                "id": "windows.disk.usage",
                "subject": name,
                "value": used,
                "unit": "%",
                "message": f"{used:g} % used on {name} ({_gib(free)} free of {_gib(size)})",
                "details": {
                    "label": volume.get("label") or "",
                    "file_system": volume.get("file_system") or "",
                    "size_bytes": size,
                    "free_bytes": free,
                },
            }
        )

    if not rows:
        return [_error("windows.disk.usage", "volumes", "the probe found no fixed volume")]
    return rows


def memory_measurements(probe: Mapping[str, Any]) -> list[Measurement]:
    """``windows.memory.usage``: percent of physical memory in use."""
    section, reason = _section(probe, "memory")
    if reason:
        return [_error("windows.memory.usage", "memory", reason)]

    total, free = section.get("total_kb"), section.get("free_kb")
    if not isinstance(total, int | float) or not isinstance(free, int | float) or total <= 0:
        return [_error("windows.memory.usage", "memory", "the probe reported no memory size")]

    used = _percent(total - free, total)
    return [
        {
            "id": "windows.memory.usage",
            "subject": "memory",
            "value": used,
            "unit": "%",
            "message": f"{used:g} % of {total / 1024**2:.1f} GiB in use",
            "details": {"total_kb": total, "free_kb": free},
        }
    ]


def service_measurements(probe: Mapping[str, Any], required: Sequence[str]) -> list[Measurement]:
    """``windows.service.required`` per required service: running with start type Automatic."""
    if not required:
        return []

    section, reason = _section(probe, "services")
    if reason:
        return [_error("windows.service.required", str(name), reason) for name in required]

    found = {str(item.get("name", "")).lower(): item for item in _items(section)}
    rows: list[Measurement] = []
    for name in required:
        item = found.get(str(name).lower())
        if item is None or not item.get("present"):
            value, message = False, f"service {name!r} is not installed"
            details: dict[str, Any] = {}
        else:
            status, start = str(item.get("status")), str(item.get("start_type"))
            value = status == "Running" and start == "Automatic"
            message = f"service {name!r} is {status} with start type {start}"
            details = {"status": status, "start_type": start}
        rows.append(
            {
                "id": "windows.service.required",
                "subject": str(name),
                "value": value,
                "unit": "",
                "message": message,
                "details": details,
            }
        )
    return rows


def update_measurements(updates: Any) -> list[Measurement]:
    """``windows.updates.pending``: updates found by the search and not yet installed."""
    reason = module_failure(updates, ("updates", "found_update_count"))
    if reason:
        return [_error("windows.updates.pending", "windows-update", reason)]

    found = updates.get("updates")
    if not isinstance(found, Mapping):
        count = updates.get("found_update_count")
        if not isinstance(count, int):
            reason = "win_updates returned neither updates nor found_update_count"
            return [_error("windows.updates.pending", "windows-update", reason)]
        pending: list[Mapping[str, Any]] = []
    else:
        pending = [
            update
            for update in found.values()
            if isinstance(update, Mapping) and not update.get("installed")
        ]
        count = len(pending)

    titles = sorted(str(update.get("title", "?")) for update in pending)
    message = f"{count} update(s) pending"
    if updates.get("reboot_required"):
        message += "; a reboot is required"
    return [
        {
            "id": "windows.updates.pending",
            "subject": "windows-update",
            "value": count,
            "unit": "updates",
            "message": message,
            "details": {
                "titles": titles,
                "reboot_required": bool(updates.get("reboot_required")),
            },
        }
    ]


def firewall_measurements(probe: Mapping[str, Any], profiles: Sequence[str]) -> list[Measurement]:
    """``windows.firewall.enabled`` per required profile (Domain, Private, Public)."""
    section, reason = _section(probe, "firewall")
    if reason:
        return [_error("windows.firewall.enabled", str(name), reason) for name in profiles]

    found = {str(item.get("name", "")).lower(): item for item in _items(section)}
    rows: list[Measurement] = []
    for name in profiles:
        item = found.get(str(name).lower())
        if item is None:
            rows.append(
                _error("windows.firewall.enabled", str(name), f"no firewall profile {name!r}")
            )
            continue

        raw = str(item.get("enabled"))
        enabled = raw.lower() in FIREWALL_ON
        rows.append(
            {
                "id": "windows.firewall.enabled",
                "subject": str(name),
                "value": enabled,
                "unit": "",
                "message": f"firewall profile {name} is {'on' if enabled else 'off'} ({raw})",
                "details": {"enabled": raw},
            }
        )
    return rows


def defender_measurements(probe: Mapping[str, Any], now: datetime | None) -> list[Measurement]:
    """``windows.defender.realtime`` and ``windows.defender.signature_age`` (days)."""
    section, reason = _section(probe, "defender")
    if reason:
        return [
            _error("windows.defender.realtime", "defender", reason),
            _error("windows.defender.signature_age", "defender", reason),
        ]

    realtime = section.get("realtime_enabled")
    if isinstance(realtime, bool):
        state = "on" if realtime else "off"
        antivirus = "on" if section.get("antivirus_enabled") else "off"
        rows: list[Measurement] = [
            {
                "id": "windows.defender.realtime",
                "subject": "defender",
                "value": realtime,
                "unit": "",
                "message": f"real-time protection is {state} (antivirus {antivirus})",
                "details": {"antivirus_enabled": section.get("antivirus_enabled")},
            }
        ]
    else:
        reason = "Defender reported no real-time protection state"
        rows = [_error("windows.defender.realtime", "defender", reason)]

    updated = parse_utc(section.get("signature_updated_utc"))
    if updated is None or now is None:
        reason = "Defender reported no signature date (or the probe no current time)"
        rows.append(_error("windows.defender.signature_age", "defender", reason))
        return rows

    age = round(max((now - updated).total_seconds(), 0.0) / 86400, 2)
    rows.append(
        {
            "id": "windows.defender.signature_age",
            "subject": "defender",
            "value": age,
            "unit": "days",
            "message": f"signatures {section.get('signature_version', '?')} are {age:g} days old",
            "details": {
                "signature_version": section.get("signature_version"),
                "signature_updated_utc": section.get("signature_updated_utc"),
            },
        }
    )
    return rows


def uptime_measurements(probe: Mapping[str, Any], now: datetime | None) -> list[Measurement]:
    """``windows.uptime``: days since the last boot, by the PC's own clock."""
    section, reason = _section(probe, "os")
    if reason:
        return [_error("windows.uptime", "os", reason)]

    booted = parse_utc(section.get("last_boot_utc"))
    if booted is None or now is None:
        return [_error("windows.uptime", "os", "the probe reported no boot or current time")]

    days = round(max((now - booted).total_seconds(), 0.0) / 86400, 2)
    return [
        {
            "id": "windows.uptime",
            "subject": "os",
            "value": days,
            "unit": "days",
            "message": f"up {days:g} days since {section['last_boot_utc']}",
            "details": {
                "last_boot_utc": section["last_boot_utc"],
                "caption": section.get("caption"),
                "build": section.get("build"),
            },
        }
    ]


def is_expected_admin(member: Mapping[str, Any], expected: Sequence[str], computer: str) -> bool:
    """Whether an Administrators member is allowed by the expected list.

    ``CORP\\Domain Admins`` matches that account exactly, a bare ``Administrator`` only a
    local account of this PC (``PC-0101\\Administrator``), ``S-1-...`` a SID. Case-insensitive.
    """
    name = str(member.get("name", "")).lower()
    sid = str(member.get("sid", "")).lower()
    local_prefix = computer.lower() + "\\"
    for entry in expected:
        wanted = str(entry).lower()
        if wanted.startswith("s-1-") and wanted == sid:
            return True
        if "\\" in wanted and wanted == name:
            return True
        if "\\" not in wanted and computer and name == local_prefix + wanted:
            return True
    return False


def admin_measurements(probe: Mapping[str, Any], expected: Sequence[str]) -> list[Measurement]:
    """``windows.admins.unexpected``: members of the local Administrators group not expected."""
    section, reason = _section(probe, "admins")
    if reason:
        return [_error("windows.admins.unexpected", "Administrators", reason)]

    computer = str(probe.get("computer_name") or "")
    members = _items(section)
    unexpected = sorted(
        str(member.get("name") or member.get("sid") or "?")
        for member in members
        if not is_expected_admin(member, expected, computer)
    )
    names = sorted(str(member.get("name") or member.get("sid") or "?") for member in members)
    if unexpected:
        message = f"{len(unexpected)} unexpected member(s): {', '.join(unexpected)}"
    else:
        message = f"{len(members)} member(s), all expected"
    return [
        {
            "id": "windows.admins.unexpected",
            "subject": "Administrators",
            "value": unexpected,
            "unit": "",
            "message": message,
            "details": {"members": names},
        }
    ]


def windows_measurements(
    probe_result: Any,
    updates_result: Any = None,
    required_services: Sequence[str] = (),
    firewall_profiles: Sequence[str] = ("Domain", "Private", "Public"),
    admins_expected: Sequence[str] = (),
) -> list[Measurement]:
    """Every measurement of one PC from the registered win_powershell and win_updates results.

    A probe that failed or never ran gives one ``windows.probe`` error row with the reason
    (plus the updates row when the search did run), so the host always has a row that says
    why it could not be judged.
    """
    rows: list[Measurement] = []
    reason = module_failure(probe_result, ("result",))
    probe = probe_result.get("result") if isinstance(probe_result, Mapping) else None
    if reason is None and not isinstance(probe, Mapping):
        reason = "win_powershell returned no result object (is depth high enough?)"

    if reason is not None or not isinstance(probe, Mapping):
        rows.append(_error(PROBE_CHECK, "host", reason or "no probe result"))
        if isinstance(updates_result, Mapping) and not updates_result.get("skipped"):
            rows.extend(update_measurements(updates_result))
        return rows

    now = parse_utc(probe.get("now_utc"))
    steps: list[Callable[[], list[Measurement]]] = [
        lambda: disk_measurements(probe),
        lambda: memory_measurements(probe),
        lambda: service_measurements(probe, list(required_services or [])),
        lambda: update_measurements(updates_result),
        lambda: firewall_measurements(probe, list(firewall_profiles or [])),
        lambda: defender_measurements(probe, now),
        lambda: uptime_measurements(probe, now),
        lambda: admin_measurements(probe, list(admins_expected or [])),
    ]
    for step in steps:
        rows.extend(step())
    return rows


class FilterModule:
    """Ansible's entry point for the filter plugin."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"opskeeper_windows_measurements": windows_measurements}
