"""Masking (table-driven), the git backup repository, and drift against the newest backup."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml

from runner import netbackup
from runner.netbackup import MASK, BackupRepo, BackupRun, mask
from tests.unit.network.conftest import DATA, recorded

CASES = yaml.safe_load((DATA / "masking.yml").read_text())
SECRET_CONFIG = """hostname sw-lab01
enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0
username admin privilege 15 secret 5 $1$xyz$abcdef
snmp-server community pUbl1cRO RO
interface GigabitEthernet0/1
 description uplink
end
"""


@pytest.mark.parametrize("case", CASES, ids=[c["line"][:40] for c in CASES])
def test_mask(case: dict[str, str]) -> None:
    assert mask(case["line"]) == case["shown"]


def test_mask_hides_certificate_bodies() -> None:
    text = (
        "crypto pki certificate chain TP\n certificate self-signed 01\n  3082 0252 A003\n  quit\n"
    )
    assert mask(text).splitlines() == [
        "crypto pki certificate chain TP",
        " certificate self-signed 01",
        f"  {MASK}",
        "  quit",
    ]


def _save(repo: BackupRepo, device: str, text: str) -> None:
    repo.ensure()
    repo.file(device).write_text(text)


def test_one_commit_per_run_and_diffs_between_revisions(tmp_path: Path) -> None:
    repo = BackupRepo(tmp_path / "backups")
    _save(repo, "sw1", SECRET_CONFIG)
    first = repo.commit_run(["sw1"], "alice", "baseline", "run-1")
    _save(repo, "sw1", SECRET_CONFIG.replace(" description uplink", " description to core"))
    second = repo.commit_run(["sw1"], "bob", "change 42", "run-2")

    assert first.changed == {"sw1": 7}
    assert second.changed == {"sw1": 2}
    log = subprocess.run(
        ["git", "-C", str(repo.path), "log", "--format=%s"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert log == [
        "Backup of 1 device(s) by bob: change 42",
        "Backup of 1 device(s) by alice: baseline",
    ]

    diff = repo.diff("sw1")
    assert "- description uplink" in diff and "+ description to core" in diff
    assert repo.diff("sw1", first.commit, second.commit) == diff
    assert repo.diff("sw1", second.commit, second.commit) == ""
    # The backup keeps the secret; what is shown never does.
    assert "$1$mERr$" in repo.show(first.commit, "sw1")


def test_diff_masks_secrets_that_changed(tmp_path: Path) -> None:
    repo = BackupRepo(tmp_path / "backups")
    _save(repo, "sw1", SECRET_CONFIG)
    repo.commit_run(["sw1"], "alice", "baseline", "run-1")
    _save(repo, "sw1", SECRET_CONFIG.replace("pUbl1cRO", "n3wS3cret"))
    repo.commit_run(["sw1"], "alice", "rotate", "run-2")
    diff = repo.diff("sw1")
    assert "pUbl1cRO" not in diff and "n3wS3cret" not in diff and "$1$" not in diff
    # A changed secret still shows as a change, masked on both sides.
    assert "-snmp-server community <masked> RO" in diff
    assert "+snmp-server community <masked> RO" in diff
    assert netbackup.changed_lines(
        SECRET_CONFIG, SECRET_CONFIG.replace("pUbl1cRO", "n3wS3cret")
    ) == ["-snmp-server community <masked> RO", "+snmp-server community <masked> RO"]


def test_unknown_device_and_revision_are_clear_errors(tmp_path: Path) -> None:
    repo = BackupRepo(tmp_path / "backups")
    with pytest.raises(netbackup.BackupError, match="no backup of 'sw9'"):
        repo.diff("sw9")
    _save(repo, "sw1", SECRET_CONFIG)
    repo.commit_run(["sw1"], "alice", "baseline", "run-1")
    with pytest.raises(netbackup.BackupError, match="revision 'nope'"):
        repo.diff("sw1", "nope")
    with pytest.raises(netbackup.BackupError, match="cannot name a backup file"):
        repo.file("../etc/passwd")


def test_a_failing_device_still_commits_the_others(tmp_path: Path) -> None:
    repo = BackupRepo(tmp_path / "backups")
    _save(repo, "sw2", "hostname sw2\nend\n")
    repo.commit_run(["sw2"], "alice", "baseline", "run-1")
    spec = SimpleNamespace(started_by="carol")
    run = BackupRun(spec, repo, "nightly")  # type: ignore[arg-type]
    run.started = time.time() - 1
    # This run reached sw1 and sw3 only; sw2 answered but its fetch failed (file untouched).
    _save(repo, "sw1", "hostname sw1\nend\n")
    _save(repo, "sw3", "hostname sw3\nend\n")
    old = time.time() - 3600
    os.utime(repo.file("sw2"), (old, old))
    sink: Any = SimpleNamespace(
        run_id="run-2",
        outcomes={
            "sw1": ("ok", None),
            "sw2": ("ok", None),
            "sw3": ("ok", None),
            "sw4": ("unreachable", "x"),
        },
    )
    rows = run.finalize(sink)

    assert [(r.host, r.check_id, r.status, r.value) for r in rows] == [
        ("sw1", "net.config.changed", "ok", 2),
        ("sw3", "net.config.changed", "ok", 2),
    ]
    assert run.commit is not None and run.commit.commit[:12] in (rows[0].message or "")
    assert repo.show(run.commit.commit, "sw1") == "hostname sw1\nend\n"
    assert repo.revisions("sw2") != repo.revisions("sw1")


def test_drift_against_the_newest_backup(tmp_path: Path, probe: ModuleType) -> None:
    running = recorded("sim_show_running-config")
    missing = probe.drift_measurement(running, str(tmp_path / "none"), "sw-lab01")
    assert "opskeeper backup network" in missing["error"]

    repo = BackupRepo(tmp_path / "backups")
    _save(repo, "sw-lab01", running)
    repo.commit_run(["sw-lab01"], "alice", "baseline", "run-1")
    same = probe.drift_measurement(
        running.replace("Current configuration : 800 bytes", "Current configuration : 801 bytes"),
        str(repo.path),
        "sw-lab01",
    )
    assert same["value"] == 0

    changed = running.replace(
        "interface GigabitEthernet0/1\n", "interface GigabitEthernet0/1\n description to sw-lab02\n"
    )
    row = probe.drift_measurement(changed, str(repo.path), "sw-lab01")
    assert row["value"] == 1
    assert row["details"]["changes"] == ["+ description to sw-lab02"]


def test_the_backup_repository_is_under_the_state_folder_unless_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from runner import config

    monkeypatch.delenv(config.NETWORK_BACKUP_DIR_ENV, raising=False)
    assert netbackup.default_repo() == config.state_dir() / "network-backups"
    monkeypatch.setenv(config.NETWORK_BACKUP_DIR_ENV, str(tmp_path / "elsewhere"))
    assert netbackup.default_repo() == (tmp_path / "elsewhere").resolve()


def test_a_changed_secret_anywhere_in_a_line_is_a_masked_change() -> None:
    old = "router bgp 65000\n neighbor 10.1.1.1 password 7 BGPPW\n"
    new = "router bgp 65000\n neighbor 10.1.1.1 password 7 N3WPW with space\n"
    assert netbackup.changed_lines(old, new) == [
        "- neighbor 10.1.1.1 password 7 <masked>",
        "+ neighbor 10.1.1.1 password 7 <masked>",
    ]
