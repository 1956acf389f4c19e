"""`opskeeper backup diff` on a backup repository made in the test."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from runner.cli_network import backup
from runner.netbackup import BackupRepo


def _repo(tmp_path: Path) -> BackupRepo:
    repo = BackupRepo(tmp_path / "backups")
    repo.ensure()
    for reason, community in (("baseline", "oldC0mm"), ("rotate", "newC0mm")):
        repo.file("sw1").write_text(f"hostname sw1\nsnmp-server community {community} RO\nend\n")
        repo.commit_run(["sw1"], "alice", reason, "run")
    return repo


def test_diff_shows_masked_changes(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = CliRunner().invoke(backup, ["diff", "sw1", "--repo", str(repo.path)])
    assert result.exit_code == 0, result.output
    assert "snmp-server community <masked> RO" in result.output
    assert "C0mm" not in result.output


def test_diff_refuses_three_revisions_and_unknown_devices(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    runner = CliRunner()
    three = runner.invoke(backup, ["diff", "sw1", "a", "b", "c", "--repo", str(repo.path)])
    assert three.exit_code == 1 and "at most two revisions" in three.output
    unknown = runner.invoke(backup, ["diff", "sw9", "--repo", str(repo.path)])
    assert unknown.exit_code == 1 and "no backup of 'sw9'" in unknown.output
