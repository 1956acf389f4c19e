"""The check contract: table-driven verdicts, and the action plugin in a real playbook run."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CASES = yaml.safe_load((Path(__file__).parent / "data" / "check_cases.yml").read_text())
HOSTS = ("local_peer", "far_away")
ROW_KEYS = {"check_id", "subject", "status", "value", "unit", "thresholds", "message", "details"}


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({case["name"] for case in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_verdict(check_plugin: ModuleType, case: dict[str, Any]) -> None:
    if "raises" in case:
        with pytest.raises(check_plugin.CheckInputError, match=re.escape(case["raises"])):
            check_plugin.parse_args(case["args"])
        return

    measurements, thresholds = check_plugin.parse_args(case["args"])
    rows, errors = check_plugin.judge_all(measurements, thresholds)

    assert len(rows) == case.get("count", 1)
    assert len(errors) == case.get("threshold_errors", len(errors))
    if not rows:
        return

    row = rows[0]
    assert set(row) == ROW_KEYS
    json.dumps(rows)  # a row must survive the trip through Ansible's JSON
    expected = {
        key: case[key] for key in ("status", "message", "value", "thresholds") if key in case
    }
    assert {key: row[key] for key in expected} == expected
    for part in case.get("message_contains", []):
        assert part in row["message"]
    if "details" in case["args"]:
        assert row["details"] == case["args"]["details"]


def test_threshold_errors_list_every_bad_threshold(check_plugin: ModuleType) -> None:
    thresholds = {
        "linux.disk.usage": {"warn": "eighty", "fail": "ninety"},
        "linux.memory.usage": {"warn": 85, "fail": 95},
        "linux.unused": {"expect": 3},
    }

    _, errors = check_plugin.judge_all([], thresholds)

    assert [(error["check_id"], error["key"], error["value"]) for error in errors] == [
        ("linux.disk.usage", "warn", "eighty"),
        ("linux.disk.usage", "fail", "ninety"),
        ("linux.unused", "expect", 3),
    ]
    assert all("set a" in error["message"] for error in errors)


def test_summary_counts_every_status(check_plugin: ModuleType) -> None:
    measurements = [
        {"id": "a", "value": 1},
        {"id": "a", "value": 5},
        {"id": "a", "value": 9},
        {"id": "a", "value": None},
        {"id": "b", "value": 1},
    ]

    rows, _ = check_plugin.judge_all(measurements, {"a": {"warn": 5, "fail": 9}})

    assert check_plugin.summarize(rows) == {"ok": 1, "warn": 1, "fail": 1, "error": 2}


@pytest.mark.parametrize(
    ("number", "text"),
    [(90.0, "90"), (93.1, "93.1"), (0.125, "0.12"), (-0.001, "0"), (1234567.0, "1234567")],
)
def test_format_number(check_plugin: ModuleType, number: float, text: str) -> None:
    assert check_plugin.format_number(number) == text


def test_judging_never_raises_on_odd_input(check_plugin: ModuleType) -> None:
    odd: list[Any] = [None, "text", 3, [], {"id": ""}, {"id": "x", "value": object()}]

    rows, _ = check_plugin.judge_all(odd, {"x": {"warn": 1}})

    assert [row["status"] for row in rows] == ["error"] * len(odd)


# --- the action plugin in a real ansible-playbook run --------------------------------

PLAYBOOK = """\
- name: Judge measurements with opskeeper_check
  hosts: all
  gather_facts: false
  tasks:
    - name: Judge a list of measurements
      opskeeper_check:
        measurements:
          - {id: linux.disk.usage, subject: /srv/data, value: 93.1, unit: "%",
             message: "93.1 % used on /srv/data"}
          - {id: linux.disk.usage, subject: /, value: 12, unit: "%"}
          - {id: linux.memory.usage, subject: memory, value: 50, unit: "%"}
          - {id: linux.updates.pending, subject: packages, value: null, error: "no apt"}
          - {id: linux.service.failed, subject: services, value: [cron.service]}
          - {id: linux.nothing, subject: x, value: 1}
        thresholds:
          linux.disk.usage: {warn: "{{ disk_warn }}", fail: 90}
          linux.memory.usage: {warn: eighty, fail: 95}
          linux.service.failed: {expect: []}
      register: judged

    - name: Judge one measurement in the single form
      opskeeper_check:
        id: linux.cert.expiry
        subject: /etc/ssl/a.pem
        value: 5
        unit: days
        warn: 30
        fail: 7
        worse: lower
      register: single

    - name: Call it with malformed arguments
      opskeeper_check:
        measurements: not-a-list
      register: malformed
      ignore_errors: true

    - name: Write the results for the test
      ansible.builtin.copy:
        content: "{{ {'judged': judged, 'single': single, 'malformed': malformed} | to_json }}"
        dest: "{{ out_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
      check_mode: false
      vars:
        ansible_connection: local
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

# One peer with a local connection, and one that cannot be reached at all: the judging
# tasks pass there only because the plugin never connects to the host.
INVENTORY = """\
all:
  vars:
    disk_warn: 80
  hosts:
    local_peer:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
    far_away:
      ansible_host: 127.0.0.1
      ansible_port: 9
      ansible_connection: ssh
"""


def _run_playbook(tmp_path: Path, env: dict[str, str], *extra: str) -> dict[str, Any]:
    """Run the playbook; return each host's task results by host name."""
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "hosts.yml").write_text(INVENTORY)
    proc = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(tmp_path / "hosts.yml"),
            str(tmp_path / "play.yml"),
            "-e",
            f"out_dir={tmp_path}",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {host: json.loads((tmp_path / f"{host}.json").read_text()) for host in HOSTS}


@pytest.mark.parametrize("mode", ["run", "check"])
def test_action_plugin_in_a_playbook(
    tmp_path: Path, ansible_env: dict[str, str], mode: str
) -> None:
    extra = ("--check",) if mode == "check" else ()

    results = _run_playbook(tmp_path, ansible_env, *extra)

    assert results["far_away"] == results["local_peer"]
    result = results["local_peer"]
    judged = result["judged"]
    assert judged["changed"] is False
    assert not judged.get("failed")
    rows = judged["opskeeper_checks"]
    assert [(row["check_id"], row["subject"], row["status"]) for row in rows] == [
        ("linux.disk.usage", "/srv/data", "fail"),
        ("linux.disk.usage", "/", "ok"),
        ("linux.memory.usage", "memory", "error"),
        ("linux.updates.pending", "packages", "error"),
        ("linux.service.failed", "services", "fail"),
        ("linux.nothing", "x", "error"),
    ]
    assert rows[0] == {
        "check_id": "linux.disk.usage",
        "subject": "/srv/data",
        "status": "fail",
        "value": 93.1,
        "unit": "%",
        "thresholds": {"warn": 80.0, "fail": 90.0, "worse": "higher"},
        "message": "93.1 % used on /srv/data (fail at 90, warn at 80)",
        "details": {},
    }
    assert "threshold warn is 'eighty'; set a number" in rows[2]["message"]
    assert rows[5]["message"].startswith("no thresholds for check linux.nothing")
    assert [error["value"] for error in judged["opskeeper_threshold_errors"]] == ["eighty"]
    assert judged["opskeeper_summary"] == {"ok": 1, "warn": 0, "fail": 2, "error": 3}

    single = result["single"]["opskeeper_checks"]
    assert [(row["status"], row["value"]) for row in single] == [("fail", 5)]
    assert result["malformed"]["failed"] is True
    assert "expected a list of dicts" in result["malformed"]["msg"]
