"""The lab runs from its CMDB: a record that disagrees with its host or switch shows as drift
in the nightly inspection, in the census of `cmdb reconcile` (with a proposed patch) and in
the asset report; a lab host without a record is found by the discovery sweep."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from runner import config
from runner.lab import Lab
from tests.integration.support import opskeeper

SERVERS = ["lab-srv01", "lab-srv02", "lab-srv03"]
RECORD = '    management_address: 127.0.10.2\n    system: {os: debian, os_version: "12",'
PLANTED = '    management_address: 127.0.10.2\n    system: {os: debian, os_version: "11",'
#: sw-lab02's record names another chassis than the one that answers (LABSIM0002).
SWITCH_RECORD, SWITCH_PLANTED = "    serial: LABSIM0002\n", "    serial: LABSIM0099\n"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, store_url: str) -> Path:
    """A copy of the lab's CMDB whose record of lab-srv02 says Debian 11 and whose record of
    sw-lab02 has another serial."""
    Lab().up(3)
    copy = tmp_path_factory.mktemp("cmdb") / "lab"
    shutil.copytree(
        config.REPO_ROOT / "inventory" / "lab", copy, ignore=shutil.ignore_patterns("generated-*")
    )
    records = copy / "assets" / "lab.yml"
    text = records.read_text()
    assert RECORD in text
    records.write_text(text.replace(RECORD, PLANTED))
    network = copy / "assets" / "network.yml"
    text = network.read_text()
    assert text.count(SWITCH_RECORD) == 1
    network.write_text(text.replace(SWITCH_RECORD, SWITCH_PLANTED))
    return copy


def _json_report(output: str) -> dict:
    path = next(line.split()[-1] for line in output.splitlines() if line.strip().endswith(".json"))
    return json.loads(Path(path).read_text())


def test_the_lab_cmdb_is_valid() -> None:
    result = opskeeper("cmdb", "validate", str(config.REPO_ROOT / "inventory" / "lab"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (8 assets, 6 inventory hosts, 1 spare parts" in result.stdout


def test_drift_is_a_verdict_of_the_nightly_inspection(planted: Path, reports: Path) -> None:
    result = opskeeper("inspect", "-i", str(planted), "-o", str(reports))
    # 3: the simulated switches cannot answer every network check (docs/NETWORK.md).
    assert result.returncode in (0, 3), result.stdout + result.stderr
    report = _json_report(result.stdout)
    drift = {
        (host["name"], check["subject"], check["status"])
        for host in report["hosts"]
        for check in host["checks"]
        if check["check_id"] == "cmdb.drift"
    }
    warned = {item for item in drift if item[2] != "ok"}
    assert warned == {("lab-srv02", "os_version", "warn"), ("sw-lab02", "serial", "warn")}
    assert {("lab-srv01", "os_version", "ok"), ("lab-srv02", "reachable", "ok")} <= drift
    # The switches' census (show version) agrees with their records field by field.
    assert {
        ("sw-lab01", field, "ok")
        for field in ("reachable", "serial", "vendor", "model", "os", "os_version")
    } <= drift
    assert {("sw-lab02", "model", "ok"), ("sw-lab02", "os_version", "ok")} <= drift
    stock = next(h for h in report["hosts"] if h["name"] == "cmdb")["checks"]
    assert [(c["check_id"], c["subject"], c["status"]) for c in stock] == [
        ("cmdb.spares.stock", "LAB-NVME-1T", "ok")
    ]


def test_reconcile_proposes_a_patch_and_writes_the_asset_report(
    planted: Path, reports: Path
) -> None:
    before = (planted / "assets" / "lab.yml").read_bytes()
    network_before = (planted / "assets" / "network.yml").read_bytes()
    result = opskeeper("cmdb", "reconcile", "-i", str(planted), "--propose", "-o", str(reports))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "differs  lab-srv02: os_version is recorded as '11'; the device reports '12" in (
        result.stdout
    )
    assert (
        "differs  sw-lab02: serial is recorded as 'LABSIM0099'; the device reports 'LABSIM0002'"
        in result.stdout
    )
    assert "2 findings" in result.stdout
    assert (planted / "assets" / "lab.yml").read_bytes() == before  # never rewritten
    assert (planted / "assets" / "network.yml").read_bytes() == network_before

    patch = next(reports.glob("cmdb-*.patch")).read_text()
    assert '-    system: {os: debian, os_version: "11"' in patch
    assert '+    system: {os: debian, os_version: "12.' in patch
    assert "-    serial: LABSIM0099\n+    serial: LABSIM0002\n" in patch

    csv_path = next(reports.glob("assets-*.csv"))
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(csv_path.read_text()))}
    assert rows["lab-srv02"]["drift"].startswith("os_version is recorded as '11'")
    assert rows["sw-lab02"]["drift"].startswith("serial is recorded as 'LABSIM0099'")
    assert all(
        rows[name]["drift"] == "" for name in ("lab-srv01", "lab-srv03", "control-node", "sw-lab01")
    )
    html = next(reports.glob("assets-*.html")).read_text()
    assert "2 asset(s) whose record disagrees with the device" in html


#: A lab host that no record names, on an address inside the lab's discovery network
#: (127.0.10.0/27) that the lab itself does not use.
STRAY, STRAY_INDEX, STRAY_ADDRESS = "lab-stray", 20, "127.0.10.20"


def test_a_host_without_a_record_is_found_by_the_discovery_sweep(
    planted: Path, reports: Path
) -> None:
    started = opskeeper("lab", "host-up", STRAY, "--index", str(STRAY_INDEX))
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        result = opskeeper("cmdb", "reconcile", "-i", str(planted), "-o", str(reports))
    finally:
        stopped = opskeeper("lab", "host-down", STRAY)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert result.returncode == 0, result.stdout + result.stderr

    line = next(
        (text for text in result.stdout.splitlines() if f"unrecorded  {STRAY_ADDRESS}:" in text),
        None,
    )
    assert line is not None, result.stdout
    assert "answers on TCP port 2222 (SSH-2.0-OpenSSH" in line
    assert "no asset has this address" in line
    # Only the stray: the lab's own hosts and switches are recorded.
    assert result.stdout.count("unrecorded  ") == 1, result.stdout
    assert (
        "discovery: 127.0.10.0/27, 127.0.20.0/29 on TCP 2222: 1 address found but not recorded"
        in result.stdout
    )
    assert "not covered" not in result.stdout  # the census has a play for every lab host

    csv_path = next(reports.glob("assets-*.csv"))
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
    [stray] = [row for row in rows if row["management_address"] == STRAY_ADDRESS]
    assert stray["census"] == "found but not recorded" and stray["name"] == ""
    assert "answers on TCP port 2222" in stray["drift"]
    html = next(reports.glob("assets-*.html")).read_text()
    assert f'<td class="warn">{STRAY_ADDRESS}</td>' in html


def test_a_stopped_host_is_unreachable_in_the_census(planted: Path, reports: Path) -> None:
    lab = Lab()
    lab.stop_host("lab-srv03")
    try:
        result = opskeeper("cmdb", "reconcile", "-i", str(planted), "-o", str(reports))
    finally:
        lab.start_host("lab-srv03", 3)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unreachable  lab-srv03: recorded in_use, but it could not be reached" in result.stdout
