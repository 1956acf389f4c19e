"""Reconciliation: comparing the CMDB's records with what the devices say (the census).

The census maps an inventory host name to the facts gathered from it::

    {"serial", "vendor", "model", "os", "os_version", "cpus", "memory_mb",
     "addresses": [...], "unreachable": bool}

Any fact may be missing or null (a switch reports no memory size); it is then not
compared. A finding is one of:

* ``differs``: a recorded field disagrees with the device;
* ``missing``: the device reports a field the record leaves empty;
* ``unrecorded``: the census found a host that the CMDB does not have;
* ``unreachable``: an asset in use (a host, neither in maintenance nor planned) that the
  census could not reach or did not list;
* ``not_covered``: an asset in use that is a host, but that no play of the census targets
  (there is no probe for its platform): it was not compared, which is not the same as
  not reachable;
* ``unrecorded`` also for an address that answered the discovery sweep
  (:mod:`runner.cmdb.discovery`) and that is no asset's management address nor an address
  a census host reported.

How values are compared, so that noise is not drift: text without regard to case and
surrounding space; vendors without company suffixes ("Dell Inc." is "Dell"); an OS
version as recorded may be a prefix ("12" matches "12.5"); memory within 5 % (the kernel
reports less than what is installed); the management address must be one of the
addresses found; the host name a device with a management address reports must be the
asset's name (or its first label, for a fully qualified name). Serial, vendor and model of
VMs are not compared (the hypervisor makes them up). Nothing here changes the CMDB:
:func:`write_patch` writes a patch for a person to review and apply.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import config
from runner.cmdb.checks import CheckRow
from runner.cmdb.discovery import Answer
from runner.cmdb.edit import Edit, RecordRef
from runner.cmdb.inventory import is_targeted
from runner.cmdb.load import Cmdb, ValidAsset, check_cmdb
from runner.cmdb.model import Asset
from runner.cmdb.source import Problem, show
from runner.fsutil import write_atomic

log = logging.getLogger(__name__)

#: Fields compared, where each lives in the record (top level or under ``system``).
FIELDS: dict[str, tuple[str, ...]] = {
    "serial": ("serial",),
    "vendor": ("vendor",),
    "model": ("model",),
    "os": ("system", "os"),
    "os_version": ("system", "os_version"),
    "cpus": ("system", "cpus"),
    "memory_mb": ("system", "memory_mb"),
}

#: Relative difference of memory sizes that is not drift.
MEMORY_TOLERANCE = 0.05

#: Serial numbers that firmware reports when nobody set one.
_PLACEHOLDER_SERIALS = frozenset(
    {
        "",
        "none",
        "0",
        "n/a",
        "not specified",
        "default string",
        "to be filled by o.e.m.",
        "system serial number",
        "0123456789",
    }
)
_COMPANY_WORDS = frozenset({"inc", "corp", "corporation", "ltd", "co", "gmbh", "llc", "ag", "sa"})
_HARDWARE_FIELDS = frozenset({"serial", "vendor", "model"})


@dataclass(frozen=True)
class Finding:
    """One disagreement between the CMDB and the census."""

    kind: str
    asset: str
    field: str | None
    recorded: Any
    found: Any
    message: str


@dataclass(frozen=True)
class Comparison:
    """One compared fact of one asset, agreeing or not (checks need both)."""

    asset: str
    field: str
    recorded: Any
    found: Any
    agrees: bool
    finding: Finding | None = None


def _vendor(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", text.casefold()).split()
    return " ".join(word for word in words if word not in _COMPANY_WORDS)


def _same(name: str, recorded: Any, found: Any) -> bool:
    if name == "vendor":
        return _vendor(str(recorded)) == _vendor(str(found))
    if name == "os_version":
        want, got = str(recorded).strip().casefold(), str(found).strip().casefold()
        return got == want or got.startswith(want + ".")
    if name == "memory_mb":
        try:
            return abs(int(found) - int(recorded)) <= MEMORY_TOLERANCE * int(recorded)
        except (TypeError, ValueError):
            return False
    if name == "cpus":
        return str(recorded).strip() == str(found).strip()
    return str(recorded).strip().casefold() == str(found).strip().casefold()


def _usable(name: str, value: Any) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return False
    return not (name == "serial" and str(value).strip().casefold() in _PLACEHOLDER_SERIALS)


def _recorded(item: ValidAsset, name: str) -> Any:
    value: Any = item.record
    for part in FIELDS[name]:
        value = getattr(value, part, None) if value is not None else None
    return value


def _compare_asset(item: ValidAsset, facts: Mapping[str, Any]) -> list[Comparison]:
    asset = item.record
    results = []
    for name in FIELDS:
        if asset.kind == "vm" and name in _HARDWARE_FIELDS:
            continue
        found = facts.get(name)
        if not _usable(name, found):
            continue
        recorded = _recorded(item, name)
        if recorded is None:
            message = f"{name} is not recorded; the device reports {show(found)}"
            finding = Finding("missing", asset.name, name, None, found, message)
            results.append(Comparison(asset.name, name, None, found, False, finding))
        elif _same(name, recorded, found):
            results.append(Comparison(asset.name, name, recorded, found, True))
        else:
            message = f"{name} is recorded as {show(recorded)}; the device reports {show(found)}"
            finding = Finding("differs", asset.name, name, recorded, found, message)
            results.append(Comparison(asset.name, name, recorded, found, False, finding))

    hostname = facts.get("hostname")
    # The controller itself (no address, connection local) is named by the record alone:
    # its host name is the machine's, whatever the inventory calls it.
    if asset.management_address is not None and isinstance(hostname, str) and hostname.strip():
        found_name = hostname.strip()
        agrees = asset.name.casefold() in (
            found_name.casefold(),
            found_name.split(".")[0].casefold(),
        )
        wrong: Finding | None = None
        if not agrees:
            wrong = Finding(
                "differs",
                asset.name,
                "hostname",
                asset.name,
                found_name,
                f"the device calls itself {found_name!r}, not {asset.name!r}: "
                "rename the host or the record",
            )
        results.append(Comparison(asset.name, "hostname", asset.name, found_name, agrees, wrong))

    addresses = [str(address) for address in facts.get("addresses") or []]
    recorded_address = asset.management_address
    if addresses and recorded_address is not None and _is_ip(recorded_address):
        agrees = recorded_address in addresses
        mismatch: Finding | None = None
        if not agrees:
            mismatch = Finding(
                "differs",
                asset.name,
                "management_address",
                recorded_address,
                addresses,
                f"management_address {recorded_address} is not among the device's addresses "
                f"({', '.join(addresses)})",
            )
        results.append(
            Comparison(
                asset.name, "management_address", recorded_address, addresses, agrees, mismatch
            )
        )
    return results


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def compare(
    cmdb: Cmdb, census: Mapping[str, Mapping[str, Any]], expected: Iterable[str] | None = None
) -> list[Comparison]:
    """Every comparison of records with the census, agreeing or not.

    ``expected`` names the hosts the census was meant to reach (default: every asset in
    use that is a host); only those can be ``unreachable``.
    """
    results: list[Comparison] = []
    wanted = set(expected) if expected is not None else None
    serials = {
        item.record.serial.casefold(): item.record.name
        for item in cmdb.assets
        if item.record.serial
    }

    for item in cmdb.assets:
        asset = item.record
        facts = census.get(asset.name)
        should_answer = (
            asset.name in wanted
            if wanted is not None
            else is_targeted(asset) and asset.state == "in_use"
        )
        if facts is None or facts.get("unreachable"):
            if should_answer:
                why = "could not be reached" if facts is not None else "is not in the census"
                finding = Finding(
                    "unreachable",
                    asset.name,
                    None,
                    asset.state,
                    None,
                    f"recorded {asset.state}, but it {why}",
                )
                results.append(Comparison(asset.name, "reachable", True, False, False, finding))
            continue
        if should_answer:
            results.append(Comparison(asset.name, "reachable", True, True, True))
        results += _compare_asset(item, facts)

    for name in sorted(set(census) - set(cmdb.by_name)):
        facts = census[name]
        serial = str(facts.get("serial") or "").casefold()
        known_as = serials.get(serial) if _usable("serial", serial) else None
        if known_as is not None:
            message = (
                f"found as {name!r}, but its serial {facts.get('serial')} is recorded on "
                f"{known_as!r}: rename the host or the record"
            )
            finding = Finding("differs", known_as, "name", known_as, name, message)
            results.append(Comparison(known_as, "name", known_as, name, False, finding))
            continue
        message = "found by the census, but the CMDB has no record of it: add one"
        finding = Finding("unrecorded", name, None, None, dict(facts), message)
        results.append(Comparison(name, "record", None, name, False, finding))
    return results


def reconcile(
    cmdb: Cmdb, census: Mapping[str, Mapping[str, Any]], expected: Iterable[str] | None = None
) -> list[Finding]:
    """Where the CMDB and the census disagree (see the module's description)."""
    return [item.finding for item in compare(cmdb, census, expected) if item.finding]


def drift_checks(
    cmdb: Cmdb, census: Mapping[str, Mapping[str, Any]], expected: Iterable[str] | None = None
) -> list[CheckRow]:
    """One ``cmdb.drift`` check per compared asset and field: ``ok`` when they agree,
    ``warn`` when not, so that a fixed record resolves yesterday's warning."""
    rows: list[CheckRow] = []
    for item in compare(cmdb, census, expected):
        message = item.finding.message if item.finding else f"{item.field} matches the record"
        rows.append(
            {
                "check_id": "cmdb.drift",
                "subject": item.field,
                "status": "ok" if item.agrees else "warn",
                "value": item.found,
                "unit": None,
                "thresholds": {"expect": item.recorded, "status_if_not": "warn"},
                "message": message,
                "host": item.asset,
            }
        )
    return rows


def coverage_gap(asset: Asset) -> str:
    """Why the census does not compare an asset, in a few words."""
    if asset.platform is not None:
        return f"not covered by the census (no probe for platform {asset.platform})"
    return f"not covered by the census (no probe for a {asset.kind} without a platform)"


def not_covered(
    cmdb: Cmdb, covered: Iterable[str], scope: Iterable[str] | None = None
) -> list[Finding]:
    """The assets in use that are hosts but that no census play targeted.

    ``covered`` names the hosts the census run targeted; ``scope`` the hosts it was asked
    about (its ``--limit``; default: every host). They are expected to answer, like every
    asset in use, but there is no probe for their platform: saying so is not the same as
    calling them unreachable.
    """
    targeted = set(covered)
    wanted = set(scope) if scope is not None else None
    findings = []
    for item in cmdb.assets:
        asset = item.record
        if not is_targeted(asset) or asset.state != "in_use" or asset.name in targeted:
            continue
        if wanted is not None and asset.name not in wanted:
            continue
        findings.append(
            Finding(
                "not_covered",
                asset.name,
                None,
                asset.platform,
                None,
                f"recorded in_use, but {coverage_gap(asset)}: it was not compared",
            )
        )
    return findings


def known_addresses(cmdb: Cmdb, census: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every address that belongs to a recorded asset: management addresses (of any state:
    a spare switch that answers is recorded) and the addresses census hosts reported."""
    known = set()
    for item in cmdb.assets:
        address = item.record.management_address
        if address is not None and _is_ip(address):
            known.add(str(ipaddress.ip_address(address)))
    for facts in census.values():
        for address in facts.get("addresses") or []:
            if _is_ip(str(address)):
                known.add(str(ipaddress.ip_address(str(address))))
    return known


def unrecorded_addresses(
    cmdb: Cmdb, answers: Iterable[Answer], census: Mapping[str, Mapping[str, Any]]
) -> list[Finding]:
    """The addresses that answered the discovery sweep but belong to no record."""
    known = known_addresses(cmdb, census)
    findings = []
    for answer in sorted(answers, key=lambda a: ipaddress.ip_address(a.address)):
        if answer.address in known:
            continue
        ports = ", ".join(str(port) for port in answer.ports)
        said = f" ({answer.banner})" if answer.banner else ""
        message = (
            f"answers on TCP port{'s' if len(answer.ports) != 1 else ''} {ports}{said}, but "
            "no asset has this address: add a record, or find out what it is"
        )
        found = {"ports": list(answer.ports), "banner": answer.banner}
        findings.append(Finding("unrecorded", answer.address, "address", None, found, message))
    return findings


def census_checks(findings: Iterable[Finding]) -> list[CheckRow]:
    """Check rows for what a census run could not compare: ``cmdb.coverage`` for an asset
    no census play covers, ``cmdb.unrecorded`` for an address found by the sweep. Both are
    ``warn``: someone has to write a record or a probe."""
    rows: list[CheckRow] = []
    for finding in findings:
        if finding.kind == "not_covered":
            check_id, subject, value = "cmdb.coverage", "census", finding.recorded
            expect = "a census play for the platform"
        elif finding.kind == "unrecorded" and finding.field == "address":
            check_id, subject, value = "cmdb.unrecorded", "address", finding.found
            expect = "a record with this management_address"
        else:
            continue
        rows.append(
            {
                "check_id": check_id,
                "subject": subject,
                "status": "warn",
                "value": value,
                "unit": None,
                "thresholds": {"expect": expect, "status_if_not": "warn"},
                "message": finding.message,
                "host": finding.asset,
            }
        )
    return rows


@dataclass
class Proposal:
    """The record changes a census suggests, as a patch, and what it leaves to a person."""

    patch: Path | None
    diff: str
    changes: list[Finding] = field(default_factory=list)
    not_proposed: list[Finding] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def write_patch(
    cmdb: Cmdb, findings: Iterable[Finding], out: Path, base: Path | None = None
) -> Proposal:
    """Write the suggested record changes as a unified diff to ``out``; change no CMDB file.

    Fields the census can correct (serial, vendor, model and the ``system`` facts) become
    changes in the patch; the rest (addresses, names, unrecorded and unreachable assets)
    needs a person and is returned in ``not_proposed``. Paths in the patch are relative to
    ``base`` (the repository when the CMDB is inside it, else the CMDB folder), for
    ``git apply`` or ``patch -p1`` there. ``problems`` lists what would be wrong with the
    CMDB after the patch (a serial found that another record already has, say). No file
    is written when nothing can be proposed.
    """
    if base is None:
        inside = config.REPO_ROOT in cmdb.root.parents
        base = config.REPO_ROOT if inside else cmdb.root
    edit = Edit()
    proposal = Proposal(None, "")
    for finding in findings:
        if finding.kind not in ("differs", "missing") or finding.field not in FIELDS:
            proposal.not_proposed.append(finding)
            continue
        item = cmdb.by_name[finding.asset]
        where = RecordRef("assets", item.entry.index, "name", item.record.name)
        edit.document(item.entry.file).set_path(where, FIELDS[finding.field], finding.found)
        proposal.changes.append(finding)

    proposal.diff = edit.diff(base)
    if not proposal.diff:
        return proposal
    _, proposal.problems = check_cmdb(cmdb.config_file, texts=edit.texts())
    proposal.patch = write_atomic(out, proposal.diff)
    log.info("patch with %d record changes written to %s", len(proposal.changes), out)
    return proposal
