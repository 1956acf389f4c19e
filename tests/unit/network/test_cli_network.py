"""`opskeeper backup diff` on a backup repository made in the test."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from runner.cli_network import backup
from runner.netbackup import BackupRepo
from runner.store import Store
from runner.store.db import ResultRow


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


def _backup_run(store: Store, run_id: str, rows: list[ResultRow]) -> None:
    hosts = sorted({row.host for row in rows})
    store.start_run(run_id, "backup", "backup_network.yml", "manual", "alice", "inv", None, hosts)
    store.add_results(run_id, rows)
    outcomes = {row.host: ("ok", None) for row in rows}
    store.finish_run(run_id, "finished", 0, outcomes)


def test_log_lists_backup_runs_newest_first_with_each_device(store: Store) -> None:
    changed = "net.config.changed"
    _backup_run(
        store,
        "20261201T020000Z-aaaaaa",
        [
            ResultRow("sw1", changed, "running-config", "ok", 0, "lines", None, "unchanged, c1"),
            ResultRow("sw2", changed, "running-config", "ok", 2, "lines", None, "2 changed, c1"),
        ],
    )
    _backup_run(
        store,
        "20261202T020000Z-bbbbbb",
        [
            ResultRow("sw1", changed, "running-config", "ok", 1, "lines", None, "1 changed, c2"),
            ResultRow("sw2", "net.login", "", "error", None, None, None, "login refused"),
        ],
    )
    runner = CliRunner()

    every = runner.invoke(backup, ["log"])
    assert every.exit_code == 0, every.output
    assert every.output.index("bbbbbb") < every.output.index("aaaaaa")
    assert "sw2: login refused" in every.output and "sw2: 2 changed, c1" in every.output

    one = runner.invoke(backup, ["log", "sw1", "-n", "1"])
    assert one.exit_code == 0, one.output
    assert "bbbbbb" in one.output and "aaaaaa" not in one.output
    assert "sw1: 1 changed, c2" in one.output and "sw2" not in one.output


def test_log_without_backups_says_what_to_do(store: Store) -> None:
    result = CliRunner().invoke(backup, ["log", "sw9"])
    assert result.exit_code == 1
    assert "no backup run of 'sw9' in the store; run `opskeeper backup network` first" in (
        result.output
    )
