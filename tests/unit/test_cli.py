"""The CLI's handling of a user's mistakes: one line, a non-zero exit, nothing written."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from runner.cli import main
from runner.cli_support import EXIT_ERROR
from runner.store import open_store
from runner.store.models import Run

INVENTORY = """\
all:
  children:
    linux:
      hosts:
        web01: {ansible_host: 127.0.0.1, inspect_linux_disk_usage_warn: eighty}
"""


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _runs() -> int:
    with open_store().session() as session:
        return session.scalar(select(func.count()).select_from(Run)) or 0


def test_report_without_runs_is_one_clear_line() -> None:
    code, output = _invoke("report", "daily")
    assert code == EXIT_ERROR
    assert output.strip() == (
        "error: no ended inspect run in the store; run `opskeeper inspect` first"
    )
    assert "Traceback" not in output


def test_report_for_unknown_run() -> None:
    code, output = _invoke("report", "daily", "--run", "20990101T000000Z-abcdef")
    assert code == EXIT_ERROR
    assert "run '20990101T000000Z-abcdef' is not in the store" in output


def test_inspect_with_unknown_limit_host_writes_no_run(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY)
    code, output = _invoke("inspect", "-i", str(inventory), "--limit", "web99")
    assert code == EXIT_ERROR
    assert "--limit: 'web99' matches no host" in output and "known hosts: web01" in output
    assert "[WARNING]" not in output, "Ansible's own warning should not precede the error"
    assert _runs() == 0


def test_inspect_with_missing_inventory(tmp_path: Path) -> None:
    code, output = _invoke("inspect", "-i", str(tmp_path / "nope"))
    assert code == EXIT_ERROR
    assert "does not exist; pass --inventory" in output


def test_inspect_with_a_threshold_that_is_not_a_number_writes_no_run(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY)
    code, output = _invoke("inspect", "-i", str(inventory))
    assert code == EXIT_ERROR
    assert "variable 'inspect_linux_disk_usage_warn' (role inspect_linux) is 'eighty'" in output
    assert "Traceback" not in output
    assert _runs() == 0


def test_inspect_with_a_bad_incident_policy_stops_before_the_run(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    linux:\n      hosts:\n        web01: {}\n")
    (tmp_path / "incident_policy.yml").write_text("severities:\n  P1:\n    respond: -5\n")
    code, output = _invoke("inspect", "-i", str(inventory))
    assert code == EXIT_ERROR
    assert "incident_policy.yml" in output and "severities.P1.respond" in output
    assert "Traceback" not in output
    assert _runs() == 0


def test_runs_on_an_empty_store_says_so() -> None:
    code, output = _invoke("runs", "--kind", "inspect")
    assert code == 0
    assert output.strip() == "no runs in the store yet of kind 'inspect'"
