"""Reconciliation: the census compared with the records, as findings, checks and a patch."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner.cmdb import drift_checks, load_cmdb, reconcile, write_patch
from tests.unit.cmdb.cmdb_support import TODAY

#: What the devices of the example say about themselves: hv02 disagrees with its record,
#: nas01 reports facts the record leaves empty, fs01 does not answer, and one host is new.
CENSUS: dict[str, dict[str, Any]] = {
    "hv01": {
        "serial": "7XK2M33",
        "vendor": "Dell Inc.",
        "model": "PowerEdge R740",
        "os": "Debian",
        "os_version": "12.8",
        "cpus": 32,
        "memory_mb": 257_634,
        "addresses": ["192.0.2.11", "10.10.0.11"],
    },
    "hv02": {
        "serial": "9PL4R99",
        "vendor": "Dell Inc.",
        "model": "PowerEdge R740",
        "os": "Debian",
        "os_version": "11.9",
        "cpus": 32,
        "memory_mb": 257_634,
        "addresses": ["192.0.2.112"],
    },
    "nas01": {"serial": "20B0QWRTY31", "os": "dsm", "os_version": "7.2", "cpus": 4},
    "fs01": {"unreachable": True},
    "vm-db01": {"serial": "VMware-42 1a", "vendor": "QEMU", "os": "debian", "os_version": "12"},
    "pc-0999": {"serial": "8HJ9ZZZ", "vendor": "Dell Inc.", "model": "OptiPlex 7090"},
}
EXPECTED = ["hv01", "hv02", "nas01", "fs01", "vm-db01"]


@pytest.fixture
def findings(example: Path) -> list[tuple[str, str, str | None, Any, Any]]:
    cmdb = load_cmdb(example, today=TODAY)
    return [
        (item.kind, item.asset, item.field, item.recorded, item.found)
        for item in reconcile(cmdb, CENSUS, expected=EXPECTED)
    ]


def test_reconcile_finds_drift_missing_facts_new_and_unreachable_hosts(
    findings: list[tuple[str, str, str | None, Any, Any]],
) -> None:
    assert findings == [
        ("differs", "hv02", "serial", "9PL4R21", "9PL4R99"),
        ("differs", "hv02", "os_version", "12", "11.9"),
        ("differs", "hv02", "management_address", "192.0.2.12", ["192.0.2.112"]),
        ("unreachable", "fs01", None, "in_use", None),
        ("missing", "nas01", "os", None, "dsm"),
        ("missing", "nas01", "os_version", None, "7.2"),
        ("missing", "nas01", "cpus", None, 4),
        ("unrecorded", "pc-0999", None, None, CENSUS["pc-0999"]),
    ]


def test_in_use_hosts_missing_from_the_census_are_unreachable(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)

    found = reconcile(cmdb, {})

    unreachable = {item.asset for item in found if item.kind == "unreachable"}
    assert "hv01" in unreachable and "sw-core01" in unreachable
    assert "bkp01" not in unreachable  # in maintenance
    assert "srv-br02" not in unreachable  # planned
    assert "pc-0103" not in unreachable  # spare
    assert [item.message for item in found if item.asset == "hv01"] == [
        "recorded in_use, but it is not in the census"
    ]


def test_a_known_serial_under_another_name_is_a_name_finding(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)

    [finding] = reconcile(cmdb, {"fileserver": {"serial": "3mn8q54"}}, expected=[])

    assert (finding.kind, finding.asset, finding.field, finding.found) == (
        "differs",
        "fs01",
        "name",
        "fileserver",
    )


def test_drift_checks_say_ok_for_agreement_and_warn_for_drift(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)

    rows = drift_checks(cmdb, CENSUS, expected=EXPECTED)

    assert {row["check_id"] for row in rows} == {"cmdb.drift"}
    by_key = {(row["host"], row["subject"]): row for row in rows}
    assert by_key[("hv01", "serial")]["status"] == "ok"
    assert by_key[("hv01", "memory_mb")]["status"] == "ok"  # within 5 %
    assert by_key[("hv01", "vendor")]["status"] == "ok"  # "Dell Inc." is "Dell"
    assert by_key[("hv02", "serial")] == {
        "check_id": "cmdb.drift",
        "subject": "serial",
        "status": "warn",
        "value": "9PL4R99",
        "unit": None,
        "thresholds": {"expect": "9PL4R21", "status_if_not": "warn"},
        "message": "serial is recorded as '9PL4R21'; the device reports '9PL4R99'",
        "host": "hv02",
    }
    assert by_key[("fs01", "reachable")]["status"] == "warn"
    assert by_key[("pc-0999", "record")]["status"] == "warn"
    assert ("vm-db01", "serial") not in by_key  # a VM's hardware facts are made up


def test_patch_proposes_record_changes_without_touching_the_cmdb(
    example: Path, tmp_path: Path
) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    before = {path: path.read_bytes() for path in example.rglob("*.yml")}

    proposal = write_patch(
        cmdb, reconcile(cmdb, CENSUS, expected=EXPECTED), tmp_path / "census.patch"
    )

    assert {path: path.read_bytes() for path in example.rglob("*.yml")} == before
    assert proposal.patch == tmp_path / "census.patch"
    assert [(item.asset, item.field) for item in proposal.changes] == [
        ("hv02", "serial"),
        ("hv02", "os_version"),
        ("nas01", "os"),
        ("nas01", "os_version"),
        ("nas01", "cpus"),
    ]
    assert [(item.kind, item.asset) for item in proposal.not_proposed] == [
        ("differs", "hv02"),
        ("unreachable", "fs01"),
        ("unrecorded", "pc-0999"),
    ]
    assert proposal.problems == []
    patch = proposal.patch.read_text(encoding="utf-8")
    assert "--- a/assets/hq-servers.yml\n+++ b/assets/hq-servers.yml\n" in patch
    assert "-    serial: 9PL4R21\n+    serial: 9PL4R99\n" in patch
    assert '+    system: {os: debian, os_version: "11.9", cpus: 32, memory_mb: 262144}\n' in patch
    assert "+    system:\n+      os: dsm\n+      os_version: '7.2'\n+      cpus: 4\n" in patch


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_patch_applies_and_gives_a_valid_cmdb(example: Path, tmp_path: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    proposal = write_patch(
        cmdb, reconcile(cmdb, CENSUS, expected=EXPECTED), tmp_path / "census.patch"
    )
    assert proposal.patch is not None

    subprocess.run(["git", "init", "-q", str(example)], check=True)
    subprocess.run(
        ["git", "-C", str(example), "apply", str(proposal.patch)], check=True, capture_output=True
    )

    applied = load_cmdb(example, today=TODAY)
    assert applied.by_name["hv02"].record.serial == "9PL4R99"
    nas = applied.by_name["nas01"].record
    assert nas.system is not None and (nas.system.os, nas.system.cpus) == ("dsm", 4)
    assert reconcile(applied, {"nas01": CENSUS["nas01"]}, expected=[]) == []


def test_a_patch_that_would_break_the_cmdb_says_so(example: Path, tmp_path: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    census = {"hv02": {"serial": "7XK2M33"}}  # hv01's serial

    proposal = write_patch(cmdb, reconcile(cmdb, census, expected=[]), tmp_path / "p.patch")

    assert proposal.patch is not None
    assert [problem.text.split(";")[0] for problem in proposal.problems] == [
        "asset 'hv02' (A-1002): field 'serial' is '7XK2M33'"
    ]


def test_nothing_to_propose_writes_no_file(example: Path, tmp_path: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)

    proposal = write_patch(cmdb, reconcile(cmdb, {}, expected=[]), tmp_path / "p.patch")

    assert proposal.patch is None and proposal.diff == ""
    assert not (tmp_path / "p.patch").exists()


#: What the example's switches would say: sw-core01 agrees with its record (IOS XE 17.9.4
#: against a recorded 17.9), sw-acc01 has had its chassis swapped and its IOS upgraded.
SWITCH_CENSUS: dict[str, dict[str, Any]] = {
    "sw-core01": {
        "vendor": "Cisco",
        "model": "C9300-48P",
        "serial": "FOC2231X0AB",
        "os": "ios-xe",
        "os_version": "17.9.4",
        "addresses": ["192.0.2.2", "10.99.0.1"],
    },
    "sw-acc01": {
        "vendor": "Cisco",
        "model": "C9200-24P",
        "serial": "FOC9999Z0ZZ",
        "os": "ios-xe",
        "os_version": "17.12.1",
    },
}


def test_switch_records_compared_with_their_census(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    found = {
        (item.asset, item.field): (item.kind, item.recorded, item.found)
        for item in reconcile(cmdb, SWITCH_CENSUS, expected=list(SWITCH_CENSUS))
    }
    assert found == {
        ("sw-acc01", "serial"): ("differs", "FOC2302Y1CD", "FOC9999Z0ZZ"),
        ("sw-acc01", "os_version"): ("differs", "17.9", "17.12.1"),
    }


def test_the_host_name_the_device_reports_is_compared_with_the_asset_name(
    example: Path,
) -> None:
    cmdb = load_cmdb(example, today=TODAY)
    census = {
        "hv01": {"hostname": "hv01.corp.example"},  # fully qualified: its first label counts
        "hv02": {"hostname": "old-hv02"},
    }

    rows = {
        row["host"]: row
        for row in drift_checks(cmdb, census, expected=[])
        if row["subject"] == "hostname"
    }

    assert rows["hv01"]["status"] == "ok"
    assert rows["hv02"]["status"] == "warn"
    assert rows["hv02"]["message"] == (
        "the device calls itself 'old-hv02', not 'hv02': rename the host or the record"
    )
    proposal_fields = [item.field for item in reconcile(cmdb, census, expected=[])]
    assert proposal_fields == ["hostname"]


def test_the_controller_is_not_compared_by_host_name(example: Path) -> None:
    cmdb = load_cmdb(example, today=TODAY)

    assert reconcile(cmdb, {"ops01": {"hostname": "build-box"}}, expected=[]) == []
