"""playbooks/inspect.yml with role inspect_linux, run for real against this machine.

The probe and the judge together: every check id gets a row, check mode changes nothing,
a bad threshold or a probe that cannot start still leaves rows instead of a failed host.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
PLAYBOOK = REPO / "playbooks" / "inspect.yml"
EVERY_HOST_CHECK = {
    "linux.load.per_core",
    "linux.memory.usage",
    "linux.swap.usage",
    "linux.disk.usage",
    "linux.disk.inodes",
    "linux.service.failed",
    "linux.time.sync",
    "linux.uptime",
    "linux.reboot.required",
    "linux.updates.pending",
    "linux.updates.security",
    "linux.auth.failed_logins",
    "linux.process.zombies",
}


def _inspect(
    tmp_path: Path, env: dict[str, str], python: str, *extra: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the playbook on localhost; return the play stats and the judge's task result."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "linux:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {python}\n"
    )
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PLAYBOOK), *extra],
        cwd=REPO,
        env=env | {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    report = json.loads(proc.stdout)

    tasks = report["plays"][0]["tasks"]
    judged = [task for task in tasks if "Judge every measurement" in task["task"]["name"]]
    assert len(judged) == 1
    return report["stats"]["localhost"], judged[0]["hosts"]["localhost"]


@pytest.mark.parametrize("mode", ["run", "check"])
def test_every_check_gets_a_row_and_nothing_changes(
    tmp_path: Path, ansible_env: dict[str, str], target_python: str, mode: str
) -> None:
    extra = ["--check"] if mode == "check" else []
    extra += ["-e", '{"inspect_linux_required_ports": [1], "inspect_linux_cert_paths": []}']

    stats, result = _inspect(tmp_path, ansible_env, target_python, *extra)

    assert stats["changed"] == 0
    assert stats["failures"] == 0
    rows = result["opskeeper_checks"]
    assert {row["check_id"] for row in rows} >= EVERY_HOST_CHECK | {"linux.port.listening"}
    assert all(row["status"] in ("ok", "warn", "fail", "error") for row in rows)
    assert all(row["thresholds"] for row in rows), "every Linux check id has thresholds"
    port = next(row for row in rows if row["check_id"] == "linux.port.listening")
    assert (port["subject"], port["status"]) == ("1/tcp", "fail")
    assert result["opskeeper_threshold_errors"] == []


def test_a_bad_threshold_is_an_error_row_not_a_failed_host(
    tmp_path: Path, ansible_env: dict[str, str], target_python: str
) -> None:
    stats, result = _inspect(
        tmp_path,
        ansible_env,
        target_python,
        "-e",
        "inspect_linux_disk_usage_warn=eighty",
    )

    assert stats["failures"] == 0
    rows = result["opskeeper_checks"]
    disks = [row for row in rows if row["check_id"] == "linux.disk.usage"]
    assert disks and all(row["status"] == "error" for row in disks)
    assert disks[0]["message"] == (
        "check linux.disk.usage: threshold warn is 'eighty'; set a number, e.g. warn: 80"
    )
    others = [row for row in rows if row["check_id"] != "linux.disk.usage"]
    assert {row["check_id"] for row in others} >= EVERY_HOST_CHECK - {"linux.disk.usage"}
    assert [error["value"] for error in result["opskeeper_threshold_errors"]] == ["eighty"]


def test_a_probe_that_cannot_start_leaves_one_error_row(
    tmp_path: Path, ansible_env: dict[str, str]
) -> None:
    stats, result = _inspect(tmp_path, ansible_env, "/nonexistent/python3")

    assert stats["failures"] == 0
    (row,) = result["opskeeper_checks"]
    assert (row["check_id"], row["subject"], row["status"]) == ("linux.probe", "host", "error")
    assert "/nonexistent/python3" in row["message"]
