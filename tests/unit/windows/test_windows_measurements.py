"""Judging recorded win_powershell and win_updates results the way role inspect_windows does.

The fixtures in ``data/`` are what the two modules would register on a PC; no Windows host
produced them here (see docs/WINDOWS.md). Each case of ``data/cases.json`` shapes them with
the ``opskeeper_windows_measurements`` filter and judges them with ``opskeeper_check``
against the role's own thresholds, defaults plus the case's variables.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from tests.unit.windows.conftest import DATA, recorded, role_thresholds

CASES = json.loads((DATA / "cases.json").read_text())


def judge(
    windows: ModuleType, check: ModuleType, probe: Any, updates: Any, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    defaults = {
        "inspect_windows_required_services": [],
        "inspect_windows_firewall_profiles": ["Domain", "Private", "Public"],
        "inspect_windows_admins_expected": ["Administrator"],
    } | variables
    measurements = windows.windows_measurements(
        probe,
        updates,
        required_services=defaults["inspect_windows_required_services"],
        firewall_profiles=defaults["inspect_windows_firewall_profiles"],
        admins_expected=defaults["inspect_windows_admins_expected"],
    )
    results, threshold_errors = check.judge_all(measurements, role_thresholds(variables))
    assert threshold_errors == []
    return list(results)


@pytest.mark.parametrize("case", sorted(CASES))
def test_recorded_outputs_give_these_verdicts(
    windows: ModuleType, check: ModuleType, case: str
) -> None:
    spec = CASES[case]
    results = judge(
        windows, check, recorded(spec["probe"]), recorded(spec["updates"]), spec["vars"]
    )

    verdicts = {f"{row['check_id']} {row['subject']}": row["status"] for row in results}
    assert verdicts == spec["expect"]
    for row in results:
        assert row["message"], row


def rows_by_key(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{row['check_id']} {row['subject']}": row for row in results}


def test_faulty_pc_messages_say_what_was_found(windows: ModuleType, check: ModuleType) -> None:
    variables = {
        "inspect_windows_required_services": ["Spooler", "CcmExec"],
        "inspect_windows_admins_expected": ["Administrator", "CORP\\Domain Admins"],
    }
    rows = rows_by_key(
        judge(
            windows,
            check,
            recorded("probe_faults.json"),
            recorded("updates_two_pending.json"),
            variables,
        )
    )

    disk = rows["windows.disk.usage D:"]
    assert disk["value"] == 100.0
    assert disk["details"]["free_bytes"] == 0
    assert "0.0 GiB free" in disk["message"]
    assert (
        "Stopped with start type Automatic" in rows["windows.service.required Spooler"]["message"]
    )
    assert "not installed" in rows["windows.service.required CcmExec"]["message"]
    assert rows["windows.firewall.enabled Public"]["details"] == {"enabled": "False"}
    assert rows["windows.defender.signature_age defender"]["value"] == 12.0
    assert rows["windows.admins.unexpected Administrators"]["value"] == [
        "CORP\\jmeyer",
        "PC-0102\\helpdesk",
    ]
    assert rows["windows.updates.pending windows-update"]["value"] == 2
    assert len(rows["windows.updates.pending windows-update"]["details"]["titles"]) == 2


def test_errors_carry_the_reason(windows: ModuleType, check: ModuleType) -> None:
    auth = rows_by_key(
        judge(
            windows,
            check,
            recorded("probe_auth_failure.json"),
            recorded("updates_skipped.json"),
            {},
        )
    )
    assert auth["windows.probe host"]["message"].endswith(
        "WinRM connection failed: basic: the specified credentials were rejected by the server"
    )

    script = rows_by_key(
        judge(
            windows,
            check,
            recorded("probe_script_error.json"),
            recorded("updates_search_failed.json"),
            {},
        )
    )
    assert (
        "supported only on core types in this language mode"
        in script["windows.probe host"]["message"]
    )
    assert "0x8024402C" in script["windows.updates.pending windows-update"]["message"]

    sections = rows_by_key(
        judge(
            windows, check, recorded("probe_section_errors.json"), recorded("updates_none.json"), {}
        )
    )
    assert "0x800106ba" in sections["windows.defender.realtime defender"]["message"]
    assert "no firewall profile 'Public'" in sections["windows.firewall.enabled Public"]["message"]


def test_probe_without_result_object_is_an_error(windows: ModuleType) -> None:
    rows = windows.windows_measurements(
        {"changed": False, "result": "System.Collections.Hashtable"}
    )

    assert [row["id"] for row in rows] == ["windows.probe"]
    assert "depth" in rows[0]["error"]


@pytest.mark.parametrize(
    ("member", "expected", "allowed"),
    [
        ({"name": "PC-0101\\Administrator"}, ["administrator"], True),
        ({"name": "CORP\\Administrator"}, ["Administrator"], False),
        ({"name": "CORP\\Domain Admins"}, ["corp\\domain admins"], True),
        ({"name": "CORP\\Domain Admins"}, ["Domain Admins"], False),
        ({"name": "", "sid": "S-1-5-21-1-2-3-1105"}, ["S-1-5-21-1-2-3-1105"], True),
        ({"name": "PC-0101\\helpdesk"}, [], False),
    ],
)
def test_expected_admins(
    windows: ModuleType, member: dict[str, str], expected: list[str], allowed: bool
) -> None:
    assert windows.is_expected_admin(member, expected, "PC-0101") is allowed


def test_firewall_not_configured_counts_as_on(windows: ModuleType) -> None:
    probe = {"firewall": {"items": [{"name": "Public", "enabled": "NotConfigured"}]}}

    rows = windows.firewall_measurements(probe, ["Public"])

    assert rows[0]["value"] is True
